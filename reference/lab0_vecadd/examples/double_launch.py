# Correct, but launches the kernel twice (a leftover from debugging): twice the memory
# traffic, so about half the reference's speed, which lands between no speed points and full.
# expect: partial
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    blocks = (out.size + 255) // 256
    saxpy_kernel[blocks, 256](a, x, y, out)
    saxpy_kernel[blocks, 256](a, x, y, out)
    return out
