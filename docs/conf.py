"""Sphinx configuration: numpydoc API pages, a sphinx-gallery of examples, and
pages generated at build time from the package itself (the API list from
``lorank.__all__``) and from ``bench/results/*.json`` (the benchmark tables)."""

import json
import re
import os
import sys
from pathlib import Path

import lorank

HERE = Path(__file__).parent
ROOT = HERE.parent

project = "lorank"
author = "the lorank developers"
copyright = "the lorank developers, BSD-3-Clause"
version = release = lorank.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
html_theme = "pydata_sphinx_theme"
html_title = f"lorank {release}"
html_theme_options = {"navigation_with_keys": False, "secondary_sidebar_items": ["page-toc"]}
html_static_path = []
autosummary_generate = True
# Members a class inherits are documented, except those of the bases named here: the
# estimator base (its protocol is the guide's), scipy's LinearOperator and the
# exception classes. CPALS and BayesianCP so show their shared CP protocol (CPModel).
autodoc_default_options = {
    "members": True,
    "inherited-members": "CompletionModel,LinearOperator,BaseException,AttributeError",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "dask": ("https://docs.dask.org/en/stable", None),
}


def _reachable(url, timeout=3.0):
    """Whether the host of ``url`` accepts a connection (an unreachable inventory is a
    Sphinx warning with no type to suppress, so ``-W`` would fail on a machine without
    network)."""
    import socket
    from urllib.parse import urlsplit

    try:
        socket.create_connection((urlsplit(url).hostname, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


# Offline builds: LORANK_DOCS_OFFLINE=1 drops every inventory without asking the network;
# otherwise an inventory whose host cannot be reached is dropped with a note, so
# `sphinx-build -W` passes with or without network (the links to it are then plain text).
if os.environ.get("LORANK_DOCS_OFFLINE"):
    intersphinx_mapping = {}
else:
    _unreachable = [k for k, (url, _) in intersphinx_mapping.items() if not _reachable(url)]
    for _name in _unreachable:
        del intersphinx_mapping[_name]
    if _unreachable:
        print(f"lorank docs: no network to {', '.join(_unreachable)}; building without "
              "those intersphinx links")

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

_LITERAL = re.compile(r"(``.+?``)")


def escape_bars(text):
    """Absolute values such as ``|Ω_j|`` in docstrings read well in a terminal but
    are substitutions to reStructuredText: escape bars outside literals."""
    parts = _LITERAL.split(text)
    return "".join(p if p.startswith("``") else p.replace("|", r"\|") for p in parts)


def escape_text(text):
    """Plain text (benchmark notes and cells) as reStructuredText: bars escaped as
    in docstrings, and a trailing underscore (``reg_``, ``history_``: fitted
    attributes) is not a hyperlink reference."""
    parts = _LITERAL.split(escape_bars(text))
    return "".join(p if p.startswith("``") else re.sub(r"(\w)_(?!\w)", r"\1\\_", p)
                   for p in parts)


def _escape_docstring(app, what, name, obj, options, lines):
    lines[:] = [escape_bars(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _escape_docstring, priority=400)


GENERATED = HERE / "_generated"
GENERATED.mkdir(exist_ok=True)


def _write_api():
    """The API reference: every public name, from ``lorank.__all__``."""
    import inspect

    classes, functions, modules = [], [], []
    for name in sorted(lorank.__all__, key=str.lower):
        obj = getattr(lorank, name)
        (modules if inspect.ismodule(obj) else
         classes if inspect.isclass(obj) else functions).append(name)
    lines = ["API reference", "=============", "",
             "Every public name is importable from ``lorank``.", ""]
    for title, names in (("Classes", classes), ("Functions", functions)):
        lines += [title, "-" * len(title), "", ".. currentmodule:: lorank", "",
                  ".. autosummary::", "   :toctree: generated/", ""]
        lines += [f"   {n}" for n in names] + [""]
    lines += ["Modules", "-------", ""]
    for n in modules:
        doc = (getattr(lorank, n).__doc__ or "").strip().splitlines()
        lines += [f"- ``lorank.{n}``: {doc[0] if doc else ''}"]
    (GENERATED / "api.rst").write_text("\n".join(lines) + "\n")


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else escape_text(str(value))


def _write_benchmarks():
    """One table per ``bench/results/NAME.json`` (full-size runs)."""
    lines = ["Benchmark results", "=================", "",
             "Generated from ``bench/results/*.json``; reproduce any table with",
             "``python bench/run.py NAME --threads 2`` (``--size small`` for a quick run).",
             "Every run records the machine, threads and load average beside its rows.", ""]
    for path in sorted((ROOT / "bench" / "results").glob("*.json")):
        if path.stem.endswith("-small"):
            continue
        data = json.loads(path.read_text())
        rows = data.get("rows") or []
        machine = data.get("machine", {})
        title = f"``{path.stem}``"
        lines += [title, "-" * len(title), ""]
        lines += [escape_text(str(data.get("notes", ""))), ""]
        lines += [f"*Machine*: {machine.get('cpu_model', '?')}, "
                  f"{machine.get('usable_cores', '?')} cores, {machine.get('threads', '?')} threads, "
                  f"load {machine.get('load_average_1_5_15min', '?')}, {machine.get('date', '?')}.", ""]
        params = data.get("parameters", {})
        if params:
            lines += ["*Parameters*: " + ", ".join(f"{k}={v}" for k, v in params.items()), ""]
        if rows:
            keys = list(dict.fromkeys(k for r in rows for k in r))
            lines += [".. list-table::", "   :header-rows: 1", ""]
            lines += ["   * - " + "\n     - ".join(keys)]
            for r in rows:
                lines += ["   * - " + "\n     - ".join(_cell(r.get(k)) or " " for k in keys)]
            lines += [""]
    (GENERATED / "benchmarks.rst").write_text("\n".join(lines) + "\n")


_write_api()
_write_benchmarks()
sys.path.insert(0, str(ROOT / "examples"))
