// Lab 3 part B, a worked solution: labs/lab3_pipeline/student.cu filled in with a cp.async ring
// (the same pipeline as stream_v2_cp_async in pipeline.cu, without the shared helpers).
// Check it with
//     python -m reference.lab3_pipeline.bench --source reference/lab3_pipeline/solution.cu
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

constexpr unsigned int TILE_VEC = TILE_FLOATS / 4;
static_assert(TILE_FLOATS % 4 == 0, "tiles are whole float4");
static_assert(STAGES >= 1, "at least one stage");

extern __shared__ __align__(16) float4 smem[];

// This thread's share of one tile: float4 number threadIdx.x, + blockDim.x, ... (a warp moves
// 512 contiguous bytes per step).
__device__ __forceinline__ void issue_tile(float4* stage, const float4* __restrict__ src) {
    for (unsigned int j = threadIdx.x; j < TILE_VEC; j += blockDim.x)
        __pipeline_memcpy_async(stage + j, src + j, sizeof(float4));
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    pipeline_axpb(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                  unsigned long long n) {
    const float4* in4 = reinterpret_cast<const float4*>(in);
    float4* out4 = reinterpret_cast<float4*>(out);
    float4* ring = smem;

    const unsigned long long n_tiles = n / TILE_FLOATS;
    const unsigned long long count =
        n_tiles > blockIdx.x ? (n_tiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;
    auto tile = [](unsigned long long k) { return blockIdx.x + k * gridDim.x; };

    // Prologue: STAGES - 1 tiles in flight before the first one is needed.
    for (unsigned int s = 0; s + 1 < STAGES; ++s) {
        if (s < count) issue_tile(ring + s * TILE_VEC, in4 + tile(s) * TILE_VEC);
        __pipeline_commit();
    }
    for (unsigned long long k = 0; k < count; ++k) {
        const unsigned long long ahead = k + STAGES - 1;
        if (ahead < count)
            issue_tile(ring + (ahead % STAGES) * TILE_VEC, in4 + tile(ahead) * TILE_VEC);
        __pipeline_commit();                // group k + STAGES - 1 (possibly empty)
        __pipeline_wait_prior(STAGES - 1);  // so group k, tile k, has landed
        const float4* stage = ring + (k % STAGES) * TILE_VEC;
        float4* dst = out4 + tile(k) * TILE_VEC;
        for (unsigned int j = threadIdx.x; j < TILE_VEC; j += blockDim.x) {
            const float4 v = stage[j];  // the float4 this thread copied itself
            dst[j] = make_float4(fmaf(a, v.x, b), fmaf(a, v.y, b), fmaf(a, v.z, b),
                                 fmaf(a, v.w, b));
        }
        __syncthreads();  // stage k % STAGES is refilled by the next iteration
    }

    // The tail: fewer than TILE_FLOATS floats, any count, plain 4-byte accesses.
    if (blockIdx.x == n_tiles % gridDim.x)
        for (unsigned long long i = n_tiles * TILE_FLOATS + threadIdx.x; i < n; i += blockDim.x)
            out[i] = fmaf(a, in[i], b);
}
