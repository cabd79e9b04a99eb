"""Is there a GPU? Asked in a throw-away process, so the grader itself never touches CUDA."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

NO_DEVICE = "no CUDA device"


def no_driver() -> bool:
    """Surely no NVIDIA GPU here: no device file and no nvidia-smi (asked without CUDA)."""
    return not any(Path("/dev").glob("nvidia*")) and shutil.which("nvidia-smi") is None


def gpu_available() -> bool:
    """Whether a CUDA device answers, asked in a throw-away process (the grader stays clean)."""
    if no_driver():
        return False
    probe = "import cupy; print(cupy.cuda.runtime.getDeviceCount())"
    try:
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout) > 0


@functools.cache
def gpu_count() -> int:
    """How many CUDA devices answer (asked once, in a throw-away process)."""
    if not gpu_available():
        return 0
    probe = "import cupy; print(cupy.cuda.runtime.getDeviceCount())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    return int(out.stdout) if out.returncode == 0 and out.stdout.strip().isdigit() else 0


def resolve_mode(mode: str) -> str:
    """ "gpu" or "simulator" for a requested "auto", "gpu" or "simulator" (``CWB_MODE`` wins
    over "auto")."""
    mode = os.environ.get("CWB_MODE", mode) if mode == "auto" else mode
    if mode == "auto":
        return "gpu" if gpu_available() else "simulator"
    if mode not in ("gpu", "simulator"):
        raise ValueError(f"mode must be auto, gpu or simulator, not {mode!r}")
    return mode
