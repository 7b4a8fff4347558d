// Bindings for the io family (filled in by its owner).
#include "convert.h"

void init_io(nb::module_& m) { (void)m; }
