// compile(): trace a function once per input signature, fuse elementwise chains, replay.
#pragma once
#include <memory>

#include "mlx/transforms.h"

namespace mlx::core {

// A traced, simplified graph that can be replayed on new inputs of the same signature.
class CompiledGraph {
 public:
  // Traces fun on inputs (values are used only for tracing).
  CompiledGraph(const VecFn& fun, const std::vector<array>& inputs, bool fuse = true);
  std::vector<array> operator()(const std::vector<array>& inputs) const;
  size_t num_nodes() const { return nodes_.size(); }
  size_t num_fused() const { return num_fused_; }

 private:
  struct Ref {
    int kind;  // 0: input, 1: constant, 2: node output
    int index;
    int out;
  };
  struct Node {
    std::shared_ptr<Primitive> prim;
    std::vector<Ref> inputs;
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
  };
  std::vector<Node> nodes_;
  std::vector<array> constants_;
  std::vector<Ref> outputs_;
  size_t num_fused_ = 0;
};

// Returns fun compiled: traced on first call per signature (shapes and dtypes), then replayed.
VecFn compile(const VecFn& fun, bool shapeless = false);

}  // namespace mlx::core
