// Bindings for the sort_scan family (filled in by its owner).
#include "convert.h"

void init_sort_scan(nb::module_& m) { (void)m; }
