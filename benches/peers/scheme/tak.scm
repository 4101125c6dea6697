;;; tak.scm: Takeuchi function (Gabriel benchmark), a Scheme peer benchmark
;;; for Marrow: (tak 18 12 6) repeated RUNS times (deep non-tail calls).
;;; Portable R7RS-small: define, named let, if, <, =, +, -, display, newline.
;;; Expected output: (tak 18 12 6) x 100 runs: result 7, sum 700
;;; Usage: guile --no-auto-compile tak.scm   |   scheme --script tak.scm

(define (tak x y z)
  (if (< y x)
      (tak (tak (- x 1) y z)
           (tak (- y 1) z x)
           (tak (- z 1) x y))
      z))

(define runs 100)

(let loop ((i 0) (sum 0) (last 0))
  (if (< i runs)
      (let ((r (tak 18 12 6)))
        (loop (+ i 1) (+ sum r) r))
      (begin
        (display "(tak 18 12 6) x ")
        (display runs)
        (display " runs: result ")
        (display last)
        (display ", sum ")
        (display sum)
        (newline))))
