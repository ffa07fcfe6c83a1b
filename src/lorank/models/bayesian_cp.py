"""Bayesian CP tensor completion (BPTF) by Gibbs sampling on the ALS half-step."""

import numpy as np

from .._kernels import _als
from ._cp_base import CPModel, from_arrays, largest_two, to_arrays
from ._estimator import check_bool, check_int, register, value_scale
from .._threads import single_threaded_blas
from .als import _factor_storage
from .bayesian import (BETA0, _START_ALPHA_MAX, _seed, draw_noise_precision,
                       draw_normal_wishart, normal_wishart_posterior, sweep_rng)
from .cp_als import CPALS

__all__ = ["BayesianCP"]

# CPALS iterations of the start (its default start + this many sweeps).
_START_ITER = 5
# Observations per block when a sample's predictions gather factor rows.
_BLOCK = 1 << 18


def chain_normal_wishart_posterior(X, mu0=None, beta0=BETA0, nu0=None, W0_inv=None):
    """Posterior (μ*, β*, ν*, W*⁻¹) of the Normal-Wishart prior of a chain of rows.

    Rows x_0 ~ N(μ, Λ⁻¹), x_k ~ N(x_{k−1}, Λ⁻¹) (Xiong et al. 2010), (μ, Λ) ~
    NW(μ₀, β₀, ν₀, W₀): with K rows, β* = β₀ + 1, ν* = ν₀ + K,
    μ* = (β₀ μ₀ + x_0) / β*, W*⁻¹ = W₀⁻¹ + Σ_{k≥1} (x_k − x_{k−1})(x_k − x_{k−1})ᵀ
    + β₀ / β* (x_0 − μ₀)(x_0 − μ₀)ᵀ. Defaults: μ₀ = 0, β₀ = 2, ν₀ = d, W₀ = I.

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.models.bayesian_cp import chain_normal_wishart_posterior
    >>> mu, beta, nu, W_inv = chain_normal_wishart_posterior(np.ones((4, 2)))
    >>> mu.tolist(), beta, nu, W_inv.tolist()
    ([0.3333333333333333, 0.3333333333333333], 3.0, 6.0, [[1.6666666666666665, 0.6666666666666666], [0.6666666666666666, 1.6666666666666665]])
    """
    X = np.asarray(X, dtype=np.float64)
    K, d = X.shape
    mu0 = np.zeros(d) if mu0 is None else np.asarray(mu0, np.float64)
    nu0 = float(d) if nu0 is None else float(nu0)
    W0_inv = np.eye(d) if W0_inv is None else np.asarray(W0_inv, np.float64)
    steps = np.diff(X, axis=0)
    beta = beta0 + 1
    diff = X[0] - mu0
    W_inv = W0_inv + steps.T @ steps + (beta0 / beta) * np.outer(diff, diff)
    return (beta0 * mu0 + X[0]) / beta, beta, nu0 + K, 0.5 * (W_inv + W_inv.T)


def stream_of(sweep, mode, n_modes, part=0):
    """The kernel's normal stream of mode ``mode``'s draw in sweep ``sweep``:
    ``part`` 0 for the whole mode (target j = slice j), k + 1 for slice k of a
    chained mode (drawn alone, as target 0)."""
    return ((sweep * n_modes + mode) << 32) | part


class BayesianCP(CPModel):
    """Bayesian CP tensor completion (BPTF), by Gibbs sampling on the ALS kernel.

    The Bayesian probabilistic tensor factorization of Xiong et al.,
    "Temporal collaborative filtering with Bayesian probabilistic tensor
    factorization" (SDM 2010), with biases, for an N-way tensor:

        x_{i_1…i_N} ~ N(μ + Σ_m b_m[i_m] + Σ_k Π_m A_m[i_m, k], 1/α)
        (A_m[j], b_m[j]) ~ N(μ_m, Λ_m⁻¹)                      (each mode m)
        (μ_m, Λ_m) ~ Normal-Wishart(μ₀ = 0, β₀ = 2, ν₀ = d, W₀ = I),  α ~ Gamma(1, 1)

    with d = rank + 1 and μ fixed at the start's global mean, the defaults of
    :class:`lorank.BayesianALS`, and like it on the values divided by their
    standard deviation σ (``value_scale_``), scaled back: the priors mean the
    same on every rating scale. With ``time_mode=t`` that mode's rows form
    Xiong et al.'s chain instead: row 0 ~ N(μ_t, Λ_t⁻¹), row k ~ N(row k−1,
    Λ_t⁻¹), so neighbouring time bins share strength.

    One sweep takes the modes in turn: draw the mode's hyperparameters given
    its rows, then every row from its Gaussian conditional, which is the CPALS
    normal equations with λI replaced by Λ_m: ``P = α Σ h hᵀ + Λ_m``,
    ``h = α Σ (x − offsets) h + Λ_m μ_m`` over the slice's observations, h the
    Hadamard product of the other modes' rows (and a 1 for the bias), and the
    draw ``P⁻¹h + L⁻ᵀz`` (P = L Lᵀ). That is the compiled ALS half-step with
    ``others=``, a prior and a sampled solve, as CPALS and BayesianALS call it;
    ``z`` comes from the counter-based generator keyed by (seed, sweep, mode,
    slice), so every sample is bitwise identical for any ``n_threads``. Then α
    from its Gamma conditional. A chained mode's rows are drawn one at a time in
    order (each conditional depends on both neighbours: prior ``2Λ_t`` and
    mean from ``Λ_t (row k−1 + row k+1)``, ``Λ_t`` and ``Λ_t·row K−2`` for the
    last), one half-step per slice: the same kernel on that slice's part of the
    mode view, so that mode's draws run on one thread (with the independent
    prior its slices are drawn in parallel, one per thread at a time). The
    order is exact Gibbs; drawing the even and then the odd slices in
    parallel would be too, but needs the slices regrouped (a copy of that
    mode's view) or a target list in the kernel.

    The chain starts from a short :class:`lorank.CPALS` fit (its default
    start and 5 iterations). Predictions are the posterior predictive mean over
    the kept samples (sweeps after ``burn_in``, every ``thin``-th): the biases'
    and the mean's running means over all K kept samples, and the CP part
    averaged over the stored samples, which is itself a CP model of rank
    S·rank (the stored samples' factors side by side, mode 0's scaled by
    1/S). With the defaults every kept sample is stored (S = K = 180); with
    K > ``max_stored``, kept samples 1, 1 + s, 1 + 2s, ... are, s = ⌈K /
    max_stored⌉, evenly spread over the chain. Fewer samples make a noisier mean: on 25,000
    drifting ratings (the tests' problem) 45 of 180 samples gave a held-out
    RMSE 0.004 above all 180's. ``factors_`` is that CP model, so
    ``predict``, ``predict_at``, ``to_lowrank(time)`` and ``at(time)`` work as
    CPALS's.

    Memory: the store holds S·rank·Σ_m shape[m] numbers of ``dtype``,
    allocated at the start (rank 10, float32, 180 samples at the Netflix shape
    480,189 × 17,770 × 30: 3.6 GB; ``max_stored=50``: 1.0 GB), beside the data.

    Parameters
    ----------
    rank : int, default=10
        Number of CP components.
    n_samples : int, default=200
        Gibbs sweeps in all, burn-in included.
    burn_in : int, default=20
        Sweeps discarded before the first kept sample (0 ≤ burn_in < n_samples).
    thin : int, default=1
        Keep every ``thin``-th sweep after the burn-in.
    max_stored : int >= 1 or None, default=200
        Most kept samples whose factors are stored for predictions (see
        above); ``None``: all.
    time_mode : int or None, default=None
        The mode whose rows form a smoothness chain (e.g. ``2``, or ``-1`` for
        the last: the time bins of :meth:`lorank.Ratings.to_tensor`); ``None``:
        every mode has the independent prior.
    biases : bool, default=True
        Sample a bias per index of every mode (inside its rows' Gaussians).
    clip : bool, default=True
        Clip ``predict``/``predict_positions`` to the range of the training values.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    n_threads : int, default=None
        Threads for the kernels (``None``: all usable cores). Samples do not depend on it.
    random_state : int, numpy.random.Generator or None, default=None
    progress : bool, default=False
        Show a tqdm progress bar.
    callback : callable, default=None
        ``callback(model, sweep)`` after every sweep (the model then holds the
        posterior mean so far; during burn-in the current sample); returning
        ``False`` stops, keeping the samples drawn so far. On Ctrl-C the model
        keeps them too, warns and re-raises ``KeyboardInterrupt``.

    Attributes
    ----------
    factors_ : list of ndarray
        ``factors_[m]``: the stored samples' mode-m factors side by side,
        shape (shape[m], S·rank), mode 0's scaled by 1/S (so the CP model they
        make is the mean of the samples' CP parts).
    biases_ : list of ndarray
        Posterior means of the biases per mode (zeros without biases).
    mean_ : float
    value_scale_ : float
        σ, the standard deviation of the training values (1.0 if they are all
        equal): the chain runs on values / σ.
    alpha_ : float
        The last sampled noise precision (of the values, not of values / σ).
    n_kept_, n_stored_ : int
        Kept samples K and stored samples S.
    shape_, labels_, time_edges_
        As :class:`lorank.CPALS`'s.
    history_ : dict of lists
        Per sweep: ``iteration``, ``train_rmse`` (of the sample on the training
        data), ``valid_rmse`` (of the running posterior mean over all kept
        samples, before the store's thinning; of the sample itself during
        burn-in; NaN without validation data), ``alpha``, ``seconds``.
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> A, B, C = (rng.standard_normal((n, 2)) for n in (30, 20, 10))
    >>> idx = np.unravel_index(rng.choice(6000, 1500, replace=False), (30, 20, 10))
    >>> x = np.einsum("ik,ik,ik->i", A[idx[0]], B[idx[1]], C[idx[2]])
    >>> train, test = lorank.TensorRatings(idx, x + 0.1 * rng.standard_normal(1500)).split(
    ...     0.2, random_state=0)
    >>> model = lorank.BayesianCP(2, n_samples=40, burn_in=10, random_state=0).fit(train, test)
    >>> model.n_kept_, model.factors_[0].shape
    (30, (30, 60))
    >>> bool(model.history_["valid_rmse"][-1] < 0.2)
    True
    """

    def __init__(
        self,
        rank=10,
        *,
        n_samples=200,
        burn_in=20,
        thin=1,
        max_stored=200,
        time_mode=None,
        biases=True,
        clip=True,
        dtype=np.float32,
        n_threads=None,
        random_state=None,
        progress=False,
        callback=None,
    ):
        self.rank = rank
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.thin = thin
        self.max_stored = max_stored
        self.time_mode = time_mode
        self.biases = biases
        self.clip = clip
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress
        self.callback = callback

    # --- fitting ------------------------------------------------------------
    def _check_params(self, T):
        rank = self._check_rank(T)
        n_samples = check_int(self.n_samples, "n_samples", minimum=1)
        burn_in = check_int(self.burn_in, "burn_in", minimum=0)
        thin = check_int(self.thin, "thin", minimum=1)
        if burn_in >= n_samples:
            raise ValueError(
                f"burn_in={burn_in} must be smaller than n_samples={n_samples}, "
                "or no sample is kept"
            )
        if (n_samples - burn_in) // thin == 0:
            raise ValueError(
                f"thin={thin} keeps no sample of the {n_samples - burn_in} after burn-in; "
                "use a smaller thin or more n_samples"
            )
        max_stored = (None if self.max_stored is None
                      else check_int(self.max_stored, "max_stored", minimum=1))
        time_mode = self.time_mode
        if time_mode is not None:
            time_mode = check_int(time_mode, "time_mode")
            if not -T.ndim <= time_mode < T.ndim:
                raise ValueError(f"time_mode={time_mode} is not a mode of a {T.ndim}-way "
                                 f"tensor (0..{T.ndim - 1}, or negative from the end)")
            time_mode %= T.ndim
        for name in ("biases", "clip", "progress"):
            check_bool(getattr(self, name), name)
        n_threads = self._check_run(T, rank)
        return rank, n_samples, burn_in, thin, max_stored, time_mode, n_threads

    def _fit(self, T, valid, rank, n_samples, burn_in, thin, max_stored, time_mode,
             n_threads):
        biases = bool(self.biases)
        d = rank + biases
        N, nnz, dtype = T.ndim, T.nnz, T.dtype
        seed = _seed(self.random_state)
        values = T.coo()[1]
        self.rating_range_ = (float(values.min()), float(values.max()))
        self.shape_, self.time_edges_ = T.shape, T.time_edges
        # The chain runs on values / σ, as BayesianALS's (the priors then mean the
        # same on every rating scale); each mode's factors are scaled back by σ^(1/N).
        sigma = value_scale(values)
        self.value_scale_ = sigma
        T = T._scaled(1.0 / sigma)
        del values
        root = sigma ** (1.0 / N)

        a, b = largest_two(T.shape)
        start = CPALS(rank, biases=biases, max_iter=_START_ITER, tol=0,
                      init="svd" if rank <= T.shape[b] else "random", dtype=dtype,
                      n_threads=n_threads, random_state=seed).fit(T)
        F = [_factor_storage(n, d, dtype) for n in T.shape]
        for A, U, c in zip(F, start.factors_, start.biases_):
            A[:, :rank] = U
            if biases:
                A[:, rank] = c
        mean = float(start.mean_)
        sse0 = start.history_["train_rmse"][-1] ** 2 * nnz
        alpha = min(nnz / max(sse0, 1e-300), _START_ALPHA_MAX)
        del start

        views = [T.view(m) for m in range(N)]
        active = [T.counts(m) > 0 for m in range(N)]
        n_kept = (n_samples - burn_in) // thin
        store = _Store(T.shape, rank, n_kept, max_stored, dtype)
        bsum = [np.zeros(n) for n in T.shape]
        if valid is not None:
            vidx, vx = valid.coo()
            vx = vx / sigma
            vsum = np.zeros(len(vx))
        lo, hi = (v / sigma for v in self.rating_range_)
        self.mean_, self.alpha_ = mean * sigma, alpha / sigma**2
        self.n_kept_ = 0

        def solve(V, solved, stream, prior, prior_h, alpha, sweep, part=slice(None), first=0):
            """The sampled half-step of mode V.mode's rows ``solved`` (slices
            ``first``, ...) over the observations ``part`` of its view; the sum
            of squared residuals."""
            fixed = F[V.modes[0]]
            others = tuple((V.indices[k][part], F[V.modes[k]]) for k in range(1, N - 1))
            if part.start is None:
                indptr = V.indptr
            else:
                indptr = np.array([0, part.stop - part.start], np.int64)
            size = solved.shape[0]
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            _als.half_step(indptr, V.indices[0][part], V.values[part], fixed, solved,
                           mean, np.zeros(size), biases, rank, sse, rsum, status,
                           n_threads if size > 1 else 1, prior=prior / alpha,
                           prior_h=prior_h / alpha, sample_scale=alpha ** -0.5, seed=seed,
                           stream=stream, others=others)
            bad = np.flatnonzero(status)
            if bad.size:
                k = first + int(bad[0])
                raise np.linalg.LinAlgError(
                    f"the Gaussian conditional of slice {k} of mode {V.mode} "
                    f"({int(np.diff(V.indptr)[k])} observations, {d} unknowns) in sweep "
                    f"{sweep} is not positive definite (noise precision α = {alpha:.3g}); "
                    "use dtype=np.float64, or rescale the values"
                )
            return float(sse.sum())

        def draw_mode(m, sweep, alpha):
            V = views[m]
            A = F[m]
            if m != time_mode:
                mu, Lam = draw_normal_wishart(sweep_rng(seed, sweep, m),
                                              *normal_wishart_posterior(A[active[m], :d]))
                return solve(V, A, stream_of(sweep, m, N), Lam, Lam @ mu, alpha, sweep)
            mu, Lam = draw_normal_wishart(sweep_rng(seed, sweep, m),
                                          *chain_normal_wishart_posterior(A[:, :d]))
            K, total = A.shape[0], 0.0
            for k in range(K):  # in order: row k's conditional reads rows k − 1 and k + 1
                prev = mu if k == 0 else A[k - 1, :d].astype(np.float64)
                if k + 1 < K:
                    prior, h = 2 * Lam, Lam @ (prev + A[k + 1, :d])
                else:
                    prior, h = Lam, Lam @ prev
                part = slice(int(V.indptr[k]), int(V.indptr[k + 1]))
                total += solve(V, A[k:k + 1], stream_of(sweep, m, N, k + 1), prior, h,
                               alpha, sweep, part, k)
            return total

        def publish():
            """The model as of the last complete sweep (the posterior mean so far,
            or the current sample during burn-in)."""
            if self.n_kept_:
                factors = store.mean_factors()
                bias = [s / self.n_kept_ for s in bsum]
            else:
                factors = [A[:, :rank].copy() for A in F]
                bias = [A[:, rank].astype(np.float64) if biases else np.zeros(len(A))
                        for A in F]
            for A in factors:  # back to the values' scale
                A *= A.dtype.type(root)
            self.factors_ = factors
            self.biases_ = [(c * sigma).astype(dtype) for c in bias]
            self.n_stored_ = store.count
            self._lowrank = None

        publish()  # the start is the state before the first sweep
        with self._iterations(n_samples, ("train_rmse", "valid_rmse", "alpha"),
                              desc="BayesianCP", on_interrupt=publish,
                              what="samples") as run:
            for sweep in range(1, n_samples + 1):
                # One BLAS thread for the kernel and the small dense draws alike (a
                # threaded 11 x 11 triangular solve took 15 ms on a loaded machine).
                with single_threaded_blas():
                    for m in range(N):
                        sse = draw_mode(m, sweep, alpha)
                if not (all(np.isfinite(A).all() for A in F) and np.isfinite(sse)):
                    raise FloatingPointError(
                        f"BayesianCP sweep {sweep} produced non-finite factors; "
                        "use dtype=np.float64 or rescale the values"
                    )
                alpha = draw_noise_precision(sweep_rng(seed, sweep, N), sse, nnz)
                kept = sweep > burn_in and (sweep - burn_in) % thin == 0
                if kept:
                    store.add(F)
                    if biases:
                        for s, A in zip(bsum, F):
                            s += A[:, rank]
                    self.n_kept_ += 1
                valid_rmse = np.nan
                if valid is not None:
                    if kept or not self.n_kept_:
                        pred = sample_entries(F, rank, biases, mean, vidx)
                    if kept:
                        vsum += pred
                    if self.n_kept_:
                        pred = vsum / self.n_kept_
                    if self.clip:
                        pred = np.clip(pred, lo, hi)
                    valid_rmse = float(np.sqrt(np.mean((pred - vx) ** 2)))
                self.alpha_ = alpha / sigma**2
                if self.callback is not None:
                    publish()
                if not run.record(sweep, train_rmse=sigma * np.sqrt(max(sse, 0.0) / nnz),
                                  valid_rmse=sigma * valid_rmse, alpha=self.alpha_):
                    break
        publish()

    # --- fitted model: CPModel's, clipped, with at()'s fold-in rule ----------
    def predict_positions(self, indices):
        """Posterior predictive means at positions ``indices`` (a tuple of N index
        arrays of equal length), clipped to the training range unless ``clip=False``.

        Returns
        -------
        ndarray of the model's dtype
        """
        out = super().predict_positions(indices)
        if self.clip and getattr(self, "rating_range_", None) is not None:
            np.clip(out, *self.rating_range_, out=out)
        return out

    def _at_params(self):
        """``at``'s ALS: the posterior mean at one time, rank S·rank (a new user's
        fold-in is then a ridge solve with ALS's default reg)."""
        return dict(rank=self.factors_[0].shape[1], biases=self.biases, clip=False,
                    dtype=self.dtype, n_threads=self.n_threads)


class _Store:
    """The stored samples' factors per mode: kept samples 1, 1 + s, 1 + 2s, ...,
    the stride s the smallest that stores at most ``max_stored`` of the ``n_kept``."""

    def __init__(self, shape, rank, n_kept, max_stored, dtype):
        self.rank = rank
        self.stride = 1 if max_stored is None else -(-n_kept // max_stored)
        self.capacity = -(-n_kept // self.stride)
        self.factors = [np.empty((n, self.capacity * rank), dtype) for n in shape]
        self.seen = 0     # kept samples offered
        self.count = 0    # stored

    def add(self, F):
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        r = self.rank
        for A, B in zip(self.factors, F):
            A[:, self.count * r:(self.count + 1) * r] = B[:, :r]
        self.count += 1

    def mean_factors(self):
        """The stored samples side by side, mode 0's scaled by 1/S (copies)."""
        w = self.count * self.rank
        out = [A[:, :w].copy() for A in self.factors]
        out[0] *= out[0].dtype.type(1.0 / self.count)
        return out


def sample_entries(F, rank, biases, mean, index):
    """μ + Σ_m b_m[i_m] + Σ_k Π_m A_m[i_m, k] of one sample (padded factor rows F,
    bias in column ``rank``) at the entries ``index``, float64."""
    n = len(index[0])
    out = np.empty(n)
    for s in range(0, n, _BLOCK):
        part = [i[s:s + _BLOCK] for i in index]
        prod = F[0][part[0], :rank].astype(np.float64)
        for A, i in zip(F[1:], part[1:]):
            prod *= A[i, :rank]
        acc = prod.sum(axis=1) + mean
        if biases:
            for A, i in zip(F, part):
                acc += A[i, rank]
        out[s:s + _BLOCK] = acc
    return out


# ---------------------------------------------------------------- files

def _to_arrays(model):
    arrays, header = to_arrays(model)
    header.update(n_kept=int(model.n_kept_), n_stored=int(model.n_stored_),
                  alpha=float(model.alpha_),
                  rating_range=[float(x) for x in model.rating_range_])
    return arrays, header


def _from_arrays(cls, arrays, header, source="file"):
    model = from_arrays(cls, arrays, header, source)  # the LAYOUTS entry, every array
    for key in ("n_kept", "n_stored"):
        value = header.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{source}: damaged header ({key} is {value!r})")
        setattr(model, key + "_", value)
    alpha, rng = header.get("alpha"), header.get("rating_range")
    if not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"{source}: damaged header (alpha is {alpha!r})")
    if (not isinstance(rng, list) or len(rng) != 2
            or not all(isinstance(x, (int, float)) and np.isfinite(x) for x in rng)):
        raise ValueError(f"{source}: damaged header (rating_range is {rng!r})")
    model.alpha_ = float(alpha)
    model.rating_range_ = (float(rng[0]), float(rng[1]))
    return model


register(BayesianCP, to_arrays=_to_arrays, from_arrays=_from_arrays)
