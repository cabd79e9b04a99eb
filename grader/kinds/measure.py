"""The measure kind: the student's own measurement, checked against the grader's in the same
run (lab 4 part B: a bf16 matmul swept over the batch, timed with CUDA events).

Child (GPU): calls the student's timing function once and sends back its numbers.
Worker (GPU, the time phase): measures the same sweep with the grader's own code, and the
ceilings (the matmul at a large batch, a device copy) in the same run.
Parent: the student's numbers against the grader's, point by point; the knee of the grader's
sweep and the critical batch the model predicts from the measured ceilings, for the report.
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
from typing import Any

from grader.channel import Frame
from grader.charts import REFERENCE, STUDENT, line_chart
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind, ReferenceRun, ScoreContext, Scored, not_timed
from grader.results import BenchResult
from grader.spec import Benchmark, MeasureTask


def _resolve(name: str) -> Any:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


class MeasureKind(Kind):
    name = "measure"
    calls_per_case = 1
    time_in_worker = True
    rubric_kinds = ("agreement",)

    def child_check(self, h: ChildHarness, task: MeasureTask, module, job, state) -> None:
        fn = h.entry_point(module, task, task.entry, list(task.args))
        if fn is None:
            return
        for case in job["cases"]:
            header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
            started = time.perf_counter()
            try:
                values = [float(v) for v in fn(**task.args)]
            except BaseException as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                return
            header["elapsed_s"] = time.perf_counter() - started
            h.send({**header, "status": "returned", "times_ms": values[:10_000]})

    def judge_call(
        self, task: MeasureTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        values = frame.header.get("times_ms")
        points = len(next(iter(task.args.values()), []))
        if (
            not isinstance(values, list)
            or len(values) != points
            or not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values)
        ):
            result.reason = "type"
            result.message = (
                f"{task.entry} must return {points} positive numbers (milliseconds), one per "
                f"point of the sweep; it returned {str(values)[:200]}"
            )
            return result
        result.passed = True
        result.measures = {"times_ms": values}
        return result

    def worker_run(self, h: ChildHarness, task: MeasureTask, job: dict, timer: Any) -> None:
        for bench in job["benchmarks"]:
            header = {"type": "bench", "task": task.name, "bench": bench["name"]}
            try:
                sweep = _resolve(task.measure)(**task.args)
            except BaseException as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                continue
            if not sweep.get("measured"):
                h.send({**header, "status": "error", "error": {"message": sweep.get("reason")}})
                continue
            stats = {
                "median_s": statistics.median(sweep["times_ms"]) / 1e3,
                "q1_s": 0.0,
                "q3_s": 0.0,
                "mean_s": statistics.fmean(sweep["times_ms"]) / 1e3,
                "min_s": min(sweep["times_ms"]) / 1e3,
                "n": len(sweep["times_ms"]),
                "rse": 0.0,
                "stop_reason": "fixed",
                "cold": bool(sweep.get("cold", True)),
            }
            h.send({**header, "status": "timed", "stats": stats, "sweep": sweep})

    def read_reference(self, task, frames: list[Frame], reference: ReferenceRun) -> None:
        pass  # the grader's sweep is measured again with each submission, in its own run

    def judge_bench(
        self, task: MeasureTask, bench: Benchmark, frame: Frame | None, ref: ReferenceRun
    ) -> tuple[BenchResult, list[CaseResult]]:
        stopped = not_timed(task, bench, frame)
        if stopped is not None:
            return stopped, []
        assert frame is not None
        from grader.timing import TimingStats

        sweep = dict(frame.header.get("sweep") or {})
        result = BenchResult(task.name, bench.name, {}, "timed")
        result.student = TimingStats.from_dict(frame.header["stats"])
        if task.analysis:
            sweep.update(_resolve(task.analysis)(sweep))
        result.extra = sweep
        return result, []

    def score_item(self, ctx: ScoreContext) -> Scored:
        item, task_cases = ctx.item, ctx.cases
        if item.kind != "agreement":
            return super().score_item(ctx)
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if not task_cases or not ctx.measured:
            return 0.0, False, f"not measured: {ctx.not_measured_why or 'needs a CUDA device'}"
        if not ctx.correct:
            return 0.0, True, "0: your timing function did not return one number per point"
        grader = next((b for b in ctx.benches if b.status == "timed" and b.extra), None)
        if grader is None:
            return 0.0, False, "not measured: the grader's own sweep did not run"
        mine = task_cases[0].measures["times_ms"]
        theirs = grader.extra["times_ms"]
        tolerance = ctx.task.tolerance
        close = [abs(m / t - 1) <= tolerance for m, t in zip(mine, theirs, strict=False)]
        fraction = sum(close) / len(close)
        points = round(item.points * (1.0 if fraction >= 0.75 else fraction), 2)
        worst = max(abs(m / t - 1) for m, t in zip(mine, theirs, strict=False))
        return (
            points,
            True,
            (
                f"{sum(close)} of {len(close)} batch sizes within {100 * tolerance:.0f}% of the "
                f"grader's timing in the same run (worst {100 * worst:.0f}% off; full points at 75%"
                " of the sizes)"
            ),
        )

    def how_checked(self, task: MeasureTask) -> str:
        return (
            f"{task.entry} is called once on the GPU; its numbers are compared, point by point, "
            "with the grader's own measurement of the same sweep in the same run."
        )

    def charts(self, result: Any, tasks: list[MeasureTask]) -> list[str]:
        names = {t.name for t in tasks}
        drawn = []
        for bench in result.benches:
            sweep = bench.extra or {}
            if bench.task not in names or not sweep.get("times_ms"):
                continue
            batches = sweep["batches"]
            series = [("the grader's", batches, [t * 1e3 for t in sweep["times_ms"]], REFERENCE)]
            mine = next(
                (c.measures for c in result.cases if c.task == bench.task and c.measures), None
            )
            if mine:
                series.insert(0, ("yours", batches, [t * 1e3 for t in mine["times_ms"]], STUDENT))
            title = "Roofline sweep: time per matmul against the batch"
            if sweep.get("knee") and sweep.get("predicted"):
                title += f" (knee {sweep['knee']:.0f}, predicted {sweep['predicted']:.0f}"
                if sweep.get("predicted_from_copy"):
                    title += f"; from the device copy {sweep['predicted_from_copy']:.0f}"
                title += ")"
            drawn.append(line_chart(series, "batch b", "microseconds per call", title))
        return drawn


KIND = MeasureKind()
