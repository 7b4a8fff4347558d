"""GPU kernels of the indexing primitives (Gather, Scatter, GatherAxis, ScatterAxis, Arange)
against the CPU and NumPy: take, take_along_axis, put_along_axis, __getitem__/__setitem__ with
integer arrays, .at[] updates with duplicate indices, gradients, arange.

Skipped where no CUDA GPU is present.
"""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)

VALUE_DTYPES = [mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64,
                mx.float16, mx.bfloat16, mx.float32, mx.complex64]
INDEX_DTYPES = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]
SIGNED_INDEX = [mx.int8, mx.int16, mx.int32, mx.int64]
FLOATS = [mx.float16, mx.bfloat16, mx.float32]
OURS = ["Gather", "Scatter", "GatherAxis", "ScatterAxis", "Arange"]


# ---- helpers ----------------------------------------------------------------------------------

def fallbacks():
    return dict(mx.cuda._host_fallbacks())


def ours_ran_on_host(before):
    """Nodes of our primitives that ran on the host since the snapshot `before`."""
    after = fallbacks()
    bad = {}
    for k, n in after.items():
        name = k.split(" (")[0]
        if name in OURS and n > before.get(k, 0):
            bad[k] = n - before.get(k, 0)
    return bad


class no_host_run:
    """Context: asserts that no Gather/Scatter/GatherAxis/ScatterAxis/Arange node ran on the host."""

    def __enter__(self):
        self.before = fallbacks()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            mx.synchronize()
            bad = ours_ran_on_host(self.before)
            assert not bad, f"ran on the host: {bad}"
        return False


def values(shape, dt, kind="normal"):
    shape = tuple(shape)
    if dt == mx.bool_:
        return mx.array(rng.random(shape) > 0.5)
    if dt == mx.complex64:
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return mx.array(x.astype(np.complex64))
    if dt in FLOATS:
        x = rng.standard_normal(shape).astype(np.float32)
        if kind == "near1":
            x = rng.uniform(0.8, 1.25, shape).astype(np.float32)
        return mx.array(x).astype(dt)
    # integers
    np_dt = {mx.uint8: np.uint8, mx.uint16: np.uint16, mx.uint32: np.uint32, mx.uint64: np.uint64,
             mx.int8: np.int8, mx.int16: np.int16, mx.int32: np.int32, mx.int64: np.int64}[dt]
    lo, hi = (0, 100) if np.issubdtype(np_dt, np.unsignedinteger) else (-50, 50)
    if kind == "near1":
        lo, hi = (1, 4) if np.issubdtype(np_dt, np.unsignedinteger) else (-3, 4)
    return mx.array(rng.integers(lo, hi, shape).astype(np_dt))


def to_np(x):
    if x.dtype in (mx.float16, mx.bfloat16):
        return np.array(x.astype(mx.float32))
    return np.array(x)


def same(g, c):
    """Exact equality (NaN at the same places counts as equal)."""
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    np.testing.assert_array_equal(to_np(g), to_np(c))


def close(g, c, tol=None):
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    if g.dtype in FLOATS or g.dtype == mx.complex64:
        t = tol or {mx.float32: 1e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2, mx.complex64: 1e-5}[g.dtype]
        np.testing.assert_allclose(to_np(g), to_np(c), rtol=t, atol=t, equal_nan=True)
    else:
        np.testing.assert_array_equal(to_np(g), to_np(c))


def on(dev, f, *args):
    with mx.stream(dev):
        r = f(*args)
        mx.eval(r)
    return r


def gpu_cpu(f, *args):
    return on(mx.gpu, f, *args), on(mx.cpu, f, *args)


def index_values(n, size, dt, negative=True, out_of_range=False):
    """Indices into an axis of length n: in range, negatives for signed types, maybe out of range."""
    signed = dt in SIGNED_INDEX
    lo = -n if (signed and negative) else 0
    x = rng.integers(lo, n, size)
    if out_of_range and np.prod(size) >= 2:
        flat = x.reshape(-1)
        flat[0] = n + 3
        if signed:
            flat[-1] = -n - 5
    if dt in (mx.uint8, mx.int8):
        x = np.clip(x, -128 if signed else 0, 127)
    return mx.array(x).astype(dt)


# ---- take (Gather) ----------------------------------------------------------------------------

@pytest.mark.parametrize("dt", VALUE_DTYPES)
def test_take_value_dtypes(dt):
    a = values((7, 5, 6), dt)
    with no_host_run():
        for axis in (0, 1, 2, -1):
            n = a.shape[axis]
            idx = index_values(n, (4, 3), mx.int32, out_of_range=True)
            g, c = gpu_cpu(lambda: mx.take(a, idx, axis=axis))
            same(g, c)
        idx = index_values(a.size, (11,), mx.int32)
        g, c = gpu_cpu(lambda: mx.take(a, idx))
        same(g, c)


@pytest.mark.parametrize("idt", INDEX_DTYPES)
def test_take_index_dtypes(idt):
    a = values((40, 9), mx.float32)
    with no_host_run():
        for axis in (0, 1):
            idx = index_values(a.shape[axis], (3, 5), idt, out_of_range=True)
            g, c = gpu_cpu(lambda: mx.take(a, idx, axis=axis))
            same(g, c)
            ref = np.take(np.array(a), np.clip(np.where(np.array(idx).astype(np.int64) < 0,
                                                        np.array(idx).astype(np.int64) + a.shape[axis],
                                                        np.array(idx).astype(np.int64)), 0, a.shape[axis] - 1),
                          axis=axis)
            np.testing.assert_array_equal(np.array(g), ref)


def test_take_layouts():
    base = values((12, 10, 8), mx.float32)
    idx = mx.array([3, -1, 0, 5, 5, 2], dtype=mx.int32)
    with no_host_run():
        for a in (base, mx.transpose(base, (2, 0, 1)), base[::2, 1:9:3],
                  mx.broadcast_to(base[:1], (5, 10, 8)), mx.swapaxes(base, 0, 1)):
            for axis in range(3):
                g, c = gpu_cpu(lambda: mx.take(a, idx % a.shape[axis], axis=axis))
                same(g, c)
        # transposed (non-contiguous) index array
        i2 = mx.transpose(mx.array(rng.integers(0, 10, (4, 3)).astype(np.int32)))
        g, c = gpu_cpu(lambda: mx.take(base, i2, axis=1))
        same(g, c)
        # scalar index, empty index, size-1 axis
        g, c = gpu_cpu(lambda: mx.take(base, mx.array(4), axis=0))
        same(g, c)
        g, c = gpu_cpu(lambda: mx.take(base, mx.array([], dtype=mx.int32), axis=1))
        same(g, c)
        g, c = gpu_cpu(lambda: mx.take(base[:, :1], mx.array([0, 0, -1]), axis=1))
        same(g, c)


@pytest.mark.parametrize("dt", [mx.float32, mx.bfloat16, mx.float16, mx.int8])
@pytest.mark.parametrize("dim", [1, 3, 64, 77, 1024])
def test_embedding_rows(dt, dim):
    table = values((1000, dim), dt)
    tokens = mx.array(rng.integers(0, 1000, (8, 33)).astype(np.int32))
    with no_host_run():
        g, c = gpu_cpu(lambda: table[tokens])
        same(g, c)
        g, c = gpu_cpu(lambda: mx.take(table, tokens, axis=0))
        same(g, c)
        # offset (unaligned) table view
        t2 = table[1:]
        g, c = gpu_cpu(lambda: mx.take(t2, tokens % 999, axis=0))
        same(g, c)


def test_take_large():
    # beyond one block and the 32-bit path of small sizes
    a = values((300000, 40), mx.float16)
    idx = mx.array(rng.integers(-300000, 300000, (70000,)).astype(np.int64))
    with no_host_run():
        g, c = gpu_cpu(lambda: mx.take(a, idx, axis=0))
        same(g, c)
        g, c = gpu_cpu(lambda: mx.take(a, mx.array([39, 0, 7]), axis=1))
        same(g, c)


def test_take_64bit_sizes():
    # a table of more than 2**30 elements: the kernels switch to 64-bit index math
    check_big_table((1 << 20) + 3, 1100, mx.gpu)


def check_big_table(R, C, dev):
    with mx.stream(dev):
        r = mx.arange(R, dtype=mx.int32)[:, None]
        cidx = mx.arange(C, dtype=mx.int32)[None, :]
        table = ((r * 7 + cidx) % 251).astype(mx.uint8)
        mx.eval(table)
        rows = mx.array([0, R - 1, 12345, -2, R // 2], dtype=mx.int64)
        with no_host_run():
            g = mx.take(table, rows, axis=0)
            col = mx.take(table, mx.array([C - 1]), axis=1)
            upd = mx._scatter(table, mx.array([R - 1], dtype=mx.int64), mx.ones((1, C), mx.uint8), 0, 1)
            last = mx.take(upd, mx.array([R - 1, R - 2]), axis=0)
            mx.eval(g, col, last)
    rn = np.array([0, R - 1, 12345, R - 2, R // 2])[:, None]
    cn = np.arange(C)[None, :]
    np.testing.assert_array_equal(np.array(g), ((rn * 7 + cn) % 251).astype(np.uint8))
    np.testing.assert_array_equal(np.array(col)[[0, -1], 0],
                                  (np.array([0, R - 1]) * 7 + C - 1) % 251)
    exp_last = ((np.array([R - 1, R - 2])[:, None] * 7 + cn) % 251).astype(np.uint8)
    exp_last[0] += 1
    np.testing.assert_array_equal(np.array(last), exp_last)
    del table, upd


# ---- take_along_axis (GatherAxis) -------------------------------------------------------------

@pytest.mark.parametrize("dt", VALUE_DTYPES)
def test_take_along_axis_dtypes(dt):
    a = values((6, 9, 5), dt)
    with no_host_run():
        for axis in (0, 1, 2):
            ishape = list(a.shape)
            ishape[axis] = 4
            idx = index_values(a.shape[axis], ishape, mx.int32, out_of_range=True)
            g, c = gpu_cpu(lambda: mx.take_along_axis(a, idx, axis=axis))
            same(g, c)
        idx = index_values(a.size, (13,), mx.int64)
        g, c = gpu_cpu(lambda: mx.take_along_axis(a, idx, axis=None))
        same(g, c)


@pytest.mark.parametrize("idt", INDEX_DTYPES)
def test_take_along_axis_index_dtypes_and_broadcast(idt):
    a = values((8, 30), mx.float32)
    with no_host_run():
        idx = index_values(30, (8, 3), idt)
        g, c = gpu_cpu(lambda: mx.take_along_axis(a, idx, axis=1))
        same(g, c)
        # index broadcast over the other axis, and a broadcast source
        idx = index_values(30, (1, 5), idt)
        g, c = gpu_cpu(lambda: mx.take_along_axis(a, idx, axis=1))
        same(g, c)
        a1 = a[:1]
        idx = index_values(30, (8, 2), idt)
        g, c = gpu_cpu(lambda: mx.take_along_axis(a1, idx, axis=1))
        same(g, c)
        # transposed source and index
        at = mx.transpose(values((30, 8), mx.float32))
        it = mx.transpose(index_values(30, (4, 8), idt))
        g, c = gpu_cpu(lambda: mx.take_along_axis(at, it, axis=1))
        same(g, c)


def test_cross_entropy_gather_and_grad():
    B, C = 1000, 513
    for dt in FLOATS:
        logits = values((B, C), dt)
        targets = mx.array(rng.integers(0, C, (B,)).astype(np.int32))

        def loss(x):
            lse = mx.logsumexp(x.astype(mx.float32), axis=-1)
            picked = mx.take_along_axis(x, targets[:, None], axis=-1)[:, 0].astype(mx.float32)
            return mx.mean(lse - picked)

        with no_host_run():
            g, c = gpu_cpu(lambda: mx.take_along_axis(logits, targets[:, None], axis=-1))
            same(g, c)
            gg, gc = gpu_cpu(lambda: mx.grad(loss)(logits))
            close(gg, gc, tol=1e-2 if dt != mx.float32 else 1e-5)


# ---- put_along_axis (ScatterAxis) -------------------------------------------------------------

@pytest.mark.parametrize("dt", VALUE_DTYPES)
def test_put_along_axis_dtypes(dt):
    a = values((5, 8, 3), dt)
    with no_host_run():
        for axis in (0, 1, 2):
            n = a.shape[axis]
            k = max(1, n - 1)
            # distinct indices along the axis (so assignment has one writer per position)
            perm = np.argsort(rng.random(a.shape), axis=axis)
            perm = np.take(perm, np.arange(k), axis=axis)
            idx = mx.array(perm.astype(np.int32))
            v = values(idx.shape, dt)
            g, c = gpu_cpu(lambda: mx.put_along_axis(a, idx, v, axis=axis))
            same(g, c)
            # negative indices
            g, c = gpu_cpu(lambda: mx.put_along_axis(a, idx - n, v, axis=axis))
            same(g, c)


def test_put_along_axis_broadcast_and_layouts():
    a = values((6, 10), mx.float32)
    idx = mx.array(np.array([[1, 4, 7]], dtype=np.int64))  # broadcast over rows
    with no_host_run():
        g, c = gpu_cpu(lambda: mx.put_along_axis(a, idx, mx.array(2.5), axis=1))
        same(g, c)
        v63 = values((6, 3), mx.float32)
        g, c = gpu_cpu(lambda: mx.put_along_axis(a, idx, v63, axis=1))
        same(g, c)
        at = mx.transpose(values((10, 6), mx.float32))
        v13 = values((1, 3), mx.float32)
        g, c = gpu_cpu(lambda: mx.put_along_axis(at, idx, v13, axis=1))
        same(g, c)
        for idt in INDEX_DTYPES:
            i2 = idx.astype(idt)
            g, c = gpu_cpu(lambda: mx.put_along_axis(a, i2, mx.array(-1.0), axis=1))
            same(g, c)


def test_take_along_axis_grad_duplicates():
    a = values((7, 12), mx.float32)
    idx = mx.array(rng.integers(0, 4, (7, 20)).astype(np.int32))  # many duplicates per row
    w = values((7, 20), mx.float32)
    f = lambda x: mx.sum(mx.take_along_axis(x, idx, axis=1) * w)
    with no_host_run():
        g, c = gpu_cpu(lambda: mx.grad(f)(a))
        close(g, c, tol=1e-4)
    for dt in (mx.float16, mx.bfloat16):
        ad, wd = a.astype(dt), w.astype(dt)
        f2 = lambda x: mx.sum(mx.take_along_axis(x, idx, axis=1) * wd)
        with no_host_run():
            g, c = gpu_cpu(lambda: mx.grad(f2)(ad))
            close(g, c, tol=0.1)


# ---- getitem / setitem / at -------------------------------------------------------------------

def test_getitem_integer_arrays():
    a = values((9, 8, 7), mx.float32)
    i = mx.array([0, 3, -1, 3], dtype=mx.int32)
    j = mx.array([[1, 2], [7, -8]], dtype=mx.int64)
    cases = [
        lambda: a[i],
        lambda: a[[1, 0, 8]],
        lambda: a[:, i],
        lambda: a[..., mx.array([6, 0])],
        lambda: a[i, 2:5],
        lambda: a[1:7:2, j],
        lambda: a[i, i],
        lambda: a[i, :, i],            # non-adjacent index arrays
        lambda: a[j, 1, j],
        lambda: a[None, i, ::2, 0],
        lambda: a[2, [1, 2, 1]],
        lambda: mx.transpose(a)[i],
    ]
    with no_host_run():
        for f in cases:
            g, c = gpu_cpu(f)
            same(g, c)
    np.testing.assert_array_equal(np.array(on(mx.gpu, lambda: a[i, :, i])),
                                  np.array(a)[np.array(i), :, np.array(i)])


@pytest.mark.parametrize("dt", VALUE_DTYPES)
def test_setitem_dtypes(dt):
    base = values((10, 6), dt)
    rows = mx.array([7, 0, -2], dtype=mx.int32)
    v_rows = values((3, 6), dt)

    def upd_rows():
        a = mx.array(base)
        a[rows] = v_rows
        return a

    def upd_scalar():
        a = mx.array(base)
        a[rows, 2:4] = base[0, 0]
        return a

    def upd_pairs():
        a = mx.array(base)
        a[mx.array([1, 2, 3]), mx.array([5, 0, -1])] = v_rows[0, :3]
        return a

    with no_host_run():
        for f in (upd_rows, upd_scalar, upd_pairs):
            g, c = gpu_cpu(f)
            same(g, c)


def test_setitem_duplicates_one_write_wins():
    a = mx.zeros((50, 4), mx.float32)
    idx = mx.array(rng.integers(0, 8, (200,)).astype(np.int32))
    v = mx.array(np.arange(1, 201, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32))

    def f():
        b = mx.array(a)
        b[idx] = v
        return b

    with no_host_run():
        g = on(mx.gpu, f)
    g = np.array(g)
    idn = np.array(idx)
    for r in range(50):
        writers = np.nonzero(idn == r)[0]
        if len(writers) == 0:
            assert np.all(g[r] == 0)
        else:
            for col in range(4):
                assert g[r, col] in set(writers + 1.0), (r, g[r])


@pytest.mark.parametrize("dt", VALUE_DTYPES)
def test_at_updates_with_duplicates(dt):
    base = values((20, 5), dt, "near1")
    idx = mx.array(np.array([0, 3, 3, 19, 0, 0, 7, -1, 3], dtype=np.int32))
    upd = values((9, 5), dt, "near1")
    ops = ["add", "subtract", "multiply", "maximum", "minimum"]
    if dt == mx.complex64:
        ops = ["add", "subtract", "multiply"]
    if dt == mx.bool_:
        ops = ["add", "multiply", "maximum", "minimum"]
    with no_host_run():
        for op in ops:
            g, c = gpu_cpu(lambda: getattr(base.at[idx], op)(upd))
            close(g, c)
            # broadcast (scalar) update
            s = upd[1, 1]
            g, c = gpu_cpu(lambda: getattr(base.at[idx], op)(s))
            close(g, c)
    if dt in FLOATS or dt == mx.complex64:
        g, c = gpu_cpu(lambda: base.at[idx].divide(upd))
        close(g, c, tol=3e-2 if dt == mx.bfloat16 else None)
    elif dt != mx.bool_:
        g, c = gpu_cpu(lambda: base.at[idx].divide(2))
        close(g, c)


def test_at_maximum_nan_and_flat_positions():
    a = mx.array(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    idx = mx.array([0, 0, 2, 2, 3])
    v = mx.array(np.array([5.0, np.nan, -1.0, 0.5, 10.0], np.float32))
    with no_host_run():
        for op in ("maximum", "minimum"):
            g, c = gpu_cpu(lambda: getattr(a.at[idx], op)(v))
            same(g, c)
        # multiple index arrays: updates go through flat positions
        m = values((6, 7), mx.int32)
        g, c = gpu_cpu(lambda: m.at[mx.array([1, 1, 5]), mx.array([2, 2, -1])].add(mx.array([10, 20, 30])))
        same(g, c)


def test_scatter_add_large_contention():
    # many updates into few rows: atomics under contention, exact for integers
    n = 200000
    idx = mx.array(rng.integers(0, 16, (n,)).astype(np.int32))
    for dt in (mx.int32, mx.int64, mx.uint8, mx.int16, mx.float32):
        a = mx.zeros((16, 3), dt)
        u = mx.ones((n, 3), dt)
        with no_host_run():
            g = on(mx.gpu, lambda: a.at[idx].add(u))
        counts = np.bincount(np.array(idx), minlength=16)
        exp = np.repeat(counts[:, None], 3, axis=1)
        if dt == mx.uint8:
            exp = exp % 256
        elif dt == mx.int16:
            exp = exp.astype(np.int16)  # wraps as the CPU does
        np.testing.assert_array_equal(np.array(g).astype(np.int64), exp.astype(np.int64))


def test_take_grad_embedding():
    table = values((100, 16), mx.float32)
    tokens = mx.array(rng.integers(0, 10, (4, 25)).astype(np.int32))  # duplicates
    w = values((4, 25, 16), mx.float32)
    f = lambda t: mx.sum(mx.take(t, tokens, axis=0) * w)
    with no_host_run():
        g, c = gpu_cpu(lambda: mx.grad(f)(table))
        close(g, c, tol=1e-4)
        f2 = lambda t: mx.sum(t[tokens, 3:9] * w[..., :6])
        g, c = gpu_cpu(lambda: mx.grad(f2)(table))
        close(g, c, tol=1e-4)
    for dt in (mx.float16, mx.bfloat16):
        td, wd = table.astype(dt), w.astype(dt)
        f3 = lambda t: mx.sum(mx.take(t, tokens, axis=0) * wd)
        with no_host_run():
            g, c = gpu_cpu(lambda: mx.grad(f3)(td))
            close(g, c, tol=0.1)


def test_scatter_direct_modes_and_layouts():
    # mx._scatter(a, idx, updates, axis, mode) with strided source/updates and other axes
    a = mx.transpose(values((6, 9, 4), mx.float32), (1, 0, 2))  # (9, 6, 4), non-contiguous
    with no_host_run():
        for mode in range(5):
            # assignment: distinct indices (one writer per position); other modes: a duplicate
            idx = mx.array([[2, 0], [5, 3]] if mode == 0 else [[2, 0], [5, 2]], dtype=mx.int16)
            upd = values((9, 2, 2, 4), mx.float32)
            g, c = gpu_cpu(lambda: mx._scatter(a, idx, upd, 1, mode))
            close(g, c)
            # broadcast updates (a row broadcast over the index dims)
            u2 = mx.broadcast_to(values((9, 1, 1, 4), mx.float32), (9, 2, 2, 4))
            g, c = gpu_cpu(lambda: mx._scatter(a, idx, u2, 1, mode))
            close(g, c)
        # empty updates
        g, c = gpu_cpu(lambda: mx._scatter(a, mx.array([], dtype=mx.int32), mx.zeros((9, 0, 4)), 1, 1))
        same(g, c)


# ---- arange -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64,
                                mx.float16, mx.bfloat16, mx.float32])
def test_arange(dt):
    with no_host_run():
        for args in [(10,), (3, 17), (2, 60, 7), (0,), (5, 5), (1.5, 9.0, 0.75)]:
            g, c = gpu_cpu(lambda: mx.arange(*args, dtype=dt))
            same(g, c)
        if dt not in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
            for args in [(10, -3, -1), (4.0, -2.5, -0.5), (-7, 7, 3)]:
                g, c = gpu_cpu(lambda: mx.arange(*args, dtype=dt))
                same(g, c)


def test_arange_default_and_large():
    with no_host_run():
        for args in [(1000,), (0.0, 1.0, 0.001), (-3.5, 1e6, 1.25)]:
            g, c = gpu_cpu(lambda: mx.arange(*args))
            same(g, c)
        n = (1 << 22) + 7
        g, c = gpu_cpu(lambda: mx.arange(n, dtype=mx.int32))
        same(g, c)
        g, c = gpu_cpu(lambda: mx.arange(0.5, n, 1.0, dtype=mx.float32))
        same(g, c)
