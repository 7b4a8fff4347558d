"""Array creation: mx.array from scalars, nested lists, NumPy arrays of every dtype and
other arrays; asarray; zeros, ones, full, *_like, empty; arange, linspace, eye,
identity, tri, tril, triu, meshgrid."""

import math

import mlx.core as mx
import numpy as np
import pytest
from conftest import on_cpu_if_float64
from hypothesis import given
from hypothesis import strategies as st
from op_descriptions import (
    ALL_DTYPES,
    INTS,
    NP_DTYPE,
    assert_array_equal,
    assert_close,
    device_dtypes,
    dtype_name,
    mlx_bug,
    to_numpy,
)


def _skip_unavailable(device, dtype):
    if dtype not in device_dtypes(device):
        pytest.skip(f"{dtype_name(dtype)} is CPU only")


# --------------------------------------------------------------------------------------
# mx.array from Python values


@pytest.mark.parametrize(
    "value,dtype",
    [
        (True, mx.bool_),
        (False, mx.bool_),
        (0, mx.int32),
        (-5, mx.int32),
        (2**31 - 1, mx.int32),
        # Python ints outside int32 give int64.
        (2**31, mx.int64),
        (-(2**31) - 1, mx.int64),
        (2**40, mx.int64),
        (1.5, mx.float32),
        (float("inf"), mx.float32),
        (1 + 2j, mx.complex64),
    ],
)
def test_array_from_python_scalar(value, dtype):
    a = mx.array(value)
    assert a.dtype == dtype
    assert a.shape == () and a.ndim == 0 and a.size == 1
    assert a.item() == value


@pytest.mark.parametrize(
    "value,dtype",
    [
        ([1, 2, 3], mx.int32),
        ([1.0, 2, 3], mx.float32),
        ([True, False], mx.bool_),
        # Mixed lists promote: bool < int < float < complex.
        ([True, 2], mx.int32),
        ([True, 1, 2.5], mx.float32),
        ([1, 2j], mx.complex64),
        ([1, 2**40], mx.int64),
        ((1, 2), mx.int32),
        (((1, 2), [3, 4]), mx.int32),
        ([[1.5, 2], [3, 4]], mx.float32),
        ([], mx.float32),
        ([[], []], mx.float32),
        ([[[1]], [[2]]], mx.int32),
    ],
)
def test_array_from_nested_lists(value, dtype):
    a = mx.array(value)
    assert a.dtype == dtype
    expected = np.array(value)
    assert a.shape == expected.shape
    assert a.tolist() == expected.tolist()


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_array_from_list_with_dtype(device, dtype):
    _skip_unavailable(device, dtype)
    values = [[0, 1, 2], [3, 1, 0]]
    a = mx.array(values, dtype)
    assert a.dtype == dtype and a.shape == (2, 3)
    assert_array_equal(a, np.array(values).astype(NP_DTYPE[dtype]))
    a = mx.array(values, dtype=dtype)
    assert a.dtype == dtype
    s = mx.array(1, dtype)
    assert s.dtype == dtype and s.shape == ()


def test_array_conversions_with_dtype():
    # Floats to integers truncate toward zero; nonzero values become True.
    assert mx.array([1.7, -1.7], mx.int32).tolist() == [1, -1]
    assert mx.array([0, 1, 2], mx.bool_).tolist() == [False, True, True]
    assert mx.array(1.5, mx.float16).item() == 1.5
    assert mx.array(1e40, mx.float16).item() == math.inf
    # MLX: a complex value with a real dtype keeps the real part.
    assert mx.array(1 + 2j, mx.float32).item() == 1.0


@pytest.mark.parametrize(
    "np_dtype,dtype",
    [
        (np.bool_, mx.bool_),
        (np.uint8, mx.uint8),
        (np.uint16, mx.uint16),
        (np.uint32, mx.uint32),
        (np.uint64, mx.uint64),
        (np.int8, mx.int8),
        (np.int16, mx.int16),
        (np.int32, mx.int32),
        (np.int64, mx.int64),
        (np.float16, mx.float16),
        (np.float32, mx.float32),
        # MLX: float64 NumPy data becomes float32 unless float64 is asked for.
        (np.float64, mx.float32),
        (np.complex64, mx.complex64),
        (np.complex128, mx.complex64),
    ],
)
def test_array_from_numpy(np_dtype, dtype):
    x = (np.arange(12).reshape(3, 4) % 5).astype(np_dtype)
    a = mx.array(x)
    assert a.dtype == dtype and a.shape == (3, 4)
    assert_array_equal(a, x.astype(to_numpy(a).dtype))
    # 0-d arrays and NumPy scalars.
    s = mx.array(x[1, 2])
    assert s.shape == () and s.dtype == dtype
    s = mx.array(np.array(x[1, 2]))
    assert s.shape == () and s.dtype == dtype
    assert mx.array(x, dtype=mx.float16).dtype == mx.float16


def test_array_from_numpy_keeps_float64_when_asked():
    x = np.array([1.0 / 3.0, 2.5])
    a = mx.array(x, dtype=mx.float64)
    assert a.dtype == mx.float64
    np.testing.assert_array_equal(np.array(a), x)
    assert mx.array(x).dtype == mx.float32


def test_array_from_numpy_layouts():
    x = np.arange(24).reshape(4, 6)
    assert_array_equal(mx.array(x[:, ::2]), x[:, ::2])
    assert_array_equal(mx.array(x.T), x.T)
    assert_array_equal(mx.array(x[1:3, 2:5]), x[1:3, 2:5])
    assert_array_equal(mx.array(np.zeros((3, 0, 2))), np.zeros((3, 0, 2)))
    assert_array_equal(
        mx.array(np.broadcast_to(np.arange(3), (2, 3))),
        np.broadcast_to(np.arange(3), (2, 3)),
    )
    # MLX rejects NumPy views with negative strides (ValueError).
    with pytest.raises(ValueError):
        mx.array(x[::-1])


def test_array_is_a_copy_of_numpy_data():
    x = np.arange(4, dtype=np.float32)
    a = mx.array(x)
    x[0] = 100
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_array_from_buffer_protocol():
    assert mx.array(memoryview(np.array([1.0, 2.0], np.float32))).tolist() == [1.0, 2.0]
    a = mx.array(b"abc")
    assert a.dtype == mx.uint8 and a.tolist() == [97, 98, 99]


def test_array_from_arrays():
    a = mx.array([1, 2, 3])
    b = mx.array(a)
    assert b.dtype == mx.int32 and b.tolist() == [1, 2, 3]
    assert mx.array(a, mx.float16).dtype == mx.float16
    assert mx.array(a, dtype=mx.complex64).tolist() == [1 + 0j, 2 + 0j, 3 + 0j]
    # Lists of arrays stack; dtypes promote.
    c = mx.array([mx.array([1, 2]), mx.array([3, 4])])
    assert c.shape == (2, 2) and c.dtype == mx.int32
    assert mx.array([mx.array(1, mx.int8), mx.array(2.5)]).dtype == mx.float32
    assert (
        mx.array([mx.array([1], mx.int32), mx.array([2], mx.float16)]).dtype
        == mx.float16
    )
    assert mx.array([mx.array(1.5), 2]).tolist() == [1.5, 2.0]
    # Lazy inputs are fine.
    d = mx.array([mx.array(1) + 1, mx.exp(mx.array(0.0))])
    assert d.tolist() == [2.0, 1.0]


@pytest.mark.parametrize(
    "value",
    [
        [[1, 2], [3]],
        [[1, 2], 3],
        [[[1], [2]], [[3], 4]],
        [[1, 2], [3, 4, 5]],
        [mx.array([1, 2]), mx.array([3])],
    ],
)
def test_ragged_lists_raise_value_error(value):
    with pytest.raises(ValueError):
        mx.array(value)


@pytest.mark.parametrize("value", ["abc", [1, "a"], {1: 2}, {1, 2}, object(), range(3)])
def test_invalid_values_raise_value_error(value):
    with pytest.raises(ValueError):
        mx.array(value)


def test_invalid_values_do_not_crash():
    with pytest.raises(TypeError):
        mx.array(None)
    # MLX raises RuntimeError("std::bad_cast") for these; they must raise, not crash.
    for v in [
        np.array(["a"]),
        np.array([1, "a"], object),
        np.array([1, 2], ">i4"),
        2**64,
        [1, 2**40 * 2**30],
    ]:
        with pytest.raises((ValueError, TypeError, RuntimeError, OverflowError)):
            mx.array(v)


def test_scalar_overflow_in_explicit_dtype():
    # In a list with an explicit dtype, MLX wraps integers modulo 2**bits ...
    assert mx.array([300], mx.uint8).tolist() == [44]
    assert mx.array([-1], mx.uint8).tolist() == [255]
    # ... while weak Python scalars in arithmetic must fit (ValueError; test_dtypes).
    with pytest.raises(ValueError):
        mx.zeros((1,), mx.uint8) + 256


def test_asarray():
    a = mx.asarray([1, 2])
    assert isinstance(a, mx.array) and a.dtype == mx.int32
    assert mx.asarray([1, 2], dtype=mx.float16).dtype == mx.float16
    assert mx.asarray(np.array([1.0, 2.0])).dtype == mx.float32
    b = mx.asarray(a)
    assert b.tolist() == [1, 2] and b.dtype == mx.int32
    assert mx.asarray(3.5).item() == 3.5


# --------------------------------------------------------------------------------------
# zeros, ones, full, *_like, empty


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_zeros_ones_full(device, dtype):
    _skip_unavailable(device, dtype)
    npdt = NP_DTYPE[dtype]
    for shape in [(), 3, (2, 3), [2, 0], (1, 2, 1, 2)]:
        z = mx.zeros(shape, dtype)
        o = mx.ones(shape, dtype=dtype)
        npshape = (shape,) if isinstance(shape, int) else tuple(shape)
        assert z.dtype == dtype and z.shape == npshape
        assert o.dtype == dtype and o.shape == npshape
        assert_array_equal(z, np.zeros(npshape, npdt))
        assert_array_equal(o, np.ones(npshape, npdt))
        # (A weak 1 with dtype bool_ trips the mx.full bug in test_full_dtype_argument.)
        f = mx.full(shape, True if dtype == mx.bool_ else 1, dtype)
        assert f.dtype == dtype
        assert_array_equal(f, np.ones(npshape, npdt))


def test_default_dtypes():
    assert mx.zeros((2,)).dtype == mx.float32
    assert mx.ones(2).dtype == mx.float32
    assert mx.full((2,), 3).dtype == mx.int32
    assert mx.full((2,), 3.5).dtype == mx.float32
    assert mx.full((2,), True).dtype == mx.bool_
    assert mx.full((2,), 1 + 2j).dtype == mx.complex64
    assert mx.full(3, 1.0).shape == (3,)


def test_full_with_array_value(device):
    out = mx.full((2, 3), mx.array([1, 2, 3]))
    assert out.dtype == mx.int32 and out.tolist() == [[1, 2, 3]] * 2
    out = mx.full((2, 3), mx.array([[1.5], [2.5]]))
    assert out.dtype == mx.float32 and out.tolist() == [[1.5] * 3, [2.5] * 3]
    with pytest.raises(ValueError):
        mx.full((2, 3), mx.array([1, 2]))


def test_full_dtype_argument():
    assert mx.full((2,), 3, mx.float16).dtype == mx.float16
    assert mx.full((2,), True, mx.int32).tolist() == [1, 1]
    mlx_bug(
        True,
        "mx.full(shape, 3.7, mx.int32) returns float32 and mx.full(shape, 2, "
        "mx.bool_) int32: the dtype argument is promoted with the value's type instead "
        "of being the output dtype",
    )
    assert mx.full((2,), 3.7, mx.int32).dtype == mx.int32
    assert mx.full((2,), 2, mx.bool_).dtype == mx.bool_
    assert mx.full((2,), mx.array([1.5, 2.5]), mx.float16).dtype == mx.float16


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_like_functions(device, dtype):
    _skip_unavailable(device, dtype)
    a = mx.zeros((2, 3), dtype).T
    for f, v in [(mx.zeros_like, 0), (mx.ones_like, 1)]:
        out = f(a)
        assert out.dtype == dtype and out.shape == (3, 2)
        assert_array_equal(out, np.full((3, 2), v, NP_DTYPE[dtype]))
    out = mx.full_like(a, 1)
    assert out.dtype == dtype and out.shape == (3, 2)
    assert mx.empty_like(a).shape == (3, 2) and mx.empty_like(a).dtype == dtype
    assert mx.zeros_like(a, dtype=mx.float16).dtype == mx.float16


def test_full_like_and_empty():
    # full_like keeps the array's dtype: 2.5 becomes 2 in an int32 array.
    out = mx.full_like(mx.array([1, 2]), 2.5)
    assert out.dtype == mx.int32 and out.tolist() == [2, 2]
    assert mx.full_like(mx.array([1, 2]), 2.5, dtype=mx.float16).tolist() == [2.5, 2.5]
    e = mx.empty((2, 3))
    assert e.shape == (2, 3) and e.dtype == mx.float32
    assert mx.empty((2,), dtype=mx.int8).dtype == mx.int8


def test_creation_errors():
    with pytest.raises(ValueError, match=r"\[full\]"):
        mx.zeros((-1, 2))
    with pytest.raises(ValueError):
        mx.ones((2, -3))
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        mx.zeros((2.0,))


# --------------------------------------------------------------------------------------
# arange, linspace


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((5,), {}),
        ((2, 7), {}),
        ((2, 10, 3), {}),
        ((5, 0, -2), {}),
        ((5, 2), {}),
        ((0, 0), {}),
        ((0.5, 2.0, 0.5), {}),
        ((3.0,), {}),
        ((0, 1, 0.1), {}),
        ((-3, 3, 0.7), {}),
        ((1, -1, -0.25), {}),
        ((), {"start": 1, "stop": 4, "step": 1}),
        ((), {"stop": 4}),
        ((5,), {"dtype": mx.float16}),
        ((3,), {"dtype": mx.int64}),
        ((3,), {"dtype": mx.uint8}),
        ((0, 1, 0.25), {"dtype": mx.float64}),
        ((3,), {"dtype": mx.complex64}),
        # As in NumPy, the length comes from the float arguments, the values from the
        # integer-cast start and step.
        ((0, 2, 0.5), {"dtype": mx.int32}),
        ((0.5, 3), {"dtype": mx.int32}),
    ],
)
def test_arange(args, kwargs):
    with on_cpu_if_float64(kwargs.get("dtype")):
        a = mx.arange(*args, **kwargs)
        npkw = {k: v for k, v in kwargs.items() if k != "dtype"}
        expected = np.arange(*args, **npkw)
        if "dtype" in kwargs:
            assert a.dtype == kwargs["dtype"]
            expected = np.arange(*args, **npkw, dtype=NP_DTYPE[kwargs["dtype"]])
        else:
            is_float = any(isinstance(v, float) for v in list(args) + list(npkw.values()))
            assert a.dtype == (mx.float32 if is_float else mx.int32)
        assert a.shape == expected.shape
        assert_close(a, expected, rtol=1e-6, atol=1e-6)


def test_arange_large_and_errors():
    a = mx.arange(2**31, 2**31 + 3)
    assert a.dtype == mx.int64 and a.tolist() == [2**31, 2**31 + 1, 2**31 + 2]
    with pytest.raises(ValueError, match=r"\[arange\]"):
        mx.arange(0, 5, 0)
    with pytest.raises(ValueError):
        mx.arange(3, dtype=mx.bool_)


@pytest.mark.parametrize(
    "start,stop,num,dtype",
    [
        (0, 1, 5, None),
        (1, 0, 3, None),
        (-2.5, 7.5, 11, None),
        (2, 3, 1, None),
        (2, 3, 0, None),
        (0, 1, 3, mx.float16),
        (0, 1, 7, mx.float64),
        (0, 1, 4, mx.bfloat16),
        (0, 10, 4, mx.int32),
        (0, -10, 4, mx.int32),
    ],
)
def test_linspace(start, stop, num, dtype):
    with on_cpu_if_float64(dtype):
        a = (
            mx.linspace(start, stop, num)
            if dtype is None
            else mx.linspace(start, stop, num, dtype=dtype)
        )
        assert a.dtype == (dtype or mx.float32)
        expected = np.linspace(start, stop, num)
        if dtype is not None and dtype in INTS:
            expected = expected.astype(np.int32)  # truncation, as in NumPy
        assert a.shape == (num,)
        if a.dtype in (mx.float32, mx.float64):
            assert_close(a, expected, rtol=1e-6, atol=1e-6)
        else:
            assert_close(a, expected)


def test_linspace_defaults_and_errors():
    assert mx.linspace(0, 1).shape == (50,)
    with pytest.raises(ValueError, match=r"\[linspace\]"):
        mx.linspace(0, 1, -1)


# --------------------------------------------------------------------------------------
# eye, identity, tri, tril, triu, meshgrid


@pytest.mark.parametrize(
    "n,m,k",
    [
        (3, None, 0),
        (2, 3, 1),
        (3, 2, -1),
        (4, 4, 2),
        (3, 3, 5),
        (3, 3, -5),
        (0, None, 0),
        (1, None, 0),
    ],
)
@pytest.mark.parametrize("dtype", [None, mx.int32, mx.bool_, mx.float16, mx.complex64])
def test_eye_and_tri(n, m, k, dtype):
    kw = {} if dtype is None else {"dtype": dtype}
    e = mx.eye(n, m, k, **kw)
    t = mx.tri(n, m, k, **kw)
    npdt = np.float32 if dtype is None else NP_DTYPE[dtype]
    assert e.dtype == (dtype or mx.float32) and t.dtype == (dtype or mx.float32)
    assert_array_equal(e, np.eye(n, m, k, dtype=npdt))
    assert_array_equal(t, np.tri(n, m, k, dtype=npdt))
    if m is None and k == 0:
        i = mx.identity(n, **kw)
        assert_array_equal(i, np.identity(n, dtype=npdt))


def test_tri_keywords_and_errors():
    assert_array_equal(mx.tri(3, m=2, k=-1), np.tri(3, 2, -1, dtype=np.float32))
    assert_array_equal(mx.eye(3, k=-1, dtype=mx.int32), np.eye(3, k=-1, dtype=np.int32))
    with pytest.raises(ValueError, match=r"\[eye\]"):
        mx.eye(-1)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("k", [0, 1, -1, 3, -4])
def test_tril_triu(device, rng, dtype, k):
    _skip_unavailable(device, dtype)
    x = rng.integers(1, 5, size=(2, 3, 4)).astype(NP_DTYPE[dtype])
    a = mx.array(x, dtype) if dtype != mx.bfloat16 else mx.array(x).astype(mx.bfloat16)
    for f, g in [(mx.tril, np.tril), (mx.triu, np.triu)]:
        out = f(a, k)
        assert out.dtype == dtype
        assert_array_equal(out, g(x, k))
        assert_array_equal(f(mx.swapaxes(a, 1, 2), k=k), g(np.swapaxes(x, 1, 2), k))
    with pytest.raises(ValueError, match=r"\[triu\]"):
        mx.triu(mx.ones((3,)))


def test_meshgrid():
    x, y = np.arange(2), np.arange(3)
    for indexing in ("xy", "ij"):
        out = mx.meshgrid(mx.array(x), mx.array(y), indexing=indexing)
        for o, e in zip(out, np.meshgrid(x, y, indexing=indexing)):
            assert_array_equal(o, e.astype(np.int32))


@pytest.mark.parametrize("name", ["zeros", "ones", "arange", "eye", "full", "linspace"])
def test_creation_on_device(device, name):
    f = {
        "zeros": lambda s: mx.zeros((2,), stream=s),
        "ones": lambda s: mx.ones((2,), stream=s),
        "arange": lambda s: mx.arange(2, stream=s),
        "eye": lambda s: mx.eye(2, stream=s),
        "full": lambda s: mx.full((2,), 1.0, stream=s),
        "linspace": lambda s: mx.linspace(0, 1, 2, stream=s),
    }[name]
    mx.eval(f(device))
    mx.eval(f(mx.default_stream(device)))


# --------------------------------------------------------------------------------------
# properties


@given(
    st.recursive(
        st.integers(-(2**31), 2**31 - 1)
        | st.floats(-1e30, 1e30, allow_nan=False)
        | st.booleans(),
        lambda children: st.integers(1, 3).flatmap(
            lambda n: st.lists(children, min_size=n, max_size=n)
        ),
        max_leaves=12,
    )
)
def test_property_nested_list_matches_numpy(value):
    """mx.array(nested list) has NumPy's shape; its values survive a round trip."""
    try:
        expected = np.array(value)
    except ValueError:
        with pytest.raises(ValueError):
            mx.array(value)
        return
    if expected.dtype == object:
        with pytest.raises(ValueError):
            mx.array(value)
        return
    a = mx.array(value)
    assert a.shape == expected.shape
    if expected.dtype.kind == "f":
        assert a.dtype == mx.float32
        np.testing.assert_allclose(np.array(a), expected.astype(np.float32), rtol=1e-7)
    elif expected.dtype.kind == "b":
        assert a.dtype == mx.bool_
        assert a.tolist() == expected.tolist()
    else:
        assert a.dtype == mx.int32
        assert a.tolist() == expected.tolist()


@given(
    st.integers(-50, 50),
    st.integers(-50, 50),
    st.integers(-7, 7).filter(lambda s: s != 0),
)
def test_property_arange_matches_numpy(start, stop, step):
    assert (
        mx.arange(start, stop, step).tolist() == np.arange(start, stop, step).tolist()
    )
