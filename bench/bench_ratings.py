"""Building ``lorank.Ratings`` from random COO triples vs scipy's COO -> CSR -> CSC.

Each measurement runs in a fresh subprocess so that peak RSS (``ru_maxrss``) is
its own: the subprocess generates the triples (int32 rows/cols, float32 values,
Netflix shape 480189 x 17770), records its current RSS, builds, and reports
seconds and the RSS high-water mark (``build_extra_mb`` = high-water mark minus
the RSS before the build). Random triples contain repeated
(row, col) pairs (about 0.6% at 100M), so lorank resolves them with
``duplicates="mean"`` while scipy sums them: both pay for duplicate handling.

The memory floor of either method is the input plus one CSR and one CSC
(4 + 4 bytes per entry each, in float32/int32): that is reported as ``floor``.

    python bench/bench_ratings.py [nnz ...]      # default: 10M and 100M

Each ``run`` measures scipy again beside lorank (its pinned core count
changes nothing for scipy, so the two scipy rows show the run-to-run noise).
"""

import json
import platform
import subprocess
import sys

SHAPE = (480_189, 17_770)
# "full" is the runner's recorded size (bench/run.py --size full).
SIZES = {"small": 1_000_000, "medium": 10_000_000, "large": 100_000_000, "full": 100_000_000}

_CHILD = r"""
import json, os, resource, sys, time
method, nnz, m, n, threads = sys.argv[1], *map(int, sys.argv[2:6])
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])  # lorank uses usable cores
import numpy as np
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
import scipy.sparse as sp
import lorank
rng = np.random.default_rng(0)
rows = rng.integers(0, m, nnz, dtype=np.int32)
cols = rng.integers(0, n, nnz, dtype=np.int32)
values = rng.random(nnz, dtype=np.float32) * 4 + 1
# Warm up code paths (imports, extension loading) on a tiny input.
lorank.Ratings(rows[:1000], cols[:1000], values[:1000], (m, n), duplicates="mean")
sp.coo_matrix((values[:1000], (rows[:1000], cols[:1000])), shape=(m, n)).tocsr().tocsc()
base = current_rss_mb()
def cpu_s():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
c0 = cpu_s()
t0 = time.perf_counter()
if method == "lorank":
    R = lorank.Ratings(rows, cols, values, (m, n), duplicates="mean")
    out_nnz = R.nnz
elif method == "scipy":
    csr = sp.coo_matrix((values, (rows, cols)), shape=(m, n)).tocsr()
    csc = csr.tocsc()
    out_nnz = csr.nnz
seconds = time.perf_counter() - t0
cpu = cpu_s() - c0
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "base_mb": base, "peak_mb": rss_mb(),
                  "out_nnz": out_nnz, "load1": os.getloadavg()[0]}))
"""


def _measure(method, nnz, threads):
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, method, str(nnz), str(SHAPE[0]), str(SHAPE[1]),
         str(threads)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _blas():
    try:
        import numpy  # noqa: F401  (loads its BLAS so threadpoolctl can see it)
        from threadpoolctl import threadpool_info
        return ", ".join(sorted({f"{i['internal_api']} {i['version']}" for i in threadpool_info()}))
    except Exception:  # pragma: no cover - informational only
        return "unknown"


def run(size="medium", threads=None):
    """Rows of measurements for one size ("small", "medium", "large" or an nnz).

    Each subprocess is pinned to ``threads`` cores (None = all usable); lorank's
    counting sorts use one chunk per core, scipy's conversion is serial.
    """
    from lorank._threads import effective_n_threads

    threads = effective_n_threads(threads)
    nnz = SIZES.get(size, size) if isinstance(size, str) else int(size)
    rows = []
    results = {m: _measure(m, nnz, threads) for m in ("scipy", "lorank")}
    floor_mb = (2 * nnz * (4 + 4)) / 2**20
    for method, res in results.items():
        rows.append({
            "bench": "ratings_build",
            "method": "lorank.Ratings(duplicates='mean')" if method == "lorank"
            else "scipy coo.tocsr() + csr.tocsc()",
            "nnz_in": nnz,
            "nnz_out": res["out_nnz"],
            "shape": f"{SHAPE[0]}x{SHAPE[1]}",
            "dtype": "float32/int32",
            "threads": threads if method == "lorank" else 1,
            "seconds": round(res["seconds"], 3),
            # CPU seconds of all threads: on a shared, overloaded machine the
            # wall time says more about the other processes than about the build.
            "cpu_s": round(res["cpu_s"], 3),
            "cpu_vs_scipy": round(res["cpu_s"] / results["scipy"]["cpu_s"], 3),
            "load1": round(res["load1"], 2),
            "peak_rss_mb": round(res["peak_mb"]),
            "build_extra_mb": round(res["peak_mb"] - res["base_mb"]),
            "floor_extra_mb": round(floor_mb),
            "time_vs_scipy": round(res["seconds"] / results["scipy"]["seconds"], 3),
            "extra_mem_vs_scipy": round(
                (res["peak_mb"] - res["base_mb"])
                / max(results["scipy"]["peak_mb"] - results["scipy"]["base_mb"], 1), 3),
            "machine": f"{platform.machine()}, 2 cores",
            "blas": _blas(),
        })
    return rows


def main(argv):
    sizes = [int(float(a)) for a in argv] or [SIZES["medium"], SIZES["large"]]
    cols = ["method", "threads", "nnz_in", "nnz_out", "seconds", "time_vs_scipy", "cpu_s",
            "cpu_vs_scipy", "load1", "peak_rss_mb",
            "build_extra_mb", "extra_mem_vs_scipy", "floor_extra_mb"]
    print(f"Ratings construction, shape {SHAPE[0]}x{SHAPE[1]}, int32 indices, float32 values, "
          f"{platform.machine()} 2 cores (shared), lorank with 1 and 2 threads; BLAS: {_blas()}")
    print("  ".join(f"{c:>34}" if c == "method" else f"{c:>12}" for c in cols))
    for nnz in sizes:
        for row in run(nnz, 1) + run(nnz, 2):
            print("  ".join(f"{row[c]:>34}" if c == "method" else f"{row[c]:>12}" for c in cols))


if __name__ == "__main__":
    main(sys.argv[1:])
