// Fused primitives of mlx.core.fast. Each carries a composite fallback (written with
// ordinary ops) that defines its value; vjp/jvp/vmap come from transforming that fallback
// unless a cheaper rule is given in fast_rules.cpp.
#pragma once
#include <functional>
#include <vector>

#include "mlx/primitives/primitives.h"

namespace mlx::core::fast {

using Fallback = std::function<std::vector<array>(const std::vector<array>&)>;

class FastPrimitive : public Primitive {
 public:
  FastPrimitive(Stream s, Fallback fallback) : Primitive(s), fallback_(std::move(fallback)) {}
  const Fallback& fallback() const { return fallback_; }
  MLX_PRIM_RULES

 protected:
  Fallback fallback_;
};

// inputs: x, [weight]; output: x / sqrt(mean(x^2) + eps) * weight over the last axis.
class RMSNorm : public FastPrimitive {
 public:
  RMSNorm(Stream s, Fallback f, float eps, bool has_weight)
      : FastPrimitive(s, std::move(f)), eps_(eps), has_weight_(has_weight) {}
  MLX_PRIM_COMMON("RMSNorm")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) override;
  bool is_equivalent(const Primitive& o) const override;
  float eps_;
  bool has_weight_;
};

// inputs: x, [weight], [bias]; output: (x - mean) / sqrt(var + eps) * weight + bias.
class LayerNorm : public FastPrimitive {
 public:
  LayerNorm(Stream s, Fallback f, float eps, bool has_weight, bool has_bias)
      : FastPrimitive(s, std::move(f)), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  MLX_PRIM_COMMON("LayerNorm")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) override;
  bool is_equivalent(const Primitive& o) const override;
  float eps_;
  bool has_weight_, has_bias_;
};

// Gradients of RMSNorm (layer = false) or LayerNorm: inputs x, [weight], [bias], cotangent;
// one output per entry of argnums (0: x, then weight, then bias, as in the forward inputs).
class NormVJP : public FastPrimitive {
 public:
  NormVJP(Stream s, Fallback f, bool layer, float eps, bool has_weight, bool has_bias, std::vector<int> argnums)
      : FastPrimitive(s, std::move(f)), layer_(layer), eps_(eps), has_weight_(has_weight), has_bias_(has_bias),
        argnums_(std::move(argnums)) {}
  MLX_PRIM_COMMON("NormVJP")
  bool is_equivalent(const Primitive& o) const override;
  bool layer_;
  float eps_;
  bool has_weight_, has_bias_;
  std::vector<int> argnums_;
};

// inputs: x (ndim >= 3), offset (int32, scalar or (B,)), [freqs (float32, (dims/2,))].
// Rotates feature pairs of the first `dims` features at position offset[b] + l (axis -2).
class RoPE : public FastPrimitive {
 public:
  RoPE(Stream s, Fallback f, int dims, bool traditional, float base, float scale, bool has_freqs)
      : FastPrimitive(s, std::move(f)), dims_(dims), traditional_(traditional), base_(base),
        scale_(scale), has_freqs_(has_freqs) {}
  MLX_PRIM_COMMON("RoPE")
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) override;
  bool is_equivalent(const Primitive& o) const override;
  int dims_;
  bool traditional_;
  float base_, scale_;
  bool has_freqs_;
};

enum class MaskMode : uint8_t { None, Causal, Array };

// inputs: q (B, Nq, Tq, D), k (B, Nkv, Tkv, D), v (B, Nkv, Tkv, Dv), [mask broadcast to
// (B, Nq, Tq, Tkv), bool or of the output type], [sinks (Nq,)]; output (B, Nq, Tq, Dv).
class ScaledDotProductAttention : public FastPrimitive {
 public:
  ScaledDotProductAttention(Stream s, Fallback f, float scale, MaskMode mode, bool has_sinks)
      : FastPrimitive(s, std::move(f)), scale_(scale), mode_(mode), has_sinks_(has_sinks) {}
  MLX_PRIM_COMMON("ScaledDotProductAttention")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  bool is_equivalent(const Primitive& o) const override;
  float scale_;
  MaskMode mode_;
  bool has_sinks_;
};

// Gradients of ScaledDotProductAttention: inputs as the forward's plus the cotangent of the
// output; one output per entry of argnums (q, k, v, additive mask, sinks by input index).
class ScaledDotProductAttentionVJP : public FastPrimitive {
 public:
  ScaledDotProductAttentionVJP(Stream s, Fallback f, float scale, MaskMode mode, bool has_sinks,
                               std::vector<int> argnums)
      : FastPrimitive(s, std::move(f)), scale_(scale), mode_(mode), has_sinks_(has_sinks),
        argnums_(std::move(argnums)) {}
  MLX_PRIM_COMMON("ScaledDotProductAttentionVJP")
  bool is_equivalent(const Primitive& o) const override;
  float scale_;
  MaskMode mode_;
  bool has_sinks_;
  std::vector<int> argnums_;
};

}  // namespace mlx::core::fast
