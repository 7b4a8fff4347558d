"""Scans, sorting, partitioning, searchsorted, diagonals, Hadamard, gathered/segmented/
block-masked matmuls, depends, and the composite ops (einsum, median, tensordot, ...),
checked against NumPy; gradients against central finite differences in float64 and vmap
against a Python loop."""

import math

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64

ALL = [mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32,
       mx.int64, mx.float16, mx.bfloat16, mx.float32, mx.float64]


def npy(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def close(a, b, rtol=1e-5, atol=1e-6):
    a = npy(a) if isinstance(a, mx.array) else np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64),
                               b.astype(np.complex128 if np.iscomplexobj(b) else np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


def rand(rng, shape, dtype, lo=-3, hi=3):
    if dtype == mx.bool_:
        return mx.array(rng.random(shape) > 0.5)
    if mx.issubdtype(dtype, mx.integer):
        lo_ = 0 if mx.issubdtype(dtype, mx.unsignedinteger) else -5
        return mx.array(rng.integers(lo_, 6, shape)).astype(dtype)
    return mx.array(rng.uniform(lo, hi, shape).astype(np.float32)).astype(dtype)


def tol(dtype):
    if dtype in (mx.float16, mx.bfloat16):
        return dict(rtol=3e-2, atol=3e-2)
    if dtype == mx.float32:
        return dict(rtol=1e-4, atol=1e-5)
    return dict(rtol=1e-10, atol=1e-12)


def check_grad(f, x, rng, eps=1e-6, rtol=1e-6, atol=1e-8):
    """Directional derivative of sum(f(x) * w) along v vs the gradient from mx.grad (float64)."""
    with float64_on_cpu():
        x = x.astype(mx.float64)
        y = f(x)
        w = mx.array(rng.standard_normal(y.shape), mx.float64)
        v = mx.array(rng.standard_normal(x.shape), mx.float64)

        def loss(z):
            return mx.sum(f(z) * w)

        g = mx.grad(loss)(x)
        fd = (loss(x + eps * v).item() - loss(x - eps * v).item()) / (2 * eps)
        an = mx.sum(g * v).item()
        assert abs(fd - an) <= atol + rtol * max(abs(fd), abs(an)), (fd, an)
        # jvp agrees with vjp: <jvp(v), w> == <v, vjp(w)>.
        _, (t,) = mx.jvp(f, [x], [v])
        assert abs(mx.sum(t * w).item() - an) <= atol + rtol * max(1.0, abs(an)), (mx.sum(t * w).item(), an)


def check_vmap(f, xs, in_axes=0):
    """vmap(f) over axis in_axes of xs[0] (other inputs unbatched) matches a loop."""
    out = mx.vmap(lambda *a: f(*a), in_axes=(in_axes,) + (None,) * (len(xs) - 1))(*xs)
    loop = mx.stack([f(mx.take(xs[0], mx.array(i), in_axes), *xs[1:])
                     for i in range(xs[0].shape[in_axes])])
    assert out.shape == loop.shape
    assert mx.array_equal(out, loop, equal_nan=True).item() or np.allclose(npy(out), npy(loop), equal_nan=True)


# --------------------------------------------------------------------------------------
# scans

NP_SCANS = {
    "cumsum": np.cumsum,
    "cumprod": np.cumprod,
    "cummax": np.maximum.accumulate,
    "cummin": np.minimum.accumulate,
    "logcumsumexp": np.logaddexp.accumulate,
}
IDENT = {"cumsum": 0, "cumprod": 1, "logcumsumexp": -np.inf}


def np_scan(name, x, axis, reverse, inclusive, ident=None):
    if axis is None:
        x, axis = x.reshape(-1), 0
    x = x.astype(np.float64) if x.dtype.kind == "f" or name == "logcumsumexp" else x
    if reverse:
        x = np.flip(x, axis)
    r = NP_SCANS[name](x, axis=axis)
    if not inclusive:
        idv = IDENT.get(name, ident)
        first = np.full_like(np.take(r, [0], axis=axis), idv)
        r = np.concatenate([first, np.delete(r, -1, axis=axis)], axis=axis)
    if reverse:
        r = np.flip(r, axis)
    return r


def scan_out_dtype(name, dt):
    if name == "logcumsumexp":
        return dt if mx.issubdtype(dt, mx.inexact) else mx.float32
    if name == "cumsum" and dt == mx.bool_:
        return mx.int32
    return dt


@pytest.mark.parametrize("name", list(NP_SCANS))
@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_scan_values_and_dtypes(rng, name, dtype):
    with on_cpu_if_float64(dtype):
        if name == "logcumsumexp" and dtype == mx.bool_:
            return
        lo, hi = (0.5, 1.5) if name == "cumprod" else (-3, 3)
        a = rand(rng, (3, 4, 5), dtype, lo, hi)
        x = npy(a)
        if dtype == mx.bool_ and name == "cumsum":
            x = x.astype(np.int64)
        f = getattr(mx, name)
        for axis in (None, 0, 1, -1):
            for reverse in (False, True):
                for inclusive in (True, False):
                    kw = {} if axis is None else {"axis": axis}
                    out = f(a, reverse=reverse, inclusive=inclusive, **kw)
                    assert out.dtype == scan_out_dtype(name, dtype)
                    ident = None
                    if name in ("cummax", "cummin"):
                        if dtype == mx.bool_:
                            ident = name == "cummin"
                        elif mx.issubdtype(dtype, mx.integer):
                            info = mx.iinfo(dtype)
                            ident = info.min if name == "cummax" else info.max
                        else:
                            ident = -np.inf if name == "cummax" else np.inf
                    exp = np_scan(name, x, axis, reverse, inclusive, ident)
                    if mx.issubdtype(dtype, mx.integer) or dtype == mx.bool_:
                        if name != "logcumsumexp":
                            exp = exp.astype(npy(out).dtype)
                            assert np.array_equal(npy(out), exp), (axis, reverse, inclusive)
                            continue
                    close(out, exp, **tol(out.dtype))


def test_scan_integer_wraps_and_options():
    assert mx.cumsum(mx.array([200, 100], mx.uint8)).tolist() == [200, 44]
    assert mx.cumsum(mx.array([1.5, 2, 3]), dtype=mx.int32).tolist() == [1, 3, 6]
    assert mx.cumsum(mx.array([1, 2, 3]), dtype=mx.float32).dtype == mx.float32
    assert mx.cumprod(mx.array([True, False, True]), inclusive=False).tolist() == [True, True, False]
    assert mx.cummin(mx.array([1, 2, 3], mx.int32), inclusive=False).tolist() == [2**31 - 1, 1, 1]
    assert mx.cummax(mx.array([1, 2, 3], mx.uint8), inclusive=False, reverse=True).tolist() == [3, 3, 0]
    assert mx.cumulative_sum is mx.cumsum and mx.cumulative_prod is mx.cumprod
    # NaN propagates through cummax/cummin.
    r = mx.cummax(mx.array([1.0, math.nan, 3, 0])).tolist()
    assert r[0] == 1 and all(math.isnan(v) for v in r[1:])
    assert mx.logcumsumexp(mx.array([-math.inf, -math.inf, 3])).tolist() == [-math.inf, -math.inf, 3.0]
    assert mx.logcumsumexp(mx.array([math.inf, math.inf])).tolist() == [math.inf, math.inf]
    # Complex
    z = np.array([1 + 2j, 3 + 1j, -1j], np.complex64)
    close(mx.cumsum(mx.array(z)), np.cumsum(z))
    close(mx.cumprod(mx.array(z)), np.cumprod(z))
    # Array methods.
    a = mx.array([[1.0, 2], [3, 4]])
    close(a.cumsum(0, reverse=True), [[4, 6], [3, 4]])
    close(a.cummax(axis=1), [[1, 2], [3, 4]])
    assert a.logcumsumexp().shape == (4,)


def test_scan_layouts_and_sizes(rng):
    x = rng.standard_normal((40, 700)).astype(np.float32)
    a = mx.array(x)
    close(mx.cumsum(a, axis=1), np.cumsum(x.astype(np.float64), 1), rtol=1e-4, atol=1e-4)
    close(mx.cumsum(a, axis=0), np.cumsum(x.astype(np.float64), 0), rtol=1e-4, atol=1e-4)
    close(mx.cumsum(a.T, axis=0), np.cumsum(x.T.astype(np.float64), 0), rtol=1e-4, atol=1e-4)
    close(mx.cummax(a[::2, ::3], axis=1), np.maximum.accumulate(x[::2, ::3], 1))
    close(mx.cumsum(mx.broadcast_to(mx.array([1.0, 2.0]), (3, 2)), axis=0), [[1, 2], [2, 4], [3, 6]])
    assert mx.cumsum(mx.array(3.0)).shape == (1,)
    assert mx.cumsum(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    assert mx.cumsum(mx.zeros((0, 3))).shape == (0,)
    assert mx.cumsum(3).tolist() == [3]
    with pytest.raises(IndexError):
        mx.cumsum(mx.zeros((2, 3)), axis=2)
    with pytest.raises(IndexError):
        mx.cummax(mx.array(3.0), axis=0)


@pytest.mark.parametrize("name", list(NP_SCANS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("inclusive", [True, False])
def test_scan_grad_fd(rng, name, reverse, inclusive):
    f = getattr(mx, name)
    if name == "cumprod":
        x = mx.array(rng.uniform(0.5, 1.5, (3, 6)) * rng.choice([-1, 1], (3, 6)))
    else:
        x = mx.array(rng.standard_normal((3, 6)))
    for axis in (0, 1):
        def g(z):
            y = f(z, axis=axis, reverse=reverse, inclusive=inclusive)
            # The identity (+-inf) of exclusive cummax/cummin has no derivative.
            return mx.where(mx.isinf(y), 0.0, y) if not inclusive and name != "cumsum" else y

        check_grad(g, x, rng)


def _cumprod_grad_exact(x, g):
    # d/dx_i sum_j g_j prod_{k<=j} x_k, by brute force.
    n = len(x)
    out = np.zeros(n)
    for i in range(n):
        for j in range(i, n):
            p = 1.0
            for k in range(j + 1):
                if k != i:
                    p *= x[k]
            out[i] += g[j] * p
    return out


def test_cumprod_grad_with_zeros(rng):
    with float64_on_cpu():
        for x in ([3.0, 0, 4, 1], [3.0, 0, 4, 0], [0.0, 2, 3], [2.0, 3, 0], [0.0, 0, 1]):
            g = rng.standard_normal(len(x))
            xa = mx.array(x, mx.float64)
            got = mx.grad(lambda z: mx.sum(mx.cumprod(z) * mx.array(g, mx.float64)))(xa)
            close(got, _cumprod_grad_exact(np.array(x), g), rtol=1e-10, atol=1e-12)
            # jvp: J v with J[j, i] = d y_j / d x_i.
            v = rng.standard_normal(len(x))
            _, (t,) = mx.jvp(mx.cumprod, [xa], [mx.array(v, mx.float64)])
            J = np.stack([_cumprod_grad_exact(np.array(x), np.eye(len(x))[j]) for j in range(len(x))])
            close(t, J @ v, rtol=1e-10, atol=1e-12)
    # MLX's values for these cases.
    assert mx.grad(lambda z: mx.cumprod(z).sum())(mx.array([3.0, 0, 4, 1])).tolist() == [1, 27, 0, 0]
    assert mx.grad(lambda z: mx.cumprod(z, inclusive=False, reverse=True).sum())(
        mx.array([3.0, 0, 4, 2])).tolist() == [0, 8, 2, 5]


def test_cummax_grad_ties_go_to_the_latest():
    w = mx.arange(4).astype(mx.float32)
    assert mx.grad(lambda a: (mx.cummax(a) * w).sum())(mx.array([3.0, 1, 4, 4])).tolist() == [1, 0, 2, 3]
    assert mx.grad(lambda a: (mx.cummin(a) * w).sum())(mx.array([3.0, 1, 4, 1])).tolist() == [0, 3, 0, 3]


def test_logcumsumexp_grad_extremes():
    # Large inputs do not overflow the gradient.
    x = mx.array([1000.0, 1001.0, 999.0])
    g = mx.grad(lambda z: mx.logcumsumexp(z).sum())(x)
    assert np.all(np.isfinite(npy(g)))
    close(mx.sum(g), 3.0, rtol=1e-4)


@pytest.mark.parametrize("name", list(NP_SCANS))
def test_scan_vmap(rng, name):
    f = getattr(mx, name)
    x = mx.array(rng.uniform(0.5, 1.5, (4, 3, 5)).astype(np.float32))
    for in_axis in (0, 1, 2):
        for axis in (0, -1):
            check_vmap(lambda z: f(z, axis=axis, reverse=True), [x], in_axis)


# --------------------------------------------------------------------------------------
# sort, argsort, partition, topk


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_sort_argsort_dtypes(rng, dtype):
    with on_cpu_if_float64(dtype):
        a = rand(rng, (4, 7), dtype)
        x = npy(a)
        for axis in (0, 1, -1, None):
            s = mx.sort(a, axis=axis)
            i = mx.argsort(a, axis=axis)
            assert s.dtype == dtype and i.dtype == mx.uint32
            if axis is None:
                assert np.array_equal(npy(s), np.sort(x, axis=None))
                assert np.array_equal(npy(i), np.argsort(x, axis=None, kind="stable"))
            else:
                assert np.array_equal(npy(s), np.sort(x, axis=axis))
                assert np.array_equal(npy(i), np.argsort(x, axis=axis, kind="stable"))


def test_sort_special_values_and_layouts(rng):
    x = np.array([3.0, np.nan, 1, -0.0, 0.0, np.nan, 2, -np.inf, np.inf], np.float32)
    s = npy(mx.sort(mx.array(x)))
    assert np.array_equal(s[:7], np.sort(x)[:7]) and np.isnan(s[7:]).all()
    assert mx.argsort(mx.array(x)).tolist() == np.argsort(x, kind="stable").tolist()
    # Stable with many ties.
    t = rng.integers(0, 3, 200)
    assert mx.argsort(mx.array(t)).tolist() == np.argsort(t, kind="stable").tolist()
    # Non-contiguous and broadcast inputs.
    y = rng.standard_normal((6, 8)).astype(np.float32)
    b = mx.array(y)
    assert np.array_equal(npy(mx.sort(b.T, axis=1)), np.sort(y.T, axis=1))
    assert np.array_equal(npy(mx.argsort(b[::2, ::-1], axis=0)), np.argsort(y[::2, ::-1], axis=0, kind="stable"))
    assert mx.sort(mx.broadcast_to(mx.array([2, 1]), (3, 2))).tolist() == [[1, 2]] * 3
    # Complex: lexicographic.
    assert mx.sort(mx.array([1 + 2j, 1 + 1j, 5j])).tolist() == [5j, 1 + 1j, 1 + 2j]
    # Empty and scalar.
    assert mx.sort(mx.zeros((0, 3))).shape == (0, 3)
    assert mx.argsort(mx.zeros((2, 0))).shape == (2, 0)
    assert mx.sort(mx.array(3), axis=None).tolist() == [3]
    with pytest.raises(IndexError):
        mx.sort(mx.array(3))
    with pytest.raises(IndexError):
        mx.argsort(mx.array([1, 2]), axis=1)
    # Long rows.
    z = rng.standard_normal(100000).astype(np.float32)
    assert np.array_equal(npy(mx.sort(mx.array(z))), np.sort(z))


@pytest.mark.parametrize("dtype", [mx.int32, mx.uint8, mx.float32, mx.float16, mx.bool_], ids=str)
def test_partition(rng, dtype):
    a = rand(rng, (5, 9), dtype)
    x = npy(a)
    for axis in (0, 1, None):
        n = x.size if axis is None else x.shape[axis]
        for kth in (0, 3, n - 1, -1, -n):
            p = mx.partition(a, kth, axis=axis)
            ip = mx.argpartition(a, kth, axis=axis)
            xs = x.reshape(-1) if axis is None else x
            ax = 0 if axis is None else axis
            k = kth % n
            srt = np.sort(xs, axis=ax)
            pn = npy(p)
            assert np.array_equal(np.take(pn, k, ax), np.take(srt, k, ax))
            assert np.all(np.take(pn, range(k), ax) <= np.expand_dims(np.take(pn, k, ax), ax))
            assert np.all(np.take(pn, range(k + 1, n), ax) >= np.expand_dims(np.take(pn, k, ax), ax))
            # Values are the input gathered by the indices.
            assert np.array_equal(np.take_along_axis(xs, npy(ip).astype(np.int64), ax), pn)
            assert np.array_equal(np.sort(npy(ip), axis=ax), np.sort(np.argsort(xs, axis=ax), axis=ax))
    with pytest.raises(ValueError):
        mx.partition(mx.arange(8), 8)
    with pytest.raises(ValueError):
        mx.argpartition(mx.arange(8), -9)
    with pytest.raises(IndexError):
        mx.partition(mx.array(3.0), 0)


def test_topk(rng):
    x = rng.standard_normal((4, 10)).astype(np.float32)
    a = mx.array(x)
    for axis in (0, 1, -1, None):
        for k in (1, 3):
            r = npy(mx.topk(a, k, axis=axis))
            if axis is None:
                exp = np.sort(x, axis=None)[-k:]
                assert np.array_equal(np.sort(r), exp)
            else:
                exp = np.take(np.sort(x, axis=axis), range(x.shape[axis] - k, x.shape[axis]), axis)
                assert np.array_equal(np.sort(r, axis=axis), exp)
    assert mx.topk(mx.array([5, 4, 3, 2, 1, 0, 9, 8]), 0).shape == (0,)
    assert sorted(mx.topk(mx.array([5, 4, 3, 2, 1, 0, 9, 8]), 8).tolist()) == [0, 1, 2, 3, 4, 5, 8, 9]
    with pytest.raises(ValueError):
        mx.topk(mx.arange(8), 9)
    with pytest.raises(ValueError):
        mx.topk(mx.arange(8), -1)


def test_sort_partition_grads(rng):
    x = mx.array(rng.standard_normal((3, 7)))
    for axis in (0, 1):
        check_grad(lambda z: mx.sort(z, axis=axis), x, rng)
        check_grad(lambda z: mx.partition(z, 2, axis=axis), x, rng)
    check_grad(lambda z: mx.topk(z, 3, axis=1), x, rng)
    check_grad(lambda z: mx.sort(z, axis=None), x, rng)
    w = mx.arange(4).astype(mx.float32)
    assert mx.grad(lambda a: (mx.sort(a) * w).sum())(mx.array([3.0, 1, 2, 0])).tolist() == [3, 1, 2, 0]
    assert mx.grad(lambda a: mx.argsort(a).astype(mx.float32).sum())(mx.array([3.0, 1])).tolist() == [0, 0]


def test_sort_vmap(rng):
    x = mx.array(rng.standard_normal((3, 4, 5)).astype(np.float32))
    for in_axis in (0, 1, 2):
        check_vmap(lambda z: mx.sort(z, axis=-1), [x], in_axis)
        check_vmap(lambda z: mx.argsort(z, axis=0), [x], in_axis)
        check_vmap(lambda z: mx.partition(z, 1, axis=-1), [x], in_axis)
        check_vmap(lambda z: mx.argpartition(z, 1, axis=0), [x], in_axis)
        check_vmap(lambda z: mx.topk(z, 2, axis=-1), [x], in_axis)


# --------------------------------------------------------------------------------------
# searchsorted


def test_searchsorted(rng):
    s = np.sort(rng.integers(0, 10, 20)).astype(np.float32)
    v = rng.uniform(-1, 11, (3, 4)).astype(np.float32)
    v[0, :3] = [s[0], s[5], s[-1]]
    for side in ("left", "right"):
        r = mx.searchsorted(mx.array(s), mx.array(v), side=side)
        assert r.dtype == mx.uint32
        assert np.array_equal(npy(r), np.searchsorted(s, v, side=side))
    # Mixed dtypes promote.
    assert mx.searchsorted(mx.array([1, 2, 2, 3]), mx.array([2, 0, 5, 2.5])).tolist() == [1, 0, 4, 3]
    assert mx.searchsorted(mx.array([1, 2, 2, 3]), mx.array([2.0]), side="right").tolist() == [3]
    # NaN sorts last.
    assert mx.searchsorted(mx.array([1.0, math.nan]), mx.array([math.nan, 5])).tolist() == [1, 1]
    assert mx.searchsorted(mx.array([1.0, 2.0]), mx.zeros((0,))).shape == (0,)
    with pytest.raises(ValueError):
        mx.searchsorted(mx.array([[1, 2]]), mx.array([1]))
    with pytest.raises(ValueError):
        mx.searchsorted(mx.array([1, 2]), mx.array([1]), side="middle")
    # vmap over the values only.
    vals = mx.array(v)
    check_vmap(lambda z, q: mx.searchsorted(q, z), [vals, mx.array(s)], 1)
    # Mapping over the sorted sequence falls back to a loop (MLX refuses it).
    check_vmap(lambda q: mx.searchsorted(q, mx.array([0.5, 1.5])), [mx.array([[1.0, 2], [0, 1]])], 0)


# --------------------------------------------------------------------------------------
# diagonals


def test_diag_diagonal_trace(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    a = mx.array(x)
    for off in (-5, -2, -1, 0, 1, 3, 6):
        for ax1, ax2 in ((0, 1), (1, 2), (2, 0), (-1, -2)):
            close(mx.diagonal(a, off, ax1, ax2), np.diagonal(x, off, ax1, ax2))
            close(mx.trace(a, off, ax1, ax2), np.trace(x, off, ax1, ax2), rtol=1e-5, atol=1e-5)
    m = x[0]
    for k in (-4, -1, 0, 2, 7):
        close(mx.diag(mx.array(m), k), np.diag(m, k))
        close(mx.diag(mx.array(m[1]), k), np.diag(m[1], k))
    close(mx.diag(mx.array(m).T), np.diag(m.T))
    assert mx.diag(mx.array([1, 2])).dtype == mx.int32
    close(mx.array(m).diagonal(1), np.diagonal(m, 1))
    close(mx.array(m).diag(-1), np.diag(m, -1))
    # trace dtypes follow sum.
    assert mx.trace(mx.ones((2, 2), mx.int8)).dtype == mx.int32
    assert mx.trace(mx.ones((2, 2), mx.uint8)).dtype == mx.uint32
    assert mx.trace(mx.ones((2, 2), mx.bool_)).dtype == mx.int32
    assert mx.trace(mx.ones((2, 2), mx.float16)).dtype == mx.float16
    assert mx.trace(mx.ones((2, 2)), dtype=mx.int8).dtype == mx.int8
    with pytest.raises(ValueError):
        mx.diag(mx.array(1))
    with pytest.raises(ValueError):
        mx.diag(mx.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        mx.diagonal(mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.diagonal(a, 0, 1, 1)
    with pytest.raises(IndexError):
        mx.diagonal(a, 0, 0, 3)
    with pytest.raises(ValueError):
        mx.trace(mx.array([1, 2]))
    xd = mx.array(rng.standard_normal((4, 5)))
    check_grad(lambda z: mx.diagonal(z, 1), xd, rng)
    check_grad(lambda z: mx.diag(z[0], -1), xd, rng)
    check_grad(lambda z: mx.trace(z, -1).reshape(1), xd, rng)
    check_vmap(lambda z: mx.diagonal(z, 1, 0, 1), [a], 2)


# --------------------------------------------------------------------------------------
# composites: median, meshgrid, tensordot, inner, outer, kron, addmm, diff, vecdot, windows


def test_median(rng):
    x = rng.uniform(-3, 3, (4, 5, 6)).astype(np.float32)
    a = mx.array(x)
    close(mx.median(a), np.median(x))
    for axis in (0, 1, -1, (0, 2), (1, 2), [0, 1, 2]):
        close(mx.median(a, axis=axis), np.median(x, axis=axis))
        close(mx.median(a, axis=axis, keepdims=True), np.median(x, axis=axis, keepdims=True))
    out = mx.median(mx.array([1, 2, 3, 4], mx.int32))
    assert out.dtype == mx.float32 and out.item() == 2.5
    assert mx.median(mx.array([1, 2, 3, 4], mx.float16)).dtype == mx.float16
    assert math.isnan(mx.median(mx.array([1.0, math.nan, 3, 4])).item())
    assert mx.median(mx.array(2)).item() == 2.0
    with pytest.raises(ValueError):
        mx.median(mx.zeros((0,)))
    with pytest.raises(IndexError):
        mx.median(mx.array([1, 2, 3]), axis=1)
    with pytest.raises(ValueError):
        mx.median(mx.zeros((2, 3)), axis=[0, 0])
    assert mx.grad(lambda z: mx.median(z))(mx.array([3.0, 0, 4, 2])).tolist() == [0.5, 0, 0, 0.5]


def test_meshgrid():
    x, y = np.array([1, 2]), np.array([3.0, 4, 5])
    for indexing in ("xy", "ij"):
        for sparse in (False, True):
            out = mx.meshgrid(mx.array(x), mx.array(y), indexing=indexing, sparse=sparse)
            exp = np.meshgrid(x, y, indexing=indexing, sparse=sparse)
            assert isinstance(out, tuple) and len(out) == 2
            for o, e in zip(out, exp):
                close(o, e)
    out = mx.meshgrid(mx.array([1, 2]), mx.array([3.0, 4, 5]))
    assert out[0].dtype == mx.int32 and out[1].dtype == mx.float32
    three = mx.meshgrid(mx.arange(2), mx.arange(3), mx.arange(4))
    for o, e in zip(three, np.meshgrid(np.arange(2), np.arange(3), np.arange(4))):
        close(o, e)
    assert mx.meshgrid() == ()
    assert mx.meshgrid(mx.array([[1, 2]]), mx.array(3))[0].shape == (1, 2)
    with pytest.raises(ValueError):
        mx.meshgrid(mx.array([1, 2]), indexing="xx")


def test_contractions(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    c = rng.standard_normal((2, 4)).astype(np.float32)
    a, b = mx.array(x), mx.array(y)
    close(mx.inner(a, b), np.inner(x, y), rtol=1e-5)
    close(mx.inner(mx.array(2.0), b), np.inner(2.0, y))
    z = rng.standard_normal((3, 2, 3)).astype(np.float32)
    close(mx.inner(mx.array(z), b), np.inner(z, y), rtol=1e-5, atol=1e-6)
    close(mx.outer(a, b), np.outer(x, y), rtol=1e-5)
    close(mx.outer(mx.array([1, 2]), mx.array([3, 4])), np.outer([1, 2], [3, 4]))
    close(mx.addmm(mx.array(c), a, b.T, alpha=2.0, beta=0.5), 0.5 * c + 2.0 * x @ y.T, rtol=1e-5, atol=1e-5)
    close(mx.addmm(mx.array(1.0), mx.array([1.0, 2]), mx.array([3.0, 4])), 12.0)
    with pytest.raises(ValueError):
        mx.addmm(mx.array([1.0, 2]), mx.array([[1.0, 2]]), mx.array([[3.0], [4]]))
    with pytest.raises(ValueError):
        mx.addmm(mx.array([1, 2]), mx.array([[1, 2]]), mx.array([[3], [4]]))
    t1 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t2 = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for axes in (2, ([1], [0]), ([1, 2], [0, 1]), ([2, 1], [1, 0]), ([-1], [1])):
        close(mx.tensordot(mx.array(t1), mx.array(t2), axes=axes), np.tensordot(t1, t2, axes=axes),
              rtol=1e-4, atol=1e-5)
    close(mx.tensordot(mx.array([1.0, 2]), mx.array([3.0, 4]), axes=0), np.outer([1, 2], [3, 4]))
    with pytest.raises(ValueError):
        mx.tensordot(mx.array([1.0, 2]), mx.array([3.0, 4]), axes=2)
    with pytest.raises(ValueError):
        mx.tensordot(mx.array([1.0, 2]), mx.array([3.0, 4, 5]), axes=1)
    with pytest.raises(ValueError):
        mx.tensordot(mx.ones((2, 3)), mx.ones((3, 2)), axes=[[1], [0, 1]])
    with pytest.raises(ValueError):
        mx.tensordot(mx.ones((2, 3)), mx.ones((3, 2)), axes=-1)
    with pytest.raises(ValueError):
        mx.inner(mx.array([1.0, 2]), mx.array([3.0, 4, 5]))
    for sa, sb in (((2, 3), (4, 5)), ((2,), (3, 1)), ((), (3,)), ((2, 1, 3), (2, 2))):
        p = rng.standard_normal(sa).astype(np.float32)
        q = rng.standard_normal(sb).astype(np.float32)
        close(mx.kron(mx.array(p), mx.array(q)), np.kron(p, q), rtol=1e-6)
    assert mx.kron(mx.array([1, 2]), mx.array([3, 4])).dtype == mx.int32
    # vecdot
    close(mx.vecdot(a, mx.array(x[::-1].copy())), np.sum(x * x[::-1], -1), rtol=1e-5)
    close(mx.vecdot(mx.array([[1.0, 2], [3, 4]]), mx.array([3.0, 4]), axis=0), [12.0, 24.0])
    assert mx.vecdot(mx.array([1 + 1j, 2]), mx.array([3 + 0j, 4])).item() == 11 - 3j
    assert mx.vecdot(mx.array([True]), mx.array([True])).dtype == mx.int32
    with pytest.raises(ValueError):
        mx.vecdot(mx.array(1.0), mx.array(3.0))
    with pytest.raises(ValueError):
        mx.vecdot(mx.array([1.0, 2]), mx.array([3.0, 4, 5]))
    # gradients flow through the composites
    xx = mx.array(rng.standard_normal((3, 4)))
    yy = mx.array(rng.standard_normal((4, 5)))
    check_grad(lambda z: mx.tensordot(z, yy, axes=1), xx, rng)
    check_grad(lambda z: mx.kron(z, yy), xx, rng)
    check_grad(lambda z: mx.addmm(mx.ones((3, 5), mx.float64), z, yy, alpha=0.5, beta=2.0), xx, rng)


def test_diff(rng):
    x = rng.integers(-5, 5, (4, 6)).astype(np.int32)
    a = mx.array(x)
    for n in (0, 1, 2, 5, 7):
        for axis in (0, 1, -1):
            assert np.array_equal(npy(mx.diff(a, n, axis)), np.diff(x, n, axis))
    b = np.array([True, False, True, True])
    assert np.array_equal(npy(mx.diff(mx.array(b))), np.diff(b))
    assert mx.diff(mx.array([1, 4], mx.uint8)).tolist() == [3]
    with pytest.raises(ValueError):
        mx.diff(a, -1)
    with pytest.raises(IndexError):
        mx.diff(mx.array(1))
    with pytest.raises(IndexError):
        mx.diff(a, 1, 2)
    check_grad(lambda z: mx.diff(z, 2, 0), mx.array(rng.standard_normal((5, 3))), rng)


def test_windows():
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        f = getattr(mx, name)
        for M in (-1, 0, 1, 2, 5, 16):
            w = f(M)
            assert w.dtype == mx.float32
            close(w, getattr(np, name)(M), atol=2e-6)
        with pytest.raises(TypeError):
            f(5.0)


@pytest.mark.parametrize("kind,members", [
    ("bool", [mx.bool_]),
    ("signed integer", [mx.int8, mx.int16, mx.int32, mx.int64]),
    ("unsigned integer", [mx.uint8, mx.uint16, mx.uint32, mx.uint64]),
    ("integral", [mx.int8, mx.int16, mx.int32, mx.int64, mx.uint8, mx.uint16, mx.uint32, mx.uint64]),
    ("real floating", [mx.float16, mx.bfloat16, mx.float32, mx.float64]),
    ("complex floating", [mx.complex64]),
])
def test_isdtype(kind, members):
    for dt in ALL + [mx.complex64]:
        assert mx.isdtype(dt, kind) == (dt in members)
        assert mx.isdtype(dt, "numeric") == (dt != mx.bool_)
    assert mx.isdtype(mx.float32, ("integral", "real floating"))
    assert mx.isdtype(mx.float32, (mx.int32, "real floating"))
    assert mx.isdtype(mx.int8, mx.int8) and not mx.isdtype(mx.int8, mx.int16)
    with pytest.raises(ValueError, match=r"\[isdtype\]"):
        mx.isdtype(mx.int32, "foo")
    with pytest.raises(ValueError):
        mx.isdtype(mx.int32, mx.floating)


# --------------------------------------------------------------------------------------
# einsum


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),
    ("...j,jk->...k", [(2, 5, 3), (3, 4)]),
    ("i,j->ij", [(2,), (3,)]),
    ("i,i->i", [(3,), (3,)]),
    ("i,i", [(3,), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (1, 4, 5)]),
    ("ij,j->ij", [(2, 3), (1,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 6)]),
    ("ijk,jil->kl", [(3, 4, 5), (4, 3, 2)]),
    ("iij->j", [(3, 3, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...i", [(3, 2, 3)]),
    ("i...,i...->...", [(2, 3), (2, 1)]),
    ("ij,ij,ij->", [(2, 3), (2, 3), (2, 3)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
    ("ij,jk->", [(2, 3), (3, 4)]),
    ("iJ,Jk->ik", [(2, 3), (3, 4)]),
    (" ij , jk -> ki ", [(2, 3), (3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ijk,ikl,k->jl", [(2, 3, 4), (2, 4, 5), (4,)]),
    ("", [()]),
    ("->", [()]),
]


@pytest.mark.parametrize("subs,shapes", EINSUM_CASES)
def test_einsum(rng, subs, shapes):
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out = mx.einsum(subs, *[mx.array(x) for x in xs])
    exp = np.einsum(subs.replace(" ", ""), *[x.astype(np.float64) for x in xs])
    close(out, exp, rtol=1e-4, atol=1e-5)


def test_einsum_dtypes_errors_and_grads(rng):
    assert mx.einsum("i,j->ij", mx.array([1, 2]), mx.array([3, 4])).dtype == mx.int32
    assert mx.einsum("i->", mx.array([True, True])).item() == 2
    assert mx.einsum("ij,jk->ik", mx.ones((2, 3), mx.float16), mx.ones((3, 2))).dtype == mx.float32
    with pytest.raises(ValueError):
        mx.einsum("ij,jk->ik", mx.ones((2, 3)), mx.ones((4, 2)))
    with pytest.raises(ValueError):
        mx.einsum("ij,jk->ik", mx.ones((2, 3)))
    with pytest.raises(ValueError):
        mx.einsum("ij,jk->ikk", mx.ones((2, 3)), mx.ones((3, 4)))
    with pytest.raises(ValueError):
        mx.einsum("i->", mx.ones((2, 3)))
    with pytest.raises(ValueError):
        mx.einsum("ij->ik", mx.ones((2, 3)))
    with pytest.raises(ValueError):
        mx.einsum("i1->", mx.ones((2, 3)))
    y = mx.array(rng.standard_normal((3, 4)))
    check_grad(lambda z: mx.einsum("ij,jk->ik", z, y), mx.array(rng.standard_normal((2, 3))), rng)
    check_grad(lambda z: mx.einsum("ii->i", z), mx.array(rng.standard_normal((3, 3))), rng)
    a = mx.array(rng.standard_normal((4, 2, 3)).astype(np.float32))
    check_vmap(lambda z, w: mx.einsum("ij,jk->ik", z, w), [a, y.astype(mx.float32)], 0)


def test_einsum_path():
    a, b = mx.ones((2, 3)), mx.ones((3, 4))
    path, info = mx.einsum_path("ij,jk->ik", a, b)
    assert path == [(0, 1)]
    assert info == ("  Complete contraction:  ij,jk->ik\n         Naive scaling:  3\n     Optimized scaling:  3\n"
                    "      Naive FLOP count:  48\n  Optimized FLOP count:  48\n")
    path, info = mx.einsum_path("ij,jk,kl->il", a, b, mx.ones((4, 5)))
    assert path == [(1, 2), (0, 1)]
    assert "Naive FLOP count:  360" in info and "Optimized FLOP count:  180" in info
    assert mx.einsum_path("ij->ji", a)[0] == [(0,)]
    ops = [mx.ones((2, 3)), mx.ones((3, 40)), mx.ones((40, 5)), mx.ones((5, 6))]
    path, info = mx.einsum_path("ab,bc,cd,de->ae", *ops)
    assert path == [(1, 2), (1, 2), (0, 1)]
    assert "Naive FLOP count:  28800" in info and "Optimized FLOP count:  1452" in info
    path, info = mx.einsum_path("i,j,k->ijk", mx.ones((2,)), mx.ones((3,)), mx.ones((4,)))
    assert path == [(0, 1), (0, 1)] and "Optimized FLOP count:  30" in info


# --------------------------------------------------------------------------------------
# Hadamard


def sylvester(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 12, 24, 20, 40, 28, 56])
def test_hadamard_orthogonal(n):
    h = npy(mx.hadamard_transform(mx.eye(n)))  # rows: H e_i / sqrt(n) = columns of H
    close(h @ h.T, np.eye(n), atol=1e-5)
    assert np.allclose(np.abs(h) * math.sqrt(n), 1, atol=1e-5)
    if n & (n - 1) == 0:
        close(h, sylvester(n) / math.sqrt(n), atol=1e-6)


def test_hadamard_values_dtypes_and_errors(rng):
    close(mx.hadamard_transform(mx.array([1.0, 2, 3, 4])), [5, -1, -2, 0])
    close(mx.hadamard_transform(mx.array([1.0, 2, 3, 4]), scale=1.0), [10, -2, -4, 0])
    assert mx.hadamard_transform(mx.array([1, 2, 3, 4])).dtype == mx.float32
    assert mx.hadamard_transform(mx.array([1.0, 2, 3, 4], mx.float16)).dtype == mx.float16
    assert mx.hadamard_transform(mx.array(1.0)).item() == 1.0
    x = rng.standard_normal((3, 5, 16)).astype(np.float32)
    close(mx.hadamard_transform(mx.array(x)), x @ sylvester(16).T / 4, atol=1e-5)
    close(mx.hadamard_transform(mx.array(x)[:, ::2]), x[:, ::2] @ sylvester(16).T / 4, atol=1e-5)
    with pytest.raises(ValueError):
        mx.hadamard_transform(mx.ones((3,)))
    with pytest.raises(ValueError):
        mx.hadamard_transform(mx.ones((6,)))
    with pytest.raises(ValueError):
        mx.hadamard_transform(mx.ones((4,), mx.float64))
    # Gradients (float32: float64 is not supported) and vmap.
    for n in (8, 12, 20, 28):
        z = mx.array(rng.standard_normal((2, n)).astype(np.float32))
        w = mx.array(rng.standard_normal((2, n)).astype(np.float32))
        g = mx.grad(lambda q: mx.sum(mx.hadamard_transform(q) * w))(z)
        H = npy(mx.hadamard_transform(mx.eye(n))).T  # y = H x
        close(g, npy(w) @ H, atol=1e-4)
        _, (t,) = mx.jvp(mx.hadamard_transform, [z], [w])
        close(t, npy(w) @ H.T, atol=1e-4)
        check_vmap(mx.hadamard_transform, [z], 0)
        check_vmap(mx.hadamard_transform, [z.T], 1)


# --------------------------------------------------------------------------------------
# gather_mm, segmented_mm, block_masked_mm


def np_gather_mm(a, b, li, ri):
    ab = a.reshape((-1,) + a.shape[-2:])
    bb = b.reshape((-1,) + b.shape[-2:])
    li, ri = np.broadcast_arrays(li, ri)
    out = np.stack([ab[i] @ bb[j] for i, j in zip(li.reshape(-1), ri.reshape(-1))])
    return out.reshape(li.shape + out.shape[-2:])


def test_gather_mm(rng):
    a = rng.standard_normal((3, 2, 4)).astype(np.float32)
    b = rng.standard_normal((5, 4, 6)).astype(np.float32)
    li = np.array([0, 1, 2, 2, 0])
    ri = np.array([4, 0, 1, 1, 3])
    out = mx.gather_mm(mx.array(a), mx.array(b), mx.array(li), mx.array(ri))
    close(out, np_gather_mm(a, b, li, ri), rtol=1e-5, atol=1e-5)
    # Broadcast index shapes and defaults.
    out = mx.gather_mm(mx.array(a), mx.array(b), mx.array(li[:3].reshape(3, 1)), mx.array(ri[None, :]))
    close(out, np_gather_mm(a, b, li[:3].reshape(3, 1), ri[None, :]), rtol=1e-5, atol=1e-5)
    out = mx.gather_mm(mx.array(a[0]), mx.array(b), None, mx.array([1, 3]))
    close(out, np.stack([a[0] @ b[1], a[0] @ b[3]]), rtol=1e-5, atol=1e-5)
    close(mx.gather_mm(mx.array(a), mx.array(b[:3])), a @ b[:3], rtol=1e-5, atol=1e-5)
    close(mx.gather_mm(mx.array(a[0, 0]), mx.array(b[0, :, 0])), a[0, 0] @ b[0, :, 0], rtol=1e-5)
    # Transposed rhs (the usual layout of expert weights), sorted indices, rows grouped.
    w = rng.standard_normal((4, 6, 5)).astype(np.float32)
    x = rng.standard_normal((7, 1, 5)).astype(np.float32)
    ridx = np.array([0, 0, 1, 1, 1, 3, 3])
    out = mx.gather_mm(mx.array(x), mx.array(w).swapaxes(-1, -2), None, mx.array(ridx), sorted_indices=True)
    close(out, np.stack([x[i] @ w[ridx[i]].T for i in range(7)]), rtol=1e-5, atol=1e-5)
    # Half precision and mixed dtypes.
    out = mx.gather_mm(mx.array(a).astype(mx.float16), mx.array(b).astype(mx.float16), mx.array(li), mx.array(ri))
    assert out.dtype == mx.float16
    close(out, np_gather_mm(a, b, li, ri), rtol=2e-2, atol=2e-2)
    assert mx.gather_mm(mx.array(a), mx.array(b).astype(mx.int32), None, mx.array([1, 2, 0])).dtype == mx.float32
    with pytest.raises(ValueError):
        mx.gather_mm(mx.array(a), mx.array(b))
    with pytest.raises(ValueError):
        mx.gather_mm(mx.array(a), mx.array(b), mx.array([0, 1.0]), None)
    with pytest.raises(ValueError):
        mx.gather_mm(mx.ones((2, 3), mx.int32), mx.ones((3, 2), mx.int32))
    with pytest.raises(ValueError):
        mx.gather_mm(mx.ones((2, 3)), mx.ones((4, 2)))


def test_gather_mm_grads(rng):
    a = mx.array(rng.standard_normal((3, 2, 4)))
    b = mx.array(rng.standard_normal((5, 4, 6)))
    li = mx.array([0, 1, 2, 2, 0, 1])
    ri = mx.array([4, 0, 1, 1, 3, 4])
    check_grad(lambda z: mx.gather_mm(z, b, li, ri), a, rng)
    check_grad(lambda z: mx.gather_mm(a, z, li, ri), b, rng)
    check_grad(lambda z: mx.gather_mm(a, z.swapaxes(-1, -2), li, ri), b.swapaxes(-1, -2), rng)
    # vmap falls back to a loop.
    af = a.astype(mx.float32)
    check_vmap(lambda z, q: mx.gather_mm(z, q, li, ri), [mx.stack([af, af * 2]), b.astype(mx.float32)], 0)


def test_segmented_mm(rng):
    a = rng.standard_normal((3, 10)).astype(np.float32)
    b = rng.standard_normal((10, 4)).astype(np.float32)
    segs = np.array([[0, 2], [2, 7], [7, 10], [4, 4], [5, 3], [1, 9]])
    out = mx.segmented_mm(mx.array(a), mx.array(b), mx.array(segs))
    exp = np.stack([a[:, s:e] @ b[s:e] if e > s else np.zeros((3, 4)) for s, e in segs])
    close(out, exp, rtol=1e-5, atol=1e-5)
    # Transposed operands and leading segment dims.
    out = mx.segmented_mm(mx.array(a.T.copy()).T, mx.array(b.T.copy()).T, mx.array(segs.reshape(2, 3, 2)))
    close(out, exp.reshape(2, 3, 3, 4), rtol=1e-5, atol=1e-5)
    close(mx.segmented_mm(mx.array(a), mx.array(b), mx.array([0, 2])), a[:, :2] @ b[:2], rtol=1e-5)
    # Out-of-range segments are clamped.
    close(mx.segmented_mm(mx.array(a), mx.array(b), mx.array([[0, 99]])), (a @ b)[None], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        mx.segmented_mm(mx.ones((2, 2, 6)), mx.ones((6, 3)), mx.array([[0, 2]]))
    with pytest.raises(ValueError):
        mx.segmented_mm(mx.ones((2, 6)), mx.ones((6, 3)), mx.array([[0, 2.0]]))
    with pytest.raises(ValueError):
        mx.segmented_mm(mx.ones((2, 6)), mx.ones((5, 3)), mx.array([[0, 2]]))


def test_block_masked_mm(rng):
    a = rng.standard_normal((64, 96)).astype(np.float32)
    b = rng.standard_normal((96, 48)).astype(np.float32)
    bs = 32
    mo = rng.random((2, 2)) > 0.5
    ml = rng.uniform(0, 2, (2, 3)).astype(np.float32)
    mr = rng.random((3, 2)) > 0.3

    def ex(m, r, c):
        return np.kron(m.astype(np.float32), np.ones((bs, bs)))[:r, :c]

    out = mx.block_masked_mm(mx.array(a), mx.array(b), bs, mx.array(mo), mx.array(ml), mx.array(mr))
    exp = ((a * ex(ml, 64, 96)) @ (b * ex(mr, 96, 48))) * ex(mo, 64, 48)
    close(out, exp, rtol=1e-4, atol=1e-4)
    close(mx.block_masked_mm(mx.array(a), mx.array(b), 3), a @ b, rtol=1e-4, atol=1e-4)
    assert mx.block_masked_mm(mx.ones((2, 64, 64)), mx.ones((64, 64)), 32,
                              mask_out=mx.ones((2, 2, 2), mx.bool_)).shape == (2, 64, 64)
    with pytest.raises(ValueError):
        mx.block_masked_mm(mx.array(a), mx.array(b), 16, mask_out=mx.array(mo))
    with pytest.raises(ValueError):
        mx.block_masked_mm(mx.array(a), mx.array(b), 32, mask_lhs=mx.ones((2, 2), mx.bool_))
    g = mx.grad(lambda z: mx.block_masked_mm(z, mx.array(b), 32, mask_out=mx.array(mo)).sum())(mx.array(a))
    close(g, ex(mo, 64, 48) @ b.T, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------
# depends


def test_depends():
    x = mx.array([1.0, 2])
    y = mx.array([3.0])
    r = mx.depends(x, y)
    assert isinstance(r, mx.array) and r.tolist() == [1.0, 2.0]
    r = mx.depends([x, x * 2], [y])
    assert isinstance(r, list) and r[1].tolist() == [2.0, 4.0]
    assert mx.depends((x,), y)[0].tolist() == [1.0, 2.0]
    assert mx.grad(lambda z: mx.depends(z * 2, z).sum())(x).tolist() == [2.0, 2.0]
    assert mx.grad(lambda z: mx.depends(z * 2, [z * 3]).sum())(x).tolist() == [2.0, 2.0]
    out = mx.vmap(lambda z: mx.depends(z * 2, z))(mx.ones((2, 3)))
    assert out.tolist() == [[2.0] * 3] * 2
