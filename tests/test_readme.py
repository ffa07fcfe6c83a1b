"""README is checked block by block: its Python runs as written, its shell
commands name things that exist (the two set-up commands stay put, CI runs the
test one), its links resolve and its figures are the benchmark files' figures.
Blocks are found by their language and the section they are in, never by their
position, and a block of any other kind fails the test until it is checked."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(not README.exists(), reason="README.md not found next to tests/")

SETUP = ("pip install . && lorank demo", "pip install '.[test]' && pytest")


def blocks():
    """(section heading, info string, body) of every fenced block, in order."""
    text = README.read_text(encoding="utf-8")
    out, section = [], ""
    for m in re.finditer(r"^## ([^\n]*)$|^```([^\n]*)\n(.*?)^```$", text, re.M | re.S):
        if m.group(1) is not None:
            section = m.group(1).strip()
        else:
            out.append((section, m.group(2).strip(), m.group(3)))
    return out


def test_every_block_is_a_checked_kind():
    kinds = {info for _, info, _ in blocks()}
    assert kinds <= {"python", "bash"}, f"add a check for README blocks of kind {kinds}"
    assert [s for s, info, _ in blocks() if info == "python"] == ["Quick start"]


def test_quick_start_runs(capsys):
    ((_, _, code),) = [b for b in blocks() if b[1] == "python"]
    assert len(code.strip().splitlines()) <= 12  # a quick start
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    valid, floor = map(float, lines[0].split())
    # Above the noise floor (the RMSE of E[rating | true model], which no model
    # beats), within a third of it: 25 ratings a user leave some of rank 10 unlearnt.
    assert floor < valid < 1.35 * floor
    assert lines[1].startswith("(array([") and lines[1].count(",") >= 8  # 5 items, 5 scores


def _bash_lines():
    for _, info, body in blocks():
        if info == "bash":
            for line in body.splitlines():
                command = line.split("#")[0].strip()
                if command:
                    yield command


def test_two_setup_commands():
    commands = [body.strip() for _, info, body in blocks() if info == "bash"]
    for command in SETUP:
        assert command in commands  # each alone in its own block, as written
    ci = ROOT / ".ci" / "run"
    if ci.exists():  # CI runs exactly README's test command
        assert re.search(r"^" + re.escape(SETUP[1]) + r"$", ci.read_text(), re.M)


def test_shell_commands_name_real_extras():
    toml = (ROOT / "pyproject.toml").read_text()
    section = toml.split("[project.optional-dependencies]")[1].split("\n[")[0]
    extras = re.findall(r"^(\w+) = ", section, re.M)  # (tomllib is Python >= 3.11)
    assert "test" in extras and "plot" in extras
    for command in _bash_lines():
        assert command.startswith("pip install ") or command in SETUP, command
        for extra in re.findall(r"'\.\[(\w+)\]'", command):
            assert extra in extras, f"README installs '.[{extra}]', not in pyproject.toml"


def test_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links
    for link in links:
        if not re.match(r"https?://", link):
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def _bench(name):
    path = ROOT / "bench" / "results" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return json.loads(path.read_text())


def test_accuracy_figures_are_the_benchmarks():
    text = README.read_text(encoding="utf-8")
    shown = 0
    for row in _bench("accuracy_table")["rows"]:
        name = row["model"].removesuffix("()")
        name = f"`{name}`" if "(" in name else name
        if f"{name} " in text:
            assert f"{name} {row['rmse']:.3f}" in text, (name, row["rmse"])
            shown += 1
    assert shown >= 4


def test_netflix_epoch_figures_are_the_benchmark():
    rows = _bench("als_netflix")["rows"]
    epochs = [r["seconds"] for r in rows if r["phase"].startswith("epoch ")]
    text = README.read_text(encoding="utf-8")
    assert f"{min(epochs):.2f}-{max(epochs):.2f} s" in text
    about = re.search(r"an ALS epoch in about (\d+\.\d+) s", text)
    assert about, "the intro's Netflix-scale figure ('an ALS epoch in about X s') is gone"
    assert np.isclose(np.median(epochs), float(about.group(1)), atol=0.05)
