"""Popularity: the ranking baseline."""

import numpy as np
import pytest
import scipy.sparse as sp

import lorank


def test_scores_are_item_counts_or_sums():
    S = sp.csr_matrix(np.array([[1, 0, 3], [2, 0, 0], [5, 1, 0]], float))
    pop = lorank.Popularity().fit(S)
    np.testing.assert_array_equal(pop.popularity_, [3, 1, 1])
    total = lorank.Popularity(by="sum").fit(S)
    np.testing.assert_array_equal(total.popularity_, [8, 1, 3])
    np.testing.assert_array_equal(pop.predict(np.array([0, 2]), np.array([0, 1])), [3, 1])
    with pytest.raises(ValueError, match='by must be "count" or "sum"'):
        lorank.Popularity(by="mean").fit(S)


def test_recommends_the_most_popular_unseen_items(tmp_path):
    S = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]]))
    rec = lorank.Recommender(lorank.Popularity()).fit(S)
    items, scores = rec.recommend(3, n=3)
    assert items.tolist() == [0, 1, 2] and scores.tolist() == [3, 2, 1]
    assert rec.recommend(1, n=2)[0].tolist() == [1, 3]
    top, _ = rec.recommend_all(2)
    assert top.tolist() == [[2, 3], [1, 3], [2, 3], [0, 1]]
    rec.save(tmp_path / "p.npz")
    again = lorank.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(again.model_.popularity_, rec.model_.popularity_)
    np.testing.assert_array_equal(again.recommend_all(2)[0], top)


def test_empty_items_score_zero_with_sum():
    S = sp.csr_matrix(np.array([[0, 2.0, 0], [0, 1.0, 0]]))
    S.eliminate_zeros()
    np.testing.assert_array_equal(lorank.Popularity(by="sum").fit(S).popularity_, [0, 3, 0])
