"""Defaults on other rating scales: MovieLens 100K's ratings multiplied by c.

The same ratings on a 0.2-1, 1-5, 2-10, 5-25 or 10-50 scale are the same data in
other units, so a model's defaults should give the same answer in those units.
Each row: the 5-fold test RMSE (``Ratings.kfold(5, random_state=0)`` of
``/work/shared/data/ml-100k/u.data`` × c), divided by c, of a model with its
defaults (``random_state=0``). ALS and CPALS measure ``reg`` on the values / s,
s the power of two nearest their standard deviation (``value_scale_``), so they
are exactly invariant under c = 2^k and within a factor √2 of it otherwise;
BayesianALS runs its chain on the values / σ (exact). ``small``: 2 folds.
"""

import sys

import numpy as np

from _common import load1

ML100K = "/work/shared/data/ml-100k/u.data"
SCALES = (0.2, 1.0, 2.0, 5.0, 10.0)
NOTES = ("rmse = mean over the folds of the test RMSE / c (in 1-5 star units); "
         "value_scale = the model's value_scale_ on the first fold (s for ALS, σ for "
         "BayesianALS, none for Baseline).")


def parameters(size):
    return dict(data=ML100K, scales=list(SCALES), folds=2 if size == "small" else 5,
                kfold_random_state=0)


def run(size, threads):
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    rows, cols, stars = data[:, 0] - 1, data[:, 1] - 1, data[:, 2].astype(np.float64)
    models = [("Baseline", lambda: lorank.Baseline(n_threads=threads)),
              ("ALS()", lambda: lorank.ALS(random_state=0, n_threads=threads)),
              ("BayesianALS()", lambda: lorank.BayesianALS(random_state=0, n_threads=threads))]
    n_folds = parameters(size)["folds"]
    out = []
    for c in SCALES:
        R = lorank.Ratings(rows, cols, (stars * c).astype(np.float32))
        folds = list(R.kfold(5, random_state=0))[:n_folds]
        for name, make in models:
            errs, scale = [], None
            for train, test in folds:
                model = make().fit(train)
                r, k, v = test.coo()
                err = model.predict_positions(r, k).astype(np.float64) - v
                errs.append(float(np.sqrt(np.mean(err * err))) / c)
                scale = getattr(model, "value_scale_", None) if scale is None else scale
            row = dict(model=name, c=c, rmse=float(np.mean(errs)),
                       value_scale=scale, threads=threads, load1=load1())
            print(f"  x{c} {name}: {row['rmse']:.4f} (scale {scale})", file=sys.stderr,
                  flush=True)
            out.append(row)
    return out


if __name__ == "__main__":
    sys.exit("run it through bench/run.py: python bench/run.py rating_scale [--size small]")
