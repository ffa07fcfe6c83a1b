#!/usr/bin/env python3
"""Move ``src/lorank/`` from one flat folder to folders that show the layers.

Run from a clean work tree of the repository, then commit the result on its own::

    python tools/relayout.py            # dry run: the plan and any warnings, nothing changed
    python tools/relayout.py --diff     # the same with every rewrite as a unified diff
    python tools/relayout.py --apply    # git mv, rewrite references, new meson.build files
    git commit -m "Layout: src/lorank/ in layers (python tools/relayout.py --apply)"
    pip install --no-build-isolation -e .   # the editable build must be redone once

The layout it makes (``LAYOUT`` below is the one source; each line places one file)::

    src/lorank/
      __init__.py  __main__.py      public names, re-exported: ``lorank.ALS`` etc.
      cli  demo  complete  recommend  model_selection  metrics  io  plot
      datasets  distributed  _dask_tasks  _config  _build_info  _threads  _validation
      data/       observed entries in: ratings, tensor_ratings, _labels, _columns,
                  loaders, _implicit_data
      models/     one module per estimator on one base: _estimator, _cp_base,
                  _auto_reg, _model_files, als, baseline, bayesian, bayesian_cp,
                  cp_als, implicit_als, popularity, softimpute
      linalg/     svd, lowrank (LowRank), sparse_plus_lowrank (SparsePlusLowRank)
      _kernels/   every .pyx with its .h/.pxi: _als, _fill, _openmp, _parse,
                  _rank_metrics, _sparse, _synthetic, _topk

Modules used by several layers (threads, validation, config) and the public
namespaces that users import by path (``lorank.datasets``, ``lorank.io``,
``lorank.metrics``, ``lorank.model_selection``, ``lorank.plot``,
``lorank.distributed``) stay at the top; private modules stay private.

What ``--apply`` does, after checking everything first (nothing is touched
when a check fails):

1. refuses a dirty work tree; says "already applied" (exit 0) when the folders
   exist and nothing is left to move, and fails on a half-moved tree;
2. fails on any file in ``src/lorank/`` that ``LAYOUT`` does not place (a
   module added since: give it one line), and on a ``meson.build`` whose lists
   or extension block differ from what the tree holds;
3. ``git mv``s the files and adds an ``__init__.py`` per folder;
4. rewrites references in src/, tests/, bench/ (not bench/results/), docs/,
   examples/, .ci/, README.md, CHANGELOG.md, pyproject.toml and the root
   meson.build: relative imports inside the package (recomputed from each
   file's new folder), ``from lorank import _als`` (split by target package
   when one statement imports from several), ``import lorank.x as y``,
   cimports, dotted names anywhere (``lorank.als.ALS``, monkeypatch strings,
   Sphinx roles), ``include``/``extern from`` paths between kernel files,
   ``src/lorank/<file>`` paths and backticked bare file names in .md/.rst;
   a name bound in ``lorank/__init__.py`` to a function of the same name as
   its module (``lorank.svd``) is rewritten only in imports and before a dot;
5. writes ``src/lorank/meson.build`` (configure_file block kept as it is) and
   one ``meson.build`` per folder: an explicit file list each, extensions in
   one ``foreach`` with OpenMP where the module uses it (``prange`` or
   ``_OPENMP``) as the current build says;
6. stages everything, and prints what it could not rewrite (paths built at
   run time, quoted bare file names) for a human to check.

What it does not do: keep old import paths alive (``import lorank.als`` fails
after the move; every name in ``lorank.__all__`` and the top-level modules keep
theirs), regroup prose that lists modules (it only prefixes their paths), or
rewrite a branch merged after the move (merge first; git's rename detection
carries edits to moved files, not new references to old module paths).
"""

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

# Folder -> the docstring of its __init__.py.
FOLDERS = {
    "data": "Observed entries in: ``Ratings``, ``TensorRatings``, label indexes, file "
            "loaders and the implicit-feedback generator.",
    "models": "The estimators, one module each, on one base (``CompletionModel``), with "
              "``reg=\"auto\"`` and what their files hold.",
    "linalg": "Linear algebra on dense, sparse and factored matrices: ``svd``, ``LowRank``, "
              "``SparsePlusLowRank``.",
    "_kernels": "The compiled kernels (Cython, fused float32/float64, OpenMP ``prange``) and "
                "their C headers.",
}

# Every file of src/lorank/ (except meson.build, which is regenerated): file -> folder
# ("" = stays at the top). A file missing here stops the script: add its line.
LAYOUT = {
    # the front door and the layers around the models
    "__init__.py": "",
    "__main__.py": "",
    "_build_info.py.in": "",
    "_config.py": "",
    "_dask_tasks.py": "",
    "_threads.py": "",
    "_validation.py": "",
    "cli.py": "",
    "complete.py": "",
    "datasets.py": "",
    "demo.py": "",
    "distributed.py": "",
    "io.py": "",
    "metrics.py": "",
    "model_selection.py": "",
    "plot.py": "",
    "recommend.py": "",
    # data in
    "_columns.py": "data",
    "_implicit_data.py": "data",
    "_labels.py": "data",
    "loaders.py": "data",
    "ratings.py": "data",
    "tensor_ratings.py": "data",
    # estimators
    "_auto_reg.py": "models",
    "_cp_base.py": "models",
    "_estimator.py": "models",
    "_model_files.py": "models",
    "als.py": "models",
    "baseline.py": "models",
    "bayesian.py": "models",
    "bayesian_cp.py": "models",
    "cp_als.py": "models",
    "implicit_als.py": "models",
    "popularity.py": "models",
    "softimpute.py": "models",
    # linear algebra
    "lowrank.py": "linalg",
    "sparse_plus_lowrank.py": "linalg",
    "svd.py": "linalg",
    # compiled kernels and their headers
    "_als.pyx": "_kernels",
    "_als_gram.h": "_kernels",
    "_entry_checks.pxi": "_kernels",
    "_fill.pyx": "_kernels",
    "_fill_pass.h": "_kernels",
    "_openmp.pyx": "_kernels",
    "_parse.pyx": "_kernels",
    "_random.h": "_kernels",
    "_rank_metrics.pyx": "_kernels",
    "_simd.pxi": "_kernels",
    "_sparse.pyx": "_kernels",
    "_synthetic.pyx": "_kernels",
    "_topk.pyx": "_kernels",
}

PKG = "src/lorank"
ROOT = Path(__file__).resolve().parents[1]
# Where references are rewritten (git-tracked files only).
SCOPE = ("src", "tests", "bench", "docs", "examples", ".ci", "README.md", "CHANGELOG.md",
         "pyproject.toml", "meson.build")
SKIP = ("bench/results/", "tools/relayout.py", "tests/test_layout.py")
TEXT_SUFFIXES = {".py", ".pyx", ".pxd", ".pxi", ".h", ".c", ".md", ".rst", ".txt", ".toml",
                 ".cfg", ".ini", ".build", ".in", ".sh", ".yml", ".yaml", ""}
MODULE_SUFFIXES = (".py.in", ".py", ".pyx")


class LayoutError(Exception):
    """A check failed: nothing was changed."""


def module_name(filename):
    """``als.py`` -> ``als``, ``_build_info.py.in`` -> ``_build_info``; None for headers."""
    for suffix in MODULE_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            return None if stem.startswith("__") else stem
    return None


def module_map():
    """Old dotted module name -> new one, for every module ``LAYOUT`` places."""
    out = {}
    for filename, folder in LAYOUT.items():
        stem = module_name(filename)
        if stem is not None:
            out[f"lorank.{stem}"] = f"lorank.{folder}.{stem}" if folder else f"lorank.{stem}"
    return out


def new_path(filename):
    folder = LAYOUT[filename]
    return f"{folder}/{filename}" if folder else filename


# ---------------------------------------------------------------------------- checks

def git(*args, capture=True):
    result = subprocess.run(["git", "-C", str(ROOT), *args], text=True,
                            capture_output=capture)
    if result.returncode:
        raise LayoutError(f"git {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def tracked(prefix="."):
    return [p for p in git("ls-files", "-z", "--", prefix).split("\0") if p]


def state():
    """'flat', 'applied', or raise on a mixture; also the package's files."""
    files = [p[len(PKG) + 1:] for p in tracked(PKG)]
    nested = [f for f in files if "/" in f]
    top = [f for f in files if "/" not in f]
    moved_top = [f for f in top if f in LAYOUT and LAYOUT[f]]
    folders = {f.split("/")[0] for f in nested}
    if nested and folders <= set(FOLDERS):
        if moved_top:
            raise LayoutError(
                f"half-moved tree: folders {sorted(folders)} exist but these files are still "
                f"at the top of {PKG}/ although LAYOUT places them in a folder: {moved_top}")
        return "applied", files
    if nested:
        unknown = sorted(folders - set(FOLDERS))
        raise LayoutError(f"{PKG}/ has folders this script does not know: {unknown}; "
                          "add them to FOLDERS (and their files to LAYOUT)")
    return "flat", files


def check_known(files):
    unknown = [f for f in files if f not in LAYOUT and f != "meson.build"]
    if unknown:
        lines = "\n".join(f'    "{f}": "",  # or "data", "models", "linalg", "_kernels"'
                          for f in unknown)
        raise LayoutError(
            f"{PKG}/ holds files that LAYOUT in tools/relayout.py does not place:\n{lines}\n"
            "Add one line each (the folder of its layer), then run again.")
    missing = sorted(f for f in LAYOUT if f not in files)
    for f in missing:
        warn(f"LAYOUT places {f}, which is not in {PKG}/ (deleted or renamed?): skipped")
    for folder in FOLDERS:
        if folder in {module_name(f) for f in files}:
            raise LayoutError(f"a module named {folder} would collide with the folder {folder}/")
    if LAYOUT.get("_build_info.py.in", "") != "":
        raise LayoutError("_build_info.py.in stays at the top: its configure_file is in "
                          f"{PKG}/meson.build")


WARNINGS = []


def warn(message):
    WARNINGS.append(message)


# ---------------------------------------------------------------------------- meson

FOREACH = """foreach name, parallel : extensions
  py.extension_module(
    name,
    name + '.pyx',
    cython_args: cython_args,
    c_args: c_args,
    dependencies: parallel ? [openmp] : [],
    install: true,
    subdir: '{subdir}',
  )
endforeach
"""


def _squash(text):
    return re.sub(r"\s+", "", text)


def parse_meson(text, files):
    """Split the current flat meson.build into (header, OpenMP flag per extension),
    failing on anything that is not the known shape or disagrees with the tree."""
    start = text.find("py.install_sources(")
    if start < 0:
        raise LayoutError(f"{PKG}/meson.build has no py.install_sources(: unknown shape")
    header = text[:start]
    m = re.compile(r"py\.install_sources\(\s*\[(.*?)\]\s*,\s*subdir:\s*'lorank',?\s*\)\s*",
                   re.S).match(text, start)
    if not m:
        raise LayoutError(f"{PKG}/meson.build: py.install_sources(...) is not one list with "
                          "subdir: 'lorank'")
    listed = re.findall(r"'([^']+)'", m.group(1))
    rest = text[m.end():]
    py_files = sorted(f for f in files if f.endswith(".py"))
    if sorted(listed) != py_files:
        raise LayoutError(
            f"{PKG}/meson.build installs {sorted(set(listed) - set(py_files))} not in the tree "
            f"and misses {sorted(set(py_files) - set(listed))}: fix main's build first")
    m = re.search(r"extensions\s*=\s*\{(.*?)\}\s*", rest, re.S)
    if not m:
        raise LayoutError(f"{PKG}/meson.build has no extensions = {{...}} dictionary")
    flags = {name: value == "true"
             for name, value in re.findall(r"'(\w+)'\s*:\s*(true|false)", m.group(1))}
    tail = rest[m.end():]
    if _squash(tail) != _squash(FOREACH.format(subdir="lorank")):
        raise LayoutError(f"{PKG}/meson.build: the block after extensions = {{...}} is not the "
                          "known foreach; update FOREACH in tools/relayout.py to match it")
    between = rest[:m.start()]
    if _squash(re.sub(r"#[^\n]*", "", between)):
        raise LayoutError(f"{PKG}/meson.build has statements between install_sources and "
                          f"extensions that this script does not know:\n{between}")
    pyx = sorted(module_name(f) for f in files if f.endswith(".pyx"))
    if sorted(flags) != pyx:
        raise LayoutError(f"{PKG}/meson.build's extensions {sorted(flags)} differ from the "
                          f".pyx files {pyx}")
    for name, parallel in flags.items():
        source = (ROOT / PKG / f"{name}.pyx").read_text()
        uses = bool(re.search(r"\bprange\b|_OPENMP", source))
        if uses and not parallel:
            raise LayoutError(f"{name}.pyx uses OpenMP but meson.build builds it without")
        if parallel and not uses:
            warn(f"{name}.pyx is built with OpenMP but has no prange (kept as meson.build says)")
    return header, flags


def _sort_key(f):
    return (not f.startswith("__"), f.lstrip("_").lower())


def _install(files, subdir):
    lines = "".join(f"    '{f}',\n" for f in sorted(files, key=_sort_key))
    return f"py.install_sources(\n  [\n{lines}  ],\n  subdir: '{subdir}',\n)\n"


def _extensions(flags, subdir):
    lines = "".join(f"  '{n}': {'true' if flags[n] else 'false'},\n"
                    for n in sorted(flags, key=_sort_key))
    return ("\n# name: uses OpenMP (prange)?\nextensions = {\n" + lines + "}\n\n"
            + FOREACH.format(subdir=subdir))


def new_meson(header, flags, files):
    """{path relative to src/lorank: text} of every meson.build of the new layout."""
    out = {}
    for folder in ("", *FOLDERS):
        here = [f for f in files if LAYOUT.get(f) == folder]
        py = [f for f in here if f.endswith(".py")] + (["__init__.py"] if folder else [])
        ext = {module_name(f): flags[module_name(f)] for f in here if f.endswith(".pyx")}
        subdir = f"lorank/{folder}" if folder else "lorank"
        if folder:
            text = f"# lorank/{folder}/ (the layout is in tools/relayout.py)\n"
        else:
            text = header
        text += _install(py, subdir) if py else ""
        if ext:
            text += _extensions(ext, subdir)
        if not folder:
            text += "\n" + "".join(f"subdir('{f}')\n" for f in FOLDERS)
        out[f"{folder}/meson.build" if folder else "meson.build"] = text
    return out


# ---------------------------------------------------------------------------- rewriting

class Rewriter:
    def __init__(self, files):
        present = set(files)
        self.mods = {old: new for old, new in module_map().items()
                     if any(module_name(f) == old[len("lorank."):] for f in present)}
        self.moved = {old: new for old, new in self.mods.items() if old != new}
        self.moved_files = {f: new_path(f) for f in present
                            if f in LAYOUT and LAYOUT[f]}
        self.shadowed = self._shadowed()
        stems = sorted((m[len("lorank."):] for m in self.moved), key=len, reverse=True)
        self.dotted = re.compile(r"(?<![\w.])lorank\.(" + "|".join(map(re.escape, stems))
                                 + r")(?![\w])")
        names = sorted(self.moved_files, key=len, reverse=True)
        alt = "|".join(map(re.escape, names))
        self.path_re = re.compile(r"(?<![\w.-])((?:src/)?lorank/)(" + alt + r")(?![\w.])")
        self.tick_re = re.compile(r"(?<![\w/.])(`{1,2})(" + alt + r")\1")
        self.quoted_re = re.compile(r"""(["'])(""" + alt + r""")\1""")

    def _shadowed(self):
        tree = ast.parse((ROOT / PKG / "__init__.py").read_text())
        bound = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                bound |= {a.asname or a.name for a in node.names}
        return {m[len("lorank."):] for m in self.moved} & bound

    # -- imports
    IMPORT_FROM = re.compile(
        r"(?P<lead>^[ \t]*(?:(?:>>>|\.\.\.)[ \t]+)?)from[ \t]+(?P<mod>\.+[\w.]*|lorank(?:\.\w+)*)"
        r"[ \t]+(?P<kw>c?import)[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)", re.M)
    IMPORT = re.compile(r"(?P<lead>^[ \t]*(?:(?:>>>|\.\.\.)[ \t]+)?)(?P<kw>c?import)[ \t]+"
                        r"(?P<names>[^\n#;]*)", re.M)

    @staticmethod
    def _package_of(path):
        """Dotted package of a file of src/lorank given relative to it, or None."""
        parts = path.split("/")[:-1]
        return ".".join(["lorank", *parts])

    def _resolve(self, mod, pkg):
        if not mod.startswith("."):
            return mod
        if pkg is None:
            return None
        dots = len(mod) - len(mod.lstrip("."))
        base = pkg.split(".")
        if dots - 1 >= len(base):
            return None
        base = base[: len(base) - (dots - 1)]
        rest = mod[dots:]
        return ".".join(base + ([rest] if rest else []))

    def _relative(self, target, pkg):
        a, b = pkg.split("."), target.split(".")
        common = 0
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
        return "." * (len(a) - common + 1) + ".".join(b[common:])

    def _map_module(self, absmod):
        if absmod in self.moved:
            return self.moved[absmod]
        for old, new in self.moved.items():  # lorank.als.something (never a package now)
            if absmod.startswith(old + "."):
                return new + absmod[len(old):]
        return absmod

    def _sub_from(self, m, old_pkg, new_pkg, where):
        lead, mod, kw, names = m.group("lead", "mod", "kw", "names")
        relative = mod.startswith(".")
        absmod = self._resolve(mod, old_pkg)
        if absmod is None or not (absmod == "lorank" or absmod.startswith("lorank.")):
            return m.group(0)
        if relative and new_pkg is None:
            return m.group(0)

        def spell(target):
            return self._relative(target, new_pkg) if relative else target

        is_package = absmod == "lorank" or absmod in {f"lorank.{f}" for f in FOLDERS}
        if not is_package:
            target = self._map_module(absmod)
            new = f"{lead}from {spell(target)} {kw} {names}"
            return m.group(0) if (spell(target) == mod) else new
        # from <package> import a, b as c: each name may be a module that moved.
        inner = names.strip()
        body = inner[1:-1] if inner.startswith("(") else inner
        items = [x.strip() for x in re.sub(r"\n[ \t]*(?:\.\.\.)?", " ", body).split(",")
                 if x.strip()]
        groups = {}
        for item in items:
            name = item.split()[0]
            full = f"{absmod}.{name}"
            if full in self.moved and name not in self.shadowed:
                target = self.moved[full].rsplit(".", 1)[0]
            else:
                target = absmod
            groups.setdefault(target, []).append(item)
        if list(groups) == [absmod] and spell(absmod) == mod:
            return m.group(0)
        if "#" in body:
            raise LayoutError(f"{where}: cannot split an import with comments inside: "
                              f"{m.group(0)!r}; split it by hand first")
        trail = names[len(names.rstrip()):]
        out = [f"{lead}from {spell(t)} {kw} {', '.join(items)}" for t, items in groups.items()]
        return "\n".join(out) + trail

    def _sub_import(self, m):
        names = m.group("names")
        if "lorank." not in names:
            return m.group(0)

        def one(mm):
            return "lorank." + self.moved[f"lorank.{mm.group(1)}"][len("lorank."):]
        new = self.dotted.sub(one, names)
        return m.group(0)[: m.start("names") - m.start()] + new

    def _sub_dotted(self, m):
        stem = m.group(1)
        if stem in self.shadowed:
            end = m.end()
            if end >= len(m.string) or m.string[end] != ".":
                return m.group(0)
        return self.moved[f"lorank.{stem}"]

    # -- kernel includes
    INCLUDE = re.compile(r"""((?:^[ \t]*include[ \t]+|cdef[ \t]+extern[ \t]+from[ \t]+|#[ \t]*include[ \t]+)")([^"]+)(")""",
                         re.M)

    def _sub_include(self, m, old_rel, new_rel):
        name = m.group(2)
        old_dir = os.path.dirname(old_rel)
        target = os.path.normpath(os.path.join(old_dir, name))
        if target not in LAYOUT:
            return m.group(0)
        new_target = new_path(target)
        rel = os.path.relpath(new_target, os.path.dirname(new_rel) or ".")
        return m.group(1) + rel + m.group(3)

    def rewrite(self, path, text):
        """New text of the repository file ``path`` (its old path)."""
        in_pkg = path.startswith(PKG + "/")
        old_rel = path[len(PKG) + 1:] if in_pkg else None
        new_rel = self.moved_files.get(old_rel, old_rel) if in_pkg else None
        old_pkg = self._package_of(old_rel) if in_pkg else None
        new_pkg = self._package_of(new_rel) if in_pkg else None
        if in_pkg and path.endswith("meson.build"):
            return text
        text = self.IMPORT_FROM.sub(lambda m: self._sub_from(m, old_pkg, new_pkg, path), text)
        text = self.IMPORT.sub(self._sub_import, text)
        text = self.dotted.sub(self._sub_dotted, text)
        text = self.path_re.sub(lambda m: m.group(1) + self.moved_files[m.group(2)], text)
        if path.endswith((".md", ".rst")):
            text = self.tick_re.sub(lambda m: m.group(1) + self.moved_files[m.group(2)]
                                    + m.group(1), text)
        if in_pkg and path.endswith((".pyx", ".pxi", ".pxd", ".h")):
            text = self.INCLUDE.sub(lambda m: self._sub_include(m, old_rel, new_rel), text)
        return text

    def leftovers(self, path, text):
        """What the rewrite could not know: warnings with file:line."""
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"src/lorank/(\{|[\"']\s*[+,)]|\s*$)", line) or (
                    re.search(r"[\"']lorank\.[\"']\s*\+|f[\"']lorank\.\{", line)
                    and re.search(r"import|modules|setattr|find_spec", line)):
                warn(f"{path}:{n}: a path or module name built at run time: {line.strip()}")
            q = self.quoted_re.search(line)
            if q and not path.startswith(PKG + "/"):
                warn(f"{path}:{n}: names the moved file {q.group(2)} "
                     f"(now {self.moved_files[q.group(2)]}): {line.strip()}")


# ---------------------------------------------------------------------------- main

def plan(clean=True):
    status = git("status", "--porcelain")
    if status.strip():
        if clean:
            raise LayoutError(f"the work tree is not clean; commit or stash first:\n{status}")
        warn(f"the work tree is not clean (--apply will refuse):\n{status}")
    kind, files = state()
    if kind == "applied":
        return None
    check_known(files)
    header, flags = parse_meson((ROOT / PKG / "meson.build").read_text(), files)
    meson = new_meson(header, flags, files)
    rw = Rewriter(files)
    edits = {}
    for path in tracked():
        if not path.startswith(SCOPE) or path.startswith(SKIP):
            continue
        if Path(path).suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        new = rw.rewrite(path, text)
        if path.endswith(".py") and new != text:
            try:
                ast.parse(text)
            except SyntaxError:
                pass
            else:
                try:
                    ast.parse(new)
                except SyntaxError as exc:
                    raise LayoutError(f"{path}: the rewrite would not parse ({exc}); "
                                      "fix the rule or the file") from None
        rw.leftovers(path, new)
        if new != text:
            edits[path] = new
    return rw, meson, edits


def apply(rw, meson, edits):
    for folder, doc in FOLDERS.items():
        (ROOT / PKG / folder).mkdir()
        (ROOT / PKG / folder / "__init__.py").write_text(f'"""{doc}"""\n')
    for old, new in sorted(rw.moved_files.items()):
        git("mv", f"{PKG}/{old}", f"{PKG}/{new}")
    for path, text in edits.items():
        old_rel = path[len(PKG) + 1:] if path.startswith(PKG + "/") else None
        target = f"{PKG}/{rw.moved_files[old_rel]}" if old_rel in rw.moved_files else path
        (ROOT / target).write_text(text, encoding="utf-8")
    for rel, text in meson.items():
        (ROOT / PKG / rel).write_text(text)
    git("add", "-A", "--", *SCOPE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apply", action="store_true",
                        help="make the move (default: print the plan only)")
    parser.add_argument("--diff", action="store_true",
                        help="also print the rewrites as a unified diff (old paths)")
    args = parser.parse_args(argv)
    try:
        result = plan(clean=args.apply)
    except LayoutError as exc:
        print(f"relayout: error: {exc}", file=sys.stderr)
        return 1
    if result is None:
        print(f"relayout: the layout is already applied ({', '.join(FOLDERS)} in {PKG}/); "
              "nothing to do")
        return 0
    rw, meson, edits = result
    print(f"relayout: {len(rw.moved_files)} files move, {len(edits)} files change, "
          f"{len(meson)} meson.build files written")
    for folder in FOLDERS:
        files = sorted(f for f, d in LAYOUT.items() if d == folder and f in rw.moved_files)
        print(f"  {folder}/: {' '.join(files)}")
    for path in sorted(edits):
        print(f"  rewrite {path}")
    if args.diff:
        import difflib
        for path in sorted(edits):
            old = (ROOT / path).read_text(encoding="utf-8").splitlines(keepends=True)
            sys.stdout.writelines(difflib.unified_diff(old, edits[path].splitlines(keepends=True),
                                                       f"a/{path}", f"b/{path}", n=0))
        for rel, text in meson.items():
            print(f"=== {PKG}/{rel}\n{text}")
    for message in WARNINGS:
        print(f"relayout: check by hand: {message}")
    if not args.apply:
        print("relayout: dry run; --apply makes the move")
        return 0
    apply(rw, meson, edits)
    print("relayout: done and staged; review `git diff --cached --stat`, run the tests, commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
