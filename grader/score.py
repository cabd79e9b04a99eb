"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Every other
rubric item is scored by its task's kind (:mod:`grader.kinds`), with the same ground rules:
points beyond correctness need a correct task and, where they come from timings, a measurement
(under the simulator they are "not measured", never guessed); a cheating or interfering failure
(``Reason.zero_all``) withholds everything.

Each line says which of those it is (``RubricLine.status``): an item whose task is not correct
is "not counted: correctness first", whatever the mode, rather than a 0 that reads like a slow
kernel; the points are the same 0 either way.
"""

from __future__ import annotations

from grader.check import CaseResult
from grader.kinds import kind_of
from grader.kinds.base import ScoreContext
from grader.results import NOT_COUNTED, BenchResult, Failure, RubricLine
from grader.spec import Lab, RubricItem
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
        if item.kind == "correctness":
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
            )
            points, measured, detail = kind_of(lab.task(item.task)).score_item(context)
            waits = _waits_for_correctness(lab, item.task) and zeroed is None
            if waits and not correct and measured and points == 0:
                lines.append(_not_counted(item, task_cases))
                continue
        lines.append(RubricLine(item.task, item.kind, points, item.points, measured, detail))
    return lines


def _waits_for_correctness(lab: Lab, task: str) -> bool:
    """Whether the task has a correctness item, which its other items wait for."""
    return any(i.task == task and i.kind == "correctness" for i in lab.rubric)


def _not_counted(item: RubricItem, cases: list[CaseResult]) -> RubricLine:
    passed = sum(c.passed for c in cases)
    detail = (
        f"not counted: correctness first ({item.task}: {passed} of {len(cases)} cases passed; "
        f"{item.kind} points count once every case passes)"
    )
    return RubricLine(item.task, item.kind, 0.0, item.points, True, detail, NOT_COUNTED)
