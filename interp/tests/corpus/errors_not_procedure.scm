; calling a non-procedure
(define x 5)
(display "ok")
(newline)
(x 3)
