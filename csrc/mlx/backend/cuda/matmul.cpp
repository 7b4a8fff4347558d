// Matmul on the GPU through cuBLAS: float32 (no TF32 unless MLX_ENABLE_TF32=1), float16 and
// bfloat16 with float32 accumulation. Batches become strided-batched calls.
#include <cublas_v2.h>

#include <cstdlib>
#include <cstring>

#include "mlx/backend/cuda/cuda.h"
#include "mlx/backend/cuda/gemm.h"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {

namespace {

cublasHandle_t handle() {
  static BlasHandle h(32u << 20, "[matmul]");
  return h.get();
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("[matmul] ") + what + " failed: " + cublasGetStatusString(s) + ".");
}

// How cuBLAS reads the last two dims of x (rows x cols, row-major view): transposed or not,
// and the leading dimension; false if neither layout fits.
bool operand(const array& x, bool& trans, int64_t& ld) {
  int nd = static_cast<int>(x.ndim());
  int64_t rows = x.shape(-2), cols = x.shape(-1);
  int64_t sr = x.strides(nd - 2), sc = x.strides(nd - 1);
  if ((sc == 1 || cols == 1) && (sr >= std::max<int64_t>(cols, 1) || rows == 1)) {
    trans = false;
    ld = std::max<int64_t>(rows == 1 ? cols : sr, 1);
    return true;
  }
  if ((sr == 1 || rows == 1) && (sc >= std::max<int64_t>(rows, 1) || cols == 1)) {
    trans = true;
    ld = std::max<int64_t>(cols == 1 ? rows : sc, 1);
    return true;
  }
  return false;
}

bool eval_matmul(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = inputs[0], b = inputs[1];
  array& out = outputs[0];
  cudaDataType_t dt;
  switch (out.dtype()) {
    case Dtype::float32: dt = CUDA_R_32F; break;
    case Dtype::float16: dt = CUDA_R_16F; break;
    case Dtype::bfloat16: dt = CUDA_R_16BF; break;
    default: return false;
  }
  if (a.dtype() != out.dtype() || b.dtype() != out.dtype()) return false;
  int M = out.shape(-2), N = out.shape(-1), K = a.shape(-1);
  bool ta, tb;
  int64_t lda, ldb;
  if (!operand(a, ta, lda)) {
    array t(a.shape(), a.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(a, t)) return false;
    a = t;
    operand(a, ta, lda);
  }
  if (!operand(b, tb, ldb)) {
    array t(b.shape(), b.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(b, t)) return false;
    b = t;
    operand(b, tb, ldb);
  }
  // Batch dims: collapse them for both operands (stride 0 where broadcast).
  int nb = static_cast<int>(out.ndim()) - 2;
  Shape bshape(out.shape().begin(), out.shape().begin() + nb);
  std::vector<int64_t> sa(nb), sb(nb);
  // An operand may have fewer batch dims than the output: align them from the right.
  auto batch_stride = [nb](const array& x, int i) -> int64_t {
    int j = i - (nb - (static_cast<int>(x.ndim()) - 2));
    if (j < 0 || x.shape(j) == 1) return 0;
    return x.strides(j);
  };
  for (int i = 0; i < nb; ++i) {
    sa[i] = batch_stride(a, i);
    sb[i] = batch_stride(b, i);
  }
  std::vector<int64_t> sh;
  std::vector<int64_t> ca, cb;
  for (int i = 0; i < nb; ++i) {
    if (bshape[i] == 1) continue;
    if (!sh.empty() && ca.back() == sa[i] * bshape[i] && cb.back() == sb[i] * bshape[i]) {
      sh.back() *= bshape[i];
      ca.back() = sa[i];
      cb.back() = sb[i];
    } else {
      sh.push_back(bshape[i]);
      ca.push_back(sa[i]);
      cb.push_back(sb[i]);
    }
  }
  size_t isz = out.itemsize();
  const char* pa = static_cast<const char*>(in_ptr(a));
  const char* pb = static_cast<const char*>(in_ptr(b));
  char* pc = static_cast<char*>(alloc_out(out));
  if (out.size() == 0) return true;
  if (K == 0) {
    MLX_CUDA_CHECK(cudaMemsetAsync(pc, 0, out.nbytes(), stream()));
    return true;
  }
  cublasComputeType_t ct = (dt == CUDA_R_32F && tf32_enabled()) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  float alpha = 1.0f, beta = 0.0f;
  int64_t inner = sh.empty() ? 1 : sh.back();
  int64_t stride_a = sh.empty() ? 0 : ca.back(), stride_b = sh.empty() ? 0 : cb.back();
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < sh.size(); ++i) outer *= sh[i];
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offa = 0, offb = 0, rem = o;
    for (int i = static_cast<int>(sh.size()) - 2; i >= 0; --i) {
      int64_t idx = rem % sh[i];
      rem /= sh[i];
      offa += idx * ca[i];
      offb += idx * cb[i];
    }
    // Row-major C = A B is column-major C^T = B^T A^T. A single product goes to cublasGemmEx:
    // a batch of one may get another (slower) kernel choice than the plain call.
    if (inner == 1) {
      check(cublasGemmEx(handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha,
                         pb + offb * isz, dt, static_cast<int>(ldb), pa + offa * isz, dt, static_cast<int>(lda),
                         &beta, pc + o * int64_t(M) * N * isz, dt, N, ct, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx");
      continue;
    }
    check(cublasGemmStridedBatchedEx(handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
                                     K, &alpha, pb + offb * isz, dt, static_cast<int>(ldb), stride_b, pa + offa * isz,
                                     dt, static_cast<int>(lda), stride_a, &beta,
                                     pc + o * inner * int64_t(M) * N * isz, dt, N, int64_t(M) * N,
                                     static_cast<int>(inner), ct, CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx");
  }
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Matmul, eval_matmul);

cublasHandle_t cublas_handle() { return handle(); }

}  // namespace mlx::core::cu
