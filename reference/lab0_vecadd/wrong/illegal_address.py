# Writes far outside any allocation: an illegal address on a GPU, which poisons the CUDA
# context of the process. The grader must report it and carry on with the next submission.
# expect: zero cuda_error | out_of_bounds
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i + (1 << 30)] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
