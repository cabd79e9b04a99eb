# Builds a CUDA C kernel that does not compile.
# expect: zero kernel_compile
import pathlib
import tempfile

from kernels.build import compile_only

BROKEN = """
extern "C" __global__ void saxpy(float a, const float* x, const float* y, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x
    if (i < n) out[i] = a * x[i] + y[i];
}
"""


def saxpy(a, x, y, out):
    source = pathlib.Path(tempfile.mkdtemp()) / "saxpy.cu"
    source.write_text(BROKEN)
    compile_only(source)
    return out
