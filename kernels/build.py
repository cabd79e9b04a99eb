"""Compile CUDA C through NVRTC for the device's architecture; compile only where there is none.

On a GPU, :func:`load` returns a ``cupy.RawModule`` built for the device's compute capability
(CuPy caches the binary on disk). Without a GPU, :func:`compile_only` runs the same compiler on
the same source and options and returns the CUBIN, so syntax and type errors show in CI.
NVRTC comes from CuPy's bindings, which need no driver.

    from kernels.build import load
    module = load("reference/lab0_vecadd/saxpy.cu")
    saxpy = module.get_function("saxpy_v1")
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KERNELS_DIR = Path(__file__).resolve().parent
DEFAULT_OPTIONS = ("--std=c++17",)
COMPILE_ONLY_ARCHS = ("sm_80", "sm_90")  # Ampere (cp.async) and Hopper (TMA, mbarrier)


class CompileError(Exception):
    """NVRTC rejected the source; ``log`` holds its messages, with file and line."""

    def __init__(self, name: str, log: str):
        super().__init__(f"{name} did not compile:\n{log.strip()}")
        self.log = log


def cuda_include_dirs() -> list[str]:
    """Folders with the CUDA headers NVRTC does not carry (cuda_pipeline.h, cuda/barrier)."""
    found: list[str] = []
    try:
        import nvidia

        for base in map(Path, nvidia.__path__):
            for sub in ("cuda_runtime/include", "cu13/include", "cuda_cccl/include"):
                if (base / sub).is_dir():
                    found.append(str(base / sub))
    except ImportError:
        pass
    for env in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(env):
            found.append(str(Path(os.environ[env]) / "include"))
    found.append("/usr/local/cuda/include")
    return [d for d in dict.fromkeys(found) if Path(d).is_dir()]


def _options(arch: str, extra: Sequence[str]) -> list[str]:
    includes = [f"-I{KERNELS_DIR}", *(f"-I{d}" for d in cuda_include_dirs())]
    return [f"--gpu-architecture={arch}", *DEFAULT_OPTIONS, *includes, *extra]


def nvrtc_version() -> tuple[int, int] | None:
    try:
        from cupy_backends.cuda.libs import nvrtc

        return tuple(nvrtc.getVersion())
    except Exception:  # no CuPy, or no NVRTC library found
        return None


def compile_only(path: str | Path, arch: str = "sm_90", extra: Sequence[str] = ()) -> bytes:
    """The CUBIN for ``arch``; raises :class:`CompileError` with NVRTC's log."""
    path = Path(path)
    return compile_source(path.read_text(), path.name, arch, extra).cubin


@dataclass(frozen=True)
class Compiled:
    """What NVRTC made of one source: the CUBIN for ``arch`` and the PTX it was assembled from.

    The PTX says which instructions the kernel really uses (``cp.async``, ``cp.async.bulk``,
    ...) after the preprocessor and the optimiser; the CUBIN is what runs.
    """

    name: str
    arch: str
    options: tuple[str, ...]
    cubin: bytes
    ptx: str
    log: str


def defines(**macros: int | str) -> list[str]:
    """``-DNAME=value`` options for NVRTC, in a stable order: ``defines(STAGES=4)``."""
    for key in macros:
        if not key.isidentifier():
            raise ValueError(f"{key!r} is not a macro name")
    return [f"-D{key}={value}" for key, value in sorted(macros.items())]


def compile_source(
    source: str, name: str = "kernel.cu", arch: str = "sm_90", extra: Sequence[str] = ()
) -> Compiled:
    """Compiles CUDA C text for ``arch`` (``sm_80``, ``sm_90``, ...); ``name`` is the file name
    NVRTC puts in its messages (``name(line): error ...``). Raises :class:`CompileError`."""
    return _compile_cached(source, name, arch, tuple(extra))


@functools.lru_cache(maxsize=256)
def _compile_cached(source: str, name: str, arch: str, extra: tuple[str, ...]) -> Compiled:
    from cupy_backends.cuda.libs import nvrtc

    if not arch.startswith("sm_"):
        raise ValueError(f"arch must be a real architecture such as sm_90, not {arch!r}")
    options = _options(arch, extra)
    program = nvrtc.createProgram(source, name, [], [])
    try:
        try:
            nvrtc.compileProgram(program, options)
        except nvrtc.NVRTCError:
            raise CompileError(name, nvrtc.getProgramLog(program)) from None
        ptx = nvrtc.getPTX(program)
        if isinstance(ptx, bytes):
            ptx = ptx.decode(errors="replace")
        return Compiled(
            name,
            arch,
            tuple(options),
            nvrtc.getCUBIN(program),
            ptx.rstrip("\x00"),
            nvrtc.getProgramLog(program),
        )
    finally:
        nvrtc.destroyProgram(program)


def device_arch() -> str:
    import cupy

    return f"sm_{cupy.cuda.Device().compute_capability}"


@functools.cache
def _load_cached(source_hash: str, path: str, extra: tuple[str, ...]):
    import cupy

    source = Path(path).read_text()
    options = tuple(o for o in _options(device_arch(), extra) if not o.startswith("--gpu-arch"))
    module = cupy.RawModule(code=source, options=options, backend="nvrtc")
    try:
        module.compile()
    except cupy.cuda.compiler.CompileException as exc:
        raise CompileError(Path(path).name, str(exc)) from None
    return module


def load(path: str | Path, extra: Sequence[str] = ()):
    """A ``cupy.RawModule`` of ``path`` compiled for this device (cached per source)."""
    path = Path(path).resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return _load_cached(digest, str(path), tuple(extra))


def load_compiled(compiled: Compiled):
    """A ``cupy.cuda.function.Module`` holding the CUBIN of ``compiled`` (built by
    :func:`compile_source` for this device's architecture): the bytes that the compile-only
    tests checked are the bytes that run. ``module.get_function(name)`` gives a kernel that is
    called as ``kernel(grid, block, args, shared_mem=..., stream=...)``."""
    from cupy.cuda import function

    if compiled.arch != device_arch():
        raise ValueError(
            f"{compiled.name} was built for {compiled.arch}, but the device is {device_arch()}"
        )
    module = function.Module()
    module.load(compiled.cubin)
    return module
