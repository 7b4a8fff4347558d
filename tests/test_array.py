"""The Python array API of mx.array: operators (plain, reflected, in place), properties,
item / tolist, NumPy and buffer protocol interop, repr / str, pickling, copy, astype,
view, conversions to Python scalars."""

import copy
import operator
import pickle

import mlx.core as mx
import numpy as np
import pytest
from conftest import on_cpu_if_float64
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_descriptions import (
    ALL_DTYPES,
    INTS,
    NP_DTYPE,
    assert_array_equal,
    assert_close,
    dtype_name,
    mlx_bug,
    to_numpy,
)

# --------------------------------------------------------------------------------------
# operators

BINARY_OPERATORS = [
    ("add", operator.add, np.add),
    ("sub", operator.sub, np.subtract),
    ("mul", operator.mul, np.multiply),
    ("truediv", operator.truediv, np.true_divide),
    ("floordiv", operator.floordiv, np.floor_divide),
    ("mod", operator.mod, np.mod),
    ("pow", operator.pow, np.power),
    ("eq", operator.eq, np.equal),
    ("ne", operator.ne, np.not_equal),
    ("lt", operator.lt, np.less),
    ("le", operator.le, np.less_equal),
    ("gt", operator.gt, np.greater),
    ("ge", operator.ge, np.greater_equal),
    ("and", operator.and_, np.bitwise_and),
    ("or", operator.or_, np.bitwise_or),
    ("xor", operator.xor, np.bitwise_xor),
    ("lshift", operator.lshift, np.left_shift),
    ("rshift", operator.rshift, np.right_shift),
]

X = np.array([[4, 7, -3], [2, 9, 1]], dtype=np.int32)
Y = np.array([[1, 2, 3], [3, 1, 2]], dtype=np.int32)
XF = np.array([[4.5, 7.0, -3.25], [2.0, 9.5, 1.0]], dtype=np.float32)
YF = np.array([[1.5, 2.0, 3.0], [0.5, 1.0, 2.0]], dtype=np.float32)


@pytest.mark.parametrize(
    "name,op,ref", BINARY_OPERATORS, ids=[o[0] for o in BINARY_OPERATORS]
)
def test_binary_operator_array_array(device, name, op, ref):
    out = op(mx.array(X), mx.array(Y))
    expected = ref(X, Y)
    assert isinstance(out, mx.array)
    assert_close(out, expected.astype(to_numpy(out).dtype))
    if name not in ("and", "or", "xor", "lshift", "rshift"):
        with np.errstate(all="ignore"):
            expected = ref(XF, YF)
        assert_close(op(mx.array(XF), mx.array(YF)), expected)


@pytest.mark.parametrize(
    "name,op,ref", BINARY_OPERATORS, ids=[o[0] for o in BINARY_OPERATORS]
)
def test_binary_operator_with_python_scalar(device, name, op, ref):
    a = mx.array(X)
    out = op(a, 2)
    assert out.dtype == (
        mx.float32
        if name == "truediv"
        else mx.bool_
        if name in ("eq", "ne", "lt", "le", "gt", "ge")
        else mx.int32
    )
    assert_array_equal(out, ref(X, np.int32(2)).astype(to_numpy(out).dtype))


REFLECTED = [
    ("radd", operator.add, np.add),
    ("rsub", operator.sub, np.subtract),
    ("rmul", operator.mul, np.multiply),
    ("rtruediv", operator.truediv, np.true_divide),
    ("rfloordiv", operator.floordiv, np.floor_divide),
    ("rmod", operator.mod, np.mod),
    ("rpow", operator.pow, np.power),
    ("gt_as_rlt", operator.lt, np.less),
    ("eq_reflected", operator.eq, np.equal),
]


@pytest.mark.parametrize("name,op,ref", REFLECTED, ids=[o[0] for o in REFLECTED])
def test_reflected_operators(device, name, op, ref):
    for s in (3, 2.5):
        out = op(s, mx.array(Y))
        with np.errstate(all="ignore"):
            expected = ref(np.float32(s) if isinstance(s, float) else np.int32(s), Y)
        assert isinstance(out, mx.array)
        assert_close(out, expected.astype(to_numpy(out).dtype))


def test_reflected_bitwise_operators_are_not_defined():
    # MLX binds no __rand__, __ror__, __rxor__, __rlshift__, __rrshift__, __rmatmul__.
    a = mx.array([1, 2])
    for op in (
        operator.and_,
        operator.or_,
        operator.xor,
        operator.lshift,
        operator.rshift,
    ):
        with pytest.raises(TypeError):
            op(3, a)
    with pytest.raises(TypeError):
        [[1.0, 2.0]] @ mx.array([[1.0], [2.0]])
    with pytest.raises(TypeError):
        divmod(a, 2)


def test_div_aliases():
    a = mx.array([[1, 2], [3, 4]])
    assert a.__div__(2).tolist() == [[0.5, 1.0], [1.5, 2.0]]
    assert_close(a.__rdiv__(2), 2 / np.array([[1, 2], [3, 4]]))


def test_unary_operators(device):
    a = mx.array([-1, 2, -3])
    assert (-a).tolist() == [1, -2, 3]
    assert (+a).tolist() == [-1, 2, -3]
    assert abs(a).tolist() == [1, 2, 3]
    assert (~a).tolist() == [0, -3, 2]
    assert (~mx.array([True, False])).tolist() == [False, True]
    assert abs(mx.array([3 + 4j])).tolist() == [5.0]
    with pytest.raises(ValueError):
        -mx.array([True])
    with pytest.raises(ValueError):
        ~mx.array([1.0])


def test_bitwise_operators_on_floats_raise_value_error():
    # The operators raise ValueError; mx.bitwise_and and friends raise RuntimeError.
    with pytest.raises(ValueError):
        mx.array([1.0]) & mx.array([1.0])
    with pytest.raises(ValueError):
        mx.array([1.0]) | 1
    assert (mx.array([True, False]) & mx.array([True, True])).tolist() == [True, False]


def test_matmul_operator(device):
    a = mx.array([[1.0, 2.0], [3.0, 4.0]])
    assert (a @ a).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert (mx.array([1.0, 2.0]) @ mx.array([3.0, 4.0])).item() == 11.0


INPLACE = [
    ("iadd", operator.iadd, np.add),
    ("isub", operator.isub, np.subtract),
    ("imul", operator.imul, np.multiply),
    ("ifloordiv", operator.ifloordiv, np.floor_divide),
    ("imod", operator.imod, np.mod),
    ("ipow", operator.ipow, np.power),
    ("iand", operator.iand, np.bitwise_and),
    ("ior", operator.ior, np.bitwise_or),
    ("ixor", operator.ixor, np.bitwise_xor),
    ("ilshift", operator.ilshift, np.left_shift),
    ("irshift", operator.irshift, np.right_shift),
]


@pytest.mark.parametrize("name,op,ref", INPLACE, ids=[o[0] for o in INPLACE])
def test_inplace_operators(device, name, op, ref):
    a = mx.array(X)
    alias = a
    out = op(a, 2)
    # In-place operators update the object itself; other names see the new value.
    assert out is a and alias is a
    assert a.dtype == mx.int32
    assert_array_equal(a, ref(X, np.int32(2)))
    b = mx.array(X)
    b = op(b, mx.array(Y))
    assert_array_equal(b, ref(X, Y))


def test_inplace_truediv_and_promotion():
    f = mx.array([1.0, 3.0])
    g = f
    f /= 2
    assert g is f and f.tolist() == [0.5, 1.5]
    i = mx.array([1, 2])
    with pytest.raises(ValueError):
        i /= 2
    # MLX: an in-place op whose result promotes changes the array's dtype.
    h = mx.array([1, 2], mx.int8)
    h += 1.5
    assert h.dtype == mx.float32 and h.tolist() == [2.5, 3.5]
    m = mx.array([[1.0, 2.0], [3.0, 4.0]])
    m2 = m
    m @= mx.array([[0.0, 1.0], [1.0, 0.0]])
    assert m2 is m and m.tolist() == [[2.0, 1.0], [4.0, 3.0]]


def test_inplace_does_not_touch_other_arrays():
    a = mx.array([1, 2, 3])
    b = a[:]
    c = a + 0
    a += 10
    assert b.tolist() == [1, 2, 3] and c.tolist() == [1, 2, 3]


def test_comparison_with_non_arrays():
    a = mx.array([1, 2])
    # MLX: comparing with a list or str returns a Python bool, not an elementwise array.
    assert (a == [1, 2]) is False
    assert (a == "a") is False
    with pytest.raises(TypeError):
        _ = a == None  # noqa: E711
    assert 2 in a and 5 not in a


def test_numpy_on_the_left():
    # NumPy handles ndarray (op) mx.array itself and returns an ndarray.
    out = np.array([1.0, 2.0]) + mx.array([1.0, 1.0])
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 3.0]
    x = np.array([1.0, 2.0])
    x += mx.array([1.0, 1.0])
    assert x.tolist() == [2.0, 3.0]


# --------------------------------------------------------------------------------------
# properties


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_properties(dtype):
    a = mx.zeros((2, 3, 4), dtype)
    assert a.shape == (2, 3, 4) and isinstance(a.shape, tuple)
    assert a.ndim == 3 and a.size == 24
    assert a.dtype == dtype
    assert a.itemsize == dtype.size
    assert a.nbytes == 24 * dtype.size
    assert a.T.shape == (4, 3, 2)
    assert a[0].T.shape == (4, 3)
    s = mx.array(1, dtype)
    assert s.shape == () and s.ndim == 0 and s.size == 1 and s.T.shape == ()
    e = mx.zeros((3, 0), dtype)
    assert e.size == 0 and e.nbytes == 0 and e.T.shape == (0, 3)


def test_properties_are_read_only():
    a = mx.zeros((2,))
    for name in ("shape", "dtype", "ndim", "size", "itemsize", "nbytes"):
        with pytest.raises(AttributeError):
            setattr(a, name, 1)


def test_real_imag(device):
    z = mx.array([1 + 2j, -3.5 - 0.5j])
    assert z.real.dtype == mx.float32 and z.real.tolist() == [1.0, -3.5]
    assert z.imag.dtype == mx.float32 and z.imag.tolist() == [2.0, -0.5]
    r = mx.array([1, 2])
    # For real dtypes: real is the array, imag is zeros, both keep the dtype.
    assert r.real.dtype == mx.int32 and r.real.tolist() == [1, 2]
    assert r.imag.dtype == mx.int32 and r.imag.tolist() == [0, 0]
    assert z.T.real.tolist() == [1.0, -3.5]


# --------------------------------------------------------------------------------------
# item, tolist, Python scalars


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_item_and_tolist_types(dtype):
    with on_cpu_if_float64(dtype):
        a = mx.array([[1, 0], [2, 1]], dtype)
        kind = (
            bool
            if dtype == mx.bool_
            else int
            if dtype in INTS
            else complex
            if dtype == mx.complex64
            else float
        )
        v = a[1, 0].item()
        assert type(v) is kind
        lst = a.tolist()
        assert (
            isinstance(lst, list) and len(lst) == 2 and all(type(x) is kind for x in lst[0])
        )
        assert lst == np.array([[1, 0], [2, 1]]).astype(NP_DTYPE[dtype]).tolist()
        assert a.T.tolist() == np.array([[1, 0], [2, 1]]).T.astype(NP_DTYPE[dtype]).tolist()
        assert type(mx.array(1, dtype).tolist()) is kind


def test_item_values():
    assert mx.array(0.1, mx.float16).item() == float(np.float16(0.1))
    assert mx.array(0.1, mx.bfloat16).item() == 0.10009765625
    assert mx.array(2**40).item() == 2**40
    assert mx.array([[5]]).item() == 5
    assert mx.array(1j).item() == 1j
    with pytest.raises(ValueError):
        mx.array([1, 2]).item()


def test_tolist_shapes():
    assert mx.array(3).tolist() == 3
    assert mx.array([]).tolist() == []
    assert mx.zeros((2, 0)).tolist() == [[], []]
    assert mx.arange(6).reshape(3, 2)[::-1].tolist() == [[4, 5], [2, 3], [0, 1]]


def test_python_scalar_conversions():
    assert int(mx.array(2.7)) == 2
    assert float(mx.array(2)) == 2.0
    assert complex(mx.array(1j)) == 1j
    assert int(mx.array([5])) == 5
    assert bool(mx.array(1)) is True and bool(mx.array([0])) is False
    assert [10, 20, 30][mx.array(1)] == 20  # __index__
    for f in (int, float, bool):
        with pytest.raises(ValueError):
            f(mx.array([1, 2]))
    with pytest.raises(ValueError):
        bool(mx.array([]))
    with pytest.raises(TypeError):
        float(mx.array(1j))


def test_format():
    assert f"{mx.array(1.5):.3f}" == "1.500"
    assert f"{mx.array(3):d}" == "3"
    assert f"{mx.array([1, 2])}" == "array([1, 2], dtype=int32)"
    with pytest.raises(TypeError):
        f"{mx.array([1.5]):.2f}"


def test_iteration():
    a = mx.arange(6).reshape(3, 2)
    rows = list(a)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert [r.tolist() for r in reversed(a)] == [[4, 5], [2, 3], [0, 1]]
    assert len(a) == 3


# --------------------------------------------------------------------------------------
# NumPy interop and the buffer protocol


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize(
    "dtype", [d for d in ALL_DTYPES if d != mx.bfloat16], ids=dtype_name
)
def test_numpy_conversion(dtype):
    with on_cpu_if_float64(dtype):
        x = (np.arange(6).reshape(2, 3) % 4).astype(NP_DTYPE[dtype])
        a = mx.array(x, dtype)
        for y in (np.array(a), np.asarray(a), a.__array__()):
            assert y.dtype == NP_DTYPE[dtype] and y.shape == (2, 3)
            np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(np.array(a.T), x.T)
        np.testing.assert_array_equal(np.array(a[:, ::-2]), x[:, ::-2])
        np.testing.assert_array_equal(np.array(a, dtype=np.float64), x.astype(np.float64))
        assert np.array(mx.array(3.5)).shape == ()


def test_numpy_conversion_bfloat16():
    # NumPy has no bfloat16: MLX raises ValueError ("'bfloat16' is not a valid PEP 3118
    # buffer format string"); convert through float32.
    a = mx.array([1.5, 2.0], mx.bfloat16)
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        np.array(a)
    assert np.array(a.astype(mx.float32)).tolist() == [1.5, 2.0]


def test_numpy_copy_is_independent():
    a = mx.array([1.0, 2.0])
    y = np.array(a)
    y[0] = 100.0
    assert a.tolist() == [1.0, 2.0]


BUFFER_FORMATS = {
    mx.bool_: "?",
    mx.uint8: "B",
    mx.uint16: "H",
    mx.uint32: "I",
    mx.uint64: "Q",
    mx.int8: "b",
    mx.int16: "h",
    mx.int32: "i",
    mx.int64: "q",
    mx.float16: "e",
    mx.float32: "f",
    mx.float64: "d",
    mx.complex64: "Zf",
}


@pytest.mark.parametrize("dtype", list(BUFFER_FORMATS), ids=dtype_name)
def test_buffer_protocol(dtype):
    with on_cpu_if_float64(dtype):
        a = mx.array([[1, 0, 1], [0, 1, 1]], dtype)
        m = memoryview(a)
        assert m.format == BUFFER_FORMATS[dtype]
        assert m.shape == (2, 3)
        assert m.itemsize == dtype.size
        assert m.strides == (3 * dtype.size, dtype.size)
        if dtype not in (mx.float16, mx.complex64):
            assert m.tolist() == a.tolist()
        t = memoryview(a.T)
        assert t.shape == (3, 2)
        np.testing.assert_array_equal(np.asarray(t), np.array(a).T)


def test_buffer_protocol_bytes():
    assert bytes(mx.array([1, 2], mx.uint8)) == b"\x01\x02"
    assert np.frombuffer(mx.array([1, 2], mx.int16), dtype=np.int16).tolist() == [1, 2]
    assert memoryview(mx.array([1.0], mx.bfloat16)).shape == (1,)


def test_dlpack():
    a = mx.array([[1, 2], [3, 4]])
    assert a.__dlpack_device__()[0] == 1  # kDLCPU
    np.testing.assert_array_equal(np.from_dlpack(a), [[1, 2], [3, 4]])
    assert a.__array_namespace__() is mx


# --------------------------------------------------------------------------------------
# repr / str

REPRS = [
    (
        lambda: mx.array([[1, 2], [3, 4]]),
        "array([[1, 2],\n       [3, 4]], dtype=int32)",
    ),
    (lambda: mx.array(1.0), "array(1, dtype=float32)"),
    (lambda: mx.array(0.1), "array(0.1, dtype=float32)"),
    (lambda: mx.array([1.0, 2.5, -3.25]), "array([1, 2.5, -3.25], dtype=float32)"),
    (lambda: mx.array([1e-5, 1e5]), "array([1e-05, 100000], dtype=float32)"),
    (lambda: mx.array([1e10]), "array([1e+10], dtype=float32)"),
    (lambda: mx.array([1.0 / 3.0]), "array([0.333333], dtype=float32)"),
    (lambda: mx.array([123456789.0]), "array([1.23457e+08], dtype=float32)"),
    (
        lambda: mx.array([1.0, float("nan"), float("inf"), -float("inf")]),
        "array([1, nan, inf, -inf], dtype=float32)",
    ),
    (lambda: mx.array(-0.0), "array(-0, dtype=float32)"),
    (lambda: mx.array([0.1], mx.float16), "array([0.0999756], dtype=float16)"),
    (lambda: mx.array([0.1], mx.bfloat16), "array([0.100098], dtype=bfloat16)"),
    (lambda: mx.array([0.1], mx.float64), "array([0.1], dtype=float64)"),
    (
        lambda: mx.array([[1.5 + 2j, 1 - 1j]]),
        "array([[1.5+2j, 1-1j]], dtype=complex64)",
    ),
    (lambda: mx.array(True), "array(True, dtype=bool)"),
    (lambda: mx.array([True, False]), "array([True, False], dtype=bool)"),
    (lambda: mx.array([255], mx.uint8), "array([255], dtype=uint8)"),
    (lambda: mx.array([-1], mx.int64), "array([-1], dtype=int64)"),
    (lambda: mx.zeros((0,)), "array([], dtype=float32)"),
    (lambda: mx.zeros((2, 0)), "array([[],\n       []], dtype=float32)"),
    (lambda: mx.arange(6), "array([0, 1, 2, 3, 4, 5], dtype=int32)"),
    # More than 6 entries along an axis: the first 3, "...", the last 3.
    (lambda: mx.arange(7), "array([0, 1, 2, ..., 4, 5, 6], dtype=int32)"),
    (lambda: mx.arange(2000), "array([0, 1, 2, ..., 1997, 1998, 1999], dtype=int32)"),
    (
        lambda: mx.arange(14).reshape(2, 7),
        "array([[0, 1, 2, ..., 4, 5, 6],\n"
        "       [7, 8, 9, ..., 11, 12, 13]], dtype=int32)",
    ),
    (
        lambda: mx.arange(7).reshape(7, 1),
        "array([[0],\n       [1],\n       [2],\n       ...,\n       [4],\n       [5],\n"
        "       [6]], dtype=int32)",
    ),
    (
        lambda: mx.arange(24).reshape(2, 3, 4),
        "array([[[0, 1, 2, 3],\n        [4, 5, 6, 7],\n        [8, 9, 10, 11]],\n"
        "       [[12, 13, 14, 15],\n        [16, 17, 18, 19],\n"
        "        [20, 21, 22, 23]]], "
        "dtype=int32)",
    ),
    (
        lambda: mx.arange(12, dtype=mx.float32).reshape(3, 4) / 7,
        "array([[0, 0.142857, 0.285714, 0.428571],\n"
        "       [0.571429, 0.714286, 0.857143, 1],\n"
        "       [1.14286, 1.28571, 1.42857, 1.57143]], dtype=float32)",
    ),
    (
        lambda: mx.arange(6).reshape(2, 3).T,
        "array([[0, 3],\n       [1, 4],\n       [2, 5]], dtype=int32)",
    ),
]


@pytest.mark.parametrize("make,text", REPRS, ids=[str(i) for i in range(len(REPRS))])
def test_repr_and_str(make, text):
    a = make()
    assert repr(a) == text
    # str is the same as repr in MLX.
    assert str(a) == text


def test_repr_nan_sign():
    # MLX prints a NaN with its sign bit set as "-nan" (C++ stream formatting).
    assert repr(mx.array(float("nan"))) == "array(nan, dtype=float32)"
    assert repr(-mx.array(float("nan"))) == "array(-nan, dtype=float32)"


def test_printoptions():
    with mx.printoptions(precision=2):
        assert repr(mx.array([1 / 3, 2 / 3])) == "array([0.33, 0.67], dtype=float32)"
    assert repr(mx.array([1 / 3])) == "array([0.333333], dtype=float32)"


# --------------------------------------------------------------------------------------
# pickle, copy, astype, view


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_pickle_roundtrip(dtype):
    with on_cpu_if_float64(dtype):
        mlx_bug(
            dtype == mx.float64,
            "a float64 array unpickles as float32 (__setstate__ goes "
            "through the float64 -> float32 default of NumPy input)",
        )
        for a in (
            mx.array([[1, 0, 2], [3, 1, 0]], dtype),
            mx.array(1, dtype),
            mx.array([[1, 0, 2], [3, 1, 0]], dtype).T,
            mx.zeros((0, 2), dtype),
        ):
            b = pickle.loads(pickle.dumps(a))
            assert isinstance(b, mx.array)
            assert b.dtype == dtype and b.shape == a.shape
            assert b.tolist() == a.tolist()


def test_copy_and_deepcopy():
    a = mx.array([[1, 2], [3, 4]])
    for f in (copy.copy, copy.deepcopy):
        b = f(a)
        assert b is not a and b.tolist() == a.tolist() and b.dtype == a.dtype
        b[0, 0] = 100
        assert a.tolist() == [[1, 2], [3, 4]]
    nested = {"w": [mx.array([1.0])]}
    c = copy.deepcopy(nested)
    assert c["w"][0] is not nested["w"][0] and c["w"][0].tolist() == [1.0]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_astype_method(dtype):
    a = mx.array([[1, 2], [3, 0]])
    with on_cpu_if_float64(dtype):
        b = a.astype(dtype)
        assert b.dtype == dtype and b.shape == (2, 2)
        assert_array_equal(b, np.array([[1, 2], [3, 0]]).astype(NP_DTYPE[dtype]))
        assert a.dtype == mx.int32
        assert mx.astype(a, dtype).dtype == dtype
        assert a.T.astype(dtype).tolist() == b.T.tolist()
    with pytest.raises(TypeError):
        a.astype("float32")


VIEWS = [
    (np.array([1.0, -2.5], np.float32), mx.float32, mx.int32, np.int32),
    (np.array([1.0, -2.5], np.float32), mx.float32, mx.uint32, np.uint32),
    (np.array([1, 256, -1], np.int16), mx.int16, mx.uint8, np.uint8),
    (np.array([1, 0, 0, 0, 2, 1, 0, 0], np.uint8), mx.uint8, mx.int32, np.int32),
    (np.array([[1, 0, 3, 0], [5, 6, 0, 1]], np.uint8), mx.uint8, mx.int16, np.int16),
    (np.array([1.5, -0.0], np.float16), mx.float16, mx.int16, np.int16),
    (np.array([1, 0], np.uint8), mx.uint8, mx.bool_, np.bool_),
    (np.array([1.5, 2.0], np.float64), mx.float64, mx.int64, np.int64),
    (np.array([1 + 2j], np.complex64), mx.complex64, mx.float32, np.float32),
]


@pytest.mark.parametrize(
    "x,src,dst,npdst",
    VIEWS,
    ids=[f"{dtype_name(v[1])}-{dtype_name(v[2])}" for v in VIEWS],
)
def test_view(x, src, dst, npdst):
    with on_cpu_if_float64(src, dst):
        a = mx.array(x, src)
        v = a.view(dst)
        assert v.dtype == dst
        expected = x.view(npdst)
        assert v.shape == expected.shape
        assert v.tolist() == expected.tolist()
        assert mx.view(a, dst).tolist() == expected.tolist()


def test_view_errors_and_layouts():
    with pytest.raises(ValueError, match=r"\[view\]"):
        mx.array([1, 0, 0], mx.uint8).view(mx.int32)
    with pytest.raises(ValueError, match=r"\[view\]"):
        mx.array(1, mx.int8).view(mx.int16)
    assert mx.array(1.0).view(mx.int32).item() == 1065353216
    # A non-contiguous array is viewed through its logical (row-major) order.
    x = np.arange(8, dtype=np.int16).reshape(2, 4)
    v = mx.array(x).T.view(mx.int8)
    np.testing.assert_array_equal(np.array(v), np.ascontiguousarray(x.T).view(np.int8))


# --------------------------------------------------------------------------------------
# properties


@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
        elements=st.floats(-1e6, 1e6, width=32),
    )
)
def test_property_numpy_roundtrip(x):
    a = mx.array(x)
    np.testing.assert_array_equal(np.array(a), x)
    np.testing.assert_array_equal(np.array(pickle.loads(pickle.dumps(a))), x)
    assert a.tolist() == x.tolist()


@given(
    hnp.arrays(
        np.int32,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
        elements=st.integers(-1000, 1000),
    ),
    st.sampled_from(["add", "sub", "mul", "floordiv", "mod"]),
    st.integers(1, 50),
)
def test_property_operators_match_numpy(x, name, s):
    op = getattr(operator, name)
    a = mx.array(x)
    assert_array_equal(op(a, s), op(x, np.int32(s)))
    assert_array_equal(op(a.T, s), op(x.T, np.int32(s)))
    b = mx.array(x)
    b = getattr(operator, "i" + name)(b, s)
    assert_array_equal(b, op(x, np.int32(s)))
