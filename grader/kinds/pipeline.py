"""The pipeline kind: the student writes a whole host-side pipeline, not one kernel (lab 1).

The submission defines ``setup(*setup_args) -> p`` (untimed: buffers, streams, events) and
``run(p, *scalars) -> float`` (timed: the pipeline, returning its own event-measured
milliseconds); the entry names, the input's name and the scalars' come from the task's spec.

Child, check phase: one pipeline per case from ``setup``, then three calls: plain, new values,
and (on a GPU) new values with the lab's race check on (its stress hook makes the given
producer kernel slower). The output is copied the moment ``run`` returns, before the harness
synchronises anything, so a pipeline that returns with copies still in flight is caught. Each
call's kernel launches and host<->device bytes are counted (:class:`grader.record.Counter`):
a right output from a call that launched no kernel, or that copied less than the output back
from the device, was not made on the GPU and fails.

Child, time phase: a fixed number of calls, each with its input set written untimed, each timed
across every stream (:func:`timed_call`); then one call traced with CUPTI (no Python stacks: the
Python tracer slows the host enough to change the timeline) while the call log notes which line
made each blocking call.

Parent: correctness (the output, and that it came from the device: in the check phase by the
counts, on a GPU also by every traced call's CUPTI trace, which must show kernels and the copies
back); speedup over the serial baseline timed in the same run; overlap from the
trace; hidden synchronisations; the student's own event timing against the grader's.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from grader import calllog, devices, trace
from grader.channel import Frame
from grader.charts import timeline_chart
from grader.check import CaseResult, call_result, compare
from grader.kinds import timed
from grader.kinds.base import ChildHarness, Kind, ReferenceRun, ScoreContext, Scored
from grader.kinds.kernel import NO_KERNEL
from grader.record import Counter
from grader.results import BenchResult
from grader.spec import Benchmark, Lab, PipelineTask
from grader.timing import TimingStats
from grader.verdicts import Reason

TIMELINE_LIMIT = 2000  # activities drawn; a pipeline of 16 chunks has about 50
EVENT_TIMING_TOLERANCE = 0.10  # the student's events against the grader's, relative
SHARE_OF_REFERENCE = 0.9  # full points at 90% of what the reference solution reached


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- running a pipeline (the child, and reference/lab1_streams/capture.py) ----------------------


class PipelineContractError(TypeError):
    """The object ``setup`` returned does not carry the buffers the harness needs."""


def check_buffers(task: PipelineTask, pipeline: Any, n: int) -> None:
    for name in task.buffers:
        buffer = getattr(pipeline, name, None)
        if not isinstance(buffer, np.ndarray):
            kind = type(buffer).__name__ if buffer is not None else "nothing"
            raise PipelineContractError(
                f"{task.setup_entry} must return an object with a `{name}` attribute holding a "
                f"numpy array (cuda.pinned_array(n, dtype=np.float32)); it has {kind}"
            )
        if buffer.dtype != np.float32 or buffer.shape != (n,) or not buffer.flags.c_contiguous:
            raise PipelineContractError(
                f"`{name}` must be a contiguous float32 array of shape ({n},); it is "
                f"{buffer.dtype} {buffer.shape}"
            )


def load_inputs(task: PipelineTask, pipeline: Any, x: np.ndarray) -> None:
    """Write the call's input and poison the output (NaN), both on the host."""
    host_in, host_out = task.buffers
    getattr(pipeline, host_in)[:] = x
    getattr(pipeline, host_out)[:] = np.nan


@dataclass
class TimedCall:
    result: Any  # what run() returned: the student's own elapsed milliseconds
    event_s: float  # events on the legacy default stream around the call and a device sync
    host_s: float  # the host's clock around the call alone


def timed_call(run: Any, pipeline: Any, *scalars: Any) -> TimedCall:
    """One call of ``run``, timed across every stream.

    The device is idle when the start event is recorded; the end event is recorded after a
    device-wide synchronise, so it also counts work the call left running on any stream.
    """
    from numba import cuda

    start, end = cuda.event(), cuda.event()
    cuda.synchronize()
    start.record()
    started = time.perf_counter()
    result = run(pipeline, *scalars)
    host_s = time.perf_counter() - started
    cuda.synchronize()
    end.record()
    end.synchronize()
    return TimedCall(result, start.elapsed_time(end) / 1e3, host_s)


def _synchronize() -> None:
    from numba import cuda

    cuda.synchronize()


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class PipelineKind(Kind):
    name = "pipeline"
    calls_per_case = 3
    rubric_kinds = ("speedup", "overlap", "sync", "event_timing")
    reasons: ClassVar[dict[str, Reason]] = {
        "not_ready": Reason(
            "Read an event before the GPU reached it",
            "elapsed_time() needs both events to have completed: record the end event after "
            "everything is issued and call end.synchronize() before reading the time (and "
            "before returning: the output must have arrived by then).",
        ),
        "race": Reason(
            "Right only when the timing is lucky: a missing cross-stream wait",
            "A kernel read data its producer had not finished writing: make it wait for an "
            "event recorded after the producer (cudaStreamWaitEvent) on its own stream.",
        ),
        "no_kernel": NO_KERNEL,
        "no_copy": Reason(
            "The output was not copied back from the device",
            "Every chunk's result must come back from the GPU with copy_to_host(h_out, "
            "stream=...); an output written any other way was not computed on the GPU.",
        ),
    }

    def case_job(self, task: PipelineTask, mode: str) -> dict[str, Any]:
        # The third call runs with the race check on (on a GPU; under the simulator everything
        # runs in order, so there is no race to provoke).
        return {"stress": [False, False, mode == "gpu"]}

    def child_prepare(self, task: PipelineTask) -> Counter:
        counter = Counter()
        counter.install()
        return counter

    def baseline_path(self, task: PipelineTask, lab: Lab) -> Path | None:
        return lab.reference_folder / task.baseline

    # -- child ----------------------------------------------------------------------------------

    def _entry_points(self, h: ChildHarness, module: Any, task: PipelineTask):
        """``setup`` and ``run``, or None once a fatal frame has said what is missing."""
        setup = h.entry_point(module, task, task.setup_entry, list(task.setup_args))
        if setup is None:
            return None
        run = h.entry_point(module, task, task.entry, ["p", *task.scalar_args])
        return (setup, run) if run is not None else None

    def _make_pipeline(self, task: PipelineTask, setup: Any, params: dict) -> Any:
        pipeline = setup(*[params[name] for name in task.setup_args])
        check_buffers(task, pipeline, int(params["n"]))
        return pipeline

    def _error(self, exc: BaseException, h: ChildHarness) -> dict[str, Any]:
        if isinstance(exc, PipelineContractError):
            return {"kind": "type", "type": "TypeError", "message": str(exc)}
        return h.failure(exc)

    def _stress_setter(self, task: PipelineTask) -> Any:
        if not task.stress_hook:
            return lambda ns: None
        module_name, function = task.stress_hook.split(":")
        return getattr(importlib.import_module(module_name), function)

    def child_check(self, h: ChildHarness, task: PipelineTask, module, job, state) -> None:
        fns = self._entry_points(h, module, task)
        if fns is None:
            return
        setup, run = fns
        set_stress = self._stress_setter(task)
        cases = job["cases"]
        for index, case in enumerate(cases):
            self._check_case(h, task, setup, run, set_stress, case, state)
            h.progress(index + 1, len(cases), f"{task.name} {case['name']}")
            if h.poisoned:
                return

    def _check_case(
        self, h, task: PipelineTask, setup, run, set_stress, case: dict, counter=None
    ) -> None:
        params = case["params"]
        header = {"type": "case", "task": task.name, "case": case["name"]}
        try:
            pipeline = self._make_pipeline(task, setup, params)
        except BaseException as exc:
            h.send({**header, "call": 0, "status": "error", "error": self._error(exc, h)})
            return
        host_in, host_out = task.buffers
        for call, seed in enumerate(case["seeds"]):
            stressed = bool(case.get("stress", [False] * 3)[call])
            inputs = task.make_inputs(params, _rng(seed))
            frame = {**header, "call": call, "stressed": stressed}
            try:
                load_inputs(task, pipeline, inputs[task.input_name])
                if not devices.simulated():
                    _synchronize()
                set_stress(task.stress_ns if stressed else 0)
                started = time.perf_counter()
                with counter.counting() if counter else contextlib.nullcontext() as tally:
                    returned = run(pipeline, *[inputs[a] for a in task.scalar_args])
                # Read the output before anything waits for the device: it must be there already.
                output = np.array(getattr(pipeline, host_out), copy=True)
                elapsed = time.perf_counter() - started
                after_input = np.array(getattr(pipeline, host_in), copy=True)
                if not devices.simulated():
                    _synchronize()
            except BaseException as exc:
                h.send({**frame, "status": "error", "error": self._error(exc, h)})
                return
            finally:
                set_stress(0)
            frame.update(status="returned", elapsed_s=elapsed, student_ms=_as_float(returned))
            if tally is not None:
                frame["device"] = tally.header()
            h.send(frame, {"output": output, "input": after_input})

    def child_time(self, h: ChildHarness, task: PipelineTask, module, job, state, timer) -> None:
        fns = self._entry_points(h, module, task)
        if fns is None:
            return
        setup, run = fns
        log = calllog.CallLog(h.submission)
        log.install()
        benchmarks = job["benchmarks"]
        for index, bench in enumerate(benchmarks):
            h.progress(index, len(benchmarks), f"timing {task.name} {bench['name']}")
            header = {"type": "bench", "task": task.name, "bench": bench["name"]}
            try:
                frame, arrays = self._time_benchmark(h, task, setup, run, bench, log)
            except BaseException as exc:
                h.send({**header, "status": "error", "error": self._error(exc, h)})
                if h.poisoned:
                    return
                continue
            h.send({**header, **frame}, arrays)
        h.progress(len(benchmarks), len(benchmarks), "")

    def _time_benchmark(self, h, task: PipelineTask, setup, run, bench: dict, log):
        from grader.cupti import capture
        from grader.timing import summarize

        params = bench["params"]
        pipeline = self._make_pipeline(task, setup, params)
        input_sets = timed.input_sets(task, params, bench["seeds"])
        weights = _rng(bench["weights_seed"]).uniform(0.5, 1.5, int(params["n"]))
        host_out = task.buffers[1]

        def load(k: int) -> list[Any]:
            load_inputs(task, pipeline, input_sets[k][task.input_name])
            return [input_sets[k][a] for a in task.scalar_args]

        for i in range(task.warmup_calls):
            timed_call(run, pipeline, *load(i % len(input_sets)))
        event_s, host_s, student_ms, fingerprints = [], [], [], []
        for i in range(task.timed_calls):
            k = i % len(input_sets)
            call = timed_call(run, pipeline, *load(k))
            event_s.append(call.event_s)
            host_s.append(call.host_s)
            student_ms.append(_as_float(call.result))
            output = getattr(pipeline, host_out).astype(np.float64)
            fingerprints.append([k, float(np.dot(output, weights))])
            h.progress(i + 1, task.timed_calls + 1, f"timing {task.name} {bench['name']}")
        # Several traced calls: the overlap is judged on their median, so that one unlucky
        # call does not move the grade (one traced call put the reference at 1.24x its bound
        # once and 1.08x otherwise). The call log follows the first.
        traces = []
        for t in range(task.traced_calls):
            k = t % len(input_sets)
            scalars = load(k)
            with log.record() as recorded:
                _, captured = capture(
                    lambda scalars=scalars: run(pipeline, *scalars), _synchronize, with_stack=False
                )
            if t == 0:
                entries = list(recorded)
            output = getattr(pipeline, host_out).astype(np.float64)
            fingerprints.append([k, float(np.dot(output, weights))])
            traces.append(gzip.compress(json.dumps(captured).encode(), compresslevel=6))
        stats = summarize(event_s, "fixed", cold=False)
        stats.host_median_s = float(np.median(host_s))
        frame = {
            "status": "timed",
            "stats": stats.to_dict(),
            "student_ms": student_ms,
            "fingerprints": fingerprints,
            "calllog": entries,
        }
        if bench.get("expected"):
            # Only the reference's process computes what the fingerprints should be.
            expected = timed.parallel_map(lambda inputs: task.expected(inputs, params), input_sets)
            frame.update(timed.expected_fingerprints(expected, task.effective_tolerance, weights))
        return frame, {
            f"trace.{t}": np.frombuffer(packed, dtype=np.uint8) for t, packed in enumerate(traces)
        }

    # -- parent ---------------------------------------------------------------------------------

    def judge_call(
        self, task: PipelineTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        """One call of a pipeline: the output buffer as it was the moment ``run`` returned."""
        header = frame.header
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        inputs = task.make_inputs(params, _rng(seed))
        x = inputs[task.input_name]
        output = frame.arrays.get("output")
        after = frame.arrays.get("input")
        host_in, host_out = task.buffers
        if after is None or not np.array_equal(after, x, equal_nan=True):
            changed = int((after != x).sum()) if after is not None else x.size
            result.reason = "modified_input"
            result.message = (
                f"{host_in} was changed by {task.entry} ({changed} elements): the input must be "
                "left as it was given"
            )
            return result
        expected, scale = task.expected(inputs, params)
        comparison = compare(output, expected, scale, task.effective_tolerance)
        result.worst_error_over_tolerance = comparison.worst_error_over_tolerance
        if comparison.ok:
            not_on_device = _not_on_device(task, header.get("device"), output)
            if not_on_device:
                result.reason, result.message = not_on_device
                return result
            result.passed = True
            return result
        result.reason = comparison.reason
        result.message = comparison.message
        result.mismatches = comparison.mismatches
        if header.get("stressed"):
            result.reason = "race"
            result.message = (
                f"right with {task.stress_subject} at its usual speed, wrong when it took "
                f"{task.stress_ns / 1e6:g} ms longer ({comparison.message}): a kernel read "
                f"what {task.stress_subject} writes before it had finished"
            )
        elif call > 0 and comparison.reason == "wrong_answer":
            result.reason = "stale"
            result.message = (
                "correct on the first call, but wrong on a second call with new values in the "
                f"same pipeline ({comparison.message}): is the result cached between calls?"
            )
        elif comparison.reason in ("unwritten", "nan"):
            result.message += (
                f": {host_out} is read the moment {task.entry} returns. Did it return before the "
                "last copy out had finished? Synchronise before returning"
            )
        return result

    def read_reference(self, task: PipelineTask, frames: list[Frame], reference: ReferenceRun):
        for frame in frames:
            key = (frame.header.get("task"), frame.header.get("bench"))
            if frame.type == "bench" and key[0] == task.name:
                summaries, _ = read_traces(frame)
                if summaries:
                    reference.extra(key)["trace"] = median_trace(summaries)

    def judge_bench(
        self, task: PipelineTask, bench: Benchmark, frame: Frame | None, reference: ReferenceRun
    ) -> tuple[BenchResult, list[CaseResult]]:
        result, wrong = timed.judge_timed(task, bench, frame, reference)
        if result.status == "timed" and frame is not None:

            def failed(reason: str, message: str) -> CaseResult:
                """A correctness failure seen while timing (the trace's evidence)."""
                where = f"while timing {bench.name}"
                return CaseResult(task.name, where, dict(bench.params), False, reason, message)

            summaries = _judge_pipeline(result, frame, reference, (task.name, bench.name))
            wrong += [failed(*found) for found in _traces_off_device(task, summaries)]
            early = [
                f for f in (result.trace or {}).get("findings", []) if f["code"] == "returned_early"
            ]
            if early:
                # A race the output did not show this time is still a race.
                wrong.append(
                    failed(
                        "race",
                        f"{early[0]['message']}. Synchronise (or wait for an event recorded "
                        f"after the last copy) before {task.entry} returns",
                    )
                )
        return result, wrong

    def after_bench(
        self, task: PipelineTask, frame: Frame, trace_dir: Path | None, stem: str
    ) -> Path | None:
        """Keep the median traced call where the student can open it (Perfetto)."""
        packed = _packed_traces(frame)
        if trace_dir is None or not packed:
            return None
        readable = [(p, s) for p in packed if not isinstance(s := read_trace(p), str)]
        chosen = packed[0]
        if readable:
            middle = median_trace([s for _, s in readable])
            chosen = next(p for p, s in readable if s is middle)
        trace_dir.mkdir(parents=True, exist_ok=True)
        path = trace_dir / f"{stem}-trace.json.gz"
        path.write_bytes(chosen.tobytes())
        return path

    def score_item(self, ctx: ScoreContext) -> Scored:
        """(points, measured, how) for a speedup, overlap, sync or event-timing item."""
        item = ctx.item
        if item.kind not in _RULES:
            return super().score_item(ctx)
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if not ctx.correct:
            return 0.0, True, "0: counts only once every case is correct"
        if not ctx.measured:
            return 0.0, False, f"not measured: {ctx.not_measured_why}"
        if not ctx.benches or any(b.status != "timed" for b in ctx.benches):
            return 0.0, True, "0: some benchmarks could not be timed"
        fractions, details = [], []
        for bench in ctx.benches:
            fraction, detail = _RULES[item.kind](bench)
            if fraction is None:
                return 0.0, False, f"not measured: {detail}"
            fractions.append(fraction)
            details.append(detail)
        return round(item.points * min(fractions), 2), True, "; ".join(details)

    def how_checked(self, task: PipelineTask) -> str:
        return (
            "Each case runs three times in one pipeline: plain, with new values, and (on a GPU) "
            f"with new values while {task.stress_subject} is made {task.stress_ns / 1e6:g} "
            "ms slower, so a missing cross-stream wait shows. The output (NaN before each call) "
            f"is read the moment {task.entry} returns; the input must come back unchanged."
        )

    def timing_note(self, copy_bw: float | None) -> str:
        return (
            "Each timed call of your pipeline had its own input written before the clock "
            "started; events on the legacy default stream at an idle device, a device-wide "
            "synchronise before the end event, so work on every stream counts. The reference "
            "solution and the serial baseline were timed in the same run, each in its own "
            "process; three more calls were traced with CUPTI, and the overlap figures are the "
            "median one's (by span over its lower bound)."
        )

    def charts(self, result: Any, tasks: list[PipelineTask]) -> list[str]:
        names = {t.name for t in tasks}
        return [
            timeline_chart(b.timeline, f"Timeline of the median traced call: {b.bench}")
            for b in result.benches
            if b.task in names and b.timeline
        ]

    def notes(self, bench: BenchResult) -> list[str]:
        findings = [f["message"] for f in (bench.trace or {}).get("findings", [])]
        return [call["message"] for call in bench.blocking_calls] + findings


def _not_on_device(task: PipelineTask, device: Any, output: Any) -> tuple[str, str] | None:
    """(reason, message) when a call's counts say its right output was not made on the GPU:
    no kernel launched, or less copied back from the device than the output holds. A frame
    without counts (an older harness) is judged by its output alone."""
    if not isinstance(device, dict):
        return None
    launches, d2h = device.get("launches"), device.get("d2h_bytes")
    if launches == 0:
        return "no_kernel", (
            f"{task.entry} launched no kernel, yet `{task.buffers[1]}` holds the right values: "
            "the output must be computed on the GPU by the lab's kernels, not on the host"
        )
    needed = int(getattr(output, "nbytes", 0))
    if isinstance(d2h, int) and d2h < needed:
        return "no_copy", (
            f"{task.entry} copied {d2h} bytes from the device to the host, but "
            f"`{task.buffers[1]}` holds {needed}: the output must come back from the GPU "
            "(copy_to_host(h_out, stream=...) for every chunk), not be computed on the host"
        )
    return None


# -- judging a timed pipeline -----------------------------------------------------------------


def _packed_traces(frame: Frame) -> list[np.ndarray]:
    """A timed frame's gzipped traces, in the order they were taken."""
    named = sorted(
        (int(name.split(".", 1)[1]), array)
        for name, array in frame.arrays.items()
        if name.startswith("trace.") and name.split(".", 1)[1].isdigit()
    )
    return [array for _, array in named]


def read_traces(frame: Frame) -> tuple[list[trace.TraceSummary], list[str]]:
    """Every trace of a timed frame that could be read, and why the others could not."""
    summaries, problems = [], []
    for packed in _packed_traces(frame):
        summary = read_trace(packed)
        if isinstance(summary, str):
            problems.append(summary)
        else:
            summaries.append(summary)
    return summaries, problems


def median_trace(summaries: list[trace.TraceSummary]) -> trace.TraceSummary:
    """The traced call whose span over its lower bound is the median of them all."""
    ranked = sorted(summaries, key=lambda s: s.over_bound)
    return ranked[(len(ranked) - 1) // 2]


def read_trace(packed: np.ndarray) -> trace.TraceSummary | str:
    """A trace summary, or why the trace could not be read."""
    try:
        data = json.loads(gzip.decompress(packed.tobytes()))
        return trace.summarize(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"the trace could not be read: {exc}"


def _traces_off_device(
    task: PipelineTask, summaries: list[trace.TraceSummary]
) -> list[tuple[str, str]]:
    """(reason, message) for the first traced call whose CUPTI trace shows no kernel, or no
    copy back to the host: its output was not made on the GPU, whatever it held."""
    for number, summary in enumerate(summaries, start=1):
        kinds = {a.kind for a in summary.activities}
        if "kernel" not in kinds:
            return [
                (
                    "no_kernel",
                    f"traced call {number} of {task.entry} ran no kernel on the GPU: the output "
                    "must be computed there by the lab's kernels, not on the host",
                )
            ]
        if "d2h" not in kinds:
            return [
                (
                    "no_copy",
                    f"traced call {number} of {task.entry} copied nothing from the device to "
                    "the host: the output must come back from the GPU",
                )
            ]
    return []


def _judge_pipeline(
    result: BenchResult, frame: Frame, reference: ReferenceRun, key: tuple[str, str]
) -> list[trace.TraceSummary]:
    """Fill a pipeline's bench result: speedups, trace figures, findings, event timing.
    Returns the traces that could be read."""
    header = frame.header
    extras = reference.extras.get(key, {})
    baseline = extras.get("baseline")
    if baseline is not None:
        result.baseline = TimingStats.from_dict(baseline["stats"])
        result.baseline_speedup = result.baseline.median_s / result.student.median_s
        ref = reference.benches.get(key)
        if ref is not None:
            result.reference_baseline_speedup = (
                result.baseline.median_s / TimingStats.from_dict(ref["stats"]).median_s
            )
    summaries, problems = read_traces(frame)
    result.flags.extend(problems)
    if not summaries:
        result.flags.append("no trace could be read")
    else:
        summary = median_trace(summaries)
        result.trace = summary.figures()
        result.trace["traced_calls"] = len(summaries)
        # A race in any traced call is a race, whichever call is the median.
        codes = {f["code"] for f in result.trace["findings"]}
        for other in summaries:
            for finding in other.findings:
                if finding.code == "returned_early" and finding.code not in codes:
                    result.trace["findings"].append(asdict(finding))
                    codes.add(finding.code)
        result.timeline = timeline(summary)
        for each in summaries:
            _check_trace_against_events(result, each)
    ref_summary = extras.get("trace")
    if isinstance(ref_summary, trace.TraceSummary):
        result.reference_trace = ref_summary.figures()
    result.blocking_calls = blocking_calls(header.get("calllog") or [])
    result.event_timing_error = event_timing_error(
        header.get("student_ms") or [], result.student.samples_s
    )
    return summaries


def _check_trace_against_events(result: BenchResult, summary: trace.TraceSummary) -> None:
    """The trace comes from the child: its span must fit inside what the events measured."""
    span_s = summary.span_us / 1e6
    slowest = max(result.student.samples_s or [result.student.median_s])
    if span_s > 3 * slowest + 0.005:
        result.flags.append(
            f"the traced call took {span_s * 1e3:.2f} ms on the GPU, far longer than any timed "
            f"call ({slowest * 1e3:.2f} ms): the trace and the timing disagree"
        )


def timeline(summary: trace.TraceSummary) -> dict[str, Any]:
    """What the report draws: one lane per stream, the host's named ranges above."""
    return {
        "span_us": summary.span_us,
        "activities": [
            [a.kind, a.stream, round(a.start, 2), round(a.end, 2), a.pageable]
            for a in summary.activities[:TIMELINE_LIMIT]
        ],
        "ranges": [
            [r.name, round(r.start, 2), round(r.end, 2)]
            for r in summary.ranges
            if not r.name.startswith("cwb:")
        ],
        "streams": summary.streams,
    }


def blocking_calls(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call log's blocking calls, each with a sentence that names the line."""
    found = []
    for group in calllog.summarize(entries):
        call = group["call"]
        count, line, ms = group["count"], group["line"], group["host_us"] / 1e3
        if call in calllog.COPY and not group["stream"]:
            text = (
                f"line {line}: {group['name']} without a stream, {count} call(s), {ms:.2f} ms "
                "of host time. Without a stream it is a blocking cudaMemcpy on the legacy "
                "default stream: pass stream=..."
            )
        elif call in calllog.SYNC and group["before_last_copy"]:
            text = (
                f"line {line}: {group['name']}, {group['before_last_copy']} call(s) before the "
                f"last copy was issued, {ms:.2f} ms of host time waiting instead of issuing "
                "work. Synchronise once, after everything is issued (or use events and "
                "stream waits between streams)"
            )
        elif call in calllog.ALLOC:
            text = (
                f"line {line}: {group['name']} inside run, {count} call(s), {ms:.2f} ms: "
                "allocation can synchronise the device; allocate in setup"
            )
        else:
            continue
        found.append({**group, "message": text})
    return found


def event_timing_error(student_ms: list[Any], grader_s: list[float]) -> float | None:
    """Median relative difference between the student's milliseconds and the grader's."""
    pairs = [
        (float(s), g * 1e3)
        for s, g in zip(student_ms, grader_s, strict=False)
        if isinstance(s, int | float) and g > 0
    ]
    if not pairs:
        return None
    return statistics.median(abs(s - g) / g for s, g in pairs)


def hidden_syncs(result: BenchResult) -> list[str]:
    """Sentences for every hidden synchronisation the trace or the call log found."""
    sentences = [entry["message"] for entry in result.blocking_calls]
    for finding in (result.trace or {}).get("findings", []):
        if finding["code"] in ("host_sync", "default_stream", "pageable"):
            sentences.append(finding["message"])
    return sentences


# -- the rubric items -------------------------------------------------------------------------


def _share(value: float, reference: float) -> float:
    """0 at 1x (no better than serial), full at 90% of the reference's gain over 1x."""
    target = 1.0 + SHARE_OF_REFERENCE * (reference - 1.0)
    if not value > 1.0 or not target > 1.0:
        return 0.0
    return min(1.0, (value - 1.0) / (target - 1.0))


def _speedup_rule(bench: BenchResult) -> tuple[float | None, str]:
    mine, ref = bench.baseline_speedup, bench.reference_baseline_speedup
    if mine is None or ref is None:
        return None, "the serial baseline was not timed"
    return _share(mine, ref), (
        f"{mine:.2f}x the serial baseline (the reference solution: {ref:.2f}x; full points "
        f"at {1 + SHARE_OF_REFERENCE * (ref - 1):.2f}x)"
    )


def _overlap_rule(bench: BenchResult) -> tuple[float | None, str]:
    if not bench.trace or not bench.reference_trace:
        return None, "no trace"
    mine = bench.trace["concurrency"]
    ref = bench.reference_trace["concurrency"]
    return _share(mine, ref), (
        f"on average {mine:.2f} engines busy at once over the run (the reference: {ref:.2f}); "
        f"all three busy {100 * bench.trace['three_busy_fraction']:.0f}% of the time; "
        f"{bench.trace['over_bound']:.2f}x the trace's lower bound"
    )


def _sync_rule(bench: BenchResult) -> tuple[float | None, str]:
    if not bench.trace:
        return None, "no trace"
    found = hidden_syncs(bench)
    if found:
        return 0.0, "0: " + " | ".join(found)
    return 1.0, "no host synchronisation before the last piece of work was issued"


def _event_timing_rule(bench: BenchResult) -> tuple[float | None, str]:
    error = bench.event_timing_error
    if error is None:
        return 0.0, "0: run did not return its elapsed milliseconds as a number"
    ok = error <= EVENT_TIMING_TOLERANCE
    return float(ok), (
        f"your events differ from the grader's by {100 * error:.1f}% (median; full points "
        f"within {100 * EVENT_TIMING_TOLERANCE:.0f}%)"
    )


_RULES = {
    "speedup": _speedup_rule,
    "overlap": _overlap_rule,
    "sync": _sync_rule,
    "event_timing": _event_timing_rule,
}

KIND = PipelineKind()
