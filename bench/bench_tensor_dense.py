"""CPALS beside tensorly's masked parafac and pyttb's gcp_opt on dense cubes:
the ``dense`` part of ``bench_tensor.py`` (see its docstring), every run a
subprocess under a 4 GiB address-space limit."""

from bench_tensor import DENSE_ITERS, LIMIT_BYTES, SIZES, _dense

NOTES = (
    "sec_per_iter = (fit time) / 3 for tensorly and pyttb (random start, cheap), the "
    "median epoch for lorank; ratio = that library's time / lorank float64's at the same "
    "size; status 'out of memory' = MemoryError under the 4 GiB address-space limit; "
    "'over 300 s' = stopped at the time limit. 2 cores shared with other workers: load1 is "
    "the 1-minute load average after each run."
)


def parameters(size):
    return dict(rank=10, dense_sizes=list(SIZES[size]["dense"]), fraction=0.05,
                iters=DENSE_ITERS, dtype="float64", init="random",
                address_space_limit_gib=LIMIT_BYTES / 2**30)


def run(size, threads):
    return _dense(size, threads)
