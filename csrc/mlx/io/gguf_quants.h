// GGML block dequantizers for the GGUF types that load as float16 (internal).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mlx::core::io::detail {

struct GGMLBlockType {
  size_t block;  // elements per block
  size_t bytes;  // bytes per block
  // Writes `block` floats from one block of `bytes` bytes.
  void (*dequantize)(const uint8_t* blk, float* out);
};

// The dequantizer of ggml type `t` (Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), or nullptr.
const GGMLBlockType* ggml_float_type(uint32_t t);

}  // namespace mlx::core::io::detail
