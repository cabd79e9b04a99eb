"""Lab 3 part B, the host side: build, inspect and launch a streaming kernel
``out[i] = a * in[i] + b`` written in CUDA C (the student writes no Python for part B).

The kernel's signature is fixed::

    extern "C" __global__ void pipeline_axpb(const float* __restrict__ in,
        float* __restrict__ out, float a, float b, unsigned long long n)

and it is compiled with ``-DSTAGES=S -DTILE_FLOATS=T -DBLOCK_THREADS=256``. It is launched with
exactly one block of :data:`THREADS` threads per SM (``multiProcessorCount`` blocks), and with
its dynamic shared memory padded above half of the SM's so that no second block fits: the SM's
only way to hide DRAM latency is to keep bytes in flight (the STAGES of the ring). The dynamic
shared memory is at least ``STAGES * TILE_FLOATS * 4 + SMEM_SLACK`` bytes.

Without a GPU, :func:`compile_stream_kernel` and :func:`ptx_of` compile through NVRTC only (for
``sm_80``, ``sm_90``, ...), so compile errors and the copy instructions a kernel uses can be
checked anywhere; :func:`launch_config` is plain arithmetic on the device's properties.

    from labs.lab3_pipeline.launch import (
        compile_stream_kernel, device_props, launch_config, run_stream_kernel)
    kernel = compile_stream_kernel("labs/lab3_pipeline/student.cu", stages=4, tile_floats=1024)
    config = launch_config(device_props(), stages=4, tile_bytes=4096)
    run_stream_kernel(kernel, x, out, 2.0, 1.0, x.size, config)
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kernels.build import Compiled, CompileError, compile_source, defines

STREAM_KERNEL = "pipeline_axpb"  # the student's kernel
THREADS = 256  # threads per block, every version (BLOCK_THREADS in the sources)
SMEM_SLACK = 1024  # bytes beyond the ring a kernel may use (barriers, alignment); pipeline.cuh
MAX_STAGES = 32
MAX_N = (1 << 31) - 1  # v4's TMA row coordinate is an int; 8 GiB of floats is plenty
DEFAULT_SMEM_OPTIN_LIMIT = 48 * 1024  # above this a kernel must opt in (cudaFuncSetAttribute)
TMA_BOX_MAX = 256  # elements along each dimension of a TMA box

# Copy instructions, as they appear in PTX (comments stripped first: a kernel's name or an
# inline-asm comment must not count). Ampere's cp.async is `cp.async.ca/cg.shared.global`;
# Hopper's bulk copies are `cp.async.bulk.<dst>.<src>` and `cp.async.bulk.tensor.<n>d...`.
COPY_PATTERNS = {
    "cp.async": re.compile(r"(?<![\w.])cp\.async\.(?:ca|cg)\.shared(?:::cta)?\.global\b"),
    "cp.async.bulk": re.compile(
        r"(?<![\w.])cp\.async\.bulk\.(?:shared::(?:cluster|cta)\.global|global\.shared::cta)\b"
    ),
    "cp.async.bulk.tensor": re.compile(r"(?<![\w.])cp\.async\.bulk\.tensor\.[1-5]d\b"),
}
_PTX_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


# ------------------------------------------------------------------------------------------------
# Compiling


class StreamKernel:
    """A streaming kernel compiled for one (STAGES, TILE_FLOATS, arch).

    ``tensor_map``: the kernel takes a sixth argument, a 2-D ``CUtensorMap`` of ``in`` by value
    (the reference's v4); :func:`run_stream_kernel` encodes it. ``min_cc``: the lowest compute
    capability (major * 10 + minor) it may run on; :func:`run_stream_kernel` refuses below it.
    """

    def __init__(
        self,
        name: str,
        compiled: Compiled,
        stages: int,
        tile_floats: int,
        *,
        tensor_map: bool = False,
        min_cc: int = 80,
    ):
        self.name = name
        self.compiled = compiled
        self.stages = stages
        self.tile_floats = tile_floats
        self.tensor_map = tensor_map
        self.min_cc = min_cc
        self._function: Any = None
        self._launch_checked: set[int] = set()  # dynamic shared-memory sizes already checked

    @property
    def arch(self) -> str:
        return self.compiled.arch

    @property
    def tile_bytes(self) -> int:
        return 4 * self.tile_floats

    @property
    def ptx(self) -> str:
        return self.compiled.ptx

    @property
    def smem_needed(self) -> int:
        return self.stages * self.tile_bytes + SMEM_SLACK

    def function(self):
        """The kernel, loaded on the current device (GPU only; loaded once)."""
        if self._function is None:
            from kernels.build import load_compiled

            self._function = load_compiled(self.compiled).get_function(self.name)
        return self._function

    def __repr__(self) -> str:
        return (
            f"StreamKernel({self.name!r}, {self.compiled.name}, stages={self.stages}, "
            f"tile_floats={self.tile_floats}, arch={self.arch!r})"
        )


def _check_shape_params(stages: int, tile_floats: int) -> None:
    for label, value in (("stages", stages), ("tile_floats", tile_floats)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{label} must be an int, not {type(value).__name__}")
    if not 1 <= stages <= MAX_STAGES:
        raise ValueError(f"stages must be between 1 and {MAX_STAGES}, not {stages}")
    if tile_floats < 4 or tile_floats % 4:
        raise ValueError(
            f"tile_floats must be a positive multiple of 4 (16-byte tiles), not {tile_floats}"
        )


def _read_source(source: str | Path, name: str | None) -> tuple[str, str]:
    """(text, file name for messages) of a path or of CUDA C text."""
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith(".cu")
    ):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no CUDA C source at {path}")
        return path.read_text(), name or path.name
    if not isinstance(source, str):
        raise TypeError(f"source must be a path or CUDA C text, not {type(source).__name__}")
    return source, name or "student.cu"


def gpu_arch() -> str | None:
    """``sm_XY`` of the current device, or None where no device answers."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return f"sm_{cupy.cuda.Device().compute_capability}"
    except Exception:  # no CuPy, no driver, no device
        return None


def compile_stream_kernel(
    source: str | Path,
    stages: int,
    tile_floats: int,
    arch: str | None = None,
    *,
    kernel: str = STREAM_KERNEL,
    name: str | None = None,
    tensor_map: bool = False,
    min_cc: int = 80,
) -> StreamKernel:
    """Compiles ``source`` (a path, or CUDA C text) with ``-DSTAGES=stages
    -DTILE_FLOATS=tile_floats -DBLOCK_THREADS=256`` through NVRTC.

    ``arch``: ``sm_80``, ``sm_90``, ...; by default the current device's, or ``sm_90`` where
    there is none (compile only). Raises :class:`kernels.build.CompileError` whose message
    names the file and line (``student.cu(37): error: ...``; see :func:`compile_error_lines`),
    and ValueError if the kernel ``kernel`` is not in the module.
    """
    _check_shape_params(stages, tile_floats)
    text, file_name = _read_source(source, name)
    if arch is None:
        arch = gpu_arch() or "sm_90"
    options = defines(STAGES=int(stages), TILE_FLOATS=int(tile_floats), BLOCK_THREADS=THREADS)
    compiled = compile_source(text, file_name, arch, options)
    if kernel not in entry_names(compiled.ptx):
        raise ValueError(
            f"{file_name} defines no kernel named {kernel!r} (found: "
            f"{', '.join(entry_names(compiled.ptx)) or 'none'}); keep the stub's "
            f'`extern "C" __global__ void {kernel}(...)`'
        )
    return StreamKernel(
        kernel, compiled, int(stages), int(tile_floats), tensor_map=tensor_map, min_cc=min_cc
    )


_ERROR_LINE = re.compile(r"^(?P<file>[^\s()]+)\((?P<line>\d+)\): (?:catastrophic )?error", re.M)


def compile_error_lines(error: CompileError, file_name: str | None = None) -> list[int]:
    """The source lines NVRTC reported errors at (in ``file_name`` only, if given)."""
    return [
        int(m["line"])
        for m in _ERROR_LINE.finditer(error.log)
        if file_name is None or Path(m["file"]).name == file_name
    ]


# ------------------------------------------------------------------------------------------------
# What the PTX says


def strip_ptx_comments(ptx: str) -> str:
    return _PTX_COMMENTS.sub("", ptx)


def entry_names(ptx: str) -> list[str]:
    """The kernels (``.entry``) of a PTX module, in order."""
    return re.findall(r"\.entry\s+([\w$]+)\s*\(", strip_ptx_comments(ptx))


def entry_ptx(ptx: str, kernel: str) -> str:
    """The PTX of one kernel, from its ``.entry`` to the next (comments stripped). Device
    functions that were not inlined (``.func``) are not part of it."""
    text = strip_ptx_comments(ptx)
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"\.entry\s+([\w$]+)\s*\(", text)]
    for i, (start, name) in enumerate(starts):
        if name == kernel:
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            return text[start:end]
    raise ValueError(f"no kernel {kernel!r} in the PTX (found: {[n for _, n in starts]})")


def async_copy_kinds(ptx: str, kernel: str | None = None) -> frozenset[str]:
    """Which asynchronous copies the PTX uses: a subset of ``{"cp.async", "cp.async.bulk",
    "cp.async.bulk.tensor"}``. With ``kernel``, only that kernel's entry is searched; without,
    the whole module (also device functions the compiler did not inline).

    This reads what was compiled, not what runs: an instruction in a branch that is never
    taken counts. The timing (speed-up over a synchronous kernel) is the check that it works.
    """
    text = entry_ptx(ptx, kernel) if kernel else strip_ptx_comments(ptx)
    return frozenset(kind for kind, pattern in COPY_PATTERNS.items() if pattern.search(text))


def ptx_of(
    source: str | Path,
    stages: int,
    tile_floats: int,
    arch: str = "sm_90",
    *,
    name: str | None = None,
) -> str:
    """The PTX NVRTC makes of ``source`` for ``arch`` with the given STAGES and TILE_FLOATS
    (compile only: no GPU needed). Raises CompileError as :func:`compile_stream_kernel`."""
    _check_shape_params(stages, tile_floats)
    text, file_name = _read_source(source, name)
    options = defines(STAGES=int(stages), TILE_FLOATS=int(tile_floats), BLOCK_THREADS=THREADS)
    return compile_source(text, file_name, arch, options).ptx


# ------------------------------------------------------------------------------------------------
# Launch configuration


@dataclass(frozen=True)
class DeviceLimits:
    """What the launch configuration depends on, read from ``cudaDeviceProp``-style keys."""

    sms: int  # multiProcessorCount
    smem_per_sm: int  # sharedMemPerMultiprocessor
    smem_per_block_optin: int  # sharedMemPerBlockOptin
    reserved_smem_per_block: int  # reservedSharedMemPerBlock (1 KiB from sm_80 on)
    max_threads_per_block: int = 1024
    cc: int = 0  # major * 10 + minor (0: unknown)
    l2_bytes: int = 0

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> DeviceLimits:
        def need(key: str) -> int:
            if key not in props:
                raise KeyError(f"device properties lack {key!r} (cudaDeviceProp field names)")
            value = int(props[key])
            if value <= 0:
                raise ValueError(f"device property {key} = {value} must be positive")
            return value

        major = int(props.get("major", 0))
        cc = major * 10 + int(props.get("minor", 0))
        reserved = props.get("reservedSharedMemPerBlock")
        if reserved is None:
            reserved = 1024 if major >= 8 else 0
        return cls(
            sms=need("multiProcessorCount"),
            smem_per_sm=need("sharedMemPerMultiprocessor"),
            smem_per_block_optin=need("sharedMemPerBlockOptin"),
            reserved_smem_per_block=int(reserved),
            max_threads_per_block=int(props.get("maxThreadsPerBlock", 1024)),
            cc=cc,
            l2_bytes=int(props.get("l2CacheSize", 0)),
        )


@dataclass(frozen=True)
class StreamConfig:
    """How a streaming kernel is launched: ``grid`` blocks (one per SM) of ``block`` threads,
    with ``shared_mem`` bytes of dynamic shared memory (padded: one block per SM)."""

    grid: int
    block: int
    shared_mem: int
    stages: int
    tile_bytes: int
    smem_needed: int  # what the ring asks for: stages * tile_bytes + SMEM_SLACK
    blocks_per_sm: int = 1
    opt_in: bool = field(default=False)  # shared_mem above 48 KiB: raise the kernel's limit

    @property
    def tile_floats(self) -> int:
        return self.tile_bytes // 4

    @property
    def ring_bytes(self) -> int:
        return self.stages * self.tile_bytes


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def launch_config(
    props: Mapping[str, Any] | DeviceLimits, stages: int, tile_bytes: int, threads: int = THREADS
) -> StreamConfig:
    """One block per SM: ``grid = multiProcessorCount``, ``block = threads``, and dynamic shared
    memory ``max(ring + SMEM_SLACK, the least that keeps a second block out)``, rounded up to
    128 bytes. A second block fits when ``2 * (dynamic + reserved) <= sharedMemPerMultiprocessor``
    (each block also costs ``reservedSharedMemPerBlock``), so the padding is
    ``sharedMemPerMultiprocessor // 2 - reserved + 1``. Raises ValueError when the ring does not
    fit in one block's shared memory (``sharedMemPerBlockOptin``)."""
    limits = props if isinstance(props, DeviceLimits) else DeviceLimits.from_props(props)
    if isinstance(tile_bytes, bool) or not isinstance(tile_bytes, (int, np.integer)):
        raise TypeError(f"tile_bytes must be an int, not {type(tile_bytes).__name__}")
    if tile_bytes < 16 or tile_bytes % 16:
        raise ValueError(f"tile_bytes must be a positive multiple of 16, not {tile_bytes}")
    _check_shape_params(stages, int(tile_bytes) // 4)
    if not 32 <= threads <= limits.max_threads_per_block or threads % 32:
        raise ValueError(f"threads must be whole warps, 32 .. {limits.max_threads_per_block}")
    needed = stages * tile_bytes + SMEM_SLACK
    keep_out = limits.smem_per_sm // 2 - limits.reserved_smem_per_block + 1
    shared = _round_up(max(needed, keep_out), 128)
    budget = min(limits.smem_per_block_optin, limits.smem_per_sm - limits.reserved_smem_per_block)
    if needed > budget:
        raise ValueError(
            f"{stages} stages of {tile_bytes} B need {needed} B of shared memory per block "
            f"({stages} x {tile_bytes} + {SMEM_SLACK}); this device allows {budget} B"
        )
    shared = min(shared, budget)  # the rounding must not push it past the limit
    per_block = shared + limits.reserved_smem_per_block
    blocks_per_sm = limits.smem_per_sm // per_block
    if blocks_per_sm != 1:  # cannot happen with the arithmetic above; say so if it does
        raise AssertionError(f"{blocks_per_sm} blocks per SM with {shared} B each")
    return StreamConfig(
        grid=limits.sms,
        block=threads,
        shared_mem=shared,
        stages=int(stages),
        tile_bytes=int(tile_bytes),
        smem_needed=needed,
        blocks_per_sm=blocks_per_sm,
        opt_in=shared > DEFAULT_SMEM_OPTIN_LIMIT,
    )


def device_props(device: int | None = None) -> dict[str, int]:
    """The properties :func:`launch_config` reads, of the current (or given) CUDA device."""
    import cupy
    from cupy.cuda import runtime

    dev = cupy.cuda.Device(device).id if device is not None else cupy.cuda.Device().id

    def attr(name: str) -> int:
        return int(runtime.deviceGetAttribute(getattr(runtime, name), dev))

    major, minor = divmod(int(cupy.cuda.Device(dev).compute_capability), 10)
    return {
        "multiProcessorCount": attr("cudaDevAttrMultiProcessorCount"),
        "sharedMemPerMultiprocessor": attr("cudaDevAttrMaxSharedMemoryPerMultiprocessor"),
        "sharedMemPerBlockOptin": attr("cudaDevAttrMaxSharedMemoryPerBlockOptin"),
        "reservedSharedMemPerBlock": attr("cudaDevAttrReservedSharedMemoryPerBlock"),
        "maxThreadsPerBlock": attr("cudaDevAttrMaxThreadsPerBlock"),
        "l2CacheSize": attr("cudaDevAttrL2CacheSize"),
        "major": major,
        "minor": minor,
    }


# ------------------------------------------------------------------------------------------------
# The tensor map (the reference's v4)


@dataclass(frozen=True)
class TmaGeometry:
    """The vector as a row-major 2-D tensor for TMA: ``rows`` full rows of ``width`` floats
    (the last ``n - rows * width`` floats are not in it: the kernel's plain tail), one tile
    = one box of ``width x box_rows`` floats; ``tiles`` boxes cover the rows, the last one
    possibly hanging past the end (TMA zero-fills it)."""

    n: int
    width: int  # floats per row = box width
    box_rows: int
    rows: int
    tiles: int

    @property
    def tensor_floats(self) -> int:
        return self.rows * self.width

    @property
    def tail_floats(self) -> int:
        return self.n - self.tensor_floats

    @property
    def row_pitch_bytes(self) -> int:
        return 4 * self.width


def tma_geometry(n: int, tile_floats: int) -> TmaGeometry:
    """Matches TMA_BOX_W / TMA_BOX_H in reference/lab3_pipeline/pipeline.cu."""
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    _check_shape_params(1, tile_floats)
    width = min(tile_floats, TMA_BOX_MAX)
    box_rows = tile_floats // width
    if tile_floats % width or box_rows > TMA_BOX_MAX or (4 * tile_floats) % 128:
        raise ValueError(
            f"tile_floats = {tile_floats}: a TMA tile must be one box of at most "
            f"{TMA_BOX_MAX} x {TMA_BOX_MAX} floats, a multiple of 128 bytes"
        )
    rows = n // width
    return TmaGeometry(n, width, box_rows, rows, -(-rows // box_rows))


def tensor_map_args(ptr: int, n: int, tile_floats: int) -> dict[str, Any]:
    """The arguments of ``cuTensorMapEncodeTiled`` for the vector at device address ``ptr``
    (plain ints; :func:`encode_tensor_map_2d` wraps them). None where there is no full row."""
    geo = tma_geometry(n, tile_floats)
    if ptr % 16:
        raise ValueError(f"a tensor map needs a 16-byte aligned address, not {ptr:#x}")
    if geo.rows == 0:
        return {}
    return {
        "tensorRank": 2,
        "globalAddress": int(ptr),
        "globalDim": [geo.width, geo.rows],  # innermost first
        "globalStrides": [geo.row_pitch_bytes],  # bytes, for the dimensions above the first
        "boxDim": [geo.width, geo.box_rows],
        "elementStrides": [1, 1],
    }


def _driver():
    try:
        from cuda.bindings import driver
    except ImportError:  # cuda-python before 12.6
        from cuda import cuda as driver  # type: ignore[no-redef]
    return driver


def encode_tensor_map_2d(in_array, n: int, tile_floats: int) -> np.ndarray:
    """The 128-byte ``CUtensorMap`` of ``in_array[:n]`` for v4, as a one-element numpy void
    array: CuPy passes a size-one numpy array to a kernel by value. All zeros where the vector
    has no full row (the kernel then never reads it)."""
    args = tensor_map_args(int(in_array.data.ptr), n, tile_floats)
    blob = np.zeros(1, dtype=np.dtype((np.void, 128)))
    if not args:
        return blob
    cu = _driver()
    (err,) = cu.cuInit(0)
    if err != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"cuInit failed: {err}")
    err, tmap = cu.cuTensorMapEncodeTiled(
        cu.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
        args["tensorRank"],
        args["globalAddress"],
        [cu.cuuint64_t(v) for v in args["globalDim"]],
        [cu.cuuint64_t(v) for v in args["globalStrides"]],
        [cu.cuuint32_t(v) for v in args["boxDim"]],
        [cu.cuuint32_t(v) for v in args["elementStrides"]],
        cu.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
        cu.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_NONE,
        cu.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
        cu.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,  # zeros out of bounds
    )
    if err != cu.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"cuTensorMapEncodeTiled failed: {err} for {args}")
    try:
        raw = ctypes.string_at(int(tmap.getPtr()), 128)
    except AttributeError:  # no getPtr(): the 16 words
        raw = np.array([int(w) for w in tmap.opaque], dtype=np.uint64).tobytes()
    if len(raw) != 128:
        raise RuntimeError(f"a CUtensorMap is 128 bytes, got {len(raw)}")
    blob[0] = raw
    return blob


# ------------------------------------------------------------------------------------------------
# Launching


def _device_vector(name: str, x, n: int):
    import cupy

    if not isinstance(x, cupy.ndarray):
        raise TypeError(f"{name} must be a cupy.ndarray on the device, not {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be float32, not {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, not {x.ndim}-D")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be contiguous")
    if x.size < n:
        raise ValueError(f"{name} has {x.size} elements, fewer than n = {n}")
    if x.device.id != cupy.cuda.Device().id:
        raise ValueError(f"{name} is on device {x.device.id}, not the current device")
    return x


def _as_float32(name: str, v) -> np.float32:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, not {type(v).__name__}")
    with np.errstate(over="ignore"):
        f = np.float32(v)
    if not np.isfinite(f):
        raise ValueError(f"{name} = {v!r} is not a finite float32")
    return f


def _check_occupancy(kernel: StreamKernel, fn, config: StreamConfig) -> None:
    """Raises the kernel's dynamic shared-memory limit if needed, then checks that exactly one
    block fits per SM (the whole point of the padding). Once per (kernel, shared_mem)."""
    if config.shared_mem in kernel._launch_checked:
        return
    from cupy.cuda import driver

    if config.opt_in:
        driver.funcSetAttribute(
            fn.ptr, driver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, config.shared_mem
        )
    blocks = driver.occupancyMaxActiveBlocksPerMultiprocessor(
        fn.ptr, config.block, config.shared_mem
    )
    if blocks != 1:
        static = driver.funcGetAttribute(driver.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn.ptr)
        regs = driver.funcGetAttribute(driver.CU_FUNC_ATTRIBUTE_NUM_REGS, fn.ptr)
        raise RuntimeError(
            f"{kernel.name}: {blocks} blocks of {config.block} threads with "
            f"{config.shared_mem} B of dynamic shared memory fit per SM, not 1 (the kernel "
            f"uses {regs} registers per thread and {static} B of static shared memory)"
        )
    kernel._launch_checked.add(config.shared_mem)


def prepare_stream_launch(
    kernel: StreamKernel, in_, out, a, b, n: int, config: StreamConfig, *, stream=None
) -> Callable[[], Any]:
    """Checks everything :func:`run_stream_kernel` checks, loads the kernel, raises its shared
    memory limit and checks the occupancy, then returns ``launch()``: a closure that only
    enqueues the kernel (and returns ``out``). For timing loops: the host does nothing else
    between two launches."""
    import cupy

    if not isinstance(kernel, StreamKernel):
        raise TypeError(f"kernel must come from compile_stream_kernel, not {type(kernel).__name__}")
    if not isinstance(config, StreamConfig):
        raise TypeError(f"config must come from launch_config, not {type(config).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    n = int(n)
    if not 0 <= n <= MAX_N:
        raise ValueError(f"n must be between 0 and {MAX_N}, not {n}")
    if (config.stages, config.tile_bytes) != (kernel.stages, kernel.tile_bytes):
        raise ValueError(
            f"config is for {config.stages} stages of {config.tile_bytes} B, the kernel was "
            f"compiled for {kernel.stages} stages of {kernel.tile_bytes} B"
        )
    if config.shared_mem < kernel.smem_needed:
        raise ValueError(
            f"config gives {config.shared_mem} B of shared memory, the kernel "
            f"needs {kernel.smem_needed} B"
        )
    if config.block != THREADS:
        raise ValueError(f"the kernels are compiled for {THREADS} threads per block")
    in_ = _device_vector("in", in_, n)
    out = _device_vector("out", out, n)
    a32, b32 = _as_float32("a", a), _as_float32("b", b)
    if n and in_.data.ptr < out.data.ptr + 4 * n and out.data.ptr < in_.data.ptr + 4 * n:
        raise ValueError("in and out overlap")
    cc = int(cupy.cuda.Device().compute_capability)
    if cc < kernel.min_cc:
        raise RuntimeError(
            f"{kernel.name} needs compute capability {kernel.min_cc / 10:.1f} (bulk copies, "
            f"mbarrier transaction counts), this device has {cc / 10:.1f}"
        )
    if n == 0:
        return lambda: out
    fn = kernel.function()
    _check_occupancy(kernel, fn, config)
    args: list[Any] = [in_, out, a32, b32, np.uint64(n)]
    if kernel.tensor_map:
        if in_.data.ptr % 16:
            raise ValueError("the TMA version needs `in` 16-byte aligned")
        args.append(encode_tensor_map_2d(in_, n, kernel.tile_floats))
    grid, block, shared = (config.grid, 1, 1), (config.block, 1, 1), config.shared_mem
    arguments = tuple(args)
    launch_stream = stream if stream is not None else cupy.cuda.get_current_stream()

    def launch():
        fn(grid, block, arguments, shared_mem=shared, stream=launch_stream)
        return out

    return launch


def run_stream_kernel(
    kernel: StreamKernel, in_, out, a, b, n: int, config: StreamConfig, *, stream=None
):
    """Launches ``kernel`` on ``out[:n] = a * in_[:n] + b`` with ``config`` (from
    :func:`launch_config`) on ``stream`` (default: CuPy's current stream); returns ``out``.
    Asynchronous, like any launch: synchronise before reading ``out``.

    ``in_`` and ``out``: 1-D contiguous float32 CuPy arrays with at least ``n`` elements, not
    overlapping. ``n``: 0 .. MAX_N (0 launches nothing). ``a``, ``b``: finite as float32.
    Raises TypeError / ValueError on bad arguments and RuntimeError when the device cannot run
    the kernel as configured (compute capability, or not exactly one block per SM).
    """
    return prepare_stream_launch(kernel, in_, out, a, b, n, config, stream=stream)()
