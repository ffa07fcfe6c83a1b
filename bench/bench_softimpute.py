"""SoftImpute at the Netflix size: seconds per iteration next to exact-ALS epochs,
and randomized_svd of a SparsePlusLowRank vs the same on its densified equivalent.

One process, one synthetic Netflix-shaped data set (``lorank.datasets.synthetic``
defaults). SoftImpute(rank=10, reg=1.0 (any λ costs the same), biases=True,
max_iter=3, tol=0) and ALS rank 10, biases, ALS-WR 0.05 (the defaults until
2026-11-29), spectral init with max_iter=3, tol=0; float32; both random_state=0.
Per-iteration seconds come from ``history_["seconds"]`` (each includes its
training-loss pass).
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
    "iteration rows: fastest / median seconds of 5 iterations; ratio = SoftImpute "
    "fastest iteration / ALS fastest epoch; pass rows: the iteration's two compiled passes "
    "alone (5 interleaved runs each), ratio = pass / fastest SoftImpute iteration; for the dense svd row, dense seconds / "
    "SparsePlusLowRank seconds, and s_max_rel_diff compares their singular values. svd rows: one randomized_svd call each, "
    "same rank, power iterations and seed. load1 = 1-minute load average after the "
    "row (2-core machine shared with other workers, so timings are noisy). Targets: "
    "<= 0.6 s per SoftImpute iteration and <= 0.5 ALS epoch."
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
        start = time.perf_counter()
        model.fit(R)
        total = time.perf_counter() - start
        s = model.history_["seconds"]
        fastest[name] = min(s)
        rows.append(dict(task="iteration", method=name, shape=f"{m}x{n}", nnz=nnz,
                         seconds=min(s), median_s=float(np.median(s)), fit_total_s=total,
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
                    seconds=sec, median_s=None, fit_total_s=None, train_rmse=None,
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
    """The iteration's two compiled passes alone (S V by rows: gather; Sᵀ U by
    columns: scatter, see FillPass), interleaved, at a random rank-10 iterate;
    ratio = the pass's fastest time / the fastest SoftImpute iteration (the rest
    of the iteration is its r x r and (m + n) x r dense steps)."""
    import lorank
    from lorank._threads import single_threaded_blas
    from lorank.models.softimpute import _Passes

    rng = np.random.default_rng(0)
    with single_threaded_blas():
        model = lorank.SoftImpute(10, reg=1.0, biases=True, n_threads=threads)
        passes = _Passes(R, 10, model._center(R, threads), threads)
        U = np.linalg.qr(rng.standard_normal((m, 10)))[0].astype(np.float32)
        V = rng.standard_normal((n, 10)).astype(np.float32)
        d = np.ones(10, np.float32)
        seconds = {"rows": [], "cols": []}
        for _ in range(MAX_ITER):
            for side in seconds:
                start = time.perf_counter()
                passes.product(side, U, d, V)
                seconds[side].append(time.perf_counter() - start)
    form = {side: "scatter" if passes.run[side].scatter is not None else "gather"
            for side in seconds}
    return [dict(task=f"pass {side} ({form[side]})", method="SoftImpute", shape=f"{m}x{n}",
                 nnz=nnz, seconds=min(s), median_s=float(np.median(s)), fit_total_s=None,
                 train_rmse=None, ratio=min(s) / iteration, threads=threads, load1=load1())
            for side, s in seconds.items()]


if __name__ == "__main__":
    import sys
    sys.exit("run it through bench/run.py: python bench/run.py softimpute [--size small]")
