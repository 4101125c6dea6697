; an ellipsis with no pattern before it matches nothing (it used to panic)
(define-syntax f (syntax-rules () ((_ ...) 1)))
(f)
