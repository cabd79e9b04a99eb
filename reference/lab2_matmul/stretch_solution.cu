// Reference for lab 2's stretch (labs/lab2_matmul/stretch.cu): 64 x 64 tiles of C per block of
// 256 threads, 4 x 4 results per thread in registers, BK = 8. Check it with
//     python -m reference.lab2_matmul.bench --versions sgemm_stretch \
//         --stretch-source reference/lab2_matmul/stretch_solution.cu
#include "common.cuh"

constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;

extern "C" __global__ void __launch_bounds__(256)
    sgemm_stretch(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                  int M, int N, int K) {
    __shared__ float As[BK][BM];
    __shared__ float Bs[BK][BN];
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
    float acc[TM][TN] = {};
    for (int k0 = 0; k0 < K; k0 += BK) {
        // 512 floats of each tile, 2 per thread. A: element e is row e / BK, column e % BK, so
        // 8 consecutive threads read 8 consecutive floats of a row of A. B: row e / BN, column
        // e % BN, so a warp reads 32 consecutive floats of a row of B.
        for (int p = 0; p < 2; ++p) {
            const int e = threadIdx.x + p * 256;
            const int ar = e / BK, ak = e % BK;
            const int gr = row0 + ar, gk = k0 + ak;
            As[ak][ar] = (gr < M && gk < K) ? A[static_cast<size_t>(gr) * K + gk] : 0.f;
            const int bk = e / BN, bc = e % BN;
            const int gk2 = k0 + bk, gc = col0 + bc;
            Bs[bk][bc] = (gk2 < K && gc < N) ? B[static_cast<size_t>(gk2) * N + gc] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            float a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[k][ty * TM + i];
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = Bs[k][tx * TN + j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int r = row0 + ty * TM + i;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int c = col0 + tx * TN + j;
            if (r < M && c < N) C[static_cast<size_t>(r) * N + c] = acc[i][j];
        }
    }
}
