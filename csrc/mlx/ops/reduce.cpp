// Reductions, softmax and matmul.
#include <numeric>

#include "mlx/ops.h"
#include "mlx/primitives/number_of_elements.h"

namespace mlx::core {

namespace {

array reduce(const array& a, std::vector<int> axes, bool keepdims, ReduceType t, Dtype out,
             const char* name, SD s) {
  axes = normalize_axes(axes, static_cast<int>(a.ndim()), name);
  std::sort(axes.begin(), axes.end());
  // As MLX, a sum or product over no axes returns the input unchanged (same dtype).
  if (axes.empty() && (t == ReduceType::Sum || t == ReduceType::Prod)) return a;
  array in = a.dtype() == out ? a : astype(a, out, s);
  if (axes.empty()) return in;
  Shape sh = a.shape();
  for (int ax : axes) sh[ax] = 1;
  if ((t == ReduceType::Max || t == ReduceType::Min)) {
    for (int ax : axes)
      if (a.shape(ax) == 0)
        throw ValueError(msg("[", name, "] cannot reduce over an axis of size zero; got shape=", a.shape(), "."));
  }
  array r(sh, out, std::make_shared<Reduce>(to_stream(s), t, axes), {in});
  if (!keepdims) r = squeeze(r, axes, s);
  return r;
}

// sum / prod accumulate bool and integers narrower than 32 bits in 32 bits (MLX).
Dtype sum_type(Dtype t) {
  switch (t) {
    case bool_: case int8: case int16: return int32;
    case uint8: case uint16: return uint32;
    default: return t;
  }
}

}  // namespace

array sum(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::Sum, sum_type(a.dtype()), "sum", s);
}
array prod(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::Prod, sum_type(a.dtype()), "prod", s);
}
array max(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::Max, a.dtype(), "max", s);
}
array min(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::Min, a.dtype(), "min", s);
}
array all(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::And, bool_, "all", s);
}
array any(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return reduce(a, axes, keepdims, ReduceType::Or, bool_, "any", s);
}

array mean(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "mean");
  Dtype t = float_of(a.dtype());
  array sm = sum(astype(a, t, s), ax, keepdims, s);
  // 1/n read from a's shape at eval time (right for shapeless compile/export on new shapes);
  // over an empty axis it is NaN.
  return multiply(sm, number_of_elements(a, ax, true, 0, t, s), s);
}

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, SD s) {
  // As MLX, axis errors name the inner mean.
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "mean");
  Dtype t = float_of(a.dtype());
  array x = astype(a, t, s);
  // mean(x) inline, so that with ddof == 0 one count node serves both divisions (each such node
  // adds a zero term to the input's gradient).
  array inv_n = number_of_elements(a, ax, true, 0, t, s);
  array mu = multiply(sum(x, ax, true, s), inv_n, s);
  array d = subtract(x, mu, s);
  array sq = is_complex(t) ? real(multiply(d, conjugate(d, s), s), s) : square(d, s);
  array sm = sum(sq, ax, keepdims, s);
  // 1/(n - ddof) from a's shape at eval time; as MLX, ddof >= n divides by zero (inf).
  if (ddof == 0 && sm.dtype() == t) return multiply(sm, inv_n, s);
  return multiply(sm, number_of_elements(a, ax, true, ddof, sm.dtype(), s), s);
}

array std_dev(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, SD s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}

array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "logsumexp");
  if (a.size() == 0)
    throw ValueError(msg("[logsumexp] cannot reduce a zero-size array; got shape=", a.shape(), "."));
  Dtype t = float_of(a.dtype());
  array x = astype(a, t, s);
  array m = stop_gradient(max(x, ax, true, s), s);
  m = where(isinf(m, s), zeros({}, t, s), m, s);
  array r = add(log(sum(exp(subtract(x, m, s), s), ax, true, s), s), m, s);
  if (!keepdims) r = squeeze(r, ax, s);
  return r;
}

array argmax(const array& a, std::optional<int> axis, bool keepdims, SD s) {
  if (axis) normalize_axis(*axis, static_cast<int>(a.ndim()), "argmax");
  if (a.size() == 0)
    throw ValueError(msg("[argmax] cannot take the argmax of a zero-size array; got shape=", a.shape(), "."));
  if (!axis) {
    array r = argmax(reshape(a, {-1}, s), 0, false, s);
    if (keepdims) r = reshape(r, Shape(a.ndim(), 1), s);
    return r;
  }
  int ax = normalize_axis(*axis, static_cast<int>(a.ndim()), "argmax");
  if (a.shape(ax) == 0) throw ValueError(msg("[argmax] cannot take argmax over an axis of size zero; got shape=", a.shape(), "."));
  Shape sh = a.shape();
  sh[ax] = 1;
  array r(sh, uint32, std::make_shared<ArgReduce>(to_stream(s), ArgReduceType::ArgMax, ax), {a});
  return keepdims ? r : squeeze(r, {ax}, s);
}

array argmin(const array& a, std::optional<int> axis, bool keepdims, SD s) {
  if (axis) normalize_axis(*axis, static_cast<int>(a.ndim()), "argmin");
  if (a.size() == 0)
    throw ValueError(msg("[argmin] cannot take the argmin of a zero-size array; got shape=", a.shape(), "."));
  if (!axis) {
    array r = argmin(reshape(a, {-1}, s), 0, false, s);
    if (keepdims) r = reshape(r, Shape(a.ndim(), 1), s);
    return r;
  }
  int ax = normalize_axis(*axis, static_cast<int>(a.ndim()), "argmin");
  if (a.shape(ax) == 0) throw ValueError(msg("[argmin] cannot take argmin over an axis of size zero; got shape=", a.shape(), "."));
  Shape sh = a.shape();
  sh[ax] = 1;
  array r(sh, uint32, std::make_shared<ArgReduce>(to_stream(s), ArgReduceType::ArgMin, ax), {a});
  return keepdims ? r : squeeze(r, {ax}, s);
}

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims, SD s) {
  return sum(astype(not_equal(a, zeros({}, a.dtype(), s), s), int32, s), axes, keepdims, s);
}

array softmax(const array& a, const std::vector<int>& axes, bool precise, SD s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "softmax");
  Dtype t = float_of(a.dtype());
  array x = astype(a, t, s);
  if (ax.size() == 1 && ax[0] == static_cast<int>(a.ndim()) - 1 && !is_complex(t) && a.size() > 0) {
    return array(x.shape(), t, std::make_shared<Softmax>(to_stream(s), precise), {x});
  }
  if (x.size() == 0) return x;
  if (ax.empty()) return divide(exp(subtract(x, x, s), s), exp(subtract(x, x, s), s), s);
  array m = stop_gradient(max(x, ax, true, s), s);
  array e = exp(subtract(x, m, s), s);
  return divide(e, sum(e, ax, true, s), s);
}

array matmul(const array& a_in, const array& b_in, SD s) {
  if (a_in.ndim() == 0 || b_in.ndim() == 0)
    throw ValueError(msg("[matmul] both inputs must have at least one dimension; got a.shape=", a_in.shape(),
                         ", b.shape=", b_in.shape(), "."));
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (!is_inexact(t))
    throw ValueError(msg("[matmul] only floating point and complex types are supported; got dtypes ",
                         a_in.dtype(), " and ", b_in.dtype(), "."));
  array a = astype(a_in, t, s), b = astype(b_in, t, s);
  bool a1 = a.ndim() == 1, b1 = b.ndim() == 1;
  if (a1) a = reshape(a, {1, a.shape(0)}, s);
  if (b1) b = reshape(b, {b.shape(0), 1}, s);
  if (a.shape(-1) != b.shape(-2))
    throw ValueError(msg("[matmul] a.shape[-1] must equal b.shape[-2]; got a.shape=", a_in.shape(),
                         ", b.shape=", b_in.shape(), "."));
  if (a.ndim() > 2 && b.ndim() == 2) {
    // An unbatched right operand: fold a's batch dims into its rows, one product instead of
    // one per batch item (and a single product for b's gradient, not a sum over the batch).
    Shape os = a.shape();
    os.back() = b.shape(-1);
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < a.ndim(); ++i) rows *= a.shape(i);
    array a2 = reshape(a, {static_cast<int>(rows), a.shape(-1)}, s);
    array out({a2.shape(0), b.shape(-1)}, t, std::make_shared<Matmul>(to_stream(s)), {a2, b});
    out = reshape(out, os, s);
    if (b1) out = squeeze(out, {-1}, s);
    return out;
  }
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ab, bb, "matmul");
  Shape as = batch, bs = batch;
  as.push_back(a.shape(-2)); as.push_back(a.shape(-1));
  bs.push_back(b.shape(-2)); bs.push_back(b.shape(-1));
  a = broadcast_to(a, as, s);
  b = broadcast_to(b, bs, s);
  Shape os = batch;
  os.push_back(a.shape(-2));
  os.push_back(b.shape(-1));
  array out(os, t, std::make_shared<Matmul>(to_stream(s)), {a, b});
  if (a1) out = squeeze(out, {-2}, s);
  if (b1) out = squeeze(out, {-1}, s);
  return out;
}

}  // namespace mlx::core
