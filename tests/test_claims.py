"""The README's claims, each with a test that fails when the claim breaks.

- "never densified": fits and products on 2·10⁵ x 10⁵ (a dense float32 copy is
  80 GB) under an address-space limit and a tracemalloc bound;
- "atomic writes": a save whose write fails half way leaves the old file;
- "no pickle": a file whose arrays would unpickle is refused unread;
- "the objective never increases": recomputed in numpy after every half-step;
- "bitwise identical for any n_threads": 1, 2, 3 and 8 threads, every fitted
  attribute, with the kernels' team size showing the loops really ran in parallel
  (ALS, SoftImpute's gather and scatter passes, BayesianALS's sampled solves);
- the widest kernel widths against the numpy twins: the _fill pass at its widest
  factor row and SoftImpute at its widest rank (ALS's are in test_als_kernel).
"""

import io as _io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lorank
from lorank import ALS, BayesianALS, Ratings, SoftImpute
from lorank._kernels import _als, _fill
from lorank.models import softimpute as si
from lorank._threads import single_threaded_blas
from contract import assert_same_state, fitted_state
from lorank.linalg import sparse_plus_lowrank as splr

# ---------------------------------------------------------------- never densified

_HUGE = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    import numpy as np
    import scipy.sparse as sp
    import lorank

    m, n, nnz = 200_000, 100_000, 10_000
    rng = np.random.default_rng(0)
    flat = np.unique(rng.integers(0, m * n, 2 * nnz))[:nnz]
    flat = rng.permutation(flat)
    rows, cols = (flat // n).astype(np.int64), (flat % n).astype(np.int64)
    R = lorank.Ratings(rows, cols, rng.uniform(1, 5, nnz).astype(np.float32), shape=(m, n))
    models = {
        "ALS": lambda: lorank.ALS(5, max_iter=3, random_state=0, n_threads=2),
        "SoftImpute": lambda: lorank.SoftImpute(5, reg=1.0, max_iter=3, biases=True,
                                                random_state=0, n_threads=2),
    }
    # Warm up on a small problem first: OpenMP's threads and their malloc arenas
    # exist before the limit is set, so the limit bounds only the big fits.
    small = lorank.Ratings(rows % 50, cols % 40, R.coo()[2], shape=(50, 40),
                           duplicates="last")
    for make in models.values():
        make().fit(small)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    limit = vm + (1 << 30)  # 1 GiB more address space; dense X would need 80 GB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    peaks = {}
    tracemalloc.start()
    for name, make in models.items():
        tracemalloc.reset_peak()
        model = make().fit(R)
        p = model.predict(rows[:100], cols[:100])
        assert np.isfinite(p).all() and np.isfinite(model.factors_.left).all()
        peaks[name] = tracemalloc.get_traced_memory()[1]

    # SparsePlusLowRank S + L Rᵀ: products, entries, randomized SVD, against scipy
    # on the thin pieces (S @ M + L (Rᵀ M)).
    tracemalloc.reset_peak()
    L = lorank.LowRank(rng.standard_normal((m, 3)).astype(np.float32),
                       rng.standard_normal((n, 3)).astype(np.float32))
    Z = lorank.SparsePlusLowRank(R, L, n_threads=2)
    rows, cols, values = R.coo()
    S = sp.csr_matrix((values.astype(np.float64), (rows, cols)), shape=(m, n))
    Lf, Rf = L.left.astype(np.float64), L.right.astype(np.float64)
    M = rng.standard_normal((n, 4)).astype(np.float32)
    W = rng.standard_normal((m, 4)).astype(np.float32)
    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    i, j = np.concatenate([rows[:50], rows[:50] // 3]), np.concatenate([cols[:50], cols[:50] // 7])
    err = max(
        rel(Z @ M, S @ M + Lf @ (Rf.T @ M)),
        rel(Z.T @ W, S.T @ W + Rf @ (Lf.T @ W)),
        rel(Z.entries(i, j), S[i, j].A1 + np.sum(Lf[i] * Rf[j], 1)),
    )
    U, s, Vt = lorank.randomized_svd(Z, 3, random_state=0)
    assert U.shape == (m, 3) and Vt.shape == (3, n) and np.all(s > 0)
    peaks["SparsePlusLowRank"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"peaks": peaks, "err": err}))
""")

# Largest expected: the factor rows (m + n) x 16 float32 lanes (19 MB), a few
# copies of them and the spectral start's thin blocks. A dense m x n array,
# or even one dense row block of 1 % of it, is far above.
_PEAK_BOUND = 256 << 20


def test_huge_sparse_problems_are_never_densified():
    out = subprocess.run([sys.executable, "-c", _HUGE], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(result)
    for name, peak in result["peaks"].items():
        assert peak < _PEAK_BOUND, f"{name}: peak {peak / 2**20:.0f} MiB of numpy memory"
    assert result["err"] < 1e-5  # float32 products against float64 scipy


# ---------------------------------------------------------------- atomic writes


def _fitted(rank, seed=0):
    R = lorank.datasets.synthetic(60, 40, 800, random_state=seed)[0]
    return ALS(rank, max_iter=2, random_state=seed).fit(R)


def _write_half_then_fail(real):
    """np.savez that writes half the file's bytes where it was asked to, then fails
    as a full disk would."""

    def savez(file, *args, **kwds):
        buffer = _io.BytesIO()
        real(buffer, *args, **kwds)
        data = buffer.getvalue()
        if isinstance(file, (str, os.PathLike)):
            with open(file, "wb") as f:
                f.write(data[: len(data) // 2])
        else:
            file.write(data[: len(data) // 2])
            file.flush()
        raise OSError(28, "No space left on device")

    return savez


@pytest.mark.parametrize("exists", [True, False])
def test_a_save_that_fails_half_way_leaves_the_old_file(tmp_path, monkeypatch, exists):
    path = tmp_path / "model.npz"
    old = _fitted(2)
    if exists:
        old.save(path)
        before = path.read_bytes()
    monkeypatch.setattr(np, "savez", _write_half_then_fail(np.savez))
    with pytest.raises(OSError, match="No space left on device"):
        _fitted(3, seed=1).save(path)
    monkeypatch.undo()
    # Nothing else in the folder: the temporary file is gone.
    assert sorted(os.listdir(tmp_path)) == (["model.npz"] if exists else [])
    if exists:
        assert path.read_bytes() == before
        again = lorank.load(path)
        np.testing.assert_array_equal(again.factors_.left, old.factors_.left)


def test_a_recommender_save_that_fails_half_way_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "rec.npz"
    R = lorank.Ratings.from_labels(["a", "a", "b", "c"], [1, 2, 1, 2], [5.0, 3.0, 4.0, 1.0])
    lorank.Recommender(ALS(1, random_state=0)).fit(R).save(path)
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", _write_half_then_fail(np.savez))
    with pytest.raises(OSError, match="No space left on device"):
        lorank.Recommender(ALS(2, random_state=1)).fit(R).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["rec.npz"]


# ---------------------------------------------------------------- no pickle


class _Unpickles:
    """An object whose unpickling creates the file ``flag``."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return exec, (f"open({self.flag!r}, 'w').close()",)


@pytest.mark.parametrize("name", ["left", "row_bias", "extra"])
def test_load_never_unpickles(tmp_path, name):
    path, flag = tmp_path / "model.npz", tmp_path / "unpickled"
    _fitted(2).save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays[name] = np.array([_Unpickles(flag), 1], dtype=object)
    np.savez(path, **arrays)  # object arrays are pickled (allow_pickle defaults to True)
    # The file does unpickle when asked to...
    with np.load(path, allow_pickle=True) as data:
        data[name]
    assert flag.exists()
    flag.unlink()
    # ...but lorank.load refuses it without running it.
    with pytest.raises(ValueError, match=str(path)):
        lorank.load(path)
    assert not flag.exists()


# ---------------------------------------------------------------- the objective


def _ratings(dtype, m=70, n=50, nnz=1200, seed=3):
    rng = np.random.default_rng(seed)
    flat = rng.choice(m * n, nnz, replace=False)
    rows, cols = flat // n, flat % n
    values = 3 + rng.standard_normal(m)[rows] + rng.standard_normal(n)[cols] \
        + np.sum(rng.standard_normal((m, 3))[rows] * rng.standard_normal((n, 3))[cols], 1) \
        + 0.5 * rng.standard_normal(nnz)
    return Ratings(rows, cols, values.astype(dtype), shape=(m, n))


def _als_objective(R, A, B, mean, rank, biases, lam_rows, lam_cols, betas=None):
    """ALS's documented objective in float64 numpy, from the factor storage
    (factor lanes [:rank], the bias in lane rank); ``betas`` (β_u, β_c): the
    biases' dampings (None: the factors' λ)."""
    rows, cols, x = R.coo()
    A, B = A.astype(np.float64), B.astype(np.float64)
    d = rank + biases
    pred = np.sum(A[rows, :rank] * B[cols, :rank], 1) + mean
    if biases:
        pred += A[rows, rank] + B[cols, rank]
    res = x.astype(np.float64) - pred
    pen = lam_rows @ np.sum(A[:, :d] ** 2, 1) + lam_cols @ np.sum(B[:, :d] ** 2, 1)
    if biases and betas is not None:
        pen += ((betas[0] - lam_rows) @ A[:, rank] ** 2 + (betas[1] - lam_cols) @ B[:, rank] ** 2)
    return 0.5 * (res @ res + pen)


class _ObservedKernel:
    """Stands in for lorank._kernels._als: the numpy objective before and after every
    half-step of the fit (the bias-only sweeps of the start excluded)."""

    def __init__(self, objective, rank, m):
        self.objective, self.rank, self.m, self.seen = objective, rank, m, []

    def __getattr__(self, name):
        return getattr(_als, name)

    def half_step(self, *args, **kwargs):
        fixed, solved, mean = args[3:6]
        if args[8] != self.rank:
            return _als.half_step(*args, **kwargs)
        # The row factor A (m rows, m != n here) is fixed in the column half-step.
        A, B = (fixed, solved) if fixed.shape[0] == self.m else (solved, fixed)
        self.seen.append(self.objective(A, B, mean))
        out = _als.half_step(*args, **kwargs)
        self.seen.append(self.objective(A, B, mean))
        return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("weighted, init", [(0.5, "svd"), (True, "svd"), (False, "svd"),
                                            (0.5, "random")])
def test_als_objective_in_numpy_never_increases(monkeypatch, dtype, biases, weighted, init):
    import lorank.models.als

    raw = _ratings(dtype)
    # The kernel runs on the values / s (ALS.value_scale_, a power of two): the
    # objective of the data it sees, which is the documented one / s².
    s = float(2.0 ** np.round(np.log2(np.std(raw.coo()[2], dtype=np.float64))))
    R = raw._scaled(1 / s)
    rank, reg = 4, 0.3
    alpha = float(weighted)
    lam_r = reg * R.row_counts.astype(np.float64) ** alpha
    lam_c = reg * R.col_counts.astype(np.float64) ** alpha

    model = ALS(rank, reg=reg, weighted_reg=weighted, biases=biases, init=init, tol=0,
                max_iter=12, dtype=dtype, random_state=0)

    def betas():  # the biases' dampings, Baseline's, set before the iterations
        return (model.reg_users_, model.reg_items_) if biases else None

    def objective(A, B, mean):
        return _als_objective(R, A, B, mean, rank, biases, lam_r, lam_c, betas())

    kernel = _ObservedKernel(objective, rank, R.shape[0])
    monkeypatch.setattr(lorank.models.als, "_als", kernel)
    model.fit(raw)
    assert model.value_scale_ == s
    seen = np.array(kernel.seen)
    # 12 iterations, or fewer where the float32 objective stops going down (tol=0).
    assert len(seen) == 2 * 2 * model.n_iter_ and 8 <= model.n_iter_ <= 12
    # Before/after each solve, and across each refit of μ (the next solve's
    # "before" is at the refitted mean); then the model's final state (in the
    # units of the values / s: factors / √s, biases and μ / s).
    A, B = _storage(model, rank)
    for F in (A, B):
        F[:, :rank] /= np.sqrt(s)
        F[:, rank] /= s
    final = _als_objective(R, A, B, model.mean_ / s, rank, biases, lam_r, lam_c, betas())
    np.testing.assert_allclose(model.history_["objective"][-1] / s**2, final, rtol=1e-4)
    seen = np.append(seen, final)
    slack = {np.float32: 2e-6, np.float64: 1e-12}[dtype] * seen[:-1]
    assert np.all(np.diff(seen) <= slack), np.diff(seen).max()
    assert seen[-1] < 0.5 * seen[0]  # and it does go down


def _storage(model, rank):
    A = np.column_stack([model.factors_.left, model.row_bias_])
    B = np.column_stack([model.factors_.right, model.col_bias_])
    return A, B


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("reg", [0.0, 2.0])
def test_softimpute_objective_in_numpy_never_increases(monkeypatch, dtype, biases, reg):
    R = _ratings(dtype)
    rows, cols, x = R.coo()
    x = x.astype(np.float64)
    seen = []

    def record(U, d, V, off_l, off_r):
        # ½‖P_Ω(X − Z)‖² + λ Σ d² at the state U D² Vᵀ + offset.
        pred = np.sum(U[rows].astype(np.float64) * (d.astype(np.float64) ** 2)
                      * V[cols].astype(np.float64), 1)
        if biases:
            pred += np.sum(off_l.astype(np.float64)[rows] * off_r.astype(np.float64)[cols], 1)
        res = x - pred
        seen.append(0.5 * res @ res + reg * np.sum(d.astype(np.float64) ** 2))

    product, step = si._Passes.product, si._Step.__call__

    def observed_product(self, side, U, d, V):  # the start (the first pass with factors)
        if self.rank and not seen:
            r = self.rank
            record(U, d, V, self.factor["rows"][:, r:r + 2], self.factor["cols"][:, r:r + 2])
        return product(self, side, U, d, V)

    def observed_step(self, Y, MR, d1, V1, lam):  # the state after each B-step
        r = self.rank
        record(Y[:, :r] @ MR.astype(Y.dtype), d1, V1, Y[:, r:r + 2], self.V[:, r:r + 2])
        return step(self, Y, MR, d1, V1, lam)

    def after_iteration(model, it):  # and after each A-step
        U, d, V, offset = model._state
        record(U, d, V, *((offset.left, offset.right) if biases else (None, None)))

    monkeypatch.setattr(si._Passes, "product", observed_product)
    monkeypatch.setattr(si._Step, "__call__", observed_step)
    model = SoftImpute(4, reg=reg, biases=biases, tol=0, max_iter=15, dtype=dtype,
                       random_state=0, callback=after_iteration).fit(R)
    seen = np.array(seen)
    assert len(seen) == 2 * model.n_iter_ + 1 == 31
    slack = {np.float32: 2e-6, np.float64: 1e-12}[dtype] * seen[:-1]
    assert np.all(np.diff(seen) <= slack), np.diff(seen).max()
    assert seen[-1] < 0.5 * seen[0]


# ---------------------------------------------------------------- threads

THREADS = (1, 2, 3, 8)


class _TeamSpy:
    """Stands in for a kernel module: the team size of each call of the listed
    functions, as the module reports it."""

    def __init__(self, module, names):
        self.module, self.teams = module, {name: [] for name in names}
        for name in names:
            setattr(self, name, self._spy(name))

    def _spy(self, name):
        function = getattr(self.module, name)

        def call(*args, **kwargs):
            out = function(*args, **kwargs)
            self.teams[name].append(self.module.last_team_size())
            return out

        return call

    def __getattr__(self, name):
        return getattr(self.module, name)


def _fits(monkeypatch, make, R, spies):
    """{n_threads: (fitted state, {kernel function: team sizes seen})}."""
    out = {}
    for t in THREADS:
        watched = []
        for target, attr, module, names in spies:
            spy = _TeamSpy(module, names)
            monkeypatch.setattr(target, attr, spy)
            watched.append((target.__name__, spy))
        model = make(t).fit(R)
        out[t] = (fitted_state(model), {f"{where}.{k}" if len(spies) > 1 else k: set(v)
                                        for where, spy in watched
                                        for k, v in spy.teams.items()})
        monkeypatch.undo()
    return out


def _check_threads(results):
    ref = results[1][0]
    for t, (state, teams) in results.items():
        assert_same_state(state, ref, f"n_threads={t}")
        for name, sizes in teams.items():
            assert sizes == {t}, f"{name} ran with teams {sizes} for n_threads={t}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [True, False])
def test_als_bitwise_identical_for_any_thread_count(monkeypatch, dtype, biases):
    import lorank.models.als

    if not hasattr(_als, "last_team_size"):
        pytest.fail("lorank._kernels._als has no last_team_size(): cannot tell the loops ran in parallel")
    # Columns from 900 observations (several of the kernel's 128-row blocks) to 25.
    rng = np.random.default_rng(0)
    m, n = 1200, 40
    counts = np.minimum(m, 900 // np.arange(1, n + 1) + 3)
    rows = np.concatenate([rng.choice(m, c, replace=False) for c in counts])
    cols = np.repeat(np.arange(n), counts)
    # Rank 2 plus noise: the default's holdout path finds factors (on noise alone it
    # would rightly warn that they add nothing).
    P, Q = rng.standard_normal((m, 2)), rng.standard_normal((n, 2))
    values = 3 + np.einsum("ij,ij->i", P[rows], Q[cols]) + 0.3 * rng.standard_normal(rows.size)
    R = Ratings(rows, cols, values.astype(dtype), shape=(m, n))

    def make(t):
        return ALS(5, biases=biases, dtype=dtype, max_iter=4, tol=0, random_state=0,
                   n_threads=t)

    _check_threads(_fits(monkeypatch, make, R, [(lorank.models.als, "_als", _als, ["half_step"])]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("path", ["gather", "scatter"])
def test_softimpute_bitwise_identical_for_any_thread_count(monkeypatch, dtype, biases, path):
    R = _ratings(dtype, m=400, n=300, nnz=20_000)
    stride_bytes = 64  # rank 5 (+2 offset lanes): one 64-byte vector per row

    def make(t):
        if path == "scatter":
            # Both sides' rows "out of cache", the target side's in: the column pass
            # scatters (into fixed chunks), the row pass gathers.
            monkeypatch.setattr(splr.FillPass, "CACHE_BYTES", 300 * stride_bytes + 1)
        return SoftImpute(5, reg=1.0, biases=biases, dtype=dtype, max_iter=5, tol=0,
                          random_state=0, n_threads=t)

    names = ["gather", "scatter"]
    results = _fits(monkeypatch, make, R, [(splr, "_fill", _fill, names)])
    for t, (_, teams) in results.items():
        ran = {name for name, sizes in teams.items() if sizes}
        assert ran == ({"gather", "scatter"} if path == "scatter" else {"gather"}), ran
        for name in list(teams):
            if not teams[name]:
                del teams[name]
    _check_threads(results)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [True, False])
def test_bayesian_samples_bitwise_identical_for_any_thread_count(monkeypatch, dtype, biases):
    """A sampled model: every draw comes from a counter-based stream keyed by
    (seed, sweep, side, row), so 1, 2, 3 and 8 threads give the same chain."""
    import lorank.models.bayesian

    R = _ratings(dtype, m=400, n=60, nnz=6000)
    rows, cols, values = R.coo()
    valid = Ratings(rows[:300], cols[:300], values[:300], shape=R.shape)

    class Fit:  # fit(R, validation=...) as make(t).fit(R) for _fits
        def __init__(self, t):
            self.model = BayesianALS(4, n_samples=6, burn_in=2, biases=biases, dtype=dtype,
                                     random_state=5, n_threads=t)

        def fit(self, R):
            return self.model.fit(R, validation=valid)

    spies = [(lorank.models.als, "_als", _als, ["half_step"]),  # the ALS start
             (lorank.models.bayesian, "_als", _als, ["half_step"])]
    results = _fits(monkeypatch, Fit, R, spies)
    _check_threads(results)
    for state, teams in results.values():
        assert state["n_kept_"] == 4 and np.isfinite(state["history_valid_rmse"]).all()
    # And the chain is a chain: another seed draws other samples.
    other = BayesianALS(4, n_samples=6, burn_in=2, biases=biases, dtype=dtype, random_state=6,
                        n_threads=2).fit(R)
    assert not np.array_equal(other.factors_.left, results[1][0]["factors_left"])


# ---------------------------------------------------------------- widest widths

from _reference import fill_reference, soft_impute_reference  # noqa: E402

_WIDEST = {np.float32: 256, np.float64: 128}  # _fill.MAX_ROW_BYTES / itemsize


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", ["gather", "scatter"])
def test_fill_pass_at_its_widest_row_matches_numpy(dtype, form, simd):
    width = _fill.MAX_ROW_BYTES // np.dtype(dtype).itemsize
    assert width == _WIDEST[dtype]
    R = _ratings(dtype, m=70, n=50, nnz=1500)
    rng = np.random.default_rng(4)
    T = (0.1 * rng.standard_normal((70, width))).astype(dtype)
    O = (0.1 * rng.standard_normal((50, width))).astype(dtype)
    scale = (rng.random(width) + 0.5).astype(dtype)
    want, want_sse = fill_reference(*R.csr, T, scale, O)
    out = np.empty_like(T)
    if form == "gather":
        sse = np.empty(70)
        _fill.gather(*R.csr, T, scale, O, out, sse, 2)
        assert _fill.last_team_size() == 2
    else:
        chunks = np.array([0, 13, 14, 50], np.int64)
        acc, sse = np.empty((3, 70, width), dtype), np.empty(3)
        _fill.scatter(*R.csc, T * scale, O, chunks, acc, sse, out, 2)
        want_sse = np.array([want_sse.sum()])
        sse = np.array([sse.sum()])
    tol = {np.float32: 2e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(sse, want_sse, rtol=tol)
    # One vector wider is refused by the kernel's O(1) check.
    lanes = 64 // np.dtype(dtype).itemsize
    wide = np.zeros((70, width + lanes), dtype)
    with pytest.raises(ValueError, match=str(width + lanes)):
        _fill.gather(*R.csr, wide, np.zeros(width + lanes, dtype),
                     np.zeros((50, width + lanes), dtype), wide.copy(), np.empty(70), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("biases", [False, True])
def test_softimpute_at_its_widest_rank_matches_numpy(dtype, biases):
    """rank + the two centering lanes fill one 1024-byte factor row: rank 256
    (254 with biases) in float32, 128 (126) in float64, against the numpy
    softImpute-ALS iteration that never forms the filled-in matrix."""
    import scipy.linalg

    rank = _WIDEST[dtype] - 2 * biases
    m, n = rank + 30, rank + 8
    rng = np.random.default_rng(9)
    truth = rng.standard_normal((m, 6)) @ rng.standard_normal((6, n)) + 3
    flat = rng.choice(m * n, m * n // 3, replace=False)
    rows, cols = flat // n, flat % n
    values = (truth[rows, cols] + 0.3 * rng.standard_normal(flat.size)).astype(dtype)
    R = Ratings(rows, cols, values, shape=(m, n))
    lam, n_iter = 5.0, 3
    model = SoftImpute(rank, reg=lam, max_iter=n_iter, tol=0, biases=biases, dtype=dtype,
                       random_state=0, n_threads=2).fit(R)
    assert model.n_iter_ == n_iter
    rows, cols, values = R.coo()
    x = values.astype(np.float64)
    offset = 0.0
    if biases:  # the model's own centering (its lanes in dtype), then the same iteration
        offset = ((model.row_bias_ + dtype(model.mean_)).astype(np.float64)[:, None]
                  + model.col_bias_.astype(np.float64))
        x = x - offset[rows, cols]
    U0 = np.empty((m, rank), dtype)
    U0[:] = scipy.linalg.qr(np.random.default_rng(0).standard_normal((m, rank)),
                            mode="economic")[0]
    with single_threaded_blas():  # small SVDs: threads only contend
        s, Z = soft_impute_reference(rows, cols, x, (m, n), rank, lam, n_iter, U0)
    tol = {np.float32: 2e-4, np.float64: 1e-9}[dtype]
    np.testing.assert_allclose(model.singular_values_, s, rtol=tol, atol=tol * s[0])
    got = model.factors_.to_dense().astype(np.float64)
    assert np.linalg.norm(got - Z) < tol * np.linalg.norm(Z)
    assert 0 < model.effective_rank_ < rank  # λ leaves some components and zeroes others
    # One more rank does not fit the factor row: refused before any allocation.
    if rank < min(m, n):
        with pytest.raises(ValueError, match=f"rank={rank + 1} is too large for SoftImpute"):
            SoftImpute(rank + 1, biases=biases, dtype=dtype, max_iter=1).fit(R)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_implicit_bitwise_identical_for_any_thread_count(monkeypatch, dtype, solver):
    """ImplicitALS's exact and conjugate-gradient half-steps (the CG's shared
    preconditioner included): 1, 2, 3 and 8 threads, every call a full team."""
    import lorank.models.implicit_als

    rng = np.random.default_rng(2)
    R = _ratings(dtype, m=300, n=80, nnz=5000)
    rows, cols, _ = R.coo()
    counts = Ratings(rows, cols, rng.integers(1, 20, rows.size).astype(dtype), shape=R.shape)

    def make(t):
        return lorank.ImplicitALS(6, solver=solver, max_iter=4, dtype=dtype, random_state=0,
                                  n_threads=t)

    spies = [(lorank.models.implicit_als, "_als", _als, ["half_step"])]
    _check_threads(_fits(monkeypatch, make, counts, spies))
