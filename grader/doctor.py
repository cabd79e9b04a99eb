"""`cwb doctor`: what this machine has, and what will and won't work because of it."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Finding:
    name: str
    value: str
    ok: bool | None = None  # None: neither good nor bad, just a fact


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _run(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def gpu_facts() -> dict[str, str]:
    """Name, driver and CUDA version from nvidia-smi, if it answers."""
    line = _run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    )
    if not line:
        return {}
    name, driver, memory = [part.strip() for part in line.splitlines()[0].split(",")]
    header = _run(["nvidia-smi"]) or ""
    cuda = header.split("CUDA Version:")[1].split()[0] if "CUDA Version:" in header else "?"
    return {
        "name": name,
        "driver": driver,
        "memory": memory,
        "cuda": cuda,
        "count": str(len(line.splitlines())),
    }


def examine() -> tuple[list[Finding], list[Finding]]:
    """(facts, conclusions)."""
    facts = [Finding("python", f"{platform.python_version()} ({sys.executable})")]
    gpu = gpu_facts()
    facts.append(
        Finding(
            "GPU",
            f"{gpu['count']} x {gpu['name']}, {gpu['memory']}, driver "
            f"{gpu['driver']}, CUDA {gpu['cuda']}"
            if gpu
            else "none found (nvidia-smi missing or no driver)",
            bool(gpu),
        )
    )
    cupy_runtime = None
    cupy_devices = 0
    cupy_version = _version("cupy-cuda12x") or _version("cupy-cuda13x") or _version("cupy")
    if cupy_version:
        try:
            import cupy

            cupy_runtime = cupy.cuda.runtime.runtimeGetVersion()
            cupy_devices = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # no driver, or a driver older than CuPy's CUDA
            facts.append(Finding("CuPy device", f"none: {str(exc).splitlines()[0][:120]}", None))
    facts.append(
        Finding(
            "CuPy",
            f"{cupy_version}"
            + (
                f" (CUDA runtime {cupy_runtime // 1000}.{cupy_runtime % 1000 // 10}, "
                f"{cupy_devices} device(s))"
                if cupy_runtime
                else ""
            )
            if cupy_version
            else "not installed",
            bool(cupy_version),
        )
    )
    numba_cuda = None
    numba_version = _version("numba")
    if numba_version:
        try:
            from numba import cuda

            numba_cuda = cuda.is_available()
        except Exception:
            numba_cuda = False
    facts.append(
        Finding(
            "numba",
            f"{numba_version}, numba-cuda {_version('numba-cuda')}, "
            f"sees a GPU: {'yes' if numba_cuda else 'no'}",
            bool(numba_version),
        )
    )
    torch_version = _version("torch")
    torch_cuda = None
    if torch_version:
        try:
            import torch

            torch_cuda = torch.cuda.is_available()
            torch_build = torch.version.cuda or "CPU build"
        except Exception:
            torch_build = "import failed"
        facts.append(
            Finding(
                "torch",
                f"{torch_version} ({torch_build}), sees a GPU: {'yes' if torch_cuda else 'no'}",
                True,
            )
        )
    from kernels.build import cuda_include_dirs, nvrtc_version

    nvrtc = nvrtc_version()
    facts.append(Finding("NVRTC", f"{nvrtc[0]}.{nvrtc[1]}" if nvrtc else "not found", bool(nvrtc)))
    facts.append(
        Finding(
            "CUDA headers", ", ".join(cuda_include_dirs()) or "not found", bool(cuda_include_dirs())
        )
    )
    facts.append(Finding("nvtx", _version("nvtx") or "not installed", bool(_version("nvtx"))))
    tools = {t: shutil.which(t) for t in ("nsys", "ncu", "compute-sanitizer", "nvcc")}
    for tool, path in tools.items():
        facts.append(Finding(tool, path or "not on PATH", None))

    from grader.sandbox import bubblewrap, why_no_sandbox

    bwrap = bubblewrap()
    facts.append(Finding("bubblewrap", bwrap or why_no_sandbox(), bool(bwrap)))
    timing = bool(cupy_devices and numba_cuda)
    conclusions = [
        Finding(
            "sandbox",
            "every grading process in bubblewrap: own uid, pid and network namespaces, "
            "read-only files, limits on memory and processes"
            if bwrap
            else "process isolation only: `cwb run` works (with a notice); `cwb grade` refuses "
            "unless given --no-sandbox",
            bool(bwrap),
        ),
        Finding(
            "correctness",
            "on the GPU, at full size"
            if timing
            else "under numba's CUDA simulator, at small sizes",
            True,
        ),
        Finding(
            "performance",
            "measured with CUDA events"
            if timing
            else "not measured: no usable CUDA device (reports say so)",
            timing,
        ),
        Finding(
            "CUDA C",
            "compiled and run (NVRTC)"
            if timing and nvrtc
            else "compiled only (NVRTC), not run"
            if nvrtc
            else "not compiled: no NVRTC",
            bool(nvrtc),
        ),
        Finding(
            "timeline",
            "nsys with CUDA and NVTX tracing"
            if tools["nsys"]
            else "CUPTI trace through torch.profiler (open in Perfetto)"
            if torch_cuda
            else "none without a GPU",
            bool(tools["nsys"] or torch_cuda),
        ),
        Finding(
            "CUDA error diagnosis",
            "compute-sanitizer names the faulting kernel"
            if tools["compute-sanitizer"] and timing
            else "error text only",
            bool(tools["compute-sanitizer"] and timing),
        ),
    ]
    return facts, conclusions
