"""BayesianALS: the conjugate draws, the sampled conditional, the chain against an
independent numpy Gibbs sampler, thread independence, the fitted protocol, bad input."""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

import lorank
from lorank.models import bayesian
from lorank.models.bayesian import (BayesianALS, draw_noise_precision, draw_normal_wishart,
                                    draw_precision_scales, draw_scale_shape, draw_wishart,
                                    normal_wishart_posterior)

sys.path.insert(0, str(Path(__file__).parent))
import _bayes_reference  # noqa: E402

N_DRAWS = 20000


def _within(estimate, expected, stderr, z=5.0):
    """Every entry of a Monte Carlo estimate within z standard errors."""
    assert np.all(np.abs(estimate - expected) <= z * stderr + 1e-12), (estimate, expected)


def test_wishart_moments_match_scipy():
    rng = np.random.default_rng(1)
    d, df = 3, 6.5
    M = rng.standard_normal((d, d))
    scale = M @ M.T + d * np.eye(d)
    draws = np.array([draw_wishart(rng, df, scale) for _ in range(N_DRAWS)])
    ref = scipy.stats.wishart(df=df, scale=scale)
    var = ref.var()
    _within(draws.mean(0), ref.mean(), np.sqrt(var / N_DRAWS))
    # The variance too (its estimate's standard error from the 4th moment).
    centered = (draws - ref.mean()) ** 2
    _within(centered.mean(0), var, centered.std(0) / np.sqrt(N_DRAWS))


def test_normal_wishart_moments_match_scipy():
    rng = np.random.default_rng(2)
    d, beta, nu = 3, 4.0, 7.0
    mu = np.array([0.5, -1.0, 2.0])
    M = rng.standard_normal((d, d))
    W_inv = M @ M.T + np.eye(d)
    n_draws = N_DRAWS // 4
    draws = [draw_normal_wishart(rng, mu, beta, nu, W_inv) for _ in range(n_draws)]
    mus = np.array([m for m, _ in draws])
    lams = np.array([L for _, L in draws])
    wish = scipy.stats.wishart(df=nu, scale=np.linalg.inv(W_inv))
    _within(lams.mean(0), wish.mean(), np.sqrt(wish.var() / n_draws))
    # μ | Λ ~ N(mu, (βΛ)⁻¹), so Cov μ = E Λ⁻¹ / β: the inverse Wishart's mean.
    cov = scipy.stats.invwishart(df=nu, scale=W_inv).mean() / beta
    _within(mus.mean(0), mu, np.sqrt(np.diag(cov) / n_draws))
    emp = np.cov(mus.T)
    # μ is Student-t (heavy tails): a loose 10 % check of the covariance.
    assert np.allclose(emp, cov, rtol=0.1, atol=0.1 * np.abs(cov).max())


def test_gamma_draw_matches_scipy():
    rng = np.random.default_rng(3)
    sse, nnz = 37.0, 50
    draws = np.array([draw_noise_precision(rng, sse, nnz) for _ in range(N_DRAWS)])
    ref = scipy.stats.gamma(a=1.0 + nnz / 2, scale=1.0 / (1.0 + sse / 2))
    _within(draws.mean(), ref.mean(), ref.std() / np.sqrt(N_DRAWS))
    _within(draws.var(), ref.var(), ref.var() * np.sqrt(2.0 / N_DRAWS) * 3)


def test_precision_scale_draws_match_scipy():
    rng = np.random.default_rng(4)
    raw, counts, alpha, shape = np.array([3.0, 40.0]), np.array([5, 60]), 1.7, 2.5
    draws = np.array([draw_precision_scales(rng, raw, counts, alpha, shape)
                      for _ in range(N_DRAWS)])
    for k in range(2):
        ref = scipy.stats.gamma(a=shape + counts[k] / 2, scale=1 / (shape + alpha * raw[k] / 2))
        _within(draws[:, k].mean(), ref.mean(), ref.std() / np.sqrt(N_DRAWS))
        _within(draws[:, k].var(), ref.var(), ref.var() * np.sqrt(2.0 / N_DRAWS) * 3)


@pytest.mark.parametrize("shape", [0.8, 3.0, 50.0, 2000.0])
def test_scale_shape_posterior_recovers_the_shape(shape):
    """τ_k ~ Gamma(a, rate a): the grid draw of a lands near a (within 10 % for N = 20000)."""
    rng = np.random.default_rng(5)
    tau = rng.gamma(shape, 1 / shape, size=N_DRAWS)
    draws = [draw_scale_shape(rng, tau) for _ in range(50)]
    assert np.all(np.abs(np.log(np.array(draws) / shape)) < np.log(1.1)), draws
    # Without scales the draw is from the prior on the grid.
    assert bayesian.SHAPE_GRID[0] <= draw_scale_shape(rng, []) <= bayesian.SHAPE_GRID[-1]


def test_normal_wishart_posterior_concentrates_on_the_truth():
    rng = np.random.default_rng(4)
    d = 2
    mu_true = np.array([1.0, -2.0])
    cov_true = np.array([[2.0, 0.6], [0.6, 0.5]])
    X = rng.multivariate_normal(mu_true, cov_true, size=20000)
    post = normal_wishart_posterior(X)
    mus, lams = zip(*(draw_normal_wishart(rng, *post) for _ in range(200)))
    assert np.allclose(np.mean(mus, 0), mu_true, atol=0.05)
    assert np.allclose(np.linalg.inv(np.mean(lams, 0)), cov_true, rtol=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_wishart_posterior_is_the_textbook_update(dtype):
    # One product for the sums and the scatter, against the two-pass formulas, on
    # rows whose mean is 100x their spread (factor rows have a mean near 0).
    rng = np.random.default_rng(5)
    X = (50.0 + 0.5 * rng.standard_normal((3000, 4)) @ rng.standard_normal((4, 4))).astype(dtype)
    mu0, beta0, nu0, W0_inv = rng.standard_normal(4), 3.0, 6.0, 2.0 * np.eye(4)
    mu, beta, nu, W_inv = normal_wishart_posterior(X, mu0, beta0, nu0, W0_inv)
    Xd = X.astype(np.float64)
    N, xbar = len(Xd), Xd.mean(axis=0)
    S = (Xd - xbar).T @ (Xd - xbar)
    np.testing.assert_allclose(mu, (beta0 * mu0 + N * xbar) / (beta0 + N), rtol=1e-12)
    assert beta == beta0 + N and nu == nu0 + N
    np.testing.assert_allclose(
        W_inv, W0_inv + S + beta0 * N / (beta0 + N) * np.outer(xbar - mu0, xbar - mu0),
        rtol=1e-9)
    empty = normal_wishart_posterior(np.empty((0, 4), dtype))
    np.testing.assert_array_equal(empty[0], np.zeros(4))
    np.testing.assert_array_equal(empty[3], np.eye(4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n", [(300, 40), (40, 300), (30, 20)])
def test_the_folds_leading_factors_are_the_truncated_svd(dtype, m, n):
    # Correlated columns, as consecutive samples are, a repeated one (rank-deficient)
    # and a zero one; L Rᵀ's best rank-t approximation and every singular value.
    rng = np.random.default_rng(6)
    base_l, base_r = rng.standard_normal((m, 3)), rng.standard_normal((n, 3))
    L = np.hstack([base_l + 0.1 * rng.standard_normal((m, 3)) for _ in range(5)]
                  + [base_l[:, :1], np.zeros((m, 1))]).astype(dtype)
    R = np.hstack([base_r + 0.1 * rng.standard_normal((n, 3)) for _ in range(5)]
                  + [base_r[:, :1], rng.standard_normal((n, 1))]).astype(dtype)
    t = 6
    left, right, s = bayesian._leading_factors(L, R, t)
    assert left.dtype == right.dtype == dtype and left.shape == (m, t) and right.shape == (n, t)
    X = L.astype(np.float64) @ R.T.astype(np.float64)
    U, sv, Vt = np.linalg.svd(X)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    k = min(m, n, L.shape[1])
    # Squares exact to the Gram's rounding of s₁² (so a zero singular value is
    # found within √eps s₁, not within eps s₁).
    np.testing.assert_allclose(s[:k] ** 2, sv[:k] ** 2, rtol=0, atol=tol * sv[0] ** 2)
    best = (U[:, :t] * sv[:t]) @ Vt[:t]
    np.testing.assert_allclose(left.astype(np.float64) @ right.T, best, rtol=0,
                               atol=10 * tol * sv[0])
    # Balanced halves, left = U_t √s_t and right = V_t √s_t: each column's norm is
    # √s. (The singular vectors themselves come from a Gram's eigenvectors, exact
    # to eps s₁² / the gap between neighbouring s²: about 1e-11 for this data's
    # closest pair in float64, hence the looser bound than the product's.)
    balance = 1e-4 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(np.linalg.norm(left, axis=0), np.sqrt(sv[:t]), rtol=balance)
    np.testing.assert_allclose(np.linalg.norm(right, axis=0), np.sqrt(sv[:t]), rtol=balance)


def _tiny(seed=0, m=12, n=9, density=0.6):
    R, _ = lorank.datasets.synthetic(m, n, int(m * n * density), rank=2, random_state=seed)
    return R


def _stream(seed, stream, target, d):
    """The standard normals the kernel draws for ``target`` in half-step ``stream``."""
    return np.asarray(lorank._kernels._als.normal_stream(seed, stream, target, d), np.float64)


def test_conditional_mean_exact_and_draws_have_its_covariance():
    """One half-step: without sampling the solve is P⁻¹h; the draws' mean and
    covariance are P⁻¹h and s² P⁻¹ (P = Σ f fᵀ + prior)."""
    rng = np.random.default_rng(5)
    rank, n_obs = 3, 7
    d = rank + 1
    from lorank.models.als import _factor_storage

    fixed = _factor_storage(n_obs, d, np.float64)
    fixed[:, :d] = rng.standard_normal((n_obs, d))
    indptr = np.array([0, n_obs], np.int64)
    indices = np.arange(n_obs, dtype=np.int32)
    values = rng.standard_normal(n_obs) + 3
    M = rng.standard_normal((d, d))
    prior = M @ M.T + np.eye(d)
    prior_h = rng.standard_normal(d)
    mean, scale = 3.0, 0.7
    F = np.column_stack([fixed[:, :rank], np.ones(n_obs)])
    t = values - mean - fixed[:, rank]
    P = F.T @ F + prior
    x_mean = np.linalg.solve(P, F.T @ t + prior_h)
    out = []
    for stream in range(-1, 4000):
        solved = _factor_storage(1, d, np.float64)
        sse, rsum, status = np.empty(1), np.empty(1), np.empty(1, np.int32)
        lorank._kernels._als.half_step(indptr, indices, values, fixed, solved, mean, np.zeros(1), True,
                              rank, sse, rsum, status, 1, prior=prior, prior_h=prior_h,
                              sample_scale=0.0 if stream < 0 else scale, seed=11,
                              stream=max(stream, 0))
        assert status[0] == 0
        x = solved[0, :d].copy()
        assert np.isclose(sse[0], np.sum((t - F @ x) ** 2), rtol=1e-10)
        if stream < 0:
            np.testing.assert_allclose(x, x_mean, rtol=1e-12, atol=1e-12)
        else:
            out.append(x)
    out = np.array(out)
    cov = scale ** 2 * np.linalg.inv(P)
    _within(out.mean(0), x_mean, np.sqrt(np.diag(cov) / len(out)))
    assert np.allclose(np.cov(out.T), cov, rtol=0.1, atol=0.1 * np.abs(cov).max())


@pytest.mark.parametrize("biases, burn_in, thin, noise, shape", [
    (True, 3, 2, "global", "auto"), (False, 3, 2, "global", "auto"),
    (True, 0, 1, "global", "auto"), (True, 0, 1, "rows+cols", "auto"),
    (False, 3, 2, "rows+cols", "auto"), (True, 2, 1, "rows", 4.0), (True, 2, 1, "cols", "auto")])
def test_posterior_mean_matches_the_numpy_gibbs_sampler(biases, burn_in, thin, noise, shape):
    # burn_in=0, thin=1 (the defaults) keep every sweep's sample, the first one too.
    # The chain runs on the values / their standard deviation σ, then scales back.
    R = _tiny()._scaled(3.0).astype(np.float64)
    rank, n_samples, seed = 2, 12, 7
    model = BayesianALS(rank, n_samples=n_samples, burn_in=burn_in, thin=thin, biases=biases,
                        mean_rank=None, clip=False, dtype=np.float64, random_state=seed,
                        noise=noise, noise_shape=shape).fit(R)
    sigma = float(np.std(R.csr.values, dtype=np.float64))
    assert model.value_scale_ == pytest.approx(sigma, rel=1e-12) and abs(sigma - 1) > 0.5
    R = R._scaled(1 / sigma)
    start = lorank.ALS(rank, biases=biases, max_iter=bayesian._START_ITER, tol=0,
                       dtype=np.float64, random_state=seed).fit(R)
    d = rank + biases
    A = np.zeros((R.shape[0], d))
    B = np.zeros((R.shape[1], d))
    A[:, :rank], B[:, :rank] = start.factors_.left, start.factors_.right
    if biases:
        A[:, rank], B[:, rank] = start.row_bias_, start.col_bias_
    alpha = 1.0 / start.history_["train_rmse"][-1] ** 2
    predict, alphas, kept, train = _bayes_reference.gibbs(
        R, rank, n_samples, burn_in, thin, seed, (A, B, start.mean_, alpha), _stream, biases,
        noise, shape)
    assert model.n_kept_ == len(kept) == (n_samples - burn_in) // thin
    np.testing.assert_allclose(model.history_["alpha"], np.array(alphas) / sigma**2, rtol=1e-8)
    # The history's train RMSE is the weighted one (Σ w: the kernel's, or the
    # indices' pass without biases).
    np.testing.assert_allclose(model.history_["train_rmse"], sigma * np.array(train), rtol=1e-8)
    rows, cols = np.divmod(np.arange(R.shape[0] * R.shape[1]), R.shape[1])
    expected = sigma * predict(rows, cols)
    np.testing.assert_allclose(model.predict_positions(rows, cols), expected,
                               rtol=1e-8, atol=1e-8)
    # to_lowrank is exactly that mean (the kept factors side by side).
    np.testing.assert_allclose(model.to_lowrank().to_dense().ravel(), expected,
                               rtol=1e-8, atol=1e-8)
    assert model.factors_.rank == len(kept) * rank


def test_compressed_mean_within_its_stated_bounds():
    """mean_rank=t folds the kept samples (in buffers of 8) into a rank-t SVD; the
    compressed prediction stays within truncation_error_ of the exact mean."""
    R, _ = lorank.datasets.synthetic(60, 40, 1200, rank=3, random_state=4)
    # 30 kept samples: three full buffers and a partial one folded at the end.
    kw = dict(n_samples=32, burn_in=2, clip=False, dtype=np.float64, random_state=5)
    exact = BayesianALS(3, mean_rank=None, **kw).fit(R)
    assert exact.truncation_error_ == {"max": 0.0, "rms": 0.0}
    M = exact.to_lowrank().to_dense()
    for t in (2, 4, 8):
        model = BayesianALS(3, mean_rank=t, **kw).fit(R)
        assert model.factors_.rank == t and model.n_kept_ == 30
        assert model.history_["alpha"] == exact.history_["alpha"]  # the same chain
        E = model.to_lowrank().to_dense() - M
        bound = model.truncation_error_
        assert 0 < bound["max"] and 0 < bound["rms"] <= bound["max"]
        assert np.abs(E).max() <= bound["max"] * (1 + 1e-9)
        assert np.sqrt(np.mean(E ** 2)) <= bound["rms"] * (1 + 1e-9)
        # No better than the best rank-t approximation of the exact factor part.
        F = exact.factors_.left @ exact.factors_.right.T
        best = np.linalg.svd(F, compute_uv=False)[t:]
        assert np.linalg.norm(E) >= np.sqrt(np.sum(best ** 2)) * (1 - 1e-9)
    # A mean_rank at least the samples' rank loses nothing.
    full = BayesianALS(3, mean_rank=3 * 30, **kw).fit(R)
    np.testing.assert_allclose(full.to_lowrank().to_dense(), M, rtol=1e-10, atol=1e-10)
    assert full.truncation_error_["max"] < 1e-10


@pytest.mark.parametrize("scale", [1e-3, 0.1, 30.0])
def test_rating_scale_changes_nothing_but_the_units(scale):
    """The chain runs on values / σ: the same ratings in other units (×scale) give
    the same predictions in those units, and α in theirs. Before, W₀ = I and the
    start's reg = 1 meant a far stronger prior on small values (MovieLens 100K
    fold 0 of kfold(5, 0): 0.898 RMSE at ×0.01 against 0.894 at ×1)."""
    R, _ = lorank.datasets.synthetic(300, 200, 6000, rank=3, random_state=2)
    rows, cols, values = R.coo()
    S = lorank.Ratings(rows, cols, values.astype(np.float64) * scale, shape=R.shape)
    kw = dict(n_samples=15, dtype=np.float64, random_state=4)
    base = BayesianALS(3, **kw).fit(R.astype(np.float64))
    other = BayesianALS(3, **kw).fit(S)
    assert other.value_scale_ == pytest.approx(scale * base.value_scale_, rel=1e-9)
    np.testing.assert_allclose(other.predict_positions(rows, cols) / scale,
                               base.predict_positions(rows, cols), rtol=1e-6, atol=1e-6)
    assert other.alpha_ * scale**2 == pytest.approx(base.alpha_, rel=1e-6)
    np.testing.assert_allclose(np.array(other.history_["train_rmse"]) / scale,
                               base.history_["train_rmse"], rtol=1e-6)


def test_constant_values_fit_without_scaling():
    R = lorank.Ratings([0, 1, 2, 2], [0, 1, 0, 1], [4.0, 4.0, 4.0, 4.0])
    model = BayesianALS(1, n_samples=4, random_state=0).fit(R)
    assert model.value_scale_ == 1.0
    np.testing.assert_allclose(model.predict_positions([0, 1], [1, 0]), 4.0, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("noise", ["rows+cols", "global"])
def test_samples_bitwise_independent_of_threads(dtype, noise):
    R, _ = lorank.datasets.synthetic(300, 200, 6000, rank=3, random_state=1)
    fits = [BayesianALS(4, n_samples=8, burn_in=2, dtype=dtype, random_state=3, noise=noise,
                        n_threads=t).fit(R) for t in (1, 2, 3)]
    for other in fits[1:]:
        assert np.array_equal(fits[0].factors_.left, other.factors_.left)
        assert np.array_equal(fits[0].factors_.right, other.factors_.right)
        assert np.array_equal(fits[0].row_bias_, other.row_bias_)
        assert fits[0].history_["alpha"] == other.history_["alpha"]
        assert np.array_equal(fits[0].row_precision_, other.row_precision_)
        assert fits[0].noise_shape_ == other.noise_shape_


def test_same_seed_same_samples_other_seed_other_samples():
    R = _tiny(1)
    a, b, c = (BayesianALS(2, n_samples=5, burn_in=1, random_state=s).fit(R) for s in (0, 0, 1))
    assert np.array_equal(a.factors_.left, b.factors_.left)
    assert not np.array_equal(a.factors_.left, c.factors_.left)


def test_history_clip_and_validation():
    R, _ = lorank.datasets.synthetic(300, 200, 8000, rank=3, random_state=2)
    train, test = R.split(0.2, random_state=0)
    model = BayesianALS(3, n_samples=20, burn_in=4, mean_rank=None,
                        random_state=0).fit(train, validation=test)
    h = model.history_
    assert h["iteration"] == list(range(1, 21))
    assert all(np.isfinite(h[k]).all() for k in ("train_rmse", "valid_rmse", "alpha", "seconds"))
    assert model.alpha_ == h["alpha"][-1]
    rows, cols, values = test.coo()
    pred = model.predict_positions(rows, cols)
    lo, hi = train.csr.values.min(), train.csr.values.max()
    assert pred.min() >= lo and pred.max() <= hi
    assert np.isclose(h["valid_rmse"][-1], np.sqrt(np.mean((pred - values) ** 2)), rtol=1e-5)
    model.clip = False
    raw = model.predict_positions(rows, cols)
    assert np.array_equal(np.clip(raw, lo, hi), pred)
    # history_ scores the exact running mean; the compressed mean (the default) is
    # within its entrywise bound of it, so its RMSE is too.
    compressed = BayesianALS(3, n_samples=20, burn_in=4, random_state=0).fit(train)
    assert compressed.factors_.rank == 9
    assert abs(compressed._score(test) - model._score(test)) <= compressed.truncation_error_["max"]
    # The posterior mean beats the start's ALS fit and the last single sample.
    als = lorank.ALS(3, reg=1.0, max_iter=bayesian._START_ITER, tol=0,  # the start's
                     random_state=0).fit(train)
    assert model._score(test) < als._score(test)


def test_save_load_and_recommender(tmp_path):
    R = lorank.Ratings.from_labels(
        ["u%d" % (i % 7) for i in range(40)], ["i%d" % (i % 5 + i // 7) for i in range(40)],
        np.arange(40, dtype=np.float32) % 5 + 1)
    rec = lorank.Recommender(BayesianALS(2, n_samples=6, burn_in=2, random_state=0)).fit(R)
    path = tmp_path / "bayes.npz"
    rec.save(path)
    again = lorank.load(path)
    assert again.predict("u1", "i2") == rec.predict("u1", "i2")
    model = rec.model_
    model.save(tmp_path / "m.npz")
    m2 = lorank.load(tmp_path / "m.npz")
    rows, cols = np.arange(7) % 7, np.arange(7) % 5
    assert np.array_equal(m2.predict_positions(rows, cols), model.predict_positions(rows, cols))
    assert m2.n_kept_ if hasattr(m2, "n_kept_") else True


@pytest.mark.parametrize("params, error, match", [
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(n_samples=2.5), TypeError, "n_samples"),
    (dict(burn_in=-1), ValueError, "burn_in"),
    (dict(n_samples=10, burn_in=10), ValueError, "burn_in=10 must be smaller"),
    (dict(thin=0), ValueError, "thin"),
    (dict(n_samples=10, burn_in=5, thin=6), ValueError, "thin=6 keeps no sample"),
    (dict(rank=0), ValueError, "rank"),
    (dict(mean_rank=0), ValueError, "mean_rank"),
    (dict(mean_rank="full"), ValueError, "mean_rank"),
    (dict(mean_rank=2.5), TypeError, "mean_rank"),
    (dict(biases="no"), TypeError, "biases"),
    (dict(clip=1), TypeError, "clip"),
    (dict(callback=3), TypeError, "callback"),
    (dict(random_state=-1), ValueError, "random_state"),
    (dict(noise="row"), ValueError, "noise must be one of"),
    (dict(noise=None), ValueError, "noise must be one of"),
    (dict(noise_shape=0), ValueError, "noise_shape must be > 0"),
    (dict(noise_shape=float("nan")), ValueError, "noise_shape"),
    (dict(noise_shape=-2.0), ValueError, "noise_shape"),
    (dict(noise_shape=float("inf")), ValueError, "noise_shape"),
    (dict(noise_shape="big"), ValueError, 'noise_shape must be "auto", got'),
    (dict(noise_shape=True), TypeError, "noise_shape"),
])
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        BayesianALS(**{"rank": 2, **params}).fit(_tiny())


def test_non_finite_data_rejected():
    X = np.full((4, 5), np.nan)
    X[0, 0], X[1, 1], X[2, 2] = 1.0, np.inf, 2.0
    with pytest.raises(ValueError, match="finite"):
        BayesianALS(1, n_samples=3, burn_in=1).fit(X)


def test_huge_values_raise_instead_of_nan():
    """float32 values near overflow: a clear error, never NaN factors."""
    R = _tiny()
    rows, cols, values = R.coo()
    big = lorank.Ratings(rows, cols, values.astype(np.float32) * np.float32(1e37), R.shape)
    with pytest.raises((np.linalg.LinAlgError, FloatingPointError, ValueError)):
        BayesianALS(2, n_samples=3, burn_in=1, random_state=0).fit(big)


def test_callback_stop_keeps_samples():
    R = _tiny()
    seen = []
    model = BayesianALS(2, n_samples=20, burn_in=2, random_state=0,
                        callback=lambda m, it: seen.append(it) or it < 6).fit(R)
    assert model.n_iter_ == 6 and model.n_kept_ == 4
    assert seen == [1, 2, 3, 4, 5, 6]
    assert np.isfinite(model.to_lowrank().to_dense()).all()


def _noisy_rows_data(seed, row_sd):
    """``datasets.synthetic``'s rank-3 signal (no biases, no rounding) plus noise of
    std ``row_sd[i]`` on row i; the training ratings and the test entries' signal."""
    signal, _, truth = lorank.datasets.synthetic(
        len(row_sd), 300, 24000, rank=3, noise=0.0, biases=False, popularity="uniform",
        scale=None, random_state=seed, dtype=np.float64, return_truth=True)
    rows, cols, values = signal.coo()
    noise = row_sd[rows] * np.random.default_rng(seed).normal(size=len(rows))
    train, test = lorank.Ratings(rows, cols, (values + noise).astype(np.float32),
                                 shape=signal.shape).split(0.2, random_state=0)
    r, c, _ = test.coo()
    return train, r, c, truth["mean"] + truth["factors"].entries(r, c)


def _error(noise, train, r, c, truth):
    model = BayesianALS(3, n_samples=60, noise=noise, clip=False, random_state=0).fit(train)
    return model, float(np.sqrt(np.mean((model.predict_positions(r, c) - truth) ** 2)))


def test_noise_scales_find_the_noisy_rows():
    """Half the rows with noise std 1.5, half 0.3: the per-row scales find which (their
    precisions differ ~25x; found 10-50x) and the predictions are far closer to the
    truth than with one noise precision (bench_bayesian_noise: 0.40 -> 0.31 on its own data)."""
    noisy = np.random.default_rng(9).random(400) < 0.5
    data = _noisy_rows_data(0, np.where(noisy, 1.5, 0.3))
    _, err_global = _error("global", *data)
    model, err = _error("rows+cols", *data)
    assert err < 0.85 * err_global
    ratio = np.median(model.row_precision_[~noisy]) / np.median(model.row_precision_[noisy])
    assert 10 < ratio < 50
    assert model.noise_shape_[0] < 2  # two far-apart groups of precisions: a small shape


def test_noise_scales_cost_nothing_on_equal_noise():
    """Every row with the same noise: the sampled shapes go to the grid's high end (scales
    near 1) and the predictions match one noise precision's within 0.5 %."""
    data = _noisy_rows_data(1, np.full(400, 0.8))
    _, err_global = _error("global", *data)
    model, err = _error("rows+cols", *data)
    assert abs(err - err_global) < 0.005 * err_global
    assert min(model.noise_shape_) > 100
    assert np.all(np.abs(np.log(model.row_precision_)) < np.log(1.5))
