# Dropped an argument.
# expect: zero signature
def saxpy(x, y, out):
    return out
