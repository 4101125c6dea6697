;; Regression tests for issue 15: programs that used to crash the
;; interpreter, corrupt its heap or panic. Each case prints its result or
;; the message of the error it raises.

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

;; delay-force of a non-promise.
(show "force delay-force 5" (lambda () (force (delay-force 5))))
(show "force delay-force promise" (lambda () (force (delay-force (delay (+ 1 2))))))

;; The interpreter's helpers are not user-visible names.
(show "%promise-box" (lambda () (%promise-box 5)))
(show "%mv->list" (lambda () (%mv->list 5)))
(show "%case-lambda" (lambda () ((%case-lambda 5))))
(show "%record-ref" (lambda () (%record-ref 1 2 3 4)))
(show "%record-set!" (lambda () (%record-set! 1 2 3 4 5)))
;; ... so a user may define such names freely,
(define (%record-ref . args) 'mine)
(show "user %record-ref" (lambda () (list (%record-ref 1) (point-x p))))
;; and redefining library procedures does not break the library.
(define (map . args) 'my-map)
(define (length . args) 'my-length)
(define (list-tail . args) 'my-list-tail)
(define prm (make-parameter 1))
(show "parameterize after redefining map" (lambda () (parameterize ((prm 2)) (prm))))
(show "call/cc escape after redefining length"
      (lambda () (+ 1 (call/cc (lambda (k) (dynamic-wind (lambda () #f) (lambda () (k 10)) (lambda () #f)))))))
(show "guard after redefining" (lambda () (guard (e (#t (list 'caught e))) (raise 'x))))

;; The reader and string->number with odd input.
(show "string->number #e-acute" (lambda () (string->number "#\x00E9;")))
(show "read #e-acute" (lambda () (read (open-input-string "#\x00E9;"))))
(show "radix 37" (lambda () (string->number "1" 37)))
(show "radix 0" (lambda () (string->number "1" 0)))
(show "radix 1" (lambda () (string->number "1" 1)))
(show "radix -1" (lambda () (string->number "1" -1)))
(show "number->string radix 37" (lambda () (number->string 10 37)))
(show "radix 36" (lambda () (string->number "z" 36)))

;; Huge requests are refused up front with a catchable error.
(define (oom? thunk)
  (guard (e ((error-object? e)
             (let ((m (error-object-message e)))
               (and (>= (string-length m) 13) (string=? (substring m 0 13) "out of memory")))))
    (thunk)
    'allocated))
(show "make-list 10^12" (lambda () (oom? (lambda () (make-list 1000000000000)))))
(show "make-vector 2^36" (lambda () (oom? (lambda () (make-vector 68719476736 0)))))
(show "make-bytevector 10^12" (lambda () (oom? (lambda () (make-bytevector 1000000000000 1)))))
(show "make-string 10^12" (lambda () (oom? (lambda () (make-string 1000000000000)))))
(show "expt 3 10^12" (lambda () (oom? (lambda () (expt 3 1000000000000)))))
(show "small ones still work" (lambda () (list (car (make-list 3 'a)) (vector-length (make-vector 3)))))

;; Found by the random program generator: string-hash hashed any object by
;; its address (different in each collector mode); it takes strings only.
(show "string-hash of a symbol" (lambda () (string-hash 'foo)))
(show "string-hash of a string" (lambda () (= (string-hash "abc") (string-hash (string #\a #\b #\c)))))
;; Loading a device that never ends, or a huge file, is refused.
(show "load /dev/zero" (lambda () (load "/dev/zero")))
