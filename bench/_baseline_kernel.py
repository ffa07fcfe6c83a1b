"""Build the ``_als`` kernel of another git revision as a stand-alone module, so a
benchmark can time it side by side with the installed one in the same process.

``load(rev)`` compiles ``src/lorank/_kernels/_als.pyx`` (with its headers) of ``rev`` into
``build/bench-baseline/<rev>/`` (git-ignored) as module ``_als_baseline`` with the flags the
meson build uses (-O3, OpenMP, the project's Cython directives), once per revision,
and imports it.
"""

import hashlib
import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench-baseline"
SOURCES = ("_als.pyx", "_als_gram.h", "_simd.pxi", "_random.h")
DIRECTIVES = ["language_level=3", "boundscheck=False", "wraparound=False",
              "initializedcheck=False", "cdivision=True"]


def _git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True,
                          capture_output=True, text=True).stdout


def load(rev="main", flags=()):
    """The ``_als`` module of git revision ``rev``, compiled (with the extra C
    ``flags``, e.g. ``["-ffp-contract=fast", "-DLORANK_LOCALITY=0"]``) and imported."""
    commit = _git("rev-parse", rev).strip()
    flags = list(flags)
    tag = commit[:12] + ("-" + hashlib.sha256(" ".join(flags).encode()).hexdigest()[:8]
                         if flags else "")
    out = CACHE / tag
    so = out / ("_als_baseline" + sysconfig.get_config_var("EXT_SUFFIX"))
    if not so.exists():
        out.mkdir(parents=True, exist_ok=True)
        for name in SOURCES:
            # src/lorank/_kernels/ since the layered layout, src/lorank/ before it
            for folder in ("src/lorank/_kernels", "src/lorank"):
                try:
                    text = _git("show", f"{commit}:{folder}/{name}")
                    break
                except subprocess.CalledProcessError:
                    text = None
            if text is None:
                continue  # not in that revision
            target = out / ("_als_baseline.pyx" if name == "_als.pyx" else name)
            target.write_text(text)
        cmd = [sys.executable, "-m", "cython", "-3"]
        for d in DIRECTIVES:
            cmd += ["-X", d]
        subprocess.run(cmd + [str(out / "_als_baseline.pyx")], check=True)
        include = sysconfig.get_paths()["include"]
        subprocess.run(["cc", "-O3", "-std=c11", "-fPIC", "-fopenmp", "-shared", "-DNDEBUG",
                        "-Wno-unused-function", *flags, f"-I{include}", f"-I{out}",
                        str(out / "_als_baseline.c"), "-o", str(so)], check=True)
    spec = importlib.util.spec_from_file_location("_als_baseline", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.REVISION = commit
    module.FLAGS = flags
    return module


def source_digest(module_file):
    """A short digest of a compiled module, to tell builds apart in a record."""
    return hashlib.sha256(Path(module_file).read_bytes()).hexdigest()[:12]
