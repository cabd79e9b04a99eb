"""Lab 2 Part A: the cache simulator and the matmul access streams (CPU only, no GPU)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from labs.lab2_matmul.cachesim import CacheConfig, SimResult, simulate, simulate_slow
from labs.lab2_matmul.loops import (
    NAMES,
    Layout,
    addresses,
    check_order,
    count_misses,
    naive_order,
)
from reference.lab2_matmul.orders import blocked_order

EXAM_CACHE = CacheConfig(size_bytes=4096, line_bytes=64)  # direct-mapped, 64 sets


# The exam ------------------------------------------------------------------------------------


def test_exam_jik_order_misses_on_every_access_to_b() -> None:
    layout = Layout.exam()
    assert layout.bases == (0, 32768, 65536)
    result = count_misses(naive_order(64, "jik"), layout, EXAM_CACHE, "register_sum")
    # B[k][j] over k steps 512 B = 8 lines, so 64 rows share 8 sets: each line is evicted
    # before its next use, and every one of the 64^3 accesses misses.
    assert result.accesses("B") == 64**3 == 262144
    assert result.misses[NAMES.index("B")] == 262144
    assert result.miss_rate("B") == 1.0
    # A's row i is 8 lines in sets 8i..8i+7, reloaded for every (i, j) (rows i and i+8 share
    # sets): 8 misses. While A's line j // 8 is in use, B[k][j] with k = i (mod 8) lands in
    # its set and evicts it, one more miss unless k was the line's last element (i = 7 mod 8):
    # 8 + 7/8 misses per (i, j).
    assert result.misses[NAMES.index("A")] == 64 * 64 * 8 + 64 * 64 * 7 // 8 == 36352
    # C[i][j] is written once per (i, j), into a set A's row i has just refilled.
    assert result.accesses("C") == result.misses[NAMES.index("C")] == 4096


def test_a_column_of_b_uses_only_8_of_the_64_sets() -> None:
    layout = Layout.exam()
    column = layout.address(1, np.arange(64), 5)  # B[k][5], k = 0..63
    sets = EXAM_CACHE.set_index(column)
    assert np.unique(sets).size == 8
    assert np.all(np.diff(sets) % 64 == 8)


@pytest.mark.parametrize(("k0", "j0"), [(0, 0), (16, 24), (56, 56), (8, 40)])
def test_an_8x8_block_of_b_has_no_self_conflict(k0: int, j0: int) -> None:
    layout = Layout.exam()
    k, j = np.meshgrid(np.arange(k0, k0 + 8), np.arange(j0, j0 + 8), indexing="xy")
    block = layout.address(1, k.ravel(), j.ravel())  # column by column, k fastest
    sets = EXAM_CACHE.set_index(layout.address(1, np.arange(k0, k0 + 8), j0))
    assert np.unique(sets).size == 8
    assert np.all(np.diff(sets) % 64 == 8)
    repeats = 50
    result = simulate(np.tile(block, repeats), EXAM_CACHE)
    # One compulsory miss per line (8 rows, each one line), then hits only.
    assert result.misses[0] == 8
    assert result.hits[0] == 64 * repeats - 8


def test_16_rows_of_b_do_conflict() -> None:
    """The contrast: rows k and k + 8 share a set, so a 16-row column walk misses always."""
    layout = Layout.exam()
    column = layout.address(1, np.arange(16), 0)
    result = simulate(np.tile(column, 10), EXAM_CACHE)
    assert result.miss_rate() == 1.0


def test_blocking_by_8_cuts_b_misses_more_than_sixfold() -> None:
    layout = Layout.exam()
    naive = count_misses(naive_order(64, "jik"), layout, EXAM_CACHE)
    blocked = count_misses(blocked_order(64, 8, "jik", "jik"), layout, EXAM_CACHE)
    b = NAMES.index("B")
    # Measured: 40384 of 262144, 15.4%; it decomposes exactly. Each of the 8^3 block triples
    # (j0, i0, k0) loads B's block once: 8 compulsory misses. After each (i, j) the store to
    # C[i][j] lands in the set of B's row k0 + i % 8 and evicts it, and the next (i, j)'s k
    # loop needs that row again: 63 more (all but the block's last store). On the 64 diagonal
    # triples (k0 = j0) A's line of row i shares that set as well: 63 more again.
    assert blocked.misses[b] == 512 * (8 + 63) + 64 * 63 == 40384
    assert 0.125 < blocked.miss_rate("B") < 0.16
    assert naive.misses[b] > 6 * blocked.misses[b]


# The simulators agree ------------------------------------------------------------------------

CONFIGS = [
    CacheConfig(512, 32),  # direct-mapped, 16 sets
    CacheConfig(512, 32, 2, "lru"),
    CacheConfig(512, 32, 2, "fifo"),
    CacheConfig(1024, 64, 4, "lru"),
    CacheConfig(1024, 64, 4, "fifo"),
    CacheConfig(512, 64, 8, "lru"),  # fully associative: one set of 8 ways
    CacheConfig(512, 64, 8, "fifo"),
    CacheConfig(64 * 3 * 2, 64, 2, "lru"),  # 3 sets: not a power of two
]


def _random_stream(seed: int, m: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # A random walk with jumps: enough reuse for hits, enough spread for conflicts.
    steps = rng.choice([-64, -8, 0, 8, 64, 512, 4096], size=m)
    stream = np.abs(np.cumsum(steps)) % 16384
    return stream.astype(np.int64), rng.integers(0, 3, size=m).astype(np.uint8)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_simulator_matches_the_slow_one(config: CacheConfig, seed: int) -> None:
    stream, ids = _random_stream(seed)
    slow = simulate_slow(stream, config, ids, NAMES, keep_hits=True)
    assert 0 < slow.hits.sum() < len(stream)  # the stream must exercise hits and misses
    engines = ["numpy", "numba"] if config.ways == 1 else ["numba"]
    for engine in engines:
        fast = simulate(stream, config, ids, NAMES, keep_hits=True, engine=engine)
        assert fast.hit is not None
        assert np.array_equal(fast.hit, slow.hit), engine
        assert np.array_equal(fast.hits, slow.hits)
        assert np.array_equal(fast.misses, slow.misses)


def test_direct_mapped_numpy_matches_slow_across_chunk_boundaries() -> None:
    stream, _ = _random_stream(7, m=150_000)  # more than one 65536-access chunk
    config = CacheConfig(1024, 16)
    fast = simulate(stream, config, keep_hits=True, engine="numpy")
    slow = simulate_slow(stream, config, keep_hits=True)
    assert np.array_equal(fast.hit, slow.hit)


@pytest.mark.parametrize("order", ["naive", "blocked"])
def test_direct_mapped_numpy_equals_numba_with_one_way(order: str) -> None:
    layout = Layout.exam()
    o = naive_order(64, "jik") if order == "naive" else blocked_order(64, 8)
    stream, ids = addresses(o, layout, "read_write")
    vec = simulate(stream, EXAM_CACHE, ids, NAMES, keep_hits=True, engine="numpy")
    loop = simulate(stream, EXAM_CACHE, ids, NAMES, keep_hits=True, engine="numba")
    assert np.array_equal(vec.hit, loop.hit)
    assert np.array_equal(vec.misses, loop.misses)


def test_lru_and_fifo_differ_where_they_must() -> None:
    # One set of two ways; lines A, B, A, C, A.
    stream = np.array([0, 64, 0, 128, 0])
    config = {p: CacheConfig(128, 64, ways=2, policy=p) for p in ("lru", "fifo")}
    # LRU: miss, miss, hit (A is now the most recent), C evicts B, A hits.
    # FIFO: miss, miss, hit (A stays the oldest), C evicts A, A misses.
    expected = {
        "lru": [False, False, True, False, True],
        "fifo": [False, False, True, False, False],
    }
    for policy, hits in expected.items():
        for run in (simulate, simulate_slow):
            result = run(stream, config[policy], keep_hits=True)
            assert result.hit.tolist() == hits, (policy, run.__name__)
            assert result.hits[0] == sum(hits)
            assert result.misses[0] == 5 - sum(hits)


def test_an_empty_stream_counts_nothing() -> None:
    for config in (EXAM_CACHE, CacheConfig(512, 64, 2)):
        result = simulate(np.array([], dtype=np.int64), config)
        assert result.accesses() == 0
        assert result.miss_rate() == 0.0


# Loop orders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("loop", ["ijk", "ikj", "jik", "jki", "kij", "kji"])
def test_naive_orders_are_the_loop_nests(loop: str) -> None:
    n = 5
    order = naive_order(n, loop)
    assert order.shape == (n**3, 3)
    assert check_order(order, n) == []
    # The innermost loop's variable moves fastest, the outermost slowest.
    col = {v: "ijk".index(v) for v in "ijk"}
    assert order[:n, col[loop[2]]].tolist() == list(range(n))
    assert order[:: n * n, col[loop[0]]].tolist() == list(range(n))
    assert order[0].tolist() == [0, 0, 0]


def test_naive_jik_order_by_hand() -> None:
    assert naive_order(2, "jik").tolist() == [
        [0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1],
        [0, 1, 0], [0, 1, 1], [1, 1, 0], [1, 1, 1],
    ]  # fmt: skip


@pytest.mark.parametrize(("n", "block"), [(16, 8), (20, 8), (7, 3), (5, 1), (4, 4), (3, 8)])
@pytest.mark.parametrize(("block_loop", "inner_loop"), [("jik", "jik"), ("ijk", "kij")])
def test_blocked_orders_cover_everything_once(
    n: int, block: int, block_loop: str, inner_loop: str
) -> None:
    order = blocked_order(n, block, block_loop, inner_loop)
    assert check_order(order, n) == []
    if block >= n:
        assert np.array_equal(order, naive_order(n, inner_loop))


def test_blocked_order_stays_in_a_block_before_moving_on() -> None:
    order = blocked_order(20, 8, "jik", "jik")
    first = order[: 8**3]
    assert first.max() == 7 and first.min() == 0
    # The second block is the next k0 (innermost block loop): k in 8..15, i and j in 0..7.
    second = order[8**3 : 2 * 8**3]
    assert second[:, 2].min() == 8 and second[:, 2].max() == 15
    assert second[:, :2].max() == 7
    # The third is the partial edge block k in 16..19.
    third = order[2 * 8**3 : 2 * 8**3 + 8 * 8 * 4]
    assert set(third[:, 2].tolist()) == {16, 17, 18, 19}


def test_check_order_names_missing_repeated_and_out_of_range_triples() -> None:
    n = 4
    good = naive_order(n, "ijk")
    assert check_order(good, n) == []

    missing = good[1:]
    problems = check_order(missing, n)
    assert any("never run" in p and "(0, 0, 0)" in p for p in problems), problems
    assert any("63 rows" in p for p in problems), problems

    repeated = good.copy()
    repeated[5] = repeated[6]  # (0, 1, 1) is lost, (0, 1, 2) runs twice
    problems = check_order(repeated, n)
    assert any("never run" in p and "(0, 1, 1)" in p for p in problems), problems
    assert any("more than once" in p and "(0, 1, 2) (2 times)" in p for p in problems)

    outside = good.copy()
    outside[10] = (0, 4, 0)
    problems = check_order(outside, n)
    assert any("outside 0..3" in p and "row 10" in p for p in problems), problems

    negative = good.copy()
    negative[3, 2] = -1
    assert any("outside" in p for p in check_order(negative, n))


def test_check_order_rejects_wrong_shapes_and_dtypes() -> None:
    assert "shape (T, 3)" in check_order(np.zeros((8, 2), dtype=int), 2)[0]
    assert "shape (T, 3)" in check_order(np.zeros(24, dtype=int), 2)[0]
    assert "integers" in check_order(naive_order(2).astype(float), 2)[0]


# Address streams -----------------------------------------------------------------------------


def test_addresses_by_hand() -> None:
    layout = Layout(2)  # 2 x 2 doubles: A at 0, B at 32, C at 64
    order = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0]])
    stream, ids = addresses(order, layout, "register_sum")
    # A00 B00 | A01 B10 C00 (the sum for (0, 0) is stored) | A10 B00 C10
    assert stream.tolist() == [0, 32, 8, 48, 64, 16, 32, 80]
    assert ids.tolist() == [0, 1, 0, 1, 2, 0, 1, 2]
    assert stream.dtype == np.int64 and ids.dtype == np.uint8
    stream, ids = addresses(order, layout, "read_write")
    assert stream.tolist() == [0, 32, 64, 8, 48, 64, 16, 32, 80]
    assert ids.tolist() == [0, 1, 2] * 3


def test_register_sum_stores_c_once_per_run_of_i_j() -> None:
    n = 8
    _, ids = addresses(naive_order(n, "jik"), Layout(n), "register_sum")
    assert np.count_nonzero(ids == 2) == n * n  # k innermost: one run per (i, j)
    _, ids = addresses(naive_order(n, "kij"), Layout(n), "register_sum")
    assert np.count_nonzero(ids == 2) == n**3  # j innermost: (i, j) changes every row
    _, ids = addresses(blocked_order(n, 4, "jik", "jik"), Layout(n), "register_sum")
    assert np.count_nonzero(ids == 2) == n * n * 2  # one run per (i, j) per k block


def test_addresses_rejects_bad_orders_and_modes() -> None:
    layout = Layout(4)
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        addresses(np.array([[0, 0, 4]]), layout)
    with pytest.raises(ValueError, match="shape"):
        addresses(np.zeros((3, 2), dtype=int), layout)
    with pytest.raises(ValueError, match="c_mode"):
        addresses(naive_order(4), layout, "write_back")
    with pytest.raises(ValueError, match="permutation"):
        naive_order(4, "iij")
    with pytest.raises(ValueError, match="overlap"):
        Layout(4, bases=(0, 64, 256))


# Configs and results -------------------------------------------------------------------------


def test_config_geometry() -> None:
    assert (EXAM_CACHE.sets, EXAM_CACHE.lines) == (64, 64)
    assert CacheConfig(32768, 64, 8).sets == 64
    assert CacheConfig(4096, 64, 64).sets == 1  # fully associative


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size_bytes": 4096, "line_bytes": 48}, "power of two"),
        ({"size_bytes": 4096, "line_bytes": 0}, "power of two"),
        ({"size_bytes": 1000, "line_bytes": 64}, "multiple of"),
        ({"size_bytes": 4096, "line_bytes": 64, "ways": 3}, "multiple of"),
        ({"size_bytes": 0, "line_bytes": 64}, "positive multiple"),
        ({"size_bytes": 4096, "line_bytes": 64, "ways": 0}, "at least 1"),
        ({"size_bytes": 4096, "line_bytes": 64, "ways": 2, "policy": "random"}, "policy"),
        ({"size_bytes": 4096.0, "line_bytes": 64}, "integer"),
    ],
)
def test_bad_configs_say_what_is_wrong(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CacheConfig(**kwargs)


def test_bad_streams_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="array_ids must lie in"):
        simulate(np.array([0, 8]), EXAM_CACHE, np.array([0, 3]), NAMES)
    with pytest.raises(ValueError, match="shaped like addresses"):
        simulate(np.array([0, 8]), EXAM_CACHE, np.array([0]), NAMES)
    with pytest.raises(ValueError, match="non-negative"):
        simulate(np.array([-8]), EXAM_CACHE)
    with pytest.raises(ValueError, match="1-D integer"):
        simulate(np.array([0.5]), EXAM_CACHE)
    with pytest.raises(ValueError, match="ways=1"):
        simulate(np.array([0]), CacheConfig(4096, 64, 2), engine="numpy")


def test_result_helpers() -> None:
    result = SimResult(hits=np.array([3, 0, 1]), misses=np.array([1, 4, 0]), names=("A", "B", "C"))
    assert result.accesses("A") == 4 and result.accesses() == 9
    assert result.miss_rate("B") == 1.0 and result.miss_rate("C") == 0.0
    assert result.miss_rate() == 5 / 9
    d = json.loads(json.dumps(result.as_dict()))
    assert d["arrays"]["A"] == {"accesses": 4, "hits": 3, "misses": 1, "miss_rate": 0.25}
    assert d["total"]["misses"] == 5
    table = str(result)
    assert "B" in table and "100.0%" in table and "total" in table
    with pytest.raises(KeyError, match="no array called 'D'"):
        result.miss_rate("D")


# Speed ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_256_cubed_stream_simulates_in_seconds() -> None:
    n = 256
    stream, ids = addresses(naive_order(n, "jik"), Layout(n), "read_write")
    assert stream.size == 3 * n**3  # about 50 million accesses
    lru8 = CacheConfig(32768, 64, 8, "lru")
    simulate(stream[:1000], lru8)  # compile (or load numba's cache) outside the clock
    for config in (CacheConfig(32768, 64), lru8):
        start = time.perf_counter()
        result = simulate(stream, config, ids, NAMES)
        seconds = time.perf_counter() - start
        assert seconds < 5.0, f"{config}: {seconds:.1f} s"
        # B's column walk over k touches 256 lines, more than any of these caches can keep.
        assert result.miss_rate("B") == 1.0
