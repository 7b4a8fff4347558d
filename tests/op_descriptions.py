"""One description per op (NumPy reference, input domain, dtypes, tolerances, result
dtype), plus the helpers the generic tests share.

Expected behaviour is MLX's (checked against mlx 0.32.4); where MLX differs from NumPy
the reference function follows MLX and a comment says so.
"""

import math
import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import mlx.core as mx
import numpy as np

# --------------------------------------------------------------------------------------
# dtypes

BOOL = [mx.bool_]
UINTS = [mx.uint8, mx.uint16, mx.uint32, mx.uint64]
SINTS = [mx.int8, mx.int16, mx.int32, mx.int64]
INTS = UINTS + SINTS
FLOATS = [mx.float16, mx.float32, mx.float64, mx.bfloat16]
COMPLEX = [mx.complex64]
REAL = BOOL + INTS + FLOATS
INEXACT = FLOATS + COMPLEX
ALL_DTYPES = BOOL + INTS + FLOATS + COMPLEX  # the 14 dtypes

# NumPy carrier of each dtype; bfloat16 has none, its values travel as float32.
NP_DTYPE = {
    mx.bool_: np.bool_,
    mx.uint8: np.uint8,
    mx.uint16: np.uint16,
    mx.uint32: np.uint32,
    mx.uint64: np.uint64,
    mx.int8: np.int8,
    mx.int16: np.int16,
    mx.int32: np.int32,
    mx.int64: np.int64,
    mx.float16: np.float16,
    mx.float32: np.float32,
    mx.float64: np.float64,
    mx.bfloat16: np.float32,
    mx.complex64: np.complex64,
}

DTYPE_NAMES = {
    mx.bool_: "bool",
    mx.uint8: "uint8",
    mx.uint16: "uint16",
    mx.uint32: "uint32",
    mx.uint64: "uint64",
    mx.int8: "int8",
    mx.int16: "int16",
    mx.int32: "int32",
    mx.int64: "int64",
    mx.float16: "float16",
    mx.float32: "float32",
    mx.float64: "float64",
    mx.bfloat16: "bfloat16",
    mx.complex64: "complex64",
}


def dtype_name(dt):
    return DTYPE_NAMES[dt]


def is_int(dt):
    return dt in INTS


def is_float(dt):
    return dt in FLOATS


def is_inexact(dt):
    return dt in INEXACT


def device_dtypes(device, dtypes=ALL_DTYPES):
    """The dtypes that can run on `device`: float64 is CPU only."""
    if device.type == mx.gpu:
        return [d for d in dtypes if d != mx.float64]
    return list(dtypes)


def is_reference_mlx():
    """True when `mlx.core` is Apple's MLX rather than this repository's build.

    Used only where this project deliberately goes beyond MLX (DESIGN.md section 6: an
    axis error is also a ValueError, every message starts with `[op]`, no crashes) and
    to mark MLX's own bugs. MLX_TESTS_REFERENCE=1 / 0 overrides the detection.
    """
    env = os.environ.get("MLX_TESTS_REFERENCE")
    if env is not None:
        return env == "1"
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.abspath(getattr(mx, "__file__", "") or "")
    if path.startswith(here + os.sep):
        return False
    try:
        from importlib.metadata import version

        major, minor = (int(v) for v in version("mlx").split(".")[:2])
    except Exception:
        return False
    # Apple's MLX is at 0.2x / 0.3x; this project's package starts at 0.1.
    return (major, minor) >= (0, 20)


def mlx_bug(condition, reason):
    """Mark a case where MLX itself is wrong: expected to fail against Apple's MLX,
    checked normally against this repository's build."""
    import pytest

    if condition and is_reference_mlx():
        pytest.xfail(f"MLX bug: {reason}")


# --------------------------------------------------------------------------------------
# conversions and comparisons


def to_numpy(a):
    """Exact NumPy copy of an mx.array (bfloat16 goes through float32)."""
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def from_numpy(x, dtype):
    """mx.array of dtype `dtype` holding the values of NumPy array `x`."""
    if dtype == mx.bfloat16:
        return mx.array(np.asarray(x, dtype=np.float32)).astype(mx.bfloat16)
    # mx.array(float64 ndarray) gives float32 unless the dtype is named.
    return mx.array(np.asarray(x, dtype=NP_DTYPE[dtype]), dtype=dtype)


# (rtol, atol) for results of each dtype; integer and bool results compare exactly.
TOLERANCES = {
    mx.float16: (2e-3, 2e-3),
    mx.bfloat16: (1.6e-2, 1.6e-2),
    mx.float32: (2e-5, 1e-6),
    mx.float64: (1e-11, 1e-13),
    mx.complex64: (2e-5, 1e-6),
}


def tolerance(dtype, scale=1.0):
    rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
    return rtol * scale, atol * scale


def assert_array_equal(a, expected, dtype=None):
    """Exact comparison of an mx.array with an array-like: shape, values, dtype."""
    assert isinstance(a, mx.array), type(a)
    if dtype is not None:
        assert a.dtype == dtype, f"dtype {a.dtype} != {dtype}"
    expected = np.asarray(expected)
    got = to_numpy(a)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    np.testing.assert_array_equal(got, expected)


def assert_close(a, expected, dtype=None, rtol=None, atol=None, scale=1.0):
    """Compare an mx.array against a NumPy reference with the tolerance of its dtype."""
    assert isinstance(a, mx.array), type(a)
    if dtype is not None:
        assert a.dtype == dtype, f"dtype {a.dtype} != {dtype}"
    expected = np.asarray(expected)
    got = to_numpy(a)
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if a.dtype in TOLERANCES:
        r, t = tolerance(a.dtype, scale)
        rtol = r if rtol is None else rtol
        atol = t if atol is None else atol
        if a.dtype == mx.complex64:
            expected = expected.astype(np.complex128)
            got = got.astype(np.complex128)
        else:
            expected = expected.astype(np.float64)
            got = got.astype(np.float64)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected.astype(got.dtype, copy=False))


# --------------------------------------------------------------------------------------
# input domains


@dataclass(frozen=True)
class Domain:
    """Where an op's argument is sampled: [lo, hi], optionally avoiding zero and/or
    integer-valued. Complex inputs sample real and imaginary parts in [clo, chi]."""

    lo: float = -3.0
    hi: float = 3.0
    nonzero: bool = False
    integer: bool = False
    clo: float = -1.5
    chi: float = 1.5
    int_lo: Optional[int] = None  # overrides lo/hi for integer dtypes
    int_hi: Optional[int] = None


ANY = Domain()


def make_input(rng, shape, dtype, domain=ANY):
    """Random input of `dtype` in `domain`: returns (mx.array, exact NumPy values).

    The NumPy values keep integer and bool dtypes, and are float64 / complex128 for
    inexact dtypes so references are computed in high precision on the exact inputs.
    """
    shape = tuple(shape)
    if dtype == mx.bool_:
        if domain.nonzero or domain.lo > 0:
            x = np.ones(shape, dtype=np.bool_)
        else:
            x = rng.random(shape) < 0.5
        return mx.array(x), x
    if is_int(dtype):
        info = np.iinfo(NP_DTYPE[dtype])
        lo = domain.int_lo if domain.int_lo is not None else math.ceil(domain.lo)
        hi = domain.int_hi if domain.int_hi is not None else math.floor(domain.hi)
        lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
        if hi < lo:
            hi = lo
        x = rng.integers(lo, hi + 1, size=shape).astype(NP_DTYPE[dtype])
        if domain.nonzero:
            x = np.where(x == 0, np.array(1 if hi >= 1 else -1, x.dtype), x)
        return mx.array(x, dtype=dtype), x
    if dtype == mx.complex64:
        re = rng.uniform(domain.clo, domain.chi, size=shape)
        im = rng.uniform(domain.clo, domain.chi, size=shape)
        x = (re + 1j * im).astype(np.complex64)
        if domain.nonzero:
            x = np.where(np.abs(x) < 0.25, np.complex64(0.5 + 0.5j), x)
        return mx.array(x), x.astype(np.complex128)
    x = rng.uniform(domain.lo, domain.hi, size=shape)
    if domain.integer:
        x = np.round(x)
    if domain.nonzero:
        x = np.where(np.abs(x) < 0.25, 1.0 if domain.integer else 0.5, x)
    a = from_numpy(x, dtype)
    return a, to_numpy(a).astype(np.float64)


# --------------------------------------------------------------------------------------
# result dtype rules


def same(*dts):
    """Result has the promoted input dtype."""
    out = dts[0]
    for d in dts[1:]:
        out = promote(out, d)
    return out


def to_bool(*dts):
    return mx.bool_


def to_float(*dts):
    """Inexact dtypes are kept; bool and integers give float32."""
    d = same(*dts)
    return d if d in INEXACT else mx.float32


def complex_to_real(*dts):
    """abs, real, imag: complex64 gives float32, everything else keeps its dtype."""
    d = same(*dts)
    return mx.float32 if d == mx.complex64 else d


def bool_to_uint8(*dts):
    """Shifts: bool operands give uint8."""
    d = same(*dts)
    return mx.uint8 if d == mx.bool_ else d


# MLX's promotion table for two arrays (checked against mlx 0.32.4). Differences from
# NumPy: uint64 with a signed integer gives float32 (NumPy: float64), any integer of
# 16 bits or more with float16 gives float16 (NumPy: float32 / float64), 32 and 64 bit
# integers with float32 give float32 (NumPy: float64), bfloat16 wins over every
# integer, and float64 with complex64 gives complex64 (NumPy: complex128).
_ORDER = [
    mx.bool_,
    mx.uint8,
    mx.uint16,
    mx.uint32,
    mx.uint64,
    mx.int8,
    mx.int16,
    mx.int32,
    mx.int64,
    mx.float16,
    mx.float32,
    mx.float64,
    mx.bfloat16,
    mx.complex64,
]
_T = """
b    b    u8   u16  u32  u64  i8   i16  i32  i64  f16  f32  f64  bf16 c64
u8   u8   u8   u16  u32  u64  i16  i16  i32  i64  f16  f32  f64  bf16 c64
u16  u16  u16  u16  u32  u64  i32  i32  i32  i64  f16  f32  f64  bf16 c64
u32  u32  u32  u32  u32  u64  i64  i64  i64  i64  f16  f32  f64  bf16 c64
u64  u64  u64  u64  u64  u64  f32  f32  f32  f32  f16  f32  f64  bf16 c64
i8   i8   i16  i32  i64  f32  i8   i16  i32  i64  f16  f32  f64  bf16 c64
i16  i16  i16  i32  i64  f32  i16  i16  i32  i64  f16  f32  f64  bf16 c64
i32  i32  i32  i32  i64  f32  i32  i32  i32  i64  f16  f32  f64  bf16 c64
i64  i64  i64  i64  i64  f32  i64  i64  i64  i64  f16  f32  f64  bf16 c64
f16  f16  f16  f16  f16  f16  f16  f16  f16  f16  f16  f32  f64  f32  c64
f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f32  f64  f32  c64
f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  f64  c64
bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 f32  f32  f64  bf16 c64
c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64  c64
"""
_SHORT = {
    "b": mx.bool_,
    "u8": mx.uint8,
    "u16": mx.uint16,
    "u32": mx.uint32,
    "u64": mx.uint64,
    "i8": mx.int8,
    "i16": mx.int16,
    "i32": mx.int32,
    "i64": mx.int64,
    "f16": mx.float16,
    "f32": mx.float32,
    "f64": mx.float64,
    "bf16": mx.bfloat16,
    "c64": mx.complex64,
}
PROMOTION = {}
for _row in _T.strip().splitlines():
    _cells = _row.split()
    for _col, _cell in zip(_ORDER, _cells[1:]):
        PROMOTION[(_SHORT[_cells[0]], _col)] = _SHORT[_cell]


def promote(a, b):
    return PROMOTION[(a, b)]


# --------------------------------------------------------------------------------------
# references that NumPy lacks


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(np.asarray(x, np.float64))


def _erfinv_scalar(y):
    if y <= -1.0:
        return -math.inf if y == -1.0 else math.nan
    if y >= 1.0:
        return math.inf if y == 1.0 else math.nan
    # Initial guess (Giles 2010), then Newton steps on erf.
    w = -math.log((1.0 - y) * (1.0 + y))
    x = math.copysign(math.sqrt(w), y) * 0.9
    if abs(y) < 0.9:
        x = y * math.sqrt(math.pi) / 2
    for _ in range(60):
        err = math.erf(x) - y
        step = err / (2.0 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) < 1e-15 * max(1.0, abs(x)):
            break
    return x


def _erfinv(x):
    return np.vectorize(_erfinv_scalar, otypes=[np.float64])(np.asarray(x, np.float64))


def _as_int_if_bool(x):
    return x.astype(np.int64) if x.dtype == np.bool_ else x


def _bool_result(f):
    """MLX computes bool arithmetic in integers and casts back (True - True is
    False)."""

    def g(*xs):
        if all(np.asarray(x).dtype == np.bool_ for x in xs):
            return f(*[_as_int_if_bool(np.asarray(x)) for x in xs]) != 0
        return f(*xs)

    return g


def _sign(x):
    if x.dtype == np.bool_:
        return x
    if np.iscomplexobj(x):
        mag = np.abs(x)
        return np.where(mag == 0, 0, x / np.where(mag == 0, 1, mag))
    return np.sign(x)


def _sigmoid(x):
    x = np.asarray(x, np.float64) if not np.iscomplexobj(x) else x
    return 1.0 / (1.0 + np.exp(-x))


def _round(x):
    if np.iscomplexobj(x):
        return np.round(x.real) + 1j * np.round(x.imag)
    return np.round(x)


def _logaddexp(a, b):
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        # NumPy has no complex logaddexp; MLX returns log(exp(a) + exp(b)).
        return np.log(np.exp(a) + np.exp(b))
    return np.logaddexp(a, b)


def _floor_divide(a, b):
    if np.iscomplexobj(a):
        return a / b
    return np.floor_divide(a, b)


def _shift(f):
    def g(a, b):
        if a.dtype == np.bool_:
            a, b = a.astype(np.uint8), b.astype(np.uint8)
        return f(a, b)

    return g


def _invert(x):
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)


# --------------------------------------------------------------------------------------
# op descriptions


@dataclass
class OpDesc:
    """An op described once.

    name:        the mx function name (also the test id)
    mx_fn:       callable taking mx.arrays
    np_fn:       NumPy reference taking exact inputs (ints native, floats as float64)
    nin:         number of array arguments
    domains:     one Domain per argument
    dtypes:      dtypes the op accepts (tested on each one)
    arg_dtypes:  per argument, None for "the tested dtype" or a fixed dtype
    out_dtype:   rule mapping the tested dtype to the result dtype
    reject:      exception class raised for a dtype not in `dtypes` (None: untested)
    tol_scale:   multiplies the dtype's tolerances
    exact:       compare inexact results exactly (floor, comparisons, ...)
    approx64:    float64 results are only about float32-accurate in MLX (its float64
                 transcendental functions reach ~1e-7 relative error), so float64
                 uses F64_APPROX_TOL
    """

    name: str
    mx_fn: Callable
    np_fn: Callable
    nin: int = 1
    domains: Sequence[Domain] = (ANY,)
    dtypes: Sequence = tuple(ALL_DTYPES)
    arg_dtypes: Optional[Sequence] = None
    out_dtype: Callable = same
    reject: Optional[type] = ValueError
    tol_scale: float = 1.0
    exact: bool = False
    approx64: bool = False
    tags: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self):
        if len(self.domains) == 1 and self.nin > 1:
            self.domains = tuple(self.domains) * self.nin
        if self.arg_dtypes is None:
            self.arg_dtypes = (None,) * self.nin

    def __repr__(self):
        return f"OpDesc({self.name})"

    def rejected_dtypes(self):
        return [d for d in ALL_DTYPES if d not in self.dtypes]


# Ops whose float64 results MLX computes to about float32 accuracy (OpDesc.approx64).
TRANSCENDENTAL = set(
    "exp expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan sinh cosh tanh "
    "arcsinh arccosh arctanh erf erfinv sigmoid power arctan2 logaddexp".split()
)
F64_APPROX_TOL = (2e-5, 1e-6)  # the float32 tolerance


def _u(name, np_fn, **kw):
    kw.setdefault("approx64", name in TRANSCENDENTAL)
    return OpDesc(name, getattr(mx, name), np_fn, 1, **kw)


def _b(name, np_fn, **kw):
    kw.setdefault("approx64", name in TRANSCENDENTAL)
    return OpDesc(name, getattr(mx, name), np_fn, 2, **kw)


NO_COMPLEX = tuple(REAL)
NUMERIC = tuple(INTS + FLOATS + COMPLEX)
INTEGRAL = tuple(BOOL + INTS)

POS = Domain(0.1, 5.0, clo=0.2, chi=2.0)
UNIT = Domain(-0.95, 0.95, clo=-0.7, chi=0.7)
NONZERO = Domain(-5.0, 5.0, nonzero=True)
SMALL = Domain(-2.0, 2.0)

UNARY = [
    _u("abs", np.abs, out_dtype=complex_to_real),
    # MLX rejects negative(bool) with ValueError, like NumPy's TypeError.
    _u("negative", np.negative, dtypes=NUMERIC),
    _u("positive", lambda x: x),
    # MLX's sign of a complex number is z / |z| (NumPy 2 agrees).
    _u("sign", _sign),
    _u("square", _bool_result(np.square), domains=(Domain(-10, 10),)),
    _u("sqrt", np.sqrt, domains=(POS,), out_dtype=to_float),
    _u("rsqrt", lambda x: 1.0 / np.sqrt(x), domains=(POS,), out_dtype=to_float),
    _u("reciprocal", lambda x: 1.0 / x, domains=(NONZERO,), out_dtype=to_float),
    _u("exp", np.exp, domains=(Domain(-5, 5),), out_dtype=to_float),
    _u(
        "expm1",
        np.expm1,
        domains=(Domain(-5, 5),),
        dtypes=NO_COMPLEX,
        out_dtype=to_float,
    ),
    _u("log", np.log, domains=(POS,), out_dtype=to_float),
    _u("log2", np.log2, domains=(POS,), out_dtype=to_float),
    _u("log10", np.log10, domains=(POS,), out_dtype=to_float),
    _u("log1p", np.log1p, domains=(Domain(-0.9, 5, int_lo=0),), out_dtype=to_float),
    _u("sin", np.sin, out_dtype=to_float),
    _u("cos", np.cos, out_dtype=to_float),
    _u("tan", np.tan, domains=(Domain(-1.4, 1.4),), out_dtype=to_float),
    _u("arcsin", np.arcsin, domains=(UNIT,), out_dtype=to_float, tol_scale=2),
    _u("arccos", np.arccos, domains=(UNIT,), out_dtype=to_float, tol_scale=2),
    _u("arctan", np.arctan, out_dtype=to_float),
    _u("sinh", np.sinh, out_dtype=to_float),
    _u("cosh", np.cosh, out_dtype=to_float),
    _u("tanh", np.tanh, out_dtype=to_float),
    _u("arcsinh", np.arcsinh, out_dtype=to_float),
    _u(
        "arccosh",
        np.arccosh,
        domains=(Domain(1.0, 5.0, clo=0.5, chi=2),),
        out_dtype=to_float,
    ),
    _u("arctanh", np.arctanh, domains=(UNIT,), out_dtype=to_float, tol_scale=2),
    _u("erf", _erf, dtypes=NO_COMPLEX, out_dtype=to_float),
    _u(
        "erfinv",
        _erfinv,
        domains=(UNIT,),
        dtypes=NO_COMPLEX,
        out_dtype=to_float,
        tol_scale=4,
    ),
    _u(
        "sigmoid",
        _sigmoid,
        domains=(Domain(-8, 8),),
        dtypes=NO_COMPLEX,
        out_dtype=to_float,
    ),
    _u("floor", np.floor, dtypes=NO_COMPLEX, exact=True),
    _u("ceil", np.ceil, dtypes=NO_COMPLEX, exact=True),
    _u("trunc", np.trunc, dtypes=NO_COMPLEX, exact=True),
    # Round half to even, on each part of a complex number.
    _u("round", _round, domains=(Domain(-5, 5, clo=-5, chi=5),), exact=True),
    # MLX also accepts complex input (NumPy does not): x * 180 / pi.
    _u("degrees", lambda x: x * (180.0 / np.pi), out_dtype=to_float),
    _u("radians", lambda x: x * (np.pi / 180.0), out_dtype=to_float),
    _u("conj", np.conj),
    _u("real", np.real, out_dtype=complex_to_real),
    _u(
        "imag",
        lambda x: np.imag(x) if np.iscomplexobj(x) else np.zeros_like(x),
        out_dtype=complex_to_real,
    ),
    _u("isnan", np.isnan, out_dtype=to_bool),
    _u("isinf", np.isinf, out_dtype=to_bool),
    _u("isfinite", np.isfinite, out_dtype=to_bool),
    _u(
        "isposinf",
        lambda x: np.isposinf(x) if not np.iscomplexobj(x) else np.zeros(x.shape, bool),
        out_dtype=to_bool,
    ),
    _u(
        "isneginf",
        lambda x: np.isneginf(x) if not np.iscomplexobj(x) else np.zeros(x.shape, bool),
        out_dtype=to_bool,
    ),
    _u("logical_not", np.logical_not, out_dtype=to_bool),
    _u("bitwise_invert", _invert, dtypes=INTEGRAL),
    # MLX 0.32 rejects float64 in nan_to_num (ValueError) although float64 is a CPU
    # dtype; that is an MLX bug, so this project accepts float64 (replacing NaN/inf by
    # float64 values) and only complex is rejected.
    _u(
        "nan_to_num",
        lambda x: x,
        dtypes=tuple(BOOL + INTS + FLOATS),
    ),
    _u("stop_gradient", lambda x: x),
]

INT_DIV = Domain(-20, 20, nonzero=True, integer=True)

BINARY = [
    _b("add", _bool_result(np.add)),
    _b("subtract", _bool_result(np.subtract)),
    _b("multiply", _bool_result(np.multiply)),
    _b(
        "divide",
        lambda a, b: _as_int_if_bool(a) / _as_int_if_bool(b),
        domains=(ANY, NONZERO),
        out_dtype=to_float,
    ),
    # Integer-valued float operands keep floor(a / b) away from rounding ties.
    # MLX accepts complex64 in floor_divide and returns the plain quotient a / b.
    _b("floor_divide", _bool_result(_floor_divide), domains=(INT_DIV, INT_DIV)),
    _b(
        "remainder",
        _bool_result(np.remainder),
        domains=(INT_DIV, INT_DIV),
        dtypes=NO_COMPLEX,
    ),
    _b(
        "power",
        _bool_result(np.power),
        domains=(
            Domain(0.2, 3, int_lo=-3, int_hi=3, clo=0.2, chi=1.5),
            Domain(-2, 2, int_lo=0, int_hi=4, clo=-1, chi=1),
        ),
        tol_scale=4,
    ),
    _b("maximum", np.maximum),
    _b("minimum", np.minimum),
    _b("arctan2", np.arctan2, dtypes=NO_COMPLEX, out_dtype=to_float),
    _b("logaddexp", _logaddexp, out_dtype=to_float),
    # Complex numbers order lexicographically in MLX, as in NumPy.
    _b("equal", np.equal, out_dtype=to_bool, domains=(Domain(-2, 2, integer=True),)),
    _b(
        "not_equal",
        np.not_equal,
        out_dtype=to_bool,
        domains=(Domain(-2, 2, integer=True),),
    ),
    _b("less", np.less, out_dtype=to_bool, domains=(Domain(-2, 2, integer=True),)),
    _b(
        "less_equal",
        np.less_equal,
        out_dtype=to_bool,
        domains=(Domain(-2, 2, integer=True),),
    ),
    _b(
        "greater", np.greater, out_dtype=to_bool, domains=(Domain(-2, 2, integer=True),)
    ),
    _b(
        "greater_equal",
        np.greater_equal,
        out_dtype=to_bool,
        domains=(Domain(-2, 2, integer=True),),
    ),
    _b(
        "logical_and",
        np.logical_and,
        out_dtype=to_bool,
        domains=(Domain(-1, 1, integer=True),),
    ),
    _b(
        "logical_xor",
        np.logical_xor,
        out_dtype=to_bool,
        domains=(Domain(-1, 1, integer=True),),
    ),
    _b(
        "logical_or",
        np.logical_or,
        out_dtype=to_bool,
        domains=(Domain(-1, 1, integer=True),),
    ),
    # MLX raises RuntimeError (not ValueError) for binary bitwise ops on inexact dtypes.
    _b(
        "bitwise_and",
        np.bitwise_and,
        dtypes=INTEGRAL,
        reject=RuntimeError,
        domains=(Domain(-100, 100),),
    ),
    _b(
        "bitwise_or",
        np.bitwise_or,
        dtypes=INTEGRAL,
        reject=RuntimeError,
        domains=(Domain(-100, 100),),
    ),
    _b(
        "bitwise_xor",
        np.bitwise_xor,
        dtypes=INTEGRAL,
        reject=RuntimeError,
        domains=(Domain(-100, 100),),
    ),
    # Shift counts stay below the bit width (larger counts are undefined in C++).
    _b(
        "left_shift",
        _shift(np.left_shift),
        dtypes=INTEGRAL,
        reject=RuntimeError,
        out_dtype=bool_to_uint8,
        domains=(Domain(-100, 100), Domain(0, 7)),
    ),
    _b(
        "right_shift",
        _shift(np.right_shift),
        dtypes=INTEGRAL,
        reject=RuntimeError,
        out_dtype=bool_to_uint8,
        domains=(Domain(-100, 100), Domain(0, 7)),
    ),
]

TERNARY = [
    OpDesc(
        "where",
        mx.where,
        np.where,
        3,
        domains=(ANY, ANY, ANY),
        arg_dtypes=(mx.bool_, None, None),
        reject=None,
    ),
    OpDesc(
        "clip",
        mx.clip,
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        3,
        domains=(Domain(-5, 5), Domain(-3, -1), Domain(1, 3)),
        dtypes=NO_COMPLEX,
        reject=None,
    ),
]

ELEMENTWISE = UNARY + BINARY + TERNARY
BY_NAME = {d.name: d for d in ELEMENTWISE}


# --------------------------------------------------------------------------------------
# layouts: how the generic tests build each argument


def layout_inputs(rng, desc, dtype, layout):
    """Build the mx arguments and the exact NumPy arguments for one layout.

    Returns (mx_args, np_args). Non-contiguous layouts build a larger array and take a
    view in MLX and NumPy in the same way, so both sides see identical values.
    """
    dts = [dtype if a is None else a for a in desc.arg_dtypes]
    shapes = {
        "scalar": [()] * desc.nin,
        "empty": [(0,)] * desc.nin,
        "empty2d": [(2, 0, 3)] * desc.nin,
        "vector": [(7,)] * desc.nin,
        "matrix": [(3, 4)] * desc.nin,
        "broadcast": [(3, 1), (1, 4), (3, 4)][: desc.nin] if desc.nin > 1 else [(1, 4)],
        "broadcast_scalar": [(2, 3), (), (3,)][: desc.nin],
        "transposed": [(4, 3)] * desc.nin,
        "transposed3d": [(2, 3, 4)] * desc.nin,
        "strided": [(6, 9)] * desc.nin,
        "reversed": [(8,)] * desc.nin,
    }[layout]
    mx_args, np_args = [], []
    for i, (shape, dt) in enumerate(zip(shapes, dts)):
        a, x = make_input(rng, shape, dt, desc.domains[i])
        if layout == "transposed":
            a, x = a.T, x.T
        elif layout == "transposed3d":
            a, x = mx.transpose(a, (2, 0, 1)), np.transpose(x, (2, 0, 1))
        elif layout == "strided":
            a, x = a[1::2, ::3], x[1::2, ::3]
        elif layout == "reversed":
            a, x = a[::-1], x[::-1]
        elif layout == "broadcast" and desc.nin == 1:
            a, x = mx.broadcast_to(a, (3, 4)), np.broadcast_to(x, (3, 4))
        mx_args.append(a)
        np_args.append(x)
    return mx_args, np_args


LAYOUTS = [
    "scalar",
    "empty",
    "empty2d",
    "vector",
    "matrix",
    "broadcast",
    "broadcast_scalar",
    "transposed",
    "transposed3d",
    "strided",
    "reversed",
]


def reference(desc, np_args, dtype=None):
    """NumPy reference; integer inputs of ops with an inexact result go in as float64
    (NumPy would compute sin(int8) in float16)."""
    if dtype is not None and dtype not in INEXACT and desc.out_dtype(dtype) in INEXACT:
        np_args = [
            x.astype(np.float64) if fixed is None else x
            for x, fixed in zip(np_args, desc.arg_dtypes)
        ]
    with np.errstate(all="ignore"):
        return np.asarray(desc.np_fn(*np_args))


def check_result(desc, out, expected, in_dtype):
    """Value and dtype check of one generic test."""
    out_dtype = desc.out_dtype(in_dtype)
    assert out.dtype == out_dtype, (
        f"{desc.name}({dtype_name(in_dtype)}) gave {out.dtype}"
    )
    if desc.exact or out_dtype not in TOLERANCES:
        if out_dtype in TOLERANCES:
            np.testing.assert_array_equal(
                to_numpy(out).astype(
                    np.float64 if out_dtype != mx.complex64 else np.complex128
                ),
                expected,
            )
            assert to_numpy(out).shape == expected.shape
        else:
            assert_array_equal(out, expected.astype(NP_DTYPE[out_dtype]))
    else:
        # The reference is computed in float64 on the exact inputs; the tolerance of the
        # result dtype allows for rounding of the result and of intermediate values.
        if out_dtype == mx.float64 and desc.approx64:
            rtol, atol = F64_APPROX_TOL
            assert_close(
                out, expected, rtol=rtol * desc.tol_scale, atol=atol * desc.tol_scale
            )
        else:
            assert_close(out, expected, scale=desc.tol_scale)


# --------------------------------------------------------------------------------------
# reductions


def sum_dtype(dt):
    """sum / prod: bool and integers narrower than 32 bits accumulate in 32 bits
    (uint8 gives uint32, int8 gives int32); NumPy would give 64 bits."""
    if dt in (mx.bool_, mx.int8, mx.int16):
        return mx.int32
    if dt in (mx.uint8, mx.uint16):
        return mx.uint32
    return dt


def var_dtype(dt):
    """var / std: integers give float32, complex64 gives float32."""
    return mx.float32 if dt not in FLOATS else dt


@dataclass
class ReductionDesc:
    """A reduction described once.

    mx_fn(a, axis, keepdims) and np_fn(x, axis, keepdims) take axis None, an int or a
    tuple. tuple_axes: the op takes several axes. empty_ok: reducing a zero-size axis
    is allowed (otherwise ValueError). as_float: the NumPy reference runs on float64.
    """

    name: str
    mx_fn: Callable
    np_fn: Callable
    dtypes: Sequence = tuple(ALL_DTYPES)
    out_dtype: Callable = lambda dt: dt
    domain: Domain = ANY
    tuple_axes: bool = True
    empty_ok: bool = True
    tol_scale: float = 4.0
    # A reduction over no axes (axis=(), or any reduction of a 0-d array) returns the
    # input unchanged for sum / prod, keeping its dtype (sum(int8 scalar) stays int8).
    noop_keeps_dtype: bool = False
    # argmax / argmin / logsumexp reject every zero-size input, even along a
    # nonempty axis.
    empty_any_raises: bool = False

    def __repr__(self):
        return f"ReductionDesc({self.name})"

    def ref(self, x, axis, keepdims):
        import warnings

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(self.np_fn(x, axis=axis, keepdims=keepdims))


def _red(name, np_fn, **kw):
    f = getattr(mx, name)
    return ReductionDesc(
        name, lambda a, axis, keepdims: f(a, axis=axis, keepdims=keepdims), np_fn, **kw
    )


def _np_arg(f):
    def g(x, axis, keepdims):
        if axis is None:
            r = f(x.reshape(-1), axis=0)
            return np.reshape(r, (1,) * x.ndim) if keepdims else r
        return f(x, axis=axis, keepdims=keepdims)

    return g


def _np_logsumexp(x, axis, keepdims):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return (
        r
        if keepdims
        else np.squeeze(r, axis=axis)
        if axis is not None
        else r.reshape(())
    )


def _np_float(f):
    def g(x, axis, keepdims):
        if not np.iscomplexobj(x):
            x = x.astype(np.float64)
        return f(x, axis=axis, keepdims=keepdims)

    return g


REDUCTIONS = [
    _red("sum", np.sum, out_dtype=sum_dtype, noop_keeps_dtype=True),
    _red(
        "prod",
        np.prod,
        out_dtype=sum_dtype,
        noop_keeps_dtype=True,
        domain=Domain(0.6, 1.6, int_lo=-2, int_hi=2, clo=0.5, chi=1.0),
    ),
    # Complex max / min order lexicographically, as NumPy does.
    _red("max", np.max, empty_ok=False),
    _red("min", np.min, empty_ok=False),
    _red("mean", _np_float(np.mean), out_dtype=to_float),
    _red("var", _np_float(np.var), out_dtype=var_dtype),
    _red("std", _np_float(np.std), out_dtype=var_dtype),
    _red("all", np.all, out_dtype=to_bool, domain=Domain(-1, 1, integer=True)),
    _red("any", np.any, out_dtype=to_bool, domain=Domain(-1, 1, integer=True)),
    _red(
        "count_nonzero",
        np.count_nonzero,
        out_dtype=lambda dt: mx.int32,
        domain=Domain(-1, 1, integer=True),
    ),
    # argmax / argmin take one axis (or None), return uint32 and pick the first of ties.
    _red(
        "argmax",
        _np_arg(np.argmax),
        out_dtype=lambda dt: mx.uint32,
        tuple_axes=False,
        empty_ok=False,
        empty_any_raises=True,
        domain=Domain(-3, 3, integer=True),
    ),
    _red(
        "argmin",
        _np_arg(np.argmin),
        out_dtype=lambda dt: mx.uint32,
        tuple_axes=False,
        empty_ok=False,
        empty_any_raises=True,
        domain=Domain(-3, 3, integer=True),
    ),
    # NumPy has no complex logsumexp; complex inputs are left out here.
    _red(
        "logsumexp",
        _np_logsumexp,
        dtypes=tuple(REAL),
        out_dtype=to_float,
        empty_ok=False,
        empty_any_raises=True,
    ),
]
REDUCTIONS_BY_NAME = {d.name: d for d in REDUCTIONS}


def check_reduction(desc, out, expected, in_dtype, n_reduced=1, axis=None, ndim=None):
    want = desc.out_dtype(in_dtype)
    if (axis == () or ndim == 0) and desc.noop_keeps_dtype:
        want = in_dtype
    assert out.dtype == want, f"{desc.name}({dtype_name(in_dtype)}) gave {out.dtype}"
    expected = np.asarray(expected)
    assert out.shape == expected.shape, f"shape {out.shape} != {expected.shape}"
    if want in TOLERANCES:
        # Accumulated rounding grows with the number of reduced elements.
        scale = desc.tol_scale * max(1.0, math.sqrt(n_reduced))
        if want == mx.float64 and in_dtype == mx.float64 and desc.name == "logsumexp":
            rtol, atol = F64_APPROX_TOL
            assert_close(out, expected, rtol=rtol * scale, atol=atol * scale)
        else:
            assert_close(out, expected, scale=scale)
    else:
        assert_array_equal(out, expected.astype(NP_DTYPE[want]))
