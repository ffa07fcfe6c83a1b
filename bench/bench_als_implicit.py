"""lorank's ALS vs implicit's CPU ALS, seconds per epoch, same matrix.

The matrix: Netflix-shaped synthetic ratings (users x items CSR, float32, values
1..5), 10M ratings at full size. implicit (``implicit.cpu.als``) fits the
implicit-feedback objective (confidence-weighted, all entries) and lorank the
explicit one, but each epoch has the same shape: per user and per item, a
Gram matrix over the observed entries (|Ω| r²) and an r x r solve ((m+n) r³);
so it is the speed yardstick. Both run with ``threads`` threads and BLAS limited
to one thread (threadpoolctl) around everything. implicit's epochs are timed by
its fit callback (setup excluded), lorank's come from ``history_["seconds"]``;
the methods run in turn, twice, and each keeps its fastest epoch.
"""

import time

import numpy as np

from _common import epoch_seconds, load1, netflix_like

SIZES = {"small": 300_000, "full": 10_000_000}
ITERS = {"small": 3, "full": 4}
ROUNDS = 2
RANK, REG = 10, 0.05

NOTES = (
    "epoch_s = fastest epoch over both rounds, median_s = median epoch; "
    "x implicit cholesky = implicit Cholesky fastest / this fastest. implicit: "
    "factors=10, regularization=0.05, calculate_training_loss=False, dtype float32 "
    "(its CG solver does 3 CG steps per solve); lorank: ALS defaults (biases on: 11 "
    "unknowns per solve, ALS-WR) and biases=False (10 unknowns), init='random', tol=0; "
    "lorank's epoch includes its training-loss pass. load1 = highest 1-minute load "
    "average seen after the method's fits (2-core machine shared with other workers)."
)


def parameters(size):
    m, n, nnz = netflix_like(SIZES[size])
    return dict(shape=f"{m}x{n}", nnz=nnz, rank=RANK, reg=REG, dtype="float32",
                blas_threads=1, iterations=ITERS[size], rounds=ROUNDS)


def run(size, threads):
    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(SIZES[size])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    user_items = R.to_scipy("csr").astype(np.float32)

    def implicit_fit(use_cg):
        epochs = []
        model = AlternatingLeastSquares(
            factors=RANK, regularization=REG, use_cg=use_cg, iterations=ITERS[size],
            calculate_training_loss=False, num_threads=threads, random_state=0,
            dtype=np.float32)
        start = time.perf_counter()
        model.fit(user_items, show_progress=False,
                  callback=lambda it, elapsed, loss: epochs.append(elapsed))
        return epochs, time.perf_counter() - start

    def lorank_fit(biases):
        model = ALS(RANK, reg=REG, weighted_reg=True, biases=biases, init="random",
                    max_iter=ITERS[size],
                    tol=0, n_threads=threads, random_state=0)
        start = time.perf_counter()
        model.fit(R)
        return model.history_["seconds"], time.perf_counter() - start

    methods = {
        ("implicit", "cholesky (use_cg=False)"): lambda: implicit_fit(False),
        ("implicit", "conjugate gradient (use_cg=True)"): lambda: implicit_fit(True),
        ("lorank", "ALS defaults (biases)"): lambda: lorank_fit(True),
        ("lorank", "ALS biases=False"): lambda: lorank_fit(False),
    }
    epochs = {key: [] for key in methods}
    setup = {key: np.inf for key in methods}
    load = {key: 0.0 for key in methods}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(ROUNDS):
            for key, fit in methods.items():
                e, total = fit()
                epochs[key] += e
                setup[key] = min(setup[key], total - sum(e))
                load[key] = max(load[key], load1())

    base = min(epochs[("implicit", "cholesky (use_cg=False)")])
    rows = []
    for (library, solver), e in epochs.items():
        rows.append(dict(
            library=library, solver=solver, shape=f"{m}x{n}", nnz=nnz, rank=RANK,
            dtype="float32", threads=threads, blas_threads=1, epoch_s=min(e),
            median_s=float(np.median(e)), setup_s=setup[(library, solver)],
            **{"x implicit cholesky": base / min(e)}, load1=load[(library, solver)],
            version=implicit.__version__ if library == "implicit" else None))
    return rows
