// Rules of the fused primitive: differentiate and batch its unfused expansion.
#include "mlx/ops.h"
#include "mlx/primitives/compiled.h"
#include "mlx/transforms.h"

namespace mlx::core {

array Compiled::expand(const std::vector<array>& inputs) const {
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
  return vals.back();
}

std::vector<array> Compiled::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  auto fn = [this](const std::vector<array>& xs) { return std::vector<array>{expand(xs)}; };
  auto [o, g] = mlx::core::vjp(fn, primals, cotangents);
  std::vector<array> res;
  for (int a : argnums) res.push_back(g[a]);
  return res;
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<array> ts;
  for (auto& p : primals) ts.push_back(zeros_like(p));
  for (size_t i = 0; i < argnums.size(); ++i) ts[argnums[i]] = tangents[i];
  auto fn = [this](const std::vector<array>& xs) { return std::vector<array>{expand(xs)}; };
  return mlx::core::jvp(fn, primals, ts).second;
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto fn = [this](const std::vector<array>& xs) { return std::vector<array>{expand(xs)}; };
  return {mlx::core::vmap(fn, axes, {0})(inputs), {0}};
}

}  // namespace mlx::core
