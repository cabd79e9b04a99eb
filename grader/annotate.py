"""NVTX ranges around the grader's stages, so nsys and Nsight Systems show them by name."""

from __future__ import annotations

import contextlib
from typing import Any


def nvtx_range(message: str) -> Any:
    """An NVTX range in the ``cwb`` domain; nothing where the nvtx package is missing."""
    try:
        import nvtx
    except ImportError:
        return contextlib.nullcontext()
    return nvtx.annotate(message, domain="cwb")
