# The example lab's reference: one thread per element, guarded.
# expect: full
from numba import cuda


@cuda.jit
def _scale(alpha, x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = alpha * x[i]


def scale(alpha, x, out):
    threads = 128
    _scale[(x.size + threads - 1) // threads, threads](alpha, x, out)
    return out
