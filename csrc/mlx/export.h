// Function export: trace a function into a graph of primitives, write it (with the constants it
// captures) to a portable file, and import it back as a callable that rebuilds the graph.
// The file format is described in docs/dev/export.md.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "mlx/array.h"
#include "mlx/transforms.h"

namespace mlx::core {

using Kwargs = std::map<std::string, array>;
// A function of positional and keyword arrays returning a list of arrays.
using KwargsFn = std::function<std::vector<array>(const std::vector<array>&, const Kwargs&)>;

// ---- the in-memory form of one traced graph (also what export callbacks receive) ----

// One parameter of a primitive: an integer, a float, a bool, a list of integers, a string
// (enum values are written as their names) or a dtype.
using ExportParam = std::variant<int64_t, double, bool, std::vector<int64_t>, std::string, Dtype>;

struct ExportRef {
  enum Kind : uint8_t { Input = 0, Constant = 1, Node = 2 };
  Kind kind;
  int index;    // input index, constant index (into ExportTrace::constants) or node index
  int out = 0;  // output of a multi-output node
};

struct ExportNode {
  std::string name;  // the primitive's name (Primitive::name())
  // Where it runs: 0 the default device (at import: the default device then), 1 the CPU,
  // 2 the GPU (nodes placed explicitly on a device other than the default one at export).
  uint8_t device = 0;
  std::vector<ExportParam> params;
  std::vector<ExportRef> inputs;
  std::vector<Shape> shapes;  // one per output
  std::vector<Dtype> dtypes;
};

struct ExportTrace {
  int num_args = 0;                      // positional inputs come first
  std::vector<std::string> kwarg_names;  // then keyword inputs, sorted by name
  std::vector<Shape> input_shapes;
  std::vector<Dtype> input_dtypes;
  std::vector<array> constants;          // evaluated
  std::vector<ExportNode> nodes;         // in topological order
  std::vector<ExportRef> outputs;
};

// Traces fun(args, kwargs) into a graph. Constants the function captures are evaluated.
// Throws ValueError for a primitive that can't be exported.
ExportTrace trace_for_export(const KwargsFn& fun, const std::vector<array>& args, const Kwargs& kwargs = {});

// ---- export ----

// Writes one trace of fun on the example inputs to `path`. With shapeless, the imported
// function also accepts inputs of other shapes (same dtypes and numbers of dimensions).
void export_function(const std::string& path, const VecFn& fun, const std::vector<array>& args,
                     bool shapeless = false);
void export_function(const std::string& path, const KwargsFn& fun, const std::vector<array>& args,
                     const Kwargs& kwargs, bool shapeless = false, const std::string& metadata = "");

// Exports several traces of one function (different shapes, dtypes, numbers of arguments or
// keyword names) into one file. Each call adds a trace; close() (or destruction) finishes
// the file. Calling with a signature that was already exported throws std::runtime_error.
class FunctionExporter {
 public:
  FunctionExporter(const std::string& path, KwargsFn fun, bool shapeless = false, const std::string& metadata = "");
  FunctionExporter(const std::string& path, const VecFn& fun, bool shapeless = false);
  ~FunctionExporter();
  FunctionExporter(FunctionExporter&&) noexcept;
  FunctionExporter& operator=(FunctionExporter&&) noexcept;
  FunctionExporter(const FunctionExporter&) = delete;
  FunctionExporter& operator=(const FunctionExporter&) = delete;

  void operator()(const std::vector<array>& args, const Kwargs& kwargs = {});
  void close();
  bool closed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

FunctionExporter exporter(const std::string& path, const KwargsFn& fun, bool shapeless = false,
                          const std::string& metadata = "");

// ---- import ----

// A function read from a file. Calling it picks the trace that matches the inputs (number of
// positional inputs, keyword names, dtypes, and shapes unless the file is shapeless) and
// rebuilds its graph on them, so results are lazy and differentiable like any other.
class ImportedFunction {
 public:
  std::vector<array> operator()(const std::vector<array>& args) const;
  std::vector<array> operator()(const std::vector<array>& args, const Kwargs& kwargs) const;
  const std::string& metadata() const;
  bool shapeless() const;
  size_t num_traces() const;
  const ExportTrace& trace(size_t i) const;

  struct Impl;
  explicit ImportedFunction(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

// Reads a function file; throws std::runtime_error for unreadable, truncated or corrupt files.
ImportedFunction import_function(const std::string& path);

}  // namespace mlx::core
