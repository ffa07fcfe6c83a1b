"""Model selection: ``evaluate``, k-fold, per-user and time-based splits.

Every splitter is a class with scikit-learn's splitter protocol
(``split(X, y=None, groups=None)``, ``get_n_splits``), so it is the ``cv=`` of
``sklearn.model_selection.cross_val_score`` and ``GridSearchCV`` on a lorank
model, and a function that returns ``Ratings``:

==========================  ===========================  ================================
splitter (``cv=``)          function                     test set
==========================  ===========================  ================================
:class:`KFold`              :func:`kfold`                fold f of k (random or per user)
:class:`PerUserSplit`       :func:`per_user_split`       a fraction of every user's ratings
:class:`LeaveKOut`          :func:`leave_k_out`          k ratings of every user (random or latest)
:class:`TimeSplit`          :func:`time_split`           the latest ratings (overall or per user)
==========================  ===========================  ================================

**Samples.** scikit-learn counts the samples of ``X`` by ``X.shape[0]``; for
a ``Ratings`` that is the number of users, so scikit-learn's own splitters
would split users. On a ``Ratings`` these splitters yield rating positions
(:class:`~lorank.data.ratings.ObservationIndex`) and ``Ratings[positions]`` takes
them; scikit-learn's splitters on a ``Ratings`` raise a ``TypeError`` that
says so. In the regression form (``X`` an (n, 2) array of (user, item) labels,
``y`` the ratings, see :func:`to_pairs`) a sample is one rating and any
scikit-learn splitter works; these splitters work there too (per user by the
first column).

Examples
--------
>>> import lorank
>>> from lorank.model_selection import KFold, per_user_split
>>> R, _ = lorank.datasets.synthetic(200, 50, 3000, rank=2, random_state=0)
>>> train, test = per_user_split(R, 0.2, random_state=0)
>>> bool((test.row_counts <= train.row_counts).all())
True
>>> [test.nnz for _, test in lorank.model_selection.kfold(R, 3)]
[1000, 1000, 1000]
"""

import re
import time

import numpy as np

from .models._estimator import check_int, check_random_state, check_real
from .metrics import coverage, mae, ranking_metrics, rmse
from .data.ratings import ObservationIndex, Ratings, _encode, as_ratings

__all__ = ["EvaluationTable", "KFold", "LeaveKOut", "PerUserSplit", "TimeSplit", "evaluate",
           "kfold", "leave_k_out", "per_user_split", "ranking_score", "time_split", "to_pairs"]


def to_pairs(ratings):
    """``(X, y)``: the regression form of ``ratings`` for scikit-learn.

    ``X`` is an (nnz, 2) array of (user label, item label) in ``coo()`` order
    (object dtype when the labels differ in type), ``y`` the ratings.

    Examples
    --------
    >>> import lorank
    >>> R = lorank.Ratings.from_labels(["ann", "bob"], [7, 9], [4.0, 5.0])
    >>> X, y = lorank.model_selection.to_pairs(R)
    >>> X.tolist(), y.tolist()
    ([['ann', 7], ['bob', 9]], [4.0, 5.0])
    """
    R = as_ratings(ratings, name="ratings")
    rows, cols, values = R.coo()
    users = R.label_index(0).labels[rows]
    items = R.label_index(1).labels[cols]
    if users.dtype == items.dtype and users.dtype.kind in "iu":
        X = np.column_stack([users, items])
    else:
        X = np.empty((len(values), 2), dtype=object)
        X[:, 0], X[:, 1] = users.tolist(), items.tolist()
    return X, np.array(values)


# ---------------------------------------------------------------- splitters


class _Splitter:
    """scikit-learn's splitter protocol over the ratings of a Ratings or pairs."""

    n_splits = 1

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of (train, test) splits."""
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """(train, test) positions: :class:`ObservationIndex` into a ``Ratings``
        (``X[train]`` takes them), plain indices into the rows of an (n, 2)
        array of (user, item) pairs."""
        if isinstance(X, Ratings):
            rows = X.coo()[0]
            view = _View(X, np.asarray(rows, np.int64), X.times, X.nnz)
            wrap = ObservationIndex
        else:
            pairs = np.asarray(X) if not hasattr(X, "iloc") else X.to_numpy()
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise TypeError(
                    f"{type(self).__name__}.split takes a lorank.Ratings or an (n, 2) array of "
                    f"(user, item) labels, got {type(X).__name__} of shape "
                    f"{getattr(pairs, 'shape', None)}"
                )
            users = np.asarray(_encode(pairs[:, 0], "users")[0], np.int64)
            view = _View(None, users, None, len(pairs))
            wrap = np.asarray
        for test in self._test_masks(view):
            yield wrap(np.flatnonzero(~test)), wrap(np.flatnonzero(test))

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _View:
    """What a splitter reads: per rating its user code (grouped or not) and time."""

    def __init__(self, ratings, users, times, n):
        self.ratings, self.users, self.times, self.n = ratings, users, times, n


class KFold(_Splitter):
    """k folds of the ratings (scikit-learn's ``cv=``); see :func:`kfold`.

    Parameters
    ----------
    n_splits : int, default=5
    by : {"random", "row"}, default="random"
        ``"random"``: a random permutation dealt into k folds. ``"row"``:
        every user's ratings dealt across the folds, so each fold holds about
        1/k of every user (as ``Ratings.kfold(by="row")``).
    random_state : int, default=0
        The same seed gives the same folds as ``Ratings.kfold``.

    Examples
    --------
    >>> import lorank
    >>> from sklearn.model_selection import cross_val_score      # doctest: +SKIP
    >>> R, _ = lorank.datasets.synthetic(200, 50, 3000, rank=2, random_state=0)
    >>> cv = lorank.model_selection.KFold(3)
    >>> [len(test) for train, test in cv.split(R)]
    [1000, 1000, 1000]
    """

    def __init__(self, n_splits=5, *, by="random", random_state=0):
        self.n_splits = n_splits
        self.by = by
        self.random_state = random_state

    def _test_masks(self, view):
        k = check_int(self.n_splits, "n_splits", minimum=2)
        check_random_state(self.random_state)
        if view.ratings is not None:
            fold = view.ratings._folds(k, self.random_state, self.by)
        else:
            if not k <= view.n:
                raise ValueError(f"n_splits={k} exceeds the {view.n} ratings")
            rng = np.random.default_rng(self.random_state)
            fold = np.empty(view.n, np.int64)
            if self.by == "random":
                fold[rng.permutation(view.n)] = np.arange(view.n) % k
            elif self.by == "row":
                rank, counts = _per_user_rank(view.users, rng.random(view.n))
                start = rng.integers(0, k, size=len(counts))
                fold = (rank + start[view.users]) % k
            else:
                raise ValueError(f'by must be "random" or "row", got {self.by!r}')
        for f in range(k):
            yield fold == f


class PerUserSplit(_Splitter):
    """One split holding out a fraction of every user's ratings; see
    :func:`per_user_split`."""

    def __init__(self, test_size=0.2, *, random_state=0):
        self.test_size = test_size
        self.random_state = random_state

    def _test_masks(self, view):
        size = _check_fraction(self.test_size)
        check_random_state(self.random_state)
        rng = np.random.default_rng(self.random_state)
        rank, counts = _per_user_rank(view.users, rng.random(view.n))
        n_test = np.floor(size * counts + 0.5).astype(np.int64)
        n_test = np.where(counts >= 2, np.clip(n_test, 1, np.maximum(counts - 1, 1)), 0)
        yield rank < n_test[view.users]


class LeaveKOut(_Splitter):
    """One split holding out ``k`` ratings of every user with more than ``k``;
    see :func:`leave_k_out`."""

    def __init__(self, k=1, *, latest=False, random_state=0):
        self.k = k
        self.latest = latest
        self.random_state = random_state

    def _test_masks(self, view):
        k = check_int(self.k, "k", minimum=1)
        if self.latest:
            rank, counts = _per_user_rank(view.users, _latest_first(view))
        else:
            check_random_state(self.random_state)
            rng = np.random.default_rng(self.random_state)
            rank, counts = _per_user_rank(view.users, rng.random(view.n))
        yield (rank < k) & (counts[view.users] > k)


class TimeSplit(_Splitter):
    """One split by time: the latest ratings are the test set; see
    :func:`time_split`."""

    def __init__(self, test_size=0.2, *, per_user=False):
        self.test_size = test_size
        self.per_user = per_user

    def _test_masks(self, view):
        size = _check_fraction(self.test_size)
        key = _latest_first(view)
        if not self.per_user:
            n_test = int(np.ceil(size * view.n))
            if n_test >= view.n:
                raise ValueError(f"test_size={size} of {view.n} ratings leaves no training data")
            test = np.zeros(view.n, bool)
            test[np.lexsort((np.arange(view.n), key))[:n_test]] = True
            yield test
            return
        rank, counts = _per_user_rank(view.users, key)
        n_test = np.floor(size * counts + 0.5).astype(np.int64)
        n_test = np.where(counts >= 2, np.clip(n_test, 1, np.maximum(counts - 1, 1)), 0)
        yield rank < n_test[view.users]


def _latest_first(view):
    """A sort key putting each rating's later times first."""
    if view.times is None:
        raise ValueError(
            "a time-based split needs timestamps: a Ratings with times (loaders keep a "
            "timestamp column; Ratings(..., times=...), Ratings.from_pandas(df, time=...))"
        )
    t = view.times
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").astype(np.int64)
    return -np.asarray(t, np.float64) if t.dtype.kind == "f" else -np.asarray(t, np.int64)


def _per_user_rank(users, key):
    """Each rating's rank within its user in ``key`` order (ties by position),
    and the ratings per user."""
    n = len(users)
    order = np.lexsort((np.arange(n), key, users))
    counts = np.bincount(users, minlength=int(users.max()) + 1 if n else 0)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    return rank, counts


def _check_fraction(size):
    size = check_real(size, "test_size")
    if not 0 < size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {size}")
    return size


def _one(splitter, ratings):
    R = as_ratings(ratings, name="ratings")
    train, test = next(iter(splitter.split(R)))
    return R.take(np.asarray(train)), R.take(np.asarray(test))


def kfold(ratings, k=5, *, by="random", random_state=0):
    """``k`` (train, test) ``Ratings`` whose test sets partition the ratings
    (``Ratings.kfold``).

    Parameters
    ----------
    ratings : Ratings or any input Ratings accepts
    k : int, default=5
    by : {"random", "row"}, default="random"
    random_state : int, default=0

    Returns
    -------
    generator of (Ratings, Ratings)
    """
    return as_ratings(ratings, name="ratings").kfold(k, random_state=random_state, by=by)


def per_user_split(ratings, test_size=0.2, *, random_state=0):
    """(train, test): ``round(test_size · count)`` random ratings of every user in
    test, but a user with at least two ratings keeps one on each side and a
    user with one stays in train.

    Returns
    -------
    train, test : Ratings
    """
    return _one(PerUserSplit(test_size, random_state=random_state), ratings)


def leave_k_out(ratings, k=1, *, latest=False, random_state=0):
    """(train, test): ``k`` ratings of every user with more than ``k`` in test
    (random ones, or with ``latest=True`` the ``k`` latest by ``times``, the
    "leave-last-out" protocol); users with ``k`` or fewer stay in train.

    Examples
    --------
    >>> import lorank
    >>> R = lorank.Ratings([0, 0, 0, 1], [0, 1, 2, 0], [1.0, 2, 3, 4], times=[5, 9, 7, 1])
    >>> train, test = lorank.model_selection.leave_k_out(R, 1, latest=True)
    >>> test.coo()[1].tolist(), train.row_counts.tolist()
    ([1], [2, 1])
    """
    return _one(LeaveKOut(k, latest=latest, random_state=random_state), ratings)


def time_split(ratings, test_size=0.2, *, per_user=False):
    """(train, test) by time: the latest ``ceil(test_size · nnz)`` ratings in test
    (``per_user=True``: the latest ``round(test_size · count)`` of every user,
    one kept on each side as :func:`per_user_split`). Needs ``ratings.times``.

    Returns
    -------
    train, test : Ratings
    """
    return _one(TimeSplit(test_size, per_user=per_user), ratings)


# ---------------------------------------------------------------- evaluate

_RANKING_SCORES = ("precision", "recall", "map", "ndcg", "hit_rate", "mrr", "auc")


def ranking_score(model, X, *, k=10, metric="ndcg", train=None):
    """A ranking metric of a fitted model's top-k lists on held-out interactions.

    The ``score`` of implicit-feedback models (``ImplicitALS``, ``Popularity``),
    greater is better, as scikit-learn's ``cross_val_score`` and ``GridSearchCV``
    expect. Every user of ``X`` gets the top ``k`` items among those they did not
    interact with in training, and every positive held-out interaction counts
    as relevant (see :func:`lorank.metrics.ranking_metrics`); the mean over the
    users with one is returned.

    Parameters
    ----------
    model : fitted estimator
    X : Ratings or any input Ratings accepts
        Held-out interactions, by the labels the model was fitted on (by
        positions when unlabelled). Entries with a user or item the model was
        not fitted on are left out (it has no factor to rank them by), as are
        stored zeros (no interaction).
    k : int, default=10
    metric : {"ndcg", "precision", "recall", "map", "hit_rate", "mrr", "auc"}, default="ndcg"
    train : Ratings, default=None
        The training interactions (whose items are not recommended). ``None``:
        the ones the model was fitted on, which it remembers (the pattern, not
        a copy) until ``partial_fit`` or ``save``/``load``.

    Returns
    -------
    float
        NaN when no user of ``X`` has a positive interaction the model can rank.

    Examples
    --------
    >>> import lorank
    >>> X = lorank.datasets.synthetic_implicit(500, 200, 8_000, random_state=0)
    >>> train, test = X.split(0.2, random_state=0, by="row")
    >>> model = lorank.ImplicitALS(8, random_state=0).fit(train)
    >>> ndcg = model.score(test)                 # ranking_score(model, test)
    >>> top, _ = lorank.Recommender.from_model(model, train).recommend_all_positions(10)
    >>> m = lorank.metrics.ranking_metrics(top, test, 10, threshold=None, train=train)
    >>> bool(ndcg == m["ndcg"]), bool(model.score(test, metric="auc") == m["auc"])
    (True, True)
    """
    from .models._estimator import check_choice, check_fitted
    from .recommend import Recommender

    check_fitted(model)
    k = check_int(k, "k", minimum=1)
    check_choice(metric, "metric", _RANKING_SCORES)
    m, n = len(model.factors_.left), len(model.factors_.right)
    if train is None:
        seen = getattr(model, "_seen", None)
        if seen is None or len(seen[0]) != m + 1:
            raise ValueError(
                f"this {type(model).__name__} does not know its training interactions "
                "(it was loaded from a file or partially refitted): pass train=, the "
                "interactions it was fitted on")
        indptr, indices = seen
        train = Ratings.from_csr(indptr, indices, np.ones(len(indices), np.float32), (m, n))
    else:
        train = as_ratings(train, name="train")
        rows, cols = model._positions_of(train)
        keep = (rows >= 0) & (cols >= 0)
        train = Ratings(rows[keep], cols[keep], np.ones(int(keep.sum()), np.float32), (m, n))
    R = as_ratings(X, name="X")
    rows, cols = model._positions_of(R)
    keep = (rows >= 0) & (cols >= 0) & (R.coo()[2] > 0)
    test = Ratings(rows[keep], cols[keep], np.ones(int(keep.sum()), np.float32), (m, n))
    top = Recommender.from_model(model, train).recommend_all_positions(k)[0]
    if top.shape[1] < k:  # fewer items than k: pad
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])), constant_values=-1)
    return float(ranking_metrics(top, test, k, threshold=None, train=train)[metric])


_METRIC = re.compile(
    r"^(rmse|mae|precision|recall|ndcg|map|hit_rate|mrr|auc|coverage)(?:@(\d+))?$")
# The defaults of evaluate: rating and ranking metrics for explicit ratings,
# ranking metrics (every held-out interaction relevant) for implicit feedback.
_EXPLICIT_METRICS = ("rmse", "mae", "precision@10", "ndcg@10")
_IMPLICIT_METRICS = ("precision@10", "recall@10", "map@10", "ndcg@10", "auc@10")


class EvaluationTable:
    """Cross-validation results: one row per metric with mean, std and the
    per-fold values. ``print(table)`` shows it; ``to_dict()`` returns
    ``{metric: {"mean", "std", "folds"}}``."""

    def __init__(self, folds, title=""):
        self.folds = folds  # {metric: [value per fold]}
        self.title = title

    def to_dict(self):
        return {name: {"mean": float(np.mean(v)), "std": float(np.std(v)),
                       "folds": [float(x) for x in v]}
                for name, v in self.folds.items()}

    def __getitem__(self, name):
        return self.to_dict()[name]

    def __str__(self):
        width = max(len(name) for name in self.folds)
        lines = [self.title] if self.title else []
        lines.append(f"{'metric':<{width}}  {'mean':>9}  {'std':>8}")
        for name, row in self.to_dict().items():
            lines.append(f"{name:<{width}}  {row['mean']:>9.4f}  ±{row['std']:>7.4f}")
        return "\n".join(lines)

    __repr__ = __str__


def evaluate(model, ratings, *, folds=5, metrics=None, threshold="auto", random_state=0,
             cv=None):
    """Cross-validation of a model (or a Recommender's model).

    Each split fits a fresh copy of the model on the training ratings (the
    same parameters) and scores the held-out ones: ``rmse`` and ``mae`` on
    their ratings; ``precision@k``, ``recall@k``, ``ndcg@k`` on each user's top
    k among the items they did not rate in training (relevance: test rating
    ``>= threshold``, see :mod:`lorank.metrics`); ``coverage@k`` the fraction
    of items in someone's top k. ``fit_seconds`` is always added. Ctrl-C stops
    it (the ``KeyboardInterrupt`` propagates; no table mixes a cut-short fit
    with full ones).

    Parameters
    ----------
    model : estimator or Recommender
        Unfitted or fitted; it is copied, never refitted in place.
    ratings : Ratings or any input Ratings accepts
    folds : int, default=5
        k of the k-fold split (``KFold(folds, random_state=random_state)``).
    metrics : sequence of str, default=None
        Any of rmse, mae, precision@k, recall@k, ndcg@k, map@k, hit_rate@k,
        mrr@k, auc@k, coverage@k. ``None`` chooses by the model: for rating
        models ("rmse", "mae", "precision@10", "ndcg@10"); for implicit-feedback
        models (``ImplicitALS``, ``Popularity``) the ranking metrics
        ("precision@10", "recall@10", "map@10", "ndcg@10", "auc@10").
    threshold : float, None or "auto", default="auto"
        Relevance of a held-out item (see :func:`lorank.metrics.ranking_metrics`);
        ``"auto"``: 4.0 for rating models, None (every held-out interaction)
        for implicit-feedback models.
    random_state : int, default=0
        Seed of the fold assignment (``Ratings.kfold``).
    cv : splitter, default=None
        Any splitter of this module instead of the k folds (e.g.
        ``TimeSplit(0.1)``, ``LeaveKOut(1)``).

    Returns
    -------
    EvaluationTable

    Examples
    --------
    >>> import lorank
    >>> R, _ = lorank.datasets.synthetic(300, 100, 6000, rank=3, random_state=0)
    >>> table = lorank.evaluate(lorank.ALS(3, random_state=0), R, folds=3)
    >>> sorted(table.to_dict())
    ['fit_seconds', 'mae', 'ndcg@10', 'precision@10', 'rmse']
    """
    from .recommend import Recommender

    if isinstance(model, Recommender):
        model = model.model_ if hasattr(model, "model_") else model.model
    explicit = getattr(model, "_explicit", True) if model is not None else True
    if metrics is None:
        metrics = _EXPLICIT_METRICS if explicit else _IMPLICIT_METRICS
    if isinstance(threshold, str) and threshold == "auto":
        threshold = 4.0 if explicit else None
    parsed = []
    for name in metrics:
        match = _METRIC.match(str(name))
        if match is None or (match.group(1) in ("rmse", "mae")) == bool(match.group(2)):
            raise ValueError(
                f"unknown metric {name!r}: use rmse, mae, or precision@k, recall@k, "
                "ndcg@k, map@k, hit_rate@k, mrr@k, auc@k, coverage@k"
            )
        if not explicit and match.group(1) in ("rmse", "mae"):
            raise ValueError(
                f"metric {name!r} compares predicted ratings with held-out ones, but "
                f"{type(model).__name__} scores implicit feedback (its scores are "
                "preferences, not ratings): use ranking metrics such as precision@10, "
                "ndcg@10, auc@10")
        parsed.append((str(name), match.group(1), int(match.group(2) or 0)))
    ratings = as_ratings(ratings, name="ratings")
    if cv is None:
        cv = KFold(folds, random_state=random_state)
        described = f"{folds}-fold cross-validation"
    else:
        if not hasattr(cv, "split"):
            raise TypeError(f"cv must be a lorank.model_selection splitter, got {cv!r}")
        described = f"{cv!r}"
    k_max = max([k for _, _, k in parsed] + [0])
    results = {name: [] for name, _, _ in parsed}
    results["fit_seconds"] = []
    name = type(model).__name__ if model is not None else "ALS"
    for train_idx, test_idx in cv.split(ratings):
        train, test = ratings.take(np.asarray(train_idx)), ratings.take(np.asarray(test_idx))
        start = time.perf_counter()
        rec = Recommender(model).fit(train)  # fits a copy of model; Ctrl-C propagates
        results["fit_seconds"].append(time.perf_counter() - start)
        name = type(rec.model_).__name__
        rows, cols, values = test.coo()
        pred = rec.model_.predict_positions(rows, cols) if any(
            kind in ("rmse", "mae") for _, kind, _ in parsed) else None
        top = rec.recommend_all_positions(k_max)[0] if k_max else None
        if top is not None and top.shape[1] < k_max:  # fewer items than k: pad
            top = np.pad(top, ((0, 0), (0, k_max - top.shape[1])), constant_values=-1)
        ranked = {}
        for metric, kind, k in parsed:
            if kind == "rmse":
                value = rmse(values, pred)
            elif kind == "mae":
                value = mae(values, pred)
            elif kind == "coverage":
                value = coverage(top, ratings.shape[1], k)
            else:
                if k not in ranked:  # one compiled pass gives every ranking metric
                    ranked[k] = ranking_metrics(top, test, k, threshold=threshold, train=train)
                value = ranked[k][kind]
            results[metric].append(value)
    title = f"{described} of {name} on {ratings!r}"
    return EvaluationTable(results, title)
