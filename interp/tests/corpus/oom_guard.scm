; heap exhaustion under --memlimit (oom_guard.flags) is an ordinary Scheme
; error object: guard catches it and the program goes on
(define (try-alloc thunk)
  (guard (e ((error-object? e)
             (let ((m (error-object-message e)))
               (if (string=? (substring m 0 13) "out of memory") 'out-of-memory m))))
    (thunk)
    'allocated))
(display (try-alloc (lambda () (make-vector 10000000 0)))) (newline)
(display (try-alloc (lambda () (make-bytevector 100000000 0)))) (newline)
(display (try-alloc (lambda () (make-string 50000000 #\a)))) (newline)
(display (try-alloc (lambda () (make-vector 1000 0)))) (newline)
; the heap still works afterwards
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(display (length (build 20000))) (newline)
