// Scalar types that C++ lacks: float16, bfloat16; math is done in float.
#pragma once
#include <cstdint>
#include <cstring>
#include <complex>

namespace mlx::core {

#if defined(__FLT16_MAX__) && !defined(__CUDACC__)
#define MLX_HAS_FLOAT16 1
#endif

struct float16_t {
#ifdef MLX_HAS_FLOAT16
  _Float16 v;
  float16_t() = default;
  float16_t(float f) : v(static_cast<_Float16>(f)) {}
  float16_t(double f) : v(static_cast<_Float16>(f)) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  float16_t(T i) : v(static_cast<_Float16>(static_cast<float>(i))) {}
  operator float() const { return static_cast<float>(v); }
  uint16_t bits() const { uint16_t b; std::memcpy(&b, &v, 2); return b; }
  static float16_t from_bits(uint16_t b) { float16_t h; std::memcpy(&h.v, &b, 2); return h; }
#else
  uint16_t b;
  float16_t() = default;
  float16_t(float f) : b(from_float(f)) {}
  float16_t(double f) : b(from_float(static_cast<float>(f))) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  float16_t(T i) : b(from_float(static_cast<float>(i))) {}
  operator float() const { return to_float(b); }
  uint16_t bits() const { return b; }
  static float16_t from_bits(uint16_t x) { float16_t h; h.b = x; return h; }
  static uint16_t from_float(float f) {
    uint32_t x; std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;  // overflow to inf
    if (ax < 0x38800000u) {  // subnormal half
      float a; std::memcpy(&a, &ax, 4);
      a = a * 16777216.0f;  // 2^24
      uint32_t m = static_cast<uint32_t>(a);
      float r = a - static_cast<float>(m);
      if (r > 0.5f || (r == 0.5f && (m & 1))) m++;
      return sign | m;
    }
    uint32_t m = ax + 0xc8000fffu + ((ax >> 13) & 1);
    return sign | (m >> 13);
  }
  static float to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
    if (e == 0) {
      float f = static_cast<float>(m) * 5.9604644775390625e-8f;
      std::memcpy(&x, &f, 4);
      x |= sign;
    } else if (e == 31) {
      x = sign | 0x7f800000u | (m << 13);
    } else {
      x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f; std::memcpy(&f, &x, 4); return f;
  }
#endif
};

struct bfloat16_t {
  uint16_t b;
  bfloat16_t() = default;
  bfloat16_t(float f) : b(from_float(f)) {}
  bfloat16_t(double f) : b(from_float(static_cast<float>(f))) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  bfloat16_t(T i) : b(from_float(static_cast<float>(i))) {}
  operator float() const {
    uint32_t x = static_cast<uint32_t>(b) << 16;
    float f; std::memcpy(&f, &x, 4); return f;
  }
  uint16_t bits() const { return b; }
  static bfloat16_t from_bits(uint16_t x) { bfloat16_t h; h.b = x; return h; }
  static uint16_t from_float(float f) {
    uint32_t x; std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);  // round to nearest even
    return static_cast<uint16_t>(x >> 16);
  }
};

using complex64_t = std::complex<float>;

}  // namespace mlx::core
