(display "x")
(list 1 #q 2)
