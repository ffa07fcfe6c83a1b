"""A roofline table: the machine's measured peaks and what each kernel achieves.

In one run: the peak of a float32 GEMM (numpy's matmul on the BLAS threadpoolctl
reports, at ``threads`` and at 1 thread; which kernel ran is in the ``kernel``
column) and a stream copy (``threads`` Python threads each ``np.copyto`` one
slice of a 256 MB float32 array, the GIL released: GB/s counts read + write, the
STREAM convention), then the kernels on Netflix-shaped synthetic ratings (10M for
``full``), float32, ``threads`` OpenMP threads, BLAS at one thread:

- ``ALS half-step``: ``_als.half_step`` over the items then the users (one ALS
  epoch's solves), biases, at ranks 10, 64, 128, Cholesky and CG (3 steps).
  Useful flops per observation: Cholesky 2·d(d+1)/2 (the Gram's lower triangle)
  + 2d (right side), plus d³/3 + 2d² per target; CG 2d + (1 + steps)·4d (each
  matvec a dot and an axpy per row). Bytes: the index and value streams (8 per
  observation) + the gathered row (stride · 4 per observation), + for CG the
  buffered rows written once and read by each matvec.
- ``fill pass``: soft-impute's ``_fill`` passes S V (gather) and Sᵀ U (scatter
  or gather, as ``FillPass`` chooses) at rank 10 + 2 offset lanes: 4·w flops
  per observation (w = 12 used lanes: a dot and an axpy); bytes 8 + a row.
- ``top-k``: ``_topk.score_topk`` of every user against all items at rank 10
  and 64, k = 10, no exclusions: 2·m·n·r flops (the score GEMMs); bytes: the
  score buffer written by the GEMM and read by the selection (8·m·n).

Achieved figures are useful work over the best wall time; ``% gemm`` and ``%
copy`` compare them with the peaks measured here at the same thread count. The
gathered rows mostly come from cache, so a kernel can exceed the copy rate on
its byte count: there the bound is latency or the core, not DRAM.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from _common import load1, netflix_like

SIZES = {"small": dict(nnz=1_000_000, repeat=3, gemm_n=1024, copy_mb=64, topk_users=5_000,
                       cholesky_max_rank=128),
         # Cholesky at rank 128 takes minutes an epoch on the shared machine: CG only there.
         "full": dict(nnz=10_000_000, repeat=3, gemm_n=2048, copy_mb=256,
                      topk_users=50_000, cholesky_max_rank=64)}
RANKS = (10, 64, 128)
CG_STEPS = 3

NOTES = (
    "best_s / median_s / max_s over the repeats; GFLOP/s and GB/s from best_s and the "
    "useful flops and bytes in the module docstring; % gemm = GFLOP/s / the GEMM peak at "
    "the same threads; % copy = GB/s / the stream copy at the same threads. load1 = "
    "highest 1-minute load average seen (2 cores, shared machine: peaks measured under "
    "load are lower bounds on the idle machine's)."
)


def parameters(size):
    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    return dict(shape=f"{m}x{n}", nnz=nnz, ranks=RANKS, dtype="float32", cg_steps=CG_STEPS,
                repeat=s["repeat"], gemm_n=s["gemm_n"], copy_mb=s["copy_mb"])


def _times(fn, repeat):
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _blas_kernel():
    import threadpoolctl

    # numpy's BLAS runs the matmul (scipy may load another copy for the kernels).
    pools = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    pools.sort(key=lambda i: "numpy" not in (i.get("filepath") or ""))
    for info in pools:
        if True:
            return (f"{info.get('internal_api')} {info.get('version')} "
                    f"{info.get('architecture') or ''} sgemm").strip()
    return "unknown BLAS sgemm"


def run(size, threads):
    from threadpoolctl import threadpool_limits

    from lorank._kernels import _als, _topk
    from lorank.models.als import _factor_storage
    from lorank.datasets import synthetic
    from lorank.linalg.sparse_plus_lowrank import FillPass

    s = SIZES[size]
    rep = s["repeat"]
    rows = []
    load = load1()
    peak = {}

    def row(kernel, what, t, flops, nbytes, threads_):
        nonlocal load
        load = max(load, load1())
        best = min(t)
        rows.append(dict(kernel=kernel, what=what, threads=threads_, best_s=best,
                         median_s=float(np.median(t)), max_s=max(t),
                         gflops=flops / best / 1e9, gbs=nbytes / best / 1e9,
                         **{"% gemm": None, "% copy": None}, load1=load))

    # Peaks: GEMM at threads and 1 thread, stream copy at threads and 1 thread.
    N = s["gemm_n"]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((N, N), dtype=np.float32)
    b = rng.standard_normal((N, N), dtype=np.float32)
    c = np.empty((N, N), np.float32)
    for t_ in sorted({threads, 1}, reverse=True):
        with threadpool_limits(limits=t_, user_api="blas"):
            np.matmul(a, b, out=c)  # warm
            t = _times(lambda: np.matmul(a, b, out=c), rep)
        row("peak: GEMM", f"{_blas_kernel()} {N}^3", t, 2.0 * N ** 3, 3 * 4 * N * N, t_)
        peak[("gemm", t_)] = rows[-1]["gflops"]
    del a, b, c
    src = np.ones(s["copy_mb"] << 18, np.float32)
    dst = np.empty_like(src)
    for t_ in sorted({threads, 1}, reverse=True):
        parts = np.array_split(np.arange(src.size), t_)
        bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts]
        with ThreadPoolExecutor(t_) as pool:
            def copy():
                list(pool.map(lambda ab: np.copyto(dst[ab[0]:ab[1]], src[ab[0]:ab[1]]),
                              bounds))
            copy()
            t = _times(copy, rep)
        row("peak: stream copy", f"np.copyto {s['copy_mb']} MB", t, 0.0, 2.0 * src.nbytes, t_)
        peak[("copy", t_)] = rows[-1]["gbs"]
    del src, dst

    m, n, nnz = netflix_like(s["nnz"])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    with threadpool_limits(limits=1, user_api="blas"):
        # ALS half-steps (items then users).
        for rank in RANKS:
            d = rank + 1
            A, B = _factor_storage(m, d, np.float32), _factor_storage(n, d, np.float32)
            A[:, :d] = rng.standard_normal((m, d)) * 0.3
            B[:, :d] = rng.standard_normal((n, d)) * 0.3
            stride = A.shape[1]
            lam_c = np.sqrt(R.col_counts.astype(np.float64))
            lam_r = np.sqrt(R.row_counts.astype(np.float64))
            for solver in ("cholesky", "cg") if rank <= s["cholesky_max_rank"] else ("cg",):
                def epoch():
                    for view, fixed, solved, lam in ((R.csc, A, B, lam_c),
                                                     (R.csr, B, A, lam_r)):
                        k = solved.shape[0]
                        sse, rsum, st = np.empty(k), np.empty(k), np.empty(k, np.int32)
                        _als.half_step(view.indptr, view.indices, view.values, fixed,
                                       solved, 3.6, lam, True, rank, sse, rsum, st,
                                       threads, solver=solver, cg_steps=CG_STEPS)
                epoch()
                t = _times(epoch, rep)
                per_obs = 2 * nnz  # both half-steps visit every observation
                if solver == "cholesky":
                    flops = per_obs * (d * (d + 1) + 2 * d) + (m + n) * (d ** 3 / 3 + 2 * d * d)
                    nbytes = per_obs * (8 + 4 * stride)
                    what = f"rank {rank}, Cholesky"
                else:
                    flops = per_obs * (2 * d + (1 + CG_STEPS) * 4 * d)
                    nbytes = per_obs * (8 + 4 * stride + (1 + 1 + CG_STEPS) * 4 * stride)
                    what = f"rank {rank}, CG {CG_STEPS} steps"
                row("ALS half-steps (epoch)", what, t, flops, nbytes, threads)
            del A, B

        # Soft-impute's fill passes, rank 10 + the 2 offset lanes.
        w = 12
        rows_f, cols_f = _factor_storage(m, w, np.float32), _factor_storage(n, w, np.float32)
        rows_f[:, :w] = rng.standard_normal((m, w)) * 0.3
        cols_f[:, :w] = rng.standard_normal((n, w)) * 0.3
        scale = np.zeros(rows_f.shape[1], np.float32)
        scale[:w] = 1
        for side, target, other in (("rows", rows_f, cols_f), ("cols", cols_f, rows_f)):
            fp = FillPass(R, side, rows_f.shape[1])
            out = np.empty_like(target)
            fp(target, scale, other, out, threads)
            t = _times(lambda: fp(target, scale, other, out, threads), rep)
            form = "gather" if fp.scatter is None else "scatter"
            row("fill pass (SoftImpute)", f"{'S V' if side == 'rows' else 'Sᵀ U'} ({form}), "
                f"{w} lanes", t, nnz * 4 * w, nnz * (8 + 4 * rows_f.shape[1]), threads)
        del rows_f, cols_f

        # Top-k of every user's scores against all items.
        users = min(s["topk_users"], m)
        for rank in (10, 64):
            L = rng.standard_normal((users, rank)).astype(np.float32)
            Rt = rng.standard_normal((n, rank)).astype(np.float32)
            indptr = np.zeros(users + 1, np.int64)
            indices = np.zeros(0, np.int32)
            k = 10
            oi, ov = np.empty((users, k), np.int32), np.empty((users, k), np.float32)

            def topk():
                _topk.score_topk(L, Rt, indptr, indices, 0, users, 256, False, oi, ov,
                                 threads)
            topk()
            t = _times(topk, rep)
            row("top-k", f"{users} users x {n} items, rank {rank}, k={k}", t,
                2.0 * users * n * rank, 8.0 * users * n, threads)

    for r in rows:
        t_ = r["threads"]
        if r["gflops"] and ("gemm", t_) in peak:
            r["% gemm"] = 100 * r["gflops"] / peak[("gemm", t_)]
        if ("copy", t_) in peak:
            r["% copy"] = 100 * r["gbs"] / peak[("copy", t_)]
        r["load1"] = load
    return rows


if __name__ == "__main__":
    import sys
    sys.exit("run it through bench/run.py: python bench/run.py roofline [--size small]")
