// Bindings for the conv family (filled in by its owner).
#include "convert.h"

void init_conv(nb::module_& m) { (void)m; }
