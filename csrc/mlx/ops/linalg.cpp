// Ops of mx.linalg: argument checks, then a LAPACK-backed primitive or a composite of ops.
#include "mlx/ops/linalg.h"

#include <cmath>
#include <limits>

namespace mlx::core::linalg {

namespace {

// Linear algebra has no GPU kernels yet: with no stream given it runs on the CPU even when
// the GPU is the default device; on an explicit GPU stream it runs through the GPU backend's
// CPU fallback (LAPACK on the host).
Stream cpu_stream(const char* op, SD s) {
  (void)op;
  if (std::holds_alternative<std::monostate>(s)) return default_stream(Device(Device::cpu));
  return to_stream(s);
}

void check_matrix(const array& a, const char* op) {
  if (a.ndim() < 2)
    throw ValueError(msg("[", op, "] arrays must have at least 2 dimensions; got a.ndim=", a.ndim(),
                         " (shape=", a.shape(), ")."));
}

void check_square(const array& a, const char* op) {
  check_matrix(a, op);
  if (a.shape(-1) != a.shape(-2))
    throw ValueError(msg("[", op, "] only defined for square matrices; got shape=", a.shape(), "."));
}

void check_real_float(Dtype t, const char* op) {
  if (t != float32 && t != float64)
    throw ValueError(msg("[", op, "] arrays must have type float32 or float64; got ", t, "."));
}

void check_inexact(Dtype t, const char* op) {
  if (t != float32 && t != float64 && t != complex64)
    throw ValueError(msg("[", op, "] arrays must have type float32, float64 or complex64; got ", t, "."));
}

// The real type of a float/complex dtype.
Dtype real_of(Dtype t) { return t == complex64 ? float32 : t; }

// x[..., r0:r1, c0:c1].
array slice2(const array& x, int r0, int r1, int c0, int c1, SD s = {}) {
  int nd = static_cast<int>(x.ndim());
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  st[nd - 2] = r0;
  sp[nd - 2] = r1;
  st[nd - 1] = c0;
  sp[nd - 1] = c1;
  return slice(x, st, sp, str, s);
}

// The main diagonal of the last two axes, (..., min(M, N)).
array diag_of(const array& x, SD s = {}) {
  int m = x.shape(-2), n = x.shape(-1);
  array mask = eye(m, n, 0, x.dtype(), s);
  return sum(multiply(x, mask, s), {m <= n ? -1 : -2}, false, s);
}

// Sign of the permutation made by LAPACK's row interchanges: (-1)^(#pivots[i] != i).
array pivot_sign(const array& pivots, Dtype t, SD s) {
  int k = pivots.shape(-1);
  array idx = arange(0, k, 1, uint32, s);
  array swaps = sum(astype(not_equal(pivots, idx, s), int32, s), {-1}, false, s);
  array odd = astype(remainder(swaps, array(2, int32), s), t, s);
  return subtract(astype(array(1.0), t, s), multiply(astype(array(2.0), t, s), odd, s), s);
}

std::vector<array> luf(const array& a, const char* op, SD s) {
  Stream st = cpu_stream(op, s);
  check_matrix(a, op);
  check_real_float(a.dtype(), op);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape batch(a.shape().begin(), a.shape().end() - 2);
  Shape piv = batch, perm = batch;
  piv.push_back(k);
  perm.push_back(m);
  return array::make_arrays({a.shape(), piv, perm, perm}, {a.dtype(), uint32, uint32, uint32},
                            std::make_shared<LUF>(st), {a});
}

// Broadcasts the batch axes of a (..., N, N) and b (..., N, K) against each other.
std::pair<array, array> broadcast_batch(const array& a, const array& b, const char* op, SD s) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, op);
  Shape sa = batch, sb = batch;
  sa.push_back(a.shape(-2));
  sa.push_back(a.shape(-1));
  sb.push_back(b.shape(-2));
  sb.push_back(b.shape(-1));
  return {broadcast_to(a, sa, s), broadcast_to(b, sb, s)};
}

template <typename Prim>
array solve_impl(const array& a_in, const array& b_in, const char* op, SD s,
                 std::shared_ptr<Prim> prim) {
  if (a_in.ndim() < 2)
    throw ValueError(msg("[", op, "] the first input must have at least 2 dimensions; got a.shape=",
                         a_in.shape(), "."));
  if (b_in.ndim() < 1)
    throw ValueError(msg("[", op, "] the second input must have at least 1 dimension; got b.shape=",
                         b_in.shape(), "."));
  if (a_in.shape(-1) != a_in.shape(-2))
    throw ValueError(msg("[", op, "] the first input must be a square matrix; got a.shape=", a_in.shape(), "."));
  bool vec = b_in.ndim() == 1;
  int nb = vec ? b_in.shape(0) : b_in.shape(-2);
  if (nb != a_in.shape(-1))
    throw ValueError(msg("[", op, "] a.shape[-1] must equal ", vec ? "b.shape[0]" : "b.shape[-2]",
                         "; got a.shape=", a_in.shape(), ", b.shape=", b_in.shape(), "."));
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (t != float32 && t != float64)
    throw ValueError(msg("[", op, "] inputs must promote to float32 or float64; got ", a_in.dtype(),
                         " and ", b_in.dtype(), "."));
  array a = astype(a_in, t, s), b = astype(b_in, t, s);
  if (vec) b = expand_dims(b, {1}, s);
  auto [ab, bb] = broadcast_batch(a, b, op, s);
  array x(bb.shape(), t, prim, {ab, bb});
  if (vec) x = squeeze(x, {-1}, s);
  return x;
}

// Vector p-norm over `axis` (one axis), input already made floating.
array vector_norm(const array& x, std::optional<double> ord, int axis, bool keepdims, SD s) {
  std::vector<int> ax{axis};
  array ab = is_complex(x.dtype()) ? abs(x, s) : x;
  Dtype t = ab.dtype();
  if (!ord || *ord == 2.0) {
    array sq = is_complex(x.dtype()) ? square(ab, s) : square(x, s);
    return sqrt(sum(sq, ax, keepdims, s), s);
  }
  double p = *ord;
  if (std::isinf(p)) {
    array m = abs(ab, s);
    return p > 0 ? max(m, ax, keepdims, s) : min(m, ax, keepdims, s);
  }
  if (p == 0) return astype(sum(not_equal(ab, astype(array(0.0), t, s), s), ax, keepdims, s), t, s);
  if (p == 1) return sum(abs(ab, s), ax, keepdims, s);
  array pw = power(abs(ab, s), astype(array(p), t, s), s);
  return power(sum(pw, ax, keepdims, s), astype(array(1.0 / p), t, s), s);
}

// Singular values of the matrices on axes (r, c), as (..., K) with the other axes in order.
array singular_values(const array& x, int r, int c, SD s) {
  int nd = static_cast<int>(x.ndim());
  std::vector<int> perm;
  for (int i = 0; i < nd; ++i)
    if (i != r && i != c) perm.push_back(i);
  perm.push_back(r);
  perm.push_back(c);
  array y = transpose(x, perm, s);
  bool half = y.dtype() == float16 || y.dtype() == bfloat16;
  if (half) y = astype(y, float32, s);
  array sv = svd(y, false, s)[0];
  return half ? astype(sv, x.dtype(), s) : sv;
}

// Restores reduced axes (r, c) as size-1 axes when keepdims.
array keep_matrix_dims(const array& v, int r, int c, bool keepdims, SD s) {
  if (!keepdims) return v;
  return expand_dims(v, {std::min(r, c), std::max(r, c)}, s);
}

array matrix_norm(const array& x, std::optional<double> ord, const std::string* name, int r, int c,
                  bool keepdims, SD s) {
  array ab = is_complex(x.dtype()) ? abs(x, s) : x;
  if (name) {
    if (*name == "fro") return sqrt(sum(square(ab, s), {r, c}, keepdims, s), s);
    if (*name == "nuc") {
      if (x.shape(r) == 0 || x.shape(c) == 0) return sum(square(ab, s), {r, c}, keepdims, s);
      return keep_matrix_dims(sum(singular_values(x, r, c, s), {-1}, false, s), r, c, keepdims, s);
    }
    throw ValueError(msg("[linalg::norm] invalid ord for a matrix norm; got ord='", *name, "'."));
  }
  if (!ord) return sqrt(sum(square(ab, s), {r, c}, keepdims, s), s);
  double p = *ord;
  if (p == 1 || p == -1 || std::isinf(p)) {
    // ord 1: max over columns of column sums; inf: max over rows of row sums.
    int sum_ax = std::isinf(p) ? c : r, red_ax = std::isinf(p) ? r : c;
    array sm = sum(abs(ab, s), {sum_ax}, true, s);
    array res = p > 0 ? max(sm, {red_ax}, true, s) : min(sm, {red_ax}, true, s);
    return keepdims ? res : squeeze(res, {r, c}, s);
  }
  if (p == 2 || p == -2) {
    array sv = singular_values(x, r, c, s);
    array res = p > 0 ? max(sv, {-1}, false, s) : min(sv, {-1}, false, s);
    return keep_matrix_dims(res, r, c, keepdims, s);
  }
  throw ValueError(msg("[linalg::norm] invalid ord for a matrix norm; got ord=", p, "."));
}

array norm_impl(const array& a, std::optional<double> ord, const std::string* name,
                const std::optional<std::vector<int>>& axis, bool keepdims, SD s) {
  array x = is_inexact(a.dtype()) ? a : astype(a, float32, s);
  std::vector<int> axes;
  if (!axis) {
    if (!ord && !name) {
      array ab = is_complex(x.dtype()) ? abs(x, s) : x;
      return sqrt(sum(square(ab, s), all_axes(x), keepdims, s), s);
    }
    if (x.ndim() == 1) axes = {0};
    else if (x.ndim() == 2) axes = {0, 1};
    else
      throw ValueError(msg("[linalg::norm] with ord given and axis=None the input must be 1-d or 2-d; got ndim=",
                           x.ndim(), "."));
  } else {
    axes = normalize_axes(*axis, static_cast<int>(x.ndim()), "linalg::norm");
  }
  if (axes.size() == 1) {
    if (name)
      throw ValueError(msg("[linalg::norm] norm '", *name, "' is only supported for matrices; got 1 axis."));
    return vector_norm(x, ord, axes[0], keepdims, s);
  }
  if (axes.size() == 2) return matrix_norm(x, ord, name, axes[0], axes[1], keepdims, s);
  throw ValueError(msg("[linalg::norm] axis must name 1 or 2 axes; got ", axes.size(), " axes."));
}

}  // namespace

array norm(const array& a, std::optional<double> ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, SD s) {
  return norm_impl(a, ord, nullptr, axis, keepdims, s);
}

array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis,
           bool keepdims, SD s) {
  if (ord != "fro" && ord != "nuc")
    throw ValueError(msg("[linalg::norm] ord must be a number, 'fro' or 'nuc'; got ord='", ord, "'."));
  return norm_impl(a, std::nullopt, &ord, axis, keepdims, s);
}

array inv(const array& a, SD s) {
  Stream st = cpu_stream("linalg::inv", s);
  check_square(a, "linalg::inv");
  check_real_float(a.dtype(), "linalg::inv");
  return array(a.shape(), a.dtype(), std::make_shared<Inverse>(st, false, false), {a});
}

array tri_inv(const array& a, bool upper, SD s) {
  Stream st = cpu_stream("linalg::tri_inv", s);
  check_square(a, "linalg::tri_inv");
  check_real_float(a.dtype(), "linalg::tri_inv");
  return array(a.shape(), a.dtype(), std::make_shared<Inverse>(st, true, upper), {a});
}

array cholesky(const array& a, bool upper, SD s) {
  Stream st = cpu_stream("linalg::cholesky", s);
  check_square(a, "linalg::cholesky");
  check_real_float(a.dtype(), "linalg::cholesky");
  return array(a.shape(), a.dtype(), std::make_shared<Cholesky>(st, upper), {a});
}

array cholesky_inv(const array& l, bool upper, SD s) {
  cpu_stream("linalg::cholesky_inv", s);
  check_square(l, "linalg::cholesky_inv");
  check_real_float(l.dtype(), "linalg::cholesky_inv");
  array li = tri_inv(l, upper, s);
  array lt = swapaxes(li, -1, -2, s);
  // A = L L^T gives A^-1 = L^-T L^-1; A = U^T U gives A^-1 = U^-1 U^-T.
  return upper ? matmul(li, lt, s) : matmul(lt, li, s);
}

array pinv(const array& a, SD s) {
  cpu_stream("linalg::pinv", s);
  check_matrix(a, "linalg::pinv");
  check_real_float(a.dtype(), "linalg::pinv");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape out_shape = a.shape();
  out_shape[out_shape.size() - 2] = n;
  out_shape[out_shape.size() - 1] = m;
  if (k == 0) return zeros(out_shape, a.dtype(), s);
  auto usv = svd(a, true, s);
  array u = slice2(usv[0], 0, m, 0, k, s);
  array vt = slice2(usv[2], 0, k, 0, n, s);
  array sv = usv[1];
  double eps = a.dtype() == float64 ? std::numeric_limits<double>::epsilon()
                                    : std::numeric_limits<float>::epsilon();
  array cutoff = multiply(max(sv, {-1}, true, s), astype(array(eps * std::max(m, n)), a.dtype(), s), s);
  array keep = greater(sv, cutoff, s);
  array one = astype(array(1.0), a.dtype(), s);
  array sinv = where(keep, reciprocal(where(keep, sv, one, s), s), zeros_like(sv, s), s);
  // pinv = V diag(1/s) U^T
  array ut = multiply(expand_dims(sinv, {-1}, s), swapaxes(u, -1, -2, s), s);
  return matmul(swapaxes(vt, -1, -2, s), ut, s);
}

std::pair<array, array> qr(const array& a, SD s) {
  Stream st = cpu_stream("linalg::qr", s);
  check_matrix(a, "linalg::qr");
  check_real_float(a.dtype(), "linalg::qr");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape qs = a.shape(), rs = a.shape();
  qs[qs.size() - 1] = k;
  rs[rs.size() - 2] = k;
  auto out = array::make_arrays({qs, rs}, {a.dtype(), a.dtype()}, std::make_shared<QRF>(st), {a});
  return {out[0], out[1]};
}

std::vector<array> svd(const array& a, bool compute_uv, SD s) {
  Stream st = cpu_stream("linalg::svd", s);
  check_matrix(a, "linalg::svd");
  check_inexact(a.dtype(), "linalg::svd");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Shape batch(a.shape().begin(), a.shape().end() - 2);
  Shape ss = batch, us = batch, vs = batch;
  ss.push_back(k);
  us.insert(us.end(), {m, m});
  vs.insert(vs.end(), {n, n});
  auto prim = std::make_shared<SVD>(st, compute_uv);
  if (!compute_uv) return {array(ss, real_of(a.dtype()), prim, {a})};
  return array::make_arrays({us, ss, vs}, {a.dtype(), real_of(a.dtype()), a.dtype()}, prim, {a});
}

std::pair<array, array> eig(const array& a, SD s) {
  Stream st = cpu_stream("linalg::eig", s);
  check_square(a, "linalg::eig");
  check_inexact(a.dtype(), "linalg::eig");
  Shape ws(a.shape().begin(), a.shape().end() - 1);
  auto out = array::make_arrays({ws, a.shape()}, {complex64, complex64},
                                std::make_shared<Eig>(st, true), {a});
  return {out[0], out[1]};
}

array eigvals(const array& a, SD s) {
  Stream st = cpu_stream("linalg::eigvals", s);
  check_square(a, "linalg::eigvals");
  check_inexact(a.dtype(), "linalg::eigvals");
  Shape ws(a.shape().begin(), a.shape().end() - 1);
  return array(ws, complex64, std::make_shared<Eig>(st, false), {a});
}

namespace {
bool parse_uplo(const std::string& uplo, const char* op) {
  if (uplo != "L" && uplo != "U")
    throw ValueError(msg("[", op, "] UPLO must be 'L' or 'U'; got UPLO='", uplo, "'."));
  return uplo == "U";
}
}  // namespace

std::pair<array, array> eigh(const array& a, const std::string& uplo, SD s) {
  Stream st = cpu_stream("linalg::eigh", s);
  bool upper = parse_uplo(uplo, "linalg::eigh");
  check_square(a, "linalg::eigh");
  check_inexact(a.dtype(), "linalg::eigh");
  Shape ws(a.shape().begin(), a.shape().end() - 1);
  auto out = array::make_arrays({ws, a.shape()}, {real_of(a.dtype()), a.dtype()},
                                std::make_shared<Eigh>(st, upper, true), {a});
  return {out[0], out[1]};
}

array eigvalsh(const array& a, const std::string& uplo, SD s) {
  Stream st = cpu_stream("linalg::eigvalsh", s);
  bool upper = parse_uplo(uplo, "linalg::eigvalsh");
  check_square(a, "linalg::eigvalsh");
  check_inexact(a.dtype(), "linalg::eigvalsh");
  Shape ws(a.shape().begin(), a.shape().end() - 1);
  return array(ws, real_of(a.dtype()), std::make_shared<Eigh>(st, upper, false), {a});
}

std::pair<array, array> lu_factor(const array& a, SD s) {
  auto r = luf(a, "linalg::lu_factor", s);
  return {r[0], r[1]};
}

std::vector<array> lu(const array& a, SD s) {
  auto r = luf(a, "linalg::lu", s);
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  array l = add(tril(slice2(r[0], 0, m, 0, k, s), -1, s), eye(m, k, 0, a.dtype(), s), s);
  array u = triu(slice2(r[0], 0, k, 0, n, s), 0, s);
  return {r[2], l, u};
}

array det(const array& a, SD s) {
  check_square(a, "linalg::det");
  if (is_complex(a.dtype()))
    throw ValueError(msg("[linalg::det] complex inputs are not supported; got ", a.dtype(), "."));
  array x = is_inexact(a.dtype()) ? a : astype(a, float32, s);
  auto r = luf(x, "linalg::det", s);
  return multiply(pivot_sign(r[1], x.dtype(), s), prod(diag_of(r[0], s), {-1}, false, s), s);
}

std::pair<array, array> slogdet(const array& a, SD s) {
  check_square(a, "linalg::slogdet");
  if (is_complex(a.dtype()))
    throw ValueError(msg("[linalg::slogdet] complex inputs are not supported; got ", a.dtype(), "."));
  array x = is_inexact(a.dtype()) ? a : astype(a, float32, s);
  auto r = luf(x, "linalg::slogdet", s);
  array d = diag_of(r[0], s);
  array sgn = multiply(pivot_sign(r[1], x.dtype(), s), prod(sign(d, s), {-1}, false, s), s);
  array logabs = sum(log(abs(d, s), s), {-1}, false, s);
  return {sgn, logabs};
}

array solve(const array& a, const array& b, SD s) {
  Stream st = cpu_stream("linalg::solve", s);
  return solve_impl(a, b, "linalg::solve", s, std::make_shared<Solve>(st));
}

array solve_triangular(const array& a, const array& b, bool upper, SD s) {
  Stream st = cpu_stream("linalg::solve_triangular", s);
  return solve_impl(a, b, "linalg::solve_triangular", s, std::make_shared<SolveTriangular>(st, upper));
}

array cross(const array& a, const array& b, int axis, SD s) {
  int na = static_cast<int>(a.ndim()), nb = static_cast<int>(b.ndim());
  if (na == 0 || nb == 0)
    throw ValueError(msg("[linalg::cross] inputs must have at least 1 dimension; got shapes ", a.shape(),
                         " and ", b.shape(), "."));
  int axa = normalize_axis(axis, na, "linalg::cross"), axb = normalize_axis(axis, nb, "linalg::cross");
  int da = a.shape(axa), db = b.shape(axb);
  if ((da != 2 && da != 3) || (db != 2 && db != 3))
    throw ValueError(msg("[linalg::cross] the axis must have size 2 or 3; got sizes ", da, " and ", db, "."));
  Dtype t = promote_types(a.dtype(), b.dtype());
  auto prep = [&](const array& x, int ax, int d) {
    array y = moveaxis(astype(x, t, s), ax, -1, s);
    if (d == 2) {
      std::vector<std::pair<int, int>> w(y.ndim(), {0, 0});
      w.back() = {0, 1};
      y = pad(y, w, astype(array(0), t, s), "constant", s);
    }
    return y;
  };
  array x = prep(a, axa, da), y = prep(b, axb, db);
  auto parts = [&](const array& v) {
    std::vector<array> c;
    int nd = static_cast<int>(v.ndim());
    for (int i = 0; i < 3; ++i) {
      Shape st(nd, 0), sp = v.shape(), str(nd, 1);
      st[nd - 1] = i;
      sp[nd - 1] = i + 1;
      c.push_back(slice(v, st, sp, str, s));
    }
    return c;
  };
  auto u = parts(x), v = parts(y);
  array c0 = subtract(multiply(u[1], v[2], s), multiply(u[2], v[1], s), s);
  array c1 = subtract(multiply(u[2], v[0], s), multiply(u[0], v[2], s), s);
  array c2 = subtract(multiply(u[0], v[1], s), multiply(u[1], v[0], s), s);
  array c = concatenate({c0, c1, c2}, -1, s);
  int nd = static_cast<int>(c.ndim());
  return moveaxis(c, -1, normalize_axis(axis, nd, "linalg::cross"), s);
}

}  // namespace mlx::core::linalg
