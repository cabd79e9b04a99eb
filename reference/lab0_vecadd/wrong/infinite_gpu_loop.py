# A kernel that never ends: the process is stuck in a synchronise that no Python timeout can
# interrupt, so the grader must kill its whole process group.
# expect: zero timeout
from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        k = 0
        while k >= 0:  # k stays in [0, 1000): the loop never exits
            k = (k + 1) % 1000
            out[i] = a * x[i] + y[i] + k


def saxpy(a, x, y, out):
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
