# Computes y = a*x + y in place and returns y: right values, but an input changed and returned.
# expect: zero modified_input | returned_input
from numba import cuda


@cuda.jit
def saxpy_inplace(a, x, y):
    i = cuda.grid(1)
    if i < y.size:
        y[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    saxpy_inplace[(y.size + 255) // 256, 256](a, x, y)
    return y
