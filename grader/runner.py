"""Grade one submission of one lab, end to end: the orchestration, and nothing else.

    static checks (parent)  ->  check phase (child)  ->  time phase (child, GPU only)  ->  score

Each phase runs in a fresh sandboxed process (:mod:`grader.sandbox`); what it sends back is
judged in this process by the task's kind (:mod:`grader.judge`, :mod:`grader.kinds`). The
reference solution is timed in the same run (:mod:`grader.reference_timing`), and a CUDA error
is re-run under compute-sanitizer (:mod:`grader.sanitizer`) to name the kernel.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from grader import (
    failures,
    judge,
    policy,
    reference_cache,
    replaying,
    sanitizer,
    score,
    submission_files,
    verdicts,
)
from grader.check import CaseResult
from grader.jobs import bench_jobs, case_jobs, phase_job
from grader.kinds import kind_of
from grader.kinds.base import ReferenceRun
from grader.probe import NO_DEVICE, gpu_available, resolve_mode
from grader.reference_timing import time_reference
from grader.results import BenchResult, Failure, PhaseLog, RunResult
from grader.sandbox import (
    DEFAULT_OUTPUT_CAP,
    ChildOutcome,
    Limits,
    Phase,
    Sandbox,
    bubblewrap,
    grader_cache,
    run_child,
    why_no_sandbox,
)
from grader.spec import ROOT, Lab
from grader.timing import StopRule

__all__ = ["NO_DEVICE", "Grader", "Options", "gpu_available", "resolve_mode"]

SIMULATOR_NOTE = (
    "Performance was not measured: there is no CUDA device here. Correctness ran under numba's "
    "CUDA simulator at small sizes. Once every task is correct here, run it on an NVIDIA GPU "
    "for the points that need timing."
)


class Progress(Protocol):
    def stage(self, text: str) -> None: ...

    def update(self, done: int, total: int, text: str) -> None: ...


class QuietProgress:
    def stage(self, text: str) -> None:
        pass

    def update(self, done: int, total: int, text: str) -> None:
        pass


@dataclass
class Options:
    mode: str = "auto"  # "auto", "gpu" or "simulator"
    secret: str | None = None  # grading mode: mixed into every seed
    timeout_s: float | None = None  # per child process; the lab's own limit otherwise
    stop_rule: StopRule = field(default_factory=StopRule)
    sanitize: bool = True  # re-run a CUDA error under compute-sanitizer to name the kernel
    output_cap: int = DEFAULT_OUTPUT_CAP
    trace_dir: Path | None = None  # pipelines: write each traced call here (Perfetto opens it)
    # "auto": bubblewrap where it works, process isolation alone (with a notice) elsewhere;
    # "require": refuse to grade without it (`cwb grade`); "off": process isolation alone.
    sandbox: str = "auto"
    hide: list[Path] = field(default_factory=list)  # more folders the sandbox shows empty
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the GPU: CUDA_VISIBLE_DEVICES
    # `cwb run`: use the reference's timed run kept from an earlier run on this machine when a
    # probe in this run finds the GPU as it was then (grader.reference_cache).
    reference_cache: bool = False


class SandboxUnavailable(RuntimeError):
    """Grading was asked to require a sandbox that this machine cannot provide."""


def resolve_sandbox(choice: str) -> tuple[str | None, str]:
    """(bwrap path or None, a sentence saying how submissions are contained)."""
    if choice not in ("auto", "require", "off"):
        raise ValueError(f"sandbox must be auto, require or off, not {choice!r}")
    found = bubblewrap() if choice != "off" else None
    if found:
        return found, "bubblewrap: own uid, pid and network namespaces, read-only files"
    if choice == "require":
        raise SandboxUnavailable(why_no_sandbox())
    why = "turned off" if choice == "off" else why_no_sandbox()
    return None, f"none ({why}): each submission runs in its own process group only"


class Grader:
    def __init__(self, lab: Lab, options: Options | None = None, progress: Progress | None = None):
        self.lab = lab
        self.options = options or Options()
        self.progress = progress or QuietProgress()
        self.mode = resolve_mode(self.options.mode)
        self.bwrap, self.containment = resolve_sandbox(self.options.sandbox)
        self._reference: ReferenceRun | None = None
        self.reference_source = ""  # how the reference's numbers were had, for the report
        self.reference_phase = ("timing the reference", 0.0)  # (what, seconds) for the report
        self.device: dict[str, Any] = {}

    @property
    def timeout_s(self) -> float:
        """The limit for a checking process (``--timeout`` overrides the lab's)."""
        if self.options.timeout_s:
            return self.options.timeout_s
        return self.lab.sim_timeout_s if self.mode == "simulator" else self.lab.timeout_s

    @property
    def time_timeout_s(self) -> float:
        """The limit for a timing process: never below the lab's, which sizes it for its data."""
        return max(self.timeout_s, self.lab.time_timeout_s)

    def case_jobs(self, task: Any) -> list[dict[str, Any]]:
        """The cases of ``task`` as this grader runs them (mode, secret seeds)."""
        return case_jobs(task, self.mode, self.options.secret)

    def _job(self, submission: Path, phase: str, **kwargs: Any) -> dict[str, Any]:
        return phase_job(
            self.lab,
            submission,
            phase,
            self.mode,
            self.options.secret,
            stop_rule=self.options.stop_rule,
            **kwargs,
        )

    def _run(self, job: dict[str, Any], label: str, **kwargs: Any) -> ChildOutcome:
        self.progress.stage(label)

        def on_frame(frame: Any) -> None:
            header = frame.header
            if frame.type == "progress":
                done, total = header.get("done"), header.get("total")
                if isinstance(done, int) and isinstance(total, int):
                    self.progress.update(done, total, str(header.get("text", ""))[:200])
            elif (
                frame.type == "hello" and not self.device and isinstance(header.get("device"), dict)
            ):
                device = header["device"]
                self.device = {str(k)[:40]: v for k, v in device.items() if _scalar(v)}

        extra_env = dict(self.options.extra_env)
        if self.mode == "simulator":
            extra_env["NUMBA_ENABLE_CUDASIM"] = "1"
        submission = Path(job.get("submission", ROOT))
        # The grader's own fixtures import the reference solutions, and the worker's run of
        # the reference times the baselines and library ceilings they hold. Nothing that runs
        # or compiles a student's code sees them: not the student's process, and not the
        # worker that compiles the student's CUDA C (an #include could reach them).
        worker = kwargs.get("module") == "grader.worker"
        names = [t.get("task") for t in job.get("tasks", [])]
        kwargs.setdefault(
            "allow_processes",
            any(kind_of(t).starts_processes for t in self.lab.tasks if t.name in names),
        )
        references = submission_files.reference_folders(self.lab)
        show = submission_files.is_ours(self.lab, submission) or (
            worker and bool(job.get("reference"))
        )
        sandbox = Sandbox(
            bwrap=self.bwrap,
            hide=[*self.options.hide, *([] if show else sorted(references))],
            show_reference=show,
            # CuPy's own kernels (fills, reductions) take ~0.4 s each to build with NVRTC (35
            # of them, 14 s, in lab 3's check on an H200): the worker keeps them between runs.
            # Only with the sandbox, which keeps every submission's process from writing there.
            # (A student's CUDA C is compiled by kernels/build.py, which keeps nothing on disk.)
            compile_cache=grader_cache() / "worker-cupy" if worker and self.bwrap else None,
        )
        return run_child(
            job,
            timeout_s=kwargs.pop("timeout_s", self.timeout_s),
            output_cap=self.options.output_cap,
            extra_env=extra_env,
            on_frame=on_frame,
            sandbox=sandbox,
            limits=Limits(memory_bytes=self._memory_limit(worker)),
            visible=submission_files.seen(self.lab, submission),
            **kwargs,
        )

    def _memory_limit(self, worker: bool) -> int:
        """A submission's process tree gets the lab's share of host memory; the grader's own
        worker (which makes every input set, and float64 expectations for the reference) may
        use three quarters of the machine's."""
        mine = int(self.lab.host_memory_gib * 2**30)
        if not worker:
            return mine
        try:
            machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return 4 * mine
        return max(mine, int(0.75 * machine))

    def reference(self) -> ReferenceRun:
        """The reference solution timed (once per Grader), with the ceilings; for `cwb run`,
        the run kept from an earlier one when this run's probe finds the GPU unchanged."""
        if self._reference is not None:
            return self._reference
        started = time.monotonic()
        cache_path = probe = None
        why_timed = ""
        if self.options.reference_cache and self.mode == "gpu" and not self.options.secret:
            cache_path = reference_cache.path_for(
                self.lab, reference_cache.key(self.lab, self.options.stop_rule)
            )
            probe = self._probe()
            cached = reference_cache.load(cache_path) if probe is not None else None
            if probe is None:
                why_timed = "the GPU probe failed"
            elif cached is None:
                why_timed = "none kept for this version on this machine"
            elif cached.device != reference_cache.device_identity(probe[0]):
                why_timed = "the one kept was timed on another GPU or driver"
            else:
                ok, how = reference_cache.agrees(cached.probe, probe[1])
                if ok:
                    self._reference = cached.run
                    self.reference_source = (
                        f"kept from {cached.saved_at} (timed then in {cached.seconds:.0f} s): "
                        f"this run's probe agrees within "
                        f"{100 * reference_cache.PROBE_TOLERANCE:.0f}%: {how}"
                    )
                    self.reference_phase = (
                        "probing the GPU for the kept reference",
                        round(time.monotonic() - started, 2),
                    )
                    return cached.run
                why_timed = f"the GPU is not as it was ({how})"
        self._reference = time_reference(
            self.lab,
            self._time_phase,
            lambda job, label: self._run(job, label, timeout_s=self.time_timeout_s),
            self.mode,
            self.options.secret,
            self.options.stop_rule,
        )
        seconds = time.monotonic() - started
        self.reference_source = "timed in this run" + (
            f" (a kept one was not used: {why_timed})" if why_timed else ""
        )
        self.reference_phase = ("timing the reference", round(seconds, 2))
        if cache_path is not None and probe is not None and not self._reference.error:
            try:
                reference_cache.save(cache_path, self._reference, probe[0], probe[1], seconds)
            except (OSError, TypeError, ValueError) as exc:
                self.reference_source += f"; it could not be kept ({exc})"
        return self._reference

    def _probe(self) -> tuple[dict[str, Any], dict[str, float]] | None:
        """(the device, the probe's numbers) from the grader's worker, or None if it failed."""
        job = {"lab": self.lab.name, "phase": "probe", "tasks": []}
        outcome = self._run(job, "probing the GPU", module="grader.worker")
        hello = outcome.of_type("hello")
        if failures.outcome_problem(outcome) or not hello:
            return None
        device = hello[0].header.get("device")
        ceilings = {f.header.get("name"): f.header for f in outcome.of_type("ceiling")}
        values = reference_cache.probe_values(ceilings)
        if not isinstance(device, dict) or len(values) < 2:
            return None
        return device, values

    def _worker_tasks(self, phase: str, names: list[str] | None = None) -> list[Any]:
        """The tasks whose ``phase`` the grader's worker runs (no submission code in it)."""
        flag = "check_in_worker" if phase == "check" else "time_in_worker"
        return [
            t
            for t in self.lab.tasks
            if getattr(kind_of(t), flag) and (names is None or t.name in names)
        ]

    def _worker_phase(
        self, submission: Path, phase: str, tasks: list[Any], label: str, reference: bool = False
    ) -> ChildOutcome:
        """Run worker-run tasks (no Python of the student's) for ``phase`` in the grader's
        worker, with the submission's sources in the job."""
        entries = []
        for task in tasks:
            entry: dict[str, Any] = {
                "task": task.name,
                **kind_of(task).sources(task, submission),
            }
            if phase == "check":
                entry["cases"] = self.case_jobs(task)
            else:
                entry["benchmarks"] = bench_jobs(task, self.options.secret, reference)
            entries.append(entry)
        job: dict[str, Any] = {"lab": self.lab.name, "phase": phase, "tasks": entries}
        if phase == "time":
            job["stop_rule"] = self.options.stop_rule.__dict__
            job.update(reference=reference, ceilings=reference)
        timeout = self.timeout_s if phase == "check" else self.time_timeout_s
        return self._run(job, label, module="grader.worker", timeout_s=timeout)

    def _time_phase(
        self,
        submission: Path,
        only: list[str],
        label: str,
        reference: bool = False,
        logs: list[PhaseLog] | None = None,
    ) -> tuple[Phase, list[CaseResult]]:
        """Time ``only`` (task names): in the submission's process for kinds that time there;
        recorded there and replayed and timed in the grader's worker for kinds that replay;
        wholly in the worker for kinds that run there. Returns every process's outcome, and a
        failed case for each recording refused."""
        logs = logs if logs is not None else []
        phase, refused = Phase(), []
        in_worker = self._worker_tasks("time", only)
        child_names = [n for n in only if n not in {t.name for t in in_worker}]
        if child_names:
            replayed = replaying.replaying_tasks(self.lab, child_names)
            job = self._job(
                submission,
                "time",
                only=child_names,
                reference=reference,
                ceilings=reference and not replayed,
            )
            label_child = f"recording {label}" if replayed else f"timing {label}"
            outcome = self._run(job, label_child, timeout_s=self.time_timeout_s)
            logs.append(_log("time", outcome))
            phase.outcomes.append(outcome)
            if replayed and failures.process_failure(outcome, "timing") is None:
                job, payload, refused = replaying.time_request(
                    self.lab, phase, replayed, self.options.secret, reference
                )
                job["stop_rule"] = self.options.stop_rule.__dict__
                worker = self._run(
                    job,
                    f"timing {label} (replayed by the grader)",
                    timeout_s=self.time_timeout_s,
                    module="grader.worker",
                    stdin_payload=payload,
                )
                logs.append(_log("time (replayed)", worker))
                phase.outcomes.append(worker)
        if in_worker:
            worker = self._worker_phase(submission, "time", in_worker, f"timing {label}", reference)
            logs.append(_log("time (grader's host code)", worker))
            phase.outcomes.append(worker)
        return phase, refused

    def _verify(self, outcome: Phase, cases: list[CaseResult], logs: list[PhaseLog]):
        """Re-run the recorded calls of every passing case in the grader's worker (GPU)."""
        if self.mode != "gpu" or not replaying.replaying_tasks(self.lab):
            return
        job, payload, seeds = replaying.verify_request(
            self.lab, outcome, cases, self.mode, self.options.secret
        )
        if not seeds:
            return
        worker = self._run(
            job, "re-running your kernels alone", module="grader.worker", stdin_payload=payload
        )
        logs.append(_log("check (replayed)", worker))
        problem = failures.outcome_problem(worker)
        replaying.judge_verify(self.lab, cases, worker, seeds, problem)

    # -- one submission -----------------------------------------------------------------------

    def grade(self, submission: Path, student: str = "", graded: bool = False) -> RunResult:
        started = time.monotonic()
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        # The folder may be a link an instructor made; the submission's own files may not be.
        submission = Path(submission).parent.resolve() / Path(submission).name
        logs: list[PhaseLog] = []
        benches: list[BenchResult] = []
        flags: list[str] = []
        phase_seconds: dict[str, float] = {}  # where the run's time went, for the report
        clock = time.monotonic()
        linked = submission_files.linked_file(self.lab, submission)
        if linked is not None:
            failure = failures.failure("linked_file", linked)
            cases = self._not_run(failure, [t.name for t in self.lab.tasks])
        else:
            cases, failure = self._check(submission, logs)
        phase_seconds["checking correctness"] = round(time.monotonic() - clock, 2)
        measured = self.mode == "gpu"
        not_measured_why = NO_DEVICE if self.mode == "simulator" else ""
        # Each task with benchmarks is timed once its own cases all pass: a wrong part A
        # does not cost part B its speed points. Cheating or interference stops everything.
        timeable = self._timeable(cases, failure)
        if measured and timeable:
            fresh = self._reference is None
            reference = self.reference()
            if fresh:  # a batch times the reference once, for its first submission
                what, seconds = self.reference_phase
                phase_seconds[what] = seconds
            if reference.error:
                measured = False
                not_measured_why = f"the reference run failed ({reference.error})"
                flags.append("infrastructure: " + reference.error)
            else:
                clock = time.monotonic()
                benches, time_failure = self._time(submission, timeable, reference, logs, cases)
                phase_seconds["timing your work"] = round(time.monotonic() - clock, 2)
                failure = failure or time_failure
        elif measured:
            not_measured_why = "correctness first"
        for bench in benches:
            flags.extend(f"{bench.task} {bench.bench}: {flag}" for flag in bench.flags)
        rubric = score.score(self.lab, cases, benches, failure, measured, not_measured_why)
        points = round(sum(line.points for line in rubric), 2)
        unmeasured = sum(line.max_points for line in rubric if not line.measured)
        if failure and verdicts.reason(failure.reason).zero_all:
            flags.append(f"needs review: {failure.title}")
        return RunResult(
            lab=self.lab.name,
            lab_title=self.lab.title,
            submission=str(submission),
            student=student or submission.stem,
            mode=self.mode,
            device=self.device or {"mode": self.mode},
            started_at=started_at,
            seconds=round(time.monotonic() - started, 2),
            points=points,
            max_points=self.lab.max_points,
            unmeasured_points=unmeasured,
            headline=failures.headline(
                points, self.lab.max_points, unmeasured, failure, not_measured_why, rubric
            ),
            next_steps=failures.next_steps(failure, rubric, self.mode, SIMULATOR_NOTE),
            rubric=rubric,
            cases=cases,
            benches=benches,
            ceilings=self._reference.ceilings if self._reference else {},
            failure=failure,
            flags=flags,
            not_measured=[not_measured_why] if not_measured_why and not measured else [],
            logs=logs,
            limits={
                "timeout_s": self.timeout_s,
                "time_timeout_s": self.time_timeout_s,
                "output_cap_bytes": self.options.output_cap,
                "host_memory_gib": self.lab.host_memory_gib,
                "sandbox": self.containment,
                "sandboxed": self.bwrap is not None,
            },
            graded=graded,
            phase_seconds=phase_seconds,
            reference_source=self.reference_source if measured else "",
        )

    def _check(self, submission: Path, logs: list[PhaseLog]) -> tuple[list[CaseResult], Any]:
        """The check phase: the submission's process runs the tasks that import it (after the
        static checks of its Python); the grader's worker runs those that do not; then, on a
        GPU, the worker re-runs the recorded calls of the kinds that replay."""
        fields = self._student_fields()
        in_worker = self._worker_tasks("check")
        python_tasks = [t.name for t in self.lab.tasks if t not in in_worker]
        phase, skipped = Phase(), []
        static = self._static_failure(submission) if python_tasks else None
        if python_tasks and static is None:
            job = self._job(submission, "check", only=python_tasks)
            outcome = self._run(job, "checking correctness")
            logs.append(_log("check", outcome))
            phase.outcomes.append(outcome)
        elif static is not None:
            skipped = python_tasks
        if in_worker:
            outcome = self._worker_phase(submission, "check", in_worker, "compiling and checking")
            logs.append(_log("check (grader's host code)", outcome))
            phase.outcomes.append(outcome)
        judged = [t.name for t in self.lab.tasks if t.name not in skipped]
        cases, failure = judge.judge_check(
            self.lab, phase, self.mode, self.options.secret, fields, only=judged
        )
        if skipped:
            assert static is not None
            cases = self._not_run(static, skipped) + cases
            # A syntax error says more than anything after it; a submission that is CUDA C
            # only ("missing_file" for its Python parts) is judged on what did run.
            failure = failure if failure and static.reason == "missing_file" else static
        if failure is None or not verdicts.reason(failure.reason).zero_all:
            self._verify(phase, cases, logs)
            failure = failure or judge.first_failure(self.lab, cases, fields)
        if failure and failure.reason == "cuda_error":
            failure.diagnostics = self._sanitize(submission, cases)
        return self._in_lab_order(cases), failure

    def _in_lab_order(self, cases: list[CaseResult]) -> list[CaseResult]:
        order = {t.name: i for i, t in enumerate(self.lab.tasks)}
        return sorted(cases, key=lambda c: order.get(c.task, 0))

    def _time(
        self,
        submission: Path,
        timeable: list[str],
        reference: ReferenceRun,
        logs: list[PhaseLog],
        cases: list[CaseResult],
    ) -> tuple[list[BenchResult], Failure | None]:
        """The time phase: the submission timed, each benchmark judged by its task's kind."""
        outcome, refused = self._time_phase(submission, timeable, "your work", logs=logs)
        benches, failure, extra_cases, frames = judge.judge_time(
            self.lab, outcome, reference, timeable
        )
        extra_cases = refused + extra_cases
        cases.extend(extra_cases)
        if failure is None and refused:
            failure = judge.first_failure(self.lab, refused, self._student_fields())
        for bench in benches:
            frame = frames.get((bench.task, bench.bench))
            if bench.status == "timed" and frame is not None:
                task = self.lab.task(bench.task)
                kept = kind_of(task).after_bench(task, frame, self.options.trace_dir, self.lab.name)
                if kept is not None:
                    self.progress.stage(f"trace of one call of {bench.bench}: {kept} (Perfetto)")
        return benches, failure

    def _timeable(self, cases: list[CaseResult], failure: Failure | None) -> list[str]:
        """The tasks with benchmarks whose every case passed, unless a failure stops all: one
        that zeroes everything, or one of the process (a crash, a flood) rather than of a case."""
        if failure is not None and (
            verdicts.reason(failure.reason).zero_all or all(c.passed for c in cases)
        ):
            return []
        names = []
        for task in self.lab.tasks:
            mine = [c for c in cases if c.task == task.name]
            if task.benchmarks and mine and all(c.passed for c in mine):
                names.append(task.name)
        return names

    def _static_failure(self, submission: Path) -> Failure | None:
        if not submission.is_file():
            return failures.failure("missing_file", f"there is no file at {submission}")
        if submission.suffix != ".py":
            return failures.failure(
                "missing_file",
                f"{submission.name} is not a Python file: the parts written in Python were not "
                "graded",
            )
        try:
            source = submission.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            return failures.failure("syntax_error", f"the file could not be read as text: {exc}")
        forbidden: dict[str, str] = {}
        for task in self.lab.tasks:
            forbidden.update(task.forbidden)
        finding = policy.check_source(source, str(submission), forbidden)
        if finding:
            return failures.failure(finding.reason, finding.message)
        return None

    def _not_run(self, failure: Failure, names: list[str]) -> list[CaseResult]:
        why = failure.title.lower()
        return [
            failures.not_run(task.name, case, why, failure.reason)
            for task in self.lab.tasks
            if task.name in names
            for case in self.case_jobs(task)
        ]

    def _student_fields(self) -> dict[str, str]:
        """What failure hints may name: the student's file and the lab."""
        student = self.lab.student_path
        root = self.lab.folder.parent.parent
        shown = student.relative_to(root) if student.is_relative_to(root) else student
        return {"student": str(shown), "lab": self.lab.name}

    def _sanitize(self, submission: Path, cases: list[CaseResult]) -> str:
        """Re-run the first failing case under compute-sanitizer to name the faulting kernel."""
        tool = sanitizer.tool()
        first = sanitizer.first_cuda_error(cases)
        if self.mode != "gpu" or not self.options.sanitize or tool is None or first is None:
            return ""
        job = sanitizer.narrow_job(self._job(submission, "check"), first.case)
        outcome = self._run(
            job,
            "re-running the failing case under compute-sanitizer",
            wrapper=[tool, *sanitizer.WRAPPER_ARGS],
            timeout_s=max(120.0, 3 * self.timeout_s),
        )
        return sanitizer.summarize_sanitizer(outcome.stdout + outcome.stderr)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) < 200


def _log(phase: str, outcome: ChildOutcome) -> PhaseLog:
    return PhaseLog(
        phase,
        outcome.returncode,
        round(outcome.wall_s, 2),
        outcome.stdout,
        outcome.stderr,
        outcome.output_bytes,
    )
