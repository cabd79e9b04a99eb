# Launches whole blocks and never checks the index, so the last block writes past the end.
# expect: zero out_of_bounds
from numba import cuda


@cuda.jit
def _scale(alpha, x, out):
    i = cuda.grid(1)
    out[i] = alpha * x[i]


def scale(alpha, x, out):
    threads = 128
    _scale[(x.size + threads - 1) // threads, threads](alpha, x, out)
    return out
