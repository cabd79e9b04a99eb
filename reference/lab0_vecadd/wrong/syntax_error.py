# Does not parse.
# expect: zero syntax_error
def saxpy(a, x, y, out)
    return out
