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

// ---------- rope: vmap keeps the kernel when only x is mapped ----------
// The mapped axis must avoid the last two axes (positions, features) and, for a per-batch
// offset vector, axis 0 (the batch); it is moved to 0 (scalar offset) or 1 (vector offset).
VmapOut RoPE::vmap(const Arrs& inputs, const std::vector<int>& axes) {
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] >= 0) return FastPrimitive::vmap(inputs, axes);
  array x = inputs[0];
  int ax = axes[0], nd = static_cast<int>(x.ndim());
  bool vec = inputs[1].ndim() == 1;
  if (vec ? (ax == 0 || ax >= nd - 2) : ax >= nd - 2) {
    int to = vec ? 1 : 0;
    x = moveaxis(x, ax, to);
    ax = to;
  }
  Arrs in = inputs;
  in[0] = x;
  auto prim = std::make_shared<RoPE>(stream(), fallback_, dims_, traditional_, base_, scale_, has_freqs_);
  return {{array(x.shape(), x.dtype(), prim, in)}, {ax}};
}

// ---------- fused backward primitives ----------
namespace {
// The generic vjp of `fb` for `argnums`, as a fallback over (primals..., cotangent).
Fallback vjp_fallback(Fallback fb, std::vector<int> argnums) {
  return [fb = std::move(fb), argnums = std::move(argnums)](const Arrs& in) -> Arrs {
    Arrs primals(in.begin(), in.end() - 1);
    auto f = partial_fn(fb, primals, argnums);
    return mlx::core::vjp(f, pick(primals, argnums), {in.back()}).second;
  };
}

// One output per argnum, shaped and typed like its primal.
Arrs vjp_outputs(const Arrs& primals, const array& cotangent, const std::vector<int>& argnums,
                 std::shared_ptr<Primitive> prim) {
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (int a : argnums) {
    shapes.push_back(primals[a].shape());
    dtypes.push_back(primals[a].dtype());
  }
  Arrs in = primals;
  in.push_back(astype(cotangent, primals[0].dtype()));
  return array::make_arrays(shapes, dtypes, prim, in);
}
}  // namespace

std::vector<array> RMSNorm::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  auto prim = std::make_shared<NormVJP>(stream(), vjp_fallback(fallback_, argnums), false, eps_, has_weight_, false,
                                        argnums);
  return vjp_outputs(p, ct[0], argnums, prim);
}

std::vector<array> LayerNorm::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums, const Arrs&) {
  auto prim = std::make_shared<NormVJP>(stream(), vjp_fallback(fallback_, argnums), true, eps_, has_weight_,
                                        has_bias_, argnums);
  return vjp_outputs(p, ct[0], argnums, prim);
}

std::vector<array> ScaledDotProductAttention::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums,
                                                  const Arrs&) {
  auto prim = std::make_shared<ScaledDotProductAttentionVJP>(stream(), vjp_fallback(fallback_, argnums), scale_,
                                                             mode_, has_sinks_, argnums);
  return vjp_outputs(p, ct[0], argnums, prim);
}

bool NormVJP::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const NormVJP*>(&o);
  return p && p->layer_ == layer_ && p->eps_ == eps_ && p->has_weight_ == has_weight_ &&
         p->has_bias_ == has_bias_ && p->argnums_ == argnums_;
}
bool ScaledDotProductAttentionVJP::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScaledDotProductAttentionVJP*>(&o);
  return p && p->scale_ == scale_ && p->mode_ == mode_ && p->has_sinks_ == has_sinks_ && p->argnums_ == argnums_;
}

}  // namespace mlx::core::fast
