"""The estimator contract, once, for every model in ``contract.MODELS``.

Bad parameters, predict before fit, callback stop, Ctrl-C, thread invariance
(with the kernels' team sizes), save/load, labels in and out, the Recommender
on top, scikit-learn's protocol. A model without something a test needs
declares it (``ModelCase.lacks``, with the reason): the test then skips saying
why, and :func:`test_declared_capabilities_are_true` checks the declaration.
"""

import importlib
import inspect

import numpy as np
import pytest

import lorank
from contract import CAPABILITIES, MODELS, assert_same_state, fitted_state


class Bound:
    """A ModelCase with its fixtures: ``case.make(**params)`` builds the model."""

    def __init__(self, case, fixtures):
        self.case, self.fixtures = case, fixtures

    def make(self, **params):
        return self.case.make(self.fixtures, **params)

    @property
    def name(self):
        return self.case.name

    @property
    def problem(self):
        return self.case.problem

    def require(self, capability):
        self.case.require(capability)


def _bind(request, case):
    return Bound(case, {name: request.getfixturevalue(name) for name in case.needs})


@pytest.fixture(params=MODELS, ids=repr)
def case(request):
    return _bind(request, request.param)


_DATA = {}


def _data(case, labelled=True):
    """The case's training problem (a Ratings or a TensorRatings), built once."""
    key = (case.problem, labelled)
    if key not in _DATA:
        _DATA[key] = case.problem.make(labelled=labelled)
    return _DATA[key]


@pytest.fixture
def R(request):
    """The training problem of the test's model case."""
    for name in ("case", "model_case"):
        if name in request.fixturenames:
            return _data(request.getfixturevalue(name))
    raise AssertionError("R needs a model case")


# ---------------------------------------------------------------- declarations


@pytest.mark.parametrize("model_case", MODELS, ids=repr)
def test_declared_capabilities_are_true(model_case):
    """A declared gap is real: no iteration parameter without "iterations", no
    n_threads without "threads"; and a model that has them says so."""
    params = inspect.signature(model_case.model_class()).parameters
    assert model_case.has("iterations") == (model_case.iter_param in params), params
    assert model_case.has("iterations") == ("callback" in params), params
    assert model_case.has("threads") == ("n_threads" in params), params
    # A model that lacks the Recommender or DataFrame input refuses them.
    if not model_case.has("recommender"):
        with pytest.raises(TypeError, match="ratings must be a lorank.Ratings"):
            lorank.Recommender(model_case.make({})).fit(_data(model_case))
    if not model_case.has("dataframe"):
        pd = pytest.importorskip("pandas")
        with pytest.raises(TypeError, match="got DataFrame"):
            model_case.make({}).fit(pd.DataFrame({"user": [0], "item": [1], "rating": [2.0]}))
    for module, attr, names in model_case.kernels:
        kernel = getattr(importlib.import_module(module), attr)
        assert all(hasattr(kernel, name) for name in names) and hasattr(kernel,
                                                                         "last_team_size")
    assert set(CAPABILITIES) >= set(model_case.lacks)


# ---------------------------------------------------------------- parameters


_BAD = [pytest.param(c, params, error, match, id=f"{c.name}-{'-'.join(map(str, params))}")
        for c in MODELS for params, error, match in c.bad]


@pytest.mark.parametrize("model_case, params, error, match", _BAD)
def test_bad_parameters_raise_naming_the_value(request, R, model_case, params, error, match):
    model = _bind(request, model_case).make(**params)
    with pytest.raises(error, match=match):
        model.fit(R)
    assert not hasattr(model, "factors_")


def test_predict_before_fit(case, R):
    model = case.make()
    index, _ = case.problem.observed(R)
    for call in (lambda: case.problem.predict_positions(model, [i[:1] for i in index]),
                 lambda: case.problem.predict(model, [lab[:1] for lab in
                                                      case.problem.labels(R)]),
                 model.to_lowrank, lambda: model.save("never-written.npz")):
        # lorank.NotFittedError: a ValueError (the brief's bad-input rule) and an
        # AttributeError (hasattr on learned attributes), as scikit-learn's is
        with pytest.raises(lorank.NotFittedError, match="is not fitted yet; call fit first") as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


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
    case.require("iterations")
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
    case.require("iterations")
    model = case.make(max_iter=3).fit(R)
    h = model.history_
    assert h["iteration"] == [1, 2, 3] and model.n_iter_ == 3
    assert len(h["seconds"]) == 3 and all(s >= 0 for s in h["seconds"])
    assert len(h) > 2 and all(len(v) == 3 for v in h.values())


# ---------------------------------------------------------------- threads


class _TeamSpy:
    """Stands in for a kernel module: the team size of each call of the listed
    functions, as the module reports it (``last_team_size()``)."""

    def __init__(self, module, names, teams):
        self.module, self.teams = module, teams
        for name in names:
            setattr(self, name, self._spy(name))

    def _spy(self, name):
        function = getattr(self.module, name)

        def call(*args, **kwargs):
            out = function(*args, **kwargs)
            self.teams.setdefault(name, []).append(self.module.last_team_size())
            return out

        return call

    def __getattr__(self, name):
        return getattr(self.module, name)


_THREAD_FITS = {}


def _thread_fits(case, R):
    """{n_threads: (fitted state, {kernel function: team sizes})}, once per model,
    with every kernel of the case watched."""
    if case.name not in _THREAD_FITS:
        out = {}
        for t in case.case.threads:
            teams = {}
            with pytest.MonkeyPatch.context() as mp:
                for module, attr, names in case.case.kernels:
                    owner = importlib.import_module(module)
                    mp.setattr(owner, attr, _TeamSpy(getattr(owner, attr), names, teams))
                state = fitted_state(case.make(n_threads=t).fit(R))
            out[t] = (state, teams)
        _THREAD_FITS[case.name] = out
    return _THREAD_FITS[case.name]


def test_results_do_not_depend_on_the_thread_count(case, R):
    case.require("threads")
    fits = _thread_fits(case, R)
    ref = fits[case.case.threads[0]][0]
    for t, (state, _) in fits.items():
        assert_same_state(state, ref, f"n_threads={t}")


def test_the_kernels_ran_with_the_requested_team(case, R):
    """The invariance above is not vacuous: every kernel call ran its parallel
    region with a team of n_threads threads (more than one for n_threads > 1)."""
    case.require("threads")
    case.require("kernels")
    fits = _thread_fits(case, R)
    assert max(fits) > 1
    for t, (_, teams) in fits.items():
        assert teams, f"no watched kernel ran for n_threads={t}"
        for name, sizes in teams.items():
            # 0: a call without work (no parallel region ran).
            assert set(sizes) - {0} == {t}, f"{name} ran with teams {set(sizes)} for {t}"


def test_recommendations_do_not_depend_on_the_thread_count(case, R, monkeypatch):
    """recommend_all's compiled top-k, for 1, 2, 3 and 8 threads, with its team size."""
    case.require("recommender")
    import lorank.recommend

    rec = lorank.Recommender(case.make()).fit(R)
    results = {}
    for t in (1, 2, 3, 8):
        teams = {}
        monkeypatch.setattr(lorank.recommend, "_topk",
                            _TeamSpy(lorank._kernels._topk, ("score_topk",), teams))
        rec.n_threads = t
        items, scores = rec.recommend_all_positions(5)
        assert teams["score_topk"] and set(teams["score_topk"]) == {t}, (t, teams)
        results[t] = items.tobytes(), scores.tobytes()
    assert len(set(results.values())) == 1


# ---------------------------------------------------------------- files


def test_save_load_round_trip(case, R, tmp_path):
    model = case.make(**case.case.variant).fit(R)
    model.save(tmp_path / "model.npz")
    again = lorank.load(tmp_path / "model.npz")
    want = case.case.loaded_type() if case.case.loaded_type else type(model)
    assert type(again) is want
    # The parameters the loaded class has (callbacks and clients are not saved).
    loaded = again.get_params()
    kept = {k: v for k, v in model.get_params().items() if k in loaded and k != "callback"}
    assert kept.keys() >= set(case.case.variant) | {"dtype"}
    assert {k: loaded[k] for k in kept} == kept
    index, _ = case.problem.observed(R)
    p = case.problem
    assert p.predict_positions(again, index).tobytes() == p.predict_positions(model,
                                                                              index).tobytes()
    labels = [lab[i] for lab, i in zip(p.labels(R), index)]
    assert p.predict(again, labels).tobytes() == p.predict(model, labels).tobytes()
    state, loaded = fitted_state(model), fitted_state(again)
    common = set(state) & set(loaded)
    assert set(case.case.learned) <= common, sorted(set(case.case.learned) - common)
    assert_same_state({k: state[k] for k in common}, {k: loaded[k] for k in common}, "load")


# ---------------------------------------------------------------- serving


def test_recommender_on_top(case, R):
    case.require("recommender")
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
    case.require("iterations")

    def interrupt(model, it):
        if it == 3:
            raise KeyboardInterrupt

    model = case.make(max_iter=6, callback=interrupt)
    with pytest.warns(RuntimeWarning, match="interrupted after 3 complete"):
        with pytest.raises(KeyboardInterrupt):  # re-raised: a script stops there
            model.fit(R)
    assert model.n_iter_ == 3
    assert_stopped_state(case, model, case.make(max_iter=3).fit(R), "Ctrl-C")
    index, _ = case.problem.observed(R)
    assert np.isfinite(case.problem.predict_positions(model, index)).all()


class _Interrupt:
    """Stands in for a kernel module: counts the calls of the listed functions
    and raises KeyboardInterrupt instead of the call numbered ``at`` (from 1),
    as a Ctrl-C arriving while a kernel runs does."""

    def __init__(self, module, names, counter, at=None):
        self.module, self.counter, self.at = module, counter, at
        for name in names:
            setattr(self, name, self._wrap(getattr(module, name)))

    def _wrap(self, function):
        def call(*args, **kwargs):
            self.counter[0] += 1
            if self.counter[0] == self.at:
                raise KeyboardInterrupt
            return function(*args, **kwargs)

        return call

    def __getattr__(self, name):
        return getattr(self.module, name)


def _fit_counting(case, model, R, at=None):
    """Fit ``model`` with its kernels' calls counted, the call numbered ``at``
    interrupted; returns the number of calls."""
    counter = [0]
    with pytest.MonkeyPatch.context() as mp:
        for module, attr, names in case.case.kernels:
            owner = importlib.import_module(module)
            mp.setattr(owner, attr, _Interrupt(getattr(owner, attr), names, counter, at))
        model.fit(R)
    return counter[0]


def test_ctrl_c_inside_a_kernel_keeps_the_last_complete_iteration(case, R):
    """Ctrl-C while a kernel runs, without a callback (models publish their state
    to a callback, so a callback's KeyboardInterrupt cannot tell): the model is
    the last complete iteration's, as if max_iter had been that many."""
    case.require("iterations")
    case.require("kernels")
    three = case.make(max_iter=3)
    calls = _fit_counting(case, three, R)
    assert _fit_counting(case, case.make(max_iter=4), R) > calls  # a kernel in every iteration
    # The first call of iteration 4: the first after the max_iter=3 fit's
    # iterations (it may end with more calls, e.g. SoftImpute's soft-threshold pass).
    model = case.make(max_iter=6)
    with pytest.warns(RuntimeWarning, match="interrupted after 3 complete"):
        with pytest.raises(KeyboardInterrupt):
            _fit_counting(case, model, R, at=calls - case.case.final_calls + 1)
    assert model.n_iter_ == 3
    assert_stopped_state(case, model, three, "Ctrl-C in a kernel")


# ---------------------------------------------------------------- labels


def test_labels_in_and_out(case, R):
    p = case.problem
    model = case.make().fit(R)
    for got, want in zip(p.model_labels(model), p.labels(R), strict=True):
        assert np.asarray(got).tolist() == np.asarray(want).tolist()
    index, _ = p.observed(R)
    labels = [lab[i] for lab, i in zip(p.labels(R), index)]
    np.testing.assert_array_equal(p.predict(model, labels), p.predict_positions(model, index))
    # A position is not a label: 0 names no user here.
    first = [lab[:1] for lab in labels]
    with pytest.raises(KeyError, match=p.unknown(0, 0)):
        p.predict(model, [[0]] + first[1:])
    with pytest.raises(KeyError, match=p.unknown(1, "no-such-item")):
        p.predict(model, first[:1] + [["no-such-item"]] + first[2:])


def test_unlabelled_data_answers_in_positions(case):
    p = case.problem
    R = _data(case, labelled=False)
    model = case.make().fit(R)
    index, _ = p.observed(R)
    np.testing.assert_array_equal(p.predict(model, index), p.predict_positions(model, index))
    beyond = [[R.shape[0]]] + [i[:1] for i in index[1:]]
    with pytest.raises(KeyError, match=p.unknown(0, R.shape[0])):
        p.predict(model, beyond)


def test_dataframe_in_equals_ratings(case, R):
    case.require("dataframe")
    pd = pytest.importorskip("pandas")
    rows, cols, values = R.coo()
    df = pd.DataFrame({"who": R.row_labels[rows], "what": R.col_labels[cols],
                       "stars": values})
    by_frame = case.make().fit(df, columns=("who", "what", "stars"))
    by_ratings = case.make().fit(R)
    assert_same_state(fitted_state(by_frame), fitted_state(by_ratings), "DataFrame")


# ---------------------------------------------------------------- scikit-learn


def test_sklearn_get_params_set_params_clone(case, R):
    pytest.importorskip("sklearn.base")
    name, value, other = case.case.tune
    model = case.make(**{name: value})
    params = model.get_params()
    assert params[name] == value
    assert all(params[k] == v for k, v in case.case.resolved(**{name: value}).items())
    assert model.set_params(**{name: other}) is model and model.get_params()[name] == other
    assert f"{name}={other!r}" in repr(model)
    with pytest.raises(ValueError, match="bogus"):
        model.set_params(bogus=1)
    fitted = model.fit(R)
    if case.case.score == "ranking":
        # The training items are never recommended: on the training data itself
        # every top-k list misses, NDCG 0.
        assert fitted.score(R) == 0.0
        return
    # score is minus the RMSE of the predictions.
    index, values = case.problem.observed(R)
    pred = case.problem.predict_positions(fitted, index).astype(np.float64)
    rmse = np.sqrt(np.mean((pred - values) ** 2))
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
    name, value, _ = model_case.tune
    fitted = case.make(**{name: value}).fit(R)
    copy = base.clone(fitted)
    assert type(copy) is type(fitted) and copy.get_params().keys() == fitted.get_params().keys()
    assert all(copy.get_params()[k] is v or copy.get_params()[k] == v
               for k, v in fitted.get_params().items())
    assert not hasattr(copy, "factors_")
    again = copy.fit(R)
    assert_same_state(fitted_state(again), fitted_state(fitted), "clone")
