// Graph evaluation: order the nodes, run each primitive once, detach as we go.

#include "mlx/backend/gpu/gpu.h"
#include "mlx/primitive.h"
#include "mlx/transforms.h"
#include "mlx/transforms/id_set.h"

namespace mlx::core {

namespace detail {
int& compile_trace_depth() {
  static thread_local int d = 0;
  return d;
}
int& trace_depth() {
  static thread_local int d = 0;
  return d;
}
}  // namespace detail

void eval(std::vector<array> outputs) {
  auto needs_eval = [](const array& a) { return !a.is_available() && a.has_primitive(); };
  for (auto& o : outputs)
    if (!o.is_valid()) throw ValueError("[eval] cannot evaluate an empty array handle.");
  bool any = false;
  for (auto& o : outputs) any = any || needs_eval(o);
  if (!any) return;
  if (detail::compile_trace_depth() > 0) {
    throw ValueError("[eval] attempting to eval an array during function transformations like "
                     "compile is not allowed; got a call to eval inside a compiled function.");
  }
  detail::IdSet seen;
  std::vector<array> tape;
  // The walk holds plain pointers: every node on the stack is kept alive by `outputs`
  // through the inputs lists, which nothing changes until the tape runs.
  std::vector<std::pair<const array*, size_t>> stack;
  // One complete depth-first walk per output, so an output that is an input of a later one
  // (eval([b, b.T])) is on the tape before it.
  for (auto& o : outputs) {
    if (!needs_eval(o) || !seen.insert(o.id())) continue;
    for (auto& s : o.siblings()) seen.insert(s.id());
    stack.emplace_back(&o, 0);
    while (!stack.empty()) {
      auto& [a, i] = stack.back();
      auto& ins = a->inputs();
      if (i < ins.size()) {
        const array& in = ins[i++];
        if (needs_eval(in) && seen.insert(in.id())) {
          for (auto& s : in.siblings()) seen.insert(s.id());
          stack.emplace_back(&in, 0);
        }
      } else {
        tape.push_back(*a);
        stack.pop_back();
      }
    }
  }
  static const bool gpu_used = gpu::is_available();
  std::vector<array> outs;
  for (auto& slot : tape) {
    array a = std::move(slot);
    if (a.is_available()) continue;
    if (a.siblings().empty()) outs.push_back(a);
    else outs = a.outputs();
    auto& prim = a.primitive();
    if (prim.device().type == Device::gpu) {
      gpu::eval(prim, a.inputs(), outs);
    } else {
      if (gpu_used) {  // bring inputs computed on the GPU back before the CPU kernel's threads read them
        for (auto& in : a.inputs()) detail::host_ptr(*in.data_shared_ptr());
      }
      prim.eval_cpu(a.inputs(), outs);
      if (gpu_used) gpu::after_cpu_eval(outs);
    }
    outs.clear();  // before detach: a kernel further on may donate these buffers
    if (!a.is_tracer()) a.detach();
  }
}

// Evaluation queues GPU kernels without waiting for them; CPU kernels run in place.
void async_eval(std::vector<array> outputs) { eval(std::move(outputs)); }

}  // namespace mlx::core
