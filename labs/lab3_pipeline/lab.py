"""Lab 3, TMA-style pipelining: the ring protocol on the CPU (part A), a pipelined streaming
kernel in CUDA C on the GPU (part B), and short answers (part C).

Napkin math, part B (measured on the lent H200, 2026-12-01; the handout has the details): one
block per SM on 132 SMs, a device-to-device copy at ~4.2 TB/s (read + written) is ~31.8 B/ns
per SM. With 348 ns of idle DRAM latency that is ~11 KiB in flight per SM; under load the
latency the stages must cover is several times longer, so bandwidth saturates only at ~24-32
KiB in flight: 6 to 8 stages of 4 KiB.
"""

from __future__ import annotations

from grader.spec import (
    AnswersTask,
    Benchmark,
    Case,
    Lab,
    ProtocolTask,
    Question,
    RubricItem,
    SpeedRule,
    StreamKernelTask,
)
from labs.lab3_pipeline import explore, protocol, questions

TILE_BYTES = 4096  # part A's tiles, and part B's: 1024 floats


def _collect(program, stages: int, tiles: int) -> list[dict]:
    pipe = protocol.Pipe(stages, tiles, TILE_BYTES)
    ops = protocol.collect_ops(
        program, pipe, stages, tiles, protocol.default_max_ops(stages, tiles)
    )
    return protocol.ops_to_json(ops)


def _parse(data, stages: int, tiles: int):
    return protocol.ops_from_json(data, stages, tiles, protocol.default_max_ops(stages, tiles))


def _explore(producer_ops, consumer_ops, stages: int, tiles: int):
    return explore.explore(producer_ops, consumer_ops, stages, tiles, TILE_BYTES)


def _ring(stages: int, tiles: int) -> Case:
    return Case(f"S={stages}, K={tiles}", {"stages": stages, "tiles": tiles}, seed=0)


PROTOCOL = ProtocolTask(
    name="protocol",
    title="The producer/consumer ring: stages, barriers and phases",
    # Exhaustive for the first four (a few thousand states at most); the last two are past the
    # state cap, so random walks (seeded) check them. S = 1 and K < S are cases of their own.
    cases=(
        _ring(1, 3),
        _ring(2, 5),
        _ring(3, 7),
        _ring(4, 9),
        _ring(4, 2),
        _ring(8, 40),
    ),
    collect=_collect,
    parse=_parse,
    explore=_explore,
    reasons=explore.CODES,
)

ANSWERS = AnswersTask(
    name="answers",
    title="Short answers: TMA, phases and Little's law",
    questions=tuple(
        Question(q.name, public=q.public, secret=q.secret, secret_count=q.secrets, rtol=q.rtol)
        for q in questions.QUESTIONS
    ),
    reference="reference.lab3_pipeline.solution",
)


def _size(n: int) -> Case:
    return Case(f"n={n}", {"n": n}, seed=300 + n % 97)


STREAM = StreamKernelTask(
    name="stream",
    title="A pipelined streaming kernel: out = a * in + b through an S-stage ring",
    source="student.cu",
    kernel="pipeline_axpb",
    host="labs.lab3_pipeline.launch",
    checks="labs.lab3_pipeline.stream_check",
    little="labs.lab3_pipeline.latency",
    # The compile check runs everywhere; the sizes need a GPU. None is a multiple of the tile;
    # 1 and 3 are shorter than one float4; 1_000_003 leaves a ragged tail.
    cases=(
        Case("compiles", {"compile": True}, seed=0),
        _size(1),
        _size(3),
        _size(1023),
        _size(4097),
        _size(1_000_003),
        _size((1 << 20) + 5),
    ),
    # 2^28 floats: 2 GiB read + written per call, ~0.5 ms at the copy ceiling.
    benchmarks=(Benchmark("n=2^28", {"n": 1 << 28}, seed=301),),
    stages=4,
    tile_floats=TILE_BYTES // 4,
    sweep=(1, 2, 3, 4, 6, 8),
    baseline_source="pipeline.cu",
    baseline_kernel="stream_v1_sync",
)

LAB = Lab(
    name="lab3",
    slug="lab3_pipeline",
    title="TMA-style pipelining: the ring protocol, then async copies on the GPU",
    tasks=(PROTOCOL, ANSWERS, STREAM),
    rubric=(
        RubricItem(
            "protocol",
            "correctness",
            30,
            description="every (S, K) safe under every schedule: in order, no early read, "
            "no overwrite, no deadlock, no phase aliasing",
        ),
        RubricItem("answers", "answers", 15, description="in proportion to questions right"),
        RubricItem("stream", "correctness", 20, description="every size exact (GPU)"),
        RubricItem("stream", "technique", 5, description="the PTX shows an asynchronous copy"),
        RubricItem(
            "stream",
            "bandwidth",
            15,
            speed=SpeedRule(zero_at=0.5, full_at=0.8),
            description="bandwidth at your best S as a share of a device copy in the same run",
        ),
        RubricItem(
            "stream",
            "speedup",
            10,
            speed=SpeedRule(zero_at=1.0, full_at=2.0),
            description="against the synchronous kernel with the same tile, same run",
        ),
        RubricItem(
            "stream",
            "stages",
            5,
            description="bandwidth rises with stages in flight, as Little's law says",
        ),
    ),
    timeout_s=180.0,
    sim_timeout_s=120.0,
    time_timeout_s=500.0,
    profile="labs.lab3_pipeline.profile",
)
