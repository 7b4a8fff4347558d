// vjp/jvp/vmap rules of the linalg primitives. Derivatives are for real inputs; matrix
// derivatives of symmetric-input factorizations (cholesky, eigh) are symmetrized.
#include "mlx/ops/linalg.h"

namespace mlx::core {

#define SAME_AS(CLS, ...)                                            \
  bool CLS::is_equivalent(const Primitive& o) const {                \
    auto* p = dynamic_cast<const CLS*>(&o);                          \
    return p && __VA_ARGS__;                                         \
  }
SAME_AS(Inverse, p->tri_ == tri_ && p->upper_ == upper_)
SAME_AS(Cholesky, p->upper_ == upper_)
SAME_AS(SVD, p->compute_uv_ == compute_uv_)
SAME_AS(Eig, p->compute_vectors_ == compute_vectors_)
SAME_AS(Eigh, p->upper_ == upper_ && p->compute_vectors_ == compute_vectors_)
SAME_AS(SolveTriangular, p->upper_ == upper_)
#undef SAME_AS

namespace {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

array mT(const array& x, Stream s) { return swapaxes(x, -1, -2, s); }
array mm(const array& a, const array& b, Stream s) { return matmul(a, b, s); }
array tri(const array& x, bool upper, Stream s) { return upper ? triu(x, 0, s) : tril(x, 0, s); }

// x[..., r0:r1, c0:c1]
array sl2(const array& x, int r0, int r1, int c0, int c1, Stream s) {
  int nd = static_cast<int>(x.ndim());
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  st[nd - 2] = r0;
  sp[nd - 2] = r1;
  st[nd - 1] = c0;
  sp[nd - 1] = c1;
  return slice(x, st, sp, str, s);
}

array eye_like(int n, const array& x, Stream s) { return eye(n, n, 0, x.dtype(), s); }
// diag(v) for v (..., K): (..., K, K).
array diag_mat(const array& v, Stream s) {
  int k = v.shape(-1);
  return multiply(expand_dims(v, {-1}, s), eye(k, k, 0, v.dtype(), s), s);
}
// The main diagonal of square matrices.
array diag_vec(const array& x, Stream s) {
  return sum(multiply(x, eye_like(x.shape(-1), x, s), s), {-1}, false, s);
}
// F_ij = 1 / (d_j - d_i) off the diagonal, 0 on it.
array inv_gaps(const array& d, Stream s) {
  int k = d.shape(-1);
  array diff = subtract(expand_dims(d, {-2}, s), expand_dims(d, {-1}, s), s);
  array on = astype(eye(k, k, 0, bool_, s), bool_, s);
  array one = astype(array(1.0), d.dtype(), s);
  return where(on, zeros_like(diff, s), reciprocal(where(on, broadcast_to(one, diff.shape(), s), diff, s), s), s);
}
// X R^-1 for upper-triangular R.
array right_solve_upper(const array& x, const array& r, Stream s) {
  return mT(linalg::solve_triangular(mT(r, s), mT(x, s), false, s), s);
}
// X R^-T for upper-triangular R.
array right_solve_upper_t(const array& x, const array& r, Stream s) {
  return mT(linalg::solve_triangular(r, mT(x, s), true, s), s);
}

void require_real(const array& x, const char* prim, const char* what) {
  if (is_complex(x.dtype()))
    throw ValueError(msg("[", prim, "] the ", what, " is only implemented for real inputs; got ", x.dtype(), "."));
}

// Moves batch axes to the front; unbatched inputs get a broadcast batch axis.
Arrs batch_front(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = in;
  int B = 1;
  for (size_t i = 0; i < x.size(); ++i)
    if (axes[i] >= 0) B = x[i].shape(axes[i]);
  for (size_t i = 0; i < x.size(); ++i) {
    if (axes[i] >= 0) {
      x[i] = moveaxis(x[i], axes[i], 0);
    } else {
      Shape sh = x[i].shape();
      sh.insert(sh.begin(), B);
      x[i] = broadcast_to(expand_dims(x[i], {0}), sh);
    }
  }
  return x;
}

// Batches the outputs of a multi-output node: same shapes with a leading B.
Arrs remake(const std::shared_ptr<Primitive>& p, const Arrs& x, const std::vector<Shape>& shapes,
            const std::vector<Dtype>& dtypes) {
  if (shapes.size() == 1) return {array(shapes[0], dtypes[0], p, x)};
  return array::make_arrays(shapes, dtypes, p, x);
}

// ---- shared derivative formulas ----

// Cholesky (lower L, A = L L^T): gA for cotangent gl.
array cholesky_vjp_lower(const array& l, const array& gl, Stream s) {
  array p = mm(mT(l, s), gl, s);
  array phi = subtract(tril(p, 0, s), multiply(astype(array(0.5), p.dtype(), s),
                                               multiply(p, eye_like(p.shape(-1), p, s), s), s), s);
  array li = linalg::tri_inv(l, false, s);
  array g = mm(mm(mT(li, s), phi, s), li, s);
  return multiply(astype(array(0.5), g.dtype(), s), add(g, mT(g, s), s), s);
}

// QR with M >= N: gA for cotangents (gq, gr).
array qr_vjp_tall(const array& q, const array& r, const array& gq, const array& gr, Stream s) {
  array w = subtract(mm(mT(q, s), gq, s), mm(gr, mT(r, s), s), s);
  array symu = add(triu(w, 0, s), mT(triu(w, 1, s), s), s);
  return right_solve_upper_t(subtract(gq, mm(q, symu, s), s), r, s);
}

// QR with M >= N: (dQ, dR) for tangent da.
std::pair<array, array> qr_jvp_tall(const array& q, const array& r, const array& da, Stream s) {
  array c = right_solve_upper(da, r, s);
  array p = mm(mT(q, s), c, s);
  array pl = tril(p, -1, s);
  array om = subtract(pl, mT(pl, s), s);
  array dq = add(mm(q, subtract(om, p, s), s), c, s);
  array dr = mm(subtract(p, om, s), r, s);
  return {dq, dr};
}

}  // namespace

// ---------- Inverse ----------
std::vector<array> Inverse::vjp(const Arrs&, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  array xt = mT(out[0], s);
  array g = negative(mm(mm(xt, ct[0], s), xt, s), s);
  return {tri_ ? tri(g, upper_, s) : g};
}
std::vector<array> Inverse::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  array x = tri_ ? linalg::tri_inv(p[0], upper_, s) : linalg::inv(p[0], s);
  array da = tri_ ? tri(t[0], upper_, s) : t[0];
  return {negative(mm(mm(x, da, s), x, s), s)};
}
VmapOut Inverse::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  return {{tri_ ? linalg::tri_inv(x, upper_, stream()) : linalg::inv(x, stream())}, {0}};
}

// ---------- Cholesky ----------
std::vector<array> Cholesky::vjp(const Arrs&, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  array l = upper_ ? mT(out[0], s) : out[0];
  array gl = upper_ ? mT(ct[0], s) : ct[0];
  return {cholesky_vjp_lower(l, gl, s)};
}
std::vector<array> Cholesky::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  array l = linalg::cholesky(p[0], false, s);
  array half = astype(array(0.5), l.dtype(), s);
  array das = multiply(half, add(t[0], mT(t[0], s), s), s);
  array li = linalg::tri_inv(l, false, s);
  array x = mm(mm(li, das, s), mT(li, s), s);
  array phi = subtract(tril(x, 0, s), multiply(half, multiply(x, eye_like(x.shape(-1), x, s), s), s), s);
  array dl = mm(l, phi, s);
  return {upper_ ? mT(dl, s) : dl};
}
VmapOut Cholesky::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  return {{linalg::cholesky(x, upper_, stream())}, {0}};
}

// ---------- QRF ----------
std::vector<array> QRF::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  const array& a = p[0];
  const array &q = out[0], &r = out[1];
  int m = a.shape(-2), n = a.shape(-1);
  if (m >= n) return {qr_vjp_tall(q, r, ct[0], ct[1], s)};
  // Wide: A = [X | Y] = Q [R1 | R2]; Y's block enters through R2 = Q^T Y.
  array y = sl2(a, 0, m, m, n, s);
  array r1 = sl2(r, 0, m, 0, m, s);
  array gr1 = sl2(ct[1], 0, m, 0, m, s), gr2 = sl2(ct[1], 0, m, m, n, s);
  array gq = add(ct[0], mm(y, mT(gr2, s), s), s);
  array gx = qr_vjp_tall(q, r1, gq, gr1, s);
  array gy = mm(q, gr2, s);
  return {concatenate({gx, gy}, -1, s)};
}
std::vector<array> QRF::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  const array& a = p[0];
  auto [q, r] = linalg::qr(a, s);
  int m = a.shape(-2), n = a.shape(-1);
  if (m >= n) {
    auto [dq, dr] = qr_jvp_tall(q, r, t[0], s);
    return {dq, dr};
  }
  array y = sl2(a, 0, m, m, n, s);
  array r1 = sl2(r, 0, m, 0, m, s);
  auto [dq, dr1] = qr_jvp_tall(q, r1, sl2(t[0], 0, m, 0, m, s), s);
  array dr2 = add(mm(mT(dq, s), y, s), mm(mT(q, s), sl2(t[0], 0, m, m, n, s), s), s);
  return {dq, concatenate({dr1, dr2}, -1, s)};
}
VmapOut QRF::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  auto [q, r] = linalg::qr(x, stream());
  return {{q, r}, {0, 0}};
}

// ---------- SVD ----------
std::vector<array> SVD::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  const array& a = p[0];
  require_real(a, "linalg::svd", "vjp");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Arrs usv = compute_uv_ ? out : linalg::svd(a, true, s);
  array uk = sl2(usv[0], 0, m, 0, k, s);
  array vk = mT(sl2(usv[2], 0, k, 0, n, s), s);
  array sv = usv[1];
  array gs = compute_uv_ ? ct[1] : ct[0];
  array inner = diag_mat(gs, s);
  if (!compute_uv_) return {mm(mm(uk, inner, s), mT(vk, s), s)};
  // The columns of U (Vt rows) past K are not determined by A; their cotangents are dropped.
  array gu = sl2(ct[0], 0, m, 0, k, s);
  array gv = mT(sl2(ct[2], 0, k, 0, n, s), s);
  array f = inv_gaps(square(sv, s), s);
  array utgu = mm(mT(uk, s), gu, s), vtgv = mm(mT(vk, s), gv, s);
  array j = multiply(f, subtract(utgu, mT(utgu, s), s), s);
  array kk = multiply(f, subtract(vtgv, mT(vtgv, s), s), s);
  array srow = expand_dims(sv, {-2}, s), scol = expand_dims(sv, {-1}, s);
  inner = add(inner, add(multiply(j, srow, s), multiply(scol, kk, s), s), s);
  array ga = mm(mm(uk, inner, s), mT(vk, s), s);
  array sinv = reciprocal(sv, s);
  if (m > k) {
    array proj = subtract(gu, mm(uk, utgu, s), s);  // (I - U U^T) gU
    ga = add(ga, mm(multiply(proj, expand_dims(sinv, {-2}, s), s), mT(vk, s), s), s);
  }
  if (n > k) {
    array proj = subtract(gv, mm(vk, vtgv, s), s);  // (I - V V^T) gV
    ga = add(ga, mm(multiply(uk, expand_dims(sinv, {-2}, s), s), mT(proj, s), s), s);
  }
  return {ga};
}
std::vector<array> SVD::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  const array& a = p[0];
  require_real(a, "linalg::svd", "jvp");
  int m = a.shape(-2), n = a.shape(-1), k = std::min(m, n);
  Arrs usv = linalg::svd(a, true, s);
  array uk = sl2(usv[0], 0, m, 0, k, s);
  array vk = mT(sl2(usv[2], 0, k, 0, n, s), s);
  array sv = usv[1];
  const array& da = t[0];
  array dp = mm(mm(mT(uk, s), da, s), vk, s);
  array ds = diag_vec(dp, s);
  if (!compute_uv_) return {ds};
  array f = inv_gaps(square(sv, s), s);
  array srow = expand_dims(sv, {-2}, s), scol = expand_dims(sv, {-1}, s);
  array sinv_row = expand_dims(reciprocal(sv, s), {-2}, s);
  // dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1, and alike for V.
  array du = mm(uk, multiply(f, add(multiply(dp, srow, s), multiply(scol, mT(dp, s), s), s), s), s);
  array dv = mm(vk, multiply(f, add(multiply(scol, dp, s), multiply(mT(dp, s), srow, s), s), s), s);
  if (m > k) {
    array adv = mm(da, vk, s);
    du = add(du, multiply(subtract(adv, mm(uk, mm(mT(uk, s), adv, s), s), s), sinv_row, s), s);
  }
  if (n > k) {
    array atu = mm(mT(da, s), uk, s);
    dv = add(dv, multiply(subtract(atu, mm(vk, mm(mT(vk, s), atu, s), s), s), sinv_row, s), s);
  }
  // The trailing columns only need to stay orthonormal: dU_e = -U (dU^T U_e).
  if (m > k) {
    array ue = sl2(usv[0], 0, m, k, m, s);
    du = concatenate({du, negative(mm(uk, mm(mT(du, s), ue, s), s), s)}, -1, s);
  }
  if (n > k) {
    array ve = mT(sl2(usv[2], k, n, 0, n, s), s);
    dv = concatenate({dv, negative(mm(vk, mm(mT(dv, s), ve, s), s), s)}, -1, s);
  }
  return {du, ds, mT(dv, s)};
}
VmapOut SVD::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  auto r = linalg::svd(x, compute_uv_, stream());
  return {r, std::vector<int>(r.size(), 0)};
}

// ---------- Eig ----------
std::vector<array> Eig::vjp(const Arrs&, const Arrs&, const std::vector<int>&, const Arrs&) {
  throw ValueError("[linalg::eig] the vjp is not implemented; got a gradient request.");
}
std::vector<array> Eig::jvp(const Arrs&, const Arrs&, const std::vector<int>&) {
  throw ValueError("[linalg::eig] the jvp is not implemented; got a jvp request.");
}
VmapOut Eig::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  if (!compute_vectors_) return {{linalg::eigvals(x, stream())}, {0}};
  auto [w, v] = linalg::eig(x, stream());
  return {{w, v}, {0, 0}};
}

// ---------- Eigh ----------
std::vector<array> Eigh::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  require_real(p[0], "linalg::eigh", "vjp");
  const char* uplo = upper_ ? "U" : "L";
  array w = out[0];
  array v = compute_vectors_ ? out[1] : linalg::eigh(p[0], uplo, s).second;
  array inner = diag_mat(ct[0], s);
  if (compute_vectors_)
    inner = add(inner, multiply(inv_gaps(w, s), mm(mT(v, s), ct[1], s), s), s);
  array g = mm(mm(v, inner, s), mT(v, s), s);
  return {multiply(astype(array(0.5), g.dtype(), s), add(g, mT(g, s), s), s)};
}
std::vector<array> Eigh::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  require_real(p[0], "linalg::eigh", "jvp");
  auto [w, v] = linalg::eigh(p[0], upper_ ? "U" : "L", s);
  array das = multiply(astype(array(0.5), w.dtype(), s), add(t[0], mT(t[0], s), s), s);
  array pm = mm(mm(mT(v, s), das, s), v, s);
  array dw = diag_vec(pm, s);
  if (!compute_vectors_) return {dw};
  return {dw, mm(v, multiply(inv_gaps(w, s), pm, s), s)};
}
VmapOut Eigh::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = batch_front(in, axes)[0];
  const char* uplo = upper_ ? "U" : "L";
  if (!compute_vectors_) return {{linalg::eigvalsh(x, uplo, stream())}, {0}};
  auto [w, v] = linalg::eigh(x, uplo, stream());
  return {{w, v}, {0, 0}};
}

// ---------- LUF ----------
// With A = P L U (A[i] = (L U)[p[i]]) and F = L^-1 P^T dA U^-1: dL = L tril(F, -1), dU = triu(F) U.
std::vector<array> LUF::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs& out) {
  Stream s = stream();
  const array& a = p[0];
  if (a.shape(-1) != a.shape(-2))
    throw ValueError(msg("[linalg::lu] the vjp is only implemented for square matrices; got shape=", a.shape(), "."));
  int n = a.shape(-1);
  array l = add(tril(out[0], -1, s), eye_like(n, a, s), s);
  array u = triu(out[0], 0, s);
  array gl = tril(ct[0], -1, s), gu = triu(ct[0], 0, s);
  array mid = add(tril(mm(mT(l, s), gl, s), -1, s), triu(mm(gu, mT(u, s), s), 0, s), s);
  array z = linalg::solve_triangular(mT(l, s), mid, true, s);  // L^-T M
  z = right_solve_upper_t(z, u, s);                            // ... U^-T
  array idx = broadcast_to(expand_dims(out[2], {-1}, s), a.shape(), s);
  return {take_along_axis(z, idx, -2, s)};
}
std::vector<array> LUF::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  Stream s = stream();
  const array& a = p[0];
  if (a.shape(-1) != a.shape(-2))
    throw ValueError(msg("[linalg::lu] the jvp is only implemented for square matrices; got shape=", a.shape(), "."));
  int n = a.shape(-1);
  Shape perm(a.shape().begin(), a.shape().end() - 1);
  auto r = array::make_arrays({a.shape(), perm, perm, perm}, {a.dtype(), uint32, uint32, uint32},
                              std::make_shared<LUF>(s), {a});
  array l = add(tril(r[0], -1, s), eye_like(n, a, s), s);
  array u = triu(r[0], 0, s);
  // (L U)[i] = A[q[i]].
  array q = r[3];
  array dap = take_along_axis(t[0], broadcast_to(expand_dims(q, {-1}, s), a.shape(), s), -2, s);
  array f = linalg::solve_triangular(l, dap, false, s);
  f = right_solve_upper(f, u, s);
  array dlu = add(mm(l, tril(f, -1, s), s), mm(triu(f, 0, s), u, s), s);
  Shape piv_shape(a.shape().begin(), a.shape().end() - 1);
  return {dlu, zeros(piv_shape, uint32, s), zeros(piv_shape, uint32, s), zeros(piv_shape, uint32, s)};
}
VmapOut LUF::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = batch_front(in, axes);
  int m = x[0].shape(-2), n = x[0].shape(-1), k = std::min(m, n);
  Shape batch(x[0].shape().begin(), x[0].shape().end() - 2);
  Shape piv = batch, perm = batch;
  piv.push_back(k);
  perm.push_back(m);
  auto r = remake(std::make_shared<LUF>(stream()), x, {x[0].shape(), piv, perm, perm},
                  {x[0].dtype(), uint32, uint32, uint32});
  return {r, {0, 0, 0, 0}};
}

// ---------- Solve ----------
std::vector<array> Solve::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs& out) {
  Stream s = stream();
  array gb = linalg::solve(mT(p[0], s), ct[0], s);
  Arrs res;
  for (int arg : argnums) res.push_back(arg == 1 ? gb : negative(mm(gb, mT(out[0], s), s), s));
  return res;
}
std::vector<array> Solve::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  Stream s = stream();
  array x = linalg::solve(p[0], p[1], s);
  array rhs = zeros_like(x, s);
  for (size_t i = 0; i < argnums.size(); ++i)
    rhs = argnums[i] == 1 ? add(rhs, t[i], s) : subtract(rhs, mm(t[i], x, s), s);
  return {linalg::solve(p[0], rhs, s)};
}
VmapOut Solve::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = batch_front(in, axes);
  return {{array(x[1].shape(), x[1].dtype(), std::make_shared<Solve>(stream()), x)}, {0}};
}

// ---------- SolveTriangular ----------
std::vector<array> SolveTriangular::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums,
                                        const Arrs& out) {
  Stream s = stream();
  array gb = linalg::solve_triangular(mT(p[0], s), ct[0], !upper_, s);
  Arrs res;
  for (int arg : argnums)
    res.push_back(arg == 1 ? gb : negative(tri(mm(gb, mT(out[0], s), s), upper_, s), s));
  return res;
}
std::vector<array> SolveTriangular::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  Stream s = stream();
  array x = linalg::solve_triangular(p[0], p[1], upper_, s);
  array rhs = zeros_like(x, s);
  for (size_t i = 0; i < argnums.size(); ++i)
    rhs = argnums[i] == 1 ? add(rhs, t[i], s) : subtract(rhs, mm(tri(t[i], upper_, s), x, s), s);
  return {linalg::solve_triangular(p[0], rhs, upper_, s)};
}
VmapOut SolveTriangular::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs x = batch_front(in, axes);
  return {{array(x[1].shape(), x[1].dtype(), std::make_shared<SolveTriangular>(stream(), upper_), x)}, {0}};
}

}  // namespace mlx::core
