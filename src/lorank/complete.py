"""``complete``: the one-line completion API over the estimators."""

from .models.als import ALS
from .models.softimpute import SoftImpute

__all__ = ["complete"]

_METHODS = {"als": ALS, "soft-impute": SoftImpute}


def complete(X, rank, method="als", **params):
    """Complete a partially observed matrix; the one-line API.

    Parameters
    ----------
    X : Ratings, scipy.sparse matrix, or ndarray with NaN for missing
    rank : int
    method : {"als", "soft-impute"}, default="als"
        ``"als"``: :class:`lorank.ALS` (exact alternating least squares, with
        biases by default). ``"soft-impute"``: :class:`lorank.SoftImpute`
        (nuclear-norm regularized, sparse + low rank; cheaper per iteration).
    **params
        Passed to the estimator (e.g. ``reg``, ``max_iter``).

    Returns
    -------
    LowRank
        The completed matrix, biases folded in.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 2)) @ rng.standard_normal((2, 30))
    >>> Y = X.copy(); Y[rng.random(X.shape) > 0.6] = np.nan
    >>> Z = lorank.complete(Y, 2, reg=1e-6, dtype=np.float64, max_iter=50)
    >>> bool(np.abs(Z.to_dense() - X).max() < 1e-2)
    True
    >>> Z = lorank.complete(Y, 2, method="soft-impute", reg=0.0, biases=False,
    ...                     dtype=np.float64, max_iter=500, tol=1e-12, random_state=0)
    >>> bool(np.abs(Z.to_dense() - X).max() < 1e-2)
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
    return _METHODS[method](rank, **params).fit(X).to_lowrank()
