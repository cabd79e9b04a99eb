"""Grading a class: one Grader per GPU (or per worker), each pinned to its device, sharing a
queue of submissions; or chunks of the class as jobs on a Slurm cluster through submitit, whose
local executor runs the same path as subprocesses of this machine.

Whichever way it ran, the gradebook is the same: one row per student, sorted by name, made
from each student's own row file (``OUT/<student>/row.json``). A batch can be resumed: a
student with a row file is skipped unless asked to regrade. The batch's secret (mixed into
every seed) is stored for the instructor in ``OUT/batch.json`` (mode 0600), so that a batch can
be run again with the same inputs; it never appears in a student's report, and the sandbox
hides ``OUT`` from every submission.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import queue
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import labs
from grader.report import write_report
from grader.runner import Grader, Options, QuietProgress
from grader.timing import StopRule

ROW_FILE = "row.json"
BATCH_FILE = "batch.json"
COLUMNS = (
    "student",
    "points",
    "max_points",
    "not_measured",
    "failure",
    "flags",
    "report",
    "sandbox",
    "device",
)


RESERVED = {BATCH_FILE, "gradebook.csv", "submitit"}


def safe_name(name: str) -> str:
    """A student's name as a folder of results inside OUT: letters, digits, ``.``, ``_`` and
    ``-`` only, never a dot first (no ``..``, nothing hidden), never one of the batch's own
    files."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".-")[:100] or "student"
    return f"{cleaned}_" if cleaned in RESERVED else cleaned


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text: one starting with ``= + - @`` (or a tab or a
    carriage return) would be run as a formula, so it gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to grade its share, as plain data (submitit pickles it)."""

    lab: str
    out: str
    secret: str
    samples: int = 50
    mode: str = "auto"
    sandbox: str = "require"
    timeout_s: float | None = None
    hide: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    submission: str  # the file to grade
    student: str  # the name of its folder of results


@dataclass
class Batch:
    settings: Settings
    assignments: list[Assignment]
    skipped: list[str] = field(default_factory=list)  # graded before, not asked to regrade


def options(settings: Settings, device: int | None) -> Options:
    env = {"CUDA_VISIBLE_DEVICES": str(device)} if device is not None else {}
    return Options(
        mode=settings.mode,
        secret=settings.secret,
        timeout_s=settings.timeout_s,
        stop_rule=StopRule(fixed=settings.samples),
        sandbox=settings.sandbox,
        hide=[Path(p) for p in settings.hide],
        extra_env=env,
    )


def stored_secret(out: Path) -> str | None:
    """The secret of the batch already in ``out``, if there is one."""
    try:
        return str(json.loads((out / BATCH_FILE).read_text())["secret"])
    except (OSError, ValueError, KeyError):
        return None


def store(settings: Settings) -> None:
    """Write the batch's settings and secret where only the instructor reads them."""
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / BATCH_FILE
    record = {**asdict(settings), "created": dt.datetime.now(dt.timezone.utc).isoformat()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2)
    os.chmod(path, 0o600)


def plan(settings: Settings, assignments: Sequence[Assignment], regrade: bool) -> Batch:
    """The assignments still to grade (all of them with ``regrade``)."""
    out = Path(settings.out)
    todo, skipped = [], []
    for a in assignments:
        if not regrade and (out / safe_name(a.student) / ROW_FILE).is_file():
            skipped.append(a.student)
        else:
            todo.append(a)
    return Batch(settings, todo, skipped)


ResultsJson = Callable[[Any], dict[str, Any]]  # RunResult -> Gradescope's results.json


def grade_one(
    grader: Grader, settings: Settings, assignment: Assignment, results_json: ResultsJson
) -> dict[str, Any]:
    """One student's row, its report and its Gradescope results. A failure of the grader itself
    on this submission is recorded in its row, and the batch goes on."""
    out = Path(settings.out) / safe_name(assignment.student)
    row: dict[str, Any] = {
        "student": assignment.student,
        "points": 0.0,
        "max_points": grader.lab.max_points,
        "not_measured": 0.0,
        "failure": "",
        "flags": "",
        "report": "",
        "sandbox": "bubblewrap" if grader.bwrap else "none (--no-sandbox)",
        "device": grader.options.extra_env.get("CUDA_VISIBLE_DEVICES", ""),
        "headline": "",
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        result = grader.grade(Path(assignment.submission), student=assignment.student, graded=True)
        html, _ = write_report(result, out, grader.lab.name)
        (out / "results.json").write_text(json.dumps(results_json(result), indent=2))
        row.update(
            points=result.points,
            not_measured=result.unmeasured_points,
            failure=result.failure.reason if result.failure else "",
            flags=" | ".join(result.flags),
            report=str(html.relative_to(Path(settings.out))),
            headline=result.headline,
        )
    except Exception as exc:  # the grader's own fault: say so, keep grading the class
        row.update(
            failure="infrastructure",
            flags=f"the grader failed on this submission: {type(exc).__name__}: {exc}"[:500],
            headline=f"not graded: the grader failed ({type(exc).__name__})",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ROW_FILE).write_text(json.dumps(row, indent=2))
    except OSError as exc:  # the batch goes on; the gradebook says this row was not kept
        row["flags"] = f"{row['flags']} | its row could not be written: {exc}".strip(" |")
    return row


def grade_chunk(
    settings: Settings,
    assignments: Sequence[Assignment],
    results_json: ResultsJson,
    device: int | None = None,
) -> list[dict[str, Any]]:
    """A worker's share, graded in order by one Grader (the reference timed once, on its
    device). What a submitit job runs."""
    grader = Grader(labs.get(settings.lab), options(settings, device), QuietProgress())
    return [grade_one(grader, settings, a, results_json) for a in assignments]


def run_local(
    batch: Batch,
    devices: Sequence[int | None],
    results_json: ResultsJson,
    on_row: Callable[[dict[str, Any], int, int], None] | None = None,
    on_start: Callable[[Assignment, int | None], None] | None = None,
) -> list[dict[str, Any]]:
    """One thread per device, each with its own Grader pinned to its device, taking the next
    submission from a shared queue until none is left."""
    todo: queue.Queue[Assignment] = queue.Queue()
    for a in batch.assignments:
        todo.put(a)
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(device: int | None) -> None:
        try:
            grader = Grader(
                labs.get(batch.settings.lab), options(batch.settings, device), QuietProgress()
            )
            while True:
                try:
                    assignment = todo.get_nowait()
                except queue.Empty:
                    return
                if on_start:
                    on_start(assignment, device)
                try:
                    row = grade_one(grader, batch.settings, assignment, results_json)
                except Exception as exc:  # never lose the rest of the class to one student
                    row = {
                        "student": assignment.student,
                        "failure": "infrastructure",
                        "flags": f"the grader failed: {type(exc).__name__}: {exc}"[:500],
                        "headline": "not graded: the grader failed",
                    }
                with lock:
                    rows.append(row)
                    if on_row:
                        on_row(row, len(rows), len(batch.assignments))
        except BaseException as exc:  # a worker that cannot start: the others carry on
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,), daemon=True) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors and len(rows) < len(batch.assignments):
        raise RuntimeError(f"a grading worker failed: {errors[0]}") from errors[0]
    return rows


def run_submitit(
    batch: Batch,
    jobs: int,
    cluster: str | None,
    parameters: dict[str, Any],
    results_json: ResultsJson,
    on_row: Callable[[dict[str, Any], int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The class in ``jobs`` chunks, one submitit job each (a Slurm job array on a cluster,
    subprocesses of this machine with ``cluster="local"``)."""
    import submitit

    chunks = [batch.assignments[i::jobs] for i in range(jobs)]
    chunks = [c for c in chunks if c]
    folder = Path(batch.settings.out) / "submitit" / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**parameters)
    count = len(chunks)
    submitted = executor.map_array(
        grade_chunk, [batch.settings] * count, chunks, [results_json] * count
    )
    rows: list[dict[str, Any]] = []
    for job in submitted:
        for row in job.result():
            rows.append(row)
            if on_row:
                on_row(row, len(rows), len(batch.assignments))
    return rows


def gradebook(settings: Settings, students: Sequence[str]) -> Path:
    """``OUT/gradebook.csv`` from every student's row file, sorted by name: the same however
    the batch ran, and whether it ran in one go or was resumed."""
    out = Path(settings.out)
    rows = []
    for student in sorted(set(students)):
        try:
            row = json.loads((out / safe_name(student) / ROW_FILE).read_text())
        except (OSError, ValueError):
            row = {"student": student, "failure": "not graded"}
        rows.append({k: csv_cell(row.get(k, "")) for k in COLUMNS})
    path = out / "gradebook.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path
