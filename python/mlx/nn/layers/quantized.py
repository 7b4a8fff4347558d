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


# Modes that QQLinear supports, with their (group_size, bits).
_QQ_MODES = {"nvfp4": (16, 4), "mxfp8": (32, 8)}


def _qq_resolve(mode, group_size, bits):
    if mode not in _QQ_MODES:
        raise ValueError(
            "[QQLinear] mode must be 'nvfp4' or 'mxfp8' (the input is quantized "
            f"too); got {mode!r}."
        )
    g, b = _QQ_MODES[mode]
    group_size = g if group_size is None else group_size
    bits = b if bits is None else bits
    if (group_size, bits) != (g, b):
        raise ValueError(
            f"[QQLinear] mode {mode!r} requires group_size={g} and bits={b}; "
            f"got group_size={group_size}, bits={bits}."
        )
    return group_size, bits


class QQLinear(Module):
    """A Linear layer that quantizes its input as well as its weight.

    ``y = Q(x) @ Q(W).T`` where ``Q`` quantizes along the input dimension with
    ``mode`` (``"nvfp4"`` or ``"mxfp8"``) and the product is taken in float32
    and returned in ``x``'s dtype (:func:`mlx.core.qqmm`). The layer has no bias.

    Two states, switched by :meth:`train` and :meth:`eval`:

    - **train** (the default): ``weight`` is kept in floating point and is
      quantized on the fly in every call, so it is trainable; gradients go
      straight through the quantization of ``x`` and ``W`` (the derivative of
      ``Q`` is taken as the identity).
    - **eval**: ``weight`` is stored quantized (packed ``uint32``) with its
      ``scales`` (``uint8``), as :func:`mlx.core.quantize` returns them, and
      both are frozen. Going back to ``train()`` dequantizes the weight (to
      ``bfloat16``, exact for these formats, as MLX does).

    Args:
        input_dims (int): Input size (a multiple of the group size).
        output_dims (int): Output size.
        group_size (int, optional): Elements per scale. Default: by mode
            (16 for ``"nvfp4"``, 32 for ``"mxfp8"``; no other value is supported).
        bits (int, optional): Bits per element. Default: by mode (4 for
            ``"nvfp4"``, 8 for ``"mxfp8"``; no other value is supported).
        mode (str): ``"nvfp4"`` or ``"mxfp8"``. Default: ``"nvfp4"``.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        group_size: int = None,
        bits: int = None,
        mode: str = "nvfp4",
    ):
        super().__init__()
        self.group_size, self.bits = _qq_resolve(mode, group_size, bits)
        self.mode = mode
        self._check_dims(input_dims, output_dims)
        scale = math.sqrt(1 / input_dims)
        self.weight = mx.random.uniform(-scale, scale, (output_dims, input_dims))
        self._input_dims = input_dims
        self._quantized = False
        self._weight_trainable = True

    def _check_dims(self, input_dims, output_dims):
        if (
            not isinstance(input_dims, int)
            or input_dims <= 0
            or input_dims % self.group_size != 0
        ):
            raise ValueError(
                "[QQLinear] input_dims must be a positive multiple of the group size "
                f"{self.group_size} (mode {self.mode!r}); got {input_dims!r}."
            )
        if not isinstance(output_dims, int) or output_dims < 0:
            raise ValueError(
                "[QQLinear] output_dims must be a non-negative integer; "
                f"got {output_dims!r}."
            )

    # -- quantized / floating point state -----------------------------------------
    def _quantize_weight(self):
        if self._quantized:
            return
        self._weight_trainable = "weight" not in self._no_grad
        self.weight, self.scales = mx.quantize(
            self["weight"], self.group_size, self.bits, mode=self.mode
        )
        self._quantized = True
        self._no_grad.update(("weight", "scales"))

    def _dequantize_weight(self):
        if not self._quantized:
            return
        self.weight = mx.dequantize(
            self["weight"],
            self["scales"],
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )
        del self["scales"]
        self._quantized = False
        self._no_grad.discard("scales")
        if self._weight_trainable:
            self._no_grad.discard("weight")

    def _set_training_mode(self, mode: bool):
        super()._set_training_mode(mode)
        if mode:
            self._dequantize_weight()
        else:
            self._quantize_weight()

    def quantize(self):
        """Store the weight quantized (what :meth:`eval` does)."""
        self._quantize_weight()
        return self

    def dequantize(self):
        """Store the weight in floating point (what :meth:`train` does)."""
        self._dequantize_weight()
        return self

    def freeze(self, *args, **kwargs):
        """Freeze as :meth:`Module.freeze`; in eval mode a frozen weight stays
        frozen after :meth:`train`."""
        super().freeze(*args, **kwargs)
        if self._quantized:
            keys = kwargs.get("keys")
            keys = [keys] if isinstance(keys, str) else keys
            if keys is None or "weight" in keys:
                self._weight_trainable = False
        return self

    def unfreeze(self, *args, **kwargs):
        """Unfreeze as :meth:`Module.unfreeze`; a quantized weight stays frozen
        (it becomes trainable again after :meth:`train`)."""
        super().unfreeze(*args, **kwargs)
        if self._quantized:
            if "weight" not in self._no_grad:
                self._weight_trainable = True
            self._no_grad.update(("weight", "scales"))
        return self

    def _extra_repr(self):
        return (
            f"input_dims={self._input_dims}, output_dims={self['weight'].shape[0]}, "
            f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}"
        )

    def __call__(self, x):
        if not isinstance(x, mx.array):
            raise TypeError(
                f"[QQLinear] x must be an array; got {type(x).__name__}."
            )
        if x.ndim == 0 or x.shape[-1] != self._input_dims:
            raise ValueError(
                f"[QQLinear] expected the last dimension of x to be "
                f"{self._input_dims}; got x.shape={tuple(x.shape)}."
            )
        if x.dtype not in (mx.float32, mx.float16, mx.bfloat16):
            raise ValueError(
                "[QQLinear] x must be float32, float16 or bfloat16; "
                f"got x.dtype={x.dtype}."
            )
        if self._quantized:
            return mx.qqmm(
                x,
                self["weight"],
                self["scales"],
                group_size=self.group_size,
                bits=self.bits,
                mode=self.mode,
            )
        return mx.qqmm(
            x,
            self["weight"],
            group_size=self.group_size,
            bits=self.bits,
            mode=self.mode,
        )

    @classmethod
    def from_linear(
        cls,
        linear_layer: Module,
        group_size: int = None,
        bits: int = None,
        mode: str = "nvfp4",
    ):
        """Create a :class:`QQLinear` from a :class:`Linear` layer without bias.

        The new layer shares the linear layer's weight and takes its training
        mode (a layer in eval mode gives a quantized :class:`QQLinear`).
        """
        if "bias" in linear_layer:
            raise NotImplementedError(
                "[QQLinear] a bias is not supported yet; got a "
                f"{type(linear_layer).__name__} layer with a bias."
            )
        w = linear_layer["weight"] if "weight" in linear_layer else None
        if not isinstance(w, mx.array) or w.ndim != 2:
            raise ValueError(
                "[QQLinear] from_linear needs a layer with a 2-D weight; got "
                f"{None if w is None else tuple(w.shape)}."
            )
        if w.dtype not in (mx.float32, mx.float16, mx.bfloat16):
            raise ValueError(
                "[QQLinear] the weight must be float32, float16 or bfloat16; "
                f"got {w.dtype}."
            )
        output_dims, input_dims = w.shape
        ql = cls.__new__(cls)
        Module.__init__(ql)
        ql.group_size, ql.bits = _qq_resolve(mode, group_size, bits)
        ql.mode = mode
        ql._check_dims(input_dims, output_dims)
        ql.weight = w
        ql._input_dims = input_dims
        ql._quantized = False
        ql._weight_trainable = True
        if not linear_layer.training:
            ql.eval()
        return ql


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
        quantize_input (bool): Also quantize the inputs: :class:`Linear` layers
            (without bias) become :class:`QQLinear`. Only for the ``"nvfp4"`` and
            ``"mxfp8"`` modes; other quantizable modules raise. Default: ``False``.
        class_predicate (callable, optional): ``class_predicate(path, module)``
            returns ``False`` to skip a module, ``True`` to quantize it with the
            arguments above, or a dict of arguments for ``to_quantized``.
            Default: every module with a ``to_quantized`` method.
    """
    if quantize_input and mode not in _QQ_MODES:
        raise ValueError(
            "[quantize] quantize_input=True is only supported for the 'nvfp4' and "
            f"'mxfp8' modes; got mode {mode!r}."
        )
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
            kwargs = dict(choice)
        else:
            kwargs = dict(group_size=group_size, bits=bits, mode=mode)
        if quantize_input:
            kwargs.setdefault("quantize_input", True)
        return m.to_quantized(**kwargs)

    leaves = tree_map_with_path(
        maybe_quantize, model.leaf_modules(), is_leaf=Module.is_module
    )
    model.update_modules(leaves)
