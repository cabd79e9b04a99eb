"""`cwb`: the workbench's command line.

\b
cwb list                  the labs
cwb run lab0              grade your lab 0 stub -> reports/lab0.html
cwb grade lab0 subs/*/    grade a class (secret seeds, gradebook, Gradescope)
cwb selftest lab0 | all   the grader against its own fixtures
cwb profile lab1          a lab under its profiler (nsys, CUPTI, ncu)
cwb doctor                what this machine can do
cwb calibrate             on a GPU: the timer against do_bench; grading spread
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import labs
from grader import batch, probe
from grader.gradescope import gradescope
from grader.probe import gpu_count, resolve_mode
from grader.progress import RichProgress
from grader.report import write_report
from grader.results import RunResult
from grader.runner import Grader, Options, QuietProgress, SandboxUnavailable
from grader.spec import ROOT, Lab

console = Console()
MODES = click.Choice(["auto", "gpu", "simulator"])


def _lab(name: str) -> Lab:
    try:
        return labs.get(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0])) from None


def _summary(result: RunResult) -> None:
    """The terminal's account of a run. Every text that came from the submission's process is
    escaped: rich markup in an exception's message is shown, not obeyed."""
    colour = "green" if result.points == result.max_points - result.unmeasured_points else "red"
    if result.failure is None and result.unmeasured_points:
        colour = "yellow"
    console.print(f"[bold]{escape(result.lab_title)}[/]: [{colour}]{escape(result.headline)}[/]")
    table = Table(show_header=True, header_style="bold")
    for column in ("task", "item", "points", "how"):
        table.add_column(column)
    for line in result.rubric:
        how = escape(line.detail) if line.status == "scored" else f"[dim]{escape(line.detail)}[/]"
        table.add_row(line.task, line.kind, f"{line.shown_points} / {line.max_points:g}", how)
    console.print(table)
    if result.phase_seconds:
        spent = ", ".join(f"{name} {sec:.1f} s" for name, sec in result.phase_seconds.items())
        console.print(f"[dim]{result.seconds:.1f} s in all: {spent}[/]")
    if result.reference_source:
        console.print(f"[dim]The reference: {escape(result.reference_source)}[/]")
    failing = [c for c in result.cases if not c.passed and c.reason != "not_run"]
    if result.failure is not None and not failing:
        console.print(f"[red]{escape(result.failure.title)}[/]: {escape(result.failure.message)}")
    if failing:
        first = failing[0]
        console.print(f"[red]{escape(first.case)}[/]: {escape(first.message)}")
        for mismatch in first.mismatches[:3]:
            console.print(f"    {escape(mismatch)}")
    if result.failure is not None and result.failure.traceback:
        console.print(escape(result.failure.traceback.rstrip()), highlight=False)
    for step in result.next_steps:
        console.print(f"[bold]next:[/] {escape(step)}")
    for flag in result.flags:
        console.print(f"[yellow]flag:[/] {escape(flag)}")
    if not result.limits.get("sandboxed", True):
        console.print(f"[dim]containment: {escape(str(result.limits.get('sandbox', '')))}[/]")


@click.group(help=__doc__)
def main() -> None:
    pass


@main.command("list")
def list_labs() -> None:
    """The labs, in course order."""
    table = Table("lab", "title", "tasks", "points", "handout")
    for lab in labs.all_labs():
        table.add_row(
            lab.name,
            lab.title,
            ", ".join(t.name for t in lab.tasks),
            f"{lab.max_points:g}",
            str(lab.handout.relative_to(ROOT)),
        )
    console.print(table)


def _options(mode: str, timeout: float | None, **kwargs) -> Options:
    _gpu_mode_needs_a_gpu(mode)
    return Options(mode=mode, timeout_s=timeout, **kwargs)


def _gpu_mode_needs_a_gpu(mode: str) -> None:
    """`--mode gpu` on a machine with no NVIDIA driver: say so before grading anything."""
    if mode == "gpu" and probe.no_driver():
        raise click.ClickException(
            "--mode gpu needs an NVIDIA GPU, and this machine has no NVIDIA driver (no "
            "/dev/nvidia* and no nvidia-smi). Leave out --mode to check correctness under "
            "numba's simulator here, and grade on a GPU machine for the timed points."
        )


def _grader(lab: Lab, options: Options, progress) -> Grader:
    try:
        return Grader(lab, options, progress)
    except SandboxUnavailable as exc:
        raise click.ClickException(
            f"no sandbox on this machine: {exc}. Install bubblewrap, or pass --no-sandbox to "
            "grade with process isolation only (the gradebook then says so)."
        ) from None


NO_SANDBOX = click.option(
    "--no-sandbox",
    is_flag=True,
    help="process isolation only (no bubblewrap): for your own code on your own machine",
)


@main.command()
@click.argument("lab_name", metavar="LAB")
@click.option("--submission", type=click.Path(path_type=Path), help="default: the lab's student.py")
@click.option("--mode", type=MODES, default="auto", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "reports", show_default=True)
@click.option("--timeout", type=float, help="seconds per process (default: the lab's)")
@click.option(
    "--fresh-reference",
    is_flag=True,
    help="time the reference solution again even if a probe finds the GPU as when it was kept",
)
@NO_SANDBOX
def run(
    lab_name: str,
    submission: Path | None,
    mode: str,
    out: Path,
    timeout: float | None,
    fresh_reference: bool,
    no_sandbox: bool,
) -> None:
    """Grade your work on LAB and write reports/LAB.html."""
    lab = _lab(lab_name)
    options = _options(
        mode,
        timeout,
        sandbox="off" if no_sandbox else "auto",
        reference_cache=not fresh_reference,
    )
    options.trace_dir = out
    with RichProgress() as progress:
        grader = _grader(lab, options, progress)
        result = grader.grade(submission or lab.student_path, student="you")
    html, js = write_report(result, out, lab.name)
    _summary(result)
    console.print(f"Report: [link=file://{html.resolve()}]{html}[/link]  (JSON: {js})")
    trace = out / f"{lab.name}-trace.json.gz"
    if any(b.trace for b in result.benches) and trace.is_file():
        console.print(f"CUPTI trace of one call: {trace} (open it in ui.perfetto.dev)")


def _find_submission(path: Path, lab: Lab) -> Path:
    if path.is_dir():
        for candidate in (
            path / "student.py",
            path / lab.slug / "student.py",
            path / "labs" / lab.slug / "student.py",
        ):
            if candidate.is_file():
                return candidate
    return path


@main.command()
@click.argument("lab_name", metavar="LAB")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="default: reports/grades/LAB")
@click.option(
    "--secret",
    envvar="CWB_SECRET",
    help="mixed into every seed (default: the one stored in OUT/batch.json, else random)",
)
@click.option("--samples", type=int, default=50, show_default=True, help="timed samples each")
@click.option("--mode", type=MODES, default="auto", show_default=True)
@click.option("--timeout", type=float, help="seconds per process (default: the lab's)")
@click.option(
    "--gpus",
    default="all",
    show_default=True,
    help="GPUs to grade on, one grader each: 'all', a count, or a list like 0,2,3",
)
@click.option(
    "--workers",
    type=int,
    help="graders at once without a GPU (default: 1; with GPUs, one per GPU)",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "slurm"]),
    default="local",
    show_default=True,
    help="slurm: chunks of the class as a Slurm job array through submitit",
)
@click.option("--jobs", type=int, default=8, show_default=True, help="Slurm jobs (with slurm)")
@click.option("--partition", help="Slurm partition (with slurm)")
@click.option("--regrade", is_flag=True, help="grade again students already graded in OUT")
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="grade without bubblewrap (process isolation only); the gradebook says so",
)
def grade(
    lab_name: str,
    submissions: tuple[Path, ...],
    out: Path | None,
    secret: str | None,
    samples: int,
    mode: str,
    timeout: float | None,
    gpus: str,
    workers: int | None,
    executor: str,
    jobs: int,
    partition: str | None,
    regrade: bool,
    no_sandbox: bool,
) -> None:
    """Grade many SUBMISSIONS (files, or folders holding student.py) of LAB.

    Each gets fresh processes, the same secret seeds and a fixed number of timed samples; one
    failure never stops the batch. Writes a report and a Gradescope results.json per student,
    and gradebook.csv. With several GPUs, one grader per GPU takes submissions from a shared
    queue. Run it again to resume: students already graded in OUT are skipped (--regrade to
    grade them again, with the same stored secret).
    """
    lab = _lab(lab_name)
    _gpu_mode_needs_a_gpu(mode)
    out = (out or ROOT / "reports" / "grades" / lab.name).resolve()
    names = _student_names(submissions, lab)
    # Every student's process sees neither the batch's output nor the other submissions.
    folders = {
        Path(s).resolve().parent if Path(s).is_file() else Path(s).resolve() for s in submissions
    }
    settings = batch.Settings(
        lab=lab.name,
        out=str(out),
        secret=secret or batch.stored_secret(out) or secrets.token_hex(16),
        samples=samples,
        mode=mode,
        sandbox="off" if no_sandbox else "require",
        timeout_s=timeout,
        hide=tuple(str(p) for p in [out, *{f.parent for f in folders}]),
    )
    if not no_sandbox and executor == "local":
        _grader(lab, batch.options(settings, None), QuietProgress())  # fails early, clearly
    assignments = [
        batch.Assignment(str(_find_submission(given, lab)), name)
        for given, name in zip(submissions, names, strict=True)
    ]
    plan = batch.plan(settings, assignments, regrade)
    batch.store(settings)
    if plan.skipped:
        console.print(
            f"{len(plan.skipped)} already graded in {out} (kept; --regrade to grade them again)"
        )

    def shown(row: dict, done: int, total: int) -> None:
        console.print(f"[{done}/{total}] {escape(row['student'])}: {escape(row['headline'])}")

    if plan.assignments and executor == "slurm":
        parameters = {"timeout_min": 60 * 4, "gpus_per_node": 1, "slurm_partition": partition}
        batch.run_submitit(
            plan,
            jobs,
            None,
            {k: v for k, v in parameters.items() if v is not None},
            gradescope,
            shown,
        )
    elif plan.assignments:
        devices = _devices(gpus, workers, settings)
        console.print(
            f"Grading {len(plan.assignments)} submissions with {len(devices)} grader(s)"
            + (f" on GPUs {', '.join(str(d) for d in devices)}" if devices[0] is not None else "")
        )

        def started(assignment: batch.Assignment, device: int | None) -> None:
            where = f" on GPU {device}" if device is not None else ""
            console.print(f"[dim]grading {escape(assignment.student)}{where} ...[/]")

        batch.run_local(plan, devices, gradescope, shown, started)
    path = batch.gradebook(settings, names)
    containment = "none (--no-sandbox)" if no_sandbox else "bubblewrap"
    console.print(f"Gradebook: {path}  (containment: {containment})")


def _devices(gpus: str, workers: int | None, settings: batch.Settings) -> list[int | None]:
    """The GPU each local grader is pinned to (None: no GPU, or the simulator)."""
    count = gpu_count() if resolve_mode(settings.mode) == "gpu" else 0
    if count == 0:
        # Without a sandbox the graders' processes are told apart by the grader's subreaper,
        # which one grader at a time can do safely.
        return [None] * (1 if settings.sandbox == "off" else max(1, workers or 1))
    if gpus == "all":
        chosen = list(range(count))
    elif gpus.isdigit():
        chosen = list(range(min(int(gpus), count)))
    else:
        try:
            chosen = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError:
            raise click.BadParameter(f"--gpus {gpus!r}: 'all', a count or a list") from None
        missing = [g for g in chosen if not 0 <= g < count]
        if missing:
            raise click.BadParameter(f"--gpus: this machine has GPUs 0..{count - 1}")
    if not chosen:
        raise click.BadParameter("--gpus: no GPU chosen")
    if settings.sandbox == "off":
        return chosen[:1]
    return chosen * max(1, (workers or len(chosen)) // len(chosen))


def _student_names(submissions: tuple[Path, ...], lab: Lab) -> list[str]:
    """One name per submission, for its folder of results: the folder's name, or the file's
    (a file called like the stub is named after its folder); duplicates get a suffix."""
    names: list[str] = []
    for given in submissions:
        if given.is_dir() or given.name == lab.student_path.name:
            name = (given if given.is_dir() else given.parent).resolve().name
        else:
            name = given.stem
        base = batch.safe_name(name)
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


@main.command()
@click.argument("lab_names", nargs=-1, metavar="LAB... | all")
@click.option("--mode", type=MODES, default="auto", show_default=True)
@click.option("--only", default="", help="only fixtures whose name contains this")
@click.option("--timeout", type=float, help="seconds per process (default: the lab's)")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=ROOT / "reports" / "selftest",
    show_default=True,
)
@NO_SANDBOX
def selftest(
    lab_names: tuple[str, ...],
    mode: str,
    only: str,
    timeout: float | None,
    out: Path,
    no_sandbox: bool,
) -> None:
    """The reference gets full marks; every known-wrong submission gets 0 for its reason."""
    from grader.selftest import run_selftest

    names = labs.names() if not lab_names or "all" in lab_names else list(lab_names)
    failed = 0
    for name in names:
        lab = _lab(name)
        with RichProgress() as progress:
            options = _options(mode, timeout, sandbox="off" if no_sandbox else "auto")
            grader = _grader(lab, options, progress)
            console.print(f"[bold]selftest {lab.name}[/] ({grader.mode}; {grader.containment})")

            def show(row, lab=lab) -> None:
                console.print(
                    f"  {escape(row.fixture)}: {_VERDICT[row.ok]} {_points(row)} "
                    f"{escape(row.reason or '')}"
                )
                if row.result is not None:
                    write_report(row.result, out / lab.name, row.fixture.replace("/", "__"))

            rows = run_selftest(grader, on_row=show, only=only)
        console.print(_selftest_table(lab, rows, console.width))
        failed += sum(row.ok is False for row in rows)
    if failed:
        console.print(f"[red]{failed} fixture(s) were not graded as expected[/]")
        sys.exit(1)
    console.print("[green]every fixture was graded as expected[/]")


_VERDICT = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]skipped[/]"}


def _points(row) -> str:
    return "-" if row.points is None else f"{row.points:g}/{row.max_points:g}"


def _selftest_table(lab: Lab, rows: list, width: int) -> Table:
    """The selftest's rows at any terminal width: fixture names, points and verdicts whole;
    the expectation and the reason wrap; the message (its first line) gets what room is left,
    cut short, and is left out below 16 columns of it (each fixture's report has it)."""
    cells = [
        (row.fixture, row.expected, _points(row), row.reason or "", row.ok, row.message)
        for row in rows
    ]

    def longest(i: int, header: str) -> int:
        return max([len(header)] + [len(str(c[i])) for c in cells])

    fixture, points, verdict = longest(0, "fixture"), longest(2, "points"), len("skipped")
    expected, reason = longest(1, "expected"), longest(3, "reason")
    # Each column takes 3 characters more than its text (a border and padding), the table 1.
    room = width - fixture - points - verdict - 3 * 5 - 1
    message = room - expected - reason - 3
    if message < 16:  # no message: the wrapped columns share what room there is
        message = 0
        if expected + reason > room:  # the reason (a name) whole where it can be
            reason = max(8, min(reason, room - 10))
            expected = max(8, room - reason)
    table = Table(title=f"selftest {lab.name}")
    table.add_column("fixture", no_wrap=True, min_width=fixture)
    table.add_column("expected", overflow="fold", width=expected)
    table.add_column("points", no_wrap=True, min_width=points)
    table.add_column("reason", overflow="fold", width=reason)
    table.add_column("verdict", no_wrap=True, min_width=verdict)
    if message:
        table.add_column("message", no_wrap=True, overflow="ellipsis", max_width=message)
    else:
        table.caption = "messages: in each fixture's report (a wider terminal shows them here)"
    for name, expect, got, why, ok, text in cells:
        row = [escape(name), escape(expect), got, escape(why), _VERDICT[ok]]
        if message:
            row.append(escape((text.splitlines() or [""])[0]))
        table.add_row(*row)
    return table


@main.command()
@click.argument("lab_name", metavar="LAB")
@click.option("--submission", type=click.Path(path_type=Path), help="default: the lab's student.py")
def profile(lab_name: str, submission: Path | None) -> None:
    """LAB under its profiler: nsys where installed, else the CUPTI trace (lab 1); Nsight
    Compute (lab 2)."""
    lab = _lab(lab_name)
    if not lab.profile:
        raise click.ClickException(
            f"{lab.name} has no profiler step; its report (cwb run {lab.name}) shows the timings"
        )
    cmd = [sys.executable, "-m", lab.profile, "--lab", lab.name]
    if submission:
        cmd += ["--submission", str(submission)]
    nsys = shutil.which("nsys") if lab.profile_nsys else None
    if nsys:
        report = ROOT / "reports" / f"{lab.name}-nsys"
        wrap = [nsys, "profile", "-t", "cuda,nvtx", "-o", str(report), "--force-overwrite", "true"]
        cmd = [*wrap, *cmd]
        console.print(f"nsys: the timeline goes to {report}.nsys-rep")
    elif lab.profile_nsys:
        console.print("nsys is not installed here: keeping the CUPTI trace instead")
    sys.exit(subprocess.call(cmd, cwd=ROOT))


@main.command()
def doctor() -> None:
    """What GPU, driver, CUDA, CuPy, numba and profilers this machine has."""
    from grader.doctor import examine

    facts, conclusions = examine()
    mark = {True: "[green]yes[/]", False: "[red]no[/]", None: ""}
    table = Table("", "found", "", title="This machine")
    for f in facts:
        table.add_row(f.name, f.value, mark[f.ok])
    console.print(table)
    table = Table("", "how", "", title="What will work")
    for f in conclusions:
        table.add_row(f.name, f.value, mark[f.ok])
    console.print(table)


@main.command()
@click.option("--repeats", type=int, default=5, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "reports" / "calibrate")
def calibrate(repeats: int, out: Path) -> None:
    """On a GPU: the grader's timer against triton's do_bench; the spread of repeated grading."""
    from grader.calibrate import CalibrationUnavailable, run_calibration

    try:
        run_calibration(console, repeats=repeats, out=out)
    except CalibrationUnavailable as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
