"""Ceilings measured on the same device in the same run: what throughput is reported against."""

from __future__ import annotations

from typing import Any

from grader.annotate import nvtx_range


def copy_bandwidth(timer: Any) -> dict[str, Any]:
    """Device-to-device copy bandwidth, counting bytes read plus bytes written: a frame."""
    import cupy

    from grader.timing import StopRule

    free, _total = cupy.cuda.runtime.memGetInfo()
    nbytes = int(min(1 << 30, free // 8))
    src = cupy.ones(nbytes, dtype=cupy.uint8)
    dst = cupy.empty_like(src)
    kind = cupy.cuda.runtime.memcpyDeviceToDevice

    def copy() -> None:
        cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes, kind, 0)

    with nvtx_range("ceiling: device copy"):
        stats = timer.measure(copy, StopRule(max_samples=200, time_cap_s=1.0), cold=False)
    return {
        "type": "ceiling",
        "name": "copy_bandwidth",
        "bytes_per_s": 2 * nbytes / stats.median_s,
        "bytes": 2 * nbytes,
        "stats": stats.to_dict(),
    }
