"""lorank.CPALS and the tensor layout of the _als half-step, against numpy."""

import numpy as np
import pytest

import lorank
from lorank import CPALS, TensorRatings
from lorank._kernels import _als
from lorank.models.als import _factor_storage

from _cp_reference import cp_entries, cp_full, half_step as reference_half_step

KTOL = {np.float32: 2e-4, np.float64: 1e-10}


def planted(shape, rank, fraction, seed, noise=0.0, offset=0.0):
    """Distinct random cells of a planted CP tensor (+ offset and noise)."""
    rng = np.random.default_rng(seed)
    A = [rng.standard_normal((n, rank)) for n in shape]
    total = int(np.prod(shape))
    cells = rng.choice(total, int(fraction * total), replace=False)
    idx = np.unravel_index(cells, shape)
    values = cp_entries(A, idx) + offset + noise * rng.standard_normal(len(cells))
    return A, idx, values


# ---------------------------------------------------------------- the kernel

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("n_modes", [3, 4])
def test_half_step_tensor_layout_matches_numpy(dtype, biases, n_modes):
    shape = (60, 45, 12, 5)[:n_modes]
    rank = 6
    _, idx, values = planted(shape, 3, 0.08 if n_modes == 3 else 0.03, seed=n_modes,
                             noise=0.1, offset=3.0)
    T = TensorRatings(idx, values.astype(dtype), shape)
    rng = np.random.default_rng(1)
    F = []
    for n in shape:
        A = _factor_storage(n, rank + biases, dtype)
        A[:, :rank + biases] = rng.standard_normal((n, rank + biases))
        F.append(A)
    for m in range(n_modes):
        V = T.view(m)
        lam = 0.5 * T.counts(m) ** 0.5 + 0.1
        outs = []
        for fn in (_als.half_step, reference_half_step):
            solved = F[m].copy()
            sse, rsum = np.empty(shape[m]), np.empty(shape[m])
            status = np.empty(shape[m], np.int32)
            others = tuple((V.indices[k], F[V.modes[k]]) for k in range(1, n_modes - 1))
            fn(V.indptr, V.indices[0], V.values, F[V.modes[0]], solved, 3.0, lam, biases,
               rank, sse, rsum, status, 2, others=others)
            outs.append((solved[:, :rank + biases].astype(np.float64), sse, rsum, status))
        (x, sse, rsum, status), (x_ref, sse_ref, rsum_ref, status_ref) = outs
        scale = np.abs(x_ref).max()
        np.testing.assert_allclose(x, x_ref, rtol=0, atol=KTOL[dtype] * scale)
        np.testing.assert_allclose(sse, sse_ref, rtol=50 * KTOL[dtype], atol=1e-6)
        np.testing.assert_allclose(rsum, rsum_ref, rtol=0,
                                   atol=50 * KTOL[dtype] * (1 + np.abs(rsum_ref).max()))
        assert not status.any() and not status_ref.any()


# ---------------------------------------------------------------- recovery

RECOVERY_SHAPE = (200, 150, 40)


@pytest.mark.parametrize("seed", range(20))
def test_recovers_planted_rank5_cp_from_5_percent(seed):
    A, idx, values = planted(RECOVERY_SHAPE, 5, 0.05, seed)
    T = TensorRatings(idx, values, RECOVERY_SHAPE)
    model = CPALS(5, reg=1e-9, biases=False, dtype=np.float64, max_iter=60, tol=1e-12,
                  random_state=seed).fit(T)
    truth = cp_full(A)
    error = np.linalg.norm(cp_full(model.factors_) - truth) / np.linalg.norm(truth)
    assert error <= 1e-4, f"seed {seed}: relative error {error:.2e}"


def test_fits_biases_and_mean_and_objective_never_increases():
    shape = (50, 40, 8)
    A, idx, values = planted(shape, 2, 0.2, seed=3, noise=0.05)
    rng = np.random.default_rng(0)
    b = [rng.standard_normal(n) for n in shape]
    values = values + 3.5 + sum(bm[i] for bm, i in zip(b, idx))
    T = TensorRatings(idx, values, shape)
    model = CPALS(2, reg=0.01, dtype=np.float64, max_iter=40, tol=0, random_state=0).fit(T)
    objective = model.history_["objective"]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(objective, objective[1:]))
    assert model.history_["train_rmse"][-1] < 0.06
    assert len(model.history_["seconds"]) == model.n_iter_ == 40
    # predictions are μ + Σ b_m + Σ_k Π A_m, exactly as numpy sums them
    got = model.predict_positions(T.coo()[0])
    want = cp_entries(model.factors_, T.coo()[0], model.mean_, model.biases_)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    rmse = np.sqrt(np.mean((want - T.coo()[1]) ** 2))
    assert abs(rmse - model.history_["train_rmse"][-1]) < 1e-9
    assert abs(model.score(T) + rmse) < 1e-9


@pytest.mark.parametrize("k", [-2, 3])
def test_rating_scale_by_a_power_of_two_changes_only_the_units(k):
    """The fit runs on the values / s (value_scale_, a power of two), as ALS's: the
    same tensor ×2^k gives the same model in those units."""
    _, idx, values = planted((20, 15, 6), 2, 0.4, seed=1, noise=0.1, offset=3.0)
    T = TensorRatings(idx, values, (20, 15, 6)).astype(np.float64)
    base, other = (CPALS(2, dtype=np.float64, random_state=0, max_iter=4, tol=0).fit(X)
                   for X in (T, T._scaled(2.0**k)))
    assert other.value_scale_ == 2.0**k * base.value_scale_
    idx = np.unravel_index(np.arange(np.prod(T.shape)), T.shape)
    np.testing.assert_allclose(other.predict_positions(idx) / 2.0**k,
                               base.predict_positions(idx), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.array(other.history_["objective"]) / 4.0**k,
                               base.history_["objective"], rtol=1e-10)


@pytest.mark.parametrize("init", ["svd", "random"])
def test_bitwise_independent_of_thread_count(init):
    shape = (300, 200, 30)
    _, idx, values = planted(shape, 4, 0.02, seed=5, noise=0.3, offset=3.0)
    T = TensorRatings(idx, values.astype(np.float32), shape)
    fits = [CPALS(6, max_iter=4, tol=0, init=init, n_threads=n, random_state=2).fit(T)
            for n in (1, 2, 3)]
    for other in fits[1:]:
        for A, B in zip(fits[0].factors_ + fits[0].biases_, other.factors_ + other.biases_):
            assert A.tobytes() == B.tobytes()
        assert fits[0].mean_ == other.mean_
        assert fits[0].history_["objective"] == other.history_["objective"]


def test_validation_history_callback_and_save_load(tmp_path):
    shape = (40, 30, 6)
    _, idx, values = planted(shape, 2, 0.3, seed=1, noise=0.1, offset=2.0)
    T = TensorRatings(idx, values, shape, labels=[[f"u{i}" for i in range(40)], None, None])
    train, test = T.split(0.2, random_state=0)
    seen = []
    model = CPALS(2, max_iter=10, random_state=0,
                  callback=lambda m, it: seen.append(it) or it < 3).fit(train, test)
    assert seen == [1, 2, 3] and model.n_iter_ == 3
    assert np.isfinite(model.history_["valid_rmse"]).all()
    assert abs(model.history_["valid_rmse"][-1] + model.score(test)) < 1e-6
    path = tmp_path / "cp.npz"
    model.save(path)
    again = lorank.load(path)
    assert isinstance(again, CPALS)
    assert again.get_params() == dict(model.get_params(), callback=None)  # not stored
    assert again.labels_[0].same_as(model.labels_[0]) and not again.labels_[1].labelled
    query = (["u3", "u0"], [1, 2], [0, 5])
    assert again.predict(query).tobytes() == model.predict(query).tobytes()
    assert again.history_ == model.history_
    # Damaged files are refused naming the array (the LAYOUTS entry checks every one):
    # labels for the wrong number of users would answer for the wrong user.
    from lorank.models import _cp_base

    for name, damage in (("labels_0", lambda a: a[:-1]), ("factor_2", lambda a: a[:, :1])):
        arrays, header = _cp_base.to_arrays(model)
        arrays[name] = damage(arrays[name])
        lorank.io.save(tmp_path / "bad.npz", arrays, header)
        with pytest.raises(ValueError, match=name):
            lorank.load(tmp_path / "bad.npz")


def test_predict_by_label_and_unknown_labels():
    T = TensorRatings.from_labels((["b", "a", "b", "c"], [7, 7, 3, 3], ["x", "y", "y", "x"]),
                                  [4.0, 5.0, 2.0, 1.0])
    model = CPALS(1, init="random", random_state=0, max_iter=3).fit(T)
    by_label = model.predict((["a", "c"], [3, 7], ["x", "y"]))
    by_position = model.predict_positions(([0, 2], [0, 1], [0, 1]))
    assert by_label.tobytes() == by_position.tobytes()
    assert isinstance(model.predict(("a", 3, "x")), float)
    with pytest.raises(KeyError, match="unknown mode 2 labels: 'z'"):
        model.predict((["a"], [3], ["z"]))
    with pytest.raises(ValueError, match=r"indices\[1\] contains position 2, outside mode 1"):
        model.predict_positions(([0], [2], [0]))
    with pytest.raises(TypeError, match="tuple of 3 index arrays"):
        model.predict((["a"], [3]))


def test_get_set_params_repr_and_clone():
    from sklearn.base import clone

    model = CPALS(4, reg=0.5, dtype=np.float64)
    assert repr(model).startswith("CPALS(rank=4, reg=0.5") and "max_iter" not in repr(model)
    assert model.set_params(max_iter=3).max_iter == 3
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin is not model


def test_predict_at_now_and_at_a_time():
    R = lorank.Ratings([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1], [5.0, 3.0, 4.0, 1.0, 2.0, 4.0],
                       times=[0, 10, 20, 30, 40, 50])
    T = R.to_tensor(5)
    model = CPALS(1, init="random", random_state=0, max_iter=5).fit(T)
    now = model.predict_at([0, 2], [1, 1])
    np.testing.assert_array_equal(now, model.predict(([0, 2], [1, 1], [4, 4])))
    at = model.predict_at([0, 2], [1, 1], time=25)  # bin [20, 30)
    np.testing.assert_array_equal(at, model.predict(([0, 2], [1, 1], [2, 2])))
    late = model.predict_at([0], [0], time=1e9)
    np.testing.assert_array_equal(late, model.predict(([0], [0], [4])))
    # the matrix at a time bin: its entries are the predictions at that time
    L = model.to_lowrank(time=25)
    rows, cols = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
    np.testing.assert_allclose(L.entries(rows.ravel(), cols.ravel()),
                               model.predict_at(rows.ravel(), cols.ravel(), time=25), rtol=1e-5)
    with pytest.raises(TypeError, match="first 2 modes"):
        model.predict_at([0], time=3)


def _labelled_log(seed=0):
    """A small labelled rating log with times: 30 users x 12 items x 4 time bins."""
    rng = np.random.default_rng(seed)
    n = 300
    users = [f"u{k}" for k in rng.integers(0, 30, n)]
    items = [f"i{k}" for k in rng.integers(0, 12, n)]
    R = lorank.Ratings.from_labels(users, items, rng.integers(1, 6, n).astype(np.float64),
                                   duplicates="last")
    R = lorank.Ratings(*R.coo(), R.shape, times=rng.permutation(R.nnz))._with_labels(
        R.row_labels, R.col_labels)
    return R.to_tensor(4)


def test_at_is_the_model_at_one_time_and_recommender_serves_it(tmp_path):
    T = _labelled_log()
    model = CPALS(3, random_state=0, max_iter=10, dtype=np.float64).fit(T)
    users, items = T.labels[0], T.labels[1]
    uu, ii = (a.ravel() for a in np.meshgrid(users, items, indexing="ij"))
    for time in (None, 0):
        als = model.at(time)
        assert isinstance(als, lorank.ALS)
        np.testing.assert_allclose(als.predict(uu, ii), model.predict_at(uu, ii, time=time),
                                   rtol=1e-12)
        b = 3 if time is None else 0
        np.testing.assert_allclose(als.factors_.right, model.factors_[1] * model.factors_[2][b])
    seen = T.to_ratings()
    rec = lorank.Recommender.from_model(model.at(), seen)
    user = users[5]
    top, scores = rec.recommend(user, n=3)
    # The best unseen items by predict_at "now", seen at any time left out.
    rows, cols, _ = seen.coo()
    rated = set(cols[rows == 5])
    unseen = [j for j in range(len(items)) if j not in rated]
    now = model.predict_at(np.full(len(unseen), user), items[unseen])
    best = np.array(unseen)[np.argsort(-now, kind="stable")[:3]]
    assert list(top) == list(items[best])
    np.testing.assert_allclose(scores, np.sort(now)[::-1][:3], rtol=1e-12)
    # Item embeddings at that time: cosine of the rows of A_1 * A_2[last].
    F = model.factors_[1] * model.factors_[2][-1]
    F = F / np.linalg.norm(F, axis=1, keepdims=True)
    sim = F @ F[2]
    sim[2] = -np.inf
    similar, _ = rec.similar_items(items[2], n=2)
    assert list(similar) == list(items[np.argsort(-sim, kind="stable")[:2]])
    rec.save(tmp_path / "rec.npz")
    again = lorank.load(tmp_path / "rec.npz")
    assert [list(x) for x in again.recommend(user, n=3)] == [list(x) for x in (top, scores)]
    with pytest.raises(ValueError, match="3-way"):
        CPALS(2, max_iter=2, random_state=0).fit(TensorRatings(
            ([0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 0, 0]), [1.0, 2, 3, 4])).at()


def test_tensor_to_ratings_combines_the_dropped_mode():
    T = TensorRatings(([0, 0, 1, 1], [1, 1, 0, 2], [0, 3, 1, 1]), [1.0, 3.0, 5.0, 2.0],
                      labels=(["a", "b"], None, None))
    R = T.to_ratings()
    assert R.shape == (2, 3) and R.row_labels.tolist() == ["a", "b"]
    assert R.coo()[2].tolist() == [2.0, 5.0, 2.0]
    assert T.to_ratings(duplicates="last").coo()[2].tolist() == [3.0, 5.0, 2.0]
    assert T.to_ratings((2, 1)).shape == (4, 3)
    with pytest.raises(ValueError, match="duplicate"):
        T.to_ratings(duplicates="error")
    with pytest.raises(ValueError, match="different modes"):
        T.to_ratings((1, 1))
    with pytest.raises(ValueError, match="mode 3 does not exist"):
        T.to_ratings((0, 3))


@pytest.mark.parametrize("params, error, message", [
    ({"rank": 0}, ValueError, "rank must be positive, got 0"),
    ({"rank": -2}, ValueError, "rank must be positive, got -2"),
    ({"rank": 2.5}, TypeError, "rank must be an integer"),
    ({"rank": 50}, ValueError, r"rank=50 exceeds shape\[1\] = 10"),
    ({"reg": -1.0}, ValueError, "reg must be a finite number >= 0"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ({"init": "nope"}, ValueError, 'init must be "svd" or "random"'),
    ({"biases": "no"}, TypeError, "biases must be True or False"),
    ({"callback": 3}, TypeError, "callback must be callable"),
    ({"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
    ({"n_threads": 0}, ValueError, "n_threads=0"),
])
def test_bad_parameters(params, error, message):
    _, idx, values = planted((12, 10, 4), 2, 0.5, seed=0)
    with pytest.raises(error, match=message):
        CPALS(**params).fit(TensorRatings(idx, values, (12, 10, 4)))


def test_bad_data():
    T = TensorRatings(([0, 1, 2], [0, 1, 1], [0, 0, 1]), [1.0, 2.0, 3.0], shape=(4, 2, 2))
    # slice 3 of mode 0 is empty: with reg=0 it has no solution
    with pytest.raises(ValueError, match="slice 3 of mode 0 has 0 observations"):
        CPALS(1, reg=0, biases=False, init="random").fit(T)
    with pytest.raises(ValueError, match="no observed entries"):
        CPALS(1).fit(TensorRatings(([], [], []), [], shape=(2, 2, 2)))
    with pytest.raises(TypeError, match="must be a lorank.TensorRatings"):
        CPALS(1).fit(np.ones((3, 3, 3)))
    other = TensorRatings(([0], [0], [0]), [1.0], shape=(4, 2, 3))
    with pytest.raises(ValueError, match=r"validation has shape \(4, 2, 3\) but X has shape"):
        CPALS(1, init="random").fit(T, validation=other)
    # with reg > 0 an empty slice gets a zero factor: the prediction is the rest
    model = CPALS(1, reg=0.1, init="random", max_iter=3).fit(T)
    assert not model.factors_[0][3].any() and model.biases_[0][3] == 0


def test_keyboard_interrupt_keeps_the_last_complete_iteration():
    _, idx, values = planted((30, 20, 5), 2, 0.3, seed=2)
    T = TensorRatings(idx, values, (30, 20, 5))

    def stop(model, it):
        if it == 2:
            raise KeyboardInterrupt

    model = CPALS(2, max_iter=10, tol=0, callback=stop, random_state=0)
    with pytest.warns(RuntimeWarning, match="interrupted after 2 complete"):
        with pytest.raises(KeyboardInterrupt):
            model.fit(T)
    assert model.n_iter_ == 2 and len(model.history_["objective"]) == 2


@pytest.mark.parametrize("module", ["lorank.models.cp_als", "lorank.data.tensor_ratings"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


def test_two_modes_is_matrix_completion():
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((80, 3)), rng.standard_normal((60, 3))
    cells = rng.choice(80 * 60, 1800, replace=False)
    rows, cols = np.divmod(cells, 60)
    x = np.einsum("ij,ij->i", A[rows], B[cols])
    T = TensorRatings((rows, cols), x, (80, 60))
    model = CPALS(3, reg=1e-9, biases=False, dtype=np.float64, max_iter=100, tol=1e-14,
                  random_state=0).fit(T)
    full = model.factors_[0] @ model.factors_[1].T
    assert np.linalg.norm(full - A @ B.T) / np.linalg.norm(A @ B.T) < 1e-6


@pytest.mark.parametrize("repeats", [False, True])
def test_collapsed_from_the_canonical_order_is_scipys_csr(repeats):
    from lorank.models.cp_als import _collapsed

    rng = np.random.default_rng(0)
    cells = np.unique(rng.integers(0, 50 * 40 * 6, 3000))
    i, j, t = np.unravel_index(cells, (50, 40, 6))
    if not repeats:  # one observation per (i, j): the direct path
        _, first = np.unique(i * 40 + j, return_index=True)
        first.sort()
        i, j = i[first], j[first]
    v = rng.standard_normal(len(i))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=50))])
    got = _collapsed(i, j.astype(np.int32), v, 50, 40, indptr)
    want = _collapsed(i, j, v, 50, 40)
    assert got.has_canonical_format and (got != want).nnz == 0
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)


@pytest.mark.parametrize("n_modes", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_entries_match_numpy(n_modes, dtype):
    """_sparse.cp_entries (CPALS.predict_positions) against the Hadamard-product sum
    in numpy, with biases and without; any thread count gives the same bits."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(n_modes)
    shape = (7, 5, 4, 3)[:n_modes]
    A = [rng.standard_normal((s, 6)).astype(dtype) for s in shape]
    b = [rng.standard_normal(s).astype(dtype) for s in shape]
    idx = [rng.integers(0, s, 10_000).astype(np.int32) for s in shape]
    eps = 1e-6 if dtype == np.float32 else 1e-13
    for biases in (None, b):
        want = cp_entries(A, idx, 0.25, biases)
        got = [np.empty(len(idx[0]), dtype) for _ in range(2)]
        for out, threads in zip(got, (1, 2)):
            _sparse.cp_entries(A, biases, idx, 0.25, out, threads)
        np.testing.assert_allclose(got[0], want, rtol=eps, atol=eps)
        assert got[0].tobytes() == got[1].tobytes()


@pytest.mark.parametrize("n_modes", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_squared_error_matches_numpy(n_modes, dtype):
    """_sparse.cp_sse (CPALS's validation RMSE) is Σ (clip(entry) − value)² over
    observations held mode-0-compressed (empty rows among them), the entries
    rounded as cp_entries rounds them; any thread count gives the same bits."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(10 + n_modes)
    shape = (900, 5, 4, 3)[:n_modes]
    A = [rng.standard_normal((s, 6)).astype(dtype) for s in shape]
    b = [rng.standard_normal(s).astype(dtype) for s in shape]
    n = 20_000
    rows = np.sort(rng.choice(np.arange(0, 900, 2), n))  # odd rows empty
    rest = [rng.integers(0, s, n).astype(np.int32) for s in shape[1:]]
    indptr = np.searchsorted(rows, np.arange(901)).astype(np.int64)
    values = rng.standard_normal(n).astype(dtype)
    for biases, (lo, hi) in ((None, (-np.inf, np.inf)), (b, (-0.5, 1.0))):
        pred = cp_entries(A, [rows] + rest, 0.25, biases).astype(dtype)
        want = np.sum((np.clip(pred, dtype(lo), dtype(hi)).astype(np.float64) - values) ** 2)
        got = [_sparse.cp_sse(A, biases, indptr, rest, 0.25, values, threads, lo, hi)
               for threads in (1, 2, 3)]
        np.testing.assert_allclose(got[0], want, rtol=1e-5 if dtype == np.float32 else 1e-12)
        assert got[0] == got[1] == got[2]
    short = indptr.copy()
    short[-1] -= 1
    with pytest.raises(ValueError, match="indptr must run from 0"):
        _sparse.cp_sse(A, None, short, rest, 0.0, values, 1)
    with pytest.raises(ValueError, match=r"indptr and factors\[0\] rows"):
        _sparse.cp_sse(A, None, indptr[:-1], rest, 0.0, values, 1)
