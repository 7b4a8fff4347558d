// mlx.core.fast on the GPU: fused layer_norm and rms_norm kernels; RoPE and the norm gradients
// run their composite definitions (whose nodes have GPU kernels). Attention: sdpa.cpp.
#include <algorithm>

#include "mlx/backend/cuda/elementwise.cuh"
#include "mlx/backend/cuda/fast_composite.h"
#include "mlx/primitives/compiled.h"
#include "mlx/primitives/custom.h"
#include "mlx/primitives/fast.h"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::cu {

namespace {

template <int THREADS>
__device__ float block_sum(float v, float* sh) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < THREADS / 32 ? sh[lane] : 0.0f;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) sh[0] = v;
  }
  __syncthreads();
  return sh[0];
}

// One block per row. LAYER: subtract the mean first. Weight/bias: length-n vectors (element
// stride ws/bs: 1, or 0 for one value broadcast) or null.
template <typename T, int THREADS, bool LAYER>
__global__ void k_norm(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                       int64_t n, float eps, int ws, int bs) {
  __shared__ float sh[32];
  const T* p = x + blockIdx.x * n;
  T* q = y + blockIdx.x * n;
  float mean = 0.0f;
  if constexpr (LAYER) {
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += THREADS) s += static_cast<float>(p[i]);
    mean = block_sum<THREADS>(s, sh) / static_cast<float>(n);
  }
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += THREADS) {
    float d = static_cast<float>(p[i]) - mean;
    ss += d * d;
  }
  float inv = rsqrtf(block_sum<THREADS>(ss, sh) / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += THREADS) {
    float v = (static_cast<float>(p[i]) - mean) * inv;
    if (w) v *= static_cast<float>(w[i * ws]);
    if (b) v += static_cast<float>(b[i * bs]);
    q[i] = cast<T>(v);
  }
}

bool vector_of(const array& v, int64_t n, Dtype dt) {
  return v.ndim() >= 1 && v.size() == static_cast<size_t>(n) && v.dtype() == dt && v.strides().back() == 1 &&
         v.flags().row_contiguous;
}

// Element stride of a norm's weight/bias: 1 for a contiguous vector, 0 for one value broadcast
// (mx.ones/mx.zeros, as nn.LayerNorm starts), -1 for anything else.
int norm_param_stride(const array& v, int64_t n, Dtype dt) {
  if (v.ndim() < 1 || v.size() != static_cast<size_t>(n) || v.dtype() != dt) return -1;
  if (vector_of(v, n, dt)) return 1;
  for (int i = 0; i < static_cast<int>(v.ndim()); ++i)
    if (v.shape(i) != 1 && v.strides(i) != 0) return -1;
  return 0;
}

template <bool LAYER>
bool eval_norm(const std::vector<array>& inputs, array& out, float eps, bool has_w, bool has_b) {
  array x = inputs[0];
  if (x.size() == 0) return false;
  int64_t n = x.shape(-1), rows = x.size() / n;
  const array* w = has_w ? &inputs[1] : nullptr;
  const array* b = has_b ? &inputs[has_w ? 2 : 1] : nullptr;
  int ws = w ? norm_param_stride(*w, n, x.dtype()) : 0, bs = b ? norm_param_stride(*b, n, x.dtype()) : 0;
  if (ws < 0 || bs < 0) return false;
  if (!dense_rows(x, x)) return false;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = in_ptr<T>(x);
    const T* pw = w ? in_ptr<T>(*w) : nullptr;
    const T* pb = b ? in_ptr<T>(*b) : nullptr;
    T* py = static_cast<T*>(alloc_out(out));
    if (n <= 1024) k_norm<T, 128, LAYER><<<rows, 128, 0, stream()>>>(px, pw, pb, py, n, eps, ws, bs);
    else k_norm<T, 512, LAYER><<<rows, 512, 0, stream()>>>(px, pw, pb, py, n, eps, ws, bs);
    check_launch("norm kernel");
  });
}

bool eval_layer_norm(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& ln = static_cast<fast::LayerNorm&>(p);
  if (eval_norm<true>(inputs, outputs[0], ln.eps_, ln.has_weight_, ln.has_bias_)) return true;
  eval_composite(ln.fallback()(inputs), outputs);
  return true;
}

bool eval_rms_norm(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& rn = static_cast<fast::RMSNorm&>(p);
  if (eval_norm<false>(inputs, outputs[0], rn.eps_, rn.has_weight_, false)) return true;
  eval_composite(rn.fallback()(inputs), outputs);
  return true;
}


// Gradients of layer_norm / rms_norm. One block per row computes dx; blocks also add g*x̂ and
// g of their rows into per-block float partial sums (one row of `parts` each, no atomics),
// which a second kernel sums over the blocks into dw and db.
template <typename T, int THREADS, bool LAYER>
__global__ void k_norm_vjp(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ g,
                           T* __restrict__ dx, float* __restrict__ pdw, float* __restrict__ pdb, int64_t rows,
                           int64_t n, float eps) {
  __shared__ float sh[32];
  float inv_n = 1.0f / static_cast<float>(n);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    const T* gr = g + r * n;
    float mean = 0.0f;
    if constexpr (LAYER) {
      float s = 0.0f;
      for (int64_t i = threadIdx.x; i < n; i += THREADS) s += static_cast<float>(xr[i]);
      mean = block_sum<THREADS>(s, sh) * inv_n;
    }
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += THREADS) {
      float d = static_cast<float>(xr[i]) - mean;
      ss += d * d;
    }
    float rs = 1.0f / sqrtf(block_sum<THREADS>(ss, sh) * inv_n + eps);
    if (dx) {
      float sa = 0.0f, sc = 0.0f;
      for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        float gw = __fmul_rn(static_cast<float>(gr[i]), w ? static_cast<float>(w[i]) : 1.0f);  // no FMA: as the CPU
        sa += gw;
        sc += gw * (static_cast<float>(xr[i]) - mean) * rs;
      }
      float a = LAYER ? block_sum<THREADS>(sa, sh) * inv_n : 0.0f;
      float c = block_sum<THREADS>(sc, sh) * inv_n;
      T* o = dx + r * n;
      for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        float gw = __fmul_rn(static_cast<float>(gr[i]), w ? static_cast<float>(w[i]) : 1.0f);  // no FMA: as the CPU
        float xh = (static_cast<float>(xr[i]) - mean) * rs;
        o[i] = cast<T>(rs * (gw - a - xh * c));
      }
    }
    if (pdw || pdb) {
      for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        float gv = static_cast<float>(gr[i]);
        if (pdw) pdw[blockIdx.x * n + i] += gv * (static_cast<float>(xr[i]) - mean) * rs;
        if (pdb) pdb[blockIdx.x * n + i] += gv;
      }
    }
  }
}

// The same gradients with each row held in registers: thread t owns the K vectors of V elements
// at columns (k * TH + t) * V, so x and g are read once per row as 16-byte vectors, and the
// thread's dw/db partial sums stay in registers across the block's rows (stored once at the
// end, a full row of `parts` per block, so no clearing is needed). For n a multiple of V up to
// K * TH * V with 16-byte aligned rows.
template <typename T, int TH, int K, bool LAYER>
__global__ void __launch_bounds__(TH) k_norm_vjp_reg(const T* __restrict__ x, const T* __restrict__ w,
                                                     const T* __restrict__ g, T* __restrict__ dx,
                                                     float* __restrict__ pdw, float* __restrict__ pdb,
                                                     int64_t rows, int n, float eps) {
  constexpr int V = 16 / sizeof(T);
  using Vt = Vec<T, V>;
  __shared__ float sh[32];
  float inv_n = 1.0f / static_cast<float>(n);
  bool have[K];
  float wv[K][V], adw[K][V], adb[K][V];
#pragma unroll
  for (int k = 0; k < K; ++k) {
    int col = (k * TH + threadIdx.x) * V;
    have[k] = col < n;
    Vt wk;
    if (w && have[k]) wk = *reinterpret_cast<const Vt*>(w + col);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      wv[k][j] = (w && have[k]) ? static_cast<float>(wk.v[j]) : 1.0f;
      adw[k][j] = 0.0f;
      adb[k][j] = 0.0f;
    }
  }
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float xv[K][V], gv[K][V];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      int col = (k * TH + threadIdx.x) * V;
      Vt a, b;
      if (have[k]) {
        a = *reinterpret_cast<const Vt*>(x + r * n + col);
        b = *reinterpret_cast<const Vt*>(g + r * n + col);
      }
#pragma unroll
      for (int j = 0; j < V; ++j) {
        xv[k][j] = have[k] ? static_cast<float>(a.v[j]) : 0.0f;
        gv[k][j] = have[k] ? static_cast<float>(b.v[j]) : 0.0f;
        s += xv[k][j];
      }
    }
    float mean = 0.0f;
    if constexpr (LAYER) mean = block_sum<TH>(s, sh) * inv_n;
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
      for (int j = 0; j < V; ++j) {
        float d = have[k] ? xv[k][j] - mean : 0.0f;
        ss += d * d;
      }
    float rs = 1.0f / sqrtf(block_sum<TH>(ss, sh) * inv_n + eps);
    if (dx) {
      float sa = 0.0f, sc = 0.0f;
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int j = 0; j < V; ++j) {
          float gw = __fmul_rn(gv[k][j], wv[k][j]);  // no FMA: as the CPU
          sa += gw;
          sc += gw * (xv[k][j] - mean) * rs;
        }
      float a = LAYER ? block_sum<TH>(sa, sh) * inv_n : 0.0f;
      float c = block_sum<TH>(sc, sh) * inv_n;
#pragma unroll
      for (int k = 0; k < K; ++k) {
        if (!have[k]) continue;
        Vt o;
#pragma unroll
        for (int j = 0; j < V; ++j) {
          float gw = __fmul_rn(gv[k][j], wv[k][j]);
          float xh = (xv[k][j] - mean) * rs;
          o.v[j] = cast<T>(rs * (gw - a - xh * c));
        }
        *reinterpret_cast<Vt*>(dx + r * n + (k * TH + threadIdx.x) * V) = o;
      }
    }
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
      for (int j = 0; j < V; ++j) {
        adw[k][j] += gv[k][j] * (xv[k][j] - mean) * rs;
        adb[k][j] += gv[k][j];
      }
  }
#pragma unroll
  for (int k = 0; k < K; ++k) {
    if (!have[k]) continue;
    int col = (k * TH + threadIdx.x) * V;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      if (pdw) pdw[blockIdx.x * int64_t(n) + col + j] = adw[k][j];
      if (pdb) pdb[blockIdx.x * int64_t(n) + col + j] = adb[k][j];
    }
  }
}

// Launches k_norm_vjp_reg when n and the pointers suit it; false otherwise.
template <typename T, bool LAYER>
bool norm_vjp_reg(const T* x, const T* w, const T* g, T* dx, float* pdw, float* pdb, int64_t rows, int64_t n,
                  float eps, int parts) {
  constexpr int V = 16 / sizeof(T);
  if (n % V != 0 || n > 4 * 512 * V) return false;
  for (const void* p : {static_cast<const void*>(x), static_cast<const void*>(w), static_cast<const void*>(g),
                        static_cast<const void*>(dx)})
    if (p && !aligned(p, 16)) return false;
  int ni = static_cast<int>(n);
  auto go = [&](auto th, auto k) {
    constexpr int TH = decltype(th)::value, K = decltype(k)::value;
    k_norm_vjp_reg<T, TH, K, LAYER><<<parts, TH, 0, stream()>>>(x, w, g, dx, pdw, pdb, rows, ni, eps);
  };
  using I128 = std::integral_constant<int, 128>;
  using I512 = std::integral_constant<int, 512>;
  if (n <= 128 * V) go(I128{}, std::integral_constant<int, 1>{});
  else if (n <= 2 * 128 * V) go(I128{}, std::integral_constant<int, 2>{});
  else if (n <= 4 * 128 * V) go(I128{}, std::integral_constant<int, 4>{});
  else if (n <= 2 * 512 * V) go(I512{}, std::integral_constant<int, 2>{});
  else go(I512{}, std::integral_constant<int, 4>{});
  check_launch("norm vjp kernel");
  return true;
}

// out[i] = sum over p < parts of in[p * n + i].
template <typename T>
__global__ void k_sum_parts(const float* __restrict__ in, T* __restrict__ out, int parts, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = 0.0f;
  for (int p = 0; p < parts; ++p) s += in[p * n + i];
  out[i] = cast<T>(s);
}

bool eval_norm_vjp(Primitive& prim, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& p = static_cast<fast::NormVJP&>(prim);
  array x = inputs[0];
  array g = inputs.back();
  if (x.size() == 0 || x.ndim() < 1 || g.shape() != x.shape() || g.dtype() != x.dtype()) return false;
  int64_t n = x.shape(-1), rows = x.size() / n;
  const array* w = p.has_weight_ ? &inputs[1] : nullptr;
  if (w && !vector_of(*w, n, x.dtype())) return false;
  array *dx = nullptr, *dw = nullptr, *db = nullptr;
  for (size_t i = 0; i < p.argnums_.size(); ++i) {
    int a = p.argnums_[i];
    if (a == 0) dx = &outputs[i];
    else if (a == 1 && p.has_weight_) dw = &outputs[i];
    else db = &outputs[i];
  }
  if ((dx && dx->dtype() != x.dtype()) || (dw && dw->size() != static_cast<size_t>(n)) ||
      (db && db->size() != static_cast<size_t>(n)))
    return false;
  if (!dense_rows(x, x) || !dense_rows(g, g)) return false;
  int parts = static_cast<int>(std::min<int64_t>(rows, static_cast<int64_t>(props().multiProcessorCount) * 4));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = in_ptr<T>(x);
    const T* pg = in_ptr<T>(g);
    const T* pw = w ? in_ptr<T>(*w) : nullptr;
    T* pdx = dx ? static_cast<T*>(alloc_out(*dx)) : nullptr;
    size_t pbytes = static_cast<size_t>(parts) * n * sizeof(float);
    float* pdw = dw ? static_cast<float*>(dev_malloc(pbytes)) : nullptr;
    float* pdb = db ? static_cast<float*>(dev_malloc(pbytes)) : nullptr;
    // Rows in registers where the width allows, else the row loop with partials in memory.
    auto run = [&](auto layer) {
      constexpr bool L = decltype(layer)::value;
      if (norm_vjp_reg<T, L>(px, pw, pg, pdx, pdw, pdb, rows, n, p.eps_, parts)) return;
      if (pdw) MLX_CUDA_CHECK(cudaMemsetAsync(pdw, 0, pbytes, stream()));
      if (pdb) MLX_CUDA_CHECK(cudaMemsetAsync(pdb, 0, pbytes, stream()));
      if (n <= 1024) k_norm_vjp<T, 128, L><<<parts, 128, 0, stream()>>>(px, pw, pg, pdx, pdw, pdb, rows, n, p.eps_);
      else k_norm_vjp<T, 512, L><<<parts, 512, 0, stream()>>>(px, pw, pg, pdx, pdw, pdb, rows, n, p.eps_);
      check_launch("norm vjp kernel");
    };
    if (p.layer_) run(std::true_type{});
    else run(std::false_type{});
    int blocks = blocks_for(static_cast<size_t>(n), 256);
    if (dw) {
      k_sum_parts<T><<<blocks, 256, 0, stream()>>>(pdw, static_cast<T*>(alloc_out(*dw)), parts, n);
      check_launch("norm vjp sum");
      dev_free(pdw, pbytes);
    }
    if (db) {
      k_sum_parts<T><<<blocks, 256, 0, stream()>>>(pdb, static_cast<T*>(alloc_out(*db)), parts, n);
      check_launch("norm vjp sum");
      dev_free(pdb, pbytes);
    }
  });
}

bool eval_norm_vjp_or_composite(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (eval_norm_vjp(p, inputs, outputs)) return true;
  return eval_fast_composite(p, inputs, outputs);
}

bool eval_alias(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  p.eval_cpu(inputs, outputs);  // outputs alias inputs: no data is touched
  return true;
}

}  // namespace

// Composite definitions: their nodes run with GPU kernels.
bool eval_fast_composite(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& fp = static_cast<fast::FastPrimitive&>(p);
  eval_composite(fp.fallback()(inputs), outputs);
  return true;
}

using namespace mlx::core::fast;
MLX_CUDA_KERNEL(LayerNorm, eval_layer_norm);
MLX_CUDA_KERNEL(RMSNorm, eval_rms_norm);
MLX_CUDA_KERNEL(RoPE, eval_fast_composite);
MLX_CUDA_KERNEL(NormVJP, eval_norm_vjp_or_composite);
MLX_CUDA_KERNEL(CustomTransforms, eval_alias);
MLX_CUDA_KERNEL(Depends, eval_alias);

}  // namespace mlx::core::cu
