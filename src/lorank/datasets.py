"""Data sets: a deterministic Netflix-shaped generator of ratings, and readers
of real rating files (MovieLens, Netflix Prize, any delimited file; see
:mod:`lorank.data.loaders`)."""

import numbers

import numpy as np

from ._kernels import _synthetic
from ._threads import effective_n_threads
from ._validation import as_float_dtype, check_int, check_rank
from .data.loaders import (
    Dataset,
    detect_format,
    load_csv,
    load_movielens,
    load_netflix,
    load_ratings,
    load_titles,
    write_netflix_format,
)
from .linalg.lowrank import LowRank
from .data._implicit_data import synthetic_implicit

__all__ = ["Dataset", "best_prediction", "detect_format", "load_csv", "load_movielens",
           "load_netflix", "load_ratings", "load_titles", "synthetic", "synthetic_drift",
           "synthetic_implicit",
           "write_netflix_format"]

# The shape of the default model, calibrated on the Netflix Prize training set
# (480,189 users, 17,770 movies, 100,480,507 ratings 1..5).
# User activity is lognormal: median/mean = exp(-sigma^2 / 2) = 96 / 209.
_ROW_SIGMA = 1.25
# Item popularity is lognormal with spread _COL_SIGMA, levelling off above
# _COL_SATURATION standard deviations: top movie ~200k ratings, median ~600,
# thousands of movies under 100.
_COL_SIGMA = 2.6
_COL_SATURATION = 2.8
# ... and not below _COL_FLOOR standard deviations (so few columns are empty).
_COL_FLOOR = -2.0
# No row holds more than this share of the columns (Netflix's busiest user
# rated 99% of the movies), unless nnz needs more.
_ROW_CAP = 0.99
# Values on the 1..5 scale: mean, std of user and item biases, std of <p_i, q_j>.
# With noise 0.5, rounded and clipped: mean ~3.6, std ~1.1 (Netflix: 3.60, 1.08).
_MEAN, _ROW_BIAS_STD, _COL_BIAS_STD, _DOT_STD = 3.68, 0.45, 0.55, 0.88


def synthetic(n_rows=480_189, n_cols=17_770, nnz=100_480_507, *, rank=10, noise=0.5,
              biases=True, popularity="zipf", scale=(1, 5), random_state=0,
              dtype=np.float32, n_threads=None, return_truth=False):
    """Netflix-shaped ratings drawn from a known low-rank model.

    Each observed value is ``mean + row_bias[i] + col_bias[j] + <p_i, q_j> +
    noise * N(0, 1)``, rounded to an integer and clipped to ``scale`` when a
    scale is given. Exactly ``nnz`` distinct (row, column) pairs are observed.
    With ``popularity="zipf"`` both rows and columns are skewed like the
    Netflix Prize data: per-row counts are lognormal (at full size median ~96,
    mean ~209, at least one rating per row when ``nnz >= n_rows``), and each
    row draws its distinct columns one by one in proportion to a lognormal
    item popularity (top column ~200k observations, median ~600, thousands
    under 100). The defaults reproduce the Netflix training set's size and,
    with ``noise=0.5``, its rating histogram (mean ~3.6, std ~1.1).

    The output is identical for a given ``random_state`` whatever
    ``n_threads``. The full default size takes well under a minute on two
    cores; the result (CSR and CSC views) needs about 1.6 GB in float32.

    Parameters
    ----------
    n_rows, n_cols : int, default=480_189, 17_770
        Shape of the rating matrix (users x items).
    nnz : int, default=100_480_507
        Number of observed entries, ``1 <= nnz <= n_rows * n_cols``.
    rank : int, default=10
        Rank of the true interaction term ``<p_i, q_j>``; its variance does
        not depend on the rank.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to each observation.
    biases : bool, default=True
        Draw row and column biases; ``False`` sets them to zero (the global
        mean is kept).
    popularity : {"zipf", "uniform"}, default="zipf"
        ``"zipf"``: skewed rows and columns as described above.
        ``"uniform"``: all rows and columns alike: multinomial row counts
        (at most ``n_cols``), each row's columns a uniformly random subset.
    scale : (int, int) or None, default=(1, 5)
        Round values to integers and clip them to ``[lo, hi]``. The model is
        stretched linearly from 1..5 to ``lo..hi`` (the noise is not).
        ``None`` keeps the real values of the 1..5 model, unrounded.
    random_state : int, numpy.random.Generator or None, default=0
        Seed. ``None`` draws fresh entropy (not reproducible).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Dtype of the values and of the true factors and biases.
    n_threads : int, default=None
        Threads to use (``None``: all usable cores). Does not change the result.
    return_truth : bool, default=False
        Also return the true model.

    Returns
    -------
    ratings : lorank.Ratings
        The observations, shape ``(n_rows, n_cols)``.
    noise_floor : float
        RMSE, on the returned observations, of the best possible prediction
        given the true model: the expected value of each observation given
        its true signal, under the noise, rounding and clipping (see
        :func:`best_prediction`). No predictor scores lower in expectation.
        Without a scale it is the RMSE of the signal itself (about
        ``noise``); with one, rounding adds error and clipping removes some,
        and the signal itself scores higher than the floor.
    truth : dict, only if ``return_truth``
        ``"mean"`` (float), ``"row_bias"`` (n_rows,), ``"col_bias"``
        (n_cols,), ``"factors"`` (a :class:`lorank.LowRank` with ``left`` the
        p_i and ``right`` the q_j), ``"noise"`` and ``"scale"`` (``(lo, hi)``
        or ``None``). The true signal of entry (i, j) is
        ``mean + row_bias[i] + col_bias[j] + factors.entries(i, j)``.

    Examples
    --------
    >>> import lorank
    >>> X, floor = lorank.datasets.synthetic(1000, 300, 20_000, random_state=1)
    >>> X.shape, X.nnz
    ((1000, 300), 20000)
    >>> sorted(set(X.csr.values.tolist()))
    [1.0, 2.0, 3.0, 4.0, 5.0]
    >>> 0.5 < floor < 0.7
    True
    """
    from .data.ratings import Ratings

    indptr, indices, values, noise_floor, truth = _generate(
        n_rows, n_cols, nnz, rank=rank, noise=noise, biases=biases,
        popularity=popularity, scale=scale, random_state=random_state, dtype=dtype,
        n_threads=n_threads)
    ratings = Ratings.from_csr(indptr, indices, values, truth["factors"].shape)
    if return_truth:
        return ratings, noise_floor, truth
    return ratings, noise_floor


def _generate(n_rows, n_cols, nnz, *, rank, noise, biases, popularity, scale,
              random_state, dtype, n_threads):
    """The arrays behind :func:`synthetic`: CSR ``indptr`` (int64), ``indices``
    (int32, increasing in each row), ``values``, the noise floor and the truth."""
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_cols = check_int(n_cols, "n_cols", minimum=1)
    if n_cols > np.iinfo(np.int32).max:
        raise ValueError(f"n_cols={n_cols} does not fit the int32 column indices")
    nnz = check_int(nnz, "nnz", minimum=1)
    if nnz > n_rows * n_cols:
        raise ValueError(
            f"nnz={nnz} exceeds n_rows * n_cols = {n_rows * n_cols}, the number of "
            "distinct entries"
        )
    rank = check_rank(rank, (n_rows, n_cols))
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"noise must be a real number, got {noise!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    noise = float(noise)
    if popularity not in ("zipf", "uniform"):
        raise ValueError(f"popularity must be 'zipf' or 'uniform', got {popularity!r}")
    lo, hi = _check_scale(scale)
    dtype = as_float_dtype(dtype)
    n_threads = effective_n_threads(n_threads)
    seeds = _seed_sequence(random_state).spawn(4)

    counts = _row_counts(np.random.default_rng(seeds[0]), n_rows, n_cols, nnz, popularity)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts

    rng = np.random.default_rng(seeds[1])
    if popularity == "zipf":
        z = np.maximum(rng.standard_normal(n_cols), _COL_FLOOR)
        e = np.exp(_COL_SIGMA * z)
        weights = e / (1.0 + e / np.exp(_COL_SIGMA * _COL_SATURATION))
    else:
        weights = np.ones(n_cols)
    ids = np.arange(n_cols, dtype=np.int32)
    prob = np.empty(n_cols)
    alias = np.empty(n_cols, dtype=np.int32)
    total = _synthetic.build_alias(ids, weights, prob, alias)

    # The model on the 1..5 scale, stretched linearly to lo..hi.
    stretch = (hi - lo) / 4.0 if scale is not None else 1.0
    rng = np.random.default_rng(seeds[2])
    mean = lo + (_MEAN - 1.0) * stretch
    factor_std = np.sqrt(stretch) * (_DOT_STD**2 / rank) ** 0.25
    left = (factor_std * rng.standard_normal((n_rows, rank))).astype(dtype)
    right = (factor_std * rng.standard_normal((n_cols, rank))).astype(dtype)
    if biases:
        row_bias = (_ROW_BIAS_STD * stretch * rng.standard_normal(n_rows)).astype(dtype)
        col_bias = (_COL_BIAS_STD * stretch * rng.standard_normal(n_cols)).astype(dtype)
    else:
        row_bias, col_bias = np.zeros(n_rows, dtype), np.zeros(n_cols, dtype)

    key0, key1 = (int(k) for k in seeds[3].generate_state(2, np.uint64))
    indices = np.empty(nnz, dtype=np.int32)
    values = np.empty(nnz, dtype=dtype)
    sq_err = np.empty(n_rows)
    _synthetic.generate(indptr, weights, ids, prob, alias, total, left, right, row_bias,
                        col_bias, mean, noise, scale is not None, lo, hi, key0, key1,
                        indices, values, sq_err, n_threads)
    noise_floor = float(np.sqrt(sq_err.sum() / nnz))
    truth = {"mean": float(mean), "row_bias": row_bias, "col_bias": col_bias,
             "factors": LowRank(left, right), "noise": noise,
             "scale": None if scale is None else (int(lo), int(hi))}
    return indptr, indices, values, noise_floor, truth


def best_prediction(truth, rows, cols):
    """The best possible prediction of :func:`synthetic` ratings at entries
    (rows, cols), given the true model: ``E[rating | signal]``.

    With a scale, a rating is ``clip(round(signal + noise * z), lo, hi)``, so
    its expected value is ``lo + sum over k = lo..hi-1 of
    P(signal + noise * z >= k + 1/2)``, from the normal CDF. Without one it
    is the signal itself. Its RMSE on the observations is the noise floor
    that :func:`synthetic` returns.

    Parameters
    ----------
    truth : dict
        The ``truth`` of ``synthetic(..., return_truth=True)``.
    rows, cols : array_like of int
        Positions of the entries.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R, floor, truth = lorank.datasets.synthetic(500, 100, 5000, return_truth=True)
    >>> rows, cols, values = R.coo()
    >>> best = lorank.datasets.best_prediction(truth, rows, cols)
    >>> bool(np.isclose(np.sqrt(np.mean((values - best) ** 2)), floor))
    True
    """
    F = truth["factors"]
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.shape != cols.shape or rows.ndim != 1:
        raise ValueError(f"rows and cols must be 1-D of the same length, got shapes "
                         f"{rows.shape} and {cols.shape}")
    for a, n, name in ((rows, F.shape[0], "rows"), (cols, F.shape[1], "cols")):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} must be positions in 0..{n - 1}")
    left = F.left.astype(np.float64)
    right = F.right.astype(np.float64)
    signal = (truth["mean"] + truth["row_bias"][rows].astype(np.float64)
              + truth["col_bias"][cols].astype(np.float64)
              + np.einsum("ij,ij->i", left[rows], right[cols]))
    if truth.get("scale") is None:
        return signal
    lo, hi = truth["scale"]
    out = np.empty_like(signal)
    _synthetic.expected_rating(signal, float(truth["noise"]), float(lo), float(hi), out)
    return out


def _check_scale(scale):
    """(lo, hi) as floats; (1.0, 5.0) for None (the model's own scale)."""
    if scale is None:
        return 1.0, 5.0
    message = f"scale must be None or a pair (lo, hi) of integers with lo < hi, got {scale!r}"
    try:
        lo, hi = scale
    except (TypeError, ValueError):
        raise ValueError(message) from None
    for x in (lo, hi):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise ValueError(message)
        if not (np.isfinite(x) and float(x).is_integer()):
            raise ValueError(message)
    if not lo < hi:
        raise ValueError(message)
    return float(lo), float(hi)


def _seed_sequence(random_state):
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63, size=4).tolist())
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"random_state must be an int, a numpy Generator or None, got {random_state!r}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}")
    return np.random.SeedSequence(int(random_state))


def _row_counts(rng, n_rows, n_cols, nnz, popularity):
    """Observations per row: int64, each in 0..n_cols, summing to nnz."""
    if popularity == "uniform":
        cap, base, weights = n_cols, 0, np.ones(n_rows)
    else:
        cap = max(int(_ROW_CAP * n_cols), -(-nnz // n_rows))
        base = 1 if nnz >= n_rows else 0
        weights = rng.lognormal(0.0, _ROW_SIGMA, n_rows)
    counts = base + rng.multinomial(nnz - base * n_rows, weights / weights.sum())
    # A row holds at most cap: hand the excess to rows with room, in proportion
    # to their weights, until none is left (a few rounds unless nearly dense).
    for _ in range(50):
        extra = int(np.maximum(counts - cap, 0).sum())
        if extra == 0:
            return counts
        np.minimum(counts, cap, out=counts)
        room = np.where(counts < cap, weights, 0.0)
        counts += rng.multinomial(extra, room / room.sum())
    extra = int(np.maximum(counts - cap, 0).sum())
    np.minimum(counts, cap, out=counts)
    # Nearly dense: fill the rows with room in order.
    room = cap - counts
    filled = np.minimum(room, np.maximum(extra - (np.cumsum(room) - room), 0))
    return counts + filled


def synthetic_drift(n_rows=480_189, n_cols=17_770, nnz=100_480_507, *, rank=10,
                    n_days=2_243, drift=0.5, time_bias=0.3, noise=0.5, scale=(1, 5),
                    random_state=0, dtype=np.float32, n_threads=None, return_truth=False):
    """Netflix-shaped ratings with times, from a model whose factors drift over time.

    The pattern (who rated what) is :func:`synthetic`'s. Every rating gets a
    day: user i joins on day s_i (uniform in the first 70% of the days) and
    rates uniformly over [s_i, s_i + ℓ_i], ℓ_i uniform between half and all of
    the days left, so a user's ratings see the factors drift. Its value
    on day d is ``mean + row_bias[i] + col_bias[j] + day_bias[d] + Σ_k p_ik q_jk
    w_dk + noise·N(0, 1)``, rounded and clipped to ``scale``, with time weights
    w_dk = 1 + drift·sin(2π f_k d / n_days + φ_k) (f_k uniform in [0.5, 1.5])
    and day_bias[d] = time_bias·sin(2π d / n_days + φ): a rank-``rank`` CP
    tensor (user x item x day) plus biases, which no single matrix fits.

    Parameters
    ----------
    n_rows, n_cols, nnz, rank, noise, scale, random_state, dtype, n_threads
        As in :func:`synthetic`.
    n_days : int, default=2_243
        Days the ratings span (the Netflix Prize's 1999-11 to 2005-12).
    drift : float, default=0.5
        Amplitude of the time weights' oscillation (0: no drift).
    time_bias : float, default=0.3
        Amplitude of the day bias (on the 1..5 scale).
    return_truth : bool, default=False
        Also return the true model.

    Returns
    -------
    ratings : lorank.Ratings
        With ``times`` the day of every rating (int32, 0..n_days-1).
    noise_floor : float
        RMSE of the best possible prediction on the returned observations:
        ``E[rating | signal]`` of the true time-aware model (with a scale the
        rounding and clipping move it off the signal), which no model beats in
        expectation.
    truth : dict, only if ``return_truth``
        ``"mean"``, ``"row_bias"``, ``"col_bias"``, ``"day_bias"`` (n_days,),
        ``"factors"`` (LowRank of p and q), ``"time_weights"`` (n_days, rank),
        ``"noise"``.

    Examples
    --------
    >>> import lorank
    >>> R, floor = lorank.datasets.synthetic_drift(2000, 300, 30_000, random_state=1)
    >>> R.nnz, int(R.times.min()) >= 0, int(R.times.max()) < 2243
    (30000, True, True)
    >>> T = R.to_tensor(10, strategy="count")
    >>> T.shape
    (2000, 300, 10)
    """
    from .data.ratings import Ratings

    n_days = check_int(n_days, "n_days", minimum=1)
    for name, value in (("drift", drift), ("time_bias", time_bias)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    indptr, indices, _, _, truth = _generate(
        n_rows, n_cols, nnz, rank=rank, noise=noise, biases=True, popularity="zipf",
        scale=scale, random_state=random_state, dtype=dtype, n_threads=n_threads)
    lo, hi = _check_scale(scale)
    stretch = (hi - lo) / 4.0 if scale is not None else 1.0
    rng = np.random.default_rng(_seed_sequence(random_state).spawn(5)[4])
    n_rows = len(indptr) - 1
    start = 0.7 * n_days * rng.random(n_rows)
    span = (n_days - start) * (0.5 + 0.5 * rng.random(n_rows))
    freq, phase = rng.uniform(0.5, 1.5, rank), rng.uniform(0, 2 * np.pi, rank)
    days = np.arange(n_days) / n_days
    weights = (1 + drift * np.sin(2 * np.pi * freq * days[:, None] + phase)).astype(dtype)
    day_bias = (time_bias * stretch * np.sin(2 * np.pi * days + rng.uniform(0, 2 * np.pi))
                ).astype(dtype)
    left, right = truth["factors"].left, truth["factors"].right
    values = np.empty(len(indices), dtype=dtype)
    times = np.empty(len(indices), dtype=np.int32)
    sq_err = 0.0
    # Whole rows at a time, about 4M ratings per block.
    bounds = np.searchsorted(indptr, np.arange(0, indptr[-1], 1 << 22, dtype=np.int64),
                             side="right") - 1
    bounds = np.unique(np.append(bounds, n_rows))
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        p0, p1 = indptr[r0], indptr[r1]
        rows = np.repeat(np.arange(r0, r1), np.diff(indptr[r0:r1 + 1]))
        cols = indices[p0:p1]
        d = np.minimum((start[rows] + span[rows] * rng.random(len(rows))).astype(np.int64),
                       n_days - 1)
        x = np.einsum("ij,ij->i", left[rows] * weights[d], right[cols], dtype=np.float64)
        x += truth["mean"] + truth["row_bias"][rows] + truth["col_bias"][cols] + day_bias[d]
        y = x + noise * rng.standard_normal(len(x))
        if scale is not None:
            y = np.clip(np.rint(y), lo, hi)
            # the best prediction is E[rating | signal], not the signal (the rounding
            # and clipping move it), as in best_prediction
            best = np.empty_like(x)
            _synthetic.expected_rating(x, float(noise), lo, hi, best)
            x = best
        sq_err += float(np.sum((y - x) ** 2))
        values[p0:p1] = y
        times[p0:p1] = d
    ratings = Ratings.from_csr(indptr, indices, values, (n_rows, len(right)), times=times)
    floor = float(np.sqrt(sq_err / len(values)))
    if return_truth:
        truth = dict(truth, day_bias=day_bias, time_weights=weights)
        return ratings, floor, truth
    return ratings, floor
