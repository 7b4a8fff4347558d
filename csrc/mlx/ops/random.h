// Ops of mx.random: keys, the bit generator and the samplers built on it.
// A key is a uint32 array of shape (2,). Every sampler takes an optional key; without one
// it draws the next key of the global sequence (seeded by seed(), else by the clock).
// Samplers seeded the same way draw the same values as MLX (see docs/dev/random.md).
#pragma once
#include <optional>
#include <utility>

#include "mlx/ops.h"
#include "mlx/primitives/random.h"

namespace mlx::core::random {

using OptKey = std::optional<array>;

// The key of a seed: [seed >> 32, seed & 0xffffffff].
array key(uint64_t seed);
// Reseeds the global key sequence.
void seed(uint64_t seed);
// The next key of the global sequence (which advances to the other half of its split).
array next_key();
// Checks that `key` is a uint32 array of shape (2,) (`op` names the caller in the message).
void check_key(const array& key, const char* op);

// Random bits of `width` bytes (1, 2, 4 or 8) per element: uint8/uint16/uint32/uint64.
array bits(const Shape& shape, int width = 4, const OptKey& key = std::nullopt, SD s = {});
// `num` new keys, shape (num, 2).
array split(const array& key, int num, SD s = {});
// Two new keys.
std::pair<array, array> split(const array& key, SD s = {});

// Uniform in [low, high); low and high are cast to `dtype` and broadcast to `shape`.
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const OptKey& key = std::nullopt, SD s = {});
array uniform(const Shape& shape, Dtype dtype = float32, const OptKey& key = std::nullopt, SD s = {});
// Normal samples loc + scale * N(0, 1) (for complex64: real and imaginary parts N(0, 1/2)).
array normal(const Shape& shape, Dtype dtype = float32, const std::optional<array>& loc = std::nullopt,
             const std::optional<array>& scale = std::nullopt, const OptKey& key = std::nullopt, SD s = {});
// Integers in [low, high) of an integer (or bool) dtype.
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const OptKey& key = std::nullopt, SD s = {});
// True with probability p (a floating point array broadcast to `shape`).
array bernoulli(const array& p, const Shape& shape, const OptKey& key = std::nullopt, SD s = {});
array bernoulli(const array& p, const OptKey& key = std::nullopt, SD s = {});
// Normal samples truncated to [lower, upper]; shape defaults to their broadcast shape.
array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape,
                       Dtype dtype = float32, const OptKey& key = std::nullopt, SD s = {});
// Standard Gumbel samples.
array gumbel(const Shape& shape, Dtype dtype = float32, const OptKey& key = std::nullopt, SD s = {});
// Laplace samples with location `loc` and scale `scale`.
array laplace(const Shape& shape, Dtype dtype = float32, float loc = 0.0f, float scale = 1.0f,
              const OptKey& key = std::nullopt, SD s = {});

}  // namespace mlx::core::random
