"""Tests of mx.fft against numpy.fft: lengths of every kind (powers of 2, 3, 5, mixed, primes
through Bluestein, long single lines), n/s/axes/norm, dtypes, layouts, errors, gradients
(the transforms are linear, so central differences are exact) and vmap."""

import mlx.core as mx
import numpy as np
import pytest
from conftest import on_cpu_if_float64

F = mx.fft


def npa(x):
    return np.array(x)


def close(got, exp, tol=2e-5):
    """Max error relative to the largest reference magnitude."""
    got = npa(got)
    exp = np.asarray(exp)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    if exp.size == 0:
        return
    err = np.max(np.abs(got - exp)) / max(np.max(np.abs(exp)), 1e-30)
    assert err < tol, err


def crandn(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
        np.complex64
    )


LENGTHS = [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    11,
    12,
    13,
    16,
    17,
    25,
    30,
    49,
    64,
    97,
    100,
    125,
    128,
    143,
    243,
    256,
    257,
    360,
    500,
    1000,
    1024,
    2310,
    4096,
    4097,
    7429,
    10007,
    2**16,
]


@pytest.mark.parametrize("n", LENGTHS)
def test_fft_lengths(rng, n):
    x = crandn(rng, n)
    close(F.fft(mx.array(x)), np.fft.fft(x))
    close(F.ifft(mx.array(x)), np.fft.ifft(x))
    close(F.rfft(mx.array(x.real)), np.fft.rfft(x.real))
    h = x[: n // 2 + 1]
    close(F.irfft(mx.array(h), n=n), np.fft.irfft(h, n=n))


@pytest.mark.parametrize("n", [2**20, 3**3 * 5**5])
def test_long_lines(rng, n):
    x = crandn(rng, n)
    close(F.fft(mx.array(x)), np.fft.fft(x), 5e-5)
    close(F.rfft(mx.array(x.real)), np.fft.rfft(x.real), 5e-5)
    close(
        F.irfft(mx.array(x[: n // 2 + 1]), n=n),
        np.fft.irfft(x[: n // 2 + 1], n=n),
        5e-5,
    )


def test_long_prime_line(rng):
    n = 100003  # Bluestein through a four-step transform
    x = crandn(rng, n)
    close(F.fft(mx.array(x)), np.fft.fft(x), 5e-5)
    close(F.ifft(mx.array(x)), np.fft.ifft(x), 5e-5)


@pytest.mark.parametrize(
    "shape,axis",
    [
        ((40, 30), 0),
        ((40, 30), 1),
        ((3, 100, 7), 1),
        ((5, 3, 1000), -1),
        ((2000, 3), 0),
        ((33, 17), -1),
        ((20, 4097), -1),
        ((2, 8), 0),
    ],
)
def test_batched_axes(rng, shape, axis):
    x = crandn(rng, shape)
    close(F.fft(mx.array(x), axis=axis), np.fft.fft(x, axis=axis))
    close(F.ifft(mx.array(x), axis=axis), np.fft.ifft(x, axis=axis))
    close(F.rfft(mx.array(x.real), axis=axis), np.fft.rfft(x.real, axis=axis))
    close(F.irfft(mx.array(x), axis=axis), np.fft.irfft(x, axis=axis))


def test_layouts(rng):
    x = crandn(rng, (16, 12))
    close(F.fft(mx.array(x).T), np.fft.fft(x.T))  # non-contiguous
    close(F.fft(mx.array(x)[::2, 1::3]), np.fft.fft(x[::2, 1::3]))
    b = mx.broadcast_to(mx.array(x[0]), (5, 12))
    close(F.fft(b), np.fft.fft(np.broadcast_to(x[0], (5, 12))))
    close(F.rfft(mx.array(x.real).T, axis=0), np.fft.rfft(x.real.T, axis=0))
    assert F.fft(mx.zeros((0, 4))).shape == (0, 4)
    assert F.rfft(mx.zeros((3, 0, 8))).shape == (3, 0, 5)
    close(F.fft([1.0, 2.0, 3.0]), np.fft.fft([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("n", [1, 3, 8, 12, 17])
def test_n_crop_and_pad(rng, n):
    x = crandn(rng, (3, 10))
    close(F.fft(mx.array(x), n=n), np.fft.fft(x, n=n))
    close(F.ifft(mx.array(x), n=n, axis=0), np.fft.ifft(x, n=n, axis=0))
    close(F.rfft(mx.array(x.real), n=n), np.fft.rfft(x.real, n=n))
    close(F.irfft(mx.array(x), n=n), np.fft.irfft(x, n=n))
    close(F.irfft(mx.array(x), n=n, axis=0), np.fft.irfft(x, n=n, axis=0))


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_norms(rng, norm):
    x = crandn(rng, (6, 10))
    for name in ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn"]:
        close(
            getattr(F, name)(mx.array(x), norm=norm),
            getattr(np.fft, name)(x, norm=norm),
        )
    for name in ["rfft", "rfft2", "rfftn"]:
        close(
            getattr(F, name)(mx.array(x.real), norm=norm),
            getattr(np.fft, name)(x.real, norm=norm),
        )
    for name in ["irfft", "irfft2", "irfftn"]:
        close(
            getattr(F, name)(mx.array(x), norm=norm),
            getattr(np.fft, name)(x, norm=norm),
        )


def test_nd(rng):
    x = rng.standard_normal((6, 10, 9)).astype(np.float32)
    c = crandn(rng, (6, 10, 9))
    close(F.fftn(mx.array(c)), np.fft.fftn(c))
    close(F.ifftn(mx.array(c)), np.fft.ifftn(c))
    close(F.fft2(mx.array(c)), np.fft.fft2(c))
    close(F.ifft2(mx.array(c), axes=(0, 2)), np.fft.ifft2(c, axes=(0, 2)))
    close(F.fft2(mx.array(c), s=(4, 12)), np.fft.fft2(c, s=(4, 12)))
    close(
        F.fftn(mx.array(c), s=(3, 7), axes=(2, 0)),
        np.fft.fftn(c, s=(3, 7), axes=(2, 0)),
    )
    close(F.fftn(mx.array(c), axes=[1]), np.fft.fftn(c, axes=[1]))
    close(F.rfftn(mx.array(x)), np.fft.rfftn(x))
    close(F.rfft2(mx.array(x)), np.fft.rfft2(x))
    close(
        F.rfftn(mx.array(x), s=(5, 8), axes=(2, 1)),
        np.fft.rfftn(x, s=(5, 8), axes=(2, 1)),
    )
    close(F.irfftn(mx.array(c)), np.fft.irfftn(c))
    close(F.irfft2(mx.array(c)), np.fft.irfft2(c))
    close(
        F.irfftn(mx.array(c), s=(4, 7), axes=(0, 1)),
        np.fft.irfftn(c, s=(4, 7), axes=(0, 1)),
    )
    spec = np.fft.rfftn(x)
    close(F.irfftn(mx.array(spec), s=x.shape, axes=(0, 1, 2)), x, 1e-5)
    # axes=() leaves the (complex) input as is.
    close(F.fftn(mx.array(c), axes=[]), c)


@pytest.mark.parametrize(
    "dtype",
    [mx.float16, mx.bfloat16, mx.float32, mx.float64, mx.int32, mx.uint8, mx.bool_],
)
def test_input_dtypes(dtype):
    with on_cpu_if_float64(dtype):
        x = mx.array([1, 0, 3, 1, 2, 0]).astype(dtype)
        ref = np.array(x.astype(mx.float32))
        y = F.fft(x)
        assert y.dtype == mx.complex64
        close(y, np.fft.fft(ref))
        r = F.rfft(x)
        assert r.dtype == mx.complex64
        close(r, np.fft.rfft(ref))
        back = F.irfft(r, n=6)
        assert back.dtype == mx.float32
        close(back, ref, 1e-5)


def test_complex_input_to_rfft_uses_real_part(rng):
    x = crandn(rng, 8)
    close(F.rfft(mx.array(x)), np.fft.rfft(x.real))
    close(
        F.irfft(mx.array(x.real)), np.fft.irfft(x.real)
    )  # real input to irfft is promoted


def test_irfft_ignores_imag_of_dc_and_nyquist(rng):
    h = crandn(rng, 5)
    close(F.irfft(mx.array(h)), np.fft.irfft(h))  # n = 8: bins 0 and 4
    close(F.irfft(mx.array(h), n=9), np.fft.irfft(h, n=9))


def test_shift_and_freq():
    x = np.arange(30).reshape(5, 6)
    for fn in ["fftshift", "ifftshift"]:
        f, g = getattr(F, fn), getattr(np.fft, fn)
        np.testing.assert_array_equal(npa(f(mx.array(x))), g(x))
        np.testing.assert_array_equal(npa(f(mx.array(x), axes=1)), g(x, axes=1))
        np.testing.assert_array_equal(npa(f(mx.array(x), axes=[0])), g(x, axes=[0]))
        np.testing.assert_array_equal(
            npa(f(mx.array(x), axes=(-1, 0))), g(x, axes=(-1, 0))
        )
        np.testing.assert_array_equal(npa(f(mx.arange(7))), g(np.arange(7)))
    assert F.fftshift(mx.array(3)).item() == 3
    for n in [1, 2, 7, 8]:
        for d in [1.0, 0.25]:
            f = F.fftfreq(n, d)
            assert f.dtype == mx.float32
            close(f, np.fft.fftfreq(n, d), 1e-6)
            close(F.rfftfreq(n, d=d), np.fft.rfftfreq(n, d), 1e-6)


def test_errors():
    x = mx.ones((4, 6))
    with pytest.raises(ValueError):
        F.fft(x, n=0)
    with pytest.raises(ValueError):
        F.rfft(x, n=-2)
    with pytest.raises(ValueError):
        F.fft(mx.zeros((0,)))  # n = 0
    with pytest.raises(ValueError):
        F.irfft(mx.ones((1,)))  # default n = 2 * (1 - 1) = 0
    with pytest.raises(IndexError):
        F.fft(x, axis=2)
    with pytest.raises(IndexError):
        F.fft(mx.array(1.0))
    with pytest.raises(IndexError):
        F.fft2(mx.ones((3,)))
    with pytest.raises(ValueError):
        F.fftn(x, axes=(0, 0))
    with pytest.raises(ValueError):
        F.fftn(x, axes=(0, -2))
    with pytest.raises(ValueError):
        F.fft2(x, s=(2, 3, 4))
    with pytest.raises(ValueError):
        F.fftn(x, s=(2, 3))  # s needs axes
    with pytest.raises(ValueError):
        F.rfftn(x, axes=[])
    with pytest.raises(ValueError):
        F.fft(x, norm="foo")
    with pytest.raises(TypeError):
        F.fft(x, norm=None)
    with pytest.raises(ValueError):
        F.fftfreq(0)
    with pytest.raises(ValueError):
        F.rfftfreq(-1)
    with pytest.raises(ValueError):
        F.fftfreq(4, d=0)
    with pytest.raises(IndexError):
        F.fftshift(mx.arange(9), axes=2)


# ---------------------------------------------------------------- gradients


def check_linear_grads(f, x, rng, tol=2e-4):
    """vjp and jvp of a linear f against an exact difference, with MLX's complex convention
    (the gradient of a real loss is dL/dRe + i dL/dIm)."""
    y = f(x)
    cr = mx.array(rng.standard_normal(y.shape).astype(np.float32))
    ci = mx.array(rng.standard_normal(y.shape).astype(np.float32))

    def loss(z):
        o = f(z)
        if mx.issubdtype(o.dtype, mx.complexfloating):
            return (mx.real(o) * cr + mx.imag(o) * ci).sum()
        return (o * cr).sum()

    if mx.issubdtype(x.dtype, mx.complexfloating):
        t = mx.array(crandn(rng, x.shape))
    else:
        t = mx.array(rng.standard_normal(x.shape).astype(np.float32))
    g = mx.grad(loss)(x)
    assert g.dtype == x.dtype and g.shape == x.shape
    vjp_dir = (
        float(mx.real(mx.conj(g) * t).sum())
        if mx.issubdtype(g.dtype, mx.complexfloating)
        else float((g * t).sum())
    )
    fd = (float(loss(x + t)) - float(loss(x - t))) / 2  # exact for a linear f
    scale = max(1.0, abs(fd))
    assert abs(vjp_dir - fd) < tol * scale, (vjp_dir, fd)
    _, (jt,) = mx.jvp(lambda z: [f(z)], [x], [t])
    if mx.issubdtype(jt.dtype, mx.complexfloating):
        jvp_dir = float((mx.real(jt) * cr + mx.imag(jt) * ci).sum())
    else:
        jvp_dir = float((jt * cr).sum())
    assert abs(jvp_dir - fd) < tol * scale, (jvp_dir, fd)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_grads_c2c(rng, norm):
    x = mx.array(crandn(rng, (3, 12)))
    check_linear_grads(lambda z: F.fft(z, norm=norm), x, rng)
    check_linear_grads(lambda z: F.ifft(z, norm=norm), x, rng)
    check_linear_grads(lambda z: F.fft(z, n=7, norm=norm), x, rng)
    check_linear_grads(lambda z: F.ifft(z, n=16, axis=0, norm=norm), x, rng)
    check_linear_grads(lambda z: F.fftn(z, norm=norm), x, rng)
    check_linear_grads(lambda z: F.ifft2(z, s=(5, 9), norm=norm), x, rng)
    check_linear_grads(
        lambda z: F.fft(z, norm=norm),
        mx.array(rng.standard_normal((3, 11)).astype(np.float32)),
        rng,
    )


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("n", [8, 9])
def test_grads_real(rng, norm, n):
    xr = mx.array(rng.standard_normal((3, n)).astype(np.float32))
    xc = mx.array(crandn(rng, (3, n // 2 + 1)))
    check_linear_grads(lambda z: F.rfft(z, norm=norm), xr, rng)
    check_linear_grads(lambda z: F.irfft(z, n=n, norm=norm), xc, rng)
    check_linear_grads(lambda z: F.rfftn(z, norm=norm), xr, rng)
    check_linear_grads(lambda z: F.irfftn(z, s=(4, n), axes=(0, 1), norm=norm), xc, rng)
    check_linear_grads(lambda z: F.rfft(z, n=n + 3, norm=norm), xr, rng)
    check_linear_grads(lambda z: F.irfft(z, n=5, norm=norm), xc, rng)


def test_grad_matches_mlx_convention(rng):
    # vjp of fft is the conjugate transpose: n * ifft(g).
    x = mx.array(crandn(rng, 6))
    g = mx.array(crandn(rng, 6))
    _, (v,) = mx.vjp(lambda z: [F.fft(z)], [x], [g])
    close(v, 6 * np.fft.ifft(npa(g)))
    _, (v,) = mx.vjp(
        lambda z: [F.irfft(z)],
        [mx.array(crandn(rng, 5))],
        [mx.array(np.arange(8.0, dtype=np.float32))],
    )
    ref = np.fft.rfft(np.arange(8.0)) / 8 * np.array([1, 2, 2, 2, 1])
    close(v, ref)


def test_grad_composite(rng):
    # A spectral filter: irfft(rfft(x) * h), differentiated through both transforms.
    h = mx.array(rng.standard_normal(9).astype(np.float32))
    check_linear_grads(
        lambda z: F.irfft(F.rfft(z) * h, n=16),
        mx.array(rng.standard_normal(16).astype(np.float32)),
        rng,
    )


# ---------------------------------------------------------------- vmap


def test_vmap(rng):
    x = mx.array(crandn(rng, (4, 6, 10)))
    xr = mx.real(x)

    def loop(f, a, axis=0):
        return mx.stack([f(mx.take(a, i, axis=axis)) for i in range(a.shape[axis])])

    for f in [
        F.fft,
        F.ifft,
        lambda z: F.fft(z, axis=0),
        F.fft2,
        F.fftn,
        lambda z: F.irfft(z, n=9),
    ]:
        close(mx.vmap(f)(x), loop(f, x))
        close(mx.vmap(f, in_axes=2)(x), loop(f, x, axis=2))
    for f in [F.rfft, F.rfft2, lambda z: F.rfft(z, axis=0)]:
        close(mx.vmap(f)(xr), loop(f, xr))
        close(mx.vmap(f, in_axes=1)(xr), loop(f, xr, axis=1))
