"""mx.async_eval: CPU graphs are evaluated on a background thread while the caller goes on;
every later use of the results waits for them. Results and errors must be those of mx.eval."""

import os
import subprocess
import sys
import threading
from functools import partial

import mlx
import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten


@pytest.fixture(autouse=True)
def _on_cpu():
    # The background path is for graphs of CPU nodes (with a GPU, async_eval of GPU nodes only
    # queues them, as eval does).
    old = mx.default_device()
    mx.set_default_device(mx.cpu)
    try:
        yield
    finally:
        mx.set_default_device(old)




def _rng(seed):
    return np.random.default_rng(seed)


def _chain(x, n=200):
    for i in range(n):
        x = x * 1.0001 + 0.001 if i % 2 else mx.sin(x) * 0.5 + x
    return x


def _np_chain(x, n=200):
    x = x.astype(np.float32)
    for i in range(n):
        x = (x * np.float32(1.0001) + np.float32(0.001)) if i % 2 else (np.sin(x) * np.float32(0.5) + x)
    return x


# ---- values ----


def test_chain_matches_eval_and_numpy():
    xn = _rng(0).standard_normal((1000, 1000)).astype(np.float32)
    a = _chain(mx.array(xn))
    b = _chain(mx.array(xn))
    mx.async_eval(a)
    mx.eval(b)
    assert np.array_equal(np.array(a), np.array(b))
    np.testing.assert_allclose(np.array(a), _np_chain(xn), rtol=1e-4, atol=1e-4)


def test_multiple_outputs_and_shared_subgraphs():
    xn = _rng(1).standard_normal((64, 48)).astype(np.float32)
    yn = _rng(2).standard_normal((48, 32)).astype(np.float32)
    x, y = mx.array(xn), mx.array(yn)
    h = mx.tanh(x @ y)  # shared by every output
    outs = [h, h.sum(axis=0), mx.exp(h) - 1, (h * 2).T, mx.maximum(h, 0).mean()]
    mx.async_eval(*outs)
    hn = np.tanh(xn @ yn)
    refs = [hn, hn.sum(axis=0), np.exp(hn) - 1, (hn * 2).T, np.maximum(hn, 0).mean()]
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(np.array(o), r, rtol=1e-5, atol=1e-5)


def test_output_that_feeds_another_output():
    x = mx.array(_rng(3).standard_normal((30, 30)).astype(np.float32))
    b = x @ x
    mx.async_eval([b, b.T, b + b.T])
    bn = np.array(x) @ np.array(x)
    np.testing.assert_allclose(np.array(b.T), bn.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.array(b + b.T), bn + bn.T, rtol=1e-5, atol=1e-4)


def test_donated_and_reused_buffers():
    xn = _rng(4).standard_normal((512, 512)).astype(np.float32)
    x = mx.array(xn)
    y = x * 2  # only the next op holds y once the Python name is gone: its buffer is donated
    z = y + 1
    del y
    w = mx.exp(z) * 0.5
    del z
    mx.async_eval(w)
    np.testing.assert_allclose(np.array(w), np.exp(xn * 2 + 1) * 0.5, rtol=1e-5)
    # The inputs are intact.
    assert np.array_equal(np.array(x), xn)
    # Evaluated arrays reused in the next graph, the old handles dropped while it runs.
    v = x
    for _ in range(20):
        v = v * 0.5 + 1
        mx.async_eval(v)
    ref = xn.copy()
    for _ in range(20):
        ref = ref * np.float32(0.5) + np.float32(1)
    np.testing.assert_allclose(np.array(v), ref, rtol=1e-6)


def test_multi_output_primitives_with_handles_dropped():
    an = _rng(5).standard_normal((40, 40)).astype(np.float32)
    for _ in range(5):
        a = mx.array(an)
        q, r = mx.linalg.qr(a @ a.T + 40 * mx.eye(40))
        s = q @ r
        mx.async_eval(s)
        del q, r  # handles of a multi-output node dropped while it is evaluated
        np.testing.assert_allclose(np.array(s), an @ an.T + 40 * np.eye(40), rtol=1e-4, atol=1e-3)
    xn = np.arange(-20, 20, dtype=np.int32)
    x = mx.array(xn)
    d, m = mx.divmod(x * 3, 7)
    mx.async_eval(d)
    del d
    assert m.tolist() == ((xn * 3) % 7).tolist()
    parts = mx.split(mx.arange(12) * 2, 3)
    mx.async_eval(parts[0])
    keep = parts[2]
    del parts
    assert keep.tolist() == [16, 18, 20, 22]


# ---- work while the evaluation runs ----


def test_build_on_pending_results():
    xn = _rng(6).standard_normal((1000, 1000)).astype(np.float32)
    x = mx.array(xn)
    a = _chain(x)
    mx.async_eval(a)
    other = mx.array(_rng(7).standard_normal((1000, 1000)).astype(np.float32))
    b = a * 2 + other  # built while `a` is computed
    c = mx.sum(a, axis=1) + mx.mean(other)
    d = a @ other[:, :10]
    mx.eval(b, c, d)
    an = _np_chain(xn)
    on = np.array(other)
    np.testing.assert_allclose(np.array(b), an * 2 + on, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(c), an.sum(axis=1) + on.mean(), rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(np.array(d), an @ on[:, :10], rtol=1e-3, atol=1e-2)


def test_large_matmuls_then_new_graph():
    n = 768
    mats = [mx.array(_rng(10 + i).standard_normal((n, n)).astype(np.float32) / np.sqrt(n)) for i in range(4)]
    p = mats[0]
    for m in mats[1:]:
        p = p @ m
    mx.async_eval(p)
    q = mx.tanh(p) + mats[0]  # graph over the pending result and other arrays
    r = q.T @ mats[1]
    mx.async_eval(r)
    pn = np.array(mats[0])
    for m in mats[1:]:
        pn = pn @ np.array(m)
    qn = np.tanh(pn) + np.array(mats[0])
    np.testing.assert_allclose(np.array(r), qn.T @ np.array(mats[1]), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.array(p), pn, rtol=1e-3, atol=1e-4)


def _mlp_losses(async_step, opt_cls, compiled=False):
    mx.random.seed(42)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 4))
    opt = opt_cls(learning_rate=1e-2)
    rng = _rng(8)
    xs = [mx.array(rng.standard_normal((32, 16)).astype(np.float32)) for _ in range(4)]
    ys = [mx.array(rng.standard_normal((32, 4)).astype(np.float32)) for _ in range(4)]

    def loss_fn(m, x, y):
        return nn.losses.mse_loss(m(x), y)

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, g = loss_and_grad(model, x, y)
        opt.update(model, g)
        return loss

    if compiled:
        state = [model.state, opt.state]
        step = partial(mx.compile, inputs=state, outputs=state)(step)
    losses = []
    for i in range(30):
        loss = step(xs[i % 4], ys[i % 4])
        if async_step:
            mx.async_eval(loss, model.parameters(), opt.state)
        else:
            mx.eval(loss, model.parameters(), opt.state)
        losses.append(loss)  # read at the end: the steps overlap with the background work
    params = [np.array(p) for _, p in tree_flatten(model.parameters())]
    return [l.item() for l in losses], params


@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
@pytest.mark.parametrize("compiled", [False, True])
def test_training_loop_matches_eval(opt_cls, compiled):
    l_sync, p_sync = _mlp_losses(False, opt_cls, compiled)
    l_async, p_async = _mlp_losses(True, opt_cls, compiled)
    assert l_sync == l_async
    assert l_async[-1] < l_async[0]
    for a, b in zip(p_sync, p_async):
        assert np.array_equal(a, b)


def test_transforms_of_pending_arrays():
    xn = _rng(9).standard_normal((400, 300)).astype(np.float32)
    x = _chain(mx.array(xn), 50)
    mx.async_eval(x)
    g = mx.grad(lambda t: (mx.sin(t) * t).sum())(x)
    xr = _np_chain(xn, 50)
    np.testing.assert_allclose(np.array(g), np.cos(xr) * xr + np.sin(xr), rtol=1e-4, atol=1e-4)

    y = _chain(mx.array(xn), 50)
    mx.async_eval(y)
    v = mx.vmap(lambda r: (r * r).sum())(y)
    np.testing.assert_allclose(np.array(v), (xr * xr).sum(axis=1), rtol=1e-4)

    z = _chain(mx.array(xn), 50)
    mx.async_eval(z)
    f = mx.compile(lambda t: mx.exp(-t * t) + t)
    np.testing.assert_allclose(np.array(f(z)), np.exp(-xr * xr) + xr, rtol=1e-5, atol=1e-5)
    w = _chain(mx.array(xn), 50)
    mx.async_eval(w)
    np.testing.assert_allclose(np.array(f(w)), np.exp(-xr * xr) + xr, rtol=1e-5, atol=1e-5)  # cached trace

    # vjp / jvp / value_and_grad on a pending array, and a function capturing one.
    u = _chain(mx.array(xn), 50)
    mx.async_eval(u)
    outs, vjps = mx.vjp(lambda t: [t * u], [u], [mx.ones_like(u)])
    np.testing.assert_allclose(np.array(vjps[0]), xr, rtol=1e-5, atol=1e-6)
    u2 = _chain(mx.array(xn), 50)
    mx.async_eval(u2)
    _, jv = mx.jvp(lambda t: [t * t], [u2], [mx.ones_like(u2)])
    np.testing.assert_allclose(np.array(jv[0]), 2 * xr, rtol=1e-5, atol=1e-6)


def test_custom_function_and_checkpoint_graphs():
    @mx.custom_function
    def f(t):
        return mx.exp(t) * 2

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent * output

    xn = _rng(11).standard_normal((100,)).astype(np.float32)
    x = mx.array(xn)
    y = f(x) + 1  # a CustomTransforms node: evaluated in place
    mx.async_eval(y)
    np.testing.assert_allclose(np.array(y), np.exp(xn) * 2 + 1, rtol=1e-6)
    z = _chain(x, 20)
    mx.async_eval(z)
    g = mx.grad(lambda t: f(t).sum())(z)
    np.testing.assert_allclose(np.array(g), np.exp(_np_chain(xn, 20)) * 2, rtol=1e-5)
    lin = nn.Linear(100, 100)
    mx.async_eval(lin.parameters())
    c = nn.utils.checkpoint(lin)
    w = mx.grad(lambda t: c(t).sum())(z)
    assert w.shape == (100,)


# ---- host access of pending arrays ----


def test_host_access_of_pending_arrays():
    xn = _rng(12).standard_normal((300, 300)).astype(np.float32)
    ref = _np_chain(xn)

    def pending():
        a = _chain(mx.array(xn))
        mx.async_eval(a)
        return a

    np.testing.assert_allclose(np.array(pending()), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(memoryview(pending())), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(pending().tolist(), dtype=np.float32), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pending()[3, 4].item(), ref[3, 4], rtol=1e-4)
    s = mx.sum(pending())
    mx.async_eval(s)
    np.testing.assert_allclose(s.item(), ref.sum(dtype=np.float64), rtol=1e-3)
    small = _chain(mx.array(xn[:2, :3]))
    mx.async_eval(small)
    assert repr(small) == repr(_chain(mx.array(xn[:2, :3])))
    assert str(small).startswith("array(")
    one = mx.sum(pending()[:1, :1])
    mx.async_eval(one)
    assert float(one) == pytest.approx(float(ref[0, 0]), rel=1e-4)
    assert bool(one > -1e9)
    np.testing.assert_allclose(np.from_dlpack(pending()), ref, rtol=1e-4, atol=1e-4)


def test_host_access_from_another_thread():
    xn = _rng(13).standard_normal((500, 500)).astype(np.float32)
    a = _chain(mx.array(xn))
    mx.async_eval(a)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("v", np.array(a)))
    t.start()
    t.join()
    np.testing.assert_allclose(out["v"], _np_chain(xn), rtol=1e-4, atol=1e-4)


def test_save_load_and_graph_export(tmp_path):
    xn = _rng(14).standard_normal((200, 200)).astype(np.float32)
    a = _chain(mx.array(xn), 40)
    mx.async_eval(a)
    path = str(tmp_path / "a.npy")
    mx.save(path, a)
    np.testing.assert_allclose(np.load(path), _np_chain(xn, 40), rtol=1e-5, atol=1e-5)
    # A lazy load evaluated in the background, then the file rewritten: the save waits, so the
    # background read sees the old contents (as with eval).
    np.save(path, xn)
    lazy = mx.load(path)
    b = lazy * 2
    mx.async_eval(b)
    mx.save(path, mx.zeros((200, 200)))
    assert np.array_equal(np.array(b), xn * 2)
    # export_to_dot walks the graph of a pending array.
    c = _chain(mx.array(xn), 10)
    mx.async_eval(c)
    d = c + 1
    dot = tmp_path / "g.dot"
    mx.export_to_dot(str(dot), d)
    assert dot.read_text().startswith("digraph")


def test_synchronize_and_memory_queries():
    xn = _rng(15).standard_normal((1000, 1000)).astype(np.float32)
    a = _chain(mx.array(xn), 50)
    mx.async_eval(a)
    mx.synchronize()
    assert mx.get_active_memory() > 0 and mx.get_peak_memory() >= mx.get_active_memory()
    b = _chain(mx.array(xn), 50)
    mx.async_eval(b)
    mx.reset_peak_memory()
    mx.clear_cache()
    assert mx.get_cache_memory() == 0
    np.testing.assert_allclose(np.array(b), _np_chain(xn, 50), rtol=1e-4, atol=1e-4)


def test_ops_that_read_pending_state():
    # astype folds evaluated float64 scalars into constants; depends reads the input's stream.
    s = mx.sum(mx.arange(1000, dtype=mx.float64) * 0.5)
    mx.async_eval(s)
    assert s.astype(mx.float32).item() == pytest.approx(249750.0)
    x = _chain(mx.ones((100, 100)), 30)
    mx.async_eval(x)
    (y,) = mx.depends([x], [mx.ones(3)])
    assert np.array_equal(np.array(y), np.array(_chain(mx.ones((100, 100)), 30)))


# ---- errors ----


def test_error_surfaces_at_the_next_wait():
    bad = mx.linalg.inv(mx.zeros((4, 4)))  # raises when evaluated: the matrix is singular
    mx.async_eval(bad)
    with pytest.raises(RuntimeError, match="singular"):
        bad.tolist()
    # Raised once: the next waits go through.
    assert (mx.arange(3) + 1).tolist() == [1, 2, 3]
    mx.synchronize()

    for wait in [
        lambda a: mx.eval(a),
        lambda a: a.tolist(),
        lambda a: mx.async_eval(mx.ones(2) + 1),
        lambda a: mx.compile(lambda t: t * 3 - 1)(a),  # a first trace
        lambda a: mx.synchronize(),
        lambda a: repr(a),
    ]:
        c = mx.linalg.cholesky(-mx.eye(3))  # not positive definite
        ok = mx.exp(mx.ones(4))
        mx.async_eval(ok, c)
        other = mx.arange(5)
        with pytest.raises(RuntimeError, match="positive definite"):
            wait(other)
        assert np.allclose(np.array(ok), np.e)  # nodes before the failing one were evaluated
    assert (mx.arange(4) * 2).tolist() == [0, 2, 4, 6]


@pytest.mark.skipif(mx.cuda.is_available(), reason="with a GPU, the memory API's limit is the device's")
def test_error_in_memory_limit():
    mx.clear_cache()
    old = mx.set_memory_limit(mx.get_active_memory() + (1 << 20))
    try:
        a = mx.arange(1 << 20, dtype=mx.float32) * 2  # 4 MB: over the limit at evaluation
        mx.async_eval(a)
        with pytest.raises(RuntimeError, match="memory limit"):
            a.tolist()
    finally:
        mx.set_memory_limit(old)
    assert np.array(a)[3] == 6


# ---- calls ----


def test_many_interleaved_calls():
    xs = [mx.array(np.full((100,), i, dtype=np.float32)) for i in range(50)]
    ys = []
    for i, x in enumerate(xs):
        y = mx.sqrt(x * x + 1)
        mx.async_eval(y)
        if i % 3 == 0:
            mx.async_eval(y, xs[0])  # already evaluated or pending
        ys.append(y * 2)
        if i % 7 == 0:
            mx.async_eval(ys)
    for i, y in enumerate(ys):
        np.testing.assert_allclose(np.array(y), 2 * np.sqrt(np.float32(i) ** 2 + 1), rtol=1e-6)


def test_arguments():
    mx.async_eval()
    mx.async_eval([])
    a = mx.arange(4)
    mx.eval(a)
    mx.async_eval(a)  # nothing to evaluate
    mx.async_eval(a, a)
    b, c, d = a + 1, a * 3, a - 1
    e = mx.square(a)
    mx.async_eval({"b": b, "nested": [c, (d, {"e": e})]})
    assert b.tolist() == [1, 2, 3, 4]
    assert c.tolist() == [0, 3, 6, 9]
    assert d.tolist() == [-1, 0, 1, 2]
    assert e.tolist() == [0, 1, 4, 9]


def test_inside_transforms():
    # async_eval inside a traced function evaluates in place (tracers stay attached).
    def f(t):
        u = mx.sin(t)
        mx.async_eval(u)
        return (u * t).sum()

    x = mx.array(np.linspace(-1, 1, 9, dtype=np.float32))
    xn = np.array(x)
    np.testing.assert_allclose(np.array(mx.grad(f)(x)), np.cos(xn) * xn + np.sin(xn), rtol=1e-5, atol=1e-6)

    def g(t):
        mx.async_eval(t * 2)
        return t

    with pytest.raises(ValueError, match="compile"):
        mx.compile(g)(x)


# ---- process exit and fork ----


def _run(code):
    env = dict(os.environ)
    # The child imports the same mlx as this process (installed, or the source tree's python/).
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(mlx.__file__)))
    env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


BIG = """
import mlx.core as mx
mx.set_default_device(mx.cpu)
x = mx.random.normal((1000, 1000))
ys = [x]
for i in range(20):
    ys.append(mx.tanh(ys[-1] @ x) + ys[-1] * 0.5)
mx.async_eval(ys)
"""


@pytest.mark.parametrize(
    "tail",
    [
        "",
        "import sys; sys.exit(0)",
        "del ys, x",
        "bad = mx.linalg.inv(mx.zeros((3, 3))); mx.eval(ys[1]); mx.async_eval(bad)",
        "import threading; threading.Thread(target=lambda: mx.async_eval(ys[-1] + 1), daemon=True).start()",
    ],
)
def test_exit_with_pending_work(tail):
    r = _run(BIG + tail)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_with_pending_work():
    code = BIG + """
import os
pid = os.fork()
if pid == 0:
    z = mx.sum(ys[-1] * 0 + 1)
    mx.async_eval(z)
    os._exit(0 if z.item() == 1000 * 1000 else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert mx.sum(ys[-1] * 0 + 1).item() == 1000 * 1000
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr
