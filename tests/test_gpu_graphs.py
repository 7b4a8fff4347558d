"""CUDA graphs: an evaluation of GPU nodes that repeats one seen before is captured and launched
as one graph (updated in place with the new buffers). Results must equal the node-by-node
evaluation (MLX_CUDA_GRAPHS=0) and the CPU's, also when a node that cannot be captured sits in
the middle, when inputs come fresh from the host, and when sequences alternate."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)


def stats():
    return mx.cuda._graph_stats()


def chain(x, w):
    y = x
    for i in range(12):
        y = mx.tanh(y @ w) * (1.0 + 0.01 * i) + mx.sin(y)
    return mx.softmax(y, axis=-1).sum(axis=0)


def chain_np(x, w):
    y = x.astype(np.float64)
    w = w.astype(np.float64)
    for i in range(12):
        y = np.tanh(y @ w) * (1.0 + 0.01 * i) + np.sin(y)
    e = np.exp(y - y.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).sum(axis=0)


def test_repeated_sequence_runs_as_graph_and_matches():
    w = mx.array((rng.standard_normal((64, 64)) / 8).astype(np.float32))
    before = stats()
    for step in range(6):
        xn = rng.standard_normal((32, 64)).astype(np.float32)
        x = mx.array(xn)  # fresh host data each time: copied before the capture
        got = chain(x, w)
        mx.eval(got)
        np.testing.assert_allclose(np.array(got), chain_np(xn, np.array(w)), rtol=1e-4, atol=1e-5)
    after = stats()
    # The first run goes node by node; later ones are graphs, updated after the first (a run
    # may end its graph early while the memory pool still grows).
    assert after["launched"] - before["launched"] >= 4
    assert after["updated"] - before["updated"] >= 3


def test_queued_steps_without_waiting():
    w = mx.array((rng.standard_normal((64, 64)) / 8).astype(np.float32))
    xs = [rng.standard_normal((32, 64)).astype(np.float32) for _ in range(8)]
    outs = []
    for xn in xs:
        outs.append(chain(mx.array(xn), w))
        mx.async_eval(outs[-1])
    for xn, o in zip(xs, outs):
        np.testing.assert_allclose(np.array(o), chain_np(xn, np.array(w)), rtol=1e-4, atol=1e-5)


def test_alternating_sequences_and_shapes():
    wn = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    w = mx.array(wn)
    for step in range(4):
        for rows in (16, 48):
            xn = rng.standard_normal((rows, 64)).astype(np.float32)
            got = chain(mx.array(xn), w)
            np.testing.assert_allclose(np.array(got), chain_np(xn, wn), rtol=1e-4, atol=1e-5)
            g = mx.grad(lambda w: chain(mx.array(xn), w).sum())(w)
            with mx.stream(mx.cpu):
                want = mx.grad(lambda w: chain(mx.array(xn), w).sum())(mx.array(wn))
            np.testing.assert_allclose(np.array(g), np.array(want), rtol=1e-3, atol=1e-4)


def test_node_that_cannot_be_captured_in_the_middle():
    """cuSOLVER (host reads) in the middle ends the graph; the rest runs node by node."""
    before = stats()
    for step in range(4):
        an = rng.standard_normal((16, 16)).astype(np.float32) + 8 * np.eye(16, dtype=np.float32)
        a = mx.array(an)
        y = a
        for i in range(10):
            y = y * 1.01 + 0.001 * i
        z = mx.linalg.inv(y, stream=mx.gpu)
        for i in range(10):
            z = z * 0.99 - 0.001 * i
        yn = an.astype(np.float64)
        for i in range(10):
            yn = yn * 1.01 + 0.001 * i
        zn = np.linalg.inv(yn)
        for i in range(10):
            zn = zn * 0.99 - 0.001 * i
        np.testing.assert_allclose(np.array(z), zn, rtol=1e-3, atol=1e-4)
    after = stats()
    assert after["early_ends"] > before["early_ends"]


def test_matches_node_by_node_training():
    """An AdamW MLP training loop gives the same losses with graphs on and off (same kernels,
    so the same bits), each in a fresh process."""
    code = textwrap.dedent(
        """
        import numpy as np, mlx.core as mx, mlx.nn as nn, mlx.optimizers as optim
        rng = np.random.default_rng(1)
        mx.random.seed(0)
        model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 4))
        opt = optim.AdamW(learning_rate=1e-2)
        X = rng.standard_normal((128, 32)).astype(np.float32)
        Y = rng.integers(0, 4, 128)
        lg = nn.value_and_grad(model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean"))
        losses = []
        for step in range(12):
            i = (step * 32) % 128
            loss, g = lg(model, mx.array(X[i:i + 32]), mx.array(Y[i:i + 32]))
            opt.update(model, g)
            mx.eval(loss, model.parameters(), opt.state)
            losses.append(loss.item())
        print(repr(losses))
        print(repr(mx.cuda._graph_stats()))
        """
    )

    def run(graphs):
        env = dict(os.environ, MLX_CUDA_GRAPHS=graphs)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        lines = r.stdout.strip().splitlines()
        return eval(lines[-2]), eval(lines[-1])

    on, st_on = run("1")
    off, st_off = run("0")
    assert st_on["launched"] >= 8 and st_off["launched"] == 0
    assert on == off
    assert on[-1] < on[0]


def test_error_in_a_captured_sequence_keeps_earlier_results():
    """A node raising during a captured evaluation (float64 on the GPU): the graph captured up
    to it is still launched, so the nodes evaluated before it hold their values."""
    xn = rng.standard_normal((8, 8)).astype(np.float32)
    x = mx.array(xn)
    for step in range(3):
        y = x
        for i in range(20):
            y = y + 1.0
        z = mx.exp(y.astype(mx.float64))
        with pytest.raises(ValueError):
            mx.eval(z)
        np.testing.assert_allclose(np.array(y), xn + 20.0, rtol=1e-6)
