# Reads B as if it were stored transposed (b[col, p] for b[p, col]): a classic index slip. Only
# square shapes even run without an index error, and then the values are wrong.
# expect: zero wrong_answer | exception | out_of_bounds | cuda_error
# task: matmul
from numba import cuda, float32

from reference.lab2_matmul.solution import blocked_order  # noqa: F401  (part A is right)


@cuda.jit
def matmul_kernel(a, b, c):
    col, row = cuda.grid(2)
    m, k = a.shape
    n = b.shape[1]
    if row < m and col < n:
        acc = float32(0.0)
        for p in range(k):
            acc += a[row, p] * b[col, p]
        c[row, col] = acc


def matmul(a, b, out):
    m, n = out.shape
    matmul_kernel[((n + 15) // 16, (m + 15) // 16), (16, 16)](a, b, out)
    return out
