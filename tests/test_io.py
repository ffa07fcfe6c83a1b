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
    assert warm.n_iter_ < model.n_iter_
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
        ("model.user_labels", lambda a: a[:-1], "'user_labels' has 39 entries"),
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


# ---------------------------------------------------------------- every array checked on load
# Regression: files were trusted beyond their factors; a bad bias, mean, label
# or header field loaded and then failed later with an unrelated error (or
# answered for the wrong user). Each case below is one thing wrong in an
# otherwise valid file, and must be a ValueError at load naming the problem.

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(arrays, header) of a Recommender (str labels) and of a bare SoftImpute."""
    folder = tmp_path_factory.mktemp("saved")
    rec, R = fitted_recommender(np.float32, [f"u{i}" for i in range(40)],
                                [f"i{j}" for j in range(25)])
    rec.save(folder / "rec.npz")
    lorank.SoftImpute(3, reg=1.0, random_state=0).fit(R).save(folder / "si.npz")
    return io.load(folder / "rec.npz"), io.load(folder / "si.npz")


def _edited(arrays, header, key, change):
    arrays, header = dict(arrays), json.loads(json.dumps(header))
    if key.startswith("header:"):
        node = header
        *path, last = key[len("header:"):].split(".")
        for p in path:
            node = node[p]
        if change is None:
            del node[last]
        else:
            node[last] = change(node.get(last))
    elif change is None:
        del arrays[key]
    else:
        arrays[key] = change(arrays[key])
    return arrays, header


def _nan_at(k):
    def change(a):
        a = a.astype(a.dtype, copy=True)
        a.flat[k] = np.nan
        return a
    return change


REC_CASES = [
    ("model.row_bias", None, r"has no 'row_bias' array"),
    ("model.col_bias", None, r"has no 'col_bias' array"),
    ("model.mean", None, r"has no 'mean' array"),
    ("model.col_bias", lambda a: a[:-1], r"array 'col_bias' has 24 entries .* has 25 \(items\)"),
    ("model.row_bias", lambda a: np.append(a, a[:1]), r"array 'row_bias' has 41 entries"),
    ("model.row_bias", _nan_at(7), r"array 'row_bias' holds 1 non-finite value\(s\) \(nan at \(7,\)\)"),
    ("model.left", _nan_at(5), r"array 'left' holds 1 non-finite"),
    ("model.right", lambda a: np.where(a > 0, np.inf, a).astype(a.dtype), r"array 'right' holds \d+ non-finite"),
    ("model.mean", lambda a: np.float64(np.nan), r"array 'mean' holds 1 non-finite"),
    ("model.mean", lambda a: np.zeros(2), r"array 'mean' has 1 dimensions"),
    ("model.left", lambda a: a.astype(np.float16), r"array 'left' has dtype float16"),
    ("model.left", lambda a: a.astype(np.float64), r"array 'right' is float32 but the factors are float64"),
    ("model.right", lambda a: a[:, :1], r"array 'right' has 1 entries along its axis 1 .*\(rank\)"),
    ("model.left", lambda a: a.ravel(), r"array 'left' has 1 dimensions"),
    ("model.user_labels", lambda a: np.where(np.arange(a.size) == 3, a[0], a), r"repeats the label 'u0'"),
    ("model.item_labels", lambda a: np.arange(a.size) % 20, r"array 'item_labels' repeats the label 0"),
    ("model.user_labels", lambda a: a.astype("S"), r"array 'user_labels' has dtype \|S\d+; labels are"),
    ("model.user_labels", lambda a: np.linspace(0, 1, a.size), r"has dtype float64; labels"),
    ("model.user_labels", lambda a: a[:-1], r"'user_labels' has 39 entries .* has 40 \(users\)"),
    ("seen_indices", lambda a: a.astype(bool), r"array 'seen_indices' has dtype bool"),
    ("seen_indices", lambda a: a.astype(np.float64), r"has dtype float64, expected integers"),
    ("seen_indptr", lambda a: a.astype(np.float32), r"has dtype float32, expected integers"),
    ("seen_indptr", lambda a: a.astype(np.uint64)[::-1].copy(), r"seen pattern is damaged"),
    ("seen_indptr", lambda a: a[:-1], r"'seen_indptr' has 40 entries .* \(users\+1\)"),
    ("seen_indices", lambda a: a.astype(np.int8) - 100, r"item indices out of range"),
    ("seen_indices", lambda a: (a.astype(np.uint64) + 2**63), r"beyond int64"),
    ("header:class", lambda v: 5, r"holds a 5 object"),
    ("header:model.class", lambda v: ["ALS"], r"class name is \['ALS'\], not a string"),
    ("header:model.class", lambda v: "Recommender", r"unknown model class 'Recommender'"),
    ("header:model", lambda v: "ALS", r"no model header"),
    ("header:n_threads", lambda v: 10**6, r"n_threads=1000000 is more threads"),
    ("header:n_threads", lambda v: 2**31, r"n_threads=2147483648 is more threads"),
    ("header:model.params.n_threads", lambda v: 10**6, r"parameter n_threads=1000000 is more"),
    ("header:model.params.n_threads", lambda v: "4", r"n_threads must be an integer"),
    ("header:model.params.biases", lambda v: "no", r"parameter 'biases' is 'no', not a bool"),
    ("header:model.params.speed", lambda v: 3, r"parameter 'speed' is not a ALS parameter"),
    ("header:model.params.dtype", lambda v: {"dtype": "int8"}, r"parameter 'dtype' is \{'dtype': 'int8'\}"),
    ("header:model.params.reg", lambda v: [1, 2], r"parameter 'reg' is \[1, 2\]"),
    ("header:model.params.bias_reg", lambda v: [1, 2, 3], r"not a \(users, items\) pair"),
    ("header:model.params", lambda v: [1], r"params is list"),
    ("header:model.dtype", lambda v: "float64", r"header says dtype 'float64'"),
    ("header:model.history", lambda v: 5, r"history is not a mapping"),
    ("header:model.n_iter", lambda v: -1, r"n_iter is -1"),
    ("header:model.fitted", lambda v: [1], r"fitted is \[1\], not a mapping"),
    ("header:model.fitted.value_scale_", lambda v: -4.0, r"fitted value_scale_ is -4.0"),
    ("header:model.fitted.value_scale_", lambda v: 0.0, r"fitted value_scale_ is 0"),
    ("header:model.fitted.reg_", lambda v: "auto", r"fitted reg_ is 'auto'"),
    ("header:model.fitted.reg_", lambda v: float("nan"), r"fitted reg_ is nan"),
    ("header:model.fitted.speed_", lambda v: 1.0, r"unknown fitted number 'speed_'"),
]


@pytest.mark.parametrize("key, change, message", REC_CASES,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(REC_CASES)])
def test_damaged_recommender_files_are_refused_at_load(tmp_path, saved, key, change, message):
    arrays, header = _edited(*saved[0], key, change)
    io.save(tmp_path / "bad.npz", arrays, header)
    with pytest.raises(ValueError, match=message) as info:
        lorank.load(tmp_path / "bad.npz")
    assert str(info.value).startswith(str(tmp_path / "bad.npz"))


SI_CASES = [
    ("svd_u", lambda a: a[:-1], r"array 'svd_u' has 39 entries"),
    ("singular_values", lambda a: a[:-1], r"'singular_values' has 2 entries .*\(svd_rank\)"),
    ("singular_values", lambda a: -a, r"'singular_values' holds negative values"),
    ("svd_vt", _nan_at(0), r"array 'svd_vt' holds 1 non-finite"),
    ("left", None, r"the SoftImpute model has no 'left' array"),
    ("header:class", lambda v: "ALS", r"parameter '\w+' is not a ALS parameter"),
]


@pytest.mark.parametrize("key, change, message", SI_CASES,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SI_CASES)])
def test_damaged_soft_impute_files_are_refused_at_load(tmp_path, saved, key, change, message):
    arrays, header = _edited(*saved[1], key, change)
    io.save(tmp_path / "bad.npz", arrays, header)
    with pytest.raises(ValueError, match=message):
        lorank.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("dtype", [np.uint16, np.dtype(">i4"), np.int64, np.uint64])
def test_seen_pattern_in_other_integer_dtypes_loads_and_filters(tmp_path, saved, dtype):
    arrays, header = saved[0]
    good = lorank.load(_write(tmp_path / "good.npz", arrays, header))
    odd = dict(arrays, seen_indices=arrays["seen_indices"].astype(dtype),
               seen_indptr=arrays["seen_indptr"].astype(dtype))
    again = lorank.load(_write(tmp_path / "odd.npz", odd, header))
    for x, y in zip(good.recommend_all(5), again.recommend_all(5)):
        np.testing.assert_array_equal(x, y)


def _write(path, arrays, header):
    io.save(path, arrays, header)
    return path


def test_big_endian_factors_load_as_native(tmp_path, saved):
    arrays, header = saved[0]
    good = lorank.load(_write(tmp_path / "good.npz", arrays, header))
    swapped = {k: (v.astype(v.dtype.newbyteorder(">")) if v.dtype.kind == "f" else v)
               for k, v in arrays.items()}
    again = lorank.load(_write(tmp_path / "be.npz", swapped, header))
    assert again.model_.factors_.left.dtype == np.float32
    assert again.model_.factors_.left.dtype.isnative
    np.testing.assert_array_equal(again.predict(["u1", "u2"], ["i3", "i4"]),
                                  good.predict(["u1", "u2"], ["i3", "i4"]))


def test_directory_and_fifo_paths_are_refused_without_hanging(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory, not a lorank file"):
        lorank.load(tmp_path)
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    # In a subprocess with a timeout: a regression would block forever in open().
    import subprocess
    import sys

    code = ("import lorank, sys\n"
            "try:\n    lorank.load(sys.argv[1])\n"
            "except ValueError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                         text=True, timeout=60)
    assert "not a regular file (a FIFO" in out.stdout, out.stderr


def test_declared_array_sizes_are_checked_before_allocating(tmp_path):
    # An .npy member that declares a huge shape must not be allocated.
    path = tmp_path / "huge.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**12,)
    with zipfile.ZipFile(path, "w") as z, z.open("x.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    with pytest.raises(ValueError, match=r"huge.npz: damaged or truncated file \(array 'x' "
                                         r"declares 8000000000000 bytes, the file holds 64\)"):
        io.load(path)


def test_header_that_is_not_json_of_a_mapping(tmp_path):
    for raw, message in ((b"[1, 2]", "no format version"), (b"\xff\xfe", "damaged header"),
                         (b'{"format_version": true}', "no format version")):
        path = tmp_path / "h.npz"
        np.savez(path, __header__=np.frombuffer(raw, np.uint8))
        with pytest.raises(ValueError, match=message):
            io.load(path)
