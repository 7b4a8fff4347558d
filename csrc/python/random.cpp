// Bindings for the random family (filled in by its owner).
#include "convert.h"

void init_random(nb::module_& m) { (void)m; }
