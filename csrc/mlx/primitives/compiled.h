// A fused chain of elementwise primitives, produced by compile().
#pragma once
#include <map>
#include <memory>
#include <mutex>

#include "mlx/primitives/primitives.h"
#include "mlx/transforms.h"

namespace mlx::core {

// One step of a fused program: apply `prim` to operands, each an external input (>= 0)
// or an earlier step (-1 - step_index). Every step has the outputs' shape.
struct FusedStep {
  std::shared_ptr<Primitive> prim;
  std::vector<int> operands;
  Dtype dtype;
};

class Compiled : public Primitive {
 public:
  // The program's outputs are the steps named by `outs` (the last step when empty).
  Compiled(Stream s, std::vector<FusedStep> steps, std::vector<int> outs = {})
      : Primitive(s), steps_(std::move(steps)), outs_(std::move(outs)) {
    if (outs_.empty()) outs_.push_back(static_cast<int>(steps_.size()) - 1);
  }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return "Compiled"; }
  MLX_PRIM_RULES
  // Rebuilds the unfused graph on `inputs` (used by the rules and as a fallback): one array
  // per output.
  std::vector<array> expand(const std::vector<array>& inputs) const;
  const std::vector<FusedStep>& steps() const { return steps_; }
  // Step index of each output, in output order.
  const std::vector<int>& output_steps() const { return outs_; }

 private:
  std::vector<FusedStep> steps_;
  std::vector<int> outs_;
  // The vjp of the program, compiled (fused) once per argnums: f(primals..., cotangents...).
  struct VjpCache {
    std::mutex mu;
    std::map<std::vector<int>, VecFn> fns;
  };
  std::shared_ptr<VjpCache> vjp_cache_ = std::make_shared<VjpCache>();
};

// Whether a primitive can join a fused elementwise program.
bool is_fusable(const Primitive& p);

}  // namespace mlx::core
