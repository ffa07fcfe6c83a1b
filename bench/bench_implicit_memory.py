"""Peak RSS of an ImplicitALS fit vs implicit's at the last.fm-360k shape.

A fresh process per library and factor count loads the cached CSR, resets the
kernel's high-water mark (/proc/self/clear_refs) and fits one iteration, so
the figure is the fit's own peak over the process holding the CSR (lorank:
``Ratings.from_csr`` on its arrays, no copy; the CSC is built inside the
measured region). Budget (issue 12): 2 x the CSR's bytes + the factors.
The children are in bench_implicit.py (``memory``), with the data cache.
"""

from bench_implicit import FACTORS, memory, parameters as _speed_parameters

NOTES = ("fit_peak_mb = VmHWM - VmRSS before the fit (1 iteration: lorank exact "
         "solver, implicit CG), budget_mb = 2 x CSR bytes + factor bytes.")


def parameters(size):
    p = _speed_parameters(size)
    return dict(lastfm_shape=p["lastfm_shape"], lastfm_nnz=p["lastfm_nnz"],
                factors=list(FACTORS), iterations=1, dtype="float32",
                solver="cholesky (lorank), cg (implicit)")


def run(size, threads):
    return memory(size, threads)
