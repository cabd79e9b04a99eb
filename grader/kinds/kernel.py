"""The kernel kind: the student writes a function that launches a kernel (labs 0 and 2 part B).

Child: every case runs twice (the second time with new values written into the same buffers),
into a NaN-poisoned output with guard elements on both sides; the outputs and the inputs as
they were afterwards go back to the parent. Timing is cold (L2 flushed), with CUDA events, over
input sets rotated through fixed buffers; every timed output is fingerprinted. The reference's
process also times the task's library ceiling (cuBLAS) on the same inputs.

Parent: checks type, dtype, shape, guards, inputs and values; rates timings against the
reference and the copy-bandwidth floor; scores speed as a speedup or as a share of the library.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from grader import devices
from grader.annotate import nvtx_range
from grader.channel import Frame
from grader.charts import (
    LIBRARY,
    REFERENCE,
    STUDENT,
    Bar,
    RooflinePoint,
    bar_chart,
    roofline_chart,
)
from grader.check import CaseResult, call_result, compare
from grader.devices import is_poison
from grader.kinds import timed
from grader.kinds.base import (
    ChildHarness,
    Kind,
    ReferenceRun,
    ScoreContext,
    Scored,
    bench_frame_type,
)
from grader.record import Recorder
from grader.replay import Replay, ReplayedFunction
from grader.results import BenchResult
from grader.spec import Benchmark, KernelTask
from grader.timing import TimingStats
from grader.verdicts import Reason


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@dataclass
class ChildState:
    """The child's per-task state: the array library and the recorder of GPU operations."""

    arrays: devices.Arrays
    recorder: Recorder
    sent_modules: set[str] = field(default_factory=set)  # CUBINs already sent once


def buffers(arrays, device_inputs: dict[str, Any], base: Any) -> dict[str, tuple[int, int]]:
    """The grader's device buffers of one call, by the names a recording uses: ``in.<name>``
    for each device input, ``out`` for the guarded output (guards included)."""
    found = {}
    for name, value in device_inputs.items():
        pointer = arrays.pointer(value)
        if pointer is not None:
            found[f"in.{name}"] = (pointer, int(value.size) * int(value.dtype.itemsize))
    found["out"] = (arrays.pointer(base), int(base.size) * int(base.dtype.itemsize))
    return found


def geometric_mean(values: list[float]) -> float:
    if not values or any(not (v > 0) for v in values):
        return math.nan
    return math.exp(sum(math.log(v) for v in values) / len(values))


NO_KERNEL = Reason(
    "No kernel was launched",
    "Your function must launch your numba kernel (kernel[blocks, threads](...)), or in lab 1 "
    "the lab's kernels; computing the answer any other way does not count.",
)


class KernelKind(Kind):
    name = "kernel"
    calls_per_case = 2
    rubric_kinds = ("speed",)
    replays = True  # on a GPU, every checked and timed call is re-run by the grader's worker
    reasons: ClassVar[dict[str, Reason]] = {
        "no_kernel": NO_KERNEL,
    }

    # -- child ----------------------------------------------------------------------------------

    def child_prepare(self, task: KernelTask) -> ChildState:
        recorder = Recorder()
        recorder.install()
        return ChildState(devices.arrays_for(task.array_module), recorder)

    def child_check(self, h: ChildHarness, task: KernelTask, module, job, state) -> None:
        fn = h.entry_point(module, task, task.entry, [*task.arg_names, "out"])
        if fn is None:
            return
        cases = job["cases"]
        for index, case in enumerate(cases):
            self._run_case(h, task, fn, state.arrays, case, state)
            h.progress(index + 1, len(cases), f"{task.name} {case['name']}")
            if h.poisoned:
                return

    def _run_case(
        self, h: ChildHarness, task: KernelTask, fn, arrays, case: dict, state=None
    ) -> None:
        """Every call of one case; with ``state`` (the child's), each call is recorded."""
        params = case["params"]
        inputs = task.make_inputs(params, _rng(case["seeds"][0]))
        device_inputs = {
            name: arrays.to_device(v) if isinstance(v, np.ndarray) else v
            for name, v in inputs.items()
        }
        base, out = arrays.guarded_empty(task.output_shape(params), task.output_dtype)
        for call, seed in enumerate(case["seeds"]):
            if call > 0:
                # New values in the same buffers: a result cached by pointer or shape is stale.
                for name, value in task.make_inputs(params, _rng(seed)).items():
                    if isinstance(value, np.ndarray):
                        arrays.copy(device_inputs[name], arrays.to_device(value))
                    else:
                        device_inputs[name] = value
                arrays.fill_poison(base)
            header = {"type": "case", "task": task.name, "case": case["name"], "call": call}
            args = [device_inputs[name] for name in task.arg_names]
            # Inputs and poison were written on the default stream: make them visible to a
            # submission that works on a stream of its own.
            arrays.synchronize()
            started = time.perf_counter()
            recorded: dict[str, Any] = {}
            try:
                with (
                    nvtx_range(f"{task.entry} {case['name']}"),
                    self._recording(state, arrays, device_inputs, base, recorded),
                ):
                    result = fn(*args, out)
                    arrays.synchronize()
            except BaseException as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                return
            header["elapsed_s"] = time.perf_counter() - started
            self._send_result(h, arrays, header, result, base, device_inputs, recorded)

    @contextlib.contextmanager
    def _recording(self, state, arrays, device_inputs, base, into: dict[str, Any]):
        """Record the call's GPU operations (the child's state only), into ``into``."""
        if state is None:
            yield
            return
        scalars = {n: v for n, v in device_inputs.items() if arrays.pointer(v) is None}
        with state.recorder.recording(buffers(arrays, device_inputs, base), scalars) as recording:
            yield
        into["header"] = recording.header()
        into["arrays"] = {f"rec.{k}": v for k, v in recording.arrays(state.sent_modules).items()}

    def _send_result(self, h, arrays, header, result, base, device_inputs, recorded=None) -> None:
        payload: dict[str, np.ndarray] = {}
        header = {**header, "status": "returned"}
        if recorded:
            header["recording"] = recorded["header"]
            payload.update(recorded["arrays"])
        try:
            # What the submission returned is the submission's business: anything that goes
            # wrong looking at it is its failure ("type"), never the grader's.
            header["returned"] = devices.describe(result)
            header["is_device_array"] = arrays.is_device_array(result)
            pointer = arrays.pointer(result) if header["is_device_array"] else None
        except BaseException as exc:
            error = {**h.failure(exc), "kind": "type"}
            error["message"] = "what your function returned could not be read: " + str(
                error.get("message", "")
            )
            h.send({**header, "status": "error", "error": error})
            return
        header["aliases"] = [
            name
            for name, value in device_inputs.items()
            if pointer is not None and arrays.pointer(value) == pointer
        ]
        try:
            if header["is_device_array"]:
                payload["output"] = arrays.to_host(result)
            full = arrays.to_host(base)
        except BaseException as exc:
            h.send({**header, "status": "error", "error": h.failure(exc)})
            return
        guard = devices.GUARD_ELEMENTS
        payload["guard_before"] = full[:guard]
        payload["guard_after"] = full[-guard:]
        for name, value in device_inputs.items():
            if arrays.is_device_array(value):
                payload[f"input.{name}"] = arrays.to_host(value)
        h.send(header, payload)

    def child_time(self, h: ChildHarness, task: KernelTask, module, job, state, timer) -> None:
        """Record one call at each benchmark's size: a process of the grader's own replays
        and times it (worker_run), so nothing the submission's process measures counts."""
        fn = h.entry_point(module, task, task.entry, [*task.arg_names, "out"])
        if fn is None:
            return
        arrays = state.arrays
        benchmarks = job["benchmarks"]
        for index, bench in enumerate(benchmarks):
            h.progress(index, len(benchmarks), f"recording {task.name} {bench['name']}")
            header = {"type": "bench_recording", "task": task.name, "bench": bench["name"]}
            try:
                params = bench["params"]
                inputs = task.make_inputs(params, _rng(bench["seeds"][0]))
                device_inputs = {
                    n: arrays.to_device(v) if isinstance(v, np.ndarray) else v
                    for n, v in inputs.items()
                }
                base, out = arrays.guarded_empty(task.output_shape(params), task.output_dtype)
                arrays.synchronize()
                recorded: dict[str, Any] = {}
                with self._recording(state, arrays, device_inputs, base, recorded):
                    fn(*[device_inputs[n] for n in task.arg_names], out)
                    arrays.synchronize()
            except BaseException as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                if h.poisoned:
                    return
                continue
            h.send(
                {**header, "status": "recorded", "recording": recorded["header"]},
                recorded["arrays"],
            )
        h.progress(len(benchmarks), len(benchmarks), "")

    # -- the grader's worker: replayed calls ------------------------------------------------------

    def worker_run(self, h: ChildHarness, task: KernelTask, job: dict, timer: Any) -> None:
        """Check (phase "verify") or time (phase "time") each recorded call, replayed."""
        arrays = devices.arrays_for("cupy")
        items = job["cases"] if h.job["phase"] == "verify" else job["benchmarks"]
        for item in items:
            frame = h.recordings.get(item["key"])
            frame_type = "case" if h.job["phase"] == "verify" else "bench"
            try:
                # The parent sent the recording's bytes under the names it uses.
                replay = Replay(frame.header["recording"], frame.arrays)
            except BaseException as exc:
                error = h.failure(exc)
                where = (
                    {"case": item["name"], "call": 0}
                    if frame_type == "case"
                    else {"bench": item["name"]}
                )
                h.send(
                    {
                        "type": frame_type,
                        "task": task.name,
                        **where,
                        "status": "error",
                        "error": error,
                    }
                )
                continue
            fn = ReplayedFunction(replay, task)
            if frame_type == "case":
                self._run_case(h, task, fn, arrays, item)
            else:
                self._time_task(h, task, fn, arrays, [item], timer)
                if task.ceiling and h.job.get("reference") and not h.poisoned:
                    module_name, _, name = task.ceiling.partition(":")
                    ceiling = getattr(importlib.import_module(module_name), name)
                    self._time_task(h, task, ceiling, arrays, [item], timer, role="ceiling")
            if h.poisoned:
                return

    def _time_task(self, h, task, fn, arrays, benchmarks: list, timer, role: str = "") -> None:
        """Time ``fn`` on every benchmark; ``role="ceiling"`` marks frames of the library
        ceiling (no expected outputs: the reference's frames carry those)."""
        from grader.timing import StopRule

        rule = StopRule.from_dict(h.job.get("stop_rule"))
        frame_type = bench_frame_type(role)
        label = f"{role} " if role else ""
        for index, bench in enumerate(benchmarks):
            h.progress(index, len(benchmarks), f"timing {label}{task.name} {bench['name']}")
            try:
                with nvtx_range(f"time {label}{task.entry} {bench['name']}"):
                    frame = self._time_benchmark(h, task, fn, arrays, bench, timer, rule, role)
            except BaseException as exc:
                error = h.failure(exc)
                header = {"type": frame_type, "task": task.name, "bench": bench["name"]}
                h.send({**header, "status": "error", "error": error})
                if h.poisoned:
                    return
                continue
            h.send(frame)
        h.progress(len(benchmarks), len(benchmarks), "")

    def _time_benchmark(self, h, task, fn, arrays, bench, timer, rule, role) -> dict[str, Any]:
        import cupy

        params = bench["params"]
        input_sets = timed.input_sets(task, params, bench["seeds"])
        names = [n for n, v in input_sets[0].items() if isinstance(v, np.ndarray)]
        pristine = [{n: arrays.to_device(s[n]) for n in names} for s in input_sets]
        work = {n: arrays.to_device(input_sets[0][n]) for n in names}
        base, out = arrays.guarded_empty(task.output_shape(params), task.output_dtype)
        weights_host = _rng(bench["weights_seed"]).uniform(0.5, 1.5, out.size)
        weights = cupy.asarray(weights_host)
        guard = devices.GUARD_ELEMENTS
        state: dict[str, Any] = {}
        fingerprints: list[list[float]] = []
        guard_violations = 0

        reset = getattr(fn, "prepare", None)  # a replayed call puts its scratch back

        def prepare(i: int) -> None:
            k = i % len(input_sets)
            for n in names:
                arrays.copy(work[n], pristine[k][n])
            arrays.fill_poison(base)
            if reset is not None:
                reset()
            state["set"] = k
            state["args"] = [work[n] if n in work else input_sets[k][n] for n in task.arg_names]

        def call() -> Any:
            return fn(*state["args"], out)

        # Each sample's fingerprint and guard check stay on the device until the end: reading
        # them back at once spares a synchronise per sample (1050 samples cost 4.8 s in a lab 0
        # timing process on the H200, most of it in those reads).
        pending: list[tuple[int, Any, Any]] = []

        def check(i: int, result: Any) -> None:
            fp = None
            if arrays.is_device_array(result) and tuple(result.shape) == tuple(out.shape):
                fp = cupy.dot(arrays.view(result).ravel().astype(cupy.float64), weights)
            whole = arrays.view(base)
            spoiled = sum(
                cupy.count_nonzero(~devices.is_poison(g, cupy))
                for g in (whole[:guard], whole[-guard:])
            )
            pending.append((state["set"], fp, spoiled))

        stats = timer.measure(call, rule, prepare=prepare, check=check)
        if pending:
            spoiled_counts = cupy.stack([p[2] for p in pending]).get()
            guard_violations = int((spoiled_counts > 0).sum())
            dots = [p[1] for p in pending if p[1] is not None]
            values = iter(cupy.stack(dots).get().tolist() if dots else [])
            for k, fp, _ in pending:
                fingerprints.append([k, next(values) if fp is not None else float("nan")])
        frame: dict[str, Any] = {
            "type": bench_frame_type(role),
            "task": task.name,
            "bench": bench["name"],
            "status": "timed",
            "stats": stats.to_dict(),
            "fingerprints": fingerprints,
            "guard_violations": guard_violations,
        }
        if h.job.get("reference") and not role:
            # Only the reference's process computes what the fingerprints should be.
            expected = timed.parallel_map(task.expected, input_sets)
            frame.update(
                timed.expected_fingerprints(expected, task.effective_tolerance, weights_host)
            )
        return frame

    # -- parent ---------------------------------------------------------------------------------

    def judge_call(
        self, task: KernelTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        """One call of one case: the frame the child sent against the inputs it was given."""
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        inputs = task.make_inputs(params, _rng(seed))
        header = frame.header
        returned = header.get("returned", {})
        output = frame.arrays.get("output")
        if not header.get("is_device_array") or output is None:
            result.reason = "type"
            result.message = (
                f"{task.entry} returned a {returned.get('type', 'value')}; it must return a "
                f"{task.array_module} device array (the `out` buffer it was given)"
            )
            return result
        if str(output.dtype) != task.output_dtype:
            result.reason = "dtype"
            result.message = f"the result's dtype is {output.dtype}, expected {task.output_dtype}"
            return result
        shape = tuple(task.output_shape(params))
        if tuple(output.shape) != shape:
            result.reason = "shape"
            result.message = f"the result's shape is {tuple(output.shape)}, expected {shape}"
            return result
        for side in ("guard_before", "guard_after"):
            guard = frame.arrays.get(side)
            if guard is None or not is_poison(guard).all():
                changed = int((~is_poison(guard)).sum()) if guard is not None else -1
                where = "before the start" if side == "guard_before" else "after the end"
                result.reason = "out_of_bounds"
                result.message = (
                    f"the kernel wrote outside `out`: {changed} guard elements {where} of the "
                    "buffer changed. Does every thread check its index against the size?"
                )
                return result
        for name, original in inputs.items():
            after = frame.arrays.get(f"input.{name}")
            if isinstance(original, np.ndarray) and (
                after is None or not np.array_equal(after, original, equal_nan=True)
            ):
                changed = int((after != original).sum()) if after is not None else original.size
                result.reason = "modified_input"
                result.message = (
                    f"the input `{name}` was modified ({changed} elements changed); "
                    "inputs must be left as they were given"
                )
                return result
        if header.get("aliases"):
            result.reason = "returned_input"
            result.message = f"{task.entry} returned its input `{header['aliases'][0]}`"
            return result
        expected, scale = task.expected(inputs)
        comparison = compare(output, expected, scale, task.effective_tolerance)
        result.worst_error_over_tolerance = comparison.worst_error_over_tolerance
        recording = header.get("recording")
        if comparison.ok and isinstance(recording, dict) and recording.get("launches") == 0:
            result.reason = "no_kernel"
            result.message = (
                f"{task.entry} launched no kernel through numba, yet `out` holds the right "
                "values: the work must happen in your kernel"
            )
            return result
        if comparison.ok:
            result.passed = True
            return result
        result.reason = comparison.reason
        result.message = comparison.message
        result.mismatches = comparison.mismatches
        if call > 0 and comparison.reason == "wrong_answer":
            result.reason = "stale"
            result.message = (
                "correct on the first call, but wrong on a second call with new values in the "
                f"same buffers ({comparison.message}): is the result cached between calls?"
            )
        return result

    def read_reference(self, task: KernelTask, frames: list[Frame], reference: ReferenceRun):
        for frame in frames:
            h = frame.header
            if h.get("type") != bench_frame_type("ceiling") or h.get("task") != task.name:
                continue
            if h.get("status") == "timed":
                stats = TimingStats.from_dict(h["stats"])
                reference.extra((h["task"], h["bench"]))["library"] = stats
            else:
                reference.error = reference.error or f"the library ceiling failed: {h.get('error')}"

    def judge_bench(
        self, task: KernelTask, bench: Benchmark, frame: Frame | None, reference: ReferenceRun
    ) -> tuple[BenchResult, list[CaseResult]]:
        result, wrong = timed.judge_timed(task, bench, frame, reference)
        library = reference.extras.get((task.name, bench.name), {}).get("library")
        self._rate_against_library(task, result, library)
        return result, wrong

    def _rate_against_library(
        self, task: KernelTask, result: BenchResult, library: TimingStats | None
    ) -> None:
        """FLOP/s, and the share of the library ceiling (cuBLAS) timed with the reference."""
        if result.status != "timed" or result.student is None or task.flops is None:
            return
        result.flops = task.flops(result.params)
        result.flops_per_s = result.flops / result.student.median_s
        if result.reference is not None:
            result.reference_flops_per_s = result.flops / result.reference.median_s
        if library is not None:
            result.library = library
            result.library_name = task.ceiling_name or "library"
            result.library_flops_per_s = result.flops / library.median_s
            result.share_of_library = library.median_s / result.student.median_s

    def score_item(self, ctx: ScoreContext) -> Scored:
        """Speed points: the geometric mean over benchmarks of a speedup or a library share."""
        item = ctx.item
        if item.kind != "speed" or item.speed is None:
            return super().score_item(ctx)
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if not ctx.correct:
            return 0.0, True, "0: speed counts only once every case is correct"
        if not ctx.measured:
            return 0.0, False, f"not measured: {ctx.not_measured_why}"
        timed_benches = ctx.benches
        if any(timed.FLOOR_FLAG in " ".join(b.flags) for b in timed_benches):
            return 0.0, True, f"withheld: {timed.FLOOR_FLAG}; flagged for review"
        against_library = item.speed.of == "ceiling"
        ratios = [b.share_of_library if against_library else b.speedup for b in timed_benches]
        ratios = [r for r in ratios if r is not None]
        if not timed_benches or len(ratios) != len(timed_benches):
            return 0.0, True, "0: some benchmarks could not be timed"
        mean = geometric_mean(ratios)
        points = round(item.points * item.speed.fraction(mean), 2)
        if against_library:
            library = timed_benches[0].library_name or "the library"
            how = (
                f"{100 * mean:.1f}% of {library}'s speed (geometric mean over "
                f"{len(timed_benches)} sizes, timed in the same run); 0 points at "
                f"{100 * item.speed.zero_at:g}%, full at {100 * item.speed.full_at:g}%"
            )
        else:
            how = (
                f"{mean:.2f}x the reference (geometric mean over {len(timed_benches)} sizes); "
                f"0 points at {item.speed.zero_at}x, full at {item.speed.full_at}x"
            )
        return points, True, how

    def how_checked(self, task: KernelTask) -> str:
        return (
            "Each case runs twice: the second time with new values written into the same "
            "buffers. Outputs are poisoned with NaN before each call and guarded on both sides; "
            "inputs must come back unchanged."
        )

    def timing_note(self, copy_bw: float | None) -> str:
        note = (
            "Cold timings (L2 flushed before every sample) with CUDA events, a device-wide "
            "synchronise before the end event, warm-up first; median and interquartile range. "
            "The reference solution was timed in the same run, in its own process."
        )
        if copy_bw:
            note += (
                f" Copy bandwidth measured in this run: {copy_bw / 1e9:.0f} GB/s (bytes read + "
                "written)."
            )
        return note

    def charts(self, result: Any, tasks: list[KernelTask]) -> list[str]:
        names = {t.name for t in tasks}
        benches = [b for b in result.benches if b.task in names]
        copy_bw = result.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
        return [*_compute_charts(benches, copy_bw), *_bandwidth_charts(benches, copy_bw)]


def _bandwidth_charts(benches: list[BenchResult], copy_bw: float | None) -> list[str]:
    """Memory-bound kernels: achieved bandwidth against the device copy of the same run."""
    groups = []
    for b in benches:
        if b.library_flops_per_s is not None or not b.traffic_bytes or not copy_bw:
            continue  # measured against a compute library: the roofline shows its bytes
        bars = []
        for who, stats, colour in (
            ("yours", b.student, STUDENT),
            ("reference", b.reference, REFERENCE),
        ):
            if stats is None:
                continue
            traffic = b.traffic_bytes
            gbs = traffic / stats.median_s / 1e9
            bars.append(
                Bar(who, gbs, colour, traffic / stats.q3_s / 1e9, traffic / stats.q1_s / 1e9)
            )
        if bars:
            groups.append((f"{b.task} {b.bench}", bars))
    if not groups or not copy_bw:
        return []
    return [
        bar_chart(
            groups,
            "GB/s",
            "Achieved bandwidth (minimum bytes moved / median time), with IQR",
            ceiling=copy_bw / 1e9,
            ceiling_label=f"device copy {copy_bw / 1e9:.0f} GB/s",
        )
    ]


def _compute_charts(benches: list[BenchResult], copy_bw: float | None) -> list[str]:
    """Kernels timed against a compute library (cuBLAS): TFLOP/s, and the roofline."""
    timed_benches = [b for b in benches if b.library_flops_per_s is not None]
    if not timed_benches:
        return []
    groups = []
    points = []
    for b in timed_benches:
        bars = [Bar("yours", b.flops_per_s / 1e12, STUDENT)]
        points.append(RooflinePoint(f"yours {b.bench}", b.intensity, b.flops_per_s, STUDENT))
        if b.reference_flops_per_s:
            bars.append(Bar("reference", b.reference_flops_per_s / 1e12, REFERENCE))
            points.append(
                RooflinePoint("reference", b.intensity, b.reference_flops_per_s, REFERENCE)
            )
        if b.library_flops_per_s:
            bars.append(Bar(b.library_name, b.library_flops_per_s / 1e12, LIBRARY))
            points.append(
                RooflinePoint(b.library_name, b.intensity, b.library_flops_per_s, LIBRARY)
            )
        groups.append((f"{b.task} {b.bench}", bars))
    drawn = [bar_chart(groups, "TFLOP/s", "Achieved TFLOP/s (2MNK / median time)")]
    peak = max((b.library_flops_per_s or 0.0) for b in timed_benches)
    if peak and copy_bw:
        library = timed_benches[0].library_name
        svg = roofline_chart(
            points,
            peak,
            copy_bw,
            "Roofline: both roofs measured in this run",
            f"{library} {peak / 1e12:.1f} TFLOP/s",
        )
        if svg:
            drawn.append(svg)
    return drawn


KIND = KernelKind()
