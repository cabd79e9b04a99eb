"""The child harness for a pipeline task (lab 1): check, time and trace ``setup`` / ``run``.

Check phase: for each case, one pipeline from ``setup``, then three calls: plain, new values,
and (on a GPU) new values with the lab's race check on. The output is copied the moment
``run`` returns, before the harness synchronises anything, so a pipeline that returns with
copies still in flight is caught.

Time phase: a fixed number of calls, each with its input set written untimed, each timed
across every stream (:func:`grader.pipeline_run.timed_call`); then one call traced with CUPTI
(no Python stacks: the Python tracer slows the host enough to change the timeline) while the
call log notes which line made each blocking call.
"""

from __future__ import annotations

import gzip
import importlib
import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from grader import devices
from grader.pipeline_run import PipelineContractError, check_buffers, load_inputs, timed_call
from grader.spec import PipelineTask

if TYPE_CHECKING:
    from grader.child import Harness


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _stress_setter(task: PipelineTask) -> Any:
    if not task.stress_hook:
        return lambda ns: None
    module_name, function = task.stress_hook.split(":")
    return getattr(importlib.import_module(module_name), function)


def _synchronize() -> None:
    from numba import cuda

    cuda.synchronize()


def entry_points(h: Harness, module: Any, task: PipelineTask) -> tuple[Any, Any] | None:
    """``setup`` and ``run``, or None once a fatal frame has said what is missing."""
    setup = h.entry_point(module, task, "setup", list(task.setup_args))
    run = h.entry_point(module, task, "run", ["p", "gain"]) if setup is not None else None
    return (setup, run) if run is not None else None


def _make_pipeline(task: PipelineTask, setup: Any, params: dict) -> Any:
    pipeline = setup(*[params[name] for name in task.setup_args])
    check_buffers(pipeline, int(params["n"]))
    return pipeline


def _error(exc: BaseException, h: Harness) -> dict[str, Any]:
    if isinstance(exc, PipelineContractError):
        return {"kind": "type", "type": "TypeError", "message": str(exc)}
    return h.failure(exc)


def check_task(h: Harness, task: PipelineTask, module: Any, cases: list[dict]) -> None:
    fns = entry_points(h, module, task)
    if fns is None:
        return
    setup, run = fns
    set_stress = _stress_setter(task)
    for index, case in enumerate(cases):
        _check_case(h, task, setup, run, set_stress, case)
        h.progress(index + 1, len(cases), f"{task.name} {case['name']}")
        if h.poisoned:
            return


def _check_case(h, task, setup, run, set_stress, case: dict) -> None:
    params = case["params"]
    header = {"type": "case", "task": task.name, "case": case["name"]}
    try:
        pipeline = _make_pipeline(task, setup, params)
    except BaseException as exc:
        h.send({**header, "call": 0, "status": "error", "error": _error(exc, h)})
        return
    for call, seed in enumerate(case["seeds"]):
        stressed = bool(case.get("stress", [False] * 3)[call])
        inputs = task.make_inputs(params, _rng(seed))
        frame = {**header, "call": call, "stressed": stressed}
        try:
            load_inputs(pipeline, inputs["x"])
            if not devices.simulated():
                _synchronize()
            set_stress(task.stress_ns if stressed else 0)
            started = time.perf_counter()
            returned = run(pipeline, inputs["gain"])
            # Read the output before anything waits for the device: it must be there already.
            output = np.array(pipeline.host_out, copy=True)
            elapsed = time.perf_counter() - started
            after_input = np.array(pipeline.host_in, copy=True)
            if not devices.simulated():
                _synchronize()
        except BaseException as exc:
            h.send({**frame, "status": "error", "error": _error(exc, h)})
            return
        finally:
            set_stress(0)
        frame.update(
            status="returned",
            elapsed_s=elapsed,
            student_ms=_as_float(returned),
        )
        h.send(frame, {"output": output, "input.x": after_input})


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def time_task(h: Harness, task: PipelineTask, module: Any, benchmarks: list[dict]) -> None:
    from grader.calllog import CallLog

    fns = entry_points(h, module, task)
    if fns is None:
        return
    setup, run = fns
    calllog = CallLog(h.submission)
    calllog.install()
    for index, bench in enumerate(benchmarks):
        h.progress(index, len(benchmarks), f"timing {task.name} {bench['name']}")
        header = {"type": "bench", "task": task.name, "bench": bench["name"]}
        try:
            frame, arrays = _time_benchmark(h, task, setup, run, bench, calllog)
        except BaseException as exc:
            h.send({**header, "status": "error", "error": _error(exc, h)})
            if h.poisoned:
                return
            continue
        h.send({**header, **frame}, arrays)
    h.progress(len(benchmarks), len(benchmarks), "")


def _time_benchmark(h, task: PipelineTask, setup, run, bench: dict, calllog) -> tuple[dict, dict]:
    from grader.cupti import capture
    from grader.timing import summarize

    params = bench["params"]
    pipeline = _make_pipeline(task, setup, params)
    input_sets = [task.make_inputs(params, _rng(seed)) for seed in bench["seeds"]]
    weights = _rng(bench["weights_seed"]).uniform(0.5, 1.5, int(params["n"]))
    for i in range(task.warmup_calls):
        load_inputs(pipeline, input_sets[i % len(input_sets)]["x"])
        timed_call(run, pipeline, input_sets[i % len(input_sets)]["gain"])
    event_s, host_s, student_ms, fingerprints = [], [], [], []
    for i in range(task.timed_calls):
        k = i % len(input_sets)
        load_inputs(pipeline, input_sets[k]["x"])
        call = timed_call(run, pipeline, input_sets[k]["gain"])
        event_s.append(call.event_s)
        host_s.append(call.host_s)
        student_ms.append(_as_float(call.result))
        fingerprints.append([k, float(np.dot(pipeline.host_out.astype(np.float64), weights))])
        h.progress(i + 1, task.timed_calls + 1, f"timing {task.name} {bench['name']}")
    load_inputs(pipeline, input_sets[0]["x"])
    with calllog.record() as entries:
        _, trace = capture(
            lambda: run(pipeline, input_sets[0]["gain"]), _synchronize, with_stack=False
        )
    fingerprints.append([0, float(np.dot(pipeline.host_out.astype(np.float64), weights))])
    stats = summarize(event_s, "fixed", cold=False)
    stats.host_median_s = float(np.median(host_s))
    frame = {
        "status": "timed",
        "stats": stats.to_dict(),
        "student_ms": student_ms,
        "fingerprints": fingerprints,
        "calllog": list(entries),
    }
    if bench.get("expected"):
        # Only the reference's process computes what the fingerprints should be.
        from grader.child import expected_fingerprints

        expected = [task.expected(inputs, params) for inputs in input_sets]
        frame.update(expected_fingerprints(expected, task.effective_tolerance, weights))
    packed = gzip.compress(json.dumps(trace).encode(), compresslevel=6)
    return frame, {"trace": np.frombuffer(packed, dtype=np.uint8)}
