// vjp, jvp and vmap as walks over a traced graph.
#include <unordered_map>
#include <unordered_set>

#include <cstring>
#include <optional>

#include "mlx/ops.h"
#include "mlx/primitive.h"
#include "mlx/primitives/primitives.h"
#include "mlx/transforms.h"
#include "mlx/transforms/id_set.h"

namespace mlx::core {

namespace {

// The windows a chain of unevaluated slice updates writes over a broadcast zero (the
// cotangent Slice::vjp makes), top first; false if `a` is not such a chain.
bool zero_slice_updates(const array& a, std::vector<std::pair<const SliceUpdate*, array>>& ups) {
  const array* cur = &a;
  while (!cur->is_available() && cur->has_primitive() && cur->siblings().empty()) {
    auto* su = dynamic_cast<const SliceUpdate*>(&cur->primitive());
    if (!su) break;
    ups.emplace_back(su, cur->inputs()[1]);
    cur = &cur->inputs()[0];
  }
  if (ups.empty() || cur->is_available() || !cur->has_primitive() ||
      !dynamic_cast<const Broadcast*>(&cur->primitive()))
    return false;
  const array& v = cur->inputs()[0];
  if (!v.is_available() || v.size() != 1 || v.is_pending()) return false;
  const char* b = static_cast<const char*>(v.data<void>());
  for (size_t i = 0; i < v.itemsize(); ++i)
    if (b[i] != 0) return false;
  return true;
}

// Whether two strided windows share no element: along some axis their index ranges (positive
// strides only; others count as overlapping) don't meet.
bool disjoint(const SliceUpdate& x, const SliceUpdate& y) {
  for (size_t i = 0; i < x.start_.size() && i < y.start_.size(); ++i) {
    if (x.strides_[i] <= 0 || y.strides_[i] <= 0) continue;
    auto last = [](int64_t s, int64_t e, int64_t st) { return e > s ? s + (e - 1 - s) / st * st : s - 1; };
    int64_t xl = last(x.start_[i], x.stop_[i], x.strides_[i]), yl = last(y.start_[i], y.stop_[i], y.strides_[i]);
    if (xl < x.start_[i] || yl < y.start_[i]) return true;  // an empty window
    if (xl < y.start_[i] || yl < x.start_[i]) return true;
  }
  return false;
}

// s + v where both are slice updates of zeros over disjoint windows (the cotangents of
// qkv[0], qkv[1], qkv[2]): v's updates written over s, one buffer instead of a zero-filled
// array per slice and a full-size add per pair. Empty when the rule doesn't apply.
std::optional<array> add_disjoint_slice_updates(const array& s, const array& v) {
  if (s.shape() != v.shape() || s.dtype() != v.dtype()) return std::nullopt;
  std::vector<std::pair<const SliceUpdate*, array>> su, vu;
  if (!zero_slice_updates(s, su) || !zero_slice_updates(v, vu)) return std::nullopt;
  for (auto& [x, xu] : vu)
    for (auto& [y, yu] : su)
      if (!disjoint(*x, *y)) return std::nullopt;
  array out = s;
  for (auto it = vu.rbegin(); it != vu.rend(); ++it)
    out = slice_update(out, it->second, it->first->start_, it->first->stop_, it->first->strides_,
                       it->first->stream());
  return out;
}

}  // namespace

namespace detail {

constexpr uint8_t kDepends = 1;

// Nodes between `inputs` (exclusive) and `outputs`, in topological order, that depend on an input.
// `state` gets every node the walk reached, with kDepends on those that depend on an input
// (the inputs included).
std::vector<array> depending_tape(const std::vector<array>& outputs, const IdSet& input_ids,
                                  IdMap<uint8_t>& state) {
  input_ids.for_each([&](uintptr_t k) { *state.try_emplace(k).first = kDepends; });
  std::vector<array> tape;
  // A frame: the node (kept alive by `outputs` through the inputs lists), the next input to
  // visit, and whether an input seen so far depends on the primals. A node is finished before
  // any node that reaches it again (the graph has no cycles), so its state is final by then.
  struct Frame {
    const array* a;
    size_t i;
    bool dep;
  };
  std::vector<Frame> stack;
  stack.reserve(64);
  tape.reserve(64);
  // One complete walk per output, so an output that feeds a later one (f(x) = (h, exp(h)))
  // is on the tape, and known to depend on the inputs, before the later one is checked.
  for (auto& o : outputs) {
    // A node of a pending background evaluation depends on no input (see transforms.h).
    if (o.is_pending() || !state.try_emplace(o.id()).second) continue;  // an input, or seen already
    stack.push_back({&o, 0, false});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const array& a = *f.a;
      if (a.has_primitive() && f.i < a.inputs().size()) {
        const array& in = a.inputs()[f.i++];
        if (in.is_pending() || !in.has_primitive()) {
          // A leaf (a constant, an evaluated value, an input, a node of a pending background
          // evaluation) needs no visit or record: it depends on the inputs only if it is one.
          f.dep |= input_ids.contains(in.id());
          continue;
        }
        auto [st, added] = state.try_emplace(in.id());
        if (added) stack.push_back({&in, 0, false});
        else f.dep |= (*st & kDepends) != 0;
        continue;
      }
      bool dep = f.dep && a.has_primitive();
      stack.pop_back();
      if (!stack.empty()) stack.back().dep |= dep;
      if (!dep) continue;
      *state.try_emplace(a.id()).first = kDepends;
      for (auto& s : a.siblings()) *state.try_emplace(s.id()).first = kDepends;
      tape.push_back(a);
    }
  }
  return tape;
}

std::vector<array> depending_tape(const std::vector<array>& outputs,
                                  const std::unordered_set<uintptr_t>& input_ids,
                                  std::unordered_set<uintptr_t>* depends_out) {
  IdSet ids;
  IdMap<uint8_t> state;
  for (auto k : input_ids) ids.insert(k);
  auto tape = depending_tape(outputs, ids, state);
  if (depends_out) {
    depends_out->clear();
    state.for_each([&](uintptr_t k, uint8_t st) {
      if (st & kDepends) depends_out->insert(k);
    });
  }
  return tape;
}

}  // namespace detail

namespace {
using detail::depending_tape;

std::vector<array> make_tracers(const std::vector<array>& primals) {
  std::vector<array> tr;
  for (auto& p : primals) {
    array c = copy(p);  // shares p's buffer; a new node the trace can start from
    c.set_tracer(true);
    tr.push_back(c);
  }
  return tr;
}

}  // namespace

std::pair<std::vector<array>, std::vector<array>> vjp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  detail::TraceGuard guard;
  auto tracers = make_tracers(primals);
  detail::IdSet ids;
  for (auto& t : tracers) ids.insert(t.id());
  std::vector<array> outputs = fun(tracers);
  if (cotangents.size() != outputs.size())
    throw ValueError(msg("[vjp] the number of cotangents must equal the number of outputs (", outputs.size(),
                         "); got ", cotangents.size(), "."));
  detail::IdMap<array> ct;
  // Adds v to the cotangent of node id k.
  auto accumulate = [&ct](uintptr_t k, array v) {
    auto [slot, added] = ct.try_emplace(k);
    if (added) {
      *slot = std::move(v);
    } else if (auto merged = add_disjoint_slice_updates(*slot, v)) {
      *slot = std::move(*merged);
    } else {
      *slot = add(*slot, v);
    }
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (cotangents[i].shape() != outputs[i].shape())
      throw ValueError(msg("[vjp] a cotangent's shape must match its output's; got ", cotangents[i].shape(),
                           " for an output of shape ", outputs[i].shape(), "."));
    accumulate(outputs[i].id(), astype(cotangents[i], outputs[i].dtype()));
  }
  // `active`: the values that depend on the primals (the tracers and every output of a tape
  // node). Only inputs among them get a vjp (a mask or a frozen weight needs no gradient).
  detail::IdMap<uint8_t> active;
  auto tape = depending_tape(outputs, ids, active);
  auto is_active = [&active](uintptr_t k) {
    uint8_t* st = active.find(k);
    return st && (*st & detail::kDepends);
  };
  std::vector<array> outs, cts;
  std::vector<int> argnums;
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    array& node = *it;
    if (node.siblings().empty()) {
      array* f = ct.find(node.id());
      if (!f) continue;
      outs.assign(1, node);
      cts.assign(1, *f);
    } else {
      outs = node.outputs();
      cts.clear();
      bool any = false;
      for (auto& o : outs) {
        if (array* f = ct.find(o.id())) {
          any = true;
          cts.push_back(*f);
        } else {
          cts.push_back(zeros_like(o));
        }
      }
      if (!any) continue;
    }
    argnums.clear();
    auto& ins = node.inputs();
    for (size_t i = 0; i < ins.size(); ++i)
      if (is_inexact(ins[i].dtype()) && is_active(ins[i].id())) argnums.push_back(static_cast<int>(i));
    if (argnums.empty()) continue;
    auto vjps = node.primitive().vjp(ins, cts, argnums, outs);
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = ins[argnums[k]];
      array& v = vjps[k];
      accumulate(in.id(), v.dtype() != in.dtype() ? astype(v, in.dtype()) : std::move(v));
    }
  }
  std::vector<array> grads;
  for (size_t i = 0; i < tracers.size(); ++i) {
    array* f = ct.find(tracers[i].id());
    grads.push_back(f ? *f : zeros_like(primals[i]));
  }
  return {outputs, grads};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (primals.size() != tangents.size())
    throw ValueError(msg("[jvp] the number of tangents must equal the number of primals (", primals.size(),
                         "); got ", tangents.size(), "."));
  for (size_t i = 0; i < primals.size(); ++i)
    if (primals[i].shape() != tangents[i].shape())
      throw ValueError(msg("[jvp] a tangent's shape must match its primal's; got ", tangents[i].shape(),
                           " for a primal of shape ", primals[i].shape(), "."));
  detail::TraceGuard guard;
  auto tracers = make_tracers(primals);
  detail::IdSet ids;
  detail::IdMap<uint8_t> depends;
  detail::IdMap<array> tan;
  auto set_tangent = [&tan](uintptr_t k, const array& t) {
    auto [slot, added] = tan.try_emplace(k);
    if (added) *slot = t;
  };
  for (size_t i = 0; i < tracers.size(); ++i) {
    ids.insert(tracers[i].id());
    set_tangent(tracers[i].id(), tangents[i]);
  }
  std::vector<array> outputs = fun(tracers);
  auto tape = depending_tape(outputs, ids, depends);
  std::vector<int> argnums;
  std::vector<array> ts;
  for (auto& node : tape) {
    auto& ins = node.inputs();
    argnums.clear();
    ts.clear();
    for (size_t i = 0; i < ins.size(); ++i) {
      if (array* f = tan.find(ins[i].id())) {
        argnums.push_back(static_cast<int>(i));
        ts.push_back(*f);
      }
    }
    if (argnums.empty()) continue;
    auto outs = node.outputs();
    auto r = node.primitive().jvp(ins, ts, argnums);
    for (size_t k = 0; k < outs.size() && k < r.size(); ++k) set_tangent(outs[k].id(), r[k]);
  }
  std::vector<array> out_t;
  for (auto& o : outputs) {
    array* f = tan.find(o.id());
    out_t.push_back(f ? *f : zeros_like(o));
  }
  return {outputs, out_t};
}

VecFn vmap(const VecFn& fun, const std::vector<int>& in_axes, const std::vector<int>& out_axes) {
  return [fun, in_axes, out_axes](const std::vector<array>& inputs) -> std::vector<array> {
    detail::TraceGuard guard;
    if (in_axes.size() != inputs.size())
      throw ValueError(msg("[vmap] in_axes must have one entry per input (", inputs.size(), "); got ",
                           in_axes.size(), "."));
    int B = -1;
    std::vector<array> placeholders;
    std::unordered_set<uintptr_t> ids;
    std::unordered_map<uintptr_t, std::pair<array, int>> batched;
    for (size_t i = 0; i < inputs.size(); ++i) {
      int ax = in_axes[i];
      if (ax < 0) {
        placeholders.push_back(inputs[i]);
        continue;
      }
      if (ax >= static_cast<int>(inputs[i].ndim()))
        throw ValueError(msg("[vmap] in_axes ", ax, " is out of range for an input with ", inputs[i].ndim(),
                             " dimensions; got in_axes=", ax, "."));
      int n = inputs[i].shape(ax);
      if (B >= 0 && n != B)
        throw ValueError(msg("[vmap] inconsistent sizes along the mapped axes; got ", B, " and ", n, "."));
      B = n;
      array p = copy(take(inputs[i], array(0, int32), ax));
      p.set_tracer(true);
      ids.insert(p.id());
      batched.emplace(p.id(), std::make_pair(inputs[i], ax));
      placeholders.push_back(p);
    }
    if (B < 0) throw ValueError("[vmap] at least one input must be mapped; got in_axes all None.");
    auto outputs = fun(placeholders);
    auto tape = depending_tape(outputs, ids);
    for (auto& node : tape) {
      auto& ins = node.inputs();
      std::vector<array> vin;
      std::vector<int> vax;
      for (auto& in : ins) {
        auto f = batched.find(in.id());
        if (f != batched.end()) {
          vin.push_back(f->second.first);
          vax.push_back(f->second.second);
        } else {
          vin.push_back(in);
          vax.push_back(-1);
        }
      }
      auto outs = node.outputs();
      std::vector<array> vo;
      std::vector<int> vo_ax;
      try {
        auto r = node.primitive().vmap(vin, vax);
        vo = std::move(r.first);
        vo_ax = std::move(r.second);
      } catch (const ValueError&) {
        // Fallback: apply the primitive to each batch element and stack.
        std::vector<std::vector<array>> per(outs.size());
        for (int b = 0; b < B; ++b) {
          std::vector<array> slice_in;
          for (size_t i = 0; i < vin.size(); ++i)
            slice_in.push_back(vax[i] >= 0 ? take(vin[i], array(b, int32), vax[i]) : vin[i]);
          std::vector<Shape> shapes;
          std::vector<Dtype> dtypes;
          for (auto& o : outs) {
            shapes.push_back(o.shape());
            dtypes.push_back(o.dtype());
          }
          auto r = outs.size() == 1
                       ? std::vector<array>{array(shapes[0], dtypes[0], node.primitive_ptr(), slice_in)}
                       : array::make_arrays(shapes, dtypes, node.primitive_ptr(), slice_in);
          for (size_t k = 0; k < r.size(); ++k) per[k].push_back(r[k]);
        }
        vo.clear();
        vo_ax.clear();
        for (auto& p : per) {
          vo.push_back(stack(p, 0));
          vo_ax.push_back(0);
        }
      }
      for (size_t k = 0; k < outs.size(); ++k) {
        if (vo_ax[k] >= 0) batched.emplace(outs[k].id(), std::make_pair(vo[k], vo_ax[k]));
        else batched.emplace(outs[k].id(), std::make_pair(vo[k], -1));
      }
    }
    std::vector<array> res;
    for (size_t i = 0; i < outputs.size(); ++i) {
      int oax = out_axes.empty() ? 0 : (out_axes.size() == 1 ? out_axes[0] : out_axes[i]);
      auto f = batched.find(outputs[i].id());
      array val;
      int ax;
      if (f == batched.end() || f->second.second < 0) {
        // Output independent of the mapped inputs: broadcast along the batch.
        array o = f == batched.end() ? outputs[i] : f->second.first;
        Shape sh = o.shape();
        sh.insert(sh.begin(), B);
        val = broadcast_to(expand_dims(o, {0}), sh);
        ax = 0;
      } else {
        val = f->second.first;
        ax = f->second.second;
      }
      if (oax < 0) {
        res.push_back(take(val, array(0, int32), ax));
        continue;
      }
      if (oax > static_cast<int>(val.ndim()) - 1)
        throw ValueError(msg("[vmap] out_axes ", oax, " is out of range for an output with ", val.ndim(),
                             " dimensions; got out_axes=", oax, "."));
      res.push_back(moveaxis(val, ax, oax));
    }
    return res;
  };
}

}  // namespace mlx::core
