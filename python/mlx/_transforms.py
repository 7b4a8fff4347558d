"""Function transforms over trees of arrays: grad, value_and_grad, vjp, jvp, vmap, compile."""

import functools
import inspect

from mlx import core as mx


# ---- tiny tree helpers (lists, tuples, dicts; arrays are leaves) ----
def _is_array(x):
    return isinstance(x, mx.array)


def _flatten_rec(t, leaves, is_leaf):
    if is_leaf(t):
        leaves.append(t)
        return ("L",)
    if isinstance(t, (list, tuple)):
        return (type(t), [_flatten_rec(x, leaves, is_leaf) for x in t])
    if isinstance(t, dict):
        return (dict, {k: _flatten_rec(v, leaves, is_leaf) for k, v in t.items()})
    return ("C", t)


def _flatten(tree, is_leaf=_is_array):
    """Returns (leaves, spec) for a tree of lists, tuples and dicts."""
    # Plain recursive functions (no self-referencing closures) so that no reference
    # cycle keeps arrays alive until the garbage collector runs.
    leaves = []
    spec = _flatten_rec(tree, leaves, is_leaf)
    return leaves, spec


def _unflatten_rec(s, it):
    if s[0] == "L":
        return next(it)
    if s[0] == "C":
        return s[1]
    if s[0] is dict:
        return {k: _unflatten_rec(v, it) for k, v in s[1].items()}
    typ = s[0]
    vals = [_unflatten_rec(x, it) for x in s[1]]
    if typ is tuple or typ is list:
        return typ(vals)
    try:
        return typ(*vals)  # namedtuple
    except TypeError:
        return typ(vals)


def _unflatten(spec, leaves):
    return _unflatten_rec(spec, iter(leaves))


def _check_float(x, name):
    if not mx.issubdtype(x.dtype, mx.inexact):
        raise ValueError(
            f"[{name}] gradients are only defined for floating point inputs; got dtype={x.dtype}."
        )


def value_and_grad(fun, argnums=None, argnames=None):
    """Returns a function computing fun's value and its gradient w.r.t. the chosen arguments.

    Args:
        fun: a function returning a scalar array, or a tuple whose first item is one.
        argnums: int or sequence of ints (default 0 when argnames is empty).
        argnames: str or sequence of keyword argument names.

    Example:
        >>> loss_and_grad = mx.value_and_grad(lambda w: (w * w).sum())
    """
    if argnames is None:
        argnames = []
    if isinstance(argnames, str):
        argnames = [argnames]
    if argnums is None:
        argnums = [] if argnames else 0
    single = isinstance(argnums, int)
    nums = [argnums] if single else list(argnums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"[grad] duplicate argnums; got {nums}.")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        for n in nums:
            if n >= len(args) or n < -len(args):
                raise ValueError(
                    f"[grad] can't compute the gradient of argument index {n} because the function is called with only {len(args)} positional arguments; got argnums={argnums}."
                )
        nums_ = [n % len(args) for n in nums]
        for k in argnames:
            if k not in kwargs:
                raise ValueError(f"[grad] can't compute the gradient of keyword argument '{k}' because the function was not called with it; got {sorted(kwargs)}.")
        if single and not argnames and isinstance(args[nums_[0]], mx.array):
            # One array argument: the tree helpers would only wrap and unwrap it.
            leaves, spec = [args[nums_[0]]], None
        else:
            targets = [args[n] for n in nums_] + [kwargs[k] for k in argnames]
            leaves, spec = _flatten(targets)
        for x in leaves:
            _check_float(x, "grad")
        aux = {}

        def flat_fun(xs):
            tree = xs if spec is None else _unflatten(spec, xs)
            a = list(args)
            kw = dict(kwargs)
            for i, n in enumerate(nums_):
                a[n] = tree[i]
            for j, k in enumerate(argnames):
                kw[k] = tree[len(nums_) + j]
            out = fun(*a, **kw)
            aux["out"] = out
            loss = out[0] if isinstance(out, (tuple, list)) else out
            if not isinstance(loss, mx.array):
                raise ValueError(
                    f"[grad] the function must return an array (or a tuple starting with one); got {type(loss).__name__}."
                )
            if loss.size != 1:
                raise ValueError(
                    f"[grad] the function must return a scalar array; got an output of shape {loss.shape}."
                )
            return [loss]

        if not leaves:
            out = fun(*args, **kwargs)
            grads_tree = _unflatten(spec, [])
        else:
            (loss,), grads = mx._vjp_flat(flat_fun, leaves, [mx.array(1.0)])
            out = aux["out"]
            grads_tree = grads if spec is None else _unflatten(spec, grads)
        pos = grads_tree[: len(nums_)]
        kw = {k: grads_tree[len(nums_) + j] for j, k in enumerate(argnames)}
        if argnames:
            g = ((pos[0] if single else tuple(pos)) if nums else tuple(), kw)
        else:
            g = pos[0] if single else tuple(pos)
        return out, g

    return wrapper


def grad(fun, argnums=None, argnames=None):
    """Returns a function computing the gradient of fun (see value_and_grad)."""
    vg = value_and_grad(fun, argnums, argnames)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapper


def vjp(fun, primals, cotangents):
    """Vector-Jacobian product: returns (outputs, vjps) for lists of arrays."""
    primals = list(primals)
    cotangents = list(cotangents)

    def flat(xs):
        out = fun(*xs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    outs, vjps = mx._vjp_flat(flat, primals, cotangents)
    return list(outs), list(vjps)


def jvp(fun, primals, tangents):
    """Jacobian-vector product: returns (outputs, jvps) for lists of arrays."""

    def flat(xs):
        out = fun(*xs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    outs, tans = mx._jvp_flat(flat, list(primals), list(tangents))
    return list(outs), list(tans)


def _axes_for(arg, ax, name):
    leaves, _ = _flatten(arg)
    if ax is None or isinstance(ax, int):
        return [(-1 if ax is None else ax) for _ in leaves]
    ax_leaves, _ = _flatten(ax, is_leaf=lambda x: x is None or isinstance(x, int))
    if len(ax_leaves) != len(leaves):
        raise ValueError(f"[vmap] {name} must match the structure of the arguments; got {ax}.")
    return [(-1 if a is None else a) for a in ax_leaves]


def vmap(fun, in_axes=0, out_axes=0):
    """Vectorizes fun over the given input axes; results are stacked along out_axes."""

    @functools.wraps(fun)
    def wrapper(*args):
        ia = in_axes
        if isinstance(ia, (list, tuple)):
            if len(ia) != len(args):
                raise ValueError(
                    f"[vmap] in_axes must have one entry per argument ({len(args)}); got {len(ia)}."
                )
        else:
            ia = [ia] * len(args)
        leaves, spec = _flatten(list(args))
        axes = []
        for a, x in zip(args, ia):
            axes += _axes_for(a, x, "in_axes")
        for leaf, ax in zip(leaves, axes):
            if ax >= 0 and ax >= max(leaf.ndim, 1):
                raise ValueError(
                    f"[vmap] in_axes {ax} is out of range for an input with {leaf.ndim} dimensions; got in_axes={ax}."
                )
            if ax < -1:
                raise ValueError(f"[vmap] in_axes must be non-negative or None; got {ax}.")
        out_spec = {}

        def flat(xs):
            tree = _unflatten(spec, xs)
            out = fun(*tree)
            ol, os_ = _flatten(out)
            out_spec["spec"] = os_
            return ol

        # Per-output axes need the output structure; trace once with the default first.
        outs = mx._vmap_flat(flat, leaves, axes, [0])
        oa = out_axes
        if isinstance(oa, int) or oa is None:
            res = outs if oa == 0 else mx._vmap_flat(flat, leaves, axes, [(-1 if oa is None else oa)])
        else:
            tree_out = _unflatten(out_spec["spec"], outs)
            oal = []
            if isinstance(tree_out, (list, tuple)) and isinstance(oa, (list, tuple)):
                for o, x in zip(tree_out, oa):
                    oal += _axes_for(o, x, "out_axes")
            else:
                oal = _axes_for(tree_out, oa, "out_axes")
            res = mx._vmap_flat(flat, leaves, axes, oal)
        return _unflatten(out_spec["spec"], res)

    return wrapper


_compile_enabled = [True]


def disable_compile():
    _compile_enabled[0] = False


def enable_compile():
    _compile_enabled[0] = True


_MISSING = object()


def _fill(tree, leaves_iter):
    """Writes leaves back into mutable containers (lists, dicts) in place.

    Stops quietly when the leaves run out: containers may have grown new entries (for
    example optimizer state created during a trace) that have no value to restore.
    """

    def put(container, key):
        v = next(leaves_iter, _MISSING)
        if v is not _MISSING:
            container[key] = v

    if isinstance(tree, list):
        for i, x in enumerate(tree):
            if isinstance(x, mx.array):
                put(tree, i)
            else:
                _fill(x, leaves_iter)
    elif isinstance(tree, dict):
        for k, x in list(tree.items()):
            if isinstance(x, mx.array):
                put(tree, k)
            else:
                _fill(x, leaves_iter)
    elif isinstance(tree, tuple):
        for x in tree:
            if isinstance(x, mx.array):
                raise ValueError("[compile] state in tuples can't be updated in place; use lists or dicts.")
            _fill(x, leaves_iter)


def _const_key(spec):
    """A hashable description of a tree spec, including its non-array constants."""
    kind = spec[0]
    if kind == "L":
        return ("L",)
    if kind == "C":
        v = spec[1]
        try:
            hash(v)
            return ("C", type(v).__name__, v)
        except TypeError:
            return ("C", type(v).__name__, id(v))
    if kind is dict:
        return ("D", tuple((k, _const_key(v)) for k, v in spec[1].items()))
    return (getattr(kind, "__name__", str(kind)), tuple(_const_key(x) for x in spec[1]))


def compile(fun=None, inputs=None, outputs=None, shapeless=False):
    """Returns a compiled version of fun.

    The first call for each input signature (tree structure, shapes, dtypes and non-array
    constants) traces fun into a graph; duplicate nodes are merged and chains of
    elementwise ops are fused into single kernels. Later calls replay the graph without
    running Python. `inputs` and `outputs` name state that fun reads and updates (for
    example model parameters and optimizer state), as in MLX. Calling eval inside fun
    raises while it is being traced.

    With ``shapeless=True`` the signature leaves shapes out (ranks and dtypes stay in it):
    a trace is replayed on inputs of new shapes, every node's shape being inferred again
    (reshapes replay as merges and splits of the traced dimensions). Where a node's shape
    can't be inferred (a reshape to sizes unrelated to the inputs', say), the function is
    traced again for those shapes. As in MLX, Python code that reads ``x.shape`` sees the
    traced shapes only.
    """
    if fun is None:
        return lambda f: compile(f, inputs=inputs, outputs=outputs, shapeless=shapeless)
    cache = {}

    array = mx.array

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        if not _compile_enabled[0]:
            return fun(*args, **kwargs)
        if not kwargs and all(type(a) is array for a in args):
            # Fast path: positional arrays only (the structure key is just their count).
            leaves = list(args)
            spec = None
            base = (len(args),)
        else:
            leaves, spec = _flatten((args, kwargs))
            base = (_const_key(spec),)
        state_in = _flatten(inputs)[0] if inputs is not None else []
        all_in = leaves + state_in if state_in else leaves
        base = base + (len(state_in),)
        key = base + (tuple([(x.shape, x.dtype) for x in all_in]),)
        entry = cache.get(key)
        loose = None
        if entry is None and shapeless:
            loose = base + (tuple((x.ndim, x.dtype) for x in all_in), "shapeless")
            entry = cache.get(loose)

        def trace():
            info = {}
            n_args = len(leaves)

            def flat(xs):
                if spec is None:
                    a, kw = xs[:n_args], {}
                else:
                    a, kw = _unflatten(spec, xs[:n_args])
                if inputs is not None:
                    _fill(inputs, iter(xs[n_args:]))
                try:
                    out = fun(*a, **kw)
                    st = _flatten(outputs)[0] if outputs is not None else []
                finally:
                    if inputs is not None:
                        _fill(inputs, iter(state_in))
                if type(out) is array:
                    ol, os_ = [out], None  # a single array
                else:
                    ol, os_ = _flatten(out)
                info["spec"] = os_
                info["n_out"] = len(ol)
                return ol + st

            graph = mx._compile_graph(flat, all_in)
            return (graph, info["spec"], info["n_out"])

        if entry is None:
            entry = trace()
            cache[loose if loose is not None else key] = entry
            res = entry[0](all_in)
        else:
            try:
                res = entry[0](all_in)
            except ValueError as e:
                # A shapeless trace that can't be replayed on these shapes: trace them.
                if loose is None or "reuse the shapeless trace" not in str(e):
                    raise
                entry = trace()
                cache[key] = entry
                res = entry[0](all_in)
        graph, out_spec, n_out = entry
        if outputs is not None:
            _fill(outputs, iter(res[n_out:]))
        if out_spec is None:
            return res[0]
        return _unflatten(out_spec, res[:n_out])

    return wrapper


class custom_function:
    """Wraps a function so that transforms use user-given rules.

    Example:
        >>> @mx.custom_function
        ... def f(x):
        ...     return mx.sin(x)
        >>> @f.vjp
        ... def f_vjp(primals, cotangent, output):
        ...     return mx.cos(primals[0]) * cotangent
    """

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._vjp = None
        self._jvp = None
        self._vmap = None

    def vjp(self, f):
        self._vjp = f
        return f

    def jvp(self, f):
        self._jvp = f
        return f

    def vmap(self, f):
        self._vmap = f
        return f

    def __call__(self, *args, **kwargs):
        leaves, spec = _flatten(list(args))
        out = self._fun(*args, **kwargs)
        out_leaves, out_spec = _flatten(out)
        single_out = isinstance(out, mx.array)

        def as_tree(xs, sp):
            return _unflatten(sp, list(xs))

        vjp_cb = jvp_cb = vmap_cb = None
        if self._vjp is not None:
            def vjp_cb(primals, cotangents, outputs):
                p = as_tree(primals, spec)
                c = cotangents[0] if single_out else as_tree(cotangents, out_spec)
                o = outputs[0] if single_out else as_tree(outputs, out_spec)
                g = self._vjp(p, c, o)
                gl, _ = _flatten(g)
                return gl
        else:
            fun = self._fun

            def vjp_cb(primals, cotangents, outputs):
                def flat(*xs):
                    r = fun(*_unflatten(spec, list(xs)), **kwargs)
                    return _flatten(r)[0]
                return vjp(flat, primals, cotangents)[1]
        if self._jvp is not None:
            def jvp_cb(primals, tangents, argnums):
                t = [mx.zeros_like(p) for p in primals]
                for k, a in enumerate(argnums):
                    t[a] = tangents[k]
                r = self._jvp(as_tree(primals, spec), as_tree(t, spec))
                return _flatten(r)[0]
        if self._vmap is not None:
            def vmap_cb(inputs, axes):
                r, ax = self._vmap(as_tree(inputs, spec), [None if a < 0 else a for a in axes])
                rl, _ = _flatten(r)
                axl = [ax] if isinstance(ax, int) or ax is None else list(ax)
                return rl, [(-1 if a is None else a) for a in axl]
        res = mx._custom_transforms(leaves, out_leaves, vjp_cb, jvp_cb, vmap_cb)
        return _unflatten(out_spec, res)


def checkpoint(fun):
    """Returns fun with its intermediates recomputed in the backward pass instead of kept.

    The forward result is computed from stop-gradient copies of the inputs, so no graph
    from inputs to outputs is held for the backward pass; the vjp traces fun again.
    """

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        leaves, spec = _flatten(list(args))
        holder = {}

        def flat(*xs):
            out = fun(*_unflatten(spec, list(xs)), **kwargs)
            ol, holder["spec"] = _flatten(out)
            return ol

        fwd = flat(*[mx.stop_gradient(x) for x in leaves])
        res = mx._custom_transforms(leaves, fwd, lambda p, c, o: vjp(flat, list(p), list(c))[1], None, None)
        return _unflatten(holder["spec"], res)

    return wrapper
