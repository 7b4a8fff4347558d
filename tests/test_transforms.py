"""grad, vjp, jvp, vmap, compile, custom_function and checkpoint against finite differences,
Python loops and uncompiled results."""

import numpy as np
import pytest

import mlx.core as mx
from conftest import float64_on_cpu, on_cpu_if_float64

RNG = np.random.default_rng(0)


def _arr(*shape, lo=-1.0, hi=1.0, dtype=mx.float64):
    return mx.array(RNG.uniform(lo, hi, size=shape), dtype=dtype)


def check_grad(f, args, eps=1e-6, tol=1e-5):
    """Central difference along a random direction (float64, on the CPU stream when the GPU
    is the default device) against <grad, t>; then the float32 gradient on the default device
    against the float64 one."""
    argnums = tuple(range(len(args)))
    with float64_on_cpu():
        grads = mx.grad(f, argnums=argnums)(*args)
        ts = [mx.array(RNG.standard_normal(a.shape), dtype=mx.float64) for a in args]
        plus = f(*[a + eps * t for a, t in zip(args, ts)]).item()
        minus = f(*[a - eps * t for a, t in zip(args, ts)]).item()
        fd = (plus - minus) / (2 * eps)
        an = sum(mx.sum(g * t).item() for g, t in zip(grads, ts))
        assert abs(fd - an) <= tol * max(1.0, abs(fd)), (fd, an)
        want = [np.array(g) for g in grads]
    args32 = [mx.array(np.array(a), dtype=mx.float32) for a in args]
    for g32, w in zip(mx.grad(f, argnums=argnums)(*args32), want):
        np.testing.assert_allclose(np.array(g32), w, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(w).max()))


def check_vjp_jvp(f, args):
    """<c, J t> == <J^T c, t> (float64, on the CPU stream when the GPU is the default device)."""
    with float64_on_cpu():
        ts = [mx.array(RNG.standard_normal(a.shape), dtype=mx.float64) for a in args]
        out, jt = mx.jvp(f, args, ts)
        cs = [mx.array(RNG.standard_normal(o.shape), dtype=mx.float64) for o in out]
        _, jtc = mx.vjp(f, args, cs)
        lhs = sum(mx.sum(c * j).item() for c, j in zip(cs, jt))
        rhs = sum(mx.sum(v * t).item() for v, t in zip(jtc, ts))
        assert abs(lhs - rhs) <= 1e-8 * max(1.0, abs(lhs)), (lhs, rhs)


UNARY_FNS = [
    ("exp", mx.exp, (-1, 1)), ("log", mx.log, (0.5, 2)), ("sin", mx.sin, (-2, 2)),
    ("cos", mx.cos, (-2, 2)), ("tanh", mx.tanh, (-2, 2)), ("sqrt", mx.sqrt, (0.5, 2)),
    ("rsqrt", mx.rsqrt, (0.5, 2)), ("sigmoid", mx.sigmoid, (-3, 3)), ("erf", mx.erf, (-1, 1)),
    ("erfinv", mx.erfinv, (-0.5, 0.5)), ("log1p", mx.log1p, (0, 1)), ("expm1", mx.expm1, (-1, 1)),
    ("arcsin", mx.arcsin, (-0.5, 0.5)), ("arccos", mx.arccos, (-0.5, 0.5)), ("arctan", mx.arctan, (-2, 2)),
    ("sinh", mx.sinh, (-1, 1)), ("cosh", mx.cosh, (-1, 1)), ("arcsinh", mx.arcsinh, (-1, 1)),
    ("arccosh", mx.arccosh, (1.5, 3)), ("arctanh", mx.arctanh, (-0.5, 0.5)), ("square", mx.square, (-2, 2)),
    ("reciprocal", mx.reciprocal, (0.5, 2)), ("abs", mx.abs, (0.1, 1)), ("log2", mx.log2, (0.5, 2)),
    ("log10", mx.log10, (0.5, 2)), ("tan", mx.tan, (-1, 1)), ("negative", mx.negative, (-1, 1)),
]


@pytest.mark.parametrize("name,fn,dom", UNARY_FNS, ids=[u[0] for u in UNARY_FNS])
def test_unary_grads(name, fn, dom):
    x = _arr(3, 4, lo=dom[0], hi=dom[1])
    check_grad(lambda a: fn(a).sum(), [x])
    check_vjp_jvp(lambda a: fn(a), [x])
    # Non-contiguous input
    check_grad(lambda a: fn(a.T).sum(), [x])


BINARY_FNS = [
    ("add", mx.add), ("subtract", mx.subtract), ("multiply", mx.multiply), ("divide", mx.divide),
    ("maximum", mx.maximum), ("minimum", mx.minimum), ("power", mx.power), ("arctan2", mx.arctan2),
    ("logaddexp", mx.logaddexp), ("remainder", mx.remainder),
]


@pytest.mark.parametrize("name,fn", BINARY_FNS, ids=[b[0] for b in BINARY_FNS])
def test_binary_grads_broadcast(name, fn):
    a = _arr(3, 4, lo=0.5, hi=2)
    b = _arr(4, lo=0.6, hi=1.9)
    check_grad(lambda x, y: fn(x, y).sum(), [a, b])
    check_vjp_jvp(lambda x, y: fn(x, y), [a, b])


STRUCT_FNS = [
    ("sum_axis", lambda x: x.sum(axis=1)),
    ("mean", lambda x: x.mean(axis=0, keepdims=True)),
    ("max", lambda x: x.max(axis=1)),
    ("prod", lambda x: x.prod(axis=0)),
    ("var", lambda x: x.var(axis=1)),
    ("logsumexp", lambda x: mx.logsumexp(x, axis=1)),
    ("softmax", lambda x: mx.softmax(x, axis=-1)),
    ("reshape_T", lambda x: x.reshape(4, 3).T),
    ("slice", lambda x: x[1:, ::2]),
    ("take", lambda x: mx.take(x, mx.array([0, 2, 2]), axis=1)),
    ("take_along", lambda x: mx.take_along_axis(x, mx.array([[0], [3], [1]]), axis=1)),
    ("concat", lambda x: mx.concatenate([x, 2 * x], axis=0)),
    ("broadcast", lambda x: mx.broadcast_to(x[:, :1], (3, 4)) * x),
    ("where", lambda x: mx.where(x > 0, x, 2 * x)),
    ("matmul", lambda x: x @ x.T),
    ("pad", lambda x: mx.pad(x, [(1, 0), (0, 2)])),
    ("getitem_array", lambda x: x[mx.array([2, 0])]),
    ("stack_split", lambda x: mx.stack(mx.split(x, 2, axis=1), axis=0)),
]


@pytest.mark.parametrize("name,fn", STRUCT_FNS, ids=[s[0] for s in STRUCT_FNS])
def test_structural_grads(name, fn):
    x = _arr(3, 4, lo=0.5, hi=1.5)
    check_grad(lambda a: (fn(a) * fn(a)).sum(), [x])
    check_vjp_jvp(fn, [x])


@pytest.mark.parametrize("name,fn", STRUCT_FNS + [(u[0], u[1]) for u in UNARY_FNS[:6]],
                         ids=[s[0] for s in STRUCT_FNS] + [u[0] for u in UNARY_FNS[:6]])
def test_vmap_matches_loop(name, fn):
    xs64 = _arr(5, 3, 4, lo=0.5, hi=1.5)
    # float64 on the CPU stream when the GPU is the default device; float32 on the default device.
    for dtype, rtol, atol in [(mx.float64, 1e-10, 1e-12), (mx.float32, 1e-5, 1e-6)]:
        with on_cpu_if_float64(dtype):
            xs = xs64 if dtype == mx.float64 else mx.array(np.array(xs64), dtype=dtype)
            got = mx.vmap(fn)(xs)
            want = mx.stack([fn(xs[i]) for i in range(5)])
            np.testing.assert_allclose(np.array(got), np.array(want), rtol=rtol, atol=atol)
            # Batch on another axis
            got = mx.vmap(fn, in_axes=1)(mx.moveaxis(xs, 0, 1))
            np.testing.assert_allclose(np.array(got), np.array(want), rtol=rtol, atol=atol)


def test_grad_options_and_trees():
    with float64_on_cpu():  # the test computes in float64
        def f(params, x, *, scale=1.0):
            return ((params["w"] @ x + params["b"][0]) ** 2).sum() * scale

        p = {"w": _arr(2, 3), "b": [_arr(2)]}
        x = _arr(3)
        g = mx.grad(f)(p, x)
        assert set(g) == {"w", "b"} and g["w"].shape == (2, 3) and isinstance(g["b"], list)
        val, (gp, gx) = mx.value_and_grad(f, argnums=(0, 1))(p, x)
        assert val.shape == () and gx.shape == (3,)
        (gpos, gkw) = mx.grad(lambda x, y=None: (x * y).sum(), argnames="y")(_arr(2), y=_arr(2))
        assert "y" in gkw

        # Auxiliary outputs: the gradient is of the first element.
        v, g2 = mx.value_and_grad(lambda a: ((a * a).sum(), a + 1))(x)
        assert isinstance(v, tuple) and np.allclose(np.array(g2), 2 * np.array(x))


def test_higher_order():
    with float64_on_cpu():  # the test computes in float64
        x = mx.array(1.5, dtype=mx.float64)
        d2 = mx.grad(mx.grad(lambda a: mx.sin(a) * a**3))(x)
        a = 1.5
        want = -np.sin(a) * a**3 + 6 * a**2 * np.cos(a) + 6 * a * np.sin(a)
        assert abs(d2.item() - want) < 1e-9
        # vmap of grad and grad of vmap
        xs = _arr(4)
        g1 = mx.vmap(mx.grad(lambda a: mx.sin(a) * a))(xs)
        g2 = mx.grad(lambda v: mx.vmap(lambda a: mx.sin(a) * a)(v).sum())(xs)
        np.testing.assert_allclose(np.array(g1), np.array(g2), rtol=1e-12)


def test_grad_errors():
    with pytest.raises(ValueError):
        mx.grad(lambda a: a * 2)(mx.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        mx.grad(lambda a: a.sum())(mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.grad(lambda a: a.sum(), argnums=3)(mx.array([1.0]))
    with pytest.raises(ValueError):
        mx.vmap(lambda a, b: a + b)(mx.ones((3,)), mx.ones((4,)))
    with pytest.raises(ValueError):
        mx.vmap(lambda a: a, in_axes=(0, 1))(mx.ones((3,)))


def test_stop_gradient():
    with float64_on_cpu():  # the test computes in float64
        x = _arr(3)
        g = mx.grad(lambda a: (mx.stop_gradient(a) * a).sum())(x)
        np.testing.assert_allclose(np.array(g), np.array(x))


def test_custom_function_and_checkpoint():
    with float64_on_cpu():  # the test computes in float64
        @mx.custom_function
        def f(x):
            return mx.sin(x)

        @f.vjp
        def f_vjp(primals, cotangent, output):
            return [10 * cotangent]

        x = _arr(3)
        np.testing.assert_allclose(np.array(mx.grad(lambda a: f(a).sum())(x)), 10.0)
        np.testing.assert_allclose(np.array(f(x)), np.sin(np.array(x)))

        h = lambda a: mx.exp(mx.sin(a)) * a
        hc = mx.checkpoint(h)
        np.testing.assert_allclose(np.array(mx.grad(lambda a: hc(a).sum())(x)),
                                   np.array(mx.grad(lambda a: h(a).sum())(x)), rtol=1e-12)


FUSABLE = [
    lambda a, b: mx.exp(a) * b + mx.sin(a),
    lambda a, b: mx.maximum(a, 0) * b - mx.tanh(b) / (1 + a * a),
    lambda a, b: mx.where(a > b, a.astype(mx.float16).astype(mx.float32), b) ** 2,
    lambda a, b: mx.sigmoid(a * 2) + mx.abs(b) + mx.sqrt(a * a + 1.0),
]


@pytest.mark.parametrize("k", range(len(FUSABLE)))
def test_compile_matches_uncompiled(k):
    fn = FUSABLE[k]
    a = _arr(37, 129, dtype=mx.float32)
    b = _arr(129, dtype=mx.float32)
    cf = mx.compile(fn)
    np.testing.assert_allclose(np.array(cf(a, b)), np.array(fn(a, b)), rtol=1e-5, atol=1e-6)
    # Replay with new values and the same signature; then a new signature.
    a2 = _arr(37, 129, dtype=mx.float32)
    np.testing.assert_allclose(np.array(cf(a2, b)), np.array(fn(a2, b)), rtol=1e-5, atol=1e-6)
    a3 = _arr(5, dtype=mx.float32)
    np.testing.assert_allclose(np.array(cf(a3, a3)), np.array(fn(a3, a3)), rtol=1e-5, atol=1e-6)
    # Gradients through the fused kernel.
    g1 = mx.grad(lambda x: cf(x, b).sum())(a)
    g2 = mx.grad(lambda x: fn(x, b).sum())(a)
    np.testing.assert_allclose(np.array(g1), np.array(g2), rtol=1e-5, atol=1e-6)


def test_compile_state_and_eval_error():
    state = [mx.array(0.0)]

    @mx.compile
    def bad(x):
        mx.eval(x * 2)
        return x

    with pytest.raises(ValueError):
        bad(mx.array([1.0]))

    from functools import partial

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x):
        state[0] = state[0] + x.sum()
        return state[0] * 2

    for i in range(3):
        out = step(mx.array([1.0, 2.0]))
    assert state[0].item() == 9.0 and out.item() == 18.0


def test_compiled_mlp_training_step_matches():
    import mlx.nn as nn
    import mlx.optimizers as optim

    mx.random.seed(1)
    x = mx.random.normal((16, 4))
    y = mx.random.normal((16, 1))

    def make():
        mx.random.seed(2)
        m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        return m, optim.SGD(learning_rate=0.1)

    def loss_fn(m, x, y):
        return nn.losses.mse_loss(m(x), y)

    m1, o1 = make()
    m2, o2 = make()
    state = [m2.state, o2.state]

    def step1(x, y):
        l, g = nn.value_and_grad(m1, loss_fn)(m1, x, y)
        o1.update(m1, g)
        return l

    @partial_compile(state)
    def step2(x, y):
        l, g = nn.value_and_grad(m2, loss_fn)(m2, x, y)
        o2.update(m2, g)
        return l

    for _ in range(5):
        l1 = step1(x, y)
        l2 = step2(x, y)
        mx.eval(m1.parameters(), m2.parameters())
    assert abs(l1.item() - l2.item()) < 1e-5


def partial_compile(state):
    from functools import partial

    return partial(mx.compile, inputs=state, outputs=state)


def _graph_ops(*outs):
    import io
    import re
    f = io.StringIO()
    mx.export_to_dot(f, *outs)
    return re.findall(r'label ?= ?"([A-Za-z]+)', f.getvalue())


def test_cotangents_of_disjoint_slices_share_one_buffer():
    rng = np.random.default_rng(3)
    xn = rng.standard_normal((3, 4, 6)).astype(np.float32)
    x = mx.array(xn)
    # qkv[0], qkv[1], qkv[2]: the slice updates are written into one buffer, no full-size adds.
    g = mx.grad(lambda a: (a[0] * 2).sum() + (a[1] ** 2).sum() + mx.sin(a[2]).sum())(x)
    assert "Add" not in _graph_ops(g)
    np.testing.assert_allclose(np.array(g), np.stack([np.full((4, 6), 2.0), 2 * xn[1], np.cos(xn[2])]),
                               rtol=1e-6, atol=1e-6)
    # Windows that overlap or interleave (strided) still add; column slices on the last axis.
    cases = [
        (lambda a: a[0:2].sum() + (a[1:3] * 3).sum(), lambda c: (c[0:2].__iadd__(1), c[1:3].__iadd__(3))),
        (lambda a: a[:, :, ::2].sum() + (a[:, :, 1::2] * 5).sum(), lambda c: (c[:, :, ::2].__iadd__(1), c[:, :, 1::2].__iadd__(5))),
        (lambda a: a[..., :3].sum() + (a[..., 3:] * 4).sum() + (a[1:2, 1:3] * 7).sum(),
         lambda c: (c[..., :3].__iadd__(1), c[..., 3:].__iadd__(4), c[1:2, 1:3].__iadd__(7))),
        (lambda a: a[::-1][0].sum() + (a[2] * 2).sum(), lambda c: c[2].__iadd__(3)),
    ]
    for f, ref in cases:
        want = np.zeros_like(xn)
        ref(want)
        np.testing.assert_allclose(np.array(mx.grad(f)(x)), want, rtol=1e-6, atol=1e-6)
    # A slice gradient added to a non-slice one, and the same under vmap and a second order.
    f = lambda a: (a[0] ** 3).sum() + (a[1] * a[2]).sum() + (a**2).sum()
    want = np.stack([3 * xn[0] ** 2, xn[2], xn[1]]) + 2 * xn
    np.testing.assert_allclose(np.array(mx.grad(f)(x)), want, rtol=1e-5, atol=1e-5)
    v = mx.vmap(mx.grad(f))(mx.stack([x, 2 * x]))
    np.testing.assert_allclose(np.array(v[0]), want, rtol=1e-5, atol=1e-5)
    h = mx.grad(lambda a: mx.grad(lambda b: (b[0] ** 3).sum() + (b[1] ** 2).sum())(a).sum())(x)
    np.testing.assert_allclose(np.array(h), np.stack([6 * xn[0], np.full((4, 6), 2.0), np.zeros((4, 6))]),
                               rtol=1e-5, atol=1e-5)
