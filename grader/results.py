"""What one grading run found: the facts the HTML report, the JSON file and the terminal share."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.check import CaseResult
from grader.timing import TimingStats


@dataclass
class Failure:
    """The submission-level reason for a failure, when there is one."""

    reason: str
    title: str
    message: str
    hint: str = ""
    traceback: str = ""
    diagnostics: str = ""  # e.g. compute-sanitizer's report of the faulting kernel


@dataclass
class BenchResult:
    task: str
    bench: str
    params: dict[str, Any]
    status: str  # "timed", "error", "not measured"
    student: TimingStats | None = None
    reference: TimingStats | None = None
    speedup: float | None = None  # reference median / student median
    traffic_bytes: int | None = None  # the fewest bytes the task must move
    floor_s: float | None = None  # traffic bytes / copy bandwidth measured in the same run
    bandwidth_bytes_per_s: float | None = None
    fraction_of_copy_bandwidth: float | None = None
    flags: list[str] = field(default_factory=list)
    message: str = ""
    # Pipelines (lab 1): everything is measured against the serial baseline in the same run.
    baseline: TimingStats | None = None
    baseline_speedup: float | None = None  # baseline median / student median
    reference_baseline_speedup: float | None = None  # the same for the reference solution
    trace: dict[str, Any] | None = None  # grader.trace.TraceSummary.figures()
    reference_trace: dict[str, Any] | None = None
    timeline: dict[str, Any] | None = None  # what the report draws
    blocking_calls: list[dict[str, Any]] = field(default_factory=list)  # from the call log
    event_timing_error: float | None = None  # median |student ms - grader ms| / grader ms
    # Compute-bound kernels (lab 2): FLOP/s, and the library ceiling timed with the reference.
    flops: int | None = None
    flops_per_s: float | None = None
    reference_flops_per_s: float | None = None
    library: TimingStats | None = None
    library_name: str = ""
    library_flops_per_s: float | None = None
    share_of_library: float | None = None  # library median / student median
    # Whatever else a kind measured for this benchmark (lab 3: the stage sweep, latencies).
    extra: dict[str, Any] | None = None

    @property
    def intensity(self) -> float:
        """FLOP per byte of the fewest bytes moved (the roofline's x); 0 if unknown."""
        return self.flops / self.traffic_bytes if self.flops and self.traffic_bytes else 0.0


# What a rubric line's points are. "scored": earned (or lost) by what was measured;
# "not measured": no measurement could be made here (no GPU, the reference run failed), so the
# points are left out of the score until one is (``measured`` is False, and they count in
# ``unmeasured_points``); "not counted": the item counts only once its task is correct, and it
# is not, so its points are 0 and no amount of speed changes that (``measured`` stays True: the
# score is final). The report, the JSON, the terminal and Gradescope all show this status.
SCORED, NOT_MEASURED, NOT_COUNTED = "scored", "not measured", "not counted"


@dataclass
class RubricLine:
    task: str
    kind: str
    points: float
    max_points: float
    measured: bool
    detail: str
    status: str = ""  # SCORED, NOT_MEASURED or NOT_COUNTED; "" reads as measured says

    def __post_init__(self) -> None:
        if not self.status:
            self.status = SCORED if self.measured else NOT_MEASURED

    @property
    def shown_points(self) -> str:
        """The points as the report and the terminal show them: a dash where none count."""
        return f"{self.points:g}" if self.status == SCORED else "-"


@dataclass
class PhaseLog:
    phase: str
    returncode: int | None
    wall_s: float
    stdout: str
    stderr: str
    output_bytes: int


@dataclass
class RunResult:
    lab: str
    lab_title: str
    submission: str
    student: str
    mode: str  # "gpu" or "simulator"
    device: dict[str, Any]
    started_at: str
    seconds: float
    points: float
    max_points: float
    unmeasured_points: float
    headline: str
    next_steps: list[str]
    rubric: list[RubricLine]
    cases: list[CaseResult]
    benches: list[BenchResult]
    ceilings: dict[str, Any]
    failure: Failure | None
    flags: list[str]
    not_measured: list[str]
    logs: list[PhaseLog]
    limits: dict[str, Any]
    graded: bool = False  # True under `cwb grade` (secret seeds, fixed sample counts)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase
    reference_source: str = ""  # timed in this run, or kept from an earlier one (and why)

    @property
    def not_counted_points(self) -> float:
        """Points of items that count only once their task is correct, which it is not."""
        return sum(line.max_points for line in self.rubric if line.status == NOT_COUNTED)

    def speed_figures(self) -> list[tuple[str, float]]:
        """Each timed task's speed as its rubric rates it, for a leaderboard: the geometric mean
        over its benchmarks of its share of the library ceiling timed in the same run (where
        there is one), else its speed-up over its baseline (lab 1's serial pipeline, lab 3's
        synchronous kernel), else over the reference. Only a task whose every item was scored
        and none of whose benchmarks was flagged has one: a leaderboard never shows a number a
        person has yet to look at."""
        figures = []
        for task in dict.fromkeys(b.task for b in self.benches):
            lines = [x for x in self.rubric if x.task == task and x.kind != "correctness"]
            benches = [b for b in self.benches if b.task == task]
            if not lines or any(x.status != SCORED for x in lines):
                continue
            if any(b.status != "timed" or b.flags for b in benches):
                continue
            for name, ratios, scale in (
                (
                    f"{task}: % of {benches[0].library_name or 'the library'}",
                    [b.share_of_library for b in benches],
                    100.0,
                ),
                (
                    f"{task}: speed-up over its baseline",
                    [b.baseline_speedup for b in benches],
                    1.0,
                ),
                (f"{task}: speed-up over the reference", [b.speedup for b in benches], 1.0),
            ):
                if all(r is not None and math.isfinite(r) and r > 0 for r in ratios):
                    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                    figures.append((name, round(scale * mean, 4)))
                    break
        return figures

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for case, row in zip(self.cases, data["cases"], strict=True):
            row["status"] = case.status
        data["not_counted_points"] = self.not_counted_points
        return _clean(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """A result read back from its JSON file (the inverse of :meth:`to_dict`)."""

        def build(kind: type, row: dict[str, Any] | None) -> Any:
            if row is None:
                return None
            return kind(**{k: v for k, v in row.items() if k in kind.__dataclass_fields__})

        def bench(row: dict[str, Any]) -> BenchResult:
            result = build(BenchResult, row)
            for name in ("student", "reference", "baseline", "library"):
                stats = row.get(name)
                setattr(result, name, TimingStats.from_dict(stats) if stats else None)
            return result

        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields.update(
            rubric=[build(RubricLine, row) for row in data.get("rubric", [])],
            cases=[build(CaseResult, row) for row in data.get("cases", [])],
            benches=[bench(row) for row in data.get("benches", [])],
            failure=build(Failure, data.get("failure")),
            logs=[build(PhaseLog, row) for row in data.get("logs", [])],
        )
        return cls(**fields)

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
