"""NumPy-style indexing for arrays: __getitem__, __setitem__ and array.at[...]."""

from mlx import core as mx

_SCATTER_NONE, _SCATTER_ADD, _SCATTER_PROD, _SCATTER_MAX, _SCATTER_MIN = range(5)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _to_index_array(x):
    if isinstance(x, mx.array):
        return x
    return mx.array(x)


def _normalize(a, idx, allow_foreign=False):
    """Expands the index into a list with one entry (int, slice, None or array) per dimension."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = []
    for x in idx:
        if isinstance(x, list) or (allow_foreign and hasattr(x, "__array__") and not isinstance(x, mx.array)):
            x = mx.array(x)
        if isinstance(x, mx.array) and x.ndim == 0 and mx.issubdtype(x.dtype, mx.integer):
            items.append(x)
            continue
        if not (x is None or x is Ellipsis or _is_int(x) or isinstance(x, (slice, mx.array))):
            if hasattr(x, "__index__") and not isinstance(x, bool) and not hasattr(x, "__array__"):
                x = int(x.__index__())
            else:
                raise ValueError(
                    f"[getitem] only integers, slices, None, Ellipsis and integer arrays are valid indices; got {type(x).__name__}."
                )
        items.append(x)
    n_ell = sum(1 for x in items if x is Ellipsis)
    if n_ell > 1:
        raise ValueError("[getitem] an index can only have a single ellipsis; got several.")
    consumed = sum(1 for x in items if x is not None and x is not Ellipsis)
    # Boolean arrays consume as many dims as they have.
    consumed += sum(x.ndim - 1 for x in items if isinstance(x, mx.array) and x.dtype == mx.bool_)
    if consumed > a.ndim:
        raise ValueError(
            f"[getitem] too many indices for an array with {a.ndim} dimensions; got {consumed}."
        )
    if n_ell:
        i = next(k for k, x in enumerate(items) if x is Ellipsis)
        items = items[:i] + [slice(None)] * (a.ndim - consumed) + items[i + 1 :]
    else:
        items = items + [slice(None)] * (a.ndim - consumed)
    return items


def _bounds(x, n):
    b, e, s = x.indices(n)
    k = len(range(b, e, s))
    if s < 0:
        # Python uses -1 for "before index 0"; the C++ side reads -1 as the last element.
        if e < 0:
            e = -n - 1
        if b < 0:
            b = -n - 1
    return b, e, s, k


def _window(a, items, op):
    """Start/stop/step per dimension for ints, slices and None, the window's shape (ints
    keep a size-1 dim) and the result's shape (ints dropped, None inserted)."""
    start, stop, step, win, out_shape = [], [], [], [], []
    d = 0
    for x in items:
        if x is None:
            out_shape.append(1)
            continue
        n = a.shape[d]
        if _is_int(x):
            i = x + n if x < 0 else x
            if i < 0 or i >= n:
                raise IndexError(f"[{op}] index {x} is out of bounds for axis {d} with size {n}; got {x}.")
            start.append(i)
            stop.append(i + 1)
            step.append(1)
            win.append(1)
        else:
            b, e, s, k = _bounds(x, n)
            start.append(b)
            stop.append(e)
            step.append(s)
            win.append(k)
            out_shape.append(k)
        d += 1
    return start, stop, step, win, out_shape


def _basic(a, items):
    """Applies ints, slices and None as a view."""
    start, stop, step, _, out_shape = _window(a, items, "getitem")
    out = mx._slice(a, start, stop, step) if a.ndim else a
    if tuple(out_shape) != out.shape:
        out = mx.reshape(out, out_shape)
    return out


def getitem(a, idx):
    items = _normalize(a, idx)
    has_array = any(isinstance(x, mx.array) for x in items)
    if not has_array:
        return _basic(a, items)
    for x in items:
        if isinstance(x, mx.array) and x.dtype == mx.bool_:
            raise ValueError(
                "[getitem] boolean mask indexing is not supported (the result shape depends on the data); "
                f"got a mask of shape {x.shape}."
            )
        if isinstance(x, mx.array) and not mx.issubdtype(x.dtype, mx.integer):
            raise ValueError(f"[gather] arrays used as indices must be integers; got dtype={x.dtype}.")
    # Insert new axes for None first, so every remaining entry maps to one dim.
    if any(x is None for x in items):
        shape = []
        d = 0
        new_items = []
        for x in items:
            if x is None:
                shape.append(1)
                new_items.append(slice(None))
            else:
                shape.append(a.shape[d])
                new_items.append(x)
                d += 1
        a = mx.reshape(a, shape)
        items = new_items
    # Ints become 0-d index arrays when mixed with arrays.
    items = [mx.array(x, dtype=mx.int32) if _is_int(x) else x for x in items]
    # Apply slices, keep array dims whole.
    sl = [x if isinstance(x, slice) else slice(None) for x in items]
    a = _basic(a, sl)
    adv = [d for d, x in enumerate(items) if isinstance(x, mx.array)]
    idx_arrays = mx.broadcast_arrays(*[items[d] for d in adv])
    bshape = idx_arrays[0].shape
    sizes = [a.shape[d] for d in adv]
    flat = None
    mult = 1
    for d_i, ix, n in reversed(list(zip(adv, idx_arrays, sizes))):
        ix = ix.astype(mx.int64) if ix.dtype in (mx.int64, mx.uint64, mx.uint32) else ix.astype(mx.int32)
        ix = mx.where(ix < 0, ix + n, ix)
        term = ix * mult if mult != 1 else ix
        flat = term if flat is None else flat + term
        mult *= n
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    if adjacent:
        d0 = adv[0]
        merged = list(a.shape[:d0]) + [mult] + list(a.shape[adv[-1] + 1 :])
        x = mx.reshape(a, merged)
        return mx.take(x, flat, axis=d0)
    rest = [d for d in range(a.ndim) if d not in adv]
    x = mx.transpose(a, adv + rest)
    x = mx.reshape(x, [mult] + [a.shape[d] for d in rest])
    return mx.take(x, flat, axis=0)


def _is_basic(items):
    return not any(isinstance(x, mx.array) for x in items)


def _update(a, idx, value, mode):
    """Returns a copy of `a` with a[idx] updated by value under `mode`."""
    if not isinstance(value, mx.array):
        value = mx.array(value, dtype=a.dtype) if not isinstance(value, (list, tuple)) else mx.array(value)
    if value.dtype != a.dtype:
        value = value.astype(a.dtype)
    # Boolean mask: a[mask] = v
    raw = idx if isinstance(idx, tuple) else (idx,)
    if len(raw) == 1 and not isinstance(raw[0], (slice, int)) and raw[0] is not None and raw[0] is not Ellipsis:
        m = raw[0] if isinstance(raw[0], mx.array) else mx.array(raw[0])
        if m.dtype == mx.bool_:
            if m.ndim > a.ndim or m.shape != a.shape[: m.ndim]:
                raise ValueError(
                    f"[setitem] a boolean mask must match the leading dimensions of the array; got mask.shape={m.shape}, a.shape={a.shape}."
                )
            sel_shape = m.shape + (1,) * (a.ndim - m.ndim)
            mb = mx.reshape(m, sel_shape)
            try:
                vb = mx.broadcast_to(value, a.shape)
            except ValueError:
                vb = None
            if vb is not None and mode == _SCATTER_NONE:
                return mx.where(mb, vb, a)
            # The values fill the selected positions in order: find them.
            flat_mask = mx.reshape(m, (-1,)).tolist()
            rows = [i for i, t in enumerate(flat_mask) if t]
            inner = a.shape[m.ndim :]
            sel = mx.reshape(a, (-1,) + inner) if m.ndim else mx.reshape(a, (1,) + inner)
            rows_a = mx.array(rows, dtype=mx.int32)
            v = value
            if vb is not None:
                v = mx.broadcast_to(value, (len(rows),) + inner) if rows else value
            elif v.size != len(rows) * (math_prod(inner)):
                raise ValueError(
                    f"[setitem] the value must broadcast to the array or fill the {len(rows)} selected rows; got value.shape={value.shape}."
                )
            if not rows:
                return a
            v = mx.reshape(v, (len(rows),) + inner)
            out = mx._scatter(sel, rows_a, v, 0, mode)
            return mx.reshape(out, a.shape)
    if isinstance(idx, tuple) is False and idx is Ellipsis and mode == _SCATTER_NONE:
        return mx.broadcast_to(value, a.shape)
    items = _normalize(a, idx, allow_foreign=True)
    if mode == _SCATTER_NONE and _is_basic(items):
        # Strided window update.
        start, stop, step, win, out_shape = _window(a, items, "setitem")
        v = value
        while v.ndim > len(out_shape) and v.shape[0] == 1:
            v = mx.reshape(v, v.shape[1:])
        v = mx.broadcast_to(v, out_shape)
        v = mx.reshape(v, win)
        if a.ndim == 0:
            return mx.reshape(v, ())
        return mx._slice_update(a, v, start, stop, step)
    # General case: find the flat positions selected by idx, then scatter.
    ids = mx.reshape(mx.arange(a.size, dtype=mx.int32), a.shape)
    sel = getitem(ids, idx)
    v = value
    while v.ndim > sel.ndim and v.shape[0] == 1:
        v = mx.reshape(v, v.shape[1:])
    v = mx.broadcast_to(v, sel.shape)
    flat = mx._scatter(mx.reshape(a, (-1,)), mx.reshape(sel, (-1,)), mx.reshape(v, (-1,)), 0, mode)
    return mx.reshape(flat, a.shape)


def math_prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def setitem(a, idx, value):
    if idx is Ellipsis:
        # MLX rebinds `a` to the value broadcast to a.shape, keeping the value's dtype.
        # A Python scalar goes through weak promotion with the array (int8 and 2 give
        # int8, int32 and 2.5 float32); other values keep their own dtype.
        if isinstance(value, mx.array):
            v = value
        elif isinstance(value, (bool, int, float, complex)):
            v = mx.array(value, (mx.zeros((1,), a.dtype) + value).dtype)
        else:
            v = mx.array(value)
        a._overwrite(mx.broadcast_to(v, a.shape))
        return
    a._overwrite(_update(a, idx, value, _SCATTER_NONE))


def _is_mask(idx):
    return isinstance(idx, mx.array) and idx.dtype == mx.bool_


def _mask_of(idx, a):
    return mx.reshape(idx, idx.shape + (1,) * (a.ndim - idx.ndim))


class ArrayAt:
    """Functional scatter updates: a.at[idx].add(v) returns a new array."""

    def __init__(self, a, idx=None):
        self._a = a
        self._idx = idx

    def __getitem__(self, idx):
        return ArrayAt(self._a, idx)

    def _check(self):
        if self._idx is None:
            raise ValueError("[at] an index is needed, as in a.at[idx].add(v); got none.")

    def add(self, v):
        self._check()
        return _update(self._a, self._idx, v, _SCATTER_ADD)

    def subtract(self, v):
        self._check()
        return _update(self._a, self._idx, -mx.array(v, dtype=self._a.dtype) if not isinstance(v, mx.array) else -v, _SCATTER_ADD)

    def multiply(self, v):
        self._check()
        return _update(self._a, self._idx, v, _SCATTER_PROD)

    def divide(self, v):
        self._check()
        a = self._a
        if mx.issubdtype(a.dtype, mx.inexact):
            r = mx.reciprocal(v if isinstance(v, mx.array) else mx.array(v, dtype=a.dtype))
            return _update(a, self._idx, r, _SCATTER_PROD)
        # Integer arrays: divide the selected values (truncating like the array's dtype).
        cur = getitem(a, self._idx) if not _is_mask(self._idx) else a
        new = (cur / v).astype(a.dtype)
        if _is_mask(self._idx):
            return mx.where(_mask_of(self._idx, a), new, a)
        return _update(a, self._idx, new, _SCATTER_NONE)

    def maximum(self, v):
        self._check()
        return _update(self._a, self._idx, v, _SCATTER_MAX)

    def minimum(self, v):
        self._check()
        return _update(self._a, self._idx, v, _SCATTER_MIN)


class ArrayIterator:
    def __init__(self, a):
        if a.ndim == 0:
            raise TypeError("[iter] iteration over a 0-d array; got shape=().")
        self._a = a
        self._i = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._i >= self._a.shape[0]:
            raise StopIteration
        r = getitem(self._a, self._i)
        self._i += 1
        return r
