"""The fast paths that keep per-op overhead low give the same results as the general paths."""

import numpy as np
import pytest

import mlx.core as mx


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.int32, mx.uint8, mx.bool_])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide"])
def test_operators_match_functions(dtype, op):
    # The operator slots handle array-array and array-float directly; the named functions
    # take the general conversion path. Both must agree in value and dtype.
    x = mx.array([1, 2, 3]).astype(dtype)
    y = mx.array([3, 1, 2]).astype(dtype)
    sym = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}[op]
    fn = getattr(mx, op)
    for a, b in [(x, y), (x, 2.5), (2.5, x), (x, 2), (2, x), (x, True), (x, np.float32(2.0))]:
        expect = fn(a, b)
        got = eval(f"a {sym} b")
        assert got.dtype == expect.dtype, (a, b)
        assert np.array_equal(np.array(got.astype(mx.float32)), np.array(expect.astype(mx.float32)), equal_nan=True)


def test_operator_errors_unchanged():
    x = mx.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[add\] cannot perform add on an array and an object of type list"):
        x + [1, 2]
    with pytest.raises(ValueError, match=r"broadcast"):
        x * mx.ones((3,))
    with pytest.raises(TypeError):
        x - None
    with pytest.raises(TypeError):
        None / x
    with pytest.raises(ValueError):
        "a" * x


def test_inplace_operators_rebind():
    x = mx.array([1.0, 2.0])
    y = x
    y += 1.0
    y *= 2
    assert np.array_equal(np.array(y), [4.0, 6.0])
    assert np.array_equal(np.array(x), [4.0, 6.0])  # the same Python object, rebound


def test_grad_of_long_chain():
    # Thousands of nodes: the walks' id tables grow many times.
    def f(v):
        for _ in range(3000):
            v = v * 1.0001
            v = v + 0.0001
        return v

    g = mx.grad(f)(mx.array(1.0))
    assert np.isclose(g.item(), 1.0001**3000, rtol=1e-4)


def test_grad_single_array_and_tree_arguments():
    f = lambda a, b: (a * b["w"]).sum() + b["c"] * 2.0
    a = mx.array([1.0, 2.0])
    b = {"w": mx.array([3.0, 4.0]), "c": mx.array(1.5)}
    ga = mx.grad(f)(a, b)
    gb = mx.grad(f, argnums=1)(a, b)
    assert np.array_equal(np.array(ga), [3.0, 4.0])
    assert np.array_equal(np.array(gb["w"]), [1.0, 2.0]) and gb["c"].item() == 2.0
    with pytest.raises(ValueError):
        mx.grad(lambda v: v)(mx.array(1))  # integer input


def test_eval_shared_subgraphs_and_siblings():
    x = mx.array([1.0, 2.0, 3.0])
    h = mx.exp(x)
    q, r = mx.divmod(x * 7.0, 2.0)
    outs = [h, h * 2.0, q + r, h.T]
    mx.eval(outs)
    assert np.allclose(np.array(outs[1]), 2 * np.exp([1.0, 2.0, 3.0]))
    assert np.allclose(np.array(outs[2]), np.divmod(np.array([7.0, 14.0, 21.0]), 2.0)[0] + np.divmod(np.array([7.0, 14.0, 21.0]), 2.0)[1])
