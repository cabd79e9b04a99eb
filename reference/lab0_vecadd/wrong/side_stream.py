# Launches on a non-blocking side stream and returns before the kernel finishes. The work is
# correct, so it must grade like the reference: a timer that only waited for the default
# stream would time almost nothing and flag this as impossibly fast.
# expect: full
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
