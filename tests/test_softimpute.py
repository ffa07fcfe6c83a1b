"""lorank.SoftImpute, SparsePlusLowRank and their kernel (the _fill passes) against numpy."""

import numpy as np
import pytest
import scipy.linalg

import lorank
from lorank import ALS, LowRank, Ratings, SparsePlusLowRank
from lorank._kernels import _fill
from lorank.models import softimpute as si

from _reference import step_reference

DTYPES = [np.float32, np.float64]


def SoftImpute(*args, **params):
    """lorank.SoftImpute at a given λ (0 unless said) and without biases unless
    said: this file tests the algorithm; its defaults (reg="auto", biases=True)
    are test_auto_reg.py's."""
    params.setdefault("reg", 0.0)
    params.setdefault("biases", False)
    return lorank.SoftImpute(*args, **params)

KTOL = {np.float32: 1e-5, np.float64: 1e-12}
# The same iteration in float32 vs float64 numpy, after a few steps.
ITOL = {np.float32: 2e-4, np.float64: 1e-10}


def low_rank_problem(m, n, rank, frac, dtype, seed=0):
    """(dense truth, Ratings of a random fraction of its entries)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
    mask = rng.random((m, n)) < frac
    rows, cols = np.nonzero(mask)
    return X, Ratings(rows, cols, X[rows, cols].astype(dtype), shape=(m, n))


def dense_soft_impute(X, mask, rank, lam, n_iter, seed):
    """Algorithm 3.1 of Hastie et al. (2015) on dense float64 arrays: the
    filled-in matrix X* = P_Ω(X) + P_Ω⊥(ABᵀ) is formed explicitly."""
    m, n = X.shape
    U = scipy.linalg.qr(np.random.default_rng(seed).standard_normal((m, rank)), mode="economic")[0]
    d, V = np.ones(rank), np.zeros((n, rank))
    for _ in range(n_iter):
        Xs = np.where(mask, X, (U * d**2) @ V.T)
        W, sig, Rt = np.linalg.svd((Xs.T @ U) * (d / (d**2 + lam)) * d, full_matrices=False)
        V, d, U = W, np.sqrt(sig), U @ Rt.T
        Xs = np.where(mask, X, (U * d**2) @ V.T)
        W, sig, Rt = np.linalg.svd((Xs @ V) * (d / (d**2 + lam)) * d, full_matrices=False)
        U, d, V = W, np.sqrt(sig), V @ Rt.T
    Xs = np.where(mask, X, (U * d**2) @ V.T)
    U, sig, Rt = np.linalg.svd(Xs @ V, full_matrices=False)
    s = np.maximum(sig - lam, 0)
    return (U * s) @ (V @ Rt.T).T, s


def dense(R):
    rows, cols, values = R.coo()
    out = np.zeros(R.shape)
    out[rows, cols] = values
    return out


def rel(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b)


# --- the kernel -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, 4, 300])
@pytest.mark.parametrize("q", [3, 250])
def test_sparse_product_matches_numpy(dtype, k, q):
    # S @ M and Sᵀ @ M with S = P_Ω(X − L Rᵀ) formed in the pass; 300 columns run
    # in two blocks (a factor row holds at most 1024 bytes). A subtracted rank q
    # wider than a factor row (250) still works.
    rng = np.random.default_rng(1)
    _, R = low_rank_problem(40, 30, 2, 0.3, dtype)
    low = LowRank(rng.standard_normal((40, q)), rng.standard_normal((30, q))).astype(dtype)
    Z = SparsePlusLowRank.completion(R, low, n_threads=2)
    S = np.where(dense(R) != 0, dense(R) - low.to_dense().astype(np.float64), 0)
    tol = dict(rtol=KTOL[dtype] * 10, atol=KTOL[dtype] * 10)
    for side, M, want in (("rows", rng.standard_normal((30, k)), S), ("cols", rng.standard_normal((40, k)), S.T)):
        out, sumsq = Z._sparse_product(side, M.astype(dtype))
        np.testing.assert_allclose(out, want @ M, **tol)
        np.testing.assert_allclose(sumsq, (S**2).sum(), rtol=KTOL[dtype] * 10)


def padded(rng, rows, width, dtype):
    """Random factor rows of ``width`` entries, zero padded to whole 64-byte vectors."""
    lanes = 64 // np.dtype(dtype).itemsize
    F = np.zeros((rows, -(-width // lanes) * lanes), dtype)
    F[:, :width] = rng.standard_normal((rows, width))
    return F


def fill_pass(R, T, scale, O, form, n_threads):
    """(S @ O, row sums of S²) by the _fill kernel, S = P_Ω(X − (T * scale) Oᵀ)."""
    out, sse = np.empty((T.shape[0], T.shape[1]), T.dtype), np.empty(T.shape[0])
    if form == "gather":
        _fill.gather(*R.csr, T, scale, O, out, sse, n_threads)
        return out, sse
    chunks = np.array([0, 7, 8, 30, O.shape[0]], np.int64)  # uneven, one of a single row
    acc = np.empty((len(chunks) - 1, *T.shape), T.dtype)
    sse = np.empty(len(chunks) - 1)
    _fill.scatter(*R.csc, T * scale, O, chunks, acc, sse, out, n_threads)
    return out, sse


# Widths: one vector (12 floats is the AVX-512 float32 path), two, and more.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 12, 20, 40])
@pytest.mark.parametrize("form", ["gather", "scatter"])
def test_fill_passes_match_numpy(dtype, width, form, simd):
    rng = np.random.default_rng(11)
    _, R = low_rank_problem(70, 50, 2, 0.4, dtype, seed=12)  # rows of 8+ entries and tails
    T, O = padded(rng, 70, width, dtype), padded(rng, 50, width, dtype)
    scale = np.zeros(T.shape[1], dtype)
    scale[:width] = rng.random(width) + 0.5
    X = dense(R)
    S = np.where(X != 0, X - (T.astype(np.float64) * scale) @ O.T.astype(np.float64), 0)
    out, sse = fill_pass(R, T, scale, O, form, 2)
    tol = KTOL[dtype] * 10
    np.testing.assert_allclose(out, S @ O, rtol=tol, atol=tol * np.abs(S @ O).max())
    if form == "gather":
        np.testing.assert_allclose(sse, (S**2).sum(axis=1), rtol=tol)
    else:
        np.testing.assert_allclose(sse.sum(), (S**2).sum(), rtol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["gather", "scatter"])
def test_fill_passes_do_not_depend_on_threads(dtype, form):
    rng = np.random.default_rng(13)
    _, R = low_rank_problem(90, 60, 2, 0.5, dtype, seed=14)
    T, O = padded(rng, 90, 12, dtype), padded(rng, 60, 12, dtype)
    scale = np.ones(T.shape[1], dtype)
    first = fill_pass(R, T, scale, O, form, 1)
    for n_threads in (2, 3):
        again = fill_pass(R, T, scale, O, form, n_threads)
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])


def fill_step(R, Y, K, h, L, V, nk, n_threads, chunks=None):
    """``_fill.step`` over the rows of R in uneven row chunks (one of a single row)."""
    m, stride = Y.shape
    if chunks is None:
        chunks = np.array([0, 7, 8, 30, m], np.int64)
    nc = len(chunks) - 1
    F, out = np.empty_like(Y), np.empty((V.shape[0], stride), Y.dtype)
    acc = np.empty((nc, V.shape[0], stride), Y.dtype)
    sse, grams = np.empty((nc, 2)), np.empty((nc, 2, nk, stride))
    _fill.step(*R.csr, Y, K, h, L, V, F, chunks, acc, sse, grams, out, stride, nk, n_threads)
    return F, out, sse.sum(0), grams[:, 0].sum(0), grams[:, 1].sum(0)


def step_problem(dtype, width, seed=11):
    rng = np.random.default_rng(seed)
    _, R = low_rank_problem(70, 50, 2, 0.4, dtype, seed=12)  # rows of 8+ entries and tails
    Y, V = padded(rng, 70, width, dtype), padded(rng, 50, width, dtype)
    stride = Y.shape[1]
    K, L = (padded(rng, stride, width, dtype) / width for _ in range(2))
    h = np.zeros(stride, dtype)
    h[:width] = rng.random(width)
    return R, Y, K, h, L, V


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 12, 20, 40])
def test_fused_step_matches_numpy(dtype, width, simd):
    R, Y, K, h, L, V = step_problem(dtype, width)
    nk = min(width, 10)
    got = fill_step(R, Y, K, h, L, V, nk, 2)
    want = step_reference(*R.csr, Y, K, h, L, V, nk)
    tol = KTOL[dtype] * 10
    for name, g, w in zip(("F", "StF", "sse", "FtF", "YtF"), got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * np.abs(w).max(), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_step_does_not_depend_on_threads(dtype):
    R, Y, K, h, L, V = step_problem(dtype, 12, seed=13)
    first = fill_step(R, Y, K, h, L, V, 10, 1)
    for n_threads in (2, 3):
        for a, b in zip(fill_step(R, Y, K, h, L, V, 10, n_threads), first):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("biases", [False, True])
def test_scatter_pass_gives_the_gather_fit(dtype, biases, monkeypatch):
    # At Netflix shape the column pass (Sᵀ U at the start and in the centering)
    # scatters (the 480k user rows don't fit in cache, the item rows do); small
    # problems gather. Force the scatter and compare.
    _, R = low_rank_problem(300, 40, 3, 0.3, dtype, seed=16)
    params = dict(reg=0.5, biases=biases, max_iter=8, tol=0, dtype=dtype, random_state=0)
    gathered = SoftImpute(3, **params).fit(R)
    stride = 16 if dtype == np.float32 else 8
    monkeypatch.setattr(lorank.linalg.sparse_plus_lowrank.FillPass, "CACHE_BYTES", 40 * stride * np.dtype(dtype).itemsize)
    calls, scatter = [], _fill.scatter
    monkeypatch.setattr(_fill, "scatter", lambda *a: calls.append(1) or scatter(*a))
    scattered = SoftImpute(3, **params).fit(R)
    assert len(calls) == 1  # the start's (the centering is Baseline's, in the ALS kernel)
    tol = ITOL[dtype] / 10
    np.testing.assert_allclose(scattered.singular_values_, gathered.singular_values_, rtol=tol)
    np.testing.assert_allclose(scattered.history_["objective"], gathered.history_["objective"],
                               rtol=tol)
    assert rel(scattered.to_lowrank().to_dense(), gathered.to_lowrank().to_dense()) < tol


# --- SparsePlusLowRank ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_plus_lowrank_matches_dense(dtype):
    rng = np.random.default_rng(2)
    _, S = low_rank_problem(50, 35, 3, 0.2, dtype, seed=3)
    low = LowRank(rng.standard_normal((50, 2)), rng.standard_normal((35, 2))).astype(dtype)
    Z = SparsePlusLowRank(S, low, n_threads=2)
    ref = dense(S) + low.to_dense().astype(np.float64)
    tol = dict(rtol=KTOL[dtype] * 100, atol=KTOL[dtype] * 100)
    np.testing.assert_allclose(Z.to_dense(), ref, **tol)
    M = rng.standard_normal((35, 3))
    np.testing.assert_allclose(Z @ M, ref @ M, **tol)
    np.testing.assert_allclose(Z.matvec(M[:, 0]), ref @ M[:, 0], **tol)
    N = rng.standard_normal((50, 3))
    np.testing.assert_allclose(Z.rmatmat(N), ref.T @ N, **tol)
    np.testing.assert_allclose(Z.T @ N, ref.T @ N, **tol)
    np.testing.assert_allclose(Z.T.to_dense(), ref.T, **tol)
    rows, cols = rng.integers(0, 50, 200), rng.integers(0, 35, 200)
    sr, sc, _ = S.coo()
    rows[:20], cols[:20] = sr[:20], sc[:20]  # some on the pattern
    np.testing.assert_allclose(Z.entries(rows, cols), ref[rows, cols], **tol)
    np.testing.assert_allclose(Z.sparse_norm(), np.linalg.norm(dense(S)), rtol=KTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_completion_is_filled_in_matrix(dtype):
    rng = np.random.default_rng(4)
    X, R = low_rank_problem(30, 20, 2, 0.4, dtype)
    low = LowRank(rng.standard_normal((30, 2)), rng.standard_normal((20, 2))).astype(dtype)
    off = LowRank(rng.standard_normal((30, 2)), rng.standard_normal((20, 2))).astype(dtype)
    mask = dense(R) != 0
    Z = SparsePlusLowRank.completion(R, low, offset=off)
    L64 = low.to_dense().astype(np.float64)
    ref = np.where(mask, X - off.to_dense(), L64)
    tol = dict(rtol=KTOL[dtype] * 100, atol=KTOL[dtype] * 100)
    np.testing.assert_allclose(Z.to_dense(), ref, **tol)
    np.testing.assert_allclose(Z @ np.eye(20), ref, **tol)
    np.testing.assert_allclose(Z.T @ np.eye(30), ref.T, **tol)
    np.testing.assert_allclose(dense(Z.sparse), np.where(mask, ref - L64, 0), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_randomized_svd_accepts_sparse_plus_lowrank(dtype):
    rng = np.random.default_rng(5)
    _, S = low_rank_problem(60, 40, 3, 0.3, dtype)
    low = LowRank(rng.standard_normal((60, 4)) * 3, rng.standard_normal((40, 4))).astype(dtype)
    Z = SparsePlusLowRank(S, low)
    s = lorank.randomized_svd(Z, 4, n_iter=8, random_state=0)[1]
    ref = np.linalg.svd(Z.to_dense().astype(np.float64), compute_uv=False)[:4]
    np.testing.assert_allclose(s, ref, rtol=1e-3 if dtype == np.float32 else 1e-6)


def test_sparse_plus_lowrank_bad_input():
    _, S = low_rank_problem(10, 8, 2, 0.5, np.float64)
    low = LowRank(np.ones((10, 1)), np.ones((8, 1)))
    with pytest.raises(TypeError, match="sparse must be a lorank.Ratings, got ndarray"):
        SparsePlusLowRank(np.ones((10, 8)), low)
    with pytest.raises(TypeError, match="low_rank must be a lorank.LowRank"):
        SparsePlusLowRank(S, np.ones((10, 8)))
    with pytest.raises(ValueError, match=r"low_rank has shape \(8, 10\) but the sparse part has shape \(10, 8\)"):
        SparsePlusLowRank(S, low.T)
    with pytest.raises(ValueError, match=r"offset has shape \(8, 10\)"):
        SparsePlusLowRank.completion(S, low, offset=low.T)
    with pytest.raises(ValueError, match="rows contains index 10 but shape.0. is 10"):
        SparsePlusLowRank(S, low).entries([10], [0])


# --- SoftImpute ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lam", [0.0, 2.0])
def test_matches_dense_reference_iteration(dtype, lam):
    X, R = low_rank_problem(40, 30, 3, 0.4, dtype, seed=6)
    X = X + 0.1 * np.random.default_rng(7).standard_normal(X.shape)
    rows, cols = np.nonzero(dense(R) != 0)
    R = Ratings(rows, cols, X[rows, cols].astype(dtype), shape=X.shape)
    model = SoftImpute(4, reg=lam, max_iter=5, tol=0, dtype=dtype, random_state=3).fit(R)
    Zref, sref = dense_soft_impute(X, dense(R) != 0, 4, lam, 5, seed=3)
    assert model.n_iter_ == 5
    np.testing.assert_allclose(model.singular_values_, sref, rtol=ITOL[dtype], atol=ITOL[dtype] * sref[0])
    assert rel(model.factors_.to_dense(), Zref) < ITOL[dtype]
    assert model.effective_rank_ == np.count_nonzero(sref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_recovers_exactly_low_rank_matrix(dtype):
    X, R = low_rank_problem(1000, 800, 5, 0.1, dtype, seed=8)
    model = SoftImpute(5, reg=0.0, max_iter=300, tol=1e-10, dtype=dtype, random_state=0).fit(R)
    assert rel(model.factors_.to_dense(), X) < 1e-3
    assert model.effective_rank_ == 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_reg_agrees_with_exact_als(dtype):
    # ½‖P_Ω(X − ABᵀ)‖² + λ/2 (‖A‖² + ‖B‖²) has the same minimum as
    # ½‖P_Ω(X − Z)‖² + λ‖Z‖_* once rank >= rank(Z*): ALS ridge λ = nuclear λ
    # (ALS's reg is measured on the values / s: its factor penalty is reg·s).
    X, R = low_rank_problem(120, 90, 3, 0.4, np.float64, seed=9)
    R = R.astype(dtype)
    lam = 0.5
    s = float(2.0 ** np.round(np.log2(np.std(R.coo()[2], dtype=np.float64))))
    soft = SoftImpute(3, reg=lam, max_iter=3000, tol=1e-12, dtype=dtype, random_state=0).fit(R)
    als = ALS(3, reg=lam / s, biases=False, weighted_reg=False, max_iter=300, tol=1e-12,
              dtype=dtype, random_state=0).fit(R)
    assert als.value_scale_ == s
    Zals = als.factors_.to_dense().astype(np.float64)
    assert rel(soft.factors_.to_dense(), Zals) < 1e-4
    # And the ALS factors are balanced: their singular values are SoftImpute's.
    s_als = np.linalg.svd(Zals, compute_uv=False)[:3]
    np.testing.assert_allclose(soft.singular_values_, s_als, rtol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_objective_is_non_increasing_and_as_documented(dtype):
    X, R = low_rank_problem(60, 50, 4, 0.3, dtype, seed=10)
    lam = 3.0
    seen = []

    def record(model, it):
        U, d, V, _ = model._state
        Z = (U.astype(np.float64) * d.astype(np.float64) ** 2) @ V.T.astype(np.float64)
        mask = dense(R) != 0
        resid = np.where(mask, dense(R) - Z, 0)
        seen.append(0.5 * np.sum(resid**2) + lam * np.linalg.svd(Z, compute_uv=False).sum())

    model = SoftImpute(6, reg=lam, max_iter=30, tol=0, dtype=dtype, random_state=1,
                       callback=record).fit(R)
    obj = np.array(model.history_["objective"])
    np.testing.assert_allclose(obj, seen, rtol=ITOL[dtype])
    assert np.all(np.diff(obj) <= (1e-6 if dtype == np.float32 else 1e-12) * obj[1:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_warm_started_path_matches_cold_fits_in_fewer_iterations(dtype):
    X, R = low_rank_problem(150, 100, 4, 0.3, np.float64, seed=11)
    R = R.astype(dtype)
    regs = lorank.lambda_max(R) * np.array([0.5, 0.25, 0.1, 0.03])
    params = dict(max_iter=1000, tol=1e-10, biases=False, dtype=dtype, random_state=0)
    warm, _ = lorank.soft_impute_path(R, regs, 6, **params)
    cold = [SoftImpute(6, reg=lam, **params).fit(R) for lam in regs]
    for w, c in zip(warm, cold):
        assert rel(w.factors_.to_dense(), c.factors_.to_dense().astype(np.float64)) < 1e-3
        assert w.effective_rank_ == c.effective_rank_
    assert sum(w.n_iter_ for w in warm) < sum(c.n_iter_ for c in cold)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("biases", [False, True])
def test_thread_count_does_not_change_results(dtype, biases):
    X, R = low_rank_problem(300, 200, 3, 0.2, dtype, seed=12)
    fits = [SoftImpute(5, reg=1.0, max_iter=8, tol=0, biases=biases, dtype=dtype, n_threads=t,
                       random_state=0).fit(R) for t in (1, 2)]
    a, b = fits
    np.testing.assert_array_equal(a.factors_.left, b.factors_.left)
    np.testing.assert_array_equal(a.factors_.right, b.factors_.right)
    np.testing.assert_array_equal(a.singular_values_, b.singular_values_)
    assert a.history_["objective"] == b.history_["objective"]
    np.testing.assert_array_equal(a.row_bias_, b.row_bias_)


@pytest.mark.parametrize("dtype", DTYPES)
def test_biases_center_and_are_added_back(dtype):
    rng = np.random.default_rng(13)
    m, n = 200, 150
    truth = (3.5 + rng.standard_normal(m)[:, None] + rng.standard_normal(n)[None, :]
             + rng.standard_normal((m, 2)) @ rng.standard_normal((2, n)))
    rows, cols = np.nonzero(rng.random((m, n)) < 0.3)
    R = Ratings(rows, cols, truth[rows, cols].astype(dtype), shape=(m, n))
    model = SoftImpute(4, max_iter=500, tol=1e-9, biases=True, dtype=dtype, random_state=0,
                       clip=False).fit(R)
    # The centering is lorank.Baseline's fit (dampings chosen from the data), to the bits.
    base = lorank.Baseline(dtype=dtype).fit(R)
    assert model.mean_ == base.mean_
    np.testing.assert_array_equal(model.row_bias_, base.row_bias_)
    np.testing.assert_array_equal(model.col_bias_, base.col_bias_)
    assert (model.reg_users_, model.reg_items_) == (base.reg_users_, base.reg_items_)
    # The damped biases leave part of the row and column effects, a rank-2 rest
    # the factors (rank 4 >= 2 + 2) take up: the completion is still exact.
    pred = model.predict(np.repeat(np.arange(m), n), np.tile(np.arange(n), m)).reshape(m, n)
    assert rel(pred, truth) < 1e-2
    np.testing.assert_allclose(model.to_lowrank().to_dense(), pred, rtol=KTOL[dtype] * 10,
                               atol=KTOL[dtype] * 10 * np.abs(truth).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_lambda_max_zeroes_the_solution(dtype):
    X, R = low_rank_problem(50, 40, 2, 0.3, dtype, seed=14)
    lmax = lorank.lambda_max(R, dtype=dtype)
    np.testing.assert_allclose(lmax, np.linalg.svd(dense(R), compute_uv=False)[0], rtol=KTOL[dtype] * 10)
    above = SoftImpute(3, reg=lmax * 1.02, dtype=dtype, random_state=0).fit(R)
    below = SoftImpute(3, reg=lmax * 0.9, dtype=dtype, random_state=0).fit(R)
    assert above.effective_rank_ == 0 and not above.singular_values_.any()
    assert above.factors_.rank == 0
    assert below.effective_rank_ >= 1


def test_history_validation_and_complete():
    X, R = low_rank_problem(80, 60, 2, 0.5, np.float64, seed=15)
    train, test = R.split(0.2, random_state=0)
    model = SoftImpute(2, max_iter=50, dtype=np.float64, random_state=0).fit(train, validation=test)
    h = model.history_
    assert len(h["valid_rmse"]) == model.n_iter_ == len(h["seconds"])
    assert h["valid_rmse"][-1] < h["valid_rmse"][0]
    Z = lorank.complete(train, 2, method="soft-impute", reg=0.0, biases=False, max_iter=50,
                        dtype=np.float64, random_state=0)
    np.testing.assert_allclose(Z.to_dense(), model.to_lowrank().to_dense())
    with pytest.raises(ValueError, match=r"method must be one of \['als', 'soft-impute'\], got 'svd'"):
        lorank.complete(train, 2, method="svd")


def test_interrupt_during_the_first_iteration(monkeypatch):
    # Regression: Ctrl-C before any iteration completed raised AttributeError.
    X, R = low_rank_problem(40, 30, 2, 0.5, np.float64)
    import lorank.models.softimpute as si

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(si, "_rebalance", interrupted)
    model = SoftImpute(2, max_iter=5, random_state=0)
    with pytest.warns(RuntimeWarning, match="interrupted after 0 complete iterations"):
        with pytest.raises(KeyboardInterrupt):
            model.fit(R)
    assert model.n_iter_ == 0 and np.isfinite(model.factors_.left).all()


def test_warm_start_forms():
    X, R = low_rank_problem(40, 30, 2, 0.5, np.float64)
    first = SoftImpute(3, reg=1.0, tol=1e-10, max_iter=500, dtype=np.float64, random_state=0).fit(R)
    for ws in (first, first.factors_, first._svd):
        again = SoftImpute(3, reg=1.0, tol=1e-10, dtype=np.float64, warm_start=ws, max_iter=500).fit(R)
        assert again.n_iter_ < first.n_iter_
        assert rel(again.factors_.to_dense(), first.factors_.to_dense()) < 1e-3


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(warm_start=LowRank(np.ones((30, 1)), np.ones((40, 1)))), ValueError,
         r"warm_start has shape \(30, 40\) but X has shape \(40, 30\)"),
        (dict(warm_start=np.ones((40, 30))), TypeError, "warm_start must be a fitted SoftImpute"),
        (dict(warm_start=SoftImpute()), ValueError, "warm_start is a SoftImpute that is not fitted"),
    ],
)
def test_bad_parameters(params, error, match):
    X, R = low_rank_problem(40, 30, 2, 0.5, np.float64)
    params.setdefault("rank", 2)
    with pytest.raises(error, match=match):
        SoftImpute(**params).fit(R)


def test_bad_data():
    X, R = low_rank_problem(40, 30, 2, 0.5, np.float64)
    with pytest.raises(ValueError, match="validation has shape"):
        SoftImpute(2).fit(R, validation=np.ones((3, 3)))
    with pytest.raises(ValueError, match="X has no observed entries"):
        SoftImpute(1).fit(Ratings([], [], [], shape=(3, 3)))
    Y = X.copy()
    Y[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        SoftImpute(2).fit(Y)
    with pytest.raises(TypeError, match="X must be a lorank.Ratings"):
        SoftImpute(2).fit("ratings")
    with pytest.raises(ValueError, match="regs must be strictly decreasing"):
        lorank.soft_impute_path(R, [1.0, 2.0], 2)
    with pytest.raises(TypeError, match="soft_impute_path sets reg itself"):
        lorank.soft_impute_path(R, [2.0, 1.0], 2, reg=1.0)


def test_movielens_100k_beats_the_biases_alone(ml100k_raw):
    data = ml100k_raw
    R = Ratings(data[:, 0] - 1, data[:, 1] - 1, data[:, 2].astype(np.float32))
    train, test = R.split(0.2, random_state=0)
    model = SoftImpute(10, reg=10.0, biases=True, max_iter=100, random_state=0).fit(train, test)
    base = SoftImpute(1, reg=1e9, biases=True, max_iter=2, random_state=0).fit(train, test)
    assert model._score(test) < base._score(test) - 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_transposed_residual_product_scans_rows_in_order(dtype, n_threads):
    # Sᵀ @ M by the CSR scatter (each thread owns a column range) equals numpy,
    # bitwise whatever the number of threads.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 45))
    X[rng.random(X.shape) > 0.3] = np.nan
    R = lorank.Ratings.from_dense(X, dtype=dtype)
    L = lorank.LowRank(rng.standard_normal((60, 3)).astype(dtype),
                       rng.standard_normal((45, 3)).astype(dtype))
    M = rng.standard_normal((60, 4)).astype(dtype)
    Z = lorank.SparsePlusLowRank.completion(R, L, n_threads=n_threads)
    got, sumsq = Z._sparse_product("cols", M)
    S = np.where(np.isnan(X), 0, X - L.to_dense().astype(np.float64))
    np.testing.assert_allclose(got, S.T @ M, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(sumsq, np.sum(S ** 2), rtol=1e-5)
    one = lorank.SparsePlusLowRank.completion(R, L, n_threads=1)._sparse_product("cols", M)
    assert one[0].tobytes() == got.tobytes() and one[1] == sumsq


@pytest.mark.parametrize("dtype, rank", [(np.float32, 255), (np.float64, 127)])
def test_rank_wider_than_a_factor_row_is_refused(dtype, rank):
    # rank + the two centering lanes must fit one 1024-byte factor row.
    _, R = low_rank_problem(300, 300, 2, 0.05, dtype, seed=17)
    with pytest.raises(ValueError, match=f"rank={rank} is too large for SoftImpute"):
        SoftImpute(rank, biases=True, dtype=dtype, max_iter=1).fit(R)
    SoftImpute(rank - 1, biases=True, dtype=dtype, max_iter=1, tol=0).fit(R)  # fits exactly


def _beyond_int32(shape=(3, 2**31)):
    """A Ratings whose column indices are int64 (more than 2**31 - 1 columns),
    with a stand-in CSC view (a real one would need a 16 GB indptr)."""
    from lorank.data.ratings import Ratings

    csr = (np.arange(4, dtype=np.int64), np.array([0, 5, 2**31 - 1 + 1], np.int64),
           np.ones(3, np.float32))
    csc = (np.broadcast_to(np.int64(0), (shape[1] + 1,)), np.zeros(3, np.int64),
           np.ones(3, np.float32))
    return Ratings._from_parts(shape, csr, csc)


@pytest.mark.parametrize("model", [lorank.ALS, lorank.SoftImpute])
def test_index_range_beyond_int32_gives_one_clear_message(model):
    # Regression: SoftImpute failed with Cython's "Buffer dtype mismatch".
    with pytest.raises(ValueError, match=r"supports up to 2\*\*31 - 1 rows and columns, "
                                         r"got shape \(3, 2147483648\)"):
        model(2, max_iter=1).fit(_beyond_int32())
