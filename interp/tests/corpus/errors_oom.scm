; heap exhaustion under --memlimit is a clean Scheme error
(define (grow l) (grow (cons (make-vector 100 0) l)))
(grow (list))
