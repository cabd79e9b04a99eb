// Lab 3 part B: keep bytes in flight. Fill in pipeline_axpb below (the parts marked FILL ME IN).
//
//     out[i] = a * in[i] + b      for 0 <= i < n   (float32, n up to 2^28, any n >= 0)
//
// The grader (labs/lab3_pipeline/launch.py) compiles this file with -DSTAGES=S
// -DTILE_FLOATS=T -DBLOCK_THREADS=256 for several S, and launches it with
//   * exactly one block per SM (gridDim.x = number of SMs), blockDim.x = BLOCK_THREADS;
//   * dynamic shared memory of at least STAGES * TILE_FLOATS * 4 + 1024 bytes, padded so that
//     no second block fits on an SM: you cannot hide memory latency with more warps, only with
//     more bytes in flight;
//   * `in` and `out` 16-byte aligned, not overlapping.
// It checks the output for every n it tries (odd ones too: 1, 3, 1023, 4097, ...), that the
// compiled code really uses asynchronous copies (cp.async, or Hopper's cp.async.bulk), and
// times it against a synchronous version and a device-to-device copy.
//
// As handed out, the kernel writes nothing, so it fails every check.
//
// Plan (one way; Hopper's bulk copies with mbarriers are another, see the handout):
//   * The n floats are n / TILE_FLOATS full tiles and a tail of n % TILE_FLOATS floats. Block b
//     owns tiles b, b + gridDim.x, b + 2 * gridDim.x, ... (`count` of them, computed below).
//   * The ring: STAGES tiles of shared memory (smem below). Tile k of this block goes to stage
//     k % STAGES.
//   * Each thread copies 16 bytes at a time with
//         __pipeline_memcpy_async(&ring[...], &in4[...], sizeof(float4));
//     and closes the group of copies of one tile with __pipeline_commit(). Commit a group in
//     every iteration, even an empty one, so that group k always means tile k.
//     __pipeline_wait_prior(N) waits until at most the N most recent groups are unfinished.
//   * Start by issuing tiles 0 .. STAGES-2. Then, for k = 0, 1, ...: issue tile k + STAGES - 1
//     (if it exists), commit, wait until tile k has landed, compute and store tile k, and
//     __syncthreads() before the next iteration refills a stage others may still be reading.
//   * Full tiles are 16-byte aligned (TILE_FLOATS is a multiple of 4), so float4 loads and
//     16-byte copies are safe there. The tail is not: handle the last n % TILE_FLOATS floats
//     with plain float loads and stores (one block does it), and never touch out[n] or beyond.
#include <cuda_pipeline.h>

#ifndef STAGES
#define STAGES 4
#endif
#ifndef TILE_FLOATS
#define TILE_FLOATS 1024
#endif
#ifndef BLOCK_THREADS
#define BLOCK_THREADS 256
#endif

[[maybe_unused]] constexpr unsigned int TILE_VEC = TILE_FLOATS / 4;  // float4 per tile
static_assert(TILE_FLOATS % 4 == 0, "tiles are whole float4");

// The ring of STAGES tiles: dynamic shared memory, sized by the grader.
extern __shared__ __align__(16) float4 smem[];

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    pipeline_axpb(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                  unsigned long long n) {
    // ([[maybe_unused]] only silences the compiler until you use them.)
    [[maybe_unused]] const float4* in4 = reinterpret_cast<const float4*>(in);
    [[maybe_unused]] float4* out4 = reinterpret_cast<float4*>(out);
    [[maybe_unused]] float4* ring = smem;  // stage s: ring[s * TILE_VEC .. (s + 1) * TILE_VEC - 1]

    const unsigned long long n_tiles = n / TILE_FLOATS;
    // Tiles of this block: tile(k) = blockIdx.x + k * gridDim.x for k = 0 .. count - 1.
    const unsigned long long count =
        n_tiles > blockIdx.x ? (n_tiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;

    // FILL ME IN: the prologue (tiles 0 .. STAGES-2, one committed group each).

    for (unsigned long long k = 0; k < count; ++k) {
        // FILL ME IN: issue tile k + STAGES - 1 into its stage (if it exists); commit.
        // FILL ME IN: wait until tile k has landed.
        // FILL ME IN: out4[tile(k) * TILE_VEC + j] = a * ring[stage(k) + j] + b, component by
        //             component, for this thread's j; then __syncthreads().
    }

    // FILL ME IN: the tail, n_tiles * TILE_FLOATS <= i < n, by the block with
    // blockIdx.x == n_tiles % gridDim.x, with plain float loads and stores.

    (void)a, (void)b;
}
