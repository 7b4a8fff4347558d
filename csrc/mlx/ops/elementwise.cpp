// Elementwise ops: dtype rules, broadcasting and node construction.
#include <cmath>
#include <limits>

#include "mlx/ops.h"
#include "mlx/transforms.h"

namespace mlx::core {

namespace {

enum class Rule { Same, Float, Bool, Int, RealOnly, ComplexToReal };

// The Python name of an op (as in error messages: "[floor] ...").
const char* op_name(UnaryOp op) {
  switch (op) {
#define MLX_UNARY(C, n) case UnaryOp::C: return #n;
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
  }
  return "unary";
}
const char* op_name(BinaryOp op) {
  switch (op) {
#define MLX_BINARY(C, n) case BinaryOp::C: return #n;
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
  }
  return "binary";
}

Rule unary_rule(UnaryOp op) {
  switch (op) {
    case UnaryOp::Sqrt: case UnaryOp::Rsqrt: case UnaryOp::Exp:
    case UnaryOp::Log: case UnaryOp::Log1p: case UnaryOp::Log2: case UnaryOp::Log10:
    case UnaryOp::Sin: case UnaryOp::Cos: case UnaryOp::Tan: case UnaryOp::ArcSin:
    case UnaryOp::ArcCos: case UnaryOp::ArcTan: case UnaryOp::Sinh: case UnaryOp::Cosh:
    case UnaryOp::Tanh: case UnaryOp::ArcSinh: case UnaryOp::ArcCosh: case UnaryOp::ArcTanh:
    case UnaryOp::Reciprocal:
      return Rule::Float;
    case UnaryOp::Erf: case UnaryOp::ErfInv: case UnaryOp::Sigmoid: case UnaryOp::Expm1:
      return Rule::RealOnly;
    case UnaryOp::LogicalNot: case UnaryOp::IsNan: case UnaryOp::IsInf:
    case UnaryOp::IsPosInf: case UnaryOp::IsNegInf:
      return Rule::Bool;
    case UnaryOp::BitwiseInvert:
      return Rule::Int;
    case UnaryOp::Real: case UnaryOp::Imag:
      return Rule::ComplexToReal;
    default:
      return Rule::Same;
  }
}

array make_unary(UnaryOp op, const array& a, Dtype out, SD s) {
  std::vector<array> ins;
  ins.reserve(1);
  ins.push_back(a);
  return array(a.shape(), out, std::allocate_shared<Unary>(detail::PoolAllocator<Unary>(), to_stream(s), op),
               std::move(ins));
}

}  // namespace

array unary(UnaryOp op, const array& a, SD s) {
  const char* name = op_name(op);
  Dtype t = a.dtype();
  switch (unary_rule(op)) {
    case Rule::Float: {
      Dtype o = float_of(t);
      return make_unary(op, t == o ? a : astype(a, o, s), o, s);
    }
    case Rule::RealOnly: {
      if (is_complex(t)) throw ValueError(msg("[", name, "] complex inputs are not supported; got dtype=", t, "."));
      Dtype o = float_of(t);
      return make_unary(op, t == o ? a : astype(a, o, s), o, s);
    }
    case Rule::Bool:
      if (op == UnaryOp::LogicalNot) {
        return make_unary(op, t == bool_ ? a : astype(a, bool_, s), bool_, s);
      }
      if (!is_inexact(t)) return full(a.shape(), array(false), bool_, s);
      return make_unary(op, a, bool_, s);
    case Rule::Int:
      if (!is_integral(t) && t != bool_)
        throw ValueError(msg("[", name, "] requires an integer or boolean array; got dtype=", t, "."));
      return make_unary(op, a, t, s);
    case Rule::ComplexToReal:
      if (!is_complex(t)) {
        if (op == UnaryOp::Real) return a;
        return zeros_like(a, s);
      }
      return make_unary(op, a, float32, s);
    case Rule::Same:
      if (op == UnaryOp::Negative && t == bool_)
        throw ValueError("[negative] the negative op is not supported for boolean arrays; got dtype=bool.");
      if ((op == UnaryOp::Floor || op == UnaryOp::Ceil) && is_complex(t))
        throw ValueError(msg("[", name, "] complex inputs are not supported; got dtype=", t, "."));
      if ((op == UnaryOp::Floor || op == UnaryOp::Ceil || op == UnaryOp::Round) && !is_inexact(t))
        return a;
      if (op == UnaryOp::Conjugate && !is_complex(t)) return a;
      if (op == UnaryOp::Abs && (t == bool_ || is_unsigned(t))) return a;
      if (op == UnaryOp::Abs && is_complex(t)) return make_unary(op, a, float32, s);
      return make_unary(op, a, t, s);
  }
  return a;
}

#define MLX_UNARY(C, n) \
  array n(const array& a, SD s) { return unary(UnaryOp::C, a, s); }
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY

namespace {
std::pair<array, array> broadcast_pair(const array& a, const array& b, const char* name, SD s) {
  if (a.shape() == b.shape()) return {a, b};
  Shape sh = broadcast_shapes(a.shape(), b.shape(), name);
  return {broadcast_to(a, sh, s), broadcast_to(b, sh, s)};
}

bool is_comparison(BinaryOp op) {
  switch (op) {
    case BinaryOp::Equal: case BinaryOp::NaNEqual: case BinaryOp::NotEqual: case BinaryOp::Less:
    case BinaryOp::LessEqual: case BinaryOp::Greater: case BinaryOp::GreaterEqual:
      return true;
    default:
      return false;
  }
}
}  // namespace

array binary(BinaryOp op, const array& a_in, const array& b_in, SD s) {
  const char* name = op_name(op);
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  Dtype out = t;
  switch (op) {
    case BinaryOp::Divide: case BinaryOp::ArcTan2: case BinaryOp::LogAddExp:
      t = out = float_of(t);
      if (op == BinaryOp::ArcTan2 && is_complex(t))
        throw ValueError(msg("[", name, "] complex inputs are not supported; got dtype=", t, "."));
      break;
    case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      t = out = bool_;
      break;
    case BinaryOp::BitwiseAnd: case BinaryOp::BitwiseOr: case BinaryOp::BitwiseXor:
    case BinaryOp::LeftShift: case BinaryOp::RightShift:
      if (!is_integral(t) && t != bool_)
        throw std::runtime_error(msg("[", name, "] requires integer or boolean arrays; got dtypes ",
                             a_in.dtype(), " and ", b_in.dtype(), "."));
      if ((op == BinaryOp::LeftShift || op == BinaryOp::RightShift) && t == bool_) t = out = uint8;
      break;
    case BinaryOp::Remainder: case BinaryOp::FloorDivide:
      if (is_complex(t) && op == BinaryOp::Remainder)
        throw ValueError(msg("[", name, "] complex inputs are not supported; got dtype=", t, "."));
      if (t == bool_) {
        // As MLX, on integers (x // 0 == 0, x % 0 == x), cast back to bool.
        array r = binary(op, astype(a_in, uint8, s), astype(b_in, uint8, s), s);
        return astype(r, bool_, s);
      }
      break;
    default:
      if (is_comparison(op)) out = bool_;
      break;
  }
  auto make = [&](const array& x, const array& y) {
    std::vector<array> ins;
    ins.reserve(2);
    ins.push_back(x);
    ins.push_back(y);
    return array(x.shape(), out, std::allocate_shared<Binary>(detail::PoolAllocator<Binary>(), to_stream(s), op),
                 std::move(ins));
  };
  // The common case (same dtype and shape) without intermediate handles.
  if (a_in.dtype() == t && b_in.dtype() == t && a_in.shape() == b_in.shape()) return make(a_in, b_in);
  array a = a_in.dtype() == t ? a_in : astype(a_in, t, s);
  array b = b_in.dtype() == t ? b_in : astype(b_in, t, s);
  auto [ab, bb] = broadcast_pair(a, b, name, s);
  return make(ab, bb);
}

#define MLX_BINARY(C, n) \
  array n(const array& a, const array& b, SD s) { return binary(BinaryOp::C, a, b, s); }
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY

std::vector<array> divmod(const array& a_in, const array& b_in, SD s) {
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (is_complex(t)) throw ValueError("[divmod] complex inputs are not supported; got dtype=complex64.");
  if (t == bool_) {
    auto r = divmod(astype(a_in, uint8, s), astype(b_in, uint8, s), s);
    return {astype(r[0], bool_, s), astype(r[1], bool_, s)};
  }
  array a = a_in.dtype() == t ? a_in : astype(a_in, t, s);
  array b = b_in.dtype() == t ? b_in : astype(b_in, t, s);
  auto [ab, bb] = broadcast_pair(a, b, "divmod", s);
  return array::make_arrays({ab.shape(), ab.shape()}, {t, t}, std::make_shared<DivMod>(to_stream(s)),
                            {ab, bb});
}

array where(const array& c, const array& x, const array& y, SD s) {
  Dtype t = promote_types(x.dtype(), y.dtype());
  Shape sh = broadcast_shapes(broadcast_shapes(c.shape(), x.shape(), "where"), y.shape(), "where");
  array cc = c.dtype() == bool_ ? c : astype(c, bool_, s);
  array xx = x.dtype() == t ? x : astype(x, t, s);
  array yy = y.dtype() == t ? y : astype(y, t, s);
  return array(sh, t, std::make_shared<Select>(to_stream(s)),
               {broadcast_to(cc, sh, s), broadcast_to(xx, sh, s), broadcast_to(yy, sh, s)});
}

array astype(array a, Dtype dtype, SD s) {
  if (a.dtype() == dtype) return a;
  // A float64 constant scalar (the ops make these from C++ doubles) is converted now, not by
  // a node: GPU streams have no float64 kernels, and one node fewer is cheaper anyway.
  // (A node of a pending background evaluation is waited for before its state is read.)
  if (a.dtype() == float64 && a.ndim() == 0 && !is_complex(dtype)) {
    detail::wait_async_for(a);
    if (!a.has_primitive() && a.is_available() && !a.is_tracer()) return array(a.item<double>(), dtype);
  }
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s), dtype), {a});
}

array isfinite(const array& a, SD s) {
  if (!is_inexact(a.dtype())) return full(a.shape(), array(true), bool_, s);
  return logical_not(logical_or(isnan(a, s), isinf(a, s), s), s);
}

array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi, SD s) {
  if (!lo && !hi) throw ValueError("[clip] at least one of a_min and a_max must be given; got both None.");
  array r = a;
  if (lo) r = maximum(r, *lo, s);
  if (hi) r = minimum(r, *hi, s);
  return r;
}

array nan_to_num(const array& a, float nan, std::optional<float> posinf,
                 std::optional<float> neginf, SD s) {
  Dtype t = a.dtype();
  if (!is_floating_point(t)) {
    if (is_complex(t)) throw ValueError("[nan_to_num] complex inputs are not supported; got dtype=complex64.");
    return a;
  }
  double big, small;
  switch (t) {
    case float16: big = 65504.0; break;
    case bfloat16: big = 3.3895313892515355e38; break;
    case float64: big = std::numeric_limits<double>::max(); break;
    default: big = std::numeric_limits<float>::max(); break;
  }
  small = -big;
  array r = where(isnan(a, s), astype(array(nan), t, s), a, s);
  r = where(isposinf(a, s), astype(array(posinf ? double(*posinf) : big), t, s), r, s);
  r = where(isneginf(a, s), astype(array(neginf ? double(*neginf) : small), t, s), r, s);
  return r;
}

array degrees(const array& a, SD s) {
  Dtype t = float_of(a.dtype());
  return multiply(astype(a, t, s), astype(array(180.0 / M_PI), t, s), s);
}
array radians(const array& a, SD s) {
  Dtype t = float_of(a.dtype());
  return multiply(astype(a, t, s), astype(array(M_PI / 180.0), t, s), s);
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, SD s) {
  Dtype t = float_of(promote_types(a.dtype(), b.dtype()));
  array aa = astype(a, t, s), bb = astype(b, t, s);
  array diff = abs(subtract(aa, bb, s), s);
  array tol = add(astype(array(atol), t, s), multiply(astype(array(rtol), t, s), abs(bb, s), s), s);
  array close = less_equal(diff, tol, s);
  // Infinite values are close only to the same infinity.
  array both_inf = logical_or(isinf(aa, s), isinf(bb, s), s);
  close = where(both_inf, equal(aa, bb, s), close, s);
  if (equal_nan) close = logical_or(close, logical_and(isnan(aa, s), isnan(bb, s), s), s);
  return close;
}

array allclose_arr(const array& a, const array& b, double rtol, double atol, bool equal_nan, SD s) {
  array c = isclose(a, b, rtol, atol, equal_nan, s);
  return all(c, all_axes(c), false, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, SD s) {
  if (a.shape() != b.shape()) return array(false);
  Dtype t = promote_types(a.dtype(), b.dtype());
  array aa = astype(a, t, s), bb = astype(b, t, s);
  array e = (equal_nan && is_inexact(t)) ? nan_equal(aa, bb, s) : equal(aa, bb, s);
  return all(e, all_axes(e), false, s);
}

}  // namespace mlx::core
