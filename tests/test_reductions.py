"""Reductions (sum ... logsumexp, softmax, scans, median) with axis / keepdims on every
dtype and layout, and contractions (matmul with batching and broadcasting, addmm, inner,
outer, tensordot, einsum)."""

import math

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_descriptions import (
    FLOATS,
    REDUCTIONS,
    UINTS,
    Domain,
    assert_array_equal,
    assert_close,
    check_reduction,
    device_dtypes,
    dtype_name,
    is_reference_mlx,
    make_input,
    mlx_bug,
    to_float,
    to_numpy,
)


def _skip_unavailable(device, dtype):
    if dtype not in device_dtypes(device):
        pytest.skip(f"{dtype_name(dtype)} is CPU only")


def _cases():
    for d in REDUCTIONS:
        for dt in d.dtypes:
            yield pytest.param(d, dt, id=f"{d.name}-{dtype_name(dt)}")


AXES = [None, 0, 1, 2, -1, -3, (0, 2), (2, 0, 1), (1, -1), ()]


def _layouts(rng, dtype, domain):
    """(name, mx array, exact NumPy values), all of shape (3, 4, 5)."""
    a, x = make_input(rng, (3, 4, 5), dtype, domain)
    yield "contiguous", a, x
    a, x = make_input(rng, (5, 4, 3), dtype, domain)
    yield "transposed", mx.transpose(a, (2, 1, 0)), np.transpose(x, (2, 1, 0))
    a, x = make_input(rng, (4, 3, 5), dtype, domain)
    yield "swapped", mx.swapaxes(a, 0, 1), np.swapaxes(x, 0, 1)
    a, x = make_input(rng, (6, 5, 10), dtype, domain)
    yield "strided", a[::2, 1:, ::-2], x[::2, 1:, ::-2]
    a, x = make_input(rng, (1, 4, 5), dtype, domain)
    yield "broadcast", mx.broadcast_to(a, (3, 4, 5)), np.broadcast_to(x, (3, 4, 5))


def _n_reduced(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[i] for i in axes])) if axes else 1


@pytest.mark.parametrize("desc,dtype", list(_cases()))
def test_reduction_matches_numpy(device, rng, desc, dtype):
    _skip_unavailable(device, dtype)
    mlx_bug(
        desc.name == "logsumexp" and dtype in [mx.bool_] + UINTS,
        "logsumexp of an unsigned / bool array along an axis of a 3-D array gives inf "
        "(x - max wraps around before the cast to float)",
    )
    for layout, a, x in _layouts(rng, dtype, desc.domain):
        for axis in AXES:
            if isinstance(axis, tuple) and not desc.tuple_axes:
                continue
            for keepdims in (False, True):
                out = desc.mx_fn(a, axis, keepdims)
                expected = desc.ref(x, axis, keepdims)
                try:
                    check_reduction(
                        desc, out, expected, dtype, _n_reduced(x.shape, axis), axis
                    )
                except AssertionError as e:
                    raise AssertionError(
                        f"{layout} axis={axis} keepdims={keepdims}: {e}"
                    ) from None


@pytest.mark.parametrize("desc,dtype", list(_cases()))
def test_reduction_scalar_input(device, rng, desc, dtype):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (), dtype, desc.domain)
    # Cases MLX gets wrong are tested in test_scalar_reduction_mlx_bugs.
    for axis in [None] + ([()] if desc.tuple_axes and desc.name != "logsumexp" else []):
        for keepdims in (False, True) if desc.tuple_axes else (False,):
            out = desc.mx_fn(a, axis, keepdims)
            check_reduction(
                desc, out, desc.ref(x, axis, keepdims), dtype, axis=axis, ndim=0
            )
    # MLX: logsumexp raises ValueError here, the others IndexError.
    with pytest.raises(ValueError if desc.name == "logsumexp" else IndexError):
        desc.mx_fn(a, 0, False)


def test_scalar_reduction_mlx_bugs():
    mlx_bug(
        True,
        "argmax(scalar, keepdims=True) raises 'cannot create std::vector larger "
        "than max_size()'; logsumexp(scalar, axis=()) raises ValueError",
    )
    assert mx.argmax(mx.array(3.0), keepdims=True).shape == ()
    assert mx.argmin(mx.array(3.0), keepdims=True).item() == 0
    assert mx.logsumexp(mx.array(3.0), axis=()).item() == 3.0


@pytest.mark.parametrize("desc", REDUCTIONS, ids=lambda d: d.name)
def test_reduction_empty_input(device, desc):
    x = np.zeros((0, 4), np.float32)
    a = mx.zeros((0, 4))
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            # max and min reject a zero-size reduced axis only; argmax, argmin and
            # logsumexp any zero-size input.
            reduces_empty = not (axis == 1 and not desc.empty_any_raises)
            if not desc.empty_ok and reduces_empty:
                with pytest.raises(ValueError):
                    mx.eval(desc.mx_fn(a, axis, keepdims))
                continue
            out = desc.mx_fn(a, axis, keepdims)
            expected = desc.ref(x.astype(np.float64), axis, keepdims)
            check_reduction(desc, out, expected, mx.float32)


@pytest.mark.parametrize(
    "name,expected", [("sum", 0.0), ("prod", 1.0), ("all", True), ("any", False)]
)
def test_reduction_of_empty_array_from_numpy(name, expected):
    mlx_bug(
        True,
        "reductions of an array made from an empty NumPy array read uninitialized "
        "memory (sum gives garbage, prod 0, all False)",
    )
    a = mx.array(np.zeros((0, 4), np.float32))
    assert getattr(mx, name)(a).item() == expected


def test_empty_reduction_values(device):
    e = mx.zeros((0, 3))
    assert mx.sum(e).item() == 0.0
    assert mx.sum(e, axis=0).tolist() == [0.0, 0.0, 0.0]
    assert mx.prod(e, axis=0).tolist() == [1.0, 1.0, 1.0]
    assert mx.sum(mx.zeros((0,), mx.int8)).dtype == mx.int32
    assert math.isnan(mx.mean(e).item())
    assert mx.all(e).item() is True
    assert mx.any(e).item() is False
    assert mx.max(e, axis=1).shape == (0,)
    assert mx.softmax(mx.zeros((0,)), axis=0).shape == (0,)


def test_max_of_empty_message():
    with pytest.raises(ValueError, match=r"^\[max\]"):
        mx.max(mx.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match=r"^\[argmax\]"):
        mx.argmax(mx.zeros((0,)))
    with pytest.raises(ValueError, match=r"^\[logsumexp\]"):
        mx.logsumexp(mx.zeros((0,)))


def _check_axis_error(excinfo):
    # MLX raises IndexError; this project's errors are also ValueError (DESIGN.md 6).
    assert isinstance(excinfo.value, IndexError)
    if not is_reference_mlx():
        assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    "name",
    [
        "sum",
        "prod",
        "max",
        "min",
        "mean",
        "var",
        "std",
        "all",
        "any",
        "argmax",
        "argmin",
        "logsumexp",
        "count_nonzero",
    ],
)
@pytest.mark.parametrize("axis", [3, -4, 10])
def test_axis_out_of_range(name, axis):
    a = mx.zeros((2, 3, 4))
    with pytest.raises(IndexError) as excinfo:
        getattr(mx, name)(a, axis=axis)
    _check_axis_error(excinfo)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "all", "any"])
def test_duplicate_axes(name):
    a = mx.zeros((2, 3, 4))
    with pytest.raises(ValueError):
        getattr(mx, name)(a, axis=(0, 0))
    with pytest.raises(ValueError):
        getattr(mx, name)(a, axis=(1, -2))


def test_argmax_takes_one_axis():
    with pytest.raises(TypeError):
        mx.argmax(mx.zeros((2, 3)), axis=(0, 1))
    with pytest.raises(TypeError):
        mx.sum(mx.zeros((2, 3)), axis=1.0)


def test_argmax_ties_and_nan(device):
    assert mx.argmax(mx.array([1, 3, 3, 0])).item() == 1
    assert mx.argmin(mx.array([1, 0, 3, 0])).item() == 1
    # A NaN wins both, as in NumPy.
    assert mx.argmax(mx.array([1.0, np.nan, 3.0])).item() == 1
    assert mx.argmin(mx.array([1.0, np.nan, 0.0])).item() == 1
    assert math.isnan(mx.max(mx.array([1.0, np.nan, 3.0])).item())
    assert math.isnan(mx.min(mx.array([1.0, np.nan, 0.0])).item())
    assert mx.argmax(mx.array(5.0)).item() == 0


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.int32])
def test_var_std_ddof(device, rng, ddof, axis, dtype):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (4, 6), dtype, Domain(-3, 3))
    x = x.astype(np.float64)
    for keepdims in (False, True):
        v = mx.var(a, axis=axis, keepdims=keepdims, ddof=ddof)
        s = mx.std(a, axis=axis, keepdims=keepdims, ddof=ddof)
        assert v.dtype == (dtype if dtype in FLOATS else mx.float32)
        assert_close(v, np.var(x, axis=axis, keepdims=keepdims, ddof=ddof), scale=4)
        assert_close(s, np.std(x, axis=axis, keepdims=keepdims, ddof=ddof), scale=4)


def test_var_ddof_at_least_n_is_inf(device):
    # MLX: var / std with ddof >= n give inf (NumPy gives inf at ddof == n, nan beyond).
    x = mx.array([1.0, 2.0, 3.0, 4.0])
    assert mx.var(x, ddof=4).item() == math.inf
    assert mx.std(x, ddof=4).item() == math.inf
    assert mx.var(x, ddof=5).item() == math.inf


def test_var_of_complex_is_real(device):
    z = np.array([1 + 1j, 2 - 1j, -0.5 + 3j], np.complex64)
    out = mx.var(mx.array(z))
    assert out.dtype == mx.float32
    assert_close(out, np.var(z.astype(np.complex128)))


def test_integer_sums(device):
    # Small integers accumulate in 32 bits, and 32-bit sums wrap around.
    out = mx.sum(mx.array([100, 100], mx.int8))
    assert out.dtype == mx.int32 and out.item() == 200
    out = mx.sum(mx.array([200, 200], mx.uint8))
    assert out.dtype == mx.uint32 and out.item() == 400
    out = mx.sum(mx.array([2**31, 2**31], mx.uint32))
    assert out.dtype == mx.uint32 and out.item() == 0
    out = mx.sum(mx.array([True, True, False]))
    assert out.dtype == mx.int32 and out.item() == 2
    out = mx.sum(mx.array([2**40, 2**40], mx.int64))
    assert out.item() == 2**41
    assert mx.mean(mx.array([1, 2], mx.int64)).dtype == mx.float32


def test_half_precision_sums_accumulate_in_float32(device):
    assert mx.sum(mx.ones((10000,), mx.float16)).item() == 10000.0
    # 10000 is not a bfloat16; the nearest one is 9984.
    assert mx.sum(mx.ones((10000,), mx.bfloat16)).item() == 9984.0
    x = np.random.default_rng(0).uniform(-1, 1, 4096).astype(np.float16)
    assert_close(mx.sum(mx.array(x)), x.astype(np.float64).sum(), rtol=2e-3, atol=2e-2)


def test_logsumexp_special_values(device):
    inf = math.inf
    assert mx.logsumexp(mx.array([-inf, -inf])).item() == -inf
    assert mx.logsumexp(mx.array([inf, 1.0])).item() == inf
    assert_close(mx.logsumexp(mx.array([1000.0, 1000.0])), 1000.0 + math.log(2.0))
    assert_close(mx.logsumexp(mx.array([-1000.0, -1000.0])), -1000.0 + math.log(2.0))


# --------------------------------------------------------------------------------------
# softmax


def _np_softmax(x, axis):
    x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize(
    "dtype", [mx.float32, mx.float16, mx.bfloat16, mx.float64, mx.int32, mx.bool_]
)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (1, 2)])
def test_softmax(device, rng, dtype, axis):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (3, 4, 5), dtype, Domain(-4, 4))
    mlx_bug(
        dtype in (mx.int32, mx.bool_) and axis not in (-1, 2),
        "softmax of an integer / bool array along any axis but the last returns the "
        "input dtype (int32 zeros) instead of float32",
    )
    out = mx.softmax(a) if axis is None else mx.softmax(a, axis=axis)
    assert out.dtype == to_float(dtype)
    assert out.shape == a.shape
    ref_axis = tuple(range(3)) if axis is None else axis
    scale = 8 if dtype in (mx.float16, mx.bfloat16) else 1
    if dtype == mx.float64:
        assert_close(out, _np_softmax(x, ref_axis), rtol=2e-5, atol=1e-7)
    else:
        assert_close(out, _np_softmax(x, ref_axis), scale=scale)
    out = mx.softmax(a.T, axis=0)
    assert_close(
        out,
        _np_softmax(x.T, 0),
        rtol=5e-2 if scale > 1 else 2e-5,
        atol=1e-3 if scale > 1 else 1e-6,
    )


def test_softmax_precise_and_edge_cases(device):
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], np.float32)
    out = mx.softmax(mx.array(x, mx.float16), axis=-1, precise=True)
    assert out.dtype == mx.float16
    assert_close(out, _np_softmax(x, -1))
    # Large inputs do not overflow.
    assert_close(mx.softmax(mx.array([1000.0, 1000.0]), axis=0), [0.5, 0.5])
    # MLX: a row of -inf gives NaN (0 / 0), like NumPy's formula.
    assert all(
        math.isnan(v) for v in mx.softmax(mx.array([-math.inf, -math.inf])).tolist()
    )
    with pytest.raises(IndexError):
        mx.softmax(mx.zeros((2, 3)), axis=2)


# --------------------------------------------------------------------------------------
# scans

SCANS = {
    "cumsum": np.cumsum,
    "cumprod": np.cumprod,
    "cummax": np.maximum.accumulate,
    "cummin": np.minimum.accumulate,
    "logcumsumexp": np.logaddexp.accumulate,
}


def _np_scan(name, x, axis, reverse, inclusive):
    f = SCANS[name]
    if axis is None:
        x, axis = x.reshape(-1), 0
    if name == "logcumsumexp" or x.dtype == np.float16:
        x = x.astype(np.float64)
    if reverse:
        x = np.flip(x, axis)
    r = f(x, axis=axis)
    if not inclusive:
        ident = {"cumsum": 0, "cumprod": 1, "logcumsumexp": -np.inf}[name]
        r = np.concatenate(
            [
                np.full_like(np.take(r, [0], axis=axis), ident),
                np.delete(r, -1, axis=axis),
            ],
            axis=axis,
        )
    if reverse:
        r = np.flip(r, axis)
    return r


def _scan_dtype(name, dt):
    # cumsum of bool gives int32; every other integer keeps its dtype (unlike sum, which
    # widens int8 to int32). cumprod of bool stays bool.
    if name == "logcumsumexp":
        return to_float(dt)
    if name == "cumsum" and dt == mx.bool_:
        return mx.int32
    return dt


@pytest.mark.parametrize("name", list(SCANS))
@pytest.mark.parametrize(
    "dtype",
    [
        mx.bool_,
        mx.uint8,
        mx.int32,
        mx.int64,
        mx.float16,
        mx.float32,
        mx.bfloat16,
        mx.float64,
    ],
)
def test_scans(device, rng, name, dtype):
    _skip_unavailable(device, dtype)
    if name == "logcumsumexp" and dtype == mx.bool_:
        return
    dom = (
        Domain(0.5, 1.5, int_lo=0, int_hi=3)
        if name == "cumprod"
        else Domain(-3, 3, int_lo=0, int_hi=5)
    )
    a, x = make_input(rng, (3, 4), dtype, dom)
    f = getattr(mx, name)
    for axis in (None, 0, 1, -1):
        for reverse in (False, True):
            for inclusive in (True, False):
                if not inclusive and name in ("cummax", "cummin"):
                    continue
                kw = {} if axis is None else {"axis": axis}
                out = f(a, reverse=reverse, inclusive=inclusive, **kw)
                assert out.dtype == _scan_dtype(name, dtype), (out.dtype, dtype)
                xx = x.astype(np.int64) if dtype == mx.bool_ and name == "cumsum" else x
                expected = _np_scan(name, xx, axis, reverse, inclusive)
                if dtype == mx.bool_:
                    expected = expected.astype(
                        np.int32 if name == "cumsum" else np.bool_
                    )
                try:
                    if dtype == mx.float64 and name == "logcumsumexp":
                        assert_close(
                            out, expected, rtol=2e-5, atol=1e-6
                        )  # float32-accurate
                    else:
                        assert_close(out, expected, scale=4)
                except AssertionError as e:
                    raise AssertionError(
                        f"axis={axis} reverse={reverse} inclusive={inclusive}: {e}"
                    ) from None
    # Non-contiguous input.
    out = f(a.T, axis=0)
    expected = _np_scan(
        name, x.T.astype(np.int64) if dtype == mx.bool_ else x.T, 0, False, True
    )
    if dtype == mx.bool_:
        expected = expected.astype(np.int32 if name == "cumsum" else np.bool_)
    assert_close(out, expected, rtol=2e-5 if dtype == mx.float64 else None, scale=4)


def test_scan_scalar_and_errors(device):
    # A scan of a scalar with no axis flattens it to shape (1,).
    assert mx.cumsum(mx.array(3.0)).shape == (1,)
    assert mx.cumsum(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    with pytest.raises(IndexError):
        mx.cumsum(mx.zeros((2, 3)), axis=2)
    assert mx.cumsum(mx.array([1, 2, 3]), dtype=mx.float32).dtype == mx.float32


def test_median(device, rng):
    x = rng.uniform(-3, 3, (4, 5)).astype(np.float32)
    a = mx.array(x)
    assert_close(mx.median(a), np.median(x))
    assert_close(mx.median(a, axis=1), np.median(x, axis=1))
    assert_close(
        mx.median(a, axis=0, keepdims=True), np.median(x, axis=0, keepdims=True)
    )
    assert_close(mx.median(a, axis=(0, 1)), np.median(x, axis=(0, 1)))
    out = mx.median(mx.array([1, 2, 3, 4], mx.int32))
    assert out.dtype == mx.float32 and out.item() == 2.5


@pytest.mark.parametrize(
    "name",
    [
        "sum",
        "prod",
        "max",
        "min",
        "mean",
        "var",
        "std",
        "all",
        "any",
        "argmax",
        "argmin",
        "logsumexp",
    ],
)
def test_array_methods(name):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10
    a = mx.array(x)
    f = getattr(mx, name)
    m = getattr(a, name)
    assert_array_equal(m(), to_numpy(f(a)))
    assert_array_equal(m(1), to_numpy(f(a, axis=1)))
    assert_array_equal(
        m(axis=-1, keepdims=True), to_numpy(f(a, axis=-1, keepdims=True))
    )


def test_stream_keyword(device):
    a = mx.arange(6).reshape(2, 3)
    assert mx.sum(a, axis=0, stream=device).tolist() == [3, 5, 7]


# --------------------------------------------------------------------------------------
# matmul and other contractions

MATMUL_DTYPES = [mx.float32, mx.float64, mx.float16, mx.bfloat16, mx.complex64]

MATMUL_SHAPES = [
    ((2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((5, 2, 3), (3,)),
    ((4,), (2, 4, 3)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 6)),
    ((1, 2, 3), (7, 3, 2)),
    ((2, 0), (0, 5)),
    ((0, 3), (3, 5)),
    ((3, 0, 2), (2, 4)),
    ((17, 33), (33, 9)),
]


def _mm_tol(dtype, k):
    if dtype in (mx.float16, mx.bfloat16):
        return dict(scale=max(1.0, math.sqrt(k)))
    if dtype == mx.float64:
        return dict(rtol=1e-10, atol=1e-10)
    return dict(rtol=1e-5 * max(1.0, math.sqrt(k)), atol=1e-5 * max(1.0, math.sqrt(k)))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=dtype_name)
@pytest.mark.parametrize(
    "sa,sb", MATMUL_SHAPES, ids=lambda s: "x".join(map(str, s)) or "0d"
)
def test_matmul(device, rng, dtype, sa, sb):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, sa, dtype, Domain(-1, 1))
    b, y = make_input(rng, sb, dtype, Domain(-1, 1))
    out = mx.matmul(a, b)
    assert out.dtype == dtype
    expected = np.matmul(x, y)
    k = sa[-1]
    assert_close(out, expected, **_mm_tol(dtype, k))
    assert_close(a @ b, expected, **_mm_tol(dtype, k))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES[:4], ids=dtype_name)
def test_matmul_non_contiguous(device, rng, dtype):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (4, 6, 5), dtype, Domain(-1, 1))
    b, y = make_input(rng, (4, 7, 6), dtype, Domain(-1, 1))
    tol = _mm_tol(dtype, 6)
    # Transposed operands, strided slices and a broadcast batch.
    assert_close(
        mx.matmul(mx.swapaxes(a, -1, -2), mx.swapaxes(b, -1, -2)),
        np.matmul(np.swapaxes(x, -1, -2), np.swapaxes(y, -1, -2)),
        **tol,
    )
    assert_close(
        mx.matmul(a[::2, :, ::2], mx.swapaxes(b, 1, 2)[1::2, ::2, :]),
        np.matmul(x[::2, :, ::2], np.swapaxes(y, 1, 2)[1::2, ::2, :]),
        **tol,
    )
    c = mx.broadcast_to(a[:1], (4, 6, 5))
    assert_close(
        mx.matmul(mx.swapaxes(c, 1, 2), a),
        np.matmul(np.swapaxes(np.broadcast_to(x[:1], (4, 6, 5)), 1, 2), x),
        **tol,
    )
    assert_close(
        mx.matmul(a[:, ::-1], mx.swapaxes(b, 1, 2)[:, ::-1][:, :5]),
        np.matmul(x[:, ::-1], np.swapaxes(y, 1, 2)[:, ::-1][:, :5]),
        **tol,
    )


def test_matmul_promotion_and_errors():
    f16 = mx.ones((2, 3), mx.float16)
    assert mx.matmul(f16, mx.ones((3, 4), mx.float32)).dtype == mx.float32
    assert mx.matmul(mx.ones((2, 3), mx.int32), mx.ones((3, 4))).dtype == mx.float32
    for dt in [mx.bool_, mx.int32, mx.uint8, mx.int64]:
        with pytest.raises(ValueError, match=r"\[matmul\]"):
            mx.matmul(mx.ones((2, 3), dt), mx.ones((3, 4), dt))
    with pytest.raises(ValueError, match=r"\[matmul\]"):
        mx.matmul(mx.ones((2, 3)), mx.ones((4, 5)))
    with pytest.raises(ValueError):
        mx.matmul(mx.ones((2, 2, 3)), mx.ones((3, 3, 5)))
    with pytest.raises(ValueError, match=r"\[matmul\]"):
        mx.matmul(mx.ones(()), mx.ones((3,)))
    # An empty contraction gives zeros.
    assert mx.matmul(mx.ones((2, 0)), mx.ones((0, 5))).tolist() == [[0.0] * 5] * 2


def test_imatmul():
    a = mx.ones((3, 3))
    b = a
    a @= mx.full((3, 3), 2.0)
    assert a.tolist() == [[6.0] * 3] * 3
    # In-place operators update the Python object itself.
    assert b is a


def test_other_contractions(device, rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    c = rng.standard_normal((2, 4)).astype(np.float32)
    a, b = mx.array(x), mx.array(y)
    assert_close(mx.inner(a, b), np.inner(x, y), rtol=1e-5, atol=1e-6)
    assert_close(mx.outer(a[0], b[0]), np.outer(x[0], y[0]), rtol=1e-5, atol=1e-6)
    assert_close(
        mx.addmm(mx.array(c), a, b.T, alpha=2.0, beta=0.5),
        0.5 * c + 2.0 * x @ y.T,
        rtol=1e-5,
        atol=1e-5,
    )
    t1 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t2 = rng.standard_normal((3, 4, 5)).astype(np.float32)
    assert_close(
        mx.tensordot(mx.array(t1), mx.array(t2), axes=2),
        np.tensordot(t1, t2, axes=2),
        rtol=1e-5,
        atol=1e-5,
    )
    assert_close(
        mx.tensordot(mx.array(t1), mx.array(t2), axes=([1], [0])),
        np.tensordot(t1, t2, axes=([1], [0])),
        rtol=1e-5,
        atol=1e-5,
    )
    assert_close(
        mx.einsum("ij,kj->ik", a, b), np.einsum("ij,kj->ik", x, y), rtol=1e-5, atol=1e-5
    )
    assert_close(
        mx.trace(mx.array(t1[0, :, :3])), np.trace(t1[0, :, :3]), rtol=1e-5, atol=1e-6
    )


# --------------------------------------------------------------------------------------
# properties


@st.composite
def _reduction_case(draw):
    desc = draw(st.sampled_from([d for d in REDUCTIONS]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.float32, shape, elements=st.floats(-4, 4, width=32)))
    if desc.tuple_axes:
        axis = draw(
            st.none() | st.lists(st.integers(0, len(shape) - 1), unique=True).map(tuple)
        )
    else:
        axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    keepdims = draw(st.booleans())
    return desc, x, axis, keepdims


@given(_reduction_case())
def test_property_reduction_matches_numpy(case):
    desc, x, axis, keepdims = case
    out = desc.mx_fn(mx.array(x), axis, keepdims)
    expected = desc.ref(x.astype(np.float64), axis, keepdims)
    check_reduction(desc, out, expected, mx.float32, _n_reduced(x.shape, axis))


@given(_reduction_case(), st.data())
def test_property_reduction_layout_invariant(case, data):
    """Reducing a permuted view over the permuted axes gives the same result."""
    desc, x, axis, keepdims = case
    perm = data.draw(st.permutations(range(x.ndim)))
    a = mx.array(x)
    ref = to_numpy(desc.mx_fn(a, axis, False))
    inv = [perm.index(i) for i in range(x.ndim)]
    v = mx.transpose(mx.array(np.ascontiguousarray(np.transpose(x, perm))), inv)
    got = desc.mx_fn(v, axis, False)
    if axis is None or isinstance(axis, int):
        np.testing.assert_allclose(to_numpy(got), ref, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(to_numpy(got), ref, rtol=1e-5, atol=1e-5)


@given(
    st.integers(1, 4),
    st.integers(0, 6),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from(["nn", "tn", "nt", "tt"]),
)
def test_property_matmul_matches_numpy(batch, m, k, n, trans):
    rng = np.random.default_rng(batch * 1000 + m * 100 + k * 10 + n)
    x = rng.standard_normal((batch, m, k)).astype(np.float32)
    y = rng.standard_normal((batch, k, n)).astype(np.float32)
    a = (
        mx.array(x)
        if trans[0] == "n"
        else mx.swapaxes(mx.array(np.swapaxes(x, 1, 2).copy()), 1, 2)
    )
    b = (
        mx.array(y)
        if trans[1] == "n"
        else mx.swapaxes(mx.array(np.swapaxes(y, 1, 2).copy()), 1, 2)
    )
    assert_close(mx.matmul(a, b), x @ y, rtol=1e-5, atol=1e-5)
