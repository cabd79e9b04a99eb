"""The child process: imports one submission and runs one phase of a lab on it.

Started by :mod:`grader.sandbox` as ``python -m grader.child FD`` with the job as JSON on stdin.
It sends frames on file descriptor FD (see :mod:`grader.channel`) and never decides a verdict:
outputs go back to the parent, which alone knows the expected values.

Phases:
    check   run every correctness case twice (the second time with new values written into the
            same buffers, so cached results fail) and send back outputs and inputs;
    time    time every benchmark cold, rotating input sets through fixed buffers, and send back
            a fingerprint of every output produced while timing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader import devices, errors
from grader.channel import FrameWriter
from grader.spec import CacheTask, KernelTask, Lab, PipelineTask


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def nvtx_range(message: str):
    """An NVTX range around a stage, so nsys shows it; nothing where nvtx is missing."""
    try:
        import nvtx
    except ImportError:
        return contextlib.nullcontext()
    return nvtx.annotate(message, domain="cwb")


def bench_frame_type(role: str) -> str:
    """A timed benchmark's frame type: "bench", or "ceiling_bench" for the library ceiling."""
    return f"{role}_bench" if role else "bench"


def expected_fingerprints(
    expected: list[tuple[np.ndarray, np.ndarray]], tol: Any, weights: np.ndarray
) -> dict[str, list[float]]:
    """Per input set, the weighted sum the output must have and how far it may be off.

    ``expected``: (float64 expected output, tolerance scale) per input set; ``weights``: float64
    of the output's size, the same the child dots each timed output with.
    """
    return {
        "expected_fingerprints": [float(np.dot(e.ravel(), weights)) for e, _ in expected],
        "fingerprint_bounds": [
            float(np.dot(tol.atol + tol.rtol * scale.ravel(), weights)) for _, scale in expected
        ],
    }


class Harness:
    def __init__(self, job: dict[str, Any], writer: FrameWriter):
        import labs

        self.job = job
        self.send = writer.send
        self.lab: Lab = labs.get(job["lab"])
        self.submission = Path(job["submission"])
        self.poisoned = False  # after a CUDA error the context is unusable

    def failure(self, exc: BaseException) -> dict[str, Any]:
        """The submission's exception, described; after a CUDA error the context is lost."""
        error = errors.describe(exc, self.submission)
        self.poisoned = self.poisoned or error["kind"] == "cuda_error"
        return error

    def progress(self, done: int, total: int, text: str) -> None:
        self.send({"type": "progress", "done": done, "total": total, "text": text})

    # -- set-up -------------------------------------------------------------------------------

    def run(self) -> None:
        info = devices.device_info()
        timer = None
        if self.job["phase"] == "time":
            from grader.timing import EventTimer

            timer = EventTimer(warmup_s=self.job.get("warmup_s", 0.1))
            info["sync_gap_s"] = timer.calibrate()
        # Import the array libraries the tasks use before the submission, so the snapshot
        # below holds the real timing functions.
        task_arrays = {
            t["task"]: devices.arrays_for(self.lab.task(t["task"]).array_module)
            for t in self.job["tasks"]
            if isinstance(self.lab.task(t["task"]), KernelTask)
        }
        from grader.timing import replaced_timing_functions, timing_snapshot

        snapshot = timing_snapshot()
        self.send({"type": "hello", "device": info, "pid": os.getpid()})
        module = self.load_submission()
        if module is None:
            return
        for task_job in self.job["tasks"]:
            task = self.lab.task(task_job["task"])
            if isinstance(task, PipelineTask):
                self.pipeline_task(task, module, task_job)
            elif isinstance(task, CacheTask):
                if self.job["phase"] == "check":  # nothing to time: misses are the measure
                    from grader import cache_child

                    cache_child.check_task(self, task, module, task_job["cases"])
            else:
                self.kernel_task(task, module, task_job, task_arrays[task.name], timer)
            replaced = replaced_timing_functions(snapshot)
            if replaced:
                self.send({"type": "tampered", "task": task.name, "replaced": replaced})
            if self.poisoned:
                break
        if timer is not None and self.job.get("ceilings") and not self.poisoned:
            self.measure_ceilings(timer)
        self.send({"type": "done"})

    def kernel_task(self, task: KernelTask, module: Any, task_job: dict, arrays, timer) -> None:
        fn = self.entry_point(module, task, task.entry, [*task.arg_names, "out"])
        if fn is None:
            return
        if self.job["phase"] == "check":
            self.check_task(task, fn, arrays, task_job["cases"])
            return
        self.time_task(task, fn, arrays, task_job["benchmarks"], timer)
        if task.ceiling and self.job.get("reference") and not self.poisoned:
            # The library ceiling (cuBLAS), on the same inputs in the same process and run.
            module_name, _, name = task.ceiling.partition(":")
            ceiling = getattr(importlib.import_module(module_name), name)
            self.time_task(task, ceiling, arrays, task_job["benchmarks"], timer, role="ceiling")

    def pipeline_task(self, task: PipelineTask, module: Any, task_job: dict) -> None:
        from grader import pipeline_child

        if self.job["phase"] == "check":
            pipeline_child.check_task(self, task, module, task_job["cases"])
        else:
            pipeline_child.time_task(self, task, module, task_job["benchmarks"])

    def load_submission(self) -> Any:
        sys.path.insert(0, str(self.submission.parent))
        spec = importlib.util.spec_from_file_location("submission", self.submission)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        try:
            with nvtx_range("import submission"):
                spec.loader.exec_module(module)
        except BaseException as exc:
            info = errors.describe(exc, self.submission)
            if info["kind"] not in ("exited", "not_implemented"):
                info["kind"] = "import_error"
            self.send({"type": "fatal", "stage": "import", "error": info})
            return None
        return module

    def entry_point(self, module: Any, task: Any, name: str, args: list[str]) -> Any:
        """The submission's function ``name``, callable with ``args``; or a fatal frame."""
        fn = getattr(module, name, None)
        if fn is None or not callable(fn):
            self.send(
                {
                    "type": "fatal",
                    "stage": "entry",
                    "task": task.name,
                    "error": {
                        "kind": "missing_function",
                        "type": "AttributeError",
                        "message": f"the submission has no function named {name!r}",
                    },
                }
            )
            return None
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as exc:
            wanted = ", ".join(args)
            self.send(
                {
                    "type": "fatal",
                    "stage": "entry",
                    "task": task.name,
                    "error": {
                        "kind": "signature",
                        "type": "TypeError",
                        "message": f"{name} must take ({wanted}): {exc}",
                    },
                }
            )
            return None
        except ValueError:
            pass  # no signature to read (a builtin or a compiled dispatcher): call it anyway
        return fn

    # -- check phase --------------------------------------------------------------------------

    def check_task(self, task: KernelTask, fn: Any, arrays: devices.Arrays, cases: list) -> None:
        for index, case in enumerate(cases):
            self.run_case(task, fn, arrays, case)
            self.progress(index + 1, len(cases), f"{task.name} {case['name']}")
            if self.poisoned:
                return

    def run_case(self, task: KernelTask, fn: Any, arrays: devices.Arrays, case: dict) -> None:
        params = case["params"]
        inputs = task.make_inputs(params, rng(case["seeds"][0]))
        device_inputs = {
            name: arrays.to_device(v) if isinstance(v, np.ndarray) else v
            for name, v in inputs.items()
        }
        base, out = arrays.guarded_empty(task.output_shape(params), task.output_dtype)
        for call, seed in enumerate(case["seeds"]):
            if call > 0:
                # New values in the same buffers: a result cached by pointer or shape is stale.
                for name, value in task.make_inputs(params, rng(seed)).items():
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
            try:
                with nvtx_range(f"{task.entry} {case['name']}"):
                    result = fn(*args, out)
                    arrays.synchronize()
            except BaseException as exc:
                self.send({**header, "status": "error", "error": self.failure(exc)})
                return
            header["elapsed_s"] = time.perf_counter() - started
            self.send_result(task, arrays, header, result, out, base, device_inputs)

    def send_result(
        self,
        task: KernelTask,
        arrays: devices.Arrays,
        header: dict[str, Any],
        result: Any,
        out: Any,
        base: Any,
        device_inputs: dict[str, Any],
    ) -> None:
        payload: dict[str, np.ndarray] = {}
        header = {**header, "status": "returned", "returned": devices.describe(result)}
        header["is_device_array"] = arrays.is_device_array(result)
        pointer = arrays.pointer(result) if header["is_device_array"] else None
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
            self.send({**header, "status": "error", "error": self.failure(exc)})
            return
        guard = devices.GUARD_ELEMENTS
        payload["guard_before"] = full[:guard]
        payload["guard_after"] = full[-guard:]
        for name, value in device_inputs.items():
            if arrays.is_device_array(value):
                payload[f"input.{name}"] = arrays.to_host(value)
        self.send(header, payload)

    # -- time phase ---------------------------------------------------------------------------

    def time_task(self, task, fn, arrays, benchmarks: list, timer, role: str = "") -> None:
        """Time ``fn`` on every benchmark; ``role="ceiling"`` marks frames of the library
        ceiling (no expected outputs: the reference's frames carry those)."""
        from grader.timing import StopRule

        rule = StopRule.from_dict(self.job.get("stop_rule"))
        frame_type = bench_frame_type(role)
        label = f"{role} " if role else ""
        for index, bench in enumerate(benchmarks):
            self.progress(index, len(benchmarks), f"timing {label}{task.name} {bench['name']}")
            try:
                with nvtx_range(f"time {label}{task.entry} {bench['name']}"):
                    frame = self.time_benchmark(task, fn, arrays, bench, timer, rule, role)
            except BaseException as exc:
                error = self.failure(exc)
                header = {"type": frame_type, "task": task.name, "bench": bench["name"]}
                self.send({**header, "status": "error", "error": error})
                if self.poisoned:
                    return
                continue
            self.send(frame)
        self.progress(len(benchmarks), len(benchmarks), "")

    def time_benchmark(
        self, task, fn, arrays, bench: dict, timer, rule, role: str = ""
    ) -> dict[str, Any]:
        import cupy

        params = bench["params"]
        input_sets = [task.make_inputs(params, rng(seed)) for seed in bench["seeds"]]
        names = [n for n, v in input_sets[0].items() if isinstance(v, np.ndarray)]
        pristine = [{n: arrays.to_device(s[n]) for n in names} for s in input_sets]
        work = {n: arrays.to_device(input_sets[0][n]) for n in names}
        base, out = arrays.guarded_empty(task.output_shape(params), task.output_dtype)
        weights_host = rng(bench["weights_seed"]).uniform(0.5, 1.5, out.size)
        weights = cupy.asarray(weights_host)
        guard = devices.GUARD_ELEMENTS
        state: dict[str, Any] = {}
        fingerprints: list[list[float]] = []
        guard_violations = 0

        def prepare(i: int) -> None:
            k = i % len(input_sets)
            for n in names:
                arrays.copy(work[n], pristine[k][n])
            arrays.fill_poison(base)
            state["set"] = k
            state["args"] = [work[n] if n in work else input_sets[k][n] for n in task.arg_names]

        def call() -> Any:
            return fn(*state["args"], out)

        def check(i: int, result: Any) -> None:
            nonlocal guard_violations
            fp = float("nan")
            if arrays.is_device_array(result) and tuple(result.shape) == tuple(out.shape):
                fp = float(cupy.dot(arrays.view(result).ravel().astype(cupy.float64), weights))
            fingerprints.append([state["set"], fp])
            whole = arrays.view(base)
            guards = (whole[:guard], whole[-guard:])
            if not all(bool(devices.is_poison(g, cupy).all()) for g in guards):
                guard_violations += 1

        stats = timer.measure(call, rule, prepare=prepare, check=check)
        frame: dict[str, Any] = {
            "type": bench_frame_type(role),
            "task": task.name,
            "bench": bench["name"],
            "status": "timed",
            "stats": stats.to_dict(),
            "fingerprints": fingerprints,
            "guard_violations": guard_violations,
        }
        if self.job.get("reference") and not role:
            # Only the reference's process computes what the fingerprints should be.
            expected = [task.expected(inputs) for inputs in input_sets]
            frame.update(expected_fingerprints(expected, task.effective_tolerance, weights_host))
        return frame

    def measure_ceilings(self, timer) -> None:
        """Device-to-device copy bandwidth, counting bytes read plus bytes written."""
        import cupy

        from grader.timing import StopRule

        free, _total = cupy.cuda.runtime.memGetInfo()
        nbytes = int(min(1 << 30, free // 8))
        src = cupy.ones(nbytes, dtype=cupy.uint8)
        dst = cupy.empty_like(src)
        kind = cupy.cuda.runtime.memcpyDeviceToDevice

        def copy() -> None:
            cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes, kind, 0)

        with nvtx_range("ceiling: device copy"):
            stats = timer.measure(copy, StopRule(max_samples=200, time_cap_s=1.0), cold=False)
        self.send(
            {
                "type": "ceiling",
                "name": "copy_bandwidth",
                "bytes_per_s": 2 * nbytes / stats.median_s,
                "bytes": 2 * nbytes,
                "stats": stats.to_dict(),
            }
        )


def main() -> None:
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    writer = FrameWriter(fd, bytes.fromhex(job.pop("token")))
    try:
        Harness(job, writer).run()
    except BaseException as exc:
        writer.send({"type": "fatal", "stage": "harness", "error": errors.describe(exc)})
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
