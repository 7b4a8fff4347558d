"""The single-process distributed group and the sharded layers built on it."""

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn


def test_single_process_group_collectives():
    g = mx.distributed.init()
    assert g.rank() == 0 and g.size() == 1
    assert mx.distributed.is_available()
    x = mx.arange(6, dtype=mx.float32).reshape(2, 3)
    for fn in (mx.distributed.all_sum, mx.distributed.all_max, mx.distributed.all_min,
               mx.distributed.all_gather, mx.distributed.sum_scatter):
        np.testing.assert_array_equal(np.array(fn(x)), np.array(x))
    with pytest.raises(ValueError):
        mx.distributed.send(x, 0)


@pytest.mark.parametrize("sharding", ["all-to-sharded", "sharded-to-all"])
def test_shard_linear_matches_linear(sharding):
    mx.random.seed(0)
    lin = nn.Linear(8, 6)
    sh = nn.layers.distributed.shard_linear(lin, sharding)
    x = mx.random.normal((3, 8))
    np.testing.assert_allclose(np.array(sh(x)), np.array(lin(x)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError):
        nn.layers.distributed.shard_linear(lin, "sideways")


def test_sharded_layers_train():
    mx.random.seed(1)
    model = nn.Sequential(nn.AllToShardedLinear(4, 8), nn.ReLU(), nn.ShardedToAllLinear(8, 1))
    x = mx.random.normal((16, 4))
    y = x.sum(axis=1, keepdims=True)
    loss_fn = lambda m, x, y: nn.losses.mse_loss(m(x), y)
    vg = nn.value_and_grad(model, loss_fn)
    first = None
    for _ in range(50):
        loss, g = vg(model, x, y)
        grads = nn.average_gradients(g)
        model.update(__import__("mlx.utils", fromlist=["tree_map"]).tree_map(lambda p, d: p - 0.05 * d, model.parameters(), grads))
        mx.eval(model.parameters())
        first = first if first is not None else loss.item()
    assert loss.item() < first / 5
    assert nn.fully_shard(model)(x).shape == (16, 1)
