"""Positional encodings: RoPE, sinusoidal encodings and ALiBi."""

import math
from typing import Optional

import mlx.core as mx
from mlx.nn.layers.base import Module


def rope(x, dims, traditional, base, scale, offset):
    """Rotary embedding of the first ``dims`` features of ``x`` (``(..., L, D)``)."""
    fast = getattr(getattr(mx, "fast", None), "rope", None)
    if fast is not None:
        return fast(
            x, dims, traditional=traditional, base=base, scale=scale, offset=offset
        )
    L = x.shape[-2]
    half = dims // 2
    positions = (mx.arange(L, dtype=mx.float32) + offset) * scale
    inv_freq = mx.exp(-math.log(base) * mx.arange(0, half, dtype=mx.float32) / half)
    theta = positions[:, None] * inv_freq[None, :]
    cos, sin = mx.cos(theta), mx.sin(theta)
    xf = x[..., :dims].astype(mx.float32)
    if traditional:
        x1, x2 = xf[..., 0::2], xf[..., 1::2]
        r1, r2 = x1 * cos - x2 * sin, x1 * sin + x2 * cos
        rot = mx.stack([r1, r2], axis=-1).reshape(*xf.shape)
    else:
        x1, x2 = xf[..., :half], xf[..., half : 2 * half]
        rot = mx.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
    rot = rot.astype(x.dtype)
    if dims < x.shape[-1]:
        rot = mx.concatenate([rot, x[..., dims:]], axis=-1)
    return rot


class RoPE(Module):
    r"""Rotary positional encoding (Su et al., 2021).

    Feature pairs of position :math:`p` are rotated by the angle
    :math:`(p + \text{offset}) \cdot \text{scale} \cdot \text{base}^{-2i/\text{dims}}`.
    Pairs are ``(x[2i], x[2i+1])`` when ``traditional``, else
    ``(x[i], x[i + dims/2])``. Features past ``dims`` are left as they are.

    Args:
        dims (int): Number of features to rotate.
        traditional (bool): Rotate consecutive pairs. Default: ``False``.
        base (float): Base of the frequencies. Default: ``10000``.
        scale (float): Scale of the positions. Default: ``1.0``.

    Call with ``(x, offset=0)``; ``x`` is ``(..., L, D)``.
    """

    def __init__(
        self,
        dims: int,
        traditional: bool = False,
        base: float = 10000,
        scale: float = 1.0,
    ):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset: int = 0):
        if x.ndim < 2 or x.shape[-1] < self.dims:
            raise ValueError(
                f"[RoPE] expected input (..., L, D) with D >= {self.dims}; "
                f"got x.shape={tuple(x.shape)}."
            )
        return rope(x, self.dims, self.traditional, self.base, self.scale, offset)


class SinusoidalPositionalEncoding(Module):
    r"""Sinusoidal positional encoding.

    For positions ``x`` of shape ``(...)`` returns ``(..., dims)``: the sines and
    cosines of ``x * sigma_i`` for ``dims / 2`` frequencies ``sigma_i`` spaced
    geometrically from ``max_freq`` down to ``min_freq``, times ``scale``.

    Args:
        dims (int): Output size (even).
        min_freq (float): Lowest frequency. Default: ``0.0001``.
        max_freq (float): Highest frequency. Default: ``1``.
        scale (float, optional): Default: ``sqrt(2 / dims)``.
        cos_first (bool): Put the cosines first. Default: ``False``.
        full_turns (bool): Multiply the frequencies by :math:`2\pi`.
            Default: ``False``.
    """

    def __init__(
        self,
        dims: int,
        min_freq: float = 0.0001,
        max_freq: float = 1,
        scale: Optional[float] = None,
        cos_first: bool = False,
        full_turns: bool = False,
    ):
        super().__init__()
        half = dims // 2
        one_zero = 1 - mx.arange(0, half, dtype=mx.float32) / max(half - 1, 1)
        lo, hi = math.log(min_freq), math.log(max_freq)
        self._sigmas = mx.exp(one_zero * (hi - lo) + lo)
        if full_turns:
            self._sigmas = self._sigmas * (2 * math.pi)
        self.scale = scale or (2 / dims) ** 0.5
        self.cos_first = cos_first

    def __call__(self, x):
        y = x[..., None] * self._sigmas
        c, s = mx.cos(y), mx.sin(y)
        y = mx.concatenate([c, s] if self.cos_first else [s, c], axis=-1)
        if self.scale != 1:
            y = y * self.scale
        return y


class ALiBi(Module):
    """Attention with linear biases (Press et al., 2022).

    Adds ``-m_h * |i - j|`` to the attention scores ``(B, heads, L, S)``, with
    head slopes ``m_h = 2 ** (-8 h / heads)`` for ``h = 1..heads``. Query
    positions start at ``offset``.
    """

    @staticmethod
    def create_alibi_slope(num_heads):
        x = (2**8) ** (1 / num_heads)
        out = mx.power(x, -mx.arange(1, num_heads + 1, dtype=mx.float32))
        return out[:, None, None]

    @staticmethod
    def create_alibi_matrix(
        q_sequence_length: int,
        k_sequence_length: int,
        num_heads: int,
        offset: int,
        dtype=mx.float32,
    ):
        q = mx.arange(offset, q_sequence_length)
        k = mx.arange(0, k_sequence_length)
        distance = -mx.abs(q[:, None] - k[None, :]).astype(mx.float32)
        slopes = ALiBi.create_alibi_slope(num_heads)
        return (distance[None] * slopes)[None].astype(dtype)

    def __call__(self, attention_scores, offset=0, mask=None):
        if attention_scores.ndim != 4:
            raise ValueError(
                "[ALiBi] expected attention scores (B, heads, L, S); "
                f"got attention_scores.shape={tuple(attention_scores.shape)}."
            )
        bias = ALiBi.create_alibi_matrix(
            q_sequence_length=attention_scores.shape[-2] + offset,
            k_sequence_length=attention_scores.shape[-1],
            num_heads=attention_scores.shape[1],
            offset=offset,
            dtype=attention_scores.dtype,
        )
        if mask is not None:
            bias = bias + mask
        return attention_scores + bias
