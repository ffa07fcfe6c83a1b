"""lorank.metrics and lorank.evaluate."""

import math

import numpy as np
import pytest

import lorank
from lorank import metrics

# Test ratings of 3 users x 6 items (relevant: rating >= 4).
#   user 0: item 1 (5), item 4 (4), item 5 (2)   -> relevant {1, 4}
#   user 1: item 0 (3)                           -> none relevant (left out)
#   user 2: item 2 (4)                           -> relevant {2}
TEST = lorank.Ratings([0, 0, 0, 1, 2], [1, 4, 5, 0, 2], [5.0, 4.0, 2.0, 3.0, 4.0], shape=(3, 6))
TOP = np.array([[4, 0, 1], [0, 1, 2], [3, 5, -1]])


def test_rmse_mae_by_hand():
    assert metrics.rmse([1, 2, 4], [2, 2, 2]) == pytest.approx(math.sqrt(5 / 3))
    assert metrics.mae([1, 2, 4], [2, 2, 2]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        metrics.rmse([1, 2], [1])


def test_ranking_metrics_by_hand():
    # user 0: hits at positions 0 and 2; user 2: no hit.
    assert metrics.precision_at_k(TOP, TEST, k=3) == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.recall_at_k(TOP, TEST, k=3) == pytest.approx((2 / 2 + 0) / 2)
    assert metrics.precision_at_k(TOP, TEST, k=1) == pytest.approx((1 + 0) / 2)
    dcg = 1 + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k(TOP, TEST, k=3) == pytest.approx((dcg / ideal + 0) / 2)
    # a lower threshold makes user 1's item 0 relevant: hit at position 0
    assert metrics.precision_at_k(TOP, TEST, k=3, threshold=3) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert metrics.coverage(TOP, 6) == pytest.approx(6 / 6)
    assert metrics.coverage(TOP, 6, k=1) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="fewer than k=4"):
        metrics.precision_at_k(TOP, TEST, k=4)


def test_perfect_ranking_scores_one():
    top = np.array([[1, 4, 0], [0, 1, 2], [2, 0, 1]])
    for fn in (metrics.precision_at_k, metrics.ndcg_at_k):
        assert fn(top, TEST, k=1) == pytest.approx(1.0)
    assert metrics.recall_at_k(top, TEST, k=1) == pytest.approx((1 / 2 + 1) / 2)
    assert metrics.recall_at_k(top, TEST, k=2) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(top, TEST, k=3) == pytest.approx(1.0)


def test_evaluate_on_synthetic_data_beats_the_mean_and_reports_all_metrics():
    R, floor = lorank.datasets.synthetic(400, 150, 12_000, rank=3, random_state=0,
                                         popularity="uniform")
    table = lorank.evaluate(lorank.ALS(3, random_state=0), R, folds=3,
                            metrics=["rmse", "mae", "precision@5", "recall@5", "ndcg@5",
                                     "coverage@5"])
    d = table.to_dict()
    assert set(d) == {"rmse", "mae", "precision@5", "recall@5", "ndcg@5", "coverage@5",
                      "fit_seconds"}
    assert all(len(row["folds"]) == 3 for row in d.values())
    values = R.csr.values.astype(np.float64)
    assert d["rmse"]["mean"] < 0.9 * values.std()
    assert d["rmse"]["mean"] == pytest.approx(np.mean(d["rmse"]["folds"]))
    assert "rmse" in str(table) and "±" in str(table)
    # a recommender as input: same folds, same numbers
    again = lorank.evaluate(lorank.Recommender(lorank.ALS(3, random_state=0)), R, folds=3,
                            metrics=["rmse"])
    assert again["rmse"]["folds"] == d["rmse"]["folds"]
    with pytest.raises(ValueError, match="unknown metric 'rmse@3'"):
        lorank.evaluate(lorank.ALS(3), R, metrics=["rmse@3"])


def test_ml100k_rmse_is_in_the_known_range(ml100k_raw):
    raw = ml100k_raw
    R = lorank.Ratings.from_labels(raw[:, 0], raw[:, 1], raw[:, 2].astype(np.float32))
    table = lorank.evaluate(lorank.ALS(10, random_state=0), R, folds=2,
                            metrics=["rmse"])
    assert 0.88 < table["rmse"]["mean"] < 0.97


def test_ranking_metrics_reject_bad_top_lists():
    test = lorank.Ratings([0, 1], [2, 0], [5.0, 4.0], shape=(2, 3))
    with pytest.raises(ValueError, match="top contains item 3 but there are 3 items"):
        lorank.metrics.precision_at_k(np.array([[0, 3], [1, 2]]), test, k=2)
    with pytest.raises(TypeError, match="k must be an integer"):
        lorank.metrics.recall_at_k(np.array([[0, 1], [1, 2]]), test, k=2.0)
    with pytest.raises(TypeError, match="top must hold item indices"):
        lorank.metrics.ndcg_at_k(np.array([[0.0, 1.0], [1.0, 2.0]]), test, k=2)
