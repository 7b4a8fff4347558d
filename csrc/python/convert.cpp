#include "convert.h"

#include <cmath>
#include <complex>
#include <cstring>
#include <sstream>
#include <iomanip>

#include "mlx/dtype_dispatch.h"
#include "mlx/types/cast.h"

namespace {

enum class Kind { Bool = 0, Int = 1, Float = 2, Complex = 3, Array = 4 };

struct ListInfo {
  Shape shape;
  Kind kind = Kind::Bool;
  bool big_int = false;
  std::optional<Dtype> arr_dtype;
};

void scan_list(nb::handle obj, ListInfo& info, size_t depth) {
  bool is_seq = nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj);
  if (is_seq) {
    size_t n = nb::len(obj);
    if (depth == info.shape.size()) {
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
      else if (info.shape[depth + i] != a.shape(i))
        throw ValueError("[array] initialization from a ragged nested sequence is not supported; got arrays of different shapes.");
    }
    if (depth + a.ndim() != info.shape.size())
      throw ValueError("[array] initialization from a ragged nested sequence is not supported; got mixed depths.");
    info.arr_dtype = info.arr_dtype ? promote_types(*info.arr_dtype, a.dtype()) : a.dtype();
    info.kind = std::max(info.kind, Kind::Array);
    return;
  }
  if (depth != info.shape.size())
    throw ValueError("[array] initialization from a ragged nested sequence is not supported; got a scalar beside a sequence.");
  if (nb::isinstance<nb::bool_>(obj)) {
  } else if (nb::isinstance<nb::int_>(obj)) {
    info.kind = std::max(info.kind, Kind::Int);
    long long v;
    if (!nb::try_cast<long long>(obj, v) || v > INT32_MAX || v < INT32_MIN) info.big_int = true;
  } else if (nb::isinstance<nb::float_>(obj)) {
    info.kind = std::max(info.kind, Kind::Float);
  } else if (PyComplex_Check(obj.ptr())) {
    info.kind = std::max(info.kind, Kind::Complex);
  } else if (nb::hasattr(obj, "__float__") && !nb::hasattr(obj, "__len__")) {
    // NumPy scalars and similar.
    if (nb::hasattr(obj, "dtype")) {
      std::string k = nb::cast<std::string>(nb::str(obj.attr("dtype").attr("kind")));
      if (k == "b") {
      } else if (k == "i" || k == "u") info.kind = std::max(info.kind, Kind::Int);
      else if (k == "c") info.kind = std::max(info.kind, Kind::Complex);
      else info.kind = std::max(info.kind, Kind::Float);
    } else {
      info.kind = std::max(info.kind, Kind::Float);
    }
  } else {
    throw ValueError(msg("[array] cannot convert an object of type ", nb::cast<std::string>(nb::str(obj.type().attr("__name__"))),
                         " to an array; got ", nb::cast<std::string>(nb::repr(obj)), "."));
  }
}

template <typename T>
void fill_list(nb::handle obj, T*& out) {
  if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) {
    for (auto item : obj) fill_list<T>(item, out);
    return;
  }
  if (nb::isinstance<array>(obj)) {
    array a = astype(nb::cast<array&>(obj), TypeToDtype<T>::value);
    a = contiguous(a);
    a.eval();
    std::memcpy(static_cast<void*>(out), a.data<T>(), a.nbytes());
    out += a.size();
    return;
  }
  if constexpr (is_cplx<T>::value) {
    std::complex<double> c = nb::cast<std::complex<double>>(obj);
    *out++ = T(static_cast<float>(c.real()), static_cast<float>(c.imag()));
  } else if constexpr (std::is_same_v<T, bool>) {
    *out++ = nb::cast<bool>(obj);
  } else if constexpr (std::is_integral_v<T>) {
    if (nb::isinstance<nb::float_>(obj)) *out++ = static_cast<T>(nb::cast<double>(obj));
    else *out++ = static_cast<T>(nb::cast<long long>(nb::int_(obj)));
  } else {
    if (PyComplex_Check(obj.ptr())) {
      *out++ = cast_to<T>(static_cast<float>(nb::cast<std::complex<double>>(obj).real()));
    } else {
      *out++ = cast_to<T>(nb::cast<double>(nb::float_(obj)));
    }
  }
}

array from_list(nb::handle obj, std::optional<Dtype> dtype) {
  ListInfo info;
  scan_list(obj, info, 0);
  Dtype t;
  if (dtype) {
    t = *dtype;
  } else {
    switch (info.kind) {
      case Kind::Bool: t = bool_; break;
      case Kind::Int: t = info.big_int ? int64 : int32; break;
      case Kind::Float: t = float32; break;
      case Kind::Complex: t = complex64; break;
      default: t = *info.arr_dtype; break;
    }
    if (info.kind == Kind::Array && info.arr_dtype) {
      t = *info.arr_dtype;
    }
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
    throw ValueError(msg("[array] cannot convert an object of type ", nb::cast<std::string>(nb::str(obj.type().attr("__name__"))), " to an array; got an unsupported buffer."));
  }
  auto dt = nd.dtype();
  bool is_c128 = dt.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Complex) && dt.bits == 128;
  auto src_t = dlpack_to_dtype(dt);
  if (!src_t)
    throw ValueError(msg("[array] unsupported NumPy dtype; got ", nb::cast<std::string>(nb::str(obj.attr("dtype"))), "."));
  Shape shape;
  for (size_t i = 0; i < nd.ndim(); ++i) shape.push_back(static_cast<int32_t>(nd.shape(i)));
  size_t n = shape_size(shape);
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
  Dtype out_t = dtype ? *dtype : t;
  array out(shape, out_t, nullptr, {});
  out.set_data(allocator::malloc(std::max<size_t>(n * size_of(out_t), 1)));
  if (n) copy_cast_raw(base, t, out.raw_ptr(), out_t, n);
  return out;
}

}  // namespace

bool is_scalar(nb::handle obj) {
  return nb::isinstance<nb::bool_>(obj) || nb::isinstance<nb::int_>(obj) || nb::isinstance<nb::float_>(obj) ||
         PyComplex_Check(obj.ptr());
}

array to_array(nb::handle obj, std::optional<Dtype> dtype) {
  if (nb::isinstance<array>(obj)) {
    array a = nb::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  if (nb::isinstance<nb::bool_>(obj)) return array(nb::cast<bool>(obj), dtype.value_or(bool_));
  if (nb::isinstance<nb::int_>(obj)) {
    long long v;
    if (!nb::try_cast<long long>(obj, v)) {
      // Beyond int64: only an unsigned 64-bit target can hold it.
      unsigned long long u;
      if (nb::try_cast<unsigned long long>(obj, u)) return array(static_cast<uint64_t>(u), dtype.value_or(uint64));
      PyErr_SetString(PyExc_OverflowError, "[array] Python int too large to convert; got a value beyond 64 bits.");
      throw nb::python_error();
    }
    Dtype t = dtype.value_or((v > INT32_MAX || v < INT32_MIN) ? int64 : int32);
    if (is_floating_point(t) || is_complex(t)) return array(static_cast<double>(v), t);
    return array(static_cast<int64_t>(v), t);
  }
  if (nb::isinstance<nb::float_>(obj)) return array(nb::cast<double>(obj), dtype.value_or(float32));
  if (PyComplex_Check(obj.ptr())) {
    auto c = nb::cast<std::complex<double>>(obj);
    return array(complex64_t(static_cast<float>(c.real()), static_cast<float>(c.imag())), dtype.value_or(complex64));
  }
  if (nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj)) return from_list(obj, dtype);
  if (nb::hasattr(obj, "__mlx_array__")) return to_array(obj.attr("__mlx_array__")(), dtype);
  return from_ndarray(obj, dtype);
}

array to_array_with(nb::handle obj, Dtype other) {
  if (nb::isinstance<array>(obj)) return nb::cast<array>(obj);
  if (nb::isinstance<nb::bool_>(obj)) return array(nb::cast<bool>(obj));
  if (nb::isinstance<nb::int_>(obj)) {
    if (other == bool_) return to_array(obj);
    long long v;
    if (nb::try_cast<long long>(obj, v)) {
      if (is_floating_point(other) || is_complex(other)) return array(static_cast<double>(v), other);
      return array(static_cast<int64_t>(v), other);
    }
    return to_array(obj, other);
  }
  if (nb::isinstance<nb::float_>(obj)) {
    Dtype t = is_inexact(other) ? other : float32;
    return array(nb::cast<double>(obj), t);
  }
  if (PyComplex_Check(obj.ptr())) return to_array(obj, complex64);
  return to_array(obj);
}

std::pair<array, array> to_arrays(nb::handle a, nb::handle b) {
  bool sa = !nb::isinstance<array>(a) && is_scalar(a);
  bool sb = !nb::isinstance<array>(b) && is_scalar(b);
  if (!sa && !sb) return {to_array(a), to_array(b)};
  if (sa && sb) {
    array x = to_array(a), y = to_array(b);
    return {x, y};
  }
  if (sa) {
    array y = to_array(b);
    return {to_array_with(a, y.dtype()), y};
  }
  array x = to_array(a);
  return {x, to_array_with(b, x.dtype())};
}

std::vector<int> axes_or_all(const AxesArg& axes, const array& a) {
  if (!axes) return all_axes(a);
  if (std::holds_alternative<int>(*axes)) return {std::get<int>(*axes)};
  return std::get<std::vector<int>>(*axes);
}

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
    os << (v ? "true" : "false");
  } else if constexpr (is_cplx<T>::value) {
    fmt_val(os, v.real());
    float im = v.imag();
    os << (im < 0 || (im == 0 && std::signbit(im)) ? "-" : "+");
    fmt_val(os, std::fabs(im));
    os << "j";
  } else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
    os << static_cast<int>(v);
  } else if constexpr (std::is_integral_v<T>) {
    os << v;
  } else {
    double d = static_cast<double>(static_cast<float>(v));
    if constexpr (std::is_same_v<T, double>) d = v;
    if (std::isnan(d)) os << "nan";
    else if (std::isinf(d)) os << (d > 0 ? "inf" : "-inf");
    else os << std::setprecision(6) << d;
  }
}

void repr_rec(std::ostringstream& os, const char* base, const array& a, size_t dim, int64_t off, int indent) {
  if (dim == a.ndim()) {
    MLX_DISPATCH_ALL(a.dtype(), { fmt_val<T>(os, *reinterpret_cast<const T*>(base + off * a.itemsize())); });
    return;
  }
  os << "[";
  int n = a.shape(dim);
  bool summarize = a.size() > 1000 && n > 6;
  for (int i = 0; i < n; ++i) {
    if (summarize && i == 3) {
      os << "...";
      i = n - 3;
      if (dim + 1 < a.ndim()) {
        os << ",\n" << std::string(indent + 1, ' ');
      } else {
        os << ", ";
      }
    }
    repr_rec(os, base, a, dim + 1, off + static_cast<int64_t>(i) * a.strides(dim), indent + 1);
    if (i + 1 < n) {
      if (dim + 1 < a.ndim()) {
        os << ",";
        for (size_t k = dim + 1; k < a.ndim(); ++k) os << "\n";
        os << std::string(indent + 1, ' ');
      } else {
        os << ", ";
      }
    }
  }
  os << "]";
}
}  // namespace

nb::object to_python(array& a) {
  a.eval();
  const char* base = static_cast<const char*>(a.data<void>());
  return tolist_rec(base, a, 0, 0);
}

std::string array_repr(array a) {
  a.eval();
  std::ostringstream os;
  os << "array(";
  if (a.size() == 0 && a.ndim() > 0) {
    os << "[]" << ", shape=" << shape_str(a.shape());
  } else {
    const char* base = static_cast<const char*>(a.data<void>());
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
