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
  if constexpr (U == UnaryOp::Exp) return exp8_any(x);
  else if constexpr (U == UnaryOp::Sin || U == UnaryOp::Cos) return sincos8<U == UnaryOp::Cos>(x, m);
  else if constexpr (U == UnaryOp::Tanh) return tanh8(x);
  else if constexpr (U == UnaryOp::Erf) return erf8(x);
  else return sigmoid8(x);
}

template <BinaryOp B>
inline __m256 binary8(__m256 a, __m256 b) {
  if constexpr (B == BinaryOp::Add) return _mm256_add_ps(a, b);
  else if constexpr (B == BinaryOp::Subtract) return _mm256_sub_ps(a, b);
  else if constexpr (B == BinaryOp::Multiply) return _mm256_mul_ps(a, b);
  else return _mm256_div_ps(a, b);
}

// Which pair a kernel computes from its operands a and b: bop(uop(a), b), bop(b, uop(a)) or
// uop(bop(a, b)).
enum class Form { UnaryLeft, UnaryRight, BinaryFirst };

// One of the two ops' values is rounded on its own, as in a slot: the compiler must not
// contract a final multiply of the first op (exp8's scaling, say) with the second into an FMA.
inline __m256 rounded(__m256 v) {
  asm("" : "+x"(v));
  return v;
}

// Operands laid out as M (a single value is broadcast in sa / sb).
template <UnaryOp U, BinaryOp B, Form F, SpanMode M>
inline void step8(const float* a, const float* b, float* d, __m256 sa, __m256 sb, __m256i* m) {
  __m256 x = M == SpanMode::SV ? sa : _mm256_loadu_ps(a);
  __m256 y = M == SpanMode::VS ? sb : _mm256_loadu_ps(b);
  __m256 r;
  if constexpr (F == Form::BinaryFirst) r = unary8<U>(rounded(binary8<B>(x, y)), m);
  else if constexpr (F == Form::UnaryLeft) r = binary8<B>(rounded(unary8<U>(x, m)), y);
  else r = binary8<B>(y, rounded(unary8<U>(x, m)));
  _mm256_storeu_ps(d, r);
}

template <UnaryOp U, BinaryOp B, Form F, SpanMode M>
void pair_impl(const void* pa, const void* pb, void* out, size_t n) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  float* d = static_cast<float*>(out);
  __m256i m = _mm256_setzero_si256();
  const __m256 sa = M == SpanMode::SV ? _mm256_set1_ps(a[0]) : _mm256_setzero_ps();
  const __m256 sb = M == SpanMode::VS ? _mm256_set1_ps(b[0]) : _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    step8<U, B, F, M>(a + i, b + i, d + i, sa, sb, &m);
    step8<U, B, F, M>(a + i + 8, b + i + 8, d + i + 8, sa, sb, &m);
  }
  for (; i + 8 <= n; i += 8) step8<U, B, F, M>(a + i, b + i, d + i, sa, sb, &m);
  if (i < n) {
    alignas(32) float ba[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bb[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bd[8];
    if (M != SpanMode::SV) std::memcpy(ba, a + i, (n - i) * sizeof(float));
    if (M != SpanMode::VS) std::memcpy(bb, b + i, (n - i) * sizeof(float));
    step8<U, B, F, M>(ba, bb, bd, sa, sb, &m);
    std::memcpy(d + i, bd, (n - i) * sizeof(float));
  }
  if constexpr (U == UnaryOp::Sin || U == UnaryOp::Cos) {
    if (hmax(m) > simd::detail::kSinCosMaxBits) {
      // Some sin/cos argument is beyond the polynomial's range: redo the span with the two
      // span kernels (the unary one has the exact fix-up pass), a small piece at a time.
      Dtype t;
      UnarySpanFn un = unary_span(U, float32, &t);
      alignas(64) float tmp[256];
      for (size_t c = 0; c < n; c += 256) {
        const size_t len = n - c < 256 ? n - c : 256;
        const float* ac = M == SpanMode::SV ? a : a + c;
        const float* bc = M == SpanMode::VS ? b : b + c;
        if constexpr (F == Form::BinaryFirst) {
          binary_span(B, float32, M, &t)(ac, bc, tmp, len);
          un(tmp, d + c, len);
        } else {
          un(ac, tmp, len);
          if constexpr (F == Form::UnaryLeft) binary_span(B, float32, M, &t)(tmp, bc, d + c, len);
          else binary_span(B, float32, M == SpanMode::VS ? SpanMode::SV : M, &t)(bc, tmp, d + c, len);
        }
      }
    }
  }
}

// (In the unary-first forms a, the unary op's operand, is never a single value.)
template <UnaryOp U, BinaryOp B, Form F>
UnaryBinarySpanFn pick_mode(SpanMode mode) {
  switch (mode) {
    case SpanMode::SV:
      if constexpr (F == Form::BinaryFirst) return &pair_impl<U, B, F, SpanMode::SV>;
      else return nullptr;
    case SpanMode::VS: return &pair_impl<U, B, F, SpanMode::VS>;
    default: return &pair_impl<U, B, F, SpanMode::VV>;
  }
}

template <UnaryOp U, Form F>
UnaryBinarySpanFn pick_binary(BinaryOp b, SpanMode mode) {
  switch (b) {
    case BinaryOp::Add: return pick_mode<U, BinaryOp::Add, F>(mode);
    case BinaryOp::Subtract: return pick_mode<U, BinaryOp::Subtract, F>(mode);
    case BinaryOp::Multiply: return pick_mode<U, BinaryOp::Multiply, F>(mode);
    case BinaryOp::Divide: return pick_mode<U, BinaryOp::Divide, F>(mode);
    default: return nullptr;
  }
}

template <Form F>
UnaryBinarySpanFn pick(UnaryOp u, BinaryOp b, SpanMode mode) {
  switch (u) {
    case UnaryOp::Exp: return pick_binary<UnaryOp::Exp, F>(b, mode);
    case UnaryOp::Sin: return pick_binary<UnaryOp::Sin, F>(b, mode);
    case UnaryOp::Cos: return pick_binary<UnaryOp::Cos, F>(b, mode);
    case UnaryOp::Tanh: return pick_binary<UnaryOp::Tanh, F>(b, mode);
    case UnaryOp::Erf: return pick_binary<UnaryOp::Erf, F>(b, mode);
    case UnaryOp::Sigmoid: return pick_binary<UnaryOp::Sigmoid, F>(b, mode);
    default: return nullptr;
  }
}

}  // namespace
#endif

UnaryBinarySpanFn unary_binary_span(UnaryOp u, BinaryOp b, bool u_left, bool w_scalar) {
#ifdef MLX_SIMD_AVX2
  SpanMode mode = w_scalar ? SpanMode::VS : SpanMode::VV;
  return u_left ? pick<Form::UnaryLeft>(u, b, mode) : pick<Form::UnaryRight>(u, b, mode);
#else
  (void)u, (void)b, (void)u_left, (void)w_scalar;
  return nullptr;
#endif
}

BinaryUnarySpanFn binary_unary_span(BinaryOp b, UnaryOp u, SpanMode mode) {
#ifdef MLX_SIMD_AVX2
  return pick<Form::BinaryFirst>(u, b, mode);
#else
  (void)b, (void)u, (void)mode;
  return nullptr;
#endif
}

}  // namespace mlx::core::cpu
