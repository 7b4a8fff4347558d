"""Linear, Bilinear and Identity layers."""

import math
from typing import Any

import mlx.core as mx
from mlx.nn.layers.base import Module


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any other arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __call__(self, x: mx.array) -> mx.array:
        return x


def _check_last_dim(layer: str, x, expected: int, name: str = "x"):
    if x.ndim == 0 or x.shape[-1] != expected:
        raise ValueError(
            f"[{layer}] expected last dimension {expected}; "
            f"got {name}.shape={tuple(x.shape)}."
        )


class Linear(Module):
    r"""Affine map :math:`y = x W^\top + b`.

    ``weight`` has shape ``(output_dims, input_dims)`` and ``bias`` ``(output_dims,)``,
    both initialized from :math:`\mathcal{U}(-k, k)` with :math:`k = 1/\sqrt{D_{in}}`.

    Args:
        input_dims (int): Size of the last dimension of the input.
        output_dims (int): Size of the last dimension of the output.
        bias (bool): Add a bias. Default: ``True``.

    Example:
        >>> layer = nn.Linear(16, 4)
        >>> layer(mx.zeros((2, 16))).shape
        (2, 4)
    """

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(-scale, scale, (output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (output_dims,))

    def _extra_repr(self) -> str:
        return (
            f"input_dims={self.weight.shape[1]}, output_dims={self.weight.shape[0]}, "
            f"bias={'bias' in self}"
        )

    def __call__(self, x: mx.array) -> mx.array:
        _check_last_dim("Linear", x, self.weight.shape[1])
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    def to_quantized(
        self,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
        quantize_input: bool = False,
        **kwargs,
    ):
        """Return a :class:`QuantizedLinear` with this layer's (quantized) weights,
        or a :class:`QQLinear` (inputs quantized too) if ``quantize_input``."""
        from mlx.nn.layers.quantized import QQLinear, QuantizedLinear

        if quantize_input:
            return QQLinear.from_linear(self, group_size, bits, mode)
        return QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    r"""Bilinear map :math:`y_k = x_1^\top W_k x_2 + b_k`.

    ``weight`` has shape ``(output_dims, input2_dims, input1_dims)`` and ``bias``
    ``(output_dims,)``, initialized from :math:`\mathcal{U}(-k, k)` with
    :math:`k = 1/\sqrt{D_1}`.

    Args:
        input1_dims (int): Last dimension of ``x1``.
        input2_dims (int): Last dimension of ``x2``.
        output_dims (int): Last dimension of the output.
        bias (bool): Add a bias. Default: ``True``.
    """

    def __init__(
        self, input1_dims: int, input2_dims: int, output_dims: int, bias: bool = True
    ) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = mx.random.uniform(
            -scale, scale, (output_dims, input2_dims, input1_dims)
        )
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (output_dims,))

    def _extra_repr(self) -> str:
        out, in2, in1 = self.weight.shape
        return (
            f"input1_dims={in1}, input2_dims={in2}, output_dims={out}, "
            f"bias={'bias' in self}"
        )

    def __call__(self, x1: mx.array, x2: mx.array) -> mx.array:
        out, in2, in1 = self.weight.shape
        _check_last_dim("Bilinear", x1, in1, "x1")
        _check_last_dim("Bilinear", x2, in2, "x2")
        batch = x1.shape[:-1]
        # (..., in1) @ (in1, out*in2) -> (..., out, in2), then contract with x2.
        y = x1 @ self.weight.reshape(out * in2, in1).T
        y = y.reshape(*batch, out, in2)
        y = (y @ mx.expand_dims(x2, -1)).squeeze(-1)
        if "bias" in self:
            y = y + self.bias
        return y
