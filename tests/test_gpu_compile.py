"""mx.compile on the GPU: fused kernels (float32 vectorized; float16/bfloat16/bool values and
broadcast/strided inputs through the general kernel) against the uncompiled graph."""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)
TOL = {mx.float32: 1e-6, mx.float16: 1e-3, mx.bfloat16: 1e-2}


def check(f, *args, dt=mx.float32):
    want = f(*args)
    got = mx.compile(f)(*args)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(np.array(got.astype(mx.float32)), np.array(want.astype(mx.float32)),
                               rtol=TOL[dt] * 4, atol=TOL[dt] * 4, equal_nan=True)


@pytest.mark.parametrize("dt", [mx.float32, mx.float16, mx.bfloat16])
def test_chain_dtypes(dt):
    a = mx.array(rng.standard_normal((257, 33)).astype(np.float32)).astype(dt)
    b = mx.array(rng.standard_normal((257, 33)).astype(np.float32)).astype(dt)
    check(lambda x, y: mx.exp(x) * y + mx.sin(x), a, b, dt=dt)
    check(lambda x, y: mx.tanh(x * 0.5) - y / 3.0, a, b, dt=dt)


@pytest.mark.parametrize("dt", [mx.float32, mx.float16, mx.bfloat16])
def test_broadcast_and_strided_inputs(dt):
    a = mx.array(rng.standard_normal((64, 48)).astype(np.float32)).astype(dt)
    row = mx.array(rng.standard_normal((48,)).astype(np.float32)).astype(dt)
    col = mx.array(rng.standard_normal((64, 1)).astype(np.float32)).astype(dt)
    check(lambda x, r, c: mx.exp(x) * r + c, a, row, col, dt=dt)
    check(lambda x, r: x.T * 2.0 + r, a, mx.ones((64,), dtype=dt), dt=dt)
    check(lambda x: mx.sqrt(mx.abs(x[::2, 1::3])) + 1.0, a, dt=dt)
    big = mx.array(rng.standard_normal((8, 3, 5, 7, 2)).astype(np.float32)).astype(dt)
    check(lambda x: mx.sin(mx.transpose(x, (4, 2, 0, 3, 1))) * 3.0, big, dt=dt)


def test_comparisons_where_and_bool_outputs():
    a = mx.array(rng.standard_normal((1000,)).astype(np.float32))
    b = mx.array(rng.standard_normal((1000,)).astype(np.float32))
    check(lambda x, y: mx.where(x > y, x * 2.0, y - 1.0), a, b)
    check(lambda x: mx.where(x > 0, x, 0.0) + 0.5, a)  # relu-like
    got = mx.compile(lambda x, y: mx.logical_and(x > 0, y < 0))(a, b)
    np.testing.assert_array_equal(np.array(got), (np.array(a) > 0) & (np.array(b) < 0))
    with_nan = mx.array(np.array([1.0, np.nan, -np.inf, np.inf, 0.0], np.float32))
    got = mx.compile(lambda x: mx.isnan(x * 2.0))(with_nan)
    np.testing.assert_array_equal(np.array(got), [False, True, False, False, False])


@pytest.mark.parametrize("dt", [mx.float16, mx.bfloat16])
@pytest.mark.parametrize("n", [8, 13, 4096, 100003])
def test_vectorized_16bit_programs(dt, n):
    """Contiguous/scalar inputs of 16-bit and mixed types (vector loads, a tail of n % 8), an
    Adam-like step with several outputs, a view one element in (not vector-aligned), bool outputs."""
    a = mx.array(rng.standard_normal(n).astype(np.float32)).astype(dt)
    b = mx.array(rng.standard_normal(n).astype(np.float32)).astype(dt)
    c = mx.array(np.abs(rng.standard_normal(n)).astype(np.float32)).astype(dt)
    check(lambda x, y: mx.exp(x) * y + 0.5, a, b, dt=dt)
    check(lambda x, y: x * y.astype(mx.float32) - 1.0, a, b, dt=dt)

    def adam(p, g, m, v):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        return p - 0.01 * m / (mx.sqrt(v) + 1e-8), m, v

    want = adam(a, b, b * 0.5, c)
    got = mx.compile(adam)(a, b, b * 0.5, c)
    for w, g in zip(want, got):
        np.testing.assert_allclose(np.array(g.astype(mx.float32)), np.array(w.astype(mx.float32)),
                                   rtol=TOL[dt] * 4, atol=TOL[dt] * 4)
    if n > 1:
        check(lambda x, y: mx.sin(x) * y, a[1:], b[:-1], dt=dt)
    got = mx.compile(lambda x, y: (x * 2.0) > y)(a, b)
    np.testing.assert_array_equal(np.array(got), np.array(a.astype(mx.float32)) * 2 > np.array(b.astype(mx.float32)))


def test_large_and_mixed_precision():
    a = mx.array(rng.standard_normal((1 << 20) + 3).astype(np.float32))
    h = a.astype(mx.bfloat16)
    check(lambda x, y: (x * y.astype(mx.float32) + 1.0).astype(mx.bfloat16), a, h, dt=mx.bfloat16)
    check(lambda x: mx.erf(x) * mx.sigmoid(x), a)


def test_compiled_gelu_grad_on_gpu():
    import mlx.nn as nn
    x = mx.array(rng.standard_normal((128, 256)).astype(np.float32)).astype(mx.bfloat16)
    f = lambda v: nn.gelu_approx(v).astype(mx.float32).sum()
    g1 = mx.grad(f)(x)
    g2 = mx.compile(mx.grad(f))(x)
    np.testing.assert_allclose(np.array(g2.astype(mx.float32)), np.array(g1.astype(mx.float32)), rtol=5e-2, atol=5e-2)


def _compiled_nodes(outs):
    """Fused kernels in the graph of `outs`: the outputs of one kernel are graph nodes with
    the same inputs."""
    return len({tuple(ins) for _, name, ins, *_ in mx._graph_nodes(list(outs)) if name == "Compiled"})


def _adam_like(g, p, m, v, lr):
    m = 0.9 * m + 0.1 * g.astype(mx.float32)
    v = 0.999 * v + 0.001 * mx.square(g.astype(mx.float32))
    return p - (lr * m / (mx.sqrt(v) + 1e-8)).astype(p.dtype), m, v


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_multi_output_fusion(layout):
    """A program whose intermediate values are also outputs is one kernel writing them all
    (here a bfloat16 parameter and float32 moments), equal to the uncompiled graph."""
    n = 4099
    g = mx.array(rng.standard_normal((n, 3)).astype(np.float32)).astype(mx.bfloat16)
    if layout == "strided":
        g = mx.array(rng.standard_normal((3, n)).astype(np.float32)).astype(mx.bfloat16).T
    p = mx.array(rng.standard_normal((n, 3)).astype(np.float32)).astype(mx.bfloat16)
    m = mx.array(rng.standard_normal((n, 3)).astype(np.float32))
    v = mx.array(np.abs(rng.standard_normal((n, 3))).astype(np.float32))
    lr = mx.array(0.01)
    want = _adam_like(g, p, m, v, lr)
    got = mx.compile(_adam_like)(g, p, m, v, lr)
    assert _compiled_nodes(got) == 1
    for w, o in zip(want, got):
        assert o.dtype == w.dtype and o.shape == w.shape
        tol = 1e-2 if w.dtype == mx.bfloat16 else 1e-6
        np.testing.assert_allclose(np.array(o.astype(mx.float32)), np.array(w.astype(mx.float32)), rtol=tol, atol=tol)


def test_multi_output_fusion_transforms():
    """Gradients and vmap through a fused program with several outputs; an output that a
    non-elementwise op also reads stays its own value."""
    g = mx.array(rng.standard_normal((64, 32)).astype(np.float32))
    p = mx.array(rng.standard_normal((64, 32)).astype(np.float32))
    m = mx.array(rng.standard_normal((64, 32)).astype(np.float32))
    v = mx.array(np.abs(rng.standard_normal((64, 32))).astype(np.float32))
    lr = mx.array(0.01)

    def loss(g, p, m, v):
        a, b, c = _adam_like(g, p, m, v, lr)
        return (a * a).sum() + (b * 3.0).sum() + mx.sin(c).sum()

    want = mx.grad(loss, argnums=(0, 1, 2, 3))(g, p, m, v)
    got = mx.grad(mx.compile(loss), argnums=(0, 1, 2, 3))(g, p, m, v)
    got_c = mx.compile(mx.grad(loss, argnums=(0, 1, 2, 3)))(g, p, m, v)
    for w, o, oc in zip(want, got, got_c):
        np.testing.assert_allclose(np.array(o), np.array(w), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(oc), np.array(w), rtol=1e-5, atol=1e-6)
    step = lambda g, p, m, v: _adam_like(g, p, m, v, lr)
    want = mx.vmap(step)(g, p, m, v)
    got = mx.vmap(mx.compile(step))(g, p, m, v)
    for w, o in zip(want, got):
        np.testing.assert_allclose(np.array(o), np.array(w), rtol=1e-6, atol=1e-7)

    def with_sum(g, p, m, v):
        a, b, c = _adam_like(g, p, m, v, lr)
        return a, b, c, b.sum()

    want = with_sum(g, p, m, v)
    got = mx.compile(with_sum)(g, p, m, v)
    for w, o in zip(want, got):
        np.testing.assert_allclose(np.array(o), np.array(w), rtol=1e-6, atol=1e-6)


def test_adamw_step_is_one_kernel_per_parameter():
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten
    model = nn.Linear(16, 8)
    model.set_dtype(mx.bfloat16)
    opt = optim.AdamW(learning_rate=1e-2, weight_decay=0.1, bias_correction=True)
    x = mx.array(rng.standard_normal((4, 16)).astype(np.float32)).astype(mx.bfloat16)
    lg = nn.value_and_grad(model, lambda mdl, v: mdl(v).astype(mx.float32).square().mean())
    ref = {k: np.array(v.astype(mx.float32)) for k, v in tree_flatten(model.parameters())}
    _, grads = lg(model, x)
    opt.update(model, grads)
    new = dict(tree_flatten(model.parameters()))
    assert _compiled_nodes([new["weight"]]) == 1
    mx.eval(model.parameters(), opt.state)
    # AdamW by hand in float32 from the bfloat16 gradients, one step.
    for k, gk in tree_flatten(grads):
        gk = np.array(gk.astype(mx.float32))
        m = 0.1 * gk
        v = 0.001 * gk * gk
        want = ref[k] * (1 - 1e-2 * 0.1) - (1e-2 / 0.1) * m / (np.sqrt(v) / np.sqrt(0.001) + 1e-8)
        np.testing.assert_allclose(np.array(new[k].astype(mx.float32)), want, rtol=3e-2, atol=3e-2)


def test_kernels_cached_on_disk_across_processes(tmp_path):
    """A fused kernel compiled by one process is loaded from the disk cache by the next (no
    NVRTC), with the same results; MLX_CUDA_CACHE=0 turns the cache off."""
    import os
    import subprocess
    import sys

    code = (
        "import mlx.core as mx, numpy as np\n"
        "f = mx.compile(lambda x, y: mx.exp(x) * y + mx.sin(x) - 0.25)\n"
        "x = mx.array(np.linspace(-2, 2, 1000, dtype=np.float32))\n"
        "print(np.array(f(x, x * 3)).sum())\n"
    )

    def run(**extra):
        env = dict(os.environ, MLX_CUDA_CACHE_DIR=str(tmp_path), MLX_CUDA_LOG_COMPILE="1", **extra)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout.strip(), r.stderr

    out1, err1 = run()
    assert "compiled kernel" in err1
    assert list(tmp_path.glob("*.cubin"))
    out2, err2 = run()
    assert "loaded from the disk cache" in err2 and "compiled kernel" not in err2
    assert out1 == out2
    out3, err3 = run(MLX_CUDA_CACHE="0")
    assert "compiled kernel" in err3 and "loaded from the disk cache" not in err3
    assert out3 == out1


def test_training_steps_after_the_first_compile_nothing():
    """Optimizer state starts as contiguous zeros, so the second AdamW step runs the kernels of
    the first (a step that compiles kernels takes tens of ms)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, mlx.core as mx, mlx.nn as nn, mlx.optimizers as optim\n"
        "model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 4))\n"
        "opt = optim.AdamW(learning_rate=1e-3)\n"
        "x = mx.array(np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))\n"
        "lg = nn.value_and_grad(model, lambda m, x: (m(x) ** 2).mean())\n"
        "for i in range(3):\n"
        "    loss, g = lg(model, x)\n"
        "    opt.update(model, g)\n"
        "    mx.eval(loss, model.parameters(), opt.state)\n"
        "    sys.stderr.write(f'STEP {i}\\n'); sys.stderr.flush()\n"
    )
    env = dict(os.environ, MLX_CUDA_CACHE="0", MLX_CUDA_LOG_COMPILE="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first, later = r.stderr.split("STEP 0", 1)
    assert "compiled kernel" in first
    assert "compiled kernel" not in later, later
