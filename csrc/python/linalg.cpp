// Bindings for the linalg family (filled in by its owner).
#include "convert.h"

void init_linalg(nb::module_& m) { (void)m; }
