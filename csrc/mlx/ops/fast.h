// mlx.core.fast: fused normalization, rotary embedding and attention.
#pragma once
#include <optional>
#include <string>

#include "mlx/array.h"
#include "mlx/device.h"

namespace mlx::core::fast {

using SD = StreamOrDevice;

// x / sqrt(mean(x^2, -1) + eps) * weight; weight is 1-D of size x.shape[-1] or absent.
array rms_norm(const array& x, const std::optional<array>& weight, float eps, SD s = {});

// (x - mean) / sqrt(var + eps) * weight + bias over the last axis.
array layer_norm(const array& x, const std::optional<array>& weight,
                 const std::optional<array>& bias, float eps, SD s = {});

// Rotary positional encoding of the first `dims` features of x (shape (B, *, T, D)).
// Exactly one of base and freqs is given; offset is an integer scalar or a (B,) vector.
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset, const std::optional<array>& freqs = std::nullopt, SD s = {});
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           int offset, const std::optional<array>& freqs = std::nullopt, SD s = {});

// softmax(scale * q @ k^T + mask) @ v with grouped-query heads. mask_mode is "" (none),
// "causal" or "array" (then mask holds a boolean or additive mask); sinks is (N_q,).
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode = "",
                                   const std::optional<array>& mask = std::nullopt,
                                   const std::optional<array>& sinks = std::nullopt, SD s = {});

}  // namespace mlx::core::fast
