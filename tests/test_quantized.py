"""Quantization: quantize / dequantize (affine, mxfp4, mxfp8, nvfp4), quantized_matmul,
gather_qmm, qqmm, gather_qqmm, to_fp8 / from_fp8.

Packing and scale formulas are checked against a NumPy reference written from MLX's
documentation (and pinned to values MLX 0.32 produces); products against NumPy matmuls of the
dequantized matrices; gradients against central finite differences in float64; vmap against a
Python loop."""

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu, on_cpu_if_float64

AFFINE = [(g, b) for g in (32, 64, 128) for b in (1, 2, 3, 4, 5, 6, 8)]
FP_MODES = ["mxfp4", "mxfp8", "nvfp4"]
FLOATS = [mx.float32, mx.float16, mx.bfloat16]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def npy(a):
    if a.dtype in (mx.bfloat16, mx.float16):
        a = a.astype(mx.float32)
    return np.array(a)


def close(a, b, rtol=1e-5, atol=1e-5):
    a = npy(a) if isinstance(a, mx.array) else np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol)


def rounded(x, dtype):
    """float32 values of x rounded to dtype (as mx does)."""
    return npy(mx.array(np.asarray(x, np.float32)).astype(dtype))


# ------------------------------------------------------------------ NumPy references
def pack_bits(codes, bits):
    """Codes (rows, K) -> uint32 (rows, K * bits / 32): one little-endian bit stream per row."""
    rows, k = codes.shape
    b = ((codes[:, :, None].astype(np.uint32) >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    by = np.packbits(b.reshape(rows, -1, 8), axis=-1, bitorder="little").reshape(rows, -1)
    return np.ascontiguousarray(by).view("<u4")


def unpack_bits(wq, bits):
    rows = wq.shape[0]
    by = np.ascontiguousarray(wq).view(np.uint8)
    b = np.unpackbits(by, axis=-1, bitorder="little").reshape(rows, -1, bits)
    return (b.astype(np.uint32) << np.arange(bits, dtype=np.uint32)).sum(-1)


def ref_affine(w, group_size, bits):
    """MLX's documented affine scheme (scale/bias in float32, zero exactly representable)."""
    rows = w.shape[0]
    wg = w.astype(np.float32).reshape(-1, group_size)
    n = np.float32(2**bits - 1)
    hi, lo = wg.max(1), wg.min(1)
    if bits == 1:
        scale = np.maximum(hi - lo, np.float32(1e-7))
        bias = lo
    else:
        scale = np.maximum((hi - lo) / n, np.float32(1e-7))
        side = np.abs(lo) > np.abs(hi)
        scale = np.where(side, scale, -scale).astype(np.float32)
        edge = np.where(side, lo, hi)
        q0 = np.rint(edge / scale)
        scale = np.where(q0 == 0, scale, edge / np.where(q0 == 0, 1, q0)).astype(np.float32)
        bias = np.where(q0 == 0, 0, edge).astype(np.float32)
    q = np.clip(np.rint((wg - bias[:, None]) / scale[:, None]), 0, n).astype(np.uint32)
    return pack_bits(q.reshape(rows, -1), bits), scale.reshape(rows, -1), bias.reshape(rows, -1)


FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def e4m3_values():
    v = np.zeros(256)
    for b in range(256):
        e, m = (b >> 3) & 15, b & 7
        x = np.nan if (e == 15 and m == 7) else (m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
        v[b] = -x if b & 0x80 else x
    return v


E4M3 = e4m3_values()


def enc_e4m3(x):
    """Nearest e4m3 code (ties to even mantissa), saturating at 448, sign kept."""
    x = np.asarray(x, np.float64)
    mags = E4M3[:127]  # codes 0..126, ascending
    a = np.minimum(np.abs(x), 448.0)
    idx = np.clip(np.searchsorted(mags, a), 1, 126)
    lo, hi = mags[idx - 1], mags[idx]
    up = (hi - a < a - lo) | ((hi - a == a - lo) & (idx % 2 == 0))
    c = np.where(up, idx, idx - 1)
    return (c | np.where(np.signbit(x), 0x80, 0)).astype(np.uint32)


def enc_fp4(x):
    """Nearest e2m1 code, ties toward the smaller magnitude, saturating at 6; zero unsigned."""
    a = np.abs(x)
    c = sum((a > t).astype(np.uint32) for t in (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0))
    return np.where((x < 0) & (c > 0), c | 8, c).astype(np.uint32)


def ref_fp(w, mode):
    """Scale codes and packed element codes of the mx/nv formats (float32 input)."""
    rows = w.shape[0]
    g = 16 if mode == "nvfp4" else 32
    wg = w.astype(np.float32).reshape(-1, g)
    amax = np.abs(wg).max(1)
    if mode == "nvfp4":
        s = enc_e4m3(amax / np.float32(6)).astype(np.uint8)
        scale = E4M3[s]
    else:
        r = (amax / np.float32(448 if mode == "mxfp8" else 6)).astype(np.float32)
        m, e = np.frexp(r)
        e = np.where(r == 0, 0, np.where(m == 0.5, e - 1, e))  # ceil(log2(r))
        s = np.clip(e + 127, 0, 254).astype(np.uint8)
        scale = 2.0 ** (s.astype(np.float64) - 127)
    v = np.where(scale[:, None] == 0, 0, wg / np.where(scale == 0, 1, scale)[:, None])
    codes = enc_e4m3(v) if mode == "mxfp8" else enc_fp4(v)
    bits = 8 if mode == "mxfp8" else 4
    return pack_bits(codes.reshape(rows, -1), bits), s.reshape(rows, -1)


def ref_dequant_fp(wq, s, mode):
    bits = 8 if mode == "mxfp8" else 4
    g = 16 if mode == "nvfp4" else 32
    codes = unpack_bits(wq, bits)
    if mode == "mxfp8":
        vals = E4M3[codes]
    else:
        vals = np.where(codes & 8, -1, 1) * FP4[codes & 7]
    scale = E4M3[s] if mode == "nvfp4" else 2.0 ** (s.astype(np.float64) - 127)
    return vals * np.repeat(scale, g, axis=-1)


def deq(q, mode="affine", group_size=None, bits=None):
    """Dequantized values as float32 NumPy."""
    return npy(mx.dequantize(*q, group_size=group_size, bits=bits, mode=mode, dtype=mx.float32))


# ------------------------------------------------------------------ quantize / dequantize
@pytest.mark.parametrize("group_size,bits", AFFINE)
def test_affine_matches_reference(rng, group_size, bits):
    w = rng.standard_normal((6, group_size * 3)).astype(np.float32)
    w[0] = np.round(w[0] * 4) / 4  # ties and repeated values
    w[1] = np.abs(w[1]) + 1  # all positive
    w[2] = 0.5  # constant group
    wq, s, b = mx.quantize(mx.array(w), group_size, bits)
    assert wq.dtype == mx.uint32 and s.dtype == b.dtype == mx.float32
    assert wq.shape == (6, group_size * 3 * bits // 32) and s.shape == b.shape == (6, 3)
    rq, rs, rb = ref_affine(w, group_size, bits)
    np.testing.assert_array_equal(np.array(wq), rq)
    np.testing.assert_array_equal(np.array(s), rs)
    np.testing.assert_array_equal(np.array(b), rb)
    # dequantize: scale * q + bias, rounded once per operation
    q = unpack_bits(rq, bits).reshape(6, 3, group_size).astype(np.float32)
    want = (q * rs[..., None] + rb[..., None]).reshape(6, -1)
    np.testing.assert_array_equal(np.array(mx.dequantize(wq, s, b, group_size, bits)), want)
    # the typical error is below half a step (the zero nudge can clip the range's far end)
    err = np.abs(np.array(mx.dequantize(wq, s, b, group_size, bits)) - w).reshape(6, 3, -1)
    assert np.median(err / np.abs(rs)[..., None]) <= 0.5 + 1e-6


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
@pytest.mark.parametrize("bits", [2, 4, 5, 8])
def test_affine_half_inputs(rng, dtype, bits):
    # Scales are computed in float32 from the rounded inputs and stored in the input dtype;
    # dequantize rounds q * scale and then + bias in that dtype.
    w = mx.array(rng.standard_normal((4, 128)).astype(np.float32)).astype(dtype)
    wq, s, b = mx.quantize(w, 64, bits)
    assert s.dtype == b.dtype == dtype
    rq, rs, rb = ref_affine(npy(w), 64, bits)
    np.testing.assert_array_equal(np.array(wq), rq)
    np.testing.assert_array_equal(npy(s), rounded(rs, dtype))
    np.testing.assert_array_equal(npy(b), rounded(rb, dtype))
    d = mx.dequantize(wq, s, b, 64, bits)
    assert d.dtype == dtype
    q = unpack_bits(rq, bits).reshape(4, 2, 64).astype(np.float32)
    prod = rounded(q * npy(s)[..., None], dtype)
    np.testing.assert_array_equal(npy(d), rounded(prod + npy(b)[..., None], dtype).reshape(4, -1))


@pytest.mark.parametrize("mode", FP_MODES)
def test_fp_modes_match_reference(rng, mode):
    g = 16 if mode == "nvfp4" else 32
    w = rng.standard_normal((8, g * 4)).astype(np.float32)
    w[1] *= 1e-3
    w[2] = np.round(w[2] * 8) / 4  # ties
    w[3] *= 300
    w[4] = 0
    w[5, :g] = 6.0 * 2.0 ** rng.integers(-4, 4, g)  # power-of-two boundaries
    out = mx.quantize(mx.array(w), mode=mode)
    assert len(out) == 2
    wq, s = out
    assert wq.dtype == mx.uint32 and s.dtype == mx.uint8
    rq, rs = ref_fp(w, mode)
    np.testing.assert_array_equal(np.array(s), rs)
    np.testing.assert_array_equal(np.array(wq), rq)
    d = mx.dequantize(wq, s, mode=mode)
    assert d.dtype == mx.bfloat16
    want = ref_dequant_fp(rq, rs, mode)
    np.testing.assert_array_equal(deq(out, mode), want.astype(np.float32))
    np.testing.assert_array_equal(npy(d), rounded(want, mx.bfloat16))
    assert mx.dequantize(wq, s, mode=mode, dtype=mx.float16).dtype == mx.float16


def test_pinned_to_mlx_values():
    # Outputs of MLX 0.32.4 for these inputs (packing order, scale encodings, signs).
    w = np.sin(np.arange(64, dtype=np.float32) * np.float32(0.37)).reshape(2, 32)
    w = (w * np.array([[1.0], [3.5]], np.float32)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), 32, 4)
    assert np.array(wq).tolist() == [[1107301208, 3758091431, 536950155, 4294888052],
                                     [1267901, 4293699394, 19237855, 4291458080]]
    close(s, [[-0.12455945461988449], [-0.4364177882671356]], rtol=0, atol=1e-7)
    close(b, [[0.9964756369590759], [3.491342306137085]], rtol=0, atol=1e-7)
    wq, s, b = mx.quantize(mx.array(w), 32, 3)
    assert np.array(wq).tolist() == [[2873360476, 48627711, 4294793760], [3506443567, 2843738090, 4283860992]]
    wq, s = mx.quantize(mx.array(w), mode="mxfp4")
    assert np.array(wq).tolist() == [[1164338480, 3740195985, 1449546507, 4008561172],
                                     [1431580844, 3722219845, 1430457037, 3720942677]]
    assert np.array(s).tolist() == [[125], [127]]
    wq, s = mx.quantize(mx.array(w), mode="mxfp8")
    assert np.array(wq)[0, :4].tolist() == [1987275776, 1886746488, 4126205028, 4093049079]
    assert np.array(s).tolist() == [[119], [120]]
    w2 = (np.sin(np.arange(64, dtype=np.float32) * np.float32(0.37)).reshape(2, 32) * 2).astype(np.float32)
    wq, s = mx.quantize(mx.array(w2), mode="nvfp4")
    assert np.array(wq).tolist() == [[1450669632, 4026527138, 1735877644, 4294892069],
                                     [2004238542, 4293763670, 2003045615, 4275709287]]
    assert np.array(s).tolist() == [[43, 43], [43, 43]]


def test_mx_scale_in_input_precision():
    # amax / 448 rounds to a power of two in float16 here, so the scale is one step smaller
    # than from the float32 value and the largest element saturates (as MLX).
    w = np.zeros((1, 32), np.float32)
    w[0, 0] = 0.00021791458
    w16 = mx.array(w).astype(mx.float16)
    _, s = mx.quantize(w16, mode="mxfp8")
    assert np.array(s).tolist() == [[106]]
    _, s = mx.quantize(mx.array(w), mode="mxfp8")
    assert np.array(s).tolist() == [[107]]


def test_nvfp4_global_scale(rng):
    w = (rng.standard_normal((4, 64)) * 3).astype(np.float32)
    for gs in [0.5, 3.7, 2688.0]:
        g = mx.array(gs)
        wq, s = mx.quantize(mx.array(w), mode="nvfp4", global_scale=g)
        factor = np.float32(448 * 6) / np.float32(gs)
        amax = np.abs(w.reshape(-1, 16)).max(1)
        rs = enc_e4m3((amax / np.float32(6)).astype(np.float32) * factor).astype(np.uint8)
        np.testing.assert_array_equal(np.array(s).ravel(), rs)
        d = npy(mx.dequantize(wq, s, mode="nvfp4", global_scale=g, dtype=mx.float32))
        codes = unpack_bits(np.array(wq), 4)
        vals = np.where(codes & 8, -1, 1) * FP4[codes & 7]
        close(d, vals * np.repeat(E4M3[np.array(s)] / factor, 16, axis=-1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", FLOATS + [mx.float64])
def test_round_trip_shapes_and_layouts(rng, dtype):
    with on_cpu_if_float64(dtype):
        w = mx.array(rng.standard_normal((2, 3, 128)).astype(np.float32)).astype(dtype)
        for mode, g, b in [("affine", 64, 4), ("affine", 128, 6), ("mxfp4", None, None), ("nvfp4", None, None)]:
            q = mx.quantize(w, g, b, mode=mode)
            assert q[0].shape[:2] == (2, 3)
            d = mx.dequantize(*q, group_size=g, bits=b, mode=mode)
            if mode == "affine":
                assert d.dtype == dtype
            assert d.shape == w.shape
            # each leading slice quantizes independently
            q1 = mx.quantize(w[1, 2:3], g, b, mode=mode)
            np.testing.assert_array_equal(np.array(q[0][1, 2:3]), np.array(q1[0]))
            # non-contiguous input (transposed view) quantizes its logical values
            wt = mx.swapaxes(mx.array(npy(w).swapaxes(0, 1)).astype(dtype), 0, 1)
            qt = mx.quantize(wt, g, b, mode=mode)
            np.testing.assert_array_equal(np.array(qt[0]), np.array(q[0]))
        err = np.abs(npy(mx.dequantize(*mx.quantize(w, 32, 8), 32, 8)) - npy(w)).max()
        assert err < (0.05 if dtype == mx.bfloat16 else 0.03)


def test_defaults_and_empty():
    w = mx.ones((4, 128))
    wq, s, b = mx.quantize(w)  # affine, group_size 64, bits 4
    assert wq.shape == (4, 16) and s.shape == (4, 2)
    close(mx.dequantize(wq, s, b), np.ones((4, 128)))
    assert mx.quantize(mx.zeros((0, 64)), 64, 4)[0].shape == (0, 8)
    wq, s, b = mx.quantize(mx.zeros((3, 0)), 64, 4)
    assert wq.shape == (3, 0) and s.shape == (3, 0)
    assert mx.dequantize(wq, s, b, 64, 4).shape == (3, 0)
    assert isinstance(mx.quantize(w), list)


# ------------------------------------------------------------------ quantized_matmul
def exact_affine(wq, s, b, group_size, bits):
    """scale * q + bias in float64 from the codes (no intermediate rounding)."""
    wq = np.array(wq)
    lead = wq.shape[:-1]
    q = unpack_bits(wq.reshape(-1, wq.shape[-1]), bits).astype(np.float64)
    s = npy(s).astype(np.float64).reshape(-1, npy(s).shape[-1])
    b = npy(b).astype(np.float64).reshape(s.shape)
    out = q.reshape(s.shape + (group_size,)) * s[..., None] + b[..., None]
    return out.reshape(lead + (-1,))


def qmm_ref(x, q, transpose, mode="affine", g=None, b=None):
    d = deq(q, mode, g, b).astype(np.float64)
    if transpose:
        d = np.swapaxes(d, -1, -2)
    return np.asarray(x, np.float64) @ d


@pytest.mark.parametrize("mode,g,b", [("affine", 32, 4), ("affine", 64, 3), ("affine", 128, 8), ("affine", 64, 2),
                                      ("affine", 32, 5), ("affine", 64, 6), ("affine", 32, 1),
                                      ("mxfp4", None, None), ("mxfp8", None, None), ("nvfp4", None, None)])
@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_vs_dequantized(rng, mode, g, b, transpose):
    N, K = (96, 256) if transpose else (256, 96)
    w = rng.standard_normal((N, K) if transpose else (K, N)).astype(np.float32)
    q = mx.quantize(mx.array(w), g, b, mode=mode)
    for M in [1, 2, 5, 17, 40]:  # fused kernel (few rows) and tiled path (many rows)
        x = rng.standard_normal((M, K if transpose else N)).astype(np.float32)
        if not transpose:
            x = rng.standard_normal((M, K)).astype(np.float32)
        y = mx.quantized_matmul(mx.array(x), *q, transpose=transpose, group_size=g, bits=b, mode=mode)
        assert y.dtype == mx.float32
        close(y, qmm_ref(x, q, transpose, mode, g, b), rtol=1e-4, atol=1e-3)


def test_quantized_matmul_shapes_broadcast_and_views(rng):
    w = rng.standard_normal((64, 128)).astype(np.float32)
    q = mx.quantize(mx.array(w), 64, 4)
    d = deq(q, "affine", 64, 4)
    x1 = rng.standard_normal(128).astype(np.float32)
    close(mx.quantized_matmul(mx.array(x1), *q, group_size=64, bits=4), x1 @ d.T, rtol=1e-4, atol=1e-4)
    x3 = rng.standard_normal((2, 3, 128)).astype(np.float32)
    close(mx.quantized_matmul(mx.array(x3), *q, group_size=64, bits=4), x3 @ d.T, rtol=1e-4, atol=1e-4)
    # non-contiguous x
    xt = mx.array(x3.transpose(1, 0, 2).copy()).transpose(1, 0, 2)
    close(mx.quantized_matmul(xt, *q, group_size=64, bits=4), x3 @ d.T, rtol=1e-4, atol=1e-4)
    # empty batch
    assert mx.quantized_matmul(mx.zeros((0, 128)), *q, group_size=64, bits=4).shape == (0, 64)
    # batched weights broadcast against x's batch
    wb = rng.standard_normal((2, 64, 128)).astype(np.float32)
    qb = mx.quantize(mx.array(wb), 64, 4)
    db = deq(qb, "affine", 64, 4)
    xb = rng.standard_normal((3, 1, 4, 128)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(xb), *qb, group_size=64, bits=4)
    assert y.shape == (3, 2, 4, 64)
    close(y, xb @ np.swapaxes(db, -1, -2), rtol=1e-4, atol=1e-4)
    close(mx.quantized_matmul(mx.array(x1), *qb, group_size=64, bits=4), x1 @ np.swapaxes(db, -1, -2),
          rtol=1e-4, atol=1e-4)
    # x @ W without transpose, batched
    y = mx.quantized_matmul(mx.array(rng.standard_normal((2, 5, 64)).astype(np.float32)), *qb, transpose=False,
                            group_size=64, bits=4)
    assert y.shape == (2, 5, 128)


@pytest.mark.parametrize("xdt,sdt,out", [(mx.float16, mx.float16, mx.float16), (mx.bfloat16, mx.bfloat16, mx.bfloat16),
                                         (mx.float16, mx.float32, mx.float32), (mx.bfloat16, mx.float16, mx.float32),
                                         (mx.int32, mx.float32, mx.float32), (mx.float64, mx.float32, mx.float64)])
def test_quantized_matmul_dtypes(rng, xdt, sdt, out):
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32)).astype(sdt)
    q = mx.quantize(w, 32, 4)
    with on_cpu_if_float64(xdt, sdt, out):
        x = mx.array(rng.integers(-3, 4, (3, 64)).astype(np.float32)).astype(xdt)
        y = mx.quantized_matmul(x, *q, group_size=32, bits=4)
        assert y.dtype == out
        tol = {mx.float16: 2e-3, mx.bfloat16: 1e-2}.get(out, 1e-5)
        want = npy(x.astype(mx.float32)).astype(np.float64) @ exact_affine(*q, 32, 4).T
        close(y, want, rtol=tol, atol=tol * np.abs(want).max())
        # fp modes keep x's dtype
        qf = mx.quantize(mx.array(rng.standard_normal((32, 64)).astype(np.float32)), mode="mxfp4")
        if mx.issubdtype(xdt, mx.floating):
            assert mx.quantized_matmul(x, *qf, mode="mxfp4").dtype == xdt


def test_quantized_matmul_float64_exact(rng):
    w = rng.standard_normal((48, 96)).astype(np.float32)
    q = mx.quantize(mx.array(w), 32, 4)
    with float64_on_cpu():
        s64, b64 = q[1].astype(mx.float64), q[2].astype(mx.float64)
        x = mx.array(rng.standard_normal((3, 96)), dtype=mx.float64)
        y = mx.quantized_matmul(x, q[0], s64, b64, group_size=32, bits=4)
        assert y.dtype == mx.float64
        close(y, np.array(x) @ exact_affine(q[0], s64, b64, 32, 4).T, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ gather_qmm
@pytest.mark.parametrize("mode,g,b", [("affine", 64, 4), ("affine", 32, 3), ("mxfp4", None, None),
                                      ("nvfp4", None, None)])
@pytest.mark.parametrize("transpose", [True, False])
def test_gather_qmm(rng, mode, g, b, transpose):
    N, K = (64, 128) if transpose else (128, 64)
    w = rng.standard_normal((4,) + ((N, K) if transpose else (K, N))).astype(np.float32)
    q = mx.quantize(mx.array(w), g, b, mode=mode)
    d = deq(q, mode, g, b)
    if transpose:
        d = np.swapaxes(d, -1, -2)
    x = rng.standard_normal((5, 3, K)).astype(np.float32)
    cases = [([0, 1, 4, 2], [3, 0, 1, 1]), ([[1, 1], [2, 2]], [[0, 0], [3, 3]]), ([[0], [3]], [[1, 2, 1]]),
             ([4, 3, 2, 1, 0, 0, 1], [2, 2, 2, 2, 0, 0, 1])]
    for li, ri in cases:
        y = mx.gather_qmm(mx.array(x), *q, lhs_indices=mx.array(li), rhs_indices=mx.array(ri), transpose=transpose,
                          group_size=g, bits=b, mode=mode)
        lb, rb = np.broadcast_arrays(np.array(li), np.array(ri))
        want = np.stack([x[i] @ d[j] for i, j in zip(lb.ravel(), rb.ravel())]).reshape(lb.shape + (3, N))
        close(y, want, rtol=1e-4, atol=1e-4)
    # default indices: batches paired elementwise; rhs only; sorted
    y = mx.gather_qmm(mx.array(x[:4]), *q, transpose=transpose, group_size=g, bits=b, mode=mode)
    close(y, x[:4] @ d, rtol=1e-4, atol=1e-4)
    y = mx.gather_qmm(mx.array(x[0]), *q, rhs_indices=mx.array([0, 0, 2, 3]), transpose=transpose, group_size=g,
                      bits=b, mode=mode, sorted_indices=True)
    close(y, np.stack([x[0] @ d[j] for j in [0, 0, 2, 3]]), rtol=1e-4, atol=1e-4)


def test_gather_qmm_moe_rows(rng):
    # Many single-row items routed to a few experts (the fused and tiled paths per expert).
    E, N, K = 3, 64, 128
    q = mx.quantize(mx.array(rng.standard_normal((E, N, K)).astype(np.float32)), 64, 4)
    d = deq(q, "affine", 64, 4)
    x = rng.standard_normal((40, 1, K)).astype(np.float32)
    ri = rng.integers(0, E, 40)
    y = mx.gather_qmm(mx.array(x), *q, lhs_indices=mx.arange(40), rhs_indices=mx.array(ri), group_size=64, bits=4)
    close(y, np.stack([x[i] @ d[ri[i]].T for i in range(40)]), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ qqmm / gather_qqmm
def fake_quant(a, mode):
    return deq(mx.quantize(mx.array(a), mode=mode), mode)


@pytest.mark.parametrize("mode", ["nvfp4", "mxfp8", "mxfp4"])
def test_qqmm(rng, mode):
    x = rng.standard_normal((3, 64)).astype(np.float32)
    w = rng.standard_normal((32, 64)).astype(np.float32)
    want = fake_quant(x, mode) @ fake_quant(w, mode).T
    close(mx.qqmm(mx.array(x), mx.array(w), mode=mode), want, rtol=1e-5, atol=1e-5)
    wq, s = mx.quantize(mx.array(w), mode=mode)
    close(mx.qqmm(mx.array(x), wq, s, mode=mode), want, rtol=1e-5, atol=1e-5)
    y = mx.qqmm(mx.array(x).astype(mx.bfloat16), mx.array(w).astype(mx.bfloat16), mode=mode)
    assert y.dtype == mx.bfloat16
    x3 = rng.standard_normal((2, 3, 64)).astype(np.float32)
    y = mx.qqmm(mx.array(x3), mx.array(w), mode=mode)
    close(y, (fake_quant(x3.reshape(6, 64), mode) @ fake_quant(w, mode).T).reshape(2, 3, 32), rtol=1e-5, atol=1e-5)
    assert mx.qqmm(mx.array(x[0]), mx.array(w), mode=mode).shape == (32,)


def test_qqmm_straight_through_gradients(rng):
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    gx, gw = mx.grad(lambda x, w: mx.qqmm(x, w).sum(), argnums=(0, 1))(x, w)
    close(gx, np.ones((3, 32)) @ fake_quant(np.array(w), "nvfp4"), rtol=1e-5, atol=1e-5)
    close(gw, np.ones((32, 3)) @ fake_quant(np.array(x), "nvfp4"), rtol=1e-5, atol=1e-5)


def test_gather_qqmm(rng):
    x = rng.standard_normal((5, 2, 64)).astype(np.float32)
    w = rng.standard_normal((4, 32, 64)).astype(np.float32)
    li, ri = [0, 1, 4, 2], [3, 0, 1, 1]
    dx = fake_quant(x.reshape(10, 64), "nvfp4").reshape(5, 2, 64)
    dw = fake_quant(w.reshape(128, 64), "nvfp4").reshape(4, 32, 64)
    want = np.stack([dx[i] @ dw[j].T for i, j in zip(li, ri)])
    y = mx.gather_qqmm(mx.array(x), mx.array(w), lhs_indices=mx.array(li), rhs_indices=mx.array(ri))
    close(y, want, rtol=1e-5, atol=1e-5)
    wq, s = mx.quantize(mx.array(w), mode="nvfp4")
    y = mx.gather_qqmm(mx.array(x), wq, s, lhs_indices=mx.array(li), rhs_indices=mx.array(ri))
    close(y, want, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ fp8
def test_from_fp8_all_codes():
    codes = mx.array(np.arange(256, dtype=np.uint8))
    for dt in [mx.float32, mx.float16, mx.bfloat16, mx.float64]:
        with on_cpu_if_float64(dt):
            y = mx.from_fp8(codes, dt)
            assert y.dtype == dt
            np.testing.assert_array_equal(npy(y), E4M3.astype(np.float32) if dt != mx.float64 else E4M3)
    assert mx.from_fp8(codes).dtype == mx.bfloat16


def test_to_fp8(rng):
    # every finite code round-trips; ties go to the even mantissa; saturation at 448
    finite = E4M3[~np.isnan(E4M3)].astype(np.float32)
    back = E4M3[np.array(mx.to_fp8(mx.array(finite)))]
    np.testing.assert_array_equal(back, finite)
    vals = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-4, 3, 3000),
                           [0.0, -0.0, 464.0, 465.0, 1e10, -1e10, np.inf, -np.inf, 2.0**-10, 3 * 2.0**-10,
                            5 * 2.0**-11, 1.0625, 1.1875, -1e-12]]).astype(np.float32)
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array(vals))), enc_e4m3(vals))
    assert np.array(mx.to_fp8(mx.array([np.nan, -np.nan], mx.float32))).tolist() == [126, 254]
    for dt in [mx.float16, mx.bfloat16, mx.float64]:
        with on_cpu_if_float64(dt):
            x = mx.array(vals).astype(dt)
            np.testing.assert_array_equal(np.array(mx.to_fp8(x)), enc_e4m3(npy(x)))
    assert mx.to_fp8(mx.array(1.0)).shape == ()
    x = mx.array(vals.reshape(-1, 2)).T  # non-contiguous
    np.testing.assert_array_equal(np.array(mx.to_fp8(x)), enc_e4m3(vals.reshape(-1, 2).T))


# ------------------------------------------------------------------ errors
def test_quantize_errors():
    w = mx.ones((4, 64))
    with pytest.raises(ValueError, match="group size"):
        mx.quantize(w, 16, 4)
    with pytest.raises(ValueError, match="group size"):
        mx.quantize(w, 0, 4)
    with pytest.raises(ValueError, match="bits"):
        mx.quantize(w, 32, 7)
    with pytest.raises(ValueError, match="bits"):
        mx.quantize(w, 32, 0)
    with pytest.raises(ValueError, match="divisible"):
        mx.quantize(mx.ones((4, 48)), 32, 4)
    with pytest.raises(ValueError, match="at least 2"):
        mx.quantize(mx.ones(64), 32, 4)
    with pytest.raises(ValueError, match="at least 2"):
        mx.quantize(mx.array(1.0), 32, 4)
    with pytest.raises(ValueError, match="floating"):
        mx.quantize(mx.ones((4, 64), dtype=mx.int32), 32, 4)
    with pytest.raises(ValueError, match="mode"):
        mx.quantize(w, mode="int4")
    with pytest.raises(ValueError, match="group size 32"):
        mx.quantize(w, 16, 4, mode="mxfp4")
    with pytest.raises(ValueError, match="bits to be 4"):
        mx.quantize(w, 32, 8, mode="mxfp4")
    with pytest.raises(ValueError, match="group size 16"):
        mx.quantize(w, 32, 4, mode="nvfp4")
    with pytest.raises(ValueError, match="global_scale"):
        mx.quantize(w, mode="mxfp4", global_scale=mx.array(1.0))
    with pytest.raises(ValueError, match="scalar"):
        mx.quantize(w, mode="nvfp4", global_scale=mx.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="float32"):
        mx.quantize(w, mode="nvfp4", global_scale=mx.array(1.0, mx.float16))


def test_dequantize_and_matmul_errors():
    w = mx.ones((32, 64))
    wq, s, b = mx.quantize(w, 32, 4)
    fq, fs = mx.quantize(w, mode="mxfp4")
    x = mx.ones((2, 64))
    for fn in (lambda **k: mx.dequantize(**k), lambda **k: mx.quantized_matmul(x, **k)):
        with pytest.raises(ValueError, match="biases"):
            fn(w=wq, scales=s, biases=None, group_size=32, bits=4)
        with pytest.raises(ValueError, match="uint32"):
            fn(w=wq.astype(mx.int32), scales=s, biases=b, group_size=32, bits=4)
        with pytest.raises(ValueError, match="same shape"):
            fn(w=wq, scales=s, biases=b[:, :1], group_size=32, bits=4)
        with pytest.raises(ValueError, match="do not match"):
            fn(w=wq, scales=s, biases=b, group_size=64, bits=4)
        with pytest.raises(ValueError, match="do not match"):
            fn(w=wq, scales=s, biases=b, group_size=32, bits=8)
        with pytest.raises(ValueError, match="group size"):
            fn(w=wq, scales=s, biases=b, group_size=16, bits=4)
        with pytest.raises(ValueError, match="bits"):
            fn(w=wq, scales=s, biases=b, group_size=32, bits=7)
        with pytest.raises(ValueError, match="agree"):
            fn(w=wq, scales=s[None], biases=b[None], group_size=32, bits=4)
        with pytest.raises(ValueError, match="None"):
            fn(w=fq, scales=fs, biases=b, mode="mxfp4")
        with pytest.raises(ValueError, match="uint8"):
            fn(w=fq, scales=fs.astype(mx.float32), mode="mxfp4")
        with pytest.raises(ValueError, match="mode"):
            fn(w=wq, scales=s, biases=b, mode="zz")
    with pytest.raises(ValueError, match="at least 2"):
        mx.dequantize(wq[0], s[0], b[0], 32, 4)
    with pytest.raises(ValueError, match="floating"):
        mx.dequantize(wq, s, b, 32, 4, dtype=mx.int32)
    with pytest.raises(ValueError, match="last dimension of x"):
        mx.quantized_matmul(mx.ones((2, 32)), wq, s, b, group_size=32, bits=4)
    with pytest.raises(ValueError, match="last dimension of x"):
        mx.quantized_matmul(x, wq, s, b, transpose=False, group_size=32, bits=4)
    with pytest.raises(ValueError, match="at least one"):
        mx.quantized_matmul(mx.array(1.0), wq, s, b, group_size=32, bits=4)
    with pytest.raises(ValueError, match="floating"):
        mx.quantized_matmul(mx.ones((2, 64), dtype=mx.int32), fq, fs, mode="mxfp4")
    with pytest.raises(ValueError, match="real"):
        mx.quantized_matmul(x.astype(mx.complex64), wq, s, b, group_size=32, bits=4)
    with pytest.raises(ValueError):
        mx.quantized_matmul(mx.ones((3, 2, 64)), mx.stack([wq] * 2), mx.stack([s] * 2), mx.stack([b] * 2)[:1, :5],
                            group_size=32, bits=4)


def test_gather_qqmm_fp8_errors():
    w = mx.ones((2, 32, 64))
    wq, s, b = mx.quantize(w, 32, 4)
    with pytest.raises(ValueError, match="two dimensions"):
        mx.gather_qmm(mx.ones(64), wq, s, b, group_size=32, bits=4)
    with pytest.raises(ValueError, match="integral"):
        mx.gather_qmm(mx.ones((2, 1, 64)), wq, s, b, lhs_indices=mx.array([0.0]), group_size=32, bits=4)
    with pytest.raises(ValueError, match="broadcast"):
        mx.gather_qmm(mx.ones((3, 1, 64)), wq, s, b, group_size=32, bits=4)
    with pytest.raises(ValueError, match="GPU"):
        mx.gather_qmm(mx.ones((2, 1, 64)), wq, s, b, group_size=32, bits=4, global_scale=mx.array(1.0))
    x = mx.ones((2, 64))
    with pytest.raises(ValueError, match="affine"):
        mx.qqmm(x, mx.ones((32, 64)), mode="affine")
    with pytest.raises(ValueError, match="float64"):
        mx.qqmm(x.astype(mx.float64), mx.ones((32, 64)))
    with pytest.raises(ValueError, match="2-D"):
        mx.qqmm(mx.ones((2, 2, 64)), mx.ones((2, 32, 64)))
    with pytest.raises(ValueError, match="last dimension"):
        mx.qqmm(mx.ones((2, 32)), mx.ones((32, 64)))
    with pytest.raises(ValueError, match="scales must be provided"):
        mx.qqmm(x, mx.zeros((32, 8), dtype=mx.uint32))
    with pytest.raises(ValueError, match="divisible"):
        mx.qqmm(mx.ones((2, 40)), mx.ones((32, 40)))
    with pytest.raises(ValueError, match="floating"):
        mx.to_fp8(mx.array([1, 2]))
    with pytest.raises(ValueError, match="uint8"):
        mx.from_fp8(mx.array([1, 2]))
    with pytest.raises(ValueError, match="floating"):
        mx.from_fp8(mx.array([1, 2], mx.uint8), mx.int32)


# ------------------------------------------------------------------ gradients
def fd_directional(f, args, i, direction, eps=1e-6):
    plus = list(args)
    minus = list(args)
    plus[i] = args[i] + eps * direction
    minus[i] = args[i] - eps * direction
    return (f(*plus).item() - f(*minus).item()) / (2 * eps)


@pytest.mark.parametrize("transpose", [True, False])
def test_quantized_matmul_grads_vs_finite_differences(rng, transpose):
    N, K = (32, 64) if transpose else (64, 32)
    w = rng.standard_normal((N, K) if transpose else (K, N)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), 32, 4)
    with float64_on_cpu():
        s, b = s.astype(mx.float64), b.astype(mx.float64)
        x = mx.array(rng.standard_normal((2, 3, K)), dtype=mx.float64)
        R = mx.array(rng.standard_normal((2, 3, N)), dtype=mx.float64)

        def f(x, s, b):
            return (mx.quantized_matmul(x, wq, s, b, transpose=transpose, group_size=32, bits=4) * R).sum()

        grads = mx.grad(f, argnums=(0, 1, 2))(x, s, b)
        for i, g in enumerate(grads):
            arg = (x, s, b)[i]
            d = mx.array(rng.standard_normal(arg.shape), dtype=mx.float64)
            numeric = fd_directional(f, (x, s, b), i, d)
            assert np.isclose((g * d).sum().item(), numeric, rtol=1e-6, atol=1e-8)
        # jvp agrees with the vjp
        tx = mx.array(rng.standard_normal(x.shape), dtype=mx.float64)
        ts = mx.array(rng.standard_normal(s.shape), dtype=mx.float64)
        _, (jv,) = mx.jvp(lambda x, s: mx.quantized_matmul(x, wq, s, b, transpose=transpose, group_size=32, bits=4),
                          [x, s], [tx, ts])
        close((jv * R).sum(), ((grads[0] * tx).sum() + (grads[1] * ts).sum()).item(), rtol=1e-9, atol=1e-9)
        # no gradient for the packed weights
        with pytest.raises(ValueError):
            mx.grad(lambda w: mx.quantized_matmul(x, w, s, b, transpose=transpose, group_size=32, bits=4).sum())(wq)


def test_fp_mode_grad_and_dequantize_grads(rng):
    w = rng.standard_normal((32, 64)).astype(np.float32)
    fq, fs = mx.quantize(mx.array(w), mode="mxfp8")
    with float64_on_cpu():
        x = mx.array(rng.standard_normal((3, 64)), dtype=mx.float64)
        g = mx.grad(lambda x: mx.quantized_matmul(x, fq, fs, mode="mxfp8").sum())(x)
        close(g, np.ones((3, 32)) @ deq((fq, fs), "mxfp8").astype(np.float64), rtol=1e-12, atol=1e-12)
    wq, s, b = mx.quantize(mx.array(w), 64, 3)
    with float64_on_cpu():
        s, b = s.astype(mx.float64), b.astype(mx.float64)
        R = mx.array(rng.standard_normal((32, 64)), dtype=mx.float64)

        def f(s, b):
            return (mx.dequantize(wq, s, b, 64, 3) * R).sum()

        gs, gb = mx.grad(f, argnums=(0, 1))(s, b)
        q = unpack_bits(np.array(wq), 3).reshape(32, 1, 64)
        close(gs, (np.array(R).reshape(32, 1, 64) * q).sum(-1), rtol=1e-12, atol=1e-10)
        close(gb, np.array(R).reshape(32, 1, 64).sum(-1), rtol=1e-12, atol=1e-10)


def test_gather_qmm_grads(rng):
    w = rng.standard_normal((3, 32, 64)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), 32, 4)
    with float64_on_cpu():
        s, b = s.astype(mx.float64), b.astype(mx.float64)
        x = mx.array(rng.standard_normal((4, 2, 64)), dtype=mx.float64)
        li, ri = mx.array([0, 3, 3, 1, 2]), mx.array([2, 0, 2, 1, 0])
        R = mx.array(rng.standard_normal((5, 2, 32)), dtype=mx.float64)

        def f(x, s, b):
            return (mx.gather_qmm(x, wq, s, b, li, ri, group_size=32, bits=4) * R).sum()

        grads = mx.grad(f, argnums=(0, 1, 2))(x, s, b)
        for i, g in enumerate(grads):
            arg = (x, s, b)[i]
            d = mx.array(rng.standard_normal(arg.shape), dtype=mx.float64)
            assert np.isclose((g * d).sum().item(), fd_directional(f, (x, s, b), i, d), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ vmap
def test_vmap_quantized_ops(rng):
    w = rng.standard_normal((3, 32, 64)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), 32, 4)
    x = mx.array(rng.standard_normal((3, 5, 64)).astype(np.float32))

    def f(x, wq, s, b):
        return mx.quantized_matmul(x, wq, s, b, group_size=32, bits=4)

    loop = mx.stack([f(x[i], wq[i], s[i], b[i]) for i in range(3)])
    close(mx.vmap(f)(x, wq, s, b), npy(loop), rtol=1e-5, atol=1e-5)
    loop = mx.stack([f(x[i], wq[0], s[0], b[0]) for i in range(3)])
    close(mx.vmap(f, in_axes=(0, None, None, None))(x, wq[0], s[0], b[0]), npy(loop), rtol=1e-5, atol=1e-5)
    xt = mx.swapaxes(x, 0, 1)  # batch along axis 1
    loop = mx.stack([f(x[0], wq[i], s[i], b[i]) for i in range(3)])
    close(mx.vmap(f, in_axes=(None, 0, 0, 0))(x[0], wq, s, b), npy(loop), rtol=1e-5, atol=1e-5)
    close(mx.vmap(f, in_axes=(1, 0, 0, 0))(xt, wq, s, b),
          npy(mx.stack([f(x[i], wq[i], s[i], b[i]) for i in range(3)])), rtol=1e-5, atol=1e-5)
    # dequantize / quantize / fp8
    dq = mx.vmap(lambda wq, s, b: mx.dequantize(wq, s, b, 32, 4))(wq, s, b)
    close(dq, npy(mx.dequantize(wq, s, b, 32, 4)))
    dq = mx.vmap(lambda s: mx.dequantize(wq[0], s, b[0], 32, 4))(s)
    close(dq, npy(mx.stack([mx.dequantize(wq[0], s[i], b[0], 32, 4) for i in range(3)])))
    outs = mx.vmap(lambda w: mx.quantize(w, 32, 4), in_axes=1, out_axes=0)(mx.swapaxes(mx.array(w), 0, 1))
    for o, r in zip(outs, mx.quantize(mx.array(w), 32, 4)):
        np.testing.assert_array_equal(npy(o), npy(r))
    v = mx.array(rng.standard_normal((4, 6)).astype(np.float32))
    np.testing.assert_array_equal(np.array(mx.vmap(mx.to_fp8, in_axes=1)(v)), np.array(mx.to_fp8(v)).T)
    # gather_qmm falls back to a loop
    li = mx.array([[0, 1], [2, 2], [1, 0]])
    g = mx.vmap(lambda l: mx.gather_qmm(x, wq, s, b, l, l, group_size=32, bits=4))(li)
    close(g, npy(mx.stack([mx.gather_qmm(x, wq, s, b, li[i], li[i], group_size=32, bits=4) for i in range(3)])),
          rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ nn layers
def test_quantized_linear_uses_fused_matmul(rng):
    import mlx.nn as nn

    lin = nn.Linear(128, 48)
    ql = nn.QuantizedLinear.from_linear(lin, group_size=64, bits=4)
    x = rng.standard_normal((7, 128)).astype(np.float32)
    d = deq((ql.weight, ql.scales, ql.biases), "affine", 64, 4)
    close(ql(mx.array(x)), x @ d.T + np.array(lin.bias), rtol=1e-4, atol=1e-4)
    for mode in ["mxfp4", "nvfp4", "mxfp8"]:
        qm = nn.QuantizedLinear.from_linear(lin, mode=mode)
        dm = deq((qm.weight, qm.scales), mode)
        close(qm(mx.array(x)), x @ dm.T + np.array(lin.bias), rtol=1e-4, atol=1e-4)
