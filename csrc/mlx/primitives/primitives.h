// The concrete primitives. Rules (vjp/jvp/vmap) are in primitives/*.cpp, kernels in backend/.
#pragma once
#include <string>

#include "mlx/primitive.h"

namespace mlx::core {

enum class UnaryOp : uint8_t {
#define MLX_UNARY(C, n) C,
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
};
enum class BinaryOp : uint8_t {
#define MLX_BINARY(C, n) C,
#include "mlx/primitives/elementwise.def"
#undef MLX_BINARY
};
const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

#define MLX_PRIM_COMMON(NAME)                                                              \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;   \
  const char* name() const override { return NAME; }

#define MLX_PRIM_RULES                                                                     \
  std::vector<array> vjp(const std::vector<array>& primals,                                \
                         const std::vector<array>& cotangents,                             \
                         const std::vector<int>& argnums,                                  \
                         const std::vector<array>& outputs) override;                      \
  std::vector<array> jvp(const std::vector<array>& primals,                                \
                         const std::vector<array>& tangents,                               \
                         const std::vector<int>& argnums) override;                        \
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,   \
                                                       const std::vector<int>& axes) override;

class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return unary_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  UnaryOp op() const { return op_; }
  MLX_PRIM_RULES
 private:
  UnaryOp op_;
};

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return binary_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  BinaryOp op() const { return op_; }
  MLX_PRIM_RULES
 private:
  BinaryOp op_;
};

// divmod: two outputs.
class DivMod : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("DivMod")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// where(cond, x, y)
class Select : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("Select")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

class AsType : public Primitive {
 public:
  AsType(Stream s, Dtype t) : Primitive(s), dtype_(t) {}
  MLX_PRIM_COMMON("AsType")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Dtype dtype_;
};

class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double stop, double step)
      : Primitive(s), start_(start), stop_(stop), step_(step) {}
  MLX_PRIM_COMMON("Arange")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  double start_, stop_, step_;
};

enum class ReduceType : uint8_t { And, Or, Sum, Prod, Min, Max };

// Reduces over axes; the output keeps them with size 1.
class Reduce : public Primitive {
 public:
  Reduce(Stream s, ReduceType t, std::vector<int> axes) : Primitive(s), type_(t), axes_(std::move(axes)) {}
  MLX_PRIM_COMMON("Reduce")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  ReduceType type_;
  std::vector<int> axes_;
};

enum class ArgReduceType : uint8_t { ArgMin, ArgMax };
class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceType t, int axis) : Primitive(s), type_(t), axis_(axis) {}
  MLX_PRIM_COMMON("ArgReduce")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  ArgReduceType type_;
  int axis_;
};

class Matmul : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("Matmul")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// ---- views and copies ----
class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  MLX_PRIM_COMMON("Reshape")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
};

class Transpose : public Primitive {
 public:
  Transpose(Stream s, std::vector<int> perm) : Primitive(s), perm_(std::move(perm)) {}
  MLX_PRIM_COMMON("Transpose")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  std::vector<int> perm_;
};

class Broadcast : public Primitive {
 public:
  Broadcast(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  MLX_PRIM_COMMON("Broadcast")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
};

class Slice : public Primitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  MLX_PRIM_COMMON("Slice")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape start_, stop_, strides_;
};

// Writes `update` into the strided window [start:stop:strides] of a copy of `src`.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  MLX_PRIM_COMMON("SliceUpdate")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape start_, stop_, strides_;
};

class AsStrided : public Primitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, size_t offset)
      : Primitive(s), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset) {}
  MLX_PRIM_COMMON("AsStrided")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
  Strides strides_;
  size_t offset_;
};

class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  MLX_PRIM_COMMON("Concatenate")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
};

// take(a, indices, axis): out.shape = a.shape[:axis] + indices.shape + a.shape[axis+1:].
// Negative indices wrap; indices are clamped into range.
class Gather : public Primitive {
 public:
  Gather(Stream s, int axis) : Primitive(s), axis_(axis) {}
  MLX_PRIM_COMMON("Gather")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
};

enum class ScatterMode : uint8_t { None, Add, Prod, Max, Min };
// Inverse of Gather: inputs (a, indices, updates) with updates shaped like Gather's output.
class Scatter : public Primitive {
 public:
  Scatter(Stream s, int axis, ScatterMode m) : Primitive(s), axis_(axis), mode_(m) {}
  MLX_PRIM_COMMON("Scatter")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
  ScatterMode mode_;
};

// take_along_axis(a, indices, axis) with indices broadcast to a's shape on other axes.
class GatherAxis : public Primitive {
 public:
  GatherAxis(Stream s, int axis) : Primitive(s), axis_(axis) {}
  MLX_PRIM_COMMON("GatherAxis")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
};

class ScatterAxis : public Primitive {
 public:
  ScatterAxis(Stream s, int axis, ScatterMode m) : Primitive(s), axis_(axis), mode_(m) {}
  MLX_PRIM_COMMON("ScatterAxis")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int axis_;
  ScatterMode mode_;
};

// Softmax over the last axis (fused kernel); `precise` accumulates half types in float.
class Softmax : public Primitive {
 public:
  Softmax(Stream s, bool precise) : Primitive(s), precise_(precise) {}
  MLX_PRIM_COMMON("Softmax")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  bool precise_;
};





}  // namespace mlx::core
