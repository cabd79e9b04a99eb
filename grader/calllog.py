"""The call log: which line of a submission made a blocking CUDA call, and for how long.

A CUPTI trace shows that the host waited (a synchronisation, a copy on the legacy default
stream, a copy from pageable memory) but not where in the student's code. While a pipeline
call runs, the child wraps numba's few blocking entry points (copies, synchronisations,
allocations) and records, for each call made from the submission's file, its line, whether it
was given a stream, and the host time it took. The parent pairs these with the trace's
findings to say "line 58: copy_to_host without a stream, 16 calls, 2.4 ms".
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# (object holding it, attribute, what a student would call it, the stream argument's position)
COPY = ("host_to_device", "device_to_host")
SYNC = ("Stream.synchronize", "Event.synchronize", "Context.synchronize")
ALLOC = ("Context.memalloc", "Context.memhostalloc")
STUDENT_NAMES = {
    "host_to_device": "copy_to_device",
    "device_to_host": "copy_to_host",
    "Stream.synchronize": "stream.synchronize()",
    "Event.synchronize": "event.synchronize()",
    "Context.synchronize": "cuda.synchronize()",
    "Context.memalloc": "cuda.device_array (cudaMalloc)",
    "Context.memhostalloc": "cuda.pinned_array (cudaMallocHost)",
}


class CallLog:
    def __init__(self, submission: Path):
        self.submission = str(Path(submission).resolve())
        self.entries: list[dict[str, Any]] = []
        self.recording = False

    def _line(self) -> int | None:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.submission:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def wrap(self, name: str, fn: Any) -> Any:
        log = self

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not log.recording:
                return fn(*args, **kwargs)
            line = log._line()
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if line is not None:
                    entry = {
                        "call": name,
                        "line": line,
                        "t": started,
                        "host_us": (time.perf_counter() - started) * 1e6,
                    }
                    if name in COPY:
                        stream = kwargs.get("stream", args[3] if len(args) > 3 else 0)
                        entry["stream"] = bool(stream)
                    log.entries.append(entry)

        return wrapper

    def install(self) -> None:
        """Wrap numba's blocking entry points (a no-op under the simulator)."""
        try:
            from numba.cuda.cudadrv import driver
        except ImportError:
            return
        if not hasattr(driver, "Context"):
            return
        for name in COPY:
            setattr(driver, name, self.wrap(name, getattr(driver, name)))
        for dotted in SYNC + ALLOC:
            owner_name, attr = dotted.split(".")
            owner = getattr(driver, owner_name)
            setattr(owner, attr, self.wrap(dotted, getattr(owner, attr)))

    @contextlib.contextmanager
    def record(self) -> Iterator[list[dict[str, Any]]]:
        self.entries = []
        self.recording = True
        try:
            yield self.entries
        finally:
            self.recording = False


def summarize(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group a call's entries by (call, line, stream given); hidden = followed by a copy."""
    if not entries:
        return []
    last_copy = max((e["t"] for e in entries if e["call"] in COPY), default=float("-inf"))
    groups: dict[tuple, dict[str, Any]] = {}
    for e in entries:
        key = (e["call"], e["line"], e.get("stream"))
        g = groups.setdefault(
            key,
            {
                "call": e["call"],
                "name": STUDENT_NAMES.get(e["call"], e["call"]),
                "line": e["line"],
                "stream": e.get("stream"),
                "count": 0,
                "host_us": 0.0,
                "before_last_copy": 0,
            },
        )
        g["count"] += 1
        g["host_us"] += float(e["host_us"])
        g["before_last_copy"] += int(e["t"] < last_copy)
    return sorted(groups.values(), key=lambda g: -g["host_us"])
