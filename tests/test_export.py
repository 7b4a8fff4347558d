"""mx.export_function / mx.import_function / mx.exporter: round trips of traced graphs,
multiple traces, keyword inputs, shapeless replay, bad files, and transforms of imported
functions (compared with the original function)."""

import os
import struct

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from conftest import float64_on_cpu

RNG = np.random.default_rng(0)


def _arr(*shape, lo=-1.0, hi=1.0, dtype=mx.float32):
    return mx.array(RNG.uniform(lo, hi, size=shape).astype(np.float64), dtype=dtype)


def _close(a, b, tol=1e-5):
    if isinstance(a, mx.array) and a.dtype == mx.bfloat16:
        assert b.dtype == mx.bfloat16
        a, b = a.astype(mx.float32), b.astype(mx.float32)
    a, b = np.array(a), np.array(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    t = np.complex128 if np.iscomplexobj(a) else np.float64
    np.testing.assert_allclose(a.astype(t), b.astype(t), rtol=tol, atol=tol)


def roundtrip(tmp_path, fun, *args, name="f.mlxfn", **kwargs):
    """Exports fun on the example inputs, imports it and checks the outputs against fun."""
    path = str(tmp_path / name)
    mx.export_function(path, fun, *args, **kwargs)
    imported = mx.import_function(path)
    out = imported(*args, **kwargs)
    assert isinstance(out, tuple)
    want = fun(*args, **kwargs)
    want = [want] if isinstance(want, mx.array) else list(want)
    assert len(out) == len(want)
    for o, w in zip(out, want):
        _close(o, w)
    return imported


# ---------------------------------------------------------------- round trips


def test_elementwise(tmp_path):
    def f(x, y):
        a = mx.exp(x) * y - mx.sin(y) / (1.0 + x * x)
        b = mx.maximum(x, y) + mx.where(x > 0, x, -y)
        c = mx.logical_and(x > 0, y < 0)
        return a, b, c, mx.abs(x).astype(mx.float16), x // 0.3, mx.arctan2(x, y)

    roundtrip(tmp_path, f, _arr(3, 4), _arr(3, 4))
    # broadcasting and scalars
    roundtrip(tmp_path, lambda x, y: x + y * 2, _arr(3, 1), _arr(4), name="b.mlxfn")
    roundtrip(tmp_path, lambda x: -x, mx.array(2.5), name="s.mlxfn")


def test_integer_and_bool_dtypes(tmp_path):
    def f(x, y):
        return x * y + 3, x & y, x << 1, x % 5, mx.divmod(x, 3)[0], mx.logical_not(x > y)

    roundtrip(tmp_path, f, mx.array([[1, 7], [-3, 4]], dtype=mx.int32), mx.array([[2, 2], [5, 1]], dtype=mx.int32))
    roundtrip(tmp_path, lambda x: x.astype(mx.uint8) + 1, mx.array([1, 2, 250], dtype=mx.int64), name="u.mlxfn")


def test_reductions(tmp_path):
    def f(x):
        return (x.sum(), x.mean(axis=1), x.max(axis=0, keepdims=True), mx.prod(x, axis=-1),
                mx.argmax(x, axis=1), mx.argmin(x, axis=0), mx.logsumexp(x, axis=1), mx.var(x, axis=0),
                mx.all(x > -2), mx.any(x > 0.9, axis=1), mx.cumsum(x, axis=1), mx.sort(x, axis=0),
                mx.argsort(x, axis=1))

    roundtrip(tmp_path, f, _arr(4, 5))


def test_matmul_and_shapes(tmp_path):
    def f(a, b, v):
        y = a @ b
        z = mx.transpose(y, (1, 0)).reshape(-1)
        w = mx.concatenate([y, a[:, :2]], axis=1)
        return y, z, w, v @ b, mx.stack([a[0], a[1]]), mx.expand_dims(v, 0) * 2, mx.squeeze(y[:1], 0)

    roundtrip(tmp_path, f, _arr(3, 4), _arr(4, 5), _arr(4))
    roundtrip(tmp_path, lambda a, b: mx.matmul(a, b), _arr(2, 3, 4), _arr(4, 2), name="bm.mlxfn")
    roundtrip(tmp_path, lambda a: mx.addmm(a[0], a, a.T), _arr(3, 3), name="addmm.mlxfn")


def test_slicing_and_indexing(tmp_path):
    idx = mx.array([2, 0, 1, 2])

    def f(x, i):
        return (x[1:, ::2], x[::-1], x[:, -1], x[i], x[:, i], x[i, i], mx.take_along_axis(x, mx.argsort(x, 1), 1),
                x[..., None], mx.take(x, i, axis=1), x.at[i].add(1.0))

    roundtrip(tmp_path, f, _arr(3, 4), idx)

    def g(x):
        y = mx.zeros((4, 4))
        y[1:3, 1:3] = x
        return y, mx.pad(x, 1), mx.split(x, 2, axis=1)[1]

    roundtrip(tmp_path, g, _arr(2, 2), name="g.mlxfn")


def test_softmax_and_nn_functions(tmp_path):
    def f(x):
        return (mx.softmax(x, axis=-1), mx.softmax(x, axis=0), nn.gelu(x), nn.relu(x), nn.silu(x),
                nn.log_softmax(x), mx.sigmoid(x), mx.erf(x))

    roundtrip(tmp_path, f, _arr(3, 6))


def test_conv(tmp_path):
    w1 = _arr(4, 3, 2)
    w2 = _arr(6, 3, 3, 2)

    def f(x1, x2):
        return (mx.conv1d(x1, w1, stride=2, padding=1), mx.conv2d(x2, w2, padding=(1, 0), dilation=(1, 2)),
                mx.conv_transpose1d(x1, mx.swapaxes(w1, 0, 2).astype(mx.float32)[..., :2].swapaxes(0, 2)))

    roundtrip(tmp_path, f, _arr(2, 9, 2), _arr(1, 7, 8, 2))
    conv = nn.Conv2d(2, 3, kernel_size=3, groups=1)
    roundtrip(tmp_path, lambda x: conv(x), _arr(1, 6, 6, 2), name="c.mlxfn")


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(5, 16)
        self.norm = nn.LayerNorm(16)
        self.l2 = nn.Linear(16, 3)

    def __call__(self, x):
        return self.l2(nn.relu(self.norm(self.l1(x))))


def test_module_forward_with_captured_parameters(tmp_path):
    model = MLP()
    mx.eval(model.parameters())
    x = _arr(7, 5)
    imported = roundtrip(tmp_path, lambda x: model(x), x)
    # parameters were stored in the file: changing the model doesn't change the import
    want = model(x)
    model.l2.bias = model.l2.bias + 100
    _close(imported(x)[0], want)
    # the file holds the weights at their own size (no broadcast copies)
    n_params = sum(v.size for _, v in __import__("mlx.utils", fromlist=["x"]).tree_flatten(model.parameters()))
    assert os.path.getsize(tmp_path / "f.mlxfn") < 4 * n_params + 8000


def test_captured_constants_and_non_contiguous(tmp_path):
    w = _arr(4, 3).T  # a transposed view
    b = mx.broadcast_to(mx.array([1.0, 2.0, 3.0, 4.0]), (2, 4))
    roundtrip(tmp_path, lambda x: x @ w + b, _arr(2, 3))
    # lazy constants are evaluated at export
    c = mx.arange(6).reshape(2, 3) * 2
    roundtrip(tmp_path, lambda x: x * c, _arr(2, 3), name="c.mlxfn")


def test_identity_constant_outputs_and_no_inputs(tmp_path):
    x = _arr(3)
    imported = roundtrip(tmp_path, lambda a: (a, mx.array([1.0, 2.0]), a + 1), x)
    out = imported(x + 1)
    _close(out[0], x + 1)
    imported = roundtrip(tmp_path, lambda: mx.ones((2, 2)) * 3, name="n.mlxfn")


def test_fast_ops_and_compiled_and_custom(tmp_path):
    w = _arr(8)

    @mx.compile
    def fused(x):
        return mx.tanh(x * 2 + 1) * x

    @mx.custom_function
    def cf(x):
        return mx.sin(x)

    @cf.vjp
    def cf_vjp(primals, cotangent, output):
        return mx.cos(primals[0]) * cotangent

    def f(x, q):
        return (mx.fast.rms_norm(x, w, 1e-5), mx.fast.layer_norm(x, w, None, 1e-5), fused(x), cf(x),
                mx.fast.rope(q, 8, traditional=False, base=10000.0, scale=1.0, offset=3),
                mx.fast.scaled_dot_product_attention(q, q, q, scale=0.5, mask="causal"))

    roundtrip(tmp_path, f, _arr(3, 8), _arr(1, 2, 4, 8))


def test_random_inside_is_frozen(tmp_path):
    key = mx.random.key(3)
    roundtrip(tmp_path, lambda x: x + mx.random.normal(x.shape, key=key), _arr(4))


def test_random_with_key_input(tmp_path):
    def f(k, x):
        return (mx.random.normal((3,), key=k), mx.random.gumbel((2, 2), key=k), mx.random.uniform(shape=(4,), key=k),
                mx.random.bits((2,), width=2, key=k), x @ mx.random.normal((3, 3), key=mx.random.split(k)[0]))

    imported = roundtrip(tmp_path, f, mx.random.key(0), _arr(2, 3))
    k, x = mx.random.key(5), _arr(2, 3)
    for o, w in zip(imported(k, x), f(k, x)):
        _close(o, w)


def test_gather_qmm(tmp_path):
    w = _arr(2, 8, 64)
    wq, scales, biases = mx.quantize(w, group_size=32, bits=4)

    def f(x, idx):
        return mx.gather_qmm(x, wq, scales, biases, rhs_indices=idx, transpose=True, group_size=32, bits=4)

    roundtrip(tmp_path, f, _arr(3, 1, 64), mx.array([1, 0, 1], dtype=mx.uint32))


def test_linalg_fft(tmp_path):
    a = _arr(3, 3) + 3 * mx.eye(3)

    def f(a, x):
        return mx.linalg.inv(a, stream=mx.cpu), mx.fft.rfft(x), mx.linalg.solve(a, x[:3], stream=mx.cpu)

    roundtrip(tmp_path, f, a, _arr(8))


def test_many_primitives(tmp_path):
    """One function touching the less common primitives; each output must round-trip."""
    a = _arr(4, 4) + 4 * mx.eye(4)
    spd = a @ a.T
    w = _arr(8, 64)
    wq, scales, biases = mx.quantize(w, group_size=32, bits=4)
    key = mx.random.key(7)

    def f(x, v, i):
        outs = [
            mx.partition(v, 3), mx.argpartition(v, 2), mx.searchsorted(mx.sort(v), x[0, :3]),
            mx.hadamard_transform(x), mx.cumprod(x, axis=0, reverse=True), mx.cummax(x, axis=1, inclusive=False),
            mx.as_strided(v, (3, 2), (1, 2)), mx.depends([x * 2], [v])[0],
            mx.gather_mm(x[None], a[None], mx.array([0, 0], dtype=mx.uint32), mx.array([0, 0], dtype=mx.uint32)),
            mx.segmented_mm(x, a, mx.array([[0, 2], [2, 4]])),
            mx.dequantize(*mx.quantize(mx.concatenate([x] * 8, axis=1), group_size=32, bits=8)),
            mx.quantized_matmul(mx.concatenate([x] * 16, axis=1), wq, scales, biases, transpose=True, group_size=32, bits=4),
            mx.from_fp8(mx.to_fp8(x)), x.at[i].multiply(2.0), x.at[i].maximum(0.5), x.at[i].minimum(-0.5),
            mx.put_along_axis(x, mx.argsort(x, axis=1)[:, :1], mx.array(9.0), axis=1),
            mx.random.categorical(x, key=key), mx.random.gumbel((3,), key=key) + v[:3],
            mx.random.truncated_normal(-1.0, 1.0, (4,), key=key) * v[:4], mx.arange(4.0) * x[0],
            mx.linspace(0, 1, 4) + x[1],
        ]
        outs += [mx.fft.fft(x), mx.fft.ifft2(x.astype(mx.complex64)), mx.fft.irfft(mx.fft.rfft(v))]
        with mx.stream(mx.cpu):
            outs += [mx.linalg.cholesky(spd + x @ x.T), mx.linalg.qr(a + x)[1], mx.linalg.svd(a + x, compute_uv=False),
                     mx.linalg.eigh(spd + x @ x.T)[0], mx.linalg.lu_factor(a + x)[0],
                     mx.linalg.solve_triangular(a + x, x, upper=True), mx.linalg.tri_inv(a + x),
                     mx.sort(mx.linalg.eigvals(spd + x @ x.T).real)]
        return outs

    roundtrip(tmp_path, f, _arr(4, 4), _arr(8), mx.array([3, 1]))


def test_export_a_gradient_function(tmp_path):
    w = _arr(6)

    def loss(x):
        return (mx.fast.rms_norm(x, w, 1e-5) ** 2).sum() + mx.softmax(x, axis=-1).max()

    g = mx.grad(loss)
    roundtrip(tmp_path, g, _arr(2, 6))


# ---------------------------------------------------------------- traces, kwargs, shapeless


def test_exporter_multiple_traces(tmp_path):
    path = str(tmp_path / "m.mlxfn")

    def fun(*args):
        return sum(args)

    with mx.exporter(path, fun) as ex:
        assert isinstance(ex, mx.FunctionExporter)
        ex(mx.array(1))
        ex(mx.array(1), mx.array(2))
        ex(mx.array(1), mx.array(2), mx.array(3))
        ex(mx.array([1.0, 2.0]))
        with pytest.raises(RuntimeError, match="same signature"):
            ex(mx.array(5))
    f = mx.import_function(path)
    assert f(mx.array(3))[0].item() == 3
    assert f(mx.array(3), mx.array(4))[0].item() == 7
    assert f(mx.array(3), mx.array(4), mx.array(5))[0].item() == 12
    _close(f(mx.array([3.0, 4.0]))[0], mx.array([3.0, 4.0]))
    with pytest.raises(ValueError, match="No imported function"):
        f(mx.array(1), mx.array(2), mx.array(3), mx.array(4))
    with pytest.raises(RuntimeError, match="closed"):
        ex(mx.array(1))


def test_exporter_shared_constants_written_once(tmp_path):
    big = _arr(256, 256)
    path = str(tmp_path / "w.mlxfn")
    ex = mx.exporter(path, lambda x: x @ big)
    ex(_arr(1, 256))
    ex(_arr(2, 256))
    ex(_arr(3, 256))
    ex.close()
    assert os.path.getsize(path) < 256 * 256 * 4 * 1.5
    f = mx.import_function(path)
    for n in (1, 2, 3):
        x = _arr(n, 256)
        _close(f(x)[0], x @ big, tol=1e-4)


def test_kwargs(tmp_path):
    x, y = _arr(3), _arr(3)
    path = str(tmp_path / "k.mlxfn")

    def fun(x, y=None, z=None):
        return x - 2 * y if z is None else x - z

    ex = mx.exporter(path, fun)
    ex(x, y=y)
    ex(x, z=y)
    ex((x,), {"y": y, "z": y})
    ex.close()
    f = mx.import_function(path)
    _close(f(x, y=y)[0], x - 2 * y)
    _close(f(x, z=y)[0], x - y)
    _close(f((x,), {"y": y})[0], x - 2 * y)
    _close(f(x, y=y, z=x)[0], mx.zeros(3))
    with pytest.raises(ValueError, match="No imported function"):
        f(x, y)
    with pytest.raises(ValueError, match="No imported function"):
        f(x, w=y)
    # only keyword inputs, given as one dict
    mx.export_function(path, lambda a, b: a * b, {"a": x, "b": y})
    _close(mx.import_function(path)(a=x, b=y)[0], x * y)


def test_signature_mismatch_errors(tmp_path):
    path = str(tmp_path / "e.mlxfn")
    mx.export_function(path, lambda a: a * 2, _arr(3))
    f = mx.import_function(path)
    with pytest.raises(ValueError, match="No imported function"):
        f(_arr(4))
    with pytest.raises(ValueError, match="No imported function"):
        f(_arr(3).astype(mx.float16))
    with pytest.raises(ValueError, match="Inputs can either"):
        f(3.0)


def test_shapeless(tmp_path):
    path = str(tmp_path / "s.mlxfn")
    bias = _arr(6)

    def fun(x, w):
        h = mx.maximum(x @ w + bias, 0.0)
        return mx.softmax(h, axis=-1).sum(axis=0) * 2 + 1, h.reshape(-1, 6), mx.exp(h).T

    mx.export_function(path, fun, _arr(3, 4), _arr(4, 6), shapeless=True)
    f = mx.import_function(path)
    for n, k in [(3, 4), (5, 4), (2, 7), (1, 1)]:
        x, w = _arr(n, k), _arr(k, 6)
        out = f(x, w)
        want = fun(x, w)
        for o, e in zip(out, want):
            _close(o, e)
    # batched input with a broadcast constant, elementwise chain and reductions
    mx.export_function(path, lambda x: (x * 0.5 + mx.array([1.0, 2.0, 3.0])).max(axis=1), _arr(2, 4, 3), shapeless=True)
    f = mx.import_function(path)
    x = _arr(5, 7, 3)
    _close(f(x)[0], (x * 0.5 + mx.array([1.0, 2.0, 3.0])).max(axis=1))
    # same number of dims and dtypes are still required
    with pytest.raises(ValueError, match="No imported function"):
        f(_arr(5, 3))
    with pytest.raises(ValueError, match="No imported function"):
        f(_arr(5, 7, 3).astype(mx.float16))


def test_shapeless_module(tmp_path):
    model = MLP()
    mx.eval(model.parameters())
    path = str(tmp_path / "sm.mlxfn")
    mx.export_function(path, lambda x: model(x), _arr(2, 3, 5), shapeless=True)
    f = mx.import_function(path)
    for shape in [(2, 3, 5), (4, 9, 5), (1, 1, 5)]:
        x = _arr(*shape)
        _close(f(x)[0], model(x), tol=1e-4)


@pytest.mark.parametrize("case", ["conv", "embedding", "concat", "units", "transformer"])
def test_shapeless_layers(tmp_path, case):
    path = str(tmp_path / "sl.mlxfn")
    if case == "conv":
        conv = nn.Conv1d(3, 4, 3, padding=1)
        fun, ex, calls = (lambda x: nn.relu(conv(x)).sum(axis=1)), [_arr(2, 10, 3)], [[_arr(5, 17, 3)], [_arr(1, 3, 3)]]
    elif case == "embedding":
        emb = nn.Embedding(10, 4)
        fun, ex = (lambda i: emb(i).sum(axis=1)), [mx.array([[1, 2, 3]])]
        calls = [[mx.array([[1, 2, 3, 4, 5], [0, 0, 0, 9, 9]])]]
    elif case == "concat":
        fun, ex = (lambda a, b: mx.concatenate([a, b * 2], axis=0)), [_arr(2, 3), _arr(1, 3)]
        calls = [[_arr(3, 3), _arr(2, 3)]]
    elif case == "units":
        fun, ex = (lambda x: (x[None], x.sum(axis=0, keepdims=True).squeeze(0))), [_arr(2, 3)]
        calls = [[_arr(4, 5)], [_arr(1, 1)]]
    else:
        layer = nn.TransformerEncoderLayer(16, 4, 32)
        layer.eval()
        fun, ex, calls = (lambda x: layer(x, None)), [_arr(2, 5, 16)], [[_arr(3, 9, 16)], [_arr(1, 1, 16)]]
    mx.export_function(path, fun, *ex, shapeless=True)
    f = mx.import_function(path)
    for args in calls:
        want = fun(*args)
        want = [want] if isinstance(want, mx.array) else list(want)
        for o, w in zip(f(*args), want):
            _close(o, w, tol=1e-4)


def test_shapeless_mean_var_std_follow_new_sizes(tmp_path):
    """mean/var/std divide by a count read from the shape at eval time (NumberOfElements)."""
    path = str(tmp_path / "mv.mlxfn")

    def fun(x):
        return (mx.mean(x, axis=1), mx.var(x, axis=0), mx.std(x, axis=(0, 1), ddof=1), mx.mean(x),
                mx.var(x.astype(mx.int32), axis=-1, keepdims=True))

    def ref(x):
        x = np.array(x).astype(np.float64)
        xi = np.array(mx.array(x).astype(mx.int32)).astype(np.float64)
        return (x.mean(axis=1), x.var(axis=0), x.std(axis=(0, 1), ddof=1), x.mean(),
                xi.var(axis=-1, keepdims=True))

    mx.export_function(path, fun, _arr(3, 4, 2, lo=-5, hi=5), shapeless=True)
    f = mx.import_function(path)
    for shape in [(3, 4, 2), (5, 7, 2), (2, 1, 3), (6, 11, 4)]:
        x = _arr(*shape, lo=-5, hi=5)
        out = f(x)
        for o, w, e in zip(out, fun(x), ref(x)):
            assert o.dtype == w.dtype == mx.float32 and o.shape == w.shape == e.shape
            np.testing.assert_allclose(np.array(o), e, rtol=1e-5, atol=1e-5)


def test_shapeless_layer_norm_composite(tmp_path):
    path = str(tmp_path / "ln.mlxfn")
    w, b = _arr(8), _arr(8)

    def ln(x):
        mu = x.mean(axis=-1, keepdims=True)
        v = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu) * mx.rsqrt(v + 1e-5) * w + b

    def ln_seq(x):  # normalizes over the sequence axis, whose size changes
        return (x - x.mean(axis=1, keepdims=True)) / mx.sqrt(x.var(axis=1, keepdims=True) + 1e-5)

    def ref_seq(x):
        x = np.array(x).astype(np.float64)
        return (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)

    mx.export_function(path, ln, _arr(2, 3, 8), shapeless=True)
    f = mx.import_function(path)
    for shape in [(4, 9, 8), (1, 1, 8)]:
        x = _arr(*shape)
        _close(f(x)[0], ln(x), tol=1e-4)
    mx.export_function(path, ln_seq, _arr(2, 3, 8), shapeless=True)
    f = mx.import_function(path)
    for shape in [(4, 9, 8), (2, 3, 8), (3, 17, 5)]:
        x = _arr(*shape)
        np.testing.assert_allclose(np.array(f(x)[0]), ref_seq(x), rtol=1e-4, atol=1e-4)
    # a gpu stream (falls back to the CPU where there is no GPU) and gradients of the import
    x = _arr(3, 6, 8)
    with mx.stream(mx.gpu if mx.cuda.is_available() else mx.cpu):
        np.testing.assert_allclose(np.array(f(x)[0]), ref_seq(x), rtol=1e-4, atol=1e-4)
    g = mx.grad(lambda x: (f(x)[0] * mx.arange(8)).sum())(x)
    _close(g, mx.grad(lambda x: (ln_seq(x) * mx.arange(8)).sum())(x), tol=1e-4)


def test_shapeless_uninferable_raises(tmp_path):
    path = str(tmp_path / "u.mlxfn")
    mx.export_function(path, lambda x: x[:, 1:3], _arr(3, 4), shapeless=True)
    f = mx.import_function(path)
    _close(f(_arr(5, 4))[0].shape and f(mx.ones((5, 4)))[0], mx.ones((5, 2)))  # sliced dim unchanged
    with pytest.raises(ValueError, match="Slice"):
        f(_arr(3, 6))
    # a reshape that splits a changed dimension is ambiguous
    mx.export_function(path, lambda x: x.reshape(2, -1), _arr(6), shapeless=True)
    with pytest.raises(ValueError, match="Reshape"):
        mx.import_function(path)(_arr(8))
    # mismatched matmul shapes are caught, not computed
    mx.export_function(path, lambda a, b: a @ b, _arr(2, 3), _arr(3, 4), shapeless=True)
    with pytest.raises(ValueError):
        mx.import_function(path)(_arr(2, 3), _arr(5, 4))


def test_metadata_and_callback(tmp_path):
    path = str(tmp_path / "md.mlxfn")
    mx.export_function(path, lambda a: a + 1, _arr(2), metadata='{"layers": 2}')
    f, md = mx.import_function(path, return_metadata=True)
    assert md == '{"layers": 2}'
    _close(f(mx.zeros(2))[0], mx.ones(2))
    items = []
    mx.export_function(items.append, lambda a, b: (a * 2 + b,), _arr(3), b=_arr(3))
    types = [d["type"] for d in items]
    assert types[:4] == ["inputs", "keyword_inputs", "outputs", "constants"]
    prims = [d["name"] for d in items if d["type"] == "primitive"]
    assert "Multiply" in prims and "Add" in prims
    assert all(d["device"] == "default" for d in items if d["type"] == "primitive")
    assert items[1]["keywords"][0][0] == "b"
    with pytest.raises(ValueError, match="metadata"):
        mx.export_function(items.append, lambda a: a, _arr(2), metadata="x")


def test_bad_inputs_and_outputs(tmp_path):
    path = str(tmp_path / "b.mlxfn")
    x = _arr(2)
    with pytest.raises(ValueError, match="Inputs can either"):
        mx.export_function(path, lambda a, b: a, x, 3)
    with pytest.raises(ValueError, match="Outputs can be"):
        mx.export_function(path, lambda a: 3, x)
    with pytest.raises(ValueError, match="Outputs can be"):
        mx.export_function(path, lambda a: [a, [a]], x)
    with pytest.raises(ValueError, match="eval"):
        mx.export_function(path, lambda a: a * a.sum().item(), x)
    with pytest.raises(ZeroDivisionError):
        mx.export_function(path, lambda a: 1 / 0, x)
    assert not os.path.exists(path)  # no half-written file is left behind
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.export_function(str(tmp_path / "no" / "such" / "dir.mlxfn"), lambda a: a, x)


# ---------------------------------------------------------------- bad files


def test_bad_files(tmp_path):
    path = str(tmp_path / "ok.mlxfn")
    model = MLP()
    mx.export_function(path, lambda x: model(x), _arr(2, 5))
    data = open(path, "rb").read()
    with pytest.raises(RuntimeError, match="Failed to open"):
        mx.import_function(str(tmp_path / "missing.mlxfn"))
    bad = tmp_path / "bad.mlxfn"
    bad.write_bytes(b"XXXX" + data[4:])
    with pytest.raises(RuntimeError, match="magic"):
        mx.import_function(str(bad))
    bad.write_bytes(b"")
    with pytest.raises(RuntimeError):
        mx.import_function(str(bad))
    # every truncation is detected
    for n in list(range(0, 64)) + list(range(64, len(data), max(1, len(data) // 200))):
        bad.write_bytes(data[:n])
        with pytest.raises(RuntimeError):
            mx.import_function(str(bad))
    # flipped bytes are caught by the checksums
    for pos in range(12, len(data), max(1, len(data) // 100)):
        b = bytearray(data)
        b[pos] ^= 0x5A
        bad.write_bytes(bytes(b))
        with pytest.raises(RuntimeError):
            mx.import_function(str(bad))
    # a wrong version is reported as such
    b = bytearray(data)
    b[8] = 99
    bad.write_bytes(bytes(b))
    with pytest.raises(RuntimeError, match="version"):
        mx.import_function(str(bad))


def test_unclosed_exporter_file_is_finished_on_deletion(tmp_path):
    path = str(tmp_path / "d.mlxfn")
    ex = mx.exporter(path, lambda a: a * 3)
    ex(_arr(2))
    del ex
    import gc

    gc.collect()
    _close(mx.import_function(path)(mx.ones(2))[0], 3 * mx.ones(2))


# ---------------------------------------------------------------- transforms of imported functions


def test_grad_through_imported(tmp_path):
    model = MLP()
    mx.eval(model.parameters())
    path = str(tmp_path / "g.mlxfn")

    def loss(x, y):
        return ((model(x) - y) ** 2).mean()

    x, y = _arr(4, 5), _arr(4, 3)
    mx.export_function(path, loss, x, y)
    f = mx.import_function(path)
    g1 = mx.grad(lambda x, y: f(x, y)[0], argnums=(0, 1))(x, y)
    g2 = mx.grad(loss, argnums=(0, 1))(x, y)
    for a, b in zip(g1, g2):
        _close(a, b, tol=1e-5)


def test_grad_matches_finite_differences(tmp_path):
    path = str(tmp_path / "fd.mlxfn")
    with float64_on_cpu():
        c = _arr(3, 3, dtype=mx.float64)

        def fun(x):
            return (mx.sin(x @ c) * mx.softmax(x, axis=1)).sum() + mx.logsumexp(x[:, ::-1], axis=0).sum()

        x = _arr(2, 3, dtype=mx.float64)
        mx.export_function(path, fun, x)
        f = mx.import_function(path)
        h = lambda x: f(x)[0]
        g = mx.grad(h)(x)
        t = mx.array(RNG.standard_normal(x.shape))
        eps = 1e-6
        fd = (h(x + eps * t).item() - h(x - eps * t).item()) / (2 * eps)
        assert abs(fd - (g * t).sum().item()) < 1e-6 * max(1, abs(fd))


def test_vmap_jvp_compile_of_imported(tmp_path):
    path = str(tmp_path / "v.mlxfn")
    fun = lambda x: mx.sin(x) * x.sum()
    mx.export_function(path, fun, _arr(3))
    f = mx.import_function(path)
    xs = _arr(4, 3)
    _close(mx.vmap(lambda x: f(x)[0])(xs), mx.stack([fun(xs[i]) for i in range(4)]))
    x, t = _arr(3), _arr(3)
    _close(mx.jvp(lambda x: f(x)[0], [x], [t])[1][0], mx.jvp(fun, [x], [t])[1][0])
    _close(mx.compile(lambda x: f(x)[0])(x), fun(x))


# ---------------------------------------------------------------- C++


def _cpp_build_flags():
    """Include and library dirs of the C++ library beside mlx.core: the installed package's
    mlx/include and mlx/lib, or, in a developer build (PYTHONPATH=python), the repo's csrc and
    python/mlx/lib."""
    pkg = os.path.dirname(os.path.abspath(mx.__file__))
    lib = os.path.join(pkg, "lib")
    inc = os.path.join(pkg, "include")
    if not os.path.exists(os.path.join(inc, "mlx", "export.h")):
        inc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csrc")
    if not os.path.exists(os.path.join(inc, "mlx", "export.h")) or not os.path.isdir(lib):
        pytest.skip("the C++ headers or library are not next to mlx.core")
    return inc, lib


def _write_data(path, inputs, outputs):
    def put(f, arrays):
        f.write(f"{len(arrays)}\n")
        for a in arrays:
            a = np.array(a.astype(mx.float32))
            f.write(" ".join(str(v) for v in [a.ndim, *a.shape]) + "\n")
            f.write(" ".join(repr(float(v)) for v in a.ravel()) + "\n")

    with open(path, "w") as f:
        put(f, inputs)
        put(f, outputs)


def test_cpp_program_imports_python_function(tmp_path):
    """Compiles examples/cpp/export_import.cpp against the library, imports a function file
    written here (an MLP with captured weights) and checks its outputs and a gradient. CI
    (pip install ".[test]") builds the same program through examples/cpp/CMakeLists.txt in
    test_cpp_embedding.py; this test compiles it directly so it also runs in the dev build."""
    import shutil
    import subprocess

    cxx = shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        pytest.skip("no C++ compiler")
    inc, lib = _cpp_build_flags()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "cpp", "export_import.cpp")
    exe = str(tmp_path / "export_import")
    # OpenBLAS's folder, for installs where libmlx's relative run path to it doesn't hold (a pip
    # --target install): given to the linker, and to the loader through LD_LIBRARY_PATH (libmlx
    # has a RUNPATH, so the program's own run path would not serve libmlx's dependencies).
    extra, run_env = [], None
    try:
        import scipy_openblas32
        blas_dir = scipy_openblas32.get_lib_dir()
        extra = [f"-Wl,-rpath-link,{blas_dir}"]
        run_env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(
            [blas_dir] + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p]))
    except ImportError:
        pass
    r = subprocess.run([cxx, "-std=c++17", "-O1", src, f"-I{inc}", f"-L{lib}", "-lmlx", f"-Wl,-rpath,{lib}", *extra,
                        "-o", exe], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

    model = MLP()
    mx.eval(model.parameters())

    def smooth(x):  # the program checks a gradient by finite differences: no ReLU kinks
        return model.l2(mx.tanh(model.norm(model.l1(x))))

    x = _arr(3, 5)
    fn = str(tmp_path / "mlp.mlxfn")
    mx.export_function(fn, lambda x: (smooth(x), mx.softmax(smooth(x), axis=-1)), x, metadata="mlp")
    data = str(tmp_path / "data.txt")
    _write_data(data, [x], [smooth(x), mx.softmax(smooth(x), axis=-1)])
    r = subprocess.run([exe, fn, data], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=run_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imported function ok" in r.stdout and "metadata: 'mlp'" in r.stdout
    # and a function exported from C++ round-trips there
    r = subprocess.run([exe], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=run_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cpp round trip ok" in r.stdout


def _fnv_words(b):
    m = (1 << 64) - 1
    h = 1469598103934665603
    n8 = len(b) // 8 * 8
    for (w,) in struct.iter_unpack("<Q", b[:n8]):
        h = ((h ^ w) * 1099511628211) & m
    for c in b[n8:]:
        h = ((h ^ c) * 1099511628211) & m
    return h


def _records(data):
    pos, out = 12, []
    while pos < len(data):
        (ln,) = struct.unpack_from("<Q", data, pos + 1)
        out.append((data[pos], data[pos + 9 : pos + 9 + ln]))
        pos += 9 + ln + 8
    return out


def _build(head, recs):
    b = bytearray(head)
    for tag, p in recs:
        b += bytes([tag]) + struct.pack("<Q", len(p)) + p + struct.pack("<Q", _fnv_words(p))
    return bytes(b)


def test_format_checksum_and_mutated_graphs(tmp_path):
    """The records and checksum are as docs/dev/export.md says; graphs mutated behind valid
    checksums raise (or still run) but never crash."""
    import random

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def fun(x, i):
        return model(x).sum(axis=1), x[i], mx.softmax(x @ x.T, axis=-1), x[:, 1:3] * 2, x.reshape(-1)

    x, i = _arr(5, 4), mx.array([1, 3])
    path = str(tmp_path / "ok.mlxfn")
    mx.export_function(path, fun, x, i, metadata="m")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89MLXFN\r\n" and struct.unpack_from("<I", data, 8)[0] == 1
    recs = _records(data)
    assert _build(data[:12], recs) == data  # checksums as documented
    assert [chr(t) for t, _ in recs][0] == "H" and chr(recs[-1][0]) == "E"
    ti = [k for k, (t, _) in enumerate(recs) if t == ord("T")][0]
    rng = random.Random(0)
    bad = str(tmp_path / "m.mlxfn")
    for _ in range(150):
        p = bytearray(recs[ti][1])
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(p))
            p[pos] = rng.choice([0, 1, 2, 0xFF, p[pos] ^ (1 << rng.randrange(8)), (p[pos] + 1) & 0xFF])
        r2 = list(recs)
        r2[ti] = (recs[ti][0], bytes(p))
        open(bad, "wb").write(_build(data[:12], r2))
        try:
            mx.eval(mx.import_function(bad)(x, i))
        except (RuntimeError, ValueError, IndexError):
            pass
