// The error classes and the one message helper: "[op] what is wrong; got <actual>."
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

#include "mlx/dtype.h"

namespace mlx::core {

using Shape = std::vector<int32_t>;
using Strides = std::vector<int64_t>;

// Python: ValueError.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// Python: an exception that is both ValueError and IndexError.
struct AxisError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// Python: IndexError.
struct IndexError : std::out_of_range {
  using std::out_of_range::out_of_range;
};
// Python: TypeError.
struct TypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

namespace detail {
inline void put(std::ostream& os, const Shape& s) {
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
}
inline void put(std::ostream& os, const std::vector<int>* s) { (void)s; }
inline void put(std::ostream& os, Dtype t) { os << dtype_name(t); }
inline void put(std::ostream& os, bool b) { os << (b ? "True" : "False"); }
template <typename T>
inline void put(std::ostream& os, const T& x) { os << x; }
}  // namespace detail

// Concatenates its arguments; shapes print as Python tuples, dtypes by name.
template <typename... Args>
std::string msg(const Args&... args) {
  std::ostringstream os;
  (detail::put(os, args), ...);
  return os.str();
}

inline std::string shape_str(const Shape& s) { return msg(s); }

}  // namespace mlx::core
