"""Lab 2's CUDA C SGEMM kernels (v1 to v6) and the cuBLAS baseline on a real GPU: every version
against cuBLAS and the float64 product on odd shapes. Skipped, with the reason, where no device
answers."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from reference.lab2_matmul.cuda_c import VERSIONS

pytestmark = pytest.mark.gpu

ODD_SHAPES = [
    (127, 131, 77),
    (1, 1, 1),
    (257, 63, 129),
    (1000, 1001, 999),
    (130, 132, 20),  # K and N multiples of 4: float4 interior tiles beside scalar edge tiles
    (5, 4099, 3),
    (4099, 2, 6),
]


@pytest.fixture(scope="module")
def cases():
    from reference.lab2_matmul.bench import make_case

    return {shape: make_case(shape, seed=0) for shape in ODD_SHAPES}


def _nan_out(m: int, n: int):
    import cupy

    return cupy.full((m, n), cupy.nan, dtype=cupy.float32)


@pytest.mark.parametrize("shape", ODD_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_cublas_is_true_fp32(cases, shape):
    """A TF32 cuBLAS (CUPY_TF32=1) is ~1e-3 off: it fails the fp32 tolerance at small K."""
    from reference.lab2_matmul.cuda_c import cublas_matmul

    case = cases[shape]
    out = cublas_matmul(case.a, case.b, _nan_out(*shape[:2]))
    assert case.reference.error_over_tolerance(out) <= 1.0


def test_a_tf32_request_is_undone(monkeypatch, cases):
    from cupy._core import _routines_linalg as linalg

    from reference.lab2_matmul.cuda_c import cublas_matmul, ensure_fp32_cublas

    before = linalg.get_compute_type(np.float32)
    monkeypatch.setenv("CUPY_TF32", "1")
    linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32)
    try:
        with pytest.warns(UserWarning, match="CUPY_TF32"):
            ensure_fp32_cublas()
        assert linalg.get_compute_type(np.float32) != linalg.COMPUTE_TYPE_TF32
        case = cases[(1, 1, 1)]
        out = cublas_matmul(case.a, case.b, _nan_out(1, 1))
        assert case.reference.error_over_tolerance(out) <= 1.0
    finally:
        linalg.set_compute_type(np.float32, before)


@pytest.mark.parametrize("shape", ODD_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("version", VERSIONS)
def test_version_agrees_with_cublas_on_odd_shapes(cases, version, shape):
    import cupy

    from reference.lab2_matmul.cuda_c import cublas_matmul, cuda_c_matmul

    case = cases[shape]
    m, n, _ = shape
    out = cuda_c_matmul(version)(case.a, case.b, _nan_out(m, n))
    ref = cublas_matmul(case.a, case.b, _nan_out(m, n))
    assert case.reference.error_over_tolerance(out) <= 1.0
    # both within the tolerance of the exact product, so within twice it of each other
    apart = cupy.abs(out.astype(cupy.float64) - ref) / case.reference.tol
    assert float(apart.max()) <= 2.0


@pytest.mark.parametrize("offsets", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (2, 3, 1)])
@pytest.mark.parametrize("version", ["sgemm_v5_regblock_2d", "sgemm_v6_warptile"])
def test_float4_paths_fall_back_on_misaligned_operands(version, offsets):
    """K and N multiples of 4, but the operands 4 or 8 bytes off a 16-byte boundary."""
    import cupy

    from labs.lab2_matmul.tolerance import matmul_reference
    from reference.lab2_matmul.cuda_c import cuda_c_matmul

    m, n, k = 256, 260, 68
    rng = np.random.default_rng(3)

    def shifted(rows: int, cols: int, offset: int, fill=None):
        buf = cupy.empty(rows * cols + offset, dtype=cupy.float32)
        view = buf[offset:].reshape(rows, cols)
        if fill is None:
            view[...] = cupy.asarray(rng.uniform(-1, 1, (rows, cols)).astype(np.float32))
        else:
            view.fill(fill)
        return view

    a, b = shifted(m, k, offsets[0]), shifted(k, n, offsets[1])
    out = shifted(m, n, offsets[2], fill=np.nan)
    assert out.flags.c_contiguous
    cuda_c_matmul(version)(a, b, out)
    assert matmul_reference(a, b).error_over_tolerance(out) <= 1.0


def test_numba_device_arrays_are_accepted(cases):
    from numba import cuda

    from reference.lab2_matmul.cuda_c import cuda_c_matmul

    case = cases[(127, 131, 77)]
    a, b = cuda.to_device(case.a.get()), cuda.to_device(case.b.get())
    out = cuda.to_device(np.full((127, 131), np.nan, np.float32))
    assert cuda_c_matmul("sgemm_v6_warptile")(a, b, out) is out
    cuda.synchronize()
    assert case.reference.error_over_tolerance(out.copy_to_host()) <= 1.0


def test_bench_runs_end_to_end(tmp_path):
    from reference.lab2_matmul import bench

    path = tmp_path / "bench.json"
    code = bench.main(
        ["--size", "512", "--repeats", "3", "--shapes", "33x17x9", "--json", str(path)]
    )
    report = json.loads(path.read_text())
    assert code == 0
    assert [r["name"] for r in report["results"]] == ["cublas", *bench.ALL_VERSIONS]
    assert all(r["ok"] and r["median_ms"] > 0 for r in report["results"])
    assert report["results"][0]["percent_of_cublas"] == pytest.approx(100.0)
    assert report["copy_bandwidth"]["bytes_per_s"] > 1e11


@pytest.mark.slow
def test_warptile_reaches_60_percent_of_cublas_at_4096():
    """The lab's target for v6 on an H100 or H200 (siboehm's worklog: 71% on an H100)."""
    import cupy

    from reference.lab2_matmul import bench
    from reference.lab2_matmul.cuda_c import cublas_matmul, cuda_c_matmul

    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    if "H100" not in name and "H200" not in name:
        pytest.skip(f"the 60% target is set for H100 and H200, not {name}")
    case = bench.make_case((4096, 4096, 4096), seed=0)
    flush = bench.l2_flush_buffer()
    times = {}
    for label, fn in (("cublas", cublas_matmul), ("v6", cuda_c_matmul("sgemm_v6_warptile"))):
        out = _nan_out(4096, 4096)
        fn(case.a, case.b, out)
        assert case.reference.error_over_tolerance(out) <= 1.0, label
        samples = bench.time_calls(lambda fn=fn, out=out: fn(case.a, case.b, out), 20, 10.0, flush)
        times[label] = statistics.median(samples)
    assert times["cublas"] / times["v6"] >= 0.6, times
