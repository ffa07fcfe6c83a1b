"""Kernels over sparse patterns: sampled products and sparse x dense products.

Index values are validated by the Python layer; every entry point checks the
shapes and lengths it trusts in O(1) (``_entry_checks.pxi``).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memset

include "_entry_checks.pxi"
include "_simd.pxi"

cdef extern from "_gram_rows.h" nogil:
    void lorank_gram_fi(int width, const long long* ip, const void* ix, const void* dv,
                        const void* q, void* W, void* P, long long lo, long long hi,
                        long long nc)
    void lorank_gram_fl(int width, const long long* ip, const void* ix, const void* dv,
                        const void* q, void* W, void* P, long long lo, long long hi,
                        long long nc)
    void lorank_gram_di(int width, const long long* ip, const void* ix, const void* dv,
                        const void* q, void* W, void* P, long long lo, long long hi,
                        long long nc)
    void lorank_gram_dl(int width, const long long* ip, const void* ix, const void* dv,
                        const void* q, void* W, void* P, long long lo, long long hi,
                        long long nc)

import numpy as np

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
    _check_same("left and right columns", left.shape[1], right.shape[1])
    _check_same("rows and cols lengths", rows.shape[0], cols.shape[0])
    _check_same("rows and out lengths", rows.shape[0], out.shape[0])
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static", chunksize=4096):
        a = &left[rows[t], 0] if r > 0 else NULL
        b = &right[cols[t], 0] if r > 0 else NULL
        acc = 0
        for k in range(r):
            acc = acc + a[k] * b[k]
        out[t] = acc



cdef enum:
    MAX_MODES = 16
    AHEAD = 16  # entries between a row's prefetch and its use


cdef extern from *:
    """
    #define lorank_prefetch(p) __builtin_prefetch((p), 0, 3)
    """
    void prefetch "lorank_prefetch"(const void* p) noexcept nogil


cdef struct CPRows:
    # A CP model's N factor (and bias) rows and its index arrays, for cp_entry.
    int N
    Py_ssize_t r
    double mean
    const void* A[MAX_MODES]
    const void* B[MAX_MODES]
    const int* I[MAX_MODES]


cdef inline double cp_entry(const CPRows* c, Py_ssize_t t, Py_ssize_t n, Py_ssize_t i0,
                            floating dummy) noexcept nogil:
    """Entry t, at position i0 of mode 0: mean + Σ_m biases + Σ_k Π_m A_m[i_m, k],
    in float64; the k sum in four interleaved partial sums (a short dependency
    chain), added in a fixed order. (Mode 0's index array may be NULL.)"""
    cdef const floating** A = <const floating**> c.A
    cdef const floating** B = <const floating**> c.B
    cdef Py_ssize_t r = c.r, k, k4 = c.r - c.r % 4
    cdef int m, N = c.N
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, acc
    cdef const floating* a0
    cdef const floating* a1
    cdef const floating* a2
    if t + AHEAD < n:  # the rows are random reads: ask for them early
        for m in range(N):
            if c.I[m] != NULL:
                prefetch(A[m] + c.I[m][t + AHEAD] * r)
    a0 = A[0] + i0 * r
    a1 = A[1] + c.I[1][t] * r
    if N <= 3:
        a2 = A[2] + c.I[2][t] * r if N == 3 else NULL
        for k in range(0, k4, 4):
            if N == 3:
                s0 = s0 + <double> a0[k] * a1[k] * a2[k]
                s1 = s1 + <double> a0[k + 1] * a1[k + 1] * a2[k + 1]
                s2 = s2 + <double> a0[k + 2] * a1[k + 2] * a2[k + 2]
                s3 = s3 + <double> a0[k + 3] * a1[k + 3] * a2[k + 3]
            else:
                s0 = s0 + <double> a0[k] * a1[k]
                s1 = s1 + <double> a0[k + 1] * a1[k + 1]
                s2 = s2 + <double> a0[k + 2] * a1[k + 2]
                s3 = s3 + <double> a0[k + 3] * a1[k + 3]
        for k in range(k4, r):
            s0 = s0 + <double> a0[k] * a1[k] * (a2[k] if N == 3 else 1)
    else:
        for k in range(r):
            acc = <double> a0[k] * a1[k]
            for m in range(2, N):
                acc = acc * A[m][c.I[m][t] * r + k]
            s0 = s0 + acc
    acc = ((s0 + s1) + (s2 + s3)) + c.mean
    if B[0] != NULL:
        acc = acc + B[0][i0]
        for m in range(1, N):
            acc = acc + B[m][c.I[m][t]]
    return acc


cdef CPRows cp_rows(factors, biases, index, double mean, Py_ssize_t n, kept,
                    floating dummy) except *:
    """The CPRows of ``factors`` (N C-contiguous (n_m, r) arrays), ``biases`` (None
    or N arrays (n_m,)) and ``index`` (N int32 arrays of length n; index[0] may be
    None: I[0] NULL), shapes checked; the memoryviews behind the pointers go to
    ``kept``."""
    cdef CPRows c
    cdef Py_ssize_t N = len(factors)
    cdef int m
    cdef const floating[:, ::1] fv
    cdef const floating[::1] bv
    cdef const int[::1] iv
    cdef bint with_biases = biases is not None
    if not 2 <= N <= MAX_MODES or len(index) != N or (with_biases and len(biases) != N):
        raise ValueError(f"need 2..{MAX_MODES} factors with as many index arrays "
                         f"(and biases), got {N}, {len(index)}")
    c.N = <int> N
    c.mean = mean
    c.r = factors[0].shape[1]
    for m in range(N):
        fv = factors[m]
        _check_same(f"factors[{m}] columns", fv.shape[1], c.r)
        c.A[m] = &fv[0, 0] if fv.shape[0] and c.r else NULL
        c.I[m] = NULL
        if m or index[0] is not None:
            iv = index[m]
            _check_same(f"index[{m}] and out lengths", iv.shape[0], n)
            c.I[m] = &iv[0] if n else NULL
            kept.append(iv)
        kept.append(fv)
        c.B[m] = NULL
        if with_biases:
            bv = biases[m]
            _check_same(f"biases[{m}] and factors[{m}] rows", bv.shape[0], fv.shape[0])
            if not bv.shape[0]:
                raise ValueError(f"biases[{m}] is empty")
            c.B[m] = &bv[0]
            kept.append(bv)
    return c


def cp_entries(factors, biases, index, double mean, floating[::1] out, int n_threads):
    """out[t] = mean + Σ_m biases[m][index[m][t]] + Σ_k Π_m factors[m][index[m][t], k]
    for every t: a CP model's entries at N-way positions (N <= 16), summed in float64
    in a fixed order (the same for any thread count).

    ``factors``: N C-contiguous (n_m, r) arrays of out's dtype; ``biases``: None or N
    arrays (n_m,) of that dtype; ``index``: N int32 arrays of out's length, each in
    range (the caller checks the values; this checks the shapes)."""
    cdef Py_ssize_t n = out.shape[0], t
    kept = []
    cdef CPRows c = cp_rows(factors, biases, index, mean, n, kept, out[0] if n else 0)
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static", chunksize=4096):
        out[t] = <floating> cp_entry(&c, t, n, c.I[0][t], out[0])


def cp_sse(factors, biases, const long long[::1] indptr, index, double mean,
           const floating[::1] values, int n_threads, double lo=-np.inf,
           double hi=np.inf):
    """Σ_t (e_t − values[t])² over a CP model's entries e_t (cp_entries' out[t],
    rounded to values' dtype as it rounds them, then clipped to [lo, hi]) at
    observations held as a
    TensorRatings holds them: mode 0 compressed (``indptr``, int64, one more than
    factors[0]'s rows, from 0 to len(values)) and ``index`` the N − 1 other modes'
    int32 arrays. Summed in float64 by blocks of 4096 in a fixed order (the same
    for any thread count): the held-out squared error without an array of
    predictions or of mode-0 positions. Other arguments as cp_entries'."""
    cdef Py_ssize_t n = values.shape[0], t, blk, n_blocks = (n + 4095) // 4096
    cdef Py_ssize_t i0, n0 = indptr.shape[0] - 1, a, z, mid
    cdef double s, e, total = 0
    cdef floating v0 = values[0] if n else 0, x
    cdef floating flo = <floating> lo, fhi = <floating> hi
    if n0 < 0 or indptr[0] != 0 or indptr[n0] != n:
        raise ValueError(f"indptr must run from 0 to len(values) = {n}")
    kept = []
    cdef CPRows c = cp_rows(factors, biases, [None] + list(index), mean, n, kept, v0)
    _check_same("indptr and factors[0] rows", n0, factors[0].shape[0])
    _check_threads(n_threads)
    partial = np.zeros(n_blocks)
    cdef double[::1] part = partial
    for blk in prange(n_blocks, nogil=True, num_threads=n_threads, schedule="static"):
        t = blk * 4096
        a = 0  # the row of entry t: the last i0 with indptr[i0] <= t
        z = n0
        while z - a > 1:
            mid = (a + z) // 2
            if indptr[mid] <= t:
                a = mid
            else:
                z = mid
        i0 = a
        s = 0
        for t in range(blk * 4096, min(n, (blk + 1) * 4096)):
            while indptr[i0 + 1] <= t:
                i0 = i0 + 1
            x = <floating> cp_entry(&c, t, n, i0, v0)
            x = min(max(x, flo), fhi)
            e = <double> x - values[t]
            s = s + e * e
        part[blk] = s
    for blk in range(n_blocks):
        total = total + part[blk]
    return total


cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    int omp_get_num_threads() noexcept nogil

cdef int _team_size = 0


def last_team_size():
    """Number of OpenMP threads that ran the last ``csr_rmatmat``'s parallel
    region (0 before the first call; 1 in a build without OpenMP)."""
    return _team_size


#: Most row blocks csr_rmatmat splits S into, and the memory their partial sums
#: may take: the block count fixes the summation order, so it depends on the
#: sizes only, never on the thread count.
RMATMAT_MAX_BLOCKS = 8
RMATMAT_BUFFER_BYTES = 64 << 20


def rmatmat_blocks(long long nnz, long long n_out, long long n_cols, int itemsize):
    """How many row blocks csr_rmatmat should cut S into: up to
    RMATMAT_MAX_BLOCKS, each with at least 2^16 nonzeros, the partial sums of
    all but the first within RMATMAT_BUFFER_BYTES."""
    cdef long long per = max(1, n_out * n_cols * itemsize)
    cdef long long by_memory = 1 + RMATMAT_BUFFER_BYTES // per
    return int(max(1, min(RMATMAT_MAX_BLOCKS, nnz >> 16, by_memory)))



cdef void _split_rows(const long long* indptr, Py_ssize_t m, Py_ssize_t nb,
                      Py_ssize_t* first) noexcept nogil:
    """first[b]: the first row of block b of nb, rows split by nonzeros (first[nb] = m)."""
    cdef Py_ssize_t b, i = 0
    cdef long long nnz = indptr[m] - indptr[0]
    for b in range(nb):
        while i < m and indptr[i] - indptr[0] < nnz * b // nb:
            i = i + 1
        first[b] = i
    first[nb] = m


cdef void _add_parts(floating* out, const floating* bufs, Py_ssize_t nb, Py_ssize_t n_out,
                     Py_ssize_t n_cols, int n_threads) noexcept nogil:
    """out += the partial sums of blocks 1..nb-1 (n_out x n_cols each, in bufs), added in
    block order so the result does not depend on the thread count."""
    cdef Py_ssize_t j, b, k
    cdef floating* o
    cdef const floating* x
    if nb < 2:
        return
    for j in prange(n_out, num_threads=n_threads, schedule="static"):
        o = out + j * n_cols
        for b in range(1, nb):
            x = bufs + (b - 1) * n_out * n_cols + j * n_cols
            for k in range(n_cols):
                o[k] = o[k] + x[k]


def csr_rmatmat(const long long[::1] indptr, const index_t[::1] indices,
                const floating[::1] data, const floating[:, ::1] Q,
                floating[:, ::1] out, int n_blocks, int n_threads):
    """out = Sᵀ @ Q for S in CSR form, without forming Sᵀ.

    S's rows are cut into ``n_blocks`` blocks of about equal nonzeros; each
    block scatters its rows, in order, into its own partial sum (block 0 into
    ``out``), threads taking whole blocks; then out = ((P0 + P1) + P2) + ...
    row by row. The blocks, not the threads, fix every summation order, so the
    result does not depend on the thread count (pick ``n_blocks`` with
    :func:`rmatmat_blocks`).
    """
    cdef Py_ssize_t b, i, p, k, c, nb = n_blocks
    cdef Py_ssize_t m = Q.shape[0], n_cols = Q.shape[1], n_out = out.shape[0]
    cdef Py_ssize_t size = n_out * n_cols
    cdef floating v
    cdef floating* o
    cdef floating* part
    cdef const floating* x
    _check_indptr("indptr", indptr, m, indices.shape[0], data.shape[0])
    _check_same("Q and out columns", n_cols, out.shape[1])
    _check_threads(n_threads)
    if nb < 1:
        raise ValueError(f"n_blocks must be >= 1, got {nb}")
    if size == 0:
        return
    cdef Py_ssize_t* first = <Py_ssize_t*> malloc((nb + 1) * sizeof(Py_ssize_t))
    cdef floating* bufs = <floating*> malloc((nb - 1) * size * sizeof(floating) + 1)
    if first == NULL or bufs == NULL:
        free(first)
        free(bufs)
        raise MemoryError()
    cdef const floating* q0 = &Q[0, 0]
    cdef floating* out0 = &out[0, 0]
    cdef int* team = &_team_size
    try:
        with nogil:
            _split_rows(&indptr[0], m, nb, first)
        with nogil, parallel(num_threads=n_threads):
            team[0] = omp_get_num_threads()
            for b in prange(nb, schedule="dynamic", chunksize=1):
                # P_b = S[rows of b]ᵀ @ Q[rows of b], rows in order.
                part = out0 if b == 0 else bufs + (b - 1) * size
                memset(part, 0, size * sizeof(floating))
                for i in range(first[b], first[b + 1]):
                    x = q0 + i * n_cols
                    for p in range(indptr[i], indptr[i + 1]):
                        v = data[p]
                        o = part + indices[p] * n_cols
                        for k in range(n_cols):
                            o[k] = o[k] + v * x[k]
        with nogil:
            _add_parts(out0, bufs, nb, n_out, n_cols, n_threads)
    finally:
        free(first)
        free(bufs)


def csr_gram(const long long[::1] indptr, const index_t[::1] indices,
             const floating[::1] data, const floating[:, ::1] Q,
             floating[:, ::1] W, floating[:, ::1] Y, int n_blocks, int n_threads):
    """W = S @ Q and Y = Sᵀ @ W = SᵀS Q in one pass over S (CSR).

    Row i of S gives w_i = Σ_p s_ip Q[j_p] (nonzeros in order), stored in W,
    then scatters Y[j_p] += s_ip w_i while the row is in cache
    (``_gram_rows.h``). Rows are cut into ``n_blocks`` blocks with their own
    partial sums of Y, added in block order (as :func:`csr_rmatmat`): the
    result does not depend on the thread count.
    """
    cdef Py_ssize_t b, nb = n_blocks
    cdef Py_ssize_t m = W.shape[0], n_cols = Q.shape[1], n_out = Y.shape[0]
    cdef Py_ssize_t size = n_out * n_cols
    cdef floating* part
    _check_indptr("indptr", indptr, m, indices.shape[0], data.shape[0])
    _check_same("Q and W columns", n_cols, W.shape[1])
    _check_same("Q and Y columns", n_cols, Y.shape[1])
    _check_same("Q and Y rows", Q.shape[0], n_out)
    _check_threads(n_threads)
    if nb < 1:
        raise ValueError(f"n_blocks must be >= 1, got {nb}")
    if size == 0 or m == 0:
        Y[:, :] = 0
        W[:, :] = 0
        return
    cdef Py_ssize_t* first = <Py_ssize_t*> malloc((nb + 1) * sizeof(Py_ssize_t))
    cdef floating* bufs = <floating*> malloc((nb - 1) * size * sizeof(floating) + 1)
    if first == NULL or bufs == NULL:
        free(first)
        free(bufs)
        raise MemoryError()
    cdef const long long* ip = &indptr[0]
    cdef const void* ix = &indices[0] if indices.shape[0] else NULL
    cdef const void* dv = &data[0] if data.shape[0] else NULL
    cdef const floating* q0 = &Q[0, 0]
    cdef floating* w0 = &W[0, 0]
    cdef floating* y0 = &Y[0, 0]
    cdef int* team = &_team_size
    cdef int width = SIMD_WIDTH
    try:
        with nogil:
            _split_rows(ip, m, nb, first)
        with nogil, parallel(num_threads=n_threads):
            team[0] = omp_get_num_threads()
            for b in prange(nb, schedule="dynamic", chunksize=1):
                part = y0 if b == 0 else bufs + (b - 1) * size
                memset(part, 0, size * sizeof(floating))
                if floating is double:
                    if index_t is int:
                        lorank_gram_di(width, ip, ix, dv, q0, w0, part, first[b],
                                       first[b + 1], n_cols)
                    else:
                        lorank_gram_dl(width, ip, ix, dv, q0, w0, part, first[b],
                                       first[b + 1], n_cols)
                else:
                    if index_t is int:
                        lorank_gram_fi(width, ip, ix, dv, q0, w0, part, first[b],
                                       first[b + 1], n_cols)
                    else:
                        lorank_gram_fl(width, ip, ix, dv, q0, w0, part, first[b],
                                       first[b + 1], n_cols)
        with nogil:
            _add_parts(y0, bufs, nb, n_out, n_cols, n_threads)
    finally:
        free(first)
        free(bufs)


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
    _check_indptr("indptr", indptr, n_rows, indices.shape[0], data.shape[0])
    _check_same("M and out columns", n_cols, out.shape[1])
    _check_threads(n_threads)
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


# ---------------------------------------------------------------------------
# Construction of CSR/CSC views for lorank.Ratings: stable counting sorts.
# The input is cut into n_chunks contiguous pieces, each counted and scattered
# by one thread into its own slots of every bucket (bucket-major, chunk-minor
# offsets), so the output is the unique stable order whatever the thread count.

ctypedef fused major_t:
    int
    long long

ctypedef fused minor_t:
    int
    long long

ctypedef fused out_t:
    int
    long long

# What the sorts carry: values, or positions (to gather several arrays after).
ctypedef fused payload_t:
    float
    double
    int
    long long


cdef long long _offsets(long long* cur, long long[::1] indptr, Py_ssize_t n_chunks,
                        Py_ssize_t n_buckets) noexcept nogil:
    """Turn per-chunk bucket counts into per-chunk write cursors; fill indptr."""
    cdef Py_ssize_t b, k
    cdef long long run = 0, c
    for b in range(n_buckets):
        indptr[b] = run
        for k in range(n_chunks):
            c = cur[k * n_buckets + b]
            cur[k * n_buckets + b] = run
            run = run + c
    indptr[n_buckets] = run
    return run


def sort_chunks(long long nnz, long long n_buckets, int n_threads):
    """How many chunks to cut nnz entries into: one per thread, but never more
    than the entries justify (each chunk holds a count per bucket)."""
    cdef long long by_size = nnz // max(n_buckets, 1 << 16)
    return int(max(1, min(n_threads, by_size)))


#: Large sorts into many buckets run in two levels: a stable scatter into
#: coarse buckets of 2^lo_bits consecutive keys (few write streams, so the
#: written cache lines stay in cache), then a stable counting sort by the low
#: bits inside each coarse bucket. Both levels are stable: the output is the
#: same as one level's. One level into Netflix's 17770 movies keeps 35540
#: write streams open, more cache lines than L2 holds: at 100M entries it
#: takes twice the CPU time of two levels, at 10M (in L3) a third less.
TWO_LEVEL_BUCKETS = 2048
TWO_LEVEL_ENTRIES = 1 << 25
ALWAYS_TWO_LEVEL_BUCKETS = 1 << 16


def split_bits(long long n_buckets, long long nnz):
    """The low bits of the second level for ``nnz`` entries into ``n_buckets``
    buckets (0: one level): about half the key bits, so both levels write to
    few streams."""
    cdef int bits = 0
    if n_buckets <= TWO_LEVEL_BUCKETS or (nnz < TWO_LEVEL_ENTRIES
                                          and n_buckets <= ALWAYS_TWO_LEVEL_BUCKETS):
        return 0
    while (1 << bits) < n_buckets:
        bits += 1
    return int(min(max((bits + 1) // 2, 7), 11))


cdef int _check_split(int lo_bits, Py_ssize_t nnz) except -1:
    if not 0 <= lo_bits <= 12:
        raise ValueError(f"lo_bits must be in 0..12, got {lo_bits}")
    return 0


cdef tuple _first_level(long long[::1] indptr, out_t[::1] out_indices,
                        payload_t[::1] out_values, int lo_bits):
    """Where the scatter into buckets writes: (bucket pointers, indices, values,
    each entry's low key bits). Always the output arrays: with two levels their
    buckets are the coarse ones (2^lo_bits keys), which ``_fine_sort`` then sorts
    in place (the only temporary: two bytes of low bits per entry)."""
    _check_split(lo_bits, out_indices.shape[0])
    if not lo_bits:
        return indptr, out_indices, out_values, np.empty(1, dtype=np.uint16)
    cdef Py_ssize_t nnz = out_indices.shape[0]
    cdef Py_ssize_t nh = (indptr.shape[0] - 1 + (1 << lo_bits) - 1) >> lo_bits
    return (np.empty(nh + 1, dtype=np.int64), out_indices, out_values,
            np.empty(max(nnz, 1), dtype=np.uint16))


cdef inline void _place(long long* cursors, long long key, int lo_bits, out_t index,
                        payload_t value, out_t* dst_idx, payload_t* dst_val,
                        unsigned short* dst_lo) noexcept nogil:
    """Scatter one entry to its chunk's cursor in bucket ``key >> lo_bits`` (and
    move the cursor on: entries keep their order), with the key's low bits for
    the second level."""
    cdef long long p = cursors[key >> lo_bits]
    cursors[key >> lo_bits] = p + 1
    dst_idx[p] = index
    dst_val[p] = value
    if lo_bits:
        dst_lo[p] = <unsigned short> (key & ((1 << lo_bits) - 1))


cdef int _fine_sort(const long long[::1] hi_ptr, int lo_bits, const unsigned short[::1] t_lo,
                    long long[::1] out_indptr, out_t[::1] out_indices,
                    payload_t[::1] out_values, Py_ssize_t nc) except -1:
    """Level 2: inside each coarse bucket h (entries hi_ptr[h]..hi_ptr[h+1] of the
    output arrays), a stable counting sort by the low bits ``t_lo``, through a
    per-thread copy of the bucket (the largest bucket's size)."""
    cdef Py_ssize_t nh = hi_ptr.shape[0] - 1, nb = out_indptr.shape[0] - 1
    cdef Py_ssize_t h, lo, j, width = 1 << lo_bits
    cdef long long p, q, run, c, start, size, largest = 1
    cdef long long* cnt
    cdef out_t* s_idx
    cdef payload_t* s_val
    cdef int failed = 0
    cdef int* bad = &failed
    for h in range(nh):
        largest = max(largest, hi_ptr[h + 1] - hi_ptr[h])
    with nogil, parallel(num_threads=nc):
        cnt = <long long*> malloc(width * sizeof(long long))
        s_idx = <out_t*> malloc(largest * sizeof(out_t))
        s_val = <payload_t*> malloc(largest * sizeof(payload_t))
        try:
            for h in prange(nh, schedule="dynamic", chunksize=1):
                if cnt == NULL or s_idx == NULL or s_val == NULL:
                    bad[0] = 1
                    continue
                start = hi_ptr[h]
                size = hi_ptr[h + 1] - start
                memset(cnt, 0, width * sizeof(long long))
                for q in range(size):
                    s_idx[q] = out_indices[start + q]
                    s_val[q] = out_values[start + q]
                    cnt[t_lo[start + q]] += 1
                run = start
                for lo in range(width):
                    c = cnt[lo]
                    cnt[lo] = run
                    j = (h << lo_bits) + lo
                    if j < nb:
                        out_indptr[j] = run
                    run = run + c
                for q in range(size):
                    p = cnt[t_lo[start + q]]
                    cnt[t_lo[start + q]] = p + 1
                    out_indices[p] = s_idx[q]
                    out_values[p] = s_val[q]
        finally:
            free(cnt)
            free(s_idx)
            free(s_val)
    if failed:
        raise MemoryError()
    out_indptr[nb] = hi_ptr[nh]
    return 0


def coo_compress(const major_t[::1] major, const minor_t[::1] minor,
                 const payload_t[::1] values, long long[::1] indptr,
                 out_t[::1] out_indices, payload_t[::1] out_values, int n_chunks,
                 int lo_bits=0):
    """Stable counting sort of COO entries by ``major``.

    Fills ``indptr`` (length n_major + 1) and, bucket by bucket in input order,
    ``out_indices`` (the minor index) and ``out_values``. ``lo_bits`` > 0 sorts
    in two levels (see ``split_bits``), with the same result.
    """
    cdef Py_ssize_t nnz = major.shape[0], nb = indptr.shape[0] - 1
    cdef Py_ssize_t k, t, nh, nc = n_chunks
    cdef long long lo, hi
    cdef long long* mine
    if not (minor.shape[0] == values.shape[0] == nnz == out_indices.shape[0]
            == out_values.shape[0]):
        raise ValueError("major, minor, values, out_indices and out_values must have the "
                         f"same length, got {major.shape[0]}, {minor.shape[0]}, "
                         f"{values.shape[0]}, {out_indices.shape[0]} and {out_values.shape[0]}")
    if nb < 0 or nc < 1:
        raise ValueError(f"indptr (length {indptr.shape[0]}) needs at least one entry and "
                         f"n_chunks ({nc}) must be >= 1")
    cdef long long[::1] coarse
    cdef out_t[::1] dst_idx
    cdef payload_t[::1] dst_val
    cdef unsigned short[::1] dst_lo
    coarse, dst_idx, dst_val, dst_lo = _first_level(indptr, out_indices, out_values, lo_bits)
    nh = coarse.shape[0] - 1
    cdef out_t* di = &dst_idx[0]
    cdef payload_t* dv = &dst_val[0]
    cdef unsigned short* dl = &dst_lo[0]
    cdef long long* cur = <long long*> calloc(nc * nh + 1, sizeof(long long))
    if cur == NULL:
        raise MemoryError()
    try:
        for k in prange(nc, nogil=True, num_threads=nc, schedule="static", chunksize=1):
            mine = cur + k * nh
            lo = nnz * k // nc
            hi = nnz * (k + 1) // nc
            for t in range(lo, hi):
                mine[major[t] >> lo_bits] += 1
        with nogil:
            _offsets(cur, coarse, nc, nh)
        for k in prange(nc, nogil=True, num_threads=nc, schedule="static", chunksize=1):
            mine = cur + k * nh
            lo = nnz * k // nc
            hi = nnz * (k + 1) // nc
            for t in range(lo, hi):
                _place(mine, major[t], lo_bits, <out_t> minor[t], values[t], di, dv, dl)
    finally:
        free(cur)
    if lo_bits:
        _fine_sort(coarse, lo_bits, dst_lo, indptr, out_indices, out_values, nc)


cdef void _major_chunks(const long long[::1] indptr, Py_ssize_t n_major, long long nnz,
                        Py_ssize_t nc, Py_ssize_t* first) noexcept nogil:
    """first[k]: the first major of chunk k (majors split by entry count)."""
    cdef Py_ssize_t i = 0, k
    for k in range(nc):
        while i < n_major and indptr[i] < nnz * k // nc:
            i = i + 1
        first[k] = i
    first[nc] = n_major


def compressed_transpose(const long long[::1] indptr, const minor_t[::1] indices,
                         const payload_t[::1] values, long long[::1] out_indptr,
                         out_t[::1] out_indices, payload_t[::1] out_values, int n_chunks,
                         int lo_bits=0):
    """CSR -> CSC (or CSC -> CSR) by a stable counting sort over the minor index.

    Majors are visited in increasing order, so within every output bucket the
    new minor indices are non-decreasing and equal ones keep their input order.
    ``out_indptr`` has length n_minor + 1. Chunks are ranges of majors holding
    about nnz / n_chunks entries each. ``lo_bits`` > 0 sorts in two levels
    (see ``split_bits``), with the same result.
    """
    cdef Py_ssize_t n_major = indptr.shape[0] - 1, nb = out_indptr.shape[0] - 1
    cdef Py_ssize_t i, k, nh, nc = n_chunks
    cdef long long p, nnz
    cdef long long* mine
    _check_indptr("indptr", indptr, -1, indices.shape[0], values.shape[0])
    nnz = indptr[n_major]
    if indptr[0] != 0 or not (out_indices.shape[0] == out_values.shape[0] == nnz):
        raise ValueError(f"indptr must run from 0 to the {nnz} entries that out_indices "
                         f"({out_indices.shape[0]}) and out_values ({out_values.shape[0]}) "
                         "hold")
    if nb < 0 or nc < 1:
        raise ValueError(f"out_indptr (length {out_indptr.shape[0]}) needs at least one "
                         f"entry and n_chunks ({nc}) must be >= 1")
    cdef long long[::1] coarse
    cdef out_t[::1] dst_idx
    cdef payload_t[::1] dst_val
    cdef unsigned short[::1] dst_lo
    coarse, dst_idx, dst_val, dst_lo = _first_level(out_indptr, out_indices, out_values,
                                                    lo_bits)
    nh = coarse.shape[0] - 1
    cdef out_t* di = &dst_idx[0]
    cdef payload_t* dv = &dst_val[0]
    cdef unsigned short* dl = &dst_lo[0]
    cdef long long* cur = <long long*> calloc(nc * nh + 1, sizeof(long long))
    cdef Py_ssize_t* first = <Py_ssize_t*> malloc((nc + 1) * sizeof(Py_ssize_t))
    if cur == NULL or first == NULL:
        free(cur)
        free(first)
        raise MemoryError()
    try:
        with nogil:
            _major_chunks(indptr, n_major, nnz, nc, first)
        for k in prange(nc, nogil=True, num_threads=nc, schedule="static", chunksize=1):
            mine = cur + k * nh
            for p in range(indptr[first[k]], indptr[first[k + 1]]):
                mine[indices[p] >> lo_bits] += 1
        with nogil:
            _offsets(cur, coarse, nc, nh)
        for k in prange(nc, nogil=True, num_threads=nc, schedule="static", chunksize=1):
            mine = cur + k * nh
            for i in range(first[k], first[k + 1]):
                for p in range(indptr[i], indptr[i + 1]):
                    _place(mine, indices[p], lo_bits, <out_t> i, values[p], di, dv, dl)
    finally:
        free(cur)
        free(first)
    if lo_bits:
        _fine_sort(coarse, lo_bits, dst_lo, out_indptr, out_indices, out_values, nc)


def first_duplicate(const long long[::1] indptr, const minor_t[::1] indices):
    """(major, minor) of the first repeated pair in a compressed structure whose
    minor indices are sorted within each major, or None."""
    cdef Py_ssize_t i, n_major = indptr.shape[0] - 1
    cdef long long p, found = -1
    _check_indptr("indptr", indptr, -1, indices.shape[0], -1)
    with nogil:
        for i in range(n_major):
            for p in range(indptr[i] + 1, indptr[i + 1]):
                if indices[p] == indices[p - 1]:
                    found = p
                    break
            if found >= 0:
                break
    if found < 0:
        return None
    return int(i), int(indices[found])


def merge_duplicates(long long[::1] indptr, minor_t[::1] indices,
                     payload_t[::1] values, bint mean):
    """Collapse runs of equal minor indices within each major, in place.

    Keeps the mean of a run (``mean``) or its last value. Returns the new nnz;
    ``indptr`` is rewritten for the compacted arrays.
    """
    cdef Py_ssize_t i, n_major = indptr.shape[0] - 1
    cdef long long p, q, t, end, w = 0, start = 0
    cdef double acc
    _check_indptr("indptr", indptr, -1, indices.shape[0], values.shape[0])
    with nogil:
        for i in range(n_major):
            p = start
            end = indptr[i + 1]
            while p < end:
                q = p + 1
                while q < end and indices[q] == indices[p]:
                    q = q + 1
                if mean and q - p > 1:
                    acc = 0
                    for t in range(p, q):
                        acc = acc + values[t]
                    values[w] = <payload_t> (acc / (q - p))
                else:
                    values[w] = values[q - 1]
                indices[w] = indices[p]
                w = w + 1
                p = q
            start = end
            indptr[i + 1] = w
    return w


def check_compressed(const long long[::1] indptr, const minor_t[::1] indices,
                     long long n_minor):
    """Validate a compressed structure whose indptr was already checked.

    Returns None, or (code, major, position): code 0 = index out of range,
    1 = minor indices not strictly increasing within the major.
    """
    cdef Py_ssize_t i, n_major = indptr.shape[0] - 1
    cdef long long p, bad = -1
    cdef int code = -1
    _check_indptr("indptr", indptr, -1, indices.shape[0], -1)
    with nogil:
        for i in range(n_major):
            for p in range(indptr[i], indptr[i + 1]):
                if indices[p] < 0 or indices[p] >= n_minor:
                    code = 0
                elif p > indptr[i] and indices[p] <= indices[p - 1]:
                    code = 1
                if code >= 0:
                    bad = p
                    break
            if code >= 0:
                break
    if code < 0:
        return None
    return code, int(i), int(bad)

def first_descent(const index_t[::1] keys):
    """The first position p with keys[p] < keys[p - 1], or -1 (non-decreasing)."""
    cdef Py_ssize_t p, n = keys.shape[0], found = -1
    with nogil:
        for p in range(1, n):
            if keys[p] < keys[p - 1]:
                found = p
                break
    return int(found)


def take(const payload_t[::1] src, const index_t[::1] idx, payload_t[::1] out,
         int n_threads):
    """out[t] = src[idx[t]]; the caller checked 0 <= idx < len(src)."""
    cdef Py_ssize_t t, n = idx.shape[0]
    _check_same("idx and out lengths", n, out.shape[0])
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        out[t] = src[idx[t]]


def scale_sums(const long long[::1] indptr, const int[::1] indices,
               const double[::1] minor_scale, double[::1] out, int n_threads):
    """out[i] = the sum of minor_scale[indices[p]] over row i's entries (CSR or
    CSC order): the per-row sums of weights w_ij = τ_i κ_j are τ_i out[i]. The
    caller checked 0 <= indices < len(minor_scale)."""
    cdef Py_ssize_t i, n_major = out.shape[0]
    cdef long long p
    cdef double total
    _check_indptr("indptr", indptr, n_major, indices.shape[0], -1)
    _check_threads(n_threads)
    for i in prange(n_major, nogil=True, num_threads=n_threads, schedule="static",
                    chunksize=256):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total = total + minor_scale[indices[p]]
        out[i] = total


def take_wide(const int[::1] src, const index_t[::1] idx, long long[::1] out, int n_threads):
    """out[t] = src[idx[t]] widened to int64 (int32 days to datetime64[D]); the
    caller checked 0 <= idx < len(src)."""
    cdef Py_ssize_t t, n = idx.shape[0]
    _check_same("idx and out lengths", n, out.shape[0])
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        out[t] = src[idx[t]]


# ---------------------------------------------------------------------------
# Integer labels in a bounded range -> codes, by a lookup table (no sort).

def mark_labels(const index_t[::1] labels, long long lo, unsigned char[::1] present,
                int n_threads):
    """present[v - lo] = 1 for every label v; the caller checked lo <= v <
    lo + len(present). Threads may store to one byte at once, always the value 1."""
    cdef Py_ssize_t t, n = labels.shape[0]
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        present[labels[t] - lo] = 1


def lookup_codes(const index_t[::1] labels, long long lo, const out_t[::1] table,
                 out_t[::1] codes, int n_threads):
    """codes[t] = table[labels[t] - lo]; the caller checked the labels' range."""
    cdef Py_ssize_t t, n = labels.shape[0]
    _check_same("labels and codes lengths", n, codes.shape[0])
    _check_threads(n_threads)
    for t in prange(n, nogil=True, num_threads=n_threads, schedule="static"):
        codes[t] = table[labels[t] - lo]


def sort_grouped(const long long[::1] indptr, const index_t[::1] labels, long long lo,
                 const out_t[::1] table, const payload_t[::1] values, out_t[::1] out_rows,
                 payload_t[::1] out_values, int n_threads):
    """COO entries grouped by column (column j holds entries indptr[j]..indptr[j+1])
    -> CSC: each column's rows ``table[labels[t] - lo]``, stably sorted (LSD
    radix sort in the column, 11 bits a pass), with their values. Returns the
    first column holding a repeated row, or -1. The caller checked the labels'
    range and that indptr runs from 0 to len(labels); columns are independent,
    so the result does not depend on the thread count."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, j, d
    cdef long long nnz = labels.shape[0], p, q, s, size, run, c, largest = 1, top = 2048
    cdef int passes = 1, shift, failed = 0
    cdef int* bad = &failed
    repeated_arr = np.zeros(max(n, 1), dtype=np.uint8)
    cdef unsigned char[::1] repeated = repeated_arr
    cdef long long* cnt
    cdef out_t* k0
    cdef out_t* k1
    cdef payload_t* v0
    cdef payload_t* v1
    cdef out_t* ks
    cdef payload_t* vs
    cdef out_t* kd
    cdef payload_t* vd
    cdef out_t key
    cdef payload_t val
    _check_indptr("indptr", indptr, -1, labels.shape[0], values.shape[0])
    _check_same("labels and out_rows lengths", nnz, out_rows.shape[0])
    _check_same("labels and out_values lengths", nnz, out_values.shape[0])
    _check_threads(n_threads)
    for j in range(n):
        largest = max(largest, indptr[j + 1] - indptr[j])
    while top < table.shape[0]:  # key bits, 11 a pass
        top <<= 11
        passes += 1
    with nogil, parallel(num_threads=n_threads):
        cnt = <long long*> malloc(2048 * sizeof(long long))
        k0 = <out_t*> malloc(2 * largest * sizeof(out_t))
        v0 = <payload_t*> malloc(2 * largest * sizeof(payload_t))
        try:
            for j in prange(n, schedule="dynamic", chunksize=16):
                if cnt == NULL or k0 == NULL or v0 == NULL:
                    bad[0] = 1
                    continue
                s = indptr[j]
                size = indptr[j + 1] - s
                k1 = k0 + largest
                v1 = v0 + largest
                for q in range(size):
                    k0[q] = table[labels[s + q] - lo]
                    v0[q] = values[s + q]
                if size <= 32:  # insertion sort (stable), then copy out
                    for q in range(1, size):
                        key = k0[q]
                        val = v0[q]
                        p = q - 1
                        while p >= 0 and k0[p] > key:
                            k0[p + 1] = k0[p]
                            v0[p + 1] = v0[p]
                            p = p - 1
                        k0[p + 1] = key
                        v0[p + 1] = val
                    for q in range(size):
                        out_rows[s + q] = k0[q]
                        out_values[s + q] = v0[q]
                else:
                    ks, vs, kd, vd = k0, v0, k1, v1
                    for d in range(passes):
                        shift = 11 * d
                        if d == passes - 1:
                            kd = &out_rows[s]
                            vd = &out_values[s]
                        memset(cnt, 0, 2048 * sizeof(long long))
                        for q in range(size):
                            cnt[(ks[q] >> shift) & 2047] += 1
                        run = 0
                        for q in range(2048):
                            c = cnt[q]
                            cnt[q] = run
                            run = run + c
                        for q in range(size):
                            p = cnt[(ks[q] >> shift) & 2047]
                            cnt[(ks[q] >> shift) & 2047] = p + 1
                            kd[p] = ks[q]
                            vd[p] = vs[q]
                        ks, vs, kd, vd = kd, vd, ks, vs
                for q in range(s + 1, s + size):
                    if out_rows[q] == out_rows[q - 1]:
                        repeated[j] = 1
                        break
        finally:
            free(cnt)
            free(k0)
            free(v0)
    if failed:
        raise MemoryError()
    hits = np.flatnonzero(repeated_arr)
    return int(hits[0]) if hits.size else -1


def residual(const long long[::1] indptr, const index_t[::1] indices,
             const floating[::1] values, const floating[:, ::1] left,
             const floating[:, ::1] right, floating[::1] out, int n_threads):
    """out[p] = values[p] − <left[i], right[j]> for every stored (i, j) of a CSR
    pattern (pass the CSC arrays with left and right swapped for a CSC pattern)."""
    cdef Py_ssize_t i, p, k, n_rows = indptr.shape[0] - 1, r = left.shape[1]
    cdef floating acc
    _check_indptr("indptr", indptr, left.shape[0], indices.shape[0], values.shape[0])
    _check_same("left and right columns", r, right.shape[1])
    _check_same("values and out lengths", values.shape[0], out.shape[0])
    _check_threads(n_threads)
    for i in prange(n_rows, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=64):
        for p in range(indptr[i], indptr[i + 1]):
            acc = values[p]
            for k in range(r):
                acc = acc - left[i, k] * right[indices[p], k]
            out[p] = acc
