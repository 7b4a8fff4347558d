// Primitives of the quantization family: group-wise quantize/dequantize (affine, mxfp4,
// mxfp8, nvfp4), the fused quantized matmul and its gathered form, and fp8 (e4m3) casts.
//
// Layouts (as MLX): a quantized matrix is uint32, each row a little-endian bit stream of
// `bits`-bit codes (the first element in the lowest bits), so a row of K elements takes
// K * bits / 32 words. One scale (and, for affine, one bias) per `group_size` consecutive
// elements of a row. Affine: w = scale * q + bias. mxfp4/nvfp4: 4-bit e2m1 codes (sign in
// bit 3); mxfp8: e4m3 codes. mx modes scale by 2^(e - 127) (e8m0, uint8), nvfp4 by an e4m3
// scale (uint8), optionally divided by 448 * 6 / global_scale.
#pragma once
#include <string>

#include "mlx/primitives/primitives.h"

namespace mlx::core {

enum class QuantizationMode : uint8_t { Affine, Mxfp4, Mxfp8, Nvfp4 };

// Inputs {w} or {w, global_scale (float32 scalar, nvfp4 only)}; outputs {w_q, scales} plus
// biases for affine. Quantizes along the last axis.
class Quantize : public Primitive {
 public:
  Quantize(Stream s, int group_size, int bits, QuantizationMode mode)
      : Primitive(s), group_size_(group_size), bits_(bits), mode_(mode) {}
  MLX_PRIM_COMMON("Quantize")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int group_size_, bits_;
  QuantizationMode mode_;
};

// Inputs {w, scales, biases} (affine) or {w, scales[, global_scale]}; output the values in
// the output's dtype, computed in the dtype of the scales (affine: promoted with the biases;
// other modes: float32) and then cast.
class Dequantize : public Primitive {
 public:
  Dequantize(Stream s, int group_size, int bits, QuantizationMode mode)
      : Primitive(s), group_size_(group_size), bits_(bits), mode_(mode) {}
  MLX_PRIM_COMMON("Dequantize")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int group_size_, bits_;
  QuantizationMode mode_;
};

// Inputs {x (..., M, K), w, scales[, biases]} with identical batch shapes (the op broadcasts);
// transpose: out = x @ W^T with W (N, K) quantized along K; else out = x @ W with W (K, N)
// quantized along N. W is decoded tile by tile inside the kernel (never materialized).
class QuantizedMatmul : public Primitive {
 public:
  QuantizedMatmul(Stream s, int group_size, int bits, QuantizationMode mode, bool transpose)
      : Primitive(s), group_size_(group_size), bits_(bits), mode_(mode), transpose_(transpose) {}
  MLX_PRIM_COMMON("QuantizedMatmul")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int group_size_, bits_;
  QuantizationMode mode_;
  bool transpose_;
};

// Inputs {x (Bx, M, K), w (Bw, ...), scales (Bw, ...)[, biases], lhs (B,), rhs (B,) uint32};
// out[i] = quantized_matmul(x[lhs[i]], W[rhs[i]]), shape (B, M, N).
class GatherQMM : public Primitive {
 public:
  GatherQMM(Stream s, int group_size, int bits, QuantizationMode mode, bool transpose, bool sorted)
      : Primitive(s), group_size_(group_size), bits_(bits), mode_(mode), transpose_(transpose), sorted_(sorted) {}
  MLX_PRIM_COMMON("GatherQMM")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  int group_size_, bits_;
  QuantizationMode mode_;
  bool transpose_, sorted_;
};

// Floating point -> uint8 e4m3 codes (round to nearest even, saturating at +-448; NaN -> 448).
class ToFP8 : public Primitive {
 public:
  using Primitive::Primitive;
  MLX_PRIM_COMMON("ToFP8")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// uint8 e4m3 codes -> the output's floating point dtype.
class FromFP8 : public Primitive {
 public:
  FromFP8(Stream s, Dtype dtype) : Primitive(s), dtype_(dtype) {}
  MLX_PRIM_COMMON("FromFP8")
  MLX_PRIM_RULES
  bool is_equivalent(const Primitive& o) const override;
  Dtype dtype_;
};

}  // namespace mlx::core
