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
- ``lorank load_netflix(times=False)``: without the dates: the same output as
  ``pandas + Ratings``.
- ``pandas read_csv``: ``read_csv(engine="c")`` reading customer and rating
  only, with ``thousands=":"`` so a ``MovieID:`` line parses as an integer in
  the customer column (its rating is NaN); the movie of each line is then
  forward-filled with numpy. Same arrays as ``lorank parse``. (The pyarrow
  engine cannot keep the one-field ``MovieID:`` lines.)
- ``pandas + Ratings``: the same arrays turned into the same ``Ratings``.
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
           "pandas read_csv", "pandas + Ratings")

NOTES = """
Speedup = pandas read_csv seconds / lorank seconds for the same output (arrays,
or arrays + Ratings). Each row is one fresh process, run once (the machine is
shared: see the load average); the file is in the page cache for every row
(it was just written or read).
"""


def parameters(size):
    from _common import netflix_like

    m, n, nnz = netflix_like(SIZES[size])
    return {"lines": nnz, "users": m, "movies": n, "layout": "combined (one file)",
            "dtype": "float32", "generator": "synthetic(random_state=0)"}


def data_folder(size):
    """The folder holding combined_data_1.txt for ``size``, written if missing."""
    folder = Path(tempfile.gettempdir()) / f"lorank-bench-parse-{size}"
    done = folder / "complete"
    if not done.exists():
        from _common import netflix_like

        from lorank.datasets import synthetic, write_netflix_format

        folder.mkdir(parents=True, exist_ok=True)
        m, n, nnz = netflix_like(SIZES[size])
        R, _ = synthetic(m, n, nnz, random_state=0)
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

    from lorank import Ratings
    from lorank.datasets import load_netflix
    from lorank.data.loaders import parse_netflix

    path = Path(folder) / "combined_data_1.txt"
    t = time.perf_counter()
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
        movie, user, rating = _pandas_arrays(path)
        R = Ratings.from_labels(user, movie, rating)
        n = R.nnz
    seconds = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check = None
    if name in ("lorank parse", "pandas read_csv"):
        check = float(np.dot(movie.astype(np.float64), rating) + user.astype(np.float64).sum())
    return {"loader": name, "seconds": round(seconds, 2), "ratings": n,
            "peak_rss_mb": round(rss), "checksum": check}


def run(size="small", threads=2):
    import pandas

    import lorank

    folder = data_folder(size)
    nbytes = (folder / "combined_data_1.txt").stat().st_size
    rows = []
    for name in LOADERS:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", name, str(folder),
             str(threads)],
            check=True, capture_output=True, text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["process_s"] = round(time.perf_counter() - t, 2)
        rows.append(row)
    by = {r["loader"]: r for r in rows}
    if by["lorank parse"]["checksum"] != by["pandas read_csv"]["checksum"]:
        raise AssertionError("lorank and pandas parsed different arrays")
    base = {"lorank parse": "pandas read_csv", "lorank load_netflix": "pandas + Ratings",
            "lorank load_netflix(times=False)": "pandas + Ratings"}
    out = []
    for r in rows:
        ref = base.get(r["loader"])
        out.append({
            "loader": r["loader"], "lines": r["ratings"], "file_mb": round(nbytes / 2**20),
            "threads": threads if r["loader"].startswith("lorank") else 1,
            "seconds": r["seconds"], "process_s": r["process_s"],
            "MB_per_s": round(nbytes / 2**20 / r["seconds"]),
            "speedup_vs_pandas": round(by[ref]["seconds"] / r["seconds"], 1) if ref else None,
            "peak_rss_mb": r["peak_rss_mb"],
            "load1": round(os.getloadavg()[0], 2),
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
