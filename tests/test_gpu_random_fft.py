"""GPU kernels of mx.random (RandomBits, RandomMap), mx.fft (FFT through cuFFT) and
mx.hadamard_transform against the CPU and NumPy.

RandomBits must give the same bits on every device; the samplers built on it match the CPU
exactly where only IEEE arithmetic is involved and to float rounding where a log is (the
GPU's log may differ from libm's logf by an ulp in rare cases). Each test also checks, through
mx.cuda._host_fallbacks(), that the primitives under test did not run on the host.
Skipped where no CUDA GPU is present.
"""
import numpy as np
import pytest

import mlx.core as mx
from conftest import NoHostRuns

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

RANDOM_PRIMS = ("RandomBits", "RandomErfInv", "RandomGumbel")
FFT_PRIMS = ("FFT",)
HADAMARD_PRIMS = ("Hadamard",)


def np32(a):
    return np.array(a.astype(mx.float32)) if a.dtype in (mx.float16, mx.bfloat16) else np.array(a)


def close_floats(g, c, rtol, atol, min_exact=0.99):
    """Allclose, and most elements bit-equal (the maps differ from the CPU only where a log
    rounds differently)."""
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    G, C = np32(g), np32(c)
    np.testing.assert_allclose(G, C, rtol=rtol, atol=atol, equal_nan=True)
    if G.size >= 100:
        same = np.mean((G == C) | (np.isnan(G) & np.isnan(C)))
        assert same >= min_exact, same


KEYS = [0, 1, 7, 2**32 + 5, 2**63 + 12345]
SHAPES = [(), (0,), (1,), (3,), (5, 7), (1001,), (33, 65), (2, 0, 3), (70000,)]
FLOATS = [mx.float32, mx.float16, mx.bfloat16]


# ---------------------------------------------------------------- random bits
@pytest.mark.parametrize("seed", KEYS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_bits_exact(seed, shape, width):
    k = mx.random.key(seed)
    with NoHostRuns(("RandomBits",)):
        g = mx.random.bits(shape, width=width, key=k, stream=mx.gpu)
        mx.eval(g)
    c = mx.random.bits(shape, width=width, key=k, stream=mx.cpu)
    assert g.dtype == c.dtype and g.shape == c.shape
    assert np.array_equal(np.array(g), np.array(c))


def test_bits_many_keys_and_views():
    keys = mx.random.split(mx.random.key(3), 7, stream=mx.cpu)
    with NoHostRuns(("RandomBits",)):
        # split itself is RandomBits; several keys at once through vmap.
        g_split = mx.random.split(mx.random.key(3), 7, stream=mx.gpu)
        with mx.stream(mx.gpu):
            g = mx.vmap(lambda k: mx.random.bits((5, 3), width=1, key=k))(keys)
            g2 = mx.vmap(lambda k: mx.random.bits((9,), key=k), in_axes=1)(keys.T)
        mx.eval(g_split, g, g2)
    assert np.array_equal(np.array(g_split), np.array(keys))
    with mx.stream(mx.cpu):
        c = mx.vmap(lambda k: mx.random.bits((5, 3), width=1, key=k))(keys)
        c2 = mx.vmap(lambda k: mx.random.bits((9,), key=k), in_axes=1)(keys.T)
    assert np.array_equal(np.array(g), np.array(c))
    assert np.array_equal(np.array(g2), np.array(c2))
    # A strided (non-contiguous) key.
    k = keys.T[:, 2]
    g = mx.random.bits((17,), key=k, stream=mx.gpu)
    assert np.array_equal(np.array(g), np.array(mx.random.bits((17,), key=keys[2], stream=mx.cpu)))


def test_bits_large():
    k = mx.random.key(99)
    n = (1 << 22) + 3
    with NoHostRuns(("RandomBits",)):
        g = mx.random.bits((n,), key=k, stream=mx.gpu)
        mx.eval(g)
    assert np.array_equal(np.array(g), np.array(mx.random.bits((n,), key=k, stream=mx.cpu)))


# ---------------------------------------------------------------- samplers
def both(f, **kw):
    with NoHostRuns(RANDOM_PRIMS):
        g = f(stream=mx.gpu, **kw)
        mx.eval(g)
    c = f(stream=mx.cpu, **kw)
    return g, c


@pytest.mark.parametrize("seed", KEYS[:3])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (33, 65), (70001,)])
@pytest.mark.parametrize("dt", FLOATS)
def test_uniform_exact(seed, shape, dt):
    k = mx.random.key(seed)
    g, c = both(lambda **kw: mx.random.uniform(-2.0, 3.0, shape, dt, key=k, **kw))
    assert g.dtype == c.dtype and np.array_equal(np32(g), np32(c))


@pytest.mark.parametrize("seed", KEYS[:3])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (33, 65), (70001,)])
@pytest.mark.parametrize("dt", FLOATS)
def test_normal(seed, shape, dt):
    k = mx.random.key(seed)
    tol = {mx.float32: 2e-6, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}[dt]
    g, c = both(lambda **kw: mx.random.normal(shape, dt, loc=0.5, scale=2.0, key=k, **kw))
    close_floats(g, c, rtol=tol, atol=tol)


def test_normal_complex():
    k = mx.random.key(5)
    g, c = both(lambda **kw: mx.random.normal((9, 4), mx.complex64, key=k, **kw))
    np.testing.assert_allclose(np.array(g), np.array(c), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("seed", KEYS[:3])
@pytest.mark.parametrize("dt", [mx.int32, mx.uint8, mx.int64, mx.int16])
def test_randint_exact(seed, dt):
    k = mx.random.key(seed)
    for shape in [(), (0,), (13,), (40, 41)]:
        g, c = both(lambda **kw: mx.random.randint(0, 100, shape, dt, key=k, **kw))
        assert g.dtype == c.dtype and np.array_equal(np.array(g), np.array(c))
    g, c = both(lambda **kw: mx.random.randint(-1000, 2**20, (5000,), mx.int32, key=k, **kw))
    assert np.array_equal(np.array(g), np.array(c))


@pytest.mark.parametrize("seed", KEYS[:3])
def test_bernoulli_exact(seed):
    k = mx.random.key(seed)
    for p, shape in [(0.5, (1001,)), (0.1, (3, 5)), (0.9, ()), (0.3, (0,))]:
        g, c = both(lambda **kw: mx.random.bernoulli(p, shape, key=k, **kw))
        assert np.array_equal(np.array(g), np.array(c))
    p = mx.array(np.linspace(0, 1, 37).astype(np.float32))
    g, c = both(lambda **kw: mx.random.bernoulli(p, key=k, **kw))
    assert np.array_equal(np.array(g), np.array(c))


@pytest.mark.parametrize("seed", KEYS[:3])
@pytest.mark.parametrize("dt", FLOATS)
def test_gumbel(seed, dt):
    k = mx.random.key(seed)
    for shape in [(), (0,), (5, 7), (20001,)]:
        g, c = both(lambda **kw: mx.random.gumbel(shape, dt, key=k, **kw))
        # Rounded to dt after each log: one ulp of the inner log moves the result by about
        # one ulp of dt (relative to the inner value).
        tol = {mx.float32: 1e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2}[dt]
        close_floats(g, c, rtol=tol, atol=tol, min_exact=0.98)  # the GPU's log differs in the last bit now and then


@pytest.mark.parametrize("seed", KEYS[:3])
@pytest.mark.parametrize("dt", FLOATS)
def test_laplace(seed, dt):
    k = mx.random.key(seed)
    tol = {mx.float32: 1e-5, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}[dt]
    for shape in [(), (0,), (5, 7), (20001,)]:
        g, c = both(lambda **kw: mx.random.laplace(shape, dt, loc=1.0, scale=0.5, key=k, **kw))
        np.testing.assert_allclose(np32(g), np32(c), rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", KEYS[:3])
def test_truncated_normal(seed):
    k = mx.random.key(seed)
    for lo, hi, shape in [(-1.0, 1.0, (1000,)), (-3.0, 0.5, (7, 9)), (0.0, 2.0, ()), (-2.0, 2.0, (0,))]:
        g, c = both(lambda **kw: mx.random.truncated_normal(lo, hi, shape, key=k, **kw))
        assert g.shape == c.shape
        np.testing.assert_allclose(np.array(g), np.array(c), rtol=1e-4, atol=1e-5)
        if g.size:
            assert np.all(np.array(g) >= lo) and np.all(np.array(g) <= hi)


@pytest.mark.parametrize("seed", KEYS[:3])
def test_categorical(seed):
    k = mx.random.key(seed)
    logits = mx.array(np.random.default_rng(seed % 1000).normal(size=(6, 10)).astype(np.float32))
    cases = [
        lambda **kw: mx.random.categorical(logits, key=k, **kw),
        lambda **kw: mx.random.categorical(logits, num_samples=50, key=k, **kw),
        lambda **kw: mx.random.categorical(logits, axis=0, key=k, **kw),
        lambda **kw: mx.random.categorical(logits[2], shape=(300,), key=k, **kw),
    ]
    for f in cases:
        g, c = both(f)
        G, C = np.array(g), np.array(c)
        assert G.shape == C.shape and G.dtype == C.dtype
        # A sample right at a class boundary may fall the other way after one ulp.
        assert np.mean(G == C) >= 0.99


@pytest.mark.parametrize("seed", KEYS[:3])
def test_permutation(seed):
    k = mx.random.key(seed)
    for n in [0, 1, 10, 1001]:
        g, c = both(lambda **kw: mx.random.permutation(n, key=k, **kw))
        assert np.array_equal(np.array(g), np.array(c))
        assert sorted(np.array(g).tolist()) == list(range(n))
    x = mx.arange(24).reshape(4, 6)
    g, c = both(lambda **kw: mx.random.permutation(x, axis=1, key=k, **kw))
    assert np.array_equal(np.array(g), np.array(c))


def test_random_map_direct():
    """The erfinv map on a transposed (non-contiguous) result of normal."""
    for dt in FLOATS:
        k = mx.random.key(11)
        g, c = both(lambda **kw: mx.random.normal((301, 300), dt, key=k, **kw).T)
        tol = {mx.float32: 2e-6, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}[dt]
        close_floats(g, c, rtol=tol, atol=tol)


def test_global_state_on_gpu():
    mx.random.seed(1234)
    with NoHostRuns(RANDOM_PRIMS):
        a = mx.random.normal((100,), stream=mx.gpu)
        mx.eval(a)
    mx.random.seed(1234)
    b = mx.random.normal((100,), stream=mx.cpu)
    close_floats(a, b, rtol=2e-6, atol=2e-6)


# ---------------------------------------------------------------- fft
rng = np.random.default_rng(0)


def crand(*shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def rrand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def check_fft(mx_fn, np_fn, x, tol=None, **kw):
    a = mx.array(x)
    with NoHostRuns(FFT_PRIMS):
        g = mx_fn(a, stream=mx.gpu, **kw)
        mx.eval(g)
    ref = np_fn(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64), **kw)
    G = np.array(g)
    scale = max(1e-3, float(np.max(np.abs(ref)))) if ref.size else 1.0
    t = tol if tol is not None else 2e-5 * np.log2(max(2, x.size))
    assert G.shape == ref.shape, (G.shape, ref.shape)
    np.testing.assert_allclose(G, ref, rtol=0, atol=t * scale)
    # And against the CPU kernel.
    c = np.array(mx_fn(a, stream=mx.cpu, **kw))
    np.testing.assert_allclose(G, c, rtol=0, atol=t * scale)


ONE_D = ["fft", "ifft"]
NORMS = [None, "backward", "ortho", "forward"]
LENGTHS = [1, 2, 3, 5, 8, 12, 17, 64, 97, 255, 256, 1000, 1024, 4099, 10007, 1 << 16]


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("n", LENGTHS)
def test_fft_1d_lengths(name, n):
    x = crand(3, n)
    check_fft(getattr(mx.fft, name), getattr(np.fft, name), x)


@pytest.mark.parametrize("n", LENGTHS)
def test_rfft_irfft_lengths(n):
    x = rrand(4, n)
    check_fft(mx.fft.rfft, np.fft.rfft, x)
    y = crand(4, n // 2 + 1)
    check_fft(mx.fft.irfft, np.fft.irfft, y, n=n)


@pytest.mark.parametrize("norm", NORMS)
def test_fft_n_axis_norm(norm):
    kw = {} if norm is None else {"norm": norm}
    x = crand(6, 10, 7)
    for name in ONE_D:
        f, g = getattr(mx.fft, name), getattr(np.fft, name)
        for axis in (0, 1, 2, -1, -2):
            check_fft(f, g, x, axis=axis, **kw)
            check_fft(f, g, x, n=5, axis=axis, **kw)    # cropped
            check_fft(f, g, x, n=13, axis=axis, **kw)   # zero-padded
    xr = rrand(6, 10, 7)
    for axis in (0, 1, 2):
        check_fft(mx.fft.rfft, np.fft.rfft, xr, axis=axis, **kw)
        check_fft(mx.fft.rfft, np.fft.rfft, xr, n=6, axis=axis, **kw)
        check_fft(mx.fft.rfft, np.fft.rfft, xr, n=15, axis=axis, **kw)
        for n in (4, 7, 12, 19):
            check_fft(mx.fft.irfft, np.fft.irfft, x, n=n, axis=axis, **kw)
        check_fft(mx.fft.irfft, np.fft.irfft, x, axis=axis, **kw)


@pytest.mark.parametrize("norm", NORMS)
def test_fft_nd(norm):
    kw = {} if norm is None else {"norm": norm}
    x = crand(4, 6, 10, 9)
    xr = rrand(4, 6, 10, 9)
    for name in ["fft2", "ifft2", "fftn", "ifftn"]:
        f, g = getattr(mx.fft, name), getattr(np.fft, name)
        check_fft(f, g, x, **kw)
        check_fft(f, g, x, axes=(0, 2), **kw)
        check_fft(f, g, x, axes=(3, 1), **kw)
        check_fft(f, g, x, s=(5, 12), axes=(1, 2), **kw)
    check_fft(mx.fft.fftn, np.fft.fftn, x, axes=(0, 1, 2, 3), **kw)
    check_fft(mx.fft.ifftn, np.fft.ifftn, x, s=(3, 7, 8), axes=(0, 2, 3), **kw)
    for name in ["rfft2", "rfftn"]:
        f, g = getattr(mx.fft, name), getattr(np.fft, name)
        check_fft(f, g, xr, **kw)
        check_fft(f, g, xr, axes=(0, 2), **kw)
        check_fft(f, g, xr, axes=(2, 1), **kw)
        check_fft(f, g, xr, s=(5, 11), axes=(1, 2), **kw)
    check_fft(mx.fft.rfftn, np.fft.rfftn, xr, axes=(0, 1, 2, 3), **kw)
    for name in ["irfft2", "irfftn"]:
        f, g = getattr(mx.fft, name), getattr(np.fft, name)
        check_fft(f, g, x, **kw)
        check_fft(f, g, x, axes=(0, 2), **kw)
        check_fft(f, g, x, axes=(3, 1), **kw)
        check_fft(f, g, x, s=(5, 11), axes=(1, 2), **kw)
        check_fft(f, g, x, s=(6, 16), axes=(2, 3), **kw)
    check_fft(mx.fft.irfftn, np.fft.irfftn, x, s=(3, 7, 8), axes=(0, 2, 3), **kw)


def test_fft_large_2d_and_batched():
    x = crand(512, 512)
    check_fft(mx.fft.fft2, np.fft.fft2, x)
    check_fft(mx.fft.fft, np.fft.fft, x, axis=0)
    xr = rrand(64, 40, 33)
    check_fft(mx.fft.rfft2, np.fft.rfft2, xr)
    check_fft(mx.fft.rfftn, np.fft.rfftn, xr)
    y = crand(64, 40, 17)
    check_fft(mx.fft.irfftn, np.fft.irfftn, y)
    check_fft(mx.fft.irfft, np.fft.irfft, y, axis=1)


def test_fft_non_contiguous_inputs():
    x = crand(12, 20)
    for view in (lambda a: a.T, lambda a: a[::2, 1::3], lambda a: a[3:, :7], lambda a: a[::-1]):
        xv = view(x)
        a = view(mx.array(x))
        with NoHostRuns(FFT_PRIMS):
            for name in ["fft", "ifft", "fft2", "ifftn", "irfft"]:
                g = getattr(mx.fft, name)(a, stream=mx.gpu)
                mx.eval(g)
                ref = getattr(np.fft, name)(xv.astype(np.complex128))
                np.testing.assert_allclose(np.array(g), ref, atol=1e-4 * max(1, np.abs(ref).max()))
    xr = rrand(12, 21)
    for view in (lambda a: a.T, lambda a: a[::2, 1::3], lambda a: a[1:, 1:]):
        xv = view(xr)
        a = view(mx.array(xr))
        with NoHostRuns(FFT_PRIMS):
            for name in ["rfft", "rfft2", "rfftn"]:
                g = getattr(mx.fft, name)(a, stream=mx.gpu)
                mx.eval(g)
                ref = getattr(np.fft, name)(xv.astype(np.float64))
                np.testing.assert_allclose(np.array(g), ref, atol=1e-4 * max(1, np.abs(ref).max()))
    # Broadcast input.
    b = mx.broadcast_to(mx.array(crand(1, 16)), (5, 16))
    g = mx.fft.fft(b, stream=mx.gpu)
    np.testing.assert_allclose(np.array(g), np.fft.fft(np.array(b)), atol=1e-4)


def test_fft_dtypes_and_empty():
    # Real/integer/half inputs are promoted by the op (complex64 / float32) before the kernel.
    for dt in (mx.float32, mx.float16, mx.bfloat16, mx.int32):
        x = mx.arange(10).astype(dt)
        with NoHostRuns(FFT_PRIMS):
            g = mx.fft.fft(x, stream=mx.gpu)
            r = mx.fft.rfft(x, stream=mx.gpu)
            mx.eval(g, r)
        np.testing.assert_allclose(np.array(g), np.fft.fft(np.arange(10)), atol=1e-4)
        np.testing.assert_allclose(np.array(r), np.fft.rfft(np.arange(10)), atol=1e-4)
    e = mx.zeros((0, 8), dtype=mx.complex64)
    for name in ["fft", "ifft", "irfft"]:
        g = getattr(mx.fft, name)(e, stream=mx.gpu)
        c = getattr(mx.fft, name)(e, stream=mx.cpu)
        assert g.shape == c.shape and g.dtype == c.dtype
    g = mx.fft.rfft(mx.zeros((3, 0, 8)), stream=mx.gpu)
    assert g.shape == (3, 0, 5)


def test_irfft_ignores_imag_of_edge_bins():
    x = crand(5, 9)  # imaginary parts at bin 0 and bin 8 (n = 16) are ignored
    for n in (16, 17):
        g = np.array(mx.fft.irfft(mx.array(x), n=n, stream=mx.gpu))
        c = np.array(mx.fft.irfft(mx.array(x), n=n, stream=mx.cpu))
        np.testing.assert_allclose(g, np.fft.irfft(x, n=n), atol=1e-5)
        np.testing.assert_allclose(g, c, atol=1e-5)


def test_fft_input_is_not_modified():
    x = crand(4, 9)
    a = mx.array(x)
    mx.eval(mx.fft.irfft2(a, stream=mx.gpu), mx.fft.irfft(a, stream=mx.gpu), mx.fft.ifft2(a, stream=mx.gpu))
    assert np.array_equal(np.array(a), x)
    xr = rrand(4, 10)
    b = mx.array(xr)
    mx.eval(mx.fft.rfft(b, stream=mx.gpu), mx.fft.rfft2(b, stream=mx.gpu))
    assert np.array_equal(np.array(b), xr)


def _grads(f, x, device):
    with mx.stream(device):
        return np.array(mx.grad(f)(x))


def test_fft_gradients():
    x = mx.array(crand(6, 8))
    xr = mx.array(rrand(6, 8))
    w = mx.array(crand(6, 8))
    wr = mx.array(rrand(6, 5))
    cases = [
        (lambda z: mx.sum(mx.real(mx.fft.fft(z) * w)), x),
        (lambda z: mx.sum(mx.imag(mx.fft.ifft(z, norm="ortho") * w)), x),
        (lambda z: mx.sum(mx.real(mx.fft.fft2(z)) ** 2), x),
        (lambda z: mx.sum(mx.abs(mx.fft.rfft(z)[:, :5]) * wr), xr),
        (lambda z: mx.sum(mx.fft.irfft(mx.fft.rfft(z), n=8) * xr), xr),
        (lambda z: mx.sum(mx.fft.irfft(z, n=14) ** 2), x),
        (lambda z: mx.sum(mx.real(mx.fft.rfftn(z)) * 0.5), xr),
    ]
    for f, v in cases:
        with NoHostRuns(FFT_PRIMS):
            g = _grads(f, v, mx.gpu)
        c = _grads(f, v, mx.cpu)
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(c).max()))


# ---------------------------------------------------------------- hadamard
@pytest.mark.parametrize("n", [1, 2, 4, 8, 12, 20, 28, 64, 96, 160, 224, 1024, 3 * 1024, 7 * 512, 1 << 13, 1 << 14])
@pytest.mark.parametrize("dt", FLOATS)
def test_hadamard(n, dt):
    x = mx.array(rng.standard_normal((5, n)).astype(np.float32)).astype(dt)
    with NoHostRuns(HADAMARD_PRIMS):
        g = mx.hadamard_transform(x, stream=mx.gpu)
        g2 = mx.hadamard_transform(x, scale=0.25, stream=mx.gpu)
        mx.eval(g, g2)
    c = mx.hadamard_transform(x, stream=mx.cpu)
    c2 = mx.hadamard_transform(x, scale=0.25, stream=mx.cpu)
    assert g.dtype == c.dtype == dt
    # The same float operations in the same order: bit-equal.
    assert np.array_equal(np32(g), np32(c))
    assert np.array_equal(np32(g2), np32(c2))


def test_hadamard_layouts_and_grad():
    x = mx.array(rng.standard_normal((3, 16, 20)).astype(np.float32))
    with NoHostRuns(HADAMARD_PRIMS):
        for v in (x, x[:, ::2, :], mx.swapaxes(x, 0, 1), x[0], mx.zeros((0, 12)), mx.array([2.0])):
            g = mx.hadamard_transform(v, stream=mx.gpu)
            mx.eval(g)
            c = mx.hadamard_transform(v, stream=mx.cpu)
            assert g.shape == c.shape and np.array_equal(np.array(g), np.array(c))
        gi = mx.hadamard_transform(mx.arange(32).reshape(2, 16), stream=mx.gpu)  # ints become float32
        mx.eval(gi)
    assert np.array_equal(np.array(gi), np.array(mx.hadamard_transform(mx.arange(32).reshape(2, 16), stream=mx.cpu)))
    # Many rows (one block each).
    y = mx.array(rng.standard_normal((4097, 28)).astype(np.float32))
    assert np.array_equal(np.array(mx.hadamard_transform(y, stream=mx.gpu)),
                          np.array(mx.hadamard_transform(y, stream=mx.cpu)))
    # Gradient (the transposed transform).
    w = mx.array(rng.standard_normal((3, 16, 20)).astype(np.float32))
    f = lambda z: mx.sum(mx.hadamard_transform(z) * w)
    with NoHostRuns(HADAMARD_PRIMS):
        g = _grads(f, x, mx.gpu)
    c = _grads(f, x, mx.cpu)
    np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-6)
