"""Neural network layers, losses and initializers (``mlx.nn``)."""

from mlx.nn import init, losses
from mlx.nn.layers import *  # noqa: F403
from mlx.nn.utils import average_gradients, value_and_grad
