// mx.random: keys, the global key sequence, and the samplers composed from RandomBits.
// The compositions (which dtype each step runs in, the order of the arithmetic) are the
// ones that reproduce MLX's samples bit for bit; docs/dev/random.md records them.
#include "mlx/ops/random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

namespace mlx::core::random {

namespace {

struct KeySequence {
  std::mutex mu;
  std::optional<array> key;
};

KeySequence& global_keys() {
  static KeySequence ks;
  return ks;
}

uint64_t clock_seed() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape)
    if (d < 0) throw ValueError(msg("[", op, "] shape dimensions must be non-negative; got shape=", shape, "."));
}

void check_real_float(Dtype dtype, const char* op) {
  if (!is_floating_point(dtype))
    throw ValueError(msg("[", op, "] dtype must be a real floating point type; got ", dtype, "."));
}

// `shape` must be the broadcast of itself and `other` (the shape of a parameter).
void check_broadcasts_to(const Shape& other, const Shape& shape, const char* op, const char* what) {
  Shape b = broadcast_shapes(shape, other, op);
  if (b != shape)
    throw ValueError(msg("[", op, "] ", what, " must broadcast to the sample shape ", shape, "; got ", what,
                         " shape ", other, "."));
}

array resolve(const OptKey& key, const char* op) {
  if (!key) return next_key();
  check_key(*key, op);
  return *key;
}

// The largest value below 1 in `dtype`.
double one_below_one(Dtype dtype) {
  switch (dtype) {
    case float16: return 1.0 - 1.0 / 2048.0;
    case bfloat16: return 1.0 - 1.0 / 256.0;
    case float64: return std::nextafter(1.0, 0.0);
    default: return static_cast<double>(std::nextafter(1.0f, 0.0f));
  }
}

array random_map(const array& x, RandomMapOp op, SD s) {
  return array(x.shape(), x.dtype(), std::make_shared<RandomMap>(to_stream(s), op), {x});
}

// Uniform samples in [0, 1) of `dtype`. Below float64 they come from 32 bits: u = b * 2^-32
// in float32, rounded to dtype and clamped below 1 (rounding can reach 1). float64 uses 53
// of 64 bits.
array unit_uniform(const Shape& shape, Dtype dtype, const array& key, SD s) {
  if (dtype == float64) {
    array b = bits(shape, 8, key, s);
    array m = astype(right_shift(b, array(static_cast<uint64_t>(11)), s), float64, s);
    return multiply(m, array(std::ldexp(1.0, -53), float64), s);
  }
  array u = multiply(astype(bits(shape, 4, key, s), float32, s), array(std::ldexp(1.0f, -32)), s);
  u = astype(u, dtype, s);
  return minimum(u, array(one_below_one(dtype), dtype), s);
}

array uniform_impl(const array& low, const array& high, const Shape& shape, Dtype dtype, const array& key,
                   SD s, const char* op) {
  array lo = astype(low, dtype, s);
  array hi = astype(high, dtype, s);
  check_broadcasts_to(broadcast_shapes(lo.shape(), hi.shape(), op), shape, op, "low and high");
  array u = unit_uniform(shape, dtype, key, s);
  return add(lo, multiply(subtract(hi, lo, s), u, s), s);
}

// Uniform in (-1, 1) in float32, the input of the normal and Laplace samplers.
array symmetric_uniform(const Shape& shape, const array& key, SD s, const char* op) {
  return uniform_impl(array(std::nextafter(-1.0f, 0.0f)), array(1.0f), shape, float32, key, s, op);
}

}  // namespace

array key(uint64_t seed) {
  return array({static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed & 0xffffffffu)});
}

void seed(uint64_t seed) {
  auto& ks = global_keys();
  std::lock_guard<std::mutex> lock(ks.mu);
  ks.key = key(seed);
}

array next_key() {
  auto& ks = global_keys();
  std::lock_guard<std::mutex> lock(ks.mu);
  if (!ks.key) ks.key = key(clock_seed());
  auto [a, b] = split(*ks.key);
  ks.key = a;
  return b;
}

void check_key(const array& key, const char* op) {
  if (key.dtype() != uint32 || key.shape() != Shape{2})
    throw ValueError(msg("[", op, "] the key must be a uint32 array of shape (2,); got dtype=", key.dtype(),
                         ", shape=", key.shape(), "."));
}

array bits(const Shape& shape, int width, const OptKey& key, SD s) {
  Dtype dt;
  switch (width) {
    case 1: dt = uint8; break;
    case 2: dt = uint16; break;
    case 4: dt = uint32; break;
    case 8: dt = uint64; break;
    default: throw ValueError(msg("[bits] width must be 1, 2, 4 or 8 bytes; got ", width, "."));
  }
  check_shape(shape, "bits");
  array k = resolve(key, "bits");
  return array(shape, dt, std::make_shared<RandomBits>(to_stream(s), shape, width), {k});
}

array split(const array& key, int num, SD s) {
  check_key(key, "split");
  if (num < 0) throw ValueError(msg("[split] num must be non-negative; got ", num, "."));
  return bits({num, 2}, 4, key, s);
}

std::pair<array, array> split(const array& key, SD s) {
  array b = split(key, 2, s);
  return {reshape(slice(b, {0, 0}, {1, 2}, {1, 1}, s), {2}, s), reshape(slice(b, {1, 0}, {2, 2}, {1, 1}, s), {2}, s)};
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, const OptKey& key, SD s) {
  check_real_float(dtype, "uniform");
  check_shape(shape, "uniform");
  return uniform_impl(low, high, shape, dtype, resolve(key, "uniform"), s, "uniform");
}

array uniform(const Shape& shape, Dtype dtype, const OptKey& key, SD s) {
  return uniform(array(0.0f), array(1.0f), shape, dtype, key, s);
}

array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc, const std::optional<array>& scale,
             const OptKey& key, SD s) {
  if (!is_inexact(dtype))
    throw ValueError(msg("[normal] dtype must be a floating point or complex type; got ", dtype, "."));
  check_shape(shape, "normal");
  array k = resolve(key, "normal");
  array z;
  if (dtype == complex64) {
    // Real and imaginary parts are erfinv(u) = N(0, 1/2) samples, interleaved.
    Shape sh2 = shape;
    sh2.push_back(2);
    array e = random_map(symmetric_uniform(sh2, k, s, "normal"), RandomMapOp::ErfInv, s);
    z = reshape(view(e, complex64, s), shape, s);
    if (scale) z = multiply(z, *scale, s);
  } else {
    // erfinv runs in float32 for every dtype; sqrt(2) is folded into the scale first.
    z = astype(random_map(symmetric_uniform(shape, k, s, "normal"), RandomMapOp::ErfInv, s), dtype, s);
    array applied = array(M_SQRT2, dtype);
    if (scale) applied = multiply(applied, *scale, s);
    z = multiply(z, applied, s);
  }
  if (loc) z = add(z, *loc, s);
  return z;
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, const OptKey& key, SD s) {
  if (!is_integral(dtype) && dtype != bool_)
    throw ValueError(msg("[randint] dtype must be an integer or bool type; got ", dtype, "."));
  check_shape(shape, "randint");
  array k = resolve(key, "randint");
  array u = uniform_impl(low, high, shape, float32, k, s, "randint");
  // Clamped into [low, high - 1]: float32 rounding can land u on high.
  array top = subtract(high, astype(array(1), high.dtype(), s), s);
  return astype(maximum(minimum(floor(u, s), top, s), low, s), dtype, s);
}

array bernoulli(const array& p, const Shape& shape, const OptKey& key, SD s) {
  if (!is_floating_point(p.dtype()))
    throw ValueError(msg("[bernoulli] p must be a floating point array; got dtype ", p.dtype(), "."));
  check_shape(shape, "bernoulli");
  check_broadcasts_to(p.shape(), shape, "bernoulli", "p");
  array k = resolve(key, "bernoulli");
  return less(unit_uniform(shape, float32, k, s), p, s);
}

array bernoulli(const array& p, const OptKey& key, SD s) { return bernoulli(p, p.shape(), key, s); }

array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape, Dtype dtype,
                       const OptKey& key, SD s) {
  check_real_float(dtype, "truncated_normal");
  array lo = astype(lower, dtype, s);
  array hi = astype(upper, dtype, s);
  Shape bshape = broadcast_shapes(lo.shape(), hi.shape(), "truncated_normal");
  Shape out = shape ? *shape : bshape;
  check_shape(out, "truncated_normal");
  check_broadcasts_to(bshape, out, "truncated_normal", "lower and upper");
  array k = resolve(key, "truncated_normal");
  // Inverse CDF: u uniform in [Phi'(lower), Phi'(upper)) with Phi'(x) = erf(x / sqrt(2)).
  array sq = array(M_SQRT2, dtype);
  array a = erf(divide(lo, sq, s), s);
  array b = erf(divide(hi, sq, s), s);
  array u = uniform_impl(a, b, out, dtype, k, s, "truncated_normal");
  array z = multiply(random_map(u, RandomMapOp::ErfInv, s), sq, s);
  return minimum(maximum(z, lo, s), hi, s);
}

array gumbel(const Shape& shape, Dtype dtype, const OptKey& key, SD s) {
  check_real_float(dtype, "gumbel");
  check_shape(shape, "gumbel");
  array k = resolve(key, "gumbel");
  array u = uniform_impl(array(std::numeric_limits<float>::min()), array(1.0f), shape, dtype, k, s, "gumbel");
  return random_map(u, RandomMapOp::Gumbel, s);
}

array laplace(const Shape& shape, Dtype dtype, float loc, float scale, const OptKey& key, SD s) {
  check_real_float(dtype, "laplace");
  check_shape(shape, "laplace");
  array k = resolve(key, "laplace");
  array u = symmetric_uniform(shape, k, s, "laplace");
  // float64 samples keep the precision of the log; smaller types round the float32 result.
  if (dtype == float64) u = astype(u, float64, s);
  array z = astype(multiply(sign(u, s), log1p(negative(abs(u, s), s), s), s), dtype, s);
  return add(multiply(z, array(scale, dtype), s), array(loc, dtype), s);
}

}  // namespace mlx::core::random
