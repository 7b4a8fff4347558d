"""Tests of mx.random: keys, the Threefry bit layout, every sampler against outputs of
the real MLX 0.32.4 (pasted below as constants), determinism, distributions, dtypes,
shapes, errors, the global state, vmap over keys and gradients through loc/scale."""

import mlx.core as mx
import numpy as np
import pytest
from conftest import float64_on_cpu

try:
    from scipy import stats
except ImportError:  # pragma: no cover
    stats = None

K = mx.random.key

# ---- outputs of mlx 0.32.4 (CPU) for the same calls ----
# fmt: off
SPLIT0 = [4146024105, 967050713, 2718843009, 1272950319]
SPLIT7_5 = [3583082021, 1059767885, 1158596951, 3570483602, 902484696, 1947592014,
            964771841, 2936027381, 2956069637, 3584898772]
SPLIT_BIG = [4172345098, 1932588236, 1320384943, 754722404, 1861725462, 535784066]
U0_4 = [0.9653214812278748, 0.22515903413295746, 0.6330299973487854, 0.2963818311691284]
U3_7 = [0.3173735737800598, 0.8551788926124573, 0.8164340853691101, 0.9489181041717529,
        0.08783916383981705, 0.04712248593568802, 0.857948899269104]
U3_1 = [0.8653929233551025]
U5_23 = [4.001944065093994, 4.149411201477051, 4.220379829406738, 4.305306434631348,
         -1.8820669651031494, 3.0672483444213867]
U5_LOHI = [7.528566837310791, 10.69993782043457, 7.781492710113525, 10.716347694396973,
           0.7155013680458069, 10.586026191711426]
U9_F16 = [0.5205078125, -0.97607421875, 2.66796875, 2.15625, 1.7333984375, 1.3134765625,
          0.9638671875, 1.6123046875, 1.5654296875]
U9_BF16 = [0.5234375, -0.97265625, 2.671875, 2.15625, 1.734375, 1.3125, 0.96875,
           1.609375, 1.5625]
N11 = [-1.063054084777832, 0.160496786236763, 1.1413096189498901, 0.35351741313934326,
       0.130158931016922, -0.20434971153736115, 0.42999744415283203,
       -1.0262936353683472, 1.633255958557129]
N11_LS = [1.9955081939697266, 2.187434196472168, 1.0917649269104004, 1.6870750188827515,
          0.823864758014679, 1.1666111946105957]
N11_ARR = [1.353934407234192, 2.964097738265991, -0.7495790719985962, 2.133625030517578,
           0.06818509101867676, 0.5711909532546997]
N11_F16 = [2.953125, 1.240234375, 1.78125, 1.3701171875, 1.328125, 1.50390625,
           1.048828125]
N11_BF16 = [2.078125, -0.373046875, 0.40234375, -0.1865234375, -0.24609375,
            0.006134033203125, -0.64453125]
N11_F64 = [0.7078687962076246, 0.982048881461666, -0.6689594157182464,
           0.2672500475407893, -0.9659074814189639]
N11_C64 = [[2.001077651977539, 1.388826847076416],
           [0.17524045705795288, 0.3779486417770386],
           [-0.3659994602203369, -0.673547089099884]]
RI13 = [4, 3, 3, -2, -3, 0, -1, 0, -4, 4, 1, 2]
RI13_BIG = [-1464011520, 1228199936, 1610352640, 1492756224, 1891613184, -564016768]
RI13_U8 = [31, 157, 174, 169, 188, 73]
RI13_F = [2, 8, 9, 9, 9, 4]
RI13_I64 = [747027431424, 300841697280, 314812334080]
B17 = [False, True, False, False, False, True, False, False, False, True, False, False]
B17_ARR = [False, True, True, True, False, True]
G17 = [-0.8028272986412048, 0.9054311513900757, -1.0545923709869385,
       -0.27958977222442627, 0.6824416518211365, 1.3376648426055908]
G17_F16 = [-0.80322265625, 0.90576171875, -1.0546875, -0.280029296875, 0.68359375,
           1.3369140625]
L17 = [1.5386946201324463, -0.40766406059265137, 2.177656888961792, 0.6294398903846741,
       -0.23136574029922485, -0.772878110408783]
L17_LS = [1.9616084098815918, 1.3777008056640625, 2.153296947479248, 1.6888319253921509,
          1.430590271949768, 1.2681365013122559]
L17_F16 = [1.9619140625, 1.3779296875, 2.15234375, 1.6884765625, 1.4306640625,
           1.267578125]
L17_F64 = [1.7766682364024566, 0.35039815113534534, 0.7069591700765626,
           1.4951991345610118]
TN17 = [0.3279348313808441, -0.8651393055915833, -1.1216182708740234,
        0.18083488941192627, -0.9035395979881287, 0.8486807942390442,
        -0.7829686403274536, -1.0720067024230957]
TN17_ARR = [-0.540619432926178, 0.984832763671875, 1.8631908893585205,
            0.6848577857017517]
CAT_NS = [2, 3, 0, 3, 1, 3, 1, 2, 2, 3, 3, 2, 2, 3, 1, 3]
CAT_SHAPE = [2, 2, 2, 1, 3, 0, 3, 1]
CAT_SCALAR = [2]
CAT_BATCH = [2, 2, 1]
CAT_BATCH_NS = [2, 3, 2, 2, 2, 3, 1, 3, 0, 3, 2, 3, 3, 3, 2]
CAT_AXIS0 = [1, 2, 1, 1]
CAT_AXIS0_SHAPE = [0, 2, 0, 1, 1, 1, 0, 2]
PERM = [4, 6, 9, 0, 1, 10, 5, 7, 3, 8, 2, 11]
PERM_X = [0, 1, 3, 2, 4, 5, 7, 6, 8, 9, 11, 10]
MVN = [0.47970885038375854, -3.5813913345336914, 0.645344078540802, 1.5486118793487549,
       -1.6678768396377563, 0.2251298427581787, 1.1387932300567627, -1.825131893157959,
       1.221810221672058, 2.7958216667175293, -3.8688955307006836, 0.5255391597747803]
SEQ42 = [0.9145736694335938, 0.42094746232032776, 0.010772958397865295,
         0.444596529006958, 53]
STATE42 = [499334550, 3925197703]
# fmt: on


def f32(values):
    return np.array(values, dtype=np.float32)


def same_bits(a, expected):
    """Bit-for-bit equality of an mx array and expected values of the same dtype."""
    a = np.array(a)
    e = np.asarray(expected, dtype=a.dtype).reshape(a.shape)
    assert a.dtype == e.dtype
    assert np.array_equal(a.reshape(-1).view(np.uint8), e.reshape(-1).view(np.uint8)), (
        a,
        e,
    )


# ---- a NumPy Threefry-2x32 reference for the bit layout ----
_M = np.uint64(0xFFFFFFFF)


def _threefry(k0, k1, x0, x1):
    def rotl(x, r):
        return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M

    k0, k1 = np.uint64(k0), np.uint64(k1)
    ks = [k0, k1, k0 ^ k1 ^ np.uint64(0x1BD11BDA)]
    x0 = (np.asarray(x0, np.uint64) + ks[0]) & _M
    x1 = (np.asarray(x1, np.uint64) + ks[1]) & _M
    for i in range(5):
        for r in ((13, 15, 26, 6), (17, 29, 16, 24))[i % 2]:
            x0 = (x0 + x1) & _M
            x1 = rotl(x1, r) ^ x0
        x0 = (x0 + ks[(i + 1) % 3]) & _M
        x1 = (x1 + ks[(i + 2) % 3] + np.uint64(i + 1)) & _M
    return x0.astype(np.uint32), x1.astype(np.uint32)


def ref_bits(key, n):
    m = (n + 1) // 2
    x0 = np.arange(m, dtype=np.uint64)
    x1 = np.arange(m, 2 * m, dtype=np.uint64)
    x1[x1 >= n] = 0
    y0, y1 = _threefry(key[0], key[1], x0, x1)
    return np.concatenate([y0, y1])[:n]


# ---------------------------------------------------------------- keys and bits


def test_key():
    for seed, expected in [
        (0, [0, 0]),
        (1, [0, 1]),
        (42, [0, 42]),
        (2**32 + 5, [1, 5]),
    ]:
        k = K(seed)
        assert k.dtype == mx.uint32 and k.shape == (2,)
        assert np.array(k).tolist() == expected
    assert np.array(K(2**64 - 1)).tolist() == [2**32 - 1, 2**32 - 1]
    with pytest.raises(TypeError):
        K(-1)


def test_split_matches_mlx():
    same_bits(mx.random.split(K(0)), np.array(SPLIT0, np.uint32).reshape(2, 2))
    same_bits(mx.random.split(K(7), 5), np.array(SPLIT7_5, np.uint32).reshape(5, 2))
    same_bits(mx.random.split(K(2**40 + 123), 3), np.array(SPLIT_BIG, np.uint32))
    assert mx.random.split(K(0), 0).shape == (0, 2)
    assert mx.random.split(K(0), num=1).shape == (1, 2)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 10, 33, 1000, 1001])
def test_bits_layout(n):
    for seed in (0, 3, 2**40 + 7):
        k = K(seed)
        b = mx.random.bits((n,), key=k)
        assert b.dtype == mx.uint32 and b.shape == (n,)
        assert np.array_equal(np.array(b), ref_bits(np.array(k), n))


def test_bits_shapes_and_widths():
    k = K(5)
    flat = np.array(mx.random.bits((24,), key=k))
    assert np.array_equal(np.array(mx.random.bits((2, 3, 4), key=k)).ravel(), flat)
    assert mx.random.bits((), key=k).shape == ()
    for width, dt in [(1, mx.uint8), (2, mx.uint16), (4, mx.uint32), (8, mx.uint64)]:
        for n in (0, 1, 3, 8, 9):
            b = mx.random.bits((n,), width=width, key=k)
            assert b.dtype == dt and b.shape == (n,)
            # Narrow and wide widths reuse the bytes of the 32-bit words.
            words = np.array(mx.random.bits(((n * width + 3) // 4,), key=k))
            expected = words.view(np.uint8)[: n * width].view(np.array(b).dtype)
            assert np.array_equal(np.array(b), expected)
    with pytest.raises(ValueError, match="width"):
        mx.random.bits((2,), width=3, key=k)


def test_non_contiguous_key():
    keys = mx.random.split(K(2), 4)
    k = keys.T[:, 1]  # a strided view of keys[1]
    same_bits(
        mx.random.uniform(shape=(5,), key=k),
        np.array(mx.random.uniform(shape=(5,), key=keys[1])),
    )
    same_bits(mx.random.split(k), np.array(mx.random.split(keys[1])))


@pytest.mark.parametrize(
    "dtype",
    [mx.int8, mx.int16, mx.int32, mx.int64, mx.uint8, mx.uint16, mx.uint32, mx.uint64],
)
def test_randint_dtypes(dtype):
    r = mx.random.randint(2, 100, (500,), dtype=dtype, key=K(10))
    assert r.dtype == dtype and r.shape == (500,)
    v = np.array(r)
    assert v.min() >= 2 and v.max() < 100
    assert np.array_equal(v, np.array(mx.random.randint(2, 100, (500,), key=K(10))))


def test_key_validation():
    for bad in [
        mx.array([0, 1]),
        mx.array([0, 1, 2], mx.uint32),
        mx.array([[0, 1], [2, 3]], mx.uint32),
    ]:
        with pytest.raises(ValueError, match="key"):
            mx.random.uniform(shape=(3,), key=bad)
        with pytest.raises(ValueError, match="key"):
            mx.random.split(bad)
    with pytest.raises(ValueError, match="non-negative"):
        mx.random.split(K(0), -1)


# ---------------------------------------------------------------- equality with MLX


def test_uniform_matches_mlx():
    same_bits(mx.random.uniform(shape=(4,), key=K(0)), f32(U0_4))
    same_bits(mx.random.uniform(shape=(7,), key=K(3)), f32(U3_7))
    u = mx.random.uniform(key=K(3))
    assert u.shape == () and u.dtype == mx.float32
    same_bits(u, f32(U3_1))
    same_bits(mx.random.uniform(-2.5, 7.0, (2, 3), key=K(5)), f32(U5_23))
    same_bits(
        mx.random.uniform(mx.array([0.0, 10.0]), 11.0, (3, 2), key=K(5)), f32(U5_LOHI)
    )
    for dt, ref in [(mx.float16, U9_F16), (mx.bfloat16, U9_BF16)]:
        u = mx.random.uniform(-1.3, 2.7, (9,), key=K(9), dtype=dt)
        assert u.dtype == dt
        assert np.array_equal(np.array(u.astype(mx.float32)), f32(ref))


def test_uniform_in_terms_of_bits():
    k = K(12)
    b = np.array(mx.random.bits((257,), key=k))
    u = np.minimum(
        b.astype(np.float32) * np.float32(2.0**-32), np.float32(1 - 2.0**-24)
    )
    same_bits(mx.random.uniform(shape=(257,), key=k), u)


def test_normal_matches_mlx():
    same_bits(mx.random.normal((9,), key=K(11)), f32(N11))
    same_bits(mx.random.normal((2, 3), key=K(11), loc=1.5, scale=0.7), f32(N11_LS))
    n = mx.random.normal(
        (2, 3), key=K(11), loc=mx.array([[1.0], [2.0]]), scale=mx.array([0.5, 2.0, 3.0])
    )
    same_bits(n, f32(N11_ARR))
    n = mx.random.normal((7,), key=K(11), dtype=mx.float16, loc=1.5, scale=0.7)
    assert n.dtype == mx.float16
    assert np.array_equal(np.array(n.astype(mx.float32)), f32(N11_F16))
    n = mx.random.normal((7,), key=K(11), dtype=mx.bfloat16)
    assert np.array_equal(np.array(n.astype(mx.float32)), f32(N11_BF16))
    with float64_on_cpu():
        n = mx.random.normal((5,), key=K(11), dtype=mx.float64)
        assert n.dtype == mx.float64
        assert np.array(n).tolist() == N11_F64
    c = mx.random.normal((3,), key=K(11), dtype=mx.complex64, loc=1.0, scale=2.0)
    assert c.dtype == mx.complex64 and c.shape == (3,)
    c = np.array(c)
    same_bits(mx.array(c.real), f32([v[0] for v in N11_C64]))
    same_bits(mx.array(c.imag), f32([v[1] for v in N11_C64]))


def test_randint_matches_mlx():
    r = mx.random.randint(-5, 5, (12,), key=K(13))
    assert r.dtype == mx.int32
    assert np.array(r).tolist() == RI13
    assert (
        np.array(mx.random.randint(-(2**31), 2**31 - 1, (6,), key=K(13))).tolist()
        == RI13_BIG
    )
    r = mx.random.randint(0, 200, (6,), key=K(13), dtype=mx.uint8)
    assert r.dtype == mx.uint8 and np.array(r).tolist() == RI13_U8
    assert np.array(mx.random.randint(0.5, 10.7, (6,), key=K(13))).tolist() == RI13_F
    r = mx.random.randint(0, 2**40, (3,), key=K(13), dtype=mx.int64)
    assert r.dtype == mx.int64 and np.array(r).tolist() == RI13_I64


def test_bernoulli_gumbel_laplace_match_mlx():
    # The reference values were made on a CPU; the GPU's log/exp may differ in the last bit
    # (tests/test_gpu_random_fft.py compares the devices), so these bits are checked on the CPU.
    with mx.stream(mx.cpu):
        _bernoulli_gumbel_laplace_match_mlx()


def _bernoulli_gumbel_laplace_match_mlx():
    assert np.array(mx.random.bernoulli(0.3, (12,), key=K(17))).tolist() == B17
    b = mx.random.bernoulli(mx.array([0.1, 0.9]), (3, 2), key=K(17))
    assert b.dtype == mx.bool_ and np.array(b).ravel().tolist() == B17_ARR
    same_bits(mx.random.gumbel((6,), key=K(17)), f32(G17))
    g = mx.random.gumbel((6,), key=K(17), dtype=mx.float16)
    assert g.dtype == mx.float16 and np.array_equal(
        np.array(g.astype(mx.float32)), f32(G17_F16)
    )
    same_bits(mx.random.laplace((6,), key=K(17)), f32(L17))
    same_bits(mx.random.laplace((6,), key=K(17), loc=1.5, scale=0.3), f32(L17_LS))
    la = mx.random.laplace((6,), key=K(17), dtype=mx.float16, loc=1.5, scale=0.3)
    assert la.dtype == mx.float16 and np.array_equal(
        np.array(la.astype(mx.float32)), f32(L17_F16)
    )
    with float64_on_cpu():
        la = mx.random.laplace((4,), key=K(17), dtype=mx.float64, loc=1.5, scale=0.3)
        assert np.array(la).tolist() == L17_F64


def test_truncated_normal_close_to_mlx():
    # MLX's erf (used for the bounds) differs from ours by an ulp or two, so the samples
    # agree to float32 rounding rather than bit for bit.
    t = mx.random.truncated_normal(-1.5, 2.0, (8,), key=K(17))
    assert t.dtype == mx.float32
    np.testing.assert_allclose(np.array(t), f32(TN17), rtol=1e-5, atol=1e-5)
    t = mx.random.truncated_normal(
        mx.array([-1.0, 0.0]), mx.array([[1.0], [3.0]]), key=K(17)
    )
    assert t.shape == (2, 2)
    np.testing.assert_allclose(np.array(t).ravel(), f32(TN17_ARR), rtol=1e-5, atol=1e-5)


def test_categorical_matches_mlx():
    lg = mx.log(mx.array([0.1, 0.2, 0.3, 0.4]))
    c = mx.random.categorical(lg, key=K(19), num_samples=16)
    assert c.dtype == mx.uint32 and c.shape == (16,)
    assert np.array(c).tolist() == CAT_NS
    assert (
        np.array(mx.random.categorical(lg, key=K(19), shape=(2, 4))).ravel().tolist()
        == CAT_SHAPE
    )
    c = mx.random.categorical(lg, key=K(19))
    assert c.shape == () and [c.item()] == CAT_SCALAR
    L = mx.array([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -0.5, 0.3], [-2.0, 0.1, 0.2, 0.3]])
    assert np.array(mx.random.categorical(L, key=K(19))).tolist() == CAT_BATCH
    c = mx.random.categorical(L, key=K(19), num_samples=5)
    assert c.shape == (3, 5) and np.array(c).ravel().tolist() == CAT_BATCH_NS
    assert np.array(mx.random.categorical(L, axis=0, key=K(19))).tolist() == CAT_AXIS0
    c = mx.random.categorical(L, axis=0, shape=(2, 4), key=K(19))
    assert np.array(c).ravel().tolist() == CAT_AXIS0_SHAPE


def test_permutation_matches_mlx():
    p = mx.random.permutation(12, key=K(23))
    assert p.dtype == mx.uint32 and np.array(p).tolist() == PERM
    x = mx.random.permutation(mx.arange(12).reshape(3, 4), axis=1, key=K(23))
    assert np.array(x).ravel().tolist() == PERM_X


def test_multivariate_normal_close_to_mlx():
    mean = mx.array([1.0, -2.0, 0.5])
    cov = mx.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    s = mx.random.multivariate_normal(mean, cov, (4,), key=K(21), stream=mx.cpu)
    assert s.shape == (4, 3) and s.dtype == mx.float32
    np.testing.assert_allclose(np.array(s).ravel(), f32(MVN), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- global state


def test_seed_and_state():
    mx.random.seed(42)
    assert isinstance(mx.random.state, list) and len(mx.random.state) == 1
    assert np.array(mx.random.state[0]).tolist() == [0, 42]
    seq = [mx.random.uniform().item() for _ in range(3)]
    seq += [mx.random.normal().item(), mx.random.randint(0, 100).item()]
    assert seq == SEQ42
    assert np.array(mx.random.state[0]).tolist() == STATE42


def test_state_advances_by_split():
    mx.random.seed(3)
    new_state, sub = mx.random.split(K(3))
    u = mx.random.uniform(shape=(5,))
    same_bits(u, np.array(mx.random.uniform(shape=(5,), key=sub)))
    same_bits(mx.random.state[0], np.array(new_state))
    mx.random.seed(3)
    a = mx.random.normal((4,))
    mx.random.seed(3)
    b = mx.random.normal((4,))
    same_bits(a, np.array(b))
    c = mx.random.normal((4,))
    assert not np.array_equal(np.array(b), np.array(c))
    # An explicit key leaves the state alone.
    before = np.array(mx.random.state[0])
    mx.random.uniform(key=K(0))
    assert np.array_equal(np.array(mx.random.state[0]), before)


def test_state_under_compile():
    def draw():
        return mx.random.uniform(shape=(3,))

    mx.random.seed(7)
    expected = [np.array(draw()) for _ in range(3)]
    f = mx.compile(draw, inputs=mx.random.state, outputs=mx.random.state)
    mx.random.seed(7)
    got = [np.array(f()) for _ in range(3)]
    for e, g in zip(expected, got):
        assert np.array_equal(e, g)


def test_determinism_and_independence():
    k1, k2 = mx.random.split(K(99))
    for fn in [
        lambda k: mx.random.uniform(shape=(50,), key=k),
        lambda k: mx.random.normal((50,), key=k),
        lambda k: mx.random.randint(0, 1000, (50,), key=k),
        lambda k: mx.random.gumbel((50,), key=k),
        lambda k: mx.random.laplace((50,), key=k),
        lambda k: mx.random.permutation(50, key=k),
    ]:
        a, b, c = np.array(fn(k1)), np.array(fn(k1)), np.array(fn(k2))
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


# ---------------------------------------------------------------- distributions

N = 20000


def _ks(samples, cdf):
    return stats.kstest(np.asarray(samples, np.float64), cdf).pvalue


@pytest.mark.skipif(stats is None, reason="needs scipy")
def test_distributions_ks():
    k = K(2024)
    u = np.array(mx.random.uniform(-2.0, 3.0, (N,), key=k))
    assert u.min() >= -2.0 and u.max() < 3.0
    assert _ks(u, stats.uniform(-2.0, 5.0).cdf) > 1e-3
    n = np.array(mx.random.normal((N,), key=k, loc=1.0, scale=2.0))
    assert _ks(n, stats.norm(1.0, 2.0).cdf) > 1e-3
    g = np.array(mx.random.gumbel((N,), key=k))
    assert _ks(g, stats.gumbel_r.cdf) > 1e-3
    la = np.array(mx.random.laplace((N,), key=k, loc=0.5, scale=1.5))
    assert _ks(la, stats.laplace(0.5, 1.5).cdf) > 1e-3
    t = np.array(mx.random.truncated_normal(-0.5, 1.5, (N,), key=k))
    assert t.min() >= -0.5 and t.max() <= 1.5
    assert _ks(t, stats.truncnorm(-0.5, 1.5).cdf) > 1e-3
    with float64_on_cpu():
        n64 = np.array(mx.random.normal((N,), dtype=mx.float64, key=k))
        assert _ks(n64, stats.norm.cdf) > 1e-3
        u64 = np.array(mx.random.uniform(shape=(N,), dtype=mx.float64, key=k))
        assert u64.dtype == np.float64 and _ks(u64, stats.uniform.cdf) > 1e-3


def test_moments():
    k = K(77)
    n = np.array(mx.random.normal((N,), key=k), np.float64)
    assert abs(n.mean()) < 0.05 and abs(n.var() - 1.0) < 0.05
    c = np.array(mx.random.normal((N,), dtype=mx.complex64, key=k))
    assert abs(c.real.var() - 0.5) < 0.03 and abs(c.imag.var() - 0.5) < 0.03
    u = np.array(mx.random.uniform(shape=(N,), key=k), np.float64)
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    b = np.array(mx.random.bernoulli(0.3, (N,), key=k))
    assert abs(b.mean() - 0.3) < 0.015
    r = np.array(mx.random.randint(3, 9, (N,), key=k))
    assert r.min() == 3 and r.max() == 8
    counts = np.bincount(r - 3) / N
    assert np.all(np.abs(counts - 1 / 6) < 0.015)


def test_categorical_frequencies():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    lg = mx.log(mx.array(p.astype(np.float32)))
    # One distribution (inverse CDF) and a batch of distributions (Gumbel-max).
    c1 = np.array(mx.random.categorical(lg, num_samples=N, key=K(5)))
    c2 = np.array(mx.random.categorical(mx.broadcast_to(lg, (N, 4)), key=K(5)))
    for c in (c1, c2):
        assert np.all(np.abs(np.bincount(c, minlength=4) / N - p) < 0.015)
    # Zero-probability classes are never drawn.
    lg0 = mx.array([0.0, -float("inf"), 0.0, -float("inf")])
    for c in (
        mx.random.categorical(lg0, num_samples=500, key=K(1)),
        mx.random.categorical(mx.broadcast_to(lg0, (500, 4)), key=K(1)),
    ):
        assert set(np.unique(np.array(c)).tolist()) == {0, 2}


def test_permutation_is_permutation():
    p = np.array(mx.random.permutation(1000, key=K(8)))
    assert np.array_equal(np.sort(p), np.arange(1000))
    x = mx.arange(20).reshape(4, 5)
    y = np.array(mx.random.permutation(x, key=K(8)))
    assert sorted(map(tuple, y)) == sorted(map(tuple, np.array(x)))
    assert mx.random.permutation(0, key=K(8)).shape == (0,)
    assert mx.random.permutation(mx.array([1.5, 2.5]), key=K(8)).dtype == mx.float32


def test_multivariate_normal_covariance():
    mean = np.array([1.0, -2.0], np.float32)
    cov = np.array([[1.0, 0.8], [0.8, 2.0]], np.float32)
    s = np.array(
        mx.random.multivariate_normal(mx.array(mean), mx.array(cov), (N,), key=K(4))
    )
    assert s.shape == (N, 2)
    np.testing.assert_allclose(s.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.06)
    # Batched covariances broadcast against shape.
    covs = mx.array(np.stack([cov, np.eye(2, dtype=np.float32)]))
    assert mx.random.multivariate_normal(
        mx.array(mean), covs, (2,), key=K(4)
    ).shape == (2, 2)


def test_float16_clamps_below_one():
    # About 1 in 256 float32 samples rounds to 1.0 in bfloat16; they must stay below 1.
    for dt, top in [(mx.bfloat16, 1 - 2**-8), (mx.float16, 1 - 2**-11)]:
        u = np.array(
            mx.random.uniform(shape=(50000,), key=K(6), dtype=dt).astype(mx.float32)
        )
        assert u.max() == np.float32(top)
        # As in MLX, low + (high - low) * u may still round up to high in low precision.
        v = np.array(
            mx.random.uniform(2.0, 4.0, (50000,), key=K(6), dtype=dt).astype(mx.float32)
        )
        assert v.max() <= 4.0 and v.min() >= 2.0


# ---------------------------------------------------------------- shapes, dtypes, errors


def test_shapes_and_dtypes():
    k = K(1)
    assert mx.random.uniform(shape=[2, 3], key=k).shape == (2, 3)
    assert mx.random.uniform(shape=(0, 3), key=k).shape == (0, 3)
    assert mx.random.uniform(0, 1, (2,), None, k).dtype == mx.float32
    assert mx.random.normal(key=k).shape == ()
    assert mx.random.normal((2,), key=k, loc=mx.array([1, 2])).dtype == mx.float32
    assert (
        mx.random.normal(
            (2,), dtype=mx.float16, key=k, scale=mx.array([1.0, 2.0])
        ).dtype
        == mx.float32
    )
    assert (
        mx.random.normal((2,), dtype=mx.float16, key=k, loc=mx.array([1, 2])).dtype
        == mx.float16
    )
    assert (
        mx.random.uniform(mx.array([0.0, 1.0], mx.float64), 2.0, (2,), key=k).dtype
        == mx.float32
    )
    assert mx.random.randint(0, 10, (3,), key=k, dtype=mx.bool_).dtype == mx.bool_
    assert mx.random.bernoulli(key=k).shape == ()
    assert mx.random.bernoulli(mx.array([0.1, 0.5, 0.9]), key=k).shape == (3,)
    assert mx.random.truncated_normal(0.0, 1.0, key=k).shape == ()
    assert mx.random.truncated_normal(mx.array([0.0, 1.0]), 2.0, key=k).shape == (2,)
    assert mx.random.gumbel((2, 2), key=k, dtype=mx.bfloat16).dtype == mx.bfloat16
    assert mx.random.laplace((3,), key=k).shape == (3,)
    assert mx.random.categorical(mx.zeros((2, 3, 4)), axis=1, key=k).shape == (2, 4)
    assert mx.random.categorical(mx.zeros((2, 4)), key=k, num_samples=0).shape == (2, 0)
    # Non-contiguous parameters.
    lo = mx.zeros((3, 2)).T
    assert mx.random.uniform(lo, 1.0, (2, 3), key=k).shape == (2, 3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: mx.random.uniform(shape=(2,), dtype=mx.int32), ValueError, "floating"),
        (lambda: mx.random.uniform(mx.array([0.0, 1.0]), 2.0), ValueError, "broadcast"),
        (
            lambda: mx.random.uniform(mx.array([0.0, 1.0]), 2.0, (3, 3)),
            ValueError,
            "broadcast",
        ),
        (lambda: mx.random.uniform(shape=(-1,)), ValueError, "non-negative"),
        (lambda: mx.random.normal((2,), dtype=mx.int32), ValueError, "floating"),
        (
            lambda: mx.random.randint(0, 10, (3,), dtype=mx.float32),
            ValueError,
            "integer",
        ),
        (
            lambda: mx.random.randint(mx.array([0, 100]), 200, (3,)),
            ValueError,
            "broadcast",
        ),
        (lambda: mx.random.bernoulli(mx.array([1, 0])), ValueError, "floating"),
        (
            lambda: mx.random.bernoulli(mx.array([0.1, 0.5, 0.9]), (2, 2)),
            ValueError,
            "broadcast",
        ),
        (
            lambda: mx.random.truncated_normal(0.0, 1.0, dtype=mx.int32),
            ValueError,
            "floating",
        ),
        (
            lambda: mx.random.truncated_normal(mx.array([0.0, 1.0]), 2.0, (3,)),
            ValueError,
            "broadcast",
        ),
        (lambda: mx.random.gumbel((2,), dtype=mx.int32), ValueError, "floating"),
        (lambda: mx.random.laplace((2,), dtype=mx.int32), ValueError, "floating"),
        (lambda: mx.random.laplace((2,), dtype=mx.complex64), ValueError, "floating"),
        (
            lambda: mx.random.categorical(mx.zeros((4,)), shape=(3,), num_samples=3),
            ValueError,
            "at most",
        ),
        (lambda: mx.random.categorical(mx.zeros((4,)), axis=1), IndexError, "axis"),
        (lambda: mx.random.categorical(mx.array(1.0)), IndexError, "axis"),
        (
            lambda: mx.random.categorical(mx.zeros((3, 4)), shape=(2,)),
            ValueError,
            "broadcast",
        ),
        (
            lambda: mx.random.categorical(mx.zeros((4,)), num_samples=-1),
            ValueError,
            "non-negative",
        ),
        (lambda: mx.random.permutation(-1), ValueError, "non-negative"),
        (lambda: mx.random.permutation(mx.arange(5), axis=1), IndexError, "axis"),
        (
            lambda: mx.random.multivariate_normal(
                mx.zeros((3,)), mx.eye(3), dtype=mx.float16
            ),
            ValueError,
            "float32",
        ),
        (
            lambda: mx.random.multivariate_normal(mx.array(1.0), mx.eye(3)),
            ValueError,
            "mean",
        ),
        (
            lambda: mx.random.multivariate_normal(mx.zeros((3,)), mx.zeros((2, 3))),
            ValueError,
            "cov",
        ),
        (
            lambda: mx.random.multivariate_normal(mx.zeros((2,)), mx.eye(3)),
            ValueError,
            "mean",
        ),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- transforms


def test_vmap_over_keys():
    keys = mx.random.split(K(31), 4)

    def fn(k):
        return mx.random.normal((3,), key=k) + mx.random.uniform(shape=(3,), key=k)

    out = mx.vmap(fn)(keys)
    expected = mx.stack([fn(keys[i]) for i in range(4)])
    assert out.shape == (4, 3)
    assert np.array_equal(np.array(out), np.array(expected))
    out = mx.vmap(lambda k: mx.random.bits((2, 2), key=k), in_axes=1)(keys.T)
    expected = mx.stack([mx.random.bits((2, 2), key=keys[i]) for i in range(4)])
    assert np.array_equal(np.array(out), np.array(expected))
    # Parameters mapped with a fixed key.
    lows = mx.array([0.0, 10.0, 20.0])
    out = mx.vmap(lambda lo: mx.random.uniform(lo, lo + 1, (2,), key=K(1)))(lows)
    expected = mx.stack([mx.random.uniform(lo, lo + 1, (2,), key=K(1)) for lo in lows])
    assert np.array_equal(np.array(out), np.array(expected))


def _central_diff(f, x, h=1e-6):
    d = np.random.RandomState(0).randn(*x.shape)
    fp = f(mx.array(np.array(x) + h * d, dtype=mx.float64)).item()
    fm = f(mx.array(np.array(x) - h * d, dtype=mx.float64)).item()
    return (fp - fm) / (2 * h), d


def test_gradients_through_parameters():
    k = K(44)

    def f_loc(loc):
        return mx.sum(
            mx.random.normal((5,), dtype=mx.float64, loc=loc, scale=2.0, key=k) ** 2
        )

    def f_scale(scale):
        return mx.sum(mx.random.normal((5,), dtype=mx.float64, scale=scale, key=k) ** 2)

    def f_uniform(lohi):
        return mx.sum(mx.random.uniform(lohi[0], lohi[1], (6,), mx.float64, key=k) ** 3)

    with float64_on_cpu():
        for f, x0 in [
            (f_loc, np.array([0.3, -1.0, 2.0, 0.5, 1.5])),
            (f_scale, np.array([0.7])),
            (f_uniform, np.array([-1.0, 2.0])),
        ]:
            x = mx.array(x0, dtype=mx.float64)
            g = np.array(mx.grad(f)(x))
            fd, d = _central_diff(f, x0)
            assert abs(float(np.sum(g * d)) - fd) < 1e-5 * max(1.0, abs(fd))


def test_gradients_through_erfinv_map():
    # truncated_normal's bounds reach the samples through erf, the uniform and erfinv.
    k = K(4)

    def f(b):
        s = mx.random.truncated_normal(b[0], b[1], (6,), dtype=mx.float64, key=k)
        return mx.sum(s**2)

    with float64_on_cpu():
        x0 = np.array([-0.7, 1.3])
        g = np.array(mx.grad(f)(mx.array(x0, dtype=mx.float64)))
        fd, d = _central_diff(f, x0)
        assert abs(float(np.sum(g * d)) - fd) < 1e-5 * max(1.0, abs(fd))
        _, (jv,) = mx.jvp(
            f, [mx.array(x0, dtype=mx.float64)], [mx.array(d, dtype=mx.float64)]
        )
        assert abs(jv.item() - fd) < 1e-5 * max(1.0, abs(fd))


def test_no_gradient_through_keys():
    k = K(3)
    g = mx.grad(lambda mu: mx.sum(mx.random.laplace((4,), key=k) * mu))(mx.array(2.0))
    assert (
        abs(g.item() - float(np.sum(np.array(mx.random.laplace((4,), key=k))))) < 1e-5
    )


def test_nn_dropout_uses_bernoulli():
    from mlx import nn

    mx.random.seed(0)
    x = mx.ones((1000,))
    y = np.array(nn.Dropout(0.25)(x))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.05
    assert np.allclose(y[kept], 1 / 0.75)
