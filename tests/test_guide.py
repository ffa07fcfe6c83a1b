"""The user guide's examples run as written: the Python blocks of every
docs/guide/*.rst page (joined in order, later blocks use earlier names; their
asserts are the page's claims) and the Dask example of docs/distributed.md."""

import contextlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDE = DOCS / "guide"
OPTIONAL = ("pandas", "sklearn", "matplotlib", "dask", "distributed")

pytestmark = pytest.mark.skipif(not GUIDE.exists(), reason="docs/guide not found next to tests/")


def python_blocks(text):
    """The bodies of a page's ``.. code-block:: python`` directives, dedented."""
    return ["\n".join(line[3:] for line in m.group(1).splitlines())
            for m in re.finditer(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text)]


def _pages():
    for page in sorted(GUIDE.glob("*.rst")):
        blocks = python_blocks(page.read_text(encoding="utf-8"))
        if blocks:
            yield pytest.param(page, "\n".join(blocks), id=page.stem)


def test_every_guide_page_with_code_is_run():
    # A block whose directive the pattern misses (an option line, a typo) would
    # silently go untested: every "code-block:: python" must be one it finds.
    for page in GUIDE.glob("*.rst"):
        text = page.read_text(encoding="utf-8")
        assert text.count(".. code-block:: python") == len(python_blocks(text)), page.name


@pytest.mark.parametrize("page,code", list(_pages()))
def test_guide_example_runs(page, code, tmp_path, monkeypatch, request):
    for module in OPTIONAL:
        if re.search(rf"^\s*(import|from) {module}\b", code, re.M):
            pytest.importorskip(module)
    if '"ml-100k/"' in code:
        folder = request.getfixturevalue("ml100k_dir")  # skips (fails under CI) when absent
        code = code.replace('"ml-100k/"', repr(str(folder)))
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    exec(compile(code, str(page), "exec"), {"__name__": "guide"})


def test_distributed_example_runs(dask_client, capsys):
    pytest.importorskip("dask.dataframe")
    page = DOCS / "distributed.md"
    (block,) = re.findall(r"```py\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    # The example starts its own cluster; here it runs on the module's (conftest.py).
    code = block.replace(
        "LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client",
        "contextlib.nullcontext(__client) as client")
    assert code != block
    env = {"__name__": "__main__", "__client": dask_client, "contextlib": contextlib}
    exec(compile(code, str(page), "exec"), env)
    import lorank

    assert type(env["local"]) is lorank.ALS
    lines = capsys.readouterr().out.splitlines()
    n_iter, rmse = lines[0].split()
    assert 1 <= int(n_iter) <= 15 and 0 < float(rmse) < 1.2
    assert lines[1].startswith("(array(['movie")
