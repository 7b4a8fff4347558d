"""Parts of mlx.core written in Python: array methods, indexing, transforms over trees,
dtype info, stream contexts, backend namespaces and small composite ops."""

import contextlib
import math
import types


def install(mx):
    from mlx import _indexing, _transforms

    # Print options are bound in C++ (the array repr reads them).
    _print_api = (mx.PrintOptions, mx.get_printoptions, mx.set_printoptions)

    A = mx.array

    # ---- indexing and iteration ----
    A.__getitem__ = lambda self, idx: _indexing.getitem(self, idx)
    A.__setitem__ = lambda self, idx, v: _indexing.setitem(self, idx, v)
    A.at = property(lambda self: _indexing.ArrayAt(self))
    A.__iter__ = lambda self: _indexing.ArrayIterator(self)
    mx.ArrayAt = _indexing.ArrayAt
    mx.ArrayIterator = _indexing.ArrayIterator

    # ---- array methods that forward to ops ----
    def _fwd(name):
        fn = getattr(mx, name)

        def method(self, *args, **kwargs):
            return fn(self, *args, **kwargs)

        method.__name__ = name
        method.__doc__ = f"See :func:`mlx.core.{name}`."
        return method

    for name in [
        "abs", "all", "any", "argmax", "argmin", "conj", "cos", "exp", "log", "log10", "log1p",
        "log2", "logsumexp", "max", "mean", "min", "moveaxis", "prod", "reciprocal", "round",
        "rsqrt", "sin", "split", "sqrt", "square", "std", "sum", "swapaxes", "var", "view",
        "flatten",
    ]:
        setattr(A, name, _fwd(name))

    def _shape_args(args, kwargs, key):
        if key in kwargs:
            return kwargs.pop(key)
        if len(args) == 1 and isinstance(args[0], (list, tuple)):
            return args[0]
        return args

    def reshape(self, *args, stream=None, **kwargs):
        return mx.reshape(self, tuple(_shape_args(args, kwargs, "shape")), stream=stream)

    def transpose(self, *args, stream=None, **kwargs):
        axes = _shape_args(args, kwargs, "axes")
        return mx.transpose(self, list(axes) if axes else None, stream=stream)

    def squeeze(self, axis=None, *, stream=None):
        return mx.squeeze(self, axis, stream=stream)

    A.reshape = reshape
    A.transpose = transpose
    A.squeeze = squeeze
    for name in ["cummax", "cummin", "cumprod", "cumsum", "logcumsumexp", "diag", "diagonal"]:
        if hasattr(mx, name):
            setattr(A, name, _fwd(name))
    def __format__(self, spec):
        if not spec:
            return repr(self)
        if self.ndim != 0:
            raise TypeError("unsupported format string passed to mx.array.__format__")
        return format(self.item(), spec)

    A.__format__ = __format__
    A.__array_namespace__ = lambda self, api_version=None: mx

    # ---- transforms ----
    for name in ["grad", "value_and_grad", "vjp", "jvp", "vmap", "compile", "checkpoint",
                 "disable_compile", "enable_compile", "custom_function"]:
        setattr(mx, name, getattr(_transforms, name))

    # ---- dtype info ----
    def _dtype_name(dtype):
        return str(dtype).rsplit(".", 1)[-1]

    class finfo:
        """Machine limits for floating point types."""

        def __init__(self, dtype):
            if not isinstance(dtype, mx.Dtype) or not mx.issubdtype(dtype, mx.inexact):
                raise ValueError(f"[finfo] dtype {_dtype_name(dtype)} is not inexact; got {dtype}.")
            if dtype == mx.complex64:
                dtype = mx.float32
            bits, mx_, eps, normal = {
                mx.float16: (16, 65504.0, 2.0**-10, 2.0**-14),
                mx.bfloat16: (16, 3.3895313892515355e38, 2.0**-7, 2.0**-126),
                mx.float32: (32, 3.4028234663852886e38, 2.0**-23, 2.0**-126),
                mx.float64: (64, 1.7976931348623157e308, 2.0**-52, 2.0**-1022),
            }[dtype]
            self.dtype = dtype
            self.bits = bits
            self.min = -mx_
            self.max = mx_
            self.eps = eps
            self.smallest_normal = normal

        def __repr__(self):
            return f"finfo(min={self.min:g}, max={self.max:g}, dtype={_dtype_name(self.dtype)})"

    class iinfo:
        """Machine limits for integer types."""

        def __init__(self, dtype):
            table = {
                mx.uint8: (0, 255), mx.uint16: (0, 65535), mx.uint32: (0, 2**32 - 1),
                mx.uint64: (0, 2**64 - 1), mx.int8: (-128, 127), mx.int16: (-32768, 32767),
                mx.int32: (-(2**31), 2**31 - 1), mx.int64: (-(2**63), 2**63 - 1),
            }
            if not isinstance(dtype, mx.Dtype) or dtype not in table:
                raise ValueError(
                    f"[iinfo] only integer types are supported; got {_dtype_name(dtype)}."
                )
            self.dtype = dtype
            self.min, self.max = table[dtype]

        def __repr__(self):
            return f"iinfo(min={self.min}, max={self.max}, dtype={_dtype_name(self.dtype)})"

    mx.finfo = finfo
    mx.iinfo = iinfo

    # ---- constants ----
    mx.pi = math.pi
    mx.e = math.e
    mx.euler_gamma = 0.5772156649015329
    mx.inf = math.inf
    mx.nan = math.nan
    mx.newaxis = None
    mx.cpu = mx.DeviceType.cpu
    mx.gpu = mx.DeviceType.gpu

    # ---- streams ----
    class StreamContext(contextlib.ContextDecorator):
        def __init__(self, s):
            self._s = s

        def __enter__(self):
            s = self._s
            if isinstance(s, mx.DeviceType):
                s = mx.Device(s)
            self._old_device = mx.default_device()
            if isinstance(s, mx.Device):
                self._old_stream = mx.default_stream(s)
                mx.set_default_device(s)
            else:
                self._old_stream = mx.default_stream(s.device)
                mx.set_default_device(s.device)
                mx.set_default_stream(s)
            return self

        def __exit__(self, *exc):
            mx.set_default_stream(self._old_stream)
            mx.set_default_device(self._old_device)
            return False

    mx.StreamContext = StreamContext

    # ---- print options ----
    @contextlib.contextmanager
    def printoptions(precision=-1):
        """Sets the print precision within a `with` block."""
        old = mx.get_printoptions().precision
        mx.set_printoptions(precision=precision)
        try:
            yield mx.get_printoptions()
        finally:
            mx.set_printoptions(precision=old)

    mx.printoptions = printoptions
    mx.stream = lambda s: StreamContext(s)

    # ---- backend namespaces ----
    metal = types.ModuleType("mlx.core.metal")
    metal.is_available = lambda: False
    metal.device_info = lambda: {}
    for n in ["clear_cache", "get_active_memory", "get_cache_memory", "get_peak_memory",
              "reset_peak_memory", "set_cache_limit", "set_memory_limit", "set_wired_limit"]:
        setattr(metal, n, getattr(mx, n))

    def _no_capture(*a, **k):
        raise RuntimeError("[metal] Metal is not available on this machine; got a capture request.")

    metal.start_capture = _no_capture
    metal.stop_capture = _no_capture
    mx.metal = metal
    cuda = types.ModuleType("mlx.core.cuda")
    cuda.is_available = lambda: mx.is_available(mx.gpu)
    # Not MLX API: counts of nodes of GPU streams that ran on the host instead of a GPU kernel,
    # per "Primitive (dtype)"; the GPU tests use it to check that a kernel ran.
    cuda._host_fallbacks = mx._gpu_host_fallbacks
    cuda._profile_reset = mx._gpu_profile_reset
    cuda._graph_stats = mx._gpu_graph_stats
    mx.cuda = cuda

    # ---- small composite ops ----
    def asarray(a, dtype=None):
        if isinstance(a, mx.array) and (dtype is None or a.dtype == dtype):
            return a
        return mx.array(a, dtype=dtype)

    def slice_update(a, update, start_indices, axes, *, stream=None):
        start = mx.array(start_indices).tolist() if not isinstance(start_indices, (list, tuple)) else list(start_indices)
        if isinstance(start, int):
            start = [start]
        b = [0] * a.ndim
        for s, ax in zip(start, axes):
            b[ax % a.ndim] = int(s)
        e = [b[i] + (update.shape[i - (a.ndim - update.ndim)] if i >= a.ndim - update.ndim else 1) for i in range(a.ndim)]
        return mx._slice_update(a, update, b, e, [1] * a.ndim, stream=stream)

    def trunc(a, *, stream=None):
        a = asarray(a)
        if a.dtype == mx.complex64:
            raise ValueError("[trunc] complex inputs are not supported; got dtype=complex64.")
        if not mx.issubdtype(a.dtype, mx.inexact):
            return a
        return mx.where(a < 0, mx.ceil(a), mx.floor(a), stream=stream)

    def logical_xor(a, b, *, stream=None):
        return mx.not_equal(mx.astype(asarray(a), mx.bool_), mx.astype(asarray(b), mx.bool_), stream=stream)

    def positive(a, *, stream=None):
        return asarray(a)

    def flip(a, axis=None, *, stream=None):
        axes = range(a.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
        idx = [slice(None)] * a.ndim
        for ax in axes:
            idx[ax % a.ndim] = slice(None, None, -1)
        return a[tuple(idx)]

    def unstack(a, axis=0, *, stream=None):
        return [mx.squeeze(x, axis) for x in mx.split(a, a.shape[axis], axis)]

    def matrix_transpose(a, *, stream=None):
        return mx.swapaxes(a, -1, -2)

    def empty(shape, dtype=None, *, stream=None):
        return mx.zeros(shape, dtype=dtype or mx.float32, stream=stream)

    def empty_like(a, *, stream=None):
        return mx.zeros_like(a, stream=stream)

    def _dtype_of(x, op):
        if isinstance(x, mx.array):
            return x.dtype
        if isinstance(x, mx.Dtype):
            return x
        raise ValueError(f"[{op}] inputs must be arrays or dtypes; got {type(x).__name__}.")

    def result_type(*args):
        """The dtype that arrays and dtypes promote to."""
        if not args:
            raise ValueError("[result_type] at least one array or dtype is required; got none.")
        t = None
        for x in args:
            d = _dtype_of(x, "result_type")
            t = d if t is None else mx._promote_types(t, d)
        return t

    def can_cast(from_, to):
        """True when promoting `from_` (an array or dtype) with `to` gives `to`."""
        if not isinstance(to, mx.Dtype):
            raise ValueError(f"[can_cast] `to` must be a dtype; got {type(to).__name__}.")
        return mx._promote_types(_dtype_of(from_, "can_cast"), to) == to

    for f in [asarray, slice_update, trunc, logical_xor, positive, flip, unstack, matrix_transpose,
              empty, empty_like, result_type, can_cast]:
        setattr(mx, f.__name__, f)

    aliases = {
        "acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh",
        "atan": "arctan", "atanh": "arctanh", "atan2": "arctan2", "pow": "power",
        "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift",
    }
    for k, v in aliases.items():
        setattr(mx, k, getattr(mx, v))
    __import__("mlx._io", fromlist=["install"]).install(mx)  # savez, savez_compressed (npz)
    __import__("mlx._more_ops", fromlist=["install"]).install(mx)  # einsum, median, tensordot, ... (sort_scan)
    __import__("mlx._random", fromlist=["install"]).install(mx)  # categorical, permutation, multivariate_normal
    __import__("mlx._misc", fromlist=["install"]).install(mx)  # distributed, printoptions, export_to_dot
    # The C++ print options (which the array repr honours) win over mlx._misc's.
    mx.PrintOptions, mx.get_printoptions, mx.set_printoptions = _print_api
    mx.printoptions = printoptions
