"""The package layout: every public name imports, and the tree agrees with the map in
``tools/relayout.py`` (all modules where the flat layout has them, or all where the
layered one puts them; never a mixture, never a module the map does not place)."""

import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import lorank

TOOL = Path(__file__).resolve().parents[1] / "tools" / "relayout.py"


@pytest.fixture(scope="module")
def relayout():
    if not TOOL.exists():
        pytest.skip("tools/relayout.py is not beside these tests (installed tests only)")
    spec = importlib.util.spec_from_file_location("relayout", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("name", lorank.__all__)
def test_public_name_imports_from_lorank(name):
    namespace = {}
    exec(f"from lorank import {name}", namespace)
    obj = namespace[name]
    assert obj is getattr(lorank, name)
    if hasattr(obj, "__module__") and not isinstance(obj, type(lorank)):
        assert obj.__module__.startswith("lorank."), (name, obj.__module__)
    if isinstance(obj, type(lorank)):  # lorank.datasets etc. import by path too
        assert importlib.import_module(f"lorank.{name}") is obj


def test_all_has_no_duplicates():
    assert len(set(lorank.__all__)) == len(lorank.__all__)


def test_no_module_left_behind(relayout):
    moved = {old: new for old, new in relayout.module_map().items() if old != new}
    where = {old: (_exists(old), _exists(new)) for old, new in moved.items()}
    nowhere = [old for old, (a, b) in where.items() if not (a or b)]
    assert not nowhere, (f"tools/relayout.py places {nowhere}, which exist neither flat nor "
                         "moved: remove or rename their lines in LAYOUT")
    twice = [old for old, (a, b) in where.items() if a and b]
    assert not twice, f"both the flat and the moved module exist: {twice}"
    applied = any(_exists(f"lorank.{folder}") for folder in relayout.FOLDERS)
    if applied:
        behind = [old for old, (a, _) in where.items() if a]
        assert not behind, (f"still at the top level although tools/relayout.py places them "
                            f"in a folder: {[(old, moved[old]) for old in behind]}")
    else:
        ahead = [moved[old] for old, (_, b) in where.items() if b]
        assert not ahead, f"moved ahead of the layout (the rest is flat): {ahead}"


def test_relayout_places_every_module(relayout):
    known = set(relayout.module_map()) | set(relayout.module_map().values())
    known |= {f"lorank.{folder}" for folder in relayout.FOLDERS}
    found = {name for _, name, _ in pkgutil.walk_packages(lorank.__path__, "lorank.")}
    unknown = sorted(n for n in found - known if not n.rsplit(".", 1)[-1].startswith("__"))
    assert not unknown, (f"modules that LAYOUT in tools/relayout.py does not place: {unknown}; "
                         "add one line each")
