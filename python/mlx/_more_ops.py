"""Composite ops of mlx.core written in Python: median, meshgrid, einsum and einsum_path,
tensordot, inner, outer, kron, addmm, diff, window functions, vecdot, isdtype and
block_masked_mm. Gradients and vmap come from the ops they are built from."""

import math
import string


def install(mx):
    def _arr(x):
        return x if isinstance(x, mx.array) else mx.array(x)

    def _float_of(t):
        return t if mx.issubdtype(t, mx.inexact) else mx.float32

    # ------------------------------------------------------------------ median
    def median(a, /, axis=None, keepdims=False, *, stream=None):
        """Median of the elements over the given axes (NaN if any is NaN)."""
        a = _arr(a)
        nd = a.ndim
        if axis is None:
            axes = list(range(nd))
        else:
            axes = [axis] if isinstance(axis, int) else list(axis)
        norm = []
        for ax in axes:
            if not -nd <= ax < nd:
                raise mx._AxisError(f"[median] axis {ax} is out of bounds for an array with {nd} dimensions; "
                                 f"got axis={ax}.")
            norm.append(ax % nd)
        if len(set(norm)) != len(norm):
            raise ValueError(f"[median] received duplicate axes; got axis={axis}.")
        keep = [i for i in range(nd) if i not in norm]
        n = 1
        for ax in norm:
            n *= a.shape[ax]
        if n == 0:
            raise ValueError(f"[median] cannot take the median over an empty axis; got shape={a.shape}.")
        t = _float_of(a.dtype)
        x = mx.transpose(a, keep + norm, stream=stream) if nd else a
        x = mx.reshape(x, [a.shape[i] for i in keep] + [n], stream=stream).astype(t)
        s = mx.sort(x, axis=-1, stream=stream)
        if n % 2:
            m = s[..., n // 2]
        else:
            m = (s[..., n // 2 - 1] + s[..., n // 2]) * mx.array(0.5, t)
        if mx.issubdtype(t, mx.floating):
            m = mx.where(mx.any(mx.isnan(x), axis=-1, stream=stream), mx.array(math.nan, t), m, stream=stream)
        if keepdims:
            m = mx.reshape(m, [1 if i in norm else a.shape[i] for i in range(nd)], stream=stream)
        return m

    # ------------------------------------------------------------------ meshgrid
    def meshgrid(*arrays, sparse=False, indexing="xy", stream=None):
        """Coordinate arrays from coordinate vectors (``indexing`` 'xy' or 'ij')."""
        if indexing not in ("xy", "ij"):
            raise ValueError(f"[meshgrid] indexing must be 'xy' or 'ij'; got '{indexing}'.")
        xs = [mx.reshape(_arr(x), (-1,), stream=stream) for x in arrays]
        n = len(xs)
        if n == 0:
            return ()
        dims = list(range(n))
        if indexing == "xy" and n >= 2:
            dims[0], dims[1] = 1, 0
        shape = [0] * n
        for x, d in zip(xs, dims):
            shape[d] = x.size
        out = []
        for x, d in zip(xs, dims):
            sh = [1] * n
            sh[d] = x.size
            y = mx.reshape(x, sh, stream=stream)
            out.append(y if sparse else mx.broadcast_to(y, shape, stream=stream))
        return tuple(out)

    # ------------------------------------------------------------------ tensordot family
    def _matmul_2d(a2, b2, stream):
        return mx.matmul(a2, b2, stream=stream)

    def tensordot(a, b, /, axes=2, *, stream=None):
        """Sum of products over the given axes of a and b."""
        a, b = _arr(a), _arr(b)
        if isinstance(axes, int):
            if axes < 0:
                raise ValueError(f"[tensordot] axes must be non-negative; got axes={axes}.")
            if axes > a.ndim or axes > b.ndim:
                raise ValueError(f"[tensordot] axes must not exceed the number of dimensions of a and b; "
                                 f"got axes={axes} for a.ndim={a.ndim}, b.ndim={b.ndim}.")
            ax_a = list(range(a.ndim - axes, a.ndim))
            ax_b = list(range(axes))
        else:
            try:
                aa, bb = axes
            except (TypeError, ValueError):
                raise ValueError(f"[tensordot] axes must be an int or a pair of axis lists; got {axes}.") from None
            ax_a = [aa] if isinstance(aa, int) else list(aa)
            ax_b = [bb] if isinstance(bb, int) else list(bb)
            if len(ax_a) != len(ax_b):
                raise ValueError(f"[tensordot] the two axis lists must have the same length; got {axes}.")
        for ax, x, name in [(ax_a, a, "a"), (ax_b, b, "b")]:
            for i in ax:
                if not -x.ndim <= i < x.ndim:
                    raise ValueError(f"[tensordot] axis {i} is out of bounds for {name} with {x.ndim} dimensions; "
                                     f"got axes={axes}.")
        ax_a = [i % a.ndim for i in ax_a]
        ax_b = [i % b.ndim for i in ax_b]
        for i, j in zip(ax_a, ax_b):
            if a.shape[i] != b.shape[j]:
                raise ValueError(f"[tensordot] a and b must have the same size on the contracted axes; got "
                                 f"a.shape={a.shape}, b.shape={b.shape}, axes={axes}.")
        free_a = [i for i in range(a.ndim) if i not in ax_a]
        free_b = [i for i in range(b.ndim) if i not in ax_b]
        k = 1
        for i in ax_a:
            k *= a.shape[i]
        ma = 1
        for i in free_a:
            ma *= a.shape[i]
        nb = 1
        for i in free_b:
            nb *= b.shape[i]
        a2 = mx.reshape(mx.transpose(a, free_a + ax_a, stream=stream), (ma, k), stream=stream)
        b2 = mx.reshape(mx.transpose(b, ax_b + free_b, stream=stream), (k, nb), stream=stream)
        out = _matmul_2d(a2, b2, stream)
        return mx.reshape(out, [a.shape[i] for i in free_a] + [b.shape[i] for i in free_b], stream=stream)

    def inner(a, b, /, *, stream=None):
        """Inner product over the last axes of a and b."""
        a, b = _arr(a), _arr(b)
        if a.ndim == 0 or b.ndim == 0:
            return mx.multiply(a, b, stream=stream)
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(f"[inner] a and b must have the same last dimension; got a.shape={a.shape}, "
                             f"b.shape={b.shape}.")
        return tensordot(a, b, axes=([-1], [-1]), stream=stream)

    def outer(a, b, /, *, stream=None):
        """Outer product of the flattened a and b."""
        a, b = _arr(a), _arr(b)
        return mx.multiply(mx.reshape(a, (-1, 1), stream=stream), mx.reshape(b, (1, -1), stream=stream),
                           stream=stream)

    def kron(a, b, *, stream=None):
        """Kronecker product of a and b."""
        a, b = _arr(a), _arr(b)
        nd = max(a.ndim, b.ndim)
        sa = [1] * (nd - a.ndim) + list(a.shape)
        sb = [1] * (nd - b.ndim) + list(b.shape)
        ea, eb = [], []
        for x, y in zip(sa, sb):
            ea += [x, 1]
            eb += [1, y]
        r = mx.multiply(mx.reshape(a, ea, stream=stream), mx.reshape(b, eb, stream=stream), stream=stream)
        return mx.reshape(r, [x * y for x, y in zip(sa, sb)], stream=stream)

    def addmm(c, a, b, /, alpha=1.0, beta=1.0, *, stream=None):
        """``alpha * (a @ b) + beta * c``."""
        a, b, c = _arr(a), _arr(b), _arr(c)
        t = mx.result_type(a, b, c)
        if not mx.issubdtype(t, mx.floating):
            raise ValueError(f"[addmm] only real floating point types are supported; got {a.dtype}, {b.dtype} "
                             f"and {c.dtype}, which give {t}.")
        ab = mx.matmul(a.astype(t), b.astype(t), stream=stream)
        try:
            ok = tuple(mx.broadcast_shapes(c.shape, ab.shape)) == tuple(ab.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"[addmm] c must broadcast to the output shape {ab.shape}; got c.shape={c.shape}.")
        out = ab if alpha == 1.0 else mx.multiply(ab, mx.array(alpha, t), stream=stream)
        cc = c.astype(t)
        return mx.add(out, cc if beta == 1.0 else mx.multiply(cc, mx.array(beta, t), stream=stream), stream=stream)

    def vecdot(a, b, /, *, axis=-1, stream=None):
        """``sum(conj(a) * b, axis)``."""
        a, b = _arr(a), _arr(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"[vecdot] inputs must be at least 1-D; got a.ndim={a.ndim}, b.ndim={b.ndim}.")
        nd = max(a.ndim, b.ndim)
        if not -nd <= axis < nd:
            raise mx._AxisError(f"[vecdot] axis {axis} is out of bounds for arrays with {nd} dimensions; "
                             f"got axis={axis}.")
        ax = axis % nd
        sa = [1] * (nd - a.ndim) + list(a.shape)
        sb = [1] * (nd - b.ndim) + list(b.shape)
        if sa[ax] != sb[ax] and 1 not in (sa[ax], sb[ax]):
            raise ValueError(f"[vecdot] a and b must have the same size along the axis; got a.shape={a.shape}, "
                             f"b.shape={b.shape}, axis={axis}.")
        if mx.issubdtype(a.dtype, mx.complexfloating):
            a = mx.conj(a)
        return mx.sum(mx.multiply(a, b, stream=stream), axis=ax - nd, stream=stream)

    # ------------------------------------------------------------------ diff
    def diff(a, /, n=1, axis=-1, *, stream=None):
        """n-th discrete difference along an axis."""
        a = _arr(a)
        if n < 0:
            raise ValueError(f"[diff] the order n must be non-negative; got n={n}.")
        if not -a.ndim <= axis < a.ndim or a.ndim == 0:
            raise mx._AxisError(f"[diff] axis {axis} is out of bounds for an array with {a.ndim} dimensions; "
                             f"got axis={axis}.")
        ax = axis % a.ndim
        for _ in range(n):
            m = a.shape[ax]
            if m == 0:
                break
            hi = [slice(None)] * a.ndim
            lo = [slice(None)] * a.ndim
            hi[ax] = slice(1, None)
            lo[ax] = slice(None, m - 1)
            x, y = a[tuple(hi)], a[tuple(lo)]
            a = mx.not_equal(x, y, stream=stream) if a.dtype == mx.bool_ else mx.subtract(x, y, stream=stream)
        return a

    # ------------------------------------------------------------------ windows
    def _window(name, M, coeffs):
        if isinstance(M, bool) or not isinstance(M, int):
            raise TypeError(f"[{name}] M must be an int; got {type(M).__name__}.")
        if M < 1:
            return mx.zeros((0,), mx.float32)
        if M == 1:
            return mx.ones((1,), mx.float32)
        k = mx.arange(M, dtype=mx.float32) * (2 * math.pi / (M - 1))
        w = mx.full((M,), coeffs[0], mx.float32)
        for j, cj in enumerate(coeffs[1:], start=1):
            w = w + cj * mx.cos(j * k)
        return w

    def hanning(M, *, stream=None):
        """Hann window of M points."""
        return _window("hanning", M, [0.5, -0.5])

    def hamming(M, *, stream=None):
        """Hamming window of M points."""
        return _window("hamming", M, [0.54, -0.46])

    def blackman(M, *, stream=None):
        """Blackman window of M points."""
        return _window("blackman", M, [0.42, -0.5, 0.08])

    def bartlett(M, *, stream=None):
        """Bartlett (triangular) window of M points."""
        if isinstance(M, bool) or not isinstance(M, int):
            raise TypeError(f"[bartlett] M must be an int; got {type(M).__name__}.")
        if M < 1:
            return mx.zeros((0,), mx.float32)
        if M == 1:
            return mx.ones((1,), mx.float32)
        n = mx.arange(M, dtype=mx.float32)
        return 1 - mx.abs(2 * n / (M - 1) - 1)

    # ------------------------------------------------------------------ isdtype
    _kinds = {
        "bool": lambda t: t == mx.bool_,
        "signed integer": lambda t: mx.issubdtype(t, mx.signedinteger),
        "unsigned integer": lambda t: mx.issubdtype(t, mx.unsignedinteger),
        "integral": lambda t: mx.issubdtype(t, mx.integer),
        "real floating": lambda t: mx.issubdtype(t, mx.floating),
        "complex floating": lambda t: mx.issubdtype(t, mx.complexfloating),
        "numeric": lambda t: t != mx.bool_,
    }

    def isdtype(dtype, kind):
        """Whether dtype is of the given kind (a dtype, a kind name, or a tuple of these)."""
        if not isinstance(dtype, mx.Dtype):
            raise TypeError(f"[isdtype] dtype must be a Dtype; got {type(dtype).__name__}.")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        for k in kinds:
            if isinstance(k, mx.Dtype):
                if dtype == k:
                    return True
            elif isinstance(k, str):
                if k not in _kinds:
                    raise ValueError(f"[isdtype] unknown data type kind; got '{k}'.")
                if _kinds[k](dtype):
                    return True
            else:
                raise ValueError(f"[isdtype] kind must be a dtype, a string, or a tuple of these; got {k!r}.")
        return False

    # ------------------------------------------------------------------ block_masked_mm
    def block_masked_mm(a, b, /, block_size=64, mask_out=None, mask_lhs=None, mask_rhs=None, *, stream=None):
        """Matrix product with block masks on the output and operands (masks may be bool or float)."""
        a, b = _arr(a), _arr(b)
        if any(m is not None for m in (mask_out, mask_lhs, mask_rhs)) and block_size not in (32, 64):
            raise ValueError(f"[block_masked_mm] only block sizes 32 and 64 are supported; got {block_size}.")
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"[block_masked_mm] inputs must have at least one dimension; got a.shape={a.shape}, "
                             f"b.shape={b.shape}.")
        t = mx.result_type(a, b)
        if not mx.issubdtype(t, mx.floating):
            raise ValueError(f"[block_masked_mm] only real floating point types are supported; got {a.dtype} "
                             f"and {b.dtype}.")
        a1, b1 = a.ndim == 1, b.ndim == 1
        if a1:
            a = mx.reshape(a, (1, -1))
        if b1:
            b = mx.reshape(b, (-1, 1))
        M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
        if b.shape[-2] != K:
            raise ValueError(f"[block_masked_mm] a.shape[-1] must equal b.shape[-2]; got a.shape={a.shape}, "
                             f"b.shape={b.shape}.")
        batch = tuple(mx.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
        bs = block_size

        def expand(mask, r, c):
            mask = _arr(mask)
            tr, tc = -(-r // bs), -(-c // bs)
            mask = mx.broadcast_to(mask, batch + (tr, tc))
            mask = mx.repeat(mx.repeat(mask, bs, axis=-2), bs, axis=-1)[..., :r, :c]
            return mask.astype(t)

        a = a.astype(t)
        b = b.astype(t)
        if mask_lhs is not None:
            a = a * expand(mask_lhs, M, K)
        if mask_rhs is not None:
            b = b * expand(mask_rhs, K, N)
        out = mx.matmul(a, b, stream=stream)
        if mask_out is not None:
            out = out * expand(mask_out, M, N)
        if a1:
            out = mx.squeeze(out, -2)
        if b1:
            out = mx.squeeze(out, -1)
        return out

    # ------------------------------------------------------------------ einsum
    def _parse_einsum(subscripts, operands):
        s = subscripts.replace(" ", "")
        if "->" in s:
            lhs, out = s.split("->", 1)
            explicit = True
        else:
            lhs, out, explicit = s, "", False
        ins = lhs.split(",")
        if len(ins) != len(operands):
            raise ValueError(f"[einsum] the number of operands ({len(operands)}) must match the number of input "
                             f"subscripts ({len(ins)}); got '{subscripts}'.")
        for part in ins + [out]:
            for ch in part.replace("...", ""):
                if ch not in string.ascii_letters:
                    raise ValueError(f"[einsum] subscripts must be letters; got '{ch}' in '{subscripts}'.")
        used = set(ch for ch in s if ch in string.ascii_letters)
        free = [ch for ch in string.ascii_letters if ch not in used]
        # Expand ellipses into fresh labels, right-aligned across operands.
        ell_n = 0
        for part, x in zip(ins, operands):
            if "..." in part:
                ell_n = max(ell_n, x.ndim - (len(part) - 3))
        if ell_n > len(free):
            raise ValueError("[einsum] too many broadcast dimensions; got more than 52 labels.")
        ell = "".join(free[:ell_n])
        terms = []
        for i, (part, x) in enumerate(zip(ins, operands)):
            if "..." in part:
                k = x.ndim - (len(part) - 3)
                if k < 0:
                    raise ValueError(f"[einsum] invalid number of subscripts {len(part) - 3} for input {i} with "
                                     f"{x.ndim} dimensions.")
                part = part.replace("...", ell[ell_n - k:] if k else "")
            if len(part) != x.ndim:
                raise ValueError(f"[einsum] invalid number of subscripts {len(part)} for input {i} with {x.ndim} "
                                 f"dimensions; got '{subscripts}'.")
            terms.append(part)
        if explicit:
            if "..." in out:
                out = out.replace("...", ell)
            elif ell_n and any("..." in p for p in ins):
                pass
        else:
            counts = {}
            for t in terms:
                for ch in t:
                    counts[ch] = counts.get(ch, 0) + 1
            out = ell + "".join(sorted(ch for ch, c in counts.items() if c == 1 and ch not in ell))
        if len(set(out)) != len(out):
            raise ValueError(f"[einsum] repeated indices are not allowed in the output; got '{subscripts}'.")
        all_in = set("".join(terms))
        for ch in out:
            if ch not in all_in:
                raise ValueError(f"[einsum] output subscript '{ch}' does not appear in the inputs; got "
                                 f"'{subscripts}'.")
        # Sizes, with size-1 broadcasting.
        sizes = {}
        for i, (t, x) in enumerate(zip(terms, operands)):
            for ch, d in zip(t, x.shape):
                if ch not in sizes or sizes[ch] == 1:
                    sizes[ch] = d
        for i, (t, x) in enumerate(zip(terms, operands)):
            for j, (ch, d) in enumerate(zip(t, x.shape)):
                if d != sizes[ch] and d != 1:
                    raise ValueError(f"[einsum] cannot broadcast dimension {j} of input {i} with shape "
                                     f"{tuple(x.shape)} to size {sizes[ch]}.")
        return terms, out, sizes

    def _flops(labels, sizes, inner, nterms):
        n = 1
        for ch in labels:
            n *= sizes[ch]
        return n * (max(1, nterms - 1) + (1 if inner else 0))

    def _greedy_path(terms, out, sizes):
        sets = [set(t) for t in terms]
        path, steps = [], []

        def size_of(st):
            n = 1
            for ch in st:
                n *= sizes[ch]
            return n

        while len(sets) > 1:
            best = None
            for outer_ok in (False, True):
                for i in range(len(sets)):
                    for j in range(i + 1, len(sets)):
                        if not outer_ok and sets[i].isdisjoint(sets[j]):
                            continue
                        others = set(out)
                        for k, st in enumerate(sets):
                            if k != i and k != j:
                                others |= st
                        union = sets[i] | sets[j]
                        res = union & others
                        removed = size_of(sets[i]) + size_of(sets[j]) - size_of(res)
                        cost = _flops(union, sizes, len(union - res) > 0, 2)
                        key = (-removed, cost)
                        if best is None or key < best[0]:
                            best = (key, i, j, res, union, cost)
                if best is not None:
                    break
            _, i, j, res, union, cost = best
            path.append((i, j))
            steps.append((union, cost))
            sets = [st for k, st in enumerate(sets) if k not in (i, j)] + [res]
        return path, steps

    def _path_info(subscripts, terms, out, sizes):
        if len(terms) == 1:
            path = [(0,)]
            labels = set(terms[0])
            scaling = len(labels)
            naive = _flops(labels, sizes, len(labels - set(out)) > 0, 1)
            opt = naive
        else:
            path, steps = _greedy_path(terms, out, sizes)
            labels = set("".join(terms))
            scaling = max(len(u) for u, _ in steps)
            naive = _flops(labels, sizes, len(labels - set(out)) > 0, len(terms))
            opt = sum(c for _, c in steps)
        s = subscripts.replace(" ", "")
        if "->" not in s:
            s = s + "->" + out
        info = (f"  Complete contraction:  {s}\n"
                f"         Naive scaling:  {len(set(''.join(terms)))}\n"
                f"     Optimized scaling:  {scaling}\n"
                f"      Naive FLOP count:  {naive}\n"
                f"  Optimized FLOP count:  {opt}\n")
        return path, info

    def einsum_path(subscripts, *operands):
        """The contraction order einsum uses and a summary of its cost."""
        ops = [_arr(x) for x in operands]
        terms, out, sizes = _parse_einsum(subscripts, ops)
        return _path_info(subscripts, terms, out, sizes)

    def _reduce_term(x, t, keep, stream):
        """Takes diagonals of repeated labels and sums labels not in `keep`."""
        # Repeated labels -> diagonal.
        while True:
            dup = next((ch for ch in t if t.count(ch) > 1), None)
            if dup is None:
                break
            i = t.index(dup)
            j = t.index(dup, i + 1)
            if x.shape[i] != x.shape[j]:
                n = max(x.shape[i], x.shape[j])
                sh = list(x.shape)
                sh[i] = sh[j] = n
                x = mx.broadcast_to(x, sh)
            x = mx.diagonal(x, 0, i, j, stream=stream)
            t = "".join(ch for k, ch in enumerate(t) if k not in (i, j)) + dup
        drop = [k for k, ch in enumerate(t) if ch not in keep]
        if drop:
            x = mx.sum(x, axis=drop, stream=stream)
            t = "".join(ch for k, ch in enumerate(t) if k not in drop)
        return x, t

    def _contract(x, tx, y, ty, keep, sizes, stream):
        """Contracts two terms; result labels: batch + x-only + y-only (those in keep)."""
        batch = [ch for ch in tx if ch in ty and ch in keep]
        contr = [ch for ch in tx if ch in ty and ch not in keep]
        xo = [ch for ch in tx if ch not in ty]
        yo = [ch for ch in ty if ch not in tx]

        def arrange(z, tz, order):
            z = mx.transpose(z, [tz.index(ch) for ch in order], stream=stream) if order else z
            sh = list(z.shape)
            target = [sizes[ch] if sh[k] == 1 and (ch in batch or ch in contr) else sh[k]
                      for k, ch in enumerate(order)]
            if target != sh:
                z = mx.broadcast_to(z, target)
            return z

        xa = arrange(x, tx, batch + xo + contr)
        ya = arrange(y, ty, batch + contr + yo)
        bsh = [sizes[ch] for ch in batch]
        m = 1
        for ch in xo:
            m *= xa.shape[len(batch) + xo.index(ch)]
        n = 1
        for ch in yo:
            n *= ya.shape[len(batch) + len(contr) + yo.index(ch)]
        k = 1
        for ch in contr:
            k *= sizes[ch]
        xo_sh = list(xa.shape[len(batch):len(batch) + len(xo)])
        yo_sh = list(ya.shape[len(batch) + len(contr):])
        if contr:
            x3 = mx.reshape(xa, bsh + [m, k], stream=stream)
            y3 = mx.reshape(ya, bsh + [k, n], stream=stream)
            r = mx.matmul(x3, y3, stream=stream)
        else:
            x3 = mx.reshape(xa, bsh + [m, 1], stream=stream)
            y3 = mx.reshape(ya, bsh + [1, n], stream=stream)
            r = mx.multiply(x3, y3, stream=stream)
        r = mx.reshape(r, bsh + xo_sh + yo_sh, stream=stream)
        tr = "".join(batch + xo + yo)
        # Labels of xo/yo not needed any more are summed out.
        drop = [i for i, ch in enumerate(tr) if ch not in keep]
        if drop:
            r = mx.sum(r, axis=drop, stream=stream)
            tr = "".join(ch for i, ch in enumerate(tr) if i not in drop)
        return r, tr

    _plans = {}

    def einsum(subscripts, *operands, stream=None):
        """Einstein summation over the operands."""
        ops = [_arr(x) for x in operands]
        key = (subscripts, tuple(tuple(x.shape) for x in ops))
        plan = _plans.get(key)
        if plan is None:
            terms, out, sizes = _parse_einsum(subscripts, ops)
            path, _ = _path_info(subscripts, terms, out, sizes)
            if len(_plans) > 512:
                _plans.clear()
            plan = _plans[key] = (terms, out, sizes, path)
        terms, out, sizes, path = plan
        xs = list(ops)
        ts = list(terms)

        def needed(exclude):
            keep = set(out)
            for k, t in enumerate(ts):
                if k not in exclude:
                    keep |= set(t)
            return keep

        for k in range(len(xs)):
            xs[k], ts[k] = _reduce_term(xs[k], ts[k], needed({k}) | set(), stream)
        for step in path:
            if len(step) == 1:
                continue
            i, j = step
            keep = needed({i, j})
            r, tr = _contract(xs[i], ts[i], xs[j], ts[j], keep, sizes, stream)
            xs = [x for k, x in enumerate(xs) if k not in (i, j)] + [r]
            ts = [t for k, t in enumerate(ts) if k not in (i, j)] + [tr]
        x, t = _reduce_term(xs[0], ts[0], set(out), stream)
        if t != out:
            x = mx.transpose(x, [t.index(ch) for ch in out], stream=stream)
        sh = [sizes[ch] for ch in out]
        if list(x.shape) != sh:
            x = mx.broadcast_to(x, sh)
        return x

    for f in [median, meshgrid, tensordot, inner, outer, kron, addmm, vecdot, diff, hanning, hamming,
              blackman, bartlett, isdtype, block_masked_mm, einsum, einsum_path]:
        setattr(mx, f.__name__, f)
