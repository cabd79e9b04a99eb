"""The kinds of task, one module each, behind one interface (:class:`grader.kinds.base.Kind`).

A task's spec names its kind (``KernelTask.kind == "kernel"``); everything kind-specific the
grader does (the child's check and timing, the parent's judgement, the rubric rules, the
report's charts and "how it was checked") is looked up here by that name. A lab of a new kind
adds one module to this package, one spec class to :mod:`grader.spec`, and one line below.
"""

from __future__ import annotations

from typing import Any

from grader import verdicts
from grader.kinds import (
    answers,
    cache,
    distributed,
    kernel,
    measure,
    pipeline,
    protocol,
    stream,
)
from grader.kinds.base import Kind

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        kernel.KIND,
        pipeline.KIND,
        cache.KIND,
        answers.KIND,
        protocol.KIND,
        stream.KIND,
        distributed.KIND,
        measure.KIND,
    )
}

for _kind in KINDS.values():
    verdicts.register(_kind.reasons)


def kind_of(task: Any) -> Kind:
    """The driver of ``task``'s kind; a clear error for a spec naming an unknown kind."""
    try:
        return KINDS[task.kind]
    except (KeyError, AttributeError):
        known = ", ".join(KINDS)
        raise ValueError(
            f"task {getattr(task, 'name', task)!r} has no known kind ({known})"
        ) from None
