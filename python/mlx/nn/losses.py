"""Loss functions. Each takes ``reduction``: ``'none'``, ``'mean'`` or ``'sum'``."""

import math
from typing import Literal, Optional

import mlx.core as mx

Reduction = Literal["none", "mean", "sum"]


def _reduce(loss: mx.array, reduction: Reduction = "none"):
    if reduction == "mean":
        return mx.mean(loss)
    if reduction == "sum":
        return mx.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(
        f"[losses] reduction must be 'none', 'mean' or 'sum'; got {reduction!r}."
    )


def _check_same_shape(name, a, b, a_name="predictions", b_name="targets"):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"[{name}] {a_name} and {b_name} must have the same shape; got "
            f"{a_name}.shape={tuple(a.shape)}, {b_name}.shape={tuple(b.shape)}."
        )


def cross_entropy(
    logits: mx.array,
    targets: mx.array,
    weights: Optional[mx.array] = None,
    axis: int = -1,
    label_smoothing: float = 0.0,
    reduction: Reduction = "none",
) -> mx.array:
    r"""Cross entropy between ``logits`` and class indices or probabilities.

    .. math:: \ell = \log \sum_j e^{z_j} - \sum_j q_j z_j

    where :math:`q` is the one-hot target (or the given probabilities), smoothed
    as :math:`(1 - \alpha) q + \alpha / C` with ``label_smoothing`` :math:`\alpha`.

    Args:
        logits: Unnormalized scores.
        targets: Integer classes (``logits`` without ``axis``) or probabilities
            (the shape of ``logits``).
        weights: Optional per-sample weights, shaped like the unreduced loss.
        axis (int): The class axis. Default: ``-1``.
        label_smoothing (float): In ``[0, 1)``. Default: ``0``.
        reduction (str): Default: ``'none'``.

    Example:
        >>> nn.losses.cross_entropy(mx.array([[2.0, -1.0]]), mx.array([0]))
    """
    if label_smoothing < 0 or label_smoothing >= 1:
        raise ValueError(
            f"[cross_entropy] label_smoothing must be in [0, 1); got {label_smoothing}."
        )
    probs = targets.ndim == logits.ndim
    if probs:
        if tuple(targets.shape) != tuple(logits.shape):
            raise ValueError(
                "[cross_entropy] probability targets must have the shape of logits; "
                f"got targets.shape={tuple(targets.shape)}, "
                f"logits.shape={tuple(logits.shape)}."
            )
    else:
        expected = list(logits.shape)
        expected.pop(axis)
        if list(targets.shape) != expected:
            raise ValueError(
                "[cross_entropy] class targets must have the shape of logits "
                f"without axis {axis}; got targets.shape={tuple(targets.shape)}, "
                f"logits.shape={tuple(logits.shape)}."
            )

    if probs:
        score = mx.sum(logits * targets, axis=axis)
    else:
        score = mx.take_along_axis(
            logits, mx.expand_dims(targets, axis), axis=axis
        ).squeeze(axis)
    lse = mx.logsumexp(logits, axis=axis)
    if label_smoothing > 0:
        mean_logits = mx.mean(logits, axis=axis)
        loss = lse - (1 - label_smoothing) * score - label_smoothing * mean_logits
    else:
        loss = lse - score

    if weights is not None:
        if tuple(weights.shape) != tuple(loss.shape):
            raise ValueError(
                "[cross_entropy] weights must have the shape of the loss; got "
                f"weights.shape={tuple(weights.shape)}, loss shape "
                f"{tuple(loss.shape)}."
            )
        loss = loss * weights
    return _reduce(loss, reduction)


def binary_cross_entropy(
    inputs: mx.array,
    targets: mx.array,
    weights: Optional[mx.array] = None,
    with_logits: bool = True,
    reduction: Reduction = "mean",
) -> mx.array:
    r"""Binary cross entropy :math:`-(y \log p + (1 - y) \log(1 - p))`.

    Args:
        inputs: Logits (``with_logits=True``) or probabilities.
        targets: Targets in ``[0, 1]``.
        weights: Optional weights, shaped like ``inputs``.
        with_logits (bool): ``inputs`` are logits. Default: ``True``.
        reduction (str): Default: ``'mean'``.
    """
    _check_same_shape("binary_cross_entropy", inputs, targets, "inputs", "targets")
    if with_logits:
        loss = mx.logaddexp(0.0, inputs) - inputs * targets
    else:
        # Clamp the logs as PyTorch does, so p = 0 or 1 gives a finite loss.
        log_p = mx.maximum(mx.log(inputs), -100)
        log_1p = mx.maximum(mx.log(1 - inputs), -100)
        loss = -(targets * log_p + (1 - targets) * log_1p)
    if weights is not None:
        if tuple(weights.shape) != tuple(loss.shape):
            raise ValueError(
                "[binary_cross_entropy] weights must have the shape of inputs; got "
                f"weights.shape={tuple(weights.shape)}, "
                f"inputs.shape={tuple(inputs.shape)}."
            )
        loss = loss * weights
    return _reduce(loss, reduction)


def l1_loss(
    predictions: mx.array, targets: mx.array, reduction: Reduction = "mean"
) -> mx.array:
    r"""Mean absolute error :math:`|p - y|`. Default reduction ``'mean'``."""
    _check_same_shape("l1_loss", predictions, targets)
    return _reduce(mx.abs(predictions - targets), reduction)


def mse_loss(
    predictions: mx.array, targets: mx.array, reduction: Reduction = "mean"
) -> mx.array:
    r"""Mean squared error :math:`(p - y)^2`. Default reduction ``'mean'``."""
    _check_same_shape("mse_loss", predictions, targets)
    return _reduce(mx.square(predictions - targets), reduction)


def nll_loss(
    inputs: mx.array, targets: mx.array, axis: int = -1, reduction: Reduction = "none"
) -> mx.array:
    r"""Negative log likelihood :math:`-\log p_y` of log probabilities ``inputs``
    at the integer classes ``targets``."""
    loss = -mx.take_along_axis(inputs, mx.expand_dims(targets, axis), axis).squeeze(
        axis
    )
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    inputs: mx.array,
    targets: mx.array,
    vars: mx.array,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> mx.array:
    r"""Negative Gaussian log likelihood with mean ``inputs`` and variance ``vars``.

    .. math:: \frac12 \left(\log \max(\sigma^2, \epsilon)
              + \frac{(y - \mu)^2}{\max(\sigma^2, \epsilon)}\right)
              \; [+ \tfrac12 \log 2\pi \text{ if full}]
    """
    _check_same_shape("gaussian_nll_loss", inputs, targets, "inputs", "targets")
    if tuple(vars.shape) != tuple(inputs.shape):
        raise ValueError(
            "[gaussian_nll_loss] vars must have the shape of inputs; got "
            f"vars.shape={tuple(vars.shape)}, inputs.shape={tuple(inputs.shape)}."
        )
    vars = mx.maximum(vars, eps)
    loss = 0.5 * (mx.log(vars) + mx.square(targets - inputs) / vars)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div_loss(
    inputs: mx.array, targets: mx.array, axis: int = -1, reduction: Reduction = "none"
) -> mx.array:
    r"""Kullback-Leibler divergence :math:`\sum e^{t} (t - x)` of log probabilities
    ``targets`` (:math:`t`) from log probabilities ``inputs`` (:math:`x`)."""
    loss = mx.sum(mx.exp(targets) * (targets - inputs), axis=axis)
    return _reduce(loss, reduction)


def smooth_l1_loss(
    predictions: mx.array,
    targets: mx.array,
    beta: float = 1.0,
    reduction: Reduction = "mean",
) -> mx.array:
    r"""Smooth L1: :math:`0.5 d^2 / \beta` where :math:`d = |p - y| < \beta`,
    else :math:`d - 0.5 \beta`."""
    _check_same_shape("smooth_l1_loss", predictions, targets)
    diff = mx.abs(predictions - targets)
    loss = mx.where(diff < beta, 0.5 * mx.square(diff) / beta, diff - 0.5 * beta)
    return _reduce(loss, reduction)


def triplet_loss(
    anchors: mx.array,
    positives: mx.array,
    negatives: mx.array,
    axis: int = -1,
    p: int = 2,
    margin: float = 1.0,
    eps: float = 1e-6,
    reduction: Reduction = "none",
) -> mx.array:
    r"""Triplet margin loss
    :math:`\max(\|a - p\|_p - \|a - n\|_p + \text{margin}, 0)`, with ``eps`` added
    inside the norm's root for a finite gradient at 0."""

    def dist(a, b):
        d = mx.abs(a - b) if p % 2 else a - b
        return mx.power(mx.sum(mx.power(d, p), axis=axis) + eps, 1.0 / p)

    loss = mx.maximum(dist(anchors, positives) - dist(anchors, negatives) + margin, 0)
    return _reduce(loss, reduction)


def hinge_loss(
    inputs: mx.array, targets: mx.array, reduction: Reduction = "none"
) -> mx.array:
    r"""Hinge loss :math:`\max(1 - y x, 0)` for targets in ``{-1, 1}``."""
    return _reduce(mx.maximum(1 - inputs * targets, 0), reduction)


def huber_loss(
    inputs: mx.array, targets: mx.array, delta: float = 1.0, reduction="none"
) -> mx.array:
    r"""Huber loss: :math:`0.5 e^2` for :math:`|e| \le \delta`, else
    :math:`\delta (|e| - 0.5 \delta)`, with :math:`e = x - y`."""
    err = mx.abs(inputs - targets)
    quad = mx.minimum(err, delta)
    loss = 0.5 * mx.square(quad) + delta * (err - quad)
    return _reduce(loss, reduction)


def log_cosh_loss(
    inputs: mx.array, targets: mx.array, reduction: Reduction = "none"
) -> mx.array:
    r"""Log-cosh loss :math:`\log \cosh(x - y)`, computed stably."""
    err = inputs - targets
    loss = mx.logaddexp(err, -err) - math.log(2)
    return _reduce(loss, reduction)


def cosine_similarity_loss(
    x1: mx.array,
    x2: mx.array,
    axis: int = 1,
    eps: float = 1e-8,
    reduction: Reduction = "none",
) -> mx.array:
    r"""Cosine similarity :math:`\frac{x_1 \cdot x_2}{\max(\|x_1\| \|x_2\|, \epsilon)}`
    along ``axis`` (note: the similarity itself, not ``1 -`` it)."""
    n1 = mx.sqrt(mx.sum(mx.square(x1), axis=axis))
    n2 = mx.sqrt(mx.sum(mx.square(x2), axis=axis))
    loss = mx.sum(x1 * x2, axis=axis) / mx.maximum(n1 * n2, eps)
    return _reduce(loss, reduction)


def margin_ranking_loss(
    inputs1: mx.array,
    inputs2: mx.array,
    targets: mx.array,
    margin: float = 0.0,
    reduction: Reduction = "none",
) -> mx.array:
    r"""Margin ranking loss :math:`\max(0, -y (x_1 - x_2) + \text{margin})`."""
    if not (inputs1.shape == inputs2.shape == targets.shape):
        raise ValueError(
            "[margin_ranking_loss] inputs1, inputs2 and targets must have the same "
            f"shape; got inputs1.shape={tuple(inputs1.shape)}, "
            f"inputs2.shape={tuple(inputs2.shape)}, "
            f"targets.shape={tuple(targets.shape)}."
        )
    loss = mx.maximum(0, -targets * (inputs1 - inputs2) + margin)
    return _reduce(loss, reduction)
