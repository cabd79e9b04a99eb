"""The grader's blocked loop orders for lab 2 part A: the reference blocking the cache task
scores against (labs/lab2_matmul/lab.py's ``REFERENCE_LOOPS``), and every other order of the
six loops for the tests.

It lives here, on the grader's side, because it *is* part A's answer: the sandbox hides
``reference/`` from a submission's process, and labs/lab2_matmul/loops.py keeps only what a
student is meant to use (the unblocked order, ``check_order``, ``addresses``, ``count_misses``).
"""

from __future__ import annotations

import numpy as np

from labs.lab2_matmul.loops import check_loop


def blocked_order(
    n: int, block: int, block_loop: str = "jik", inner_loop: str = "jik"
) -> np.ndarray:
    """The blocked (tiled) loop nest: loops over blocks, then over the elements of a block.

    ``block_loop`` orders the three loops over block indices (each of ceil(n / block)
    blocks), ``inner_loop`` the three loops inside a block (each over ``block`` values, fewer
    for the last block when n % block != 0). In C, for block_loop = inner_loop = "jik"::

        for (j0 = 0; j0 < n; j0 += b) for (i0 = 0; i0 < n; i0 += b) for (k0 = 0; k0 < n; k0 += b)
          for (j = j0; j < min(j0 + b, n); j++) for (i = i0; ...; i++) for (k = k0; ...; k++)
            C[i][j] += A[i][k] * B[k][j];

    Returns int32 (n**3, 3), columns (i, j, k). ``block >= n`` is ``naive_order(n, inner_loop)``.
    """
    check_loop(block_loop, "block_loop")
    check_loop(inner_loop, "inner_loop")
    if block < 1:
        raise ValueError(f"block must be at least 1, not {block}")
    nb = -(-n // block)
    # Six nested loops as six axes: the block loops (axes 0-2), then the inner ones (3-5).
    # Pad every edge block to full size, then drop the padding with a mask (which keeps order).
    shape = (nb, nb, nb, block, block, block)
    cols = []
    for v in "ijk":
        outer = np.arange(nb, dtype=np.int32) * block
        inner = np.arange(block, dtype=np.int32)
        outer = outer.reshape([-1 if ax == block_loop.index(v) else 1 for ax in range(6)])
        inner = inner.reshape([-1 if ax == 3 + inner_loop.index(v) else 1 for ax in range(6)])
        cols.append(np.broadcast_to(outer + inner, shape).ravel())
    if n % block == 0:
        return np.stack(cols, axis=1)
    keep = (cols[0] < n) & (cols[1] < n) & (cols[2] < n)
    return np.stack([c[keep] for c in cols], axis=1)
