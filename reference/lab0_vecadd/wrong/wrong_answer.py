# Subtracts where it should add.
# expect: zero wrong_answer
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] - y[i]


def saxpy(a, x, y, out):
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
