// gather_mm and segmented_mm on the GPU, and the row-major cuBLAS helpers of gemm.h.
//
// GatherMM: out[i] = a[min(lhs[i], Ba - 1)] @ b[min(rhs[i], Bb - 1)]. A small kernel turns the
// index arrays into pointer arrays on the device (no host synchronization) and one
// cublasGemmBatchedEx call does all products. SegmentedMM: out[s] = a[:, s0:s1] @ b[s0:s1, :]
// with per-segment K, by a shared-memory tiled kernel (float accumulation, any strides).
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "mlx/backend/cuda/device.cuh"
#include "mlx/backend/cuda/gemm.h"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::cu {

namespace {

void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[gemm] ") + what + " failed: " + cublasGetStatusString(s) + ".");
}

bool blas_type(Dtype dt, cudaDataType_t& t) {
  switch (dt) {
    case Dtype::float32: t = CUDA_R_32F; return true;
    case Dtype::float16: t = CUDA_R_16F; return true;
    case Dtype::bfloat16: t = CUDA_R_16BF; return true;
    default: return false;
  }
}

cublasComputeType_t compute_type(cudaDataType_t t) {
  return (t == CUDA_R_32F && tf32_enabled()) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

}  // namespace

// Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets (B, A) with m = N, n = M.
void gemm_strided_batched(Dtype dt, bool ta, bool tb, int M, int N, int K, const void* A, int64_t lda, int64_t sa,
                          const void* B, int64_t ldb, int64_t sb, void* C, int64_t ldc, int64_t sc, int batch) {
  cudaDataType_t t;
  if (!blas_type(dt, t)) throw std::runtime_error("[gemm] unsupported dtype.");
  if (batch <= 0 || M <= 0 || N <= 0) return;
  float alpha = 1.0f, beta = 0.0f;
  check_blas(cublasGemmStridedBatchedEx(cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                        N, M, K, &alpha, B, t, static_cast<int>(ldb), sb, A, t, static_cast<int>(lda),
                                        sa, &beta, C, t, static_cast<int>(ldc), sc, batch, compute_type(t),
                                        CUBLAS_GEMM_DEFAULT),
             "cublasGemmStridedBatchedEx");
}

void gemm_ptr_batched(Dtype dt, bool ta, bool tb, int M, int N, int K, const void* const* A, int64_t lda,
                      const void* const* B, int64_t ldb, void* const* C, int64_t ldc, int batch) {
  cudaDataType_t t;
  if (!blas_type(dt, t)) throw std::runtime_error("[gemm] unsupported dtype.");
  if (batch <= 0 || M <= 0 || N <= 0) return;
  float alpha = 1.0f, beta = 0.0f;
  check_blas(cublasGemmBatchedEx(cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N,
                                 M, K, &alpha, B, t, static_cast<int>(ldb), A, t, static_cast<int>(lda), &beta, C, t,
                                 static_cast<int>(ldc), batch, compute_type(t), CUBLAS_GEMM_DEFAULT),
             "cublasGemmBatchedEx");
}

namespace {

// How cuBLAS reads each matrix of a 3-d operand (batch, rows, cols): row-major (trans false) or
// column-major (trans true) with leading dimension ld; false if neither fits.
bool operand3(const array& x, bool& trans, int64_t& ld) {
  int64_t R = x.shape(1), C = x.shape(2);
  int64_t sr = x.strides(1), sc = x.strides(2);
  if ((sc == 1 || C == 1) && (sr >= std::max<int64_t>(C, 1) || R == 1)) {
    trans = false;
    ld = std::max<int64_t>(R == 1 ? C : sr, 1);
    return true;
  }
  if ((sr == 1 || R == 1) && (sc >= std::max<int64_t>(R, 1) || C == 1)) {
    trans = true;
    ld = std::max<int64_t>(C == 1 ? R : sc, 1);
    return true;
  }
  return false;
}


__global__ void k_gather_ptrs(const uint32_t* __restrict__ li, const uint32_t* __restrict__ ri, int64_t B, int64_t na,
                              int64_t nb, const char* a, int64_t sa, const char* b, int64_t sb, char* c, int64_t sc,
                              const void** pa, const void** pb, void** pc) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= B) return;
  int64_t l = min(static_cast<int64_t>(li[i]), na - 1), r = min(static_cast<int64_t>(ri[i]), nb - 1);
  pa[i] = a + l * sa;
  pb[i] = b + r * sb;
  pc[i] = c + i * sc;
}

constexpr int kTile = 16;

// out[z] = a[min(li[z], na - 1)] @ b[min(ri[z], nb - 1)] with any element strides (batch, row,
// column) for a (M x K) and b (K x N); 16x16 tiles, float accumulation.
template <typename T>
__global__ void k_gather_gemm(const uint32_t* __restrict__ li, const uint32_t* __restrict__ ri, int64_t na,
                              int64_t nb, const T* __restrict__ a, int64_t a_b, int64_t a_r, int64_t a_c,
                              const T* __restrict__ b, int64_t b_b, int64_t b_r, int64_t b_c, T* __restrict__ out,
                              int M, int N, int K, int64_t z0) {
  __shared__ float As[kTile][kTile + 1];
  __shared__ float Bs[kTile][kTile + 1];
  int64_t z = z0 + blockIdx.z;
  int64_t l = min(static_cast<int64_t>(li[z]), na - 1), r = min(static_cast<int64_t>(ri[z]), nb - 1);
  const T* az = a + l * a_b;
  const T* bz = b + r * b_b;
  int tx = threadIdx.x, ty = threadIdx.y;
  int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < K) ? static_cast<float>(az[row * a_r + (k0 + tx) * a_c]) : 0.0f;
    Bs[ty][tx] = (col < N && k0 + ty < K) ? static_cast<float>(bz[(k0 + ty) * b_r + col * b_c]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc += As[ty][kk] * Bs[kk][tx];
    __syncthreads();
  }
  if (row < M && col < N) out[z * int64_t(M) * N + row * N + col] = static_cast<T>(acc);
}

}  // namespace

void gather_gemm_tiled(Dtype dt, const uint32_t* li, const uint32_t* ri, int64_t B, int64_t na, int64_t nb,
                       const void* a, int64_t a_b, int64_t a_r, int64_t a_c, const void* b, int64_t b_b, int64_t b_r,
                       int64_t b_c, void* out, int M, int N, int K) {
  if (B <= 0 || M <= 0 || N <= 0) return;
  if ((int64_t(M) + kTile - 1) / kTile > 65535) throw std::runtime_error("[gemm] too many rows for the tiled kernel.");
  bool ok = dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dim3 block(kTile, kTile);
    for (int64_t z0 = 0; z0 < B; z0 += 65535) {
      unsigned nz = static_cast<unsigned>(std::min<int64_t>(65535, B - z0));
      dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile), static_cast<unsigned>((M + kTile - 1) / kTile), nz);
      k_gather_gemm<T><<<grid, block, 0, stream()>>>(li, ri, na, nb, static_cast<const T*>(a), a_b, a_r, a_c,
                                                     static_cast<const T*>(b), b_b, b_r, b_c, static_cast<T*>(out),
                                                     M, N, K, z0);
      check_launch("gather gemm kernel");
    }
  });
  if (!ok) throw std::runtime_error("[gemm] unsupported dtype.");
}

namespace {

bool eval_gather_mm(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  Dtype dt = out.dtype();
  if (dt != float32 && dt != float16 && dt != bfloat16) return false;
  if (inputs[0].dtype() != dt || inputs[1].dtype() != dt) return false;
  if (inputs[0].ndim() != 3 || inputs[1].ndim() != 3 || out.ndim() != 3) return false;
  array a = inputs[0], b = inputs[1], li, ri;
  if (inputs[2].dtype() != uint32 || inputs[3].dtype() != uint32) return false;
  if (!dense_rows(inputs[2], li) || !dense_rows(inputs[3], ri)) return false;
  int64_t Ba = a.shape(0), Bb = b.shape(0), B = out.shape(0);
  int M = out.shape(1), N = out.shape(2), K = a.shape(2);
  if (B > (int64_t(1) << 30) || (int64_t(M) + 15) / 16 > 65535) return false;
  bool ta = false, tb = false;
  int64_t lda = 1, ldb = 1;
  if (!operand3(a, ta, lda)) {
    if (!dense_rows(inputs[0], a)) return false;
    operand3(a, ta, lda);
  }
  if (!operand3(b, tb, ldb)) {
    if (!dense_rows(inputs[1], b)) return false;
    operand3(b, tb, ldb);
  }
  char* pc = static_cast<char*>(alloc_out(out));
  if (out.size() == 0) return true;
  if (K == 0 || Ba == 0 || Bb == 0) {
    MLX_CUDA_CHECK(cudaMemsetAsync(pc, 0, out.nbytes(), stream()));
    return true;
  }
  size_t isz = size_of(dt);
  const char* pa = static_cast<const char*>(in_ptr(a));
  const char* pb = static_cast<const char*>(in_ptr(b));
  const uint32_t* pl = in_ptr<uint32_t>(li);
  const uint32_t* pr = in_ptr<uint32_t>(ri);
  // cuBLAS gets pointer arrays only where every pointer is 16-byte aligned.
  int64_t sa = a.strides(0) * int64_t(isz), sb = b.strides(0) * int64_t(isz), sc = int64_t(M) * N * int64_t(isz);
  bool aligned16 = aligned(pa, 16) && aligned(pb, 16) && aligned(pc, 16) && sa % 16 == 0 && sb % 16 == 0 &&
                   sc % 16 == 0 && B <= INT32_MAX;
  if (!aligned16) {
    gather_gemm_tiled(dt, pl, pr, B, Ba, Bb, pa, a.strides(0), a.strides(1), a.strides(2), pb, b.strides(0),
                      b.strides(1), b.strides(2), pc, M, N, K);
    return true;
  }
  size_t pbytes = sizeof(void*) * 3 * static_cast<size_t>(B);
  void** ptrs = static_cast<void**>(dev_malloc(pbytes));
  k_gather_ptrs<<<blocks_for(B, 256), 256, 0, stream()>>>(
      pl, pr, B, Ba, Bb, pa, sa, pb, sb, pc, sc, const_cast<const void**>(ptrs), const_cast<const void**>(ptrs + B), ptrs + 2 * B);
  check_launch("gather_mm pointers");
  gemm_ptr_batched(dt, ta, tb, M, N, K, ptrs, lda, ptrs + B, ldb, ptrs + 2 * B, N, static_cast<int>(B));
  dev_free(ptrs, pbytes);  // ordered after the gemm on the one stream
  return true;
}

template <typename T>
__global__ void k_segmented_mm(const T* __restrict__ a, int64_t sam, int64_t sak, const T* __restrict__ b,
                               int64_t sbk, int64_t sbn, const int32_t* __restrict__ seg, T* __restrict__ out, int M,
                               int N, int64_t K, int64_t s0) {
  __shared__ float As[kTile][kTile + 1];
  __shared__ float Bs[kTile][kTile + 1];
  int64_t s = s0 + blockIdx.z;
  int64_t st = min(max(static_cast<int64_t>(seg[2 * s]), int64_t(0)), K);
  int64_t en = min(max(static_cast<int64_t>(seg[2 * s + 1]), st), K);
  int tx = threadIdx.x, ty = threadIdx.y;
  int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = st; k0 < en; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < en) ? static_cast<float>(a[row * sam + (k0 + tx) * sak]) : 0.0f;
    Bs[ty][tx] = (col < N && k0 + ty < en) ? static_cast<float>(b[(k0 + ty) * sbk + col * sbn]) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc += As[ty][kk] * Bs[kk][tx];
    __syncthreads();
  }
  if (row < M && col < N) out[s * int64_t(M) * N + row * N + col] = static_cast<T>(acc);
}

bool eval_segmented_mm(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  const array& a = inputs[0];
  const array& b = inputs[1];
  if (a.ndim() != 2 || b.ndim() != 2 || out.ndim() != 3) return false;
  if (a.dtype() != out.dtype() || b.dtype() != out.dtype() || inputs[2].dtype() != int32) return false;
  int64_t S = out.shape(0);
  int M = out.shape(1), N = out.shape(2);
  int64_t K = a.shape(1);
  if ((int64_t(M) + kTile - 1) / kTile > 65535) return false;
  array seg;
  if (!dense_rows(inputs[2], seg)) return false;
  return dispatch_float(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(alloc_out(out));
    if (out.size() == 0) return;
    const T* pa = in_ptr<T>(a);
    const T* pb = in_ptr<T>(b);
    const int32_t* ps = in_ptr<int32_t>(seg);
    dim3 block(kTile, kTile);
    for (int64_t s0 = 0; s0 < S; s0 += 65535) {
      unsigned nz = static_cast<unsigned>(std::min<int64_t>(65535, S - s0));
      dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile), static_cast<unsigned>((M + kTile - 1) / kTile), nz);
      k_segmented_mm<T><<<grid, block, 0, stream()>>>(pa, a.strides(0), a.strides(1), pb, b.strides(0), b.strides(1),
                                                      ps, po, M, N, K, s0);
      check_launch("segmented_mm kernel");
    }
  });
}

}  // namespace

MLX_CUDA_KERNEL(GatherMM, eval_gather_mm);
MLX_CUDA_KERNEL(SegmentedMM, eval_segmented_mm);

}  // namespace mlx::core::cu
