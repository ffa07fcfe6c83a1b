"""Accuracy and ranking metrics (leaf functions; ``evaluate`` is in
:mod:`lorank.model_selection`).

Ranking metrics take the top-k item indices of every user (as returned by
``Recommender.recommend_all``, -1 for padding) and the held-out ``Ratings``.
**Relevance**: a test item is relevant to a user when its test rating is
``>= threshold`` (default 4.0, "liked" on a 1-5 scale). Precision, recall and
NDCG are averaged over the users with at least one relevant test item; users
without one are left out (for them every list scores 0 and recall is undefined).
"""

import numbers

import numpy as np

from .data.ratings import as_ratings

__all__ = ["rmse", "mae", "ranking_metrics", "precision_at_k", "recall_at_k", "ndcg_at_k",
           "map_at_k", "hit_rate_at_k", "mrr", "auc_at_k", "coverage"]


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


def _relevant(test, threshold):
    """CSR (indptr int64, sorted indices int32) of each user's relevant test items."""
    indptr, indices, values = test.csr.indptr, test.csr.indices, test.csr.values
    if threshold is None:
        return np.asarray(indptr, np.int64), np.ascontiguousarray(indices, np.int32)
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number or None, got {threshold!r}")
    if np.isnan(threshold):
        raise ValueError("threshold must not be NaN (None: every test item is relevant)")
    liked = values >= threshold
    below = np.zeros(len(liked) + 1, np.int64)
    np.cumsum(liked, out=below[1:])
    rel_indptr = below[indptr]
    return rel_indptr, np.ascontiguousarray(indices[liked], np.int32)


def _check_top(top, n_users, n_items, k):
    top = np.asarray(top)
    if top.ndim != 2 or top.shape[0] != n_users:
        raise ValueError(
            f"top must have shape (n_users, >= k) = ({n_users}, ...), got {top.shape}"
        )
    if top.dtype.kind not in "iu":
        raise TypeError(f"top must hold item indices (integers), got dtype {top.dtype}")
    if k is None:
        k = top.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if top.shape[1] < k:
        raise ValueError(f"top has {top.shape[1]} items per user, fewer than k={k}")
    top = top[:, :k]
    if top.size and top.max() >= n_items:
        raise ValueError(f"top contains item {int(top.max())} but there are "
                         f"{n_items} items (-1 pads short lists)")
    if top.size and top.min() < -1:
        raise ValueError(f"top contains {int(top.min())}: item indices are >= 0, "
                         "and -1 pads short lists")
    return np.ascontiguousarray(top, np.int32), int(k)


def ranking_metrics(top, test, k=10, *, threshold=4.0, train=None, n_threads=None,
                    per_user=False):
    """All ranking metrics of top-k lists in one compiled pass over the users.

    Parameters
    ----------
    top : array of int, shape (n_users, >= k)
        Recommended item indices per user, best first (-1 = none), as
        ``Recommender.recommend_all`` returns them. A list naming an item twice
        is an error.
    test : Ratings
        Held-out interactions, the same shape as the training data.
    k : int, default=10
        Length of the lists scored (the first k columns of ``top``).
    threshold : float or None, default=4.0
        A test item is relevant when its value is ``>= threshold``; ``None``:
        every held-out item is relevant (implicit feedback: plays, clicks).
    train : Ratings, default=None
        The training interactions. Only AUC uses it: a user's candidates are the
        items they did not interact with in training (``recommend_all``'s
        default; a listed training item is then no negative), otherwise all items.
    n_threads : int, default=None
    per_user : bool, default=False
        Also return the per-user values.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``map``, ``ndcg``, ``hit_rate``, ``mrr``,
        ``auc`` averaged over the users with at least one relevant test item
        (NaN if there is none), and ``users`` (their number). With
        ``per_user``, also ``per_user``: an (n_users, 7) array in that column
        order, NaN rows for users without a relevant item.

    Notes
    -----
    With ``hit_p`` = [item at position p is relevant] and T_u the user's relevant
    items: precision = Σ hit_p / k; recall = Σ hit_p / |T_u|; MAP@k averages
    Σ_p hit_p · precision@(p+1) / min(k, |T_u|); NDCG@k = Σ_p hit_p / log2(p + 2)
    over its ideal (all of min(k, |T_u|) relevant items first); hit rate =
    [any hit]; MRR = 1 / (rank of the first hit in the list), 0 without one;
    AUC = probability that a relevant item outranks a non-relevant candidate,
    the items below the list counting as tied (as implicit's ``AUC@k``).

    Examples
    --------
    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 0, 1], [1, 2, 0], [1.0, 1.0, 1.0], shape=(2, 4))
    >>> m = lorank.metrics.ranking_metrics(np.array([[1, 3], [2, 0]]), test, k=2,
    ...                                    threshold=None)
    >>> m["precision"], m["recall"], m["mrr"]
    (0.5, 0.75, 0.75)
    """
    from ._kernels import _rank_metrics
    from ._threads import effective_n_threads

    test = as_ratings(test, name="test")
    m, n = test.shape
    top, k = _check_top(top, m, n, k)
    rel_indptr, rel_indices = _relevant(test, threshold)
    excl_indptr, excl_indices = np.zeros(m + 1, np.int64), np.empty(0, np.int32)
    if train is None:
        n_cand = np.full(m, n, np.int64)
    else:
        train = as_ratings(train, name="train")
        if train.shape != test.shape:
            raise ValueError(f"train has shape {train.shape} but test has shape {test.shape}")
        n_cand = (n - train.row_counts).astype(np.int64)
        excl_indptr = np.asarray(train.csr.indptr, np.int64)
        excl_indices = np.ascontiguousarray(train.csr.indices, np.int32)
    out = np.empty((m, len(_rank_metrics.COLUMNS)))
    status = np.empty(m, np.int32)
    _rank_metrics.user_metrics(top, k, rel_indptr, rel_indices, n_cand, excl_indptr,
                               excl_indices, out, status,
                               effective_n_threads(n_threads))
    bad = np.flatnonzero(status)
    if bad.size:
        u = int(bad[0])
        raise ValueError(f"the list of user {u} names an item twice: "
                         f"{top[u].tolist()}")
    scored = np.diff(rel_indptr) > 0
    result = {"users": int(scored.sum())}
    for c, name in enumerate(_rank_metrics.COLUMNS):
        col = out[scored, c]
        col = col[~np.isnan(col)]
        result[name] = float(col.mean()) if len(col) else float("nan")
    if per_user:
        result["per_user"] = out
    return result


def precision_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of (relevant items in the top k) / k.

    Parameters
    ----------
    top : array of int, shape (n_users, >= k)
        Recommended item indices per user, best first (-1 = none).
    test : Ratings
        Held-out ratings of the same shape as the training data.
    k : int, default=10
    threshold : float or None, default=4.0
        A test item is relevant when its rating is >= threshold (``None``:
        every test item). See :func:`ranking_metrics`.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 0, 1], [1, 2, 0], [5.0, 3.0, 4.0], shape=(2, 3))
    >>> lorank.metrics.precision_at_k(np.array([[1, 2], [2, 1]]), test, k=2)
    0.25
    """
    return ranking_metrics(top, test, k, threshold=threshold)["precision"]


def recall_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of (relevant items in the top k) / (relevant test items);
    see :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 0, 1], [1, 2, 0], [5.0, 4.0, 4.0], shape=(2, 3))
    >>> lorank.metrics.recall_at_k(np.array([[1, 0], [2, 0]]), test, k=2)
    0.75
    """
    return ranking_metrics(top, test, k, threshold=threshold)["recall"]


def ndcg_at_k(top, test, k=10, *, threshold=4.0):
    """Mean over users of DCG / ideal DCG with binary gains: DCG = Σ over
    relevant items at positions p = 0..k-1 of 1 / log2(p + 2); the ideal puts
    min(k, relevant count) relevant items first. See :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0], [1], [5.0], shape=(1, 3))
    >>> round(lorank.metrics.ndcg_at_k(np.array([[0, 1]]), test, k=2), 4)
    0.6309
    """
    return ranking_metrics(top, test, k, threshold=threshold)["ndcg"]


def map_at_k(top, test, k=10, *, threshold=4.0):
    """Mean average precision at k: per user Σ_p [hit at p]·precision@(p+1) /
    min(k, relevant count); see :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 0], [1, 2], [5.0, 5.0], shape=(1, 3))
    >>> lorank.metrics.map_at_k(np.array([[1, 0, 2]]), test, k=3)
    0.8333333333333333
    """
    return ranking_metrics(top, test, k, threshold=threshold)["map"]


def hit_rate_at_k(top, test, k=10, *, threshold=4.0):
    """Fraction of users with at least one relevant item in their top k; see
    :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 1], [1, 2], [5.0, 5.0], shape=(2, 3))
    >>> lorank.metrics.hit_rate_at_k(np.array([[1, 0], [0, 1]]), test, k=2)
    0.5
    """
    return ranking_metrics(top, test, k, threshold=threshold)["hit_rate"]


def mrr(top, test, k=None, *, threshold=4.0):
    """Mean reciprocal rank of the first relevant item in each user's list (0
    when there is none in the first ``k``, default the whole list); see
    :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0, 1], [1, 2], [5.0, 5.0], shape=(2, 3))
    >>> lorank.metrics.mrr(np.array([[1, 0], [0, 2]]), test)
    0.75
    """
    return ranking_metrics(top, test, k, threshold=threshold)["mrr"]


def auc_at_k(top, test, k=10, *, threshold=4.0, train=None):
    """Mean over users of the probability that a relevant item ranks above a
    non-relevant candidate, the items below the top k counting as tied;
    ``train`` removes each user's training items from the candidates. See
    :func:`ranking_metrics`.

    >>> import numpy as np, lorank
    >>> test = lorank.Ratings([0], [1], [5.0], shape=(1, 4))
    >>> lorank.metrics.auc_at_k(np.array([[1, 0]]), test, k=2)
    1.0
    """
    return ranking_metrics(top, test, k, threshold=threshold, train=train)["auc"]


def coverage(top, n_items, k=None):
    """Catalogue coverage: the fraction of the ``n_items`` items that appear in
    at least one user's top k (default: the whole list).

    >>> coverage([[0, 1], [1, -1]], 4)
    0.5
    """
    top = np.asarray(top)
    if top.ndim != 2:
        raise ValueError(f"top must be 2-D (n_users, k), got shape {top.shape}")
    if k is not None:
        top = top[:, :k]
    if top.size and top.max() >= n_items:
        raise ValueError(f"top contains item {int(top.max())} but there are {n_items} items")
    shown = np.bincount(top[top >= 0].ravel(), minlength=n_items)
    return int(np.count_nonzero(shown)) / n_items


def __getattr__(name):
    # evaluate and EvaluationTable live in lorank.model_selection; the old
    # names keep working.
    if name in ("evaluate", "EvaluationTable"):
        from . import model_selection

        return getattr(model_selection, name)
    raise AttributeError(f"module 'lorank.metrics' has no attribute {name!r}")
