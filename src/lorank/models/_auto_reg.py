"""``reg="auto"``: λ chosen on an internal holdout along a warm-started path, then a refit.

The training ratings are split once (a random 10 % held out, seeded by the model's
``random_state``); the model is fitted on the rest for a decreasing sequence of
λ, each fit starting from the previous one's factors, until the holdout RMSE has
risen ``_PATIENCE`` times past its minimum. The λ of the minimum (refined by a
parabola through it and its two neighbours, in log λ) is then used to refit on all
the ratings. The fitted model keeps it in ``reg_`` and the path in ``reg_path_``
(``{"reg": [...], "valid_rmse": [...]}``).
"""

import warnings

import numpy as np

HOLDOUT = 0.1
# Fewer ratings than this are too few to hold 10 % out: ALS takes ALS_START,
# SoftImpute SOFTIMPUTE_START·lambda_max.
MIN_RATINGS = 100
_PATIENCE = 2
# ALS: reg on the λ_j = reg·|Ω_j|^α scale, α fixed: from strong to weak, √2 apart,
# the search starting at ALS_START.
ALS_GRID = tuple(16.0 * 2.0 ** (-k / 2) for k in range(19))  # 16 ... 0.03125
ALS_START = ALS_GRID[8]  # 1.0
# SoftImpute: λ / lambda_max, geometric, 5 per decade down to 1e-3, from 1 (the
# zero solution: with biases, the Baseline's centering alone).
SOFTIMPUTE_GRID = tuple(10.0 ** (-k / 5) for k in range(16))
SOFTIMPUTE_START = SOFTIMPUTE_GRID[5]  # 0.1


def is_auto(reg, name="reg"):
    """Whether ``reg`` asks for the automatic choice ("auto"); other strings are errors."""
    if isinstance(reg, str):
        if reg != "auto":
            raise TypeError(f'{name} must be a real number, got {reg!r}; or "auto" to '
                            "choose it from the data")
        return True
    return False


def _seed(random_state):
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    return int(np.random.default_rng(random_state).integers(2**63 - 1))


def _refine(regs, errors, best):
    """The vertex in log λ of the parabola through the minimum and its neighbours
    (the grid point itself at an end of the path or if the fit is not convex)."""
    if best == 0 or best == len(regs) - 1:
        return regs[best]
    x = np.log(regs[best - 1:best + 2])
    y = np.asarray(errors[best - 1:best + 2])
    a, b, _ = np.polyfit(x, y, 2)
    if not a > 0:
        return regs[best]
    return float(np.exp(np.clip(-b / (2 * a), x.min(), x.max())))


def _path(fit_one, grid):
    """Fit along ``grid`` (decreasing) with ``fit_one(reg, previous) -> (model, rmse)``,
    stopping ``_PATIENCE`` points after the minimum."""
    regs, errors, models = [], [], []
    previous = None
    for reg in grid:
        previous, err = fit_one(reg, previous)
        regs.append(float(reg))
        errors.append(float(err))
        models.append(previous)
        if len(errors) - 1 - int(np.argmin(errors)) >= _PATIENCE:
            break
    best = int(np.argmin(errors))
    return regs, errors, models, best


# What the path hands its fits (their start and centre), not learned from data.
_GIVEN = ("labels_", "_warm_start", "_baseline", "_dampings", "_data_warned")


def _learned(fitted):
    """The learned state of a fit (not its label maps: the outer fit keeps those;
    not what the path gave it)."""
    return {k: v for k, v in vars(fitted).items()
            if (k.endswith("_") or k.startswith("_")) and k not in _GIVEN}


def _adopt(model, fitted, reg, regs, errors, baseline=None):
    """Copy ``fitted``'s learned state onto ``model`` and record the choice."""
    for key, value in _learned(fitted).items():
        setattr(model, key, value)
    model.reg_ = float(reg)
    model.reg_path_ = {"reg": regs, "valid_rmse": errors}
    if baseline is not None:
        model.reg_path_["baseline_rmse"] = baseline
    return model


def _refit_callback(model, callback):
    if callback is None:
        return None

    def call(fitted, it):
        for key, value in _learned(fitted).items():
            setattr(model, key, value)
        return callback(model, it)

    return call


def _factor_rows(als):
    """A fitted ALS's factors as the kernel's rows [a_i, u_i] / [b_j, c_j] (padded)."""
    from .als import _factor_storage

    L, R = als.factors_.left, als.factors_.right
    rank = L.shape[1]
    biases = bool(als.biases)
    rows = []
    for F, bias in ((L, als.row_bias_), (R, als.col_bias_)):
        S = _factor_storage(len(F), rank + biases, F.dtype)
        S[:, :rank] = F
        if biases:
            S[:, rank] = bias
        rows.append(S)
    return tuple(rows)


def fit_als(model, ratings, valid):
    """``ALS(reg="auto").fit``: the path on a holdout of ``ratings``, then the refit.

    The path starts at ``ALS_START`` (spectral start) and moves by factors of √2
    towards the better neighbour, each fit warm-started from the previous one,
    until the holdout RMSE has risen ``_PATIENCE`` times past its minimum (or the
    grid ends). Moving down from a fit whose factors collapsed to zero (too much
    regularization: zero is a fixed point of ALS), the fit starts cold instead.
    """
    from .als import ALS
    from ._estimator import get_params, rating_range

    params = get_params(model)
    params.update(progress=False, callback=None)
    lowest, highest = rating_range(ratings)
    if ratings.nnz < MIN_RATINGS or lowest == highest:
        # Too few to hold any out, or one value (every reg predicts it): the start.
        return _refit(model, ALS, params, ratings, valid, ALS_START, [], [])
    train, hold = ratings.split(HOLDOUT, random_state=_seed(model.random_state))
    fits, running = {}, []  # grid index -> (fitted model or None, holdout RMSE)
    start = ALS_GRID.index(ALS_START)
    # The biases alone on the path's ratings: every fit's bias dampings
    # (bias_reg="auto") and the holdout's reference.
    base = _baseline(params, train)

    def fit_at(k, previous):
        sub = _inner(ALS, params, reg=ALS_GRID[k])
        sub._baseline = base
        if previous is not None and not _collapsed(previous):
            sub._warm_start = _factor_rows(previous)
        running[:] = [(k, sub)]
        sub.fit(train, validation=hold)
        fits[k] = (sub, sub.history_["valid_rmse"][-1])
        # Only the start (the other direction's first warm start), this fit (the
        # next one's) and the best are needed: the others' memory goes.
        best = min(fits, key=lambda j: fits[j][1])
        for j, (fitted, err) in fits.items():
            if fitted is not None and j not in (start, k, best):
                fits[j] = (None, err)
        return fits[k]

    try:
        fit_at(start, None)
        for step in (1, -1):  # weaker regularization first, then stronger
            k, best = start, fits[start][1]
            worse = 0
            while 0 <= k + step < len(ALS_GRID) and worse < _PATIENCE:
                err = fit_at(k + step, fits[k][0])[1]
                k += step
                worse = worse + 1 if err >= best else 0
                best = min(best, err)
            if step == 1 and fits[start + 1][1] < fits[start][1]:
                break  # the minimum is below ALS_START
    except KeyboardInterrupt:
        _keep_interrupted_path(model, fits, running)
        raise
    ks = sorted(fits)
    regs = [float(ALS_GRID[k]) for k in ks]
    errors = [float(fits[k][1]) for k in ks]
    # The grid decreases in reg: sort the path by increasing reg for the record.
    regs, errors = regs[::-1], errors[::-1]
    best = int(np.argmin(errors))
    reg = _refine(regs, errors, best)
    baseline = _baseline_check(params, base, hold, fits[ks[::-1][best]][0], regs[best])
    given = {}
    if baseline is not None and is_auto(params["bias_reg"], "bias_reg"):
        # The biases' dampings are σ²/τ²; the Baseline's σ² is the noise plus all
        # that the factors explain. The refit takes the chosen fit's σ² (its
        # holdout MSE) with the Baseline's τ²: the dampings × the MSE ratio (<= 1).
        # Netflix-shaped synthetic, 1M, 90/10: 0.7041 -> 0.6995 held out;
        # MovieLens 100K and its thinned sets: within 0.0001.
        ratio = min(1.0, (errors[best] / baseline) ** 2)
        given["_dampings"] = (base.reg_users_ * ratio, base.reg_items_ * ratio)
    return _refit(model, ALS, params, ratings, valid, reg, regs, errors, baseline, given)


def _inner(cls, params, **changes):
    """A model of the path or the refit: ``params`` with ``changes``, fitted on data
    the outer fit has warned about already (all ratings equal, all 0 or 1)."""
    sub = cls(**{**params, **changes})
    sub._data_warned = True
    return sub


def _refit(model, cls, params, ratings, valid, reg, regs, errors, baseline=None, given=None):
    """The fit on all the ratings at ``reg``, adopted by ``model`` (on Ctrl-C too:
    its last complete iteration, then the interrupt goes on); ``given``: private
    attributes for it (ALS's ``_dampings``)."""
    final = _inner(cls, params, reg=reg, progress=model.progress,
                   callback=_refit_callback(model, model.callback))
    for key, value in (given or {}).items():
        setattr(final, key, value)
    try:
        final.fit(ratings, validation=valid)
    except KeyboardInterrupt:
        if hasattr(final, "factors_"):
            _adopt(model, final, reg, regs, errors, baseline)
        raise
    return _adopt(model, final, reg, regs, errors, baseline)


def _keep_interrupted_path(model, fits, running):
    """Ctrl-C on the path: the model keeps the best complete fit so far (else the
    interrupted one's last complete iteration), fitted on the path's share of the
    ratings, and says so."""
    if fits:
        k = min(fits, key=lambda j: fits[j][1])
        sub = fits[k][0]
    elif running:
        k, sub = running[0]
    else:
        return
    if not hasattr(sub, "factors_"):  # interrupted before its first iteration
        return
    ks = sorted(fits, reverse=True)  # increasing reg
    _adopt(model, sub, ALS_GRID[k], [float(ALS_GRID[j]) for j in ks],
           [float(fits[j][1]) for j in ks])
    warnings.warn(
        f"ALS(reg='auto') interrupted on its holdout path: the model is the fit at reg "
        f"{ALS_GRID[k]:.3g} on {1 - HOLDOUT:.0%} of the ratings (no refit on all of them)",
        RuntimeWarning, stacklevel=5)


def _baseline(params, ratings):
    """:class:`~lorank.Baseline` fitted on ``ratings`` (None without biases)."""
    from .baseline import fit_biases

    return fit_biases(ratings, params["n_threads"]) if params["biases"] else None


def _baseline_check(params, base, hold, best, reg):
    """The holdout RMSE of ``base``, the :class:`~lorank.Baseline` (the biases
    alone) of the path's ratings, beside the path's best fit, with a warning when
    the factors do not beat it by MIN_GAIN; None without biases."""
    if base is None:
        return None
    base_rmse, best_rmse = base._rmse(hold), best._rmse(hold)
    if not adds_something(best_rmse, base_rmse):
        warnings.warn(
            f"ALS(reg='auto'): the factors add nothing on the {HOLDOUT:.0%} holdout: "
            f"the biases alone (lorank.Baseline) reach RMSE {base_rmse:.4g}, the best ALS "
            f"fit {best_rmse:.4g} (reg {reg:.3g}, rank {params['rank']}); these ratings "
            "look like user and item effects plus noise. lorank.Baseline gives that "
            "answer for less; BayesianALS averages over factors instead of fitting them",
            UserWarning, stacklevel=5)
    return base_rmse


# The factors "add something" when they take the holdout RMSE at least this
# fraction below the Baseline's: on ratings that are biases plus noise, ALS with
# the Baseline's dampings ties it to a few 1e-5, either side.
MIN_GAIN = 1e-3


def adds_something(rmse, baseline_rmse):
    """Whether a fit's holdout RMSE beats the Baseline's by MIN_GAIN (relative)."""
    return rmse < baseline_rmse * (1 - MIN_GAIN)


def _collapsed(als):
    """Whether the factors of a fitted ALS are (numerically) zero."""
    L, R = als.factors_.left, als.factors_.right
    return not (np.abs(L).max(initial=0) * np.abs(R).max(initial=0) > 1e-8)


def fit_softimpute(model, ratings, valid):
    """``SoftImpute(reg="auto").fit``: λ on a geometric grid below lambda_max.
    The Baseline of the centering is fitted once per set of ratings (the path's,
    all of them) and handed to the fits on it (``_baseline``)."""
    from .softimpute import SoftImpute, _lambda_max
    from ._estimator import get_params

    params = get_params(model)
    params.update(progress=False, callback=None)
    n_threads = model.n_threads
    if ratings.nnz < MIN_RATINGS:  # too few to hold any out
        whole = _baseline(params, ratings)
        reg = SOFTIMPUTE_START * _lambda_max(ratings, whole, n_threads)
        return _refit(model, SoftImpute, params, ratings, valid, reg, [], [],
                      given={"_baseline": whole})
    train, hold = ratings.split(HOLDOUT, random_state=_seed(model.random_state))
    base = _baseline(params, train)
    top = _lambda_max(train, base, n_threads)

    def fit_one(scale, previous):
        sub = _inner(SoftImpute, params, reg=top * scale,
                     warm_start=params["warm_start"] if previous is None else previous)
        sub._baseline = base
        sub.fit(train, validation=hold)
        return sub, sub._score(hold)

    scales, errors, models, best = _path(fit_one, SOFTIMPUTE_GRID)
    regs = [top * s for s in scales]
    reg = _refine(regs, errors, best)
    whole = _baseline(params, ratings)  # the refit's centering
    if best == 0:  # the zero solution: above lambda_max of all the ratings (the path's
        # is of 90 % of them; 10 % above, as lambda_max is a randomized estimate)
        reg = 1.1 * _lambda_max(ratings, whole, n_threads)
    baseline = None
    if model.biases:  # the path's first fit is zero: the centering, the Baseline, alone
        baseline = errors[0]
        if not adds_something(errors[best], errors[0]):
            warnings.warn(
                f"SoftImpute(reg='auto'): the factors add nothing on the {HOLDOUT:.0%} "
                f"holdout: the biases alone (lorank.Baseline) reach RMSE {errors[0]:.4g}, "
                f"the best λ {errors[best]:.4g}; these ratings look like user and item "
                "effects plus noise" + (", and the model is that Baseline" if best == 0
                                        else ""),
                UserWarning, stacklevel=5)
    return _refit(model, SoftImpute, {**params, "warm_start": models[best]}, ratings, valid,
                  reg, regs, errors, baseline, given={"_baseline": whole})
