"""Helpers that connect Modules to the function transforms."""

from functools import wraps
from typing import Any, Callable, Optional

import mlx.core as mx
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from .layers.base import Module


def value_and_grad(model: Module, fn: Callable):
    """Transform ``fn`` to also return the gradient w.r.t. the model's trainable
    parameters.

    Args:
        model (Module): The model whose trainable parameters are differentiated.
        fn (Callable): A function that uses ``model`` and returns a scalar loss.

    Returns:
        A function with the arguments of ``fn`` returning ``(value, grads)``;
        ``grads`` has the structure of ``model.trainable_parameters()``.

    Example:
        >>> loss_and_grad = nn.value_and_grad(model, lambda x, y: loss(model(x), y))
        >>> loss, grads = loss_and_grad(x, y)
    """

    def inner(params, *args, **kwargs):
        model.update(params)
        return fn(*args, **kwargs)

    value_grad = mx.value_and_grad(inner)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return value_grad(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module: Module, fn: Optional[Callable] = None):
    """Recompute ``fn`` (default: ``module.__call__``) in the backward pass instead
    of storing its intermediate values.

    Returns:
        A function with the signature of ``fn``.
    """
    if fn is None:
        fn = module.__call__

    def inner(params, *args, **kwargs):
        module.update(params)
        return fn(*args, **kwargs)

    checkpointed = mx.checkpoint(inner)

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return checkpointed(module.trainable_parameters(), *args, **kwargs)

    return wrapped


def average_gradients(
    gradients: Any,
    group: Optional[Any] = None,
    all_reduce_size: int = 32 * 1024**2,
    communication_stream: Optional[Any] = None,
):
    """Average gradients over the processes of a distributed group.

    Small gradients are concatenated into buffers of about ``all_reduce_size``
    bytes before the all-reduce, to send fewer messages. With one process the
    gradients are returned unchanged.

    Args:
        gradients: A tree of arrays.
        group: The ``mx.distributed`` group. Default: the global group.
        all_reduce_size (int): Bytes per all-reduce; 0 or less reduces each
            array separately.
        communication_stream: Stream for the communication. Default: the
            default stream.
    """
    group = group or mx.distributed.init()
    n = group.size()
    if n == 1:
        return gradients

    kwargs = {"stream": communication_stream} if communication_stream else {}

    def average(x):
        return mx.distributed.all_sum(x, group=group, **kwargs) / n

    if all_reduce_size <= 0:
        return tree_map(average, gradients)

    flat = tree_flatten(gradients)
    if not flat:
        return gradients
    keys = [k for k, _ in flat]
    values = [v for _, v in flat]
    dtype = values[0].dtype
    if any(v.dtype != dtype for v in values):
        return tree_map(average, gradients)

    out = []
    bucket, size = [], 0

    def flush():
        if not bucket:
            return
        shapes = [v.shape for v in bucket]
        sizes = [v.size for v in bucket]
        joined = average(mx.concatenate([v.reshape(-1) for v in bucket]))
        offsets = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
        for part, shape in zip(mx.split(joined, offsets), shapes):
            out.append(part.reshape(shape))

    for v in values:
        bucket.append(v)
        size += v.nbytes
        if size >= all_reduce_size:
            flush()
            bucket, size = [], 0
    flush()
    return tree_unflatten(list(zip(keys, out)))
