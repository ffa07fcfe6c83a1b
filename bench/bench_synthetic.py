"""Benchmark of lorank.datasets.synthetic: time, peak memory and the shape of
the data (row/column count statistics, rating histogram) against the Netflix
Prize training set it imitates.

Each measurement runs in a fresh subprocess so its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) covers the whole process:
interpreter, imports, the generator and the returned Ratings (CSR + CSC).

    python bench/bench_synthetic.py --size small full --threads 2

``run(size, threads)`` returns the rows for ``bench/run.py``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

# name: (n_rows, n_cols, nnz); "small" is 1/100 of the users and ratings.
SIZES = {
    "small": (4_802, 17_770, 1_004_805),
    "medium": (48_019, 17_770, 10_048_051),
    "full": (480_189, 17_770, 100_480_507),
}
NETFLIX = {
    "row_median": 96, "row_mean": 209.3, "row_max": 17_653,
    "col_min": 3, "col_median": 561, "col_max": 232_944,
    "mean": 3.60, "std": 1.085, "hist": [0.046, 0.101, 0.287, 0.336, 0.231],
}


def _child(size, threads):
    import resource
    import time

    import numpy as np
    from threadpoolctl import threadpool_info

    import lorank
    from lorank.datasets import _generate
    from lorank.data.ratings import Ratings

    n_rows, n_cols, nnz = SIZES[size]
    kw = dict(rank=10, noise=0.5, biases=True, popularity="zipf", scale=(1, 5),
              random_state=0, dtype=np.float32, n_threads=threads)
    # the two steps of synthetic(): sample CSR arrays, then wrap them in a Ratings
    t0 = time.perf_counter()
    indptr, indices, values, floor, _ = _generate(n_rows, n_cols, nnz, **kw)
    t1 = time.perf_counter()
    R = Ratings.from_csr(indptr, indices, values, (n_rows, n_cols))
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    del indptr, indices, values
    rc, cc = R.row_counts, R.col_counts
    v = R.csr.values
    hist = [int(np.count_nonzero(v == k)) / R.nnz for k in range(1, 6)]
    mean = float(v.mean(dtype=np.float64))
    std = float(np.sqrt(float(np.square(v, dtype=np.float64).mean()) - mean**2))
    return {
        "bench": "synthetic", "size": size, "shape": f"{n_rows}x{n_cols}", "nnz": nnz,
        "threads": threads, "dtype": "float32", "cores": os.cpu_count(),
        "seconds": round(t2 - t0, 2), "sample_s": round(t1 - t0, 2),
        "ratings_s": round(t2 - t1, 2), "peak_rss_mb": round(rss),
        "noise_floor": round(floor, 4),
        "row_median": float(np.median(rc)), "row_mean": round(float(rc.mean()), 1),
        "row_max": int(rc.max()), "row_min": int(rc.min()),
        "col_min": int(cc.min()), "col_median": float(np.median(cc)),
        "col_max": int(cc.max()), "cols_under_100": int((cc < 100).sum()),
        "mean": round(mean, 3), "std": round(std, 3),
        "hist": [round(h, 4) for h in hist],
        "lorank": lorank.__version__, "openmp": lorank.openmp_enabled(),
        "blas": ";".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} thr)"
                         for i in threadpool_info() if i["user_api"] == "blas"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }


def run(size="small", threads=2):
    """Generate one size in a fresh subprocess; returns a list with one row dict."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", size, str(threads)],
        check=True, capture_output=True, text=True,
    )
    return [json.loads(out.stdout.strip().splitlines()[-1])]


def _table(rows):
    cols = ["size", "shape", "nnz", "threads", "seconds", "sample_s", "ratings_s",
            "peak_rss_mb", "noise_floor", "row_median", "row_mean", "row_max",
            "col_min", "col_median", "col_max", "cols_under_100", "mean", "std", "hist"]
    ref = {"size": "Netflix", **NETFLIX}
    lines = [cols] + [[str(r.get(c, "")) for c in cols] for r in rows + [ref]]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(cols))]
    return "\n".join("  ".join(str(x).rjust(w) for x, w in zip(line, widths)) for line in lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]))))
        sys.exit()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs="+", default=["small", "full"], choices=sorted(SIZES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = [row for size in args.size for row in run(size, args.threads)]
    first = rows[0]
    print(f"lorank {first['lorank']}, {first['machine']}, OpenMP {first['openmp']}, "
          f"BLAS {first['blas']}, float32, rank 10, noise 0.5, scale 1..5, zipf")
    print(_table(rows))
