# Writes NaN into the middle element (for n > 1).
# expect: zero nan
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i] if i != out.size // 2 or i == 0 else x[i] * 0.0 / 0.0


def saxpy(a, x, y, out):
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
