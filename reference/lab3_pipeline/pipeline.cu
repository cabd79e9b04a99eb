// Lab 3 part B: a memory-streaming kernel, pipelined, in the llm.c dev/cuda style: one file,
// versions numbered from the plainest to the most Hopper-specific, one harness
// (reference/lab3_pipeline/bench.py, launches by labs/lab3_pipeline/launch.py) that checks
// them all and times them against a device-to-device copy.
//
//     out[i] = a * in[i] + b,   0 <= i < n,   float32, n up to 2^28 (and any n >= 0)
//
// Every kernel has the signature
//     (const float* __restrict__ in, float* __restrict__ out, float a, float b,
//      unsigned long long n)
// (v4 takes its tensor map as a sixth argument), computes fmaf(a, in[i], b) (one rounding), and
// is compiled with -DSTAGES=S -DTILE_FLOATS=T (defaults below). Launch (launch.py): exactly one
// block of BLOCK_THREADS threads per SM, dynamic shared memory padded above half the SM's so that
// no second block fits. So occupancy cannot hide DRAM latency; only bytes in flight can.
//
// Napkin math (H200: 132 SMs; numbers measured there, docs/domain.md "Lab 3"):
//   Bytes        n = 2^28: 1 GiB read + 1 GiB written. The device-to-device copy moves
//                ~4.2 TB/s (read + written), so the floor is ~0.51 ms.
//   Per SM       4.2 TB/s / 132 SMs = 31.8 B/ns per SM, half of it reads: 15.9 B/ns.
//   Little's law bytes in flight = bandwidth x latency. Reads must be in flight; stores are
//                fire-and-forget (the SM does not wait for them). With the idle DRAM latency
//                (~350 ns) an SM needs 15.9 B/ns x 350 ns = ~5.4 KiB of reads in flight; under
//                load the latency grows, and bandwidth only saturated at ~24-32 KiB per SM.
//   Tiles        TILE_BYTES = 4 KiB by default: 1024 floats, 256 float4, one per thread.
//
//   v1 sync       load a tile into shared memory, __syncthreads, compute, store, repeat: one
//                 tile (4 KiB) in flight per SM, then none while the block computes and stores.
//                 Measured ~1.4 TB/s (33% of copy) with 4 KiB tiles, 2.8 TB/s with 16 KiB.
//   v2 cp.async   a ring of STAGES tiles filled by Ampere's cp.async (16 bytes per thread per
//                 instruction, global -> shared without registers): while the block works on
//                 tile k, tiles k+1 .. k+S-1 are on their way: (S-1..S) x 4 KiB in flight.
//                 Measured S = 1, 2, 3, 4, 6, 8: 1.39, 2.29, 2.82, 3.11, 3.53, 3.75 TB/s.
//   v3 bulk       the same ring filled by Hopper bulk copies: ONE thread issues one instruction
//                 per tile (cp.async.bulk), whose bytes complete a "full" mbarrier; consumer warps
//                 wait on it (parity), compute, and arrive on an "empty" mbarrier that the
//                 producer waits on before refilling the stage. No per-thread address math for
//                 loads, and the producer can run ahead of the consumers by up to S tiles.
//   v4 TMA 2-D    as v3, but each tile is a 2-D box of a tensor map (cuTensorMapEncodeTiled on
//                 the host): the vector seen as rows of TMA_BOX_W floats. The last box may hang
//                 over the end of the tensor: TMA fills that part with zeros, and the consumers
//                 store only what lies inside. The descriptor is a __grid_constant__ parameter.
//
// Tails and alignment, in every version:
//   * Full tiles go through the fast path (float4, cp.async 16 B, bulk copies): each starts
//     t * TILE_BYTES after `in`, so it is 16-byte aligned when `in` is, and its size is a
//     multiple of 16 (TILE_FLOATS % 4 == 0; static_assert below).
//   * The ragged tail, n % TILE_FLOATS floats (not necessarily a multiple of 4), goes through
//     plain 4-byte loads and stores: bulk copies need 16-byte aligned addresses and sizes that
//     are multiples of 16, and a float4 there would read or write past n.
//   * If `in` or `out` is not 16-byte aligned (a view starting at an odd element), nothing may
//     use 16-byte accesses: the kernel falls back to a plain grid-stride loop (correct, slow).
#include <cuda_pipeline.h>

#include "pipeline.cuh"

#ifndef STAGES
#define STAGES 4
#endif
#ifndef TILE_FLOATS
#define TILE_FLOATS 1024
#endif
#ifndef BLOCK_THREADS
#define BLOCK_THREADS 256
#endif

using pipeline::u32;
using pipeline::u64;

constexpr u32 TILE_BYTES = TILE_FLOATS * 4u;
constexpr u32 TILE_VEC = TILE_FLOATS / 4;  // float4 per tile
static_assert(STAGES >= 1 && STAGES <= 32, "STAGES: 1 to 32");
static_assert(TILE_FLOATS >= 4 && TILE_FLOATS % 4 == 0, "TILE_FLOATS: a multiple of 4 floats");
static_assert(BLOCK_THREADS >= 64 && BLOCK_THREADS % 32 == 0, "BLOCK_THREADS: whole warps, >= 2");

// v4's view of the vector: rows of TMA_BOX_W floats, a tile = TMA_BOX_H rows (a box may be at
// most 256 elements along each dimension, and its row at least 16 bytes).
constexpr u32 TMA_BOX_W = TILE_FLOATS < 256 ? TILE_FLOATS : 256;
constexpr u32 TMA_BOX_H = TILE_FLOATS / TMA_BOX_W;

// Copies the TILE_VEC float4 of one tile from global `src` into shared `dst`, or computes and
// stores one tile from shared `src` to global `dst`: thread t handles float4 t, t + 256, ...
// (consecutive threads, consecutive 16 bytes: each warp moves 512 contiguous bytes).
__device__ __forceinline__ void load_tile_sync(float4* dst, const float4* __restrict__ src) {
    for (u32 j = threadIdx.x; j < TILE_VEC; j += blockDim.x) dst[j] = src[j];
}

__device__ __forceinline__ void store_tile(float4* __restrict__ dst, const float4* src, float a,
                                           float b, u32 first, u32 stride, u32 count = TILE_VEC) {
    for (u32 j = first; j < count; j += stride) dst[j] = pipeline::axpb4(src[j], a, b);
}

// ------------------------------------------------------------------------------------------------
// v1: synchronous tiles. Shared memory: one tile.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    stream_v1_sync(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                   unsigned long long n) {
    if (!pipeline::aligned16(in) || !pipeline::aligned16(out)) {
        pipeline::axpb_grid_stride(in, out, a, b, n);
        return;
    }
    pipeline::require_dynamic_smem(TILE_BYTES);
    float4* tile = pipeline::dynamic_smem();
    const float4* in4 = reinterpret_cast<const float4*>(in);
    float4* out4 = reinterpret_cast<float4*>(out);
    const u64 n_tiles = n / TILE_FLOATS;
    const u64 count = pipeline::tiles_of_block(n_tiles);
    for (u64 k = 0; k < count; ++k) {
        const u64 t = pipeline::tile_of_block(k);
        load_tile_sync(tile, in4 + t * TILE_VEC);  // every load of the tile is issued here...
        __syncthreads();                           // ...and the block waits for all of them
        store_tile(out4 + t * TILE_VEC, tile, a, b, threadIdx.x, blockDim.x);
        __syncthreads();  // nobody overwrites the tile while a slower warp still reads it
    }
    if (pipeline::is_tail_owner(n_tiles))
        pipeline::axpb_block_range(in, out, a, b, n_tiles * TILE_FLOATS, n);
}

// ------------------------------------------------------------------------------------------------
// v2: cp.async ring (sm_80+). Shared memory: STAGES tiles.
//
// Every thread copies its own float4 of a tile with __pipeline_memcpy_async (cp.async.cg, 16
// bytes, bypassing L1 and registers) and commits one group per tile (an empty group when there
// is nothing left to load, so that "group k" always means "tile k"). Iteration k issues tile
// k + STAGES - 1, then __pipeline_wait_prior(STAGES - 1): all but the STAGES - 1 most recent
// groups are complete, i.e. tile k has landed. Each thread reads back only the float4 it copied
// itself, so its own wait is enough; the __syncthreads() at the end of the iteration keeps any
// thread from refilling stage k % STAGES (next iteration) while another still reads it.
// STAGES = 1 degenerates into v1 (issue, wait for it at once, compute).
__device__ __forceinline__ void issue_tile_cp_async(float4* dst, const float4* __restrict__ src) {
    for (u32 j = threadIdx.x; j < TILE_VEC; j += blockDim.x)
        __pipeline_memcpy_async(dst + j, src + j, sizeof(float4));
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    stream_v2_cp_async(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                       unsigned long long n) {
    if (!pipeline::aligned16(in) || !pipeline::aligned16(out)) {
        pipeline::axpb_grid_stride(in, out, a, b, n);
        return;
    }
    pipeline::require_dynamic_smem(STAGES * TILE_BYTES);
    float4* ring = pipeline::dynamic_smem();
    const float4* in4 = reinterpret_cast<const float4*>(in);
    float4* out4 = reinterpret_cast<float4*>(out);
    const u64 n_tiles = n / TILE_FLOATS;
    const u64 count = pipeline::tiles_of_block(n_tiles);

    // Prologue: tiles 0 .. STAGES-2 into stages 0 .. STAGES-2, one group each.
    for (u32 s = 0; s + 1 < STAGES; ++s) {
        if (s < count)
            issue_tile_cp_async(ring + s * TILE_VEC, in4 + pipeline::tile_of_block(s) * TILE_VEC);
        __pipeline_commit();
    }
    for (u64 k = 0; k < count; ++k) {
        const u64 ahead = k + STAGES - 1;  // refills the stage consumed in iteration k - 1
        if (ahead < count)
            issue_tile_cp_async(ring + (ahead % STAGES) * TILE_VEC,
                                in4 + pipeline::tile_of_block(ahead) * TILE_VEC);
        __pipeline_commit();
        __pipeline_wait_prior(STAGES - 1);  // group k (tile k) is complete
        store_tile(out4 + pipeline::tile_of_block(k) * TILE_VEC, ring + (k % STAGES) * TILE_VEC,
                   a, b, threadIdx.x, blockDim.x);
        __syncthreads();
    }
    if (pipeline::is_tail_owner(n_tiles))
        pipeline::axpb_block_range(in, out, a, b, n_tiles * TILE_FLOATS, n);
}

// ------------------------------------------------------------------------------------------------
// v3 and v4 share their structure: warp 0 is the producer (its lane 0 issues every copy), warps
// 1 .. W-1 are consumers. Shared memory: the ring (128-byte aligned), then full[STAGES] and
// empty[STAGES] mbarriers.
//
//   full[s]   count 1: the producer's arrive.expect_tx(TILE_BYTES), then the copy's bytes.
//             Round r of stage s (tile k = r * STAGES + s) completes phase r: consumers wait
//             for parity r & 1.
//   empty[s]  count = consumer threads: each arrives once it has read the stage. Before
//             refilling stage s for round r >= 1, the producer waits for the completion of
//             round r - 1 of empty[s]: parity (r - 1) & 1.
//
// The producer runs up to STAGES tiles ahead of the slowest consumer: STAGES x TILE_BYTES in
// flight per SM, issued by one thread.
struct Ring {
    float4* tiles;
    u64* full;
    u64* empty;
};

__device__ __forceinline__ Ring carve_ring() {
    float4* smem = pipeline::dynamic_smem();  // at least 16-byte aligned: pad % 16 == 0
    Ring r;
    r.tiles = smem + pipeline::align_pad(smem, 128) / sizeof(float4);
    r.full = reinterpret_cast<u64*>(r.tiles + STAGES * TILE_VEC);
    r.empty = r.full + STAGES;
    return r;
}

constexpr u32 RING_SMEM_BYTES = 128 + STAGES * TILE_BYTES + 2 * STAGES * 8;
static_assert(RING_SMEM_BYTES <= STAGES * TILE_BYTES + pipeline::SMEM_SLACK, "fits the slack");

#ifdef PIPELINE_SM90

// Sets up the barriers (thread 0), then makes them visible to every thread and the copy engine.
__device__ __forceinline__ void init_ring(const Ring& r, u32 consumers) {
    if (threadIdx.x == 0) {
        for (u32 s = 0; s < STAGES; ++s) {
            pipeline::mbar_init(&r.full[s], 1);
            pipeline::mbar_init(&r.empty[s], consumers);
        }
        pipeline::mbar_fence_init();
    }
    __syncthreads();
}

// Consumer side, shared by v3 and v4: for each tile, wait until full, compute and store the
// first `valid(k)` float4 of it, then release the stage.
template <class Valid>
__device__ __forceinline__ void consume(const Ring& r, float4* __restrict__ out4, float a,
                                        float b, u64 count, Valid valid) {
    const u32 ctid = threadIdx.x - 32, consumers = blockDim.x - 32;
    for (u64 k = 0; k < count; ++k) {
        const u32 s = static_cast<u32>(k % STAGES);
        const u32 round = static_cast<u32>(k / STAGES);
        pipeline::mbar_wait(&r.full[s], round & 1);
        store_tile(out4 + pipeline::tile_of_block(k) * TILE_VEC, r.tiles + s * TILE_VEC, a, b,
                   ctid, consumers, valid(k));
        pipeline::mbar_arrive(&r.empty[s]);
    }
}

#endif

// ------------------------------------------------------------------------------------------------
// v3: bulk copies (cp.async.bulk, no tensor map) into the mbarrier ring. sm_90+.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    stream_v3_bulk(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                   unsigned long long n) {
#ifdef PIPELINE_SM90
    if (!pipeline::aligned16(in) || !pipeline::aligned16(out)) {
        pipeline::axpb_grid_stride(in, out, a, b, n);
        return;
    }
    if (blockDim.x < 64 || blockDim.x % 32 != 0) __trap();  // a producer warp + consumer warps
    pipeline::require_dynamic_smem(RING_SMEM_BYTES);
    const Ring r = carve_ring();
    const u64 n_tiles = n / TILE_FLOATS;
    const u64 count = pipeline::tiles_of_block(n_tiles);
    init_ring(r, blockDim.x - 32);

    if (threadIdx.x < 32) {
        if (threadIdx.x == 0) {  // the producer
            for (u64 k = 0; k < count; ++k) {
                const u32 s = static_cast<u32>(k % STAGES);
                const u32 round = static_cast<u32>(k / STAGES);
                if (round > 0) pipeline::mbar_wait(&r.empty[s], (round - 1) & 1);
                pipeline::mbar_arrive_expect_tx(&r.full[s], TILE_BYTES);
                pipeline::bulk_copy_g2s(r.tiles + s * TILE_VEC,
                                        in + pipeline::tile_of_block(k) * TILE_FLOATS, TILE_BYTES,
                                        &r.full[s]);
            }
        }
    } else {
        consume(r, reinterpret_cast<float4*>(out), a, b, count, [](u64) { return TILE_VEC; });
    }
    if (pipeline::is_tail_owner(n_tiles))
        pipeline::axpb_block_range(in, out, a, b, n_tiles * TILE_FLOATS, n);
#else
    __trap();  // bulk copies and mbarrier transaction counts need sm_90; launch.py refuses
#endif
}

// ------------------------------------------------------------------------------------------------
// v4: 2-D TMA (cp.async.bulk.tensor.2d) through a tensor map. sm_90+.
//
// The host (launch.py, encode_tensor_map_2d) describes `in` as a row-major 2-D tensor of
// rows = n / TMA_BOX_W full rows of TMA_BOX_W floats (row pitch TMA_BOX_W * 4 bytes), box
// TMA_BOX_W x TMA_BOX_H = one tile. Tile t is the box whose corner is (column 0, row
// t * TMA_BOX_H). There are ceil(rows / TMA_BOX_H) tiles; the last may reach past `rows`: TMA
// zero-fills those rows in shared memory (still counting the whole box's bytes), and the
// consumers store only the rows that exist. The last n % TMA_BOX_W floats are not in the tensor
// at all (its rows are whole): the plain tail path. If there is no full row (n < TMA_BOX_W),
// there are no tiles, and the tensor map is never read (the host passes zeros).
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    stream_v4_tma(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                  unsigned long long n, const __grid_constant__ pipeline::TensorMap map) {
    static_assert(TILE_BYTES % 128 == 0, "v4: TMA boxes land 128-byte aligned in the ring");
    static_assert(TMA_BOX_H >= 1 && TMA_BOX_H <= 256 && TMA_BOX_W * TMA_BOX_H == TILE_FLOATS,
                  "v4: a tile must be one box of at most 256 x 256 floats");
#ifdef PIPELINE_SM90
    if (!pipeline::aligned16(in) || !pipeline::aligned16(out)) {
        pipeline::axpb_grid_stride(in, out, a, b, n);
        return;
    }
    if (blockDim.x < 64 || blockDim.x % 32 != 0) __trap();
    pipeline::require_dynamic_smem(RING_SMEM_BYTES);
    const Ring r = carve_ring();
    const u64 rows = n / TMA_BOX_W;
    const u64 n_tiles = (rows + TMA_BOX_H - 1) / TMA_BOX_H;
    const u64 count = pipeline::tiles_of_block(n_tiles);
    const u64 tensor_floats = rows * TMA_BOX_W;  // what the tensor map covers
    init_ring(r, blockDim.x - 32);

    if (threadIdx.x < 32) {
        if (threadIdx.x == 0) {
            for (u64 k = 0; k < count; ++k) {
                const u32 s = static_cast<u32>(k % STAGES);
                const u32 round = static_cast<u32>(k / STAGES);
                if (round > 0) pipeline::mbar_wait(&r.empty[s], (round - 1) & 1);
                pipeline::mbar_arrive_expect_tx(&r.full[s], TILE_BYTES);
                const int row = static_cast<int>(pipeline::tile_of_block(k) * TMA_BOX_H);
                pipeline::tma_load_2d(r.tiles + s * TILE_VEC, &map, 0, row, &r.full[s]);
            }
        }
    } else {
        // float4 of tile k that lie inside the tensor: all of them but in the last tile.
        auto valid = [tensor_floats](u64 k) -> u32 {
            const u64 first = pipeline::tile_of_block(k) * TILE_FLOATS;
            const u64 left = tensor_floats - first;  // > 0: tile k starts inside the tensor
            return left >= TILE_FLOATS ? TILE_VEC : static_cast<u32>(left / 4);
        };
        consume(r, reinterpret_cast<float4*>(out), a, b, count, valid);
    }
    if (pipeline::is_tail_owner(n_tiles))
        pipeline::axpb_block_range(in, out, a, b, tensor_floats, n);
#else
    (void)map;
    __trap();  // TMA needs sm_90; launch.py refuses
#endif
}
