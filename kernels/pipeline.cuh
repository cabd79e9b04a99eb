// Helpers for lab 3's streaming kernels (reference/lab3_pipeline/pipeline.cu): the tile
// bookkeeping every version shares, the plain (non-async) paths for the tail and for misaligned
// pointers, and thin wrappers over the Hopper PTX the bulk-copy versions use (mbarrier,
// cp.async.bulk, cp.async.bulk.tensor). Device code only, compiled by NVRTC (kernels/build.py).
//
// The PTX wrappers follow the forms seen working on the lent H200 with NVRTC 13 (see
// docs/domain.md, "Lab 3"): cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes,
// mbarrier.arrive.expect_tx, mbarrier.try_wait.parity, cp.async.bulk.tensor.2d. They exist only
// when compiling for sm_90 or newer, where this header defines PIPELINE_SM90; callers guard
// their Hopper code with #ifdef PIPELINE_SM90 (and trap otherwise).
//
// WORKBENCH_CPU_EMULATION: tests/test_lab3_cuda_c.py compiles the kernels as plain C++ on the CPU
// (one OS thread per CUDA thread) and supplies the device-only pieces itself: dynamic shared
// memory, and, for the Hopper versions, mbarriers with phases and transaction counts and a
// "copy engine" thread that lands bulk and TMA copies later, in any order.
#pragma once
#include "common.cuh"

namespace pipeline {

typedef unsigned long long u64;
typedef unsigned int u32;

// ------------------------------------------------------------------------------------------------
// Alignment. 16 bytes is what float4 accesses, 16-byte cp.async and every bulk copy need (the
// bulk copies also need a size that is a multiple of 16). A tile of TILE_FLOATS floats starts
// t * TILE_FLOATS * 4 bytes after `in`, so with TILE_FLOATS % 4 == 0 every full tile is
// 16-byte aligned as soon as `in` is. The ragged end (n % TILE_FLOATS floats, which need not be a
// multiple of 4) never goes through a bulk copy or a float4: plain 4-byte loads and stores.
__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<u64>(p) & 15ull) == 0;
}

// The function every version computes, out = a * in + b, as one fused multiply-add (rounded
// once), so that every version, and the student's, produce the same bits.
__device__ __forceinline__ float axpb(float x, float a, float b) { return fmaf(a, x, b); }

__device__ __forceinline__ float4 axpb4(float4 v, float a, float b) {
    return make_float4(axpb(v.x, a, b), axpb(v.y, a, b), axpb(v.z, a, b), axpb(v.w, a, b));
}

// ------------------------------------------------------------------------------------------------
// Tiles. The n floats are n / TILE full tiles plus a tail of n % TILE floats. Block b owns the
// full tiles b, b + G, b + 2G, ... (G = gridDim.x, one block per SM) and walks them in that order
// (a grid-stride loop over tiles); the tail is handled, with plain loads, by the block whose turn
// it would be next, tail_owner() = (n / TILE) % G.

// How many of n_tiles tiles block blockIdx.x owns.
__device__ __forceinline__ u64 tiles_of_block(u64 n_tiles) {
    const u64 b = blockIdx.x, g = gridDim.x;
    return n_tiles > b ? (n_tiles - 1 - b) / g + 1 : 0;
}

// The global index of the k-th tile block blockIdx.x owns.
__device__ __forceinline__ u64 tile_of_block(u64 k) {
    return static_cast<u64>(blockIdx.x) + k * gridDim.x;
}

__device__ __forceinline__ bool is_tail_owner(u64 n_tiles) {
    return blockIdx.x == n_tiles % gridDim.x;
}

// out[i] = a * in[i] + b for begin <= i < end, by this block's threads, plain 4-byte accesses.
__device__ __forceinline__ void axpb_block_range(const float* __restrict__ in,
                                                 float* __restrict__ out, float a, float b,
                                                 u64 begin, u64 end) {
    for (u64 i = begin + threadIdx.x; i < end; i += blockDim.x) out[i] = axpb(in[i], a, b);
}

// The whole job as a plain grid-stride loop: the fallback when `in` or `out` is not 16-byte
// aligned (a view that starts at an odd element), where neither float4 nor cp.async (16 bytes)
// nor bulk copies are allowed. Correct, and as slow as one load in flight per thread.
__device__ __forceinline__ void axpb_grid_stride(const float* __restrict__ in,
                                                 float* __restrict__ out, float a, float b,
                                                 u64 n) {
    const u64 stride = grid_stride_1d();
    for (u64 i = global_index_1d(); i < n; i += stride) out[i] = axpb(in[i], a, b);
}

// ------------------------------------------------------------------------------------------------
// Dynamic shared memory. The launcher (labs/lab3_pipeline/launch.py) asks for more than half an
// SM's shared memory so that only one block fits per SM; the ring is at most
// STAGES * TILE_BYTES + SMEM_SLACK of it. Kernels check the size they were given, so a wrong
// launch fails loudly (a trap, reported as a CUDA error) instead of corrupting memory.
constexpr u32 SMEM_SLACK = 1024;  // barriers and alignment padding, beyond the ring

#ifdef WORKBENCH_CPU_EMULATION
float4* emu_dynamic_smem();
u32 emu_dynamic_smem_bytes();
__device__ __forceinline__ float4* dynamic_smem() { return emu_dynamic_smem(); }
__device__ __forceinline__ u32 dynamic_smem_bytes() { return emu_dynamic_smem_bytes(); }
#else
__device__ __forceinline__ float4* dynamic_smem() {
    extern __shared__ __align__(128) float4 workbench_dynamic_smem[];
    return workbench_dynamic_smem;
}
__device__ __forceinline__ u32 dynamic_smem_bytes() {
    u32 bytes;
    asm volatile("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
    return bytes;
}
#endif

__device__ __forceinline__ void require_dynamic_smem(u32 bytes) {
    if (dynamic_smem_bytes() < bytes) __trap();
}

// How many bytes past p the next multiple of `align` (a power of two, at most 1024) lies. The
// bulk-tensor copies want their shared-memory destination 128-byte aligned; SMEM_SLACK pays for
// the padding. Kernels add the padding to the dynamic shared-memory pointer itself (rather than
// rounding an integer address), so that the compiler still knows the result is in shared
// memory and emits ld.shared instead of generic loads. (A shared address's generic form
// differs from it by the shared window's base, which is aligned far beyond 1024 bytes.)
__device__ __forceinline__ u32 align_pad(const void* p, u32 align) {
    return (align - static_cast<u32>(reinterpret_cast<u64>(p) & (align - 1))) & (align - 1);
}

// ------------------------------------------------------------------------------------------------
// Hopper: mbarrier, bulk copies, TMA. sm_90 and newer only.

// A CUtensorMap as the driver lays it out (cuda.h: 16 x 64-bit words, 64-byte aligned),
// declared here so that device code needs no driver header. The host fills it with
// cuTensorMapEncodeTiled and passes its 128 bytes by value (launch.py).
struct alignas(64) TensorMap {
    unsigned long long opaque[16];
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define PIPELINE_SM90 1

// The 32-bit shared-state-space address PTX wants for shared-memory operands.
__device__ __forceinline__ u32 smem_u32(const void* p) {
    return static_cast<u32>(__cvta_generic_to_shared(p));
}

// An mbarrier whose phase completes after `count` arrivals (and, when a thread announced
// bytes with mbar_arrive_expect_tx, once that many bytes have landed).
__device__ __forceinline__ void mbar_init(u64* bar, u32 count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count)
                 : "memory");
}

// Makes the initialised barriers visible to the other threads and to the copy engine (the
// async proxy); followed by __syncthreads() before any thread uses them.
__device__ __forceinline__ void mbar_fence_init() {
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// One arrival, and `bytes` more bytes that must land before the current phase can complete.
__device__ __forceinline__ void mbar_arrive_expect_tx(u64* bar, u32 bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)),
                 "r"(bytes)
                 : "memory");
}

// One plain arrival (release semantics: this thread's earlier shared-memory reads are done).
__device__ __forceinline__ void mbar_arrive(u64* bar) {
    asm volatile(
        "{\n\t.reg .b64 state;\n\t"
        "mbarrier.arrive.shared::cta.b64 state, [%0];\n\t}" ::"r"(smem_u32(bar))
        : "memory");
}

// True once the phase with parity `parity` has completed. A barrier starts in phase 0; its
// k-th completion (k = 0, 1, ...) ends phase k, so waiting for "round r" of a stage is waiting
// for parity r & 1. try_wait may also return false after a time-out: callers loop.
__device__ __forceinline__ bool mbar_try_wait(u64* bar, u32 parity) {
    u32 done;
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done)
        : "r"(smem_u32(bar)), "r"(parity)
        : "memory");
    return done != 0;
}

__device__ __forceinline__ void mbar_wait(u64* bar, u32 parity) {
    while (!mbar_try_wait(bar, parity)) {
    }
}

// Bulk copy (no tensor map) of `bytes` from global to shared memory; its completion counts
// `bytes` against `bar`'s transaction count. dst and src 16-byte aligned, bytes % 16 == 0.
__device__ __forceinline__ void bulk_copy_g2s(void* dst, const void* src, u32 bytes, u64* bar) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
        ::"r"(smem_u32(dst)), "l"(src), "r"(bytes), "r"(smem_u32(bar))
        : "memory");
}

// 2-D bulk tensor copy (TMA): the box of the tensor map `map` whose corner is element
// (x, y) = (column, row) lands at dst (128-byte aligned); what falls outside the tensor is
// zero-filled, and the whole box's bytes count against `bar`.
__device__ __forceinline__ void tma_load_2d(void* dst, const TensorMap* map, int x, int y,
                                            u64* bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%3, %4}], [%2];" ::"r"(smem_u32(dst)),
        "l"(reinterpret_cast<u64>(map)), "r"(smem_u32(bar)), "r"(x), "r"(y)
        : "memory");
}

#elif defined(WORKBENCH_CPU_EMULATION)
#define PIPELINE_SM90 1
// Same contracts as above; the CPU emulator defines them.
void mbar_init(u64* bar, u32 count);
void mbar_fence_init();
void mbar_arrive_expect_tx(u64* bar, u32 bytes);
void mbar_arrive(u64* bar);
bool mbar_try_wait(u64* bar, u32 parity);
void bulk_copy_g2s(void* dst, const void* src, u32 bytes, u64* bar);
void tma_load_2d(void* dst, const TensorMap* map, int x, int y, u64* bar);
inline void mbar_wait(u64* bar, u32 parity) {
    while (!mbar_try_wait(bar, parity)) {
    }
}
#endif  // PIPELINE_SM90

}  // namespace pipeline
