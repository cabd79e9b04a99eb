# Returns a host (numpy) array where a device array is expected.
# expect: zero type
import numpy as np


def saxpy(a, x, y, out):
    return np.zeros(out.shape, dtype=np.float32)
