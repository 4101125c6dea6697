;;; binary-trees.scm: Benchmarks Game "binary-trees" peer for Marrow, in
;;; portable R7RS-small Scheme (no imports; runs as a top-level script).
;;; A node is a pair (left . right); a leaf is the pair (() . ()).
;;; Uses only define, let, named let, do, if, cons/car/cdr, null?, display,
;;; newline, number->string, string->number, command-line, exact arithmetic.
;;; Usage: guile --no-auto-compile binary-trees.scm N
;;;        scheme --script binary-trees.scm N      (Chez; N default 10)

(define (bottom-up depth)
  (if (= depth 0)
      (cons '() '())
      (let ((l (bottom-up (- depth 1))))
        (let ((r (bottom-up (- depth 1))))
          (cons l r)))))

(define (check node)
  (if (null? (car node))
      1
      (+ 1 (+ (check (car node)) (check (cdr node))))))

;; 2^k by repeated doubling (exact integers only).
(define (pow2 k)
  (let loop ((k k) (acc 1))
    (if (= k 0) acc (loop (- k 1) (* acc 2)))))

(define (arg-depth)
  (let ((args (command-line)))
    (if (null? (cdr args))
        10
        (string->number (car (cdr args))))))

(define (print-check label depth sum)
  (display label)
  (display (number->string depth))
  (display "\t check: ")
  (display (number->string sum))
  (newline))

(define (main n)
  (let ((min-depth 4))
    (let ((max-depth (if (< n (+ min-depth 2)) (+ min-depth 2) n)))
      (let ((stretch (+ max-depth 1)))
        (print-check "stretch tree of depth " stretch (check (bottom-up stretch))))
      (let ((long-lived (bottom-up max-depth)))
        (do ((d min-depth (+ d 2)))
            ((< max-depth d))
          (let ((iters (pow2 (+ (- max-depth d) min-depth))))
            (let loop ((i 0) (sum 0))
              (if (< i iters)
                  (loop (+ i 1) (+ sum (check (bottom-up d))))
                  (begin
                    (display (number->string iters))
                    (print-check "\t trees of depth " d sum))))))
        (print-check "long lived tree of depth " max-depth (check long-lived))))))

(main (arg-depth))
