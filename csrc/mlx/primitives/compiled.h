// A fused chain of elementwise primitives, produced by compile().
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// One step of a fused program: apply `prim` to operands, each an external input (>= 0)
// or an earlier step (-1 - step_index). Every step has the output's shape.
struct FusedStep {
  std::shared_ptr<Primitive> prim;
  std::vector<int> operands;
  Dtype dtype;
};

class Compiled : public Primitive {
 public:
  Compiled(Stream s, std::vector<FusedStep> steps) : Primitive(s), steps_(std::move(steps)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return "Compiled"; }
  MLX_PRIM_RULES
  // Rebuilds the unfused graph on `inputs` (used by the rules and as a fallback).
  array expand(const std::vector<array>& inputs) const;
  const std::vector<FusedStep>& steps() const { return steps_; }

 private:
  std::vector<FusedStep> steps_;
};

// Whether a primitive can join a fused elementwise program.
bool is_fusable(const Primitive& p);

}  // namespace mlx::core
