// Custom transforms: outputs computed by an inner function, with user rules for vjp/jvp/vmap.
#pragma once
#include <functional>

#include "mlx/primitives/primitives.h"

namespace mlx::core {

using CustomVJP = std::function<std::vector<array>(const std::vector<array>& primals,
                                                   const std::vector<array>& cotangents,
                                                   const std::vector<array>& outputs)>;
using CustomJVP = std::function<std::vector<array>(const std::vector<array>& primals,
                                                   const std::vector<array>& tangents,
                                                   const std::vector<int>& argnums)>;
using CustomVmap = std::function<std::pair<std::vector<array>, std::vector<int>>(
    const std::vector<array>& inputs, const std::vector<int>& axes)>;

// Inputs are the primals followed by the inner function's outputs; the outputs alias the latter.
class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, int num_outputs, CustomVJP vjp, CustomJVP jvp, CustomVmap vmap)
      : Primitive(s), num_outputs_(num_outputs), vjp_(std::move(vjp)), jvp_(std::move(jvp)),
        vmap_(std::move(vmap)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return "CustomTransforms"; }
  MLX_PRIM_RULES

 private:
  int num_outputs_;
  CustomVJP vjp_;
  CustomJVP jvp_;
  CustomVmap vmap_;
};

// Wraps outputs = fun(primals) so that transforms use the given rules (any may be empty).
std::vector<array> custom_transforms(const std::vector<array>& primals, const std::vector<array>& outputs,
                                     CustomVJP vjp, CustomJVP jvp, CustomVmap vmap);

}  // namespace mlx::core
