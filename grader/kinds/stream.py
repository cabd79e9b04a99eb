"""The stream kind: a CUDA C streaming kernel with a compile-time stage count, compiled and
launched by the grader's own host code (lab 3 part B).

No Python of the student's runs: the whole task lives in the grader's worker
(:mod:`grader.worker`, sandboxed, since the kernel is the student's), which

* compiles the source with NVRTC for every architecture of the task (no GPU needed), so a
  compile error is shown at the student's line, and reads the PTX for asynchronous copies;
* on a GPU, runs every case (sizes that are not multiples of the tile, a tail that is not a
  multiple of four) into a poisoned output between guard words, and checks it exactly;
* on a GPU, times the kernel at every stage count of the sweep (one block per SM, so only the
  stages can keep bytes in flight), against a device-to-device copy, the reference's
  synchronous kernel at the same tile, and Little's law from a pointer chase in the same run.

The worker is the grader's code, so its frames carry verdicts and figures the parent takes as
they are; the parent still scores them and turns them into the report.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from grader.channel import Frame
from grader.charts import CEILING, REFERENCE, STUDENT, line_chart
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind, ReferenceRun, ScoreContext, Scored, not_timed
from grader.results import BenchResult
from grader.spec import Benchmark, StreamKernelTask
from grader.timing import StopRule, TimingStats

COMPILE_CASE = "compiles"
SWEEP_RULE = StopRule(min_samples=5, max_samples=40, target_rse=0.01, time_cap_s=1.0)
RISE = 1.5  # full "stages" points: the best stage count at least this much above S = 1


def source_path(task: StreamKernelTask, submission: Path) -> Path:
    """The CUDA C file of a submission: the file itself (``x.cu``), the one beside it with
    its name (``solution.py`` -> ``solution.cu``), or the task's file in its folder."""
    if submission.suffix == ".cu":
        return submission
    if submission.with_suffix(".cu").is_file():
        return submission.with_suffix(".cu")
    return submission.parent / task.source


def _modules(task: StreamKernelTask) -> tuple[Any, Any, Any]:
    return (
        importlib.import_module(task.host),
        importlib.import_module(task.checks),
        importlib.import_module(task.little),
    )


class StreamKind(Kind):
    name = "stream"
    calls_per_case = 1
    check_in_worker = True
    time_in_worker = True
    scores_correctness = True
    rubric_kinds = ("technique", "bandwidth", "speedup", "stages")

    def sources(self, task: StreamKernelTask, submission: Path) -> dict[str, Any]:
        """The CUDA C source, as text (at most 1 MiB), and its file name for messages."""
        path = source_path(task, submission)
        try:
            text = path.read_text() if path.is_file() and path.stat().st_size < 1 << 20 else None
        except (OSError, UnicodeDecodeError):
            text = None
        return {"source": text, "source_name": path.name}

    # -- the worker -------------------------------------------------------------------------------

    def worker_run(self, h: ChildHarness, task: StreamKernelTask, job: dict, timer: Any) -> None:
        if h.job["phase"] == "check":
            self._check(h, task, job)
        else:
            self._time(h, task, job, timer)

    def _frame(self, task, case: dict, **fields: Any) -> dict[str, Any]:
        return {"type": "case", "task": task.name, "case": case["name"], "call": 0, **fields}

    def _check(self, h: ChildHarness, task: StreamKernelTask, job: dict) -> None:
        from grader import devices

        host, checks, _ = _modules(task)
        source, name = job.get("source"), job.get("source_name", task.source)
        cases = job["cases"]
        if source is None:
            error = {
                "kind": "missing_function",
                "type": "FileNotFoundError",
                "message": f"the submission has no {task.source} (the CUDA C of this part)",
            }
            for case in cases:
                h.send(self._frame(task, case, status="error", error=error))
            return
        copies: set[str] = set()
        for arch in task.archs:
            try:
                ptx = host.ptx_of(source, task.stages, task.tile_floats, arch, name=name)
            except Exception as exc:  # CompileError: NVRTC's log names the line
                error = {
                    "kind": "kernel_compile",
                    "type": type(exc).__name__,
                    "message": f"for {arch}: {str(exc)[:4000]}",
                }
                for case in cases:
                    h.send(self._frame(task, case, status="error", error=error))
                return
            copies |= set(host.async_copy_kinds(ptx))
        for index, case in enumerate(cases):
            h.progress(index, len(cases), f"{task.name} {case['name']}")
            if case["params"].get("compile"):
                h.send(self._frame(task, case, status="returned", copies=sorted(copies)))
                continue
            if devices.simulated():
                continue  # nothing runs without a GPU
            h.send(self._run_case(h, task, host, checks, source, name, case))
            if h.poisoned:
                return

    def _run_case(self, h, task, host, checks, source: str, name: str, case: dict) -> dict:
        import cupy

        n = int(case["params"]["n"])
        try:
            kernel = host.compile_stream_kernel(
                source, task.stages, task.tile_floats, name=name, kernel=task.kernel
            )
            config = host.launch_config(host.device_props(), task.stages, 4 * task.tile_floats)
            data = checks.make_case(n, int(case["seeds"][0]))
            pristine = data.x.copy()
            out = checks.Output.fresh(n)
            host.run_stream_kernel(kernel, data.x, out.view, checks.A, checks.B, n, config)
            cupy.cuda.runtime.deviceSynchronize()
            problem = checks.check(out, data)
            if problem is None and not bool((data.x == pristine).all()):
                problem = "modified_input: the input was changed"
        except Exception as exc:
            return self._frame(task, case, status="error", error=h.failure(exc))
        return self._frame(task, case, status="returned", problem=problem or "")

    def _time(self, h: ChildHarness, task: StreamKernelTask, job: dict, timer: Any) -> None:
        host, checks, little = _modules(task)
        source, name = job.get("source"), job.get("source_name", task.source)
        reference = bool(h.job.get("reference"))
        props = host.device_props()
        for bench in job["benchmarks"]:
            header = {"type": "bench", "task": task.name, "bench": bench["name"]}
            n = int(bench["params"]["n"])
            try:
                data = checks.make_case(n, int(bench["seeds"][0]))
                sweep = []
                for stages in task.sweep:
                    h.progress(len(sweep), len(task.sweep), f"timing S = {stages}")
                    stats, problem = self._time_one(
                        host, checks, timer, source, name, task.kernel, stages, task, props, data
                    )
                    sweep.append({"stages": stages, "stats": stats, "problem": problem})
                frame = {**header, "status": "timed", "sweep": sweep}
                if reference and task.baseline_source:
                    baseline_text = (
                        Path(h.lab.reference_folder) / task.baseline_source
                    ).read_text()
                    stats, problem = self._time_one(
                        host,
                        checks,
                        timer,
                        baseline_text,
                        task.baseline_source,
                        task.baseline_kernel,
                        task.stages,
                        task,
                        props,
                        data,
                    )
                    frame["baseline"] = {"stages": task.stages, "stats": stats, "problem": problem}
                if reference:
                    chase = little.measure_latency("pages", 1 << 30, 1 << 15)
                    frame["latency_ns"] = float(chase.ns)
                    frame["sms"] = int(props["multiProcessorCount"])
                    frame["tile_bytes"] = 4 * task.tile_floats
            except Exception as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                if h.poisoned:
                    return
                continue
            h.send(frame)

    def _time_one(self, host, checks, timer, source, name, kernel_name, stages, task, props, data):
        """(timing stats as a dict, or None; what was wrong with the timed output, or "")."""
        kernel = host.compile_stream_kernel(
            source, stages, task.tile_floats, name=name, kernel=kernel_name
        )
        config = host.launch_config(props, stages, 4 * task.tile_floats)
        out = checks.Output.fresh(data.n)
        launch = host.prepare_stream_launch(
            kernel, data.x, out.view, checks.A, checks.B, data.n, config
        )
        stats = timer.measure(launch, SWEEP_RULE)
        import cupy

        cupy.cuda.runtime.deviceSynchronize()
        problem = checks.check(out, data) or ""
        return stats.to_dict(), problem

    # -- the parent -----------------------------------------------------------------------------

    def judge_call(
        self, task: StreamKernelTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        result = call_result(task.name, params, frame)
        if result.reason:
            if result.reason == "kernel_compile":
                result.message = result.message.replace("CompileError: ", "")
            return result
        if params.get("compile"):
            copies = [c for c in frame.header.get("copies", []) if c in task.copies]
            result.passed = True
            result.measures = {"copies": copies}
            return result
        problem = str(frame.header.get("problem", ""))
        if not problem:
            result.passed = True
            return result
        if "wrote outside" in problem:
            result.reason = "out_of_bounds"
        elif problem.startswith("modified_input"):
            result.reason = "modified_input"
        elif "nan" in problem.lower():
            result.reason = "nan"
        else:
            result.reason = "wrong_answer"
        result.message = problem
        return result

    def read_reference(self, task, frames: list[Frame], reference: ReferenceRun) -> None:
        for frame in frames:
            h = frame.header
            if frame.type != "bench" or h.get("task") != task.name or h.get("status") != "timed":
                continue
            extra = reference.extra((task.name, h["bench"]))
            extra["sweep"] = h.get("sweep", [])
            extra["baseline"] = h.get("baseline")
            extra["latency_ns"] = h.get("latency_ns")
            extra["sms"] = h.get("sms")
            extra["tile_bytes"] = h.get("tile_bytes")
            best = _best(h.get("sweep", []))
            if best is not None:
                reference.benches[(task.name, h["bench"])] = {**h, "stats": best["stats"]}

    def judge_bench(
        self, task: StreamKernelTask, bench: Benchmark, frame: Frame | None, ref: ReferenceRun
    ) -> tuple[BenchResult, list[CaseResult]]:
        stopped = not_timed(task, bench, frame)
        if stopped is not None:
            return stopped, []
        assert frame is not None
        key = (task.name, bench.name)
        extras = ref.extras.get(key, {})
        copy_bw = ref.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
        traffic = task.traffic_bytes(bench.params)
        sweep = frame.header.get("sweep", [])
        wrong = [p for p in sweep if p.get("problem")]
        best = _best(sweep)
        result = BenchResult(task.name, bench.name, dict(bench.params), "timed")
        if best is None:
            result.status = "error"
            result.message = "no stage count could be timed"
            return result, []
        result.student = TimingStats.from_dict(best["stats"])
        reference_stats = ref.benches.get(key, {}).get("stats")
        if reference_stats:
            result.reference = TimingStats.from_dict(reference_stats)
            result.speedup = result.reference.median_s / result.student.median_s
        result.traffic_bytes = traffic
        if copy_bw:
            result.floor_s = traffic / copy_bw
            result.bandwidth_bytes_per_s = traffic / result.student.median_s
            result.fraction_of_copy_bandwidth = result.bandwidth_bytes_per_s / copy_bw
        baseline = extras.get("baseline") or {}
        if baseline.get("stats"):
            result.baseline = TimingStats.from_dict(baseline["stats"])
            result.baseline_speedup = result.baseline.median_s / result.student.median_s
        little = importlib.import_module(task.little)
        result.extra = _sweep_figures(little, sweep, extras, traffic, copy_bw, int(best["stages"]))
        cases = [
            CaseResult(
                task.name,
                f"while timing {bench.name}, S = {p['stages']}",
                dict(bench.params),
                False,
                "timing_output_wrong",
                p["problem"],
            )
            for p in wrong
        ]
        return result, cases

    def score_item(self, ctx: ScoreContext) -> Scored:
        item = ctx.item
        compiled = [c for c in ctx.cases if c.case == COMPILE_CASE]
        ran = [c for c in ctx.cases if c.case != COMPILE_CASE]
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if compiled and not compiled[0].passed:
            return 0.0, True, f"0: {compiled[0].message[:200]}"
        if item.kind == "technique":
            # Where the output was checked (a GPU), the technique counts only with it right.
            if ran and not all(c.passed for c in ran):
                return 0.0, True, "0: counts only once every size is exact"
            copies = (compiled[0].measures or {}).get("copies", []) if compiled else []
            if copies:
                return item.points, True, "the PTX shows " + ", ".join(copies)
            return 0.0, True, "0: no asynchronous copy (cp.async, cp.async.bulk) in the PTX"
        if item.kind == "correctness":
            if not ran:
                return 0.0, False, f"not measured: {ctx.not_measured_why or 'no CUDA device'}"
            passed = sum(c.passed for c in ran)
            points = item.points if passed == len(ran) else 0.0
            return points, True, f"{passed} of {len(ran)} sizes exact"
        if not all(c.passed for c in ctx.cases) or not ran:
            if not ctx.measured:
                return 0.0, False, f"not measured: {ctx.not_measured_why}"
            return 0.0, True, "0: counts only once every size is exact"
        if not ctx.measured:
            return 0.0, False, f"not measured: {ctx.not_measured_why}"
        timed = [b for b in ctx.benches if b.status == "timed"]
        if not timed:
            return 0.0, True, "0: the kernel could not be timed"
        bench = timed[0]
        return _RULES[item.kind](item, bench)

    def how_checked(self, task: StreamKernelTask) -> str:
        archs = " and ".join(task.archs)
        return (
            f"Your CUDA C is compiled by the grader (NVRTC, for {archs}) and launched by its "
            "own host code, one block per SM; on a GPU every size is checked exactly, into an "
            "output poisoned with NaN between guard words."
        )

    def timing_note(self, copy_bw: float | None) -> str:
        note = (
            "Your kernel is timed at every stage count of the sweep (cold L2, CUDA events, "
            "median), against a device-to-device copy, the reference's synchronous kernel at "
            "the same tile, and the reference solution, all in the grader's process in this run."
        )
        if copy_bw:
            note += f" Copy bandwidth in this run: {copy_bw / 1e9:.0f} GB/s (read + written)."
        return note

    def charts(self, result: Any, tasks: list[StreamKernelTask]) -> list[str]:
        names = {t.name for t in tasks}
        drawn = []
        for b in result.benches:
            figures = b.extra or {}
            if b.task not in names or not figures.get("stages"):
                continue
            series = [("yours", figures["stages"], figures["gbps"], STUDENT)]
            if figures.get("reference_gbps"):
                series.append(
                    ("reference", figures["stages"], figures["reference_gbps"], REFERENCE)
                )
            if figures.get("predicted_gbps"):
                series.append(
                    (
                        "Little's law (idle latency)",
                        figures["stages"],
                        figures["predicted_gbps"],
                        CEILING,
                    )
                )
            drawn.append(
                line_chart(
                    series,
                    "stages (tiles in flight per SM)",
                    "GB/s (read + written)",
                    f"Stage sweep: {b.bench}",
                    ceiling=figures.get("copy_gbps"),
                    ceiling_label="device copy",
                )
            )
        return drawn


def _best(sweep: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest stage count whose timed output was right."""
    good = [p for p in sweep if p.get("stats") and not p.get("problem")]
    return min(good, key=lambda p: p["stats"]["median_s"], default=None)


def _sweep_figures(
    little: Any, sweep: list[dict], extras: dict, traffic: int, copy_bw: float | None, best: int
) -> dict[str, Any]:
    """What the report draws and the rubric reads: GB/s per stage count, yours and the
    reference's, Little's law's prediction from the idle latency (``little``: the lab's model),
    and the loaded latency the best point implies."""
    stages = [int(p["stages"]) for p in sweep]
    gbps = [
        traffic / p["stats"]["median_s"] / 1e9 if p.get("stats") and not p.get("problem") else 0.0
        for p in sweep
    ]
    ref = {int(p["stages"]): p for p in extras.get("sweep", [])}
    reference_gbps = [
        traffic / ref[s]["stats"]["median_s"] / 1e9 if s in ref and ref[s].get("stats") else 0.0
        for s in stages
    ]
    figures: dict[str, Any] = {
        "stages": stages,
        "gbps": gbps,
        "reference_gbps": reference_gbps,
        "best_stages": best,
        "copy_gbps": copy_bw / 1e9 if copy_bw else None,
    }
    latency_ns, sms, tile = extras.get("latency_ns"), extras.get("sms"), extras.get("tile_bytes")
    if latency_ns and sms and tile and copy_bw:
        figures["idle_latency_ns"] = latency_ns
        figures["predicted_gbps"] = [
            little.predicted_bandwidth(s, tile, sms, latency_ns * 1e-9, copy_bw) / 1e9
            for s in stages
        ]
        top = max(range(len(stages)), key=lambda i: gbps[i])
        if gbps[top] > 0:
            implied = little.implied_latency(gbps[top] * 1e9, stages[top], tile, sms)
            figures["loaded_latency_ns"] = implied * 1e9
    return figures


def _share(item, value: float | None, what: str) -> Scored:
    if value is None or not math.isfinite(value):
        return 0.0, False, f"not measured: {what} was not timed"
    rule = item.speed
    fraction = rule.fraction(value) if rule else float(value >= 1)
    return round(item.points * fraction, 2), True, ""


def _bandwidth_rule(item, bench: BenchResult) -> Scored:
    share = bench.fraction_of_copy_bandwidth
    points, measured, how = _share(item, share, "the copy")
    if not measured:
        return points, measured, how
    best = (bench.extra or {}).get("best_stages")
    return (
        points,
        True,
        (
            f"{100 * share:.0f}% of the device copy at S = {best} (0 points at "
            f"{100 * item.speed.zero_at:g}%, full at {100 * item.speed.full_at:g}%)"
        ),
    )


def _speedup_rule(item, bench: BenchResult) -> Scored:
    gain = bench.baseline_speedup
    points, measured, how = _share(item, gain, "the synchronous kernel")
    if not measured:
        return points, measured, how
    return (
        points,
        True,
        (
            f"{gain:.2f}x the synchronous kernel at the same tile (0 points at "
            f"{item.speed.zero_at:g}x, full at {item.speed.full_at:g}x)"
        ),
    )


def _stages_rule(item, bench: BenchResult) -> Scored:
    figures = bench.extra or {}
    gbps, stages = figures.get("gbps", []), figures.get("stages", [])
    if not gbps or 1 not in stages:
        return 0.0, False, "not measured: the sweep has no S = 1"
    one = gbps[stages.index(1)]
    top = max(gbps)
    rise = top / one if one > 0 else 0.0
    fraction = min(1.0, max(0.0, (rise - 1.0) / (RISE - 1.0)))
    loaded = figures.get("loaded_latency_ns")
    idle = figures.get("idle_latency_ns")
    latency = f"; latency idle {idle:.0f} ns, loaded {loaded:.0f} ns" if loaded and idle else ""
    return (
        round(item.points * fraction, 2),
        True,
        (
            f"bandwidth rises {rise:.2f}x from S = 1 to the best S (full points at {RISE:g}x)"
            f"{latency}"
        ),
    )


_RULES = {"bandwidth": _bandwidth_rule, "speedup": _speedup_rule, "stages": _stages_rule}

KIND = StreamKind()
