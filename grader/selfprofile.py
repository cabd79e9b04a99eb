"""`CWB_PROFILE=1`: where a grading run spends its time, for whoever makes the grader faster.

The parent marks every job ``"profile": true``; the child and the worker then run under
cProfile and print the 40 most expensive calls (cumulative) to their stderr, which the JSON
report keeps with each process's log. The parent prints each frame as it arrives, with the
seconds since the process started. Off unless asked: nothing changes in a normal run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

ENV = "CWB_PROFILE"


def wanted() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def run_profiled(job: dict[str, Any], fn: Callable[[], None]) -> None:
    """``fn()``, under cProfile when the job asks; the summary goes to stderr."""
    if not job.get("profile"):
        fn()
        return
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        fn()
    finally:
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        sys.stderr.write(text.getvalue()[-12000:])
        sys.stderr.flush()


def log_frame(module: str, seconds: float, frame: Any) -> None:
    """One line on the parent's stderr per frame: when it came, from which process, what."""
    header = frame.header if isinstance(frame.header, dict) else {}
    what = header.get("text") or header.get("case") or header.get("bench") or ""
    sys.stderr.write(f"[{module} +{seconds:7.2f} s] {frame.type} {str(what)[:80]}\n")
