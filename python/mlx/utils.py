"""Utilities for nested containers ("trees") of lists, tuples and dicts.

A tree is any nesting of ``list``, ``tuple`` and ``dict`` (``mlx.nn.Module`` is a
dict); everything else is a leaf. Paths to leaves are written as dotted strings,
for example ``"layers.0.weight"``.
"""

from collections import defaultdict
from itertools import zip_longest
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_merge",
]


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _rebuild_sequence(template, items):
    """Build a container of the same kind as ``template`` from ``items``."""
    if _is_namedtuple(template):
        return type(template)(*items)
    return type(template)(items)


def tree_map(
    fn: Callable, tree: Any, *rest: Any, is_leaf: Optional[Callable] = None
) -> Any:
    """Apply ``fn`` to the leaves of ``tree`` and return a tree of the results.

    ``rest`` are trees with (at least) the structure of ``tree``; their
    corresponding leaves are passed as extra arguments to ``fn``. Dicts come back
    as plain ``dict`` (so mapping over a Module gives a dict).

    Args:
        fn: Called as ``fn(leaf, *other_leaves)``.
        tree: The tree whose structure drives the traversal.
        *rest: Trees traversed in lock step with ``tree``.
        is_leaf: Optional predicate marking extra nodes as leaves.

    Returns:
        A tree shaped like ``tree`` holding the results of ``fn``.

    Example:
        >>> tree_map(lambda x: x * 2, {"a": [1, 2], "b": 3})
        {'a': [2, 4], 'b': 6}
    """
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, *rest)
    if isinstance(tree, (list, tuple)):
        items = [
            tree_map(fn, child, *(r[i] for r in rest), is_leaf=is_leaf)
            for i, child in enumerate(tree)
        ]
        return _rebuild_sequence(tree, items)
    if isinstance(tree, dict):
        return {
            k: tree_map(fn, child, *(r[k] for r in rest), is_leaf=is_leaf)
            for k, child in tree.items()
        }
    return fn(tree, *rest)


def tree_map_with_path(
    fn: Callable,
    tree: Any,
    *rest: Any,
    is_leaf: Optional[Callable] = None,
    path: Optional[Any] = None,
) -> Any:
    """Like :func:`tree_map` but ``fn`` also receives the dotted path of the leaf.

    ``fn`` is called as ``fn(path, leaf, *other_leaves)``. A leaf at the root has
    path ``None`` (or the given ``path``).

    Example:
        >>> tree_map_with_path(lambda p, x: p, {"a": [1, 2]})
        {'a': ['a.0', 'a.1']}
    """

    def join(k):
        return f"{path}.{k}" if path is not None else str(k)

    if is_leaf is not None and is_leaf(tree):
        return fn(path, tree, *rest)
    if isinstance(tree, (list, tuple)):
        items = [
            tree_map_with_path(
                fn, child, *(r[i] for r in rest), is_leaf=is_leaf, path=join(i)
            )
            for i, child in enumerate(tree)
        ]
        return _rebuild_sequence(tree, items)
    if isinstance(tree, dict):
        return {
            k: tree_map_with_path(
                fn, child, *(r[k] for r in rest), is_leaf=is_leaf, path=join(k)
            )
            for k, child in tree.items()
        }
    return fn(path, tree, *rest)


def tree_flatten(
    tree: Any,
    prefix: str = "",
    is_leaf: Optional[Callable] = None,
    destination: Optional[Union[List[Tuple[str, Any]], Dict[str, Any]]] = None,
) -> Union[List[Tuple[str, Any]], Dict[str, Any]]:
    """Flatten a tree into ``(path, leaf)`` pairs with dotted paths.

    Args:
        tree: The tree to flatten.
        prefix: Prepended to every path. Its first character is dropped, so a
            prefix is written with a leading dot (``".model"``).
        is_leaf: Optional predicate marking extra nodes as leaves.
        destination: A list to append the pairs to, or a dict to store them in.
            A new list is used when ``None``.

    Returns:
        ``destination`` filled with the leaves.

    Example:
        >>> tree_flatten([[[0]]], ".hello")
        [('hello.0.0.0', 0)]
    """
    if destination is None:
        destination = []
    if isinstance(destination, dict):
        add = destination.__setitem__
    elif isinstance(destination, list):
        add = lambda k, v: destination.append((k, v))  # noqa: E731
    else:
        raise ValueError(
            "[tree_flatten] destination must be a list or a dict; "
            f"got {type(destination).__name__}."
        )

    def walk(node, pre):
        if is_leaf is None or not is_leaf(node):
            if isinstance(node, (list, tuple)):
                for i, child in enumerate(node):
                    walk(child, f"{pre}.{i}")
                return
            if isinstance(node, dict):
                for k, child in node.items():
                    walk(child, f"{pre}.{k}")
                return
        add(pre[1:], node)

    walk(tree, prefix)
    return destination


def tree_unflatten(tree: Union[List[Tuple[str, Any]], Dict[str, Any]]) -> Any:
    """Rebuild a nested tree from ``(path, leaf)`` pairs (inverse of tree_flatten).

    Levels whose keys are all integers become lists (indices missing in between
    are filled with empty dicts); other levels become dicts.

    Example:
        >>> tree_unflatten([("a.0", 1), ("a.1", 2), ("b", 3)])
        {'a': [1, 2], 'b': 3}
    """
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]

    children = defaultdict(list)
    for key, value in items:
        head, _, tail = key.partition(".")
        children[head].append((tail, value))

    def build(group):
        return tree_unflatten(group)

    if children and all(k.isdigit() for k in children):
        indexed = sorted((int(k), g) for k, g in children.items())
        out = []
        for idx, group in indexed:
            while len(out) < idx:
                out.append({})
            out.append(build(group))
        return out
    return {k: build(g) for k, g in children.items()}


def tree_reduce(fn: Callable, tree: Any, initializer=None, is_leaf=None) -> Any:
    """Reduce the leaves of a tree with ``fn(accumulator, leaf)``.

    With ``initializer=None`` the first leaf starts the accumulation.

    Example:
        >>> tree_reduce(lambda acc, x: acc + x, {"a": [1, 2], "b": 3}, 0)
        6
    """
    missing = object()
    acc = missing if initializer is None else initializer

    def walk(node, acc):
        if is_leaf is None or not is_leaf(node):
            if isinstance(node, (list, tuple)):
                for child in node:
                    acc = walk(child, acc)
                return acc
            if isinstance(node, dict):
                for child in node.values():
                    acc = walk(child, acc)
                return acc
        return node if acc is missing else fn(acc, node)

    acc = walk(tree, acc)
    return None if acc is missing else acc


def tree_merge(tree_a: Any, tree_b: Any, merge_fn: Optional[Callable] = None) -> Any:
    """Merge two trees into one.

    Empty containers and ``None`` count as absent, so the other tree's node is
    taken. Where both trees hold a leaf at the same place ``merge_fn(a, b)``
    decides; without ``merge_fn`` that raises ValueError.

    Example:
        >>> tree_merge({"a": [1, {}]}, {"a": [{}, 2], "b": 3})
        {'a': [1, 2], 'b': 3}
    """

    def empty(t):
        return t is None or (isinstance(t, (dict, list, tuple)) and len(t) == 0)

    if empty(tree_a):
        return tree_b if tree_b is not None else tree_a
    if empty(tree_b):
        return tree_a

    if isinstance(tree_a, (list, tuple)) and isinstance(tree_b, (list, tuple)):
        items = [tree_merge(a, b, merge_fn) for a, b in zip_longest(tree_a, tree_b)]
        return _rebuild_sequence(tree_a, items)
    if isinstance(tree_a, dict) and isinstance(tree_b, dict):
        out = {}
        for k in list(tree_a.keys()) + [k for k in tree_b if k not in tree_a]:
            out[k] = tree_merge(tree_a.get(k), tree_b.get(k), merge_fn)
        return out
    if isinstance(tree_a, (list, tuple, dict)) or isinstance(
        tree_b, (list, tuple, dict)
    ):
        raise ValueError(
            "[tree_merge] trees have different structures at the same location; "
            f"got {type(tree_a).__name__} and {type(tree_b).__name__}."
        )
    if merge_fn is None:
        raise ValueError(
            "Trees contain elements at the same locations but no merge function "
            "was provided"
        )
    return merge_fn(tree_a, tree_b)
