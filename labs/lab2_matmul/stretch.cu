// Lab 2 stretch (ungraded): register blocking in CUDA C. Fill in sgemm_stretch, then
//
//     python -m reference.lab2_matmul.bench --versions sgemm_v3_smem sgemm_stretch
//
// validates it on odd shapes against the float64 product and times it against cuBLAS and the
// shared-memory version in the same run (on a GPU). As given, it writes nothing, so it fails
// validation ("FAILED"), never silently passes.
//
// C = A @ B, row-major fp32: A (M, K), B (K, N), C (M, N), any M, N, K >= 1.
// Launch (fixed by the harness, reference/lab2_matmul/cuda_c.py): 256 threads per block, one
// block per 64 x 64 tile of C, grid (ceil(N / 64), ceil(M / 64)). So each thread owns a 4 x 4
// piece of its block's tile: 16 accumulators in registers.
//
// Napkin math: with 64 x 64 tiles and BK = 8, a block loads (64 + 64) * 8 floats per step and
// does 64 * 64 * 8 FMAs: 16 FLOP per byte loaded from global memory, twice the 32 x 32
// shared-memory version's 8. In the inner loop each thread reads 4 floats of A and 4 of B from
// shared memory into registers and does 16 FMAs with them: 2 FMAs per shared-memory load
// instead of 1. sgemm_v4 and sgemm_v5 in reference/lab2_matmul/matmul.cu show the whole idea.
#include "common.cuh"

constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;  // 256 threads = (BM/TM) * (BN/TN)

extern "C" __global__ void __launch_bounds__(256)
    sgemm_stretch(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                  int M, int N, int K) {
    __shared__ float As[BK][BM];  // A's tile, transposed: As[k][row], so a row of it is contiguous
    __shared__ float Bs[BK][BN];
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);  // 16 x 16 threads
    float acc[TM][TN] = {};
    // FILL ME IN:
    // for (int k0 = 0; k0 < K; k0 += BK) {
    //   1. the 256 threads load A[row0 .. +64][k0 .. +8] into As (transposed) and
    //      B[k0 .. +8][col0 .. +64] into Bs: 512 floats each, 2 per thread, 0 outside the matrix;
    //   2. __syncthreads();
    //   3. for each k < BK: read As[k][ty * TM + i] (i < TM) and Bs[k][tx * TN + j] (j < TN)
    //      into registers, then acc[i][j] += a[i] * b[j];
    //   4. __syncthreads();
    // }
    // Then write acc[i][j] to C[row0 + ty * TM + i][col0 + tx * TN + j] where inside C.
    (void)A, (void)B, (void)C, (void)M, (void)N, (void)K, (void)row0, (void)col0, (void)tx,
        (void)ty, (void)acc, (void)As, (void)Bs;
}
