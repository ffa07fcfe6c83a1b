"""lorank.block_krylov_svd and lorank.svd's method choice for sparse input and operators."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import lorank
from test_svd import sparse_low_rank_plus_noise

DTYPES = [np.float32, np.float64]
EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


@pytest.fixture(scope="module")
def noisy():
    """2,000 x 1,000, rank 20 plus a noise floor: the spectrum svds is asked about."""
    A = sparse_low_rank_plus_noise(2000, 1000, 20, 100_000, 0.01, seed=0)
    ref = np.linalg.svd(A.toarray(), compute_uv=False)
    return A, ref


def _check_triplets(A, U, s, Vt, dtype, tol):
    """Orthonormal factors, s non-increasing, and every triplet's residual
    ‖A v − s u‖ within the tolerance the function promises."""
    k = s.size
    assert U.dtype == s.dtype == Vt.dtype == dtype
    assert np.all(np.diff(s) <= 0)
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=100 * EPS[dtype] ** 0.5)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(k), atol=100 * EPS[dtype] ** 0.5)
    res = np.linalg.norm(np.asarray(A @ Vt.T, dtype=np.float64) - U * s, axis=0)
    assert res.max() <= 2 * tol * s[0] + 100 * EPS[dtype] * s[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose", [False, True], ids=["tall", "wide"])
def test_matches_svds_and_the_dense_reference(dtype, transpose, noisy):
    A, ref = noisy
    A = (A.T if transpose else A).astype(dtype)
    svds = np.sort(spla.svds(A.astype(np.float64), k=20, return_singular_vectors=False,
                             random_state=0))[::-1]
    tol = np.sqrt(EPS[dtype])
    U, s, Vt = lorank.block_krylov_svd(A, 20, vector_tol=tol, random_state=0)
    _check_triplets(A, U, s, Vt, dtype, tol)
    rtol = {np.float32: 1e-5, np.float64: 1e-10}[dtype]
    np.testing.assert_allclose(s, ref[:20], rtol=rtol)
    np.testing.assert_allclose(s, svds, rtol=rtol)
    assert U.shape == (A.shape[0], 20) and Vt.shape == (20, A.shape[1])
    # The default stops on the values: within the default tol, in fewer passes.
    s_default = lorank.block_krylov_svd(A, 20, random_state=0)[1]
    assert np.all(np.abs(s_default - ref[:20]) <= {np.float32: 1e-5, np.float64: 1e-8}[dtype]
                  * ref[:20])


def _operands(dtype):
    """The same 300 x 200 matrix (rank 6 plus a smaller rank-4 part) as every kind."""
    rng = np.random.default_rng(3)
    L = rng.standard_normal((300, 10)).astype(dtype)
    R = (rng.standard_normal((200, 10)) * np.r_[np.ones(6), 0.1 * np.ones(4)]).astype(dtype)
    dense = L @ R.T
    # S + L Rᵀ with S on a pattern: the same matrix, split in two.
    mask = rng.random(dense.shape) < 0.3
    i, j = np.nonzero(mask)
    S = lorank.Ratings(i, j, dense[i, j] - (L[:, :6] @ R[:, :6].T)[i, j], dense.shape,
                       dtype=dtype)
    outside = ~mask
    assert outside.any()
    spl = lorank.SparsePlusLowRank(S, lorank.LowRank(L[:, :6], R[:, :6]))
    dense = np.where(mask, dense, L[:, :6] @ R[:, :6].T).astype(dtype)
    return dense, {
        "ndarray": dense,
        "csr_array": sp.csr_array(dense),
        "csc_matrix": sp.csc_matrix(dense),
        "coo_array": sp.coo_array(dense),
        "LinearOperator": spla.aslinearoperator(dense),
        "SparsePlusLowRank": spl,
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kind", ["ndarray", "csr_array", "csc_matrix", "coo_array", "LinearOperator",
             "SparsePlusLowRank"])
def test_accepts_every_operand_kind(dtype, kind):
    dense, ops = _operands(dtype)
    np.testing.assert_allclose(ops[kind] @ np.eye(200, dtype=dtype), dense,
                               atol=1e-4 if dtype == np.float32 else 1e-10)
    U, s, Vt = lorank.block_krylov_svd(ops[kind], 8, vector_tol=np.sqrt(EPS[dtype]),
                                       random_state=0)
    ref = np.linalg.svd(dense.astype(np.float64), compute_uv=False)[:8]
    _check_triplets(dense.astype(np.float64), U, s, Vt, dtype, np.sqrt(EPS[dtype]))
    np.testing.assert_allclose(s, ref, rtol={np.float32: 1e-4, np.float64: 1e-10}[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_exactly_low_rank_deflates_without_warning(dtype):
    """A rank-3 matrix asked for 6 triplets: the Krylov space closes after one
    block; the last three singular values are zero, the factors orthonormal."""
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((400, 3)) @ rng.standard_normal((3, 150))).astype(dtype)
    U, s, Vt = lorank.block_krylov_svd(sp.csr_array(X), 6, vector_tol=np.sqrt(EPS[dtype]),
                                       random_state=0)
    ref = np.linalg.svd(X.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(s[:3], ref[:3], rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert s[3:].max() <= 1e3 * EPS[dtype] * s[0]
    _check_triplets(X, U, s, Vt, dtype, np.sqrt(EPS[dtype]))


@pytest.mark.parametrize("rank", [1, 40])
def test_small_and_full_rank(rank):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((90, 40))
    U, s, Vt = lorank.block_krylov_svd(sp.csr_array(X), rank, tol=1e-12, vector_tol=1e-12,
                                       random_state=0)
    np.testing.assert_allclose(s, np.linalg.svd(X, compute_uv=False)[:rank], rtol=1e-10)
    np.testing.assert_allclose(X @ Vt.T, U * s, atol=1e-10 * s[0])
    if rank == 40:
        np.testing.assert_allclose(U * s @ Vt, X, atol=1e-10 * s[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_1_2_and_3_threads_and_a_random_state(dtype, noisy):
    A = noisy[0].astype(dtype)
    runs = [lorank.block_krylov_svd(A, 10, random_state=5, n_threads=t) for t in (1, 2, 3)]
    runs.append(lorank.block_krylov_svd(A, 10, random_state=np.random.default_rng(5)))
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            np.testing.assert_array_equal(x, y)


def test_stopping_short_of_tol_warns_and_returns_the_approximation(noisy):
    A = noisy[0]
    with pytest.warns(RuntimeWarning, match=r"stopped after 1 blocks .* raise max_blocks"):
        U, s, Vt = lorank.block_krylov_svd(A, 20, block_size=20, max_blocks=1, random_state=0)
    assert s.shape == (20,) and np.all(s > 0)
    # max_blocks never leaves fewer basis columns than the rank
    with pytest.warns(RuntimeWarning, match=r"stopped after 5 blocks"):
        s = lorank.block_krylov_svd(A, 20, block_size=4, max_blocks=1, random_state=0)[1]
    assert s.shape == (20,)


class _Counting(spla.LinearOperator):
    """``A`` as an operator that counts its passes over A (products with A or Aᵀ)."""

    def __init__(self, A):
        super().__init__(A.dtype, A.shape)
        self.matrix, self.calls = A, 0

    def _matmat(self, M):
        self.calls += 1
        return self.matrix @ M

    def _rmatmat(self, M):
        self.calls += 1
        return self.matrix.T @ M


def test_loose_tol_needs_fewer_passes_and_still_bounds_the_error(noisy):
    A, ref = noisy
    tight = _Counting(A)
    lorank.block_krylov_svd(tight, 20, tol=1e-12, random_state=0)
    loose = _Counting(A)
    s = lorank.block_krylov_svd(loose, 20, tol=1e-3, random_state=0)[1]
    assert loose.calls < tight.calls
    assert np.max(np.abs(s - ref[:20])) <= 1e-3 * ref[0]


def _known_spectrum(s, seed=0, m=500):
    """An m x len(s) matrix (as CSR) with singular values exactly s."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((m, s.size)))[0]
    V = np.linalg.qr(rng.standard_normal((s.size, s.size)))[0]
    return sp.csr_array((U * s) @ V.T)


_k = np.arange(300)
SPECTRA = {
    "geometric": 0.97 ** _k,
    "harmonic": 1 / (1 + _k),
    # a cluster of four, split 1e-5 apart, that the rank (10) cuts in two: the
    # gaps between its Ritz values are tiny, the quadratic bound does not apply
    "cluster across the rank": np.r_[np.linspace(2, 1.5, 8), 1.2 * (1 - 1e-5 * np.arange(4)),
                                     0.5 * 0.99 ** _k[:288]],
    "tight cluster across the rank": np.r_[np.linspace(2, 1.5, 8),
                                           1.2 * (1 - 1e-12 * np.arange(4)),
                                           0.5 * 0.99 ** _k[:288]],
    "gap 1e-3 after the rank": np.r_[np.linspace(2, 1.001, 10), 1.0, 0.5 * 0.99 ** _k[:289]],
}


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-8, 1e-10])
@pytest.mark.parametrize("spectrum", list(SPECTRA))
def test_tol_bounds_the_relative_error_of_every_value(spectrum, tol):
    s_true = SPECTRA[spectrum]
    A = _known_spectrum(s_true)
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # and without stopping short
            s = lorank.block_krylov_svd(A, 10, tol=tol, random_state=seed)[1]
        assert np.max(np.abs(s - s_true[:10]) / s_true[:10]) <= tol


def test_the_default_tol_is_1e8_in_float64_and_1e5_in_float32_above_rounding():
    s_true = SPECTRA["harmonic"]
    A = _known_spectrum(s_true)
    for seed in range(5):
        s = lorank.block_krylov_svd(A, 10, random_state=seed)[1]
        assert np.max(np.abs(s - s_true[:10]) / s_true[:10]) <= 1e-8
        s32 = lorank.block_krylov_svd(A.astype(np.float32), 10, random_state=seed)[1]
        # float32 values converge to 1e-5, or to their rounding level (100 eps s[0]²)
        rounding = 100 * EPS[np.float32] * (s_true[0] / s_true[:10]) ** 2 / 2
        err = np.abs(s32.astype(np.float64) - s_true[:10]) / s_true[:10]
        assert np.all(err <= np.maximum(1e-5, rounding) + 2 * EPS[np.float32])


def test_values_converge_before_the_vectors(noisy):
    """Stopping on the values needs fewer passes than on the vectors, and
    vector_tol then bounds the residuals."""
    A, ref = noisy
    values = _Counting(A)
    s = lorank.block_krylov_svd(values, 20, tol=1e-8, random_state=0)[1]
    vectors = _Counting(A)
    U, s2, Vt = lorank.block_krylov_svd(vectors, 20, tol=1e-8, vector_tol=1e-10,
                                        random_state=0)
    assert values.calls < vectors.calls
    assert np.max(np.abs(s - ref[:20]) / ref[:20]) <= 1e-8
    _check_triplets(A, U, s2, Vt, np.float64, 1e-10)


def test_a_value_repeated_up_to_the_block_size_is_found_every_time():
    """Block Lanczos finds at most block_size copies of a repeated singular
    value per Krylov space (a limit of the method, as documented): with
    block_size at least the multiplicity all copies come back."""
    s_true = np.r_[np.ones(12), 0.9 * np.ones(288)]
    s = lorank.block_krylov_svd(_known_spectrum(s_true), 10, block_size=12,
                                random_state=0)[1]
    np.testing.assert_allclose(s, 1.0, rtol=1e-8)


# --- lorank.svd: the method ----------------------------------------------------


def test_svd_uses_block_krylov_for_sparse_and_operators(noisy):
    A = noisy[0]
    expected = lorank.block_krylov_svd(A, 5, random_state=0)
    for got in (lorank.svd(A, 5, random_state=0),
                lorank.svd(A, 5, method="krylov", random_state=0)):
        for x, y in zip(expected, got):
            np.testing.assert_array_equal(x, y)
    r = lorank.svd(A, 5, method="randomized", random_state=0)
    for x, y in zip(lorank.randomized_svd(A, 5, random_state=0), r):
        np.testing.assert_array_equal(x, y)
    dense = A.toarray()
    np.testing.assert_allclose(lorank.svd(dense, 5, method="krylov", random_state=0)[1],
                               expected[1], rtol=1e-10)


def test_svd_of_a_lowrank_is_its_exact_factored_svd():
    rng = np.random.default_rng(0)
    L = lorank.LowRank(rng.standard_normal((50, 4)), rng.standard_normal((30, 4)))
    U, s, Vt = lorank.svd(L, 3)
    np.testing.assert_allclose(s, np.linalg.svd(L.to_dense(), compute_uv=False)[:3],
                               rtol=1e-12)
    assert U.shape == (50, 3) and Vt.shape == (3, 30)


@pytest.mark.parametrize("call, exc, match", [
    (lambda A: lorank.svd(A), ValueError, r'rank is required for method="krylov"'),
    (lambda A: lorank.svd(A, 3, method="arpack"), ValueError, r"method must be one of"),
    (lambda A: lorank.svd(A, 3, method="gesdd"), TypeError, r"must be a dense array"),
    (lambda A: lorank.svd(A, 3, method="randomized", tol=1e-3), ValueError, r"tol is only"),
    (lambda A: lorank.block_krylov_svd(A, 3, block_size=0), ValueError, r"block_size"),
    (lambda A: lorank.block_krylov_svd(A, 3, max_blocks=0), ValueError, r"max_blocks"),
    (lambda A: lorank.block_krylov_svd(A, 3, tol=-1.0), ValueError, r"tol must be a number"),
    (lambda A: lorank.block_krylov_svd(A, 3, vector_tol=1.0), ValueError,
     r"vector_tol must be a number"),
    (lambda A: lorank.block_krylov_svd(A, 0), ValueError, r"rank"),
])
def test_bad_input_names_the_argument(call, exc, match):
    A = sp.random_array((30, 20), density=0.3, rng=0, format="csr")
    with pytest.raises(exc, match=match):
        call(A)
