"""ALS test RMSE: MovieLens 100K 5-fold (defaults and a small reg x rank grid,
scikit-surprise's SVD and SVD++ on the same folds when installed) and synthetic
ratings against the generator's noise floor.

ML-100k folds: ``Ratings.kfold(5, random_state=0)`` (random over ratings); the
same folds for every model. Synthetic: Netflix-shaped ratings (10M at full
size), ``split(0.1, random_state=0)``; the floor is the RMSE of the true model
(without noise, with rounding and clipping of the observations) on the test
entries. lorank ALS with ``random_state=0``, everything else default
(rank 10, reg 0.05 ALS-WR, biases, spectral init, max_iter 15, tol 1e-4).
"""

import time
from pathlib import Path

import numpy as np

from _common import load1, netflix_like

ML100K = Path("/work/shared/data/ml-100k/u.data")
REGS = (0.05, 0.08, 0.1, 0.12, 0.15)
RANKS = (10, 20)
DEFAULTS = dict(rank=10, reg=0.05)
SIZES = {  # folds evaluated, grid, surprise models, synthetic nnz
    "small": dict(folds=2, regs=(0.05, 0.1), ranks=(10,), surprise=("SVD",), nnz=300_000),
    "full": dict(folds=5, regs=REGS, ranks=RANKS, surprise=("SVD", "SVDpp"), nnz=10_000_000),
}

NOTES = (
    "rmse = mean over folds (± std, population) of test RMSE; rmse_clipped = the same "
    "with predictions clipped to 1..5 (surprise always clips). default = ALS() (rank 10, "
    "reg 0.05). Synthetic rows: floor = RMSE of the true model on the test entries, "
    "x floor = rmse / floor (target <= 1.02). surprise models with their defaults "
    "(SVD: 100 factors, SVD++: 20 factors, 20 epochs), random_state=0."
)


def parameters(size):
    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    return dict(ml100k=str(ML100K), ml100k_present=ML100K.exists(), folds=s["folds"],
                regs=s["regs"], ranks=s["ranks"], synthetic=f"{m}x{n}, {nnz} ratings",
                dtype="float32")


def _rmse(pred, values):
    err = pred.astype(np.float64) - values
    return float(np.sqrt(np.mean(err * err)))


def _lorank_scores(train, test, threads, **params):
    from lorank.als import ALS

    start = time.perf_counter()
    model = ALS(n_threads=threads, random_state=0, **params).fit(train)
    seconds = time.perf_counter() - start
    rows, cols, values = test.coo()
    pred = model.predict(rows, cols)
    return _rmse(pred, values), _rmse(np.clip(pred, 1, 5), values), seconds, model.n_iter_


def _surprise_scores(name, train, test):
    import pandas as pd
    import surprise

    rows, cols, values = train.coo()
    df = pd.DataFrame({"u": rows, "i": cols, "r": values.astype(np.float64)})
    data = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5)))
    algo = getattr(surprise, name)(random_state=0)
    start = time.perf_counter()
    algo.fit(data.build_full_trainset())
    seconds = time.perf_counter() - start
    rows, cols, values = test.coo()
    pred = np.array([algo.predict(int(u), int(i)).est for u, i in zip(rows, cols)])
    return _rmse(pred, values), _rmse(pred, values), seconds, None


def _row(dataset, model, rank, reg, scores, extra=None):
    s = np.array([x[:3] for x in scores])
    iters = [x[3] for x in scores if x[3] is not None]
    return dict(dataset=dataset, model=model, rank=rank, reg=reg,
                rmse=float(s[:, 0].mean()), rmse_std=float(s[:, 0].std()),
                rmse_clipped=float(s[:, 1].mean()), fit_s=float(s[:, 2].mean()),
                n_iter=float(np.mean(iters)) if iters else None, floor=None,
                **{"x floor": None}, load1=load1(), **(extra or {}))


def _ml100k(size, threads):
    import lorank

    s = SIZES[size]
    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))
    folds = list(R.kfold(5, random_state=0))[: s["folds"]]
    name = f"ml-100k {len(folds)}-fold"
    rows = []
    for rank in s["ranks"]:
        for reg in s["regs"]:
            scores = [_lorank_scores(tr, te, threads, rank=rank, reg=reg) for tr, te in folds]
            default = dict(rank=rank, reg=reg) == DEFAULTS
            rows.append(_row(name, "lorank ALS" + (" (default)" if default else ""),
                             rank, reg, scores))
    try:
        import surprise  # noqa: F401
    except ImportError:
        surprise_models = ()
    else:
        surprise_models = s["surprise"]
    for model in surprise_models:
        scores = [_surprise_scores(model, tr, te) for tr, te in folds]
        rows.append(_row(name, f"surprise {model}", None, None, scores))
    return rows


def _synthetic(size, threads, settings):
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(SIZES[size]["nnz"])
    R, floor_all, truth = synthetic(m, n, nnz, n_threads=threads, return_truth=True)
    train, test = R.split(0.1, random_state=0)
    rows, cols, values = test.coo()
    true = (truth["mean"] + truth["row_bias"][rows].astype(np.float64)
            + truth["col_bias"][cols] + truth["factors"].entries(rows, cols))
    floor = _rmse(true, values)
    out = []
    for params in settings:
        scores = [_lorank_scores(train, test, threads, **params)]
        default = params == DEFAULTS
        out.append(_row(f"synthetic {m}x{n} {nnz} 90/10", "lorank ALS" + (
            " (default)" if default else ""), params["rank"], params["reg"], scores,
            ))
        out[-1]["floor"] = floor
        out[-1]["x floor"] = out[-1]["rmse"] / floor
    return out


def run(size, threads):
    rows = []
    settings = [dict(DEFAULTS)]
    if ML100K.exists():
        rows = _ml100k(size, threads)
        als = [r for r in rows if r["model"].startswith("lorank")]
        best = min(als, key=lambda r: r["rmse"])
        best["model"] += " (best)"
        if (best["rank"], best["reg"]) != (DEFAULTS["rank"], DEFAULTS["reg"]):
            settings.append(dict(rank=best["rank"], reg=best["reg"]))
    rows += _synthetic(size, threads, settings)
    return rows
