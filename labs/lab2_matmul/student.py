"""Lab 2: a blocked loop order (part A) and a tiled matmul kernel (part B). Edit this file;
`make lab2` grades it. Read labs/lab2_matmul/README.md first.

Part A. The grader calls ``blocked_order(n, block)`` and replays the loads and stores of

    for (i, j, k) in order:  C[i][j] += A[i][k] * B[k][j]

through a cache simulator (n x n doubles, row-major). Return every (i, j, k) with
0 <= i, j, k < n exactly once: an int numpy array of shape (n**3, 3), columns (i, j, k), or
a list of (i, j, k) tuples. n need not be a multiple of block.

Part B. The grader calls ``matmul(a, b, out)`` with

    a    device array, float32, shape (M, K)
    b    device array, float32, shape (K, N)
    out  device array, float32, shape (M, N), filled with NaN

and checks the array ``matmul`` returns. M, N and K are often not multiples of your tile.
"""

import numpy as np
from numba import cuda, float32  # noqa: F401  (float32: for your shared arrays)

TILE = 32  # threads per block side (32 x 32 = 1024, the most a block may have), tile side


def blocked_order(n: int, block: int) -> np.ndarray:
    """The iterations (i, j, k) of a blocked matmul loop nest, in the order they run."""
    # FILL ME IN: three loops over blocks (i0, j0, k0 in steps of `block`), then three loops
    # over the elements of the block (stop at n in the partial blocks at the edges). Which
    # loop is innermost decides which addresses are consecutive: see the handout. Start from
    # the unblocked order below and the exam's numbers.
    #     order = [(i, j, k) for j in range(n) for i in range(n) for k in range(n)]
    raise NotImplementedError("blocked_order is not written yet")


@cuda.jit
def matmul_kernel(a, b, c):
    # FILL ME IN: one thread per element of C; each block computes a TILE x TILE tile of C.
    #   1. tile_a = cuda.shared.array((TILE, TILE), float32), the same for tile_b;
    #   2. loop over K in steps of TILE: each thread loads one element of A's tile and one of
    #      B's (0.0 where the index is outside the matrix), cuda.syncthreads(), accumulate
    #      TILE products from shared memory, cuda.syncthreads() again before the next load;
    #   3. write C[row, col] if row < M and col < N.
    pass


def matmul(a, b, out):
    """Launch ``matmul_kernel`` over all of ``out`` and return ``out``."""
    # FILL ME IN: blocks of (TILE, TILE) threads; enough blocks to cover out.shape (round
    # up!): grid = (ceil(N / TILE), ceil(M / TILE)) if threadIdx.x walks the columns.
    raise NotImplementedError("matmul is not written yet")
