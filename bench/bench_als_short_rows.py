"""The ALS half-step's cost per target on short targets, with and without the fused
Gram's prefetch into the next target's observations (``_als._set_cross_prefetch``).

480,000 targets with 1, 4, 16 or 64 observations each, drawn uniformly from 17,813
rows of the other side (rank 10 + bias, float32: 1.1 MB), then the Netflix shape
(``datasets.synthetic`` at 100.48M ratings, the users' half-step at a fitted point,
after ``ALS(max_iter=2)``). Both settings alternate in one process (the order
flipped each round), ``exact_sse=False``; the outputs are checked equal.
"""

import time

import numpy as np

from _common import fitted_half_steps, load1, netflix_like

SIZES = {"small": dict(targets=48_000, per=(1, 16), netflix=2_000_000, rounds=4),
         "full": dict(targets=480_000, per=(1, 4, 16, 64), netflix=100_480_507, rounds=8)}
NOTES = ("ns_per_target = median wall seconds of the rounds / targets; ratio = median over "
         "rounds of (off / on) for the paired calls (> 1: the prefetch helps). load1 = "
         "highest 1-minute load seen.")


def parameters(size):
    return dict(SIZES[size], rank=10, dtype="float32", other_rows=17_813)


def _paired(call, rounds, check):
    from lorank._kernels import _als

    times, outs = {True: [], False: []}, {}
    previous = _als._set_cross_prefetch(True)
    try:
        for r in range(rounds):
            for on in ((False, True) if r % 2 == 0 else (True, False)):
                _als._set_cross_prefetch(on)
                start = time.perf_counter()
                outs[on] = call()
                times[on].append(time.perf_counter() - start)
    finally:
        _als._set_cross_prefetch(previous)
    check(outs[False], outs[True])
    off, on = np.array(times[False]), np.array(times[True])
    return float(np.median(off)), float(np.median(on)), float(np.median(off / on))


def run(size, threads):
    from lorank._kernels import _als
    from lorank.datasets import synthetic

    s = SIZES[size]
    rng = np.random.default_rng(0)
    n_other, stride, rank, m = 17_813, 16, 10, s["targets"]
    F = np.zeros((n_other, stride), np.float32)
    F[:, :rank] = rng.standard_normal((n_other, rank)) * 0.3
    F[:, rank] = 0.1
    rows, load = [], load1()

    def equal(a, b):
        assert np.array_equal(a, b), "the prefetch changed the result"

    for per in s["per"]:
        indptr = np.arange(0, m * per + 1, per, dtype=np.int64)
        idx = np.sort(rng.integers(0, n_other, (m, per)).astype(np.int32), axis=1).ravel()
        vals = (rng.standard_normal(m * per) + 3).astype(np.float32)
        lam = np.full(m, 1.0)

        def call():
            solved = np.zeros((m, stride), np.float32)
            _als.half_step(indptr, idx, vals, F, solved, 3.0, lam, True, rank, np.zeros(m),
                           np.zeros(m), np.zeros(m, np.int32), threads, exact_sse=False)
            return solved

        off, on, ratio = _paired(call, s["rounds"], equal)
        load = max(load, load1())
        rows.append(dict(case=f"{per} obs per target, uniform rows", targets=m,
                         ns_per_target_off=round(off / m * 1e9), ns_per_target_on=round(on / m * 1e9),
                         ratio=round(ratio, 3), threads=threads, load1=load))

    R, _ = synthetic(*netflix_like(s["netflix"]), n_threads=threads)
    args, kwargs = fitted_half_steps(R, threads, 2)[-1]  # the users' half-step
    kernel = _als.half_step

    def users():
        a = list(args)
        a[4] = np.array(args[4], copy=True)
        kernel(*a, **dict(kwargs, exact_sse=False))
        return a[4]

    off, on, ratio = _paired(users, s["rounds"], equal)
    m = R.shape[0]
    rows.append(dict(case=f"Netflix shape users ({R.nnz} ratings)", targets=m,
                     ns_per_target_off=round(off / m * 1e9), ns_per_target_on=round(on / m * 1e9),
                     ratio=round(ratio, 3), threads=threads, load1=max(load, load1())))
    return rows
