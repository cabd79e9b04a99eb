# Lets CuPy do the work instead of writing a kernel.
# expect: zero forbidden
import cupy


def saxpy(a, x, y, out):
    result = cupy.asarray(out)
    result[...] = a * cupy.asarray(x) + cupy.asarray(y)
    return out
