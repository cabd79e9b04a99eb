"""Lab 1, streams and events: a chunked copy-in -> kernel -> copy-out pipeline over N streams.

Napkin math (H200, measured in docs/gpu-runs.md): 2^26 float32 is 268 MB each way; pinned
copies run at ~53 GB/s (H2D) and ~55 GB/s (D2H), 5.1 ms each; ``work=256`` makes the kernel
take about as long. With 16 chunks on 4 streams and all three engines busy at once: one stage
plus one chunk's fill and drain, ~5.9 ms.

Why 2^26 and not 2^25: issuing one chunk (copy in, wait, launch, copy out) costs numba 150 to
330 us of host time, depending on the process. At 2^25 a 16-chunk stage is only ~160 us, so the
host, not the engines, set the pace: the reference solution ran 1.27x its trace's lower bound.
At 2^26 (~320 us a stage) it ran 1.10x (H200, reference/lab1_streams/probe_chunking.py,
docs/gpu-runs.md 2026-11-22).
"""

from __future__ import annotations

import numpy as np

from grader.spec import Benchmark, Case, Lab, Params, PipelineTask, RubricItem
from labs.lab1_streams.maths import error_scale, reference


def make_inputs(params: Params, rng: np.random.Generator) -> dict:
    """``x``: float32 (n,), standard normal; ``gain``: float32 in [0.5, 1.5)."""
    n = int(params["n"])
    return {
        "x": rng.standard_normal(n, dtype=np.float32),
        "gain": np.float32(rng.uniform(0.5, 1.5)),
    }


def expected(inputs: dict, params: Params) -> np.ndarray:
    return reference(inputs["x"], float(inputs["gain"]), int(params["work"]))


def scale(inputs: dict, params: Params) -> np.ndarray:
    return error_scale(inputs["x"], float(inputs["gain"]), int(params["work"]))


def _case(name: str, n: int, chunks: int, streams: int, seed: int, work: int = 16) -> Case:
    return Case(name, {"n": n, "chunks": chunks, "streams": streams, "work": work}, seed)


PIPELINE = PipelineTask(
    name="pipeline",
    title="Copy/compute overlap with streams",
    make_inputs=make_inputs,
    reference=expected,
    tolerance_scale=scale,
    setup_args=("n", "chunks", "streams", "work"),
    # Sizes that do not divide into the chunks; more streams than chunks; one element.
    cases=(
        _case("n=1, 1 chunk, 1 stream", 1, 1, 1, seed=1),
        _case("n=1000, 7 chunks, 3 streams", 1000, 7, 3, seed=2),
        _case("n=1003, 16 chunks, 4 streams", 1003, 16, 4, seed=3),
        _case("n=257, 3 chunks, 8 streams", 257, 3, 8, seed=4),
        _case("n=1000003, 16 chunks, 4 streams", 1_000_003, 16, 4, seed=5, work=64),
        _case("n=4194309, 9 chunks, 2 streams", 4_194_309, 9, 2, seed=6, work=256),
    ),
    sim_cases=(
        _case("n=1, 1 chunk, 1 stream", 1, 1, 1, seed=1),
        _case("n=1000, 7 chunks, 3 streams", 1000, 7, 3, seed=2),
        _case("n=1003, 16 chunks, 4 streams", 1003, 16, 4, seed=3),
        _case("n=257, 3 chunks, 8 streams", 257, 3, 8, seed=4),
    ),
    benchmarks=(
        Benchmark(
            "n=2^26, 16 chunks, 4 streams",
            {"n": 1 << 26, "chunks": 16, "streams": 4, "work": 256},
            seed=101,
        ),
    ),
    scalar_args=("gain",),
    baseline="serial.py",
    stress_hook="labs.lab1_streams.kernels:set_table_delay",
    stress_subject="prepare_table",
    forbidden={
        "cupy": "this lab is about numba's streams, events and copies: keep to numba.cuda",
        "torch": "this lab is about numba's streams, events and copies: keep to numba.cuda",
        # The grader's side of the lab: the host model of what the kernels compute (maths.py)
        # and the spec that holds it (lab.py). A pipeline computes its output on the GPU.
        "maths": "labs/lab1_streams/maths.py is the grader's host model of the output: the "
        "pipeline must compute it on the GPU with the lab's kernels",
        "host_table": "the table is made on the GPU by prepare_table: launch it",
        "lab": "labs/lab1_streams/lab.py is the grader's spec of the lab, not part of the "
        "pipeline: use labs.lab1_streams.kernels",
    },
    hints={
        "race": (
            "Every kernel that reads the table must wait for the event recorded after "
            "prepare_table on the table's stream: `table_ready.wait(stream)` "
            "(cudaStreamWaitEvent) before the chunk's kernel. The grader made prepare_table "
            "slow and the kernels read stale coefficients."
        ),
    },
)

LAB = Lab(
    name="lab1",
    slug="lab1_streams",
    title="Streams and events: overlap copies with compute",
    tasks=(PIPELINE,),
    rubric=(
        RubricItem(
            "pipeline",
            "correctness",
            40,
            description="every case right, including a call with prepare_table made slow",
        ),
        RubricItem(
            "pipeline",
            "speedup",
            25,
            description="time against the serial baseline, both timed across all streams",
        ),
        RubricItem(
            "pipeline",
            "overlap",
            20,
            description="engines busy at once in the CUPTI trace, against the reference",
        ),
        RubricItem(
            "pipeline",
            "sync",
            10,
            description="no host synchronisation before the last piece of work is issued",
        ),
        RubricItem(
            "pipeline",
            "event_timing",
            5,
            description="the milliseconds run returns agree with the grader's within 10%",
        ),
    ),
    timeout_s=60.0,
    sim_timeout_s=120.0,
    time_timeout_s=300.0,
    profile="grader.profile_trace",
    profile_nsys=True,
)
