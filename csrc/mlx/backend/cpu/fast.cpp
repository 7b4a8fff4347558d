// CPU kernels of the fast primitives: row-wise norms, rotary embedding, attention.
#include "mlx/backend/cpu/blas.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
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

// A 1-D array of any real float type as compute-type values.
template <typename C>
std::vector<C> read_vector(const array& a) {
  switch (a.dtype()) {
    case float16: return load_vector<float16_t, C>(&a, a.size(), C(0));
    case bfloat16: return load_vector<bfloat16_t, C>(&a, a.size(), C(0));
    case float64: return load_vector<double, C>(&a, a.size(), C(0));
    default: return load_vector<float, C>(&a, a.size(), C(0));
  }
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

template <typename T, typename C>
void store_vector(T* dst, const std::vector<C>& v) {
  for (size_t i = 0; i < v.size(); ++i) dst[i] = static_cast<T>(v[i]);
}

// sum(a * b) in vector accumulators.
template <typename C>
inline C row_dot(const C* a, const C* b, size_t n) {
  constexpr size_t W = kW<C>;
  vec_t<C> a0 = {}, a1 = {};
  size_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    a0 += vload(a + i) * vload(b + i);
    a1 += vload(a + i + W) * vload(b + i + W);
  }
  for (; i + W <= n; i += W) a0 += vload(a + i) * vload(b + i);
  C tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return hsum<C>(a0 + a1) + tail;
}

// Gradients of the norms, one pass per row; weight/bias gradients are summed per thread
// and then across threads.
//   xhat = (x - m) * r, gw = g * w, dx = r * (gw - mean(gw) - xhat * mean(gw * xhat))
// (rms norm: m = 0 and no mean(gw) term), dw = sum_rows(g * xhat), db = sum_rows(g).
template <typename T, bool Layer>
void norm_vjp_impl(const array& x, const array* w, const array& g, array* dx, array* dw, array* db, float eps) {
  using C = comp_t<T>;
  size_t n = x.shape(-1);
  size_t rows = n ? x.size() / n : 0;
  std::vector<C> dw_tot(dw ? n : 0, C(0)), db_tot(db ? n : 0, C(0));
  if (rows > 0 && n > 0) {
    std::vector<C> wv = load_vector<T, C>(w, n, C(1));
    const T* xp = x.data<T>();
    const T* gp = g.data<T>();
    T* dxp = dx ? dx->data<T>() : nullptr;
    C ceps = static_cast<C>(eps), inv_n = C(1) / static_cast<C>(n);
    std::mutex mu;
    cpu::parallel_for(rows, row_grain(n), [&](size_t r0, size_t r1) {
      std::vector<C> xb(std::is_same_v<T, C> ? 0 : n), gb(std::is_same_v<T, C> ? 0 : n), xh(n), gw(n);
      std::vector<C> dwl(dw ? n : 0, C(0)), dbl(db ? n : 0, C(0));
      for (size_t r = r0; r < r1; ++r) {
        const C* xr;
        const C* gr;
        if constexpr (std::is_same_v<T, C>) {
          xr = xp + r * n;
          gr = gp + r * n;
        } else {
          for (size_t i = 0; i < n; ++i) xb[i] = static_cast<C>(xp[r * n + i]);
          for (size_t i = 0; i < n; ++i) gb[i] = static_cast<C>(gp[r * n + i]);
          xr = xb.data();
          gr = gb.data();
        }
        C m = Layer ? row_sum<1, C>(xr, n, C(0)) * inv_n : C(0);
        C rs = C(1) / std::sqrt(row_sum<2, C>(xr, n, m) * inv_n + ceps);
        for (size_t i = 0; i < n; ++i) xh[i] = (xr[i] - m) * rs;
        if (dxp) {
          for (size_t i = 0; i < n; ++i) gw[i] = gr[i] * wv[i];
          C a = Layer ? row_sum<1, C>(gw.data(), n, C(0)) * inv_n : C(0);
          C c = row_dot<C>(gw.data(), xh.data(), n) * inv_n;
          T* o = dxp + r * n;
          for (size_t i = 0; i < n; ++i) o[i] = static_cast<T>(rs * (gw[i] - a - xh[i] * c));
        }
        if (dw)
          for (size_t i = 0; i < n; ++i) dwl[i] += gr[i] * xh[i];
        if (db)
          for (size_t i = 0; i < n; ++i) dbl[i] += gr[i];
      }
      if (dw || db) {
        std::lock_guard<std::mutex> lk(mu);
        for (size_t i = 0; i < dwl.size(); ++i) dw_tot[i] += dwl[i];
        for (size_t i = 0; i < dbl.size(); ++i) db_tot[i] += dbl[i];
      }
    });
  }
  if (dw) store_vector(dw->data<T>(), dw_tot);
  if (db) store_vector(db->data<T>(), db_tot);
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
  // cos/sin table per distinct position: (L, half) for a scalar offset, (B, L, half) else.
  size_t Bt = vec_off ? B : 1;
  std::vector<C> cs(Bt * L * half), sn(Bt * L * half);
  cpu::parallel_for(Bt * L, std::max<size_t>(1, 1024 / std::max<size_t>(half, 1)), [&](size_t p0, size_t p1) {
    for (size_t p = p0; p < p1; ++p) {
      size_t b = p / L, l = p % L;
      double pos = (static_cast<double>(off[static_cast<int64_t>(b) * off_st]) + static_cast<double>(l)) *
                   static_cast<double>(scale);
      for (size_t i = 0; i < half; ++i) {
        double th = pos * inv_freq[i];
        cs[p * half + i] = static_cast<C>(std::cos(th));
        sn[p * half + i] = static_cast<C>(std::sin(th));
      }
    }
  });
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  size_t rows = B * H * L;
  cpu::parallel_for(rows, row_grain(D), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      size_t l = row % L, b = row / (H * L);
      const C* c = cs.data() + ((vec_off ? b : 0) * L + l) * half;
      const C* s = sn.data() + ((vec_off ? b : 0) * L + l) * half;
      const T* xr = xp + row * D;
      T* orow = op + row * D;
      if (traditional) {
        for (size_t i = 0; i < half; ++i) {
          C x1 = static_cast<C>(xr[2 * i]), x2 = static_cast<C>(xr[2 * i + 1]);
          orow[2 * i] = static_cast<T>(x1 * c[i] - x2 * s[i]);
          orow[2 * i + 1] = static_cast<T>(x1 * s[i] + x2 * c[i]);
        }
      } else {
        for (size_t i = 0; i < half; ++i) {
          C x1 = static_cast<C>(xr[i]), x2 = static_cast<C>(xr[i + half]);
          orow[i] = static_cast<T>(x1 * c[i] - x2 * s[i]);
          orow[i + half] = static_cast<T>(x1 * s[i] + x2 * c[i]);
        }
      }
      if (orow != xr)
        for (size_t i = dims; i < D; ++i) orow[i] = xr[i];
    }
  });
}

// ---------------------------------------------------------------- attention

template <typename C>
void gemm(bool ta, bool tb, int M, int N, int K, C alpha, const C* A, int lda, const C* B, int ldb, C beta, C* Cm,
          int ldc) {
  auto TA = ta ? CblasTrans : CblasNoTrans;
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<C, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
}

// A (B, N, T, D) operand whose last axis is contiguous and whose rows do not overlap, in type C.
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

// A zero-filled compute-type buffer shaped like `like`.
template <typename C>
array zeros_buffer(const array& like) {
  array c(like.shape(), std::is_same_v<C, double> ? float64 : float32, nullptr, {});
  cpu::alloc_out(c);
  std::memset(c.data<void>(), 0, c.nbytes());
  return c;
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

// Shared state of the attention kernels: operands in the compute type and the masking rules.
// Queries are processed in blocks of nb rows; with `pooled` the blocks run on the thread pool
// with small single-threaded gemms, otherwise in turn with (OpenBLAS-)threaded gemms.
template <typename C>
struct Attention {
  array q, k, v;
  int B, Nq, Tq, D, Nkv, Tkv, Dv, G;
  int ldq, ldk, ldv;
  C scale;
  MaskMode mode;
  const array* mask = nullptr;
  bool has_sinks;
  std::vector<C> sinks;
  int nb = 1;
  bool pooled = true;

  Attention(const std::vector<array>& inputs, float scale_, MaskMode mode_, bool has_sinks_, int64_t row_cost)
      : q(attention_operand<C>(inputs[0])), k(attention_operand<C>(inputs[1])), v(attention_operand<C>(inputs[2])),
        scale(static_cast<C>(scale_)), mode(mode_), has_sinks(has_sinks_) {
    B = q.shape(0), Nq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
    Nkv = k.shape(1), Tkv = k.shape(2), Dv = v.shape(3);
    G = Nkv ? Nq / Nkv : 1;
    auto lead = [](const array& a) {
      return std::max(1, static_cast<int>(a.shape(2) > 1 ? a.strides(2) : a.shape(3)));
    };
    ldq = lead(q), ldk = lead(k), ldv = lead(v);
    if (mode == MaskMode::Array) mask = &inputs[3];
    if (has_sinks) {
      const array& sk = inputs[has_sinks && mode == MaskMode::Array ? 4 : 3];
      sinks = read_vector<C>(sk);
    }
    // Keep every gemm under OpenBLAS's threading threshold (m*n*k <= 4 * 65536) so that
    // blocks can run in parallel; if that leaves too few rows, use threaded gemms.
    constexpr int64_t kSmallGemm = 262144;
    int64_t per_row = std::max<int64_t>(1, static_cast<int64_t>(Tkv) * row_cost);
    nb = static_cast<int>(std::min<int64_t>(std::max(Tq, 1), std::max<int64_t>(1, kSmallGemm / per_row)));
    pooled = nb >= std::min(Tq, 8);
    if (!pooled)
      nb = static_cast<int>(std::min<int64_t>(Tq, std::max<int64_t>(64, (int64_t(1) << 22) / std::max(Tkv, 1))));
  }

  const C* Q(int b, int h, int i0) const {
    return q.data<C>() + b * q.strides(0) + h * q.strides(1) + static_cast<int64_t>(i0) * (Tq > 1 ? q.strides(2) : 0);
  }
  const C* K(int b, int kh) const { return k.data<C>() + b * k.strides(0) + kh * k.strides(1); }
  const C* V(int b, int kh) const { return v.data<C>() + b * v.strides(0) + kh * v.strides(1); }

  // The keys that query rows [i0, i0 + rows) can see: a causal mask hides the keys after
  // the last row's diagonal (their probabilities are 0) unless a row sees no key at all
  // (then it averages over every key, as the finite mask value gives).
  int keys(int i0, int rows) const {
    if (mode != MaskMode::Causal || i0 + Tkv - Tq < 0) return Tkv;
    return std::min(Tkv, i0 + rows + Tkv - Tq);
  }

  // S (rows x n, row stride Tkv) = scale * Q K^T for query rows [i0, i0 + rows) of head (b, h)
  // and the first n keys.
  void scores(C* S, int b, int h, int i0, int rows, int n) const {
    gemm<C>(false, true, rows, n, D, scale, Q(b, h, i0), ldq, K(b, h / G), ldk, C(0), S, Tkv);
  }

  // Masks and softmaxes rows [r0, r1) of S (n keys) in place; psink[r] gets the sink's
  // probability. A causal row softmaxes over the keys it sees and gets zeros after them (what
  // the hidden keys' finite mask value gives); a row that sees no key averages over all of
  // them, as that value gives too.
  void probs(C* S, int b, int h, int i0, int r0, int r1, int n, C* psink) const {
    const C neg = -std::numeric_limits<float>::max();
    for (int r = r0; r < r1; ++r) {
      C* s = S + static_cast<int64_t>(r) * Tkv;
      int i = i0 + r;
      int nv = n;  // keys the softmax covers; the rest are zero
      if (mode == MaskMode::Causal) {
        int first_hidden = i + Tkv - Tq + 1;
        if (first_hidden > 0) nv = std::min(n, first_hidden);
        else std::fill(s, s + n, neg);
      } else if (mask) {
        const char* base = static_cast<const char*>(mask->data<void>());
        int64_t off = static_cast<int64_t>(b) * mask->strides(0) + static_cast<int64_t>(h) * mask->strides(1) +
                      static_cast<int64_t>(i) * mask->strides(2);
        int64_t ms = mask->strides(3);
        switch (mask->dtype()) {
          case bool_: apply_mask_row<bool, C>(s, reinterpret_cast<const bool*>(base) + off, ms, n); break;
          case float16: apply_mask_row<float16_t, C>(s, reinterpret_cast<const float16_t*>(base) + off, ms, n); break;
          case bfloat16: apply_mask_row<bfloat16_t, C>(s, reinterpret_cast<const bfloat16_t*>(base) + off, ms, n); break;
          case float32: apply_mask_row<float, C>(s, reinterpret_cast<const float*>(base) + off, ms, n); break;
          case float64: apply_mask_row<double, C>(s, reinterpret_cast<const double*>(base) + off, ms, n); break;
          default: break;
        }
      }
      C m0 = has_sinks ? sinks[h] : -std::numeric_limits<C>::infinity();
      C m, tot;
      if constexpr (std::is_same_v<C, float>) {
        m = simd::max_span(s, nv, m0);
        tot = simd::exp_shift_sum(s, s, nv, m);
      } else {
        m = m0;
        for (int j = 0; j < nv; ++j) m = s[j] > m ? s[j] : m;
        tot = 0;
        for (int j = 0; j < nv; ++j) {
          s[j] = std::exp(s[j] - m);
          tot += s[j];
        }
      }
      C es = has_sinks ? std::exp(sinks[h] - m) : C(0);
      C inv = C(1) / (tot + es);
      if constexpr (std::is_same_v<C, float>) simd::scale_span(s, nv, inv);
      else for (int j = 0; j < nv; ++j) s[j] *= inv;
      std::fill(s + nv, s + n, C(0));
      if (psink) psink[r] = es * inv;
    }
  }

  // Zeroes the entries of a row that a causal or boolean mask replaced (no gradient flows).
  void zero_masked(C* d, int b, int h, int i, int n) const {
    if (mode == MaskMode::Causal) {
      for (int j = std::max(i + Tkv - Tq + 1, 0); j < n; ++j) d[j] = 0;
    } else if (mask && mask->dtype() == bool_) {
      const bool* m = mask->data<bool>() + static_cast<int64_t>(b) * mask->strides(0) +
                      static_cast<int64_t>(h) * mask->strides(1) + static_cast<int64_t>(i) * mask->strides(2);
      int64_t ms = mask->strides(3);
      for (int j = 0; j < n; ++j)
        if (!m[j * ms]) d[j] = 0;
    }
  }
};

template <typename T, typename C>
void store_rows(T* dst, const C* src, int64_t n) {
  for (int64_t e = 0; e < n; ++e) dst[e] = static_cast<T>(src[e]);
}

template <typename T>
void sdpa_impl(const std::vector<array>& inputs, array& out, float scale, MaskMode mode, bool has_sinks) {
  using C = comp_t<T>;
  if (out.size() == 0) return;
  T* op = out.data<T>();
  Attention<C> at(inputs, scale, mode, has_sinks, std::max(inputs[0].shape(3), inputs[2].shape(3)));
  int Tq = at.Tq, Tkv = at.Tkv, Dv = at.Dv, Nq = at.Nq, nb = at.nb;
  if (Tkv == 0) {
    for (size_t i = 0; i < out.size(); ++i) op[i] = T(0);
    return;
  }
  int nblk = (Tq + nb - 1) / nb;
  auto block = [&](C* S, C* O, int64_t t, bool par) {
    int blk = static_cast<int>(t % nblk);
    int64_t bh = t / nblk;
    int h = static_cast<int>(bh % Nq), b = static_cast<int>(bh / Nq);
    int i0 = blk * nb, rows = std::min(nb, Tq - i0), n = at.keys(i0, rows);
    at.scores(S, b, h, i0, rows, n);
    if (par) {
      cpu::parallel_for(rows, row_grain(n), [&](size_t r0, size_t r1) {
        at.probs(S, b, h, i0, static_cast<int>(r0), static_cast<int>(r1), n, nullptr);
      });
    } else {
      at.probs(S, b, h, i0, 0, rows, n, nullptr);
    }
    T* dst = op + ((static_cast<int64_t>(b) * Nq + h) * Tq + i0) * Dv;
    const C* V = at.V(b, h / at.G);
    if constexpr (std::is_same_v<T, C>) {
      gemm<C>(false, false, rows, Dv, n, C(1), S, Tkv, V, at.ldv, C(0), dst, Dv);
    } else {
      gemm<C>(false, false, rows, Dv, n, C(1), S, Tkv, V, at.ldv, C(0), O, Dv);
      store_rows(dst, O, static_cast<int64_t>(rows) * Dv);
    }
  };
  int64_t tasks = static_cast<int64_t>(at.B) * Nq * nblk;
  size_t obuf = std::is_same_v<T, C> ? 0 : static_cast<size_t>(nb) * Dv;
  if (at.pooled) {
    cpu::parallel_for(tasks, 1, [&](size_t t0, size_t t1) {
      std::vector<C> S(static_cast<size_t>(nb) * Tkv), O(obuf);
      for (size_t t = t0; t < t1; ++t) block(S.data(), O.data(), static_cast<int64_t>(t), false);
    });
  } else {
    std::vector<C> S(static_cast<size_t>(nb) * Tkv), O(obuf);
    for (int64_t t = 0; t < tasks; ++t) block(S.data(), O.data(), t, true);
  }
}

// Backward: for each (b, kv head), over its query heads and query blocks:
//   P = softmax(S), dV += P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)) (zero where masked),
//   dQ = scale dS K, dK += scale dS^T Q, d(additive mask) = dS, d(sink) = -p_sink rowsum(P dP).
template <typename T>
void sdpa_vjp_impl(const std::vector<array>& inputs, std::vector<array>& outputs, float scale, MaskMode mode,
                   bool has_sinks, const std::vector<int>& argnums) {
  using C = comp_t<T>;
  int nin = static_cast<int>(inputs.size()) - 1;  // forward inputs
  int sink_idx = has_sinks ? nin - 1 : -1;
  int mask_idx = mode == MaskMode::Array ? 3 : -1;
  array* dq_out = nullptr;
  array* dk_out = nullptr;
  array* dv_out = nullptr;
  array* dm_out = nullptr;
  array* ds_out = nullptr;
  for (size_t i = 0; i < argnums.size(); ++i) {
    int a = argnums[i];
    array* o = &outputs[i];
    cpu::alloc_out(*o);
    if (a == 0) dq_out = o;
    else if (a == 1) dk_out = o;
    else if (a == 2) dv_out = o;
    else if (a == mask_idx) dm_out = o;
    else if (a == sink_idx) ds_out = o;
  }
  std::vector<array> fwd(inputs.begin(), inputs.end() - 1);
  Attention<C> at(fwd, scale, mode, has_sinks, std::max(inputs[0].shape(3), inputs[2].shape(3)));
  array dO = attention_operand<C>(inputs.back());
  int B = at.B, Nq = at.Nq, Nkv = at.Nkv, Tq = at.Tq, Tkv = at.Tkv, D = at.D, Dv = at.Dv, G = at.G, nb = at.nb;
  for (auto* o : {dq_out, dk_out, dv_out, dm_out, ds_out})
    if (o) std::memset(o->raw_ptr(), 0, o->nbytes());
  if (B == 0 || Nq == 0 || Tq == 0 || Tkv == 0) return;
  bool need_ds = dq_out || dk_out || dm_out || ds_out;
  // dK/dV accumulate in the compute type: in the outputs themselves when they have it.
  array dk_acc, dv_acc;
  if (dk_out) dk_acc = std::is_same_v<T, C> ? *dk_out : zeros_buffer<C>(*dk_out);
  if (dv_out) dv_acc = std::is_same_v<T, C> ? *dv_out : zeros_buffer<C>(*dv_out);
  std::vector<C> dsink(has_sinks && ds_out ? static_cast<size_t>(B) * Nq : 0, C(0));
  int64_t dos0 = dO.strides(0), dos1 = dO.strides(1), dos2 = Tq > 1 ? dO.strides(2) : 0;
  int lddo = std::max(1, static_cast<int>(Tq > 1 ? dO.strides(2) : Dv));
  const C* dop = dO.data<C>();

  struct Buffers {
    std::vector<C> S, dP, tmp, psink;
  };
  auto make_buffers = [&]() {
    Buffers bf;
    bf.S.resize(static_cast<size_t>(nb) * Tkv);
    bf.dP.resize(static_cast<size_t>(nb) * Tkv);
    bf.tmp.resize(std::is_same_v<T, C> ? 0 : static_cast<size_t>(nb) * D);
    bf.psink.resize(nb);
    return bf;
  };
  // Rows [i0, i0 + rows) of query head h (kv head h / G) of batch b.
  auto block = [&](Buffers& bf, int b, int h, int i0, int rows, bool par) {
    int kh = h / G;
    C* S = bf.S.data();
    C* dP = bf.dP.data();
    C* ps = has_sinks ? bf.psink.data() : nullptr;
    const C* dOb = dop + b * dos0 + h * dos1 + static_cast<int64_t>(i0) * dos2;
    int n = at.keys(i0, rows);
    at.scores(S, b, h, i0, rows, n);
    auto rows_op = [&](auto&& f) {
      if (par) {
        cpu::parallel_for(rows, row_grain(n), [&](size_t r0, size_t r1) { f(static_cast<int>(r0), static_cast<int>(r1)); });
      } else {
        f(0, rows);
      }
    };
    rows_op([&](int r0, int r1) { at.probs(S, b, h, i0, r0, r1, n, ps); });
    if (dv_out) {
      C* dV = dv_acc.data<C>() + (static_cast<int64_t>(b) * Nkv + kh) * Tkv * Dv;
      gemm<C>(true, false, n, Dv, rows, C(1), S, Tkv, dOb, lddo, C(1), dV, Dv);
    }
    if (!need_ds) return;
    gemm<C>(false, true, rows, n, Dv, C(1), dOb, lddo, at.V(b, kh), at.ldv, C(0), dP, Tkv);
    rows_op([&](int r0, int r1) {
      for (int r = r0; r < r1; ++r) {
        C* p = S + static_cast<int64_t>(r) * Tkv;
        C* d = dP + static_cast<int64_t>(r) * Tkv;
        C rs = 0;
        for (int j = 0; j < n; ++j) rs += p[j] * d[j];
        for (int j = 0; j < n; ++j) d[j] = p[j] * (d[j] - rs);
        at.zero_masked(d, b, h, i0 + r, n);
        if (ps) ps[r] *= rs;  // summed into dsink below (rows may run on several threads)
        if (dm_out) {
          T* dm = dm_out->data<T>() + ((static_cast<int64_t>(b) * Nq + h) * Tq + i0 + r) * Tkv;
          store_rows(dm, d, n);
        }
      }
    });
    if (ps && ds_out)
      for (int r = 0; r < rows; ++r) dsink[static_cast<size_t>(b) * Nq + h] -= ps[r];
    if (dq_out) {
      T* dst = dq_out->data<T>() + ((static_cast<int64_t>(b) * Nq + h) * Tq + i0) * D;
      if constexpr (std::is_same_v<T, C>) {
        gemm<C>(false, false, rows, D, n, at.scale, dP, Tkv, at.K(b, kh), at.ldk, C(0), dst, D);
      } else {
        gemm<C>(false, false, rows, D, n, at.scale, dP, Tkv, at.K(b, kh), at.ldk, C(0), bf.tmp.data(), D);
        store_rows(dst, bf.tmp.data(), static_cast<int64_t>(rows) * D);
      }
    }
    if (dk_out) {
      C* dK = dk_acc.data<C>() + (static_cast<int64_t>(b) * Nkv + kh) * Tkv * D;
      gemm<C>(true, false, n, D, rows, at.scale, dP, Tkv, at.Q(b, h, i0), at.ldq, C(1), dK, D);
    }
  };
  int nblk = (Tq + nb - 1) / nb;
  // One task per (b, kv head): its dK/dV rows are written by that task only.
  auto task = [&](Buffers& bf, int64_t t, bool par) {
    int b = static_cast<int>(t / Nkv), kh = static_cast<int>(t % Nkv);
    for (int g = 0; g < G; ++g)
      for (int blk = 0; blk < nblk; ++blk) {
        int i0 = blk * nb;
        block(bf, b, kh * G + g, i0, std::min(nb, Tq - i0), par);
      }
  };
  int64_t tasks = static_cast<int64_t>(B) * Nkv;
  if (at.pooled && tasks >= cpu::num_threads()) {
    cpu::parallel_for(tasks, 1, [&](size_t t0, size_t t1) {
      Buffers bf = make_buffers();
      for (size_t t = t0; t < t1; ++t) task(bf, static_cast<int64_t>(t), false);
    });
  } else {
    Buffers bf = make_buffers();
    for (int64_t t = 0; t < tasks; ++t) task(bf, t, true);
  }
  if (dk_out && !std::is_same_v<T, C>) store_rows(dk_out->data<T>(), dk_acc.data<C>(), dk_out->size());
  if (dv_out && !std::is_same_v<T, C>) store_rows(dv_out->data<T>(), dv_acc.data<C>(), dv_out->size());
  if (ds_out) {
    T* o = ds_out->data<T>();
    for (int h = 0; h < Nq; ++h) {
      C acc = 0;
      for (int b = 0; b < B; ++b) acc += dsink[static_cast<size_t>(b) * Nq + h];
      o[h] = static_cast<T>(acc);
    }
  }
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  norm_dispatch<0>(inputs, outputs[0], eps_, has_weight_, false);
}

void LayerNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  norm_dispatch<1>(inputs, outputs[0], eps_, has_weight_, has_bias_);
}

void NormVJP::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::ensure_row_contiguous(inputs[0]);
  array g = cpu::ensure_row_contiguous(inputs.back());
  const array* w = has_weight_ ? &inputs[1] : nullptr;
  array *dx = nullptr, *dw = nullptr, *db = nullptr;
  for (size_t i = 0; i < argnums_.size(); ++i) {
    int a = argnums_[i];
    cpu::alloc_out(outputs[i]);
    if (a == 0) dx = &outputs[i];
    else if (a == 1 && has_weight_) dw = &outputs[i];
    else db = &outputs[i];
  }
#define MLX_NORM_VJP(T)                                                  \
  if (layer_) norm_vjp_impl<T, true>(x, w, g, dx, dw, db, eps_);         \
  else norm_vjp_impl<T, false>(x, w, g, dx, dw, db, eps_);
  switch (x.dtype()) {
    case float32: MLX_NORM_VJP(float) break;
    case float64: MLX_NORM_VJP(double) break;
    case float16: MLX_NORM_VJP(float16_t) break;
    case bfloat16: MLX_NORM_VJP(bfloat16_t) break;
    default: throw std::runtime_error(msg("[fast norm vjp] unsupported dtype ", x.dtype(), "."));
  }
#undef MLX_NORM_VJP
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

void ScaledDotProductAttentionVJP::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  switch (inputs[0].dtype()) {
    case float32: sdpa_vjp_impl<float>(inputs, outputs, scale_, mode_, has_sinks_, argnums_); break;
    case float64: sdpa_vjp_impl<double>(inputs, outputs, scale_, mode_, has_sinks_, argnums_); break;
    case float16: sdpa_vjp_impl<float16_t>(inputs, outputs, scale_, mode_, has_sinks_, argnums_); break;
    case bfloat16: sdpa_vjp_impl<bfloat16_t>(inputs, outputs, scale_, mode_, has_sinks_, argnums_); break;
    default: throw std::runtime_error(msg("[scaled_dot_product_attention] unsupported dtype ", inputs[0].dtype(), "."));
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
