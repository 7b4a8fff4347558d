"""mean / var / std divide by a NumberOfElements node (the count read from the input's shape at
eval time): values, dtypes, gradients, jvp and vmap are those of the plain formulas."""
import numpy as np
import pytest

import mlx.core as mx

RNG = np.random.default_rng(7)


def _np(a):
    return np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on ddof >= n
@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.int32, mx.uint8, mx.bool_])
@pytest.mark.parametrize("axes", [None, 0, 1, (0, 2), (), -1])
def test_values_and_dtypes(dtype, axes):
    x = RNG.uniform(0, 5, size=(3, 4, 5))
    a = mx.array(x).astype(dtype)
    xn = _np(a).astype(np.float64)
    want_t = dtype if dtype in (mx.float16, mx.bfloat16) else mx.float32
    tol = 1e-2 if dtype in (mx.float16, mx.bfloat16) else 1e-5
    for ddof in [0, 1]:
        for f, ref in [(mx.var, np.var), (mx.std, np.std)]:
            r = f(a, axis=axes, ddof=ddof)
            assert r.dtype == want_t
            np.testing.assert_allclose(_np(r), ref(xn, axis=axes, ddof=ddof), rtol=tol, atol=tol)
    r = mx.mean(a, axis=axes, keepdims=True)
    assert r.dtype == want_t
    np.testing.assert_allclose(_np(r), xn.mean(axis=axes, keepdims=True), rtol=tol, atol=tol)


def test_float64_complex_and_edge_cases():
    x = RNG.normal(size=(4, 6))
    a = mx.array(x, dtype=mx.float64)
    with mx.stream(mx.cpu):
        np.testing.assert_allclose(np.array(mx.mean(a, axis=1)), x.mean(1), rtol=1e-14)
        np.testing.assert_allclose(np.array(mx.var(a, ddof=1)), x.var(ddof=1), rtol=1e-13)
    c = mx.array(x[:, :3] + 1j * x[:, 3:])
    cn = np.array(c)
    np.testing.assert_allclose(np.array(mx.mean(c, axis=0)), cn.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.var(c, axis=0)), cn.var(0), rtol=1e-5)
    # an empty reduced axis: mean is NaN, var divides by zero; ddof >= n gives inf
    m = mx.mean(mx.zeros((0, 3)), axis=0)
    assert np.isnan(np.array(m)).all() and not np.signbit(np.array(m)).any()
    assert np.isinf(np.array(mx.var(mx.array([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]]), axis=0, ddof=3))).all()
    assert mx.mean(mx.array(3.0)).item() == 3.0 and mx.var(mx.array(3.0)).item() == 0.0
    # broadcast / non-contiguous inputs
    b = mx.broadcast_to(mx.array([1.0, 2.0, 4.0]), (5, 3))
    np.testing.assert_allclose(np.array(mx.var(b.T, axis=1)), np.zeros(3), atol=1e-7)
    t = mx.array(x, dtype=mx.float32).T[::2]
    np.testing.assert_allclose(np.array(mx.mean(t, axis=0)), x.T[::2].mean(0), rtol=1e-5)


def _fd_check(f, x):
    """Central differences in float64 on the CPU along a random direction."""
    with mx.stream(mx.cpu):
        x = mx.array(x, dtype=mx.float64)
        g = mx.grad(f)(x)
        d = mx.array(RNG.normal(size=x.shape))
        eps = 1e-6
        fd = (f(x + eps * d) - f(x - eps * d)).item() / (2 * eps)
        np.testing.assert_allclose((g * d).sum().item(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", ["mean", "var", "std"])
def test_grads(op):
    x = RNG.normal(size=(3, 5))
    w = mx.array(RNG.normal(size=(3,)))
    fn = getattr(mx, op)
    _fd_check(lambda a: (fn(a, axis=1) * w.astype(a.dtype)).sum(), x)
    _fd_check(lambda a: fn(a), x)
    # the gradient in float32 is the closed form
    a = mx.array(x, dtype=mx.float32)
    g = np.array(mx.grad(lambda a: fn(a, axis=1).sum())(a))
    n = x.shape[1]
    if op == "mean":
        want = np.full(x.shape, 1 / n)
    else:
        d = x - x.mean(1, keepdims=True)
        want = 2 * d / n
        if op == "std":
            want = want / (2 * np.sqrt((d**2).mean(1, keepdims=True)))
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    # jvp
    t = mx.array(RNG.normal(size=x.shape), dtype=mx.float32)
    _, (jt,) = mx.jvp(lambda a: fn(a, axis=0), [a], [t])
    (vt,) = mx.vjp(lambda a: fn(a, axis=0), [a], [mx.ones((5,))])[1]
    np.testing.assert_allclose((np.array(jt)).sum(), (np.array(vt) * np.array(t)).sum(), rtol=1e-4)


@pytest.mark.parametrize("op", ["mean", "var", "std"])
@pytest.mark.parametrize("in_axis", [0, 1, 2])
def test_vmap(op, in_axis):
    x = mx.array(RNG.normal(size=(3, 4, 5)), dtype=mx.float32)
    fn = getattr(mx, op)
    for axes in [0, (0, 1), None]:
        f = lambda a: fn(a, axis=axes)
        out = mx.vmap(f, in_axes=in_axis)(x)
        want = mx.stack([f(mx.take(x, i, axis=in_axis)) for i in range(x.shape[in_axis])])
        np.testing.assert_allclose(np.array(out), np.array(want), rtol=1e-5, atol=1e-6)


def test_compile_shapeless_follows_new_sizes():
    f = lambda a: (mx.mean(a, axis=1), mx.var(a, axis=0, ddof=1))
    cf = mx.compile(f, shapeless=True)
    for shape in [(3, 4), (5, 9), (2, 2)]:
        x = mx.array(RNG.normal(size=shape), dtype=mx.float32)
        for o, w in zip(cf(x), (np.array(x).mean(1), np.array(x).var(0, ddof=1))):
            np.testing.assert_allclose(np.array(o), w, rtol=1e-5, atol=1e-6)
