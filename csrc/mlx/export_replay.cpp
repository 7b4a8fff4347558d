// Import: rebuilds an exported graph on the caller's arrays with the same primitives (the
// fast ops go through their ops, which attach their composite fallbacks). For shapeless
// functions called on new shapes, each node's output shapes are inferred from its inputs.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>

#include "mlx/export_impl.h"
#include "mlx/ops.h"
#include "mlx/ops/fast.h"
#include "mlx/primitives/conv.h"
#include "mlx/primitives/fast.h"
#include "mlx/primitives/fft.h"
#include "mlx/primitives/linalg.h"
#include "mlx/primitives/number_of_elements.h"
#include "mlx/primitives/primitives.h"
#include "mlx/primitives/quantized.h"
#include "mlx/primitives/random.h"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core::export_detail {

namespace {

const std::unordered_map<std::string, UnaryOp>& unary_ops() {
  static const std::unordered_map<std::string, UnaryOp> m = [] {
    std::unordered_map<std::string, UnaryOp> r;
#define MLX_UNARY(C, n) r[#C] = UnaryOp::C;
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
    return r;
  }();
  return m;
}

const std::unordered_map<std::string, BinaryOp>& binary_ops() {
  static const std::unordered_map<std::string, BinaryOp> m = [] {
    std::unordered_map<std::string, BinaryOp> r;
#define MLX_BINARY(C, n) r[#C] = BinaryOp::C;
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
    return r;
  }();
  return m;
}


struct Replay {
  const ExportNode& node;
  std::vector<Shape> rec_in;  // the input shapes recorded at export
  bool infer;                 // shapes differ from the trace: infer them
  bool validate;              // check the file: infer every shape and compare with the recorded one
  Stream s;
  const std::unordered_map<uintptr_t, array>* broadcast_src;  // replayed Broadcast nodes -> sources
  // Traced size -> new sizes, over the dims of the function's inputs that are not 1.
  const std::unordered_map<int, std::set<int>>* dim_map;

  [[noreturn]] void cant() const {
    if (validate) corrupt(msg(node.name, " does not fit the shapes of its inputs"));
    throw ValueError(msg("[import_function] this shapeless function can't be called with inputs of new shapes "
                         "because a primitive's output shape depends on the traced shapes; got ",
                         node.name, "."));
  }
  bool inputs_unchanged(const std::vector<array>& ins) const {
    if (validate) return false;
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i].shape() != rec_in[i]) return false;
    return true;
  }
  // Output shapes: recorded ones, or from `rule` when inferring.
  std::vector<Shape> shapes(const std::vector<array>& ins, const std::function<std::vector<Shape>()>& rule) const {
    if (!infer || inputs_unchanged(ins)) return node.shapes;
    if (!rule) {
      if (validate) return node.shapes;  // nothing to check it against
      cant();
    }
    auto r = rule();
    if (r.size() != node.shapes.size()) cant();
    return r;
  }
  std::vector<array> make(std::shared_ptr<Primitive> p, const std::vector<array>& ins,
                          const std::vector<Shape>& sh) const {
    if (sh.size() == 1) return {array(sh[0], node.dtypes[0], std::move(p), ins)};
    return array::make_arrays(sh, node.dtypes, p, ins);
  }
  std::vector<array> build(std::shared_ptr<Primitive> p, const std::vector<array>& ins,
                           const std::function<std::vector<Shape>()>& rule = nullptr) const {
    return make(std::move(p), ins, shapes(ins, rule));
  }
  // The array a replayed Broadcast node was made from (for re-broadcasting), else `a`.
  array src(const array& a) const {
    auto it = broadcast_src->find(a.id());
    return it == broadcast_src->end() ? a : it->second;
  }
};

void need_inputs(const Replay& r, const std::vector<array>& ins, size_t lo, size_t hi = SIZE_MAX) {
  if (ins.size() < lo || ins.size() > (hi == SIZE_MAX ? lo : hi))
    corrupt(msg(r.node.name, " has ", ins.size(), " inputs"));
}

int norm_axis(int ax, int nd, const Replay& r) {
  int a = ax < 0 ? ax + nd : ax;
  if (a < 0 || a >= nd) r.cant();
  return a;
}

int n_free_dims(const Shape& s, size_t lo, size_t hi) {
  int n = 0;
  for (size_t k = lo; k < hi; ++k) n += s[k] != 1;
  return n;
}

// A reshape that only drops and inserts dims of size 1 (squeeze / expand_dims): matches the
// traced input dims to the output dims (dropping only dims that are still 1), with backtracking.
bool align_units(const Shape& oi, const Shape& oo, const Shape& ni, size_t i, size_t j, Shape& out) {
  if (i == oi.size() && j == oo.size()) return true;
  size_t mark = out.size();
  if (i < oi.size() && j < oo.size() && oi[i] == oo[j]) {
    out.push_back(ni[i]);
    if (align_units(oi, oo, ni, i + 1, j + 1, out)) return true;
    out.resize(mark);
  }
  if (i < oi.size() && oi[i] == 1 && ni[i] == 1 && align_units(oi, oo, ni, i + 1, j, out)) return true;
  out.resize(mark);
  if (j < oo.size() && oo[j] == 1) {
    out.push_back(1);
    if (align_units(oi, oo, ni, i, j + 1, out)) return true;
    out.resize(mark);
  }
  return false;
}

Shape infer_reshape(const Shape& oi, const Shape& oo, const Shape& ni, const Replay& r) {
  if (oi.size() != ni.size()) r.cant();
  Shape a, b;
  for (auto d : oi) if (d != 1) a.push_back(d);
  for (auto d : oo) if (d != 1) b.push_back(d);
  if (a == b && oi.size() + oo.size() <= 64) {
    Shape out;
    if (align_units(oi, oo, ni, 0, 0, out)) return out;
    r.cant();
  }
  for (auto d : oi) if (d == 0) r.cant();
  for (auto d : oo) if (d == 0) r.cant();
  for (auto d : ni) if (d == 0) r.cant();
  Shape out;
  size_t i = 0, j = 0, n_in = oi.size(), n_out = oo.size();
  while (i < n_in || j < n_out) {
    size_t i0 = i, j0 = j;
    int64_t pi = i < n_in ? oi[i++] : 1;
    int64_t po = j < n_out ? oo[j++] : 1;
    while (pi != po) {
      if (pi < po) {
        if (i >= n_in) r.cant();
        pi *= oi[i++];
      } else {
        if (j >= n_out) r.cant();
        po *= oo[j++];
      }
    }
    bool changed = false;
    int64_t np = 1;
    for (size_t k = i0; k < i; ++k) {
      changed |= ni[k] != oi[k];
      np *= ni[k];
    }
    if (!changed) {
      out.insert(out.end(), oo.begin() + j0, oo.begin() + j);
      continue;
    }
    if (np > INT32_MAX) r.cant();
    // Output dims of size 1 stay 1. A dim whose traced size is the traced size of an input
    // dimension (with one new size) takes that new size, as when a reshape splits back dims
    // that an earlier reshape merged; at most one remaining dim takes what is left.
    int unknown = -1, n_unknown = 0;
    int64_t known = 1;
    Shape blk;
    for (size_t k = j0; k < j; ++k) {
      int d = oo[k];
      blk.push_back(d == 1 ? 1 : 0);
      if (d == 1) continue;
      if (n_free_dims(oo, j0, j) > 1) {
        auto it = r.dim_map->find(d);
        if (it != r.dim_map->end() && it->second.size() == 1) {
          blk.back() = *it->second.begin();
          known *= blk.back();
          continue;
        }
      }
      unknown = static_cast<int>(k - j0);
      n_unknown++;
    }
    if (n_unknown > 1) r.cant();
    if (n_unknown == 1) {
      if (known == 0 || np % known != 0) r.cant();
      blk[unknown] = static_cast<int>(np / known);
    } else if (known != np) {
      r.cant();
    }
    out.insert(out.end(), blk.begin(), blk.end());
  }
  return out;
}

// The shape of the window [start:stop:strides] (as normalized by the slice ops) of `in`, or an
// empty shape with a -1 when the window doesn't lie in it.
Shape window_shape(const Shape& in, const Shape& start, const Shape& stop, const Shape& strides) {
  if (start.size() != in.size() || stop.size() != in.size() || strides.size() != in.size()) return {-1};
  Shape sh(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    int64_t n = in[i], b = start[i], e = stop[i], st = strides[i];
    if (st > 0) {
      if (b < 0 || b > n || e < 0 || e > n) return {-1};
      sh[i] = static_cast<int>(e > b ? (e - b + st - 1) / st : 0);
    } else if (st < 0) {
      if (b < -1 || b > n - 1 || e < -1 || e > n - 1) return {-1};
      sh[i] = static_cast<int>(b > e ? (b - e - st - 1) / (-st) : 0);
    } else {
      return {-1};
    }
  }
  return sh;
}

// Window of Slice/SliceUpdate on a new shape: unchanged dims keep the window, full-dim
// windows follow the new size; anything else can't be inferred.
Shape infer_window(const Shape& oi, const Shape& ni, Shape& start, Shape& stop, const Shape& strides,
                   const Shape& old_window, const Replay& r) {
  if (oi.size() != ni.size() || start.size() != ni.size() || stop.size() != ni.size() ||
      strides.size() != ni.size() || old_window.size() != ni.size())
    r.cant();
  Shape w = old_window;
  for (size_t d = 0; d < ni.size(); ++d) {
    if (ni[d] == oi[d]) continue;
    if (start[d] == 0 && strides[d] == 1 && stop[d] == oi[d]) {
      stop[d] = ni[d];
      w[d] = ni[d];
    } else {
      r.cant();
    }
  }
  return w;
}

using Builder = std::function<std::vector<array>(const ParamReader&, const std::vector<array>&, const Replay&)>;

// Builds a node of a primitive whose outputs have the shape of input 0.
template <typename F>
Builder same_shape(F make_prim, size_t n_inputs = 1) {
  return [make_prim, n_inputs](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
    need_inputs(r, ins, n_inputs);
    return r.build(make_prim(p, r.s), ins, [&] { return std::vector<Shape>(r.node.shapes.size(), ins[0].shape()); });
  };
}

// Builds a node whose shapes can't be inferred (replay only on the traced shapes).
template <typename F>
Builder fixed(F make_prim) {
  return [make_prim](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
    return r.build(make_prim(p, r.s), ins);
  };
}

std::vector<array> broadcast_all(std::vector<array> xs, const Replay& r, size_t keep_last = 0) {
  Shape sh;
  for (auto& x : xs) {
    if (x.ndim() < keep_last) r.cant();
    Shape lead(x.shape().begin(), x.shape().end() - keep_last);
    sh = broadcast_shapes(sh, lead, "import_function");
  }
  for (auto& x : xs) {
    Shape t = sh;
    t.insert(t.end(), x.shape().end() - keep_last, x.shape().end());
    x = broadcast_to(x, t, r.s);
  }
  return xs;
}

const std::unordered_map<std::string, Builder>& builders() {
  static const std::unordered_map<std::string, Builder> m = [] {
    std::unordered_map<std::string, Builder> b;
    // ---- elementwise (inputs already broadcast; shapeless replay re-broadcasts) ----
    for (auto& [name, op] : unary_ops()) {
      UnaryOp o = op;
      b[name] = same_shape([o](const ParamReader&, Stream s) { return std::make_shared<Unary>(s, o); });
    }
    auto elementwise = [](std::function<std::shared_ptr<Primitive>(Stream)> mk, size_t n) -> Builder {
      return [mk, n](const ParamReader&, const std::vector<array>& ins, const Replay& r) {
        need_inputs(r, ins, n);
        if (r.validate) {
          // The kernels take operands already broadcast to the output and of one dtype.
          for (auto& x : ins)
            if (x.shape() != r.node.shapes[0]) r.cant();
          size_t first = n == 3 ? 1 : 0;
          for (size_t k = first; k < n; ++k)
            if (ins[k].dtype() != ins[first].dtype()) r.cant();
          if (n == 3 && (ins[0].dtype() != bool_ || r.node.dtypes[0] != ins[1].dtype())) r.cant();
          return r.make(mk(r.s), ins, r.node.shapes);
        }
        if (!r.infer || r.inputs_unchanged(ins)) return r.build(mk(r.s), ins);
        std::vector<array> xs;
        for (auto& x : ins) xs.push_back(r.src(x));
        xs = broadcast_all(xs, r);
        return r.make(mk(r.s), xs, std::vector<Shape>(r.node.shapes.size(), xs[0].shape()));
      };
    };
    for (auto& [name, op] : binary_ops()) {
      BinaryOp o = op;
      b[name] = elementwise([o](Stream s) { return std::make_shared<Binary>(s, o); }, 2);
    }
    b["DivMod"] = elementwise([](Stream s) { return std::make_shared<DivMod>(s); }, 2);
    b["Select"] = elementwise([](Stream s) { return std::make_shared<Select>(s); }, 3);
    b["Matmul"] = [](const ParamReader&, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 2);
      if (r.validate) {
        const Shape &a = ins[0].shape(), &b = ins[1].shape();
        if (a.size() < 2 || a.size() != b.size() || a[a.size() - 1] != b[b.size() - 2] ||
            !std::equal(a.begin(), a.end() - 2, b.begin()) || ins[0].dtype() != ins[1].dtype() ||
            ins[0].dtype() != r.node.dtypes[0])
          r.cant();
        Shape os(a.begin(), a.end() - 1);
        os.push_back(b.back());
        if (os != r.node.shapes[0]) r.cant();
        return r.make(std::make_shared<Matmul>(r.s), ins, r.node.shapes);
      }
      if (!r.infer || r.inputs_unchanged(ins)) return r.build(std::make_shared<Matmul>(r.s), ins);
      std::vector<array> xs{r.src(ins[0]), r.src(ins[1])};
      if (xs[0].ndim() < 2 || xs[1].ndim() < 2 || xs[0].shape(-1) != xs[1].shape(-2))
        throw ValueError(msg("[import_function] matmul of the new shapes is not defined; got a.shape=",
                             xs[0].shape(), ", b.shape=", xs[1].shape(), "."));
      xs = broadcast_all(xs, r, 2);
      Shape os(xs[0].shape().begin(), xs[0].shape().end() - 1);
      os.push_back(xs[1].shape(-1));
      return r.make(std::make_shared<Matmul>(r.s), xs, {os});
    };
    b["AsType"] = same_shape([](const ParamReader& p, Stream s) { return std::make_shared<AsType>(s, p.t(0)); });
    b["Arange"] = fixed([](const ParamReader& p, Stream s) {
      return std::make_shared<Arange>(s, p.f(0), p.f(1), p.f(2));
    });
    // ---- reductions ----
    b["Reduce"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      auto t = enum_value<ReduceType>(p.s(0), reduce_type_names);
      auto axes = p.v(1);
      return r.build(std::make_shared<Reduce>(r.s, t, axes), ins, [&] {
        Shape sh = ins[0].shape();
        for (int& a : axes) {
          a = norm_axis(a, static_cast<int>(sh.size()), r);
          if (!r.validate && sh[a] == 0 && (t == ReduceType::Min || t == ReduceType::Max)) r.cant();
          sh[a] = 1;
        }
        return std::vector<Shape>{sh};
      });
    };
    // A 0-d count whose value is read from the input's shape when evaluated.
    b["NumberOfElements"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      auto axes = p.v(0);
      int nd = static_cast<int>(ins[0].ndim());
      for (int a : axes)
        if (a < 0 || a >= nd) r.cant();
      auto prim = std::make_shared<NumberOfElements>(r.s, axes, p.b(1), p.i(2), p.t(3));
      return r.build(prim, ins, [] { return std::vector<Shape>{Shape{}}; });
    };
    b["ArgReduce"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      auto t = enum_value<ArgReduceType>(p.s(0), argreduce_names);
      int ax = p.i(1);
      return r.build(std::make_shared<ArgReduce>(r.s, t, ax), ins, [&] {
        Shape sh = ins[0].shape();
        int a = norm_axis(ax, static_cast<int>(sh.size()), r);
        if (!r.validate && sh[a] == 0) r.cant();
        sh[a] = 1;
        return std::vector<Shape>{sh};
      });
    };
    b["Softmax"] = same_shape([](const ParamReader& p, Stream s) { return std::make_shared<Softmax>(s, p.b(0)); });
    // ---- shapes and views ----
    b["Reshape"] = [](const ParamReader&, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      Shape sh = r.node.shapes[0];
      if (r.validate && shape_size(sh) != ins[0].size()) r.cant();
      if (r.infer && !r.inputs_unchanged(ins)) sh = infer_reshape(r.rec_in[0], r.node.shapes[0], ins[0].shape(), r);
      return r.make(std::make_shared<Reshape>(r.s, sh), ins, {sh});
    };
    b["Transpose"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      auto perm = p.v(0);
      return r.build(std::make_shared<Transpose>(r.s, perm), ins, [&] {
        if (perm.size() != ins[0].ndim()) r.cant();
        Shape sh;
        for (int a : perm) sh.push_back(ins[0].shape(norm_axis(a, static_cast<int>(perm.size()), r)));
        return std::vector<Shape>{sh};
      });
    };
    b["Broadcast"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      Shape target = p.v<Shape>(0);
      if (!r.infer || r.inputs_unchanged(ins)) return r.build(std::make_shared<Broadcast>(r.s, target), ins);
      // Dims of the source that changed size take the new size; the others keep the target's.
      const Shape& old = r.rec_in[0];
      const Shape& cur = ins[0].shape();
      if (old.size() != cur.size() || target.size() < cur.size()) r.cant();
      size_t off = target.size() - cur.size();
      for (size_t j = 0; j < cur.size(); ++j)
        if (cur[j] != old[j]) target[off + j] = cur[j] == 1 ? target[off + j] : cur[j];
      return std::vector<array>{broadcast_to(ins[0], target, r.s)};
    };
    b["Slice"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 1);
      Shape start = p.v<Shape>(0), stop = p.v<Shape>(1), strides = p.v<Shape>(2);
      Shape sh = r.node.shapes[0];
      if (r.validate && window_shape(ins[0].shape(), start, stop, strides) != sh) r.cant();
      if (r.infer && !r.inputs_unchanged(ins))
        sh = infer_window(r.rec_in[0], ins[0].shape(), start, stop, strides, r.node.shapes[0], r);
      return r.make(std::make_shared<Slice>(r.s, start, stop, strides), ins, {sh});
    };
    b["SliceUpdate"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 2);
      Shape start = p.v<Shape>(0), stop = p.v<Shape>(1), strides = p.v<Shape>(2);
      if (r.validate && (window_shape(ins[0].shape(), start, stop, strides) != ins[1].shape() ||
                         ins[0].shape() != r.node.shapes[0] || ins[0].dtype() != ins[1].dtype()))
        r.cant();
      if (r.infer && !r.inputs_unchanged(ins)) {
        Shape w = infer_window(r.rec_in[0], ins[0].shape(), start, stop, strides, r.rec_in[1], r);
        if (ins[1].shape() != w) r.cant();
        return r.make(std::make_shared<SliceUpdate>(r.s, start, stop, strides), ins, {ins[0].shape()});
      }
      return r.build(std::make_shared<SliceUpdate>(r.s, start, stop, strides), ins);
    };
    b["AsStrided"] = fixed([](const ParamReader& p, Stream s) {
      int64_t off = p.i64(2);
      if (off < 0) corrupt("a negative AsStrided offset");
      return std::make_shared<AsStrided>(s, p.v<Shape>(0), p.v64(1), static_cast<size_t>(off));
    });
    b["Concatenate"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      if (ins.empty()) corrupt("Concatenate without inputs");
      int ax = p.i(0);
      return r.build(std::make_shared<Concatenate>(r.s, ax), ins, [&] {
        Shape sh = ins[0].shape();
        int a = norm_axis(ax, static_cast<int>(sh.size()), r);
        sh[a] = 0;
        for (auto& x : ins) {
          if (x.ndim() != sh.size()) r.cant();
          for (size_t d = 0; d < sh.size(); ++d)
            if (static_cast<int>(d) != a && x.shape(d) != sh[d]) r.cant();
          sh[a] += x.shape(a);
        }
        return std::vector<Shape>{sh};
      });
    };
    // ---- indexing ----
    b["Gather"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 2);
      int ax = p.i(0);
      return r.build(std::make_shared<Gather>(r.s, ax), ins, [&] {
        const Shape& a = ins[0].shape();
        int x = norm_axis(ax, static_cast<int>(a.size()), r);
        if (!r.validate && a[x] == 0) r.cant();
        Shape sh(a.begin(), a.begin() + x);
        sh.insert(sh.end(), ins[1].shape().begin(), ins[1].shape().end());
        sh.insert(sh.end(), a.begin() + x + 1, a.end());
        return std::vector<Shape>{sh};
      });
    };
    b["GatherAxis"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 2);
      int ax = p.i(0);
      return r.build(std::make_shared<GatherAxis>(r.s, ax), ins, [&] {
        const Shape &a = ins[0].shape(), &i = ins[1].shape();
        int x = norm_axis(ax, static_cast<int>(a.size()), r);
        if (a.size() != i.size() || (!r.validate && a[x] == 0)) r.cant();
        for (size_t d = 0; d < a.size(); ++d)
          if (static_cast<int>(d) != x && a[d] != i[d]) r.cant();
        return std::vector<Shape>{i};
      });
    };
    auto scatter_like = [](bool axis_form) -> Builder {
      return [axis_form](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
        need_inputs(r, ins, 3);
        int ax = p.i(0);
        auto mode = enum_value<ScatterMode>(p.s(1), scatter_mode_names);
        std::shared_ptr<Primitive> prim;
        if (axis_form) prim = std::make_shared<ScatterAxis>(r.s, ax, mode);
        else prim = std::make_shared<Scatter>(r.s, ax, mode);
        return r.build(prim, ins, [&] {
          const Shape &a = ins[0].shape(), &i = ins[1].shape(), &u = ins[2].shape();
          int x = norm_axis(ax, static_cast<int>(a.size()), r);
          Shape want;
          if (axis_form) {
            want = a;
            if (i.size() != a.size()) r.cant();
            want[x] = i[x];
            if (i != want) r.cant();
          } else {
            want.assign(a.begin(), a.begin() + x);
            want.insert(want.end(), i.begin(), i.end());
            want.insert(want.end(), a.begin() + x + 1, a.end());
          }
          if (u != want || (!r.validate && a[x] == 0)) r.cant();
          return std::vector<Shape>{a};
        });
      };
    };
    b["Scatter"] = scatter_like(false);
    b["ScatterAxis"] = scatter_like(true);
    // ---- convolution ----
    b["Convolution"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      need_inputs(r, ins, 2);
      auto stride = p.v(0), plo = p.v(1), phi = p.v(2), kd = p.v(3), id = p.v(4);
      int groups = p.i(5);
      bool flip = p.b(6);
      auto prim = std::make_shared<Convolution>(r.s, stride, plo, phi, kd, id, groups, flip);
      return r.build(prim, ins, [&] {
        const Shape &x = ins[0].shape(), &w = ins[1].shape();
        size_t ns = stride.size();
        if (x.size() != ns + 2 || w.size() != ns + 2 || plo.size() != ns || phi.size() != ns || kd.size() != ns ||
            id.size() != ns || groups <= 0 || x.back() != w.back() * groups || w[0] % groups != 0)
          r.cant();
        Shape sh{x[0]};
        for (size_t i = 0; i < ns; ++i) {
          int64_t in_d = x[i + 1] > 0 ? int64_t(x[i + 1] - 1) * id[i] + 1 : 0;
          int64_t k_d = int64_t(w[i + 1] - 1) * kd[i] + 1;
          int64_t span = in_d + plo[i] + phi[i] - k_d;
          if (span < 0 || stride[i] <= 0) r.cant();
          sh.push_back(static_cast<int>(span / stride[i] + 1));
        }
        sh.push_back(w[0]);
        return std::vector<Shape>{sh};
      });
    };
    // ---- sort / scan family ----
    b["Scan"] = same_shape([](const ParamReader& p, Stream s) {
      return std::make_shared<Scan>(s, enum_value<ScanType>(p.s(0), scan_type_names), p.i(1), p.b(2), p.b(3));
    });
    b["Sort"] = same_shape([](const ParamReader& p, Stream s) { return std::make_shared<Sort>(s, p.i(0)); });
    b["ArgSort"] = same_shape([](const ParamReader& p, Stream s) { return std::make_shared<ArgSort>(s, p.i(0)); });
    auto partition = [](bool arg) -> Builder {
      return [arg](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
        need_inputs(r, ins, 1);
        int kth = p.i(0), ax = p.i(1);
        std::shared_ptr<Primitive> prim;
        if (arg) prim = std::make_shared<ArgPartition>(r.s, kth, ax);
        else prim = std::make_shared<Partition>(r.s, kth, ax);
        return r.build(prim, ins, [&] {
          int a = norm_axis(ax, static_cast<int>(ins[0].ndim()), r);
          if (kth < 0 || kth >= ins[0].shape(a)) r.cant();
          return std::vector<Shape>{ins[0].shape()};
        });
      };
    };
    b["Partition"] = partition(false);
    b["ArgPartition"] = partition(true);
    b["SearchSorted"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<SearchSorted>(s, p.b(0)); });
    b["Hadamard"] = fixed([](const ParamReader& p, Stream s) {
      return std::make_shared<Hadamard>(s, static_cast<float>(p.f(0)), p.b(1));
    });
    b["GatherMM"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<GatherMM>(s, p.b(0)); });
    b["SegmentedMM"] = fixed([](const ParamReader&, Stream s) { return std::make_shared<SegmentedMM>(s); });
    b["Depends"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      int n = p.i(0);
      if (n <= 0 || static_cast<size_t>(n) > ins.size() || static_cast<size_t>(n) != r.node.shapes.size())
        corrupt("a Depends node with the wrong counts");
      std::vector<Shape> sh;
      for (int i = 0; i < n; ++i) sh.push_back(ins[i].shape());
      std::vector<Dtype> dt;
      for (int i = 0; i < n; ++i) dt.push_back(ins[i].dtype());
      auto prim = std::make_shared<Depends>(r.s, n);
      if (n == 1) return std::vector<array>{array(sh[0], dt[0], prim, ins)};
      return array::make_arrays(sh, dt, prim, ins);
    };
    // ---- fft / linalg ----
    b["FFT"] = fixed([](const ParamReader& p, Stream s) {
      return std::make_shared<FFT>(s, p.v(0), p.b(1), p.b(2), p.f(3), p.i(4));
    });
    b["Inverse"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<Inverse>(s, p.b(0), p.b(1)); });
    b["Cholesky"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<Cholesky>(s, p.b(0)); });
    b["QRF"] = fixed([](const ParamReader&, Stream s) { return std::make_shared<QRF>(s); });
    b["SVD"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<SVD>(s, p.b(0)); });
    b["Eig"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<Eig>(s, p.b(0)); });
    b["Eigh"] = fixed([](const ParamReader& p, Stream s) { return std::make_shared<Eigh>(s, p.b(0), p.b(1)); });
    b["LUF"] = fixed([](const ParamReader&, Stream s) { return std::make_shared<LUF>(s); });
    b["Solve"] = fixed([](const ParamReader&, Stream s) { return std::make_shared<Solve>(s); });
    b["SolveTriangular"] = fixed([](const ParamReader& p, Stream s) {
      return std::make_shared<SolveTriangular>(s, p.b(0));
    });
    // ---- random ----
    b["RandomBits"] = fixed([](const ParamReader& p, Stream s) {
      return std::make_shared<RandomBits>(s, p.v<Shape>(0), p.i(1));
    });
    b["RandomErfInv"] = same_shape([](const ParamReader&, Stream s) {
      return std::make_shared<RandomMap>(s, RandomMapOp::ErfInv);
    });
    b["RandomGumbel"] = same_shape([](const ParamReader&, Stream s) {
      return std::make_shared<RandomMap>(s, RandomMapOp::Gumbel);
    });
    // ---- quantization ----
    auto qmode = [](const ParamReader& p, size_t k) { return enum_value<QuantizationMode>(p.s(k), quant_mode_names); };
    b["Quantize"] = fixed([qmode](const ParamReader& p, Stream s) {
      return std::make_shared<Quantize>(s, p.i(0), p.i(1), qmode(p, 2));
    });
    b["Dequantize"] = fixed([qmode](const ParamReader& p, Stream s) {
      return std::make_shared<Dequantize>(s, p.i(0), p.i(1), qmode(p, 2));
    });
    b["QuantizedMatmul"] = fixed([qmode](const ParamReader& p, Stream s) {
      return std::make_shared<QuantizedMatmul>(s, p.i(0), p.i(1), qmode(p, 2), p.b(3));
    });
    b["GatherQMM"] = fixed([qmode](const ParamReader& p, Stream s) {
      return std::make_shared<GatherQMM>(s, p.i(0), p.i(1), qmode(p, 2), p.b(3), p.b(4));
    });
    b["ToFP8"] = same_shape([](const ParamReader&, Stream s) { return std::make_shared<ToFP8>(s); });
    b["FromFP8"] = same_shape([](const ParamReader& p, Stream s) { return std::make_shared<FromFP8>(s, p.t(0)); });
    // ---- fast: rebuilt through their ops, which attach the composite fallbacks ----
    b["RMSNorm"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      bool has_w = p.b(1);
      need_inputs(r, ins, has_w ? 2 : 1);
      std::optional<array> w;
      if (has_w) w = ins[1];
      return std::vector<array>{fast::rms_norm(ins[0], w, static_cast<float>(p.f(0)), r.s)};
    };
    b["LayerNorm"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      bool has_w = p.b(1), has_b = p.b(2);
      need_inputs(r, ins, 1 + has_w + has_b);
      std::optional<array> w, bias;
      size_t i = 1;
      if (has_w) w = ins[i++];
      if (has_b) bias = ins[i++];
      return std::vector<array>{fast::layer_norm(ins[0], w, bias, static_cast<float>(p.f(0)), r.s)};
    };
    b["RoPE"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      bool has_f = p.b(4);
      need_inputs(r, ins, has_f ? 3 : 2);
      std::optional<float> base;
      std::optional<array> freqs;
      if (has_f) freqs = ins[2];
      else base = static_cast<float>(p.f(2));
      return std::vector<array>{
          fast::rope(ins[0], p.i(0), p.b(1), base, static_cast<float>(p.f(3)), ins[1], freqs, r.s)};
    };
    b["ScaledDotProductAttention"] = [](const ParamReader& p, const std::vector<array>& ins, const Replay& r) {
      auto mode = enum_value<fast::MaskMode>(p.s(1), mask_mode_names);
      bool has_sinks = p.b(2);
      bool has_mask = mode == fast::MaskMode::Array;
      need_inputs(r, ins, 3 + has_mask + has_sinks);
      std::optional<array> mask, sinks;
      if (has_mask) mask = ins[3];
      if (has_sinks) sinks = ins.back();
      std::string mm = mode == fast::MaskMode::Causal ? "causal" : has_mask ? "array" : "";
      return std::vector<array>{
          fast::scaled_dot_product_attention(ins[0], ins[1], ins[2], static_cast<float>(p.f(0)), mm, mask, sinks, r.s)};
    };
    return b;
  }();
  return m;
}

// In validate mode: the dtypes a node's kernel expects and produces. Kernels size their
// outputs from the recorded dtypes and read inputs by their own, so a file whose dtypes
// disagree could make them write past a buffer.
void check_dtypes(const ExportNode& n, const std::vector<array>& ins, const Replay& r) {
  auto bad = [&] { corrupt(msg(n.name, " has inconsistent dtypes")); };
  auto all_in = [&](Dtype t, size_t from = 0, size_t to = SIZE_MAX) {
    for (size_t k = from; k < std::min(to, ins.size()); ++k)
      if (ins[k].dtype() != t) bad();
  };
  auto out_is = [&](Dtype t) {
    for (auto d : n.dtypes)
      if (d != t) bad();
  };
  auto int_index = [&](size_t k) {
    if (k >= ins.size() || !is_integral(ins[k].dtype())) bad();
  };
  const std::string& name = n.name;
  ParamReader p{n};
  if (auto u = unary_ops().find(name); u != unary_ops().end()) {
    if (ins.size() != 1) bad();
    array ref = unary(u->second, ins[0], r.s);
    out_is(ref.dtype());
    return;
  }
  if (auto b = binary_ops().find(name); b != binary_ops().end()) {
    if (ins.size() != 2) bad();
    all_in(ins[0].dtype());
    out_is(binary(b->second, ins[0], ins[1], r.s).dtype());
    return;
  }
  if (ins.empty()) return;
  Dtype t0 = ins[0].dtype();
  static const std::set<std::string> same = {
      "Softmax", "Sort", "Partition", "Scan", "Reduce", "Slice", "Reshape", "Transpose", "Broadcast",
      "AsStrided", "Hadamard", "RandomErfInv", "RandomGumbel", "Inverse", "Cholesky", "DivMod"};
  if (same.count(name)) {
    out_is(t0);
  } else if (name == "ArgSort" || name == "ArgPartition" || name == "ArgReduce" || name == "SearchSorted") {
    out_is(uint32);
  } else if (name == "NumberOfElements") {
    out_is(p.t(3));
  } else if (name == "AsType" || name == "FromFP8") {
    out_is(p.t(0));
  } else if (name == "ToFP8") {
    out_is(uint8);
  } else if (name == "Concatenate" || name == "Solve" || name == "SolveTriangular" || name == "Convolution" ||
             name == "SliceUpdate") {
    all_in(t0);
    out_is(t0);
  } else if (name == "Gather" || name == "GatherAxis") {
    int_index(1);
    out_is(t0);
  } else if (name == "Scatter" || name == "ScatterAxis") {
    int_index(1);
    if (ins.size() != 3) bad();
    all_in(t0, 2);
    out_is(t0);
  } else if (name == "GatherMM" || name == "SegmentedMM") {
    if (ins.size() < 2) bad();
    all_in(t0, 0, 2);
    out_is(t0);
  } else if (name == "FFT") {
    out_is(p.b(2) && p.b(1) ? float32 : complex64);
  } else if (name == "RandomBits") {
    int w = p.i(1);
    out_is(w == 1 ? uint8 : w == 2 ? uint16 : w == 4 ? uint32 : w == 8 ? uint64 : bool_);
    all_in(uint32);
  }
}

}  // namespace

std::vector<array> replay(const ExportTrace& t, const std::vector<array>& inputs, bool infer, bool validate) {
  infer = infer || validate;
  Stream s_default = to_stream(std::monostate{});
  Stream s_cpu = default_stream(Device(Device::cpu));
  Stream s_gpu = is_available(Device(Device::gpu)) ? default_stream(Device(Device::gpu)) : s_default;
  std::vector<std::vector<array>> vals(t.nodes.size());
  std::unordered_map<uintptr_t, array> bsrc;
  std::unordered_map<int, std::set<int>> dim_map;
  if (infer)
    for (size_t i = 0; i < inputs.size(); ++i)
      for (size_t d = 0; d < inputs[i].ndim(); ++d)
        if (t.input_shapes[i][d] != 1) dim_map[t.input_shapes[i][d]].insert(inputs[i].shape(d));
  auto get = [&](const ExportRef& r) -> const array& {
    if (r.kind == ExportRef::Input) return inputs[r.index];
    if (r.kind == ExportRef::Constant) return t.constants[r.index];
    return vals[r.index][r.out];
  };
  auto rec_shape = [&](const ExportRef& r) -> const Shape& {
    if (r.kind == ExportRef::Input) return t.input_shapes[r.index];
    if (r.kind == ExportRef::Constant) return t.constants[r.index].shape();
    return t.nodes[r.index].shapes[r.out];
  };
  auto& table = builders();
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    const ExportNode& n = t.nodes[i];
    auto it = table.find(n.name);
    if (it == table.end())
      throw std::runtime_error(msg("[import_function] the file uses a primitive this build doesn't know; got ",
                                   n.name, "."));
    std::vector<array> ins;
    Stream s = n.device == 1 ? s_cpu : n.device == 2 ? s_gpu : s_default;
    Replay r{n, {}, infer, validate, s, &bsrc, &dim_map};
    for (auto& ref : n.inputs) {
      ins.push_back(get(ref));
      r.rec_in.push_back(rec_shape(ref));
    }
    if (validate) check_dtypes(n, ins, r);
    auto outs = it->second(ParamReader{n}, ins, r);
    if (outs.size() != n.shapes.size()) corrupt(msg(n.name, " has the wrong number of outputs"));
    for (size_t k = 0; k < outs.size(); ++k) {
      if (outs[k].dtype() != n.dtypes[k])
        corrupt(msg(n.name, " rebuilt with dtype ", outs[k].dtype(), " instead of ", n.dtypes[k]));
      if ((!infer || validate) && outs[k].shape() != n.shapes[k])
        corrupt(msg(n.name, " rebuilt with shape ", outs[k].shape(), " instead of ", n.shapes[k]));
    }
    if (infer && n.name == "Broadcast") bsrc.emplace(outs[0].id(), ins[0]);
    vals[i] = std::move(outs);
  }
  std::vector<array> outs;
  for (auto& r : t.outputs) outs.push_back(get(r));
  return outs;
}

}  // namespace mlx::core::export_detail
