"""Parts of mx.random written in Python over mlx.core ops: categorical, permutation and
multivariate_normal. Each draws exactly one key (the ``key`` argument or the next key of
the global state), as the C++ samplers do."""

import math


def install(mx):
    r = mx.random

    def _axis_error(msg):
        return mx._AxisError(msg)

    def categorical(
        logits, axis=-1, shape=None, num_samples=None, key=None, stream=None
    ):
        """Sample from a categorical distribution.

        The values are sampled from the categorical distribution specified by the
        unnormalized values in ``logits``. At most one of ``shape`` or ``num_samples``
        may be given; the default output shape is ``logits.shape`` without ``axis``.

        Args:
            logits (array): The *unnormalized* categorical distribution(s).
            axis (int, optional): The axis which specifies the distribution. Default: ``-1``.
            shape (list(int), optional): The shape of the output. It must be broadcast
              compatible with ``logits.shape`` with ``axis`` removed. Default: ``None``.
            num_samples (int, optional): The number of samples to draw from each of the
              categorical distributions in ``logits``; the output gets a trailing axis of
              this size. Default: ``None``.
            key (array, optional): A PRNG key. Default: ``None``.

        Returns:
            array: The ``shape``-sized output array with type ``uint32``.

        Example:
            >>> mx.random.categorical(mx.log(mx.array([0.2, 0.8])), num_samples=4)
        """
        if not isinstance(logits, mx.array):
            logits = mx.array(logits)
        nd = logits.ndim
        if not -nd <= axis < nd:
            raise _axis_error(
                f"[categorical] axis {axis} is out of bounds for logits with {nd} dimensions; "
                f"got axis={axis}."
            )
        if shape is not None and num_samples is not None:
            raise ValueError(
                "[categorical] at most one of shape or num_samples can be given; "
                f"got shape={tuple(shape)} and num_samples={num_samples}."
            )
        ax = axis % nd
        n_classes = logits.shape[ax]
        batch = list(logits.shape[:ax]) + list(logits.shape[ax + 1 :])
        if num_samples is not None:
            if num_samples < 0:
                raise ValueError(
                    f"[categorical] num_samples must be non-negative; got {num_samples}."
                )
            out_shape = batch + [num_samples]
            logits = mx.expand_dims(logits, -1, stream=stream)
            pos = ax
        else:
            out_shape = batch if shape is None else [int(d) for d in shape]
            if any(d < 0 for d in out_shape):
                raise ValueError(
                    "[categorical] shape dimensions must be non-negative; "
                    f"got shape={tuple(out_shape)}."
                )
            # The class axis sits where it sits in logits, counted from the end.
            pos = len(out_shape) - (nd - 1 - ax)
            if pos < 0:
                raise ValueError(
                    f"[categorical] shape must have at least {nd - 1} dimensions to broadcast "
                    f"with logits of shape {tuple(logits.shape)}; got shape={tuple(out_shape)}."
                )
            bshape = mx.broadcast_shapes(tuple(out_shape), tuple(batch))
            if list(bshape) != out_shape:
                raise ValueError(
                    f"[categorical] logits (without axis) must broadcast to shape "
                    f"{tuple(out_shape)}; got batch shape {tuple(batch)}."
                )
        if math.prod(batch) == 1 and len(out_shape) > 0:
            # One distribution sampled into an array (MLX's rule): inverse CDF with one
            # uniform draw per sample.
            lg = mx.reshape(
                mx.moveaxis(logits, ax, -1, stream=stream), (n_classes,), stream=stream
            )
            cdf = mx.cumsum(
                mx.softmax(lg.astype(mx.float32), stream=stream), stream=stream
            )[:-1]
            u = r.uniform(shape=out_shape, key=key, stream=stream)
            hits = mx.less_equal(
                cdf, mx.expand_dims(u, -1, stream=stream), stream=stream
            )
            return mx.sum(hits, axis=-1, stream=stream).astype(mx.uint32)
        g_shape = out_shape[:pos] + [n_classes] + out_shape[pos:]
        if any(d == 0 for d in out_shape):
            # Nothing to draw (argmax rejects zero-size inputs).
            return mx.zeros(out_shape, dtype=mx.uint32)
        g = r.gumbel(shape=g_shape, key=key, stream=stream)
        return mx.argmax(mx.add(g, logits, stream=stream), axis=pos, stream=stream)

    def permutation(x, axis=0, key=None, stream=None):
        """Generate a random permutation or permute the entries of an array.

        Args:
            x (int or array): If an integer, a permutation of ``mx.arange(x)`` is
              returned; otherwise the entries of ``x`` along ``axis`` are permuted.
            axis (int, optional): The axis to permute along. Default: ``0``.
            key (array, optional): A PRNG key. Default: ``None``.

        Returns:
            array: The generated random permutation or randomly permuted input array.
        """
        if isinstance(x, int) and not isinstance(x, bool):
            if x < 0:
                raise ValueError(f"[permutation] x must be non-negative; got {x}.")
            return mx.argsort(r.bits((x,), key=key, stream=stream), stream=stream)
        if not isinstance(x, mx.array):
            x = mx.array(x)
        if not -x.ndim <= axis < x.ndim:
            raise _axis_error(
                f"[permutation] axis {axis} is out of bounds for an array with {x.ndim} "
                f"dimensions; got axis={axis}."
            )
        n = x.shape[axis]
        perm = mx.argsort(r.bits((n,), key=key, stream=stream), stream=stream)
        return mx.take(x, perm, axis=axis, stream=stream)

    def _sqrt_psd(cov):
        # Symmetric square root U sqrt(S) U^T (what MLX computes, through its SVD).
        linalg = getattr(mx, "linalg", None)
        if linalg is not None and hasattr(linalg, "eigh"):
            w, q = linalg.eigh(cov, stream=mx.cpu)
            w = mx.sqrt(mx.maximum(w, 0.0))
            return mx.matmul(q * mx.expand_dims(w, -2), mx.swapaxes(q, -1, -2))
        if linalg is not None and hasattr(linalg, "svd"):
            u, s, vt = linalg.svd(cov, stream=mx.cpu)
            return mx.matmul(u * mx.expand_dims(mx.sqrt(s), -2), vt)
        raise NotImplementedError(
            "[multivariate_normal] needs mx.linalg.eigh or mx.linalg.svd; got neither."
        )

    def multivariate_normal(
        mean, cov, shape=(), dtype=mx.float32, key=None, stream=None
    ):
        """Generate jointly-normal random samples given a mean and covariance.

        The matrix ``cov`` must be positive semi-definite; the samples are
        ``mean + z @ sqrt(cov)`` with ``z`` standard normal and ``sqrt`` the symmetric
        square root. The decomposition runs on the CPU.

        Args:
            mean (array): array of shape ``(..., n)``, the mean of the distribution.
            cov (array): array of shape ``(..., n, n)``, the covariance matrix.
            shape (list(int), optional): The output shape must be broadcast-compatible
              with ``mean.shape[:-1]`` and ``cov.shape[:-2]``; the samples have shape
              ``shape + (n,)``. Default: ``()``.
            dtype (Dtype, optional): The output type; only ``float32`` is supported.
            key (array, optional): A PRNG key. Default: ``None``.

        Returns:
            array: The output array of random values.
        """
        if dtype is None:
            dtype = mx.float32
        if dtype != mx.float32:
            raise ValueError(
                f"[multivariate_normal] dtype must be float32; got {dtype}."
            )
        mean = mean if isinstance(mean, mx.array) else mx.array(mean)
        cov = cov if isinstance(cov, mx.array) else mx.array(cov)
        if mean.ndim < 1:
            raise ValueError(
                "[multivariate_normal] mean must have at least one dimension; "
                f"got mean.shape={tuple(mean.shape)}."
            )
        if cov.ndim < 2:
            raise ValueError(
                "[multivariate_normal] cov must have at least two dimensions; "
                f"got cov.shape={tuple(cov.shape)}."
            )
        if cov.shape[-1] != cov.shape[-2]:
            raise ValueError(
                "[multivariate_normal] the last two dimensions of cov must be equal; "
                f"got cov.shape={tuple(cov.shape)}."
            )
        n = mean.shape[-1]
        if cov.shape[-1] != n:
            raise ValueError(
                "[multivariate_normal] mean.shape[-1] must equal cov.shape[-1]; "
                f"got mean.shape={tuple(mean.shape)}, cov.shape={tuple(cov.shape)}."
            )
        out = mx.broadcast_shapes(tuple(shape), tuple(mean.shape[:-1]))
        out = mx.broadcast_shapes(tuple(out), tuple(cov.shape[:-2]))
        std = _sqrt_psd(cov.astype(mx.float32))
        z = r.normal(shape=list(out) + [n], key=key, stream=stream)
        # std is symmetric: z @ std == (std @ z^T)^T for each batch element.
        s = mx.squeeze(mx.matmul(mx.expand_dims(z, -2), std), -2)
        return mx.add(mean.astype(mx.float32), s, stream=stream)

    r.categorical = categorical
    r.permutation = permutation
    r.multivariate_normal = multivariate_normal
