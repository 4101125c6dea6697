(define s "abc")
(display (string-ref s 2))
(newline)
(string-ref s 10)
