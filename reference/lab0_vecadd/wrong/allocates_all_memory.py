# Asks for far more device memory than any GPU has.
# expect: zero out_of_memory
from numba import cuda


def saxpy(a, x, y, out):
    hoard = cuda.device_array(1 << 50, dtype="uint8")
    return hoard
