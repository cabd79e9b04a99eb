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
    from cupy_backends.cuda.libs import nvrtc

    path = Path(path)
    source = path.read_text()
    program = nvrtc.createProgram(source, path.name, [], [])
    try:
        try:
            nvrtc.compileProgram(program, _options(arch, extra))
        except nvrtc.NVRTCError:
            raise CompileError(path.name, nvrtc.getProgramLog(program)) from None
        return nvrtc.getCUBIN(program)
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
