"""BayesianALS on ML-100k: how the posterior mean's test RMSE depends on burn-in and
chain length, from one long chain per fold (the convergence evidence for the defaults).

Per fold of ``Ratings.kfold(5, random_state=0)``: one chain of ``SWEEPS`` sweeps
(``BayesianALS(rank, burn_in=1, mean_rank=None, clip=False, random_state=0)``);
a callback records the test predictions of the running mean after every sweep,
from which every single sample is recovered (K·m_K − (K−1)·m_{K−1}), so the
mean over any window [burn_in, end) is scored afterwards (clipped to 1..5, as
the model's default). The samples do not depend on ``burn_in`` (the random
streams are keyed by sweep), so this is what ``BayesianALS(burn_in=b,
n_samples=e)`` predicts. Also per fold: the noise precision α and the single
sample's train RMSE along the chain (stationarity of the start).
``full``: 5 folds, 500 sweeps, ranks 10 and 20 (rank 20: 250 sweeps); ``small``:
1 fold, 60 sweeps, rank 10.
"""

from pathlib import Path

import numpy as np

from _common import load1

ML100K = Path("/work/shared/data/ml-100k/u.data")
BURNS = (0, 5, 20, 50, 100, 200)
ENDS = (50, 100, 200, 250, 300, 400, 500)
TRACE = (1, 10, 20, 50, 100, 200, 300, 500)
NOTES = ("rmse[b->e] = test RMSE of the mean of samples b+1..e (clipped 1..5), mean over "
         "folds, with the spread (max - min over folds) in spread[b->e]; alpha@k / "
         "train@k: noise precision and the k-th sample's train RMSE, mean over folds.")


def parameters(size):
    return dict(data=str(ML100K), folds=5 if size == "full" else 1,
                sweeps={10: 500, 20: 250} if size == "full" else {10: 60})


def _chain(train, test, rank, sweeps, threads):
    import lorank

    r, c, v = test.coo()
    means = []
    model = lorank.BayesianALS(rank, n_samples=sweeps, burn_in=1, mean_rank=None, clip=False,
                               random_state=0, n_threads=threads,
                               callback=lambda m, it: means.append(
                                   m.predict_positions(r, c).astype(np.float64)))
    model.fit(train)
    samples = [means[0], means[1]]
    for k in range(2, len(means)):
        samples.append(k * means[k] - (k - 1) * means[k - 1])
    return np.array(samples), v, model.history_


def run(size, threads):
    import lorank

    if not ML100K.exists():
        return []
    p = parameters(size)
    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))
    folds = list(R.kfold(5, random_state=0))[:p["folds"]]
    rows = []
    for rank, sweeps in p["sweeps"].items():
        scores, alphas, trains = {}, [], []
        for train, test in folds:
            S, v, h = _chain(train, test, rank, sweeps, threads)
            csum = np.cumsum(S, axis=0)
            for b in BURNS:
                for e in ENDS:
                    if b < e <= sweeps:
                        mean = (csum[e - 1] - (csum[b - 1] if b else 0.0)) / (e - b)
                        err = np.clip(mean, 1, 5) - v
                        scores.setdefault((b, e), []).append(float(np.sqrt(np.mean(err * err))))
            alphas.append(h["alpha"])
            trains.append(h["train_rmse"])
        for b in BURNS:
            row = dict(what=f"rank {rank} burn_in {b}")
            for e in ENDS:
                if (b, e) in scores:
                    row[f"rmse[{b}->{e}]"] = round(float(np.mean(scores[(b, e)])), 5)
                    row[f"spread[{b}->{e}]"] = round(float(np.ptp(scores[(b, e)])), 5)
            if len(row) > 1:
                rows.append(row)
        trace = dict(what=f"rank {rank} trace", threads=threads, load1=load1())
        for k in TRACE:
            if k <= sweeps:
                trace[f"alpha@{k}"] = round(float(np.mean([a[k - 1] for a in alphas])), 4)
                trace[f"train@{k}"] = round(float(np.mean([t[k - 1] for t in trains])), 4)
        rows.append(trace)
    return rows
