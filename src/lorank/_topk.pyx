"""Per-row top-k with an exclusion list, and blocked scoring + top-k for all rows.

Order: best score first; equal scores by lower column index first; with
``worst`` the lowest scores first (ties again by lower index). Rows with fewer
than k eligible columns are padded with index -1 and score NaN. Inputs are
validated by the Python layer; nothing here checks bounds.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport NAN
from libc.stdlib cimport free, malloc

cimport scipy.linalg.cython_blas as blas

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


cdef void _row_topk(const floating* s, Py_ssize_t n, const index_t* excl, Py_ssize_t n_excl,
                    int k, bint worst, floating* hv, int* hj,
                    int* out_idx, floating* out_val) noexcept nogil:
    """Top k of s[0:n] skipping the sorted columns excl[0:n_excl] into out_*,
    using hv/hj (k entries) as the heap. Key = s (or -s when ``worst``)."""
    cdef Py_ssize_t j, e = 0
    cdef int size = 0, pos, parent
    cdef floating v, sign = -1 if worst else 1
    for j in range(n):
        while e < n_excl and excl[e] < j:
            e += 1
        if e < n_excl and excl[e] == j:
            continue
        v = sign * s[j]
        if size < k:
            # Sift up: columns arrive in increasing order, so a new entry is
            # worse than an equal-keyed one already kept.
            pos = size
            size += 1
            while pos > 0:
                parent = (pos - 1) // 2
                if not _worse(v, <int> j, hv[parent], hj[parent]):
                    break
                hv[pos] = hv[parent]
                hj[pos] = hj[parent]
                pos = parent
            hv[pos] = v
            hj[pos] = <int> j
        elif v > hv[0]:  # ties lose to the lower index already kept
            hv[0] = v
            hj[0] = <int> j
            _sift_down(hv, hj, size, 0)
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


def topk(const floating[:, ::1] scores, const long long[::1] excl_indptr,
         const index_t[::1] excl_indices, bint worst,
         int[:, ::1] out_idx, floating[:, ::1] out_val, int n_threads):
    """Per row i of ``scores``: the top ``out_idx.shape[1]`` columns, skipping the
    sorted columns excl_indices[excl_indptr[i]:excl_indptr[i+1]]."""
    cdef Py_ssize_t i, b = scores.shape[0], n = scores.shape[1]
    cdef int k = out_idx.shape[1]
    cdef floating* hv
    cdef int* hj
    if b == 0 or k == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        hv = <floating*> malloc(k * sizeof(floating))
        hj = <int*> malloc(k * sizeof(int))
        try:
            for i in prange(b, schedule="dynamic", chunksize=16):
                _row_topk(&scores[i, 0], n, &excl_indices[0] + excl_indptr[i],
                          excl_indptr[i + 1] - excl_indptr[i], k, worst, hv, hj,
                          &out_idx[i, 0], &out_val[i, 0])
        finally:
            free(hv)
            free(hj)


cdef inline void _gemm_nt(int m, int n, int r, const floating* A, const floating* B,
                          floating* C) noexcept nogil:
    """C (m x n, row-major) = A (m x r) @ B (n x r)ᵀ, all row-major."""
    cdef char ta = b"T", tb = b"N"
    cdef floating one = 1, zero = 0
    # In BLAS's column-major terms the arrays are Bᵀ (r x n), Aᵀ (r x m) and Cᵀ
    # (n x m), and Cᵀ = (Bᵀ)ᵀ Aᵀ.
    if floating is double:
        blas.dgemm(&ta, &tb, &n, &m, &r, &one, <double*> B, &r, <double*> A, &r,
                   &zero, C, &n)
    else:
        blas.sgemm(&ta, &tb, &n, &m, &r, &one, <float*> B, &r, <float*> A, &r,
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
    cdef Py_ssize_t n_blocks = (stop - start + block - 1) // block
    cdef int r = left.shape[1], k = out_idx.shape[1]
    cdef floating* buf
    cdef floating* hv
    cdef int* hj
    if n_blocks <= 0 or k == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> malloc(block * n * sizeof(floating))
        hv = <floating*> malloc(k * sizeof(floating))
        hj = <int*> malloc(k * sizeof(int))
        try:
            for t in prange(n_blocks, schedule="dynamic", chunksize=1):
                i0 = start + t * block
                i1 = i0 + block
                if i1 > stop:
                    i1 = stop
                _gemm_nt(<int> (i1 - i0), <int> n, r, &left[i0, 0], &right[0, 0], buf)
                for i in range(i0, i1):
                    _row_topk(buf + (i - i0) * n, n,
                              &excl_indices[0] + excl_indptr[i],
                              excl_indptr[i + 1] - excl_indptr[i], k, worst, hv, hj,
                              &out_idx[i - start, 0], &out_val[i - start, 0])
        finally:
            free(buf)
            free(hv)
            free(hj)
