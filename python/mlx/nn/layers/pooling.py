"""Max and average pooling over channels-last input."""

import operator
from functools import reduce
from typing import Optional, Tuple, Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _ntuple(value, n, name, layer):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"[{layer}] {name} must be an int or {n} ints; got {value}.")
    return value


class _Pool(Module):
    _nd = 0
    _reduce = None  # "max" or "avg"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        self.kernel_size = _ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = _ntuple(
            stride if stride is not None else self.kernel_size, nd, "stride", name
        )
        self.padding = _ntuple(padding or 0, nd, "padding", name)
        for k, s, p in zip(self.kernel_size, self.stride, self.padding):
            if k < 1 or s < 1 or p < 0:
                raise ValueError(
                    f"[{name}] kernel_size and stride must be positive and padding "
                    f"non-negative; got kernel_size={self.kernel_size}, "
                    f"stride={self.stride}, padding={self.padding}."
                )

    def _extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )

    def __call__(self, x):
        name = type(self).__name__
        nd = self._nd
        if x.ndim not in (nd + 1, nd + 2):
            raise ValueError(
                f"[{name}] expected an input with {nd + 2} dimensions "
                f"(N, {'spatial, ' * nd}C) or {nd + 1} without the batch; "
                f"got x.shape={tuple(x.shape)}."
            )
        unbatched = x.ndim == nd + 1
        if unbatched:
            x = mx.expand_dims(x, 0)
        if any(self.padding):
            pad_value = -float("inf") if self._reduce == "max" else 0
            if self._reduce == "max" and not mx.issubdtype(x.dtype, mx.inexact):
                pad_value = mx.iinfo(x.dtype).min
            widths = [(0, 0)] + [(p, p) for p in self.padding] + [(0, 0)]
            x = mx.pad(x, widths, constant_values=pad_value)
        spatial = x.shape[1:-1]
        out = [
            (n - k) // s + 1 for n, k, s in zip(spatial, self.kernel_size, self.stride)
        ]
        if any(o < 1 for o in out):
            raise ValueError(
                f"[{name}] the padded input is smaller than the kernel; got "
                f"x.shape={tuple(x.shape)}, kernel_size={self.kernel_size}."
            )
        # Combine one strided slice per kernel offset: no window tensor is built.
        acc = None
        for offset in _offsets(self.kernel_size):
            index = (slice(None),)
            for o, n_out, s in zip(offset, out, self.stride):
                index += (slice(o, o + (n_out - 1) * s + 1, s),)
            window = x[index]
            if acc is None:
                acc = window
            elif self._reduce == "max":
                acc = mx.maximum(acc, window)
            else:
                acc = acc + window
        if self._reduce == "avg":
            acc = acc / reduce(operator.mul, self.kernel_size, 1)
        return acc[0] if unbatched else acc


def _offsets(kernel_size):
    if not kernel_size:
        yield ()
        return
    for i in range(kernel_size[0]):
        for rest in _offsets(kernel_size[1:]):
            yield (i,) + rest


_DOC = r"""{kind} pooling over {nd}-D channels-last input ``(N, {dims}, C)``.

Each output is the {what} of a window of size ``kernel_size`` moved by
``stride``; the input is padded with ``padding`` {padval} on both sides of each
spatial axis. The output size along an axis is
``(n + 2 * padding - kernel_size) // stride + 1``.

Args:
    kernel_size (int or tuple): The window size.
    stride (int or tuple, optional): Default: ``kernel_size``.
    padding (int or tuple): Default: ``0``.
"""


def _make(name, nd, kind):
    dims = ", ".join(["L"] if nd == 1 else (["H", "W"] if nd == 2 else ["D", "H", "W"]))

    def __init__(
        self,
        kernel_size: Union[int, Tuple[int, ...]],
        stride: Optional[Union[int, Tuple[int, ...]]] = None,
        padding: Union[int, Tuple[int, ...]] = 0,
    ):
        _Pool.__init__(self, kernel_size, stride, padding)

    cls = type(name, (_Pool,), {"_nd": nd, "_reduce": kind, "__init__": __init__})
    cls.__module__ = __name__
    cls.__qualname__ = name
    cls.__doc__ = _DOC.format(
        kind="Max" if kind == "max" else "Average",
        nd=nd,
        dims=dims,
        what="maximum" if kind == "max" else "mean (counting padding)",
        padval="-inf values" if kind == "max" else "zeros",
    )
    return cls


MaxPool1d = _make("MaxPool1d", 1, "max")
MaxPool2d = _make("MaxPool2d", 2, "max")
MaxPool3d = _make("MaxPool3d", 3, "max")
AvgPool1d = _make("AvgPool1d", 1, "avg")
AvgPool2d = _make("AvgPool2d", 2, "avg")
AvgPool3d = _make("AvgPool3d", 3, "avg")
