"""The generalized ``_als`` half-step against the kernel of another revision, and
the cost of each variant, on the same data in one run.

Netflix-shaped synthetic ratings (``lorank.datasets.synthetic``, 10M ratings for
``full``), ALS with biases, rank 10, float32, ``init="random"``, tol=0. Rows:

- ``ALS epoch``: a whole ``ALS`` epoch (both half-steps, μ update, loss), with the
  installed kernel and with the baseline revision's (``BASELINE``, compiled by
  ``_baseline_kernel.py`` with the meson flags), fits interleaved round by round;
- ``half-step epoch``: the two half-steps alone, both kernels interleaved, in wall
  and in process CPU seconds (CPU time is less disturbed by other processes);
- ``half-step variant``: one epoch of raw half-steps (items then users) of the
  installed kernel per variant: weights (ImplicitALS's), prior + sampling
  (BayesianALS's), a Hadamard row with one extra factor (CPALS's), conjugate
  gradient with 3 steps.

Every epoch of every round is kept: ``best_s`` is the fastest (least disturbed on a
shared machine), ``median_s`` and ``max_s`` show the spread.
"""

import os

import numpy as np

from _common import load1, netflix_like

BASELINE = os.environ.get("LORANK_BASELINE", "main")
SIZES = {"small": dict(nnz=1_000_000, rounds=3, iters=3),
         "full": dict(nnz=10_000_000, rounds=5, iters=3)}
RANK = 10

NOTES = (
    "best_s / median_s / max_s over all epochs of all rounds (rounds interleave the "
    "kernels); x baseline = baseline best / this best (> 1: faster); for the "
    "variant rows, default half-steps best / variant best. load1 = highest "
    "1-minute load average seen (2 cores, shared machine)."
)


def parameters(size):
    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    return dict(shape=f"{m}x{n}", nnz=nnz, rank=RANK, dtype="float32", biases=True,
                rounds=s["rounds"], iterations=s["iters"], baseline=BASELINE)


def run(size, threads):
    import time

    import lorank.models.als as als_module
    from lorank._kernels import _als
    from lorank.models.als import ALS, _factor_storage
    from lorank.datasets import synthetic

    import _baseline_kernel

    s = SIZES[size]
    base = _baseline_kernel.load(BASELINE)
    R, _ = synthetic(*netflix_like(s["nnz"]), n_threads=threads)
    m, n = R.shape
    kernels = {"this branch": _als, f"baseline {BASELINE} ({base.REVISION[:8]})": base}
    epochs = {k: [] for k in kernels}
    load = 0.0

    def fit():
        model = ALS(RANK, init="random", max_iter=s["iters"], tol=0, n_threads=threads,
                    random_state=0)
        model.fit(R)
        return model.history_["seconds"]

    try:
        for _ in range(s["rounds"]):
            for name, kernel in kernels.items():
                als_module._als = kernel
                epochs[name] += fit()
                load = max(load, load1())
    finally:
        als_module._als = _als

    # The same comparison on raw half-step epochs (items then users, ALS's λ and μ),
    # timed in wall and in process CPU seconds (less sensitive to a busy machine).
    d0 = RANK + 1
    rng0 = np.random.default_rng(1)
    lam_c = np.sqrt(R.col_counts.astype(np.float64))
    lam_r = np.sqrt(R.row_counts.astype(np.float64))
    raw = {k: ([], []) for k in kernels}
    factors = {}
    for name in kernels:
        A0, B0 = _factor_storage(m, d0, np.float32), _factor_storage(n, d0, np.float32)
        A0[:, :d0] = rng0.standard_normal((m, d0)) * 0.3
        factors[name] = (A0, B0)
    for _ in range(3 * s["rounds"]):
        for name, kernel in kernels.items():
            A0, B0 = factors[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for view, fixed, solved, lam in ((R.csc, A0, B0, lam_c), (R.csr, B0, A0, lam_r)):
                k = solved.shape[0]
                sse, rsum, st = np.empty(k), np.empty(k), np.empty(k, np.int32)
                kernel.half_step(view.indptr, view.indices, view.values, fixed, solved,
                                 3.6, lam, True, RANK, sse, rsum, st, threads)
            raw[name][0].append(time.perf_counter() - wall)
            raw[name][1].append(time.process_time() - cpu)
            load = max(load, load1())

    rows = []
    names = list(kernels)
    for i, unit in enumerate(("wall s", "CPU s")):
        base_best = min(raw[names[1]][i])
        for name in names:
            e = raw[name][i]
            rows.append(dict(what=f"half-step epoch ({unit})", kernel=name, rank=RANK,
                             threads=threads, best_s=min(e), median_s=float(np.median(e)),
                             max_s=max(e), **{"x baseline": base_best / min(e)},
                             load1=load))
    best_base = min(epochs[list(kernels)[1]])
    for name, e in epochs.items():
        rows.append(dict(what="ALS epoch", kernel=name, rank=RANK, threads=threads,
                         best_s=min(e), median_s=float(np.median(e)), max_s=max(e),
                         **{"x baseline": best_base / min(e)}, load1=load))

    # The variants, raw half-steps of this branch's kernel.
    d = RANK + 1
    rng = np.random.default_rng(0)
    A, B = _factor_storage(m, d, np.float32), _factor_storage(n, d, np.float32)
    A[:, :d] = rng.standard_normal((m, d)) * 0.3
    B[:, :d] = rng.standard_normal((n, d)) * 0.3
    prior = np.eye(d) * 2.0
    weights_c = (1 + rng.exponential(1.0, R.nnz)).astype(np.float32)
    weights_r = (1 + rng.exponential(1.0, R.nnz)).astype(np.float32)
    extra_f = _factor_storage(30, d, np.float32)
    extra_f[:, :d] = 1 + 0.1 * rng.standard_normal((30, d))
    extra_c = rng.integers(0, 30, R.nnz).astype(np.int32)
    extra_r = rng.integers(0, 30, R.nnz).astype(np.int32)
    variants = {
        "ALS (defaults)": ({}, {}),
        "weights": ({"weights": weights_c}, {"weights": weights_r}),
        "prior + sampling": ({"prior": prior, "prior_h": np.ones(d), "sample_scale": 0.5},
                             {"prior": prior, "prior_h": np.ones(d), "sample_scale": 0.5}),
        "Hadamard, 1 extra factor": ({"others": ((extra_c, extra_f),)},
                                     {"others": ((extra_r, extra_f),)}),
        "cg, 3 steps": ({"solver": "cg", "cg_steps": 3}, {"solver": "cg", "cg_steps": 3}),
    }
    lam_c, lam_r = np.full(n, 5.0), np.full(m, 5.0)
    times = {k: [] for k in variants}
    for _ in range(s["rounds"]):
        for name, (kc, kr) in variants.items():
            start = time.perf_counter()
            for view, fixed, solved, lam, kw in ((R.csc, A, B, lam_c, kc),
                                                 (R.csr, B, A, lam_r, kr)):
                size_ = solved.shape[0]
                sse, rsum, st = np.empty(size_), np.empty(size_), np.empty(size_, np.int32)
                _als.half_step(view.indptr, view.indices, view.values, fixed, solved, 3.6,
                               lam, True, RANK, sse, rsum, st, threads, **kw)
            times[name].append(time.perf_counter() - start)
            load = max(load, load1())
    ref = min(times["ALS (defaults)"])
    for name, e in times.items():
        rows.append(dict(what=f"half-steps: {name}", kernel="this branch", rank=RANK,
                         threads=threads, best_s=min(e), median_s=float(np.median(e)),
                         max_s=max(e), **{"x baseline": ref / min(e)}, load1=load))
    return rows
