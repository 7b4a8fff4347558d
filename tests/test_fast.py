"""Tests for mlx.core.fast: rms_norm, layer_norm, rope, scaled_dot_product_attention and
the custom-kernel entry points. NumPy (float64) formulas are the oracle; gradients are
checked with central differences in float64."""

import math

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64

F = mx.fast
FLOATS = [mx.float32, mx.float16, mx.bfloat16]
TOL = {mx.float32: 2e-5, mx.float64: 1e-10, mx.float16: 4e-3, mx.bfloat16: 3e-2}


def N(a):
    """float64 NumPy copy of an mlx array (bfloat16 included)."""
    if a.dtype in (mx.bfloat16, mx.float16):
        a = a.astype(mx.float32)
    return np.array(a).astype(np.float64)


def D64(x):
    return mx.array(np.asarray(x, dtype=np.float64), dtype=mx.float64)


def A(x, dtype=mx.float32):
    return mx.array(np.asarray(x, dtype=np.float32)).astype(dtype)


def close(got, want, dtype=mx.float32, scale=1.0):
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(N(got), want, rtol=tol, atol=tol)


def rounded(x, dtype):
    """The float64 values of x after rounding to dtype (what the kernel sees)."""
    return N(A(x, dtype))


# ----------------------------------------------------------------- NumPy oracles


def np_rms(x, w, eps):
    y = x / np.sqrt((x**2).mean(-1, keepdims=True) + eps)
    return y * w if w is not None else y


def np_ln(x, w, b, eps):
    y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def np_rope(x, dims, traditional, base, scale, offset, freqs=None):
    L = x.shape[-2]
    half = dims // 2
    off = np.asarray(offset, dtype=np.float64)
    if off.ndim == 1 and off.size > 1:
        pos = (off[:, None] + np.arange(L)[None]) * scale  # (B, L)
        pos = pos.reshape((x.shape[0],) + (1,) * (x.ndim - 3) + (L,))
    else:
        pos = (off.reshape(()) + np.arange(L)) * scale
    inv = 1.0 / np.asarray(freqs, np.float64) if freqs is not None else base ** (-np.arange(half) * 2.0 / dims)
    theta = pos[..., None] * inv
    c, s = np.cos(theta), np.sin(theta)
    out = x.astype(np.float64).copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
        out[..., :half] = x1 * c - x2 * s
        out[..., half:dims] = x1 * s + x2 * c
    return out


def np_sdpa(q, k, v, scale, mask=None, sinks=None):
    B, Nq, Tq, D = q.shape
    Nkv, Tkv = k.shape[1], k.shape[2]
    G = Nq // Nkv
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = scale * q @ np.swapaxes(k, -1, -2)
    neg = -np.finfo(np.float32).max
    if isinstance(mask, str):
        keep = np.arange(Tq)[:, None] + (Tkv - Tq) >= np.arange(Tkv)[None]
        s = np.where(keep, s, neg)
    elif mask is not None:
        if mask.dtype == bool:
            s = np.where(mask, s, neg)
        else:
            s = s + mask
    if sinks is not None:
        sk = np.broadcast_to(np.asarray(sinks, np.float64)[None, :, None, None], (B, Nq, Tq, 1))
        s = np.concatenate([s, sk], -1)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    p = p / p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., :Tkv]
    return p @ v


# ----------------------------------------------------------------- finite differences


def check_grads(fun, args, argnums, rng, h=1e-6, rtol=1e-6):
    """Compares mx.grad/mx.jvp of sum(fun(*args) * cot) with central differences along a
    random direction, in float64 on the CPU."""
    with float64_on_cpu():
        args = [D64(a) if isinstance(a, np.ndarray) else a for a in args]
        out = fun(*args)
        cot = D64(rng.standard_normal(out.shape))

        def loss(*xs):
            return (fun(*xs) * cot).sum()

        grads = mx.grad(loss, argnums=argnums)(*args)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        for g, i in zip(grads, argnums):
            x = args[i]
            d = rng.standard_normal(x.shape)
            xp = list(args)
            xm = list(args)
            xp[i] = x + h * D64(d)
            xm[i] = x - h * D64(d)
            fd = (loss(*xp).item() - loss(*xm).item()) / (2 * h)
            an = float((N(g) * d).sum())
            assert abs(fd - an) <= rtol * max(1.0, abs(fd)) + 1e-7, (i, fd, an)
            # jvp along the same direction, with zero tangents elsewhere
            tangents = [mx.zeros_like(a) for a in args]
            tangents[i] = D64(d)
            _, (t,) = mx.jvp(lambda *xs: [loss(*xs)], args, tangents)
            assert abs(t.item() - fd) <= rtol * max(1.0, abs(fd)) + 1e-7, (i, fd, t.item())


def check_vmap(fun, args, in_axes, rng):
    """vmap(fun) against a Python loop + mx.stack."""
    got = mx.vmap(fun, in_axes=in_axes)(*args)
    B = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    want = []
    for b in range(B):
        sl = [a if ax is None else mx.take(a, mx.array(b), axis=ax) for a, ax in zip(args, in_axes)]
        want.append(fun(*sl))
    np.testing.assert_allclose(N(got), N(mx.stack(want)), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------- rms_norm


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(7,), (3, 33), (2, 3, 64), (5, 4096)])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_values(rng, dtype, shape, with_weight):
    x = rng.standard_normal(shape) * 3 + 0.5
    w = rng.standard_normal(shape[-1]) if with_weight else None
    got = F.rms_norm(A(x, dtype), None if w is None else A(w, dtype), 1e-5)
    assert got.dtype == dtype and got.shape == tuple(shape)
    wr = None if w is None else rounded(w, dtype)
    close(got, np_rms(rounded(x, dtype), wr, 1e-5), dtype)


def test_rms_norm_float64_and_promotion(rng):
    x = rng.standard_normal((4, 10))
    w = rng.standard_normal(10)
    with float64_on_cpu():
        got = F.rms_norm(D64(x), D64(w), 1e-6)
        assert got.dtype == mx.float64
        np.testing.assert_allclose(np.array(got), np_rms(x, w, 1e-6), rtol=1e-12)
    # half x with float32 weight promotes to float32; int x with float weight too
    assert F.rms_norm(A(x, mx.float16), A(w), 1e-5).dtype == mx.float32
    assert F.rms_norm(A(x, mx.bfloat16), A(w, mx.float16), 1e-5).dtype == mx.float32
    xi = mx.array(np.arange(20).reshape(2, 10).astype(np.int32))
    got = F.rms_norm(xi, A(w), 1e-5)
    assert got.dtype == mx.float32
    close(got, np_rms(np.arange(20).reshape(2, 10).astype(np.float64), rounded(w, mx.float32), 1e-5))


def test_rms_norm_noncontiguous_and_empty(rng):
    x = rng.standard_normal((6, 8, 5))
    w = rng.standard_normal(16)
    xt = mx.array(x.astype(np.float32)).transpose(2, 0, 1)  # (5, 6, 8)
    close(F.rms_norm(xt, None, 1e-5), np_rms(x.transpose(2, 0, 1), None, 1e-5))
    ws = A(w)[::2]  # strided weight
    close(F.rms_norm(xt, ws, 1e-5), np_rms(x.transpose(2, 0, 1), w[::2], 1e-5))
    assert F.rms_norm(mx.zeros((0, 8)), None, 1e-5).shape == (0, 8)
    assert F.rms_norm(mx.zeros((3, 0)), None, 1e-5).shape == (3, 0)
    # zero rows give zeros (eps keeps the denominator positive)
    np.testing.assert_array_equal(np.array(F.rms_norm(mx.zeros((2, 4)), None, 1e-5)), 0)


def test_rms_norm_errors():
    x = mx.ones((2, 8))
    with pytest.raises(ValueError, match=r"\[rms_norm\]"):
        F.rms_norm(mx.array(1.0), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\]"):
        F.rms_norm(x, mx.ones((7,)), 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\]"):
        F.rms_norm(x, mx.ones((1, 8)), 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\]"):
        F.rms_norm(x.astype(mx.int32), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\]"):
        F.rms_norm(x.astype(mx.complex64), None, 1e-5)
    with pytest.raises(TypeError):
        F.rms_norm(x, None)


# ----------------------------------------------------------------- layer_norm


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(9,), (3, 33), (2, 3, 64), (4, 4096)])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
def test_layer_norm_values(rng, dtype, shape, affine):
    x = rng.standard_normal(shape) * 2 + 3
    w = rng.standard_normal(shape[-1]) if affine[0] else None
    b = rng.standard_normal(shape[-1]) if affine[1] else None
    got = F.layer_norm(
        A(x, dtype), None if w is None else A(w, dtype), None if b is None else A(b, dtype), 1e-5
    )
    assert got.dtype == dtype and got.shape == tuple(shape)
    want = np_ln(
        rounded(x, dtype),
        None if w is None else rounded(w, dtype),
        None if b is None else rounded(b, dtype),
        1e-5,
    )
    close(got, want, dtype)


def test_layer_norm_float64_promotion_and_large_mean(rng):
    x = rng.standard_normal((3, 50))
    with float64_on_cpu():
        got = F.layer_norm(D64(x), D64(np.ones(50)), None, 1e-5)
        assert got.dtype == mx.float64
        np.testing.assert_allclose(np.array(got), np_ln(x, None, None, 1e-5), rtol=1e-10, atol=1e-12)
    # the bias does not take part in the type promotion; the weight does
    assert F.layer_norm(A(x, mx.float16), None, A(np.ones(50)), 1e-5).dtype == mx.float16
    assert F.layer_norm(A(x, mx.float16), A(np.ones(50)), None, 1e-5).dtype == mx.float32
    # a large common offset must not destroy the variance (float32)
    xo = rng.standard_normal((4, 256)) + 1e4
    close(F.layer_norm(A(xo), None, None, 1e-5), np_ln(rounded(xo, mx.float32), None, None, 1e-5), scale=50)


def test_layer_norm_noncontiguous_large_and_empty(rng):
    x = rng.standard_normal((16, 6, 12))
    xt = A(x).transpose(1, 2, 0)  # (6, 12, 16), not row-contiguous
    w, b = rng.standard_normal(16), rng.standard_normal(16)
    close(F.layer_norm(xt, A(w), A(b), 1e-5), np_ln(x.transpose(1, 2, 0), w, b, 1e-5))
    xs = A(x)[:, ::2, 1:]  # sliced view
    w11 = rng.standard_normal(11)
    close(F.layer_norm(xs, A(w11), None, 1e-5), np_ln(x[:, ::2, 1:], w11, None, 1e-5))
    # an output larger than the last-level cache takes the streaming-store path
    big = rng.standard_normal((1100, 4096)).astype(np.float32)
    wb = rng.standard_normal(4096)
    got = F.layer_norm(mx.array(big), A(wb), None, 1e-5)
    close(got, np_ln(big.astype(np.float64), rounded(wb, mx.float32), None, 1e-5))
    assert F.layer_norm(mx.zeros((0, 5)), None, None, 1e-5).shape == (0, 5)


def test_layer_norm_errors():
    x = mx.ones((2, 8))
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(mx.array(1.0), None, None, 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(x, mx.ones((7,)), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(x, None, mx.ones((9,)), 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(x, None, mx.ones((1, 8)), 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(x.astype(mx.int32), None, mx.ones((8,)), 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\]"):
        F.layer_norm(x.astype(mx.bool_), x[0].astype(mx.bool_), None, 1e-5)


# ----------------------------------------------------------------- norm gradients / vmap


def test_norm_gradients(rng):
    x = rng.standard_normal((3, 4, 7)) * 2 + 1
    w, b = rng.standard_normal(7), rng.standard_normal(7)
    check_grads(lambda x, w, b: F.layer_norm(x, w, b, 1e-5), [x, w, b], [0, 1, 2], rng)
    check_grads(lambda x, w: F.layer_norm(x, w, None, 1e-5), [x, w], [0, 1], rng)
    check_grads(lambda x, b: F.layer_norm(x, None, b, 1e-5), [x, b], [0, 1], rng)
    check_grads(lambda x: F.layer_norm(x, None, None, 1e-5), [x], [0], rng)
    check_grads(lambda x, w: F.rms_norm(x, w, 1e-5), [x, w], [0, 1], rng)
    check_grads(lambda x: F.rms_norm(x, None, 1e-5), [x], [0], rng)
    # 1-D input: weight/bias gradients are not reduced over any rows
    check_grads(lambda x, w, b: F.layer_norm(x, w, b, 1e-5), [x[0, 0], w, b], [0, 1, 2], rng)


def test_norm_gradients_half_types(rng):
    x = rng.standard_normal((4, 16))
    w, b = rng.standard_normal(16), rng.standard_normal(16)
    for dtype in [mx.float16, mx.bfloat16]:
        def loss(x, w, b):
            return (F.layer_norm(x, w, b, 1e-5).astype(mx.float32) ** 2).sum()

        gs = mx.grad(loss, argnums=(0, 1, 2))(A(x, dtype), A(w, dtype), A(b, dtype))
        ref = mx.grad(loss, argnums=(0, 1, 2))(A(x), A(w), A(b))
        for g, r in zip(gs, ref):
            assert g.dtype == dtype
            np.testing.assert_allclose(N(g), N(r), rtol=0.1, atol=0.1 * np.abs(N(r)).max())


def test_norm_vmap(rng):
    x = A(rng.standard_normal((3, 4, 6)))
    w, b = A(rng.standard_normal(6)), A(rng.standard_normal(6))
    ln = lambda x, w, b: F.layer_norm(x, w, b, 1e-5)
    rms = lambda x, w: F.rms_norm(x, w, 1e-5)
    for ax in [0, 1, 2]:  # the mapped axis first, in the middle, and last
        xm = mx.moveaxis(x, 0, ax)
        check_vmap(ln, [xm, w, b], [ax, None, None], rng)
        check_vmap(rms, [xm, w], [ax, None], rng)
    ws = A(rng.standard_normal((3, 6)))
    check_vmap(ln, [x, ws, b], [0, 0, None], rng)
    check_vmap(rms, [mx.moveaxis(x, 0, 1), ws], [1, 0], rng)
    # vmap of the gradient
    g = mx.vmap(mx.grad(lambda x: (F.layer_norm(x, w, b, 1e-5) ** 3).sum()))(x)
    want = mx.stack([mx.grad(lambda x: (F.layer_norm(x, w, b, 1e-5) ** 3).sum())(x[i]) for i in range(3)])
    np.testing.assert_allclose(N(g), N(want), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------- rope


ROPE_CASES = [
    # dims, traditional, base, scale, offset
    (8, False, 10000.0, 1.0, 0),
    (8, True, 10000.0, 1.0, 3),
    (6, False, 500.0, 0.5, 7),
    (4, True, 100.0, 2.0, -2),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dims, traditional, base, scale, offset", ROPE_CASES)
def test_rope_values(rng, dtype, dims, traditional, base, scale, offset):
    x = rng.standard_normal((2, 3, 5, 8))
    got = F.rope(A(x, dtype), dims, traditional=traditional, base=base, scale=scale, offset=offset)
    assert got.dtype == dtype and got.shape == x.shape
    close(got, np_rope(rounded(x, dtype), dims, traditional, base, scale, offset), dtype)


def test_rope_float64_freqs_and_array_offsets(rng):
    x = rng.standard_normal((2, 3, 6, 10))
    with float64_on_cpu():
        got = F.rope(D64(x), 8, traditional=False, base=10000.0, scale=1.0, offset=2)
        assert got.dtype == mx.float64
        np.testing.assert_allclose(np.array(got), np_rope(x, 8, False, 10000.0, 1.0, 2), rtol=1e-9, atol=1e-9)
    freqs = rng.uniform(0.5, 4.0, 4)
    for trad in [False, True]:
        got = F.rope(A(x), 8, traditional=trad, base=None, scale=0.7, offset=1, freqs=A(freqs))
        close(got, np_rope(x, 8, trad, None, 0.7, 1, freqs=rounded(freqs, mx.float32)))
    # offset as a scalar array and as one offset per batch element
    close(F.rope(A(x), 8, traditional=False, base=1e4, scale=1.0, offset=mx.array(5)),
          np_rope(x, 8, False, 1e4, 1.0, 5))
    off = np.array([3, 11])
    for dt in [mx.int32, mx.int64, mx.uint32]:
        got = F.rope(A(x), 8, traditional=True, base=1e4, scale=1.0, offset=mx.array(off).astype(dt))
        close(got, np_rope(x, 8, True, 1e4, 1.0, off))
    x3 = rng.standard_normal((2, 6, 8))
    close(F.rope(A(x3), 8, traditional=False, base=1e4, scale=1.0, offset=mx.array(off)),
          np_rope(x3, 8, False, 1e4, 1.0, off))


def test_rope_noncontiguous_and_empty(rng):
    x = rng.standard_normal((2, 5, 3, 8))  # (B, L, H, D) viewed as (B, H, L, D)
    xt = A(x).transpose(0, 2, 1, 3)
    close(F.rope(xt, 8, traditional=False, base=1e4, scale=1.0, offset=1),
          np_rope(x.transpose(0, 2, 1, 3), 8, False, 1e4, 1.0, 1))
    assert F.rope(mx.zeros((0, 2, 3, 8)), 8, traditional=False, base=1e4, scale=1.0, offset=0).shape == (0, 2, 3, 8)
    assert F.rope(mx.zeros((1, 0, 8)), 4, traditional=True, base=1e4, scale=1.0, offset=0).shape == (1, 0, 8)


def test_rope_errors():
    x = mx.ones((1, 2, 4, 8))
    kw = dict(traditional=False, base=1e4, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(mx.ones((4, 8)), 8, **kw)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 7, **kw)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 10, **kw)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 0, **kw)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x.astype(mx.int32), 8, **kw)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=None, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=0, freqs=mx.ones((4,)))
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=None, scale=1.0, offset=0, freqs=mx.ones((3,)))
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=mx.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=mx.array([[1]]))
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=mx.array(1.5))
    with pytest.raises(ValueError, match=r"\[rope\]"):
        F.rope(x, 8, traditional=False, base=1e4, scale=1.0, offset=1.5)
    with pytest.raises(TypeError):
        F.rope(x, 8)


def test_rope_gradients_and_vmap(rng):
    x = rng.standard_normal((2, 2, 4, 6))
    freqs = rng.uniform(0.5, 3.0, 2)
    for trad in [False, True]:
        check_grads(lambda x: F.rope(x, 4, traditional=trad, base=100.0, scale=0.5, offset=2), [x], [0], rng)
        check_grads(
            lambda x, f: F.rope(x, 4, traditional=trad, base=None, scale=1.0, offset=mx.array([1, 4]), freqs=f),
            [x, freqs], [0, 1], rng,
        )
    xs = A(rng.standard_normal((3, 2, 2, 4, 6)))
    f = lambda x: F.rope(x, 6, traditional=False, base=1e4, scale=1.0, offset=3)
    fv = lambda x: F.rope(x, 4, traditional=True, base=1e4, scale=1.0, offset=mx.array([2, 7]))
    for ax in [0, 1, 3, 4]:
        check_vmap(f, [mx.moveaxis(xs, 0, ax)], [ax], rng)
        check_vmap(fv, [mx.moveaxis(xs, 0, ax)], [ax], rng)
    offs = mx.array([[0, 1], [2, 3], [4, 5]])
    check_vmap(lambda x, o: F.rope(x, 4, traditional=False, base=1e4, scale=1.0, offset=o),
               [xs, offs], [0, 0], rng)


# ----------------------------------------------------------------- attention


def qkv(rng, B=2, Nq=4, Nkv=2, Tq=3, Tkv=5, D=8, Dv=6):
    return (rng.standard_normal((B, Nq, Tq, D)), rng.standard_normal((B, Nkv, Tkv, D)),
            rng.standard_normal((B, Nkv, Tkv, Dv)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("heads", [(4, 4), (4, 2), (3, 1)])
@pytest.mark.parametrize("mask_kind", [None, "causal", "bool", "additive", "additive_bcast"])
def test_sdpa_values(rng, dtype, heads, mask_kind):
    Nq, Nkv = heads
    q, k, v = qkv(rng, Nq=Nq, Nkv=Nkv, Tq=4, Tkv=6)
    mask = mask_kind
    mx_mask = mask_kind
    if mask_kind == "bool":
        mask = rng.random((2, Nq, 4, 6)) > 0.4
        mask[..., 0] = True
        mx_mask = mx.array(mask)
    elif mask_kind == "additive":
        mask = rng.standard_normal((4, 6))
        mx_mask = A(mask, dtype)
        mask = rounded(mask, dtype)
    elif mask_kind == "additive_bcast":
        mask = rng.standard_normal((2, 1, 1, 6))
        mx_mask = A(mask, dtype)
        mask = rounded(mask, dtype)
    got = F.scaled_dot_product_attention(A(q, dtype), A(k, dtype), A(v, dtype), scale=0.4, mask=mx_mask)
    assert got.dtype == dtype and got.shape == (2, Nq, 4, 6)
    want = np_sdpa(rounded(q, dtype), rounded(k, dtype), rounded(v, dtype), 0.4, mask)
    close(got, want, dtype, scale=2)


def test_sdpa_causal_alignment_and_fully_masked_rows(rng):
    # lower-right aligned causal mask; fully masked rows average the values
    q = mx.ones((1, 1, 6, 2))
    k = mx.ones((1, 1, 3, 2))
    v = mx.arange(6.0).reshape(1, 1, 3, 2)
    got = np.array(F.scaled_dot_product_attention(q, k, v, scale=0.3, mask="causal"))
    np.testing.assert_allclose(got[0, 0], [[2, 3], [2, 3], [2, 3], [0, 1], [1, 2], [2, 3]], atol=1e-6)
    got = F.scaled_dot_product_attention(q[:, :, :2], k, v, scale=0.3, mask=mx.zeros((2, 3), dtype=mx.bool_))
    np.testing.assert_allclose(np.array(got)[0, 0], [[2, 3], [2, 3]], atol=1e-6)
    # an additive -inf everywhere gives NaN
    got = F.scaled_dot_product_attention(q[:, :, :1], k, v, scale=0.3, mask=mx.full((1, 3), -mx.inf))
    assert np.isnan(np.array(got)).all()
    # causal with T_q < T_kv
    qn, kn, vn = qkv(rng, Tq=3, Tkv=7)
    got = F.scaled_dot_product_attention(A(qn), A(kn), A(vn), scale=0.5, mask="causal")
    close(got, np_sdpa(qn, kn, vn, 0.5, "causal"), scale=2)


def test_sdpa_sinks(rng):
    q, k, v = qkv(rng, Nq=4, Nkv=2)
    sinks = rng.standard_normal(4)
    for mask in [None, "causal"]:
        got = F.scaled_dot_product_attention(A(q), A(k), A(v), scale=0.5, mask=mask, sinks=A(sinks))
        close(got, np_sdpa(q, k, v, 0.5, mask, sinks), scale=2)
    got = F.scaled_dot_product_attention(
        A(q, mx.float16), A(k, mx.float16), A(v, mx.float16), scale=0.5, sinks=A(sinks, mx.float16))
    want = np_sdpa(rounded(q, mx.float16), rounded(k, mx.float16), rounded(v, mx.float16), 0.5, None,
                   rounded(sinks, mx.float16))
    close(got, want, mx.float16, scale=2)
    # fully masked rows put all weight on the sink
    got = F.scaled_dot_product_attention(mx.ones((1, 1, 4, 2)), mx.ones((1, 1, 2, 2)),
                                         mx.arange(4.0).reshape(1, 1, 2, 2), scale=0.3, mask="causal",
                                         sinks=mx.array([0.0]))
    np.testing.assert_allclose(np.array(got)[0, 0, :2], 0, atol=1e-7)


def test_sdpa_dtypes_layouts_and_sizes(rng):
    q, k, v = qkv(rng)
    # float64 and mixed-precision promotion
    with float64_on_cpu():
        got = F.scaled_dot_product_attention(D64(q), D64(k), D64(v), scale=0.3)
        assert got.dtype == mx.float64
        np.testing.assert_allclose(np.array(got), np_sdpa(q, k, v, float(np.float32(0.3))), rtol=1e-10, atol=1e-12)
    assert F.scaled_dot_product_attention(A(q, mx.float16), A(k), A(v), scale=0.3).dtype == mx.float32
    assert F.scaled_dot_product_attention(
        A(q, mx.bfloat16), A(k, mx.float16), A(v, mx.float16), scale=0.3).dtype == mx.float32
    assert F.scaled_dot_product_attention(
        A(q), A(k), A(v), scale=0.3, mask=mx.zeros((3, 5), dtype=mx.int32)).dtype == mx.float32
    # non-contiguous q/k/v: heads split out of (B, T, N, D) and a transposed last axis
    qt = rng.standard_normal((2, 3, 4, 8))
    kt = rng.standard_normal((2, 5, 2, 8))
    vt = rng.standard_normal((2, 2, 6, 5))
    got = F.scaled_dot_product_attention(A(qt).transpose(0, 2, 1, 3), A(kt).transpose(0, 2, 1, 3),
                                         A(vt).transpose(0, 1, 3, 2), scale=0.3, mask="causal")
    close(got, np_sdpa(qt.transpose(0, 2, 1, 3), kt.transpose(0, 2, 1, 3), vt.transpose(0, 1, 3, 2), 0.3,
                       "causal"), scale=2)
    # long keys: the threaded-gemm path (one head at a time)
    q, k, v = qkv(rng, B=1, Nq=2, Nkv=1, Tq=16, Tkv=2048, D=32, Dv=32)
    m = rng.random((16, 2048)) > 0.2
    got = F.scaled_dot_product_attention(A(q), A(k), A(v), scale=0.2, mask=mx.array(m))
    close(got, np_sdpa(q, k, v, 0.2, m), scale=5)
    # empty sizes
    q, k, v = qkv(rng)
    assert F.scaled_dot_product_attention(A(q)[:, :, :0], A(k), A(v), scale=0.3).shape == (2, 4, 0, 6)
    got = F.scaled_dot_product_attention(A(q), A(k)[:, :, :0], A(v)[:, :, :0], scale=0.3)
    np.testing.assert_array_equal(np.array(got), np.zeros((2, 4, 3, 6)))


def test_sdpa_errors(rng):
    q, k, v = (A(a) for a in qkv(rng))
    S = F.scaled_dot_product_attention
    P = r"\[scaled_dot_product_attention\]"
    with pytest.raises(ValueError, match=P):
        S(q[0], k[0], v[0], scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q, k, v[:, :1], scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q, k[:1], v[:1], scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q, k[..., :4], v, scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q, k, v[:, :, :4], scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q[:, :3], k, v, scale=1.0)  # 3 query heads, 2 kv heads
    with pytest.raises(ValueError, match=P):
        S(q.astype(mx.int32), k.astype(mx.int32), v.astype(mx.int32), scale=1.0)
    with pytest.raises(ValueError, match=P):
        S(q, k, v, scale=1.0, mask="foo")
    with pytest.raises(ValueError, match=P):
        S(q, k, v, scale=1.0, mask=mx.zeros((3, 4)))
    with pytest.raises(ValueError, match=P):
        S(q, k, v, scale=1.0, mask=mx.zeros((2, 2, 3, 5)))
    with pytest.raises(ValueError, match=P):
        S(q, k, v, scale=1.0, mask=mx.zeros((1, 1, 1, 3, 5)))
    with pytest.raises(ValueError, match=P):
        S(q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16), scale=1.0, mask=mx.zeros((3, 5)))
    with pytest.raises(ValueError, match=P):
        S(q, k, v, scale=1.0, sinks=mx.zeros((2,)))
    with pytest.raises(ValueError, match=P):
        S(q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16), scale=1.0, sinks=mx.zeros((4,)))
    with pytest.raises(TypeError):
        S(q, k, v)


def test_sdpa_gradients(rng):
    q, k, v = qkv(rng, Nq=4, Nkv=2, Tq=3, Tkv=4, D=3, Dv=2)
    S = F.scaled_dot_product_attention
    check_grads(lambda q, k, v: S(q, k, v, scale=0.7), [q, k, v], [0, 1, 2], rng)
    check_grads(lambda q, k, v: S(q, k, v, scale=0.7, mask="causal"), [q, k, v], [0, 1, 2], rng)
    m = rng.standard_normal((3, 4))
    check_grads(lambda q, k, v, m: S(q, k, v, scale=0.7, mask=m), [q, k, v, m], [0, 1, 2, 3], rng)
    bm = mx.array(rng.random((2, 1, 3, 4)) > 0.3)
    check_grads(lambda q, k, v: S(q, k, v, scale=0.7, mask=bm), [q, k, v], [0, 1, 2], rng)
    sk = rng.standard_normal(4)
    check_grads(lambda q, k, v, s: S(q, k, v, scale=0.7, sinks=s), [q, k, v, sk], [0, 1, 2, 3], rng)


def comp_sdpa(q, k, v, scale, mask=None, sinks=None):
    """Attention written with ordinary mx ops (the gradient reference)."""
    G = q.shape[1] // k.shape[1]
    k, v = mx.repeat(k, G, axis=1), mx.repeat(v, G, axis=1)
    s = (q * scale) @ mx.swapaxes(k, -1, -2)
    Tq, Tkv = s.shape[-2:]
    neg = -np.finfo(np.float32).max
    if isinstance(mask, str):
        mask = mx.arange(Tq)[:, None] + (Tkv - Tq) >= mx.arange(Tkv)[None]
    if mask is not None:
        s = mx.where(mask, s, neg) if mask.dtype == mx.bool_ else s + mask
    if sinks is not None:
        sk = mx.broadcast_to(sinks[None, :, None, None], s.shape[:-1] + (1,))
        p = mx.softmax(mx.concatenate([s, sk], -1), axis=-1)[..., :Tkv]
    else:
        p = mx.softmax(s, axis=-1)
    return p @ v


@pytest.mark.parametrize(
    "Nq, Nkv, Tq, Tkv, D, mask_kind, sinks",
    [
        (4, 2, 5, 7, 8, None, False),
        (4, 1, 9, 6, 8, "causal", True),  # T_q > T_kv: fully masked rows
        (2, 2, 6, 11, 4, "causal", False),
        (3, 3, 4, 6, 8, "bool", True),
        (2, 1, 4, 6, 8, "additive", True),
        (2, 1, 12, 2200, 32, "causal", True),  # one head at a time, threaded gemms
        (2, 2, 10, 1500, 32, "additive", False),
    ],
)
def test_sdpa_backward_kernel_vs_composite(rng, Nq, Nkv, Tq, Tkv, D, mask_kind, sinks):
    q, k, v = (A(a) for a in qkv(rng, B=2, Nq=Nq, Nkv=Nkv, Tq=Tq, Tkv=Tkv, D=D, Dv=D + 1))
    mask = mask_kind
    if mask_kind == "bool":
        m = rng.random((2, Nq, Tq, Tkv)) > 0.4
        m[..., 0] = True
        mask = mx.array(m)
    elif mask_kind == "additive":
        mask = A(rng.standard_normal((Tq, Tkv)))
    sk = A(rng.standard_normal(Nq)) if sinks else None
    cot = A(rng.standard_normal((2, Nq, Tq, D + 1)))
    args = [q, k, v] + ([mask] if mask_kind == "additive" else []) + ([sk] if sinks else [])
    nums = tuple(range(len(args)))

    def unpack(xs):
        xs = list(xs)
        q, k, v = xs[:3]
        m = xs[3] if mask_kind == "additive" else mask
        s = xs[-1] if sinks else None
        return q, k, v, m, s

    def loss_fast(*xs):
        q, k, v, m, s = unpack(xs)
        return (F.scaled_dot_product_attention(q, k, v, scale=0.35, mask=m, sinks=s) * cot).sum()

    def loss_comp(*xs):
        q, k, v, m, s = unpack(xs)
        return (comp_sdpa(q, k, v, 0.35, m, s) * cot).sum()

    got = mx.grad(loss_fast, argnums=nums)(*args)
    want = mx.grad(loss_comp, argnums=nums)(*args)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(N(g), N(w), rtol=2e-4, atol=2e-4 * max(1.0, np.abs(N(w)).max()))


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_sdpa_backward_half_types(rng, dtype):
    q, k, v = qkv(rng, Nq=4, Nkv=2, Tq=6, Tkv=6)
    cot = rng.standard_normal((2, 4, 6, 6))

    def grads(dt):
        def loss(q, k, v):
            o = F.scaled_dot_product_attention(q, k, v, scale=0.4, mask="causal")
            return (o.astype(mx.float32) * A(cot)).sum()

        return mx.grad(loss, argnums=(0, 1, 2))(A(q, dt), A(k, dt), A(v, dt))

    for g, w in zip(grads(dtype), grads(mx.float32)):
        assert g.dtype == dtype
        np.testing.assert_allclose(N(g), N(w), rtol=0.05, atol=0.05 * np.abs(N(w)).max())


def test_norm_backward_many_rows(rng):
    # enough rows for several threads to sum weight/bias gradients
    x = rng.standard_normal((2000, 33)) * 2 + 1
    w, b, g = rng.standard_normal(33), rng.standard_normal(33), rng.standard_normal((2000, 33))
    dx, dw, db = mx.vjp(lambda x, w, b: F.layer_norm(x, w, b, 1e-5), [A(x), A(w), A(b)], [A(g)])[1]
    xhat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(N(dw), (g * xhat).sum(0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(N(db), g.sum(0), rtol=1e-4, atol=1e-3)
    gw = g * w
    want_dx = (gw - gw.mean(-1, keepdims=True) - xhat * (gw * xhat).mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(N(dx), want_dx, rtol=1e-4, atol=1e-4)
    dx, dw = mx.vjp(lambda x, w: F.rms_norm(x, w, 1e-5), [A(x), A(w)], [A(g)])[1]
    r = 1 / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(N(dw), (g * x * r).sum(0), rtol=1e-4, atol=1e-3)
    want_dx = r * (gw - x * r * (gw * x * r).mean(-1, keepdims=True))
    np.testing.assert_allclose(N(dx), want_dx, rtol=1e-4, atol=1e-4)
    # non-contiguous x and cotangent
    xt = A(x[:40].T)  # (33, 40) viewed transposed below
    got = mx.grad(lambda x: (F.layer_norm(x, None, None, 1e-5) * A(g[:40])).sum())(xt.T)
    want = mx.grad(lambda x: (F.layer_norm(x, None, None, 1e-5) * A(g[:40])).sum())(A(x[:40]))
    np.testing.assert_allclose(N(got), N(want), rtol=1e-5, atol=1e-5)


def test_second_order_gradients(rng):
    """Gradients of the fused backward kernels go through their composite fallbacks."""
    with float64_on_cpu():
        x = D64(rng.standard_normal((3, 6)))
        w, b = D64(rng.standard_normal(6)), D64(rng.standard_normal(6))
        d = D64(rng.standard_normal((3, 6)))
        h = 1e-6
        for f in [lambda x: F.layer_norm(x, w, b, 1e-5), lambda x: F.rms_norm(x, w, 1e-5)]:
            g = mx.grad(lambda x: (f(x) ** 3).sum())
            hvp = mx.grad(lambda x: (g(x) * d).sum())(x)
            fd = (g(x + h * d) - g(x - h * d)) / (2 * h)
            np.testing.assert_allclose(np.array(hvp), np.array(fd), rtol=1e-5, atol=1e-6)
        q, k, v = (D64(a) for a in qkv(rng, Tq=3, Tkv=4, D=3, Dv=2))
        dq = D64(rng.standard_normal(q.shape))
        g = mx.grad(lambda q: (F.scaled_dot_product_attention(q, k, v, scale=0.5, mask="causal") ** 2).sum())
        hvp = mx.grad(lambda q: (g(q) * dq).sum())(q)
        fd = (g(q + h * dq) - g(q - h * dq)) / (2 * h)
        np.testing.assert_allclose(np.array(hvp), np.array(fd), rtol=1e-5, atol=1e-6)


def test_sdpa_vmap(rng):
    q, k, v = (A(a) for a in qkv(rng))
    qs = A(rng.standard_normal((3,) + q.shape))
    S = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.5, mask="causal")
    check_vmap(S, [qs, k, v], [0, None, None], rng)
    vs = A(rng.standard_normal((2, 3, 2, 5, 6)))  # v with the mapped axis at 1
    S2 = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.5)
    check_vmap(S2, [qs, k, vs], [0, None, 1], rng)
    ms = A(rng.standard_normal((3, 3, 5)))
    check_vmap(lambda q, m: F.scaled_dot_product_attention(q, k, v, scale=0.5, mask=m), [qs, ms], [0, 0], rng)


# ----------------------------------------------------------------- GPU kernel entry points


def test_custom_kernels_raise():
    k = F.metal_kernel(name="myexp", input_names=["x"], output_names=["y"], source="y[0] = x[0];")
    with pytest.raises(RuntimeError, match="Metal"):
        k(inputs=[mx.ones(3)], grid=(3, 1, 1), threadgroup=(3, 1, 1), output_shapes=[(3,)],
          output_dtypes=[mx.float32])
    if not mx.cuda.is_available():  # with a CUDA GPU, tests/test_gpu_custom_kernel.py runs it
        with pytest.raises(RuntimeError, match="CUDA"):
            F.cuda_kernel(name="myexp", input_names=["x"], output_names=["y"], source="")
    with pytest.raises(RuntimeError, match="CUDA"):
        F.precompiled_cuda_kernel(name="k", compiled_source=b"", inputs=[], output_shapes=[],
                                  output_dtypes=[], scalars=[], grid=(1, 1, 1), threadgroup=(1, 1, 1))
