// mx.random on the GPU: Threefry-2x32 bits (bit-identical to the CPU kernel in
// backend/cpu/random.cpp, layout in primitives/random.h) and the sampler maps (MLX's erfinv
// polynomial and the Gumbel map).
#include "mlx/backend/cuda/device.cuh"
#include "mlx/primitives/random.h"

namespace mlx::core::cu {

namespace {

__device__ __forceinline__ uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32, 20 rounds: the same rounds, rotations and key schedule as the CPU kernel.
__device__ __forceinline__ void threefry2x32(uint32_t k0, uint32_t k1, uint32_t& x0, uint32_t& x1) {
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  const int R[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  x0 += ks[0];
  x1 += ks[1];
#pragma unroll
  for (int i = 0; i < 5; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl32(x1, R[i & 1][j]) ^ x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + static_cast<uint32_t>(i + 1);
  }
}

// One thread per word pair (i, i + m) of one key. n words per key (m = ceil(n / 2)), `bytes`
// output bytes per key (n = ceil(bytes / 4)). WORDS: bytes % 4 == 0, so whole words are stored;
// otherwise bytes are stored one by one (keys start at unaligned byte offsets then).
template <bool WORDS>
__global__ void k_random_bits(const uint32_t* __restrict__ keys, void* __restrict__ out, int64_t nkeys, int64_t n,
                              int64_t m, int64_t bytes) {
  int64_t total = nkeys * m;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t k = t / m, i = t - k * m;
    bool second = i + m < n;
    uint32_t x0 = static_cast<uint32_t>(i);
    uint32_t x1 = second ? static_cast<uint32_t>(i + m) : 0u;
    threefry2x32(keys[2 * k], keys[2 * k + 1], x0, x1);
    if constexpr (WORDS) {
      uint32_t* w = static_cast<uint32_t*>(out) + k * n;
      w[i] = x0;
      if (second) w[i + m] = x1;
    } else {
      uint8_t* b = static_cast<uint8_t*>(out) + k * bytes;
      for (int q = 0; q < 4; ++q) {
        int64_t j = 4 * i + q;
        if (j < bytes) b[j] = static_cast<uint8_t>(x0 >> (8 * q));
      }
      if (second) {
        for (int q = 0; q < 4; ++q) {
          int64_t j = 4 * (i + m) + q;
          if (j < bytes) b[j] = static_cast<uint8_t>(x1 >> (8 * q));
        }
      }
    }
  }
}

bool eval_random_bits(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& rb = static_cast<RandomBits&>(p);
  array keys = inputs[0];
  array& out = outputs[0];
  if (keys.dtype() != Dtype::uint32) return false;
  int64_t nkeys = static_cast<int64_t>(keys.size() / 2);
  int64_t bytes = static_cast<int64_t>(shape_size(rb.shape_)) * rb.width_;
  if (static_cast<size_t>(nkeys * bytes) != out.nbytes()) return false;  // not the layout expected
  if (bytes == 0 || nkeys == 0) {
    alloc_out(out);
    return true;
  }
  if (!dense_rows(keys, keys)) return false;
  const uint32_t* kp = in_ptr<uint32_t>(keys);
  void* op = alloc_out(out);
  int64_t n = (bytes + 3) / 4, m = (n + 1) / 2;
  int64_t total = nkeys * m;
  constexpr int threads = 256;
  int64_t want = (total + threads - 1) / threads;
  int blocks = static_cast<int>(std::min<int64_t>(want, 1 << 20));
  if (bytes % 4 == 0) k_random_bits<true><<<blocks, threads, 0, stream()>>>(kp, op, nkeys, n, m, bytes);
  else k_random_bits<false><<<blocks, threads, 0, stream()>>>(kp, op, nkeys, n, m, bytes);
  check_launch("random bits kernel");
  return true;
}

// The CPU computes log with libm's logf. Here the natural log is formed in double and rounded
// once to float: the correctly rounded value, which is what logf returns but in rare
// near-halfway cases (so samples match the CPU to the last bit nearly always, and to 1 ulp of
// the log otherwise).
__device__ __forceinline__ float log_f32(float x) { return static_cast<float>(log(static_cast<double>(x))); }

// MLX's float32 erfinv (same polynomial and fma order as backend/cpu/random.cpp).
__device__ float erfinv_f32(float a) {
  float t = log_f32(fmaf(a, -a, 1.0f));
  float p;
  if (fabsf(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = fmaf(p, t, 2.93243101e-8f);
    p = fmaf(p, t, 1.22150334e-6f);
    p = fmaf(p, t, 2.84108955e-5f);
    p = fmaf(p, t, 3.93552968e-4f);
    p = fmaf(p, t, 3.02698812e-3f);
    p = fmaf(p, t, 4.83185798e-3f);
    p = fmaf(p, t, -2.64646143e-1f);
    p = fmaf(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = fmaf(p, t, 1.43285448e-7f);
    p = fmaf(p, t, 1.22774793e-6f);
    p = fmaf(p, t, 1.12963626e-7f);
    p = fmaf(p, t, -5.61530760e-5f);
    p = fmaf(p, t, -1.47697632e-4f);
    p = fmaf(p, t, 2.31468678e-3f);
    p = fmaf(p, t, 1.15392581e-2f);
    p = fmaf(p, t, -2.32015476e-1f);
    p = fmaf(p, t, 8.86226892e-1f);
  }
  return __fmul_rn(a, p);
}

template <typename T, bool ERFINV>
__global__ void k_random_map(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = static_cast<float>(x[i]);
    if constexpr (ERFINV) {
      y[i] = cast<T>(erfinv_f32(v));
    } else {
      // Rounded to T after each log, as on the CPU.
      T inner = cast<T>(log_f32(v));
      T outer = cast<T>(log_f32(-static_cast<float>(inner)));
      y[i] = cast<T>(-static_cast<float>(outer));
    }
  }
}

bool eval_random_map(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& rm = static_cast<RandomMap&>(p);
  array x = inputs[0];
  array& out = outputs[0];
  if (x.dtype() != out.dtype() || !dispatch_float(x.dtype(), [](auto) {})) return false;
  if (x.size() == 0) {
    alloc_out(out);
    return true;
  }
  if (!dense_rows(x, x)) return false;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = in_ptr<T>(x);
    T* py = static_cast<T*>(alloc_out(out));
    int64_t n = static_cast<int64_t>(x.size());
    constexpr int threads = 256;
    int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 1 << 20));
    if (rm.op_ == RandomMapOp::ErfInv) k_random_map<T, true><<<blocks, threads, 0, stream()>>>(px, py, n);
    else k_random_map<T, false><<<blocks, threads, 0, stream()>>>(px, py, n);
    check_launch("random map kernel");
  });
}

}  // namespace

MLX_CUDA_KERNEL(RandomBits, eval_random_bits);
MLX_CUDA_KERNEL(RandomMap, eval_random_map);

}  // namespace mlx::core::cu
