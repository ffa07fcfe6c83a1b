"""lorank.svd, lorank.randomized_svd and lorank.numerical_rank."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import lorank

DTYPES = [np.float32, np.float64]
# Relative tolerance for comparisons of computed results, per dtype.
RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def sparse_low_rank_plus_noise(m, n, rank, nnz, noise, seed):
    """A sparse m x n matrix: ``rank`` sparse rank-one blocks ``s_k u_k v_kᵀ``
    (random row/column supports, unit u_k, v_k, scales from 2 down to 1) holding
    half of ``nnz``, plus Gaussian noise of standard deviation ``noise`` at
    ``nnz / 2`` random positions. Exactly rank ``rank`` without the noise."""
    rng = np.random.default_rng(seed)
    per_block = nnz // (2 * rank)
    a = max(1, int(np.sqrt(per_block * m / n)))
    b = max(1, per_block // a)
    rows, cols, vals = [], [], []
    for k in range(rank):
        r = rng.choice(m, a, replace=False)
        c = rng.choice(n, b, replace=False)
        u = rng.standard_normal(a)
        v = rng.standard_normal(b)
        scale = 2.0 - k / max(rank - 1, 1)
        rows.append(np.repeat(r, b))
        cols.append(np.tile(c, a))
        vals.append(scale * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v)).ravel())
    t = nnz - sum(x.size for x in rows)
    rows.append(rng.integers(0, m, t))
    cols.append(rng.integers(0, n, t))
    vals.append(noise * rng.standard_normal(t))
    coo = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
    return sp.csr_array(coo, shape=(m, n))


@pytest.fixture(scope="module")
def seed_sparse():
    """The seed's 2,000 x 1,000 sparse matrix of rank 20 plus noise."""
    return sparse_low_rank_plus_noise(2000, 1000, 20, 100_000, 0.01, seed=0)


@pytest.fixture(scope="module")
def seed_sparse_svds(seed_sparse):
    s = spla.svds(seed_sparse, k=20, return_singular_vectors=False, random_state=0)
    return np.sort(s)[::-1]


def trig_grid():
    x = np.linspace(0, 1, 100)
    return np.sin(200 * x[:, None] + 75 * x) + np.sin(50 * x[:, None]) + np.cos(100 * x)


# --- the seed's claims -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_seed_rank5_reconstructs_and_has_five_singular_values(dtype):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))).astype(dtype)
    U, s, Vt = lorank.svd(X)
    assert U.dtype == s.dtype == Vt.dtype == dtype
    assert (U.shape, s.shape, Vt.shape) == ((10, 10), (10,), (10, 20))
    np.testing.assert_allclose(U * s @ Vt, X, rtol=0, atol=RTOL[dtype] * np.abs(X).max())
    # The seed's threshold 1e-10 * s[0] is below float32 rounding (~1e-7 * s[0]):
    # in float32 the same claim holds at the dtype's own numerical-rank threshold.
    rel = 1e-10 if dtype == np.float64 else 20 * np.finfo(dtype).eps
    assert np.count_nonzero(s > rel * s[0]) == 5


@pytest.mark.parametrize("dtype", DTYPES)
def test_seed_trig_function_has_rank_4(dtype):
    F = trig_grid().astype(dtype)
    assert lorank.numerical_rank(F) == 4
    assert lorank.numerical_rank(lorank.svd(F)[1]) == 4
    assert lorank.numerical_rank(lorank.svd(F)[1], shape=F.shape) == 4


def test_seed_trig_function_has_rank_4_at_absolute_tol_1e12():
    # An absolute 1e-12 is only meaningful in float64.
    assert lorank.numerical_rank(trig_grid(), tol=1e-12) == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_seed_randomized_svd_matches_svds(dtype, seed_sparse, seed_sparse_svds):
    tol = {np.float32: 1e-4, np.float64: 1e-6}[dtype]
    A = seed_sparse.astype(dtype)
    U, s, Vt = lorank.randomized_svd(A, 20, random_state=0)
    assert U.dtype == s.dtype == Vt.dtype == dtype
    np.testing.assert_allclose(s, seed_sparse_svds, rtol=tol)
    # The factors are an SVD too: orthonormal, and A V = U diag(s).
    np.testing.assert_allclose(U.T @ U, np.eye(20), atol=10 * RTOL[dtype])
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(20), atol=10 * RTOL[dtype])
    np.testing.assert_allclose(A @ Vt.T, U * s, atol=10 * tol * s[0])


# --- svd ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(30, 12), (12, 30)])
def test_svd_truncated_matches_numpy(dtype, shape):
    X = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    U, s, Vt = lorank.svd(X, rank=4)
    Ur, sr, Vtr = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    assert (U.shape, s.shape, Vt.shape) == ((shape[0], 4), (4,), (4, shape[1]))
    assert U.flags.c_contiguous and Vt.flags.c_contiguous
    np.testing.assert_allclose(s, sr[:4], rtol=RTOL[dtype])
    np.testing.assert_allclose(U * s @ Vt, Ur[:, :4] * sr[:4] @ Vtr[:4], atol=10 * RTOL[dtype])
    # The vectors themselves, up to one sign per pair (distinct singular values).
    sign = np.sign(np.sum(U * Ur[:, :4], axis=0))
    np.testing.assert_allclose(U * sign, Ur[:, :4], atol=10 * RTOL[dtype])
    np.testing.assert_allclose(Vt * sign[:, None], Vtr[:4], atol=10 * RTOL[dtype])


def test_svd_integer_input_is_float64():
    U, s, Vt = lorank.svd(np.arange(12).reshape(3, 4))
    assert s.dtype == np.float64


# --- numerical_rank ----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_numerical_rank_default_tol_is_numpy_matrix_rank(dtype):
    rng = np.random.default_rng(2)
    for r in (1, 3, 7):
        X = (rng.standard_normal((40, r)) @ rng.standard_normal((r, 25))).astype(dtype)
        assert lorank.numerical_rank(X) == np.linalg.matrix_rank(X) == r


def test_numerical_rank_absolute_tol_counts_strictly_above():
    s = np.array([3.0, 2.0, 1.0, 0.0])
    assert [lorank.numerical_rank(s, tol=t) for t in (0.0, 1.0, 1.5, 3.0)] == [3, 2, 2, 0]
    assert lorank.numerical_rank(np.zeros((3, 3))) == 0


# --- randomized_svd: operands, dtypes, determinism -------------------------------


def _operands(dtype):
    """The same 300 x 200 matrix of rank 6 as every operand kind randomized_svd takes."""
    rng = np.random.default_rng(3)
    L = rng.standard_normal((300, 6)).astype(dtype)
    R = rng.standard_normal((200, 6)).astype(dtype)
    dense = L @ R.T
    return dense, {
        "ndarray": dense,
        "csr_matrix": sp.csr_matrix(dense),
        "csc_matrix": sp.csc_matrix(dense),
        "coo_matrix": sp.coo_matrix(dense),
        "csr_array": sp.csr_array(dense),
        "csc_array": sp.csc_array(dense),
        "coo_array": sp.coo_array(dense),
        "LinearOperator": spla.aslinearoperator(dense),
        "LowRank": lorank.LowRank(L, R),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kind",
    ["ndarray", "csr_matrix", "csc_matrix", "coo_matrix", "csr_array", "csc_array",
     "coo_array", "LinearOperator", "LowRank"],
)
def test_randomized_svd_accepts_every_operand_kind(dtype, kind):
    dense, ops = _operands(dtype)
    U, s, Vt = lorank.randomized_svd(ops[kind], 6, random_state=0)
    assert U.dtype == s.dtype == Vt.dtype == dtype
    assert (U.shape, s.shape, Vt.shape) == ((300, 6), (6,), (6, 200))
    ref = np.linalg.svd(dense.astype(np.float64), compute_uv=False)[:6]
    np.testing.assert_allclose(s, ref, rtol=RTOL[dtype])
    np.testing.assert_allclose(U * s @ Vt, dense, atol=RTOL[dtype] * ref[0])


def test_randomized_svd_integer_sparse_is_float64():
    A = sp.random_array((50, 40), density=0.2, rng=0, format="csr", dtype=np.float64)
    A = (A * 10).astype(np.int64)
    assert lorank.randomized_svd(A, 3, random_state=0)[1].dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
def test_randomized_svd_is_deterministic_for_a_random_state(dtype, seed_sparse):
    A = seed_sparse.astype(dtype)
    a = lorank.randomized_svd(A, 5, random_state=7)
    b = lorank.randomized_svd(A, 5, random_state=7)
    c = lorank.randomized_svd(A, 5, random_state=np.random.default_rng(7))
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_randomized_svd_bitwise_identical_for_1_and_2_threads(dtype, seed_sparse):
    A = seed_sparse.astype(dtype)
    one = lorank.randomized_svd(A, 20, random_state=0, n_threads=1)
    two = lorank.randomized_svd(A, 20, random_state=0, n_threads=2)
    for x, y in zip(one, two):
        np.testing.assert_array_equal(x, y)


def test_randomized_svd_leaves_the_callers_sparse_matrix_untouched():
    # Regression: the CSR conversion used to sum duplicates in place.
    A = sp.csr_array(
        (np.array([1.0, 2.0, 3.0]), np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(2, 3)
    )
    before = (A.data.copy(), A.indices.copy(), A.indptr.copy())
    s = lorank.randomized_svd(A, 1, random_state=0)[1]
    np.testing.assert_allclose(s, [np.hypot(2.0, 4.0)])
    for x, y in zip(before, (A.data, A.indices, A.indptr)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_matmat_kernel_matches_numpy(dtype):
    """The compiled S @ M against a plain-numpy loop over rows, with duplicates."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(4)
    m, n, nnz = 700, 90, 4000
    rows = np.sort(rng.integers(0, m, nnz))
    cols = rng.integers(0, n, nnz).astype(np.int32)  # duplicates on purpose
    data = rng.standard_normal(nnz).astype(dtype)
    indptr = np.searchsorted(rows, np.arange(m + 1)).astype(np.int64)
    M = rng.standard_normal((n, 7)).astype(dtype)
    ref = np.zeros((m, 7))
    np.add.at(ref, rows, data[:, None].astype(np.float64) * M[cols])
    outs = []
    for n_threads in (1, 2):
        out = np.empty((m, 7), dtype=dtype)
        _sparse.csr_matmat(indptr, cols, data, M, out, n_threads)
        np.testing.assert_allclose(out, ref, rtol=RTOL[dtype], atol=RTOL[dtype])
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_rmatmat_kernel_matches_numpy_and_ignores_the_thread_count(dtype):
    """The compiled Sᵀ @ Q against numpy; for a given block count the result is
    bitwise the same on 1, 2, 3 and 8 threads, and more than one thread ran."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(9)
    m, n, nnz = 600, 80, 5000
    rows = np.sort(rng.integers(0, m, nnz))
    rows[:40] = 0  # a heavy first row, and empty rows at the end
    rows = np.minimum(rows, m - 20)
    cols = rng.integers(0, n, nnz).astype(np.int32)  # duplicates, unsorted within rows
    data = rng.standard_normal(nnz).astype(dtype)
    indptr = np.searchsorted(rows, np.arange(m + 1)).astype(np.int64)
    Q = rng.standard_normal((m, 6)).astype(dtype)
    ref = np.zeros((n, 6))
    np.add.at(ref, cols, data[:, None].astype(np.float64) * Q[rows])
    for n_blocks in (1, 2, 5, 8):
        first = None
        for n_threads in (1, 2, 3, 8):
            out = np.full((n, 6), np.nan, dtype=dtype)
            _sparse.csr_rmatmat(indptr, cols, data, Q, out, n_blocks, n_threads)
            if n_blocks > 1 and n_threads > 1 and lorank.openmp_enabled():
                assert _sparse.last_team_size() > 1
            np.testing.assert_allclose(out, ref, rtol=RTOL[dtype], atol=RTOL[dtype])
            if first is None:
                first = out
            np.testing.assert_array_equal(out, first)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 5, 8, 13])
def test_csr_gram_kernel_matches_numpy_and_ignores_the_thread_count(dtype, n_cols, simd):
    """W = S Q and Y = Sᵀ W in one pass, against numpy, bitwise the same on
    1, 2, 3 and 8 threads for a given block count, for int32 and int64 indices
    and in every vector width (columns by chunks of eight: 13 = 8 + 5)."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(11)
    m, n, nnz = 500, 70, 4000
    rows = np.sort(rng.integers(0, m - 10, nnz))  # the last rows empty
    cols = rng.integers(0, n, nnz).astype(np.int32)
    data = rng.standard_normal(nnz).astype(dtype)
    indptr = np.searchsorted(rows, np.arange(m + 1)).astype(np.int64)
    Q = rng.standard_normal((n, n_cols)).astype(dtype)
    S = sp.csr_array((data.astype(np.float64), cols, indptr), shape=(m, n))
    W_ref = S @ Q.astype(np.float64)
    Y_ref = S.T @ W_ref
    for n_blocks in (1, 3, 8):
        first = None
        for n_threads, index in [(1, cols), (2, cols), (3, cols.astype(np.int64)), (8, cols)]:
            W = np.full((m, n_cols), np.nan, dtype=dtype)
            Y = np.full((n, n_cols), np.nan, dtype=dtype)
            _sparse.csr_gram(indptr, index, data, Q, W, Y, n_blocks, n_threads)
            if n_blocks > 1 and n_threads > 1 and lorank.openmp_enabled():
                assert _sparse.last_team_size() > 1
            np.testing.assert_allclose(W, W_ref, rtol=RTOL[dtype], atol=10 * RTOL[dtype])
            np.testing.assert_allclose(Y, Y_ref, rtol=RTOL[dtype],
                                       atol=10 * RTOL[dtype] * np.abs(Y_ref).max())
            if first is None:
                first = (W, Y)
            np.testing.assert_array_equal(W, first[0])
            np.testing.assert_array_equal(Y, first[1])
    with pytest.raises(ValueError, match="Q and Y rows"):
        _sparse.csr_gram(indptr, cols, data, Q, W, np.empty((n + 1, n_cols), dtype), 2, 1)
    with pytest.raises(ValueError, match="n_blocks must be >= 1"):
        _sparse.csr_gram(indptr, cols, data, Q, W, Y, 0, 1)


def test_csr_gram_variants_agree_bitwise():
    """Every vector width gives bitwise the same W and Y (no fused multiply-adds)."""
    from lorank._kernels import _sparse

    rng = np.random.default_rng(12)
    S = sp.random(300, 90, density=0.1, random_state=3, format="csr")
    for dtype in DTYPES:
        Q = rng.standard_normal((90, 11)).astype(dtype)
        outs = []
        for width in (16, 32, 64):
            if width > _sparse.simd_width():
                continue
            previous = _sparse._set_simd_width(width)
            try:
                W, Y = np.empty((300, 11), dtype), np.empty((90, 11), dtype)
                _sparse.csr_gram(S.indptr.astype(np.int64), S.indices, S.data.astype(dtype),
                                 Q, W, Y, 2, 2)
            finally:
                _sparse._set_simd_width(previous)
            outs.append((W, Y))
        for W, Y in outs[1:]:
            np.testing.assert_array_equal(W, outs[0][0])
            np.testing.assert_array_equal(Y, outs[0][1])


def test_rmatmat_blocks_depend_on_sizes_not_threads():
    from lorank._kernels import _sparse

    assert _sparse.rmatmat_blocks(1000, 10, 5, 8) == 1  # too few nonzeros to split
    assert _sparse.rmatmat_blocks(5_000_000, 20_000, 30, 8) == _sparse.RMATMAT_MAX_BLOCKS
    # partial sums bounded in memory: a wide output gets fewer blocks
    assert _sparse.rmatmat_blocks(100_000_000, 10_000_000, 30, 8) == 1


# --- bad input -----------------------------------------------------------------

_A = np.random.default_rng(5).standard_normal((6, 4))


def _with(value, at=(1, 2)):
    X = _A.copy()
    X[at] = value
    return X


def _sparse_with(value):
    S = sp.csr_array(_A)
    S.data[5] = value
    return S


BAD = [
    # (call, exception, message pattern)
    (lambda: lorank.svd(np.ones(4)), ValueError, r"X must be 2-D, got an array with shape \(4,\)"),
    (lambda: lorank.svd(np.ones((2, 2, 2))), ValueError, r"X must be 2-D.*\(2, 2, 2\)"),
    (lambda: lorank.svd(np.ones((0, 3))), ValueError, r"X is empty \(shape \(0, 3\)\)"),
    (lambda: lorank.svd(_with(np.nan)), ValueError, r"X contains nan at \(1, 2\)"),
    (lambda: lorank.svd(_with(np.inf)), ValueError, r"X contains inf at \(1, 2\)"),
    (lambda: lorank.svd(_A, rank=0), ValueError, r"rank must be positive, got 0"),
    (lambda: lorank.svd(_A, rank=-2), ValueError, r"rank must be positive, got -2"),
    (lambda: lorank.svd(_A, rank=5), ValueError, r"rank=5 exceeds min\(m, n\) = 4"),
    (lambda: lorank.svd(_A, rank=2.0), TypeError, r"rank must be an integer, got 2.0"),
    (lambda: lorank.svd(_A.astype(complex)), TypeError, r"X has unsupported dtype complex128"),
    (lambda: lorank.svd(_A.astype(object)), TypeError, r"X has unsupported dtype object"),
    (lambda: lorank.svd([["a", "b"]]), TypeError, r"X has unsupported dtype <U1"),
    (lambda: lorank.svd(sp.csr_array(_A)), ValueError, r'rank is required for method="krylov"'),
    (lambda: lorank.svd(sp.csr_array(_A), 2, method="gesdd"), TypeError, r"X must be a dense array here, got csr_array"),
    (lambda: lorank.numerical_rank(np.ones((2, 2, 2))), ValueError, r"X must be a 2-D matrix or 1-D.*\(2, 2, 2\)"),
    (lambda: lorank.numerical_rank(np.ones((0, 3))), ValueError, r"X is empty \(shape \(0, 3\)\)"),
    (lambda: lorank.numerical_rank(np.ones(0)), ValueError, r"X is empty"),
    (lambda: lorank.numerical_rank(_with(np.nan)), ValueError, r"X contains nan at \(1, 2\)"),
    (lambda: lorank.numerical_rank(np.array([2.0, np.inf])), ValueError, r"X contains inf at index 1"),
    (lambda: lorank.numerical_rank(np.array([2.0, -1.0])), ValueError, r"X contains -1.0 at index 1"),
    (lambda: lorank.numerical_rank(np.ones(2, complex)), TypeError, r"X has unsupported dtype complex128"),
    (lambda: lorank.numerical_rank(_A.astype(object)), TypeError, r"X has unsupported dtype object"),
    (lambda: lorank.numerical_rank(_A, tol=-1.0), ValueError, r"tol must be a finite number >= 0, got -1.0"),
    (lambda: lorank.numerical_rank(_A, tol=np.nan), ValueError, r"tol must be a finite number >= 0, got nan"),
    (lambda: lorank.numerical_rank(_A, tol="1e-12"), TypeError, r"tol must be a real number or None, got '1e-12'"),
    (lambda: lorank.numerical_rank(_A, shape=(6, 4)), ValueError, r"shape is only for singular-value input"),
    (lambda: lorank.randomized_svd(np.ones(4), 1), ValueError, r"A must be 2-D, got an array with shape \(4,\)"),
    (lambda: lorank.randomized_svd(np.ones((0, 4)), 1), ValueError, r"A is empty \(shape \(0, 4\)\)"),
    (lambda: lorank.randomized_svd(sp.csr_array((0, 4)), 1), ValueError, r"A must be a non-empty 2-D operator, got shape \(0, 4\)"),
    (lambda: lorank.randomized_svd(_with(np.nan), 1), ValueError, r"A contains nan at \(1, 2\)"),
    (lambda: lorank.randomized_svd(_sparse_with(np.inf), 1), ValueError, r"A contains inf at \(1, 1\)"),
    (lambda: lorank.randomized_svd(sp.csc_array(_sparse_with(np.nan)), 1), ValueError, r"A contains nan at \(1, 1\)"),
    (lambda: lorank.randomized_svd(_A, 0), ValueError, r"rank must be positive, got 0"),
    (lambda: lorank.randomized_svd(sp.csr_array(_A), -1), ValueError, r"rank must be positive, got -1"),
    (lambda: lorank.randomized_svd(_A, 5), ValueError, r"rank=5 exceeds min\(m, n\) = 4"),
    (lambda: lorank.randomized_svd(spla.aslinearoperator(_A), 5), ValueError, r"rank=5 exceeds min\(m, n\) = 4"),
    (lambda: lorank.randomized_svd(_A, None), TypeError, r"rank must be an integer, got None"),
    (lambda: lorank.randomized_svd(_A.astype(complex), 1), TypeError, r"A has unsupported dtype complex128"),
    (lambda: lorank.randomized_svd(sp.csr_array(_A.astype(complex)), 1), TypeError, r"A has unsupported dtype complex128"),
    (lambda: lorank.randomized_svd(spla.aslinearoperator(_A.astype(complex)), 1), TypeError, r"A has unsupported dtype complex128"),
    (lambda: lorank.randomized_svd(_A.astype(object), 1), TypeError, r"A has unsupported dtype object"),
    (lambda: lorank.randomized_svd(_A.astype(str), 1), TypeError, r"A has unsupported dtype <U"),
    (lambda: lorank.randomized_svd(_A, 2, n_oversamples=-1), ValueError, r"n_oversamples must be >= 0, got -1"),
    (lambda: lorank.randomized_svd(_A, 2, n_iter=-1), ValueError, r"n_iter must be >= 0, got -1"),
    (lambda: lorank.randomized_svd(_A, 2, n_iter=1.5), TypeError, r"n_iter must be an integer, got 1.5"),
    (lambda: lorank.randomized_svd(sp.csr_array(_A), 2, n_threads=0), ValueError, r"n_threads=0 is not a thread count"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[b[2][:50] for b in BAD])
def test_bad_input_raises_naming_argument_and_value(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# Regression: near the float32 limit svd returned inf singular values silently
# and randomized_svd produced NaN (scipy then said "A has a NaN entry").
@pytest.mark.parametrize("make", [np.asarray, sp.csr_array, lambda X: lorank.LowRank(X, np.eye(5, dtype=X.dtype))])
def test_overflow_near_the_float32_limit_is_a_clear_error(make):
    X = np.full((6, 5), 3e38, np.float32)
    X[0, 0] = 1
    with pytest.raises(ValueError, match=r"randomized_svd overflowed float32: .* scale A down "
                                         r"or pass it as float64"):
        lorank.randomized_svd(make(X), 2, random_state=0)
    if make is np.asarray:
        with pytest.raises(ValueError, match=r"svd overflowed float32: .* pass it as float64"):
            lorank.svd(X)
        # In float64 the same matrix is fine, and its largest singular value is
        # beyond float32's range: what made the float32 result infinite.
        s = lorank.svd(X.astype(np.float64))[1]
        assert np.isfinite(s).all() and s[0] > np.finfo(np.float32).max
        assert np.isfinite(lorank.randomized_svd(X.astype(np.float64), 2, random_state=0)[1]).all()


def test_overflow_in_float64_names_only_scaling():
    X = np.full((4, 3), 1e308)
    with pytest.raises(ValueError, match=r"svd overflowed float64: .*; scale X down$"):
        lorank.svd(X)
