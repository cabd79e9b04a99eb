# expect: full
"""Reference solution for lab 0: one thread per element, 256 threads per block.

Napkin math (H100, about 3 TB/s of copy bandwidth measured): n = 2^24 moves 12 * 2^24 B =
201 MB, so about 67 us at best. One thread per element with a bounds check is all it takes:
every warp reads 128 contiguous bytes of x and of y and writes 128 of out, fully coalesced.
"""

from numba import cuda

THREADS_PER_BLOCK = 256


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    blocks = (out.size + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    saxpy_kernel[blocks, THREADS_PER_BLOCK](a, x, y, out)
    return out
