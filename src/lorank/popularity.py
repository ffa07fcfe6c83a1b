"""``Popularity``: recommend what most users interacted with (the ranking baseline)."""

import numpy as np

from ._estimator import register, training_data
from ._validation import as_float_dtype
from .lowrank import LowRank

__all__ = ["Popularity"]


class Popularity:
    """Scores every item by its popularity in the training data, the same for all users.

    The baseline a recommender must beat: ``Recommender(Popularity())`` ranks a
    user's unseen items by how many users interacted with them (``by="count"``)
    or by the sum of their values (``by="sum"``, e.g. total plays). As a model
    it is the rank-1 score matrix ``1 · popularityᵀ`` (``to_lowrank()``).

    Parameters
    ----------
    by : {"count", "sum"}, default="count"
        ``"count"``: number of observations of the item; ``"sum"``: sum of their
        values.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32

    Attributes
    ----------
    popularity_ : ndarray, shape (n_items,)
        The item scores.
    factors_ : LowRank
        Ones (n_users x 1) and the scores (n_items x 1).

    Examples
    --------
    >>> import lorank
    >>> R = lorank.Ratings.from_labels(["a", "b", "b", "c"], ["x", "x", "y", "z"],
    ...                                [1, 1, 1, 1])
    >>> rec = lorank.Recommender(lorank.Popularity()).fit(R)
    >>> rec.recommend("c", n=2)[0].tolist()      # x (2 users) before y (1)
    ['x', 'y']
    """

    def __init__(self, *, by="count", dtype=np.float32):
        self.by = by
        self.dtype = dtype

    def fit(self, X, validation=None):
        """Count the items' observations in ``X`` (users x items; a Ratings,
        a scipy.sparse matrix, or a dense array with NaN for missing).

        Returns
        -------
        self
        """
        if self.by not in ("count", "sum"):
            raise ValueError(f'by must be "count" or "sum", got {self.by!r}')
        dtype = as_float_dtype(self.dtype)
        ratings, _ = training_data(X, validation, dtype)
        if self.by == "count":
            pop = ratings.col_counts.astype(np.float64)
        else:
            rows, cols, values = ratings.coo()
            pop = np.bincount(cols, weights=values.astype(np.float64),
                              minlength=ratings.shape[1])
        self._set(pop.astype(dtype), ratings.shape[0])
        return self

    def _set(self, pop, n_users):
        self.popularity_ = pop
        self.factors_ = LowRank(np.ones((n_users, 1), pop.dtype), pop[:, None].copy())

    def to_lowrank(self):
        """The score matrix ``1 · popularityᵀ`` as a rank-1 LowRank."""
        if not hasattr(self, "factors_"):
            raise AttributeError("this Popularity model is not fitted yet; call fit first")
        return self.factors_

    def predict(self, rows, cols):
        """The items' popularity at ``(rows[t], cols[t])`` (positions)."""
        return self.to_lowrank().entries(rows, cols)

    def get_params(self, deep=True):
        return {"by": self.by, "dtype": self.dtype}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in ("by", "dtype"):
                raise ValueError(f"invalid parameter {k!r} for Popularity")
            setattr(self, k, v)
        return self

    def __repr__(self):
        return f"Popularity(by={self.by!r})" if self.by != "count" else "Popularity()"


def _from_arrays(cls, arrays, header, source="file"):
    from ._estimator import from_arrays

    model = from_arrays(cls, arrays, header, source)
    model.popularity_ = model.factors_.right[:, 0].copy()
    return model


register(Popularity, from_arrays=_from_arrays)
