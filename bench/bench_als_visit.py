"""CPU nanoseconds per rating visit of the explicit ALS half-step at rank 10, per
piece of the kernel, side by side in one run.

Netflix-shaped synthetic ratings (``lorank.datasets.synthetic`` at
``netflix_like(nnz)``: 10M ratings, and for ``full`` also the Netflix shape, 100M),
float32, biases on (d = 11 unknowns: one 64-byte AVX-512 vector per factor row),
ALS's λ_j = √count and μ. Each half-step solves one side against fixed random
factors (the same work in every round): ``items`` gathers from the user factors,
``users`` from the item factors. The figure is process CPU time / nnz (less
disturbed by other processes than wall time, also given).

Kernels and settings (all in this process, interleaved round by round):

- ``main``: the kernel of revision ``LORANK_BASELINE`` (default main) as it was;
- ``old path``: the installed kernel with the gathered-block Gram
  (``_set_gram_path("tiled")``), one Cholesky at a time (``_set_batch_solve(False)``)
  and the former tile rule (fixed factor > 2 MiB);
- ``+ fused gram``: the one-vector Gram in registers, still one Cholesky at a time;
- ``default``: the installed defaults (fused Gram, batched Cholesky, tile rule);
- ``direct``: the defaults but never the tiled sweep (``_set_tiled_above``);
- ``no fp-contract`` / ``locality 0`` / ``bench build``: this revision compiled by
  ``_baseline_kernel.py`` without ``-ffp-contract=fast``, with the prefetches'
  temporal locality 0 instead of 3, and as the meson build has it (the control
  for the other two; these carry their revision's own tile rule).

``bench/results/als_visit-0555b94.txt`` is the same run on revision 0555b94
(tile rule 2 MiB, before bench_als_tiled set it to 16 MiB), at a lower load.
"""

import os
import time

import numpy as np

from _common import load1, netflix_like

BASELINE = os.environ.get("LORANK_BASELINE", "main")
REVISION = os.environ.get("LORANK_VISIT_REV", "HEAD")
SIZES = {"small": dict(sizes=[1_000_000], rounds=3),
         "full": dict(sizes=[10_000_000, 100_000_000], rounds=5)}
if os.environ.get("LORANK_VISIT_SIZES"):  # e.g. "10000000" to skip the Netflix shape
    SIZES["full"]["sizes"] = [int(v) for v in os.environ["LORANK_VISIT_SIZES"].split(",")]
RANK = 10

NOTES = (
    "cpu_ns = process CPU ns per rating visit of one half-step (best and median over "
    "rounds; side epoch: both half-steps, cpu_s their summed best CPU seconds); "
    "x_old = old path best / this best (> 1: faster); load1 = highest "
    "1-minute load average seen during that size (2 cores, shared machine)."
)


def parameters(size):
    s = SIZES[size]
    return dict(sizes=[f"{netflix_like(n)[0]}x{netflix_like(n)[1]}:{n}" for n in s["sizes"]],
                rank=RANK, dtype="float32", biases=True, rounds=s["rounds"],
                baseline=BASELINE, revision=REVISION)


def _configs():
    from lorank._kernels import _als

    import _baseline_kernel

    fpc = ["-ffp-contract=fast"]
    old_tile = 2 << 20
    never = 1 << 62
    return {
        f"main ({BASELINE})": (_baseline_kernel.load(BASELINE), {}),
        "old path": (_als, dict(gram="tiled", batch=False, tiled=old_tile)),
        "+ fused gram": (_als, dict(gram="auto", batch=False, tiled=old_tile)),
        "default": (_als, {}),
        "direct": (_als, dict(tiled=never)),
        "no fp-contract": (_baseline_kernel.load(REVISION), {}),
        "locality 0": (_baseline_kernel.load(REVISION, fpc + ["-DLORANK_LOCALITY=0"]), {}),
        "bench build": (_baseline_kernel.load(REVISION, fpc), {}),
    }


def _apply(module, settings):
    """Set the private switches; return a function that restores them."""
    undo = []
    if "gram" in settings:
        previous = module._set_gram_path(settings["gram"])
        undo.append(lambda p=previous: module._set_gram_path(p))
    if "batch" in settings:
        previous = module._set_batch_solve(settings["batch"])
        undo.append(lambda p=previous: module._set_batch_solve(p))
    if "tiled" in settings:
        previous = module._set_tiled_above(settings["tiled"])
        undo.append(lambda p=previous: module._set_tiled_above(p))

    def restore():
        for f in undo:
            f()
    return restore


def run(size, threads):
    from lorank.datasets import synthetic
    from lorank.models.als import _factor_storage

    s = SIZES[size]
    configs = _configs()
    rows = []
    d = RANK + 1
    for nnz_wanted in s["sizes"]:
        R, _ = synthetic(*netflix_like(nnz_wanted), n_threads=threads)
        m, n = R.shape
        rng = np.random.default_rng(0)
        A0, B0 = _factor_storage(m, d, np.float32), _factor_storage(n, d, np.float32)
        A0[:, :d] = rng.standard_normal((m, d)) * 0.3
        B0[:, :d] = rng.standard_normal((n, d)) * 0.3
        A, B = A0.copy(), B0.copy()
        sides = {"items": (R.csc, A0, B, np.sqrt(R.col_counts.astype(np.float64))),
                 "users": (R.csr, B0, A, np.sqrt(R.row_counts.astype(np.float64)))}
        cpu = {(c, side): [] for c in configs for side in sides}
        wall = {(c, side): [] for c in configs for side in sides}
        load = load1()
        for _ in range(s["rounds"]):
            for name, (module, settings) in configs.items():
                restore = _apply(module, settings)
                try:
                    for side, (view, fixed, solved, lam) in sides.items():
                        k = solved.shape[0]
                        sse, rsum, st = np.empty(k), np.empty(k), np.empty(k, np.int32)
                        w0, c0 = time.perf_counter(), time.process_time()
                        module.half_step(view.indptr, view.indices, view.values, fixed,
                                         solved, 3.6, lam, True, RANK, sse, rsum, st,
                                         threads)
                        cpu[name, side].append(time.process_time() - c0)
                        wall[name, side].append(time.perf_counter() - w0)
                        assert (st == 0).all()
                finally:
                    restore()
                load = max(load, load1())
        for side in list(sides) + ["epoch"]:
            parts = list(sides) if side == "epoch" else [side]
            visits = R.nnz * len(parts)
            best = {c: sum(min(cpu[c, p]) for p in parts) for c in configs}
            for name in configs:
                med = sum(float(np.median(cpu[name, p])) for p in parts)
                rows.append(dict(nnz=R.nnz, shape=f"{m}x{n}", side=side, kernel=name,
                                 threads=threads, cpu_s=round(best[name], 4),
                                 cpu_ns=round(best[name] / visits * 1e9, 2),
                                 cpu_ns_median=round(med / visits * 1e9, 2),
                                 wall_ns=round(sum(min(wall[name, p]) for p in parts)
                                               / visits * 1e9, 2),
                                 x_old=round(best["old path"] / best[name], 3),
                                 load1=load))
        del R, A0, B0, A, B, sides
    return rows
