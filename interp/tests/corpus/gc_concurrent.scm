; Mutation-heavy work under concurrent marking with the mark verified
; (flags: --gc-mode concurrent --heap-check): vectors and pairs rewritten
; with vector-set! and set-car! while cycles mark beside the program.
(define (make-tree d)
  (if (= d 0) (list 0) (cons (make-tree (- d 1)) (make-tree (- d 1)))))
(define (count t)
  (if (pair? (car t)) (+ 1 (count (car t)) (count (cdr t))) 1))
(define v (make-vector 64 '()))
(define (churn i)
  (let ((k (modulo (* i 7) 64)))
    (vector-set! v k (make-tree (modulo i 9)))
    (let ((p (vector-ref v (modulo (+ k 1) 64))))
      (if (and (pair? p) (pair? (car p))) (set-car! p (make-tree 3))))))
(let loop ((i 0))
  (if (< i 4000)
      (begin (churn i) (loop (+ i 1)))))
(define total
  (let loop ((k 0) (acc 0))
    (if (= k 64) acc
        (loop (+ k 1) (let ((t (vector-ref v k))) (if (pair? t) (+ acc (count t)) acc))))))
(display total)
(newline)
