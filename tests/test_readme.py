"""README's Python examples run as written, and its set-up commands stay put."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

pytestmark = pytest.mark.skipif(not README.exists(), reason="README.md not found next to tests/")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _run(code, capsys):
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    return capsys.readouterr().out.splitlines()


def test_recommendation_example_runs(capsys, tmp_path, monkeypatch, ml100k_dir):
    ML100K = ml100k_dir
    example = _blocks("python")[2].replace('"ml-100k/"', repr(str(ML100K)))
    monkeypatch.chdir(tmp_path)  # it saves ml100k.npz
    lines = _run(example, capsys)
    assert lines[0].startswith("[") and (tmp_path / "ml100k.npz").exists()
    rmse = next(line for line in lines if line.startswith("rmse"))
    assert 0.85 < float(rmse.split()[1]) < 0.93


def test_quickstart_runs(capsys):
    svd_story, completion, _ = _blocks("python")
    lines = _run(svd_story, capsys)
    assert lines[0] == "5" and lines[1] == "4 4"
    assert lines[3].startswith("10 25.6 ") and lines[4].startswith("100 2.56 ")

    lines = _run(completion, capsys)
    assert float(lines[0]) < 1e-6  # the seed's example, completed
    valid, floor = map(float, lines[1].split())
    # Above the noise floor (the RMSE of E[rating | true model], which no model
    # beats), within a third of it: 25 ratings a user leave some of rank 10 unlearnt.
    assert floor < valid < 1.35 * floor


def test_two_setup_commands():
    commands = [block.strip() for block in _blocks("bash")]
    assert "pip install . && lorank demo" in commands
    assert "pip install '.[test]' && pytest" in commands
    ci = README.parent / ".ci" / "run"
    if ci.exists():  # CI runs exactly README's test command
        assert "pip install '.[test]' && pytest" in ci.read_text()


def test_pandas_and_sklearn_examples_run(capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    pandas_block, sklearn_block = _blocks("python3")
    env = {"__name__": "readme"}
    exec(compile(pandas_block, str(README), "exec"), env)
    lines = capsys.readouterr().out.splitlines()
    prediction, test_rmse = map(float, lines[0].split())
    assert 0 < test_rmse < 1.5 and np.isfinite(prediction)
    assert lines[1].startswith("(3, 5)")
    exec(compile(sklearn_block, str(README), "exec"), env)
    lines = capsys.readouterr().out.splitlines()
    folds = np.array(lines[0].strip("[]").split(), dtype=float)
    assert folds.shape == (3,) and (folds < 0).all()
    assert lines[1].startswith("{'reg': ") and "ALS(rank=5" in lines[1]
    pairs = np.array(lines[2].strip("[]").split(), dtype=float)
    assert pairs.shape == (3,) and (-1.5 < pairs).all() and (pairs < 0).all()
