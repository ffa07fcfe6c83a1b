"""``SparsePlusLowRank``: S + L Rᵀ with S on a ``Ratings`` pattern, never densified."""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .._kernels import _fill, _sparse
from .._threads import effective_n_threads
from .._validation import as_indices
from .lowrank import LowRank
from ..data.ratings import Ratings

__all__ = ["SparsePlusLowRank"]


class SparsePlusLowRank(LinearOperator):
    """The m x n matrix ``S + L @ R.T``: S sparse on a ``Ratings`` pattern, L Rᵀ low rank.

    A scipy ``LinearOperator`` (``@``, ``matvec``, ``matmat``, ``rmatmat``,
    ``.T``), so :func:`lorank.randomized_svd` and scipy's solvers take it.
    Products cost O(nnz·k + (m + n)·r·k) for k right-hand sides: the sparse
    part runs in a compiled parallel kernel, target by target over the CSR view
    for ``S @ M`` and over the CSC view for ``Sᵀ @ M``, or, when only the target
    side's rows fit in cache, over the other view into accumulators for a fixed
    number of chunks (:class:`FillPass`), so results do not depend on the
    thread count.

    Parameters
    ----------
    sparse : Ratings
        S: its values on its pattern (zero elsewhere).
    low_rank : LowRank
        L Rᵀ, of the same shape; cast to the pattern's dtype.
    n_threads : int, default=None
        Threads for the sparse products (``None``: all usable cores).

    Attributes
    ----------
    pattern : Ratings
        The observed pattern (for :meth:`completion`, the observations X).
    low_rank : LowRank

    See Also
    --------
    SparsePlusLowRank.completion : the filled-in matrix P_Ω(X) + P_Ω⊥(L Rᵀ).

    Examples
    --------
    >>> import numpy as np, lorank
    >>> S = lorank.Ratings([0, 1], [1, 2], [5.0, -1.0], shape=(2, 3))
    >>> L = lorank.LowRank(np.ones((2, 1)), np.arange(3.0)[:, None])
    >>> Z = lorank.SparsePlusLowRank(S, L)
    >>> Z.to_dense()
    array([[0., 6., 2.],
           [0., 1., 1.]])
    >>> np.allclose(Z @ np.ones(3), Z.to_dense().sum(axis=1))
    True
    """

    def __init__(self, sparse, low_rank, *, n_threads=None):
        self._setup(sparse, low_rank, None, n_threads)

    def _setup(self, pattern, low_rank, subtract, n_threads):
        if not isinstance(pattern, Ratings):
            raise TypeError(f"sparse must be a lorank.Ratings, got {type(pattern).__name__}")
        if not isinstance(low_rank, LowRank):
            raise TypeError(f"low_rank must be a lorank.LowRank, got {type(low_rank).__name__}")
        if low_rank.shape != pattern.shape:
            raise ValueError(
                f"low_rank has shape {low_rank.shape} but the sparse part has shape {pattern.shape}"
            )
        super().__init__(dtype=pattern.dtype, shape=pattern.shape)
        if low_rank.dtype != pattern.dtype:
            low_rank = low_rank.astype(pattern.dtype)
        self.pattern = pattern
        self.low_rank = low_rank
        # S = values − subtract on the pattern (subtract None: S = values).
        if subtract is None:
            m, n = pattern.shape
            subtract = LowRank(np.zeros((m, 0), pattern.dtype), np.zeros((n, 0), pattern.dtype))
        self._subtract = subtract
        self._n_threads = effective_n_threads(n_threads)
        return self

    @classmethod
    def completion(cls, X, low_rank, *, offset=None, n_threads=None):
        """The filled-in matrix ``Z = P_Ω(X) + P_Ω⊥(L Rᵀ)`` as ``S + L Rᵀ``.

        S = P_Ω(X − L Rᵀ) (minus ``offset`` too, when given) is the residual on
        the observed pattern. It is never stored: every product recomputes it
        entry by entry inside the compiled kernel, so the operator costs no
        memory beyond X and the factors.

        Parameters
        ----------
        X : Ratings
            The observations (pattern Ω and values).
        low_rank : LowRank
            The current low-rank estimate L Rᵀ.
        offset : LowRank, default=None
            Also subtracted from X on Ω (e.g. mean and row/column effects as
            a rank-2 LowRank), and not added back: Z is then the completion
            of the centered X.
        n_threads : int, default=None

        Returns
        -------
        SparsePlusLowRank

        Examples
        --------
        >>> import numpy as np, lorank
        >>> X = lorank.Ratings([0, 1], [0, 1], [3.0, 4.0], shape=(2, 2))
        >>> L = lorank.LowRank(np.ones((2, 1)), np.ones((2, 1)))
        >>> lorank.SparsePlusLowRank.completion(X, L).to_dense()
        array([[3., 1.],
               [1., 4.]])
        """
        self = object.__new__(cls)
        self._setup(X, low_rank, None, n_threads)
        sub = self.low_rank
        if offset is not None:
            if not isinstance(offset, LowRank):
                raise TypeError(f"offset must be a lorank.LowRank, got {type(offset).__name__}")
            if offset.shape != X.shape:
                raise ValueError(f"offset has shape {offset.shape} but X has shape {X.shape}")
            offset = offset.astype(X.dtype) if offset.dtype != X.dtype else offset
            sub = LowRank(np.hstack([sub.left, offset.left]), np.hstack([sub.right, offset.right]))
        self._subtract = sub
        return self

    # --- the sparse part ------------------------------------------------------
    def _sparse_product(self, side, M):
        """(S @ M for side="rows", Sᵀ @ M for side="cols"; Σ s_ij²) by the compiled
        residual pass of ``_fill``, which forms S from the subtracted factors as it
        goes (see :func:`padded_blocks`)."""
        pattern, a, b = self.pattern, self._subtract.left, self._subtract.right
        if a.shape[1] > _max_subtract(self.dtype):
            # Too wide to form S in the pass: S's values on the pattern, once.
            pattern, a, b = self.sparse, a[:, :0], b[:, :0]
        if side == "cols":
            a, b = b, a  # target rows against the other side's
        out = np.empty((a.shape[0], M.shape[1]), dtype=self.dtype)
        sumsq = 0.0
        for cols, target, scale, other in padded_blocks(a, b, M):
            result = np.empty_like(target)
            sumsq = FillPass(pattern, side, target.shape[1])(
                target, scale, other, result, self._n_threads)
            out[:, cols] = result[:, :cols.stop - cols.start]
        return out, sumsq

    def sparse_norm(self):
        """‖S‖_F, from one compiled pass over the pattern (for a completion,
        the root of the residual sum of squares on Ω)."""
        empty = np.empty((self.shape[1], 0), dtype=self.dtype)
        return float(np.sqrt(self._sparse_product("rows", empty)[1]))

    @property
    def sparse(self):
        """S as a ``Ratings`` (values computed on the pattern by the compiled kernel)."""
        if self._subtract.rank == 0:
            return self.pattern
        csr, csc = self.pattern.csr, self.pattern.csc
        out = []
        for view, a, b in ((csr, self._subtract.left, self._subtract.right),
                           (csc, self._subtract.right, self._subtract.left)):
            values = np.empty_like(view.values)
            _sparse.residual(view.indptr, view.indices, view.values, a, b, values,
                             self._n_threads)
            out.append(view._replace(values=values))
        return Ratings._from_parts(self.shape, out[0], out[1])

    # --- LinearOperator ---------------------------------------------------------
    def _as_block(self, M):
        if np.iscomplexobj(M):  # the cast below would drop the imaginary part
            raise TypeError(f"SparsePlusLowRank is a real ({self.dtype}) operator: multiply "
                            f"the real and imaginary parts of the {M.dtype} operand apart")
        return np.ascontiguousarray(M.reshape(M.shape[0], -1), dtype=self.dtype)

    def _matmat(self, M):
        M = self._as_block(M)
        out, _ = self._sparse_product("rows", M)
        out += self.low_rank.left @ (self.low_rank.right.T @ M)
        return out

    def _rmatmat(self, M):
        M = self._as_block(M)
        out, _ = self._sparse_product("cols", M)
        out += self.low_rank.right @ (self.low_rank.left.T @ M)
        return out

    def _matvec(self, v):
        return self._matmat(v.reshape(-1, 1)).ravel()

    def _rmatvec(self, v):
        return self._rmatmat(v.reshape(-1, 1)).ravel()

    def _transpose(self):
        t = object.__new__(type(self))
        t._setup(self.pattern.T, self.low_rank.T, self._subtract.T, self._n_threads)
        return t

    _adjoint = _transpose

    def __repr__(self):
        m, n = self.shape
        return (f"SparsePlusLowRank(shape=({m}, {n}), nnz={self.pattern.nnz}, "
                f"rank={self.low_rank.rank}, dtype={self.dtype})")

    # --- values -------------------------------------------------------------------
    def to_dense(self):
        """The m x n matrix (memory m·n: for small matrices only)."""
        S = self.sparse
        dense = self.low_rank.to_dense()
        rows, cols, values = S.coo()
        dense[rows, cols] += values
        return dense

    def entries(self, rows, cols):
        """Entries ``Z[rows[t], cols[t]]`` without forming Z.

        Parameters
        ----------
        rows, cols : array_like of int, same shape

        Returns
        -------
        ndarray of the indices' shape

        Examples
        --------
        >>> import numpy as np, lorank
        >>> S = lorank.Ratings([0], [1], [5.0], shape=(2, 2))
        >>> Z = lorank.SparsePlusLowRank(S, lorank.LowRank(np.ones((2, 1)), np.ones((2, 1))))
        >>> Z.entries([0, 1], [1, 1])
        array([6., 1.])
        """
        rows_arr, cols_arr = np.asarray(rows), np.asarray(cols)
        if rows_arr.shape != cols_arr.shape:
            raise ValueError(
                f"rows and cols must have the same shape, got {rows_arr.shape} and {cols_arr.shape}"
            )
        m, n = self.shape
        r = as_indices(rows_arr.ravel(), "rows", m, "shape[0]").astype(np.int64)
        c = as_indices(cols_arr.ravel(), "cols", n, "shape[1]").astype(np.int64)
        out = self.low_rank.entries(r, c, n_threads=self._n_threads)
        # Position of (i, j) in the CSR pattern by binary search within row i.
        indptr, indices, values = self.pattern.csr
        lo, hi = indptr[r], indptr[r + 1]
        pos = lo.copy()
        while True:  # vectorized bisection: at most log2(longest row) + 1 rounds
            active = lo < hi
            if not active.any():
                break
            mid = (lo + hi) // 2
            go_right = active & (indices[np.minimum(mid, len(indices) - 1)] < c)
            lo = np.where(go_right, mid + 1, lo)
            hi = np.where(active & ~go_right, mid, hi)
        pos = lo
        found = (pos < indptr[r + 1]) & (indices[np.minimum(pos, max(len(indices) - 1, 0))] == c) \
            if len(indices) else np.zeros(r.size, bool)
        if found.any():
            p, i, j = pos[found], r[found], c[found]
            sub = np.empty(p.size, dtype=self.dtype)
            _sparse.gather_dot(self._subtract.left, self._subtract.right, i, j, sub,
                               self._n_threads)
            out[found] += values[p] - sub
        return out.reshape(rows_arr.shape)


class FillPass:
    """One side of the compiled residual pass (``_fill``) on a pattern:
    ``out[t] = Σ s · other[j]`` over target t's observations, with
    s = x − ⟨target[t] · scale, other[j]⟩, returning Σ s².

    It gathers (target by target over the target-major view) when the other
    side's rows fit in cache, or else scatters (other-side row by row into
    accumulators for fixed chunks of rows, so results do not depend on the
    thread count) when the target side's rows do; the choice and the
    accumulators are made once, for factor rows ``stride`` wide.
    """

    CACHE_BYTES = 4 << 20
    CHUNKS = 16

    def __init__(self, pattern, side, stride):
        m, n = pattern.shape
        n_target, n_other = (m, n) if side == "rows" else (n, m)
        row = stride * pattern.dtype.itemsize
        self.view = pattern.csr if side == "rows" else pattern.csc
        self.scatter = None
        if n_other * row > self.CACHE_BYTES and n_target * row <= self.CACHE_BYTES:
            view = pattern.csc if side == "rows" else pattern.csr  # other-side major
            cum = view.indptr
            chunks = np.searchsorted(cum, np.linspace(0, cum[-1], self.CHUNKS + 1))
            chunks = np.unique(np.clip(chunks, 0, len(cum) - 1)).astype(np.int64)
            chunks[0], chunks[-1] = 0, len(cum) - 1
            acc = np.empty((len(chunks) - 1, n_target, stride), pattern.dtype)
            self.scatter = (view, chunks, acc, np.empty(len(chunks) - 1))

    def __call__(self, target, scale, other, out, n_threads):
        if self.scatter is None:
            view = self.view
            sse = np.empty(target.shape[0])
            _fill.gather(view.indptr, view.indices, view.values, target, scale, other,
                         out, sse, n_threads)
        else:
            view, chunks, acc, sse = self.scatter
            _fill.scatter(view.indptr, view.indices, view.values, target * scale, other,
                          chunks, acc, sse, out, n_threads)
        return float(sse.sum())


def _max_subtract(dtype):
    """The widest subtracted rank the ``_fill`` pass forms S from (one vector of a
    factor row is left for M)."""
    lanes = 64 // np.dtype(dtype).itemsize
    return _fill.MAX_ROW_BYTES // np.dtype(dtype).itemsize - lanes


def padded_blocks(a, b, M):
    """The rows the ``_fill`` pass reads to compute P_Ω(X − a bᵀ) @ M: target rows
    [0, a] and other-side rows [M, b], padded to whole 64-byte vectors, with a
    scale that keeps only the a·b lanes in the dot product, so the residual is
    x − ⟨a_i, b_j⟩ and the product accumulates M. Wide M comes in column blocks
    (a factor row holds at most ``_fill.MAX_ROW_BYTES``). Yields
    ``(columns of M, target, scale, other)``."""
    dtype = M.dtype
    q, k = a.shape[1], M.shape[1]
    lanes = 64 // dtype.itemsize
    block = (_fill.MAX_ROW_BYTES // dtype.itemsize - q) // lanes * lanes
    if block <= 0:
        raise ValueError(f"the subtracted low-rank part has rank {q}, too large "
                         "for the compiled products")
    for start in range(0, max(k, 1), block):
        cols = slice(start, min(start + block, k))
        kb = cols.stop - cols.start
        stride = max(1, -(-(kb + q) // lanes)) * lanes
        target = np.zeros((a.shape[0], stride), dtype)
        other = np.zeros((b.shape[0], stride), dtype)
        target[:, kb:kb + q], other[:, kb:kb + q] = a, b
        other[:, :kb] = M[:, cols]
        scale = np.zeros(stride, dtype)
        scale[kb:kb + q] = 1
        yield cols, target, scale, other
