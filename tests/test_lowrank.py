"""lorank.LowRank and lorank.compress."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import lorank
from lorank._kernels import _sparse

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def factors(m, n, r, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, r)).astype(dtype), rng.standard_normal((n, r)).astype(dtype))


def entries_reference(left, right, rows, cols):
    """Plain numpy gather-dot, accumulated in float64."""
    return np.einsum("ij,ij->i", left[rows].astype(np.float64), right[cols].astype(np.float64))


# --- the seed's claims -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_seed_from_svd_truncated_to_true_rank_reproduces_and_entries_match(dtype):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))).astype(dtype)
    L = lorank.LowRank.from_svd(*lorank.svd(X), rank=5)
    assert (L.shape, L.rank, L.dtype) == ((10, 20), 5, dtype)
    np.testing.assert_allclose(L.to_dense(), X, atol=RTOL[dtype] * np.abs(X).max())
    rows = rng.integers(0, 10, 300)
    cols = rng.integers(0, 20, 300)
    np.testing.assert_allclose(
        L.entries(rows, cols), L.to_dense()[rows, cols], rtol=RTOL[dtype], atol=RTOL[dtype]
    )


@pytest.fixture(scope="module", params=DTYPES, ids=["float32", "float64"])
def image_svd(request):
    """SVD of a 512 x 512 image (smooth part plus an edge), computed once per dtype."""
    x = np.linspace(0, 1, 512)
    img = (np.sin(8 * x[:, None]) * np.cos(3 * x) + (x[:, None] > 0.5)).astype(request.param)
    return request.param, lorank.svd(img)


@pytest.mark.parametrize("rank, ratio", [(10, 25.6), (100, 2.56)])
def test_seed_512x512_compression_ratio(image_svd, rank, ratio):
    dtype, usv = image_svd
    L = lorank.LowRank.from_svd(*usv, rank=rank)
    assert L.rank == rank and L.dtype == dtype
    assert L.compression_ratio == ratio
    assert L.nbytes == 2 * 512 * rank * np.dtype(dtype).itemsize


# --- construction, storage -------------------------------------------------------


def test_dtype_rules_and_contiguous_storage():
    a32, b32 = factors(6, 5, 2, np.float32)
    assert lorank.LowRank(a32, b32).dtype == np.float32
    assert lorank.LowRank(a32, b32.astype(np.float64)).dtype == np.float64
    assert lorank.LowRank(np.ones((3, 2), int), np.ones((4, 2), int)).dtype == np.float64
    L = lorank.LowRank(np.asfortranarray(a32), b32[:, ::-1])
    assert L.left.flags.c_contiguous and L.right.flags.c_contiguous
    L = lorank.LowRank(a32, b32)
    assert L.left is a32 and L.right is b32  # no copy when already right


@pytest.mark.parametrize("dtype", DTYPES)
def test_nbytes_and_compression_ratio(dtype):
    L = lorank.LowRank(*factors(300, 40, 4, dtype))
    size = np.dtype(dtype).itemsize
    assert L.nbytes == (300 + 40) * 4 * size
    assert L.compression_ratio == 300 * 40 / ((300 + 40) * 4)
    assert repr(L) == f"LowRank(shape=(300, 40), rank=4, dtype={np.dtype(dtype)})"


# --- products --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_with_vectors_matrices_and_lowrank(dtype):
    L = lorank.LowRank(*factors(30, 20, 3, dtype))
    D = L.to_dense().astype(np.float64)
    rng = np.random.default_rng(1)
    tol = dict(rtol=RTOL[dtype], atol=RTOL[dtype])
    v, M = rng.standard_normal(20).astype(dtype), rng.standard_normal((20, 4)).astype(dtype)
    w, N = rng.standard_normal(30).astype(dtype), rng.standard_normal((5, 30)).astype(dtype)
    for got, ref in [(L @ v, D @ v), (L @ M, D @ M), (w @ L, w @ D), (N @ L, N @ D)]:
        assert got.dtype == dtype and got.shape == ref.shape
        np.testing.assert_allclose(got, ref, **tol)
    K = lorank.LowRank(*factors(20, 7, 2, dtype, seed=2))
    P = L @ K
    assert isinstance(P, lorank.LowRank) and P.shape == (30, 7) and P.rank == 2
    np.testing.assert_allclose(P.to_dense(), D @ K.to_dense(), **tol)
    np.testing.assert_allclose(L.T.to_dense(), D.T, **tol)
    assert L.T.shape == (20, 30) and L.T.left is L.right


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncate_is_numpys_best_rank_k(dtype):
    L = lorank.LowRank(*factors(40, 25, 6, dtype))
    D = L.to_dense().astype(np.float64)
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    for k in (1, 3, 6):
        T = L.truncate(k)
        assert T.rank == k and T.dtype == dtype
        np.testing.assert_allclose(
            T.to_dense(), U[:, :k] * s[:k] @ Vt[:k], atol=RTOL[dtype] * s[0]
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n, r", [(40, 25, 5), (25, 40, 5), (4, 30, 6)])
def test_svd_of_product_equals_numpy(dtype, m, n, r):
    L = lorank.LowRank(*factors(m, n, r, dtype, seed=3))
    D = L.to_dense().astype(np.float64)
    k = min(m, n, r)
    Ur, sr, Vtr = np.linalg.svd(D, full_matrices=False)
    U, s, Vt = L.svd()
    assert U.dtype == s.dtype == Vt.dtype == dtype
    assert U.shape == (m, k) and s.shape == (k,) and Vt.shape == (k, n)
    np.testing.assert_allclose(s, sr[:k], rtol=RTOL[dtype])
    # Singular vectors agree up to a sign per pair (the values are distinct).
    sign = np.sign(np.sum(U * Ur[:, :k], axis=0))
    atol = 10 * RTOL[dtype]
    np.testing.assert_allclose(U * sign, Ur[:, :k], atol=atol)
    np.testing.assert_allclose(Vt * sign[:, None], Vtr[:k], atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_svd_splits_singular_values_evenly(dtype):
    U, s, Vt = lorank.svd(np.random.default_rng(4).standard_normal((8, 6)).astype(dtype))
    L = lorank.LowRank.from_svd(U, s, Vt)
    np.testing.assert_allclose(L.left, U * np.sqrt(s), rtol=RTOL[dtype])
    np.testing.assert_allclose(L.right, Vt.T * np.sqrt(s), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_compress_is_best_rank_k(dtype):
    X = np.random.default_rng(5).standard_normal((30, 20)).astype(dtype)
    U, s, Vt = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(
        lorank.compress(X, 4).to_dense(), U[:, :4] * s[:4] @ Vt[:4], atol=RTOL[dtype] * s[0]
    )


# --- rank 0 --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_rank_zero_factors_are_the_zero_matrix(dtype):
    L = lorank.LowRank(np.zeros((5, 0), dtype), np.zeros((3, 0), dtype))
    assert (L.shape, L.rank, L.nbytes) == ((5, 3), 0, 0)
    assert L.compression_ratio == float("inf")
    np.testing.assert_array_equal(L.to_dense(), np.zeros((5, 3)))
    np.testing.assert_array_equal(L.entries([0, 4], [2, 1]), [0, 0])
    np.testing.assert_array_equal(L @ np.ones(3), np.zeros(5))
    U, s, Vt = L.svd()
    assert (U.shape, s.shape, Vt.shape) == ((5, 0), (0,), (0, 3))
    with pytest.raises(ValueError, match=r"k=1 exceeds min\(rank, m, n\) = 0"):
        L.truncate(1)


# --- entries -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "itype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_entries_any_integer_index_dtype(dtype, itype):
    left, right = factors(100, 90, 4, dtype)
    L = lorank.LowRank(left, right)
    rng = np.random.default_rng(6)
    rows = rng.integers(0, 100, 500).astype(itype)
    cols = rng.integers(0, 90, 500).astype(itype)
    got = L.entries(rows, cols)
    assert got.dtype == dtype and got.shape == (500,)
    np.testing.assert_allclose(got, entries_reference(left, right, rows, cols),
                               rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_entries_keeps_the_index_shape(dtype):
    left, right = factors(10, 12, 3, dtype)
    L = lorank.LowRank(left, right)
    rows = np.arange(12).reshape(3, 4) % 10
    cols = np.arange(12)[::-1].reshape(3, 4)
    got = L.entries(rows, cols)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, L.to_dense()[rows, cols], rtol=RTOL[dtype], atol=RTOL[dtype])
    assert L.entries([], []).shape == (0,)
    assert L.entries(np.empty((0, 2), int), np.empty((0, 2), int)).shape == (0, 2)
    assert L.entries(3, 5).shape == ()


@pytest.mark.parametrize("dtype", DTYPES)
def test_entries_bitwise_equal_across_thread_counts(dtype):
    left, right = factors(2000, 1500, 10, dtype)
    L = lorank.LowRank(left, right)
    rng = np.random.default_rng(7)
    rows, cols = rng.integers(0, 2000, 50_000), rng.integers(0, 1500, 50_000)
    one = L.entries(rows, cols, n_threads=1)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(L.entries(rows, cols, n_threads=n_threads), one)
    np.testing.assert_allclose(one, entries_reference(left, right, rows, cols),
                               rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_dot_kernel_matches_numpy(dtype):
    left, right = factors(50, 60, 7, dtype)
    rng = np.random.default_rng(8)
    for itype in (np.int32, np.int64):
        rows = rng.integers(0, 50, 10_000).astype(itype)
        cols = rng.integers(0, 60, 10_000).astype(itype)
        out = np.empty(10_000, dtype)
        _sparse.gather_dot(left, right, rows, cols, out, 2)
        np.testing.assert_allclose(out, entries_reference(left, right, rows, cols),
                                   rtol=RTOL[dtype], atol=RTOL[dtype])


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 30), n=st.integers(1, 30), r=st.integers(0, 12),
    size=st.integers(0, 200), f32=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_entries_equal_dense_for_random_shapes(m, n, r, size, f32, seed):
    dtype = np.float32 if f32 else np.float64
    left, right = factors(m, n, r, dtype, seed=seed)
    L = lorank.LowRank(left, right)
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, m, size), rng.integers(0, n, size)
    np.testing.assert_allclose(L.entries(rows, cols, n_threads=2), L.to_dense()[rows, cols],
                               rtol=RTOL[dtype], atol=RTOL[dtype])


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 20), n=st.integers(1, 20), r=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_svd_reconstructs_the_product_for_random_shapes(m, n, r, seed):
    L = lorank.LowRank(*factors(m, n, r, np.float64, seed=seed))
    U, s, Vt = L.svd()
    assert np.all(np.diff(s) <= 0) and np.all(s >= 0)
    np.testing.assert_allclose(U * s @ Vt, L.to_dense(), atol=1e-10 * max(1.0, s[0]))


# --- bad input ---------------------------------------------------------------------

_L = lorank.LowRank(*factors(30, 20, 3, np.float64))


def _nan_right():
    right = np.ones((4, 2))
    right[3, 1] = np.nan
    return right


BAD = [
    (lambda: lorank.LowRank(np.ones(3), np.ones((4, 3))), ValueError, r"left must be 2-D, got an array with shape \(3,\)"),
    (lambda: lorank.LowRank(np.ones((3, 2)), np.ones((4, 2, 1))), ValueError, r"right must be 2-D.*\(4, 2, 1\)"),
    (lambda: lorank.LowRank(np.ones((0, 2)), np.ones((4, 2))), ValueError, r"left is empty \(shape \(0, 2\)\)"),
    (lambda: lorank.LowRank(np.ones((3, 2)), np.ones((0, 2))), ValueError, r"right is empty \(shape \(0, 2\)\)"),
    (lambda: lorank.LowRank(np.ones((3, 2)), _nan_right()), ValueError, r"right contains nan at \(3, 1\)"),
    (lambda: lorank.LowRank(np.full((3, 2), np.inf), np.ones((4, 2))), ValueError, r"left contains inf at \(0, 0\)"),
    (lambda: lorank.LowRank(np.ones((3, 2)), np.ones((4, 3))), ValueError, r"same number of columns.*left \(3, 2\) and right \(4, 3\)"),
    (lambda: lorank.LowRank(np.ones((3, 2), complex), np.ones((4, 2))), TypeError, r"left has unsupported dtype complex128"),
    (lambda: lorank.LowRank(np.ones((3, 2)), np.ones((4, 2), object)), TypeError, r"right has unsupported dtype object"),
    (lambda: lorank.LowRank([["a"]], [["b"]]), TypeError, r"left has unsupported dtype <U1"),
    (lambda: lorank.LowRank(sp.csr_array(np.ones((3, 2))), np.ones((4, 2))), TypeError, r"left must be a dense array here, got csr_array"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.ones(3), np.ones((2, 4))), ValueError, r"got U \(3, 2\), s \(3,\), Vt \(2, 4\)"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.array([1.0, -2.0]), np.ones((2, 4))), ValueError, r"s contains -2.0"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.array([np.nan, 1.0]), np.ones((2, 4))), ValueError, r"s contains nan"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.ones(2, complex), np.ones((2, 4))), TypeError, r"s has unsupported dtype complex128"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.ones(2), np.ones((2, 4)), rank=3), ValueError, r"rank=3 exceeds"),
    (lambda: lorank.LowRank.from_svd(np.ones((3, 2)), np.ones(2), np.ones((2, 4)), rank=0), ValueError, r"rank must be positive, got 0"),
    (lambda: _L.entries([-1], [0]), ValueError, r"rows contains index -1; indices must be >= 0"),
    (lambda: _L.entries([0], [-5]), ValueError, r"cols contains index -5; indices must be >= 0"),
    (lambda: _L.entries([30], [0]), ValueError, r"rows contains index 30 but shape\[0\] is 30"),
    (lambda: _L.entries([0], [20]), ValueError, r"cols contains index 20 but shape\[1\] is 20"),
    (lambda: _L.entries(np.array([2**64 - 1], np.uint64), [0]), ValueError, r"rows contains index 18446744073709551615 but shape\[0\] is 30"),
    (lambda: _L.entries([0, 1], [0]), ValueError, r"rows and cols must have the same shape, got \(2,\) and \(1,\)"),
    (lambda: _L.entries(np.zeros((2, 3), int), np.zeros((3, 2), int)), ValueError, r"same shape, got \(2, 3\) and \(3, 2\)"),
    (lambda: _L.entries([0.0], [0]), TypeError, r"rows must hold integers, got dtype float64"),
    (lambda: _L.entries([0], [True]), TypeError, r"cols must hold integers, got dtype bool"),
    (lambda: _L.entries(["a"], [0]), TypeError, r"rows must hold integers, got dtype <U1"),
    (lambda: _L.entries([0], [0], n_threads=0), ValueError, r"n_threads=0 is not a thread count"),
    (lambda: _L @ np.ones(5), ValueError, r"shapes \(30, 20\) and \(5,\) are not aligned"),
    (lambda: _L @ np.ones((20, 2, 2)), ValueError, r"shapes \(30, 20\) and \(20, 2, 2\) are not aligned"),
    (lambda: np.ones((2, 5)) @ _L, ValueError, r"shapes \(2, 5\) and \(30, 20\) are not aligned"),
    (lambda: _L @ _L, ValueError, r"shapes \(30, 20\) and \(30, 20\) are not aligned"),
    (lambda: _L.truncate(0), ValueError, r"k must be >= 1, got 0"),
    (lambda: _L.truncate(4), ValueError, r"k=4 exceeds min\(rank, m, n\) = 3"),
    (lambda: _L.truncate(2.0), TypeError, r"k must be an integer, got 2.0"),
    (lambda: lorank.compress(np.ones(4), 1), ValueError, r"X must be 2-D"),
    (lambda: lorank.compress(np.ones((0, 4)), 1), ValueError, r"X is empty"),
    (lambda: lorank.compress(np.array([[1.0, np.nan]]), 1), ValueError, r"X contains nan at \(0, 1\)"),
    (lambda: lorank.compress(np.ones((3, 3)), 0), ValueError, r"rank must be positive, got 0"),
    (lambda: lorank.compress(np.ones((3, 4)), 4), ValueError, r"rank=4 exceeds min\(m, n\) = 3"),
    (lambda: lorank.compress(np.ones((3, 4), complex), 1), TypeError, r"X has unsupported dtype complex128"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[b[2][:50] for b in BAD])
def test_bad_input_raises_naming_argument_and_value(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("shape", [(50, 40, 6), (5, 40, 8), (50, 4, 8), (30, 30, 30)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svd_of_leading_k_matches_the_full_svd(shape, dtype):
    """svd(k) (reflectors applied to k columns) against the full thin SVD: the same
    singular values, the leading k vectors up to sign; truncate uses it."""
    m, n, r = shape
    rng = np.random.default_rng(m + n + r)
    X = lorank.LowRank(rng.standard_normal((m, r)).astype(dtype),
                       rng.standard_normal((n, r)).astype(dtype))
    U, s, Vt = X.svd()
    eps = 1e-4 if dtype == np.float32 else 1e-11
    for k in (0, 1, 3, min(m, n, r)):
        Uk, sk, Vtk = X.svd(k=k)
        assert Uk.shape == (m, k) and Vtk.shape == (k, n) and Uk.dtype == dtype
        np.testing.assert_allclose(sk, s, rtol=eps)
        signs = np.sign(np.sum(Uk * U[:, :k], axis=0))
        np.testing.assert_allclose(Uk * signs, U[:, :k], atol=eps)
        np.testing.assert_allclose(Vtk * signs[:, None], Vt[:k], atol=eps)
    np.testing.assert_allclose(X.truncate(2).to_dense(),
                               lorank.LowRank.from_svd(U, s, Vt, rank=2).to_dense(),
                               atol=eps * s[0])
    with pytest.raises(ValueError, match="k must be >= 0"):
        X.svd(k=-1)
