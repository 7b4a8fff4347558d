"""Gradients of mx.fast.layer_norm / rms_norm on the GPU (fused NormVJP kernel) against the CPU."""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)
TOL = {mx.float32: 1e-4, mx.float16: 2e-2, mx.bfloat16: 8e-2}


def grads(kind, x, w, b, dev):
    cot = mx.array(np.random.default_rng(1).standard_normal(x.shape).astype(np.float32))
    def f(x, w, b):
        with mx.stream(dev):
            if kind == "layer":
                y = mx.fast.layer_norm(x, w, b, 1e-5)
            else:
                y = mx.fast.rms_norm(x, w, 1e-5)
            return (y.astype(mx.float32) * cot).sum()

    args = [x] + [a for a in (w, b) if a is not None]
    argnums = tuple(range(len(args)))

    def g(*a):
        ww = a[1] if w is not None else None
        bb = a[2] if b is not None else (None if w is not None or len(a) < 2 else None)
        return f(a[0], ww, bb)

    with mx.stream(dev):
        out = mx.grad(g, argnums=argnums)(*args)
    mx.eval(out)
    return out


@pytest.mark.parametrize("kind", ["layer", "rms"])
@pytest.mark.parametrize("dt", [mx.float32, mx.float16, mx.bfloat16])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 33, 256), (8, 1024), (2, 5000), (700, 1024), (5, 8192),
                                   (3, 12288), (9, 24), (2000, 64)])
@pytest.mark.parametrize("affine", [True, False])
def test_norm_grads_match_cpu(kind, dt, shape, affine):
    n = shape[-1]
    x = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dt)
    w = mx.array(rng.standard_normal((n,)).astype(np.float32)).astype(dt) if affine else None
    b = mx.array(rng.standard_normal((n,)).astype(np.float32)).astype(dt) if (affine and kind == "layer") else None
    gg = grads(kind, x, w, b, mx.gpu)
    gc = grads(kind, x, w, b, mx.cpu)
    for a, c in zip(gg, gc):
        assert a.dtype == c.dtype and a.shape == c.shape
        # (a floor: with one element per row dx is a difference of nearly equal terms)
        scale = max(float(np.abs(np.array(c.astype(mx.float32))).max()), 1e-2)
        np.testing.assert_allclose(np.array(a.astype(mx.float32)), np.array(c.astype(mx.float32)),
                                   atol=TOL[dt] * scale, rtol=TOL[dt])


def test_norm_grad_transposed_input():
    x = mx.array(rng.standard_normal((64, 48)).astype(np.float32)).T
    w = mx.ones((64,))
    f = lambda v: (mx.fast.layer_norm(v, w, None, 1e-5) ** 2).sum()
    with mx.stream(mx.gpu):
        g = mx.grad(f)(x)
    with mx.stream(mx.cpu):
        c = mx.grad(f)(x)
    np.testing.assert_allclose(np.array(g), np.array(c), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ["layer", "rms"])
@pytest.mark.parametrize("dt", [mx.float32, mx.bfloat16])
@pytest.mark.parametrize("n", [1024, 1000, 4096])
def test_norm_weight_grads_only(kind, dt, n):
    """Gradients of the weight (and bias) alone, the input not differentiated."""
    x = mx.array(rng.standard_normal((300, n)).astype(np.float32)).astype(dt)
    w = mx.array(rng.standard_normal((n,)).astype(np.float32)).astype(dt)
    b = mx.array(rng.standard_normal((n,)).astype(np.float32)).astype(dt)
    cot = mx.array(rng.standard_normal((300, n)).astype(np.float32))

    def f(w, b):
        y = mx.fast.layer_norm(x, w, b, 1e-5) if kind == "layer" else mx.fast.rms_norm(x, w, 1e-5) + b
        return (y.astype(mx.float32) * cot).sum()

    out = {}
    for dev in (mx.gpu, mx.cpu):
        with mx.stream(dev):
            out[dev] = mx.grad(f, argnums=(0, 1))(w, b)
        mx.eval(out[dev])
    for a, c in zip(out[mx.gpu], out[mx.cpu]):
        scale = float(np.abs(np.array(c.astype(mx.float32))).max()) + 1e-6
        np.testing.assert_allclose(np.array(a.astype(mx.float32)), np.array(c.astype(mx.float32)),
                                   atol=TOL[dt] * scale, rtol=TOL[dt])
