(vector-ref (vector 1 2) 5)
