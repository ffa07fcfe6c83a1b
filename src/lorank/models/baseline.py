"""The bias-only baseline: global mean + damped user and item biases."""

import numpy as np

from . import _auto_reg
from .._kernels import _als
from ._estimator import (CompletionModel, check_bool, check_callback, check_int,
                         check_n_threads, check_real, rating_range, register)
from ..linalg.lowrank import LowRank

__all__ = ["Baseline"]


class Baseline(CompletionModel):
    """Predict ``μ + u_i + c_j``: the global mean plus damped user and item biases.

    Minimizes

        Σ_Ω (x_ij − μ − u_i − c_j)² + λ_u Σ_i u_i² + λ_c Σ_j c_j²

    with μ the mean of the training values, by exact alternating updates
    ``c_j = Σ_i (x_ij − μ − u_i) / (λ_c + |Ω_j|)`` then the same for ``u``
    (the ALS kernel at rank 0; scikit-surprise's ``BaselineOnly``, Koren,
    "Factor in the neighbors", 2010, section 2.1). The damping λ shrinks the
    bias of a user or item with few ratings towards 0. It is what a low-rank
    model has to beat: the factors' gain is the difference.

    The best damping is a ratio of variances, λ_u = σ² / τ_u² (the noise's over
    the user biases'): it is the posterior mean of u_i when u_i ~ N(0, τ_u²) and
    the ratings have noise σ². ``"auto"`` (the default) estimates both by
    empirical Bayes, an EM step after every sweep (σ² from the residuals and the
    biases' posterior variances σ²/(|Ω_i| + λ_u), τ_u² the mean of u_i² plus
    that variance), starting from surprise's 15 and 10. The same units-free
    ratio on any rating scale. 5-fold test RMSE (``Ratings.kfold(5,
    random_state=0)``, ``bench/bench_density.py``), fixed 15 / 10 against
    "auto": MovieLens 100K 0.9439 / 0.9395; its training ratings thinned to a
    quarter 0.9784 / 0.9686, a twentieth 1.0452 / 1.0348; biases with noise
    σ = 0.5 (λ ≈ 1.6 and 1 are right) 0.5179 / 0.5080. ``reg_users=15,
    reg_items=10, max_iter=10, tol=0`` is surprise's ``BaselineOnly`` to the bits.

    Parameters
    ----------
    reg_users : float or "auto", default="auto"
        λ_u (surprise's ``reg_u``, 15 there).
    reg_items : float or "auto", default="auto"
        λ_c (surprise's ``reg_i``, 10 there).
    max_iter : int, default=20
        Most alternating sweeps (surprise's ``n_epochs``, 10 there); with
        "auto" each is also an EM step of the dampings.
    tol : float, default=1e-5
        Stop when a sweep changes the training loss and the dampings by less
        than ``tol`` relatively (0: run all ``max_iter``; surprise does).
    clip : bool, default=True
        Clip predictions to the range of the training values.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, default=None
    progress : bool, default=False
    callback : callable, default=None
        ``callback(model, iteration)`` after every sweep; ``False`` stops.

    Attributes
    ----------
    factors_ : LowRank
        Rank 0 (no factors).
    row_bias_, col_bias_ : ndarray
    mean_ : float
    reg_users_, reg_items_ : float
        The dampings of the last sweep (the estimated ones with "auto").
    history_ : dict of lists
        Per sweep: ``iteration``, ``train_rmse``, ``valid_rmse``,
        ``reg_users``, ``reg_items`` (the sweep's dampings), ``seconds``.
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R = lorank.Ratings.from_labels(["a", "a", "b", "b", "c"], [1, 2, 1, 3, 2],
    ...                                [5.0, 3.0, 4.0, 2.0, 1.0])
    >>> model = lorank.Baseline().fit(R)
    >>> round(model.mean_, 2)
    3.0
    >>> bool(model.predict_positions([0], [0])[0] > model.mean_)    # user a and item 1 rate high
    True
    >>> surprise_like = lorank.Baseline(reg_users=15, reg_items=10, max_iter=10, tol=0).fit(R)
    """

    def __init__(self, *, reg_users="auto", reg_items="auto", max_iter=20, tol=1e-5,
                 clip=True, dtype=np.float32, n_threads=None, progress=False,
                 callback=None):
        self.reg_users = reg_users
        self.reg_items = reg_items
        self.max_iter = max_iter
        self.tol = tol
        self.clip = clip
        self.dtype = dtype
        self.n_threads = n_threads
        self.progress = progress
        self.callback = callback

    biases = True

    def _fit(self, ratings, valid):
        from .als import _factor_storage

        if ratings.nnz == 0:
            raise ValueError("X has no observed entries")
        lam_users = _damping(self.reg_users, "reg_users")
        lam_items = _damping(self.reg_items, "reg_items")
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_real(self.tol, "tol", minimum=0)
        check_bool(self.clip, "clip")
        check_bool(self.progress, "progress")
        check_callback(self.callback)
        n_threads = check_n_threads(self.n_threads)
        m, n = ratings.shape
        nnz = ratings.nnz
        mean = float(ratings.csr.values.mean(dtype=np.float64))
        self.rating_range_ = rating_range(ratings)
        em = _EM(ratings, lam_users, lam_items)
        U, C = _factor_storage(m, 1, ratings.dtype), _factor_storage(n, 1, ratings.dtype)
        self.mean_ = mean
        self.factors_ = LowRank(np.zeros((m, 0), ratings.dtype), np.zeros((n, 0), ratings.dtype))

        def set_state(lam_users, lam_items):
            self.row_bias_, self.col_bias_ = U[:, 0].copy(), C[:, 0].copy()
            self.reg_users_, self.reg_items_ = lam_users, lam_items
            self._lowrank = None

        set_state(*em.damping)
        keys = ("train_rmse", "valid_rmse", "reg_users", "reg_items")
        previous = None
        with self._iterations(max_iter, keys, desc="Baseline", what="biases") as run:
            for it in range(1, max_iter + 1):
                # c_j = Σ_i (x_ij − μ − u_i) / (λ_c + |Ω_j|), then the same for u.
                lam = em.damping
                for view, fixed, solved, damping in ((ratings.csc, U, C, lam[1]),
                                                     (ratings.csr, C, U, lam[0])):
                    size = solved.shape[0]
                    sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
                    _als.half_step(view.indptr, view.indices, view.values, fixed, solved,
                                   mean, np.full(size, damping), True, 0, sse, rsum,
                                   status, n_threads)
                sse = max(float(sse.sum()), 0.0)
                set_state(*lam)
                em.step(sse, U[:, 0], C[:, 0])
                valid_rmse = self._rmse(valid) if valid is not None else np.nan
                if not run.record(it, train_rmse=np.sqrt(sse / nnz), valid_rmse=valid_rmse,
                                  reg_users=lam[0], reg_items=lam[1]):
                    break
                # Converged: the loss and the next sweep's dampings barely move.
                if previous is not None and _relative_change(
                        (previous, *lam), (sse, *em.damping)) < tol:
                    break
                previous = sse

    def _row_bias_damping(self):
        # A file from before the dampings were kept holds the fixed one as its
        # parameter.
        damping = getattr(self, "reg_users_", None)
        return float(self.reg_users) if damping is None else damping


def fit_biases(ratings, n_threads):
    """``Baseline()`` fitted on checked ``ratings`` whose caller has warned about
    degenerate data: the biases and dampings that ALS, SoftImpute and their
    holdout paths start from."""
    base = Baseline(dtype=ratings.dtype.type, n_threads=n_threads)
    base._data_warned = True
    base._fit(ratings, None)
    return base


def _relative_change(before, after):
    return max(abs(a - b) / abs(b) if b else (0.0 if a == b else np.inf)
               for b, a in zip(before, after))


def _damping(reg, name):
    if _auto_reg.is_auto(reg, name):
        return "auto"
    return check_real(reg, name, minimum=0)


class _EM:
    """The biases' dampings λ = σ²/τ² by empirical Bayes (the "auto" ones; a fixed
    number stays as it is).

    After a sweep at dampings (λ_u, λ_c) with residual sum of squares ``sse``,
    the biases' posterior variances are σ²/(|Ω_i| + λ_u) (each side treated as
    independent given the other), and EM's updates are

        σ² ← (sse + σ² (Σ_i |Ω_i|/(|Ω_i| + λ_u) + Σ_j |Ω_j|/(|Ω_j| + λ_c))) / |Ω|
        τ_u² ← mean over rated rows of u_i² + σ²/(|Ω_i| + λ_u),  λ_u ← σ²/τ_u²

    (the first σ² is sse / |Ω|). Exact data (σ² = 0) gives λ = 0, plain means; no
    spread (τ² = 0) keeps the previous λ. In float64, O(m + n) a sweep.
    """

    START = (15.0, 10.0)  # surprise's

    def __init__(self, ratings, lam_users, lam_items):
        self.auto = (lam_users == "auto", lam_items == "auto")
        self.damping = tuple(self.START[k] if self.auto[k] else lam
                             for k, lam in enumerate((lam_users, lam_items)))
        self.row_counts = ratings.row_counts.astype(np.float64)
        self.col_counts = ratings.col_counts.astype(np.float64)
        self.nnz = float(ratings.nnz)
        self.sigma2 = None

    def step(self, sse, row_bias, col_bias):
        if not any(self.auto):
            return
        lam = self.damping
        sides = ((self.row_counts, row_bias, lam[0]), (self.col_counts, col_bias, lam[1]))
        sigma2 = sse / self.nnz if self.sigma2 is None else self.sigma2
        shares = sum(float(np.sum(c / (c + d))) if d > 0 else float(np.count_nonzero(c))
                     for c, _, d in sides)
        sigma2 = (sse + sigma2 * shares) / self.nnz
        new = []
        for k, (counts, bias, d) in enumerate(sides):
            if not self.auto[k]:
                new.append(d)
                continue
            rated = counts > 0
            b = bias[rated].astype(np.float64)
            tau2 = float(np.mean(b * b + sigma2 / (counts[rated] + d)))
            new.append(sigma2 / tau2 if tau2 > 0 else d)
        self.sigma2, self.damping = sigma2, tuple(new)


register(Baseline)
