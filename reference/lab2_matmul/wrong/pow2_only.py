# A tiled kernel with no bounds checks: right when M, N and K are multiples of the tile (every
# power of two from 32 up), wrong or out of bounds on every other shape.
# expect: zero out_of_bounds | wrong_answer | exception | cuda_error
# task: matmul
from numba import cuda, float32

from reference.lab2_matmul.solution import blocked_order  # noqa: F401  (part A is right)

TILE = 32


@cuda.jit
def matmul_kernel(a, b, c):
    tile_a = cuda.shared.array((TILE, TILE), float32)
    tile_b = cuda.shared.array((TILE, TILE), float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = float32(0.0)
    for k0 in range(0, a.shape[1], TILE):
        tile_a[ty, tx] = a[row, k0 + tx]  # no check: past the edge when K % TILE != 0
        tile_b[ty, tx] = b[k0 + ty, col]
        cuda.syncthreads()
        for p in range(TILE):
            acc += tile_a[ty, p] * tile_b[p, tx]
        cuda.syncthreads()
    c[row, col] = acc  # no check: writes past the end of C


def matmul(a, b, out):
    m, n = out.shape
    grid = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE)
    matmul_kernel[grid, (TILE, TILE)](a, b, out)
    return out
