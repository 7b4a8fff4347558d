"""GPU kernel of the Convolution primitive (cuDNN, or im2col + cuBLAS) against the CPU: conv1d/2d/3d,
conv_transpose1d/2d/3d, conv_general with strides, asymmetric and negative padding, kernel and input
dilation, groups (depthwise too), flip, float32/float16/bfloat16, non-contiguous inputs, gradients
w.r.t. input and weight, nn.Conv2d forward+backward. Each test also checks with
`mx.cuda._host_fallbacks()` that no Convolution node ran on the host.

Skipped where no CUDA GPU is present.
"""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)
FLOATS = [mx.float32, mx.float16, mx.bfloat16]
# Relative to the largest magnitude of the reference.
TOL = {mx.float32: 2e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2}


# ---- helpers ----------------------------------------------------------------------------------

def fallbacks():
    return dict(mx.cuda._host_fallbacks())


def conv_on_host(before):
    after = fallbacks()
    return {k: n - before.get(k, 0) for k, n in after.items()
            if k.split(" (")[0] == "Convolution" and n > before.get(k, 0)}


class NoHostConv:
    """Asserts that no Convolution node ran on the host inside the block."""

    def __enter__(self):
        self.before = fallbacks()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            bad = conv_on_host(self.before)
            assert not bad, f"Convolution ran on the host: {bad}"
        return False


def rand(shape, dt=mx.float32, scale=1.0):
    return mx.array((rng.standard_normal(shape) * scale).astype(np.float32)).astype(dt)


def close(g, c, dt, scale=1.0):
    assert g.shape == c.shape, (g.shape, c.shape)
    assert g.dtype == c.dtype, (g.dtype, c.dtype)
    gn = np.array(g.astype(mx.float32)).astype(np.float64)
    cn = np.array(c.astype(mx.float32)).astype(np.float64)
    ref = max(np.abs(cn).max() if cn.size else 0.0, 1e-6)
    err = np.abs(gn - cn).max() / ref if cn.size else 0.0
    assert err <= TOL[dt] * scale, f"max error {err} (relative to {ref}) for {dt}"


def both(f, *args, **kw):
    with NoHostConv():
        g = f(*args, stream=mx.gpu, **kw)
        mx.eval(g)
    c = f(*args, stream=mx.cpu, **kw)
    mx.eval(c)
    return g, c


def check(f, x, w, dt, scale=1.0, **kw):
    g, c = both(f, x, w, **kw)
    close(g, c, dt, scale)
    return g


# ---- forward ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS)
def test_conv1d(dt):
    x, w = rand((3, 37, 8), dt), rand((16, 5, 8), dt)
    check(mx.conv1d, x, w, dt)
    check(mx.conv1d, x, w, dt, stride=2, padding=2)
    check(mx.conv1d, x, w, dt, dilation=3, padding=1)
    check(mx.conv1d, x, rand((8, 3, 2), dt), dt, padding=1, groups=4)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv2d(dt):
    x, w = rand((2, 17, 19, 16), dt), rand((32, 3, 3, 16), dt)
    check(mx.conv2d, x, w, dt)
    check(mx.conv2d, x, w, dt, padding=1)
    check(mx.conv2d, x, w, dt, stride=2, padding=1)
    check(mx.conv2d, x, w, dt, stride=(1, 3), padding=(2, 0), dilation=(2, 1))
    # 1x1 and a kernel as large as the input
    check(mx.conv2d, x, rand((24, 1, 1, 16), dt), dt)
    check(mx.conv2d, x, rand((4, 17, 19, 16), dt), dt)
    # odd channel counts
    check(mx.conv2d, rand((1, 9, 7, 3), dt), rand((5, 3, 2, 3), dt), dt, padding=1)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv3d(dt):
    x, w = rand((2, 7, 8, 9, 4), dt), rand((6, 3, 3, 3, 4), dt)
    check(mx.conv3d, x, w, dt)
    check(mx.conv3d, x, w, dt, stride=2, padding=1)
    check(mx.conv3d, x, w, dt, padding=(1, 0, 2), dilation=(1, 2, 1))


@pytest.mark.parametrize("dt", FLOATS)
def test_groups(dt):
    x = rand((2, 12, 11, 16), dt)
    check(mx.conv2d, x, rand((8, 3, 3, 4), dt), dt, padding=1, groups=4)
    check(mx.conv2d, x, rand((32, 3, 3, 8), dt), dt, stride=2, groups=2)
    # depthwise, and depthwise with a channel multiplier
    check(mx.conv2d, x, rand((16, 3, 3, 1), dt), dt, padding=1, groups=16)
    check(mx.conv2d, x, rand((32, 5, 5, 1), dt), dt, padding=2, groups=16)
    check(mx.conv1d, rand((2, 30, 16), dt), rand((16, 7, 1), dt), dt, padding=3, groups=16)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv_transpose(dt):
    x = rand((2, 9, 8), dt)
    check(mx.conv_transpose1d, x, rand((6, 3, 8), dt), dt)
    check(mx.conv_transpose1d, x, rand((6, 4, 8), dt), dt, stride=2, padding=1)
    check(mx.conv_transpose1d, x, rand((6, 3, 8), dt), dt, stride=3, output_padding=1)
    x = rand((2, 7, 6, 8), dt)
    check(mx.conv_transpose2d, x, rand((5, 3, 3, 8), dt), dt)
    check(mx.conv_transpose2d, x, rand((5, 3, 3, 8), dt), dt, stride=2, padding=1)
    check(mx.conv_transpose2d, x, rand((5, 4, 4, 8), dt), dt, stride=2, padding=1, output_padding=1)
    check(mx.conv_transpose2d, x, rand((5, 3, 3, 8), dt), dt, stride=(2, 3), dilation=2)
    check(mx.conv_transpose2d, x, rand((8, 3, 3, 2), dt), dt, stride=2, groups=4)
    x = rand((1, 4, 5, 6, 4), dt)
    check(mx.conv_transpose3d, x, rand((3, 3, 3, 3, 4), dt), dt)
    check(mx.conv_transpose3d, x, rand((3, 2, 3, 2, 4), dt), dt, stride=2, padding=1)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv_general(dt):
    x, w = rand((2, 13, 12, 6), dt), rand((4, 3, 2, 6), dt)
    cg = mx.conv_general
    check(cg, x, w, dt, stride=(2, 3))
    check(cg, x, w, dt, padding=([2, 0], [1, 3]))           # asymmetric
    check(cg, x, w, dt, padding=([-1, 2], [1, -2]))         # negative
    check(cg, x, w, dt, padding=([-2, -1], [-1, -3]), stride=2)
    check(cg, x, w, dt, kernel_dilation=(2, 3), padding=1)
    check(cg, x, w, dt, input_dilation=(2, 1))
    check(cg, x, w, dt, input_dilation=2, padding=([1, 2], [0, 1]))
    check(cg, x, w, dt, input_dilation=(3, 2), stride=2, padding=1)   # stride with input dilation
    check(cg, x, w, dt, input_dilation=2, kernel_dilation=2, padding=([3, 0], [1, 2]))
    check(cg, x, w, dt, input_dilation=2, padding=([-1, 0], [0, -1]))
    check(cg, x, w, dt, flip=True)
    check(cg, x, w, dt, flip=True, stride=2, padding=([1, 0], [2, 1]))
    check(cg, x, w, dt, flip=True, input_dilation=2, padding=1)
    check(cg, x, rand((4, 3, 2, 3), dt), dt, groups=2, flip=True, padding=1)
    check(cg, rand((2, 20, 5), dt), rand((5, 4, 5), dt), dt, stride=3, padding=([4], [1]), flip=True)


def test_non_contiguous_inputs():
    dt = mx.float32
    x = rand((2, 8, 10, 12), dt)
    w = rand((6, 3, 3, 12), dt)
    xt = mx.transpose(rand((2, 12, 10, 8)), (0, 3, 2, 1))       # transposed view
    check(mx.conv2d, xt, w, dt, padding=1)
    xs = x[:, 1:7:2, ::3, :]                                    # sliced view
    check(mx.conv2d, xs, w, dt, padding=1)
    wt = mx.transpose(rand((12, 3, 3, 6)), (3, 1, 2, 0))
    check(mx.conv2d, x, wt, dt, padding=1)
    check(mx.conv2d, x[1:], w, dt, padding=1)                   # offset into the buffer


def test_large():
    dt = mx.float32
    x, w = rand((4, 64, 64, 32), dt), rand((64, 3, 3, 32), dt)
    check(mx.conv2d, x, w, dt, padding=1)
    check(mx.conv2d, x, w, dt, stride=2, padding=1)
    for dt in (mx.float16, mx.bfloat16):
        check(mx.conv2d, x.astype(dt), w.astype(dt), dt, padding=1)


def test_empty():
    dt = mx.float32
    g, c = both(mx.conv2d, rand((0, 5, 5, 3)), rand((4, 3, 3, 3)))
    assert g.shape == c.shape == (0, 3, 3, 4)
    g, c = both(mx.conv2d, rand((2, 5, 5, 3)), rand((0, 3, 3, 3)))
    assert g.shape == c.shape == (2, 3, 3, 0)
    g, c = both(mx.conv1d, rand((2, 5, 0)), rand((4, 3, 0)), padding=1)
    close(g, c, dt)


# ---- gradients --------------------------------------------------------------------------------

def grads(f, x, w, cot, dev):
    def loss(a, b):
        return mx.sum(f(a, b) * cot)

    with mx.stream(dev):
        out = mx.grad(loss, argnums=(0, 1))(x, w)
        mx.eval(out)
    return out


def check_grads(f, x, w, dt, scale=1.0):
    out_shape = f(x, w, stream=mx.cpu).shape
    cot = rand(out_shape, dt)
    with NoHostConv():
        gx, gw = grads(f, x, w, cot, mx.gpu)
    cx, cw = grads(f, x, w, cot, mx.cpu)
    close(gx, cx, dt, scale)
    close(gw, cw, dt, scale)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv2d_grad(dt):
    x, w = rand((2, 11, 10, 8), dt), rand((12, 3, 3, 8), dt)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, padding=1, **k), x, w, dt)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, stride=2, padding=1, **k), x, w, dt)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, stride=(2, 3), dilation=(1, 2), **k), x, w, dt)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, padding=1, groups=4, **k), x, rand((12, 3, 3, 2), dt), dt)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, padding=1, groups=8, **k), x, rand((8, 3, 3, 1), dt), dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv_transpose2d_grad(dt):
    x, w = rand((2, 6, 7, 8), dt), rand((5, 3, 3, 8), dt)
    check_grads(lambda a, b, **k: mx.conv_transpose2d(a, b, **k), x, w, dt)
    check_grads(lambda a, b, **k: mx.conv_transpose2d(a, b, stride=2, padding=1, **k), x, w, dt)
    check_grads(lambda a, b, **k: mx.conv_transpose2d(a, b, stride=2, padding=1, output_padding=1, **k),
                x, rand((5, 4, 4, 8), dt), dt)


def test_conv1d_conv3d_grad():
    dt = mx.float32
    check_grads(lambda a, b, **k: mx.conv1d(a, b, stride=2, padding=1, **k), rand((2, 21, 6)), rand((4, 5, 6)), dt)
    check_grads(lambda a, b, **k: mx.conv3d(a, b, stride=2, padding=1, **k), rand((1, 7, 6, 5, 3)),
                rand((4, 3, 3, 3, 3)), dt)


def test_nn_conv2d_forward_backward():
    layer = nn.Conv2d(8, 16, 3, stride=2, padding=1)
    x = rand((4, 16, 16, 8))

    def loss(params, a):
        layer.update(params)
        return mx.mean(layer(a) ** 2)

    params = layer.parameters()
    res = {}
    for dev in (mx.gpu, mx.cpu):
        with mx.stream(dev):
            if dev == mx.gpu:
                with NoHostConv():
                    v, g = mx.value_and_grad(loss)(params, x)
                    mx.eval(v, g)
            else:
                v, g = mx.value_and_grad(loss)(params, x)
                mx.eval(v, g)
        res[dev] = (v, g)
    close(res[mx.gpu][0], res[mx.cpu][0], mx.float32)
    close(res[mx.gpu][1]["weight"], res[mx.cpu][1]["weight"], mx.float32)
    close(res[mx.gpu][1]["bias"], res[mx.cpu][1]["bias"], mx.float32)


def test_resnet_like_shape():
    # The speed-target shape (smaller batch): 64 -> 64 channels, 3x3, padding 1, and its gradients.
    dt = mx.float32
    x, w = rand((2, 56, 56, 64), dt), rand((64, 3, 3, 64), dt, scale=0.1)
    check(mx.conv2d, x, w, dt, padding=1)
    check_grads(lambda a, b, **k: mx.conv2d(a, b, padding=1, **k), x, w, dt)
