"""mlx.nn.QQLinear: a linear layer whose weight and input are quantized (nvfp4 / mxfp8).

The forward pass is checked against a NumPy reference of the formula
``y = Q(x) @ Q(W).T`` (Q = quantize then dequantize along the input dimension, with
the nvfp4 / mxfp8 scale and rounding rules of docs/dev/quantized.md), in train mode
(weight quantized on the fly) and in eval mode (weight stored quantized). Gradients
are straight-through (as mx.qqmm): dx = G @ Q(W), dW = G^T @ Q(x)."""

import math
import os
import tempfile

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten

MODES = ["nvfp4", "mxfp8"]
GROUP = {"nvfp4": 16, "mxfp8": 32}
BITS = {"nvfp4": 4, "mxfp8": 8}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def npy(a):
    if a.dtype in (mx.bfloat16, mx.float16):
        a = a.astype(mx.float32)
    return np.array(a)


# ------------------------------------------------------------------ NumPy reference
def _e4m3_magnitudes():
    v = np.zeros(127)
    for c in range(127):
        e, m = c >> 3, c & 7
        v[c] = m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return v


E4M3 = _e4m3_magnitudes()  # codes 0..126, ascending, max 448
FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def round_e4m3(x):
    """Nearest e4m3 value (ties to even mantissa), saturating at 448, sign kept."""
    x = np.asarray(x, np.float64)
    a = np.minimum(np.abs(x), 448.0)
    idx = np.clip(np.searchsorted(E4M3, a), 1, 126)
    lo, hi = E4M3[idx - 1], E4M3[idx]
    up = (hi - a < a - lo) | ((hi - a == a - lo) & (idx % 2 == 0))
    return np.copysign(np.where(up, hi, lo), x)


def round_fp4(x):
    """Nearest e2m1 value, ties toward the smaller magnitude, saturating at 6."""
    a = np.abs(x)
    c = sum((a > t).astype(np.int64) for t in (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0))
    return np.sign(x) * FP4[c]


def fake_quant(a, mode):
    """Q(a): quantize then dequantize along the last axis (float32 input)."""
    a = np.asarray(a, np.float32)
    g = GROUP[mode]
    ag = a.reshape(-1, g)
    amax = np.abs(ag).max(1)
    if mode == "nvfp4":
        scale = round_e4m3(amax / np.float32(6))
    else:  # mxfp8: smallest power of two with amax / scale <= 448
        r = (amax / np.float32(448)).astype(np.float32)
        m, e = np.frexp(r)
        e = np.where(r == 0, 0, np.where(m == 0.5, e - 1, e))
        scale = 2.0 ** np.clip(e, -127, 127).astype(np.float64)
    v = np.where(scale[:, None] == 0, 0, ag / np.where(scale == 0, 1, scale)[:, None])
    q = round_fp4(v) if mode == "nvfp4" else round_e4m3(v)
    return (q * scale[:, None]).reshape(a.shape)


def ref_forward(x, w, mode):
    return fake_quant(x, mode) @ fake_quant(w, mode).T


def close(a, b, rtol=1e-5, atol=1e-5):
    a = npy(a) if isinstance(a, mx.array) else np.asarray(a)
    assert a.shape == np.shape(b), (a.shape, np.shape(b))
    np.testing.assert_allclose(a.astype(np.float64), b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ construction
def test_exported_and_defaults():
    assert nn.QQLinear is nn.layers.quantized.QQLinear
    layer = nn.QQLinear(32, 16)
    assert layer.mode == "nvfp4" and layer.group_size == 16 and layer.bits == 4
    assert layer.training
    assert layer.weight.shape == (16, 32) and layer.weight.dtype == mx.float32
    assert "bias" not in layer and "scales" not in layer
    bound = math.sqrt(1 / 32)
    w = npy(layer.weight)
    assert np.all(np.abs(w) <= bound) and w.std() > bound / 3
    assert [k for k, _ in tree_flatten(layer.trainable_parameters())] == ["weight"]
    assert repr(layer) == (
        "QQLinear(input_dims=32, output_dims=16, group_size=16, bits=4, mode=nvfp4)"
    )
    m8 = nn.QQLinear(64, 8, mode="mxfp8")
    assert (m8.group_size, m8.bits) == (32, 8)
    assert "mode=mxfp8" in repr(m8)
    # explicit values equal to the defaults are accepted
    nn.QQLinear(32, 4, group_size=16, bits=4, mode="nvfp4")
    nn.QQLinear(32, 4, 32, 8, "mxfp8")


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("mode", MODES)
def test_forward_train_mode_matches_reference(rng, mode):
    layer = nn.QQLinear(64, 24, mode=mode)
    w = npy(layer.weight)
    for shape in [(5, 64), (64,), (2, 3, 64), (0, 64)]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = layer(mx.array(x))
        assert y.dtype == mx.float32
        want = ref_forward(x.reshape(-1, 64), w, mode).reshape(shape[:-1] + (24,))
        close(y, want)


@pytest.mark.parametrize("mode", MODES)
def test_forward_eval_mode_matches_reference(rng, mode):
    layer = nn.QQLinear(64, 24, mode=mode)
    w = npy(layer.weight)
    x = rng.standard_normal((7, 64)).astype(np.float32)
    y_train = layer(mx.array(x))
    layer.eval()
    assert not layer.training
    assert layer.weight.dtype == mx.uint32
    assert layer.weight.shape == (24, 64 * BITS[mode] // 32)
    assert layer.scales.dtype == mx.uint8 and layer.scales.shape == (24, 64 // GROUP[mode])
    wq, s = mx.quantize(mx.array(w), mode=mode)
    assert mx.array_equal(layer.weight, wq) and mx.array_equal(layer.scales, s)
    y = layer(mx.array(x))
    close(y, ref_forward(x, w, mode))
    assert mx.array_equal(y, y_train)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_inputs(rng, mode, dtype):
    layer = nn.QQLinear(32 if mode == "nvfp4" else 64, 8, mode=mode)
    k = layer.weight.shape[1]
    x = mx.array(rng.standard_normal((4, k)).astype(np.float32)).astype(dtype)
    y = layer(x)
    assert y.dtype == dtype
    want = ref_forward(npy(x), npy(layer.weight), mode)
    close(y, want, rtol=1e-2, atol=1e-2)
    layer.set_dtype(dtype)
    assert layer.weight.dtype == dtype
    close(layer(x), ref_forward(npy(x), npy(layer.weight), mode), rtol=1e-2, atol=1e-2)


def test_noncontiguous_input(rng):
    layer = nn.QQLinear(32, 8)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = layer(mx.array(x).T)  # transposed view
    close(y, ref_forward(x.T, npy(layer.weight), "nvfp4"))
    xb = mx.broadcast_to(mx.array(x[:, 0]), (3, 32))
    close(layer(xb), ref_forward(np.broadcast_to(x[:, 0], (3, 32)), npy(layer.weight), "nvfp4"))


def test_output_dims_zero():
    layer = nn.QQLinear(16, 0)
    assert layer(mx.ones((2, 16))).shape == (2, 0)
    layer.eval()
    assert layer(mx.ones((2, 16))).shape == (2, 0)


# ------------------------------------------------------------------ train / eval
@pytest.mark.parametrize("mode", MODES)
def test_train_eval_round_trip(rng, mode):
    layer = nn.QQLinear(64, 16, mode=mode)
    w = npy(layer.weight)
    layer.eval()
    layer.eval()  # idempotent
    assert layer.weight.dtype == mx.uint32
    # the quantized weight and scales are frozen
    assert tree_flatten(layer.trainable_parameters()) == []
    assert sorted(k for k, _ in tree_flatten(layer.parameters())) == ["scales", "weight"]
    layer.train()
    layer.train()
    assert layer.training
    assert "scales" not in layer
    # dequantized, exactly the fake-quantized weight, in bfloat16 (as MLX)
    assert layer.weight.dtype == mx.bfloat16
    np.testing.assert_array_equal(npy(layer.weight), fake_quant(w, mode))
    assert [k for k, _ in tree_flatten(layer.trainable_parameters())] == ["weight"]
    x = rng.standard_normal((3, 64)).astype(np.float32)
    close(layer(mx.array(x)), ref_forward(x, fake_quant(w, mode), mode))


def test_eval_and_train_through_parent():
    model = nn.Sequential(nn.QQLinear(32, 16), nn.ReLU(), nn.QQLinear(16, 16))
    model.eval()
    assert all(l.weight.dtype == mx.uint32 for l in (model.layers[0], model.layers[2]))
    assert tree_flatten(model.trainable_parameters()) == []
    model.train()
    assert all("scales" not in l for l in (model.layers[0], model.layers[2]))
    assert len(tree_flatten(model.trainable_parameters())) == 2


def test_freeze_state_survives_eval():
    layer = nn.QQLinear(32, 8)
    layer.freeze()
    layer.eval()
    layer.train()
    assert tree_flatten(layer.trainable_parameters()) == []
    layer.unfreeze()
    assert [k for k, _ in tree_flatten(layer.trainable_parameters())] == ["weight"]
    layer.eval()
    layer.unfreeze()  # the quantized weight stays frozen
    assert tree_flatten(layer.trainable_parameters()) == []
    layer.train()
    assert [k for k, _ in tree_flatten(layer.trainable_parameters())] == ["weight"]
    layer.eval()
    layer.freeze()
    layer.train()
    assert tree_flatten(layer.trainable_parameters()) == []


def test_save_and_load_weights_in_eval_mode(rng):
    layer = nn.QQLinear(32, 8)
    layer.eval()
    x = mx.array(rng.standard_normal((2, 32)).astype(np.float32))
    y = layer(x)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.safetensors")
        layer.save_weights(path)
        other = nn.QQLinear(32, 8)
        other.eval()
        other.load_weights(path)
    assert mx.array_equal(other(x), y)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("mode", MODES)
def test_straight_through_gradients(rng, mode):
    layer = nn.QQLinear(64, 12, mode=mode)
    x = rng.standard_normal((5, 64)).astype(np.float32)
    g = rng.standard_normal((5, 12)).astype(np.float32)
    w = npy(layer.weight)

    def loss(model, x):
        return (model(x) * mx.array(g)).sum()

    val, grads = nn.value_and_grad(layer, loss)(layer, mx.array(x))
    close(val, (ref_forward(x, w, mode) * g).sum(), rtol=1e-4, atol=1e-4)
    close(grads["weight"], g.T @ fake_quant(x, mode), rtol=1e-4, atol=1e-4)
    gx = mx.grad(lambda x: loss(layer, x))(mx.array(x))
    close(gx, g @ fake_quant(w, mode), rtol=1e-4, atol=1e-4)


def test_training_step_changes_weight(rng):
    mx.random.seed(1)
    layer = nn.QQLinear(32, 4)
    opt = optim.SGD(learning_rate=0.5)
    x = mx.array(rng.standard_normal((64, 32)).astype(np.float32))
    target = mx.array(rng.standard_normal((64, 4)).astype(np.float32))

    def loss(model, x, t):
        return ((model(x) - t) ** 2).mean()

    lg = nn.value_and_grad(layer, loss)
    losses = []
    for _ in range(5):
        val, grads = lg(layer, x, target)
        opt.update(layer, grads)
        mx.eval(layer.parameters())
        losses.append(val.item())
    assert losses[-1] < losses[0]
    assert layer.weight.dtype == mx.float32


# ------------------------------------------------------------------ from_linear / quantize
@pytest.mark.parametrize("mode", MODES)
def test_from_linear(rng, mode):
    lin = nn.Linear(64, 16, bias=False)
    q = nn.QQLinear.from_linear(lin, mode=mode)
    assert isinstance(q, nn.QQLinear) and q.training
    assert q.mode == mode and (q.group_size, q.bits) == (GROUP[mode], BITS[mode])
    assert q.weight is lin.weight
    x = rng.standard_normal((3, 64)).astype(np.float32)
    close(q(mx.array(x)), ref_forward(x, npy(lin.weight), mode))
    lin.eval()
    qe = nn.QQLinear.from_linear(lin, mode=mode)
    assert not qe.training and qe.weight.dtype == mx.uint32
    close(qe(mx.array(x)), ref_forward(x, npy(lin.weight), mode))


def test_from_linear_errors():
    with pytest.raises(NotImplementedError, match=r"\[QQLinear\] a bias is not supported"):
        nn.QQLinear.from_linear(nn.Linear(32, 8))
    with pytest.raises(ValueError, match=r"\[QQLinear\] input_dims must be .*; got 24"):
        nn.QQLinear.from_linear(nn.Linear(24, 8, bias=False))
    with pytest.raises(ValueError, match=r"\[QQLinear\] mode must be"):
        nn.QQLinear.from_linear(nn.Linear(32, 8, bias=False), mode="affine")


def test_linear_to_quantized_and_nn_quantize(rng):
    lin = nn.Linear(32, 8, bias=False)
    assert isinstance(lin.to_quantized(mode="nvfp4", quantize_input=True), nn.QQLinear)
    assert isinstance(lin.to_quantized(mode="nvfp4"), nn.QuantizedLinear)

    model = nn.Sequential(
        nn.Linear(32, 16, bias=False), nn.ReLU(), nn.Linear(16, 16, bias=False), nn.Embedding(10, 32)
    )
    nn.quantize(
        model, mode="nvfp4", quantize_input=True, class_predicate=lambda p, m: isinstance(m, nn.Linear)
    )
    assert isinstance(model.layers[0], nn.QQLinear) and isinstance(model.layers[2], nn.QQLinear)
    assert type(model.layers[3]) is nn.Embedding
    assert model.layers[0].training

    model = nn.Sequential(nn.Linear(64, 16, bias=False))
    model.eval()
    nn.quantize(model, mode="mxfp8", quantize_input=True)
    q = model.layers[0]
    assert isinstance(q, nn.QQLinear) and q.mode == "mxfp8" and not q.training
    assert q.weight.dtype == mx.uint32

    # per-module arguments from the predicate
    model = nn.Sequential(nn.Linear(64, 16, bias=False))
    nn.quantize(model, quantize_input=True, mode="nvfp4", class_predicate=lambda p, m: {"mode": "mxfp8"})
    assert model.layers[0].mode == "mxfp8"

    # quantize_input=False is unchanged
    model = nn.Sequential(nn.Linear(64, 16, bias=False))
    nn.quantize(model, mode="nvfp4")
    assert type(model.layers[0]) is nn.QuantizedLinear


def test_nn_quantize_input_errors():
    with pytest.raises(ValueError, match=r"\[quantize\] quantize_input=True .*; got mode 'affine'"):
        nn.quantize(nn.Sequential(nn.Linear(32, 8, bias=False)), quantize_input=True)
    with pytest.raises(ValueError, match=r"\[Embedding\] quantized input is not supported"):
        nn.quantize(nn.Sequential(nn.Embedding(10, 32)), mode="nvfp4", quantize_input=True)
    with pytest.raises(NotImplementedError, match=r"\[QQLinear\] a bias"):
        nn.quantize(nn.Sequential(nn.Linear(32, 8)), mode="nvfp4", quantize_input=True)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(mode="affine"), r"\[QQLinear\] mode must be 'nvfp4' or 'mxfp8'.*; got 'affine'\."),
        (dict(mode="mxfp4"), r"\[QQLinear\] mode must be .*; got 'mxfp4'\."),
        (dict(mode="foo"), r"\[QQLinear\] mode must be .*; got 'foo'\."),
        (dict(group_size=32), r"\[QQLinear\] mode 'nvfp4' requires group_size=16 and bits=4; got group_size=32, bits=4\."),
        (dict(bits=8), r"\[QQLinear\] .*; got group_size=16, bits=8\."),
        (dict(mode="mxfp8", bits=4), r"\[QQLinear\] mode 'mxfp8' requires .*; got group_size=32, bits=4\."),
    ],
)
def test_constructor_mode_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.QQLinear(64, 8, **kwargs)


@pytest.mark.parametrize(
    "dims, mode",
    [((30, 8), "nvfp4"), ((16, 8), "mxfp8"), ((0, 8), "nvfp4"), ((-16, 8), "nvfp4"), ((16.0, 8), "nvfp4")],
)
def test_constructor_shape_errors(dims, mode):
    with pytest.raises(ValueError, match=r"\[QQLinear\] input_dims must be a positive multiple .*; got "):
        nn.QQLinear(*dims, mode=mode)


def test_constructor_output_dims_error():
    with pytest.raises(ValueError, match=r"\[QQLinear\] output_dims .*; got -1\."):
        nn.QQLinear(16, -1)


def test_call_errors():
    layer = nn.QQLinear(32, 8)
    with pytest.raises(ValueError, match=r"\[QQLinear\] expected the last dimension of x to be 32; got x.shape=\(4, 30\)\."):
        layer(mx.zeros((4, 30)))
    with pytest.raises(ValueError, match=r"\[QQLinear\] .*; got x.shape=\(\)\."):
        layer(mx.array(1.0))
    with pytest.raises(ValueError, match=r"\[QQLinear\] x must be float32, float16 or bfloat16; got x.dtype=mlx.core.int32\."):
        layer(mx.zeros((2, 32), dtype=mx.int32))
    with pytest.raises(TypeError, match=r"\[QQLinear\] x must be an array; got list\."):
        layer([0.0] * 32)
    layer.eval()
    with pytest.raises(ValueError, match=r"\[QQLinear\] expected the last dimension"):
        layer(mx.zeros((4, 16)))
