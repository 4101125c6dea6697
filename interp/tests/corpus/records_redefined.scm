;; Record types redefined or rebound under frequent collections (a
;; collection every 7 allocations, with the mark verifier): old accessors
;; used to write past the new objects and corrupt the heap.
(define (show name thunk)
  (display name)
  (display ": ")
  (display
   (guard (e ((error-object? e) (list 'error (error-object-message e)))
             (#t (list 'raised e)))
     (thunk)))
  (newline))

;; Redefining a record type with fewer fields: the old accessors keep
;; their own type and refuse objects of the new one.
(define-record-type point (make-point x y) point? (x point-x) (y point-y set-point-y!))
(define p (make-point 1 2))
(define-record-type point (make-empty) empty?)
(show "old modifier on new type" (lambda () (set-point-y! (make-empty) 42)))
(show "old accessor on new type" (lambda () (point-y (make-empty))))
(show "old accessor on old record" (lambda () (point-y p)))
(show "old predicate on new record" (lambda () (point? (make-empty))))
;; Rebinding the type name does not reach the accessors either.
(define-record-type node (make-node v) node? (v node-v set-node-v!))
(define n (make-node 7))
(define node 5)
(show "accessor after rebinding" (lambda () (node-v n)))
(show "modifier after rebinding" (lambda () (set-node-v! n 8) (node-v n)))
(show "accessor on a non-record" (lambda () (node-v 5)))
(collect-garbage)
(show "after a collection" (lambda () (list (point-x p) (point-y p) (node-v n))))

