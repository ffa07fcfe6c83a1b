"""Per-user ranking metrics of top-k lists against held-out relevant items.

For every user u with a non-empty set T_u of relevant held-out items (sorted
column indices, the CSR slice ``rel_indices[rel_indptr[u]:rel_indptr[u + 1]]``)
and a recommended list top[u, 0..k-1] (best first, -1 = no item), one pass over
the list gives, with hit_p = [top[u, p] ∈ T_u] and h = Σ_p hit_p:

    precision = h / k                    recall = h / |T_u|
    AP@k      = Σ_p hit_p · (hits in 0..p) / (p + 1) / min(k, |T_u|)
    NDCG@k    = Σ_p hit_p / log2(p + 2) / Σ_{p < min(k, |T_u|)} 1 / log2(p + 2)
    hit rate  = [h > 0]                  RR = 1 / (1 + first p with hit_p), 0 if none
    AUC@k     = P(a relevant item ranks above a non-relevant candidate), where the
                n_candidates[u] − |T_u| non-relevant candidates and the relevant items
                not in the list rank below the list, tied with each other (1/2).

Inputs are validated in Python; the kernel reads only within the stated shapes.
A list naming an item twice is reported in ``status[u]`` (1), not scored.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport NAN, log2
from libc.stdlib cimport free, malloc, qsort

import numpy as np

#: Columns of the ``out`` array, in order.
COLUMNS = ("precision", "recall", "map", "ndcg", "hit_rate", "mrr", "auc")

cdef enum:
    N_COLUMNS = 7


cdef int _cmp_int(const void* a, const void* b) noexcept nogil:
    cdef int x = (<const int*> a)[0], y = (<const int*> b)[0]
    return (x > y) - (x < y)


cdef inline bint _member(int j, const int* s, long long n) noexcept nogil:
    """j in the sorted array s[0..n-1] (binary search)."""
    cdef long long lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if s[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and s[lo] == j


def user_metrics(const int[:, ::1] top, int k, const long long[::1] rel_indptr,
                 const int[::1] rel_indices, const long long[::1] n_candidates,
                 const long long[::1] excl_indptr, const int[::1] excl_indices,
                 double[:, ::1] out, int[::1] status, int n_threads):
    """Fill ``out[u, :]`` (columns :data:`COLUMNS`) for every user u, NaN where u has
    no relevant item; ``status[u]`` is 1 where u's list repeats an item.

    ``excl`` (CSR, sorted rows) holds each user's non-candidates (training items):
    a listed one is no negative for AUC. At most n_candidates[u] − |T_u| listed
    items count as negatives."""
    cdef Py_ssize_t m = top.shape[0], u
    cdef int p, j, h, first
    cdef long long n_rel, n_neg, a, b
    cdef double ap, dcg, idcg, auc, miss
    cdef int* buf
    if (k < 1 or top.shape[1] < k or rel_indptr.shape[0] != m + 1
            or n_candidates.shape[0] != m or out.shape[0] != m
            or out.shape[1] != N_COLUMNS or status.shape[0] != m):
        raise ValueError("user_metrics: inconsistent array shapes")
    if m and (rel_indptr[0] != 0 or rel_indptr[m] != rel_indices.shape[0]):
        raise ValueError("user_metrics: rel_indptr does not span rel_indices")
    if excl_indptr.shape[0] != m + 1 or (m and (excl_indptr[0] != 0
                                                or excl_indptr[m] != excl_indices.shape[0])):
        raise ValueError("user_metrics: excl_indptr does not span excl_indices")
    failed = np.zeros(1, np.int32)
    cdef int[::1] out_of_memory = failed
    with nogil, parallel(num_threads=n_threads):
        buf = <int*> malloc(k * sizeof(int))
        try:
            for u in prange(m, schedule="static"):
                status[u] = 0
                a = rel_indptr[u]
                b = rel_indptr[u + 1]
                n_rel = b - a
                if n_rel == 0:
                    for p in range(N_COLUMNS):
                        out[u, p] = NAN
                    continue
                if buf == NULL:
                    out_of_memory[0] = 1
                    continue
                # Duplicates: sort a copy of the list, compare neighbours.
                h = 0
                for p in range(k):
                    if top[u, p] >= 0:
                        buf[h] = top[u, p]
                        h = h + 1
                qsort(buf, h, sizeof(int), _cmp_int)
                for p in range(1, h):
                    if buf[p] == buf[p - 1]:
                        status[u] = 1
                if status[u]:
                    for p in range(N_COLUMNS):
                        out[u, p] = NAN
                    continue
                n_neg = n_candidates[u] - n_rel
                h = 0
                first = -1
                ap = 0
                dcg = 0
                auc = 0
                miss = 0
                for p in range(k):
                    j = top[u, p]
                    if j >= 0 and _member(j, &rel_indices[a], n_rel):
                        h = h + 1
                        ap = ap + <double> h / (p + 1)
                        dcg = dcg + 1.0 / log2(p + 2.0)
                        if first < 0:
                            first = p
                    elif j >= 0 and miss < n_neg and not _member(
                            j, &excl_indices[excl_indptr[u]],
                            excl_indptr[u + 1] - excl_indptr[u]):
                        miss = miss + 1
                        auc = auc + h  # relevant items ranked above this candidate
                idcg = 0
                for p in range(min(<long long> k, n_rel)):
                    idcg = idcg + 1.0 / log2(p + 2.0)
                out[u, 0] = <double> h / k
                out[u, 1] = <double> h / n_rel
                out[u, 2] = ap / min(<long long> k, n_rel)
                out[u, 3] = dcg / idcg
                out[u, 4] = 1.0 if h > 0 else 0.0
                out[u, 5] = 1.0 / (first + 1) if first >= 0 else 0.0
                if n_neg > 0:
                    # Candidates below the list: every listed relevant item is above
                    # them; the unlisted relevant ones tie with them.
                    auc = auc + (n_neg - miss) * (h + 0.5 * (n_rel - h))
                    out[u, 6] = auc / (<double> n_rel * n_neg)
                else:
                    out[u, 6] = NAN
        finally:
            free(buf)
    if failed[0]:
        raise MemoryError("out of memory for the ranking metrics' per-thread buffer")
