"""Baseline (damped biases) and prediction clipping."""

import numpy as np
import pytest

import lorank
from lorank import Baseline


def _biased(seed=0, m=120, n=80, density=0.3, noise=0.3):
    rng = np.random.default_rng(seed)
    u, c = rng.normal(0, 0.8, m), rng.normal(0, 0.6, n)
    rows, cols = np.nonzero(rng.random((m, n)) < density)
    x = 3.5 + u[rows] + c[cols] + rng.normal(0, noise, len(rows))
    return lorank.Ratings(rows, cols, np.clip(np.round(x), 1, 5), (m, n))


def _reference(R, reg_u, reg_i, epochs):
    """surprise's baseline_als in plain numpy (items first, then users)."""
    rows, cols, x = R.coo()
    x = x.astype(np.float64)
    mu = x.mean()
    bu, bi = np.zeros(R.shape[0]), np.zeros(R.shape[1])
    for _ in range(epochs):
        bi = np.bincount(cols, x - mu - bu[rows], R.shape[1]) / (reg_i + np.bincount(cols, minlength=R.shape[1]))
        bu = np.bincount(rows, x - mu - bi[cols], R.shape[0]) / (reg_u + np.bincount(rows, minlength=R.shape[0]))
    return mu, bu, bi


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_baseline_is_the_damped_als_biases(dtype):
    R = _biased().astype(dtype)
    model = Baseline(reg_users=7.0, reg_items=3.0, max_iter=6, tol=0, dtype=dtype).fit(R)
    mu, bu, bi = _reference(R, 7.0, 3.0, 6)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert model.mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.row_bias_, bu, rtol=tol, atol=tol)
    np.testing.assert_allclose(model.col_bias_, bi, rtol=tol, atol=tol)
    assert model.factors_.rank == 0 and model.n_iter_ == 6
    rows, cols, values = R.coo()
    pred = model.predict_positions(rows, cols)
    np.testing.assert_allclose(pred, np.clip(mu + bu[rows] + bi[cols], 1, 5), rtol=tol, atol=tol)
    # It beats the global mean on data with biases.
    assert model._rmse(R) < np.sqrt(np.mean((values - mu) ** 2)) * 0.8


def test_baseline_matches_surprise_baselineonly():
    surprise = pytest.importorskip("surprise")
    pd = pytest.importorskip("pandas")
    R = _biased(1)
    rows, cols, x = R.coo()
    df = pd.DataFrame({"u": rows, "i": cols, "r": x.astype(np.float64)})
    data = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5)))
    algo = surprise.BaselineOnly(verbose=False).fit(data.build_full_trainset())
    theirs = np.array([algo.predict(int(u), int(i)).est for u, i in zip(rows, cols)])
    ours = Baseline(reg_users=15, reg_items=10, max_iter=10, tol=0,
                    dtype=np.float64).fit(R).predict_positions(rows, cols)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_baseline_protocol(tmp_path):
    R = lorank.Ratings.from_labels(["a", "a", "b", "b", "c", "c"], [1, 2, 1, 3, 2, 3],
                                   [5.0, 4.0, 4.0, 1.0, 2.0, 1.0])
    rec = lorank.Recommender(Baseline()).fit(R)
    items, scores = rec.recommend("c", n=1)
    assert items.tolist() == [1]
    model = rec.model_
    model.save(tmp_path / "b.npz")
    again = lorank.load(tmp_path / "b.npz")
    assert type(again) is Baseline and again.rating_range_ == (1.0, 5.0)
    assert again.predict("a", 3) == model.predict("a", 3)
    assert model.history_["iteration"] == list(range(1, model.n_iter_ + 1))


def _em_reference(R, sweeps, lam_u=15.0, lam_c=10.0, auto=(True, True)):
    """Baseline's "auto" dampings in plain numpy: a sweep (items, then users) at
    the current dampings, then EM's σ², τ² and λ = σ²/τ² updates."""
    rows, cols, x = R.coo()
    x = x.astype(np.float64)
    mu, (m, n) = x.mean(), R.shape
    nu, nc = np.bincount(rows, minlength=m), np.bincount(cols, minlength=n)
    bu, bi, sigma2, used = np.zeros(m), np.zeros(n), None, []
    for _ in range(sweeps):
        bi = np.bincount(cols, x - mu - bu[rows], n) / (lam_c + nc)
        bu = np.bincount(rows, x - mu - bi[cols], m) / (lam_u + nu)
        used.append((lam_u, lam_c))
        e = x - mu - bu[rows] - bi[cols]
        sse = e @ e
        sigma2 = sse / len(x) if sigma2 is None else sigma2
        sigma2 = (sse + sigma2 * (np.sum(nu / (nu + lam_u)) + np.sum(nc / (nc + lam_c)))) / len(x)
        tu = np.mean(bu[nu > 0] ** 2 + sigma2 / (nu[nu > 0] + lam_u))
        tc = np.mean(bi[nc > 0] ** 2 + sigma2 / (nc[nc > 0] + lam_c))
        lam_u = sigma2 / tu if auto[0] else lam_u
        lam_c = sigma2 / tc if auto[1] else lam_c
    return mu, bu, bi, used


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("auto", [(True, True), (True, False), (False, True)])
def test_auto_damping_is_the_em_reference(dtype, auto):
    R = _biased(3).astype(dtype)
    params = {"reg_users": "auto" if auto[0] else 15.0, "reg_items": "auto" if auto[1] else 10.0}
    model = Baseline(**params, max_iter=12, tol=0, dtype=dtype).fit(R)
    mu, bu, bi, used = _em_reference(R, 12, auto=auto)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(model.history_["reg_users"], [u for u, _ in used], rtol=tol)
    np.testing.assert_allclose(model.history_["reg_items"], [c for _, c in used], rtol=tol)
    assert (model.reg_users_, model.reg_items_) == pytest.approx(used[-1], rel=tol)
    np.testing.assert_allclose(model.row_bias_, bu, rtol=tol, atol=tol)
    np.testing.assert_allclose(model.col_bias_, bi, rtol=tol, atol=tol)
    assert used[-1] != used[0]  # the dampings moved


def test_auto_damping_finds_the_variance_ratio_of_known_data():
    # u ~ N(0, 0.4²), c ~ N(0, 0.5²), noise σ = 0.5: the best dampings are
    # σ²/τ² = 1.5625 and 1.0, far from surprise's 15 and 10.
    rng = np.random.default_rng(7)
    m, n, nnz = 3000, 600, 90_000
    rows, cols = np.divmod(rng.choice(m * n, nnz + 20_000, replace=False), n)
    u, c = rng.normal(0, 0.4, m), rng.normal(0, 0.5, n)
    x = 3.5 + u[rows] + c[cols] + rng.normal(0, 0.5, len(rows))
    R = lorank.Ratings(rows[:nnz], cols[:nnz], x[:nnz], shape=(m, n))
    model = Baseline(max_iter=50, dtype=np.float64).fit(R)
    assert model.reg_users_ == pytest.approx(0.25 / 0.16, rel=0.15)
    assert model.reg_items_ == pytest.approx(1.0, rel=0.2)
    # On fresh ratings of the same users and items it beats surprise's dampings.
    r2, c2, y = rows[nnz:], cols[nnz:], x[nnz:]
    fixed = Baseline(reg_users=15, reg_items=10, dtype=np.float64, clip=False).fit(R)
    model.clip = False
    err = [np.sqrt(np.mean((b.predict_positions(r2, c2) - y) ** 2)) for b in (model, fixed)]
    assert err[0] < err[1] - 0.005


@pytest.mark.parametrize("values", [[4.0] * 6, [1.0, 1.0, 3.0, 3.0, 5.0, 5.0]])
def test_auto_damping_on_exact_or_constant_data_stays_finite(values):
    # All equal: no spread and no noise (λ stays). Row effects only, each row
    # constant: σ² -> 0, λ -> 0, plain means.
    R = lorank.Ratings([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1], values)
    model = Baseline(clip=False, max_iter=200, dtype=np.float64).fit(R)
    assert np.isfinite([model.reg_users_, model.reg_items_]).all()
    assert np.isfinite(model.row_bias_).all() and np.isfinite(model.col_bias_).all()
    np.testing.assert_allclose(model.predict_positions(*R.coo()[:2]), values, atol=1e-3)


@pytest.mark.parametrize("params, error, match", [
    (dict(reg_users=-1.0), ValueError, "reg_users"),
    (dict(reg_items="automatic"), TypeError, "reg_items must be a real number, got 'automatic'"),
    (dict(reg_items=float("nan")), ValueError, "reg_items"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(tol=-1e-3), ValueError, "tol"),
    (dict(tol="small"), TypeError, "tol"),
    (dict(clip="yes"), TypeError, "clip"),
])
def test_baseline_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        Baseline(**params).fit(_biased())


@pytest.mark.parametrize("make", [
    # A fixed reg: on these biases + noise the holdout path would warn (rightly)
    # that the factors add nothing.
    lambda: lorank.ALS(3, reg=1.0, random_state=0),
    lambda: lorank.SoftImpute(3, reg=1.0, random_state=0),
    lambda: lorank.BayesianALS(3, n_samples=6, burn_in=2, random_state=0),
    lambda: Baseline(),
], ids=["ALS", "SoftImpute", "BayesianALS", "Baseline"])
def test_predictions_clipped_to_the_training_range_by_default(make, tmp_path):
    R = _biased(2)
    model = make().fit(R)
    assert model.rating_range_ == (1.0, 5.0)
    rows, cols = np.divmod(np.arange(R.shape[0] * R.shape[1]), R.shape[1])
    pred = model.predict_positions(rows, cols)
    raw = model.to_lowrank().entries(rows, cols)
    assert pred.min() >= 1 and pred.max() <= 5
    np.testing.assert_array_equal(pred, np.clip(raw, 1, 5))
    model.save(tmp_path / "m.npz")
    assert np.array_equal(lorank.load(tmp_path / "m.npz").predict_positions(rows, cols), pred)
    model.clip = False
    np.testing.assert_array_equal(model.predict_positions(rows, cols), raw)


def test_tol_stops_when_the_loss_and_dampings_settle():
    R = _biased(4, m=400, n=300)
    full = Baseline(max_iter=60, tol=0, dtype=np.float64).fit(R)
    early = Baseline(max_iter=60, dtype=np.float64).fit(R)  # tol=1e-5
    assert early.n_iter_ < full.n_iter_ == 60
    h = early.history_
    last = [h["train_rmse"][-1] ** 2, h["reg_users"][-1], h["reg_items"][-1]]
    before = [h["train_rmse"][-2] ** 2, h["reg_users"][-2], h["reg_items"][-2]]
    assert max(abs(a - b) / b for a, b in zip(last[:1], before[:1])) < 1e-5
    rows, cols, _ = R.coo()
    np.testing.assert_allclose(early.predict_positions(rows, cols),
                               full.predict_positions(rows, cols), atol=1e-3)
