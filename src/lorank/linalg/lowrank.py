"""A matrix stored as two thin factors, ``X = left @ right.T``."""

import numpy as np
import scipy.linalg

from .._kernels import _sparse
from .._threads import effective_n_threads
from .._validation import (
    as_float_dtype,
    as_indices,
    as_matrix,
    check_int,
    check_rank,
    result_float_dtype,
)
from .svd import svd

__all__ = ["LowRank", "compress"]


class LowRank:
    """An m x n matrix held as ``left @ right.T`` with ``left`` m x r and ``right`` n x r.

    Each row of a factor is contiguous, so a user's (or item's) vector is one
    cache line or two. Products, entries and the SVD never form the m x n matrix.

    Parameters
    ----------
    left : array_like of shape (m, r)
    right : array_like of shape (n, r)
        Finite real factors with the same number of columns. They are stored
        C-contiguous in their common float dtype (float32 if both are float32,
        else float64); no copy is made when they already are.

    Attributes
    ----------
    shape : tuple of int
    rank : int
        Number of columns of the factors (an upper bound on the true rank).
    dtype : numpy.dtype
    nbytes : int
        Bytes held by the two factors.
    compression_ratio : float
        Bytes of the dense m x n matrix over ``nbytes``.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = lorank.LowRank(rng.standard_normal((512, 10)), rng.standard_normal((512, 10)))
    >>> X.shape, X.rank, X.compression_ratio
    ((512, 512), 10, 25.6)
    >>> np.allclose(X @ np.ones(512), X.to_dense().sum(axis=1))
    True
    """

    __array_ufunc__ = None  # so ndarray @ LowRank calls LowRank.__rmatmul__

    def __init__(self, left, right):
        dtype = result_float_dtype(left, right, names=("left", "right"))
        # Rank 0 (no columns) is allowed: the zero matrix.
        left = as_matrix(left, "left", dtype=dtype, allow_no_columns=True)
        right = as_matrix(right, "right", dtype=dtype, allow_no_columns=True)
        if left.shape[1] != right.shape[1]:
            raise ValueError(
                f"left and right must have the same number of columns (the rank), "
                f"got left {left.shape} and right {right.shape}"
            )
        self._left = left
        self._right = right

    @classmethod
    def from_svd(cls, U, s, Vt, rank=None):
        """Build from a thin SVD, optionally keeping the top ``rank`` triplets.

        The singular values are split evenly, ``left = U √s`` and ``right = V √s``,
        so ``from_svd(U, s, Vt).T`` equals ``from_svd(V, s, U.T)``.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> X = np.outer(np.arange(1.0, 4.0), np.arange(1.0, 5.0))
        >>> L = lorank.LowRank.from_svd(*lorank.svd(X), rank=1)
        >>> np.allclose(L.to_dense(), X)
        True
        """
        U, Vt = np.asarray(U), np.asarray(Vt)
        s = np.asarray(s)
        if s.ndim != 1 or U.ndim != 2 or Vt.ndim != 2 or U.shape[1] != s.size or Vt.shape[0] != s.size:
            raise ValueError(
                f"expected U (m, k), s (k,), Vt (k, n); got U {U.shape}, s {s.shape}, Vt {Vt.shape}"
            )
        result_float_dtype(U, s, Vt, names=("U", "s", "Vt"))
        bad = ~(np.isfinite(s) & (s >= 0))
        if bad.any():
            raise ValueError(f"s contains {s[bad][0]}; singular values must be finite and >= 0")
        if rank is not None:
            rank = check_rank(rank, (s.size, s.size))
            U, s, Vt = U[:, :rank], s[:rank], Vt[:rank]
        root = np.sqrt(s)
        return cls(U * root, Vt.T * root)

    # --- shape and storage --------------------------------------------------
    @property
    def left(self):
        """The m x r factor (read-only: kernels rely on its shape)."""
        return self._left

    @property
    def right(self):
        """The n x r factor (read-only: kernels rely on its shape)."""
        return self._right

    @property
    def shape(self):
        return (self.left.shape[0], self.right.shape[0])

    @property
    def rank(self):
        return self.left.shape[1]

    @property
    def dtype(self):
        return self.left.dtype

    @property
    def nbytes(self):
        return self.left.nbytes + self.right.nbytes

    @property
    def compression_ratio(self):
        m, n = self.shape
        return m * n * self.dtype.itemsize / self.nbytes if self.rank else float("inf")

    def __repr__(self):
        m, n = self.shape
        return f"LowRank(shape=({m}, {n}), rank={self.rank}, dtype={self.dtype})"

    @property
    def T(self):
        """The transpose, sharing the factors."""
        return LowRank(self.right, self.left)

    def astype(self, dtype):
        """The same matrix with factors in ``dtype`` (float32 or float64)."""
        dtype = as_float_dtype(dtype)
        return LowRank(self.left.astype(dtype), self.right.astype(dtype))

    # --- values -------------------------------------------------------------
    def to_dense(self):
        """The m x n matrix (memory m·n: for small matrices only)."""
        return self.left @ self.right.T

    def entries(self, rows, cols, *, n_threads=None):
        """Entries ``X[rows[t], cols[t]]`` without forming X (compiled, parallel).

        Parameters
        ----------
        rows, cols : array_like of int, same shape
            Row and column indices, ``0 <= rows < m`` and ``0 <= cols < n``.
        n_threads : int, default=None
            Threads to use (``None``: all usable cores).

        Returns
        -------
        ndarray of the indices' shape, in the factors' dtype.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> X = lorank.LowRank(np.eye(3), 2 * np.eye(3))
        >>> X.entries([0, 1, 2], [0, 2, 2])
        array([2., 0., 2.])
        """
        rows_arr, cols_arr = np.asarray(rows), np.asarray(cols)
        if rows_arr.shape != cols_arr.shape:
            raise ValueError(
                f"rows and cols must have the same shape, got {rows_arr.shape} and {cols_arr.shape}"
            )
        m, n = self.shape
        r = as_indices(rows_arr.ravel(), "rows", m, "shape[0]")
        c = as_indices(cols_arr.ravel(), "cols", n, "shape[1]")
        if r.dtype != c.dtype:
            r, c = r.astype(np.int64), c.astype(np.int64)
        out = np.empty(r.size, dtype=self.dtype)
        _sparse.gather_dot(self.left, self.right, r, c, out, effective_n_threads(n_threads))
        return out.reshape(rows_arr.shape)

    # --- products -----------------------------------------------------------
    def __matmul__(self, other):
        if isinstance(other, LowRank):
            if other.shape[0] != self.shape[1]:
                raise ValueError(f"shapes {self.shape} and {other.shape} are not aligned")
            return LowRank(self.left @ (self.right.T @ other.left), other.right)
        other = np.asarray(other)
        if other.ndim not in (1, 2) or other.shape[0] != self.shape[1]:
            raise ValueError(f"shapes {self.shape} and {other.shape} are not aligned")
        return self.left @ (self.right.T @ other)

    def __rmatmul__(self, other):
        other = np.asarray(other)
        if other.ndim not in (1, 2) or other.shape[-1] != self.shape[0]:
            raise ValueError(f"shapes {other.shape} and {self.shape} are not aligned")
        return (other @ self.left) @ self.right.T

    # --- decompositions -----------------------------------------------------
    def svd(self, k=None):
        """Thin SVD of ``left @ right.T`` in O((m + n) r²), never forming m x n.

        Two QRs, ``left = Q₁R₁`` and ``right = Q₂R₂``, reduce the problem to the
        SVD of the r x r core ``R₁R₂ᵀ``.

        Parameters
        ----------
        k : int, optional
            Return only the leading ``k`` singular vectors (and still every
            singular value): the QRs' reflectors are then applied to ``k`` columns
            instead of forming Q₁ and Q₂, about half the work for small ``k``.

        Returns
        -------
        U : ndarray (m, k)
        s : ndarray (min(m, n, r),)
        Vt : ndarray (k, n)
            With k = min(m, n, r) unless given.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> rng = np.random.default_rng(1)
        >>> X = lorank.LowRank(rng.standard_normal((50, 3)), rng.standard_normal((40, 3)))
        >>> U, s, Vt = X.svd()
        >>> np.allclose(s, np.linalg.svd(X.to_dense(), compute_uv=False)[:3])
        True
        >>> U1, s1, Vt1 = X.svd(k=1)
        >>> U1.shape, bool(np.allclose(np.abs(U1[:, 0]), np.abs(U[:, 0])))
        ((50, 1), True)
        """
        m, n = self.shape
        full = min(m, n, self.rank)
        if k is not None:
            k = check_int(k, "k", minimum=0)
        if self.rank == 0:
            return (np.zeros((m, 0), self.dtype), np.zeros(0, self.dtype), np.zeros((0, n), self.dtype))
        if k is None or k >= full:
            Q1, R1 = scipy.linalg.qr(self.left, mode="economic", check_finite=False)
            Q2, R2 = scipy.linalg.qr(self.right, mode="economic", check_finite=False)
            u, s, vt = scipy.linalg.svd(R1 @ R2.T, full_matrices=False, lapack_driver="gesdd",
                                        check_finite=False)
            return np.ascontiguousarray(Q1 @ u), s, np.ascontiguousarray(vt @ Q2.T)
        (h1, tau1), R1 = scipy.linalg.qr(self.left, mode="raw", check_finite=False)
        (h2, tau2), R2 = scipy.linalg.qr(self.right, mode="raw", check_finite=False)
        u, s, vt = scipy.linalg.svd(R1[:len(tau1)] @ R2[:len(tau2)].T, full_matrices=False,
                                    lapack_driver="gesdd", check_finite=False)
        U = _apply_reflectors(h1, tau1, u[:, :k])
        V = _apply_reflectors(h2, tau2, vt[:k].T)
        return np.ascontiguousarray(U), s, np.ascontiguousarray(V.T)

    def truncate(self, k):
        """Best rank-``k`` approximation (Eckart-Young), as a new LowRank.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> rng = np.random.default_rng(2)
        >>> X = lorank.LowRank(rng.standard_normal((30, 6)), rng.standard_normal((20, 6)))
        >>> X.truncate(2).rank
        2
        """
        k = check_int(k, "k", minimum=1)
        limit = min(self.rank, *self.shape)
        if k > limit:
            raise ValueError(f"k={k} exceeds min(rank, m, n) = {limit} for {self!r}")
        U, s, Vt = self.svd(k=k)
        return LowRank.from_svd(U, s[:k], Vt)


def compress(X, rank):
    """Best rank-``rank`` approximation of a dense matrix, stored as factors.

    Parameters
    ----------
    X : array_like of shape (m, n)
    rank : int
        ``1 <= rank <= min(m, n)``.

    Returns
    -------
    LowRank

    Examples
    --------
    >>> import numpy as np, lorank
    >>> img = np.add.outer(np.linspace(0, 1, 512), np.linspace(0, 1, 512))
    >>> L = lorank.compress(img, 10)
    >>> L.compression_ratio
    25.6
    >>> bool(np.abs(L.to_dense() - img).max() < 1e-10)
    True
    """
    return LowRank.from_svd(*svd(X, rank))


def _apply_reflectors(h, tau, x):
    """Q @ x for the Q of a raw QR (reflectors ``h``, ``tau``), x of len(tau) rows."""
    if x.shape[1] == 0:
        return np.zeros((h.shape[0], 0), h.dtype)
    ormqr, = scipy.linalg.get_lapack_funcs(("ormqr",), (h,))
    h = h[:, :len(tau)]  # a wide QR (m < r) has m reflectors
    c = np.zeros((h.shape[0], x.shape[1]), h.dtype, order="F")
    c[:x.shape[0]] = x
    lwork = int(ormqr("L", "N", h, tau, c, -1)[1][0].real)
    cq, _, info = ormqr("L", "N", h, tau, c, max(lwork, 1), overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK ormqr failed (info={info})")
    return cq
