"""CPALS beside tensorly's masked parafac and pyttb's gcp_opt on dense cubes:
the ``dense`` part of ``bench_tensor.py`` (see its docstring), every run a
subprocess under an 8 GiB address-space limit, at two densities."""

from bench_tensor import (DENSE_ITERS, DENSE_TIMEOUT, DENSITIES, DENSITY_CHECK_MAX,
                          LIMIT_BYTES, SIZES, _dense)

NOTES = (
    "sec_per_iter = (fit time) / 3 for tensorly and pyttb (random start, cheap), the "
    "median epoch for lorank (wall); cpu s/iter in status (lorank's includes its start); "
    "ratio = that method's time / lorank float32's at the same size and density (for "
    "lorank float64: the cost of double precision); "
    f"density = observed fraction of the n^3 cells; the baselines' cost is that of the "
    f"dense tensor, little changed by the density, so above n = {DENSITY_CHECK_MAX} their "
    "5% time stands for the low density (a row with that status; tensorly's 0.04% time "
    "was about half its 5% one at n = 200). status 'out of memory' = "
    f"MemoryError under the {LIMIT_BYTES >> 30} GiB address-space limit; 'over "
    f"{DENSE_TIMEOUT} s' = stopped at the time limit. 2 cores shared with other workers: "
    "load1 is the 1-minute load average after each run."
)


def parameters(size):
    return dict(rank=10, dense_sizes=list(SIZES[size]["dense"]), densities=list(DENSITIES),
                iters=DENSE_ITERS, dtype="float32 (lorank float64 too); baselines float64",
                init="random",
                address_space_limit_gib=LIMIT_BYTES / 2**30)


def run(size, threads):
    return _dense(size, threads)
