// CPU kernels of the fast primitives: row-wise norms, rotary embedding, attention.
#include "mlx/backend/cpu/blas.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "mlx/backend/cpu/simd_math.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/fast.h"
#include "mlx/types/cast.h"

namespace mlx::core::fast {

namespace {

// Float type the kernels compute in.
template <typename T>
using comp_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// 32-byte SIMD vectors through the GCC/Clang vector extension (any target).
template <typename C>
struct VecOf {
  typedef C type __attribute__((vector_size(32)));
};
template <typename C>
using vec_t = typename VecOf<C>::type;
template <typename C>
constexpr size_t kW = 32 / sizeof(C);

template <typename C>
inline vec_t<C> vload(const C* p) {
  vec_t<C> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename C>
inline void vstore(C* p, vec_t<C> v) {
  std::memcpy(p, &v, sizeof(v));
}
template <typename C>
inline C hsum(vec_t<C> v) {
  C s = 0;
  for (size_t l = 0; l < kW<C>; ++l) s += v[l];
  return s;
}

// Sum of (x - m)^p for p = 1 or 2, in 4 vector accumulators (also more accurate).
template <int P, typename C>
inline C row_sum(const C* x, size_t n, C m) {
  constexpr size_t W = kW<C>;
  vec_t<C> a0 = {}, a1 = {}, a2 = {}, a3 = {};
  size_t i = 0;
  auto term = [m](vec_t<C> v) {
    vec_t<C> d = v - m;
    if constexpr (P == 2) return d * d;
    else return d;
  };
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 += term(vload(x + i));
    a1 += term(vload(x + i + W));
    a2 += term(vload(x + i + 2 * W));
    a3 += term(vload(x + i + 3 * W));
  }
  for (; i + W <= n; i += W) a0 += term(vload(x + i));
  C tail = 0;
  for (; i < n; ++i) {
    C d = x[i] - m;
    tail += P == 2 ? d * d : d;
  }
  return hsum<C>((a0 + a1) + (a2 + a3)) + tail;
}

// y = (x - m) * r * w + b over a row, vectorized; Out is C or a half type. With `stream`,
// float rows are written with non-temporal stores (outputs much larger than the cache).
template <typename C, typename Out>
inline void row_affine(const C* x, const C* w, const C* b, Out* y, size_t n, C m, C r, bool stream) {
  constexpr size_t W = kW<C>;
  size_t i = 0;
  if constexpr (std::is_same_v<Out, C>) {
#if defined(__AVX__)
    if constexpr (std::is_same_v<C, float>) {
      if (stream) {
        for (; i < n && (reinterpret_cast<uintptr_t>(y + i) & 31); ++i) y[i] = (x[i] - m) * r * w[i] + b[i];
        for (; i + W <= n; i += W) {
          vec_t<C> v = (vload(x + i) - m) * r * vload(w + i) + vload(b + i);
          _mm256_stream_ps(y + i, reinterpret_cast<__m256&>(v));
        }
      }
    }
#endif
    for (; i + W <= n; i += W) vstore(y + i, (vload(x + i) - m) * r * vload(w + i) + vload(b + i));
  }
  for (; i < n; ++i) y[i] = static_cast<Out>((x[i] - m) * r * w[i] + b[i]);
}

// A vector of n compute-type values: the contents of `a` (1-D, any layout) or `fill`.
template <typename T, typename C>
std::vector<C> load_vector(const array* a, size_t n, C fill) {
  std::vector<C> v(n, fill);
  if (!a) return v;
  const T* p = a->data<T>();
  int64_t st = a->ndim() ? a->strides(0) : 0;
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<C>(p[static_cast<int64_t>(i) * st]);
  return v;
}

// Output storage: reuse x's buffer when it can be donated (each row is read before written).
void alloc_norm_out(array& out, const array& x) {
  if (x.is_donatable() && x.itemsize() == out.itemsize() && x.dtype() == out.dtype()) {
    out.copy_shared_buffer(x);
  } else {
    cpu::alloc_out(out);
  }
}

size_t row_grain(size_t n) { return std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(n, 1)); }

// ---------------------------------------------------------------- norms

// mode 0: rms norm; mode 1: layer norm.
template <typename T, int Mode>
void norm_impl(const array& x, const array* w, const array* b, array& out, float eps) {
  using C = comp_t<T>;
  size_t n = x.shape(-1);
  size_t rows = n ? x.size() / n : 0;
  if (rows == 0 || n == 0) return;
  std::vector<C> wv = load_vector<T, C>(w, n, C(1));
  std::vector<C> bv = load_vector<T, C>(b, n, C(0));
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  C ceps = static_cast<C>(eps);
  // Stream outputs well beyond the last-level cache past it (unless written in place).
  bool stream = out.nbytes() > (size_t(16) << 20) && static_cast<const void*>(xp) != static_cast<void*>(op);
  cpu::parallel_for(rows, row_grain(n), [&](size_t r0, size_t r1) {
    std::vector<C> buf;
    if constexpr (!std::is_same_v<T, C>) buf.resize(n);
    const C* wp = wv.data();
    const C* bp = bv.data();
    for (size_t r = r0; r < r1; ++r) {
      const T* xr = xp + r * n;
      T* orow = op + r * n;
      const C* xc;
      if constexpr (std::is_same_v<T, C>) {
        xc = xr;
      } else {
        for (size_t i = 0; i < n; ++i) buf[i] = static_cast<C>(xr[i]);
        xc = buf.data();
      }
      C inv_n = C(1) / static_cast<C>(n);
      C m = Mode == 0 ? C(0) : row_sum<1, C>(xc, n, C(0)) * inv_n;
      C rs = C(1) / std::sqrt(row_sum<2, C>(xc, n, m) * inv_n + ceps);
      row_affine<C, T>(xc, wp, bp, orow, n, m, rs, stream);
    }
#if defined(__AVX__)
    if (stream) _mm_sfence();
#endif
  });
}

// inputs[0] if row-contiguous (so that it can be donated), else a row-contiguous copy in tmp.
const array& row_contiguous_input(const std::vector<array>& inputs, array& tmp) {
  if (inputs[0].flags().row_contiguous) return inputs[0];
  tmp = cpu::ensure_row_contiguous(inputs[0]);
  return tmp;
}

template <int Mode>
void norm_dispatch(const std::vector<array>& inputs, array& out, float eps, bool has_w, bool has_b) {
  array tmp;
  const array& x = row_contiguous_input(inputs, tmp);
  alloc_norm_out(out, x);
  const array* w = has_w ? &inputs[1] : nullptr;
  const array* b = has_b ? &inputs[has_w ? 2 : 1] : nullptr;
  switch (x.dtype()) {
    case float32: norm_impl<float, Mode>(x, w, b, out, eps); break;
    case float64: norm_impl<double, Mode>(x, w, b, out, eps); break;
    case float16: norm_impl<float16_t, Mode>(x, w, b, out, eps); break;
    case bfloat16: norm_impl<bfloat16_t, Mode>(x, w, b, out, eps); break;
    default: throw std::runtime_error(msg("[fast norm] unsupported dtype ", x.dtype(), "."));
  }
}

// ---------------------------------------------------------------- rope

template <typename T>
void rope_impl(const array& x, const array& offset, const array* freqs, array& out, int dims, bool traditional,
               float base, float scale) {
  using C = comp_t<T>;
  int nd = static_cast<int>(x.ndim());
  size_t D = x.shape(-1), L = x.shape(-2), B = x.shape(0);
  size_t H = 1;
  for (int i = 1; i < nd - 2; ++i) H *= x.shape(i);
  if (x.size() == 0) return;
  size_t half = dims / 2;
  std::vector<double> inv_freq(half);
  if (freqs) {
    int64_t st = freqs->strides(0);
    for (size_t i = 0; i < half; ++i) {
      int64_t j = static_cast<int64_t>(i) * st;
      double f = freqs->dtype() == float64 ? freqs->data<double>()[j] : freqs->data<float>()[j];
      inv_freq[i] = 1.0 / f;
    }
  } else {
    for (size_t i = 0; i < half; ++i) inv_freq[i] = std::pow(static_cast<double>(base), -2.0 * i / dims);
  }
  const int32_t* off = offset.data<int32_t>();
  bool vec_off = offset.ndim() == 1;
  int64_t off_st = vec_off ? offset.strides(0) : 0;
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(H * D, 1));
  cpu::parallel_for(B * L, grain, [&](size_t p0, size_t p1) {
    std::vector<C> cs(half), sn(half);
    for (size_t p = p0; p < p1; ++p) {
      size_t b = p / L, l = p % L;
      double pos = (static_cast<double>(off[vec_off ? static_cast<int64_t>(b) * off_st : 0]) + static_cast<double>(l)) *
                   static_cast<double>(scale);
      for (size_t i = 0; i < half; ++i) {
        double th = pos * inv_freq[i];
        cs[i] = static_cast<C>(std::cos(th));
        sn[i] = static_cast<C>(std::sin(th));
      }
      for (size_t h = 0; h < H; ++h) {
        size_t row = (b * H + h) * L + l;
        const T* xr = xp + row * D;
        T* orow = op + row * D;
        if (traditional) {
          for (size_t i = 0; i < half; ++i) {
            C x1 = static_cast<C>(xr[2 * i]), x2 = static_cast<C>(xr[2 * i + 1]);
            orow[2 * i] = static_cast<T>(x1 * cs[i] - x2 * sn[i]);
            orow[2 * i + 1] = static_cast<T>(x1 * sn[i] + x2 * cs[i]);
          }
        } else {
          for (size_t i = 0; i < half; ++i) {
            C x1 = static_cast<C>(xr[i]), x2 = static_cast<C>(xr[i + half]);
            orow[i] = static_cast<T>(x1 * cs[i] - x2 * sn[i]);
            orow[i + half] = static_cast<T>(x1 * sn[i] + x2 * cs[i]);
          }
        }
        if (orow != xr)
          for (size_t i = dims; i < D; ++i) orow[i] = xr[i];
      }
    }
  });
}

// ---------------------------------------------------------------- attention

template <typename C>
void gemm(bool tb, int M, int N, int K, C alpha, const C* A, int lda, const C* B, int ldb, C* Cm, int ldc) {
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<C, float>)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, TB, M, N, K, alpha, A, lda, B, ldb, 0.0f, Cm, ldc);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, TB, M, N, K, alpha, A, lda, B, ldb, 0.0, Cm, ldc);
}

// An operand whose last axis is contiguous and whose rows do not overlap, in type C.
template <typename C>
array attention_operand(const array& a) {
  Dtype ct = std::is_same_v<C, double> ? float64 : float32;
  if (a.dtype() != ct) {
    array c(a.shape(), ct, nullptr, {});
    cpu::alloc_out(c);
    cpu::copy_to_contiguous(a, c);
    return c;
  }
  bool last_ok = a.shape(3) <= 1 || a.strides(3) == 1;
  bool rows_ok = a.shape(2) <= 1 || a.strides(2) >= std::max<int64_t>(a.shape(3), 1);
  if (last_ok && rows_ok) return a;
  return cpu::ensure_row_contiguous(a);
}

template <typename M, typename C>
inline void apply_mask_row(C* s, const M* m, int64_t mstride, int n) {
  if constexpr (std::is_same_v<M, bool>) {
    const C neg = -std::numeric_limits<float>::max();
    for (int j = 0; j < n; ++j)
      if (!m[j * mstride]) s[j] = neg;
  } else {
    for (int j = 0; j < n; ++j) s[j] += static_cast<C>(m[j * mstride]);
  }
}

template <typename T>
void sdpa_impl(const std::vector<array>& inputs, array& out, float scale, MaskMode mode, bool has_sinks) {
  using C = comp_t<T>;
  array q = attention_operand<C>(inputs[0]);
  array k = attention_operand<C>(inputs[1]);
  array v = attention_operand<C>(inputs[2]);
  int B = q.shape(0), Nq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
  int Nkv = k.shape(1), Tkv = k.shape(2), Dv = v.shape(3);
  T* op = out.data<T>();
  if (out.size() == 0) return;
  if (Tkv == 0) {
    for (size_t i = 0; i < out.size(); ++i) op[i] = T(0);
    return;
  }
  int G = Nq / Nkv;
  const array* mask = mode == MaskMode::Array ? &inputs[3] : nullptr;
  std::vector<C> sinks;
  if (has_sinks) sinks = load_vector<T, C>(&inputs.back(), Nq, C(0));
  const C* qp = q.data<C>();
  const C* kp = k.data<C>();
  const C* vp = v.data<C>();
  auto lead = [](const array& a, int64_t rows) { return static_cast<int>(rows > 1 ? a.strides(2) : a.shape(3)); };
  int ldq = std::max(1, lead(q, Tq)), ldk = std::max(1, lead(k, Tkv)), ldv = std::max(1, lead(v, Tkv));
  const C neg = -std::numeric_limits<float>::max();
  int causal_shift = Tkv - Tq;

  // Query block size: small blocks keep every gemm under OpenBLAS's threading threshold so
  // blocks run in parallel on the pool; otherwise heads run in turn with threaded gemms.
  constexpr int64_t kSmallGemm = 262144;
  int64_t per_row = static_cast<int64_t>(Tkv) * std::max(D, Dv);
  int nb = static_cast<int>(std::min<int64_t>(Tq, std::max<int64_t>(1, kSmallGemm / std::max<int64_t>(per_row, 1))));
  bool pooled = nb >= std::min(Tq, 8);
  if (!pooled) nb = static_cast<int>(std::min<int64_t>(Tq, std::max<int64_t>(64, (int64_t(1) << 22) / Tkv)));
  int nblk = (Tq + nb - 1) / nb;

  // Scores -> probabilities for rows [i0, i0 + rows) of head (b, h), in place in S.
  auto softmax_rows = [&](C* S, int b, int h, int i0, int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      C* s = S + static_cast<int64_t>(r) * Tkv;
      int i = i0 + r;
      if (mode == MaskMode::Causal) {
        int last = i + causal_shift;  // keys j <= last are kept
        for (int j = std::max(last + 1, 0); j < Tkv; ++j) s[j] = neg;
      } else if (mask) {
        const char* base = static_cast<const char*>(mask->data<void>());
        int64_t off = static_cast<int64_t>(b) * mask->strides(0) + static_cast<int64_t>(h) * mask->strides(1) +
                      static_cast<int64_t>(i) * mask->strides(2);
        int64_t ms = mask->strides(3);
        switch (mask->dtype()) {
          case bool_: apply_mask_row<bool, C>(s, reinterpret_cast<const bool*>(base) + off, ms, Tkv); break;
          case float16: apply_mask_row<float16_t, C>(s, reinterpret_cast<const float16_t*>(base) + off, ms, Tkv); break;
          case bfloat16: apply_mask_row<bfloat16_t, C>(s, reinterpret_cast<const bfloat16_t*>(base) + off, ms, Tkv); break;
          case float32: apply_mask_row<float, C>(s, reinterpret_cast<const float*>(base) + off, ms, Tkv); break;
          case float64: apply_mask_row<double, C>(s, reinterpret_cast<const double*>(base) + off, ms, Tkv); break;
          default: break;
        }
      }
      C m = has_sinks ? sinks[h] : -std::numeric_limits<C>::infinity();
      for (int j = 0; j < Tkv; ++j) m = s[j] > m ? s[j] : m;
      C tot = 0;
      for (int j = 0; j < Tkv; ++j) {
        C e;
        if constexpr (std::is_same_v<C, float>) e = simd::exp(s[j] - m);
        else e = std::exp(s[j] - m);
        s[j] = e;
        tot += e;
      }
      if (has_sinks) tot += std::exp(sinks[h] - m);
      C inv = C(1) / tot;
      for (int j = 0; j < Tkv; ++j) s[j] *= inv;
    }
  };

  // O rows for one block: scores gemm, softmax, values gemm, store.
  auto block = [&](C* S, C* O, int b, int h, int i0, int rows, bool parallel_softmax) {
    int kh = h / G;
    const C* Q = qp + b * q.strides(0) + h * q.strides(1) + static_cast<int64_t>(i0) * (Tq > 1 ? q.strides(2) : 0);
    const C* K = kp + b * k.strides(0) + kh * k.strides(1);
    const C* V = vp + b * v.strides(0) + kh * v.strides(1);
    gemm<C>(true, rows, Tkv, D, static_cast<C>(scale), Q, ldq, K, ldk, S, Tkv);
    if (parallel_softmax) {
      cpu::parallel_for(rows, row_grain(Tkv), [&](size_t r0, size_t r1) {
        softmax_rows(S, b, h, i0, static_cast<int>(r0), static_cast<int>(r1));
      });
    } else {
      softmax_rows(S, b, h, i0, 0, rows);
    }
    T* dst = op + ((static_cast<int64_t>(b) * Nq + h) * Tq + i0) * Dv;
    if constexpr (std::is_same_v<T, C>) {
      gemm<C>(false, rows, Dv, Tkv, C(1), S, Tkv, V, ldv, dst, Dv);
    } else {
      gemm<C>(false, rows, Dv, Tkv, C(1), S, Tkv, V, ldv, O, Dv);
      for (int64_t e = 0; e < static_cast<int64_t>(rows) * Dv; ++e) dst[e] = static_cast<T>(O[e]);
    }
  };

  int64_t tasks = static_cast<int64_t>(B) * Nq * nblk;
  auto run_task = [&](int64_t t, C* S, C* O, bool par) {
    int blk = static_cast<int>(t % nblk);
    int64_t bh = t / nblk;
    int h = static_cast<int>(bh % Nq), b = static_cast<int>(bh / Nq);
    int i0 = blk * nb;
    block(S, O, b, h, i0, std::min(nb, Tq - i0), par);
  };
  if (pooled) {
    cpu::parallel_for(tasks, 1, [&](size_t t0, size_t t1) {
      std::vector<C> S(static_cast<size_t>(nb) * Tkv), O(std::is_same_v<T, C> ? 0 : static_cast<size_t>(nb) * Dv);
      for (size_t t = t0; t < t1; ++t) run_task(static_cast<int64_t>(t), S.data(), O.data(), false);
    });
  } else {
    std::vector<C> S(static_cast<size_t>(nb) * Tkv), O(std::is_same_v<T, C> ? 0 : static_cast<size_t>(nb) * Dv);
    for (int64_t t = 0; t < tasks; ++t) run_task(t, S.data(), O.data(), true);
  }
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  norm_dispatch<0>(inputs, outputs[0], eps_, has_weight_, false);
}

void LayerNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  norm_dispatch<1>(inputs, outputs[0], eps_, has_weight_, has_bias_);
}

void RoPE::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array tmp;
  const array& x = row_contiguous_input(inputs, tmp);
  auto& out = outputs[0];
  alloc_norm_out(out, x);
  const array* freqs = has_freqs_ ? &inputs[2] : nullptr;
  switch (x.dtype()) {
    case float32: rope_impl<float>(x, inputs[1], freqs, out, dims_, traditional_, base_, scale_); break;
    case float64: rope_impl<double>(x, inputs[1], freqs, out, dims_, traditional_, base_, scale_); break;
    case float16: rope_impl<float16_t>(x, inputs[1], freqs, out, dims_, traditional_, base_, scale_); break;
    case bfloat16: rope_impl<bfloat16_t>(x, inputs[1], freqs, out, dims_, traditional_, base_, scale_); break;
    default: throw std::runtime_error(msg("[rope] unsupported dtype ", x.dtype(), "."));
  }
}

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  switch (out.dtype()) {
    case float32: sdpa_impl<float>(inputs, out, scale_, mode_, has_sinks_); break;
    case float64: sdpa_impl<double>(inputs, out, scale_, mode_, has_sinks_); break;
    case float16: sdpa_impl<float16_t>(inputs, out, scale_, mode_, has_sinks_); break;
    case bfloat16: sdpa_impl<bfloat16_t>(inputs, out, scale_, mode_, has_sinks_); break;
    default: throw std::runtime_error(msg("[scaled_dot_product_attention] unsupported dtype ", out.dtype(), "."));
  }
}

}  // namespace mlx::core::fast
