"""Dtypes: the 14 dtypes, MLX's promotion table (arrays and weak Python scalars),
astype conversions, mx.finfo / mx.iinfo, issubdtype and the dtype categories, isdtype,
can_cast, result_type, and float64 being CPU only."""

import itertools
import math
import pickle

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from conftest import on_cpu_if_float64
from op_descriptions import (
    ALL_DTYPES,
    BOOL,
    COMPLEX,
    FLOATS,
    INTS,
    NP_DTYPE,
    PROMOTION,
    SINTS,
    UINTS,
    assert_array_equal,
    dtype_name,
    mlx_bug,
    to_numpy,
)

SIZES = {
    mx.bool_: 1,
    mx.uint8: 1,
    mx.uint16: 2,
    mx.uint32: 4,
    mx.uint64: 8,
    mx.int8: 1,
    mx.int16: 2,
    mx.int32: 4,
    mx.int64: 8,
    mx.float16: 2,
    mx.float32: 4,
    mx.float64: 8,
    mx.bfloat16: 2,
    mx.complex64: 8,
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_dtype_objects(dtype):
    assert isinstance(dtype, mx.Dtype)
    assert dtype.size == SIZES[dtype]
    # MLX prints dtypes as mlx.core.<name>; bool_ prints as mlx.core.bool.
    assert str(dtype) == repr(dtype) == f"mlx.core.{dtype_name(dtype)}"
    assert dtype == dtype and not (dtype != dtype)
    assert hash(dtype) == hash(dtype)
    a = mx.zeros((3,), dtype)
    assert (
        a.dtype == dtype and a.itemsize == SIZES[dtype] and a.nbytes == 3 * SIZES[dtype]
    )


def test_dtype_identity_and_errors():
    assert len(set(ALL_DTYPES)) == 14
    assert mx.float32 != mx.int32
    assert not (mx.float32 == "float32")
    with pytest.raises(TypeError):
        mx.Dtype()
    # MLX dtypes do not pickle (TypeError).
    with pytest.raises(TypeError):
        pickle.dumps(mx.float32)


# --------------------------------------------------------------------------------------
# promotion


@pytest.mark.parametrize("a", ALL_DTYPES, ids=dtype_name)
def test_promotion_table(a):
    for b in ALL_DTYPES:
        expected = PROMOTION[(a, b)]
        x, y = mx.zeros((1,), a), mx.zeros((1,), b)
        assert mx.result_type(a, b) == expected, (a, b)
        assert mx.result_type(x, y) == expected, (a, b)
        assert (x + y).dtype == expected, (a, b)
        assert mx.multiply(y, x).dtype == PROMOTION[(b, a)]


def test_promotion_table_is_symmetric():
    for a, b in itertools.product(ALL_DTYPES, repeat=2):
        assert PROMOTION[(a, b)] == PROMOTION[(b, a)]


def test_promotion_differs_from_numpy_where_documented():
    # MLX keeps results in 32 bits or less where NumPy widens.
    assert mx.result_type(mx.uint64, mx.int8) == mx.float32  # NumPy: float64
    assert mx.result_type(mx.int32, mx.float32) == mx.float32  # NumPy: float64
    assert mx.result_type(mx.int16, mx.float16) == mx.float16  # NumPy: float32
    assert mx.result_type(mx.uint32, mx.float16) == mx.float16  # NumPy: float64
    assert mx.result_type(mx.float64, mx.complex64) == mx.complex64  # NumPy: complex128
    assert mx.result_type(mx.int64, mx.bfloat16) == mx.bfloat16
    assert mx.result_type(mx.float16, mx.bfloat16) == mx.float32


def test_zero_dim_arrays_are_not_weak():
    assert (mx.array(1, mx.int8) + mx.array(1.5)).dtype == mx.float32
    assert (mx.array(1, mx.int8) + mx.array(300)).dtype == mx.int32
    assert (mx.array([1], mx.float16) + mx.array(1.0)).dtype == mx.float32


# Result dtype of array(dtype) + Python scalar, or the exception class. Python scalars
# are weak: they take the array's dtype within the same kind.
WEAK = {
    #            True        1           -1          1.5         1j
    mx.bool_: (mx.bool_, mx.int32, mx.int32, mx.float32, mx.complex64),
    mx.uint8: (mx.uint8, mx.uint8, ValueError, mx.float32, mx.complex64),
    mx.uint16: (mx.uint16, mx.uint16, ValueError, mx.float32, mx.complex64),
    mx.uint32: (mx.uint32, mx.uint32, ValueError, mx.float32, mx.complex64),
    # MLX: -1 converts to uint64 (2**64 - 1) without an error, unlike smaller uints.
    mx.uint64: (mx.uint64, mx.uint64, mx.uint64, mx.float32, mx.complex64),
    mx.int8: (mx.int8, mx.int8, mx.int8, mx.float32, mx.complex64),
    mx.int16: (mx.int16, mx.int16, mx.int16, mx.float32, mx.complex64),
    mx.int32: (mx.int32, mx.int32, mx.int32, mx.float32, mx.complex64),
    mx.int64: (mx.int64, mx.int64, mx.int64, mx.float32, mx.complex64),
    mx.float16: (mx.float16, mx.float16, mx.float16, mx.float16, mx.complex64),
    mx.float32: (mx.float32, mx.float32, mx.float32, mx.float32, mx.complex64),
    mx.float64: (mx.float64, mx.float64, mx.float64, mx.float64, mx.complex64),
    mx.bfloat16: (mx.bfloat16, mx.bfloat16, mx.bfloat16, mx.bfloat16, mx.complex64),
    mx.complex64: (mx.complex64,) * 5,
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
@pytest.mark.parametrize(
    "col,scalar",
    list(enumerate([True, 1, -1, 1.5, 1j])),
    ids=["True", "1", "-1", "1.5", "1j"],
)
def test_weak_python_scalars(dtype, col, scalar):
    expected = WEAK[dtype][col]
    x = mx.ones((2,), dtype)
    if isinstance(expected, type):
        with pytest.raises(expected):
            x + scalar
        with pytest.raises(expected):
            scalar * x
        return
    for out in (
        x + scalar,
        scalar + x,
        x * scalar,
        scalar - x,
        mx.add(x, scalar),
        mx.maximum(scalar, x),
    ):
        assert out.dtype == expected, (out.dtype, expected)


def test_weak_scalar_values_and_overflow():
    out = mx.array([1], mx.int8) + 100
    assert out.dtype == mx.int8 and out.item() == 101
    # A Python int that does not fit the array's integer dtype raises ValueError.
    for dtype, value in [
        (mx.uint8, 256),
        (mx.int8, 128),
        (mx.int8, -129),
        (mx.int32, 2**31),
        (mx.uint16, -1),
    ]:
        with pytest.raises(ValueError):
            mx.zeros((1,), dtype) + value
        with pytest.raises(ValueError):
            _ = mx.zeros((1,), dtype) < value
    # Floats do not raise: they become inf.
    out = mx.zeros((1,), mx.float16) + 1e10
    assert out.dtype == mx.float16 and out.item() == math.inf
    out = mx.array([1], mx.int64) + 2**62
    assert out.item() == 2**62 + 1
    assert (mx.array([1], mx.uint64) + -1).item() == 0


def test_numpy_operands_are_weak():
    # MLX treats NumPy scalars and arrays on the right like weak Python scalars.
    assert (mx.array([1], mx.int8) + np.float64(1.5)).dtype == mx.float32
    assert (mx.array([1], mx.int8) + np.int64(1)).dtype == mx.int8
    out = mx.array([1], mx.int8) + np.array([1.5])
    assert isinstance(out, mx.array) and out.dtype == mx.int8 and out.tolist() == [2]


def test_result_type():
    assert mx.result_type(mx.int8) == mx.int8
    assert mx.result_type(mx.int8, mx.float16) == mx.float16
    assert (
        mx.result_type(mx.zeros((1,), mx.uint8), mx.int8, mx.zeros((1,), mx.int32))
        == mx.int32
    )
    with pytest.raises(ValueError, match=r"\[result_type\]"):
        mx.result_type(1, 1.5)


@pytest.mark.parametrize("a", ALL_DTYPES, ids=dtype_name)
def test_promotion_of_common_ops(a):
    """Arithmetic, comparisons, where and concatenate all use the same table."""
    for b in ALL_DTYPES:
        p = PROMOTION[(a, b)]
        x, y = mx.zeros((2,), a), mx.ones((2,), b)
        assert mx.maximum(x, y).dtype == p
        assert mx.where(mx.array([True, False]), x, y).dtype == p
        assert mx.concatenate([x, y]).dtype == p
        assert (x == y).dtype == mx.bool_


# --------------------------------------------------------------------------------------
# astype


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("src", ALL_DTYPES, ids=dtype_name)
def test_astype_between_all_dtypes(src):
    values = np.array([0, 1, 2, 5, 100, 127])
    with on_cpu_if_float64(src):
        a = mx.array(values).astype(src)
    for dst in ALL_DTYPES:
        # A float64 source or destination runs on the CPU stream when the GPU is the default.
        with on_cpu_if_float64(src, dst):
            b = a.astype(dst)
            assert b.dtype == dst and b.shape == (6,)
            expected = values.astype(NP_DTYPE[src]).astype(NP_DTYPE[dst])
            if src == mx.bfloat16:
                expected = to_numpy(a).astype(NP_DTYPE[dst])
            assert_array_equal(b, expected)
            # Non-contiguous source.
            assert_array_equal(a[::-2].astype(dst), expected[::-2])


def test_astype_conversion_rules():
    f = mx.array([1.7, -1.7, 2.5, -0.0])
    # Floats to integers truncate toward zero.
    assert f.astype(mx.int32).tolist() == [1, -1, 2, 0]
    # Integers wrap modulo 2**bits.
    assert mx.array([300, -1], mx.int32).astype(mx.uint8).tolist() == [44, 255]
    assert mx.array([255], mx.uint8).astype(mx.int8).tolist() == [-1]
    assert mx.array([2**40 + 5], mx.int64).astype(mx.int32).tolist() == [5]
    # To bool: nonzero is True (NaN too); complex uses both parts.
    assert mx.array([0.5, -0.0, math.nan]).astype(mx.bool_).tolist() == [
        True,
        False,
        True,
    ]
    assert mx.array([0j, 1j]).astype(mx.bool_).tolist() == [False, True]
    assert mx.array([True, False]).astype(mx.float32).tolist() == [1.0, 0.0]
    # Complex to real keeps the real part.
    assert mx.array([1 + 2j]).astype(mx.float32).tolist() == [1.0]
    assert mx.array([1.5]).astype(mx.complex64).tolist() == [1.5 + 0j]
    # Narrowing floats round to nearest and overflow to inf.
    assert mx.array([65520.0]).astype(mx.float16).item() == math.inf
    assert (
        mx.array([0.1]).astype(mx.bfloat16).astype(mx.float32).item() == 0.10009765625
    )
    assert mx.array([0.1]).astype(mx.float16).item() == float(np.float16(0.1))
    assert (
        mx.array([2**24 + 1], mx.int32).astype(mx.float32).astype(mx.int32).item()
        == 2**24
    )
    nan_inf = mx.array([math.nan, math.inf, -math.inf])
    for dt in (mx.float16, mx.bfloat16, mx.float64):
        with on_cpu_if_float64(dt):
            v = nan_inf.astype(dt).tolist()
        assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf


# --------------------------------------------------------------------------------------
# finfo / iinfo


@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64], ids=dtype_name)
def test_finfo_matches_numpy(dtype):
    f, g = mx.finfo(dtype), np.finfo(NP_DTYPE[dtype])
    assert f.bits == g.bits
    assert f.min == float(g.min) and f.max == float(g.max)
    assert f.eps == float(g.eps)
    assert f.smallest_normal == float(g.smallest_normal)
    assert f.dtype == dtype


def test_finfo_bfloat16_and_complex():
    f = mx.finfo(mx.bfloat16)
    assert f.bits == 16 and f.eps == 2.0**-7 and f.dtype == mx.bfloat16
    assert f.max == 3.3895313892515355e38 and f.min == -f.max
    assert f.smallest_normal == 2.0**-126
    # finfo of complex64 describes its float32 parts.
    c = mx.finfo(mx.complex64)
    assert c.dtype == mx.float32 and c.bits == 32 and c.eps == 2.0**-23
    assert (
        repr(mx.finfo(mx.float32))
        == "finfo(min=-3.40282e+38, max=3.40282e+38, dtype=float32)"
    )


@pytest.mark.parametrize("dtype", INTS, ids=dtype_name)
def test_iinfo_matches_numpy(dtype):
    i, j = mx.iinfo(dtype), np.iinfo(NP_DTYPE[dtype])
    assert i.min == int(j.min) and i.max == int(j.max)
    assert isinstance(i.max, int)
    assert i.dtype == dtype
    # MLX's iinfo has min, max and dtype (no bits attribute).
    assert (
        repr(i)
        == f"iinfo(min={int(j.min)}, max={int(j.max)}, dtype={dtype_name(dtype)})"
    )


def test_finfo_iinfo_errors():
    with pytest.raises(ValueError, match=r"\[finfo\]"):
        mx.finfo(mx.int32)
    with pytest.raises(ValueError, match=r"\[iinfo\]"):
        mx.iinfo(mx.float32)
    with pytest.raises(ValueError):
        mx.iinfo(mx.bool_)


# --------------------------------------------------------------------------------------
# categories


CATEGORIES = [
    "generic",
    "number",
    "integer",
    "unsignedinteger",
    "signedinteger",
    "inexact",
    "floating",
    "complexfloating",
]


def _expected_categories(dtype):
    cats = {"generic"}
    if dtype in BOOL:
        return cats
    cats.add("number")
    if dtype in INTS:
        cats.add("integer")
        cats.add("unsignedinteger" if dtype in UINTS else "signedinteger")
    else:
        cats.add("inexact")
        cats.add("floating" if dtype in FLOATS else "complexfloating")
    return cats


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_issubdtype_categories(dtype):
    want = _expected_categories(dtype)
    for name in CATEGORIES:
        cat = getattr(mx, name)
        assert isinstance(cat, mx.DtypeCategory)
        assert mx.issubdtype(dtype, cat) == (name in want), (dtype, name)
    assert mx.issubdtype(dtype, dtype)
    for other in ALL_DTYPES:
        if other != dtype:
            assert not mx.issubdtype(dtype, other)


def test_category_hierarchy():
    parents = {
        "generic": {"generic"},
        "number": {"generic", "number"},
        "integer": {"generic", "number", "integer"},
        "unsignedinteger": {"generic", "number", "integer", "unsignedinteger"},
        "signedinteger": {"generic", "number", "integer", "signedinteger"},
        "inexact": {"generic", "number", "inexact"},
        "floating": {"generic", "number", "inexact", "floating"},
        "complexfloating": {"generic", "number", "inexact", "complexfloating"},
    }
    for a in CATEGORIES:
        for b in CATEGORIES:
            assert mx.issubdtype(getattr(mx, a), getattr(mx, b)) == (b in parents[a]), (
                a,
                b,
            )
    # A category is never a subtype of a concrete dtype.
    assert not mx.issubdtype(mx.floating, mx.float32)
    assert mx.DtypeCategory.floating == mx.floating
    with pytest.raises(ValueError, match=r"\[issubdtype\]"):
        mx.issubdtype(mx.float32, "float")


@pytest.mark.parametrize(
    "kind,members",
    [
        ("bool", BOOL),
        ("signed integer", SINTS),
        ("unsigned integer", UINTS),
        ("integral", INTS),
        ("real floating", FLOATS),
        ("complex floating", COMPLEX),
        ("numeric", INTS + FLOATS + COMPLEX),
    ],
)
def test_isdtype(kind, members):
    for dt in ALL_DTYPES:
        assert mx.isdtype(dt, kind) == (dt in members), (dt, kind)
    assert mx.isdtype(mx.float32, ("integral", "real floating"))
    assert mx.isdtype(mx.int8, mx.int8) and not mx.isdtype(mx.int8, mx.int16)
    with pytest.raises(ValueError, match=r"\[isdtype\]"):
        mx.isdtype(mx.int32, "foo")


def test_can_cast():
    assert mx.can_cast(mx.int8, mx.int16)
    assert not mx.can_cast(mx.int16, mx.int8)
    assert not mx.can_cast(mx.float32, mx.int32)
    assert mx.can_cast(mx.int32, mx.float32)
    assert not mx.can_cast(mx.uint64, mx.int64)
    assert mx.can_cast(mx.bool_, mx.int8)
    assert not mx.can_cast(mx.float16, mx.bfloat16)
    assert mx.can_cast(mx.bfloat16, mx.float32)
    assert mx.can_cast(mx.array([1], mx.int8), mx.int16)


# --------------------------------------------------------------------------------------
# devices


def test_float64_is_cpu_only(device):
    a = mx.array([1.0, 2.0], mx.float64)
    if device.type == mx.gpu:
        with pytest.raises(ValueError):
            mx.eval(a + 1)
    else:
        out = a + 1
        assert out.dtype == mx.float64 and out.tolist() == [2.0, 3.0]


def test_float64_on_gpu_stream_raises():
    if not mx.is_available(mx.gpu):
        # Without a GPU backend even asking for a GPU stream is a ValueError.
        with pytest.raises(ValueError):
            mx.add(mx.array([1.0], mx.float64), 1, stream=mx.gpu)
        return
    with pytest.raises(ValueError):
        mx.eval(mx.add(mx.array([1.0], mx.float64), 1, stream=mx.gpu))


# --------------------------------------------------------------------------------------
# properties


@given(
    st.sampled_from(ALL_DTYPES),
    st.sampled_from(ALL_DTYPES),
    st.sampled_from(ALL_DTYPES),
)
def test_property_chained_promotion_follows_the_table(a, b, c):
    """(x + y) + z and x + (y + z) each promote pairwise by the table."""
    left = PROMOTION[(PROMOTION[(a, b)], c)]
    right = PROMOTION[(a, PROMOTION[(b, c)])]
    x, y, z = (mx.zeros((1,), d) for d in (a, b, c))
    assert ((x + y) + z).dtype == left
    assert (x + (y + z)).dtype == right


def test_weak_uint64_beyond_int64():
    mlx_bug(
        True,
        "uint64 array + 2**63 raises RuntimeError('std::bad_cast'): Python ints "
        "above the int64 range are rejected even where they fit uint64",
    )
    assert (mx.zeros((1,), mx.uint64) + 2**63).item() == 2**63


@given(
    st.sampled_from(INTS), st.integers(-(2**63), 2**63 - 1) | st.integers(2**64, 2**70)
)
def test_property_weak_int_fits_or_raises(dtype, value):
    info = np.iinfo(NP_DTYPE[dtype])
    x = mx.zeros((1,), dtype)
    fits = int(info.min) <= value <= int(info.max)
    if fits:
        out = x + value
        assert out.dtype == dtype and out.item() == value
    elif dtype == mx.uint64 and -(2**63) <= value < 0:
        # MLX converts negative Python ints to uint64 by wrapping.
        assert (x + value).item() == value % 2**64
    elif value > 2**63 - 1 or dtype == mx.int64 or dtype == mx.uint64:
        # MLX raises RuntimeError("std::bad_cast") for ints beyond int64.
        with pytest.raises((ValueError, OverflowError, RuntimeError, TypeError)):
            x + value
    else:
        with pytest.raises(ValueError):
            x + value
