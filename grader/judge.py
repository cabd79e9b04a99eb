"""The parent's judgement of a phase: every frame a child sent, handed to its task's kind.

The kinds judge one call or one benchmark; this module walks the lab's tasks in order, pairs
each case and benchmark with its frame (a missing frame is a case not run, with the process's
failure as the reason), and turns the first failing case into the submission's failure.

A phase may have several processes: the submission's (the child) and the grader's worker, which
runs no Python of the submission (lab 3's CUDA C stream, lab 4's measured sweep, replayed
kernels). Each task's frames count only from the process meant to run it; a frame for a task
from the other process was written by the submission (only the child runs its code) to speak
for the grader, and is a forgery of the channel: 0 for everything, and a person looks.

Everything a kind reads from a frame came from the submission's process: an exception while
judging it (a value of the wrong type, an overflow, a division by zero) is the submission's
"protocol" failure, never a crash of the grader.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from grader import failures
from grader.check import CaseResult
from grader.jobs import case_jobs
from grader.kinds import kind_of
from grader.kinds.base import ReferenceRun
from grader.results import BenchResult, Failure
from grader.sandbox import ChildOutcome, Phase
from grader.spec import Lab

# What judging a frame may raise that is the grader's own trouble, not the frame's: a module it
# cannot import, a file it cannot write, memory. Anything else came from reading the
# submission's values (a wrong type, an overflow, a division by zero, a recursion).
JUDGING_ERRORS = (ImportError, OSError, MemoryError)


def judge_check(
    lab: Lab,
    outcome: Phase,
    mode: str,
    secret: str | None,
    fields: Mapping[str, str],
    only: list[str] | None = None,
) -> tuple[list[CaseResult], Failure | None]:
    """Every case of every task, judged from the check phase's frames; and the failure, if any.

    ``fields`` fill the failure hints' placeholders (the student's file, the lab's name).
    """
    frames, forged = attributed(
        lab,
        outcome,
        "case",
        lambda h: (h.get("task"), h.get("case"), h.get("call")),
        lambda kind: kind.check_in_worker,
    )
    failure = forged or failures.phase_failure(outcome, "checking", fields)
    results: list[CaseResult] = []
    for task in lab.tasks:
        if only is not None and task.name not in only:
            continue
        kind = kind_of(task)
        for case in case_jobs(task, mode, secret):
            result = None
            for call, seed in enumerate(case["seeds"]):
                frame = frames.get((task.name, case["name"], call))
                if frame is None:
                    why = failure.title.lower() if failure else "stopped before this case"
                    stopped_by = failure.reason if failure else None
                    result = failures.not_run(task.name, case, why, stopped_by)
                    break
                result = _guarded(kind.judge_call, task, case, seed, frame, call)
                if not result.passed:
                    break
            assert result is not None
            results.append(result)
    return results, failure or first_failure(lab, results, fields)


WORKER_MODULE = "grader.worker"


def runs_in_worker(outcome: ChildOutcome) -> bool:
    """Whether ``outcome`` is the grader's worker's (which runs no Python of the submission).

    Told by the first frame on the process's channel: the harness's hello, which says which
    harness it is, and is written before anything of the submission is loaded (the worker never
    loads any), so no submission can have written it. Where the outcome names the module that
    ran (run_child sets it), that is used instead."""
    module = getattr(outcome, "module", None)
    if isinstance(module, str) and module:
        return module == WORKER_MODULE
    first = outcome.frames[0] if outcome.frames else None
    return first is not None and first.type == "hello" and first.header.get("process") == "worker"


def attributed(
    lab: Lab,
    phase: Phase,
    frame_type: str,
    key: Callable[[Mapping[str, Any]], Hashable],
    worker_runs: Callable[[Any], bool],
) -> tuple[dict[Hashable, Any], Failure | None]:
    """The frames of ``frame_type`` by ``key``, each from the process meant to send it: the
    worker's for the tasks whose kind ``worker_runs``, the submission's for the others. A frame
    from the other process is a forgery: the failure it makes (``channel``), or None."""
    frames: dict[Hashable, Any] = {}
    forged: Failure | None = None
    for outcome in phase.outcomes:
        worker = runs_in_worker(outcome)
        for frame in outcome.of_type(frame_type):
            name = frame.header.get("task")
            task = next((t for t in lab.tasks if t.name == name), None)
            if task is None:
                continue  # no task of this lab: never judged
            if worker_runs(kind_of(task)) != worker:
                forged = forged or failures.failure(
                    "channel",
                    (
                        f"the submission's process sent a result for {name!r}, which the "
                        "grader's own worker runs: a forged result"
                    )
                    if not worker
                    else f"the grader's worker sent a result for {name!r}, which it does not run",
                )
                continue
            frames[key(frame.header)] = frame
    return frames, forged


def _protocol(task_name: str, case: dict, exc: Exception) -> CaseResult:
    return CaseResult(
        task_name,
        case["name"],
        dict(case["params"]),
        False,
        "protocol",
        "the submission's process sent a result the grader cannot read "
        f"({type(exc).__name__}: {str(exc)[:200]})",
    )


def _guarded(judge_call, task, case: dict, seed: int, frame, call: int) -> CaseResult:
    """A kind's judgement of a frame; a frame it cannot read is the submission's failure
    (the frame came from the submission's process), never a crash of the grader."""
    try:
        return judge_call(task, case["params"], seed, frame, call)
    except JUDGING_ERRORS:
        raise
    except Exception as exc:
        return _protocol(task.name, case, exc)


def first_failure(lab: Lab, results: list[CaseResult], fields: Mapping[str, str]) -> Failure | None:
    """The submission's failure: its first failing case's, or a run that stopped early."""
    first = next((r for r in results if not r.passed and r.reason != "not_run"), None)
    if first is not None:
        return failures.failure(
            first.reason or "wrong_answer",
            f"{first.case}: {first.message}",
            traceback=first.traceback,
            fields=fields,
            task=lab.task(first.task),
        )
    if any(r.reason == "not_run" for r in results):
        return failures.failure("no_result", "the run stopped before every case had run")
    return None


def judge_time(
    lab: Lab, outcome: Phase, reference: ReferenceRun, timed_tasks: list[str]
) -> tuple[list[BenchResult], Failure | None, list[CaseResult], dict[tuple[str, str], object]]:
    """Every benchmark of the timed tasks: (results, failure, wrong-while-timed cases, frames)."""
    frames, forged = attributed(
        lab,
        outcome,
        "bench",
        lambda h: (h.get("task"), h.get("bench")),
        lambda kind: kind.time_in_worker or kind.replays,
    )
    failure = forged or failures.phase_failure(outcome, "timing")
    results: list[BenchResult] = []
    extra_cases: list[CaseResult] = []
    for task in lab.tasks:
        if task.name not in timed_tasks:
            continue
        kind = kind_of(task)
        for bench in task.benchmarks:
            frame = frames.get((task.name, bench.name))
            try:
                result, wrong = kind.judge_bench(task, bench, frame, reference)
            except JUDGING_ERRORS:
                raise
            except Exception as exc:
                result = BenchResult(task.name, bench.name, dict(bench.params), "error")
                result.message = f"the timing frame could not be read ({type(exc).__name__})"
                case = {"name": f"while timing {bench.name}", "params": dict(bench.params)}
                wrong = [_protocol(task.name, case, exc)]
            results.append(result)
            extra_cases.extend(wrong)
    if failure is None and extra_cases:
        first = extra_cases[0]
        failure = failures.failure(first.reason or "timing_output_wrong", first.message)
    return results, failure, extra_cases, frames
