"""Dropout layers."""

import mlx.core as mx
from mlx.nn.layers.base import Module


def _check_p(layer, p):
    if p < 0 or p >= 1:
        raise ValueError(f"[{layer}] dropout probability must be in [0, 1); got p={p}.")


class Dropout(Module):
    r"""Zero elements with probability ``p`` in training, scaling the rest by
    :math:`1/(1-p)`. Does nothing in eval mode.

    Args:
        p (float): The probability of zeroing an element. Default: ``0.5``.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_p("Dropout", p)
        self._p_1 = 1 - p

    def _extra_repr(self):
        return f"p={1 - self._p_1}"

    def __call__(self, x):
        if self._p_1 == 1 or not self.training:
            return x
        mask = mx.random.bernoulli(self._p_1, x.shape)
        return (mask * x) * (1 / self._p_1)


class Dropout2d(Module):
    r"""Zero whole channels with probability ``p`` in training.

    The input is ``(N, H, W, C)`` or ``(H, W, C)``; one draw is made per batch
    element and channel, shared across ``H`` and ``W``. Kept channels are scaled
    by :math:`1/(1-p)`.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_p("Dropout2d", p)
        self._p_1 = 1 - p

    def _extra_repr(self):
        return f"p={1 - self._p_1}"

    def __call__(self, x: mx.array) -> mx.array:
        if x.ndim not in (3, 4):
            raise ValueError(
                "[Dropout2d] expected an input with 3 or 4 dimensions; "
                f"got x.shape={tuple(x.shape)}."
            )
        if self._p_1 == 1 or not self.training:
            return x
        mask_shape = list(x.shape)
        mask_shape[-2] = mask_shape[-3] = 1
        mask = mx.random.bernoulli(p=self._p_1, shape=mask_shape)
        return (1 / self._p_1) * mask * x


class Dropout3d(Module):
    r"""Zero whole channels of volumetric input with probability ``p`` in training.

    The input is ``(N, D, H, W, C)`` or ``(D, H, W, C)``; one draw is made per batch
    element and channel. Kept channels are scaled by :math:`1/(1-p)`.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_p("Dropout3d", p)
        self._p_1 = 1 - p

    def _extra_repr(self):
        return f"p={1 - self._p_1}"

    def __call__(self, x: mx.array) -> mx.array:
        if x.ndim not in (4, 5):
            raise ValueError(
                "[Dropout3d] expected an input with 4 or 5 dimensions; "
                f"got x.shape={tuple(x.shape)}."
            )
        if self._p_1 == 1 or not self.training:
            return x
        mask_shape = list(x.shape)
        mask_shape[-2] = mask_shape[-3] = mask_shape[-4] = 1
        mask = mx.random.bernoulli(p=self._p_1, shape=mask_shape)
        return (1 / self._p_1) * mask * x
