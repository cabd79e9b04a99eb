# Launches on a non-blocking side stream and returns before the kernel finishes. The work is
# correct; what matters is that it buys no time. A timer that waited only for the default
# stream would time almost nothing; one that started before a non-blocking stream's work
# could miss its beginning. The grader must time it no faster than the reference.
# expect: honest
# needs: gpu
from cuda.bindings import driver
from numba import cuda

_stream = None


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    global _stream
    if _stream is None:
        err, handle = driver.cuStreamCreate(driver.CUstream_flags.CU_STREAM_NON_BLOCKING)
        assert err == driver.CUresult.CUDA_SUCCESS, err
        _stream = cuda.external_stream(int(handle))
    saxpy_kernel[(out.size + 255) // 256, 256, _stream](a, x, y, out)
    return out
