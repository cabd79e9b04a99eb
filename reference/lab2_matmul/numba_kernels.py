"""Lab 2's numba matmuls, numbered from naive to fast in the llm.c style: ``C = A @ B``.

Every version takes device arrays ``a`` float32 (M, K), ``b`` float32 (K, N) and ``out``
float32 (M, N), all C-contiguous, works for any M, N, K >= 1, launches on the default stream
and returns ``out``. They run under numba's simulator too (small sizes: every CUDA thread is a
Python thread there).

Napkin math at 4096^3 (fp32, H200): 2 * 4096^3 = 137 GFLOP. cuBLAS runs near 50 TFLOP/s
(docs/gpu-runs.md), ~2.7 ms. The three matrices are 201 MB: at ~4 TB/s that is 50 us, so
matmul is compute bound *if* each element loaded from DRAM is reused enough. Without reuse,
every FMA loads two floats (8 bytes per 2 FLOPs): 0.25 FLOP/byte, 1 TB of loads, far below
any roof. Each version raises the reuse:

    v1 naive        one thread per C element; threadIdx.x walks M, so a warp reads 32 rows of
                    A (32 lines) and writes 32 rows of C: uncoalesced.
    v2 coalesced    threadIdx.x walks N: a warp reads one row of A (a broadcast) and 32
                    consecutive floats of B, and writes 32 consecutive floats of C.
    v3 smem tiles   a 32x32 tile of A and of B in shared memory per step of K: every float
                    loaded from global memory is used 32 times (AI ~8 FLOP/byte of DRAM).
    v4 register     64x64 tiles of C per block, 4x4 outputs per thread held in registers:
                    each value read from shared memory is used 4 times from a register.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

VERSIONS = ("v1_naive", "v2_coalesced", "v3_smem", "v4_register")

TILE = 32  # v3: a TILE x TILE block of threads computes a TILE x TILE tile of C


@cuda.jit
def _naive(a, b, c):
    row, col = cuda.grid(2)  # x walks rows of C: neighbours in a warp are a row apart
    m, k = a.shape
    n = b.shape[1]
    if row < m and col < n:
        acc = float32(0.0)
        for p in range(k):
            acc += a[row, p] * b[p, col]
        c[row, col] = acc


@cuda.jit
def _coalesced(a, b, c):
    col, row = cuda.grid(2)  # x walks columns: a warp touches 32 consecutive floats of B and C
    m, k = a.shape
    n = b.shape[1]
    if row < m and col < n:
        acc = float32(0.0)
        for p in range(k):
            acc += a[row, p] * b[p, col]
        c[row, col] = acc


@cuda.jit
def _smem(a, b, c):
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
        # Each thread loads one float of each tile; zeros outside the matrices make the
        # partial tiles at the edges add nothing.
        ka = k0 + tx
        tile_a[ty, tx] = a[row, ka] if row < m and ka < k else float32(0.0)
        kb = k0 + ty
        tile_b[ty, tx] = b[kb, col] if kb < k and col < n else float32(0.0)
        cuda.syncthreads()  # the tile is complete before anyone reads it
        for p in range(TILE):
            acc += tile_a[ty, p] * tile_b[p, tx]
        cuda.syncthreads()  # everyone is done with the tile before it is overwritten
    if row < m and col < n:
        c[row, col] = acc


# v4: a block of 16 x 16 threads computes a 64 x 64 tile of C, 4 x 4 outputs per thread, the
# thread's rows ty + 16 i and columns tx + 16 j (strided, so that a warp's loads from shared
# memory and its stores to C touch consecutive addresses).
BM = BN = 64
BK = 16
THREADS = 16
TM = TN = BM // THREADS  # 4


@cuda.jit
def _register(a, b, c):
    tile_a = cuda.shared.array((BK, BM), float32)  # transposed: tile_a[p, r] = A[r0 + r, k0 + p]
    tile_b = cuda.shared.array((BK, BN), float32)
    acc = cuda.local.array((TM, TN), float32)
    reg_a = cuda.local.array(TM, float32)
    reg_b = cuda.local.array(TN, float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * THREADS + tx
    row0 = cuda.blockIdx.y * BM
    col0 = cuda.blockIdx.x * BN
    m, k = a.shape
    n = b.shape[1]
    for i in range(TM):
        for j in range(TN):
            acc[i, j] = float32(0.0)
    for k0 in range(0, k, BK):
        # 64 x 16 floats of A and 16 x 64 of B: four of each per thread.
        for r in range(BM * BK // (THREADS * THREADS)):
            e = tid + r * THREADS * THREADS
            ar = e // BK  # consecutive threads read consecutive k of one row of A
            ap = e % BK
            ga = row0 + ar
            gk = k0 + ap
            tile_a[ap, ar] = a[ga, gk] if ga < m and gk < k else float32(0.0)
            bp = e // BN  # ... and consecutive columns of one row of B
            bc = e % BN
            gk = k0 + bp
            gb = col0 + bc
            tile_b[bp, bc] = b[gk, gb] if gk < k and gb < n else float32(0.0)
        cuda.syncthreads()
        for p in range(BK):
            for i in range(TM):
                reg_a[i] = tile_a[p, ty + THREADS * i]
            for j in range(TN):
                reg_b[j] = tile_b[p, tx + THREADS * j]
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] += reg_a[i] * reg_b[j]
        cuda.syncthreads()
    for i in range(TM):
        r = row0 + ty + THREADS * i
        for j in range(TN):
            col = col0 + tx + THREADS * j
            if r < m and col < n:
                c[r, col] = acc[i, j]


def _blocks(extent: int, per_block: int) -> int:
    return max(1, math.ceil(extent / per_block))


def matmul(a, b, out, version: str = "v3_smem"):
    """``out = a @ b`` with one version's kernel: a (M, K), b (K, N), out (M, N) float32."""
    m, n = out.shape
    if version == "v1_naive":
        _naive[(_blocks(m, 32), _blocks(n, 8)), (32, 8)](a, b, out)
    elif version == "v2_coalesced":
        _coalesced[(_blocks(n, 32), _blocks(m, 8)), (32, 8)](a, b, out)
    elif version == "v3_smem":
        _smem[(_blocks(n, TILE), _blocks(m, TILE)), (TILE, TILE)](a, b, out)
    elif version == "v4_register":
        _register[(_blocks(n, BN), _blocks(m, BM)), (THREADS, THREADS)](a, b, out)
    else:
        raise ValueError(f"unknown version {version!r}; the versions are {', '.join(VERSIONS)}")
    return out


def flops(m: int, n: int, k: int) -> int:
    """2 M N K: one multiply and one add per (i, j, p)."""
    return 2 * m * n * k


def host_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The float64 product on the host: what every version is checked against."""
    return a.astype(np.float64) @ b.astype(np.float64)
