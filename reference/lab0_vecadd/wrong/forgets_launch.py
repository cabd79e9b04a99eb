# Returns `out` without launching the kernel: every element is still the grader's NaN.
# expect: zero unwritten
def saxpy(a, x, y, out):
    return out
