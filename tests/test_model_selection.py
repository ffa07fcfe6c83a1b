"""lorank.model_selection: evaluate, k-fold, per-user, leave-k-out and time splits."""

import numpy as np
import pytest

import lorank
from lorank import Ratings
from lorank.model_selection import (KFold, LeaveKOut, PerUserSplit, TimeSplit, evaluate,
                                    kfold, leave_k_out, per_user_split, time_split)


def timed(m=60, n=30, nnz=900, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.choice(m * n, nnz, replace=False)
    rows, cols = pos // n, pos % n
    return Ratings(rows, cols, (pos % 5 + 1).astype(float), (m, n),
                   times=rng.permutation(nnz) * 10)


def pairs_of(R):
    r, c, _ = R.coo()
    return set(zip(r.tolist(), c.tolist()))


def test_evaluate_moved_and_old_names_work():
    assert lorank.evaluate is evaluate
    assert lorank.metrics.evaluate is evaluate
    assert lorank.metrics.EvaluationTable is lorank.model_selection.EvaluationTable
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        lorank.metrics.nothing


def test_kfold_splitter_equals_ratings_kfold():
    R = timed()
    for by in ("random", "row"):
        mine = list(KFold(4, by=by, random_state=3).split(R))
        theirs = list(R.kfold(4, random_state=3, by=by))
        assert len(mine) == 4
        for (tr, te), (train, test) in zip(mine, theirs):
            assert tr.dtype == np.uint64  # rating positions, not sample indices
            assert pairs_of(R[tr]) == pairs_of(train) and pairs_of(R[te]) == pairs_of(test)
        assert [t.nnz for _, t in kfold(R, 4, by=by, random_state=3)] == \
            [t.nnz for _, t in theirs]


def test_per_user_split_keeps_every_user_on_both_sides():
    R = timed()
    train, test = per_user_split(R, 0.25, random_state=0)
    assert train.nnz + test.nnz == R.nnz and not pairs_of(train) & pairs_of(test)
    counts = R.row_counts
    want = np.where(counts >= 2, np.clip(np.floor(0.25 * counts + 0.5), 1, counts - 1), 0)
    np.testing.assert_array_equal(test.row_counts, want)
    assert (train.row_counts[counts >= 1] >= 1).all()
    assert PerUserSplit(0.25).get_n_splits() == 1
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\), got 1.5"):
        per_user_split(R, 1.5)


def test_leave_k_out_random_and_latest():
    R = timed()
    train, test = leave_k_out(R, 2, random_state=0)
    counts = R.row_counts
    np.testing.assert_array_equal(test.row_counts, np.where(counts > 2, 2, 0))
    train, test = leave_k_out(R, 1, latest=True)
    # each held-out rating is its user's latest
    r, c, _ = R.coo()
    latest = {}
    for i, t in zip(r.tolist(), R.times.tolist()):
        latest[i] = max(latest.get(i, -1), t)
    tr, _, _ = test.coo()
    assert [t == latest[i] for i, t in zip(tr.tolist(), test.times.tolist())] == [True] * test.nnz
    assert test.nnz == int((counts > 1).sum())
    with pytest.raises(ValueError, match="needs timestamps"):
        leave_k_out(Ratings([0, 0], [0, 1], [1.0, 2.0]), 1, latest=True)


def test_time_split_overall_and_per_user():
    R = timed()
    train, test = time_split(R, 0.2)
    assert test.nnz == int(np.ceil(0.2 * R.nnz))
    assert train.times.max() < test.times.min()  # the future is held out
    train, test = time_split(R, 0.3, per_user=True)
    tr_rows, te_rows = train.coo()[0], test.coo()[0]
    for i in range(R.shape[0]):
        a, b = train.times[tr_rows == i], test.times[te_rows == i]
        if len(a) and len(b):
            assert a.max() < b.min()
    with pytest.raises(ValueError, match="a time-based split needs timestamps"):
        time_split(Ratings([0, 1], [0, 1], [1.0, 2.0]))


def test_evaluate_with_a_splitter_and_the_default_folds():
    R, _ = lorank.datasets.synthetic(200, 60, 4000, rank=2, random_state=0)
    R = Ratings(*R.coo(), R.shape, times=np.arange(R.nnz))
    table = evaluate(lorank.ALS(2, random_state=0, max_iter=3), R, folds=3,
                     metrics=["rmse", "precision@5"])
    assert len(table["rmse"]["folds"]) == 3
    timed_table = evaluate(lorank.ALS(2, random_state=0, max_iter=3), R, cv=TimeSplit(0.1),
                           metrics=["rmse"])
    train, test = time_split(R, 0.1)
    model = lorank.ALS(2, random_state=0, max_iter=3).fit(train)
    assert timed_table["rmse"]["mean"] == pytest.approx(-model.score(test), rel=1e-6)
    assert "TimeSplit" in str(timed_table)
    # n beyond the catalogue: the top lists are padded, precision is still defined
    tiny = evaluate(lorank.ALS(2, random_state=0, max_iter=2), R, folds=2,
                    metrics=["precision@100"])
    assert np.isfinite(tiny["precision@100"]["mean"])


def test_trap5_ctrl_c_propagates_out_of_evaluate():
    # Issue 10, trap 5: Ctrl-C in a fold's fit was swallowed and evaluate printed
    # a table mixing the cut-short fold with full ones.
    R, _ = lorank.datasets.synthetic(200, 60, 4000, rank=2, random_state=0)
    folds_started = []

    def interrupt(model, it):
        folds_started.append(it)
        if len(folds_started) == 4:  # second fold, second iteration
            raise KeyboardInterrupt

    with pytest.warns(RuntimeWarning, match="interrupted"):
        with pytest.raises(KeyboardInterrupt):
            evaluate(lorank.ALS(2, random_state=0, max_iter=3, tol=0, callback=interrupt), R,
                     folds=3, metrics=["rmse"])
    assert len(folds_started) == 4  # it stopped there


def test_splitter_repr_and_bad_input():
    assert repr(LeaveKOut(2)) == "LeaveKOut(k=2, latest=False, random_state=0)"
    with pytest.raises(TypeError, match="takes a lorank.Ratings or an \\(n, 2\\) array"):
        list(KFold(3).split(np.ones(5)))
    with pytest.raises(TypeError, match="cv must be a lorank.model_selection splitter"):
        evaluate(lorank.ALS(), timed(), cv=3)
