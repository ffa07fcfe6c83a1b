"""Soft-impute: nuclear-norm regularized completion as sparse + low rank (softImpute-ALS)."""

import time

import numpy as np
import scipy.linalg

from . import _auto_reg, _estimator
from .._kernels import _fill
from ._estimator import (check_bool, check_callback, check_int, check_n_threads,
                         check_random_state, check_rank, check_real)
from .als import _factor_storage
from .._threads import effective_n_threads, single_threaded_blas
from .._validation import as_float_dtype, as_matrix, check_index_range
from ..linalg.lowrank import LowRank
from ..data.ratings import as_ratings
from ..linalg.sparse_plus_lowrank import FillPass, SparsePlusLowRank
from ..linalg.svd import randomized_svd

__all__ = ["SoftImpute", "soft_impute_path", "lambda_max"]

class SoftImpute(_estimator.CompletionModel):
    """Matrix completion by soft-impute, kept as sparse + low rank (softImpute-ALS).

    Minimizes ``½ ‖P_Ω(X − Z)‖²_F + λ ‖Z‖_*`` over matrices ``Z`` of rank at most
    ``rank`` by Algorithm 3.1 of Hastie, Mazumder, Lee and Zadeh (JMLR 2015).
    The state is ``Z = A Bᵀ`` with ``A = U D``, ``B = V D`` (U, V orthonormal).
    Each iteration works with the filled-in matrix ``X* = S + A Bᵀ``, where the
    residual ``S = P_Ω(X − A Bᵀ)`` lives on Ω only and is never stored. It updates

        B̃ = X*ᵀ U D (D² + λI)⁻¹,   B̃ D = Ṽ D̃² Rᵀ (thin SVD),   V, D, U ← Ṽ, D̃, U R

    then the same for A with X* V. One compiled pass over the rows does both
    products: row by row it forms S V and the row's new A, then the residual at
    the new iterate, whose Sᵀ U (by column) and loss ``‖S‖²`` the next B-step
    and the history use; U stays implicit (the new rows times an r x r matrix).
    Each half-step is a ridge regression of the
    factored problem ``½‖P_Ω(X − ABᵀ)‖² + λ/2 (‖A‖² + ‖B‖²)`` on the filled-in
    matrix, so the objective never increases. Cost per iteration
    O(|Ω| r + (m + n) r²), memory O(|Ω| + (m + n) r). A last step takes the SVD
    of X* V and soft-thresholds its singular values, ``(σ − λ)₊``: components
    below λ become exact zeros.

    With ``reg=0`` this is the plain "fill in, refit rank r" scheme; with
    ``reg=λ > 0`` and ``rank`` at least the solution's rank it solves the
    nuclear-norm problem, whose solution also minimizes the ALS objective with
    ridge λ on both factors (``ALS(reg=λ / s, biases=False, weighted_reg=False)``,
    s its ``value_scale_``, 1 for 1-5 stars), because ``‖Z‖_* = min over A Bᵀ = Z
    of ½ (‖A‖² + ‖B‖²)``.

    Parameters
    ----------
    rank : int, default=10
        Maximum rank r of Z, ``1 <= rank <= min(m, n)``.
    reg : float or "auto", default="auto"
        Nuclear-norm weight λ (≥ 0). :func:`lambda_max` is the smallest λ
        whose solution is zero; :func:`soft_impute_path` fits a decreasing
        sequence with warm starts. ``"auto"`` (the default): 10 % of the
        training ratings are held out, the path λ = lambda_max·10^(−k/5),
        k = 0, 1, 2, ... is fitted on the rest (warm starts) until the holdout
        RMSE has risen twice past its minimum, and the minimum (refined by a
        parabola in log λ) is refitted on all ratings from that path point
        (``reg_``, ``reg_path_``). Its first point, λ = lambda_max, is the zero
        solution: with ``biases`` the :class:`~lorank.Baseline` alone
        (``reg_path_["baseline_rmse"]``), so the choice never does worse than
        the biases on the holdout (a warning says when nothing beats them by 0.1 %).
        Fewer than 100 ratings take λ = lambda_max / 10 with no path. 5-fold
        test RMSE (``bench/bench_density.py``), Baseline / SoftImpute(): MovieLens
        100K 0.9395 / 0.9127; its training ratings thinned to a quarter
        0.9686 / 0.9665, a twentieth 1.0347 / 1.0347; its pattern with user and
        item effects plus noise 1.0156 / 1.0156. ``reg=0, biases=False`` (the
        default before 2026-12-07, the plain "fill in, refit rank r" scheme)
        gave 1.025 on MovieLens 100K, worse than the biases alone.
    max_iter : int, default=100
        Maximum number of iterations (each updates B, then A).
    tol : float, default=1e-5
        Stop when the relative change ``‖Z_new − Z_old‖²_F / ‖Z_old‖²_F`` (the
        paper's criterion, computed from the factors in O((m + n) r²)) is
        below ``tol``. ``0`` runs all ``max_iter`` iterations.
    biases : bool, default=True
        Center first: fit :class:`~lorank.Baseline`'s global mean and damped row
        and column effects (``x_ij ≈ μ + u_i + c_j``, the dampings estimated from
        the data, ``reg_users_``, ``reg_items_``) and complete what they leave;
        predictions add them back.
    clip : bool, default=True
        Clip predictions (``predict``, not ``to_lowrank``) to the range of the
        training values, as scikit-surprise does; ``False`` returns the raw
        model values.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, default=None
        Threads for the sparse products (``None``: all usable cores). Results
        do not depend on it.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the random orthonormal start ``U`` (``D = I``, ``V = 0``).
    warm_start : SoftImpute, LowRank or (U, s, Vt), default=None
        Start from a previous solution of the same shape (a fitted SoftImpute,
        a LowRank, or a thin SVD). Its nonzero components are kept; missing
        ones are filled with random directions.
    progress : bool, default=False
        Show a tqdm progress bar.
    callback : callable, default=None
        ``callback(model, iteration)`` after every iteration; returning
        ``False`` stops the fit (the final soft-threshold still runs).

    Attributes
    ----------
    factors_ : LowRank
        ``Z = factors_.left @ factors_.right.T`` (``U √s`` and ``V √s``), of
        rank ``effective_rank_``; biases are not included.
    singular_values_ : ndarray of shape (rank,)
        ``(σ − λ)₊``, non-increasing, with exact zeros.
    effective_rank_ : int
        Number of nonzero singular values.
    mean_ : float
    row_bias_, col_bias_ : ndarray
        The centering (zeros when ``biases=False``).
    reg_users_, reg_items_ : float
        The centering's dampings (with ``biases``).
    history_ : dict of lists
        Per iteration, at the iterate after it: ``iteration``,
        ``train_rmse``, ``valid_rmse`` (NaN without validation data),
        ``objective`` (``½‖P_Ω(X − Z)‖² + λ‖Z‖_*``), ``change`` (the
        convergence criterion), ``seconds``.
    n_iter_ : int
    reg_ : float
        The reg used (the chosen one with ``reg="auto"``).
    reg_path_ : dict of lists
        With ``reg="auto"``: ``reg`` (decreasing) and the holdout ``valid_rmse``
        of every fit on the path.
    rating_range_ : (float, float)
        Smallest and largest training value (the ``clip`` range).

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((80, 3)) @ rng.standard_normal((3, 60))
    >>> Y = X.copy(); Y[rng.random(X.shape) > 0.5] = np.nan     # hide half
    >>> model = lorank.SoftImpute(3, reg=0.0, biases=False, dtype=np.float64, tol=1e-12,
    ...                           max_iter=500, random_state=0).fit(Y)
    >>> bool(np.linalg.norm(model.factors_.to_dense() - X) < 1e-4 * np.linalg.norm(X))
    True
    """

    def __init__(
        self,
        rank=10,
        *,
        reg="auto",
        max_iter=100,
        tol=1e-5,
        biases=True,
        clip=True,
        dtype=np.float32,
        n_threads=None,
        random_state=None,
        warm_start=None,
        progress=False,
        callback=None,
    ):
        self.rank = rank
        self.reg = reg
        self.max_iter = max_iter
        self.tol = tol
        self.biases = biases
        self.clip = clip
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.warm_start = warm_start
        self.progress = progress
        self.callback = callback

    # --- fitting ------------------------------------------------------------
    def _fit(self, ratings, valid):
        rank, lam, max_iter, tol, n_threads = self._check_params(ratings)
        start = self._check_warm_start(ratings.shape, rank)
        if lam == "auto":  # the path's fits check the rest; the first starts at ``start``
            return _auto_reg.fit_softimpute(self, ratings, valid)
        self.reg_ = lam
        self.rating_range_ = _estimator.rating_range(ratings)
        nnz = ratings.nnz
        m, n = ratings.shape
        dtype = ratings.dtype.type
        keys = ("train_rmse", "valid_rmse", "objective", "change")
        # Small dense steps run with one BLAS thread: threaded BLAS would compete
        # with the kernels' OpenMP threads, and results must not depend on threads.
        with single_threaded_blas():
            offset = self._center(ratings, n_threads) if self.biases else None
            U, d, V = _initial_state(start, m, n, rank, dtype, np.random.default_rng(self.random_state))
            passes = _Passes(ratings, rank, offset, n_threads)
            step = _Step(ratings, rank, offset, n_threads)
            # The iterate is U = Y M (Y: the step's stored rows, M: r x r), d, V,
            # with Sᵀ U and UᵀU at it; the start's from one column pass.
            SU, _ = passes.product("cols", U, d, V)
            SU = SU[:, :rank].copy()
            UtU = U.T.astype(np.float64) @ U
            Y, M = step.start(U), np.eye(rank)
            self._iterate = (Y, M, d, V, offset)  # the last complete iterate (the start first)

            def finish():
                """The last step at the last complete iterate: X* V from a row pass,
                then the soft-threshold."""
                U, d, V, _ = self._state
                SV, _ = passes.product("rows", U, d, V)
                self._finish(SV[:, :rank] + U @ ((d * d)[:, None] * (V.T @ V)), V, lam,
                             offset, m, n, dtype)

            with self._iterations(max_iter, keys, desc="SoftImpute",
                                  on_interrupt=finish,
                                  what="iterate") as run:
                for it in range(1, max_iter + 1):
                    t0 = time.perf_counter()
                    # B-step: B̃ = X*ᵀ U D (D² + λ)⁻¹ with X*ᵀ U = Sᵀ U + V D² UᵀU,
                    # then rebalance by the SVD of B̃ D: V1, d1 and U1 = U R = Y (M R).
                    G = SU + V @ ((d * d)[:, None] * UtU.astype(dtype))
                    V1, d1, R = _rebalance(G * _shrink(d, lam), d)
                    # A-step in one pass: with U1 D1² = Y K, the new rows
                    # F = (S V1 + U1 D1² V1ᵀV1) D1² (D1² + λ)⁻¹ (Ã D1, to rebalance),
                    # then the residual at F V1ᵀ and Sᵀ F, FᵀF, YᵀF.
                    F, SF, sse, FtF, YtF = step(Y, M @ R, d1, V1, lam)
                    # Rebalance F = U2 D2² Qᵀ, kept implicit: U2 = F T.
                    T, d2, Q = _rebalance_rows(F[:, :rank], FtF, dtype)
                    if T is not None:
                        UtU2, U12 = T.T @ FtF @ T, M.T @ YtF @ T
                        SU2 = (SF[:, :rank] @ T).astype(dtype)
                    else:  # ill-conditioned or rank deficient: explicit, one more pass
                        W, d2, Q = _rebalance(np.ascontiguousarray(F[:, :rank]),
                                              np.ones(rank, dtype))
                        F[:, :rank], T = W, np.eye(rank)
                        W = W.astype(np.float64)
                        UtU2, U12 = W.T @ W, M.T @ (Y[:, :rank].T.astype(np.float64) @ W)
                        SU2 = passes.product("cols", F[:, :rank], d2, V1 @ Q)[0][:, :rank].copy()
                    V2 = V1 @ Q
                    change = _relative_change(d, d2, UtU, UtU2, U12, V, V2)
                    Y, M, d, V, UtU, SU = F, T, d2, V2, UtU2, SU2
                    self._iterate = (Y, M, d, V, offset)
                    self.n_iter_ = it
                    if not self._complete(run, it, change, time.perf_counter() - t0, sse,
                                          valid, nnz, lam):
                        break
                    if change < tol:
                        break
                finish()
        return self

    @property
    def _state(self):
        """The last complete iterate as (U, d, V, offset), U = Y M formed here."""
        Y, M, d, V, offset = self._iterate
        k = M.shape[0]
        return (Y[:, :k] @ M.astype(Y.dtype)), d, V, offset

    def _complete(self, run, it, change, seconds, sse, valid, nnz, lam):
        """Record the iterate in ``self._state`` (its loss is ``sse``); returns
        False when the callback asks to stop."""
        d = self._iterate[2]
        objective = 0.5 * sse + lam * float(np.sum(d.astype(np.float64) ** 2))
        train = np.sqrt(sse / nnz)
        valid_rmse = np.nan
        if valid is not None:
            U, d, V, offset = self._state
            valid_rmse = self._rmse_at(valid, U * (d * d), V, offset)
        return run.record(it, seconds=seconds, train_rmse=train, valid_rmse=valid_rmse,
                          objective=objective, change=change)

    def _center(self, ratings, n_threads):
        """μ, u, c of :class:`~lorank.Baseline` (its dampings chosen from the data;
        reg="auto"'s path gives its fits the one of its ratings, ``_baseline``),
        as the rank-2 offset [u + μ, 1] [1, c]ᵀ."""
        from .baseline import fit_biases

        base = getattr(self, "_baseline", None)
        if base is None:
            base = fit_biases(ratings, n_threads)
        self.mean_, self.row_bias_, self.col_bias_ = base.mean_, base.row_bias_, base.col_bias_
        self.reg_users_, self.reg_items_ = base.reg_users_, base.reg_items_
        return _offset(base)

    def _row_bias_damping(self):
        if not self.biases:
            return None
        # A file from before the centering was Baseline's: plain means.
        return getattr(self, "reg_users_", 0.0)

    def _finish(self, XV, V, lam, offset, m, n, dtype):
        """Last step: SVD of X* V = Û Σ Rᵀ, V ← V R, singular values (σ − λ)₊."""
        U, sigma, Rt = scipy.linalg.svd(XV, full_matrices=False, check_finite=False)
        V = V @ Rt.T
        s = np.maximum(sigma - lam, 0).astype(dtype)
        k = int(np.count_nonzero(s))
        root = np.sqrt(s[:k])
        self.singular_values_ = s
        self.effective_rank_ = k
        self.factors_ = LowRank(np.ascontiguousarray(U[:, :k] * root),
                                np.ascontiguousarray(V[:, :k] * root))
        self._svd = (np.ascontiguousarray(U), s, np.ascontiguousarray(V.T))
        if offset is None:
            self.mean_ = 0.0
            self.row_bias_, self.col_bias_ = np.zeros(m, dtype), np.zeros(n, dtype)
        self._lowrank = None
        self.__dict__.pop("_iterate", None)

    def _check_params(self, ratings):
        if ratings.nnz == 0:
            raise ValueError("X has no observed entries")
        check_index_range(ratings, "SoftImpute")
        rank = check_rank(self.rank, ratings.shape)
        lam = "auto" if _auto_reg.is_auto(self.reg) else check_real(self.reg, "reg", minimum=0)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_real(self.tol, "tol", minimum=0)
        check_bool(self.biases, "biases")
        check_bool(self.progress, "progress")
        check_callback(self.callback)
        check_random_state(self.random_state)
        return rank, lam, max_iter, tol, check_n_threads(self.n_threads)

    def _check_warm_start(self, shape, rank):
        """The warm start as (U, s, V) with s non-increasing, or None."""
        ws = self.warm_start
        if ws is None:
            return None
        if isinstance(ws, SoftImpute):
            if not hasattr(ws, "_svd"):
                raise ValueError("warm_start is a SoftImpute that is not fitted yet")
            U, s, Vt = ws._svd
        elif isinstance(ws, LowRank):
            U, s, Vt = ws.svd()
        elif isinstance(ws, tuple) and len(ws) == 3:
            U = as_matrix(ws[0], "warm_start U", allow_no_columns=True)
            Vt = as_matrix(ws[2], "warm_start Vt", allow_no_columns=True)
            s = np.asarray(ws[1], dtype=np.float64)
            if s.ndim != 1 or U.shape[1] != s.size or Vt.shape[0] != s.size:
                raise ValueError(
                    f"warm_start must be (U (m, k), s (k,), Vt (k, n)); got U {U.shape}, "
                    f"s {s.shape}, Vt {Vt.shape}"
                )
            if not (np.isfinite(s).all() and (s >= 0).all()):
                raise ValueError("warm_start s must hold finite values >= 0")
        else:
            raise TypeError(
                "warm_start must be a fitted SoftImpute, a LowRank or a (U, s, Vt) triple, "
                f"got {type(ws).__name__}"
            )
        got = (U.shape[0], Vt.shape[1])
        if got != tuple(shape):
            raise ValueError(f"warm_start has shape {got} but X has shape {tuple(shape)}")
        order = np.argsort(-s, kind="stable")[:rank]
        return U[:, order], s[order], Vt[order].T

    @staticmethod
    def _with_offset(left, right, offset):
        if offset is None:
            return LowRank(left, right)
        return LowRank(np.hstack([left, offset.left]), np.hstack([right, offset.right]))

    def _rmse_at(self, ratings, left, right, offset):
        rows, cols, values = ratings.coo()
        pred = self._with_offset(left, right, offset).entries(rows, cols, n_threads=self.n_threads)
        return float(np.sqrt(np.mean(np.square(pred - values, dtype=np.float64))))



# --- the passes over the data ------------------------------------------------------


class _Passes:
    """S V and Sᵀ U for the residual S = P_Ω(X − U D² Vᵀ − offset), each in one
    compiled pass (:class:`~lorank.linalg.sparse_plus_lowrank.FillPass`) that also
    returns Σ s² (the iterate's loss).

    The factors live in rows padded to whole 64-byte vectors, [U, offset] and
    [V, offset], and D² scales the target side's lanes, so the rows that form a
    residual are the rows it multiplies.
    """

    def __init__(self, ratings, rank, offset, n_threads):
        m, n = ratings.shape
        dtype = ratings.dtype
        width = rank + (2 if offset is not None else 0)
        if width * dtype.itemsize > _fill.MAX_ROW_BYTES:  # before allocating
            raise ValueError(f"rank={rank} is too large for SoftImpute in {dtype}")
        rows, cols = _factor_storage(m, width, dtype), _factor_storage(n, width, dtype)
        stride = rows.shape[1]
        self.rank, self.n_threads = rank, n_threads
        self.factor = {"rows": rows, "cols": cols}
        self.scale = np.zeros(stride, dtype)
        if offset is not None:
            self.set_offset(offset)
            self.scale[rank:rank + 2] = 1
        self.out = {k: np.empty_like(f) for k, f in self.factor.items()}
        self.run = {side: FillPass(ratings, side, stride) for side in ("rows", "cols")}

    def set_offset(self, offset):
        """Write the rank-2 offset into the lanes after the factors'."""
        r = self.rank
        self.factor["rows"][:, r:r + 2] = offset.left
        self.factor["cols"][:, r:r + 2] = offset.right

    def product(self, side, U, d, V):
        """(S [V, offset], Σ s²) for side="rows", (Sᵀ [U, offset], Σ s²) for
        side="cols", at Z = U D² Vᵀ: the first ``rank`` columns are S V or Sᵀ U.
        The product is a buffer that the next call for the same side overwrites."""
        r = self.rank
        rows, cols = self.factor["rows"], self.factor["cols"]
        rows[:, :r], cols[:, :r] = U, V
        self.scale[:r] = d * d
        target, other = (rows, cols) if side == "rows" else (cols, rows)
        out = self.out[side]
        return out, self.run[side](target, self.scale, other, out, self.n_threads)


class _Step:
    """One iteration's pass over the rows (``_fill.step``) at the iterate after
    the B-step, U1 D1² = Y K: the A-step's S V1 and new rows F, then the
    residual at F V1ᵀ with its Sᵀ F and Σ s², and the Grams FᵀF and YᵀF.

    Rows are stored padded, [Y, offset] and [V, offset], in two row buffers: a
    step reads one and writes F into the other, so an interrupted step leaves the
    last iterate whole. Chunks of rows of about equal observations each add into
    their own column accumulator and Grams, summed in chunk order (results do not
    depend on the thread count).
    """

    CHUNKS = 16

    def __init__(self, ratings, rank, offset, n_threads):
        m, n = ratings.shape
        dtype = ratings.dtype
        width = rank + (2 if offset is not None else 0)
        self.Y = [_factor_storage(m, width, dtype) for _ in range(2)]
        self.V = _huge_page_rows(n, width, dtype)
        stride = self.V.shape[1]
        self.rank, self.width, self.n_threads, self.view = rank, width, n_threads, ratings.csr
        self.K, self.L = np.zeros((2, width, stride), dtype)
        self.h = np.zeros(stride, dtype)
        if offset is not None:
            for Y in self.Y:
                Y[:, rank:width] = offset.left
            self.V[:, rank:width] = offset.right
            self.K[rank:, rank:width] = self.L[rank:, rank:width] = np.eye(2)
        cum = self.view.indptr
        chunks = np.searchsorted(cum, np.linspace(0, cum[-1], self.CHUNKS + 1))
        chunks = np.unique(np.clip(chunks, 0, m)).astype(np.int64)
        chunks[0], chunks[-1] = 0, m
        self.chunks = chunks
        self.acc = np.empty((len(chunks) - 1, n, stride), dtype)
        self.sse = np.empty((len(chunks) - 1, 2))
        self.grams = np.empty((len(chunks) - 1, 2, rank, stride))
        self.out = np.empty((n, stride), dtype)

    def start(self, U):
        """The first row buffer holding U (the iterate's Y, with M = I)."""
        self.Y[0][:, :self.rank] = U
        return self.Y[0]

    def __call__(self, Y, MR, d1, V1, lam):
        """(F, Sᵀ F, Σ s² at F V1ᵀ, FᵀF, YᵀF) for the rows U1 = Y MR, d1, V1; the
        first three are buffers that the next call overwrites."""
        r, w = self.rank, self.width
        d2 = (d1 * d1).astype(np.float64)
        h = np.divide(d2, d2 + lam, out=np.zeros_like(d2), where=d2 + lam > 0)
        K = MR * d2
        self.K[:r, :r] = K
        self.L[:r, :r] = (K @ (V1.T.astype(np.float64) @ V1)) * h
        self.h[:r] = h
        self.V[:, :r] = V1
        F = self.Y[1] if Y is self.Y[0] else self.Y[0]
        view = self.view
        _fill.step(view.indptr, view.indices, view.values, Y, self.K, self.h, self.L, self.V,
                   F, self.chunks, self.acc, self.sse, self.grams, self.out, w, r,
                   self.n_threads)
        grams = self.grams[:, :, :, :r].sum(axis=0)
        return F, self.out, float(self.sse[:, 1].sum()), grams[0], grams[1]


def _huge_page_rows(n, width, dtype):
    """Zeroed factor rows as :func:`~lorank.models.als._factor_storage` makes
    them, starting on a 2 MB boundary of an allocation that numpy marks for
    transparent huge pages (4 MB or more): rows read at random then take a few
    TLB entries, not one per 4 kB page."""
    shape = _factor_storage(0, width, dtype).shape[1:]
    nbytes = n * shape[0] * np.dtype(dtype).itemsize
    page = 2 << 20
    buf = np.zeros(max(nbytes, 2 * page) + page, np.uint8)
    start = -buf.ctypes.data % page
    return buf[start:start + nbytes].view(dtype).reshape(n, *shape)


# --- the iteration's small dense steps ---------------------------------------------


def _shrink(d, lam):
    """D (D² + λ)⁻¹ as a vector, 0 where d = 0 (a dropped component stays dropped)."""
    d2 = d * d + lam
    return np.divide(d, d2, out=np.zeros_like(d), where=d2 > 0)


def _rebalance(Ft, d):
    """Thin SVD F̃ D = W Σ Rᵀ -> (W, √Σ, R): the new orthonormal factor, the new D,
    and the rotation to apply to the other factor.

    In float32 it goes through the float64 Gram matrix (FᵀF = R Σ² Rᵀ, W = F R Σ⁻¹,
    both in float64, then W rounded to float32): 4x faster than LAPACK's SVD at
    480k x 10, and its error, about eps64·κ², stays below float32's for a
    condition number κ up to 10⁴. Worse-conditioned or rank deficient F takes
    the SVD."""
    F = Ft * d
    if F.dtype == np.float32:
        F64 = F.astype(np.float64)
        w, Q = np.linalg.eigh(F64.T @ F64)
        w, Q = w[::-1], Q[:, ::-1]
        if w[-1] > 1e-8 * w[0] > 0:
            sigma = np.sqrt(w)
            W = (F64 @ (Q / sigma)).astype(np.float32)
            return W, np.sqrt(sigma).astype(np.float32), Q.astype(np.float32)
    W, sigma, Rt = scipy.linalg.svd(F, full_matrices=False, check_finite=False)
    return np.ascontiguousarray(W), np.sqrt(sigma).astype(Ft.dtype), Rt.T


def _rebalance_rows(F, FtF, dtype):
    """The A-step's rebalance F = W Σ Qᵀ kept implicit: (T, √Σ, Q) with W = F T
    (T = Q Σ⁻¹); in float32 from the float64 FᵀF as :func:`_rebalance` does, in
    float64 from the SVD of F. ``(None, None, None)`` when F is too
    ill-conditioned (κ > 10⁴) for F T to be orthonormal within rounding."""
    if dtype == np.float32:
        w, Q = np.linalg.eigh(FtF)
        sigma, Q = np.sqrt(np.maximum(w[::-1], 0)), Q[:, ::-1]
    else:
        _, sigma, Rt = scipy.linalg.svd(F, full_matrices=False, check_finite=False)
        Q = Rt.T
    if not sigma[-1] > 1e-4 * sigma[0] > 0:
        return None, None, None
    return Q / sigma, np.sqrt(sigma).astype(dtype), Q.astype(dtype)


def _relative_change(d1, d2, g_u11, g_u22, g_u12, V1, V2):
    """‖Z_new − Z_old‖²_F / ‖Z_old‖²_F for Z = U D² Vᵀ, from r x r float64 Gram
    matrices of the U (given) and of the V (formed here) (O((m + n) r²); no
    orthonormality assumed; float32 Grams would cancel to noise near convergence)."""
    V1, V2 = np.asarray(V1, np.float64), np.asarray(V2, np.float64)
    g_v11, g_v22, g_v12 = V1.T @ V1, V2.T @ V2, V1.T @ V2
    s1, s2 = np.asarray(d1, np.float64) ** 2, np.asarray(d2, np.float64) ** 2
    n11 = np.sum((s1[:, None] * g_u11 * s1[None, :]) * g_v11)
    n22 = np.sum((s2[:, None] * g_u22 * s2[None, :]) * g_v22)
    n12 = np.sum((s1[:, None] * g_u12 * s2[None, :]) * g_v12)
    change = max(n11 + n22 - 2 * n12, 0.0) / n11 if n11 > 0 else (0.0 if n22 == 0 else np.inf)
    return float(change)


def _initial_state(start, m, n, rank, dtype, rng):
    """(U, d, V): U orthonormal m x r. Cold: random U, D = I, V = 0 (the paper's
    start). Warm: the start's nonzero components (d = √s), the rest random
    directions orthogonal to them with d = the smallest kept d and V = 0."""
    if start is None:
        keep_u, keep_s, keep_v = np.zeros((m, 0)), np.zeros(0), np.zeros((n, 0))
    else:
        U0, s0, V0 = start
        k = int(np.count_nonzero(s0 > 0))
        keep_u, keep_s, keep_v = U0[:, :k], np.asarray(s0[:k], np.float64), V0[:, :k]
    k = keep_s.size
    d = np.ones(rank)
    d[:k] = np.sqrt(keep_s)
    if 0 < k < rank:
        d[k:] = d[k - 1]
    U = np.empty((m, rank), dtype)
    V = np.zeros((n, rank), dtype)
    U[:, :k], V[:, :k] = keep_u, keep_v
    if k < rank:
        G = rng.standard_normal((m, rank - k))
        if k:
            G -= keep_u @ (keep_u.T @ G)
        U[:, k:] = scipy.linalg.qr(G, mode="economic", check_finite=False)[0]
    return np.ascontiguousarray(U), d.astype(dtype), V


# --- paths ------------------------------------------------------------------------


def lambda_max(X, *, biases=False, dtype=np.float64, n_threads=None, random_state=0):
    """The largest singular value of P_Ω(X): for ``reg >= lambda_max(X)`` the
    soft-impute solution is zero.

    Parameters
    ----------
    X : Ratings, scipy.sparse matrix or array, or ndarray with NaN for missing
    biases : bool, default=False
        Of the centered observations, as ``SoftImpute(biases=True)`` sees them.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float64
    n_threads : int, default=None
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the randomized SVD (run with 10 power iterations).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, lorank
    >>> X = np.array([[3.0, np.nan], [np.nan, 4.0]])
    >>> round(lorank.lambda_max(X), 6)
    4.0
    """
    ratings = as_ratings(X, dtype=as_float_dtype(dtype))
    n_threads = effective_n_threads(n_threads)
    base = None
    if biases:
        from .baseline import fit_biases

        base = fit_biases(ratings, n_threads)
    return _lambda_max(ratings, base, n_threads, random_state)


def _offset(base):
    """A fitted Baseline as the rank-2 offset [u + μ, 1] [1, c]ᵀ (None: no offset)."""
    if base is None:
        return None
    u, c = base.row_bias_.astype(np.float64), base.col_bias_.astype(np.float64)
    dtype = base.row_bias_.dtype
    left = np.column_stack([u + base.mean_, np.ones(len(u))]).astype(dtype)
    right = np.column_stack([np.ones(len(c)), c]).astype(dtype)
    return LowRank(left, right)


def _lambda_max(ratings, base, n_threads, random_state=0):
    """lambda_max of checked ``ratings`` centred on the fitted Baseline ``base``
    (None: not centred)."""
    m, n = ratings.shape
    zero = LowRank(np.zeros((m, 0), ratings.dtype), np.zeros((n, 0), ratings.dtype))
    with single_threaded_blas():
        op = SparsePlusLowRank.completion(ratings, zero, offset=_offset(base),
                                          n_threads=n_threads)
        s = randomized_svd(op, 1, n_iter=10, random_state=random_state, n_threads=n_threads)[1]
    return float(s[0])


def soft_impute_path(X, regs, rank, validation=None, **params):
    """Fit SoftImpute along a decreasing sequence of λ, each fit warm-started
    from the previous one.

    Parameters
    ----------
    X : Ratings, scipy.sparse matrix or array, or ndarray with NaN for missing
    regs : sequence of float
        Strictly decreasing values of λ ≥ 0 (e.g. a geometric grid below
        :func:`lambda_max`).
    rank : int
    validation : same types as X, default=None
    **params
        Other SoftImpute parameters (not ``reg`` or ``warm_start``).

    Returns
    -------
    models : list of SoftImpute
        One fitted model per λ.
    valid_rmse : ndarray
        Validation RMSE of each final model (NaN without validation data).

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 2)) @ rng.standard_normal((2, 50))
    >>> R = lorank.Ratings.from_dense(np.where(rng.random(X.shape) < 0.5, X, np.nan))
    >>> train, test = R.split(0.2, random_state=0)
    >>> lmax = lorank.lambda_max(train)
    >>> models, err = lorank.soft_impute_path(train, lmax * np.array([0.5, 0.1, 0.01]),
    ...                                       5, validation=test, dtype=np.float64)
    >>> [m.effective_rank_ for m in models], bool(err[-1] < err[0])
    ([2, 2, 5], True)
    """
    for key in ("reg", "warm_start"):
        if key in params:
            raise TypeError(f"soft_impute_path sets {key} itself; do not pass it")
    regs = np.asarray(regs, dtype=np.float64)
    if regs.ndim != 1 or regs.size == 0:
        raise ValueError(f"regs must be a non-empty 1-D sequence, got shape {regs.shape}")
    if not (np.isfinite(regs).all() and (regs >= 0).all()):
        raise ValueError("regs must hold finite values >= 0")
    if (np.diff(regs) >= 0).any():
        raise ValueError(f"regs must be strictly decreasing, got {regs.tolist()}")
    dtype = as_float_dtype(params.get("dtype", np.float32))
    X = as_ratings(X, dtype=dtype)
    if validation is not None:
        validation = as_ratings(validation, dtype=dtype, name="validation")
    models, errors, previous = [], [], None
    for lam in regs:
        model = SoftImpute(rank, reg=float(lam), warm_start=previous, **params).fit(X, validation)
        models.append(model)
        errors.append(-model.score(validation) if validation is not None else np.nan)
        previous = model
    return models, np.array(errors)


def _to_arrays(model):
    arrays, header = _estimator.to_arrays(model)
    U, s, Vt = model._svd
    arrays.update(svd_u=U, singular_values=s, svd_vt=Vt)
    return arrays, header


def _from_arrays(cls, arrays, header, source="file"):
    model = _estimator.from_arrays(cls, arrays, header, source)
    if not {"svd_u", "singular_values", "svd_vt"} <= arrays.keys():
        raise ValueError(f"{source}: the SoftImpute model has no singular vectors")
    model._svd = (arrays["svd_u"], arrays["singular_values"], arrays["svd_vt"])
    model.singular_values_ = arrays["singular_values"]
    model.effective_rank_ = int(np.count_nonzero(model.singular_values_))
    return model


# lorank.load rebuilds it (singular vectors too, so a loaded model warm-starts);
# SoftImpute.save.
_estimator.register(SoftImpute, to_arrays=_to_arrays, from_arrays=_from_arrays)
