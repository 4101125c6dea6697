(display (exact 2.0))
(newline)
(exact 1.5)
