// Bindings for the fast family (filled in by its owner).
#include "convert.h"

void init_fast(nb::module_& m) { (void)m; }
