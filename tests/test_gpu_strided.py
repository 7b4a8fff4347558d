"""Strided elementwise paths on the GPU: copies of permuted views (the contiguous last dim moved
as vectors), binary ops with a broadcast operand (bias rows, columns, outer products), casts of
strided views; against the CPU stream on the same values, every dtype the GPU takes, with
aligned and misaligned views (the vector path and the per-element path).

Skipped where no CUDA GPU is present.
"""
import numpy as np
import pytest

import mlx.core as mx
from conftest import NoHostRuns

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(3)
DTYPES = [mx.bool_, mx.uint8, mx.int8, mx.int16, mx.uint16, mx.int32, mx.uint32, mx.int64, mx.uint64,
          mx.float16, mx.bfloat16, mx.float32]


def rand(shape, dt):
    if dt == mx.bool_:
        return mx.array(rng.random(shape) < 0.5)
    if mx.issubdtype(dt, mx.integer):
        return mx.array(rng.integers(0, 100, shape)).astype(dt)
    return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dt)


def same(got, want):
    mx.eval(got, want)
    assert got.dtype == want.dtype and got.shape == want.shape
    g, w = np.array(got.astype(mx.float32)), np.array(want.astype(mx.float32))
    assert np.array_equal(g, w, equal_nan=True)


def both(f, *xs):
    with NoHostRuns():
        g = f(*xs, mx.gpu)
        mx.eval(g)
    return g, f(*xs, mx.cpu)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape,perm", [((8, 16, 32, 64), (0, 2, 1, 3)), ((4, 6, 10, 8), (2, 0, 1, 3)),
                                        ((3, 5, 16), (1, 0, 2)), ((2, 3, 5, 7), (0, 2, 1, 3)),
                                        ((16, 48), (1, 0))])
def test_permuted_copies(dt, shape, perm):
    x = rand(shape, dt)
    f = lambda a, s: mx.reshape(mx.transpose(a, perm, stream=s), (-1,), stream=s)
    same(*both(f, x))
    # a view starting one element in: rows no longer aligned
    f2 = lambda a, s: mx.contiguous(mx.transpose(a[..., 1:], perm, stream=s), stream=s)
    same(*both(f2, x))
    # every other row of the outer dim
    f3 = lambda a, s: mx.contiguous(mx.transpose(a[::2], perm, stream=s), stream=s)
    same(*both(f3, x))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("sa,sb", [((8, 32, 64), (64,)), ((8, 32, 64), (8, 1, 64)), ((8, 1, 64), (1, 32, 64)),
                                   ((8, 32, 1), (8, 32, 64)), ((4, 8), (4, 1)), ((3, 5, 24), (5, 24)),
                                   ((6, 7, 9), (9,))])
def test_broadcast_binary(dt, sa, sb):
    a, b = rand(sa, dt), rand(sb, dt)
    ops = [mx.maximum, mx.equal] + ([mx.logical_or] if dt == mx.bool_ else [mx.add, mx.multiply])
    for op in ops:
        same(*both(lambda x, y, s: op(x, y, stream=s), a, b))
        same(*both(lambda x, y, s: op(y, x, stream=s), a, b))
    # a transposed operand beside a broadcast one
    at = mx.swapaxes(a, 0, -2) if a.ndim >= 2 else a
    same(*both(lambda x, y, s: mx.maximum(x, y, stream=s), at, rand(at.shape[-1:], dt)))


@pytest.mark.parametrize("src,dst", [(mx.float32, mx.bfloat16), (mx.bfloat16, mx.float32), (mx.int32, mx.float16),
                                     (mx.bool_, mx.float32), (mx.float16, mx.uint8)])
def test_strided_casts(src, dst):
    x = rand((6, 10, 32), src)
    same(*both(lambda a, s: mx.transpose(a, (1, 0, 2), stream=s).astype(dst, stream=s), x))
    same(*both(lambda a, s: a[:, ::3, 8:].astype(dst, stream=s), x))


def test_large_bias_add():
    x = rand((8, 1024, 4096), mx.bfloat16)
    b = rand((4096,), mx.bfloat16)
    same(*both(lambda u, v, s: mx.add(u, v, stream=s), x, b))


@pytest.mark.parametrize("dt", DTYPES)
def test_broadcast_copies(dt):
    """Copies of arrays broadcast along the last dim (stride 0 there) and of broadcast scalars."""
    x = rand((6, 1), dt)
    same(*both(lambda a, s: mx.contiguous(mx.broadcast_to(a, (6, 16)), stream=s), x))
    same(*both(lambda a, s: mx.contiguous(mx.broadcast_to(a[:, :, None], (6, 1, 32)), stream=s), x))
    z = rand((), dt)
    same(*both(lambda a, s: mx.contiguous(mx.broadcast_to(a, (4, 8)), stream=s), z))
    same(*both(lambda a, s: mx.broadcast_to(a, (3, 16)).astype(mx.float32, stream=s), x[:3]))

    def upd(a, s):
        with mx.stream(s):
            y = mx.zeros((4, 8), dtype=dt)
            y[1] = a[0, 0]
            return y + y
    same(*both(upd, x))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("sc,sx,sy", [((8, 64), (8, 64), ()), ((8, 64), (8, 64), (8, 64)), ((64,), (8, 64), (8, 1)),
                                      ((8, 1), (1, 64), (8, 64)), ((5, 7), (5, 7), ()), ((3, 16), (16,), (3, 1)),
                                      ((2, 3, 32), (3, 32), (2, 1, 32))])
def test_where_layouts(dt, sc, sx, sy):
    c = rand(sc, mx.bool_)
    x, y = rand(sx, dt), rand(sy, dt)
    same(*both(lambda a, b, d, s: mx.where(a, b, d, stream=s), c, x, y))
    # transposed condition
    ct = mx.transpose(rand(sc[::-1], mx.bool_)) if len(sc) == 2 else c
    same(*both(lambda a, b, d, s: mx.where(a, b, d, stream=s), ct, x, y))
