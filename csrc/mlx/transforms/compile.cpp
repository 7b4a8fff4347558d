// compile(): tracing, common-subexpression elimination, elementwise fusion and replay.
#include "mlx/transforms/compile.h"

#include <map>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "mlx/ops.h"
#include "mlx/primitives/compiled.h"

namespace mlx::core {

bool is_fusable(const Primitive& p) {
  if (auto* u = dynamic_cast<const Unary*>(&p)) {
    return u->op() != UnaryOp::Copy && u->op() != UnaryOp::StopGradient;
  }
  return dynamic_cast<const Binary*>(&p) || dynamic_cast<const AsType*>(&p) ||
         dynamic_cast<const Select*>(&p);
}

CompiledGraph::CompiledGraph(const VecFn& fun, const std::vector<array>& inputs, bool fuse) {
  detail::TraceGuard guard;
  std::vector<array> tracers;
  std::unordered_map<uintptr_t, int> input_index;
  std::unordered_set<uintptr_t> ids;
  for (size_t i = 0; i < inputs.size(); ++i) {
    array t = copy(inputs[i]);
    t.set_tracer(true);
    tracers.push_back(t);
    input_index[t.id()] = static_cast<int>(i);
    ids.insert(t.id());
  }
  std::vector<array> outs;
  detail::compile_trace_depth()++;
  try {
    outs = fun(tracers);
  } catch (...) {
    detail::compile_trace_depth()--;
    throw;
  }
  detail::compile_trace_depth()--;
  auto tape = detail::depending_tape(outs, ids);

  // Node table with CSE: identical primitives on identical operands share a node.
  std::unordered_map<uintptr_t, Ref> ref_of;
  for (auto& [id, i] : input_index) ref_of[id] = Ref{0, i, 0};
  std::unordered_map<uintptr_t, int> const_index;
  auto ref_for = [&](const array& a) -> Ref {
    auto it = ref_of.find(a.id());
    if (it != ref_of.end()) return it->second;
    auto c = const_index.find(a.id());
    if (c != const_index.end()) return Ref{1, c->second, 0};
    constants_.push_back(a);
    int k = static_cast<int>(constants_.size()) - 1;
    const_index[a.id()] = k;
    return Ref{1, k, 0};
  };
  std::multimap<std::string, int> by_name;
  for (auto& a : tape) {
    Node n;
    n.prim = a.primitive_ptr();
    for (auto& in : a.inputs()) n.inputs.push_back(ref_for(in));
    auto outs_a = a.outputs();
    for (auto& o : outs_a) {
      n.shapes.push_back(o.shape());
      n.dtypes.push_back(o.dtype());
    }
    int found = -1;
    auto range = by_name.equal_range(n.prim->name());
    for (auto it = range.first; it != range.second && found < 0; ++it) {
      const Node& m = nodes_[it->second];
      if (m.inputs.size() != n.inputs.size() || m.shapes != n.shapes || m.dtypes != n.dtypes) continue;
      bool same = true;
      for (size_t k = 0; k < n.inputs.size() && same; ++k)
        same = m.inputs[k].kind == n.inputs[k].kind && m.inputs[k].index == n.inputs[k].index &&
               m.inputs[k].out == n.inputs[k].out;
      if (same && m.prim->is_equivalent(*n.prim)) found = it->second;
    }
    int idx = found;
    if (found < 0) {
      nodes_.push_back(std::move(n));
      idx = static_cast<int>(nodes_.size()) - 1;
      by_name.emplace(nodes_[idx].prim->name(), idx);
    }
    for (size_t k = 0; k < outs_a.size(); ++k) ref_of[outs_a[k].id()] = Ref{2, idx, static_cast<int>(k)};
  }
  for (auto& o : outs) outputs_.push_back(ref_for(o));
  if (!fuse) return;

  // ---- elementwise fusion ----
  int N = static_cast<int>(nodes_.size());
  std::vector<int> consumers(N, 0);
  for (auto& n : nodes_)
    for (auto& r : n.inputs)
      if (r.kind == 2) consumers[r.index]++;
  for (auto& r : outputs_)
    if (r.kind == 2) consumers[r.index] += 2;  // outputs must stay materialized
  std::vector<int> group(N, -1);
  std::iota(group.begin(), group.end(), 0);
  std::function<int(int)> find = [&](int x) { return group[x] == x ? x : group[x] = find(group[x]); };
  std::vector<bool> fus(N, false);
  for (int i = 0; i < N; ++i) {
    auto& n = nodes_[i];
    fus[i] = n.shapes.size() == 1 && is_fusable(*n.prim) && shape_size(n.shapes[0]) > 0;
    if (!fus[i]) continue;
    for (auto& r : n.inputs) {
      if (r.kind != 2 || !fus[r.index] || consumers[r.index] != 1) continue;
      if (nodes_[r.index].shapes[0] != n.shapes[0]) continue;
      group[find(r.index)] = find(i);
    }
  }
  std::map<int, std::vector<int>> members;
  for (int i = 0; i < N; ++i)
    if (fus[i]) members[find(i)].push_back(i);
  std::vector<int> remap(N, -1);  // old node -> new node index (roots and unfused nodes)
  std::vector<Node> out_nodes;
  std::vector<bool> in_fused(N, false);
  std::map<int, int> root_of;  // member -> root
  for (auto& [root, mem] : members) {
    if (mem.size() < 2) continue;
    for (int m : mem) {
      in_fused[m] = true;
      root_of[m] = root;
    }
  }
  auto remap_ref = [&](Ref r) {
    if (r.kind == 2) r.index = remap[r.index];
    return r;
  };
  for (int i = 0; i < N; ++i) {
    if (!in_fused[i]) {
      Node n = nodes_[i];
      for (auto& r : n.inputs) r = remap_ref(r);
      out_nodes.push_back(std::move(n));
      remap[i] = static_cast<int>(out_nodes.size()) - 1;
      continue;
    }
    if (root_of[i] != i) continue;  // emitted with its root (roots come last in topological order)
    auto& mem = members[i];
    std::vector<Ref> ext;
    std::map<int, int> step_of;
    std::vector<FusedStep> steps;
    for (int m : mem) {
      FusedStep st;
      st.prim = nodes_[m].prim;
      st.dtype = nodes_[m].dtypes[0];
      for (auto& r : nodes_[m].inputs) {
        if (r.kind == 2 && in_fused[r.index] && root_of[r.index] == i) {
          st.operands.push_back(-1 - step_of[r.index]);
          continue;
        }
        Ref rr = remap_ref(r);
        int e = -1;
        for (size_t k = 0; k < ext.size(); ++k)
          if (ext[k].kind == rr.kind && ext[k].index == rr.index && ext[k].out == rr.out) e = static_cast<int>(k);
        if (e < 0) {
          ext.push_back(rr);
          e = static_cast<int>(ext.size()) - 1;
        }
        st.operands.push_back(e);
      }
      step_of[m] = static_cast<int>(steps.size());
      steps.push_back(std::move(st));
    }
    Node n;
    n.prim = std::make_shared<Compiled>(nodes_[i].prim->stream(), std::move(steps));
    n.inputs = ext;
    n.shapes = nodes_[i].shapes;
    n.dtypes = nodes_[i].dtypes;
    out_nodes.push_back(std::move(n));
    remap[i] = static_cast<int>(out_nodes.size()) - 1;
    num_fused_++;
  }
  for (auto& r : outputs_) r = remap_ref(r);
  nodes_ = std::move(out_nodes);
}

std::vector<array> CompiledGraph::operator()(const std::vector<array>& inputs) const {
  std::vector<std::vector<array>> vals(nodes_.size());
  auto get = [&](const Ref& r) -> array {
    if (r.kind == 0) return inputs[r.index];
    if (r.kind == 1) return constants_[r.index];
    return vals[r.index][r.out];
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    std::vector<array> ins;
    for (auto& r : n.inputs) ins.push_back(get(r));
    if (n.shapes.size() == 1) {
      vals[i] = {array(n.shapes[0], n.dtypes[0], n.prim, std::move(ins))};
    } else {
      vals[i] = array::make_arrays(n.shapes, n.dtypes, n.prim, ins);
    }
  }
  std::vector<array> outs;
  for (auto& r : outputs_) outs.push_back(get(r));
  return outs;
}

VecFn compile(const VecFn& fun, bool shapeless) {
  struct Cache {
    std::mutex mu;
    std::map<std::vector<std::pair<Shape, Dtype>>, std::shared_ptr<CompiledGraph>> graphs;
  };
  auto cache = std::make_shared<Cache>();
  return [fun, cache, shapeless](const std::vector<array>& inputs) {
    std::vector<std::pair<Shape, Dtype>> key;
    for (auto& a : inputs) key.emplace_back(shapeless ? Shape{} : a.shape(), a.dtype());
    std::shared_ptr<CompiledGraph> g;
    {
      std::lock_guard lk(cache->mu);
      auto it = cache->graphs.find(key);
      if (it != cache->graphs.end()) g = it->second;
    }
    if (!g) {
      g = std::make_shared<CompiledGraph>(fun, inputs);
      std::lock_guard lk(cache->mu);
      cache->graphs[key] = g;
    }
    if (shapeless) return fun(inputs);
    return (*g)(inputs);
  };
}

}  // namespace mlx::core
