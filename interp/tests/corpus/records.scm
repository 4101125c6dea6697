; define-record-type: constructor, predicate, accessors, modifiers, distinct types
(import (scheme base) (scheme write))
(define-record-type point
  (make-point x y)
  point?
  (x point-x set-point-x!)
  (y point-y set-point-y!))
(define-record-type <node>
  (make-node value next)
  node?
  (value node-value)
  (next node-next set-node-next!))
; constructor with fields in a different order than declared
(define-record-type account
  (make-account owner balance)
  account?
  (balance account-balance set-account-balance!)
  (owner account-owner))
(define p (make-point 3 4))
(write (list (point? p) (point-x p) (point-y p))) (newline)
(set-point-x! p 30)
(set-point-y! p (list 'nested 'value))
(write (list (point-x p) (point-y p))) (newline)
(define n (make-node 1 '()))
(write (list (point? n) (node? n) (node? p) (point? 5) (point? '(3 4)) (node? #f) (procedure? make-point))) (newline)
(define acc (make-account "ann" 100))
(set-account-balance! acc (+ (account-balance acc) 50))
(write (list (account-owner acc) (account-balance acc))) (newline)
; a linked list of records built and walked under GC stress
(define (build k) (let loop ((i 0) (head '())) (if (= i k) head (loop (+ i 1) (make-node i head)))))
(define (sum-nodes nd) (if (null? nd) 0 (+ (node-value nd) (sum-nodes (node-next nd)))))
(define chain (build 2000))
(write (list (node-value chain) (sum-nodes chain))) (newline)
(set-node-next! chain '())
(write (sum-nodes chain)) (newline)
; records inside other containers, equality is identity
(define q (make-point 1 2))
(write (list (eq? q q) (eqv? q (make-point 1 2)) (map point-x (list q (make-point 5 6))))) (newline)
(define v (vector (make-point 7 8)))
(write (point-y (vector-ref v 0))) (newline)
