"""Correctness: compare what a submission returned with the expected output, in the parent.

Order of checks, as a student would want them: did it fail to run; is the result a plain device
array; dtype; shape; did it write outside its output; did it change its inputs; are the values
right (NaN never passes, and the first few mismatches are shown by index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.channel import Frame
from grader.devices import is_poison
from grader.spec import KernelTask, PipelineTask, Tolerance

MAX_SHOWN = 5


@dataclass
class Comparison:
    ok: bool
    reason: str | None = None
    message: str = ""
    mismatches: list[str] = field(default_factory=list)
    bad: int = 0
    worst_error_over_tolerance: float = 0.0


def _fmt(value: float) -> str:
    return f"{value:.7g}"


def compare(got: np.ndarray, expected: np.ndarray, scale: np.ndarray, tol: Tolerance) -> Comparison:
    """Element-wise ``|got - expected| <= atol + rtol * scale``; NaN and inf never pass."""
    got64 = got.astype(np.float64)
    bound = tol.atol + tol.rtol * scale
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got64 - expected)
        exact = got64 == expected  # inf passes only where the same inf is expected
        ok = (err <= bound) | exact  # err <= bound is False wherever err is NaN
    ok &= np.isfinite(got64) | exact
    if ok.all():
        worst = float(np.max(err / bound)) if err.size else 0.0
        return Comparison(ok=True, worst_error_over_tolerance=worst)
    bad_index = np.argwhere(~ok)
    bad = len(bad_index)
    shown = []
    for index in bad_index[:MAX_SHOWN]:
        idx = tuple(int(i) for i in index)
        where = f"({idx[0]},)" if len(idx) == 1 else str(idx)
        shown.append(
            f"at {where}: got {_fmt(got64[idx])}, expected {_fmt(expected[idx])} "
            f"(tolerance {bound[idx]:.2g})"
        )
    poisoned = is_poison(got)
    if poisoned.all():
        reason = "unwritten"
        message = (
            f"none of the {got.size} output elements was written: they still hold the NaN "
            "the grader filled the output with"
        )
    elif (~np.isfinite(got64) & ~ok).any():
        reason = "nan"
        unwritten = int(poisoned.sum())
        message = f"{int((~np.isfinite(got64)).sum())} of {got.size} elements are NaN or inf"
        if unwritten:
            first = int(np.argwhere(poisoned.ravel())[0][0])
            message += f" (the first at flat index {first}: an element your kernel never wrote?)"
    else:
        reason = "wrong_answer"
        message = f"{bad} of {got.size} elements are wrong"
    with np.errstate(invalid="ignore", divide="ignore"):
        over = np.nan_to_num(err / bound, nan=np.inf)  # a NaN element is infinitely wrong
        worst = float(np.max(np.where(ok, 0.0, over))) if err.size else 0.0
    return Comparison(
        ok=False,
        reason=reason,
        message=message,
        mismatches=shown,
        bad=bad,
        worst_error_over_tolerance=worst,
    )


@dataclass
class CaseResult:
    task: str
    case: str
    params: dict[str, Any]
    passed: bool
    reason: str | None = None
    message: str = ""
    mismatches: list[str] = field(default_factory=list)
    worst_error_over_tolerance: float | None = None
    elapsed_s: float | None = None
    traceback: str = ""
    measures: dict[str, Any] | None = None  # what a passing case measured (cache misses)

    @property
    def status(self) -> str:
        if self.passed:
            return "pass"
        return "not run" if self.reason == "not_run" else "fail"


def call_result(task_name: str, params: dict[str, Any], frame: Frame) -> CaseResult:
    """A failing result for one call; filled in from the child's error if the call raised."""
    header = frame.header
    result = CaseResult(
        task=task_name,
        case=header.get("case", "?"),
        params=dict(params),
        passed=False,
        elapsed_s=header.get("elapsed_s"),
    )
    if header.get("status") == "error":
        error = header.get("error") or {}
        result.reason = error.get("kind", "exception")
        result.message = f"{error.get('type', 'error')}: {error.get('message', '')}".strip()
        result.traceback = error.get("traceback", "")
    return result


def judge_call(
    task: KernelTask,
    params: dict[str, Any],
    inputs: dict[str, Any],
    frame: Frame,
    call: int,
) -> CaseResult:
    """One call of one case: the frame the child sent against the inputs it was given."""
    result = call_result(task.name, params, frame)
    header = frame.header
    if result.reason:
        return result
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
    if not comparison.ok:
        result.reason = comparison.reason
        result.message = comparison.message
        result.mismatches = comparison.mismatches
        if call > 0 and comparison.reason == "wrong_answer":
            result.reason = "stale"
            result.message = (
                "correct on the first call, but wrong on a second call with new values in the "
                f"same buffers ({comparison.message}): is the result cached between calls?"
            )
        result.worst_error_over_tolerance = comparison.worst_error_over_tolerance
        return result
    result.passed = True
    result.worst_error_over_tolerance = comparison.worst_error_over_tolerance
    return result


def judge_pipeline_call(
    task: PipelineTask,
    params: dict[str, Any],
    inputs: dict[str, Any],
    frame: Frame,
    call: int,
) -> CaseResult:
    """One call of a pipeline: ``host_out`` as it was the moment ``run`` returned."""
    header = frame.header
    result = call_result(task.name, params, frame)
    if result.reason:
        return result
    output = frame.arrays.get("output")
    after = frame.arrays.get("input.x")
    if after is None or not np.array_equal(after, inputs["x"], equal_nan=True):
        changed = int((after != inputs["x"]).sum()) if after is not None else inputs["x"].size
        result.reason = "modified_input"
        result.message = (
            f"host_in was changed by run ({changed} elements): the input must be left as it "
            "was given"
        )
        return result
    expected, scale = task.expected(inputs, params)
    comparison = compare(output, expected, scale, task.effective_tolerance)
    result.worst_error_over_tolerance = comparison.worst_error_over_tolerance
    if comparison.ok:
        result.passed = True
        return result
    result.reason = comparison.reason
    result.message = comparison.message
    result.mismatches = comparison.mismatches
    if header.get("stressed"):
        result.reason = "race"
        result.message = (
            "right with the table built at its usual speed, wrong when prepare_table took "
            f"{task.stress_ns / 1e6:g} ms longer ({comparison.message}): a kernel read the "
            "table before prepare_table had finished"
        )
    elif call > 0 and comparison.reason == "wrong_answer":
        result.reason = "stale"
        result.message = (
            "correct on the first call, but wrong on a second call with new values in the "
            f"same pipeline ({comparison.message}): is the result cached between calls?"
        )
    elif comparison.reason in ("unwritten", "nan"):
        result.message += (
            ": host_out is read the moment run returns. Did run return before the last copy "
            "out had finished? Synchronise before returning"
        )
    return result
