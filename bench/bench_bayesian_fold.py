"""BayesianALS's fold: compressing the kept samples' sum to rank ``mean_rank``.

Every 8 kept samples the running sum (rank mean_rank) and the buffer (8·rank) are
folded into a rank-``mean_rank`` truncated SVD, on one BLAS thread. Side by side
in one process, alternating, on the same factors: ``LowRank.svd(k)`` (Householder
QRs of both sides, the fold until 2026-12-07) and ``_leading_factors`` (a QR of
the shorter side, then the tall side's Gram in float64). The factors are a chain
look-alike (samples = a common part + 10 % independent noise, so the columns are
strongly correlated, as consecutive Gibbs samples are), float32, rank 10,
mean_rank 30 (the default 3·rank): 30 + 80 = 110 columns. ``s_diff``: the largest
difference of the two's singular values, relative to s₁; ``product_diff``: the
largest difference of the two rank-30 products on 2000 x 500 sampled entries,
relative to the largest entry.
"""

import time

import numpy as np

from _common import NETFLIX_SHAPE, load1

SIZES = {"small": (60_000, 4_000), "full": NETFLIX_SHAPE[:2]}
RANK, MEAN_RANK, BUFFER, REPEAT = 10, 30, 8, 3
NOTES = ("seconds: the fastest of 3 alternating calls, one BLAS thread (as the fold runs); "
         "ratio = LowRank.svd seconds / _leading_factors seconds.")


def parameters(size):
    m, n = SIZES[size]
    return dict(shape=f"{m}x{n}", rank=RANK, mean_rank=MEAN_RANK, buffer=BUFFER,
                dtype="float32", repeat=REPEAT)


def _chain_like(m, n, rng):
    k = MEAN_RANK + BUFFER * RANK
    base_l = rng.standard_normal((m, RANK)).astype(np.float32)
    base_r = rng.standard_normal((n, RANK)).astype(np.float32)
    L = np.hstack([base_l + 0.1 * rng.standard_normal((m, RANK)).astype(np.float32)
                   for _ in range(k // RANK)])
    R = np.hstack([base_r + 0.1 * rng.standard_normal((n, RANK)).astype(np.float32)
                   for _ in range(k // RANK)])
    return L, R


def run(size, threads):
    from lorank import LowRank
    from lorank._threads import single_threaded_blas
    from lorank.models.bayesian import _leading_factors

    m, n = SIZES[size]
    rng = np.random.default_rng(0)
    L, R = _chain_like(m, n, rng)

    def householder():
        U, s, Vt = LowRank(L, R).svd(k=MEAN_RANK)
        root = np.sqrt(s[:MEAN_RANK])
        return U[:, :MEAN_RANK] * root, Vt[:MEAN_RANK].T * root, s

    def gram():
        return _leading_factors(L, R, MEAN_RANK)

    times = {"LowRank.svd (Householder QRs)": [], "_leading_factors (Gram)": []}
    out = {}
    with single_threaded_blas():
        for _ in range(REPEAT):
            for name, fn in zip(times, (householder, gram)):
                t0 = time.perf_counter()
                out[name] = fn()
                times[name].append(time.perf_counter() - t0)
    (l1, r1, s1), (l2, r2, s2) = out.values()
    rows_i, cols_j = rng.choice(m, 2000, replace=False), rng.choice(n, 500, replace=False)
    p1 = l1[rows_i].astype(np.float64) @ r1[cols_j].T
    p2 = l2[rows_i].astype(np.float64) @ r2[cols_j].T
    k = min(len(s1), len(s2))
    s_diff = float(np.max(np.abs(s1[:k] - s2[:k])) / s1[0])
    product_diff = float(np.abs(p1 - p2).max() / np.abs(p1).max())
    best = {name: min(t) for name, t in times.items()}
    first = list(best)[0]
    return [dict(method=name, shape=f"{m}x{n}", columns=L.shape[1], seconds=t,
                 ratio=best[first] / t, s_diff=s_diff, product_diff=product_diff,
                 threads=1, load1=load1())
            for name, t in best.items()]
