"""scikit-learn's tools on lorank models, without a wrapper: clone,
cross_val_score and GridSearchCV, on a Ratings and on the regression form."""

import numpy as np
import pytest

import lorank
from lorank.model_selection import KFold, to_pairs

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.model_selection import KFold as SkKFold  # noqa: E402

MODELS = [lambda: lorank.ALS(2, random_state=0, max_iter=5),
          lambda: lorank.SoftImpute(2, biases=True, random_state=0, max_iter=20)]
IDS = ["ALS", "SoftImpute"]


@pytest.fixture(scope="module")
def R():
    R, _ = lorank.datasets.synthetic(120, 40, 2400, rank=2, random_state=0,
                                     popularity="uniform")
    rows, cols, vals = R.coo()
    users = np.array([f"u{i}" for i in range(R.shape[0])])[rows]
    return lorank.Ratings.from_labels(users, (500 + cols).astype(np.int64), vals)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_cross_val_score_on_ratings_equals_a_hand_written_loop(make, R):
    model = make()
    scores = cross_val_score(model, R, cv=KFold(3, random_state=1))
    assert scores.shape == (3,) and (scores < 0).all()
    want = []
    for train, test in R.kfold(3, random_state=1):  # the same folds
        fitted = clone(model).fit(train)
        rows, cols, values = test.coo()
        err = fitted.predict_positions(rows, cols) - values
        want.append(-np.sqrt(np.mean(err.astype(np.float64) ** 2)))
    np.testing.assert_allclose(scores, want, rtol=1e-6)
    assert not hasattr(model, "factors_")  # sklearn fitted clones


def test_sklearn_splitters_on_a_ratings_are_refused_with_the_fix(R):
    # scikit-learn counts a Ratings' samples by shape[0] (users): its own KFold
    # would split users. The error says what to do instead.
    with pytest.raises(TypeError, match=r"shape\[0\] \(its 120 users\).*"
                                        r"cv=lorank.model_selection.KFold"):
        cross_val_score(lorank.ALS(2), R, cv=3)


def test_grid_search_on_ratings_picks_and_refits(R):
    search = GridSearchCV(lorank.ALS(2, random_state=0, max_iter=5),
                          {"reg": [0.01, 1.0, 100.0], "rank": [1, 2]},
                          cv=KFold(3, random_state=0))
    search.fit(R)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 6 and np.isfinite(scores).all()
    assert search.best_params_["reg"] != 100.0  # far too much shrinkage loses
    best = search.best_estimator_
    assert best.user_labels_.tolist() == R.row_labels.tolist()  # refit on all of R
    assert search.score(R) == pytest.approx(best.score(R))


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_regression_form_with_sklearn_splitters(make, R):
    X, y = to_pairs(R)
    assert X.shape == (R.nnz, 2) and X[0, 0].startswith("u")
    model = make()
    cv = SkKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=cv)
    want = []
    for train, test in cv.split(X):
        fitted = clone(model).fit(X[train], y[train])
        want.append(-np.sqrt(np.mean((fitted.predict(X[test], unknown="bias") - y[test]) ** 2)))
    np.testing.assert_allclose(scores, want, rtol=1e-6)
    # fit(pairs, y) is the same model as fit(Ratings).
    a = clone(model).fit(X, y)
    b = clone(model).fit(R)
    np.testing.assert_allclose(a.predict(X[:20]), b.predict(X[:20]), rtol=1e-5)


def test_grid_search_on_pairs_and_lorank_splitters_on_pairs(R):
    X, y = to_pairs(R)
    search = GridSearchCV(lorank.ALS(2, random_state=0, max_iter=5), {"reg": [0.1, 50.0]},
                          cv=KFold(3, by="row", random_state=0)).fit(X, y)
    assert search.best_params_ == {"reg": 0.1}
    # By user on pairs: each fold holds about a third of every user's ratings.
    users = X[:, 0]
    for train, test in KFold(3, by="row").split(X):
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(X)
        for u in ("u0", "u50"):
            n_u, n_test = np.sum(users == u), np.sum(users[test] == u)
            assert abs(n_test - n_u / 3) <= 1


def test_pandas_regression_form(R):
    pd = pytest.importorskip("pandas")
    X, y = to_pairs(R)
    df = pd.DataFrame({"user": X[:, 0], "item": X[:, 1].astype(np.int64)})
    scores = cross_val_score(lorank.ALS(2, random_state=0, max_iter=3), df, pd.Series(y),
                             cv=SkKFold(3, shuffle=True, random_state=0))
    assert np.isfinite(scores).all()


def test_models_and_ratings_pickle_for_parallel_search(R):
    import pickle

    model = lorank.ALS(2, random_state=0, max_iter=3).fit(R)
    again = pickle.loads(pickle.dumps(model))
    assert again.predict("u3", 505) == model.predict("u3", 505)
    assert pickle.loads(pickle.dumps(R)).row_index("u3") == R.row_index("u3")
    search = GridSearchCV(lorank.ALS(2, random_state=0, max_iter=3), {"reg": [0.1, 50.0]},
                          cv=KFold(2, random_state=0), n_jobs=2).fit(R)
    serial = GridSearchCV(lorank.ALS(2, random_state=0, max_iter=3), {"reg": [0.1, 50.0]},
                          cv=KFold(2, random_state=0)).fit(R)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-6)
