"""What lab 0 is timed against, beside the reference solution: the CUDA C versions of SAXPY
(saxpy.cu, v1 to v3) and the device-copy ceiling. GPU only: everything here launches kernels.

Every function here takes the same arguments as the student's ``saxpy(a, x, y, out)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from kernels.build import load

SOURCE = Path(__file__).with_name("saxpy.cu")
THREADS = 256
VERSIONS = ("saxpy_v1", "saxpy_v2", "saxpy_v3")


def cuda_c_saxpy(version: str) -> Callable:
    """SAXPY through one kernel of saxpy.cu, on any arrays with a CUDA array interface."""
    import cupy

    kernel = load(SOURCE).get_function(version)
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]

    def saxpy(a, x, y, out):
        n = out.size
        if version == "saxpy_v1":
            blocks = (n + THREADS - 1) // THREADS
        else:  # grid-stride versions: enough blocks to fill every SM a few times over
            blocks = min((n + THREADS - 1) // THREADS, 8 * sms)
        args = (np.float32(a), cupy.asarray(x), cupy.asarray(y), cupy.asarray(out), np.uint64(n))
        kernel((max(blocks, 1),), (THREADS,), args)
        return out

    return saxpy
