// Unary elementwise kernels.
#include <cmath>
#include <cstring>

#include "mlx/backend/cpu/elementwise_kernels.h"
#include "mlx/backend/cpu/simd_math.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

template <typename T> constexpr bool is_f32 = std::is_same_v<T, float>;

float erfinv_f(float y) {
  if (y <= -1.0f) return y == -1.0f ? -INFINITY : NAN;
  if (y >= 1.0f) return y == 1.0f ? INFINITY : NAN;
  // Giles' single-precision approximation, then two Newton steps in double.
  float w = -std::log((1.0f - y) * (1.0f + y)), p;
  if (w < 5.0f) {
    w = w - 2.5f;
    p = 2.81022636e-08f;
    p = 3.43273939e-07f + p * w; p = -3.5233877e-06f + p * w; p = -4.39150654e-06f + p * w;
    p = 0.00021858087f + p * w; p = -0.00125372503f + p * w; p = -0.00417768164f + p * w;
    p = 0.246640727f + p * w; p = 1.50140941f + p * w;
  } else {
    w = std::sqrt(w) - 3.0f;
    p = -0.000200214257f;
    p = 0.000100950558f + p * w; p = 0.00134934322f + p * w; p = -0.00367342844f + p * w;
    p = 0.00573950773f + p * w; p = -0.0076224613f + p * w; p = 0.00943887047f + p * w;
    p = 1.00167406f + p * w; p = 2.83297682f + p * w;
  }
  double x = static_cast<double>(p) * y;
  for (int i = 0; i < 2; ++i) {
    double err = std::erf(x) - y;
    x -= err / (1.1283791670955126 * std::exp(-x * x));
  }
  return static_cast<float>(x);
}
double erfinv_d(double y) {
  if (y <= -1.0) return y == -1.0 ? -INFINITY : NAN;
  if (y >= 1.0) return y == 1.0 ? INFINITY : NAN;
  double x = erfinv_f(static_cast<float>(y));
  for (int i = 0; i < 3; ++i) {
    double err = std::erf(x) - y;
    x -= err / (1.1283791670955126 * std::exp(-x * x));
  }
  return x;
}

template <typename T>
T round_half_even(T x) {
  return std::nearbyint(x);
}

// Applies op to one value of the arithmetic type A (float/double/complex/int).
template <UnaryOp op, typename A>
inline auto apply(A x) {
  constexpr bool C = is_cplx<A>::value;
  if constexpr (op == UnaryOp::Abs) {
    if constexpr (C) return std::abs(x);
    else if constexpr (std::is_unsigned_v<A>) return x;
    else return static_cast<A>(x < 0 ? -x : x);
  } else if constexpr (op == UnaryOp::Negative) {
    return static_cast<A>(-x);
  } else if constexpr (op == UnaryOp::Sign) {
    if constexpr (C) {
      float m = std::abs(x);
      return m == 0 ? A(0) : x / m;
    } else if constexpr (std::is_unsigned_v<A>) {
      return static_cast<A>(x != 0);
    } else {
      return static_cast<A>((x > 0) - (x < 0));
    }
  } else if constexpr (op == UnaryOp::Sqrt) {
    return std::sqrt(x);
  } else if constexpr (op == UnaryOp::Rsqrt) {
    if constexpr (C) return A(1) / std::sqrt(x);
    else return A(1) / std::sqrt(x);
  } else if constexpr (op == UnaryOp::Square) {
    return static_cast<A>(x * x);
  } else if constexpr (op == UnaryOp::Reciprocal) {
    return A(1) / x;
  } else if constexpr (op == UnaryOp::Exp) {
    if constexpr (is_f32<A>) return simd::exp(x);
    else return std::exp(x);
  } else if constexpr (op == UnaryOp::Expm1) {
    if constexpr (C) return std::exp(x) - A(1);
    else return std::expm1(x);
  } else if constexpr (op == UnaryOp::Log) {
    if constexpr (is_f32<A>) return simd::log(x);
    else return std::log(x);
  } else if constexpr (op == UnaryOp::Log1p) {
    if constexpr (C) return std::log(A(1) + x);
    else return std::log1p(x);
  } else if constexpr (op == UnaryOp::Log2) {
    if constexpr (C) return std::log(x) / A(0.693147180559945f);
    else return std::log2(x);
  } else if constexpr (op == UnaryOp::Log10) {
    return std::log10(x);
  } else if constexpr (op == UnaryOp::Sin) {
    if constexpr (is_f32<A>) return simd::sin(x);
    else return std::sin(x);
  } else if constexpr (op == UnaryOp::Cos) {
    if constexpr (is_f32<A>) return simd::cos(x);
    else return std::cos(x);
  } else if constexpr (op == UnaryOp::Tan) {
    return std::tan(x);
  } else if constexpr (op == UnaryOp::ArcSin) {
    return std::asin(x);
  } else if constexpr (op == UnaryOp::ArcCos) {
    return std::acos(x);
  } else if constexpr (op == UnaryOp::ArcTan) {
    return std::atan(x);
  } else if constexpr (op == UnaryOp::Sinh) {
    return std::sinh(x);
  } else if constexpr (op == UnaryOp::Cosh) {
    return std::cosh(x);
  } else if constexpr (op == UnaryOp::Tanh) {
    if constexpr (is_f32<A>) return simd::tanh(x);
    else return std::tanh(x);
  } else if constexpr (op == UnaryOp::ArcSinh) {
    return std::asinh(x);
  } else if constexpr (op == UnaryOp::ArcCosh) {
    return std::acosh(x);
  } else if constexpr (op == UnaryOp::ArcTanh) {
    return std::atanh(x);
  } else if constexpr (op == UnaryOp::Erf) {
    if constexpr (C) return x;
    else if constexpr (is_f32<A>) return simd::erf(x);
    else return std::erf(x);
  } else if constexpr (op == UnaryOp::ErfInv) {
    if constexpr (C) return x;
    else if constexpr (std::is_same_v<A, double>) return erfinv_d(x);
    else return erfinv_f(x);
  } else if constexpr (op == UnaryOp::Sigmoid) {
    if constexpr (is_f32<A>) return simd::sigmoid(x);
    else return A(1) / (A(1) + std::exp(-x));
  } else if constexpr (op == UnaryOp::Floor) {
    if constexpr (C) return x;
    else return std::floor(x);
  } else if constexpr (op == UnaryOp::Ceil) {
    if constexpr (C) return x;
    else return std::ceil(x);
  } else if constexpr (op == UnaryOp::Round) {
    if constexpr (C) return A(round_half_even(x.real()), round_half_even(x.imag()));
    else return round_half_even(x);
  } else if constexpr (op == UnaryOp::LogicalNot) {
    return !x;
  } else if constexpr (op == UnaryOp::BitwiseInvert) {
    if constexpr (std::is_same_v<A, bool> || std::is_floating_point_v<A>) return !x;
    else return static_cast<A>(~x);
  } else if constexpr (op == UnaryOp::Conjugate) {
    if constexpr (C) return std::conj(x);
    else return x;
  } else if constexpr (op == UnaryOp::Real) {
    if constexpr (C) return x.real();
    else return x;
  } else if constexpr (op == UnaryOp::Imag) {
    if constexpr (C) return x.imag();
    else return A(0);
  } else if constexpr (op == UnaryOp::IsNan) {
    if constexpr (C) return std::isnan(x.real()) || std::isnan(x.imag());
    else return x != x;
  } else if constexpr (op == UnaryOp::IsInf) {
    if constexpr (C) return std::isinf(x.real()) || std::isinf(x.imag());
    else return std::isinf(x);
  } else if constexpr (op == UnaryOp::IsPosInf) {
    if constexpr (C) return false;
    else return x == std::numeric_limits<A>::infinity();
  } else if constexpr (op == UnaryOp::IsNegInf) {
    if constexpr (C) return false;
    else return x == -std::numeric_limits<A>::infinity();
  } else {
    return x;
  }
}

// float32 sin/cos: simd_math.h's polynomial with a 3-part pi reduction, accurate only for
// moderate |x|. The fast loop stores x itself (instead of the result) where |x| > 8192 or
// x is inf/nan, and tracks the largest |x|; a scalar pass then redoes those elements with
// the C library. It reads them back from out, which works whether or not out shares in's
// (donated) buffer. Contiguous float32 runs simd_math.h's span kernel (AVX2), the other
// layouts and types its scalar functions: the same values either way.
constexpr uint32_t kSinCosMaxBits = simd::detail::kSinCosMaxBits;  // 8192.0f; NaN and inf compare above

template <UnaryOp op, typename A>
constexpr bool needs_sincos_fixup() {
  return (op == UnaryOp::Sin || op == UnaryOp::Cos) && is_f32<A>;
}

using simd::abs_bits;

// Returns true when some element was out of the fast path's range. Strides are
// template parameters when known to be 1 so that the contiguous loop vectorizes.
template <UnaryOp op, bool kStrided, typename In, typename Out>
bool sincos_fast(const In* in, int64_t is, Out* out, int64_t os, size_t n) {
  if constexpr (!kStrided && std::is_same_v<In, float> && std::is_same_v<Out, float>) {
    return simd::sincos_span<op == UnaryOp::Cos>(in, out, n) > kSinCosMaxBits;
  } else {
    uint32_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      float x = static_cast<float>(in[kStrided ? i * is : i]);
      uint32_t b = abs_bits(x);
      m = b > m ? b : m;
      float r = op == UnaryOp::Cos ? simd::cos_reduced(x) : simd::sin_reduced(x);
      // sin also keeps x where x is +-0 (sin(-0) is -0): 1 <= b <= max as one compare.
      bool fast = op == UnaryOp::Sin ? b - 1u < kSinCosMaxBits : b <= kSinCosMaxBits;
      out[kStrided ? i * os : i] = cast_to<Out>(fast ? r : x);
    }
    return m > kSinCosMaxBits;
  }
}

template <UnaryOp op, typename Out>
void sincos_fixup(Out* out, int64_t os, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float x = static_cast<float>(out[i * os]);
    if (abs_bits(x) > kSinCosMaxBits) {
      double d = static_cast<double>(x);
      out[i * os] = cast_to<Out>(static_cast<float>(op == UnaryOp::Sin ? std::sin(d) : std::cos(d)));
    }
  }
}

// The contiguous loop on one span: simd_math.h's span kernels for float32 exp, tanh, erf (and
// sin/cos with their fix-up pass), the scalar functions otherwise. Also the fused
// interpreter's unary kernel.
template <UnaryOp op, typename In, typename Out>
void unary_span_impl(const void* in, void* out, size_t n) {
  using A = acc_t<In>;
  const In* x = static_cast<const In*>(in);
  Out* d = static_cast<Out*>(out);
  constexpr bool f32 = std::is_same_v<In, float> && std::is_same_v<Out, float>;
  if constexpr (needs_sincos_fixup<op, A>()) {
    if (sincos_fast<op, false>(x, 1, d, 1, n)) sincos_fixup<op>(d, 1, n);
  } else if constexpr (f32 && op == UnaryOp::Exp) {
    simd::exp_span(x, d, n);
  } else if constexpr (f32 && op == UnaryOp::Tanh) {
    simd::tanh_span(x, d, n);
  } else if constexpr (f32 && op == UnaryOp::Erf) {
    simd::erf_span(x, d, n);
  } else if constexpr (f32 && op == UnaryOp::Sigmoid) {
    simd::sigmoid_span(x, d, n);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i])));
  }
}

template <UnaryOp op, typename In, typename Out>
void run_linear(const In* in, Out* out, size_t n) {
  if constexpr (needs_sincos_fixup<op, acc_t<In>>()) {
    // In place (the fix-up pass reads the values back from out).
    cpu::parallel_for(n, cpu::kElemGrain, [&](size_t b, size_t e) { unary_span_impl<op, In, Out>(in + b, out + b, e - b); });
  } else {
    cpu::parallel_fill(out, n, [&](size_t b, size_t e, Out* d) { unary_span_impl<op, In, Out>(in + b, d, e - b); });
  }
}

template <UnaryOp op, typename In, typename Out>
void run(const array& in, array& out) {
  if (in.data_size() == 1 && out.size() > 1) {
    // One broadcast value in, one broadcast value out (the input's layout).
    using A = acc_t<In>;
    out.set_data(std::make_shared<Data>(allocator::malloc(sizeof(Out))), 1, in.strides(), in.flags());
    out.data<Out>()[0] = cast_to<Out>(apply<op>(static_cast<A>(in.data<In>()[0])));
    return;
  }
  if (in.flags().contiguous) {
    cpu::alloc_like(out, in);
    run_linear<op, In, Out>(in.data<In>(), out.data<Out>(), in.data_size());
    return;
  }
  cpu::alloc_out(out);
  using A = acc_t<In>;
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  cpu::for_each_row<2>(in.shape(), {in.strides(), out.strides()},
                       [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& is) {
                         const In* s = src + off[0];
                         Out* d = dst + off[1];
                         if constexpr (needs_sincos_fixup<op, A>()) {
                           if (sincos_fast<op, true>(s, is[0], d, is[1], n)) sincos_fixup<op>(d, is[1], n);
                         } else {
                           for (int64_t i = 0; i < n; ++i) d[i] = cast_to<Out>(apply<op>(static_cast<A>(s[i * is[0]])));
                         }
                       });
}

// The output type rule (to_bool) and the ops defined on floating inputs only (float_only),
// shared by dispatch and the span kernels of the fused interpreter.
template <UnaryOp op>
struct UnaryRule {
  static constexpr bool to_bool = op == UnaryOp::LogicalNot || op == UnaryOp::IsNan || op == UnaryOp::IsInf ||
                                  op == UnaryOp::IsPosInf || op == UnaryOp::IsNegInf;
  static constexpr bool float_only = op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt || op == UnaryOp::Exp ||
      op == UnaryOp::Expm1 || op == UnaryOp::Log || op == UnaryOp::Log1p || op == UnaryOp::Log2 ||
      op == UnaryOp::Log10 || op == UnaryOp::Sin || op == UnaryOp::Cos || op == UnaryOp::Tan ||
      op == UnaryOp::ArcSin || op == UnaryOp::ArcCos || op == UnaryOp::ArcTan || op == UnaryOp::Sinh ||
      op == UnaryOp::Cosh || op == UnaryOp::Tanh || op == UnaryOp::ArcSinh || op == UnaryOp::ArcCosh ||
      op == UnaryOp::ArcTanh || op == UnaryOp::Erf || op == UnaryOp::ErfInv || op == UnaryOp::Sigmoid ||
      op == UnaryOp::Reciprocal || op == UnaryOp::Floor || op == UnaryOp::Ceil || op == UnaryOp::Round ||
      op == UnaryOp::IsInf || op == UnaryOp::IsPosInf || op == UnaryOp::IsNegInf || op == UnaryOp::IsNan;
};

// Picks the input types an op accepts and the output type rule.
template <UnaryOp op>
void dispatch(const array& in, array& out) {
  constexpr bool to_bool = UnaryRule<op>::to_bool;
  constexpr bool float_only = UnaryRule<op>::float_only;
  if constexpr (op == UnaryOp::Real || op == UnaryOp::Imag) {
    run<op, complex64_t, float>(in, out);
  } else if constexpr (op == UnaryOp::LogicalNot) {
    run<op, bool, bool>(in, out);
  } else if constexpr (op == UnaryOp::BitwiseInvert) {
    MLX_DISPATCH_INT(in.dtype(), { run<op, T, T>(in, out); });
  } else if constexpr (float_only) {
    switch (in.dtype()) {
      case float16: run<op, float16_t, std::conditional_t<to_bool, bool, float16_t>>(in, out); break;
      case bfloat16: run<op, bfloat16_t, std::conditional_t<to_bool, bool, bfloat16_t>>(in, out); break;
      case float32: run<op, float, std::conditional_t<to_bool, bool, float>>(in, out); break;
      case float64: run<op, double, std::conditional_t<to_bool, bool, double>>(in, out); break;
      case complex64: run<op, complex64_t, std::conditional_t<to_bool, bool, complex64_t>>(in, out); break;
      default: throw std::runtime_error(msg("[", unary_name(op), "] unsupported dtype ", in.dtype(), "."));
    }
  } else if constexpr (op == UnaryOp::Abs) {
    if (in.dtype() == complex64) {
      run<op, complex64_t, float>(in, out);
    } else {
      MLX_DISPATCH_REAL(in.dtype(), { run<op, T, T>(in, out); });
    }
  } else {
    MLX_DISPATCH_ALL(in.dtype(), {
      if constexpr (std::is_same_v<T, bool> && op == UnaryOp::Negative) {
        throw std::runtime_error("[negative] unsupported dtype bool.");
      } else {
        run<op, T, T>(in, out);
      }
    });
  }
}

// ---- span kernels for the fused interpreter (see elementwise_kernels.h) ----
// (unary_span_impl, above, is run_linear's loop on one span.)

template <UnaryOp op, typename In, typename Out>
cpu::UnarySpanFn unary_span_of(Dtype* out_t) {
  *out_t = TypeToDtype<Out>::value;
  return &unary_span_impl<op, In, Out>;
}

// The type rules of dispatch<op>, restricted to the covered dtypes.
template <UnaryOp op>
cpu::UnarySpanFn unary_span_op(Dtype in, Dtype* out_t) {
  using R = UnaryRule<op>;
  if constexpr (op == UnaryOp::Real || op == UnaryOp::Imag || op == UnaryOp::Copy ||
                op == UnaryOp::StopGradient) {
    return nullptr;
  } else if constexpr (op == UnaryOp::LogicalNot) {
    return in == bool_ ? unary_span_of<op, bool, bool>(out_t) : nullptr;
  } else if constexpr (op == UnaryOp::BitwiseInvert) {
    if (in == bool_) return unary_span_of<op, bool, bool>(out_t);
    if (in == int32) return unary_span_of<op, int32_t, int32_t>(out_t);
    return nullptr;
  } else if constexpr (R::float_only) {
    switch (in) {
      case float16: return unary_span_of<op, float16_t, std::conditional_t<R::to_bool, bool, float16_t>>(out_t);
      case bfloat16: return unary_span_of<op, bfloat16_t, std::conditional_t<R::to_bool, bool, bfloat16_t>>(out_t);
      case float32: return unary_span_of<op, float, std::conditional_t<R::to_bool, bool, float>>(out_t);
      default: return nullptr;
    }
  } else {
    switch (in) {
      case bool_:
        if constexpr (op == UnaryOp::Negative) return nullptr;
        else return unary_span_of<op, bool, bool>(out_t);
      case int32: return unary_span_of<op, int32_t, int32_t>(out_t);
      case float16: return unary_span_of<op, float16_t, float16_t>(out_t);
      case bfloat16: return unary_span_of<op, bfloat16_t, bfloat16_t>(out_t);
      case float32: return unary_span_of<op, float, float>(out_t);
      default: return nullptr;
    }
  }
}

}  // namespace

void Unary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (op_ == UnaryOp::StopGradient || (op_ == UnaryOp::Copy && in.flags().row_contiguous)) {
    out.copy_shared_buffer(in);
    return;
  }
  if (op_ == UnaryOp::Copy) {
    cpu::alloc_out(out);
    cpu::copy_to_contiguous(in, out);
    return;
  }
  if (in.size() == 0) {
    cpu::alloc_out(out);
    return;
  }
  switch (op_) {
#define MLX_UNARY(C, n) \
  case UnaryOp::C:      \
    dispatch<UnaryOp::C>(in, out); \
    break;
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
  }
}

}  // namespace mlx::core

namespace mlx::core::cpu {

UnarySpanFn unary_span(UnaryOp op, Dtype in, Dtype* out_t) {
  switch (op) {
#define MLX_UNARY(C, n) \
  case UnaryOp::C:      \
    return unary_span_op<UnaryOp::C>(in, out_t);
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
  }
  return nullptr;
}

}  // namespace mlx::core::cpu
