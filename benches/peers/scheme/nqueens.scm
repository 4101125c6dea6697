;;; nqueens.scm: count the solutions of the 8-queens problem (Gabriel-style,
;;; with lists), repeated RUNS times; a Scheme peer benchmark for Marrow
;;; (recursion plus a steady stream of short-lived cons cells).
;;; Portable R7RS-small: define, named let, cond, if, quote, cons/car/cdr,
;;; null?, <, =, +, -, display, newline (append is written out here).
;;; Expected output: 8 queens x 100 runs: 92 solutions, sum 9200
;;; Usage: guile --no-auto-compile nqueens.scm   |   scheme --script nqueens.scm

;; (1 2 ... n)
(define (one-to n)
  (let loop ((i n) (acc '()))
    (if (= i 0)
        acc
        (loop (- i 1) (cons i acc)))))

(define (my-append a b)
  (if (null? a)
      b
      (cons (car a) (my-append (cdr a) b))))

;; Can a queen go in ROW, given the queens PLACED in the previous columns
;; (nearest first, DIST columns away)?
(define (ok? row dist placed)
  (cond ((null? placed) #t)
        ((= (car placed) (+ row dist)) #f)
        ((= (car placed) (- row dist)) #f)
        (else (ok? row (+ dist 1) (cdr placed)))))

;; CANDIDATES: rows still to try for this column; SKIPPED: rows tried and put
;; aside (still free for later columns); PLACED: rows of the queens so far.
(define (try-it candidates skipped placed)
  (if (null? candidates)
      (if (null? skipped) 1 0)
      (+ (if (ok? (car candidates) 1 placed)
             (try-it (my-append (cdr candidates) skipped)
                     '()
                     (cons (car candidates) placed))
             0)
         (try-it (cdr candidates)
                 (cons (car candidates) skipped)
                 placed))))

(define (queens n)
  (try-it (one-to n) '() '()))

(define runs 100)

(let loop ((i 0) (sum 0) (last 0))
  (if (< i runs)
      (let ((r (queens 8)))
        (loop (+ i 1) (+ sum r) r))
      (begin
        (display "8 queens x ")
        (display runs)
        (display " runs: ")
        (display last)
        (display " solutions, sum ")
        (display sum)
        (newline))))
