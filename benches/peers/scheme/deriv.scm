;;; deriv.scm: symbolic differentiation (Gabriel "deriv"), a Scheme peer
;;; benchmark for Marrow: d/dx of (+ (* 3 x x) (* a x x) (* b x) 5), repeated
;;; RUNS times; each run conses a fresh result list (allocation-heavy).
;;; Portable R7RS-small: define, named let, cond, if, quote, cons/car/cdr,
;;; null?, pair?, eq?, symbols, +, -, <, display, newline (no map/lambda).
;;; Expected output:
;;; deriv x 50000 runs: 60 cells per result, sum 3000000, last (+ (* (* 3 x x) (+ (/ 0 3) (/ 1 x) (/ 1 x))) (* (* a x x) (+ (/ 0 a) (/ 1 x) (/ 1 x))) (* (* b x) (+ (/ 0 b) (/ 1 x))) 0)
;;; Usage: guile --no-auto-compile deriv.scm   |   scheme --script deriv.scm

(define (deriv a)
  (cond ((not-pair? a)
         (if (eq? a 'x) 1 0))
        ((eq? (car a) '+)
         (cons '+ (deriv-each (cdr a))))
        ((eq? (car a) '-)
         (cons '- (deriv-each (cdr a))))
        ((eq? (car a) '*)
         (cons '* (cons a (cons (cons '+ (deriv-factors (cdr a))) '()))))
        ((eq? (car a) '/)
         (deriv-quotient (car (cdr a)) (car (cdr (cdr a)))))
        (else 'unknown-operator)))

(define (not-pair? a)
  (if (pair? a) #f #t))

;; (d1 d2 ...) for the terms (t1 t2 ...)
(define (deriv-each terms)
  (if (null? terms)
      '()
      (cons (deriv (car terms)) (deriv-each (cdr terms)))))

;; ((/ d1 f1) (/ d2 f2) ...) for the factors (f1 f2 ...)
(define (deriv-factors factors)
  (if (null? factors)
      '()
      (cons (cons '/ (cons (deriv (car factors)) (cons (car factors) '())))
            (deriv-factors (cdr factors)))))

;; (- (/ du v) (/ u (* v v dv)))
(define (deriv-quotient u v)
  (cons '-
        (cons (cons '/ (cons (deriv u) (cons v '())))
              (cons (cons '/ (cons u (cons (cons '* (cons v (cons v (cons (deriv v) '())))) '())))
                    '()))))

;; Number of cons cells in a tree.
(define (cells t)
  (if (pair? t)
      (+ 1 (+ (cells (car t)) (cells (cdr t))))
      0))

(define expr '(+ (* 3 x x) (* a x x) (* b x) 5))

(define runs 50000)

(let loop ((i 0) (sum 0) (last '()))
  (if (< i runs)
      (let ((r (deriv expr)))
        (loop (+ i 1) (+ sum (cells r)) r))
      (begin
        (display "deriv x ")
        (display runs)
        (display " runs: ")
        (display (cells last))
        (display " cells per result, sum ")
        (display sum)
        (display ", last ")
        (display last)
        (newline))))
