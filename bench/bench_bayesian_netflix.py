"""BayesianALS at the Netflix shape: one Gibbs sweep against one ALS epoch, peak
RSS of each fit, held-out RMSE (issue 11's Netflix-shape targets).

``datasets.synthetic`` (rank-10 truth, the Netflix Prize's 480,189 x 17,770 and
100.48M ratings at scale 1; at a smaller ``LORANK_BENCH_SCALE`` both sides shrink
by its square root, so the density stays Netflix's), 10% held out
(``split(0.1, random_state=0)``), float32, rank 10, 2 threads. ALS() with the
library defaults, then BayesianALS(rank=10, n_samples=40, burn_in=10) (40
sweeps: enough for the per-sweep time, the kept samples' memory and a test
RMSE, not the default's 200), in one process, one after the other. Seconds per
iteration from ``history_``. Peak RSS: the process's high-water mark reset
(/proc/self/clear_refs) before each fit, so each row is that fit's own peak
with the training and test data held. ``size=small`` is scale 0.01.

Run: ``python bench/run.py bayesian_netflix`` (scale 1: about 5 GB and, on
2 idle cores, tens of minutes; ``LORANK_BENCH_SCALE=0.2`` for a fifth).
"""

import os
import time

import numpy as np

from _common import load1, netflix_like

SWEEPS, BURN_IN = 40, 10

NOTES = ("per_iter_s: median of history_['seconds'] (fastest in per_iter_min_s); ratio = "
         "BayesianALS median sweep / ALS median epoch, in the same run. peak_rss_gb: VmHWM "
         "after the fit, reset before it (data held throughout: data_rss_gb). rmse on the "
         "held-out 10% (noise floor of the generator in the data row). load1 = 1-minute "
         "load average at the end of the row (2 cores shared with other workers).")


def _scale(size):
    return 0.01 if size == "small" else float(os.environ.get("LORANK_BENCH_SCALE", "1"))


def parameters(size):
    s = _scale(size)
    m, n, nnz = netflix_like(round(100_000_000 * s))
    return dict(scale=s, shape=f"{m}x{n}", nnz=nnz, rank=10, dtype="float32",
                bayes_sweeps=SWEEPS, burn_in=BURN_IN, split="90/10 random")


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024 / 2**30


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run(size, threads):
    import lorank

    m, n, nnz = netflix_like(round(100_000_000 * _scale(size)))
    t0 = time.perf_counter()
    R, floor = lorank.datasets.synthetic(m, n, nnz, n_threads=threads, random_state=0)
    train, test = R.split(0.1, random_state=0)
    del R
    rows, cols, values = test.coo()
    out = [dict(what="data (generate, split)", shape=f"{m}x{n}", nnz=nnz,
                fit_s=time.perf_counter() - t0, rmse=float(floor),
                peak_rss_gb=_status("VmHWM:"), data_rss_gb=_status("VmRSS:"),
                threads=threads, load1=load1())]
    models = (("ALS()", lambda: lorank.ALS(random_state=0, n_threads=threads)),
              (f"BayesianALS(10, n_samples={SWEEPS}, burn_in={BURN_IN})",
               lambda: lorank.BayesianALS(10, n_samples=SWEEPS, burn_in=BURN_IN,
                                          random_state=0, n_threads=threads)))
    for name, make in models:
        model = make()
        before = _status("VmRSS:")
        _reset_peak()
        t = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t
        peak = _status("VmHWM:")
        err = model.predict_positions(rows, cols).astype(np.float64) - values
        s = model.history_["seconds"]
        out.append(dict(what=name, shape=f"{m}x{n}", nnz=train.nnz, iters=model.n_iter_,
                        rmse=float(np.sqrt(np.mean(err * err))),
                        per_iter_s=float(np.median(s)), per_iter_min_s=float(np.min(s)),
                        fit_s=fit_s, peak_rss_gb=peak, data_rss_gb=before,
                        threads=threads, load1=load1()))
        print(out[-1], flush=True)
        del model
    out.append(dict(what="sweep / epoch (median)",
                    ratio=out[2]["per_iter_s"] / out[1]["per_iter_s"]))
    out.append(dict(what="sweep / epoch (fastest)",
                    ratio=out[2]["per_iter_min_s"] / out[1]["per_iter_min_s"]))
    return out
