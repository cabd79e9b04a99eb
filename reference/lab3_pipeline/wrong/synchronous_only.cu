// Correct, but synchronous: each tile is loaded into shared memory with plain loads, then the
// block waits for it (one tile in flight per SM), so its PTX has no cp.async or bulk copy.
// expect: partial
// zero-items: technique
// task: stream
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
            smem[j] = in4[t * TILE_VEC + j];  // plain loads: the block stalls on each tile
        __syncthreads();
        for (unsigned int j = threadIdx.x; j < TILE_VEC; j += blockDim.x) {
            const float4 v = smem[j];
            out4[t * TILE_VEC + j] =
                make_float4(fmaf(a, v.x, b), fmaf(a, v.y, b), fmaf(a, v.z, b), fmaf(a, v.w, b));
        }
        __syncthreads();
    }
    if (blockIdx.x == n_tiles % gridDim.x)
        for (unsigned long long i = n_tiles * TILE_FLOATS + threadIdx.x; i < n; i += blockDim.x)
            out[i] = fmaf(a, in[i], b);
}
