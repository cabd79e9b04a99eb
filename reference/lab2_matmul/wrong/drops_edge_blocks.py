# Blocks only the whole blocks: when n is not a multiple of the block, the partial blocks at
# the edges are never visited, so part of the product is never computed.
# expect: zero wrong_order
# task: blocking
import numpy as np

from reference.lab2_matmul.solution import matmul  # noqa: F401  (part B is right)


def blocked_order(n, block):
    whole = n - n % block
    pieces = []
    for i0 in range(0, whole, block):
        for k0 in range(0, whole, block):
            for j0 in range(0, whole, block):
                i, k, j = np.meshgrid(
                    np.arange(i0, i0 + block),
                    np.arange(k0, k0 + block),
                    np.arange(j0, j0 + block),
                    indexing="ij",
                )
                pieces.append(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1))
    return np.concatenate(pieces)
