(display "bye")
(exit 7)
(display "never")
