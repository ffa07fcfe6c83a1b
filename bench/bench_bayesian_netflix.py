"""BayesianALS at the Netflix shape: one Gibbs sweep against one ALS epoch, peak
RSS of each fit, held-out RMSE (issue 11's Netflix-shape targets).

``datasets.synthetic`` (rank-10 truth, the Netflix Prize's 480,189 x 17,770 and
100.48M ratings at scale 1; at a smaller ``LORANK_BENCH_SCALE`` both sides shrink
by its square root, so the density stays Netflix's), 10% held out
(``split(0.1, random_state=0)``), float32, rank 10, 2 threads. ALS() with the
library defaults, then a default BayesianALS() (``LORANK_BENCH_BAYES_SAMPLES=N``
runs N sweeps instead: with N >= 16 the kept samples have been folded into the
compressed mean twice, so the fit's peak memory is the default fit's, which does
not grow with the number of samples; the RMSE is that of the shorter chain),
then ALS() again, in one process, one
after the other: the sweep/epoch ratio is taken against both ALS runs, so a
change of load during the long Gibbs fit shows as a spread. Seconds per
iteration from ``history_``; CPU seconds per iteration from the process's CPU
time over the fit (less sensitive to other processes than wall time). Peak RSS:
the process's high-water mark reset (/proc/self/clear_refs) before each fit, so
each row is that fit's own peak with the training and test data held.
``size=small`` is scale 0.01.

Run: ``python bench/run.py bayesian_netflix`` (scale 1: about 4 GB and, on
2 idle cores, about 10 minutes; ``LORANK_BENCH_SCALE=0.2`` for a fifth).
"""

import os
import time

import numpy as np

from _common import load1, netflix_like

def _sweeps():
    """(n_samples, burn_in) of the Gibbs fit: the defaults, or the environment's."""
    from lorank import BayesianALS

    model = BayesianALS()
    return int(os.environ.get("LORANK_BENCH_BAYES_SAMPLES", model.n_samples)), model.burn_in

NOTES = ("per_iter_s: median of history_['seconds'] (fastest in per_iter_min_s, mean in "
         "per_iter_mean_s: a sweep that folds the kept samples into the compressed mean "
         "counts the fold, so the mean is the amortized cost); ratio = "
         "BayesianALS median sweep / ALS median epoch, in the same run (ALS fitted before and "
         "after the Gibbs fit; cpu ratio from cpu_per_iter_s). peak_rss_gb: VmHWM "
         "after the fit, reset before it (data held throughout: data_rss_gb). rmse on the "
         "held-out 10% (noise floor of the generator in the data row). load1 = 1-minute "
         "load average at the end of the row (2 cores shared with other workers).")


def _scale(size):
    return 0.01 if size == "small" else float(os.environ.get("LORANK_BENCH_SCALE", "1"))


def parameters(size):
    s = _scale(size)
    m, n, nnz = netflix_like(round(100_000_000 * s))
    sweeps, burn_in = _sweeps()
    return dict(scale=s, shape=f"{m}x{n}", nnz=nnz, rank=10, dtype="float32",
                bayes_sweeps=sweeps, burn_in=burn_in, split="90/10 random")


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
    sweeps, burn_in = _sweeps()
    als = ("ALS()", lambda: lorank.ALS(random_state=0, n_threads=threads))
    models = (als, (f"BayesianALS(n_samples={sweeps}, burn_in={burn_in})",
                    lambda: lorank.BayesianALS(n_samples=sweeps, burn_in=burn_in,
                                               random_state=0, n_threads=threads)), als)
    for name, make in models:
        model = make()
        before = _status("VmRSS:")
        _reset_peak()
        t, c = time.perf_counter(), time.process_time()
        model.fit(train)
        fit_s, cpu_s = time.perf_counter() - t, time.process_time() - c
        peak = _status("VmHWM:")
        err = model.predict_positions(rows, cols).astype(np.float64) - values
        s = model.history_["seconds"]
        out.append(dict(what=name, shape=f"{m}x{n}", nnz=train.nnz, iters=model.n_iter_,
                        rmse=float(np.sqrt(np.mean(err * err))),
                        per_iter_s=float(np.median(s)), per_iter_min_s=float(np.min(s)),
                        per_iter_mean_s=float(np.mean(s)),
                        cpu_per_iter_s=cpu_s / model.n_iter_, fit_s=fit_s, fit_cpu_s=cpu_s,
                        peak_rss_gb=peak, data_rss_gb=before, threads=threads,
                        load1=load1()))
        if hasattr(model, "n_kept_"):
            out[-1].update(n_kept=model.n_kept_, truncation_rms=model.truncation_error_["rms"])
        print(out[-1], flush=True)
        del model
    bayes = out[2]
    for key, label in (("per_iter_s", "median"), ("per_iter_min_s", "fastest"),
                       ("per_iter_mean_s", "mean, folds included"), ("cpu_per_iter_s", "cpu")):
        ratios = [bayes[key] / out[k][key] for k in (1, 3)]
        out.append(dict(what=f"sweep / epoch ({label})", ratio=max(ratios),
                        ratio_vs_first_als=ratios[0], ratio_vs_second_als=ratios[1]))
    return out
