"""Activation functions and their Module wrappers."""

import math
from typing import Any

import mlx.core as mx
from mlx.nn.layers.base import Module


def _fused(fn):
    """``fn`` (one array in, elementwise ops only) compiled once for any shape, so that its
    chain of ops runs as one fused pass (as MLX compiles its activations); anything but an
    array goes to ``fn`` itself."""
    compiled = mx.compile(fn, shapeless=True)

    def wrapper(x):
        if isinstance(x, mx.array):
            return compiled(x)
        return fn(x)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__module__ = fn.__module__
    wrapper.__wrapped__ = fn
    return wrapper


def sigmoid(x):
    r"""Element-wise logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`."""
    return mx.sigmoid(x)


def relu(x):
    r"""Rectified linear unit :math:`\max(x, 0)`."""
    return mx.maximum(x, 0)


@_fused
def relu2(x):
    r"""Squared ReLU :math:`\max(x, 0)^2`."""
    return mx.square(mx.maximum(x, 0))


relu_squared = relu2


@_fused
def relu6(x):
    r"""ReLU capped at 6: :math:`\min(\max(x, 0), 6)`."""
    return mx.minimum(mx.maximum(x, 0), 6.0)


def leaky_relu(x, negative_slope=0.01):
    r"""Leaky ReLU :math:`\max(\text{negative\_slope} \cdot x, x)`."""
    return mx.maximum(negative_slope * x, x)


def log_softmax(x, axis=-1):
    r"""Log of the softmax: :math:`x_i - \log \sum_j e^{x_j}` along ``axis``."""
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def elu(x, alpha=1.0):
    r"""Exponential linear unit: :math:`x` if :math:`x > 0`, else
    :math:`\alpha (e^x - 1)`."""
    return mx.where(x > 0, x, alpha * (mx.exp(mx.minimum(x, 0)) - 1))


def celu(x, alpha=1.0):
    r"""Continuously differentiable ELU:
    :math:`\max(0, x) + \min(0, \alpha (e^{x / \alpha} - 1))`."""
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


@_fused
def selu(x):
    r"""Scaled ELU: :math:`\lambda \,\mathrm{elu}(x, \alpha)` with
    :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.67326`."""
    return elu(x, 1.6732632423543772) * 1.0507009873554805


@_fused
def silu(x):
    r"""Sigmoid linear unit (swish): :math:`x \sigma(x)`."""
    return x * mx.sigmoid(x)


def log_sigmoid(x):
    r"""Log of the sigmoid: :math:`-\log(1 + e^{-x})`."""
    return -softplus(-x)


@_fused
def gelu(x) -> mx.array:
    r"""Gaussian error linear unit :math:`x \Phi(x) = x (1 + \mathrm{erf}(x/\sqrt2))/2`."""
    return x * (1 + mx.erf(x / math.sqrt(2))) / 2


@_fused
def gelu_approx(x):
    r"""GELU with the tanh approximation:
    :math:`0.5 x (1 + \tanh(\sqrt{2/\pi} (x + 0.044715 x^3)))`."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


@_fused
def gelu_fast_approx(x):
    r"""GELU with the sigmoid approximation :math:`x \sigma(1.702 x)`."""
    return x * mx.sigmoid(1.702 * x)


def glu(x: mx.array, axis: int = -1) -> mx.array:
    r"""Gated linear unit: split ``x`` in halves :math:`a, b` along ``axis`` and
    return :math:`a \sigma(b)`."""
    a, b = mx.split(x, indices_or_sections=2, axis=axis)
    return a * mx.sigmoid(b)


def step(x: mx.array, threshold: float = 0.0):
    r"""Heaviside step: 1 where :math:`x > \text{threshold}`, else 0."""
    return mx.where(x > threshold, 1, 0)


def softmax(x, axis=-1):
    r"""Softmax :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis``."""
    return mx.softmax(x, axis=axis)


def softmin(x, axis=-1):
    r"""Softmin: the softmax of :math:`-x` along ``axis``."""
    return mx.softmax(-x, axis=axis)


def softplus(x):
    r"""Softplus :math:`\log(1 + e^x)`."""
    return mx.logaddexp(x, 0)


@_fused
def softsign(x):
    r"""Softsign :math:`x / (1 + |x|)`."""
    return mx.divide(x, 1 + mx.abs(x))


def softshrink(x, lambd: float = 0.5):
    r"""Soft shrink: :math:`x - \lambda \,\mathrm{sign}(x)` where
    :math:`|x| > \lambda`, else 0."""
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def hard_shrink(x, lambd=0.5):
    r"""Hard shrink: :math:`x` where :math:`|x| > \lambda`, else 0."""
    return mx.where(mx.abs(x) > lambd, x, 0)


def hard_tanh(x, min_val=-1.0, max_val=1.0):
    r"""Hard tanh: ``x`` clipped to ``[min_val, max_val]``."""
    return mx.minimum(mx.maximum(x, min_val), max_val)


@_fused
def hardswish(x):
    r"""Hard swish :math:`x \min(\max(x + 3, 0), 6) / 6`."""
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


@_fused
def mish(x: mx.array) -> mx.array:
    r"""Mish :math:`x \tanh(\mathrm{softplus}(x))`."""
    return x * mx.tanh(softplus(x))


def tanh(x):
    r"""Hyperbolic tangent."""
    return mx.tanh(x)


def prelu(x: mx.array, alpha: mx.array) -> mx.array:
    r"""Parametric ReLU :math:`\max(0, x) + \alpha \min(0, x)`."""
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


class _Activation(Module):
    """An activation Module without parameters wrapping a function."""

    _fn = None

    def __call__(self, x):
        return type(self)._fn(x)


def _wrap(fn, name, doc=None):
    cls = type(name, (_Activation,), {"_fn": staticmethod(fn)})
    cls.__doc__ = doc or f"Applies :func:`{fn.__name__}` element-wise."
    cls.__module__ = __name__
    cls.__qualname__ = name
    return cls


Sigmoid = _wrap(sigmoid, "Sigmoid")
ReLU = _wrap(relu, "ReLU")
ReLU2 = _wrap(relu2, "ReLU2")
ReLU6 = _wrap(relu6, "ReLU6")
SELU = _wrap(selu, "SELU")
SiLU = _wrap(silu, "SiLU")
LogSigmoid = _wrap(log_sigmoid, "LogSigmoid")
Mish = _wrap(mish, "Mish")
Hardswish = _wrap(hardswish, "Hardswish")
Tanh = _wrap(tanh, "Tanh")
Softplus = _wrap(softplus, "Softplus")
Softsign = _wrap(softsign, "Softsign")


class Softmax(Module):
    """Applies :func:`softmax` over the last axis."""

    def __call__(self, x):
        return softmax(x)


class Softmin(Module):
    """Applies :func:`softmin` over the last axis."""

    def __call__(self, x):
        return softmin(x)


class LogSoftmax(Module):
    """Applies :func:`log_softmax` over the last axis."""

    def __call__(self, x):
        return log_softmax(x)


class HardTanh(Module):
    """Applies :func:`hard_tanh` (clip to ``[-1, 1]``)."""

    def __call__(self, x):
        return hard_tanh(x)


class LeakyReLU(Module):
    """Applies :func:`leaky_relu` with the given ``negative_slope``."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)

    def _extra_repr(self):
        return f"negative_slope={self._negative_slope}"


class ELU(Module):
    """Applies :func:`elu` with the given ``alpha``."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    """Applies :func:`celu` with the given ``alpha``."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class Softshrink(Module):
    """Applies :func:`softshrink` with the given ``lambd``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class HardShrink(Module):
    """Applies :func:`hard_shrink` with the given ``lambd``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self.lambd)


class Step(Module):
    """Applies :func:`step` with the given ``threshold``."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x: mx.array):
        return step(x, self.threshold)


class GLU(Module):
    """Applies :func:`glu` along ``axis``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x) -> Any:
        return glu(x=x, axis=self.axis)


class PReLU(Module):
    """Parametric ReLU with a learned slope ``weight`` of shape ``(num_parameters,)``.

    Args:
        num_parameters (int): Number of slopes (1, or the channel count).
        init (float): Initial slope. Default: ``0.25``.
    """

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x: mx.array):
        return prelu(x, self.weight)


class GELU(Module):
    """Gaussian error linear unit.

    Args:
        approx (str): ``"none"`` or ``"precise"`` for the exact form, ``"tanh"``
            for :func:`gelu_approx`, ``"fast"`` for :func:`gelu_fast_approx`.
    """

    def __init__(self, approx="none"):
        super().__init__()
        if approx in ("none", "precise"):
            self._act = gelu
        elif approx == "tanh":
            self._act = gelu_approx
        elif approx == "fast":
            self._act = gelu_fast_approx
        else:
            raise ValueError(
                "[GELU] approx must be 'none', 'precise', 'tanh' or 'fast'; "
                f"got {approx!r}."
            )
        self._approx = approx

    def __call__(self, x):
        return self._act(x)
