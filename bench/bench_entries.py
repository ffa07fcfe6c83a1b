"""Entries of a low-rank matrix at random positions: LowRank.entries vs numpy.

``X = L Rᵀ`` with Netflix-shaped factors (480,189 users x 17,770 items) at
rank 10; the positions are uniform random (row, column) pairs. numpy gathers
both factor rows and reduces with ``np.einsum('ij,ij->i', L[rows], R[cols])``
(single-threaded, and it materializes two (pairs x rank) arrays); lorank runs
its compiled gather-dot with 1 and with ``threads`` threads.
"""

import numpy as np

from _common import best_time

SIZES = {
    "small": dict(m=48_019, n=1_777, pairs=1_000_000),
    "full": dict(m=480_189, n=17_770, pairs=10_000_000),
}
RANK = 10
REPEAT = {"small": 5, "full": 3}

NOTES = (
    "x numpy = numpy time / this time (same dtype); time_s = fastest of the "
    "interleaved repeats; Mpairs/s = million entries per second. lorank results "
    "are checked bitwise equal across thread counts and against numpy."
)


def parameters(size):
    return dict(SIZES[size], rank=RANK, index_dtype="int32", dtypes="float32, float64")


def run(size, threads):
    import lorank

    p = SIZES[size]
    rng = np.random.default_rng(0)
    rows = rng.integers(0, p["m"], p["pairs"]).astype(np.int32)
    cols = rng.integers(0, p["n"], p["pairs"]).astype(np.int32)
    out = []
    for dtype in (np.float32, np.float64):
        L = rng.standard_normal((p["m"], RANK)).astype(dtype)
        R = rng.standard_normal((p["n"], RANK)).astype(dtype)
        X = lorank.LowRank(L, R)
        methods = [("numpy einsum", 1, lambda: np.einsum("ij,ij->i", L[rows], R[cols]))]
        methods += [("lorank entries", t, lambda t=t: X.entries(rows, cols, n_threads=t))
                    for t in sorted({1, threads})]
        times, values = {}, {}
        for _ in range(REPEAT[size]):
            for name, t, fn in methods:
                seconds, values[name, t] = best_time(fn)
                times[name, t] = min(times.get((name, t), np.inf), seconds)
        ref = values["numpy einsum", 1]
        first = values["lorank entries", 1]
        tol = 1e-4 if dtype == np.float32 else 1e-10
        for (name, t), v in values.items():
            if name.startswith("lorank"):
                assert np.array_equal(v, first), "entries depend on the thread count"
            np.testing.assert_allclose(v, ref, rtol=tol, atol=tol * np.abs(ref).max())
        base = times["numpy einsum", 1]
        for name, t, _ in methods:
            out.append({
                "method": name, "dtype": np.dtype(dtype).name, "threads": t,
                "pairs": p["pairs"], "shape": f"{p['m']}x{p['n']}", "rank": RANK,
                "time_s": times[name, t], "Mpairs/s": p["pairs"] / times[name, t] / 1e6,
                "x numpy": base / times[name, t],
            })
    return out
