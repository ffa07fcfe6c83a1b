"""Confidence-weighted ALS for implicit feedback (Hu, Koren & Volinsky 2008)."""

import numpy as np

from .._kernels import _als
from ._estimator import (CompletionModel, check_bool, check_callback, check_choice, check_int,
                         check_n_threads, check_random_state, check_rank, check_real, register)
from .._threads import effective_n_threads, single_threaded_blas
from .als import _factor_storage
from ..linalg.lowrank import LowRank

__all__ = ["ImplicitALS"]

# Rows of a factor converted to float64 at a time for its Gram matrix FᵀF.
_GRAM_CHUNK = 8192
# Bound on the exact half-step's per-target accumulators per kernel call.
_ACCUMULATOR_BYTES = 16 << 20


class ImplicitALS(CompletionModel):
    """Matrix factorization for implicit feedback (plays, clicks, purchases).

    The model of Hu, Koren & Volinsky, "Collaborative Filtering for Implicit
    Feedback Datasets" (ICDM 2008). Every entry of the users x items matrix
    counts: the preference is p_ui = 1 where the data has a positive value r_ui
    and 0 elsewhere (unobserved entries included), with confidence
    c_ui = 1 + α·r_ui (``confidence="linear"``) or 1 + α·log(1 + r_ui/ε)
    (``"log"``), and c = 1 off the data. The factors minimize

        Σ_{all u, i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²).

    Each half-step solves, for every user u in parallel (then every item alike),

        (YᵀY + Σ_{i∈Ω_u} (c_ui − 1) y_i y_iᵀ + λI) x_u = Σ_{i∈Ω_u} c_ui y_i,

    with YᵀY formed once per half-step and the sum over u's own items by the same
    compiled half-step kernel as :class:`lorank.ALS` (per-entry weights
    c − 1, targets c / (c − 1), YᵀY as a shared prior; all divided by α, so
    the weights of the linear form are the stored values themselves and the
    fit holds one extra array of nnz targets). ``solver="cholesky"``
    solves it exactly; ``"cg"`` takes ``cg_steps`` conjugate-gradient steps
    from the previous factor (as implicit's ``use_cg``), preconditioned by the
    shared part YᵀY + λI (a change of basis done once per half-step): the same
    cost per step as plain CG, a lower loss after the same steps. Cost per iteration:
    O(|Ω| r² + (m + n) r³) exact, O(cg_steps·(|Ω| + (m + n) r)·r) with CG.

    **The values are confidences, not ratings.** Any nonnegative numbers are
    taken as interaction strengths (play counts, 0/1 clicks, or star ratings,
    which then mean "rated, with this much confidence"); a stored 0 is the same
    as a missing entry. Negative values, NaN and infinities are errors. A user
    (or item) without any positive entry gets the zero factor, the exact
    solution of its equations: every score 0, so their recommendations are
    ties, in item order.

    Parameters
    ----------
    rank : int, default=10
        Number of latent factors.
    alpha : float, default=2.0
        Confidence scale α > 0.
    reg : float, default=10.0
        λ ≥ 0 (the same for every user and item, as in the paper and implicit).
        The defaults (rank 10, α 2, λ 10) were chosen on MovieLens 100K with
        ratings >= 4 as 0/1 positives (per-user 80/20 split: precision@10
        0.22 against 0.12 for :class:`lorank.Popularity`). For raw play counts
        (hundreds to thousands) prefer ``confidence="log"`` or a smaller α.
        Tune them on held-out interactions.
    confidence : {"linear", "log"}, default="linear"
    epsilon : float, default=1.0
        ε > 0 of the log form.
    solver : {"cholesky", "cg"}, default="cholesky"
    cg_steps : int, default=3
        Conjugate-gradient steps per solve (``solver="cg"``), ≥ 1.
    max_iter : int, default=15
        Iterations (each a users half-step, then an items half-step).
    tol : float, default=0.0
        Stop when the loss's relative decrease over an iteration is below
        ``tol``; ``0`` runs all ``max_iter`` iterations.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, default=None
        Threads for the kernels (``None``: all usable cores). Results do not
        depend on it.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the initial factors (uniform in [0, 0.01), as implicit).
    progress : bool, default=False
        Show a tqdm progress bar with the loss.
    callback : callable, default=None
        ``callback(model, iteration)`` after every iteration; ``False`` stops.

    Attributes
    ----------
    factors_ : LowRank
        User factors X (``left``, m x r) and item factors Y (``right``, n x r);
        the scores are X Yᵀ.
    history_ : dict of lists
        Per iteration: ``iteration``, ``loss`` (the objective above divided by
        Σ c over all entries, the number implicit's ``calculate_training_loss``
        prints, computed from the items half-step's own pass), ``seconds``.
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, lorank
    >>> plays = sp.csr_matrix(np.array([[3, 0, 1, 0], [2, 1, 0, 0], [0, 0, 4, 5]]))
    >>> model = lorank.ImplicitALS(2, alpha=2.0, random_state=0).fit(plays)  # users x items
    >>> model.factors_.shape
    (3, 4)
    >>> rec = lorank.Recommender(lorank.ImplicitALS(2, random_state=0)).fit(plays)
    >>> len(rec.recommend(0, n=2)[0])       # user 0 has not played items 1 and 3
    2
    """

    def __init__(self, rank=10, *, alpha=2.0, reg=10.0, confidence="linear", epsilon=1.0,
                 solver="cholesky", cg_steps=3, max_iter=15, tol=0.0, dtype=np.float32,
                 n_threads=None, random_state=None, progress=False, callback=None):
        self.rank = rank
        self.alpha = alpha
        self.reg = reg
        self.confidence = confidence
        self.epsilon = epsilon
        self.solver = solver
        self.cg_steps = cg_steps
        self.max_iter = max_iter
        self.tol = tol
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress
        self.callback = callback

    biases = False  # scores are x_uᵀ y_i: no mean or biases
    _explicit = False  # 0/1 and count data are what it is for

    def _check_params(self, ratings):
        rank = check_rank(self.rank, ratings.shape)
        alpha = check_real(self.alpha, "alpha")
        if not alpha > 0:
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        reg = check_real(self.reg, "reg", minimum=0)
        check_choice(self.confidence, "confidence", ("linear", "log"))
        eps = check_real(self.epsilon, "epsilon")
        if not eps > 0:
            raise ValueError(f"epsilon must be a finite number > 0, got {eps!r}")
        check_choice(self.solver, "solver", ("cholesky", "cg"))
        cg_steps = check_int(self.cg_steps, "cg_steps", minimum=1)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_real(self.tol, "tol", minimum=0)
        check_callback(self.callback)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")
        widest = _als.MAX_ROW_BYTES // ratings.dtype.itemsize
        if rank > widest:
            raise ValueError(f"rank={rank} is too large: ImplicitALS supports rank <= "
                             f"{widest} in {ratings.dtype}")
        if ratings.csr.indices.dtype != np.int32 or ratings.csc.indices.dtype != np.int32:
            raise ValueError(f"ImplicitALS supports up to 2**31 - 1 users and items, "
                             f"got shape {ratings.shape}")
        return (rank, float(alpha), float(reg), float(eps), cg_steps, max_iter, float(tol),
                check_n_threads(self.n_threads))

    # ------------------------------------------------------------ fitting

    def fit(self, X, validation=None, *, columns=None):
        """Fit the factors to the interactions in ``X``.

        Parameters
        ----------
        X : Ratings, scipy.sparse matrix, ndarray with NaN for missing, or DataFrame
            **Rows are users, columns items** (implicit's ``user_items``
            convention since 0.5): entry (u, i) is how much user u interacted
            with item i. Every stored entry of a sparse matrix is an
            observation; its value is the confidence's r (see the class
            docstring). A DataFrame holds one (user, item, count) per row
            (``columns=`` names them). A scipy matrix is copied into a
            ``Ratings``; for a large CSR,
            ``Ratings.from_csr(S.indptr, S.indices, S.data, S.shape)`` keeps its
            arrays without a copy.
        validation : ignored, default=None
            Accepted for the estimator protocol; score held-out interactions
            with :func:`lorank.metrics.ranking_metrics`.
        columns : (str, str, str), default=None
            The user, item and count columns of a DataFrame.

        Returns
        -------
        self
        """
        return super().fit(X, validation, columns=columns)

    def _fit(self, ratings, valid):
        dtype = ratings.dtype.type
        rank, alpha, reg, eps, cg_steps, max_iter, tol, n_threads = self._check_params(ratings)
        _check_counts(ratings.csr.values)
        m, n = ratings.shape
        self._conf = (self.confidence, alpha, eps)
        self._seen = (ratings.csr.indptr, ratings.csr.indices)  # for score: no copy

        # The equations divided by α: with c − 1 = α·u (u = r, or log(1 + r/ε)),
        # (YᵀY/α + Σ u y yᵀ + (λ/α) I) x = Σ u t y, t = c/(c − 1) = 1 + 1/(α u).
        # The kernel's weights are then u itself, the stored values for the
        # linear form (no copy), and one nnz array t serves both views in turn.
        buffers = _Buffers(ratings, self._conf, dtype)
        sum_t, sum_u = buffers.sums()
        total_c = float(m) * n + alpha * sum_u

        rng = np.random.default_rng(self.random_state)
        X_ = _factor_storage(m, rank, dtype)
        Y_ = _factor_storage(n, rank, dtype)
        _uniform_start(X_, rank, rng)
        _uniform_start(Y_, rank, rng)
        lam_u = np.full(m, reg / alpha)
        lam_i = np.full(n, reg / alpha)
        solve = dict(solver=self.solver, cg_steps=cg_steps)

        def half_step(view, fixed, solved, lam, gram, side):
            """Solve every row of ``solved``; returns Σ (c − 1)(t − s)² over the
            view's entries at the new factors."""
            u, t = buffers.fill(view)
            size = solved.shape[0]
            sse, rsum = np.empty(size), np.empty(size)
            status = np.empty(size, np.int32)
            if self.solver == "cg":
                _preconditioned_cg(view, t, u, fixed, solved, gram, alpha, reg, rank, sse,
                                   rsum, status, n_threads, solve)
            else:
                _run_kernel(view.indptr, view.indices, t, fixed, solved, lam, rank, sse,
                            rsum, status, n_threads, u, gram / alpha, solve)
            _raise_on_failure(status, side)
            return alpha * float(sse.sum())

        with single_threaded_blas():
            YtY = _gram(Y_, rank)
        previous = np.inf
        # Ctrl-C is raised between kernel calls, never inside one: X_ and Y_ then
        # hold the factors after the last finished half-step.
        with self._iterations(max_iter, ("loss",), desc="ImplicitALS",
                              on_interrupt=lambda: self._set_learned(X_, Y_, rank, None),
                              what="factors (of the last finished half-step)") as run:
            for it in range(1, max_iter + 1):
                with single_threaded_blas():  # once per iteration: entering it costs ~40 µs
                    half_step(ratings.csr, Y_, X_, lam_u, YtY, "users")
                    XtX = _gram(X_, rank)
                    sse = half_step(ratings.csc, X_, Y_, lam_i, XtX, "items")
                    YtY = _gram(Y_, rank)
                # Σ_all c (p − s)² = Σ_all s² + Σ_Ω [c (1 − s)² − s²], and per entry
                # c (1 − s)² − s² = (c − 1)(t − s)² − t: the kernel's sse minus Σ t.
                loss = (float(np.sum(XtX * YtY)) + sse - sum_t
                        + reg * (np.trace(XtX) + np.trace(YtY))) / total_c
                if not np.isfinite(loss):  # a non-finite factor makes its Gram so
                    raise FloatingPointError(
                        "ImplicitALS produced non-finite factors; lower alpha, raise reg "
                        "or use dtype=np.float64")
                if self.callback is not None:
                    self._set_learned(X_, Y_, rank, YtY)  # the callback sees the model
                if not run.record(it, loss=loss):
                    break
                if tol > 0 and np.isfinite(previous) and previous - loss <= tol * abs(previous):
                    break
                previous = loss
        del buffers  # the nnz targets, before the factors are kept
        self._set_learned(X_, Y_, rank, YtY, final=True)
        return self

    def _set_learned(self, X_, Y_, rank, YtY, final=False):
        # The first rank columns. Between iterations (callback, Ctrl-C) copies, as
        # the next half-steps update X_ and Y_ in place, the previous copies dropped
        # first; after the last one the storage itself when it has no padding, and
        # else one copy at a time, so the fit's peak holds no second set of factors.
        self.__dict__.pop("factors_", None)
        left = _first_columns(X_, rank, final)
        right = _first_columns(Y_, rank, final)
        self.factors_ = LowRank(left, right)
        self.row_bias_ = self.col_bias_ = None
        self.mean_ = 0.0
        self._item_gram = YtY
        self._lowrank = None

    # ------------------------------------------------------------ fitted protocol

    def score(self, X, y=None, *, k=10, metric="ndcg", train=None):
        """NDCG@k of the top-k lists on the held-out interactions ``X``
        (greater is better, scikit-learn's convention): see
        :func:`lorank.model_selection.ranking_score`, which this is. The items
        of the training interactions are not recommended; the model keeps
        their pattern (a reference, not a copy) for this.

        Parameters
        ----------
        X : Ratings or any input Ratings accepts (by the fitted labels)
        y : ignored
            Accepted for scikit-learn's ``score(X, y)``.
        k : int, default=10
        metric : str, default="ndcg"
            Or "precision", "recall", "map", "hit_rate", "mrr", "auc"
            (as a scorer: ``scoring=lambda est, X, y=None: est.score(X, metric="precision")``).
        train : Ratings, default=None
            The training interactions; ``None``: those of the fit.

        Returns
        -------
        float
        """
        from ..model_selection import ranking_score

        return ranking_score(self, X, k=k, metric=metric, train=train)

    def to_lowrank(self):
        """The score matrix X Yᵀ as a :class:`lorank.LowRank` (the fitted factors,
        no copy): ``predict(users, items)`` (by label) and
        ``predict_positions(rows, cols)`` are its entries."""
        self._check_fitted()
        return self.factors_

    def recalculate_user(self, cols, values):
        """The factor of a user (new, or with changed interactions) who interacted
        with items at positions ``cols`` with strengths ``values``: the solve a
        training user gets, with the trained item factors fixed (implicit's
        ``recalculate_user``). Returns an array of shape (rank,)."""
        return self._solve_rows("users", np.zeros(1, np.int64), [cols], [values])[0]

    def recalculate_item(self, rows, values):
        """The factor of an item from the users (positions ``rows``) who interacted
        with it; see :meth:`recalculate_user`."""
        return self._solve_rows("items", np.zeros(1, np.int64), [rows], [values])[0]

    def fold_in_positions(self, cols, values):
        """``Recommender.fold_in``'s hook: (factor, bias 0.0) of a new user."""
        return self.recalculate_user(cols, values), 0.0

    def partial_fit_users(self, users, user_items):
        """Refit the factors of the users at positions ``users`` from their rows
        ``user_items`` (users x items, one row per entry of ``users``), item
        factors fixed. Positions past the last user append new users (positions
        in between get zero factors). Returns self."""
        return self._partial_fit("users", users, user_items)

    def partial_fit_items(self, items, item_users):
        """Refit the factors of the items at positions ``items`` from their
        columns ``item_users`` (items x users), user factors fixed; see
        :meth:`partial_fit_users`."""
        return self._partial_fit("items", items, item_users)

    def _partial_fit(self, side, targets, M):
        import scipy.sparse as sp

        from ..data.ratings import as_ratings

        self._check_fitted()
        targets = np.asarray(targets)
        if targets.ndim != 1 or targets.dtype.kind not in "iu":
            raise TypeError(f"{side} must be a 1-D array of integer positions")
        if len(np.unique(targets)) != len(targets):
            raise ValueError(f"{side} contains a position twice")
        if len(targets) and targets.min() < 0:
            raise ValueError(f"{side} contains {int(targets.min())}; positions are >= 0")
        other = self.factors_.right if side == "users" else self.factors_.left
        if not sp.issparse(M):
            M = sp.csr_matrix(np.asarray(M))
        if M.shape != (len(targets), len(other)):
            raise ValueError(
                f"the matrix of {side} must have shape ({len(targets)}, {len(other)}) "
                f"(one row per position, one column per {'item' if side == 'users' else 'user'}), "
                f"got {M.shape}")
        R = as_ratings(M, dtype=self.factors_.dtype, name=side)
        _check_counts(R.csr.values)
        csr = R.csr
        cols = [csr.indices[csr.indptr[k]:csr.indptr[k + 1]] for k in range(len(targets))]
        vals = [csr.values[csr.indptr[k]:csr.indptr[k + 1]] for k in range(len(targets))]
        solved = self._solve_rows(side, targets, cols, vals)
        L, Rt = self.factors_.left, self.factors_.right
        F = L if side == "users" else Rt
        size = max(len(F), int(targets.max()) + 1 if len(targets) else 0)
        if size > len(F):
            F = np.vstack([F, np.zeros((size - len(F), F.shape[1]), F.dtype)])
        else:
            F = F.copy()
        F[targets] = solved
        if size > len(self._label_index(0 if side == "users" else 1).labels):
            self._grow_labels(0 if side == "users" else 1, size)
        self.factors_ = LowRank(F, Rt) if side == "users" else LowRank(L, F)
        self._lowrank = None
        self._seen = None  # the training interactions changed: score needs train=
        if side == "items":
            self._item_gram = None
        return self

    def _grow_labels(self, axis, size):
        """Positions past the fitted users (items) of an unlabelled model: the
        label index grows with them (a labelled model refuses)."""
        from ..data._labels import LabelIndex

        index = self._label_index(axis)
        side = ("user", "item")[axis]
        if index.labelled:
            raise ValueError(
                f"this model's {side}s have labels: a new {side} has no label here; "
                f"fold it in with Recommender.fold_in (or recalculate_{side})")
        labels = list(self.labels_)
        labels[axis] = LabelIndex(None, size, name=side)
        self.labels_ = tuple(labels)

    def _solve_rows(self, side, targets, cols, vals):
        """Solve the rows given as lists of (other-side positions, values) against
        the fixed other side, through the training kernel."""
        self._check_fitted()
        conf = getattr(self, "_conf", None) or (self.confidence, float(self.alpha),
                                                float(self.epsilon))
        L, R = self.factors_.left, self.factors_.right
        fixed_f = R if side == "users" else L
        dtype, rank = fixed_f.dtype, fixed_f.shape[1]
        k = len(cols)
        idx, vv = [], []
        for c, v in zip(cols, vals):
            c = np.asarray(c)
            v = np.asarray(v, dtype=np.float64).ravel()
            if c.ndim != 1 or c.dtype.kind not in "iu" or len(c) != len(v):
                raise ValueError("positions and values must be 1-D of the same length")
            if len(c) and (c.min() < 0 or c.max() >= len(fixed_f)):
                bad = int(c.min()) if c.min() < 0 else int(c.max())
                raise ValueError(f"position {bad} is out of range [0, {len(fixed_f)})")
            if len(np.unique(c)) != len(c):
                raise ValueError("a position is given twice")
            _check_counts(v)
            order = np.argsort(c, kind="stable")
            idx.append(c[order].astype(np.int32))
            vv.append(v[order].astype(dtype))
        indptr = np.zeros(k + 1, np.int64)
        np.cumsum([len(c) for c in idx], out=indptr[1:])
        indices = np.concatenate(idx) if k else np.empty(0, np.int32)
        values = np.concatenate(vv) if k else np.empty(0, dtype)
        u, t = _weights_targets(values, conf, dtype)
        fixed = _factor_storage(len(fixed_f), rank, dtype)
        fixed[:, :rank] = fixed_f
        solved = _factor_storage(k, rank, dtype)
        alpha = conf[1]
        sse, rsum, status = np.empty(k), np.empty(k), np.empty(k, np.int32)
        with single_threaded_blas():
            if side == "users" and getattr(self, "_item_gram", None) is not None:
                gram = self._item_gram
            else:
                gram = _gram(fixed, rank)
            _run_kernel(indptr, indices, t, fixed, solved,
                        np.full(k, float(self.reg) / alpha), rank, sse, rsum, status,
                        effective_n_threads(self.n_threads), u, gram / alpha,
                        dict(solver="cholesky", cg_steps=1))
        _raise_on_failure(status, side)
        return solved[:, :rank].copy()


register(ImplicitALS)


# ---------------------------------------------------------------- helpers

def _check_counts(values):
    """Counts/confidences must be finite (Ratings checked) and >= 0."""
    if len(values) and values.min() < 0:
        pos = int(np.argmin(values))
        raise ValueError(
            f"X contains the negative value {values[pos]} (stored entry {pos}); "
            "ImplicitALS takes counts or confidences >= 0 (a 0 is the same as missing)")


def _weights_targets(values, conf, dtype, u=None, t=None, zeros=None):
    """(u, t): the kernel's weights u (c − 1 = α u) and targets t = 1 + 1/(α u),
    both 0 where the value is 0 (c = 1, the same as missing: the entry adds
    nothing). For the linear form u is ``values`` itself when it has ``dtype``.
    ``zeros``: whether u has a 0 (None: look); t takes two passes over nnz
    without one."""
    form, alpha, eps = conf
    values = np.asarray(values)
    if form == "linear":
        u = values if values.dtype == dtype else values.astype(dtype)
    else:
        u = np.empty(len(values), dtype) if u is None else u
        np.divide(values, eps, out=u)
        np.log1p(u, out=u)
    t = np.empty(len(values), dtype) if t is None else t
    with np.errstate(divide="ignore"):
        np.divide(1 / alpha, u, out=t)
    t += 1
    if zeros is None:
        zeros = bool(len(u) and not u.min() > 0)
    if zeros:
        t[u == 0] = 0
    return u, t


class _Buffers:
    """One nnz buffer for t (and one for u in the log form), refilled for the
    view (CSR or CSC) each half-step solves."""

    def __init__(self, ratings, conf, dtype):
        self.conf, self.dtype = conf, dtype
        self.t = np.empty(ratings.nnz, dtype)
        self.u = np.empty(ratings.nnz, dtype) if conf[0] == "log" else None
        self.csr = ratings.csr
        self.zeros = None  # whether some u is 0: the same in either view, found once

    def fill(self, view):
        u, t = _weights_targets(view.values, self.conf, self.dtype, self.u, self.t,
                                self.zeros)
        if self.zeros is None:
            self.zeros = bool(len(u) and not u.min() > 0)
        return u, t

    def sums(self):
        u, t = self.fill(self.csr)
        return float(t.sum(dtype=np.float64)), float(u.sum(dtype=np.float64))


def _uniform_start(F, rank, rng):
    """F[:, :rank] ← uniform [0, 0.01) drawn in float64 (the same numbers for
    either dtype), in row chunks: the same stream as one draw of the whole
    block, without its float64 temporaries."""
    for a in range(0, len(F), _GRAM_CHUNK):
        B = F[a:a + _GRAM_CHUNK, :rank]
        B[...] = rng.random(B.shape) * 0.01


def _first_columns(F, rank, final):
    """F[:, :rank] as its own array: F itself when it is final and has no
    padding columns, else a copy."""
    if final and F.shape[1] == rank:
        return F
    return F[:, :rank].copy()


def _gram(F, rank):
    """FᵀF of the first ``rank`` columns, accumulated in float64 over row chunks
    (call it inside ``single_threaded_blas``, as every kernel)."""
    G = np.zeros((rank, rank))
    for a in range(0, len(F), _GRAM_CHUNK):
        B = F[a:a + _GRAM_CHUNK, :rank].astype(np.float64)
        G += B.T @ B
    return G


def _run_kernel(indptr, indices, t, fixed, solved, lam, rank, sse, rsum, status, n_threads,
                u, prior, solve):
    """The half-step over all rows of ``solved``. The exact solver is called on
    blocks of targets whose accumulators (the kernel keeps a Gram per target
    when it streams a large fixed factor in tiles) stay under _ACCUMULATOR_BYTES;
    each target's result does not depend on the blocks. Call it inside
    ``single_threaded_blas``."""
    kwargs = dict(prior=prior) if prior is not None else {}
    if solve["solver"] == "cg":
        kwargs.update(solver="cg", cg_steps=solve["cg_steps"])
    n = solved.shape[0]
    per_target = (rank + 1) * solved.shape[1] * solved.itemsize
    block = n if solve["solver"] == "cg" else max(1, _ACCUMULATOR_BYTES // per_target)
    for j0 in range(0, max(n, 1), block):
        j1 = min(n, j0 + block)
        p0, p1 = int(indptr[j0]), int(indptr[j1])
        ptr = indptr[j0:j1 + 1] - p0 if (j0, j1) != (0, n) else indptr
        _als.half_step(ptr, indices[p0:p1], t[p0:p1], fixed, solved[j0:j1], 0.0,
                       lam[j0:j1], False, rank, sse[j0:j1], rsum[j0:j1], status[j0:j1],
                       n_threads, weights=u[p0:p1], **kwargs)


def _preconditioned_cg(view, t, u, fixed, solved, gram, alpha, reg, rank, sse, rsum, status,
                       n_threads, solve):
    """The CG half-step in the coordinates where the shared part of every
    target's matrix is the identity.

    With M = YᵀY/α + (λ/α) I = L Lᵀ, each target's (M + Σ u y yᵀ) x = Σ u t y
    becomes (I + Σ u g gᵀ) z = Σ u t g for g = L⁻¹ y and x = L⁻ᵀ z: the kernel
    runs with no prior (its O(r²) matvec per CG step disappears) and λ = 1, on
    the fixed rows transformed in place (and restored after), from the warm start
    z = Lᵀ x. The residuals gᵀz = yᵀx, so sse is unchanged. L preconditions CG:
    the steps go further than on the original system.
    """
    M = gram / alpha + (reg / alpha) * np.eye(rank)
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "the factors' Gram matrix is not positive definite; use reg > 0") from None
    # L⁻¹ (lower triangular) by LAPACK trtri: a tenth of np.linalg.inv's time at
    # rank 64, and multiplying by it (trmm) is 6x faster than OpenBLAS's trsm on
    # these shapes.
    from scipy.linalg import lapack

    Linv, info = lapack.dtrtri(L, lower=1)
    if info:  # a Cholesky factor has a positive diagonal: never, short of NaN
        raise np.linalg.LinAlgError("the factors' Gram matrix is singular; use reg > 0")
    _transform(fixed, Linv, False, rank)  # rows g = L⁻¹ y:  G = Y L⁻ᵀ
    _transform(solved, L, True, rank)     # warm start z = Lᵀ x:  Z = X L
    try:
        _run_kernel(view.indptr, view.indices, t, fixed, solved, np.ones(solved.shape[0]),
                    rank, sse, rsum, status, n_threads, u, None, solve)
    finally:
        _transform(solved, Linv, True, rank)  # x = L⁻ᵀ z:  X = Z L⁻¹
        _transform(fixed, L, False, rank)     # y back (to rounding):  Y = G Lᵀ


def _transform(F, A, trans, rank):
    """F[:, :rank] ← F[:, :rank] @ Aᵀ (``trans=False``) or @ A (``True``) in place,
    for lower-triangular A (rank x rank): one BLAS trmm on the whole C-contiguous
    F, whose transpose is Fortran-ordered (Fᵀ ← A Fᵀ or Aᵀ Fᵀ), with A extended
    by the identity over the padding columns (left as they are) so no row is
    copied. Half a matrix product's work; call it inside ``single_threaded_blas``."""
    from scipy.linalg import blas

    trmm = blas.strmm if F.dtype == np.float32 else blas.dtrmm
    stride = F.shape[1]
    E = np.eye(stride, dtype=F.dtype, order="F")
    E[:rank, :rank] = A
    if len(F):
        out = trmm(1.0, E, F.T, side=0, lower=1, trans_a=int(trans), overwrite_b=1)
        if not np.shares_memory(out, F):  # trmm wrote a copy: keep it
            F[...] = out.T


def _raise_on_failure(status, side):
    bad = np.flatnonzero(status)
    if bad.size:
        k = int(bad[0])
        raise np.linalg.LinAlgError(
            f"the normal equations of {side[:-1]} {k} are not positive definite; "
            "increase reg (or use dtype=np.float64)")
