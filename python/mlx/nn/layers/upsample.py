"""Upsampling of channels-last input by nearest, linear or cubic interpolation."""

import math
from typing import Literal, Tuple, Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _source_positions(n_in, n_out, scale, align_corners):
    """Position in the input of each output sample along one axis."""
    if align_corners:
        if n_out == 1:
            return [0.0]
        step = (n_in - 1) / (n_out - 1)
        return [i * step for i in range(n_out)]
    # The output grid is centred on the input: half the size lost by flooring
    # n_in * scale is taken from each side.
    shift = (n_in * scale - n_out) / 2
    return [(i + 0.5 + shift) / scale - 0.5 for i in range(n_out)]


def _interpolate_axis(x, axis, scale, mode, align_corners):
    n_in = x.shape[axis]
    n_out = int(math.floor(n_in * scale))
    if n_out < 1:
        raise ValueError(
            f"[Upsample] scale {scale} leaves no output along axis {axis}; "
            f"got x.shape={tuple(x.shape)}."
        )
    if mode == "nearest":
        # The nearest sample to the (centred) source position; ties go to even.
        pos = _source_positions(n_in, n_out, scale, False)
        idx = [min(max(round(p), 0), n_in - 1) for p in pos]
        return mx.take(x, mx.array(idx, dtype=mx.int32), axis=axis)

    pos = _source_positions(n_in, n_out, scale, align_corners)
    shape = [1] * x.ndim
    shape[axis] = n_out

    def gather(indices):
        clamped = [min(max(j, 0), n_in - 1) for j in indices]
        return mx.take(x, mx.array(clamped, dtype=mx.int32), axis=axis)

    def weight(values):
        return mx.array(values, dtype=mx.float32).reshape(shape).astype(x.dtype)

    if mode == "linear":
        pos = [min(max(p, 0.0), n_in - 1) for p in pos]
        lo = [int(math.floor(p)) for p in pos]
        t = [p - j for p, j in zip(pos, lo)]
        w_hi = weight(t)
        return gather(lo) * (1 - w_hi) + gather([j + 1 for j in lo]) * w_hi

    # Cubic convolution (Keys) with a = -0.75; edge samples are repeated.
    a = -0.75

    def kernel(d):
        d = abs(d)
        if d <= 1:
            return ((a + 2) * d - (a + 3)) * d * d + 1
        if d < 2:
            return (((d - 5) * d + 8) * d - 4) * a
        return 0.0

    lo = [int(math.floor(p)) for p in pos]
    out = None
    for k in (-1, 0, 1, 2):
        idx = [j + k for j in lo]
        w = weight([kernel(p - j) for p, j in zip(pos, idx)])
        term = gather(idx) * w
        out = term if out is None else out + term
    return out


def upsample(x, scale_factor, mode="nearest", align_corners=False):
    """Upsample ``x`` of shape ``(N, *spatial, C)`` by ``scale_factor`` per axis."""
    for axis, scale in enumerate(scale_factor, start=1):
        if scale != 1:
            x = _interpolate_axis(x, axis, scale, mode, align_corners)
    return x


class Upsample(Module):
    r"""Upsample channels-last input ``(N, *spatial, C)``.

    Each spatial size ``n`` becomes ``floor(n * scale)``.

    * ``"nearest"``: each output copies the input sample nearest to its centre.
    * ``"linear"``: (bi/tri)linear interpolation.
    * ``"cubic"``: (bi)cubic convolution with :math:`a = -0.75`.

    With ``align_corners`` the first and last samples of input and output are
    aligned; otherwise samples are taken at pixel centres.

    Args:
        scale_factor (float or tuple): One scale per spatial axis, or one for all.
        mode (str): ``"nearest"``, ``"linear"`` or ``"cubic"``. Default: ``"nearest"``.
        align_corners (bool): Default: ``False``.
        antialias (bool): Low-pass filter when downsampling (not supported yet;
            only ``False`` or scales >= 1 are accepted). Default: ``False``.
    """

    def __init__(
        self,
        scale_factor: Union[float, Tuple],
        mode: Literal["nearest", "linear", "cubic"] = "nearest",
        align_corners: bool = False,
        antialias: bool = False,
    ):
        super().__init__()
        if mode not in ("nearest", "linear", "cubic"):
            raise ValueError(
                f"[Upsample] mode must be 'nearest', 'linear' or 'cubic'; got {mode!r}."
            )
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.antialias = antialias

    def _extra_repr(self) -> str:
        return (
            f"scale_factor={self.scale_factor}, mode={self.mode!r}, "
            f"align_corners={self.align_corners}"
        )

    def __call__(self, x: mx.array) -> mx.array:
        dims = x.ndim - 2
        if dims <= 0:
            raise ValueError(
                "[Upsample] expected an input (N, *spatial, C) with at least one "
                f"spatial axis; got x.shape={tuple(x.shape)}."
            )
        scale = self.scale_factor
        if isinstance(scale, tuple):
            if len(scale) != dims:
                raise ValueError(
                    f"[Upsample] expected {dims} scale factors for input of "
                    f"shape {tuple(x.shape)}; got scale_factor={scale}."
                )
        else:
            scale = (scale,) * dims
        if self.antialias and any(s < 1 for s in scale):
            raise NotImplementedError(
                "[Upsample] antialiased downsampling is not supported; "
                f"got scale_factor={scale}."
            )
        return upsample(x, scale, self.mode, self.align_corners)
