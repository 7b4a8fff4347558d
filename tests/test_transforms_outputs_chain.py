"""Transforms of functions whose outputs feed each other."""
import numpy as np

import mlx.core as mx


def f(x):
    h = x * 2.0
    return h, mx.exp(h)


def test_vjp_when_one_output_feeds_another():
    x = mx.array([0.1, 0.5, -0.3])
    ct = [mx.ones(3), mx.ones(3)]
    _, (g,) = mx.vjp(f, [x], ct)
    expected = 2.0 + 2.0 * np.exp(2.0 * np.array(x))
    np.testing.assert_allclose(np.array(g), expected, rtol=1e-6)


def test_compile_when_one_output_feeds_another():
    fc = mx.compile(f)
    for v in ([0.1, 0.2], [1.0, -1.0], [3.0, 0.0]):
        x = mx.array(v)
        h, e = fc(x)
        np.testing.assert_allclose(np.array(h), 2 * np.array(v), rtol=1e-6)
        np.testing.assert_allclose(np.array(e), np.exp(2 * np.array(v)), rtol=1e-6)
