(error "custom failure:" (list 1 2) "s")
