// Span kernels for a unary op feeding a binary op, or a binary op feeding a unary op, in the
// fused interpreter (float32, AVX2): out = bop(uop(u), w), bop(w, uop(u)) or uop(bop(a, b)),
// with the first op's value kept in a register instead of going through a scratch slot. Each
// lane performs the operations of the two span kernels run one after the other
// (simd_math.h's vector functions and one IEEE add, subtract, multiply or divide), so the
// values are the same bit for bit.
#include <cstring>

#include "mlx/backend/cpu/elementwise_kernels.h"
#include "mlx/backend/cpu/simd_math.h"

namespace mlx::core::cpu {

#ifdef MLX_SIMD_AVX2
namespace {

using namespace simd::avx2;

// uop of 8 values; sin and cos also fold |x|'s bits into *m (see sincos8).
template <UnaryOp U>
inline __m256 unary8(__m256 x, __m256i* m) {
  if constexpr (U == UnaryOp::Exp) {
    return _mm256_movemask_ps(exp_moderate(x)) == 0xff ? exp8_moderate(x) : exp8(x);
  } else if constexpr (U == UnaryOp::Sin || U == UnaryOp::Cos) {
    return sincos8<U == UnaryOp::Cos>(x, m);
  } else if constexpr (U == UnaryOp::Tanh) {
    return tanh8(x);
  } else if constexpr (U == UnaryOp::Erf) {
    return erf8(x);
  } else {
    return sigmoid8(x);
  }
}

template <BinaryOp B>
inline __m256 binary8(__m256 a, __m256 b) {
  if constexpr (B == BinaryOp::Add) return _mm256_add_ps(a, b);
  else if constexpr (B == BinaryOp::Subtract) return _mm256_sub_ps(a, b);
  else if constexpr (B == BinaryOp::Multiply) return _mm256_mul_ps(a, b);
  else return _mm256_div_ps(a, b);
}

template <UnaryOp U, BinaryOp B, bool kULeft, bool kWScalar>
inline void step8(const float* x, const float* y, float* d, __m256 ws, __m256i* m) {
  __m256 v = unary8<U>(_mm256_loadu_ps(x), m);
  // The unary value is rounded on its own, as in a slot: the compiler must not contract a
  // final multiply of uop (exp8's scaling) with an add or subtract of bop into an FMA.
  asm("" : "+x"(v));
  __m256 w = kWScalar ? ws : _mm256_loadu_ps(y);
  _mm256_storeu_ps(d, kULeft ? binary8<B>(v, w) : binary8<B>(w, v));
}

template <UnaryOp U, BinaryOp B, bool kULeft, bool kWScalar>
void unary_binary_impl(const void* u, const void* w, void* out, size_t n) {
  const float* x = static_cast<const float*>(u);
  const float* y = static_cast<const float*>(w);
  float* d = static_cast<float*>(out);
  __m256i m = _mm256_setzero_si256();
  const __m256 ws = kWScalar ? _mm256_set1_ps(y[0]) : _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    step8<U, B, kULeft, kWScalar>(x + i, y + i, d + i, ws, &m);
    step8<U, B, kULeft, kWScalar>(x + i + 8, y + i + 8, d + i + 8, ws, &m);
  }
  for (; i + 8 <= n; i += 8) step8<U, B, kULeft, kWScalar>(x + i, y + i, d + i, ws, &m);
  if (i < n) {
    alignas(32) float bx[8] = {0, 0, 0, 0, 0, 0, 0, 0}, by[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bd[8];
    std::memcpy(bx, x + i, (n - i) * sizeof(float));
    if (!kWScalar) std::memcpy(by, y + i, (n - i) * sizeof(float));
    step8<U, B, kULeft, kWScalar>(bx, by, bd, ws, &m);
    std::memcpy(d + i, bd, (n - i) * sizeof(float));
  }
  if constexpr (U == UnaryOp::Sin || U == UnaryOp::Cos) {
    if (hmax(m) > simd::detail::kSinCosMaxBits) {
      // Some |u| is beyond the polynomial's range: redo the span with the two span kernels
      // (the unary one has the exact fix-up pass), a small piece at a time.
      Dtype t;
      UnarySpanFn un = unary_span(U, float32, &t);
      SpanMode mode = !kWScalar ? SpanMode::VV : kULeft ? SpanMode::VS : SpanMode::SV;
      BinarySpanFn bn = binary_span(B, float32, mode, &t);
      alignas(64) float tmp[256];
      for (size_t b = 0; b < n; b += 256) {
        size_t len = n - b < 256 ? n - b : 256;
        un(x + b, tmp, len);
        const float* wb = kWScalar ? y : y + b;
        if (kULeft) bn(tmp, wb, d + b, len);
        else bn(wb, tmp, d + b, len);
      }
    }
  }
}

template <BinaryOp B, UnaryOp U, SpanMode M>
inline void bu_step8(const float* a, const float* b, float* d, __m256 sa, __m256 sb, __m256i* m) {
  __m256 x = M == SpanMode::SV ? sa : _mm256_loadu_ps(a);
  __m256 y = M == SpanMode::VS ? sb : _mm256_loadu_ps(b);
  __m256 v = binary8<B>(x, y);
  asm("" : "+x"(v));  // rounded on its own, as in a slot
  _mm256_storeu_ps(d, unary8<U>(v, m));
}

template <BinaryOp B, UnaryOp U, SpanMode M>
void binary_unary_impl(const void* pa, const void* pb, void* out, size_t n) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  float* d = static_cast<float*>(out);
  __m256i m = _mm256_setzero_si256();
  const __m256 sa = M == SpanMode::SV ? _mm256_set1_ps(a[0]) : _mm256_setzero_ps();
  const __m256 sb = M == SpanMode::VS ? _mm256_set1_ps(b[0]) : _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    bu_step8<B, U, M>(a + i, b + i, d + i, sa, sb, &m);
    bu_step8<B, U, M>(a + i + 8, b + i + 8, d + i + 8, sa, sb, &m);
  }
  for (; i + 8 <= n; i += 8) bu_step8<B, U, M>(a + i, b + i, d + i, sa, sb, &m);
  if (i < n) {
    alignas(32) float ba[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bb[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bd[8];
    if (M != SpanMode::SV) std::memcpy(ba, a + i, (n - i) * sizeof(float));
    if (M != SpanMode::VS) std::memcpy(bb, b + i, (n - i) * sizeof(float));
    bu_step8<B, U, M>(ba, bb, bd, sa, sb, &m);
    std::memcpy(d + i, bd, (n - i) * sizeof(float));
  }
  if constexpr (U == UnaryOp::Sin || U == UnaryOp::Cos) {
    if (hmax(m) > simd::detail::kSinCosMaxBits) {
      // As in unary_binary_impl: redo the span with the two span kernels.
      Dtype t;
      BinarySpanFn bn = binary_span(B, float32, M, &t);
      UnarySpanFn un = unary_span(U, float32, &t);
      alignas(64) float tmp[256];
      for (size_t c = 0; c < n; c += 256) {
        size_t len = n - c < 256 ? n - c : 256;
        bn(M == SpanMode::SV ? a : a + c, M == SpanMode::VS ? b : b + c, tmp, len);
        un(tmp, d + c, len);
      }
    }
  }
}

template <BinaryOp B, UnaryOp U>
BinaryUnarySpanFn pick_mode(SpanMode mode) {
  switch (mode) {
    case SpanMode::SV: return &binary_unary_impl<B, U, SpanMode::SV>;
    case SpanMode::VS: return &binary_unary_impl<B, U, SpanMode::VS>;
    default: return &binary_unary_impl<B, U, SpanMode::VV>;
  }
}

template <UnaryOp U>
BinaryUnarySpanFn pick_first(BinaryOp b, SpanMode mode) {
  switch (b) {
    case BinaryOp::Add: return pick_mode<BinaryOp::Add, U>(mode);
    case BinaryOp::Subtract: return pick_mode<BinaryOp::Subtract, U>(mode);
    case BinaryOp::Multiply: return pick_mode<BinaryOp::Multiply, U>(mode);
    case BinaryOp::Divide: return pick_mode<BinaryOp::Divide, U>(mode);
    default: return nullptr;
  }
}

template <UnaryOp U, BinaryOp B>
UnaryBinarySpanFn pick(bool u_left, bool w_scalar) {
  if (u_left) return w_scalar ? &unary_binary_impl<U, B, true, true> : &unary_binary_impl<U, B, true, false>;
  return w_scalar ? &unary_binary_impl<U, B, false, true> : &unary_binary_impl<U, B, false, false>;
}

template <UnaryOp U>
UnaryBinarySpanFn pick_binary(BinaryOp b, bool u_left, bool w_scalar) {
  switch (b) {
    case BinaryOp::Add: return pick<U, BinaryOp::Add>(u_left, w_scalar);
    case BinaryOp::Subtract: return pick<U, BinaryOp::Subtract>(u_left, w_scalar);
    case BinaryOp::Multiply: return pick<U, BinaryOp::Multiply>(u_left, w_scalar);
    case BinaryOp::Divide: return pick<U, BinaryOp::Divide>(u_left, w_scalar);
    default: return nullptr;
  }
}

}  // namespace
#endif

UnaryBinarySpanFn unary_binary_span(UnaryOp u, BinaryOp b, bool u_left, bool w_scalar) {
#ifdef MLX_SIMD_AVX2
  switch (u) {
    case UnaryOp::Exp: return pick_binary<UnaryOp::Exp>(b, u_left, w_scalar);
    case UnaryOp::Sin: return pick_binary<UnaryOp::Sin>(b, u_left, w_scalar);
    case UnaryOp::Cos: return pick_binary<UnaryOp::Cos>(b, u_left, w_scalar);
    case UnaryOp::Tanh: return pick_binary<UnaryOp::Tanh>(b, u_left, w_scalar);
    case UnaryOp::Erf: return pick_binary<UnaryOp::Erf>(b, u_left, w_scalar);
    case UnaryOp::Sigmoid: return pick_binary<UnaryOp::Sigmoid>(b, u_left, w_scalar);
    default: return nullptr;
  }
#else
  (void)u, (void)b, (void)u_left, (void)w_scalar;
  return nullptr;
#endif
}

BinaryUnarySpanFn binary_unary_span(BinaryOp b, UnaryOp u, SpanMode mode) {
#ifdef MLX_SIMD_AVX2
  switch (u) {
    case UnaryOp::Exp: return pick_first<UnaryOp::Exp>(b, mode);
    case UnaryOp::Sin: return pick_first<UnaryOp::Sin>(b, mode);
    case UnaryOp::Cos: return pick_first<UnaryOp::Cos>(b, mode);
    case UnaryOp::Tanh: return pick_first<UnaryOp::Tanh>(b, mode);
    case UnaryOp::Erf: return pick_first<UnaryOp::Erf>(b, mode);
    case UnaryOp::Sigmoid: return pick_first<UnaryOp::Sigmoid>(b, mode);
    default: return nullptr;
  }
#else
  (void)b, (void)u, (void)mode;
  return nullptr;
#endif
}

}  // namespace mlx::core::cpu
