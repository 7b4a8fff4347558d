// Dtypes, devices, streams and the memory API.
#include "convert.h"
#include "mlx/backend/gpu/gpu.h"

using namespace nb::literals;

namespace {
// Owned references, deliberately never released: a static nb::object would be destroyed
// after the interpreter has finalized (a crash at exit on Python 3.12).
nb::handle g_dtypes[num_dtypes];
}

nb::handle dtype_object(Dtype t) { return g_dtypes[static_cast<int>(t)]; }

void init_device(nb::module_& m) {
  nb::class_<PyDtype> dt(m, "Dtype", "An array's element type.");
  dt.def_prop_ro("size", [](const PyDtype& d) { return size_of(d.val); })
      .def("__repr__", [](const PyDtype& d) { return std::string("mlx.core.") + dtype_name(d.val); })
      .def("__str__", [](const PyDtype& d) { return std::string("mlx.core.") + dtype_name(d.val); })
      .def("__eq__", [](const PyDtype& d, nb::handle o) {
        PyDtype* p = nullptr;
        return nb::try_cast<PyDtype*>(o, p) && p && p->val == d.val;
      })
      .def("__hash__", [](const PyDtype& d) { return static_cast<int>(d.val); });
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype t = static_cast<Dtype>(i);
    g_dtypes[i] = nb::cast(PyDtype{t}).release();
    m.attr(dtype_name(t)) = g_dtypes[i];
  }
  m.attr("bool_") = g_dtypes[0];

  nb::enum_<DtypeCategory>(m, "DtypeCategory")
      .value("complexfloating", DtypeCategory::complexfloating)
      .value("floating", DtypeCategory::floating)
      .value("inexact", DtypeCategory::inexact)
      .value("signedinteger", DtypeCategory::signedinteger)
      .value("unsignedinteger", DtypeCategory::unsignedinteger)
      .value("integer", DtypeCategory::integer)
      .value("number", DtypeCategory::number)
      .value("generic", DtypeCategory::generic)
      .export_values();
  m.def("issubdtype", [](nb::handle a, nb::handle b) {
    auto as_dt = [](nb::handle h, Dtype& d) {
      PyDtype* p = nullptr;
      if (nb::try_cast<PyDtype*>(h, p) && p) { d = p->val; return true; }
      return false;
    };
    auto as_cat = [](nb::handle h, const char* which) {
      DtypeCategory c;
      if (!nb::try_cast<DtypeCategory>(h, c))
        throw ValueError(msg("[issubdtype] the ", which, " input must be a Dtype or a DtypeCategory; got ",
                             nb::cast<std::string>(nb::str(h.type().attr("__name__"))), "."));
      return c;
    };
    Dtype da, db;
    bool ia = as_dt(a, da), ib = as_dt(b, db);
    if (ia && ib) return issubdtype(da, db);
    if (ia) return issubdtype(da, as_cat(b, "second"));
    if (ib) return issubdtype(as_cat(a, "first"), db);
    return issubdtype(as_cat(a, "first"), as_cat(b, "second"));
  }, "arg1"_a, "arg2"_a);
  m.def("_promote_types", [](Dtype a, Dtype b) { return promote_types(a, b); });

  nb::enum_<Device::DeviceType>(m, "DeviceType")
      .value("cpu", Device::DeviceType::cpu)
      .value("gpu", Device::DeviceType::gpu)
      .export_values();
  nb::class_<Device>(m, "Device")
      .def(nb::init<Device::DeviceType, int>(), "type"_a, "index"_a = 0)
      .def_ro("type", &Device::type)
      .def_ro("index", &Device::index)
      .def("__repr__", [](const Device& d) {
        return std::string("Device(") + (d.type == Device::cpu ? "cpu" : "gpu") + ", " + std::to_string(d.index) + ")";
      })
      .def("__eq__", [](const Device& a, nb::handle o) {
        if (nb::isinstance<Device>(o)) return a == nb::cast<Device>(o);
        if (nb::isinstance<Device::DeviceType>(o)) return a.type == nb::cast<Device::DeviceType>(o) && a.index == 0;
        return false;
      })
      .def("__hash__", [](const Device& d) { return static_cast<int>(d.type) * 1000 + d.index; });
  nb::implicitly_convertible<Device::DeviceType, Device>();
  nb::class_<Stream>(m, "Stream")
      .def(nb::init<int, Device>(), "index"_a, "device"_a)
      .def_ro("device", &Stream::device)
      .def_ro("index", &Stream::index)
      .def("__repr__", [](const Stream& s) {
        return "Stream(" + std::string(s.device.type == Device::cpu ? "Device(cpu, " : "Device(gpu, ") +
               std::to_string(s.device.index) + "), " + std::to_string(s.index) + ")";
      })
      .def("__eq__", [](const Stream& a, nb::handle o) { return nb::isinstance<Stream>(o) && a == nb::cast<Stream>(o); })
      .def("__hash__", [](const Stream& s) { return s.index; });

  m.def("default_device", []() { return default_device(); });
  m.def("set_default_device", [](const Device& d) { set_default_device(d); }, "device"_a);
  m.def("is_available", [](const Device& d) { return is_available(d); }, "device"_a);
  m.def("default_stream", [](const Device& d) { return default_stream(d); }, "device"_a);
  m.def("set_default_stream", [](const Stream& s) { set_default_stream(s); }, "stream"_a);
  m.def("new_stream", [](const Device& d) { return new_stream(d); }, "device"_a);
  m.def("synchronize", [](std::optional<Stream> s) {
    if (s) synchronize(*s); else synchronize();
  }, "stream"_a = nb::none());
  m.def("device_count", [](const Device& d) { return is_available(d) ? 1 : 0; }, "device"_a);
  m.def("device_info", [](std::optional<Device> d) {
    nb::dict out;
    Device dev = d.value_or(default_device());
    if (!is_available(dev)) return out;  // as MLX: an unavailable device has no info
    for (auto& [k, v] : device_info(dev)) {
      if (std::holds_alternative<std::string>(v)) out[k.c_str()] = std::get<std::string>(v);
      else out[k.c_str()] = std::get<size_t>(v);
    }
    return out;
  }, "device"_a = nb::none());

  m.def("_gpu_host_fallbacks", [] {
    nb::dict out;
    for (auto& [k, n] : gpu::host_fallbacks()) out[k.c_str()] = n;
    return out;
  }, "Nodes of GPU streams that ran on the host, per 'Primitive (dtype)' (for tests).");
  m.def("_gpu_graph_stats", [] {
    nb::dict out;
    for (auto& [k, n] : gpu::graph_stats()) out[k.c_str()] = n;
    return out;
  }, "CUDA graph counters: captured, instantiated, updated, broken (for tests).");
  m.def("_gpu_profile_reset", [] { gpu::profile_reset(); },
        "With MLX_CUDA_PROFILE=1, forget the node timings gathered so far.");

  m.def("get_active_memory", &get_active_memory);
  m.def("get_peak_memory", &get_peak_memory);
  m.def("reset_peak_memory", &reset_peak_memory);
  m.def("get_cache_memory", &get_cache_memory);
  m.def("set_memory_limit", &set_memory_limit, "limit"_a);
  m.def("set_cache_limit", &set_cache_limit, "limit"_a);
  m.def("set_wired_limit", &set_wired_limit, "limit"_a);
  m.def("clear_cache", &clear_cache);
}
