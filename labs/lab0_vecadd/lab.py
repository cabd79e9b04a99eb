"""Lab 0, the warm-up: SAXPY (``out = a * x + y``) as a numba.cuda kernel.

Napkin math: one element reads x and y and writes out, 12 bytes, for 2 FLOPs: 1/6 FLOP per
byte, so SAXPY is bound by memory bandwidth on every GPU. Its floor is ``12 n / bandwidth``,
with the bandwidth measured in the same run by a device-to-device copy.
"""

from __future__ import annotations

import numpy as np

from grader.spec import Benchmark, Case, KernelTask, Lab, Params, RubricItem, SpeedRule


def make_inputs(params: Params, rng: np.random.Generator) -> dict[str, np.ndarray | np.float32]:
    """``a``: float32 scalar; ``x``, ``y``: float32 vectors of length ``params["n"]``.

    ``dist`` picks the values: "normal"; "uniform" (in [-1, 1), for the benchmarks: at 2^27
    elements 0.29 s to make against 2.3 s for "normal" on the 2-core build machine, and timing
    does not depend on values);
    "spike" (uniform in [-1, 1] with one element at 1e4, which catches code that samples or
    averages); "negative" (uniform in [-100, -1]).
    """
    n = int(params["n"])
    dist = params.get("dist", "normal")
    a = np.float32(rng.uniform(-3.0, 3.0))
    if dist == "normal":
        x = rng.standard_normal(n, dtype=np.float32)
        y = rng.standard_normal(n, dtype=np.float32)
    elif dist == "uniform":
        x = rng.random(n, dtype=np.float32)
        y = rng.random(n, dtype=np.float32)
        for v in (x, y):  # in place: no float64 copy of a 2^27-element array
            v *= 2
            v -= 1
    elif dist == "spike":
        x = rng.uniform(-1.0, 1.0, n).astype(np.float32)
        y = rng.uniform(-1.0, 1.0, n).astype(np.float32)
        x[rng.integers(n)] = 1e4
    elif dist == "negative":
        x = rng.uniform(-100.0, -1.0, n).astype(np.float32)
        y = rng.uniform(-100.0, -1.0, n).astype(np.float32)
    else:
        raise ValueError(f"unknown dist {dist!r}")
    return {"a": a, "x": x, "y": y}


def reference(inputs: dict) -> np.ndarray:
    """The exact answer in float64."""
    return np.float64(inputs["a"]) * inputs["x"].astype(np.float64) + inputs["y"]


def tolerance_scale(inputs: dict) -> np.ndarray:
    """Rounding in float32 is relative to the terms, not to a result that may cancel to ~0."""
    return np.abs(np.float64(inputs["a"]) * inputs["x"]) + np.abs(inputs["y"])


SAXPY = KernelTask(
    name="saxpy",
    title="SAXPY kernel",
    entry="saxpy",
    arg_names=("a", "x", "y"),
    array_module="numba",
    make_inputs=make_inputs,
    reference=reference,
    tolerance_scale=tolerance_scale,
    output_dtype="float32",
    output_shape=lambda p: (int(p["n"]),),
    # Sizes are not multiples of any block size; one is a single element.
    cases=(
        Case("n=1", {"n": 1}, seed=1),
        Case("n=127", {"n": 127}, seed=2),
        Case("n=129 spike", {"n": 129, "dist": "spike"}, seed=3),
        Case("n=1000 negative", {"n": 1000, "dist": "negative"}, seed=4),
        Case("n=65537", {"n": 65537}, seed=5),
        Case("n=1048579 spike", {"n": (1 << 20) + 3, "dist": "spike"}, seed=6),
        Case("n=10000019", {"n": 10_000_019}, seed=7),
    ),
    # The simulator runs each CUDA thread as a Python thread: small sizes only.
    sim_cases=(
        Case("n=1", {"n": 1}, seed=1),
        Case("n=127", {"n": 127}, seed=2),
        Case("n=129 spike", {"n": 129, "dist": "spike"}, seed=3),
        Case("n=1000 negative", {"n": 1000, "dist": "negative"}, seed=4),
        Case("n=2053", {"n": 2053}, seed=5),
    ),
    # 403 MB, 805 MB and 1.6 GB moved per call: 100 us to 1 ms on an H100 or H200, long enough
    # that a numba launch's ~33 us of host overhead (measured on an H200) hides behind the work.
    benchmarks=(
        Benchmark("n=2^25+3", {"n": (1 << 25) + 3, "dist": "uniform"}, seed=102),
        Benchmark("n=2^26+3", {"n": (1 << 26) + 3, "dist": "uniform"}, seed=103),
        Benchmark("n=2^27+3", {"n": (1 << 27) + 3, "dist": "uniform"}, seed=104),
    ),
    traffic_bytes=lambda p: 12 * int(p["n"]),
    flops=lambda p: 2 * int(p["n"]),
    forbidden={
        "cupy": "CuPy computes a*x+y for you; this lab asks for your own kernel",
        "torch": "torch computes a*x+y for you; this lab asks for your own kernel",
        "copy_to_host": "the work must happen on the GPU, not on the host",
    },
)

LAB = Lab(
    name="lab0",
    slug="lab0_vecadd",
    title="Warm-up: SAXPY on the GPU",
    tasks=(SAXPY,),
    rubric=(
        RubricItem(
            "saxpy",
            "correctness",
            60,
            description="every case correct: sizes 1 to 10^7, none a multiple of the block",
        ),
        RubricItem(
            "saxpy",
            "speed",
            40,
            speed=SpeedRule(zero_at=0.25, full_at=0.9),
            description="speed against the reference kernel, timed cold in the same run",
        ),
    ),
    timeout_s=60.0,
    sim_timeout_s=60.0,
)
