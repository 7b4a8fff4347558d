// CPU kernels of mx.random: Threefry-2x32 bits and the elementwise sampler maps.
#include <cmath>
#include <cstring>
#include <vector>

#include "mlx/backend/cpu/utils.h"
#include "mlx/primitives/random.h"
#include "mlx/types/half.h"

namespace mlx::core {

namespace {

inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
inline void threefry2x32(uint32_t k0, uint32_t k1, uint32_t& x0, uint32_t& x1) {
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  static constexpr int R[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  x0 += ks[0];
  x1 += ks[1];
  for (int i = 0; i < 5; ++i) {
    for (int r : R[i & 1]) {
      x0 += x1;
      x1 = rotl(x1, r) ^ x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + static_cast<uint32_t>(i + 1);
  }
}

// Fills w[0, n) with the words of one key (layout in primitives/random.h).
void fill_words(uint32_t k0, uint32_t k1, uint32_t* w, size_t n) {
  size_t m = (n + 1) / 2;
  cpu::parallel_for(m, 1 << 13, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      uint32_t x0 = static_cast<uint32_t>(i);
      uint32_t x1 = i + m < n ? static_cast<uint32_t>(i + m) : 0u;
      threefry2x32(k0, k1, x0, x1);
      w[i] = x0;
      if (i + m < n) w[i + m] = x1;
    }
  });
}

// MLX's float32 erfinv: a polynomial in t = log(1 - a^2) evaluated with fused multiply-adds
// (about 2.4 ulp; it is the approximation MLX's CPU backend computes).
float erfinv_f32(float a) {
  float t = std::log(std::fma(a, -a, 1.0f));
  float p;
  if (std::fabs(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = std::fma(p, t, 2.93243101e-8f);
    p = std::fma(p, t, 1.22150334e-6f);
    p = std::fma(p, t, 2.84108955e-5f);
    p = std::fma(p, t, 3.93552968e-4f);
    p = std::fma(p, t, 3.02698812e-3f);
    p = std::fma(p, t, 4.83185798e-3f);
    p = std::fma(p, t, -2.64646143e-1f);
    p = std::fma(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = std::fma(p, t, 1.43285448e-7f);
    p = std::fma(p, t, 1.22774793e-6f);
    p = std::fma(p, t, 1.12963626e-7f);
    p = std::fma(p, t, -5.61530760e-5f);
    p = std::fma(p, t, -1.47697632e-4f);
    p = std::fma(p, t, 2.31468678e-3f);
    p = std::fma(p, t, 1.15392581e-2f);
    p = std::fma(p, t, -2.32015476e-1f);
    p = std::fma(p, t, 8.86226892e-1f);
  }
  return a * p;
}

// float64: the float32 value refined by Newton steps on erf(x) = a.
double erfinv_f64(double a) {
  if (!(std::fabs(a) < 1.0)) return std::fabs(a) == 1.0 ? std::copysign(INFINITY, a) : NAN;
  double x = erfinv_f32(static_cast<float>(a));
  if (!std::isfinite(x)) x = std::copysign(5.9, a);
  for (int i = 0; i < 3; ++i) x -= (std::erf(x) - a) / (1.1283791670955126 * std::exp(-x * x));
  return x;
}

template <typename T>
T apply_map(RandomMapOp op, T x) {
  if constexpr (std::is_same_v<T, double>) {
    if (op == RandomMapOp::ErfInv) return erfinv_f64(x);
    return -std::log(-std::log(x));
  } else {
    if (op == RandomMapOp::ErfInv) return static_cast<T>(erfinv_f32(static_cast<float>(x)));
    // Rounded to T after each log, as two separate log ops would be.
    T inner = static_cast<T>(std::log(static_cast<float>(x)));
    T outer = static_cast<T>(std::log(-static_cast<float>(inner)));
    return static_cast<T>(-static_cast<float>(outer));
  }
}

template <typename T>
void run_map(RandomMapOp op, const array& in, array& out) {
  const T* src = in.data<T>();
  T* dst = out.data<T>();
  cpu::parallel_for(in.size(), cpu::kElemGrain / 8, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) dst[i] = apply_map<T>(op, src[i]);
  });
}

}  // namespace

void RandomBits::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array keys = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  size_t nkeys = keys.size() / 2;
  size_t per_key = shape_size(shape_) * static_cast<size_t>(width_);  // bytes
  if (per_key == 0 || nkeys == 0) return;
  size_t nwords = (per_key + 3) / 4;
  const uint32_t* kp = keys.data<uint32_t>();
  char* dst = static_cast<char*>(out.raw_ptr());
  std::vector<uint32_t> tmp(per_key % 4 ? nwords : 0);
  for (size_t k = 0; k < nkeys; ++k) {
    char* d = dst + k * per_key;
    if (tmp.empty()) {
      fill_words(kp[2 * k], kp[2 * k + 1], reinterpret_cast<uint32_t*>(d), nwords);
    } else {
      fill_words(kp[2 * k], kp[2 * k + 1], tmp.data(), nwords);
      std::memcpy(d, tmp.data(), per_key);
    }
  }
}

void RandomMap::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = cpu::ensure_row_contiguous(inputs[0]);
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (in.size() == 0) return;
  switch (in.dtype()) {
    case float16: run_map<float16_t>(op_, in, out); break;
    case bfloat16: run_map<bfloat16_t>(op_, in, out); break;
    case float32: run_map<float>(op_, in, out); break;
    case float64: run_map<double>(op_, in, out); break;
    default: throw std::runtime_error(msg("[", name(), "] unsupported dtype ", in.dtype(), "."));
  }
}

}  // namespace mlx::core
