"""The interface every kind of task implements, and the context its parts are given.

A *kind* is everything the grader knows about one shape of task (a kernel, a host pipeline, a
loop order replayed through a cache simulator ...), in one module under ``grader/kinds/``:

=========================  ========  ==================================================
part                       runs in   what it does
=========================  ========  ==================================================
``case_job``               parent    extra fields of one correctness case's job
``child_check``            child     runs the submission on every case, sends frames
``child_time``             child     times the submission on every benchmark, sends frames
``judge_call``             parent    one call of one case: the frame against the truth
``judge_bench``            parent    one benchmark: its timing frame, rated
``read_reference``         parent    what the reference run measured for this kind
``score_item``             parent    one rubric item of a kind other than correctness
``how_checked``            report    the sentence saying what the check phase did
``charts``                 report    SVG charts for this kind's tasks
=========================  ========  ==================================================

The child parts run in the submission's process, which the submission can rewrite at will: a
child part gathers evidence and sends it; only the parent parts decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from grader.channel import Frame
from grader.check import CaseResult, call_result
from grader.results import BenchResult, Failure
from grader.verdicts import Reason

if TYPE_CHECKING:
    from grader.spec import Benchmark, Lab, RubricItem, Task


class ChildHarness(Protocol):
    """What a kind's child parts may use of the child's harness (``grader.child.Harness``)."""

    job: dict[str, Any]
    submission: Path
    poisoned: bool

    def send(self, header: dict[str, Any], arrays: dict[str, Any] | None = None) -> None: ...

    def progress(self, done: int, total: int, text: str) -> None: ...

    def failure(self, exc: BaseException) -> dict[str, Any]: ...

    def entry_point(self, module: Any, task: Any, name: str, args: list[str]) -> Any: ...


@dataclass
class ReferenceRun:
    """The reference solution timed in this run, and what was measured with it.

    ``benches``: the reference's bench frames' headers by (task, bench); ``ceilings``: copy
    bandwidth and the like; ``extras``: what each kind read from the reference run for itself
    (a library's timing, a baseline's, traces), by (task, bench) and then by name.
    """

    benches: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ceilings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    extras: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def extra(self, key: tuple[str, str]) -> dict[str, Any]:
        return self.extras.setdefault(key, {})


@dataclass
class ScoreContext:
    """What scoring one rubric item may look at.

    ``zeroed``: the detail to show when a cheating or interfering failure zeroes everything;
    ``correct``: every case of the item's task passed; ``measured``: timings exist in this mode.
    """

    item: RubricItem
    cases: list[CaseResult]
    benches: list[BenchResult]
    zeroed: str | None
    correct: bool
    measured: bool
    not_measured_why: str
    failure: Failure | None = None
    task: Any = None  # the item's task (its spec)


Scored = tuple[float, bool, str]  # (points, measured, how)


class Kind:
    """Defaults shared by the kinds; each kind overrides what differs."""

    name = ""
    calls_per_case = 2  # the second call with new values in the same buffers: caching fails
    reasons: ClassVar[dict[str, Reason]] = {}  # failure reasons only this kind produces
    rubric_kinds: tuple[str, ...] = ()  # rubric items (besides correctness) this kind scores
    has_timing = True  # whether the time phase runs the submission again
    # The child only records each call; the grader's worker re-runs the recording to check
    # (GPU) and time it (grader.replaying). A kind that replays implements worker_run.
    replays = False
    # The grader's worker runs the phase (worker_run) instead of the submission's process: no
    # Python of the student's runs in it (a CUDA C source is compiled and launched by the
    # grader's host code, or the grader measures something of its own to compare with).
    check_in_worker = False
    time_in_worker = False
    starts_processes = False  # the child starts processes of its own (a launcher) for it
    scores_correctness = False  # correctness is scored by score_item, not all-or-nothing

    # -- parent: jobs ---------------------------------------------------------------------------

    def case_job(self, task: Task, mode: str) -> dict[str, Any]:
        """Fields a case's job carries besides its name, params and seeds."""
        return {}

    def baseline_path(self, task: Task, lab: Lab) -> Path | None:
        """A module timed in its own process alongside the reference (what speedups are over)."""
        return None

    def sources(self, task: Task, submission: Path) -> dict[str, Any]:
        """For a kind that runs in the worker: the submission's files its job carries."""
        return {}

    # -- child ----------------------------------------------------------------------------------

    def child_prepare(self, task: Task) -> Any:
        """Before the submission is imported (so its imports cannot replace what this holds)."""
        return None

    def child_check(
        self, h: ChildHarness, task: Task, module: Any, job: dict[str, Any], state: Any
    ) -> None:
        raise NotImplementedError

    def child_time(
        self, h: ChildHarness, task: Task, module: Any, job: dict[str, Any], state: Any, timer: Any
    ) -> None:
        """Nothing to time by default: the check phase measured everything."""

    def worker_run(self, h: ChildHarness, task: Task, job: dict[str, Any], timer: Any) -> None:
        """In the grader's worker: check or time the recorded calls (``replays`` kinds)."""
        raise NotImplementedError

    # -- parent: judgement ----------------------------------------------------------------------

    def judge_call(
        self, task: Task, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        raise NotImplementedError

    def read_reference(self, task: Task, frames: list[Frame], reference: ReferenceRun) -> None:
        """Collect what the reference's timing process measured for this kind."""

    def judge_bench(
        self,
        task: Task,
        bench: Benchmark,
        frame: Frame | None,
        reference: ReferenceRun,
    ) -> tuple[BenchResult, list[CaseResult]]:
        raise NotImplementedError

    def after_bench(
        self, task: Task, frame: Frame, trace_dir: Path | None, stem: str
    ) -> Path | None:
        """A file the parent keeps from a timed benchmark (a trace for Perfetto), if any."""
        return None

    # -- scoring and report ---------------------------------------------------------------------

    def score_item(self, ctx: ScoreContext) -> Scored:
        raise ValueError(f"the {self.name} kind does not score {ctx.item.kind!r} items")

    charts_in = "time"  # the report section this kind's charts go in: "check" or "time"

    def how_checked(self, task: Task) -> str:
        return ""

    def timing_note(self, copy_bw: float | None) -> str:
        """How this kind's benchmarks were timed, in a sentence the report shows."""
        return ""

    def charts(self, result: Any, tasks: list[Task]) -> list[str]:
        return []

    def notes(self, bench: BenchResult) -> list[str]:
        """Sentences the report shows under a benchmark (what a fixture's ``mentions`` match)."""
        return []


def error_result(task_name: str, params: dict[str, Any], frame: Frame) -> CaseResult | None:
    """The failing result of a call that raised, or None when the call returned."""
    result = call_result(task_name, params, frame)
    return result if result.reason else None


def bench_frame_type(role: str) -> str:
    """A timed benchmark's frame type: "bench", or "<role>_bench" for a library ceiling."""
    return f"{role}_bench" if role else "bench"


def not_timed(task: Task, bench: Benchmark, frame: Frame | None) -> BenchResult | None:
    """The result of a benchmark whose frame says it was not timed, or None if it was."""
    result = BenchResult(task.name, bench.name, dict(bench.params), "not measured")
    if frame is not None and frame.header.get("status") == "timed":
        return None
    error = (frame.header.get("error") or {}) if frame else {}
    result.status = "error"
    result.message = str(error.get("message", "not timed: the run stopped earlier"))
    return result
