"""Bayesian CP tensor completion (BPTF): BayesianCP beside CPALS and BayesianALS.

``python bench/run.py bptf [--size small]`` runs two parts, each in a fresh
subprocess (``python bench/bench_bptf.py --child PART SIZE THREADS``):

- ``ml100k``: MovieLens 100K with 10 equal-count time bins, 5-fold
  (``TensorRatings.kfold(5, random_state=0)``): CPALS and BayesianCP (the
  independent prior, and the time chain ``time_mode=-1``) on user x item x bin,
  BayesianALS on user x item (the same folds, the bin dropped; with its default
  per-user and per-item noise scales, and with one noise precision as BayesianCP
  has), library defaults, rank 10, float32. RMSE mean and standard deviation over the folds,
  seconds per sweep (epoch) and per fit.
- ``drift``: ``datasets.synthetic_drift`` (Netflix-shaped, factors drifting over
  2243 days) at 10M ratings (1M small), 30 equal-count bins, 90/10 random
  split, rank 10, float32: CPALS 10 iterations (tol=0), BayesianALS (user x
  item, both noise models) and BayesianCP ``n_samples=40, burn_in=10`` (shortened from the
  default 200/20 to keep the run short on a shared machine). Seconds per sweep
  (median, fastest), held-out RMSE, peak RSS of the part so far.
"""

import json
import sys
import time

import numpy as np

from _common import (child_main, drift_split, load1, ml100k_tensor, peak_mb, run_parts,
                     user_item)

SIZES = {
    "small": dict(drift_nnz=1_000_000, folds=2),
    "full": dict(drift_nnz=10_000_000, folds=5),
}
DRIFT_SWEEPS, DRIFT_BURN_IN, DRIFT_ITERS = 40, 10, 10

NOTES = (
    "sec_per_iter: median seconds per sweep (epoch) from history_['seconds'], fastest in "
    "sec_fastest; ratio: sec_per_iter / CPALS's in the same part; fit_s: whole fit (mean "
    "over the folds for ml100k), including the start; rmse: held-out (ml100k: mean over "
    "the folds, rmse_std their standard deviation); drift's Bayesian fits are 40 sweeps "
    "(10 burn-in), not the default 200. 2 cores shared with other workers: load1 is the "
    "1-minute load average at the end of each row."
)


def parameters(size):
    p = SIZES[size]
    return dict(rank=10, dtype="float32", folds=p["folds"], ml100k_bins=10,
                drift_nnz=p["drift_nnz"], drift_bins=30, drift_sweeps=DRIFT_SWEEPS,
                drift_burn_in=DRIFT_BURN_IN, drift_cpals_iters=DRIFT_ITERS)


def _row(**kw):
    keys = ("part", "method", "size", "nnz", "threads", "sweeps", "sec_per_iter",
            "sec_fastest", "ratio", "fit_s", "rmse", "rmse_std", "peak_mb", "status", "load1")
    return {k: kw.get(k) for k in keys}


def _models(threads, sweeps=None):
    import lorank

    kw = {} if sweeps is None else dict(n_samples=sweeps[0], burn_in=sweeps[1])
    cp_kw = {} if sweeps is None else dict(max_iter=DRIFT_ITERS, tol=0)
    return {
        "CPALS (user x item x bin)": (lambda: lorank.CPALS(10, n_threads=threads,
                                                           random_state=0, **cp_kw), True),
        "BayesianALS (user x item)": (lambda: lorank.BayesianALS(10, n_threads=threads,
                                                                 random_state=0, **kw), False),
        # One noise precision, as BayesianCP has: the like-for-like comparison.
        'BayesianALS (user x item), noise="global"': (lambda: lorank.BayesianALS(
            10, noise="global", n_threads=threads, random_state=0, **kw), False),
        "BayesianCP (user x item x bin)": (lambda: lorank.BayesianCP(
            10, n_threads=threads, random_state=0, **kw), True),
        "BayesianCP, time chain": (lambda: lorank.BayesianCP(
            10, time_mode=-1, n_threads=threads, random_state=0, **kw), True),
    }


def _fit(make, tensor, train, test):
    start = time.perf_counter()
    if tensor:
        model = make().fit(train)
        idx, values = test.coo()
        pred = model.predict_positions(idx)
    else:
        model = make().fit(user_item(train))
        idx, values = test.coo()
        pred = model.predict_positions(idx[0], idx[1])
    total = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((pred.astype(np.float64) - values) ** 2)))
    return model.history_["seconds"], total, rmse


def _ml100k(size, threads):
    R, T = ml100k_tensor(10)
    models = _models(threads)
    out = {name: ([], [], []) for name in models}
    for train, test in T.kfold(SIZES[size]["folds"], random_state=0):
        for name, (make, tensor) in models.items():
            sec, total, rmse = _fit(make, tensor, train, test)
            out[name][0].extend(sec)
            out[name][1].append(total)
            out[name][2].append(rmse)
    rows = []
    base = float(np.median(out["CPALS (user x item x bin)"][0]))
    for name, (sec, total, rmse) in out.items():
        rows.append(_row(part="ml100k", method=name,
                         size="943x1682" + ("x10" if "CP" in name else ""), nnz=R.nnz,
                         threads=threads, sweeps=len(sec) // len(total),
                         sec_per_iter=float(np.median(sec)), sec_fastest=float(np.min(sec)),
                         ratio=float(np.median(sec)) / base, fit_s=float(np.mean(total)),
                         rmse=float(np.mean(rmse)), rmse_std=float(np.std(rmse)),
                         status=f"{len(rmse)} folds", load1=load1()))
    best = min(rows, key=lambda r: r["rmse"])
    best["status"] += "; lowest RMSE"
    return rows


def _drift(size, threads):
    (m, n, nnz), train, test, floor = drift_split(SIZES[size]["drift_nnz"], 30, threads)
    rows = [_row(part="drift", method="noise floor (RMSE of E[rating | signal])",
                 size=f"{m}x{n}x30", nnz=nnz, rmse=floor, load1=load1())]
    base = None
    for name, (make, tensor) in _models(threads, (DRIFT_SWEEPS, DRIFT_BURN_IN)).items():
        if "chain" in name:
            continue  # the chain's sweep costs the same; its accuracy is ml100k's question
        sec, total, rmse = _fit(make, tensor, train, test)
        base = base or float(np.median(sec))
        rows.append(_row(part="drift", method=name,
                         size=f"{m}x{n}" + ("x30" if "CP" in name else ""), nnz=train.nnz,
                         threads=threads, sweeps=len(sec), sec_per_iter=float(np.median(sec)),
                         sec_fastest=float(np.min(sec)), ratio=float(np.median(sec)) / base,
                         fit_s=total, rmse=rmse, peak_mb=peak_mb(), load1=load1(),
                         status=f"sweeps {min(sec):.2f}-{max(sec):.2f} s"))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


PARTS = {"ml100k": _ml100k, "drift": _drift}


def run(size, threads):
    return run_parts(__file__, PARTS, size, threads)


if __name__ == "__main__":
    child_main(PARTS, "bptf")
