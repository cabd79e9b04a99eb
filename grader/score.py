"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Speed
points need a correct kernel and a measurement: under the simulator they are "not measured",
never guessed. A flag for review (faster than the physical floor) withholds speed points; a
cheating or interfering failure (``Reason.zero_all``) withholds everything.
"""

from __future__ import annotations

import math

from grader.check import CaseResult
from grader.results import BenchResult, Failure, RubricLine
from grader.spec import Lab
from grader.verdicts import reason

FLOOR_FLAG = "faster than the physical floor"


def geometric_mean(values: list[float]) -> float:
    if not values or any(not (v > 0) for v in values):
        return math.nan
    return math.exp(sum(math.log(v) for v in values) / len(values))


def score(
    lab: Lab,
    cases: list[CaseResult],
    benches: list[BenchResult],
    failure: Failure | None,
    measured_speed: bool,
    not_measured_why: str = "",
) -> list[RubricLine]:
    lines = []
    zero_all = failure is not None and reason(failure.reason).zero_all
    for item in lab.rubric:
        task_cases = [c for c in cases if c.task == item.task]
        correct = bool(task_cases) and all(c.passed for c in task_cases) and not zero_all
        if item.kind == "correctness":
            passed = sum(c.passed for c in task_cases)
            detail = f"{passed} of {len(task_cases)} cases passed"
            if zero_all:
                detail = f"0: {reason(failure.reason).title.lower()}"
            lines.append(
                RubricLine(
                    item.task, item.kind, item.points if correct else 0.0, item.points, True, detail
                )
            )
            continue
        if item.kind != "speed" or item.speed is None:
            raise ValueError(f"unknown rubric item kind {item.kind!r}")
        if zero_all:
            lines.append(
                RubricLine(
                    item.task,
                    item.kind,
                    0.0,
                    item.points,
                    True,
                    f"0: {reason(failure.reason).title.lower()}",
                )
            )
        elif not correct:
            lines.append(
                RubricLine(
                    item.task,
                    item.kind,
                    0.0,
                    item.points,
                    True,
                    "0: speed counts only once every case is correct",
                )
            )
        elif not measured_speed:
            lines.append(
                RubricLine(
                    item.task,
                    item.kind,
                    0.0,
                    item.points,
                    False,
                    f"not measured: {not_measured_why}",
                )
            )
        else:
            timed = [b for b in benches if b.task == item.task]
            flagged = [b for b in timed if FLOOR_FLAG in " ".join(b.flags)]
            speedups = [b.speedup for b in timed if b.speedup is not None]
            if flagged:
                lines.append(
                    RubricLine(
                        item.task,
                        item.kind,
                        0.0,
                        item.points,
                        True,
                        "withheld: " + FLOOR_FLAG + "; flagged for review",
                    )
                )
            elif len(speedups) != len(timed) or not timed:
                lines.append(
                    RubricLine(
                        item.task,
                        item.kind,
                        0.0,
                        item.points,
                        True,
                        "0: some benchmarks could not be timed",
                    )
                )
            else:
                mean = geometric_mean(speedups)
                points = round(item.points * item.speed.fraction(mean), 2)
                lines.append(
                    RubricLine(
                        item.task,
                        item.kind,
                        points,
                        item.points,
                        True,
                        f"{mean:.2f}x the reference (geometric mean over {len(timed)} sizes); "
                        f"0 points at {item.speed.zero_at}x, full at {item.speed.full_at}x",
                    )
                )
    return lines
