"""compile(): fused elementwise kernels against the unfused ops (bit for bit where the inputs
are dense), graph rewrites, training steps, and shapeless replay."""

from functools import partial

import numpy as np
import pytest

import mlx.core as mx
from conftest import float64_on_cpu, on_cpu_if_float64

DTYPES = [mx.float32, mx.float16, mx.bfloat16, mx.int32, mx.bool_]

UNARY = ("abs negative sign sqrt rsqrt square reciprocal exp expm1 log log1p log2 log10 sin cos tan "
         "arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh erf erfinv sigmoid floor ceil round "
         "logical_not bitwise_invert conjugate real imag isnan isinf isposinf isneginf").split()
BINARY = ("add subtract multiply divide floor_divide remainder power maximum minimum equal not_equal less "
          "less_equal greater greater_equal logical_and logical_or bitwise_and bitwise_or bitwise_xor "
          "left_shift right_shift arctan2 logaddexp").split()


def _values(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == mx.bool_:
        return mx.array(rng.random(n) < 0.5).reshape(shape)
    if dtype == mx.int32:
        return mx.array(rng.integers(-20, 21, n).astype(np.int32)).reshape(shape)
    v = rng.uniform(-3, 3, n).astype(np.float32)
    # Specials, and values past the fast sin/cos range.
    sp = np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, np.nan, 1e4, -3e5, 2.0, 3.0], np.float32)
    v[: min(n, len(sp))] = sp[: min(n, len(sp))]
    return mx.array(v).astype(dtype).reshape(shape)


def _np(a):
    if a.dtype in (mx.float16, mx.bfloat16):
        a = a.astype(mx.float32)
    return np.array(a)


def _same(got, want, exact=True):
    assert got.dtype == want.dtype and got.shape == want.shape
    g, w = _np(got), _np(want)
    if exact:
        np.testing.assert_array_equal(g, w)
    else:
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6, equal_nan=True)


def _check(fn, *args, exact=True, min_fused=1):
    """fn(*args) compiled and uncompiled agree; returns False where fn itself raises."""
    try:
        want = fn(*args)
        mx.eval(want)
    except (ValueError, TypeError, RuntimeError):
        return False
    got = mx.compile(fn)(*args)
    _same(got, want, exact)
    if min_fused:
        g = mx._compile_graph(lambda xs: [fn(*xs)], list(args))
        assert g.num_fused >= min_fused or g.num_nodes <= 1  # some ops are no-ops on some dtypes
    return True


# ---- every fusable op, every covered dtype ----

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", UNARY)
def test_unary_fused(op, dtype):
    f = getattr(mx, op)
    x = _values(dtype, (7, 300), 0)
    y = _values(dtype, (7, 300), 1)
    # As the root of a group, as an inner step, and on a strided input (allclose there: the
    # unfused strided kernels take other paths for a few ops).
    ran = _check(lambda a, b: f(mx.maximum(a, b)), x, y)
    if ran:
        _check(lambda a, b: mx.maximum(f(a), f(b)), x, y, min_fused=0)
        _check(lambda a, b: f(mx.maximum(a, b)), x[:, ::2], y[:, 1::2], exact=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_fused(op, dtype):
    f = getattr(mx, op)
    x = _values(dtype, (5, 400), 2)
    y = _values(dtype, (5, 400), 3)
    if dtype == mx.int32 and op in ("left_shift", "right_shift"):
        y = mx.abs(y)
    if not _check(lambda a, b: f(mx.maximum(a, b), b), x, y):
        return
    s = _values(dtype, (), 4) if dtype != mx.int32 else mx.array(3, mx.int32)
    # A single-value operand on either side (a broadcast 0-d array), and a row broadcast.
    _check(lambda a, c: f(mx.minimum(a, a), c), x, s)
    _check(lambda a, c: f(c, mx.minimum(a, a)), x, s)
    _check(lambda a, r: f(mx.minimum(a, a), r), x, y[:1])
    _check(lambda a, r: f(r.T, mx.minimum(a, a)), x.T, y[:, :1], exact=False)
    # Every operand a single value: the result is computed once.
    _check(lambda a, c: f(mx.minimum(a, c), c), s, s)


@pytest.mark.parametrize("op", ["add", "multiply", "power", "maximum", "less", "subtract", "divide"])
def test_binary_python_scalars(op):
    f = getattr(mx, op)
    x = _values(mx.float32, (3, 1000), 5)
    assert _check(lambda a: f(mx.abs(a), 2.0) + 1, x)
    assert _check(lambda a: f(3.0, mx.abs(a)) * 2, x)
    assert _check(lambda a: f(mx.abs(a), 3) - 0.5, x)
    xh = _values(mx.float16, (3, 1000), 5)
    assert _check(lambda a: f(mx.abs(a), 2.0) + 1, xh)


@pytest.mark.parametrize("src", DTYPES, ids=str)
@pytest.mark.parametrize("dst", DTYPES, ids=str)
def test_astype_steps(src, dst):
    x = _values(src, (4, 333), 6)
    assert _check(lambda a: mx.maximum(a, a).astype(dst), x)
    assert _check(lambda a: (mx.maximum(a, a).astype(dst) == mx.minimum(a, a).astype(dst)), x)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_select_steps(dtype):
    x = _values(dtype, (6, 257), 7)
    y = _values(dtype, (6, 257), 8)
    s = _values(dtype, (), 9)
    assert _check(lambda a, b: mx.where(a > b, a, b), x, y) or dtype == mx.bool_
    _check(lambda a, b: mx.where(mx.logical_not(a == b), mx.maximum(a, b), mx.minimum(a, b)), x, y)
    _check(lambda a, c: mx.where(a != c, c, mx.maximum(a, a)), x, s)
    _check(lambda a, c: mx.where(c != c, a, mx.maximum(a, a)), x, s)


def test_uncovered_dtypes_fall_back():
    rng = np.random.default_rng(10)
    for t in (mx.float64, mx.int64, mx.uint8, mx.int16, mx.uint32):
        with on_cpu_if_float64(t):
            x = mx.array(rng.integers(1, 9, (3, 50))).astype(t)
            assert _check(lambda a: (a * a + a) // 2 - a, x)
    z = mx.array(rng.standard_normal((4, 9)) + 1j * rng.standard_normal((4, 9))).astype(mx.complex64)
    assert _check(lambda a: mx.exp(a) * a + mx.conjugate(a), z, exact=False)
    # Mixed: a covered chain feeding a float64 step.
    x = _values(mx.float32, (3, 100), 11)
    with float64_on_cpu():
        assert _check(lambda a: mx.exp(a).astype(mx.float64) * 2.0, x)


# ---- layouts ----

def test_layouts():
    x = _values(mx.float32, (300, 200), 12)
    y = _values(mx.float32, (300, 200), 13)
    f = lambda a, b: mx.exp(a) * b + mx.sin(a)
    # Both transposed the same way: computed in memory order, the output keeps the layout.
    assert _check(f, x.T, y.T)
    # A transposed operand beside a dense one (gathered in blocks of rows), sliced, broadcast.
    assert _check(f, x.T, y.T * 1, exact=False)
    assert _check(f, x[::3, 1::2], y[:100, :100], exact=False)
    assert _check(f, x[:, :1], y, exact=False)
    assert _check(f, x[:1, :], y, exact=False)
    assert _check(f, x[0], y, exact=False)
    # 3-d views.
    a = _values(mx.float32, (6, 50, 40), 14)
    assert _check(f, a.transpose(2, 0, 1), a.transpose(2, 0, 1) + 1, exact=False)
    assert _check(f, a[:, ::2, :], a[:, 1::2, :] * 2, exact=False)
    # Empty.
    e = mx.zeros((0, 3))
    assert _check(f, e, e, min_fused=0)


def test_large_parallel_streamed():
    n = 5_000_000  # over the streaming threshold, many tiles on every thread
    x = _values(mx.float32, (n,), 15)
    y = _values(mx.float32, (n,), 16)
    f = lambda a, b: mx.exp(a) * b + mx.sin(a)
    assert _check(f, x, y)
    assert _check(lambda a, b: mx.where(a > b, a - b, mx.sqrt(mx.abs(b))).astype(mx.float16), x, y)


@pytest.mark.parametrize("uop", ["exp", "sin", "cos", "tanh", "erf", "sigmoid"])
@pytest.mark.parametrize("bop", ["add", "subtract", "multiply", "divide"])
def test_vector_unary_then_binary(uop, bop):
    # float32 exp/sin/cos/tanh/erf/sigmoid feeding a binary step (one kernel that keeps the
    # unary value in registers where the CPU has AVX2): the unary value on either side, the
    # other operand a vector, a 0-d array or a Python scalar; lengths with a partial last
    # vector; values past the fast sin/cos range, exp arguments past +-86 (the clamped path)
    # and specials (from _values).
    u, b = getattr(mx, uop), getattr(mx, bop)
    for n in (8, 1003, 40_000):
        x = _values(mx.float32, (n,), 30)
        x = mx.where(mx.arange(n) % 7 == 3, x * 40.0, x)  # some exp arguments past +-86
        y = _values(mx.float32, (n,), 31)
        s = mx.array(1.5, mx.float32)
        assert _check(lambda a, c: b(u(a), c), x, y)
        assert _check(lambda a, c: b(c, u(a)), x, y)
        assert _check(lambda a, c: b(u(a), c) + a, x, s)
        assert _check(lambda a, c: b(c, u(a)) * a, x, s)
        assert _check(lambda a: b(u(a), 0.25), x)
        # The unary value read twice.
        assert _check(lambda a, c: b(u(a), c) - u(a), x, y)
        # The unary step's operand a slot that the binary step's result may take over, and a
        # gathered (transposed) input.
        assert _check(lambda a, c: b(u(a * 40.0), c) * a, x, y)
        # The binary step feeding the unary one (one kernel too), its operands in every layout.
        assert _check(lambda a, c: u(b(a, c)), x, y)
        assert _check(lambda a, c: u(b(a, 3.0)) * c, x, y)
        assert _check(lambda a, c: u(b(0.7, a)) + c, x, y)
        assert _check(lambda a, c: u(b(a * 40.0, c)) * a, x, y)
    xt = _values(mx.float32, (300, 70), 32).T
    yt = _values(mx.float32, (70, 300), 33)
    assert _check(lambda a, c: b(u(a), c), xt, yt)
    assert _check(lambda a, c: b(c, u(a)), xt, yt)
    assert _check(lambda a, c: u(b(a, c)), xt, yt)


def test_donated_input():
    x = _values(mx.float32, (1000, 100), 17)
    f = mx.compile(lambda a: mx.exp(a) * 2 + a)
    want = mx.exp(x * 3) * 2 + x * 3
    got = f(x * 3)  # the temporary's buffer may be reused for the result
    _same(got, want)
    _same(x, _values(mx.float32, (1000, 100), 17))


# ---- fusion structure ----

def test_multi_use_values_fuse():
    x = _values(mx.float32, (64, 64), 18)

    def f(xs):
        a = mx.exp(xs[0])
        b = a * a + a        # a has three uses, all inside the group
        return [mx.sigmoid(b) - a]

    g = mx._compile_graph(f, [x])
    assert g.num_fused == 1 and g.num_nodes == 1
    np.testing.assert_allclose(_np(g([x])[0]), _np(f([x])[0]), rtol=1e-6)

    def h(xs):
        a = mx.exp(xs[0])
        return [a * 2, a.sum()]  # a is used outside the group: materialized, not fused in

    g = mx._compile_graph(h, [x])
    outs = g([x])
    np.testing.assert_allclose(_np(outs[0]), _np(h([x])[0]), rtol=1e-6)


def test_transposed_products():
    rng = np.random.default_rng(19)
    a = mx.array(rng.standard_normal((32, 20)).astype(np.float32))
    b = mx.array(rng.standard_normal((20, 48)).astype(np.float32))
    w = mx.array(rng.standard_normal((48, 32)).astype(np.float32))

    def f(a, b, w):
        return w - 0.1 * (a @ b).T

    np.testing.assert_allclose(_np(mx.compile(f)(a, b, w)), _np(f(a, b, w)), rtol=1e-5, atol=1e-5)
    # The product is used twice: not rewritten.
    g = lambda a, b: (a @ b).T + (a @ b).sum()
    np.testing.assert_allclose(_np(mx.compile(g)(a, b)), _np(g(a, b)), rtol=1e-5, atol=1e-4)
    # Batched, and a transposed left operand (the transposes cancel).
    a3 = mx.array(rng.standard_normal((3, 20, 8)).astype(np.float32))
    b3 = mx.array(rng.standard_normal((3, 20, 5)).astype(np.float32))
    h = lambda a, b: mx.swapaxes(mx.swapaxes(a, 1, 2) @ b, 1, 2) * 2
    np.testing.assert_allclose(_np(mx.compile(h)(a3, b3)), _np(h(a3, b3)), rtol=1e-5, atol=1e-5)


# ---- training steps ----

def _mlp_setup(seed):
    import mlx.nn as nn
    import mlx.optimizers as optim

    mx.random.seed(seed)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))
    mx.eval(model.parameters())
    return model, optim.SGD(learning_rate=0.1, momentum=0.9)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_training_step(opt_name):
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten

    rng = np.random.default_rng(20)
    x = mx.array(rng.standard_normal((64, 12)).astype(np.float32))
    y = mx.array(rng.integers(0, 5, 64).astype(np.int32))

    def make():
        model, opt = _mlp_setup(3)
        if opt_name == "adam":
            opt = optim.Adam(learning_rate=1e-2)
        return model, opt

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    m1, o1 = make()
    m2, o2 = make()
    state = [m2.state, o2.state]

    def step1(x, y):
        loss, g = nn.value_and_grad(m1, loss_fn)(m1, x, y)
        o1.update(m1, g)
        return loss

    @partial(mx.compile, inputs=state, outputs=state)
    def step2(x, y):
        loss, g = nn.value_and_grad(m2, loss_fn)(m2, x, y)
        o2.update(m2, g)
        return loss

    for _ in range(6):
        l1, l2 = step1(x, y), step2(x, y)
        mx.eval(l1, l2, m1.parameters(), m2.parameters(), o1.state, o2.state)
        assert abs(l1.item() - l2.item()) < 1e-5
    for (k1, p1), (k2, p2) in zip(tree_flatten(m1.parameters()), tree_flatten(m2.parameters())):
        assert k1 == k2
        np.testing.assert_allclose(_np(p1), _np(p2), rtol=1e-4, atol=1e-5)


def test_grad_of_compiled_chain():
    x = _values(mx.float32, (10, 30), 21)
    y = _values(mx.float32, (10, 30), 22)
    x = mx.where(mx.isfinite(x), x, 0.5)
    x = mx.where(mx.abs(x) > 100, 0.25, x)
    f = lambda a, b: mx.exp(a) * b + mx.sin(a) * mx.sigmoid(b)
    cf = mx.compile(f)
    for argnums in (0, 1):
        g1 = mx.grad(lambda a, b: cf(a, b).sum(), argnums)(x, y)
        g2 = mx.grad(lambda a, b: f(a, b).sum(), argnums)(x, y)
        np.testing.assert_allclose(_np(g1), _np(g2), rtol=1e-5, atol=1e-6)
    # vmap over the fused kernel.
    v1 = mx.vmap(cf)(x, y)
    _same(v1, f(x, y), exact=False)


def _node_names(*outs):
    import io
    import re
    f = io.StringIO()
    mx.export_to_dot(f, *outs)
    return re.findall(r'label ?= ?"([A-Za-z]+)', f.getvalue())


def test_grad_of_compiled_function_is_fused():
    import mlx.nn as nn
    x = mx.array(np.random.default_rng(5).uniform(-4, 4, (64, 33)).astype(np.float32))
    plain = lambda a: 0.5 * a * (1 + mx.tanh(0.7978845608 * (a + 0.044715 * a**3)))
    for f in (nn.gelu_approx, nn.silu, mx.compile(plain, shapeless=True)):
        g = mx.grad(lambda a: f(a).sum())(x)
        # The backward pass is fused kernels only (besides the forward's own).
        names = _node_names(g)
        assert "Tanh" not in names and "Power" not in names and "Sigmoid" not in names, names
        assert "Compiled" in names
    g1 = mx.grad(lambda a: mx.compile(plain, shapeless=True)(a).sum())(x)
    g2 = mx.grad(lambda a: plain(a).sum())(x)
    np.testing.assert_allclose(_np(g1), _np(g2), rtol=1e-5, atol=1e-6)
    # Shapes change (shapeless replay of the backward), a non-ones cotangent, second order.
    cf = mx.compile(plain, shapeless=True)
    for shape in [(5,), (3, 7), (2, 3, 4)]:
        a = mx.array(np.random.default_rng(6).uniform(-3, 3, shape).astype(np.float32))
        c = mx.array(np.random.default_rng(7).standard_normal(shape).astype(np.float32))
        _, v1 = mx.vjp(cf, [a], [c])
        _, v2 = mx.vjp(plain, [a], [c])
        np.testing.assert_allclose(_np(v1[0]), _np(v2[0]), rtol=1e-5, atol=1e-6)
        h1 = mx.grad(lambda t: mx.grad(lambda u: cf(u).sum())(t).sum())(a)
        h2 = mx.grad(lambda t: mx.grad(lambda u: plain(u).sum())(t).sum())(a)
        np.testing.assert_allclose(_np(h1), _np(h2), rtol=1e-4, atol=1e-5)
    # Inside an outer compile, and against finite differences in float64 terms.
    outer = mx.compile(mx.grad(lambda a: cf(a).sum()))
    np.testing.assert_allclose(_np(outer(x)), _np(g2), rtol=1e-5, atol=1e-6)
    xd = np.asarray(_np(x), np.float64)
    pd = lambda a: 0.5 * a * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a**3)))
    fd = (pd(xd + 1e-6) - pd(xd - 1e-6)) / 2e-6
    np.testing.assert_allclose(_np(g1), fd, rtol=1e-3, atol=1e-4)


# ---- shapeless ----

def _counting(fn):
    calls = [0]

    def wrapped(*a):
        calls[0] += 1
        return fn(*a)

    return wrapped, calls


def test_shapeless_reuses_trace():
    f, calls = _counting(lambda a, b: mx.exp(a) * b + mx.sin(a) + 1.0)
    cf = mx.compile(f, shapeless=True)
    for n in (3, 17, 4000, 3):
        x, y = _values(mx.float32, (2, n), 23), _values(mx.float32, (2, n), 24)
        _same(cf(x, y), (lambda a, b: mx.exp(a) * b + mx.sin(a) + 1.0)(x, y))
    assert calls[0] == 1
    # Broadcasting between inputs of new shapes.
    x, r = _values(mx.float32, (5, 7), 25), _values(mx.float32, (1, 7), 26)
    _same(cf(x, r), mx.exp(x) * r + mx.sin(x) + 1.0)
    # A new rank or dtype traces again.
    cf(_values(mx.float32, (6,), 27), _values(mx.float32, (6,), 28))
    cf(_values(mx.float16, (2, 3), 27), _values(mx.float16, (2, 3), 28))
    assert calls[0] == 3


def test_shapeless_matmul_reshape_reductions():
    w = _values(mx.float32, (4, 6), 29)
    w = mx.where(mx.isfinite(w), w, 1.0)

    def fn(x, w):
        h = x.reshape(-1, x.shape[-1]) @ w
        return mx.maximum(h.reshape(x.shape[0], x.shape[1], -1), 0).sum(axis=-1) * 2

    f, calls = _counting(fn)
    cf = mx.compile(f, shapeless=True)
    for s in [(2, 3, 4), (2, 5, 4), (3, 7, 4), (1, 1, 4)]:
        x = mx.array(np.random.default_rng(sum(s)).standard_normal(s).astype(np.float32))
        np.testing.assert_allclose(_np(cf(x, w)), _np(fn(x, w)), rtol=1e-5, atol=1e-5)
    assert calls[0] == 1


def test_shapeless_means():
    # Means and variances over dimensions that change: the count is read at eval time.
    fn = lambda a: mx.exp(a).mean() + a.sum(axis=-1, keepdims=True) - a.var(axis=0) * 0.5
    f, calls = _counting(fn)
    cf = mx.compile(f, shapeless=True)
    for s in [(2, 6), (4, 6), (4, 10), (1, 3)]:
        x = _values(mx.float32, s, 32)
        x = mx.where(mx.isfinite(x), x, 1.0)
        x = mx.where(mx.abs(x) > 100, 0.5, x)
        np.testing.assert_allclose(_np(cf(x)), _np(fn(x)), rtol=1e-5, atol=1e-5)
    assert calls[0] == 1


def test_shapeless_falls_back_where_shapes_are_baked():
    # A reshape to fixed sizes, a constant of the traced shape: traced again for new shapes.
    cases = [
        lambda a: a.reshape(3, -1) * 2,
        lambda a: a + mx.arange(a.shape[-1], dtype=mx.float32),
    ]
    for fn in cases:
        f, calls = _counting(fn)
        cf = mx.compile(f, shapeless=True)
        for s in [(2, 6), (4, 6), (4, 9), (4, 6)]:
            x = _values(mx.float32, s, 30)
            x = mx.where(mx.isfinite(x), x, 1.0)
            np.testing.assert_allclose(_np(cf(x)), _np(fn(x)), rtol=1e-5, atol=1e-5)
        assert calls[0] <= 4


def test_shapeless_training_step():
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    model, opt = _mlp_setup(4)
    ref, ref_opt = _mlp_setup(4)
    state = [model.state, opt.state]

    def loss_fn(m, x, y):
        return nn.losses.mse_loss(m(x), y, reduction="sum")

    @partial(mx.compile, inputs=state, outputs=state, shapeless=True)
    def step(x, y):
        loss, g = nn.value_and_grad(model, loss_fn)(model, x, y)
        opt.update(model, g)
        return loss

    rng = np.random.default_rng(31)
    for b in (8, 16, 8, 3):
        x = mx.array(rng.standard_normal((b, 12)).astype(np.float32))
        y = mx.array(rng.standard_normal((b, 5)).astype(np.float32))
        l1 = step(x, y)
        l2, g = nn.value_and_grad(ref, loss_fn)(ref, x, y)
        ref_opt.update(ref, g)
        mx.eval(l1, l2, model.parameters(), ref.parameters())
        assert abs(l1.item() - l2.item()) < 1e-4 * max(1.0, abs(l2.item()))
    for (_, p1), (_, p2) in zip(tree_flatten(model.parameters()), tree_flatten(ref.parameters())):
        np.testing.assert_allclose(_np(p1), _np(p2), rtol=1e-4, atol=1e-5)
