// Bindings of the ops in mlx.core.
#include <nanobind/stl/function.h>

#include "convert.h"

using namespace nb::literals;

namespace {

std::optional<Dtype> opt_dtype(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return nb::cast<Dtype>(h);
}

int32_t to_dim(nb::handle v, const char* op) {
  if (!PyLong_Check(v.ptr()) && !(nb::hasattr(v, "__index__") && !PyFloat_Check(v.ptr())))
    throw TypeError(msg("[", op, "] shape entries must be integers; got ",
                        nb::cast<std::string>(nb::str(v.type().attr("__name__"))), "."));
  nb::object i = nb::steal(PyNumber_Index(v.ptr()));
  if (!i.is_valid()) throw nb::python_error();
  int overflow = 0;
  long long d = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow != 0 || d > INT32_MAX || d < INT32_MIN)
    throw ValueError(msg("[", op, "] dimensions must fit in int32; got ", nb::cast<std::string>(nb::repr(v)), "."));
  return static_cast<int32_t>(d);
}

Shape to_shape(nb::handle h, const char* op) {
  if (PyLong_Check(h.ptr())) return {to_dim(h, op)};
  if (!nb::isinstance<nb::list>(h) && !nb::isinstance<nb::tuple>(h))
    throw TypeError(msg("[", op, "] the shape must be an int or a sequence of ints; got ",
                        nb::cast<std::string>(nb::str(h.type().attr("__name__"))), "."));
  Shape s;
  for (auto v : h) s.push_back(to_dim(v, op));
  return s;
}

array from_value(nb::handle v) { return to_array(v); }

}  // namespace

void init_ops(nb::module_& m) {
  auto kw = nb::kw_only();
  auto st = "stream"_a = nb::none();

#define UNARY(NAME)                                                                     \
  m.def(#NAME, [](nb::handle a, StreamArg s) { return NAME(to_array_arg(a, #NAME), sd(s)); }, "a"_a, \
        nb::kw_only(), "stream"_a = nb::none());
  UNARY(abs) UNARY(negative) UNARY(sign) UNARY(sqrt) UNARY(rsqrt) UNARY(square) UNARY(reciprocal)
  UNARY(exp) UNARY(expm1) UNARY(log) UNARY(log1p) UNARY(log2) UNARY(log10) UNARY(sin) UNARY(cos)
  UNARY(tan) UNARY(arcsin) UNARY(arccos) UNARY(arctan) UNARY(sinh) UNARY(cosh) UNARY(tanh)
  UNARY(arcsinh) UNARY(arccosh) UNARY(arctanh) UNARY(erf) UNARY(erfinv) UNARY(sigmoid) UNARY(floor)
  UNARY(ceil) UNARY(logical_not) UNARY(bitwise_invert) UNARY(conjugate) UNARY(real) UNARY(imag)
  UNARY(isnan) UNARY(isinf) UNARY(isposinf) UNARY(isneginf) UNARY(isfinite)
  UNARY(degrees) UNARY(radians)
#undef UNARY
  m.def("stop_gradient", [](const array& a, StreamArg s) { return stop_gradient(a, sd(s)); }, "a"_a, kw, st);
  m.def("conj", [](nb::handle a, StreamArg s) { return conjugate(to_array_arg(a, "conj"), sd(s)); }, "a"_a, kw, st);
  m.def("round", [](nb::handle a_, int decimals, StreamArg s) {
        array a = to_array_arg(a_, "round");
        if (decimals == 0) return round(a, sd(s));
        Dtype t = a.dtype();
        if (!is_inexact(t)) {
          if (decimals >= 0) return a;
          // float64 on the CPU; the GPU has no float64, so float32 there.
          Dtype ct = to_stream(sd(s)).device.type == Device::cpu ? float64 : float32;
          array f = array(std::pow(10.0, -decimals), ct);
          return astype(multiply(round(divide(astype(a, ct), f, sd(s)), sd(s)), f, sd(s)), t, sd(s));
        }
        array f = astype(array(std::pow(10.0, decimals)), t);
        return divide(round(multiply(a, f, sd(s)), sd(s)), f, sd(s));
      }, "a"_a, "decimals"_a = 0, kw, st);

#define BINARY(NAME)                                                                           \
  m.def(#NAME, [](nb::handle a, nb::handle b, StreamArg s) {                                   \
        auto [x, y] = to_arrays(a, b, #NAME);                                                  \
        return NAME(x, y, sd(s));                                                              \
      }, "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none());
  BINARY(add) BINARY(subtract) BINARY(multiply) BINARY(divide) BINARY(floor_divide) BINARY(remainder)
  BINARY(power) BINARY(maximum) BINARY(minimum) BINARY(equal) BINARY(not_equal) BINARY(less)
  BINARY(less_equal) BINARY(greater) BINARY(greater_equal) BINARY(logical_and) BINARY(logical_or)
  BINARY(bitwise_and) BINARY(bitwise_or) BINARY(bitwise_xor) BINARY(left_shift) BINARY(right_shift)
  BINARY(arctan2) BINARY(logaddexp)
#undef BINARY
  m.def("divmod", [](nb::handle a, nb::handle b, StreamArg s) {
        auto [x, y] = to_arrays(a, b, "divmod");
        return divmod(x, y, sd(s));  // a list, as MLX
      }, "a"_a, "b"_a, kw, st);
  m.def("where", [](nb::handle c, nb::handle x, nb::handle y, StreamArg s) {
        auto [xx, yy] = to_arrays(x, y, "where");
        return where(to_array_arg(c, "where"), xx, yy, sd(s));
      }, "condition"_a, "x"_a, "y"_a, kw, st);
  m.def("astype", [](const array& a, Dtype t, StreamArg s) { return astype(a, t, sd(s)); }, "a"_a, "dtype"_a, kw, st);
  m.def("clip", [](const array& a, nb::handle lo, nb::handle hi, StreamArg s) {
        std::optional<array> l, h;
        if (!lo.is_none()) l = to_arrays(nb::cast(a), lo, "clip").second;
        if (!hi.is_none()) h = to_arrays(nb::cast(a), hi, "clip").second;
        return clip(a, l, h, sd(s));
      }, "a"_a, "a_min"_a.none(), "a_max"_a.none(), kw, st);
  m.def("nan_to_num", [](nb::handle a, float nan, std::optional<float> posinf, std::optional<float> neginf, StreamArg s) {
        return nan_to_num(to_array_arg(a, "nan_to_num"), nan, posinf, neginf, sd(s));
      }, "a"_a, "nan"_a = 0.0f, "posinf"_a = nb::none(), "neginf"_a = nb::none(), kw, st);
  m.def("isclose", [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, StreamArg s) {
        auto [x, y] = to_arrays(a, b);
        return isclose(x, y, rtol, atol, equal_nan, sd(s));
      }, "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, kw, "equal_nan"_a = false, st);
  m.def("allclose", [](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, StreamArg s) {
        auto [x, y] = to_arrays(a, b);
        return allclose_arr(x, y, rtol, atol, equal_nan, sd(s));
      }, "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, kw, "equal_nan"_a = false, st);
  m.def("array_equal", [](nb::handle a, nb::handle b, bool equal_nan, StreamArg s) {
        auto [x, y] = to_arrays(a, b, "array_equal");
        return array_equal(x, y, equal_nan, sd(s));
      }, "a"_a, "b"_a, "equal_nan"_a = false, kw, st);

  // ---- reductions ----
#define REDUCE(NAME, FN)                                                                        \
  m.def(#NAME, [](const array& a, AxesArg axis, bool keepdims, StreamArg s) {                  \
        return FN(a, axes_or_all(axis, a), keepdims, sd(s));                                   \
      }, "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  REDUCE(sum, sum) REDUCE(prod, prod) REDUCE(max, max) REDUCE(min, min) REDUCE(all, all)
  REDUCE(any, any) REDUCE(mean, mean) REDUCE(logsumexp, logsumexp) REDUCE(count_nonzero, count_nonzero)
#undef REDUCE
  m.def("var", [](const array& a, AxesArg axis, bool keepdims, int ddof, StreamArg s) {
        return var(a, axes_or_all(axis, a), keepdims, ddof, sd(s));
      }, "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, kw, st);
  m.def("std", [](const array& a, AxesArg axis, bool keepdims, int ddof, StreamArg s) {
        return std_dev(a, axes_or_all(axis, a), keepdims, ddof, sd(s));
      }, "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, kw, st);
  m.def("argmax", [](const array& a, std::optional<int> axis, bool keepdims, StreamArg s) {
        return argmax(a, axis, keepdims, sd(s));
      }, "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, kw, st);
  m.def("argmin", [](const array& a, std::optional<int> axis, bool keepdims, StreamArg s) {
        return argmin(a, axis, keepdims, sd(s));
      }, "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, kw, st);
  m.def("softmax", [](const array& a, AxesArg axis, bool precise, StreamArg s) {
        return softmax(a, axes_or_all(axis, a), precise, sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, "precise"_a = false, st);
  m.def("matmul", [](nb::handle a, nb::handle b, StreamArg s) {
        return matmul(to_array(a), to_array(b), sd(s));
      }, "a"_a, "b"_a, kw, st);

  // ---- creation ----
  m.def("zeros", [](nb::handle shape, std::optional<Dtype> dtype, StreamArg s) {
        return zeros(to_shape(shape, "zeros"), dtype.value_or(float32), sd(s));
      }, "shape"_a, "dtype"_a = nb::none(), kw, st);
  m.def("ones", [](nb::handle shape, std::optional<Dtype> dtype, StreamArg s) {
        return ones(to_shape(shape, "ones"), dtype.value_or(float32), sd(s));
      }, "shape"_a, "dtype"_a = nb::none(), kw, st);
  m.def("full", [](nb::handle shape, nb::handle vals, std::optional<Dtype> dtype, StreamArg s) {
        array v = to_array_arg(vals, "full");
        if (dtype) v = astype(v, *dtype, sd(s));
        return full(to_shape(shape, "full"), v, v.dtype(), sd(s));
      }, "shape"_a, "vals"_a, "dtype"_a = nb::none(), kw, st);
  m.def("zeros_like", [](const array& a, std::optional<Dtype> dtype, StreamArg s) {
        return zeros(a.shape(), dtype.value_or(a.dtype()), sd(s));
      }, "a"_a, "dtype"_a = nb::none(), kw, st);
  m.def("ones_like", [](const array& a, std::optional<Dtype> dtype, StreamArg s) {
        return ones(a.shape(), dtype.value_or(a.dtype()), sd(s));
      }, "a"_a, "dtype"_a = nb::none(), kw, st);
  m.def("full_like", [](const array& a, nb::handle vals, std::optional<Dtype> dtype, StreamArg s) {
        Dtype t = dtype.value_or(a.dtype());
        return full(a.shape(), to_array(vals, t), t, sd(s));
      }, "a"_a, "fill_value"_a, "dtype"_a = nb::none(), kw, st);
  m.def("arange", [](nb::handle a, nb::handle b, nb::handle c, std::optional<Dtype> dtype, StreamArg s) {
        // arange(stop) | arange(start, stop[, step]), any of them by keyword.
        auto num = [](nb::handle h, const char* what) -> double {
          if (!(PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())))
            throw TypeError(msg("[arange] ", what, " must be an int or a float; got ",
                                nb::cast<std::string>(nb::str(h.type().attr("__name__"))), "."));
          return nb::cast<double>(h);
        };
        if (a.is_none() && b.is_none())
          throw TypeError("[arange] stop must be given; got neither start nor stop.");
        bool any_float = false, wide = false;
        for (nb::handle h : {a, b, c}) {
          if (h.is_none()) continue;
          if (PyFloat_Check(h.ptr())) any_float = true;
          if (PyLong_Check(h.ptr())) {
            double v = nb::cast<double>(h);
            if (v > 2147483647.0 || v < -2147483648.0) wide = true;
          }
        }
        double start = 0, stop, step = 1;
        if (b.is_none()) {
          stop = num(a, "stop");
        } else {
          if (!a.is_none()) start = num(a, "start");
          stop = num(b, "stop");
        }
        if (!c.is_none()) step = num(c, "step");
        Dtype t = dtype.value_or(any_float ? float32 : (wide ? int64 : int32));
        return arange(start, stop, step, t, sd(s));
      }, "start"_a = nb::none(), "stop"_a = nb::none(), "step"_a = nb::none(), kw, "dtype"_a = nb::none(), st);
  m.def("linspace", [](double start, double stop, int num, bool endpoint, std::optional<Dtype> dtype, StreamArg s) {
        if (!endpoint) {
          // num points of linspace(start, stop, num + 1) without the last one.
          if (num < 0) throw ValueError(msg("[linspace] num must be non-negative; got num=", num, "."));
          Dtype ct = dtype.value_or(float32) == float64 ? float64 : float32;
          array r = linspace(start, stop, num + 1, ct, sd(s));
          r = slice(r, {0}, {num}, {1}, sd(s));
          return astype(r, dtype.value_or(float32), sd(s));
        }
        return linspace(start, stop, num, dtype.value_or(float32), sd(s));
      }, "start"_a, "stop"_a, "num"_a = 50, "endpoint"_a = true, "dtype"_a = nb::none(), st);
  m.def("eye", [](int n, std::optional<int> mm, int k, std::optional<Dtype> dtype, StreamArg s) {
        return eye(n, mm.value_or(n), k, dtype.value_or(float32), sd(s));
      }, "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = nb::none(), kw, st);
  m.def("identity", [](int n, std::optional<Dtype> dtype, StreamArg s) {
        return eye(n, n, 0, dtype.value_or(float32), sd(s));
      }, "n"_a, "dtype"_a = nb::none(), kw, st);
  m.def("tri", [](int n, std::optional<int> mm, int k, std::optional<Dtype> dtype, StreamArg s) {
        return tri(n, mm.value_or(n), k, dtype.value_or(float32), sd(s));
      }, "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = nb::none(), kw, st);
  m.def("tril", [](const array& x, int k, StreamArg s) { return tril(x, k, sd(s)); }, "x"_a, "k"_a = 0, kw, st);
  m.def("triu", [](const array& x, int k, StreamArg s) { return triu(x, k, sd(s)); }, "x"_a, "k"_a = 0, kw, st);

  // ---- shape ----
  m.def("reshape", [](const array& a, nb::handle shape, StreamArg s) {
        return reshape(a, to_shape(shape, "reshape"), sd(s));
      }, "a"_a, "shape"_a, kw, st);
  m.def("flatten", [](const array& a, int start_axis, int end_axis, StreamArg s) {
        return flatten(a, start_axis, end_axis, sd(s));
      }, "a"_a, "start_axis"_a = 0, "end_axis"_a = -1, kw, st);
  m.def("unflatten", [](const array& a, int axis, nb::handle shape, StreamArg s) {
        return unflatten(a, axis, to_shape(shape, "unflatten"), sd(s));
      }, "a"_a, "axis"_a, "shape"_a, kw, st);
  m.def("transpose", [](const array& a, std::optional<std::vector<int>> axes, StreamArg s) {
        return axes ? transpose(a, *axes, sd(s)) : transpose(a, sd(s));
      }, "a"_a, "axes"_a = nb::none(), kw, st);
  m.def("permute_dims", [](const array& a, std::optional<std::vector<int>> axes, StreamArg s) {
        return axes ? transpose(a, *axes, sd(s)) : transpose(a, sd(s));
      }, "a"_a, "axes"_a = nb::none(), kw, st);
  m.def("swapaxes", [](const array& a, int a1, int a2, StreamArg s) { return swapaxes(a, a1, a2, sd(s)); },
        "a"_a, "axis1"_a, "axis2"_a, kw, st);
  m.def("moveaxis", [](const array& a, int src, int dst, StreamArg s) { return moveaxis(a, src, dst, sd(s)); },
        "a"_a, "source"_a, "destination"_a, kw, st);
  m.def("expand_dims", [](const array& a, std::variant<int, std::vector<int>> axis, StreamArg s) {
        std::vector<int> ax = std::holds_alternative<int>(axis) ? std::vector<int>{std::get<int>(axis)} : std::get<std::vector<int>>(axis);
        return expand_dims(a, ax, sd(s));
      }, "a"_a, "axis"_a, kw, st);
  m.def("squeeze", [](const array& a, AxesArg axis, StreamArg s) {
        if (!axis) return squeeze(a, sd(s));
        return squeeze(a, axes_or_all(axis, a), sd(s));
      }, "a"_a, "axis"_a = nb::none(), kw, st);
  m.def("broadcast_to", [](nb::handle a, nb::handle shape, StreamArg s) {
        return broadcast_to(to_array_arg(a, "broadcast_to"), to_shape(shape, "broadcast_to"), sd(s));
      }, "a"_a, "shape"_a, kw, st);
  m.def("broadcast_arrays", [](nb::args arrays, StreamArg s) {
        std::vector<array> xs;
        for (auto a : arrays) xs.push_back(to_array(a));
        auto r = broadcast_arrays(xs, sd(s));
        nb::list l;
        for (auto& x : r) l.append(x);
        return nb::tuple(l);
      }, "arrays"_a, kw, st);
  m.def("broadcast_shapes", [](nb::args shapes) {
        Shape out;
        if (shapes.size() == 0) throw ValueError("[broadcast_shapes] no shapes given; got none.");
        for (auto s : shapes) out = broadcast_shapes(out, to_shape(s, "broadcast_shapes"), "broadcast_shapes");
        nb::list l;
        for (auto d : out) l.append(d);
        return nb::tuple(l);
      });
  auto concat_fn = [](std::vector<array> arrays, std::optional<int> axis, StreamArg s) {
    return axis ? concatenate(arrays, *axis, sd(s)) : concatenate(arrays, sd(s));
  };
  m.def("concatenate", concat_fn, "arrays"_a, "axis"_a = 0, kw, st);
  m.def("concat", concat_fn, "arrays"_a, "axis"_a = 0, kw, st);
  m.def("stack", [](std::vector<array> arrays, int axis, StreamArg s) { return stack(arrays, axis, sd(s)); },
        "arrays"_a, "axis"_a = 0, kw, st);
  m.def("split", [](const array& a, std::variant<int, std::vector<int>> ind, int axis, StreamArg s) {
        auto r = std::holds_alternative<int>(ind) ? split(a, std::get<int>(ind), axis, sd(s))
                                                  : split(a, std::get<std::vector<int>>(ind), axis, sd(s));
        return r;
      }, "a"_a, "indices_or_sections"_a, "axis"_a = 0, kw, st);
  m.def("pad", [](const array& a, nb::handle pw, std::string mode, nb::handle cv, StreamArg s) {
        int nd = static_cast<int>(a.ndim());
        std::vector<std::pair<int, int>> w;
        if (nb::isinstance<nb::int_>(pw)) {
          int v = nb::cast<int>(pw);
          w.assign(nd, {v, v});
        } else {
          std::vector<nb::object> items;
          for (auto x : pw) items.push_back(nb::borrow(x));
          auto pair_of = [](nb::handle h) -> std::pair<int, int> {
            if (nb::isinstance<nb::int_>(h)) return {nb::cast<int>(h), nb::cast<int>(h)};
            std::vector<int> v;
            for (auto x : h) v.push_back(nb::cast<int>(x));
            if (v.size() == 1) return {v[0], v[0]};
            if (v.size() != 2) throw ValueError("[pad] each pad width must be an int or a (before, after) pair; got a longer sequence.");
            return {v[0], v[1]};
          };
          if (items.size() == 2 && nb::isinstance<nb::int_>(items[0]) && nb::isinstance<nb::int_>(items[1])) {
            w.assign(nd, {nb::cast<int>(items[0]), nb::cast<int>(items[1])});
          } else if (items.size() == 1) {
            w.assign(nd, pair_of(items[0]));
          } else {
            for (auto& x : items) w.push_back(pair_of(x));
          }
        }
        return pad(a, w, to_array_with(cv, a.dtype()), mode, sd(s));
      }, "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, kw, st);
  m.def("tile", [](const array& a, std::variant<int, std::vector<int>> reps, StreamArg s) {
        std::vector<int> r = std::holds_alternative<int>(reps) ? std::vector<int>{std::get<int>(reps)} : std::get<std::vector<int>>(reps);
        return tile(a, r, sd(s));
      }, "a"_a, "reps"_a, kw, st);
  m.def("repeat", [](const array& a, int repeats, std::optional<int> axis, StreamArg s) {
        return repeat(a, repeats, axis, sd(s));
      }, "array"_a, "repeats"_a, "axis"_a = nb::none(), kw, st);
  m.def("roll", [](const array& a, std::variant<int, std::vector<int>> shift, AxesArg axis, StreamArg s) {
        std::vector<int> sh = std::holds_alternative<int>(shift) ? std::vector<int>{std::get<int>(shift)} : std::get<std::vector<int>>(shift);
        if (!axis) {
          int total = 0;
          for (int v : sh) total += v;
          return roll(a, total, sd(s));
        }
        auto ax = axes_or_all(axis, a);
        if (sh.size() == 1 && ax.size() > 1) sh.assign(ax.size(), sh[0]);
        return roll(a, sh, ax, sd(s));
      }, "a"_a, "shift"_a, "axis"_a = nb::none(), kw, st);
  m.def("as_strided", [](const array& a, std::optional<std::vector<int>> shape, std::optional<std::vector<int64_t>> strides,
                         size_t offset, StreamArg s) {
        Shape sh = shape ? Shape(shape->begin(), shape->end()) : a.shape();
        Strides str = strides ? Strides(strides->begin(), strides->end()) : row_strides(sh);
        return as_strided(a, sh, str, offset, sd(s));
      }, "a"_a, "shape"_a = nb::none(), "strides"_a = nb::none(), "offset"_a = 0, kw, st);
  m.def("contiguous", [](const array& a, bool allow_col_major, StreamArg s) {
        return contiguous(a, allow_col_major, sd(s));
      }, "a"_a, "allow_col_major"_a = false, kw, st);
  m.def("atleast_1d", [](nb::args arys, StreamArg s) -> nb::object {
        if (arys.size() == 1) return nb::cast(atleast_1d(to_array(arys[0]), sd(s)));
        nb::list l;
        for (auto x : arys) l.append(atleast_1d(to_array(x), sd(s)));
        return l;
      }, "arys"_a, kw, st);
  m.def("atleast_2d", [](nb::args arys, StreamArg s) -> nb::object {
        if (arys.size() == 1) return nb::cast(atleast_2d(to_array(arys[0]), sd(s)));
        nb::list l;
        for (auto x : arys) l.append(atleast_2d(to_array(x), sd(s)));
        return l;
      }, "arys"_a, kw, st);
  m.def("atleast_3d", [](nb::args arys, StreamArg s) -> nb::object {
        if (arys.size() == 1) return nb::cast(atleast_3d(to_array(arys[0]), sd(s)));
        nb::list l;
        for (auto x : arys) l.append(atleast_3d(to_array(x), sd(s)));
        return l;
      }, "arys"_a, kw, st);
  m.def("view", [](nb::handle a, Dtype t, StreamArg s) { return view(to_array(a), t, sd(s)); }, "a"_a, "dtype"_a, kw, st);

  // ---- indexing ----
  m.def("slice", [](const array& a, const array& start, std::vector<int> axes, std::vector<int> slice_size, StreamArg s) {
        array st_ = start;
        st_.eval();
        std::vector<int> sv;
        auto stc = astype(st_, int32);
        stc.eval();
        stc = contiguous(stc);
        stc.eval();
        for (size_t i = 0; i < stc.size(); ++i) sv.push_back(stc.data<int32_t>()[i]);
        if (sv.size() != axes.size() || slice_size.size() != a.ndim())
          throw ValueError("[slice] start must have one entry per axis and slice_size one per dimension; got mismatched lengths.");
        Shape b(a.ndim(), 0), e = a.shape(), str(a.ndim(), 1);
        for (size_t i = 0; i < axes.size(); ++i) {
          int ax = normalize_axis(axes[i], static_cast<int>(a.ndim()), "slice");
          b[ax] = sv[i];
        }
        for (size_t i = 0; i < a.ndim(); ++i) e[i] = b[i] + slice_size[i];
        return slice(a, b, e, str, sd(s));
      }, "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, kw, st);
  m.def("_slice", [](const array& a, std::vector<int> start, std::vector<int> stop, std::vector<int> strides, StreamArg s) {
        return slice(a, Shape(start.begin(), start.end()), Shape(stop.begin(), stop.end()),
                     Shape(strides.begin(), strides.end()), sd(s));
      }, "a"_a, "start"_a, "stop"_a, "strides"_a, "stream"_a = nb::none());
  m.def("_slice_update", [](const array& a, const array& u, std::vector<int> start, std::vector<int> stop,
                            std::vector<int> strides, StreamArg s) {
        return slice_update(a, u, Shape(start.begin(), start.end()), Shape(stop.begin(), stop.end()),
                            Shape(strides.begin(), strides.end()), sd(s));
      }, "a"_a, "update"_a, "start"_a, "stop"_a, "strides"_a, "stream"_a = nb::none());
  m.def("_scatter", [](const array& a, const array& idx, const array& upd, int axis, int mode, StreamArg s) {
        return scatter(a, idx, upd, axis, static_cast<ScatterMode>(mode), sd(s));
      }, "a"_a, "indices"_a, "updates"_a, "axis"_a, "mode"_a, "stream"_a = nb::none());
  m.def("take", [](const array& a, nb::handle idx, std::optional<int> axis, StreamArg s) {
        array i = nb::isinstance<nb::int_>(idx) ? array(nb::cast<int>(idx), int32) : to_array(idx);
        return axis ? take(a, i, *axis, sd(s)) : take(a, i, sd(s));
      }, "a"_a, "indices"_a, "axis"_a = nb::none(), kw, st);
  m.def("take_along_axis", [](const array& a, const array& idx, std::optional<int> axis, StreamArg s) {
        if (!axis) return take_along_axis(reshape(a, {-1}, sd(s)), reshape(idx, {-1}, sd(s)), 0, sd(s));
        return take_along_axis(a, idx, *axis, sd(s));
      }, "a"_a, "indices"_a, "axis"_a.none(), kw, st);
  m.def("put_along_axis", [](const array& a, const array& idx, nb::handle values, std::optional<int> axis, StreamArg s) {
        array v = to_array_with(values, a.dtype());
        if (!axis) {
          array flat = put_along_axis(reshape(a, {-1}, sd(s)), reshape(idx, {-1}, sd(s)), reshape(v, {-1}, sd(s)), 0, sd(s));
          return reshape(flat, a.shape(), sd(s));
        }
        return put_along_axis(a, idx, v, *axis, sd(s));
      }, "a"_a, "indices"_a, "values"_a, "axis"_a.none(), kw, st);
}
