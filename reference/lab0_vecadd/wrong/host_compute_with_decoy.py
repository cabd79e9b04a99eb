# Launches a kernel that does nothing useful (so a kernel *was* launched) and computes the
# answer on the host. Only the grader's re-run of the recorded kernels, on new inputs, in its
# own process, can tell: the decoy alone leaves `out` wrong. Under the simulator the decoy's
# launch hides the trick, so this fixture needs a GPU.
# expect: zero not_reproducible
# needs: gpu
from numba import cuda


@cuda.jit
def decoy(out):
    i = cuda.grid(1)
    if i < 1:
        out[i] = out[i]


def saxpy(a, x, y, out):
    decoy[1, 32](out)
    fetch = getattr(x, "copy_to_" + "host")
    result = a * fetch() + getattr(y, "copy_to_" + "host")()
    out.copy_to_device(result.astype(out.dtype))
    return out
