// The Primitive base class: one node kind of the graph, with its kernels and rules.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "mlx/array.h"
#include "mlx/device.h"

namespace mlx::core {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

  // Computes outputs (already shaped, no data yet) from evaluated inputs.
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs);

  // Vector-Jacobian product for the inputs named by argnums.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  // Jacobian-vector product; tangents align with argnums.
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  // Batched outputs and their batch axes (-1: no batch axis) from inputs batched along axes.
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes);

  virtual const char* name() const = 0;
  virtual bool is_equivalent(const Primitive&) const { return false; }
  // Whether the primitive has a kernel for the device.
  virtual bool supports(const Device& d) const { return d.type == Device::cpu; }

 private:
  Stream stream_;
};

// A primitive whose outputs are views into its first input and compute nothing.
class ViewPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
};

}  // namespace mlx::core
