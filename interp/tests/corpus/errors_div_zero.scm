(define (avg lst) (quotient (apply + lst) (length lst)))
(display (avg (list 4 6)))
(newline)
(avg (list))
