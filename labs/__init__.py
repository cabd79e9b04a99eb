"""The labs, in course order.

Adding a lab is one folder here, one under reference/, and one line in LABS below: the CLI, the
Makefile's targets and help, and the tests all read this registry. This module imports nothing
but the standard library, so ``python3 -m labs`` works before any package is installed (the
Makefile asks it for the lab names).
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from grader.spec import Lab


class Entry(NamedTuple):
    module: str  # the module that defines LAB
    summary: str  # one line for `make help`


LABS: dict[str, Entry] = {
    "lab0": Entry("labs.lab0_vecadd.lab", "warm-up: SAXPY with numba.cuda"),
    "lab1": Entry("labs.lab1_streams.lab", "streams and events: overlap copies with compute"),
    "lab2": Entry("labs.lab2_matmul.lab", "cache-blocked matmul: a cache model, a tiled kernel"),
    "lab3": Entry("labs.lab3_pipeline.lab", "TMA-style pipelining: the ring, async copies"),
    "lab4": Entry("labs.lab4_moe.lab", "MoE vs dense communication: a model, then NCCL"),
}


def registry() -> dict[str, Entry]:
    """``LABS``, and a course's own labs from ``CWB_LABS`` ("lab9=mycourse.lab9.lab,...": each
    module importable, defining LAB), which live outside this repository."""
    extra = {}
    for item in filter(None, os.environ.get("CWB_LABS", "").split(",")):
        name, _, module = item.partition("=")
        if not name.strip() or not module.strip():
            raise ValueError(f"CWB_LABS entries are name=module, not {item!r}")
        extra[name.strip()] = Entry(module.strip(), f"a course lab ({module.strip()})")
    return {**LABS, **extra}


def names() -> list[str]:
    return list(registry())


def folder_name(name: str) -> str:
    """``lab0_vecadd`` for ``lab0``: the part of its module's name after the package."""
    return registry()[name].module.split(".")[-2]


@cache
def _load(module: str) -> Lab:
    return importlib.import_module(module).LAB


def get(name: str) -> Lab:
    """The lab called ``name`` (``lab0``), or its folder name (``lab0_vecadd``)."""
    for lab_name, entry in registry().items():
        if name in (lab_name, folder_name(lab_name)):
            return _load(entry.module)
    known = ", ".join(registry())
    raise KeyError(f"no lab called {name!r}; the labs are: {known}")


def all_labs() -> list[Lab]:
    return [get(name) for name in registry()]
