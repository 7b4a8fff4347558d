// compile(): tracing, common-subexpression elimination, graph simplification, elementwise
// fusion and replay (with shape inference for shapeless use).
#include "mlx/transforms/compile.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "mlx/ops.h"
#include "mlx/primitives/compiled.h"
#include "mlx/primitives/number_of_elements.h"

namespace mlx::core {

bool is_fusable(const Primitive& p) {
  if (auto* u = dynamic_cast<const Unary*>(&p)) {
    return u->op() != UnaryOp::Copy && u->op() != UnaryOp::StopGradient;
  }
  return dynamic_cast<const Binary*>(&p) || dynamic_cast<const AsType*>(&p) ||
         dynamic_cast<const Select*>(&p);
}

namespace {

constexpr const char* kShapelessMsg = "[compile] can't reuse the shapeless trace for inputs of new shapes";

bool is_elementwise(const Primitive& p) {
  return dynamic_cast<const Unary*>(&p) || dynamic_cast<const Binary*>(&p) || dynamic_cast<const AsType*>(&p) ||
         dynamic_cast<const Select*>(&p) || dynamic_cast<const Compiled*>(&p);
}

}  // namespace

bool is_shapeless_error(const std::exception& e) {
  return std::strncmp(e.what(), kShapelessMsg, std::strlen(kShapelessMsg)) == 0;
}

CompiledGraph::CompiledGraph(const VecFn& fun, const std::vector<array>& inputs, bool fuse_ops) {
  detail::wait_async();  // the trace reads the state of the constants it captures
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
    input_shapes_.push_back(inputs[i].shape());
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
  // A lazy broadcast of a constant (a Python scalar in `x + 1`) stays a node over the
  // constant, so that a shapeless replay can broadcast the constant to new shapes.
  std::function<Ref(const array&)> ref_for = [&](const array& a) -> Ref {
    auto it = ref_of.find(a.id());
    if (it != ref_of.end()) return it->second;
    auto c = const_index.find(a.id());
    if (c != const_index.end()) return Ref{1, c->second, 0};
    if (!a.is_available() && a.has_primitive() && a.siblings().empty() &&
        dynamic_cast<const Broadcast*>(&a.primitive())) {
      Node n;
      n.prim = a.primitive_ptr();
      n.inputs = {ref_for(a.inputs()[0])};
      n.shapes = {a.shape()};
      n.dtypes = {a.dtype()};
      nodes_.push_back(std::move(n));
      Ref r{2, static_cast<int>(nodes_.size()) - 1, 0};
      ref_of[a.id()] = r;
      return r;
    }
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
  if (!fuse_ops) return;
  simplify();
  fuse();
}

const Shape& CompiledGraph::traced_shape(const Ref& r) const {
  if (r.kind == 0) return input_shapes_[r.index];
  if (r.kind == 1) return constants_[r.index].shape();
  return nodes_[r.index].shapes[r.out];
}

// Drops nodes that no output depends on.
void CompiledGraph::simplify() {
  const int M = static_cast<int>(nodes_.size());
  std::vector<char> live(M, 0);
  for (auto& r : outputs_)
    if (r.kind == 2) live[r.index] = 1;
  for (int i = M - 1; i >= 0; --i) {
    if (!live[i]) continue;
    for (auto& r : nodes_[i].inputs)
      if (r.kind == 2) live[r.index] = 1;
  }
  std::vector<int> re(M, -1);
  std::vector<Node> kept;
  for (int i = 0; i < M; ++i) {
    if (!live[i]) continue;
    Node c = std::move(nodes_[i]);
    for (auto& r : c.inputs)
      if (r.kind == 2) r.index = re[r.index];
    kept.push_back(std::move(c));
    re[i] = static_cast<int>(kept.size()) - 1;
  }
  for (auto& r : outputs_)
    if (r.kind == 2) r.index = re[r.index];
  nodes_ = std::move(kept);
}

// Elementwise fusion. Walking backwards, a fusable node joins the group of its consumers
// when all of them are in one group and have its shape; so every member but the group's
// root is used only inside the group (the group is convex and its values are computed once
// per element, even where a member has several uses). A member that is also an output of the
// function becomes an extra output of the group on GPU streams (one kernel then writes, for
// example, an optimizer's parameter and both moments); on the CPU an output ends a group, as
// the tiled CPU program writes one result.
void CompiledGraph::fuse() {
  const int N = static_cast<int>(nodes_.size());
  std::vector<std::vector<int>> cons(N);
  for (int i = 0; i < N; ++i)
    for (auto& r : nodes_[i].inputs)
      if (r.kind == 2 && (cons[r.index].empty() || cons[r.index].back() != i)) cons[r.index].push_back(i);
  std::vector<char> is_out(N, 0);
  for (auto& r : outputs_)
    if (r.kind == 2) is_out[r.index] = 1;
  std::vector<char> fus(N, 0);
  for (int i = 0; i < N; ++i) {
    auto& n = nodes_[i];
    fus[i] = n.shapes.size() == 1 && is_fusable(*n.prim) && shape_size(n.shapes[0]) > 0;
  }
  std::vector<int> root(N);
  for (int i = N - 1; i >= 0; --i) {
    root[i] = i;
    if (!fus[i] || cons[i].empty()) continue;
    if (is_out[i] && nodes_[i].prim->stream().device.type != Device::gpu) continue;
    int g = -1;
    bool ok = true;
    for (int c : cons[i]) {
      if (!fus[c] || nodes_[c].shapes[0] != nodes_[i].shapes[0]) {
        ok = false;
        break;
      }
      if (g < 0) g = root[c];
      else if (g != root[c]) ok = false;
    }
    if (ok) root[i] = g;
  }
  std::map<int, std::vector<int>> members;
  for (int i = 0; i < N; ++i)
    if (fus[i]) members[root[i]].push_back(i);
  std::vector<char> in_fused(N, 0);
  for (auto& [r, mem] : members)
    if (mem.size() >= 2)
      for (int m : mem) in_fused[m] = 1;

  std::vector<int> remap(N, -1), remap_out(N, -1);  // remap_out: output of the fused node
  std::vector<Node> out_nodes;
  auto remap_ref = [&](Ref r) {
    if (r.kind == 2) {
      if (remap_out[r.index] >= 0) r.out = remap_out[r.index];
      r.index = remap[r.index];
    }
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
    if (root[i] != i) continue;  // emitted with its root (the root comes last)
    auto& mem = members[i];
    std::vector<Ref> ext;
    std::unordered_map<int, int> step_of;
    std::vector<FusedStep> steps;
    for (int m : mem) {
      FusedStep st;
      st.prim = nodes_[m].prim;
      st.dtype = nodes_[m].dtypes[0];
      for (auto& r : nodes_[m].inputs) {
        if (r.kind == 2 && in_fused[r.index] && root[r.index] == i) {
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
    // Outputs: members that are function outputs, then the root.
    Node n;
    std::vector<int> outs;
    for (int m : mem) {
      if (m != i && !is_out[m]) continue;
      remap_out[m] = static_cast<int>(outs.size());
      outs.push_back(step_of[m]);
      n.shapes.push_back(nodes_[m].shapes[0]);
      n.dtypes.push_back(nodes_[m].dtypes[0]);
    }
    n.prim = std::make_shared<Compiled>(nodes_[i].prim->stream(), std::move(steps), std::move(outs));
    n.inputs = ext;
    out_nodes.push_back(std::move(n));
    for (int m : mem) remap[m] = static_cast<int>(out_nodes.size()) - 1;
    num_fused_++;
  }
  for (auto& r : outputs_) r = remap_ref(r);
  nodes_ = std::move(out_nodes);
}

std::vector<array> CompiledGraph::operator()(const std::vector<array>& inputs) const {
  bool same = inputs.size() == input_shapes_.size();
  for (size_t i = 0; i < inputs.size() && same; ++i) same = inputs[i].shape() == input_shapes_[i];
  if (!same) return replay_inferred(inputs);
  std::vector<std::vector<array>> vals(nodes_.size());
  auto get = [&](const Ref& r) -> array {
    if (r.kind == 0) return inputs[r.index];
    if (r.kind == 1) return constants_[r.index];
    return vals[r.index][r.out];
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    std::vector<array> ins;
    ins.reserve(n.inputs.size());
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

namespace {

[[noreturn]] void cant_infer(const Primitive& p) {
  throw ValueError(msg(kShapelessMsg, "; the output shape of ", p.name(), " depends on the traced shapes."));
}

// Output shape of a reshape traced as ti -> to, now applied to ni. Dims are matched in blocks
// of equal traced products; a changed block's output takes the new product when it has one
// dim that isn't 1, else its dims are mapped through `dims` (traced size -> new size, from
// the function's inputs) with at most one dim left to take what remains.
bool infer_reshape(const Shape& ti, const Shape& to, const Shape& ni, const std::unordered_map<int, int>& dims,
                   Shape& res) {
  if (ti.size() != ni.size()) return false;
  for (auto d : ti) if (d <= 0) return false;
  for (auto d : to) if (d <= 0) return false;
  for (auto d : ni) if (d <= 0) return false;
  size_t i = 0, j = 0;
  res.clear();
  while (i < ti.size() || j < to.size()) {
    size_t i0 = i, j0 = j;
    int64_t pi = i < ti.size() ? ti[i++] : 1;
    int64_t po = j < to.size() ? to[j++] : 1;
    while (pi != po) {
      if (pi < po) {
        if (i >= ti.size()) return false;
        pi *= ti[i++];
      } else {
        if (j >= to.size()) return false;
        po *= to[j++];
      }
    }
    bool changed = false;
    int64_t np = 1;
    for (size_t k = i0; k < i; ++k) {
      changed |= ni[k] != ti[k];
      np *= ni[k];
    }
    if (!changed) {
      res.insert(res.end(), to.begin() + j0, to.begin() + j);
      continue;
    }
    int free = 0;
    for (size_t k = j0; k < j; ++k) free += to[k] != 1;
    Shape blk;
    int unknown = -1;
    int64_t known = 1;
    for (size_t k = j0; k < j; ++k) {
      int d = to[k];
      if (d == 1) {
        blk.push_back(1);
        continue;
      }
      auto it = dims.find(d);
      if (free > 1 && it != dims.end() && it->second > 0) {
        blk.push_back(it->second);
        known *= it->second;
        continue;
      }
      if (unknown >= 0) return false;
      unknown = static_cast<int>(blk.size());
      blk.push_back(0);
    }
    if (unknown >= 0) {
      if (known == 0 || np % known != 0) return false;
      blk[unknown] = static_cast<int>(np / known);
    } else if (known != np) {
      return false;
    }
    res.insert(res.end(), blk.begin(), blk.end());
  }
  return true;
}

}  // namespace

// Replay on inputs of new shapes. A node whose inputs kept their traced shapes keeps its
// traced output shapes; otherwise its shape comes from a rule: elementwise nodes broadcast
// the sources of their (broadcast) operands again, and transpose, matmul, reshape,
// reductions and element counts (mean's normalizer) have rules. Anything else can't be
// replayed (the caller traces again).
std::vector<array> CompiledGraph::replay_inferred(const std::vector<array>& inputs) const {
  if (inputs.size() != input_shapes_.size())
    throw ValueError(msg("[compile] the compiled function takes ", input_shapes_.size(), " arrays; got ",
                         inputs.size(), "."));
  // Traced size -> new size over the inputs' dims (-1: ambiguous).
  std::unordered_map<int, int> dims;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Shape& t = input_shapes_[i];
    if (t.size() != inputs[i].ndim())
      throw ValueError(msg(kShapelessMsg, "; an input's number of dimensions changed."));
    for (size_t k = 0; k < t.size(); ++k) {
      if (t[k] == 1) continue;
      auto [it, fresh] = dims.emplace(t[k], inputs[i].shape(k));
      if (!fresh && it->second != inputs[i].shape(k)) it->second = -1;
    }
  }
  std::vector<std::vector<array>> vals(nodes_.size());
  std::unordered_map<uintptr_t, array> bsrc;       // replayed Broadcast outputs -> their sources
  std::unordered_set<uintptr_t> stale;             // broadcasts whose traced target no longer holds
  auto get = [&](const Ref& r) -> array {
    if (r.kind == 0) return inputs[r.index];
    if (r.kind == 1) return constants_[r.index];
    return vals[r.index][r.out];
  };
  try {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      auto& n = nodes_[i];
      const Primitive& p = *n.prim;
      const Stream& s = p.stream();
      std::vector<array> ins;
      bool unchanged = true, has_stale = false;
      for (auto& r : n.inputs) {
        ins.push_back(get(r));
        unchanged = unchanged && ins.back().shape() == traced_shape(r);
        has_stale = has_stale || stale.count(ins.back().id());
      }
      auto make = [&](std::shared_ptr<Primitive> prim, std::vector<Shape> shapes, std::vector<array> xs) {
        if (shapes.size() == 1) vals[i] = {array(shapes[0], n.dtypes[0], std::move(prim), std::move(xs))};
        else vals[i] = array::make_arrays(std::move(shapes), n.dtypes, prim, xs);
      };
      if (is_elementwise(p)) {
        if (unchanged && !has_stale) {
          make(n.prim, n.shapes, std::move(ins));
          continue;
        }
        std::vector<array> src;
        Shape sh;
        for (auto& x : ins) {
          auto it = bsrc.find(x.id());
          src.push_back(it == bsrc.end() ? x : it->second);
          sh = src.size() == 1 ? src.back().shape() : broadcast_shapes(sh, src.back().shape(), "compile");
        }
        for (auto& x : src)
          if (x.shape() != sh) x = broadcast_to(x, sh, s);
        make(n.prim, std::vector<Shape>(n.dtypes.size(), sh), std::move(src));
        continue;
      }
      if (dynamic_cast<const Broadcast*>(&p)) {
        array src = ins[0];
        auto it = bsrc.find(src.id());
        if (it != bsrc.end()) src = it->second;
        if (unchanged && !has_stale) {
          make(n.prim, n.shapes, std::move(ins));
        } else {
          // The target shape is known only to the consumers (elementwise ones broadcast again):
          // a same-shape view stands in, marked so that other consumers refuse it.
          vals[i] = {array(src.shape(), src.dtype(), std::make_shared<Broadcast>(s, src.shape()), {src})};
          stale.insert(vals[i][0].id());
        }
        bsrc.emplace(vals[i][0].id(), src);
        continue;
      }
      if (has_stale) cant_infer(p);
      if (unchanged) {
        make(n.prim, n.shapes, std::move(ins));
        continue;
      }
      if (auto* t = dynamic_cast<const Transpose*>(&p)) {
        Shape sh;
        for (int a : t->perm_) sh.push_back(ins[0].shape(a));
        make(n.prim, {sh}, std::move(ins));
      } else if (dynamic_cast<const Matmul*>(&p)) {
        const Shape &a = ins[0].shape(), &b = ins[1].shape();
        if (a.size() < 2 || a.size() != b.size() || a.back() != b[b.size() - 2] ||
            !std::equal(a.begin(), a.end() - 2, b.begin()))
          cant_infer(p);
        Shape sh = a;
        sh.back() = b.back();
        make(n.prim, {sh}, std::move(ins));
      } else if (auto* rd = dynamic_cast<const Reduce*>(&p)) {
        Shape sh = ins[0].shape();
        for (int a : rd->axes_) {
          int ax = a < 0 ? a + static_cast<int>(sh.size()) : a;
          if (ax < 0 || ax >= static_cast<int>(sh.size())) cant_infer(p);
          sh[ax] = 1;
        }
        if (sh.size() != n.shapes[0].size()) cant_infer(p);
        make(n.prim, {sh}, std::move(ins));
      } else if (dynamic_cast<const NumberOfElements*>(&p)) {
        make(n.prim, n.shapes, std::move(ins));  // a 0-d count, read from the input's shape at eval
      } else if (dynamic_cast<const Reshape*>(&p)) {
        Shape sh;
        if (!infer_reshape(traced_shape(n.inputs[0]), n.shapes[0], ins[0].shape(), dims, sh)) cant_infer(p);
        make(std::make_shared<Reshape>(s, sh), {sh}, std::move(ins));
      } else {
        cant_infer(p);
      }
    }
  } catch (const std::exception& e) {
    if (is_shapeless_error(e)) throw;
    throw ValueError(msg(kShapelessMsg, "; ", e.what()));
  }
  std::vector<array> outs;
  for (auto& r : outputs_) {
    outs.push_back(get(r));
    if (stale.count(outs.back().id()) && r.kind == 2) cant_infer(*nodes_[r.index].prim);
  }
  return outs;
}

VecFn compile(const VecFn& fun, bool shapeless) {
  struct Cache {
    std::mutex mu;
    std::map<std::vector<std::pair<Shape, Dtype>>, std::shared_ptr<CompiledGraph>> graphs;
  };
  auto cache = std::make_shared<Cache>();
  return [fun, cache, shapeless](const std::vector<array>& inputs) {
    auto lookup = [&](const std::vector<std::pair<Shape, Dtype>>& key) {
      std::lock_guard lk(cache->mu);
      auto it = cache->graphs.find(key);
      return it == cache->graphs.end() ? nullptr : it->second;
    };
    auto trace = [&](const std::vector<std::pair<Shape, Dtype>>& key) {
      auto g = std::make_shared<CompiledGraph>(fun, inputs);
      std::lock_guard lk(cache->mu);
      cache->graphs[key] = g;
      return g;
    };
    // Traces are per default stream too: a trace records the streams its nodes run on, so a
    // function first called on the CPU is traced again when the default device is the GPU.
    std::vector<std::pair<Shape, Dtype>> exact;
    exact.emplace_back(Shape{-2, default_stream(default_device()).index}, Dtype::bool_);
    for (auto& a : inputs) exact.emplace_back(a.shape(), a.dtype());
    if (!shapeless) {
      auto g = lookup(exact);
      if (!g) g = trace(exact);
      return (*g)(inputs);
    }
    // Shapeless: one trace per ranks and dtypes (shapes of -1s), exact traces where its
    // replay can't infer the shapes.
    if (auto g = lookup(exact)) return (*g)(inputs);
    std::vector<std::pair<Shape, Dtype>> loose{exact[0]};
    for (auto& a : inputs) loose.emplace_back(Shape(a.ndim(), -1), a.dtype());
    auto g = lookup(loose);
    if (!g) return (*trace(loose))(inputs);
    try {
      return (*g)(inputs);
    } catch (const std::exception& e) {
      if (!is_shapeless_error(e)) throw;
    }
    return (*trace(exact))(inputs);
  };
}

}  // namespace mlx::core
