(define (deep n) (+ 1 (deep n)))
(deep 1)
