// Names, equivalence, and the vjp/jvp/vmap rules of every primitive.
#include <cmath>
#include <numeric>

#include "mlx/ops.h"
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// ---------- base class defaults ----------
void Primitive::eval_gpu(const std::vector<array>&, std::vector<array>&) {
  throw std::runtime_error(msg("[", name(), "] has no GPU kernel; got a gpu stream."));
}
std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw ValueError(msg("[", name(), "] the vjp is not implemented; got a gradient request."));
}
std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw ValueError(msg("[", name(), "] the jvp is not implemented; got a jvp request."));
}
std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&,
                                                                const std::vector<int>&) {
  throw ValueError(msg("[", name(), "] vmap is not implemented; got a vmap request."));
}

const char* unary_name(UnaryOp op) {
  switch (op) {
#define MLX_UNARY(C, n) case UnaryOp::C: return #C;
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
  }
  return "Unary";
}
const char* binary_name(BinaryOp op) {
  switch (op) {
#define MLX_BINARY(C, n) case BinaryOp::C: return #C;
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
  }
  return "Binary";
}

#define SAME_AS(CLS, ...)                                            \
  bool CLS::is_equivalent(const Primitive& o) const {                \
    auto* p = dynamic_cast<const CLS*>(&o);                          \
    return p && __VA_ARGS__;                                         \
  }
SAME_AS(Unary, p->op_ == op_)
SAME_AS(Binary, p->op_ == op_)
SAME_AS(AsType, p->dtype_ == dtype_)
SAME_AS(Arange, p->start_ == start_ && p->stop_ == stop_ && p->step_ == step_)
SAME_AS(Reduce, p->type_ == type_ && p->axes_ == axes_)
SAME_AS(ArgReduce, p->type_ == type_ && p->axis_ == axis_)
SAME_AS(Reshape, p->shape_ == shape_)
SAME_AS(Transpose, p->perm_ == perm_)
SAME_AS(Broadcast, p->shape_ == shape_)
SAME_AS(Slice, p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_)
SAME_AS(SliceUpdate, p->start_ == start_ && p->stop_ == stop_ && p->strides_ == strides_)
SAME_AS(AsStrided, p->shape_ == shape_ && p->strides_ == strides_ && p->offset_ == offset_)
SAME_AS(Concatenate, p->axis_ == axis_)
SAME_AS(Gather, p->axis_ == axis_)
SAME_AS(Scatter, p->axis_ == axis_ && p->mode_ == mode_)
SAME_AS(GatherAxis, p->axis_ == axis_)
SAME_AS(ScatterAxis, p->axis_ == axis_ && p->mode_ == mode_)
SAME_AS(Softmax, p->precise_ == precise_)
#undef SAME_AS

namespace {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

array scalar_like(double v, const array& x) { return astype(array(v), x.dtype()); }

// Moves every batch axis to 0; returns the batch size.
int to_front(Arrs& xs, const std::vector<int>& axes) {
  int B = -1;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (axes[i] >= 0) {
      xs[i] = moveaxis(xs[i], axes[i], 0);
      B = xs[i].shape(0);
    }
  }
  return B;
}

// Moves batch axes to 0 and gives unbatched inputs a broadcast batch axis.
int to_front_all(Arrs& xs, const std::vector<int>& axes) {
  int B = to_front(xs, axes);
  for (size_t i = 0; i < xs.size(); ++i) {
    if (axes[i] < 0) {
      Shape sh = xs[i].shape();
      sh.insert(sh.begin(), B);
      xs[i] = broadcast_to(expand_dims(xs[i], {0}), sh);
    }
  }
  return B;
}

// d(out)/d(in) for a unary op, or an invalid array when it is zero.
array unary_derivative(UnaryOp op, const array& x, const array& y) {
  switch (op) {
    case UnaryOp::Abs: return sign(x);
    case UnaryOp::Negative: return scalar_like(-1, x);
    case UnaryOp::Sqrt: return divide(scalar_like(0.5, y), y);
    case UnaryOp::Rsqrt: return multiply(scalar_like(-0.5, y), divide(y, x));
    case UnaryOp::Square: return multiply(scalar_like(2, x), x);
    case UnaryOp::Reciprocal: return negative(square(y));
    case UnaryOp::Exp: return y;
    case UnaryOp::Expm1: return add(y, scalar_like(1, y));
    case UnaryOp::Log: return reciprocal(x);
    case UnaryOp::Log1p: return reciprocal(add(x, scalar_like(1, x)));
    case UnaryOp::Log2: return reciprocal(multiply(x, scalar_like(M_LN2, x)));
    case UnaryOp::Log10: return reciprocal(multiply(x, scalar_like(M_LN10, x)));
    case UnaryOp::Sin: return cos(x);
    case UnaryOp::Cos: return negative(sin(x));
    case UnaryOp::Tan: return add(scalar_like(1, y), square(y));
    case UnaryOp::ArcSin: return rsqrt(subtract(scalar_like(1, x), square(x)));
    case UnaryOp::ArcCos: return negative(rsqrt(subtract(scalar_like(1, x), square(x))));
    case UnaryOp::ArcTan: return reciprocal(add(scalar_like(1, x), square(x)));
    case UnaryOp::Sinh: return cosh(x);
    case UnaryOp::Cosh: return sinh(x);
    case UnaryOp::Tanh: return subtract(scalar_like(1, y), square(y));
    case UnaryOp::ArcSinh: return rsqrt(add(square(x), scalar_like(1, x)));
    case UnaryOp::ArcCosh: return rsqrt(subtract(square(x), scalar_like(1, x)));
    case UnaryOp::ArcTanh: return reciprocal(subtract(scalar_like(1, x), square(x)));
    case UnaryOp::Erf: return multiply(scalar_like(M_2_SQRTPI, x), exp(negative(square(x))));
    case UnaryOp::ErfInv: return multiply(scalar_like(std::sqrt(M_PI) / 2, y), exp(square(y)));
    case UnaryOp::Sigmoid: return multiply(y, subtract(scalar_like(1, y), y));
    case UnaryOp::Copy: return scalar_like(1, x);
    default: return array();
  }
}

}  // namespace

// ---------- Unary ----------
std::vector<array> Unary::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  auto& g = ct[0];
  if (op_ == UnaryOp::Copy) return {g};
  if (op_ == UnaryOp::Conjugate) return {conjugate(g)};
  if (op_ == UnaryOp::Real) return {astype(g, complex64)};
  if (op_ == UnaryOp::Imag) return {multiply(astype(g, complex64), array(complex64_t(0, 1)))};
  array d = unary_derivative(op_, p[0], out[0]);
  if (!d.is_valid()) return {zeros_like(p[0])};
  if (is_complex(d.dtype()) && op_ != UnaryOp::Abs) d = conjugate(d);
  return {multiply(g, d)};
}
std::vector<array> Unary::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  if (op_ == UnaryOp::Copy) return {t[0]};
  if (op_ == UnaryOp::Conjugate) return {conjugate(t[0])};
  if (op_ == UnaryOp::Real) return {real(t[0])};
  if (op_ == UnaryOp::Imag) return {imag(t[0])};
  // |z| of complex z is real (float32): d|z| = Re(conj(z / |z|) dz).
  if (op_ == UnaryOp::Abs && is_complex(p[0].dtype())) return {real(multiply(conjugate(sign(p[0])), t[0]))};
  array y = array(p[0].shape(), p[0].dtype() == bool_ ? bool_ : p[0].dtype(),
                  std::make_shared<Unary>(stream(), op_), {p[0]});
  if (op_ == UnaryOp::IsNan || op_ == UnaryOp::IsInf || op_ == UnaryOp::IsPosInf ||
      op_ == UnaryOp::IsNegInf || op_ == UnaryOp::LogicalNot)
    return {zeros(p[0].shape(), bool_)};
  array d = unary_derivative(op_, p[0], y);
  if (!d.is_valid()) return {zeros_like(p[0])};
  return {multiply(t[0], d)};
}
VmapOut Unary::vmap(const Arrs& in, const std::vector<int>& axes) {
  return {{unary(op_, in[0], stream())}, {axes[0]}};
}

// ---------- Binary ----------
std::vector<array> Binary::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs& out) {
  auto& a = p[0];
  auto& b = p[1];
  auto& g = ct[0];
  Arrs res;
  for (int arg : argnums) {
    bool first = arg == 0;
    switch (op_) {
      case BinaryOp::Add: res.push_back(g); break;
      case BinaryOp::Subtract: res.push_back(first ? g : negative(g)); break;
      // Complex inputs use the conjugate convention: d(a*b)/da applied to g is g * conj(b).
      case BinaryOp::Multiply: res.push_back(multiply(g, conjugate(first ? b : a))); break;
      case BinaryOp::Divide:
        res.push_back(first ? divide(g, conjugate(b))
                            : negative(divide(multiply(g, conjugate(out[0])), conjugate(b))));
        break;
      case BinaryOp::Maximum:
      case BinaryOp::Minimum: {
        array mask = op_ == BinaryOp::Maximum ? greater_equal(a, b) : less_equal(a, b);
        if (!first) mask = logical_not(mask);
        res.push_back(where(mask, g, scalar_like(0, g)));
        break;
      }
      case BinaryOp::Power:
        if (first) {
          res.push_back(multiply(g, multiply(b, power(a, subtract(b, scalar_like(1, b))))));
        } else {
          array la = where(greater(a, scalar_like(0, a)), log(a), scalar_like(0, a));
          res.push_back(multiply(g, multiply(out[0], la)));
        }
        break;
      case BinaryOp::Remainder:
        res.push_back(first ? g : negative(multiply(g, floor_divide(a, b))));
        break;
      case BinaryOp::ArcTan2: {
        array den = add(square(a), square(b));
        res.push_back(first ? divide(multiply(g, b), den) : negative(divide(multiply(g, a), den)));
        break;
      }
      case BinaryOp::LogAddExp:
        res.push_back(multiply(g, sigmoid(first ? subtract(a, b) : subtract(b, a))));
        break;
      default:
        res.push_back(zeros_like(first ? a : b));
    }
  }
  return res;
}
std::vector<array> Binary::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  // jvp = sum over argnums of (d out / d arg) * tangent; reuse the vjp with the tangent as cotangent
  // for ops whose derivative is elementwise.
  array out = binary(op_, p[0], p[1], stream());
  array acc;
  for (size_t i = 0; i < argnums.size(); ++i) {
    auto r = vjp(p, {t[i]}, {argnums[i]}, {out});
    acc = acc.is_valid() ? add(acc, r[0]) : r[0];
  }
  return {acc};
}
VmapOut Binary::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {{binary(op_, x[0], x[1], stream())}, {0}};
}

// ---------- DivMod ----------
std::vector<array> DivMod::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  for (int arg : argnums)
    res.push_back(arg == 0 ? ct[1] : negative(multiply(ct[1], floor_divide(p[0], p[1]))));
  return res;
}
std::vector<array> DivMod::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array r = zeros_like(p[0]);
  for (size_t i = 0; i < argnums.size(); ++i)
    r = add(r, argnums[i] == 0 ? t[i] : negative(multiply(t[i], floor_divide(p[0], p[1]))));
  return {zeros_like(p[0]), r};
}
VmapOut DivMod::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {divmod(x[0], x[1], stream()), {0, 0}};
}

// ---------- Select ----------
std::vector<array> Select::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  auto z = zeros_like(ct[0]);
  for (int arg : argnums) {
    if (arg == 0) res.push_back(zeros_like(p[0]));
    else if (arg == 1) res.push_back(where(p[0], ct[0], z));
    else res.push_back(where(p[0], z, ct[0]));
  }
  return res;
}
std::vector<array> Select::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array tx = zeros_like(p[1]), ty = zeros_like(p[2]);
  for (size_t i = 0; i < argnums.size(); ++i) {
    if (argnums[i] == 1) tx = t[i];
    if (argnums[i] == 2) ty = t[i];
  }
  return {where(p[0], tx, ty)};
}
VmapOut Select::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {{where(x[0], x[1], x[2], stream())}, {0}};
}

// ---------- AsType ----------
std::vector<array> AsType::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  if (!is_inexact(p[0].dtype())) return {zeros_like(p[0])};
  return {astype(ct[0], p[0].dtype())};
}
std::vector<array> AsType::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {astype(t[0], dtype_)};
}
VmapOut AsType::vmap(const Arrs& in, const std::vector<int>& axes) {
  return {{astype(in[0], dtype_, stream())}, {axes[0]}};
}

// ---------- Arange (no inputs) ----------
std::vector<array> Arange::vjp(const Arrs&, const Arrs&, const std::vector<int>&, const Arrs&) { return {}; }
std::vector<array> Arange::jvp(const Arrs&, const Arrs&, const std::vector<int>&) { return {}; }
VmapOut Arange::vmap(const Arrs&, const std::vector<int>&) {
  throw ValueError("[Arange] has no inputs to vmap over; got a vmap request.");
}

// ---------- Reduce ----------
std::vector<array> Reduce::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  auto& x = p[0];
  auto& g = ct[0];  // keepdims shape
  switch (type_) {
    case ReduceType::Sum: return {broadcast_to(g, x.shape())};
    case ReduceType::Prod: return {divide(multiply(broadcast_to(g, x.shape()), out[0]), x)};
    case ReduceType::Max:
    case ReduceType::Min: {
      array mask = astype(equal(x, out[0]), g.dtype());
      array cnt = sum(mask, axes_, true);
      return {multiply(broadcast_to(divide(g, cnt), x.shape()), mask)};
    }
    default: return {zeros_like(x)};
  }
}
std::vector<array> Reduce::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  auto& x = p[0];
  switch (type_) {
    case ReduceType::Sum: return {sum(t[0], axes_, true)};
    case ReduceType::Max:
    case ReduceType::Min: {
      array out = type_ == ReduceType::Max ? max(x, axes_, true) : min(x, axes_, true);
      array mask = astype(equal(x, out), t[0].dtype());
      return {divide(sum(multiply(mask, t[0]), axes_, true), sum(mask, axes_, true))};
    }
    case ReduceType::Prod: {
      array out = prod(x, axes_, true);
      return {sum(multiply(divide(out, x), t[0]), axes_, true)};
    }
    default: return {zeros(sum(x, axes_, true).shape(), bool_)};
  }
}
VmapOut Reduce::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front(x, axes);
  std::vector<int> ax;
  for (int a : axes_) ax.push_back(a + 1);
  Shape sh = x[0].shape();
  for (int a : ax) sh[a] = 1;
  return {{array(sh, x[0].dtype(), std::make_shared<Reduce>(stream(), type_, ax), {x[0]})}, {0}};
}

// ---------- ArgReduce ----------
std::vector<array> ArgReduce::vjp(const Arrs& p, const Arrs&, const std::vector<int>&, const Arrs&) {
  return {zeros_like(p[0])};
}
std::vector<array> ArgReduce::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) {
  Shape sh = p[0].shape();
  sh[axis_] = 1;
  return {zeros(sh, uint32)};
}
VmapOut ArgReduce::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front(x, axes);
  Shape sh = x[0].shape();
  sh[axis_ + 1] = 1;
  return {{array(sh, uint32, std::make_shared<ArgReduce>(stream(), type_, axis_ + 1), {x[0]})}, {0}};
}

// ---------- Matmul ----------
std::vector<array> Matmul::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) res.push_back(matmul(ct[0], conjugate(swapaxes(p[1], -1, -2))));
    else res.push_back(matmul(conjugate(swapaxes(p[0], -1, -2)), ct[0]));
  }
  return res;
}
std::vector<array> Matmul::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array acc;
  for (size_t i = 0; i < argnums.size(); ++i) {
    array r = argnums[i] == 0 ? matmul(t[i], p[1]) : matmul(p[0], t[i]);
    acc = acc.is_valid() ? add(acc, r) : r;
  }
  return {acc};
}
VmapOut Matmul::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front(x, axes);
  // An unbatched operand broadcasts over the batch axis.
  for (size_t i = 0; i < 2; ++i)
    if (axes[i] < 0) x[i] = expand_dims(x[i], {0});
  return {{matmul(x[0], x[1], stream())}, {0}};
}

// ---------- Reshape ----------
std::vector<array> Reshape::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  return {reshape(ct[0], p[0].shape())};
}
std::vector<array> Reshape::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {reshape(t[0], shape_)};
}
VmapOut Reshape::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = to_front(x, axes);
  Shape sh = shape_;
  sh.insert(sh.begin(), B);
  return {{reshape(x[0], sh, stream())}, {0}};
}

// ---------- Transpose ----------
std::vector<array> Transpose::vjp(const Arrs&, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  std::vector<int> inv(perm_.size());
  for (size_t i = 0; i < perm_.size(); ++i) inv[perm_[i]] = static_cast<int>(i);
  return {transpose(ct[0], inv)};
}
std::vector<array> Transpose::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {transpose(t[0], perm_)};
}
VmapOut Transpose::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front(x, axes);
  std::vector<int> perm{0};
  for (int p : perm_) perm.push_back(p + 1);
  return {{transpose(x[0], perm, stream())}, {0}};
}

// ---------- Broadcast ----------
std::vector<array> Broadcast::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  auto& x = p[0];
  int diff = static_cast<int>(shape_.size() - x.ndim());
  std::vector<int> red;
  for (int i = 0; i < static_cast<int>(shape_.size()); ++i)
    if (i < diff || (x.shape(i - diff) == 1 && shape_[i] != 1)) red.push_back(i);
  array g = red.empty() ? ct[0] : sum(ct[0], red, true);
  return {reshape(g, x.shape())};
}
std::vector<array> Broadcast::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {broadcast_to(t[0], shape_)};
}
VmapOut Broadcast::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = to_front(x, axes);
  int diff = static_cast<int>(shape_.size() - (x[0].ndim() - 1));
  Shape sh = x[0].shape();
  sh.insert(sh.begin() + 1, diff, 1);
  Shape target = shape_;
  target.insert(target.begin(), B);
  return {{broadcast_to(reshape(x[0], sh), target, stream())}, {0}};
}

// ---------- Slice ----------
std::vector<array> Slice::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  return {slice_update(zeros_like(p[0]), ct[0], start_, stop_, strides_)};
}
std::vector<array> Slice::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {slice(t[0], start_, stop_, strides_)};
}
VmapOut Slice::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = to_front(x, axes);
  Shape st = start_, sp = stop_, str = strides_;
  st.insert(st.begin(), 0);
  sp.insert(sp.begin(), B);
  str.insert(str.begin(), 1);
  return {{slice(x[0], st, sp, str, stream())}, {0}};
}

// ---------- SliceUpdate ----------
std::vector<array> SliceUpdate::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) res.push_back(slice_update(ct[0], zeros_like(p[1]), start_, stop_, strides_));
    else res.push_back(slice(ct[0], start_, stop_, strides_));
  }
  return res;
}
std::vector<array> SliceUpdate::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array ts = zeros_like(p[0]), tu = zeros_like(p[1]);
  for (size_t i = 0; i < argnums.size(); ++i) (argnums[i] == 0 ? ts : tu) = t[i];
  return {slice_update(ts, tu, start_, stop_, strides_)};
}
VmapOut SliceUpdate::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = to_front_all(x, axes);
  Shape st = start_, sp = stop_, str = strides_;
  st.insert(st.begin(), 0);
  sp.insert(sp.begin(), B);
  str.insert(str.begin(), 1);
  return {{slice_update(contiguous(x[0]), x[1], st, sp, str, stream())}, {0}};
}

// ---------- AsStrided ----------
std::vector<array> AsStrided::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  auto& x = p[0];
  int n = static_cast<int>(x.size());
  array idx = as_strided(arange(0, n, 1, int32), shape_, strides_, offset_);
  array flat = scatter(zeros({n}, ct[0].dtype()), reshape(idx, {-1}), reshape(ct[0], {-1}), 0, ScatterMode::Add);
  return {reshape(flat, x.shape())};
}
std::vector<array> AsStrided::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {as_strided(t[0], shape_, strides_, offset_)};
}
VmapOut AsStrided::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = to_front(x, axes);
  array c = contiguous(x[0]);
  int64_t per = static_cast<int64_t>(c.size() / std::max(B, 1));
  Shape sh = shape_;
  sh.insert(sh.begin(), B);
  Strides st = strides_;
  st.insert(st.begin(), per);
  return {{as_strided(c, sh, st, offset_, stream())}, {0}};
}

// ---------- Concatenate ----------
std::vector<array> Concatenate::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  std::vector<int> starts{0};
  for (auto& x : p) starts.push_back(starts.back() + x.shape(axis_));
  Arrs res;
  for (int arg : argnums) {
    Shape st(ct[0].ndim(), 0), sp = ct[0].shape(), str(ct[0].ndim(), 1);
    st[axis_] = starts[arg];
    sp[axis_] = starts[arg + 1];
    res.push_back(slice(ct[0], st, sp, str));
  }
  return res;
}
std::vector<array> Concatenate::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  Arrs ts;
  for (auto& x : p) ts.push_back(zeros_like(x));
  for (size_t i = 0; i < argnums.size(); ++i) ts[argnums[i]] = t[i];
  return {concatenate(ts, axis_)};
}
VmapOut Concatenate::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {{concatenate(x, axis_ + 1, stream())}, {0}};
}

// ---------- Gather (take) ----------
std::vector<array> Gather::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) res.push_back(scatter(zeros_like(p[0]), p[1], ct[0], axis_, ScatterMode::Add));
    else res.push_back(zeros_like(p[1]));
  }
  return res;
}
std::vector<array> Gather::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  for (size_t i = 0; i < argnums.size(); ++i)
    if (argnums[i] == 0) return {take(t[i], p[1], axis_)};
  return {zeros(take(p[0], p[1], axis_).shape(), p[0].dtype())};
}
VmapOut Gather::vmap(const Arrs& in, const std::vector<int>& axes) {
  if (axes[1] >= 0) return Primitive::vmap(in, axes);
  Arrs x = in;
  to_front(x, axes);
  return {{take(x[0], x[1], axis_ + 1, stream())}, {0}};
}

// ---------- Scatter ----------
std::vector<array> Scatter::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  if (mode_ != ScatterMode::None && mode_ != ScatterMode::Add)
    throw ValueError("[Scatter] the vjp is only implemented for assignment and add; got a product/max/min scatter.");
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) {
      res.push_back(mode_ == ScatterMode::Add ? ct[0] : scatter(ct[0], p[1], zeros_like(p[2]), axis_, ScatterMode::None));
    } else if (arg == 2) {
      res.push_back(take(ct[0], p[1], axis_));
    } else {
      res.push_back(zeros_like(p[1]));
    }
  }
  return res;
}
std::vector<array> Scatter::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array ta = zeros_like(p[0]), tu = zeros_like(p[2]);
  for (size_t i = 0; i < argnums.size(); ++i) {
    if (argnums[i] == 0) ta = t[i];
    if (argnums[i] == 2) tu = t[i];
  }
  return {scatter(ta, p[1], tu, axis_, mode_ == ScatterMode::Add ? ScatterMode::Add : ScatterMode::None)};
}
VmapOut Scatter::vmap(const Arrs& in, const std::vector<int>& axes) { return Primitive::vmap(in, axes); }

// ---------- GatherAxis / ScatterAxis ----------
std::vector<array> GatherAxis::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) res.push_back(scatter_axis(zeros_like(p[0]), p[1], ct[0], axis_, ScatterMode::Add));
    else res.push_back(zeros_like(p[1]));
  }
  return res;
}
std::vector<array> GatherAxis::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  for (size_t i = 0; i < argnums.size(); ++i)
    if (argnums[i] == 0) return {take_along_axis(t[i], p[1], axis_)};
  return {zeros(p[1].shape(), p[0].dtype())};
}
VmapOut GatherAxis::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {{take_along_axis(x[0], x[1], axis_ + 1, stream())}, {0}};
}

std::vector<array> ScatterAxis::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  if (mode_ != ScatterMode::None && mode_ != ScatterMode::Add)
    throw ValueError("[ScatterAxis] the vjp is only implemented for assignment and add; got another mode.");
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) {
      res.push_back(mode_ == ScatterMode::Add ? ct[0] : scatter_axis(ct[0], p[1], zeros_like(p[2]), axis_, ScatterMode::None));
    } else if (arg == 2) {
      res.push_back(take_along_axis(ct[0], p[1], axis_));
    } else {
      res.push_back(zeros_like(p[1]));
    }
  }
  return res;
}
std::vector<array> ScatterAxis::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array ta = zeros_like(p[0]), tu = zeros_like(p[2]);
  for (size_t i = 0; i < argnums.size(); ++i) {
    if (argnums[i] == 0) ta = t[i];
    if (argnums[i] == 2) tu = t[i];
  }
  return {scatter_axis(ta, p[1], tu, axis_, mode_ == ScatterMode::Add ? ScatterMode::Add : ScatterMode::None)};
}
VmapOut ScatterAxis::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  to_front_all(x, axes);
  return {{scatter_axis(contiguous(x[0]), x[1], x[2], axis_ + 1, mode_, stream())}, {0}};
}

// ---------- Softmax ----------
std::vector<array> Softmax::vjp(const Arrs&, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  auto& y = out[0];
  auto& g = ct[0];
  return {multiply(y, subtract(g, sum(multiply(g, y), {-1}, true)))};
}
std::vector<array> Softmax::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  array y = softmax(p[0], {-1}, precise_);
  return {multiply(y, subtract(t[0], sum(multiply(t[0], y), {-1}, true)))};
}
VmapOut Softmax::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int last = static_cast<int>(x[0].ndim()) - 1;
  if (axes[0] == last) {
    x[0] = moveaxis(x[0], last, 0);
    return {{softmax(x[0], {-1}, precise_, stream())}, {0}};
  }
  return {{softmax(x[0], {-1}, precise_, stream())}, {axes[0]}};
}

}  // namespace mlx::core
