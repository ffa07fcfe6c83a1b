"""lorank.distributed.ALS on a two-process LocalCluster against single-machine lorank.ALS."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
import dask  # noqa: E402

import lorank  # noqa: E402
import lorank.distributed  # noqa: E402
from lorank.datasets import synthetic  # noqa: E402

DTYPES = [np.float32, np.float64]
# The same kernel on the same slices in the same order: factors, biases, mean and
# objective are bitwise equal (README: "the factors equal lorank.ALS's"). Only the
# validation RMSE differs, in the last bit: the workers sum it block by block.
VALID_RTOL = 1e-14


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client  # the module's LocalCluster (conftest.py)


@pytest.fixture(scope="module")
def ratings():
    """200k Netflix-shaped ratings (float64 values; each test casts)."""
    return synthetic(4000, 800, 200_000, random_state=0, dtype=np.float64)[0]


def _local_als(**params):
    """lorank.ALS with distributed.ALS's defaults: reg 1.0 (the holdout path of
    reg="auto", lorank.ALS's default, is local only) and the biases under the
    factors' λ (bias_reg=None: no Baseline fit on the blocks)."""
    return lorank.ALS(**{"reg": 1.0, "bias_reg": None, **params})


def labelled(R, n_parts=3, seed=0):
    """(Ratings.from_labels, DataFrame in shuffled order, partitions): string ids."""
    rows, cols, values = R.coo()
    users = np.array([f"user{i:05d}" for i in range(R.shape[0])], dtype=object)[rows]
    items = np.array([f"item-{j}" for j in range(R.shape[1])], dtype=object)[cols]
    order = np.random.default_rng(seed).permutation(R.nnz)
    df = pd.DataFrame({"user": users[order], "item": items[order], "rating": values[order]})
    return lorank.Ratings.from_labels(users, items, values), df


def assert_same_model(dist, local):
    for a, b in ((dist.factors_.left, local.factors_.left),
                 (dist.factors_.right, local.factors_.right),
                 (dist.row_bias_, local.row_bias_), (dist.col_bias_, local.col_bias_)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    assert dist.mean_ == local.mean_
    assert dist.n_iter_ == local.n_iter_
    assert dist.history_["objective"] == local.history_["objective"]
    assert dist.history_["train_rmse"] == local.history_["train_rmse"]


# ---------------------------------------------------------------- the same ALS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", ["random", "svd"])
def test_same_factors_as_local_als(client, ratings, init, dtype):
    train, test = ratings.astype(dtype).split(0.1, random_state=0)
    params = dict(rank=5, init=init, dtype=dtype, random_state=0, max_iter=6, tol=0)
    local = _local_als(**params, clip=False).fit(train, validation=test)
    dist = lorank.distributed.ALS(client, **params).fit(train, validation=test)
    assert_same_model(dist, local)
    np.testing.assert_allclose(dist.history_["valid_rmse"], local.history_["valid_rmse"],
                               rtol=VALID_RTOL)
    assert {k: len(v) for k, v in dist.history_.items()} == {
        k: 6 for k in ("iteration", "train_rmse", "valid_rmse", "objective", "seconds")}
    rows, cols, _ = test.coo()
    back = dist.to_local()
    assert type(back) is lorank.ALS
    np.testing.assert_array_equal(back.predict(rows, cols), dist.predict(rows, cols))
    np.testing.assert_array_equal(back.predict(rows, cols), local.predict(rows, cols))


@pytest.mark.parametrize("source", ["ratings", "dataframe"])
def test_same_model_as_local_on_a_wider_scale(client, ratings, source):
    """Ratings ×4 (a 4-20 scale): both fits run on the values / 4 (value_scale_,
    from the CSR locally, from the blocks' moments for a DataFrame) and agree bit
    for bit."""
    rows, cols, values = ratings.coo()
    R, df = labelled(lorank.Ratings(rows, cols, 4 * values, shape=ratings.shape))
    params = dict(rank=4, dtype=np.float64, random_state=0, max_iter=3, tol=0)
    local = _local_als(**params, clip=False).fit(R if source == "ratings" else df)
    dist = lorank.distributed.ALS(client, **params).fit(
        R if source == "ratings" else dd.from_pandas(df, npartitions=3))
    assert local.value_scale_ == dist.value_scale_ == 4.0
    assert_same_model(dist, local)


def test_no_biases_unweighted(client, ratings):
    R = ratings.astype(np.float64)
    params = dict(rank=4, biases=False, weighted_reg=False, reg=0.5, init="random",
                  dtype=np.float64, random_state=1, max_iter=3, tol=0, n_blocks=3)
    local = _local_als(**{k: v for k, v in params.items() if k != "n_blocks"}).fit(R)
    dist = lorank.distributed.ALS(client, **params).fit(R)
    assert_same_model(dist, local)
    assert not dist.row_bias_.any() and dist.mean_ == 0


def test_local_and_distributed_fit_take_the_same_dataframe(client, ratings):
    # Issue 10, trap 2: lorank.distributed.ALS.fit(df, columns=...) accepted a
    # DataFrame while lorank.ALS().fit(df) read it as a dense matrix.
    R = ratings.take(np.arange(0, ratings.nnz, 10))
    _, df = labelled(R)
    df = df.rename(columns={"user": "who", "item": "what", "rating": "stars"})
    params = dict(rank=3, init="svd", random_state=0, max_iter=3, tol=0)
    columns = ("who", "what", "stars")
    local = _local_als(**params).fit(df, columns=columns)
    dist = lorank.distributed.ALS(client, **params).fit(dd.from_pandas(df, npartitions=3),
                                                        columns=columns)
    assert local.user_labels_.tolist() == dist.row_labels_.tolist()
    assert local.item_labels_.tolist() == dist.col_labels_.tolist()
    assert_same_model(dist, local)
    users, items = local.user_labels_[[7, 12]], local.item_labels_[[5, 0]]
    np.testing.assert_array_equal(dist.predict(users, items), local.predict(users, items))


def test_parquet_string_ids_same_predictions(client, ratings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    R = ratings.take(np.arange(0, ratings.nnz, 5))  # 40k ratings
    local_ratings, df = labelled(R)
    for k, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        chunk = df.iloc[part].rename(columns={"user": "who", "item": "what", "rating": "stars"})
        pq.write_table(pa.Table.from_pandas(chunk, preserve_index=False),
                       tmp_path / f"part{k}.parquet")
    params = dict(rank=4, init="svd", random_state=0, max_iter=4, tol=0)
    local = _local_als(**params).fit(local_ratings)
    dist = lorank.distributed.ALS(client, **params).fit(
        str(tmp_path / "*.parquet"), columns=("who", "what", "stars"))
    assert dist.row_labels_.tolist() == local_ratings.row_labels.tolist()
    assert dist.col_labels_.tolist() == local_ratings.col_labels.tolist()
    assert_same_model(dist, local)

    rec = dist.to_recommender()
    here = lorank.Recommender.from_model(local, local_ratings)
    users, items = ["user00007", "user03999", "user00123"], ["item-5", "item-799", "item-0"]
    np.testing.assert_array_equal(rec.predict(users, items), here.predict(users, items))
    got, want = rec.recommend("user00007", n=5), here.recommend("user00007", n=5)
    assert got[0].tolist() == want[0].tolist()
    np.testing.assert_array_equal(got[1], want[1])


def test_empty_partition(client):
    R = synthetic(300, 60, 4000, random_state=1, dtype=np.float64)[0]
    local_ratings, df = labelled(R)
    empty = df.iloc[:0]
    frame = dd.from_delayed([dask.delayed(p) for p in (df.iloc[:2000], empty, df.iloc[2000:])],
                            meta=empty)
    assert frame.npartitions == 3
    params = dict(rank=3, init="random", random_state=0, max_iter=3, tol=0, dtype=np.float64)
    dist = lorank.distributed.ALS(client, **params).fit(frame)
    local = _local_als(**params).fit(local_ratings)
    assert_same_model(dist, local)


@pytest.mark.parametrize("kind", ["ratings", "parquet"])
def test_worker_killed_mid_fit_gives_the_same_answer(client, ratings, tmp_path, kind):
    # The killed worker's blocks are rebuilt from their lineage: the Ratings
    # slices in the graph, or the Parquet files read again.
    R = ratings.astype(np.float32) if kind == "ratings" else ratings.take(
        np.arange(0, ratings.nnz, 5))
    source = R
    if kind == "parquet":
        R, df = labelled(R)
        df.to_parquet(tmp_path / "ratings.parquet", row_group_size=10_000)
        source = dd.read_parquet(tmp_path / "ratings.parquet", split_row_groups=True)
        assert source.npartitions > 1
    params = dict(rank=5, init="random", random_state=0, max_iter=4, tol=0)
    killed = []

    def kill_a_worker(model, it):
        if it == 1:
            address = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[address])[address]
            os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker
            killed.append(address)
            # Let the scheduler notice first: a task sent in the same instant to
            # the dead worker's peers would have them retry connecting to it for
            # Dask's connect timeout (30 s) before the lost blocks are rebuilt.
            deadline = time.monotonic() + 30
            while address in client.scheduler_info()["workers"] and time.monotonic() < deadline:
                time.sleep(0.05)

    with distributed.get_task_stream(client=client) as stream:
        dist = lorank.distributed.ALS(client, callback=kill_a_worker, **params).fit(source)
    client.wait_for_workers(2, timeout=60)
    assert killed and dist.n_iter_ == 4
    built = [str(t["key"]) for t in stream.data if str(t["key"]).startswith(("_slice", "_build"))]
    assert len(built) > len(set(built))  # some blocks were built twice
    assert_same_model(dist, _local_als(**params).fit(R))


# ---------------------------------------------------------------- bad input


def frame_of(users, items, values):
    return pd.DataFrame({"user": users, "item": items, "rating": values})


@pytest.mark.parametrize("source, params, error, match", [
    (frame_of(["a", "b", "a"], ["x", "x", "y"], [1.0, np.nan, 2.0]), {}, ValueError,
     r"column 'rating': values contains nan at position \d; values must be finite"),
    (frame_of(["a", "b", "a"], ["x", "x", "x"], [1.0, 2.0, 3.0]), {}, ValueError,
     re.escape("duplicate entry ('a', 'x') (user, item); pass duplicates=")),
    (frame_of(["a", "b"], ["x", "y"], ["1", "2"]), {}, TypeError,
     "column 'rating' must hold real numbers, got dtype"),
    (frame_of(["a", None], ["x", "y"], [1.0, 2.0]), {}, ValueError,
     "column 'user' contains missing ids"),
    (pd.DataFrame({"user": ["a"], "item": ["x"], "stars": [1.0]}), {}, ValueError,
     r"source has no column 'rating' \(columns: \['user', 'item', 'stars'\]\)"),
    (frame_of(["a", "b"], ["x", "y"], [1.0, 2.0]), {"rank": 1, "n_blocks": 0}, ValueError,
     "n_blocks must be >= 1, got 0"),
    (frame_of([], [], []).astype({"user": object, "item": object, "rating": float}), {},
     ValueError, "source has no ratings"),
    (lorank.Ratings([], [], [], shape=(3, 2)), {}, ValueError, "source has no ratings"),
    ([[1.0, 2.0]], {}, TypeError, "source must be a dask DataFrame"),
])
def test_bad_input_raises_on_the_client(client, source, params, error, match):
    model = lorank.distributed.ALS(client, **{"rank": 1, **params})
    with pytest.raises(error, match=match):
        model.fit(source)
    assert not hasattr(model, "_blocks")  # raised before the blocks were built


def test_failed_refit_keeps_the_previous_model(client):
    # A refit that fails (here on its validation data) must not leave the new
    # data's labels next to the old factors: they would name the wrong rows.
    first = frame_of(["a", "b", "a"], ["x", "x", "y"], [1.0, 2.0, 3.0])
    params = dict(rank=1, init="random", random_state=0, max_iter=2, tol=0)
    model = lorank.distributed.ALS(client, **params).fit(first)
    before = model.to_recommender().predict(["a", "b"], ["x", "y"])
    second = frame_of(["p", "q", "r", "p"], ["x", "y", "z", "z"], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(KeyError, match="unknown user labels"):
        model.fit(second, validation=frame_of(["zz"], ["x"], [1.0]))
    assert model.row_labels_.tolist() == ["a", "b"] and model.shape_ == (2, 2)
    np.testing.assert_array_equal(model.to_recommender().predict(["a", "b"], ["x", "y"]), before)


def test_duplicates_mean_and_last_as_ratings(client):
    users, items, values = ["a", "b", "a", "b", "a"], ["x", "x", "y", "y", "x"], \
        [1.0, 2.0, 3.0, 4.0, 5.0]
    frame = dd.from_pandas(frame_of(users, items, values), npartitions=2)
    for how in ("mean", "last"):
        R = lorank.Ratings.from_labels(users, items, values, duplicates=how)
        params = dict(rank=1, init="random", random_state=0, max_iter=2, tol=0)
        dist = lorank.distributed.ALS(client, **params).fit(frame, duplicates=how)
        assert_same_model(dist, _local_als(**params).fit(R))


def test_auto_reg_is_refused_naming_the_local_way(client):
    train = frame_of(["a", "b", "a"], ["x", "x", "y"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"lorank.distributed.ALS takes a number for reg, got "
                                         r"'auto' \(the holdout path is local\): fit "
                                         r"lorank.ALS\(\) on a sample"):
        lorank.distributed.ALS(client, rank=1, reg="auto").fit(train)
    assert lorank.distributed.ALS(client).reg == 1.0


def test_validation_with_unknown_labels(client):
    train = frame_of(["a", "b", "a"], ["x", "x", "y"], [1.0, 2.0, 3.0])
    valid = frame_of(["a", "zed"], ["x", "y"], [1.0, 2.0])
    with pytest.raises(KeyError, match="unknown user labels in column 'user': 'zed'"):
        lorank.distributed.ALS(client, rank=1).fit(train, validation=valid)


def test_validation_ratings_with_other_labels(client):
    # A labelled Ratings of the same shape but other labels would be scored on
    # the wrong rows: its labels must be the source's.
    train = frame_of(["a", "b", "a"], ["x", "x", "y"], [1.0, 2.0, 3.0])
    valid = lorank.Ratings.from_labels(["a", "c"], ["x", "y"], [1.0, 2.0])
    assert valid.shape == (2, 2)
    with pytest.raises(ValueError, match="validation's row labels are not source's"):
        lorank.distributed.ALS(client, rank=1).fit(train, validation=valid)
    same = lorank.Ratings.from_labels(["b", "a"], ["x", "y"], [2.0, 3.0])
    model = lorank.distributed.ALS(client, rank=1, max_iter=1).fit(train, validation=same)
    assert np.isfinite(model.history_["valid_rmse"]).all()


def test_client_must_be_a_client():
    with pytest.raises(TypeError, match="client must be a distributed.Client, got 'local'"):
        lorank.distributed.ALS("local").fit(lorank.Ratings([0], [0], [1.0]))


# ---------------------------------------------------------------- packaging


def test_import_lorank_does_not_import_dask_and_missing_dask_is_named():
    code = (
        "import sys, lorank\n"
        "assert not any(m.split('.')[0] in ('dask', 'distributed', 'pandas', 'sklearn')"
        " for m in sys.modules), 'import lorank imported an optional package'\n"
        "sys.modules['distributed'] = None\n"
        "try:\n"
        "    import lorank.distributed\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'lorank[dask]'" in out


def test_label_order_is_ratings_order_sorted_or_first_seen(client):
    # Regression: unsortable labels kept Dask's value_counts order, where the
    # docstring promises Ratings.from_labels's order (first seen when they do
    # not sort). Ints and tuples do not sort together; with Dask's string
    # conversion off they reach lorank as they are.
    import dask
    import dask.dataframe as dd
    import pandas as pd

    users = [("b", 1), 7, ("a", 2), 7, ("b", 1), ("c", 0), ("a", 2), 3]
    items = ["x", "y", "x", "z", "z", "y", "y", "x"]
    df = pd.DataFrame({"user": pd.Series(users, dtype=object), "item": items,
                       "rating": [5.0, 3, 4, 1, 2, 5, 4, 3]})
    local = lorank.Ratings.from_labels(users, items, df["rating"])
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.from_pandas(df, npartitions=3, sort=False)
        model = lorank.distributed.ALS(client, rank=1, max_iter=2, random_state=0).fit(frame)
    assert model.row_labels_.tolist() == local.row_labels.tolist() == [
        ("b", 1), 7, ("a", 2), ("c", 0), 3]
    assert model.col_labels_.tolist() == local.col_labels.tolist() == ["x", "y", "z"]
    sorted_model = lorank.distributed.ALS(client, rank=1, max_iter=2, random_state=0).fit(
        dd.from_pandas(df.assign(user=[str(u) for u in users]), npartitions=3, sort=False))
    assert sorted_model.row_labels_.tolist() == sorted(set(str(u) for u in users))


@pytest.mark.parametrize("convert", [True, False])
def test_mixed_label_kinds_are_refused_as_by_ratings(client, convert):
    # Regression: "1" and 1 became one user (Dask's string conversion, or
    # numpy's coercion locally).
    import dask
    import dask.dataframe as dd
    import pandas as pd

    df = pd.DataFrame({"user": pd.Series(["1", 1, "2"], dtype=object), "item": [1, 2, 3],
                       "rating": [1.0, 2.0, 3.0]})
    with pytest.raises(TypeError, match="column 'user' mixes int and str labels"):
        lorank.distributed.ALS(client, rank=1).fit(df)  # pandas: checked before Dask
    with dask.config.set({"dataframe.convert-string": convert}):
        frame = dd.from_pandas(df, npartitions=2)
        if convert:  # Dask already made them strings: one user "1", as Dask says
            assert frame["user"].compute().tolist() == ["1", "1", "2"]
        else:
            with pytest.raises(TypeError, match="column 'user' mixes int and str labels"):
                lorank.distributed.ALS(client, rank=1).fit(frame)
