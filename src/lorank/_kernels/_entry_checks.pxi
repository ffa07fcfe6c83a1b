# O(1) checks at the compiled entry points: the kernels run with bounds checks
# off, so every entry point checks the shapes and lengths it trusts before its
# loop (index *values* are validated once, by Ratings / the Python layer).
# Included, not cimported, like _simd.pxi.

cdef int _check_threads(long long n_threads) except -1:
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return 0


cdef int _check_same(str what, Py_ssize_t a, Py_ssize_t b) except -1:
    if a != b:
        raise ValueError(f"{what}: {a} != {b}")
    return 0


cdef int _check_indptr(str name, const long long[::1] indptr, Py_ssize_t n_major,
                       Py_ssize_t n_indices, Py_ssize_t n_values) except -1:
    """indptr has n_major + 1 entries (``n_major`` < 0: any length >= 1), runs
    from indptr[0] >= 0 to indptr[-1] <= the stored entries, and indices and
    values (``n_values`` < 0: not checked) have the same length."""
    cdef Py_ssize_t length = indptr.shape[0]
    if n_major >= 0 and length != n_major + 1:
        raise ValueError(f"{name} has length {length}, expected {n_major + 1} "
                         f"(one more than the {n_major} rows)")
    if length < 1:
        raise ValueError(f"{name} is empty; it needs at least one entry")
    cdef long long first = indptr[0], last = indptr[length - 1]
    if n_values >= 0 and n_indices != n_values:
        raise ValueError(f"indices and values have different lengths: {n_indices} and "
                         f"{n_values}")
    if first < 0 or last < first or last > n_indices:
        raise ValueError(f"{name} runs from {first} to {last}, not within the "
                         f"{n_indices} stored entries")
    return 0
