"""Layers sharded over a distributed group. Without a launcher the group has one process,
so each layer holds the whole weight and the collectives are identities; the classes keep
programs written for distributed runs working unchanged on one process."""

import math

import mlx.core as mx
from mlx.nn.layers.base import Module
from mlx.nn.layers.linear import Linear
from mlx.nn.layers.quantized import QuantizedLinear


def _group(group):
    return group if group is not None else mx.distributed.init()


def _check_divisible(n, size, name, what):
    if n % size != 0:
        raise ValueError(f"[{name}] {what} ({n}) must be divisible by the group size; got size={size}.")


class AllToShardedLinear(Module):
    """A Linear layer whose output features are split across the group.

    Each process computes its slice of the outputs from the full input.
    """

    def __init__(self, input_dims, output_dims, bias=True, group=None):
        super().__init__()
        self.group = _group(group)
        n = self.group.size()
        _check_divisible(output_dims, n, "AllToShardedLinear", "output_dims")
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-scale, scale, (output_dims // n, input_dims))
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (output_dims // n,))

    def __call__(self, x):
        if x.shape[-1] != self.weight.shape[1]:
            raise ValueError(f"[AllToShardedLinear] expected last dimension {self.weight.shape[1]}; got x.shape={x.shape}.")
        y = x @ self.weight.T
        return y + self["bias"] if "bias" in self else y

    @classmethod
    def from_linear(cls, linear, group=None):
        g = _group(group)
        out_dims, in_dims = linear.weight.shape
        layer = cls(in_dims, out_dims, "bias" in linear, group=g)
        n, r = g.size(), g.rank()
        step = out_dims // n
        layer.weight = linear.weight[r * step : (r + 1) * step]
        if "bias" in linear:
            layer.bias = linear.bias[r * step : (r + 1) * step]
        return layer


class ShardedToAllLinear(Module):
    """A Linear layer whose input features are split across the group; partial products are
    summed over the group so every process gets the full output."""

    def __init__(self, input_dims, output_dims, bias=True, group=None):
        super().__init__()
        self.group = _group(group)
        n = self.group.size()
        _check_divisible(input_dims, n, "ShardedToAllLinear", "input_dims")
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-scale, scale, (output_dims, input_dims // n))
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (output_dims,))

    def __call__(self, x):
        if x.shape[-1] != self.weight.shape[1]:
            raise ValueError(f"[ShardedToAllLinear] expected last dimension {self.weight.shape[1]}; got x.shape={x.shape}.")
        y = mx.distributed.all_sum(x @ self.weight.T, group=self.group)
        return y + self["bias"] if "bias" in self else y

    @classmethod
    def from_linear(cls, linear, group=None):
        g = _group(group)
        out_dims, in_dims = linear.weight.shape
        layer = cls(in_dims, out_dims, "bias" in linear, group=g)
        n, r = g.size(), g.rank()
        step = in_dims // n
        layer.weight = linear.weight[:, r * step : (r + 1) * step]
        if "bias" in linear:
            layer.bias = linear.bias
        return layer


class QuantizedAllToShardedLinear(QuantizedLinear):
    """The quantized form of :class:`AllToShardedLinear`."""

    def __init__(self, input_dims, output_dims, bias=True, group_size=None, bits=None, mode="affine", group=None):
        self_group = _group(group)
        _check_divisible(output_dims, self_group.size(), "QuantizedAllToShardedLinear", "output_dims")
        super().__init__(input_dims, output_dims // self_group.size(), bias, group_size, bits, mode)
        self.group = self_group

    @classmethod
    def from_quantized_linear(cls, layer, group=None):
        g = _group(group)
        if g.size() != 1:
            raise ValueError("[QuantizedAllToShardedLinear] sharding a quantized layer needs the group size 1 here; "
                             f"got size={g.size()}.")
        layer.group = g
        layer.__class__ = cls
        return layer


class QuantizedShardedToAllLinear(QuantizedLinear):
    """The quantized form of :class:`ShardedToAllLinear`."""

    def __init__(self, input_dims, output_dims, bias=True, group_size=None, bits=None, mode="affine", group=None):
        self_group = _group(group)
        _check_divisible(input_dims, self_group.size(), "QuantizedShardedToAllLinear", "input_dims")
        super().__init__(input_dims // self_group.size(), output_dims, bias, group_size, bits, mode)
        self.group = self_group

    def __call__(self, x):
        return mx.distributed.all_sum(super().__call__(x), group=self.group)

    @classmethod
    def from_quantized_linear(cls, layer, group=None):
        g = _group(group)
        if g.size() != 1:
            raise ValueError("[QuantizedShardedToAllLinear] sharding a quantized layer needs the group size 1 here; "
                             f"got size={g.size()}.")
        layer.group = g
        layer.__class__ = cls
        return layer


class FullyShardedModule(Module):
    """Wraps a module whose parameters are sharded over the group (FSDP style). With one
    process every parameter is local, so calls go straight to the wrapped module."""

    def __init__(self, module, group=None):
        super().__init__()
        self.module = module
        self.group = _group(group)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def shard_linear(module, sharding, *, segments=1, group=None):
    """Returns the sharded form of a Linear or QuantizedLinear layer.

    Args:
        sharding (str): ``"all-to-sharded"`` or ``"sharded-to-all"``.
    """
    table = {
        ("all-to-sharded", Linear): AllToShardedLinear.from_linear,
        ("sharded-to-all", Linear): ShardedToAllLinear.from_linear,
        ("all-to-sharded", QuantizedLinear): QuantizedAllToShardedLinear.from_quantized_linear,
        ("sharded-to-all", QuantizedLinear): QuantizedShardedToAllLinear.from_quantized_linear,
    }
    for (name, typ), fn in table.items():
        if sharding == name and isinstance(module, typ):
            return fn(module, group=group)
    raise ValueError(f"[shard_linear] unsupported sharding or layer; got sharding={sharding!r}, "
                     f"layer={type(module).__name__}.")


def shard_inplace(module, sharding, *, segments=1, group=None):
    """Shards the parameters of module in place. With one process nothing moves."""
    g = _group(group)
    if sharding not in ("all-to-sharded", "sharded-to-all") and not callable(sharding):
        raise ValueError(f"[shard_inplace] unsupported sharding; got {sharding!r}.")
    if g.size() == 1:
        return module
    raise ValueError(f"[shard_inplace] only the single-process group is available; got size={g.size()}.")


def fully_shard(module, group=None):
    """Returns module wrapped in a :class:`FullyShardedModule`."""
    return FullyShardedModule(module, group=group)
