"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Every other
rubric item is scored by its task's kind (:mod:`grader.kinds`), with the same ground rules:
points beyond correctness need a correct task and, where they come from timings, a measurement
(under the simulator they are "not measured", never guessed); a cheating or interfering failure
(``Reason.zero_all``) withholds everything.
"""

from __future__ import annotations

from grader.check import CaseResult
from grader.kinds import kind_of
from grader.kinds.base import ScoreContext
from grader.results import BenchResult, Failure, RubricLine
from grader.spec import Lab
from grader.verdicts import reason


def score(
    lab: Lab,
    cases: list[CaseResult],
    benches: list[BenchResult],
    failure: Failure | None,
    measured_speed: bool,
    not_measured_why: str = "",
) -> list[RubricLine]:
    lines = []
    zeroed = (
        f"0: {reason(failure.reason).title.lower()}"
        if failure is not None and reason(failure.reason).zero_all
        else None
    )
    for item in lab.rubric:
        task_cases = [c for c in cases if c.task == item.task]
        correct = bool(task_cases) and all(c.passed for c in task_cases) and zeroed is None
        kind = kind_of(lab.task(item.task))
        if item.kind == "correctness" and not kind.scores_correctness:
            passed = sum(c.passed for c in task_cases)
            detail = zeroed or f"{passed} of {len(task_cases)} cases passed"
            points, measured = (item.points if correct else 0.0), True
        else:
            context = ScoreContext(
                item=item,
                cases=task_cases,
                benches=[b for b in benches if b.task == item.task],
                zeroed=zeroed,
                correct=correct,
                measured=measured_speed,
                not_measured_why=not_measured_why,
                failure=failure,
                task=lab.task(item.task),
            )
            points, measured, detail = kind.score_item(context)
        lines.append(RubricLine(item.task, item.kind, points, item.points, measured, detail))
    return lines
