"""The compiled ranking metrics against a plain-python reference, user by user."""

import math

import numpy as np
import pytest

import lorank
from lorank import metrics


def reference(top, test, k, threshold, train=None):
    """Per-user metrics written the slow, obvious way; dict of lists."""
    m, n = test.shape
    rows, cols, vals = test.coo()
    seen_train = np.zeros(m, int)
    train_items = [set() for _ in range(m)]
    if train is not None:
        seen_train = train.row_counts
        for r, c, _ in zip(*train.coo()):
            train_items[r].add(int(c))
    out = {name: [] for name in ("precision", "recall", "map", "ndcg", "hit_rate", "mrr",
                                 "auc")}
    for u in range(m):
        rel = {int(c) for r, c, v in zip(rows, cols, vals)
               if r == u and (threshold is None or v >= threshold)}
        if not rel:
            continue
        lst = [int(x) for x in top[u][:k]]
        hits = [x >= 0 and x in rel for x in lst]
        h = sum(hits)
        out["precision"].append(h / k)
        out["recall"].append(h / len(rel))
        ap, run = 0.0, 0
        for p, hit in enumerate(hits):
            if hit:
                run += 1
                ap += run / (p + 1)
        out["map"].append(ap / min(k, len(rel)))
        dcg = sum(1 / math.log2(p + 2) for p, hit in enumerate(hits) if hit)
        idcg = sum(1 / math.log2(p + 2) for p in range(min(k, len(rel))))
        out["ndcg"].append(dcg / idcg)
        out["hit_rate"].append(float(h > 0))
        first = [p for p, hit in enumerate(hits) if hit]
        out["mrr"].append(1 / (first[0] + 1) if first else 0.0)
        # AUC by enumerating pairs: listed items by position, the rest tied below.
        cand = n - seen_train[u]
        negatives = cand - len(rel)
        listed = [x for x in lst if x >= 0]
        pos_rank = {x: p for p, x in enumerate(listed)}
        listed_neg = [x for x in listed if x not in rel and x not in train_items[u]]
        total = 0.0
        for r in rel:
            for q in range(negatives):
                neg_pos = pos_rank[listed_neg[q]] if q < len(listed_neg) else None
                rp = pos_rank.get(r)
                if rp is not None and (neg_pos is None or rp < neg_pos):
                    total += 1
                elif rp is None and neg_pos is None:
                    total += 0.5
        out["auc"].append(total / (len(rel) * negatives))
    return out


def random_case(seed, m=40, n=30, k=7):
    rng = np.random.default_rng(seed)
    R, _ = lorank.datasets.synthetic(m, n, 500, rank=2, random_state=seed)
    train, test = R.split(0.3, random_state=seed, by="row")
    top = np.full((m, k + 2), -1, np.int64)
    for u in range(m):
        length = rng.integers(0, k + 3)
        top[u, :length] = rng.choice(n, size=length, replace=False)
    return top, train, test


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [None, 3.5])
def test_metrics_match_reference(seed, threshold):
    top, train, test = random_case(seed)
    k = 7
    ref = reference(top, test, k, threshold, train)
    got = metrics.ranking_metrics(top, test, k, threshold=threshold, train=train,
                                  n_threads=2, per_user=True)
    assert got["users"] == len(ref["precision"]) > 0
    for c, name in enumerate(("precision", "recall", "map", "ndcg", "hit_rate", "mrr",
                              "auc")):
        assert got[name] == pytest.approx(np.mean(ref[name]), rel=1e-12), name
        col = got["per_user"][:, c]
        np.testing.assert_allclose(col[~np.isnan(col)], ref[name], rtol=1e-12)


def test_thread_count_does_not_change_results():
    top, train, test = random_case(7, m=300, n=50)
    a = metrics.ranking_metrics(top, test, 7, threshold=None, per_user=True, n_threads=1)
    b = metrics.ranking_metrics(top, test, 7, threshold=None, per_user=True, n_threads=2)
    np.testing.assert_array_equal(a["per_user"], b["per_user"])


def test_single_metric_functions_agree_with_the_pass():
    top, train, test = random_case(3)
    all_ = metrics.ranking_metrics(top, test, 5, threshold=4.0, train=train)
    assert metrics.precision_at_k(top, test, 5) == all_["precision"]
    assert metrics.recall_at_k(top, test, 5) == all_["recall"]
    assert metrics.ndcg_at_k(top, test, 5) == all_["ndcg"]
    assert metrics.map_at_k(top, test, 5) == all_["map"]
    assert metrics.hit_rate_at_k(top, test, 5) == all_["hit_rate"]
    assert metrics.mrr(top, test, 5) == all_["mrr"]
    assert metrics.auc_at_k(top, test, 5, train=train) == all_["auc"]


def test_perfect_and_empty_lists():
    test = lorank.Ratings([0, 0, 1], [1, 2, 0], [1.0, 1.0, 1.0], shape=(2, 5))
    perfect = np.array([[2, 1, 4], [0, 3, 4]])
    m = metrics.ranking_metrics(perfect, test, 3, threshold=None)
    assert m["recall"] == m["ndcg"] == m["map"] == m["hit_rate"] == m["mrr"] == 1.0
    assert m["auc"] == 1.0
    empty = np.full((2, 3), -1)
    m = metrics.ranking_metrics(empty, test, 3, threshold=None)
    assert m["precision"] == m["ndcg"] == m["mrr"] == 0.0
    assert m["auc"] == 0.5  # nothing ranked: every pair tied


def test_bad_lists_are_errors():
    test = lorank.Ratings([0, 1], [1, 0], [1.0, 1.0], shape=(2, 3))
    with pytest.raises(ValueError, match="user 1 names an item twice"):
        metrics.ranking_metrics(np.array([[0, 1], [2, 2]]), test, 2, threshold=None)
    with pytest.raises(ValueError, match="contains item 3"):
        metrics.ranking_metrics(np.array([[0, 1], [3, 2]]), test, 2)
    with pytest.raises(ValueError, match="contains -2"):
        metrics.ranking_metrics(np.array([[0, 1], [-2, 2]]), test, 2)
    with pytest.raises(ValueError, match="shape"):
        metrics.ranking_metrics(np.array([[0, 1]]), test, 2)
    with pytest.raises(TypeError, match="threshold"):
        metrics.ranking_metrics(np.array([[0, 1], [1, 2]]), test, 2, threshold="4")
    with pytest.raises(ValueError, match="train has shape"):
        metrics.ranking_metrics(np.array([[0, 1], [1, 2]]), test, 2,
                                train=lorank.Ratings([0], [0], [1.0], shape=(2, 4)))


def test_coverage_counts_distinct_items():
    assert metrics.coverage(np.array([[0, 1], [1, -1]]), 4) == 0.5
    assert metrics.coverage(np.array([[0, 1], [2, 3]]), 4, k=1) == 0.5
    with pytest.raises(ValueError, match="contains item 4"):
        metrics.coverage(np.array([[0, 4]]), 4)
