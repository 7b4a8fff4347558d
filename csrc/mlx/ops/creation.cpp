// Creation ops.
#include <cmath>

#include "mlx/ops.h"

namespace mlx::core {

array arange(double start, double stop, double step, Dtype dtype, SD s) {
  if (step == 0) throw ValueError("[arange] step cannot be zero; got step=0.");
  if (std::isnan(start) || std::isnan(stop) || std::isnan(step))
    throw ValueError("[arange] start, stop and step must not be NaN; got NaN.");
  if (std::isinf(start) || std::isinf(stop))
    throw ValueError("[arange] start and stop must be finite; got an infinite bound.");
  if (dtype == bool_) throw ValueError("[arange] bool is not a supported dtype; got dtype=bool.");
  double n = std::ceil((stop - start) / step);
  if (n > 2147483647.0)
    throw ValueError(msg("[arange] the number of elements must fit in int32; got ", n, "."));
  int size = n > 0 ? static_cast<int>(n) : 0;
  if (is_integral(dtype)) {
    // As NumPy and MLX: the length comes from the float arguments, the values from
    // the truncated start and the integer step trunc(start + step) - trunc(start).
    double st = std::trunc(start);
    step = std::trunc(start + step) - st;
    start = st;
  }
  return array({size}, dtype, std::make_shared<Arange>(to_stream(s), start, stop, step), {});
}

array linspace(double start, double stop, int num, Dtype dtype, SD s) {
  if (num < 0) throw ValueError(msg("[linspace] num must be non-negative; got num=", num, "."));
  // Scalars are made in float32 unless float64 is asked for (no float64 node on a GPU stream).
  auto scalar = [dtype](double v) { return dtype == float64 ? array(v) : array(static_cast<float>(v)); };
  if (num == 1) return astype(reshape(scalar(start), {1}, s), dtype, s);
  double step = num > 1 ? (stop - start) / (num - 1) : 0.0;
  // start + i*step, with the last point exactly stop.
  array idx = arange(0, num, 1, float32, s);
  array r = add(multiply(idx, array(static_cast<float>(step)), s), array(static_cast<float>(start)), s);
  if (dtype == float64) {
    idx = arange(0, num, 1, float64, s);
    r = add(multiply(idx, array(step), s), array(start), s);
  }
  if (num > 1) {
    Shape st{num - 1}, sp{num}, str{1};
    r = slice_update(r, astype(reshape(scalar(stop), {1}, s), r.dtype(), s), st, sp, str, s);
  }
  return astype(r, dtype, s);
}

array full(Shape shape, array vals, Dtype dtype, SD s) {
  for (auto d : shape)
    if (d < 0) throw ValueError(msg("[full] negative dimensions are not allowed; got shape=", shape, "."));
  return broadcast_to(astype(std::move(vals), dtype, s), shape, s);
}
array full(Shape shape, array vals, SD s) {
  Dtype t = vals.dtype();
  return full(std::move(shape), std::move(vals), t, s);
}
array zeros(const Shape& shape, Dtype dtype, SD s) { return full(shape, array(0, dtype), dtype, s); }
array ones(const Shape& shape, Dtype dtype, SD s) { return full(shape, array(1, dtype), dtype, s); }
array zeros_like(const array& a, SD s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, SD s) { return ones(a.shape(), a.dtype(), s); }

array tri(int n, int m, int k, Dtype dtype, SD s) {
  if (n < 0 || m < 0) throw ValueError(msg("[tri] n and m must be non-negative; got n=", n, ", m=", m, "."));
  array r = reshape(arange(0, n, 1, int32, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, int32, s), {1, m}, s);
  return astype(greater_equal(add(r, array(k), s), c, s), dtype, s);
}

array eye(int n, int m, int k, Dtype dtype, SD s) {
  if (n < 0 || m < 0) throw ValueError(msg("[eye] n and m must be non-negative; got n=", n, ", m=", m, "."));
  array r = reshape(arange(0, n, 1, int32, s), {n, 1}, s);
  array c = reshape(arange(0, m, 1, int32, s), {1, m}, s);
  return astype(equal(add(r, array(k), s), c, s), dtype, s);
}

array tril(array x, int k, SD s) {
  if (x.ndim() < 2) throw ValueError(msg("[tril] the array must have at least 2 dimensions; got shape=", x.shape(), "."));
  array mask = tri(x.shape(-2), x.shape(-1), k, bool_, s);
  return where(mask, x, zeros({}, x.dtype(), s), s);
}

array triu(array x, int k, SD s) {
  if (x.ndim() < 2) throw ValueError(msg("[triu] the array must have at least 2 dimensions; got shape=", x.shape(), "."));
  array mask = tri(x.shape(-2), x.shape(-1), k - 1, bool_, s);
  return where(mask, zeros({}, x.dtype(), s), x, s);
}

}  // namespace mlx::core
