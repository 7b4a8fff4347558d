"""GPU kernels of the quantization family (Quantize, Dequantize, QuantizedMatmul, GatherQMM,
ToFP8, FromFP8) and of GatherMM / SegmentedMM against the CPU: quantize and dequantize bit for
bit, matmuls to float tolerance, and through mx.cuda._host_fallbacks() that none of these
nodes ran on the host.

Skipped where no CUDA GPU is present.
"""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)
FLOATS = [mx.float32, mx.float16, mx.bfloat16]
OURS = ["Quantize", "Dequantize", "QuantizedMatmul", "GatherQMM", "ToFP8", "FromFP8", "GatherMM", "SegmentedMM"]
AFFINE = [(bits, gs) for bits in [1, 2, 3, 4, 5, 6, 8] for gs in [32, 64, 128]]
FP_MODES = [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]
# Matmul tolerance relative to the largest output magnitude.
MM_TOL = {mx.float32: 2e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2}


# ---- helpers ----------------------------------------------------------------------------------

def fallbacks():
    return dict(mx.cuda._host_fallbacks())


class no_host_run:
    """Context: asserts that no node of the primitives of this file ran on the host."""

    def __enter__(self):
        self.before = fallbacks()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            mx.synchronize()
            after = fallbacks()
            bad = {k: n - self.before.get(k, 0) for k, n in after.items()
                   if k.split(" (")[0] in OURS and n > self.before.get(k, 0)}
            assert not bad, f"ran on the host: {bad}"
        return False


def f32(a):
    return np.array(a.astype(mx.float32)) if a.dtype in (mx.float16, mx.bfloat16, mx.float32) else np.array(a)


def exact(g, c):
    """Bit-exact equality (NaNs at the same places)."""
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    if g.dtype in (mx.float16, mx.bfloat16):
        gv, cv = np.array(g.view(mx.uint16)), np.array(c.view(mx.uint16))
        gn, cn = np.isnan(f32(g)), np.isnan(f32(c))
        np.testing.assert_array_equal(gn, cn)
        # Bit for bit, except that a zero may carry either sign (a -0 code times a scale).
        z = (f32(g) == 0) & (f32(c) == 0)
        np.testing.assert_array_equal(gv[~gn & ~z], cv[~cn & ~z])
    elif g.dtype == mx.float32:
        gv, cv = np.array(g), np.array(c)
        np.testing.assert_array_equal(np.isnan(gv), np.isnan(cv))
        # Bit for bit, except that a zero may carry either sign (a -0 code times a scale).
        m = ~np.isnan(gv) & ~((gv == 0) & (cv == 0))
        np.testing.assert_array_equal(gv[m].view(np.uint32), cv[m].view(np.uint32))
    else:
        np.testing.assert_array_equal(np.array(g), np.array(c))


def close_mm(g, c, dt):
    assert g.shape == c.shape and g.dtype == c.dtype, (g.shape, c.shape, g.dtype, c.dtype)
    gv, cv = f32(g).astype(np.float64), f32(c).astype(np.float64)
    tol = MM_TOL[dt]
    scale = max(np.abs(cv).max(initial=0.0), 1e-3)
    np.testing.assert_allclose(gv, cv, rtol=tol, atol=tol * scale)


def weights(shape, kind="normal"):
    shape = tuple(shape)
    if kind == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    if kind == "wide":
        return (rng.standard_normal(shape) * np.exp(rng.uniform(-8, 8, shape))).astype(np.float32)
    if kind == "tied":
        return rng.integers(-4, 5, shape).astype(np.float32) * 0.25
    if kind == "const":
        return np.full(shape, 0.37, np.float32)
    if kind == "tiny":
        return (rng.standard_normal(shape) * 1e-9).astype(np.float32)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape).astype(np.float32)
    raise ValueError(kind)


def quantize_both(w, **kw):
    with no_host_run():
        g = mx.quantize(w, stream=mx.gpu, **kw)
        mx.eval(g)
    c = mx.quantize(w, stream=mx.cpu, **kw)
    assert len(g) == len(c)
    for a, b in zip(g, c):
        exact(a, b)
    return c


def dequantize_both(*args, **kw):
    with no_host_run():
        g = mx.dequantize(*args, stream=mx.gpu, **kw)
        mx.eval(g)
    c = mx.dequantize(*args, stream=mx.cpu, **kw)
    exact(g, c)
    return c


# ---- quantize / dequantize --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bits,gs", AFFINE)
def test_affine_round_trip(dtype, bits, gs):
    for kind in ["normal", "tied", "wide", "const", "tiny", "positive"]:
        w = mx.array(weights((6, 2 * gs if kind != "normal" else 512), kind)).astype(dtype)
        q = quantize_both(w, group_size=gs, bits=bits)
        dequantize_both(*q, group_size=gs, bits=bits)
    # 3-d, several rows of groups, odd batch; output dtype override
    w = mx.array(weights((3, 5, 4 * gs))).astype(dtype)
    q = quantize_both(w, group_size=gs, bits=bits)
    dequantize_both(*q, group_size=gs, bits=bits)
    dequantize_both(*q, group_size=gs, bits=bits, dtype=mx.float32)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode,gs,bits", FP_MODES)
def test_fp_round_trip(dtype, mode, gs, bits):
    for kind in ["normal", "tied", "wide", "const", "tiny"]:
        w = mx.array(weights((7, 256), kind) * 3).astype(dtype)
        q = quantize_both(w, mode=mode)
        dequantize_both(*q, mode=mode)
        dequantize_both(*q, mode=mode, dtype=mx.float32)
        dequantize_both(*q, mode=mode, dtype=mx.float16)
    if mode == "nvfp4":
        w = mx.array(weights((4, 128)) * 3).astype(dtype)
        for gsc in [0.5, 3.7, 2688.0]:
            g = mx.array(gsc)
            q = quantize_both(w, mode=mode, global_scale=g)
            dequantize_both(*q, mode=mode, global_scale=g, dtype=mx.float32)


@pytest.mark.parametrize("mode,gs,bits", FP_MODES + [("affine", 64, 3), ("affine", 32, 6)])
def test_dequantize_all_codes(mode, gs, bits):
    # Random packed words and scales: every code, every scale code (NaN scales included).
    rows, cols = 16, 512
    wq = mx.array(rng.integers(0, 2**32, (rows, cols * bits // 32), dtype=np.uint64).astype(np.uint32))
    if mode == "affine":
        s = mx.array(rng.standard_normal((rows, cols // gs)).astype(np.float32))
        b = mx.array(rng.standard_normal((rows, cols // gs)).astype(np.float32))
        for dt in FLOATS:
            dequantize_both(wq, s.astype(dt), b.astype(dt), group_size=gs, bits=bits)
    else:
        s = mx.array(rng.integers(0, 256, (rows, cols // gs)).astype(np.uint8))
        dequantize_both(wq, s, mode=mode, dtype=mx.float32)
        dequantize_both(wq, s, mode=mode)


def test_quantize_layouts_and_empty():
    w = mx.array(weights((128, 96)))
    quantize_both(w.T, group_size=32, bits=4)  # transposed input
    quantize_both(w[::2, :64], group_size=64, bits=3)  # sliced
    quantize_both(mx.broadcast_to(w[:1, :64], (5, 64)), group_size=32, bits=8)  # broadcast
    quantize_both(mx.zeros((0, 64)), group_size=64, bits=4)
    q = quantize_both(w, group_size=32, bits=4)
    dequantize_both(q[0][::2], q[1][::2], q[2][::2], group_size=32, bits=4)  # row-sliced
    dequantize_both(q[0][:, 4:8], q[1][:, 1:2], q[2][:, 1:2], group_size=32, bits=4)  # column-sliced


# ---- fp8 --------------------------------------------------------------------------------------

def test_fp8_all_codes():
    codes = mx.arange(256).astype(mx.uint8)
    for dt in FLOATS:
        with no_host_run():
            g = mx.from_fp8(codes, dtype=dt, stream=mx.gpu)
            mx.eval(g)
        exact(g, mx.from_fp8(codes, dtype=dt, stream=mx.cpu))
    vals = mx.from_fp8(codes, dtype=mx.float32, stream=mx.cpu)
    with no_host_run():
        g = mx.to_fp8(vals, stream=mx.gpu)
        mx.eval(g)
    exact(g, mx.to_fp8(vals, stream=mx.cpu))


@pytest.mark.parametrize("dtype", FLOATS)
def test_to_fp8_values(dtype):
    v = np.concatenate([
        rng.standard_normal(4980) * np.exp(rng.uniform(-14, 8, 4980)),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 448.0, 449.0, 464.0, 465.0, -480.0, 1e6, 2.0**-9, 2.0**-10,
         3 * 2.0**-11, 2.0**-6, 0.015625 * 1.0625, 1.0625, 1.1875, 17.0, 19.0],
    ]).astype(np.float32)
    x = mx.array(v).astype(dtype)
    for arr in [x, x.reshape(50, -1).T]:  # contiguous and transposed
        with no_host_run():
            g = mx.to_fp8(arr, stream=mx.gpu)
            mx.eval(g)
        exact(g, mx.to_fp8(arr, stream=mx.cpu))


# ---- quantized_matmul -------------------------------------------------------------------------

def qmm_both(x, q, dt, **kw):
    with no_host_run():
        g = mx.quantized_matmul(x, *q, stream=mx.gpu, **kw)
        mx.eval(g)
    c = mx.quantized_matmul(x, *q, stream=mx.cpu, **kw)
    close_mm(g, c, dt)
    return g


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("K", [64, 512, 4096])
def test_quantized_matmul_sizes(dtype, transpose, K):
    # N must be a multiple of the group size when W (K, N) is quantized along N.
    for N in ([32, 1000] if transpose else [64, 1024]):
        w = mx.array(weights((N, K) if transpose else (K, N)) * 0.1)
        q = mx.quantize(w, group_size=64, bits=4, stream=mx.cpu)
        q = (q[0], q[1].astype(dtype), q[2].astype(dtype))
        for M in [1, 3, 64, 300]:
            x = mx.array(weights((M, K))).astype(dtype)
            qmm_both(x, q, dtype, transpose=transpose, group_size=64, bits=4)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("fmt", [("affine", 32, b) for b in [1, 2, 3, 5, 6, 8]] + [("affine", 128, 4)]
                         + list(FP_MODES))
def test_quantized_matmul_formats(dtype, transpose, fmt):
    mode, gs, bits = fmt
    K, N = 384, 256
    w = mx.array(weights((N, K) if transpose else (K, N)) * 0.1)
    q = mx.quantize(w, group_size=gs, bits=bits, mode=mode, stream=mx.cpu)
    if mode == "affine":
        q = (q[0], q[1].astype(dtype), q[2].astype(dtype))
    for M in [1, 2, 8, 9, 40]:
        x = mx.array(weights((M, K))).astype(dtype)
        qmm_both(x, q, dtype, transpose=transpose, group_size=gs, bits=bits, mode=mode)


def test_quantized_matmul_batches_and_layouts():
    K, N = 256, 96
    dt = mx.float32
    w = mx.array(weights((3, N, K)) * 0.1)
    q = mx.quantize(w, group_size=64, bits=4, stream=mx.cpu)
    # batched w and x; x broadcast against a batch of w; batched x against a 2-d w
    qmm_both(mx.array(weights((3, 2, K))), q, dt, group_size=64, bits=4)
    qmm_both(mx.array(weights((3, 20, K))), q, dt, group_size=64, bits=4)
    qmm_both(mx.array(weights((2, 1, 5, K))), q, dt, group_size=64, bits=4)
    qmm_both(mx.array(weights((5, K))), q, dt, group_size=64, bits=4)
    q2 = tuple(a[1] for a in q)
    qmm_both(mx.array(weights((4, 3, K))), q2, dt, group_size=64, bits=4)
    qmm_both(mx.array(weights((K,))), q2, dt, group_size=64, bits=4)  # vector x
    # non-contiguous x (transposed, sliced)
    xt = mx.array(weights((K, 6))).T
    qmm_both(xt, q2, dt, group_size=64, bits=4)
    qmm_both(xt[::2], q2, dt, group_size=64, bits=4)
    qmm_both(mx.array(weights((40, K)))[::3], q2, dt, group_size=64, bits=4)
    # x @ W with batches
    wn = mx.array(weights((2, K, N + 32)) * 0.1)
    qn = mx.quantize(wn, group_size=32, bits=4, stream=mx.cpu)
    qmm_both(mx.array(weights((2, 7, K))), qn, dt, transpose=False, group_size=32, bits=4)
    # empty rows
    qmm_both(mx.zeros((0, K)), q2, dt, group_size=64, bits=4)


def test_quantized_matmul_mixed_dtypes():
    K, N = 128, 64
    w = mx.array(weights((N, K)) * 0.1)
    q = mx.quantize(w, group_size=64, bits=4, stream=mx.cpu)
    # x float16 with float32 scales: the op promotes to float32
    qmm_both(mx.array(weights((3, K))).astype(mx.float16), q, mx.float32, group_size=64, bits=4)
    q16 = (q[0], q[1].astype(mx.bfloat16), q[2].astype(mx.bfloat16))
    qmm_both(mx.array(weights((3, K))).astype(mx.bfloat16), q16, mx.bfloat16, group_size=64, bits=4)


@pytest.mark.parametrize("dtype", FLOATS)
def test_quantized_linear(dtype):
    for mode, kw in [("affine", dict(bits=4)), ("affine", dict(bits=8, group_size=32)), ("mxfp4", {}),
                     ("nvfp4", {}), ("mxfp8", {})]:
        layer = nn.QuantizedLinear(256, 512, bias=True, mode=mode, **kw)
        layer.bias = mx.array(rng.standard_normal(512).astype(np.float32))
        if dtype != mx.float32:
            layer.set_dtype(dtype)
        for shape in [(256,), (1, 256), (2, 3, 256), (4, 40, 256)]:
            x = mx.array(weights(shape)).astype(dtype)
            with no_host_run():
                with mx.stream(mx.gpu):
                    g = layer(x)
                mx.eval(g)
            with mx.stream(mx.cpu):
                c = layer(x)
            close_mm(g, c, g.dtype)


@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_grad_x(transpose):
    K, N = 256, 128
    w = mx.array(weights((N, K) if transpose else (K, N)) * 0.1)
    q = mx.quantize(w, group_size=64, bits=4, stream=mx.cpu)
    for M in [1, 20]:
        x = mx.array(weights((M, K)))

        def loss(x):
            y = mx.quantized_matmul(x, *q, transpose=transpose, group_size=64, bits=4)
            return (y * y).sum()

        with no_host_run():
            with mx.stream(mx.gpu):
                g = mx.grad(loss)(x)
            mx.eval(g)
        with mx.stream(mx.cpu):
            c = mx.grad(loss)(x)
        close_mm(g, c, mx.float32)


# ---- gather_qmm -------------------------------------------------------------------------------

def gqmm_both(x, q, dt, **kw):
    with no_host_run():
        g = mx.gather_qmm(x, *q, stream=mx.gpu, **kw)
        mx.eval(g)
    c = mx.gather_qmm(x, *q, stream=mx.cpu, **kw)
    close_mm(g, c, dt)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("fmt", [("affine", 64, 4), ("affine", 32, 3), ("mxfp4", 32, 4), ("nvfp4", 16, 4),
                                 ("mxfp8", 32, 8)])
def test_gather_qmm(dtype, transpose, fmt):
    mode, gs, bits = fmt
    E, N, K = 4, 64, 128
    w = mx.array(weights((E, N, K) if transpose else (E, K, N)) * 0.1)
    q = mx.quantize(w, group_size=gs, bits=bits, mode=mode, stream=mx.cpu)
    if mode == "affine":
        q = (q[0], q[1].astype(dtype), q[2].astype(dtype))
    kw = dict(transpose=transpose, group_size=gs, bits=bits, mode=mode)
    for M in [1, 3, 12]:
        x = mx.array(weights((5, M, K))).astype(dtype)
        cases = [([0, 1, 4, 2], [3, 0, 1, 1]), ([[1, 1], [2, 2]], [[0, 0], [3, 3]]), ([[0], [3]], [[1, 2, 1]])]
        for li, ri in cases:
            gqmm_both(x, q, dtype, lhs_indices=mx.array(li), rhs_indices=mx.array(ri), **kw)
        gqmm_both(x[:4], q, dtype, **kw)  # default indices
    # MoE decode: many single-row items routed to experts, sorted
    T = 64
    ri = np.sort(rng.integers(0, E, T))
    x = mx.array(weights((T, 1, K))).astype(dtype)
    gqmm_both(x, q, dtype, lhs_indices=mx.arange(T), rhs_indices=mx.array(ri), sorted_indices=True, **kw)
    gqmm_both(x[0], q, dtype, rhs_indices=mx.array(ri[:5]), **kw)


@pytest.mark.parametrize("dtype", FLOATS)
def test_gather_qmm_odd_sizes(dtype):
    # Products whose matrices do not start at 16-byte boundaries (the tiled gather kernel).
    E = 3
    for transpose, N, K in [(True, 66, 64), (False, 64, 36)]:
        w = mx.array(weights((E, N, K) if transpose else (E, K, N)) * 0.1)
        q = mx.quantize(w, group_size=32, bits=4, stream=mx.cpu)
        q = (q[0], q[1].astype(dtype), q[2].astype(dtype))
        x = mx.array(weights((4, 9, K))).astype(dtype)
        gqmm_both(x, q, dtype, lhs_indices=mx.array([3, 0, 2, 2, 1]), rhs_indices=mx.array([1, 2, 0, 0, 2]),
                  transpose=transpose, group_size=32, bits=4)


def test_gather_qmm_grad_x():
    E, N, K = 3, 64, 128
    q = mx.quantize(mx.array(weights((E, N, K)) * 0.1), group_size=64, bits=4, stream=mx.cpu)
    x = mx.array(weights((6, 2, K)))
    ri = mx.array([0, 2, 1, 1, 0, 2])

    def loss(x):
        y = mx.gather_qmm(x, *q, rhs_indices=ri, lhs_indices=mx.arange(6), group_size=64, bits=4)
        return (y * y).sum()

    with mx.stream(mx.gpu):
        g = mx.grad(loss)(x)
    with mx.stream(mx.cpu):
        c = mx.grad(loss)(x)
    close_mm(g, c, mx.float32)


# ---- gather_mm / segmented_mm -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_gather_mm(dtype):
    for M, K, N in [(1, 64, 32), (33, 70, 45), (4, 1, 7)]:
        a = mx.array(weights((4, M, K))).astype(dtype)
        b = mx.array(weights((3, K, N))).astype(dtype)
        bt = mx.array(weights((3, N, K))).astype(dtype).swapaxes(-1, -2)  # column-major matrices
        for bb in [b, bt]:
            for li, ri in [([0, 3, 1, 1, 2], [2, 0, 1, 2, 2]), ([[0], [1]], [[0, 1, 2]])]:
                with no_host_run():
                    g = mx.gather_mm(a, bb, mx.array(li), mx.array(ri), stream=mx.gpu)
                    mx.eval(g)
                c = mx.gather_mm(a, bb, mx.array(li), mx.array(ri), stream=mx.cpu)
                close_mm(g, c, dtype)
        # rhs only, sorted (MoE); a transposed
        ri = mx.array(np.sort(rng.integers(0, 3, 9)))
        x = mx.array(weights((9, M, K))).astype(dtype)
        at = mx.array(weights((9, K, M))).astype(dtype).swapaxes(-1, -2)
        for aa in [x, at]:
            with no_host_run():
                g = mx.gather_mm(aa, b, mx.arange(9), ri, sorted_indices=True, stream=mx.gpu)
                mx.eval(g)
            c = mx.gather_mm(aa, b, mx.arange(9), ri, sorted_indices=True, stream=mx.cpu)
            close_mm(g, c, dtype)


def test_gather_mm_grad():
    a = mx.array(weights((4, 5, 16)))
    b = mx.array(weights((3, 16, 8)))
    li, ri = mx.array([0, 3, 1, 2]), mx.array([2, 0, 1, 1])

    def loss(a, b):
        return (mx.gather_mm(a, b, li, ri) ** 2).sum()

    with mx.stream(mx.gpu):
        g = mx.grad(loss, argnums=(0, 1))(a, b)
    with mx.stream(mx.cpu):
        c = mx.grad(loss, argnums=(0, 1))(a, b)
    for x, y in zip(g, c):
        close_mm(x, y, mx.float32)


@pytest.mark.parametrize("dtype", FLOATS)
def test_segmented_mm(dtype):
    for M, K, N in [(5, 100, 7), (40, 300, 33)]:
        a = mx.array(weights((M, K))).astype(dtype)
        b = mx.array(weights((K, N))).astype(dtype)
        seg = mx.array([[0, 10], [10, 10], [5, K], [K - 3, K + 5], [-4, 3], [0, K], [7, 2]])
        for aa, bb in [(a, b), (mx.array(weights((K, M))).astype(dtype).T, b[::1]),
                       (a, mx.array(weights((N, K))).astype(dtype).T)]:
            with no_host_run():
                g = mx.segmented_mm(aa, bb, seg, stream=mx.gpu)
                mx.eval(g)
            c = mx.segmented_mm(aa, bb, seg, stream=mx.cpu)
            close_mm(g, c, dtype)
