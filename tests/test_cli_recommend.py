"""lorank fit / recommend / evaluate end to end, in a temporary folder."""

import numpy as np
import pytest

import lorank
from lorank.cli import main


@pytest.fixture
def movielens(tmp_path):
    """A small MovieLens 100K-format folder (u.data, u.item) made from synthetic
    ratings: users 1..200, movies 1..60."""
    R, _ = lorank.datasets.synthetic(200, 60, 4000, rank=3, random_state=0)
    rows, cols, values = R.coo()
    lines = [f"{u + 1}\t{i + 1}\t{int(v)}\t881250949" for u, i, v in zip(rows, cols, values)]
    (tmp_path / "u.data").write_text("\n".join(lines) + "\n")
    items = [f"{i + 1}|Movie number {i + 1}, the sequel (1990)|01-Jan-1990||" for i in range(60)]
    (tmp_path / "u.item").write_bytes("\n".join(items).encode("latin-1") + b"\n")
    return tmp_path, R


def test_fit_recommend_evaluate(movielens, capsys):
    folder, R = movielens
    model = folder / "model.npz"
    assert main(["fit", str(folder), "--rank", "3", "--reg", "0.1", "--reg-exponent", "0.75",
                 "--iterations", "5", "--out", str(model), "--no-progress",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "200 users x 60 items, 4,000 ratings" in out
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(row[0]) for row in table] == [1, 2, 3, 4, 5]
    assert all(0 < float(row[2]) < 2 for row in table)  # test RMSE on a 1..5 scale
    assert model.exists()

    rec = lorank.load(model)
    assert (rec.model_.reg, rec.model_.weighted_reg) == (0.1, 0.75)
    user = int(np.argmin(R.row_counts)) + 1  # a light user: many unseen items
    assert main(["recommend", str(model), "--user", str(user), "-n", "3",
                 "--titles", str(folder / "u.item")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"top 3 for user {user} (predicted rating):"
    items, scores = rec.recommend(user, n=3)
    for line, item, score in zip(lines[1:], items, scores):
        assert f"{score:5.2f}  {item}  Movie number {item}, the sequel (1990)" in line
    # Never an item the user rated, in the training or the held-out share.
    rated = set((R.csr.indices[R.csr.indptr[user - 1]:R.csr.indptr[user]] + 1).tolist())
    assert rated and not rated & {int(i) for i in items}

    assert main(["recommend", str(model), "--user", str(user), "-n", "2", "--worst"]) == 0
    worst = capsys.readouterr().out.splitlines()
    assert worst[0].startswith("bottom 2 for user")
    assert float(worst[1].split()[1]) <= float(worst[2].split()[1])

    assert main(["evaluate", str(folder / "u.data"), "--folds", "3", "--rank", "3",
                 "--iterations", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-fold cross-validation" in out
    assert out.count("±") >= 4 and "rmse" in out and "ndcg@10" in out
    # The bias-only baseline on the same folds, printed beside the model.
    als_rmse, base_rmse = [float(line.split()[1]) for line in out.splitlines()
                           if line.startswith("rmse")]
    assert "of Baseline" in out and base_rmse > 0 and als_rmse > 0

    # ALS-WR (exponent 1) at its own scale of reg: a different model, the same data.
    assert main(["evaluate", str(folder / "u.data"), "--folds", "3", "--rank", "3",
                 "--iterations", "3", "--reg", "0.1", "--reg-exponent", "1"]) == 0
    assert "rmse" in capsys.readouterr().out
    assert main(["evaluate", str(folder / "u.data"), "--method", "soft-impute",
                 "--reg-exponent", "1"]) == 2  # a usage error
    assert capsys.readouterr().err.strip().endswith(
        "--reg-exponent applies to --method als only")
    assert main(["evaluate", str(folder / "u.data"), "--reg-exponent", "2"]) == 2
    assert "argument --reg-exponent: must be a number in [0, 1], got '2'" in \
        capsys.readouterr().err


def test_errors_are_one_line(movielens, capsys):
    folder, _ = movielens
    assert main(["fit", str(folder / "missing")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lorank fit: error: path '{folder / 'missing'}' does not exist"]

    model = folder / "model.npz"
    assert main(["fit", str(folder), "--rank", "2", "--iterations", "2", "--out", str(model),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["recommend", str(model), "--user", "99999"]) == 1
    assert capsys.readouterr().err.strip() == "lorank recommend: error: unknown user '99999'"
    assert main(["recommend", str(model), "--user", "abc"]) == 1
    assert "is not an id of this model" in capsys.readouterr().err

    bad = folder / "bad.csv"
    bad.write_text("user,item,rating\n1,2,4\n1,3,abc\n")
    assert main(["fit", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == (
        "lorank fit: error: bad.csv line 3: expected a number in field 2 (rating), "
        "got '1,3,abc'")


def test_fit_reads_csv_columns_by_header_and_by_flag(tmp_path, capsys):
    R, _ = lorank.datasets.synthetic(50, 20, 600, rank=2, random_state=0)
    rows, cols, values = R.coo()
    body = [f"{i + 100},{u + 1},{int(v)}" for u, i, v in zip(rows, cols, values)]
    (tmp_path / "by_name.csv").write_text("\n".join(["item,user,rating"] + body) + "\n")
    (tmp_path / "by_flag.csv").write_text("\n".join(["a,b,c"] + body) + "\n")
    args = ["--rank", "2", "--iterations", "2", "--no-progress", "--test-size", "0"]
    assert main(["fit", str(tmp_path / "by_name.csv"), *args,
                 "--out", str(tmp_path / "m1.npz")]) == 0
    assert f"50 users x 20 items, {R.nnz:,} ratings" in capsys.readouterr().out
    assert main(["fit", str(tmp_path / "by_flag.csv"), *args, "--user-col", "b",
                 "--item-col", "0", "--rating-col", "c", "--out", str(tmp_path / "m2.npz")]) == 0
    assert f"50 users x 20 items, {R.nnz:,} ratings" in capsys.readouterr().out
    assert main(["fit", str(tmp_path / "by_flag.csv"), *args,
                 "--out", str(tmp_path / "m3.npz")]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lorank fit: error: by_flag.csv: no column of the header") \
        and "--user-col" in line


def _interrupting(monkeypatch, at):
    """Make lorank fit's models raise KeyboardInterrupt after iteration ``at``."""
    import lorank.cli as cli

    make = cli._make_model

    def make_model(args, progress=False):
        model = make(args, progress)

        def interrupt(m, it):
            if it == at:
                raise KeyboardInterrupt

        return model.set_params(callback=interrupt)

    monkeypatch.setattr(cli, "_make_model", make_model)


def test_trap5_cli_fit_interrupted_exits_130_and_writes_nothing(movielens, capsys, monkeypatch):
    # Issue 10, trap 5: lorank fit interrupted at iteration 7 printed "model
    # written" and exited 0.
    folder, _ = movielens
    model = folder / "model.npz"
    _interrupting(monkeypatch, 3)
    with pytest.warns(RuntimeWarning, match="interrupted after 3 complete iterations"):
        rc = main(["fit", str(folder), "--rank", "2", "--iterations", "6", "--out", str(model),
                   "--no-progress"])
    assert rc == 130 and not model.exists()
    captured = capsys.readouterr()
    assert "written" not in captured.out
    assert "interrupted; nothing written" in captured.err
    # --save-interrupted writes the last complete iterations, and says so.
    with pytest.warns(RuntimeWarning, match="interrupted"):
        rc = main(["fit", str(folder), "--rank", "2", "--iterations", "6", "--out", str(model),
                   "--no-progress", "--save-interrupted"])
    assert rc == 130 and model.exists()
    assert "after 3 complete iterations written to" in capsys.readouterr().err
    assert lorank.load(model).model_.n_iter_ == 3


def test_cli_fit_reports_held_out_rmse_then_saves_a_refit_on_all_data(movielens, capsys):
    folder, R = movielens
    path = folder / "model.npz"
    args = ["fit", str(folder), "--rank", "3", "--iterations", "4", "--out", str(path),
            "--no-progress", "--threads", "1", "--seed", "5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "held-out RMSE" in out and "refitted on all 4,000 ratings written to" in out
    saved = lorank.load(path).model_
    full, _ = lorank.datasets.load_movielens(str(folder))
    want = lorank.ALS(3, max_iter=4, random_state=5, n_threads=1).fit(full)
    users, items = [1, 17, 200], [1, 5, 60]
    np.testing.assert_array_equal(saved.predict(users, items), want.predict(users, items))
    # --no-refit keeps the model of the training share, and says so.
    assert main(args + ["--no-refit"]) == 0
    assert "fitted on the training share (3,559 ratings; --no-refit)" in capsys.readouterr().out
    assert not np.array_equal(lorank.load(path).model_.predict(users, items),
                              want.predict(users, items))


def test_cli_evaluate_interrupted_exits_130_without_a_table(movielens, capsys, monkeypatch):
    folder, _ = movielens
    _interrupting(monkeypatch, 2)
    with pytest.warns(RuntimeWarning, match="interrupted after 2 complete iterations"):
        rc = main(["evaluate", str(folder / "u.data"), "--folds", "3", "--rank", "2",
                   "--iterations", "4"])
    captured = capsys.readouterr()
    assert rc == 130 and "rmse" not in captured.out and "interrupted" in captured.err
