import numpy as np
import pytest

import lorank
from lorank._kernels import _synthetic
from lorank.datasets import synthetic

DTYPES = [np.float32, np.float64]
# Rounding of a value to the values' dtype, relative.
RTOL = {np.float32: 1e-6, np.float64: 1e-14}


def arrays(R):
    return R.csr.indptr, R.csr.indices, R.csr.values


def true_values(truth, indptr, indices):
    """The noiseless model at the observed entries, in float64 (numpy reference)."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    L = truth["factors"].left.astype(np.float64)
    Rt = truth["factors"].right.astype(np.float64)
    return (truth["mean"] + truth["row_bias"][rows].astype(np.float64)
            + truth["col_bias"][indices].astype(np.float64)
            + np.einsum("ij,ij->i", L[rows], Rt[indices]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("popularity", ["zipf", "uniform"])
def test_shape_nnz_and_distinct_sorted_columns(dtype, popularity):
    R, floor = synthetic(700, 90, 12_345, popularity=popularity, dtype=dtype)
    assert isinstance(R, lorank.Ratings)
    assert R.shape == (700, 90) and R.nnz == 12_345 and R.dtype == dtype
    indptr, indices, values = arrays(R)
    assert indptr[0] == 0 and indptr[-1] == 12_345
    assert indices.min() >= 0 and indices.max() < 90
    # strictly increasing within each row: no duplicate (row, col) pairs
    starts = np.zeros(len(indices), bool)
    starts[indptr[:-1][np.diff(indptr) > 0]] = True
    assert (np.diff(indices.astype(np.int64))[~starts[1:]] > 0).all()
    rows = np.repeat(np.arange(700), np.diff(indptr))
    assert len(np.unique(rows * 90 + indices)) == 12_345
    assert values.dtype == dtype and np.isfinite(floor)


@pytest.mark.parametrize("nnz", [1, 5, 400, 599, 600])
def test_tiny_and_dense(nnz):
    # from one observation up to every entry of a 20 x 30 matrix
    R, _ = synthetic(20, 30, nnz, rank=2)
    assert R.nnz == nnz
    assert (R.row_counts <= 30).all()
    if nnz == 600:
        assert (R.row_counts == 30).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_deterministic_and_seed_dependent(dtype):
    kw = dict(n_rows=500, n_cols=200, nnz=10_000, dtype=dtype)
    a, fa = synthetic(**kw, random_state=3)
    b, fb = synthetic(**kw, random_state=3)
    c, fc = synthetic(**kw, random_state=4)
    for x, y in zip(arrays(a), arrays(b)):
        np.testing.assert_array_equal(x, y)
    assert fa == fb
    assert not np.array_equal(a.csr.indices, c.csr.indices)
    assert not np.array_equal(a.row_counts, c.row_counts)
    assert fa != fc


def test_generator_random_state():
    a, fa = synthetic(100, 50, 1000, random_state=np.random.default_rng(5))
    b, fb = synthetic(100, 50, 1000, random_state=np.random.default_rng(5))
    c, fc = synthetic(100, 50, 1000, random_state=np.random.default_rng(6))
    for x, y in zip(arrays(a), arrays(b)):
        np.testing.assert_array_equal(x, y)
    assert fa == fb and fa != fc
    assert not np.array_equal(a.csr.values, c.csr.values)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("popularity", ["zipf", "uniform"])
def test_independent_of_n_threads(dtype, popularity):
    kw = dict(n_rows=3000, n_cols=400, nnz=60_000, popularity=popularity, dtype=dtype,
              random_state=7)
    ref, f1 = synthetic(**kw, n_threads=1)
    for n_threads in (2, 3):
        R, f = synthetic(**kw, n_threads=n_threads)
        for x, y in zip(arrays(ref), arrays(R)):
            np.testing.assert_array_equal(x, y)
        assert f == f1


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_gives_integers_in_range(dtype):
    R, floor = synthetic(2000, 300, 40_000, dtype=dtype)
    v = R.csr.values
    assert v.min() == 1 and v.max() == 5
    np.testing.assert_array_equal(v, np.round(v))
    # Netflix-like histogram: mean 3.60, std 1.08
    assert 3.4 < v.mean(dtype=np.float64) < 3.8
    assert 1.0 < v.std(dtype=np.float64) < 1.2
    # rounding adds error on top of the noise
    assert floor > 0.5

    R, _ = synthetic(2000, 300, 40_000, scale=(0, 10), dtype=dtype)
    v = R.csr.values
    assert v.min() == 0 and v.max() == 10
    np.testing.assert_array_equal(v, np.round(v))


def expected_rating(mu, noise, lo, hi):
    """E[clip(round(mu + noise z), lo, hi)] in numpy/scipy: the sum over every
    possible value k of k P(x = k), from the normal CDF."""
    from scipy.special import ndtr

    k = np.arange(lo, hi + 1, dtype=np.float64)
    upper = np.where(k < hi, ndtr((k[None, :] + 0.5 - mu[:, None]) / noise), 1.0)
    lower = np.where(k > lo, ndtr((k[None, :] - 0.5 - mu[:, None]) / noise), 0.0)
    return (k * (upper - lower)).sum(axis=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale, noise", [(None, 0.5), ((1, 5), 0.5), ((0, 10), 1.3),
                                          ((1, 5), 0.0)])
def test_noise_floor_is_rmse_of_the_best_prediction(dtype, scale, noise):
    R, floor, truth = synthetic(3000, 500, 100_000, scale=scale, noise=noise, dtype=dtype,
                                return_truth=True)
    indptr, indices, values = arrays(R)
    model = true_values(truth, indptr, indices)
    if scale is not None and noise > 0:
        best = expected_rating(model, noise, *scale)
    elif scale is not None:
        best = np.clip(np.floor(model + 0.5), *scale)
    else:
        best = model
    rmse = np.sqrt(np.mean((values.astype(np.float64) - best) ** 2))
    np.testing.assert_allclose(floor, rmse, rtol=1e-9, atol=1e-12)
    rows = np.repeat(np.arange(R.shape[0]), np.diff(indptr))
    np.testing.assert_allclose(lorank.datasets.best_prediction(truth, rows, indices), best,
                               rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-12)
    if scale is None:
        assert values.min() < 0.5 and values.max() > 5.5  # not rounded or clipped
        assert not np.array_equal(values, np.round(values))
        # the sample RMSE of 100k N(0, 0.25) draws is within 1% of 0.5 (about 4.5 sigma)
        assert abs(floor - 0.5) < 0.005
    if noise == 0:
        assert floor == 0


def test_noise_floor_cannot_be_beaten_by_a_fit_on_the_true_signal():
    """The floor is E[x | signal]'s RMSE: the best function of the true signal
    there is. Fit the best one empirically (the mean rating in each of 400
    bins of the signal, on half the ratings) and score it on the other half:
    it comes close to the floor from above, and beats the signal's own RMSE
    (the old "floor", which rounding and clipping make beatable)."""
    R, floor, truth = synthetic(20_000, 2000, 400_000, random_state=3, dtype=np.float64,
                                return_truth=True)
    indptr, indices, values = arrays(R)
    signal = true_values(truth, indptr, indices)
    rng = np.random.default_rng(0)
    half = rng.random(len(values)) < 0.5
    edges = np.quantile(signal[half], np.linspace(0, 1, 401)[1:-1])
    bins = np.searchsorted(edges, signal)
    sums = np.bincount(bins[half], values[half], minlength=400)
    means = sums / np.maximum(np.bincount(bins[half], minlength=400), 1)
    fitted = np.sqrt(np.mean((values[~half] - means[bins[~half]]) ** 2))
    best = lorank.datasets.best_prediction(truth, np.repeat(np.arange(R.shape[0]),
                                                            np.diff(indptr)), indices)
    floor_half = np.sqrt(np.mean((values[~half] - best[~half]) ** 2))
    old_floor = np.sqrt(np.mean((values[~half] - signal[~half]) ** 2))
    assert floor_half <= fitted < floor_half + 0.002
    assert abs(floor_half - floor) < 0.005  # the same floor on half the ratings
    assert fitted < old_floor - 0.01  # the signal itself is no floor


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_match_numpy_reference_without_noise(dtype):
    R, floor, truth = synthetic(400, 150, 8_000, scale=None, noise=0.0, dtype=dtype,
                                return_truth=True)
    indptr, indices, values = arrays(R)
    np.testing.assert_allclose(values, true_values(truth, indptr, indices),
                               rtol=RTOL[dtype], atol=RTOL[dtype])
    assert floor < 5 * RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_truth(dtype):
    R, floor, truth = synthetic(300, 120, 5000, rank=4, dtype=dtype, return_truth=True)
    F = truth["factors"]
    assert isinstance(F, lorank.LowRank)
    assert F.shape == (300, 120) and F.rank == 4 and F.dtype == dtype
    assert truth["row_bias"].shape == (300,) and truth["row_bias"].dtype == dtype
    assert truth["col_bias"].shape == (120,) and truth["col_bias"].dtype == dtype
    assert truth["noise"] == 0.5 and 2.5 < truth["mean"] < 4.5
    # By value: the truth is the model behind the values (the best prediction from
    # it scores the noise floor, below the signal's own RMSE, and the signal
    # explains most of their variance), of rank exactly 4.
    indptr, indices, values = arrays(R)
    want = true_values(truth, indptr, indices)
    rows, cols, coo_values = R.coo()
    best = lorank.datasets.best_prediction(truth, rows, cols)
    np.testing.assert_allclose(np.sqrt(np.mean((coo_values - best) ** 2)), floor, rtol=1e-6)
    assert floor < np.sqrt(np.mean((values - want) ** 2))
    assert np.corrcoef(values, want)[0, 1] > 0.8
    s = np.linalg.svd(F.to_dense().astype(np.float64), compute_uv=False)
    assert s[3] > 0.5 * s[0] and s[4] < 1e-6 * s[0]
    _, _, truth = synthetic(300, 120, 5000, biases=False, return_truth=True)
    assert not truth["row_bias"].any() and not truth["col_bias"].any()


def test_zipf_is_skewed_like_netflix_and_uniform_is_not():
    # Netflix at 1/100: a hundredth of the users and ratings, all the movies
    shape, nnz = (4_802, 17_770), 1_004_805
    z, _ = synthetic(*shape, nnz)
    u, _ = synthetic(*shape, nnz, popularity="uniform")
    zr, zc = z.row_counts, z.col_counts
    ur, uc = u.row_counts, u.col_counts
    # users: median below mean (Netflix 96 vs 209), a heavy tail, nobody empty
    assert np.median(zr) < 0.6 * zr.mean()
    assert zr.max() > 20 * np.median(zr)
    assert zr.min() >= 1
    # items: a heavy tail and many rarely rated ones
    assert zc.max() > 50 * np.median(zc)
    assert (zc < 0.1 * zc.mean()).mean() > 0.1
    # uniform sampling concentrates around the mean
    assert ur.max() < 1.5 * np.median(ur) and uc.max() < 2 * np.median(uc)


def test_successive_sampling_matches_numpy_reference():
    # Rows draw k distinct columns one by one with probability proportional to
    # weight among those left: numpy's Generator.choice(replace=False, p=...).
    # k = 12 of 16 forces the kernel to rebuild its alias table mid-row.
    n_rows, n_cols, k = 8_000, 16, 12
    weights = np.geomspace(1.0, 200.0, n_cols)
    ids = np.arange(n_cols, dtype=np.int32)
    prob, alias = np.empty(n_cols), np.empty(n_cols, dtype=np.int32)
    total = _synthetic.build_alias(ids, weights, prob, alias)
    assert total == pytest.approx(weights.sum())
    indptr = np.arange(0, (n_rows + 1) * k, k, dtype=np.int64)
    indices = np.empty(n_rows * k, dtype=np.int32)
    values = np.empty(n_rows * k)
    P, Q = np.zeros((n_rows, 1)), np.zeros((n_cols, 1))
    _synthetic.generate(indptr, weights, ids, prob, alias, total, P, Q, np.zeros(n_rows),
                        np.zeros(n_cols), 0.0, 0.0, False, 1.0, 5.0, 1, 2, indices, values,
                        np.empty(n_rows), 2)
    got = np.bincount(indices, minlength=n_cols) / n_rows

    rng = np.random.default_rng(0)
    ref = np.zeros(n_cols)
    for _ in range(n_rows):
        ref[rng.choice(n_cols, k, replace=False, p=weights / weights.sum())] += 1
    ref /= n_rows
    # inclusion frequencies agree within 5 binomial standard errors (both sampled)
    pooled = (got + ref) / 2
    se = np.sqrt(2 * pooled * (1 - pooled) / n_rows)
    assert (np.abs(got - ref) <= 5 * se).all()
    assert got[0] < 0.5 < got[-1]  # and the weights matter


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(nnz=601), ValueError, r"nnz=601 exceeds n_rows \* n_cols = 600"),
        (dict(nnz=0), ValueError, "nnz must be >= 1, got 0"),
        (dict(nnz=-5), ValueError, "nnz must be >= 1, got -5"),
        (dict(nnz=1.5), TypeError, "nnz must be an integer"),
        (dict(n_rows=0), ValueError, "n_rows must be >= 1, got 0"),
        (dict(n_cols=2**31), ValueError, "does not fit the int32"),
        (dict(rank=0), ValueError, "rank must be positive, got 0"),
        (dict(rank=21), ValueError, r"rank=21 exceeds min\(m, n\) = 20"),
        (dict(noise=-0.1), ValueError, r"noise must be finite and >= 0, got -0.1"),
        (dict(noise=float("nan")), ValueError, "noise must be finite"),
        (dict(noise="0.5"), TypeError, "noise must be a real number"),
        (dict(popularity="pareto"), ValueError, "popularity must be 'zipf' or 'uniform', got 'pareto'"),
        (dict(scale=(5, 1)), ValueError, r"scale must be None or a pair \(lo, hi\) of integers with lo < hi, got \(5, 1\)"),
        (dict(scale=(1, 1)), ValueError, "lo < hi"),
        (dict(scale=(1.5, 5)), ValueError, "pair"),
        (dict(scale=5), ValueError, "got 5"),
        (dict(scale=(1, 2, 3)), ValueError, "pair"),
        (dict(dtype=np.int32), TypeError, "dtype must be float32 or float64"),
        (dict(random_state=-1), ValueError, "random_state must be >= 0"),
        (dict(random_state="a"), TypeError, "random_state must be an int"),
        (dict(n_threads=0), ValueError, "n_threads=0"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = dict(n_rows=20, n_cols=30, nnz=100, rank=2) | kwargs
    with pytest.raises(error, match=match):
        synthetic(**args)
