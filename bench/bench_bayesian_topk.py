"""BayesianALS's compressed posterior mean: recommend_all against ALS's, side by side.

Synthetic ratings with the Netflix item count (17,770 items, about 200 ratings
per user; ``full``: 20,000 users, ``small``: 2,000), 10 % held out. Fitted in
one run: ``ALS()``, ``BayesianALS(n_samples=40, burn_in=8)`` with the default
``mean_rank="auto"`` (3·rank = 30) and the same chain with ``mean_rank=None``
(exact: 32 kept samples side by side, rank 320). Then ``recommend_all_positions(10)``
of each, interleaved, ``REPEATS`` times. The cost per user is n_items × rank for
all three, so the ratio to ALS carries over to the Netflix shape (480,189 users).
Reported: the seconds (median, min, max), the ratio of medians to ALS's, the
test RMSE, ``truncation_error_``, the measured largest and RMS entry error of the
compressed mean on 200 users x all items, and the overlap of its top-10 lists
with the exact mean's.
"""

import time

import numpy as np

from _common import load1

REPEATS = 3
NOTES = ("seconds = recommend_all_positions(10) wall time, median [min, max] of the "
         "repeats; ratio = median / ALS's median in the same run; overlap = mean share of "
         "each user's top-10 items the compressed and exact posterior means agree on; "
         "max_err / rms_err: measured on 200 users x all items against the exact mean.")


def parameters(size):
    return dict(n_rows=20_000 if size == "full" else 2_000, n_cols=17_770, per_user=200,
                n_samples=40, burn_in=8, repeats=REPEATS)


def run(size, threads):
    import lorank

    p = parameters(size)
    R, _ = lorank.datasets.synthetic(p["n_rows"], p["n_cols"], p["n_rows"] * p["per_user"],
                                     random_state=0, n_threads=threads)
    train, test = R.split(0.1, random_state=0)
    r, c, v = test.coo()
    kw = dict(n_samples=p["n_samples"], burn_in=p["burn_in"], random_state=0, n_threads=threads)
    models = {"ALS()": lorank.ALS(random_state=0, n_threads=threads),
              'BayesianALS(mean_rank="auto")': lorank.BayesianALS(**kw),
              "BayesianALS(mean_rank=None)": lorank.BayesianALS(mean_rank=None, **kw)}
    recs, fit_s = {}, {}
    for name, model in models.items():
        t0 = time.perf_counter()
        recs[name] = lorank.Recommender(model, n_threads=threads).fit(train)
        fit_s[name] = time.perf_counter() - t0
    times = {name: [] for name in recs}
    tops = {}
    for _ in range(REPEATS):
        for name, rec in recs.items():
            t0 = time.perf_counter()
            tops[name], _ = rec.recommend_all_positions(10)
            times[name].append(time.perf_counter() - t0)
    exact = recs["BayesianALS(mean_rank=None)"].model_
    comp = recs['BayesianALS(mean_rank="auto")'].model_
    users = np.arange(min(200, p["n_rows"]))
    M_exact = exact.to_lowrank().left[users].astype(np.float64) @ \
        exact.to_lowrank().right.T.astype(np.float64)
    M_comp = comp.to_lowrank().left[users].astype(np.float64) @ \
        comp.to_lowrank().right.T.astype(np.float64)
    err = M_comp - M_exact
    a, b = tops['BayesianALS(mean_rank="auto")'], tops["BayesianALS(mean_rank=None)"]
    overlap = float(np.mean([len(np.intersect1d(x, y)) / a.shape[1] for x, y in zip(a, b)]))
    base = float(np.median(times["ALS()"]))
    rows = []
    for name, rec in recs.items():
        model = rec.model_
        pred = model.predict_positions(r, c).astype(np.float64)
        row = dict(model=name, rank=int(rec.model_.to_lowrank().rank),
                   seconds=float(np.median(times[name])), min_s=float(np.min(times[name])),
                   max_s=float(np.max(times[name])), ratio=float(np.median(times[name])) / base,
                   test_rmse=float(np.sqrt(np.mean((pred - v) ** 2))), fit_s=fit_s[name],
                   threads=threads, load1=load1())
        if name.startswith("BayesianALS(mean_rank=\"auto"):
            row.update(bound_max=model.truncation_error_["max"],
                       bound_rms=model.truncation_error_["rms"],
                       max_err=float(np.abs(err).max()),
                       rms_err=float(np.sqrt(np.mean(err ** 2))), top10_overlap=overlap)
        rows.append(row)
    return rows
