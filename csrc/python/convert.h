// Conversions between Python objects and arrays.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/tuple.h>

#include "mlx/mlx.h"

namespace nb = nanobind;
using namespace mlx::core;

// Python-side Dtype object; the caster below maps it to and from mlx::core::Dtype.
struct PyDtype {
  Dtype val;
};
nb::handle dtype_object(Dtype t);

namespace nanobind::detail {
template <>
struct type_caster<Dtype> {
  NB_TYPE_CASTER(Dtype, const_name("Dtype"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    PyDtype* p = nullptr;
    if (!nb::try_cast<PyDtype*>(src, p) || !p) return false;
    value = p->val;
    return true;
  }
  static handle from_cpp(Dtype v, rv_policy, cleanup_list*) noexcept {
    return dtype_object(v).inc_ref();
  }
};
}  // namespace nanobind::detail

// Builds an array from a scalar, nested sequence, buffer/NumPy array or array.
array to_array(nb::handle obj, std::optional<Dtype> dtype = std::nullopt);
// Converts an operand of a binary op; Python scalars are weak and take `other`'s dtype.
array to_array_with(nb::handle obj, Dtype other);
// Converts two operands with MLX's weak-scalar promotion. With `op` (the op's Python
// name), lists/str operands raise ValueError("[op] ...") and None TypeError, as MLX.
std::pair<array, array> to_arrays(nb::handle a, nb::handle b, const char* op = nullptr);
// The other operand of a binary operator on the array `a` (as to_arrays(a, b, op).second,
// without wrapping `a` in a new Python object).
array operand_with(const array& a, nb::handle b, const char* op);
// Converts one op argument (scalar, array, buffer); with `op`, lists raise ValueError.
array to_array_arg(nb::handle obj, const char* op = nullptr);
bool is_scalar(nb::handle obj);
// The Python value of a 0-d array or a nested list.
nb::object to_python(array& a);
std::string array_repr(array a);
// NumPy view of an evaluated array (shares memory).
nb::object to_numpy(array& a, nb::handle dtype = nb::none(), nb::handle copy = nb::none());

// A Python `stream=` argument: None, Stream or Device.
using StreamArg = std::optional<std::variant<Stream, Device>>;
inline StreamOrDevice sd(const StreamArg& s) {
  if (!s) return std::monostate{};
  if (std::holds_alternative<Stream>(*s)) return std::get<Stream>(*s);
  return std::get<Device>(*s);
}

// Axes argument: None (all), int, or sequence.
using AxesArg = std::optional<std::variant<int, std::vector<int>>>;
std::vector<int> axes_or_all(const AxesArg& axes, const array& a);

void init_array(nb::module_& m);
void init_ops(nb::module_& m);
void init_transforms(nb::module_& m);
void init_device(nb::module_& m);
void init_random(nb::module_& m);
void init_linalg(nb::module_& m);
void init_fft(nb::module_& m);
void init_conv(nb::module_& m);
void init_sort_scan(nb::module_& m);
void init_io(nb::module_& m);
void init_fast(nb::module_& m);
void init_quantized(nb::module_& m);
void init_export(nb::module_& m);
