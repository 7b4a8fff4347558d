"""Parameter initializers: each returns a function mapping an array to a new
array of the same shape."""

import math
from typing import Callable, Literal

import mlx.core as mx


def constant(
    value: float, dtype: mx.Dtype = mx.float32
) -> Callable[[mx.array], mx.array]:
    """Initializer filling with ``value``.

    Example:
        >>> nn.init.constant(0.5)(mx.zeros((2, 2)))
    """

    def initializer(a: mx.array) -> mx.array:
        return mx.full(a.shape, value, dtype=dtype)

    return initializer


def normal(
    mean: float = 0.0, std: float = 1.0, dtype: mx.Dtype = mx.float32
) -> Callable[[mx.array], mx.array]:
    r"""Initializer sampling :math:`\mathcal{N}(\text{mean}, \text{std}^2)`."""

    def initializer(a: mx.array) -> mx.array:
        return mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)

    return initializer


def uniform(
    low: float = 0.0, high: float = 1.0, dtype: mx.Dtype = mx.float32
) -> Callable[[mx.array], mx.array]:
    r"""Initializer sampling :math:`\mathcal{U}(\text{low}, \text{high})`."""

    def initializer(a: mx.array) -> mx.array:
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return initializer


def identity(dtype: mx.Dtype = mx.float32) -> Callable[[mx.array], mx.array]:
    """Initializer giving the identity matrix (square 2-D arrays only)."""

    def initializer(arr: mx.array) -> mx.array:
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(
                "[identity] expected a square 2-D array; "
                f"got arr.shape={tuple(arr.shape)}."
            )
        return mx.eye(n=arr.shape[0], dtype=dtype)

    return initializer


def _fans(a: mx.array):
    """(fan_in, fan_out) of a weight laid out as ``(out, *receptive, in)``."""
    if a.ndim < 2:
        raise ValueError(
            "[init] fan in and fan out need at least 2 dimensions; "
            f"got a.shape={tuple(a.shape)}."
        )
    receptive = math.prod(a.shape[1:-1]) if a.ndim > 2 else 1
    return a.shape[-1] * receptive, a.shape[0] * receptive


def glorot_normal(
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array, float], mx.array]:
    r"""Glorot (Xavier) normal: :math:`\sigma = \gamma \sqrt{2 / (f_{in} + f_{out})}`."""

    def initializer(a: mx.array, gain: float = 1.0) -> mx.array:
        fan_in, fan_out = _fans(a)
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def glorot_uniform(
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array, float], mx.array]:
    r"""Glorot (Xavier) uniform on :math:`[-b, b]`,
    :math:`b = \gamma \sqrt{6 / (f_{in} + f_{out})}`."""

    def initializer(a: mx.array, gain: float = 1.0) -> mx.array:
        fan_in, fan_out = _fans(a)
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def he_normal(
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array, Literal["fan_in", "fan_out"], float], mx.array]:
    r"""He (Kaiming) normal: :math:`\sigma = \gamma / \sqrt{\text{fan}}`."""

    def initializer(
        a: mx.array,
        mode: Literal["fan_in", "fan_out"] = "fan_in",
        gain: float = 1.0,
    ) -> mx.array:
        fan = _select_fan(a, mode)
        std = gain / math.sqrt(fan)
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def he_uniform(
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array, Literal["fan_in", "fan_out"], float], mx.array]:
    r"""He (Kaiming) uniform on :math:`[-b, b]`, :math:`b = \gamma \sqrt{3/\text{fan}}`."""

    def initializer(
        a: mx.array,
        mode: Literal["fan_in", "fan_out"] = "fan_in",
        gain: float = 1.0,
    ) -> mx.array:
        fan = _select_fan(a, mode)
        limit = gain * math.sqrt(3.0 / fan)
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def _select_fan(a, mode):
    fan_in, fan_out = _fans(a)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"[init] mode must be 'fan_in' or 'fan_out'; got {mode!r}.")


def sparse(
    sparsity: float,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array], mx.array]:
    r"""Sparse initializer: normal values with ``ceil(sparsity * rows)`` zeros in
    each column of a 2-D array (Martens, 2010)."""

    def initializer(a: mx.array) -> mx.array:
        if a.ndim != 2:
            raise ValueError(
                f"[sparse] expected a 2-D array; got a.shape={tuple(a.shape)}."
            )
        rows, cols = a.shape
        num_zeros = int(math.ceil(sparsity * rows))
        values = mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)
        # A random permutation of each column's rows; the first num_zeros are zeroed.
        order = mx.argsort(mx.random.uniform(shape=a.shape), axis=0)
        rank = mx.argsort(order, axis=0)
        return mx.where(rank < num_zeros, mx.zeros_like(values), values)

    return initializer


def orthogonal(
    gain: float = 1.0, dtype: mx.Dtype = mx.float32
) -> Callable[[mx.array], mx.array]:
    r"""Orthogonal initializer: rows (or columns) are orthonormal, times ``gain``
    (Saxe et al., 2014). Uses the QR decomposition of a normal matrix."""

    def initializer(a: mx.array) -> mx.array:
        if a.ndim != 2:
            raise ValueError(
                f"[orthogonal] expected a 2-D array; got a.shape={tuple(a.shape)}."
            )
        rows, cols = a.shape
        n = max(rows, cols)
        m = mx.random.normal(shape=(n, n), dtype=mx.float32)
        q, r = mx.linalg.qr(m, stream=mx.cpu)
        # Fix the signs so that the result is uniformly distributed.
        q = q * mx.sign(mx.diag(r))
        q = q[:rows, :cols]
        return (gain * q).astype(dtype)

    return initializer
