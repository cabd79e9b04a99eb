# Right values, in float64.
# expect: zero dtype
import numpy as np
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    wide = cuda.device_array(out.shape, dtype=np.float64)
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, wide)
    return wide
