"""GPU streams: each mx.new_stream(mx.gpu) has its own CUDA stream; reads across streams wait
through events, device blocks freed on one stream are reused safely on another, and results
equal those of the default stream."""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)


def test_cross_stream_dependencies():
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    a = mx.array(rng.standard_normal((1024, 1024)).astype(np.float32))
    b = mx.array(rng.standard_normal((1024, 1024)).astype(np.float32))
    want = ((np.array(a, np.float64) @ np.array(b, np.float64)) * 2.0).sum(axis=1)
    for _ in range(3):
        # A long product on s1 read at once by s2: without the wait s2 sees unfinished data.
        c = mx.matmul(a, b, stream=s1)
        for _ in range(4):
            c = mx.matmul(c, mx.eye(1024), stream=s1)
        d = mx.sum(mx.multiply(c, 2.0, stream=s2), axis=1, stream=s2)
        np.testing.assert_allclose(np.array(d), want, rtol=1e-3, atol=1e-2)


def test_results_match_default_stream():
    s = mx.new_stream(mx.gpu)
    x = mx.array(rng.standard_normal((64, 128)).astype(np.float32))
    w = mx.array(rng.standard_normal((128, 32)).astype(np.float32))
    f = lambda x, w: mx.softmax(mx.tanh(x @ w), axis=-1).sum(axis=0)
    want = f(x, w)
    with mx.stream(s):
        got = f(x, w)
        g = mx.grad(lambda w: f(x, w).sum())(w)
        sorted_ = mx.sort(x, axis=1)
        fft = mx.fft.rfft(x, axis=1)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(g), np.array(mx.grad(lambda w: f(x, w).sum())(w)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.array(sorted_), np.sort(np.array(x), axis=1))
    np.testing.assert_allclose(np.array(fft), np.fft.rfft(np.array(x), axis=1), rtol=1e-4, atol=1e-4)


def test_freed_blocks_reused_across_streams():
    """Buffers freed while another stream may still read them are handed out again only after
    that work: values computed on two streams interleaved stay right."""
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    n = 1 << 22
    base = mx.array(rng.standard_normal(n).astype(np.float32))
    mx.eval(base)
    outs = []
    for i in range(20):
        t = mx.multiply(base, float(i), stream=s1)  # freed once u is queued
        u = mx.add(mx.sin(t, stream=s2), 1.0, stream=s2)
        del t
        v = mx.full((n,), float(i), stream=s1)  # may take t's block
        outs.append((i, mx.sum(u, stream=s2), mx.sum(v, stream=s1)))
        mx.async_eval(outs[-1][1], outs[-1][2])
    b = np.array(base, np.float64)
    for i, su, sv in outs:
        np.testing.assert_allclose(su.item(), (np.sin(b * i) + 1.0).sum(), rtol=1e-3)
        assert sv.item() == pytest.approx(float(i) * n, rel=1e-5)


def test_host_reads_side_stream_results():
    s = mx.new_stream(mx.gpu)
    x = mx.arange(1 << 20, stream=s).astype(mx.float32, stream=s)
    y = mx.cumsum(x, stream=s)
    assert y[-1].item() == pytest.approx(float((1 << 20) * ((1 << 20) - 1) / 2), rel=1e-6)
    np.testing.assert_array_equal(np.array(x[:5]), [0, 1, 2, 3, 4])


def test_training_step_on_a_side_stream():
    import mlx.nn as nn
    import mlx.optimizers as optim

    def run(stream):
        mx.random.seed(3)
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        opt = optim.AdamW(learning_rate=1e-2)
        x = mx.array(np.linspace(-1, 1, 8 * 16, dtype=np.float32).reshape(8, 16))
        y = mx.array(np.arange(8) % 4)
        lg = nn.value_and_grad(model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean"))
        with mx.stream(stream):
            for _ in range(5):
                loss, g = lg(model, x, y)
                opt.update(model, g)
                mx.eval(loss, model.parameters(), opt.state)
        return loss.item()

    assert run(mx.new_stream(mx.gpu)) == pytest.approx(run(mx.default_stream(mx.gpu)), rel=1e-5)


def test_fft_same_size_on_two_streams():
    # One cached cuFFT plan serves both streams (each execution sets the plan's stream and its
    # own work area); with more distinct sizes than the cache keeps, the cache is emptied while
    # transforms queued on the other stream may still be running.
    s1, s2 = mx.new_stream(mx.gpu), mx.new_stream(mx.gpu)
    x1 = rng.standard_normal((64, 4096)).astype(np.float32)
    x2 = rng.standard_normal((64, 4096)).astype(np.float32)
    for _ in range(3):
        r1 = mx.fft.fft(mx.array(x1), stream=s1)
        r2 = mx.fft.fft(mx.array(x2), stream=s2)
        mx.eval(r1, r2)
        np.testing.assert_allclose(np.array(r1), np.fft.fft(x1), rtol=1e-3, atol=1e-2)
        np.testing.assert_allclose(np.array(r2), np.fft.fft(x2), rtol=1e-3, atol=1e-2)
    outs, wants = [], []
    for k, n in enumerate(range(100, 100 + 2 * 80, 2)):  # 80 sizes: past the 64-plan cache
        v = rng.standard_normal((32, n)).astype(np.float32)
        outs.append(mx.fft.rfft(mx.array(v), stream=s1 if k % 2 else s2))
        wants.append(np.fft.rfft(v))
    mx.eval(outs)
    for o, w in zip(outs, wants):
        np.testing.assert_allclose(np.array(o), w, rtol=1e-3, atol=1e-3)
