// SGEMM in CUDA C, numbered from naive to fast in the llm.c dev/cuda style; one harness
// (reference/lab2_matmul/bench.py, launch configurations in cuda_c.py) checks them all against
// cuBLAS and times them. Row-major float32, no alpha/beta:
//
//     C (M x N) = A (M x K) @ B (K x N)
//
// Every kernel takes (A, B, C, M, N, K) and is correct for any M, N, K >= 1: loads outside the
// matrices read 0 into shared memory (so a partial tile computes as if padded with zeros, and
// 0 * 0 adds nothing to the real entries), and stores outside C are skipped. float4 (16-byte)
// accesses are used only where they are known to be aligned and inside the matrix (see
// load4_guarded / store4_guarded); everywhere else the same element goes through scalar loads.
//
// Napkin math at M = N = K = 4096:
//   FLOPs        2*M*N*K = 137.4 GFLOP (one FMA = 2 FLOPs).
//   Bytes        A, B and C once each: 3 * 4096^2 * 4 B = 201 MB, so the problem's intensity is
//                ~680 FLOP/B, far above any GPU's ridge point (H100 SXM: ~67 TFLOP/s of FP32 FMA
//                over ~3.3 TB/s of HBM, ~20 FLOP/B). SGEMM is compute bound *if* the kernel
//                reuses what it loads; each version below is about reusing it more.
//   Floor        132 SMs * 128 FP32 lanes * 2 FLOP * ~1.98 GHz = ~67 TFLOP/s on an H100 SXM (the
//                H200 has the same SMs) -> ~2.1 ms. cuBLAS's SGEMM (no tensor cores, no TF32)
//                is the practical ceiling; bench.py measures it in the same run.
//   Tile reuse   A block that computes a BM x BN tile of C streams a BM x BK slice of A and a
//                BK x BN slice of B per step: (BM + BN) * BK * 4 bytes for 2 * BM * BN * BK
//                FLOPs, so its intensity against L2/DRAM is BM * BN / (2 * (BM + BN)) FLOP/B:
//                   32 x 32 tile:   8 FLOP/B   (A re-read N/32 times, B M/32 times: 17 GB total)
//                   64 x 64 tile:  16 FLOP/B   (8.6 GB)
//                  128 x 128 tile: 32 FLOP/B   (4.3 GB: ~2 TB/s of L2 traffic at 67 TFLOP/s)
//                Inside the SM the same argument moves one level down: a thread computing a
//                TM x TN patch of C reads TM + TN floats from shared memory per TM * TN FMAs.
//
//   v1 naive       one thread per C element, threadIdx.x along M. A warp's 32 threads are 32
//                  rows: every A load touches 32 rows (32 sectors per request), the B load is
//                  the same address for all 32 (broadcast), the C store is 32 rows apart.
//                  2 loads per FMA, mostly uncoalesced (siboehm's A6000: 1% of cuBLAS).
//   v2 coalesced   threadIdx.x along N: a warp reads 32 consecutive floats of a B row (one
//                  128-byte line) and broadcasts one A value; C is written 128 bytes at a time.
//                  Still 2 global loads per FMA, now coalesced and cached (A6000: 9%).
//   v3 smem        32 x 32 tiles of A and B staged in shared memory: each global load is used 32
//                  times. Now shared memory is the limit: 2 LDS per FMA (As broadcast, Bs one
//                  bank per lane) caps it at ~1/8 of the FMA rate.
//   v4 1-D regs    64 x 64 block tile, each thread a column of TM = 8 results: one Bs value in
//                  a register serves 8 FMAs; per k, 9 LDS for 8 FMAs instead of 16.
//   v5 2-D regs    128 x 128 block tile, 8 x 8 results per thread (outer product of 8 A values
//                  and 8 B values per k: 16 floats for 64 FMAs, read as 4 LDS.128). A is stored
//                  transposed in shared memory so both operands are float4 reads; global loads
//                  are float4 where the alignment allows.
//   v6 warptile    siboehm's kernel 10: 128 threads, 4 warps each owning a 64 x 64 warp tile, each
//                  thread 8 x 16 results in 4 sub-tiles of 8 x 4. Per k, a thread reads 8 A and 16
//                  B floats (6 LDS.128) for 128 FMAs, and a warp's reads hit few distinct addresses
//                  (8 float4 for A: 2 wavefronts, 4 for B: 1; the rest are broadcasts); 128
//                  accumulators per thread, so 2 blocks of 4 warps per SM.
#include "common.cuh"

// ------------------------------------------------------------------------------------------------
// Helpers

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// P[row * ld + col .. + 3]: four floats of a row-major matrix whose part from P on has `rows`
// rows and `cols` columns, with 0 for what lies outside it. P is the corner of a tile, so the
// offsets (row < tile height) stay small enough for int. `vec` promises that P and ld keep every
// float4 16-byte aligned and that cols % 4 == 0; callers always pass col % 4 == 0, so then the
// four floats are all inside the row.
__device__ __forceinline__ float4 load4_guarded(const float* __restrict__ P, int row, int col,
                                                int rows, int cols, int ld, bool vec) {
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (row < rows && col < cols) {
        const float* p = P + row * ld + col;
        if (vec) {
            v = *reinterpret_cast<const float4*>(p);
        } else {
            v.x = p[0];
            if (col + 1 < cols) v.y = p[1];
            if (col + 2 < cols) v.z = p[2];
            if (col + 3 < cols) v.w = p[3];
        }
    }
    return v;
}

// Stores v to P[row * ld + col .. + 3], skipping what lies outside; as for load4_guarded.
__device__ __forceinline__ void store4_guarded(float* __restrict__ P, int row, int col, int rows,
                                               int cols, int ld, bool vec, float4 v) {
    if (row < rows && col < cols) {
        float* p = P + row * ld + col;
        if (vec) {
            *reinterpret_cast<float4*>(p) = v;
        } else {
            p[0] = v.x;
            if (col + 1 < cols) p[1] = v.y;
            if (col + 2 < cols) p[2] = v.z;
            if (col + 3 < cols) p[3] = v.w;
        }
    }
}

// Stages the BM x BK tile of A whose corner is At = &A[row0][k0] into shared memory
// *transposed*, As[k * AS + m], and the BK x BN tile of B whose corner is Bt = &B[k0][col0] as
// it is, Bs[k * BN + n]; NT threads, one float4 each per pass. m_left = M - row0,
// n_left = N - col0, k_left = K - k0 are what is left of the matrices from the corner on.
// Used by v5 and v6.
//
// Thread -> element map (tid = threadIdx.x):
//   A: BK / 4 float4 per tile row. Thread tid reads tile row a_row + p * A_STRIDE, columns
//      a_col .. a_col + 3, with a_row = tid / (BK / 4), a_col = 4 * (tid % (BK / 4)),
//      A_STRIDE = NT / (BK / 4) rows per pass, p = 0 .. BM / A_STRIDE - 1.
//        v5 (BM 128, BK 8,  NT 256): a_row 0..127, a_col 0 or 4, 1 pass.
//        v6 (BM 128, BK 16, NT 128): a_row 0..31, a_col 0, 4, 8, 12, 4 passes (+0, 32, 64, 96).
//   B: BN / 4 float4 per tile row. b_row = tid / (BN / 4), b_col = 4 * (tid % (BN / 4)),
//      B_STRIDE = NT / (BN / 4) rows per pass, p = 0 .. BK / B_STRIDE - 1.
//        v5 (BN 128, BK 8,  NT 256): b_row 0..7, b_col 0..124, 1 pass.
//        v6 (BN 128, BK 16, NT 128): b_row 0..3, b_col 0..124, 4 passes (+0, 4, 8, 12).
//   Every element of both tiles is written exactly once (the static_asserts below).
// Offsets from the corner are below BM * K and BK * N, ints for any matrix of < 2^31 elements
// per BM (resp. BK) rows; only the corners need 64-bit arithmetic.
// GUARD = false is the interior fast path: the whole tile is inside A and B, and K and N are
// multiples of 4 with 16-byte-aligned A and B, so every float4 is aligned and in bounds.
template <int BM, int BN, int BK, int AS, int NT, bool GUARD>
__device__ __forceinline__ void load_tiles(const float* __restrict__ At,
                                           const float* __restrict__ Bt, float* As, float* Bs,
                                           int m_left, int n_left, int k_left, int K, int N,
                                           bool vecA, bool vecB) {
    constexpr int A_STRIDE = NT / (BK / 4);
    constexpr int B_STRIDE = NT / (BN / 4);
    constexpr int A_PASSES = BM / A_STRIDE;
    constexpr int B_PASSES = BK / B_STRIDE;
    static_assert(BK % 4 == 0 && BN % 4 == 0 && AS % 4 == 0, "float4 granularity");
    static_assert(NT % (BK / 4) == 0 && BM % A_STRIDE == 0, "A tile: whole passes");
    static_assert(NT % (BN / 4) == 0 && BK % B_STRIDE == 0, "B tile: whole passes");
    static_assert(A_PASSES * NT * 4 == BM * BK && B_PASSES * NT * 4 == BK * BN, "cover once");

    const int tid = threadIdx.x;
    const int a_row = tid / (BK / 4), a_col = 4 * (tid % (BK / 4));
    const int b_row = tid / (BN / 4), b_col = 4 * (tid % (BN / 4));

    // All global loads first (they are independent), then the shared-memory stores.
    float4 a[A_PASSES], b[B_PASSES];
#pragma unroll
    for (int p = 0; p < A_PASSES; ++p) {
        const int row = a_row + p * A_STRIDE;
        if (GUARD)
            a[p] = load4_guarded(At, row, a_col, m_left, k_left, K, vecA);
        else
            a[p] = *reinterpret_cast<const float4*>(At + row * K + a_col);
    }
#pragma unroll
    for (int p = 0; p < B_PASSES; ++p) {
        const int row = b_row + p * B_STRIDE;
        if (GUARD)
            b[p] = load4_guarded(Bt, row, b_col, k_left, n_left, N, vecB);
        else
            b[p] = *reinterpret_cast<const float4*>(Bt + row * N + b_col);
    }
#pragma unroll
    for (int p = 0; p < A_PASSES; ++p) {
        const int m = a_row + p * A_STRIDE;  // < BM
        As[(a_col + 0) * AS + m] = a[p].x;   // a_col + 3 < BK
        As[(a_col + 1) * AS + m] = a[p].y;
        As[(a_col + 2) * AS + m] = a[p].z;
        As[(a_col + 3) * AS + m] = a[p].w;
    }
#pragma unroll
    for (int p = 0; p < B_PASSES; ++p)  // row < BK, b_col + 3 < BN, 16-byte aligned
        *reinterpret_cast<float4*>(&Bs[(b_row + p * B_STRIDE) * BN + b_col]) = b[p];
}

// ------------------------------------------------------------------------------------------------
// v1: naive. Launch: block (32, 32), grid (ceil(M / 32), ceil(N / 32)).
// Thread (x, y) of block (bx, by) computes C[bx * 32 + x][by * 32 + y]: threadIdx.x walks M, so
// consecutive threads of a warp are consecutive *rows*.
extern "C" __global__ void sgemm_v1_naive(const float* __restrict__ A,
                                          const float* __restrict__ B, float* __restrict__ C,
                                          int M, int N, int K) {
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    const int col = blockIdx.y * blockDim.y + threadIdx.y;
    if (row < M && col < N) {
        const float* a = A + static_cast<size_t>(row) * K;
        float acc = 0.f;
        for (int k = 0; k < K; ++k) acc += a[k] * B[static_cast<size_t>(k) * N + col];
        C[static_cast<size_t>(row) * N + col] = acc;
    }
}

// ------------------------------------------------------------------------------------------------
// v2: global-memory coalescing. Launch: block (32, 32), grid (ceil(N / 32), ceil(M / 32)).
// Thread (x, y) of block (bx, by) computes C[by * 32 + y][bx * 32 + x]: threadIdx.x walks N, so a
// warp (fixed y, x = 0..31) reads 32 consecutive floats of a B row and writes 32 consecutive
// floats of a C row; its A load is one address for the whole warp (a broadcast).
extern "C" __global__ void sgemm_v2_coalesced(const float* __restrict__ A,
                                              const float* __restrict__ B, float* __restrict__ C,
                                              int M, int N, int K) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row < M && col < N) {
        const float* a = A + static_cast<size_t>(row) * K;
        float acc = 0.f;
        for (int k = 0; k < K; ++k) acc += a[k] * B[static_cast<size_t>(k) * N + col];
        C[static_cast<size_t>(row) * N + col] = acc;
    }
}

// ------------------------------------------------------------------------------------------------
// v3: shared-memory tiles. Launch: block (32, 32), grid (ceil(N / 32), ceil(M / 32)).
// Shared memory: 2 * 32 * 32 * 4 B = 8 KiB. Per step of 32 along K, thread (x, y) stages
// A[row0 + y][k0 + x] into As[y][x] and B[k0 + y][col0 + x] into Bs[y][x] (0 outside the
// matrices), then accumulates As[y][k] * Bs[k][x]: As[y][k] is one address per warp (broadcast),
// Bs[k][x] is 32 consecutive floats (32 banks, no conflict).
extern "C" __global__ void sgemm_v3_smem(const float* __restrict__ A,
                                         const float* __restrict__ B, float* __restrict__ C,
                                         int M, int N, int K) {
    constexpr int T = 32;
    __shared__ float As[T][T];
    __shared__ float Bs[T][T];
    const int x = threadIdx.x, y = threadIdx.y;
    const int row = blockIdx.y * T + y, col = blockIdx.x * T + x;
    float acc = 0.f;
    for (int k0 = 0; k0 < K; k0 += T) {
        As[y][x] = (row < M && k0 + x < K) ? A[static_cast<size_t>(row) * K + k0 + x] : 0.f;
        Bs[y][x] = (k0 + y < K && col < N) ? B[static_cast<size_t>(k0 + y) * N + col] : 0.f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < T; ++k) acc += As[y][k] * Bs[k][x];
        __syncthreads();
    }
    if (row < M && col < N) C[static_cast<size_t>(row) * N + col] = acc;
}

// ------------------------------------------------------------------------------------------------
// v4: 1-D register blocking. BM = 64, BN = 64, BK = 8, TM = 8.
// Launch: block (512), grid (ceil(N / 64), ceil(M / 64)). Shared memory: 2 * 64 * 8 * 4 B = 4 KiB.
// Loads (one element each, 512 threads = 64 * 8 = 8 * 64):
//   As[a_row][a_col] = A[row0 + a_row][k0 + a_col], a_row = tid / 8 (0..63), a_col = tid % 8;
//   Bs[b_row][b_col] = B[k0 + b_row][col0 + b_col], b_row = tid / 64 (0..7), b_col = tid % 64.
// Compute: thread tid owns C rows row0 + t_row * 8 + i (i = 0..7), column col0 + t_col, with
//   t_row = tid / 64 (0..7), t_col = tid % 64: 8 x 8 = 64 rows, 64 columns. A warp (32
//   consecutive tids) shares t_row, so As reads are broadcasts and Bs reads 32 banks.
extern "C" __global__ void __launch_bounds__(512)
    sgemm_v4_regblock_1d(const float* __restrict__ A, const float* __restrict__ B,
                         float* __restrict__ C, int M, int N, int K) {
    constexpr int BM = 64, BN = 64, BK = 8, TM = 8, NT = BM * BN / TM;
    static_assert(NT == BM * BK && NT == BK * BN, "one element of each tile per thread");
    __shared__ float As[BM * BK];  // As[m * BK + k]
    __shared__ float Bs[BK * BN];  // Bs[k * BN + n]
    const int tid = threadIdx.x;
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int a_row = tid / BK, a_col = tid % BK;
    const int b_row = tid / BN, b_col = tid % BN;
    const int t_row = tid / BN, t_col = tid % BN;

    float acc[TM];
#pragma unroll
    for (int i = 0; i < TM; ++i) acc[i] = 0.f;

    for (int k0 = 0; k0 < K; k0 += BK) {
        const int ar = row0 + a_row, ac = k0 + a_col;
        const int br = k0 + b_row, bc = col0 + b_col;
        As[tid] = (ar < M && ac < K) ? A[static_cast<size_t>(ar) * K + ac] : 0.f;
        Bs[tid] = (br < K && bc < N) ? B[static_cast<size_t>(br) * N + bc] : 0.f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            const float b = Bs[k * BN + t_col];
#pragma unroll
            for (int i = 0; i < TM; ++i) acc[i] += As[(t_row * TM + i) * BK + k] * b;
        }
        __syncthreads();
    }
    const int col = col0 + t_col;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int row = row0 + t_row * TM + i;
        if (row < M && col < N) C[static_cast<size_t>(row) * N + col] = acc[i];
    }
}

// ------------------------------------------------------------------------------------------------
// v5: 2-D register blocking. BM = BN = 128, BK = 8, TM = TN = 8, 256 threads.
// Launch: block (256), grid (ceil(N / 128), ceil(M / 128)).
// Shared memory: As 8 x 132 (A transposed, rows padded by 4 floats) + Bs 8 x 128 = 8.1 KiB.
//   The padding makes the transposed stores conflict-free: the 32 lanes of a warp write m =
//   a_row = 16w .. 16w + 15 at k = a_col + j with a_col in {0, 4}; bank = (k * 132 + m) % 32 =
//   (4k + m) % 32, and 4 * (a_col + j) + m covers 32 different banks (16 apart for the two
//   a_col). Row starts stay 16-byte aligned (132 * 4 = 528 B) for the float4 reads.
// Loads: load_tiles<128, 128, 8, 132, 256> (map above): one float4 of A and one of B each.
// Compute: thread tid owns the 8 x 8 patch of C at rows row0 + t_row * 8 + i, columns
//   col0 + t_col * 8 + j, t_row = tid / 16 (0..15), t_col = tid % 16 (0..15): 16 * 8 = 128
//   rows and columns. Per k: a[i] = As[k][t_row * 8 + i] (2 LDS.128), b[j] = Bs[k][t_col * 8 + j]
//   (2 LDS.128), then the 64-FMA outer product.
// Edges: a block whose tile lies inside C, with K and N multiples of 4 and A, B aligned, loads
//   its full K steps without checks; the others, and a last partial K step, take load4_guarded
//   (float4 where aligned and inside, else scalars, 0 outside). C goes out through store4_guarded.
extern "C" __global__ void __launch_bounds__(256)
    sgemm_v5_regblock_2d(const float* __restrict__ A, const float* __restrict__ B,
                         float* __restrict__ C, int M, int N, int K) {
    constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
    constexpr int NT = (BM / TM) * (BN / TN), AS = BM + 4;
    static_assert(NT == 256, "launched with 256 threads");
    __shared__ __align__(16) float As[BK * AS];  // As[k * AS + m] = A[row0 + m][k0 + k]
    __shared__ __align__(16) float Bs[BK * BN];  // Bs[k * BN + n] = B[k0 + k][col0 + n]

    const int tid = threadIdx.x;
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int t_row = tid / (BN / TN), t_col = tid % (BN / TN);
    const bool vecA = (K % 4 == 0) && aligned16(A);
    const bool vecB = (N % 4 == 0) && aligned16(B);
    const bool vecC = (N % 4 == 0) && aligned16(C);
    const bool interior = M - row0 >= BM && N - col0 >= BN && vecA && vecB;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

    const float* At = A + static_cast<size_t>(row0) * K;  // &A[row0][k0]
    const float* Bt = B + col0;                            // &B[k0][col0]
    for (int k0 = 0; k0 < K; k0 += BK, At += BK, Bt += static_cast<size_t>(BK) * N) {
        if (interior && K - k0 >= BK)  // block-uniform branch
            load_tiles<BM, BN, BK, AS, NT, false>(At, Bt, As, Bs, M - row0, N - col0, K - k0, K,
                                                  N, vecA, vecB);
        else
            load_tiles<BM, BN, BK, AS, NT, true>(At, Bt, As, Bs, M - row0, N - col0, K - k0, K,
                                                 N, vecA, vecB);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            float a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; i += 4) {
                const float4 t = *reinterpret_cast<const float4*>(&As[k * AS + t_row * TM + i]);
                a[i] = t.x, a[i + 1] = t.y, a[i + 2] = t.z, a[i + 3] = t.w;
            }
#pragma unroll
            for (int j = 0; j < TN; j += 4) {
                const float4 t = *reinterpret_cast<const float4*>(&Bs[k * BN + t_col * TN + j]);
                b[j] = t.x, b[j + 1] = t.y, b[j + 2] = t.z, b[j + 3] = t.w;
            }
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    float* Ct = C + static_cast<size_t>(row0) * N + col0;
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; j += 4)
            store4_guarded(Ct, t_row * TM + i, t_col * TN + j, M - row0, N - col0, N, vecC,
                           make_float4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]));
}

// ------------------------------------------------------------------------------------------------
// v6: warp tiling (siboehm's kernel 10, with edge handling).
// BM = BN = 128, BK = 16; warp tile WM x WN = 64 x 64; WNITER = 4 sub-tiles along N (so
// WMITER = 64 * 64 / (32 * TM * TN * WNITER) = 1); TM = 8, TN = 4; 128 threads = 4 warps.
// Launch: block (128), grid (ceil(N / 128), ceil(M / 128)).
// Shared memory: As 16 x 132 (transposed, padded by 4) + Bs 16 x 128 = 16.25 KiB.
//   Transposed stores: lanes have m = a_row = 8w' .. 8w' + 7 and a_col = 0, 4, 8, 12; bank =
//   (4k + m) % 32 with k = a_col + j, so a_col = 0 and 8 (and 4 and 12) meet: 2-way conflicts
//   (4-way without the padding), on 16 stores per thread per 2048 FMAs.
// Thread -> C map (lane = tid % 32, warp = tid / 32):
//   warp_row = warp / 2, warp_col = warp % 2    -> warp tile at (warp_row * 64, warp_col * 64)
//   WSUBM = 64 / WMITER = 64, WSUBN = 64 / WNITER = 16
//   t_row = lane / (WSUBN / TN) = lane / 4 (0..7), t_col = lane % 4 (0..3)
//   thread owns C[row0 + warp_row * 64 + wm * 64 + t_row * 8 + i]
//                [col0 + warp_col * 64 + wn * 16 + t_col * 4 + j]
//   for wm = 0, i = 0..7, wn = 0..3, j = 0..3: t_row * 8 + i covers 0..63 once and
//   wn * 16 + t_col * 4 + j covers 0..63 once, so the 32 lanes tile the 64 x 64 warp tile and
//   the 2 x 2 warps the 128 x 128 block tile, each element exactly once.
// Per k (BK = 16 per tile):
//   a[8]  = As[k][warp_row * 64 + t_row * 8 + 0..7]: 2 LDS.128, a warp reads 8 distinct float4
//           32 bytes apart (2 wavefronts);
//   b[16] = Bs[k][warp_col * 64 + wn * 16 + t_col * 4 + 0..3], wn = 0..3: 4 LDS.128, each 4
//           distinct float4 in 64 contiguous bytes (1 wavefront);
//   then 8 x 16 = 128 FMAs into 128 accumulators.
// Edges as v5. C stores: float4 (TN = 4) where aligned and inside, else guarded scalars.
// Registers: 128 accumulators + 24 operands + addresses. NVRTC 12.9's ptxas takes ~210 (sm_90)
//   to ~230 (sm_80) with the k loop fully unrolled and no spills: 2 blocks (8 warps) per SM;
//   one block's global loads hide behind the other's 2048 FFMAs per k step. Forcing 3 blocks
//   (__launch_bounds__(128, 3), 168 registers) spills inside the FMA loop on sm_90. At 4096^3
//   (1024 tiles) on 132 SMs, 2 per SM is also the better wave count: 7.76 tiles per SM run in
//   4 rounds of 2 (97% busy) rather than 3 rounds of 3 (86%).
template <int BM, int BN, int BK, int WM, int WN, int WNITER, int TM, int TN, int NT>
__device__ __forceinline__ void sgemm_warptile(const float* __restrict__ A,
                                               const float* __restrict__ B,
                                               float* __restrict__ C, int M, int N, int K) {
    constexpr int WARPS = NT / 32;
    constexpr int WMITER = (WM * WN) / (32 * TM * TN * WNITER);
    constexpr int WSUBM = WM / WMITER, WSUBN = WN / WNITER;
    constexpr int AS = BM + 4;
    static_assert(BM % WM == 0 && BN % WN == 0 && (BM / WM) * (BN / WN) == WARPS, "warps");
    static_assert(WMITER >= 1 && WM % WMITER == 0 && WN % WNITER == 0, "warp sub-tiles");
    static_assert((WSUBM / TM) * (WSUBN / TN) == 32, "32 lanes tile one warp sub-tile");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "float4 reads of the operands");
    static_assert((BK * AS + BK * BN) * 4 <= 48 * 1024, "static shared memory");

    __shared__ __align__(16) float As[BK * AS];  // As[k * AS + m] = A[row0 + m][k0 + k]
    __shared__ __align__(16) float Bs[BK * BN];  // Bs[k * BN + n] = B[k0 + k][col0 + n]

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int warp_row = warp / (BN / WN), warp_col = warp % (BN / WN);
    const int t_row = lane / (WSUBN / TN), t_col = lane % (WSUBN / TN);
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    // Offsets of this thread's operands inside a k row of As and Bs.
    const int a_off = warp_row * WM + t_row * TM;  // + wm * WSUBM + i
    const int b_off = warp_col * WN + t_col * TN;  // + wn * WSUBN + j

    const bool vecA = (K % 4 == 0) && aligned16(A);
    const bool vecB = (N % 4 == 0) && aligned16(B);
    const bool vecC = (N % 4 == 0) && aligned16(C);
    const bool interior = M - row0 >= BM && N - col0 >= BN && vecA && vecB;

    float acc[WMITER * TM][WNITER * TN];
#pragma unroll
    for (int i = 0; i < WMITER * TM; ++i)
#pragma unroll
        for (int j = 0; j < WNITER * TN; ++j) acc[i][j] = 0.f;

    const float* At = A + static_cast<size_t>(row0) * K;  // &A[row0][k0]
    const float* Bt = B + col0;                            // &B[k0][col0]
    for (int k0 = 0; k0 < K; k0 += BK, At += BK, Bt += static_cast<size_t>(BK) * N) {
        if (interior && K - k0 >= BK)  // block-uniform branch
            load_tiles<BM, BN, BK, AS, NT, false>(At, Bt, As, Bs, M - row0, N - col0, K - k0, K,
                                                  N, vecA, vecB);
        else
            load_tiles<BM, BN, BK, AS, NT, true>(At, Bt, As, Bs, M - row0, N - col0, K - k0, K,
                                                 N, vecA, vecB);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            float a[WMITER * TM], b[WNITER * TN];
#pragma unroll
            for (int wm = 0; wm < WMITER; ++wm)
#pragma unroll
                for (int i = 0; i < TM; i += 4) {
                    const float4 t = *reinterpret_cast<const float4*>(
                        &As[k * AS + a_off + wm * WSUBM + i]);
                    float* d = &a[wm * TM + i];
                    d[0] = t.x, d[1] = t.y, d[2] = t.z, d[3] = t.w;
                }
#pragma unroll
            for (int wn = 0; wn < WNITER; ++wn)
#pragma unroll
                for (int j = 0; j < TN; j += 4) {
                    const float4 t = *reinterpret_cast<const float4*>(
                        &Bs[k * BN + b_off + wn * WSUBN + j]);
                    float* d = &b[wn * TN + j];
                    d[0] = t.x, d[1] = t.y, d[2] = t.z, d[3] = t.w;
                }
#pragma unroll
            for (int i = 0; i < WMITER * TM; ++i)
#pragma unroll
                for (int j = 0; j < WNITER * TN; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }

    float* Ct = C + static_cast<size_t>(row0) * N + col0;
#pragma unroll
    for (int wm = 0; wm < WMITER; ++wm)
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int row = a_off + wm * WSUBM + i;  // inside the block tile
            const float* r = acc[wm * TM + i];
#pragma unroll
            for (int wn = 0; wn < WNITER; ++wn)
#pragma unroll
                for (int j = 0; j < TN; j += 4) {
                    const int c = wn * TN + j;
                    store4_guarded(Ct, row, b_off + wn * WSUBN + j, M - row0, N - col0, N, vecC,
                                   make_float4(r[c], r[c + 1], r[c + 2], r[c + 3]));
                }
        }
}

extern "C" __global__ void __launch_bounds__(128)
    sgemm_v6_warptile(const float* __restrict__ A, const float* __restrict__ B,
                      float* __restrict__ C, int M, int N, int K) {
    sgemm_warptile<128, 128, 16, 64, 64, 4, 8, 4, 128>(A, B, C, M, N, K);
}
