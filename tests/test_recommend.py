"""lorank.Recommender and the _topk kernels."""

import numpy as np
import pytest

import lorank
from lorank._kernels import _topk

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def topk_reference(scores, excl_indptr, excl_indices, k, worst=False):
    """Plain numpy: stable sort by (-score or score, index), skip excluded, pad."""
    b, n = scores.shape
    idx = np.full((b, k), -1, np.int32)
    val = np.full((b, k), np.nan, scores.dtype)
    for i in range(b):
        keep = np.setdiff1d(np.arange(n), excl_indices[excl_indptr[i]:excl_indptr[i + 1]])
        key = scores[i, keep] if worst else -scores[i, keep]
        order = keep[np.argsort(key, kind="stable")][:k]
        idx[i, :len(order)] = order
        val[i, :len(order)] = scores[i, order]
    return idx, val


def random_exclusions(rng, b, n, p):
    mask = rng.random((b, n)) < p
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64)
    return indptr, np.nonzero(mask)[1].astype(np.int32)


def run_topk(scores, indptr, indices, k, worst=False, n_threads=2):
    idx = np.empty((scores.shape[0], k), np.int32)
    val = np.empty((scores.shape[0], k), scores.dtype)
    _topk.topk(scores, indptr, indices, worst, idx, val, n_threads)
    return idx, val


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("worst", [False, True])
@pytest.mark.parametrize("k", [1, 5, 40])
def test_topk_kernel_matches_argsort_with_ties_exclusions_and_short_rows(dtype, worst, k):
    rng = np.random.default_rng(k)
    b, n = 50, 30
    scores = rng.integers(0, 6, (b, n)).astype(dtype)  # many ties
    indptr, indices = random_exclusions(rng, b, n, 0.3)
    # row 0: everything excluded; row 1: nothing excluded
    mask = np.ones((b, n), bool)
    for i in range(b):
        mask[i] = False
        mask[i, indices[indptr[i]:indptr[i + 1]]] = True
    mask[0], mask[1] = True, False
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64)
    indices = np.nonzero(mask)[1].astype(np.int32)
    got = run_topk(scores, indptr, indices, k, worst)
    want = topk_reference(scores, indptr, indices, k, worst)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert (got[0][0] == -1).all() and np.isnan(got[1][0]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_kernel_continuous_scores_int64_exclusions(dtype):
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((20, 500)).astype(dtype)
    indptr, indices = random_exclusions(rng, 20, 500, 0.5)
    got = run_topk(scores, indptr, indices.astype(np.int64), 10)
    want = topk_reference(scores, indptr, indices, 10)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_score_topk_is_independent_of_threads_and_matches_reference(dtype):
    rng = np.random.default_rng(2)
    L = rng.standard_normal((203, 6)).astype(dtype)
    R = rng.standard_normal((90, 6)).astype(dtype)
    indptr, indices = random_exclusions(rng, 203, 90, 0.2)
    outs = []
    for threads in (1, 2, 3):
        idx = np.empty((203, 7), np.int32)
        val = np.empty((203, 7), dtype)
        with lorank._threads.single_threaded_blas():
            _topk.score_topk(L, R, indptr, indices, 0, 203, 16, False, idx, val, threads)
        outs.append((idx, val))
    for idx, val in outs[1:]:
        np.testing.assert_array_equal(idx, outs[0][0])
        np.testing.assert_array_equal(val, outs[0][1])
    want_idx, _ = topk_reference(L @ R.T, indptr, indices, 7)
    np.testing.assert_array_equal(outs[0][0], want_idx)
    np.testing.assert_allclose(outs[0][1], np.take_along_axis(L @ R.T, want_idx, 1),
                               rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("worst", [False, True])
@pytest.mark.parametrize("k", [3, 40])
def test_infinite_scores_are_ranked_not_dropped(dtype, worst, k):
    # Regression: excluded columns were marked with a -inf key, so a score that
    # overflowed to -inf (or +inf with worst=True) vanished from the top k.
    rng = np.random.default_rng(k)
    b, n = 30, 100  # wide enough for the 32-column vectorized scan
    scores = rng.standard_normal((b, n)).astype(dtype)
    scores[rng.random((b, n)) < 0.1] = np.inf
    scores[rng.random((b, n)) < 0.1] = -np.inf
    scores[0] = -np.inf  # a row of nothing but -inf: still k items
    indptr, indices = random_exclusions(rng, b, n, 0.2)
    got = run_topk(scores, indptr, indices, k, worst)
    want = topk_reference(scores, indptr, indices, k, worst)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert (got[0] >= 0).all()  # every row has more than k eligible columns


@pytest.mark.parametrize("worst", [False, True])
def test_score_topk_keeps_overflowing_scores(worst):
    left = np.array([[1e30], [1.0]], np.float32)
    right = np.array([[1e30], [1.0], [-1e30]], np.float32)  # scores inf, 1e30, -inf
    idx = np.empty((2, 3), np.int32)
    val = np.empty((2, 3), np.float32)
    with lorank._threads.single_threaded_blas():
        _topk.score_topk(left, right, np.zeros(3, np.int64), np.empty(0, np.int32), 0, 2, 16,
                         worst, idx, val, 1)
    order = [2, 1, 0] if worst else [0, 1, 2]
    np.testing.assert_array_equal(idx, [order, order])
    assert np.isposinf(val[0, order.index(0)]) and np.isneginf(val[0, order.index(2)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_scores_are_an_error_naming_the_row(dtype):
    scores = np.zeros((5, 70), dtype)
    scores[3, 50] = np.nan
    with pytest.raises(ValueError, match="the scores of row 3 hold NaN"):
        run_topk(scores, np.zeros(6, np.int64), np.empty(0, np.int32), 2)
    # an excluded NaN is not looked at
    idx, _ = run_topk(scores, np.array([0, 0, 0, 0, 1, 1], np.int64), np.array([50], np.int32), 2)
    np.testing.assert_array_equal(idx, [[0, 1]] * 5)
    left = np.array([[1.0], [1.0], [1.0], [1.0], [np.inf]], dtype)  # inf * 0 is NaN
    right = np.array([[0.0], [1.0]], dtype)
    with pytest.raises(ValueError, match="the scores of row 4 hold NaN"):  # not row 1 of 3..5
        with lorank._threads.single_threaded_blas():
            _topk.score_topk(left, right, np.zeros(6, np.int64), np.empty(0, np.int32), 3, 5,
                             16, False, np.empty((2, 1), np.int32), np.empty((2, 1), dtype), 1)


# ---------------------------------------------------------------- Recommender


def labelled(dtype, seed=0, m=60, n=40, nnz=900):
    R, _ = lorank.datasets.synthetic(m, n, nnz, rank=3, random_state=seed, dtype=dtype,
                                     popularity="uniform")
    rows, cols, vals = R.coo()
    users = np.array([f"u{i}" for i in range(m)])[rows]
    items = (1000 + cols).astype(np.int64)
    return lorank.Ratings.from_labels(users, items, vals)


@pytest.fixture(scope="module", params=DTYPES)
def fitted(request):
    dtype = request.param
    R = labelled(dtype)
    rec = lorank.Recommender(lorank.ALS(3, reg=0.05, dtype=dtype, random_state=0,
                                        max_iter=30, tol=0, clip=False)).fit(R)
    return rec, R, dtype


def test_recommend_filters_seen_and_orders_by_score(fitted):
    rec, R, dtype = fitted
    for user in ["u0", "u7", "u33"]:
        i = R.row_index(user)
        seen = set(R.col_labels[R.csr.indices[R.csr.indptr[i]:R.csr.indptr[i + 1]]].tolist())
        items, scores = rec.recommend(user, n=15)
        assert len(items) == 15 and not seen & set(items.tolist())
        assert (np.diff(scores) <= 0).all()
        np.testing.assert_allclose(scores, rec.predict(user, list(items)), rtol=RTOL[dtype] * 10)
        # the best unseen item overall is first
        unseen = [j for j in R.col_labels.tolist() if j not in seen]
        best = unseen[int(np.argmax(rec.predict(user, unseen)))]
        assert items[0] == best
        worst_items, worst_scores = rec.recommend(user, n=5, worst=True)
        assert (np.diff(worst_scores) >= 0).all() and not seen & set(worst_items.tolist())
        assert worst_items[0] == unseen[int(np.argmin(rec.predict(user, unseen)))]
    all_items, _ = rec.recommend("u0", n=1000, filter_seen=False)
    assert sorted(all_items.tolist()) == sorted(R.col_labels.tolist())


def test_recommend_among_candidate_items(fitted):
    rec, R, _ = fitted
    cand = R.col_labels[:12].tolist()
    items, scores = rec.recommend("u3", n=100, items=cand, filter_seen=False)
    assert sorted(items.tolist()) == sorted(cand)
    i = R.row_index("u3")
    seen = set(R.col_labels[R.csr.indices[R.csr.indptr[i]:R.csr.indptr[i + 1]]].tolist())
    items, _ = rec.recommend("u3", n=100, items=cand)
    assert sorted(items.tolist()) == sorted(set(cand) - seen)


@pytest.mark.parametrize("worst", [False, True])
def test_recommend_all_equals_per_user_recommend(fitted, worst):
    rec, R, dtype = fitted
    idx, scores = rec.recommend_all_positions(8, worst=worst, batch_size=7)
    labels, same = rec.recommend_all(8, worst=worst, batch_size=7)
    assert idx.shape == labels.shape == (R.shape[0], 8)
    np.testing.assert_array_equal(labels, R.col_labels[idx])  # recommend_all answers in labels
    np.testing.assert_array_equal(same, scores)
    for i in range(R.shape[0]):
        items, s = rec.recommend(R.row_labels[i], n=8, worst=worst)
        np.testing.assert_array_equal(R.col_labels[idx[i]], items)
        np.testing.assert_allclose(scores[i], s, rtol=RTOL[dtype] * 10)


def test_recommend_all_without_filter_and_n_beyond_items(fitted):
    rec, R, _ = fitted
    # n beyond the catalogue is capped at it (n=10**12 must not allocate terabytes).
    idx, scores = rec.recommend_all_positions(10**12, filter_seen=False)
    assert idx.shape == (R.shape[0], R.shape[1]) and np.isfinite(scores).all()
    assert (np.sort(idx, axis=1) == np.arange(R.shape[1])).all()
    idx, scores = rec.recommend_all_positions(R.shape[1] + 3)
    assert ((idx >= 0).sum(1) == R.shape[1] - R.row_counts).all()
    labels, scores = rec.recommend_all(R.shape[1] + 3)  # padded: -1 for int labels, NaN
    assert ((labels == -1) == np.isnan(scores)).all()
    assert ((labels != -1).sum(1) == R.shape[1] - R.row_counts).all()


def test_unknown_labels_raise_naming_them_or_fall_back_to_biases(fitted):
    rec, _, _ = fitted
    with pytest.raises(KeyError, match="unknown users: 'nobody'"):
        rec.predict("nobody", 1000)
    with pytest.raises(KeyError, match="unknown items: 5, 6"):
        rec.predict(["u1", "u1"], [5, 6])
    with pytest.raises(KeyError, match="unknown users: 'zz'"):
        rec.recommend("zz")
    m = rec.model_
    got = rec.predict(["nobody", "u1", "nobody"], [1000, 5, 5], unknown="bias")
    i = rec._users.positions("u1")
    want = [m.mean_ + m.col_bias_[0], m.mean_ + m.row_bias_[i], m.mean_]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match='unknown must be "error" or "bias"'):
        rec.predict("u1", 1000, unknown="zero")


def test_fold_in_of_a_training_user_approximates_its_factor(fitted):
    rec, R, dtype = fitted
    for user in ["u2", "u10"]:
        i = R.row_index(user)
        sl = slice(R.csr.indptr[i], R.csr.indptr[i + 1])
        a, u = rec.fold_in(list(R.col_labels[R.csr.indices[sl]]), R.csr.values[sl])
        trained = rec.model_.factors_.left[i]
        np.testing.assert_allclose(a, trained, atol=2e-3 * max(1, np.abs(trained).max()))
        assert u == pytest.approx(rec.model_.row_bias_[i], abs=2e-3)
        items, scores = rec.recommend_new(list(R.col_labels[R.csr.indices[sl]]),
                                          R.csr.values[sl], n=5)
        np.testing.assert_array_equal(items, rec.recommend(user, n=5)[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fold_in_follows_soft_impute_centering(dtype):
    # SoftImpute's biases are its Baseline's damped means: the new user's bias is
    # Σ (x − μ − c) / (n + λ_u), and the factor the ridge solution (λ = reg) on
    # what it leaves.
    R = labelled(dtype)
    rec = lorank.Recommender(lorank.SoftImpute(3, reg=2.0, biases=True, dtype=dtype,
                                               max_iter=200, random_state=0)).fit(R)
    m = rec.model_
    i = R.row_index("u2")
    sl = slice(R.csr.indptr[i], R.csr.indptr[i + 1])
    cols, x = R.csr.indices[sl], R.csr.values[sl].astype(np.float64)
    a, u = rec.fold_in(list(R.col_labels[cols]), x)
    t = x - m.mean_ - m.col_bias_[cols]
    assert u == pytest.approx(t.sum() / (len(t) + m.reg_users_), rel=1e-6)
    B = m.factors_.right[cols].astype(np.float64)
    want = np.linalg.solve(B.T @ B + 2.0 * np.eye(B.shape[1]), B.T @ (t - u))
    np.testing.assert_allclose(a, want, rtol=1e-4, atol=1e-5)
    # A training user folded back in gets its trained bias (the Baseline's last
    # sweep fits u given c, with this λ_u) and lands near its trained row.
    assert u == pytest.approx(m.row_bias_[i], rel=1e-5)
    np.testing.assert_allclose(a, m.factors_.left[i], atol=0.05 * np.abs(want).max() + 1e-3)


def test_similar_items_and_users_by_cosine(fitted):
    rec, R, _ = fitted
    labels, F = rec.item_factors
    items, sims = rec.similar_items(labels[4], n=5)
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    cos = Fn @ Fn[4]
    cos[4] = -np.inf
    want = np.argsort(-cos, kind="stable")[:5]
    np.testing.assert_array_equal(items, labels[want])
    np.testing.assert_allclose(sims, cos[want], rtol=1e-5)
    assert labels[4] not in items.tolist()
    ulabels, U = rec.user_factors
    assert U.shape == (R.shape[0], 3)
    np.testing.assert_array_equal(U, rec.model_.factors_.left)
    np.testing.assert_array_equal(F, rec.model_.factors_.right)
    users, usims = rec.similar_users("u0", n=3)
    i = R.row_index("u0")
    Un = U / np.linalg.norm(U, axis=1, keepdims=True)
    cos = Un @ Un[i]
    cos[i] = -np.inf
    want = np.argsort(-cos, kind="stable")[:3]
    np.testing.assert_array_equal(users, ulabels[want])
    np.testing.assert_allclose(usims, cos[want], rtol=1e-5)
    assert "u0" not in users.tolist()


def test_unlabelled_ratings_use_indices_as_labels():
    R, _ = lorank.datasets.synthetic(30, 20, 200, rank=2, random_state=0)
    rec = lorank.Recommender(lorank.ALS(2, reg=1.0, random_state=0)).fit(R)
    items, _ = rec.recommend(3, n=4)
    assert items.dtype.kind == "i" and len(items) == 4
    with pytest.raises(KeyError, match="unknown users: 30"):
        rec.recommend(30)


def test_not_fitted_and_bad_arguments():
    with pytest.raises(lorank.NotFittedError, match="this Recommender is not fitted yet"):
        lorank.Recommender().recommend("a")
    R = labelled(np.float64, m=20, n=10, nnz=100)
    rec = lorank.Recommender(lorank.ALS(2, reg=1.0, random_state=0)).fit(R)
    with pytest.raises(ValueError, match="n must be >= 0"):
        rec.recommend("u1", n=-1)
    with pytest.raises(ValueError, match="items and ratings must have the same length"):
        rec.fold_in([1000, 1001], [4.0])
    with pytest.raises(KeyError, match="unknown items: 7"):
        rec.fold_in([7], [4.0])


@pytest.mark.parametrize("ratings", [[1e300, -1e300], [1e308, 1e308]])
def test_fold_in_beyond_the_factor_range_is_an_error_not_inf(fitted, ratings):
    # Regression: the factor came back as -inf with only a RuntimeWarning.
    rec, R, dtype = fitted
    items = list(R.col_labels[:2])
    if dtype == np.float64 and ratings[0] == 1e300:
        factor, bias = rec.fold_in(items, ratings)  # representable in float64
        assert np.isfinite(factor).all() and np.isfinite(bias)
        return
    with pytest.raises(ValueError, match=r"fold-in of these ratings \(up to 1e\+30\d\) gives "
                                         r"a factor of size .* beyond the model's float"):
        rec.fold_in(items, ratings)


# ---------------------------------------------------------------- one meaning of predict


def test_recommender_and_model_share_one_label_index(fitted):
    rec, R, _ = fitted
    model = rec.model_
    assert rec._users is model.labels_[0] and rec._items is model.labels_[1]
    users = ["u3", "u9", "u3"]
    items = [1003, 1010, 1020]
    np.testing.assert_array_equal(rec.predict(users, items), model.predict(users, items))
    assert rec.predict("u3", 1003) == model.predict("u3", 1003)
    # positions only through the call that says so
    i, j = R.row_index("u3"), R.col_index(1003)
    assert model.predict_positions([i], [j])[0] == model.predict("u3", 1003)


def test_from_model_maps_the_seen_pattern_by_labels():
    R = labelled(np.float64)
    train, test = R.split(0.2, random_state=0, by="row")
    model = lorank.ALS(3, random_state=0, max_iter=3).fit(train)
    rec = lorank.Recommender.from_model(model, R)  # everything rated counts as seen
    for user in ("u0", "u5"):
        i = R.row_index(user)
        seen = set(R.col_labels[R.csr.indices[R.csr.indptr[i]:R.csr.indptr[i + 1]]].tolist())
        items, _ = rec.recommend(user, n=100)
        assert not seen & set(items.tolist())
        assert len(items) == R.shape[1] - len(seen)
    # The same ratings under other labels (a shuffled relabelling) give the same pattern.
    rows, cols, vals = R.coo()
    perm = R.row_labels[rows][::-1], R.col_labels[cols][::-1], vals[::-1]
    again = lorank.Recommender.from_model(model, lorank.Ratings.from_labels(*perm))
    np.testing.assert_array_equal(again.recommend_all_positions(5)[0],
                                  rec.recommend_all_positions(5)[0])
    stranger = lorank.Ratings.from_labels(["zed"], [1000], [3.0])
    with pytest.raises(ValueError, match="ratings has users the model was not fitted on"):
        lorank.Recommender.from_model(model, stranger)


# ---------------------------------------------------------------- batches


def test_recommend_for_a_list_of_users_is_2d_and_equals_one_by_one(fitted):
    rec, R, dtype = fitted
    users = ["u0", "u7", "u33"]
    items, scores = rec.recommend(users, n=6)
    assert items.shape == scores.shape == (3, 6)
    for k, user in enumerate(users):
        one, s = rec.recommend(user, n=6)
        np.testing.assert_array_equal(items[k], one)
        np.testing.assert_allclose(scores[k], s, rtol=RTOL[dtype])
    # A batch of one is still 2-D; an unknown user in a list is a KeyError.
    assert rec.recommend(["u0"], n=2)[0].shape == (1, 2)
    with pytest.raises(KeyError, match="unknown users: 'ann'"):
        rec.recommend(["ann"])
    # Rows with fewer eligible items than n are padded (-1 for int labels, NaN).
    many, many_scores = rec.recommend(users, n=R.shape[1])
    for k, user in enumerate(users):
        eligible = R.shape[1] - R.row_counts[R.row_index(user)]
        assert (many[k] != -1).sum() == eligible and np.isnan(many_scores[k, eligible:]).all()


def test_n_is_capped_at_the_catalogue_and_a_str_is_one_label():
    R = lorank.Ratings.from_labels(["ann", "ann", "bob", "bob", "cy"] * 3,
                                   ["xy", "x", "y", "xy", "z"] + ["p", "q", "r", "s", "t"] * 2,
                                   np.arange(15) % 5 + 1.0, duplicates="last")
    rec = lorank.Recommender(lorank.ALS(1, random_state=0)).fit(R)
    items, _ = rec.recommend("cy", n=10**12, filter_seen=False)  # no terabyte allocation
    assert len(items) == R.shape[1]
    # items="xy" is the one item "xy", not the items "x" and "y".
    only, _ = rec.recommend("cy", items="xy", filter_seen=False)
    assert only.tolist() == ["xy"]
    with pytest.raises(KeyError, match="unknown items: 'nope'"):
        rec.recommend("cy", items=["xy", "nope"])


def test_user_items_overrides_the_seen_items(fitted):
    rec, R, _ = fitted
    i = R.row_index("u4")
    seen = R.col_labels[R.csr.indices[R.csr.indptr[i]:R.csr.indptr[i + 1]]].tolist()
    everything, _ = rec.recommend("u4", n=R.shape[1], filter_seen=False)
    # One user: a sequence of item labels to leave out instead of the training ones.
    left_out = [1000, 1001, 1002]
    got, _ = rec.recommend("u4", n=R.shape[1], user_items=left_out)
    assert got.tolist() == [j for j in everything.tolist() if j not in left_out]
    assert set(seen) - set(left_out) <= set(got.tolist())
    # A batch: one sequence per user, or implicit's sparse rows over item positions.
    batch, _ = rec.recommend(["u4", "u5"], n=5, user_items=[left_out, []])
    assert batch[0].tolist() == got[:5].tolist()
    assert batch[1].tolist() == rec.recommend("u5", n=5, filter_seen=False)[0].tolist()
    import scipy.sparse as sp

    S = sp.csr_matrix(([1.0] * 3, ([0, 0, 0], [0, 1, 2])), shape=(2, R.shape[1]))
    sparse, _ = rec.recommend(["u4", "u5"], n=5, user_items=S)
    np.testing.assert_array_equal(sparse, batch)
    with pytest.raises(ValueError, match=r"user_items must have shape \(2, 40\)"):
        rec.recommend(["u4", "u5"], user_items=sp.csr_matrix((3, 40)))
    with pytest.raises(ValueError, match="user_items has 1 entries for 2 users"):
        rec.recommend(["u4", "u5"], user_items=[left_out])


def test_a_long_list_of_users_is_scored_in_chunks(fitted, monkeypatch):
    import lorank.recommend

    rec, R, dtype = fitted
    users = list(R.row_labels[::-1]) + ["u0"]
    whole = rec.recommend(users, n=7)
    monkeypatch.setattr(lorank.recommend, "_CHUNK", 3 * R.shape[1])  # 3 users a chunk
    chunked = rec.recommend(users, n=7)
    np.testing.assert_array_equal(chunked[0], whole[0])
    # (BLAS may round a row's dot products differently in a smaller GEMM)
    np.testing.assert_allclose(chunked[1], whole[1], rtol=RTOL[dtype])
    with_items = rec.recommend(users[:5], n=3, user_items=[[1000]] * 5)
    monkeypatch.setattr(lorank.recommend, "_CHUNK", 1)
    np.testing.assert_array_equal(rec.recommend(users[:5], n=3, user_items=[[1000]] * 5)[0],
                                  with_items[0])


def test_fold_in_penalty_is_the_models_in_any_units():
    """ALS measures reg on the values / s (value_scale_) and its factors' penalty
    carries s: a fold-in of ratings x4 on the model of ratings x4 is that model's
    answer in those units (factor x2, bias x4). It took λ on every lane before, so
    the two disagreed off the 1-5 scale."""
    R, _ = lorank.datasets.synthetic(200, 100, 4000, rank=3, random_state=0,
                                     dtype=np.float64)
    rows, cols, values = R.coo()
    S = lorank.Ratings(rows, cols, values * 4, shape=R.shape)
    one, four = (lorank.Recommender(lorank.ALS(3, reg=1.0, dtype=np.float64, random_state=0,
                                               clip=False)).fit(X) for X in (R, S))
    assert four.model_.value_scale_ == 4.0 and one.model_.value_scale_ == 1.0
    items, x = cols[rows == 0], values[rows == 0]
    a1, u1 = one.fold_in(items, x)
    a4, u4 = four.fold_in(items, 4 * x)
    np.testing.assert_allclose(a4, 2 * a1, rtol=1e-8)
    assert u4 == pytest.approx(4 * u1, rel=1e-8)
    # The default model's fold-in takes the reg it chose.
    auto = lorank.Recommender(lorank.ALS(3, random_state=0)).fit(R)
    assert np.isfinite(auto.fold_in(items, x)[0]).all()


def test_a_loaded_model_folds_in_as_the_saved_one(tmp_path):
    """Regression: the file kept neither reg_ nor value_scale_, so a loaded
    ALS(reg="auto") raised in fold_in, and one fitted off the 1-5 scale would have
    folded in with the wrong penalty. They are in the header's "fitted" now."""
    R, _ = lorank.datasets.synthetic(200, 100, 4000, rank=3, random_state=0,
                                     dtype=np.float64)
    rows, cols, values = R.coo()
    S = lorank.Ratings(rows, cols, values * 4, shape=R.shape)
    rec = lorank.Recommender(lorank.ALS(3, dtype=np.float64, random_state=0)).fit(S)
    assert rec.model_.value_scale_ == 4.0
    rec.save(tmp_path / "r.npz")
    again = lorank.load(tmp_path / "r.npz")
    assert again.model_.reg_ == rec.model_.reg_
    assert again.model_.value_scale_ == 4.0
    items, x = cols[rows == 0], 4 * values[rows == 0]
    a, u = rec.fold_in(items, x)
    b, v = again.fold_in(items, x)
    np.testing.assert_array_equal(a, b)
    assert u == v
    # A file from before the header kept them says so instead of guessing.
    del again.model_.reg_
    with pytest.raises(ValueError, match="not the reg_ it chose"):
        again.fold_in(items, x)


@pytest.mark.parametrize("make", [
    lambda: lorank.Baseline(reg_users=15.0, reg_items=10.0),
    lambda: lorank.SoftImpute(3, reg=1.0, random_state=0),
], ids=["Baseline", "SoftImpute"])
def test_files_from_before_the_dampings_fold_in_by_their_old_rule(make, tmp_path):
    """A file without the header's "fitted" numbers (saved before they were kept):
    Baseline's damping is its numeric parameter, SoftImpute's centering was plain
    means (damping 0); neither raises."""
    from lorank import io

    R = labelled(np.float64)
    rec = lorank.Recommender(make()).fit(R)
    rec.save(tmp_path / "r.npz")
    arrays, header = io.load(tmp_path / "r.npz")
    del header["model"]["fitted"]
    io.save(tmp_path / "old.npz", arrays, header)
    old = lorank.load(tmp_path / "old.npz")
    items = list(R.col_labels[:6])
    x = np.arange(1.0, 7.0)
    _, u = old.fold_in(items, x)
    m = old.model_
    t = x - m.mean_ - m.col_bias_[R.col_index(items)]
    want = t.sum() / (len(t) + (15.0 if isinstance(m, lorank.Baseline) else 0.0))
    assert u == pytest.approx(want, rel=1e-6)
