"""The exact ALS half-step: one ridge regression per row (or column), in parallel.

For every target j with observations Ω_j (the CSR/CSC slice of j), with features
f_i = [F_i(:rank), 1] (the 1 only when biases are on) from the fixed factor F, solve

    (Σ_{i∈Ω_j} f_i f_iᵀ + λ_j I) x_j = Σ_{i∈Ω_j} (x_ij − μ − u_i) f_i

where u_i = F[i, rank] is the fixed side's bias (biases on) and λ_j is given per
target (``ALS`` passes reg·|Ω_j|^α). x_j = [b_j, c_j] is written to row j of the
solved factor.
Factor rows are ``stride`` wide, a whole number of 64-byte vectors, with zero padding
past rank + biases (``als._factor_storage`` makes them). Inputs are validated in
Python; the kernel checks only the row layout, in O(1).
"""

from cython cimport floating

import numpy as np
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

cimport scipy.linalg.cython_lapack as lapack

cdef extern from "_als_gram.h" nogil:
    int LORANK_MAXBYTES
    size_t LORANK_SCRATCH_BYTES(size_t row_bytes)
    int lorank_f_gram(int width, int64_t n, const int* idx, const float* vals, const float* F,
                       int stride, int rank, int biases, double mean,
                       float* G, float* b, double* tt, void* scratch)
    int lorank_d_gram(int width, int64_t n, const int* idx, const double* vals, const double* F,
                       int stride, int rank, int biases, double mean,
                       double* G, double* b, double* tt, void* scratch)
    void lorank_f_residual(int width, int64_t n, const int* idx, const float* vals, const float* F,
                           int stride, int rank, int biases, double mean, const float* x,
                           double* sse, double* rsum)
    void lorank_d_residual(int width, int64_t n, const int* idx, const double* vals, const double* F,
                           int stride, int rank, int biases, double mean, const double* x,
                           double* sse, double* rsum)

#: Widest factor row the kernel takes, in bytes (rank + biases <= 256 in float32).
MAX_ROW_BYTES = LORANK_MAXBYTES

include "_simd.pxi"


cdef enum:
    # Systems up to this size are solved by an inline Cholesky, larger by LAPACK.
    INLINE_MAX = 32


cdef inline void gram(int64_t n, const int* idx, const floating* vals,
                      const floating* F, int stride, int rank, int biases, double mean,
                      floating* G, floating* b, double* tt, void* scratch) noexcept nogil:
    if floating is double:
        lorank_d_gram(SIMD_WIDTH, n, idx, vals, F, stride, rank, biases, mean, G, b, tt,
                      scratch)
    else:
        lorank_f_gram(SIMD_WIDTH, n, idx, vals, F, stride, rank, biases, mean, G, b, tt,
                      scratch)


cdef inline void residual(int64_t n, const int* idx, const floating* vals,
                          const floating* F, int stride, int rank, int biases, double mean,
                          const floating* x, double* sse, double* rsum) noexcept nogil:
    if floating is double:
        lorank_d_residual(SIMD_WIDTH, n, idx, vals, F, stride, rank, biases, mean, x, sse, rsum)
    else:
        lorank_f_residual(SIMD_WIDTH, n, idx, vals, F, stride, rank, biases, mean, x, sse, rsum)


cdef inline int cholesky_solve(int n, int ld, floating* G, floating* b) noexcept nogil:
    """Solve G x = b in place (b ← x) for symmetric positive definite G (n x n, row
    stride ld) whose lower triangle is filled. Returns 0, or k > 0 if the leading
    k x k minor is not positive definite."""
    cdef int i, j, k, info = 0, one = 1
    cdef floating s
    if n > INLINE_MAX:
        # Row-major lower is column-major upper.
        if floating is double:
            lapack.dpotrf("U", &n, G, &ld, &info)
            if info == 0:
                lapack.dpotrs("U", &n, &one, G, &ld, b, &n, &info)
        else:
            lapack.spotrf("U", &n, G, &ld, &info)
            if info == 0:
                lapack.spotrs("U", &n, &one, G, &ld, b, &n, &info)
        return info
    # G = L Lᵀ, L overwriting the lower triangle; inv holds 1 / L[j, j].
    cdef floating inv[INLINE_MAX]
    cdef floating *Lj
    cdef floating *Li
    for j in range(n):
        Lj = G + j * ld
        s = Lj[j]
        for k in range(j):
            s = s - Lj[k] * Lj[k]
        if not (s > 0):
            return j + 1
        s = sqrt(s)
        Lj[j] = s
        inv[j] = 1 / s
        for i in range(j + 1, n):
            Li = G + i * ld
            s = Li[j]
            for k in range(j):
                s = s - Li[k] * Lj[k]
            Li[j] = s * inv[j]
    # L y = b, then Lᵀ x = y.
    for i in range(n):
        Li = G + i * ld
        s = b[i]
        for k in range(i):
            s = s - Li[k] * b[k]
        b[i] = s * inv[i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s = s - G[k * ld + i] * b[k]
        b[i] = s * inv[i]
    return 0


cdef int finish(floating* G, floating* b, double tt, floating* b0, floating* srow,
                int64_t n_obs, const int* idx, const floating* vals,
                const floating* fixed, int stride, int rank, bint biases, double mean,
                double lam_j, floating* x, double* sse, double* rsum) noexcept nogil:
    """Given the accumulated G = Σ f fᵀ, b = Σ t f and tt = Σ t² of one target,
    solve (G + λI) x = b into x and fill sse/rsum. Returns the Cholesky status
    (x untouched unless 0). G and b are overwritten."""
    cdef int d = rank + (1 if biases else 0)
    cdef int k, info
    cdef floating lam = <floating> lam_j
    cdef double acc, xb = 0, xx = 0
    for k in range(d):
        b0[k] = b[k]
        if biases:  # Σ_i f_i, the bias row of G
            srow[k] = G[rank * stride + k]
        G[k * stride + k] = G[k * stride + k] + lam
    info = cholesky_solve(d, stride, G, b)
    if info != 0:
        return info
    for k in range(d):
        x[k] = b[k]
        xb = xb + <double> b[k] * b0[k]
        xx = xx + <double> b[k] * b[k]
    acc = tt - xb - lam * xx
    if acc >= 0.25 * tt:
        sse[0] = acc
        rsum[0] = 0
        if biases:  # Σ t is the bias slot of the right-hand side
            acc = b0[rank]
            for k in range(d):
                acc = acc - <double> srow[k] * b[k]
            rsum[0] = acc
    else:
        residual(n_obs, idx, vals, fixed, stride, rank, biases, mean, x, sse, rsum)
        if not biases:
            rsum[0] = 0
    return 0


cdef enum:
    # A fixed factor larger than this many bytes is streamed in tiles of this size,
    # so the rows each target gathers come from L2 rather than memory.
    TILE_BYTES = 1 << 20
    # ... provided the accumulators of all targets fit in this many bytes.
    MAX_ACCUMULATOR_BYTES = 256 << 20


def half_step(const long long[::1] indptr, const int[::1] indices,
              const floating[::1] values, const floating[:, ::1] fixed,
              floating[:, ::1] solved, double mean, const double[::1] lam,
              bint biases, int rank, double[::1] sse, double[::1] rsum,
              int[::1] status, int n_threads):
    """Solve every row of ``solved`` against ``fixed`` (see the module docstring),
    row j with the ridge penalty ``lam[j]``.

    Per target j, ``sse[j]`` and ``rsum[j]`` receive the sum of squared residuals and
    the sum of residuals (with biases; else 0) of its observations at the new
    solution, and ``status[j]`` is 0, or k > 0 if its normal matrix was not positive
    definite (row j of ``solved`` is then left unchanged).

    Both usually come without a second pass over the observations: at the solution
    of (G + λI) x = b, Σ (t − fᵀx)² = Σ t² − xᵀb − λ‖x‖², and with biases
    Σ (t − fᵀx) = Σ t − xᵀ Σ f, read off the Gram matrix's bias row. Where the fit is
    so close that the first identity would lose digits to cancellation (residual
    below a quarter of Σ t²), the residuals are summed directly instead.

    When ``fixed`` is much larger than L2 (the items half-step of a Netflix-sized
    problem gathers from 480k user rows), the targets' normal equations are
    accumulated over tiles of ``fixed`` rows in turn, every target's observations
    in a tile being a contiguous run of its sorted indices. Each target still sums
    its observations in index order: the same result up to rounding (the partial
    sums restart at tile boundaries), and the path depends only on the sizes.
    """
    cdef Py_ssize_t n_solve = solved.shape[0], n_fixed = fixed.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t row_bytes = stride * sizeof(floating)
    if lam.shape[0] != n_solve:
        raise ValueError(f"lam must have one entry per solved row ({n_solve}), "
                         f"got {lam.shape[0]}")
    if (row_bytes % 64 or row_bytes > LORANK_MAXBYTES or d > stride
            or fixed.shape[1] != stride):
        raise ValueError(
            f"factor rows must be whole 64-byte vectors of at most {LORANK_MAXBYTES} "
            f"bytes holding rank + biases = {d} entries, the same for fixed and "
            f"solved; got {fixed.shape[1]} and {stride} entries"
        )
    cdef Py_ssize_t tile = max(1, TILE_BYTES // row_bytes)
    # Each thread's workspace: G (d x stride), b, b0 and srow (stride each) and
    # the gram's gathered block.
    cdef size_t work_bytes = (d + 3) * row_bytes + LORANK_SCRATCH_BYTES(row_bytes)
    failed = np.zeros(1, np.int32)
    cdef int[::1] out_of_memory = failed
    if n_fixed > 2 * tile and n_solve * (d + 1) * row_bytes <= MAX_ACCUMULATOR_BYTES:
        _half_step_tiled(indptr, indices, values, fixed, solved, mean, lam,
                         biases, rank, sse, rsum, status, n_threads, tile, work_bytes,
                         out_of_memory)
    else:
        _half_step_direct(indptr, indices, values, fixed, solved, mean, lam,
                          biases, rank, sse, rsum, status, n_threads, work_bytes,
                          out_of_memory)
    if failed[0]:
        raise MemoryError("out of memory for the ALS kernel's per-thread workspace")


cdef void _half_step_direct(const long long[::1] indptr, const int[::1] indices,
                            const floating[::1] values, const floating[:, ::1] fixed,
                            floating[:, ::1] solved, double mean,
                            const double[::1] lam, bint biases, int rank, double[::1] sse,
                            double[::1] rsum, int[::1] status, int n_threads,
                            size_t work_bytes, int[::1] out_of_memory) noexcept:
    """half_step with every target gathering straight from ``fixed``."""
    cdef Py_ssize_t n_solve = solved.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t j, k
    cdef int64_t p0, n_obs
    cdef floating *G
    cdef double tt

    with nogil, parallel(num_threads=n_threads):
        G = <floating*> malloc(work_bytes)
        try:
            for j in prange(n_solve, schedule="dynamic", chunksize=16):
                if G == NULL:
                    out_of_memory[0] = 1
                    continue
                p0 = indptr[j]
                n_obs = indptr[j + 1] - p0
                sse[j] = 0
                rsum[j] = 0
                status[j] = 0
                if n_obs == 0:
                    # Nothing observed: zero factor and bias; predictions fall back
                    # to the mean and the other side's bias.
                    for k in range(d):
                        solved[j, k] = 0
                    continue
                memset(G, 0, sizeof(floating) * (d + 1) * stride)  # G and b
                tt = 0
                gram(n_obs, &indices[p0], &values[p0], &fixed[0, 0], stride, rank,
                     biases, mean, G, G + d * stride, &tt, G + (d + 3) * stride)
                status[j] = finish(G, G + d * stride, tt, G + (d + 1) * stride,
                                   G + (d + 2) * stride, n_obs, &indices[p0],
                                   &values[p0], &fixed[0, 0], stride, rank, biases, mean,
                                   lam[j], &solved[j, 0], &sse[j], &rsum[j])
        finally:
            free(G)


cdef int _half_step_tiled(const long long[::1] indptr, const int[::1] indices,
                          const floating[::1] values, const floating[:, ::1] fixed,
                          floating[:, ::1] solved, double mean,
                          const double[::1] lam, bint biases, int rank, double[::1] sse,
                          double[::1] rsum, int[::1] status, int n_threads,
                          Py_ssize_t tile, size_t work_bytes,
                          int[::1] out_of_memory) except -1:
    """half_step with the fixed factor streamed tile by tile (see half_step)."""
    cdef Py_ssize_t n_solve = solved.shape[0], n_fixed = fixed.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t j, k, t0, t1
    cdef int64_t p, q, end, n_obs
    cdef floating *Gall = <floating*> calloc(n_solve * d * stride, sizeof(floating))
    cdef floating *ball = <floating*> calloc(n_solve * stride, sizeof(floating))
    cdef double *ttall = <double*> calloc(n_solve, sizeof(double))
    cdef int64_t *cursor = <int64_t*> malloc(n_solve * sizeof(int64_t))
    cdef floating *work
    if Gall == NULL or ball == NULL or ttall == NULL or cursor == NULL:
        free(Gall)
        free(ball)
        free(ttall)
        free(cursor)
        raise MemoryError("out of memory for the ALS kernel's accumulators")
    try:
        with nogil:
            for j in range(n_solve):
                cursor[j] = indptr[j]
            with parallel(num_threads=n_threads):
                work = <floating*> malloc(work_bytes)
                try:
                    t0 = 0
                    while t0 < n_fixed:
                        t1 = min(t0 + tile, n_fixed)
                        for j in prange(n_solve, schedule="dynamic", chunksize=16):
                            if work == NULL:
                                out_of_memory[0] = 1
                                continue
                            p = cursor[j]
                            end = indptr[j + 1]
                            q = p
                            while q < end and indices[q] < t1:
                                q = q + 1
                            if q > p:
                                gram(q - p, &indices[p], &values[p], &fixed[0, 0], stride,
                                     rank, biases, mean, &Gall[j * d * stride],
                                     &ball[j * stride], &ttall[j], work + (d + 3) * stride)
                            cursor[j] = q
                        t0 = t1
                    for j in prange(n_solve, schedule="dynamic", chunksize=16):
                        n_obs = indptr[j + 1] - indptr[j]
                        sse[j] = 0
                        rsum[j] = 0
                        status[j] = 0
                        if n_obs == 0:
                            for k in range(d):
                                solved[j, k] = 0
                            continue
                        if work == NULL:
                            out_of_memory[0] = 1
                            continue
                        status[j] = finish(&Gall[j * d * stride], &ball[j * stride],
                                           ttall[j], work + (d + 1) * stride,
                                           work + (d + 2) * stride, n_obs,
                                           &indices[indptr[j]], &values[indptr[j]],
                                           &fixed[0, 0], stride, rank, biases, mean,
                                           lam[j], &solved[j, 0], &sse[j],
                                           &rsum[j])
                finally:
                    free(work)
    finally:
        free(Gall)
        free(ball)
        free(ttall)
        free(cursor)
    return 0
