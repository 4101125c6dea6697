; loaded by load.scm: definitions, a macro and top-level output
(define loaded-value 42)
(define (loaded-square x) (* x x))
(define-syntax loaded-twice
  (syntax-rules () ((_ e) (begin e e))))
(display "loading lib/loaded.scm") (newline)
