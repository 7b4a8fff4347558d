// Rules of the fused primitive: differentiate and batch its unfused expansion.
#include <functional>

#include "mlx/ops.h"
#include "mlx/primitives/compiled.h"
#include "mlx/transforms.h"
#include "mlx/transforms/compile.h"

namespace mlx::core {

std::vector<array> Compiled::expand(const std::vector<array>& inputs) const {
  Shape shape = inputs.empty() ? Shape{} : inputs[0].shape();
  for (auto& in : inputs)
    if (in.ndim() > shape.size()) shape = in.shape();
  std::vector<array> vals;
  for (auto& st : steps_) {
    std::vector<array> ops;
    for (int o : st.operands) ops.push_back(o < 0 ? vals[-1 - o] : inputs[o]);
    Shape sh = ops[0].shape();
    for (auto& x : ops) sh = broadcast_shapes(sh, x.shape(), "Compiled");
    for (auto& x : ops) x = broadcast_to(x, sh);
    vals.push_back(array(sh, st.dtype, st.prim, ops));
  }
  std::vector<array> outs;
  for (int k : outs_) outs.push_back(vals[k]);
  return outs;
}

// The expansion as a function of the inputs named by argnums, the others held fixed: the
// transforms then differentiate only those (not the program's scalar constants, whose
// gradients would be full-size products and reductions).
static std::function<std::vector<array>(const std::vector<array>&)> partial_expand(
    const Compiled& c, const std::vector<array>& primals, const std::vector<int>& argnums) {
  return [&c, &primals, &argnums](const std::vector<array>& xs) {
    std::vector<array> all = primals;
    for (size_t i = 0; i < argnums.size(); ++i) all[argnums[i]] = xs[i];
    return c.expand(all);
  };
}

// The backward pass of a fused program is fused too: its vjp (the expansion's forward steps
// that the gradient needs, and the gradient's own elementwise steps) is compiled once per
// argnums, shapeless, and replayed; so a compiled activation's gradient is one pass as well
// (nn.gelu_approx's backward was nine full-size kernels).
std::vector<array> Compiled::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  VecFn fn;
  {
    std::lock_guard lk(vjp_cache_->mu);
    VecFn& f = vjp_cache_->fns[argnums];
    if (!f) {
      size_t np = primals.size();
      // The traced function holds its own copy of the program (the primitives are shared).
      auto self = std::make_shared<Compiled>(stream(), steps_, outs_);
      f = compile(
          [self, argnums, np](const std::vector<array>& xs) {
            std::vector<array> ps(xs.begin(), xs.begin() + np), cts(xs.begin() + np, xs.end());
            std::vector<array> sel;
            for (int a : argnums) sel.push_back(ps[a]);
            return mlx::core::vjp(partial_expand(*self, ps, argnums), sel, cts).second;
          },
          /*shapeless=*/true);
    }
    fn = f;
  }
  std::vector<array> xs = primals;
  xs.insert(xs.end(), cotangents.begin(), cotangents.end());
  return fn(xs);
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<array> sel;
  for (int a : argnums) sel.push_back(primals[a]);
  return mlx::core::jvp(partial_expand(*this, primals, argnums), sel, tangents).second;
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto fn = [this](const std::vector<array>& xs) { return expand(xs); };
  std::vector<int> out_axes(outs_.size(), 0);
  return {mlx::core::vmap(fn, axes, out_axes)(inputs), out_axes};
}

}  // namespace mlx::core
