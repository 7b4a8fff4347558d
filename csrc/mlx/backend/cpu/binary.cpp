// Binary and ternary elementwise kernels (with contiguous, scalar and strided paths).
#include <cmath>
#include <cstring>
#include <limits>

#include "mlx/backend/cpu/elementwise_kernels.h"
#include "mlx/backend/cpu/simd_math.h"
#include "mlx/backend/cpu/utils.h"
#include "mlx/dtype_dispatch.h"
#include "mlx/primitives/primitives.h"
#include "mlx/types/cast.h"

namespace mlx::core {

namespace {

template <typename A>
inline A int_floordiv(A a, A b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<A>) {
    if (b == -1) return static_cast<A>(std::make_unsigned_t<A>(0) - static_cast<std::make_unsigned_t<A>>(a));
    A q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  } else {
    return a / b;
  }
}

template <typename A>
inline A int_mod(A a, A b) {
  if (b == 0) return a;  // as MLX: x % 0 == x
  if constexpr (std::is_signed_v<A>) {
    if (b == -1) return 0;
    A r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    return a % b;
  }
}

template <typename A>
inline A int_pow(A base, A exp) {
  if constexpr (std::is_signed_v<A>) {
    if (exp < 0) return base == 1 ? 1 : (base == -1 ? ((exp & 1) ? -1 : 1) : 0);
  }
  A r = 1;
  while (exp) {
    if (exp & 1) r = static_cast<A>(r * base);
    base = static_cast<A>(base * base);
    exp >>= 1;
  }
  return r;
}

// Lexicographic order of complex numbers (real part, then imaginary part), as NumPy.
inline bool cplx_greater(complex64_t a, complex64_t b) {
  return a.real() > b.real() || (a.real() == b.real() && a.imag() > b.imag());
}
// As MLX, maximum / minimum treat a complex number as NaN when its real part is.
inline bool cplx_isnan(complex64_t a) { return a.real() != a.real(); }

template <BinaryOp op, typename A>
inline auto apply(A a, A b) {
  constexpr bool C = is_cplx<A>::value;
  constexpr bool F = std::is_floating_point_v<A>;
  if constexpr (op == BinaryOp::Add) {
    if constexpr (std::is_same_v<A, bool>) return a || b;
    else return static_cast<A>(a + b);
  } else if constexpr (op == BinaryOp::Subtract) {
    return static_cast<A>(a - b);
  } else if constexpr (op == BinaryOp::Multiply) {
    if constexpr (std::is_same_v<A, bool>) return a && b;
    else return static_cast<A>(a * b);
  } else if constexpr (op == BinaryOp::Divide) {
    if constexpr (C || F) return a / b;
    else return b == 0 ? A(0) : static_cast<A>(a / b);
  } else if constexpr (op == BinaryOp::FloorDivide) {
    if constexpr (F) return std::floor(a / b);
    else if constexpr (C) return a / b;
    else if constexpr (std::is_same_v<A, bool>) return a && b;
    else return int_floordiv(a, b);
  } else if constexpr (op == BinaryOp::Remainder) {
    if constexpr (F) {
      A r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else if constexpr (C) {
      return a;
    } else if constexpr (std::is_same_v<A, bool>) {
      return false && a && b;
    } else {
      return int_mod(a, b);
    }
  } else if constexpr (op == BinaryOp::Power) {
    if constexpr (F || C) return std::pow(a, b);
    else if constexpr (std::is_same_v<A, bool>) return a || !b;
    else return int_pow(a, b);
  } else if constexpr (op == BinaryOp::Maximum) {
    if constexpr (C) return (cplx_isnan(a) || (!cplx_isnan(b) && cplx_greater(a, b))) ? a : b;
    else if constexpr (F) return (a != a || a > b) ? a : b;  // NaN propagates
    else return a > b ? a : b;
  } else if constexpr (op == BinaryOp::Minimum) {
    if constexpr (C) return (cplx_isnan(a) || (!cplx_isnan(b) && cplx_greater(b, a))) ? a : b;
    else if constexpr (F) return (a != a || a < b) ? a : b;
    else return a < b ? a : b;
  } else if constexpr (op == BinaryOp::Equal) {
    return a == b;
  } else if constexpr (op == BinaryOp::NaNEqual) {
    if constexpr (F) return a == b || (a != a && b != b);
    else if constexpr (C) return a == b || ((a != a) && (b != b));
    else return a == b;
  } else if constexpr (op == BinaryOp::NotEqual) {
    return a != b;
  } else if constexpr (op == BinaryOp::Less) {
    if constexpr (C) return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
    else return a < b;
  } else if constexpr (op == BinaryOp::LessEqual) {
    if constexpr (C) return a.real() < b.real() || (a.real() == b.real() && a.imag() <= b.imag());
    else return a <= b;
  } else if constexpr (op == BinaryOp::Greater) {
    if constexpr (C) return a.real() > b.real() || (a.real() == b.real() && a.imag() > b.imag());
    else return a > b;
  } else if constexpr (op == BinaryOp::GreaterEqual) {
    if constexpr (C) return a.real() > b.real() || (a.real() == b.real() && a.imag() >= b.imag());
    else return a >= b;
  } else if constexpr (op == BinaryOp::LogicalAnd) {
    return static_cast<bool>(a) && static_cast<bool>(b);
  } else if constexpr (op == BinaryOp::LogicalOr) {
    return static_cast<bool>(a) || static_cast<bool>(b);
  } else if constexpr (op == BinaryOp::BitwiseAnd) {
    // Non-integral A only arises for bool inputs (computed in float).
    if constexpr (std::is_integral_v<A>) return static_cast<A>(a & b);
    else return static_cast<A>((a != A(0)) && (b != A(0)));
  } else if constexpr (op == BinaryOp::BitwiseOr) {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(a | b);
    else return static_cast<A>((a != A(0)) || (b != A(0)));
  } else if constexpr (op == BinaryOp::BitwiseXor) {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(a ^ b);
    else return static_cast<A>((a != A(0)) != (b != A(0)));
  } else if constexpr (op == BinaryOp::LeftShift) {
    if constexpr (std::is_integral_v<A> && !std::is_same_v<A, bool>) {
      if (b < 0 || b >= static_cast<A>(sizeof(A) * 8)) return A(0);
      return static_cast<A>(static_cast<std::make_unsigned_t<A>>(a) << b);
    } else {
      return a;
    }
  } else if constexpr (op == BinaryOp::RightShift) {
    if constexpr (std::is_integral_v<A> && !std::is_same_v<A, bool>) {
      if (b < 0 || b >= static_cast<A>(sizeof(A) * 8)) return static_cast<A>(a < 0 ? -1 : 0);
      return static_cast<A>(a >> b);
    } else {
      return a;
    }
  } else if constexpr (op == BinaryOp::ArcTan2) {
    if constexpr (F) return std::atan2(a, b);
    else return a;
  } else if constexpr (op == BinaryOp::LogAddExp) {
    if constexpr (F) {
      // max + log1p(exp(-|a - b|)); equal infinities give that infinity, NaN propagates.
      A m = a > b ? a : b;
      A d = a > b ? b - a : a - b;
      d = (a == b) ? A(0) : d;
      A e;
      if constexpr (std::is_same_v<A, float>) e = simd::exp(d);
      else e = std::exp(d);
      A r = m + std::log1p(e);
      r = std::isinf(m) ? m : r;
      return (a != a || b != b) ? a + b : r;
    } else if constexpr (C) {
      return std::log(std::exp(a) + std::exp(b));
    } else {
      return a;
    }
  } else {
    return a;
  }
}

// Copies the nr x nc block at p (strides s0, s1) into buf (rows of kTile), walking the block
// along its smaller stride so that each source line is read whole, once.
constexpr int64_t kTile = 32;
template <typename T>
inline void gather_tile(const T* p, int64_t s0, int64_t s1, int64_t nr, int64_t nc, T* buf) {
  if (std::abs(s0) < std::abs(s1)) {
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t r = 0; r < nr; ++r) buf[r * kTile + c] = p[r * s0 + c * s1];
  } else {
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t c = 0; c < nc; ++c) buf[r * kTile + c] = p[r * s0 + c * s1];
  }
}

// Strided operands where an input walks the last dim with a stride (a transposed view, say):
// kTile x kTile tiles of the last two dims; a strided input's tile is first gathered into an
// L1 buffer along its own contiguous direction (reading it across the row would touch one
// line per element, and power-of-two strides map those lines to a few cache sets), then the
// op runs over contiguous rows. Returns false (nothing done) when no input is strided that way.
template <BinaryOp op, typename In, typename Out>
bool run_tiled(const array& a, const array& b, array& out) {
  using A = acc_t<In>;
  Shape sh = out.shape();
  std::array<Strides, 3> st{a.strides(), b.strides(), out.strides()};
  cpu::collapse(sh, st);
  int nd = static_cast<int>(sh.size());
  if (nd < 2 || st[2][nd - 1] != 1) return false;
  auto strided = [&](int k) { return st[k][nd - 1] != 0 && st[k][nd - 1] != 1; };
  bool ga = strided(0), gb = strided(1);
  if (!ga && !gb) return false;
  int64_t R = sh[nd - 2], C = sh[nd - 1];
  if (R < 8 || C < 8) return false;
  constexpr int64_t T = kTile;
  int64_t tr = (R + T - 1) / T, outer = 1;
  for (int i = 0; i < nd - 2; ++i) outer *= sh[i];
  const In* pa = a.data<In>();
  const In* pb = b.data<In>();
  Out* po = out.data<Out>();
  int64_t a0 = st[0][nd - 2], a1 = st[0][nd - 1], b0 = st[1][nd - 2], b1 = st[1][nd - 1], o0 = st[2][nd - 2];
  size_t grain = std::max<size_t>(1, cpu::kElemGrain / (T * C));
  cpu::parallel_for(outer * tr, grain, [&](size_t t0, size_t t1) {
    alignas(64) In bufa[T * T];
    alignas(64) In bufb[T * T];
    for (size_t t = t0; t < t1; ++t) {
      int64_t o = static_cast<int64_t>(t) / tr, r0 = (static_cast<int64_t>(t) % tr) * T;
      int64_t offa = 0, offb = 0, offo = 0;
      for (int i = nd - 3; i >= 0; --i) {
        int64_t idx = o % sh[i];
        o /= sh[i];
        offa += idx * st[0][i];
        offb += idx * st[1][i];
        offo += idx * st[2][i];
      }
      int64_t nr = std::min(R - r0, T);
      for (int64_t c0 = 0; c0 < C; c0 += T) {
        int64_t nc = std::min(C - c0, T);
        const In* xa = pa + offa + r0 * a0 + c0 * a1;
        const In* xb = pb + offb + r0 * b0 + c0 * b1;
        if (ga) gather_tile(xa, a0, a1, nr, nc, bufa);
        if (gb) gather_tile(xb, b0, b1, nr, nc, bufb);
        for (int64_t r = 0; r < nr; ++r) {
          const In* x = ga ? bufa + r * T : xa + r * a0;
          const In* y = gb ? bufb + r * T : xb + r * b0;
          Out* d = po + offo + (r0 + r) * o0 + c0;
          // After the gather every input walks the row with stride 1, or is constant on it.
          bool cx = !ga && a1 == 0, cy = !gb && b1 == 0;
          if (cx) {
            A vx = static_cast<A>(x[0]);
            for (int64_t c = 0; c < nc; ++c) d[c] = cast_to<Out>(apply<op>(vx, static_cast<A>(y[c])));
          } else if (cy) {
            A vy = static_cast<A>(y[0]);
            for (int64_t c = 0; c < nc; ++c) d[c] = cast_to<Out>(apply<op>(static_cast<A>(x[c]), vy));
          } else {
            for (int64_t c = 0; c < nc; ++c)
              d[c] = cast_to<Out>(apply<op>(static_cast<A>(x[c]), static_cast<A>(y[c])));
          }
        }
      }
    }
  });
  return true;
}

template <BinaryOp op, typename In, typename Out>
void run(const array& a, const array& b, array& out) {
  using A = acc_t<In>;
  const In* pa = a.data<In>();
  const In* pb = b.data<In>();
  bool sa = a.data_size() == 1, sb = b.data_size() == 1;
  if (sa && sb && out.size() > 1) {
    // Two broadcast values: the result is one broadcast value too (a's layout), not a
    // filled array, so that later ops see a scalar operand.
    out.set_data(std::make_shared<Data>(allocator::malloc(sizeof(Out))), 1, a.strides(), a.flags());
    out.data<Out>()[0] = cast_to<Out>(apply<op>(static_cast<A>(pa[0]), static_cast<A>(pb[0])));
    return;
  }
  bool same_layout = a.flags().contiguous && b.flags().contiguous && a.strides() == b.strides() &&
                     a.data_size() == b.data_size();
  if (same_layout || (sa && b.flags().contiguous) || (sb && a.flags().contiguous)) {
    const array& like = (sa && !sb) ? b : a;
    // Donate whichever contiguous input has out's layout.
    if (!sb && b.is_donatable() && b.itemsize() == out.itemsize() && (same_layout || sa)) {
      cpu::alloc_like(out, b);
    } else {
      cpu::alloc_like(out, like);
    }
    Out* po = out.data<Out>();
    size_t n = like.data_size();
    if (sa && sb) {
      po[0] = cast_to<Out>(apply<op>(static_cast<A>(pa[0]), static_cast<A>(pb[0])));
    } else if (sa) {
      A va = static_cast<A>(pa[0]);
      cpu::parallel_fill(po, n, [&](size_t s, size_t e, Out* d) {
        const In* y = pb + s;
        for (size_t i = 0; i < e - s; ++i) d[i] = cast_to<Out>(apply<op>(va, static_cast<A>(y[i])));
      });
    } else if (sb) {
      A vb = static_cast<A>(pb[0]);
      if constexpr (op == BinaryOp::Power && std::is_floating_point_v<A>) {
        // Small integer powers (x**2, x**3) by multiplication: the library pow is far slower.
        if (vb == A(2) || vb == A(3)) {
          bool cube = vb == A(3);
          cpu::parallel_fill(po, n, [&](size_t s, size_t e, Out* d) {
            const In* x = pa + s;
            for (size_t i = 0; i < e - s; ++i) {
              A v = static_cast<A>(x[i]);
              d[i] = cast_to<Out>(cube ? v * v * v : v * v);
            }
          });
          return;
        }
      }
      cpu::parallel_fill(po, n, [&](size_t s, size_t e, Out* d) {
        const In* x = pa + s;
        for (size_t i = 0; i < e - s; ++i) d[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), vb));
      });
    } else {
      cpu::parallel_fill(po, n, [&](size_t s, size_t e, Out* d) {
        const In* x = pa + s;
        const In* y = pb + s;
        for (size_t i = 0; i < e - s; ++i)
          d[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), static_cast<A>(y[i])));
      });
    }
    return;
  }
  cpu::alloc_out(out);
  if (run_tiled<op, In, Out>(a, b, out)) return;
  Out* po = out.data<Out>();
  cpu::for_each_row<3>(out.shape(), {a.strides(), b.strides(), out.strides()},
                       [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& is) {
                         const In* x = pa + off[0];
                         const In* y = pb + off[1];
                         Out* o = po + off[2];
                         if (is[0] == 1 && is[1] == 1) {
                           for (int64_t i = 0; i < n; ++i) o[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), static_cast<A>(y[i])));
                         } else if (is[0] == 0 && is[1] == 1) {
                           A vx = static_cast<A>(x[0]);
                           for (int64_t i = 0; i < n; ++i) o[i] = cast_to<Out>(apply<op>(vx, static_cast<A>(y[i])));
                         } else if (is[0] == 1 && is[1] == 0) {
                           A vy = static_cast<A>(y[0]);
                           for (int64_t i = 0; i < n; ++i) o[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), vy));
                         } else {
                           for (int64_t i = 0; i < n; ++i)
                             o[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i * is[0]]), static_cast<A>(y[i * is[1]])));
                         }
                       });
}

// Output type rule and accepted inputs, shared by dispatch and the span kernels.
template <BinaryOp op>
struct BinaryRule {
  static constexpr bool to_bool = op == BinaryOp::Equal || op == BinaryOp::NaNEqual || op == BinaryOp::NotEqual ||
                                  op == BinaryOp::Less || op == BinaryOp::LessEqual || op == BinaryOp::Greater ||
                                  op == BinaryOp::GreaterEqual || op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr;
  static constexpr bool ints_only = op == BinaryOp::BitwiseAnd || op == BinaryOp::BitwiseOr ||
                                    op == BinaryOp::BitwiseXor || op == BinaryOp::LeftShift || op == BinaryOp::RightShift;
  static constexpr bool floats_only = op == BinaryOp::ArcTan2;
};

template <BinaryOp op>
void dispatch(const array& a, const array& b, array& out) {
  constexpr bool to_bool = BinaryRule<op>::to_bool;
  constexpr bool ints_only = BinaryRule<op>::ints_only;
  constexpr bool floats_only = BinaryRule<op>::floats_only;
  if constexpr (op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr) {
    run<op, bool, bool>(a, b, out);
  } else if constexpr (ints_only) {
    MLX_DISPATCH_INT(a.dtype(), { run<op, T, T>(a, b, out); });
  } else if constexpr (floats_only) {
    MLX_DISPATCH_FLOAT(a.dtype(), { run<op, T, T>(a, b, out); });
  } else {
    MLX_DISPATCH_ALL(a.dtype(), { run<op, T, std::conditional_t<to_bool, bool, T>>(a, b, out); });
  }
}

// ---- span kernels for the fused interpreter (see elementwise_kernels.h) ----

// The loops of run's contiguous paths on one span.
template <BinaryOp op, typename In, typename Out, cpu::SpanMode mode>
void binary_span_impl(const void* a, const void* b, void* out, size_t n) {
  using A = acc_t<In>;
  const In* x = static_cast<const In*>(a);
  const In* y = static_cast<const In*>(b);
  Out* d = static_cast<Out*>(out);
  if constexpr (mode == cpu::SpanMode::SV) {
    A va = static_cast<A>(x[0]);
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(apply<op>(va, static_cast<A>(y[i])));
  } else if constexpr (mode == cpu::SpanMode::VS) {
    A vb = static_cast<A>(y[0]);
    if constexpr (op == BinaryOp::Power && std::is_floating_point_v<A>) {
      if (vb == A(2) || vb == A(3)) {
        bool cube = vb == A(3);
        for (size_t i = 0; i < n; ++i) {
          A v = static_cast<A>(x[i]);
          d[i] = cast_to<Out>(cube ? v * v * v : v * v);
        }
        return;
      }
    }
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), vb));
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = cast_to<Out>(apply<op>(static_cast<A>(x[i]), static_cast<A>(y[i])));
  }
}

template <BinaryOp op, typename In, typename Out>
cpu::BinarySpanFn binary_span_of(cpu::SpanMode mode, Dtype* out_t) {
  *out_t = TypeToDtype<Out>::value;
  switch (mode) {
    case cpu::SpanMode::SV: return &binary_span_impl<op, In, Out, cpu::SpanMode::SV>;
    case cpu::SpanMode::VS: return &binary_span_impl<op, In, Out, cpu::SpanMode::VS>;
    default: return &binary_span_impl<op, In, Out, cpu::SpanMode::VV>;
  }
}

// The type rules of dispatch<op>, restricted to the covered dtypes.
template <BinaryOp op>
cpu::BinarySpanFn binary_span_op(Dtype in, cpu::SpanMode mode, Dtype* out_t) {
  using R = BinaryRule<op>;
  if constexpr (op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr) {
    return in == bool_ ? binary_span_of<op, bool, bool>(mode, out_t) : nullptr;
  } else if constexpr (R::ints_only) {
    if (in == bool_) return binary_span_of<op, bool, bool>(mode, out_t);
    if (in == int32) return binary_span_of<op, int32_t, int32_t>(mode, out_t);
    return nullptr;
  } else if constexpr (R::floats_only) {
    switch (in) {
      case float16: return binary_span_of<op, float16_t, float16_t>(mode, out_t);
      case bfloat16: return binary_span_of<op, bfloat16_t, bfloat16_t>(mode, out_t);
      case float32: return binary_span_of<op, float, float>(mode, out_t);
      default: return nullptr;
    }
  } else {
    switch (in) {
      case bool_: return binary_span_of<op, bool, bool>(mode, out_t);
      case int32: return binary_span_of<op, int32_t, std::conditional_t<R::to_bool, bool, int32_t>>(mode, out_t);
      case float16: return binary_span_of<op, float16_t, std::conditional_t<R::to_bool, bool, float16_t>>(mode, out_t);
      case bfloat16: return binary_span_of<op, bfloat16_t, std::conditional_t<R::to_bool, bool, bfloat16_t>>(mode, out_t);
      case float32: return binary_span_of<op, float, std::conditional_t<R::to_bool, bool, float>>(mode, out_t);
      default: return nullptr;
    }
  }
}

}  // namespace

void Binary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& b = inputs[1];
  auto& out = outputs[0];
  if (out.size() == 0) {
    cpu::alloc_out(out);
    return;
  }
  switch (op_) {
#define MLX_BINARY(C, n) \
  case BinaryOp::C:      \
    dispatch<BinaryOp::C>(a, b, out); \
    break;
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
  }
}

void DivMod::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<array> q{outputs[0]}, r{outputs[1]};
  Binary(stream(), BinaryOp::FloorDivide).eval_cpu(inputs, q);
  Binary(stream(), BinaryOp::Remainder).eval_cpu(inputs, r);
}

namespace {

// o[i] = c[i] ? x[i] : y[i] over n elements, with element strides (0 = one value). The mask
// is read as bytes: on bool loads the loops do not vectorize and branch on every element (a
// random mask mispredicts half of them); on bytes they compile to blends.
template <typename T>
void select_span(const bool* cb, int64_t sc, const T* x, int64_t sx, const T* y, int64_t sy, T* o, int64_t n) {
  const uint8_t* c = reinterpret_cast<const uint8_t*>(cb);
  if (sc == 1 && sx == 1 && sy == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
  } else if (sc == 1 && sx == 1 && sy == 0) {
    T vy = y[0];
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : vy;
  } else if (sc == 1 && sx == 0 && sy == 1) {
    T vx = x[0];
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? vx : y[i];
  } else if (sc == 1 && sx == 0 && sy == 0) {
    T vx = x[0], vy = y[0];
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? vx : vy;
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = c[i * sc] ? x[i * sx] : y[i * sy];
  }
}

}  // namespace

void Select::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& c = inputs[0];
  auto& x = inputs[1];
  auto& y = inputs[2];
  auto& out = outputs[0];
  cpu::alloc_out(out);
  if (out.size() == 0) return;
  const bool* pc = c.data<bool>();
  // Every input row-contiguous or a single value: one flat loop, split over the pool.
  auto flat = [](const array& a) -> int { return a.data_size() == 1 ? 0 : (a.flags().row_contiguous ? 1 : -1); };
  int fc = flat(c), fx = flat(x), fy = flat(y);
  MLX_DISPATCH_ALL(out.dtype(), {
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    if (fc >= 0 && fx >= 0 && fy >= 0) {
      cpu::parallel_for(out.size(), cpu::kElemGrain, [&](size_t b, size_t e) {
        select_span<T>(pc + b * fc, fc, px + b * fx, fx, py + b * fy, fy, po + b, static_cast<int64_t>(e - b));
      });
    } else {
      cpu::for_each_row<4>(out.shape(), {c.strides(), x.strides(), y.strides(), out.strides()},
                           [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& is) {
                             if (is[3] == 1) {
                               select_span<T>(pc + off[0], is[0], px + off[1], is[1], py + off[2], is[2], po + off[3], n);
                             } else {
                               for (int64_t i = 0; i < n; ++i)
                                 po[off[3] + i * is[3]] = pc[off[0] + i * is[0]] ? px[off[1] + i * is[1]] : py[off[2] + i * is[2]];
                             }
                           });
    }
  });
}

}  // namespace mlx::core

namespace mlx::core::cpu {

BinarySpanFn binary_span(BinaryOp op, Dtype in, SpanMode mode, Dtype* out_t) {
  switch (op) {
#define MLX_BINARY(C, n) \
  case BinaryOp::C:      \
    return binary_span_op<BinaryOp::C>(in, mode, out_t);
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
  }
  return nullptr;
}

}  // namespace mlx::core::cpu
