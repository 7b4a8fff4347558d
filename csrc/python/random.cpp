// Bindings of mx.random. The global key lives in the Python list mx.random.state (as in
// MLX), so compile(inputs=mx.random.state, outputs=mx.random.state) can capture it.
// categorical, permutation and multivariate_normal are in python/mlx/_random.py.
#include <chrono>

#include "convert.h"
#include "mlx/ops/random.h"

using namespace nb::literals;

namespace {

// Borrowed: the submodule lives as long as mlx.core, and a static owning reference would be
// released after the interpreter has finalized.
nb::handle& random_module() {
  static nb::handle m;
  return m;
}

// Splits mx.random.state[0] into (new state, returned key).
array next_state_key() {
  nb::object st = random_module().attr("state");
  array k = nb::cast<array>(st[0]);
  auto [a, b] = random::split(k);
  st[0] = nb::cast(a);
  return b;
}

array key_or_next(const std::optional<array>& key) { return key ? *key : next_state_key(); }

Shape to_shape(const std::vector<int>& v) { return Shape(v.begin(), v.end()); }

uint64_t clock_seed() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

void init_random(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("random", "Random number generation with explicit or global keys.");
  random_module() = m;
  nb::list state;
  state.append(nb::cast(random::key(clock_seed())));
  m.attr("state") = state;

  m.def("key", [](uint64_t seed) { return random::key(seed); }, "seed"_a,
        nb::sig("def key(seed: int) -> array"),
        R"(Get a PRNG key from a seed.

Args:
    seed (int): Seed for the PRNG.

Returns:
    array: The PRNG key array, uint32 of shape ``(2,)``.)");
  m.def("seed", [](uint64_t seed) {
        random::seed(seed);
        random_module().attr("state")[0] = nb::cast(random::key(seed));
      }, "seed"_a, nb::sig("def seed(seed: int) -> None"),
      R"(Seed the global PRNG.

Args:
    seed (int): Seed for the global PRNG.)");
  m.def("split", [](const array& key, int num, StreamArg s) { return random::split(key, num, sd(s)); },
        "key"_a, "num"_a = 2, "stream"_a = nb::none(),
        nb::sig("def split(key: array, num: int = 2, stream: Union[None, Stream, Device] = None) -> array"),
        R"(Split a PRNG key into sub keys.

Args:
    key (array): Input key to split.
    num (int, optional): Number of sub keys. Default: ``2``.

Returns:
    array: The array of sub keys with ``num`` as its first dimension.)");
  m.def("bits", [](const std::vector<int>& shape, int width, std::optional<array> key, StreamArg s) {
        return random::bits(to_shape(shape), width, key_or_next(key), sd(s));
      }, "shape"_a = std::vector<int>{}, "width"_a = 4, "key"_a = nb::none(), "stream"_a = nb::none(),
      nb::sig("def bits(shape: Sequence[int] = [], width: int = 4, key: Optional[array] = None, "
              "stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate arrays of random bits.

Args:
    shape (list(int), optional): Shape of the output. Default: ``()``.
    width (int, optional): Bytes per element: 1, 2, 4 or 8 (uint8 ... uint64). Default: ``4``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: An array of random integers.)");
  m.def("uniform", [](nb::handle low, nb::handle high, const std::vector<int>& shape, std::optional<Dtype> dtype,
                      std::optional<array> key, StreamArg s) {
        Dtype t = dtype.value_or(float32);
        return random::uniform(to_array_with(low, t), to_array_with(high, t), to_shape(shape), t, key_or_next(key),
                               sd(s));
      }, "low"_a = 0, "high"_a = 1, "shape"_a = std::vector<int>{}, "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(),
      nb::sig("def uniform(low: Union[scalar, array] = 0, high: Union[scalar, array] = 1, "
              "shape: Sequence[int] = [], dtype: Optional[Dtype] = float32, key: Optional[array] = None, "
              "stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate uniformly distributed random numbers in ``[low, high)``.

The bounds can be scalars or arrays and must broadcast to ``shape``.

Args:
    low (scalar or array, optional): Lower bound. Default: ``0``.
    high (scalar or array, optional): Upper bound. Default: ``1``.
    shape (list(int), optional): Shape of the output. Default: ``()``.
    dtype (Dtype, optional): Type of the output. Default: ``float32``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The output array of random values.

Example:
    >>> mx.random.uniform(-1, 1, (2, 3), key=mx.random.key(0))
)");
  m.def("normal", [](const std::vector<int>& shape, std::optional<Dtype> dtype, nb::handle loc, nb::handle scale,
                     std::optional<array> key, StreamArg s) {
        Dtype t = dtype.value_or(float32);
        std::optional<array> l, sc;
        if (!loc.is_none()) l = to_array_with(loc, t);
        if (!scale.is_none()) sc = to_array_with(scale, t);
        return random::normal(to_shape(shape), t, l, sc, key_or_next(key), sd(s));
      }, "shape"_a = std::vector<int>{}, "dtype"_a = nb::none(), "loc"_a = nb::none(), "scale"_a = nb::none(),
      "key"_a = nb::none(), "stream"_a = nb::none(),
      nb::sig("def normal(shape: Sequence[int] = [], dtype: Optional[Dtype] = float32, "
              "loc: Union[scalar, array, None] = None, scale: Union[scalar, array, None] = None, "
              "key: Optional[array] = None, stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate normally distributed random numbers.

Without ``loc`` and ``scale`` the standard normal distribution is used; for complex64 the
real and imaginary parts are each N(0, 1/2).

Args:
    shape (list(int), optional): Shape of the output. Default: ``()``.
    dtype (Dtype, optional): Type of the output. Default: ``float32``.
    loc (scalar or array, optional): Mean of the distribution. Default: ``None``.
    scale (scalar or array, optional): Standard deviation. Default: ``None``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The output array of random values.)");
  m.def("randint", [](nb::handle low, nb::handle high, const std::vector<int>& shape, std::optional<Dtype> dtype,
                      std::optional<array> key, StreamArg s) {
        Dtype t = dtype.value_or(int32);
        return random::randint(to_array_with(low, t), to_array_with(high, t), to_shape(shape), t, key_or_next(key),
                               sd(s));
      }, "low"_a, "high"_a, "shape"_a = std::vector<int>{}, "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(),
      nb::sig("def randint(low: Union[scalar, array], high: Union[scalar, array], shape: Sequence[int] = [], "
              "dtype: Optional[Dtype] = int32, key: Optional[array] = None, "
              "stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate random integers from the discrete uniform distribution on ``[low, high)``.

Args:
    low (scalar or array): Lower bound (inclusive).
    high (scalar or array): Upper bound (exclusive).
    shape (list(int), optional): Shape of the output. Default: ``()``.
    dtype (Dtype, optional): Integer type of the output. Default: ``int32``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The array of random integers.)");
  m.def("bernoulli", [](nb::handle p_, std::optional<std::vector<int>> shape, std::optional<array> key,
                        StreamArg s) {
        array p = to_array(p_);
        Shape sh = shape ? to_shape(*shape) : p.shape();
        return random::bernoulli(p, sh, key_or_next(key), sd(s));
      }, "p"_a = 0.5, "shape"_a = nb::none(), "key"_a = nb::none(), "stream"_a = nb::none(),
      nb::sig("def bernoulli(p: Union[scalar, array] = 0.5, shape: Optional[Sequence[int]] = None, "
              "key: Optional[array] = None, stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate Bernoulli random values: True with probability ``p``.

Args:
    p (float or array, optional): Probability of True. Default: ``0.5``.
    shape (list(int), optional): Shape of the output; ``p.shape`` when ``None``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: A boolean array.)");
  m.def("truncated_normal", [](nb::handle lower, nb::handle upper, std::optional<std::vector<int>> shape,
                               std::optional<Dtype> dtype, std::optional<array> key, StreamArg s) {
        Dtype t = dtype.value_or(float32);
        std::optional<Shape> sh;
        if (shape) sh = to_shape(*shape);
        return random::truncated_normal(to_array_with(lower, t), to_array_with(upper, t), sh, t, key_or_next(key),
                                        sd(s));
      }, "lower"_a, "upper"_a, "shape"_a = nb::none(), "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(),
      nb::sig("def truncated_normal(lower: Union[scalar, array], upper: Union[scalar, array], "
              "shape: Optional[Sequence[int]] = None, dtype: Optional[Dtype] = float32, "
              "key: Optional[array] = None, stream: Union[None, Stream, Device] = None) -> array"),
      R"(Generate values from a truncated normal distribution on ``[lower, upper]``.

Args:
    lower (scalar or array): Lower bound of the domain.
    upper (scalar or array): Upper bound of the domain.
    shape (list(int), optional): Shape of the output; the broadcast shape of the bounds when ``None``.
    dtype (Dtype, optional): Type of the output. Default: ``float32``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The output array of random values.)");
  m.def("gumbel", [](const std::vector<int>& shape, std::optional<Dtype> dtype, std::optional<array> key,
                     StreamArg s) {
        return random::gumbel(to_shape(shape), dtype.value_or(float32), key_or_next(key), sd(s));
      }, "shape"_a = std::vector<int>{}, "dtype"_a = nb::none(), "key"_a = nb::none(), "stream"_a = nb::none(),
      nb::sig("def gumbel(shape: Sequence[int] = [], dtype: Optional[Dtype] = float32, "
              "key: Optional[array] = None, stream: Union[None, Stream, Device] = None) -> array"),
      R"(Sample from the standard Gumbel distribution.

Args:
    shape (list(int), optional): Shape of the output. Default: ``()``.
    dtype (Dtype, optional): Type of the output. Default: ``float32``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The random samples.)");
  m.def("laplace", [](const std::vector<int>& shape, std::optional<Dtype> dtype, float loc, float scale,
                      std::optional<array> key, StreamArg s) {
        return random::laplace(to_shape(shape), dtype.value_or(float32), loc, scale, key_or_next(key), sd(s));
      }, "shape"_a = std::vector<int>{}, "dtype"_a = nb::none(), "loc"_a = 0.0f, "scale"_a = 1.0f,
      "key"_a = nb::none(), "stream"_a = nb::none(),
      nb::sig("def laplace(shape: Sequence[int] = [], dtype: Optional[Dtype] = float32, loc: float = 0.0, "
              "scale: float = 1.0, key: Optional[array] = None, "
              "stream: Union[None, Stream, Device] = None) -> array"),
      R"(Sample numbers from a Laplace distribution.

Args:
    shape (list(int), optional): Shape of the output. Default: ``()``.
    dtype (Dtype, optional): Type of the output. Default: ``float32``.
    loc (float, optional): Mean of the distribution. Default: ``0.0``.
    scale (float, optional): The scale "b" of the distribution. Default: ``1.0``.
    key (array, optional): A PRNG key. Default: ``None``.

Returns:
    array: The output array of random values.)");
}
