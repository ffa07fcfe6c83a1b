"""When the tiled sweep of the fixed factor pays: the items half-step (gathering
from the user factors, the larger side) at rank 10, float32, biases, tiled
(``_set_tiled_above(0)``) against direct (never tiled), side by side, at
Netflix-shaped sizes whose user factor spans the last-level cache.

CPU ns per rating visit (process CPU time / nnz), best and median of the rounds.
"""

import time

import numpy as np

from _common import load1, netflix_like

SIZES = {"small": dict(sizes=[2_000_000], rounds=3),
         "full": dict(sizes=[10_000_000, 20_000_000, 40_000_000, 60_000_000], rounds=5)}
RANK = 10
NOTES = ("fixed_MB = the user factor (the fixed side of the items half-step); x_direct = "
         "direct best / this best (> 1: tiles pay). load1 = highest 1-minute load seen.")


def parameters(size):
    return dict(sizes=SIZES[size]["sizes"], rank=RANK, dtype="float32", biases=True,
                rounds=SIZES[size]["rounds"])


def run(size, threads):
    from lorank._kernels import _als
    from lorank.datasets import synthetic
    from lorank.models.als import _factor_storage

    s = SIZES[size]
    rows = []
    d = RANK + 1
    for nnz in s["sizes"]:
        R, _ = synthetic(*netflix_like(nnz), n_threads=threads)
        m, n = R.shape
        rng = np.random.default_rng(0)
        A = _factor_storage(m, d, np.float32)
        A[:, :d] = rng.standard_normal((m, d)) * 0.3
        B = _factor_storage(n, d, np.float32)
        lam = np.sqrt(R.col_counts.astype(np.float64))
        cpu = {"tiled": [], "direct": []}
        load = load1()
        for _ in range(s["rounds"]):
            for name, bound in (("tiled", 0), ("direct", 1 << 62)):
                previous = _als._set_tiled_above(bound)
                try:
                    sse, rsum, st = np.empty(n), np.empty(n), np.empty(n, np.int32)
                    c0 = time.process_time()
                    _als.half_step(R.csc.indptr, R.csc.indices, R.csc.values, A, B, 3.6,
                                   lam, True, RANK, sse, rsum, st, threads)
                    cpu[name].append(time.process_time() - c0)
                finally:
                    _als._set_tiled_above(previous)
                load = max(load, load1())
        for name, e in cpu.items():
            e = np.array(e) / R.nnz * 1e9
            rows.append(dict(nnz=R.nnz, shape=f"{m}x{n}", fixed_MB=round(A.nbytes / 1e6, 1),
                             path=name, threads=threads, cpu_ns=round(float(e.min()), 2),
                             cpu_ns_median=round(float(np.median(e)), 2),
                             x_direct=round(min(cpu["direct"]) / min(cpu[name]), 3),
                             load1=load))
        del R, A, B
    return rows
