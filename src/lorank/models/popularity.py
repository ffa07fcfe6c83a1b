"""``Popularity``: recommend what most users interacted with (the ranking baseline)."""

import numpy as np

from ._estimator import CompletionModel, check_choice, register
from ..linalg.lowrank import LowRank

__all__ = ["Popularity"]


class Popularity(CompletionModel):
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

    biases = False
    _explicit = False

    def fit(self, X, validation=None, *, columns=None):
        """Score the items by their observations in ``X`` (users x items: a
        Ratings, a scipy.sparse matrix, a dense array with NaN for missing, or a
        DataFrame with ``columns=(user, item, value)``).

        Returns
        -------
        self
        """
        return super().fit(X, validation, columns=columns)

    def _fit(self, ratings, valid):
        check_choice(self.by, "by", ("count", "sum"))
        if self.by == "count":
            pop = ratings.col_counts.astype(np.float64)
        else:
            rows, cols, values = ratings.coo()
            pop = np.bincount(cols, weights=values.astype(np.float64),
                              minlength=ratings.shape[1])
        self._set(pop.astype(ratings.dtype), ratings.shape[0])
        self._seen = (ratings.csr.indptr, ratings.csr.indices)  # for score: no copy
        return self

    def score(self, X, y=None, *, k=10, metric="ndcg", train=None):
        """NDCG@k on the held-out interactions ``X``, as
        :meth:`lorank.ImplicitALS.score` (see
        :func:`lorank.model_selection.ranking_score`): the baseline's number in
        the same protocol.

        Returns
        -------
        float
        """
        from ..model_selection import ranking_score

        return ranking_score(self, X, k=k, metric=metric, train=train)

    def _set(self, pop, n_users):
        self.popularity_ = pop
        self.factors_ = LowRank(np.ones((n_users, 1), pop.dtype), pop[:, None].copy())
        self.row_bias_ = self.col_bias_ = None
        self.mean_ = 0.0
        self._lowrank = None

    def fold_in_positions(self, cols, values):
        """``Recommender.fold_in``'s hook: every user's factor is 1."""
        return np.ones(1, self.factors_.dtype), 0.0


def _from_arrays(cls, arrays, header, source="file"):
    from ._estimator import from_arrays

    model = from_arrays(cls, arrays, header, source)
    model.popularity_ = model.factors_.right[:, 0].copy()
    return model


register(Popularity, from_arrays=_from_arrays)
