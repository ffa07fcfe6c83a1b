"""Netflix-format parse: lorank.datasets.load_netflix against the best
pandas-based loader, on the same file written by ``write_netflix_format``.

    python bench/run.py parse [--size small|full] [--threads 2]

The file (100M lines at full size, 1M at small) is made once from
``synthetic(...)`` with the Netflix shape and kept in a temporary folder
(``$TMPDIR/lorank-bench-parse-SIZE``) for later runs. Each loader runs in a
fresh subprocess that reports its wall time and peak RSS
(``ru_maxrss``: interpreter, imports, file bytes and results).

Rows:
- ``lorank parse``: the compiled parser to (movie, customer, rating) arrays.
- ``lorank load_netflix``: the same plus the labelled ``Ratings`` (CSR + CSC),
  with the dates (``Ratings.times``, its default).
- ``lorank load_netflix(times=False)``: without the dates: the same CSR + CSC
  as ``pandas + factorize + scipy``.
- ``pandas read_csv``: ``read_csv(engine="c")`` reading customer and rating
  only, with ``thousands=":"`` so a ``MovieID:`` line parses as an integer in
  the customer column (its rating is NaN); the movie of each line is then
  forward-filled with numpy. Same arrays as ``lorank parse``. (The pyarrow
  engine cannot keep the one-field ``MovieID:`` lines.)
- ``pandas + factorize + scipy``: the same arrays, ``pd.factorize(sort=True)``
  of customers and movies (the same sorted labels), scipy COO -> CSR -> CSC:
  the same CSR + CSC as ``load_netflix(times=False)``, all from pandas and scipy.

Each file layout of ``IDS`` is measured; every loader runs once per round,
``REPEATS`` rounds, min and median reported, with the CPU seconds of the child.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"small": 1_000_000, "full": 100_000_000}
LOADERS = ("lorank parse", "lorank load_netflix", "lorank load_netflix(times=False)",
           "pandas read_csv", "pandas + factorize + scipy")
REPEATS = 2

NOTES = """
Speedup = pandas seconds / lorank seconds for the same output (arrays, or
labels + CSR + CSC), best of the rounds. Each run is one fresh process (the
machine is shared: see the load average of each run); the file is in the page
cache for every run (it was just written or read).
"""


def parameters(size):
    from _common import netflix_like

    m, n, nnz = netflix_like(SIZES[size])
    return {"lines": nnz, "users": m, "movies": n, "layout": "combined (one file)",
            "dtype": "float32", "generator": "synthetic(random_state=0)"}


#: Customer ids of the written file. "dense": row index + 1 (the writer's
#: default), so customers are in increasing order within each movie. "netflix":
#: as the real files, ids drawn from 1..2649429 in random order to the rows,
#: so within a movie they are out of order (the first sort cannot be skipped).
IDS = ("dense", "netflix")


def data_folder(size, ids="dense"):
    """The folder holding combined_data_1.txt for ``size``, written if missing."""
    suffix = "" if ids == "dense" else f"-{ids}"
    folder = Path(tempfile.gettempdir()) / f"lorank-bench-parse-{size}{suffix}"
    done = folder / "complete"
    if not done.exists():
        import numpy as np
        from _common import netflix_like

        from lorank.datasets import synthetic, write_netflix_format

        folder.mkdir(parents=True, exist_ok=True)
        m, n, nnz = netflix_like(SIZES[size])
        R, _ = synthetic(m, n, nnz, random_state=0)
        if ids == "netflix":
            rng = np.random.default_rng(1)
            labels = rng.permutation(rng.choice(2_649_429, m, replace=False) + 1)
            R = R._with_labels(labels, None)
        t = time.perf_counter()
        write_netflix_format(R, folder)
        print(f"wrote {folder / 'combined_data_1.txt'} in {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
        del R
        done.write_text("ok\n")
    return folder


def _pandas_arrays(path):
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path, header=None, names=["customer", "rating", "date"],
                     usecols=["customer", "rating"], thousands=":", engine="c",
                     dtype={"customer": np.int32, "rating": np.float32})
    customer = df["customer"].to_numpy()
    rating = df["rating"].to_numpy()
    del df
    header = np.isnan(rating)
    # each line's movie: the customer field of the last MovieID: line at or before it
    last = np.maximum.accumulate(np.where(header, np.arange(len(header)), 0))
    movie = customer[last]
    keep = ~header
    return movie[keep], customer[keep], rating[keep]


def _child(name, folder, threads):
    import resource

    import numpy as np

    from lorank.datasets import load_netflix
    from lorank.data.loaders import parse_netflix

    def cpu_s():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    path = Path(folder) / "combined_data_1.txt"
    c, t = cpu_s(), time.perf_counter()
    if name == "lorank parse":
        movie, user, rating = parse_netflix([path], n_threads=threads)
        n = len(rating)
    elif name == "lorank load_netflix":
        R, _ = load_netflix(folder, n_threads=threads)
        n = R.nnz
    elif name == "lorank load_netflix(times=False)":
        R, _ = load_netflix(folder, n_threads=threads, times=False)
        n = R.nnz
    elif name == "pandas read_csv":
        movie, user, rating = _pandas_arrays(path)
        n = len(rating)
    else:
        import pandas as pd
        import scipy.sparse as sp

        movie, user, rating = _pandas_arrays(path)
        rows, users = pd.factorize(user, sort=True)
        cols, movies = pd.factorize(movie, sort=True)
        csr = sp.coo_matrix((rating, (rows, cols)), shape=(len(users), len(movies))).tocsr()
        n = csr.tocsc().nnz
    seconds, cpu = time.perf_counter() - t, cpu_s() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check = None
    if name in ("lorank parse", "pandas read_csv"):
        check = float(np.dot(movie.astype(np.float64), rating) + user.astype(np.float64).sum())
    return {"loader": name, "seconds": seconds, "cpu_s": cpu, "ratings": n,
            "peak_rss_mb": round(rss), "checksum": check, "load1": os.getloadavg()[0]}


def _one(name, folder, threads):
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", name, str(folder),
         str(threads)],
        check=True, capture_output=True, text=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {Path(folder).name}: {name}: {got['seconds']:.1f} s, cpu {got['cpu_s']:.1f} s, "
          f"load {got['load1']:.1f}", file=sys.stderr, flush=True)
    return got


def run(size="small", threads=2, ids=IDS):
    import numpy as np
    import pandas

    import lorank

    base = {"lorank parse": "pandas read_csv",
            "lorank load_netflix": "pandas + factorize + scipy",
            "lorank load_netflix(times=False)": "pandas + factorize + scipy"}
    out = []
    for layout in ids:
        folder = data_folder(size, layout)
        nbytes = (folder / "combined_data_1.txt").stat().st_size
        got = {name: [] for name in LOADERS}
        for _ in range(REPEATS):
            for name in LOADERS:
                got[name].append(_one(name, folder, threads))
        if got["lorank parse"][0]["checksum"] != got["pandas read_csv"][0]["checksum"]:
            raise AssertionError("lorank and pandas parsed different arrays")
        best = {k: min(r["seconds"] for r in v) for k, v in got.items()}
        best_cpu = {k: min(r["cpu_s"] for r in v) for k, v in got.items()}
        for name, res in got.items():
            ref = base.get(name)
            sec = [r["seconds"] for r in res]
            out.append({
                "ids": layout, "loader": name, "lines": res[0]["ratings"],
                "file_mb": round(nbytes / 2**20),
                "threads": threads if name.startswith("lorank") else 1,
                "min_s": round(min(sec), 2), "median_s": round(float(np.median(sec)), 2),
                "min_cpu_s": round(best_cpu[name], 2),
                "MB_per_s": round(nbytes / 2**20 / min(sec)),
                "speedup_vs_pandas": round(best[ref] / best[name], 1) if ref else None,
                "cpu_speedup": round(best_cpu[ref] / best_cpu[name], 1) if ref else None,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in res),
                "load1": "/".join(f"{r['load1']:.1f}" for r in res),
                "versions": f"lorank {lorank.__version__}, pandas {pandas.__version__}",
            })
    return out


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        sys.exit()
    sys.path.insert(0, str(HERE))
    import _common

    size = sys.argv[1] if len(sys.argv) > 1 else "small"
    print(_common.format_table(run(size, 2)))
