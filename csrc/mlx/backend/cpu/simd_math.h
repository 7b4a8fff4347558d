// Branch-free float32 math that the compiler vectorizes (exp, log, sin, cos,
// tanh, sigmoid); about 1-2 ulp on the ranges used by ML workloads. exp, sin and cos also
// have span kernels written with AVX2 intrinsics (same results as the scalar functions).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MLX_SIMD_AVX2 1
#endif

namespace mlx::core::simd {

inline float as_float(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int32_t as_int(float f) { int32_t i; std::memcpy(&i, &f, 4); return i; }

// One rounding for a * b + c where the target has FMA, else two. The span kernels below
// (AVX2) and these scalar functions perform the same operations in the same order, so a
// value computed by either is the same bit for bit.
inline float fmadd(float a, float b, float c) {
#if defined(__FMA__) || defined(__aarch64__)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

// c[0] + c[1] x + ... + c[N-1] x^(N-1) by Horner's rule, highest coefficient first (horner8 in
// the AVX2 part performs the same steps).
template <int N>
inline float horner(const float (&c)[N], float x) {
  float p = c[N - 1];
  for (int k = N - 2; k >= 0; --k) p = fmadd(p, x, c[k]);
  return p;
}

// Constants of exp. x = n ln2 + r with n = round(x / ln2) (computed by adding 1.5 * 2^23, which
// leaves n in the low mantissa bits), |r| <= ln2/2; with FMA, x - n * kLn2Hi is exact, so r is
// x - n ln2 to about 2^-48 absolute. exp(r) = 1 + r + r^2 q(r), q of degree 4 (least-squares
// fit of the relative error on Chebyshev nodes; its own error is below 3.1e-9, 0.05 ulp).
// x is first clamped to [-104, 88.8] (beyond those exp rounds to 0 / overflows to inf, and
// the arithmetic produces exactly that); 2^n is applied as two factors 2^floor(n/2) and
// 2^(n - floor(n/2)), both normal for n in [-150, 128], so subnormal results round once.
// NaN passes the clamps (they keep their second operand, as minps/maxps do) and propagates.
namespace detail {
constexpr float kExpHi = 88.8f, kExpLo = -104.0f;
constexpr float kLog2e = 1.442695022e+00f;
constexpr float kRound = 12582912.0f;                   // 1.5 * 2^23
constexpr uint32_t kRoundBits = 0x4B400000u;
constexpr float kLn2Hi = 6.9314718246e-01f, kLn2Lo = -1.9046542121e-09f;
constexpr float kE2 = 4.9999994040e-01f, kE3 = 1.6666521132e-01f, kE4 = 4.1668388993e-02f,
                kE5 = 8.3687314764e-03f, kE6 = 1.3814562699e-03f;
// (h + kExpBias) << 23 is the exponent field of 2^(h - kRoundBits / 2) (wrapping arithmetic).
constexpr uint32_t kExpBias = 127u - (kRoundBits >> 1);
}  // namespace detail

inline float exp(float x) {
  using namespace detail;
  float xc = kExpHi < x ? kExpHi : x;
  xc = kExpLo > xc ? kExpLo : xc;
  float t = fmadd(xc, kLog2e, kRound);
  float n = t - kRound;
  float r = fmadd(-n, kLn2Hi, xc);
  r = fmadd(-n, kLn2Lo, r);
  float q = fmadd(kE6, r, kE5);
  q = fmadd(q, r, kE4);
  q = fmadd(q, r, kE3);
  q = fmadd(q, r, kE2);
  float r2 = r * r;
  float p = fmadd(q, r2, r) + 1.0f;
  uint32_t u = static_cast<uint32_t>(as_int(t));  // kRoundBits + n
  uint32_t h = static_cast<uint32_t>(as_int(t) >> 1);
  float s1 = as_float(static_cast<int32_t>((h + kExpBias) << 23));
  float s2 = as_float(static_cast<int32_t>((u - h + kExpBias) << 23));
  return p * s1 * s2;
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

// sin and cos for |x| <= kSinCosMax, about 2 ulp, branch free (the *_reduced functions);
// larger |x|, inf and NaN go through double precision (sin, cos below). x = k pi/2 + r with
// k = 2j (sin) or 2j + 1 (cos), |r| <= pi/2 (about), so sin(x) = (-1)^j sin(r) and
// cos(x) = (-1)^(j+1) sin(r): one odd polynomial of degree 9 instead of a sine and a cosine
// polynomial and quadrant selects. j comes from adding 1.5 * 2^23 (its parity is the low bit
// of the sum); k pi/2 is subtracted in three parts, the first of which is exact with FMA.
// sin(+-0): the polynomial would give +0 for -0, callers keep x where x == 0.
namespace detail {
constexpr float kSinCosMax = 8192.0f;
constexpr uint32_t kSinCosMaxBits = 0x46000000u;  // bits of kSinCosMax
constexpr float kInvPi = 3.183098733e-01f;
constexpr float kPi1 = 3.1415927410e+00f, kPi2 = -8.7422776573e-08f, kPi3 = -3.4302490200e-15f;
constexpr float kHalfPi1 = 1.5707963705e+00f, kHalfPi2 = -4.3711388287e-08f, kHalfPi3 = -1.7151245100e-15f;
constexpr float kS3 = -1.6666659712791443e-01f, kS5 = 8.33306647837162e-03f,
                kS7 = -1.9809603691101074e-04f, kS9 = 2.6057814466184936e-06f;

inline float sin_poly(float r, uint32_t sign) {
  float r2 = r * r;
  float r3 = r2 * r;
  float p = fmadd(kS9, r2, kS7);
  p = fmadd(p, r2, kS5);
  p = fmadd(p, r2, kS3);
  float v = fmadd(r3, p, r);
  return as_float(static_cast<int32_t>(static_cast<uint32_t>(as_int(v)) ^ sign));
}
}  // namespace detail

inline float sin_reduced(float x) {
  using namespace detail;
  float t = fmadd(x, kInvPi, kRound);
  float j = t - kRound;
  float r = fmadd(-j, kPi1, x);
  r = fmadd(-j, kPi2, r);
  r = fmadd(-j, kPi3, r);
  return sin_poly(r, static_cast<uint32_t>(as_int(t)) << 31);
}

inline float cos_reduced(float x) {
  using namespace detail;
  float t = fmadd(x, kInvPi, -0.5f) + kRound;
  float j = t - kRound;
  float k = fmadd(j, 2.0f, 1.0f);
  float r = fmadd(-k, kHalfPi1, x);
  r = fmadd(-k, kHalfPi2, r);
  r = fmadd(-k, kHalfPi3, r);
  return sin_poly(r, (static_cast<uint32_t>(as_int(t)) + 1u) << 31);
}

inline uint32_t abs_bits(float x) { return static_cast<uint32_t>(as_int(x)) & 0x7fffffffu; }

inline float sin(float x) {
  uint32_t b = abs_bits(x);
  if (b - 1u < detail::kSinCosMaxBits) return sin_reduced(x);
  return b == 0 ? x : static_cast<float>(std::sin(static_cast<double>(x)));
}
inline float cos(float x) {
  if (abs_bits(x) <= detail::kSinCosMaxBits) return cos_reduced(x);
  return static_cast<float>(std::cos(static_cast<double>(x)));
}

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

// tanh(|x|): an odd polynomial for |x| < 0.625, else 1 - 2 / (e^2|x| + 1) (|x| clamped to 10,
// where it rounds to 1); then the sign of x (so tanh(-0) = -0 and NaN stays NaN). tanh_span
// (AVX2) performs the same operations.
namespace detail {
constexpr float kTanh[5] = {-3.33332819422e-1f, 1.33314422036e-1f, -5.37397155531e-2f, 2.06390887954e-2f,
                            -5.70498872745e-3f};
}  // namespace detail
inline float tanh(float x) {
  using namespace detail;
  float ax = std::fabs(x);
  float x2 = x * x;
  float p = horner(kTanh, x2);
  float small = fmadd(ax * x2, p, ax);
  float e = exp(2.0f * (ax > 10.0f ? 10.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  float r = !(ax >= 0.625f) ? small : big;  // NaN: small, which is NaN
  return as_float(as_int(r) | (as_int(x) & static_cast<int32_t>(0x80000000u)));
}

// erf(|x|): |x| + |x| (P(x^2) - 1) for |x| < 0.9, else 1 - e^(-x^2) g(t) with g(t) ~ erfc(|x|) e^(x^2) and
// t = (|x| - 2.45) / 1.55 (|x| clamped to 4, where erf rounds to 1); then the sign of x. P and
// g are least-squares fits of the relative error on Chebyshev nodes (about 1e-8 and 6e-8;
// evaluated in float32, about 1 ulp). erf_span (AVX2) performs the same operations.
namespace detail {
constexpr float kErfSmall[7] = {1.283792257e-01f, -3.761263490e-01f, 1.128372550e-01f, -2.686097845e-02f, 5.204870831e-03f, -8.185928455e-04f, 8.553019870e-05f};
constexpr float kErfBig[12] = {2.145870775e-01f, -1.191987842e-01f, 6.288896501e-02f, -3.170393407e-02f, 1.533704624e-02f, -7.160016336e-03f, 3.264826490e-03f, -1.413202030e-03f, 5.292253918e-04f, -2.333396696e-04f, 1.583952690e-04f, -5.681235416e-05f};
}  // namespace detail
inline float erf(float x) {
  using namespace detail;
  float ax = std::fabs(x);
  float x2 = x * x;
  float p = horner(kErfSmall, x2);
  float small = fmadd(ax, p, ax);
  float c = ax > 4.0f ? 4.0f : ax;
  float t = fmadd(c, 1.0f / 1.55f, -2.45f / 1.55f);
  float g = horner(kErfBig, t);
  float big = 1.0f - exp(-(c * c)) * g;
  float r = !(ax >= 0.9f) ? small : big;  // NaN: small, which is NaN
  return as_float(as_int(r) | (as_int(x) & static_cast<int32_t>(0x80000000u)));
}

inline float sigmoid(float x) {
  float e = exp(-std::fabs(x));
  float num = x >= 0 ? 1.0f : e;
  return num / (1.0f + e);
}

// ---- span kernels over float32 (exp, sin, cos, tanh, erf, sigmoid): explicit AVX2 where available ----
// Each AVX2 lane performs the scalar function's operations in the same order (minps/maxps
// for the clamps, which keep their second operand for NaN like the scalar selects), so the
// results equal the scalar functions' bit for bit. The last n % 8 values go through the same
// vector code on a padded copy. in and out may be the same buffer.
#ifdef MLX_SIMD_AVX2
namespace avx2 {
inline __m256 bc(float v) { return _mm256_set1_ps(v); }
inline __m256i bci(uint32_t v) { return _mm256_set1_epi32(static_cast<int32_t>(v)); }
template <int N>
inline __m256 horner8(const float (&c)[N], __m256 x) {
  __m256 p = bc(c[N - 1]);
  for (int k = N - 2; k >= 0; --k) p = _mm256_fmadd_ps(p, x, bc(c[k]));
  return p;
}

// exp(r) for x = n ln2 + r, with t holding n in its low mantissa bits (see detail).
inline __m256 exp_poly(__m256 x, __m256& t) {
  using namespace detail;
  t = _mm256_fmadd_ps(x, bc(kLog2e), bc(kRound));
  __m256 n = _mm256_sub_ps(t, bc(kRound));
  __m256 r = _mm256_fnmadd_ps(n, bc(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, bc(kLn2Lo), r);
  __m256 q = _mm256_fmadd_ps(bc(kE6), r, bc(kE5));
  q = _mm256_fmadd_ps(q, r, bc(kE4));
  q = _mm256_fmadd_ps(q, r, bc(kE3));
  q = _mm256_fmadd_ps(q, r, bc(kE2));
  __m256 r2 = _mm256_mul_ps(r, r);
  return _mm256_add_ps(_mm256_fmadd_ps(q, r2, r), bc(1.0f));
}

inline __m256 exp8(__m256 x) {
  using namespace detail;
  __m256 xc = _mm256_min_ps(bc(kExpHi), x);
  xc = _mm256_max_ps(bc(kExpLo), xc);
  __m256 t;
  __m256 p = exp_poly(xc, t);
  __m256i u = _mm256_castps_si256(t);
  __m256i h = _mm256_srai_epi32(u, 1);
  __m256i e1 = _mm256_slli_epi32(_mm256_add_epi32(h, bci(kExpBias)), 23);
  __m256i e2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(u, h), bci(kExpBias)), 23);
  return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e1)), _mm256_castsi256_ps(e2));
}

// exp8 for |x| < 86 (then n is in [-125, 125], and p * 2^n is normal): no clamps, and 2^n is
// applied by adding n to p's exponent field (as_int(t) << 23 is n << 23, since the low 9 bits
// of kRoundBits are 0). The product p * s1 * s2 of exp8 is the same exact scaling, so the
// results are the same.
inline __m256 exp8_moderate(__m256 x) {
  __m256 t;
  __m256 p = exp_poly(x, t);
  __m256i e = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}
// All ones where |x| < 86 (false for NaN).
inline __m256 exp_moderate(__m256 x) {
  return _mm256_cmp_ps(_mm256_andnot_ps(bc(-0.0f), x), bc(86.0f), _CMP_LT_OQ);
}

inline __m256 sin_poly8(__m256 r, __m256i sign) {
  using namespace detail;
  __m256 r2 = _mm256_mul_ps(r, r);
  __m256 r3 = _mm256_mul_ps(r2, r);
  __m256 p = _mm256_fmadd_ps(bc(kS9), r2, bc(kS7));
  p = _mm256_fmadd_ps(p, r2, bc(kS5));
  p = _mm256_fmadd_ps(p, r2, bc(kS3));
  __m256 v = _mm256_fmadd_ps(r3, p, r);
  return _mm256_xor_ps(v, _mm256_castsi256_ps(sign));
}

// sin_reduced / cos_reduced of 8 values, x itself where the scalar sin / cos would take the
// double path or x == +-0 (sin); *m = max(*m, |x| bits).
template <bool kCos>
inline __m256 sincos8(__m256 x, __m256i* m) {
  using namespace detail;
  __m256i b = _mm256_and_si256(_mm256_castps_si256(x), bci(0x7fffffffu));
  *m = _mm256_max_epu32(*m, b);
  __m256 v;
  __m256 fast;
  if constexpr (kCos) {
    __m256 t = _mm256_add_ps(_mm256_fmadd_ps(x, bc(kInvPi), bc(-0.5f)), bc(kRound));
    __m256 j = _mm256_sub_ps(t, bc(kRound));
    __m256 k = _mm256_fmadd_ps(j, bc(2.0f), bc(1.0f));
    __m256 r = _mm256_fnmadd_ps(k, bc(kHalfPi1), x);
    r = _mm256_fnmadd_ps(k, bc(kHalfPi2), r);
    r = _mm256_fnmadd_ps(k, bc(kHalfPi3), r);
    __m256i sign = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), bci(1)), 31);
    v = sin_poly8(r, sign);
    // |x| <= max, false for NaN
    fast = _mm256_cmp_ps(_mm256_castsi256_ps(b), bc(kSinCosMax), _CMP_LE_OQ);
  } else {
    __m256 t = _mm256_fmadd_ps(x, bc(kInvPi), bc(kRound));
    __m256 j = _mm256_sub_ps(t, bc(kRound));
    __m256 r = _mm256_fnmadd_ps(j, bc(kPi1), x);
    r = _mm256_fnmadd_ps(j, bc(kPi2), r);
    r = _mm256_fnmadd_ps(j, bc(kPi3), r);
    v = sin_poly8(r, _mm256_slli_epi32(_mm256_castps_si256(t), 31));
    // 0 < |x| <= max: the float below |x| (bits - 1) is < max; for x == +-0 the bits
    // become all ones, a NaN, and the compare is false, as it is for inf and NaN.
    __m256 below = _mm256_castsi256_ps(_mm256_sub_epi32(b, bci(1)));
    fast = _mm256_cmp_ps(below, bc(kSinCosMax), _CMP_LT_OQ);
  }
  return _mm256_blendv_ps(x, v, fast);
}

// tanh of 8 values: the scalar tanh's operations, lane by lane.
inline __m256 tanh8(__m256 x) {
  using namespace detail;
  __m256 ax = _mm256_andnot_ps(bc(-0.0f), x);
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = horner8(kTanh, x2);
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(ax, x2), p, ax);
  // 2 min(|x|, 10) is in [0, 20] (or NaN, whose lane takes small below): exp8_moderate gives
  // exp8's values there without the clamps.
  __m256 e = exp8_moderate(_mm256_mul_ps(bc(2.0f), _mm256_min_ps(bc(10.0f), ax)));
  __m256 big = _mm256_sub_ps(bc(1.0f), _mm256_div_ps(bc(2.0f), _mm256_add_ps(e, bc(1.0f))));
  // NaN takes small (NaN): exp8_moderate of a NaN with a payload in its low bits need not be NaN.
  __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, bc(0.625f), _CMP_NGE_UQ));
  return _mm256_or_ps(r, _mm256_and_ps(x, bc(-0.0f)));
}

// erf of 8 values: the scalar erf's operations, lane by lane.
inline __m256 erf8(__m256 x) {
  using namespace detail;
  __m256 ax = _mm256_andnot_ps(bc(-0.0f), x);
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = horner8(kErfSmall, x2);
  __m256 small = _mm256_fmadd_ps(ax, p, ax);
  __m256 c = _mm256_min_ps(bc(4.0f), ax);
  __m256 t = _mm256_fmadd_ps(c, bc(1.0f / 1.55f), bc(-2.45f / 1.55f));
  __m256 g = horner8(kErfBig, t);
  // -c^2 is in [-16, 0] (or NaN, whose lane takes small below): exp8_moderate gives exp8's
  // values there.
  __m256 e = exp8_moderate(_mm256_xor_ps(_mm256_mul_ps(c, c), bc(-0.0f)));
  __m256 big = _mm256_sub_ps(bc(1.0f), _mm256_mul_ps(e, g));
  __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, bc(0.9f), _CMP_NGE_UQ));  // NaN: small
  return _mm256_or_ps(r, _mm256_and_ps(x, bc(-0.0f)));
}

// exp8's values: exp8_moderate where all 8 arguments are moderate (the branch ML data takes).
inline __m256 exp8_any(__m256 x) {
  return _mm256_movemask_ps(exp_moderate(x)) == 0xff ? exp8_moderate(x) : exp8(x);
}

// sigmoid of 8 values: the scalar sigmoid's operations, lane by lane.
inline __m256 sigmoid8(__m256 x) {
  __m256 nx = _mm256_or_ps(x, bc(-0.0f));  // -|x|
  __m256 e = exp8_any(nx);
  __m256 num = _mm256_blendv_ps(e, bc(1.0f), _mm256_cmp_ps(x, bc(0.0f), _CMP_GE_OQ));
  return _mm256_div_ps(num, _mm256_add_ps(bc(1.0f), e));
}

inline uint32_t hmax(__m256i m) {
  __m128i a = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  a = _mm_max_epu32(a, _mm_shuffle_epi32(a, 0x4e));
  a = _mm_max_epu32(a, _mm_shuffle_epi32(a, 0xb1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(a));
}
}  // namespace avx2
#endif

// out[i] = f(in[i]): 8 values at a time with the AVX2 version, the last n % 8 through the same
// vector code on a padded copy.
#ifdef MLX_SIMD_AVX2
namespace avx2 {
// exp of 16 values: the cheaper exp8_moderate where all 16 are moderate (a branch that ML
// data practically always takes the same way), else exp8 (the same values either way).
inline void exp16(__m256 x0, __m256 x1, __m256& a, __m256& b) {
  __m256 ok = _mm256_and_ps(exp_moderate(x0), exp_moderate(x1));
  if (_mm256_movemask_ps(ok) == 0xff) {
    a = exp8_moderate(x0);
    b = exp8_moderate(x1);
  } else {
    a = exp8(x0);
    b = exp8(x1);
  }
}
}  // namespace avx2

template <__m256 (*F8)(__m256)>
inline void span8(const float* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, F8(_mm256_loadu_ps(in + i)));
  if (i < n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, in + i, (n - i) * sizeof(float));
    _mm256_store_ps(buf, F8(_mm256_load_ps(buf)));
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
}
#endif

inline void exp_span(const float* in, float* out, size_t n) {
  size_t i = 0;
#ifdef MLX_SIMD_AVX2
  for (; i + 16 <= n; i += 16) {
    __m256 x0 = _mm256_loadu_ps(in + i), x1 = _mm256_loadu_ps(in + i + 8);
    __m256 a, b;
    avx2::exp16(x0, x1, a, b);
    _mm256_storeu_ps(out + i, a);
    _mm256_storeu_ps(out + i + 8, b);
  }
  span8<avx2::exp8>(in + i, out + i, n - i);
  return;
#endif
  for (; i < n; ++i) out[i] = exp(in[i]);
}

// ---- softmax rows: max, exp(x - m) with its sum, scaling ----
// NaNs are skipped by the max as by the scalar `v > m ? v : m`; the sum is taken in 8 (AVX2)
// lanes, so it may differ from a sequential sum in the last bits.
inline float max_span(const float* x, size_t n, float init) {
  size_t i = 0;
  float m = init;
#ifdef MLX_SIMD_AVX2
  if (n >= 8) {
    __m256 a = _mm256_set1_ps(init), b = a;
    for (; i + 16 <= n; i += 16) {
      a = _mm256_max_ps(_mm256_loadu_ps(x + i), a);
      b = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), b);
    }
    for (; i + 8 <= n; i += 8) a = _mm256_max_ps(_mm256_loadu_ps(x + i), a);
    alignas(32) float t[8];
    _mm256_store_ps(t, _mm256_max_ps(a, b));
    for (float v : t) m = v > m ? v : m;
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// out[i] = exp(in[i] - m) (the values exp gives); returns their sum.
inline float exp_shift_sum(const float* in, float* out, size_t n, float m) {
  size_t i = 0;
  float tot = 0;
#ifdef MLX_SIMD_AVX2
  __m256 mv = _mm256_set1_ps(m), s0 = _mm256_setzero_ps(), s1 = s0;
  for (; i + 16 <= n; i += 16) {
    __m256 x0 = _mm256_sub_ps(_mm256_loadu_ps(in + i), mv), x1 = _mm256_sub_ps(_mm256_loadu_ps(in + i + 8), mv);
    __m256 a, b;
    avx2::exp16(x0, x1, a, b);
    _mm256_storeu_ps(out + i, a);
    _mm256_storeu_ps(out + i + 8, b);
    s0 = _mm256_add_ps(s0, a);
    s1 = _mm256_add_ps(s1, b);
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(s0, s1));
  tot = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
#endif
  for (; i < n; ++i) {
    float e = exp(in[i] - m);
    out[i] = e;
    tot += e;
  }
  return tot;
}

// x[i] *= s.
inline void scale_span(float* x, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

inline void tanh_span(const float* in, float* out, size_t n) {
#ifdef MLX_SIMD_AVX2
  span8<avx2::tanh8>(in, out, n);
#else
  for (size_t i = 0; i < n; ++i) out[i] = tanh(in[i]);
#endif
}
inline void sigmoid_span(const float* in, float* out, size_t n) {
#ifdef MLX_SIMD_AVX2
  span8<avx2::sigmoid8>(in, out, n);
#else
  for (size_t i = 0; i < n; ++i) out[i] = sigmoid(in[i]);
#endif
}
inline void erf_span(const float* in, float* out, size_t n) {
#ifdef MLX_SIMD_AVX2
  span8<avx2::erf8>(in, out, n);
#else
  for (size_t i = 0; i < n; ++i) out[i] = erf(in[i]);
#endif
}

// out[i] = sin_reduced(in[i]) (kCos: cos_reduced), or in[i] itself where |in[i]| > kSinCosMax,
// in[i] is inf or NaN, or (sin) in[i] == +-0. Returns the largest |in[i]| as bits: where it
// is above kSinCosMaxBits, the caller redoes the values of out above kSinCosMax (they are
// inputs) with sin / cos.
template <bool kCos>
inline uint32_t sincos_span(const float* in, float* out, size_t n) {
  size_t i = 0;
  uint32_t m = 0;
#ifdef MLX_SIMD_AVX2
  __m256i vm = _mm256_setzero_si256();
  for (; i + 16 <= n; i += 16) {
    __m256 a = avx2::sincos8<kCos>(_mm256_loadu_ps(in + i), &vm);
    __m256 b = avx2::sincos8<kCos>(_mm256_loadu_ps(in + i + 8), &vm);
    _mm256_storeu_ps(out + i, a);
    _mm256_storeu_ps(out + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, avx2::sincos8<kCos>(_mm256_loadu_ps(in + i), &vm));
  if (i < n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, in + i, (n - i) * sizeof(float));
    _mm256_store_ps(buf, avx2::sincos8<kCos>(_mm256_load_ps(buf), &vm));
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
  return avx2::hmax(vm);
#endif
  for (; i < n; ++i) {
    float x = in[i];
    uint32_t b = abs_bits(x);
    m = b > m ? b : m;
    bool fast = kCos ? b <= detail::kSinCosMaxBits : b - 1u < detail::kSinCosMaxBits;
    out[i] = fast ? (kCos ? cos_reduced(x) : sin_reduced(x)) : x;
  }
  return m;
}

}  // namespace mlx::core::simd
