;;; fib.scm: doubly recursive Fibonacci, a Scheme peer benchmark for Marrow
;;; (procedure calls and fixnum arithmetic; allocates almost nothing).
;;; Portable R7RS-small: define, if, <, +, -, display, newline.
;;; Expected output: fib(30) = 832040
;;; Usage: guile --no-auto-compile fib.scm   |   scheme --script fib.scm

(define (fib n)
  (if (< n 2)
      n
      (+ (fib (- n 1)) (fib (- n 2)))))

(display "fib(30) = ")
(display (fib 30))
(newline)
