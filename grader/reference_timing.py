"""The reference solution timed in its own process in the same run, with the ceilings.

The reference's process also measures the copy-bandwidth ceiling, times any library ceiling
a task names (cuBLAS), and computes what the fingerprints of timed outputs must be. A kind that
measures speedups over a baseline (lab 1's serial pipeline) has the baseline timed in one more
process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader import failures
from grader.jobs import phase_job
from grader.kinds import kind_of
from grader.kinds.base import ReferenceRun
from grader.kinds.timed import reference_problem
from grader.sandbox import ChildOutcome
from grader.spec import Lab
from grader.timing import StopRule

RunPhase = Callable[[dict[str, Any], str], ChildOutcome]  # (job, label) -> outcome
# (submission, task names, label, reference=...) -> (outcome, refused recordings)
TimePhase = Callable[..., tuple[ChildOutcome, list[Any]]]


def time_reference(
    lab: Lab,
    time_phase: TimePhase,
    run: RunPhase,
    mode: str,
    secret: str | None,
    stop_rule: StopRule,
) -> ReferenceRun:
    names = [task.name for task in lab.tasks if task.benchmarks]
    outcome, refused = time_phase(
        lab.solution_path, names, "the reference solution", reference=True
    )
    reference = ReferenceRun(error=failures.outcome_problem(outcome))
    if refused:
        reference.error = reference.error or f"the reference's recording: {refused[0].message}"
    for frame in outcome.of_type("bench"):
        h = frame.header
        if h.get("status") != "timed":
            reference.error = reference.error or (
                f"reference failed on {h.get('bench')}: {h.get('error')}"
            )
            continue
        reference.error = reference.error or reference_problem(h)
        reference.benches[(h["task"], h["bench"])] = h
    reference.ceilings = {f.header["name"]: f.header for f in outcome.of_type("ceiling")}
    for task in lab.tasks:
        kind_of(task).read_reference(task, outcome.frames, reference)
    if reference.error is None:
        _time_baselines(lab, run, mode, secret, stop_rule, reference)
    return reference


def _time_baselines(
    lab: Lab,
    run: RunPhase,
    mode: str,
    secret: str | None,
    stop_rule: StopRule,
    reference: ReferenceRun,
) -> None:
    """Each baseline a task's kind names, timed in its own process in the same run."""
    paths = {}
    for task in lab.tasks:
        path = kind_of(task).baseline_path(task, lab)
        if path is not None:
            paths.setdefault(path, []).append(task.name)
    for path, names in paths.items():
        job = phase_job(lab, path, "time", mode, secret, only=names, stop_rule=stop_rule)
        outcome = run(job, "timing the serial baseline")
        problem = failures.outcome_problem(outcome)
        for frame in outcome.of_type("bench"):
            if frame.header.get("status") != "timed":
                problem = problem or f"baseline failed: {frame.header.get('error')}"
                continue
            key = (frame.header["task"], frame.header["bench"])
            reference.extra(key)["baseline"] = frame.header
        if problem:
            reference.error = f"the serial baseline failed ({problem})"
