"""Failure prose: turning what a process did into a failure a student can act on.

One place decides how a process that crashed, hung, flooded its output, left processes behind
or tampered with the channel reads in the report, and what the headline and the next steps say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grader import verdicts
from grader.check import CHILD_REASONS, CaseResult
from grader.results import Failure, RubricLine
from grader.sandbox import ChildOutcome, Phase


def failure(
    code: str,
    message: str,
    traceback: str = "",
    fields: Mapping[str, str] | None = None,
    task: Any = None,
) -> Failure:
    """A failure for reason ``code``. A task's own ``reasons`` (code -> (title, hint)) name
    the codes only it produces; its ``hints`` override the generic hint for a code."""
    own = getattr(task, "reasons", {}) or {}
    title, hint = own.get(code, (verdicts.reason(code).title, ""))
    hint = (getattr(task, "hints", {}) or {}).get(code) or hint
    hint = hint or verdicts.hint(code, **(fields or {}))
    return Failure(reason=code, title=title, message=message, hint=hint, traceback=traceback)


def not_run(
    task_name: str, case: dict[str, Any], why: str, stopped_by: str | None = None
) -> CaseResult:
    result = CaseResult(
        task_name, case["name"], case["params"], False, "not_run", f"not run: {why}"
    )
    result.stopped_by = stopped_by
    return result


def outcome_problem(outcome: ChildOutcome | Phase) -> str | None:
    """A process failure as one line (for the reference's and the baseline's runs)."""
    found = phase_failure(outcome, "running")
    return f"{found.title}: {found.message}" if found else None


def phase_failure(
    phase: ChildOutcome | Phase, doing: str, fields: Mapping[str, str] | None = None
) -> Failure | None:
    """The first failure of any of a phase's processes, in the order they ran."""
    outcomes = phase.outcomes if isinstance(phase, Phase) else [phase]
    for outcome in outcomes:
        found = process_failure(outcome, doing, fields)
        if found is not None:
            return found
    return None


def process_failure(
    outcome: ChildOutcome, doing: str, fields: Mapping[str, str] | None = None
) -> Failure | None:
    """A failure of the process as a whole (as opposed to a wrong case), if there was one.

    ``fields`` fill the hint's placeholders (the student's file, the lab's name)."""
    if outcome.channel_error:
        return failure("channel", outcome.channel_error)
    if outcome.limit_hit == "processes":
        return failure(
            "process_limit",
            f"more than {outcome.limits.processes} processes were running at once; the whole "
            "process tree was killed",
        )
    if outcome.limit_hit == "memory":
        return failure(
            "memory_limit",
            f"the process tree held more than {outcome.limits.memory_bytes / 2**30:.1f} GiB of "
            f"host memory while {doing}; it was killed",
        )
    if outcome.leftover_pids or outcome.spawned:
        shown = outcome.spawned[:3] or [f"pid {p}" for p in outcome.leftover_pids[:5]]
        return failure(
            "spawned_process",
            "the submission started processes, which were killed: " + "; ".join(shown),
        )
    tampered = outcome.first("tampered")
    if tampered:
        replaced = tampered.header.get("replaced")
        names = [str(n)[:200] for n in replaced] if isinstance(replaced, list) else []
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        shown = shown or "the grader's timing functions"
        return failure("tampered", f"the submission replaced {shown}")
    fatal = outcome.first("fatal")
    if fatal:
        error = fatal.header.get("error") if isinstance(fatal.header.get("error"), dict) else {}
        code = error.get("kind") if error.get("kind") in CHILD_REASONS else "exception"
        if fatal.header.get("stage") == "harness":
            # The harness shares its process with the submission: a failure there is the
            # submission's to answer for, unless it is plainly written (then: report it).
            code = "harness_failed"
        text = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
        return failure(code, text, traceback=str(error.get("traceback", "")), fields=fields)
    if outcome.timed_out:
        last = [f for f in outcome.of_type("progress") if f.header.get("text")]
        where = f" (last progress: {last[-1].header['text']})" if last else ""
        return failure(
            "timeout",
            f"stopped after the {outcome.timeout_s:.0f} s limit while "
            f"{doing}{where}; the whole process group was killed",
        )
    if outcome.output_limited:
        return failure(
            "output_limit",
            f"stopped after printing more than {outcome.output_cap // 1024} KiB (the limit)",
        )
    if outcome.first("done") is None:
        if outcome.signal_name:
            return failure("crashed", f"the process was killed by {outcome.signal_name}")
        if outcome.returncode == 0:
            return failure(
                "exited",
                "the process ended before returning its results "
                "(os._exit() or exit() in the submission?)",
            )
        return failure("no_result", f"the process ended with exit code {outcome.returncode}")
    return None


def headline(
    points: float,
    max_points: float,
    unmeasured: float,
    found: Failure | None,
    why: str,
    rubric: list[RubricLine] = (),
) -> str:
    """ "x / y points (z not measured: why): the failure" in one line. Without a reason for
    the whole run, the reasons are the unmeasured rubric lines' own."""
    text = f"{points:g} / {max_points:g} points"
    if unmeasured:
        reasons = (
            [why]
            if why
            else [
                line.detail.removeprefix("not measured: ") for line in rubric if not line.measured
            ]
        )
        text += f" ({unmeasured:g} not measured: {'; '.join(dict.fromkeys(reasons))})"
    if found:
        text += f": {found.title}"
    return text


def next_steps(
    found: Failure | None, rubric: list[RubricLine], mode: str, simulator_note: str
) -> list[str]:
    steps = []
    if found:
        steps.append(found.hint)
    if mode == "simulator":
        steps.append(simulator_note)
    for line in rubric:
        if line.kind == "speed" and line.measured and 0 < line.points < line.max_points:
            steps.append(f"Speed: {line.detail}. Look at the timing table for where time goes.")
    return [s for s in steps if s]
