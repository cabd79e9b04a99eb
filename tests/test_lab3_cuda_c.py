"""Lab 3 part B without a GPU: every CUDA C source compiles through NVRTC for sm_80 and sm_90
at several STAGES, the PTX holds the copy instructions each version claims, the launch
configuration keeps one block per SM, the Little's-law arithmetic matches the figures measured
on the H200, and the cp.async kernels compute the right thing when their CUDA C runs on the CPU
(one OS thread per CUDA thread, cp.async emulated as a copy that lands only when waited for,
under AddressSanitizer and UBSan). The same kernels on a GPU: tests/gpu/test_lab3_gpu.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from kernels.build import KERNELS_DIR, CompileError, nvrtc_version
from labs.lab3_pipeline import latency as little
from labs.lab3_pipeline import launch
from reference.lab3_pipeline import bench, ladder

needs_nvrtc = pytest.mark.skipif(
    nvrtc_version() is None, reason="NVRTC not found: install the cuda12 or cuda13 extra"
)

ARCHS = ("sm_80", "sm_90")
STAGES = (1, 2, 4, 8)
COMPILE_ERROR = ladder.WRONG / "compile_error.cu"
WRONG_CU = sorted(p for p in ladder.WRONG.glob("*.cu") if p != COMPILE_ERROR)
STUDENT_STYLE = [ladder.STUB, ladder.SOLUTION, *WRONG_CU]

# H200 and A100 (SXM) as cudaGetDeviceProperties reports them.
H200 = {
    "multiProcessorCount": 132,
    "sharedMemPerMultiprocessor": 233472,
    "sharedMemPerBlockOptin": 232448,
    "reservedSharedMemPerBlock": 1024,
    "maxThreadsPerBlock": 1024,
    "major": 9,
    "minor": 0,
    "l2CacheSize": 60 << 20,
}
A100 = {
    "multiProcessorCount": 108,
    "sharedMemPerMultiprocessor": 167936,
    "sharedMemPerBlockOptin": 166912,
    "major": 8,
    "minor": 0,
}


def rel(path: Path) -> str:
    return str(path.relative_to(KERNELS_DIR.parent))


# ------------------------------------------------------------------------------------------
# Compiling


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
def test_the_ladder_compiles_at_every_stage_count(arch: str) -> None:
    for stages in STAGES:
        for version in ladder.VERSIONS:
            kernel = ladder.build(version, stages, 1024, arch)
            assert kernel.compiled.cubin[:4] == b"\x7fELF"
            assert set(launch.entry_names(kernel.ptx)) == {v.name for v in ladder.VERSIONS}
            kinds = launch.async_copy_kinds(kernel.ptx, version.name)
            if arch == "sm_80" and version.min_cc >= 90:
                # guarded out: the kernel is a trap on Ampere, and launch.py refuses it there
                body = launch.entry_ptx(kernel.ptx, version.name)
                assert kinds == frozenset() and re.search(r"\btrap;", body), version.name
            else:
                expected = {version.copy} if version.copy else set()
                assert kinds == expected, (version.name, stages, arch, kinds)


@needs_nvrtc
@pytest.mark.parametrize("tile_floats", [64, 256, 1024, 4096, 16384])
def test_the_ladder_compiles_at_every_tile_size(tile_floats: int) -> None:
    for version in ladder.VERSIONS:
        ladder.build(version, 2, tile_floats, "sm_90")
    geometry = launch.tma_geometry(1 << 20, tile_floats)
    assert geometry.width * geometry.box_rows == tile_floats


@needs_nvrtc
def test_a_tile_that_is_no_tma_box_is_refused_at_compile_time() -> None:
    with pytest.raises(CompileError, match="TMA boxes land 128-byte aligned"):
        ladder.build(ladder.V4, 2, 36, "sm_90")
    with pytest.raises(ValueError, match="TMA tile"):
        launch.tma_geometry(1000, 36)


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("source", STUDENT_STYLE, ids=rel)
def test_student_style_sources_compile_at_every_stage_count(source: Path, arch: str) -> None:
    for stages in STAGES:
        kernel = launch.compile_stream_kernel(source, stages, 1024, arch)
        assert kernel.name == launch.STREAM_KERNEL and kernel.arch == arch
        assert kernel.compiled.cubin[:4] == b"\x7fELF"


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
def test_the_compile_error_names_the_students_line(arch: str) -> None:
    text = COMPILE_ERROR.read_text().splitlines()
    line = next(i + 1 for i, t in enumerate(text) if "TILE_FLAOTS" in t and not t.startswith("//"))
    assert f"line {line};" in text[0]  # the fixture's header says where
    with pytest.raises(CompileError) as error:
        launch.compile_stream_kernel(COMPILE_ERROR, 4, 1024, arch)
    assert f"compile_error.cu({line}): error" in str(error.value)
    assert "TILE_FLAOTS" in str(error.value)
    assert launch.compile_error_lines(error.value, "compile_error.cu") == [line]
    # the same source given as text is named student.cu in the messages
    with pytest.raises(CompileError) as error:
        launch.compile_stream_kernel(COMPILE_ERROR.read_text(), 4, 1024, arch)
    assert launch.compile_error_lines(error.value) == [line]
    assert f"student.cu({line})" in str(error.value)


@needs_nvrtc
def test_a_missing_kernel_is_named() -> None:
    source = 'extern "C" __global__ void axpb(float* x) { x[0] = 1.f; }\n'
    with pytest.raises(ValueError, match=r"no kernel named 'pipeline_axpb'.*found: axpb"):
        launch.compile_stream_kernel(source, 4, 1024, "sm_90")


def test_compile_arguments_are_checked() -> None:
    for stages, tile in [(0, 1024), (33, 1024), (4, 0), (4, 1022), (4, 2)]:
        with pytest.raises(ValueError):
            launch.compile_stream_kernel(ladder.SOLUTION, stages, tile, "sm_90")
    with pytest.raises(TypeError):
        launch.compile_stream_kernel(ladder.SOLUTION, 4.0, 1024, "sm_90")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        launch.compile_stream_kernel("no/such/file.cu", 4, 1024, "sm_90")
    with pytest.raises(ValueError, match="real architecture"):
        launch.compile_stream_kernel(ladder.SOLUTION, 4, 1024, "compute_90")


# ------------------------------------------------------------------------------------------
# What the PTX says


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
def test_the_solution_uses_cp_async_and_the_synchronous_ones_do_not(arch: str) -> None:
    kinds = {
        path.name: launch.async_copy_kinds(launch.ptx_of(path, 4, 1024, arch))
        for path in (ladder.SOLUTION, ladder.STUB, ladder.WRONG / "synchronous_only.cu")
    }
    assert kinds["solution.cu"] == {"cp.async"}
    assert kinds["student.cu"] == frozenset()  # the stub copies nothing
    assert kinds["synchronous_only.cu"] == frozenset()
    ptx = launch.ptx_of(ladder.SOURCE, 4, 1024, arch)
    assert "cp.async.cg.shared.global" in launch.entry_ptx(ptx, "stream_v2_cp_async")
    assert launch.async_copy_kinds(ptx, "stream_v1_sync") == frozenset()
    assert "cp.async" not in launch.entry_ptx(ptx, "stream_v1_sync")


@needs_nvrtc
def test_the_hopper_versions_use_bulk_copies_and_mbarriers() -> None:
    ptx = launch.ptx_of(ladder.SOURCE, 4, 1024, "sm_90")
    v3 = launch.entry_ptx(ptx, "stream_v3_bulk")
    v4 = launch.entry_ptx(ptx, "stream_v4_tma")
    for body in (v3, v4):
        for instruction in (
            "mbarrier.init.shared::cta.b64",
            "mbarrier.arrive.expect_tx.shared::cta.b64",
            "mbarrier.try_wait.parity.shared::cta.b64",
            "mbarrier.arrive.shared::cta.b64",
            "fence.mbarrier_init.release.cluster",
        ):
            assert instruction in body
        assert re.search(r"\bld\.shared\.v4\.[fub]32\b", body)  # shared, not generic, loads
    assert "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes" in v3
    assert "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes" in v4
    # the CUtensorMap, by value
    assert re.search(r"\.param\s+\.align\s+64\s+\.b8\s+stream_v4_tma_param_5\[128\]", v4)


def test_copy_kinds_ignore_comments_and_names() -> None:
    ptx = """
    // .globl stream_v2_cp_async  (a name with cp_async in it, and cp.async.cg.shared.global here)
    .visible .entry stream_v2_cp_async(
    ) {
        /* cp.async.bulk.tensor.2d in a comment */
        ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd1];
    }
    .visible .entry other(
    ) {
        @%p1 cp.async.cg.shared.global [%r1], [%rd2], 16;
        cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2], [%rd3], %r3, [%r4];
        cp.async.bulk.commit_group;
        cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r1];
    }
    """
    assert launch.entry_names(ptx) == ["stream_v2_cp_async", "other"]
    assert launch.async_copy_kinds(ptx, "stream_v2_cp_async") == frozenset()
    assert launch.async_copy_kinds(ptx, "other") == set(launch.COPY_PATTERNS)
    assert launch.async_copy_kinds(ptx) == set(launch.COPY_PATTERNS)
    assert launch.async_copy_kinds("cp.async.ca.shared.global [%r1], [%rd1], 4;") == {"cp.async"}
    with pytest.raises(ValueError, match="no kernel 'missing'"):
        launch.entry_ptx(ptx, "missing")


# ------------------------------------------------------------------------------------------
# The fixtures' headers


@pytest.mark.parametrize("path", sorted(ladder.WRONG.glob("*.cu")), ids=rel)
def test_every_cuda_fixture_says_what_it_expects(path: Path) -> None:
    head = path.read_text().splitlines()[:8]
    assert head[0].startswith("// ") and len(head[0]) > 20, "a one-sentence description first"
    expect = [line for line in head if re.match(r"^// expect: (zero \w+|partial)", line)]
    assert len(expect) == 1, head
    assert "// task: stream" in head


# ------------------------------------------------------------------------------------------
# Launch configuration: one block per SM


@pytest.mark.parametrize("props", [H200, A100], ids=["H200", "A100"])
@pytest.mark.parametrize(("stages", "tile_bytes"), [(1, 4096), (4, 4096), (8, 4096), (8, 16384)])
def test_exactly_one_block_fits_per_sm(props: dict, stages: int, tile_bytes: int) -> None:
    config = launch.launch_config(props, stages, tile_bytes)
    reserved = props.get("reservedSharedMemPerBlock", 1024)
    per_sm = props["sharedMemPerMultiprocessor"]
    assert config.grid == props["multiProcessorCount"]
    assert config.block == launch.THREADS == 256
    assert config.shared_mem >= stages * tile_bytes + launch.SMEM_SLACK == config.smem_needed
    assert config.shared_mem % 128 == 0
    assert config.shared_mem + reserved <= per_sm  # one fits...
    assert 2 * (config.shared_mem + reserved) > per_sm  # ...two do not
    assert config.shared_mem <= props["sharedMemPerBlockOptin"]
    assert config.opt_in  # always above 48 KiB: the kernel's limit must be raised
    assert config.blocks_per_sm == 1
    assert config.tile_floats == tile_bytes // 4 and config.ring_bytes == stages * tile_bytes


def test_launch_config_numbers_for_the_h200() -> None:
    small = launch.launch_config(H200, 4, 4096)
    assert small.shared_mem == 115840  # 233472 // 2 - 1024 + 1 = 115713, up to 128
    big = launch.launch_config(H200, 8, 16384)
    assert big.shared_mem == 8 * 16384 + 1024  # the ring itself is above half
    limits = launch.DeviceLimits.from_props(A100)
    assert limits.reserved_smem_per_block == 1024 and limits.cc == 80
    assert launch.launch_config(limits, 4, 4096) == launch.launch_config(A100, 4, 4096)


def test_launch_config_refuses_what_cannot_fit_or_make_sense() -> None:
    launch.launch_config(H200, 14, 16384)  # 230400 B: just fits
    with pytest.raises(ValueError, match=r"need 246784 B.*allows 232448 B"):
        launch.launch_config(H200, 15, 16384)
    with pytest.raises(ValueError, match="need"):
        launch.launch_config(A100, 11, 16384)
    for stages, tile in [(0, 4096), (4, 4095), (4, 8), (33, 4096)]:
        with pytest.raises(ValueError):
            launch.launch_config(H200, stages, tile)
    with pytest.raises(ValueError, match="warps"):
        launch.launch_config(H200, 4, 4096, threads=100)
    with pytest.raises(KeyError, match="multiProcessorCount"):
        launch.launch_config({"sharedMemPerMultiprocessor": 1}, 4, 4096)
    with pytest.raises(ValueError, match="positive"):
        launch.launch_config({**H200, "multiProcessorCount": 0}, 4, 4096)


# ------------------------------------------------------------------------------------------
# The tensor map's geometry


def test_tma_geometry() -> None:
    g = launch.tma_geometry(1 << 28, 1024)
    assert (g.width, g.box_rows, g.rows, g.tiles, g.tail_floats) == (256, 4, 1 << 20, 1 << 18, 0)
    g = launch.tma_geometry(1_000_003, 1024)
    assert (g.rows, g.tiles, g.tensor_floats, g.tail_floats) == (3906, 977, 999936, 67)
    g = launch.tma_geometry(4097, 64)
    assert (g.width, g.box_rows, g.rows, g.tiles, g.tail_floats) == (64, 1, 64, 64, 1)
    assert launch.tma_geometry(255, 1024).rows == 0
    assert launch.tma_geometry(0, 1024).tiles == 0
    g = launch.tma_geometry(1 << 20, 16384)
    assert (g.width, g.box_rows, g.row_pitch_bytes) == (256, 64, 1024)


def test_tensor_map_arguments() -> None:
    args = launch.tensor_map_args(0x7F0000000000, 1_000_003, 1024)
    assert args == {
        "tensorRank": 2,
        "globalAddress": 0x7F0000000000,
        "globalDim": [256, 3906],
        "globalStrides": [1024],
        "boxDim": [256, 4],
        "elementStrides": [1, 1],
    }
    assert launch.tensor_map_args(0x7F0000000000, 100, 1024) == {}  # no full row: no map
    with pytest.raises(ValueError, match="16-byte aligned"):
        launch.tensor_map_args(0x7F0000000004, 1_000_003, 1024)


# ------------------------------------------------------------------------------------------
# Little's law, against the figures measured on the H200 (docs/domain.md, "Lab 3")

COPY = 4197e9  # B/s, read + written
IDLE = 348e-9  # s
SMS = 132


def test_bytes_in_flight_for_the_copy_ceiling() -> None:
    reads = little.bytes_in_flight_needed(COPY / 2, IDLE, SMS)
    assert reads == pytest.approx(5532, rel=1e-3)  # ~5.4 KiB of reads per SM
    both = little.bytes_in_flight_needed(COPY, IDLE, SMS)
    assert both / 1024 == pytest.approx(10.8, abs=0.05)  # the "~5-11 KiB" of the brief
    assert little.bytes_in_flight_needed(31.8e9, 348e-9) == pytest.approx(11066.4)
    assert little.stages_needed(COPY, 4096, SMS, IDLE) == 2


def test_the_loaded_latency_the_sweep_implies() -> None:
    # v2, 4 KiB stages: 1392 GB/s at S = 1 and 3753 GB/s at S = 8 (measured)
    assert little.implied_latency(3753e9, 8, 4096, SMS) == pytest.approx(2.305e-6, rel=1e-3)
    assert little.implied_latency(1392e9, 1, 4096, SMS) == pytest.approx(777e-9, rel=1e-3)
    assert little.loaded_latency(1e12, 1e6) == pytest.approx(1e-6)


def test_predicted_bandwidth_curve() -> None:
    curve = [little.predicted_bandwidth(s, 4096, SMS, IDLE, COPY) for s in (1, 2, 3, 4, 6, 8)]
    assert curve[0] == pytest.approx(2 * SMS * 4096 / IDLE)  # 3.1 TB/s with the idle latency
    assert curve == sorted(curve) and max(curve) == COPY
    assert curve[1] == COPY  # the idle latency says S = 2 suffices; the GPU disagrees
    loaded = little.predicted_bandwidth(4, 4096, SMS, 2.3e-6, COPY)
    assert loaded == pytest.approx(2 * SMS * 4 * 4096 / 2.3e-6)
    reads_only = little.predicted_bandwidth(1, 4096, SMS, IDLE, COPY, bytes_per_read_byte=1)
    assert reads_only == pytest.approx(curve[0] / 2)


def test_littles_law_refuses_nonsense() -> None:
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            little.loaded_latency(bad, 1.0)
        with pytest.raises(ValueError):
            little.bytes_in_flight_needed(1e12, bad, 132)
    with pytest.raises(ValueError, match="sms"):
        little.bytes_in_flight_needed(1e12, 1e-6, 0)
    with pytest.raises(ValueError, match="stages"):
        little.predicted_bandwidth(0, 4096, 132, 1e-6, 1e12)


# ------------------------------------------------------------------------------------------
# Pointer-chase chains


def test_page_chains_visit_random_lines_page_by_page() -> None:
    rng = np.random.default_rng(0)
    pos = little.chase_positions("pages", 1 << 30, 4096, rng, lines_per_page=512)
    assert pos.dtype == np.uint32 and len(pos) == 4096 and len(np.unique(pos)) == 4096
    assert (pos % little.WORDS_PER_LINE == 0).all() and pos.max() < (1 << 30) // 4
    pages = pos.astype(np.int64) * 4 // little.PAGE_BYTES
    runs = pages.reshape(8, 512)
    assert (runs == runs[:, :1]).all()  # 512 lines of one page, then the next page
    assert len(np.unique(runs[:, 0])) == 8
    assert not (np.diff(pos[:512].astype(np.int64)) > 0).all()  # not in address order


def test_random_and_cycle_chains() -> None:
    rng = np.random.default_rng(1)
    pos = little.chase_positions("random", 1 << 24, 1000, rng)
    assert len(np.unique(pos)) == 1000 and pos.max() < (1 << 24) // 4
    cycle = little.chase_positions("cycle", 2 << 20, 0, rng)
    assert sorted(cycle.tolist()) == list(range(0, (2 << 20) // 4, little.WORDS_PER_LINE))
    links = little.chain_links(cycle)
    nxt = dict(zip(cycle.tolist(), links.tolist(), strict=True))
    j, seen = int(cycle[0]), 0
    for _ in range(len(cycle)):  # one lap of the chain visits every line once
        j, seen = nxt[j], seen + 1
    assert j == cycle[0] and seen == len(cycle)
    with pytest.raises(ValueError, match="pages"):
        little.chase_positions("pages", 4 << 20, 4096, rng, lines_per_page=512)
    with pytest.raises(ValueError, match="kind"):
        little.chase_positions("zigzag", 1 << 20, 10, rng)


# ------------------------------------------------------------------------------------------
# The bench's comparison, on the CPU


def fmaf_exact(a: np.float32, x: np.float32, b: np.float32) -> np.float32:
    """fmaf: a * x + b rounded once to float32, ties to even, via exact fractions."""
    exact = Fraction(float(a)) * Fraction(float(x)) + Fraction(float(b))
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess]
    candidates.append(np.nextafter(guess, np.float32(np.inf)))
    best = min(
        candidates, key=lambda c: (abs(Fraction(float(c)) - exact), int(c.view(np.uint32)) & 1)
    )
    return np.float32(best)


def test_the_comparison_accepts_fmaf_and_separate_rounding() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 3000).astype(np.float32)
    x[:3] = [3.0e7, -2.5e-30, -7.0e5]
    x[3] = np.float32(-bench.B) / bench.A  # near cancellation: a * x + b ~ 0
    fused, separate = bench.expected_pair(x)
    fmaf = np.array([fmaf_exact(bench.A, v, bench.B) for v in x], dtype=np.float32)
    assert not bench.mismatches(fmaf, fused, separate).any()
    assert not bench.mismatches(separate, fused, separate).any()
    assert (np.abs(fmaf.astype(np.float64) - fused) <= np.spacing(np.abs(fused))).all()


def test_the_comparison_rejects_wrong_values() -> None:
    x = np.linspace(-2, 2, 1001, dtype=np.float32)
    fused, separate = bench.expected_pair(x)
    out = fused.copy()
    out[10] = np.nextafter(np.nextafter(out[10], np.float32(9)), np.float32(9))  # 2 ulp off
    out[20] = np.nan
    out[30] = 0.0
    bad = bench.mismatches(out, fused, separate)
    assert np.flatnonzero(bad).tolist() == [10, 20, 30]


def test_bench_arguments_and_tables() -> None:
    args = bench.parse_args([])
    assert args.n == 1 << 28 and args.sweep == [1, 2, 3, 4, 6, 8] and args.repeats == 20
    assert args.sizes == [1, 3, 1023, 4097, 1_000_003, (1 << 20) + 5]
    with pytest.raises(SystemExit):
        bench.parse_args(["--tile-bytes", "1000"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--source", "no/such.cu"])
    ok = bench.Result(
        "stream_v2_cp_async", "v2 cp.async", 8, 4096, "sweep", copy_kinds=["cp.async"]
    )
    ok.bytes_per_s, ok.percent_of_copy, ok.speedup_over_v1 = 3753e9, 89.4, 2.7
    ok.predicted_bytes_per_s, ok.implied_latency_ns = 4197e9, 2305.0
    bad = bench.Result("stream_v3_bulk", "v3 bulk+mbarrier", 4, 4096, ok=False, error="n=1: x|y")
    table = bench.markdown_table([ok, bad], {"bytes_per_s": 4197e9}).splitlines()
    assert table[2] == "| device copy | - | - | 4197 | 100% | - | - | - | - |"
    assert table[3] == (
        "| v2 cp.async | 8 | 4 KiB | 3753 | 89% | 2.70x | 4197 | 2305 ns | cp.async |"
    )
    assert table[4].startswith("| v3 bulk+mbarrier | 4 | 4 KiB | FAILED |")
    assert "x/y" in bench.failures_table([ok, bad])


def test_annotate_fills_the_littles_law_columns() -> None:
    v1 = bench.Result("stream_v1_sync", "v1 sync", 1, 4096)
    v1.bytes_per_s = 1390e9
    v2 = bench.Result("stream_v2_cp_async", "v2 cp.async", 8, 4096, "sweep")
    v2.bytes_per_s = 3753e9
    bench.annotate([v1, v2], {"bytes_per_s": COPY}, SMS, IDLE)
    assert v2.speedup_over_v1 == pytest.approx(2.7, abs=0.01)
    assert v2.percent_of_copy == pytest.approx(89.4, abs=0.1)
    assert v2.implied_latency_ns == pytest.approx(2305, rel=1e-3)
    assert v1.predicted_bytes_per_s == pytest.approx(2 * SMS * 4096 / IDLE)
    assert v2.predicted_bytes_per_s == COPY


# ------------------------------------------------------------------------------------------
# The kernels' CUDA C, run on the CPU

FAKE_CUDA_PIPELINE_H = r"""
// CPU stand-in for <cuda_pipeline.h>: cp.async as a deferred copy. Each copy captures its
// source bytes when issued (AddressSanitizer checks that read) and lands in shared memory only
// when __pipeline_wait_prior retires its group, so reading a stage before waiting for it reads
// stale data (the emulator fills shared memory with NaN before every block).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

struct emu_copy {
    void* dst;
    unsigned char bytes[16];
    size_t size;
};
extern thread_local std::vector<std::vector<emu_copy>> emu_groups;  // committed, oldest first
extern thread_local std::vector<emu_copy> emu_open;                 // not committed yet

inline void __pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t = 0) {
    if (!(size == 4 || size == 8 || size == 16) || reinterpret_cast<uintptr_t>(dst) % size ||
        reinterpret_cast<uintptr_t>(src) % size) {
        fprintf(stderr, "cp.async of %zu bytes from %p to %p: bad size or alignment\n", size,
                src, dst);
        abort();
    }
    emu_copy c{dst, {}, size};
    memcpy(c.bytes, src, size);
    emu_open.push_back(c);
}
inline void __pipeline_commit() {
    emu_groups.push_back(emu_open);
    emu_open.clear();
}
inline void __pipeline_wait_prior(size_t prior) {
    while (emu_groups.size() > prior) {
        for (const emu_copy& c : emu_groups.front()) memcpy(c.dst, c.bytes, c.size);
        emu_groups.erase(emu_groups.begin());
    }
}
"""

EMULATOR = r"""
// One OS thread per CUDA thread; the blocks of a grid run one after another, so a
// function-local static is the block's shared memory; __syncthreads is a std::barrier.
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#define __grid_constant__

struct alignas(16) float4 { float x, y, z, w; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline void __syncthreads() { emu_bar->arrive_and_wait(); }
[[noreturn]] inline void __trap() { fprintf(stderr, "__trap()\n"); abort(); }

#include "cuda_pipeline.h"
thread_local std::vector<std::vector<emu_copy>> emu_groups;
thread_local std::vector<emu_copy> emu_open;

#include "kernel.cu"

// The dynamic shared memory: `smem` for the student-style files, pipeline::dynamic_smem() for
// pipeline.cu.
float4 smem[232448 / 16];
unsigned emu_smem_bytes = 0;
PIPELINE_HOOKS

using Kernel = void (*)(const float*, float*, float, float, unsigned long long);

// argv: kernel blocks smem_bytes n in_offset out_offset (offsets in floats)
int main(int argc, char** argv) {
    if (argc != 7) return 2;
    const std::string name = argv[1];
    const unsigned grid = atoi(argv[2]);
    emu_smem_bytes = atoi(argv[3]);
    const unsigned long long n = strtoull(argv[4], nullptr, 10);
    const int oi = atoi(argv[5]), oo = atoi(argv[6]);
    Kernel kernel = nullptr;
    KERNEL_TABLE
    if (!kernel || emu_smem_bytes > sizeof smem) return 2;
    // Exact-size buffers: AddressSanitizer reports any access past their ends.
    std::vector<float> inbuf(n + oi), outbuf(n + oo, NAN);
    std::mt19937 rng(n * 7919 + oi);
    std::uniform_real_distribution<float> uniform(-2.f, 2.f);
    for (auto& v : inbuf) v = uniform(rng);
    if (n > 2) inbuf[oi + n / 2] = 3.0e7f;
    const float a = -1.37f, b = 0.61f;
    const float* in = inbuf.data() + oi;
    float* out = outbuf.data() + oo;
    emu_prepare(in, n);
    gridDim = {grid, 1, 1};
    blockDim = {256, 1, 1};
    std::barrier<> bar(blockDim.x);
    emu_bar = &bar;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < blockDim.x; ++t)
        threads.emplace_back([&, t] {
            threadIdx = {t, 0, 0};
            for (unsigned bx = 0; bx < grid; ++bx) {
                if (t == 0) memset(smem, 0xff, sizeof smem);  // NaN until a copy lands
                bar.arrive_and_wait();
                blockIdx = {bx, 0, 0};
                emu_groups.clear();
                emu_open.clear();
                kernel(in, out, a, b, n);
                bar.arrive_and_wait();  // the next block reuses the shared memory
            }
        });
    for (auto& th : threads) th.join();
    for (int i = 0; i < oo; ++i)
        if (!std::isnan(outbuf[i])) { printf("wrote before out\n"); return 1; }
    unsigned long long bad = 0, first = 0;
    for (unsigned long long i = 0; i < n; ++i) {
        const float want = fmaf(a, in[i], b);  // every kernel computes fmaf: same bits
        if (memcmp(&want, &out[i], 4) != 0 && !bad++) first = i;
    }
    printf("%s n=%llu grid=%u: %llu wrong", name.c_str(), n, grid, bad);
    if (bad) printf(" (first out[%llu] = %g)", first, out[first]);
    printf("\n");
    return bad ? 1 : 0;
}
"""

PIPELINE_HOOKS = r"""
// pipeline.cuh's device-only pieces, for pipeline.cu.
#include <chrono>
#include <map>
#include <mutex>

float4* pipeline::emu_dynamic_smem() { return smem; }
unsigned pipeline::emu_dynamic_smem_bytes() { return emu_smem_bytes; }

// mbarriers: a count of expected arrivals, a transaction count (bytes still to land) and a
// phase number; a phase completes when both reach 0. try_wait.parity(P) is true once the
// phase with parity P has completed, i.e. while the current phase's parity is not P.
struct EmuBarrier {
    unsigned count = 0, pending = 0, phase = 0;
    long long tx = 0;
};
std::mutex emu_mutex;
std::map<const void*, EmuBarrier> emu_barriers;

static EmuBarrier& emu_barrier(const void* bar) {  // emu_mutex held
    auto it = emu_barriers.find(bar);
    if (it == emu_barriers.end()) {
        fprintf(stderr, "mbarrier %p used before mbarrier.init\n", bar);
        abort();
    }
    return it->second;
}
static void emu_arrive_locked(EmuBarrier& b, const void* bar) {
    if (b.pending == 0) {
        fprintf(stderr, "mbarrier %p: more arrivals than its count in one phase\n", bar);
        abort();
    }
    if (--b.pending == 0 && b.tx == 0) b.phase++, b.pending = b.count;
}
void pipeline::mbar_init(u64* bar, u32 count) {
    std::lock_guard<std::mutex> g(emu_mutex);
    emu_barriers[bar] = EmuBarrier{count, count, 0, 0};
}
void pipeline::mbar_fence_init() {}
void pipeline::mbar_arrive_expect_tx(u64* bar, u32 bytes) {
    std::lock_guard<std::mutex> g(emu_mutex);
    EmuBarrier& b = emu_barrier(bar);
    b.tx += bytes;
    emu_arrive_locked(b, bar);
}
void pipeline::mbar_arrive(u64* bar) {
    std::lock_guard<std::mutex> g(emu_mutex);
    emu_arrive_locked(emu_barrier(bar), bar);
}
// A wait that never ends is a deadlock (a hardware try_wait would spin forever too): after
// EMU_DEADLOCK_S of waiting on one barrier the run stops and says so, instead of hanging.
constexpr double EMU_DEADLOCK_S = 10.0;
bool pipeline::mbar_try_wait(u64* bar, u32 parity) {
    thread_local u64* waiting_on = nullptr;
    thread_local std::chrono::steady_clock::time_point since;
    bool done;
    {
        std::lock_guard<std::mutex> g(emu_mutex);
        done = (emu_barrier(bar).phase & 1u) != parity;
    }
    if (done) {
        waiting_on = nullptr;
        return true;
    }
    auto now = std::chrono::steady_clock::now();
    if (waiting_on != bar) {
        waiting_on = bar;
        since = now;
    } else if (std::chrono::duration<double>(now - since).count() > EMU_DEADLOCK_S) {
        fprintf(stderr, "deadlock: waited %.0f s on mbarrier %p for parity %u\n",
                EMU_DEADLOCK_S, static_cast<void*>(bar), parity);
        std::_Exit(3);
    }
    std::this_thread::yield();
    return false;
}

// The copy engine: one thread that lands the queued copies in random order, some after a
// short sleep, then counts their bytes against their barrier. The source is read when the
// copy is issued (AddressSanitizer checks that read there).
struct EmuJob {
    void* dst = nullptr;
    std::vector<unsigned char> bytes;
    u64* bar = nullptr;
};
struct EmuCopyEngine {
    std::mutex m;
    std::vector<EmuJob> jobs;
    bool stop = false;
    std::mt19937 rng{12345};
    std::thread worker;
    EmuCopyEngine() : worker([this] { run(); }) {}
    ~EmuCopyEngine() {
        {
            std::lock_guard<std::mutex> g(m);
            stop = true;
        }
        worker.join();
    }
    void push(EmuJob job) {
        std::lock_guard<std::mutex> g(m);
        jobs.push_back(std::move(job));
    }
    void run() {
        for (;;) {
            EmuJob job;
            {
                std::lock_guard<std::mutex> g(m);
                if (jobs.empty()) {
                    if (stop) return;
                } else {
                    const size_t i = rng() % jobs.size();
                    job = std::move(jobs[i]);
                    jobs.erase(jobs.begin() + i);
                }
            }
            if (job.bar == nullptr) {
                std::this_thread::yield();
                continue;
            }
            if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50));
            memcpy(job.dst, job.bytes.data(), job.bytes.size());
            std::lock_guard<std::mutex> g(emu_mutex);
            EmuBarrier& b = emu_barrier(job.bar);
            b.tx -= static_cast<long long>(job.bytes.size());
            if (b.tx < 0) {
                fprintf(stderr, "mbarrier %p: more bytes landed than expected\n", job.bar);
                abort();
            }
            if (b.pending == 0 && b.tx == 0) b.phase++, b.pending = b.count;
        }
    }
};
EmuCopyEngine emu_engine;

void pipeline::bulk_copy_g2s(void* dst, const void* src, u32 bytes, u64* bar) {
    if (reinterpret_cast<uintptr_t>(dst) % 16 || reinterpret_cast<uintptr_t>(src) % 16 ||
        bytes % 16) {
        fprintf(stderr, "cp.async.bulk: dst %p, src %p, %u bytes: not 16-byte aligned\n", dst,
                src, bytes);
        abort();
    }
    const unsigned char* s = static_cast<const unsigned char*>(src);
    emu_engine.push(EmuJob{dst, std::vector<unsigned char>(s, s + bytes), bar});
}

// The emulator's tensor map: opaque[0..4] = address, row width, rows, box width, box rows.
void pipeline::tma_load_2d(void* dst, const TensorMap* map, int x, int y, u64* bar) {
    const float* base = reinterpret_cast<const float*>(map->opaque[0]);
    const unsigned long long width = map->opaque[1], rows = map->opaque[2];
    const unsigned long long box_w = map->opaque[3], box_h = map->opaque[4];
    if (reinterpret_cast<uintptr_t>(dst) % 128 || x != 0 || box_w != width) {
        fprintf(stderr, "TMA: dst %p, x %d: unexpected\n", dst, x);
        abort();
    }
    std::vector<unsigned char> bytes(box_w * box_h * 4, 0);  // zero fill out of bounds
    for (unsigned long long r = 0; r < box_h; ++r)
        if (y + r < rows) memcpy(&bytes[r * box_w * 4], base + (y + r) * width, box_w * 4);
    emu_engine.push(EmuJob{dst, std::move(bytes), bar});
}

pipeline::TensorMap emu_map{};
void emu_prepare(const float* in, unsigned long long n) {  // as launch.tensor_map_args
    const unsigned long long w = TILE_FLOATS < 256 ? TILE_FLOATS : 256;
    emu_map.opaque[0] = reinterpret_cast<unsigned long long>(in);
    emu_map.opaque[1] = w;
    emu_map.opaque[2] = n / w;
    emu_map.opaque[3] = w;
    emu_map.opaque[4] = TILE_FLOATS / w;
}
void emu_v4(const float* in, float* out, float a, float b, unsigned long long n) {
    stream_v4_tma(in, out, a, b, n, emu_map);
}
"""
NO_HOOKS = "void emu_prepare(const float*, unsigned long long) {}\n"


@pytest.fixture(scope="module")
def emulator_build(tmp_path_factory: pytest.TempPathFactory):
    """build(source, kernels, stages, tile_floats) -> path of an emulator binary (cached)."""
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to run the kernels on the CPU")
    root = tmp_path_factory.mktemp("emu3")
    flags = ["-std=c++20", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    probe = root / "probe.cpp"
    probe.write_text("#include <barrier>\nint main() { std::barrier<> b(1); }\n")
    if subprocess.run([cxx, *flags, probe, "-o", root / "probe"], capture_output=True).returncode:
        pytest.skip(f"{cxx} lacks C++20 <barrier> or the sanitizers")
    built: dict[tuple, Path] = {}

    def build(source: Path, kernels: tuple[str, ...], stages: int, tile_floats: int) -> Path:
        key = (source, kernels, stages, tile_floats)
        if key in built:
            return built[key]
        work = root / f"b{len(built)}"
        work.mkdir()
        (work / "cuda_pipeline.h").write_text(FAKE_CUDA_PIPELINE_H)
        # a dynamic shared array is an `extern` global of the emulator's
        (work / "kernel.cu").write_text(source.read_text().replace("extern __shared__", "extern"))
        table = " ".join(
            f'if (name == "{k}") kernel = {"emu_v4" if k == "stream_v4_tma" else k};'
            for k in kernels
        )
        hooks = PIPELINE_HOOKS if "pipeline.cuh" in source.read_text() else NO_HOOKS
        main = EMULATOR.replace("KERNEL_TABLE", table).replace("PIPELINE_HOOKS", hooks)
        (work / "main.cpp").write_text(main)
        defines = [f"-DSTAGES={stages}", f"-DTILE_FLOATS={tile_floats}", "-DBLOCK_THREADS=256"]
        compiled = subprocess.run(
            [
                cxx,
                *flags,
                "-Wno-psabi",
                "-DWORKBENCH_CPU_EMULATION",
                *defines,
                f"-I{work}",
                f"-I{KERNELS_DIR}",
                work / "main.cpp",
                "-o",
                work / "emu",
            ],
            capture_output=True,
            text=True,
        )
        assert compiled.returncode == 0, compiled.stderr[-4000:]
        built[key] = work / "emu"
        return built[key]

    return build


def emulate(
    binary: Path,
    kernel: str,
    n: int,
    grid: int = 5,
    smem: int = 100_000,
    offsets: tuple[int, int] = (0, 0),
    timeout: float = 120,
):
    return subprocess.run(
        [binary, kernel, str(grid), str(smem), str(n), *map(str, offsets)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


EMU_SIZES = (0, 1, 3, 63, 64, 65, 1023, 4097, 10007)


@pytest.mark.slow
@pytest.mark.parametrize(("stages", "tile_floats"), [(1, 64), (2, 64), (3, 64), (4, 1024), (8, 64)])
def test_the_ladder_is_exact_when_run_on_the_cpu(emulator_build, stages, tile_floats) -> None:
    """v3 and v4 too: mbarriers and a copy engine that lands copies late and out of order."""
    kernels = tuple(v.name for v in ladder.VERSIONS)
    binary = emulator_build(ladder.SOURCE, kernels, stages, tile_floats)
    for kernel in kernels:
        for n in EMU_SIZES:
            for grid in (1, 3):
                run = emulate(binary, kernel, n, grid=grid)
                assert run.returncode == 0, (
                    f"{kernel} S={stages} n={n}:\n{run.stdout}{run.stderr[-3000:]}"
                )
        for offsets in [(1, 0), (0, 1), (3, 2)]:  # misaligned: the plain grid-stride fallback
            run = emulate(binary, kernel, 4097, offsets=offsets)
            assert run.returncode == 0, f"{kernel} {offsets}:\n{run.stdout}{run.stderr[-3000:]}"


@pytest.mark.slow
def test_the_emulator_catches_a_wrong_parity(emulator_build, tmp_path: Path) -> None:
    """The same v3 with consumers waiting for the other parity: they read stages before their
    bytes land, and the CPU run says so (the emulation is not a rubber stamp)."""
    text = ladder.SOURCE.read_text()
    good = "pipeline::mbar_wait(&r.full[s], round & 1);"
    assert text.count(good) == 1
    broken = tmp_path / "pipeline_wrong_parity.cu"
    broken.write_text(text.replace(good, "pipeline::mbar_wait(&r.full[s], (round + 1) & 1);"))
    binary = emulator_build(broken, ("stream_v3_bulk",), 2, 64)
    run = emulate(binary, "stream_v3_bulk", 4097, timeout=60)
    # Consumers a phase ahead read stages early; depending on how the threads interleave, the
    # run then ends with a wrong output, an mbarrier arrived on too often, or a deadlock the
    # emulator reports. Any of them is a failure said in words; a pass or a hang is not.
    said = run.stdout + run.stderr
    assert run.returncode != 0, said
    assert any(sign in said for sign in (" wrong", "mbarrier", "deadlock")), said


@pytest.mark.slow
def test_too_little_shared_memory_traps(emulator_build) -> None:
    binary = emulator_build(ladder.SOURCE, ("stream_v2_cp_async",), 4, 1024)
    run = emulate(binary, "stream_v2_cp_async", 4097, smem=4 * 4096 - 16)
    assert run.returncode != 0 and "__trap()" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("stages", "tile_floats"), [(1, 64), (2, 1024), (4, 64), (8, 64)])
def test_the_solution_is_exact_when_run_on_the_cpu(emulator_build, stages, tile_floats) -> None:
    binary = emulator_build(ladder.SOLUTION, (launch.STREAM_KERNEL,), stages, tile_floats)
    for n in EMU_SIZES:
        run = emulate(binary, launch.STREAM_KERNEL, n, grid=3)
        assert run.returncode == 0, f"S={stages} n={n}:\n{run.stdout}{run.stderr[-3000:]}"


# fixture -> (n where it must fail, n where it happens to be right, how it fails)
EMULATED_FIXTURES = {
    "student.cu": (4097, 0, "wrong"),
    "drops_tail.cu": (4097, 4096, "wrong"),
    "wait_wrong_group.cu": (4096, 63, "wrong"),
    "oob_write.cu": (4099, 4096, "AddressSanitizer"),
    "synchronous_only.cu": (None, 4097, None),  # right: only its PTX gives it away
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EMULATED_FIXTURES))
def test_known_wrong_kernels_fail_on_the_cpu(emulator_build, name: str) -> None:
    path = ladder.STUB if name == "student.cu" else ladder.WRONG / name
    fails_at, right_at, how = EMULATED_FIXTURES[name]
    binary = emulator_build(path, (launch.STREAM_KERNEL,), 2, 64)
    run = emulate(binary, launch.STREAM_KERNEL, right_at)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    if fails_at is not None:
        run = emulate(binary, launch.STREAM_KERNEL, fails_at)
        assert run.returncode != 0 and how in run.stdout + run.stderr, run.stdout


@pytest.mark.slow
def test_the_hanging_fixture_hangs_on_the_cpu(emulator_build) -> None:
    binary = emulator_build(ladder.WRONG / "hangs.cu", (launch.STREAM_KERNEL,), 2, 64)
    assert emulate(binary, launch.STREAM_KERNEL, 1).returncode == 0  # no tile: no wait
    with pytest.raises(subprocess.TimeoutExpired):
        emulate(binary, launch.STREAM_KERNEL, 4096, timeout=5)


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHS)
def test_the_pointer_chase_compiles_and_bypasses_l1(arch: str) -> None:
    from kernels.build import compile_source

    ptx = compile_source(little.CHASE_SOURCE, "pointer_chase.cu", arch).ptx
    body = launch.entry_ptx(ptx, "pointer_chase")
    assert re.search(r"\bld\.global\.cg\.[ub]32\b", body)
    assert not re.search(r"\bld\.global\.(?:ca\.|nc\.)?[ub]32\b", body)  # no L1-cached load


def test_the_gpu_scripts_import_without_a_gpu() -> None:
    import reference.lab3_pipeline.probe as probe

    assert callable(probe.main) and callable(bench.main)
