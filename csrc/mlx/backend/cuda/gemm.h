// cuBLAS products in row-major terms, shared by the matmul-like kernels (quantized.cu,
// gather_mm.cu). The handle is matmul.cpp's (on stream(), with a workspace from the pool).
#pragma once
#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "mlx/backend/cuda/cuda.h"
#include "mlx/dtype.h"

namespace mlx::core::cu {

cublasHandle_t cublas_handle();

// A cuBLAS handle bound to the current stream on each use. On the default stream it works in
// a block of the pool (so cuBLAS never allocates behind the pool's back); on other streams in
// cuBLAS's own per-stream workspace (cublasSetStream resets to it), since one block must not
// serve two streams running at once.
class BlasHandle {
 public:
  BlasHandle(size_t workspace, const char* op) : ws_(workspace) {
    if (cublasCreate(&h_) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(op) + " cublasCreate failed.");
    w_ = dev_malloc(ws_);
  }
  cublasHandle_t get() {
    if (bind_stream(last_, [&](cudaStream_t s) { cublasSetStream(h_, s); }) && on_primary_stream())
      cublasSetWorkspace(h_, w_, ws_);
    return h_;
  }

 private:
  cublasHandle_t h_ = nullptr;
  void* w_ = nullptr;
  size_t ws_;
  cudaStream_t last_ = nullptr;
};

// C_i (M x N, row stride ldc) = op(A_i) (M x K) @ op(B_i) (K x N), float32 accumulation, for
// dt float32 (no TF32 unless MLX_ENABLE_TF32=1), float16, bfloat16. ta: A_i is stored as a
// row-major (K x M) matrix (row stride lda), else (M x K); tb likewise for B_i ((N x K) / (K x N)).
// Strided form: A_i = A + i * sa elements (likewise B, C).
void gemm_strided_batched(Dtype dt, bool ta, bool tb, int M, int N, int K, const void* A, int64_t lda, int64_t sa,
                          const void* B, int64_t ldb, int64_t sb, void* C, int64_t ldc, int64_t sc, int batch);
// Pointer form: A, B, C are device arrays of `batch` device pointers.
void gemm_ptr_batched(Dtype dt, bool ta, bool tb, int M, int N, int K, const void* const* A, int64_t lda,
                      const void* const* B, int64_t ldb, void* const* C, int64_t ldc, int batch);

// out[z] (M x N, row-major, at z * M * N) = a[min(li[z], na - 1)] @ b[min(ri[z], nb - 1)], z < B,
// with any element strides (batch, row, column) of a (M x K) and b (K x N): a simple tiled kernel
// (float accumulation) for layouts that are not given to cuBLAS's pointer arrays (pointers
// that are not 16-byte aligned). li/ri: device uint32 arrays.
void gather_gemm_tiled(Dtype dt, const uint32_t* li, const uint32_t* ri, int64_t B, int64_t na, int64_t nb,
                       const void* a, int64_t a_b, int64_t a_r, int64_t a_c, const void* b, int64_t b_b, int64_t b_r,
                       int64_t b_c, void* out, int M, int N, int K);

}  // namespace mlx::core::cu
