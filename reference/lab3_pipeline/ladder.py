"""The versions of pipeline.cu (v1 synchronous to v4 TMA) and how to build and launch each.

    from reference.lab3_pipeline.ladder import VERSIONS, build
    kernel = build(VERSIONS[1], stages=4, tile_floats=1024)   # v2, for this GPU
    run_stream_kernel(kernel, x, out, a, b, n, launch_config(device_props(), 4, 4096))

Everything here but :func:`build` on a GPU works without one (``arch=`` compiles only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labs.lab3_pipeline.launch import STREAM_KERNEL, StreamKernel, compile_stream_kernel

SOURCE = Path(__file__).with_name("pipeline.cu")
SOLUTION = Path(__file__).with_name("solution.cu")
STUB = Path(__file__).resolve().parents[2] / "labs" / "lab3_pipeline" / "student.cu"
WRONG = Path(__file__).with_name("wrong")


@dataclass(frozen=True)
class Version:
    """One kernel of pipeline.cu (or the student's): its symbol, a short label, the lowest
    compute capability it runs on, whether it takes a tensor map, and the asynchronous copy
    its PTX must contain (None: none at all, the synchronous baseline)."""

    name: str
    label: str
    min_cc: int = 80
    tensor_map: bool = False
    copy: str | None = "cp.async"

    @property
    def asynchronous(self) -> bool:
        return self.copy is not None


V1 = Version("stream_v1_sync", "v1 sync", copy=None)
V2 = Version("stream_v2_cp_async", "v2 cp.async")
V3 = Version("stream_v3_bulk", "v3 bulk+mbarrier", min_cc=90, copy="cp.async.bulk")
V4 = Version("stream_v4_tma", "v4 TMA 2-D", min_cc=90, tensor_map=True, copy="cp.async.bulk.tensor")
VERSIONS = (V1, V2, V3, V4)
BY_NAME = {v.name: v for v in VERSIONS}
STUDENT = Version(STREAM_KERNEL, "student")  # any async route; cp.async is the stub's


def runnable(cc: int) -> tuple[Version, ...]:
    """The versions a device of compute capability ``cc`` (major * 10 + minor) can run."""
    return tuple(v for v in VERSIONS if cc >= v.min_cc)


def build(
    version: Version,
    stages: int,
    tile_floats: int,
    arch: str | None = None,
    source: str | Path | None = None,
) -> StreamKernel:
    """``version`` compiled with -DSTAGES / -DTILE_FLOATS, from pipeline.cu (or ``source``,
    for the student's kernel), for ``arch`` (default: this GPU's, else sm_90, compile only)."""
    if source is None:
        if version not in VERSIONS:
            raise ValueError(f"{version.name} is not in pipeline.cu: pass its source")
        source = SOURCE
    return compile_stream_kernel(
        Path(source),
        stages,
        tile_floats,
        arch,
        kernel=version.name,
        tensor_map=version.tensor_map,
        min_cc=version.min_cc,
    )
