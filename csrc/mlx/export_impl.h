// Internal declarations shared by export.cpp (tracing, file reading and writing) and
// export_replay.cpp (rebuilding graphs on import). Not part of the public API.
#pragma once
#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlx/export.h"

namespace mlx::core::export_detail {

// Throws std::runtime_error("[import_function] the file is corrupt ...: <what>.").
[[noreturn]] void corrupt(const std::string& what);

// ---------------------------------------------------------------- enum names

inline const char* reduce_type_names[] = {"and", "or", "sum", "prod", "min", "max"};
inline const char* argreduce_names[] = {"argmin", "argmax"};
inline const char* scatter_mode_names[] = {"none", "add", "prod", "max", "min"};
inline const char* scan_type_names[] = {"sum", "prod", "max", "min", "logaddexp"};
inline const char* quant_mode_names[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};
inline const char* mask_mode_names[] = {"none", "causal", "array"};

template <typename E, size_t N>
inline std::string enum_name(E e, const char* (&names)[N]) {
  size_t i = static_cast<size_t>(e);
  if (i >= N) throw ValueError(msg("[export_function] unknown enum value; got ", i, "."));
  return names[i];
}

template <typename E, size_t N>
inline E enum_value(const std::string& s, const char* (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  throw std::runtime_error(msg("[import_function] corrupt file: unknown enum value '", s, "'."));
}

struct ParamReader {
  const ExportNode& node;
  [[noreturn]] void bad(size_t k, const char* what) const {
    throw std::runtime_error(msg("[import_function] corrupt file: parameter ", k, " of ", node.name, " is not ",
                                 what, "."));
  }
  template <typename T>
  const T& get(size_t k, const char* what) const {
    if (k >= node.params.size()) bad(k, what);
    auto* p = std::get_if<T>(&node.params[k]);
    if (!p) bad(k, what);
    return *p;
  }
  int i(size_t k) const {
    int64_t v = get<int64_t>(k, "an integer");
    if (v < INT32_MIN || v > INT32_MAX) bad(k, "a 32-bit integer");
    return static_cast<int>(v);
  }
  int64_t i64(size_t k) const { return get<int64_t>(k, "an integer"); }
  double f(size_t k) const { return get<double>(k, "a float"); }
  bool b(size_t k) const { return get<bool>(k, "a bool"); }
  const std::string& s(size_t k) const { return get<std::string>(k, "a string"); }
  Dtype t(size_t k) const { return get<Dtype>(k, "a dtype"); }
  template <typename V = std::vector<int>>
  V v(size_t k) const {
    auto& x = get<std::vector<int64_t>>(k, "a list of integers");
    V r;
    for (auto e : x) {
      if (e < INT32_MIN || e > INT32_MAX) bad(k, "a list of 32-bit integers");
      r.push_back(static_cast<typename V::value_type>(e));
    }
    return r;
  }
  Strides v64(size_t k) const {
    auto& x = get<std::vector<int64_t>>(k, "a list of integers");
    return Strides(x.begin(), x.end());
  }
};

// Rebuilds a trace's graph on `inputs`; `infer` when their shapes differ from the traced ones
// (shapeless functions). With `validate` (on placeholder inputs of the traced shapes, at import)
// every node's shapes are inferred and compared with the file; a mismatch is corrupt().
std::vector<array> replay(const ExportTrace& t, const std::vector<array>& inputs, bool infer,
                          bool validate = false);

}  // namespace mlx::core::export_detail
