(dynamic-wind (lambda () #f) (lambda () (display "in body") (newline) (exit #t)) (lambda () #f))
(display "never")
