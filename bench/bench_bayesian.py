"""BayesianALS: ML-100k 5-fold RMSE and wall time with the defaults, RMSE against
sweeps, and (``full``) one Gibbs sweep against one ALS epoch at the Netflix shape.

ML-100k: ``Ratings.kfold(5, random_state=0)``, ``BayesianALS(random_state=0,
n_threads=threads)`` with the test fold as ``validation`` (its running-mean RMSE
per sweep gives the curve; scoring it costs one prediction pass per sweep,
included in the times). Netflix shape (``full`` only): ``datasets.synthetic()``
at full size (100.48M ratings, float32), 10 % held out (``split(0.1,
random_state=0)``), ALS(), BayesianALS(rank=10), ALS() again and
BayesianALS(rank=10, noise="global") (the paper's model, one α) fitted one after
the other in the same run (the ratios divide each sweep by the mean of the two
ALS epochs, so a change of the machine's load during the run shows as the two
ALS rows' difference rather than in the ratio); per-sweep and per-epoch seconds
from their ``history_``, peak RSS of the process after each fit (the peak so far:
the first ALS row and the BayesianALS row are their fits'), and test RMSE. ``LORANK_BENCH_NETFLIX=0`` skips
that part (it needs about 6 GB and several minutes).
"""

import os
import resource
import time
from pathlib import Path

import numpy as np

from _common import load1

ML100K = Path("/work/shared/data/ml-100k/u.data")
# Sweeps at the Netflix shape: enough for the per-sweep time, the memory scaling
# (K·rank·(m + n) floats of kept samples) and a test RMSE; not the default 200.
NETFLIX_SWEEPS = 40
CURVE = (1, 10, 20, 25, 50, 100, 150, 200)
NOTES = ("ML-100k rows: rmse = mean test RMSE over the folds (± std), wall_s = the whole "
         "5-fold run (fit + scoring), per_fold_s = its mean per fold; the curve rows give "
         "the test RMSE of the running posterior mean after that many sweeps (of the "
         "sample itself during burn-in), mean over folds. Netflix rows: one sweep / one "
         "epoch from history_ (median), peak RSS (ru_maxrss) after the fit.")


def parameters(size):
    return dict(data=str(ML100K), folds=5 if size == "full" else 2,
                netflix=size == "full" and os.environ.get("LORANK_BENCH_NETFLIX", "1") != "0")


def _ml100k(size, threads):
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))
    folds = list(R.kfold(5, random_state=0))[: 5 if size == "full" else 2]
    scores, curves, fold_s = [], [], []
    start = time.perf_counter()
    for train, test in folds:
        t0 = time.perf_counter()
        model = lorank.BayesianALS(random_state=0, n_threads=threads).fit(train, validation=test)
        rows, cols, values = test.coo()
        err = model.predict_positions(rows, cols).astype(np.float64) - values
        scores.append(float(np.sqrt(np.mean(err * err))))
        fold_s.append(time.perf_counter() - t0)
        curves.append(model.history_["valid_rmse"])
    wall = time.perf_counter() - start
    out = [dict(what=f"ml-100k {len(folds)}-fold BayesianALS()", sweeps=model.n_iter_,
                kept=model.n_kept_, rmse=float(np.mean(scores)),
                rmse_std=float(np.std(scores)), folds=[round(s, 4) for s in scores],
                wall_s=wall, per_fold_s=float(np.mean(fold_s)), threads=threads,
                load1=load1())]
    for k in CURVE:
        if k <= len(curves[0]):
            out.append(dict(what=f"  after {k} sweeps", sweeps=k,
                            rmse=float(np.mean([c[k - 1] for c in curves]))))
    return out


def _rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _netflix(threads):
    import lorank
    from lorank.datasets import synthetic

    R, _ = synthetic(n_threads=threads, random_state=0)
    train, test = R.split(0.1, random_state=0)
    del R
    rows, cols, values = test.coo()
    out = []
    def als():
        return lorank.ALS(random_state=0, n_threads=threads)

    def bayes(noise="rows+cols"):
        return lorank.BayesianALS(10, n_samples=NETFLIX_SWEEPS, burn_in=10, random_state=0,
                                  n_threads=threads, noise=noise)

    # Built one at a time: no fitted model outlives its row.
    for name, make in (("ALS()", als),
                       (f"BayesianALS(rank=10, n_samples={NETFLIX_SWEEPS}, burn_in=10)", bayes),
                       ("ALS() again", als),
                       ('  the same with noise="global"', lambda: bayes("global"))):
        model = make()
        t0 = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        err = model.predict_positions(rows, cols).astype(np.float64) - values
        s = model.history_["seconds"]
        out.append(dict(what=f"netflix-shape {name}", sweeps=model.n_iter_,
                        rmse=float(np.sqrt(np.mean(err * err))),
                        per_iter_s=float(np.median(s)), per_iter_min_s=float(np.min(s)),
                        fit_s=fit_s, peak_rss_gb=_rss_gb(), threads=threads, load1=load1()))
        del model
    als_s = (out[0]["per_iter_s"] + out[2]["per_iter_s"]) / 2
    als_min = min(out[0]["per_iter_min_s"], out[2]["per_iter_min_s"])
    for k, label in ((1, ""), (3, ', noise="global"')):
        out.append(dict(what=f"netflix-shape sweep / epoch (medians; fastest){label}",
                        ratio=out[k]["per_iter_s"] / als_s,
                        ratio_fastest=out[k]["per_iter_min_s"] / als_min))
    return out


def run(size, threads):
    rows = _ml100k(size, threads) if ML100K.exists() else []
    if size == "full" and os.environ.get("LORANK_BENCH_NETFLIX", "1") != "0":
        rows += _netflix(threads)
    return rows
