"""What lab 2 is timed against: the CUDA C SGEMM kernels of matmul.cu (v1 naive to v6 warp
tiling) and cuBLAS. GPU only: everything here launches kernels, and CuPy is imported inside
the functions so that the module imports on a machine without one.

Every matmul here has the signature of the student's ``matmul(a, b, out)``:

* ``a``: (M, K) float32, C-contiguous, on the device;
* ``b``: (K, N) float32, C-contiguous, on the device;
* ``out``: (M, N) float32, C-contiguous, on the device, not overlapping a or b;

writes ``out = a @ b`` (row-major, no alpha or beta) on CuPy's current stream and returns
``out``. "On the device" means a CuPy array or anything with ``__cuda_array_interface__``
(numba device arrays, torch CUDA tensors): they are wrapped without a copy by
``cupy.asarray``. Host arrays are refused, since the result would land in a temporary copy.

    from reference.lab2_matmul.cuda_c import VERSIONS, cuda_c_matmul, cublas_matmul
    cuda_c_matmul("sgemm_v6_warptile")(a, b, out)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernels.build import load

SOURCE = Path(__file__).with_name("matmul.cu")
VERSIONS = (
    "sgemm_v1_naive",
    "sgemm_v2_coalesced",
    "sgemm_v3_smem",
    "sgemm_v4_regblock_1d",
    "sgemm_v5_regblock_2d",
    "sgemm_v6_warptile",
)
# v5 and v6 index inside a block tile with 32-bit offsets (row < 128 times K or N), and the
# kernels take M, N, K as int.
MAX_DIM = 1 << 24
MAX_GRID_Y = 65535


@dataclass(frozen=True)
class LaunchConfig:
    """How one kernel of matmul.cu is launched: its block, and the C tile each block computes.

    ``m_along_x``: the grid's x walks M (v1 only, the uncoalesced naive kernel); otherwise x
    walks N and y walks M.
    """

    block: tuple[int, int, int]
    tile_m: int  # rows of C per block
    tile_n: int  # columns of C per block
    m_along_x: bool = False

    def grid(self, m: int, n: int) -> tuple[int, int, int]:
        blocks_m = -(-m // self.tile_m)
        blocks_n = -(-n // self.tile_n)
        return (blocks_m, blocks_n, 1) if self.m_along_x else (blocks_n, blocks_m, 1)

    @property
    def threads(self) -> int:
        return self.block[0] * self.block[1] * self.block[2]


# The tile sizes are fixed in matmul.cu (each kernel's header comment); these must match them.
LAUNCH: dict[str, LaunchConfig] = {
    "sgemm_v1_naive": LaunchConfig((32, 32, 1), 32, 32, m_along_x=True),
    "sgemm_v2_coalesced": LaunchConfig((32, 32, 1), 32, 32),
    "sgemm_v3_smem": LaunchConfig((32, 32, 1), 32, 32),
    "sgemm_v4_regblock_1d": LaunchConfig((512, 1, 1), 64, 64),  # BM=BN=64, BK=8, TM=8
    "sgemm_v5_regblock_2d": LaunchConfig((256, 1, 1), 128, 128),  # BK=8, TM=TN=8
    "sgemm_v6_warptile": LaunchConfig((128, 1, 1), 128, 128),  # BK=16, warp 64x64, TM=8, TN=4
}
assert tuple(LAUNCH) == VERSIONS

# The lab's stretch exercise: a kernel the student writes, launched the same way.
STRETCH = "sgemm_stretch"
STRETCH_SOURCE = Path(__file__).resolve().parents[2] / "labs" / "lab2_matmul" / "stretch.cu"
STRETCH_LAUNCH = LaunchConfig((256, 1, 1), 64, 64)  # BM=BN=64, BK=8, TM=TN=4


def _device_operands(a, b, out):
    """(a, b, out) as CuPy arrays, after checking dtype, layout, shapes and overlap."""
    import cupy

    arrays = []
    for name, x in (("a", a), ("b", b), ("out", out)):
        if isinstance(x, np.ndarray) or not (
            isinstance(x, cupy.ndarray) or hasattr(x, "__cuda_array_interface__")
        ):
            raise TypeError(
                f"{name} must be a device array (CuPy, or with __cuda_array_interface__), "
                f"not {type(x).__name__}"
            )
        x = cupy.asarray(x)  # a view, never a copy, for device arrays
        if x.dtype != np.float32:
            raise TypeError(f"{name} must be float32, not {x.dtype}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, not {x.ndim}-D")
        if not x.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous (row-major)")
        arrays.append(x)
    a, b, out = arrays
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or out.shape != (m, n):
        raise ValueError(f"shapes a {a.shape} @ b {b.shape} -> out {out.shape} do not match")
    if max(m, n, k) > MAX_DIM:
        raise ValueError(f"dimensions above {MAX_DIM} are not supported: {(m, n, k)}")
    for name, x in (("a", a), ("b", b)):
        if x.size and out.size and _overlap(x, out):
            raise ValueError(f"out overlaps {name}")
    return a, b, out


def _overlap(x, y) -> bool:
    x0, y0 = x.data.ptr, y.data.ptr
    return x0 < y0 + y.nbytes and y0 < x0 + x.nbytes


def cuda_c_matmul(version: str, stretch_source: Path | None = None) -> Callable:
    """``matmul(a, b, out) -> out`` through kernel ``version`` of matmul.cu (see the module
    docstring for the arguments). Compiles matmul.cu for this GPU on first use (cached)."""
    if version not in LAUNCH and version != STRETCH:
        raise ValueError(f"unknown version {version!r}; one of {(*VERSIONS, STRETCH)}")
    import cupy  # noqa: F401  (fails here, clearly, where CuPy is missing)

    if version == STRETCH:
        source = stretch_source or STRETCH_SOURCE
        kernel, config = load(source).get_function(version), STRETCH_LAUNCH
    else:
        kernel, config = load(SOURCE).get_function(version), LAUNCH[version]

    def matmul(a, b, out):
        a_, b_, out_ = _device_operands(a, b, out)
        (m, k), n = a_.shape, b_.shape[1]
        if m == 0 or n == 0:
            return out
        grid = config.grid(m, n)
        if grid[1] > MAX_GRID_Y:
            raise ValueError(f"grid {grid} has more than {MAX_GRID_Y} blocks along y")
        # K == 0 needs no special case: every kernel then writes zeros.
        kernel(grid, config.block, (a_, b_, out_, np.int32(m), np.int32(n), np.int32(k)))
        return out

    matmul.__name__ = matmul.__qualname__ = version
    return matmul


def ensure_fp32_cublas() -> None:
    """Make CuPy's float32 matmul true fp32 (cuBLAS with CUBLAS_COMPUTE_32F), never TF32.

    CuPy runs float32 matmuls on TF32 tensor cores (CUBLAS_COMPUTE_32F_FAST_TF32, 10-bit
    mantissas: ~1e-3 relative error) only when ``CUPY_TF32`` is set to a non-zero value at its
    first float32 matmul; it reads the variable once and caches the choice. So this drops the
    variable, resets the cached choice if it was already made, and makes sure that the cuBLAS
    handle's math mode does not allow TF32 either. ``NVIDIA_TF32_OVERRIDE`` can only turn
    TF32 off, so it needs nothing. Call it before timing cuBLAS as the fp32 baseline
    (:func:`cublas_matmul` does).
    """
    import cupy
    from cupy._core import _routines_linalg as linalg
    from cupy_backends.cuda.libs import cublas

    value = os.environ.pop("CUPY_TF32", None)
    if value is not None and value.strip() not in ("", "0"):
        warnings.warn(
            f"CUPY_TF32={value} would make the cuBLAS baseline TF32; unset for this process",
            stacklevel=2,
        )
    if linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32:
        linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_DEFAULT)
    handle = cupy.cuda.device.get_cublas_handle()
    mode = cublas.getMathMode(handle)
    tf32_math = getattr(cublas, "CUBLAS_TF32_TENSOR_OP_MATH", 3)
    if mode & 0xF == tf32_math:
        cublas.setMathMode(handle, mode & ~0xF)  # CUBLAS_DEFAULT_MATH, other flags kept
    assert linalg.get_compute_type(np.float32) != linalg.COMPUTE_TYPE_TF32
    assert cublas.getMathMode(handle) & 0xF != tf32_math


_fp32_ensured = False


def cublas_matmul(a, b, out):
    """``out = a @ b`` through cuBLAS (``cupy.matmul``), true fp32: see
    :func:`ensure_fp32_cublas` (run on the first call, and again if CUPY_TF32 reappears).
    Arguments as in the module docstring; returns out."""
    global _fp32_ensured
    import cupy

    a_, b_, out_ = _device_operands(a, b, out)
    if not _fp32_ensured or "CUPY_TF32" in os.environ:
        ensure_fp32_cublas()
        _fp32_ensured = True
    cupy.matmul(a_, b_, out=out_)
    return out
