"""Convolution layers over channels-last input."""

import math
from typing import Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _ntuple(value, n, name, layer):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"[{layer}] {name} must be an int or {n} ints; got {value}.")
    return value


def _check_input(layer, x, ndim_spatial, in_channels):
    if x.ndim not in (ndim_spatial + 1, ndim_spatial + 2):
        raise ValueError(
            f"[{layer}] expected an input with {ndim_spatial + 2} dimensions "
            f"(N, {'spatial, ' * ndim_spatial}C) or {ndim_spatial + 1} without "
            f"the batch; got x.shape={tuple(x.shape)}."
        )
    if x.shape[-1] != in_channels:
        raise ValueError(
            f"[{layer}] expected last dimension {in_channels}; "
            f"got x.shape={tuple(x.shape)}."
        )


class _ConvNd(Module):
    _nd = 0
    _op = None

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        bias,
    ):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        if in_channels % groups != 0 or out_channels % groups != 0:
            raise ValueError(
                f"[{name}] in_channels and out_channels must be divisible by groups; "
                f"got in_channels={in_channels}, out_channels={out_channels}, "
                f"groups={groups}."
            )
        kernel_size = _ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = _ntuple(stride, nd, "stride", name)
        self.padding = _ntuple(padding, nd, "padding", name)
        self.dilation = _ntuple(dilation, nd, "dilation", name)
        self.groups = groups
        scale = math.sqrt(1 / (in_channels * math.prod(kernel_size)))
        self.weight = mx.random.uniform(
            low=-scale,
            high=scale,
            shape=(out_channels, *kernel_size, in_channels // groups),
        )
        if bias:
            self.bias = mx.zeros((out_channels,))

    def _extra_repr(self):
        w = self.weight
        in_ch = w.shape[-1] * self.groups
        return (
            f"{in_ch}, {w.shape[0]}, kernel_size={tuple(w.shape[1:-1])}, "
            f"stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, groups={self.groups}, bias={'bias' in self}"
        )

    def __call__(self, x):
        _check_input(
            type(self).__name__, x, self._nd, self.weight.shape[-1] * self.groups
        )
        unbatched = x.ndim == self._nd + 1
        if unbatched:
            x = mx.expand_dims(x, 0)
        y = mx.conv_general(
            x,
            self.weight,
            stride=list(self.stride),
            padding=list(self.padding),
            kernel_dilation=list(self.dilation),
            groups=self.groups,
        )
        if "bias" in self:
            y = y + self.bias
        return y[0] if unbatched else y


class Conv1d(_ConvNd):
    r"""1-D convolution over input ``(N, L, C_in)`` (or ``(L, C_in)``).

    ``weight`` has shape ``(C_out, K, C_in / groups)``, initialized from
    :math:`\mathcal{U}(-k, k)` with :math:`k = 1/\sqrt{C_{in} K}`; ``bias`` is zero.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size.
        stride (int): Default: ``1``.
        padding (int): Zero padding on both sides. Default: ``0``.
        dilation (int): Kernel dilation. Default: ``1``.
        groups (int): Channel groups. Default: ``1``.
        bias (bool): Default: ``True``.
    """

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
        )


class Conv2d(_ConvNd):
    r"""2-D convolution over input ``(N, H, W, C_in)`` (or ``(H, W, C_in)``).

    ``weight`` has shape ``(C_out, KH, KW, C_in / groups)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int or tuple): Kernel size.
        stride (int or tuple): Default: ``1``.
        padding (int or tuple): Zero padding. Default: ``0``.
        dilation (int or tuple): Kernel dilation. Default: ``1``.
        groups (int): Channel groups. Default: ``1``.
        bias (bool): Default: ``True``.
    """

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, tuple],
        stride: Union[int, tuple] = 1,
        padding: Union[int, tuple] = 0,
        dilation: Union[int, tuple] = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
        )


class Conv3d(_ConvNd):
    r"""3-D convolution over input ``(N, D, H, W, C_in)`` (or without ``N``).

    ``weight`` has shape ``(C_out, KD, KH, KW, C_in)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int or tuple): Kernel size.
        stride (int or tuple): Default: ``1``.
        padding (int or tuple): Zero padding. Default: ``0``.
        dilation (int or tuple): Kernel dilation. Default: ``1``.
        bias (bool): Default: ``True``.
    """

    _nd = 3

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, tuple],
        stride: Union[int, tuple] = 1,
        padding: Union[int, tuple] = 0,
        dilation: Union[int, tuple] = 1,
        bias: bool = True,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, 1, bias
        )
