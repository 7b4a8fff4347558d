// Branch-free float32 math that the compiler vectorizes (exp, log, sin, cos,
// tanh, sigmoid); about 1-2 ulp on the ranges used by ML workloads.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mlx::core::simd {

inline float as_float(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int32_t as_int(float f) { int32_t i; std::memcpy(&i, &f, 4); return i; }

inline float exp(float x) {
  // exp(x) = 2^n * exp(r), r = x - n ln2, |r| <= ln2/2; 2^n is applied as two
  // factors (n in [-150, 128]) so results in the subnormal range round once. x is clamped to
  // [-104, 88.8], beyond which the result already rounds to 0 / overflows to inf, so both ends
  // come out of the arithmetic itself (no selects); NaN passes the clamps and is returned.
  float xc = x > 88.8f ? 88.8f : x;
  xc = xc < -104.0f ? -104.0f : xc;
  float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni >> 1;
  int32_t n2 = ni - n1;
  float res = p * as_float((n1 + 127) << 23) * as_float((n2 + 127) << 23);
  return x != x ? x : res;
}

inline float log(float x) {
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log(x) = e ln2 + log(m)
  bool tiny = x < 1.17549435e-38f;
  float xs = tiny ? x * 8388608.0f : x;  // scale subnormals by 2^23
  int32_t ix = as_int(xs);
  int32_t e = ((ix >> 23) & 0xff) - 127;
  float m = as_float((ix & 0x007fffff) | 0x3f800000);
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  float fe = static_cast<float>(e) - (tiny ? 23.0f : 0.0f);
  float f = m - 1.0f;
  float s = f / (2.0f + f);
  float z = s * s;
  float w = z * z;
  float t1 = w * (0.40000972152f + w * 0.24279078841f);
  float t2 = z * (0.66666662693f + w * 0.28498786688f);
  float R = t2 + t1;
  float hfsq = 0.5f * f * f;
  float res = fe * 0.693147180369f - ((hfsq - (s * (hfsq + R) + fe * 1.90821492927e-10f)) - f);
  res = x == 0.0f ? -INFINITY : res;
  res = x < 0.0f ? NAN : res;
  res = x == INFINITY ? INFINITY : res;
  return x != x ? x : res;
}

// Shared core of sin and cos: reduce by pi/2, evaluate both polynomials.
inline float sincos_poly(float x, int quadrant_offset) {
  float j = std::floor(x * 0.636619772367581343f + 0.5f);
  int32_t q = static_cast<int32_t>(j) + quadrant_offset;
  float r = x - j * 1.5703125f;
  r = r - j * 4.837512969970703125e-4f;
  r = r - j * 7.54978995489188216e-8f;
  float r2 = r * r;
  float s = -1.9515295891e-4f;
  s = s * r2 + 8.3321608736e-3f;
  s = s * r2 - 1.6666654611e-1f;
  s = s * r2 * r + r;
  float c = 2.443315711809948e-5f;
  c = c * r2 - 1.388731625493765e-3f;
  c = c * r2 + 4.166664568298827e-2f;
  c = c * r2 * r2 - 0.5f * r2 + 1.0f;
  float v = (q & 1) ? c : s;
  return (q & 2) ? -v : v;
}
inline float sin(float x) { return sincos_poly(x, 0); }
inline float cos(float x) { return sincos_poly(x, 1); }

inline float expm1_small(float x) {
  // Taylor to x^7 for |x| < 0.35
  float p = 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  return (p * x) * x + x;
}

inline float tanh(float x) {
  float ax = std::fabs(x);
  float x2 = x * x;
  // odd polynomial for small |x|
  float p = -5.70498872745e-3f;
  p = p * x2 + 2.06390887954e-2f;
  p = p * x2 - 5.37397155531e-2f;
  p = p * x2 + 1.33314422036e-1f;
  p = p * x2 - 3.33332819422e-1f;
  float small = x + x * x2 * p;
  float e = exp(2.0f * (ax > 9.0f ? 9.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0 ? -big : big;
  return ax < 0.625f ? small : big;
}

inline float sigmoid(float x) {
  float e = exp(-std::fabs(x));
  float num = x >= 0 ? 1.0f : e;
  return num / (1.0f + e);
}

}  // namespace mlx::core::simd
