// Elementwise launch helpers: contiguous (vectorized) and strided loops over n elements.
#pragma once
#include <algorithm>

#include "mlx/backend/cuda/device.cuh"

namespace mlx::core::cu {

constexpr int kThreads = 256;

template <int N, typename In, typename Out, typename F>
__global__ void k_map1(const In* __restrict__ x, Out* __restrict__ y, int64_t n, F f) {
  int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * N;
  if (i + N <= n) {
    Vec<In, N> a = *reinterpret_cast<const Vec<In, N>*>(x + i);
    Vec<Out, N> b;
#pragma unroll
    for (int j = 0; j < N; ++j) b.v[j] = f(a.v[j]);
    *reinterpret_cast<Vec<Out, N>*>(y + i) = b;
  } else {
    for (; i < n; ++i) y[i] = f(x[i]);
  }
}

template <typename In, typename Out, typename F>
__global__ void k_map1_strided(const In* __restrict__ x, Out* __restrict__ y, int64_t n, Strided s, F f) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = f(x[strided_offset(s, 0, i)]);
}

// Offsets of the collapsed index `i` over the first `nd` dims of `s`, for operands 0..K-1 (the
// divisions shared between them).
template <int K>
__device__ __forceinline__ void outer_offsets(const Strided& s, int nd, int64_t i, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) off[k] = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < nd) {
      int64_t q = i / s.shape[d];
      int64_t r = i - q * s.shape[d];
#pragma unroll
      for (int k = 0; k < K; ++k) off[k] += r * s.strides[k][d];
      i = q;
    }
  }
}

// Strided layouts whose last collapsed dim is contiguous (stride 1) or broadcast (stride 0) in
// every input (broadcast only where the kernel reads a scalar for it: k_map2_inner): each
// thread takes N consecutive elements of that dim, computes the offsets of their row once, and
// moves them as vectors. Valid when the dim's extent is a multiple of N and every stride-1
// operand's row starts are N-element aligned (inner_vec_ok).
inline bool inner_vec_ok(const Strided& s, int nops, const void* const* ptrs, const size_t* sizes, int N,
                         bool allow_broadcast) {
  if (s.ndim < 1 || s.shape[s.ndim - 1] % N != 0) return false;
  for (int k = 0; k < nops; ++k) {
    int64_t inner = s.strides[k][s.ndim - 1];
    if (inner == 0 && allow_broadcast) continue;
    if (inner != 1 || !aligned(ptrs[k], N * sizes[k])) return false;
    for (int d = 0; d + 1 < s.ndim; ++d)
      if (s.strides[k][d] % N != 0) return false;
  }
  return true;
}

// The N elements of a row starting at column `col`: a vector load where the last dim is
// contiguous (inner = 1), the row's one value repeated where it is broadcast (inner = 0).
template <int N, typename T>
__device__ __forceinline__ Vec<T, N> row_vec(const T* __restrict__ p, int64_t off, int64_t col, int64_t inner) {
  Vec<T, N> v;
  if (inner) {
    v = *reinterpret_cast<const Vec<T, N>*>(p + off + col);
  } else {
    T x = p[off];
#pragma unroll
    for (int j = 0; j < N; ++j) v.v[j] = x;
  }
  return v;
}

// Vector t of an inner-vectorized layout: its first element i of the output, its column in the
// last dim, and the start of its row in each of the K operands.
template <int N, int K>
__device__ __forceinline__ void inner_place(const Strided& s, int64_t t, int64_t& i, int64_t& col,
                                            int64_t (&off)[K]) {
  int nd = s.ndim - 1;
  i = t * N;
  int64_t row = i / s.shape[nd];
  col = i - row * s.shape[nd];
  outer_offsets<K>(s, nd, row, off);
}

template <int N, typename In, typename Out, typename F>
__global__ void k_map1_inner(const In* __restrict__ x, Out* __restrict__ y, int64_t nvec, Strided s, F f) {
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= nvec) return;
  int64_t i, c, off[1];
  inner_place<N>(s, t, i, c, off);
  Vec<In, N> a = row_vec<N>(x, off[0], c, 1);
  Vec<Out, N> b;
#pragma unroll
  for (int j = 0; j < N; ++j) b.v[j] = f(a.v[j]);
  *reinterpret_cast<Vec<Out, N>*>(y + i) = b;
}

template <int N, typename A, typename B, typename Out, typename F>
__global__ void k_map2_inner(const A* __restrict__ a, const B* __restrict__ b, Out* __restrict__ y, int64_t nvec,
                             Strided s, F f) {
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= nvec) return;
  int nd = s.ndim - 1;
  int64_t i, c, off[2];
  inner_place<N>(s, t, i, c, off);
  Vec<A, N> va = row_vec<N>(a, off[0], c, s.strides[0][nd]);
  Vec<B, N> vb = row_vec<N>(b, off[1], c, s.strides[1][nd]);
  Vec<Out, N> vy;
#pragma unroll
  for (int j = 0; j < N; ++j) vy.v[j] = f(va.v[j], vb.v[j]);
  *reinterpret_cast<Vec<Out, N>*>(y + i) = vy;
}

// Elements per 16-byte vector of the widest of the types.
template <typename... T>
constexpr int vec_width() {
  constexpr size_t w = std::max({sizeof(T)...});
  return w >= 16 ? 1 : static_cast<int>(16 / w);
}

// y = f(x) over a contiguous range.
template <typename In, typename Out, typename F>
void map1_contig(const In* x, Out* y, int64_t n, F f) {
  if (n == 0) return;
  if (aligned(x, 4 * sizeof(In)) && aligned(y, 4 * sizeof(Out))) {
    k_map1<4><<<blocks_for((n + 3) / 4, kThreads), kThreads, 0, stream()>>>(x, y, n, f);
  } else {
    k_map1<1><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x, y, n, f);
  }
  check_launch("elementwise kernel");
}

template <typename In, typename Out, typename F>
void map1_strided(const In* x, Out* y, int64_t n, const Strided& s, F f) {
  if (n == 0) return;
  constexpr int V = vec_width<In, Out>();
  if constexpr (V > 1) {
    const void* ptrs[1] = {x};
    const size_t sizes[1] = {sizeof(In)};
    if (aligned(y, V * sizeof(Out)) && inner_vec_ok(s, 1, ptrs, sizes, V, false)) {
      k_map1_inner<V><<<blocks_for(n / V, kThreads), kThreads, 0, stream()>>>(x, y, n / V, s, f);
      check_launch("strided elementwise kernel (vectorized rows)");
      return;
    }
  }
  k_map1_strided<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x, y, n, s, f);
  check_launch("strided elementwise kernel");
}

// Binary: a and b each either a full contiguous range or a scalar (flag).
template <int N, typename A, typename B, typename Out, typename F>
__global__ void k_map2(const A* __restrict__ a, const B* __restrict__ b, Out* __restrict__ y, int64_t n,
                       bool a_scalar, bool b_scalar, F f) {
  int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * N;
  if (i + N <= n) {
    Vec<A, N> va;
    Vec<B, N> vb;
    if (a_scalar) {
#pragma unroll
      for (int j = 0; j < N; ++j) va.v[j] = a[0];
    } else {
      va = *reinterpret_cast<const Vec<A, N>*>(a + i);
    }
    if (b_scalar) {
#pragma unroll
      for (int j = 0; j < N; ++j) vb.v[j] = b[0];
    } else {
      vb = *reinterpret_cast<const Vec<B, N>*>(b + i);
    }
    Vec<Out, N> vy;
#pragma unroll
    for (int j = 0; j < N; ++j) vy.v[j] = f(va.v[j], vb.v[j]);
    *reinterpret_cast<Vec<Out, N>*>(y + i) = vy;
  } else {
    for (; i < n; ++i) y[i] = f(a[a_scalar ? 0 : i], b[b_scalar ? 0 : i]);
  }
}

template <typename A, typename B, typename Out, typename F>
__global__ void k_map2_strided(const A* __restrict__ a, const B* __restrict__ b, Out* __restrict__ y,
                               int64_t n, Strided s, F f) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = f(a[strided_offset(s, 0, i)], b[strided_offset(s, 1, i)]);
}

template <typename A, typename B, typename Out, typename F>
void map2_contig(const A* a, const B* b, Out* y, int64_t n, bool as, bool bs, F f) {
  if (n == 0) return;
  if ((as || aligned(a, 4 * sizeof(A))) && (bs || aligned(b, 4 * sizeof(B))) && aligned(y, 4 * sizeof(Out))) {
    k_map2<4><<<blocks_for((n + 3) / 4, kThreads), kThreads, 0, stream()>>>(a, b, y, n, as, bs, f);
  } else {
    k_map2<1><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(a, b, y, n, as, bs, f);
  }
  check_launch("binary kernel");
}

template <typename A, typename B, typename Out, typename F>
void map2_strided(const A* a, const B* b, Out* y, int64_t n, const Strided& s, F f) {
  if (n == 0) return;
  constexpr int V = vec_width<A, B, Out>();
  if constexpr (V > 1) {
    const void* ptrs[2] = {a, b};
    const size_t sizes[2] = {sizeof(A), sizeof(B)};
    if (aligned(y, V * sizeof(Out)) && inner_vec_ok(s, 2, ptrs, sizes, V, true)) {
      k_map2_inner<V><<<blocks_for(n / V, kThreads), kThreads, 0, stream()>>>(a, b, y, n / V, s, f);
      check_launch("strided binary kernel (vectorized rows)");
      return;
    }
  }
  k_map2_strided<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(a, b, y, n, s, f);
  check_launch("strided binary kernel");
}

template <typename C, typename A, typename B, typename Out, typename F>
__global__ void k_map3_strided(const C* __restrict__ c, const A* __restrict__ a, const B* __restrict__ b,
                               Out* __restrict__ y, int64_t n, Strided s, F f) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = f(c[strided_offset(s, 0, i)], a[strided_offset(s, 1, i)], b[strided_offset(s, 2, i)]);
}

template <int N, typename C, typename A, typename B, typename Out, typename F>
__global__ void k_map3_inner(const C* __restrict__ c, const A* __restrict__ a, const B* __restrict__ b,
                             Out* __restrict__ y, int64_t nvec, Strided s, F f) {
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= nvec) return;
  int nd = s.ndim - 1;
  int64_t i, col, off[3];
  inner_place<N>(s, t, i, col, off);
  Vec<C, N> vc = row_vec<N>(c, off[0], col, s.strides[0][nd]);
  Vec<A, N> va = row_vec<N>(a, off[1], col, s.strides[1][nd]);
  Vec<B, N> vb = row_vec<N>(b, off[2], col, s.strides[2][nd]);
  Vec<Out, N> vy;
#pragma unroll
  for (int j = 0; j < N; ++j) vy.v[j] = f(vc.v[j], va.v[j], vb.v[j]);
  *reinterpret_cast<Vec<Out, N>*>(y + i) = vy;
}

// y = f(c, a, b) with the three operands laid out as `s` describes (operands 0, 1, 2).
template <typename C, typename A, typename B, typename Out, typename F>
void map3_strided(const C* c, const A* a, const B* b, Out* y, int64_t n, const Strided& s, F f) {
  if (n == 0) return;
  constexpr int V = vec_width<C, A, B, Out>();
  if constexpr (V > 1) {
    const void* ptrs[3] = {c, a, b};
    const size_t sizes[3] = {sizeof(C), sizeof(A), sizeof(B)};
    if (aligned(y, V * sizeof(Out)) && inner_vec_ok(s, 3, ptrs, sizes, V, true)) {
      k_map3_inner<V><<<blocks_for(n / V, kThreads), kThreads, 0, stream()>>>(c, a, b, y, n / V, s, f);
      check_launch("ternary kernel (vectorized rows)");
      return;
    }
  }
  k_map3_strided<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(c, a, b, y, n, s, f);
  check_launch("ternary kernel");
}

// Whether `a` covers `n` elements in row-major order, or is one broadcast value.
inline bool is_row_full(const array& a, size_t n) { return a.flags().row_contiguous && a.size() == n; }
inline bool is_scalar_like(const array& a) { return a.data_size() == 1; }

}  // namespace mlx::core::cu
