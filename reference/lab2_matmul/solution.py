# expect: full
"""Reference solution for lab 2: the blocked loop order (part A) and the shared-memory tiled
kernel (part B, version v3 of numba_kernels.py, where the napkin math is)."""

import numpy as np

from reference.lab2_matmul.numba_kernels import matmul as _numbered_matmul


def blocked_order(n: int, block: int) -> np.ndarray:
    """Blocks of i, then k, then j; inside a block, i, then k, then j.

    With j innermost, consecutive iterations walk a row of B and a row of C: each line
    brought in is used for all of its 8 doubles. Blocking keeps the block of B (block rows)
    and the rows of A and C it meets small enough to stay in the cache while they are reused.
    """
    pieces = []
    for i0 in range(0, n, block):
        for k0 in range(0, n, block):
            for j0 in range(0, n, block):
                # The block's iterations in i, k, j order; min() trims the edge blocks.
                i, k, j = np.meshgrid(
                    np.arange(i0, min(i0 + block, n)),
                    np.arange(k0, min(k0 + block, n)),
                    np.arange(j0, min(j0 + block, n)),
                    indexing="ij",
                )
                pieces.append(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    return np.concatenate(pieces)


def matmul(a, b, out):
    """out = a @ b with 32 x 32 shared-memory tiles: a (M, K), b (K, N), out (M, N) float32."""
    return _numbered_matmul(a, b, out, "v3_smem")
