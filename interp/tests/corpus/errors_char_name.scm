(write (list #\a #\foo))
