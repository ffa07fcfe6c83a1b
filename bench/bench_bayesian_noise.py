"""BayesianALS's noise model: one precision α (``noise="global"``, BPMF) against
α·τ_i·κ_j with per-row and per-column scales (``noise="rows+cols"``, the default),
on data it was not tuned on.

Rows, each the mean test RMSE over 5 folds (``Ratings.kfold(5, random_state=s)``),
``BayesianALS(random_state=0)`` with its defaults but ``noise`` / ``noise_shape``:

- ML-100k (``/work/shared/data/ml-100k/u.data``), fold seeds s = 0, 1, 2: global,
  rows+cols, rows, cols; and (s = 0) rows+cols with the Gamma shape fixed at 2, 20
  and 1e6 instead of sampled (1e6: scales ≈ 1, the global model again);
- ML-100k with each fold's training ratings thinned to a half ... a twentieth
  (``bench_density``'s sets, thinning seed 1), and its pattern with values
  3.5 + b + c + N(0, σ²) (biases only, equal noise: nothing for scales to find),
  beside ``Baseline()``;
- synthetic rank 3, 400 x 300, 24,000 ratings, 80/20, noise std 1.5 on half the rows
  and 0.3 on the rest (``hetero``) or 0.8 everywhere (``equal``): the RMSE against
  the noiseless truth (``truth_rmse``), seeds 0, 1, 2.

``size=small``: ML-100k fold seed 0, 2 folds, global and rows+cols only.
"""

import sys
import time
from pathlib import Path

import numpy as np

from _common import load1

ML100K = Path("/work/shared/data/ml-100k/u.data")
NOTES = ("rmse = mean test RMSE over the folds; truth_rmse = RMSE against the noiseless "
         "values (synthetic rows); shapes = the last sampled Gamma shapes (rows, cols) "
         "on the first fold; fit_s = mean seconds per fold.")


def parameters(size):
    return dict(data=str(ML100K), folds=2 if size == "small" else 5, fold_seeds=[0] if
                size == "small" else [0, 1, 2], model="BayesianALS(random_state=0)")


def _score(make, folds):
    errs, secs, model = [], [], None
    for train, test in folds:
        t0 = time.perf_counter()
        fitted = make().fit(train)
        secs.append(time.perf_counter() - t0)
        model = fitted if model is None else model
        r, c, v = test.coo()
        err = fitted.predict_positions(r, c).astype(np.float64) - v
        errs.append(float(np.sqrt(np.mean(err * err))))
    return float(np.mean(errs)), float(np.mean(secs)), model


def _row(data, label, make, folds, threads):
    rmse, secs, model = _score(make, folds)
    shapes = getattr(model, "noise_shape_", None)
    row = dict(data=data, model=label, rmse=rmse, fit_s=secs,
               shapes=None if shapes is None else [None if a is None else round(a, 1)
                                                   for a in shapes],
               threads=threads, load1=load1())
    print(f"  {data} {label}: {rmse:.4f}", file=sys.stderr, flush=True)
    return row


def _synthetic(seed, row_sd):
    import lorank

    rng = np.random.default_rng(seed)
    m, n, nnz = len(row_sd), 300, 24000
    U, V = rng.normal(size=(m, 3)), rng.normal(size=(n, 3))
    rows, cols = np.divmod(rng.choice(m * n, nnz, replace=False), n)
    x = np.einsum("ij,ij->i", U[rows], V[cols]) + row_sd[rows] * rng.normal(size=nnz)
    train, test = lorank.Ratings(rows, cols, x.astype(np.float32), shape=(m, n)).split(
        0.2, random_state=0)
    r, c, _ = test.coo()
    return train, r, c, np.einsum("ij,ij->i", U[r], V[c])


def run(size, threads):
    import warnings

    import lorank
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_density import _data_sets, _thin

    def bayes(**kw):
        return lambda: lorank.BayesianALS(random_state=0, n_threads=threads, **kw)

    params = parameters(size)
    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))
    out = []
    noises = ("global", "rows+cols") if size == "small" else ("global", "rows+cols", "rows",
                                                               "cols")
    for s in params["fold_seeds"]:
        folds = list(R.kfold(5, random_state=s))[:params["folds"]]
        for noise in noises:
            out.append(_row(f"ml-100k, fold seed {s}", f'noise="{noise}"',
                            bayes(noise=noise), folds, threads))
        if s == 0 and size != "small":
            for shape in (2.0, 20.0, 1e6):
                out.append(_row(f"ml-100k, fold seed {s}", f'rows+cols, shape {shape:g}',
                                bayes(noise_shape=shape), folds, threads))
    if size == "small":
        return out
    for name, data_set, frac in _data_sets("full"):
        if name == "ml-100k x 1.0":
            continue
        folds = [(_thin(tr, frac), te) for tr, te in data_set.kfold(5, random_state=0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "the factors add nothing" on biases + noise
            out.append(_row(name, "Baseline()", lambda: lorank.Baseline(n_threads=threads),
                            folds, threads))
            for noise in ("global", "rows+cols"):
                out.append(_row(name, f'noise="{noise}"', bayes(noise=noise), folds, threads))
    noisy = np.random.default_rng(9).random(400) < 0.5
    for kind, sd in (("hetero", np.where(noisy, 1.5, 0.3)), ("equal", np.full(400, 0.8))):
        for seed in (0, 1, 2):
            train, r, c, truth = _synthetic(seed, sd)
            for noise in ("global", "rows+cols"):
                t0 = time.perf_counter()
                model = lorank.BayesianALS(3, n_samples=60, noise=noise, clip=False,
                                           random_state=0, n_threads=threads).fit(train)
                err = model.predict_positions(r, c) - truth
                out.append(dict(data=f"synthetic {kind}, seed {seed}", model=f'noise="{noise}"',
                                truth_rmse=float(np.sqrt(np.mean(err * err))),
                                fit_s=time.perf_counter() - t0,
                                shapes=[None if a is None else round(a, 1)
                                        for a in model.noise_shape_],
                                threads=threads, load1=load1()))
    return out


if __name__ == "__main__":
    sys.exit("run it through bench/run.py: python bench/run.py bayesian_noise [--size small]")
