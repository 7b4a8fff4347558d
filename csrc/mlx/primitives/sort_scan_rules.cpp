// vjp / jvp / vmap rules of the sort/scan primitives.
#include <cmath>
#include <limits>

#include "mlx/ops/sort_scan.h"

namespace mlx::core {

bool Scan::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Scan*>(&o);
  return p && p->type_ == type_ && p->axis_ == axis_ && p->reverse_ == reverse_ && p->inclusive_ == inclusive_;
}
bool Sort::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Sort*>(&o);
  return p && p->axis_ == axis_;
}
bool ArgSort::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgSort*>(&o);
  return p && p->axis_ == axis_;
}
bool Partition::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Partition*>(&o);
  return p && p->axis_ == axis_ && p->kth_ == kth_;
}
bool ArgPartition::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgPartition*>(&o);
  return p && p->axis_ == axis_ && p->kth_ == kth_;
}
bool SearchSorted::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const SearchSorted*>(&o);
  return p && p->right_ == right_;
}
bool Hadamard::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Hadamard*>(&o);
  return p && p->scale_ == scale_ && p->transpose_ == transpose_;
}
bool GatherMM::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const GatherMM*>(&o);
  return p && p->sorted_ == sorted_;
}

namespace {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

// Moves the batch axis (if any) to 0; returns whether the input was batched.
bool batch_front(array& x, int ax) {
  if (ax < 0) return false;
  if (ax != 0) x = moveaxis(x, ax, 0);
  return true;
}

array scalar_as(double v, Dtype t) { return astype(array(v), t); }

array scan_node(const array& x, ScanType t, int axis, bool reverse, bool inclusive, Stream s) {
  return array(x.shape(), x.dtype(), std::make_shared<Scan>(s, t, axis, reverse, inclusive), {x});
}

array flip_axis(const array& x, int axis) {
  int nd = static_cast<int>(x.ndim());
  int n = x.shape(axis);
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  st[axis] = n - 1;
  sp[axis] = -n - 1;
  str[axis] = -1;
  return slice(x, st, sp, str);
}

// [fill, x_0, ..., x_{n-2}] along axis.
array shift_right(const array& x, int axis, const array& fill) {
  int nd = static_cast<int>(x.ndim());
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  sp[axis] = x.shape(axis) - 1;
  Shape fs = x.shape();
  fs[axis] = 1;
  return concatenate({broadcast_to(astype(fill, x.dtype()), fs), slice(x, st, sp, str)}, axis);
}

// [x_1, ..., x_{n-1}, 0] along axis.
array shift_left(const array& x, int axis) {
  int nd = static_cast<int>(x.ndim());
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  st[axis] = 1;
  Shape fs = x.shape();
  fs[axis] = 1;
  return concatenate({slice(x, st, sp, str), zeros(fs, x.dtype())}, axis);
}

array identity_of(ScanType t, Dtype d) {
  switch (t) {
    case ScanType::Sum: return scalar_as(0, d);
    case ScanType::Prod: return scalar_as(1, d);
    case ScanType::Max: return scalar_as(-INFINITY, d);
    case ScanType::Min: return scalar_as(INFINITY, d);
    default: return scalar_as(-INFINITY, d);
  }
}

// Index along `axis` as an int32 array broadcastable against x.
array axis_iota(const array& x, int axis) {
  Shape sh(x.ndim(), 1);
  sh[axis] = x.shape(axis);
  return reshape(arange(0, x.shape(axis), 1, int32), sh);
}

// For an inclusive forward cummax/cummin: the index each output value came from (the
// latest position that attains it).
array running_arg(const array& x, ScanType t, int axis, Stream s) {
  array y = scan_node(x, t, axis, false, true, s);
  array hit = equal(x, y);
  array iota = broadcast_to(axis_iota(x, axis), x.shape());
  array idx = where(hit, iota, scalar_as(-1, int32));
  idx = scan_node(idx, ScanType::Max, axis, false, true, s);
  return maximum(idx, scalar_as(0, int32));
}

// Masks for an inclusive forward cumprod: positions before the first zero and the first zero.
std::pair<array, array> zero_masks(const array& x, int axis, Stream s) {
  array is_zero = equal(x, scalar_as(0, x.dtype()));
  array cnt = scan_node(astype(is_zero, int32), ScanType::Sum, axis, false, true, s);
  array before = equal(cnt, scalar_as(0, int32));
  array first = logical_and(is_zero, equal(cnt, scalar_as(1, int32)));
  return {before, first};
}

array conj_if(const array& x) { return is_complex(x.dtype()) ? conjugate(x) : x; }

// Signed sum_j w_j * exp(v_j) computed as exp(lse(log w+ + v)) - exp(lse(log w- + v)), with a
// scan of direction `reverse` along axis; terms where `valid` is false are dropped.
array signed_logscan(const array& w, const array& v, int axis, bool reverse, const array& shift, Stream s) {
  Dtype t = v.dtype();
  array ninf = scalar_as(-INFINITY, t);
  array zero = scalar_as(0, t);
  array lp = where(greater(w, zero), add(log(maximum(w, zero)), v), ninf);
  array ln = where(less(w, zero), add(log(maximum(negative(w), zero)), v), ninf);
  lp = scan_node(lp, ScanType::LogAddExp, axis, reverse, true, s);
  ln = scan_node(ln, ScanType::LogAddExp, axis, reverse, true, s);
  return subtract(exp(add(lp, shift)), exp(add(ln, shift)));
}

// vjp of an inclusive forward scan of x (cotangent g).
array scan_vjp_inclusive(ScanType t, const array& x, const array& g, int axis, Stream s) {
  switch (t) {
    case ScanType::Sum: return scan_node(g, ScanType::Sum, axis, true, true, s);
    case ScanType::Max:
    case ScanType::Min: {
      array idx = running_arg(x, t, axis, s);
      return scatter_axis(zeros_like(x), idx, g, axis, ScatterMode::Add);
    }
    case ScanType::Prod: {
      auto [before, first] = zero_masks(x, axis, s);
      array one = scalar_as(1, x.dtype());
      array y = scan_node(x, ScanType::Prod, axis, false, true, s);
      array xsafe = where(before, x, one);
      array A = divide(scan_node(multiply(g, conj_if(y)), ScanType::Sum, axis, true, true, s), conj_if(xsafe));
      array y1 = scan_node(where(first, one, x), ScanType::Prod, axis, false, true, s);
      array B = scan_node(multiply(g, conj_if(y1)), ScanType::Sum, axis, true, true, s);
      return where(before, A, where(first, B, zeros_like(x)));
    }
    case ScanType::LogAddExp: {
      // grad_i = sum_{j >= i} g_j exp(x_i - y_j)
      array y = scan_node(x, ScanType::LogAddExp, axis, false, true, s);
      array ninf = scalar_as(-INFINITY, x.dtype());
      array negy = where(isneginf(y), ninf, negative(y));
      return signed_logscan(g, negy, axis, true, x, s);
    }
  }
  return zeros_like(x);
}

// jvp of an inclusive forward scan of x (tangent tx).
array scan_jvp_inclusive(ScanType t, const array& x, const array& tx, int axis, Stream s) {
  switch (t) {
    case ScanType::Sum: return scan_node(tx, ScanType::Sum, axis, false, true, s);
    case ScanType::Max:
    case ScanType::Min: return take_along_axis(tx, running_arg(x, t, axis, s), axis);
    case ScanType::Prod: {
      auto [before, first] = zero_masks(x, axis, s);
      array one = scalar_as(1, x.dtype());
      array y = scan_node(x, ScanType::Prod, axis, false, true, s);
      array xsafe = where(before, x, one);
      array A = multiply(y, scan_node(divide(tx, xsafe), ScanType::Sum, axis, false, true, s));
      array y1 = scan_node(where(first, one, x), ScanType::Prod, axis, false, true, s);
      array tz = sum(where(first, tx, zeros_like(tx)), {axis}, true);
      return where(before, A, multiply(tz, y1));
    }
    case ScanType::LogAddExp: {
      // out_j = sum_{i <= j} t_i exp(x_i - y_j)
      array y = scan_node(x, ScanType::LogAddExp, axis, false, true, s);
      array r = signed_logscan(tx, x, axis, false, negative(y), s);
      return where(isneginf(y), zeros_like(r), r);
    }
  }
  return zeros_like(tx);
}

}  // namespace

// ---------------- Scan ----------------
std::vector<array> Scan::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  const array& x = p[0];
  if (type_ == ScanType::Sum) return {scan_node(ct[0], ScanType::Sum, axis_, !reverse_, inclusive_, stream())};
  if (x.shape(axis_) == 0) return {zeros_like(x)};
  array xx = x, g = ct[0];
  if (reverse_) {
    xx = flip_axis(xx, axis_);
    g = flip_axis(g, axis_);
  }
  if (!inclusive_) xx = shift_right(xx, axis_, identity_of(type_, x.dtype()));
  array r = scan_vjp_inclusive(type_, xx, g, axis_, stream());
  if (!inclusive_) r = shift_left(r, axis_);
  if (reverse_) r = flip_axis(r, axis_);
  return {r};
}

std::vector<array> Scan::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  const array& x = p[0];
  if (type_ == ScanType::Sum) return {scan_node(t[0], ScanType::Sum, axis_, reverse_, inclusive_, stream())};
  if (x.shape(axis_) == 0) return {zeros_like(t[0])};
  array xx = x, tx = t[0];
  if (reverse_) {
    xx = flip_axis(xx, axis_);
    tx = flip_axis(tx, axis_);
  }
  if (!inclusive_) {
    xx = shift_right(xx, axis_, identity_of(type_, x.dtype()));
    tx = shift_right(tx, axis_, scalar_as(0, tx.dtype()));
  }
  array r = scan_jvp_inclusive(type_, xx, tx, axis_, stream());
  if (reverse_) r = flip_axis(r, axis_);
  return {r};
}

VmapOut Scan::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  batch_front(x, axes[0]);
  return {{scan_node(x, type_, axis_ + 1, reverse_, inclusive_, stream())}, {0}};
}

// ---------------- Sort / ArgSort ----------------
std::vector<array> Sort::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  array idx = argsort(p[0], axis_, stream());
  return {put_along_axis(zeros_like(p[0]), idx, ct[0], axis_)};
}
std::vector<array> Sort::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  return {take_along_axis(t[0], argsort(p[0], axis_, stream()), axis_)};
}
VmapOut Sort::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  batch_front(x, axes[0]);
  return {{sort(x, axis_ + 1, stream())}, {0}};
}

std::vector<array> ArgSort::vjp(const Arrs& p, const Arrs&, const std::vector<int>&, const Arrs&) {
  return {zeros_like(p[0])};
}
std::vector<array> ArgSort::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) {
  return {zeros(p[0].shape(), uint32)};
}
VmapOut ArgSort::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  batch_front(x, axes[0]);
  return {{argsort(x, axis_ + 1, stream())}, {0}};
}

// ---------------- Partition / ArgPartition ----------------
std::vector<array> Partition::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  array idx = argpartition(p[0], kth_, axis_, stream());
  return {put_along_axis(zeros_like(p[0]), idx, ct[0], axis_)};
}
std::vector<array> Partition::jvp(const Arrs& p, const Arrs& t, const std::vector<int>&) {
  return {take_along_axis(t[0], argpartition(p[0], kth_, axis_, stream()), axis_)};
}
VmapOut Partition::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  batch_front(x, axes[0]);
  return {{partition(x, kth_, axis_ + 1, stream())}, {0}};
}

std::vector<array> ArgPartition::vjp(const Arrs& p, const Arrs&, const std::vector<int>&, const Arrs&) {
  return {zeros_like(p[0])};
}
std::vector<array> ArgPartition::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) {
  return {zeros(p[0].shape(), uint32)};
}
VmapOut ArgPartition::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  batch_front(x, axes[0]);
  return {{argpartition(x, kth_, axis_ + 1, stream())}, {0}};
}

// ---------------- SearchSorted ----------------
std::vector<array> SearchSorted::vjp(const Arrs& p, const Arrs&, const std::vector<int>& argnums, const Arrs&) {
  Arrs r;
  for (int a : argnums) r.push_back(zeros_like(p[a]));
  return r;
}
std::vector<array> SearchSorted::jvp(const Arrs& p, const Arrs&, const std::vector<int>&) {
  return {zeros(p[1].shape(), uint32)};
}
VmapOut SearchSorted::vmap(const Arrs& in, const std::vector<int>& axes) {
  if (axes[0] >= 0)
    throw ValueError("[searchsorted] cannot vmap over the sorted sequence, only over the values; got a mapped "
                     "sorted sequence.");
  return {{array(in[1].shape(), uint32, std::make_shared<SearchSorted>(stream(), right_), {in[0], in[1]})}, {axes[1]}};
}

// ---------------- Hadamard ----------------
std::vector<array> Hadamard::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>&, const Arrs&) {
  array g = astype(ct[0], p[0].dtype());
  return {array(g.shape(), g.dtype(), std::make_shared<Hadamard>(stream(), scale_, !transpose_), {g})};
}
std::vector<array> Hadamard::jvp(const Arrs&, const Arrs& t, const std::vector<int>&) {
  return {array(t[0].shape(), t[0].dtype(), std::make_shared<Hadamard>(stream(), scale_, transpose_), {t[0]})};
}
VmapOut Hadamard::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0];
  int ax = axes[0];
  if (ax == static_cast<int>(x.ndim()) - 1) {
    x = moveaxis(x, ax, 0);
    ax = 0;
  }
  return {{array(x.shape(), x.dtype(), std::make_shared<Hadamard>(stream(), scale_, transpose_), {x})}, {ax}};
}

// ---------------- GatherMM ----------------
std::vector<array> GatherMM::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  const array &a = p[0], &b = p[1], &li = p[2], &ri = p[3];
  const array& g = ct[0];  // (B, M, N)
  int B = g.shape(0), M = a.shape(1), K = a.shape(2), N = b.shape(2);
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) {
      // d a[lhs[i]] += g[i] @ b[rhs[i]]^T
      array ga = gather_mm(g, swapaxes(b, -1, -2), std::nullopt, ri, false, stream());
      res.push_back(scatter(zeros_like(a), li, ga, 0, ScatterMode::Add));
    } else if (arg == 1) {
      // d b[e] = sum over items with rhs == e of a[lhs[i]]^T @ g[i], as one segmented matmul
      // over the items sorted by rhs.
      int Bb = b.shape(0);
      array perm = argsort(ri, 0, stream());
      array rs = take(ri, perm, 0);
      array ls = take(li, perm, 0);
      array acat = reshape(take(a, ls, 0), {B * M, K});
      array gcat = reshape(take(g, perm, 0), {B * M, N});
      array experts = arange(0, Bb, 1, uint32);
      array lo = multiply(astype(searchsorted(rs, experts, false, stream()), int32), scalar_as(M, int32));
      array hi = multiply(astype(searchsorted(rs, experts, true, stream()), int32), scalar_as(M, int32));
      array seg = stack({lo, hi}, -1);
      res.push_back(segmented_mm(swapaxes(acat, 0, 1), gcat, seg, stream()));
    } else {
      res.push_back(zeros_like(p[arg]));
    }
  }
  return res;
}
std::vector<array> GatherMM::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array acc;
  for (size_t i = 0; i < argnums.size(); ++i) {
    array r;
    if (argnums[i] == 0) r = gather_mm(t[i], p[1], p[2], p[3], sorted_, stream());
    else if (argnums[i] == 1) r = gather_mm(p[0], t[i], p[2], p[3], sorted_, stream());
    else continue;
    acc = acc.is_valid() ? add(acc, r) : r;
  }
  if (!acc.is_valid()) acc = zeros({p[2].shape(0), p[0].shape(1), p[1].shape(2)}, p[0].dtype());
  return {acc};
}
VmapOut GatherMM::vmap(const Arrs& in, const std::vector<int>& axes) { return Primitive::vmap(in, axes); }

// ---------------- SegmentedMM ----------------
std::vector<array> SegmentedMM::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  return Primitive::vjp(p, ct, argnums, {});
}
std::vector<array> SegmentedMM::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array acc;
  for (size_t i = 0; i < argnums.size(); ++i) {
    array r;
    if (argnums[i] == 0) r = segmented_mm(t[i], p[1], p[2], stream());
    else if (argnums[i] == 1) r = segmented_mm(p[0], t[i], p[2], stream());
    else continue;
    acc = acc.is_valid() ? add(acc, r) : r;
  }
  if (!acc.is_valid()) acc = zeros({p[2].shape(0), p[0].shape(0), p[1].shape(1)}, p[0].dtype());
  return {acc};
}
VmapOut SegmentedMM::vmap(const Arrs& in, const std::vector<int>& axes) { return Primitive::vmap(in, axes); }

// ---------------- Depends ----------------
std::vector<array> Depends::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Arrs r;
  for (int a : argnums) r.push_back(a < n_ ? ct[a] : zeros_like(p[a]));
  return r;
}
std::vector<array> Depends::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  Arrs r;
  for (int i = 0; i < n_; ++i) r.push_back(zeros_like(p[i]));
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] < n_) r[argnums[k]] = t[k];
  return r;
}
VmapOut Depends::vmap(const Arrs& in, const std::vector<int>& axes) {
  Arrs ins(in.begin(), in.begin() + n_), deps(in.begin() + n_, in.end());
  auto outs = depends(ins, deps);
  return {outs, std::vector<int>(axes.begin(), axes.begin() + n_)};
}

}  // namespace mlx::core
