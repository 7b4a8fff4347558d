// eval and the flat function transforms; tree handling lives in python/mlx/_transforms.py.
#include <nanobind/stl/function.h>

#include "convert.h"

void init_compile(nb::module_& m);
void init_custom(nb::module_& m);
void init_graph(nb::module_& m);

using namespace nb::literals;

namespace {

void collect(nb::handle obj, std::vector<array>& out) {
  if (nb::isinstance<array>(obj)) {
    out.push_back(nb::cast<array>(obj));
  } else if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) {
    for (auto x : obj) collect(x, out);
  } else if (nb::isinstance<nb::dict>(obj)) {
    for (auto [k, v] : nb::borrow<nb::dict>(obj)) collect(v, out);
  }
}

VecFn wrap(nb::callable f) {
  return [f](const std::vector<array>& xs) {
    nb::gil_scoped_acquire g;
    nb::list l;
    for (auto& x : xs) l.append(x);
    nb::object r = f(l);
    return nb::cast<std::vector<array>>(r);
  };
}

}  // namespace

void init_transforms(nb::module_& m) {
  m.def("eval", [](nb::args args) {
    std::vector<array> xs;
    collect(args, xs);
    eval(xs);
  });
  m.def("async_eval", [](nb::args args) {
    std::vector<array> xs;
    collect(args, xs);
    async_eval(xs);
  });
  m.def("_vjp_flat", [](nb::callable f, std::vector<array> primals, std::vector<array> cotangents) {
    auto [o, g] = vjp(wrap(f), primals, cotangents);
    return nb::make_tuple(o, g);
  });
  m.def("_jvp_flat", [](nb::callable f, std::vector<array> primals, std::vector<array> tangents) {
    auto [o, t] = jvp(wrap(f), primals, tangents);
    return nb::make_tuple(o, t);
  });
  m.def("_vmap_flat", [](nb::callable f, std::vector<array> inputs, std::vector<int> in_axes, std::vector<int> out_axes) {
    return vmap(wrap(f), in_axes, out_axes)(inputs);
  });
  init_compile(m);
  init_custom(m);
  init_graph(m);
  // At interpreter exit, a background evaluation stops after its current node (before the
  // interpreter and the library's static objects go away).
  nb::module_::import_("atexit").attr("register")(nb::cpp_function([]() { detail::async_shutdown(); }));
  m.def("_compile_depth", [](int delta) {
    detail::compile_trace_depth() += delta;
    return detail::compile_trace_depth();
  });
}

#include "mlx/transforms/compile.h"

void init_compile(nb::module_& m) {
  nb::class_<CompiledGraph>(m, "_CompiledGraph")
      .def("__call__", [](const CompiledGraph& g, std::vector<array> inputs) { return g(inputs); })
      .def_prop_ro("num_nodes", &CompiledGraph::num_nodes)
      .def_prop_ro("num_fused", &CompiledGraph::num_fused);
  m.def("_compile_graph", [](nb::callable f, std::vector<array> inputs, bool fuse) {
    return new CompiledGraph(wrap(f), inputs, fuse);
  }, "fun"_a, "inputs"_a, "fuse"_a = true);
}

#include "mlx/primitives/custom.h"

void init_custom(nb::module_& m) {
  m.def("_custom_transforms", [](std::vector<array> primals, std::vector<array> outputs, nb::object vjp_fn,
                                 nb::object jvp_fn, nb::object vmap_fn) {
    CustomVJP vjp;
    CustomJVP jvp;
    CustomVmap vm;
    if (!vjp_fn.is_none())
      vjp = [vjp_fn](const std::vector<array>& p, const std::vector<array>& c, const std::vector<array>& o) {
        nb::gil_scoped_acquire g;
        return nb::cast<std::vector<array>>(vjp_fn(p, c, o));
      };
    if (!jvp_fn.is_none())
      jvp = [jvp_fn](const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>& a) {
        nb::gil_scoped_acquire g;
        return nb::cast<std::vector<array>>(jvp_fn(p, t, a));
      };
    if (!vmap_fn.is_none())
      vm = [vmap_fn](const std::vector<array>& x, const std::vector<int>& ax) {
        nb::gil_scoped_acquire g;
        nb::tuple r = nb::cast<nb::tuple>(vmap_fn(x, ax));
        return std::make_pair(nb::cast<std::vector<array>>(r[0]), nb::cast<std::vector<int>>(r[1]));
      };
    return custom_transforms(primals, outputs, vjp, jvp, vm);
  }, "primals"_a, "outputs"_a, "vjp"_a.none(), "jvp"_a.none(), "vmap"_a.none());
}

#include <unordered_set>

void init_graph(nb::module_& m) {
  // Nodes of the graphs that produce `outputs`: (id, name, input ids, shape, dtype, is_evaluated).
  m.def("_graph_nodes", [](std::vector<array> outputs) {
    detail::wait_async();  // the walk reads inputs and primitives, which evaluation drops
    nb::list nodes;
    std::unordered_set<uintptr_t> seen;
    std::vector<array> stack(outputs.begin(), outputs.end());
    while (!stack.empty()) {
      array a = stack.back();
      stack.pop_back();
      if (!seen.insert(a.id()).second) continue;
      nb::list ins;
      if (a.has_primitive()) {
        for (auto& in : a.inputs()) {
          ins.append(in.id());
          stack.push_back(in);
        }
      }
      nb::list shape;
      for (auto d : a.shape()) shape.append(d);
      nodes.append(nb::make_tuple(a.id(), a.has_primitive() ? a.primitive().name() : "", ins, nb::tuple(shape),
                                  a.dtype(), a.is_available()));
    }
    return nodes;
  });
}
