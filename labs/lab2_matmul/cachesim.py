"""A one-level CPU data-cache simulator: which accesses of an address stream hit.

The cache is ``sets`` sets of ``ways`` lines each; a byte address ``a`` lives in line
``a // line_bytes``, and that line may only sit in set ``line % sets``. ``ways == 1`` is a
direct-mapped cache, ``ways == lines`` a fully associative one.

Writes are treated exactly like reads (write-allocate, and the cost of writing back a dirty
line is not counted): a stream is just the addresses touched, in program order.

Three simulators give the same answer:

- ``simulate_slow``: a few lines of plain Python, to read (and to test the others against);
- the direct-mapped path of ``simulate``: vectorised numpy;
- the set-associative path of ``simulate``: a compiled numba loop (CPU only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

POLICIES = ("lru", "fifo")


@dataclass(frozen=True)
class CacheConfig:
    """The cache's geometry and replacement policy.

    ``policy`` picks the victim when a set is full: ``"lru"`` evicts the line used longest
    ago, ``"fifo"`` the line brought in longest ago (a hit does not make a line younger).
    With ``ways == 1`` there is no choice to make and the policy is irrelevant.
    """

    size_bytes: int
    line_bytes: int
    ways: int = 1
    policy: str = "lru"

    def __post_init__(self) -> None:
        for field in ("size_bytes", "line_bytes", "ways"):
            value = getattr(self, field)
            # bool is an int subclass; CacheConfig(True, ...) is a mistake, not a 1-byte cache.
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"{field} must be an integer, not {value!r}")
        if self.line_bytes < 1 or self.line_bytes & (self.line_bytes - 1):
            raise ValueError(
                f"line_bytes must be a power of two (16, 32, 64, ...), not {self.line_bytes}"
            )
        if self.ways < 1:
            raise ValueError(f"ways must be at least 1 (1 is direct-mapped), not {self.ways}")
        if self.size_bytes < 1 or self.size_bytes % (self.line_bytes * self.ways):
            raise ValueError(
                f"size_bytes ({self.size_bytes}) must be a positive multiple of "
                f"line_bytes * ways = {self.line_bytes} * {self.ways} = "
                f"{self.line_bytes * self.ways}, so that every set has the same number of ways"
            )
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, not {self.policy!r}")

    @property
    def lines(self) -> int:
        """How many lines the cache holds."""
        return self.size_bytes // self.line_bytes

    @property
    def sets(self) -> int:
        """How many sets: lines / ways (1 for a fully associative cache)."""
        return self.lines // self.ways

    def line_of(self, addresses: np.ndarray) -> np.ndarray:
        """The line number of each byte address: int64, same shape as ``addresses``."""
        return np.asarray(addresses, dtype=np.int64) // self.line_bytes

    def set_index(self, addresses: np.ndarray) -> np.ndarray:
        """The set each byte address maps to: int64 in [0, sets), same shape."""
        return self.line_of(addresses) % self.sets

    def __str__(self) -> str:
        kind = (
            "direct-mapped"
            if self.ways == 1
            else "fully associative"
            if self.sets == 1
            else f"{self.ways}-way"
        )
        policy = "" if self.ways == 1 else f" {self.policy.upper()}"
        sets = f"{self.sets} set" + ("s" if self.sets != 1 else "")
        return f"{self.size_bytes} B {kind}{policy}, {self.line_bytes} B lines, {sets}"


@dataclass
class SimResult:
    """What a simulation counted.

    hits, misses: int64 (len(names),), one entry per array id.
    names: the arrays' names, indexed by array id.
    hit: bool (m,), whether each access hit, or None unless asked for (``keep_hits``).
    """

    hits: np.ndarray
    misses: np.ndarray
    names: tuple[str, ...]
    hit: np.ndarray | None = None

    def _counts(self, name: str | None) -> tuple[int, int]:
        """(hits, misses) of array ``name``, or of all arrays when None."""
        if name is None:
            return int(self.hits.sum()), int(self.misses.sum())
        if name not in self.names:
            raise KeyError(f"no array called {name!r}; the arrays are {self.names}")
        i = self.names.index(name)
        return int(self.hits[i]), int(self.misses[i])

    def accesses(self, name: str | None = None) -> int:
        """How many accesses array ``name`` made (all arrays when None)."""
        return sum(self._counts(name))

    def miss_rate(self, name: str | None = None) -> float:
        """Misses / accesses for array ``name`` (all arrays when None); 0.0 with no access."""
        hits, misses = self._counts(name)
        return misses / (hits + misses) if hits + misses else 0.0

    def as_dict(self) -> dict[str, dict]:
        """JSON-able counts: ``{"arrays": {name: entry}, "total": entry}``, each entry a dict
        of accesses, hits, misses (int) and miss_rate (float)."""

        def entry(name: str | None) -> dict[str, int | float]:
            hits, misses = self._counts(name)
            return {
                "accesses": hits + misses,
                "hits": hits,
                "misses": misses,
                "miss_rate": self.miss_rate(name),
            }

        return {"arrays": {name: entry(name) for name in self.names}, "total": entry(None)}

    def __str__(self) -> str:
        """A table: one row per array (and a total row when there are several)."""
        keys: list[str | None] = [*self.names, None] if len(self.names) > 1 else [*self.names]
        labels = [name or "total" for name in keys]
        width = max(5, *(len(label) for label in labels))
        lines = [f"{'array':<{width}} {'accesses':>12} {'hits':>12} {'misses':>12} miss rate"]
        for key, label in zip(keys, labels, strict=True):
            hits, misses = self._counts(key)
            lines.append(
                f"{label:<{width}} {hits + misses:>12,} {hits:>12,} {misses:>12,} "
                f"{self.miss_rate(key):>9.1%}"
            )
        return "\n".join(lines)


def _hits_direct_numpy(lines: np.ndarray, sets: int, chunk: int = 1 << 16) -> np.ndarray:
    """Direct-mapped hits, vectorised: bool (m,) for int64 line numbers (m,).

    A set holds one line, so an access hits exactly when the previous access to the same
    set was to the same line. A stable sort by set lines up each set's accesses in program
    order, and comparing each with its neighbour answers every access at once.

    The stream goes through in chunks of ``chunk`` accesses, carrying the line each set holds
    from one chunk to the next: a chunk's sort and gathers stay inside the CPU's own caches,
    which makes this several times faster than sorting the whole stream at once.
    """
    hit = np.empty(lines.shape, dtype=bool)
    held = np.full(sets, -1, dtype=np.int64)  # the line in each set (-1: empty)
    key_type = np.min_scalar_type(sets - 1)  # small keys: numpy's stable sort is a radix sort
    for lo in range(0, lines.size, chunk):
        part = lines[lo : lo + chunk]
        perm = np.argsort((part % sets).astype(key_type), kind="stable")
        ordered = part[perm]
        set_ = ordered % sets
        # first[p]: ordered[p] is its set's first access in this chunk; last[p]: its last.
        first = np.ones(ordered.shape, dtype=bool)
        first[1:] = set_[1:] != set_[:-1]
        last = np.ones(ordered.shape, dtype=bool)
        last[:-1] = first[1:]
        previous = np.empty_like(ordered)  # the line in this access's set just before it
        previous[1:] = ordered[:-1]
        previous[first] = held[set_[first]]
        hit[lo + perm] = ordered == previous
        held[set_[last]] = ordered[last]
    return hit


@numba.njit(cache=True, nogil=True)
def _hits_assoc_numba(lines: np.ndarray, sets: int, ways: int, lru: bool) -> np.ndarray:
    """Set-associative hits, one access at a time: bool (m,) for int64 lines (m,).

    Each way remembers its line (-1: empty) and a time stamp: the last use (LRU) or the
    arrival (FIFO). The victim is the way with the smallest stamp; empty ways have stamp
    -1, so they fill first.
    """
    tags = np.full((sets, ways), -1, dtype=np.int64)
    stamps = np.full((sets, ways), -1, dtype=np.int64)
    hit = np.zeros(lines.shape[0], dtype=np.bool_)
    for t in range(lines.shape[0]):
        line = lines[t]
        s = line % sets
        victim = 0
        found = False
        for w in range(ways):
            if tags[s, w] == line:
                found = True
                if lru:
                    stamps[s, w] = t
                break
            if stamps[s, w] < stamps[s, victim]:
                victim = w
        if found:
            hit[t] = True
        else:
            # The loop above stopped early only on a hit, so victim saw every way.
            tags[s, victim] = line
            stamps[s, victim] = t
    return hit


def _check_stream(
    addresses: np.ndarray, array_ids: np.ndarray | None, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The stream as int64 addresses (m,) and intp array ids (m,), or a ValueError."""
    addresses = np.asarray(addresses)
    if addresses.ndim != 1 or (addresses.size and addresses.dtype.kind not in "iu"):
        raise ValueError(
            f"addresses must be a 1-D integer array, not {addresses.dtype} {addresses.shape}"
        )
    addresses = addresses.astype(np.int64, copy=False)
    if addresses.size and addresses.min() < 0:
        raise ValueError("addresses must be non-negative byte addresses")
    if array_ids is None:
        ids = np.zeros(addresses.shape, dtype=np.intp)
    else:
        array_ids = np.asarray(array_ids)
        if array_ids.shape != addresses.shape or (
            array_ids.size and array_ids.dtype.kind not in "iu"
        ):
            raise ValueError(
                f"array_ids must be integers shaped like addresses {addresses.shape}, "
                f"not {array_ids.dtype} {array_ids.shape}"
            )
        ids = array_ids.astype(np.intp, copy=False)
        if ids.size and (ids.min() < 0 or ids.max() >= len(names)):
            raise ValueError(
                f"array_ids must lie in [0, {len(names)}) to index names={names}, "
                f"but they span [{ids.min()}, {ids.max()}]"
            )
    return addresses, ids


def _result(hit: np.ndarray, ids: np.ndarray, names: tuple[str, ...], keep: bool) -> SimResult:
    n = len(names)
    accesses = np.bincount(ids, minlength=n).astype(np.int64)
    hits = np.bincount(ids[hit], minlength=n).astype(np.int64)
    return SimResult(hits=hits, misses=accesses - hits, names=names, hit=hit if keep else None)


def simulate(
    addresses: np.ndarray,
    config: CacheConfig,
    array_ids: np.ndarray | None = None,
    names: tuple[str, ...] = ("all",),
    keep_hits: bool = False,
    engine: str = "auto",
) -> SimResult:
    """Run an address stream through an initially empty cache.

    addresses: int (m,), byte addresses in program order (reads and writes alike: the cache
        is write-allocate, and write-backs are not counted).
    array_ids: int8/uint8 (m,), which array each access belongs to (an index into
        ``names``); None counts every access under ``names[0]``.
    keep_hits: keep the bool (m,) hit/miss of every access in ``result.hit``.
    engine: ``"auto"``; or ``"numpy"`` (the vectorised direct-mapped path, ways == 1 only)
        or ``"numba"`` (the compiled loop), to compare the two.
    """
    addresses, ids = _check_stream(addresses, array_ids, tuple(names))
    if engine == "auto":
        engine = "numpy" if config.ways == 1 else "numba"
    lines = config.line_of(addresses)
    if engine == "numpy":
        if config.ways != 1:
            raise ValueError("engine='numpy' simulates direct-mapped caches (ways=1) only")
        hit = _hits_direct_numpy(lines, config.sets)
    elif engine == "numba":
        hit = _hits_assoc_numba(lines, config.sets, config.ways, config.policy == "lru")
    else:
        raise ValueError(f"engine must be 'auto', 'numpy' or 'numba', not {engine!r}")
    return _result(hit, ids, tuple(names), keep_hits)


def simulate_slow(
    addresses: np.ndarray,
    config: CacheConfig,
    array_ids: np.ndarray | None = None,
    names: tuple[str, ...] = ("all",),
    keep_hits: bool = False,
) -> SimResult:
    """``simulate``, written to be read: plain Python, one access at a time (small streams).

    Each set is a list of line numbers, the next victim first. A miss in a full set evicts
    the first line; the new line goes last. Under LRU a hit also moves its line last (it is
    now the most recently used); under FIFO a hit changes nothing.
    """
    addresses, ids = _check_stream(addresses, array_ids, tuple(names))
    cache: list[list[int]] = [[] for _ in range(config.sets)]
    hit = np.zeros(addresses.shape, dtype=bool)
    for t, address in enumerate(addresses.tolist()):
        line = address // config.line_bytes
        ways = cache[line % config.sets]
        if line in ways:
            hit[t] = True
            if config.policy == "lru":
                ways.remove(line)
                ways.append(line)
        else:
            if len(ways) == config.ways:
                ways.pop(0)
            ways.append(line)
    return _result(hit, ids, tuple(names), keep_hits)
