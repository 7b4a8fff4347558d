// mx.export_function, mx.import_function, mx.exporter and mx.FunctionExporter.
#include <nanobind/stl/function.h>
#include <nanobind/stl/map.h>

#include "convert.h"
#include "mlx/export.h"

using namespace nb::literals;

namespace {

const char* kInputsError =
    " Inputs can either be a variable number of positional and keyword arrays or a single tuple and/or "
    "dictionary of arrays.";

bool all_arrays(nb::handle seq) {
  for (auto x : seq)
    if (!nb::isinstance<array>(x)) return false;
  return true;
}

Kwargs dict_of_arrays(nb::handle d, const std::string& prefix) {
  Kwargs kw;
  for (auto [k, v] : nb::borrow<nb::dict>(d)) {
    if (!nb::isinstance<nb::str>(k) || !nb::isinstance<array>(v)) throw ValueError(prefix + kInputsError);
    kw.insert_or_assign(nb::cast<std::string>(k), nb::cast<array>(v));
  }
  return kw;
}

// Positional and keyword arrays from f(*arrays, **arrays) or f((arrays...), {name: array}).
std::pair<std::vector<array>, Kwargs> parse_inputs(const nb::args& args, const nb::kwargs& kwargs,
                                                   const std::string& prefix) {
  std::vector<array> pos;
  Kwargs kw;
  if (all_arrays(args)) {
    for (auto x : args) pos.push_back(nb::cast<array>(x));
    kw = dict_of_arrays(kwargs, prefix);
    return {pos, kw};
  }
  if (kwargs.size() != 0 || args.size() > 2) throw ValueError(prefix + kInputsError);
  nb::handle a0 = args[0];
  bool seq0 = nb::isinstance<nb::tuple>(a0) || nb::isinstance<nb::list>(a0);
  if (args.size() == 1 && nb::isinstance<nb::dict>(a0)) return {pos, dict_of_arrays(a0, prefix)};
  if (!seq0 || !all_arrays(a0)) throw ValueError(prefix + kInputsError);
  for (auto x : a0) pos.push_back(nb::cast<array>(x));
  if (args.size() == 2) {
    if (!nb::isinstance<nb::dict>(args[1])) throw ValueError(prefix + kInputsError);
    kw = dict_of_arrays(args[1], prefix);
  }
  return {pos, kw};
}

// The traced Python function: fun(*args, **kwargs) must return an array or a tuple/list of arrays.
KwargsFn wrap_fun(nb::callable fun) {
  return [fun](const std::vector<array>& args, const Kwargs& kwargs) {
    nb::gil_scoped_acquire g;
    nb::list a;
    for (auto& x : args) a.append(x);
    nb::dict kw;
    for (auto& [k, v] : kwargs) kw[nb::str(k.c_str())] = v;
    nb::object r = fun(*nb::tuple(a), **kw);
    const char* err = "[export_function] Outputs can be either a single array, a tuple, or a list of arrays.";
    if (nb::isinstance<array>(r)) return std::vector<array>{nb::cast<array>(r)};
    if (!(nb::isinstance<nb::tuple>(r) || nb::isinstance<nb::list>(r)) || !all_arrays(r)) throw ValueError(err);
    std::vector<array> out;
    for (auto x : r) out.push_back(nb::cast<array>(x));
    return out;
  };
}

bool is_path(nb::handle f) {
  if (nb::isinstance<nb::str>(f)) return true;
  return nb::hasattr(f, "__fspath__");
}

std::string to_path(nb::handle f) {
  nb::object p = nb::module_::import_("os").attr("fspath")(f);
  if (!nb::isinstance<nb::str>(p)) throw ValueError("[export_function] the file path must be a string.");
  return nb::cast<std::string>(p);
}

// Spreadsheet-style names for the callback form: A, B, ..., Z, AA, AB, ...
std::string id_name(size_t i) {
  std::string s;
  i++;
  while (i > 0) {
    s.insert(s.begin(), static_cast<char>('A' + (i - 1) % 26));
    i = (i - 1) / 26;
  }
  return s;
}

nb::object param_to_python(const ExportParam& p) {
  return std::visit(
      [](auto&& v) -> nb::object {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          nb::list l;
          for (auto e : v) l.append(e);
          return nb::tuple(l);
        } else {
          return nb::cast(v);
        }
      },
      p);
}

// Hands the traced graph to a Python callback, one dict per item, as MLX does.
void export_to_callback(nb::callable cb, const ExportTrace& t) {
  std::map<std::tuple<int, int, int>, std::string> names;
  auto key = [](const ExportRef& r) { return std::make_tuple(static_cast<int>(r.kind), r.index, r.out); };
  auto name_of = [&](const ExportRef& r) -> std::string {
    auto k = key(r);
    auto it = names.find(k);
    if (it != names.end()) return it->second;
    std::string n = id_name(names.size());
    names[k] = n;
    return n;
  };
  auto shape_tuple = [](const Shape& s) {
    nb::list l;
    for (auto d : s) l.append(d);
    return nb::tuple(l);
  };
  auto ref_entry = [&](const ExportRef& r) {
    Shape sh;
    Dtype dt;
    if (r.kind == ExportRef::Input) {
      sh = t.input_shapes[r.index];
      dt = t.input_dtypes[r.index];
    } else if (r.kind == ExportRef::Constant) {
      sh = t.constants[r.index].shape();
      dt = t.constants[r.index].dtype();
    } else {
      sh = t.nodes[r.index].shapes[r.out];
      dt = t.nodes[r.index].dtypes[r.out];
    }
    return nb::make_tuple(name_of(r), shape_tuple(sh), dt);
  };
  nb::list inputs, keywords, outputs, constants;
  for (int i = 0; i < t.num_args; ++i) inputs.append(ref_entry({ExportRef::Input, i, 0}));
  for (size_t k = 0; k < t.kwarg_names.size(); ++k) {
    ExportRef r{ExportRef::Input, static_cast<int>(t.num_args + k), 0};
    auto e = ref_entry(r);
    keywords.append(nb::make_tuple(t.kwarg_names[k], e[0], e[1], e[2]));
  }
  for (auto& r : t.outputs) outputs.append(ref_entry(r));
  for (size_t c = 0; c < t.constants.size(); ++c) {
    ExportRef r{ExportRef::Constant, static_cast<int>(c), 0};
    constants.append(nb::make_tuple(name_of(r), t.constants[c]));
  }
  nb::dict d;
  d["type"] = "inputs";
  d["inputs"] = inputs;
  cb(d);
  d = nb::dict();
  d["type"] = "keyword_inputs";
  d["keywords"] = keywords;
  cb(d);
  d = nb::dict();
  d["type"] = "outputs";
  d["outputs"] = outputs;
  cb(d);
  d = nb::dict();
  d["type"] = "constants";
  d["constants"] = constants;
  cb(d);
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    auto& n = t.nodes[i];
    nb::list args, ins, outs;
    for (auto& p : n.params) args.append(param_to_python(p));
    for (auto& r : n.inputs) ins.append(ref_entry(r));
    for (size_t k = 0; k < n.shapes.size(); ++k)
      outs.append(ref_entry({ExportRef::Node, static_cast<int>(i), static_cast<int>(k)}));
    d = nb::dict();
    d["type"] = "primitive";
    d["name"] = n.name;
    d["device"] = n.device == 1 ? "cpu" : n.device == 2 ? "gpu" : "default";
    d["arguments"] = args;
    d["inputs"] = ins;
    d["outputs"] = outs;
    cb(d);
  }
}

nb::tuple to_tuple(const std::vector<array>& xs) {
  nb::list l;
  for (auto& x : xs) l.append(x);
  return nb::tuple(l);
}

}  // namespace

void init_export(nb::module_& m) {
  nb::class_<ImportedFunction>(m, "_ImportedFunction", "A function read by import_function.")
      .def(
          "__call__",
          [](const ImportedFunction& f, nb::args args, nb::kwargs kwargs) {
            auto [pos, kw] = parse_inputs(args, kwargs, "[import_function::call]");
            return to_tuple(f(pos, kw));
          },
          "args"_a, "kwargs"_a, nb::sig("def __call__(self, *args, **kwargs) -> tuple[array, ...]"))
      .def_prop_ro("metadata", &ImportedFunction::metadata)
      .def_prop_ro("shapeless", &ImportedFunction::shapeless)
      .def_prop_ro("num_traces", &ImportedFunction::num_traces);

  nb::class_<FunctionExporter>(m, "FunctionExporter", R"(
A context managing class for exporting multiple traces of the same function to a file.

Make an instance of this class by calling :func:`mx.exporter`.)")
      .def(
          "__call__",
          [](FunctionExporter& e, nb::args args, nb::kwargs kwargs) {
            auto [pos, kw] = parse_inputs(args, kwargs, "[export_function]");
            e(pos, kw);
          },
          "args"_a, "kwargs"_a, nb::sig("def __call__(self, *args, **kwargs) -> None"),
          "Traces the function on the given example arrays and adds the trace to the file.")
      .def("close", &FunctionExporter::close, "Finishes the file; later calls raise RuntimeError.")
      .def("__enter__", [](nb::handle self) { return nb::borrow(self); })
      .def(
          "__exit__",
          [](FunctionExporter& e, nb::handle, nb::handle, nb::handle) { e.close(); },
          "exc_type"_a.none(), "exc_value"_a.none(), "traceback"_a.none());

  m.def(
      "export_function",
      [](nb::object file_or_callback, nb::object fun, nb::args args, bool shapeless,
         std::optional<std::string> metadata, nb::kwargs kwargs) {
        if (!nb::isinstance<nb::callable>(fun))
          throw TypeError("[export_function] fun must be callable; got " +
                          nb::cast<std::string>(nb::str(nb::type_name(fun.type()))) + ".");
        auto [pos, kw] = parse_inputs(args, kwargs, "[export_function]");
        KwargsFn f = wrap_fun(nb::borrow<nb::callable>(fun));
        if (is_path(file_or_callback)) {
          export_function(to_path(file_or_callback), f, pos, kw, shapeless, metadata.value_or(""));
          return;
        }
        if (!nb::isinstance<nb::callable>(file_or_callback))
          throw TypeError("[export_function] file_or_callback must be a file path or a callable.");
        if (metadata)
          throw ValueError("[export_function] metadata is only supported when exporting to a file; got a callback.");
        (void)shapeless;
        ExportTrace t = trace_for_export(f, pos, kw);
        export_to_callback(nb::borrow<nb::callable>(file_or_callback), t);
      },
      "file_or_callback"_a, "fun"_a, "args"_a, "shapeless"_a = false, "metadata"_a = nb::none(), "kwargs"_a,
      nb::sig("def export_function(file_or_callback: str | Callable, fun: Callable, *args, shapeless: bool = False, "
              "metadata: str | None = None, **kwargs) -> None"),
      R"(Export an MLX function.

Example input arrays must be provided to export a function. The example inputs can be variable
``*args`` and ``**kwargs`` or a tuple of arrays and/or dictionary of string keys with array values.
The function is traced once on them; the arrays it captures (for example a model's parameters)
are stored in the file as constants.

Args:
    file_or_callback (str or Callable): Either a file path to export the function to or a
      callback, which receives the traced graph as a sequence of dicts (inputs, keyword inputs,
      outputs, constants, then one per primitive).
    fun (Callable): A function which takes as input zero or more :class:`array` and returns
      one or more :class:`array`.
    *args (array): Example array inputs to the function.
    shapeless (bool, optional): Whether or not the function allows inputs with variable shapes
      (same dtypes and numbers of dimensions). Default: ``False``.
    metadata (str, optional): A string to save alongside the function, for example a JSON
      encoded model configuration. Only supported when exporting to a file. Default: ``None``.
    **kwargs (array): Additional example keyword array inputs to the function.

Example:
    >>> def fun(x, y):
    ...     return x + y
    >>> mx.export_function("fun.mlxfn", fun, mx.array(1), y=mx.array([1, 2, 3]))
)");

  m.def(
      "import_function",
      [](nb::object file, bool return_metadata) -> nb::object {
        if (!is_path(file)) throw TypeError("[import_function] file must be a path string.");
        ImportedFunction f = import_function(to_path(file));
        nb::object fn = nb::cast(std::move(f));
        if (return_metadata) return nb::make_tuple(fn, nb::cast<const ImportedFunction&>(fn).metadata());
        return fn;
      },
      "file"_a, "return_metadata"_a = false,
      nb::sig("def import_function(file: str, return_metadata: bool = False) -> Callable | tuple[Callable, str]"),
      R"(Import a function from a file.

The imported function can be called either with ``*args`` and ``**kwargs`` or with a tuple of
arrays and/or dictionary of string keys with array values. Imported functions always return a
tuple of arrays. The trace matching the inputs (count, keyword names, dtypes and, unless exported
shapeless, shapes) is rebuilt on them, so results can be differentiated and transformed.

Args:
    file (str): The file path to import the function from.
    return_metadata (bool, optional): If ``True`` also return the metadata string saved with the
      function. Default: ``False``.

Returns:
    Callable or tuple: The imported function, or ``(function, metadata)``.

Example:
    >>> fn = mx.import_function("function.mlxfn")
    >>> out = fn(a, b, x=x, y=y)[0]
    >>> out = fn((a, b), {"x": x, "y": y})[0]
)");

  m.def(
      "exporter",
      [](nb::object file, nb::callable fun, bool shapeless, std::optional<std::string> metadata) {
        if (!is_path(file)) throw TypeError("[exporter] file must be a path string.");
        return new FunctionExporter(to_path(file), wrap_fun(fun), shapeless, metadata.value_or(""));
      },
      "file"_a, "fun"_a, nb::kw_only(), "shapeless"_a = false, "metadata"_a = nb::none(),
      nb::rv_policy::take_ownership,
      R"(Make a callable object to export multiple traces of a function to a file.

Args:
    file (str): File path to export the function to.
    shapeless (bool, optional): Whether or not the function allows inputs with variable shapes.
      Default: ``False``.
    metadata (str, optional): A string to save alongside the function. Default: ``None``.

Example:
    >>> def fun(*args):
    ...     return sum(args)
    >>> with mx.exporter("fun.mlxfn", fun) as exporter:
    ...     exporter(mx.array(1))
    ...     exporter(mx.array(1), mx.array(2))
)");
}
