;; tour.scm: the Marrow heap at work. Builds binary trees (every pair lives
;; in the Marrow heap), keeps one long-lived tree, drops the rest, and shows
;; what the collector did. Run:
;;   cargo run --release -p marrow-interp --bin marrow -- interp/examples/tour.scm

(define (make-tree depth)
  (if (= depth 0)
      (cons '() '())
      (cons (make-tree (- depth 1)) (make-tree (- depth 1)))))

(define (count-nodes tree)
  (if (null? (car tree))
      1
      (+ 1 (count-nodes (car tree)) (count-nodes (cdr tree)))))

(define (stat name)
  (cdr (assq name (gc-stats))))

(define (mib bytes)
  (/ (round (* 10 (/ bytes 1048576.0))) 10))

(define (show label)
  (display label)
  (display ": ")
  (display (stat 'heap-objects)) (display " objects, ")
  (display (mib (stat 'heap-alloc))) (display " MiB allocated, ")
  (display (mib (stat 'heap-sys))) (display " MiB heap, ")
  (display (stat 'num-gc)) (display " collections so far")
  (newline))

(show "start")

;; A tree that stays reachable for the whole run.
(define long-lived (make-tree 16))
(display "long-lived tree: ") (display (count-nodes long-lived)) (display " nodes") (newline)
(show "after the long-lived tree")

;; Many short-lived trees: far more memory than the heap ever holds at once.
(define (churn rounds depth)
  (let loop ((i 0) (total 0))
    (if (< i rounds)
        (loop (+ i 1) (+ total (count-nodes (make-tree depth))))
        total)))

(display "built and dropped ")
(display (churn 400 12))
(display " nodes in 400 trees")
(newline)
(show "after the churn")

;; Drop the long-lived tree too and collect.
(set! long-lived #f)
(collect-garbage)
(show "after dropping everything and collecting")

(display "total allocated: ")
(display (mib (stat 'total-alloc)))
(display " MiB; pause total: ")
(display (/ (round (/ (stat 'pause-total-ns) 10000.0)) 100))
(display " ms")
(newline)
