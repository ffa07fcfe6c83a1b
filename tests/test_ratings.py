"""lorank.Ratings against numpy/scipy references."""


import numpy as np
import pytest
import scipy.sparse as sp

from lorank import Ratings

DTYPES = [np.float32, np.float64]


def random_coo(m, n, nnz, dtype, seed=0, unique=True):
    """Random COO triples in random order; unique (row, col) pairs by default."""
    rng = np.random.default_rng(seed)
    if unique:
        cells = rng.choice(m * n, size=nnz, replace=False)
        rows, cols = np.divmod(cells, n)
    else:
        rows, cols = rng.integers(0, m, nnz), rng.integers(0, n, nnz)
    values = rng.standard_normal(nnz).astype(dtype)
    return rows, cols, values


def assert_matches_scipy(R, S):
    """R's CSR and CSC equal scipy's canonical CSR and CSC of S."""
    C, K = sp.csr_matrix(S), sp.csc_matrix(S)
    C.sum_duplicates()
    K.sum_duplicates()
    assert R.shape == S.shape
    assert R.nnz == C.nnz == len(R)
    for view, ref in ((R.csr, C), (R.csc, K)):
        assert view.indptr.dtype == np.int64
        assert view.indices.dtype == np.int32
        for a in view:
            assert a.flags.c_contiguous and not a.flags.writeable
        np.testing.assert_array_equal(view.indptr, ref.indptr)
        np.testing.assert_array_equal(view.indices, ref.indices)
        np.testing.assert_array_equal(view.values, ref.data)
    np.testing.assert_array_equal(R.row_counts, np.diff(C.indptr))
    np.testing.assert_array_equal(R.col_counts, np.diff(K.indptr))


# ------------------------------------------------------------------ constructors


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.uint16])
def test_coo_matches_scipy(dtype, index_dtype):
    rows, cols, values = random_coo(60, 45, 900, dtype)
    R = Ratings(rows.astype(index_dtype), cols.astype(index_dtype), values, shape=(60, 45))
    assert R.dtype == dtype
    assert R.density == pytest.approx(900 / (60 * 45))
    assert_matches_scipy(R, sp.coo_matrix((values, (rows, cols)), shape=(60, 45)))


def test_coo_mixed_index_dtypes_and_lists():
    rows, cols, values = random_coo(20, 30, 100, np.float64)
    R = Ratings(rows.astype(np.int32), cols.astype(np.int64), values)
    assert_matches_scipy(R, sp.coo_matrix((values, (rows, cols)), shape=R.shape))
    R2 = Ratings(list(rows), list(cols), list(values), shape=R.shape)
    np.testing.assert_array_equal(R2.csc.values, R.csc.values)


def test_huge_finite_values_are_accepted():
    R = Ratings([0, 1], [0, 1], [1e308, 1e308])
    np.testing.assert_array_equal(R.csr.values, [1e308, 1e308])


def test_shape_inferred_from_max_index():
    R = Ratings([0, 4], [2, 0], [1.0, 2.0])
    assert R.shape == (5, 3)


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.array([1, 2], dtype=np.int8), np.float64),
        (np.array([True, False]), np.float64),
        (np.array([1, 2], dtype=np.float16), np.float64),
        (np.array([1, 2], dtype=np.float32), np.float32),
        ([1.5, 2.5], np.float64),
    ],
)
def test_value_dtype_rules(values, expected):
    assert Ratings([0, 1], [1, 0], values).dtype == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_argument(dtype):
    R = Ratings([0, 1], [1, 0], np.array([1, 2], dtype=np.int64), dtype=dtype)
    assert R.dtype == dtype and R.csc.values.dtype == dtype


def test_empty_with_shape():
    R = Ratings([], [], [], shape=(3, 4))
    assert R.nnz == 0 and R.shape == (3, 4)
    np.testing.assert_array_equal(R.csr.indptr, np.zeros(4))
    np.testing.assert_array_equal(R.col_counts, np.zeros(4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "dok", "bsr"])
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_from_sparse_formats(dtype, fmt, container):
    rows, cols, values = random_coo(30, 25, 200, dtype)
    values[:5] = 0  # explicit zeros are observations
    S = container(sp.coo_matrix((values, (rows, cols)), shape=(30, 25))).asformat(fmt)
    R = Ratings.from_sparse(S)
    assert R.dtype == dtype and R.nnz == 200
    ref = sp.coo_matrix((values, (rows, cols)), shape=(30, 25))
    assert_matches_scipy(R, ref)


def test_from_sparse_unsorted_csr_and_copy():
    S = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([2, 0, 1]), np.array([0, 2, 3])), shape=(2, 3))
    assert not S.has_sorted_indices
    R = Ratings.from_sparse(S)
    np.testing.assert_array_equal(R.csr.indices, [0, 2, 1])
    np.testing.assert_array_equal(R.csr.values, [2.0, 1.0, 3.0])
    C = sp.csr_matrix(([1.0, 2.0], [0, 1], [0, 1, 2]), shape=(2, 2))
    R = Ratings.from_sparse(C)
    C.data[:] = 7  # the Ratings holds copies
    np.testing.assert_array_equal(R.csr.values, [1.0, 2.0])


def test_from_sparse_coo_duplicates():
    S = sp.coo_matrix(([1.0, 3.0, 5.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    with pytest.raises(ValueError, match=r"duplicate entry \(0, 1\)"):
        Ratings.from_sparse(S)
    np.testing.assert_array_equal(Ratings.from_sparse(S, duplicates="mean").csr.values, [2.0, 5.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_dense(dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 9)).astype(dtype)
    X[rng.random(X.shape) < 0.6] = np.nan
    X[0, 0] = 0.0
    R = Ratings.from_dense(X)
    assert R.dtype == dtype and R.shape == X.shape
    rows, cols = np.nonzero(~np.isnan(X))
    assert_matches_scipy(R, sp.coo_matrix((X[rows, cols], (rows, cols)), shape=X.shape))
    # An all-missing matrix has an explicit shape, so it is allowed.
    assert Ratings.from_dense(np.full((2, 3), np.nan)).nnz == 0
    assert Ratings.from_dense(np.ones((2, 3), dtype=int)).dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_csr(dtype):
    rows, cols, values = random_coo(40, 35, 300, dtype)
    C = sp.csr_matrix((values, (rows, cols)), shape=(40, 35))
    indptr, indices, data = C.indptr.astype(np.int64), C.indices.astype(np.int32), C.data
    R = Ratings.from_csr(indptr, indices, data, (40, 35))
    assert_matches_scipy(R, C)
    # Arrays with the stored dtypes are used without copying.
    assert np.shares_memory(R.csr.indices, indices) and np.shares_memory(R.csr.values, data)
    R64 = Ratings.from_csr(C.indptr, C.indices, C.data, (40, 35), dtype=np.float64)
    assert R64.dtype == np.float64


@pytest.mark.parametrize(
    "indptr, indices, message",
    [
        ([1, 2, 3], [0, 1], "indptr must start at 0, got 1"),
        ([0, 2, 1], [0, 1], r"indptr must end at nnz = 2 \(the length of indices\), got 1"),
        ([0, 3, 2], [0, 1], r"indptr must be non-decreasing, but indptr\[2\] = 2 < indptr\[1\] = 3"),
        ([0, 1], [0], r"indptr must have shape\[0\] \+ 1 = 3 entries, got 2"),
        ([0, 1, 2], [0, 3], r"indices contains index 3 \(row 1\) but shape\[1\] is 3"),
        ([0, 1, 2], [0, -1], r"indices contains index -1 \(row 1\); indices must be >= 0"),
        ([0, 2, 2], [1, 1], "indices must be strictly increasing within each row, but row 0 has column 1 after column 1"),
        ([0, 2, 2], [2, 0], "row 0 has column 0 after column 2"),
        ([0, 1, 2], [0.0, 1.0], "indices must hold integers, got dtype float64"),
    ],
)
def test_from_csr_rejects(indptr, indices, message):
    values = np.ones(len(indices))
    error = TypeError if "integers" in message else ValueError
    with pytest.raises(error, match=message):
        Ratings.from_csr(np.array(indptr), np.array(indices), values, (2, 3))


def test_from_csr_rejects_values():
    with pytest.raises(ValueError, match=r"values contains nan at position 1"):
        Ratings.from_csr([0, 1, 2], [0, 1], [1.0, np.nan], (2, 3))
    with pytest.raises(ValueError, match="indices and values must have the same length, got 2 and 3"):
        Ratings.from_csr([0, 1, 2], [0, 1], [1.0, 2.0, 3.0], (2, 3))


# ------------------------------------------------------------------ duplicates


@pytest.mark.parametrize("dtype", DTYPES)
def test_duplicates(dtype):
    rows = [3, 1, 3, 0, 3, 1]
    cols = [7, 2, 7, 0, 7, 0]
    values = np.array([1, 2, 4, 8, 16, 32], dtype=dtype)
    with pytest.raises(ValueError, match=r'duplicate entry \(3, 7\); pass duplicates="mean" or "last"'):
        Ratings(rows, cols, values)
    mean = Ratings(rows, cols, values, duplicates="mean")
    last = Ratings(rows, cols, values, duplicates="last")
    assert mean.nnz == last.nnz == 4
    # Reference: a dict over the input in order.
    groups = {}
    for r, c, v in zip(rows, cols, values):
        groups.setdefault((r, c), []).append(v)
    for R, reduce in ((mean, np.mean), (last, lambda g: g[-1])):
        got = dict(zip(zip(*R.coo()[:2]), R.coo()[2]))
        assert {(int(r), int(c)): v for (r, c), v in got.items()} == pytest.approx(
            {k: reduce(np.array(g, dtype=np.float64)) for k, g in groups.items()}
        )
        assert R.dtype == dtype
        Rt = R.to_scipy("csc")
        np.testing.assert_array_equal(Rt.indices, R.csc.indices)


def test_duplicates_first_pair_in_row_major_order():
    with pytest.raises(ValueError, match=r"duplicate entry \(1, 0\)"):
        Ratings([2, 1, 2, 1], [5, 0, 5, 0], [1.0, 2.0, 3.0, 4.0])


def test_duplicates_random_against_scipy():
    rows, cols, values = random_coo(15, 10, 400, np.float64, unique=False)
    mean = Ratings(rows, cols, values, duplicates="mean")
    S = sp.coo_matrix((values, (rows, cols)), shape=mean.shape).tocsr()
    N = sp.coo_matrix((np.ones_like(values), (rows, cols)), shape=mean.shape).tocsr()
    np.testing.assert_array_equal(mean.csr.indices, S.indices)
    np.testing.assert_allclose(mean.csr.values, S.data / N.data, rtol=1e-12)
    last = Ratings(rows, cols, values, duplicates="last")
    ref = {}
    for r, c, v in zip(rows, cols, values):
        ref[(r, c)] = v
    keys = sorted(ref)
    np.testing.assert_array_equal(last.csr.values, [ref[k] for k in keys])
    assert_matches_scipy(last, sp.coo_matrix(([ref[k] for k in keys], tuple(zip(*keys))), shape=last.shape))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (([0, 1000], [0, 1], [1.0, 2.0]), {"shape": (1000, 5)}, ValueError, r"rows contains index 1000 but shape\[0\] is 1000"),
        (([0, 1], [0, 5], [1.0, 2.0]), {"shape": (2, 5)}, ValueError, r"cols contains index 5 but shape\[1\] is 5"),
        (([0, -1], [0, 1], [1.0, 2.0]), {}, ValueError, "rows contains index -1; indices must be >= 0"),
        (([0, 1], [-2, 1], [1.0, 2.0]), {"shape": (3, 3)}, ValueError, "cols contains index -2; indices must be >= 0"),
        (([0, 1], [0, 1], [1.0, np.nan]), {}, ValueError, "values contains nan at position 1; values must be finite"),
        (([0, 1], [0, 1], [np.inf, 1.0]), {}, ValueError, "values contains inf at position 0"),
        (([0, 1], [0, 1], [1e300, 1.0]), {"dtype": np.float32}, ValueError, "values contains 1e[+]300 at position 0, which overflows float32"),
        (([0, 1], [0, 1, 2], [1.0, 2.0]), {}, ValueError, "rows, cols and values must have the same length, got 2, 3 and 2"),
        (([], [], []), {}, ValueError, "no observations: pass shape="),
        (([0.0, 1.0], [0, 1], [1.0, 2.0]), {}, TypeError, "rows must hold integers, got dtype float64"),
        (([0, 1], ["a", "b"], [1.0, 2.0]), {}, TypeError, "cols must hold integers"),
        (([0, 1], [0, 1], [1 + 1j, 2.0]), {}, TypeError, "values must hold real numbers, got dtype complex128"),
        (([0, 1], [0, 1], ["1", "2"]), {}, TypeError, "values must hold real numbers"),
        (([0, 1], [0, 1], np.array([1, 2], dtype=object)), {}, TypeError, "values must hold real numbers, got dtype object"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"dtype": np.int32}, TypeError, "dtype must be float32 or float64, got int32"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"dtype": "float16"}, TypeError, "dtype must be float32 or float64, got float16"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"shape": (2, 0)}, ValueError, r"shape\[1\] must be positive, got 0"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"shape": (2.0, 2)}, TypeError, r"shape\[0\] must be an integer, got 2.0"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"shape": (2, 2, 2)}, TypeError, "shape must be a pair of positive integers"),
        (([0, 1], [0, 1], [1.0, 2.0]), {"duplicates": "sum"}, ValueError, "duplicates must be one of"),
        (([[0, 1]], [0, 1], [1.0, 2.0]), {}, ValueError, r"rows must be 1-D, got an array with shape \(1, 2\)"),
    ],
)
def test_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        Ratings(*args, **kwargs)


def test_bad_input_other_constructors():
    with pytest.raises(TypeError, match="S must be a scipy.sparse matrix or array, got ndarray"):
        Ratings.from_sparse(np.ones((2, 2)))
    with pytest.raises(TypeError, match="values must hold real numbers, got dtype complex128"):
        Ratings.from_sparse(sp.csr_matrix(np.array([[1j, 0], [0, 1]])))
    with pytest.raises(ValueError, match="values contains inf"):
        Ratings.from_sparse(sp.csr_matrix(np.array([[np.inf, 0], [0, 1]])))
    with pytest.raises(ValueError, match=r"X contains inf at \(1, 0\); values must be finite"):
        Ratings.from_dense([[1.0, np.nan], [np.inf, 2.0]])
    with pytest.raises(ValueError, match=r"X must be 2-D, got an array with shape \(3,\)"):
        Ratings.from_dense([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="X must be a dense array, got csr_matrix"):
        Ratings.from_dense(sp.csr_matrix(np.eye(2)))
    with pytest.raises(TypeError, match="X must hold real numbers, got dtype <U1"):
        Ratings.from_dense([["a", "b"]])
    with pytest.raises(ValueError, match=r"shape\[0\] must be positive, got 0"):
        Ratings.from_dense(np.ones((0, 3)))
    with pytest.raises(ValueError, match="users, items and values must have the same length, got 2, 2 and 1"):
        Ratings.from_labels(["a", "b"], [1, 2], [1.0])
    with pytest.raises(ValueError, match="no observations"):
        Ratings.from_labels([], [], [])


# ------------------------------------------------------------------ labels


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_labels_round_trip(dtype):
    rng = np.random.default_rng(2)
    users = np.array(["u%03d" % k for k in range(40)])
    items = np.arange(100, 130) * 7
    rows, cols, values = random_coo(40, 30, 300, dtype, seed=3)
    R = Ratings.from_labels(users[rows], items[cols], values)
    assert R.dtype == dtype
    # Sorted unique labels, kept as arrays.
    np.testing.assert_array_equal(R.row_labels, np.unique(users[rows]))
    np.testing.assert_array_equal(R.col_labels, np.unique(items[cols]))
    r, c, v = R.coo()
    got = {(R.row_labels[i], R.col_labels[j]): x for i, j, x in zip(r, c, v)}
    assert got == {(users[i], items[j]): x for i, j, x in zip(rows, cols, values)}
    # row_index / col_index invert the labels.
    pick = rng.integers(0, R.shape[0], 10)
    np.testing.assert_array_equal(R.row_index(R.row_labels[pick]), pick)
    np.testing.assert_array_equal(R.col_index(list(R.col_labels[:3])), [0, 1, 2])
    assert R.row_index(str(R.row_labels[5])) == 5
    assert R.T.row_labels is R.col_labels and R.T.col_index(str(R.row_labels[1])) == 1


def test_from_labels_unsortable_first_seen_order():
    users = [("a", 1), 3, ("a", 1), None, 3]
    items = ["x", "y", "y", "x", "x"]
    R = Ratings.from_labels(users, items, [1, 2, 3, 4, 5])
    assert R.row_labels.dtype == object and list(R.row_labels) == [("a", 1), 3, None]
    assert list(R.col_labels) == ["x", "y"]
    assert R.row_index(("a", 1)) == 0 and R.row_index(None) == 2
    np.testing.assert_array_equal(R.row_index([3, None]), [1, 2])
    np.testing.assert_array_equal(R.to_scipy().toarray(), [[1, 3], [5, 2], [4, 0]])


def test_labels_errors():
    R = Ratings.from_labels(["bob", "amy"], [1, 2], [3.0, 4.0])
    with pytest.raises(KeyError, match=r"unknown row labels: 'carl', 'dan'"):
        R.row_index(["amy", "carl", "dan"])
    with pytest.raises(KeyError, match="unknown col labels: 3"):
        R.col_index(3)
    with pytest.raises(ValueError, match=r"duplicate entry \('bob', 1\) \(user, item\)"):
        Ratings.from_labels(["bob", "amy", "bob"], [1, 2, 1], [3.0, 4.0, 5.0])
    with pytest.raises(TypeError, match="users must hold hashable labels"):
        Ratings.from_labels([[1], "a"], [1, 2], [3.0, 4.0])
    # Without labels the indices are the labels.
    P = Ratings([0, 2], [1, 0], [1.0, 2.0])
    assert P.row_labels is None and P.row_index(2) == 2
    np.testing.assert_array_equal(P.col_index(np.array([1, 0])), [1, 0])
    with pytest.raises(KeyError, match=r"unknown row labels: 3, 'a'"):
        P.row_index([3, "a"])


def test_movielens_100k(ml100k_raw):
    data = ml100k_raw
    R = Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2], dtype=np.float32)
    assert R.shape == (943, 1682) and R.nnz == 100_000 and R.dtype == np.float32
    np.testing.assert_array_equal(R.row_labels, np.arange(1, 944))
    assert R.row_counts.min() >= 20 and R.row_counts.sum() == 100_000
    assert R.csr.values.min() == 1 and R.csr.values.max() == 5


# ------------------------------------------------------------------ derived objects


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_astype_to_scipy(dtype):
    rows, cols, values = random_coo(20, 13, 90, dtype)
    R = Ratings(rows, cols, values)
    S = sp.coo_matrix((values, (rows, cols)), shape=R.shape)
    T = R.T
    assert T.shape == (R.shape[1], R.shape[0]) and T.csr is R.csc and T.csc is R.csr
    assert T.T.shape == R.shape
    assert_matches_scipy(T, S.T)
    other = np.float64 if dtype == np.float32 else np.float32
    A = R.astype(other)
    assert A.dtype == other and R.astype(dtype) is R
    assert A.csr.indices is R.csr.indices and A.csc.indptr is R.csc.indptr
    np.testing.assert_array_equal(A.csc.values, R.csc.values.astype(other))
    for fmt, cls in (("csr", sp.csr_matrix), ("csc", sp.csc_matrix)):
        M = R.to_scipy(fmt)
        assert isinstance(M, cls) and M.dtype == dtype
        np.testing.assert_array_equal(M.toarray(), S.toarray())
        M.data[:] = 0  # a copy: the Ratings is unchanged
    assert np.all(R.csr.values == S.tocsr().data)
    with pytest.raises(ValueError, match='format must be "csr" or "csc", got \'coo\''):
        R.to_scipy("coo")
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        R.astype(np.int64)


def test_astype_overflow_is_caught():
    R = Ratings([0], [0], [1e39])
    with pytest.raises(ValueError, match="overflows float32"):
        R.astype(np.float32)


def test_arrays_are_read_only():
    R = Ratings([0, 1], [1, 0], [1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        R.csr.values[0] = 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_take(dtype):
    rows, cols, values = random_coo(25, 18, 150, dtype)
    R = Ratings.from_labels(rows * 10, cols, values)
    r, c, v = R.coo()
    idx = np.random.default_rng(4).permutation(R.nnz)[:60]
    sub = R.take(idx)
    assert sub.shape == R.shape and sub.row_labels is R.row_labels
    assert_matches_scipy(sub, sp.coo_matrix((v[idx], (r[idx], c[idx])), shape=R.shape))
    mask = np.zeros(R.nnz, dtype=bool)
    mask[idx] = True
    np.testing.assert_array_equal(R.take(mask).csc.values, sub.csc.values)
    assert R.take([]).nnz == 0
    with pytest.raises(ValueError, match="idx contains position 3 twice"):
        R.take([3, 1, 3])
    with pytest.raises(ValueError, match="idx contains index 150 but nnz is 150"):
        R.take([150])
    with pytest.raises(ValueError, match=r"a boolean idx must have shape \(150,\), got \(3,\)"):
        R.take(np.ones(3, dtype=bool))


# ------------------------------------------------------------------ splits


def positions(part, R):
    """Positions in R's CSR order of the observations of part (via linear ids)."""
    r, c, _ = part.coo()
    R_r, R_c, _ = R.coo()
    full = R_r.astype(np.int64) * R.shape[1] + R_c
    return np.searchsorted(full, r.astype(np.int64) * R.shape[1] + c)


def assert_partition(R, train, test):
    assert train.shape == test.shape == R.shape
    both = np.concatenate([positions(train, R), positions(test, R)])
    np.testing.assert_array_equal(np.sort(both), np.arange(R.nnz))
    # Values travel with their entries.
    np.testing.assert_array_equal(R.csr.values[positions(test, R)], test.csr.values)


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_random(dtype):
    rows, cols, values = random_coo(50, 40, 1000, dtype)
    R = Ratings(rows, cols, values)
    train, test = R.split(0.2, random_state=0)
    assert test.nnz == 200 and train.nnz == 800 and test.dtype == dtype
    assert_partition(R, train, test)
    again = R.split(0.2, random_state=0)[1]
    np.testing.assert_array_equal(again.csr.indices, test.csr.indices)
    other = R.split(0.2, random_state=1)[1]
    assert not np.array_equal(other.csr.indptr, test.csr.indptr)


@pytest.mark.parametrize("test_size", [0.1, 0.3, 0.5])
def test_split_by_row(test_size):
    rng = np.random.default_rng(5)
    counts = np.r_[1, 2, 3, rng.integers(1, 40, 57)]
    rows = np.repeat(np.arange(len(counts)), counts)
    cols = np.concatenate([rng.choice(50, k, replace=False) for k in counts])
    R = Ratings(rows, cols, rng.random(len(rows)), shape=(len(counts), 50))
    train, test = R.split(test_size, random_state=7, by="row")
    assert_partition(R, train, test)
    c, n_test = R.row_counts, test.row_counts
    assert np.all(train.row_counts >= 1)
    np.testing.assert_array_equal(n_test[c == 1], 0)
    assert np.all(n_test[c >= 2] >= 1) and np.all(n_test[c >= 2] <= c[c >= 2] - 1)
    big = c >= 10  # away from the guarantees, the proportion is per row
    np.testing.assert_array_equal(n_test[big], np.floor(test_size * c[big] + 0.5))
    np.testing.assert_array_equal(R.split(test_size, 7, "row")[1].csc.indices, test.csc.indices)


def test_split_errors():
    R = Ratings([0, 1, 2], [0, 1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"test_size must be in \(0, 1\), got 1.5"):
        R.split(1.5)
    with pytest.raises(TypeError, match="test_size must be a float in"):
        R.split("0.2")
    with pytest.raises(ValueError, match='by must be "random" or "row", got \'col\''):
        R.split(0.2, by="col")
    with pytest.raises(ValueError, match="leaves no training data"):
        Ratings([0], [0], [1.0]).split(0.5)
    with pytest.raises(ValueError, match="k must be between 2 and nnz = 3, got 4"):
        R.kfold(4)
    with pytest.raises(TypeError, match="k must be an integer, got 2.0"):
        R.kfold(2.0)


@pytest.mark.parametrize("by", ["random", "row"])
def test_kfold(by):
    rng = np.random.default_rng(6)
    rows, cols, values = random_coo(30, 20, 301, np.float32, seed=8)
    R = Ratings(rows, cols, values)
    folds = list(R.kfold(4, random_state=3, by=by))
    assert len(folds) == 4
    seen = np.zeros(R.nnz, dtype=int)
    for train, test in folds:
        assert_partition(R, train, test)
        seen[positions(test, R)] += 1
        if by == "row":
            assert np.all(train.row_counts[R.row_counts >= 2] >= 1)
            assert np.all(np.abs(test.row_counts - R.row_counts / 4) < 1)
    np.testing.assert_array_equal(seen, 1)  # each observation in exactly one test fold
    sizes = [test.nnz for _, test in folds]
    if by == "random":
        assert sorted(sizes) == [75, 75, 75, 76]
    again = [test.csr.indices for _, test in R.kfold(4, random_state=3, by=by)]
    for a, (_, test) in zip(again, folds):
        np.testing.assert_array_equal(a, test.csr.indices)
    del rng


def test_repr_len():
    R = Ratings.from_labels(["a", "b"], [1, 2], [3.0, 4.0])
    assert repr(R) == "Ratings(shape=(2, 2), nnz=2, dtype=float64, density=0.5, labelled)"
    assert len(R) == 2


def test_from_csr_rejects_decreasing_unsigned_indptr():
    # Regression: unsigned differences wrapped around, so a decreasing uint64
    # indptr passed the check and the CSC build wrote out of bounds.
    with pytest.raises(ValueError, match=r"indptr must be non-decreasing, but indptr\[2\] = 1"):
        Ratings.from_csr(np.array([0, 3, 1, 3], np.uint64), [0, 1, 2], [1.0, 2.0, 3.0], (3, 3))


# ------------------------------------------------------------------ kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7])
@pytest.mark.parametrize("n_minor", [17, 100_003])
def test_counting_sort_kernels_against_argsort(dtype, n_chunks, n_minor):
    """The chunked (threaded) stable counting sorts equal numpy's stable argsort,
    also for transposes into more than TWO_LEVEL_BUCKETS buckets (sorted in two
    levels)."""
    from lorank._kernels import _sparse

    assert (n_minor > _sparse.TWO_LEVEL_BUCKETS) == (n_minor > 17)
    rng = np.random.default_rng(9)
    n_major, nnz = 23, 500 if n_minor == 17 else 20_000
    major = rng.integers(0, n_major, nnz).astype(np.int32)
    minor = rng.integers(0, n_minor, nnz)  # int64, with repeated pairs
    values = rng.standard_normal(nnz).astype(dtype)
    order = np.argsort(major, kind="stable")
    indptr = np.empty(n_major + 1, dtype=np.int64)
    out_minor = np.empty(nnz, dtype=np.int32)
    out_values = np.empty(nnz, dtype=dtype)
    _sparse.coo_compress(major, minor, values, indptr, out_minor, out_values, n_chunks)
    np.testing.assert_array_equal(indptr, np.r_[0, np.cumsum(np.bincount(major, minlength=n_major))])
    np.testing.assert_array_equal(out_minor, minor[order])
    np.testing.assert_array_equal(out_values, values[order])
    # Transpose: majors in increasing order, stable within each new bucket.
    t_indptr = np.empty(n_minor + 1, dtype=np.int64)
    t_major = np.empty(nnz, dtype=np.int64)
    t_values = np.empty(nnz, dtype=dtype)
    lo_bits = _sparse.split_bits(n_minor, _sparse.TWO_LEVEL_ENTRIES)
    _sparse.compressed_transpose(indptr, out_minor, out_values, t_indptr, t_major, t_values,
                                 n_chunks, lo_bits)
    again = np.lexsort((major, minor))  # by minor, then major, then input order
    np.testing.assert_array_equal(t_indptr, np.r_[0, np.cumsum(np.bincount(minor, minlength=n_minor))])
    np.testing.assert_array_equal(t_major, major[again])
    np.testing.assert_array_equal(t_values, values[again])


# ---------------------------------------------------------------- the label gate
# Regression: numpy's coercion merged "1" and 1 (and b"a" and "a") into one
# label; NaN labels made their rows unreachable; lists passed construction; a
# single string was read as a sequence of one-character labels.

@pytest.mark.parametrize("users, error, message", [
    (["1", 1, "2"], TypeError, r"users mixes int and str labels \(users\[1\] = 1, users\[0\] = '1'\)"),
    (np.array(["1", 1, "2"], dtype=object), TypeError, "users mixes int and str labels"),
    ([b"a", "a", "b"], TypeError, "users mixes bytes and str labels"),
    ([True, 1, 2], TypeError, "users mixes bool and int labels"),
    ([1, 2.5, 3], TypeError, "users mixes float and int labels"),
    ([2**53 + 1, 0.5, 1], TypeError, "users mixes float and int labels"),
    ([1.0, np.nan, 2.0], ValueError, r"users\[1\] is nan \(1 such labels\): it is never equal"),
    (np.array([np.nan, 1.0, np.nan]), ValueError, r"users\[0\] is NaN \(2 such labels\)"),
    (np.array(["2020-01-01", "NaT", "2020-01-02"], "M8[D]"), ValueError, r"users\[1\] is NaT"),
    ([("a",), float("nan"), ("b",)], ValueError, r"users\[1\] is nan"),
    ([[1, 2], [3, 4], [1, 2]], TypeError, r"users must hold hashable labels .* users\[0\] is a list"),
    ([{1}, {2}, {1}], TypeError, r"users\[0\] is a set"),
    ("abc", TypeError, r"users must be a sequence of labels, got the single str 'abc'"),
    (b"abc", TypeError, r"got the single bytes b'abc'"),
])
def test_the_label_gate_refuses_labels_that_would_merge_or_vanish(users, error, message):
    with pytest.raises(error, match=message):
        Ratings.from_labels(users, [0, 1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(error, match=message.replace("users", "items")):
        Ratings.from_labels([0, 1, 2], users, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("users", [
    ["b", "a", "b"], [np.str_("b"), "a", "b"], [3, np.int32(1), 3], [2**70, 1, 2**70],
    [("x", 1), None, ("x", 1)], np.array([1.5, 0.5, 1.5]), [np.float32(1.5), 0.5, 1.5],
])
def test_labels_of_one_kind_are_kept_and_reachable(users):
    R = Ratings.from_labels(users, [0, 1, 2], [1.0, 2.0, 3.0])
    assert R.shape[0] == 2
    for k, u in enumerate(users):
        assert R.row_index(u) == R.csc.indices[R.csc.indptr[k]]  # item k was rated by u


def test_masked_entries_are_missing_in_from_dense():
    X = np.ma.masked_array([[1.0, 2.0, np.inf], [3.0, np.nan, 4.0]],
                           mask=[[False, True, True], [False, False, False]])
    R = Ratings.from_dense(X)
    np.testing.assert_array_equal(R.to_scipy().toarray(), [[1, 0, 0], [3, 0, 4]])
    assert R.nnz == 3  # the masked 2 and inf are missing, and so is the NaN
    ints = np.ma.masked_array([[1, 2], [3, 4]], mask=[[0, 1], [0, 0]])
    assert Ratings.from_dense(ints).nnz == 3
    with pytest.raises(ValueError, match=r"X contains inf at \(0, 1\)"):
        Ratings.from_dense(np.ma.masked_array([[1.0, np.inf]], mask=[[True, False]]))
    everything = np.ma.masked_array([[1.0, 2.0]], mask=np.ma.nomask)
    assert Ratings.from_dense(everything).nnz == 2


# ---------------------------------------------------------------- times


def test_times_follow_the_csr_order_and_duplicates():
    rows, cols = [2, 0, 1, 0], [1, 1, 0, 0]
    R = Ratings(rows, cols, [1.0, 2.0, 3.0, 4.0], times=[10, 20, 30, 40])
    # coo() order is (0,0) (0,1) (1,0) (2,1): the times of inputs 3, 1, 2, 0.
    np.testing.assert_array_equal(R.times, [40, 20, 30, 10])
    assert not R.times.flags.writeable and "with times" in repr(R)
    # A repeated pair keeps the time of its last rating in input order.
    D = Ratings([0, 1, 0], [0, 0, 0], [1.0, 2.0, 5.0], times=[1, 2, 3], duplicates="mean")
    np.testing.assert_array_equal(D.coo()[2], [3.0, 2.0])
    np.testing.assert_array_equal(D.times, [3, 2])
    assert Ratings([0], [0], [1.0]).times is None


def test_times_are_carried_through_take_split_kfold_transpose_astype():
    rng = np.random.default_rng(0)
    pos = rng.choice(30 * 20, 250, replace=False)
    rows, cols = pos // 20, pos % 20
    stamp = rng.integers(0, 10**9, 250)
    R = Ratings(rows, cols, rng.random(250), times=stamp)
    truth = dict(zip(zip(rows.tolist(), cols.tolist()), stamp.tolist()))

    def check(S, transposed=False):
        r, c, _ = S.coo()
        for i, j, t in zip(r.tolist(), c.tolist(), S.times.tolist()):
            assert truth[(j, i) if transposed else (i, j)] == t

    check(R)
    check(R.take([5, 1, 100]))
    for part in R.split(0.3, random_state=0) + R.split(0.3, random_state=0, by="row"):
        check(part)
    for train, test in R.kfold(3, random_state=0):
        check(train), check(test)
        assert train.nnz + test.nnz == R.nnz
    check(R.T, transposed=True)
    check(R.astype(np.float32))
    L = Ratings.from_labels([f"u{i}" for i in rows], cols, rng.random(250), times=stamp)
    r, c, _ = L.coo()
    for user, j, t in zip(L.row_labels[r].tolist(), c.tolist(), L.times.tolist()):
        assert truth[(int(user[1:]), j)] == t


def test_bad_times():
    with pytest.raises(ValueError, match=r"times must have one entry per rating \(2\), got 3"):
        Ratings([0, 1], [0, 1], [1.0, 2.0], times=[1, 2, 3])
    with pytest.raises(ValueError, match="times contains nan at position 1"):
        Ratings([0, 1], [0, 1], [1.0, 2.0], times=[1.0, np.nan])
    with pytest.raises(TypeError, match="times must hold numbers or datetime64"):
        Ratings([0, 1], [0, 1], [1.0, 2.0], times=["a", "b"])


# ---------------------------------------------------------------- pandas


def test_from_pandas_by_names_and_aliases():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"userId": ["ann", "bob", "ann"], "movieId": [10, 10, 20],
                       "rating": [4.0, 3.0, 5.0], "timestamp": [3, 1, 2]})
    R = Ratings.from_pandas(df)
    assert R.row_labels.tolist() == ["ann", "bob"] and R.col_labels.tolist() == [10, 20]
    np.testing.assert_array_equal(R.coo()[2], [4.0, 5.0, 3.0])
    np.testing.assert_array_equal(R.times, [3, 2, 1])
    # Explicit names win, in any column order; time=False drops the times.
    flipped = df[["rating", "movieId", "userId"]].rename(columns={"movieId": "a", "userId": "b"})
    T = Ratings.from_pandas(flipped, user="a", item="b", rating="rating", time=False)
    assert T.row_labels.tolist() == [10, 20] and T.times is None
    dates = df.assign(timestamp=pd.to_datetime(df["timestamp"], unit="s"))
    assert Ratings.from_pandas(dates).times.dtype == np.dtype("datetime64[ns]")
    with pytest.raises(ValueError, match=r"no user column among \['a', 'b'\]: pass user="):
        Ratings.from_pandas(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        Ratings.from_pandas(np.ones((3, 3)))
    with pytest.raises(ValueError, match="values contains nan at position 1"):
        Ratings.from_pandas(df.assign(rating=[1.0, np.nan, 2.0]))


# ------------------------------------------------------------------ construction kernels

from _reference import coo_build_reference, encode_reference, stable_order_reference  # noqa: E402


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("out", [np.int32, np.int64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_lookup_table_kernels_against_numpy(index, out, n_threads):
    from lorank._kernels import _sparse

    rng = np.random.default_rng(4)
    labels = rng.integers(-50, 300, 5000).astype(index)
    lo, hi = int(labels.min()), int(labels.max())
    present = np.zeros(hi - lo + 1, np.uint8)
    _sparse.mark_labels(labels, lo, present, n_threads)
    np.testing.assert_array_equal(np.flatnonzero(present) + lo, np.unique(labels))
    table = (np.cumsum(present) - 1).astype(out)
    codes = np.empty(labels.size, out)
    _sparse.lookup_codes(labels, lo, table, codes, n_threads)
    np.testing.assert_array_equal(codes, encode_reference(labels)[0])


@pytest.mark.parametrize("labels", [
    np.array([7], np.int32),                                  # one label
    np.array([5, 5, 5, 5], np.int64),                         # all the same
    np.array([-3, 10, -3, 0, 7, 10], np.int32),               # negative, gaps
    np.array([2**62, 2**62 + 5, 2**62], np.int64),            # far from 0, small range
    np.array([1, 2**40, 3, 1], np.int64),                     # range >> count: sorted
    np.array([3, 1, 2**63 + 7, 1], np.uint64),                # beyond int64: sorted
    np.array([9, 3, 9, 4], np.uint16),                        # other integer dtypes
    np.array([-(2**31), 2**31 - 1, 0], np.int32),             # int32 extremes, sorted
    np.random.default_rng(1).integers(0, 2_000, 10_000),      # dense, many repeats
])
def test_encode_equals_numpy_unique(labels):
    from lorank.data.ratings import _encode

    codes, uniq = _encode(labels, "users")
    ref_codes, ref_uniq = encode_reference(labels)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(uniq, ref_uniq)
    assert uniq.dtype == labels.dtype


def test_lookup_table_is_used_only_for_bounded_ranges(monkeypatch):
    from lorank.data import ratings as rt

    seen = []
    real = rt._sparse.lookup_codes
    monkeypatch.setattr(rt._sparse, "lookup_codes", lambda *a: seen.append(1) or real(*a))
    rt._encode(np.array([-5, 2, 2, 9]), "users")              # range 15 < 4 * 4
    assert seen == [1]
    rt._encode(np.array([0, 16, 3, 3]), "users")              # range 17 >= 16: np.unique
    assert seen == [1]


def _sort_grouped_reference(indptr, labels, lo, table, values):
    """Rows table[labels - lo] stably sorted within each column, with the values;
    the first column with a repeated row, or -1."""
    cols = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    rows = table[labels - lo]
    order = np.lexsort((rows, cols))  # lexsort is stable
    rows, cols = rows[order], cols[order]
    same = np.flatnonzero((rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1]))
    return rows, values[order], int(cols[same[0]]) if same.size else -1


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("out", [np.int32, np.int64])
@pytest.mark.parametrize("payload", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("m", [1, 40, 5000, 3_000_000])  # 1, 1 and 3 radix passes
def test_sort_grouped_against_numpy(index, out, payload, m):
    from lorank._kernels import _sparse

    rng = np.random.default_rng(m)
    sizes = rng.choice([0, 1, 5, 32, 33, 400, 3000], 40)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    nnz = int(indptr[-1])
    lo = -7
    labels = (rng.integers(0, m, nnz) + lo).astype(index)
    table = rng.permutation(m).astype(out)  # any label -> row map
    values = rng.integers(0, 1000, nnz).astype(payload)
    ref = _sort_grouped_reference(indptr, labels, lo, table, values)
    for n_threads in (1, 2, 3):
        rows, vals = np.empty(nnz, out), np.empty(nnz, payload)
        first = _sparse.sort_grouped(indptr, labels, lo, table, values, rows, vals, n_threads)
        np.testing.assert_array_equal(rows, ref[0])
        np.testing.assert_array_equal(vals, ref[1])
        assert first == ref[2]


@pytest.mark.parametrize("times", [False, True])
@pytest.mark.parametrize("duplicates", ["error", "mean", "last"])
@pytest.mark.parametrize("repeats", [False, True])
def test_from_labels_grouped_path_equals_general_path(monkeypatch, times, duplicates, repeats):
    """Items grouped (as a Netflix file) take the sort-within-columns path: the same
    Ratings, labels, times and errors as the general path."""
    from lorank.data import ratings as rt

    rng = np.random.default_rng(5)
    nnz = 20_000
    items = np.sort(rng.integers(1, 300, nnz)).astype(np.int32)
    pairs = rng.choice(2_000 * 300, nnz, replace=repeats)
    users = (pairs % 2_000 * 3 + 10).astype(np.int64)
    if not repeats:  # distinct users within each item, in random order
        perm = rng.permutation(nnz)
        items = (perm // 5_000 * 7).astype(np.int32)
        order = np.argsort(items, kind="stable")
        users, items = (perm % 5_000 + 10).astype(np.int64)[order], items[order]
    values = rng.random(nnz).astype(np.float32)
    stamps = rng.integers(0, 10**9, nnz) if times else None

    def build():
        try:
            return Ratings.from_labels(users, items, values, times=stamps, duplicates=duplicates)
        except ValueError as exc:
            return str(exc)

    fast = build()
    ids = [users, items]
    assert (rt._from_grouped(ids, values, stamps, None) is None) == repeats
    assert len(ids) == (2 if repeats else 0)  # emptied once sorted in, else untouched
    monkeypatch.setattr(rt, "_from_grouped", lambda *a: None)
    slow = build()
    if isinstance(slow, str):
        assert fast == slow
        return
    for a, b in [(fast.csr, slow.csr), (fast.csc, slow.csc)]:
        for x, y in zip(a, b):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    pairs = [(fast.row_labels, slow.row_labels), (fast.col_labels, slow.col_labels)]
    for x, y in pairs + ([(fast.times, slow.times)] if times else []):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert fast.shape == slow.shape and (fast.times is None) == (not times)


def test_first_descent():
    from lorank._kernels import _sparse

    for keys in ([], [3], [1, 1, 2, 5], [1, 2, 0, 3], [4, 3], [0, 0, 0, -1]):
        for dt in (np.int32, np.int64):
            a = np.array(keys, dt)
            down = np.flatnonzero(np.diff(a) < 0)
            assert _sparse.first_descent(a) == (int(down[0]) + 1 if down.size else -1)


def test_split_bits_rule():
    from lorank._kernels import _sparse

    big = _sparse.TWO_LEVEL_ENTRIES
    assert _sparse.split_bits(1, big) == _sparse.split_bits(_sparse.TWO_LEVEL_BUCKETS, big) == 0
    assert _sparse.split_bits(17770, big) == 8      # 70 coarse buckets of 256
    assert _sparse.split_bits(17770, big - 1) == 0  # in cache: one level
    assert _sparse.split_bits(480189, 10**6) == 10
    assert _sparse.split_bits(10**9, big) == 11


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [np.int32, np.int64])
@pytest.mark.parametrize("lo_bits", [0, 1, 3, 7, 12])
@pytest.mark.parametrize("n_chunks", [1, 2, 5])
def test_two_level_sorts_equal_the_stable_order(dtype, out, lo_bits, n_chunks):
    """Every split of the counting sorts (one level, or coarse by the high bits
    then fine by lo_bits) gives numpy's stable order, whatever the chunks."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(lo_bits)
    n_major, n_minor, nnz = 301, 1000, 4000
    major = rng.integers(0, n_major, nnz).astype(np.int64)
    minor = rng.integers(0, n_minor, nnz).astype(np.int32)
    values = rng.standard_normal(nnz).astype(dtype)
    indptr = np.empty(n_major + 1, np.int64)
    o_minor, o_values = np.empty(nnz, out), np.empty(nnz, dtype)
    _sparse.coo_compress(major, minor, values, indptr, o_minor, o_values, n_chunks, lo_bits)
    order = stable_order_reference(major)
    np.testing.assert_array_equal(indptr, np.r_[0, np.cumsum(np.bincount(major, minlength=n_major))])
    np.testing.assert_array_equal(o_minor, minor[order])
    np.testing.assert_array_equal(o_values, values[order])
    t_indptr = np.empty(n_minor + 1, np.int64)
    t_major, t_values = np.empty(nnz, out), np.empty(nnz, dtype)
    _sparse.compressed_transpose(indptr, o_minor, o_values, t_indptr, t_major, t_values,
                                 n_chunks, lo_bits)
    again = order[stable_order_reference(o_minor)]
    np.testing.assert_array_equal(t_indptr, np.r_[0, np.cumsum(np.bincount(minor, minlength=n_minor))])
    np.testing.assert_array_equal(t_major, major[again])
    np.testing.assert_array_equal(t_values, values[again])


def test_two_level_sorts_of_nothing_and_bad_split():
    from lorank._kernels import _sparse

    e32, e64 = np.empty(0, np.int32), np.empty(0, np.float64)
    indptr = np.full(6, -1, np.int64)
    _sparse.coo_compress(e32, e32, e64, indptr, e32.copy(), e64.copy(), 1, 3)
    np.testing.assert_array_equal(indptr, 0)
    with pytest.raises(ValueError, match="lo_bits must be in 0..12, got 13"):
        _sparse.coo_compress(e32, e32, e64, indptr, e32.copy(), e64.copy(), 1, 13)


def _orders(rows, cols):
    """Input orders: random, grouped by column, sorted by (column, row)."""
    return {"random": np.arange(len(rows)), "by column": np.argsort(cols, kind="stable"),
            "by column and row": np.lexsort((rows, cols))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("duplicates", ["mean", "last"])
@pytest.mark.parametrize("two_level", [False, True])
def test_construction_equals_the_reference_in_every_input_order(dtype, unique, duplicates,
                                                                 two_level, monkeypatch):
    """Input grouped by column skips the first sort, and input sorted by
    (column, row) is the CSC itself: the same Ratings as from any order, with
    the column sorts in one level or two."""
    from lorank._kernels import _sparse

    if two_level:
        monkeypatch.setattr(_sparse, "TWO_LEVEL_ENTRIES", 0)
    m, n = 40, 2100  # more columns than TWO_LEVEL_BUCKETS
    assert (_sparse.split_bits(n, 3000) > 0) == two_level
    rows, cols, values = random_coo(m, n, 3000, dtype, seed=3, unique=unique)
    for name, o in _orders(rows, cols).items():
        r, c, v = rows[o], cols[o], values[o]
        R = Ratings(r, c, v, (m, n), duplicates=duplicates)
        csr, csc = coo_build_reference(r, c, v, (m, n), duplicates)
        tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-12)
        for view, ref in ((R.csr, csr), (R.csc, csc)):
            np.testing.assert_array_equal(view.indptr, ref[0], err_msg=name)
            np.testing.assert_array_equal(view.indices, ref[1], err_msg=name)
            np.testing.assert_allclose(view.values, ref[2], **tol, err_msg=name)
        assert R.dtype == dtype


def test_sorted_input_is_copied_not_kept():
    """The CSC of input sorted by (column, row) is the input: copies of it, so
    the caller changing its arrays changes nothing."""
    rows, cols = np.array([0, 2, 1, 0], np.int32), np.array([0, 0, 1, 2], np.int32)
    values = np.array([1.0, 2.0, 3.0, 4.0])
    R = Ratings(rows, cols, values)
    np.testing.assert_array_equal(R.csc.indices, [0, 2, 1, 0])
    rows[:] = 9
    values[:] = 0
    np.testing.assert_array_equal(R.csc.indices, [0, 2, 1, 0])
    np.testing.assert_array_equal(R.csc.values, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(R.csr.values, [1.0, 4.0, 3.0, 2.0])


@pytest.mark.parametrize("order", ["random", "by column", "by column and row"])
def test_times_and_labels_in_every_input_order(order):
    rng = np.random.default_rng(8)
    rows, cols, values = random_coo(30, 2500, 900, np.float32, seed=5)
    o = _orders(rows, cols)[order]
    users, items, vals = rows[o] * 7 - 40, cols[o] + 10**6, values[o]
    stamp = rng.permutation(900)
    L = Ratings.from_labels(users, items, vals, times=stamp)
    np.testing.assert_array_equal(L.row_labels, np.unique(users))
    np.testing.assert_array_equal(L.col_labels, np.unique(items))
    r, c, v = L.coo()
    got = {(int(L.row_labels[i]), int(L.col_labels[j])): (float(x), int(t))
           for i, j, x, t in zip(r, c, v, L.times)}
    assert got == {(int(a), int(b)): (float(x), int(t))
                   for a, b, x, t in zip(users, items, vals, stamp)}


def test_duplicate_error_names_the_labels_in_sorted_input():
    with pytest.raises(ValueError, match=r"duplicate entry \(5, 20\) \(user, item\)"):
        Ratings.from_labels([5, 5, 6], [20, 20, 21], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"duplicate entry \(0, 0\); pass duplicates="):
        Ratings([0, 0], [0, 0], [1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_take_against_numpy(dtype, index, n_threads):
    from lorank._kernels import _sparse

    rng = np.random.default_rng(2)
    src = (rng.standard_normal(500) * 1000).astype(dtype)
    idx = rng.integers(0, 500, 2000).astype(index)
    out = np.empty(2000, dtype)
    _sparse.take(src, idx, out, n_threads)
    np.testing.assert_array_equal(out, src[idx])


@pytest.mark.parametrize("stamp", [
    np.array(["2005-01-03", "2001-12-31", "NaT", "1999-07-01"], "M8[D]")[[0, 1, 3, 3]],
    np.array([1.5, -0.0, 2.0**60, 3.25], np.float32),
    np.array([7, -9, 2**40, 0], np.int64),
    np.array([3, 1, 2, 0], np.int16),                  # moved by numpy, not the kernel
])
def test_times_keep_their_dtype_and_bits(stamp):
    R = Ratings([2, 0, 1, 1], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], times=stamp)
    assert R.times.dtype == stamp.dtype
    np.testing.assert_array_equal(R.times.view(f"u{stamp.itemsize}"),
                                  stamp[[1, 2, 3, 0]].view(f"u{stamp.itemsize}"))
    np.testing.assert_array_equal(R.T.times.view(f"u{stamp.itemsize}"),
                                  stamp[[2, 0, 1, 3]].view(f"u{stamp.itemsize}"))
