;; Regression tests for the wrong results of issue 15 (numbers, every,
;; condition predicates, exceptions in dynamic-wind while a guard unwinds,
;; circular lists, error message length).

(define (show name v) (display name) (display ": ") (write v) (newline))
(define-syntax catch
  (syntax-rules ()
    ((_ e) (guard (c ((error-object? c) (list 'error (error-object-message c)))
                     (#t (list 'raised c)))
             e))))

;; Bignums with flonums.
(show "exact->inexact 2^64+1" (exact->inexact (+ (expt 2 64) 1)))
(show "exact->inexact 2^100+2^47+1" (exact->inexact (+ (expt 2 100) (expt 2 47) 1)))
(show "exact->inexact 2^100+2^47" (exact->inexact (+ (expt 2 100) (expt 2 47))))
(show "exact->inexact 2^54+3" (exact->inexact (+ (expt 2 54) 3)))
(show "(10^400+1)/10^399" (/ (+ (expt 10 400) 1) (expt 10 399)))
(show "10^400/(3*10^399)" (/ (expt 10 400) (* 3 (expt 10 399))))
(show "1/10^30" (/ (expt 10 30)))
(show "10^400 < +inf.0" (< (expt 10 400) +inf.0))
(show "-10^400 > -inf.0" (> (- (expt 10 400)) -inf.0))
(show "10^400 = +inf.0" (= (expt 10 400) +inf.0))
(show "2^60+1 > (inexact 2^60)" (> (+ (expt 2 60) 1) (exact->inexact (expt 2 60))))
(show "2^60 = (inexact 2^60)" (= (expt 2 60) (exact->inexact (expt 2 60))))
(show "-2 < -1.5" (< -2 -1.5))
(show "1 < +nan.0" (< 1 +nan.0))
(show "gcd 1e300 6" (gcd 1e300 6))
(show "gcd 2^100 6^50" (gcd (expt 2 100) (expt 6 50)))
(show "lcm 2^70 3" (lcm (expt 2 70) 3))
(show "gcd/lcm of nothing" (list (gcd) (lcm)))
(show "(- 0.0)" (- 0.0))
(show "(- 5)" (- 5))

;; every calls its predicate once per element.
(define calls 0)
(show "every result" (every (lambda (x) (set! calls (+ calls 1)) (* x 2)) '(1 2 3)))
(show "every calls" calls)

;; Condition predicates.
(define (kinds thunk)
  (guard (e (#t (list (read-error? e) (file-error? e))))
    (thunk)))
(show "read error" (kinds (lambda () (read (open-input-string "(1 2")))))
(show "file error" (kinds (lambda () (load "/nonexistent/marrow-file.scm"))))
(show "plain error" (kinds (lambda () (error "plain"))))
(show "read still works" (let ((p (open-input-string "(a b) 7 \"s\"")))
                           (let* ((a (read p)) (b (read p)) (c (read p)) (d (read p)))
                             (list a b c (eof-object? d)))))

;; An exception raised by an after thunk while a guard unwinds is caught
;; by that guard.
(show "after thunk raises"
      (guard (e (#t (list 'caught e)))
        (dynamic-wind (lambda () #f)
                      (lambda () (raise 'inner))
                      (lambda () (raise 'after)))))
(show "winding order intact"
      (let ((log '()))
        (guard (e (#t (reverse (cons e log))))
          (dynamic-wind (lambda () (set! log (cons 'in log)))
                        (lambda () (raise 'x))
                        (lambda () (set! log (cons 'out log)))))))

;; Circular lists.
(define c3 (list 1 2 3))
(set-cdr! (cddr c3) c3)
(define c6 (list 1 2 3 1 2 3))
(set-cdr! (list-tail c6 5) c6)
(define d3 (list 1 2 4))
(set-cdr! (cddr d3) d3)
(show "equal? bisimilar cycles" (equal? c3 c6))
(show "equal? different cycles" (equal? c3 d3))
(show "equal? cycles in vectors" (equal? (vector c3 'a) (vector c6 'a)))
(show "member" (catch (member 9 c3)))
(show "member found" (car (member 2 c3)))
(show "assoc" (catch (assoc 9 c3)))
(show "apply" (catch (apply + c3)))
(show "list-copy" (catch (list-copy c3)))
(show "length" (catch (length c3)))
(define msg (catch (vector-ref c3 0)))
(show "message is short" (< (string-length (cadr msg)) 400))
(show "message starts" (substring (cadr msg) 0 40))
(define big (make-list 100000 'x))
(define msg2 (catch (vector-ref big 0)))
(show "huge value message is short" (< (string-length (cadr msg2)) 400))

;; A case mapping to several characters leaves the character alone.
(show "char-upcase sharp s" (char-upcase (integer->char 223)))
