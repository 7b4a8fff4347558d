"""Optimizers: the Optimizer base class and the update rules built on it."""

import math
from typing import Callable, List, Optional, Tuple, Union

import mlx.core as mx
from mlx.utils import tree_flatten, tree_map, tree_merge, tree_reduce, tree_unflatten

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adagrad",
    "AdaDelta",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Adafactor",
    "Muon",
    "MultiOptimizer",
    "clip_grad_norm",
]


def _describe(node) -> str:
    if isinstance(node, mx.array):
        return f"array of shape {tuple(node.shape)}"
    if isinstance(node, dict):
        return "dict"
    if isinstance(node, (list, tuple)):
        return f"{type(node).__name__} of length {len(node)}"
    return type(node).__name__


def _zeros(shape, dtype):
    """Zero optimizer state laid out like every later step's state. ``mx.zeros`` is a
    broadcast of one value; a first step reading that would run (on the GPU: compile) other
    fused kernels than the steps after it, which read ordinary contiguous state."""
    return mx.contiguous(mx.zeros(shape, dtype=dtype))


def _zeros_like(parameter):
    return _zeros(parameter.shape, parameter.dtype)


def _path(prefix, key):
    return f"{prefix}.{key}" if prefix else str(key)


class Optimizer:
    """Base class of all optimizers.

    Subclasses implement :meth:`init_single` (create the state of one parameter)
    and :meth:`apply_single` (return the updated parameter and update its state in
    place). The optimizer state is a dict holding ``"step"`` (a uint64 counter of
    applied updates), hyper-parameters such as ``"learning_rate"``, and one state
    dict per parameter laid out like the parameter tree.

    Args:
        schedulers (dict, optional): Maps a hyper-parameter name to a callable of
            the step giving its value.
    """

    def __init__(self, schedulers=None):
        self._initialized = False
        self._state = {"step": mx.array(0, mx.uint64)}
        self._schedulers = dict(schedulers or {})

    # -- state -----------------------------------------------------------------
    @property
    def state(self):
        """The optimizer state dict (step, hyper-parameters, per-parameter state)."""
        return self._state

    @state.setter
    def state(self, state: dict):
        self._initialized = False
        self._state = state

    @property
    def step(self):
        """The number of updates applied so far (a uint64 array)."""
        return self.state["step"]

    @property
    def learning_rate(self):
        """The current learning rate as an array."""
        return self.state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, learning_rate: Union[float, mx.array, Callable]):
        self._schedulers.pop("learning_rate", None)
        self._maybe_schedule("learning_rate", learning_rate)

    def _maybe_schedule(self, name: str, param: Union[float, mx.array, Callable]):
        """Store ``param`` in the state, as a schedule of the step if callable."""
        if callable(param):
            self._schedulers[name] = param
            value = param(self.step)
        else:
            value = mx.array(param)
        self.state[name] = value

    # -- initialization --------------------------------------------------------
    def init(self, parameters: dict):
        """Create the state of every parameter in ``parameters`` that has none.

        Existing state is kept, so a state loaded from a file survives. Calling
        this before the first update is optional.

        Example:
            >>> optimizer.init(model.trainable_parameters())
        """

        def fill(params, state):
            if isinstance(params, (list, tuple)):
                state = list(state) if isinstance(state, (list, tuple)) else []
                for i, p in enumerate(params):
                    if i < len(state):
                        state[i] = fill(p, state[i])
                    else:
                        state.append(fill(p, {}))
                return state
            if isinstance(params, dict):
                if not isinstance(state, dict):
                    state = {}
                for k, p in params.items():
                    state[k] = fill(p, state.get(k, {}))
                return state
            if isinstance(params, mx.array) and isinstance(state, dict) and not state:
                self.init_single(params, state)
            return state

        self._state = fill(parameters, self._state)
        self._initialized = True

    def init_single(self, parameter: mx.array, state: dict):
        """Fill ``state`` with the initial state of one parameter."""
        raise NotImplementedError

    def apply_single(self, gradient: mx.array, parameter: mx.array, state: dict):
        """Return the updated ``parameter`` and update ``state`` in place."""
        raise NotImplementedError

    # -- updates ---------------------------------------------------------------
    def update(self, model, gradients: dict):
        """Apply the gradients to the parameters of ``model`` in place.

        Args:
            model (mlx.nn.Module): The model to update.
            gradients (dict): Gradients, usually from ``nn.value_and_grad``.
        """
        model.update(self.apply_gradients(gradients, model))

    def apply_gradients(self, gradients: dict, parameters: dict):
        """Return the updated parameters (only those that have gradients).

        The gradient tree must be a sub-tree of the parameter tree with
        matching shapes; otherwise ValueError names the first place they differ.
        """
        if not self._initialized:
            self.init(gradients)

        for name, schedule in self._schedulers.items():
            self.state[name] = schedule(self.step)
        self.state["step"] = self.step + 1

        return self._apply_tree(gradients, parameters, self._state, "")

    def _error(self, msg: str):
        raise ValueError(f"[{type(self).__name__}] {msg}")

    def _apply_tree(self, grad, param, state, path):
        if isinstance(grad, (list, tuple)):
            if not isinstance(param, (list, tuple)):
                self._error(
                    f"gradients and parameters differ in structure at "
                    f"'{path or '<root>'}'; got gradient {_describe(grad)} and "
                    f"parameter {_describe(param)}."
                )
            if len(grad) > len(param):
                self._error(
                    f"gradient list is longer than the parameter list at "
                    f"'{path or '<root>'}'; got {len(grad)} gradients for "
                    f"{len(param)} parameters."
                )
            if not isinstance(state, list) or len(state) < len(grad):
                self._error(f"optimizer state is missing entries at '{path}'.")
            out = [
                self._apply_tree(g, p, s, _path(path, i))
                for i, (g, p, s) in enumerate(zip(grad, param, state))
            ]
            return type(grad)(out) if not isinstance(grad, list) else out
        if isinstance(grad, dict):
            if not isinstance(param, dict):
                self._error(
                    f"gradients and parameters differ in structure at "
                    f"'{path or '<root>'}'; got gradient {_describe(grad)} and "
                    f"parameter {_describe(param)}."
                )
            out = {}
            for k, g in grad.items():
                sub = _path(path, k)
                if k not in param:
                    self._error(
                        f"gradient '{sub}' has no matching parameter; got "
                        f"parameter keys {sorted(map(str, param.keys()))} "
                        f"at '{path or '<root>'}'."
                    )
                if not isinstance(state, dict):
                    self._error(f"optimizer state is missing entries at '{sub}'.")
                if k not in state:
                    state[k] = {}
                    if isinstance(g, mx.array):
                        self.init_single(g, state[k])
                    else:
                        state[k] = tree_map(lambda _: {}, g)
                        self._fill_state(g, state[k])
                out[k] = self._apply_tree(g, param[k], state[k], sub)
            return out
        if isinstance(grad, mx.array):
            if not isinstance(param, mx.array):
                self._error(
                    f"gradients and parameters differ in structure at "
                    f"'{path or '<root>'}'; got gradient {_describe(grad)} and "
                    f"parameter {_describe(param)}."
                )
            if tuple(grad.shape) != tuple(param.shape):
                self._error(
                    f"gradient and parameter shapes differ at '{path or '<root>'}'; "
                    f"got gradient.shape={tuple(grad.shape)}, "
                    f"parameter.shape={tuple(param.shape)}."
                )
            if not isinstance(state, dict):
                self._error(f"optimizer state is malformed at '{path}'.")
            if not state:
                self.init_single(param, state)
            return self.apply_single(grad, param, state)
        self._error(
            f"gradient at '{path or '<root>'}' is not an array; got {_describe(grad)}."
        )

    def _fill_state(self, params, state):
        if isinstance(params, (list, tuple)):
            for p, s in zip(params, state):
                self._fill_state(p, s)
        elif isinstance(params, dict):
            for k, p in params.items():
                self._fill_state(p, state[k])
        elif isinstance(params, mx.array):
            self.init_single(params, state)

    def _cached(self, key, deps, make):
        """A value derived from the arrays ``deps`` (compared by identity), made once per
        distinct ``deps``: the per-dtype learning rate and step factors are then one graph
        node per update instead of one per parameter."""
        cache = self.__dict__.setdefault("_scalar_cache", {})
        hit = cache.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], deps)):
            return hit[1]
        value = make()
        cache[key] = (deps, value)
        return value

    def _lr(self, like: mx.array) -> mx.array:
        lr = self.learning_rate
        return self._cached(("lr", like.dtype), (lr,), lambda: lr.astype(like.dtype))


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum and weight decay.

    .. math::
        v_{t+1} = \mu v_t + (1 - \tau) (g_t + \lambda w_t), \quad
        w_{t+1} = w_t - \eta v_{t+1}

    With ``nesterov=True`` the step uses ``g + \mu v_{t+1}`` instead of ``v_{t+1}``.

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        momentum (float): The momentum :math:`\mu`. Default: ``0``.
        weight_decay (float): The L2 penalty :math:`\lambda`. Default: ``0``.
        dampening (float): Dampening :math:`\tau` of the momentum. Default: ``0``.
        nesterov (bool): Use Nesterov momentum. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Union[float, Callable[[mx.array], mx.array]],
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
    ):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "[SGD] Nesterov momentum requires momentum > 0 and zero dampening; "
                f"got momentum={momentum}, dampening={dampening}."
            )
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov

    def init_single(self, parameter, state):
        state["v"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        if self.momentum <= 0:
            return parameter - lr * gradient
        v = self.momentum * state["v"]
        if self.dampening > 0:
            v = v + (1 - self.dampening) * gradient
        else:
            v = v + gradient
        state["v"] = v
        update = gradient + self.momentum * v if self.nesterov else v
        return parameter - lr * update


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman and Hinton, 2012).

    .. math::
        v_{t+1} = \alpha v_t + (1 - \alpha) g_t^2, \quad
        w_{t+1} = w_t - \eta \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        alpha (float): Smoothing constant. Default: ``0.99``.
        eps (float): Added to the denominator. Default: ``1e-8``.
    """

    def __init__(self, learning_rate, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__()
        if alpha < 0.0:
            raise ValueError(f"[RMSprop] alpha must be non-negative; got {alpha}.")
        if eps < 0.0:
            raise ValueError(f"[RMSprop] eps must be non-negative; got {eps}.")
        self._maybe_schedule("learning_rate", learning_rate)
        self.alpha = alpha
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        v = self.alpha * state["v"] + (1 - self.alpha) * mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011).

    .. math::
        v_{t+1} = v_t + g_t^2, \quad
        w_{t+1} = w_t - \eta \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        eps (float): Added to the denominator. Default: ``1e-8``.
    """

    def __init__(self, learning_rate, eps: float = 1e-8):
        super().__init__()
        if eps < 0.0:
            raise ValueError(f"[Adagrad] eps must be non-negative; got {eps}.")
        self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        v = state["v"] + mx.square(gradient)
        state["v"] = v
        return parameter - lr * gradient / (mx.sqrt(v) + self.eps)


class AdaDelta(Optimizer):
    r"""AdaDelta (Zeiler, 2012).

    .. math::
        v_{t+1} = \rho v_t + (1 - \rho) g_t^2, \quad
        \Delta w = \frac{\sqrt{u_t + \epsilon}}{\sqrt{v_{t+1} + \epsilon}} g_t, \\
        u_{t+1} = \rho u_t + (1 - \rho) \Delta w^2, \quad
        w_{t+1} = w_t - \eta \Delta w

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        rho (float): Decay of the running averages. Default: ``0.9``.
        eps (float): Added inside the square roots. Default: ``1e-6``.
    """

    def __init__(self, learning_rate, rho: float = 0.9, eps: float = 1e-6):
        super().__init__()
        if rho < 0.0:
            raise ValueError(f"[AdaDelta] rho must be non-negative; got {rho}.")
        if eps < 0.0:
            raise ValueError(f"[AdaDelta] eps must be non-negative; got {eps}.")
        self._maybe_schedule("learning_rate", learning_rate)
        self.rho = rho
        self.eps = eps

    def init_single(self, parameter, state):
        state["v"] = _zeros_like(parameter)
        state["u"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        rho, eps = self.rho, self.eps
        v = rho * state["v"] + (1 - rho) * mx.square(gradient)
        d = mx.sqrt(state["u"] + eps) / mx.sqrt(v + eps) * gradient
        u = rho * state["u"] + (1 - rho) * mx.square(d)
        state["v"] = v
        state["u"] = u
        return parameter - lr * d


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015).

    .. math::
        m_{t+1} = \beta_1 m_t + (1 - \beta_1) g_t, \quad
        v_{t+1} = \beta_2 v_t + (1 - \beta_2) g_t^2, \\
        w_{t+1} = w_t - \eta \frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}

    With ``bias_correction=True``, :math:`m` and :math:`v` are divided by
    :math:`1 - \beta_1^t` and :math:`1 - \beta_2^t` (``t`` counts from 1).

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        betas (Tuple[float, float]): :math:`(\beta_1, \beta_2)`.
            Default: ``(0.9, 0.999)``.
        eps (float): Added to the denominator. Default: ``1e-8``.
        bias_correction (bool): Apply bias correction. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        bias_correction: bool = False,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.eps = eps
        self.bias_correction = bias_correction

    def init_single(self, parameter, state):
        state["m"] = _zeros_like(parameter)
        state["v"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        b1, b2 = self.betas
        fused = _fused_adam_step(b1, b2, self.eps, self.bias_correction, False, gradient)
        if fused is not None:
            c1, c2 = self._bias_factors(lr, gradient)
            parameter, state["m"], state["v"] = fused(gradient, parameter, state["m"], state["v"], lr, c1, c2, lr)
            return parameter
        m = b1 * state["m"] + (1 - b1) * gradient
        v = b2 * state["v"] + (1 - b2) * mx.square(gradient)
        state["m"] = m
        state["v"] = v
        if self.bias_correction:
            c1, c2 = self._bias_factors(lr, gradient)
            return parameter - c1 * m / (mx.sqrt(v) * c2 + self.eps)
        return parameter - lr * m / (mx.sqrt(v) + self.eps)

    def _bias_factors(self, lr, gradient):
        if not self.bias_correction:
            return lr, lr  # unused by the step
        b1, b2 = self.betas
        step = self.step

        def make():
            t = step.astype(mx.float32)
            return (lr / (1 - b1**t)).astype(gradient.dtype), mx.rsqrt(1 - b2**t).astype(gradient.dtype)

        return self._cached(("bias", gradient.dtype, b1, b2), (lr, step), make)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    .. math::
        w_t \leftarrow w_t (1 - \eta \lambda), \text{ then the Adam step}

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        betas (Tuple[float, float]): Default: ``(0.9, 0.999)``.
        eps (float): Default: ``1e-8``.
        weight_decay (float): The decay :math:`\lambda`. Default: ``0.01``.
        bias_correction (bool): Default: ``False``.
    """

    def __init__(
        self,
        learning_rate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        bias_correction: bool = False,
    ):
        super().__init__(
            learning_rate=learning_rate,
            betas=betas,
            eps=eps,
            bias_correction=bias_correction,
        )
        self.weight_decay = weight_decay

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        b1, b2 = self.betas
        fused = _fused_adam_step(b1, b2, self.eps, self.bias_correction, True, gradient)
        wd = self.weight_decay
        decay = self._cached(("decay", gradient.dtype, wd), (lr,), lambda: 1 - lr * wd)
        if fused is not None:
            c1, c2 = self._bias_factors(lr, gradient)
            parameter, state["m"], state["v"] = fused(gradient, parameter, state["m"], state["v"], lr, c1, c2, decay)
            return parameter
        parameter = parameter * decay
        return super().apply_single(gradient, parameter, state)


class Adamax(Adam):
    r"""Adamax, the infinity-norm variant of Adam.

    .. math::
        m_{t+1} = \beta_1 m_t + (1 - \beta_1) g_t, \quad
        v_{t+1} = \max(\beta_2 v_t, |g_t|), \quad
        w_{t+1} = w_t - \eta \frac{m_{t+1}}{v_{t+1} + \epsilon}

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        betas (Tuple[float, float]): Default: ``(0.9, 0.999)``.
        eps (float): Default: ``1e-8``.
    """

    def __init__(self, learning_rate, betas: List[float] = [0.9, 0.999], eps=1e-8):
        super().__init__(learning_rate, betas, eps)
        if not 0.0 <= eps:
            raise ValueError(f"[Adamax] eps must be non-negative; got {eps}.")

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * gradient
        v = mx.maximum(b2 * state["v"], mx.abs(gradient))
        state["m"] = m
        state["v"] = v
        return parameter - lr * m / (v + self.eps)


class Lion(Optimizer):
    r"""Lion (Chen et al., 2023): the sign of an interpolated momentum.

    .. math::
        c = \beta_1 m_t + (1 - \beta_1) g_t, \quad
        m_{t+1} = \beta_2 m_t + (1 - \beta_2) g_t, \\
        w_{t+1} = w_t (1 - \eta \lambda) - \eta\, \mathrm{sign}(c)

    Args:
        learning_rate (float or callable): The learning rate :math:`\eta`.
        betas (Tuple[float, float]): Default: ``(0.9, 0.99)``.
        weight_decay (float): The decay :math:`\lambda`. Default: ``0``.
    """

    def __init__(
        self, learning_rate, betas: List[float] = [0.9, 0.99], weight_decay=0.0
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.weight_decay = weight_decay

    def init_single(self, parameter, state):
        state["m"] = _zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        b1, b2 = self.betas
        m = state["m"]
        c = b1 * m + (1 - b1) * gradient
        state["m"] = b2 * m + (1 - b2) * gradient
        if self.weight_decay > 0:
            parameter = (1 - lr * self.weight_decay) * parameter
        return parameter - lr * mx.sign(c)


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer and Stern, 2018): factored second moments.

    For parameters with two or more dimensions the second moment is kept as row
    and column averages over the last two axes; smaller ones keep it whole.

    Args:
        learning_rate (float or callable, optional): Used when
            ``relative_step=False``. Default: ``None``.
        eps (Tuple[float, float]): ``(eps1, eps2)``: added to the squared
            gradient, and the floor of the parameter scale. Default: ``(1e-30, 1e-3)``.
        clip_threshold (float): Threshold of the update's RMS. Default: ``1.0``.
        decay_rate (float): Exponent of the second-moment decay
            ``beta2 = 1 - t ** decay_rate``. Default: ``-0.8``.
        beta_1 (float, optional): If set, keep a first moment. Default: ``None``.
        weight_decay (float): Default: ``0``.
        scale_parameter (bool): Scale the step by the parameter's RMS.
            Default: ``True``.
        relative_step (bool): Use ``min(1e-2, 1/sqrt(t))`` as step size.
            Default: ``True``.
        warmup_init (bool): Use ``min(1e-6 t, 1/sqrt(t))``. Default: ``False``.
    """

    def __init__(
        self,
        learning_rate: Optional[Union[float, Callable]] = None,
        eps: Tuple[float, float] = (1e-30, 1e-3),
        clip_threshold: float = 1.0,
        decay_rate: float = -0.8,
        beta_1: Optional[float] = None,
        weight_decay: float = 0.0,
        scale_parameter: bool = True,
        relative_step: bool = True,
        warmup_init: bool = False,
    ):
        super().__init__()
        if learning_rate is not None:
            self._maybe_schedule("learning_rate", learning_rate)
        elif not relative_step:
            raise ValueError(
                "[Adafactor] learning_rate is required when relative_step=False; "
                "got None."
            )
        self.eps = eps
        self.clip_threshold = clip_threshold
        self.decay_rate = decay_rate
        self.beta_1 = beta_1
        self.weight_decay = weight_decay
        self.scale_parameter = scale_parameter
        self.relative_step = relative_step
        self.warmup_init = warmup_init

    def init_single(self, parameter, state):
        if parameter.ndim >= 2:
            shape = tuple(parameter.shape)
            state["exp_avg_sq_row"] = _zeros(shape[:-1], parameter.dtype)
            state["exp_avg_sq_col"] = _zeros(shape[:-2] + shape[-1:], parameter.dtype)
        else:
            state["exp_avg_sq"] = _zeros_like(parameter)
        if self.beta_1 is not None:
            state["exp_avg"] = _zeros_like(parameter)

    @staticmethod
    def _rms(x):
        return mx.sqrt(mx.mean(mx.square(x)))

    def _step_size(self, t, parameter_rms):
        if self.relative_step:
            floor = 1e-6 * t if self.warmup_init else 1e-2
            rel = mx.minimum(floor, mx.rsqrt(t))
        else:
            rel = self.learning_rate
        rel = rel.astype(parameter_rms.dtype)
        if self.scale_parameter:
            return mx.maximum(self.eps[1], parameter_rms) * rel
        return rel

    def apply_single(self, gradient, parameter, state):
        t = self.step.astype(mx.float32)
        parameter_rms = self._rms(parameter)
        lr = self._step_size(t, parameter_rms)
        beta_2 = (1.0 - t**self.decay_rate).astype(parameter_rms.dtype)
        sq = mx.square(gradient) + self.eps[0]
        if gradient.ndim >= 2:
            row = beta_2 * state["exp_avg_sq_row"] + (1 - beta_2) * mx.mean(sq, -1)
            col = beta_2 * state["exp_avg_sq_col"] + (1 - beta_2) * mx.mean(sq, -2)
            state["exp_avg_sq_row"] = row
            state["exp_avg_sq_col"] = col
            # The rank-1 estimate of v is outer(row, col) / mean(row).
            r = mx.rsqrt(row / mx.mean(row, axis=-1, keepdims=True))
            c = mx.rsqrt(col)
            update = mx.expand_dims(r, -1) * mx.expand_dims(c, -2) * gradient
        else:
            v = beta_2 * state["exp_avg_sq"] + (1 - beta_2) * sq
            state["exp_avg_sq"] = v
            update = mx.rsqrt(v) * gradient
        update = update / mx.maximum(1.0, self._rms(update) / self.clip_threshold)
        update = lr * update
        if self.beta_1 is not None:
            m = self.beta_1 * state["exp_avg"] + (1 - self.beta_1) * update
            state["exp_avg"] = m
            update = m
        if self.weight_decay != 0:
            parameter = parameter - self.weight_decay * lr * parameter
        return (parameter - update).astype(parameter.dtype)


class Muon(Optimizer):
    r"""Muon: momentum whose update is orthogonalized by Newton-Schulz iterations.

    Parameters with two or more dimensions (flattened to 2-D as
    ``(shape[0], -1)``) get the orthogonalized momentum, scaled by
    ``sqrt(max(1, rows / cols))``; others get plain (Nesterov) momentum SGD.

    Args:
        learning_rate (float or callable): The learning rate.
        momentum (float): Default: ``0.95``.
        weight_decay (float): L2 penalty added to the gradient. Default: ``0.01``.
        nesterov (bool): Default: ``True``.
        ns_steps (int): Newton-Schulz iterations. Default: ``5``.
    """

    def __init__(
        self,
        learning_rate,
        momentum: float = 0.95,
        weight_decay: float = 0.01,
        nesterov: bool = True,
        ns_steps: int = 5,
    ):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.ns_steps = ns_steps

    def init_single(self, parameter, state):
        state["v"] = _zeros_like(parameter)

    @staticmethod
    def _orthogonalize(x, steps):
        # Quintic Newton-Schulz iteration with the coefficients of Jordan et al.
        a, b, c = 3.4445, -4.7750, 2.0315
        x = x.astype(mx.bfloat16)
        transpose = x.shape[-2] > x.shape[-1]
        if transpose:
            x = x.T
        x = x / (mx.sqrt(mx.sum(mx.square(x.astype(mx.float32)))) + 1e-7).astype(
            x.dtype
        )
        for _ in range(steps):
            A = x @ x.T
            B = b * A + c * (A @ A)
            x = a * x + B @ x
        if transpose:
            x = x.T
        return x

    def apply_single(self, gradient, parameter, state):
        lr = self._lr(gradient)
        if self.weight_decay != 0:
            gradient = gradient + self.weight_decay * parameter
        v = self.momentum * state["v"] + (1 - self.momentum) * gradient
        state["v"] = v
        if self.nesterov:
            update = gradient * (1 - self.momentum) + v * self.momentum
        else:
            update = v
        if update.ndim >= 2:
            shape = update.shape
            flat = update.reshape(shape[0], -1) if update.ndim > 2 else update
            flat = self._orthogonalize(flat, self.ns_steps)
            update = flat.reshape(shape)
            lr = lr * math.sqrt(max(1.0, flat.shape[-2] / flat.shape[-1]))
        return parameter - lr * update.astype(gradient.dtype)


class MultiOptimizer(Optimizer):
    """Use different optimizers for different parameters.

    Each gradient goes to the first optimizer whose filter accepts it; the last
    optimizer takes the rest, so ``len(filters) == len(optimizers) - 1``.

    Args:
        optimizers (list[Optimizer]): The optimizers.
        filters (list[Callable[[str, mx.array], bool]]): Called with the dotted
            path and gradient of each parameter.

    Example:
        >>> opt = MultiOptimizer([Adam(1e-3), SGD(1e-2)], [lambda k, g: "bias" in k])
    """

    def __init__(self, optimizers, filters: list = []):
        super().__init__()
        self._state = {}
        if len(filters) != len(optimizers) - 1:
            raise ValueError(
                "[MultiOptimizer] expected len(filters) == len(optimizers) - 1; "
                f"got {len(filters)} filters and {len(optimizers)} optimizers."
            )
        self.optimizers = list(optimizers)
        self.filters = list(filters) + [lambda *args, **kwargs: True]

    def _split(self, gradients):
        if len(self.optimizers) == 1:
            return [gradients]
        parts = [[] for _ in self.optimizers]
        for k, g in tree_flatten(gradients):
            for i, accept in enumerate(self.filters):
                if accept(k, g):
                    parts[i].append((k, g))
                    break
        return [tree_unflatten(p) if p else {} for p in parts]

    def init(self, parameters: dict):
        for opt, p in zip(self.optimizers, self._split(parameters)):
            opt.init(p)

    def apply_gradients(self, gradients: dict, parameters: dict):
        tree = {}
        for opt, g in zip(self.optimizers, self._split(gradients)):
            tree = tree_merge(tree, opt.apply_gradients(g, parameters))
        return tree

    @property
    def state(self):
        return {"states": [o.state for o in self.optimizers]}

    @state.setter
    def state(self, state: dict):
        if "states" not in state or len(state["states"]) != len(self.optimizers):
            raise ValueError(
                "[MultiOptimizer] state must hold one 'states' entry per optimizer; "
                f"got keys {sorted(state.keys())}."
            )
        for o, s in zip(self.optimizers, state["states"]):
            o.state = s

    @property
    def step(self):
        return self.optimizers[0].step

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        for o in self.optimizers:
            o.learning_rate = learning_rate


def clip_grad_norm(grads, max_norm: float):
    """Scale gradients so that their global L2 norm is at most ``max_norm``.

    Args:
        grads (dict): A tree of gradients.
        max_norm (float): The largest allowed norm.

    Returns:
        (dict, mx.array): The clipped gradients and the norm before clipping.

    Example:
        >>> grads, norm = clip_grad_norm(grads, max_norm=1.0)
    """
    if not isinstance(max_norm, mx.array):
        max_norm = float(max_norm)
    norm_sq = tree_reduce(lambda acc, g: acc + mx.sum(mx.square(g)), grads, 0.0)
    total_norm = mx.sqrt(norm_sq)
    scale = max_norm / (total_norm + 1e-6)
    clipped = tree_map(
        lambda g: mx.where(total_norm < max_norm, g, g * scale.astype(g.dtype)), grads
    )
    return clipped, total_norm


# On the GPU, an Adam/AdamW step of one parameter is a dozen elementwise ops, each a kernel
# launch; compiled, they fuse into one kernel that writes the parameter and both moments. The
# math is the same ops in the same order (fused kernels round each step to its dtype), so
# results match the unfused step. On the CPU the unfused ops are kept (their per-op cost is
# small and compile's lookup is not).
_FUSED_ADAM = {}


def _fused_adam_step(b1, b2, eps, bias_correction, decayed, gradient):
    """The compiled Adam step ``(g, p, m, v, lr, c1, c2, decay) -> (p, m, v)``, where ``decay``
    (``1 - lr * weight_decay``, made once per update) scales ``p`` first when ``decayed``."""
    if mx.default_device() != mx.gpu or not isinstance(gradient, mx.array):
        return None
    key = (float(b1), float(b2), float(eps), bool(bias_correction), bool(decayed))
    fn = _FUSED_ADAM.get(key)
    if fn is None:

        def step(g, p, m, v, lr, c1, c2, decay):
            if decayed:
                p = p * decay
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * mx.square(g)
            if bias_correction:
                return p - c1 * m / (mx.sqrt(v) * c2 + eps), m, v
            return p - lr * m / (mx.sqrt(v) + eps), m, v

        fn = _FUSED_ADAM[key] = mx.compile(step)
    return fn
