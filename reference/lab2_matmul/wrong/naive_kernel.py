# Right, but no shared memory: one thread per element of C, each reading a whole row of A and a
# column of B from global memory. Full correctness, no speed points (a few % of cuBLAS).
# expect: partial
# zero-items: speed
from numba import cuda, float32

from reference.lab2_matmul.solution import blocked_order  # noqa: F401  (part A is right)


@cuda.jit
def matmul_kernel(a, b, c):
    row, col = cuda.grid(2)  # x walks rows: neighbouring threads are a row of C apart
    m, k = a.shape
    n = b.shape[1]
    if row < m and col < n:
        acc = float32(0.0)
        for p in range(k):
            acc += a[row, p] * b[p, col]
        c[row, col] = acc


def matmul(a, b, out):
    m, n = out.shape
    matmul_kernel[((m + 31) // 32, (n + 7) // 8), (32, 8)](a, b, out)
    return out
