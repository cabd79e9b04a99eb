"""Turning a submission's exception into a failure a student can read.

Runs in the child process. ``kind`` is one of the failure reasons in :mod:`grader.verdicts`.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

_CUDA_ERROR_TYPES = {"CudaAPIError", "CudaSupportError", "CUDARuntimeError", "CUDADriverError"}
_CUDA_ERROR_WORDS = (
    "illegal memory access",
    "illegal address",
    "CUDA_ERROR",
    "cudaError",
    "unspecified launch failure",
    "device-side assert",
    "CUDA error",
)


def safe_text(exc: BaseException) -> str:
    """``str(exc)``, even for an exception whose ``__str__`` raises (a hostile one)."""
    try:
        return str(exc)
    except BaseException:
        return f"<{type(exc).__name__} whose message could not be read>"


def classify(exc: BaseException) -> str:
    name = type(exc).__name__
    text = safe_text(exc)
    if isinstance(exc, NotImplementedError):
        return "not_implemented"
    if isinstance(exc, SystemExit):
        return "exited"
    if isinstance(exc, IndexError) and "tid=" in text and "ctaid=" in text:
        return "out_of_bounds"  # numba's simulator checks every index a kernel uses
    if (
        name == "OutOfMemoryError"
        or isinstance(exc, MemoryError)
        or "out of memory" in text.lower()
        or "OUT_OF_MEMORY" in text
    ):
        return "out_of_memory"
    if "NOT_READY" in text or "cudaErrorNotReady" in text:
        return "not_ready"  # an event read before it completed: not a broken context
    if name in _CUDA_ERROR_TYPES or any(word in text for word in _CUDA_ERROR_WORDS):
        return "cuda_error"
    if name in (
        "TypingError",
        "LoweringError",
        "UnsupportedError",
        "NumbaError",
        "CompileError",
    ) or (type(exc).__module__.startswith("numba") and "Error" in name):
        return "kernel_compile"
    return "exception"


def describe(exc: BaseException, submission: str | Path | None = None) -> dict[str, Any]:
    """Kind, type, message and the traceback lines that point into the submission."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        if submission is not None:
            mine = [f for f in frames if Path(f.filename).resolve() == Path(submission).resolve()]
            frames = traceback.StackSummary.from_list(mine or frames[-1:])
        where = "".join(traceback.format_list(frames))[-4000:]
    except BaseException:
        where = ""
    message = safe_text(exc)
    if isinstance(exc, SystemExit):
        message = f"the submission called sys.exit({exc.code!r})"
    return {
        "kind": classify(exc),
        "type": type(exc).__name__,
        "message": message[:4000],
        "traceback": where,
    }
