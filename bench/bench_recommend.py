"""Recommender.recommend_all (top-10 for every user) and the ML-100k evaluation table.

Part 1: a rank-10 model with biases (scores through 12 augmented columns) with
random factors at the Netflix shape, 480,189 users x 17,770 items, float32.
``recommend_all_positions(10)`` without filtering, then with ``filter_seen`` on the
pattern of ``lorank.datasets.synthetic`` (the full 100M-rating Netflix-shaped
pattern at ``--size full``). Each user block (16 users x all items) is one
single-threaded GEMM into a per-thread buffer, then a compiled top-k heap;
``recommend_all`` (labels) adds the lookup of every position's item label.
``cpu_s`` is the process CPU time (all threads): on the shared 2-core machine
the wall time also counts waiting for other workers (see load1).

Part 2: ``lorank.evaluate(ALS(rank=10, reg=0.12))`` on MovieLens 100K, 5-fold,
RMSE / MAE / P@10 / NDCG@10 (relevant = test rating >= 4), mean ± std.
"""

import os
import time

import numpy as np

from _common import load1

SIZES = {
    "small": dict(m=48_019, n=1_777, nnz=1_000_000),
    "full": dict(m=480_189, n=17_770, nnz=100_480_507),
}
RANK = 10
ML100K = "/work/shared/data/ml-100k/u.data"

NOTES = (
    "recommend_all rows: time_s = wall seconds, cpu_s = CPU seconds of all threads "
    "(what the run costs on idle cores is about cpu_s / threads). evaluate rows: "
    "mean and std over 5 folds (Ratings.kfold, random_state=0)."
)


def parameters(size):
    return dict(SIZES[size], rank=RANK, dtype="float32", top_n=10)


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def run(size, threads):
    import lorank
    from lorank.models._estimator import _CLASSES  # noqa: F401  (ALS registered)

    p = SIZES[size]
    rng = np.random.default_rng(0)
    model = lorank.ALS(RANK)
    model.factors_ = lorank.LowRank(
        (rng.standard_normal((p["m"], RANK)) / 3).astype(np.float32),
        (rng.standard_normal((p["n"], RANK)) / 3).astype(np.float32))
    model.row_bias_ = (0.3 * rng.standard_normal(p["m"])).astype(np.float32)
    model.col_bias_ = (0.3 * rng.standard_normal(p["n"])).astype(np.float32)
    model.mean_, model._lowrank = 3.6, None
    w, c, (R, _) = _timed(lambda: lorank.datasets.synthetic(
        p["m"], p["n"], p["nnz"], random_state=0, n_threads=threads))
    print(f"synthetic pattern: {R.nnz} ratings in {w:.1f} s")
    rec = lorank.Recommender.from_model(model, R)
    rec.n_threads = threads
    out = []
    results = {}
    for filt in (False, True):
        rec.recommend_all_positions(10, filter_seen=filt) if size == "small" else None  # warm-up
        load = load1()
        wall, cpu, results[filt] = _timed(lambda: rec.recommend_all_positions(10, filter_seen=filt))
        out.append({"what": "recommend_all_positions top-10" + (" filter_seen" if filt else ""),
                    "shape": f"{p['m']}x{p['n']}", "threads": threads,
                    "seen": R.nnz if filt else 0, "time_s": round(wall, 2),
                    "cpu_s": round(cpu, 2), "load1": load, "value": "", "std": ""})
    # The same with labels (the item label of every position): what it adds.
    load = load1()
    wall, cpu, (labels, _) = _timed(lambda: rec.recommend_all(10, filter_seen=True))
    assert np.array_equal(labels, rec.item_labels[results[True][0]])
    out.append({"what": "recommend_all top-10 filter_seen (labels)",
                "shape": f"{p['m']}x{p['n']}", "threads": threads, "seen": R.nnz,
                "time_s": round(wall, 2), "cpu_s": round(cpu, 2), "load1": load,
                "value": "", "std": ""})
    # spot check against per-user recommend
    idx, scores = results[True]
    for i in rng.integers(0, p["m"], 20):
        items, _ = rec.recommend(int(i), n=10)
        assert np.array_equal(items, idx[i]), "recommend_all != recommend"
    if os.path.exists(ML100K):
        raw = np.loadtxt(ML100K, dtype=np.int64)
        ml = lorank.Ratings.from_labels(raw[:, 0], raw[:, 1], raw[:, 2].astype(np.float32))
        table = lorank.evaluate(lorank.ALS(10, reg=0.12, weighted_reg=True, random_state=0,
                                                n_threads=threads),
                                ml, folds=5,
                                metrics=["rmse", "mae", "precision@10", "ndcg@10"])
        print(table)
        for name, row in table.to_dict().items():
            out.append({"what": f"ML-100k 5-fold ALS(10, reg=0.12) {name}", "shape": "943x1682",
                        "threads": threads, "seen": "", "time_s": "", "cpu_s": "",
                        "load1": load1(), "value": round(row["mean"], 4),
                        "std": round(row["std"], 4)})
    return out
