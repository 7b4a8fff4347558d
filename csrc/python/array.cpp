// The Python array class: construction, properties, conversion and operators.
#include "convert.h"

using namespace nb::literals;

namespace {

template <typename F>
auto bin(F f, const char* op) {
  return [f, op](const array& a, nb::handle b) { return f(a, operand_with(a, b, op), StreamOrDevice{}); };
}
template <typename F>
auto rbin(F f, const char* op) {
  return [f, op](const array& a, nb::handle b) { return f(operand_with(a, b, op), a, StreamOrDevice{}); };
}

// The bitwise operators reject inexact dtypes with ValueError (the functions raise
// RuntimeError), as MLX.
void check_bitwise_operands(const array& x, const array& y, const char* what) {
  if (is_inexact(x.dtype()) || is_inexact(y.dtype()))
    throw ValueError(msg("[", what, "] floating point and complex types are not allowed with bitwise operators; got dtypes ",
                         x.dtype(), " and ", y.dtype(), "."));
}

// == and != against a list, str or other non-array object give a Python bool (MLX).
bool comparable(nb::handle b) {
  if (b.is_none()) return true;  // rejected with TypeError by to_arrays
  if (nb::isinstance<array>(b) || is_scalar(b)) return true;
  if (nb::isinstance<nb::list>(b) || nb::isinstance<nb::tuple>(b) || nb::isinstance<nb::str>(b) ||
      nb::isinstance<nb::dict>(b) || nb::isinstance<nb::set>(b))
    return false;
  return nb::hasattr(b, "__mlx_array__") || nb::hasattr(b, "__array__") || nb::hasattr(b, "dtype");
}

nb::object scalar_item(array& a) {
  if (a.size() != 1)
    throw ValueError(msg("[item] only size-1 arrays can be converted to Python scalars; got shape=", a.shape(), "."));
  array r = reshape(a, {});
  return to_python(r);
}

int buffer_get(PyObject* obj, Py_buffer* view, int flags);
void buffer_release(PyObject*, Py_buffer* view);

// +, -, * and / are type slots the interpreter calls directly (a method __add__ would be
// looked up by name on every use). An array with an array or a Python float is handled here;
// every other operand, and any error, goes through `slow` (a bound function with the
// operand conversion and exception translation of the other operators).
using BinFn = array (*)(const array&, const array&, SD);
struct SlotOp {
  BinFn fn;
  const char* name;
  const char* method;  // the Python method name, without underscores
  PyObject* slow;      // slow(a, b) for a (op) b, a the array
  PyObject* slow_r;    // slow_r(b, a) for a (op) b, b the array
};

inline const array* as_array(PyObject* o) {
  nb::handle h(o);
  return nb::isinstance<array>(h) && nb::inst_ready(h) ? nb::inst_ptr<array>(h) : nullptr;
}

template <SlotOp& op>
PyObject* binary_slot(PyObject* a, PyObject* b) {
  const array* x = as_array(a);
  const array* y = as_array(b);
  try {
    if (x && y) return nb::cast(op.fn(*x, *y, {})).release().ptr();
    if (x && PyFloat_CheckExact(b)) return nb::cast(op.fn(*x, to_array_with(b, x->dtype()), {})).release().ptr();
    if (y && PyFloat_CheckExact(a)) return nb::cast(op.fn(to_array_with(a, y->dtype()), *y, {})).release().ptr();
  } catch (...) {
    // Redone by the slow path below, which raises the translated Python exception.
  }
  if (x) return PyObject_CallFunctionObjArgs(op.slow, a, b, nullptr);
  if (y) return PyObject_CallFunctionObjArgs(op.slow_r, b, a, nullptr);
  Py_RETURN_NOTIMPLEMENTED;
}

SlotOp op_add{[](const array& x, const array& y, SD s) { return add(x, y, s); }, "add", "add", nullptr, nullptr};
SlotOp op_sub{[](const array& x, const array& y, SD s) { return subtract(x, y, s); }, "subtract", "sub", nullptr, nullptr};
SlotOp op_mul{[](const array& x, const array& y, SD s) { return multiply(x, y, s); }, "multiply", "mul", nullptr, nullptr};
SlotOp op_div{[](const array& x, const array& y, SD s) { return divide(x, y, s); }, "divide", "truediv", nullptr, nullptr};

// The slow paths: a (op) b with a the array, and b (op) a.
void init_slot_op(SlotOp& op) {
  BinFn fn = op.fn;
  const char* name = op.name;
  std::string m = std::string("__") + op.method + "__", rm = std::string("__r") + op.method + "__";
  op.slow = nb::cpp_function([fn, name](const array& a, nb::handle b) { return fn(a, operand_with(a, b, name), {}); },
                             nb::name(m.c_str()))
                .release()
                .ptr();
  op.slow_r = nb::cpp_function([fn, name](const array& a, nb::handle b) { return fn(operand_with(a, b, name), a, {}); },
                               nb::name(rm.c_str()))
                  .release()
                  .ptr();
}

PyType_Slot array_slots[] = {
    {Py_bf_getbuffer, (void*)buffer_get},
    {Py_bf_releasebuffer, (void*)buffer_release},
    {Py_nb_add, (void*)binary_slot<op_add>},
    {Py_nb_subtract, (void*)binary_slot<op_sub>},
    {Py_nb_multiply, (void*)binary_slot<op_mul>},
    {Py_nb_true_divide, (void*)binary_slot<op_div>},
    {0, nullptr}};

struct BufferInfo {
  array a;
  std::vector<Py_ssize_t> shape, strides;
  std::string format;
};

const char* buffer_format(Dtype t) {
  switch (t) {
    case bool_: return "?";
    case uint8: return "B";
    case uint16: return "H";
    case uint32: return "I";
    case uint64: return "Q";
    case int8: return "b";
    case int16: return "h";
    case int32: return "i";
    case int64: return "q";
    case float16: return "e";
    case float32: return "f";
    case float64: return "d";
    case complex64: return "Zf";
    case bfloat16: return "bfloat16";  // as MLX: not a PEP 3118 format, NumPy rejects it
  }
  return "B";
}

int buffer_get(PyObject* obj, Py_buffer* view, int) {
  try {
    array& a = nb::cast<array&>(nb::handle(obj));
    a.eval();
    auto* info = new BufferInfo{a, {}, {}, buffer_format(a.dtype())};
    for (size_t i = 0; i < a.ndim(); ++i) {
      info->shape.push_back(a.shape(i));
      info->strides.push_back(static_cast<Py_ssize_t>(a.strides(i) * a.itemsize()));
    }
    view->obj = obj;
    Py_INCREF(obj);
    view->buf = a.size() ? info->a.data<void>() : nullptr;
    view->len = static_cast<Py_ssize_t>(a.nbytes());
    view->readonly = 0;
    view->itemsize = static_cast<Py_ssize_t>(a.itemsize());
    view->format = const_cast<char*>(info->format.c_str());
    view->ndim = static_cast<int>(a.ndim());
    view->shape = info->shape.data();
    view->strides = info->strides.data();
    view->suboffsets = nullptr;
    view->internal = info;
    return 0;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_BufferError, e.what());
    return -1;
  }
}

void buffer_release(PyObject*, Py_buffer* view) { delete static_cast<BufferInfo*>(view->internal); }

}  // namespace

extern int g_print_precision;

namespace {
struct PrintOptions {
  int precision = -1;
};
}  // namespace

void init_array(nb::module_& m) {
  nb::class_<PrintOptions>(m, "PrintOptions", "Options for printing arrays.")
      .def(nb::init<int>(), "precision"_a = -1)
      .def_rw("precision", &PrintOptions::precision)
      .def("__repr__", [](const PrintOptions& p) { return msg("PrintOptions(precision=", p.precision, ")"); });
  m.def("get_printoptions", []() { return PrintOptions{g_print_precision}; },
        "The current print options.");
  m.def("set_printoptions", [](int precision) { g_print_precision = precision < 0 ? -1 : precision; },
        "precision"_a = -1, "Sets the number of decimals arrays print with (-1: the default, 6 significant digits).");

  for (SlotOp* op : {&op_add, &op_sub, &op_mul, &op_div}) init_slot_op(*op);
  nb::class_<array> cls(m, "array", nb::type_slots(array_slots), "An N-dimensional array.");
  cls.def("__init__", [](array* self, nb::handle val, std::optional<Dtype> dtype) {
        new (self) array(to_array(val, dtype));
      }, "val"_a, "dtype"_a = nb::none())
      .def_prop_ro("shape", [](const array& a) {
        nb::list l;
        for (auto d : a.shape()) l.append(d);
        return nb::tuple(l);
      })
      .def_prop_ro("ndim", &array::ndim)
      .def_prop_ro("size", &array::size)
      .def_prop_ro("dtype", &array::dtype)
      .def_prop_ro("itemsize", &array::itemsize)
      .def_prop_ro("nbytes", &array::nbytes)
      .def_prop_ro("real", [](const array& a) { return real(a); })
      .def_prop_ro("imag", [](const array& a) { return imag(a); })
      .def_prop_ro("T", [](const array& a) { return transpose(a); })
      .def("item", [](array& a) { return scalar_item(a); })
      .def("tolist", [](array& a) { return to_python(a); })
      .def("astype", [](const array& a, Dtype t, StreamArg s) { return astype(a, t, sd(s)); }, "dtype"_a,
           "stream"_a = nb::none())
      .def("__array__", [](array& a, nb::handle dtype, nb::handle copy) {
        if (a.dtype() == bfloat16)
          throw TypeError("[array] bfloat16 arrays cannot be converted to NumPy; got dtype=bfloat16.");
        return to_numpy(a, dtype, copy);
      },
           "dtype"_a = nb::none(), "copy"_a = nb::none())
      .def("__dlpack__", [](array& a, nb::kwargs) {
        array c = a;
        c.eval();
        auto* keep = new array(c);
        nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<array*>(p); });
        std::vector<size_t> shape(c.shape().begin(), c.shape().end());
        std::vector<int64_t> strides(c.strides().begin(), c.strides().end());
        nb::object np = to_numpy(c);
        return np.attr("__dlpack__")();
      })
      .def("__dlpack_device__", [](const array&) { return nb::make_tuple(1, 0); })
      .def("__repr__", [](array& a) { return array_repr(a); })
      .def("__str__", [](array& a) { return array_repr(a); })
      .def("__len__", [](const array& a) {
        if (a.ndim() == 0) throw TypeError("[len] len() of a 0-d array is not defined; got shape=().");
        return a.shape(0);
      })
      .def("__bool__", [](array& a) {
        if (a.size() != 1) throw ValueError(msg("[bool] the truth value of an array with more than one element is ambiguous; got shape=", a.shape(), "."));
        return nb::cast<bool>(nb::bool_(scalar_item(a)));
      })
      .def("__int__", [](array& a) { return nb::int_(scalar_item(a)); })
      .def("__float__", [](array& a) { return nb::float_(scalar_item(a)); })
      .def("__index__", [](array& a) {
        if (!is_integral(a.dtype()) || a.ndim() != 0)
          throw TypeError(msg("[index] only 0-dimensional integer arrays can be converted to an index; got shape=",
                              a.shape(), " and dtype=", a.dtype(), "."));
        return nb::int_(scalar_item(a));
      })
      .def("__complex__", [](array& a) {
        nb::object v = scalar_item(a);
        return nb::steal(PyComplex_FromCComplex(PyComplex_AsCComplex(v.ptr())));
      })
      .def("__hash__", [](const array& a) { return static_cast<Py_ssize_t>(a.id()); })
      .def("__copy__", [](const array& a) { return copy(a); })
      .def("__deepcopy__", [](const array& a, nb::handle) { return copy(a); }, "memo"_a)
      // (NumPy data, dtype number); bfloat16 travels as its uint16 bits.
      .def("__getstate__", [](array& a) {
        array c = a.dtype() == bfloat16 ? view(a, uint16) : a;
        return nb::make_tuple(to_numpy(c).attr("copy")(), static_cast<int>(a.dtype()));
      })
      .def("__setstate__", [](array& self, nb::tuple st) {
        int code = nb::cast<int>(st[1]);
        if (code < 0 || code >= num_dtypes) throw ValueError(msg("[array] invalid pickled dtype; got ", code, "."));
        Dtype t = static_cast<Dtype>(code);
        array a = t == bfloat16 ? view(to_array(st[0], uint16), bfloat16) : to_array(st[0], t);
        new (&self) array(a);
      })
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__pos__", [](const array& a) { return a; })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__invert__", [](const array& a) {
        if (a.dtype() == bool_) return logical_not(a);
        if (is_inexact(a.dtype()))
          throw ValueError(msg("[bitwise_invert] floating point and complex types are not allowed with bitwise inversion; got dtype=",
                               a.dtype(), "."));
        return bitwise_invert(a);
      })
      .def("__div__", bin([](const array& x, const array& y, SD s) { return divide(x, y, s); }, "divide"))
      .def("__rdiv__", rbin([](const array& x, const array& y, SD s) { return divide(x, y, s); }, "divide"))
      .def("__floordiv__", bin([](const array& x, const array& y, SD s) { return floor_divide(x, y, s); }, "floor_divide"))
      .def("__rfloordiv__", rbin([](const array& x, const array& y, SD s) { return floor_divide(x, y, s); }, "floor_divide"))
      .def("__mod__", bin([](const array& x, const array& y, SD s) { return remainder(x, y, s); }, "remainder"))
      .def("__rmod__", rbin([](const array& x, const array& y, SD s) { return remainder(x, y, s); }, "remainder"))
      .def("__pow__",
           [](const array& a, nb::handle b) {
             // x ** 2 on a floating array is square(x): the same values (x * x rounded once),
             // one cheaper kernel, and a gradient 2 x g without the full-size x ** (2 - 1).
             if (nb::isinstance<nb::int_>(b) && !nb::isinstance<nb::bool_>(b) && is_floating_point(a.dtype()) &&
                 b.equal(nb::int_(2)))
               return square(a);
             return power(a, operand_with(a, b, "power"), StreamOrDevice{});
           })
      .def("__rpow__", rbin([](const array& x, const array& y, SD s) { return power(x, y, s); }, "power"))
      .def("__matmul__", [](const array& a, const array& b) { return matmul(a, b); })
      .def("__eq__", [](const array& a, nb::handle b) -> nb::object {
        if (!comparable(b)) return nb::bool_(false);
        auto [x, y] = to_arrays(nb::cast(a), b, "equal");
        return nb::cast(equal(x, y));
      })
      .def("__ne__", [](const array& a, nb::handle b) -> nb::object {
        if (!comparable(b)) return nb::bool_(true);
        auto [x, y] = to_arrays(nb::cast(a), b, "not_equal");
        return nb::cast(not_equal(x, y));
      })
      .def("__lt__", bin([](const array& x, const array& y, SD s) { return less(x, y, s); }, "less"))
      .def("__le__", bin([](const array& x, const array& y, SD s) { return less_equal(x, y, s); }, "less_equal"))
      .def("__gt__", bin([](const array& x, const array& y, SD s) { return greater(x, y, s); }, "greater"))
      .def("__ge__", bin([](const array& x, const array& y, SD s) { return greater_equal(x, y, s); }, "greater_equal"))
      .def("__and__", bin([](const array& x, const array& y, SD s) {
        check_bitwise_operands(x, y, "bitwise_and");
        if (x.dtype() == bool_ && y.dtype() == bool_) return logical_and(x, y, s);
        return bitwise_and(x, y, s);
      }, "bitwise_and"))
      .def("__or__", bin([](const array& x, const array& y, SD s) {
        check_bitwise_operands(x, y, "bitwise_or");
        if (x.dtype() == bool_ && y.dtype() == bool_) return logical_or(x, y, s);
        return bitwise_or(x, y, s);
      }, "bitwise_or"))
      .def("__xor__", bin([](const array& x, const array& y, SD s) {
        check_bitwise_operands(x, y, "bitwise_xor");
        return bitwise_xor(x, y, s);
      }, "bitwise_xor"))
      .def("__lshift__", bin([](const array& x, const array& y, SD s) {
        check_bitwise_operands(x, y, "left_shift");
        return left_shift(x, y, s);
      }, "left_shift"))
      .def("__rshift__", bin([](const array& x, const array& y, SD s) {
        check_bitwise_operands(x, y, "right_shift");
        return right_shift(x, y, s);
      }, "right_shift"))
      .def("_overwrite", [](array& self, const array& other) { self = other; })
      .def("_id", [](const array& a) { return a.id(); });
  // In-place operators rebind the Python object to the new value, as arrays are immutable.
#define INPLACE(NAME, OP, FN)                                             \
  cls.def(NAME, [](array& a, nb::handle b) -> array& {                    \
    array y = operand_with(a, b, OP);                                     \
    a = FN(a, y, StreamOrDevice{});                                       \
    return a;                                                             \
  }, nb::rv_policy::none);
#define INPLACE_BITWISE(NAME, OP, FN)                                     \
  cls.def(NAME, [](array& a, nb::handle b) -> array& {                    \
    auto [x, y] = to_arrays(nb::cast(a), b, OP);                          \
    check_bitwise_operands(x, y, OP);                                     \
    a = FN(x, y, StreamOrDevice{});                                       \
    return a;                                                             \
  }, nb::rv_policy::none);
  INPLACE("__iadd__", "add", add)
  INPLACE("__isub__", "subtract", subtract)
  INPLACE("__imul__", "multiply", multiply)
  INPLACE("__ifloordiv__", "floor_divide", floor_divide)
  INPLACE("__imod__", "remainder", remainder)
  INPLACE("__ipow__", "power", power)
  INPLACE_BITWISE("__iand__", "bitwise_and", bitwise_and)
  INPLACE_BITWISE("__ior__", "bitwise_or", bitwise_or)
  INPLACE_BITWISE("__ixor__", "bitwise_xor", bitwise_xor)
  INPLACE_BITWISE("__ilshift__", "left_shift", left_shift)
  INPLACE_BITWISE("__irshift__", "right_shift", right_shift)
#undef INPLACE
#undef INPLACE_BITWISE
  cls.def("__itruediv__", [](array& a, nb::handle b) -> array& {
    auto [x, y] = to_arrays(nb::cast(a), b, "divide");
    if (!is_inexact(x.dtype()))
      throw ValueError(msg("[divide] in-place division cannot cast to a non-floating point type; got dtype=",
                           x.dtype(), "."));
    a = divide(x, y, StreamOrDevice{});
    return a;
  }, nb::rv_policy::none);
  cls.def("__imatmul__", [](array& a, const array& b) -> array& {
    a = matmul(a, b);
    return a;
  }, nb::rv_policy::none);
}
