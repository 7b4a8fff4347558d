// Matmul through OpenBLAS (float32/float64/complex64); half types accumulate in float32.
#include "mlx/backend/cpu/blas.h"
#include <cstring>

#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

// A matrix operand as BLAS sees it: base pointer per batch, transposition and leading dim.
struct Operand {
  array arr;
  bool trans;
  int64_t ld;
};

// Returns an operand whose last two dims BLAS can read directly, copying if needed.
Operand prepare(const array& x) {
  int nd = static_cast<int>(x.ndim());
  int64_t rows = x.shape(-2), cols = x.shape(-1);
  int64_t sr = x.strides(nd - 2), sc = x.strides(nd - 1);
  if (sc == 1 && (sr >= std::max<int64_t>(cols, 1) || rows == 1)) return {x, false, std::max<int64_t>(rows == 1 ? cols : sr, 1)};
  if (sr == 1 && (sc >= std::max<int64_t>(rows, 1) || cols == 1)) return {x, true, std::max<int64_t>(cols == 1 ? rows : sc, 1)};
  array c = cpu::ensure_row_contiguous(x);
  return {c, false, std::max<int64_t>(cols, 1)};
}

// Offset (elements) of batch b in x, walking its batch strides.
int64_t batch_offset(const array& x, int64_t b) {
  int64_t off = 0;
  for (int i = static_cast<int>(x.ndim()) - 3; i >= 0; --i) {
    off += (b % x.shape(i)) * x.strides(i);
    b /= x.shape(i);
  }
  return off;
}

template <typename T>
void gemm(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  auto TA = ta ? CblasTrans : CblasNoTrans;
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
  } else {
    complex64_t one(1, 0), zero(0, 0);
    cblas_cgemm(CblasRowMajor, TA, TB, M, N, K, &one, A, lda, B, ldb, &zero, C, ldc);
  }
}

template <typename T>
void matmul_blas(const array& a_in, const array& b_in, array& out) {
  Operand a = prepare(a_in), b = prepare(b_in);
  int M = out.shape(-2), N = out.shape(-1), K = a_in.shape(-1);
  int64_t batch = M && N ? out.size() / (int64_t(M) * N) : 0;
  T* c = out.data<T>();
  if (K == 0) {
    std::memset(static_cast<void*>(c), 0, out.nbytes());
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const T* pa = a.arr.template data<T>() + batch_offset(a.arr, i);
    const T* pb = b.arr.template data<T>() + batch_offset(b.arr, i);
    gemm<T>(a.trans, b.trans, M, N, K, pa, static_cast<int>(a.ld), pb, static_cast<int>(b.ld),
            c + i * int64_t(M) * N, N);
  }
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  switch (out.dtype()) {
    case float32: matmul_blas<float>(inputs[0], inputs[1], out); break;
    case float64: matmul_blas<double>(inputs[0], inputs[1], out); break;
    case complex64: matmul_blas<complex64_t>(inputs[0], inputs[1], out); break;
    case float16:
    case bfloat16: {
      // Convert to float32, multiply, round once at the end.
      auto to_f32 = [](const array& x) {
        array f(x.shape(), float32, nullptr, {});
        cpu::alloc_out(f);
        cpu::copy_to_contiguous(x, f);
        return f;
      };
      array a = to_f32(inputs[0]), b = to_f32(inputs[1]);
      array c(out.shape(), float32, nullptr, {});
      cpu::alloc_out(c);
      matmul_blas<float>(a, b, c);
      cpu::copy_to_contiguous(c, out);
      break;
    }
    default:
      throw std::runtime_error(msg("[matmul] unsupported dtype ", out.dtype(), "."));
  }
}

}  // namespace mlx::core
