"""mx.fast.scaled_dot_product_attention on the GPU (cuDNN fused attention where it applies, the
composite definition otherwise) against the CPU kernel run in float32 on the same values:
masks None / "causal" / additive / bool (broadcast shapes too), Lq != Lk both ways, GQA, head
dims 64/80/128, odd lengths (1, 77, 1000), non-contiguous q/k/v, float16/bfloat16 (float32 and
sinks take the composite), gradients w.r.t. q, k, v (mx.grad of sums of the output),
nn.MultiHeadAttention forward+backward with an additive causal mask. Every GPU computation is
checked with mx.cuda._host_fallbacks() to have run no node on the host.

Skipped where no CUDA GPU is present.
"""
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_map

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)
# Tolerances relative to max(1, max|reference|): the GPU computes in f16/bf16 storage with
# float32 accumulation, the reference in float32 throughout on the same (rounded) inputs.
TOL = {mx.float32: 2e-4, mx.float16: 6e-3, mx.bfloat16: 3e-2}
GTOL = {mx.float32: 5e-4, mx.float16: 1.5e-2, mx.bfloat16: 6e-2}


# ---- helpers ----------------------------------------------------------------------------------

def fallbacks():
    return dict(mx.cuda._host_fallbacks())


class NoHost:
    """Asserts that no node of a GPU stream ran on the host inside the block."""

    def __enter__(self):
        self.before = fallbacks()
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False
        after = fallbacks()
        new = {k: n - self.before.get(k, 0) for k, n in after.items() if n > self.before.get(k, 0)}
        assert not new, f"nodes ran on the host: {new}"
        return False


def randn(shape, dt, scale=1.0):
    return mx.array((rng.standard_normal(shape) * scale).astype(np.float32)).astype(dt)


def f32(x):
    return np.array(x.astype(mx.float32))


def close(got, want, tol, what=""):
    got, want = f32(got), f32(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert np.all(np.isfinite(got)), f"{what}: non-finite values"
    err = np.max(np.abs(got - want)) if got.size else 0.0
    ref = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    assert err <= tol * ref, f"{what}: max error {err} > {tol} * {ref}"


def sdpa(q, k, v, scale, mask):
    return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def reference(q, k, v, scale, mask):
    """The CPU kernel in float32 on the same values (an additive mask in float32 too)."""
    with mx.stream(mx.cpu):
        m = mask
        if isinstance(mask, mx.array) and mask.dtype != mx.bool_:
            m = mask.astype(mx.float32)
        out = sdpa(q.astype(mx.float32), k.astype(mx.float32), v.astype(mx.float32), scale, m)
        mx.eval(out)
    return out


def ref_grads(q, k, v, scale, mask, w):
    with mx.stream(mx.cpu):
        m = mask
        if isinstance(mask, mx.array) and mask.dtype != mx.bool_:
            m = mask.astype(mx.float32)

        def loss(a, b, c):
            o = sdpa(a, b, c, scale, m)
            return (o * w).sum() if w is not None else o.sum()

        g = mx.grad(loss, argnums=(0, 1, 2))(q.astype(mx.float32), k.astype(mx.float32), v.astype(mx.float32))
        mx.eval(g)
    return g


def gpu_grads(q, k, v, scale, mask, w, argnums=(0, 1, 2)):
    def loss(a, b, c):
        o = sdpa(a, b, c, scale, mask)
        o = o.astype(mx.float32)
        return (o * w).sum() if w is not None else o.sum()

    g = mx.grad(loss, argnums=argnums)(q, k, v)
    mx.eval(g)
    return g


def make_mask(kind, B, H, Lq, Lk, dt, shape=None):
    """None, "causal", an additive float mask or a bool mask (each row keeps >= 1 key)."""
    if kind in (None, "causal"):
        return kind
    shape = shape or (B, H, Lq, Lk)
    keep = rng.random(shape) < 0.7
    keep[..., 0] = True  # no fully masked row
    if kind == "bool":
        return mx.array(keep)
    add = np.where(keep, rng.standard_normal(shape) * 0.5, -1e4).astype(np.float32)
    return mx.array(add).astype(dt)


def check_forward(B, Hq, Hk, Lq, Lk, D, Dv, dt, mask_kind, mask_shape=None, q=None):
    q = randn((B, Hq, Lq, D), dt) if q is None else q
    k = randn((B, Hk, Lk, D), dt)
    v = randn((B, Hk, Lk, Dv), dt)
    mask = make_mask(mask_kind, B, Hq, Lq, Lk, dt, mask_shape)
    scale = 1.0 / math.sqrt(D)
    with NoHost():
        out = sdpa(q, k, v, scale, mask)
        mx.eval(out)
    assert out.dtype == dt and out.shape == (B, Hq, Lq, Dv)
    close(out, reference(q, k, v, scale, mask), TOL[dt], f"forward {mask_kind}")


def check_grads(B, Hq, Hk, Lq, Lk, D, Dv, dt, mask_kind, weighted=True, mask_shape=None):
    q = randn((B, Hq, Lq, D), dt)
    k = randn((B, Hk, Lk, D), dt)
    v = randn((B, Hk, Lk, Dv), dt)
    mask = make_mask(mask_kind, B, Hq, Lq, Lk, dt, mask_shape)
    scale = 1.0 / math.sqrt(D)
    w = mx.array(rng.standard_normal((B, Hq, Lq, Dv)).astype(np.float32)) if weighted else None
    with NoHost():
        got = gpu_grads(q, k, v, scale, mask, w)
    want = ref_grads(q, k, v, scale, mask, w)
    for name, g, r, x in zip("qkv", got, want, (q, k, v)):
        assert g.dtype == dt and g.shape == x.shape
        close(g, r, GTOL[dt], f"d{name} ({mask_kind})")


DTS = [mx.float16, mx.bfloat16]
MASKS = [None, "causal", "additive", "bool"]


# ---- masks that are the causal mask -----------------------------------------------------------

def causal_masks(Lq, Lk, dt):
    """Arrays equal to the causal mask (query i sees key j <= i + Lk - Lq): bool, and additive
    in dt made the ways models make them."""
    i = mx.arange(Lq)[:, None] + (Lk - Lq)
    j = mx.arange(Lk)[None]
    keep = j <= i
    out = {"bool": keep, "bool4d": mx.broadcast_to(keep, (2, 4, Lq, Lk))}
    out["where"] = mx.where(keep, mx.array(0, dt), mx.array(-float("inf"), dt))
    if Lq == Lk:
        out["nn"] = nn.MultiHeadAttention.create_additive_causal_mask(Lq).astype(dt)
        out["nn_dt"] = nn.MultiHeadAttention.create_additive_causal_mask(Lq, dtype=dt)
    return out


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("Lq,Lk", [(128, 128), (64, 192), (77, 77)])
def test_causal_mask_arrays(dt, Lq, Lk):
    """A mask array equal to the causal mask gives exactly the mask="causal" result (forward and
    gradients); the reference agrees."""
    B, H, D = 2, 4, 64
    q, k, v = randn((B, H, Lq, D), dt), randn((B, H, Lk, D), dt), randn((B, H, Lk, D), dt)
    scale = D ** -0.5
    want = sdpa(q, k, v, scale, "causal")
    want_g = gpu_grads(q, k, v, scale, "causal", None)
    for name, m in causal_masks(Lq, Lk, dt).items():
        with NoHost():
            got = sdpa(q, k, v, scale, m)
            mx.eval(got)
            got_g = gpu_grads(q, k, v, scale, m, None)
        assert np.array_equal(f32(got), f32(want)), name
        close(got, reference(q, k, v, scale, m), TOL[dt], f"causal-equal mask {name}")
        for g, r in zip(got_g, want_g):  # (the attention gradient may accumulate in any order)
            close(g, r, GTOL[dt] / 8, f"causal-equal mask {name} grad")


@pytest.mark.parametrize("dt", DTS)
def test_almost_causal_masks(dt):
    """Masks that differ from the causal one in one element (or use a finite fill) are biases."""
    B, H, L, D = 2, 4, 128, 64
    q, k, v = randn((B, H, L, D), dt), randn((B, H, L, D), dt), randn((B, H, L, D), dt)
    scale = D ** -0.5
    keep = np.tril(np.ones((L, L), dtype=bool))
    variants = {}
    k1 = keep.copy(); k1[5, 9] = True  # one key too many
    variants["extra"] = mx.array(k1)
    k2 = keep.copy(); k2[70, 3] = False  # one key too few
    variants["missing"] = mx.array(k2)
    variants["finite"] = mx.array(np.where(keep, 0.0, -5.0).astype(np.float32)).astype(dt)
    add = np.where(keep, 0.0, -np.inf).astype(np.float32); add[10, 2] = 0.5  # nonzero bias where seen
    variants["bias_below"] = mx.array(add).astype(dt)
    causal = f32(sdpa(q, k, v, scale, "causal"))
    for name, m in variants.items():
        with NoHost():
            got = sdpa(q, k, v, scale, m)
            mx.eval(got)
        close(got, reference(q, k, v, scale, m), TOL[dt], f"almost-causal {name}")
        assert not np.array_equal(f32(got), causal), name
        g = gpu_grads(q, k, v, scale, m, None)
        r = ref_grads(q, k, v, scale, m, None)
        for a, b in zip(g, r):
            close(a, b, GTOL[dt], f"almost-causal grad {name}")


# ---- forward ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
def test_forward_masks(dt, mask):
    check_forward(2, 4, 4, 128, 128, 64, 64, dt, mask)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("Lq,Lk", [(64, 200), (200, 64), (1, 77), (77, 77), (1000, 1000), (1, 1), (33, 1)])
def test_forward_lengths(dt, mask, Lq, Lk):
    check_forward(1, 2, 2, Lq, Lk, 64, 64, dt, mask)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("D", [64, 80, 128])
@pytest.mark.parametrize("mask", [None, "causal", "additive"])
def test_forward_head_dims(dt, D, mask):
    check_forward(2, 4, 4, 96, 96, D, D, dt, mask)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
def test_forward_gqa(dt, mask):
    check_forward(2, 8, 2, 100, 130, 64, 64, dt, mask)
    check_forward(1, 6, 1, 64, 64, 128, 128, dt, mask)


@pytest.mark.parametrize("dt", DTS)
def test_forward_value_dim_differs(dt):
    check_forward(2, 4, 4, 64, 64, 64, 128, dt, None)
    check_forward(2, 4, 4, 64, 64, 128, 64, dt, "causal")


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("kind", ["additive", "bool"])
@pytest.mark.parametrize("shape", [(64, 96), (1, 1, 64, 96), (2, 1, 64, 96), (1, 4, 64, 96), (1, 96), (64, 1)])
def test_forward_broadcast_masks(dt, kind, shape):
    check_forward(2, 4, 4, 64, 96, 64, 64, dt, kind, mask_shape=shape)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
def test_forward_noncontiguous(dt, mask):
    B, L, H, D = 2, 100, 4, 64
    # (B, L, H, D) transposed to (B, H, L, D): the layout of nn.MultiHeadAttention
    q = randn((B, L, H, D), dt).transpose(0, 2, 1, 3)
    check_forward(B, H, H, L, L, D, D, dt, mask, q=q)
    # k, v transposed and sliced, q with a feature stride != 1
    k = randn((B, 2 * L, H, D), dt).transpose(0, 2, 1, 3)[:, :, ::2]
    v = randn((B, L, H, 2 * D), dt).transpose(0, 2, 1, 3)[..., :D]
    qs = randn((B, H, L, 2 * D), dt)[..., ::2]
    m = make_mask(mask, B, H, L, L, dt)
    with NoHost():
        out = sdpa(qs, k, v, 0.125, m)
        mx.eval(out)
    close(out, reference(qs, k, v, 0.125, m), TOL[dt], "non-contiguous")


def test_forward_large():
    dt = mx.bfloat16
    check_forward(2, 8, 8, 1024, 1024, 128, 128, dt, "causal")
    check_forward(1, 4, 4, 512, 2048, 64, 64, dt, "causal")


@pytest.mark.parametrize("mask", MASKS)
def test_forward_float32_and_sinks(mask):
    # float32 and sinks run the composite on the GPU
    check_forward(2, 4, 4, 50, 70, 64, 64, mx.float32, mask)
    dt = mx.bfloat16
    q, k, v = randn((1, 4, 40, 64), dt), randn((1, 4, 40, 64), dt), randn((1, 4, 40, 64), dt)
    sinks = randn((4,), dt)
    m = make_mask(mask, 1, 4, 40, 40, dt)
    with NoHost():
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.125, mask=m, sinks=sinks)
        mx.eval(out)
    with mx.stream(mx.cpu):
        mm = m.astype(mx.float32) if isinstance(m, mx.array) and m.dtype != mx.bool_ else m
        want = mx.fast.scaled_dot_product_attention(q.astype(mx.float32), k.astype(mx.float32),
                                                    v.astype(mx.float32), scale=0.125, mask=mm,
                                                    sinks=sinks.astype(mx.float32))
    close(out, want, TOL[dt], "sinks")


def test_empty():
    dt = mx.float16
    q, k, v = randn((1, 2, 0, 64), dt), randn((1, 2, 5, 64), dt), randn((1, 2, 5, 64), dt)
    with NoHost():
        out = sdpa(q, k, v, 0.125, None)
        mx.eval(out)
    assert out.shape == (1, 2, 0, 64)


# ---- gradients --------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
def test_grads_masks(dt, mask):
    check_grads(2, 4, 4, 128, 128, 64, 64, dt, mask)
    check_grads(1, 2, 2, 64, 64, 64, 64, dt, mask, weighted=False)  # broadcast cotangent


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("Lq,Lk", [(64, 200), (200, 64), (1, 77), (77, 77), (1000, 1000), (1, 1)])
def test_grads_lengths(dt, mask, Lq, Lk):
    check_grads(1, 2, 2, Lq, Lk, 64, 64, dt, mask)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("D", [64, 80, 128])
@pytest.mark.parametrize("mask", [None, "causal", "additive"])
def test_grads_head_dims(dt, D, mask):
    check_grads(2, 2, 2, 96, 96, D, D, dt, mask)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("mask", MASKS)
def test_grads_gqa(dt, mask):
    check_grads(2, 8, 2, 100, 130, 64, 64, dt, mask)


@pytest.mark.parametrize("dt", DTS)
def test_grads_some_argnums(dt):
    B, H, L, D = 2, 4, 64, 64
    q, k, v = randn((B, H, L, D), dt), randn((B, H, L, D), dt), randn((B, H, L, D), dt)
    w = mx.array(rng.standard_normal((B, H, L, D)).astype(np.float32))
    want = ref_grads(q, k, v, 0.125, "causal", w)
    for argnums in [(0,), (1,), (2,), (0, 2), (2, 1)]:
        with NoHost():
            got = gpu_grads(q, k, v, 0.125, "causal", w, argnums=argnums)
        for a, g in zip(argnums, got):
            close(g, want[a], GTOL[dt], f"argnum {a} of {argnums}")


@pytest.mark.parametrize("dt", DTS)
def test_grads_mask_argnum(dt):
    # the gradient of an additive mask runs the composite
    B, H, L, D = 1, 2, 48, 64
    q, k, v = randn((B, H, L, D), dt), randn((B, H, L, D), dt), randn((B, H, L, D), dt)
    m = make_mask("additive", B, H, L, L, dt)

    def loss(a, mm):
        return sdpa(a, k, v, 0.125, mm).astype(mx.float32).sum()

    with NoHost():
        gq, gm = mx.grad(loss, argnums=(0, 1))(q, m)
        mx.eval(gq, gm)
    with mx.stream(mx.cpu):
        kf, vf = k.astype(mx.float32), v.astype(mx.float32)
        rq, rm = mx.grad(lambda a, mm: sdpa(a, kf, vf, 0.125, mm).sum(), argnums=(0, 1))(
            q.astype(mx.float32), m.astype(mx.float32))
    close(gq, rq, GTOL[dt], "dq")
    close(gm, rm, GTOL[dt], "dmask")


@pytest.mark.parametrize("dt", DTS)
def test_grads_noncontiguous(dt):
    B, L, H, D = 2, 77, 4, 64
    q = randn((B, L, H, D), dt).transpose(0, 2, 1, 3)
    k = randn((B, L, H, D), dt).transpose(0, 2, 1, 3)
    v = randn((B, L, H, D), dt).transpose(0, 2, 1, 3)
    w = mx.array(rng.standard_normal((B, H, L, D)).astype(np.float32))
    for mask in ["causal", make_mask("additive", B, H, L, L, dt, (L, L))]:
        with NoHost():
            got = gpu_grads(q, k, v, 0.125, mask, w)
        want = ref_grads(q, k, v, 0.125, mask, w)
        for g, r, x in zip(got, want, (q, k, v)):
            assert g.shape == x.shape
            close(g, r, GTOL[dt], "non-contiguous grads")


def test_grads_float32():
    check_grads(1, 4, 2, 40, 56, 64, 64, mx.float32, "causal")
    check_grads(1, 4, 4, 40, 40, 64, 64, mx.float32, "additive")


def test_grads_large():
    check_grads(1, 8, 8, 1024, 1024, 128, 128, mx.bfloat16, "causal")


# ---- nn.MultiHeadAttention --------------------------------------------------------------------

def _mha_run(mha, x, mask):
    def loss(inp):
        return (mha(inp, inp, inp, mask).astype(mx.float32) * 0.01).sum()

    out = mha(x, x, x, mask)
    val, grads = nn.value_and_grad(mha, loss)(x)
    mx.eval(out, val, grads)
    return out, grads


@pytest.mark.parametrize("dt", DTS)
def test_multihead_attention(dt):
    B, L, d, h = 2, 256, 256, 4
    mx.random.seed(0)
    ref = nn.MultiHeadAttention(d, h)
    mha = nn.MultiHeadAttention(d, h)
    mha.update(tree_map(lambda p: p.astype(dt), ref.parameters()))
    x = randn((B, L, d), dt)
    with NoHost():
        out, grads = _mha_run(mha, x, nn.MultiHeadAttention.create_additive_causal_mask(L, dt))
    # reference: the same weights in float32 on the CPU
    ref.update(tree_map(lambda p: p.astype(dt).astype(mx.float32), ref.parameters()))
    with mx.stream(mx.cpu):
        rout, rgrads = _mha_run(ref, x.astype(mx.float32),
                                nn.MultiHeadAttention.create_additive_causal_mask(L, mx.float32))
    close(out, rout, TOL[dt] * 2, "mha forward")
    for name in ("query_proj", "key_proj", "value_proj", "out_proj"):
        g, r = grads[name]["weight"], rgrads[name]["weight"]
        assert g.dtype == dt
        close(g, r, GTOL[dt] * 2, f"mha d{name}")
