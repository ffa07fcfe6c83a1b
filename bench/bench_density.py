"""Defaults on sparser and structureless data: is every model still better than Baseline?

Real rating sets are often far sparser than MovieLens 100K (6.3 % dense, 106
ratings per user) or carry little beyond user and item biases. Two families of
data sets made from the one we have, each scored by the 5-fold test RMSE
(``Ratings.kfold(5, random_state=0)``) of every model with its defaults
(``random_state=0``):

- ``ml-100k x f``: each fold's training ratings thinned to a fraction f (a
  seeded Bernoulli draw), tested on the fold's whole test set;
- ``biases + noise σ``: MovieLens 100K's (user, item) pattern with values
  3.5 + b_user + c_item + N(0, σ²) (b ~ N(0, 0.4²), c ~ N(0, 0.5²)): nothing for
  factors to find, the best a model can do is the Baseline's biases.

The defaults and the ones they replaced: ``Baseline`` (dampings estimated from the
data) against ``Baseline(15, 10)`` (surprise's, the default until 2026-12-07);
``ALS()`` (reg="auto", the biases under the Baseline's dampings) against
``ALS(bias_reg=None)`` (the biases under the factors' reg, the default until
2026-12-07) and ``ALS(reg=1.0, bias_reg=None)`` (the default before);
``SoftImpute()`` (reg="auto", biases); ``BayesianALS()``. Last, the cost at
scale: Netflix-shaped synthetic ratings (10M, one 90/10 split),
ALS(reg=1.0, bias_reg=None) against ALS() in wall seconds per fit. ``small``:
2 folds, fewer data sets, 1M synthetic ratings.
"""

import sys
import time
import warnings

import numpy as np

from _common import ML100K, load1, netflix_like

FRACTIONS = (1.0, 0.5, 0.25, 0.1, 0.05)
NOISES = (0.5, 1.0)
NOTES = ("rmse = mean over the folds of the test RMSE (± std over folds); fit_s = mean "
         "wall seconds of one fit; warned = folds whose fit warned that the factors add "
         "nothing (reg='auto' holdout); reg = mean reg_ (the chosen one with reg='auto'). Each data set "
         "row set is one data set; 'vs Baseline' = rmse - Baseline's rmse (negative: "
         "better than the biases alone).")


def parameters(size):
    return dict(data=ML100K, fractions=list(FRACTIONS[:3] if size == "small" else FRACTIONS),
                noises=list(NOISES), folds=2 if size == "small" else 5,
                kfold_random_state=0, thinning_seed=1, bias_data_seed=0)


def _data_sets(size):
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    rows, cols = data[:, 0] - 1, data[:, 1] - 1
    stars = lorank.Ratings(rows, cols, data[:, 2].astype(np.float32))
    for f in parameters(size)["fractions"]:
        yield f"ml-100k x {f}", stars, f
    rng = np.random.default_rng(0)
    for noise in NOISES:
        b, c = rng.normal(0, 0.4, rows.max() + 1), rng.normal(0, 0.5, cols.max() + 1)
        values = 3.5 + b[rows] + c[cols] + rng.normal(0, noise, len(rows))
        yield f"biases + noise {noise}", lorank.Ratings(rows, cols, values.astype(np.float32)), 1.0


def _thin(train, frac):
    import lorank

    if frac == 1.0:
        return train
    r, c, v = train.coo()
    keep = np.random.default_rng(1).random(len(v)) < frac
    return lorank.Ratings(r[keep], c[keep], v[keep], shape=train.shape)


def run(size, threads):
    import lorank

    common = dict(n_threads=threads)
    models = [("Baseline", lambda: lorank.Baseline(**common)),
              ("Baseline(15, 10)",
               lambda: lorank.Baseline(reg_users=15, reg_items=10, max_iter=10, tol=0, **common)),
              ("ALS(reg=1.0, bias_reg=None)",
               lambda: lorank.ALS(reg=1.0, bias_reg=None, random_state=0, **common)),
              ("ALS(bias_reg=None)", lambda: lorank.ALS(bias_reg=None, random_state=0, **common)),
              ("ALS()", lambda: lorank.ALS(random_state=0, **common)),
              ("SoftImpute()", lambda: lorank.SoftImpute(random_state=0, **common)),
              ("BayesianALS()", lambda: lorank.BayesianALS(random_state=0, **common))]
    n_folds = parameters(size)["folds"]
    out = []
    for name, R, frac in _data_sets(size):
        folds = [(_thin(train, frac), test) for train, test in R.kfold(5, random_state=0)]
        folds = folds[:n_folds]
        per_user = float(np.mean([tr.nnz for tr, _ in folds])) / R.shape[0]
        base = None
        for model_name, make in models:
            errs, secs, regs, warned = [], [], [], 0
            for train, test in folds:
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model = make().fit(train)
                secs.append(time.perf_counter() - start)
                warned += any("add nothing" in str(w.message) for w in caught)
                r, k, v = test.coo()
                err = model.predict_positions(r, k).astype(np.float64) - v
                errs.append(float(np.sqrt(np.mean(err * err))))
                if hasattr(model, "reg_"):
                    regs.append(model.reg_)
            rmse = float(np.mean(errs))
            base = rmse if model_name == "Baseline" else base
            row = dict(data=name, ratings_per_user=round(per_user, 1), model=model_name,
                       rmse=rmse, rmse_std=float(np.std(errs)), vs_baseline=rmse - base,
                       fit_s=float(np.mean(secs)),
                       reg=float(np.mean(regs)) if regs else None, warned=warned,
                       threads=threads, load1=load1())
            print(f"  {name} {model_name}: {rmse:.4f} ({row['vs_baseline']:+.4f})",
                  file=sys.stderr, flush=True)
            out.append(row)
    out += _at_scale(size, threads)
    return out


def _at_scale(size, threads):
    """What ``reg="auto"`` costs at scale: Netflix-shaped synthetic ratings
    (``netflix_like``), one 90/10 split, ALS(reg=1.0, bias_reg=None) against ALS()."""
    import lorank
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(1_000_000 if size == "small" else 10_000_000)
    R, floor = synthetic(m, n, nnz, random_state=0, n_threads=threads)
    train, test = R.split(0.1, random_state=0)
    r, k, v = test.coo()
    rows = []
    for name, params in (("ALS(reg=1.0, bias_reg=None)", dict(reg=1.0, bias_reg=None)),
                         ("ALS()", {})):
        start = time.perf_counter()
        model = lorank.ALS(**params, random_state=0, n_threads=threads).fit(train)
        seconds = time.perf_counter() - start
        err = model.predict_positions(r, k).astype(np.float64) - v
        rows.append(dict(data=f"synthetic {m}x{n}, {nnz:,} (floor {floor:.4f})",
                         ratings_per_user=round(train.nnz / m, 1), model=name,
                         rmse=float(np.sqrt(np.mean(err * err))), rmse_std=0.0,
                         vs_baseline=None, fit_s=seconds, reg=float(model.reg_),
                         warned=0, threads=threads, load1=load1()))
        print(f"  at scale {name}: {rows[-1]['rmse']:.4f} in {seconds:.1f} s",
              file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    sys.exit("run it through bench/run.py: python bench/run.py density [--size small]")
