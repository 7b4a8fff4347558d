"""Multi-head attention and Transformer encoder/decoder layers."""

import math
from typing import Any, Callable, Optional

import mlx.core as mx
from mlx.nn.layers.activations import relu
from mlx.nn.layers.base import Module
from mlx.nn.layers.dropout import Dropout
from mlx.nn.layers.linear import Linear
from mlx.nn.layers.normalization import LayerNorm


def scaled_dot_product_attention(q, k, v, scale, mask=None):
    """Attention over ``(B, heads, L, d)`` tensors with an additive or boolean mask.

    A boolean mask keeps the positions where it is True; a float mask is added to
    the scores. ``mask="causal"`` masks future keys. Uses ``mx.fast`` when present.
    """
    fast = getattr(getattr(mx, "fast", None), "scaled_dot_product_attention", None)
    if fast is not None:
        return fast(q, k, v, scale=scale, mask=mask)
    scores = (q * scale) @ mx.swapaxes(k, -1, -2)
    if isinstance(mask, str):
        if mask != "causal":
            raise ValueError(f"[attention] unknown mask {mask!r}; expected 'causal'.")
        L, S = scores.shape[-2:]
        mask = mx.arange(L)[:, None] + (S - L) >= mx.arange(S)[None]
    if mask is not None:
        if mask.dtype == mx.bool_:
            scores = mx.where(mask, scores, mx.finfo(scores.dtype).min)
        else:
            scores = scores + mask
    weights = mx.softmax(scores.astype(mx.float32), axis=-1).astype(scores.dtype)
    return weights @ v


class MultiHeadAttention(Module):
    r"""Multi-head scaled dot-product attention (Vaswani et al., 2017).

    Queries, keys and values are projected to ``dims``, ``dims`` and ``value_dims``,
    split into ``num_heads`` heads, attended with scale :math:`1/\sqrt{d_{head}}`,
    merged and projected to ``value_output_dims``.

    Args:
        dims (int): Model dimension; must be divisible by ``num_heads``.
        num_heads (int): Number of heads.
        query_input_dims (int, optional): Default: ``dims``.
        key_input_dims (int, optional): Default: ``dims``.
        value_input_dims (int, optional): Default: ``key_input_dims``.
        value_dims (int, optional): Default: ``dims``.
        value_output_dims (int, optional): Default: ``dims``.
        bias (bool): Biases in the projections. Default: ``False``.

    Call with ``(queries, keys, values, mask=None)`` of shapes ``(B, L, D)``; the
    mask broadcasts to ``(B, num_heads, L, S)``.
    """

    def __init__(
        self,
        dims: int,
        num_heads: int,
        query_input_dims: Optional[int] = None,
        key_input_dims: Optional[int] = None,
        value_input_dims: Optional[int] = None,
        value_dims: Optional[int] = None,
        value_output_dims: Optional[int] = None,
        bias: bool = False,
    ):
        super().__init__()
        if dims % num_heads != 0:
            raise ValueError(
                "[MultiHeadAttention] dims must be divisible by num_heads; "
                f"got dims={dims}, num_heads={num_heads}."
            )
        query_input_dims = query_input_dims or dims
        key_input_dims = key_input_dims or dims
        value_input_dims = value_input_dims or key_input_dims
        value_dims = value_dims or dims
        value_output_dims = value_output_dims or dims
        self.num_heads = num_heads
        self.query_proj = Linear(query_input_dims, dims, bias=bias)
        self.key_proj = Linear(key_input_dims, dims, bias=bias)
        self.value_proj = Linear(value_input_dims, value_dims, bias=bias)
        self.out_proj = Linear(value_dims, value_output_dims, bias=bias)

    def __call__(self, queries, keys, values, mask=None):
        queries = self.query_proj(queries)
        keys = self.key_proj(keys)
        values = self.value_proj(values)
        h = self.num_heads
        B, L, _ = queries.shape
        S = keys.shape[-2]
        queries = queries.reshape(B, L, h, -1).transpose(0, 2, 1, 3)
        keys = keys.reshape(B, S, h, -1).transpose(0, 2, 1, 3)
        values = values.reshape(B, S, h, -1).transpose(0, 2, 1, 3)
        scale = math.sqrt(1 / queries.shape[-1])
        out = scaled_dot_product_attention(queries, keys, values, scale, mask)
        out = out.transpose(0, 2, 1, 3).reshape(B, L, -1)
        return self.out_proj(out)

    @staticmethod
    def create_additive_causal_mask(N: int, dtype: mx.Dtype = mx.float32):
        """An ``(N, N)`` mask that is 0 on and below the diagonal and the most
        negative ``dtype`` value above it."""
        idx = mx.arange(N)
        mask = idx[:, None] < idx[None]
        return mask.astype(dtype) * mx.finfo(dtype).min


class TransformerEncoderLayer(Module):
    """Self-attention and a two-layer MLP, each in a residual branch.

    With ``norm_first`` (pre-norm) the branches are ``x + f(norm(x))``; otherwise
    (post-norm) ``norm(x + f(x))``.

    Args:
        dims (int): Model dimension.
        num_heads (int): Attention heads.
        mlp_dims (int, optional): Hidden size of the MLP. Default: ``4 * dims``.
        dropout (float): Dropout after attention and inside the MLP. Default: ``0``.
        activation (callable): MLP activation. Default: :func:`relu`.
        norm_first (bool): Pre-norm. Default: ``True``.
    """

    def __init__(
        self,
        dims: int,
        num_heads: int,
        mlp_dims: Optional[int] = None,
        dropout: float = 0.0,
        activation: Callable[[Any], Any] = relu,
        norm_first: bool = True,
    ):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout2(self.activation(self.linear1(x))))

    def __call__(self, x, mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.attention(y, y, y, mask))
            return x + self._mlp(self.ln2(x))
        x = self.ln1(x + self.dropout1(self.attention(x, x, x, mask)))
        return self.ln2(x + self._mlp(x))


class TransformerEncoder(Module):
    """A stack of :class:`TransformerEncoderLayer` followed by a LayerNorm.

    Args:
        num_layers (int): Number of layers.
        dims, num_heads, mlp_dims, dropout, activation, norm_first: As for
            :class:`TransformerEncoderLayer`.
        checkpoint (bool): Recompute layer activations in the backward pass.
            Default: ``False``.
    """

    def __init__(
        self,
        num_layers: int,
        dims: int,
        num_heads: int,
        mlp_dims: Optional[int] = None,
        dropout: float = 0.0,
        activation=relu,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        super().__init__()
        self.layers = [
            TransformerEncoderLayer(
                dims, num_heads, mlp_dims, dropout, activation, norm_first
            )
            for _ in range(num_layers)
        ]
        self.ln = LayerNorm(dims)
        self.checkpoint = checkpoint

    def __call__(self, x, mask):
        for layer in self.layers:
            if self.checkpoint:
                from mlx.nn.utils import checkpoint

                x = checkpoint(layer)(x, mask)
            else:
                x = layer(x, mask)
        return self.ln(x)


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory`` and an MLP, each residual.

    Args:
        dims (int): Model dimension.
        num_heads (int): Attention heads.
        mlp_dims (int, optional): Default: ``4 * dims``.
        dropout (float): Default: ``0``.
        activation (callable): Default: :func:`relu`.
        norm_first (bool): Pre-norm. Default: ``True``.
    """

    def __init__(
        self,
        dims: int,
        num_heads: int,
        mlp_dims: Optional[int] = None,
        dropout: float = 0.0,
        activation: Callable[[Any], Any] = relu,
        norm_first: bool = True,
    ):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.self_attention = MultiHeadAttention(dims, num_heads)
        self.cross_attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.ln3 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout3(self.activation(self.linear1(x))))

    def __call__(self, x, memory, x_mask, memory_mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.self_attention(y, y, y, x_mask))
            y = self.ln2(x)
            x = x + self.dropout2(self.cross_attention(y, memory, memory, memory_mask))
            return x + self._mlp(self.ln3(x))
        x = self.ln1(x + self.dropout1(self.self_attention(x, x, x, x_mask)))
        x = self.ln2(
            x + self.dropout2(self.cross_attention(x, memory, memory, memory_mask))
        )
        return self.ln3(x + self._mlp(x))


class TransformerDecoder(Module):
    """A stack of :class:`TransformerDecoderLayer` followed by a LayerNorm."""

    def __init__(
        self,
        num_layers: int,
        dims: int,
        num_heads: int,
        mlp_dims: Optional[int] = None,
        dropout: float = 0.0,
        activation=relu,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        super().__init__()
        self.layers = [
            TransformerDecoderLayer(
                dims, num_heads, mlp_dims, dropout, activation, norm_first
            )
            for _ in range(num_layers)
        ]
        self.ln = LayerNorm(dims)
        self.checkpoint = checkpoint

    def __call__(self, x, memory, x_mask, memory_mask):
        for layer in self.layers:
            if self.checkpoint:
                from mlx.nn.utils import checkpoint

                x = checkpoint(layer)(x, memory, x_mask, memory_mask)
            else:
                x = layer(x, memory, x_mask, memory_mask)
        return self.ln(x)


class Transformer(Module):
    """Encoder-decoder Transformer (Vaswani et al., 2017).

    Args:
        dims (int): Model dimension. Default: ``512``.
        num_heads (int): Default: ``8``.
        num_encoder_layers (int): Default: ``6``.
        num_decoder_layers (int): Default: ``6``.
        mlp_dims (int, optional): Default: ``4 * dims``.
        dropout (float): Default: ``0``.
        activation (callable): Default: :func:`relu`.
        custom_encoder (Module, optional): Used instead of a TransformerEncoder.
        custom_decoder (Module, optional): Used instead of a TransformerDecoder.
        norm_first (bool): Default: ``True``.
        checkpoint (bool): Default: ``False``.

    Call with ``(src, tgt, src_mask, tgt_mask, memory_mask)``.
    """

    def __init__(
        self,
        dims: int = 512,
        num_heads: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        mlp_dims: Optional[int] = None,
        dropout: float = 0.0,
        activation: Callable[[Any], Any] = relu,
        custom_encoder: Optional[Any] = None,
        custom_decoder: Optional[Any] = None,
        norm_first: bool = True,
        checkpoint: bool = False,
    ):
        super().__init__()
        self.encoder = (
            custom_encoder
            if custom_encoder is not None
            else TransformerEncoder(
                num_encoder_layers,
                dims,
                num_heads,
                mlp_dims,
                dropout,
                activation,
                norm_first,
                checkpoint,
            )
        )
        self.decoder = (
            custom_decoder
            if custom_decoder is not None
            else TransformerDecoder(
                num_decoder_layers,
                dims,
                num_heads,
                mlp_dims,
                dropout,
                activation,
                norm_first,
                checkpoint,
            )
        )

    def __call__(self, src, tgt, src_mask, tgt_mask, memory_mask):
        memory = self.encoder(src, src_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask)
