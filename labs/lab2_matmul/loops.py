"""The memory accesses of ``C = A @ B`` loop nests over n x n row-major arrays.

An iteration order is an int array ``order`` of shape (T, 3), columns (i, j, k): one row
per run of the innermost statement ``C[i][j] += A[i][k] * B[k][j]``, in program order. A
correct order holds every (i, j, k) of [0, n)^3 exactly once (``check_order`` says which
are missing or repeated). ``addresses`` turns an order into the byte addresses the loop
touches, ready for ``cachesim.simulate``; ``count_misses`` does both.

Try your own order with them::

    from labs.lab2_matmul.cachesim import CacheConfig
    from labs.lab2_matmul.loops import Layout, check_order, count_misses, naive_order
    order = my_blocked_order(64, 8)                       # yours: student.py's blocked_order
    assert not check_order(order, 64)
    print(count_misses(order, Layout.exam(), CacheConfig(4096, 64, 1, "lru")))
    print(count_misses(naive_order(64, "jik"), Layout.exam(), CacheConfig(4096, 64, 1, "lru")))

The blocked order itself is the exercise, so it is not here: the grader's own (any loop order
of blocks and inside them) is in reference/lab2_matmul/orders.py, hidden from submissions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labs.lab2_matmul.cachesim import CacheConfig, SimResult, simulate

A, B, C = 0, 1, 2
NAMES = ("A", "B", "C")
C_MODES = ("register_sum", "read_write")


@dataclass(frozen=True)
class Layout:
    """Where A, B and C (each n x n, row-major, ``elem_bytes`` per element) sit in memory.

    bases: the byte address of element [0][0] of A, B and C; None packs them one after the
    other from address 0 (A at 0, B at n*n*elem_bytes, C at 2*n*n*elem_bytes).
    """

    n: int
    elem_bytes: int = 8
    bases: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.n < 1 or self.elem_bytes < 1:
            raise ValueError(f"n and elem_bytes must be positive, not {self.n}, {self.elem_bytes}")
        size = self.n * self.n * self.elem_bytes
        if self.bases is None:
            object.__setattr__(self, "bases", (0, size, 2 * size))
        bases = tuple(int(b) for b in self.bases)
        if len(bases) != 3 or min(bases) < 0:
            raise ValueError(f"bases must be 3 non-negative byte addresses, not {self.bases}")
        ordered = sorted(bases)
        if ordered[1] - ordered[0] < size or ordered[2] - ordered[1] < size:
            raise ValueError(f"arrays of {size} B at bases {bases} overlap")
        object.__setattr__(self, "bases", bases)

    @classmethod
    def exam(cls) -> Layout:
        """The exam's layout: 64 x 64 doubles at 0, 32768 and 65536, so with a 4 KiB cache
        every array starts in set 0."""
        return cls(n=64, elem_bytes=8, bases=(0, 32768, 65536))

    def address(self, array: int, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Byte address of ``array[row][col]`` (array: A, B or C): int64, broadcast shape."""
        assert self.bases is not None  # set by __post_init__
        row = np.asarray(row, dtype=np.int64)
        col = np.asarray(col, dtype=np.int64)
        return self.bases[array] + (row * self.n + col) * self.elem_bytes


def check_loop(loop: str, what: str = "loop") -> None:
    """Raise ValueError unless ``loop`` is a permutation of "ijk" (outermost first)."""
    if sorted(loop) != ["i", "j", "k"]:
        raise ValueError(f"{what} must be a permutation of 'ijk' (outermost first), not {loop!r}")


def naive_order(n: int, loop: str = "jik") -> np.ndarray:
    """The triple loop nest ``for loop[0]: for loop[1]: for loop[2]:`` over [0, n).

    Returns int32 (n**3, 3), columns (i, j, k). ``loop="jik"`` is the exam's order.
    """
    check_loop(loop)
    # grid[p] holds the p-th loop's variable, outermost first, in program order once raveled.
    grid = np.indices((n, n, n), dtype=np.int32)
    return np.stack([grid[loop.index(v)].ravel() for v in "ijk"], axis=1)


def _shape_problem(order: np.ndarray) -> str | None:
    if order.ndim != 2 or order.shape[1] != 3:
        return (
            f"order must have shape (T, 3), one row (i, j, k) per iteration, "
            f"but it has shape {order.shape}"
        )
    if order.size and order.dtype.kind not in "iu":
        return f"order must hold integers (indices), not {order.dtype} values"
    return None


def _out_of_range(order: np.ndarray, n: int) -> np.ndarray:
    """bool (T,): whether row t has an index outside [0, n)."""
    return ((order < 0) | (order >= n)).any(axis=1)


def check_order(order: np.ndarray, n: int) -> list[str]:
    """What is wrong with an iteration order for n x n x n, as sentences for a student.

    An empty list means ``order`` (int (n**3, 3), columns i, j, k) runs every (i, j, k)
    exactly once.
    """
    order = np.asarray(order)
    problem = _shape_problem(order)
    if problem:
        return [problem]
    problems = []
    if len(order) != n**3:
        problems.append(
            f"order has {len(order)} rows, but a {n} x {n} x {n} product has {n**3} "
            f"iterations, one per (i, j, k)"
        )
    bad = _out_of_range(order, n)
    if bad.any():
        t = int(np.argmax(bad))
        problems.append(
            f"{int(bad.sum())} rows have an index outside 0..{n - 1}, e.g. row {t} is "
            f"(i, j, k) = {tuple(int(x) for x in order[t])}"
        )
    good = order[~bad].astype(np.int64)
    # One integer per triple, so that counting them is one bincount.
    counts = np.bincount((good[:, 0] * n + good[:, 1]) * n + good[:, 2], minlength=n**3)
    for what, mask in (("never run", counts == 0), ("run more than once", counts > 1)):
        if mask.any():
            code = int(np.argmax(mask))
            i, j, k = code // (n * n), code // n % n, code % n
            times = "" if counts[code] == 0 else f" ({int(counts[code])} times)"
            problems.append(
                f"{int(mask.sum())} of the {n**3} iterations (i, j, k) are {what}, "
                f"e.g. ({i}, {j}, {k}){times}"
            )
    return problems


def addresses(
    order: np.ndarray, layout: Layout, c_mode: str = "register_sum"
) -> tuple[np.ndarray, np.ndarray]:
    """The access stream of ``order`` (int (T, 3), columns i, j, k) over ``layout``.

    Each row reads A[i][k], then B[k][j]. C[i][j]:

    - ``"read_write"`` (``C[i][j] += A[i][k] * B[k][j]``): accessed after A and B in every
      row (the read and the write back hit the same line, so they count as one access);
    - ``"register_sum"`` (the exam's ``sum += A[i][k] * B[k][j]``, then ``C[i][j] = sum``):
      written once at the end of each run of consecutive rows with the same (i, j).

    Returns (addresses int64 (m,), array_ids uint8 (m,)) with ids A=0, B=1, C=2 (``NAMES``).
    """
    if c_mode not in C_MODES:
        raise ValueError(f"c_mode must be one of {C_MODES}, not {c_mode!r}")
    order = np.asarray(order)
    problem = _shape_problem(order)
    if problem:
        raise ValueError(problem)
    if _out_of_range(order, layout.n).any():
        raise ValueError(f"order has indices outside 0..{layout.n - 1}: see check_order")
    i, j, k = (order[:, c].astype(np.int64) for c in range(3))
    # One row of three slots per iteration, A, B, C; the C slots not accessed are dropped.
    rows = np.empty((len(order), 3), dtype=np.int64)
    rows[:, A] = layout.address(A, i, k)
    rows[:, B] = layout.address(B, k, j)
    rows[:, C] = layout.address(C, i, j)
    ids = np.empty(rows.shape, dtype=np.uint8)
    ids[:] = (A, B, C)
    if c_mode == "read_write":
        return rows.ravel(), ids.ravel()
    keep = np.ones(rows.shape, dtype=bool)
    # The sum is stored when the next row moves on to another (i, j), and after the last row.
    keep[:-1, C] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    return rows[keep], ids[keep]


def count_misses(
    order: np.ndarray,
    layout: Layout,
    config: CacheConfig,
    c_mode: str = "register_sum",
    keep_hits: bool = False,
) -> SimResult:
    """Simulate ``order``'s access stream (see ``addresses``) on ``config``: per A, B, C."""
    stream, ids = addresses(order, layout, c_mode)
    return simulate(stream, config, ids, NAMES, keep_hits=keep_hits)
