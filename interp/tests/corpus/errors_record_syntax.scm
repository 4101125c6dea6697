; define-record-type without a predicate is a syntax error (it used to panic)
(define-record-type point pt)
