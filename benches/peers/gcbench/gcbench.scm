;;; gcbench.scm: the classic Ellis/Kovac/Boehm GCBench, a peer for Marrow, in
;;; portable R7RS-small Scheme (no imports; runs as a top-level script).
;;; A node is a 4-slot vector #(left right i j), like the Java/C original's
;;; {left, right, int i, int j}; the long-lived array is a vector of flonums.
;;; stdout is identical to the Go and C versions (node counts, no times).
;;; Usage: guile --no-auto-compile gcbench.scm   |   scheme --script gcbench.scm

(define kStretchTreeDepth 18)
(define kLongLivedTreeDepth 16)
(define kArraySize 500000)
(define kMinTreeDepth 4)
(define kMaxTreeDepth 16)

;; Counts every node allocated, so stdout can be checked.
(define nodes-built 0)

(define (make-node left right)
  (set! nodes-built (+ nodes-built 1))
  (vector left right 0 0))
(define (node-left n) (vector-ref n 0))
(define (node-right n) (vector-ref n 1))
(define (set-node-left! n x) (vector-set! n 0 x))
(define (set-node-right! n x) (vector-set! n 1 x))

(define (pow2 k)
  (let loop ((k k) (acc 1))
    (if (= k 0) acc (loop (- k 1) (* acc 2)))))

;; Nodes in a complete binary tree of depth i.
(define (tree-size i) (- (pow2 (+ i 1)) 1))

;; How many trees of depth i add up to twice the stretch tree.
(define (num-iters i) (quotient (* 2 (tree-size kStretchTreeDepth)) (tree-size i)))

;; Top-down: the parent exists before its children.
(define (populate depth node)
  (if (> depth 0)
      (let ((depth (- depth 1)))
        (set-node-left! node (make-node '() '()))
        (set-node-right! node (make-node '() '()))
        (populate depth (node-left node))
        (populate depth (node-right node)))))

;; Bottom-up: children before the parent.
(define (make-tree depth)
  (if (<= depth 0)
      (make-node '() '())
      (let ((l (make-tree (- depth 1))))
        (let ((r (make-tree (- depth 1))))
          (make-node l r)))))

(define (count-nodes n)
  (if (null? n)
      0
      (+ 1 (+ (count-nodes (node-left n)) (count-nodes (node-right n))))))

(define (show-count label count)
  (display label)
  (display (number->string count))
  (display " nodes")
  (newline))

(define (time-construction depth)
  (let ((iters (num-iters depth)))
    (display "Creating ")
    (display (number->string iters))
    (display " trees of depth ")
    (display (number->string depth))
    (newline)
    (let ((before nodes-built))
      (do ((i 0 (+ i 1))) ((= i iters))
        (populate depth (make-node '() '())))
      (show-count "\tTop down construction built " (- nodes-built before)))
    (let ((before nodes-built))
      (do ((i 0 (+ i 1))) ((= i iters))
        (make-tree depth))
      (show-count "\tBottom up construction built " (- nodes-built before)))))

;; `let' evaluates its inits in an unspecified order (Chez: right to left),
;; so counters are read in nested lets.
(define (main)
  (display "Garbage Collector Test")
  (newline)
  (display " Stretching memory with a binary tree of depth ")
  (display (number->string kStretchTreeDepth))
  (newline)
  (let ((before nodes-built))
    (make-tree kStretchTreeDepth)
    (show-count "\tStretch tree built " (- nodes-built before)))
  (display " Creating a long-lived binary tree of depth ")
  (display (number->string kLongLivedTreeDepth))
  (newline)
  (let ((before nodes-built))
    (let ((long-lived (make-node '() '())))
      (populate kLongLivedTreeDepth long-lived)
      (show-count "\tLong-lived tree built " (- nodes-built before))
      (display " Creating a long-lived array of ")
      (display (number->string kArraySize))
      (display " doubles")
      (newline)
      (let ((array (make-vector kArraySize 0.0)))
        (do ((i 1 (+ i 1))) ((= i (quotient kArraySize 2)))
          (vector-set! array i (/ 1.0 i)))
        (do ((d kMinTreeDepth (+ d 2))) ((> d kMaxTreeDepth))
          (time-construction d))
        (display "Long-lived tree has ")
        (display (number->string (count-nodes long-lived)))
        (display " nodes")
        (newline)
        (if (= (vector-ref array 1000) (/ 1.0 1000))
            (display "Long-lived array is intact")
            (display "Failed: long-lived array corrupted"))
        (newline)
        (display "Total nodes built: ")
        (display (number->string nodes-built))
        (newline)))))

(main)
