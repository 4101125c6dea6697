(display "ok")
(display "abc\q")
