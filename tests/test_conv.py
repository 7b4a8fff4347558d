"""Convolutions: conv_general, conv1d/2d/3d, conv_transpose1d/2d/3d and convolve against
direct NumPy loop references, with every option, dtypes, layouts, errors, gradients (central
finite differences in float64), jvp and vmap."""

import itertools

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64

# ---------------------------------------------------------------------------------------
# NumPy references (float64)
# ---------------------------------------------------------------------------------------


def np_conv_general(x, w, stride, lo, hi, kdil, idil, groups=1, flip=False):
    """Channels-last correlation: x (N, *S, Ci), w (Co, *K, Ci/groups); padding may be < 0."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    D = x.ndim - 2
    if flip:
        w = w[(slice(None),) + (slice(None, None, -1),) * D]
    N, *S, C = x.shape
    # input dilation
    Sd = [(s - 1) * d + 1 if s > 0 else 0 for s, d in zip(S, idil)]
    xd = np.zeros((N, *Sd, C))
    xd[(slice(None),) + tuple(slice(None, None, d) for d in idil)] = x
    # padding; negative values crop
    for d in range(D):
        ax = 1 + d
        l, h = lo[d], hi[d]
        if l < 0:
            xd = np.take(xd, range(-l, xd.shape[ax]), axis=ax)
            l = 0
        if h < 0:
            xd = np.take(xd, range(0, max(xd.shape[ax] + h, 0)), axis=ax)
            h = 0
        widths = [(0, 0)] * xd.ndim
        widths[ax] = (l, h)
        xd = np.pad(xd, widths)
    K = w.shape[1:-1]
    out_sp = [
        (xd.shape[1 + d] - ((K[d] - 1) * kdil[d] + 1)) // stride[d] + 1 for d in range(D)
    ]
    co, cig = w.shape[0], w.shape[-1]
    cog = co // groups
    out = np.zeros((N, *out_sp, co))
    for offs in itertools.product(*[range(k) for k in K]):
        idx = tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, d, n, s in zip(offs, kdil, out_sp, stride)
        )
        patch = xd[(slice(None),) + idx]
        wk = w[(slice(None),) + offs]
        for g in range(groups):
            out[..., g * cog : (g + 1) * cog] += (
                patch[..., g * cig : (g + 1) * cig] @ wk[g * cog : (g + 1) * cog].T
            )
    return out


def np_conv_transpose(x, w, stride, padding, dilation, output_padding, groups=1):
    """Scatter form of the transposed convolution, weight (Co, *K, Ci/groups)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    D = x.ndim - 2
    K = w.shape[1:-1]
    S = x.shape[1:-1]
    co, cig = w.shape[0], w.shape[-1]
    cog = co // groups
    full = [(S[d] - 1) * stride[d] + dilation[d] * (K[d] - 1) + 1 for d in range(D)]
    size = [full[d] + max(output_padding[d], 0) for d in range(D)]
    out = np.zeros((x.shape[0], *size, co))
    for offs in itertools.product(*[range(k) for k in K]):
        idx = tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, d, n, s in zip(offs, dilation, S, stride)
        )
        wk = w[(slice(None),) + offs]
        for g in range(groups):
            out[(slice(None),) + idx + (slice(g * cog, (g + 1) * cog),)] += (
                x[..., g * cig : (g + 1) * cig] @ wk[g * cog : (g + 1) * cog].T
            )
    crop = tuple(
        slice(padding[d], padding[d] + full[d] - 2 * padding[d] + output_padding[d])
        for d in range(D)
    )
    return out[(slice(None),) + crop]


def A64(a):
    """float64 array (mx.array makes float32 of float64 NumPy input, as MLX does)."""
    return mx.array(a, mx.float64)


def randn(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def close(a, b, rtol=1e-4, atol=1e-4):
    a = np.array(a.astype(mx.float32) if a.dtype in (mx.bfloat16,) else a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a.astype(np.float64), b, rtol=rtol, atol=atol)


def tup(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------------------------
# conv_general with every option
# ---------------------------------------------------------------------------------------

# (x shape, w shape, kwargs of conv_general)
GENERAL = [
    ((2, 7, 3), (4, 3, 3), {}),
    ((2, 9, 4), (6, 3, 2), dict(stride=2, padding=1, groups=2)),
    ((1, 8, 2), (3, 2, 2), dict(kernel_dilation=3, input_dilation=2)),
    ((2, 6, 3), (2, 3, 3), dict(padding=([2], [0]), flip=True)),
    ((2, 10, 1), (1, 4, 1), dict(padding=([-2], [1]), stride=3)),
    ((2, 6, 7, 3), (4, 3, 2, 3), dict(stride=[1, 2], padding=[1, 0])),
    ((1, 5, 6, 4), (4, 3, 3, 2), dict(padding=([2, 0], [1, 3]), groups=2, flip=True)),
    ((2, 5, 5, 2), (3, 2, 3, 2), dict(kernel_dilation=[2, 1], input_dilation=[1, 3])),
    ((1, 6, 6, 6), (6, 3, 3, 1), dict(padding=1, groups=6)),  # depthwise
    ((1, 8, 9, 3), (2, 3, 3, 3), dict(stride=[2, 3], padding=([-1, 1], [2, -1]))),
    ((1, 4, 4, 4), (5, 1, 1, 4), {}),  # pointwise
    ((1, 4, 4, 4), (6, 1, 1, 2), dict(groups=2)),  # grouped pointwise
    ((1, 4, 5, 3, 2), (3, 2, 2, 2, 2), dict(padding=1, stride=[1, 2, 1])),
    ((1, 3, 4, 4, 2), (2, 2, 3, 1, 2), dict(kernel_dilation=[1, 1, 2], input_dilation=2, flip=True)),
    # Output channels per group a multiple of 8 (the vectorized kernel on AVX2 machines).
    ((2, 9, 3), (16, 3, 3), dict(stride=2, padding=([2], [-1]), input_dilation=2, flip=True)),
    ((1, 7, 6, 4), (16, 3, 2, 2), dict(padding=([1, 2], [0, 1]), kernel_dilation=[2, 1], groups=2)),
    ((2, 5, 6, 3), (24, 2, 3, 3), dict(stride=[2, 1], padding=1, input_dilation=[1, 2])),
    ((1, 4, 3, 5, 2), (8, 2, 2, 3, 2), dict(padding=([1, 0, 2], [0, 1, -1]), flip=True)),
]


def _np_args(x_shape, w_shape, kw):
    D = len(x_shape) - 2
    pad = kw.get("padding", 0)
    if isinstance(pad, tuple):
        lo, hi = pad
    else:
        lo = hi = tup(pad, D) if not isinstance(pad, list) else pad
    return dict(
        stride=tup(kw.get("stride", 1), D),
        lo=tup(lo, D),
        hi=tup(hi, D),
        kdil=tup(kw.get("kernel_dilation", 1), D),
        idil=tup(kw.get("input_dilation", 1), D),
        groups=kw.get("groups", 1),
        flip=kw.get("flip", False),
    )


@pytest.mark.parametrize("x_shape, w_shape, kw", GENERAL)
def test_conv_general(rng, x_shape, w_shape, kw):
    x, w = randn(rng, *x_shape), randn(rng, *w_shape)
    out = mx.conv_general(mx.array(x), mx.array(w), **kw)
    assert out.dtype == mx.float32
    close(out, np_conv_general(x, w, **_np_args(x_shape, w_shape, kw)))


def test_conv_general_positional_and_broadcast_params(rng):
    x, w = randn(rng, 1, 5, 3), randn(rng, 6, 3, 3)
    out = mx.conv_general(mx.array(x), mx.array(w), 2, 1, 2, 2, 1, True)
    close(out, np_conv_general(x, w, (2,), (1,), (1,), (2,), (2,), 1, True))
    # A single-element list applies to every spatial dimension.
    x, w = randn(rng, 1, 6, 6, 2), randn(rng, 3, 3, 3, 2)
    a = mx.conv_general(mx.array(x), mx.array(w), stride=[2], padding=[1])
    close(a, np_conv_general(x, w, (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)))
    b = mx.conv_general(mx.array(x), mx.array(w), padding=((1, 2), (0, 1)))
    close(b, np_conv_general(x, w, (1, 1), (1, 2), (0, 1), (1, 1), (1, 1)))


# ---------------------------------------------------------------------------------------
# conv1d / conv2d / conv3d
# ---------------------------------------------------------------------------------------

CONVS = [
    (mx.conv1d, (2, 11, 4), (6, 3, 4), dict(stride=2, padding=1, dilation=2)),
    (mx.conv1d, (2, 8, 6), (6, 5, 2), dict(padding=2, groups=3)),
    (mx.conv2d, (2, 7, 8, 3), (5, 3, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    (mx.conv2d, (1, 6, 6, 4), (4, 3, 3, 2), dict(stride=2, padding=1, groups=2)),
    (mx.conv2d, (2, 5, 5, 3), (4, 5, 5, 3), {}),
    (mx.conv3d, (1, 5, 4, 6, 2), (3, 3, 2, 3, 2), dict(stride=(1, 2, 2), padding=(1, 0, 1))),
    (mx.conv3d, (2, 4, 4, 4, 3), (2, 2, 2, 2, 3), dict(dilation=2, padding=1)),
]


@pytest.mark.parametrize("fn, x_shape, w_shape, kw", CONVS)
def test_convnd(rng, fn, x_shape, w_shape, kw):
    D = len(x_shape) - 2
    x, w = randn(rng, *x_shape), randn(rng, *w_shape)
    out = fn(mx.array(x), mx.array(w), **kw)
    p = tup(kw.get("padding", 0), D)
    want = np_conv_general(
        x, w, tup(kw.get("stride", 1), D), p, p, tup(kw.get("dilation", 1), D), (1,) * D,
        kw.get("groups", 1),
    )
    close(out, want)


def test_conv2d_list_arguments(rng):
    x, w = randn(rng, 1, 6, 6, 2), randn(rng, 3, 3, 3, 2)
    a = mx.conv2d(mx.array(x), mx.array(w), stride=[1, 2], padding=[1, 0])
    close(a, np_conv_general(x, w, (1, 2), (1, 0), (1, 0), (1, 1), (1, 1)))


def test_conv2d_benchmark_shape(rng):
    # The shape used by the benchmark (smaller batch): 3x3, 64 -> 64, padding 1.
    x, w = randn(rng, 2, 14, 14, 64), randn(rng, 64, 3, 3, 64)
    out = mx.conv2d(mx.array(x), mx.array(w), stride=1, padding=1)
    close(out, np_conv_general(x, w, (1, 1), (1, 1), (1, 1), (1, 1), (1, 1)), rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------------------------------
# transposed convolutions
# ---------------------------------------------------------------------------------------

TRANSPOSES = [
    (mx.conv_transpose1d, (2, 5, 4), (3, 3, 4), {}),
    (mx.conv_transpose1d, (2, 5, 4), (3, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    (mx.conv_transpose1d, (1, 6, 4), (6, 3, 2), dict(stride=3, dilation=2, groups=2)),
    (mx.conv_transpose1d, (1, 5, 2), (3, 4, 2), dict(stride=2, padding=2, output_padding=-1)),
    (mx.conv_transpose2d, (1, 4, 3, 2), (3, 3, 2, 2), dict(stride=2, padding=(1, 0), dilation=(1, 2))),
    (mx.conv_transpose2d, (2, 3, 3, 4), (4, 3, 3, 2), dict(stride=2, output_padding=(1, 0), groups=2)),
    (mx.conv_transpose2d, (1, 4, 4, 3), (2, 3, 3, 3), dict(padding=1, output_padding=2)),
    (mx.conv_transpose3d, (1, 2, 3, 2, 2), (3, 2, 2, 2, 2), dict(stride=2)),
    (mx.conv_transpose3d, (1, 3, 2, 3, 2), (2, 3, 2, 2, 2), dict(stride=(1, 2, 2), padding=1, output_padding=(0, 1, 1))),
]


@pytest.mark.parametrize("fn, x_shape, w_shape, kw", TRANSPOSES)
def test_conv_transpose(rng, fn, x_shape, w_shape, kw):
    D = len(x_shape) - 2
    x, w = randn(rng, *x_shape), randn(rng, *w_shape)
    out = fn(mx.array(x), mx.array(w), **kw)
    want = np_conv_transpose(
        x, w, tup(kw.get("stride", 1), D), tup(kw.get("padding", 0), D),
        tup(kw.get("dilation", 1), D), tup(kw.get("output_padding", 0), D), kw.get("groups", 1),
    )
    close(out, want)


def test_conv_transpose_is_adjoint_of_conv(rng):
    # <conv(x, w), y> == <x, conv_transpose(y, w')> with w' the channel-swapped weight.
    x, w = randn(rng, 2, 9, 8, 3), randn(rng, 4, 3, 3, 3)
    y = mx.conv2d(mx.array(x), mx.array(w), stride=2, padding=1)
    ct = randn(rng, *y.shape)
    wt = np.ascontiguousarray(w.transpose(3, 1, 2, 0))
    xt = mx.conv_transpose2d(mx.array(ct), mx.array(wt), stride=2, padding=1, output_padding=(0, 1))
    lhs = float((np.array(y, np.float64) * ct).sum())
    assert xt.shape == x.shape
    rhs = float((x * np.array(xt, np.float64)).sum())
    assert abs(lhs - rhs) < 1e-3 * max(1.0, abs(lhs))


# ---------------------------------------------------------------------------------------
# convolve
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("na, nv", [(5, 2), (5, 4), (6, 3), (2, 5), (4, 6), (1, 1), (7, 7)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve(rng, na, nv, mode):
    a, v = randn(rng, na), randn(rng, nv)
    out = mx.convolve(mx.array(a), mx.array(v), mode=mode)
    close(out, np.convolve(a.astype(np.float64), v.astype(np.float64), mode), atol=1e-5)


def test_convolve_default_and_dtypes(rng):
    a, v = randn(rng, 6), randn(rng, 3)
    close(mx.convolve(mx.array(a), mx.array(v)), np.convolve(a, v), atol=1e-5)
    out = mx.convolve(mx.array(a, mx.float16), mx.array(v, mx.float16))
    assert out.dtype == mx.float16
    close(out, np.convolve(a, v), rtol=2e-2, atol=2e-2)
    assert mx.convolve(mx.array(a, mx.float16), mx.array(v, mx.float64)).dtype == mx.float64
    assert mx.convolve(mx.array(a), mx.array(v, mx.float16)).dtype == mx.float32


def test_convolve_errors():
    with pytest.raises(ValueError, match=r"\[convolve\].*1D"):
        mx.convolve(mx.ones((3, 2)), mx.ones(2))
    with pytest.raises(ValueError, match=r"\[convolve\].*1D"):
        mx.convolve(mx.array(1.0), mx.ones(2))
    with pytest.raises(ValueError, match=r"\[convolve\].*empty"):
        mx.convolve(mx.ones(0), mx.ones(2))
    with pytest.raises(ValueError, match=r"\[convolve\].*mode"):
        mx.convolve(mx.ones(3), mx.ones(2), mode="foo")
    with pytest.raises(ValueError, match=r"\[conv\].*floating"):
        mx.convolve(mx.ones(3, mx.int32), mx.ones(2, mx.int32))


# ---------------------------------------------------------------------------------------
# dtypes, layouts, empty inputs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xt, wt, out_t",
    [
        (mx.float32, mx.float32, mx.float32),
        (mx.float16, mx.float16, mx.float16),
        (mx.bfloat16, mx.bfloat16, mx.bfloat16),
        (mx.float64, mx.float64, mx.float64),
        (mx.float16, mx.float32, mx.float32),
        (mx.float16, mx.bfloat16, mx.float32),
        (mx.float32, mx.float64, mx.float64),
        (mx.float32, mx.int32, mx.float32),
    ],
)
def test_dtypes(rng, xt, wt, out_t):
    x, w = randn(rng, 2, 6, 5, 4), randn(rng, 3, 3, 2, 4)
    with on_cpu_if_float64(xt, wt, out_t):
        xa, wa = mx.array(x).astype(xt), mx.array(w).astype(wt)
        out = mx.conv2d(xa, wa, padding=1)
        assert out.dtype == out_t
    # Reference from the rounded inputs.
    xr = np.array(xa.astype(mx.float64, stream=mx.cpu))
    wr = np.array(wa.astype(mx.float64, stream=mx.cpu))
    want = np_conv_general(xr, wr, (1, 1), (1, 1), (1, 1), (1, 1), (1, 1))
    tol = {mx.float16: 2e-2, mx.bfloat16: 8e-2}.get(out_t, 1e-4)
    close(out, want, rtol=tol, atol=tol * 4)


def test_float64_precision(rng):
    with float64_on_cpu():
        x, w = randn(rng, 1, 9, 3, dtype=np.float64), randn(rng, 2, 3, 3, dtype=np.float64)
        out = mx.conv1d(A64(x), A64(w), padding=1)
        assert out.dtype == mx.float64
        np.testing.assert_allclose(
            np.array(out), np_conv_general(x, w, (1,), (1,), (1,), (1,), (1,)), rtol=1e-12, atol=1e-12
        )


def test_non_contiguous_inputs(rng):
    base = randn(rng, 2, 4, 9, 8)
    x_np = base.transpose(0, 2, 3, 1)[:, ::2, 1:, :]  # (2, 5, 7, 4), strided view
    w_base = randn(rng, 3, 3, 4, 5)
    w_np = w_base.transpose(3, 1, 0, 2)  # (5, 3, 3, 4)
    x = mx.transpose(mx.array(base), (0, 2, 3, 1))[:, ::2, 1:, :]
    w = mx.transpose(mx.array(w_base), (3, 1, 0, 2))
    out = mx.conv2d(x, w, padding=1)
    close(out, np_conv_general(x_np, w_np, (1, 1), (1, 1), (1, 1), (1, 1), (1, 1)))
    # A broadcast weight.
    wb = mx.broadcast_to(mx.array(w_np[:1]), (5, 3, 3, 4))
    close(mx.conv2d(x, wb), np_conv_general(x_np, np.broadcast_to(w_np[:1], (5, 3, 3, 4)),
                                            (1, 1), (0, 0), (0, 0), (1, 1), (1, 1)))


def test_empty():
    out = mx.conv2d(mx.ones((0, 8, 8, 4)), mx.ones((6, 3, 3, 4)))
    assert out.shape == (0, 6, 6, 6)
    mx.eval(out)
    out = mx.conv2d(mx.ones((2, 8, 8, 0)), mx.ones((6, 3, 3, 0)))
    assert out.shape == (2, 6, 6, 6)
    assert np.array(out).sum() == 0
    out = mx.conv2d(mx.ones((2, 8, 8, 4)), mx.ones((0, 3, 3, 4)))
    assert out.shape == (2, 6, 6, 0)
    mx.eval(out)


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------

X = mx.ones((2, 8, 8, 4))
W = mx.ones((6, 3, 3, 4))

ERRORS = [
    (lambda: mx.conv2d(X, mx.ones((6, 3, 3, 3))), r"\[conv\].*input channels"),
    (lambda: mx.conv2d(X, mx.ones((5, 3, 3, 2)), groups=2), r"\[conv\].*output channels.*divisible"),
    (lambda: mx.conv2d(X, W, groups=3), r"\[conv\].*input channels.*divisible"),
    (lambda: mx.conv2d(X, W, groups=0), r"\[conv\].*groups must be positive"),
    (lambda: mx.conv_general(X, W, groups=-2), r"\[conv\].*groups must be positive"),
    (lambda: mx.conv2d(X, W, stride=0), r"\[conv\].*stride"),
    (lambda: mx.conv2d(X, W, stride=-1), r"\[conv\].*stride"),
    (lambda: mx.conv2d(X, W, dilation=0), r"\[conv\].*kernel dilation"),
    (lambda: mx.conv_general(X, W, input_dilation=0), r"\[conv\].*input dilation"),
    (lambda: mx.conv2d(X, mx.ones((6, 9, 9, 4))), r"\[conv\].*smaller than the dilated kernel"),
    (lambda: mx.conv2d(X, W, padding=-3), r"\[conv\].*smaller than the dilated kernel"),
    (lambda: mx.conv2d(X, W, dilation=5), r"\[conv\].*smaller than the dilated kernel"),
    (lambda: mx.conv2d(X, mx.ones((6, 3, 4))), r"\[conv\].*weight array with 3 dimensions"),
    (lambda: mx.conv2d(mx.ones((8, 8, 4)), W), r"\[conv\].*weight array with 4 dimensions"),
    (lambda: mx.conv1d(mx.ones((8, 4)), mx.ones((2, 3, 4))), r"\[conv\].*1 to 3 spatial"),
    (lambda: mx.conv_general(mx.ones((4,)), mx.ones((4,))), r"\[conv\].*1 to 3 spatial"),
    (lambda: mx.conv_general(mx.ones((1, 4, 4, 4, 4, 2)), mx.ones((1, 2, 2, 2, 2, 2))), r"1 to 3 spatial"),
    (lambda: mx.conv_general(X, W, stride=[1, 2, 3]), r"\[conv\].*strides"),
    (lambda: mx.conv_general(X, W, padding=[1, 2, 3]), r"\[conv\].*padding"),
    (lambda: mx.conv_general(X, W, padding=([1, 2], [1, 2, 3])), r"\[conv\].*padding"),
    (lambda: mx.conv_general(X, W, kernel_dilation=[1, 2, 3]), r"\[conv\].*kernel dilation"),
    (lambda: mx.conv_general(X, W, input_dilation=[1, 2, 3]), r"\[conv\].*input dilation"),
    (lambda: mx.conv2d(X.astype(mx.int32), W), r"\[conv\].*floating"),
    (lambda: mx.conv2d(X.astype(mx.bool_), W), r"\[conv\].*floating"),
    (lambda: mx.conv2d(X.astype(mx.complex64), W), r"\[conv\].*floating"),
    (lambda: mx.conv2d(X, W.astype(mx.complex64)), r"\[conv\].*floating"),
    (lambda: mx.conv2d(X, mx.ones((6, 0, 3, 4))), r"\[conv\].*kernel spatial"),
    (lambda: mx.conv3d(mx.ones((1, 3, 3, 3, 4)), mx.ones((6, 2, 2, 2, 2)), groups=2), r"\[conv\].*groups"),
    (lambda: mx.conv_transpose3d(mx.ones((1, 3, 3, 3, 4)), mx.ones((6, 2, 2, 2, 2)), groups=2), r"\[conv\].*groups"),
    (lambda: mx.conv_transpose2d(X, W, stride=0), r"stride"),
    (lambda: mx.conv_transpose2d(X, W, dilation=0), r"kernel dilation"),
    (lambda: mx.conv_transpose2d(X, W, padding=6), r"\[conv\].*smaller than the dilated kernel"),
    (lambda: mx.conv_transpose1d(mx.ones((1, 5, 4)), mx.ones((6, 3, 2)), groups=3), r"divisible"),
]


@pytest.mark.parametrize("fn, match", ERRORS)
def test_errors(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


def test_argument_types():
    with pytest.raises(TypeError):
        mx.conv2d(X, W, stride=(1, 2, 3))
    with pytest.raises(TypeError):
        mx.conv1d(X, W, groups=1.5)


# ---------------------------------------------------------------------------------------
# gradients: central finite differences along a random direction, float64
# ---------------------------------------------------------------------------------------


def _fd_check(rng, f, x, w):
    """Checks mx.grad of sum(f(x, w) * r) w.r.t. both arguments against central differences."""
    with float64_on_cpu():
        x = x.astype(np.float64)
        w = w.astype(np.float64)
        r = A64(rng.standard_normal(f(A64(x), A64(w)).shape))

        def loss(a, b):
            return mx.sum(f(a, b) * r)

        gx, gw = mx.grad(loss, argnums=(0, 1))(A64(x), A64(w))
        assert gx.shape == x.shape and gw.shape == w.shape
        assert gx.dtype == mx.float64 and gw.dtype == mx.float64
        eps = 1e-6
        for i, (g, arg) in enumerate([(gx, x), (gw, w)]):
            d = rng.standard_normal(arg.shape)
            args_p = [x, w]
            args_m = [x, w]
            args_p[i] = arg + eps * d
            args_m[i] = arg - eps * d
            fd = (loss(*map(A64, args_p)).item() - loss(*map(A64, args_m)).item()) / (2 * eps)
            an = float((np.array(g) * d).sum())
            assert abs(fd - an) <= 1e-6 * max(1.0, abs(fd)), (i, fd, an)


@pytest.mark.parametrize("x_shape, w_shape, kw", GENERAL)
def test_grad_conv_general(rng, x_shape, w_shape, kw):
    _fd_check(
        rng,
        lambda a, b: mx.conv_general(a, b, **kw),
        randn(rng, *x_shape, dtype=np.float64),
        randn(rng, *w_shape, dtype=np.float64),
    )


@pytest.mark.parametrize("fn, x_shape, w_shape, kw", TRANSPOSES)
def test_grad_conv_transpose(rng, fn, x_shape, w_shape, kw):
    _fd_check(
        rng,
        lambda a, b: fn(a, b, **kw),
        randn(rng, *x_shape, dtype=np.float64),
        randn(rng, *w_shape, dtype=np.float64),
    )


def test_grad_convolve(rng):
    a, v = randn(rng, 7, dtype=np.float64), randn(rng, 3, dtype=np.float64)
    for mode in ["full", "same", "valid"]:
        _fd_check(rng, lambda p, q: mx.convolve(p, q, mode=mode), a, v)


def test_grad_float32_matches_float64(rng):
    x, w = randn(rng, 2, 6, 6, 4), randn(rng, 4, 3, 3, 2)

    def loss(a, b):
        return mx.sum(mx.conv2d(a, b, stride=2, padding=1, groups=2) ** 2)

    g32 = mx.grad(loss, argnums=(0, 1))(mx.array(x), mx.array(w))
    with float64_on_cpu():
        g64 = mx.grad(loss, argnums=(0, 1))(mx.array(x, mx.float64), mx.array(w, mx.float64))
        for a, b in zip(g32, g64):
            assert a.dtype == mx.float32
            close(a, np.array(b), rtol=1e-4, atol=1e-3)


def test_grad_mixed_dtypes(rng):
    x, w = randn(rng, 1, 5, 2), randn(rng, 3, 2, 2)
    gx, gw = mx.grad(lambda a, b: mx.sum(mx.conv1d(a, b)), argnums=(0, 1))(
        mx.array(x, mx.float16), mx.array(w)
    )
    assert gx.dtype == mx.float16 and gw.dtype == mx.float32


# ---------------------------------------------------------------------------------------
# jvp and vmap
# ---------------------------------------------------------------------------------------


def test_jvp(rng):
    x, w = randn(rng, 2, 7, 6, 4, dtype=np.float64), randn(rng, 6, 3, 2, 2, dtype=np.float64)
    tx, tw = randn(rng, *x.shape, dtype=np.float64), randn(rng, *w.shape, dtype=np.float64)
    kw = dict(stride=[2, 1], padding=([1, 0], [0, 2]), kernel_dilation=[1, 2], groups=2, flip=True)

    def f(a, b):
        return mx.conv_general(a, b, **kw)

    with float64_on_cpu():
        _, (t,) = mx.jvp(f, [A64(x), A64(w)], [A64(tx), A64(tw)])
        eps = 1e-6
        fd = (np.array(f(A64(x + eps * tx), A64(w + eps * tw)))
              - np.array(f(A64(x - eps * tx), A64(w - eps * tw)))) / (2 * eps)
        np.testing.assert_allclose(np.array(t), fd, rtol=1e-6, atol=1e-6)
        # Tangent for one argument only.
        _, (t,) = mx.jvp(lambda a: f(a, A64(w)), [A64(x)], [A64(tx)])
        np.testing.assert_allclose(np.array(t), np.array(f(A64(tx), A64(w))), atol=1e-10)


VMAP_CASES = [
    # (in_axes, x shape (batched), w shape (batched), kwargs)
    ((0, None), (3, 2, 7, 4), (5, 3, 4), dict(stride=2, padding=1)),
    ((2, None), (2, 7, 3, 4), (6, 3, 2), dict(groups=2)),
    ((None, 0), (2, 7, 4), (3, 5, 3, 4), dict(padding=1)),
    ((None, 3), (2, 7, 4), (4, 3, 2, 3), dict(groups=2, kernel_dilation=2)),
    ((0, 0), (3, 2, 6, 5, 2), (3, 4, 3, 3, 2), dict(padding=([1, 0], [0, 1]), flip=True)),
    ((1, 0), (2, 3, 6, 5, 4), (3, 4, 2, 2, 2), dict(groups=2, stride=[2, 1])),
]


@pytest.mark.parametrize("in_axes, x_shape, w_shape, kw", VMAP_CASES)
def test_vmap(rng, in_axes, x_shape, w_shape, kw):
    x, w = mx.array(randn(rng, *x_shape)), mx.array(randn(rng, *w_shape))
    ax, aw = in_axes
    B = x.shape[ax] if ax is not None else w.shape[aw]

    def f(a, b):
        return mx.conv_general(a, b, **kw)

    got = mx.vmap(f, in_axes=in_axes)(x, w)
    outs = []
    for i in range(B):
        xi = x if ax is None else mx.take(x, mx.array(i), axis=ax)
        wi = w if aw is None else mx.take(w, mx.array(i), axis=aw)
        outs.append(f(xi, wi))
    close(got, np.array(mx.stack(outs)), rtol=1e-5, atol=1e-5)


def test_vmap_of_grad(rng):
    x, w = mx.array(randn(rng, 3, 1, 6, 2)), mx.array(randn(rng, 2, 3, 2))

    def g(a):
        return mx.grad(lambda b: mx.sum(mx.conv1d(a, b, padding=1) ** 2))(w)

    got = mx.vmap(g)(x)
    want = mx.stack([g(x[i]) for i in range(3)])
    close(got, np.array(want), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# nn layers
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(mx, "random"), reason="layer init needs mx.random")
def test_nn_conv2d_layer_grad(rng):
    import mlx.nn as nn

    layer = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=True)
    x = mx.array(randn(rng, 2, 7, 7, 3))

    def loss(model, a):
        return mx.sum(model(a) ** 2)

    val, grads = nn.value_and_grad(layer, loss)(layer, x)
    assert grads["weight"].shape == layer.weight.shape
    assert grads["bias"].shape == (4,)
    # The weight gradient equals the one computed with conv_general directly.
    gw = mx.grad(lambda b: mx.sum((mx.conv2d(x, b, stride=2, padding=1) + layer.bias) ** 2))(
        layer.weight
    )
    close(grads["weight"], np.array(gw), rtol=1e-5, atol=1e-5)
