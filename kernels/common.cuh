// Shared helpers for the workbench's CUDA C kernels. Compiled by NVRTC (kernels/build.py), so
// device code only: host-side error checking lives in Python, where CuPy raises on any failed
// CUDA call.
#pragma once

// Number of blocks of `b` threads that cover `n` elements.
__host__ __device__ constexpr unsigned int ceil_div(unsigned long long n, unsigned int b) {
    return static_cast<unsigned int>((n + b - 1) / b);
}

// The index of this thread in a 1-D grid, and the stride of a grid-stride loop.
__device__ __forceinline__ unsigned long long global_index_1d() {
    return static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ unsigned long long grid_stride_1d() {
    return static_cast<unsigned long long>(gridDim.x) * blockDim.x;
}
