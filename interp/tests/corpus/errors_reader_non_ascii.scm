; '#' before a non-ASCII character is a read error (it used to panic)
(display "before")
(newline)
#é
