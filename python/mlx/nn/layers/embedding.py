"""Embedding layer."""

import math

import mlx.core as mx
from mlx.nn.layers.base import Module


class Embedding(Module):
    r"""A lookup table of ``num_embeddings`` vectors of size ``dims``.

    ``weight`` has shape ``(num_embeddings, dims)``, initialized from
    :math:`\mathcal{N}(0, 1/\text{dims})`.

    Example:
        >>> emb = nn.Embedding(10, 4)
        >>> emb(mx.array([1, 2])).shape
        (2, 4)
    """

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        scale = math.sqrt(1 / dims)
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=scale)

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        if isinstance(x, mx.array) and mx.issubdtype(x.dtype, mx.inexact):
            raise ValueError(
                f"[Embedding] indices must be integers; got x.dtype={x.dtype}."
            )
        return self.weight[x]

    def as_linear(self, x):
        """Use the table as a linear map from ``dims`` to ``num_embeddings``
        (weight tying): ``x @ weight.T``."""
        return x @ self.weight.T

    def to_quantized(
        self,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
        quantize_input: bool = False,
        **kwargs,
    ):
        """Return a :class:`QuantizedEmbedding` with this layer's quantized table."""
        from mlx.nn.layers.quantized import QuantizedEmbedding

        if quantize_input:
            raise ValueError(
                "[Embedding] quantized input is not supported; got quantize_input=True."
            )

        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
