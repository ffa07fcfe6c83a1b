"""What every benchmark shares: machine facts, timing, the table and the JSON record.

A benchmark is a module ``bench/bench_NAME.py`` exposing

- ``run(size, threads) -> list[dict]``: one dict per measured row (same keys in
  every row; put ``dtype``, sizes, ``threads`` and times in them);
- optionally ``parameters(size) -> dict``: sizes and settings recorded once;
- optionally ``NOTES``: a string printed under the table and stored in the JSON.

``bench/run.py NAME`` imports it, runs it with BLAS limited to ``threads`` (so
every library gets the same cores), prints the table and writes
``bench/results/NAME.json`` with :func:`machine_facts`.
"""

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn, repeat=1):
    """Run ``fn()`` ``repeat`` times; return (fastest wall time in seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def load1():
    """The 1-minute load average: how busy the shared machine was."""
    return round(os.getloadavg()[0], 2)


# The Netflix Prize training set: users x movies, ratings.
NETFLIX_SHAPE = (480_189, 17_770, 100_480_507)


def netflix_like(nnz):
    """(n_rows, n_cols, nnz): the Netflix shape scaled to ``nnz`` ratings at the
    same density (both sides by sqrt(nnz / 100M)); 100M gives the real size."""
    m, n, full = NETFLIX_SHAPE
    if nnz == 100_000_000:
        return m, n, full
    s = (nnz / 100_000_000) ** 0.5
    return round(m * s), round(n * s), nnz


# MovieLens 100K (user, item, rating, time), where the benchmarks read it.
ML100K = "/work/shared/data/ml-100k/u.data"


def fitted_half_steps(R, threads, max_iter):
    """The ``_als.half_step`` calls (args, kwargs) of ``ALS(10, max_iter=max_iter)`` on
    R, in order: the last two are a fitted point's items then users half-steps, to
    time again."""
    import lorank
    from lorank._kernels import _als

    calls = []
    kernel = _als.half_step

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return kernel(*args, **kwargs)

    _als.half_step = spy
    try:
        lorank.ALS(10, max_iter=max_iter, tol=0, n_threads=threads, random_state=0).fit(R)
    finally:
        _als.half_step = kernel
    return calls


def peak_mb():
    """This process's peak resident set so far, in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def ml100k_tensor(bins):
    """(R, T): MovieLens 100K as float32 ``Ratings`` with its times, and as the
    user x item x bin ``TensorRatings`` of ``bins`` equal-count time bins."""
    import numpy as np

    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    R = lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32),
                                   times=data[:, 3])
    return R, R.to_tensor(bins, strategy="count")


def drift_split(nnz, bins, threads):
    """``datasets.synthetic_drift`` at :func:`netflix_like` ``(nnz)``, binned into
    ``bins`` equal-count time bins, split 90/10 at random: ``((m, n, nnz), train,
    test, noise floor)`` (the ratings and the whole tensor are freed on the way)."""
    import lorank

    m, n, nnz = netflix_like(nnz)
    R, floor = lorank.datasets.synthetic_drift(m, n, nnz, n_threads=threads)
    T = R.to_tensor(bins, strategy="count")
    del R
    train, test = T.split(0.1, random_state=0)
    return (m, n, nnz), train, test, floor


def user_item(T):
    """The user x item ``Ratings`` of a user x item x bin tensor (pairs are distinct)."""
    from lorank import Ratings

    idx, values = T.coo()
    return Ratings(idx[0], idx[1], values, T.shape[:2])


def run_parts(script, parts, size, threads):
    """The rows of every part of ``script``, each run in a fresh subprocess
    (``python script --child PART SIZE THREADS``, see :func:`child_main`); each
    part's rows are echoed to stderr as they come, so they are kept if a later
    part dies."""
    import subprocess

    rows = []
    for part in parts:
        out = subprocess.run([sys.executable, os.path.abspath(script), "--child", part, size,
                              str(threads)], check=True, capture_output=True, text=True)
        part_rows = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(part_rows), file=sys.stderr, flush=True)
        rows += part_rows
    return rows


def child_main(parts, name):
    """A benchmark script's ``__main__``: ``--child PART SIZE THREADS [ARG ...]``
    prints ``parts[PART](SIZE, THREADS, ARG ...)`` as JSON (what :func:`run_parts`
    reads); any other call says to run it through ``bench/run.py``."""
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        print(json.dumps(parts[sys.argv[2]](sys.argv[3], int(sys.argv[4]), *sys.argv[5:])))
        sys.exit()
    sys.exit(f"run it through bench/run.py: python bench/run.py {name} [--size small]")


def epoch_seconds(model):
    """(fastest, median) seconds per iteration of a fitted lorank ALS, from its
    history: the fastest is the least disturbed by other work on the machine."""
    import numpy as np

    s = model.history_["seconds"]
    return float(min(s)), float(np.median(s))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:  # not installed, or no __version__
        return None


def machine_facts(threads):
    """Facts that make a timing interpretable: cores, CPU, BLAS and its threads,
    library versions, OpenMP, the thread count used and the date."""
    import threadpoolctl

    import lorank

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    pools = [
        {k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                  "threading_layer", "architecture", "filepath")}
        for info in threadpoolctl.threadpool_info()
    ]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": affinity,
        "threads": threads,
        # Other processes share the machine: their load explains noisy timings.
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "openmp_enabled": bool(lorank.openmp_enabled()),
        "threadpools": pools,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in ("lorank", "numpy", "scipy", "sklearn", "threadpoolctl", "implicit", "pandas")
        },
    }


def _fmt(value):
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}" if abs(value) < 1 else f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.2e}"
    return "" if value is None else str(value)


def format_table(rows):
    """A plain-text table; columns in first-seen order across rows."""
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.rjust(w) for c, w in zip(columns, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def summary(facts):
    """One line saying where the numbers come from."""
    blas = ", ".join(
        f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)"
        for p in facts["threadpools"] if p["user_api"] == "blas"
    )
    omp = "on" if facts["openmp_enabled"] else "OFF"
    return (
        f"{facts['cpu_model']}, {facts['usable_cores']} usable of {facts['cpu_count']} cores; "
        f"threads={facts['threads']}; load {facts['load_average_1_5_15min'][0]}; "
        f"OpenMP {omp}; BLAS: {blas or 'none loaded'}; "
        f"numpy {facts['versions']['numpy']}, scipy {facts['versions']['scipy']}, "
        f"lorank {facts['versions']['lorank']}, python {facts['python']}"
    )


def write_record(name, size, facts, parameters, rows, notes=""):
    """Write ``bench/results/NAME.json`` (or ``NAME-small.json``) and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / (f"{name}.json" if size == "full" else f"{name}-{size}.json")
    record = {"benchmark": name, "size": size, "machine": facts,
              "parameters": parameters, "notes": notes, "rows": rows}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    tmp.replace(path)
    return path


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
