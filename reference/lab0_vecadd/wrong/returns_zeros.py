# Writes zeros.
# expect: zero wrong_answer
from numba import cuda


@cuda.jit
def zero_kernel(out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = 0.0


def saxpy(a, x, y, out):
    zero_kernel[(out.size + 255) // 256, 256](out)
    return out
