// Shape ops: views (reshape, transpose, broadcast, slice) and copies (concatenate, pad, ...).
#include <numeric>

#include "mlx/ops.h"

namespace mlx::core {

int normalize_axis(int axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim) {
    throw AxisError(msg("[", op, "] axis ", axis, " is out of bounds for an array with ", ndim,
                        " dimensions; got axis=", axis, "."));
  }
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::vector<int> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw ValueError(msg("[", op, "] received duplicate axes; got axes=", Shape(axes.begin(), axes.end()), "."));
  return out;
}

std::vector<int> all_axes(const array& a) {
  std::vector<int> ax(a.ndim());
  std::iota(ax.begin(), ax.end(), 0);
  return ax;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      // As MLX, the message names broadcast_shapes whichever op broadcasts (`op` is kept
      // for callers' context only).
      throw ValueError(msg("[broadcast_shapes] shapes ", a, " and ", b, " cannot be broadcast; got ", a,
                           " and ", b, "."));
  }
  return out;
}

array broadcast_to(const array& a, const Shape& shape, SD s) {
  if (a.shape() == shape) return a;
  if (shape.size() < a.ndim())
    throw ValueError(msg("[broadcast_to] cannot broadcast an array of shape ", a.shape(),
                         " to fewer dimensions; got shape=", shape, "."));
  Shape bs = broadcast_shapes(a.shape(), shape, "broadcast_to");
  if (bs != shape)
    throw ValueError(msg("[broadcast_to] cannot broadcast an array of shape ", a.shape(),
                         " to shape ", shape, "; got shape=", shape, "."));
  for (auto d : shape)
    if (d < 0) throw ValueError(msg("[broadcast_to] negative dimensions are not allowed; got shape=", shape, "."));
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, SD s) {
  Shape sh;
  for (auto& a : inputs) sh = broadcast_shapes(sh, a.shape(), "broadcast_arrays");
  std::vector<array> out;
  for (auto& a : inputs) out.push_back(broadcast_to(a, sh, s));
  return out;
}

array reshape(const array& a, Shape shape, SD s) {
  int infer = -1;
  size_t size = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ValueError(msg("[reshape] only one dimension can be -1; got shape=", shape, "."));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw ValueError(msg("[reshape] dimensions must be non-negative or -1; got shape=", shape, "."));
    } else {
      size *= shape[i];
    }
  }
  if (infer >= 0) {
    if (size == 0)
      throw ValueError(msg("[reshape] cannot infer the -1 dimension when other dimensions are zero; got shape=", shape, "."));
    if (a.size() % size != 0)
      throw ValueError(msg("[reshape] cannot reshape an array of shape ", a.shape(), " into shape ", shape,
                           "; got shape=", shape, "."));
    shape[infer] = size == 0 ? 0 : static_cast<int32_t>(a.size() / size);
    size *= shape[infer];
  }
  if (size != a.size())
    throw ValueError(msg("[reshape] cannot reshape an array of size ", a.size(), " into shape ", shape,
                         "; got shape=", shape, "."));
  if (shape == a.shape()) return a;
  return array(shape, a.dtype(), std::make_shared<Reshape>(to_stream(s), shape), {a});
}

array flatten(const array& a, int start_axis, int end_axis, SD s) {
  int nd = static_cast<int>(a.ndim());
  if (nd == 0) return reshape(a, {1}, s);
  start_axis = normalize_axis(start_axis, nd, "flatten");
  end_axis = normalize_axis(end_axis, nd, "flatten");
  if (start_axis > end_axis)
    throw ValueError(msg("[flatten] start_axis must not be after end_axis; got start_axis=", start_axis,
                         ", end_axis=", end_axis, "."));
  Shape sh(a.shape().begin(), a.shape().begin() + start_axis);
  int32_t m = 1;
  for (int i = start_axis; i <= end_axis; ++i) m *= a.shape(i);
  sh.push_back(m);
  sh.insert(sh.end(), a.shape().begin() + end_axis + 1, a.shape().end());
  return reshape(a, sh, s);
}

array unflatten(const array& a, int axis, Shape shape, SD s) {
  int nd = static_cast<int>(a.ndim());
  axis = normalize_axis(axis, nd, "unflatten");
  if (shape.empty()) throw ValueError("[unflatten] shape must not be empty; got shape=().");
  Shape sh(a.shape().begin(), a.shape().begin() + axis);
  int infer = -1;
  int64_t size = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ValueError(msg("[unflatten] only one dimension can be -1; got shape=", shape, "."));
      infer = static_cast<int>(i);
    } else {
      size *= shape[i];
    }
  }
  if (infer >= 0) {
    if (size == 0 || a.shape(axis) % size != 0)
      throw ValueError(msg("[unflatten] cannot unflatten axis of size ", a.shape(axis), " into shape ", shape, "; got shape=", shape, "."));
    shape[infer] = static_cast<int32_t>(a.shape(axis) / size);
    size *= shape[infer];
  }
  if (size != a.shape(axis))
    throw ValueError(msg("[unflatten] cannot unflatten axis of size ", a.shape(axis), " into shape ", shape, "; got shape=", shape, "."));
  sh.insert(sh.end(), shape.begin(), shape.end());
  sh.insert(sh.end(), a.shape().begin() + axis + 1, a.shape().end());
  return reshape(a, sh, s);
}

array transpose(const array& a, std::vector<int> axes, SD s) {
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(axes.size()) != nd)
    throw ValueError(msg("[transpose] the number of axes must equal the number of dimensions ", nd,
                         "; got axes=", Shape(axes.begin(), axes.end()), "."));
  axes = normalize_axes(axes, nd, "transpose");
  bool ident = true;
  for (int i = 0; i < nd; ++i) ident &= axes[i] == i;
  if (ident) return a;
  Shape sh(nd);
  for (int i = 0; i < nd; ++i) sh[i] = a.shape(axes[i]);
  return array(sh, a.dtype(), std::make_shared<Transpose>(to_stream(s), axes), {a});
}

array transpose(const array& a, SD s) {
  std::vector<int> ax(a.ndim());
  std::iota(ax.rbegin(), ax.rend(), 0);
  return transpose(a, ax, s);
}

array swapaxes(const array& a, int axis1, int axis2, SD s) {
  int nd = static_cast<int>(a.ndim());
  axis1 = normalize_axis(axis1, nd, "swapaxes");
  axis2 = normalize_axis(axis2, nd, "swapaxes");
  std::vector<int> ax = all_axes(a);
  std::swap(ax[axis1], ax[axis2]);
  return transpose(a, ax, s);
}

array moveaxis(const array& a, int source, int destination, SD s) {
  int nd = static_cast<int>(a.ndim());
  source = normalize_axis(source, nd, "moveaxis");
  destination = normalize_axis(destination, nd, "moveaxis");
  std::vector<int> ax = all_axes(a);
  ax.erase(ax.begin() + source);
  ax.insert(ax.begin() + destination, source);
  return transpose(a, ax, s);
}

array expand_dims(const array& a, std::vector<int> axes, SD s) {
  int out_nd = static_cast<int>(a.ndim() + axes.size());
  axes = normalize_axes(axes, out_nd, "expand_dims");
  std::sort(axes.begin(), axes.end());
  Shape sh = a.shape();
  for (int ax : axes) sh.insert(sh.begin() + ax, 1);
  return reshape(a, sh, s);
}

array squeeze(const array& a, std::vector<int> axes, SD s) {
  axes = normalize_axes(axes, static_cast<int>(a.ndim()), "squeeze");
  Shape sh;
  for (int i = 0; i < static_cast<int>(a.ndim()); ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      if (a.shape(i) != 1)
        throw ValueError(msg("[squeeze] cannot squeeze axis ", i, " of size ", a.shape(i),
                             "; got shape=", a.shape(), "."));
    } else {
      sh.push_back(a.shape(i));
    }
  }
  return reshape(a, sh, s);
}

array squeeze(const array& a, SD s) {
  std::vector<int> axes;
  for (int i = 0; i < static_cast<int>(a.ndim()); ++i)
    if (a.shape(i) == 1) axes.push_back(i);
  return squeeze(a, axes, s);
}

array concatenate(std::vector<array> arrays, int axis, SD s) {
  if (arrays.empty()) throw ValueError("[concatenate] no arrays to concatenate; got an empty list.");
  int nd = static_cast<int>(arrays[0].ndim());
  if (nd == 0) throw AxisError("[concatenate] zero-dimensional arrays cannot be concatenated; got shape=().");
  axis = normalize_axis(axis, nd, "concatenate");
  Dtype t = arrays[0].dtype();
  for (auto& a : arrays) t = promote_types(t, a.dtype());
  Shape sh = arrays[0].shape();
  sh[axis] = 0;
  for (auto& a : arrays) {
    if (static_cast<int>(a.ndim()) != nd)
      throw ValueError(msg("[concatenate] all arrays must have the same number of dimensions; got shapes ",
                           arrays[0].shape(), " and ", a.shape(), "."));
    for (int i = 0; i < nd; ++i)
      if (i != axis && a.shape(i) != arrays[0].shape(i))
        throw ValueError(msg("[concatenate] all dimensions but the concatenation axis must match; got shapes ",
                             arrays[0].shape(), " and ", a.shape(), "."));
    sh[axis] += a.shape(axis);
  }
  if (arrays.size() == 1) return astype(arrays[0], t, s);
  for (auto& a : arrays) a = astype(a, t, s);
  return array(sh, t, std::make_shared<Concatenate>(to_stream(s), axis), std::move(arrays));
}

array concatenate(std::vector<array> arrays, SD s) {
  for (auto& a : arrays) a = reshape(a, {-1}, s);
  return concatenate(std::move(arrays), 0, s);
}

array stack(const std::vector<array>& arrays, int axis, SD s) {
  if (arrays.empty()) throw ValueError("[stack] no arrays to stack; got an empty list.");
  for (auto& a : arrays)
    if (a.shape() != arrays[0].shape())
      throw ValueError(msg("[stack] all arrays must have the same shape; got shapes ", arrays[0].shape(),
                           " and ", a.shape(), "."));
  int nd = static_cast<int>(arrays[0].ndim()) + 1;
  axis = normalize_axis(axis, nd, "stack");
  std::vector<array> ex;
  for (auto& a : arrays) ex.push_back(expand_dims(a, {axis}, s));
  return concatenate(ex, axis, s);
}

std::vector<array> split(const array& a, const std::vector<int>& indices, int axis, SD s) {
  int nd = static_cast<int>(a.ndim());
  axis = normalize_axis(axis, nd, "split");
  std::vector<array> out;
  Shape start(nd, 0), stop = a.shape(), strides(nd, 1);
  // Pieces are a[prev:idx] with NumPy's slice semantics (unsorted indices give empty pieces).
  int prev = 0, n = a.shape(axis);
  for (size_t i = 0; i <= indices.size(); ++i) {
    int idx = i < indices.size() ? indices[i] : n;
    start[axis] = prev;
    stop[axis] = idx;
    out.push_back(slice(a, start, stop, strides, s));
    prev = idx;
  }
  return out;
}

std::vector<array> split(const array& a, int num_splits, int axis, SD s) {
  int nd = static_cast<int>(a.ndim());
  axis = normalize_axis(axis, nd, "split");
  if (num_splits <= 0 || a.shape(axis) % num_splits != 0)
    throw ValueError(msg("[split] the array cannot be split into ", num_splits,
                         " equal parts along axis ", axis, "; got shape=", a.shape(), "."));
  int q = a.shape(axis) / num_splits;
  std::vector<int> idx;
  for (int i = 1; i < num_splits; ++i) idx.push_back(i * q);
  return split(a, idx, axis, s);
}

array pad(const array& a, const std::vector<std::pair<int, int>>& widths, const array& value,
          const std::string& mode, SD s) {
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(widths.size()) != nd)
    throw ValueError(msg("[pad] expected one (low, high) pair per dimension (", nd, "); got ",
                         widths.size(), " pairs."));
  for (auto& w : widths)
    if (w.first < 0 || w.second < 0)
      throw ValueError(msg("[pad] pad widths must be non-negative; got (", w.first, ", ", w.second, ")."));
  if (mode == "constant") {
    Shape sh = a.shape(), start(nd), stop(nd), strides(nd, 1);
    for (int i = 0; i < nd; ++i) {
      sh[i] += widths[i].first + widths[i].second;
      start[i] = widths[i].first;
      stop[i] = start[i] + a.shape(i);
    }
    array base = full(sh, astype(value, a.dtype(), s), a.dtype(), s);
    return slice_update(base, a, start, stop, strides, s);
  }
  if (mode == "edge") {
    array r = a;
    for (int i = 0; i < nd; ++i) {
      auto [lo, hi] = widths[i];
      if (lo == 0 && hi == 0) continue;
      if (r.shape(i) == 0) throw ValueError("[pad] edge padding of an empty axis is not possible; got size 0.");
      std::vector<array> parts;
      Shape st(nd, 0), sp = r.shape(), str(nd, 1);
      if (lo > 0) {
        sp[i] = 1;
        array first = slice(r, st, sp, str, s);
        Shape rep = r.shape(); rep[i] = lo;
        parts.push_back(broadcast_to(first, rep, s));
      }
      parts.push_back(r);
      if (hi > 0) {
        st[i] = r.shape(i) - 1; sp = r.shape();
        array last = slice(r, st, sp, str, s);
        Shape rep = r.shape(); rep[i] = hi;
        parts.push_back(broadcast_to(last, rep, s));
      }
      r = concatenate(parts, i, s);
    }
    return r;
  }
  if (mode == "reflect" || mode == "symmetric") {
    bool refl = mode == "reflect";
    array r = a;
    for (int i = 0; i < nd; ++i) {
      auto [lo, hi] = widths[i];
      if (lo == 0 && hi == 0) continue;
      int n = r.shape(i);
      int period = refl ? 2 * (n - 1) : 2 * n;
      if (n == 0 || (refl && n == 1))
        throw ValueError(msg("[pad] ", mode, " padding needs a longer axis; got size ", n, " on axis ", i, "."));
      // Index map from padded positions to source positions.
      std::vector<int32_t> idx;
      for (int j = -lo; j < n + hi; ++j) {
        int k = ((j % period) + period) % period;
        if (refl) k = k < n ? k : period - k;
        else k = k < n ? k : period - 1 - k;
        idx.push_back(k);
      }
      array ia(idx.begin(), Shape{static_cast<int32_t>(idx.size())}, int32);
      r = take(r, ia, i, s);
    }
    return r;
  }
  throw ValueError(msg("[pad] mode must be 'constant', 'edge', 'reflect' or 'symmetric'; got mode='", mode, "'."));
}

array tile(const array& a, std::vector<int> reps, SD s) {
  int nd = std::max(static_cast<int>(a.ndim()), static_cast<int>(reps.size()));
  Shape sh = a.shape();
  sh.insert(sh.begin(), nd - a.ndim(), 1);
  reps.insert(reps.begin(), nd - reps.size(), 1);
  for (int r : reps)
    if (r < 0) throw ValueError(msg("[tile] repetitions must be non-negative; got reps=", Shape(reps.begin(), reps.end()), "."));
  // Broadcast an interleaved shape (r0, d0, r1, d1, ...) then merge the pairs.
  Shape ex, bc, fin;
  for (int i = 0; i < nd; ++i) {
    ex.push_back(1); ex.push_back(sh[i]);
    bc.push_back(reps[i]); bc.push_back(sh[i]);
    fin.push_back(reps[i] * sh[i]);
  }
  array r = reshape(a, ex, s);
  r = broadcast_to(r, bc, s);
  return reshape(contiguous(r, false, s), fin, s);
}

array repeat(const array& a, int repeats, std::optional<int> axis, SD s) {
  if (repeats < 0) throw ValueError(msg("[repeat] repeats must be non-negative; got repeats=", repeats, "."));
  if (!axis) return repeat(reshape(a, {-1}, s), repeats, 0, s);
  int nd = static_cast<int>(a.ndim());
  int ax = normalize_axis(*axis, nd, "repeat");
  Shape ex = a.shape();
  ex.insert(ex.begin() + ax + 1, 1);
  Shape bc = ex;
  bc[ax + 1] = repeats;
  Shape fin = a.shape();
  fin[ax] *= repeats;
  array r = broadcast_to(reshape(a, ex, s), bc, s);
  return reshape(contiguous(r, false, s), fin, s);
}

array roll(const array& a, const std::vector<int>& shift, const std::vector<int>& axes, SD s) {
  if (shift.size() != axes.size())
    throw ValueError(msg("[roll] shift and axes must have the same length; got ", shift.size(), " and ",
                         axes.size(), "."));
  array r = a;
  int nd = static_cast<int>(a.ndim());
  for (size_t k = 0; k < axes.size(); ++k) {
    int ax = normalize_axis(axes[k], nd, "roll");
    int n = r.shape(ax);
    if (n == 0) continue;
    int sh = ((shift[k] % n) + n) % n;
    if (sh == 0) continue;
    auto parts = split(r, std::vector<int>{n - sh}, ax, s);
    r = concatenate({parts[1], parts[0]}, ax, s);
  }
  return r;
}

array roll(const array& a, int shift, SD s) {
  return reshape(roll(reshape(a, {-1}, s), {shift}, {0}, s), a.shape(), s);
}

array as_strided(const array& a, Shape shape, Strides strides, size_t offset, SD s) {
  if (shape.size() != strides.size())
    throw ValueError(msg("[as_strided] shape and strides must have the same length; got ", shape.size(),
                         " and ", strides.size(), "."));
  array c = contiguous(a, false, s);
  return array(shape, a.dtype(), std::make_shared<AsStrided>(to_stream(s), shape, strides, offset), {c});
}

array contiguous(const array& a, bool allow_col_major, SD s) {
  (void)allow_col_major;
  return array(a.shape(), a.dtype(), std::make_shared<Unary>(to_stream(s), UnaryOp::Copy), {a});
}

array atleast_1d(const array& a, SD s) { return a.ndim() == 0 ? reshape(a, {1}, s) : a; }
array atleast_2d(const array& a, SD s) {
  if (a.ndim() == 0) return reshape(a, {1, 1}, s);
  if (a.ndim() == 1) return reshape(a, {1, a.shape(0)}, s);
  return a;
}
array atleast_3d(const array& a, SD s) {
  if (a.ndim() == 0) return reshape(a, {1, 1, 1}, s);
  if (a.ndim() == 1) return reshape(a, {1, a.shape(0), 1}, s);
  if (a.ndim() == 2) return reshape(a, {a.shape(0), a.shape(1), 1}, s);
  return a;
}

// ---- slicing ----
namespace {
// Normalizes start/stop in place with NumPy's rules for out-of-range bounds and returns
// the window's shape.
Shape normalize_window(const array& a, Shape& start, Shape& stop, const Shape& strides, const char* op) {
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(start.size()) != nd || static_cast<int>(stop.size()) != nd ||
      static_cast<int>(strides.size()) != nd)
    throw ValueError(msg("[", op, "] start, stop and strides need one entry per dimension (", nd,
                         "); got start=", start, ", stop=", stop, "."));
  Shape sh(nd);
  for (int i = 0; i < nd; ++i) {
    int n = a.shape(i), st = strides[i];
    if (st == 0) throw ValueError(msg("[", op, "] slice step cannot be zero; got strides containing 0."));
    int b = start[i], e = stop[i];
    if (st > 0) {
      if (b < 0) b += n;
      if (e < 0) e += n;
      b = std::clamp(b, 0, n);
      e = std::clamp(e, 0, n);
      sh[i] = e > b ? (e - b + st - 1) / st : 0;
    } else {
      if (b < 0) b += n;
      if (e < -1) e += n;
      b = std::clamp(b, -1, n - 1);
      e = std::clamp(e, -1, n - 1);
      sh[i] = b > e ? (b - e - st - 1) / (-st) : 0;
    }
    start[i] = b;
    stop[i] = e;
  }
  return sh;
}
}  // namespace

array slice(const array& a, Shape start, Shape stop, Shape strides, SD s) {
  Shape sh = normalize_window(a, start, stop, strides, "slice");
  bool ident = true;
  for (size_t i = 0; i < a.ndim(); ++i) ident &= (start[i] == 0 && strides[i] == 1 && sh[i] == a.shape(i));
  if (ident) return a;
  return array(sh, a.dtype(), std::make_shared<Slice>(to_stream(s), start, stop, strides), {a});
}

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, SD s) {
  int nd = static_cast<int>(src.ndim());
  Shape sh = normalize_window(src, start, stop, strides, "slice_update");
  if (update.ndim() > static_cast<size_t>(nd)) {
    // Leading singleton dims of the update may be dropped.
    Shape us = update.shape();
    while (us.size() > static_cast<size_t>(nd) && us[0] == 1) us.erase(us.begin());
    if (us.size() > static_cast<size_t>(nd))
      throw ValueError(msg("[slice_update] the update of shape ", update.shape(),
                           " does not fit the window of shape ", sh, "; got update.shape=", update.shape(), "."));
    return slice_update(src, reshape(update, us, s), start, stop, strides, s);
  }
  array up = broadcast_to(astype(update, src.dtype(), s), sh, s);
  return array(src.shape(), src.dtype(), std::make_shared<SliceUpdate>(to_stream(s), start, stop, strides),
               {src, up});
}

array view(const array& a, Dtype dtype, SD s) {
  if (a.dtype() == dtype) return a;
  int ib = size_of(a.dtype()), ob = size_of(dtype);
  Shape sh = a.shape();
  if (ib != ob) {
    if (a.ndim() == 0)
      throw ValueError(msg("[view] a scalar array cannot be viewed as a dtype of a different size; got ",
                           a.dtype(), " to ", dtype, "."));
    int64_t last = static_cast<int64_t>(sh.back()) * ib;
    if (last % ob != 0)
      throw ValueError(msg("[view] the last dimension in bytes (", last, ") must be divisible by the new itemsize ",
                           ob, "; got shape=", a.shape(), "."));
    sh.back() = static_cast<int32_t>(last / ob);
  }
  array c = contiguous(a, false, s);
  Strides st = row_strides(sh);
  return array(sh, dtype, std::make_shared<AsStrided>(to_stream(s), sh, st, 0), {c});
}

}  // namespace mlx::core
