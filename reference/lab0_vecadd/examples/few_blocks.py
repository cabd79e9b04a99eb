# Correct, but launches too few threads to keep the memory system busy: 32 blocks of 128
# threads walk the whole array with a grid-stride loop. An H100 has 132 SMs, so most of them
# idle, and those that work have too few loads in flight to cover the memory latency.
# expect: partial
from numba import cuda

BLOCKS, THREADS = 32, 128


@cuda.jit
def saxpy_kernel(a, x, y, out):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, out.size, stride):
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    saxpy_kernel[BLOCKS, THREADS](a, x, y, out)
    return out
