"""Recurrent layers: RNN, GRU, LSTM (input ``(N, L, D)`` or ``(L, D)``)."""

import math
from typing import Callable, Optional

import mlx.core as mx
from mlx.nn.layers.activations import tanh
from mlx.nn.layers.base import Module


def _check_input(layer, x, input_size):
    if x.ndim not in (2, 3) or x.shape[-1] != input_size:
        raise ValueError(
            f"[{layer}] expected input (N, L, {input_size}) or (L, {input_size}); "
            f"got x.shape={tuple(x.shape)}."
        )


class RNN(Module):
    r"""Elman recurrent layer: :math:`h_{t+1} = f(x_t W_{xh}^\top + b + h_t W_{hh}^\top)`.

    Returns the hidden states of all steps, shape ``(N, L, hidden_size)``.
    Parameters ``Wxh`` ``(H, D)``, ``Whh`` ``(H, H)``, ``bias`` ``(H,)`` are
    initialized from :math:`\mathcal{U}(-k, k)`, :math:`k = 1/\sqrt{H}`.

    Args:
        input_size (int): Dimension ``D`` of the input.
        hidden_size (int): Dimension ``H`` of the hidden state.
        bias (bool): Default: ``True``.
        nonlinearity (callable, optional): :math:`f`. Default: :func:`tanh`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Optional[Callable] = None,
    ):
        super().__init__()
        self.nonlinearity = nonlinearity or tanh
        if not callable(self.nonlinearity):
            raise ValueError(
                f"[RNN] nonlinearity must be callable; got {self.nonlinearity!r}."
            )
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wxh = mx.random.uniform(-scale, scale, (hidden_size, input_size))
        self.Whh = mx.random.uniform(-scale, scale, (hidden_size, hidden_size))
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (hidden_size,))

    def _extra_repr(self):
        return (
            f"input_dims={self.Wxh.shape[1]}, hidden_size={self.hidden_size}, "
            f"nonlinearity={self.nonlinearity}, bias={'bias' in self}"
        )

    def __call__(self, x, hidden=None):
        _check_input("RNN", x, self.Wxh.shape[1])
        if "bias" in self:
            x = mx.addmm(self.bias, x, self.Wxh.T)
        else:
            x = x @ self.Wxh.T
        states = []
        for t in range(x.shape[-2]):
            h = x[..., t, :]
            if hidden is not None:
                h = h + hidden @ self.Whh.T
            hidden = self.nonlinearity(h)
            states.append(hidden)
        return mx.stack(states, axis=-2)


class GRU(Module):
    r"""Gated recurrent unit layer.

    .. math::
        r = \sigma(W_{xr} x_t + W_{hr} h_t + b_r), \quad
        z = \sigma(W_{xz} x_t + W_{hz} h_t + b_z), \\
        n = \tanh(W_{xn} x_t + b_n + r \odot (W_{hn} h_t + b_{hn})), \quad
        h_{t+1} = (1 - z) \odot n + z \odot h_t

    Returns the hidden states of all steps, ``(N, L, H)``. Parameters ``Wx``
    ``(3H, D)``, ``Wh`` ``(3H, H)`` (gates in order r, z, n), ``b`` ``(3H,)`` and
    ``bhn`` ``(H,)``. A missing initial state counts as zeros.

    Args:
        input_size (int): Dimension ``D`` of the input.
        hidden_size (int): Dimension ``H`` of the hidden state.
        bias (bool): Default: ``True``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wx = mx.random.uniform(-scale, scale, (3 * hidden_size, input_size))
        self.Wh = mx.random.uniform(-scale, scale, (3 * hidden_size, hidden_size))
        if bias:
            self.b = mx.random.uniform(-scale, scale, (3 * hidden_size,))
            self.bhn = mx.random.uniform(-scale, scale, (hidden_size,))

    def _extra_repr(self):
        return (
            f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, "
            f"bias={'b' in self}"
        )

    def __call__(self, x, hidden=None):
        _check_input("GRU", x, self.Wx.shape[1])
        H = self.hidden_size
        if "b" in self:
            x = mx.addmm(self.b, x, self.Wx.T)
        else:
            x = x @ self.Wx.T
        states = []
        for t in range(x.shape[-2]):
            xt = x[..., t, :]
            x_rz, x_n = xt[..., : 2 * H], xt[..., 2 * H :]
            if hidden is not None:
                hp = hidden @ self.Wh.T
                h_rz, h_n = hp[..., : 2 * H], hp[..., 2 * H :]
                x_rz = x_rz + h_rz
            else:
                h_n = None
            if "bhn" in self:
                h_n = self.bhn if h_n is None else h_n + self.bhn
            rz = mx.sigmoid(x_rz)
            r, z = rz[..., :H], rz[..., H:]
            if h_n is not None:
                x_n = x_n + r * h_n
            n = mx.tanh(x_n)
            if hidden is not None:
                hidden = (1 - z) * n + z * hidden
            else:
                hidden = (1 - z) * n
            states.append(hidden)
        return mx.stack(states, axis=-2)


class LSTM(Module):
    r"""Long short-term memory layer.

    .. math::
        i = \sigma(W_{xi} x_t + W_{hi} h_t + b_i), \;
        f = \sigma(W_{xf} x_t + W_{hf} h_t + b_f), \\
        g = \tanh(W_{xg} x_t + W_{hg} h_t + b_g), \;
        o = \sigma(W_{xo} x_t + W_{ho} h_t + b_o), \\
        c_{t+1} = f \odot c_t + i \odot g, \quad h_{t+1} = o \odot \tanh(c_{t+1})

    Returns ``(hidden_states, cell_states)``, each ``(N, L, H)``. Parameters
    ``Wx`` ``(4H, D)``, ``Wh`` ``(4H, H)`` (gates in order i, f, g, o) and
    ``bias`` ``(4H,)``.

    Args:
        input_size (int): Dimension ``D`` of the input.
        hidden_size (int): Dimension ``H`` of the hidden and cell states.
        bias (bool): Default: ``True``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.hidden_size = hidden_size
        scale = 1.0 / math.sqrt(hidden_size)
        self.Wx = mx.random.uniform(-scale, scale, (4 * hidden_size, input_size))
        self.Wh = mx.random.uniform(-scale, scale, (4 * hidden_size, hidden_size))
        if bias:
            self.bias = mx.random.uniform(-scale, scale, (4 * hidden_size,))

    def _extra_repr(self):
        return (
            f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, "
            f"bias={'bias' in self}"
        )

    def __call__(self, x, hidden=None, cell=None):
        _check_input("LSTM", x, self.Wx.shape[1])
        H = self.hidden_size
        if "bias" in self:
            x = mx.addmm(self.bias, x, self.Wx.T)
        else:
            x = x @ self.Wx.T
        hs, cs = [], []
        for t in range(x.shape[-2]):
            g = x[..., t, :]
            if hidden is not None:
                g = g + hidden @ self.Wh.T
            i = mx.sigmoid(g[..., :H])
            f = mx.sigmoid(g[..., H : 2 * H])
            c_new = mx.tanh(g[..., 2 * H : 3 * H])
            o = mx.sigmoid(g[..., 3 * H :])
            cell = i * c_new if cell is None else f * cell + i * c_new
            hidden = o * mx.tanh(cell)
            hs.append(hidden)
            cs.append(cell)
        return mx.stack(hs, axis=-2), mx.stack(cs, axis=-2)
