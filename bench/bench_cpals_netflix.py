"""CPALS on the Netflix-shaped drift tensor beside matrix ALS (issue 13's targets:
a CP-ALS epoch <= 2x an ALS epoch in the same run, held-out RMSE below ALS's).

bench_tensor.py's ``drift`` part at a chosen size: ``datasets.synthetic_drift``
(Netflix shape; 100.48M ratings at ``LORANK_BENCH_SCALE=1``, both sides scaled
by its square root below), 30 equal-count time bins, 90/10 random split, ALS
on user x item and CPALS on user x item x bin, rank 10, float32, 10
iterations each (tol=0). ``size=small`` is scale 0.01. peak_mb is the
process's high-water mark after the row (data included), load1 the 1-minute
load average.

Run: ``LORANK_BENCH_SCALE=0.2 python bench/run.py cpals_netflix``.
"""

import os

from _common import netflix_like

NOTES = ("sec_per_iter = median of the 10 epochs (fastest in sec_fastest), ratio = "
         "CPALS / ALS median epoch in the same run; init_s = fit time outside the epochs; "
         "rmse = held-out RMSE after 10 iterations (the data row: the generator's noise "
         "floor; its sec_per_iter is the generate + bin + split time).")


def _nnz(size):
    """The ``netflix_like`` argument: 100M gives the real shape (100.48M ratings)."""
    s = 0.01 if size == "small" else float(os.environ.get("LORANK_BENCH_SCALE", "1"))
    return round(100_000_000 * s)


def parameters(size):
    m, n, nnz = netflix_like(_nnz(size))
    return dict(scale=nnz / 100_000_000, shape=f"{m}x{n}x30", nnz=nnz, rank=10,
                dtype="float32", iters=10, time_bins=30, split="90/10 random")


def run(size, threads):
    from bench_tensor import _drift

    return _drift(str(_nnz(size)), threads)
