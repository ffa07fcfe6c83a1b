"""Building ``lorank.Ratings`` (CSR + CSC) vs scipy, side by side.

    python bench/run.py ratings [--size small|full]   # 1M, or 10M and 100M
    python bench/bench_ratings.py [nnz ...]           # default: 10M and 100M

Netflix shape (480189 x 17770), int32 indices, float32 values, random triples
in random order (about 0.6% repeated pairs at 100M: lorank averages them with
``duplicates="mean"``, scipy sums them; both pay for duplicate handling).
Methods, each in a fresh subprocess (so peak RSS is its own), run in rounds
(every method once per round, ``REPEATS`` rounds) and reported as the min and
median over rounds:

- ``lorank Ratings(rows, cols)``: COO indices -> CSR + CSC.
- ``scipy coo.tocsr().tocsc()``: the same from scipy (serial).
- ``lorank from_labels``: labelled ids (customer ids spread over 1..2649429
  as in the Netflix files, movie ids 1..17770) -> labels + CSR + CSC.
- ``pandas factorize + scipy``: ``pd.factorize(sort=True)`` of both id
  columns (the same sorted labels), then scipy's COO -> CSR -> CSC.
- ``numpy copy``: one copy of the three input arrays (12 bytes a rating,
  read and written): the memory-bandwidth yardstick of the same run.

``cpu_s`` counts the CPU seconds of all threads: on a shared machine the wall
time says more about the other processes than about the build. ``extra_mb``
is the peak RSS minus the RSS before the build; the floor is one CSR and one
CSC (8 bytes a rating each).
"""

import json
import os
import platform
import subprocess
import sys

import numpy as np

SHAPE = (480_189, 17_770)
SIZES = {"small": [1_000_000], "full": [10_000_000, 100_000_000]}
REPEATS = 3
METHODS = ("lorank Ratings(rows, cols)", "scipy coo.tocsr().tocsc()", "lorank from_labels",
           "pandas factorize + scipy", "numpy copy")
NOTES = __doc__[__doc__.index("Methods,"):].strip()

_CHILD = r"""
import json, os, resource, sys, time
method, nnz, m, n = sys.argv[1], *map(int, sys.argv[2:5])
import numpy as np
import scipy.sparse as sp
import lorank
def current_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
def cpu_s():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
rng = np.random.default_rng(0)
rows = rng.integers(0, m, nnz, dtype=np.int32)
cols = rng.integers(0, n, nnz, dtype=np.int32)
values = (rng.integers(1, 6, nnz) + rng.random(nnz)).astype(np.float32)
if method in ("lorank from_labels", "pandas factorize + scipy"):
    ids = np.sort(rng.choice(2_649_429, m, replace=False) + 1).astype(np.int32)
    rows, cols = ids[rows], cols + 1
    import pandas as pd
def build(rows, cols, values):
    if method == "lorank Ratings(rows, cols)":
        return lorank.Ratings(rows, cols, values, (m, n), duplicates="mean").nnz
    if method == "scipy coo.tocsr().tocsc()":
        csr = sp.coo_matrix((values, (rows, cols)), shape=(m, n)).tocsr()
        return csr.tocsc().nnz
    if method == "lorank from_labels":
        return lorank.Ratings.from_labels(rows, cols, values, duplicates="mean").nnz
    if method == "pandas factorize + scipy":
        r, users = pd.factorize(rows, sort=True)
        c, items = pd.factorize(cols, sort=True)
        csr = sp.coo_matrix((values, (r, c)), shape=(len(users), len(items))).tocsr()
        return csr.tocsc().nnz
    out = [np.empty_like(a) for a in (rows, cols, values)]
    for a, b in zip((rows, cols, values), out):
        np.copyto(b, a)
    return len(out[0])
build(rows[:1000], cols[:1000], values[:1000])  # imports and extension loading
base = current_mb()
c0, t0 = cpu_s(), time.perf_counter()
out_nnz = build(rows, cols, values)
seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "extra_mb": peak - base,
                  "out_nnz": out_nnz, "load1": os.getloadavg()[0]}))
"""


def _measure(method, nnz):
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, method, str(nnz), str(SHAPE[0]), str(SHAPE[1])],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def parameters(size):
    return {"shape": f"{SHAPE[0]}x{SHAPE[1]}", "nnz": SIZES[size], "dtype": "float32/int32",
            "repeats": REPEATS, "input": "random triples, random order"}


def run(size="full", threads=None):
    """Rows of measurements: every method in each of REPEATS rounds, per size."""
    from lorank._threads import effective_n_threads

    threads = effective_n_threads(threads)
    rows = []
    for nnz in SIZES.get(size, [size]) if isinstance(size, str) else [int(size)]:
        got = {m: [] for m in METHODS}
        for _ in range(REPEATS):
            for method in METHODS:
                got[method].append(_measure(method, nnz))
        ref = {k: min(r["seconds"] for r in got[k]) for k in METHODS}
        for method, res in got.items():
            sec = [r["seconds"] for r in res]
            cpu = [r["cpu_s"] for r in res]
            base = ("scipy coo.tocsr().tocsc()" if method.startswith("lorank Ratings")
                    else "pandas factorize + scipy" if method == "lorank from_labels" else None)
            rows.append({
                "method": method, "nnz_in": nnz, "nnz_out": res[0]["out_nnz"],
                "threads": 1 if "scipy" in method or "numpy" in method else threads,
                "min_s": round(min(sec), 3), "median_s": round(float(np.median(sec)), 3),
                "max_s": round(max(sec), 3),
                "min_cpu_s": round(min(cpu), 3), "median_cpu_s": round(float(np.median(cpu)), 3),
                "speedup": round(ref[base] / min(sec), 2) if base else None,
                "cpu_speedup": round(min(r["cpu_s"] for r in got[base]) / min(cpu), 2)
                if base else None,
                "extra_mb": round(max(r["extra_mb"] for r in res)),
                "floor_mb": round(2 * nnz * 8 / 2**20),
                "load1": "/".join(f"{r['load1']:.1f}" for r in res),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            })
    return rows


def main(argv):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common

    sizes = [int(float(a)) for a in argv] or SIZES["full"]
    rows = [r for nnz in sizes for r in run(nnz)]
    print(_common.format_table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
