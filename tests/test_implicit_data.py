"""datasets.synthetic_implicit: shape, determinism, skew and low-rank preferences."""

import numpy as np
import pytest

import lorank
from lorank.datasets import synthetic_implicit


def test_exact_size_and_valid_counts():
    X = synthetic_implicit(3000, 800, 60_000, rank=6, random_state=1)
    assert X.shape == (3000, 800) and X.nnz == 60_000
    assert (X.row_counts >= 1).all()
    v = X.csr.values
    assert v.min() >= 1 and np.array_equal(v, np.rint(v))
    # Power-law-like skew of users and items.
    assert X.row_counts.max() > 8 * np.median(X.row_counts)
    assert X.col_counts.max() > 20 * np.median(X.col_counts)


def test_deterministic_and_seed_dependent():
    a = synthetic_implicit(500, 200, 5000, random_state=3)
    b = synthetic_implicit(500, 200, 5000, random_state=3)
    c = synthetic_implicit(500, 200, 5000, random_state=4)
    for x, y in ((a.csr.indptr, b.csr.indptr), (a.csr.indices, b.csr.indices),
                 (a.csr.values, b.csr.values)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.csr.indices, c.csr.indices)


def test_preferences_are_low_rank_and_explain_the_pairs():
    X, truth = synthetic_implicit(2000, 400, 30_000, rank=4, random_state=0,
                                  return_truth=True)
    P = truth["preference"]
    assert P.left.shape == (2000, 4) and P.right.shape == (400, 4)
    rows, cols, _ = X.coo()
    observed = P.entries(rows, cols).mean()
    rng = np.random.default_rng(0)
    random = P.entries(rng.integers(0, 2000, 30_000), rng.integers(0, 400, 30_000)).mean()
    assert observed > 2 * random


def test_saturated_users_and_bad_sizes():
    X = synthetic_implicit(5, 10, 48, rank=3, random_state=0)  # nearly dense
    assert X.nnz == 48 and X.row_counts.max() <= 10
    with pytest.raises(ValueError, match="nnz=3 must be between"):
        synthetic_implicit(5, 10, 3, rank=3)
    with pytest.raises(ValueError, match="nnz=51 must be between"):
        synthetic_implicit(5, 10, 51, rank=3)
