// CPU kernels of the sort/scan family.
#include "mlx/backend/cpu/blas.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "mlx/backend/cpu/simd_math.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/sort_scan.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

// (outer, n, inner) sizes of a row-contiguous array around `axis`.
struct Dims {
  size_t outer = 1, n = 1, inner = 1;
};
Dims dims_around(const array& a, int axis) {
  Dims d;
  for (int i = 0; i < axis; ++i) d.outer *= a.shape(i);
  d.n = a.shape(axis);
  for (size_t i = axis + 1; i < a.ndim(); ++i) d.inner *= a.shape(i);
  return d;
}

// ------------------------------------------------------------------ scans
template <typename T>
using scan_acc_t = std::conditional_t<is_half<T>::value, float, T>;

template <typename A>
A lowest_of() {
  if constexpr (is_cplx<A>::value) return A(-INFINITY, 0);
  else if constexpr (std::is_same_v<A, bool>) return false;
  else if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::lowest();
}
template <typename A>
A highest_of() {
  if constexpr (is_cplx<A>::value) return A(INFINITY, 0);
  else if constexpr (std::is_same_v<A, bool>) return true;
  else if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::max();
}

template <typename A>
bool greater_than(A x, A y) {
  if constexpr (is_cplx<A>::value) return x.real() > y.real() || (x.real() == y.real() && x.imag() > y.imag());
  else return x > y;
}
template <typename A>
bool is_nan_v(A x) {
  if constexpr (is_cplx<A>::value) return x.real() != x.real() || x.imag() != x.imag();
  else if constexpr (std::is_floating_point_v<A>) return x != x;
  else return false;
}

template <ScanType R, typename A>
struct ScanOp {
  static A init() {
    if constexpr (R == ScanType::Sum) return A(0);
    else if constexpr (R == ScanType::Prod) return A(1);
    else if constexpr (R == ScanType::Max) return lowest_of<A>();
    else if constexpr (R == ScanType::Min) return highest_of<A>();
    else {
      if constexpr (is_cplx<A>::value) return A(-INFINITY, 0);
      else return -std::numeric_limits<A>::infinity();
    }
  }
  static A combine(A acc, A x) {
    if constexpr (R == ScanType::Sum) {
      if constexpr (std::is_same_v<A, bool>) return acc || x;
      else return static_cast<A>(acc + x);
    } else if constexpr (R == ScanType::Prod) {
      if constexpr (std::is_same_v<A, bool>) return acc && x;
      else return static_cast<A>(acc * x);
    } else if constexpr (R == ScanType::Max) {
      return (greater_than(x, acc) || is_nan_v(x)) ? x : acc;
    } else if constexpr (R == ScanType::Min) {
      return (greater_than(acc, x) || is_nan_v(x)) ? x : acc;
    } else {
      if constexpr (is_cplx<A>::value) {
        if (std::isinf(acc.real()) && acc.real() < 0) return x;
        if (std::isinf(x.real()) && x.real() < 0) return acc;
        A hi = acc.real() >= x.real() ? acc : x;
        A lo = acc.real() >= x.real() ? x : acc;
        return hi + std::log(A(1, 0) + std::exp(lo - hi));
      } else {
        if (acc == -std::numeric_limits<A>::infinity()) return x;
        if (x == -std::numeric_limits<A>::infinity()) return acc;
        if (acc == x) return acc + static_cast<A>(M_LN2);
        A hi = acc > x ? acc : x;
        A d = acc > x ? x - acc : acc - x;
        if constexpr (std::is_same_v<A, float>) {
          float e = simd::exp(d);
          // log1p(e): log(1 + e) corrected for the rounding of 1 + e.
          float u = 1.0f + e;
          float l = simd::log(u);
          return hi + (u == 1.0f ? e : l * (e / (u - 1.0f)));
        } else {
          return hi + std::log1p(std::exp(d));
        }
      }
    }
  }
};

// Scans `w` independent lanes: element i of lane j is at x[i * stride + j * lane].
template <ScanType R, typename T>
void scan_lanes(const T* x, T* o, size_t n, size_t stride, size_t lane, size_t w, bool reverse, bool inclusive,
                scan_acc_t<T>* acc) {
  using A = scan_acc_t<T>;
  using Op = ScanOp<R, A>;
  for (size_t j = 0; j < w; ++j) acc[j] = Op::init();
  for (size_t s = 0; s < n; ++s) {
    size_t i = reverse ? n - 1 - s : s;
    const T* xr = x + i * stride;
    T* orow = o + i * stride;
    if (inclusive) {
      for (size_t j = 0; j < w; ++j) {
        acc[j] = Op::combine(acc[j], static_cast<A>(xr[j * lane]));
        orow[j * lane] = cast_to<T>(acc[j]);
      }
    } else {
      for (size_t j = 0; j < w; ++j) {
        orow[j * lane] = cast_to<T>(acc[j]);
        acc[j] = Op::combine(acc[j], static_cast<A>(xr[j * lane]));
      }
    }
  }
}

template <ScanType R, typename T>
void scan_impl(const array& in, array& out, int axis, bool reverse, bool inclusive) {
  using A = scan_acc_t<T>;
  Dims d = dims_around(in, axis);
  const T* x = in.data<T>();
  T* o = out.data<T>();
  if (d.inner == 1) {
    size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(d.n, 1));
    // log-add-exp rows are scanned 8 at a time so that their (long) dependency chains overlap.
    constexpr size_t L = R == ScanType::LogAddExp ? 8 : 1;
    size_t nb = (d.outer + L - 1) / L;
    grain = std::max<size_t>(1, grain / L);
    cpu::parallel_for(nb, grain, [&](size_t b, size_t e) {
      A acc[L];
      for (size_t t = b; t < e; ++t) {
        size_t r = t * L, w = std::min(L, d.outer - r);
        scan_lanes<R, T>(x + r * d.n, o + r * d.n, d.n, 1, d.n, w, reverse, inclusive, acc);
      }
    });
    return;
  }
  const size_t blk = 512;
  size_t nblk = (d.inner + blk - 1) / blk;
  size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(d.n * blk, 1));
  cpu::parallel_for(d.outer * nblk, grain, [&](size_t b, size_t e) {
    std::unique_ptr<A[]> acc(new A[blk]);
    for (size_t t = b; t < e; ++t) {
      size_t ob = t / nblk, ib = (t % nblk) * blk;
      size_t w = std::min(blk, d.inner - ib);
      size_t base = ob * d.n * d.inner + ib;
      scan_lanes<R, T>(x + base, o + base, d.n, d.inner, 1, w, reverse, inclusive, acc.get());
    }
  });
}

template <ScanType R>
void scan_dispatch(const array& in, array& out, int axis, bool reverse, bool inclusive) {
  if constexpr (R == ScanType::LogAddExp) {
    switch (in.dtype()) {
      case float16: scan_impl<R, float16_t>(in, out, axis, reverse, inclusive); break;
      case bfloat16: scan_impl<R, bfloat16_t>(in, out, axis, reverse, inclusive); break;
      case float32: scan_impl<R, float>(in, out, axis, reverse, inclusive); break;
      case float64: scan_impl<R, double>(in, out, axis, reverse, inclusive); break;
      case complex64: scan_impl<R, complex64_t>(in, out, axis, reverse, inclusive); break;
      default: throw std::runtime_error(msg("[logcumsumexp] unsupported dtype ", in.dtype(), "."));
    }
  } else {
    MLX_DISPATCH_ALL(in.dtype(), { scan_impl<R, T>(in, out, axis, reverse, inclusive); });
  }
}

// ------------------------------------------------------------------ sorting
// Strict weak order with NaNs last (complex: lexicographic).
template <typename T>
struct Less {
  bool operator()(const T& a, const T& b) const {
    if constexpr (is_cplx<T>::value) {
      return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
    } else if constexpr (is_half<T>::value) {
      float fa = static_cast<float>(a), fb = static_cast<float>(b);
      return fa < fb || (fb != fb && fa == fa);
    } else if constexpr (std::is_floating_point_v<T>) {
      return a < b || (b != b && a == a);
    } else {
      return a < b;
    }
  }
};

// Unsigned integer keys whose order is the sort order of T: NaNs last, -0 == +0.
template <typename T>
struct Key {
  using type = void;
};
#define MLX_UKEY(T, K)                                   \
  template <>                                            \
  struct Key<T> {                                        \
    using type = K;                                      \
    static K get(T x) { return static_cast<K>(x); }      \
  };
MLX_UKEY(bool, uint8_t)
MLX_UKEY(uint8_t, uint8_t)
MLX_UKEY(uint16_t, uint16_t)
MLX_UKEY(uint32_t, uint32_t)
MLX_UKEY(uint64_t, uint64_t)
#undef MLX_UKEY
#define MLX_SKEY(T, K)                                                                        \
  template <>                                                                                 \
  struct Key<T> {                                                                             \
    using type = K;                                                                           \
    static K get(T x) { return static_cast<K>(x) ^ (K(1) << (sizeof(K) * 8 - 1)); }          \
  };
MLX_SKEY(int8_t, uint8_t)
MLX_SKEY(int16_t, uint16_t)
MLX_SKEY(int32_t, uint32_t)
MLX_SKEY(int64_t, uint64_t)
#undef MLX_SKEY

// Order-preserving float bits -> key. `canonical` maps -0 to +0 and every NaN to the top key
// (ties among them are then broken by index); otherwise the map is invertible (NaNs still last).
template <typename K>
K float_key(K bits, bool nan, bool canonical) {
  constexpr K sign = K(1) << (sizeof(K) * 8 - 1);
  if (nan) return canonical ? ~K(0) : K(bits | sign);
  if (canonical && bits == sign) bits = 0;
  return (bits & sign) ? K(~bits) : K(bits | sign);
}
template <typename K>
K float_unkey(K k) {
  constexpr K sign = K(1) << (sizeof(K) * 8 - 1);
  return (k & sign) ? K(k & ~sign) : K(~k);
}
template <>
struct Key<float> {
  using type = uint32_t;
  static uint32_t bits(float x) { uint32_t b; std::memcpy(&b, &x, 4); return b; }
  static uint32_t get(float x) { return float_key<uint32_t>(bits(x), x != x, true); }
  static uint32_t raw(float x) { return float_key<uint32_t>(bits(x), x != x, false); }
  static float inv(uint32_t k) { uint32_t b = float_unkey(k); float x; std::memcpy(&x, &b, 4); return x; }
};
template <>
struct Key<double> {
  using type = uint64_t;
  static uint64_t bits(double x) { uint64_t b; std::memcpy(&b, &x, 8); return b; }
  static uint64_t get(double x) { return float_key<uint64_t>(bits(x), x != x, true); }
  static uint64_t raw(double x) { return float_key<uint64_t>(bits(x), x != x, false); }
  static double inv(uint64_t k) { uint64_t b = float_unkey(k); double x; std::memcpy(&x, &b, 8); return x; }
};
template <>
struct Key<float16_t> {
  using type = uint16_t;
  static bool nan(uint16_t b) { return (b & 0x7fff) > 0x7c00; }
  static uint16_t get(float16_t x) { return float_key<uint16_t>(x.bits(), nan(x.bits()), true); }
  static uint16_t raw(float16_t x) { return float_key<uint16_t>(x.bits(), nan(x.bits()), false); }
  static float16_t inv(uint16_t k) { return float16_t::from_bits(float_unkey(k)); }
};
template <>
struct Key<bfloat16_t> {
  using type = uint16_t;
  static bool nan(uint16_t b) { return (b & 0x7fff) > 0x7f80; }
  static uint16_t get(bfloat16_t x) { return float_key<uint16_t>(x.bits(), nan(x.bits()), true); }
  static uint16_t raw(bfloat16_t x) { return float_key<uint16_t>(x.bits(), nan(x.bits()), false); }
  static bfloat16_t inv(uint16_t k) { return bfloat16_t::from_bits(float_unkey(k)); }
};

template <typename T>
using key_t = typename Key<T>::type;
template <typename T>
constexpr bool has_key = !std::is_void_v<key_t<T>>;
template <typename T>
using kstore_t = std::conditional_t<has_key<T>, key_t<T>, uint8_t>;

// Integer keys are their own raw keys.
template <typename T>
kstore_t<T> raw_key(T x) {
  if constexpr (std::is_floating_point_v<T> || is_half<T>::value) return Key<T>::raw(x);
  else return Key<T>::get(x);
}
template <typename T>
T from_raw_key(kstore_t<T> k) {
  if constexpr (std::is_floating_point_v<T> || is_half<T>::value) {
    return Key<T>::inv(k);
  } else if constexpr (std::is_same_v<T, bool>) {
    return k != 0;
  } else {
    using K = key_t<T>;
    if constexpr (std::is_signed_v<T>) return static_cast<T>(static_cast<K>(k ^ (K(1) << (sizeof(K) * 8 - 1))));
    else return static_cast<T>(k);
  }
}

// Scratch for one line, reused across the lines of a chunk.
template <typename T>
struct LineBuf {
  std::vector<T> vals;
  std::vector<uint32_t> idx, idx2;
  std::vector<kstore_t<T>> k1, k2;
  std::vector<uint64_t> packed;
  explicit LineBuf(size_t n) : vals(n), idx(n), idx2(n), k1(n), k2(n) {}
};

// Calls f(base, n, stride, buf) for every line along axis, with scratch per chunk.
template <typename T, typename F>
void for_each_line(const array& in, int axis, F&& f) {
  Dims d = dims_around(in, axis);
  size_t lines = d.outer * d.inner;
  size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(d.n * 8, 1));
  cpu::parallel_for(lines, grain, [&](size_t b, size_t e) {
    LineBuf<T> buf(d.n);
    for (size_t l = b; l < e; ++l) {
      size_t ob = l / d.inner, ib = l % d.inner;
      f(ob * d.n * d.inner + ib, d.n, d.inner, buf);
    }
  });
}

// LSD radix sort of keys[0..n) on bytes (stable); with `idx`, the permutation follows along.
// The result ends in keys/idx.
template <typename K>
void radix_sort(size_t n, K* keys, K* kt, uint32_t* idx, uint32_t* it) {
  constexpr int P = sizeof(K);
  size_t hist[P][256];
  std::memset(hist, 0, sizeof(hist));
  for (size_t i = 0; i < n; ++i) {
    K k = keys[i];
    for (int p = 0; p < P; ++p) hist[p][(k >> (8 * p)) & 255]++;
  }
  K* ks = keys;
  K* kd = kt;
  uint32_t* is = idx;
  uint32_t* id = it;
  for (int p = 0; p < P; ++p) {
    size_t* h = hist[p];
    bool trivial = false;
    for (int b = 0; b < 256; ++b) trivial |= h[b] == n;
    if (trivial) continue;
    size_t off[256], acc = 0;
    for (int b = 0; b < 256; ++b) {
      off[b] = acc;
      acc += h[b];
    }
    int sh = 8 * p;
    if (is) {
      for (size_t i = 0; i < n; ++i) {
        K k = ks[i];
        size_t pos = off[(k >> sh) & 255]++;
        kd[pos] = k;
        id[pos] = is[i];
      }
      std::swap(is, id);
    } else {
      for (size_t i = 0; i < n; ++i) {
        K k = ks[i];
        kd[off[(k >> sh) & 255]++] = k;
      }
    }
    std::swap(ks, kd);
  }
  if (ks != keys) std::copy(ks, ks + n, keys);
  if (is && is != idx) std::copy(is, is + n, idx);
}

// The stable sorting permutation of the line in buf.vals (into buf.idx).
template <typename T>
void line_argsort(size_t n, LineBuf<T>& buf) {
  std::iota(buf.idx.begin(), buf.idx.begin() + n, 0u);
  if constexpr (!has_key<T>) {
    Less<T> lt;
    std::stable_sort(buf.idx.begin(), buf.idx.begin() + n,
                     [&](uint32_t a, uint32_t b) { return lt(buf.vals[a], buf.vals[b]); });
  } else {
    auto* k = buf.k1.data();
    for (size_t i = 0; i < n; ++i) k[i] = Key<T>::get(buf.vals[i]);
    if (n < 64) {
      std::stable_sort(buf.idx.begin(), buf.idx.begin() + n, [&](uint32_t a, uint32_t b) { return k[a] < k[b]; });
    } else {
      radix_sort(n, k, buf.k2.data(), buf.idx.data(), buf.idx2.data());
    }
  }
}

// Sorts buf.vals[0..n) in place.
template <typename T>
void line_sort(size_t n, LineBuf<T>& buf) {
  if constexpr (!has_key<T>) {
    std::sort(buf.vals.begin(), buf.vals.begin() + n, Less<T>());
  } else {
    auto* k = buf.k1.data();
    for (size_t i = 0; i < n; ++i) k[i] = raw_key(static_cast<T>(buf.vals[i]));
    if (n < 64) std::sort(k, k + n);
    else radix_sort<kstore_t<T>>(n, k, buf.k2.data(), nullptr, nullptr);
    for (size_t i = 0; i < n; ++i) buf.vals[i] = from_raw_key<T>(k[i]);
  }
}

// Runs a line kernel over rows of a row-contiguous copy with `axis` moved last (cache
// friendly), writing into `out` through the inverse permutation when axis is not last.
template <typename F>
void along_last_axis(const array& in, array& out, int axis, F&& kernel) {
  int nd = static_cast<int>(in.ndim());
  if (axis == nd - 1) {
    cpu::alloc_out(out);
    kernel(in, out, axis);
    return;
  }
  std::vector<int> perm;
  for (int i = 0; i < nd; ++i)
    if (i != axis) perm.push_back(i);
  perm.push_back(axis);
  Shape psh(nd);
  Strides pst(nd);
  for (int i = 0; i < nd; ++i) {
    psh[i] = in.shape(perm[i]);
    pst[i] = in.strides(perm[i]);
  }
  array view(psh, in.dtype(), nullptr, {});
  view.copy_shared_buffer(in, pst, Flags{false, false, false}, in.data_size(), 0);
  array tin = cpu::ensure_row_contiguous(view);
  array tout(psh, out.dtype(), nullptr, {});
  cpu::alloc_out(tout);
  kernel(tin, tout, nd - 1);
  // tout viewed in the original axis order.
  Strides rs = row_strides(psh), ost(nd);
  for (int i = 0; i < nd; ++i) ost[perm[i]] = rs[i];
  array back(out.shape(), out.dtype(), nullptr, {});
  back.copy_shared_buffer(tout, ost, Flags{false, false, false}, tout.size(), 0);
  cpu::alloc_out(out);
  cpu::copy_to_contiguous(back, out);
}

template <typename T>
void sort_impl(const array& in, array& out, int axis) {
  const T* x = in.data<T>();
  T* o = out.data<T>();
  for_each_line<T>(in, axis, [&](size_t base, size_t n, size_t stride, LineBuf<T>& buf) {
    for (size_t i = 0; i < n; ++i) buf.vals[i] = x[base + i * stride];
    line_sort(n, buf);
    for (size_t i = 0; i < n; ++i) o[base + i * stride] = buf.vals[i];
  });
}

template <typename T>
void argsort_impl(const array& in, array& out, int axis) {
  const T* x = in.data<T>();
  uint32_t* o = out.data<uint32_t>();
  for_each_line<T>(in, axis, [&](size_t base, size_t n, size_t stride, LineBuf<T>& buf) {
    for (size_t i = 0; i < n; ++i) buf.vals[i] = x[base + i * stride];
    line_argsort(n, buf);
    for (size_t i = 0; i < n; ++i) o[base + i * stride] = buf.idx[i];
  });
}

// Writes the partition permutation (and values when `vals_out` is given). Ties are broken
// by index, so the result is deterministic.
template <typename T>
void argpartition_impl(const array& in, uint32_t* o, T* vals_out, int axis, int kth) {
  const T* x = in.data<T>();
  for_each_line<T>(in, axis, [&](size_t base, size_t n, size_t stride, LineBuf<T>& buf) {
    for (size_t i = 0; i < n; ++i) buf.vals[i] = x[base + i * stride];
    auto& idx = buf.idx;
    if constexpr (!has_key<T>) {
      std::iota(idx.begin(), idx.begin() + n, 0u);
      Less<T> lt;
      std::nth_element(idx.begin(), idx.begin() + kth, idx.begin() + n, [&](uint32_t a, uint32_t b) {
        if (lt(buf.vals[a], buf.vals[b])) return true;
        if (lt(buf.vals[b], buf.vals[a])) return false;
        return a < b;
      });
    } else if constexpr (sizeof(key_t<T>) <= 4) {
      // (key, index) packed in one word.
      auto& pk = buf.packed;
      pk.resize(n);
      for (size_t i = 0; i < n; ++i) pk[i] = (static_cast<uint64_t>(Key<T>::get(buf.vals[i])) << 32) | i;
      std::nth_element(pk.begin(), pk.begin() + kth, pk.begin() + n);
      for (size_t i = 0; i < n; ++i) idx[i] = static_cast<uint32_t>(pk[i] & 0xffffffffu);
    } else {
      std::iota(idx.begin(), idx.begin() + n, 0u);
      auto& k = buf.k1;
      for (size_t i = 0; i < n; ++i) k[i] = Key<T>::get(buf.vals[i]);
      std::nth_element(idx.begin(), idx.begin() + kth, idx.begin() + n, [&](uint32_t a, uint32_t b) {
        return k[a] < k[b] || (k[a] == k[b] && a < b);
      });
    }
    if (o)
      for (size_t i = 0; i < n; ++i) o[base + i * stride] = idx[i];
    if (vals_out)
      for (size_t i = 0; i < n; ++i) vals_out[base + i * stride] = buf.vals[idx[i]];
  });
}

template <typename T>
void searchsorted_impl(const array& a, const array& v, array& out, bool right) {
  const T* s = a.data<T>();
  const T* x = v.data<T>();
  uint32_t* o = out.data<uint32_t>();
  size_t n = a.size();
  Less<T> lt;
  cpu::parallel_for(v.size(), 4096, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const T* p = right ? std::upper_bound(s, s + n, x[i], lt) : std::lower_bound(s, s + n, x[i], lt);
      o[i] = static_cast<uint32_t>(p - s);
    }
  });
}

// ------------------------------------------------------------------ Hadamard
template <typename T>
void hadamard_impl(const array& in, array& out, float scale, bool transpose) {
  size_t n = in.shape(-1);
  size_t rows = n ? in.size() / n : 0;
  size_t p = n;
  while (p % 2 == 0 && p > 1) p /= 2;
  size_t m = p == 1 ? 1 : (p == 3 ? 12 : (p == 5 ? 20 : 28));
  p = n / m;  // the power-of-two part
  const std::vector<int8_t>* M = m > 1 ? &hadamard_base_matrix(static_cast<int>(m)) : nullptr;
  const T* x = in.data<T>();
  T* o = out.data<T>();
  size_t grain = std::max<size_t>(1, cpu::kElemGrain / std::max<size_t>(n, 1));
  cpu::parallel_for(rows, grain, [&](size_t b, size_t e) {
    std::vector<float> buf(n), tmp(m > 1 ? n : 0);
    for (size_t r = b; r < e; ++r) {
      const T* xr = x + r * n;
      for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(xr[i]);
      for (size_t blk = 0; blk < m; ++blk) {
        float* y = buf.data() + blk * p;
        for (size_t h = 1; h < p; h *= 2)
          for (size_t i = 0; i < p; i += 2 * h)
            for (size_t j = i; j < i + h; ++j) {
              float u = y[j], w = y[j + h];
              y[j] = u + w;
              y[j + h] = u - w;
            }
      }
      float* res = buf.data();
      if (M) {
        std::fill(tmp.begin(), tmp.end(), 0.0f);
        for (size_t a = 0; a < m; ++a)
          for (size_t c = 0; c < m; ++c) {
            int8_t s = transpose ? (*M)[c * m + a] : (*M)[a * m + c];
            float* dst = tmp.data() + a * p;
            const float* src = buf.data() + c * p;
            if (s > 0)
              for (size_t j = 0; j < p; ++j) dst[j] += src[j];
            else
              for (size_t j = 0; j < p; ++j) dst[j] -= src[j];
          }
        res = tmp.data();
      }
      T* orow = o + r * n;
      for (size_t i = 0; i < n; ++i) orow[i] = cast_to<T>(res[i] * scale);
    }
  });
}

// ------------------------------------------------------------------ matmul helpers
template <typename T>
void gemm(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  auto TA = ta ? CblasTrans : CblasNoTrans;
  auto TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
}

// A 3-d operand (batch, rows, cols) whose matrices BLAS reads directly.
struct Operand3 {
  array arr;
  bool trans;
  int64_t ld;
  int64_t bstride;
};
Operand3 prepare3(const array& x) {
  int64_t R = x.shape(-2), C = x.shape(-1);
  int64_t sr = x.strides(-2), sc = x.strides(-1);
  int64_t sb = x.ndim() == 3 ? x.strides(0) : 0;
  if (sc == 1 && (sr >= std::max<int64_t>(C, 1) || R == 1)) return {x, false, std::max<int64_t>(R == 1 ? C : sr, 1), sb};
  if (sr == 1 && (sc >= std::max<int64_t>(R, 1) || C == 1)) return {x, true, std::max<int64_t>(C == 1 ? R : sc, 1), sb};
  array c = cpu::ensure_row_contiguous(x);
  return {c, false, std::max<int64_t>(C, 1), x.ndim() == 3 ? R * C : 0};
}

array to_float32(const array& x) {
  array f(x.shape(), float32, nullptr, {});
  cpu::alloc_out(f);
  cpu::copy_to_contiguous(x, f);
  return f;
}

// Items are grouped by their rhs matrix so that each matrix of b is read once: the rows of
// a of a group are gathered (or used in place when consecutive) and multiplied in one gemm.
template <typename T>
void gather_mm_impl(const array& a_in, const array& b_in, const array& lhs_in, const array& rhs_in, array& out) {
  Operand3 b = prepare3(b_in);
  array a = cpu::ensure_row_contiguous(a_in);
  array lhs = cpu::ensure_row_contiguous(lhs_in), rhs = cpu::ensure_row_contiguous(rhs_in);
  const uint32_t* li = lhs.data<uint32_t>();
  const uint32_t* ri = rhs.data<uint32_t>();
  int64_t Ba = a_in.shape(0), Bb = b_in.shape(0);
  int M = out.shape(1), N = out.shape(2), K = a_in.shape(2);
  int64_t B = out.shape(0);
  T* c = out.data<T>();
  if (K == 0 || Ba == 0 || Bb == 0) {
    std::memset(static_cast<void*>(c), 0, out.nbytes());
    return;
  }
  const T* pa = a.data<T>();
  const T* pb = b.arr.template data<T>();
  int64_t MK = int64_t(M) * K, MN = int64_t(M) * N;
  auto clampa = [&](int64_t i) { return std::min<int64_t>(li[i], Ba - 1); };
  auto clampb = [&](int64_t i) { return std::min<int64_t>(ri[i], Bb - 1); };
  // Stable counting sort of the items by rhs.
  std::vector<int64_t> start(Bb + 1, 0), order(B);
  for (int64_t i = 0; i < B; ++i) start[clampb(i) + 1]++;
  for (int64_t e = 0; e < Bb; ++e) start[e + 1] += start[e];
  {
    std::vector<int64_t> pos(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < B; ++i) order[pos[clampb(i)]++] = i;
  }
  int64_t maxg = 0;
  for (int64_t e = 0; e < Bb; ++e) maxg = std::max(maxg, start[e + 1] - start[e]);
  std::vector<T> abuf, cbuf;
  for (int64_t e = 0; e < Bb; ++e) {
    int64_t g0 = start[e], cnt = start[e + 1] - g0;
    if (cnt == 0) continue;
    const int64_t* items = order.data() + g0;
    bool out_direct = true, a_direct = true;
    for (int64_t t = 1; t < cnt; ++t) {
      out_direct &= items[t] == items[0] + t;
      a_direct &= clampa(items[t]) == clampa(items[0]) + t;
    }
    const T* A = pa + clampa(items[0]) * MK;
    if (!a_direct) {
      if (abuf.empty()) abuf.resize(maxg * MK);
      for (int64_t t = 0; t < cnt; ++t) std::copy(pa + clampa(items[t]) * MK, pa + (clampa(items[t]) + 1) * MK, abuf.data() + t * MK);
      A = abuf.data();
    }
    T* C = c + items[0] * MN;
    if (!out_direct) {
      if (cbuf.empty()) cbuf.resize(maxg * MN);
      C = cbuf.data();
    }
    gemm<T>(false, b.trans, static_cast<int>(cnt * M), N, K, A, K, pb + e * b.bstride, static_cast<int>(b.ld), C, N);
    if (!out_direct)
      for (int64_t t = 0; t < cnt; ++t) std::copy(C + t * MN, C + (t + 1) * MN, c + items[t] * MN);
  }
}

template <typename T>
void segmented_mm_impl(const array& a_in, const array& b_in, const array& seg_in, array& out) {
  Operand3 a = prepare3(a_in), b = prepare3(b_in);
  array seg = cpu::ensure_row_contiguous(seg_in);
  const int32_t* sg = seg.data<int32_t>();
  int M = out.shape(1), N = out.shape(2), K = a_in.shape(1);
  int64_t S = out.shape(0);
  T* c = out.data<T>();
  const T* pa = a.arr.template data<T>();
  const T* pb = b.arr.template data<T>();
  for (int64_t s = 0; s < S; ++s) {
    int64_t st = std::clamp<int64_t>(sg[2 * s], 0, K);
    int64_t en = std::clamp<int64_t>(sg[2 * s + 1], st, K);
    T* cs = c + s * int64_t(M) * N;
    if (en <= st || M == 0 || N == 0) {
      std::fill(cs, cs + int64_t(M) * N, T(0));
      continue;
    }
    // Column st of a and row st of b, in either storage order.
    const T* A = pa + (a.trans ? st * a.ld : st);
    const T* Bp = pb + (b.trans ? st : st * b.ld);
    gemm<T>(a.trans, b.trans, M, N, static_cast<int>(en - st), A, static_cast<int>(a.ld), Bp, static_cast<int>(b.ld),
            cs, N);
  }
}

// Runs `f(a, b, out)` in float32 or float64, converting half types around it.
template <typename F>
void run_float_mm(const std::vector<array>& inputs, array& out, F&& f) {
  switch (out.dtype()) {
    case float32: f(float{}, inputs[0], inputs[1], out); break;
    case float64: f(double{}, inputs[0], inputs[1], out); break;
    case float16:
    case bfloat16: {
      array a = to_float32(inputs[0]), b = to_float32(inputs[1]);
      array c(out.shape(), float32, nullptr, {});
      cpu::alloc_out(c);
      f(float{}, a, b, c);
      cpu::copy_to_contiguous(c, out);
      break;
    }
    default: throw std::runtime_error(msg("[matmul] unsupported dtype ", out.dtype(), "."));
  }
}

// ------------------------------------------------------------------ Hadamard matrices
int quadratic_character(int a, int q) {
  a = ((a % q) + q) % q;
  if (a == 0) return 0;
  for (int x = 1; x < q; ++x)
    if ((x * x) % q == a) return 1;
  return -1;
}

// Paley construction I (q prime, q = 3 mod 4): a Hadamard matrix of order q + 1.
std::vector<int8_t> paley1(int q) {
  int n = q + 1;
  std::vector<int8_t> h(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      int s;
      if (i == 0 && j == 0) s = 0;
      else if (i == 0) s = 1;
      else if (j == 0) s = -1;
      else s = quadratic_character(j - i, q);
      h[i * n + j] = static_cast<int8_t>(s + (i == j ? 1 : 0));
    }
  return h;
}

// Paley construction II (q prime, q = 1 mod 4): a symmetric Hadamard matrix of order 2(q + 1).
std::vector<int8_t> paley2(int q) {
  int c = q + 1, n = 2 * c;
  std::vector<int8_t> h(n * n);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      int s;
      if (i == 0 && j == 0) s = 0;
      else if (i == 0 || j == 0) s = 1;
      else s = quadratic_character(j - i, q);
      // 0 -> [[1, 1], [1, -1]], +-1 -> +-[[1, -1], [-1, -1]]
      int blk[2][2];
      if (s == 0) {
        blk[0][0] = 1; blk[0][1] = 1; blk[1][0] = 1; blk[1][1] = -1;
      } else {
        blk[0][0] = s; blk[0][1] = -s; blk[1][0] = -s; blk[1][1] = -s;
      }
      for (int u = 0; u < 2; ++u)
        for (int v = 0; v < 2; ++v) h[(2 * i + u) * n + 2 * j + v] = static_cast<int8_t>(blk[u][v]);
    }
  return h;
}

}  // namespace

const std::vector<int8_t>& hadamard_base_matrix(int m) {
  static const std::vector<int8_t> h12 = paley1(11);
  static const std::vector<int8_t> h20 = paley1(19);
  static const std::vector<int8_t> h28 = paley2(13);
  static const std::vector<int8_t> h1 = {1};
  switch (m) {
    case 12: return h12;
    case 20: return h20;
    case 28: return h28;
    default: return h1;
  }
}

// ------------------------------------------------------------------ eval_cpu
void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  switch (type_) {
    case ScanType::Sum: scan_dispatch<ScanType::Sum>(in, out, axis_, reverse_, inclusive_); break;
    case ScanType::Prod: scan_dispatch<ScanType::Prod>(in, out, axis_, reverse_, inclusive_); break;
    case ScanType::Max: scan_dispatch<ScanType::Max>(in, out, axis_, reverse_, inclusive_); break;
    case ScanType::Min: scan_dispatch<ScanType::Min>(in, out, axis_, reverse_, inclusive_); break;
    case ScanType::LogAddExp: scan_dispatch<ScanType::LogAddExp>(in, out, axis_, reverse_, inclusive_); break;
  }
}

void Sort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.size() == 0) return cpu::alloc_out(out);
  along_last_axis(inputs[0], out, axis_, [](const array& in, array& o, int ax) {
    array x = cpu::ensure_row_contiguous(in);
    MLX_DISPATCH_ALL(x.dtype(), { sort_impl<T>(x, o, ax); });
  });
}

void ArgSort::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.size() == 0) return cpu::alloc_out(out);
  along_last_axis(inputs[0], out, axis_, [](const array& in, array& o, int ax) {
    array x = cpu::ensure_row_contiguous(in);
    MLX_DISPATCH_ALL(x.dtype(), { argsort_impl<T>(x, o, ax); });
  });
}

void Partition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.size() == 0) return cpu::alloc_out(out);
  int kth = kth_;
  along_last_axis(inputs[0], out, axis_, [kth](const array& in, array& o, int ax) {
    array x = cpu::ensure_row_contiguous(in);
    MLX_DISPATCH_ALL(x.dtype(), { argpartition_impl<T>(x, nullptr, o.data<T>(), ax, kth); });
  });
}

void ArgPartition::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (out.size() == 0) return cpu::alloc_out(out);
  int kth = kth_;
  along_last_axis(inputs[0], out, axis_, [kth](const array& in, array& o, int ax) {
    array x = cpu::ensure_row_contiguous(in);
    MLX_DISPATCH_ALL(x.dtype(), { argpartition_impl<T>(x, o.data<uint32_t>(), static_cast<T*>(nullptr), ax, kth); });
  });
}

void SearchSorted::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = cpu::ensure_row_contiguous(inputs[0]);
  array v = cpu::ensure_row_contiguous(inputs[1]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  MLX_DISPATCH_ALL(a.dtype(), { searchsorted_impl<T>(a, v, out, right_); });
}

void Hadamard::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  switch (in.dtype()) {
    case float32: hadamard_impl<float>(in, out, scale_, transpose_); break;
    case float16: hadamard_impl<float16_t>(in, out, scale_, transpose_); break;
    case bfloat16: hadamard_impl<bfloat16_t>(in, out, scale_, transpose_); break;
    case float64: hadamard_impl<double>(in, out, scale_, transpose_); break;
    default: throw std::runtime_error(msg("[hadamard_transform] unsupported dtype ", in.dtype(), "."));
  }
}

void GatherMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  run_float_mm(inputs, out, [&](auto tag, const array& a, const array& b, array& o) {
    using T = decltype(tag);
    gather_mm_impl<T>(a, b, inputs[2], inputs[3], o);
  });
}

void SegmentedMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  run_float_mm(inputs, out, [&](auto tag, const array& a, const array& b, array& o) {
    using T = decltype(tag);
    segmented_mm_impl<T>(a, b, inputs[2], o);
  });
}

void Depends::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[i]);
}

}  // namespace mlx::core
