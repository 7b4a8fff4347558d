// mlx.core.fast on the GPU: fused layer_norm and rms_norm kernels; RoPE and the norm gradients
// run their composite definitions (whose nodes have GPU kernels). Attention: sdpa.cpp.
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

// One block per row. LAYER: subtract the mean first. Weight/bias: length-n vectors or null.
template <typename T, int THREADS, bool LAYER>
__global__ void k_norm(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                       int64_t n, float eps) {
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
    if (w) v *= static_cast<float>(w[i]);
    if (b) v += static_cast<float>(b[i]);
    q[i] = cast<T>(v);
  }
}

bool vector_of(const array& v, int64_t n, Dtype dt) {
  return v.ndim() >= 1 && v.size() == static_cast<size_t>(n) && v.dtype() == dt && v.strides().back() == 1 &&
         v.flags().row_contiguous;
}

template <bool LAYER>
bool eval_norm(const std::vector<array>& inputs, array& out, float eps, bool has_w, bool has_b) {
  array x = inputs[0];
  if (x.size() == 0) return false;
  int64_t n = x.shape(-1), rows = x.size() / n;
  const array* w = has_w ? &inputs[1] : nullptr;
  const array* b = has_b ? &inputs[has_w ? 2 : 1] : nullptr;
  if ((w && !vector_of(*w, n, x.dtype())) || (b && !vector_of(*b, n, x.dtype()))) return false;
  if (!x.flags().row_contiguous) {
    array t(x.shape(), x.dtype(), nullptr, {});
    if (!copy_to_row_contiguous(x, t)) return false;
    x = t;
  }
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = in_ptr<T>(x);
    const T* pw = w ? in_ptr<T>(*w) : nullptr;
    const T* pb = b ? in_ptr<T>(*b) : nullptr;
    T* py = static_cast<T*>(alloc_out(out));
    if (n <= 1024) k_norm<T, 128, LAYER><<<rows, 128, 0, stream()>>>(px, pw, pb, py, n, eps);
    else k_norm<T, 512, LAYER><<<rows, 512, 0, stream()>>>(px, pw, pb, py, n, eps);
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
MLX_CUDA_KERNEL(NormVJP, eval_fast_composite);
MLX_CUDA_KERNEL(CustomTransforms, eval_alias);
MLX_CUDA_KERNEL(Depends, eval_alias);

}  // namespace mlx::core::cu
