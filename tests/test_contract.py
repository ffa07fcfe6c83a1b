"""The estimator contract, once, for every model in ``contract.MODELS``.

Bad parameters, predict before fit, callback stop, Ctrl-C, thread invariance,
save/load, labels in and out, the Recommender on top, scikit-learn's protocol.
"""

import numpy as np
import pytest

import lorank
from contract import MODELS, assert_same_state, fitted_state, ratings


class Bound:
    """A ModelCase with its fixtures: ``case.make(**params)`` builds the model."""

    def __init__(self, case, fixtures):
        self.case, self.fixtures = case, fixtures

    def make(self, **params):
        return self.case.make(self.fixtures, **params)

    @property
    def name(self):
        return self.case.name


def _bind(request, case):
    return Bound(case, {name: request.getfixturevalue(name) for name in case.needs})


@pytest.fixture(params=MODELS, ids=repr)
def case(request):
    return _bind(request, request.param)


@pytest.fixture(scope="module")
def R():
    return ratings()


# ---------------------------------------------------------------- parameters


_BAD = [pytest.param(c, params, error, match, id=f"{c.name}-{'-'.join(map(str, params))}")
        for c in MODELS for params, error, match in c.bad]


@pytest.mark.parametrize("model_case, params, error, match", _BAD)
def test_bad_parameters_raise_naming_the_value(request, R, model_case, params, error, match):
    model = _bind(request, model_case).make(**params)
    with pytest.raises(error, match=match):
        model.fit(R)
    assert not hasattr(model, "factors_")


def test_predict_before_fit(case):
    model = case.make()
    for call in (lambda: model.predict([0], [0]), model.to_lowrank,
                 lambda: model.save("never-written.npz")):
        with pytest.raises(AttributeError, match="is not fitted yet; call fit first"):
            call()


# ---------------------------------------------------------------- the iterations


def assert_stopped_state(case, stopped, ran_out, label="stopped"):
    """A fit stopped after k iterations equals the max_iter=k fit, bitwise (the
    model's ``stop_history`` entries to float32 rounding)."""
    a, b = fitted_state(stopped), fitted_state(ran_out)
    skip = case.case.stop_history
    assert_same_state(a, b, label, skip=skip)
    for name in skip:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, err_msg=name)
        assert a[name][:-1] == b[name][:-1], name


def test_callback_false_stops_after_that_iteration(case, R):
    calls = []

    def stop_at_2(model, it):
        calls.append((it, model.n_iter_))
        return it != 2

    model = case.make(max_iter=5, callback=stop_at_2).fit(R)
    assert calls == [(1, 1), (2, 2)]
    assert model.n_iter_ == 2 and model.history_["iteration"] == [1, 2]
    assert all(len(v) == 2 for v in model.history_.values())
    two = case.make(max_iter=2).fit(R)
    assert_stopped_state(case, model, two)
    # Returning None does not stop.
    assert case.make(max_iter=3, callback=lambda m, it: None).fit(R).n_iter_ == 3


def test_history_has_iteration_and_seconds(case, R):
    model = case.make(max_iter=3).fit(R)
    h = model.history_
    assert h["iteration"] == [1, 2, 3]
    assert len(h["seconds"]) == 3 and all(s >= 0 for s in h["seconds"])
    assert all(len(v) == 3 for v in h.values())


# ---------------------------------------------------------------- threads


def test_results_do_not_depend_on_the_thread_count(case, R):
    fits = {t: fitted_state(case.make(n_threads=t).fit(R)) for t in case.case.threads}
    ref = fits[case.case.threads[0]]
    for t, state in fits.items():
        assert_same_state(state, ref, f"n_threads={t}")


# ---------------------------------------------------------------- files


def test_save_load_round_trip(case, R, tmp_path):
    model = case.make(reg=0.7, random_state=3).fit(R)
    model.save(tmp_path / "model.npz")
    again = lorank.load(tmp_path / "model.npz")
    want = case.case.loaded_type() if case.case.loaded_type else type(model)
    assert type(again) is want
    # The parameters the loaded class has (callbacks and clients are not saved).
    loaded = again.get_params()
    kept = {k: v for k, v in model.get_params().items() if k in loaded and k != "callback"}
    assert kept.keys() >= {"rank", "reg", "random_state", "dtype"}
    assert {k: loaded[k] for k in kept} == kept
    rows, cols, _ = R.coo()
    assert (again.predict_positions(rows, cols).tobytes()
            == model.predict_positions(rows, cols).tobytes())
    users, items = R.row_labels[rows], R.col_labels[cols]
    assert again.predict(users, items).tobytes() == model.predict(users, items).tobytes()
    state, loaded = fitted_state(model), fitted_state(again)
    common = set(state) & set(loaded)
    assert {"factors_left", "factors_right", "row_bias_", "col_bias_", "mean_"} <= common
    assert_same_state({k: state[k] for k in common}, {k: loaded[k] for k in common}, "load")


# ---------------------------------------------------------------- serving


def test_recommender_on_top(case, R):
    rec = lorank.Recommender(case.make()).fit(R)
    # The lightest and a heavy user (skewed data: the heaviest have seen nearly all).
    order = np.argsort(R.row_counts, kind="stable")
    for user in R.row_labels[[order[0], order[1], order[len(order) // 2]]]:
        i = R.row_index(user)
        seen = set(R.col_labels[R.csr.indices[R.csr.indptr[i]:R.csr.indptr[i + 1]]].tolist())
        items, scores = rec.recommend(user, n=5)
        assert len(items) == 5 and not seen & set(items.tolist())
        assert np.all(np.diff(scores) <= 0)
        # Scores come from blocked GEMMs, predictions from per-entry dot products.
        np.testing.assert_allclose(scores, rec.predict([user] * 5, items),
                                   rtol=4 * np.finfo(scores.dtype).eps)
        # The best unseen items by the model's own predictions.
        unseen = np.array([j for j in range(R.shape[1]) if R.col_labels[j] not in seen])
        pred = rec.model_.predict_positions(np.full(len(unseen), i), unseen)
        want = unseen[np.argsort(-pred, kind="stable")[:5]]
        assert items.tolist() == R.col_labels[want].tolist()


# ---------------------------------------------------------------- Ctrl-C


def test_ctrl_c_keeps_the_last_complete_iteration_warns_and_reraises(case, R):
    def interrupt(model, it):
        if it == 3:
            raise KeyboardInterrupt

    model = case.make(max_iter=6, callback=interrupt)
    with pytest.warns(RuntimeWarning, match="interrupted after 3 complete iterations"):
        with pytest.raises(KeyboardInterrupt):  # re-raised: a script stops there
            model.fit(R)
    assert model.n_iter_ == 3
    assert_stopped_state(case, model, case.make(max_iter=3).fit(R), "Ctrl-C")
    rows, cols, _ = R.coo()
    assert np.isfinite(model.predict_positions(rows, cols)).all()


# ---------------------------------------------------------------- labels


def test_labels_in_and_out(case, R):
    model = case.make().fit(R)
    assert model.user_labels_.tolist() == R.row_labels.tolist()
    assert model.item_labels_.tolist() == R.col_labels.tolist()
    rows, cols, _ = R.coo()
    users, items = R.row_labels[rows], R.col_labels[cols]
    np.testing.assert_array_equal(model.predict(users, items),
                                  model.predict_positions(rows, cols))
    # A position is not a label: 0 names no user here.
    with pytest.raises(KeyError, match=r"unknown users: 0"):
        model.predict([0], [items[0]])
    with pytest.raises(KeyError, match=r"unknown items: 'no-such-item'"):
        model.predict([users[0]], ["no-such-item"])


def test_unlabelled_data_answers_in_positions(case):
    R = ratings(labelled=False)
    model = case.make().fit(R)
    rows, cols, _ = R.coo()
    np.testing.assert_array_equal(model.predict(rows, cols), model.predict_positions(rows, cols))
    with pytest.raises(KeyError, match=rf"unknown users: {R.shape[0]}"):
        model.predict([R.shape[0]], [0])


def test_dataframe_in_equals_ratings(case, R):
    pd = pytest.importorskip("pandas")
    rows, cols, values = R.coo()
    df = pd.DataFrame({"who": R.row_labels[rows], "what": R.col_labels[cols],
                       "stars": values})
    by_frame = case.make().fit(df, columns=("who", "what", "stars"))
    by_ratings = case.make().fit(R)
    assert_same_state(fitted_state(by_frame), fitted_state(by_ratings), "DataFrame")


# ---------------------------------------------------------------- scikit-learn


def test_sklearn_get_params_set_params_clone(case, R):
    base = pytest.importorskip("sklearn.base")
    model = case.make(rank=2)
    params = model.get_params()
    assert params["rank"] == 2 and params["max_iter"] == case.case.params["max_iter"]
    assert model.set_params(rank=4) is model and model.get_params()["rank"] == 4
    assert "rank=4" in repr(model)
    with pytest.raises(ValueError, match="bogus"):
        model.set_params(bogus=1)
    fitted = model.fit(R)
    # score is minus the RMSE of the predictions.
    rows, cols, values = R.coo()
    rmse = np.sqrt(np.mean((fitted.predict_positions(rows, cols) - values) ** 2))
    assert fitted.score(R) == pytest.approx(-rmse, rel=1e-12)


def _marked(name):
    """MODELS as parameters, with a not-run xfail for models whose known_failures
    name this test (a call that fails might leave damage behind)."""
    return [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(
        run=False, reason=c.known_failures[name])] if name in c.known_failures else [])
            for c in MODELS]


@pytest.mark.parametrize("model_case", _marked("sklearn_clone"))
def test_sklearn_clone(request, R, model_case):
    base = pytest.importorskip("sklearn.base")
    case = _bind(request, model_case)
    fitted = case.make(rank=2).fit(R)
    copy = base.clone(fitted)
    assert type(copy) is type(fitted) and copy.get_params().keys() == fitted.get_params().keys()
    assert all(copy.get_params()[k] is v or copy.get_params()[k] == v
               for k, v in fitted.get_params().items())
    assert not hasattr(copy, "factors_")
    again = copy.fit(R)
    assert_same_state(fitted_state(again), fitted_state(fitted), "clone")
