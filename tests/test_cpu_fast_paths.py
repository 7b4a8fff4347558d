"""Layout fast paths of the CPU kernels: results must not depend on which path runs.

Covers broadcast-scalar outputs of elementwise ops, 32x32 tiles for transposed operands
(binary ops and copies), where() with constant/strided operands, bool casts, the
column-major result of A^T B, and the folded matmul of a batched left operand.
"""

import numpy as np
import pytest

import mlx.core as mx

rng = np.random.default_rng(7)


def arr(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---- broadcast scalars -------------------------------------------------------
def test_binary_of_two_broadcast_scalars_is_correct_everywhere():
    a = mx.broadcast_to(mx.array(3.0), (4, 5))
    b = mx.broadcast_to(mx.array(1.0), (4, 5))
    c = a - b
    np.testing.assert_array_equal(np.array(c), np.full((4, 5), 2.0, np.float32))
    # Later ops of every kind read it through its strides.
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    np.testing.assert_array_equal(np.array(mx.array(x) ** c), x**2)
    np.testing.assert_array_equal(np.array(c.reshape(20)), np.full(20, 2.0, np.float32))
    np.testing.assert_array_equal(np.array(mx.cumsum(c, axis=1))[0], [2, 4, 6, 8, 10])
    np.testing.assert_array_equal(np.array(c.T), np.full((5, 4), 2.0, np.float32))
    np.testing.assert_array_equal(np.array(c @ mx.ones((5, 2))), np.full((4, 2), 10.0, np.float32))
    assert c.sum().item() == 40.0
    c[1, 2] = 7.0  # writing into it must not write into a shared scalar
    expected = np.full((4, 5), 2.0, np.float32)
    expected[1, 2] = 7.0
    np.testing.assert_array_equal(np.array(c), expected)
    np.testing.assert_array_equal(np.array(a), np.full((4, 5), 3.0, np.float32))


@pytest.mark.parametrize("dtype", [mx.float32, mx.int32, mx.float16, mx.bool_])
def test_unary_and_astype_of_broadcast_scalar(dtype):
    a = mx.broadcast_to(mx.array(2.0), (3, 6))
    e = mx.exp(a)
    np.testing.assert_allclose(np.array(e), np.full((3, 6), np.exp(2.0)), rtol=1e-6)
    t = a.astype(dtype)
    ref = np.full((3, 6), 2.0).astype(np.float32).astype(
        {mx.float32: np.float32, mx.int32: np.int32, mx.float16: np.float16, mx.bool_: np.bool_}[dtype]
    )
    np.testing.assert_array_equal(np.array(t), ref)
    t[0] = 0  # the broadcast value stays shared-safe
    assert np.array(t)[1, 0] == ref[1, 0]


def test_power_vjp_exponent_stays_scalar():
    x = arr(64, 32)
    g = mx.grad(lambda v: (v**3).sum())(mx.array(x))
    np.testing.assert_allclose(np.array(g), 3 * x**2, rtol=1e-5, atol=1e-5)


# ---- transposed operands -----------------------------------------------------
@pytest.mark.parametrize("shape", [(512, 784), (37, 100), (100, 37), (33, 65), (8, 8)])
@pytest.mark.parametrize("op", ["subtract", "multiply", "greater"])
def test_binary_with_transposed_operand(shape, op):
    a = arr(*shape)
    b = arr(*shape[::-1])
    fa, fb = mx.array(a), mx.array(b)
    f = getattr(mx, op)
    nf = getattr(np, op)
    np.testing.assert_array_equal(np.array(f(fa, fb.T)), nf(a, b.T))
    np.testing.assert_array_equal(np.array(f(fb.T, fa)), nf(b.T, a))
    np.testing.assert_array_equal(np.array(f(fb.T, fb.T[0])), nf(b.T, b.T[0]))


def test_binary_transposed_batched_negative_strides_and_dtypes():
    a = arr(3, 50, 70)
    b = arr(3, 70, 50)
    fa, fb = mx.array(a), mx.array(b)
    np.testing.assert_array_equal(np.array(fa + fb.transpose(0, 2, 1)), a + b.transpose(0, 2, 1))
    np.testing.assert_array_equal(np.array(fa[:, ::-1] - fb.transpose(0, 2, 1)), a[:, ::-1] - b.transpose(0, 2, 1))
    for dt, npdt in [(mx.int32, np.int32), (mx.float16, np.float16), (mx.complex64, np.complex64)]:
        x = (a[0] * 10).astype(npdt)
        y = (b[0] * 10).astype(npdt)
        got = np.array(mx.array(x) * mx.array(y).T)
        np.testing.assert_allclose(got, x * y.T, rtol=1e-3)


@pytest.mark.parametrize("shape", [(4096, 64), (37, 1000), (1000, 37), (64, 64), (3, 50, 70)])
def test_transposing_copy(shape):
    a = arr(*shape)
    x = mx.array(a)
    if len(shape) == 2:
        np.testing.assert_array_equal(np.array(mx.contiguous(x.T)), a.T)
    else:
        np.testing.assert_array_equal(np.array(mx.contiguous(x.transpose(0, 2, 1))), a.transpose(0, 2, 1))


# ---- where -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int64, np.float16, np.complex64, np.bool_])
def test_where_paths(dtype):
    h = arr(64, 48)
    x = (arr(64, 48) * 5).astype(dtype)
    y = (arr(64, 48) * 5).astype(dtype)
    c = h >= 0
    C, X, Y = mx.array(c), mx.array(x), mx.array(y)
    np.testing.assert_array_equal(np.array(mx.where(C, X, Y)), np.where(c, x, y))
    np.testing.assert_array_equal(np.array(mx.where(C, X, mx.array(y[0, 0]))), np.where(c, x, y[0, 0]))
    np.testing.assert_array_equal(np.array(mx.where(C, mx.array(x[0, 0]), Y)), np.where(c, x[0, 0], y))
    np.testing.assert_array_equal(
        np.array(mx.where(C, mx.array(x[0, 0]), mx.array(y[0, 0]))), np.where(c, x[0, 0], y[0, 0])
    )
    np.testing.assert_array_equal(np.array(mx.where(C.T, X.T, Y.T)), np.where(c.T, x.T, y.T))
    np.testing.assert_array_equal(np.array(mx.where(C[:, :1], X[:, ::2], Y[:, 1::2])), np.where(c[:, :1], x[:, ::2], y[:, 1::2]))
    np.testing.assert_array_equal(np.array(mx.where(mx.array(True), X, Y)), x)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.int32, mx.uint8, mx.int64, mx.complex64])
def test_astype_from_bool(dtype):
    c = arr(70, 33) >= 0
    got = mx.array(c).astype(dtype)
    np.testing.assert_array_equal(np.array(got.astype(mx.float32) if dtype != mx.complex64 else got).real, c.astype(np.float32))


# ---- matmul ------------------------------------------------------------------
@pytest.mark.parametrize("mkn", [(5, 3, 4), (784, 256, 512), (2, 1, 3), (130, 70, 9)])
def test_a_transposed_times_b(mkn):
    m, k, n = mkn
    a = arr(k, m)
    b = arr(k, n)
    c = mx.array(a).T @ mx.array(b)
    ref = a.T @ b
    np.testing.assert_allclose(np.array(c), ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.array(c.T), ref.T, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.array(c + 1), ref + 1, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.array(c.sum(axis=1)), ref.sum(1), rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(np.array(c.reshape(-1)), ref.reshape(-1), rtol=1e-4, atol=1e-3)
    c16 = mx.array(a).astype(mx.float16).T @ mx.array(b).astype(mx.float16)
    assert c16.dtype == mx.float16
    np.testing.assert_allclose(np.array(c16.astype(mx.float32)), ref, rtol=3e-2, atol=3e-1)


def test_a_transposed_times_b_complex():
    a = arr(6, 5) + 1j * arr(6, 5)
    b = arr(6, 4) + 1j * arr(6, 4)
    c = mx.array(a.astype(np.complex64)).T @ mx.array(b.astype(np.complex64))
    np.testing.assert_allclose(np.array(c), a.T @ b, rtol=1e-4, atol=1e-4)


def test_linear_weight_gradient_layout_and_sgd():
    import mlx.nn as nn
    import mlx.optimizers as optim

    mx.random.seed(0)
    layer = nn.Linear(24, 16)
    x = mx.array(arr(8, 24))
    w0 = np.array(layer.weight)

    def loss(model, x):
        return (model(x) ** 2).sum()

    _, g = nn.value_and_grad(layer, loss)(layer, x)
    y = np.array(x) @ w0.T + np.array(layer.bias)
    gw = (2 * y).T @ np.array(x)
    np.testing.assert_allclose(np.array(g["weight"]), gw, rtol=1e-4, atol=1e-3)
    optim.SGD(learning_rate=0.1).update(layer, g)
    np.testing.assert_allclose(np.array(layer.weight), w0 - 0.1 * gw, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("ashape", [(2, 3, 5, 4), (3, 5, 4), (1, 5, 4), (3, 0, 4)])
def test_matmul_batched_times_2d(ashape):
    a = arr(*ashape)
    b = arr(4, 6)
    np.testing.assert_allclose(np.array(mx.array(a) @ mx.array(b)), a @ b, rtol=1e-4, atol=1e-4)
    v = arr(4)
    np.testing.assert_allclose(np.array(mx.array(a) @ mx.array(v)), a @ v, rtol=1e-4, atol=1e-4)


def test_matmul_batched_times_2d_gradients():
    a = arr(2, 3, 4).astype(np.float64)
    b = arr(4, 5).astype(np.float64)
    A, B = mx.array(a.astype(np.float32)), mx.array(b.astype(np.float32))
    ct = arr(2, 3, 5)

    def f(A, B):
        return ((A @ B) * mx.array(ct)).sum()

    ga, gb = mx.grad(f, argnums=(0, 1))(A, B)
    np.testing.assert_allclose(np.array(ga), ct @ b.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.array(gb), np.einsum("bmk,bmn->kn", a, ct), rtol=1e-4, atol=1e-4)
    # Central differences along a random direction, in float64.
    d = arr(*b.shape).astype(np.float64)
    eps = 1e-3

    def fd(bb):
        return float(((a @ bb) * ct).sum())

    num = (fd(b + eps * d) - fd(b - eps * d)) / (2 * eps)
    np.testing.assert_allclose(float((np.array(gb) * d).sum()), num, rtol=1e-3, atol=1e-3)


def test_matmul_batched_times_2d_vmap():
    a = arr(4, 3, 5)
    b = arr(5, 2)
    B = mx.array(b)
    got = mx.vmap(lambda x: x @ B)(mx.array(a))
    ref = mx.stack([mx.array(a[i]) @ B for i in range(4)])
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-5, atol=1e-5)
