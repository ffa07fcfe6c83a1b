"""Kernels over sparse patterns: sampled products and sparse x dense products.

Inputs are validated by the Python layer; nothing here checks bounds.
"""

from cython cimport floating
from cython.parallel cimport prange

ctypedef fused index_t:
    int
    long long


def gather_dot(const floating[:, ::1] left, const floating[:, ::1] right,
               const index_t[::1] rows, const index_t[::1] cols,
               floating[::1] out, int n_threads):
    """out[t] = <left[rows[t]], right[cols[t]]> for every t."""
    cdef Py_ssize_t t, k, n = rows.shape[0], r = left.shape[1]
    cdef const floating* a
    cdef const floating* b
    cdef floating acc
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static", chunksize=4096):
        a = &left[rows[t], 0] if r > 0 else NULL
        b = &right[cols[t], 0] if r > 0 else NULL
        acc = 0
        for k in range(r):
            acc = acc + a[k] * b[k]
        out[t] = acc


def csr_rmatmat(const long long[::1] indptr, const index_t[::1] indices,
                const floating[::1] data, const floating[:, ::1] Q,
                floating[:, ::1] out, const long long[::1] bounds, int n_threads):
    """out = Sᵀ @ Q for S in CSR form, without forming Sᵀ.

    Part t owns output rows bounds[t]:bounds[t+1] and scans every row of S in
    order, so each output row is summed in row order of S whatever the number of
    parts: results do not depend on the thread count.
    """
    cdef Py_ssize_t t, i, p, k, j, j0, j1, n_parts = bounds.shape[0] - 1
    cdef Py_ssize_t m = Q.shape[0], n_cols = Q.shape[1]
    cdef floating v
    cdef floating* o
    cdef const floating* x
    cdef const floating* q0 = &Q[0, 0]
    cdef floating* out0 = &out[0, 0]
    for t in prange(n_parts, nogil=True, num_threads=n_threads, schedule="static", chunksize=1):
        j0 = bounds[t]
        j1 = bounds[t + 1]
        for j in range(j0 * n_cols, j1 * n_cols):
            out0[j] = 0
        for i in range(m):
            x = q0 + i * n_cols
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if j >= j0 and j < j1:
                    v = data[p]
                    o = out0 + j * n_cols
                    for k in range(n_cols):
                        o[k] = o[k] + v * x[k]


def csr_matmat(const long long[::1] indptr, const index_t[::1] indices,
               const floating[::1] data, const floating[:, ::1] M,
               floating[:, ::1] out, int n_threads):
    """out = S @ M for S in CSR form.

    Each output row sums its nonzeros in a fixed order, two at a time
    (o += v·x + w·y halves the loads and stores of o), so results do not
    depend on the thread count.
    """
    cdef Py_ssize_t i, p, k, end, n_rows = out.shape[0], n_cols = M.shape[1]
    cdef floating v, w
    cdef floating* o
    cdef const floating* x
    cdef const floating* y
    cdef const floating* m0 = &M[0, 0]
    for i in prange(n_rows, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=64):
        o = &out[i, 0]
        for k in range(n_cols):
            o[k] = 0
        p = indptr[i]
        end = indptr[i + 1]
        while p + 1 < end:
            v = data[p]
            w = data[p + 1]
            x = m0 + indices[p] * n_cols
            y = m0 + indices[p + 1] * n_cols
            for k in range(n_cols):
                o[k] = o[k] + (v * x[k] + w * y[k])
            p = p + 2
        if p < end:
            v = data[p]
            x = m0 + indices[p] * n_cols
            for k in range(n_cols):
                o[k] = o[k] + v * x[k]
