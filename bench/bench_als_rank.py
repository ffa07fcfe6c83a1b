"""ALS at the ranks users choose (10, 64, 128): exact Cholesky vs the compiled
conjugate gradient, beside implicit's CPU ALS, seconds per epoch on one matrix,
and what CG costs in objective.

The matrix: Netflix-shaped synthetic ratings (``lorank.datasets.synthetic``, users x
items, float32, 10M ratings at full size). implicit (``implicit.cpu.als``, installed)
fits its implicit-feedback objective on the same CSR (its per-user systems have the
same shape: the speed yardstick, as in bench_als_implicit); lorank fits ALS (biases,
defaults with reg=1.0 α=0.5, ``init="random"``, tol=0). BLAS limited to one thread around
everything. Methods run in turn, ``ROUNDS`` times; every epoch is kept.

The exactness trade-off: lorank's objective after each of ``ITERS`` epochs, for
Cholesky and for CG with 3 steps, from the same start; ``objective gap`` is
(f_cg − f_exact) / f_exact after the last epoch.
"""

import time

import numpy as np

from _common import load1, netflix_like

SIZES = {"small": dict(nnz=300_000, ranks=(10, 64), iters=3, rounds=1, implicit_cholesky=True),
         # implicit's Cholesky takes 100-300 s an epoch at rank >= 64 on the shared
         # machine (bench/results history): left out of the full run.
         "full": dict(nnz=10_000_000, ranks=(10, 64, 128), iters=2, rounds=2,
                      implicit_cholesky=False)}

NOTES = (
    "best_s = fastest epoch, median_s / max_s the spread over all epochs of all rounds; "
    "x implicit cg = implicit CG best / this best (> 1: faster). best_cpu_s / median_cpu_s: "
    "process CPU seconds per epoch (all threads; far less disturbed by other processes "
    "than wall time on a loaded machine), x implicit cg (cpu) the same ratio on them. "
    "objective = lorank's "
    "objective after the last epoch; objective gap = (this − Cholesky) / Cholesky at the "
    "same rank. implicit: factors=rank, regularization=0.05, calculate_training_loss="
    "False, float32, CG = its 3-step CG. load1 = highest 1-minute load average seen "
    "(2 cores, shared machine)."
)


def parameters(size):
    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    return dict(shape=f"{m}x{n}", nnz=nnz, ranks=s["ranks"], dtype="float32",
                blas_threads=1, iterations=s["iters"], rounds=s["rounds"])


def run(size, threads):
    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    user_items = R.to_scipy("csr").astype(np.float32)

    def cpu_clock():
        cpu, last = [], [time.process_time()]

        def tick(*args):
            now = time.process_time()
            cpu.append(now - last[0])
            last[0] = now
        return cpu, tick

    def implicit_fit(rank, use_cg):
        epochs = []
        cpu, tick = cpu_clock()

        def callback(it, elapsed, loss):
            tick()
            epochs.append(elapsed)
        model = AlternatingLeastSquares(
            factors=rank, regularization=0.05, use_cg=use_cg, iterations=s["iters"],
            calculate_training_loss=False, num_threads=threads, random_state=0,
            dtype=np.float32)
        tick()  # the first epoch's CPU counts from here
        cpu.clear()
        model.fit(user_items, show_progress=False, callback=callback)
        return epochs, cpu, None

    def lorank_fit(rank, solver):
        cpu, tick = cpu_clock()
        model = ALS(rank, reg=1.0, solver=solver, cg_steps=3, init="random", max_iter=s["iters"],
                    tol=0, n_threads=threads, random_state=0, callback=lambda m, it: tick())
        tick()  # from fit's start: the random init is O((m + n) r), negligible
        cpu.clear()
        model.fit(R)
        return model.history_["seconds"], cpu, model.history_["objective"][-1]

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for rank in s["ranks"]:
            methods = {
                ("implicit", "cholesky"): lambda: implicit_fit(rank, False),
                ("implicit", "cg, 3 steps"): lambda: implicit_fit(rank, True),
                ("lorank", "cholesky"): lambda: lorank_fit(rank, "cholesky"),
                ("lorank", "cg, 3 steps"): lambda: lorank_fit(rank, "cg"),
            }
            if not s["implicit_cholesky"] and rank >= 64:
                del methods[("implicit", "cholesky")]
            epochs = {k: [] for k in methods}
            cpus = {k: [] for k in methods}
            objective = {}
            load = 0.0
            for _ in range(s["rounds"]):
                for key, fit in methods.items():
                    e, c, f = fit()
                    epochs[key] += e
                    cpus[key] += c
                    objective[key] = f
                    load = max(load, load1())
            ref = min(epochs[("implicit", "cg, 3 steps")])
            ref_cpu = min(cpus[("implicit", "cg, 3 steps")])
            exact = objective[("lorank", "cholesky")]
            for (library, solver), e in epochs.items():
                f = objective[(library, solver)]
                c = cpus[(library, solver)]
                rows.append(dict(
                    rank=rank, library=library, solver=solver, threads=threads,
                    best_s=min(e), median_s=float(np.median(e)), max_s=max(e),
                    **{"x implicit cg": ref / min(e)},
                    best_cpu_s=min(c), median_cpu_s=float(np.median(c)),
                    **{"x implicit cg (cpu)": ref_cpu / min(c)},
                    objective=f, **{"objective gap": None if f is None
                                    else (f - exact) / exact},
                    load1=load,
                    version=implicit.__version__ if library == "implicit" else None))
    return rows
