"""Whether this build has OpenMP, and how many threads it would use."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define LORANK_OPENMP 1
    #else
    #define LORANK_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint LORANK_OPENMP
    int omp_get_max_threads() noexcept nogil


def openmp_enabled():
    """Return True when the compiled kernels were built with OpenMP.

    Without OpenMP every kernel still works, on one thread.

    Examples
    --------
    >>> import lorank
    >>> lorank.openmp_enabled() in (True, False)
    True
    """
    return bool(LORANK_OPENMP)


def omp_max_threads():
    """OpenMP's default team size (1 when built without OpenMP)."""
    return omp_get_max_threads()
