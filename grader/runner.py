"""Grade one submission of one lab, end to end.

    static checks (parent)  ->  check phase (child)  ->  time phase (child, GPU only)  ->  score

The reference solution is timed in its own child process in the same run, which also measures
the copy-bandwidth ceiling and computes what the fingerprints of outputs made while timing must
be. The parent alone compares outputs with expected values and decides the verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grader import cache_judge, pipeline_judge, policy, score, verdicts
from grader.channel import Frame
from grader.check import CaseResult, judge_call, judge_pipeline_call
from grader.results import BenchResult, Failure, PhaseLog, RubricLine, RunResult
from grader.sandbox import DEFAULT_OUTPUT_CAP, ChildOutcome, run_child
from grader.spec import Benchmark, CacheTask, Lab, PipelineTask, Task
from grader.timing import StopRule, TimingStats

SECOND_CALL = 1_000_003  # offset of the seed of each case's second call
NO_DEVICE = "no CUDA device"
FLOOR_MARGIN = 0.8  # below 80% of bytes / measured bandwidth is not physically credible
REVIEW_SPEEDUP = 10.0


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


@dataclass
class ReferenceRun:
    """The reference solution timed in this run, and the ceilings measured with it."""

    benches: dict[tuple[str, str], dict[str, Any]]
    ceilings: dict[str, Any]
    error: str | None = None
    # Pipelines: the serial baseline's frames, and both runs' trace summaries.
    baselines: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    traces: dict[tuple[str, str], Any] = field(default_factory=dict)
    # Kernel tasks with a library ceiling (cuBLAS): its timing per benchmark.
    library: dict[tuple[str, str], TimingStats] = field(default_factory=dict)


def gpu_available() -> bool:
    """Whether a CUDA device answers, asked in a throw-away process (the grader stays clean)."""
    if not any(Path("/dev").glob("nvidia*")) and shutil.which("nvidia-smi") is None:
        return False
    probe = "import cupy; print(cupy.cuda.runtime.getDeviceCount())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout) > 0


def resolve_mode(mode: str) -> str:
    mode = os.environ.get("CWB_MODE", mode) if mode == "auto" else mode
    if mode == "auto":
        return "gpu" if gpu_available() else "simulator"
    if mode not in ("gpu", "simulator"):
        raise ValueError(f"mode must be auto, gpu or simulator, not {mode!r}")
    return mode


def mix(seed: int, secret: str | None) -> int:
    """The public seed, or with a secret mixed in so inputs cannot be precomputed."""
    if not secret:
        return seed
    digest = hashlib.blake2b(str(seed).encode(), key=secret.encode()[:64], digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


class Grader:
    def __init__(self, lab: Lab, options: Options | None = None, progress: Progress | None = None):
        self.lab = lab
        self.options = options or Options()
        self.progress = progress or QuietProgress()
        self.mode = resolve_mode(self.options.mode)
        self._reference: ReferenceRun | None = None
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

    # -- jobs ---------------------------------------------------------------------------------

    def _cases(self, task: Task) -> list[dict[str, Any]]:
        cases = task.sim_cases if self.mode == "simulator" else task.cases
        secret = self.options.secret
        # A pipeline's third call runs with the race check on (on a GPU; under the simulator
        # everything runs in order, so there is no race to provoke).
        # A cache task is plain deterministic Python: one call says it all.
        calls = 3 if isinstance(task, PipelineTask) else 1 if isinstance(task, CacheTask) else 2
        jobs = []
        for c in cases:
            job = {
                "name": c.name,
                "params": dict(c.params),
                "seeds": [mix(c.seed + k * SECOND_CALL, secret) for k in range(calls)],
            }
            if isinstance(task, PipelineTask):
                job["stress"] = [False, False, self.mode == "gpu"]
            jobs.append(job)
        return jobs

    def _benchmarks(self, task: Task) -> list[dict[str, Any]]:
        secret = self.options.secret
        sets = getattr(task, "input_sets", 3)
        return [
            {
                "name": b.name,
                "params": dict(b.params),
                "seeds": [mix(b.seed * 16 + k, secret) for k in range(sets)],
                "weights_seed": mix(b.seed * 16 + 15, secret),
            }
            for b in task.benchmarks
        ]

    def _job(
        self, submission: Path, phase: str, only: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The child's job; ``only`` names the tasks to run (default: all)."""
        tasks = []
        for task in self.lab.tasks:
            if only is not None and task.name not in only:
                continue
            entry = {"task": task.name}
            entry["cases" if phase == "check" else "benchmarks"] = (
                self._cases(task) if phase == "check" else self._benchmarks(task)
            )
            tasks.append(entry)
        if extra.get("reference"):
            for entry in tasks:
                for bench in entry.get("benchmarks", []):
                    bench["expected"] = True
        job = {"lab": self.lab.name, "submission": str(submission), "phase": phase, "tasks": tasks}
        if phase == "time":
            rule = self.options.stop_rule
            job["stop_rule"] = rule.__dict__
        job.update(extra)
        return job

    def _run(self, job: dict[str, Any], label: str, **kwargs: Any) -> ChildOutcome:
        self.progress.stage(label)

        def on_frame(frame: Any) -> None:
            if frame.type == "progress":
                self.progress.update(
                    int(frame.header.get("done", 0)),
                    int(frame.header.get("total", 0)),
                    str(frame.header.get("text", "")),
                )
            elif frame.type == "hello" and not self.device:
                self.device = dict(frame.header.get("device", {}))

        extra_env = {"NUMBA_ENABLE_CUDASIM": "1"} if self.mode == "simulator" else {}
        return run_child(
            job,
            timeout_s=kwargs.pop("timeout_s", self.timeout_s),
            output_cap=self.options.output_cap,
            extra_env=extra_env,
            on_frame=on_frame,
            **kwargs,
        )

    # -- the reference ------------------------------------------------------------------------

    def reference(self) -> ReferenceRun:
        """Time the reference solution (once per Grader) and measure the ceilings."""
        if self._reference is not None:
            return self._reference
        job = self._job(self.lab.solution_path, "time", reference=True, ceilings=True)
        outcome = self._run(job, "timing the reference solution", timeout_s=self.time_timeout_s)
        benches: dict[tuple[str, str], dict[str, Any]] = {}
        error = _outcome_problem(outcome)
        for frame in outcome.of_type("bench"):
            h = frame.header
            if h.get("status") != "timed":
                error = error or f"reference failed on {h.get('bench')}: {h.get('error')}"
                continue
            wrong = _wrong_fingerprints(
                h["fingerprints"], h["expected_fingerprints"], h["fingerprint_bounds"]
            )
            if wrong:
                error = error or f"the reference solution's outputs failed their own check: {wrong}"
            benches[(h["task"], h["bench"])] = h
        ceilings = {f.header["name"]: f.header for f in outcome.of_type("ceiling")}
        reference = ReferenceRun(benches=benches, ceilings=ceilings, error=error)
        for frame in outcome.of_type("ceiling_bench"):
            h = frame.header
            if h.get("status") == "timed":
                reference.library[(h["task"], h["bench"])] = TimingStats.from_dict(h["stats"])
            else:
                reference.error = reference.error or f"the library ceiling failed: {h.get('error')}"
        for frame in outcome.of_type("bench"):
            key = (frame.header["task"], frame.header["bench"])
            if "trace" in frame.arrays:
                reference.traces[key] = pipeline_judge.read_trace(frame.arrays["trace"])
        if self.lab.baseline_path is not None and error is None:
            self._time_baseline(reference)
        self._reference = reference
        return reference

    def _time_baseline(self, reference: ReferenceRun) -> None:
        """The serial baseline, timed in its own process in the same run (pipelines)."""
        job = self._job(self.lab.baseline_path, "time")
        outcome = self._run(job, "timing the serial baseline", timeout_s=self.time_timeout_s)
        problem = _outcome_problem(outcome)
        for frame in outcome.of_type("bench"):
            if frame.header.get("status") != "timed":
                problem = problem or f"baseline failed: {frame.header.get('error')}"
                continue
            reference.baselines[(frame.header["task"], frame.header["bench"])] = frame.header
        if problem:
            reference.error = f"the serial baseline failed ({problem})"

    # -- one submission -----------------------------------------------------------------------

    def grade(self, submission: Path, student: str = "", graded: bool = False) -> RunResult:
        started = time.monotonic()
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        submission = Path(submission).resolve()
        logs: list[PhaseLog] = []
        cases: list[CaseResult] = []
        benches: list[BenchResult] = []
        flags: list[str] = []
        failure = self._static_failure(submission)
        if failure is None:
            outcome = self._run(self._job(submission, "check"), "checking correctness")
            logs.append(_log("check", outcome))
            cases, failure = self._judge_check(outcome)
            if failure and failure.reason == "cuda_error":
                failure.diagnostics = self._sanitize(submission, cases)
        else:
            cases = self._not_run(failure)
        measured = self.mode == "gpu"
        not_measured_why = NO_DEVICE if self.mode == "simulator" else ""
        # Each task with benchmarks is timed once its own cases all pass: a wrong part A
        # does not cost part B its speed points. Cheating or interference stops everything.
        timeable = self._timeable(cases, failure)
        if measured and timeable:
            reference = self.reference()
            if reference.error:
                measured = False
                not_measured_why = f"the reference run failed ({reference.error})"
                flags.append("infrastructure: " + reference.error)
            else:
                outcome = self._run(
                    self._job(submission, "time", only=timeable),
                    "timing your kernel",
                    timeout_s=self.time_timeout_s,
                )
                logs.append(_log("time", outcome))
                benches, time_failure, extra_cases = self._judge_time(outcome, reference, timeable)
                failure = failure or time_failure
                cases.extend(extra_cases)
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
            headline=_headline(points, self.lab.max_points, unmeasured, failure, not_measured_why),
            next_steps=self._next_steps(failure, rubric, not_measured_why),
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
            },
            graded=graded,
        )

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
            return _failure("missing_file", f"there is no file at {submission}")
        try:
            source = submission.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            return _failure("syntax_error", f"the file could not be read as text: {exc}")
        forbidden: dict[str, str] = {}
        for task in self.lab.tasks:
            forbidden.update(task.forbidden)
        finding = policy.check_source(source, str(submission), forbidden)
        if finding:
            return _failure(finding.reason, finding.message)
        return None

    def _not_run(self, failure: Failure) -> list[CaseResult]:
        results = []
        for task in self.lab.tasks:
            for case in self._cases(task):
                results.append(_not_run(task, case, failure.title.lower()))
        return results

    def _judge_check(self, outcome: ChildOutcome) -> tuple[list[CaseResult], Failure | None]:
        frames = {
            (f.header.get("task"), f.header.get("case"), f.header.get("call")): f
            for f in outcome.of_type("case")
        }
        failure = _process_failure(outcome, "checking")
        results: list[CaseResult] = []
        for task in self.lab.tasks:
            for case in self._cases(task):
                result = None
                for call, seed in enumerate(case["seeds"]):
                    frame = frames.get((task.name, case["name"], call))
                    if frame is None:
                        why = failure.title.lower() if failure else "stopped before this case"
                        result = _not_run(task, case, why)
                        break
                    if isinstance(task, CacheTask):
                        result = cache_judge.judge_call(task, case["params"], frame, call)
                    else:
                        inputs = task.make_inputs(case["params"], np.random.default_rng(seed))
                        judge = (
                            judge_pipeline_call if isinstance(task, PipelineTask) else judge_call
                        )
                        result = judge(task, case["params"], inputs, frame, call)
                    if not result.passed:
                        break
                assert result is not None
                results.append(result)
        if failure is None:
            first = next((r for r in results if not r.passed and r.reason != "not_run"), None)
            if first is not None:
                failure = _failure(
                    first.reason or "wrong_answer",
                    f"{first.case}: {first.message}",
                    traceback=first.traceback,
                    student=self._student_hint(),
                )
            elif any(r.reason == "not_run" for r in results):
                failure = _failure("no_result", "the run stopped before every case had run")
        return results, failure

    def _student_hint(self) -> dict[str, str]:
        return {
            "student": str(self.lab.student_path.relative_to(self.lab.folder.parent.parent)),
            "lab": self.lab.name,
        }

    def _judge_time(
        self, outcome: ChildOutcome, reference: ReferenceRun, timed_tasks: list[str]
    ) -> tuple[list[BenchResult], Failure | None, list[CaseResult]]:
        failure = _process_failure(outcome, "timing")
        copy_bw = reference.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
        frames = {(f.header["task"], f.header["bench"]): f for f in outcome.of_type("bench")}
        results: list[BenchResult] = []
        extra_cases: list[CaseResult] = []
        for task in self.lab.tasks:
            if task.name not in timed_tasks:
                continue
            for bench in task.benchmarks:
                key = (task.name, bench.name)
                result, wrong = self._judge_bench(
                    task, bench, frames.get(key), reference.benches.get(key), copy_bw
                )
                self._rate_against_library(task, result, reference.library.get(key))
                if isinstance(task, PipelineTask) and result.status == "timed":
                    pipeline_judge.judge(result, frames[key], reference, key)
                    self._save_trace(frames[key], bench)
                results.append(result)
                extra_cases.extend(wrong)
        if failure is None and extra_cases:
            first = extra_cases[0]
            failure = _failure(first.reason or "timing_output_wrong", first.message)
        return results, failure, extra_cases

    def _save_trace(self, frame: Frame, bench: Benchmark) -> None:
        if self.options.trace_dir is None or "trace" not in frame.arrays:
            return
        self.options.trace_dir.mkdir(parents=True, exist_ok=True)
        path = self.options.trace_dir / f"{self.lab.name}-trace.json.gz"
        path.write_bytes(frame.arrays["trace"].tobytes())
        self.progress.stage(f"trace of one call of {bench.name}: {path} (open in Perfetto)")

    def _judge_bench(
        self,
        task: Task,
        bench: Benchmark,
        frame: Frame | None,
        ref: dict[str, Any] | None,
        copy_bw: float | None,
    ) -> tuple[BenchResult, list[CaseResult]]:
        """One benchmark's timing, and a failed case for anything wrong while it was timed."""
        result = BenchResult(task.name, bench.name, dict(bench.params), "not measured")
        if ref:
            result.reference = TimingStats.from_dict(ref["stats"])
        if frame is None or frame.header.get("status") != "timed":
            error = (frame.header.get("error") or {}) if frame else {}
            result.status = "error"
            result.message = error.get("message", "not timed: the run stopped earlier")
            return result, []
        h = frame.header
        result.status = "timed"
        result.student = TimingStats.from_dict(h["stats"])
        problems = []
        if ref:
            wrong = _wrong_fingerprints(
                h["fingerprints"], ref["expected_fingerprints"], ref["fingerprint_bounds"]
            )
            if wrong:
                total = len(h["fingerprints"])
                problems.append(("timing_output_wrong", f"{wrong} of {total} outputs were wrong"))
        if h.get("guard_violations"):
            calls = h["guard_violations"]
            problems.append(("out_of_bounds", f"the kernel wrote outside `out` in {calls} calls"))
        self._rate(task, result, result.student, copy_bw)
        wrong_cases = [
            CaseResult(
                task.name, f"while timing {bench.name}", dict(bench.params), False, code, message
            )
            for code, message in problems
        ]
        return result, wrong_cases

    def _rate(
        self, task: Task, result: BenchResult, stats: TimingStats, copy_bw: float | None
    ) -> None:
        if result.reference and stats.median_s > 0:
            result.speedup = result.reference.median_s / stats.median_s
            if result.speedup > REVIEW_SPEEDUP:
                result.flags.append(
                    f"{result.speedup:.1f}x faster than the reference: flagged for a human to "
                    "look at"
                )
        if getattr(task, "traffic_bytes", None) and copy_bw:
            traffic = task.traffic_bytes(result.params)
            result.traffic_bytes = traffic
            result.floor_s = traffic / copy_bw
            result.bandwidth_bytes_per_s = traffic / stats.median_s
            result.fraction_of_copy_bandwidth = result.bandwidth_bytes_per_s / copy_bw
            if stats.median_s < FLOOR_MARGIN * result.floor_s:
                result.flags.append(
                    f"{score.FLOOR_FLAG}: {stats.median_s * 1e6:.1f} us against a floor of "
                    f"{result.floor_s * 1e6:.1f} us ({traffic / 1e6:.1f} MB at the measured "
                    f"copy bandwidth)"
                )
        if stats.host_median_s is not None and stats.median_s > 1.05 * stats.host_median_s + 2e-5:
            result.flags.append("the event timer reads longer than the host clock: tampering?")
        if stats.strict_start:
            result.message = (
                "work went on after the function returned (another stream): timed from a "
                "synchronised start to an idle device, so the host's launch overhead counts"
            )

    def _rate_against_library(
        self, task: Task, result: BenchResult, library: TimingStats | None
    ) -> None:
        """FLOP/s, and the share of the library ceiling (cuBLAS) timed with the reference."""
        flops = getattr(task, "flops", None)
        if result.status != "timed" or result.student is None or flops is None:
            return
        result.flops = flops(result.params)
        result.flops_per_s = result.flops / result.student.median_s
        if result.reference is not None:
            result.reference_flops_per_s = result.flops / result.reference.median_s
        if library is not None:
            result.library = library
            result.library_name = getattr(task, "ceiling_name", "") or "library"
            result.library_flops_per_s = result.flops / library.median_s
            result.share_of_library = library.median_s / result.student.median_s

    def _sanitize(self, submission: Path, cases: list[CaseResult]) -> str:
        """Re-run the first failing case under compute-sanitizer to name the faulting kernel."""
        tool = shutil.which("compute-sanitizer")
        if self.mode != "gpu" or not self.options.sanitize or tool is None:
            return ""
        first = next((c for c in cases if c.reason == "cuda_error"), None)
        if first is None:
            return ""
        job = self._job(submission, "check")
        for task_job in job["tasks"]:
            task_job["cases"] = [
                {**c, "seeds": c["seeds"][:1]} for c in task_job["cases"] if c["name"] == first.case
            ]
        # API errors are left out: cuda-bindings probes the driver at start-up and one of its
        # probes fails harmlessly (seen on the H200: cuGetProcAddress_v2, invalid argument).
        wrapper = [tool, "--tool", "memcheck", "--report-api-errors", "no", "--print-limit", "10"]
        outcome = self._run(
            job,
            "re-running the failing case under compute-sanitizer",
            wrapper=wrapper,
            timeout_s=max(120.0, 3 * self.timeout_s),
        )
        return summarize_sanitizer(outcome.stdout + outcome.stderr)

    def _next_steps(
        self, failure: Failure | None, rubric: list[RubricLine], not_measured_why: str
    ) -> list[str]:
        steps = []
        if failure:
            steps.append(verdicts.hint(failure.reason, **self._student_hint()))
        if self.mode == "simulator":
            steps.append(
                "Performance was not measured: there is no CUDA device here. Correctness ran "
                "under numba's CUDA simulator at small sizes; run on an NVIDIA GPU for the speed "
                "points."
            )
        for line in rubric:
            if line.kind == "speed" and line.measured and 0 < line.points < line.max_points:
                steps.append(f"Speed: {line.detail}. Look at the timing table for where time goes.")
        return [s for s in steps if s]


def _not_run(task: Task, case: dict[str, Any], why: str) -> CaseResult:
    return CaseResult(task.name, case["name"], case["params"], False, "not_run", f"not run: {why}")


def _failure(code: str, message: str, traceback: str = "", student: dict | None = None) -> Failure:
    r = verdicts.reason(code)
    return Failure(
        reason=code,
        title=r.title,
        message=message,
        hint=verdicts.hint(code, **(student or {})),
        traceback=traceback,
    )


def _outcome_problem(outcome: ChildOutcome) -> str | None:
    failure = _process_failure(outcome, "running")
    return f"{failure.title}: {failure.message}" if failure else None


def _process_failure(outcome: ChildOutcome, doing: str) -> Failure | None:
    """A failure of the process as a whole (as opposed to a wrong case), if there was one."""
    if outcome.channel_error:
        return _failure("channel", outcome.channel_error)
    if outcome.leftover_pids:
        pids = ", ".join(map(str, outcome.leftover_pids[:5]))
        return _failure("spawned_process", f"processes left running were killed (pids {pids})")
    tampered = outcome.first("tampered")
    if tampered:
        names = ", ".join(tampered.header.get("replaced", []))
        return _failure("tampered", f"the submission replaced {names}")
    fatal = outcome.first("fatal")
    if fatal:
        error = fatal.header.get("error", {})
        code = error.get("kind", "exception")
        if fatal.header.get("stage") == "harness":
            code = "infrastructure"
        return _failure(
            code,
            f"{error.get('type', '')}: {error.get('message', '')}".strip(": "),
            traceback=error.get("traceback", ""),
        )
    if outcome.timed_out:
        last = [f for f in outcome.of_type("progress") if f.header.get("text")]
        where = f" (last progress: {last[-1].header['text']})" if last else ""
        return _failure(
            "timeout",
            f"stopped after the {outcome.timeout_s:.0f} s limit while "
            f"{doing}{where}; the whole process group was killed",
        )
    if outcome.output_limited:
        return _failure(
            "output_limit",
            f"stopped after printing more than {outcome.output_cap // 1024} KiB (the limit)",
        )
    if outcome.first("done") is None:
        if outcome.signal_name:
            return _failure("crashed", f"the process was killed by {outcome.signal_name}")
        if outcome.returncode == 0:
            return _failure(
                "exited",
                "the process ended before returning its results "
                "(os._exit() or exit() in the submission?)",
            )
        return _failure("no_result", f"the process ended with exit code {outcome.returncode}")
    return None


def _wrong_fingerprints(fingerprints: list, expected: list, bounds: list) -> int:
    wrong = 0
    for set_index, fp in fingerprints:
        exp, bound = expected[int(set_index)], bounds[int(set_index)]
        if not (abs(fp - exp) <= bound + 1e-9 * abs(exp)):  # NaN fails
            wrong += 1
    return wrong


def _log(phase: str, outcome: ChildOutcome) -> PhaseLog:
    return PhaseLog(
        phase,
        outcome.returncode,
        round(outcome.wall_s, 2),
        outcome.stdout,
        outcome.stderr,
        outcome.output_bytes,
    )


def _headline(
    points: float, max_points: float, unmeasured: float, failure: Failure | None, why: str
) -> str:
    text = f"{points:g} / {max_points:g} points"
    if unmeasured:
        text += f" ({unmeasured:g} not measured: {why})"
    if failure:
        text += f": {failure.title}"
    return text


_SANITIZER_KERNEL = re.compile(r"at (?:[\w.]+::)?([A-Za-z_]\w*)")
_SANITIZER_MEMORY = re.compile(r"Invalid __\w+__ (read|write)|Misaligned|out of bounds")


def summarize_sanitizer(output: str) -> str:
    """The first memory error compute-sanitizer reported, with the kernel's readable name."""
    lines = [line.strip("= ").strip() for line in output.splitlines() if line.startswith("=====")]
    lines = [line for line in lines if line and "COMPUTE-SANITIZER" not in line]
    if not lines:
        return ""
    first = next((i for i, line in enumerate(lines) if _SANITIZER_MEMORY.search(line)), 0)
    summary = lines[first : first + 4]
    for i, line in enumerate(summary):
        match = _SANITIZER_KERNEL.match(line)
        if match:
            summary[i] = f"in kernel `{match.group(1)}`"
    return "compute-sanitizer: " + "; ".join(summary)
