(undefined-thing 1)
