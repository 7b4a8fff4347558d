"""Sequential container."""

from mlx.nn.layers.base import Module


class Sequential(Module):
    """Call a list of modules (or callables) in order.

    Args:
        modules: The layers, applied first to last. Plain functions are allowed.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    """

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
