"""lorank.TensorRatings (the N-way gate) and Ratings.to_tensor, against numpy."""

import numpy as np
import pytest

import lorank
from lorank import Ratings, TensorRatings


def random_entries(shape, nnz, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    cells = rng.choice(int(np.prod(shape)), size=nnz, replace=False)
    idx = np.unravel_index(cells, shape)
    return idx, rng.standard_normal(nnz).astype(dtype)


def lexsorted(idx, values):
    """The canonical order by numpy: lexicographic in (i_0, ..., i_{N-1})."""
    order = np.lexsort(idx[::-1])
    return [np.asarray(i)[order] for i in idx], np.asarray(values)[order]


@pytest.mark.parametrize("shape", [(7, 5), (9, 4, 6), (3, 5, 2, 4)])
def test_canonical_order_and_views_match_numpy(shape):
    idx, values = random_entries(shape, int(0.4 * np.prod(shape)), seed=len(shape))
    T = TensorRatings(idx, values, shape)
    assert T.shape == shape and T.ndim == len(shape) and T.nnz == len(values)
    want_idx, want_values = lexsorted(idx, values)
    got_idx, got_values = T.coo()
    for g, w in zip(got_idx, want_idx):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got_values, want_values)
    for m in range(len(shape)):
        V = T.view(m)
        others = tuple(k for k in range(len(shape)) if k != m)
        assert V.mode == m and V.modes == others
        assert V.indptr.dtype == np.int64 and all(i.dtype == np.int32 for i in V.indices)
        # numpy: a stable sort by mode m of the canonical order
        order = np.argsort(want_idx[m], kind="stable")
        np.testing.assert_array_equal(
            V.indptr, np.concatenate([[0], np.cumsum(np.bincount(want_idx[m], minlength=shape[m]))]))
        for k, i in zip(others, V.indices):
            np.testing.assert_array_equal(i, want_idx[k][order])
        np.testing.assert_array_equal(V.values, want_values[order])
        np.testing.assert_array_equal(T.counts(m), np.diff(V.indptr))
        # the kernel's tiled path needs indices[0] non-decreasing within each slice
        slice_of = np.repeat(np.arange(shape[m]), np.diff(V.indptr))
        same = slice_of[1:] == slice_of[:-1]
        assert (np.diff(V.indices[0].astype(np.int64))[same] >= 0).all()
        assert not V.values.flags.writeable
        assert T.view(m) is V  # built once


def test_views_do_not_depend_on_the_thread_count(monkeypatch):
    shape = (400, 300, 30)
    idx, values = random_entries(shape, 300_000, seed=3, dtype=np.float32)
    views = []
    for n in ("1", "2", "3"):
        monkeypatch.setenv("LORANK_NUM_THREADS", n)
        T = TensorRatings(idx, values, shape)
        views.append([T.view(m) for m in range(3)])
    for other in views[1:]:
        for a, b in zip(views[0], other):
            np.testing.assert_array_equal(a.indptr, b.indptr)
            for x, y in zip(a.indices, b.indices):
                np.testing.assert_array_equal(x, y)
            assert a.values.tobytes() == b.values.tobytes()


def test_shape_inferred_dtype_kept_and_empty_tensor():
    T = TensorRatings(([0, 3], [1, 0], [2, 2]), np.float32([1, 2]))
    assert T.shape == (4, 2, 3) and T.dtype == np.float32
    assert TensorRatings(([0, 3], [1, 0]), [1, 2]).dtype == np.float64
    E = TensorRatings(([], [], []), [], shape=(2, 3, 4))
    assert E.nnz == 0 and E.view(2).indptr.tolist() == [0] * 5
    with pytest.raises(ValueError, match="pass shape="):
        TensorRatings(([], []), [])
    assert T.astype(np.float64).dtype == np.float64
    np.testing.assert_array_equal(T.astype(np.float64).coo()[0][2], T.coo()[0][2])


def test_duplicates_error_mean_last():
    idx = ([0, 1, 0, 0], [2, 0, 2, 2], [1, 1, 1, 0])
    values = [1.0, 5.0, 3.0, 7.0]
    with pytest.raises(ValueError, match=r'duplicate entry \(0, 2, 1\); pass duplicates="mean"'):
        TensorRatings(idx, values)
    M = TensorRatings(idx, values, duplicates="mean")
    L = TensorRatings(idx, values, duplicates="last")
    assert M.nnz == L.nnz == 3
    assert [i.tolist() for i in M.coo()[0]] == [[0, 0, 1], [2, 2, 0], [0, 1, 1]]
    assert M.coo()[1].tolist() == [7.0, 2.0, 5.0]
    assert L.coo()[1].tolist() == [7.0, 3.0, 5.0]
    assert M.view(2).indptr.tolist() == [0, 1, 3]
    with pytest.raises(ValueError, match="duplicates must be one of"):
        TensorRatings(idx, values, duplicates="first")


def test_duplicate_error_names_labels():
    with pytest.raises(ValueError, match=r"duplicate entry \('b', 7, 'x'\)"):
        TensorRatings.from_labels((["b", "a", "b"], [7, 7, 7], ["x", "x", "x"]), [1, 2, 3])


@pytest.mark.parametrize("indices, values, shape, error, message", [
    (([0, 1],), [1, 2], None, ValueError, "at least 2 modes: indices holds 1"),
    (np.array([0, 1]), [1, 2], None, ValueError, "a single 1-D array"),
    (5, [1], None, TypeError, "sequence of N >= 2 index arrays"),
    (([0, 1], [0, 1, 2]), [1, 2], None, ValueError, r"values has 2, indices\[1\] has 3"),
    (([0, 1], [0, 1], [0]), [1, 2], None, ValueError, r"indices\[2\] has 1"),
    (([0, 1], [0, 5], [0, 1]), [1, 2], (2, 3, 2), ValueError,
     r"indices\[1\] contains index 5 but shape\[1\] is 3"),
    (([0, 1], [0, 1], [0, -1]), [1, 2], (2, 2, 2), ValueError,
     r"indices\[2\] contains index -1; indices must be >= 0"),
    (([0, 1], [0, -1]), [1, 2], None, ValueError, r"indices\[1\] contains index -1"),
    (([0.5, 1], [0, 1]), [1, 2], None, TypeError, r"indices\[0\] must hold integers"),
    (([0, 1], [0, 1]), [1, np.nan], None, ValueError, "values contains nan at position 1"),
    (([0, 1], [0, 1]), ["a", "b"], None, TypeError, "values must hold real numbers"),
    (([0, 1], [0, 1]), [1, 2], (2, 0), ValueError, r"shape\[1\] must be positive, got 0"),
    (([0, 1], [0, 1]), [1, 2], (2, 2, 2), TypeError, "tuple of 2 positive integers"),
    (([0, 1], [0, 1]), [1, 2], (2, 2**31), ValueError, r"shape\[1\] = 2147483648 exceeds"),
])
def test_bad_input_names_mode_and_value(indices, values, shape, error, message):
    with pytest.raises(error, match=message):
        TensorRatings(indices, values, shape)


def test_labels_and_index():
    T = TensorRatings.from_labels((["bob", "amy", "bob"], [7, 7, 3], [2024, 2025, 2025]),
                                  [4, 5, 2])
    assert T.shape == (2, 2, 2)
    assert T.labels[0].tolist() == ["amy", "bob"] and T.labels[1].tolist() == [3, 7]
    assert T.index(0, "bob") == 1 and T.index(2, [2025, 2024]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="unknown mode 1 labels: 9"):
        T.index(1, [7, 9])
    with pytest.raises(ValueError, match="mode 3 does not exist"):
        T.index(3, 0)
    U = TensorRatings(([0, 1], [1, 0]), [1, 2], labels=[["a", "b"], None])
    assert U.index(0, "b") == 1 and U.index(1, 1) == 1
    with pytest.raises(KeyError, match="unknown mode 1 labels: 2"):
        U.index(1, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"labels\[0\] must name the 2 positions"):
        TensorRatings(([0, 1], [1, 0]), [1, 2], labels=[["a"], None])
    with pytest.raises(ValueError, match=r"labels\[1\] repeats a label"):
        TensorRatings(([0, 1], [1, 0]), [1, 2], labels=[None, ["x", "x"]])
    with pytest.raises(ValueError, match="one entry per mode"):
        TensorRatings(([0, 1], [1, 0]), [1, 2], labels=[None])


def test_take_split_kfold_partition_and_keep_everything():
    shape = (6, 5, 4)
    idx, values = random_entries(shape, 80, seed=1)
    T = TensorRatings(idx, values, shape, labels=[list("abcdef"), None, None])
    keys = {tuple(int(i[t]) for i in T.coo()[0]): float(T.coo()[1][t]) for t in range(T.nnz)}
    train, test = T.split(0.25, random_state=0)
    assert train.nnz == 60 and test.nnz == 20 and train.labels[0] is T.labels[0]
    seen = []
    for tr, te in T.kfold(4, random_state=1):
        assert tr.nnz + te.nnz == T.nnz and tr.shape == shape
        for part in (tr, te):
            for m in range(3):  # views of a subset are the subset's
                V = part.view(m)
                assert V.indptr[-1] == part.nnz
        cells = [tuple(int(i[t]) for i in te.coo()[0]) for t in range(te.nnz)]
        assert all(keys[c] == v for c, v in zip(cells, te.coo()[1]))
        seen += cells
    assert sorted(seen) == sorted(keys)
    sub = T.take([3, 0, 7])
    assert sub.nnz == 3 and sub.coo()[1].tolist() == T.coo()[1][[0, 3, 7]].tolist()
    with pytest.raises(ValueError, match="position 3 twice"):
        T.take([3, 3])
    with pytest.raises(ValueError, match="test_size must be in"):
        T.split(1.5)
    with pytest.raises(ValueError, match="k must be between 2 and nnz"):
        next(T.kfold(1))


# ---------------------------------------------------------------- Ratings.to_tensor

def timed_ratings():
    rows = [0, 0, 1, 1, 2, 2]
    cols = [0, 1, 0, 2, 1, 2]
    values = [5.0, 3.0, 4.0, 1.0, 2.0, 3.0]
    times = [10, 70, 20, 100, 40, 50]
    return Ratings(rows, cols, values, times=times)


def bins_of(T):
    """{(row, col): bin} of a user x item x time tensor."""
    idx, _ = T.coo()
    return {(int(a), int(b)): int(c) for a, b, c in zip(*idx)}


def test_to_tensor_equal_width_count_and_edges():
    R = timed_ratings()
    T = R.to_tensor(3)
    assert T.shape == (3, 3, 3)
    np.testing.assert_allclose(T.time_edges, [10, 40, 70, 100])
    assert bins_of(T) == {(0, 0): 0, (0, 1): 2, (1, 0): 0, (1, 2): 2, (2, 1): 1, (2, 2): 1}
    assert T.coo()[1].tolist() == R.coo()[2].tolist()  # the rating values, CSR order
    C = R.to_tensor(2, strategy="count")
    assert np.bincount(C.coo()[0][2]).tolist() == [3, 3]
    E = R.to_tensor([0, 50, 200])
    assert bins_of(E)[(2, 2)] == 1 and bins_of(E)[(2, 1)] == 0
    np.testing.assert_array_equal(E.time_edges, [0, 50, 200])


def test_to_tensor_keeps_labels_and_datetimes():
    times = np.array(["2024-01-01", "2024-03-01", "2024-02-01"], dtype="datetime64[D]")
    R = Ratings.from_labels(["u", "v", "u"], ["x", "x", "y"], [1.0, 2.0, 3.0], times=times)
    T = R.to_tensor(2)
    assert T.labels[0].tolist() == ["u", "v"] and T.labels[2] is None
    assert T.time_edges.dtype == times.dtype
    assert T.time_edges[0] == times.min() and T.time_edges[-1] == times.max()
    assert bins_of(T)[(1, 0)] == 1


def test_to_tensor_errors_name_the_bin_and_the_time():
    R = timed_ratings()
    with pytest.raises(ValueError, match=r"time bin 1 \[25.0, 40.0\) holds no ratings \(2 of 6"):
        R.to_tensor(6)
    with pytest.raises(ValueError, match="position 3 has time 100.0, outside the edges"):
        R.to_tensor([0, 50, 90])
    with pytest.raises(ValueError, match="strictly increasing, but edge 2"):
        R.to_tensor([0, 50, 50, 200])
    with pytest.raises(ValueError, match="time_bins must be >= 1"):
        R.to_tensor(0)
    with pytest.raises(ValueError, match="strategy must be one of"):
        R.to_tensor(2, strategy="quantile")
    with pytest.raises(ValueError, match="have no times"):
        Ratings([0, 1], [1, 0], [1.0, 2.0]).to_tensor(2)
    same = Ratings([0, 1], [1, 0], [1.0, 2.0], times=[5, 5])
    with pytest.raises(ValueError, match="all times are equal"):
        same.to_tensor(2)
    assert same.to_tensor(1).shape == (2, 2, 1)


def test_drift_generator_times_and_tensor():
    R, floor, truth = lorank.datasets.synthetic_drift(3000, 200, 40_000, n_days=300,
                                                      random_state=2, return_truth=True)
    again, _ = lorank.datasets.synthetic_drift(3000, 200, 40_000, n_days=300, random_state=2,
                                               n_threads=1)
    assert R.nnz == 40_000 and R.times.min() >= 0 and R.times.max() < 300
    np.testing.assert_array_equal(R.times, again.times)
    assert R.csr.values.tobytes() == again.csr.values.tobytes()
    assert truth["time_weights"].shape == (300, 10) and 0.4 < floor < 0.8
    T = R.to_tensor(30, strategy="count")
    assert T.shape == (3000, 200, 30) and T.nnz == R.nnz


def test_drift_noise_floor_is_the_best_prediction_not_the_signal():
    # Regression: the floor was the RMSE of the noiseless signal, which a model that
    # learns the rounding and clipping beats (CPALS did, 0.608 < 0.615 at 20M ratings).
    # The floor is the RMSE of E[rating | signal], computed here from the truth by the
    # normal CDF, independently of the generator's code.
    from scipy.special import ndtr

    noise = 0.5
    R, floor, truth = lorank.datasets.synthetic_drift(2000, 150, 30_000, n_days=200,
                                                      noise=noise, random_state=3,
                                                      return_truth=True)
    rows, cols, values = R.coo()
    days = R.times.astype(np.int64)          # COO order follows the CSR, as times do
    F = truth["factors"]
    signal = (truth["mean"] + truth["row_bias"][rows] + truth["col_bias"][cols]
              + truth["day_bias"][days]
              + np.einsum("ij,ij->i", F.left[rows] * truth["time_weights"][days],
                          F.right[cols], dtype=np.float64))
    best = 1.0 + sum(ndtr((signal - (k + 0.5)) / noise) for k in range(1, 5))
    rmse = lambda p: float(np.sqrt(np.mean((values - p) ** 2)))
    assert floor == pytest.approx(rmse(best), rel=1e-6)
    assert floor < rmse(signal) - 1e-3
