// Reductions, arg-reductions and softmax on the GPU.
#include <cfloat>

#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/primitives/primitives.h"

namespace mlx::core::cu {

namespace {

template <typename T>
__device__ __forceinline__ T shfl_down(T v, int off) {
  if constexpr (std::is_same_v<T, bool>) return __shfl_down_sync(0xffffffffu, static_cast<int>(v), off) != 0;
  else if constexpr (sizeof(T) < 4) return static_cast<T>(__shfl_down_sync(0xffffffffu, static_cast<int>(v), off));
  else return __shfl_down_sync(0xffffffffu, v, off);
}

template <typename T>
__device__ __forceinline__ T lowest() {
  if constexpr (std::is_same_v<T, float>) return -INFINITY;
  else if constexpr (std::is_same_v<T, bool>) return false;
  else return std::numeric_limits<T>::lowest();
}
template <typename T>
__device__ __forceinline__ T highest() {
  if constexpr (std::is_same_v<T, float>) return INFINITY;
  else if constexpr (std::is_same_v<T, bool>) return true;
  else return std::numeric_limits<T>::max();
}

template <ReduceType R, typename A>
struct RedOp {
  __device__ __forceinline__ static A init() {
    if constexpr (R == ReduceType::Sum || R == ReduceType::Or) return A(0);
    else if constexpr (R == ReduceType::Prod || R == ReduceType::And) return A(1);
    else if constexpr (R == ReduceType::Max) return lowest<A>();
    else return highest<A>();
  }
  __device__ __forceinline__ static A combine(A a, A b) {
    if constexpr (R == ReduceType::Sum) return a + b;
    else if constexpr (R == ReduceType::Prod) return a * b;
    else if constexpr (R == ReduceType::And) return a && b;
    else if constexpr (R == ReduceType::Or) return a || b;
    else if constexpr (R == ReduceType::Max) {
      if constexpr (std::is_floating_point_v<A>) return (a != a || a > b) ? a : b;
      else return a > b ? a : b;
    } else {
      if constexpr (std::is_floating_point_v<A>) return (a != a || a < b) ? a : b;
      else return a < b ? a : b;
    }
  }
};

// Block-wide reduction of one value per thread; the result is valid in thread 0.
template <typename Op, typename A>
__device__ A block_reduce(A v) {
  __shared__ char smem_raw[32 * sizeof(A) > 32 * 8 ? 32 * sizeof(A) : 32 * 8];
  A* smem = reinterpret_cast<A*>(smem_raw);
  for (int off = 16; off > 0; off >>= 1) v = Op::combine(v, shfl_down(v, off));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  int nw = (blockDim.x + 31) >> 5;
  v = threadIdx.x < nw ? smem[threadIdx.x] : Op::init();
  if (warp == 0)
    for (int off = 16; off > 0; off >>= 1) v = Op::combine(v, shfl_down(v, off));
  return v;
}

// Rows of `len` contiguous values; grid (rows, chunks). Writes one partial per (row, chunk).
// Chunks are whole multiples of 16 bytes, and each block reads its range in 16-byte vectors
// (scalar head up to the first aligned element, scalar tail): 4-byte loads kept too few bytes
// in flight to stream at the memory's rate.
template <ReduceType R, typename In, typename A, typename Out>
__global__ void k_row_reduce(const In* __restrict__ x, Out* __restrict__ y, int64_t len, int chunks) {
  using Op = RedOp<R, A>;
  constexpr int V = sizeof(In) < 16 ? 16 / sizeof(In) : 1;
  int64_t row = blockIdx.x;
  int64_t per = ((len + chunks - 1) / chunks + V - 1) / V * V;
  int64_t s = blockIdx.y * per, e = min(len, s + per);
  const In* p = x + row * len;
  A acc = Op::init();
  if (s < e) {
    int64_t head = 0;
    if constexpr (V > 1) {
      int64_t mis = static_cast<int64_t>((reinterpret_cast<uintptr_t>(p + s) % 16) / sizeof(In));
      head = mis ? min(static_cast<int64_t>(V) - mis, e - s) : 0;
    }
    if (threadIdx.x < head) acc = Op::combine(acc, cast<A>(p[s + threadIdx.x]));
    int64_t a = s + head;
    int64_t nv = (e - a) / V;
    const Vec<In, V>* pv = reinterpret_cast<const Vec<In, V>*>(p + a);
    for (int64_t i = threadIdx.x; i < nv; i += blockDim.x) {
      Vec<In, V> v = pv[i];
#pragma unroll
      for (int j = 0; j < V; ++j) acc = Op::combine(acc, cast<A>(v.v[j]));
    }
    for (int64_t i = a + nv * V + threadIdx.x; i < e; i += blockDim.x) acc = Op::combine(acc, cast<A>(p[i]));
  }
  acc = block_reduce<Op>(acc);
  if (threadIdx.x == 0) y[row * chunks + blockIdx.y] = cast<Out>(acc);
}

// (outer, r, inner) layout, reducing r; grid (outer * ceil(inner/256), chunks).
template <ReduceType R, typename In, typename A, typename Out>
__global__ void k_col_reduce(const In* __restrict__ x, Out* __restrict__ y, int64_t outer, int64_t r, int64_t inner,
                             int chunks) {
  using Op = RedOp<R, A>;
  int64_t nb = (inner + blockDim.x - 1) / blockDim.x;
  int64_t o = blockIdx.x / nb;
  int64_t i = (blockIdx.x % nb) * blockDim.x + threadIdx.x;
  if (i >= inner) return;
  int64_t per = (r + chunks - 1) / chunks;
  int64_t s = blockIdx.y * per, e = min(r, s + per);
  const In* p = x + o * r * inner + i;
  A acc = Op::init();
  for (int64_t k = s; k < e; ++k) acc = Op::combine(acc, cast<A>(p[k * inner]));
  // partials laid out (chunk, outer, inner)
  y[(int64_t(blockIdx.y) * outer + o) * inner + i] = cast<Out>(acc);
}

template <ReduceType R, typename In, typename Out>
void reduce_rows(const In* x, Out* y, int64_t rows, int64_t len) {
  using A = std::conditional_t<is_half_v<Out>, float, std::conditional_t<std::is_same_v<Out, bool>, bool, Out>>;
  int threads = len >= 4096 ? 512 : (len >= 512 ? 256 : 128);
  int sms = props().multiProcessorCount;
  int chunks = 1;
  if (rows < 2 * sms && len >= 8192) chunks = static_cast<int>(std::min<int64_t>((4 * sms + rows - 1) / rows, len / 4096));
  chunks = std::min(std::max(chunks, 1), 1024);
  if (chunks == 1) {
    k_row_reduce<R, In, A, Out><<<dim3(rows, 1), threads, 0, stream()>>>(x, y, len, 1);
    check_launch("row reduce");
    return;
  }
  A* part = static_cast<A*>(dev_malloc(sizeof(A) * rows * chunks));
  k_row_reduce<R, In, A, A><<<dim3(rows, chunks), threads, 0, stream()>>>(x, part, len, chunks);
  check_launch("row reduce");
  k_row_reduce<R, A, A, Out><<<dim3(rows, 1), 128, 0, stream()>>>(part, y, chunks, 1);
  check_launch("row reduce");
  dev_free(part, sizeof(A) * rows * chunks);
}

template <ReduceType R, typename In, typename Out>
void reduce_cols(const In* x, Out* y, int64_t outer, int64_t r, int64_t inner) {
  using A = std::conditional_t<is_half_v<Out>, float, std::conditional_t<std::is_same_v<Out, bool>, bool, Out>>;
  int64_t cols = outer * inner;
  int sms = props().multiProcessorCount;
  int chunks = 1;
  if (cols < int64_t(sms) * 1024 && r >= 64) chunks = static_cast<int>(std::min<int64_t>((sms * 1024 + cols - 1) / cols, r / 32));
  chunks = std::max(chunks, 1);
  chunks = std::min(chunks, 1024);
  dim3 grid(static_cast<unsigned>(outer * blocks_for(inner, 256)), chunks);
  if (chunks == 1) {
    k_col_reduce<R, In, A, Out><<<grid, 256, 0, stream()>>>(x, y, outer, r, inner, 1);
    check_launch("column reduce");
    return;
  }
  A* part = static_cast<A*>(dev_malloc(sizeof(A) * cols * chunks));
  k_col_reduce<R, In, A, A><<<grid, 256, 0, stream()>>>(x, part, outer, r, inner, chunks);
  check_launch("column reduce");
  // partials are (chunks, cols): a column reduction with outer 1.
  k_col_reduce<R, A, A, Out><<<dim3(blocks_for(cols, 256), 1), 256, 0, stream()>>>(part, y, 1, chunks, cols, 1);
  check_launch("column reduce");
  dev_free(part, sizeof(A) * cols * chunks);
}

template <ReduceType R>
bool reduce_typed(const array& in, array& out, int64_t outer, int64_t r, int64_t inner) {
  bool ok = false;
  dispatch(in.dtype(), [&](auto ti) {
    using In = typename decltype(ti)::type;
    dispatch(out.dtype(), [&](auto to) {
      using Out = typename decltype(to)::type;
      constexpr bool logical = R == ReduceType::And || R == ReduceType::Or;
      if constexpr (logical ? std::is_same_v<Out, bool>
                            : (std::is_same_v<In, Out> || (std::is_same_v<In, bool> && !std::is_same_v<Out, bool>))) {
        const In* x = in_ptr<In>(in);
        Out* y = static_cast<Out*>(alloc_out(out));
        if (inner == 1) reduce_rows<R>(x, y, outer, r);
        else reduce_cols<R>(x, y, outer, r, inner);
        ok = true;
      }
    });
  });
  return ok;
}

bool eval_reduce(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& rp = static_cast<Reduce&>(p);
  array in = inputs[0];
  array& out = outputs[0];
  if (!dispatch(in.dtype(), [](auto) {}) || !dispatch(out.dtype(), [](auto) {})) return false;
  if (in.size() == 0) return false;  // identities: the CPU fills them
  int nd = static_cast<int>(in.ndim());
  std::vector<bool> red(nd, false);
  for (int a : rp.axes_) red[a] = true;
  // Move the reduced axes to a contiguous block: keep them where they are when they already
  // form one block of a row-contiguous input, else copy with them last.
  int first = -1, last = -1;
  for (int i = 0; i < nd; ++i)
    if (red[i] && in.shape(i) != 1) { if (first < 0) first = i; last = i; }
  if (first < 0) {  // nothing to reduce: a copy with the output's dtype
    return copy_to_row_contiguous(in, out);
  }
  bool block = true;
  for (int i = first; i <= last; ++i) block &= red[i] || in.shape(i) == 1;
  if (!block || !in.flags().row_contiguous) {
    std::vector<int> perm;
    for (int i = 0; i < nd; ++i) if (!red[i]) perm.push_back(i);
    for (int i = 0; i < nd; ++i) if (red[i]) perm.push_back(i);
    Shape sh;
    for (int i : perm) sh.push_back(in.shape(i));
    if (!block) {
      Strides st;
      for (int i : perm) st.push_back(in.strides(i));
      array view(sh, in.dtype(), nullptr, {});
      view.copy_shared_buffer(in, st, Flags{false, false, false}, in.data_size(), 0);
      array tmp(sh, in.dtype(), nullptr, {});
      if (!copy_to_row_contiguous(view, tmp)) return false;
      in = tmp;
      nd = static_cast<int>(sh.size());
      red.assign(nd, false);
      for (int i = nd - static_cast<int>(rp.axes_.size()); i < nd; ++i) red[i] = true;
    } else {
      array tmp(in.shape(), in.dtype(), nullptr, {});
      if (!copy_to_row_contiguous(in, tmp)) return false;
      in = tmp;
    }
    first = -1;
    for (int i = 0; i < nd; ++i)
      if (red[i] && in.shape(i) != 1) { if (first < 0) first = i; last = i; }
  }
  int64_t outer = 1, r = 1, inner = 1;
  for (int i = 0; i < first; ++i) outer *= in.shape(i);
  for (int i = first; i <= last; ++i) r *= in.shape(i);
  for (int i = last + 1; i < nd; ++i) inner *= in.shape(i);
  switch (rp.type_) {
    case ReduceType::Sum: return reduce_typed<ReduceType::Sum>(in, out, outer, r, inner);
    case ReduceType::Prod: return reduce_typed<ReduceType::Prod>(in, out, outer, r, inner);
    case ReduceType::Max: return reduce_typed<ReduceType::Max>(in, out, outer, r, inner);
    case ReduceType::Min: return reduce_typed<ReduceType::Min>(in, out, outer, r, inner);
    case ReduceType::And: return reduce_typed<ReduceType::And>(in, out, outer, r, inner);
    case ReduceType::Or: return reduce_typed<ReduceType::Or>(in, out, outer, r, inner);
  }
  return false;
}

// ---- arg-reductions: one block per (outer, inner) column over n ----
template <typename T>
__global__ void k_argreduce(const T* __restrict__ x, uint32_t* __restrict__ y, int64_t n, int64_t inner, bool is_max) {
  using A = compute_t<T>;
  int64_t o = blockIdx.x / inner, i = blockIdx.x % inner;
  const T* p = x + o * n * inner + i;
  A best = A(0);
  uint32_t bi = 0xffffffffu;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    A v = static_cast<A>(p[k * inner]);
    bool better;
    if (bi == 0xffffffffu) better = true;
    else if constexpr (std::is_floating_point_v<A>) better = (best == best) && (is_max ? (v > best || v != v) : (v < best || v != v));
    else better = is_max ? v > best : v < best;
    if (better) { best = v; bi = static_cast<uint32_t>(k); }
  }
  __shared__ A sv[256];
  __shared__ uint32_t si[256];
  sv[threadIdx.x] = best;
  si[threadIdx.x] = bi;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      A v = sv[threadIdx.x + s];
      uint32_t vi = si[threadIdx.x + s];
      A b = sv[threadIdx.x];
      uint32_t bi2 = si[threadIdx.x];
      bool take;
      if (vi == 0xffffffffu) take = false;
      else if (bi2 == 0xffffffffu) take = true;
      else {
        bool nb = false, nv = false;
        if constexpr (std::is_floating_point_v<A>) { nb = b != b; nv = v != v; }
        if (nb || nv) take = nv && (!nb || vi < bi2);
        else if (v == b) take = vi < bi2;
        else take = is_max ? v > b : v < b;
      }
      if (take) { sv[threadIdx.x] = v; si[threadIdx.x] = vi; }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) y[blockIdx.x] = si[0];
}

bool eval_argreduce(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& ap = static_cast<ArgReduce&>(p);
  array in = inputs[0];
  array& out = outputs[0];
  if (in.size() == 0 || out.dtype() != Dtype::uint32) return false;
  if (!dense_rows(in, in)) return false;
  int64_t outer = 1, n = in.shape(ap.axis_), inner = 1;
  for (int i = 0; i < ap.axis_; ++i) outer *= in.shape(i);
  for (size_t i = ap.axis_ + 1; i < in.ndim(); ++i) inner *= in.shape(i);
  bool is_max = ap.type_ == ArgReduceType::ArgMax;
  return dispatch(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in_ptr<T>(in);
    uint32_t* y = static_cast<uint32_t*>(alloc_out(out));
    if (outer * inner == 0) return;
    k_argreduce<T><<<outer * inner, 256, 0, stream()>>>(x, y, n, inner, is_max);
    check_launch("argreduce");
  });
}

// ---- softmax over the last axis: one block per row ----
template <typename T, int THREADS>
__global__ void k_softmax(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  const T* p = x + blockIdx.x * n;
  T* q = y + blockIdx.x * n;
  float m = -INFINITY, s = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += THREADS) {
    float v = static_cast<float>(p[i]);
    if (v == -INFINITY) continue;
    if (v > m) { s = s * __expf(m - v); m = v; }
    s += __expf(v - m);
  }
  // combine (m, s) pairs across the block
  for (int off = 16; off > 0; off >>= 1) {
    float mo = __shfl_down_sync(0xffffffffu, m, off), so = __shfl_down_sync(0xffffffffu, s, off);
    float mn = fmaxf(m, mo);
    s = (m == -INFINITY ? 0.0f : s * __expf(m - mn)) + (mo == -INFINITY ? 0.0f : so * __expf(mo - mn));
    m = mn;
  }
  __shared__ float sm[32], ss[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) { sm[warp] = m; ss[warp] = s; }
  __syncthreads();
  if (warp == 0) {
    m = lane < THREADS / 32 ? sm[lane] : -INFINITY;
    s = lane < THREADS / 32 ? ss[lane] : 0.0f;
    for (int off = 16; off > 0; off >>= 1) {
      float mo = __shfl_down_sync(0xffffffffu, m, off), so = __shfl_down_sync(0xffffffffu, s, off);
      float mn = fmaxf(m, mo);
      s = (m == -INFINITY ? 0.0f : s * __expf(m - mn)) + (mo == -INFINITY ? 0.0f : so * __expf(mo - mn));
      m = mn;
    }
    if (lane == 0) { sm[0] = m; ss[0] = s; }
  }
  __syncthreads();
  m = sm[0];
  if (m == -INFINITY) m = 0.0f;
  float inv = 1.0f / ss[0];  // a row of -inf sums to 0 and gives nan, as on the CPU
  for (int64_t i = threadIdx.x; i < n; i += THREADS) q[i] = cast<T>(__expf(static_cast<float>(p[i]) - m) * inv);
}

bool eval_softmax(Primitive&, const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = inputs[0];
  array& out = outputs[0];
  if (in.size() == 0) return false;
  if (!dense_rows(in, in)) return false;
  int64_t n = in.shape(-1), rows = in.size() / n;
  return dispatch_float(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in_ptr<T>(in);
    T* y = static_cast<T*>(alloc_out(out));
    if (n <= 256) k_softmax<T, 64><<<rows, 64, 0, stream()>>>(x, y, n);
    else if (n <= 2048) k_softmax<T, 256><<<rows, 256, 0, stream()>>>(x, y, n);
    else k_softmax<T, 1024><<<rows, 1024, 0, stream()>>>(x, y, n);
    check_launch("softmax");
  });
}

}  // namespace

MLX_CUDA_KERNEL(Reduce, eval_reduce);
MLX_CUDA_KERNEL(ArgReduce, eval_argreduce);
MLX_CUDA_KERNEL(Softmax, eval_softmax);

}  // namespace mlx::core::cu
