"""Tests of mlx.utils: tree flatten/unflatten/map/reduce/merge."""

from collections import namedtuple

import numpy as np
import pytest

import mlx.core as mx
from mlx.utils import (
    tree_flatten,
    tree_map,
    tree_map_with_path,
    tree_merge,
    tree_reduce,
    tree_unflatten,
)


def test_flatten_paths_and_order():
    tree = {"a": [1, {"b": 2, "c": (3, 4)}], "d": 5}
    assert tree_flatten(tree) == [
        ("a.0", 1),
        ("a.1.b", 2),
        ("a.1.c.0", 3),
        ("a.1.c.1", 4),
        ("d", 5),
    ]


def test_flatten_leaf_at_root_and_empty_containers():
    assert tree_flatten(5) == [("", 5)]
    assert tree_flatten({"a": [], "b": {}, "c": ()}) == []
    assert tree_flatten([]) == []


def test_flatten_prefix_drops_first_character():
    assert tree_flatten([[[0]]], ".hello") == [("hello.0.0.0", 0)]
    assert tree_flatten({"w": 1}, prefix=".model") == [("model.w", 1)]


def test_flatten_is_leaf_and_destination():
    tree = {"a": [1, 2], "b": {"c": 3}}
    flat = tree_flatten(tree, is_leaf=lambda x: isinstance(x, list))
    assert flat == [("a", [1, 2]), ("b.c", 3)]

    dest = {}
    out = tree_flatten(tree, destination=dest)
    assert out is dest
    assert dest == {"a.0": 1, "a.1": 2, "b.c": 3}

    dest_list = [("x", 0)]
    tree_flatten({"y": 1}, destination=dest_list)
    assert dest_list == [("x", 0), ("y", 1)]


def test_unflatten_rebuilds_lists_and_dicts():
    flat = [("a.0", 1), ("a.1.b", 2), ("c", 3)]
    assert tree_unflatten(flat) == {"a": [1, {"b": 2}], "c": 3}
    assert tree_unflatten(dict(flat)) == {"a": [1, {"b": 2}], "c": 3}
    assert tree_unflatten([("", 5)]) == 5
    assert tree_unflatten([("0", "x"), ("1", "y")]) == ["x", "y"]


def test_unflatten_sorts_indices_numerically_and_fills_gaps():
    flat = [(str(i), i) for i in [10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9]]
    assert tree_unflatten(flat) == list(range(11))
    assert tree_unflatten([("0", 1), ("2", 3)]) == [1, {}, 3]


def test_flatten_unflatten_round_trip_with_arrays(rng):
    tree = {
        "layers": [
            {"weight": mx.array(rng.standard_normal((2, 3)).astype(np.float32))},
            {},
            {"weight": mx.ones((4,)), "bias": mx.zeros((4,))},
        ],
        "head": {"w": mx.arange(3)},
    }
    flat = tree_flatten(tree)
    keys = [k for k, _ in flat]
    assert keys == ["layers.0.weight", "layers.2.weight", "layers.2.bias", "head.w"]
    back = tree_unflatten(flat)
    assert back["layers"][1] == {}
    for (k1, v1), (k2, v2) in zip(tree_flatten(back), flat):
        assert k1 == k2
        np.testing.assert_array_equal(np.array(v1), np.array(v2))


def test_tree_map_structure_and_rest():
    tree = {"a": [1, 2], "b": (3, {"c": 4})}
    other = {"a": [10, 20], "b": (30, {"c": 40})}
    out = tree_map(lambda x, y: x + y, tree, other)
    assert out == {"a": [11, 22], "b": (33, {"c": 44})}
    assert isinstance(out["b"], tuple)


def test_tree_map_is_leaf():
    tree = {"a": [1, 2], "b": [3]}
    out = tree_map(len, tree, is_leaf=lambda x: isinstance(x, list))
    assert out == {"a": 2, "b": 1}


def test_tree_map_keeps_namedtuples():
    Point = namedtuple("Point", ["x", "y"])
    out = tree_map(lambda v: v * 2, {"p": Point(1, 2)})
    assert out["p"] == Point(2, 4)
    assert isinstance(out["p"], Point)


def test_tree_map_arrays():
    tree = {"w": mx.array([1.0, 2.0]), "b": [mx.array(3.0)]}
    out = tree_map(lambda x: x * 2, tree)
    np.testing.assert_allclose(np.array(out["w"]), [2.0, 4.0])
    np.testing.assert_allclose(np.array(out["b"][0]), 6.0)


def test_tree_map_with_path():
    tree = {"a": [1, {"b": 2}], "c": 3}
    out = tree_map_with_path(lambda p, x: (p, x), tree)
    assert out == {"a": [("a.0", 1), {"b": ("a.1.b", 2)}], "c": ("c", 3)}
    assert tree_map_with_path(lambda p, x: p, 7) is None
    other = {"a": [10, {"b": 20}], "c": 30}
    out = tree_map_with_path(lambda p, x, y: y - x, tree, other)
    assert out == {"a": [9, {"b": 18}], "c": 27}


def test_tree_reduce():
    tree = {"a": [1, 2], "b": {"c": 3}}
    assert tree_reduce(lambda acc, x: acc + x, tree) == 6
    assert tree_reduce(lambda acc, x: acc + x, tree, 10) == 16
    assert tree_reduce(lambda acc, x: acc + [x], tree, []) == [1, 2, 3]
    assert tree_reduce(lambda acc, x: acc + x, {}) is None
    lists = {"a": [1, 2], "b": [3]}
    assert (
        tree_reduce(
            lambda acc, x: acc + len(x), lists, 0, is_leaf=lambda x: isinstance(x, list)
        )
        == 3
    )


def test_tree_reduce_arrays_sum_of_squares():
    tree = {"a": mx.array([1.0, 2.0]), "b": [mx.array([3.0])]}
    total = tree_reduce(lambda acc, x: acc + mx.sum(x * x), tree, 0.0)
    assert float(total) == pytest.approx(14.0)


def test_tree_merge():
    a = {"a": [1, {}], "c": {"x": 1}}
    b = {"a": [{}, 2], "b": 3, "c": {"y": 2}}
    assert tree_merge(a, b) == {"a": [1, 2], "c": {"x": 1, "y": 2}, "b": 3}
    assert tree_merge(None, {"a": 1}) == {"a": 1}
    assert tree_merge({"a": 1}, {}) == {"a": 1}
    assert tree_merge([1, 2], [None, None, 3]) == [1, 2, 3]


def test_tree_merge_conflicts():
    with pytest.raises(ValueError):
        tree_merge({"a": 1}, {"a": 2})
    assert tree_merge({"a": 1}, {"a": 2}, merge_fn=lambda x, y: x + y) == {"a": 3}
    with pytest.raises(ValueError):
        tree_merge({"a": [1]}, {"a": {"b": 1}})
