# Rounds every input to 10 bits after the binary point before multiplying, as a careless
# "fast" kernel might: each product is off by up to ~2^-11, far more than K float32 roundings.
# The tolerance grows with K, but not that much.
# expect: zero wrong_answer
# task: matmul
import math

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
            x = math.floor(a[row, p] * 1024.0 + 0.5) / 1024.0
            y = math.floor(b[p, col] * 1024.0 + 0.5) / 1024.0
            acc += float32(x * y)
        c[row, col] = acc


def matmul(a, b, out):
    m, n = out.shape
    matmul_kernel[((n + 15) // 16, (m + 15) // 16), (16, 16)](a, b, out)
    return out
