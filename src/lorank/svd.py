"""Dense, truncated and randomized singular value decompositions."""

import contextlib
import numbers

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from . import _sparse
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import as_matrix, check_int, check_rank, result_float_dtype

__all__ = ["svd", "randomized_svd", "numerical_rank"]


def svd(X, rank=None):
    """Thin singular value decomposition of a dense matrix (LAPACK ``gesdd``).

    Parameters
    ----------
    X : array_like of shape (m, n)
        A finite real matrix. float32 stays float32; integers become float64.
    rank : int, default=None
        Keep only the ``rank`` largest singular triplets (``1 <= rank <=
        min(m, n)``). ``None`` keeps all ``min(m, n)``.

    Returns
    -------
    U : ndarray of shape (m, k)
    s : ndarray of shape (k,)
        Singular values, non-increasing.
    Vt : ndarray of shape (k, n)
        So that ``X ≈ U @ np.diag(s) @ Vt``, exactly when ``k = min(m, n)``.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))
    >>> U, s, Vt = lorank.svd(X)
    >>> np.allclose(U * s @ Vt, X)
    True
    >>> int((s > 1e-10 * s[0]).sum())
    5
    """
    X = as_matrix(X, "X")
    if rank is not None:
        rank = check_rank(rank, X.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        U, s, Vt = scipy.linalg.svd(
            X, full_matrices=False, lapack_driver="gesdd", check_finite=False
        )
    _check_in_range("svd", "X", X.dtype, s, U, Vt)
    if rank is not None:
        U, s, Vt = U[:, :rank], s[:rank], Vt[:rank]
    return np.ascontiguousarray(U), s, np.ascontiguousarray(Vt)


def _check_in_range(func, name, dtype, *arrays):
    """A decomposition whose values left the dtype's range is an error, never a
    silent inf or NaN."""
    if all(np.isfinite(a).all() for a in arrays):
        return
    dtype = np.dtype(dtype)
    fix = f"scale {name} down" + (" or pass it as float64" if dtype != np.float64 else "")
    raise ValueError(
        f"{func} overflowed {dtype.name}: {name}'s singular values or the products of "
        f"the computation exceed its range (at most {np.finfo(dtype).max:.3g}); {fix}"
    )


def numerical_rank(X, tol=None, *, shape=None):
    """Number of singular values above a tolerance.

    Parameters
    ----------
    X : array_like
        A 2-D matrix, or a 1-D array of its singular values.
    tol : float, default=None
        Absolute threshold: singular values ``> tol`` count. ``None`` uses
        ``max(m, n) * eps * s[0]`` (NumPy's ``matrix_rank`` rule), with ``eps``
        of the matrix's dtype.
    shape : tuple of int, default=None
        Only for singular-value input: the matrix shape behind the default
        tolerance. Without it ``max(m, n)`` is taken as ``len(s)``.

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np, lorank
    >>> x = np.linspace(0, 1, 100)
    >>> F = np.sin(200 * x[:, None] + 75 * x) + np.sin(50 * x[:, None]) + np.cos(100 * x)
    >>> lorank.numerical_rank(F), lorank.numerical_rank(F, tol=1e-12)
    (4, 4)
    """
    arr = np.asarray(X)
    if arr.ndim == 2:
        if shape is not None:
            raise ValueError("shape is only for singular-value input; X is a matrix")
        X = as_matrix(arr, "X")
        s = scipy.linalg.svd(X, compute_uv=False, lapack_driver="gesdd", check_finite=False)
        shape = X.shape
    elif arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("X is empty: no singular values (shape (0,))")
        s = np.asarray(arr, dtype=result_float_dtype(arr, names=("X",)))
        bad = ~(np.isfinite(s) & (s >= 0))
        if bad.any():
            raise ValueError(
                f"X contains {s[bad][0]} at index {int(np.argmax(bad))}; "
                "singular values must be finite and >= 0"
            )
        if shape is None:
            shape = (s.size,)
    else:
        raise ValueError(
            f"X must be a 2-D matrix or 1-D singular values, got shape {arr.shape}"
        )
    if tol is None:
        tol = max(shape) * np.finfo(s.dtype).eps * s.max()
    else:
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
            raise TypeError(f"tol must be a real number or None, got {tol!r}")
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return int(np.count_nonzero(s > tol))


# --- randomized SVD -------------------------------------------------------------


class _Products:
    """``A @ M`` and ``A.T @ M`` for the kinds of operand randomized_svd takes."""

    def __init__(self, A, n_threads):
        self.n_threads = effective_n_threads(n_threads)
        self.sparse = scipy.sparse.issparse(A)
        if self.sparse:
            if A.ndim != 2:
                raise ValueError(f"A must be 2-D, got shape {A.shape}")
            csr = A.tocsr()
            self.dtype = result_float_dtype(csr.data, names=("A",))
            bad = np.flatnonzero(~np.isfinite(csr.data))
            if bad.size:
                i = int(np.searchsorted(csr.indptr, bad[0], side="right")) - 1
                at = (i, int(csr.indices[bad[0]]))
                raise ValueError(f"A contains {csr.data[bad[0]]} at {at}; values must be finite")
            self.shape = csr.shape
            self.csr = _csr_parts(csr, self.dtype)
            # Aᵀ @ M scatters from A's rows; thread t owns a slice of output rows
            # holding about 1/n_threads of the nonzeros.
            counts = np.bincount(self.csr[1], minlength=self.shape[1])
            cum = np.concatenate(([0], np.cumsum(counts)))
            targets = np.linspace(0, cum[-1], self.n_threads + 1)
            self.bounds = np.searchsorted(cum, targets).astype(np.int64)
            self.bounds[0], self.bounds[-1] = 0, self.shape[1]
            self.matmat = self._spmm
            self.rmatmat = self._spmm_t
        elif isinstance(A, scipy.sparse.linalg.LinearOperator) or hasattr(A, "rmatmat"):
            self.shape = tuple(A.shape)
            self.dtype = result_float_dtype(np.empty(0, dtype=A.dtype), names=("A",))
            self.matmat = lambda M: np.asarray(A.matmat(M), dtype=self.dtype)
            self.rmatmat = lambda M: np.asarray(A.rmatmat(M), dtype=self.dtype)
        elif hasattr(A, "left") and hasattr(A, "right"):  # LowRank
            self.shape, self.dtype = A.shape, A.dtype.type
            self.matmat = lambda M: A.left @ (A.right.T @ M)
            self.rmatmat = lambda M: A.right @ (A.left.T @ M)
        else:
            A = as_matrix(A, "A")
            self.shape, self.dtype = A.shape, A.dtype.type
            self.matmat = lambda M: A @ M
            self.rmatmat = lambda M: A.T @ M
        if len(self.shape) != 2 or min(self.shape) == 0:
            raise ValueError(f"A must be a non-empty 2-D operator, got shape {self.shape}")

    def _spmm(self, M):
        M = np.ascontiguousarray(M, dtype=self.dtype)
        out = np.empty((self.shape[0], M.shape[1]), dtype=self.dtype)
        _sparse.csr_matmat(*self.csr, M, out, self.n_threads)
        return out

    def _spmm_t(self, M):
        M = np.ascontiguousarray(M, dtype=self.dtype)
        out = np.empty((self.shape[1], M.shape[1]), dtype=self.dtype)
        _sparse.csr_rmatmat(*self.csr, M, out, self.bounds, self.n_threads)
        return out


def _csr_parts(S, dtype):
    """Kernel-ready (int64 indptr, int32 indices, values) of a finite CSR matrix.

    Duplicate entries need no summing (the product adds them) and the caller's
    matrix is never modified.
    """
    data = np.ascontiguousarray(S.data, dtype=dtype)
    itype = np.int32 if S.shape[1] <= np.iinfo(np.int32).max else np.int64
    return (
        np.ascontiguousarray(S.indptr, dtype=np.int64),
        np.ascontiguousarray(S.indices, dtype=itype),
        data,
    )


def randomized_svd(
    A, rank, *, n_oversamples=10, n_iter=4, random_state=None, n_threads=None
):
    """Approximate truncated SVD by randomized range finding (Halko et al. 2011).

    Parameters
    ----------
    A : ndarray, scipy.sparse matrix or array, LinearOperator, or LowRank
        The (m, n) operand. Only ``A @ M`` and ``A.T @ M`` are used; sparse
        products run in a compiled parallel kernel.
    rank : int
        Number of singular triplets, ``1 <= rank <= min(m, n)``.
    n_oversamples : int, default=10
        Extra random directions; the sketch has ``rank + n_oversamples``
        columns (capped at ``min(m, n)``).
    n_iter : int, default=4
        Power iterations. Each sharpens the gap between kept and dropped
        singular values; use more when the spectrum decays slowly.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the Gaussian test matrix.
    n_threads : int, default=None
        Threads for sparse products (``None``: all usable cores). For sparse
        ``A`` BLAS runs single-threaded during the call so its threads never
        compete with these. Results do not depend on ``n_threads``.

    Returns
    -------
    U : ndarray of shape (m, rank)
    s : ndarray of shape (rank,)
    Vt : ndarray of shape (rank, n)
        In the operand's dtype (float32 stays float32).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, lorank
    >>> A = sp.random(300, 200, density=0.05, random_state=0, format="csr")
    >>> U, s, Vt = lorank.randomized_svd(A, 5, random_state=0)
    >>> U.shape, s.shape, Vt.shape
    ((300, 5), (5,), (5, 200))
    """
    ops = _Products(A, n_threads)
    m, n = ops.shape
    rank = check_rank(rank, ops.shape)
    n_oversamples = check_int(n_oversamples, "n_oversamples", minimum=0)
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    k = min(rank + n_oversamples, m, n)
    # Sparse products run in lorank's OpenMP kernels; the thin LU/QR between them
    # gain little from BLAS threads, whose spin-waiting would steal the cores.
    with single_threaded_blas() if ops.sparse else contextlib.nullcontext(), \
            np.errstate(over="ignore", invalid="ignore"):
        return _randomized_svd(ops, rank, k, np.random.default_rng(random_state), n_iter)


def _randomized_svd(ops, rank, k, rng, n_iter):
    m, n = ops.shape
    dtype = ops.dtype

    # Range finder with LU-normalized power iterations and a final QR.
    Q = ops.matmat(rng.standard_normal((n, k)).astype(dtype, copy=False))
    for _ in range(n_iter):
        Q = _orthonormalize(Q, final=False)
        Q = ops.rmatmat(Q)
        Q = _orthonormalize(Q, final=False)
        Q = ops.matmat(Q)
    _check_in_range("randomized_svd", "A", dtype, Q)
    Q = _orthonormalize(Q, final=True)

    # Project: Bᵀ = Aᵀ Q (n x k), then a small dense SVD. LAPACK is faster on the
    # tall Bᵀ = W diag(s) Zᵀ than on the wide B = Z diag(s) Wᵀ.
    Bt = ops.rmatmat(Q)
    _check_in_range("randomized_svd", "A", dtype, Bt)
    W, s, Zt = scipy.linalg.svd(
        Bt, full_matrices=False, lapack_driver="gesdd", check_finite=False, overwrite_a=True
    )
    U = Q @ Zt[:rank].T
    _check_in_range("randomized_svd", "A", dtype, s[:rank].astype(dtype, copy=False))
    return (
        np.ascontiguousarray(U, dtype=dtype),
        s[:rank].astype(dtype, copy=False),
        np.ascontiguousarray(W[:, :rank].T, dtype=dtype),
    )


def _orthonormalize(Y, final):
    if final:
        return scipy.linalg.qr(Y, mode="economic", check_finite=False)[0]
    # Cheaper than QR and just as good between power iterations.
    return scipy.linalg.lu(Y, permute_l=True, check_finite=False)[0]
