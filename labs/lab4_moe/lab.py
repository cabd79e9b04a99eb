"""Lab 4, MoE vs dense communication: the analytic model (part A), the roofline on one GPU
(part B), MoE dispatch/combine and a tensor-parallel block under torch.distributed (part C),
and the model beyond one host (part D).

Napkin math (the handout has it in full, with where each figure was measured): a bf16 matmul
stops being memory bound at b ~ FLOP/s / (bytes/s): ~184 on the lent H200 from its measured
ceilings, where the measured knee sat near 150-200. Tensor parallelism all-reduces d bytes per
token per FFN block (1.31 MB per token for Llama 3.3 70B's FFN blocks); an expert-parallel MoE
moves k/sqrt(E) of what a dense model of the same size does.
"""

from __future__ import annotations

from grader.spec import (
    AnswersTask,
    Case,
    DistributedTask,
    Lab,
    MeasureTask,
    Question,
    RubricItem,
)
from labs.lab4_moe import configs

SECRET_CASES = 20  # hidden argument sets per function, drawn per grading


def _questions(task: str) -> tuple[Question, ...]:
    return tuple(
        Question(
            name,
            public=tuple(dict(row["kwargs"]) for row in configs.EXAMPLES.get(name, [])) or ({},),
            secret=configs.SECRET[name],
            secret_count=SECRET_CASES,
            rtol=configs.rtol(name),
        )
        for name in configs.TASKS[task]
    )


MODEL = AnswersTask(
    name="model",
    title="The communication model: bytes per token, training volumes, critical batch",
    questions=_questions("model"),
    reference="reference.lab4_moe.model",
)

EXTRAPOLATE = AnswersTask(
    name="extrapolate",
    title="Beyond one host: the model at 8, 64 and 256 GPUs",
    questions=_questions("extrapolate"),
    reference="reference.lab4_moe.model",
)

ROOFLINE = AnswersTask(
    name="roofline",
    title="The roofline, on paper: the knee of a sweep, the predicted critical batch",
    questions=_questions("roofline"),
    reference="reference.lab4_moe.solution",
)

# Batches from memory bound to compute bound at d = 8192 (the knee is near 150-200 on an H200).
SWEEP_BATCHES = (8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048)

MEASURE = MeasureTask(
    name="measure",
    title="The roofline, measured: your bf16 matmul sweep against the grader's",
    entry="time_matmul_sweep",
    args={"batches": list(SWEEP_BATCHES), "d": 8192},
    measure="labs.lab4_moe.roofline:measure_sweep",
    analysis="reference.lab4_moe.analysis:analyse",
    tolerance=0.25,
)


def _ranks(world: int, seed: int) -> Case:
    return Case(f"{world} ranks, seed {seed}", {"world": world, "parts": "moe,tp"}, seed=seed)


DISPATCH = DistributedTask(
    name="dispatch",
    title="MoE dispatch and combine (uneven all-to-all), and a tensor-parallel block",
    cases=(_ranks(2, 11), _ranks(4, 12), _ranks(2, 13)),
    launcher="labs.lab4_moe.dist_harness",
    check="reference.lab4_moe.dist_reference:check",
    backend="gloo",
    reasons={
        "split_mismatch": (
            "The ranks disagree on the all-to-all's split sizes",
            "Exchange the counts first (an all_to_all_single of one count per rank), so that "
            "every rank knows how many rows it will receive from each other rank.",
        ),
        "deadlock": (
            "A collective never completed",
            "Every rank must call the same collectives in the same order, with matching "
            "sizes: look for a rank that skips one (no tokens to send is still a call).",
        ),
        "excess_traffic": (
            "Right answer, too many bytes",
            "Send each token only to the ranks that hold one of its k experts: the message "
            "gives what was sent against the least the routing needs.",
        ),
    },
)

LAB = Lab(
    name="lab4",
    slug="lab4_moe",
    title="MoE vs dense communication: a model, tested against the GPU and NCCL",
    tasks=(MODEL, EXTRAPOLATE, ROOFLINE, MEASURE, DISPATCH),
    rubric=(
        RubricItem(
            "model",
            "answers",
            30,
            description="every function right on public and hidden configurations",
        ),
        RubricItem("extrapolate", "answers", 10, description="the model at 8, 64, 256 GPUs"),
        RubricItem("roofline", "answers", 10, description="the knee fit and the prediction"),
        RubricItem(
            "measure",
            "agreement",
            15,
            description="your timings agree with the grader's in the same run (GPU)",
        ),
        RubricItem(
            "dispatch",
            "correctness",
            25,
            description="dispatch, combine and the TP "
            "block right on 2 and 4 ranks (gloo), uneven routing, least traffic",
        ),
        RubricItem(
            "dispatch",
            "collectives",
            10,
            description="all-reduce and all-to-all timed "
            "with NCCL against your alpha-beta model (needs >= 2 GPUs)",
        ),
    ),
    timeout_s=300.0,
    sim_timeout_s=300.0,
    time_timeout_s=300.0,
)
