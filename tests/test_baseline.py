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
    model = Baseline(reg_users=7.0, reg_items=3.0, max_iter=6, dtype=dtype).fit(R)
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
    ours = Baseline(dtype=np.float64).fit(R).predict_positions(rows, cols)
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
    assert model.history_["iteration"] == list(range(1, 11))


@pytest.mark.parametrize("params, error, match", [
    (dict(reg_users=-1.0), ValueError, "reg_users"),
    (dict(reg_items=float("nan")), ValueError, "reg_items"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(clip="yes"), TypeError, "clip"),
])
def test_baseline_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        Baseline(**params).fit(_biased())


@pytest.mark.parametrize("make", [
    lambda: lorank.ALS(3, random_state=0),
    lambda: lorank.SoftImpute(3, random_state=0),
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
