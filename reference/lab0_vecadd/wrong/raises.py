# Raises an ordinary exception.
# expect: zero exception
def saxpy(a, x, y, out):
    raise ValueError("something went wrong in my code")
