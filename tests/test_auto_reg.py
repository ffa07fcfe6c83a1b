"""reg="auto": the path on an internal holdout, the choice, the refit."""

import warnings

import numpy as np
import pytest

import lorank
from lorank.models import _auto_reg


def _low_rank(noise, seed=0, m=300, n=200, density=0.15, rank=3):
    rng = np.random.default_rng(seed)
    X = 3.0 + rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n)) / np.sqrt(rank)
    rows, cols = np.nonzero(rng.random((m, n)) < density)
    values = X[rows, cols] + rng.normal(0, noise, len(rows))
    R = lorank.Ratings(rows, cols, values, (m, n))
    return R.split(0.2, random_state=seed), X


def _rmse(model, test):
    r, c, v = test.coo()
    return float(np.sqrt(np.mean((model.predict_positions(r, c) - v) ** 2)))


@pytest.mark.parametrize("seed", [0, 1])
def test_als_auto_follows_the_noise(seed):
    """Noisy data wants more regularization than clean data, and auto finds a reg
    at least as good as the fixed default on held-out entries."""
    chosen = {}
    for noise in (0.1, 1.5):
        (train, test), _ = _low_rank(noise, seed)
        auto = lorank.ALS(3, reg="auto", random_state=0, clip=False).fit(train)
        fixed = lorank.ALS(3, reg=1.0, random_state=0, clip=False).fit(train)  # 0.1's default
        path = auto.reg_path_
        assert len(path["reg"]) == len(path["valid_rmse"]) >= 3
        assert np.all(np.diff(path["reg"]) > 0)
        best = int(np.argmin(path["valid_rmse"]))
        lo, hi = path["reg"][max(best - 1, 0)], path["reg"][min(best + 1, len(path["reg"]) - 1)]
        assert lo <= auto.reg_ <= hi
        assert _rmse(auto, test) <= _rmse(fixed, test) * 1.01
        assert auto.reg == "auto" and auto.history_["iteration"][0] == 1
        chosen[noise] = auto.reg_
    assert chosen[1.5] > 2 * chosen[0.1]


def test_softimpute_auto_below_lambda_max():
    (train, test), _ = _low_rank(0.5, 2)
    auto = lorank.SoftImpute(5, reg="auto", biases=True, random_state=0).fit(train)
    top = lorank.lambda_max(train.split(_auto_reg.HOLDOUT, random_state=0)[0], biases=True)
    assert 0 < auto.reg_ < top
    path = auto.reg_path_
    assert path["reg"][0] == pytest.approx(top * _auto_reg.SOFTIMPUTE_GRID[0])
    # The path's first point is the zero solution: the Baseline alone.
    assert path["baseline_rmse"] == path["valid_rmse"][0] > min(path["valid_rmse"])
    unregularized = lorank.SoftImpute(5, reg=0.0, biases=True, random_state=0).fit(train)
    assert _rmse(auto, test) < _rmse(unregularized, test)


def test_auto_keeps_labels_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 900)
    items = rng.integers(0, 30, 900)
    pairs = np.unique(np.column_stack([users, items]), axis=0)
    R = lorank.Ratings.from_labels([f"u{u}" for u in pairs[:, 0]], [f"i{i}" for i in pairs[:, 1]],
                                   rng.integers(1, 6, len(pairs)).astype(float))
    with pytest.warns(UserWarning, match="add nothing"):  # uniform random stars: right
        model = lorank.ALS(2, reg="auto", random_state=0).fit(R)
    assert model.predict("u3", "i7") == model.predict_positions(
        [R.row_index(["u3"])[0]], [R.col_index(["i7"])[0]])[0]
    model.save(tmp_path / "a.npz")
    assert lorank.load(tmp_path / "a.npz").predict("u3", "i7") == model.predict("u3", "i7")


@pytest.mark.parametrize("cls", [lorank.ALS, lorank.SoftImpute])
def test_other_strings_rejected(cls):
    (train, _), _ = _low_rank(0.5)
    with pytest.raises(TypeError, match="reg must be a real number, got 'best'; or \"auto\""):
        cls(2, reg="best").fit(train)


def test_refine_stays_between_the_neighbours():
    regs = [0.5, 1.0, 2.0, 4.0]
    assert _auto_reg._refine(regs, [3.0, 2.0, 2.5, 3.0], 1) == pytest.approx(
        np.exp(np.log(1.0) + 0.1 * np.log(2)), rel=0.5)
    assert 0.5 <= _auto_reg._refine(regs, [3.0, 2.0, 2.5, 3.0], 1) <= 2.0
    assert _auto_reg._refine(regs, [1.0, 2.0, 3.0, 4.0], 0) == 0.5


def test_auto_is_the_default():
    assert lorank.ALS().reg == "auto"
    (train, _), _ = _low_rank(0.5)
    model = lorank.ALS(3, random_state=0).fit(train)
    assert model.reg_ in model.reg_path_["reg"] or (
        min(model.reg_path_["reg"]) < model.reg_ < max(model.reg_path_["reg"]))
    assert model.reg_path_["baseline_rmse"] > min(model.reg_path_["valid_rmse"])


def test_default_beats_the_biases_on_sparser_ratings(ml100k_dir):
    """MovieLens 100K with a quarter of each fold's training ratings (21 a user, as
    many real rating sets): the fixed reg=1.0 (the default before) overfits and
    loses to Baseline; the default, reg="auto", does not (bench/bench_density.py)."""
    data = np.loadtxt(ml100k_dir / "u.data", dtype=np.int64)
    R = lorank.Ratings(data[:, 0] - 1, data[:, 1] - 1, data[:, 2].astype(np.float32))
    train, test = next(iter(R.kfold(5, random_state=0)))
    rows, cols, values = train.coo()
    keep = np.random.default_rng(1).random(len(values)) < 0.25
    sparse = lorank.Ratings(rows[keep], cols[keep], values[keep], shape=train.shape)
    base = lorank.Baseline().fit(sparse)._rmse(test)
    surprise_like = lorank.Baseline(reg_users=15, reg_items=10, max_iter=10, tol=0).fit(sparse)
    # The dampings estimated from the data beat surprise's fixed 15 and 10.
    assert base < surprise_like._rmse(test) - 0.005
    # The defaults beat that stronger Baseline; ALS() only with its biases under
    # the Baseline's dampings (bias_reg="auto"): under the factors' reg they lose.
    auto = lorank.ALS(random_state=0).fit(sparse)._rmse(test)
    assert auto < base - 0.001, (auto, base)
    with pytest.warns(UserWarning, match="the factors add nothing"):  # and it says so
        shared = lorank.ALS(random_state=0, bias_reg=None).fit(sparse)._rmse(test)
    assert shared > auto + 0.002, (shared, auto)
    soft = lorank.SoftImpute(random_state=0).fit(sparse)._rmse(test)
    assert soft < base - 0.001, (soft, base)


def _biases_only(noise=1.0, seed=0, m=300, n=200, nnz=20000):
    rng = np.random.default_rng(seed)
    flat = rng.choice(m * n, nnz, replace=False)
    rows, cols = flat // n, flat % n
    values = 3.5 + rng.normal(0, 0.4, m)[rows] + rng.normal(0, 0.5, n)[cols]
    return lorank.Ratings(rows, cols, values + rng.normal(0, noise, nnz), (m, n))


def test_auto_warns_when_the_factors_add_nothing():
    """Ratings that are user and item effects plus noise: the holdout says the
    factors do not beat Baseline, and the fit says so; low-rank data does not warn."""
    with pytest.warns(UserWarning, match=r"the factors add nothing on the 10% holdout: "
                                         r"the biases alone \(lorank.Baseline\) reach RMSE"):
        model = lorank.ALS(3, random_state=0).fit(_biases_only())
    # Not 0.1 % better than the biases alone (a tie, either side, to ~1e-5).
    assert not _auto_reg.adds_something(min(model.reg_path_["valid_rmse"]),
                                        model.reg_path_["baseline_rmse"])
    (train, _), _ = _low_rank(0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lorank.ALS(3, random_state=0).fit(train)
    without = lorank.ALS(3, biases=False, random_state=0).fit(_biases_only())
    assert "baseline_rmse" not in without.reg_path_
    # SoftImpute's path starts at the zero solution, the Baseline: it warns, and
    # the model it keeps is that Baseline's biases with no factors.
    with pytest.warns(UserWarning, match=r"SoftImpute\(reg='auto'\): the factors add nothing"):
        soft = lorank.SoftImpute(3, random_state=0).fit(_biases_only())
    assert soft.reg_path_["baseline_rmse"] == soft.reg_path_["valid_rmse"][0]
    assert soft.effective_rank_ == 0
    base = lorank.Baseline().fit(_biases_only())
    np.testing.assert_array_equal(soft.row_bias_, base.row_bias_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lorank.SoftImpute(3, random_state=0).fit(train)


def test_als_tends_to_the_baseline_as_reg_grows():
    """bias_reg="auto": the biases take the Baseline's dampings, so with the
    factors regularized away ALS is the Baseline (to solver precision); with the
    biases under the factors' reg (bias_reg=None) it is the mean alone."""
    R = _biases_only(seed=3)
    als = lorank.ALS(3, reg=1e7, dtype=np.float64, max_iter=50, tol=0, random_state=0).fit(R)
    auto = lorank.Baseline(dtype=np.float64).fit(R)  # the dampings ALS took
    assert (als.reg_users_, als.reg_items_) == (auto.reg_users_, auto.reg_items_)
    base = lorank.Baseline(reg_users=als.reg_users_, reg_items=als.reg_items_, max_iter=300,
                           dtype=np.float64).fit(R)  # converged at those dampings
    # ALS refits μ (unpenalized) where Baseline keeps the mean: the same model up
    # to the biases' shared shift.
    rows, cols = np.divmod(np.arange(R.shape[0] * R.shape[1]), R.shape[1])
    np.testing.assert_allclose(als.predict_positions(rows, cols),
                               base.predict_positions(rows, cols), atol=1e-3)
    assert als._rmse(R) == pytest.approx(base._rmse(R), rel=1e-6)
    assert np.abs(als.factors_.to_dense()).max() < 1e-6
    fixed = lorank.ALS(3, reg=1e7, bias_reg=4.0, dtype=np.float64, random_state=0).fit(R)
    assert (fixed.reg_users_, fixed.reg_items_) == (4.0, 4.0)
    pair = lorank.ALS(3, reg=1e7, bias_reg=(4.0, 2.5), dtype=np.float64, random_state=0).fit(R)
    assert (pair.reg_users_, pair.reg_items_) == (4.0, 2.5)
    shared = lorank.ALS(3, reg=1e7, bias_reg=None, dtype=np.float64, random_state=0).fit(R)
    assert not hasattr(shared, "reg_users_")
    assert np.abs(shared.row_bias_).max() < 1e-3  # crushed with the factors


@pytest.mark.parametrize("value, error, match", [
    ("automatic", TypeError, "bias_reg must be a real number, got 'automatic'"),
    ((1.0, 2.0, 3.0), ValueError, r"a \(users, items\) pair"),
    ((1.0, -2.0), ValueError, "bias_reg"),
    (-1.0, ValueError, "bias_reg"),
    (float("nan"), ValueError, "bias_reg"),
])
def test_bad_bias_reg_is_refused(value, error, match):
    with pytest.raises(error, match=match):
        lorank.ALS(2, bias_reg=value).fit(_biases_only(nnz=2000))


def test_few_or_equal_ratings_take_the_start():
    """Too few ratings to hold 10 % out, or one value everywhere (every reg
    predicts it): reg_ is the path's start, with no path."""
    i = np.arange(80)
    R = lorank.Ratings(i % 4, i // 4, i % 5 + 1.0)
    model = lorank.ALS(2, random_state=0).fit(R)
    assert R.nnz < _auto_reg.MIN_RATINGS and model.reg_ == _auto_reg.ALS_START
    assert model.reg_path_ == {"reg": [], "valid_rmse": []}
    (train, _), _ = _low_rank(0.5)
    rows, cols, _ = train.coo()
    with pytest.warns(UserWarning, match="ratings equal 3") as said:
        model = lorank.ALS(2, random_state=0).fit(
            lorank.Ratings(rows, cols, np.full(len(rows), 3.0), train.shape))
    assert len(said) == 1  # by the outer fit, not again by the refit
    assert model.reg_ == _auto_reg.ALS_START and model.predict_positions([0], [0])[0] == 3.0


def test_callback_and_ctrl_c_in_the_refit():
    (train, _), _ = _low_rank(0.5)
    calls = []
    model = lorank.ALS(3, random_state=0, tol=0, max_iter=4,
                       callback=lambda m, it: calls.append((it, m.n_iter_))).fit(train)
    assert calls == [(1, 1), (2, 2), (3, 3), (4, 4)] and model.n_iter_ == 4

    def interrupt(m, it):
        if it == 2:
            raise KeyboardInterrupt

    stopped = lorank.ALS(3, random_state=0, tol=0, max_iter=4, callback=interrupt)
    with pytest.warns(RuntimeWarning, match="interrupted after 2 complete iterations"):
        with pytest.raises(KeyboardInterrupt):
            stopped.fit(train)
    assert stopped.n_iter_ == 2 and stopped.reg_ == model.reg_
    assert stopped.reg_path_ == model.reg_path_
    two = lorank.ALS(3, reg=model.reg_, bias_reg=(model.reg_users_, model.reg_items_),
                     random_state=0, tol=0, max_iter=2).fit(train)
    np.testing.assert_array_equal(stopped.factors_.left, two.factors_.left)


def test_ctrl_c_on_the_path_keeps_its_best_fit(monkeypatch):
    """Ctrl-C while the path's third fit runs: the model is the best complete fit
    of the path (on the 90 %), it says so, and the interrupt goes on."""
    import lorank.models.als as als_module

    (train, _), _ = _low_rank(0.5)
    fits = []
    real = als_module.ALS._fit

    def counting(self, ratings, valid):
        fits.append(self.reg)
        if len(fits) == 4:  # the outer fit, the path's first two, then its third
            raise KeyboardInterrupt
        return real(self, ratings, valid)

    monkeypatch.setattr(als_module.ALS, "_fit", counting)
    model = lorank.ALS(3, random_state=0)
    with pytest.warns(RuntimeWarning, match="interrupted on its holdout path: the model is "
                                            "the fit at reg"):
        with pytest.raises(KeyboardInterrupt):
            model.fit(train)
    assert model.reg_ in fits[1:3] and len(model.reg_path_["reg"]) == 2
    r, c, _ = train.coo()
    assert np.isfinite(model.predict_positions(r, c)).all()


@pytest.mark.parametrize("make", [lambda: lorank.ALS(2, random_state=0),
                                  lambda: lorank.SoftImpute(2, reg="auto", random_state=0)],
                         ids=["ALS", "SoftImpute"])
def test_degenerate_data_is_said_once_not_by_every_fit_of_the_path(make):
    (train, _), _ = _low_rank(0.5)
    rows, cols, _ = train.coo()
    clicks = lorank.Ratings(rows, cols, (rows + cols) % 2.0, train.shape)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model = make().fit(clicks)
    zero_one = [w for w in said if "all 0 or 1" in str(w.message)]
    assert len(zero_one) == 1 and len(model.reg_path_["reg"]) >= 3


def test_a_bias_reg_pair_is_kept_in_the_file(tmp_path):
    model = lorank.ALS(2, reg=1.0, bias_reg=(4.0, 2.5), random_state=0).fit(
        _biases_only(nnz=3000))
    model.save(tmp_path / "m.npz")
    again = lorank.load(tmp_path / "m.npz")
    assert list(again.bias_reg) == [4.0, 2.5]
    assert (again.reg_users_, again.reg_items_) == (4.0, 2.5)
