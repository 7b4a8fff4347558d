"""Tests of mx.linalg against NumPy/SciPy: values, batching, layouts, dtypes, errors,
gradients (central differences along a random direction, float64) and vmap."""

import math

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64
import scipy.linalg as sla

la = mx.linalg


def npa(x):
    return np.array(x)


def arr(x):
    """mx.array that keeps NumPy float64 (mx.array alone makes it float32, as MLX does)."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return mx.array(x, dtype=mx.float64)
    return mx.array(x)


def close(got, exp, tol=1e-4):
    got = npa(got)
    exp = np.asarray(exp)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    np.testing.assert_allclose(got, exp, rtol=tol, atol=tol)


def spd(rng, n, batch=(), dtype=np.float32):
    a = rng.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def well_conditioned(rng, shape, dtype=np.float32):
    a = rng.standard_normal(shape)
    return (a + shape[-1] * np.eye(shape[-1])).astype(dtype)


# ---------------------------------------------------------------- gradient helper


def check_grads(f, xs, rng, sym=None, eps=1e-6, tol=1e-5):
    """Checks the vjp and jvp of f (float64 inputs) against central differences along one
    random direction; `sym` marks inputs perturbed symmetrically (symmetric-input ops)."""
    with float64_on_cpu():
        xs = [arr(np.asarray(x, dtype=np.float64)) for x in xs]

        def outs(*a):
            o = f(*a)
            return list(o) if isinstance(o, (list, tuple)) else [o]

        cts = [arr(rng.standard_normal(o.shape)) for o in outs(*xs)]
        ts = [rng.standard_normal(x.shape) for x in xs]
        if sym:
            ts = [(t + np.swapaxes(t, -1, -2)) / 2 if s else t for t, s in zip(ts, sym)]
        tm = [arr(t) for t in ts]

        def loss(*a):
            return sum((o * c).sum() for o, c in zip(outs(*a), cts))

        grads = mx.grad(loss, argnums=list(range(len(xs))))(*xs)
        grads = grads if isinstance(grads, (list, tuple)) else [grads]
        vjp_dir = sum(float((g * t).sum()) for g, t in zip(grads, tm))
        plus = [x + eps * t for x, t in zip(xs, tm)]
        minus = [x - eps * t for x, t in zip(xs, tm)]
        fd = (float(loss(*plus)) - float(loss(*minus))) / (2 * eps)
        _, jt = mx.jvp(outs, xs, tm)
        jvp_dir = sum(float((j * c).sum()) for j, c in zip(jt, cts))
        scale = max(1.0, abs(fd))
        assert abs(vjp_dir - fd) < tol * scale, (vjp_dir, fd)
        assert abs(jvp_dir - fd) < tol * scale, (jvp_dir, fd)


def check_vmap(f, xs, in_axes=0):
    got = mx.vmap(f, in_axes=in_axes)(*xs)
    axes = in_axes if isinstance(in_axes, (list, tuple)) else [in_axes] * len(xs)
    n = next(x.shape[a] for x, a in zip(xs, axes) if a is not None)
    per = []
    for i in range(n):
        args = [x if a is None else mx.take(x, i, axis=a) for x, a in zip(xs, axes)]
        per.append(f(*args))
    if isinstance(got, (list, tuple)):
        for k, g in enumerate(got):
            close(g, npa(mx.stack([p[k] for p in per])), 1e-4)
    else:
        close(got, npa(mx.stack(per)), 1e-4)


# ---------------------------------------------------------------- inverses


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_inv(rng, dtype, batch):
    a = well_conditioned(rng, batch + (5, 5), dtype)
    out = la.inv(arr(a))
    assert out.dtype == (mx.float32 if dtype == np.float32 else mx.float64)
    close(out, np.linalg.inv(a), 1e-4)


def test_inv_layouts(rng):
    a = well_conditioned(rng, (4, 4))
    close(la.inv(arr(a).T), np.linalg.inv(a.T))  # non-contiguous
    b = mx.broadcast_to(arr(a), (3, 4, 4))  # stride-0 batch
    close(la.inv(b), np.broadcast_to(np.linalg.inv(a), (3, 4, 4)))
    close(la.inv(arr([[2.0]])), [[0.5]])
    assert la.inv(mx.zeros((0, 0))).shape == (0, 0)
    assert la.inv(mx.zeros((0, 3, 3))).shape == (0, 3, 3)
    close(la.inv([[2.0, 0.0], [0.0, 4.0]]), [[0.5, 0], [0, 0.25]])


@pytest.mark.parametrize("upper", [False, True])
def test_tri_inv(rng, upper):
    a = well_conditioned(rng, (3, 5, 5))
    tri = np.triu(a) if upper else np.tril(a)
    out = la.tri_inv(arr(a), upper=upper)  # the other triangle is ignored
    close(out, np.linalg.inv(tri), 1e-4)
    assert np.all((np.tril(npa(out), -1) if upper else np.triu(npa(out), 1)) == 0)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(rng, upper):
    a = spd(rng, 5, (2,))
    ref = np.linalg.cholesky(a)
    ref = np.swapaxes(ref, -1, -2) if upper else ref
    close(la.cholesky(arr(a), upper=upper), ref, 1e-4)
    # Only one triangle is read.
    junk = a + (
        np.triu(np.ones((5, 5)), 1) * 7
        if not upper
        else np.tril(np.ones((5, 5)), -1) * 7
    )
    close(la.cholesky(arr(junk), upper=upper), ref, 1e-4)
    close(la.cholesky(arr(a.astype(np.float64)), upper=upper), ref, 1e-6)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inv(rng, upper):
    a = spd(rng, 4, (3,))
    f = la.cholesky(arr(a), upper=upper)
    close(la.cholesky_inv(f, upper=upper), np.linalg.inv(a), 1e-4)


def test_pinv(rng):
    for shape in [(5, 3), (3, 5), (2, 4, 4)]:
        a = rng.standard_normal(shape).astype(np.float32)
        close(la.pinv(arr(a)), np.linalg.pinv(a), 1e-4)
    r = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]], np.float32)  # rank deficient
    close(la.pinv(arr(r)), np.linalg.pinv(r), 1e-5)
    assert la.pinv(mx.zeros((0, 3))).shape == (3, 0)


# ---------------------------------------------------------------- factorizations


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 5, 4), (0, 3), (3, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_qr(rng, shape, dtype):
    with on_cpu_if_float64(dtype):
        a = rng.standard_normal(shape).astype(dtype)
        q, r = la.qr(arr(a))
        k = min(shape[-2:])
        assert q.shape == shape[:-1] + (k,) and r.shape == shape[:-2] + (k, shape[-1])
        assert q.dtype == r.dtype == arr(a).dtype
        if a.size == 0:
            return
        close(q @ r, a, 1e-4)
        close(
            np.swapaxes(npa(q), -1, -2) @ npa(q),
            np.broadcast_to(np.eye(k), shape[:-2] + (k, k)),
            1e-4,
        )
        assert np.allclose(np.tril(npa(r), -1), 0)
        _, rn = np.linalg.qr(a)
        close(np.abs(npa(r)), np.abs(rn), 1e-4)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_svd(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if dtype == np.complex64:
        a = a + 1j * rng.standard_normal(shape)
    a = a.astype(dtype)
    u, s, vt = la.svd(arr(a))
    m, n = shape[-2:]
    k = min(m, n)
    assert u.shape == shape[:-2] + (m, m) and s.shape == shape[:-2] + (k,)
    assert vt.shape == shape[:-2] + (n, n)
    assert s.dtype == (mx.float64 if dtype == np.float64 else mx.float32)
    close(s, np.linalg.svd(a, compute_uv=False), 1e-4)
    un, vn = npa(u), npa(vt)
    rec = (un[..., :, :k] * npa(s)[..., None, :]) @ vn[..., :k, :]
    close(rec, a, 1e-4)
    eye_m = np.broadcast_to(np.eye(m), un.shape)
    close(np.conj(np.swapaxes(un, -1, -2)) @ un, eye_m, 1e-4)
    sv = la.svd(arr(a), compute_uv=False)
    assert isinstance(sv, mx.array)
    close(sv, np.linalg.svd(a, compute_uv=False), 1e-4)


def test_svd_empty():
    u, s, vt = la.svd(mx.zeros((0, 3)))
    assert u.shape == (0, 0) and s.shape == (0,)
    close(vt, np.eye(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_eig(rng, dtype):
    a = rng.standard_normal((3, 5, 5))
    if dtype == np.complex64:
        a = a + 1j * rng.standard_normal(a.shape)
    a = a.astype(dtype)
    w, v = la.eig(arr(a))
    assert w.dtype == v.dtype == mx.complex64
    assert w.shape == (3, 5) and v.shape == (3, 5, 5)
    av = a.astype(np.complex128) @ npa(v)
    close(av, npa(v) * npa(w)[..., None, :], 1e-3)
    close(np.linalg.norm(npa(v), axis=-2), np.ones((3, 5)), 1e-4)
    ev = np.sort_complex(npa(la.eigvals(arr(a))))
    close(ev, np.sort_complex(np.linalg.eigvals(a)).astype(np.complex64), 1e-3)
    # A rotation has a complex pair.
    close(np.sort_complex(npa(la.eigvals(arr([[0.0, -1.0], [1.0, 0.0]])))), [-1j, 1j])


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_eigh(rng, uplo, dtype):
    a = rng.standard_normal((2, 5, 5))
    if dtype == np.complex64:
        a = a + 1j * rng.standard_normal(a.shape)
    a = (a + np.conj(np.swapaxes(a, -1, -2))).astype(dtype)
    wn = np.linalg.eigvalsh(a, UPLO=uplo)
    # Garbage in the unread triangle must not matter.
    junk = np.triu(a, 1) * 3 if uplo == "L" else np.tril(a, -1) * 3
    w, v = la.eigh(arr(a + junk), UPLO=uplo)
    assert w.dtype == (mx.float64 if dtype == np.float64 else mx.float32)
    close(w, wn, 1e-4)
    vv = npa(v)
    close(a @ vv, vv * npa(w)[..., None, :], 1e-3)
    close(la.eigvalsh(arr(a + junk), UPLO=uplo), wn, 1e-4)


def test_lu(rng):
    for shape in [(5, 5), (2, 4, 4), (5, 3), (3, 5)]:
        a = rng.standard_normal(shape).astype(np.float32)
        p, l, u = la.lu(arr(a))
        m, n = shape[-2:]
        k = min(m, n)
        assert p.dtype == mx.uint32 and p.shape == shape[:-1]
        assert l.shape == shape[:-2] + (m, k) and u.shape == shape[:-2] + (k, n)
        lu_ = npa(l @ u)
        rec = np.take_along_axis(lu_, npa(p).astype(np.int64)[..., None], axis=-2)
        close(rec, a, 1e-4)
        assert np.allclose(np.triu(npa(l), 1), 0) and np.allclose(
            np.tril(npa(u), -1), 0
        )
    a = rng.standard_normal((5, 5))
    lu_, piv = la.lu_factor(arr(a))
    lun, pivn = sla.lu_factor(a)
    close(lu_, lun, 1e-5)
    assert piv.dtype == mx.uint32
    np.testing.assert_array_equal(npa(piv), pivn)
    p, l, u = la.lu(mx.zeros((3, 3)))  # singular matrices factor without error
    close(l @ u, np.zeros((3, 3)))


def test_det_slogdet(rng):
    a = rng.standard_normal((4, 5, 5)).astype(np.float32)
    close(la.det(arr(a)), np.linalg.det(a), 1e-3)
    s, ld = la.slogdet(arr(a))
    sn, ldn = np.linalg.slogdet(a)
    close(s, sn)
    close(ld, ldn, 1e-4)
    with float64_on_cpu():
        close(la.det(arr(a.astype(np.float64))), np.linalg.det(a), 1e-6)
    assert la.det(arr([[1, 2], [3, 4]])).dtype == mx.float32
    close(la.det(arr([[1, 2], [3, 4]])), -2.0)
    close(la.det(mx.zeros((3, 3))), 0.0)
    s, ld = la.slogdet(mx.zeros((3, 3)))
    assert float(s) == 0 and float(ld) == -math.inf
    s, ld = la.slogdet(-mx.eye(3))
    assert float(s) == -1 and float(ld) == 0
    close(la.det(mx.zeros((0, 0))), 1.0)


# ---------------------------------------------------------------- solves


@pytest.mark.parametrize(
    "ashape,bshape",
    [
        ((4, 4), (4,)),
        ((4, 4), (4, 3)),
        ((2, 4, 4), (2, 4, 3)),
        ((2, 4, 4), (4,)),
        ((4, 4), (3, 4, 2)),
        ((3, 1, 4, 4), (2, 4, 1)),
    ],
)
def test_solve(rng, ashape, bshape):
    a = well_conditioned(rng, ashape)
    b = rng.standard_normal(bshape).astype(np.float32)
    if len(bshape) == 1:
        ref = np.linalg.solve(a, b[..., None])[..., 0]
    else:
        ref = np.linalg.solve(a, b)
    close(la.solve(arr(a), arr(b)), ref, 1e-4)


@pytest.mark.parametrize("upper", [False, True])
def test_solve_triangular(rng, upper):
    a = well_conditioned(rng, (3, 4, 4))
    b = rng.standard_normal((3, 4, 2)).astype(np.float32)
    ref = np.stack(
        [sla.solve_triangular(a[i], b[i], lower=not upper) for i in range(3)]
    )
    close(la.solve_triangular(arr(a), arr(b), upper=upper), ref, 1e-4)
    v = b[0, :, 0]
    close(
        la.solve_triangular(arr(a[0]), arr(v), upper=upper),
        sla.solve_triangular(a[0], v, lower=not upper),
        1e-4,
    )


def test_solve_dtypes(rng):
    a = well_conditioned(rng, (3, 3))
    x = la.solve(arr(a), mx.array(np.ones(3), mx.float64))
    assert x.dtype == mx.float64
    with pytest.raises(ValueError):
        la.solve(arr([[1, 0], [0, 1]]), arr([1, 2]))
    with pytest.raises(ValueError):
        la.solve(mx.eye(2, dtype=mx.float16), mx.ones((2,), dtype=mx.float16))


# ---------------------------------------------------------------- cross and norm


def test_cross(rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    close(la.cross(arr(a), arr(b)), np.cross(a, b))
    close(la.cross(arr(a.T), arr(b.T), axis=0), np.cross(a.T, b.T, axis=0))
    close(la.cross(arr(a), arr(b[0])), np.cross(a, b[0]))  # broadcast
    close(la.cross(arr([1.0, 2.0]), arr([3.0, 4.0])), [0, 0, -2])
    close(
        la.cross(arr([1.0, 2.0]), arr([3.0, 4.0, 5.0])), np.cross([1, 2, 0], [3, 4, 5])
    )
    r = la.cross(arr([1, 2, 3]), arr([4, 5, 6]))
    assert r.dtype == mx.int32
    np.testing.assert_array_equal(npa(r), np.cross([1, 2, 3], [4, 5, 6]))
    with pytest.raises(ValueError):
        la.cross(mx.ones((4,)), mx.ones((4,)))
    with pytest.raises(IndexError):
        la.cross(mx.ones((3,)), mx.ones((3,)), axis=1)


VEC_ORDS = [None, 0, 1, -1, 2, -2, 3, 0.5, math.inf, -math.inf]
MAT_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]


@pytest.mark.parametrize("ord", VEC_ORDS)
def test_norm_vector(rng, ord):
    x = rng.standard_normal((3, 7)).astype(np.float32)
    close(la.norm(arr(x[0]), ord=ord), np.linalg.norm(x[0], ord=ord), 1e-4)
    close(la.norm(arr(x), ord=ord, axis=1), np.linalg.norm(x, ord=ord, axis=1), 1e-4)
    close(
        la.norm(arr(x), ord=ord, axis=0, keepdims=True),
        np.linalg.norm(x, ord=ord, axis=0, keepdims=True),
        1e-4,
    )
    c = (x + 1j * rng.standard_normal(x.shape)).astype(np.complex64)
    got = la.norm(arr(c), ord=ord, axis=-1)
    assert got.dtype == mx.float32
    close(got, np.linalg.norm(c, ord=ord, axis=-1), 1e-4)


@pytest.mark.parametrize("ord", MAT_ORDS)
def test_norm_matrix(rng, ord):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    close(la.norm(arr(x[0]), ord=ord), np.linalg.norm(x[0], ord=ord), 1e-4)
    for axis in [(1, 2), (2, 1), (0, 2), (-1, 0)]:
        exp = np.linalg.norm(x, ord=ord, axis=axis, keepdims=True)
        close(la.norm(arr(x), ord=ord, axis=axis, keepdims=True), exp, 1e-4)
        close(
            la.norm(arr(x), ord=ord, axis=list(axis)),
            np.linalg.norm(x, ord=ord, axis=axis),
            1e-4,
        )
    c = (x[0] + 1j * rng.standard_normal(x[0].shape)).astype(np.complex64)
    close(la.norm(arr(c), ord=ord), np.linalg.norm(c, ord=ord), 1e-4)


def test_norm_defaults_and_dtypes(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    close(la.norm(arr(x)), np.linalg.norm(x.ravel()))
    assert la.norm(arr(x), keepdims=True).shape == (1, 1, 1)
    close(la.norm(arr(3.0)), 3.0)
    assert la.norm(arr([3, 4])).dtype == mx.float32
    close(la.norm(arr([3, 4])), 5.0)
    close(la.norm(arr([True, True]), ord=1), 2.0)
    assert la.norm(mx.array([3.0, 4.0], mx.float16)).dtype == mx.float16
    assert la.norm(mx.array([3.0, 4.0], mx.float64)).dtype == mx.float64
    h = mx.array(x[0], mx.float16)
    close(la.norm(h, ord=2), np.linalg.norm(x[0], 2), 1e-2)
    close(la.norm(mx.zeros((0,))), 0.0)
    close(la.norm(arr(x[0]), ord=np.float64(1.0)), np.linalg.norm(x[0], 1))


def test_norm_errors():
    x = mx.ones((2, 3, 4))
    with pytest.raises(ValueError):
        la.norm(x, ord=2)  # ord without axis needs 1-d or 2-d
    with pytest.raises(ValueError):
        la.norm(mx.ones((3,)), ord="fro")
    with pytest.raises(ValueError):
        la.norm(mx.ones((3, 3)), ord="foo")
    with pytest.raises(ValueError):
        la.norm(mx.ones((3, 3)), ord=3)
    with pytest.raises(ValueError):
        la.norm(mx.ones((3, 3)), ord=0.5)
    with pytest.raises(ValueError):
        la.norm(x, axis=(0, 1, 2))
    with pytest.raises(ValueError):
        la.norm(mx.ones((3, 3)), axis=(0, 0))
    with pytest.raises(IndexError):
        la.norm(mx.ones((3, 3)), axis=5)
    with pytest.raises(TypeError):
        la.norm(mx.ones((3, 3)), ord=[1])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "fn",
    [
        la.inv,
        la.tri_inv,
        la.cholesky,
        la.cholesky_inv,
        la.qr,
        la.lu,
        la.lu_factor,
        la.pinv,
        la.det,
        la.slogdet,
    ],
)
def test_real_float_only(fn):
    with pytest.raises(ValueError):
        fn(mx.eye(3, dtype=mx.float16))
    with pytest.raises(ValueError):
        fn(mx.ones((3,)))  # 1-d


@pytest.mark.parametrize(
    "fn",
    [la.inv, la.tri_inv, la.cholesky, la.eig, la.eigvals, la.eigh, la.eigvalsh, la.det],
)
def test_square_only(fn):
    with pytest.raises(ValueError):
        fn(mx.ones((2, 3)))


@pytest.mark.parametrize("fn", [la.inv, la.qr, la.svd, la.eig, la.eigh, la.cholesky])
def test_integer_inputs_rejected(fn):
    with pytest.raises(ValueError):
        fn(mx.eye(3, dtype=mx.int32))


def test_complex_rejected_where_unsupported():
    c = mx.eye(3, dtype=mx.complex64)
    for fn in [la.inv, la.qr, la.cholesky, la.det, la.slogdet, la.lu]:
        with pytest.raises(ValueError):
            fn(c)


def test_shape_errors():
    with pytest.raises(ValueError):
        la.eigh(mx.eye(3), UPLO="X")
    with pytest.raises(ValueError):
        la.solve(mx.eye(4), mx.ones((3,)))
    with pytest.raises(ValueError):
        la.solve(mx.ones((2, 3)), mx.ones((2,)))
    with pytest.raises(ValueError):
        la.solve(mx.eye(2), arr(1.0))
    with pytest.raises(ValueError):
        la.solve(
            mx.ones((3, 2, 2)), mx.ones((3, 2))
        )  # 2-d b is a matrix: (3, 2) rows != 2
    with pytest.raises(ValueError):
        la.solve_triangular(mx.eye(2), mx.ones((3,)))
    with pytest.raises(ValueError):
        la.svd(mx.ones((3,)))


@pytest.mark.parametrize(
    "fn",
    [
        lambda: la.inv(mx.zeros((3, 3))),
        lambda: la.inv(arr([[1.0, 2.0], [2.0, 4.0]])),
        lambda: la.tri_inv(mx.zeros((2, 2))),
        lambda: la.solve(mx.zeros((2, 3, 3)), mx.ones((3,))),
        lambda: la.solve_triangular(mx.zeros((2, 2)), mx.ones((2,))),
        lambda: la.cholesky(-mx.eye(3)),
        lambda: la.cholesky_inv(mx.zeros((2, 2))),
    ],
)
def test_singular_raises(fn):
    with pytest.raises(RuntimeError):
        mx.eval(fn())


def test_error_in_batch_names_matrix():
    a = np.stack([np.eye(3), np.zeros((3, 3))]).astype(np.float32)
    with pytest.raises(RuntimeError, match="matrix 1"):
        mx.eval(la.inv(arr(a)))


# ---------------------------------------------------------------- gradients


def test_grad_inverses(rng):
    a = well_conditioned(rng, (2, 4, 4), np.float64)
    check_grads(la.inv, [a], rng)
    check_grads(la.tri_inv, [a], rng)
    check_grads(lambda x: la.tri_inv(x, upper=True), [a], rng)
    check_grads(
        la.cholesky_inv, [np.linalg.cholesky(spd(rng, 4, dtype=np.float64))], rng
    )
    check_grads(la.pinv, [rng.standard_normal((3, 5))], rng)
    check_grads(la.pinv, [rng.standard_normal((5, 3))], rng)


@pytest.mark.parametrize("upper", [False, True])
def test_grad_cholesky(rng, upper):
    check_grads(
        lambda x: la.cholesky(x, upper=upper),
        [spd(rng, 4, (2,), np.float64)],
        rng,
        sym=[True],
    )


def test_grad_solves(rng):
    a = well_conditioned(rng, (2, 4, 4), np.float64)
    b = rng.standard_normal((2, 4, 3))
    check_grads(la.solve, [a, b], rng)
    check_grads(la.solve, [a[0], b[0, :, 0]], rng)
    check_grads(la.solve, [a[0], b], rng)  # broadcast batch
    check_grads(la.solve_triangular, [a, b], rng)
    check_grads(lambda x, y: la.solve_triangular(x, y, upper=True), [a, b], rng)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_grad_qr(rng, shape):
    check_grads(la.qr, [rng.standard_normal(shape)], rng)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_grad_svd(rng, shape):
    a = rng.standard_normal(shape)
    k = min(shape)
    check_grads(lambda x: la.svd(x, compute_uv=False), [a], rng)
    # The columns of U (rows of Vt) past min(M, N) are not determined by A: test the rest.

    def reduced(x):
        u, s, vt = la.svd(x)
        return u[:, :k], s, vt[:k]

    check_grads(reduced, [a], rng)


def test_grad_eigh(rng):
    a = spd(rng, 4, (2,), np.float64) + np.diag([0.0, 3.0, 7.0, 11.0])
    check_grads(la.eigh, [a], rng, sym=[True])
    check_grads(lambda x: la.eigh(x, UPLO="U"), [a], rng, sym=[True])
    check_grads(la.eigvalsh, [a], rng, sym=[True])


def test_grad_lu_det(rng):
    a = well_conditioned(rng, (2, 4, 4), np.float64)
    check_grads(lambda x: la.lu(x)[1:], [a], rng)
    check_grads(lambda x: la.lu_factor(x)[0], [a], rng)
    check_grads(la.det, [a], rng)
    check_grads(lambda x: la.slogdet(x)[1], [a], rng)
    with pytest.raises(ValueError):
        mx.grad(lambda x: la.lu(x)[1].sum())(mx.ones((3, 2)))


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 2, -2, 1, math.inf])
def test_grad_norm_matrix(rng, ord):
    check_grads(
        lambda x: la.norm(x, ord=ord, axis=(-2, -1)),
        [rng.standard_normal((2, 4, 3))],
        rng,
    )


@pytest.mark.parametrize("ord", [None, 1, 3, 0.5, math.inf])
def test_grad_norm_vector(rng, ord):
    check_grads(
        lambda x: la.norm(x, ord=ord, axis=-1), [rng.standard_normal((3, 5)) + 0.1], rng
    )


def test_grad_cross(rng):
    check_grads(
        la.cross, [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))], rng
    )


def test_grad_composite_least_squares(rng):
    # Normal equations through cholesky and triangular solves, checked end to end.
    a = rng.standard_normal((6, 3))
    y = rng.standard_normal((6, 1))

    def fit(x, t):
        l_ = la.cholesky(x.T @ x)
        z = la.solve_triangular(l_, x.T @ t)
        return la.solve_triangular(l_.T, z, upper=True)

    check_grads(fit, [a, y], rng)
    with float64_on_cpu():
        close(fit(arr(a), arr(y)), np.linalg.lstsq(a, y, rcond=None)[0], 1e-8)


def test_eig_has_no_grad():
    with pytest.raises(ValueError):
        mx.grad(lambda x: mx.real(la.eigvals(x)).sum())(mx.eye(2))


# ---------------------------------------------------------------- vmap


def test_vmap(rng):
    a = arr(well_conditioned(rng, (3, 4, 4)))
    s = arr(spd(rng, 4, (3,)))
    b = arr(rng.standard_normal((3, 4, 2)).astype(np.float32))
    check_vmap(la.inv, [a])
    check_vmap(la.inv, [mx.moveaxis(a, 0, 2)], in_axes=2)
    check_vmap(lambda x: la.tri_inv(x, upper=True), [a])
    check_vmap(la.cholesky, [s])
    check_vmap(la.qr, [a])
    check_vmap(la.svd, [a])
    check_vmap(lambda x: la.svd(x, compute_uv=False), [a])
    check_vmap(la.eigh, [s])
    check_vmap(la.eigvalsh, [s])
    check_vmap(la.eigvals, [a])
    check_vmap(la.lu_factor, [a])
    check_vmap(la.lu, [a])
    check_vmap(la.det, [a])
    check_vmap(la.solve, [a, b])
    check_vmap(la.solve, [a, b[0]], in_axes=[0, None])
    check_vmap(la.solve, [a[0], b], in_axes=[None, 0])
    check_vmap(la.solve_triangular, [a, b])
    check_vmap(lambda x: la.norm(x, ord=2), [a])
    check_vmap(la.pinv, [a])
