"""ImplicitALS against a dense numpy reference of Hu, Koren & Volinsky's equations."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import lorank
from lorank import ImplicitALS
from lorank.models._estimator import CompletionModel


def dense_confidence(C, alpha, form="linear", eps=1.0):
    """(P, Conf): preferences and confidences of every entry of dense counts C."""
    P = (C > 0).astype(float)
    r = np.log1p(C / eps) if form == "log" else C
    return P, 1 + alpha * r


def reference_half_step(P, Conf, Y, reg):
    """Solve every row x_u = (Yᵀ C_u Y + λI)⁻¹ Yᵀ C_u p_u exactly, densely."""
    r = Y.shape[1]
    X = np.empty((P.shape[0], r))
    for u in range(P.shape[0]):
        A = (Y * Conf[u][:, None]).T @ Y + reg * np.eye(r)
        X[u] = np.linalg.solve(A, Y.T @ (Conf[u] * P[u]))
    return X


def reference_loss(P, Conf, X, Y, reg):
    S = X @ Y.T
    return float((np.sum(Conf * (P - S) ** 2) + reg * (np.sum(X**2) + np.sum(Y**2)))
                 / Conf.sum())


def small_counts(seed=0, m=30, n=20, density=0.25):
    rng = np.random.default_rng(seed)
    C = rng.integers(1, 20, size=(m, n)) * (rng.random((m, n)) < density)
    C[:, 0] = np.maximum(C[:, 0], 1)  # every user and item has an entry
    C[0, :] = np.maximum(C[0, :], 1)
    return C.astype(float)


def init(seed, m, n, rank, dtype):
    rng = np.random.default_rng(seed)
    X = (rng.random((m, rank)) * 0.01).astype(dtype)
    Y = (rng.random((n, rank)) * 0.01).astype(dtype)
    return X.astype(float), Y.astype(float)


@pytest.mark.parametrize("form", ["linear", "log"])
def test_iterations_match_the_dense_reference(form):
    C = small_counts()
    m, n = C.shape
    alpha, reg, rank = 3.0, 0.2, 4
    model = ImplicitALS(rank, alpha=alpha, reg=reg, confidence=form, max_iter=3,
                        dtype=np.float64, random_state=5).fit(sp.csr_matrix(C))
    P, Conf = dense_confidence(C, alpha, form)
    X, Y = init(5, m, n, rank, np.float64)
    losses = []
    for _ in range(3):
        X = reference_half_step(P, Conf, Y, reg)
        Y = reference_half_step(P.T, Conf.T, X, reg)
        losses.append(reference_loss(P, Conf, X, Y, reg))
    np.testing.assert_allclose(model.factors_.left, X, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.factors_.right, Y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.history_["loss"], losses, rtol=1e-9)
    assert model.history_["iteration"] == [1, 2, 3]
    assert len(model.history_["seconds"]) == 3


def test_float32_is_close_to_float64_and_loss_never_increases():
    C = small_counts(1, 60, 40)
    kw = dict(alpha=5.0, reg=0.1, max_iter=8, random_state=0)
    a = ImplicitALS(5, dtype=np.float32, **kw).fit(sp.csr_matrix(C))
    b = ImplicitALS(5, dtype=np.float64, **kw).fit(sp.csr_matrix(C))
    assert a.factors_.dtype == np.float32 and b.factors_.dtype == np.float64
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-4)
    loss = np.array(b.history_["loss"])
    assert (np.diff(loss) <= 1e-12 * loss[0]).all()


def test_result_does_not_depend_on_the_thread_count():
    X = lorank.datasets.synthetic_implicit(400, 150, 6000, random_state=2)
    a = ImplicitALS(8, max_iter=3, random_state=1, n_threads=1).fit(X)
    b = ImplicitALS(8, max_iter=3, random_state=1, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.factors_.left, b.factors_.left)
    np.testing.assert_array_equal(a.factors_.right, b.factors_.right)
    assert a.history_["loss"] == b.history_["loss"]


def test_inputs_agree_sparse_ratings_dense_and_dataframe():
    pd = pytest.importorskip("pandas")
    C = small_counts(3)
    S = sp.csr_matrix(C)
    kw = dict(max_iter=2, random_state=0, dtype=np.float64)
    a = ImplicitALS(3, **kw).fit(S)
    b = ImplicitALS(3, **kw).fit(lorank.Ratings.from_sparse(S))
    D = np.where(C > 0, C, np.nan)
    c = ImplicitALS(3, **kw).fit(D)
    np.testing.assert_array_equal(a.factors_.left, b.factors_.left)
    np.testing.assert_array_equal(a.factors_.left, c.factors_.left)
    coo = S.tocoo()
    df = pd.DataFrame({"user": coo.row, "item": coo.col, "plays": coo.data})
    R = lorank.Ratings.from_labels(df["user"], df["item"], df["plays"])
    d = lorank.Recommender(ImplicitALS(3, **kw)).fit(R)
    assert d.model_.factors_.shape == (C.shape[0], C.shape[1])


def test_stored_zeros_are_the_same_as_missing():
    C = small_counts(4)
    r, c = np.argwhere(C == 0)[0]
    coo = sp.csr_matrix(C).tocoo()
    with_zero = sp.csr_matrix((np.r_[coo.data, 0.0], (np.r_[coo.row, r], np.r_[coo.col, c])),
                              shape=C.shape)
    assert with_zero.nnz == coo.nnz + 1
    kw = dict(max_iter=2, random_state=0, dtype=np.float64)
    a = ImplicitALS(3, **kw).fit(sp.csr_matrix(C))
    b = ImplicitALS(3, **kw).fit(with_zero)
    np.testing.assert_allclose(a.factors_.left, b.factors_.left, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-12)


def test_user_without_positive_entries_gets_zero_factor():
    C = small_counts(5)
    C[3] = 0
    model = ImplicitALS(3, max_iter=2, random_state=0).fit(sp.csr_matrix(C))
    assert np.all(model.factors_.left[3] == 0)
    assert np.isfinite(model.factors_.left).all()


@pytest.mark.parametrize("params, error, match", [
    (dict(alpha=0), ValueError, "alpha must be a finite number > 0"),
    (dict(alpha=-1.0), ValueError, "alpha must be a finite number > 0"),
    (dict(alpha=np.nan), ValueError, "alpha"),
    (dict(reg=-0.1), ValueError, "reg must be"),
    (dict(cg_steps=0), ValueError, "cg_steps"),
    (dict(solver="lu"), ValueError, 'solver must be "cholesky" or "cg"'),
    (dict(confidence="sqrt"), ValueError, "confidence"),
    (dict(epsilon=0), ValueError, "epsilon"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(callback=3), TypeError, "callback must be callable"),
])
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        ImplicitALS(2, **params).fit(sp.csr_matrix(small_counts()))


def test_bad_values():
    C = small_counts()
    C[2, 3] = -4
    with pytest.raises(ValueError, match="negative value -4"):
        ImplicitALS(2).fit(sp.csr_matrix(C))
    C[2, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        ImplicitALS(2).fit(sp.csr_matrix(C))


def test_recommender_filters_seen_and_folds_in():
    X = lorank.datasets.synthetic_implicit(300, 80, 4000, random_state=0)
    rec = lorank.Recommender(ImplicitALS(6, max_iter=4, random_state=0,
                                         dtype=np.float64)).fit(X)
    seen = set(X.csr.indices[X.csr.indptr[7]:X.csr.indptr[8]].tolist())
    items, scores = rec.recommend(7, n=10)
    assert not seen & set(items.tolist()) and len(items) == 10
    assert (np.diff(scores) <= 0).all()
    top, _ = rec.recommend_all(10)
    np.testing.assert_array_equal(top[7], items)
    # Fold-in of user 7's own interactions: the exact users half-step solve.
    model = rec.model_
    cols = X.csr.indices[X.csr.indptr[7]:X.csr.indptr[8]]
    vals = X.csr.values[X.csr.indptr[7]:X.csr.indptr[8]]
    a, bias = rec.fold_in(cols, vals)
    C = X.to_scipy().toarray()
    P, Conf = dense_confidence(C[7:8], model.alpha)
    expect = reference_half_step(P, Conf, model.factors_.right.astype(float), model.reg)[0]
    np.testing.assert_allclose(a, expect, rtol=1e-8, atol=1e-12)
    assert bias == 0.0
    assert len(rec.similar_items(3, n=5)[0]) == 5
    assert len(rec.similar_users(3, n=5)[0]) == 5


def test_partial_fit_users_and_items():
    X = lorank.datasets.synthetic_implicit(200, 60, 2500, random_state=1)
    model = ImplicitALS(4, max_iter=3, random_state=0, dtype=np.float64).fit(X)
    S = X.to_scipy()
    Y = model.factors_.right.copy()
    new_rows = S[[3, 9]]
    model.partial_fit_users(np.array([3, 205]), new_rows)
    assert model.factors_.left.shape == (206, 4)
    np.testing.assert_array_equal(model.factors_.left[200:205], 0)
    np.testing.assert_allclose(model.factors_.left[205], model.recalculate_user(
        new_rows[1].indices, new_rows[1].data), rtol=1e-12)
    np.testing.assert_array_equal(model.factors_.right, Y)
    P, Conf = dense_confidence(new_rows.toarray(), model.alpha)
    np.testing.assert_allclose(model.factors_.left[[3, 205]],
                               reference_half_step(P, Conf, Y, model.reg), rtol=1e-8)
    cols = S.T.tocsr()[[0]]
    model.partial_fit_items(np.array([0]), cols[:, :206] if cols.shape[1] >= 206 else
                            sp.hstack([cols, sp.csr_matrix((1, 6))]).tocsr())
    with pytest.raises(ValueError, match="must have shape"):
        model.partial_fit_users(np.array([1]), S[[1, 2]])


def test_save_and_load_round_trip(tmp_path):
    X = lorank.datasets.synthetic_implicit(100, 40, 1200, random_state=3)
    rec = lorank.Recommender(ImplicitALS(3, max_iter=2, random_state=0)).fit(X)
    path = tmp_path / "m.npz"
    rec.save(path)
    again = lorank.load(path)
    assert type(again.model_) is ImplicitALS
    np.testing.assert_array_equal(again.recommend_all(5)[0], rec.recommend_all(5)[0])
    assert again.model_.history_["loss"] == rec.model_.history_["loss"]


def test_callback_stops_and_interrupt_keeps_the_last_iteration():
    C = sp.csr_matrix(small_counts())
    model = ImplicitALS(2, max_iter=10, random_state=0,
                        callback=lambda model, it: it < 3).fit(C)
    assert model.n_iter_ == 3

    def interrupt(model, it):
        if it == 2:
            raise KeyboardInterrupt
    model = ImplicitALS(2, max_iter=10, random_state=0, callback=interrupt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(KeyboardInterrupt):
            model.fit(C)
    assert model.n_iter_ == 2 and len(model.history_["loss"]) == 2


class _Truth(CompletionModel):
    """Scores from known factors, in the fitted-model protocol."""

    biases = False

    def __init__(self, factors=None):
        self.factors = factors
        self.factors_ = factors


def test_recovers_most_of_what_the_true_preferences_gain_over_popularity():
    X, truth = lorank.datasets.synthetic_implicit(2000, 300, 40_000, rank=5, random_state=0,
                                                  return_truth=True)
    X = lorank.Ratings.from_csr(X.csr.indptr, X.csr.indices, np.ones(X.nnz, np.float32),
                                X.shape)  # 0/1 positives
    train, test = X.split(0.2, random_state=0, by="row")
    out = {}
    for name, model in (("als", ImplicitALS(5, alpha=1.0, reg=3.0, max_iter=8, random_state=0)),
                        ("pop", lorank.Popularity()), ("truth", None)):
        if model is None:
            rec = lorank.Recommender.from_model(_Truth(truth["preference"]), train)
        else:
            rec = lorank.Recommender(model).fit(train)
        top, _ = rec.recommend_all(10)
        out[name] = lorank.metrics.ranking_metrics(top, test, 10, threshold=None)
    for metric in ("precision", "ndcg"):
        pop, best = out["pop"][metric], out["truth"][metric]
        assert best > 1.2 * pop  # the data has structure beyond popularity
        assert out["als"][metric] > pop + 0.4 * (best - pop), metric


def test_scikit_learn_clone_and_params():
    sklearn_base = pytest.importorskip("sklearn.base")
    model = ImplicitALS(7, alpha=3.0, confidence="log", random_state=2)
    copy = sklearn_base.clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert copy.set_params(alpha=5.0).alpha == 5.0
    with pytest.raises(ValueError, match="invalid parameter 'beta'"):
        copy.set_params(beta=1)


def test_recommend_new_user_excludes_their_items():
    X = lorank.datasets.synthetic_implicit(300, 60, 3000, random_state=4)
    rec = lorank.Recommender(ImplicitALS(4, max_iter=3, random_state=0)).fit(X)
    items, scores = rec.recommend_new([1, 2, 5], [3.0, 1.0, 10.0], n=5)
    assert len(items) == 5 and not {1, 2, 5} & set(items.tolist())
    with pytest.raises(ValueError, match="negative value"):
        rec.fold_in([1, 2], [1.0, -1.0])
    with pytest.raises(KeyError):
        rec.fold_in([1000], [1.0])


def test_blocks_of_targets_give_the_same_factors(monkeypatch):
    import lorank.models.implicit_als as module

    X = lorank.datasets.synthetic_implicit(500, 120, 5000, random_state=5)
    a = ImplicitALS(6, max_iter=2, random_state=0).fit(X)
    monkeypatch.setattr(module, "_ACCUMULATOR_BYTES", 7 * 64 * 37)  # 37 targets a call
    b = ImplicitALS(6, max_iter=2, random_state=0).fit(X)
    np.testing.assert_array_equal(a.factors_.left, b.factors_.left)
    np.testing.assert_array_equal(a.factors_.right, b.factors_.right)
    assert a.history_["loss"] == b.history_["loss"]


def test_cg_with_enough_steps_reaches_the_exact_solution():
    X = lorank.datasets.synthetic_implicit(300, 100, 3000, random_state=6)
    kw = dict(max_iter=4, random_state=0, dtype=np.float64)
    exact = ImplicitALS(5, **kw).fit(X)
    cg = ImplicitALS(5, solver="cg", cg_steps=12, **kw).fit(X)
    np.testing.assert_allclose(cg.factors_.left, exact.factors_.left, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cg.history_["loss"], exact.history_["loss"], rtol=1e-8)


def test_cg_loss_never_increases_and_improves_with_steps():
    X = lorank.datasets.synthetic_implicit(400, 120, 5000, random_state=7)
    losses = {}
    for steps in (1, 3):
        model = ImplicitALS(8, solver="cg", cg_steps=steps, max_iter=5, random_state=0,
                            dtype=np.float64).fit(X)
        loss = np.array(model.history_["loss"])
        assert (np.diff(loss) <= 1e-12 * loss[0]).all()  # warm-started CG only descends
        losses[steps] = loss[-1]
    exact = ImplicitALS(8, max_iter=5, random_state=0, dtype=np.float64).fit(X)
    assert exact.history_["loss"][-1] <= losses[3] < losses[1]


def test_cg_does_not_depend_on_the_thread_count():
    X = lorank.datasets.synthetic_implicit(400, 150, 6000, random_state=2)
    a = ImplicitALS(8, solver="cg", max_iter=3, random_state=1, n_threads=1).fit(X)
    b = ImplicitALS(8, solver="cg", max_iter=3, random_state=1, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.factors_.left, b.factors_.left)
    np.testing.assert_array_equal(a.factors_.right, b.factors_.right)


def test_evaluate_chooses_ranking_metrics_for_implicit_models():
    X = lorank.datasets.synthetic_implicit(400, 100, 6000, random_state=8)
    table = lorank.evaluate(ImplicitALS(4, max_iter=3, random_state=0), X, folds=3)
    d = table.to_dict()
    assert set(d) == {"precision@10", "recall@10", "map@10", "ndcg@10", "auc@10",
                      "fit_seconds"}
    pop = lorank.evaluate(lorank.Popularity(), X, folds=3).to_dict()
    assert set(pop) == set(d)
    assert all(0 <= d[k]["mean"] <= 1 for k in d if k != "fit_seconds")
    # Explicit models keep the rating metrics.
    R, _ = lorank.datasets.synthetic(200, 50, 3000, rank=2, random_state=0)
    assert "rmse" in lorank.evaluate(lorank.ALS(2, random_state=0), R, folds=2).to_dict()


def _manual_metrics(model, train, test, k=10):
    top, _ = lorank.Recommender.from_model(model, train).recommend_all_positions(k)
    return lorank.metrics.ranking_metrics(top, test, k, threshold=None, train=train)


@pytest.mark.parametrize("make", [lambda: ImplicitALS(4, max_iter=3, random_state=0),
                                  lambda: lorank.Popularity()], ids=["ImplicitALS", "Popularity"])
def test_score_is_a_ranking_metric_of_the_held_out_interactions(make):
    X = lorank.datasets.synthetic_implicit(300, 80, 5000, random_state=4)
    train, test = X.split(0.2, random_state=0, by="row")
    model = make().fit(train)
    expected = _manual_metrics(model, train, test)
    assert model.score(test) == expected["ndcg"]
    assert model.score(test, metric="precision") == expected["precision"]
    assert model.score(test, metric="auc") == expected["auc"]
    # The seen items are filtered: scoring the training data itself finds nothing.
    assert model.score(train) == 0.0
    # train= gives the same as the remembered pattern.
    assert model.score(test, train=train) == expected["ndcg"]
    with pytest.raises(ValueError, match="metric"):
        model.score(test, metric="rmse")


def test_score_by_labels_leaves_out_unknown_labels_and_zeros():
    C = small_counts(seed=5, m=40, n=25, density=0.3)
    rows, cols = np.nonzero(C)
    users = np.array([f"u{i}" for i in range(C.shape[0])], dtype=object)
    items = np.array([f"i{j}" for j in range(C.shape[1])], dtype=object)
    R = lorank.Ratings.from_labels(users[rows], items[cols], C[rows, cols].astype(float))
    train, test = R.split(0.25, random_state=0, by="row")
    model = ImplicitALS(3, max_iter=3, random_state=0).fit(train)
    base = model.score(test, metric="precision")
    t_rows, t_cols, t_vals = test.coo()
    u_lab, i_lab = test.label_index(0).labels, test.label_index(1).labels
    # The same held-out set plus a new user, a new item and a stored zero.
    u2 = np.concatenate([u_lab[t_rows], ["new-user", "u0", "u1"]])
    i2 = np.concatenate([i_lab[t_cols], ["i0", "new-item", "i2"]]).astype(object)
    taken = set(zip(u2[:-1].tolist(), i2[:-1].tolist())) | set(
        zip(*[a.tolist() for a in (train.label_index(0).labels[train.coo()[0]],
                                  train.label_index(1).labels[train.coo()[1]])]))
    assert ("u1", "i2") not in taken
    v2 = np.concatenate([t_vals, [1.0, 1.0, 0.0]])
    more = lorank.Ratings.from_labels(u2.astype(object), i2, v2)
    assert model.score(more, metric="precision") == base


def test_score_needs_train_after_partial_fit_or_load(tmp_path):
    X = lorank.datasets.synthetic_implicit(200, 60, 2500, random_state=1)
    train, test = X.split(0.2, random_state=0, by="row")
    model = ImplicitALS(4, max_iter=2, random_state=0).fit(train)
    expected = model.score(test)
    model.save(tmp_path / "m.npz")
    loaded = lorank.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="pass train="):
        loaded.score(test)
    assert loaded.score(test, train=train) == expected
    model.partial_fit_users(np.array([3]), train.to_scipy()[[3]])
    with pytest.raises(ValueError, match="pass train="):
        model.score(test)


def test_cross_val_score_and_grid_search_use_the_ranking_score():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, cross_val_score

    from lorank.model_selection import KFold

    X = lorank.datasets.synthetic_implicit(300, 80, 5000, random_state=6)
    cv = KFold(3, by="row", random_state=0)
    model = ImplicitALS(4, max_iter=3, random_state=0)
    scores = cross_val_score(model, X, cv=cv)
    by_hand = []
    for tr, te in cv.split(X):
        train, test = X.take(np.asarray(tr)), X.take(np.asarray(te))
        fitted = ImplicitALS(4, max_iter=3, random_state=0).fit(train)
        by_hand.append(_manual_metrics(fitted, train, test)["ndcg"])
    np.testing.assert_array_equal(scores, by_hand)
    search = GridSearchCV(model, {"reg": [0.1, 10.0, 1000.0]}, cv=cv).fit(X)
    means = search.cv_results_["mean_test_score"]
    assert search.best_params_["reg"] == [0.1, 10.0, 1000.0][int(np.argmax(means))]


def test_evaluate_refuses_rating_metrics_for_implicit_models():
    X = lorank.datasets.synthetic_implicit(200, 60, 2500, random_state=1)
    for model in (ImplicitALS(4, max_iter=2), lorank.Popularity()):
        with pytest.raises(ValueError, match="implicit feedback"):
            lorank.evaluate(model, X, folds=2, metrics=["rmse", "ndcg@10"])


def test_chunked_start_is_one_draw_of_the_whole_block():
    from lorank.models.implicit_als import _GRAM_CHUNK, _uniform_start
    from lorank.models.als import _factor_storage

    m = 2 * _GRAM_CHUNK + 5
    F = _factor_storage(m, 3, np.float32)
    _uniform_start(F, 3, np.random.default_rng(7))
    expected = (np.random.default_rng(7).random((m, 3)) * 0.01).astype(np.float32)
    np.testing.assert_array_equal(F[:, :3], expected)


def test_final_factors_own_no_padding_copy_when_rank_fills_the_rows():
    X = lorank.datasets.synthetic_implicit(100, 40, 1200, random_state=3)
    model = ImplicitALS(16, max_iter=1, random_state=0).fit(X)  # 16 float32 = 64 bytes
    assert model.factors_.left.flags.c_contiguous and model.factors_.left.base is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rank", [5, 16])  # padded rows, and rows the rank fills (float32)
def test_triangular_transform_is_the_matrix_product(dtype, rank):
    from lorank.models.als import _factor_storage
    from lorank.models.implicit_als import _GRAM_CHUNK, _transform

    rng = np.random.default_rng(0)
    A = np.tril(rng.random((rank, rank))) + np.eye(rank)
    F = _factor_storage(_GRAM_CHUNK + 3, rank, dtype)
    F[:, :rank] = rng.random((len(F), rank))
    F[:, rank:] = 7  # padding must stay untouched
    before = F.copy()
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for trans, T in ((False, A.T), (True, A)):
        G = F.copy()
        _transform(G, A, trans, rank)
        np.testing.assert_allclose(G[:, :rank], before[:, :rank] @ T, rtol=tol)
        np.testing.assert_array_equal(G[:, rank:], before[:, rank:])


def test_value_range_check_sums_in_chunks_and_still_refuses_overflow(monkeypatch):
    # The check sums squares in float64 chunks (no nnz-sized float64 copy at the
    # peak of a fit); a sum leaving float32 is refused whatever the chunking.
    from lorank import _validation

    monkeypatch.setattr(_validation, "_SUM_CHUNK", 3)
    big = np.full(10, 1e19, np.float32)  # each square (1e38) fits float32, the sum does not
    R = lorank.Ratings(np.arange(10), np.arange(10) % 4, big, shape=(10, 4))
    with pytest.raises(ValueError, match="sum of squares"):
        ImplicitALS(2, max_iter=1).fit(R)
    ok = lorank.Ratings(np.arange(10), np.arange(10) % 4, np.full(10, 1e18, np.float32),
                        shape=(10, 4))
    _validation.check_value_range(ok)  # 10 x 1e36 fits
