; define-syntax / let-syntax / letrec-syntax with syntax-rules:
; literals, recursion, ellipsis (nested, after a tail), dotted and vector patterns, hygiene
(import (scheme base) (scheme write))
(define-syntax my-if
  (syntax-rules (then else)
    ((_ c then t else e) (if c t e))
    ((_ c then t) (if c t #f))))
(write (list (my-if #t then 1 else 2) (my-if #f then 1 else 2) (my-if #f then 1))) (newline)
; recursive macro
(define-syntax my-and
  (syntax-rules ()
    ((_) #t)
    ((_ e) e)
    ((_ e1 e2 ...) (if e1 (my-and e2 ...) #f))))
(write (list (my-and) (my-and 1) (my-and 1 2 3) (my-and 1 #f 3))) (newline)
(define-syntax my-cond
  (syntax-rules (else)
    ((_ (else e ...)) (begin e ...))
    ((_ (c e ...) clause ...) (if c (begin e ...) (my-cond clause ...)))))
(write (my-cond (#f 1) ((= 1 2) 2) (else 3))) (newline)
; ellipsis: several pattern variables, nested ellipsis, ellipsis followed by more patterns
(define-syntax my-let
  (syntax-rules ()
    ((_ ((name val) ...) body1 body2 ...) ((lambda (name ...) body1 body2 ...) val ...))))
(write (my-let ((x 1) (y 2)) (+ x y))) (newline)
(define-syntax flatten-pairs
  (syntax-rules ()
    ((_ (a b ...) ...) '(a ... ((b ... a) ...)))))
(write (flatten-pairs (1 2 3) (4) (5 6))) (newline)
(define-syntax last-of
  (syntax-rules ()
    ((_ x ... y) 'y)))
(write (last-of 1 2 3 4)) (newline)
(define-syntax tail-pattern
  (syntax-rules ()
    ((_ a . rest) '(a rest))))
(write (tail-pattern 1 2 3)) (newline)
(define-syntax vec-pattern
  (syntax-rules ()
    ((_ #(a ...)) (+ a ...))))
(write (vec-pattern #(1 2 3 4))) (newline)
(define-syntax nested-lists
  (syntax-rules ()
    ((_ (k v ...) ...) (list (cons 'k (list v ...)) ...))))
(write (nested-lists (a 1 2) (b) (c 3))) (newline)
; macro producing a definition, and a macro defining a macro
(define-syntax define-getter
  (syntax-rules () ((_ name val) (define (name) val))))
(define-getter get-five 5)
(write (get-five)) (newline)
(define-syntax define-constant-macro
  (syntax-rules ()
    ((_ name val) (define-syntax name (syntax-rules () ((_) val))))))
(define-constant-macro seven 7)
(write (seven)) (newline)
; hygiene: a template's temporaries do not capture user variables
(define-syntax swap!
  (syntax-rules () ((_ a b) (let ((tmp a)) (set! a b) (set! b tmp)))))
(define tmp 'tmp-val)
(define other 'other-val)
(swap! tmp other)
(write (list tmp other)) (newline)
(define-syntax my-or2
  (syntax-rules () ((_ a b) (let ((t a)) (if t t b)))))
(define t 'user-t)
(write (my-or2 #f t)) (newline)
(define-syntax repeat
  (syntax-rules ()
    ((_ n body ...) (let loop ((i 0)) (when (< i n) body ... (loop (+ i 1)))))))
(define i 100)
(repeat 3 (display i) (display " "))
(newline)
; while loop macro
(define-syntax while
  (syntax-rules ()
    ((_ cond body ...) (let lp () (when cond body ... (lp))))))
(define n 0)
(while (< n 5) (set! n (+ n 1)))
(write n) (newline)
; let-syntax and letrec-syntax
(write (let-syntax ((double (syntax-rules () ((_ x) (* 2 x)))))
  (double (double 3)))) (newline)
(write (letrec-syntax
         ((ev? (syntax-rules () ((_) #t) ((_ x . r) (od? . r))))
          (od? (syntax-rules () ((_) #f) ((_ x . r) (ev? . r)))))
  (list (ev? a b c d) (od? a b c)))) (newline)
; a macro used many times (expansion under GC stress)
(define-syntax inc!
  (syntax-rules () ((_ v) (set! v (+ v 1))) ((_ v d) (set! v (+ v d)))))
(define counter 0)
(define (bump-all k) (if (> k 0) (begin (inc! counter) (inc! counter 2) (bump-all (- k 1)))))
(bump-all 1000)
(write counter) (newline)
