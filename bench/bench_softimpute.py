"""SoftImpute at the Netflix size: seconds per iteration next to exact-ALS epochs,
and randomized_svd of a SparsePlusLowRank vs the same on its densified equivalent.

One process, one synthetic Netflix-shaped data set (``lorank.datasets.synthetic``
defaults). SoftImpute(rank=10, reg=1.0 (any λ costs the same), biases=True,
max_iter=3, tol=0) and ALS rank 10, biases, ALS-WR 0.05 (the defaults until
2026-11-29), spectral init with max_iter=3, tol=0; float32; both random_state=0.
Per-iteration seconds come from ``history_["seconds"]`` (SoftImpute's include
the training loss, from the iteration's one pass), CPU seconds from a callback.
randomized_svd(rank=20, n_iter=4, n_oversamples=10) of S + L Rᵀ with S the
ratings and L, R random rank-10 factors; the dense comparison runs at
``DENSE_NNZ`` ratings (Netflix density) where the m x n float32 array fits.
"""

import time

import numpy as np

from _common import NETFLIX_SHAPE, load1, netflix_like

SIZES = {"small": netflix_like(1_000_000), "full": NETFLIX_SHAPE}
DENSE_NNZ = {"small": 200_000, "full": 2_000_000}
MAX_ITER = 5

NOTES = (
    "iteration rows: fastest / median seconds of 5 iterations, cpu_s the fewest CPU seconds "
    "(all threads) between two iterations' ends; ratio = SoftImpute "
    "fastest iteration / ALS fastest epoch; pass rows: the compiled passes "
    "alone (5 interleaved runs each; 'step' is each iteration's one pass, rows and cols "
    "once at the start and end), cpu_s their fewest CPU seconds, ratio = pass / fastest SoftImpute iteration; for the dense svd row, dense seconds / "
    "SparsePlusLowRank seconds, and s_max_rel_diff compares their singular values. svd rows: one randomized_svd call each, "
    "same rank, power iterations and seed. load1 = 1-minute load average after the "
    "row (2-core machine shared with other workers, so timings are noisy). Targets: "
    "<= 0.25 s per SoftImpute iteration (issue 16) and <= 0.5 ALS epoch."
)


def parameters(size):
    m, n, nnz = SIZES[size]
    return dict(shape=f"{m}x{n}", nnz=nnz, rank=10, dtype="float32", max_iter=MAX_ITER,
                tol=0, svd_rank=20, dense_nnz=DENSE_NNZ[size])


def run(size, threads):
    import lorank
    from lorank.datasets import synthetic

    m, n, nnz = SIZES[size]
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    rows = []
    fits = {
        "SoftImpute": lorank.SoftImpute(10, reg=1.0, biases=True, max_iter=MAX_ITER, tol=0,
                                        n_threads=threads, random_state=0),
        "ALS": lorank.ALS(10, reg=0.05, weighted_reg=True, max_iter=MAX_ITER, tol=0,
                          n_threads=threads, random_state=0),
    }
    fastest = {}
    for name, model in fits.items():
        marks = []  # process time at the end of each iteration
        model.callback = lambda model, it: marks.append(time.process_time())
        start = time.perf_counter()
        model.fit(R)
        total = time.perf_counter() - start
        s = model.history_["seconds"]
        fastest[name] = min(s)
        rows.append(dict(task="iteration", method=name, shape=f"{m}x{n}", nnz=nnz,
                         seconds=min(s), median_s=float(np.median(s)),
                         cpu_s=float(np.min(np.diff(marks))), fit_total_s=total,
                         train_rmse=model.history_["train_rmse"][-1], ratio=None,
                         threads=threads, load1=load1()))
        del model
    rows[0]["ratio"] = fastest["SoftImpute"] / fastest["ALS"]
    del fits
    rows += _pass_rows(R, m, n, nnz, threads, fastest["SoftImpute"])

    rng = np.random.default_rng(0)

    def svd_row(R, operand, dense):
        m, n = R.shape
        L = lorank.LowRank(rng.standard_normal((m, 10)).astype(np.float32),
                           rng.standard_normal((n, 10)).astype(np.float32))
        Z = lorank.SparsePlusLowRank(R, L, n_threads=threads)
        A = Z.to_dense() if dense else Z
        start = time.perf_counter()
        s = lorank.randomized_svd(A, 20, random_state=0, n_threads=threads)[1]
        sec = time.perf_counter() - start
        return dict(task="randomized_svd r=20", method=operand, shape=f"{m}x{n}", nnz=R.nnz,
                    seconds=sec, median_s=None, cpu_s=None, fit_total_s=None, train_rmse=None,
                    ratio=None, threads=threads, load1=load1()), s

    row, _ = svd_row(R, "SparsePlusLowRank", False)
    rows.append(row)
    del R
    ms, ns, nnzs = netflix_like(DENSE_NNZ[size])
    Rs, _ = synthetic(ms, ns, nnzs, n_threads=threads)
    rng = np.random.default_rng(1)
    a, s_op = svd_row(Rs, "SparsePlusLowRank", False)
    rng = np.random.default_rng(1)  # the same factors for the dense twin
    b, s_dense = svd_row(Rs, "dense ndarray", True)
    b["ratio"] = b["seconds"] / a["seconds"]
    b["s_max_rel_diff"] = float(np.max(np.abs(s_op - s_dense) / s_dense))
    rows += [a, b]
    return rows


def _pass_rows(R, m, n, nnz, threads, iteration):
    """The compiled passes alone, interleaved, at a random rank-10 iterate: S V by
    rows (gather) and Sᵀ U by columns (scatter, see FillPass), which SoftImpute
    runs once at the start and the end, and the fused step that is each
    iteration's only pass (S V1, the new rows F, then Sᵀ F by columns); ratio =
    the pass's fastest time / the fastest SoftImpute iteration (the rest of the
    iteration is its r x r and n x r dense steps)."""
    import lorank
    from lorank._threads import single_threaded_blas
    from lorank.models.softimpute import _Passes, _Step

    rng = np.random.default_rng(0)
    with single_threaded_blas():
        model = lorank.SoftImpute(10, reg=1.0, biases=True, n_threads=threads)
        offset = model._center(R, threads)
        passes, step = _Passes(R, 10, offset, threads), _Step(R, 10, offset, threads)
        U = np.linalg.qr(rng.standard_normal((m, 10)))[0].astype(np.float32)
        V = rng.standard_normal((n, 10)).astype(np.float32)
        d = np.ones(10, np.float32)
        Y = step.start(U)
        run = {"rows": lambda: passes.product("rows", U, d, V),
               "cols": lambda: passes.product("cols", U, d, V),
               "step": lambda: step(Y, np.eye(10), d, V, 1.0)}
        seconds = {side: [] for side in run}
        cpu = {side: [] for side in run}
        for _ in range(MAX_ITER):
            for side, fn in run.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                seconds[side].append(time.perf_counter() - start)
                cpu[side].append(time.process_time() - start_cpu)
    form = {side: "scatter" if passes.run[side].scatter is not None else "gather"
            for side in ("rows", "cols")}
    form["step"] = "fused, rows then cols"
    return [dict(task=f"pass {side} ({form[side]})", method="SoftImpute", shape=f"{m}x{n}",
                 nnz=nnz, seconds=min(s), median_s=float(np.median(s)),
                 cpu_s=min(cpu[side]), fit_total_s=None, train_rmse=None,
                 ratio=min(s) / iteration, threads=threads, load1=load1())
            for side, s in seconds.items()]


if __name__ == "__main__":
    import sys
    sys.exit("run it through bench/run.py: python bench/run.py softimpute [--size small]")
