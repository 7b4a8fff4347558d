"""Optimizers and learning-rate schedules (``mlx.optimizers``)."""
# ruff: noqa: F401, F403

from mlx.optimizers.optimizers import *
from mlx.optimizers.schedulers import *
