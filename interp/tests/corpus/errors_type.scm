; a type error names the procedure and writes the offending value
(display "start") (newline)
(define (total lst) (apply + lst))
(display (total (list 1 2)))
(newline)
(total (list 1 "two" 3))
