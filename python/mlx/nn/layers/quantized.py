"""Quantized Linear and Embedding layers and ``nn.quantize``."""

import math
from typing import Callable, Optional, Union

import mlx.core as mx
from mlx.nn.layers.base import Module
from mlx.utils import tree_map_with_path

# (group_size, bits) used when they are not given, per quantization mode.
_DEFAULTS = {"affine": (64, 4), "mxfp4": (32, 4), "nvfp4": (16, 4), "mxfp8": (32, 8)}


def _resolve(mode, group_size, bits):
    if mode not in _DEFAULTS:
        raise ValueError(
            f"[quantize] mode must be one of {sorted(_DEFAULTS)}; got {mode!r}."
        )
    g, b = _DEFAULTS[mode]
    return (group_size or g), (bits or b)


def _quantize(w, group_size, bits, mode):
    """Return ``(weight, scales, biases or None)``."""
    out = mx.quantize(w, group_size, bits, mode=mode)
    return out[0], out[1], (out[2] if len(out) > 2 else None)


class QuantizedLinear(Module):
    """A Linear layer whose weight is stored quantized (``mx.quantize``).

    The quantized ``weight``, ``scales`` and ``biases`` are frozen; only the
    optional ``bias`` is trainable.

    Args:
        input_dims (int): Input size.
        output_dims (int): Output size.
        bias (bool): Default: ``True``.
        group_size (int, optional): Elements per scale. Default: by mode
            (64 for ``"affine"``).
        bits (int, optional): Bits per element. Default: by mode (4 for ``"affine"``).
        mode (str): Quantization mode. Default: ``"affine"``.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        bias: bool = True,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
    ):
        super().__init__()
        self.group_size, self.bits = _resolve(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        w = mx.random.uniform(-scale, scale, (output_dims, input_dims))
        self._set_quantized(w)
        if bias:
            self.bias = mx.zeros((output_dims,))
        self._input_dims = input_dims
        self.freeze()

    def _set_quantized(self, w):
        self.weight, self.scales, biases = _quantize(
            w, self.group_size, self.bits, self.mode
        )
        if biases is not None:
            self.biases = biases

    def unfreeze(self, *args, **kwargs):
        """Unfreeze as :meth:`Module.unfreeze`; the quantized weight stays frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(
            recurse=False, keys=[k for k in ("weight", "scales", "biases") if k in self]
        )
        return self

    def _extra_repr(self):
        out_dims, in_dims = self.weight.shape
        in_dims = in_dims * 32 // self.bits
        return (
            f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}, "
            f"group_size={self.group_size}, bits={self.bits}, mode={self.mode!r}"
        )

    def __call__(self, x):
        in_dims = self.weight.shape[1] * 32 // self.bits
        if x.ndim == 0 or x.shape[-1] != in_dims:
            raise ValueError(
                f"[QuantizedLinear] expected last dimension {in_dims}; "
                f"got x.shape={tuple(x.shape)}."
            )
        y = mx.quantized_matmul(
            x,
            self["weight"],
            scales=self["scales"],
            biases=self.get("biases"),
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )
        if "bias" in self:
            y = y + self["bias"]
        return y

    @classmethod
    def from_linear(
        cls,
        linear_layer: Module,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
    ):
        """Quantize the weight of a :class:`Linear` layer."""
        output_dims, input_dims = linear_layer.weight.shape
        ql = cls.__new__(cls)
        Module.__init__(ql)
        ql.group_size, ql.bits = _resolve(mode, group_size, bits)
        ql.mode = mode
        ql._set_quantized(linear_layer.weight)
        if "bias" in linear_layer:
            ql.bias = linear_layer.bias
        ql._input_dims = input_dims
        ql.freeze()
        ql.unfreeze(recurse=False)
        return ql


class QuantizedEmbedding(Module):
    """An Embedding whose table is stored quantized (``mx.quantize``).

    Args:
        num_embeddings (int): Table size.
        dims (int): Embedding size.
        group_size (int, optional): Default: by mode (64 for ``"affine"``).
        bits (int, optional): Default: by mode (4 for ``"affine"``).
        mode (str): Default: ``"affine"``.
    """

    def __init__(
        self,
        num_embeddings: int,
        dims: int,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
    ):
        super().__init__()
        self.group_size, self.bits = _resolve(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / dims)
        w = mx.random.normal(shape=(num_embeddings, dims), scale=scale)
        self._set_quantized(w)
        self.num_embeddings = num_embeddings
        self.dims = dims
        self.freeze()

    _set_quantized = QuantizedLinear._set_quantized

    def _extra_repr(self):
        return (
            f"{self.num_embeddings}, {self.dims}, group_size={self.group_size}, "
            f"bits={self.bits}, mode={self.mode!r}"
        )

    def __call__(self, x):
        biases = self.get("biases")
        return mx.dequantize(
            self["weight"][x],
            scales=self["scales"][x],
            biases=biases[x] if biases is not None else None,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )

    def as_linear(self, x):
        """Multiply by the transposed table (weight tying)."""
        return mx.quantized_matmul(
            x,
            self["weight"],
            scales=self["scales"],
            biases=self.get("biases"),
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )

    @classmethod
    def from_embedding(
        cls,
        embedding_layer: Module,
        group_size: int = None,
        bits: int = None,
        mode: str = "affine",
    ):
        """Quantize the table of an :class:`Embedding` layer."""
        num_embeddings, dims = embedding_layer.weight.shape
        qe = cls.__new__(cls)
        Module.__init__(qe)
        qe.group_size, qe.bits = _resolve(mode, group_size, bits)
        qe.mode = mode
        qe._set_quantized(embedding_layer.weight)
        qe.num_embeddings = num_embeddings
        qe.dims = dims
        qe.freeze()
        return qe


def quantize(
    model: Module,
    group_size: int = None,
    bits: int = None,
    *,
    mode: str = "affine",
    quantize_input: bool = False,
    class_predicate: Optional[Callable[[str, Module], Union[bool, dict]]] = None,
):
    """Replace the leaf modules that can be quantized by quantized versions, in place.

    Args:
        model (Module): The model.
        group_size (int, optional): Default: by mode.
        bits (int, optional): Default: by mode.
        mode (str): Default: ``"affine"``.
        quantize_input (bool): Also quantize activations (not supported yet).
        class_predicate (callable, optional): ``class_predicate(path, module)``
            returns ``False`` to skip a module, ``True`` to quantize it with the
            arguments above, or a dict of arguments for ``to_quantized``.
            Default: every module with a ``to_quantized`` method.
    """
    if quantize_input:
        raise NotImplementedError("[quantize] quantize_input=True is not supported.")
    class_predicate = class_predicate or (lambda _, m: hasattr(m, "to_quantized"))

    def maybe_quantize(path, m):
        choice = class_predicate(path, m)
        if not choice:
            return m
        if not hasattr(m, "to_quantized"):
            raise ValueError(
                f"[quantize] cannot quantize a module of type {type(m).__name__} "
                f"at {path!r}."
            )
        if isinstance(choice, dict):
            return m.to_quantized(**choice)
        return m.to_quantized(group_size=group_size, bits=bits, mode=mode)

    leaves = tree_map_with_path(
        maybe_quantize, model.leaf_modules(), is_leaf=Module.is_module
    )
    model.update_modules(leaves)
