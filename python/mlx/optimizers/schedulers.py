"""Learning-rate schedules: functions of the optimizer step returning a rate."""

import math
from typing import Callable, List

import mlx.core as mx


def _as_float(step):
    if isinstance(step, mx.array):
        return step.astype(mx.float32)
    return mx.array(step, dtype=mx.float32)


__all__ = [
    "cosine_decay",
    "exponential_decay",
    "join_schedules",
    "linear_schedule",
    "step_decay",
]


def exponential_decay(init: float, decay_rate: float) -> Callable:
    """Schedule ``init * decay_rate ** step``.

    Example:
        >>> lr = exponential_decay(0.1, 0.9)
        >>> lr(2)  # 0.081
    """

    def schedule(step):
        return init * decay_rate ** _as_float(step)

    return schedule


def step_decay(init: float, decay_rate: float, step_size: int) -> Callable:
    """Schedule ``init * decay_rate ** (step // step_size)``.

    Example:
        >>> lr = step_decay(0.1, 0.9, 10)
        >>> lr(25)  # 0.1 * 0.9**2
    """

    def schedule(step):
        k = mx.floor(_as_float(step) / step_size)
        return init * decay_rate**k

    return schedule


def cosine_decay(init: float, decay_steps: int, end: float = 0.0) -> Callable:
    """Cosine decay from ``init`` to ``end`` over ``decay_steps``, then constant.

    ``lr(t) = end + (init - end) * (1 + cos(pi * min(t, decay_steps) / decay_steps)) / 2``

    Example:
        >>> lr = cosine_decay(1e-1, 1000)
    """

    def schedule(step):
        t = mx.minimum(_as_float(step), decay_steps)
        decay = 0.5 * (1.0 + mx.cos((math.pi / decay_steps) * t))
        return end + decay * (init - end)

    return schedule


def linear_schedule(init: float, end: float, steps: int) -> Callable:
    """Linear interpolation from ``init`` to ``end`` over ``steps``, then ``end``.

    Example:
        >>> warmup = linear_schedule(0, 1e-1, 100)
    """
    if steps < 1:
        raise ValueError(f"[linear_schedule] steps must be at least 1; got {steps}.")

    def schedule(step):
        t = mx.minimum(_as_float(step), steps)
        return t * ((end - init) / steps) + init

    return schedule


def join_schedules(schedules: List[Callable], boundaries: List[int]) -> Callable:
    """Chain schedules: ``schedules[i + 1]`` starts (at its step 0) at ``boundaries[i]``.

    Example:
        >>> lr = join_schedules([linear_schedule(0, 0.1, 10), cosine_decay(0.1, 200)], [10])
    """
    if len(schedules) == 0:
        raise ValueError("[join_schedules] at least one schedule is required; got 0.")
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            "[join_schedules] expected len(schedules) == len(boundaries) + 1; "
            f"got {len(schedules)} schedules and {len(boundaries)} boundaries."
        )

    def schedule(step):
        if not isinstance(step, mx.array):
            step = mx.array(step)
        out = schedules[0](step)
        for boundary, sched in zip(boundaries, schedules[1:]):
            # Subtract in signed arithmetic: step is unsigned in the optimizer.
            shifted = step.astype(mx.int64) - boundary
            out = mx.where(step < boundary, out, sched(shifted))
        return out

    return schedule
