"""lorank.ImplicitALS vs implicit's AlternatingLeastSquares on the same objective.

Speed: seconds per iteration, side by side in one run, on (a) the last.fm-360k
shaped synthetic play counts (``datasets.synthetic_implicit``; full size
359,347 x 160,168, 17.5M pairs) and (b) MovieLens 100K with ratings >= 4 as
positives (0/1). Both libraries get the same CSR (users x items, float32), the
same confidences, λ, factors and iterations, 2 threads, BLAS held to 1 thread.
implicit's confidence is its data times alpha (c = α·r, and c − 1 weights the
Gram), Hu et al.'s and lorank's is 1 + α·r: implicit is given the data 1 + α·r
with alpha=1, so both minimize Σ c (p − xᵀy)² + λ(‖X‖² + ‖Y‖²) exactly.
Training loss: implicit's own ``calculate_loss`` on each library's final
factors (lorank's ``history_["loss"]`` is the same number, from its own pass).

Quality (ML-100K, ratings >= 4 positive, per-user 80/20 split, 5 seeds):
precision@10 / NDCG@10 of both at the same hyperparameters, lorank's defaults,
and Popularity, all scored by the same top-10 code (lorank's Recommender on
each model's factors, seen items filtered) and ``lorank.metrics``.

Memory (``python bench/run.py implicit_memory``, bench_implicit_memory.py):
peak RSS of a fit at the last.fm shape (a fresh process per library: the
high-water mark is reset after the data is built, so it measures the fit).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import load1

HERE = Path(__file__).resolve().parent
ML100K = Path("/work/shared/data/ml-100k/u.data")
LASTFM = (359_347, 160_168, 17_535_655)
SCALE = {"small": 0.05, "full": 1.0}
ITERS = {"small": 3, "full": 2}
ROUNDS = {"small": 3, "full": 2}
# ML-100K iterations take milliseconds: many interleaved rounds, so the minimum
# (the least disturbed run) and the spread mean something on a loaded machine.
ML_ITERS, ML_ROUNDS = 5, 12
FACTORS = (10, 64)
# lorank's exact solver at factors 64 on the full last.fm shape (O(nnz r²) per
# half-step) is left to the small size and ML-100K: its row is the loss, not the
# speed target, and it would take most of the run on a shared machine.
EXACT_64_FULL = False
ALPHA, REG = 5.0, 30.0  # good for ML-100K positives at 64 factors (precision@10 ~0.22)
SEEDS = 5

NOTES = (
    "s/it = seconds per iteration: min [median, max] over all rounds' iterations "
    "(methods interleaved per round); x_cg = implicit CG's median / this median, "
    "x_cg_min = implicit CG's min / this min (the least-disturbed iterations); "
    "cpu_s = median process CPU seconds (both threads) per iteration after the first, "
    "between the libraries' per-iteration callbacks, x_cg_cpu its ratio: the work "
    "done, which waiting for a core on a loaded machine does not inflate (run with "
    "OMP_WAIT_POLICY=passive so idle OpenMP threads sleep rather than spin). "
    "loss = implicit.cpu._als.calculate_loss on the final factors after the "
    "iterations (same for both). quality rows: mean ± std over 5 per-user 80/20 "
    "splits of ML-100K positives (rating >= 4). "
    "implicit starts from lorank's initial factors. lorank "
    "cg = 3 CG steps preconditioned by YᵀY + λI (implicit: 3 plain CG steps)."
)


def parameters(size):
    m, n, nnz = _lastfm_shape(size)
    return dict(lastfm_shape=f"{m}x{n}", lastfm_nnz=nnz, alpha=ALPHA, reg=REG,
                factors=list(FACTORS), iterations=ITERS[size], rounds=ROUNDS[size],
                ml100k_iterations=ML_ITERS, ml100k_rounds=ML_ROUNDS,
                lorank_exact_at_64_on_lastfm=size == "small" or EXACT_64_FULL,
                omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                dtype="float32", blas_threads=1)


def _lastfm_shape(size):
    m, n, nnz = LASTFM
    s = SCALE[size]
    return round(m * s), round(n * s), round(nnz * s)


def ml100k_positives():
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    keep = data[:, 2] >= 4
    return lorank.Ratings.from_labels(data[keep, 0], data[keep, 1],
                                      np.ones(int(keep.sum()), np.float32))


def lastfm(size):
    """The synthetic set, cached as a CSR in the temporary directory (the memory
    runs load it in fresh processes)."""
    import tempfile

    import lorank

    m, n, nnz = _lastfm_shape(size)
    cache = Path(tempfile.gettempdir()) / f"lorank-bench-implicit-{m}x{n}-{nnz}.npz"
    if cache.exists():
        z = np.load(cache)
        return lorank.Ratings.from_csr(z["indptr"], z["indices"], z["values"], (m, n))
    R = lorank.datasets.synthetic_implicit(m, n, nnz, random_state=0)
    np.savez(cache, indptr=R.csr.indptr, indices=R.csr.indices, values=R.csr.values)
    return R


def _factors(X, Y):
    """implicit's factors in lorank's fitted protocol, for the shared top-k code."""
    from lorank import LowRank
    from lorank.models._estimator import CompletionModel

    class Factors(CompletionModel):
        biases = False

    model = Factors()
    model.factors_ = LowRank(np.ascontiguousarray(X), np.ascontiguousarray(Y))
    return model


def _implicit_model(factors, iters, threads, use_cg, seed=0):
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(factors=factors, regularization=REG, alpha=1.0,
                                   use_cg=use_cg, iterations=iters,
                                   calculate_training_loss=False, num_threads=threads,
                                   random_state=seed, dtype=np.float32)


def _confidence_csr(R):
    """The CSR implicit gets: data = 1 + α r (its c), users x items."""
    S = R.to_scipy("csr").astype(np.float32)
    S.data = (1 + ALPHA * S.data).astype(np.float32)
    return S


def speed(name, R, threads, iters, rounds, exact_64=True):
    import lorank
    from implicit.cpu import _als as implicit_als

    S = R.to_scipy("csr").astype(np.float32)
    C = _confidence_csr(R)
    rows = []
    for factors in FACTORS:
        # implicit starts from lorank's initial factors (random_state=0: uniform in
        # [0, 0.01), as implicit draws its own), so the losses compare the solvers.
        rng = np.random.default_rng(0)
        X0 = (rng.random((R.shape[0], factors)) * 0.01).astype(np.float32)
        Y0 = (rng.random((R.shape[1], factors)) * 0.01).astype(np.float32)

        def implicit_fit(use_cg):
            times, cpu = [], []

            def callback(it, seconds, loss):
                times.append(seconds)
                cpu.append(time.process_time())

            model = _implicit_model(factors, iters, threads, use_cg)
            model.user_factors, model.item_factors = X0.copy(), Y0.copy()
            model.fit(C, show_progress=False, callback=callback)
            return times, list(np.diff(cpu)), (model.user_factors, model.item_factors)

        def lorank_fit(solver):
            cpu = []
            model = lorank.ImplicitALS(factors, alpha=ALPHA, reg=REG, solver=solver,
                                       max_iter=iters, n_threads=threads, random_state=0,
                                       callback=lambda m, it: cpu.append(time.process_time()))
            model.fit(S)
            X, Y = model.factors_.left, model.factors_.right
            return (model.history_["seconds"], list(np.diff(cpu)),
                    (X, Y, model.history_["loss"][-1]))

        methods = {("implicit", "cg (use_cg=True)"): lambda: implicit_fit(True)}
        if factors <= 16 or exact_64:
            methods[("lorank", "cholesky")] = lambda: lorank_fit("cholesky")
        if factors <= 16:
            methods[("implicit", "cholesky (use_cg=False)")] = lambda: implicit_fit(False)
        if _has_cg():
            methods[("lorank", "cg")] = lambda: lorank_fit("cg")
        times = {k: [] for k in methods}
        cpus = {k: [] for k in methods}
        last = {}
        loads = []
        for _ in range(rounds):
            for key, fit in methods.items():
                t, c, result = fit()
                times[key] += t
                cpus[key] += c
                last[key] = result
                loads.append(load1())
        ref = ("implicit", "cg (use_cg=True)")
        base = float(np.median(times[ref]))
        base_min = float(np.min(times[ref]))
        base_cpu = float(np.median(cpus[ref])) if cpus[ref] else float("nan")
        for (lib, solver), t in times.items():
            X, Y = last[(lib, solver)][:2]
            loss = implicit_als.calculate_loss(C, np.ascontiguousarray(X),
                                               np.ascontiguousarray(Y), REG,
                                               num_threads=threads)
            own = last[(lib, solver)][2] if lib == "lorank" else None
            rows.append(dict(
                kind="speed", data=name, shape=f"{R.shape[0]}x{R.shape[1]}", nnz=R.nnz,
                factors=factors, library=lib, solver=solver, threads=threads,
                iterations=iters, min_s=min(t), median_s=float(np.median(t)),
                max_s=max(t), x_cg=base / float(np.median(t)), x_cg_min=base_min / min(t),
                cpu_s=float(np.median(cpus[(lib, solver)])) if cpus[(lib, solver)] else None,
                x_cg_cpu=(base_cpu / float(np.median(cpus[(lib, solver)]))
                          if cpus[(lib, solver)] else None),
                rounds=rounds, loss=float(loss),
                own_loss=own, load1=max(loads)))
    return rows


def _has_cg():
    """Whether lorank's half-step takes solver="cg" (h-kernel's phase 2)."""
    import inspect

    from lorank._kernels import _als

    try:
        return "solver" in inspect.signature(_als.half_step).parameters
    except (TypeError, ValueError):
        return "solver" in (_als.half_step.__doc__ or "")


def quality(threads):
    import lorank

    R = ml100k_positives()
    results = {}
    for seed in range(SEEDS):
        train, test = R.split(0.2, random_state=seed, by="row")
        S = train.to_scipy("csr")
        train = lorank.Ratings.from_sparse(S)  # positions: the models are fitted on S
        test = lorank.Ratings.from_sparse(test.to_scipy("csr"))
        models = {
            "lorank ImplicitALS(64, alpha=%g, reg=%g)" % (ALPHA, REG):
                lambda: lorank.ImplicitALS(64, alpha=ALPHA, reg=REG, n_threads=threads,
                                           random_state=seed).fit(S),
            "implicit ALS(64, same c, reg=%g)" % REG: lambda: _fit_implicit(train, seed,
                                                                          threads),
            "lorank ImplicitALS() defaults": lambda: lorank.ImplicitALS(
                n_threads=threads, random_state=seed).fit(S),
            "lorank Popularity()": lambda: lorank.Popularity().fit(S),
        }
        for name, fit in models.items():
            model = fit()
            rec = lorank.Recommender.from_model(model, train)
            top, _ = rec.recommend_all(10)
            m = lorank.metrics.ranking_metrics(top, test, 10, threshold=None, train=train)
            for metric in ("precision", "ndcg", "map", "auc"):
                results.setdefault((name, metric), []).append(m[metric])
    rows = []
    for (name, metric), v in results.items():
        rows.append(dict(kind="quality", data="ml-100k >= 4", model=name,
                         metric=f"{metric}@10", mean=float(np.mean(v)),
                         std=float(np.std(v)), seeds=len(v)))
    return rows


def _fit_implicit(train, seed, threads):
    model = _implicit_model(64, 15, threads, True, seed)
    model.fit(_confidence_csr(train), show_progress=False)
    return _factors(model.user_factors, model.item_factors)


_RSS_CHILD = r"""
import json, sys, numpy as np
from threadpoolctl import threadpool_limits
sys.path.insert(0, {here!r})
import bench_implicit as b
lib, size, factors, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
R = b.lastfm(size)
S = R.to_scipy("csr").astype(np.float32)
if lib == "implicit":
    S = b._confidence_csr(R)
del R
import gc; gc.collect()
csr_bytes = S.data.nbytes + S.indices.nbytes + S.indptr.nbytes
# Both libraries imported before the reset: the figure is the fit's, not the import's.
import lorank
import implicit.cpu.als  # noqa: F401
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the high-water mark
before = status("VmRSS:")
with threadpool_limits(limits=1, user_api="blas"):
    if lib == "implicit":
        m = b._implicit_model(factors, 1, threads, True)
        m.fit(S, show_progress=False)
        fbytes = m.user_factors.nbytes + m.item_factors.nbytes
    else:
        # The documented no-copy path for a large CSR (the fit builds the CSC).
        X = lorank.Ratings.from_csr(S.indptr, S.indices, S.data, S.shape)
        m = lorank.ImplicitALS(factors, alpha=b.ALPHA, reg=b.REG, max_iter=1,
                               n_threads=threads, random_state=0).fit(X)
        fbytes = m.factors_.left.nbytes + m.factors_.right.nbytes
peak = status("VmHWM:")
print(json.dumps(dict(before=before, peak=peak, csr_bytes=csr_bytes, factor_bytes=fbytes)))
"""


def memory(size, threads):
    rows = []
    code = _RSS_CHILD.format(here=str(HERE))
    for factors in FACTORS:
        for lib in ("implicit", "lorank"):
            out = subprocess.run([sys.executable, "-c", code, lib, size, str(factors),
                                  str(threads)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            budget = 2 * r["csr_bytes"] + r["factor_bytes"]
            rows.append(dict(kind="rss", data="last.fm-shaped", factors=factors, library=lib,
                             fit_peak_mb=(r["peak"] - r["before"]) / 2**20,
                             budget_mb=budget / 2**20,
                             within=bool(r["peak"] - r["before"] <= budget),
                             csr_mb=r["csr_bytes"] / 2**20))
    return rows


def run(size, threads):
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        R = lastfm(size)
        print(f"last.fm-shaped data {R!r} built in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        rows += speed("last.fm-shaped", R, threads, ITERS[size], ROUNDS[size],
                      exact_64=size == "small" or EXACT_64_FULL)
        del R
        rows += speed("ml-100k >= 4", ml100k_positives(), threads, ML_ITERS, ML_ROUNDS)
        rows += quality(threads)
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return [{k: row.get(k) for k in keys} for row in rows]


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.path.insert(0, str(HERE))
    from _common import format_table

    print(format_table(run(sys.argv[1] if len(sys.argv) > 1 else "small", 2)))
