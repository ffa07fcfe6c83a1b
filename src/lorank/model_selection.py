"""Model selection: evaluate, k-fold and per-user splits, time-based splits."""

import numbers

import numpy as np

from .metrics import evaluate
from .ratings import as_ratings

__all__ = ["evaluate", "leave_k_out_split", "user_fraction_split"]


def _order(R, by, random_state):
    """Positions of every user's interactions, users in CSR order, each user's in
    random order (``by="random"``) or oldest first (``by="time"``, ties by
    position); and each position's rank within its user in that order."""
    if by == "random":
        return R._row_shuffle(np.random.default_rng(random_state))
    if by != "time":
        raise ValueError(f'by must be "random" or "time", got {by!r}')
    if R.times is None:
        raise ValueError('by="time" needs timestamps: build the Ratings with times= '
                         "(or a loader / DataFrame time column)")
    counts = R.row_counts
    rowid = np.repeat(np.arange(R.shape[0], dtype=np.int64), counts)
    order = np.lexsort((np.arange(R.nnz), R.times, rowid))
    rank = np.arange(R.nnz, dtype=np.int64) - np.repeat(R.csr.indptr[:-1], counts)
    return order, rank


def leave_k_out_split(ratings, k=1, *, by="random", random_state=None):
    """Hold out ``k`` interactions of every user who has more than ``k``
    (implicit's ``leave_k_out_split``): ``by="random"`` draws them,
    ``by="time"`` takes each user's latest (their Ratings needs ``times``).
    Users with ``k`` or fewer interactions stay whole in train.

    Parameters
    ----------
    ratings : Ratings or any input Ratings accepts (users x items)
    k : int, default=1
    by : {"random", "time"}, default="random"
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    train, test : Ratings
        Same shape and labels; together they partition the interactions.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R = lorank.Ratings([0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 2, 1], np.ones(6),
    ...                    times=[5, 1, 9, 2, 3, 7])
    >>> train, test = lorank.model_selection.leave_k_out_split(R, 1, by="time")
    >>> test.coo()[:2]                       # user 0's latest (item 2), user 1's (item 2)
    (array([0, 1], dtype=int32), array([2, 2], dtype=int32))
    """
    R = as_ratings(ratings, name="ratings")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    order, rank = _order(R, by, random_state)
    counts = np.repeat(R.row_counts, R.row_counts)
    held = (counts > k) & ((rank >= counts - k) if by == "time" else (rank < k))
    test = np.zeros(R.nnz, bool)
    test[order[held]] = True
    return R.take(~test), R.take(test)


def user_fraction_split(ratings, test_size=0.2, *, by="random", random_state=None):
    """Per user, ``round(test_size · count)`` interactions to test (at least one
    on each side for users with two or more; a single one stays in train):
    drawn at random, or each user's latest with ``by="time"``.

    Parameters
    ----------
    ratings : Ratings or any input Ratings accepts (users x items)
    test_size : float in (0, 1), default=0.2
    by : {"random", "time"}, default="random"
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    train, test : Ratings

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R = lorank.Ratings.from_dense(np.arange(20.0).reshape(4, 5))
    >>> train, test = lorank.model_selection.user_fraction_split(R, 0.4, random_state=0)
    >>> test.row_counts, train.row_counts
    (array([2, 2, 2, 2]), array([3, 3, 3, 3]))
    """
    R = as_ratings(ratings, name="ratings")
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    order, rank = _order(R, by, random_state)
    c = R.row_counts
    n_test = np.floor(test_size * c + 0.5).astype(np.int64)
    n_test = np.where(c >= 2, np.clip(n_test, 1, np.maximum(c - 1, 1)), 0)
    counts, n_test = np.repeat(c, c), np.repeat(n_test, c)
    held = (rank >= counts - n_test) if by == "time" else (rank < n_test)
    test = np.zeros(R.nnz, bool)
    test[order[held]] = True
    return R.take(~test), R.take(test)
