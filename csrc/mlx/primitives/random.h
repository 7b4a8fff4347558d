// Primitives of mx.random: the counter-based bit generator and the elementwise maps that
// turn uniform samples into other distributions.
#pragma once
#include "mlx/primitives/primitives.h"

namespace mlx::core {

// Threefry-2x32 (20 rounds) random bits. Input: keys of shape (..., 2), uint32. Output:
// keys.shape[:-1] + shape_, of width_ bytes per element (uint8/uint16/uint32/uint64).
// Each key draws n = ceil(prod(shape_) * width_ / 4) 32-bit words w, with m = ceil(n / 2):
//   (w[i], w[i + m]) = threefry(key, (i, i + m < n ? i + m : 0))   for i < m,
// and the output bytes are the little-endian bytes of w (the layout MLX and JAX use).
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, Shape shape, int width) : Primitive(s), shape_(std::move(shape)), width_(width) {}
  MLX_PRIM_COMMON("RandomBits")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Shape shape_;
  int width_;
};

enum class RandomMapOp : uint8_t {
  // MLX's float32 erfinv (a polynomial in log(1 - x^2) with fused multiply-adds).
  ErfInv,
  // -log(-log(u)): Gumbel samples from uniform u in (0, 1).
  Gumbel,
};

// Elementwise maps of the samplers, computed in float (double for float64) with libm's log
// and rounded to the input dtype after each log, so samples equal MLX's bit for bit.
class RandomMap : public Primitive {
 public:
  RandomMap(Stream s, RandomMapOp op) : Primitive(s), op_(op) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  const char* name() const override { return op_ == RandomMapOp::ErfInv ? "RandomErfInv" : "RandomGumbel"; }
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  RandomMapOp op_;
};

}  // namespace mlx::core
