# Returns a fresh buffer it never wrote.
# expect: zero unwritten | wrong_answer | nan
from numba import cuda


def saxpy(a, x, y, out):
    return cuda.device_array_like(out)
