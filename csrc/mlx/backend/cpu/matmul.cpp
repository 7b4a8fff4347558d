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

// OpenBLAS runs single-threaded; our pool splits the work. OpenBLAS's own threads spin
// between calls and fight the pool on small machines, which made batched small products
// (attention heads) many times slower than the arithmetic needs.
// Set once when the library loads, before any kernel calls BLAS or LAPACK.
const bool kBlasSingleThread = [] {
  openblas_set_num_threads(1);
  return true;
}();

void blas_single_thread() { (void)kBlasSingleThread; }

// One product C = op(A) op(B) (C row-major with leading dim ldc), split over the pool: the
// longer output side is cut into one block of whole panels per thread (each block packs the
// other operand again, so more blocks than threads only add packing).
template <typename T>
void gemm_split(bool ta, bool tb, int M, int N, int K, const T* pa, int lda, const T* pb, int ldb, T* pc,
                int ldc, int nt) {
  bool split_m = M >= N;
  int len = split_m ? M : N;
  int blocks = std::max(1, std::min(nt, len / 64));
  cpu::parallel_for(blocks, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) {
      int s0 = static_cast<int>(int64_t(len) * k / blocks), s1 = static_cast<int>(int64_t(len) * (k + 1) / blocks);
      if (s0 >= s1) continue;
      if (split_m) {
        const T* sa = pa + (ta ? s0 : int64_t(s0) * lda);
        gemm<T>(ta, tb, s1 - s0, N, K, sa, lda, pb, ldb, pc + int64_t(s0) * ldc, ldc);
      } else {
        const T* sb = pb + (tb ? int64_t(s0) * ldb : s0);
        gemm<T>(ta, tb, M, s1 - s0, K, pa, lda, sb, ldb, pc + s0, ldc);
      }
    }
  });
}

template <typename T>
void matmul_blas(const array& a_in, const array& b_in, array& out) {
  blas_single_thread();
  Operand a = prepare(a_in), b = prepare(b_in);
  int M = out.shape(-2), N = out.shape(-1), K = a_in.shape(-1);
  int64_t batch = M && N ? out.size() / (int64_t(M) * N) : 0;
  int lda = static_cast<int>(a.ld), ldb = static_cast<int>(b.ld);
  const T* a0 = a.arr.template data<T>();
  const T* b0 = b.arr.template data<T>();
  int nt = cpu::num_threads();
  if (out.ndim() == 2 && a.trans && !b.trans && M > 1 && N > 1 && K > 0) {
    // A^T B (the weight gradient of x @ W.T, say) is written column-major, as (B^T A)^T: the
    // same product, but the transpose that usually follows it is then row-major, and so are
    // the elementwise ops on it (an SGD update of W no longer mixes two layouts).
    out.set_data(std::make_shared<Data>(allocator::malloc(out.nbytes())), out.size(), Strides{1, M},
                 Flags{true, false, true});
    gemm_split<T>(true, false, N, M, K, b0, ldb, a0, lda, out.data<T>(), M, 2.0 * M * N * K < 2e6 ? 1 : nt);
    return;
  }
  cpu::alloc_out(out);
  T* c = out.data<T>();
  if (K == 0) {
    std::memset(static_cast<void*>(c), 0, out.nbytes());
    return;
  }
  double flops = 2.0 * M * N * K;
  if (batch >= nt || flops * batch < 2e6 || nt == 1) {
    // Many products (or small ones): one single-threaded gemm per batch item.
    size_t grain = std::max<size_t>(1, static_cast<size_t>(2e6 / std::max(flops, 1.0)));
    cpu::parallel_for(batch, grain, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) {
        gemm<T>(a.trans, b.trans, M, N, K, a0 + batch_offset(a.arr, i), lda, b0 + batch_offset(b.arr, i), ldb,
                c + i * int64_t(M) * N, N);
      }
    });
    return;
  }
  // Few large products: each one split over the pool.
  for (int64_t i = 0; i < batch; ++i)
    gemm_split<T>(a.trans, b.trans, M, N, K, a0 + batch_offset(a.arr, i), lda, b0 + batch_offset(b.arr, i), ldb,
                  c + i * int64_t(M) * N, N, nt);
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.size() == 0) {
    cpu::alloc_out(out);
    return;
  }
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
      matmul_blas<float>(a, b, c);
      cpu::alloc_out(out);
      cpu::copy_to_contiguous(c, out);
      break;
    }
    default:
      throw std::runtime_error(msg("[matmul] unsupported dtype ", out.dtype(), "."));
  }
}

}  // namespace mlx::core
