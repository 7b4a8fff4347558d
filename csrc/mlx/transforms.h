// Evaluation and function transforms: eval, vjp, jvp, grad, vmap.
#pragma once
#include <string>
#include <functional>
#include <unordered_set>
#include <vector>

#include "mlx/array.h"

namespace mlx::core {

void eval(std::vector<array> outputs);
// Starts evaluating `outputs` and returns. Graphs of CPU nodes run on a background thread (one
// evaluation at a time); other graphs are evaluated in place, as by eval. Until it is done its
// nodes are marked (array::is_pending): whatever reads their state waits for it first
// (detail::wait_async: eval and async_eval with work to do, host access through eval,
// synchronize, the memory API, compile and export traces, saving to a file), and an exception
// it raised is thrown there; graph walks of vjp/jvp/vmap stop at such nodes instead.
void async_eval(std::vector<array> outputs);

using VecFn = std::function<std::vector<array>(const std::vector<array>&)>;

// Returns (outputs, vjps of the primals).
std::pair<std::vector<array>, std::vector<array>> vjp(const VecFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
// Returns (outputs, jvps of the outputs).
std::pair<std::vector<array>, std::vector<array>> jvp(const VecFn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
// The batched function; in_axes/out_axes give the batch axis of each (-1: none).
VecFn vmap(const VecFn& fun, const std::vector<int>& in_axes, const std::vector<int>& out_axes);

namespace detail {
// Waits for the background evaluation started by async_eval, if any. With rethrow, an
// exception it raised is thrown here (once); otherwise it stays for the next wait. Does
// nothing on the background thread itself.
void wait_async(bool rethrow = true);
// Waits (as wait_async) when `a` is a node of the pending background evaluation.
void wait_async_for(const array& a);
// At exit: the background evaluation stops after its current node, and async_eval evaluates
// in place from then on.
void async_shutdown();
// "Primitive dtype [shape][shape~strides]->[shape]": one line describing a node, the key of
// the per-node profiles (MLX_CPU_PROFILE, MLX_CUDA_PROFILE). Non-row-contiguous operands get
// "~" and their strides; at most four inputs are listed.
std::string node_key(const Primitive& p, const std::vector<array>& inputs, const std::vector<array>& outputs);
// Depth of enclosing compile traces (eval inside them is an error).
int& compile_trace_depth();
// Depth of enclosing transforms of any kind; arrays are tracers only while it is > 0.
int& trace_depth();
struct TraceGuard {
  TraceGuard() { ++trace_depth(); }
  ~TraceGuard() { --trace_depth(); }
  TraceGuard(const TraceGuard&) = delete;
  TraceGuard& operator=(const TraceGuard&) = delete;
};
// Nodes between inputs (exclusive) and outputs that depend on an input, in topological order;
// with depends_out, also the ids of every value that depends on an input (the inputs included).
// Nodes of a pending background evaluation (array::is_pending) are leaves: they were built
// before the inputs, so nothing in their graphs depends on them.
std::vector<array> depending_tape(const std::vector<array>& outputs,
                                  const std::unordered_set<uintptr_t>& input_ids,
                                  std::unordered_set<uintptr_t>* depends_out = nullptr);
}

}  // namespace mlx::core
