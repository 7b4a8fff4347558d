// Bindings for the fft family (filled in by its owner).
#include "convert.h"

void init_fft(nb::module_& m) { (void)m; }
