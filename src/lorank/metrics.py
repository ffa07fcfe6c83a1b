"""Accuracy and ranking metrics (leaf functions; ``evaluate`` is in
:mod:`lorank.model_selection`).

Ranking metrics take the top-k item indices of every user (as returned by
``Recommender.recommend_all``, -1 for padding) and the held-out ``Ratings``.
**Relevance**: a test item is relevant to a user when its test rating is
``>= threshold`` (default 4.0, "liked" on a 1-5 scale). Precision, recall and
NDCG are averaged over the users with at least one relevant test item; users
without one are left out (for them every list scores 0 and recall is undefined).
"""

import numpy as np

from .ratings import as_ratings

__all__ = ["rmse", "mae", "precision_at_k", "recall_at_k", "ndcg_at_k", "coverage"]


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}"
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty")
    return y_true, y_pred


def rmse(y_true, y_pred):
    """Root mean squared error.

    >>> rmse([1, 2, 3], [1, 2, 5])
    1.1547005383792515
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean(np.square(y_true - y_pred))))


def mae(y_true, y_pred):
    """Mean absolute error.

    >>> mae([1, 2, 3], [1, 2, 5])
    0.6666666666666666
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def _hits(top, test, k, threshold):
    """(hits m' x k boolean, relevant counts m') for the users with a relevant test item."""
    test = as_ratings(test, name="test")
    top = np.asarray(top)
    if top.ndim != 2 or top.shape[0] != test.shape[0]:
        raise ValueError(
            f"top must have shape (n_users, >= k) = ({test.shape[0]}, ...), got {top.shape}"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if top.shape[1] < k:
        raise ValueError(f"top has {top.shape[1]} items per user, fewer than k={k}")
    if top.dtype.kind not in "iu":
        raise TypeError(f"top must hold item indices (integers), got dtype {top.dtype}")
    if top.size and top.max() >= test.shape[1]:
        raise ValueError(f"top contains item {int(top.max())} but there are "
                         f"{test.shape[1]} items (-1 pads short lists)")
    rows, cols, values = test.coo()
    liked = values >= threshold
    n = test.shape[1]
    relevant = np.bincount(rows[liked], minlength=test.shape[0])
    users = np.flatnonzero(relevant > 0)
    keys = np.sort(rows[liked].astype(np.int64) * n + cols[liked])
    top = top[users, :k].astype(np.int64)
    cand = users[:, None].astype(np.int64) * n + top
    hits = (top >= 0) & np.isin(cand, keys)
    return hits, relevant[users]


def precision_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of (relevant items in the top k) / k.

    Parameters
    ----------
    top : array of int, shape (n_users, >= k)
        Recommended item indices per user, best first (-1 = none).
    test : Ratings
        Held-out ratings of the same shape as the training data.
    k : int, default=10
    threshold : float, default=4.0
        A test item is relevant when its rating is >= threshold.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 0, 1], [1, 2, 0], [5.0, 3.0, 4.0], shape=(2, 3))
    >>> lorank.metrics.precision_at_k(np.array([[1, 2], [2, 1]]), test, k=2)
    0.25
    """
    hits, _ = _hits(top, test, k, threshold)
    return float(hits.sum(axis=1).mean() / k) if len(hits) else float("nan")


def recall_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of (relevant items in the top k) / (relevant test items);
    see :func:`precision_at_k`."""
    hits, relevant = _hits(top, test, k, threshold)
    return float((hits.sum(axis=1) / relevant).mean()) if len(hits) else float("nan")


def ndcg_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of DCG / ideal DCG with binary gains: DCG = Σ over
    relevant items at positions p = 0..k-1 of 1 / log2(p + 2); the ideal puts
    min(k, relevant count) relevant items first. See :func:`precision_at_k`."""
    hits, relevant = _hits(top, test, k, threshold)
    if not len(hits):
        return float("nan")
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = hits @ discount
    ideal = np.cumsum(discount)[np.minimum(relevant, k) - 1]
    return float((dcg / ideal).mean())


def coverage(top, n_items, k=None):
    """Fraction of the ``n_items`` items that appear in at least one user's top k.

    >>> coverage([[0, 1], [1, -1]], 4)
    0.5
    """
    top = np.asarray(top)
    if k is not None:
        top = top[:, :k]
    shown = np.unique(top[top >= 0])
    return len(shown) / n_items


def __getattr__(name):
    # evaluate and EvaluationTable live in lorank.model_selection; the old
    # names keep working.
    if name in ("evaluate", "EvaluationTable"):
        from . import model_selection

        return getattr(model_selection, name)
    raise AttributeError(f"module 'lorank.metrics' has no attribute {name!r}")
