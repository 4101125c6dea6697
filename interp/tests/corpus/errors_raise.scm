(raise (quote my-symbol))
