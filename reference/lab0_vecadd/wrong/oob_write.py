# Forgets the bounds check: the last block writes past the end of `out`. On a GPU the write
# lands in the grader's guard elements; the simulator checks every index itself.
# expect: zero out_of_bounds
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    out[i] = a * x[i % x.size] + y[i % y.size]


def saxpy(a, x, y, out):
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
