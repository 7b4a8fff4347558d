"""Tests of mlx.nn: Module, every layer against a NumPy formula, losses,
initializers, weight files and a small training run."""

import itertools
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.nn.layers import normalization, transformer
from mlx.utils import tree_flatten, tree_map


def A(x):
    return mx.array(np.asarray(x))


def N(x):
    return np.array(x)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def close(got, want, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(N(got), want, rtol=rtol, atol=atol)


@pytest.fixture(params=["fast", "plain"])
def fast_path(request, monkeypatch):
    """Run a test with mx.fast kernels (when the core has them) and with the
    plain-op fallbacks."""
    if request.param == "plain":
        monkeypatch.setattr(normalization, "_fast", lambda name: None)
        monkeypatch.setattr(mx, "fast", None, raising=False)
    elif not hasattr(mx, "fast"):
        pytest.skip("mx.fast is not available")
    return request.param


# --- Module ------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(2, 3), nn.Dropout(0.5), nn.Sequential(nn.Linear(3, 3))]
        self.extra = {"x": mx.zeros((2,)), "n": 5}
        self._private = mx.ones((1,))
        self.scale = 2.0


def shapes(tree):
    return tree_map(lambda x: tuple(x.shape), tree)


def test_module_is_a_dict_of_parameters():
    net = Net()
    assert isinstance(net, dict)
    assert "layers" in net and "scale" not in net and net.scale == 2.0
    assert shapes(net.parameters()) == {
        "layers": [
            {"weight": (3, 2), "bias": (3,)},
            {},
            {"layers": [{"weight": (3, 3), "bias": (3,)}]},
        ],
        "extra": {"x": (2,), "n": {}},
    }
    with pytest.raises(AttributeError):
        net.missing
    net.scale = mx.ones((1,))
    assert "scale" in net
    del net.scale
    assert "scale" not in net


def test_children_leaf_modules_and_named_modules():
    net = Net()
    children = net.children()
    assert isinstance(children["layers"][0], nn.Linear)
    assert isinstance(children["layers"][2], nn.Sequential)
    leaves = [
        k for k, _ in tree_flatten(net.leaf_modules(), is_leaf=nn.Module.is_module)
    ]
    assert leaves == ["layers.0", "layers.1", "layers.2.layers.0"]
    names = [k for k, _ in net.named_modules()]
    assert names[0] == ""
    assert sorted(names) == sorted(
        ["", "layers.0", "layers.1", "layers.2", "layers.2.layers.0"]
    )
    assert len(net.modules()) == 5


def test_freeze_unfreeze():
    net = Net()
    net.freeze()
    assert tree_flatten(net.trainable_parameters()) == []
    net.unfreeze()
    assert len(tree_flatten(net.trainable_parameters())) == 5
    net.freeze(keys="bias")
    keys = [k for k, _ in tree_flatten(net.trainable_parameters())]
    assert "layers.0.bias" not in keys and "layers.0.weight" in keys
    net.unfreeze(keys=["bias"])
    net.layers[0].freeze(recurse=False)
    keys = [k for k, _ in tree_flatten(net.trainable_parameters())]
    assert not any(k.startswith("layers.0.") for k in keys)
    with pytest.raises(KeyError):
        nn.Linear(2, 2).freeze(keys="nope", strict=True)


def test_update_and_strict_errors():
    lin = nn.Linear(2, 3)
    lin.update({"weight": mx.zeros((3, 2))})
    assert N(lin.weight).sum() == 0
    with pytest.raises(ValueError):
        lin.update({"nope": mx.zeros((1,))})
    with pytest.raises(ValueError):
        lin.update({"weight": 5})
    lin.update({"nope": mx.zeros((1,))}, strict=False)
    assert "nope" not in lin


def test_update_modules_apply_and_set_dtype():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seq.update_modules({"layers": [{}, nn.Tanh()]})
    assert isinstance(seq.layers[1], nn.Tanh)
    with pytest.raises(ValueError):
        seq.update_modules({"missing": nn.ReLU()})
    seq.apply(lambda p: mx.ones_like(p))
    assert N(seq.layers[0].weight).tolist() == [[1, 1], [1, 1]]
    seq.set_dtype(mx.float16)
    assert seq.layers[0].weight.dtype == mx.float16
    bn = nn.BatchNorm(3)
    bn.set_dtype(mx.bfloat16)
    assert bn.running_mean.dtype == mx.bfloat16


def test_train_eval_and_state():
    net = Net()
    assert net.training and net.layers[1].training
    net.eval()
    assert not net.training and not net.layers[1].training
    net.train()
    assert net.layers[1].training
    assert net.state is net
    assert "_private" in net.state


def test_repr():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert text.startswith("Sequential(")
    assert "(layers.0): Linear(input_dims=2, output_dims=3, bias=True)" in text
    assert "(layers.1): ReLU()" in text


# --- weights files -------------------------------------------------------------


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_save_load_weights_round_trip(tmp_path, ext):
    mx.random.seed(0)
    a = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4))
    b = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LayerNorm(4))
    b.apply(lambda p: p + 1)
    path = str(tmp_path / f"w{ext}")
    a.save_weights(path)
    b.load_weights(path)
    for (k1, v1), (k2, v2) in zip(
        tree_flatten(a.parameters()), tree_flatten(b.parameters())
    ):
        assert k1 == k2
        np.testing.assert_array_equal(N(v1), N(v2))
    x = mx.ones((2, 3))
    np.testing.assert_array_equal(N(a(x)), N(b(x)))


def test_save_weights_rejects_other_extensions(tmp_path):
    with pytest.raises(ValueError):
        nn.Linear(2, 2).save_weights(str(tmp_path / "w.bin"))


def test_strict_load_names_every_problem():
    lin = nn.Linear(2, 3)
    weights = [("weight", mx.zeros((3, 3))), ("extra", mx.zeros((1,)))]
    with pytest.raises(ValueError) as info:
        lin.load_weights(weights)
    msg = str(info.value)
    assert "extra" in msg and "bias" in msg and "weight" in msg and "(3, 3)" in msg
    # Nothing was loaded.
    assert N(lin.weight).shape == (3, 2)


def test_non_strict_load_loads_what_exists():
    lin = nn.Linear(2, 3)
    lin.load_weights(
        [("weight", mx.zeros((3, 2))), ("extra", mx.ones(1))], strict=False
    )
    assert N(lin.weight).sum() == 0
    assert "extra" not in lin


# --- Linear, Bilinear, Identity, Embedding, Sequential ------------------------


def test_linear(rng):
    lin = nn.Linear(5, 3)
    x = randn(rng, 2, 4, 5)
    w, b = N(lin.weight), N(lin.bias)
    bound = 1 / math.sqrt(5)
    assert w.shape == (3, 5) and np.abs(w).max() <= bound
    close(lin(A(x)), x @ w.T + b)
    nob = nn.Linear(5, 3, bias=False)
    assert "bias" not in nob
    close(nob(A(x)), x @ N(nob.weight).T)


def test_linear_validates_last_dimension():
    with pytest.raises(
        ValueError,
        match=r"\[Linear\] expected last dimension 16; got x.shape=\(2, 8\).",
    ):
        nn.Linear(16, 4)(mx.zeros((2, 8)))


def test_bilinear(rng):
    layer = nn.Bilinear(3, 4, 5)
    x1, x2 = randn(rng, 2, 3), randn(rng, 2, 4)
    w, b = N(layer.weight), N(layer.bias)
    assert w.shape == (5, 4, 3)
    want = np.einsum("ni,kji,nj->nk", x1, w, x2) + b
    close(layer(A(x1), A(x2)), want, atol=1e-5)
    with pytest.raises(ValueError):
        layer(A(x2), A(x2))


def test_identity_and_sequential(rng):
    x = randn(rng, 2, 3)
    close(nn.Identity(1, foo=2)(A(x)), x)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), lambda y: y * 2)
    w, b = N(seq.layers[0].weight), N(seq.layers[0].bias)
    close(seq(A(x)), np.maximum(x @ w.T + b, 0) * 2)


def test_embedding(rng):
    emb = nn.Embedding(10, 4)
    idx = np.array([[1, 9], [0, 3]])
    w = N(emb.weight)
    close(emb(A(idx)), w[idx])
    x = randn(rng, 2, 4)
    close(emb.as_linear(A(x)), x @ w.T)


# --- activations ---------------------------------------------------------------


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_erf(x):
    return np.vectorize(math.erf)(x)


ACTIVATIONS = {
    "relu": (lambda x: np.maximum(x, 0), nn.ReLU),
    "relu6": (lambda x: np.clip(x, 0, 6), nn.ReLU6),
    "relu2": (lambda x: np.maximum(x, 0) ** 2, nn.ReLU2),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), nn.LeakyReLU),
    "elu": (lambda x: np.where(x > 0, x, np.exp(x) - 1), nn.ELU),
    "celu": (lambda x: np.maximum(x, 0) + np.minimum(0, np.exp(x) - 1), nn.CELU),
    "selu": (
        lambda x: (
            1.0507009873554805
            * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))
        ),
        nn.SELU,
    ),
    "gelu": (lambda x: x * (1 + np_erf(x / math.sqrt(2))) / 2, nn.GELU),
    "gelu_approx": (
        lambda x: (
            0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        ),
        None,
    ),
    "gelu_fast_approx": (lambda x: x * np_sigmoid(1.702 * x), None),
    "silu": (lambda x: x * np_sigmoid(x), nn.SiLU),
    "sigmoid": (np_sigmoid, nn.Sigmoid),
    "tanh": (np.tanh, nn.Tanh),
    "softplus": (np_softplus, nn.Softplus),
    "softsign": (lambda x: x / (1 + np.abs(x)), nn.Softsign),
    "softmax": (np_softmax, nn.Softmax),
    "softmin": (lambda x: np_softmax(-x), nn.Softmin),
    "log_softmax": (lambda x: np.log(np_softmax(x)), nn.LogSoftmax),
    "log_sigmoid": (lambda x: -np_softplus(-x), nn.LogSigmoid),
    "mish": (lambda x: x * np.tanh(np_softplus(x)), nn.Mish),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6, nn.Hardswish),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), nn.HardTanh),
    "hard_shrink": (lambda x: np.where(np.abs(x) > 0.5, x, 0), nn.HardShrink),
    "softshrink": (
        lambda x: np.where(np.abs(x) > 0.5, x - np.sign(x) * 0.5, 0),
        nn.Softshrink,
    ),
    "step": (lambda x: (x > 0).astype(np.float32), nn.Step),
    "glu": (lambda x: x[..., :2] * np_sigmoid(x[..., 2:]), nn.GLU),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(rng, name):
    ref, cls = ACTIVATIONS[name]
    x = randn(rng, 3, 4) * 3
    close(getattr(nn, name)(A(x)), ref(x), rtol=1e-4, atol=1e-5)
    if cls is not None:
        close(cls()(A(x)), ref(x), rtol=1e-4, atol=1e-5)


def test_activation_parameters(rng):
    x = randn(rng, 3, 4) * 3
    close(nn.leaky_relu(A(x), 0.2), np.where(x > 0, x, 0.2 * x))
    close(nn.elu(A(x), 0.5), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)))
    close(
        nn.celu(A(x), 2.0),
        np.maximum(x, 0) + np.minimum(0, 2 * (np.exp(x / 2) - 1)),
        rtol=1e-5,
    )
    close(nn.hard_tanh(A(x), -0.5, 2.0), np.clip(x, -0.5, 2.0))
    close(nn.step(A(x), 1.0), (x > 1).astype(np.float32))
    xt = x.T
    close(nn.glu(A(xt), axis=0), xt[:2] * np_sigmoid(xt[2:]))
    close(nn.softmax(A(x), axis=0), np_softmax(x, axis=0), rtol=1e-5)
    for approx in ["precise", "tanh", "fast"]:
        nn.GELU(approx)(A(x))
    close(nn.GELU("tanh")(A(x)), ACTIVATIONS["gelu_approx"][0](x), rtol=1e-4)
    with pytest.raises(ValueError):
        nn.GELU("bogus")


def test_prelu(rng):
    x = randn(rng, 2, 3)
    layer = nn.PReLU(3, init=0.1)
    assert N(layer.weight).tolist() == pytest.approx([0.1] * 3)
    close(layer(A(x)), np.where(x > 0, x, 0.1 * x))
    alpha = randn(rng, 3)
    close(nn.prelu(A(x), A(alpha)), np.maximum(x, 0) + alpha * np.minimum(x, 0))


# --- normalization -------------------------------------------------------------


def np_norm(x, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_layer_norm(rng, fast_path):
    x = randn(rng, 2, 3, 6)
    ln = nn.LayerNorm(6)
    ln.weight = A(randn(rng, 6))
    ln.bias = A(randn(rng, 6))
    close(ln(A(x)), np_norm(x, -1) * N(ln.weight) + N(ln.bias), atol=1e-5)
    close(nn.LayerNorm(6, affine=False)(A(x)), np_norm(x, -1), atol=1e-5)
    nb = nn.LayerNorm(6, bias=False)
    assert "bias" not in nb
    close(nb(A(x)), np_norm(x, -1), atol=1e-5)
    with pytest.raises(ValueError):
        ln(mx.zeros((2, 5)))


def test_rms_norm(rng, fast_path):
    x = randn(rng, 2, 3, 6)
    rms = nn.RMSNorm(6, eps=1e-6)
    rms.weight = A(randn(rng, 6))
    want = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * N(rms.weight)
    close(rms(A(x)), want, atol=1e-5)
    rms.set_dtype(mx.float16)
    half = rms(A(x).astype(mx.float16))
    assert half.dtype == mx.float16
    close(half.astype(mx.float32), want, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("pytorch_compatible", [False, True])
def test_group_norm(rng, pytorch_compatible):
    x = randn(rng, 2, 3, 4, 6)
    gn = nn.GroupNorm(3, 6, pytorch_compatible=pytorch_compatible)
    gn.weight = A(randn(rng, 6))
    gn.bias = A(randn(rng, 6))
    flat = x.reshape(2, -1, 6)
    want = np.empty_like(flat)
    for g in range(3):
        chans = (
            np.arange(2 * g, 2 * g + 2) if pytorch_compatible else np.arange(g, 6, 3)
        )
        want[..., chans] = np_norm(flat[..., chans], (1, 2))
    want = want.reshape(x.shape) * N(gn.weight) + N(gn.bias)
    close(gn(A(x)), want, atol=1e-5)
    with pytest.raises(ValueError):
        nn.GroupNorm(4, 6)


def test_instance_norm(rng):
    x = randn(rng, 2, 3, 5, 4)
    close(nn.InstanceNorm(4)(A(x)), np_norm(x, (1, 2)), atol=1e-5)
    inorm = nn.InstanceNorm(4, affine=True)
    inorm.weight = A(randn(rng, 4))
    close(inorm(A(x)), np_norm(x, (1, 2)) * N(inorm.weight), atol=1e-5)


def test_batch_norm(rng):
    bn = nn.BatchNorm(4, momentum=0.2)
    assert set(bn.trainable_parameters()) == {"weight", "bias"}
    bn.unfreeze()
    assert set(bn.trainable_parameters()) == {"weight", "bias"}
    x = randn(rng, 5, 3, 4)
    close(bn(A(x)), np_norm(x, (0, 1)), atol=1e-5)
    n = 15
    mean, var = x.reshape(-1, 4).mean(0), x.reshape(-1, 4).var(0) * n / (n - 1)
    close(bn.running_mean, 0.2 * mean, atol=1e-6)
    close(bn.running_var, 0.8 + 0.2 * var, atol=1e-6)
    bn.eval()
    y = randn(rng, 2, 4)
    want = (y - N(bn.running_mean)) / np.sqrt(N(bn.running_var) + 1e-5)
    close(bn(A(y)), want, atol=1e-5)
    plain = nn.BatchNorm(4, affine=False, track_running_stats=False)
    assert tree_flatten(plain.parameters()) == []
    plain.eval()
    close(plain(A(x)), np_norm(x, (0, 1)), atol=1e-5)
    with pytest.raises(ValueError):
        bn(mx.zeros((4,)))


# --- dropout -------------------------------------------------------------------


def test_dropout():
    mx.random.seed(0)
    x = mx.ones((200, 100))
    d = nn.Dropout(0.25)
    y = N(d(x))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    np.testing.assert_array_equal(N(d(x)), N(x))
    with pytest.raises(ValueError):
        nn.Dropout(1.0)


@pytest.mark.parametrize(
    "cls, shape", [(nn.Dropout2d, (8, 5, 5, 16)), (nn.Dropout3d, (8, 3, 4, 4, 16))]
)
def test_channel_dropout(cls, shape):
    mx.random.seed(1)
    y = N(cls(0.5)(mx.ones(shape)))
    spatial = tuple(range(1, len(shape) - 1))
    per_channel = y.reshape(shape[0], -1, shape[-1])
    # Each (sample, channel) is either all zero or all 2.
    assert np.all((per_channel == 0).all(1) | (per_channel == 2).all(1))
    assert 0.3 < (y.mean(axis=spatial) > 0).mean() < 0.7
    with pytest.raises(ValueError):
        cls(0.5)(mx.ones((2, 2)))


# --- convolution ---------------------------------------------------------------


def np_conv(x, w, stride, padding, dilation, groups=1):
    """Channels-last convolution: x (N, *S, Ci), w (Co, *K, Ci/groups)."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)])
    kernel = w.shape[1:-1]
    out_sp = [
        (x.shape[1 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i in range(nd)
    ]
    co, cig = w.shape[0], w.shape[-1]
    cog = co // groups
    out = np.zeros((x.shape[0], *out_sp, co))
    for offs in itertools.product(*[range(k) for k in kernel]):
        idx = tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, d, n, s in zip(offs, dilation, out_sp, stride)
        )
        patch = x[(slice(None),) + idx]
        wk = w[(slice(None),) + offs]
        for g in range(groups):
            out[..., g * cog : (g + 1) * cog] += (
                patch[..., g * cig : (g + 1) * cig] @ wk[g * cog : (g + 1) * cog].T
            )
    return out


def np_conv_transpose(x, w, stride, padding, dilation, output_padding):
    """Transpose of np_conv with the same weight layout (Co, *K, Ci)."""
    nd = x.ndim - 2
    kernel = w.shape[1:-1]
    full = [
        (x.shape[1 + i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
        for i in range(nd)
    ]
    out = np.zeros(
        (x.shape[0], *[f + op for f, op in zip(full, output_padding)], w.shape[0])
    )
    for offs in itertools.product(*[range(k) for k in kernel]):
        idx = tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, d, n, s in zip(offs, dilation, x.shape[1:-1], stride)
        )
        out[(slice(None),) + idx] += x @ w[(slice(None),) + offs].T
    crop = tuple(
        slice(
            p,
            p
            + (x.shape[1 + i] - 1) * stride[i]
            - 2 * p
            + dilation[i] * (kernel[i] - 1)
            + output_padding[i]
            + 1,
        )
        for i, p in enumerate(padding)
    )
    return out[(slice(None),) + crop]


CONVS = [
    (nn.Conv1d, dict(in_channels=4, out_channels=6, kernel_size=3), (2, 9, 4)),
    (
        nn.Conv1d,
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=3,
            stride=2,
            padding=1,
            dilation=2,
            groups=2,
        ),
        (2, 11, 4),
    ),
    (
        nn.Conv2d,
        dict(
            in_channels=3,
            out_channels=4,
            kernel_size=(3, 2),
            stride=(1, 2),
            padding=1,
            dilation=(2, 1),
        ),
        (2, 7, 6, 3),
    ),
    (
        nn.Conv2d,
        dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, bias=False),
        (1, 5, 5, 4),
    ),
    (
        nn.Conv3d,
        dict(in_channels=2, out_channels=3, kernel_size=2, padding=1),
        (1, 4, 4, 3, 2),
    ),
]


@pytest.mark.parametrize("cls, kwargs, shape", CONVS)
def test_conv(rng, cls, kwargs, shape):
    layer = cls(**kwargs)
    nd = len(shape) - 2
    x = randn(rng, *shape)

    def tup(v):
        return (v,) * nd if isinstance(v, int) else tuple(v)

    w = N(layer.weight)
    k = tup(kwargs["kernel_size"])
    groups = kwargs.get("groups", 1)
    assert w.shape == (kwargs["out_channels"], *k, kwargs["in_channels"] // groups)
    bound = 1 / math.sqrt(kwargs["in_channels"] * math.prod(k))
    assert np.abs(w).max() <= bound
    layer.update(tree_map(lambda p: A(randn(rng, *p.shape)), layer.parameters()))
    want = np_conv(
        x,
        N(layer.weight),
        tup(kwargs.get("stride", 1)),
        tup(kwargs.get("padding", 0)),
        tup(kwargs.get("dilation", 1)),
        groups,
    )
    if "bias" in layer:
        want = want + N(layer.bias)
    close(layer(A(x)), want, rtol=1e-4, atol=1e-4)
    # An unbatched input gives the first sample.
    close(layer(A(x[0])), want[0], rtol=1e-4, atol=1e-4)


def test_conv_validates_channels():
    with pytest.raises(ValueError, match=r"\[Conv2d\] expected last dimension 3"):
        nn.Conv2d(3, 4, 3)(mx.zeros((1, 5, 5, 2)))
    with pytest.raises(ValueError):
        nn.Conv1d(3, 4, 3, groups=2)


CONV_TRANSPOSES = [
    (nn.ConvTranspose1d, dict(in_channels=4, out_channels=3, kernel_size=3), (2, 5, 4)),
    (
        nn.ConvTranspose1d,
        dict(
            in_channels=4,
            out_channels=3,
            kernel_size=3,
            stride=2,
            padding=1,
            output_padding=1,
        ),
        (2, 5, 4),
    ),
    (
        nn.ConvTranspose2d,
        dict(
            in_channels=2,
            out_channels=3,
            kernel_size=(3, 2),
            stride=2,
            padding=(1, 0),
            dilation=(1, 2),
        ),
        (1, 4, 3, 2),
    ),
    (
        nn.ConvTranspose3d,
        dict(in_channels=2, out_channels=3, kernel_size=2, stride=2),
        (1, 2, 3, 2, 2),
    ),
]


@pytest.mark.parametrize("cls, kwargs, shape", CONV_TRANSPOSES)
def test_conv_transpose(rng, cls, kwargs, shape):
    layer = cls(**kwargs)
    nd = len(shape) - 2

    def tup(v):
        return (v,) * nd if isinstance(v, int) else tuple(v)

    k = tup(kwargs["kernel_size"])
    assert layer.weight.shape == (kwargs["out_channels"], *k, kwargs["in_channels"])
    layer.update(tree_map(lambda p: A(randn(rng, *p.shape)), layer.parameters()))
    x = randn(rng, *shape)
    want = np_conv_transpose(
        x,
        N(layer.weight),
        tup(kwargs.get("stride", 1)),
        tup(kwargs.get("padding", 0)),
        tup(kwargs.get("dilation", 1)),
        tup(kwargs.get("output_padding", 0)),
    ) + N(layer.bias)
    close(layer(A(x)), want, rtol=1e-4, atol=1e-4)


# --- pooling -------------------------------------------------------------------


def np_pool(x, kernel, stride, padding, kind):
    nd = x.ndim - 2
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], constant_values=fill)
    out_sp = [(x.shape[1 + i] - kernel[i]) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((x.shape[0], *out_sp, x.shape[-1]))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        idx = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel))
        win = x[(slice(None),) + idx + (slice(None),)]
        axes = tuple(range(1, 1 + nd))
        out[(slice(None),) + pos] = win.max(axes) if kind == "max" else win.mean(axes)
    return out


POOLS = [
    (nn.MaxPool1d, "max", (2, 9, 3), (3,), (2,), (1,)),
    (nn.AvgPool1d, "avg", (2, 9, 3), (2,), (2,), (0,)),
    (nn.MaxPool2d, "max", (2, 5, 7, 3), (2, 3), (1, 2), (1, 1)),
    (nn.AvgPool2d, "avg", (2, 5, 7, 3), (3, 3), (2, 1), (1, 1)),
    (nn.MaxPool3d, "max", (1, 4, 4, 5, 2), (2, 2, 2), (2, 2, 2), (0, 0, 0)),
    (nn.AvgPool3d, "avg", (1, 3, 4, 5, 2), (2, 2, 2), (1, 1, 1), (1, 1, 1)),
]


@pytest.mark.parametrize("cls, kind, shape, kernel, stride, padding", POOLS)
def test_pool(rng, cls, kind, shape, kernel, stride, padding):
    x = randn(rng, *shape)
    layer = cls(kernel, stride, padding)
    close(layer(A(x)), np_pool(x, kernel, stride, padding, kind), atol=1e-6)
    # Integer arguments and the default stride (= kernel size).
    close(
        cls(kernel[0])(A(x)),
        np_pool(
            x,
            (kernel[0],) * len(kernel),
            (kernel[0],) * len(kernel),
            (0,) * len(kernel),
            kind,
        ),
        atol=1e-6,
    )


# --- recurrent -----------------------------------------------------------------


def test_rnn(rng):
    layer = nn.RNN(3, 4)
    x = randn(rng, 2, 5, 3)
    Wxh, Whh, b = N(layer.Wxh), N(layer.Whh), N(layer.bias)
    h = np.zeros((2, 4))
    want = []
    for t in range(5):
        h = np.tanh(x[:, t] @ Wxh.T + b + h @ Whh.T)
        want.append(h)
    close(layer(A(x)), np.stack(want, 1), atol=1e-5)
    h0 = randn(rng, 4)
    relu_rnn = nn.RNN(3, 4, bias=False, nonlinearity=nn.relu)
    Wxh, Whh = N(relu_rnn.Wxh), N(relu_rnn.Whh)
    h = h0
    want = []
    for t in range(5):
        h = np.maximum(x[0, t] @ Wxh.T + h @ Whh.T, 0)
        want.append(h)
    close(relu_rnn(A(x[0]), A(h0)), np.stack(want), atol=1e-5)
    with pytest.raises(ValueError):
        nn.RNN(3, 4, nonlinearity="tanh")


@pytest.mark.parametrize("with_hidden", [False, True])
def test_gru(rng, with_hidden):
    layer = nn.GRU(3, 4)
    x = randn(rng, 2, 5, 3)
    Wx, Wh, b, bhn = (N(layer[k]) for k in ("Wx", "Wh", "b", "bhn"))
    h = randn(rng, 2, 4) if with_hidden else np.zeros((2, 4), np.float32)
    h0 = h
    want = []
    for t in range(5):
        gx = x[:, t] @ Wx.T + b
        gh = h @ Wh.T
        r = np_sigmoid(gx[:, :4] + gh[:, :4])
        z = np_sigmoid(gx[:, 4:8] + gh[:, 4:8])
        n = np.tanh(gx[:, 8:] + r * (gh[:, 8:] + bhn))
        h = (1 - z) * n + z * h
        want.append(h)
    got = layer(A(x), A(h0)) if with_hidden else layer(A(x))
    close(got, np.stack(want, 1), atol=1e-5)


def test_lstm(rng):
    layer = nn.LSTM(3, 4)
    x = randn(rng, 2, 5, 3)
    Wx, Wh, b = N(layer.Wx), N(layer.Wh), N(layer.bias)
    h, c = randn(rng, 2, 4), randn(rng, 2, 4)
    h0, c0 = h, c
    hs, cs = [], []
    for t in range(5):
        g = x[:, t] @ Wx.T + b + h @ Wh.T
        i, f = np_sigmoid(g[:, :4]), np_sigmoid(g[:, 4:8])
        gg, o = np.tanh(g[:, 8:12]), np_sigmoid(g[:, 12:])
        c = f * c + i * gg
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
    got_h, got_c = layer(A(x), A(h0), A(c0))
    close(got_h, np.stack(hs, 1), atol=1e-5)
    close(got_c, np.stack(cs, 1), atol=1e-5)
    assert layer(A(x))[0].shape == (2, 5, 4)


# --- attention and transformers --------------------------------------------------


def np_linear(layer, x):
    y = x @ N(layer.weight).T
    return y + N(layer.bias) if "bias" in layer else y


def np_mha(m, q, k, v, mask=None):
    h = m.num_heads
    Q, K, V = (
        np_linear(m.query_proj, q),
        np_linear(m.key_proj, k),
        np_linear(m.value_proj, v),
    )
    B, L, _ = Q.shape
    S = K.shape[1]
    Q = Q.reshape(B, L, h, -1).transpose(0, 2, 1, 3)
    K = K.reshape(B, S, h, -1).transpose(0, 2, 1, 3)
    V = V.reshape(B, S, h, -1).transpose(0, 2, 1, 3)
    scores = Q @ K.transpose(0, 1, 3, 2) / math.sqrt(Q.shape[-1])
    if mask is not None:
        if mask.dtype == bool:
            scores = np.where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    out = np_softmax(scores) @ V
    return np_linear(m.out_proj, out.transpose(0, 2, 1, 3).reshape(B, L, -1))


@pytest.mark.parametrize("mask_kind", [None, "additive", "bool"])
def test_multi_head_attention(rng, fast_path, mask_kind):
    m = nn.MultiHeadAttention(8, 2, value_dims=6, value_output_dims=5, bias=True)
    q, k, v = randn(rng, 2, 4, 8), randn(rng, 2, 4, 8), randn(rng, 2, 4, 8)
    mask = None
    if mask_kind == "additive":
        mask = N(nn.MultiHeadAttention.create_additive_causal_mask(4))
        assert mask[0, 1] < -1e30 and mask[1, 0] == 0
    elif mask_kind == "bool":
        mask = rng.random((4, 4)) > 0.3
        mask[:, 0] = True
    got = m(A(q), A(k), A(v), None if mask is None else A(mask))
    close(got, np_mha(m, q, k, v, mask), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        nn.MultiHeadAttention(8, 3)


def np_layer_norm(ln, x):
    return np_norm(x, -1) * N(ln.weight) + N(ln.bias)


def np_encoder_layer(l, x, mask, norm_first):
    def mlp(y):
        return np_linear(l.linear2, np.maximum(np_linear(l.linear1, y), 0))

    if norm_first:
        y = np_layer_norm(l.ln1, x)
        x = x + np_mha(l.attention, y, y, y, mask)
        return x + mlp(np_layer_norm(l.ln2, x))
    x = np_layer_norm(l.ln1, x + np_mha(l.attention, x, x, x, mask))
    return np_layer_norm(l.ln2, x + mlp(x))


def np_decoder_layer(l, x, mem, x_mask, norm_first):
    def mlp(y):
        return np_linear(l.linear2, np.maximum(np_linear(l.linear1, y), 0))

    if norm_first:
        y = np_layer_norm(l.ln1, x)
        x = x + np_mha(l.self_attention, y, y, y, x_mask)
        y = np_layer_norm(l.ln2, x)
        x = x + np_mha(l.cross_attention, y, mem, mem)
        return x + mlp(np_layer_norm(l.ln3, x))
    x = np_layer_norm(l.ln1, x + np_mha(l.self_attention, x, x, x, x_mask))
    x = np_layer_norm(l.ln2, x + np_mha(l.cross_attention, x, mem, mem))
    return np_layer_norm(l.ln3, x + mlp(x))


def randomize(module, rng):
    module.update(
        tree_map(lambda p: A(randn(rng, *p.shape) * 0.5), module.parameters())
    )


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_encoder_decoder(rng, fast_path, norm_first):
    enc = nn.TransformerEncoder(2, 8, 2, 16, norm_first=norm_first)
    dec = nn.TransformerDecoder(2, 8, 2, 16, norm_first=norm_first)
    randomize(enc, rng)
    randomize(dec, rng)
    src, tgt = randn(rng, 2, 3, 8), randn(rng, 2, 4, 8)
    mask = N(nn.MultiHeadAttention.create_additive_causal_mask(4))

    want = src
    for layer in enc.layers:
        want = np_encoder_layer(layer, want, None, norm_first)
    memory = np_layer_norm(enc.ln, want)
    close(enc(A(src), None), memory, rtol=1e-4, atol=1e-4)

    want = tgt
    for layer in dec.layers:
        want = np_decoder_layer(layer, want, memory, mask, norm_first)
    want = np_layer_norm(dec.ln, want)
    close(dec(A(tgt), A(memory), A(mask), None), want, rtol=1e-4, atol=1e-4)

    t = nn.Transformer(8, 2, 1, 1, 16, norm_first=norm_first)
    assert t(A(src), A(tgt), None, A(mask), None).shape == (2, 4, 8)
    keys = [k for k, _ in tree_flatten(t.parameters())]
    assert "encoder.layers.0.attention.query_proj.weight" in keys
    assert "decoder.layers.0.cross_attention.out_proj.weight" in keys
    assert "decoder.ln.bias" in keys


def test_transformer_checkpoint_matches(rng):
    mx.random.seed(0)
    enc = nn.TransformerEncoder(1, 8, 2, 16)
    x = A(randn(rng, 2, 3, 8))
    want = enc(x, None)
    enc.checkpoint = True
    close(enc(x, None), N(want), atol=1e-6)


# --- positional encodings --------------------------------------------------------


def np_rope(x, dims, traditional, base, scale, offset):
    L = x.shape[-2]
    half = dims // 2
    pos = (np.arange(L) + offset) * scale
    theta = pos[:, None] * base ** (-np.arange(half) * 2 / dims)[None]
    cos, sin = np.cos(theta), np.sin(theta)
    out = x.astype(np.float64).copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * cos - x2 * sin
        out[..., 1:dims:2] = x1 * sin + x2 * cos
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
        out[..., :half] = x1 * cos - x2 * sin
        out[..., half:dims] = x1 * sin + x2 * cos
    return out


@pytest.mark.parametrize(
    "dims, traditional, base, scale, offset",
    [(8, False, 10000, 1.0, 0), (6, False, 10000, 1.0, 2), (8, True, 100, 0.5, 3)],
)
def test_rope(rng, fast_path, dims, traditional, base, scale, offset):
    x = randn(rng, 2, 3, 5, 8)
    layer = nn.RoPE(dims, traditional=traditional, base=base, scale=scale)
    want = np_rope(x, dims, traditional, base, scale, offset)
    close(layer(A(x), offset=offset), want, rtol=1e-4, atol=1e-4)


def test_sinusoidal_positional_encoding(rng):
    pos = np.arange(5, dtype=np.float32)
    layer = nn.SinusoidalPositionalEncoding(8)
    sig = np.exp(np.linspace(0, math.log(1e-4), 4))
    y = pos[:, None] * sig
    close(
        layer(A(pos)),
        np.concatenate([np.sin(y), np.cos(y)], -1) * math.sqrt(2 / 8),
        atol=1e-5,
    )
    layer = nn.SinusoidalPositionalEncoding(
        10, min_freq=0.01, max_freq=2, scale=1.0, cos_first=True, full_turns=True
    )
    sig = np.exp(np.linspace(math.log(2), math.log(0.01), 5)) * 2 * math.pi
    p = randn(rng, 3, 2)
    y = p[..., None] * sig
    close(layer(A(p)), np.concatenate([np.cos(y), np.sin(y)], -1), rtol=1e-4, atol=1e-4)


def test_alibi(rng):
    scores = randn(rng, 2, 4, 3, 5)
    slopes = 2.0 ** (-8 * np.arange(1, 5) / 4)
    q = np.arange(3)[:, None] + 2
    k = np.arange(5)[None]
    bias = -np.abs(q - k)[None, None] * slopes[None, :, None, None]
    mask = randn(rng, 3, 5)
    close(
        nn.ALiBi()(A(scores), offset=2, mask=A(mask)), scores + bias + mask, atol=1e-5
    )
    close(
        nn.ALiBi()(A(scores)),
        scores - np.abs(np.arange(3)[:, None] - k) * slopes[:, None, None],
        atol=1e-5,
    )


# --- upsampling ----------------------------------------------------------------


def np_positions(n, m, s, align_corners):
    i = np.arange(m)
    if align_corners:
        return i * (n - 1) / max(m - 1, 1)
    return (i + 0.5 + (n * s - m) / 2) / s - 0.5


def np_cubic_weight(d, a=-0.75):
    d = np.abs(d)
    return np.where(
        d <= 1,
        ((a + 2) * d - (a + 3)) * d * d + 1,
        np.where(d < 2, a * (((d - 5) * d + 8) * d - 4), 0.0),
    )


def np_upsample_axis(x, axis, s, mode, align_corners):
    n = x.shape[axis]
    m = int(math.floor(n * s))
    pos = np_positions(n, m, s, align_corners and mode != "nearest")
    take = lambda idx: np.take(x, np.clip(idx, 0, n - 1), axis=axis)  # noqa: E731
    shape = [1] * x.ndim
    shape[axis] = m
    if mode == "nearest":
        return take(np.round(pos).astype(int))
    if mode == "linear":
        pos = np.clip(pos, 0, n - 1)
        lo = np.floor(pos).astype(int)
        t = (pos - lo).reshape(shape)
        return take(lo) * (1 - t) + take(lo + 1) * t
    lo = np.floor(pos).astype(int)
    out = 0
    for k in (-1, 0, 1, 2):
        out = out + take(lo + k) * np_cubic_weight(pos - (lo + k)).reshape(shape)
    return out


@pytest.mark.parametrize(
    "scale, mode, align_corners, shape",
    [
        (2, "nearest", False, (1, 3, 4, 2)),
        ((2, 1.5), "nearest", False, (1, 3, 5, 2)),
        ((2, 1.5), "linear", False, (1, 3, 5, 2)),
        (2.5, "linear", True, (1, 3, 5, 2)),
        ((2, 3), "cubic", False, (1, 3, 5, 2)),
        (1.5, "cubic", True, (2, 3, 5, 2)),
        (1.5, "linear", False, (2, 5, 2)),
        (2, "linear", False, (1, 2, 3, 2, 2)),
    ],
)
def test_upsample(rng, scale, mode, align_corners, shape):
    x = randn(rng, *shape)
    nd = len(shape) - 2
    scales = scale if isinstance(scale, tuple) else (scale,) * nd
    want = x
    for axis, s in enumerate(scales, start=1):
        want = np_upsample_axis(want, axis, s, mode, align_corners)
    got = nn.Upsample(scale, mode, align_corners)(A(x))
    close(got, want, rtol=1e-5, atol=1e-5)


def test_upsample_nearest_integer_scale_repeats():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    got = N(nn.Upsample(2)(A(x)))
    np.testing.assert_array_equal(got, x.repeat(2, 1).repeat(2, 2))
    with pytest.raises(ValueError):
        nn.Upsample(2, mode="area")


# --- losses --------------------------------------------------------------------


def reduce_np(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses(rng, reduction):
    L = nn.losses
    p, t = randn(rng, 3, 4), randn(rng, 3, 4)
    r = reduction

    close(L.mse_loss(A(p), A(t), r), reduce_np((p - t) ** 2, r))
    close(L.l1_loss(A(p), A(t), r), reduce_np(np.abs(p - t), r))
    d = np.abs(p - t)
    close(
        L.smooth_l1_loss(A(p), A(t), 0.5, r),
        reduce_np(np.where(d < 0.5, 0.5 * d**2 / 0.5, d - 0.25), r),
    )
    close(
        L.huber_loss(A(p), A(t), 0.7, r),
        reduce_np(np.where(d <= 0.7, 0.5 * d**2, 0.7 * (d - 0.35)), r),
    )
    close(L.log_cosh_loss(A(p), A(t), r), reduce_np(np.log(np.cosh(p - t)), r))
    y = np.sign(randn(rng, 3, 4))
    close(L.hinge_loss(A(p), A(y), r), reduce_np(np.maximum(1 - p * y, 0), r))
    close(
        L.margin_ranking_loss(A(p), A(t), A(y), 0.2, r),
        reduce_np(np.maximum(0, -y * (p - t) + 0.2), r),
    )
    var = np.abs(randn(rng, 3, 4)) + 0.1
    close(
        L.gaussian_nll_loss(A(p), A(t), A(var), True, reduction=r),
        reduce_np(
            0.5 * (np.log(var) + (t - p) ** 2 / var) + 0.5 * math.log(2 * math.pi), r
        ),
        rtol=1e-4,
    )
    cos = (p * t).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1))
    close(L.cosine_similarity_loss(A(p), A(t), reduction=r), reduce_np(cos, r))
    n = randn(rng, 3, 4)
    trip = np.maximum(
        np.sqrt(((p - t) ** 2).sum(-1) + 1e-6)
        - np.sqrt(((p - n) ** 2).sum(-1) + 1e-6)
        + 1.0,
        0,
    )
    close(L.triplet_loss(A(p), A(t), A(n), reduction=r), reduce_np(trip, r), rtol=1e-4)

    logp = np.log(np_softmax(p))
    logq = np.log(np_softmax(t))
    close(
        L.kl_div_loss(A(logp), A(logq), reduction=r),
        reduce_np((np.exp(logq) * (logq - logp)).sum(-1), r),
        atol=1e-5,
    )
    cls = np.array([0, 3, 1])
    close(
        L.nll_loss(A(logp), A(cls), reduction=r), reduce_np(-logp[np.arange(3), cls], r)
    )

    probs = np_sigmoid(p)
    bt = (randn(rng, 3, 4) > 0).astype(np.float32)
    bce = -(bt * np.log(probs) + (1 - bt) * np.log(1 - probs))
    close(
        L.binary_cross_entropy(A(p), A(bt), reduction=r), reduce_np(bce, r), atol=1e-5
    )
    close(
        L.binary_cross_entropy(A(probs), A(bt), with_logits=False, reduction=r),
        reduce_np(bce, r),
        atol=1e-5,
    )
    w = np.abs(randn(rng, 3, 4))
    close(
        L.binary_cross_entropy(A(p), A(bt), weights=A(w), reduction=r),
        reduce_np(bce * w, r),
        atol=1e-5,
    )


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy(rng, reduction):
    logits = randn(rng, 3, 5)
    cls = np.array([0, 4, 2])
    logp = np.log(np_softmax(logits))
    want = -logp[np.arange(3), cls]
    ce = nn.losses.cross_entropy
    close(ce(A(logits), A(cls), reduction=reduction), reduce_np(want, reduction))
    probs = np_softmax(randn(rng, 3, 5))
    close(
        ce(A(logits), A(probs), reduction=reduction),
        reduce_np(-(probs * logp).sum(-1), reduction),
    )
    w = np.abs(randn(rng, 3))
    ls = 0.2
    smoothed = (1 - ls) * want - ls * logp.mean(-1)
    close(
        ce(A(logits), A(cls), weights=A(w), label_smoothing=ls, reduction=reduction),
        reduce_np(smoothed * w, reduction),
    )
    close(
        ce(A(logits.T), A(cls), axis=0, reduction=reduction),
        reduce_np(want, reduction),
    )


def test_loss_validation():
    L = nn.losses
    with pytest.raises(ValueError):
        L.mse_loss(mx.zeros((2, 3)), mx.zeros((3, 2)))
    with pytest.raises(ValueError):
        L.mse_loss(mx.zeros(2), mx.zeros(2), reduction="avg")
    with pytest.raises(ValueError):
        L.cross_entropy(mx.zeros((2, 3)), mx.array([0, 1, 2]))
    with pytest.raises(ValueError):
        L.cross_entropy(mx.zeros((2, 3)), mx.array([0, 1]), label_smoothing=1.0)


def test_binary_cross_entropy_probabilities_at_bounds():
    loss = nn.losses.binary_cross_entropy(
        mx.array([0.0, 1.0]), mx.array([1.0, 0.0]), with_logits=False, reduction="none"
    )
    close(loss, [100.0, 100.0])


# --- initializers ----------------------------------------------------------------


def test_init_constant_identity():
    a = mx.zeros((3, 3))
    close(nn.init.constant(0.5)(a), np.full((3, 3), 0.5))
    close(nn.init.identity()(a), np.eye(3))
    assert nn.init.constant(1, dtype=mx.float16)(a).dtype == mx.float16
    with pytest.raises(ValueError):
        nn.init.identity()(mx.zeros((2, 3)))


def test_init_distributions():
    mx.random.seed(0)
    a = mx.zeros((200, 300))
    fan_in, fan_out = 300, 200

    def stats(x):
        x = N(x)
        return x.mean(), x.std(), np.abs(x).max()

    m, s, _ = stats(nn.init.normal(1.0, 2.0)(a))
    assert abs(m - 1.0) < 0.05 and abs(s - 2.0) < 0.05
    m, s, top = stats(nn.init.uniform(-1.0, 3.0)(a))
    assert abs(m - 1.0) < 0.05 and N(nn.init.uniform(-1.0, 3.0)(a)).min() >= -1.0
    _, s, _ = stats(nn.init.glorot_normal()(a))
    assert abs(s - math.sqrt(2 / (fan_in + fan_out))) < 0.003
    _, _, top = stats(nn.init.glorot_uniform()(a, gain=2.0))
    assert top <= 2 * math.sqrt(6 / (fan_in + fan_out)) + 1e-6
    _, s, _ = stats(nn.init.he_normal()(a))
    assert abs(s - 1 / math.sqrt(fan_in)) < 0.003
    _, s, _ = stats(nn.init.he_normal()(a, mode="fan_out", gain=2.0))
    assert abs(s - 2 / math.sqrt(fan_out)) < 0.006
    _, _, top = stats(nn.init.he_uniform()(a))
    assert top <= math.sqrt(3 / fan_in) + 1e-6
    conv = mx.zeros((8, 3, 3, 4))
    _, s, _ = stats(nn.init.he_normal()(conv))
    assert abs(s - 1 / math.sqrt(4 * 9)) < 0.05
    with pytest.raises(ValueError):
        nn.init.glorot_normal()(mx.zeros((3,)))


def test_init_sparse_and_orthogonal():
    mx.random.seed(0)
    w = N(nn.init.sparse(0.25)(mx.zeros((8, 5))))
    assert ((w == 0).sum(axis=0) == 2).all()
    for shape in [(6, 6), (4, 7), (7, 4)]:
        q = N(nn.init.orthogonal(gain=2.0)(mx.zeros(shape)))
        small = min(shape)
        gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-4)


# --- quantized layers ------------------------------------------------------------


def test_quantized_linear(rng):
    lin = nn.Linear(64, 8)
    x = randn(rng, 3, 64)
    q = lin.to_quantized(group_size=32, bits=8)
    assert isinstance(q, nn.QuantizedLinear)
    w = N(mx.dequantize(q.weight, q.scales, q.biases, group_size=32, bits=8))
    close(q(A(x)), x @ w.T + N(lin.bias), rtol=1e-4, atol=1e-4)
    close(q(A(x)), N(lin(A(x))), rtol=0.05, atol=0.05)
    assert set(q.trainable_parameters()) == {"bias"}

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Embedding(10, 64))
    nn.quantize(model, group_size=64, bits=4)
    assert isinstance(model.layers[0], nn.QuantizedLinear)
    assert isinstance(model.layers[2], nn.QuantizedEmbedding)
    e = model.layers[2]
    table = N(mx.dequantize(e.weight, e.scales, e.biases, group_size=64, bits=4))
    close(e(A(np.array([1, 7]))), table[[1, 7]], atol=1e-5)


# --- value_and_grad, training -----------------------------------------------------


def test_value_and_grad_matches_finite_differences(rng):
    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    model.set_dtype(mx.float32)
    x, y = A(randn(rng, 4, 3)), A(randn(rng, 4, 2))

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y)

    value, grads = nn.value_and_grad(model, loss_fn)(x, y)
    assert float(value) == pytest.approx(float(loss_fn(x, y)), rel=1e-6)
    assert shapes(grads) == shapes(model.trainable_parameters())

    flat = dict(tree_flatten(model.parameters()))
    direction = {k: A(randn(rng, *v.shape)) for k, v in flat.items()}
    eps = 1e-2

    def shifted(sign):
        model.update(
            tree_map(lambda p, d: p + sign * eps * d, _unflat(flat), _unflat(direction))
        )
        out = float(loss_fn(x, y))
        model.update(_unflat(flat))
        return out

    numeric = (shifted(1) - shifted(-1)) / (2 * eps)
    analytic = sum(float(mx.sum(g * direction[k])) for k, g in tree_flatten(grads))
    assert analytic == pytest.approx(numeric, rel=2e-2, abs=1e-3)


def _unflat(flat):
    from mlx.utils import tree_unflatten

    return tree_unflatten(list(flat.items()))


def test_value_and_grad_skips_frozen_parameters(rng):
    model = nn.Linear(3, 2)
    model.freeze(keys="bias")
    _, grads = nn.value_and_grad(model, lambda x: model(x).sum())(A(randn(rng, 4, 3)))
    assert set(grads) == {"weight"}


def test_mlp_training_reaches_low_loss():
    mx.random.seed(42)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = (np.sin(3 * x[:, :1]) * np.cos(2 * x[:, 1:])).astype(np.float32)
    X, Y = A(x), A(y)

    model = nn.Sequential(
        nn.Linear(2, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 1)
    )
    optimizer = optim.Adam(learning_rate=optim.cosine_decay(3e-2, 400, 1e-3))

    def loss_fn(x, y):
        return nn.losses.mse_loss(model(x), y)

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    initial = float(loss_fn(X, Y))
    for _ in range(400):
        loss, grads = loss_and_grad(X, Y)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
    final = float(loss_fn(X, Y))
    assert final < 0.01, (initial, final)
    assert final < initial / 10


def test_classifier_training_with_cross_entropy():
    mx.random.seed(1)
    rng = np.random.default_rng(1)
    centers = np.array([[2, 0], [-2, 0], [0, 2]], np.float32)
    labels = rng.integers(0, 3, 300)
    x = centers[labels] + 0.5 * rng.standard_normal((300, 2)).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = optim.SGD(learning_rate=0.5, momentum=0.9)

    def loss_fn(x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    X, Y = A(x), A(labels)
    for _ in range(100):
        _, grads = loss_and_grad(X, Y)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
    accuracy = float(mx.mean(mx.argmax(model(X), axis=1) == Y))
    assert accuracy > 0.95


def test_average_gradients_single_process():
    grads = {"w": mx.ones((2, 2)), "b": [mx.zeros((3,))]}
    out = nn.average_gradients(grads)
    for (k1, v1), (k2, v2) in zip(tree_flatten(out), tree_flatten(grads)):
        assert k1 == k2
        np.testing.assert_array_equal(N(v1), N(v2))


def test_attention_causal_string_mask(rng, fast_path):
    q, k, v = (A(randn(rng, 2, 2, 4, 8)) for _ in range(3))
    additive = nn.MultiHeadAttention.create_additive_causal_mask(4)
    want = transformer.scaled_dot_product_attention(q, k, v, 0.5, additive)
    got = transformer.scaled_dot_product_attention(q, k, v, 0.5, "causal")
    close(got, N(want), atol=1e-5)
