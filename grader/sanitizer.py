"""compute-sanitizer: re-run the first case that hit a CUDA error, to name the faulting kernel."""

from __future__ import annotations

import re
import shutil
from typing import Any

from grader.check import CaseResult

# API errors are left out: cuda-bindings probes the driver at start-up and one of its probes
# fails harmlessly (seen on the H200: cuGetProcAddress_v2, invalid argument).
WRAPPER_ARGS = ("--tool", "memcheck", "--report-api-errors", "no", "--print-limit", "10")

_SANITIZER_KERNEL = re.compile(r"at (?:[\w.]+::)?([A-Za-z_]\w*)")
_SANITIZER_MEMORY = re.compile(r"Invalid __\w+__ (read|write)|Misaligned|out of bounds")


def tool() -> str | None:
    return shutil.which("compute-sanitizer")


def first_cuda_error(cases: list[CaseResult]) -> CaseResult | None:
    return next((c for c in cases if c.reason == "cuda_error"), None)


def narrow_job(job: dict[str, Any], case_name: str) -> dict[str, Any]:
    """``job`` (a check phase's) cut down to one call of the case called ``case_name``."""
    for task_job in job["tasks"]:
        task_job["cases"] = [
            {**c, "seeds": c["seeds"][:1]} for c in task_job["cases"] if c["name"] == case_name
        ]
    return job


def summarize_sanitizer(output: str) -> str:
    """The first memory error compute-sanitizer reported, with the kernel's readable name."""
    lines = [line.strip("= ").strip() for line in output.splitlines() if line.startswith("=====")]
    lines = [line for line in lines if line and "COMPUTE-SANITIZER" not in line]
    if not lines:
        return ""
    first = next((i for i, line in enumerate(lines) if _SANITIZER_MEMORY.search(line)), 0)
    summary = lines[first : first + 4]
    for i, line in enumerate(summary):
        match = _SANITIZER_KERNEL.match(line)
        if match:
            summary[i] = f"in kernel `{match.group(1)}`"
    return "compute-sanitizer: " + "; ".join(summary)
