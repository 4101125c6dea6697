; a handler returning from a non-continuable raise is an error
(with-exception-handler
  (lambda (e) (display "handled ") 0)
  (lambda () (+ 1 (raise (quote boom)))))
