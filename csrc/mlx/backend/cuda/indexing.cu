// Gather/scatter on the GPU: Gather (take), Scatter (index updates), GatherAxis
// (take_along_axis), ScatterAxis (put_along_axis and its add/prod/max/min forms), and Arange.
//
// Semantics follow backend/cpu/indexing.cpp: an index wraps once when it is negative (signed
// index types only) and is then clamped into [0, n-1]; Scatter and ScatterAxis start from a copy
// of `a` (or take over its buffer when it may be donated). Updates with the same destination
// are combined with atomics (Add, Prod, Max, Min) or race (None: one of the writes wins).
#include <algorithm>
#include <cstring>

#include "mlx/backend/cuda/device.cuh"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {

namespace {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n items.
inline unsigned grid_for(int64_t n) {
  int64_t b = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(b, 1), int64_t(1) << 20));
}
// Sizes below this use 32-bit index math (with room for the grid stride).
constexpr int64_t kSmall = int64_t(1) << 30;

// complex64 on the device.
struct alignas(8) c64 {
  float re, im;
};

// Calls f(Tag<T>{}) for every value dtype handled here (all but float64).
template <typename F>
bool dispatch_values(Dtype t, F&& f) {
  if (t == Dtype::complex64) {
    f(Tag<c64>{});
    return true;
  }
  return dispatch(t, f);
}

// Calls f(Tag<U>{}) with an unsigned type of w bytes (1, 2, 4, 8 or 16).
template <typename F>
bool dispatch_width(size_t w, F&& f) {
  switch (w) {
    case 1: f(Tag<uint8_t>{}); return true;
    case 2: f(Tag<uint16_t>{}); return true;
    case 4: f(Tag<uint32_t>{}); return true;
    case 8: f(Tag<unsigned long long>{}); return true;
    case 16: f(Tag<uint4>{}); return true;
    default: return false;
  }
}

template <typename F>
void with_index_type(int64_t largest, F&& f) {
  if (largest < kSmall) f(Tag<int32_t>{});
  else f(Tag<int64_t>{});
}

// Index dtypes: a small code the kernels switch on (one branch taken by every thread).
int index_code(Dtype t) {
  switch (t) {
    case Dtype::bool_: return 0;
    case Dtype::uint8: return 1;
    case Dtype::uint16: return 2;
    case Dtype::uint32: return 3;
    case Dtype::uint64: return 4;
    case Dtype::int8: return 5;
    case Dtype::int16: return 6;
    case Dtype::int32: return 7;
    case Dtype::int64: return 8;
    default: return -1;
  }
}

// The index at element `off` of p, wrapped once if negative (signed types) and clamped to [0, n).
__device__ __forceinline__ int64_t load_index(const void* p, int64_t off, int code, int64_t n) {
  int64_t v;
  bool sgn = false;
  switch (code) {
    case 0: v = static_cast<const uint8_t*>(p)[off] != 0 ? 1 : 0; break;
    case 1: v = static_cast<const uint8_t*>(p)[off]; break;
    case 2: v = static_cast<const uint16_t*>(p)[off]; break;
    case 3: v = static_cast<const uint32_t*>(p)[off]; break;
    case 4: v = static_cast<int64_t>(static_cast<const uint64_t*>(p)[off]); break;
    case 5: v = static_cast<const int8_t*>(p)[off]; sgn = true; break;
    case 6: v = static_cast<const int16_t*>(p)[off]; sgn = true; break;
    case 7: v = static_cast<const int32_t*>(p)[off]; sgn = true; break;
    default: v = static_cast<const int64_t*>(p)[off]; sgn = true; break;
  }
  if (sgn && v < 0) v += n;
  return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

// ---- element operations of the scatter modes ------------------------------------------------

template <typename To, typename From>
__device__ __forceinline__ To bits_as(From x) {
  static_assert(sizeof(To) == sizeof(From));
  To y;
  memcpy(&y, &x, sizeof(To));
  return y;
}

template <typename T>
__device__ __forceinline__ bool is_nan_val(T v) {
  if constexpr (is_float_v<T>) {
    float f = static_cast<float>(v);
    return f != f;
  } else {
    return false;
  }
}

template <typename T>
__device__ __forceinline__ T op_add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || b;
  } else if constexpr (std::is_same_v<T, c64>) {
    return c64{a.re + b.re, a.im + b.im};
  } else if constexpr (is_float_v<T>) {
    return T(static_cast<float>(a) + static_cast<float>(b));
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<uint64_t>(static_cast<U>(a)) + static_cast<uint64_t>(static_cast<U>(b))));
  }
}

template <typename T>
__device__ __forceinline__ T op_mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a && b;
  } else if constexpr (std::is_same_v<T, c64>) {
    return c64{a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
  } else if constexpr (is_float_v<T>) {
    return T(static_cast<float>(a) * static_cast<float>(b));
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<uint64_t>(static_cast<U>(a)) * static_cast<uint64_t>(static_cast<U>(b))));
  }
}

// As the CPU: v replaces the current value when it is larger (smaller) or NaN.
template <typename T, bool kMax>
__device__ __forceinline__ T op_minmax(T cur, T v) {
  if constexpr (is_float_v<T>) {
    float c = static_cast<float>(cur), x = static_cast<float>(v);
    bool take = kMax ? (x > c) : (x < c);
    return (take || x != x) ? v : cur;
  } else {
    bool take = kMax ? (v > cur) : (v < cur);
    return take ? v : cur;
  }
}

// *addr = f(*addr) atomically, for T of 1, 2, 4 or 8 bytes (1-byte values through their 4-byte word).
template <typename T, typename F>
__device__ __forceinline__ void atomic_rmw(T* addr, F f) {
  if constexpr (sizeof(T) == 1) {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    unsigned int* w = reinterpret_cast<unsigned int*>(a & ~uintptr_t(3));
    unsigned int shift = static_cast<unsigned int>(a & 3) * 8;
    unsigned int old = *reinterpret_cast<volatile unsigned int*>(w), assumed;
    do {
      assumed = old;
      uint8_t b = static_cast<uint8_t>((assumed >> shift) & 0xffu);
      T cur;
      if constexpr (std::is_same_v<T, bool>) cur = b != 0;
      else cur = bits_as<T>(b);
      T nv = f(cur);
      uint8_t nb;
      if constexpr (std::is_same_v<T, bool>) nb = nv ? 1 : 0;
      else nb = bits_as<uint8_t>(nv);
      if (nb == b) return;
      unsigned int repl = (assumed & ~(0xffu << shift)) | (static_cast<unsigned int>(nb) << shift);
      old = atomicCAS(w, assumed, repl);
    } while (old != assumed);
  } else if constexpr (sizeof(T) == 2) {
    unsigned short* w = reinterpret_cast<unsigned short*>(addr);
    unsigned short old = *reinterpret_cast<volatile unsigned short*>(w), assumed;
    do {
      assumed = old;
      unsigned short nb = bits_as<unsigned short>(f(bits_as<T>(assumed)));
      if (nb == assumed) return;
      old = atomicCAS(w, assumed, nb);
    } while (old != assumed);
  } else if constexpr (sizeof(T) == 4) {
    unsigned int* w = reinterpret_cast<unsigned int*>(addr);
    unsigned int old = *reinterpret_cast<volatile unsigned int*>(w), assumed;
    do {
      assumed = old;
      unsigned int nb = bits_as<unsigned int>(f(bits_as<T>(assumed)));
      if (nb == assumed) return;
      old = atomicCAS(w, assumed, nb);
    } while (old != assumed);
  } else {
    static_assert(sizeof(T) == 8);
    unsigned long long* w = reinterpret_cast<unsigned long long*>(addr);
    unsigned long long old = *reinterpret_cast<volatile unsigned long long*>(w), assumed;
    do {
      assumed = old;
      unsigned long long nb = bits_as<unsigned long long>(f(bits_as<T>(assumed)));
      if (nb == assumed) return;
      old = atomicCAS(w, assumed, nb);
    } while (old != assumed);
  }
}

template <typename T>
__device__ __forceinline__ void atomic_add_val(T* d, T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) {
    atomicAdd(d, v);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    atomicAdd(reinterpret_cast<int*>(d), static_cast<int>(v));
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    atomicAdd(reinterpret_cast<unsigned int*>(d), static_cast<unsigned int>(v));
  } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(d), static_cast<unsigned long long>(v));
  } else if constexpr (std::is_same_v<T, c64>) {
    atomicAdd(&d->re, v.re);
    atomicAdd(&d->im, v.im);
  } else {
    atomic_rmw(d, [v](T c) { return op_add(c, v); });
  }
}

template <typename T, bool kMax>
__device__ __forceinline__ void atomic_minmax_val(T* d, T v) {
  if constexpr (std::is_same_v<T, c64>) {
    // No order on complex values: the CPU leaves the destination as it is.
  } else if constexpr (std::is_same_v<T, int32_t>) {
    if (kMax) atomicMax(reinterpret_cast<int*>(d), static_cast<int>(v));
    else atomicMin(reinterpret_cast<int*>(d), static_cast<int>(v));
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    if (kMax) atomicMax(reinterpret_cast<unsigned int*>(d), static_cast<unsigned int>(v));
    else atomicMin(reinterpret_cast<unsigned int*>(d), static_cast<unsigned int>(v));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (kMax) atomicMax(reinterpret_cast<long long*>(d), static_cast<long long>(v));
    else atomicMin(reinterpret_cast<long long*>(d), static_cast<long long>(v));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (kMax) atomicMax(reinterpret_cast<unsigned long long*>(d), static_cast<unsigned long long>(v));
    else atomicMin(reinterpret_cast<unsigned long long*>(d), static_cast<unsigned long long>(v));
  } else {
    atomic_rmw(d, [v](T c) { return op_minmax<T, kMax>(c, v); });
  }
}

// Mode codes: the values of ScatterMode (None, Add, Prod, Max, Min).
template <typename T>
__device__ __forceinline__ void apply_update(T* d, T v, int mode) {
  switch (mode) {
    case 0: *d = v; break;
    case 1: atomic_add_val(d, v); break;
    case 2: atomic_rmw(d, [v](T c) { return op_mul(c, v); }); break;
    case 3: atomic_minmax_val<T, true>(d, v); break;
    default: atomic_minmax_val<T, false>(d, v); break;
  }
}

// ---- kernels --------------------------------------------------------------------------------

// y (row-contiguous) = x (collapsed layout s, operand 0), n elements as units U.
template <typename U>
__global__ void k_strided_copy(const U* __restrict__ x, U* __restrict__ y, int64_t n, Strided s) {
  int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = x[strided_offset(s, 0, i)];
}

// Gather of rows: src is (outer, n, upr) and out (outer, m, upr) in units U; each slice
// out[o, j, :] = src[o, idx[j], :]. Consecutive threads copy consecutive units of one row.
template <typename U, typename I>
__global__ void k_gather_rows(const U* __restrict__ src, const void* __restrict__ idx, U* __restrict__ out,
                              I total, I upr, I m, I n, int code) {
  I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I t = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    I s = t / upr, u = t - s * upr;
    I o = s / m, j = s - o * m;
    I k = static_cast<I>(load_index(idx, j, code, n));
    out[t] = src[(o * n + k) * upr + u];
  }
}

// Assignment of rows (contiguous updates): out[o, idx[j], :] = upd[o, j, :], in units U.
template <typename U, typename I>
__global__ void k_scatter_rows(U* __restrict__ out, const void* __restrict__ idx, const U* __restrict__ upd,
                               I total, I upr, I m, I n, int code) {
  I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I t = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    I s = t / upr, u = t - s * upr;
    I o = s / m, j = s - o * m;
    I k = static_cast<I>(load_index(idx, j, code, n));
    out[(o * n + k) * upr + u] = upd[t];
  }
}

// Scatter per element: out[o, idx[j], i] (mode)= upd[o, j, i]; upd row-contiguous or strided (su).
template <typename T, typename I>
__global__ void k_scatter_elem(T* __restrict__ out, const void* __restrict__ idx, const T* __restrict__ upd,
                               I total, I inner, I m, I n, int code, int mode, bool upd_contig, Strided su) {
  I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I p = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    I s = p / inner, i = p - s * inner;
    I o = s / m, j = s - o * m;
    I k = static_cast<I>(load_index(idx, j, code, n));
    T v = upd[upd_contig ? static_cast<int64_t>(p) : strided_offset(su, 0, p)];
    apply_update(out + (o * n + k) * inner + i, v, mode);
  }
}

// take_along_axis: a is (outer, na, inner) row-contiguous, out (outer, ni, inner);
// out[o, j, i] = a[o, idx[o, j, i], i] with idx row-contiguous or strided (si).
template <typename U, typename I>
__global__ void k_gather_axis(const U* __restrict__ a, const void* __restrict__ idx, U* __restrict__ out,
                              I total, I inner, I ni, I na, int code, bool idx_contig, Strided si) {
  I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I p = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    I q = p / inner, i = p - q * inner;
    I o = q / ni;
    I k = static_cast<I>(load_index(idx, idx_contig ? static_cast<int64_t>(p) : strided_offset(si, 0, p), code, na));
    out[p] = a[(o * na + k) * inner + i];
  }
}

// put_along_axis and its modes: out[o, idx[o, j, i], i] (mode)= upd[o, j, i]; idx and upd
// row-contiguous (contig) or strided (operands 0 and 1 of s).
template <typename T, typename I>
__global__ void k_scatter_axis(T* __restrict__ out, const void* __restrict__ idx, const T* __restrict__ upd,
                               I total, I inner, I ni, I na, int code, int mode, bool contig, Strided s) {
  I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I p = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    I q = p / inner, i = p - q * inner;
    I o = q / ni;
    int64_t io = contig ? static_cast<int64_t>(p) : strided_offset(s, 0, p);
    int64_t uo = contig ? static_cast<int64_t>(p) : strided_offset(s, 1, p);
    I k = static_cast<I>(load_index(idx, io, code, na));
    apply_update(out + (o * na + k) * inner + i, upd[uo], mode);
  }
}

template <typename T>
__global__ void k_arange(T* __restrict__ out, int64_t n, double start, double step) {
  int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    double v = start + static_cast<double>(i) * step;
    if constexpr (std::is_same_v<T, c64>) out[i] = c64{static_cast<float>(v), 0.0f};
    else out[i] = cast<T>(v);
  }
}

// ---- host side ------------------------------------------------------------------------------

inline bool full_row(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

// Whether `a` can be made row-contiguous here (its layout collapses to kMaxDims dims or fewer).
bool can_copy(const array& a) {
  if (full_row(a)) return true;
  Strided s{};
  return collapse(a.shape(), {&a}, s);
}

// Writes `in` (any layout) into `out` (fresh device memory, row-contiguous, same shape and dtype).
void copy_into_fresh(const array& in, array& out) {
  void* y = alloc_out(out);
  if (in.size() == 0) return;
  if (full_row(in)) {
    MLX_CUDA_CHECK(cudaMemcpyAsync(y, in_ptr(in), in.nbytes(), cudaMemcpyDeviceToDevice, stream()));
    return;
  }
  Strided s{};
  if (!collapse(in.shape(), {&in}, s)) throw std::runtime_error("[indexing] layout has too many dims.");
  int64_t n = static_cast<int64_t>(in.size());
  dispatch_width(in.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    k_strided_copy<U><<<grid_for(n), kBlock, 0, stream()>>>(static_cast<const U*>(in_ptr(in)), static_cast<U*>(y),
                                                           n, s);
    check_launch("strided copy kernel");
  });
}

// `in` itself when row-contiguous, else a row-contiguous device copy (can_copy(in) must hold).
array row_contig(const array& in) {
  if (full_row(in)) return in;
  array tmp(in.shape(), in.dtype(), nullptr, {});
  copy_into_fresh(in, tmp);
  return tmp;
}

// The output of a scatter starts as `a`: its buffer when it may be donated, else a copy.
void init_from_source(const array& a, array& out) {
  if (a.is_donatable() && a.nbytes() == out.nbytes()) {
    in_ptr(a);  // make the device copy current
    out.copy_shared_buffer(a);
    out.data_shared_ptr()->where = Data::kDevice;  // written on the device below
    return;
  }
  copy_into_fresh(a, out);
}

void outer_inner(const Shape& shape, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
}

// Largest power of two up to 16 dividing the row size and both addresses.
size_t unit_width(int64_t row_bytes, const void* p, const void* q) {
  size_t w = 16;
  while (w > 1 && (row_bytes % static_cast<int64_t>(w) != 0 || reinterpret_cast<uintptr_t>(p) % w != 0 ||
                   reinterpret_cast<uintptr_t>(q) % w != 0))
    w /= 2;
  return w;
}

bool item_ok(const array& a) {
  size_t s = a.itemsize();
  return (s == 1 || s == 2 || s == 4 || s == 8) && a.dtype() != Dtype::float64;
}

bool eval_gather(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  int axis = static_cast<Gather&>(p).axis_;
  const array &a = inputs[0], &idx = inputs[1];
  array& out = outputs[0];
  int code = index_code(idx.dtype());
  if (code < 0 || !item_ok(a) || out.dtype() != a.dtype()) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  int64_t n = a.shape(axis);
  if (n <= 0 || !can_copy(a) || !can_copy(idx)) return false;
  array ac = row_contig(a), ic = row_contig(idx);
  int64_t outer, inner;
  outer_inner(a.shape(), axis, outer, inner);
  int64_t m = static_cast<int64_t>(idx.size());
  const void* src = in_ptr(ac);
  const void* ip = in_ptr(ic);
  void* dst = alloc_out(out);
  int64_t row_bytes = inner * static_cast<int64_t>(a.itemsize());
  size_t w = unit_width(row_bytes, src, dst);
  int64_t upr = row_bytes / static_cast<int64_t>(w);
  int64_t total = outer * m * upr;
  int64_t largest = std::max<int64_t>(total, outer * n * upr);
  dispatch_width(w, [&](auto ut) {
    using U = typename decltype(ut)::type;
    with_index_type(largest, [&](auto it) {
      using I = typename decltype(it)::type;
      k_gather_rows<U, I><<<grid_for(total), kBlock, 0, stream()>>>(
          static_cast<const U*>(src), ip, static_cast<U*>(dst), static_cast<I>(total), static_cast<I>(upr),
          static_cast<I>(m), static_cast<I>(n), code);
      check_launch("gather kernel");
    });
  });
  return true;
}

bool eval_scatter(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& sp = static_cast<Scatter&>(p);
  int axis = sp.axis_;
  int mode = static_cast<int>(sp.mode_);
  const array &a = inputs[0], &idx = inputs[1], &upd = inputs[2];
  array& out = outputs[0];
  int code = index_code(idx.dtype());
  if (code < 0 || !item_ok(out) || a.dtype() != out.dtype() || upd.dtype() != out.dtype()) return false;
  if (!dispatch_values(out.dtype(), [](auto) {})) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  Strided su{};
  bool upd_contig = full_row(upd);
  if (!upd_contig && !collapse(upd.shape(), {&upd}, su)) return false;
  if (!can_copy(a) || !can_copy(idx)) return false;
  init_from_source(a, out);
  if (upd.size() == 0 || idx.size() == 0) return true;
  array ic = row_contig(idx);
  int64_t outer, inner;
  outer_inner(out.shape(), axis, outer, inner);
  int64_t n = out.shape(axis);
  int64_t m = static_cast<int64_t>(idx.size());
  const void* ip = in_ptr(ic);
  const void* up = in_ptr(upd);
  void* dst = const_cast<void*>(in_ptr(out));
  int64_t largest = std::max<int64_t>(static_cast<int64_t>(out.size()), outer * m * inner);
  if (mode == 0 && upd_contig) {
    int64_t row_bytes = inner * static_cast<int64_t>(out.itemsize());
    size_t w = unit_width(row_bytes, up, dst);
    int64_t upr = row_bytes / static_cast<int64_t>(w);
    int64_t total = outer * m * upr;
    dispatch_width(w, [&](auto ut) {
      using U = typename decltype(ut)::type;
      with_index_type(largest, [&](auto it) {
        using I = typename decltype(it)::type;
        k_scatter_rows<U, I><<<grid_for(total), kBlock, 0, stream()>>>(
            static_cast<U*>(dst), ip, static_cast<const U*>(up), static_cast<I>(total), static_cast<I>(upr),
            static_cast<I>(m), static_cast<I>(n), code);
        check_launch("scatter kernel");
      });
    });
    return true;
  }
  int64_t total = outer * m * inner;
  dispatch_values(out.dtype(), [&](auto vt) {
    using T = typename decltype(vt)::type;
    with_index_type(largest, [&](auto it) {
      using I = typename decltype(it)::type;
      k_scatter_elem<T, I><<<grid_for(total), kBlock, 0, stream()>>>(
          static_cast<T*>(dst), ip, static_cast<const T*>(up), static_cast<I>(total), static_cast<I>(inner),
          static_cast<I>(m), static_cast<I>(n), code, mode, upd_contig, su);
      check_launch("scatter kernel");
    });
  });
  return true;
}

bool eval_gather_axis(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  int axis = static_cast<GatherAxis&>(p).axis_;
  const array &a = inputs[0], &idx = inputs[1];
  array& out = outputs[0];
  int code = index_code(idx.dtype());
  if (code < 0 || !item_ok(a) || out.dtype() != a.dtype()) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  int64_t na = a.shape(axis), ni = idx.shape(axis);
  if (na <= 0 || !can_copy(a)) return false;
  Strided si{};
  bool idx_contig = full_row(idx);
  if (!idx_contig && !collapse(out.shape(), {&idx}, si)) return false;
  array ac = row_contig(a);
  int64_t outer, inner;
  outer_inner(a.shape(), axis, outer, inner);
  int64_t total = static_cast<int64_t>(out.size());
  int64_t largest = std::max<int64_t>(total, static_cast<int64_t>(a.size()));
  const void* src = in_ptr(ac);
  const void* ip = in_ptr(idx);
  void* dst = alloc_out(out);
  dispatch_width(a.itemsize(), [&](auto ut) {
    using U = typename decltype(ut)::type;
    with_index_type(largest, [&](auto it) {
      using I = typename decltype(it)::type;
      k_gather_axis<U, I><<<grid_for(total), kBlock, 0, stream()>>>(
          static_cast<const U*>(src), ip, static_cast<U*>(dst), static_cast<I>(total), static_cast<I>(inner),
          static_cast<I>(ni), static_cast<I>(na), code, idx_contig, si);
      check_launch("take_along_axis kernel");
    });
  });
  return true;
}

bool eval_scatter_axis(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& sp = static_cast<ScatterAxis&>(p);
  int axis = sp.axis_;
  int mode = static_cast<int>(sp.mode_);
  const array &a = inputs[0], &idx = inputs[1], &upd = inputs[2];
  array& out = outputs[0];
  int code = index_code(idx.dtype());
  if (code < 0 || !item_ok(out) || a.dtype() != out.dtype() || upd.dtype() != out.dtype()) return false;
  if (!dispatch_values(out.dtype(), [](auto) {})) return false;
  if (out.size() == 0) {
    alloc_out(out);
    return true;
  }
  Strided s{};
  bool contig = full_row(idx) && full_row(upd);
  if (!contig && !collapse(upd.shape(), {&idx, &upd}, s)) return false;
  if (!can_copy(a)) return false;
  init_from_source(a, out);
  if (upd.size() == 0) return true;
  int64_t outer, inner;
  outer_inner(out.shape(), axis, outer, inner);
  int64_t na = out.shape(axis), ni = idx.shape(axis);
  int64_t total = static_cast<int64_t>(upd.size());
  int64_t largest = std::max<int64_t>(total, static_cast<int64_t>(out.size()));
  const void* ip = in_ptr(idx);
  const void* up = in_ptr(upd);
  void* dst = const_cast<void*>(in_ptr(out));
  dispatch_values(out.dtype(), [&](auto vt) {
    using T = typename decltype(vt)::type;
    with_index_type(largest, [&](auto it) {
      using I = typename decltype(it)::type;
      k_scatter_axis<T, I><<<grid_for(total), kBlock, 0, stream()>>>(
          static_cast<T*>(dst), ip, static_cast<const T*>(up), static_cast<I>(total), static_cast<I>(inner),
          static_cast<I>(ni), static_cast<I>(na), code, mode, contig, s);
      check_launch("put_along_axis kernel");
    });
  });
  return true;
}

bool eval_arange(Primitive& p, const std::vector<array>&, std::vector<array>& outputs) {
  auto& ar = static_cast<Arange&>(p);
  array& out = outputs[0];
  if (out.dtype() == Dtype::bool_) return false;
  if (!dispatch_values(out.dtype(), [](auto) {})) return false;
  void* y = alloc_out(out);
  int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return true;
  dispatch_values(out.dtype(), [&](auto vt) {
    using T = typename decltype(vt)::type;
    k_arange<T><<<grid_for(n), kBlock, 0, stream()>>>(static_cast<T*>(y), n, ar.start_, ar.step_);
    check_launch("arange kernel");
  });
  return true;
}

}  // namespace

MLX_CUDA_KERNEL(Gather, eval_gather);
MLX_CUDA_KERNEL(Scatter, eval_scatter);
MLX_CUDA_KERNEL(GatherAxis, eval_gather_axis);
MLX_CUDA_KERNEL(ScatterAxis, eval_scatter_axis);
MLX_CUDA_KERNEL(Arange, eval_arange);

}  // namespace mlx::core::cu
