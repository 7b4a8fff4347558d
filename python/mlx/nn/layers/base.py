"""The Module base class: a dict of parameters and sub-modules."""

import textwrap
from typing import Any, Callable, List, Optional, Tuple, Union

import mlx.core as mx
from mlx.utils import tree_flatten, tree_unflatten


def _unwrap(module, key, value, filter_fn, map_fn, is_leaf_fn):
    """Filter and map one value of a module into a nested dict/list tree."""
    if is_leaf_fn(module, key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in value.items()
            if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = f"{key}.{k}"
            keep = filter_fn(module, sub, v)
            out[k] = (
                _unwrap(module, sub, v, filter_fn, map_fn, is_leaf_fn) if keep else {}
            )
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, v in enumerate(value):
            sub = f"{key}.{i}"
            keep = filter_fn(module, sub, v)
            out.append(
                _unwrap(module, sub, v, filter_fn, map_fn, is_leaf_fn) if keep else {}
            )
        return out
    raise RuntimeError(
        f"[Module] unexpected leaf while traversing the module; got {key!r} of "
        f"type {type(value).__name__}."
    )


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, (dict, list, tuple)) and len(value) == 0)


class Module(dict):
    """Base class for layers and models.

    A Module is a ``dict``: attributes that are arrays, modules, or lists/dicts of
    them are stored as items, so the module's parameters form a tree that
    ``mlx.utils`` functions and ``mx`` transforms can walk. Other attributes are
    ordinary Python attributes.

    Example:
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.layers = [nn.Linear(2, 8), nn.Linear(8, 1)]
        ...     def __call__(self, x):
        ...         return self.layers[1](nn.relu(self.layers[0](x)))
    """

    __call__: Callable

    def __init__(self):
        self._no_grad = set()
        self._training = True

    # -- attribute access --------------------------------------------------------
    def __getattr__(self, key: str):
        if key in self:
            return self[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any):
        if isinstance(value, (mx.array, dict, list, tuple)):
            if key in self.__dict__:
                del self.__dict__[key]
            self[key] = value
        else:
            if key in self:
                del self[key]
            super().__setattr__(key, value)

    def __delattr__(self, key: str):
        if key in self:
            del self[key]
        else:
            super().__delattr__(key)

    # dict's equality compares arrays elementwise; modules compare by identity.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    # -- mode and state ----------------------------------------------------------
    @property
    def training(self) -> bool:
        """Whether the module is in training mode."""
        return self._training

    @property
    def state(self):
        """The module's own dict: parameters, sub-modules and other array state.

        It is the module itself, so changes to it change the module.
        """
        return self

    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and all sub-modules."""

        def set_mode(_, m):
            m._set_training_mode(mode)

        self.apply_to_modules(set_mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (``train(False)``)."""
        return self.train(False)

    def _set_training_mode(self, mode: bool):
        self._training = mode

    # -- representation ----------------------------------------------------------
    def _extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        value = f"{type(self).__name__}({self._extra_repr()}"
        for k, v in children:
            value += "\n" + textwrap.indent(f"({k}): {repr(v)}", prefix="  ")
        if children:
            value += "\n"
        return value + ")"

    # -- filters -----------------------------------------------------------------
    @staticmethod
    def is_module(value) -> bool:
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value) -> bool:
        return isinstance(value, (dict, list, mx.array)) and not str(key).startswith(
            "_"
        )

    @staticmethod
    def trainable_parameter_filter(module, key, value) -> bool:
        return (
            Module.valid_parameter_filter(module, key, value)
            and key not in module._no_grad
        )

    def filter_and_map(
        self,
        filter_fn: Callable[["Module", str, Any], bool],
        map_fn: Optional[Callable] = None,
        is_leaf_fn: Optional[Callable[["Module", str, Any], bool]] = None,
    ) -> dict:
        """Select values with ``filter_fn`` and transform the leaves with ``map_fn``.

        Args:
            filter_fn: ``filter_fn(module, key, value)`` keeps a value when true.
                Nested keys are dotted relative to the owning module.
            map_fn: Applied to every leaf kept. Default: identity.
            is_leaf_fn: ``is_leaf_fn(module, key, value)`` stops the recursion.
                Default: anything that is not a module, dict, list or tuple.

        Returns:
            A dict tree. Filtered-out list and dict entries become ``{}`` so that
            list indices keep their meaning.
        """
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (
            lambda m, k, v: not isinstance(v, (Module, dict, list, tuple))
        )
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in self.items()
            if filter_fn(self, k, v)
        }

    # -- parameter and module views ---------------------------------------------
    def parameters(self) -> dict:
        """All arrays of this module and its sub-modules, as a nested dict."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self) -> dict:
        """The parameters that are not frozen, as a nested dict."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self) -> dict:
        """The direct sub-modules of this module, as a nested dict."""
        return self.filter_and_map(
            self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module)
        )

    def leaf_modules(self) -> dict:
        """The sub-modules that have no sub-modules of their own."""

        def is_leaf_module(m, k, v):
            return isinstance(v, Module) and not tree_flatten(
                v.children(), is_leaf=self.is_module
            )

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    def apply_to_modules(self, apply_fn: Callable[[str, "Module"], Any]) -> "Module":
        """Call ``apply_fn(path, module)`` on this module and every sub-module.

        The module itself has path ``""``; others have dotted paths.
        """
        stack = [("", self)]
        while stack:
            prefix, mod = stack.pop()
            apply_fn(prefix, mod)
            dotted = "." + prefix if prefix else ""
            stack.extend(tree_flatten(mod.children(), dotted, is_leaf=self.is_module))
        return self

    def modules(self) -> List["Module"]:
        """This module and all its sub-modules."""
        out = []
        self.apply_to_modules(lambda k, m: out.append(m))
        return out

    def named_modules(self) -> List[Tuple[str, "Module"]]:
        """``(path, module)`` for this module and all its sub-modules."""
        out = []
        self.apply_to_modules(lambda k, m: out.append((k, m)))
        return out

    # -- updates -----------------------------------------------------------------
    def update(self, parameters: dict, strict: bool = True) -> "Module":
        """Replace parameters with the arrays in ``parameters`` (a nested dict).

        Args:
            parameters: A tree like the one :meth:`parameters` returns. It may
                cover only part of the module.
            strict: Raise ValueError for entries that name no parameter of the
                module or that are not arrays.

        Returns:
            The module, updated in place.
        """

        def apply(dst, src, path):
            if isinstance(src, dict):
                for k, new in src.items():
                    sub = f"{path}.{k}" if path else k
                    if k not in dst:
                        if strict:
                            raise ValueError(
                                f"[Module.update] module has no parameter named "
                                f"{sub!r}; got an update for it."
                            )
                        continue
                    current = dst[k]
                    if isinstance(current, mx.array):
                        if not isinstance(new, mx.array):
                            if strict:
                                raise ValueError(
                                    f"[Module.update] expected an array for "
                                    f"parameter {sub!r}; got {type(new).__name__}."
                                )
                            continue
                        dst[k] = new
                    elif isinstance(current, (dict, list)):
                        if not _is_empty(new):
                            apply(current, new, sub)
                    elif strict and not _is_empty(new):
                        raise ValueError(
                            f"[Module.update] {sub!r} is not a parameter; "
                            f"got an update for it."
                        )
            elif isinstance(src, (list, tuple)):
                if not isinstance(dst, list):
                    if strict:
                        raise ValueError(
                            f"[Module.update] expected a dict at {path!r}; got a "
                            f"{type(src).__name__}."
                        )
                    return
                for i, new in enumerate(src):
                    sub = f"{path}.{i}"
                    if i >= len(dst):
                        if strict:
                            raise ValueError(
                                f"[Module.update] {path!r} has {len(dst)} entries; "
                                f"got an update for index {i}."
                            )
                        continue
                    current = dst[i]
                    if isinstance(current, mx.array):
                        if not isinstance(new, mx.array):
                            if strict:
                                raise ValueError(
                                    f"[Module.update] expected an array for "
                                    f"parameter {sub!r}; got {type(new).__name__}."
                                )
                            continue
                        dst[i] = new
                    elif isinstance(current, (dict, list)):
                        if not _is_empty(new):
                            apply(current, new, sub)
                    elif strict and not _is_empty(new):
                        raise ValueError(
                            f"[Module.update] {sub!r} is not a parameter; "
                            f"got an update for it."
                        )
            elif strict:
                raise ValueError(
                    f"[Module.update] expected a dict or list at {path or '<root>'!r}; "
                    f"got {type(src).__name__}."
                )

        if not isinstance(parameters, dict):
            raise ValueError(
                "[Module.update] parameters must be a dict; "
                f"got {type(parameters).__name__}."
            )
        apply(self, parameters, "")
        return self

    def update_modules(self, modules: dict, strict: bool = True) -> "Module":
        """Replace sub-modules with the modules in ``modules`` (a nested dict).

        Args:
            modules: A tree like the one :meth:`children` returns.
            strict: Raise ValueError for entries that name no sub-module or that
                are not modules.
        """

        def apply(dst, src, path):
            if isinstance(src, dict):
                items = src.items()
            elif isinstance(src, (list, tuple)):
                items = enumerate(src)
            else:
                if strict:
                    raise ValueError(
                        f"[Module.update_modules] expected a dict or list at "
                        f"{path or '<root>'!r}; got {type(src).__name__}."
                    )
                return
            for k, new in items:
                sub = f"{path}.{k}" if path else str(k)
                if isinstance(dst, dict):
                    exists = k in dst
                else:
                    exists = isinstance(k, int) and k < len(dst)
                if not exists:
                    if strict:
                        raise ValueError(
                            f"[Module.update_modules] module has no sub-module "
                            f"{sub!r}; got an update for it."
                        )
                    continue
                current = dst[k]
                if isinstance(new, Module):
                    if isinstance(current, Module) or not strict:
                        dst[k] = new
                    else:
                        raise ValueError(
                            f"[Module.update_modules] {sub!r} is not a module; "
                            f"got a {type(new).__name__}."
                        )
                elif isinstance(current, (dict, list)) and isinstance(
                    new, (dict, list, tuple)
                ):
                    apply(current, new, sub)
                elif strict and not _is_empty(new):
                    raise ValueError(
                        f"[Module.update_modules] expected a module for {sub!r}; "
                        f"got {type(new).__name__}."
                    )

        apply(self, modules, "")
        return self

    def apply(
        self,
        map_fn: Callable[[mx.array], mx.array],
        filter_fn: Optional[Callable[["Module", str, Any], bool]] = None,
    ) -> "Module":
        """Replace every parameter ``p`` selected by ``filter_fn`` with ``map_fn(p)``.

        Example:
            >>> model.apply(lambda p: p.astype(mx.float16))
        """
        filter_fn = filter_fn or self.valid_parameter_filter
        self.update(self.filter_and_map(filter_fn, map_fn), strict=False)
        return self

    def set_dtype(
        self,
        dtype: mx.Dtype,
        predicate: Optional[Callable[[mx.Dtype], bool]] = lambda t: mx.issubdtype(
            t, mx.floating
        ),
    ):
        """Cast the parameters whose dtype satisfies ``predicate`` to ``dtype``.

        By default only floating point parameters are cast.
        """
        predicate = predicate or (lambda t: True)
        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)

    # -- freezing ----------------------------------------------------------------
    def _local_parameter_keys(self) -> List[str]:
        tree = self.filter_and_map(
            lambda m, k, v: (
                not isinstance(v, Module) and m.valid_parameter_filter(m, k, v)
            )
        )
        return [k for k, _ in tree_flatten(tree)]

    def _validate_keys(self, keys, strict):
        keys = [keys] if isinstance(keys, str) else list(keys)
        if strict:
            known = set(self._local_parameter_keys())
            for k in keys:
                if k not in known:
                    raise KeyError(
                        f"[{type(self).__name__}] module has no parameter named {k!r}."
                    )
        return keys

    def freeze(
        self,
        *,
        recurse: bool = True,
        keys: Optional[Union[str, List[str]]] = None,
        strict: bool = False,
    ) -> "Module":
        """Exclude parameters from :meth:`trainable_parameters` (and so from grads).

        Args:
            recurse: Also freeze the sub-modules. Default: ``True``.
            keys: Parameter names (local to each module, e.g. ``"bias"``) to
                freeze. Default: all.
            strict: Raise for keys that are not parameters. Default: ``False``.

        Example:
            >>> model.freeze(keys="bias")  # freeze every bias
        """

        def freeze_one(_, m):
            local = keys
            if local is None:
                local = m._local_parameter_keys()
            local = m._validate_keys(local, strict)
            m._no_grad.update(local)

        if recurse:
            self.apply_to_modules(freeze_one)
        else:
            freeze_one("", self)
        return self

    def unfreeze(
        self,
        *,
        recurse: bool = True,
        keys: Optional[Union[str, List[str]]] = None,
        strict: bool = False,
    ) -> "Module":
        """Make frozen parameters trainable again (the inverse of :meth:`freeze`)."""

        def unfreeze_one(_, m):
            if keys is None:
                m._no_grad.clear()
            else:
                m._no_grad.difference_update(m._validate_keys(keys, strict))

        if recurse:
            self.apply_to_modules(unfreeze_one)
        else:
            unfreeze_one("", self)
        return self

    # -- weights files -----------------------------------------------------------
    def load_weights(
        self,
        file_or_weights: Union[str, List[Tuple[str, mx.array]]],
        strict: bool = True,
    ) -> "Module":
        """Load weights from a ``.npz`` / ``.safetensors`` file or a list of pairs.

        Args:
            file_or_weights: A path, or a list of ``(dotted_name, array)`` pairs.
            strict: Require exactly the module's parameters with their shapes.
                All missing, unexpected and mis-shaped weights are reported in one
                ValueError. Without strict, only the weights that exist are loaded.

        Example:
            >>> model.load_weights("weights.safetensors")
        """
        weights = file_or_weights
        if isinstance(weights, str) or hasattr(weights, "__fspath__"):
            weights = list(mx.load(str(weights)).items())
        elif isinstance(weights, dict):
            weights = list(weights.items())
        else:
            weights = list(weights)

        if strict:
            new = dict(weights)
            current = dict(tree_flatten(self.parameters()))
            problems = []
            extras = [k for k in new if k not in current]
            missing = [k for k in current if k not in new]
            if extras:
                problems.append(f"unexpected weights {extras}")
            if missing:
                problems.append(f"missing weights {missing}")
            for k, v in new.items():
                if k not in current:
                    continue
                if not isinstance(v, mx.array):
                    problems.append(
                        f"weight {k!r} is not an array (got {type(v).__name__})"
                    )
                elif tuple(v.shape) != tuple(current[k].shape):
                    problems.append(
                        f"weight {k!r} has shape {tuple(v.shape)} but the "
                        f"parameter has shape {tuple(current[k].shape)}"
                    )
            if problems:
                raise ValueError(
                    f"[load_weights] weights do not match {type(self).__name__}; "
                    f"got {'; '.join(problems)}."
                )
            self.update(tree_unflatten(weights), strict=True)
        else:
            current = dict(tree_flatten(self.parameters()))
            weights = [(k, v) for k, v in weights if k in current]
            if weights:
                self.update(tree_unflatten(weights), strict=False)
        return self

    def save_weights(self, file: str):
        """Save the parameters to a ``.npz`` or ``.safetensors`` file.

        Example:
            >>> model.save_weights("weights.safetensors")
        """
        file = str(file)
        params = dict(tree_flatten(self.parameters()))
        if file.endswith(".npz"):
            mx.savez(file, **params)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, params)
        else:
            raise ValueError(
                "[save_weights] unsupported file extension, use '.npz' or "
                f"'.safetensors'; got {file!r}."
            )
