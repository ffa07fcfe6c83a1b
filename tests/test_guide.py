"""The user guide's Python examples (docs/guide/*.rst) run as written."""

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide"
ML100K = GUIDE.parent.parent.parent / "shared" / "data" / "ml-100k"


def _pages():
    """(page, its Python blocks joined in order: later blocks use earlier names)."""
    for page in sorted(GUIDE.glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        blocks = ["\n".join(line[3:] for line in m.group(1).splitlines())
                  for m in re.finditer(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text)]
        if blocks:
            yield pytest.param(page, "\n".join(blocks), id=page.stem)


@pytest.mark.skipif(not GUIDE.exists(), reason="docs/guide not found next to tests/")
@pytest.mark.parametrize("page,code", list(_pages()))
def test_guide_example_runs(page, code, tmp_path, monkeypatch):
    if '"ml-100k/"' in code:
        if not (ML100K / "u.data").exists():
            pytest.skip(f"MovieLens 100K not found at {ML100K}")
        code = code.replace('"ml-100k/"', repr(str(ML100K)))
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    exec(compile(code, str(page), "exec"), {"__name__": "guide"})
