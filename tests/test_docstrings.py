"""Every docstring example of the installed package runs (so the documentation
cannot go stale), and every public name has one."""

import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import lorank

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(lorank.__path__, "lorank.")
    if not name.rsplit(".", 1)[-1].startswith("__")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, module.__name__) if t.examples]
    # Cython functions are not found by inspect.isfunction: add their docstrings.
    for name, obj in vars(module).items():
        if (type(obj).__name__ in ("cython_function_or_method", "fused_cython_function")
                and obj.__doc__ and ">>>" in obj.__doc__):
            tests += finder.find(obj.__doc__, f"{module.__name__}.{name}", globs={})
    return tests


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = _examples(module)
    report = []
    failed = []
    for test in tests:
        if runner.run(test, out=report.append).failed:
            failed.append(test.name)
    assert not failed, f"failing docstring examples: {failed}\n" + "".join(report)[:4000]


def _public():
    for name in lorank.__all__:
        obj = getattr(lorank, name)
        if inspect.ismodule(obj):
            continue
        yield name, obj


@pytest.mark.parametrize("name,obj", list(_public()), ids=[n for n, _ in _public()])
def test_public_names_have_runnable_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert "Examples" in doc and ">>>" in doc, (
        f"lorank.{name} needs a numpydoc Examples section with a runnable example")
