"""The generalized ``_als.half_step`` (weights, prior, sampled solve, Hadamard rows,
conjugate gradient) against its numpy twin ``tests/_reference.py``."""

import numpy as np
import pytest

from lorank._kernels import _als
from lorank import openmp_enabled
from lorank.models.als import _factor_storage

from _reference import half_step_reference, normal_stream_reference

DTYPES = [np.float32, np.float64]
# Relative tolerance of a kernel solution against float64 numpy.
KTOL = {np.float32: 2e-5, np.float64: 1e-11}
# Empty targets, and counts below, at and past multiples of the 128-observation block.
COUNTS = [0, 1, 2, 5, 17, 63, 127, 128, 129, 256, 257, 300, 513, 0, 3]
VARIANTS = {
    "als": {},
    "weights": {"weights": True},
    "prior": {"prior": True},
    "prior_h": {"prior_h": True},
    "weights+prior": {"weights": True, "prior": True, "prior_h": True},
    "sampled": {"prior": True, "prior_h": True, "sample_scale": 0.7},
    "sampled_lam": {"sample_scale": 1.3},
    "bias_lam": {"bias_lam": True},  # the bias lane's own penalty (ALS's)
    "weights+bias_lam": {"weights": True, "bias_lam": True},
    "bias_lam+prior": {"bias_lam": True, "prior": True, "prior_h": True},
    "hadamard1": {"others": 1},
    "hadamard2": {"others": 2},
    "everything": {"weights": True, "prior": True, "prior_h": True, "sample_scale": 0.4,
                   "others": 2},
}


def padded(a, dtype, fill=0.0):
    """Rows zero-padded (or ``fill``-padded) to whole 64-byte vectors."""
    out = _factor_storage(a.shape[0], a.shape[1], dtype)
    out[:, a.shape[1]:] = fill
    out[:, :a.shape[1]] = a
    return out


def make_problem(dtype, rank, biases, variant, counts=COUNTS, n_fixed=600, noise=3.0,
                 reg=0.3, seed=0, pad_fill=0.0):
    """Arguments of a half-step: positional tuple and keyword dict."""
    rng = np.random.default_rng(seed)
    spec = VARIANTS[variant] if isinstance(variant, str) else variant
    d = rank + biases
    counts = np.asarray(counts)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate(
        [np.sort(rng.choice(n_fixed, c, replace=False)) for c in counts]).astype(np.int32)
    nnz = indices.size
    fixed = padded(rng.standard_normal((n_fixed, d)) / np.sqrt(max(d, 1)), dtype, pad_fill)
    rowf = fixed[indices, :d].astype(np.float64)
    kw = {}
    others = []
    for k in range(spec.get("others", 0)):
        n_k = 40 + 13 * k
        F_k = padded(1 + 0.5 * rng.standard_normal((n_k, d)), dtype, pad_fill)
        idx_k = rng.integers(0, n_k, nnz).astype(np.int32)
        others.append((idx_k, F_k))
        rowf = rowf * F_k[idx_k, :d]
    if others:
        kw["others"] = tuple(others)
    truth = rng.standard_normal((len(counts), d))
    owner = np.repeat(np.arange(len(counts)), counts)
    values = (2 + np.einsum("ij,ij->i", rowf, truth[owner])
              + noise * rng.standard_normal(nnz)).astype(dtype)
    if spec.get("weights"):
        w = rng.exponential(1.0, nnz)
        w[::11] = 0  # zero weights are allowed
        kw["weights"] = w.astype(dtype)
    if spec.get("prior"):
        A = rng.standard_normal((d, d + 2))
        prior = A @ A.T / d + 0.5 * np.eye(d)
        kw["prior"] = (prior + prior.T) / 2
    if spec.get("prior_h"):
        kw["prior_h"] = rng.standard_normal(d)
    if spec.get("bias_lam") and biases:
        kw["bias_lam"] = rng.uniform(0.5, 30.0, len(counts))
    if spec.get("sample_scale"):
        kw.update(sample_scale=spec["sample_scale"], seed=1234 + seed, stream=5)
    solved = padded(rng.standard_normal((len(counts), d)), dtype, pad_fill)
    lam = reg * counts.astype(np.float64) + (0.1 if spec.get("sample_scale") else 0.0)
    args = (indptr, indices, values, fixed, solved, 0.7, lam, bool(biases), rank)
    return args, kw


def outputs(n):
    return np.full(n, np.nan), np.full(n, np.nan), np.full(n, -1, np.int32)


def run(args, kw, n_threads=2, fn=_als.half_step):
    args = list(args)
    args[4] = args[4].copy()
    n = args[4].shape[0]
    sse, rsum, status = outputs(n)
    fn(*args, sse, rsum, status, n_threads, **kw)
    return args[4], sse, rsum, status


def reference(args, kw):
    args = list(args)
    args[4] = args[4].astype(np.float64)
    n = args[4].shape[0]
    sse, rsum, status = outputs(n)
    half_step_reference(*args, sse, rsum, status, 1, **kw)
    return args[4], sse, rsum, status


def check_against_reference(args, kw, dtype, ktol=None, ref_kw=None):
    """The kernel with ``kw`` against the twin with ``ref_kw`` (default: the same)."""
    rank, biases = args[8], args[7]
    d = rank + biases
    x, sse, rsum, status = run(args, kw)
    kw = kw if ref_kw is None else ref_kw
    x_ref, sse_ref, rsum_ref, status_ref = reference(args, kw)
    np.testing.assert_array_equal(status, status_ref)
    assert x.dtype == dtype
    rtol = KTOL[dtype] if ktol is None else ktol
    np.testing.assert_allclose(x[:, :d], x_ref[:, :d], rtol=rtol,
                               atol=rtol * np.abs(x_ref[:, :d]).max())
    np.testing.assert_array_equal(x[:, d:], args[4][:, d:])  # padding untouched
    # Σ w r² from the normal equations: rounding relative to the terms it cancels.
    indptr, indices, values, fixed = args[:4]
    scale = np.zeros(len(indptr) - 1)
    from _reference import features
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        f, t = features(sl, indices, values, fixed, args[5], biases, rank,
                        kw.get("others", ()))
        w = np.ones(t.size) if "weights" not in kw else kw["weights"][sl].astype(np.float64)
        fx = f @ x_ref[j, :d]
        scale[j] = np.sum(w * (t * t + fx * fx)) + np.sqrt(np.sum(w)) * (
            np.sqrt(np.sum(w * t * t)) + 1)
    np.testing.assert_array_less(np.abs(sse - sse_ref), 20 * rtol * scale + 1e-12)
    if biases:
        np.testing.assert_array_less(np.abs(rsum - rsum_ref), 20 * rtol * scale + 1e-12)
    else:
        assert (rsum == 0).all()
    return x, sse, rsum, status


# ------------------------------------------------------------------ the normal stream


@pytest.mark.parametrize("key", [(0, 0, 0), (12345, 7, 3), (2**64 - 1, 2**63, 2**40),
                                 (99, 2**32 + 1, 123456789)])
def test_normal_stream_is_numpys_standard_normal_on_philox(key):
    n = 23
    z = _als.normal_stream(*key, n)
    np.testing.assert_array_equal(z, normal_stream_reference(*key, n))
    assert (_als.normal_stream(*key, 5) == z[:5]).all()  # a prefix: any length


def test_normal_stream_takes_numpys_rejections_and_tail_too():
    # 400k draws: about 3k rejected in a wedge (a uniform and exp) and 100 in the tail
    # (log1p, beyond 3.654): every later draw shifts if one of them went otherwise.
    z = _als.normal_stream(5, 6, 7, 400_000)
    np.testing.assert_array_equal(z, normal_stream_reference(5, 6, 7, 400_000))
    assert (np.abs(z) > 3.6541528853610088).sum() > 50


def test_normal_stream_keys_give_independent_standard_normals():
    draws = np.concatenate([_als.normal_stream(3, s, t, 64) for s in range(4)
                            for t in range(1000)])
    n = draws.size
    assert abs(draws.mean()) < 5 / np.sqrt(n)
    assert abs(draws.var() - 1) < 5 * np.sqrt(2 / n)
    # standard normal quartiles ±0.6745
    q = np.quantile(draws, [0.25, 0.75])
    np.testing.assert_allclose(q, [-0.6745, 0.6745], atol=0.01)
    a, b = _als.normal_stream(3, 0, 0, 64), _als.normal_stream(3, 1, 0, 64)
    c, e = _als.normal_stream(3, 0, 1, 64), _als.normal_stream(4, 0, 0, 64)
    for other in (b, c, e):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.5 and not (a == other).any()


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, "x"])
def test_normal_stream_rejects_bad_keys(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        _als.normal_stream(bad, 0, 0, 3)


# ------------------------------------------------------------------ every variant


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", list(VARIANTS))
# 3 + biases: inline Cholesky; 40 + biases: LAPACK; 11: one AVX-512 vector.
@pytest.mark.parametrize("rank, biases", [(3, True), (10, True), (10, False), (40, True)])
@pytest.mark.parametrize("noise", [3.0, 1e-3])  # identity / direct residual sums
def test_variant_matches_numpy(dtype, variant, rank, biases, noise, simd):
    args, kw = make_problem(dtype, rank, biases, variant, noise=noise,
                            reg=0.3 if noise > 1 else 0.03)
    check_against_reference(args, kw, dtype)




@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["weights+prior", "sampled", "hadamard2"])
def test_variant_tiled_matches_numpy(dtype, variant, simd, tiled):
    # A fixed factor several times the 1 MiB tile: the sums are carried across tiles.
    rank = 4
    n_fixed = 3 * (1 << 20) // _factor_storage(1, rank + 1, dtype).nbytes
    args, kw = make_problem(dtype, rank, True, variant, n_fixed=n_fixed)
    check_against_reference(args, kw, dtype)


# The widest rows the kernel takes: 41-256 unknowns in float32, 41-128 in float64.
WIDE = [(np.float32, 40, True), (np.float32, 63, True), (np.float32, 127, False),
        (np.float32, 255, True), (np.float32, 256, False), (np.float64, 40, True),
        (np.float64, 64, False), (np.float64, 127, True), (np.float64, 128, False)]


@pytest.mark.parametrize("dtype, rank, biases", WIDE)
@pytest.mark.parametrize("variant", ["als", "everything"])
def test_widest_rows_match_numpy(dtype, rank, biases, variant, simd):
    d = rank + biases
    counts = [0, 3, d + 5, 2 * d + 1, 300]
    args, kw = make_problem(dtype, rank, biases, variant, counts=counts, n_fixed=700,
                            reg=1.0)
    assert args[3].shape[1] * np.dtype(dtype).itemsize <= _als.MAX_ROW_BYTES
    check_against_reference(args, kw, dtype, ktol=KTOL[dtype] * (5 if d > 64 else 1))


def test_rows_wider_than_the_kernel_are_refused():
    args, kw = make_problem(np.float32, 10, True, "als")
    args = list(args)
    args[3] = np.zeros((600, 272), np.float32)
    args[4] = np.zeros((len(COUNTS), 272), np.float32)
    args[8] = 260
    with pytest.raises(ValueError, match="at most 1024 bytes"):
        run(args, kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights", "everything"])
def test_padding_contents_never_reach_the_results(dtype, variant):
    # NaN in every padding lane of every factor row, and a close fit so that the
    # residuals are also summed directly: the same bits as with zero padding.
    for noise in (3.0, 1e-4):
        clean = run(*make_problem(dtype, 5, True, variant, noise=noise, reg=0.01))
        dirty = run(*make_problem(dtype, 5, True, variant, noise=noise, reg=0.01,
                                  pad_fill=np.nan))
        d = 6
        np.testing.assert_array_equal(clean[0][:, :d], dirty[0][:, :d])
        for a, b in zip(clean[1:], dirty[1:]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_target_with_a_prior_is_solved_from_the_prior(dtype):
    args, kw = make_problem(dtype, 4, True, "prior")
    x, sse, rsum, status = run(args, kw)
    P = kw["prior"] + args[6][0] * np.eye(5)
    np.testing.assert_allclose(x[0, :5], 0, atol=0)  # no prior_h: h = 0
    kw["prior_h"] = np.arange(1.0, 6.0)
    x, sse, rsum, status = run(args, kw)
    np.testing.assert_allclose(x[0, :5], np.linalg.solve(P, kw["prior_h"]),
                               rtol=KTOL[dtype])
    assert sse[0] == 0 and rsum[0] == 0 and status[0] == 0
    x, *_ = run(*make_problem(dtype, 4, True, "als"))
    assert (x[0, :5] == 0).all()  # no prior: an empty target's row is zero


# ------------------------------------------------------------------ sampling


@pytest.mark.parametrize("dtype", DTYPES)
def test_sampled_solve_is_mean_plus_scaled_draw(dtype):
    args, kw = make_problem(dtype, 6, True, "sampled")
    mean_kw = {k: v for k, v in kw.items() if k != "sample_scale"}
    x_mean, *_ = run(args, mean_kw)
    x, *_ = run(args, kw)
    ref_mean, *_ = reference(args, mean_kw)
    d = 7
    tol = KTOL[dtype] * np.abs(ref_mean[:, :d]).max()
    np.testing.assert_allclose(x_mean[:, :d], ref_mean[:, :d], rtol=KTOL[dtype], atol=tol)
    # x − mean = s L⁻ᵀ z with the target's own z: recovered exactly from numpy.
    indptr, indices, values, fixed = args[:4]
    from _reference import features
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        f, _ = features(sl, indices, values, fixed, args[5], True, 6, ())
        P = f.T @ f + kw["prior"] + args[6][j] * np.eye(d)
        z = normal_stream_reference(kw["seed"], kw["stream"], j, d)
        draw = kw["sample_scale"] * np.linalg.solve(np.linalg.cholesky(P).T, z)
        np.testing.assert_allclose(x[j, :d] - x_mean[j, :d], draw,
                                   rtol=10 * KTOL[dtype], atol=10 * tol)
    # Another stream or seed draws differently; the same key draws the same.
    other = run(args, {**kw, "stream": 6})[0]
    assert not np.isclose(other[:, :d], x[:, :d]).any()
    np.testing.assert_array_equal(run(args, kw)[0], x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_prior", [True, False])
def test_many_draws_have_the_conditional_mean_and_covariance(dtype, with_prior):
    # 20000 targets with the same observations: the same Gaussian conditional,
    # each with its own draw. Whitened by Lᵀ, (x − μ)/s must be N(0, I).
    rng = np.random.default_rng(7)
    rank, d, n_t, n_obs, s = 3, 4, 20000, 12, 0.8
    fixed = padded(rng.standard_normal((30, d)), dtype)
    rows = np.sort(rng.choice(30, n_obs, replace=False)).astype(np.int32)
    indptr = (np.arange(n_t + 1) * n_obs).astype(np.int64)
    indices = np.tile(rows, n_t)
    values = np.tile(rng.standard_normal(n_obs) + 3, n_t).astype(dtype)
    kw = {"sample_scale": s, "seed": 11, "stream": 2}
    lam = np.full(n_t, 0.5)
    f = np.hstack([fixed[rows, :rank].astype(np.float64), np.ones((n_obs, 1))])
    t = values[:n_obs].astype(np.float64) - 0.2 - fixed[rows, rank]
    P, h = f.T @ f + 0.5 * np.eye(d), f.T @ t
    if with_prior:
        A = rng.standard_normal((d, d))
        kw["prior"] = A @ A.T + np.eye(d)
        kw["prior_h"] = rng.standard_normal(d)
        P, h = P + kw["prior"], h + kw["prior_h"]
    solved = np.zeros((n_t, fixed.shape[1]), dtype)
    sse, rsum, status = outputs(n_t)
    _als.half_step(indptr, indices, values, fixed, solved, 0.2, lam, True, rank,
                   sse, rsum, status, 2, **kw)
    assert (status == 0).all()
    mu = np.linalg.solve(P, h)
    x = solved[:, :d].astype(np.float64)
    y = (x - mu) @ np.linalg.cholesky(P) / s  # rows: Lᵀ(x − μ)/s
    assert np.abs(y.mean(0)).max() < 5 / np.sqrt(n_t)
    np.testing.assert_allclose(np.cov(y.T), np.eye(d), atol=6 * np.sqrt(2 / n_t))
    np.testing.assert_allclose(x.mean(0), mu, atol=6 * s * np.sqrt(np.diag(
        np.linalg.inv(P)).max() / n_t))


# ------------------------------------------------------------------ threads


THREAD_CASES = [("als", {}), ("everything", {}), ("sampled", {}), ("weights", {}),
                ("weights+prior", {"solver": "cg", "cg_steps": 3}),
                ("hadamard2", {"solver": "cg", "cg_steps": 2})]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant, extra", THREAD_CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("rank", [4, 40])
def test_bitwise_independent_of_threads_and_threads_really_ran(dtype, variant, extra, rank):
    args, kw = make_problem(dtype, rank, True, variant, noise=0.5, reg=0.1)
    kw.update(extra)
    one = run(args, kw, n_threads=1)
    assert _als.last_team_size() == 1
    for n_threads in (2, 3, 8):
        other = run(args, kw, n_threads=n_threads)
        if openmp_enabled():
            assert _als.last_team_size() == n_threads  # the region ran with a team
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("variant", ["everything", "sampled"])
def test_tiled_path_bitwise_independent_of_threads(variant, tiled):
    n_fixed = 3 * (1 << 20) // _factor_storage(1, 5, np.float32).nbytes
    args, kw = make_problem(np.float32, 4, True, variant, n_fixed=n_fixed)
    one = run(args, kw, n_threads=1)
    for n_threads in (2, 3):
        for a, b in zip(one, run(args, kw, n_threads=n_threads)):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights", "hadamard1", "sampled",
                                     "everything"])
@pytest.mark.parametrize("rank", [2, 40])  # inline Cholesky and LAPACK potrf
def test_not_positive_definite_target_is_reported_and_left_unchanged(dtype, variant, rank):
    args, kw = make_problem(dtype, rank, True, variant, counts=[3, 0, 2 * rank + 9, 1])
    args = list(args)
    args[6] = np.array([0.5, 0.5, 0.5, 0.5])
    bad = args[6].copy()
    if "prior" in kw:  # an indefinite prior breaks every target; make it the only one
        kw["prior"] = kw["prior"] * 0
    bad[3] = -1e6  # λ < 0 of target 3: its matrix is not positive definite
    args[6] = bad
    x, sse, rsum, status = run(args, kw)
    assert status[3] > 0 and (np.delete(status, 3) == 0).all()
    np.testing.assert_array_equal(x[3], args[4][3])
    assert sse[3] == 0 and rsum[3] == 0
    assert np.isfinite(x).all()


def test_cg_reports_a_target_that_is_not_positive_definite():
    args, kw = make_problem(np.float64, 5, True, "als", counts=[30, 30])
    args = list(args)
    args[6] = np.array([0.5, -1e6])
    x, sse, rsum, status = run(args, {"solver": "cg"})
    assert status.tolist() == [0, 1]
    np.testing.assert_array_equal(x[1], args[4][1])


# ------------------------------------------------------------------ conjugate gradient


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights+prior", "hadamard2"])
@pytest.mark.parametrize("rank, biases", [(3, True), (10, False), (40, True)])
@pytest.mark.parametrize("steps", [1, 3])
# The rows of every target gathered once into the buffer; of the targets with at
# most 100 observations only (the others re-gather in every pass); of none.
@pytest.mark.parametrize("buffer_rows", [None, 100, 0])
# The targets with more than 60 observations form their Gram and step on it.
@pytest.mark.parametrize("gram_rows", [None, 60])
def test_cg_matches_numpy_cg(dtype, variant, rank, biases, steps, buffer_rows, gram_rows,
                             simd):
    args, kw = make_problem(dtype, rank, biases, variant)
    kw.update(solver="cg", cg_steps=steps)
    row_bytes = args[3].shape[1] * np.dtype(dtype).itemsize
    previous = _als._set_cg_buffer_bytes(64 << 20 if buffer_rows is None
                                         else buffer_rows * row_bytes)
    before = (_als._set_cg_gram(gram_rows * row_bytes, 1 << 20) if gram_rows
              else _als._set_cg_gram(1 << 62, 0))
    try:
        # A few CG steps amplify float32 rounding in the step lengths.
        check_against_reference(args, kw, dtype,
                                ktol=KTOL[dtype] * (50 if dtype == np.float32 else 10))
    finally:
        _als._set_cg_buffer_bytes(previous)
        _als._set_cg_gram(*before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cg_gram_path_agrees_with_the_passes_and_keeps_threads_bitwise(dtype):
    # Rank 10 in float32 (rank 6 in float64) is a 64-byte row: targets with more
    # than 1024 observations (64 KiB of rows) form their Gram by default.
    rank = 10 if dtype == np.float32 else 6
    args, kw = make_problem(dtype, rank, False, "weights", counts=[1500, 40, 1100, 7],
                            n_fixed=3000)
    kw.update(solver="cg", cg_steps=3)
    by_gram = [run(args, kw, n_threads=t) for t in (1, 2, 3)]
    before = _als._set_cg_gram(1 << 62, 0)
    try:
        by_passes = run(args, kw)
    finally:
        _als._set_cg_gram(*before)
    assert (by_gram[0][0] != by_passes[0]).any()  # the other path: not the same rounding
    np.testing.assert_allclose(by_gram[0][0], by_passes[0], rtol=50 * KTOL[dtype],
                               atol=50 * KTOL[dtype] * np.abs(by_passes[0]).max())
    np.testing.assert_allclose(by_gram[0][1], by_passes[1], rtol=1e-3)
    for other in by_gram[1:]:
        for a, b in zip(by_gram[0], other):
            np.testing.assert_array_equal(a, b)


def test_cg_buffer_and_regather_paths_agree_and_keep_threads_bitwise():
    args, kw = make_problem(np.float64, 10, True, "weights+prior")
    kw.update(solver="cg", cg_steps=3)
    buffered = run(args, kw)
    previous = _als._set_cg_buffer_bytes(50 * args[3].shape[1] * 8)
    try:
        mixed = [run(args, kw, n_threads=t) for t in (1, 2, 3)]
    finally:
        _als._set_cg_buffer_bytes(previous)
    np.testing.assert_allclose(mixed[0][0], buffered[0], rtol=1e-12, atol=1e-12)
    for other in mixed[1:]:
        for a, b in zip(mixed[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights", "hadamard1"])
@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("buffer_rows", [None, 100, 0])
def test_cg_close_fit_sums_the_residuals_to_their_own_precision(dtype, variant, biases,
                                                                 buffer_rows, simd):
    # Little noise: Σ w r² is far below Σ w t², and the kernel is told to sum the
    # residuals again (from the gathered rows when buffered and without biases,
    # else from the fixed factor) rather than take the identity tt − 2xᵀb + xᵀGx
    # (which its own rule keeps for fits this close with many observations).
    from _reference import features
    args, kw = make_problem(dtype, 10, biases, variant, reg=0.05)
    indptr, indices, values, fixed = args[:4]
    d = 10 + biases
    rng = np.random.default_rng(3)
    values = values.astype(np.float64)
    for j in range(len(indptr) - 1):  # targets the model fits to about 1%
        sl = slice(indptr[j], indptr[j + 1])
        f, t = features(sl, indices, values, fixed, args[5], biases, 10, kw.get("others", ()))
        values[sl] += f @ rng.standard_normal(d) - t + 0.01 * rng.standard_normal(t.size)
    args = args[:2] + (values.astype(dtype),) + args[3:]
    kw.update(solver="cg", cg_steps=15)
    row_bytes = args[3].shape[1] * np.dtype(dtype).itemsize
    previous = _als._set_cg_buffer_bytes(64 << 20 if buffer_rows is None
                                         else buffer_rows * row_bytes)
    close_fit = _als._set_close_fit(np.inf)
    try:
        x, sse, rsum, status = check_against_reference(
            args, kw, dtype, ktol=KTOL[dtype] * (50 if dtype == np.float32 else 10))
    finally:
        _als._set_cg_buffer_bytes(previous)
        _als._set_close_fit(close_fit)
    # Each target's Σ w r² at the kernel's own x, in float64.
    values = args[2]
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        if sl.stop - sl.start < 2 * d:
            continue
        f, t = features(sl, indices, values, fixed, args[5], biases, 10, kw.get("others", ()))
        w = np.ones(t.size) if "weights" not in kw else kw["weights"][sl].astype(np.float64)
        r = t - f @ x[j, :d].astype(np.float64)
        assert np.sum(w * r * r) < 0.25 * np.sum(w * t * t)  # a close fit
        tol = 1e-3 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(sse[j], np.sum(w * r * r), rtol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "hadamard1", "weights"])
@pytest.mark.parametrize("path", ["batched", "tiled", "cg"])
def test_rough_sse_skips_only_the_second_pass(dtype, variant, path, simd):
    # exact_sse=False (a half-step whose loss is not reported) solves the same x
    # bitwise and takes the identity's sse and rsum for every target, the close
    # fits too: there they may differ from the summed residuals by the identity's
    # rounding error (about 1.4 eps √n Σ w t², kernel's note), never more.
    from _reference import features
    args, kw = make_problem(dtype, 6, True, variant, reg=1e-6)
    indptr, indices, values, fixed = args[:4]
    rng = np.random.default_rng(4)
    values = values.astype(np.float64)
    noise = 1e-3 if dtype == np.float32 else 1e-7  # close fits in either precision
    for j in range(len(indptr) - 1):  # targets the model fits to about `noise`
        sl = slice(indptr[j], indptr[j + 1])
        f, t = features(sl, indices, values, fixed, args[5], True, 6, kw.get("others", ()))
        values[sl] += f @ rng.standard_normal(7) - t + noise * rng.standard_normal(t.size)
    values = values.astype(dtype)
    args = args[:2] + (values,) + args[3:]
    if path == "cg":
        kw.update(solver="cg", cg_steps=12)
    previous = _als._set_tiled_above(0 if path == "tiled" else 1 << 40)
    try:
        exact = run(args, kw)
        rough = run(args, dict(kw, exact_sse=False))
    finally:
        _als._set_tiled_above(previous)
    for a, b in zip(exact[::3], rough[::3]):  # solved, status
        np.testing.assert_array_equal(a, b)
    eps = np.finfo(dtype).eps
    bound = np.zeros(len(indptr) - 1)
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        f, t = features(sl, indices, values, fixed, args[5], True, 6, kw.get("others", ()))
        w = kw["weights"][sl].astype(np.float64) if "weights" in kw else 1.0
        n = sl.stop - sl.start
        bound[j] = 8 * eps * np.sqrt(max(n, 1)) * np.sum(w * t * t) + 1e-300
    np.testing.assert_array_less(np.abs(rough[1] - exact[1]), bound)
    # Σ w r by the identity: Σ w t − xᵀ Σ w f, each to about eps √(n Σ w t²).
    np.testing.assert_array_less(np.abs(rough[2] - exact[2]),
                                 np.sqrt(bound * np.diff(indptr)) + 1e-300)
    assert (rough[1] != exact[1]).any()  # some close fit's second pass was skipped


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "hadamard1", "weights"])
def test_prefetch_into_the_next_target_changes_nothing(dtype, variant, simd):
    # The fused Gram's prefetch may run past a target's observations into the
    # next one's (up to the last observation of all): the same bits either way.
    args, kw = make_problem(dtype, 6, True, variant)
    previous = _als._set_cross_prefetch(True)
    try:
        on = run(args, kw)
        _als._set_cross_prefetch(False)
        off = run(args, kw)
    finally:
        _als._set_cross_prefetch(previous)
    assert previous is True  # the default
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cg_with_enough_steps_is_the_exact_solve(dtype):
    args, kw = make_problem(dtype, 6, True, "weights+prior")
    exact = run(args, kw)[0]
    cg = run(args, {**kw, "solver": "cg", "cg_steps": 40})[0]
    np.testing.assert_allclose(cg[:, :7], exact[:, :7], rtol=10 * KTOL[dtype],
                               atol=10 * KTOL[dtype] * np.abs(exact).max())


def test_cg_warm_started_at_the_solution_stays_there():
    args, kw = make_problem(np.float64, 6, True, "prior")
    exact = run(args, kw)[0]
    args = list(args)
    args[4] = exact
    again = run(args, {**kw, "solver": "cg", "cg_steps": 3})[0]
    np.testing.assert_allclose(again, exact, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ entry checks


def _bad(args, kw, **change):
    args, kw = list(args), dict(kw)
    names = ["indptr", "indices", "values", "fixed", "solved", "mean", "lam", "biases",
             "rank", "sse", "rsum", "status", "n_threads"]
    n = args[4].shape[0]
    full = dict(zip(names, args + list(outputs(n)) + [2]))
    for key, value in change.items():
        if key in full:
            full[key] = value
        else:
            kw[key] = value
    _als.half_step(*[full[k] for k in names], **kw)


def _short_end(args, nnz):
    indptr = args[0].copy()
    indptr[-1] -= 1
    return indptr


# (argument, the bad value from (args, nnz), what the message must say)
ENTRY_CASES = [
    ("indptr", lambda a, n: np.zeros(5, np.int64), "indptr must have"),
    ("indptr", _short_end, "indptr must run from 0"),
    ("indices", lambda a, n: np.zeros(3, np.int32), "indices"),
    ("lam", lambda a, n: np.zeros(3), "lam must have"),
    ("sse", lambda a, n: np.zeros(3), "sse must have"),
    ("rsum", lambda a, n: np.zeros(30), "rsum must have"),
    ("status", lambda a, n: np.zeros(2, np.int32), "status must have"),
    ("fixed", lambda a, n: np.zeros((600, 32), np.float32), "64-byte vectors"),
    ("fixed", lambda a, n: np.zeros((0, 16), np.float32), "fixed has no rows"),
    ("rank", lambda a, n: 20, "rank \\+ biases = 21"),
    ("rank", lambda a, n: -1, "rank must be >= 0"),
    ("n_threads", lambda a, n: 0, "n_threads must be >= 1"),
    ("weights", lambda a, n: np.ones(5, np.float32), "weights must be"),
    ("weights", lambda a, n: np.ones(n), "weights must be a C-contiguous float32"),
    ("weights", lambda a, n: np.ones(2 * n, np.float32)[::2], "C-contiguous"),
    ("prior", lambda a, n: np.eye(4), "prior must be a 5 x 5"),
    ("prior", lambda a, n: np.triu(np.ones((5, 5))), "symmetric"),
    ("prior", lambda a, n: np.full((5, 5), np.nan), "finite"),
    ("prior_h", lambda a, n: np.ones(4), "prior_h must be"),
    ("bias_lam", lambda a, n: np.ones(3), "bias_lam must be a C-contiguous float64 array of "
     "length 15"),
    ("bias_lam", lambda a, n: np.ones(15, np.float32), "bias_lam must be a C-contiguous float64"),
    ("sample_scale", lambda a, n: -1.0, "sample_scale"),
    ("sample_scale", lambda a, n: np.inf, "sample_scale"),
    ("seed", lambda a, n: -3, "seed"),
    ("stream", lambda a, n: 2**64, "stream"),
    ("others", lambda a, n: [(np.zeros(3, np.int32), np.zeros((4, 16), np.float32))],
     "others\\[0\\] indices"),
    ("others", lambda a, n: ["bad"], "others\\[0\\] must be an"),
    ("others", lambda a, n: [(np.zeros(n, np.int32), np.zeros((4, 32), np.float32))],
     "others\\[0\\] factor"),
    ("others", lambda a, n: [(np.zeros(n, np.int32), np.zeros((4, 16)))],
     "others\\[0\\] factor must be .* float32"),
    ("others", lambda a, n: [(np.zeros(n, np.int32), np.zeros((4, 16), np.float32))] * 9,
     "at most 8 others"),
    ("solver", lambda a, n: "lu", "solver must be"),
    ("cg_steps", lambda a, n: 0, "cg_steps must be"),
]


@pytest.mark.parametrize("name, value, message", ENTRY_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(ENTRY_CASES)])
def test_entry_checks_name_the_bad_array(name, value, message):
    args, kw = make_problem(np.float32, 4, True, "als")
    with pytest.raises((ValueError, TypeError), match=message):
        _bad(args, kw, **{name: value(args, args[2].shape[0])})


def test_sampling_needs_the_cholesky_solver():
    args, kw = make_problem(np.float32, 4, True, "als")
    with pytest.raises(ValueError, match="sampling"):
        _bad(args, kw, solver="cg", sample_scale=1.0)


# ------------------------------------------------------------------ ALS(solver="cg")


def _numpy_objective(model, R, reg, alpha):
    """ALS's documented objective at the model's point, in float64 numpy (the
    factors' penalty × s, the power of two nearest the values' spread)."""
    rows, cols, values = R.coo()
    s = float(2.0 ** np.round(np.log2(np.std(values, dtype=np.float64))))
    assert model.value_scale_ == s
    A = model.factors_.left.astype(np.float64)
    B = model.factors_.right.astype(np.float64)
    u, c = model.row_bias_.astype(np.float64), model.col_bias_.astype(np.float64)
    pred = model.mean_ + u[rows] + c[cols] + np.einsum("ij,ij->i", A[rows], B[cols])
    res = values.astype(np.float64) - pred
    lam_r = reg * R.row_counts.astype(np.float64) ** alpha
    lam_c = reg * R.col_counts.astype(np.float64) ** alpha
    # The biases' dampings β (bias_reg; the factors' λ when the model has none).
    beta_r = getattr(model, "reg_users_", None)
    beta_c = getattr(model, "reg_items_", None)
    pen = (s * (lam_r @ np.sum(A * A, 1) + lam_c @ np.sum(B * B, 1))
           + (lam_r @ (u * u) if beta_r is None else beta_r * (u @ u))
           + (lam_c @ (c * c) if beta_c is None else beta_c * (c @ c)))
    return 0.5 * (res @ res + pen)


def _ratings(dtype, m=300, n=200, nnz=6000, seed=0):
    from lorank import Ratings
    rng = np.random.default_rng(seed)
    cells = rng.choice(m * n, nnz, replace=False)
    rows, cols = np.divmod(cells, n)
    P, Q = rng.standard_normal((m, 4)), rng.standard_normal((n, 4))
    values = 3 + np.einsum("ij,ij->i", P[rows], Q[cols]) + 0.3 * rng.standard_normal(nnz)
    return Ratings(rows, cols, values.astype(dtype), shape=(m, n))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("steps", [1, 3])
def test_als_cg_objective_never_increases_in_numpy(dtype, steps):
    from lorank import ALS
    R = _ratings(dtype)
    seen = []
    model = ALS(8, reg=0.5, solver="cg", cg_steps=steps, max_iter=8, tol=0, dtype=dtype,
                n_threads=2, random_state=0,
                callback=lambda mdl, it: seen.append(_numpy_objective(mdl, R, 0.5, 0.5)))
    model.fit(R)
    seen = np.array(seen)
    assert (np.diff(seen) <= 1e-6 * seen[:-1]).all()
    assert seen[-1] < 0.8 * seen[0]
    np.testing.assert_allclose(model.history_["objective"], seen, rtol=1e-4)


def test_als_cg_approaches_the_exact_fit():
    from lorank import ALS
    R = _ratings(np.float64)
    exact = ALS(6, reg=0.5, max_iter=30, tol=0, dtype=np.float64, random_state=0).fit(R)
    cg = ALS(6, reg=0.5, solver="cg", cg_steps=3, max_iter=30, tol=0, dtype=np.float64,
             random_state=0).fit(R)
    cg1 = ALS(6, reg=0.5, solver="cg", cg_steps=1, max_iter=30, tol=0, dtype=np.float64,
              random_state=0).fit(R)
    f_exact = exact.history_["objective"][-1]
    f_cg, f_cg1 = cg.history_["objective"][-1], cg1.history_["objective"][-1]
    assert f_exact <= f_cg <= f_cg1
    assert f_cg <= 1.01 * f_exact  # 3 warm-started steps: close after 30 epochs


def test_als_cg_independent_of_threads():
    from lorank import ALS
    R = _ratings(np.float32)
    fits = [ALS(6, solver="cg", max_iter=3, tol=0, n_threads=t, random_state=0).fit(R)
            for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.factors_.left, fits[0].factors_.left)
        np.testing.assert_array_equal(other.factors_.right, fits[0].factors_.right)
        np.testing.assert_array_equal(other.row_bias_, fits[0].row_bias_)
        np.testing.assert_array_equal(other.col_bias_, fits[0].col_bias_)
        assert other.mean_ == fits[0].mean_


@pytest.mark.parametrize("params, error, message", [
    ({"solver": "lu"}, ValueError, "solver must be"),
    ({"solver": "cg", "cg_steps": 0}, ValueError, "cg_steps must be >= 1"),
    ({"solver": "cg", "cg_steps": 1.5}, TypeError, "cg_steps must be an integer"),
])
def test_als_rejects_bad_solver_parameters(params, error, message):
    from lorank import ALS
    with pytest.raises(error, match=message):
        ALS(4, **params).fit(_ratings(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["tiled", "rank1", "syrk", "fused"])
@pytest.mark.parametrize("variant", ["als", "weights+prior", "hadamard2", "sampled"])
# Rows of one 64-byte vector (the fused Gram's, with AVX-512): 3 + biases and 10 in
# both dtypes, 15 + biases in float32; wider rows fall back to the blocks.
@pytest.mark.parametrize("rank, biases", [(3, True), (10, False), (15, True), (40, True),
                                          (70, True)])
def test_every_gram_path_matches_numpy(dtype, path, variant, rank, biases, simd):
    # The crossover benchmark forces each path; auto must pick among equals.
    args, kw = make_problem(dtype, rank, biases, variant)
    previous = _als._set_gram_path(path)
    try:
        check_against_reference(args, kw, dtype)
        # Thread counts change nothing, on every path.
        outs = [run(args, kw, n_threads=t) for t in (1, 3)]
    finally:
        _als._set_gram_path(previous)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_gram_path_names_are_checked():
    with pytest.raises(ValueError, match="gram path must be one of"):
        _als._set_gram_path("blas")
    assert _als._set_gram_path("auto") == "auto"


# ------------------------------------------------------------------ batched solves


def many_targets(dtype, rank, variant, n_targets=200, n_fixed=400, seed=3, **kw):
    """A problem with enough targets for full chunks of 16 (and remainders), with
    empty targets scattered among them."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 3 * (rank + 1) + 20, n_targets)
    counts[::37] = 0
    return make_problem(dtype, rank, True, variant, counts=counts, n_fixed=n_fixed,
                        seed=seed, **kw)


def _unbatched(args, kw, n_threads=2):
    previous = _als._set_batch_solve(False)
    try:
        return run(args, kw, n_threads=n_threads)
    finally:
        _als._set_batch_solve(previous)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights", "prior", "sampled", "everything"])
# d = 4, 11 (one AVX-512 vector in float32), 16 (the batch's widest), 21 (one by one)
@pytest.mark.parametrize("rank", [3, 10, 15, 20])
@pytest.mark.parametrize("tiled", [False, True])
def test_batched_solves_match_one_by_one_and_numpy(dtype, variant, rank, tiled, simd):
    # The batched Cholesky's lanes run the one-target sequence; with FMA the
    # roundings may differ in the last bits, never more.
    args, kw = many_targets(dtype, rank, variant)
    previous = _als._set_tiled_above(0 if tiled else 1 << 62)
    try:
        batched = check_against_reference(args, kw, dtype)
        single = _unbatched(args, kw)
    finally:
        _als._set_tiled_above(previous)
    d = rank + 1
    np.testing.assert_array_equal(batched[3], single[3])
    tol = 4 * KTOL[dtype]
    np.testing.assert_allclose(batched[0][:, :d], single[0][:, :d], rtol=tol,
                               atol=tol * np.abs(single[0][:, :d]).max())
    np.testing.assert_allclose(batched[1], single[1], rtol=1e-3 if dtype == np.float32
                               else 1e-9, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "weights+prior", "sampled", "everything"])
@pytest.mark.parametrize("rank", [3, 10, 15])
@pytest.mark.parametrize("tiled", [False, True])
def test_batched_solves_bitwise_independent_of_threads_and_chunks(dtype, variant, rank,
                                                                  tiled):
    # 200 targets: chunks of 16 with one thread, of 6 with two, 1 with eight (the
    # chunk follows the thread count); a target's result must not move.
    args, kw = many_targets(dtype, rank, variant)
    previous = _als._set_tiled_above(0 if tiled else 1 << 62)
    try:
        one = run(args, kw, n_threads=1)
        for n_threads in (2, 3, 8):
            for a, b in zip(one, run(args, kw, n_threads=n_threads)):
                np.testing.assert_array_equal(a, b)
        # Fewer targets (other batch compositions): the same rows.
        sub = list(args)
        keep = 50
        sub[0] = args[0][:keep + 1].copy()
        n = sub[0][-1]
        sub[1], sub[2], sub[4], sub[6] = args[1][:n], args[2][:n], args[4][:keep], args[6][:keep]
        sub_kw = dict(kw)
        if "weights" in kw:
            sub_kw["weights"] = kw["weights"][:n].copy()
        if "others" in kw:
            sub_kw["others"] = tuple((i[:n].copy(), F) for i, F in kw["others"])
        part = run(tuple(sub), sub_kw, n_threads=3)
    finally:
        _als._set_tiled_above(previous)
    for a, b in zip(one, part):
        np.testing.assert_array_equal(a[:keep], b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "everything"])
@pytest.mark.parametrize("noise", [3.0, 1e-4])
def test_tiled_sweep_of_many_tiles_is_bitwise_independent_of_threads(dtype, variant,
                                                                      noise, tiled):
    # Tiles of 8 rows: 50 tiles, each a parallel loop over every target
    # that must end (a barrier) before the next begins and before the solves; a
    # close fit (little noise) also sums its residuals over the same tiles after
    # the solves. A thread that ran ahead into the next tile would read a cursor
    # not yet moved, or solve a target still being summed.
    args, kw = many_targets(dtype, 10, variant, noise=noise, reg=0.3 if noise > 1 else 0.03)
    previous = _als._set_tile_rows(8)
    try:
        one = check_against_reference(args, kw, dtype)
        for n_threads in (1, 3, 8):
            for _ in range(2):
                for a, b in zip(one, run(args, kw, n_threads=n_threads)):
                    np.testing.assert_array_equal(a, b)
    finally:
        _als._set_tile_rows(previous)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["als", "sampled", "everything"])
@pytest.mark.parametrize("rank", [3, 10])
def test_batched_not_positive_definite_targets_are_reported_per_target(dtype, variant,
                                                                       rank):
    # Bad targets at several lanes of a batch: each reported, its row unchanged;
    # its batch mates solved as if alone.
    args, kw = many_targets(dtype, rank, variant, n_targets=64)
    args = list(args)
    if "prior" in kw:
        kw["prior"] = kw["prior"] * 0
    lam = args[6].copy() + 0.5
    bad = np.array([1, 5, 15, 16, 33, 63])  # (0 and 37 are empty)
    lam[bad] = -1e6
    args[6] = lam
    x, sse, rsum, status = run(args, kw, n_threads=1)
    single = _unbatched(args, kw, n_threads=1)
    assert (status[bad] > 0).all() and (np.delete(status, bad) == 0).all()
    np.testing.assert_array_equal(status, single[3])
    np.testing.assert_array_equal(x[bad], args[4][bad])
    assert (sse[bad] == 0).all() and (rsum[bad] == 0).all()
    assert np.isfinite(x).all()
    tol = 4 * KTOL[dtype]
    np.testing.assert_allclose(x, single[0], rtol=tol, atol=tol * np.abs(single[0]).max())


def test_switches_are_checked_and_return_the_previous_setting():
    assert _als._set_batch_solve(False) is True
    assert _als._set_batch_solve(True) is False
    before = _als._set_tiled_above(123)
    assert _als._set_tiled_above(before) == 123
    with pytest.raises(ValueError, match="n_bytes must be >= 0"):
        _als._set_tiled_above(-1)
    before = _als._set_tile_bytes(4096)
    assert _als._set_tile_bytes(before) == 4096
    with pytest.raises(ValueError, match="n must be >= 1"):
        _als._set_tile_bytes(0)


def _fake_caches(root, caches):
    for i, (level, kind, size) in enumerate(caches):
        index = root / f"index{i}"
        index.mkdir()
        for name, text in (("level", level), ("type", kind), ("size", size)):
            if text is not None:
                (index / name).write_text(f"{text}\n")
    return str(root)


@pytest.mark.parametrize("caches, expected", [
    # A Zen 4 core: L1d, L1i, L2, L3 (the L3 is the answer).
    ([(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
      (3, "Unified", "32768K")], 32 << 20),
    ([(3, "Unified", "96M"), (2, "Unified", "1M")], 96 << 20),
    # An eDRAM L4 is skipped; so is a huge instruction cache (absurd, but typed).
    ([(3, "Unified", "8192K"), (4, "Unified", "131072K")], 8 << 20),
    ([(2, "Instruction", "64M"), (3, "Unified", "6M")], 6 << 20),
    # Unreadable, malformed or missing entries are skipped.
    ([(3, "Unified", "abc"), (3, "Unified", ""), (2, "Unified", "12M")], 12 << 20),
    ([(3, "Unified", None), (2, "Data", "2M")], 2 << 20),
    # Nothing of 1 MiB (a VM that shows only a small L2), or no caches: the default.
    ([(2, "Unified", "512K")], 7 << 20),
    ([], 7 << 20),
])
def test_last_level_cache_reading(tmp_path, caches, expected):
    root = _fake_caches(tmp_path, caches)
    assert _als._last_level_cache_bytes(default=7 << 20, root=root) == expected
    assert _als._last_level_cache_bytes(default=7 << 20, root=str(tmp_path / "none")) == 7 << 20


@pytest.mark.parametrize("llc, expected", [
    (32 << 20, (16 << 20, 8 << 20)),    # this machine's: tiles of 8 MiB past 16 MiB
    (96 << 20, (48 << 20, 24 << 20)),
    (2 << 20, (16 << 20, 1 << 20)),     # never tiny tiles or a tiny threshold
    (1 << 30, (512 << 20, 32 << 20)),   # tiles within the measured range
])
def test_tiling_for_a_cache(llc, expected):
    assert _als._tiling_for(llc) == expected


def test_tiles_follow_the_last_level_cache():
    # The module's settings are _tiling_for(this machine's cache).
    tile = _als._set_tile_bytes(1)
    _als._set_tile_bytes(tile)
    above = _als._set_tiled_above(0)
    _als._set_tiled_above(above)
    assert (above, tile) == _als._tiling_for(_als._last_level_cache_bytes())


def test_bias_lam_needs_the_bias_lane_and_penalizes_only_it():
    args, kw = make_problem(np.float64, 3, False, "als")
    with pytest.raises(ValueError, match="bias_lam needs the bias lane"):
        run(args, dict(kw, bias_lam=np.ones(args[4].shape[0])))
    # Per target: (G + diag(λ_j, λ_j, λ_j, β_j)) x = b, the factor lanes keeping λ_j.
    args, kw = make_problem(np.float64, 3, True, "als")
    n = args[4].shape[0]
    beta = np.linspace(0.0, 40.0, n)
    x, sse, rsum, _ = run(args, dict(kw, bias_lam=beta))
    indptr, indices, values, fixed, _, mean, lam, _, rank = args
    for j in range(n):
        sl = slice(indptr[j], indptr[j + 1])
        if sl.start == sl.stop:
            assert not x[j, :4].any()  # an empty target: a zero row still
            continue
        f = np.hstack([fixed[indices[sl], :3], np.ones((sl.stop - sl.start, 1))])
        t = values[sl] - mean - fixed[indices[sl], 3]
        y = np.linalg.solve(f.T @ f + np.diag([lam[j]] * 3 + [beta[j]]), f.T @ t)
        np.testing.assert_allclose(x[j, :4], y, rtol=1e-9, atol=1e-12)
        assert sse[j] == pytest.approx(np.sum((t - f @ y) ** 2), rel=1e-9)
        assert rsum[j] == pytest.approx(np.sum(t - f @ y), rel=1e-7, abs=1e-9)


# ------------------------------------------------------------------ factored weights


def lane_problem(dtype, rank, biases, variant, target_weights=True, seed=0, **kw):
    """A problem whose weights factor, w_p = τ_j κ_i (target j, fixed row i): κ in
    the spare lane d of the fixed rows (and a scale in every ``others`` factor's lane
    d, multiplied in), τ per target. Returns (args, lane kw, the same weights as an
    nnz array in the kernel's dtype, τ)."""
    args, kw = make_problem(dtype, rank, biases, variant, seed=seed, **kw)
    kw.pop("weights", None)
    rng = np.random.default_rng(seed + 99)
    d = rank + biases
    indptr, indices, values, fixed = args[:4]
    assert d < fixed.shape[1], "the problem needs a spare lane"
    fixed = fixed.copy()
    fixed[:, d] = rng.exponential(1.0, fixed.shape[0])
    fixed[::13, d] = 0  # zero weights are allowed
    w = fixed[indices, d]
    others = []
    for idx_k, F_k in kw.get("others", ()):
        F_k = F_k.copy()
        F_k[:, d] = rng.uniform(0.5, 2.0, F_k.shape[0])
        w = w * F_k[idx_k, d]  # in the kernel's dtype and order
        others.append((idx_k, F_k))
    if others:
        kw["others"] = tuple(others)
    args = args[:3] + (fixed,) + args[4:]
    n = len(indptr) - 1
    tau = rng.exponential(1.0, n) + 0.05
    lane_kw = dict(kw, weight_lane=d)
    if target_weights:
        lane_kw["target_weights"] = tau
    return args, lane_kw, w.astype(dtype), tau


def as_nnz_weights(args, lane_kw, w, tau):
    """lane_kw with the factored weights as the one nnz array τ_j κ_i (float64)."""
    owner = np.repeat(np.arange(len(tau)), np.diff(args[0]))
    kw = {k: v for k, v in lane_kw.items() if k not in ("weight_lane", "target_weights")}
    kw["weights"] = tau[owner] * w.astype(np.float64)
    return kw


LANE_RANKS = [(3, True), (10, False), (14, True), (40, True)]  # 14 + 1: the last lane free


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["auto", "tiled", "rank1", "syrk", "fused"])
@pytest.mark.parametrize("variant", ["als", "sampled", "hadamard2", "bias_lam+prior"])
@pytest.mark.parametrize("rank, biases", LANE_RANKS)
@pytest.mark.parametrize("noise", [3.0, 1e-3])  # identity / direct residual sums
def test_factored_weights_match_numpy_with_their_products(dtype, path, variant, rank,
                                                          biases, noise):
    # Lane and target weights are the nnz weights τ_j κ_i without the nnz array.
    args, lane_kw, w, tau = lane_problem(dtype, rank, biases, variant, noise=noise,
                                         reg=0.3 if noise > 1 else 0.03)
    ref_kw = as_nnz_weights(args, lane_kw, w, tau)
    previous = _als._set_gram_path(path)
    try:
        check_against_reference(args, lane_kw, dtype, ref_kw=ref_kw)
        outs = [run(args, lane_kw, n_threads=t) for t in (1, 3)]
    finally:
        _als._set_gram_path(previous)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["auto", "tiled", "rank1", "syrk", "fused", "cg",
                                  "tiled_sweep"])
@pytest.mark.parametrize("variant", ["als", "sampled", "hadamard2"])
@pytest.mark.parametrize("rank, biases", LANE_RANKS)
def test_lane_weights_are_bitwise_the_nnz_weights_they_equal(dtype, path, variant, rank,
                                                            biases, simd):
    # Without target weights, a lane weight is the very float the nnz array holds:
    # every path does the same arithmetic on it.
    if path == "cg" and variant == "sampled":
        pytest.skip("sampling needs the Cholesky solve")
    args, lane_kw, w, _ = lane_problem(dtype, rank, biases, variant, target_weights=False,
                                       n_fixed=3000 if path == "tiled_sweep" else 600)
    nnz_kw = {k: v for k, v in lane_kw.items() if k != "weight_lane"}
    nnz_kw["weights"] = w
    extra = {"solver": "cg", "cg_steps": 3} if path == "cg" else {}
    saved = (_als._set_gram_path(path if path in ("tiled", "rank1", "syrk", "fused")
                                 else "auto"),
             _als._set_tiled_above(0 if path == "tiled_sweep" else 1 << 62),
             _als._set_tile_bytes(1 << 14))
    try:
        lane = run(args, dict(lane_kw, **extra))
        nnz = run(args, dict(nnz_kw, **extra))
    finally:
        _als._set_gram_path(saved[0])
        _als._set_tiled_above(saved[1])
        _als._set_tile_bytes(saved[2])
    for a, b in zip(lane, nnz):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["sampled", "bias_lam+prior"])
@pytest.mark.parametrize("noise", [3.0, 1e-3])
def test_factored_weights_tiled_sweep_matches_numpy(dtype, variant, noise, tiled):
    rank = 4
    n_fixed = 3 * (1 << 20) // _factor_storage(1, rank + 1, dtype).nbytes
    args, lane_kw, w, tau = lane_problem(dtype, rank, True, variant, n_fixed=n_fixed,
                                         noise=noise, reg=0.3 if noise > 1 else 0.03)
    ref_kw = as_nnz_weights(args, lane_kw, w, tau)
    check_against_reference(args, lane_kw, dtype, ref_kw=ref_kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sweep", ["direct", "tiled"])
def test_weight_sums_are_each_targets_sum_of_weights(dtype, sweep):
    args, lane_kw, w, tau = lane_problem(dtype, 10, True, "sampled")
    indptr = args[0]
    sums = np.full(len(tau), np.nan)
    saved = _als._set_tiled_above(0 if sweep == "tiled" else 1 << 62)
    try:
        run(args, dict(lane_kw, weight_sums=sums))
    finally:
        _als._set_tiled_above(saved)
    owner = np.repeat(np.arange(len(tau)), np.diff(indptr))
    expected = np.bincount(owner, tau[owner] * w.astype(np.float64), minlength=len(tau))
    np.testing.assert_allclose(sums, expected, rtol=KTOL[dtype] * 10, atol=1e-12)
    assert (sums[np.diff(indptr) == 0] == 0).all()


@pytest.mark.parametrize("extra, message", [
    ({"weight_lane": 10}, r"weight_lane must be a padding lane .* \[11, 16\), got 10"),
    ({"weight_lane": 16}, r"weight_lane must be a padding lane"),
    ({"weight_lane": 11, "weights": "nnz"}, "pass weights or weight_lane, not both"),
    ({"target_weights": "tau", "solver": "cg"}, "target_weights and weight_sums need"),
    ({"weight_sums": np.empty(3)}, "weight_sums must be a C-contiguous float64 array"),
    ({"target_weights": np.ones(2)}, "target_weights must be a C-contiguous float64"),
])
def test_factored_weight_arguments_are_checked(extra, message):
    args, lane_kw, w, tau = lane_problem(np.float32, 10, True, "als")
    kw = {k: v for k, v in lane_kw.items() if k not in ("weight_lane", "target_weights")}
    extra = dict(extra)
    if extra.get("weights") == "nnz":
        extra["weights"] = w
    if isinstance(extra.get("target_weights"), str):
        extra["target_weights"] = tau
    with pytest.raises(ValueError, match=message):
        run(args, dict(kw, **extra))


def test_weight_sums_need_the_bias_lane():
    args, lane_kw, w, tau = lane_problem(np.float64, 10, False, "als")
    with pytest.raises(ValueError, match="weight_sums needs the bias lane"):
        run(args, dict(lane_kw, weight_sums=np.empty(len(tau))))
