"""Time to accuracy: validation RMSE against seconds, SoftImpute vs exact ALS.

Data: the 10M-rating Netflix-shaped synthetic (``netflix_like(10M)``, noise 0.5,
so the best possible RMSE is about 0.5 before rounding) and MovieLens 100K
(``/work/shared/data/ml-100k/u.data``), each split 90/10 at random
(random_state=0). Both models rank 10, float32, biases, random_state=0.
SoftImpute: reg = FRACTION x lambda_max(train, biases=True) (0.3 was the best of
0.3/0.2/0.1/0.05 on a 80/20 ML-100k split), max_iter=ITERS["soft"], tol=0.
ALS: ALS-WR (weighted_reg=True) reg 0.05, and reg 0.12 on ML-100k,
max_iter=ITERS["als"], tol=0. Each row is one iteration: cumulative seconds
(iterations only; set-up in ``setup_s``) and validation RMSE. A PNG with both
curves per data set goes to bench/results/softimpute_accuracy.png.
"""

import os
import time

import numpy as np

from _common import RESULTS, load1, netflix_like

ML100K = "/work/shared/data/ml-100k/u.data"
SIZES = {"small": 1_000_000, "full": 10_000_000}
ITERS = {"soft": 30, "als": 10}
FRACTION = 0.3

NOTES = ("seconds = cumulative iteration time from history_['seconds'] (includes each "
         "iteration's RMSE passes); setup_s = fit time outside the iterations (centering, "
         "spectral start). load1 at the end of each fit. 2-core machine shared with other "
         "workers.")


def parameters(size):
    return dict(synthetic_nnz=SIZES[size], rank=10, dtype="float32", iters=ITERS,
                soft_reg_fraction_of_lambda_max=FRACTION)


def _datasets(size, threads):
    import lorank
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(SIZES[size])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    yield f"synthetic {m}x{n} nnz={nnz}", R, 0.05
    if os.path.exists(ML100K):
        d = np.loadtxt(ML100K, dtype=np.int64)
        yield "ml-100k", lorank.Ratings(d[:, 0] - 1, d[:, 1] - 1, d[:, 2].astype(np.float32)), 0.12


def run(size, threads):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import lorank

    rows = []
    datasets = list(_datasets(size, threads))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, (name, R, als_reg) in zip(axes[0], datasets):
        train, valid = R.split(0.1, random_state=0)
        lam = FRACTION * lorank.lambda_max(train, biases=True, dtype=np.float32, n_threads=threads)
        models = {
            f"SoftImpute(reg={lam:.4g})": lorank.SoftImpute(
                10, reg=lam, biases=True, max_iter=ITERS["soft"], tol=0, n_threads=threads,
                random_state=0),
            f"ALS(reg={als_reg})": lorank.ALS(10, reg=als_reg, weighted_reg=True,
                                              max_iter=ITERS["als"], tol=0,
                                              n_threads=threads, random_state=0),
        }
        for label, model in models.items():
            start = time.perf_counter()
            model.fit(train, validation=valid)
            total = time.perf_counter() - start
            h = model.history_
            cum = np.cumsum(h["seconds"])
            setup = total - cum[-1]
            for it, sec, v in zip(h["iteration"], cum, h["valid_rmse"]):
                rows.append(dict(data=name, method=label, iteration=it, seconds=float(sec),
                                 valid_rmse=v, setup_s=setup if it == 1 else None,
                                 threads=threads, load1=load1() if it == len(cum) else None))
            curve = dict(h, seconds=list(cum))
            n_before = len(ax.get_lines())
            lorank.plot.training_curves(curve, ax=ax, x="seconds")
            for line in ax.get_lines()[n_before:]:
                line.set_label(f"{label} {line.get_label()}")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / f"softimpute_accuracy{'' if size == 'full' else '-small'}.png", dpi=100)
    return rows


if __name__ == "__main__":
    import sys
    sys.exit("run it through bench/run.py: python bench/run.py softimpute_accuracy [--size small]")
