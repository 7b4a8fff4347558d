#include "convert.h"

#include <cmath>
#include <functional>
#include <limits>
#include <complex>
#include <cstring>
#include <sstream>
#include <iomanip>

#include "mlx/dtype_dispatch.h"
#include "mlx/types/cast.h"

namespace {

// A Python complex (or anything with __complex__/__float__/__index__) as complex<double>.
std::complex<double> py_complex(nb::handle obj) {
  Py_complex c = PyComplex_AsCComplex(obj.ptr());
  if (c.real == -1.0 && PyErr_Occurred()) throw nb::python_error();
  return {c.real, c.imag};
}

std::string py_type_name(nb::handle obj) {
  return nb::cast<std::string>(nb::str(obj.type().attr("__name__")));
}

enum class Kind { Bool = 0, Int = 1, Float = 2, Complex = 3 };

// The kind of a scalar leaf: Python bool/int/float/complex or a NumPy scalar.
// Returns false for anything else.
bool scalar_kind(nb::handle obj, Kind& k) {
  PyObject* p = obj.ptr();
  if (PyBool_Check(p)) { k = Kind::Bool; return true; }
  if (PyLong_Check(p)) { k = Kind::Int; return true; }
  if (PyFloat_Check(p)) { k = Kind::Float; return true; }
  if (PyComplex_Check(p)) { k = Kind::Complex; return true; }
  // NumPy scalars (np.float32(1), np.int16(3), np.bool_(True), ...).
  if (nb::hasattr(obj, "dtype") && nb::hasattr(obj, "shape") && !nb::isinstance<array>(obj) &&
      nb::isinstance<nb::tuple>(obj.attr("shape")) && nb::len(nb::object(obj.attr("shape"))) == 0) {
    std::string kind = nb::cast<std::string>(nb::str(obj.attr("dtype").attr("kind")));
    if (kind == "b") k = Kind::Bool;
    else if (kind == "i" || kind == "u") k = Kind::Int;
    else if (kind == "f") k = Kind::Float;
    else if (kind == "c") k = Kind::Complex;
    else return false;
    return true;
  }
  return false;
}

// How a Python integer fits 64 bits.
enum class IntRange { Int32, Int64, UInt64, Beyond };
IntRange int_range(nb::handle obj) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw nb::python_error();
  if (overflow == 0) return (v > INT32_MAX || v < INT32_MIN) ? IntRange::Int64 : IntRange::Int32;
  if (overflow < 0) return IntRange::Beyond;
  unsigned long long u = PyLong_AsUnsignedLongLong(obj.ptr());
  if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return IntRange::Beyond;
  }
  return IntRange::UInt64;
}

[[noreturn]] void int_overflow(nb::handle obj) {
  std::string s = nb::cast<std::string>(nb::repr(obj));
  PyErr_SetString(PyExc_OverflowError, msg("[array] Python int too large to convert to a 64-bit integer; got ", s, ".").c_str());
  throw nb::python_error();
}

// Writes one scalar leaf of kind k into *out, converting as MLX does: integers wrap
// modulo 2**bits, floats truncate toward zero, complex keeps its real part, bool is
// "nonzero".
template <typename T>
void fill_one(nb::handle obj, Kind k, T* out) {
  PyObject* p = obj.ptr();
  if constexpr (std::is_same_v<T, bool>) {
    if (k == Kind::Complex) {
      auto c = py_complex(obj);
      *out = c.real() != 0 || c.imag() != 0;
    } else {
      int r = PyObject_IsTrue(p);
      if (r < 0) throw nb::python_error();
      *out = r != 0;
    }
  } else {
    switch (k) {
      case Kind::Bool: {
        int r = PyObject_IsTrue(p);
        if (r < 0) throw nb::python_error();
        *out = cast_to<T>(static_cast<int32_t>(r));
        break;
      }
      case Kind::Int: {
        if constexpr (std::is_integral_v<T>) {
          unsigned long long m = PyLong_AsUnsignedLongLongMask(p);
          if (m == static_cast<unsigned long long>(-1) && PyErr_Occurred()) throw nb::python_error();
          *out = static_cast<T>(m);
        } else {
          nb::object i = nb::steal(PyNumber_Index(p));
          if (!i.is_valid()) throw nb::python_error();
          double d = PyLong_AsDouble(i.ptr());
          if (d == -1.0 && PyErr_Occurred()) throw nb::python_error();
          *out = cast_to<T>(d);
        }
        break;
      }
      case Kind::Float: {
        double d = PyFloat_AsDouble(p);
        if (d == -1.0 && PyErr_Occurred()) throw nb::python_error();
        if constexpr (std::is_integral_v<T>) {
          // Out-of-range float to int conversion is undefined in C++: saturate instead.
          if (!(d == d)) *out = 0;
          else if (d >= 9.2233720368547758e18) *out = static_cast<T>(std::numeric_limits<int64_t>::max());
          else if (d <= -9.2233720368547758e18) *out = static_cast<T>(std::numeric_limits<int64_t>::min());
          else *out = static_cast<T>(static_cast<int64_t>(d));
        } else {
          *out = cast_to<T>(d);
        }
        break;
      }
      case Kind::Complex: {
        auto c = py_complex(obj);
        if constexpr (is_cplx<T>::value) {
          *out = T(static_cast<float>(c.real()), static_cast<float>(c.imag()));
        } else if constexpr (std::is_integral_v<T>) {
          *out = static_cast<T>(static_cast<int64_t>(c.real()));
        } else {
          *out = cast_to<T>(c.real());
        }
        break;
      }
    }
  }
}

struct ListInfo {
  Shape shape;
  Kind kind = Kind::Bool;
  bool any_scalar = false;
  bool int64 = false;    // an int outside int32
  bool uint64 = false;   // an int above int64 that fits uint64
  bool beyond = false;   // an int that fits no 64-bit type
  std::optional<Dtype> arr_dtype;
};

bool is_seq(nb::handle obj) { return nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj); }

void scan_list(nb::handle obj, ListInfo& info, size_t depth) {
  if (is_seq(obj)) {
    size_t n = nb::len(obj);
    if (depth == info.shape.size()) {
      if (info.any_scalar || info.arr_dtype)
        throw ValueError("[array] initialization from a ragged nested sequence is not supported; got a sequence beside a scalar.");
      info.shape.push_back(static_cast<int32_t>(n));
    } else if (depth > info.shape.size() || info.shape[depth] != static_cast<int32_t>(n)) {
      throw ValueError("[array] initialization from a ragged nested sequence is not supported; got sequences of different lengths.");
    }
    for (auto item : obj) scan_list(item, info, depth + 1);
    return;
  }
  if (nb::isinstance<array>(obj)) {
    array& a = nb::cast<array&>(obj);
    for (size_t i = 0; i < a.ndim(); ++i) {
      if (depth + i == info.shape.size()) info.shape.push_back(a.shape(i));
      else if (depth + i > info.shape.size() || info.shape[depth + i] != a.shape(i))
        throw ValueError("[array] initialization from a ragged nested sequence is not supported; got arrays of different shapes.");
    }
    if (depth + a.ndim() != info.shape.size())
      throw ValueError("[array] initialization from a ragged nested sequence is not supported; got mixed depths.");
    info.arr_dtype = info.arr_dtype ? promote_types(*info.arr_dtype, a.dtype()) : a.dtype();
    return;
  }
  if (depth != info.shape.size())
    throw ValueError("[array] initialization from a ragged nested sequence is not supported; got a scalar beside a sequence.");
  Kind k;
  if (!scalar_kind(obj, k)) {
    throw ValueError(msg("[array] cannot convert an object of type ", py_type_name(obj), " to an array; got ",
                         nb::cast<std::string>(nb::repr(obj)), "."));
  }
  info.any_scalar = true;
  info.kind = std::max(info.kind, k);
  if (k == Kind::Int && PyLong_Check(obj.ptr())) {
    switch (int_range(obj)) {
      case IntRange::Int32: break;
      case IntRange::Int64: info.int64 = true; break;
      case IntRange::UInt64: info.uint64 = true; break;
      case IntRange::Beyond: info.beyond = true; break;
    }
  }
}

template <typename T>
void fill_list(nb::handle obj, T*& out) {
  if (is_seq(obj)) {
    for (auto item : obj) fill_list<T>(item, out);
    return;
  }
  if (nb::isinstance<array>(obj)) {
    array a = astype(nb::cast<array&>(obj), TypeToDtype<T>::value);
    a = contiguous(a);
    a.eval();
    if (a.size()) std::memcpy(static_cast<void*>(out), a.data<T>(), a.nbytes());
    out += a.size();
    return;
  }
  Kind k;
  scalar_kind(obj, k);
  fill_one<T>(obj, k, out);
  ++out;
}

Dtype kind_dtype(Kind k, bool wide) {
  switch (k) {
    case Kind::Bool: return bool_;
    case Kind::Int: return wide ? int64 : int32;
    case Kind::Float: return float32;
    case Kind::Complex: return complex64;
  }
  return float32;
}

array from_list(nb::handle obj, std::optional<Dtype> dtype) {
  ListInfo info;
  scan_list(obj, info, 0);
  if (info.beyond || (info.uint64 && !dtype)) {
    PyErr_SetString(PyExc_OverflowError,
                    "[array] Python int too large to convert; got an integer beyond the int64 range.");
    throw nb::python_error();
  }
  Dtype t;
  if (dtype) {
    t = *dtype;
  } else if (!info.any_scalar && !info.arr_dtype) {
    t = float32;  // empty sequences
  } else if (!info.arr_dtype) {
    t = kind_dtype(info.kind, info.int64);
  } else if (!info.any_scalar) {
    t = *info.arr_dtype;
  } else {
    t = promote_types(*info.arr_dtype, kind_dtype(info.kind, info.int64));
  }
  size_t n = shape_size(info.shape);
  array out(info.shape, t, nullptr, {});
  Buffer b = allocator::malloc(std::max<size_t>(n * size_of(t), 1));
  out.set_data(b);
  MLX_DISPATCH_ALL(t, {
    T* p = out.data<T>();
    fill_list<T>(obj, p);
  });
  return out;
}

std::optional<Dtype> dlpack_to_dtype(nb::dlpack::dtype dt) {
  using nb::dlpack::dtype_code;
  switch (static_cast<dtype_code>(dt.code)) {
    case dtype_code::Bool: return bool_;
    case dtype_code::Int:
      switch (dt.bits) { case 8: return int8; case 16: return int16; case 32: return int32; case 64: return int64; }
      break;
    case dtype_code::UInt:
      switch (dt.bits) { case 8: return uint8; case 16: return uint16; case 32: return uint32; case 64: return uint64; }
      break;
    case dtype_code::Float:
      switch (dt.bits) { case 16: return float16; case 32: return float32; case 64: return float64; }
      break;
    case dtype_code::Bfloat:
      if (dt.bits == 16) return bfloat16;
      break;
    case dtype_code::Complex:
      if (dt.bits == 64) return complex64;
      if (dt.bits == 128) return complex64;
      break;
    default: break;
  }
  return std::nullopt;
}

array from_ndarray(nb::handle obj, std::optional<Dtype> dtype) {
  nb::ndarray<nb::ro, nb::device::cpu> nd;
  if (!nb::try_cast(obj, nd)) {
    // Objects with __array__ (and NumPy scalars) convert through NumPy.
    if (nb::hasattr(obj, "__array__")) {
      nb::object np_arr = obj.attr("__array__")();
      if (!np_arr.is(obj) && nb::try_cast(np_arr, nd)) return from_ndarray(np_arr, dtype);
    }
    if (obj.is_none()) throw TypeError("[array] None cannot be converted to an array; got None.");
    throw ValueError(msg("[array] cannot convert an object of type ", py_type_name(obj), " to an array; got ",
                         nb::cast<std::string>(nb::repr(obj)), "."));
  }
  auto dt = nd.dtype();
  bool is_c128 = dt.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Complex) && dt.bits == 128;
  auto src_t = dlpack_to_dtype(dt);
  if (!src_t || dt.lanes != 1)
    throw ValueError(msg("[array] unsupported buffer element type; got an object of type ", py_type_name(obj), "."));
  Shape shape;
  for (size_t i = 0; i < nd.ndim(); ++i) {
    if (nd.shape(i) > INT32_MAX) throw ValueError("[array] dimensions must fit in int32; got a larger buffer.");
    shape.push_back(static_cast<int32_t>(nd.shape(i)));
  }
  size_t n = shape_size(shape);
  for (size_t i = 0; i < nd.ndim(); ++i)
    if (nd.stride(i) < 0 && nd.shape(i) > 1)
      throw ValueError("[array] cannot convert a buffer with negative strides to an array; got negative strides.");
  // Row-major copy honouring the source strides (in elements).
  size_t isz = dt.bits / 8;
  std::vector<char> tmp;
  const char* base = static_cast<const char*>(nd.data());
  bool row = true;
  {
    int64_t expect = 1;
    for (int i = static_cast<int>(nd.ndim()) - 1; i >= 0; --i) {
      if (nd.shape(i) != 1 && nd.stride(i) != expect) row = false;
      expect *= nd.shape(i);
    }
  }
  if (!row && n > 0) {
    tmp.resize(n * isz);
    std::vector<int64_t> idx(nd.ndim(), 0);
    for (size_t k = 0; k < n; ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < nd.ndim(); ++d) off += idx[d] * nd.stride(d);
      std::memcpy(tmp.data() + k * isz, base + off * isz, isz);
      for (int d = static_cast<int>(nd.ndim()) - 1; d >= 0; --d) {
        if (++idx[d] < nd.shape(d)) break;
        idx[d] = 0;
      }
    }
    base = tmp.data();
  }
  Dtype t = *src_t;
  std::vector<complex64_t> ctmp;
  if (is_c128) {
    ctmp.resize(n);
    const double* d = reinterpret_cast<const double*>(base);
    for (size_t i = 0; i < n; ++i) ctmp[i] = complex64_t(static_cast<float>(d[2 * i]), static_cast<float>(d[2 * i + 1]));
    base = reinterpret_cast<const char*>(ctmp.data());
  }
  // As MLX: float64 data becomes float32 unless float64 is asked for.
  Dtype out_t = dtype ? *dtype : (t == float64 ? float32 : t);
  array out(shape, out_t, nullptr, {});
  out.set_data(allocator::malloc(std::max<size_t>(n * size_of(out_t), 1)));
  if (n) copy_cast_raw(base, t, out.raw_ptr(), out_t, n);
  return out;
}

// A 0-d array holding a Python scalar of kind k.
array scalar_array(nb::handle obj, Kind k, std::optional<Dtype> dtype) {
  Dtype t;
  if (dtype) {
    t = *dtype;
  } else if (k == Kind::Int && PyLong_Check(obj.ptr())) {
    IntRange r = int_range(obj);
    if (r == IntRange::UInt64 || r == IntRange::Beyond) int_overflow(obj);
    t = r == IntRange::Int64 ? int64 : int32;
  } else if (k == Kind::Int) {
    t = int32;
  } else {
    t = kind_dtype(k, false);
  }
  if (k == Kind::Int && PyLong_Check(obj.ptr()) && int_range(obj) == IntRange::Beyond && !is_inexact(t))
    int_overflow(obj);
  array out(Shape{}, t, nullptr, {});
  out.set_data(allocator::malloc(size_of(t)));
  MLX_DISPATCH_ALL(t, { fill_one<T>(obj, k, out.data<T>()); });
  return out;
}

bool is_python_scalar(nb::handle obj) {
  PyObject* p = obj.ptr();
  return PyBool_Check(p) || PyLong_Check(p) || PyFloat_Check(p) || PyComplex_Check(p);
}

}  // namespace

bool is_scalar(nb::handle obj) { return is_python_scalar(obj); }

array to_array(nb::handle obj, std::optional<Dtype> dtype) {
  if (nb::isinstance<array>(obj)) {
    array a = nb::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  Kind k;
  if (is_python_scalar(obj)) {
    scalar_kind(obj, k);
    return scalar_array(obj, k, dtype);
  }
  if (is_seq(obj)) return from_list(obj, dtype);
  if (obj.is_none()) throw TypeError("[array] None cannot be converted to an array; got None.");
  if (nb::hasattr(obj, "__mlx_array__")) return to_array(obj.attr("__mlx_array__")(), dtype);
  return from_ndarray(obj, dtype);
}

namespace {
[[noreturn]] void weak_overflow(nb::handle obj, Dtype t) {
  throw ValueError(msg("[array] converting the Python int ", nb::cast<std::string>(nb::repr(obj)), " to ", t,
                       " would overflow; got ", nb::cast<std::string>(nb::repr(obj)), "."));
}

// Checks that the Python int obj fits the integer dtype t (a weak scalar must).
void check_weak_int(nb::handle obj, Dtype t) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw nb::python_error();
  if (overflow != 0) {
    // Only uint64 holds ints above int64.
    if (overflow > 0 && t == uint64 && int_range(obj) == IntRange::UInt64) return;
    weak_overflow(obj, t);
  }
  long long lo, hi;
  switch (t) {
    case uint8: lo = 0; hi = UINT8_MAX; break;
    case uint16: lo = 0; hi = UINT16_MAX; break;
    case uint32: lo = 0; hi = UINT32_MAX; break;
    case uint64: return;  // as MLX: negative ints wrap modulo 2**64
    case int8: lo = INT8_MIN; hi = INT8_MAX; break;
    case int16: lo = INT16_MIN; hi = INT16_MAX; break;
    case int32: lo = INT32_MIN; hi = INT32_MAX; break;
    default: return;
  }
  if (v < lo || v > hi) weak_overflow(obj, t);
}

bool is_list_like(nb::handle obj) {
  return is_seq(obj) || nb::isinstance<nb::str>(obj) || nb::isinstance<nb::dict>(obj) ||
         nb::isinstance<nb::set>(obj);
}
}  // namespace

array to_array_with(nb::handle obj, Dtype other) {
  if (nb::isinstance<array>(obj)) return nb::cast<array>(obj);
  PyObject* p = obj.ptr();
  if (PyBool_Check(p)) return scalar_array(obj, Kind::Bool, bool_);
  if (PyLong_Check(p)) {
    if (other == bool_) return to_array(obj);
    if (is_integral(other)) {
      check_weak_int(obj, other);
      return scalar_array(obj, Kind::Int, other);
    }
    return scalar_array(obj, Kind::Int, other);
  }
  if (PyFloat_Check(p)) return scalar_array(obj, Kind::Float, is_inexact(other) ? other : float32);
  if (PyComplex_Check(p)) return scalar_array(obj, Kind::Complex, complex64);
  if (is_seq(obj) || obj.is_none() || nb::hasattr(obj, "__mlx_array__")) return to_array(obj);
  // NumPy scalars and arrays take the array's dtype (as MLX).
  return to_array(obj, other);
}

array to_array_arg(nb::handle obj, const char* op) {
  if (op && is_list_like(obj))
    throw ValueError(msg("[", op, "] cannot convert an object of type ", py_type_name(obj),
                         " to an array operand; got ", py_type_name(obj), "."));
  if (obj.is_none()) throw TypeError(msg("[", op ? op : "array", "] None is not a valid array operand; got None."));
  return to_array(obj);
}

std::pair<array, array> to_arrays(nb::handle a, nb::handle b, const char* op) {
  if (op) {
    for (nb::handle h : {a, b}) {
      if (is_list_like(h))
        throw ValueError(msg("[", op, "] cannot perform ", op, " on an array and an object of type ",
                             py_type_name(h), "; got ", py_type_name(h), "."));
      if (h.is_none()) throw TypeError(msg("[", op, "] None is not a valid operand; got None."));
    }
  }
  bool aa = nb::isinstance<array>(a), ab = nb::isinstance<array>(b);
  if (aa && ab) return {nb::cast<array>(a), nb::cast<array>(b)};
  if (aa) {
    array x = nb::cast<array>(a);
    return {x, to_array_with(b, x.dtype())};
  }
  if (ab) {
    array y = nb::cast<array>(b);
    return {to_array_with(a, y.dtype()), y};
  }
  // Neither is an mx.array: a Python scalar is weak against a converted array.
  bool sa = is_python_scalar(a), sb = is_python_scalar(b);
  if (sa && !sb) {
    array y = to_array(b);
    return {to_array_with(a, y.dtype()), y};
  }
  if (sb && !sa) {
    array x = to_array(a);
    return {x, to_array_with(b, x.dtype())};
  }
  return {to_array(a), to_array(b)};
}

array operand_with(const array& a, nb::handle b, const char* op) {
  if (nb::isinstance<array>(b)) return nb::cast<const array&>(b);
  if (op) {
    if (is_list_like(b))
      throw ValueError(msg("[", op, "] cannot perform ", op, " on an array and an object of type ",
                           py_type_name(b), "; got ", py_type_name(b), "."));
    if (b.is_none()) throw TypeError(msg("[", op, "] None is not a valid operand; got None."));
  }
  return to_array_with(b, a.dtype());
}

std::vector<int> axes_or_all(const AxesArg& axes, const array& a) {
  if (!axes) return all_axes(a);
  if (std::holds_alternative<int>(*axes)) return {std::get<int>(*axes)};
  return std::get<std::vector<int>>(*axes);
}

extern int g_print_precision;

namespace {
nb::object scalar_to_py(const void* p, Dtype t) {
  switch (t) {
    case bool_: return nb::bool_(*static_cast<const bool*>(p));
    case uint8: return nb::int_(*static_cast<const uint8_t*>(p));
    case uint16: return nb::int_(*static_cast<const uint16_t*>(p));
    case uint32: return nb::int_(*static_cast<const uint32_t*>(p));
    case uint64: return nb::int_(*static_cast<const uint64_t*>(p));
    case int8: return nb::int_(*static_cast<const int8_t*>(p));
    case int16: return nb::int_(*static_cast<const int16_t*>(p));
    case int32: return nb::int_(*static_cast<const int32_t*>(p));
    case int64: return nb::int_(*static_cast<const int64_t*>(p));
    case float16: return nb::float_(static_cast<float>(*static_cast<const float16_t*>(p)));
    case bfloat16: return nb::float_(static_cast<float>(*static_cast<const bfloat16_t*>(p)));
    case float32: return nb::float_(*static_cast<const float*>(p));
    case float64: return nb::float_(*static_cast<const double*>(p));
    case complex64: {
      auto c = *static_cast<const complex64_t*>(p);
      return nb::steal(PyComplex_FromDoubles(c.real(), c.imag()));
    }
  }
  return nb::none();
}

nb::object tolist_rec(const char* base, const array& a, size_t dim, int64_t off) {
  if (dim == a.ndim()) return scalar_to_py(base + off * a.itemsize(), a.dtype());
  nb::list l;
  for (int i = 0; i < a.shape(dim); ++i) l.append(tolist_rec(base, a, dim + 1, off + i * a.strides(dim)));
  return l;
}

template <typename T>
void fmt_val(std::ostringstream& os, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "True" : "False");
  } else if constexpr (is_cplx<T>::value) {
    // As MLX: real part, "+" unless the imaginary part is negative, the imaginary part.
    fmt_val(os, v.real());
    float im = v.imag();
    if (!(im < 0)) os << "+";
    fmt_val(os, im);
    os << "j";
  } else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
    os << static_cast<int>(v);
  } else if constexpr (std::is_integral_v<T>) {
    os << v;
  } else {
    double d;
    if constexpr (std::is_same_v<T, double>) d = v;
    else d = static_cast<double>(static_cast<float>(v));
    if (std::isnan(d)) {
      os << (std::signbit(d) ? "-nan" : "nan");
    } else if (std::isinf(d)) {
      os << (d > 0 ? "inf" : "-inf");
    } else if (g_print_precision >= 0) {
      os << std::fixed << std::setprecision(g_print_precision) << d;
      os.unsetf(std::ios_base::floatfield);
    } else {
      os << std::setprecision(6) << d;
    }
  }
}

// MLX's layout: more than 6 entries along an axis print as the first 3, "...", the
// last 3; rows are separated by ",\n" and indented under their bracket.
void repr_rec(std::ostringstream& os, const char* base, const array& a, size_t dim, int64_t off, int indent) {
  if (dim == a.ndim()) {
    MLX_DISPATCH_ALL(a.dtype(), { fmt_val<T>(os, *reinterpret_cast<const T*>(base + off * a.itemsize())); });
    return;
  }
  os << "[";
  int n = a.shape(dim);
  bool inner = dim + 1 < a.ndim();
  bool summarize = n > 6;
  for (int i = 0; i < n; ++i) {
    if (summarize && i == 3) {
      os << "...";
      i = n - 3;
      if (inner) os << ",\n" << std::string(indent + 1, ' ');
      else os << ", ";
    }
    repr_rec(os, base, a, dim + 1, off + static_cast<int64_t>(i) * a.strides(dim), indent + 1);
    if (i + 1 < n) {
      if (inner) os << ",\n" << std::string(indent + 1, ' ');
      else os << ", ";
    }
  }
  os << "]";
}
}  // namespace

int g_print_precision = -1;

nb::object to_python(array& a) {
  a.eval();
  const char* base = static_cast<const char*>(a.data<void>());
  return tolist_rec(base, a, 0, 0);
}

std::string array_repr(array a) {
  a.eval();
  std::ostringstream os;
  os << "array(";
  const char* base = a.size() ? static_cast<const char*>(a.data<void>()) : nullptr;
  if (a.size() == 0 && a.ndim() > 0) {
    // MLX prints the leading non-empty axes as nested lists of empty lists.
    size_t d = 0;
    while (d < a.ndim() && a.shape(d) != 0) ++d;
    std::function<void(size_t, int)> rec = [&](size_t dim, int indent) {
      os << "[";
      if (dim < d) {
        int n = a.shape(dim);
        for (int i = 0; i < n; ++i) {
          rec(dim + 1, indent + 1);
          if (i + 1 < n) os << ",\n" << std::string(indent + 1, ' ');
        }
      }
      os << "]";
    };
    rec(0, 6);
  } else {
    repr_rec(os, base, a, 0, 0, 6);
  }
  os << ", dtype=" << dtype_name(a.dtype()) << ")";
  return os.str();
}

namespace {
nb::dlpack::dtype to_dlpack(Dtype t) {
  using nb::dlpack::dtype_code;
  auto mk = [](dtype_code c, int bits) {
    nb::dlpack::dtype d;
    d.code = static_cast<uint8_t>(c);
    d.bits = static_cast<uint8_t>(bits);
    d.lanes = 1;
    return d;
  };
  switch (t) {
    case bool_: return mk(dtype_code::Bool, 8);
    case uint8: return mk(dtype_code::UInt, 8);
    case uint16: return mk(dtype_code::UInt, 16);
    case uint32: return mk(dtype_code::UInt, 32);
    case uint64: return mk(dtype_code::UInt, 64);
    case int8: return mk(dtype_code::Int, 8);
    case int16: return mk(dtype_code::Int, 16);
    case int32: return mk(dtype_code::Int, 32);
    case int64: return mk(dtype_code::Int, 64);
    case float16: return mk(dtype_code::Float, 16);
    case float32: return mk(dtype_code::Float, 32);
    case float64: return mk(dtype_code::Float, 64);
    case bfloat16: return mk(dtype_code::Bfloat, 16);
    case complex64: return mk(dtype_code::Complex, 64);
  }
  return mk(dtype_code::Float, 32);
}
}  // namespace

nb::object to_numpy(array& a_in, nb::handle dtype, nb::handle copy) {
  array a = a_in;
  if (a.dtype() == bfloat16) a = astype(a, float32);
  a.eval();
  auto* keep = new array(a);
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<array*>(p); });
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides(a.strides().begin(), a.strides().end());
  void* ptr = a.size() ? a.data<void>() : nullptr;
  nb::ndarray<nb::numpy> nd(const_cast<void*>(ptr), a.ndim(), shape.data(), owner, strides.data(), to_dlpack(a.dtype()));
  nb::object res = nb::cast(nd, nb::rv_policy::reference);
  if (!dtype.is_none()) res = res.attr("astype")(dtype);
  if (!copy.is_none() && nb::cast<bool>(copy)) res = res.attr("copy")();
  return res;
}
