"""ImplicitALS's CG half-step on long targets: passes over a gathered buffer vs
stepping on the target's Gram, formed once (``_als._set_cg_gram`` switches).

The last.fm-shaped items (``bench_implicit.lastfm``) grouped by their number of
users; per group up to 400 items are solved (3 CG steps, the kernel's weights
and targets as ImplicitALS gives them) with one thread, by CPU time, the two
paths interleaved. The default rule (rows of 64 bytes, gathered rows past
64 KiB form their Gram) comes from this table.
"""

import time

import numpy as np

from _common import load1

GROUPS = ((64, 256), (256, 1024), (1024, 4096), (4096, 10**9))
ROUNDS = 3
NOTES = ("ns_per_obs = min over rounds of CPU seconds / observations (one thread); "
         "path 'passes' = a buffer of the gathered rows read in every CG step, "
         "'gram' = the Gram formed once and the steps taken on it.")


def run(size, threads):
    import bench_implicit as b
    from lorank._kernels import _als
    from lorank.models import implicit_als as ia
    from lorank.models.als import _factor_storage

    R = b.lastfm(size)
    v = R.csc
    counts = np.diff(v.indptr)
    conf = ("linear", b.ALPHA, 1.0)
    rows = []
    for rank in (10, 64):
        rng = np.random.default_rng(0)
        U = _factor_storage(R.shape[0], rank, np.float32)
        ia._uniform_start(U, rank, rng)
        for lo, hi in GROUPS:
            sel = np.flatnonzero((counts > lo) & (counts <= hi))[:400]
            if not len(sel):
                continue
            indptr = np.zeros(len(sel) + 1, np.int64)
            np.cumsum(counts[sel], out=indptr[1:])
            parts = [slice(v.indptr[j], v.indptr[j + 1]) for j in sel]
            indices = np.concatenate([v.indices[s] for s in parts])
            u, t = ia._weights_targets(np.concatenate([v.values[s] for s in parts]), conf,
                                       np.float32)
            k = len(sel)
            start = _factor_storage(k, rank, np.float32)
            ia._uniform_start(start, rank, rng)
            out = np.empty(k), np.empty(k), np.empty(k, np.int32)
            cpu = {"passes": [], "gram": []}
            for _ in range(ROUNDS):
                for path, setting in (("passes", (1 << 62, 0)), ("gram", (0, 1 << 20))):
                    before = _als._set_cg_gram(*setting)
                    try:
                        X = start.copy()
                        c0 = time.process_time()
                        _als.half_step(indptr, indices, t, U, X, 0.0, np.ones(k), False,
                                       rank, *out, 1, weights=u, solver="cg", cg_steps=3)
                        cpu[path].append(time.process_time() - c0)
                    finally:
                        _als._set_cg_gram(*before)
            for path, c in cpu.items():
                rows.append(dict(rank=rank, users=f"({lo}, {hi}]", items=k,
                                 observations=len(indices), path=path,
                                 ns_per_obs=min(c) / len(indices) * 1e9,
                                 dtype="float32", threads=1, load1=load1()))
    return rows
