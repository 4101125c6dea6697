; a malformed special form is reported with its position
(display "never runs")
(define (f) (if))
