; let-values binds in parallel: no init sees a variable of the same form;
; let*-values binds in sequence.
(define (show x) (write x) (newline))
(let ((a 'outer))
  (show (let-values (((a) (values 1)) ((b) (values a))) (list a b)))
  (show (let*-values (((a) (values 1)) ((b) (values a))) (list a b))))
(show (let-values (((a b . c) (values 1 2 3 4)) (d (values 5 6)) (() (values))) (list a b c d)))
(show (let ((x 1) (y 2)) (let-values (((x y) (values y x))) (list x y))))
