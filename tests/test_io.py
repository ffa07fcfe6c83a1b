"""lorank.io, Recommender.save / ALS.save and lorank.load."""

import json
import os
import zipfile

import numpy as np
import pytest

import lorank
from lorank import io

DTYPES = [np.float32, np.float64]


def fitted_recommender(dtype, user_labels, item_labels, seed=0):
    R, _ = lorank.datasets.synthetic(40, 25, 400, rank=2, random_state=seed, dtype=dtype,
                                     popularity="uniform")
    rows, cols, vals = R.coo()
    R = lorank.Ratings.from_labels(np.asarray(user_labels)[rows], np.asarray(item_labels)[cols],
                                   vals)
    return lorank.Recommender(lorank.ALS(2, dtype=dtype, random_state=0)).fit(R), R


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["str", "int"])
def test_recommender_round_trip_reproduces_predictions_bitwise(tmp_path, dtype, kind):
    users = [f"user {i}" for i in range(40)] if kind == "str" else list(range(100, 140))
    items = [f"movie {j}" for j in range(25)] if kind == "str" else list(range(7, 32))
    rec, R = fitted_recommender(dtype, users, items)
    path = tmp_path / "model.npz"
    rec.save(path)
    again = lorank.load(path)
    assert isinstance(again, lorank.Recommender)
    assert again.user_labels.tolist() == rec.user_labels.tolist()
    assert again.item_labels.tolist() == rec.item_labels.tolist()
    assert type(again.user_labels.tolist()[0]) is type(users[0])
    rows, cols, _ = R.coo()
    u, i = R.row_labels[rows], R.col_labels[cols]
    a, b = rec.predict(list(u), list(i)), again.predict(list(u), list(i))
    assert a.dtype == b.dtype == dtype
    assert a.tobytes() == b.tobytes()
    for x, y in zip(rec.recommend_all(5), again.recommend_all(5)):
        assert x.tobytes() == y.tobytes()
    assert again.model_.rank == 2
    assert again.model_.dtype is dtype
    np.testing.assert_equal(again.model_.history_, rec.model_.history_)
    assert type(again.model_.history_["iteration"][0]) is int
    assert not [p for p in os.listdir(tmp_path) if p != "model.npz"]  # no temporary left


@pytest.mark.parametrize("dtype", DTYPES)
def test_bare_als_round_trip(tmp_path, dtype):
    R, _ = lorank.datasets.synthetic(30, 20, 200, rank=2, random_state=1, dtype=dtype)
    model = lorank.ALS(2, reg=0.1, weighted_reg=False, dtype=dtype, random_state=0).fit(R)
    model.save(tmp_path / "als.npz")
    again = lorank.load(tmp_path / "als.npz")
    assert type(again) is lorank.ALS and again.reg == 0.1 and again.weighted_reg is False
    rows, cols, _ = R.coo()
    assert model.predict(rows, cols).tobytes() == again.predict(rows, cols).tobytes()
    assert again.mean_ == model.mean_


@pytest.mark.parametrize("biases", [True, False])
def test_soft_impute_round_trip_and_recommender(tmp_path, biases):
    R, _ = lorank.datasets.synthetic(40, 30, 400, rank=2, random_state=2)
    model = lorank.SoftImpute(3, reg=1.0, biases=biases, random_state=0, clip=False).fit(R)
    model.save(tmp_path / "si.npz")
    again = lorank.load(tmp_path / "si.npz")
    assert type(again) is lorank.SoftImpute and again.reg == 1.0
    rows, cols, _ = R.coo()
    assert model.predict(rows, cols).tobytes() == again.predict(rows, cols).tobytes()
    assert again.effective_rank_ == model.effective_rank_
    np.testing.assert_array_equal(again.singular_values_, model.singular_values_)
    warm = lorank.SoftImpute(3, reg=1.0, biases=biases, warm_start=again).fit(R)
    assert warm.n_iter_ <= model.n_iter_
    rec = lorank.Recommender.from_model(again, R)
    items, scores = rec.recommend(0, n=5)
    np.testing.assert_allclose(scores, model.predict(np.zeros(5, int), items), rtol=1e-5)


def test_io_arrays_and_header(tmp_path):
    path = tmp_path / "x.bin"
    io.save(path, {"a": np.arange(4.0), "s": np.array(["x", "yz"])}, {"class": "T", "p": [1, 2]})
    arrays, header = io.load(path)
    assert header["p"] == [1, 2] and header["format_version"] == io.FORMAT_VERSION
    assert header["lorank_version"] == lorank.__version__
    np.testing.assert_array_equal(arrays["a"], np.arange(4.0))
    assert arrays["s"].tolist() == ["x", "yz"]
    with pytest.raises(TypeError, match="array 'o' holds Python objects"):
        io.save(path, {"o": np.array([1, "a"], dtype=object)}, {})
    io.load(path)  # the failed save left the old file intact


def test_damaged_files_give_clear_errors(tmp_path):
    rec, _ = fitted_recommender(np.float32, list(range(40)), list(range(25)))
    good = tmp_path / "good.npz"
    rec.save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.npz: damaged"):
        lorank.load(truncated)

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a model file at all" * 10)
    with pytest.raises(ValueError, match="garbage.npz: damaged"):
        lorank.load(garbage)

    # flip bytes inside the stored factor data: the zip CRC catches it
    corrupt = tmp_path / "corrupt.npz"
    b = bytearray(data)
    mid = len(b) // 3
    b[mid:mid + 16] = bytes(x ^ 0xFF for x in b[mid:mid + 16])
    corrupt.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="corrupt.npz: damaged"):
        lorank.load(corrupt)

    newer = tmp_path / "newer.npz"
    arrays, header = io.load(good)
    header["format_version"] = io.FORMAT_VERSION + 1
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(newer, "w") as out:
        for name in z.namelist():
            if name == "__header__.npy":
                continue
            out.writestr(name, z.read(name))
    with zipfile.ZipFile(newer, "a") as out, out.open("__header__.npy", "w") as f:
        np.lib.format.write_array(
            f, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"newer.npz: format version 2 is newer"):
        lorank.load(newer)

    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.arange(3))
    with pytest.raises(ValueError, match="plain.npz: not a lorank file"):
        lorank.load(plain)

    with pytest.raises(FileNotFoundError, match="missing.npz: no such file"):
        lorank.load(tmp_path / "missing.npz")

    unknown = tmp_path / "unknown.npz"
    io.save(unknown, {}, {"class": "Nope"})
    with pytest.raises(ValueError, match="holds a 'Nope' object"):
        lorank.load(unknown)


def test_object_labels_that_cannot_be_saved(tmp_path):
    R = lorank.Ratings.from_labels([("a", 1), ("b", 2), ("a", 1)], [1, 2, 2], [1.0, 2.0, 3.0])
    rec = lorank.Recommender(lorank.ALS(1, random_state=0)).fit(R)
    with pytest.raises(TypeError, match="user labels of dtype object cannot be saved"):
        rec.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_damaged_seen_pattern_is_rejected_not_crashed(tmp_path):
    # Regression: a file with valid CRCs but seen indices out of range loaded
    # silently, then recommend_all wrote out of bounds (segfault).
    rec, _ = fitted_recommender(np.float32, list(range(40)), list(range(25)))
    rec.save(tmp_path / "good.npz")
    arrays, header = io.load(tmp_path / "good.npz")
    for key, value, what in (
        ("seen_indices", lambda a: np.where(np.arange(a.size) == 3, 50_000_000, a), "out of range"),
        ("seen_indptr", lambda a: a[::-1].copy(), "damaged"),
        ("model.user_labels", lambda a: a[:-1], "39 user labels for 40 factor rows"),
    ):
        bad = dict(arrays, **{key: value(arrays[key])})
        io.save(tmp_path / "bad.npz", bad, header)
        with pytest.raises(ValueError, match=what):
            lorank.load(tmp_path / "bad.npz")


def test_single_npy_and_file_mode(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(ValueError, match=r"a\.npy: not a lorank file"):
        io.load(tmp_path / "a.npy")
    io.save(tmp_path / "m.npz", {"x": np.arange(3)}, {"class": "none"})
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == 0o666 & ~umask
