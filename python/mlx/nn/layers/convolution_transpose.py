"""Transposed convolution layers over channels-last input."""

import math
from typing import Union

import mlx.core as mx
from mlx.nn.layers.base import Module
from mlx.nn.layers.convolution import _check_input, _ntuple


class _ConvTransposeNd(Module):
    _nd = 0

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        output_padding,
        bias,
    ):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        kernel_size = _ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = _ntuple(stride, nd, "stride", name)
        self.padding = _ntuple(padding, nd, "padding", name)
        self.dilation = _ntuple(dilation, nd, "dilation", name)
        self.output_padding = _ntuple(output_padding, nd, "output_padding", name)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"[{name}] output_padding must be smaller than stride or "
                    f"dilation; got output_padding={self.output_padding}, "
                    f"stride={self.stride}, dilation={self.dilation}."
                )
        scale = math.sqrt(1 / (in_channels * math.prod(kernel_size)))
        self.weight = mx.random.uniform(
            low=-scale, high=scale, shape=(out_channels, *kernel_size, in_channels)
        )
        if bias:
            self.bias = mx.zeros((out_channels,))

    def _extra_repr(self):
        w = self.weight
        return (
            f"{w.shape[-1]}, {w.shape[0]}, kernel_size={tuple(w.shape[1:-1])}, "
            f"stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, output_padding={self.output_padding}, "
            f"bias={'bias' in self}"
        )

    def __call__(self, x):
        _check_input(type(self).__name__, x, self._nd, self.weight.shape[-1])
        unbatched = x.ndim == self._nd + 1
        if unbatched:
            x = mx.expand_dims(x, 0)
        op = {
            1: mx.conv_transpose1d,
            2: mx.conv_transpose2d,
            3: mx.conv_transpose3d,
        }[self._nd]
        if self._nd == 1:
            args = (
                self.stride[0],
                self.padding[0],
                self.dilation[0],
                self.output_padding[0],
            )
        else:
            args = (self.stride, self.padding, self.dilation, self.output_padding)
        y = op(x, self.weight, *args)
        if "bias" in self:
            y = y + self.bias
        return y[0] if unbatched else y


class ConvTranspose1d(_ConvTransposeNd):
    r"""1-D transposed convolution over input ``(N, L, C_in)``.

    ``weight`` has shape ``(C_out, K, C_in)``. The output length is
    ``(L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size.
        stride (int): Default: ``1``.
        padding (int): Default: ``0``.
        dilation (int): Default: ``1``.
        output_padding (int): Extra size added to one side of the output.
            Default: ``0``.
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
        output_padding: int = 0,
        bias: bool = True,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            bias,
        )


class ConvTranspose2d(_ConvTransposeNd):
    r"""2-D transposed convolution over input ``(N, H, W, C_in)``.

    ``weight`` has shape ``(C_out, KH, KW, C_in)``. Arguments as
    :class:`ConvTranspose1d`, each an int or a pair.
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
        output_padding: Union[int, tuple] = 0,
        bias: bool = True,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            bias,
        )


class ConvTranspose3d(_ConvTransposeNd):
    r"""3-D transposed convolution over input ``(N, D, H, W, C_in)``.

    ``weight`` has shape ``(C_out, KD, KH, KW, C_in)``. Arguments as
    :class:`ConvTranspose1d`, each an int or a triple.
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
        output_padding: Union[int, tuple] = 0,
        bias: bool = True,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            bias,
        )
