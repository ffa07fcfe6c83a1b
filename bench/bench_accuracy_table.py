"""ML-100k 5-fold test RMSE of every model with its defaults, on the same folds.

Baseline (the default, dampings estimated from the data, and surprise's fixed
15/10, the default until 2026-12-07), ALS (the default; with its biases under the
factors' reg, bias_reg=None, the default until 2026-12-07; and reg=1.0 with it,
the default before), SoftImpute (the default reg="auto" with biases; reg=0
without biases, the default until 2026-12-07), BayesianALS, and scikit-surprise's
SVD, KNNBaseline and SVD++ (when installed), all on ``Ratings.kfold(5, random_state=0)`` of
``/work/shared/data/ml-100k/u.data``; lorank models with ``random_state=0`` and
the given thread count, predictions clipped to the training range (every model's
default; surprise clips to 1..5 too). ``small`` runs 2 folds and no SVD++;
``LORANK_BENCH_SVDPP=0`` skips SVD++ (minutes per fold on a busy machine).
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import load1

ML100K = Path("/work/shared/data/ml-100k/u.data")
NOTES = ("rmse = mean over folds (± std, population); fit_s = mean wall seconds per fold "
         "(fit only); reg = the reg_ used (mean over folds; the chosen one for reg='auto'). "
         "2 cores shared with other jobs: fit_s depends on the load (column load1).")


def _models(threads):
    import lorank

    common = dict(n_threads=threads)
    return [
        ("Baseline()", lambda: lorank.Baseline(**common)),
        ("Baseline(15, 10)", lambda: lorank.Baseline(reg_users=15, reg_items=10, max_iter=10, tol=0,
                                                     **common)),  # surprise's BaselineOnly
        ("ALS()", lambda: lorank.ALS(random_state=0, **common)),
        ("ALS(bias_reg=None)", lambda: lorank.ALS(bias_reg=None, random_state=0, **common)),
        ("ALS(reg=1.0, bias_reg=None)",
         lambda: lorank.ALS(reg=1.0, bias_reg=None, random_state=0, **common)),
        ("BayesianALS()", lambda: lorank.BayesianALS(random_state=0, **common)),
        ("SoftImpute()", lambda: lorank.SoftImpute(random_state=0, **common)),
        ("SoftImpute(reg=0, biases=False)",
         lambda: lorank.SoftImpute(reg=0.0, biases=False, random_state=0, **common)),
    ]


def _progress(row):
    """Each row on stderr as soon as it is measured (the table comes at the end)."""
    print(f"  {row['model']}: rmse {row['rmse']:.4f} ± {row['rmse_std']:.4f} {row['folds']}, "
          f"fit {row['fit_s']:.2f} s, reg {row['reg']}, load {row['load1']}",
          file=sys.stderr, flush=True)


def _rmse(pred, values):
    err = np.asarray(pred, np.float64) - values
    return float(np.sqrt(np.mean(err * err)))


def _surprise(name, train, test):
    import pandas as pd
    import surprise

    rows, cols, values = train.coo()
    df = pd.DataFrame({"u": rows, "i": cols, "r": values.astype(np.float64)})
    data = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5)))
    cls = getattr(surprise, name)
    # KNNBaseline has no random_state (and would print its similarity build).
    algo = cls(verbose=False) if name == "KNNBaseline" else cls(random_state=0)
    start = time.perf_counter()
    algo.fit(data.build_full_trainset())
    seconds = time.perf_counter() - start
    rows, cols, values = test.coo()
    pred = np.array([algo.predict(int(u), int(i)).est for u, i in zip(rows, cols)])
    return _rmse(pred, values), seconds, None


def _folds(size):
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))
    folds = list(R.kfold(5, random_state=0))
    return folds if size == "full" else folds[:2]


def parameters(size):
    return dict(data=str(ML100K), folds=5 if size == "full" else 2, kfold_random_state=0)


def run(size, threads):
    folds = _folds(size)
    rows = []
    for name, make in _models(threads):
        scores = []
        for train, test in folds:
            start = time.perf_counter()
            model = make().fit(train)
            seconds = time.perf_counter() - start
            r, c, v = test.coo()
            scores.append((_rmse(model.predict_positions(r, c), v), seconds,
                           getattr(model, "reg_", None)))
        rows.append(_row(name, scores))
        _progress(rows[-1])
    try:
        import surprise  # noqa: F401
    except ImportError:
        return rows
    names = ("SVD", "KNNBaseline", "SVDpp") if size == "full" else ("SVD",)
    if os.environ.get("LORANK_BENCH_SVDPP", "1") == "0":
        names = names[:-1] if size == "full" else names
    for name in names:
        rows.append(_row(f"surprise {name}", [_surprise(name, tr, te) for tr, te in folds]))
        _progress(rows[-1])
    return rows


def _row(name, scores):
    s = np.array([x[:2] for x in scores], np.float64)
    regs = [x[2] for x in scores if x[2] is not None]
    return dict(model=name, rmse=float(s[:, 0].mean()), rmse_std=float(s[:, 0].std()),
                folds=[round(float(x), 4) for x in s[:, 0]], fit_s=float(s[:, 1].mean()),
                reg=float(np.mean(regs)) if regs else None, load1=load1())
