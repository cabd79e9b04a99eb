"""Lab 2's CUDA C SGEMM ladder without a GPU: the kernels exist under the names the harness
launches, the tolerance accepts float32 products and rejects wrong ones, and every kernel
computes the right product on odd shapes when its CUDA C runs on the CPU (one OS thread per
CUDA thread, under AddressSanitizer and UBSan). The same kernels on a GPU, against cuBLAS, are
in tests/gpu/test_lab2_cuda_c.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernels.build import KERNELS_DIR, compile_only, nvrtc_version
from labs.lab2_matmul.tolerance import (
    FACTOR,
    TINY,
    UNIT_ROUNDOFF,
    array_module,
    matmul_error_scale,
    matmul_reference,
    matmul_tolerance,
    max_error_over_tolerance,
)
from reference.lab2_matmul import bench, cuda_c

SOURCE = cuda_c.SOURCE
needs_nvrtc = pytest.mark.skipif(
    nvrtc_version() is None, reason="NVRTC not found: install the cuda12 or cuda13 extra"
)
KERNEL_DECL = re.compile(
    r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\(([^)]*)\)\s+)?(\w+)\s*\('
)


def declared_kernels() -> dict[str, str | None]:
    """name -> its __launch_bounds__ arguments (None without), from matmul.cu's source."""
    return {name: bounds or None for bounds, name in KERNEL_DECL.findall(SOURCE.read_text())}


# ------------------------------------------------------------------------------------------
# The kernels and their launch configurations


def test_every_version_is_an_extern_c_kernel_in_the_source() -> None:
    kernels = declared_kernels()
    assert set(cuda_c.VERSIONS) <= set(kernels), set(cuda_c.VERSIONS) - set(kernels)
    assert tuple(cuda_c.LAUNCH) == cuda_c.VERSIONS


@needs_nvrtc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_version_is_a_symbol_of_the_cubin(arch: str) -> None:
    cubin = compile_only(SOURCE, arch=arch)
    for version in cuda_c.VERSIONS:
        # extern "C": the symbol is the bare name, not a C++ mangling of it
        assert re.search(rb"\x00" + version.encode() + rb"\x00", cubin), version


@pytest.mark.parametrize("version", cuda_c.VERSIONS)
def test_launch_blocks_fit_the_kernels_launch_bounds(version: str) -> None:
    bounds = declared_kernels()[version]
    config = cuda_c.LAUNCH[version]
    assert config.threads <= 1024
    if bounds is not None:
        assert config.threads == int(bounds.split(",")[0])
    else:  # the 32 x 32 kernels index with threadIdx.x/y and a 32-wide tile
        assert config.block == (32, 32, 1) and config.tile_m == config.tile_n == 32


@pytest.mark.parametrize(
    ("version", "m", "n", "grid"),
    [
        ("sgemm_v1_naive", 127, 131, (4, 5, 1)),  # x walks M
        ("sgemm_v2_coalesced", 127, 131, (5, 4, 1)),
        ("sgemm_v4_regblock_1d", 1, 4099, (65, 1, 1)),
        ("sgemm_v5_regblock_2d", 257, 63, (1, 3, 1)),
        ("sgemm_v6_warptile", 4096, 4096, (32, 32, 1)),
        ("sgemm_v6_warptile", 1, 1, (1, 1, 1)),
    ],
)
def test_grid_covers_c_with_tiles(version: str, m: int, n: int, grid: tuple) -> None:
    assert cuda_c.LAUNCH[version].grid(m, n) == grid


def test_unknown_version_is_refused_before_any_gpu_work() -> None:
    with pytest.raises(ValueError, match="unknown version"):
        cuda_c.cuda_c_matmul("sgemm_v9_magic")


def test_host_arrays_are_refused() -> None:
    pytest.importorskip("cupy")
    a = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="device array"):
        cuda_c._device_operands(a, a.T.copy(), np.empty((2, 2), np.float32))


# ------------------------------------------------------------------------------------------
# The tolerance


@pytest.mark.parametrize("shape", [(127, 131, 77), (1, 1, 1), (257, 63, 129), (64, 48, 1000)])
def test_tolerance_accepts_the_float32_product(shape: tuple[int, int, int]) -> None:
    m, n, k = shape
    rng = np.random.default_rng(k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    assert max_error_over_tolerance(a @ b, a, b) <= 1.0
    # a sequential float32 sum, the worst order a kernel can take, passes too
    seq = np.zeros((m, n), np.float32)
    for i in range(k):
        seq += np.outer(a[:, i], b[i, :])
    assert max_error_over_tolerance(seq, a, b) <= 1.0


def test_tolerance_rejects_one_wrong_element() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (127, 77)).astype(np.float32)
    b = rng.uniform(-1, 1, (77, 131)).astype(np.float32)
    out = a @ b
    reference = matmul_reference(a, b)
    assert reference.error_over_tolerance(out) <= 1.0
    wrong = out.copy()
    wrong[100, 7] *= 2
    assert reference.error_over_tolerance(wrong) > 1.0
    assert reference.worst_entry(wrong) == (100, 7)
    # off by one rounding step of one term too many: a small error, still outside
    tol = matmul_tolerance(a, b)
    nudged = out.astype(np.float64)
    nudged[5, 5] += 1.5 * tol[5, 5]
    assert 1.0 < reference.error_over_tolerance(nudged) < 2.0
    unwritten = out.copy()
    unwritten[0, 130] = np.nan
    assert reference.error_over_tolerance(unwritten) == np.inf


def test_tolerance_rejects_tf32_at_small_k() -> None:
    """TF32 keeps 10 mantissa bits: the check must tell it from fp32 on the odd shapes."""

    def tf32(x: np.ndarray) -> np.ndarray:  # round to nearest, 13 low mantissa bits dropped
        bits = x.astype(np.float32).view(np.uint32)
        return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)

    rng = np.random.default_rng(2)
    for m, n, k in [(1, 1, 1), (127, 131, 77)]:
        a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
        out = (tf32(a).astype(np.float64) @ tf32(b).astype(np.float64)).astype(np.float32)
        assert max_error_over_tolerance(out, a, b) > 1.0


def test_tolerance_formula() -> None:
    a = np.array([[1.0, -2.0], [0.0, 0.0]], np.float32)
    b = np.array([[3.0], [4.0]], np.float32)
    np.testing.assert_array_equal(matmul_error_scale(a, b), [[11.0], [0.0]])
    tol = matmul_tolerance(a, b)
    assert tol.dtype == np.float64
    np.testing.assert_allclose(tol, FACTOR * 2 * UNIT_ROUNDOFF * np.array([[11.0], [0.0]]) + TINY)
    # a zero row of A must come out exactly 0 (or within TINY)
    assert max_error_over_tolerance(np.array([[-5.0], [0.0]], np.float32), a, b) == 0.0
    assert max_error_over_tolerance(np.array([[-5.0], [1e-30]], np.float32), a, b) > 1.0
    assert array_module(a, b) is np


def test_tolerance_refuses_mismatched_shapes() -> None:
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError):
        matmul_reference(a, a)
    with pytest.raises(ValueError, match="shape"):
        matmul_reference(a, a.T.copy()).error_over_tolerance(np.ones((4, 4), np.float32))


# ------------------------------------------------------------------------------------------
# The harness, as far as it runs without a GPU


def test_bench_parses_shapes_and_arguments() -> None:
    assert bench.parse_shape("127x131x77") == (127, 131, 77)
    assert bench.parse_shape("1,2,3") == (1, 2, 3)
    for bad in ("12x3", "0x1x1", "axbxc"):
        with pytest.raises(Exception, match="shape"):
            bench.parse_shape(bad)
    args = bench.parse_args(["--size", "256", "--shapes", "3x5x7", "--repeats", "4"])
    assert (args.size, args.shapes, args.repeats) == (256, [(3, 5, 7)], 4)
    assert args.versions == list(bench.ALL_VERSIONS)
    assert set(cuda_c.VERSIONS) < set(args.versions)
    assert bench.parse_args([]).shapes == list(bench.DEFAULT_SHAPES)


def test_bench_table_marks_failures() -> None:
    ok = bench.Result("cublas", median_ms=2.0, tflops=68.7, percent_of_cublas=100.0)
    ok.max_error_over_tolerance = 0.01
    bad = bench.Result("sgemm_v3_smem", ok=False, error="127x131x77: error / tolerance 3.2")
    bad.max_error_over_tolerance = 3.2
    table = bench.markdown_table([ok, bad]).splitlines()
    assert table[0] == "| version | ms | TFLOP/s | % cuBLAS | max error/tolerance |"
    assert table[2] == "| cublas | 2.000 | 68.70 | 100.0% | 0.01 |"
    assert table[3].startswith("| sgemm_v3_smem | FAILED | - | - | 3.2 (127x131x77")


# ------------------------------------------------------------------------------------------
# The kernels' CUDA C, run on the CPU

EMULATOR = r"""
// One OS thread per CUDA thread; the blocks of a grid run one after another, so a
// function-local static is the block's shared memory; __syncthreads is a std::barrier.
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

struct emu_dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local emu_dim3 threadIdx, blockIdx;
emu_dim3 blockDim, gridDim;
std::barrier<>* emu_bar = nullptr;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

struct alignas(16) float4 { float x, y, z, w; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline void __syncthreads() { emu_bar->arrive_and_wait(); }

template <class F>
void emu_launch(emu_dim3 grid, emu_dim3 block, F kernel) {
    gridDim = grid;
    blockDim = block;
    const unsigned nt = block.x * block.y;
    std::barrier<> bar(nt);
    emu_bar = &bar;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < nt; ++t)
        threads.emplace_back([&, t] {
            threadIdx = {t % block.x, t / block.x, 0};
            for (unsigned by = 0; by < grid.y; ++by)
                for (unsigned bx = 0; bx < grid.x; ++bx) {
                    blockIdx = {bx, by, 0};
                    kernel();
                    bar.arrive_and_wait();  // the next block reuses the shared memory
                }
        });
    for (auto& th : threads) th.join();
}

#include "matmul.cu"

using Kernel = void (*)(const float*, const float*, float*, int, int, int);

// argv: kernel bx by tile_m tile_n m_along_x M N K offA offB offC (offsets misalign, in floats)
int main(int argc, char** argv) {
    if (argc != 13) return 2;
    const std::string name = argv[1];
    const unsigned bx = atoi(argv[2]), by = atoi(argv[3]), tm = atoi(argv[4]), tn = atoi(argv[5]);
    const bool m_along_x = atoi(argv[6]);
    const int M = atoi(argv[7]), N = atoi(argv[8]), K = atoi(argv[9]);
    const int oa = atoi(argv[10]), ob = atoi(argv[11]), oc = atoi(argv[12]);
    Kernel kernel = name == "sgemm_v1_naive"         ? sgemm_v1_naive
                    : name == "sgemm_v2_coalesced"   ? sgemm_v2_coalesced
                    : name == "sgemm_v3_smem"        ? sgemm_v3_smem
                    : name == "sgemm_v4_regblock_1d" ? sgemm_v4_regblock_1d
                    : name == "sgemm_v5_regblock_2d" ? sgemm_v5_regblock_2d
                    : name == "sgemm_v6_warptile"    ? sgemm_v6_warptile
                                                     : nullptr;
    if (!kernel) return 2;
    // Exact-size buffers: AddressSanitizer reports any access past their ends.
    std::vector<float> abuf(size_t(M) * K + oa, NAN), bbuf(size_t(K) * N + ob, NAN);
    std::vector<float> cbuf(size_t(M) * N + oc, NAN);  // NaN before A and B: never read
    std::mt19937 rng(M * 7919 + N * 31 + K);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (size_t i = oa; i < abuf.size(); ++i) abuf[i] = uniform(rng);
    for (size_t i = ob; i < bbuf.size(); ++i) bbuf[i] = uniform(rng);
    const float* A = abuf.data() + oa;
    const float* B = bbuf.data() + ob;
    float* C = cbuf.data() + oc;
    const unsigned gm = (M + tm - 1) / tm, gn = (N + tn - 1) / tn;
    emu_launch(m_along_x ? emu_dim3{gm, gn} : emu_dim3{gn, gm}, {bx, by},
               [&] { kernel(A, B, C, M, N, K); });
    for (int i = 0; i < oc; ++i)
        if (!std::isnan(cbuf[i])) { printf("wrote before C\n"); return 1; }
    double worst = 0;
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double ref = 0, scale = 0;
            for (int k = 0; k < K; ++k) {
                const double t = double(A[size_t(i) * K + k]) * B[size_t(k) * N + j];
                ref += t;
                scale += std::fabs(t);
            }
            const double tol = FACTOR * K * std::ldexp(1.0, -24) * scale + 1e-30;
            const double c = C[size_t(i) * N + j];
            const double r = std::isnan(c) ? INFINITY : std::fabs(c - ref) / tol;
            if (r > worst) worst = r;
        }
    printf("%s %dx%dx%d: max error / tolerance %g\n", name.c_str(), M, N, K, worst);
    return worst <= 1.0 ? 0 : 1;
}
"""

# (M, N, K, offset of A, B, C in floats): odd shapes, one element, interior tiles on the
# float4 fast path, edge tiles with K and N multiples of 4, and 4-byte-misaligned operands.
EMULATED_CASES = [
    (1, 1, 1, 0, 0, 0),
    (127, 131, 77, 0, 0, 0),
    (257, 63, 129, 0, 0, 0),
    (256, 256, 64, 0, 0, 0),
    (130, 132, 20, 0, 0, 0),
    (130, 132, 20, 1, 1, 1),
    (5, 260, 12, 0, 0, 0),
]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to run the kernels on the CPU")
    work = tmp_path_factory.mktemp("emu")
    flags = ["-std=c++20", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    probe = work / "probe.cpp"
    probe.write_text("#include <barrier>\nint main() { std::barrier<> b(1); }\n")
    if subprocess.run([cxx, *flags, probe, "-o", work / "probe"], capture_output=True).returncode:
        pytest.skip(f"{cxx} lacks C++20 <barrier> or the sanitizers")
    main = work / "main.cpp"
    main.write_text(EMULATOR.replace("FACTOR", repr(FACTOR)))
    binary = work / "emu"
    includes = [f"-I{KERNELS_DIR}", f"-I{SOURCE.parent}"]
    build = subprocess.run(
        [cxx, *flags, "-Wno-unknown-pragmas", *includes, main, "-o", binary],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return binary


@pytest.mark.slow
@pytest.mark.parametrize("version", cuda_c.VERSIONS)
def test_kernel_is_correct_when_run_on_the_cpu(emulator: Path, version: str) -> None:
    config = cuda_c.LAUNCH[version]
    launch = [*config.block[:2], config.tile_m, config.tile_n, int(config.m_along_x)]
    for case in EMULATED_CASES:
        run = subprocess.run(
            [emulator, version, *map(str, launch), *map(str, case)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, f"{version} {case}:\n{run.stdout}{run.stderr[-4000:]}"


def test_the_stretch_stub_and_its_solution_both_define_the_kernel_the_bench_asks_for():
    from reference.lab2_matmul.cuda_c import STRETCH, STRETCH_SOURCE

    solution = Path(cuda_c.__file__).with_name("stretch_solution.cu")
    for source in (STRETCH_SOURCE, solution):
        assert f"void __launch_bounds__(256)\n    {STRETCH}(" in source.read_text()
    args = bench.parse_args(["--versions", STRETCH, "--stretch-source", str(solution)])
    assert args.versions == [STRETCH] and args.stretch_source == solution
    assert STRETCH not in bench.ALL_VERSIONS  # the stub fails validation: not in the ladder
