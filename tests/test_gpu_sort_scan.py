"""GPU kernels of sort, argsort, partition, argpartition, scans and searchsorted against the
CPU and NumPy (csrc/mlx/backend/cuda/sort.cu, scan.cu).

Skipped where no CUDA GPU is present. Each test also checks with `mx.cuda._host_fallbacks()`
that the handled primitives did not run on the host.
"""
import numpy as np
import pytest

import mlx.core as mx
from conftest import NoHostRuns, host_runs

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)

INTS = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]
FLOATS = [mx.float32, mx.float16, mx.bfloat16]
ALL = [mx.bool_] + INTS + FLOATS
OURS = {"Sort", "ArgSort", "Partition", "ArgPartition", "Scan", "SearchSorted"}
LENGTHS = [1, 7, 33, 1000, 5000, 100000]


# ---------------------------------------------------------------- helpers
def fallbacks():
    return host_runs(OURS)


def to_np(x):
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32, stream=mx.cpu)
    return np.array(x)


def data(shape, dt, nan=False, ties=True):
    """Random data of dtype dt (with repeated values, and NaNs / signed zeros for floats)."""
    n = int(np.prod(shape))
    if dt == mx.bool_:
        a = rng.integers(0, 2, n).astype(np.bool_)
    elif dt in INTS:
        info = np.iinfo(np.dtype(str(dt).split(".")[-1]))
        if ties:
            a = rng.integers(max(info.min, -50), min(info.max, 50), n, endpoint=True)
        else:
            a = rng.integers(info.min, info.max, n, endpoint=True, dtype=np.int64 if info.min < 0 else np.uint64)
        a = a.astype(np.dtype(str(dt).split(".")[-1]))
    else:
        a = rng.standard_normal(n).astype(np.float32)
        if ties:
            a = np.round(a * 4) / 4
        if nan and n > 2:
            k = max(1, n // 10)
            a[rng.choice(n, k, replace=False)] = np.nan
            a[rng.choice(n, k, replace=False)] = -0.0
            a[rng.choice(n, max(1, k // 2), replace=False)] = 0.0
            a[rng.choice(n, 1)] = np.inf
            a[rng.choice(n, 1)] = -np.inf
    x = mx.array(a.reshape(shape))
    if dt in FLOATS:
        x = x.astype(dt, stream=mx.cpu)
    mx.eval(x)
    return x


def np_ref(x):
    """The values as NumPy (float32 for bfloat16)."""
    return to_np(x)


def same(g, c):
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    np.testing.assert_array_equal(to_np(g), to_np(c))


def close(g, c, rtol, atol=None):
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    np.testing.assert_allclose(to_np(g).astype(np.float64), to_np(c).astype(np.float64), rtol=rtol,
                               atol=rtol if atol is None else atol, equal_nan=True)


def shapes_for(n):
    if n >= 100000:
        return [(n,), (2, n)]
    if n >= 5000:
        return [(n,), (3, n)]
    return [(n,), (5, n), (2, 3, n)]


# ---------------------------------------------------------------- sort / argsort
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dt", [mx.float32, mx.int32, mx.float16, mx.bfloat16, mx.uint8, mx.int64])
def test_sort_argsort_lengths(n, dt):
    for shape in shapes_for(n):
        x = data(shape, dt, nan=True)
        with NoHostRuns(OURS):
            gs = mx.sort(x, stream=mx.gpu)
            ga = mx.argsort(x, stream=mx.gpu)
            mx.eval(gs, ga)
        same(gs, mx.sort(x, stream=mx.cpu))
        same(ga, mx.argsort(x, stream=mx.cpu))
        assert ga.dtype == mx.uint32
        ref = np.argsort(np_ref(x), axis=-1, kind="stable")
        np.testing.assert_array_equal(np.array(ga).astype(np.int64), ref)
        np.testing.assert_array_equal(to_np(gs), np.sort(np_ref(x), axis=-1))


@pytest.mark.parametrize("dt", ALL)
def test_sort_argsort_dtypes(dt):
    for shape in [(4, 37), (3, 700), (2, 4096), (2, 4097)]:
        for ties in (True, False):
            x = data(shape, dt, nan=True, ties=ties)
            with NoHostRuns(OURS):
                gs = mx.sort(x, stream=mx.gpu)
                ga = mx.argsort(x, stream=mx.gpu)
                mx.eval(gs, ga)
            same(gs, mx.sort(x, stream=mx.cpu))
            same(ga, mx.argsort(x, stream=mx.cpu))
            np.testing.assert_array_equal(np.array(ga).astype(np.int64),
                                          np.argsort(np_ref(x), axis=-1, kind="stable"))


@pytest.mark.parametrize("axis", [0, 1, 2, -2, None])
@pytest.mark.parametrize("dt", [mx.float32, mx.int16, mx.bfloat16])
def test_sort_axes(axis, dt):
    for shape in [(6, 5, 7), (40, 3, 9), (3, 5000, 2)]:
        x = data(shape, dt, nan=True)
        with NoHostRuns(OURS):
            gs = mx.sort(x, axis=axis, stream=mx.gpu)
            ga = mx.argsort(x, axis=axis, stream=mx.gpu)
            mx.eval(gs, ga)
        same(gs, mx.sort(x, axis=axis, stream=mx.cpu))
        same(ga, mx.argsort(x, axis=axis, stream=mx.cpu))
        xr = np_ref(x) if axis is not None else np_ref(x).reshape(-1)
        ax = -1 if axis is None else axis
        np.testing.assert_array_equal(np.array(ga).astype(np.int64), np.argsort(xr, axis=ax, kind="stable"))


def test_sort_noncontiguous_and_edge_cases():
    x = data((30, 50), mx.float32, nan=True)
    views = [x.T, x[::2, 3:40], x[:, 5:], x[:, ::-1], mx.broadcast_to(x[:1], (4, 50))]
    for v in views:
        for axis in (0, 1):
            with NoHostRuns(OURS):
                gs = mx.sort(v, axis=axis, stream=mx.gpu)
                ga = mx.argsort(v, axis=axis, stream=mx.gpu)
                mx.eval(gs, ga)
            same(gs, mx.sort(v, axis=axis, stream=mx.cpu))
            same(ga, mx.argsort(v, axis=axis, stream=mx.cpu))
    # empty, scalar, length-one axes
    for v in [mx.zeros((0, 5)), mx.zeros((5, 0)), mx.array(3.0), mx.ones((4, 1)), mx.ones((1, 1, 1))]:
        for axis in ([None] if v.ndim == 0 else [None, 0, -1]):
            same(mx.sort(v, axis=axis, stream=mx.gpu), mx.sort(v, axis=axis, stream=mx.cpu))
            same(mx.argsort(v, axis=axis, stream=mx.gpu), mx.argsort(v, axis=axis, stream=mx.cpu))
    # all-equal rows (stability) and all-NaN rows
    for v in [mx.zeros((3, 3000)), mx.full((2, 70000), float("nan")), mx.array([-0.0, 0.0, -0.0, 0.0] * 9)]:
        ga = mx.argsort(v, stream=mx.gpu)
        np.testing.assert_array_equal(np.array(ga).astype(np.int64), np.argsort(np_ref(v), axis=-1, kind="stable"))
        same(mx.sort(v, stream=mx.gpu), mx.sort(v, stream=mx.cpu))


def test_sort_many_long_rows():
    # several rows beyond the block sort: the segmented device sort
    for dt in [mx.float32, mx.uint16, mx.int64, mx.bool_]:
        x = data((17, 9000), dt, nan=True)
        with NoHostRuns(OURS):
            gs = mx.sort(x, stream=mx.gpu)
            ga = mx.argsort(x, stream=mx.gpu)
            mx.eval(gs, ga)
        same(gs, mx.sort(x, stream=mx.cpu))
        same(ga, mx.argsort(x, stream=mx.cpu))


# ---------------------------------------------------------------- partition
def check_partition(vals, kth, axis, ref):
    """vals (NumPy) satisfy the partition property against ref (the input) along axis."""
    v = np.moveaxis(vals.astype(np.float64), axis, -1)
    r = np.sort(np.moveaxis(ref.astype(np.float64), axis, -1), axis=-1)
    np.testing.assert_array_equal(np.sort(v, axis=-1), r)  # a permutation of each row
    pivot = v[..., kth:kth + 1]
    np.testing.assert_array_equal(v[..., kth], r[..., kth])
    assert np.all(v[..., :kth] <= pivot)
    assert np.all(v[..., kth + 1:] >= pivot)


@pytest.mark.parametrize("dt", ALL)
def test_partition_argpartition(dt):
    for shape, axis in [((7,), 0), ((5, 33), 1), ((4, 1000), -1), ((3, 6000), 1), ((50, 6, 4), 0),
                        ((100000,), 0)]:
        x = data(shape, dt)
        xn = np_ref(x)
        n = shape[axis]
        for kth in sorted({0, n // 3, n - 1, -1}):
            with NoHostRuns(OURS):
                gp = mx.partition(x, kth, axis=axis, stream=mx.gpu)
                gi = mx.argpartition(x, kth, axis=axis, stream=mx.gpu)
                mx.eval(gp, gi)
            assert gp.dtype == x.dtype and gi.dtype == mx.uint32
            k = kth % n
            check_partition(to_np(gp), k, axis, xn)
            idx = np.array(gi).astype(np.int64)
            check_partition(np.take_along_axis(xn, idx, axis=axis), k, axis, xn)


def test_partition_nan_and_topk():
    x = data((6, 300), mx.float32, nan=True)
    xn = np_ref(x)
    with NoHostRuns(OURS):
        gp = mx.partition(x, 100, axis=1, stream=mx.gpu)
        t = mx.topk(x, 10, axis=1, stream=mx.gpu)
        mx.eval(gp, t)
    np.testing.assert_array_equal(np.sort(to_np(gp), axis=1), np.sort(xn, axis=1))
    np.testing.assert_array_equal(to_np(gp)[:, 100], np.sort(xn, axis=1)[:, 100])
    np.testing.assert_array_equal(np.sort(to_np(t), axis=1), np.sort(xn, axis=1)[:, -10:])


# ---------------------------------------------------------------- scans
SCANS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def scan_data(op, shape, dt):
    if op == "cumprod" and dt in FLOATS:
        a = rng.uniform(0.9, 1.1, shape).astype(np.float32)
        return mx.array(a).astype(dt, stream=mx.cpu)
    if op in ("cumsum", "logcumsumexp") and dt in FLOATS:
        a = rng.uniform(-1, 1, shape).astype(np.float32)
        return mx.array(a).astype(dt, stream=mx.cpu)
    return data(shape, dt, nan=op in ("cummax", "cummin"))


def scan_tol(op, dt, n):
    """Tolerance for a scan whose output has dtype dt (None: exact)."""
    if op in ("cummax", "cummin") or dt not in FLOATS:
        return None  # exact
    base = {mx.float32: 2e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2}[dt]
    if op in ("cumsum", "logcumsumexp"):  # both accumulate sums in a different order
        return base * max(1.0, np.sqrt(n) / 4)
    return base * max(1.0, np.log2(max(n, 2)))


def check_scan(op, x, axis, reverse, inclusive):
    f = getattr(mx, op)
    with NoHostRuns(OURS):
        g = f(x, axis=axis, reverse=reverse, inclusive=inclusive, stream=mx.gpu)
        mx.eval(g)
    c = f(x, axis=axis, reverse=reverse, inclusive=inclusive, stream=mx.cpu)
    n = x.size if axis is None else x.shape[axis]
    tol = scan_tol(op, c.dtype, n)
    if tol is None:
        same(g, c)
    else:
        f = to_np(c).astype(np.float64)
        f = f[np.isfinite(f)]
        scale = float(np.abs(f).max()) if f.size else 1.0
        close(g, c, rtol=tol, atol=tol * max(scale, 1.0))
    return g


@pytest.mark.parametrize("op", SCANS)
@pytest.mark.parametrize("n", LENGTHS)
def test_scan_lengths(op, n):
    for dt in [mx.float32, mx.int32] if op != "logcumsumexp" else [mx.float32, mx.float16]:
        for shape in shapes_for(n):
            x = scan_data(op, shape, dt)
            for reverse in (False, True):
                for inclusive in (True, False):
                    check_scan(op, x, -1, reverse, inclusive)


@pytest.mark.parametrize("op", SCANS)
@pytest.mark.parametrize("dt", ALL)
def test_scan_dtypes(op, dt):
    for shape, axis in [((3, 40), 1), ((6, 300, 2), 1), ((2000,), 0), ((5, 7, 9), 0)]:
        x = scan_data(op, shape, dt)
        for reverse in (False, True):
            for inclusive in (True, False):
                g = check_scan(op, x, axis, reverse, inclusive)
                if op == "cumsum" and dt == mx.bool_:
                    assert g.dtype == mx.int32


@pytest.mark.parametrize("op", SCANS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
def test_scan_axes(op, axis):
    # inner axes with few lanes (transposed rows), many lanes (lane kernel) and short axes
    for shape in [(4, 500, 3), (3, 7, 5), (2, 20, 40000), (30, 3000, 2), (70000, 2, 1)]:
        x = scan_data(op, shape, mx.float32)
        for reverse in (False, True):
            for inclusive in (True, False):
                check_scan(op, x, axis, reverse, inclusive)


def test_scan_integer_exact_and_numpy():
    x = data((4, 5000), mx.int32, ties=False)
    with NoHostRuns(OURS):
        g = mx.cumsum(x, axis=1, stream=mx.gpu)
        mx.eval(g)
    np.testing.assert_array_equal(np.array(g), np.cumsum(np.array(x), axis=1, dtype=np.int32))
    x = mx.array(rng.integers(-3, 4, (3, 200000)).astype(np.int64))
    g = mx.cumsum(x, axis=1, stream=mx.gpu)
    np.testing.assert_array_equal(np.array(g), np.cumsum(np.array(x), axis=1))
    # wrapping of narrow types, as on the CPU
    for dt in [mx.int8, mx.uint8, mx.int16]:
        x = data((3, 3000), dt, ties=False)
        for op in ("cumsum", "cumprod"):
            check_scan(op, x, 1, False, True)
            check_scan(op, x, 1, True, False)
    # exclusive identities
    for dt, op, first in [(mx.int8, "cummin", 127), (mx.int8, "cummax", -128), (mx.uint16, "cummin", 65535),
                          (mx.float32, "cummax", -np.inf), (mx.float32, "logcumsumexp", -np.inf),
                          (mx.int32, "cumprod", 1), (mx.bool_, "cummin", True)]:
        x = data((2, 10), dt)
        g = getattr(mx, op)(x, axis=1, inclusive=False, stream=mx.gpu)
        assert np.all(to_np(g)[:, 0] == first), (dt, op, to_np(g)[:, 0])


def test_scan_noncontiguous_and_empty():
    x = scan_data("cumsum", (40, 60), mx.float32)
    for v in [x.T, x[::3, 5:], mx.broadcast_to(x[:1], (5, 60))]:
        for op in SCANS:
            for axis in (0, 1):
                check_scan(op, v, axis, False, True)
                check_scan(op, v, axis, True, False)
    for v in [mx.zeros((0, 4)), mx.zeros((3, 0)), mx.array(2.0)]:
        for axis in ([None] if v.ndim == 0 else [None, 0, 1]):
            same(mx.cumsum(v, axis=axis, stream=mx.gpu), mx.cumsum(v, axis=axis, stream=mx.cpu))


# ---------------------------------------------------------------- searchsorted
@pytest.mark.parametrize("dt", ALL)
def test_searchsorted(dt):
    a = mx.sort(data((1000,), dt, nan=True), stream=mx.cpu)
    v = data((7, 50), dt, nan=True)
    an, vn = np_ref(a), np_ref(v)
    for side in ("left", "right"):
        with NoHostRuns(OURS):
            g = mx.searchsorted(a, v, side=side, stream=mx.gpu)
            mx.eval(g)
        same(g, mx.searchsorted(a, v, side=side, stream=mx.cpu))
        np.testing.assert_array_equal(np.array(g).astype(np.int64), np.searchsorted(an, vn, side=side))
    # strided inputs and edge sizes
    same(mx.searchsorted(a[::3], v.T, stream=mx.gpu), mx.searchsorted(a[::3], v.T, stream=mx.cpu))
    same(mx.searchsorted(a[:0], v, stream=mx.gpu), mx.searchsorted(a[:0], v, stream=mx.cpu))
    same(mx.searchsorted(a, v[:0], stream=mx.gpu), mx.searchsorted(a, v[:0], stream=mx.cpu))


# ---------------------------------------------------------------- gradients
def test_gradients_on_gpu():
    x = mx.array(rng.standard_normal((6, 300)).astype(np.float32))
    w = mx.array(rng.standard_normal((6, 300)).astype(np.float32))

    def run(f, stream):
        with mx.stream(stream):
            return mx.grad(f)(x)

    for f in [lambda t: (mx.cumsum(t, axis=1) * w).sum(),
              lambda t: (mx.cumsum(t, axis=0, reverse=True, inclusive=False) * w).sum(),
              lambda t: (mx.cumprod(t * 0.01 + 1, axis=1) * w).sum(),
              lambda t: (mx.logcumsumexp(t, axis=1) * w).sum(),
              lambda t: (mx.cummax(t, axis=1) * w).sum(),
              lambda t: (mx.sort(t, axis=1) * w).sum(),
              lambda t: (mx.sort(t, axis=0) * w).sum(),
              lambda t: (mx.topk(t, 5, axis=1)).sum()]:
        g, c = run(f, mx.gpu), run(f, mx.cpu)
        np.testing.assert_allclose(np.array(g), np.array(c), rtol=1e-3, atol=1e-3)


def test_fallback_counter_sees_unhandled_dtypes():
    # complex64 has no GPU sort/scan kernel: it runs on the host (and the counter shows it)
    z = mx.array((rng.standard_normal(20) + 1j * rng.standard_normal(20)).astype(np.complex64))
    mx.synchronize()
    before = fallbacks()
    g = mx.sort(z, stream=mx.gpu)
    mx.eval(g)
    after = fallbacks()
    assert after.get("Sort (complex64)", 0) == before.get("Sort (complex64)", 0) + 1
    np.testing.assert_array_equal(np.array(g), np.array(mx.sort(z, stream=mx.cpu)))
