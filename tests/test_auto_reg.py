"""reg="auto": the path on an internal holdout, the choice, the refit."""

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
        fixed = lorank.ALS(3, random_state=0, clip=False).fit(train)
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
    unregularized = lorank.SoftImpute(5, biases=True, random_state=0).fit(train)
    assert _rmse(auto, test) < _rmse(unregularized, test)


def test_auto_keeps_labels_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 900)
    items = rng.integers(0, 30, 900)
    pairs = np.unique(np.column_stack([users, items]), axis=0)
    R = lorank.Ratings.from_labels([f"u{u}" for u in pairs[:, 0]], [f"i{i}" for i in pairs[:, 1]],
                                   rng.integers(1, 6, len(pairs)).astype(float))
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
