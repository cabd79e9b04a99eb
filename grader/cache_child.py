"""The child's side of a cache task (lab 2, part A): call the student's loop order, send it back.

Nothing is judged here. The submission shares this process, so it could replace the simulator;
the parent checks the order and counts the misses in its own process (:mod:`grader.cache_judge`).
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from grader import devices
from grader.spec import CacheTask

if TYPE_CHECKING:
    from grader.child import Harness


def as_order(result: Any, max_rows: int) -> tuple[np.ndarray | None, str]:
    """(order as int64 (T, 3), "") or (None, why not): from an array or an iterable of triples.

    At most ``max_rows + 1`` rows are read from an iterable, so an endless generator cannot
    hang the grader or fill its memory; one row too many is enough to say "too many".
    """
    if isinstance(result, np.ndarray):
        if result.dtype.kind not in "iu":
            return None, f"the order's dtype is {result.dtype}; it must be integers (i, j, k)"
        if result.size > 3 * (max_rows + 1):
            return None, f"the order has {result.size // 3} rows; a full pass has {max_rows}"
        return np.array(result, dtype=np.int64), ""  # a plain copy, whatever the subclass
    if isinstance(result, str | bytes) or not hasattr(result, "__iter__"):
        kind = type(result).__name__
        return None, f"returned a {kind}; return a numpy array of shape (n**3, 3) or triples"
    rows = list(itertools.islice(iter(result), max_rows + 1))
    try:
        order = np.array(rows, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        return None, f"the rows could not be read as integer triples (i, j, k): {exc}"
    return order, ""


def check_task(h: Harness, task: CacheTask, module: Any, cases: list[dict]) -> None:
    fn = h.entry_point(module, task, task.entry, list(task.arg_names))
    if fn is None:
        return
    for index, case in enumerate(cases):
        params = case["params"]
        header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
        started = time.perf_counter()
        try:
            result = fn(*[params[name] for name in task.arg_names])
            order, problem = as_order(result, task.max_rows(params))
        except BaseException as exc:
            h.send({**header, "status": "error", "error": h.failure(exc)})
            return
        header["elapsed_s"] = time.perf_counter() - started
        header.update(status="returned", returned=devices.describe(result), problem=problem)
        h.send(header, {"order": order} if order is not None else {})
        h.progress(index + 1, len(cases), f"{task.name} {case['name']}")
