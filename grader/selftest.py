"""The grader grading itself: the reference solution must get full marks, and every known-wrong
submission in ``reference/<lab>/wrong/`` must get 0 for the reason its header names.

A fixture states what it expects in a comment near its top::

    # expect: zero out_of_bounds | cuda_error    (0 points, failed for one of these reasons)
    # expect: full                               (full marks, nothing flagged)
    # expect: partial                            (correct; on a GPU, some but not all speed points)
    # expect: honest                             (correct, nothing flagged, not faster than the
                                                  reference: a trick must not buy time)
    # expect: less wrong_answer                  (with `task`: that task loses points, its first
                                                  failing case for one of these reasons; for
                                                  tasks that give partial credit)
    # needs: gpu                                 (skipped, and said so, under the simulator)
    # zero-items: overlap sync                   (with `partial`: these rubric kinds score 0
                                                  wherever they are measured)
    # mentions: copy_to_host                     (with `partial`: where measured, the report
                                                  names this, e.g. the blocking call)
    # task: matmul                               (with `zero`: only this task's rubric items
                                                  must score 0, its first failing case for one
                                                  of the reasons; the other tasks may score)

A CUDA C fixture (``wrong/*.cu``) writes the same lines as ``//`` comments; it is graded as a
submission of its own (the lab's Python parts then score nothing, so it names its ``task``).
Besides ``solution.py``, every top-level module of the reference folder that carries an
``# expect:`` line (lab 1's serial baseline and breadth-first solution) is graded too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import labs
from grader.kinds import kind_of
from grader.results import RunResult
from grader.runner import Grader

# Headers are comments: `#` in Python, `//` in CUDA C fixtures.
_C = r"(?:#|//)"
_EXPECT = re.compile(
    rf"^{_C}[ \t]*expect:[ \t]*(zero|less|full|partial|honest)[ \t]*(.*)$", re.MULTILINE
)
HONEST_SLACK = 1.1  # run-to-run noise allowed above the reference's speed
_NEEDS = re.compile(rf"^{_C}[ \t]*needs:[ \t]*gpu[ \t]*$", re.MULTILINE)
_ZERO_ITEMS = re.compile(rf"^{_C}[ \t]*zero-items:(.*)$", re.MULTILINE)
_MENTIONS = re.compile(rf"^{_C}[ \t]*mentions:(.*)$", re.MULTILINE)
_TASK = re.compile(rf"^{_C}[ \t]*task:[ \t]*(\w+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Expectation:
    outcome: str  # "zero", "less", "full", "partial" or "honest"
    reasons: frozenset[str] = frozenset()
    needs_gpu: bool = False
    zero_items: frozenset[str] = frozenset()
    mentions: tuple[str, ...] = ()
    task: str = ""  # with "zero": the one task that must score 0


@dataclass
class SelftestRow:
    fixture: str
    expected: str
    points: float | None
    max_points: float
    reason: str | None
    ok: bool | None  # None: skipped
    message: str
    result: RunResult | None = None


def read_expectation(path: Path) -> Expectation:
    text = path.read_text(errors="replace")[:4000]
    match = _EXPECT.search(text)
    if match is None:
        raise ValueError(f"{path} has no '# expect: zero|full|partial|honest' line")
    reasons = frozenset(r.strip() for r in match.group(2).split("|") if r.strip())
    zero = _ZERO_ITEMS.search(text)
    mentions = _MENTIONS.search(text)
    task = _TASK.search(text)
    return Expectation(
        match.group(1),
        reasons,
        bool(_NEEDS.search(text)),
        frozenset(zero.group(1).split()) if zero else frozenset(),
        tuple(mentions.group(1).split()) if mentions else (),
        task.group(1) if task else "",
    )


def fixtures(grader: Grader) -> list[Path]:
    """The solution first, then every known-wrong and every example submission."""
    folder = grader.lab.reference_folder
    found = [grader.lab.solution_path]
    for path in sorted(folder.glob("*.py")):
        if path != grader.lab.solution_path and _EXPECT.search(path.read_text()[:4000]):
            found.append(path)
    for sub in ("wrong", "examples"):
        found += sorted(
            p
            for p in (*(folder / sub).glob("*.py"), *(folder / sub).glob("*.cu"))
            if p.name != "__init__.py"
        )
    return found


def judge(result: RunResult, expectation: Expectation) -> tuple[bool, str]:
    reason = result.failure.reason if result.failure else None
    measured_max = result.max_points - result.unmeasured_points
    if expectation.outcome == "zero" and expectation.task:
        return _judge_task_zero(result, expectation)
    if expectation.task and expectation.outcome in ("less", "partial"):
        return _judge_task_partial(result, expectation)
    if expectation.outcome == "zero":
        if result.points != 0:
            return False, f"expected 0 points, got {result.points:g}"
        if expectation.reasons and reason not in expectation.reasons:
            wanted = " or ".join(sorted(expectation.reasons))
            return False, f"expected failure for {wanted}, got {reason}"
        return True, result.failure.message[:160] if result.failure else ""
    if expectation.outcome == "full":
        if result.points != measured_max or reason is not None:
            return False, f"expected {measured_max:g} points, got {result.points:g} ({reason})"
        if result.flags:
            return False, "flagged: " + "; ".join(result.flags)
        return True, result.headline
    correct_points = sum(line.points for line in result.rubric if line.kind == "correctness")
    correct_max = sum(line.max_points for line in result.rubric if line.kind == "correctness")
    if reason is not None or correct_points != correct_max:
        return False, f"expected a correct submission, got {result.headline}"
    if expectation.outcome == "honest":
        if result.flags:
            return False, "flagged: " + "; ".join(result.flags)
        faster = [b for b in result.benches if b.speedup and b.speedup > HONEST_SLACK]
        if faster:
            return False, "faster than the reference: " + ", ".join(
                f"{b.bench} {b.speedup:.2f}x" for b in faster
            )
        return True, result.headline
    if expectation.zero_items or expectation.mentions:
        return _judge_items(result, expectation)
    speed = [line for line in result.rubric if line.kind == "speed" and line.measured]
    if speed and not all(0 < line.points < line.max_points for line in speed):
        return False, "expected some but not all speed points: " + "; ".join(
            line.detail for line in speed
        )
    return True, result.headline


def run_selftest(
    grader: Grader, on_row: Callable[[SelftestRow], None] | None = None, only: str = ""
) -> list[SelftestRow]:
    rows = []
    for path in fixtures(grader):
        if only and only not in path.stem:
            continue
        expectation = read_expectation(path)
        label = f"{path.parent.name}/{path.stem}"
        expected = expectation.outcome + (
            " " + "|".join(sorted(expectation.reasons)) if expectation.reasons else ""
        )
        if expectation.needs_gpu and grader.mode != "gpu":
            row = SelftestRow(
                label, expected, None, grader.lab.max_points, None, None, "skipped: needs a GPU"
            )
        else:
            result = grader.grade(path, student=label)
            ok, message = judge(result, expectation)
            row = SelftestRow(
                label,
                expected,
                result.points,
                result.max_points,
                result.failure.reason if result.failure else None,
                ok,
                message,
                result,
            )
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def _judge_task_zero(result: RunResult, expectation: Expectation) -> tuple[bool, str]:
    """Every rubric item of one task scores 0, for one of the expected reasons."""
    lines = [line for line in result.rubric if line.task == expectation.task]
    if not lines:
        return False, f"the lab has no task {expectation.task!r}"
    scored = [line for line in lines if line.points != 0]
    if scored:
        return False, f"expected 0 for {expectation.task}, got " + ", ".join(
            f"{line.kind} {line.points:g}" for line in scored
        )
    failed = [c for c in result.cases if c.task == expectation.task and not c.passed]
    reason = failed[0].reason if failed else result.failure.reason if result.failure else None
    if failed and reason == "not_run":
        reason = failed[0].stopped_by  # a process failure stopped the task: that is its reason
    if expectation.reasons and reason not in expectation.reasons:
        wanted = " or ".join(sorted(expectation.reasons))
        return False, f"expected {expectation.task} to fail for {wanted}, got {reason}"
    message = failed[0].message if failed else ""
    return True, f"{expectation.task}: 0 ({reason}) {message}"[:160]


def _judge_task_partial(result: RunResult, expectation: Expectation) -> tuple[bool, str]:
    """One task's lines only: ``less``, the task loses points, its first failing case for one
    of the reasons (partial credit, as a quiz gives); ``partial``, its correctness is full
    wherever measured and its ``zero-items`` score 0 wherever measured."""
    lines = [line for line in result.rubric if line.task == expectation.task]
    if not lines:
        return False, f"the lab has no task {expectation.task!r}"
    measured = [line for line in lines if line.measured]
    got = sum(line.points for line in measured)
    most = sum(line.max_points for line in measured)
    failed = [c for c in result.cases if c.task == expectation.task and not c.passed]
    if expectation.outcome == "less":
        if got >= most:
            return False, f"expected {expectation.task} to lose points, got {got:g}/{most:g}"
        reason = failed[0].reason if failed else None
        if expectation.reasons and reason not in expectation.reasons:
            wanted = " or ".join(sorted(expectation.reasons))
            return False, f"expected {expectation.task} to fail for {wanted}, got {reason}"
        return True, f"{expectation.task}: {got:g}/{most:g} ({reason})"
    for line in measured:
        if line.kind == "correctness" and line.points != line.max_points:
            return False, f"expected {expectation.task} correct, got {line.detail}"
        if line.kind in expectation.zero_items and line.points != 0:
            return False, f"expected 0 for {line.kind}, got {line.points:g}: {line.detail}"
    return True, f"{expectation.task}: {got:g}/{most:g}"


def _judge_items(result: RunResult, expectation: Expectation) -> tuple[bool, str]:
    """A correct submission whose named rubric items score 0, and whose report names a cause."""
    measured = [line for line in result.rubric if line.kind != "correctness" and line.measured]
    if not measured:
        return True, result.headline + " (the items it must lose were not measured)"
    for line in measured:
        if line.kind in expectation.zero_items and line.points != 0:
            return False, f"expected 0 for {line.kind}, got {line.points:g}: {line.detail}"
    if result.points >= result.max_points:
        return False, "expected to lose points, got full marks"
    text = " ".join(line.detail for line in result.rubric)
    for bench in result.benches:
        text += " " + " ".join(kind_of(labs.get(result.lab).task(bench.task)).notes(bench))
    missing = [word for word in expectation.mentions if word.lower() not in text.lower()]
    if missing:
        return False, f"the report never names {', '.join(missing)}"
    return True, result.headline
