// Ops of the quantization family (MLX 0.32 semantics): quantize, dequantize,
// quantized_matmul, gather_qmm, qqmm, gather_qqmm, to_fp8, from_fp8.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mlx/ops.h"
#include "mlx/primitives/quantized.h"

namespace mlx::core {

// "affine", "mxfp4", "mxfp8", "nvfp4" (ValueError otherwise, naming `op`).
QuantizationMode quantization_mode_from_string(const std::string& mode, const char* op);
std::string quantization_mode_to_string(QuantizationMode mode);
// The (group_size, bits) a mode uses when they are not given.
std::pair<int, int> quantization_defaults(QuantizationMode mode);

// Returns {w_q, scales, biases} (affine) or {w_q, scales} (mxfp4, mxfp8, nvfp4).
std::vector<array> quantize(const array& w, std::optional<int> group_size = std::nullopt,
                            std::optional<int> bits = std::nullopt, const std::string& mode = "affine",
                            const std::optional<array>& global_scale = std::nullopt, SD s = {});

array dequantize(const array& w, const array& scales, const std::optional<array>& biases = std::nullopt,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine", const std::optional<array>& global_scale = std::nullopt,
                 std::optional<Dtype> dtype = std::nullopt, SD s = {});

// x @ W^T (transpose) or x @ W with W given quantized.
array quantized_matmul(const array& x, const array& w, const array& scales,
                       const std::optional<array>& biases = std::nullopt, bool transpose = true,
                       std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                       const std::string& mode = "affine", SD s = {});

// quantized_matmul of matrices gathered from the batches of x and w (as gather_mm).
array gather_qmm(const array& x, const array& w, const array& scales,
                 const std::optional<array>& biases = std::nullopt,
                 const std::optional<array>& lhs_indices = std::nullopt,
                 const std::optional<array>& rhs_indices = std::nullopt, bool transpose = true,
                 std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                 const std::string& mode = "affine", const std::optional<array>& global_scale = std::nullopt,
                 bool sorted_indices = false, SD s = {});

// x @ w^T with x quantized on the fly and w quantized on the fly unless given quantized
// (uint32 with scales). Composite: quantize -> dequantize -> float32 matmul; gradients go
// straight through the quantization (identity), as for a quantization-aware-training op.
array qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
           std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
           const std::string& mode = "nvfp4", const std::optional<array>& global_scale_x = std::nullopt,
           const std::optional<array>& global_scale_w = std::nullopt, SD s = {});

array gather_qqmm(const array& x, const array& w, const std::optional<array>& scales = std::nullopt,
                  const std::optional<array>& lhs_indices = std::nullopt,
                  const std::optional<array>& rhs_indices = std::nullopt,
                  std::optional<int> group_size = std::nullopt, std::optional<int> bits = std::nullopt,
                  const std::string& mode = "nvfp4", const std::optional<array>& global_scale_x = std::nullopt,
                  const std::optional<array>& global_scale_w = std::nullopt, bool sorted_indices = false,
                  SD s = {});

// e4m3 codes (uint8) of a floating point array, and back.
array to_fp8(const array& x, SD s = {});
array from_fp8(const array& x, Dtype dtype = bfloat16, SD s = {});

}  // namespace mlx::core
