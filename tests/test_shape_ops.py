"""Shape ops (reshape, flatten, transpose, ..., pad, tile, repeat, roll, as_strided) on
every dtype and on contiguous, transposed, strided and broadcast inputs, checked exactly
against NumPy; their errors; hypothesis properties."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_descriptions import (
    ALL_DTYPES,
    ANY,
    assert_array_equal,
    assert_close,
    device_dtypes,
    dtype_name,
    is_reference_mlx,
    make_input,
    to_numpy,
)


def _skip_unavailable(device, dtype):
    if dtype not in device_dtypes(device):
        pytest.skip(f"{dtype_name(dtype)} is CPU only")


def _np_as_strided(x, shape, strides, offset=0):
    # mx.as_strided works on the row-contiguous data of its input, strides in elements.
    flat = np.ascontiguousarray(x).reshape(-1)[offset:]
    return np.lib.stride_tricks.as_strided(
        flat, shape=shape, strides=[s * flat.itemsize for s in strides]
    ).copy()


def _np_unflatten(x, axis, shape):
    shape = list(shape)
    n = x.shape[axis]
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape[shape.index(-1)] = n // known
    return x.reshape(x.shape[:axis] + tuple(shape) + x.shape[axis + 1 :])


# (id, input shape, mx function, NumPy function); the result is an array or a list.
CASES = [
    ("reshape", (2, 3, 4), lambda a: mx.reshape(a, (4, 6)), lambda x: x.reshape(4, 6)),
    (
        "reshape_infer",
        (2, 3, 4),
        lambda a: a.reshape(-1, 2),
        lambda x: x.reshape(-1, 2),
    ),
    (
        "reshape_varargs",
        (2, 3, 4),
        lambda a: a.reshape(3, 8),
        lambda x: x.reshape(3, 8),
    ),
    ("reshape_scalar", (1, 1), lambda a: a.reshape(()), lambda x: x.reshape(())),
    ("reshape_to_1", (), lambda a: a.reshape(1, 1, 1), lambda x: x.reshape(1, 1, 1)),
    (
        "reshape_empty",
        (0, 3),
        lambda a: a.reshape(3, 0, 2),
        lambda x: x.reshape(3, 0, 2),
    ),
    ("flatten", (2, 3, 4), lambda a: mx.flatten(a), lambda x: x.reshape(-1)),
    (
        "flatten_axes",
        (2, 3, 4),
        lambda a: mx.flatten(a, 1, 2),
        lambda x: x.reshape(2, 12),
    ),
    (
        "flatten_neg_axes",
        (2, 3, 4),
        lambda a: mx.flatten(a, start_axis=0, end_axis=-2),
        lambda x: x.reshape(6, 4),
    ),
    ("flatten_scalar", (), lambda a: mx.flatten(a), lambda x: x.reshape(1)),
    ("flatten_method", (2, 3, 4), lambda a: a.flatten(1), lambda x: x.reshape(2, 12)),
    (
        "unflatten",
        (2, 12),
        lambda a: mx.unflatten(a, 1, (3, 4)),
        lambda x: _np_unflatten(x, 1, (3, 4)),
    ),
    (
        "unflatten_infer",
        (2, 12),
        lambda a: mx.unflatten(a, -1, (2, -1, 3)),
        lambda x: _np_unflatten(x, 1, (2, -1, 3)),
    ),
    ("transpose", (2, 3, 4), lambda a: mx.transpose(a), lambda x: x.T),
    (
        "transpose_axes",
        (2, 3, 4),
        lambda a: mx.transpose(a, (1, 2, 0)),
        lambda x: x.transpose(1, 2, 0),
    ),
    (
        "transpose_neg_axes",
        (2, 3, 4),
        lambda a: mx.transpose(a, (0, -1, -2)),
        lambda x: x.transpose(0, 2, 1),
    ),
    (
        "transpose_method",
        (2, 3, 4),
        lambda a: a.transpose(2, 0, 1),
        lambda x: x.transpose(2, 0, 1),
    ),
    ("T", (2, 3, 4), lambda a: a.T, lambda x: x.T),
    (
        "permute_dims",
        (2, 3, 4),
        lambda a: mx.permute_dims(a, (1, 0, 2)),
        lambda x: x.transpose(1, 0, 2),
    ),
    (
        "matrix_transpose",
        (2, 3, 4),
        lambda a: mx.matrix_transpose(a),
        lambda x: np.swapaxes(x, -1, -2),
    ),
    (
        "swapaxes",
        (2, 3, 4),
        lambda a: mx.swapaxes(a, 0, -1),
        lambda x: np.swapaxes(x, 0, -1),
    ),
    (
        "moveaxis",
        (2, 3, 4),
        lambda a: mx.moveaxis(a, 0, 2),
        lambda x: np.moveaxis(x, 0, 2),
    ),
    (
        "moveaxis_neg",
        (2, 3, 4),
        lambda a: mx.moveaxis(a, -1, 0),
        lambda x: np.moveaxis(x, -1, 0),
    ),
    (
        "expand_dims",
        (2, 3),
        lambda a: mx.expand_dims(a, 1),
        lambda x: np.expand_dims(x, 1),
    ),
    (
        "expand_dims_multi",
        (2, 3),
        lambda a: mx.expand_dims(a, (0, 3)),
        lambda x: np.expand_dims(x, (0, 3)),
    ),
    (
        "expand_dims_neg",
        (2, 3),
        lambda a: mx.expand_dims(a, -1),
        lambda x: np.expand_dims(x, -1),
    ),
    (
        "expand_dims_scalar",
        (),
        lambda a: mx.expand_dims(a, 0),
        lambda x: np.expand_dims(x, 0),
    ),
    ("squeeze", (1, 3, 1), lambda a: mx.squeeze(a), lambda x: np.squeeze(x)),
    (
        "squeeze_axis",
        (1, 3, 1),
        lambda a: mx.squeeze(a, -1),
        lambda x: np.squeeze(x, -1),
    ),
    (
        "squeeze_axes",
        (1, 3, 1),
        lambda a: mx.squeeze(a, (0, 2)),
        lambda x: np.squeeze(x, (0, 2)),
    ),
    ("squeeze_all", (1, 1), lambda a: mx.squeeze(a), lambda x: np.squeeze(x)),
    (
        "broadcast_to",
        (3, 1),
        lambda a: mx.broadcast_to(a, (2, 3, 4)),
        lambda x: np.broadcast_to(x, (2, 3, 4)),
    ),
    (
        "broadcast_to_scalar",
        (),
        lambda a: mx.broadcast_to(a, (2, 3)),
        lambda x: np.broadcast_to(x, (2, 3)),
    ),
    (
        "broadcast_to_empty",
        (3, 1),
        lambda a: mx.broadcast_to(a, (3, 0)),
        lambda x: np.broadcast_to(x, (3, 0)),
    ),
    (
        "broadcast_arrays",
        (3, 1),
        lambda a: mx.broadcast_arrays(a, a.T),
        lambda x: list(np.broadcast_arrays(x, x.T)),
    ),
    (
        "concatenate",
        (2, 3),
        lambda a: mx.concatenate([a, a[:1], a]),
        lambda x: np.concatenate([x, x[:1], x]),
    ),
    (
        "concatenate_axis",
        (2, 3),
        lambda a: mx.concatenate([a, a[:, :2]], axis=1),
        lambda x: np.concatenate([x, x[:, :2]], axis=1),
    ),
    (
        "concatenate_neg_axis",
        (2, 3),
        lambda a: mx.concatenate([a, a], axis=-1),
        lambda x: np.concatenate([x, x], axis=-1),
    ),
    (
        "concatenate_none",
        (2, 3),
        lambda a: mx.concatenate([a, a[0]], axis=None),
        lambda x: np.concatenate([x, x[0]], axis=None),
    ),
    (
        "concatenate_empty",
        (0, 3),
        lambda a: mx.concatenate([a, mx.zeros((2, 3), a.dtype)]),
        lambda x: np.concatenate([x, np.zeros((2, 3), x.dtype)]),
    ),
    (
        "concat",
        (2, 3),
        lambda a: mx.concat([a, a], axis=1),
        lambda x: np.concatenate([x, x], axis=1),
    ),
    ("stack", (2, 3), lambda a: mx.stack([a, a, a]), lambda x: np.stack([x, x, x])),
    (
        "stack_axis",
        (2, 3),
        lambda a: mx.stack([a, a], axis=-1),
        lambda x: np.stack([x, x], axis=-1),
    ),
    ("stack_scalars", (), lambda a: mx.stack([a, a]), lambda x: np.stack([x, x])),
    (
        "unstack",
        (2, 3),
        lambda a: mx.unstack(a, axis=1),
        lambda x: [x[:, i] for i in range(3)],
    ),
    (
        "split_n",
        (4, 6),
        lambda a: mx.split(a, 3, axis=1),
        lambda x: np.split(x, 3, axis=1),
    ),
    ("split_default_axis", (4, 6), lambda a: mx.split(a, 2), lambda x: np.split(x, 2)),
    (
        "split_indices",
        (4, 6),
        lambda a: mx.split(a, [1, 4], axis=1),
        lambda x: np.split(x, [1, 4], axis=1),
    ),
    # Unsorted or out of range indices give empty pieces, as in NumPy.
    (
        "split_indices_odd",
        (4, 6),
        lambda a: mx.split(a, [4, 1, 10], axis=-1),
        lambda x: np.split(x, [4, 1, 10], axis=-1),
    ),
    (
        "split_method",
        (4, 6),
        lambda a: a.split(2, axis=0),
        lambda x: np.split(x, 2, axis=0),
    ),
    ("pad_int", (2, 3), lambda a: mx.pad(a, 1), lambda x: np.pad(x, 1)),
    ("pad_pair", (2, 3), lambda a: mx.pad(a, (1, 2)), lambda x: np.pad(x, (1, 2))),
    (
        "pad_per_axis",
        (2, 3),
        lambda a: mx.pad(a, [(0, 1), (2, 0)]),
        lambda x: np.pad(x, [(0, 1), (2, 0)]),
    ),
    (
        "pad_value",
        (2, 3),
        lambda a: mx.pad(a, 1, constant_values=1),
        lambda x: np.pad(x, 1, constant_values=1),
    ),
    (
        "pad_edge",
        (2, 3),
        lambda a: mx.pad(a, [(1, 2), (2, 1)], mode="edge"),
        lambda x: np.pad(x, [(1, 2), (2, 1)], mode="edge"),
    ),
    (
        "pad_reflect",
        (3, 4),
        lambda a: mx.pad(a, 2, mode="reflect"),
        lambda x: np.pad(x, 2, mode="reflect"),
    ),
    (
        "pad_symmetric",
        (3, 4),
        lambda a: mx.pad(a, 2, mode="symmetric"),
        lambda x: np.pad(x, 2, mode="symmetric"),
    ),
    ("pad_empty", (0, 3), lambda a: mx.pad(a, 1), lambda x: np.pad(x, 1)),
    ("tile", (2, 3), lambda a: mx.tile(a, (2, 2)), lambda x: np.tile(x, (2, 2))),
    ("tile_int", (2, 3), lambda a: mx.tile(a, 3), lambda x: np.tile(x, 3)),
    (
        "tile_more_dims",
        (2, 3),
        lambda a: mx.tile(a, (2, 1, 2)),
        lambda x: np.tile(x, (2, 1, 2)),
    ),
    ("tile_scalar", (), lambda a: mx.tile(a, (3,)), lambda x: np.tile(x, (3,))),
    ("repeat_flat", (2, 3), lambda a: mx.repeat(a, 2), lambda x: np.repeat(x, 2)),
    (
        "repeat_axis",
        (2, 3),
        lambda a: mx.repeat(a, 3, axis=1),
        lambda x: np.repeat(x, 3, axis=1),
    ),
    (
        "repeat_neg_axis",
        (2, 3),
        lambda a: mx.repeat(a, 2, axis=-2),
        lambda x: np.repeat(x, 2, axis=-2),
    ),
    (
        "repeat_zero",
        (2, 3),
        lambda a: mx.repeat(a, 0, axis=1),
        lambda x: np.repeat(x, 0, axis=1),
    ),
    ("roll_flat", (3, 4), lambda a: mx.roll(a, 5), lambda x: np.roll(x, 5)),
    (
        "roll_axis",
        (3, 4),
        lambda a: mx.roll(a, -1, axis=1),
        lambda x: np.roll(x, -1, axis=1),
    ),
    (
        "roll_axes",
        (3, 4),
        lambda a: mx.roll(a, (1, 2), axis=(0, 1)),
        lambda x: np.roll(x, (1, 2), axis=(0, 1)),
    ),
    (
        "roll_big",
        (3, 4),
        lambda a: mx.roll(a, 13, axis=0),
        lambda x: np.roll(x, 13, axis=0),
    ),
    ("atleast_1d", (), lambda a: mx.atleast_1d(a), lambda x: np.atleast_1d(x)),
    ("atleast_2d", (3,), lambda a: mx.atleast_2d(a), lambda x: np.atleast_2d(x)),
    ("atleast_3d_1d", (3,), lambda a: mx.atleast_3d(a), lambda x: np.atleast_3d(x)),
    ("atleast_3d_2d", (2, 3), lambda a: mx.atleast_3d(a), lambda x: np.atleast_3d(x)),
    ("atleast_3d_scalar", (), lambda a: mx.atleast_3d(a), lambda x: np.atleast_3d(x)),
    (
        "atleast_multi",
        (2,),
        lambda a: mx.atleast_2d(a, a[0]),
        lambda x: list(np.atleast_2d(x, x[0])),
    ),
    (
        "as_strided",
        (3, 4),
        lambda a: mx.as_strided(a, (3, 3), (3, 1)),
        lambda x: _np_as_strided(x, (3, 3), (3, 1)),
    ),
    (
        "as_strided_offset",
        (3, 4),
        lambda a: mx.as_strided(a, (2, 2), (4, 2), 1),
        lambda x: _np_as_strided(x, (2, 2), (4, 2), 1),
    ),
    (
        "as_strided_zero_stride",
        (3, 4),
        lambda a: mx.as_strided(a, (2, 3), (0, 1)),
        lambda x: _np_as_strided(x, (2, 3), (0, 1)),
    ),
    ("as_strided_default", (3, 4), lambda a: mx.as_strided(a), lambda x: x.copy()),
    ("contiguous", (3, 4), lambda a: mx.contiguous(a), lambda x: x.copy()),
    ("flip_by_slice", (3, 4), lambda a: a[::-1, ::-1], lambda x: x[::-1, ::-1]),
    ("flip", (3, 4), lambda a: mx.flip(a), lambda x: np.flip(x)),
    ("flip_axis", (3, 4), lambda a: mx.flip(a, axis=-1), lambda x: np.flip(x, -1)),
    (
        "flip_axes",
        (3, 4),
        lambda a: mx.flip(a, axis=(0, 1)),
        lambda x: np.flip(x, (0, 1)),
    ),
    # Sorting is stable; NaN sorts last; complex numbers sort lexicographically.
    ("sort", (3, 4), lambda a: mx.sort(a), lambda x: np.sort(x, kind="stable")),
    ("sort_axis0", (3, 4), lambda a: mx.sort(a, axis=0), lambda x: np.sort(x, 0)),
    ("sort_flat", (3, 4), lambda a: mx.sort(a, axis=None), lambda x: np.sort(x, None)),
    (
        "argsort",
        (3, 4),
        lambda a: mx.argsort(a, axis=-1),
        lambda x: np.argsort(x, axis=-1, kind="stable").astype(np.uint32),
    ),
    ("diagonal", (3, 4), lambda a: mx.diagonal(a, 1), lambda x: np.diagonal(x, 1)),
    ("diag_of_matrix", (3, 4), lambda a: mx.diag(a, -1), lambda x: np.diag(x, -1)),
    ("diag_of_vector", (3,), lambda a: mx.diag(a), lambda x: np.diag(x)),
]

LAYOUTS = ["contiguous", "transposed", "strided", "broadcast"]


def _inputs(rng, shape, dtype, layout):
    if layout == "contiguous" or len(shape) == 0:
        return make_input(rng, shape, dtype, ANY)
    if layout == "transposed":
        a, x = make_input(rng, shape[::-1], dtype, ANY)
        return a.T, x.T
    if layout == "strided":
        big = tuple(2 * s + 1 for s in shape)
        a, x = make_input(rng, big, dtype, ANY)
        idx = tuple(slice(1, None, 2) for _ in shape)
        a, x = a[idx], x[idx]
        # Reverse the last axis too, for a negative stride.
        return a[..., ::-1], x[..., ::-1]
    a, x = make_input(rng, (1,) + tuple(shape[1:]), dtype, ANY)
    return mx.broadcast_to(a, shape), np.broadcast_to(x, shape)


def _compare(out, expected, dtype):
    if isinstance(expected, (list, tuple)):
        assert isinstance(out, (list, tuple)), type(out)
        assert len(out) == len(expected)
        for o, e in zip(out, expected):
            _compare(o, e, dtype)
        return
    want = mx.uint32 if expected.dtype == np.uint32 else dtype  # argsort gives uint32
    assert out.dtype == want, f"{out.dtype} != {want}"
    assert out.shape == expected.shape, f"{out.shape} != {expected.shape}"
    assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
def test_diff(device, rng, dtype):
    _skip_unavailable(device, dtype)
    a, x = make_input(rng, (3, 5), dtype, ANY)
    for n, axis in [(1, -1), (2, 0), (3, 1), (0, -1)]:
        out = mx.diff(a, n=n, axis=axis)
        assert out.dtype == dtype
        # NumPy's diff of bools is a != b, as MLX's.
        assert_close(out, np.diff(x, n, axis).astype(to_numpy(out).dtype))
    assert_close(mx.diff(a.T), np.diff(x.T).astype(to_numpy(a).dtype))


@pytest.mark.parametrize(
    "dtype", [mx.int32, mx.float32, mx.uint8, mx.float16, mx.bfloat16]
)
def test_topk_and_partition(device, rng, dtype):
    a, x = make_input(rng, (4, 9), dtype, ANY)
    for k in (1, 3, 9):
        out = mx.topk(a, k)
        assert out.dtype == dtype and out.shape == (4, k)
        # topk returns the k largest values, in no promised order.
        np.testing.assert_array_equal(
            np.sort(to_numpy(out), axis=-1), np.sort(x, axis=-1)[:, 9 - k :]
        )
    out = mx.topk(a, 2, axis=0)
    assert out.shape == (2, 9)
    np.testing.assert_array_equal(np.sort(to_numpy(out), 0), np.sort(x, 0)[2:])
    for kth in (0, 4, 8, -1):
        p = to_numpy(mx.partition(a, kth, axis=-1))
        s = np.sort(x, axis=-1)
        np.testing.assert_array_equal(p[:, kth], s[:, kth])
        np.testing.assert_array_equal(np.sort(p, -1), s)
        assert np.all(p[:, : kth % 9] <= p[:, kth : kth % 9 + 1])
        assert np.all(p[:, kth % 9 :] >= p[:, kth : kth % 9 + 1])
        i = to_numpy(mx.argpartition(a, kth, axis=-1))
        np.testing.assert_array_equal(
            np.take_along_axis(x, i.astype(np.int64), -1)[:, kth], s[:, kth]
        )


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("name,shape,f,g", CASES, ids=[c[0] for c in CASES])
def test_shape_op_matches_numpy(device, rng, name, shape, f, g, dtype):
    _skip_unavailable(device, dtype)
    for layout in LAYOUTS:
        a, x = _inputs(rng, shape, dtype, layout)
        try:
            _compare(f(a), g(x), dtype)
        except AssertionError as e:
            raise AssertionError(f"layout={layout}: {e}") from None


def test_views_do_not_alias_after_update():
    a = mx.arange(6).reshape(2, 3)
    b = a.T
    c = a.reshape(3, 2)
    a[0, 0] = 100
    # MLX arrays are values: updating `a` leaves arrays derived from it unchanged.
    assert b.tolist() == [[0, 3], [1, 4], [2, 5]]
    assert c.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert a.tolist() == [[100, 1, 2], [3, 4, 5]]


def test_concatenate_and_stack_promote():
    out = mx.concatenate([mx.zeros((2, 3), mx.int8), mx.zeros((2, 3), mx.float16)])
    assert out.dtype == mx.float16 and out.shape == (4, 3)
    assert (
        mx.stack([mx.zeros((2,), mx.int8), mx.zeros((2,), mx.uint8)]).dtype == mx.int16
    )
    assert mx.concatenate([mx.array([1, 2]), mx.array([True])]).dtype == mx.int32


def test_pad_dtype_and_value_array():
    # A float pad value does not promote an integer array.
    out = mx.pad(mx.array([1, 2]), 1, constant_values=2.5)
    assert out.dtype == mx.int32 and out.tolist() == [2, 1, 2, 2]
    assert mx.pad(mx.array([1, 2]), 1, constant_values=mx.array(7)).tolist() == [
        7,
        1,
        2,
        7,
    ]


def test_broadcast_shapes():
    assert mx.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert mx.broadcast_shapes((1,), (5, 1, 4), (3, 1)) == (5, 3, 4)
    assert mx.broadcast_shapes((), (2, 3)) == (2, 3)
    assert mx.broadcast_shapes((0, 1), (1, 4)) == (0, 4)
    with pytest.raises(ValueError):
        mx.broadcast_shapes((2, 1), (3, 2))


def test_contiguous_layout_is_invisible():
    a = mx.arange(12).reshape(3, 4)
    for v in [a.T, a[:, ::2], a[::-1], mx.broadcast_to(a[:1], (3, 4))]:
        c = mx.contiguous(v)
        assert c.tolist() == v.tolist()
        assert mx.contiguous(v, allow_col_major=True).tolist() == v.tolist()


# --------------------------------------------------------------------------------------
# errors


def _check_axis_error(excinfo):
    # MLX raises IndexError; this project's errors are also ValueError (DESIGN.md 6).
    assert isinstance(excinfo.value, IndexError)
    if not is_reference_mlx():
        assert isinstance(excinfo.value, ValueError)


A = mx.zeros((2, 3, 4))

AXIS_ERRORS = [
    ("swapaxes", lambda: mx.swapaxes(A, 0, 3)),
    ("moveaxis", lambda: mx.moveaxis(A, -4, 0)),
    ("expand_dims", lambda: mx.expand_dims(A, 4)),
    ("squeeze", lambda: mx.squeeze(mx.zeros((1, 2)), 2)),
    ("stack", lambda: mx.stack([A, A], axis=4)),
    ("concatenate", lambda: mx.concatenate([A, A], axis=3)),
    ("split", lambda: mx.split(A, 2, axis=3)),
    ("repeat", lambda: mx.repeat(A, 2, axis=-4)),
    ("roll", lambda: mx.roll(A, 1, axis=3)),
    ("transpose", lambda: mx.transpose(A, (0, 1, 3))),
]


@pytest.mark.parametrize("name,f", AXIS_ERRORS, ids=[e[0] for e in AXIS_ERRORS])
def test_axis_out_of_range(name, f):
    with pytest.raises(IndexError) as excinfo:
        f()
    _check_axis_error(excinfo)
    assert str(excinfo.value).startswith(f"[{name}]")


VALUE_ERRORS = [
    ("reshape", lambda: A.reshape(5, 5)),
    ("reshape", lambda: A.reshape(-1, -1)),
    ("reshape", lambda: mx.zeros((0, 3)).reshape(0, -1)),
    ("flatten", lambda: mx.flatten(A, 2, 1)),
    (None, lambda: mx.unflatten(A, 2, (3, -1))),  # MLX writes "[Unflatten]"
    ("transpose", lambda: mx.transpose(A, (0, 1))),
    ("transpose", lambda: mx.transpose(A, (0, 1, 1))),
    ("expand_dims", lambda: mx.expand_dims(A, (0, 0))),
    ("squeeze", lambda: mx.squeeze(A, 0)),
    (None, lambda: mx.broadcast_to(A, (3, 3, 4))),
    (None, lambda: mx.broadcast_to(A, (3, 4))),
    (None, lambda: mx.broadcast_arrays(mx.zeros((2, 1)), mx.zeros((3, 2)))),
    ("concatenate", lambda: mx.concatenate([mx.zeros((2, 3)), mx.zeros((2, 4))])),
    ("concatenate", lambda: mx.concatenate([mx.zeros((2, 3)), mx.zeros((3,))])),
    ("concatenate", lambda: mx.concatenate([])),
    ("stack", lambda: mx.stack([mx.zeros((2, 3)), mx.zeros((2, 4))])),
    ("stack", lambda: mx.stack([])),
    (None, lambda: mx.split(A, 3, axis=2)),
    ("split", lambda: mx.split(A, 0, axis=2)),
    (None, lambda: mx.pad(A, -1)),
    (None, lambda: mx.pad(A, [(1, 1), (1, 1)])),
    (None, lambda: mx.pad(A, 1, mode="wrap-around")),
    (None, lambda: mx.tile(A, -1)),
    ("repeat", lambda: mx.repeat(A, -1)),
]


@pytest.mark.parametrize("name,f", VALUE_ERRORS)
def test_value_errors(name, f):
    with pytest.raises(ValueError) as excinfo:
        f()
    # MLX leaves the "[op]" prefix off a few messages (None above); ours always has one.
    if name is not None:
        assert str(excinfo.value).startswith(f"[{name}]"), str(excinfo.value)
    elif not is_reference_mlx():
        assert str(excinfo.value).startswith("["), str(excinfo.value)


def test_type_errors():
    with pytest.raises(TypeError):
        mx.moveaxis(A, (0, 1), (1, 2))
    with pytest.raises(TypeError):
        mx.repeat(mx.array([1, 2]), [1, 2])
    with pytest.raises(TypeError):
        mx.reshape(A, 2.5)


# --------------------------------------------------------------------------------------
# properties


@given(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), st.data())
def test_property_reshape_transpose_roundtrip(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    a = mx.array(x)
    perm = data.draw(st.permutations(range(len(shape))))
    assert_array_equal(mx.transpose(a, perm), np.transpose(x, perm))
    assert_array_equal(
        mx.transpose(a, perm).reshape(-1), np.transpose(x, perm).reshape(-1)
    )
    if x.size:
        assert_array_equal(
            mx.reshape(mx.transpose(a, perm), (x.size,)),
            np.transpose(x, perm).reshape(x.size),
        )


@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_property_concat_split_roundtrip(shape, data):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    idx = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    parts = mx.split(mx.array(x), idx, axis=axis)
    for p, q in zip(parts, np.split(x, idx, axis=axis)):
        assert_array_equal(p, q)
    assert_array_equal(mx.concatenate(parts, axis=axis), x)


@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_property_layout_does_not_change_values(shape, data):
    """Copies of any view (stepped slices, transposes) hold the view's values."""
    x = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    a = mx.array(x)
    idx = tuple(
        slice(
            data.draw(st.integers(-s, s)),
            data.draw(st.integers(-s, s)),
            data.draw(st.sampled_from([1, 2, -1, -2, 3])),
        )
        for s in shape
    )
    perm = data.draw(st.permutations(range(len(shape))))
    v, w = mx.transpose(a[idx], perm), np.transpose(x[idx], perm)
    assert_array_equal(v, w)
    assert_array_equal(mx.contiguous(v), w)
    assert_array_equal(v + 0, w)
    assert_array_equal(mx.flatten(v), w.reshape(-1))
