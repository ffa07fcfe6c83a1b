"""Per-row top-k with an exclusion list, and blocked scoring + top-k for all rows.

Order: best score first; equal scores by lower column index first; with
``worst`` the lowest scores first (ties again by lower index). Every score is
eligible, ±inf included: excluded columns are marked in a per-thread byte mask,
never by a sentinel score. A NaN score is an error (``ValueError`` naming the
row), since it cannot be ranked. Rows with fewer than k eligible columns are
padded with index -1 and score NaN. Entry points check shapes and lengths in
O(1); exclusion indices outside 0..n-1 are ignored. Index contents are
validated by the Python layer.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, NAN
from libc.stdlib cimport calloc, free, malloc

import numpy as np

cimport scipy.linalg.cython_blas as blas

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    int omp_get_num_threads() noexcept nogil

# Threads in the team of the last call's parallel region (written once per call).
cdef int _team[1]


def last_team_size():
    """Threads that ran the last ``topk``/``score_topk`` parallel region (0 if it
    had no work); for the tests that check the thread count really varies."""
    return _team[0]

ctypedef fused index_t:
    int
    long long


cdef inline bint _worse(floating v, int j, floating w, int l) noexcept nogil:
    """(v, j) ranks below (w, l): lower key, or equal key and higher index."""
    return v < w or (v == w and j > l)


cdef void _sift_down(floating* hv, int* hj, int size, int pos) noexcept nogil:
    """Restore the heap (worst kept entry on top) below ``pos``."""
    cdef int child
    cdef floating v = hv[pos]
    cdef int j = hj[pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _worse(hv[child + 1], hj[child + 1], hv[child], hj[child]):
            child += 1
        if not _worse(hv[child], hj[child], v, j):
            break
        hv[pos] = hv[child]
        hj[pos] = hj[child]
        pos = child
    hv[pos] = v
    hj[pos] = j


cdef inline int _push(floating v, int j, floating* hv, int* hj, int size,
                      int k) noexcept nogil:
    """Offer (v, j) to the heap of the best ``k`` (worst kept on top); columns
    arrive in increasing order, so ties lose to the entry already kept.
    Returns the new heap size."""
    cdef int pos, parent
    if size < k:
        pos = size
        while pos > 0:
            parent = (pos - 1) // 2
            if not _worse(v, j, hv[parent], hj[parent]):
                break
            hv[pos] = hv[parent]
            hj[pos] = hj[parent]
            pos = parent
        hv[pos] = v
        hj[pos] = j
        return size + 1
    if v > hv[0]:
        hv[0] = v
        hj[0] = j
        _sift_down(hv, hj, size, 0)
    return size


cdef enum:
    _CHUNK = 32  # columns tested at once against the heap's threshold (vectorized)


cdef void _mark(unsigned char* ex, const index_t* excl, Py_ssize_t n_excl, long long p0,
                long long p1, Py_ssize_t n, unsigned char on) noexcept nogil:
    """Set (or clear) the exclusion mark of columns excl[p0:p1] (clamped to the
    list, so a bad pointer cannot read outside it) that exist."""
    cdef long long e, c
    if p0 < 0:
        p0 = 0
    if p1 > n_excl:
        p1 = n_excl
    for e in range(p0, p1):
        c = excl[e]
        if 0 <= c < n:
            ex[c] = on


cdef int _row_topk(const floating* key, const unsigned char* ex, Py_ssize_t n, int k,
                   floating sign, floating* hv, int* hj, int* out_idx,
                   floating* out_val) noexcept nogil:
    """Top k of key[0:n] over the columns not marked in ``ex`` (heap in hv/hj, k
    entries) into out_*; values are ``sign * key``. Returns 1 when an eligible
    key is NaN (the output is then not meaningful), else 0."""
    cdef Py_ssize_t j = 0, t
    cdef int size = 0, pos, hit, nan = 0
    cdef floating thr
    while j < n:
        if size == k and j + _CHUNK <= n:
            thr = hv[0]
            hit = 0
            for t in range(j, j + _CHUNK):
                hit = hit | (not (key[t] <= thr))  # above the threshold, or NaN
            if hit:
                for t in range(j, j + _CHUNK):
                    if ex[t]:
                        continue
                    if key[t] > thr:
                        size = _push(key[t], <int> t, hv, hj, size, k)
                        thr = hv[0]
                    elif key[t] != key[t]:
                        nan = 1
            j += _CHUNK
        else:
            if not ex[j]:
                if key[j] != key[j]:
                    nan = 1
                else:
                    size = _push(key[j], <int> j, hv, hj, size, k)
            j += 1
    for pos in range(size, k):
        out_idx[pos] = -1
        out_val[pos] = NAN
    while size > 0:  # pop the worst kept entry into the last free slot
        size -= 1
        out_idx[size] = hj[0]
        out_val[size] = sign * hv[0]
        hv[0] = hv[size]
        hj[0] = hj[size]
        _sift_down(hv, hj, size, 0)
    return nan


cdef int _check_exclusions(Py_ssize_t stop, Py_ssize_t n_ptr) except -1:
    """O(1): the exclusion pointers cover rows 0..stop-1 (each row's list is
    clamped to excl_indices in the loop)."""
    if n_ptr < stop + 1:
        raise ValueError(f"excl_indptr has length {n_ptr}, need at least {stop + 1} "
                         f"for {stop} rows")
    return 0


cdef int _check_out(Py_ssize_t rows, Py_ssize_t[8] a, Py_ssize_t[8] b,
                    int n_threads) except -1:
    """O(1): both outputs are (rows, k); a sane thread count."""
    if a[0] != rows or b[0] != rows or a[1] != b[1]:
        raise ValueError(f"out_idx {(a[0], a[1])} and out_val {(b[0], b[1])} must both "
                         f"be ({rows}, k)")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return 0


cdef _raise_nan(unsigned char[::1] nan_rows, Py_ssize_t offset):
    bad = np.flatnonzero(np.asarray(nan_rows))
    if bad.size:
        raise ValueError(
            f"the scores of row {int(bad[0]) + offset} hold NaN ({bad.size} row(s) with "
            "NaN): the factors are not finite or their products overflow the dtype; "
            "refit in float64 or with a larger reg")


def topk(const floating[:, ::1] scores, const long long[::1] excl_indptr,
         const index_t[::1] excl_indices, bint worst,
         int[:, ::1] out_idx, floating[:, ::1] out_val, int n_threads):
    """Per row i of ``scores``: the top ``out_idx.shape[1]`` columns, skipping the
    columns excl_indices[excl_indptr[i]:excl_indptr[i+1]]."""
    cdef Py_ssize_t i, j, b = scores.shape[0], n = scores.shape[1]
    cdef int k = out_idx.shape[1]
    cdef floating sign = -1 if worst else 1
    cdef floating* key
    cdef unsigned char* ex
    cdef floating* hv
    cdef int* hj
    if n > 2147483647:
        raise ValueError(f"{n} columns: the top-k indices are int32")
    _check_exclusions(b, excl_indptr.shape[0])
    _check_out(b, out_idx.shape, out_val.shape, n_threads)
    _team[0] = 0
    if b == 0 or k == 0:
        return
    failed = np.zeros(1, np.int32)
    cdef int[::1] out_of_memory = failed
    cdef unsigned char[::1] nan_rows = np.zeros(b, np.uint8)
    cdef const index_t* excl0 = &excl_indices[0] if excl_indices.shape[0] else NULL
    cdef Py_ssize_t n_excl = excl_indices.shape[0]
    cdef int* team = _team
    with nogil, parallel(num_threads=n_threads):
        if team[0] == 0:  # the first thread there writes it: once, the same value
            team[0] = omp_get_num_threads()
        key = <floating*> malloc((n if n > 0 else 1) * sizeof(floating))
        ex = <unsigned char*> calloc(n if n > 0 else 1, 1)
        hv = <floating*> malloc(k * sizeof(floating))
        hj = <int*> malloc(k * sizeof(int))
        try:
            for i in prange(b, schedule="dynamic", chunksize=16):
                if key == NULL or ex == NULL or hv == NULL or hj == NULL:
                    out_of_memory[0] = 1
                    continue
                for j in range(n):
                    key[j] = sign * scores[i, j]
                _mark(ex, excl0, n_excl, excl_indptr[i], excl_indptr[i + 1], n, 1)
                nan_rows[i] = _row_topk(key, ex, n, k, sign, hv, hj, &out_idx[i, 0],
                                        &out_val[i, 0])
                _mark(ex, excl0, n_excl, excl_indptr[i], excl_indptr[i + 1], n, 0)
        finally:
            free(key)
            free(ex)
            free(hv)
            free(hj)
    if failed[0]:
        raise MemoryError("out of memory for the top-k scratch")
    _raise_nan(nan_rows, 0)


cdef inline void _gemm_nt(int m, int n, int r, floating alpha, const floating* A,
                          const floating* B, floating* C) noexcept nogil:
    """C (m x n, row-major) = alpha A (m x r) @ B (n x r)ᵀ, all row-major."""
    cdef char ta = b"T", tb = b"N"
    cdef floating zero = 0
    cdef int ld = r if r > 0 else 1  # BLAS wants lda >= max(1, k), even for k = 0
    # In BLAS's column-major terms the arrays are Bᵀ (r x n), Aᵀ (r x m) and Cᵀ
    # (n x m), and Cᵀ = (Bᵀ)ᵀ Aᵀ.
    if floating is double:
        blas.dgemm(&ta, &tb, &n, &m, &r, &alpha, <double*> B, &ld, <double*> A, &ld,
                   &zero, C, &n)
    else:
        blas.sgemm(&ta, &tb, &n, &m, &r, &alpha, <float*> B, &ld, <float*> A, &ld,
                   &zero, C, &n)


def score_topk(const floating[:, ::1] left, const floating[:, ::1] right,
               const long long[::1] excl_indptr, const index_t[::1] excl_indices,
               Py_ssize_t start, Py_ssize_t stop, int block, bint worst,
               int[:, ::1] out_idx, floating[:, ::1] out_val, int n_threads):
    """Rows start..stop-1: scores left[i] @ rightᵀ, then the row's top k skipping
    its excluded columns; results go to out_*[i - start].

    Blocks of ``block`` rows are scored by one single-threaded GEMM into a
    per-thread buffer (block x n), so memory is n_threads * block * n and each
    row's scores are the same whatever the thread count. Call under
    ``single_threaded_blas()``.
    """
    cdef Py_ssize_t t, i, i0, i1, n = right.shape[0]
    cdef int r = left.shape[1], k = out_idx.shape[1]
    cdef floating sign = -1 if worst else 1
    cdef floating* buf
    cdef unsigned char* ex
    cdef floating* hv
    cdef int* hj
    if right.shape[1] != r:
        raise ValueError(f"left has {r} columns but right has {right.shape[1]}")
    if not 0 <= start <= stop <= left.shape[0]:
        raise ValueError(f"rows {start}..{stop} are not within the {left.shape[0]} rows "
                         "of left")
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    if n > 2147483647:
        raise ValueError(f"{n} columns: the top-k indices are int32")
    _check_exclusions(stop, excl_indptr.shape[0])
    _check_out(stop - start, out_idx.shape, out_val.shape, n_threads)
    cdef Py_ssize_t n_blocks = (stop - start + block - 1) // block
    _team[0] = 0
    if n_blocks <= 0 or k == 0:
        return
    failed = np.zeros(1, np.int32)
    cdef int[::1] out_of_memory = failed
    cdef unsigned char[::1] nan_rows = np.zeros(stop - start, np.uint8)
    cdef const index_t* excl0 = &excl_indices[0] if excl_indices.shape[0] else NULL
    cdef Py_ssize_t n_excl = excl_indices.shape[0]
    cdef int* team = _team
    with nogil, parallel(num_threads=n_threads):
        if team[0] == 0:  # the first thread there writes it: once, the same value
            team[0] = omp_get_num_threads()
        buf = <floating*> malloc(block * n * sizeof(floating))
        ex = <unsigned char*> calloc(n if n > 0 else 1, 1)
        hv = <floating*> malloc(k * sizeof(floating))
        hj = <int*> malloc(k * sizeof(int))
        try:
            for t in prange(n_blocks, schedule="dynamic", chunksize=1):
                if buf == NULL or ex == NULL or hv == NULL or hj == NULL:
                    out_of_memory[0] = 1
                    continue
                i0 = start + t * block
                i1 = i0 + block
                if i1 > stop:
                    i1 = stop
                # keys = sign * scores: the worst items are the top keys
                _gemm_nt(<int> (i1 - i0), <int> n, r, sign, &left[i0, 0], &right[0, 0], buf)
                for i in range(i0, i1):
                    _mark(ex, excl0, n_excl, excl_indptr[i], excl_indptr[i + 1], n, 1)
                    nan_rows[i - start] = _row_topk(buf + (i - i0) * n, ex, n, k, sign, hv,
                                                    hj, &out_idx[i - start, 0],
                                                    &out_val[i - start, 0])
                    _mark(ex, excl0, n_excl, excl_indptr[i], excl_indptr[i + 1], n, 0)
        finally:
            free(buf)
            free(ex)
            free(hv)
            free(hj)
    if failed[0]:
        raise MemoryError("out of memory for the top-k score buffers")
    _raise_nan(nan_rows, start)
