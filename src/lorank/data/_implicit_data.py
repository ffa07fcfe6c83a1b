"""``datasets.synthetic_implicit``: play counts from a known low-rank preference model."""

import numpy as np

from .._validation import as_float_dtype, check_int, check_rank

# The last.fm-360k "user - artist - plays" set: 359,347 users, 160,168 artists
# (MusicBrainz ids), 17,535,655 (user, artist) pairs with a play count.
LASTFM_SHAPE = (359_347, 160_168, 17_535_655)
# User activity is lognormal (a power-law-like tail of heavy listeners).
_USER_SIGMA = 1.0
# Item popularity falls as rank^-_ITEM_EXPONENT (Zipf), in a random item order.
_ITEM_EXPONENT = 1.0
# Each user's taste and each item's audience spread over the rank topics with
# these Dirichlet concentrations (small: a few topics each).
_USER_CONCENTRATION = 0.3
_ITEM_CONCENTRATION = 0.1
# Play counts per pair: lognormal, median _PLAYS_MEDIAN, log-spread _PLAYS_SIGMA,
# raised for items close to the user's taste.
_PLAYS_MEDIAN, _PLAYS_SIGMA, _PLAYS_AFFINITY = 30.0, 1.2, 0.5
# Rounds of redrawing to replace (user, item) pairs drawn twice.
_ROUNDS = 6


def synthetic_implicit(n_users=LASTFM_SHAPE[0], n_items=LASTFM_SHAPE[1],
                       nnz=LASTFM_SHAPE[2], *, rank=10, random_state=0,
                       dtype=np.float32, return_truth=False):
    """Play counts shaped like last.fm-360k, drawn from a low-rank preference model.

    User u listens to item j with probability ``P[u, j] = Σ_z θ_uz φ_zj``, a
    nonnegative rank-``rank`` matrix: θ_u (a Dirichlet draw) is the user's taste
    over ``rank`` topics, and φ_z (each topic's distribution over the items) is
    proportional to the item's popularity times its Dirichlet loading on the topic.
    Popularity follows Zipf's law (``rank^-1``); the number of distinct items per
    user is lognormal (a heavy tail of heavy listeners, at least one item each).
    Each user draws their items from P[u] without repetition, so exactly the
    requested ``nnz`` pairs are distinct (a user who would need nearly every
    item is topped up uniformly from the items left). Each pair's
    play count is lognormal (median ~30), larger for items nearer the user's taste.
    The default size is last.fm-360k's: 359,347 users, 160,168 artists,
    17,535,655 (user, artist) pairs.

    The output is the same for a given ``random_state`` on every machine and
    thread count (numpy's Generator, vectorized; no threads).

    Parameters
    ----------
    n_users, n_items : int, default=359_347, 160_168
        Shape (users x items).
    nnz : int, default=17_535_655
        Number of distinct (user, item) pairs, ``n_users <= nnz <= n_users * n_items``.
    rank : int, default=10
        Number of topics (the nonnegative rank of the preference matrix).
    random_state : int, numpy.random.Generator or None, default=0
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    return_truth : bool, default=False
        Also return the preference model.

    Returns
    -------
    counts : lorank.Ratings
        Play counts (integers >= 1 as floats), users x items.
    truth : dict, only if ``return_truth``
        ``"preference"``: a :class:`lorank.LowRank` whose entries are P[u, j]
        (left = θ, n_users x rank; right = φᵀ, n_items x rank), and
        ``"popularity"``: the items' Zipf weights.

    Examples
    --------
    >>> import lorank
    >>> X = lorank.datasets.synthetic_implicit(2000, 500, 30_000, random_state=0)
    >>> X.shape, X.nnz
    ((2000, 500), 30000)
    >>> bool(X.csr.values.min() >= 1), bool((X.row_counts >= 1).all())
    (True, True)
    """
    from ..datasets import _seed_sequence
    from ..linalg.lowrank import LowRank
    from .ratings import Ratings

    m = check_int(n_users, "n_users", minimum=1)
    n = check_int(n_items, "n_items", minimum=1)
    if n > np.iinfo(np.int32).max:
        raise ValueError(f"n_items={n} does not fit the int32 item indices")
    nnz = check_int(nnz, "nnz", minimum=1)
    if not m <= nnz <= m * n:
        raise ValueError(
            f"nnz={nnz} must be between n_users = {m} (one item per user) and "
            f"n_users * n_items = {m * n}"
        )
    rank = check_rank(rank, (m, n))
    dtype = as_float_dtype(dtype)
    rng = np.random.default_rng(_seed_sequence(random_state))

    # Items: Zipf popularity in a random order; topic loadings.
    popularity = np.empty(n)
    popularity[rng.permutation(n)] = np.arange(1, n + 1, dtype=np.float64) ** -_ITEM_EXPONENT
    loading = rng.gamma(_ITEM_CONCENTRATION, size=(n, rank))
    loading /= np.maximum(loading.sum(axis=1, keepdims=True), 1e-300)
    phi = popularity[:, None] * loading  # n x rank, column z ∝ topic z's item weights
    phi /= phi.sum(axis=0, keepdims=True)
    cdf = np.cumsum(phi, axis=0)
    cdf /= cdf[-1]
    # Users: taste and number of distinct items.
    theta = rng.gamma(_USER_CONCENTRATION, size=(m, rank))
    theta /= np.maximum(theta.sum(axis=1, keepdims=True), 1e-300)
    bad = ~(theta.sum(axis=1) > 0.5)  # all-underflow rows: uniform taste
    theta[bad] = 1.0 / rank
    activity = rng.lognormal(0.0, _USER_SIGMA, m)
    target = 1 + rng.multinomial(nnz - m, activity / activity.sum())
    np.minimum(target, n, out=target)  # a user has at most n items
    # Users over capacity hand their excess to the others (rarely needed).
    for _ in range(20):
        short = nnz - int(target.sum())
        room = n - target
        if short == 0 or not room.any():
            break
        target += np.minimum(room, rng.multinomial(short, room / room.sum()))

    keys = np.empty(0, np.int64)
    have = np.zeros(m, np.int64)
    for round_ in range(_ROUNDS):
        want = target - have
        if not want.any():
            break
        # Later rounds oversample (what is missing was drawn twice) and keep the
        # first `want` new distinct pairs of each user, in random order.
        per_topic = rng.multinomial(want << round_, theta)  # m x rank
        draws = []
        for z in range(rank):
            users = np.repeat(np.arange(m, dtype=np.int64), per_topic[:, z])
            items = np.searchsorted(cdf[:, z], rng.random(len(users)), side="right")
            np.minimum(items, n - 1, out=items)
            draws.append(users * n + items)
        del per_topic
        new = _sorted_unique(np.concatenate(draws))
        del draws
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
            new = new[keys[pos] != new]
        new = new[rng.permutation(len(new))]
        new = new[np.argsort(new // n, kind="stable")]
        rows = new // n
        rank_in_row = np.arange(len(new)) - np.searchsorted(rows, rows)
        keys = _sorted_unique(np.concatenate([keys, new[rank_in_row < want[rows]]]))
        del new, rows, rank_in_row
        have = np.bincount(keys // n, minlength=m).astype(np.int64)
    short = np.flatnonzero(have < target)
    if short.size:  # saturated users (nearly every item): top up uniformly
        extra = []
        for u in short.tolist():
            mine = keys[np.searchsorted(keys, u * n):np.searchsorted(keys, (u + 1) * n)] - u * n
            free = np.setdiff1d(np.arange(n), mine, assume_unique=True)
            extra.append(u * n + rng.choice(free, int(target[u] - have[u]), replace=False))
        keys = _sorted_unique(np.concatenate([keys] + extra))
    rows = keys // n
    cols = (keys - rows * n).astype(np.int32)
    del keys
    indptr = np.zeros(m + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    # Play counts: lognormal, shifted up by the user's affinity for the item
    # (in chunks: theta[rows] at full size would be nnz x rank).
    values = np.empty(len(cols), dtype)
    chunk = 1 << 20
    for a in range(0, len(cols), chunk):
        r, c = rows[a:a + chunk], cols[a:a + chunk]
        affinity = np.einsum("ij,ij->i", theta[r], loading[c])
        log_plays = (np.log(_PLAYS_MEDIAN) + _PLAYS_SIGMA * rng.standard_normal(len(c))
                     + _PLAYS_AFFINITY * np.log(np.maximum(affinity * rank, 1e-3)))
        values[a:a + chunk] = np.maximum(1.0, np.rint(np.exp(log_plays)))
    del rows
    counts = Ratings.from_csr(indptr, cols, values, (m, n))
    if return_truth:
        truth = {"preference": LowRank(theta.astype(dtype), (phi).astype(dtype)),
                 "popularity": popularity}
        return counts, truth
    return counts


def _sorted_unique(a):
    """np.unique of an int64 array by an in-place sort (numpy's hash-based unique
    is many times slower on tens of millions of keys)."""
    a.sort()
    if len(a) > 1:
        a = a[np.concatenate([[True], a[1:] != a[:-1]])]
    return a
