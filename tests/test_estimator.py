"""The one estimator base (lorank.models._estimator): parameters, the fit gate, the
iteration driver, the fitted protocol, run on every model built on it."""

import warnings

import numpy as np
import pytest

import lorank
from lorank import ALS, Ratings, SoftImpute
from lorank.models._estimator import (CompletionModel, check_bool, check_choice, check_int,
                               check_random_state, check_real)

# Every model on the base, with small fast parameters.
MODELS = [
    lambda **kw: ALS(2, **{"random_state": 0, "reg": 1.0, **kw}),  # the loop, not "auto"
    lambda **kw: SoftImpute(2, **{"random_state": 0, "reg": 1.0, **kw}),  # the loop too
]
IDS = ["ALS", "SoftImpute"]

def labelled(seed=0, m=40, n=25, nnz=500):
    R, _ = lorank.datasets.synthetic(m, n, nnz, rank=2, random_state=seed,
                                     popularity="uniform")
    rows, cols, vals = R.coo()
    users = np.array([f"u{i}" for i in range(m)])[rows]
    return Ratings.from_labels(users, 100 + cols.astype(np.int64), vals)


def users_of(df):
    return df["userId"].to_numpy()


def items_of(df):
    return df["movieId"].to_numpy()


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_get_set_params_repr_and_sklearn_clone(make):
    from sklearn.base import clone

    model = make(max_iter=3)
    params = model.get_params()
    assert params["max_iter"] == 3 and params["rank"] == 2
    again = clone(model)
    assert type(again) is type(model) and again.get_params() == params
    assert model.set_params(max_iter=4) is model and model.max_iter == 4
    text = repr(model)
    assert text.startswith(type(model).__name__ + "(") and "max_iter=4" in text
    assert "dtype" not in text  # defaults are not shown
    with pytest.raises(ValueError, match="invalid parameter 'rnak'.*valid parameters: rank"):
        model.set_params(rnak=3)
    # A clone is unfitted even when the original is fitted.
    model.fit(labelled())
    assert not hasattr(clone(model), "factors_")


def test_repr_shows_only_non_defaults():
    assert repr(ALS()) == "ALS()"
    assert repr(ALS(5, reg=0.1, dtype=np.float64)) == "ALS(rank=5, reg=0.1, dtype=np.float64)"
    assert repr(SoftImpute(biases=False)) == "SoftImpute(biases=False)"


@pytest.mark.parametrize("make", MODELS, ids=IDS)
@pytest.mark.parametrize("params, error, match", [
    (dict(biases="no"), TypeError, "biases must be True or False, got 'no'"),
    (dict(biases=1), TypeError, "biases must be True or False, got 1"),
    (dict(random_state=-1), ValueError, "random_state must be a non-negative integer"),
    (dict(random_state=1.5), TypeError, "random_state must be None, a non-negative integer"),
    (dict(progress="yes"), TypeError, "progress must be True or False"),
    (dict(max_iter=True), TypeError, "max_iter must be an integer, got True"),
    (dict(tol=-1.0), ValueError, "tol must be a finite number >= 0, got -1.0"),
    (dict(callback="print"), TypeError, "callback must be callable"),
    (dict(dtype="int8"), TypeError, "dtype must be float32 or float64"),
])
def test_parameters_are_checked_with_their_names(make, params, error, match):
    # Regression (issue 10): biases="no" fitted with biases on; a negative
    # random_state gave numpy's message without the parameter's name.
    with pytest.raises(error, match=match):
        make(**params).fit(labelled())


def test_parameter_helpers():
    assert check_int(np.int64(3), "k", minimum=1) == 3
    with pytest.raises(ValueError, match="k must be <= 5, got 6"):
        check_int(6, "k", maximum=5)
    assert check_real(np.float32(0.5), "x", minimum=0, maximum=1) == 0.5
    with pytest.raises(ValueError, match=r"x must be a finite number >= 0 and <= 1, got 2.0"):
        check_real(2, "x", minimum=0, maximum=1)
    with pytest.raises(ValueError, match="got nan"):
        check_real(np.nan, "x")
    assert check_bool(np.True_, "b") is True
    with pytest.raises(TypeError, match="b must be True or False, got 0"):
        check_bool(0, "b")
    assert check_choice("svd", "init", ("svd", "random")) == "svd"
    with pytest.raises(ValueError, match='how must be one of "a", "b" or "c", got \'d\''):
        check_choice("d", "how", ("a", "b", "c"))
    rng = np.random.default_rng(0)
    assert check_random_state(rng) is rng and check_random_state(None) is None
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        check_random_state(-3, "seed")


# ---------------------------------------------------------------- the gate and labels


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_trap1_predict_reads_labels(make):
    # Issue 10, trap 1: ALS().fit(R).predict([196], [242]) read file ids as
    # positions (off by one user and one item on ML-100k, no error).
    R = labelled()
    model = make().fit(R)
    rows, cols, values = R.coo()
    users, items = R.row_labels[rows], R.col_labels[cols]
    by_label = model.predict(users, items)
    np.testing.assert_array_equal(by_label, model.predict_positions(rows, cols))
    i, j = R.row_index("u7"), R.col_index(110)
    assert model.predict("u7", 110) == model.predict_positions([i], [j])[0]
    with pytest.raises(KeyError, match="unknown users: 7"):  # a position is not a label
        model.predict(7, 110)
    with pytest.raises(KeyError, match="unknown items: 3"):
        model.predict("u7", [110, 3])
    # One user for many items, and the regression form (an (n, 2) array).
    np.testing.assert_array_equal(model.predict("u7", [110, 111]),
                                  model.predict(["u7", "u7"], [110, 111]))
    pairs = np.array([["u7", 110], ["u8", 111]], dtype=object)
    np.testing.assert_array_equal(model.predict(pairs), model.predict(["u7", "u8"], [110, 111]))
    # unknown="bias" falls back to the biases.
    got = model.predict(["nobody", "u7"], [110, -5], unknown="bias")
    np.testing.assert_allclose(got, [model.mean_ + model.col_bias_[j],
                                     model.mean_ + model.row_bias_[i]], rtol=1e-6)


def test_trap1_ml100k_file_ids_are_labels(ml100k_dir):
    R, _ = lorank.datasets.load_movielens(ml100k_dir)
    model = ALS(random_state=0, max_iter=3).fit(R)
    rec = lorank.Recommender(ALS(random_state=0, max_iter=3)).fit(R)
    # Model and Recommender give one answer for file ids 196 and 242.
    assert model.predict(196, 242) == rec.predict(196, 242)
    i, j = R.row_index(196), R.col_index(242)
    assert (i, j) == (195, 241)
    assert model.predict(196, 242) == model.predict_positions([i], [j])[0]
    assert model.predict(196, 242) != model.predict_positions([196], [242])[0]


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_trap2_dataframe_is_ratings_never_a_dense_matrix(make):
    pd = pytest.importorskip("pandas")
    R = labelled()
    rows, cols, values = R.coo()
    df = pd.DataFrame({"userId": R.row_labels[rows], "movieId": R.col_labels[cols],
                       "rating": values})
    from_df = make().fit(df)
    from_ratings = make().fit(R)
    np.testing.assert_array_equal(from_df.predict("u3", 104), from_ratings.predict("u3", 104))
    # columns= names them, as lorank.distributed.ALS.fit(df, columns=...) does.
    odd = df.rename(columns={"userId": "who", "movieId": "what", "rating": "stars_given"})
    named = make().fit(odd, columns=("who", "what", "stars_given"))
    assert named.predict("u3", 104) == from_ratings.predict("u3", 104)
    # A DataFrame without recognisable columns is a TypeError naming the fix.
    with pytest.raises(TypeError, match=r"never as a dense matrix.*columns=\(user, item, "
                                        r"rating\).*Ratings.from_pandas"):
        make().fit(pd.DataFrame(np.ones((30, 3))))
    with pytest.raises(TypeError, match="Ratings.from_pandas"):
        make().fit(odd)
    # pandas Series of ids are sequences of labels.
    np.testing.assert_array_equal(from_df.predict(df["userId"][:5], df["movieId"][:5]),
                                  from_ratings.predict(users_of(df)[:5], items_of(df)[:5]))
    with pytest.raises(ValueError, match="user='nope' is not a column"):
        make().fit(odd, columns=("nope", "what", "stars_given"))


def test_validation_is_aligned_by_labels():
    R = labelled()
    train, test = R.split(0.2, random_state=0)
    model = ALS(2, random_state=0, max_iter=3).fit(train, validation=test)
    assert model.history_["valid_rmse"][-1] == pytest.approx(-model.score(test))
    # A validation set with other labels (a subset of users, relabelled) is
    # scored by labels, not positions.
    rows, cols, values = test.coo()
    sub = Ratings.from_labels(test.row_labels[rows][::-1], test.col_labels[cols][::-1],
                              values[::-1])
    other = ALS(2, random_state=0, max_iter=3).fit(train, validation=sub)
    assert other.history_["valid_rmse"] == pytest.approx(model.history_["valid_rmse"])
    # Same shape, other labels (regression from the sweep: scored against the
    # wrong rows): the validation entries are found by their labels.
    renamed = test._with_labels(test.row_labels[::-1], test.col_labels)
    by_label = ALS(2, random_state=0, max_iter=3).fit(train, validation=renamed)
    assert by_label.history_["valid_rmse"][-1] == pytest.approx(-by_label.score(renamed))
    assert by_label.history_["valid_rmse"][-1] != pytest.approx(model.history_["valid_rmse"][-1])
    stranger = Ratings.from_labels(["zed"], [100], [3.0])
    with pytest.raises(ValueError, match="validation has users that X does not: 'zed'"):
        ALS(2).fit(train, validation=stranger)


@pytest.mark.parametrize("values, match", [
    (np.ones(200), "all 200 ratings equal 1.*lorank.ImplicitALS"),
    (np.full(200, 4.0), "all 200 ratings equal 4"),
    (np.arange(200) % 2, "all 0 or 1.*lorank.ImplicitALS"),
])
def test_trap4_degenerate_data_warns_what_it_looks_like(values, match):
    # Issue 10, trap 4: binary data gave all-zero factors and recommendations in
    # id order, with no warning.
    rng = np.random.default_rng(0)
    pos = rng.choice(50 * 30, 200, replace=False)
    R = Ratings(pos // 30, pos % 30, values.astype(float), shape=(50, 30))
    with pytest.warns(UserWarning, match=match):
        ALS(2, reg=1.0, random_state=0, max_iter=2).fit(R)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ALS(2, reg=1.0, random_state=0, max_iter=2).fit(
            Ratings(pos // 30, pos % 30, (pos % 5 + 1).astype(float), shape=(50, 30)))


# ---------------------------------------------------------------- the iteration driver


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_history_progress_and_callback(make):
    R = labelled()
    calls = []
    model = make(tol=0, max_iter=5, progress=True,
                 callback=lambda m, it: calls.append(it) or it < 3).fit(R)
    assert calls == [1, 2, 3] and model.n_iter_ == 3
    h = model.history_
    assert list(h)[0] == "iteration" and list(h)[-1] == "seconds"
    assert h["iteration"] == [1, 2, 3] and all(len(v) == 3 for v in h.values())
    assert all(s >= 0 for s in h["seconds"])


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_trap5_ctrl_c_propagates(make):
    # Issue 10, trap 5: Ctrl-C inside fit was swallowed, so a script looping over
    # fits went on. Now the model keeps the last complete iteration, warns, and
    # the KeyboardInterrupt reaches the caller.
    R = labelled()

    def interrupt(model, it):
        if it == 2:
            raise KeyboardInterrupt

    model = make(tol=0, max_iter=10, callback=interrupt)
    with pytest.warns(RuntimeWarning, match="interrupted after 2 complete iterations; keeping"):
        with pytest.raises(KeyboardInterrupt):
            model.fit(R)
    assert model.n_iter_ == 2 and len(model.history_["iteration"]) == 2
    two = make(tol=0, max_iter=2).fit(R)
    np.testing.assert_array_equal(model.predict("u1", [100, 101]), two.predict("u1", [100, 101]))
    # The model is usable, by labels.
    assert np.isfinite(model.predict("u1", 100))


def test_a_refit_forgets_the_previous_labels():
    model = ALS(2, reg=1.0, random_state=0, max_iter=2).fit(labelled())
    R = Ratings.from_labels(["a", "b", "c"] * 4, [1, 2, 3, 4] * 3, np.arange(12) % 5 + 1.0)
    model.fit(R)
    assert model.user_labels_.tolist() == ["a", "b", "c"]
    with pytest.raises(KeyError, match="unknown users: 'u1'"):
        model.predict("u1", 1)


# ---------------------------------------------------------------- fitted protocol


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_score_is_negative_rmse_and_save_keeps_labels(make, tmp_path):
    R = labelled()
    train, test = R.split(0.2, random_state=1)
    model = make().fit(train)
    rows, cols, values = test.coo()
    rmse = np.sqrt(np.mean((model.predict_positions(rows, cols) - values) ** 2,
                           dtype=np.float64))
    assert model.score(test) == pytest.approx(-rmse, rel=1e-6)
    pairs = np.column_stack([test.row_labels[rows].astype(object), test.col_labels[cols]])
    assert model.score(pairs, values) == pytest.approx(-rmse, rel=1e-6)
    model.save(tmp_path / "m.npz")
    again = lorank.load(tmp_path / "m.npz")
    assert again.predict("u5", 101) == model.predict("u5", 101)
    assert again.user_labels_.tolist() == model.user_labels_.tolist()


def test_not_fitted():
    with pytest.raises(AttributeError, match="not fitted yet"):
        ALS().predict(0, 0)
    assert issubclass(ALS, CompletionModel) and issubclass(SoftImpute, CompletionModel)


def test_label_lookup_fast_path_agrees_with_the_dict():
    from lorank.data._labels import LabelIndex

    rng = np.random.default_rng(0)
    for labels, query in (
            (np.array([3, 7, 8, 20]), rng.integers(-2, 25, 200)),
            (np.array(["a", "b", "zz"]), np.array(["a", "q", "zz", "zzz", ""])),
            (None, rng.integers(-3, 12, 50)),
            (np.array([5, 1, 9]), np.array([9, 5, 2])),           # not sorted: the dict
            (np.array([1, 2, 3], np.uint64), np.array([-1, 2, 3]))):
        index = LabelIndex(labels, None if labels is not None else 10)
        fast, _, many = index.lookup(query)
        slow, _, _ = index.lookup(list(query.tolist()))
        assert many
        np.testing.assert_array_equal(fast, slow)


def test_trap3_columns_are_read_by_name_not_position(tmp_path):
    # Issue 10, trap 3 (the DataFrame half; files by header are lorank.data.loaders'):
    # a frame written by df.to_csv keeps its index column, and one with columns
    # item,user,rating is in another order: both are read by names.
    pd = pytest.importorskip("pandas")
    R = labelled()
    rows, cols, values = R.coo()
    df = pd.DataFrame({"item": R.col_labels[cols], "user": R.row_labels[rows],
                       "rating": values})
    df.to_csv(tmp_path / "x.csv")
    again = pd.read_csv(tmp_path / "x.csv")
    assert list(again.columns) == ["Unnamed: 0", "item", "user", "rating"]
    model = ALS(2, random_state=0).fit(again)
    want = ALS(2, random_state=0).fit(R)
    assert model.user_labels_.tolist() == R.row_labels.tolist()
    np.testing.assert_allclose(model.predict("u3", [100, 101]), want.predict("u3", [100, 101]),
                               rtol=1e-5)
