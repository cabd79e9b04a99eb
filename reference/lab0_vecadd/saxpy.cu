// SAXPY in CUDA C, numbered from naive to fast in the llm.c style; one harness times them all
// (reference/lab0_vecadd/baselines.py). out[i] = a * x[i] + y[i], float32.
//
// Napkin math: 12 bytes and 2 FLOPs per element. At n = 2^24 that is 201 MB per call; at
// ~3 TB/s of device bandwidth (an H100's measured copy rate) the floor is ~67 us. All versions
// are memory bound; what differs is how many bytes each memory instruction moves.
#include "common.cuh"

// v1: one thread per element, bounds-checked. Every warp moves 3 x 128 contiguous bytes.
extern "C" __global__ void saxpy_v1(float a, const float* __restrict__ x,
                                    const float* __restrict__ y, float* __restrict__ out,
                                    unsigned long long n) {
    unsigned long long i = global_index_1d();
    if (i < n) out[i] = a * x[i] + y[i];
}

// v2: grid-stride loop, so a grid sized to the machine (a few blocks per SM) covers any n.
extern "C" __global__ void saxpy_v2(float a, const float* __restrict__ x,
                                    const float* __restrict__ y, float* __restrict__ out,
                                    unsigned long long n) {
    for (unsigned long long i = global_index_1d(); i < n; i += grid_stride_1d())
        out[i] = a * x[i] + y[i];
}

// v3: float4 loads and stores (16 bytes per thread per instruction), a scalar tail for the
// last n % 4 elements. Needs 16-byte-aligned x, y and out, which fresh allocations are.
extern "C" __global__ void saxpy_v3(float a, const float* __restrict__ x,
                                    const float* __restrict__ y, float* __restrict__ out,
                                    unsigned long long n) {
    unsigned long long n4 = n / 4;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* y4 = reinterpret_cast<const float4*>(y);
    float4* out4 = reinterpret_cast<float4*>(out);
    for (unsigned long long i = global_index_1d(); i < n4; i += grid_stride_1d()) {
        float4 xv = x4[i], yv = y4[i];
        out4[i] = make_float4(a * xv.x + yv.x, a * xv.y + yv.y, a * xv.z + yv.z, a * xv.w + yv.w);
    }
    unsigned long long tail = n4 * 4 + global_index_1d();
    if (tail < n) out[tail] = a * x[tail] + y[tail];
}
