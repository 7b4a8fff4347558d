// vjp/jvp/vmap of the fast primitives: by default, transforms of the composite fallback;
// explicit rules for the norms (their gradients are short closed forms).
#include <numeric>

#include "mlx/ops.h"
#include "mlx/primitives/fast.h"
#include "mlx/transforms.h"

namespace mlx::core::fast {

namespace {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

Dtype acc_type(Dtype t) { return t == float64 ? float64 : float32; }

// The fallback as a function of the inputs named by argnums (the others held fixed).
VecFn partial_fn(const Fallback& fb, const Arrs& primals, const std::vector<int>& argnums) {
  return [&fb, &primals, &argnums](const Arrs& xs) {
    Arrs all = primals;
    for (size_t i = 0; i < argnums.size(); ++i) all[argnums[i]] = xs[i];
    return fb(all);
  };
}

Arrs pick(const Arrs& xs, const std::vector<int>& argnums) {
  Arrs r;
  for (int i : argnums) r.push_back(xs[i]);
  return r;
}

// All axes but the last.
std::vector<int> leading_axes(const array& x) {
  std::vector<int> ax(x.ndim() - 1);
  std::iota(ax.begin(), ax.end(), 0);
  return ax;
}

}  // namespace

// ---------- generic rules through the fallback ----------
std::vector<array> FastPrimitive::vjp(const Arrs& primals, const Arrs& cotangents, const std::vector<int>& argnums,
                                      const Arrs&) {
  auto f = partial_fn(fallback_, primals, argnums);
  return mlx::core::vjp(f, pick(primals, argnums), cotangents).second;
}

std::vector<array> FastPrimitive::jvp(const Arrs& primals, const Arrs& tangents, const std::vector<int>& argnums) {
  auto f = partial_fn(fallback_, primals, argnums);
  return mlx::core::jvp(f, pick(primals, argnums), tangents).second;
}

VmapOut FastPrimitive::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  auto outs = mlx::core::vmap(fallback_, axes, {0})(inputs);
  return {outs, std::vector<int>(outs.size(), 0)};
}

// ---------- equivalence ----------
bool RMSNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RMSNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_;
}
bool LayerNorm::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const LayerNorm*>(&o);
  return p && p->eps_ == eps_ && p->has_weight_ == has_weight_ && p->has_bias_ == has_bias_;
}
bool RoPE::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const RoPE*>(&o);
  return p && p->dims_ == dims_ && p->traditional_ == traditional_ && p->base_ == base_ && p->scale_ == scale_ &&
         p->has_freqs_ == has_freqs_;
}
bool ScaledDotProductAttention::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScaledDotProductAttention*>(&o);
  return p && p->scale_ == scale_ && p->mode_ == mode_ && p->has_sinks_ == has_sinks_;
}

// ---------- norms: vmap by moving the batch axis off the normalized axis ----------
namespace {
// When only x (input 0) is batched, returns x with its batch axis not last, and that axis.
bool norm_batch(const Arrs& inputs, const std::vector<int>& axes, array& x, int& ax) {
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] >= 0) return false;
  x = inputs[0];
  ax = axes[0];
  int last = static_cast<int>(x.ndim()) - 1;
  if (ax == last) {
    x = moveaxis(x, last, 0);
    ax = 0;
  }
  return true;
}
}  // namespace

VmapOut RMSNorm::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  array x;
  int ax;
  if (!norm_batch(inputs, axes, x, ax)) return FastPrimitive::vmap(inputs, axes);
  Arrs in = inputs;
  in[0] = x;
  return {{array(x.shape(), x.dtype(), std::make_shared<RMSNorm>(stream(), fallback_, eps_, has_weight_), in)},
          {ax}};
}

VmapOut LayerNorm::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  array x;
  int ax;
  if (!norm_batch(inputs, axes, x, ax)) return FastPrimitive::vmap(inputs, axes);
  Arrs in = inputs;
  in[0] = x;
  return {{array(x.shape(), x.dtype(),
                 std::make_shared<LayerNorm>(stream(), fallback_, eps_, has_weight_, has_bias_), in)},
          {ax}};
}

// ---------- layer norm: closed-form vjp ----------
// xhat = (x - mean) * rstd, y = xhat * w + b:
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = g * w
//   dw = sum_rows(g * xhat),  db = sum_rows(g)
std::vector<array> LayerNorm::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  Stream s = stream();
  Dtype a = acc_type(p[0].dtype());
  array x = astype(p[0], a, s);
  array g = astype(ct[0], a, s);
  array xc = subtract(x, mean(x, {-1}, true, s), s);
  array rstd = rsqrt(add(mean(square(xc, s), {-1}, true, s), astype(array(eps_), a), s), s);
  array xhat = multiply(xc, rstd, s);
  auto rows = leading_axes(p[0]);
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) {
      array gw = has_weight_ ? multiply(g, astype(p[1], a, s), s) : g;
      array inner = subtract(subtract(gw, mean(gw, {-1}, true, s), s),
                             multiply(xhat, mean(multiply(gw, xhat, s), {-1}, true, s), s), s);
      res.push_back(astype(multiply(rstd, inner, s), p[0].dtype(), s));
    } else if (arg == 1 && has_weight_) {
      res.push_back(astype(sum(multiply(g, xhat, s), rows, false, s), p[1].dtype(), s));
    } else {
      res.push_back(astype(sum(g, rows, false, s), p[arg].dtype(), s));
    }
  }
  return res;
}

}  // namespace mlx::core::fast
