"""Bayesian matrix factorization by Gibbs sampling (BPMF with biases) on the ALS kernel."""

import numbers

import numpy as np
import scipy.linalg

from scipy.special import gammaln

from .._kernels import _als, _sparse
from ._estimator import (CompletionModel, check_bool, check_callback, check_choice,
                         check_int, check_n_threads, check_random_state, check_rank,
                         check_real, rating_range, register, value_scale)
from .._threads import single_threaded_blas
from ..linalg.lowrank import LowRank

__all__ = ["BayesianALS"]

# Hyperpriors (Salakhutdinov & Mnih 2008, and myFM's noise prior):
# (μ, Λ) ~ Normal-Wishart(μ₀ = 0, β₀ = 2, ν₀ = d, W₀ = I);  α ~ Gamma(shape 1, rate 1).
BETA0 = 2.0
ALPHA_SHAPE0 = 1.0
ALPHA_RATE0 = 1.0
# ALS iterations of the start (spectral init + this many exact sweeps).
_START_ITER = 5
# The start's noise precision at most (noise std ≥ 1% of the values' std).
_START_ALPHA_MAX = 1e4
# Kept samples gathered before they are folded into the compressed posterior mean.
_BUFFER = 8
# Rows converted to float64 at a time for a Gram (_row_gram).
_GRAM_BLOCK = 8192
# mean_rank="auto": the compressed posterior mean's rank, in multiples of rank.
_AUTO_MEAN_RANK = 3

# noise="rows+cols": x_ij's precision is α·τ_i·κ_j, with τ_i ~ Gamma(a, rate a) (mean 1)
# per row, κ_j likewise per column (shape a'), and a, a' ~ log-uniform on the grid.
NOISE_CHOICES = ("rows+cols", "rows", "cols", "global")
SHAPE_GRID = np.geomspace(0.5, 1e4, 256)
_SHAPE_START = 10.0

# Sub-streams of the counter-based generator: hyperparameter draws of sweep s use the
# numpy Generator seeded by (seed, s, kind); the kernel's normal stream of a half-step
# is (seed, 2 s + side).
_ITEMS, _USERS, _NOISE, _COL_SCALES, _ROW_SCALES = 0, 1, 2, 3, 4


# ---------------------------------------------------------------- conjugate draws

def draw_wishart(rng, df, scale):
    """One draw of Λ ~ Wishart(df, scale) (E Λ = df·scale) by Bartlett's decomposition.

    ``Λ = L A Aᵀ Lᵀ`` with ``scale = L Lᵀ``, ``A`` lower triangular, ``A_kk² ~ χ²(df − k)``
    (k = 0, 1, ...) and ``A_kl ~ N(0, 1)`` below the diagonal, drawn from ``rng`` in that
    order (χ² first, then the lower triangle row by row).

    Parameters
    ----------
    rng : numpy.random.Generator
    df : float
        Degrees of freedom, > d − 1.
    scale : ndarray of shape (d, d)
        Symmetric positive definite.

    Returns
    -------
    ndarray of shape (d, d)

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.models.bayesian import draw_wishart
    >>> L = draw_wishart(np.random.default_rng(0), 5.0, np.eye(3))
    >>> bool(np.all(np.linalg.eigvalsh(L) > 0))
    True
    """
    scale = np.asarray(scale, dtype=np.float64)
    d = scale.shape[0]
    if not df > d - 1:
        raise ValueError(f"Wishart degrees of freedom must exceed d - 1 = {d - 1}, got {df}")
    L = np.linalg.cholesky(scale)
    A = np.zeros((d, d))
    A[np.diag_indices(d)] = np.sqrt(rng.chisquare(df - np.arange(d)))
    lower = np.tril_indices(d, -1)
    A[lower] = rng.standard_normal(len(lower[0]))
    LA = L @ A
    return LA @ LA.T


def normal_wishart_posterior(X, mu0=None, beta0=BETA0, nu0=None, W0_inv=None):
    """Posterior (μ*, β*, ν*, W*⁻¹) of the Normal-Wishart prior of the rows of ``X``.

    Rows x_k ~ N(μ, Λ⁻¹), (μ, Λ) ~ NW(μ₀, β₀, ν₀, W₀): with N rows, mean x̄ and
    scatter S = Σ (x_k − x̄)(x_k − x̄)ᵀ,
    β* = β₀ + N, ν* = ν₀ + N, μ* = (β₀ μ₀ + N x̄) / β*,
    W*⁻¹ = W₀⁻¹ + S + β₀ N / β* (x̄ − μ₀)(x̄ − μ₀)ᵀ.
    Defaults: μ₀ = 0, β₀ = 2, ν₀ = d, W₀ = I.

    The sums and the scatter come from one float64 Gram, Σ [x 1][x 1]ᵀ
    (:func:`_row_gram`), with S = Σ x_k x_kᵀ − N x̄ x̄ᵀ: 4x faster than centering
    a float64 copy of 480k factor rows first (38 -> 9 ms). The subtraction costs
    about 2·log10(mean / spread) of float64's 16 digits (8 where the mean is 1e4
    times the spread); factor rows are spread around a mean near 0.
    """
    X = np.asarray(X)
    N, d = X.shape
    mu0 = np.zeros(d) if mu0 is None else np.asarray(mu0, np.float64)
    nu0 = float(d) if nu0 is None else float(nu0)
    W0_inv = np.eye(d) if W0_inv is None else np.asarray(W0_inv, np.float64)
    M = _row_gram(X, ones=True)
    xbar = M[d, :d] / N if N else np.zeros(d)
    S = M[:d, :d] - N * np.outer(xbar, xbar)
    beta = beta0 + N
    diff = xbar - mu0
    W_inv = W0_inv + S + (beta0 * N / beta) * np.outer(diff, diff)
    return (beta0 * mu0 + N * xbar) / beta, beta, nu0 + N, 0.5 * (W_inv + W_inv.T)


def _row_gram(X, ones=False):
    """Σ z zᵀ over the rows z of X, or of [x 1] with ``ones`` (then the last row
    holds the sums and the count), in float64: each block of ``_GRAM_BLOCK`` rows
    converted into one reused buffer, never a float64 copy of all of X."""
    N, d = X.shape
    e = d + bool(ones)
    M = np.zeros((e, e))
    C = np.empty((min(N, _GRAM_BLOCK), e))
    if ones:
        C[:, d] = 1.0
    for start in range(0, N, _GRAM_BLOCK):
        b = min(_GRAM_BLOCK, N - start)
        C[:b, :d] = X[start:start + b]
        M += C[:b].T @ C[:b]
    return M


def draw_normal_wishart(rng, mu, beta, nu, W_inv):
    """(μ, Λ) ~ Normal-Wishart: Λ ~ Wishart(ν, W), then μ ~ N(mu, (β Λ)⁻¹).

    Draws from ``rng`` in the order :func:`draw_wishart`'s, then d standard normals.

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.models.bayesian import draw_normal_wishart
    >>> mu, Lam = draw_normal_wishart(np.random.default_rng(0), np.zeros(2), 2.0, 3.0, np.eye(2))
    >>> mu.shape, Lam.shape
    ((2,), (2, 2))
    """
    d = len(mu)
    # W = (W⁻¹)⁻¹ through its Cholesky factor, symmetric by construction.
    C = np.linalg.cholesky(W_inv)
    Ci = scipy.linalg.solve_triangular(C, np.eye(d), lower=True)
    Lam = draw_wishart(rng, nu, Ci.T @ Ci)
    L = np.linalg.cholesky(beta * Lam)
    z = rng.standard_normal(d)
    return mu + scipy.linalg.solve_triangular(L, z, lower=True, trans="T"), Lam


def draw_noise_precision(rng, sse, nnz, shape0=ALPHA_SHAPE0, rate0=ALPHA_RATE0):
    """α | residuals ~ Gamma(shape0 + nnz/2, rate0 + sse/2) (one ``rng.gamma`` draw)."""
    return float(rng.gamma(shape0 + 0.5 * nnz, 1.0 / (rate0 + 0.5 * sse)))


def draw_precision_scales(rng, raw_sse, counts, alpha, shape):
    """τ_k | residuals ~ Gamma(shape + n_k/2, rate shape + α·raw_k/2), one per target.

    Target k's observations have precision α·τ_k·(the other side's scales); ``raw_sse``
    is Σ (other side's scale)·residual² over them and ``counts`` their number n_k.
    The prior τ_k ~ Gamma(shape, rate shape) has mean 1. One ``rng.gamma`` call.
    """
    return rng.gamma(shape + 0.5 * counts, 1.0 / (shape + 0.5 * alpha * raw_sse))


def draw_scale_shape(rng, scales, grid=SHAPE_GRID):
    """a | τ_1..τ_N, with τ_k ~ Gamma(a, rate a) and a log-uniform prior on ``grid``
    (a geometric grid): one draw from the posterior on the grid (``rng.choice``).

    log p(a | τ) = N (a log a − log Γ(a)) + (a − 1) Σ log τ_k − a Σ τ_k + const.

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.models.bayesian import draw_scale_shape
    >>> rng = np.random.default_rng(0)
    >>> a = draw_scale_shape(rng, rng.gamma(20.0, 1 / 20.0, size=5000))
    >>> bool(15 < a < 27)
    True
    """
    scales = np.asarray(scales, dtype=np.float64)
    a = np.asarray(grid, dtype=np.float64)
    if scales.size == 0:
        return float(rng.choice(a))
    lp = (scales.size * (a * np.log(a) - gammaln(a)) + (a - 1) * np.log(scales).sum()
          - a * scales.sum())
    p = np.exp(lp - lp.max())
    return float(rng.choice(a, p=p / p.sum()))


class _Scales:
    """One side's noise precision scales τ (all ones when that side's noise is not
    modelled), their shape a, and their sum over the kept samples."""

    def __init__(self, size, on, shape, active):
        self.on, self.active = on, active
        self.auto = shape == "auto"
        self.shape = _SHAPE_START if self.auto else shape
        self.tau = np.ones(size)
        self.total = np.zeros(size)

    def draw(self, rng, sse, counts, alpha):
        """New scales from the targets' Σ w·residual² at the current ones (``sse``,
        the half-step's); return Σ of it at the new scales."""
        raw = np.maximum(sse, 0.0) / self.tau
        self.tau = draw_precision_scales(rng, raw, counts, alpha, self.shape)
        if self.auto:
            self.shape = draw_scale_shape(rng, self.tau[self.active])
        return float(np.dot(self.tau, raw))


def sweep_rng(seed, sweep, kind):
    """The numpy Generator of sweep ``sweep``'s draws of ``kind`` (items' or users'
    hyperparameters, noise precision): a function of (seed, sweep, kind) only."""
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, sweep, kind])))


# ---------------------------------------------------------------- the model

class BayesianALS(CompletionModel):
    """Bayesian matrix factorization with biases, by Gibbs sampling on the ALS kernel.

    The model of Salakhutdinov & Mnih, "Bayesian probabilistic matrix
    factorization using Markov chain Monte Carlo" (ICML 2008), with biases:

        x_ij ~ N(μ + b_i + c_j + u_iᵀ v_j, 1/(α τ_i κ_j))
        (u_i, b_i) ~ N(μ_U, Λ_U⁻¹),   (v_j, c_j) ~ N(μ_V, Λ_V⁻¹)
        (μ_U, Λ_U), (μ_V, Λ_V) ~ Normal-Wishart(μ₀ = 0, β₀ = 2, ν₀ = d, W₀ = I)
        α ~ Gamma(shape 1, rate 1)
        τ_i ~ Gamma(a, rate a),  κ_j ~ Gamma(a', rate a')   (mean 1)
        a, a' ~ log-uniform on [0.5, 1e4]

    with d = rank + 1 and μ fixed at the start's global mean (the sampled
    bias means μ_U, μ_V absorb any offset), on the values divided by their
    standard deviation σ (``value_scale_``) and scaled back: W₀ = I and α's
    prior mean the same whatever the rating scale, and ratings in other units
    (×c) give the same predictions in those units. (On the raw values W₀ = I
    is a stronger prior the smaller the values: MovieLens 100K's ratings ×0.01
    gave 0.8985 RMSE (rescaled) against 0.8938 at ×1, ×0.1 0.8971; standardized,
    0.8938 at every scale; ``kfold(5, random_state=0)``, exact mean, 200
    sweeps.) One sweep draws the items' hyperparameters given the item rows,
    every item row from its Gaussian conditional, the same for the users, then
    α. A row's conditional is the
    ALS normal equations with λI replaced by Λ:
    ``P = α Σ f fᵀ + Λ``, ``h = α Σ (x − μ − b) f + Λ μ_V``, and the draw is
    ``P⁻¹h + L⁻ᵀz`` (P = L Lᵀ), computed by the same compiled half-step as ALS
    with one extra triangular solve; ``z`` comes from a counter-based
    generator keyed by (seed, sweep, side, row), so every sample is bitwise
    identical for any ``n_threads``. Rows without observations keep zero
    factors and are left out of the hyperparameter updates.

    The noise scales τ_i (per row) and κ_j (per column) let some users'
    and items' ratings be noisier than others' (``noise="global"`` is the
    paper's single α: τ = κ = 1). With them, a row's conditional is the same
    half-step with per-observation weights τ_i κ_j, and each scale is a
    conjugate Gamma draw from its target's weighted residuals, which the
    half-step returns: κ after the items, τ after the users. The shapes a,
    a' are drawn too (on a geometric grid of 256 values), so the data choose
    how unequal the noise is: on equal noise they go to the top of the grid
    (scales ≈ 1, the global model), on data with noisy and clean rows to the
    bottom. On MovieLens 100K (5-fold, fold seeds 0, 1, 2) this gave 0.8896,
    0.8893, 0.8898 RMSE against 0.8944, 0.8953, 0.8942 with one α; it was
    better on every thinned set and on synthetic data with noisy and clean
    rows, and no worse where the noise is equal
    (``python bench/run.py bayesian_noise``). The weights need no nnz-long
    array: each side's scales sit in a spare lane of its factor rows, which
    the other side's half-step reads as its observations' weights, and
    multiply the target's own sums (``_als.half_step``'s ``weight_lane`` and
    ``target_weights``; see the guide for the Netflix-shape figures).

    The chain starts from a short ALS fit (spectral start + 5 iterations), so
    little burn-in is needed. Predictions are the posterior predictive mean,
    the average of μ + b_i + c_j + u_iᵀv_j over the kept samples (sweeps after
    ``burn_in``, every ``thin``-th). That average is itself low rank, of rank
    K·rank for K kept samples (the kept factors side by side, the left ones
    scaled by 1/K). With ``mean_rank=None`` ``factors_`` holds exactly that;
    by default the factor part is kept compressed to rank ``mean_rank``: the
    kept samples gather in a buffer of 8 and each full buffer is folded into
    a truncated SVD of the running sum (in ``dtype``, its Gram in float64: its
    rounding is far below the truncation's error).
    ``truncation_error_`` bounds the result against the exact mean: ``"max"``
    bounds every entry's error (the sum of the spectral norms dropped by the
    folds, / K) and ``"rms"`` the root mean square over all m·n entries (the
    Frobenius norms, / K / √(mn)). Either way ``to_lowrank()`` is the model's
    prediction, so ``Recommender``, ``evaluate`` and ``save`` work unchanged,
    and top-k costs (mean_rank + 2) / (rank + 2) times ALS's.

    Memory: the kept samples take (mean_rank + 8·rank)·(m + n) numbers of
    ``dtype``, plus mean_rank·(m + n) during a fold (the new compressed sum
    before it replaces the old; the sum beside the buffer is a view);
    exact (``mean_rank=None``) K·rank·(m + n), allocated once at the start.
    With rank 10, float32 and K = 200 at the Netflix shape (497,959 rows and
    columns): 0.22 GB (+0.07 GB during a fold, measured) compressed, whatever K,
    4.0 GB exact. The noise scales add nothing per rating (a factor row
    with a spare lane: rank 15 with biases takes rows of 32 floats, not 16).

    Parameters
    ----------
    rank : int, default=10
        Number of latent factors.
    n_samples : int, default=200
        Gibbs sweeps in all, burn-in included. On MovieLens 100K (rank 10,
        ``kfold(5, random_state=0)``, mean of the folds, burn-in 0) the
        posterior mean's test RMSE is 0.8914 after 50 sweeps, 0.8901 after
        100 and 0.8894 after 200 (``python bench/run.py bayesian``); with
        ``noise="global"`` 0.8939 after 200 and 0.8936 after 300: by 200 the
        chain's mean is within 1e-3 of where it converges
        (``bench/bench_bayesian_chain.py``, ``bench/bench_bayesian_options.py``).
    burn_in : int, default=0
        Sweeps discarded before the first kept sample (0 ≤ burn_in < n_samples).
        The chain starts from the ALS fit, a point of high posterior density,
        so no sample is discarded by default, as libFM's and myFM's MCMC keep
        every sample: on MovieLens 100K (``noise="global"``, 5 folds each of
        ``kfold(5, random_state=s)``, s = 0, 1, 2, 200 sweeps) burn-in 0 gives 0.8939,
        0.8947 and 0.8944 against 0.8946, 0.8954 and 0.8951 with burn-in 20
        (100: 0.8962 on s = 0), and on synthetic data of known rank 5, 10 and
        20 it is as good or better (``bench/bench_bayesian_options.py``).
    thin : int, default=1
        Keep every ``thin``-th sweep after the burn-in: fewer kept samples, less
        memory (see above), slightly less accuracy (the samples are correlated,
        but averaging them still helps).
    mean_rank : int, "auto" or None, default="auto"
        Rank of the stored posterior mean's factor part (``"auto"``: 3·rank);
        ``None`` keeps every sample (exact, rank K·rank).
    biases : bool, default=True
        Sample row and column biases (inside the factor rows' Gaussians).
    noise : {"rows+cols", "rows", "cols", "global"}, default="rows+cols"
        Which noise precision scales to sample: per row (τ_i), per column
        (κ_j), both, or none (one α for every rating, the BPMF of the paper).
    noise_shape : "auto" or float > 0, default="auto"
        The scales' Gamma shape a (their prior Gamma(a, rate a) has mean 1
        and variance 1/a): sampled (``"auto"``, started at 10), or fixed. A
        large fixed value (1e6) gives the global model again.
    clip : bool, default=True
        Clip predictions to the range of the training values.
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
    factors_ : LowRank
        The posterior mean's factor part: rank ``mean_rank`` (balanced
        factors U√s, V√s of its truncated SVD), or the kept samples' factors
        side by side (rank K·rank) with ``mean_rank=None``.
    truncation_error_ : dict
        ``{"max": ..., "rms": ...}``: upper bounds on the largest entry error
        and on the root mean square error over all entries of ``to_lowrank()``
        against the exact posterior mean (both 0 with ``mean_rank=None``;
        float rounding of ``dtype`` aside).
    row_bias_, col_bias_ : ndarray
        Posterior means of the biases.
    mean_ : float
    value_scale_ : float
        σ, the standard deviation of the training values (1.0 if they are all
        equal): the chain runs on values / σ.
    alpha_ : float
        The last sampled noise precision (of the values, not of values / σ);
        rating (i, j)'s is ``alpha_ * row_precision_[i] * col_precision_[j]``
        (as estimated).
    row_precision_, col_precision_ : ndarray of float64
        Posterior means of the rows' and columns' noise precision scales τ_i,
        κ_j over the kept samples (all ones for a side whose noise is not
        sampled): below 1 for the noisier users or items.
    noise_shape_ : tuple
        The last sampled (or fixed) shapes (a, a') of the rows' and columns'
        scales, None for a side not sampled.
    n_kept_ : int
        Kept samples K.
    history_ : dict of lists
        Per sweep: ``iteration``, ``train_rmse`` (of the sample on the training
        data; weighted by the noise scales τ_i κ_j the users' draw used, unless
        ``noise="global"``), ``valid_rmse`` (of the exact running posterior
        mean, before any compression; of the sample itself during burn-in; NaN
        without validation data), ``alpha``, ``seconds``.
    n_iter_ : int
        Sweeps run.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> R, _ = lorank.datasets.synthetic(200, 100, 5000, rank=3, random_state=0)
    >>> train, test = R.split(0.2, random_state=0)
    >>> model = lorank.BayesianALS(3, n_samples=30, burn_in=5, random_state=0).fit(train)
    >>> model.n_kept_
    25
    >>> rows, cols, values = test.coo()
    >>> bool(np.sqrt(np.mean((model.predict_positions(rows, cols) - values) ** 2)) < 1.0)
    True
    """


    def __init__(
        self,
        rank=10,
        *,
        n_samples=200,
        burn_in=0,
        thin=1,
        mean_rank="auto",
        biases=True,
        clip=True,
        dtype=np.float32,
        n_threads=None,
        random_state=None,
        progress=False,
        callback=None,
        noise="rows+cols",
        noise_shape="auto",
    ):
        self.rank = rank
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.thin = thin
        self.mean_rank = mean_rank
        self.biases = biases
        self.clip = clip
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress
        self.callback = callback
        self.noise = noise
        self.noise_shape = noise_shape

    def _check_params(self, ratings):
        if ratings.nnz == 0:
            raise ValueError("X has no observed entries")
        rank = check_rank(self.rank, ratings.shape)
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
        for name in ("biases", "clip", "progress"):
            check_bool(getattr(self, name), name)
        check_callback(self.callback)
        check_random_state(self.random_state)
        check_choice(self.noise, "noise", NOISE_CHOICES)
        if isinstance(self.noise_shape, str):
            noise_shape = check_choice(self.noise_shape, "noise_shape", ("auto",))
        else:
            noise_shape = check_real(self.noise_shape, "noise_shape", minimum=0.0)
            if noise_shape == 0:
                raise ValueError("noise_shape must be > 0 (or \"auto\"), got 0")
        n_threads = check_n_threads(self.n_threads)
        widest = _als.MAX_ROW_BYTES // ratings.dtype.itemsize
        if rank + bool(self.biases) > widest:
            raise ValueError(
                f"rank={rank} is too large: BayesianALS supports rank + biases <= {widest} "
                f"in {ratings.dtype}"
            )
        if self.mean_rank is None:
            mean_rank = None
        elif isinstance(self.mean_rank, str):
            if self.mean_rank != "auto":
                raise ValueError(f'mean_rank must be "auto", an int >= 1 or None, got '
                                 f"{self.mean_rank!r}")
            mean_rank = _AUTO_MEAN_RANK * rank
        else:
            mean_rank = check_int(self.mean_rank, "mean_rank", minimum=1)
        return rank, n_samples, burn_in, thin, mean_rank, noise_shape, n_threads

    def _fit(self, ratings, valid):
        from .als import ALS, _factor_storage

        (rank, n_samples, burn_in, thin, mean_rank, noise_shape,
         n_threads) = self._check_params(ratings)
        dtype = ratings.dtype
        biases = bool(self.biases)
        d = rank + biases
        m, n = ratings.shape
        nnz = ratings.nnz
        seed = _seed(self.random_state)
        self.rating_range_ = rating_range(ratings)
        # The chain runs on the values divided by their standard deviation σ, so
        # that its priors (W₀ = I, α's Gamma(1, 1)) and the start's reg mean the
        # same on every rating scale; what it learns is scaled back.
        sigma = value_scale(ratings.csr.values)
        self.value_scale_ = sigma
        ratings = ratings._scaled(1.0 / sigma)
        root = np.sqrt(sigma)

        start = ALS(rank, reg=1.0, biases=biases, max_iter=_START_ITER, tol=0, dtype=dtype,
                    n_threads=n_threads, random_state=seed, clip=False).fit(ratings)
        # With noise scales, each side's scales sit in the spare lane d of its factor
        # rows: the other side's half-step reads them there as its observations'
        # weights (τ_i κ_j = the lane times the target's own scale), with no nnz array.
        lanes = self.noise != "global"
        A, B = _factor_storage(m, d + lanes, dtype), _factor_storage(n, d + lanes, dtype)
        A[:, :rank], B[:, :rank] = start.factors_.left, start.factors_.right
        if biases:
            A[:, rank], B[:, rank] = start.row_bias_, start.col_bias_
        mean = float(start.mean_)
        # α of the start's residuals, at most _START_ALPHA_MAX (values / σ: the start
        # may interpolate them, e.g. when all are equal, which would leave the first
        # conditionals' prior Λ/α below float32's rounding of the data's Gram).
        sse0 = start.history_["train_rmse"][-1] ** 2 * nnz
        alpha = min(nnz / max(sse0, 1e-300), _START_ALPHA_MAX)

        n_kept = (n_samples - burn_in) // thin
        # The kept samples: side by side or folded into a truncated SVD (the
        # memory the docstring states).
        samples = _SampleMean(m, n, rank, n_kept, mean_rank, dtype)
        bsum, csum = np.zeros(m), np.zeros(n)
        active = {"cols": ratings.col_counts > 0, "rows": ratings.row_counts > 0}
        all_active = {side: bool(a.all()) for side, a in active.items()}
        if valid is not None:
            vr, vc, vx = valid.coo()
            vx = vx / sigma
            vsum = np.zeros(len(vx))
        lo, hi = (v / sigma for v in self.rating_range_)
        self.mean_ = mean * sigma
        self.n_kept_ = 0

        scales = {side: _Scales(size, self.noise in (side, "rows+cols"), noise_shape,
                                active[side])
                  for side, size in (("rows", m), ("cols", n))}
        counts = {"rows": ratings.row_counts, "cols": ratings.col_counts}
        factors = {"rows": A, "cols": B}

        def set_lane(side):
            if lanes:
                factors[side][:, d] = scales[side].tau

        set_lane("rows")
        set_lane("cols")
        # Σ w over each user's ratings at the users' half-step: the kernel's with the
        # bias lane, else τ_i Σ_j κ_j by a pass over the indices.
        w_sums = np.empty(m)

        def train_weight():
            if not lanes:
                return float(nnz)
            if not biases:
                _sparse.scale_sums(ratings.csr.indptr, ratings.csr.indices,
                                   scales["cols"].tau, w_sums, n_threads)
                np.multiply(w_sums, scales["rows"].tau, out=w_sums)
            return float(w_sums.sum())

        def half_step(side, fixed, solved, sweep, alpha, exact_sse=True):
            view = ratings.csc if side == "cols" else ratings.csr
            kind = _ITEMS if side == "cols" else _USERS
            rows = solved[:, :d] if all_active[side] else solved[active[side], :d]
            mu, Lam = draw_normal_wishart(sweep_rng(seed, sweep, kind),
                                          *normal_wishart_posterior(rows))
            size = solved.shape[0]
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            weighting = {}
            if lanes:
                weighting = dict(weight_lane=d, target_weights=scales[side].tau)
                if side == "rows" and biases:
                    weighting["weight_sums"] = w_sums
            _als.half_step(view.indptr, view.indices, view.values, fixed, solved, mean,
                           np.zeros(size), biases, rank, sse, rsum, status, n_threads,
                           **weighting, prior=Lam / alpha,
                           prior_h=(Lam @ mu) / alpha,
                           sample_scale=alpha ** -0.5, seed=seed, stream=2 * sweep + kind,
                           exact_sse=exact_sse)
            bad = np.flatnonzero(status)
            if bad.size:
                k = int(bad[0])
                raise np.linalg.LinAlgError(
                    f"the Gaussian conditional of {side[:-1]} {k} "
                    f"({int(np.diff(view.indptr)[k])} observations, {d} unknowns) in sweep "
                    f"{sweep} is not positive definite (noise precision α = {alpha:.3g}); "
                    "use dtype=np.float64, or rescale the values"
                )
            return sse

        def publish(final=False):
            """The model as of the last complete sweep (the kept samples' mean, or
            the current sample during burn-in)."""
            if self.n_kept_:  # new arrays (at the end: the exact buffers themselves)
                left, right = samples.mean(final)
                row_bias, col_bias = bsum / self.n_kept_, csum / self.n_kept_
            else:
                left, right = A[:, :rank].copy(), B[:, :rank].copy()
                row_bias, col_bias = (A[:, rank], B[:, rank]) if biases else (None, None)
            self.row_precision_, self.col_precision_ = (
                side.total / self.n_kept_ if self.n_kept_ else side.tau.copy()
                for side in scales.values())
            self.noise_shape_ = tuple(side.shape if side.on else None
                                      for side in scales.values())
            left *= left.dtype.type(root)  # back to the values' scale
            right *= right.dtype.type(root)
            self._set_learned(left, right,
                              None if row_bias is None else row_bias * sigma,
                              None if col_bias is None else col_bias * sigma)
            self.truncation_error_ = {k: v * sigma for k, v in
                                      _truncation_error(samples, m, n).items()}

        def finish():
            """The end of the fit (also on Ctrl-C): the last buffer folded in."""
            if mean_rank is not None:
                samples.fold()
            publish(final=True)

        publish()  # the start is the state before the first sweep
        # One BLAS thread for the whole chain: the hyperparameter draws and folds are
        # tiny LAPACK calls, which on a busy machine wait on descheduled OpenBLAS
        # threads (ML-100k fold at load 20: 52 s wall for 4.6 s of CPU, 33 s of it in
        # 11 x 11 triangular solves), and the kernel calls BLAS inside OpenMP.
        with single_threaded_blas(), self._iterations(
                n_samples, ("train_rmse", "valid_rmse", "alpha"), desc="BayesianALS",
                on_interrupt=finish, what="samples") as run:
            for sweep in range(1, n_samples + 1):
                # The items' sse only draws their noise scales: the kernel's identity
                # (no second pass over close fits; its rounding is far below the draw's
                # spread), clipped at 0.
                sse_c = half_step("cols", A, B, sweep, alpha, False)
                if scales["cols"].on:
                    scales["cols"].draw(sweep_rng(seed, sweep, _COL_SCALES), sse_c,
                                        counts["cols"], alpha)
                    set_lane("cols")
                sse_r = half_step("rows", B, A, sweep, alpha)
                train_sse = float(sse_r.sum())  # Σ w r² (w = 1 with noise="global")
                train_w = train_weight()
                sse = train_sse
                if scales["rows"].on:
                    sse = scales["rows"].draw(sweep_rng(seed, sweep, _ROW_SCALES), sse_r,
                                              counts["rows"], alpha)
                    set_lane("rows")
                if not (np.isfinite(A).all() and np.isfinite(B).all() and np.isfinite(sse)):
                    raise FloatingPointError(
                        f"BayesianALS sweep {sweep} produced non-finite factors; "
                        "use dtype=np.float64 or rescale the values"
                    )
                alpha = draw_noise_precision(sweep_rng(seed, sweep, _NOISE), sse, nnz)
                kept = sweep > burn_in and (sweep - burn_in) % thin == 0
                valid_rmse = np.nan
                if kept:
                    samples.add(A, B)
                    for side in scales.values():
                        side.total += side.tau
                    if biases:
                        bsum += A[:, rank]
                        csum += B[:, rank]
                    self.n_kept_ = samples.count
                if valid is not None:
                    if kept or not self.n_kept_:
                        pred = _sample_entries(A, B, rank, biases, mean, vr, vc, n_threads)
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
                train_rmse = sigma * np.sqrt(max(train_sse, 0.0) / train_w)
                if not run.record(sweep, train_rmse=train_rmse,
                                  valid_rmse=sigma * valid_rmse, alpha=self.alpha_):
                    break
        finish()

    def _set_learned(self, left, right, row_bias, col_bias):
        """factors_ = LowRank(left, right) (the mean's factor part); the biases' means."""
        dtype = left.dtype
        self.factors_ = LowRank(np.ascontiguousarray(left), np.ascontiguousarray(right))
        m, n = len(left), len(right)
        self.row_bias_ = (np.zeros(m) if row_bias is None else row_bias).astype(dtype)
        self.col_bias_ = (np.zeros(n) if col_bias is None else col_bias).astype(dtype)
        self._lowrank = None


register(BayesianALS)


class _SampleMean:
    """Σ_k U_k V_kᵀ over the kept samples (the factor part of the posterior mean).

    ``mean_rank=None``: every sample kept, side by side (exact). Otherwise the
    samples gather in a buffer of ``_BUFFER`` and each full buffer is folded into
    a rank-``mean_rank`` truncated SVD of the running sum (``_leading_factors``
    of the sum so far beside the buffer). A fold that drops singular
    values σ_{t+1} ≥ σ_{t+2} ≥ ... adds an error of spectral norm σ_{t+1} and
    Frobenius norm (Σ σ²)^½; by the triangle inequality the sums of those over
    the folds bound the compressed sum's error, in both norms.

    One array per side holds both, columns [t − w, t) the compressed sum (w <= t
    = mean_rank columns, written by the folds) and [t, t + buffer·rank) the
    buffer: the sum beside the buffer is a view, never a copy (a fresh 211 MB
    copy per fold cost 0.3-0.5 s at the Netflix shape inside a fit, its pages
    faulted in each time).
    """

    def __init__(self, m, n, rank, n_kept, mean_rank, dtype):
        self.rank, self.mean_rank, self.dtype = rank, mean_rank, dtype
        self.buffer = n_kept if mean_rank is None else min(n_kept, _BUFFER)
        self.t = 0 if mean_rank is None else mean_rank
        self.L = np.empty((m, self.t + self.buffer * rank), dtype)
        self.R = np.empty((n, self.t + self.buffer * rank), dtype)
        self.width = 0        # columns of the compressed sum
        self.pending = 0      # samples in the buffer
        self.count = 0        # samples in all
        self.spectral = 0.0   # error bounds of the sum: spectral and Frobenius norm
        self.frobenius = 0.0

    def add(self, A, B):
        r, c = self.rank, self.t + self.pending * self.rank
        self.L[:, c:c + r] = A[:, :r]
        self.R[:, c:c + r] = B[:, :r]
        self.pending += 1
        self.count += 1
        if self.mean_rank is not None and self.pending == self.buffer:
            self.fold()

    def _side_by_side(self):
        cols = slice(self.t - self.width, self.t + self.pending * self.rank)
        return self.L[:, cols], self.R[:, cols]

    def fold(self):
        """Compress the sum so far (with the buffer) to rank ``mean_rank``."""
        if self.pending == 0:
            return
        L, R = self._side_by_side()
        # One BLAS thread: the same bits for any thread count (and no oversubscribed
        # BLAS threads spinning on a busy machine: 14x faster there, measured).
        with single_threaded_blas():
            left, right, s = _leading_factors(L, R, self.mean_rank)
        dropped = s[self.mean_rank:]
        if dropped.size:
            self.spectral += float(dropped[0])
            self.frobenius += float(np.sqrt(np.sum(dropped * dropped)))
        self.width = left.shape[1]
        self.L[:, self.t - self.width:self.t] = left
        self.R[:, self.t - self.width:self.t] = right
        self.pending = 0

    def mean(self, final=False):
        """(left, right) of the mean so far: the compressed sum beside the buffer, / K.
        ``final``: the samples are scaled in place (no copy; the end of the fit)."""
        scale = self.dtype.type(1.0 / self.count)
        L, R = self._side_by_side()
        if not final:
            return L * scale, R.copy()
        L *= scale
        return L, R


def _leading_factors(L, R, t):
    """(left, right, s): the best rank-t approximation of L Rᵀ as left rightᵀ
    (left = U_t √s_t, right = V_t √s_t, in L's dtype) and every singular value s.

    The shorter side is reduced by a QR, R = Q₂R₂, so that L Rᵀ = (L R₂ᵀ) Q₂ᵀ;
    the right singular vectors and values of L R₂ᵀ come from the
    eigendecomposition of its Gram R₂ (LᵀL) R₂ᵀ, with LᵀL summed in float64 over
    row blocks of L, and left = L (R₂ᵀ V_t) / √s_t, one product with the tall
    side. A Householder QR of the tall side (``LowRank.svd``) sweeps it once
    per column panel: at the Netflix shape (480k x 110 float32, one thread)
    that took 2.12 s against 0.35 s for this (``python bench/run.py
    bayesian_fold``; inside a fit, 1.4 s against 0.42-0.47 s). The squared singular
    values are exact to float64's rounding of ‖L‖²‖R‖², far below float32
    storage's when the columns do not cancel (consecutive samples do not).
    """
    if len(L) < len(R):
        right, left, s = _leading_factors(R, L, t)
        return left, right, s
    Q2, R2 = scipy.linalg.qr(R, mode="economic", check_finite=False)
    R2 = R2.astype(np.float64)
    ev, V = np.linalg.eigh(R2 @ _row_gram(L) @ R2.T)
    s = np.sqrt(np.maximum(ev[::-1], 0.0))
    V = V[:, ::-1][:, :t]
    top = s[:t]
    scale = np.divide(1.0, np.sqrt(top), out=np.zeros_like(top), where=top > 0)
    left = L @ (R2.T @ (V * scale)).astype(L.dtype)    # (L R₂ᵀ) v / √s = U √s
    right = Q2 @ (V * (top * scale)).astype(Q2.dtype)  # Q₂ v √s = V √s
    return (np.ascontiguousarray(left, dtype=L.dtype),
            np.ascontiguousarray(right, dtype=L.dtype), s)


def _truncation_error(samples, m, n):
    """Bounds on the compressed mean's error against the exact one (zeros when exact)."""
    K = max(samples.count, 1)
    return {"max": samples.spectral / K, "rms": samples.frobenius / K / np.sqrt(m * n)}


def _sample_entries(A, B, rank, biases, mean, rows, cols, n_threads):
    """μ + b_i + c_j + u_iᵀv_j of the current sample at (rows, cols), float64."""
    d = rank + biases
    if biases:
        L = np.column_stack([A[:, :rank], A[:, rank] + A.dtype.type(mean), np.ones(len(A), A.dtype)])
        R = np.column_stack([B[:, :rank], np.ones(len(B), B.dtype), B[:, rank]])
    else:
        L, R = A[:, :d], B[:, :d]
    return LowRank(np.ascontiguousarray(L), np.ascontiguousarray(R)).entries(
        rows, cols, n_threads=n_threads).astype(np.float64)


def _seed(random_state):
    """A 63-bit integer seed of the counter-based streams."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}")
    return int(random_state) & (2**63 - 1)
