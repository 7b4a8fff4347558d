"""Optimizers and learning-rate schedules (``mlx.optimizers``)."""

from mlx.optimizers.optimizers import *  # noqa: F401,F403
from mlx.optimizers.schedulers import *  # noqa: F401,F403
