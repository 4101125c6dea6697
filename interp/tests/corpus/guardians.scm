;; Guardians (Chez Scheme, Guile): an object registered with a guardian is
;; handed back by it once unreachable, once per registration, alive again.
(define g (make-guardian))
(define (make-obj n) (list 'obj n (make-vector 3 n)))
(define (drain g)
  (let loop ((acc '()))
    (let ((x (g)))
      (if x
          (begin
            ;; Resurrected whole: the vector inside is intact.
            (if (not (equal? (caddr x) (make-vector 3 (cadr x))))
                (error "corrupted" x))
            (loop (cons (cadr x) acc)))
          acc))))
(g (make-obj 1))
(g (make-obj 2))
(define kept (make-obj 3))
(g kept)
(g kept)
(define early (drain g))                ; a cycle may already have run
(collect-garbage)
(display (list-sort < (append early (drain g)))) (newline)  ; (1 2)
(collect-garbage)
(display (g)) (newline)                 ; returned once: #f
(set! kept #f)
(collect-garbage)
(display (drain g)) (newline)           ; registered twice: (3 3)
(display (map (lambda (k) (number? (cdr (assq k (gc-stats)))))
              '(weak-cleared ephemerons-kept ephemerons-cleared
                guarded-returned finalizers-queued)))
(newline)
;; A guardian that dies forgets its objects.
(let ((g2 (make-guardian)))
  (g2 (make-obj 4)))
(collect-garbage)
(display "done") (newline)
