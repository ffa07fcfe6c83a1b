"""Per-user leave-k-out and fraction splits, at random and by time."""

import numpy as np
import pytest

import lorank
from lorank.model_selection import leave_k_out_split, user_fraction_split


def timed(seed=0, m=200, n=80, nnz=3000):
    X = lorank.datasets.synthetic_implicit(m, n, nnz, random_state=seed)
    rows, cols, vals = X.coo()
    times = np.random.default_rng(seed).permutation(len(vals)).astype(np.int64)
    return lorank.Ratings(rows, cols, vals, X.shape, times=times)


def partition(R, train, test):
    assert train.nnz + test.nnz == R.nnz
    keys = lambda S: set(zip(*(a.tolist() for a in S.coo()[:2])))  # noqa: E731
    assert keys(train) | keys(test) == keys(R) and not keys(train) & keys(test)


@pytest.mark.parametrize("by", ["random", "time"])
@pytest.mark.parametrize("k", [1, 3])
def test_leave_k_out(by, k):
    R = timed()
    train, test = leave_k_out_split(R, k, by=by, random_state=0)
    partition(R, train, test)
    c = R.row_counts
    np.testing.assert_array_equal(test.row_counts, np.where(c > k, k, 0))
    if by == "time":  # every held-out interaction is later than the user's training ones
        for u in np.flatnonzero(test.row_counts):
            a, b = train.csr.indptr[u], train.csr.indptr[u + 1]
            p, q = test.csr.indptr[u], test.csr.indptr[u + 1]
            assert train.times[a:b].max() < test.times[p:q].min()


@pytest.mark.parametrize("by", ["random", "time"])
def test_user_fraction(by):
    R = timed(1)
    train, test = user_fraction_split(R, 0.25, by=by, random_state=3)
    partition(R, train, test)
    c = R.row_counts
    expect = np.where(c >= 2, np.clip(np.floor(0.25 * c + 0.5), 1, c - 1), 0)
    np.testing.assert_array_equal(test.row_counts, expect)
    if by == "random":  # the same draw as Ratings.split(by="row")
        t2 = R.split(0.25, random_state=3, by="row")[1]
        np.testing.assert_array_equal(test.csr.indices, t2.csr.indices)


def test_random_splits_are_seeded():
    R = timed(2)
    a = leave_k_out_split(R, 2, random_state=5)[1]
    b = leave_k_out_split(R, 2, random_state=5)[1]
    c = leave_k_out_split(R, 2, random_state=6)[1]
    np.testing.assert_array_equal(a.csr.indices, b.csr.indices)
    assert not np.array_equal(a.csr.indices, c.csr.indices)


def test_bad_arguments():
    R = timed()
    untimed = lorank.Ratings(*R.coo(), R.shape)
    with pytest.raises(ValueError, match='by="time" needs timestamps'):
        leave_k_out_split(untimed, 1, by="time")
    with pytest.raises(ValueError, match="k must be >= 1"):
        leave_k_out_split(R, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        leave_k_out_split(R, 1.5)
    with pytest.raises(ValueError, match='by must be "random" or "time"'):
        user_fraction_split(R, by="row")
    with pytest.raises(ValueError, match="test_size must be in"):
        user_fraction_split(R, 1.0)
