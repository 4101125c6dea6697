; live data filling the heap under --memlimit (oom_recover.flags) is a
; catchable error: the condition is preallocated and guard unwinds before
; allocating, so the handler runs, the dropped data becomes garbage and the
; program goes on allocating (several times over). Objects are large so that
; the GC-torture run stays quick.
(define (msg-head e)
  (let ((m (error-object-message e)))
    (if (>= (string-length m) 13) (substring m 0 13) m)))
(define (fill make)
  (let loop ((l '()) (n 0))
    (loop (cons (make n) l) (+ n 1))))
(define (try name make)
  (guard (e ((error-object? e)
             (display name) (display ": ") (display (msg-head e))
             (display ", irritants ") (write (error-object-irritants e))
             (newline)
             'recovered))
    (fill make)))
(display (try "vectors" (lambda (n) (make-vector 1000 n)))) (newline)
(display (try "strings" (lambda (n) (make-string 2000 #\x)))) (newline)
; again, in a loop: each refusal is caught and the heap is reusable
(define (again k)
  (if (> k 0)
      (begin (try "round" (lambda (n) (make-vector 1500 n))) (again (- k 1)))))
(again 3)
; the guard's value comes back and later allocation works
(define big (guard (e (#t (vector-length (make-vector 100000 7))))
  (fill (lambda (n) (make-vector 1200 n)))))
(display big) (newline)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(display (length (build 10000))) (newline)
; a handler installed with with-exception-handler that escapes through a
; continuation
(display
 (call-with-current-continuation
  (lambda (k)
    (with-exception-handler
     (lambda (e) (k (msg-head e)))
     (lambda () (fill (lambda (n) (make-vector 1000 n))))))))
(newline)
; nested guards: the inner one does not match, the outer one catches it
(display
 (guard (e ((error-object? e) (list 'outer (msg-head e))))
   (guard (e ((string? e) 'inner))
     (fill (lambda (n) (make-vector 1000 n))))))
(newline)
; dynamic-wind after-thunks run on the way out
(guard (e (#t (display "caught after unwinding") (newline)))
  (dynamic-wind
   (lambda () #f)
   (lambda () (fill (lambda (n) (make-vector 1000 n))))
   (lambda () (display "after-thunk ran") (newline))))
(display (apply + (map (lambda (x) (* x x)) (iota 1000)))) (newline)
