"""The bias-only baseline: global mean + damped user and item biases."""

import time

import numpy as np

from . import _als
from ._estimator import CompletionModel, rating_range, register, training_data
from ._threads import effective_n_threads
from ._validation import as_float_dtype, check_int, check_real
from .lowrank import LowRank

__all__ = ["Baseline"]


class Baseline(CompletionModel):
    """Predict ``μ + u_i + c_j``: the global mean plus damped user and item biases.

    scikit-surprise's ``BaselineOnly`` (Koren, "Factor in the neighbors", 2010,
    section 2.1) fitted by alternating least squares: minimize

        Σ_Ω (x_ij − μ − u_i − c_j)² + λ_u Σ_i u_i² + λ_c Σ_j c_j²

    with μ the mean of the training values, by exact alternating updates
    ``c_j = Σ_i (x_ij − μ − u_i) / (λ_c + |Ω_j|)`` then the same for ``u``
    (the ALS kernel at rank 0). The damping λ shrinks the bias of a user or item
    with few ratings towards 0. It is what a low-rank model has to beat: the
    factors' gain is the difference.

    Parameters
    ----------
    reg_users : float, default=15.0
        λ_u (surprise's ``reg_u``).
    reg_items : float, default=10.0
        λ_c (surprise's ``reg_i``).
    max_iter : int, default=10
        Alternating sweeps (surprise's ``n_epochs``).
    clip : bool, default=True
        Clip predictions to the range of the training values.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, default=None

    Attributes
    ----------
    factors_ : LowRank
        Rank 0 (no factors).
    row_bias_, col_bias_ : ndarray
    mean_ : float
    history_ : dict of lists
        Per sweep: ``iteration``, ``train_rmse``, ``valid_rmse``, ``seconds``.
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R = lorank.Ratings.from_labels(["a", "a", "b", "b", "c"], [1, 2, 1, 3, 2],
    ...                                [5.0, 3.0, 4.0, 2.0, 1.0])
    >>> model = lorank.Baseline().fit(R)
    >>> round(model.mean_, 2)
    3.0
    >>> bool(model.predict([0], [0])[0] > model.mean_)    # user a and item 1 rate high
    True
    """

    def __init__(self, *, reg_users=15.0, reg_items=10.0, max_iter=10, clip=True,
                 dtype=np.float32, n_threads=None):
        self.reg_users = reg_users
        self.reg_items = reg_items
        self.max_iter = max_iter
        self.clip = clip
        self.dtype = dtype
        self.n_threads = n_threads

    biases = True

    def fit(self, X, validation=None):
        """Fit μ and the biases to the observed entries of ``X``.

        Parameters
        ----------
        X : Ratings, scipy.sparse matrix or array, or ndarray with NaN for missing
        validation : same types as X, default=None
            Held-out entries; their RMSE is recorded in ``history_["valid_rmse"]``.

        Returns
        -------
        self
        """
        from .als import _factor_storage

        dtype = as_float_dtype(self.dtype)
        ratings, valid = training_data(X, validation, dtype)
        if ratings.nnz == 0:
            raise ValueError("X has no observed entries")
        regs = {}
        for name in ("reg_users", "reg_items"):
            value = check_real(getattr(self, name), name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
            regs[name] = float(value)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        if not isinstance(self.clip, (bool, np.bool_)):
            raise TypeError(f"clip must be True or False, got {self.clip!r}")
        n_threads = effective_n_threads(self.n_threads)
        m, n = ratings.shape
        nnz = ratings.nnz
        values = ratings.csr.values
        mean = float(values.mean(dtype=np.float64))
        self.rating_range_ = rating_range(ratings)
        lam_rows = np.full(m, regs["reg_users"])
        lam_cols = np.full(n, regs["reg_items"])
        U, C = _factor_storage(m, 1, dtype), _factor_storage(n, 1, dtype)
        self.history_ = {k: [] for k in ("iteration", "train_rmse", "valid_rmse", "seconds")}
        self.mean_ = mean
        self.factors_ = LowRank(np.zeros((m, 0), dtype), np.zeros((n, 0), dtype))
        for it in range(1, max_iter + 1):
            t0 = time.perf_counter()
            for view, fixed, solved, lam in ((ratings.csc, U, C, lam_cols),
                                             (ratings.csr, C, U, lam_rows)):
                size = solved.shape[0]
                sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
                _als.half_step(view.indptr, view.indices, view.values, fixed, solved, mean,
                               lam, True, 0, sse, rsum, status, n_threads)
            self.row_bias_, self.col_bias_ = U[:, 0].copy(), C[:, 0].copy()
            self._lowrank = None
            self.n_iter_ = it
            h = self.history_
            h["iteration"].append(it)
            h["train_rmse"].append(float(np.sqrt(max(float(sse.sum()), 0.0) / nnz)))
            h["valid_rmse"].append(self._score(valid) if valid is not None else np.nan)
            h["seconds"].append(time.perf_counter() - t0)
        return self


register(Baseline)
