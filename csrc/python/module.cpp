// The mlx.core extension module.
#include "convert.h"

NB_MODULE(core, m) {
  m.doc() = "mlx.core: lazy arrays, ops and function transforms.";
  nb::set_leak_warnings(false);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const AxisError& e) {
      nb::object cls = nb::module_::import_("mlx.core").attr("_AxisError");
      PyErr_SetString(cls.ptr(), e.what());
    } catch (const IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
  // Both ValueError and IndexError, as NumPy's AxisError.
  nb::object builtins = nb::module_::import_("builtins");
  nb::object type = builtins.attr("type");
  m.attr("_AxisError") = type("AxisError", nb::make_tuple(builtins.attr("ValueError"), builtins.attr("IndexError")),
                              nb::dict());
  init_device(m);
  init_array(m);
  init_ops(m);
  init_transforms(m);
  init_random(m);
  init_linalg(m);
  init_fft(m);
  init_conv(m);
  init_sort_scan(m);
  init_io(m);
  init_fast(m);
  init_quantized(m);
  init_export(m);
}
