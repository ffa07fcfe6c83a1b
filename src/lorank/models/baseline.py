"""The bias-only baseline: global mean + damped user and item biases."""

import numpy as np

from .._kernels import _als
from ._estimator import (CompletionModel, check_bool, check_callback, check_int,
                         check_n_threads, check_real, rating_range, register)
from ..linalg.lowrank import LowRank

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
    progress : bool, default=False
    callback : callable, default=None
        ``callback(model, iteration)`` after every sweep; ``False`` stops.

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
    >>> bool(model.predict_positions([0], [0])[0] > model.mean_)    # user a and item 1 rate high
    True
    """

    def __init__(self, *, reg_users=15.0, reg_items=10.0, max_iter=10, clip=True,
                 dtype=np.float32, n_threads=None, progress=False, callback=None):
        self.reg_users = reg_users
        self.reg_items = reg_items
        self.max_iter = max_iter
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
        reg_users = check_real(self.reg_users, "reg_users", minimum=0)
        reg_items = check_real(self.reg_items, "reg_items", minimum=0)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        check_bool(self.clip, "clip")
        check_bool(self.progress, "progress")
        check_callback(self.callback)
        n_threads = check_n_threads(self.n_threads)
        m, n = ratings.shape
        nnz = ratings.nnz
        mean = float(ratings.csr.values.mean(dtype=np.float64))
        self.rating_range_ = rating_range(ratings)
        lam_rows = np.full(m, reg_users)
        lam_cols = np.full(n, reg_items)
        U, C = _factor_storage(m, 1, ratings.dtype), _factor_storage(n, 1, ratings.dtype)
        self.mean_ = mean
        self.factors_ = LowRank(np.zeros((m, 0), ratings.dtype), np.zeros((n, 0), ratings.dtype))

        def set_state():
            self.row_bias_, self.col_bias_ = U[:, 0].copy(), C[:, 0].copy()
            self._lowrank = None

        set_state()
        with self._iterations(max_iter, ("train_rmse", "valid_rmse"), desc="Baseline",
                              what="biases") as run:
            for it in range(1, max_iter + 1):
                # c_j = Σ_i (x_ij − μ − u_i) / (λ_c + |Ω_j|), then the same for u.
                for view, fixed, solved, lam in ((ratings.csc, U, C, lam_cols),
                                                 (ratings.csr, C, U, lam_rows)):
                    size = solved.shape[0]
                    sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
                    _als.half_step(view.indptr, view.indices, view.values, fixed, solved,
                                   mean, lam, True, 0, sse, rsum, status, n_threads)
                set_state()
                train = np.sqrt(max(float(sse.sum()), 0.0) / nnz)
                valid_rmse = self._rmse(valid) if valid is not None else np.nan
                if not run.record(it, train_rmse=train, valid_rmse=valid_rmse):
                    break


register(Baseline)
