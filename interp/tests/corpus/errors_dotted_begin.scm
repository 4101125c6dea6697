; a dotted body form is a syntax error (it used to panic)
(display "before")
(newline)
(let () (begin . x))
