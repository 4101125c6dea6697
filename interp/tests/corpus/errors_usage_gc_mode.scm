(display "never")
