"""Dense, truncated and randomized singular value decompositions."""

import contextlib
import numbers

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .._kernels import _sparse
from .._threads import effective_n_threads, single_threaded_blas
from .._validation import as_matrix, check_int, check_rank, result_float_dtype

__all__ = ["svd", "block_krylov_svd", "randomized_svd", "numerical_rank"]


def svd(X, rank=None, *, method="auto", tol=None, random_state=None, n_threads=None):
    """Singular value decomposition: thin for dense arrays, truncated for
    sparse matrices and operators.

    Parameters
    ----------
    X : array_like, scipy.sparse matrix or array, LinearOperator or LowRank
        A finite real (m, n) matrix or operator. float32 stays float32;
        integers become float64.
    rank : int, default=None
        Keep only the ``rank`` largest singular triplets (``1 <= rank <=
        min(m, n)``). ``None`` keeps all ``min(m, n)`` (dense methods only).
    method : {"auto", "gesdd", "krylov", "randomized"}, default="auto"
        ``"gesdd"``: LAPACK's dense SVD (dense input only). ``"krylov"``:
        :func:`block_krylov_svd`, singular values accurate to ``tol``. ``"randomized"``:
        :func:`randomized_svd` with its defaults, fast but without an accuracy
        target. ``"auto"`` takes ``"gesdd"`` for dense arrays, the exact
        factored SVD for a ``LowRank``, and ``"krylov"`` for sparse matrices
        and operators (``rank`` required).
    tol : float, default=None
        Only for ``"krylov"``: see :func:`block_krylov_svd`.
    random_state : int, numpy.random.Generator or None, default=None
        Only for ``"krylov"`` and ``"randomized"``: seed of the random start.
    n_threads : int, default=None
        Only for ``"krylov"`` and ``"randomized"``: threads for sparse products.

    Returns
    -------
    U : ndarray of shape (m, k)
    s : ndarray of shape (k,)
        Singular values, non-increasing.
    Vt : ndarray of shape (k, n)
        So that ``X ≈ U @ np.diag(s) @ Vt``, exactly when ``k = min(m, n)``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))
    >>> U, s, Vt = lorank.svd(X)
    >>> np.allclose(U * s @ Vt, X)
    True
    >>> int((s > 1e-10 * s[0]).sum())
    5
    >>> S = sp.csr_array(X)                      # sparse: block Krylov
    >>> U, s5, Vt = lorank.svd(S, 5, random_state=0)
    >>> bool(np.allclose(s5, s[:5]))
    True
    """
    methods = ("auto", "gesdd", "krylov", "randomized")
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    operand = scipy.sparse.issparse(X) or hasattr(X, "rmatmat")
    if method == "auto":
        if hasattr(X, "left") and hasattr(X, "right") and hasattr(X, "svd"):  # LowRank
            U, s, Vt = X.svd()
            rank = s.size if rank is None else check_rank(rank, X.shape)
            return np.ascontiguousarray(U[:, :rank]), s[:rank], np.ascontiguousarray(Vt[:rank])
        method = "krylov" if operand else "gesdd"
    if method != "gesdd":
        if rank is None:
            raise ValueError(f'rank is required for method="{method}" (a truncated SVD); '
                             "pass rank=k")
        if method == "krylov":
            return block_krylov_svd(X, rank, tol=tol, random_state=random_state,
                                    n_threads=n_threads)
        if tol is not None:
            raise ValueError('tol is only for method="krylov"')
        return randomized_svd(X, rank, random_state=random_state, n_threads=n_threads)
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
            # A finite sum clears the values in one cheap pass; else find the culprit
            # (an overflowing sum of finite values finds none and goes on).
            with np.errstate(over="ignore", invalid="ignore"):
                clear = bool(np.isfinite(np.sum(csr.data)))
            bad = [] if clear else np.flatnonzero(~np.isfinite(csr.data))
            if len(bad):
                i = int(np.searchsorted(csr.indptr, bad[0], side="right")) - 1
                at = (i, int(csr.indices[bad[0]]))
                raise ValueError(f"A contains {csr.data[bad[0]]} at {at}; values must be finite")
            self.shape = csr.shape
            self.csr = _csr_parts(csr, self.dtype)
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

    def gram(self, Q):
        """(W, Y) for Q on A's shorter side: W = Aᵀ Q and Y = A W when m <= n,
        else W = A Q and Y = Aᵀ W. Sparse A does both in one pass over the
        nonzeros, from a CSR copy whose rows are the longer side."""
        tall = self.shape[0] > self.shape[1]
        if not self.sparse:
            if tall:
                W = self.matmat(Q)
                return W, self.rmatmat(W)
            W = self.rmatmat(Q)
            return W, self.matmat(W)
        if not hasattr(self, "_long_rows"):
            if tall:
                self._long_rows = self.csr
            else:
                indptr, indices, data = self.csr
                S = scipy.sparse.csr_array((data, indices, indptr), shape=self.shape)
                self._long_rows = _csr_parts(S.T.tocsr(), self.dtype)
        Q = np.ascontiguousarray(Q, dtype=self.dtype)
        W = np.empty((max(self.shape), Q.shape[1]), dtype=self.dtype)
        Y = np.empty_like(Q)
        blocks = _sparse.rmatmat_blocks(self._long_rows[2].size, Q.shape[0], Q.shape[1],
                                        Q.itemsize)
        _sparse.csr_gram(*self._long_rows, Q, W, Y, blocks, min(blocks, self.n_threads))
        return W, Y

    def _spmm(self, M):
        M = np.ascontiguousarray(M, dtype=self.dtype)
        out = np.empty((self.shape[0], M.shape[1]), dtype=self.dtype)
        # A small product is not worth waking a team of threads.
        threads = self.n_threads if self.csr[2].size >= (1 << 16) else 1
        _sparse.csr_matmat(*self.csr, M, out, threads)
        return out

    def _spmm_t(self, M):
        M = np.ascontiguousarray(M, dtype=self.dtype)
        out = np.empty((self.shape[1], M.shape[1]), dtype=self.dtype)
        blocks = _sparse.rmatmat_blocks(self.csr[2].size, self.shape[1], M.shape[1],
                                        out.itemsize)
        _sparse.csr_rmatmat(*self.csr, M, out, blocks, min(blocks, self.n_threads))
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


# --- block Krylov SVD -------------------------------------------------------------


def block_krylov_svd(
    A, rank, *, block_size=None, tol=None, vector_tol=None, max_blocks=None,
    random_state=None, n_threads=None
):
    """Truncated SVD by block Lanczos with full reorthogonalization.

    Builds an orthonormal basis of the block Krylov space
    ``span{Q, (A Aᵀ) Q, (A Aᵀ)² Q, ...}`` of a random block ``Q`` on the
    shorter side of A, one block per pair of products (one pass over a sparse
    A), and stops as soon as every wanted singular value is within ``tol``
    (relative) of a true one. The error of a Ritz value shrinks like its
    residual squared over the gap to the next singular value, so the values
    converge much sooner than the vectors; ``vector_tol`` asks for the
    vectors too. Compared with ARPACK (``scipy.sparse.linalg.svds``) it
    reaches the same singular values in fewer, wider passes over A, which
    lorank's compiled sparse kernels run in parallel.

    Parameters
    ----------
    A : scipy.sparse matrix or array, LinearOperator, LowRank or ndarray
        The (m, n) operand. Only ``A @ M`` and ``A.T @ M`` are used.
    rank : int
        Number of singular triplets, ``1 <= rank <= min(m, n)``.
    block_size : int, default=None
        Columns per Krylov block; ``None`` takes ``rank // 5`` clipped to
        [2, 16] (and to ``min(m, n)``). Wider blocks need fewer passes, each
        costing more; narrow ones build a higher-degree Krylov space from the
        same number of products (``bench/bench_svd.py`` compares them). A
        singular value repeated more than ``block_size`` times may come back
        fewer times (a limit of block Lanczos): make ``block_size`` at least
        the multiplicity you expect.
    tol : float, default=None
        Relative accuracy of the singular values: stop when every wanted
        ``s[j]``'s estimated error, min(r, r²/gap) / (2 s[j]²) with r the
        residual ``‖A Aᵀ u − s² u‖`` and gap the distance of ``s[j]²`` to the
        other Ritz values (less their residuals), is at most ``tol``. ``None``
        takes 1e-8 in float64 and 1e-5 in float32. Values whose square is
        within ``100·eps·s[0]²`` of the truth count as converged whatever
        ``tol`` asks (rounding level; eps of the dtype). The estimate is
        usually pessimistic: the error is then well below ``tol``.
    vector_tol : float, default=None
        Also stop no sooner than every wanted triplet's residual
        ``‖A v − s u‖`` is at most ``vector_tol * s[0]``: each returned triplet
        is then an exact singular triplet of a matrix within
        ``vector_tol * s[0]`` of A (spectral norm). ``None`` asks nothing of
        the vectors beyond what ``tol`` brings (their residual is then about
        ``sqrt(tol)`` relative). For singular vectors to working accuracy pass
        ``vector_tol=np.sqrt(np.finfo(dtype).eps)`` (the old default), with
        ``tol=1e-14`` for values to the last digits in float64.
    max_blocks : int, default=None
        Most Krylov blocks (pairs of products); ``None`` allows
        ``max(100, 20 * rank / block_size)``. The basis holds at most
        ``3 * (rank + block_size) + 20`` columns; when it is full the search
        restarts from the best ``rank`` or more Ritz vectors (thick restart),
        keeping what it has learnt. Reaching ``max_blocks`` without
        convergence warns (``RuntimeWarning``) and returns the current
        approximation.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the random starting block.
    n_threads : int, default=None
        Threads for sparse products (``None``: all usable cores). Results do
        not depend on ``n_threads``.

    Returns
    -------
    U : ndarray of shape (m, rank)
    s : ndarray of shape (rank,)
        Singular values, non-increasing.
    Vt : ndarray of shape (rank, n)
        In the operand's dtype (float32 stays float32).

    See Also
    --------
    svd : the entry point; ``method="krylov"`` (the default for sparse
        matrices and operators) calls this function.
    randomized_svd : a fixed number of power iterations, no accuracy target.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, scipy.sparse.linalg as spla, lorank
    >>> A = sp.random(2000, 500, density=0.01, random_state=0, format="csr")
    >>> A = A @ sp.diags(0.99 ** np.arange(500))  # a decaying spectrum
    >>> U, s, Vt = lorank.block_krylov_svd(A, 5, random_state=0)
    >>> ref = np.sort(spla.svds(A, k=5, return_singular_vectors=False, random_state=0))[::-1]
    >>> bool(np.all(np.abs(s - ref) <= 1e-8 * ref))  # tol=1e-8: the values
    True
    >>> U, s, Vt = lorank.block_krylov_svd(A, 5, vector_tol=1e-8, random_state=0)
    >>> bool(np.allclose(U.T @ U, np.eye(5)) and np.allclose(A @ Vt.T, U * s))
    True
    """
    ops = _Products(A, n_threads)
    rank = check_rank(rank, ops.shape)
    short = min(ops.shape)
    if block_size is None:
        block_size = min(max(2, rank // 5), 16)
    block_size = min(check_int(block_size, "block_size", minimum=1), short)
    if max_blocks is None:
        max_blocks = max(100, -(-(20 * rank) // block_size))
    max_blocks = check_int(max_blocks, "max_blocks", minimum=1)
    tol = _check_tol(tol, "tol", _DEFAULT_TOL[np.dtype(ops.dtype)])
    vector_tol = _check_tol(vector_tol, "vector_tol", None)
    rng = np.random.default_rng(random_state)
    with single_threaded_blas() if ops.sparse else contextlib.nullcontext(), \
            np.errstate(over="ignore", invalid="ignore"):
        U, s, V = _block_krylov(ops, rank, block_size, tol, vector_tol, max_blocks, rng)
        if ops.shape[0] > ops.shape[1]:
            U, V = V, U
    _check_in_range("block_krylov_svd", "A", ops.dtype, U, s, V)
    return np.ascontiguousarray(U), s, np.ascontiguousarray(V.T)


# block_krylov_svd's default tol: the relative accuracy of the singular values.
_DEFAULT_TOL = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 1e-5}
# Ritz values within _ROUNDING·eps·s[0]² of the truth are as good as they get.
_ROUNDING = 100


def _check_tol(tol, name, default):
    if tol is None:
        return default
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 <= tol < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {tol!r}")
    return float(tol)


def _value_errors(lam, r):
    """Bounds on the error of the Ritz values ``lam`` (of A Aᵀ, non-increasing)
    with residuals ``r``: min(r, r² / gap), the gap to the nearest other Ritz
    value less that value's residual (the eigenvalue it stands for lies
    within it), so a cluster falls back to the bound r."""
    d = np.abs(lam[:, None] - lam[None, :]) - r[None, :]
    np.fill_diagonal(d, np.inf)
    gap = np.maximum(d.min(axis=1), 0.0) if lam.size > 1 else np.full(1, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        quad = np.where(gap > 0, r * r / gap, np.inf)
    return np.minimum(r, quad)


def _block_krylov(ops, rank, b, tol, vector_tol, max_blocks, rng):
    """(U, s, V) with U on A's shorter side, where the Krylov basis lives.

    Written for m <= n (``ops.gram`` swaps the roles otherwise). With Q_K the
    basis so far and W_j = Aᵀ Q_j, the orthogonalization of A W_j against Q_K
    gives block column j of T = Q_Kᵀ A Aᵀ Q_K and the next block,
    A W_j = Q_K T[:, j] + Q_new R. A Ritz pair (Q_K z, s²) of T then has
    residual ‖A v − s u‖ = ‖R z_j‖ / s, with z_j the rows of z on block j.
    """
    m = min(ops.shape)
    dtype = ops.dtype
    # Room for max_blocks blocks, and never fewer than the rank needs. The basis
    # is stored by rows (Qt = Q_Kᵀ): the products with it below read contiguous
    # vectors, four times faster than columns of a wider array.
    cap = min(m, 3 * (rank + b) + 20)
    Qt = np.empty((cap, m), dtype=dtype)
    H = np.zeros((cap, cap))
    Qt[:b] = _orthonormal_columns(rng.standard_normal((m, b)).astype(dtype, copy=False)).T
    Ws, start, dim, converged, blocks = [], 0, b, False, 0
    while True:
        cols = slice(start, dim)
        W, Y = ops.gram(Qt[cols].T)
        Ws.append(W)
        blocks += 1
        basis = Qt[:dim]
        # Classical Gram-Schmidt, twice ("twice is enough"), on Yᵀ.
        Y = np.ascontiguousarray(Y.T)
        C = basis @ Y.T
        Y -= C.T @ basis
        C2 = basis @ Y.T
        Y -= C2.T @ basis
        Y = Y.T
        H[:dim, cols] = C + C2
        T = H[:dim, :dim]
        lam, Z = scipy.linalg.eigh((T + T.T) / 2, check_finite=False)
        lam, Z = lam[::-1], Z[:, ::-1]
        _check_in_range("block_krylov_svd", "A", dtype, lam)
        top = np.sqrt(max(lam[0], 0.0))
        s = np.sqrt(np.maximum(lam[:rank], 0.0))
        new, R = _next_block(Y, min(b, m - dim), top * top, rng, basis)
        # r = ‖R z‖ is the residual of (Q_K z, s²) as an eigenpair of A Aᵀ.
        r = np.linalg.norm(R @ Z[cols, :], axis=0)
        # The values: a Ritz value is at most the eigenvalue it approximates, so
        # err(s) <= err(s²) / (2 s): ask err(s²) <= 2 tol s², or rounding level.
        floor = _ROUNDING * np.finfo(dtype).eps * top * top
        err = _value_errors(lam, r)[:rank]
        rel = err / np.maximum(2 * lam[:rank], np.finfo(float).tiny)
        done = (err <= np.maximum(2 * tol * lam[:rank], floor)).all()
        if vector_tol is not None:
            # ‖R z‖ / s is ‖A v − s u‖; below s = vector_tol·top (numerically
            # zero singular values) ask ‖R z‖ <= (vector_tol·top)².
            vrel = r[:rank] / np.maximum(top * np.maximum(s, vector_tol * top),
                                         np.finfo(float).tiny)
            done = done and (vrel <= vector_tol).all()
        if new.shape[1] == 0 or (dim >= rank and done):
            converged = True
            break
        if dim >= rank and blocks >= max_blocks:
            break
        if dim + new.shape[1] > cap:
            # Thick restart: keep the best Ritz vectors U = Q_K Z_p (with
            # A Aᵀ U = U Λ + Q_new R Z_p[block j]) and go on from Q_new.
            keep = max(rank, (cap - b + rank) // 2)
            Zp = Z[:, :keep].astype(dtype, copy=False)
            Ws = [_stacked_product(Ws, Zp)]
            Qt[:keep] = Zp.T @ Qt[:dim]
            coupling = R @ Z[cols, :keep]
            H[:] = 0
            H[:keep, :keep] = np.diag(lam[:keep])
            dim = keep
            H[dim:dim + new.shape[1], :keep] = coupling
            Qt[dim:dim + new.shape[1]] = new.T
            start, dim = dim, dim + new.shape[1]
            continue
        Qt[dim:dim + new.shape[1]] = new.T
        H[dim:dim + new.shape[1], cols] = R
        start, dim = dim, dim + new.shape[1]
    if not converged:
        import warnings

        short = f"an estimated relative error of the values of {float(rel.max()):.2g} " \
            f"(tol={tol:.2g})"
        if vector_tol is not None:
            short += f" and a relative residual of {float(vrel.max()):.2g} " \
                f"(vector_tol={vector_tol:.2g})"
        warnings.warn(
            f"block_krylov_svd stopped after {blocks} blocks with {short}; raise "
            "max_blocks or block_size, or loosen the tolerance",
            RuntimeWarning, stacklevel=3,
        )
    Zk = Z[:, :rank].astype(dtype, copy=False)
    # Aᵀ (Q_K Z) = W_K Z; its thin SVD gives V, s and the rotation of U.
    M = _stacked_product(Ws, Zk)
    V, s, Gt = _thin_svd(M, tol)
    U = Qt[:dim].T @ (Zk @ Gt.T.astype(dtype, copy=False))
    return U, s.astype(dtype, copy=False), V


def _stacked_product(Ws, Z, rows=4096):
    """``np.hstack(Ws) @ Z`` without the stack, by chunks of rows whose partial
    product stays in cache: twice as fast at 100,000 x 48 x 20."""
    out = np.empty((Ws[0].shape[0], Z.shape[1]), dtype=Ws[0].dtype)
    for r0 in range(0, out.shape[0], rows):
        chunk, at = slice(r0, r0 + rows), Ws[0].shape[1]
        acc = Ws[0][chunk] @ Z[:at]
        for W in Ws[1:]:
            acc += W[chunk] @ Z[at:at + W.shape[1]]
            at += W.shape[1]
        out[chunk] = acc
    return out


def _thin_svd(M, tol):
    """(V, s, Gᵀ) with M = V diag(s) Gᵀ, for a tall M with nearly orthogonal
    columns (Aᵀ times the Ritz vectors). Through the float64 Gram matrix, 15x
    faster than LAPACK at 100,000 x 20, when its condition number κ² keeps the
    values' error, about eps·κ² relative, a hundredth of tol; else LAPACK."""
    M64 = M.astype(np.float64, copy=False)
    w, E = scipy.linalg.eigh(M64.T @ M64, check_finite=False)
    w, E = w[::-1], E[:, ::-1]
    if w[-1] > 0 and np.finfo(np.float64).eps * w[0] <= 0.01 * tol * w[-1]:
        sigma = np.sqrt(w)
        return (M64 @ (E / sigma)).astype(M.dtype, copy=False), sigma, E.T
    V, s, Gt = scipy.linalg.svd(M, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False, overwrite_a=True)
    return V, s.astype(np.float64), Gt


def _orthonormal_columns(Y):
    return scipy.linalg.qr(Y, mode="economic", check_finite=False)[0]


def _next_block(Y, size, scale, rng, basis):
    """Y = new @ R + (negligible), new orthonormal with ``size`` columns, R the
    coefficients. Directions of Y at rounding level (Y is about ``scale``) are
    replaced by random ones orthogonal to the basis, with zero coefficients."""
    if size == 0:
        return Y[:, :0], np.zeros((0, Y.shape[1]))
    Qy, Ry = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    Ur, sr, Vrt = scipy.linalg.svd(Ry.astype(np.float64), check_finite=False)
    new = Qy @ Ur[:, :size].astype(Y.dtype, copy=False)
    R = sr[:size, None] * Vrt[:size]
    weak = sr[:size] <= np.finfo(Y.dtype).eps * max(scale, np.finfo(float).tiny) * Y.shape[0]
    if weak.any():
        X = rng.standard_normal((Y.shape[0], int(weak.sum()))).astype(Y.dtype, copy=False)
        keep = np.vstack([basis, new[:, ~weak].T])
        for _ in range(2):
            X -= keep.T @ (keep @ X)
        new[:, weak] = _orthonormal_columns(X)
        R[weak] = 0
    return new, R
