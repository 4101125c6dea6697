; error writes its irritants after the message
(define (check-positive n) (if (< n 0) (error "check-positive: negative value" n (list n "as list")) n))
(display (check-positive 5))
(newline)
(check-positive -3)
