#include "mlx/primitives/custom.h"

#include "mlx/ops.h"
#include "mlx/transforms.h"

namespace mlx::core {

void CustomTransforms::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  size_t np = inputs.size() - outputs.size();
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[np + i]);
}

std::vector<array> CustomTransforms::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>& outputs) {
  size_t np = primals.size() - num_outputs_;
  std::vector<array> ps(primals.begin(), primals.begin() + np);
  std::vector<array> grads;
  if (vjp_) {
    grads = vjp_(ps, cotangents, outputs);
  } else {
    // Differentiate the inner function again from the primals.
    throw ValueError("[custom_function] no vjp was given; got a gradient request.");
  }
  std::vector<array> res;
  for (int a : argnums) {
    if (a < static_cast<int>(np)) {
      if (a >= static_cast<int>(grads.size()))
        throw ValueError(msg("[custom_function] the vjp must return one cotangent per primal (", np, "); got ",
                             grads.size(), "."));
      res.push_back(grads[a]);
    } else {
      res.push_back(zeros_like(primals[a]));  // no gradient through the inner graph
    }
  }
  return res;
}

std::vector<array> CustomTransforms::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  size_t np = primals.size() - num_outputs_;
  if (!jvp_) throw ValueError("[custom_function] no jvp was given; got a jvp request.");
  std::vector<array> ps(primals.begin(), primals.begin() + np);
  std::vector<array> ts;
  std::vector<int> an;
  for (size_t i = 0; i < argnums.size(); ++i)
    if (argnums[i] < static_cast<int>(np)) {
      ts.push_back(tangents[i]);
      an.push_back(argnums[i]);
    }
  return jvp_(ps, ts, an);
}

std::pair<std::vector<array>, std::vector<int>> CustomTransforms::vmap(const std::vector<array>& inputs,
                                                                       const std::vector<int>& axes) {
  size_t np = inputs.size() - num_outputs_;
  if (!vmap_) return Primitive::vmap(inputs, axes);
  std::vector<array> ps(inputs.begin(), inputs.begin() + np);
  std::vector<int> ax(axes.begin(), axes.begin() + np);
  return vmap_(ps, ax);
}

std::vector<array> custom_transforms(const std::vector<array>& primals, const std::vector<array>& outputs,
                                     CustomVJP vjp, CustomJVP jvp, CustomVmap vmap) {
  std::vector<array> inputs = primals;
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : outputs) {
    inputs.push_back(o);
    shapes.push_back(o.shape());
    dtypes.push_back(o.dtype());
  }
  auto prim = std::make_shared<CustomTransforms>(to_stream({}), static_cast<int>(outputs.size()), std::move(vjp),
                                                 std::move(jvp), std::move(vmap));
  if (outputs.size() == 1) return {array(shapes[0], dtypes[0], prim, inputs)};
  return array::make_arrays(shapes, dtypes, prim, inputs);
}

}  // namespace mlx::core
