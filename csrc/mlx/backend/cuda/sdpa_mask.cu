// Whether an attention mask array is exactly the causal mask (sdpa.cpp uses cuDNN's causal
// attention for it instead of reading it as a bias).
#include "mlx/backend/cuda/device.cuh"

namespace mlx::core::cu {

namespace {

// Clears *ok at the first element that breaks the pattern: query i (of Lq) sees key j (of Lk)
// iff j <= i + Lk - Lq. A bool mask is true exactly where seen; an additive mask is 0 where
// seen and at most the dtype's lowest finite value (or -inf) elsewhere.
template <typename T>
__global__ void causal_check(const T* m, int64_t s_q, int64_t s_k, int64_t Lq, int64_t Lk, float lowest,
                             int* ok) {
  int64_t n = Lq * Lk;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = idx / Lk, j = idx % Lk;
    bool seen = j <= i + (Lk - Lq);
    T v = m[i * s_q + j * s_k];
    bool good;
    if constexpr (std::is_same_v<T, bool>) {
      good = v == seen;
    } else {
      float f = static_cast<float>(v);
      good = seen ? f == 0.0f : f <= lowest;
    }
    if (!good) *ok = 0;
  }
}

}  // namespace

// mask: element (i, j) at p[i * s_q + j * s_k] (device memory, strides in elements).
bool mask_is_causal(const void* p, Dtype t, int64_t s_q, int64_t s_k, int64_t Lq, int64_t Lk) {
  if (Lq <= 0 || Lk < Lq) return false;
  float lowest;
  switch (t) {
    case Dtype::bool_: lowest = 0; break;
    case Dtype::float16: lowest = -65504.0f; break;
    case Dtype::bfloat16: lowest = -3.3895313892515355e38f; break;
    case Dtype::float32: lowest = -3.4028234663852886e38f; break;
    default: return false;
  }
  Scratch fs(sizeof(int));
  int* flag = fs.as<int>();
  int one = 1, host = 0;
  cudaStream_t s = stream();
  MLX_CUDA_CHECK(cudaMemcpyAsync(flag, &one, sizeof(int), cudaMemcpyHostToDevice, s));
  int64_t n = Lq * Lk;
  int blocks = static_cast<int>(std::min<int64_t>((n + 255) / 256, 4096));
  dispatch(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, float> || is_half_v<T>) {
      causal_check<T><<<blocks, 256, 0, s>>>(static_cast<const T*>(p), s_q, s_k, Lq, Lk, lowest, flag);
    }
  });
  check_launch("causal_check");
  MLX_CUDA_CHECK(cudaMemcpyAsync(&host, flag, sizeof(int), cudaMemcpyDeviceToHost, s));
  MLX_CUDA_CHECK(cudaStreamSynchronize(s));
  return host == 1;
}

}  // namespace mlx::core::cu
