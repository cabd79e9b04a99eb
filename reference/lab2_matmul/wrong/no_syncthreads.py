# The tiled kernel without cuda.syncthreads(): threads read tile elements other threads have not
# loaded yet, or have already overwritten with the next tile. On a GPU that is wrong at almost
# every size; the simulator interleaves its threads differently.
# expect: zero wrong_answer
# task: matmul
# needs: gpu
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
    m, k = a.shape
    n = b.shape[1]
    acc = float32(0.0)
    for k0 in range(0, k, TILE):
        tile_a[ty, tx] = a[row, k0 + tx] if row < m and k0 + tx < k else float32(0.0)
        tile_b[ty, tx] = b[k0 + ty, col] if k0 + ty < k and col < n else float32(0.0)
        for p in range(TILE):
            acc += tile_a[ty, p] * tile_b[p, tx]
    if row < m and col < n:
        c[row, col] = acc


def matmul(a, b, out):
    m, n = out.shape
    grid = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE)
    matmul_kernel[grid, (TILE, TILE)](a, b, out)
    return out
