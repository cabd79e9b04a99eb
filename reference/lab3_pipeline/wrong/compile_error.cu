// Does not compile: a misspelt macro (TILE_FLAOTS) on line 32; the grader must report that
// line of this file, not a line of its own.
// expect: zero kernel_compile
// task: stream
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

extern __shared__ __align__(16) float4 smem[];

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    pipeline_axpb(const float* __restrict__ in, float* __restrict__ out, float a, float b,
                  unsigned long long n) {
    const float4* in4 = reinterpret_cast<const float4*>(in);
    float4* out4 = reinterpret_cast<float4*>(out);
    const unsigned long long n_tiles = n / TILE_FLOATS;
    for (unsigned long long t = blockIdx.x; t < n_tiles; t += gridDim.x) {
        for (unsigned int j = threadIdx.x; j < TILE_VEC; j += blockDim.x)
            __pipeline_memcpy_async(smem + j, in4 + t * TILE_VEC + j, sizeof(float4));
        __pipeline_commit();
        __pipeline_wait_prior(0);
        const unsigned long long base = t * TILE_FLAOTS;
        for (unsigned int j = threadIdx.x; j < TILE_VEC; j += blockDim.x) {
            const float4 v = smem[j];
            out4[base / 4 + j] =
                make_float4(fmaf(a, v.x, b), fmaf(a, v.y, b), fmaf(a, v.z, b), fmaf(a, v.w, b));
        }
        __syncthreads();
    }
    if (blockIdx.x == n_tiles % gridDim.x)
        for (unsigned long long i = n_tiles * TILE_FLOATS + threadIdx.x; i < n; i += blockDim.x)
            out[i] = fmaf(a, in[i], b);
}
