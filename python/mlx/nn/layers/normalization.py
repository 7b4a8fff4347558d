"""Normalization layers: LayerNorm, RMSNorm, GroupNorm, InstanceNorm, BatchNorm."""

import math

import mlx.core as mx
from mlx.nn.layers.base import Module


def _fast(name):
    """Return ``mx.fast.<name>`` when the core provides it, else ``None``."""
    fast = getattr(mx, "fast", None)
    return getattr(fast, name, None) if fast is not None else None


def _check_last_dim(layer, x, dims):
    if x.ndim == 0 or x.shape[-1] != dims:
        raise ValueError(
            f"[{layer}] expected last dimension {dims}; got x.shape={tuple(x.shape)}."
        )


def _normalize(x, axes, eps):
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, accumulated in float32."""
    dtype = x.dtype
    if dtype in (mx.float16, mx.bfloat16):
        x = x.astype(mx.float32)
    mean = mx.mean(x, axis=axes, keepdims=True)
    var = mx.var(x, axis=axes, keepdims=True)
    return ((x - mean) * mx.rsqrt(var + eps)).astype(dtype)


def layer_norm(x, weight, bias, eps):
    """Layer norm over the last axis with optional affine ``weight`` and ``bias``."""
    fast = _fast("layer_norm")
    if fast is not None:
        return fast(x, weight, bias, eps)
    y = _normalize(x, -1, eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(x, weight, eps):
    """RMS norm over the last axis with optional ``weight``."""
    fast = _fast("rms_norm")
    if fast is not None:
        return fast(x, weight, eps)
    dtype = x.dtype
    xf = x.astype(mx.float32) if dtype in (mx.float16, mx.bfloat16) else x
    y = (xf * mx.rsqrt(mx.mean(mx.square(xf), axis=-1, keepdims=True) + eps)).astype(
        dtype
    )
    return y * weight if weight is not None else y


class LayerNorm(Module):
    r"""Layer normalization over the last axis.

    .. math:: y = \frac{x - E[x]}{\sqrt{Var[x] + \epsilon}} \gamma + \beta

    Args:
        dims (int): Size of the last axis.
        eps (float): Added to the variance. Default: ``1e-5``.
        affine (bool): Learn ``weight`` (:math:`\gamma`). Default: ``True``.
        bias (bool): With ``affine``, also learn ``bias`` (:math:`\beta`).
            Default: ``True``.
    """

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = True, bias=True):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.eps = eps
        self.dims = dims

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        _check_last_dim("LayerNorm", x, self.dims)
        return layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class RMSNorm(Module):
    r"""Root mean square normalization over the last axis.

    .. math:: y = \frac{x}{\sqrt{E[x^2] + \epsilon}} \gamma

    Args:
        dims (int): Size of the last axis.
        eps (float): Added to the mean square. Default: ``1e-5``.
    """

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        _check_last_dim("RMSNorm", x, self.weight.shape[0])
        return rms_norm(x, self["weight"], self.eps)


class GroupNorm(Module):
    r"""Group normalization over channels-last input ``(N, ..., C)``.

    Statistics are taken over the spatial axes and the channels of each group.
    By default channel ``c`` is in group ``c % num_groups``; with
    ``pytorch_compatible=True`` groups are contiguous (``c // (C / num_groups)``).

    Args:
        num_groups (int): Number of groups; must divide ``dims``.
        dims (int): Number of channels.
        eps (float): Default: ``1e-5``.
        affine (bool): Learn per-channel ``weight`` and ``bias``. Default: ``True``.
        pytorch_compatible (bool): Use contiguous groups. Default: ``False``.
    """

    def __init__(
        self,
        num_groups: int,
        dims: int,
        eps: float = 1e-5,
        affine: bool = True,
        pytorch_compatible: bool = False,
    ):
        super().__init__()
        if dims % num_groups != 0:
            raise ValueError(
                f"[GroupNorm] dims must be divisible by num_groups; "
                f"got dims={dims}, num_groups={num_groups}."
            )
        if affine:
            self.bias = mx.zeros((dims,))
            self.weight = mx.ones((dims,))
        self.num_groups = num_groups
        self.dims = dims
        self.eps = eps
        self.pytorch_compatible = pytorch_compatible

    def _extra_repr(self):
        return (
            f"{self.num_groups}, {self.dims}, eps={self.eps}, "
            f"affine={'weight' in self}, pytorch_compatible={self.pytorch_compatible}"
        )

    def __call__(self, x):
        _check_last_dim("GroupNorm", x, self.dims)
        if x.ndim < 2:
            raise ValueError(
                f"[GroupNorm] expected a batched input (N, ..., C); "
                f"got x.shape={tuple(x.shape)}."
            )
        shape = x.shape
        batch, groups = shape[0], self.num_groups
        size = self.dims // groups
        if self.pytorch_compatible:
            y = x.reshape(batch, -1, groups, size)
            y = _normalize(y, (1, 3), self.eps)
        else:
            y = x.reshape(batch, -1, size, groups)
            y = _normalize(y, (1, 2), self.eps)
        y = y.reshape(shape)
        if "weight" in self:
            y = y * self.weight + self.bias
        return y


class InstanceNorm(Module):
    r"""Instance normalization: normalize each channel of each sample over the
    spatial axes of channels-last input ``(N, ..., C)``.

    Args:
        dims (int): Number of channels.
        eps (float): Default: ``1e-5``.
        affine (bool): Learn per-channel ``weight`` and ``bias``. Default: ``False``.
    """

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = False):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims = dims
        self.eps = eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x: mx.array) -> mx.array:
        _check_last_dim("InstanceNorm", x, self.dims)
        if x.ndim < 3:
            raise ValueError(
                "[InstanceNorm] expected an input (N, ..., C) with a spatial axis; "
                f"got x.shape={tuple(x.shape)}."
            )
        y = _normalize(x, tuple(range(1, x.ndim - 1)), self.eps)
        if "weight" in self:
            y = y * self.weight + self.bias
        return y


class BatchNorm(Module):
    r"""Batch normalization over channels-last input ``(N, C)``, ``(N, L, C)``,
    ``(N, H, W, C)`` or ``(N, D, H, W, C)``.

    In training the batch statistics are used and the running statistics
    (``running_mean``, ``running_var``; frozen, not trained) are updated as
    ``running = (1 - momentum) * running + momentum * batch``. In eval mode the
    running statistics are used.

    Args:
        num_features (int): Number of channels.
        eps (float): Default: ``1e-5``.
        momentum (float): Update rate of the running statistics. Default: ``0.1``.
        affine (bool): Learn ``weight`` and ``bias``. Default: ``True``.
        track_running_stats (bool): Keep running statistics. Default: ``True``.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        if track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        """Unfreeze as :meth:`Module.unfreeze`; the running statistics stay frozen."""
        super().unfreeze(*args, **kwargs)
        if self.track_running_stats:
            self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={'weight' in self}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def __call__(self, x: mx.array) -> mx.array:
        if x.ndim < 2 or x.ndim > 5:
            raise ValueError(
                "[BatchNorm] expected an input with 2 to 5 dimensions; "
                f"got x.shape={tuple(x.shape)}."
            )
        _check_last_dim("BatchNorm", x, self.num_features)
        axes = tuple(range(x.ndim - 1))
        if self.training or not self.track_running_stats:
            mean = mx.mean(x, axis=axes)
            var = mx.var(x, axis=axes)
            if self.training and self.track_running_stats:
                mu = self.momentum
                n = math.prod(x.shape[:-1])
                # The running variance is the unbiased estimate, as in PyTorch.
                unbiased = var * (n / max(n - 1, 1))
                self.running_mean = (1 - mu) * self.running_mean + mu * mean
                self.running_var = (1 - mu) * self.running_var + mu * unbiased
        else:
            mean = self.running_mean
            var = self.running_var
        y = (x - mean) * mx.rsqrt(var + self.eps)
        if "weight" in self:
            y = self.weight * y + self.bias
        return y
