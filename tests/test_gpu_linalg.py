"""mx.linalg on the GPU (cuSOLVER/cuBLAS kernels, backend/cuda/linalg.cpp) against the CPU
(LAPACK) and NumPy.

Every op runs with stream=mx.gpu (linalg without a stream runs on the CPU). Factorizations whose
factors are not unique (signs of QR/SVD/eigh columns) are checked through reconstructions and
orthogonality; values and unique factors are compared with the CPU. Matrices are well
conditioned, so float32 tolerances are a small multiple of eps. Each handled case also checks,
through mx.cuda._host_fallbacks(), that no linalg node ran on the host. Skipped where no CUDA GPU
is present.
"""
import numpy as np
import pytest

import mlx.core as mx
from conftest import NoHostRuns

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

LA_PRIMS = ("Inverse", "Cholesky", "QRF", "SVD", "Eigh", "Eig", "LUF", "Solve", "SolveTriangular")
G, C = mx.gpu, mx.cpu
rng = np.random.default_rng(0)


def npy(x):
    mx.eval(x)
    return np.array(x)


def close(a, b, tol=2e-4, scale=None):
    a, b = npy(a) if isinstance(a, mx.array) else a, npy(b) if isinstance(b, mx.array) else b
    assert a.shape == b.shape, (a.shape, b.shape)
    s = scale if scale is not None else max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * s)


def well(shape, shift=3.0, dtype=np.float32):
    """Random square matrices with singular values in about [shift - 2, shift + 2]."""
    n = shape[-1]
    a = rng.standard_normal(shape) / np.sqrt(n) + shift * np.eye(n)
    if dtype == np.complex64:
        a = a + 1j * rng.standard_normal(shape) / np.sqrt(n)
    return a.astype(dtype)


def spd(shape):
    n = shape[-1]
    x = rng.standard_normal(shape) / np.sqrt(n)
    return (x @ np.swapaxes(x, -1, -2) + np.eye(n)).astype(np.float32)


def sym(shape, dtype=np.float32):
    x = rng.standard_normal(shape)
    if dtype == np.complex64:
        x = x + 1j * rng.standard_normal(shape)
    return ((x + np.conj(np.swapaxes(x, -1, -2))) / 2).astype(dtype)


def layouts(x):
    """The same matrices in several layouts: contiguous, transposed view of the transpose,
    a strided slice of a larger array, and a broadcast batch."""
    a = mx.array(x)
    out = [("contig", a, x)]
    out.append(("transposed", mx.swapaxes(mx.array(np.ascontiguousarray(np.swapaxes(x, -1, -2))), -1, -2), x))
    big = np.zeros(x.shape[:-2] + (2 * x.shape[-2], 3 * x.shape[-1]), dtype=x.dtype)
    big[..., ::2, 1::3] = x
    out.append(("sliced", mx.array(big)[..., ::2, 1::3], x))
    out.append(("broadcast", mx.broadcast_to(a, (2,) + x.shape), np.broadcast_to(x, (2,) + x.shape)))
    return out


SQUARE = [(1, 1), (4, 4), (33, 33), (3, 5, 5), (2, 3, 7, 7), (64, 8, 8), (200, 200)]


# ---------------- inverse ----------------

@pytest.mark.parametrize("shape", SQUARE)
def test_inv(shape):
    x = well(shape)
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.inv(a, stream=G)
            mx.eval(g)
        close(g, mx.linalg.inv(a, stream=C))
        close(g, np.linalg.inv(xn.astype(np.float64)).astype(np.float32))
        close(mx.matmul(g, a, stream=G), np.broadcast_to(np.eye(shape[-1], dtype=np.float32), xn.shape))


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
def test_tri_inv(shape, upper):
    x = well(shape)  # the other triangle is random and must be ignored
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.tri_inv(a, upper=upper, stream=G)
            mx.eval(g)
        c = mx.linalg.tri_inv(a, upper=upper, stream=C)
        close(g, c)
        t = np.triu(xn) if upper else np.tril(xn)
        ref = np.linalg.inv(t.astype(np.float64)).astype(np.float32)
        close(g, ref)
        gn = npy(g)
        other = np.tril(gn, -1) if upper else np.triu(gn, 1)
        assert np.all(other == 0)


def test_inv_singular_raises():
    a = mx.array(np.array([[1.0, 2.0], [2.0, 4.0]], dtype=np.float32))
    with pytest.raises(RuntimeError):
        mx.eval(mx.linalg.inv(a, stream=G))
    z = np.eye(3, dtype=np.float32)
    z[1, 1] = 0
    with pytest.raises(RuntimeError):
        mx.eval(mx.linalg.tri_inv(mx.array(z), stream=G))
    batch = np.stack([np.eye(3, dtype=np.float32), np.zeros((3, 3), np.float32)])
    with pytest.raises(RuntimeError, match="batch"):
        mx.eval(mx.linalg.inv(mx.array(batch), stream=G))


# ---------------- cholesky ----------------

@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", SQUARE)
def test_cholesky(shape, upper):
    x = spd(shape)
    # Garbage in the triangle not read: the result must not depend on it.
    noisy = x.copy()
    n = shape[-1]
    mask = np.tril(np.ones((n, n), bool), -1) if upper else np.triu(np.ones((n, n), bool), 1)
    noisy[..., mask] = 7.0
    for name, a, xn in layouts(noisy):
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.cholesky(a, upper=upper, stream=G)
            mx.eval(g)
        close(g, mx.linalg.cholesky(a, upper=upper, stream=C))
        gn = npy(g).astype(np.float64)
        full = np.broadcast_to(x, xn.shape)
        rec = np.swapaxes(gn, -1, -2) @ gn if upper else gn @ np.swapaxes(gn, -1, -2)
        close(rec.astype(np.float32), full)
        other = np.tril(gn, -1) if upper else np.triu(gn, 1)
        assert np.all(other == 0)


def test_cholesky_not_pd_raises():
    a = mx.array(np.array([[1.0, 2.0], [2.0, 1.0]], dtype=np.float32))
    with pytest.raises(RuntimeError, match="positive definite"):
        mx.eval(mx.linalg.cholesky(a, stream=G))


def test_cholesky_inv():
    x = spd((3, 6, 6))
    for upper in (False, True):
        l = mx.linalg.cholesky(mx.array(x), upper=upper, stream=G)
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.cholesky_inv(l, upper=upper, stream=G)
            mx.eval(g)
        close(g, np.linalg.inv(x.astype(np.float64)).astype(np.float32))


# ---------------- QR ----------------

@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (9, 4), (4, 9), (3, 7, 5), (2, 3, 5, 7), (150, 60), (60, 150)])
def test_qr(shape):
    x = rng.standard_normal(shape).astype(np.float32)
    m, n = shape[-2:]
    k = min(m, n)
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            q, r = mx.linalg.qr(a, stream=G)
            mx.eval(q, r)
        qc, rc = mx.linalg.qr(a, stream=C)
        assert q.shape == qc.shape and r.shape == rc.shape
        qn, rn = npy(q).astype(np.float64), npy(r).astype(np.float64)
        close((qn @ rn).astype(np.float32), xn)
        close((np.swapaxes(qn, -1, -2) @ qn).astype(np.float32), np.broadcast_to(np.eye(k), qn.shape[:-2] + (k, k)))
        assert np.all(np.tril(rn, -1) == 0)
        # Unique up to the signs of R's diagonal.
        d = np.sign(np.diagonal(rn, axis1=-2, axis2=-1))
        dc = np.sign(np.diagonal(npy(rc), axis1=-2, axis2=-1))
        f = (d * dc)[..., None, :]
        close(qn * f, npy(qc))
        close(rn * np.swapaxes(f, -1, -2), npy(rc))


# ---------------- SVD ----------------

SVD_SHAPES = [(1, 1), (6, 6), (9, 4), (4, 9), (3, 7, 5), (2, 2, 5, 7), (8, 16, 16), (120, 50), (50, 120)]


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("shape", SVD_SHAPES)
def test_svd(shape, dtype):
    x = rng.standard_normal(shape)
    if dtype == np.complex64:
        x = x + 1j * rng.standard_normal(shape)
    x = x.astype(dtype)
    m, n = shape[-2:]
    k = min(m, n)
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            s = mx.linalg.svd(a, compute_uv=False, stream=G)
            u, s2, vt = mx.linalg.svd(a, stream=G)
            mx.eval(s, u, s2, vt)
        assert s.dtype == mx.float32 and u.dtype == a.dtype and vt.dtype == a.dtype
        sc = mx.linalg.svd(a, compute_uv=False, stream=C)
        close(s, sc)
        close(s2, sc)
        close(s, np.linalg.svd(xn.astype(np.complex128 if dtype == np.complex64 else np.float64),
                               compute_uv=False).astype(np.float32))
        un, sn, vn = npy(u).astype(np.complex128), npy(s2), npy(vt).astype(np.complex128)
        assert un.shape == xn.shape[:-2] + (m, m) and vn.shape == xn.shape[:-2] + (n, n)
        rec = (un[..., :, :k] * sn[..., None, :]) @ vn[..., :k, :]
        close(rec, xn.astype(np.complex128))
        eye_m = np.broadcast_to(np.eye(m), un.shape)
        eye_n = np.broadcast_to(np.eye(n), vn.shape)
        close(np.conj(np.swapaxes(un, -1, -2)) @ un, eye_m)
        close(vn @ np.conj(np.swapaxes(vn, -1, -2)), eye_n)


def test_pinv():
    for shape in [(7, 4), (4, 7), (3, 6, 6)]:
        x = rng.standard_normal(shape).astype(np.float32)
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.pinv(mx.array(x), stream=G)
            mx.eval(g)
        close(g, np.linalg.pinv(x.astype(np.float64)).astype(np.float32), tol=5e-4)


# ---------------- eigh ----------------

@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", SQUARE)
def test_eigh(shape, uplo, dtype):
    x = sym(shape, dtype)
    n = shape[-1]
    # Noise in the triangle not read.
    noisy = x.copy()
    mask = np.triu(np.ones((n, n), bool), 1) if uplo == "L" else np.tril(np.ones((n, n), bool), -1)
    noisy[..., mask] = 5.0
    for name, a, xn in layouts(noisy):
        full = np.broadcast_to(x, xn.shape).astype(np.complex128)
        with NoHostRuns(LA_PRIMS):
            w = mx.linalg.eigvalsh(a, UPLO=uplo, stream=G)
            w2, v = mx.linalg.eigh(a, UPLO=uplo, stream=G)
            mx.eval(w, w2, v)
        assert w.dtype == mx.float32 and v.dtype == a.dtype
        wc = mx.linalg.eigvalsh(a, UPLO=uplo, stream=C)
        close(w, wc)
        close(w2, wc)
        close(w, np.linalg.eigvalsh(full).astype(np.float32))
        wn, vn = npy(w2).astype(np.float64), npy(v).astype(np.complex128)
        scale = max(1.0, float(np.max(np.abs(wn))))
        close(full @ vn, vn * wn[..., None, :], scale=scale)
        close(np.conj(np.swapaxes(vn, -1, -2)) @ vn, np.broadcast_to(np.eye(n), vn.shape), tol=5e-4)


# ---------------- general eigenproblem ----------------


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (33, 33), (3, 6, 6), (64, 8, 8)])
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_eig(shape, dtype):
    x = rng.standard_normal(shape)
    if dtype == np.complex64:
        x = x + 1j * rng.standard_normal(shape)
    x = x.astype(dtype)
    n = shape[-1]
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            w = mx.linalg.eigvals(a, stream=G)
            w2, v = mx.linalg.eig(a, stream=G)
            mx.eval(w, w2, v)
        assert w.dtype == mx.complex64 and v.dtype == mx.complex64 and v.shape == a.shape
        wn, vn = npy(w2).astype(np.complex128), npy(v).astype(np.complex128)
        full = np.asarray(xn, np.complex128)
        scale = max(1.0, float(np.max(np.abs(wn))))
        # A v = v diag(w), unit-norm columns; the same eigenvalues as the CPU and NumPy (as sets).
        close(full @ vn, vn * wn[..., None, :], tol=5e-4, scale=scale)
        close(np.linalg.norm(vn, axis=-2), np.ones(wn.shape), tol=1e-4)
        same_set(npy(w), np.linalg.eigvals(full), 2e-3 * scale)
        same_set(wn, npy(mx.linalg.eigvals(a, stream=C)), 2e-3 * scale)


def same_set(a, b, tol):
    """Each eigenvalue of a has one of b within tol, and the other way round (per matrix)."""
    a = np.asarray(a, np.complex128).reshape(-1, a.shape[-1])
    b = np.asarray(b, np.complex128).reshape(-1, b.shape[-1])
    d = np.abs(a[:, :, None] - b[:, None, :])
    assert d.min(axis=2).max() <= tol and d.min(axis=1).max() <= tol, (d.min(axis=2).max(), d.min(axis=1).max())


# ---------------- LU ----------------

LU_SHAPES = [(1, 1), (5, 5), (9, 4), (4, 9), (3, 6, 6), (2, 3, 5, 7), (100, 100), (130, 70)]


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu(shape):
    x = rng.standard_normal(shape).astype(np.float32)
    for name, a, xn in layouts(x):
        with NoHostRuns(LA_PRIMS):
            lu, piv = mx.linalg.lu_factor(a, stream=G)
            p, l, u = mx.linalg.lu(a, stream=G)
            mx.eval(lu, piv, p, l, u)
        luc, pivc = mx.linalg.lu_factor(a, stream=C)
        pc = mx.linalg.lu(a, stream=C)[0]
        assert piv.dtype == mx.uint32 and p.dtype == mx.uint32
        if max(shape[-2:]) <= 10:
            # Small random matrices have no near-ties in the pivot search: the factors match.
            np.testing.assert_array_equal(npy(piv), npy(pivc))
            np.testing.assert_array_equal(npy(p), npy(pc))
            close(lu, luc)
        # A = (L U)[p]
        ln, un, pn = npy(l).astype(np.float64), npy(u).astype(np.float64), npy(p)
        lu_prod = ln @ un
        rec = np.take_along_axis(lu_prod, pn[..., :, None].astype(np.int64), axis=-2)
        close(rec.astype(np.float32), xn)


def test_lu_singular_ok():
    # lu/det accept singular matrices (no error).
    a = mx.array(np.array([[1.0, 2.0], [2.0, 4.0]], dtype=np.float32))
    lu, piv = mx.linalg.lu_factor(a, stream=G)
    close(lu, mx.linalg.lu_factor(a, stream=C)[0])
    assert abs(mx.linalg.det(a, stream=G).item()) < 1e-6


@pytest.mark.parametrize("shape", [(4, 4), (3, 6, 6), (50, 50)])
def test_det_slogdet(shape):
    x = well(shape)
    a = mx.array(x)
    with NoHostRuns(LA_PRIMS):
        d = mx.linalg.det(a, stream=G)
        sg, ld = mx.linalg.slogdet(a, stream=G)
        mx.eval(d, sg, ld)
    sref, lref = np.linalg.slogdet(x.astype(np.float64))
    close(sg, sref.astype(np.float32))
    close(ld, lref.astype(np.float32))
    close(mx.linalg.det(a, stream=C), d, tol=1e-3)


# ---------------- solve ----------------

@pytest.mark.parametrize("shape,k", [((1, 1), 1), ((4, 4), 1), ((4, 4), 3), ((3, 6, 6), 2), ((2, 3, 5, 5), 4),
                                     ((100, 100), 7)])
def test_solve(shape, k):
    x = well(shape)
    b = rng.standard_normal(shape[:-1] + (k,)).astype(np.float32)
    ref = np.linalg.solve(x.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    for name, a, xn in layouts(x):
        bb = mx.array(b) if name != "broadcast" else mx.broadcast_to(mx.array(b), (2,) + b.shape)
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.solve(a, bb, stream=G)
            mx.eval(g)
        close(g, mx.linalg.solve(a, bb, stream=C))
        close(g, np.broadcast_to(ref, g.shape))
    # b transposed (non-contiguous) and a batch broadcast against b's.
    bt = mx.swapaxes(mx.array(np.ascontiguousarray(np.swapaxes(b, -1, -2))), -1, -2)
    close(mx.linalg.solve(mx.array(x), bt, stream=G), ref)
    bb = rng.standard_normal((3,) + b.shape).astype(np.float32)
    close(mx.linalg.solve(mx.array(x), mx.array(bb), stream=G), mx.linalg.solve(mx.array(x), mx.array(bb), stream=C))


def test_solve_vector_and_singular():
    x = well((5, 5))
    v = rng.standard_normal(5).astype(np.float32)
    with NoHostRuns(LA_PRIMS):
        g = mx.linalg.solve(mx.array(x), mx.array(v), stream=G)
        mx.eval(g)
    close(g, np.linalg.solve(x.astype(np.float64), v).astype(np.float32))
    s = np.ones((3, 3), np.float32)
    with pytest.raises(RuntimeError, match="singular"):
        mx.eval(mx.linalg.solve(mx.array(s), mx.array(np.ones((3, 1), np.float32)), stream=G))


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape,k", [((1, 1), 1), ((4, 4), 1), ((5, 5), 3), ((3, 6, 6), 2), ((2, 3, 5, 5), 4),
                                     ((120, 120), 9)])
def test_solve_triangular(shape, k, upper):
    x = well(shape)
    b = rng.standard_normal(shape[:-1] + (k,)).astype(np.float32)
    t = np.triu(x) if upper else np.tril(x)
    ref = np.linalg.solve(t.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    for name, a, xn in layouts(x):
        bb = mx.array(b) if name != "broadcast" else mx.broadcast_to(mx.array(b), (2,) + b.shape)
        with NoHostRuns(LA_PRIMS):
            g = mx.linalg.solve_triangular(a, bb, upper=upper, stream=G)
            mx.eval(g)
        close(g, mx.linalg.solve_triangular(a, bb, upper=upper, stream=C))
        close(g, np.broadcast_to(ref, g.shape))


def test_solve_triangular_singular():
    z = np.eye(4, dtype=np.float32)
    z[2, 2] = 0
    with pytest.raises(RuntimeError, match="singular"):
        mx.eval(mx.linalg.solve_triangular(mx.array(z), mx.ones((4, 2)), stream=G))


# ---------------- gradients (rules run their ops on the GPU stream) ----------------

def _grad_both(f, x):
    gg = mx.grad(lambda a: f(a, G))(mx.array(x))
    gc = mx.grad(lambda a: f(a, C))(mx.array(x))
    return gg, gc


def test_grad_inv():
    x = well((3, 5, 5))
    w = mx.array(rng.standard_normal((3, 5, 5)).astype(np.float32))
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.inv(a, stream=s) * w), x)
    close(gg, gc, tol=1e-3)


def test_grad_tri_inv():
    x = well((4, 4))
    w = mx.array(rng.standard_normal((4, 4)).astype(np.float32))
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.tri_inv(a, upper=True, stream=s) * w), x)
    close(gg, gc, tol=1e-3)


def test_grad_cholesky():
    x = spd((2, 6, 6))
    w = mx.array(rng.standard_normal((2, 6, 6)).astype(np.float32))
    for upper in (False, True):
        gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.cholesky(a, upper=upper, stream=s) * w), x)
        close(gg, gc, tol=1e-3)


def test_grad_solve():
    x = well((3, 5, 5))
    b = mx.array(rng.standard_normal((3, 5, 2)).astype(np.float32))
    w = mx.array(rng.standard_normal((3, 5, 2)).astype(np.float32))
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.solve(a, b, stream=s) * w), x)
    close(gg, gc, tol=1e-3)
    # with respect to b
    a = mx.array(x)
    gb = mx.grad(lambda bb: mx.sum(mx.linalg.solve(a, bb, stream=G) * w))(b)
    gbc = mx.grad(lambda bb: mx.sum(mx.linalg.solve(a, bb, stream=C) * w))(b)
    close(gb, gbc, tol=1e-3)


def test_grad_solve_triangular_eigvalsh_svdvals():
    x = well((5, 5))
    b = mx.array(rng.standard_normal((5, 3)).astype(np.float32))
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.solve_triangular(a, b, upper=False, stream=s) ** 2), x)
    close(gg, gc, tol=1e-3)
    xs = sym((6, 6))
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.eigvalsh(a, stream=s) ** 3), xs)
    close(gg, gc, tol=1e-3)
    xr = rng.standard_normal((7, 4)).astype(np.float32)
    gg, gc = _grad_both(lambda a, s: mx.sum(mx.linalg.svd(a, compute_uv=False, stream=s) ** 2), xr)
    close(gg, gc, tol=1e-3)


# ---------------- small and empty inputs ----------------

def test_eigvals_small_and_empty_inputs():
    x = rng.standard_normal((4, 4)).astype(np.float32)
    w = mx.linalg.eigvals(mx.array(x), stream=G)
    # As sets: a conjugate pair whose real parts differ in the last bit sorts either way round.
    same_set(npy(w)[None], npy(mx.linalg.eigvals(mx.array(x), stream=C))[None], 1e-3)
    e = mx.zeros((0, 0))
    assert mx.linalg.inv(e, stream=G).shape == (0, 0)
    e3 = mx.zeros((0, 3, 3))
    assert mx.linalg.cholesky(e3, stream=G).shape == (0, 3, 3)
