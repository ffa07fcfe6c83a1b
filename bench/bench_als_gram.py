"""The Gram crossover: how each path forms a target's G = Σ f fᵀ, by rank and
observations per target, so the kernel chooses by measurement.

Paths (``_als._set_gram_path``): ``rank1`` (one rank-1 update per observation, G in
L1, no gathered block), ``tiled`` (rows gathered into blocks of 128, register-tiled
products: full rows up to 4 vectors, lower-triangle tiles past that), ``syrk`` (the
same blocks, BLAS ``syrk`` on each, one BLAS thread). Each cell: one Cholesky
half-step over ``N_OBS`` observations split into targets of ``c`` observations each
(other-side factor of 20,000 random rows, biases, float32), on ONE OpenMP thread,
timed in process CPU seconds (the least disturbed by other work on a shared
machine); the solve is the same for every path, so differences are the Gram's.
``auto`` is what the kernel picks by the crossover constants in ``_als.pyx``.
"""

import time

import numpy as np

from _common import load1

SIZES = {"small": dict(n_obs=300_000, repeat=2, ranks=(10, 64), counts=(16, 256, 2048)),
         "full": dict(n_obs=2_000_000, repeat=3, ranks=(10, 32, 64, 128),
                      counts=(16, 64, 256, 1024, 4096))}
PATHS = ("rank1", "tiled", "syrk", "auto")
N_FIXED = 20_000

NOTES = (
    "ns_per_obs = best CPU seconds of the half-step / observations (one thread; "
    "includes the per-target solve, the same for every path); x tiled = tiled / this "
    "(> 1: faster than the register-tiled Gram); best = the fastest forced path of "
    "the cell. load1 = highest 1-minute load average seen."
)


def parameters(size):
    s = SIZES[size]
    return dict(n_obs=s["n_obs"], n_fixed=N_FIXED, ranks=s["ranks"], counts=s["counts"],
                dtype="float32", biases=True, solver="cholesky", threads=1,
                blas_threads=1, repeat=s["repeat"])


def run(size, threads):
    from threadpoolctl import threadpool_limits

    from lorank._kernels import _als
    from lorank.models.als import _factor_storage

    s = SIZES[size]
    rng = np.random.default_rng(0)
    rows = []
    load = load1()
    with threadpool_limits(limits=1, user_api="blas"):
        for rank in s["ranks"]:
            d = rank + 1
            fixed = _factor_storage(N_FIXED, d, np.float32)
            fixed[:, :d] = rng.standard_normal((N_FIXED, d)) / np.sqrt(d)
            for c in s["counts"]:
                n_t = max(1, s["n_obs"] // c)
                indptr = np.arange(n_t + 1, dtype=np.int64) * c
                indices = np.sort(rng.integers(0, N_FIXED, (n_t, c)), axis=1)
                indices = indices.astype(np.int32).ravel()
                values = rng.standard_normal(n_t * c).astype(np.float32)
                solved = _factor_storage(n_t, d, np.float32)
                lam = np.full(n_t, 0.5 * c)
                sse, rsum, st = np.empty(n_t), np.empty(n_t), np.empty(n_t, np.int32)
                cpu = {}
                for path in PATHS:
                    previous = _als._set_gram_path(path)
                    try:
                        t = []
                        for _ in range(s["repeat"]):
                            start = time.process_time()
                            _als.half_step(indptr, indices, values, fixed, solved, 0.0,
                                           lam, True, rank, sse, rsum, st, 1)
                            t.append(time.process_time() - start)
                    finally:
                        _als._set_gram_path(previous)
                    cpu[path] = min(t)
                    load = max(load, load1())
                best = min(("rank1", "tiled", "syrk"), key=cpu.get)
                for path in PATHS:
                    rows.append(dict(rank=rank, obs_per_target=c, path=path,
                                     ns_per_obs=1e9 * cpu[path] / (n_t * c),
                                     **{"x tiled": cpu["tiled"] / cpu[path]},
                                     best=best, threads=1, load1=load))
    return rows


if __name__ == "__main__":
    import sys
    sys.exit("run it through bench/run.py: python bench/run.py als_gram [--size small]")
