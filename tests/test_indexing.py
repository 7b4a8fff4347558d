"""Indexing: __getitem__ with ints, slices (steps, negative), None, Ellipsis, integer
arrays and lists; __setitem__ incl. boolean masks; a.at[...] updates; take,
take_along_axis, put_along_axis, slice, slice_update; errors; hypothesis properties."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_descriptions import (
    ALL_DTYPES,
    ANY,
    Domain,
    assert_array_equal,
    assert_close,
    device_dtypes,
    dtype_name,
    is_reference_mlx,
    make_input,
    mlx_bug,
    to_numpy,
)

# Index expressions as functions of an array constructor, so MLX gets mx.array indices
# and NumPy np.array ones. Applied to an array of shape (4, 5, 6).
GET_CASES = [
    ("int", lambda A: 1),
    ("neg_int", lambda A: -1),
    ("int_int", lambda A: (2, -3)),
    ("int_int_int", lambda A: (0, 1, 2)),
    ("slice", lambda A: slice(1, 3)),
    ("slice_step", lambda A: slice(None, None, 2)),
    ("slice_neg_step", lambda A: slice(None, None, -1)),
    ("slice_neg_step2", lambda A: (slice(3, 0, -2), slice(None, None, -3))),
    ("slice_neg_bounds", lambda A: (slice(-3, -1), slice(-100, 100))),
    ("slice_empty", lambda A: slice(3, 1)),
    ("slice_oob", lambda A: slice(10, 20)),
    ("slices_mixed", lambda A: (slice(1, None), 2, slice(None, None, 2))),
    ("none", lambda A: None),
    ("none_middle", lambda A: (slice(None), None, 1)),
    ("none_many", lambda A: (None, 0, None, slice(None), None)),
    ("ellipsis", lambda A: Ellipsis),
    ("ellipsis_int", lambda A: (Ellipsis, 1)),
    ("int_ellipsis", lambda A: (1, Ellipsis)),
    ("ellipsis_middle", lambda A: (0, Ellipsis, -1)),
    ("ellipsis_none", lambda A: (None, Ellipsis, None, 1)),
    ("list", lambda A: [0, 2]),
    ("list_neg", lambda A: [-1, 0, -1]),
    ("array", lambda A: A([3, 0, 1])),
    ("array_2d", lambda A: A([[0, 1], [2, 3]])),
    ("array_scalar", lambda A: A(2)),
    ("array_uint8", lambda A: A(np.array([1, 2], np.uint8))),
    ("array_int64", lambda A: A(np.array([1, -2], np.int64))),
    ("two_arrays", lambda A: (A([0, 1, 3]), A([1, 2, 4]))),
    ("arrays_broadcast", lambda A: (A([[0], [3]]), A([1, 2, 4]))),
    ("array_slice", lambda A: (slice(1, None), A([0, 4]))),
    ("slice_array", lambda A: (A([0, 3]), slice(None, None, 2))),
    ("arrays_split_by_slice", lambda A: (A([0, 1]), slice(None), A([1, 2]))),
    ("int_slice_array", lambda A: (1, slice(None), A([1, 2]))),
    ("array_ellipsis", lambda A: (Ellipsis, A([0, 5]))),
    ("array_none", lambda A: (A([[0]]), None, A([1, 2]))),
    ("three_arrays", lambda A: (A([0, 1]), A([2, 3]), A([4, 5]))),
]


def _mx_index(f):
    return f(lambda v: mx.array(v) if not isinstance(v, np.ndarray) else mx.array(v))


def _np_index(f):
    return f(lambda v: np.asarray(v))


LAYOUTS = ["contiguous", "transposed", "strided"]


def _inputs(rng, dtype, layout, shape=(4, 5, 6)):
    if layout == "contiguous":
        return make_input(rng, shape, dtype, ANY)
    if layout == "transposed":
        a, x = make_input(rng, shape[::-1], dtype, ANY)
        return mx.transpose(a), np.transpose(x)
    a, x = make_input(rng, tuple(2 * s for s in shape), dtype, ANY)
    return a[::2, 1::2, ::-2], x[::2, 1::2, ::-2]


def _skip_unavailable(device, dtype):
    if dtype not in device_dtypes(device):
        pytest.skip(f"{dtype_name(dtype)} is CPU only")


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_getitem_matches_numpy(device, rng, dtype):
    _skip_unavailable(device, dtype)
    for layout in LAYOUTS:
        a, x = _inputs(rng, dtype, layout)
        for name, f in GET_CASES:
            out = a[_mx_index(f)]
            expected = x[_np_index(f)]
            try:
                assert out.dtype == dtype
                assert out.shape == expected.shape, (out.shape, expected.shape)
                assert_array_equal(out, expected)
            except AssertionError as e:
                raise AssertionError(f"{layout} {name}: {e}") from None


@pytest.mark.parametrize("name,f", GET_CASES, ids=[c[0] for c in GET_CASES])
def test_getitem_case(device, name, f):
    x = np.arange(120, dtype=np.int32).reshape(4, 5, 6)
    a = mx.array(x)
    out = a[_mx_index(f)]
    assert_array_equal(out, x[_np_index(f)])


def test_getitem_scalar_and_empty():
    s = mx.array(3.5)
    assert s[...].shape == () and s[...].item() == 3.5
    assert s[None].shape == (1,)
    e = mx.zeros((0, 3))
    assert e[:, 1].shape == (0,)
    assert e[..., None].shape == (0, 3, 1)
    assert mx.arange(5)[5:].shape == (0,)


def test_getitem_returns_values_not_views():
    a = mx.arange(6)
    b = a[1:4]
    a[2] = 100
    assert b.tolist() == [1, 2, 3]


# --------------------------------------------------------------------------------------
# __setitem__

SET_CASES = [
    ("int", lambda A: 1, lambda A, dt: 7),
    ("int_row", lambda A: 0, lambda A, dt: A(np.arange(6).astype(dt))),
    ("int_int", lambda A: (1, 2), lambda A, dt: 3),
    ("slice", lambda A: slice(1, 3), lambda A, dt: 5),
    ("slice_step", lambda A: (slice(None), slice(None, None, 2)), lambda A, dt: 1),
    (
        "slice_neg_step",
        lambda A: (0, slice(None, None, -1)),
        lambda A, dt: A(np.arange(6).astype(dt)),
    ),
    (
        "broadcast_value",
        lambda A: (slice(None), 1),
        lambda A, dt: A(np.arange(6).astype(dt)),
    ),
    ("ellipsis_int", lambda A: (Ellipsis, 3), lambda A, dt: 4),
    ("none", lambda A: (None, 1), lambda A, dt: 6),
    ("list", lambda A: [0, 3], lambda A, dt: 1),
    ("array", lambda A: A([2, 0]), lambda A, dt: A(np.ones((2, 5, 6)).astype(dt))),
    (
        "two_arrays",
        lambda A: (A([0, 1]), A([2, 4])),
        lambda A, dt: A(np.array([[3], [4]]).astype(dt)),
    ),
    ("array_slice", lambda A: (slice(1, 3), A([0, 4])), lambda A, dt: 0),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_setitem_matches_numpy(device, rng, dtype):
    _skip_unavailable(device, dtype)
    npdt = to_numpy(mx.zeros((1,), dtype)).dtype
    for layout in LAYOUTS:
        for name, idx, val in SET_CASES:
            a, x = _inputs(rng, dtype, layout)
            x = x.copy()
            v = val(
                lambda w: (
                    mx.array(w)
                    if not isinstance(w, np.ndarray)
                    else mx.array(w).astype(dtype)
                ),
                npdt,
            )
            a[_mx_index(idx)] = v
            x[_np_index(idx)] = val(np.asarray, npdt)
            try:
                assert a.dtype == dtype and a.shape == x.shape
                assert_array_equal(a, x)
            except AssertionError as e:
                raise AssertionError(f"{layout} {name}: {e}") from None


def test_setitem_boolean_mask(device):
    # Boolean masks work in __setitem__ (not in __getitem__).
    a = mx.arange(12).reshape(3, 4)
    a[a > 5] = 0
    assert a.tolist() == [[0, 1, 2, 3], [4, 5, 0, 0], [0, 0, 0, 0]]
    a = mx.arange(12).reshape(3, 4)
    a[a > 5] = mx.arange(6) * 10
    assert a.tolist() == [[0, 1, 2, 3], [4, 5, 0, 10], [20, 30, 40, 50]]
    a = mx.arange(12).reshape(3, 4)
    a[mx.array([True, False, True])] = -1
    assert a.tolist() == [[-1] * 4, [4, 5, 6, 7], [-1] * 4]
    a = mx.arange(12).reshape(3, 4)
    a[np.array([False, True, False])] = mx.array([9, 8, 7, 6])
    assert a.tolist() == [[0, 1, 2, 3], [9, 8, 7, 6], [8, 9, 10, 11]]
    a = mx.arange(4.0)
    a[mx.isnan(a)] = 0.0  # all-False mask
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_setitem_whole_array():
    a = mx.zeros((2, 3))
    a[...] = 4
    assert a.tolist() == [[4.0] * 3] * 2
    a[:] = mx.array([1.0, 2.0, 3.0])
    assert a.tolist() == [[1.0, 2.0, 3.0]] * 2
    assert a.dtype == mx.float32


@pytest.mark.parametrize(
    "dtype,value,result_dtype",
    [
        (mx.int8, 2, mx.int8),
        (mx.uint8, 3, mx.uint8),
        (mx.float16, 2.5, mx.float16),
        (mx.bfloat16, 1, mx.bfloat16),
        (mx.bool_, True, mx.bool_),
        # A Python scalar goes through weak promotion with the array ...
        (mx.bool_, 2, mx.int32),
        (mx.int32, 2.5, mx.float32),
        (mx.int64, 1.5, mx.float32),
        (mx.float32, 1j, mx.complex64),
        # ... and an mx.array value keeps its own dtype.
        (mx.float32, mx.array([1, 2, 3], mx.int8), mx.int8),
        (mx.int8, mx.array(3, mx.int64), mx.int64),
        (mx.float16, mx.array([1.0, 2.0, 3.0], mx.float32), mx.float32),
    ],
)
def test_setitem_bare_ellipsis_replaces_the_array(dtype, value, result_dtype):
    """MLX: `a[...] = v` rebinds `a` to v broadcast to a.shape, in v's dtype (unlike
    a[:] = v, which casts v to a.dtype). Other index forms keep a.dtype."""
    a = mx.zeros((3,), dtype)
    a[...] = value
    assert a.dtype == result_dtype
    assert a.shape == (3,)
    v = value.tolist() if isinstance(value, mx.array) else value
    expected = v if isinstance(v, list) else [v] * 3
    assert a.tolist() == expected
    b = mx.zeros((3,), dtype)
    b[:] = value
    assert b.dtype == dtype
    c = mx.zeros((2, 3))
    c[...] = mx.array([[1], [2]], mx.int32)
    assert c.dtype == mx.int32 and c.tolist() == [[1, 1, 1], [2, 2, 2]]


def test_setitem_casts_to_array_dtype():
    a = mx.arange(4)
    a[0] = 2.7
    assert a.dtype == mx.int32 and a.tolist() == [2, 1, 2, 3]
    h = mx.zeros((2,), mx.float16)
    h[0] = mx.array(1.5, mx.float32)
    assert h.dtype == mx.float16 and h.tolist() == [1.5, 0.0]
    b = mx.zeros((2,), mx.bool_)
    b[1] = 1
    assert b.tolist() == [False, True]


def test_setitem_is_in_place_on_the_object():
    a = mx.arange(4)
    b = a
    a[1] = 10
    assert b is a and b.tolist() == [0, 10, 2, 3]


def test_setitem_errors():
    a = mx.arange(12).reshape(3, 4)
    with pytest.raises(ValueError):
        a[0] = mx.array([1, 2])
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1


# --------------------------------------------------------------------------------------
# a.at[...]

Domain_pos = Domain(0.5, 4.0, nonzero=True, clo=0.5, chi=2.0, int_lo=1, int_hi=4)

AT_OPS = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
}


@pytest.mark.parametrize("op", list(AT_OPS))
@pytest.mark.parametrize(
    "dtype",
    [mx.float32, mx.int32, mx.float16, mx.int64, mx.uint8, mx.bfloat16, mx.float64],
)
def test_at_updates(device, rng, op, dtype):
    _skip_unavailable(device, dtype)
    if op == "divide" and dtype not in (
        mx.float32,
        mx.float16,
        mx.bfloat16,
        mx.float64,
    ):
        return  # see test_at_divide_integer
    a, x = make_input(rng, (5, 3), dtype, Domain_pos)
    idx = np.array([0, 2, 2, 4, 2])  # repeated indices accumulate
    v, y = make_input(rng, (5, 3), dtype, Domain_pos)
    out = getattr(a.at[mx.array(idx)], op)(v)
    expected = x.copy()
    ufunc = AT_OPS[op]
    ufunc.at(expected, idx, y)
    assert out.dtype == dtype
    assert_close(out, expected, scale=4)
    # The original is unchanged: .at returns a new array.
    assert_array_equal(a, x)


def test_at_index_forms(device):
    a = mx.zeros((3, 4), mx.int32)
    assert a.at[0, 1].add(10).tolist() == [[0, 10, 0, 0], [0] * 4, [0] * 4]
    assert a.at[:, 1].add(1).tolist() == [[0, 1, 0, 0]] * 3
    assert a.at[mx.array([0, 0, 2]), mx.array([1, 1, 3])].add(1).tolist() == [
        [0, 2, 0, 0],
        [0] * 4,
        [0, 0, 0, 1],
    ]
    assert a.at[[1, 1]].add(mx.array([1, 2, 3, 4])).tolist() == [
        [0] * 4,
        [2, 4, 6, 8],
        [0] * 4,
    ]
    # A float update of an integer array keeps the integer dtype.
    assert a.at[0].add(2.5).dtype == mx.int32


def test_at_divide_integer():
    a = mx.array([4, 5, 6, 7])
    mlx_bug(
        True,
        "a.at[i].divide(2) on an int32 array gives 0 (it multiplies by the integer "
        "reciprocal 1 // 2)",
    )
    assert a.at[mx.array([0])].divide(2).tolist() == [2, 5, 6, 7]


def test_at_boolean_mask():
    a = mx.arange(6)
    mlx_bug(
        True, "a.at[boolean mask] raises SystemError (an untranslated C++ exception)"
    )
    assert a.at[a > 3].add(10).tolist() == [0, 1, 2, 3, 14, 15]


# --------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis, slice, slice_update


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_take(device, rng, dtype):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (4, 5), dtype, ANY)
    for axis in (None, 0, 1, -1):
        for idx in ([0, 3, 3], [[1, -1], [0, 2]], [], 2):
            i = mx.array(idx, dtype=mx.int32) if not isinstance(idx, int) else idx
            out = mx.take(a, i) if axis is None else mx.take(a, i, axis=axis)
            expected = np.take(x, np.array(idx, dtype=np.int64), axis=axis)
            assert out.dtype == dtype
            assert_array_equal(out, expected)
    out = mx.take(a.T, mx.array([1, 0]), axis=0)
    assert_array_equal(out, np.take(x.T, [1, 0], axis=0))


@pytest.mark.parametrize(
    "dtype",
    [mx.float32, mx.int64, mx.bool_, mx.float16, mx.complex64, mx.uint32],
    ids=dtype_name,
)
def test_take_along_and_put_along_axis(device, rng, dtype):
    a, x = make_input(rng, (3, 4, 5), dtype, ANY)
    for axis in (0, 1, -1):
        n = x.shape[axis]
        shape = list(x.shape)
        shape[axis] = 2
        idx = rng.integers(-n, n, size=shape)
        out = mx.take_along_axis(a, mx.array(idx), axis=axis)
        assert_array_equal(out, np.take_along_axis(x, idx, axis=axis))
        # Broadcast indices.
        bshape = [1] * 3
        bshape[axis] = 3
        bidx = rng.integers(0, n, size=bshape)
        out = mx.take_along_axis(a, mx.array(bidx), axis=axis)
        assert_array_equal(out, np.take_along_axis(x, bidx, axis=axis))
        # put_along_axis with unique indices (duplicates write in unspecified order).
        uidx = np.argsort(rng.random(x.shape), axis=axis).take(range(2), axis=axis)
        vals, y = make_input(rng, uidx.shape, dtype, ANY)
        out = mx.put_along_axis(a, mx.array(uidx), vals, axis=axis)
        expected = x.copy()
        np.put_along_axis(expected, uidx, y, axis=axis)
        assert_array_equal(out, expected)
    flat = rng.integers(0, x.size, size=(4,))
    assert_array_equal(
        mx.take_along_axis(a, mx.array(flat), axis=None),
        np.take_along_axis(x.reshape(-1), flat, axis=0),
    )


def test_put_along_axis_scalar_value():
    a = mx.arange(12).reshape(3, 4)
    out = mx.put_along_axis(a, mx.array([[0], [1], [3]]), mx.array(-1), axis=1)
    assert out.tolist() == [[-1, 1, 2, 3], [4, -1, 6, 7], [8, 9, 10, -1]]


def test_slice_and_slice_update(device):
    x = np.arange(20).reshape(4, 5)
    a = mx.array(x)
    # Dynamic start indices; slice_size is the full output shape.
    out = mx.slice(a, mx.array([1, 2]), (0, 1), (2, 3))
    assert_array_equal(out, x[1:3, 2:5])
    out = mx.slice(a, mx.array([2]), [1], [4, 2])
    assert_array_equal(out, x[:, 2:4])
    upd = mx.array([[70, 80]])
    out = mx.slice_update(a, upd, mx.array([1, 1]), (0, 1))
    expected = x.copy()
    expected[1:2, 1:3] = [[70, 80]]
    assert_array_equal(out, expected)
    assert_array_equal(a, x)
    with pytest.raises(TypeError):
        mx.slice(a, [1, 1], (0, 1), (2, 2))


def test_len_and_iter():
    a = mx.arange(12).reshape(3, 4)
    assert len(a) == 3
    rows = list(a)
    assert len(rows) == 3 and all(isinstance(r, mx.array) for r in rows)
    assert [r.tolist() for r in rows] == a.tolist()
    with pytest.raises(TypeError):
        len(mx.array(1))
    with pytest.raises(TypeError):
        iter(mx.array(1))


# --------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    "idx", [1.0, "a", True, np.array([0, 1]), np.array([True, False, True])]
)
def test_unsupported_index_types(idx):
    # MLX accepts neither NumPy arrays nor Python bools / floats as indices.
    a = mx.arange(12).reshape(3, 4)
    with pytest.raises(ValueError):
        a[idx]


def test_getitem_errors():
    a = mx.arange(12).reshape(3, 4)
    with pytest.raises(ValueError):
        a[0, 0, 0]
    with pytest.raises(ValueError):
        a[..., ...]
    # Boolean masks are not supported by __getitem__ in MLX.
    with pytest.raises(ValueError):
        a[mx.array([True, False, True])]
    with pytest.raises(ValueError, match=r"\[gather\]"):
        a[mx.array([0.0, 1.0])]
    with pytest.raises(ValueError, match=r"\[gather\]"):
        mx.take(a, mx.array([1.0]), axis=0)
    with pytest.raises(ValueError, match=r"\[take_along_axis\]"):
        mx.take_along_axis(a, mx.array([0, 1]), axis=1)


@pytest.mark.xfail(
    is_reference_mlx(),
    run=False,
    reason="MLX does not bounds-check integer indices: a[3] reads past the end "
    "and a[-4] can segfault",
)
@pytest.mark.parametrize("idx", [3, -4, (0, 4), (-4, 0)])
def test_int_index_out_of_range(idx):
    a = mx.arange(12).reshape(3, 4)
    with pytest.raises(IndexError):
        a[idx]
    with pytest.raises(IndexError):
        a[idx] = 1


@pytest.mark.xfail(
    is_reference_mlx(),
    run=False,
    reason="MLX kills the process with SIGFPE on a slice step of 0",
)
def test_zero_slice_step():
    with pytest.raises(ValueError):
        mx.arange(5)[::0]


# --------------------------------------------------------------------------------------
# properties


@st.composite
def _basic_index(draw, shape):
    idx = []
    for s in shape:
        kind = draw(st.sampled_from(["int", "slice", "none", "full"]))
        if kind == "int" and s > 0:
            idx.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            idx.append(
                slice(
                    draw(st.none() | st.integers(-s - 2, s + 2)),
                    draw(st.none() | st.integers(-s - 2, s + 2)),
                    step,
                )
            )
        elif kind == "none":
            idx.append(None)
            idx.append(slice(None))
        else:
            idx.append(slice(None))
    if draw(st.booleans()) and idx:
        idx[draw(st.integers(0, len(idx) - 1))] = Ellipsis
    return tuple(idx)


@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5), st.data())
def test_property_basic_indexing_matches_numpy(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    idx = data.draw(_basic_index(shape))
    assert_array_equal(mx.array(x)[idx], x[idx])


@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), st.data())
def test_property_array_indexing_matches_numpy(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    ind = np.array(
        data.draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=6)),
        dtype=np.int32,
    )
    idx = (slice(None),) * axis + (ind,)
    midx = (slice(None),) * axis + (mx.array(ind),)
    assert_array_equal(mx.array(x)[midx], x[idx])


@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), st.data())
def test_property_setitem_matches_numpy(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    idx = data.draw(_basic_index(shape))
    a = mx.array(x)
    y = x.copy()
    y[idx] = -7
    a[idx] = -7
    assert_array_equal(a, y)
