(display "failing")
(newline)
(exit #f)
(display "never")
