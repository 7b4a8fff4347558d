// Gather and scatter ops: take, take_along_axis, put_along_axis, scatter.
#include "mlx/ops.h"

namespace mlx::core {

namespace {
void check_indices(const array& idx, const char* op) {
  if (!is_integral(idx.dtype()))
    throw ValueError(msg("[", op, "] indices must be integers; got dtype=", idx.dtype(), "."));
}
}  // namespace

array take(const array& a, const array& indices, int axis, SD s) {
  check_indices(indices, "gather");
  int nd = static_cast<int>(a.ndim());
  if (nd == 0) throw ValueError("[take] cannot take from a 0-d array; got shape=().");
  axis = normalize_axis(axis, nd, "take");
  if (a.shape(axis) == 0 && indices.size() > 0)
    throw IndexError(msg("[take] cannot take from an empty axis; got shape=", a.shape(), "."));
  Shape sh(a.shape().begin(), a.shape().begin() + axis);
  sh.insert(sh.end(), indices.shape().begin(), indices.shape().end());
  sh.insert(sh.end(), a.shape().begin() + axis + 1, a.shape().end());
  return array(sh, a.dtype(), std::make_shared<Gather>(to_stream(s), axis), {a, indices});
}

array take(const array& a, const array& indices, SD s) {
  return take(reshape(a, {-1}, s), indices, 0, s);
}

array take_along_axis(const array& a, const array& indices, int axis, SD s) {
  check_indices(indices, "take_along_axis");
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(indices.ndim()) != nd)
    throw ValueError(msg("[take_along_axis] indices must have the same number of dimensions as the array; got a.shape=",
                         a.shape(), ", indices.shape=", indices.shape(), "."));
  axis = normalize_axis(axis, nd, "take_along_axis");
  Shape as = a.shape(), is = indices.shape();
  as[axis] = 1; is[axis] = 1;
  Shape b = broadcast_shapes(as, is, "take_along_axis");
  Shape ash = b, ish = b;
  ash[axis] = a.shape(axis);
  ish[axis] = indices.shape(axis);
  array aa = broadcast_to(a, ash, s), ii = broadcast_to(indices, ish, s);
  return array(ish, a.dtype(), std::make_shared<GatherAxis>(to_stream(s), axis), {aa, ii});
}

array scatter_axis(const array& a, const array& indices, const array& values, int axis, ScatterMode mode, SD s) {
  check_indices(indices, "put_along_axis");
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(indices.ndim()) != nd)
    throw ValueError(msg("[put_along_axis] indices must have the same number of dimensions as the array; got a.shape=",
                         a.shape(), ", indices.shape=", indices.shape(), "."));
  axis = normalize_axis(axis, nd, "put_along_axis");
  Shape as = a.shape(), is = indices.shape();
  as[axis] = 1; is[axis] = 1;
  Shape b = broadcast_shapes(as, is, "put_along_axis");
  if (b != as)
    throw ValueError(msg("[put_along_axis] indices of shape ", indices.shape(), " do not broadcast to the array of shape ",
                         a.shape(), "; got indices.shape=", indices.shape(), "."));
  Shape ish = a.shape();
  ish[axis] = indices.shape(axis);
  array ii = broadcast_to(indices, ish, s);
  array vv = broadcast_to(astype(values, a.dtype(), s), ish, s);
  return array(a.shape(), a.dtype(), std::make_shared<ScatterAxis>(to_stream(s), axis, mode), {a, ii, vv});
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, SD s) {
  return scatter_axis(a, indices, values, axis, ScatterMode::None, s);
}

array scatter(const array& a, const array& indices, const array& updates, int axis, ScatterMode mode, SD s) {
  check_indices(indices, "scatter");
  int nd = static_cast<int>(a.ndim());
  axis = normalize_axis(axis, nd, "scatter");
  Shape sh(a.shape().begin(), a.shape().begin() + axis);
  sh.insert(sh.end(), indices.shape().begin(), indices.shape().end());
  sh.insert(sh.end(), a.shape().begin() + axis + 1, a.shape().end());
  array up = broadcast_to(astype(updates, a.dtype(), s), sh, s);
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(to_stream(s), axis, mode), {a, indices, up});
}

}  // namespace mlx::core
