"""Every error path of the lorank command line: one clear line on stderr, a
non-zero exit (2 for usage errors), never a traceback."""

import subprocess
import sys

import numpy as np
import pytest

import lorank
from lorank import cli
from lorank.cli import main
from lorank.datasets import load_csv, load_movielens


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a command that wrongly succeeds writes model.npz here
    R, _ = lorank.datasets.synthetic(60, 20, 500, rank=2, random_state=0)
    rows, cols, values = R.coo()
    lines = [f"{u + 1}\t{i + 1}\t{int(v)}\t881250949" for u, i, v in zip(rows, cols, values)]
    (tmp_path / "u.data").write_text("\n".join(lines) + "\n")
    return tmp_path


def one_line(capsys, code, rc):
    assert rc == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


FIT = ["--iterations", "1", "--no-progress"]


@pytest.mark.parametrize("flag, value, message", [
    ("--test-size", "nan", "--test-size: must be a number in [0, 1), got 'nan'"),
    ("--test-size", "-1", "--test-size: must be a number in [0, 1), got '-1'"),
    ("--test-size", "1", "--test-size: must be a number in [0, 1), got '1'"),
    ("--test-size", "x", "--test-size: must be a number in [0, 1), got 'x'"),
    ("--threads", "0", "--threads=0 is not a thread count"),
    ("--threads", "1000000", "--threads=1000000 is more threads than lorank runs"),
    ("--threads", "2.5", "--threads: must be an integer"),
    ("--rank", "0", "--rank: must be an integer from 1 to 100000, got '0'"),
    ("--rank", "-3", "--rank: must be an integer from 1 to 100000, got '-3'"),
    ("--rank", "99999999999999999999999", "--rank: must be an integer from 1 to"),
    ("--iterations", "0", "--iterations: must be an integer >= 1, got '0'"),
    ("--reg", "-1", "--reg: must be a finite number >= 0, got '-1'"),
    ("--reg", "nan", "--reg: must be a finite number >= 0, got 'nan'"),
    ("--reg", "inf", "--reg: must be a finite number >= 0, got 'inf'"),
    ("--reg-exponent", "2", "--reg-exponent: must be a number in [0, 1], got '2'"),
    ("--seed", "-1", "--seed: must be an integer >= 0, got '-1'"),
    ("--seed", "1e3", "--seed: must be an integer >= 0, got '1e3'"),
])
def test_fit_numeric_flags_out_of_range_are_usage_errors(data, capsys, flag, value, message):
    line = one_line(capsys, 2, main(["fit", str(data), *FIT, flag, value]))
    assert line.startswith("lorank fit: error: argument ") and message in line, line


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "{data}", "--folds", "1"], "--folds: must be an integer from 2 to"),
    (["evaluate", "{data}", "--folds", "nan"], "--folds: must be an integer"),
    (["recommend", "m.npz", "--user", "1", "-n", "0"], "-n: must be an integer >= 1"),
    (["demo", "--scale", "nan"], "--scale: must be a finite number > 0, got 'nan'"),
    (["demo", "--scale", "0"], "--scale: must be a finite number > 0"),
    (["demo", "--scale", "inf"], "--scale: must be a finite number > 0"),
    (["compress", "x.png", "--rank", "0", "--out", "o.png"], "--rank: must be an integer >= 1"),
    (["fit", "{data}", "--method", "soft-impute", "--reg-exponent", "0.5"],
     "--reg-exponent applies to --method als only"),
    (["fit"], "the following arguments are required: data"),
    (["fit", "{data}", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors_exit_2_with_one_line(data, capsys, argv, message):
    argv = [a.replace("{data}", str(data)) for a in argv]
    line = one_line(capsys, 2, main(argv))
    assert line.startswith(f"lorank {argv[0]}: error: ") and message in line, line


def test_usage_error_from_a_real_process(data):
    proc = subprocess.run([sys.executable, "-m", "lorank", "fit", str(data), "--test-size",
                           "nan"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "lorank fit: error: argument --test-size: must be a number in [0, 1), got 'nan' "
        "(lorank fit --help for usage)"]


def test_non_utf8_bytes_name_the_file_and_line(tmp_path, capsys):
    f = tmp_path / "r.csv"
    f.write_bytes(b"user,item,rating\nann,Heat,4\nbo\xffb,Up,5\n")
    with pytest.raises(ValueError, match=r"r\.csv line 3: byte 0xff \(column 3\) is not "
                       r"utf-8 text; convert the file to utf-8 or pass encoding="):
        load_csv(f)
    R, _ = load_csv(f, encoding="latin-1")
    assert "boÿb" in R.row_labels.tolist()
    line = one_line(capsys, 1, main(["fit", str(f), *FIT]))
    assert line.startswith("lorank fit: error: r.csv line 3: byte 0xff")


@pytest.mark.parametrize("uid", ["99999999999999999999", "-9223372036854775809",
                                 "1" * 400])
def test_ids_beyond_int64_are_a_clear_error(tmp_path, capsys, uid):
    f = tmp_path / "r.csv"
    f.write_text(f"user,item,rating\n1,2,3\n{uid},2,4\n")
    with pytest.raises(ValueError, match=r"r\.csv line 3: the user id in field 0 does not "
                       r"fit in int64"):
        load_csv(f)
    g = tmp_path / "s.csv"
    g.write_text(f"user,item,rating\n1,x,3\n{uid},y,4\n")  # string items: the text path
    with pytest.raises(ValueError, match=r"s\.csv line 3: user id .* does not fit in int64"):
        load_csv(g)
    (tmp_path / "u.data").write_text(f"1\t2\t3\t0\n{uid}\t2\t4\t0\n")
    with pytest.raises(ValueError, match=r"u\.data line 2: the user id in field 0 does not "
                       r"fit in int64"):
        load_movielens(tmp_path)
    for path in (f, g, tmp_path / "u.data"):
        line = one_line(capsys, 1, main(["fit", str(path), *FIT]))
        assert "does not fit in int64" in line and len(line) < 300


def test_a_very_long_id_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "r.csv"
    f.write_text("user,item,rating\nann,x,3\n" + "b" * 1_000_000 + ",y,4\n")
    with pytest.raises(ValueError, match=r"r\.csv line 3: a field is longer than 131,072 "
                       r"characters; check the delimiter"):
        load_csv(f)
    line = one_line(capsys, 1, main(["fit", str(f), *FIT]))
    assert "longer than 131,072 characters" in line and len(line) < 300
    g = tmp_path / "r.dat"  # multi-character delimiter: no csv module
    g.write_text("ann::x::3\n" + "b" * 1_000_000 + "::y::4\n")
    with pytest.raises(ValueError, match=r"r\.dat line 2: user id is 1,000,000 characters "
                       r"long"):
        load_csv(g, delimiter="::")


def test_data_errors_exit_1_with_one_line(data, tmp_path, capsys):
    cases = [
        (["fit", str(tmp_path / "missing.csv")], "does not exist"),
        (["fit", str(tmp_path / "empty_dir")], "no ratings found in folder"),
        (["fit", str(data), "--format", "netflix"], "no Netflix rating files"),
        (["fit", str(data), "--user-col", "x"], "--user-col apply to delimited files"),
        (["recommend", str(tmp_path / "none.npz"), "--user", "1"], "none.npz"),
        (["recommend", str(data / "u.data"), "--user", "1"], "u.data"),
    ]
    (tmp_path / "empty_dir").mkdir()
    for argv, message in cases:
        line = one_line(capsys, 1, main(argv))
        assert line.startswith(f"lorank {argv[0]}: error: ") and message in line, line
    model = tmp_path / "m.npz"
    assert main(["fit", str(data), *FIT, "--out", str(model)]) == 0
    capsys.readouterr()
    for argv, message in [
        (["recommend", str(model), "--user", "100000"], "unknown user '100000'"),
        (["recommend", str(model), "--user", "ann"], "'ann' is not an id of this model"),
        (["recommend", str(model), "--user", "7" * 100_000], "(100,000 characters) is not an id"),
        (["recommend", str(model), "--user", "x" * 100_000], "(100,000 characters) is not an id"),
        (["recommend", str(model), "--user", "1", "--titles", str(tmp_path / "t.txt")],
         "t.txt"),
    ]:
        line = one_line(capsys, 1, main(argv))
        assert line.startswith("lorank recommend: error: ") and message in line, line
        assert len(line) < 300


def test_unexpected_errors_are_one_line_too(data, capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(cli, "_load_data", broken)
    line = one_line(capsys, 1, main(["fit", str(data)]))
    assert line == ("lorank fit: error: RuntimeError: something inside broke (an internal "
                    "error: run with --debug for the traceback)")
    with pytest.raises(RuntimeError):
        main(["fit", str(data), "--debug"])
