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
