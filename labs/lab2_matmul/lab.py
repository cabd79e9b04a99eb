"""Lab 2, cache-blocked matmul: a loop order scored by a CPU cache simulator (part A), then a
shared-memory tiled fp32 matmul on the GPU, timed against cuBLAS in the same run (part B).

Napkin math, part B (H200, docs/gpu-runs.md): 4096^3 is 137 GFLOP; cuBLAS fp32 runs it near
50 TFLOP/s. The three matrices are 201 MB, 50 us at the device's ~4 TB/s, so the kernel is
compute bound once tiles give every loaded float enough reuse.
"""

from __future__ import annotations

import numpy as np

from grader.spec import (
    Benchmark,
    CacheTask,
    Case,
    KernelTask,
    Lab,
    Params,
    RubricItem,
    SpeedRule,
    Tolerance,
)
from labs.lab2_matmul import maths, tolerance
from labs.lab2_matmul.cachesim import CacheConfig
from labs.lab2_matmul.loops import Layout, check_order, count_misses, naive_order

# -- part A: the loop order ------------------------------------------------------------------

# The reference blocking: blocks in i-k-j order, and i-k-j inside a block, so the innermost
# loop walks a row of B and of C (consecutive addresses). The unblocked j-i-k order is the
# exam's: it scores 0.
REFERENCE_LOOPS = ("ikj", "ikj")
BASELINE_LOOP = "jik"
C_MODE = "read_write"  # a blocked loop accumulates into C[i][j]: read and written every step


def _layout(params: Params) -> Layout:
    if params["layout"] == "exam":
        return Layout.exam()
    return Layout(int(params["n"]), int(params["elem_bytes"]))


def _config(params: Params) -> CacheConfig:
    return CacheConfig(
        int(params["size_bytes"]), int(params["line_bytes"]), int(params["ways"]), params["policy"]
    )


def count(order: np.ndarray, params: Params) -> dict[str, int]:
    """Misses per array (A, B, C) of ``order`` on the case's cache."""
    result = count_misses(order, _layout(params), _config(params), C_MODE)
    return {name: int(m) for name, m in zip(result.names, result.misses, strict=True)}


def describe(params: Params) -> str:
    layout = "each array starting in set 0" if params["layout"] == "exam" else "packed"
    return (
        f"{_config(params)}; {params['n']}x{params['n']} doubles, {layout}; block {params['block']}"
    )


def reference_order(params: Params) -> np.ndarray:
    """The reference blocking's order: computed in the grader's process only. The blocked order
    is part A's answer, so it lives in reference/ (hidden from a submission's process)."""
    from reference.lab2_matmul.orders import blocked_order

    return blocked_order(int(params["n"]), int(params["block"]), *REFERENCE_LOOPS)


def _cache_case(name: str, n: int, block: int, size: int, ways: int, layout: str) -> Case:
    params = {
        "n": n,
        "block": block,
        "size_bytes": size,
        "line_bytes": 64,
        "ways": ways,
        "policy": "lru",
        "elem_bytes": 8,
        "layout": layout,
    }
    return Case(name, params, seed=0)


BLOCKING = CacheTask(
    name="blocking",
    title="A blocked loop order, scored by the cache simulator",
    entry="blocked_order",
    arg_names=("n", "block"),
    cases=(
        _cache_case("the exam: n=64, 4 KiB direct-mapped", 64, 8, 4096, 1, "exam"),
        _cache_case("n=64, 4 KiB 2-way LRU", 64, 8, 4096, 2, "exam"),
        _cache_case("n=100 (partial blocks), 4 KiB direct-mapped", 100, 8, 4096, 1, "packed"),
        _cache_case("n=96, block 16, 8 KiB 4-way LRU", 96, 16, 8192, 4, "packed"),
    ),
    reference=reference_order,
    baseline=lambda p: naive_order(int(p["n"]), BASELINE_LOOP),
    validate=lambda order, p: check_order(order, int(p["n"])),
    count=count,
    describe=describe,
    max_rows=lambda p: int(p["n"]) ** 3,
    forbidden={
        # The spec holds the reference blocking (reference_order): the order is yours to write.
        "lab": "labs/lab2_matmul/lab.py is the grader's spec of the lab and holds its reference "
        "blocking: write the loop nest yourself (loops.py has the tools to try it)",
    },
)

# -- part B: the GPU kernel ------------------------------------------------------------------


def make_inputs(params: Params, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``a`` float32 (m, k) and ``b`` float32 (k, n), standard normal."""
    a, b = maths.make_matrices(int(params["m"]), int(params["n"]), int(params["k"]), rng)
    return {"a": a, "b": b}


def _shape(name: str, m: int, n: int, k: int, seed: int) -> Case:
    return Case(name, {"m": m, "n": n, "k": k}, seed=seed)


MATMUL = KernelTask(
    name="matmul",
    title="Shared-memory tiled matmul (fp32)",
    entry="matmul",
    arg_names=("a", "b"),
    array_module="numba",
    make_inputs=make_inputs,
    reference=lambda inputs: tolerance.reference_matmul(inputs["a"], inputs["b"]),
    # The scale is the whole bound (K roundings of |A| @ |B|, see tolerance.py): rtol 1.
    tolerance=Tolerance(rtol=1.0, atol=0.0),
    tolerance_scale=lambda inputs: tolerance.matmul_tolerance(inputs["a"], inputs["b"]),
    output_dtype="float32",
    output_shape=lambda p: (int(p["m"]), int(p["n"])),
    # None of these is a multiple of a tile but one; vectors and a single element too.
    cases=(
        _shape("1x1x1", 1, 1, 1, seed=1),
        _shape("17x19x23", 17, 19, 23, seed=2),
        _shape("127x131x77", 127, 131, 77, seed=3),
        _shape("257x63x129", 257, 63, 129, seed=4),
        _shape("1x777x300 (one row)", 1, 777, 300, seed=5),
        _shape("513x1x1000 (one column)", 513, 1, 1000, seed=6),
        _shape("64x64x64 (tile multiples)", 64, 64, 64, seed=7),
        _shape("1000x1001x999", 1000, 1001, 999, seed=8),
    ),
    # The simulator runs each CUDA thread as a Python thread: small shapes only.
    sim_cases=(
        _shape("1x1x1", 1, 1, 1, seed=1),
        _shape("5x7x3", 5, 7, 3, seed=2),
        _shape("17x19x23", 17, 19, 23, seed=3),
        _shape("33x35x37", 33, 35, 37, seed=4),
    ),
    benchmarks=(
        Benchmark("4096x4096x4096", {"m": 4096, "n": 4096, "k": 4096}, seed=201),
        Benchmark("1023x1025x1027", {"m": 1023, "n": 1025, "k": 1027}, seed=202),
    ),
    input_sets=2,  # the reference's process makes a float64 product on the CPU per set
    flops=lambda p: 2 * int(p["m"]) * int(p["n"]) * int(p["k"]),
    # Each matrix read once and C written once: the least any kernel must move.
    traffic_bytes=lambda p: (
        4 * (int(p["m"]) * int(p["k"]) + int(p["k"]) * int(p["n"]) + int(p["m"]) * int(p["n"]))
    ),
    ceiling="reference.lab2_matmul.cublas:matmul",
    ceiling_name="cuBLAS",
    forbidden={
        "cupy": "CuPy's matmul is cuBLAS; this lab asks for your own kernel",
        "torch": "torch.matmul is cuBLAS; this lab asks for your own kernel",
        "cublas": "this lab asks for your own kernel, not a library's",
        "scipy": "the work must happen in your kernel",
        "copy_to_host": "the work must happen on the GPU, not on the host",
    },
)

LAB = Lab(
    name="lab2",
    slug="lab2_matmul",
    title="Cache-blocked matmul: a cache simulator, then a tiled GPU kernel",
    tasks=(BLOCKING, MATMUL),
    rubric=(
        RubricItem(
            "blocking",
            "correctness",
            15,
            description="the order visits every (i, j, k) exactly once, partial blocks included",
        ),
        RubricItem(
            "blocking",
            "misses",
            20,
            description=(
                "simulated misses on four caches: full at up to 1.1x the reference blocking's, "
                "0 at the unblocked j-i-k order's, linear between, averaged over the caches"
            ),
        ),
        RubricItem(
            "matmul",
            "correctness",
            35,
            description="every shape right (odd sizes, one row, one column), two seeds each",
        ),
        RubricItem(
            "matmul",
            "speed",
            30,
            # On the H200 (docs/gpu-runs.md): numba naive 1.0% and coalesced 2.6% of cuBLAS at
            # 4096^3; the reference's 32x32 tiles 15.3% there and 26.8% at 1023x1025x1027.
            speed=SpeedRule(zero_at=0.03, full_at=0.15, of="ceiling"),
            description="share of cuBLAS's speed, both timed in the same run",
        ),
    ),
    timeout_s=120.0,
    sim_timeout_s=300.0,
    time_timeout_s=400.0,
    profile="labs.lab2_matmul.profile",
)
