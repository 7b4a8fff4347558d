"""Neural network layers, losses and initializers (``mlx.nn``)."""
# ruff: noqa: F401, F403

from mlx.nn import init, losses
from mlx.nn.layers import *
from mlx.nn.utils import average_gradients, value_and_grad
