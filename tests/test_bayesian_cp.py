"""BayesianCP: the sampled tensor conditional, the chain against an independent numpy
Gibbs sampler (independent priors and the time chain), thread independence,
recovery, accuracy against CPALS, the sample store, files, bad input."""

import numpy as np
import pytest

import lorank
from lorank import BayesianCP, TensorRatings
from lorank._kernels import _als
from lorank.models import bayesian_cp
from lorank.models.als import _factor_storage
from lorank.models.bayesian_cp import chain_normal_wishart_posterior, stream_of

import _bptf_reference
from _reference import half_step_reference


def _normal(seed, stream, target, d):
    return np.asarray(_als.normal_stream(seed, stream, target, d), np.float64)


def _planted(shape=(24, 18, 6), rank=2, fraction=0.35, noise=0.1, seed=0, offset=3.0):
    rng = np.random.default_rng(seed)
    A = [rng.standard_normal((n, rank)) for n in shape]
    cells = rng.choice(int(np.prod(shape)), int(fraction * np.prod(shape)), replace=False)
    idx = np.unravel_index(cells, shape)
    signal = np.prod([F[i] for F, i in zip(A, idx)], axis=0).sum(axis=1) + offset
    return A, TensorRatings(idx, signal + noise * rng.standard_normal(len(cells)), shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sampled_tensor_conditional_matches_numpy(dtype):
    """One mode's draw (others=, prior, sampled solve), the whole mode and one
    slice alone (the chain's call), against the numpy twin with the same normals."""
    _, T = _planted()
    T = T.astype(dtype)
    rank, d = 3, 4
    rng = np.random.default_rng(1)
    F = []
    for n in T.shape:
        A = _factor_storage(n, d, dtype)
        A[:, :d] = rng.standard_normal((n, d))
        F.append(A)
    M = rng.standard_normal((d, d))
    prior, prior_h = M @ M.T + np.eye(d), rng.standard_normal(d)
    V = T.view(2)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for part in (slice(None), slice(int(V.indptr[3]), int(V.indptr[4]))):
        size = T.shape[2] if part.start is None else 1
        indptr = V.indptr if part.start is None else np.array([0, part.stop - part.start])
        outs = []
        for fn in (_als.half_step, half_step_reference):
            solved = F[2].copy() if part.start is None else F[2][3:4].copy()
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            fn(indptr, V.indices[0][part], V.values[part], F[0], solved, 3.0, np.zeros(size),
               True, rank, sse, rsum, status, 2, prior=prior, prior_h=prior_h,
               sample_scale=0.3, seed=5, stream=stream_of(7, 2, 3, 4),
               others=((V.indices[1][part], F[1]),))
            outs.append((solved[:, :d].astype(np.float64), sse, status))
        (x, sse, status), (x_ref, sse_ref, status_ref) = outs
        assert (status == 0).all() and (status_ref == 0).all()
        np.testing.assert_allclose(x, x_ref, rtol=tol, atol=tol * np.abs(x_ref).max())
        np.testing.assert_allclose(sse, sse_ref, rtol=50 * tol)


def test_chain_posterior_is_the_normal_wishart_update_of_its_steps():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 3))
    mu, beta, nu, W_inv = chain_normal_wishart_posterior(X)
    assert beta == 3.0 and nu == 3 + 6
    np.testing.assert_allclose(mu, X[0] / 3)
    steps = sum(np.outer(X[k] - X[k - 1], X[k] - X[k - 1]) for k in range(1, 6))
    np.testing.assert_allclose(W_inv, np.eye(3) + steps + (2 / 3) * np.outer(X[0], X[0]))


@pytest.mark.parametrize("time_mode", [None, 2])
def test_posterior_mean_matches_the_numpy_gibbs_sampler(time_mode):
    # The chain runs on the values / their standard deviation σ, then scales back.
    _, T = _planted((10, 8, 5), fraction=0.5)
    T = T.astype(np.float64)._scaled(3.0)
    rank, n_samples, burn_in, thin, seed = 2, 8, 2, 2, 11
    model = BayesianCP(rank, n_samples=n_samples, burn_in=burn_in, thin=thin,
                       time_mode=time_mode, max_stored=None, clip=False, dtype=np.float64,
                       random_state=seed).fit(T)
    sigma = float(np.std(T.coo()[1]))
    assert model.value_scale_ == pytest.approx(sigma, rel=1e-12) and abs(sigma - 1) > 0.5
    T = T._scaled(1 / sigma)
    start = lorank.CPALS(rank, max_iter=bayesian_cp._START_ITER, tol=0, dtype=np.float64,
                         random_state=seed).fit(T)
    F = [np.column_stack([A, b]) for A, b in zip(start.factors_, start.biases_)]
    alpha = 1.0 / start.history_["train_rmse"][-1] ** 2
    predict, alphas, kept = _bptf_reference.gibbs(
        T, rank, n_samples, burn_in, thin, seed, (F, start.mean_, alpha), _normal, time_mode)
    assert model.n_kept_ == model.n_stored_ == len(kept) == 3
    np.testing.assert_allclose(model.history_["alpha"], np.array(alphas) / sigma**2,
                               rtol=1e-8)
    idx = np.unravel_index(np.arange(np.prod(T.shape)), T.shape)
    np.testing.assert_allclose(model.predict_positions(idx), sigma * predict(idx), rtol=1e-8,
                               atol=1e-8)
    assert model.factors_[0].shape == (10, 3 * rank)


@pytest.mark.parametrize("time_mode", [None, 2])
@pytest.mark.parametrize("scale", [1e-3, 30.0])
def test_rating_scale_changes_nothing_but_the_units(scale, time_mode):
    """Values ×scale give the same predictions ×scale (the chain runs on values / σ;
    on the raw values W₀ = I would be a far stronger prior on small values)."""
    _, T = _planted((30, 20, 6), fraction=0.4, seed=5)
    T = T.astype(np.float64)
    kw = dict(n_samples=12, burn_in=2, time_mode=time_mode, dtype=np.float64,
              random_state=3)
    base = BayesianCP(2, **kw).fit(T)
    other = BayesianCP(2, **kw).fit(T._scaled(scale))
    assert other.value_scale_ == pytest.approx(scale * base.value_scale_, rel=1e-9)
    idx = np.unravel_index(np.arange(np.prod(T.shape)), T.shape)
    np.testing.assert_allclose(other.predict_positions(idx) / scale,
                               base.predict_positions(idx), rtol=1e-6, atol=1e-6)
    assert other.alpha_ * scale**2 == pytest.approx(base.alpha_, rel=1e-6)
    np.testing.assert_allclose(np.array(other.history_["train_rmse"]) / scale,
                               base.history_["train_rmse"], rtol=1e-6)


@pytest.mark.parametrize("time_mode", [None, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_samples_bitwise_independent_of_threads(dtype, time_mode):
    _, T = _planted((120, 80, 12), fraction=0.1, seed=3)
    fits = [BayesianCP(3, n_samples=6, burn_in=2, time_mode=time_mode, dtype=dtype,
                       random_state=4, n_threads=t).fit(T) for t in (1, 2, 3)]
    for other in fits[1:]:
        for a, b in zip(fits[0].factors_ + fits[0].biases_, other.factors_ + other.biases_):
            assert np.array_equal(a, b)
        assert fits[0].history_["alpha"] == other.history_["alpha"]


@pytest.mark.parametrize("time_mode", [None, 2])
def test_recovers_a_planted_cp_tensor(time_mode):
    """Rank 3, 40 x 30 x 20, 15 % observed, noise 0.1: the posterior mean is within
    a few percent of the noise level on held-out entries and of the signal everywhere."""
    A, T = _planted((40, 30, 20), rank=3, fraction=0.15, noise=0.1, seed=5, offset=0.0)
    train, test = T.split(0.2, random_state=0)
    model = BayesianCP(3, n_samples=60, burn_in=20, biases=False, time_mode=time_mode,
                       dtype=np.float64, clip=False, random_state=0).fit(train, test)
    assert model.history_["valid_rmse"][-1] < 0.115
    idx = np.unravel_index(np.arange(np.prod(T.shape)), T.shape)
    truth = np.prod([F[i] for F, i in zip(A, idx)], axis=0).sum(axis=1)
    err = model.predict_positions(idx) - truth
    assert np.linalg.norm(err) / np.linalg.norm(truth) < 0.05
    assert abs(1.0 / np.sqrt(np.mean(model.history_["alpha"][20:])) - 0.1) < 0.02


def test_beats_cpals_defaults_on_drifting_ratings():
    """synthetic_drift binned by time, defaults for both, held-out 10 %."""
    R, floor = lorank.datasets.synthetic_drift(1500, 300, 25000, random_state=1)
    train, test = R.to_tensor(10, strategy="count").split(0.1, random_state=0)
    cp = lorank.CPALS(10, random_state=0).fit(train, test)
    bayes = BayesianCP(10, random_state=0).fit(train, test)
    chain = BayesianCP(10, time_mode=-1, random_state=0).fit(train, test)
    for model in (bayes, chain):
        assert model._score(test) <= cp._score(test)
        assert floor < model._score(test)
        assert model.history_["valid_rmse"][-1] == pytest.approx(model._score(test), abs=1e-4)


def test_store_keeps_evenly_spread_samples_of_the_same_chain():
    """max_stored=4 of 10 kept: every third (kept samples 1, 4, 7, 10: the exact
    store's blocks 0, 3, 6, 9), the same chain; the biases' mean is over all 10."""
    _, T = _planted()
    kw = dict(n_samples=12, burn_in=2, dtype=np.float64, clip=False, random_state=3)
    exact = BayesianCP(2, max_stored=None, **kw).fit(T)
    small = BayesianCP(2, max_stored=4, **kw).fit(T)
    assert exact.history_["alpha"] == small.history_["alpha"]
    assert (exact.n_kept_, exact.n_stored_, small.n_kept_, small.n_stored_) == (10, 10, 10, 4)
    for m in range(3):
        blocks = np.hstack([exact.factors_[m][:, 2 * k:2 * k + 2] for k in (0, 3, 6, 9)])
        if m == 0:  # scaled by 1/S: 1/10 there, 1/4 here
            np.testing.assert_allclose(small.factors_[0], blocks * (10 / 4), rtol=1e-12)
        else:
            assert np.array_equal(small.factors_[m], blocks)
    for a, b in zip(exact.biases_, small.biases_):
        assert np.array_equal(a, b)
    # Stopped after 2 kept samples with a stride of 5: the first is stored.
    early = BayesianCP(2, max_stored=2, callback=lambda model, it: it < 4, **kw).fit(T)
    assert (early.n_kept_, early.n_stored_) == (2, 1)
    assert np.array_equal(early.factors_[1], exact.factors_[1][:, :2])


def test_clip_at_predict_at_and_files(tmp_path):
    R = lorank.Ratings([0, 0, 1, 1, 2, 2, 3], [0, 1, 0, 2, 1, 2, 0],
                       [5.0, 3.0, 4.0, 1.0, 2.0, 5.0, 4.0], times=[10, 20, 30, 40, 50, 60, 70])
    T = R.to_tensor(2)
    model = BayesianCP(1, n_samples=10, burn_in=2, time_mode=-1, random_state=0).fit(T)
    idx = np.unravel_index(np.arange(np.prod(T.shape)), T.shape)
    pred = model.predict_positions(idx)
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    model.clip = False
    raw = model.predict_positions(idx)
    assert np.array_equal(np.clip(raw, 1.0, 5.0), pred)
    now = model.at()
    users, items = np.divmod(np.arange(12), 3)
    np.testing.assert_allclose(now.predict_positions(users, items),
                               model.predict_at(users, items), rtol=1e-5)
    np.testing.assert_allclose(model.to_lowrank(time=15).entries(users, items),
                               model.predict_at(users, items, time=15), rtol=1e-5)
    model.clip = True
    path = tmp_path / "bptf.npz"
    model.save(path)
    again = lorank.load(path)
    assert type(again) is BayesianCP
    assert np.array_equal(again.predict_positions(idx), pred)
    assert (again.n_kept_, again.n_stored_, again.alpha_) == (model.n_kept_, model.n_stored_,
                                                              model.alpha_)
    # A damaged file: a factor of the wrong length is refused naming it.
    arrays, header = bayesian_cp._to_arrays(model)
    arrays["factor_1"] = arrays["factor_1"][:-1]
    lorank.io.save(tmp_path / "bad.npz", arrays, header)
    with pytest.raises(ValueError, match="factor_1"):
        lorank.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("params, error, match", [
    (dict(n_samples=0), ValueError, r"n_samples must be >= 1, got 0"),
    (dict(n_samples=10, burn_in=10), ValueError, r"burn_in=10 must be smaller than n_samples=10"),
    (dict(n_samples=10, burn_in=5, thin=6), ValueError, r"thin=6 keeps no sample of the 5"),
    (dict(max_stored=0), ValueError, r"max_stored must be >= 1, got 0"),
    (dict(max_stored=2.0), TypeError, r"max_stored must be an integer, got 2\.0"),
    (dict(time_mode=3), ValueError, r"time_mode=3 is not a mode of a 3-way tensor"),
    (dict(time_mode=-4), ValueError, r"time_mode=-4 is not a mode of a 3-way tensor"),
    (dict(time_mode="last"), TypeError, r"time_mode must be an integer, got 'last'"),
    (dict(rank=0), ValueError, r"rank must be positive, got 0"),
    (dict(rank=300), ValueError, r"rank=300 is too large: BayesianCP supports"),
    (dict(clip=1), TypeError, r"clip must be True or False, got 1"),
])
def test_bad_parameters(params, error, match):
    _, T = _planted()
    model = BayesianCP(**{"rank": 2, **params})
    with pytest.raises(error, match=match):
        model.fit(T)
    assert not hasattr(model, "factors_")


def test_bad_data():
    _, T = _planted()
    with pytest.raises(TypeError, match="X must be a lorank.TensorRatings"):
        BayesianCP(2).fit(np.ones((3, 3)))
    other = TensorRatings(([0], [0], [0]), [1.0], (3, 3, 3))
    with pytest.raises(ValueError, match="validation has shape"):
        BayesianCP(2).fit(T, other)
    with pytest.raises(lorank.NotFittedError):
        BayesianCP(2).predict(([0], [0], [0]))
