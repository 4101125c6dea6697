; every syntax form: define, lambda, if, cond, case, and, or, when, unless,
; let family, named let, do, begin, set!, quote, quasiquote, import
(import (scheme base) (scheme write))
(define x 10)
(define (add a b) (+ a b))
(define (rest-only . r) r)
(define (two-plus a b . r) (list a b r))
(write (list x (add 1 2) (rest-only) (rest-only 1 2) (two-plus 1 2) (two-plus 1 2 3))) (newline)
; lambda: fixed, rest, dotted, immediately applied, closures
(write ((lambda (a b) (* a b)) 6 7)) (newline)
(write ((lambda args args) 1 2 3)) (newline)
(write ((lambda (a . more) (cons more a)) 1 2 3)) (newline)
(define (make-adder n) (lambda (m) (+ n m)))
(write (map (make-adder 5) '(1 2 3))) (newline)
; internal defines in lambda, let and nested bodies; mutual recursion
(define (classify n)
  (define (ev? k) (if (= k 0) #t (od? (- k 1))))
  (define (od? k) (if (= k 0) #f (ev? (- k 1))))
  (define label (if (ev? n) 'even 'odd))
  label)
(write (list (classify 10) (classify 7))) (newline)
(write (let () (define a 1) (define b (+ a 1)) (list a b))) (newline)
; if with and without alternative; only #f is false
(write (list (if #t 'yes 'no) (if #f 'yes 'no) (if '() 'yes 'no) (if 0 'yes 'no))) (newline)

; cond: plain, =>, else, test-only clause, multiple body expressions
(define (grade n)
  (cond ((>= n 90) 'a)
        ((>= n 80) (display "") 'b)
        ((assv n '((42 . answer))) => cdr)
        ((memv n '(1 2 3)))
        (else 'f)))
(write (map grade '(95 85 42 2 10))) (newline)

; case: numbers, symbols, chars, lists of data, else, =>
(define (kind v)
  (case v
    ((1 2 3) 'small)
    ((a b) 'letter)
    ((#\x) 'char)
    ((()) 'nil)
    (else 'other)))
(write (map kind (list 2 'b #\x '() "s"))) (newline)
(write (case 5 ((1) 'one) ((5) => (lambda (v) (* v 10))) (else 'x))) (newline)
; and / or return the deciding value
(write (list (and) (and 1) (and 1 #f 3) (and 1 2 3) (or) (or #f) (or #f 'b 'c) (or (memq 'z '(a)) 'none))) (newline)
; when / unless with several body forms
(write (when (> 3 2) 'one 'two)) (newline)

(unless #f (display "unless-body ") (display "runs")) (newline)
; let, let*, letrec, letrec*, named let
(write (let ((x 1) (y 2)) (let ((x y) (y x)) (list x y)))) (newline)
(write (let* ((a 1) (b (* a 2)) (c (+ a b))) (list a b c))) (newline)
(write (letrec ((fact (lambda (n) (if (= n 0) 1 (* n (fact (- n 1))))))) (fact 10))) (newline)
(write (letrec* ((a 5) (b (* a 2)) (f (lambda () (+ a b)))) (f))) (newline)
(write (let loop ((i 0) (acc '())) (if (= i 5) (reverse acc) (loop (+ i 1) (cons (* i i) acc))))) (newline)
(write (let fib ((n 20)) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))) (newline)
; do: with body, without step, several results
(write (do ((vec (make-vector 5)) (i 0 (+ i 1))) ((= i 5) vec) (vector-set! vec i i))) (newline)
(write (let ((x '(1 3 5 7 9))) (do ((x x (cdr x)) (sum 0 (+ sum (car x)))) ((null? x) sum)))) (newline)
(write (do ((i 0 (+ i 1))) ((= i 3) 'a 'b 'done))) (newline)
; begin: sequencing and top-level definitions inside begin
(begin (define b1 1) (define b2 2))
(write (begin (set! b1 (+ b1 b2)) b1)) (newline)
; set! on globals, locals and captured variables
(define g 0)
(define (bump!) (set! g (+ g 1)) g)
(bump!) (bump!)
(write g) (newline)
(write (let ((v 1)) (set! v (* v 100)) v)) (newline)
(define (make-counter)
  (let ((n 0)) (list (lambda () (set! n (+ n 1)) n) (lambda () n))))
(define c (make-counter))
((car c)) ((car c)) ((car c))
(write ((cadr c))) (newline)
; quote of every literal kind
(write '(1 2.5 "str" #\a sym #t #f () #(1 2) (a . b))) (newline)
(write (quote (quote x))) (newline)
(write '#u8(1 2 255)) (newline)
(write (list 'quasiquote 'unquote 'unquote-splicing)) (newline)
; quasiquote: unquote, splicing (middle and end), dotted tail, vectors, nesting
(define lst '(2 3))
(write `(1 ,@lst 4)) (newline)
(write `(1 ,@lst)) (newline)
(write `(,@lst . tail)) (newline)
(write `(x ,(car lst) . ,(cadr lst))) (newline)
(write `#(1 ,@lst ,(+ 2 2))) (newline)
(write `(a `(b ,(c ,(* 2 3))))) (newline)
(write `(1 ,@'() 2)) (newline)
(write `,(+ 1 2)) (newline)
