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
  // Replays the graph. Inputs of other shapes (same ranks, shapeless use) get every node's
  // shape inferred; where a node's shape can't be, throws ValueError (see is_shapeless_error).
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
  std::vector<Shape> input_shapes_;  // as traced
  size_t num_fused_ = 0;

  const Shape& traced_shape(const Ref& r) const;
  void simplify();
  void fuse();
  std::vector<array> replay_inferred(const std::vector<array>& inputs) const;
};

// Whether an exception thrown by CompiledGraph::operator() means "this trace can't be
// replayed on these shapes" (trace again for them).
bool is_shapeless_error(const std::exception& e);

// Returns fun compiled: traced on first call per signature (shapes and dtypes), then replayed.
// shapeless: one trace per ranks and dtypes, replayed on new shapes where every node's shape
// can be inferred (else traced again for those shapes).
VecFn compile(const VecFn& fun, bool shapeless = false);

}  // namespace mlx::core
