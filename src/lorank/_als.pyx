"""The exact ALS half-step: one ridge regression per row (or column), in parallel.

For every target j with observations Ω_j (the CSR/CSC slice of j), with features
f_i = [F_i, 1] (the 1 only when biases are on) taken from the fixed factor F, solve

    (Σ_{i∈Ω_j} f_i f_iᵀ + λ_j I) x_j = Σ_{i∈Ω_j} (x_ij − μ − u_i) f_i

where u_i = F[i, r] is the fixed side's bias (biases on) and λ_j = reg·|Ω_j| for
weighted λ (ALS-WR) or reg. x_j = [b_j, c_j] is written to row j of the solved factor.
Inputs are validated in Python; nothing here checks bounds.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cimport scipy.linalg.cython_blas as blas
cimport scipy.linalg.cython_lapack as lapack

cdef enum:
    # Targets with at least this many observations build their Gram matrix with
    # BLAS syrk on gathered blocks of BLOCK rows; shorter ones by rank-1 updates.
    SYRK_MIN = 64
    BLOCK = 256
    # Systems up to this size are solved by an inline Cholesky, larger by LAPACK.
    INLINE_MAX = 32


cdef inline void syrk_lower(int n, int k, floating* a, floating* c) noexcept nogil:
    """C += Aᵀ A for A (k x n, row-major), filling C's lower triangle (row-major)."""
    # Column-major view: A is n x k with lda = n; C = A Aᵀ; 'U' in column-major
    # is the lower triangle in row-major.
    cdef floating one = 1
    if floating is double:
        blas.dsyrk("U", "N", &n, &k, &one, a, &n, &one, c, &n)
    else:
        blas.ssyrk("U", "N", &n, &k, &one, a, &n, &one, c, &n)


cdef inline void gemv_t(int n, int k, floating* a, floating* t, floating* y) noexcept nogil:
    """y += Aᵀ t for A (k x n, row-major)."""
    cdef floating one = 1
    cdef int inc = 1
    if floating is double:
        blas.dgemv("N", &n, &k, &one, a, &n, t, &inc, &one, y, &inc)
    else:
        blas.sgemv("N", &n, &k, &one, a, &n, t, &inc, &one, y, &inc)


cdef inline int cholesky_solve(int n, floating* G, floating* b) noexcept nogil:
    """Solve G x = b in place (b ← x) for symmetric positive definite G whose lower
    triangle (row-major) is filled. Returns 0, or k > 0 if the leading k x k minor
    is not positive definite."""
    cdef int i, j, k, info = 0, one = 1
    cdef floating s
    if n > INLINE_MAX:
        # Row-major lower is column-major upper.
        if floating is double:
            lapack.dpotrf("U", &n, G, &n, &info)
            if info == 0:
                lapack.dpotrs("U", &n, &one, G, &n, b, &n, &info)
        else:
            lapack.spotrf("U", &n, G, &n, &info)
            if info == 0:
                lapack.spotrs("U", &n, &one, G, &n, b, &n, &info)
        return info
    # G = L Lᵀ, L overwriting the lower triangle.
    for j in range(n):
        s = G[j * n + j]
        for k in range(j):
            s = s - G[j * n + k] * G[j * n + k]
        if not (s > 0):
            return j + 1
        s = sqrt(s)
        G[j * n + j] = s
        for i in range(j + 1, n):
            for k in range(j):
                G[i * n + j] = G[i * n + j] - G[i * n + k] * G[j * n + k]
            G[i * n + j] = G[i * n + j] / s
    # L y = b, then Lᵀ x = y.
    for i in range(n):
        s = b[i]
        for k in range(i):
            s = s - G[i * n + k] * b[k]
        b[i] = s / G[i * n + i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s = s - G[k * n + i] * b[k]
        b[i] = s / G[i * n + i]
    return 0


def half_step(const long long[::1] indptr, const int[::1] indices,
              const floating[::1] values, const floating[:, ::1] fixed,
              floating[:, ::1] solved, double mean, double reg, bint weighted,
              bint biases, int rank, double[::1] sse, double[::1] rsum,
              int[::1] status, int n_threads):
    """Solve every row of ``solved`` against ``fixed`` (see the module docstring).

    Per target j, ``sse[j]`` and ``rsum[j]`` receive the sum of squared residuals and
    the sum of residuals of its observations at the new solution, and ``status[j]``
    is 0, or k > 0 if its normal matrix was not positive definite (row j of
    ``solved`` is then left unchanged).
    """
    cdef Py_ssize_t n_solve = solved.shape[0]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t j, p, p0, p1, q, i, k, l, nb
    cdef floating *G
    cdef floating *b
    cdef floating *f
    cdef floating *block
    cdef floating *target
    cdef floating t, lam, res, fk
    cdef double acc_sse, acc_sum
    cdef int info

    with nogil, parallel(num_threads=n_threads):
        G = <floating*> malloc(sizeof(floating) * d * d)
        b = <floating*> malloc(sizeof(floating) * d)
        f = <floating*> malloc(sizeof(floating) * d)
        block = <floating*> malloc(sizeof(floating) * BLOCK * d)
        target = <floating*> malloc(sizeof(floating) * BLOCK)
        try:
            for j in prange(n_solve, schedule="dynamic", chunksize=16):
                p0 = indptr[j]
                p1 = indptr[j + 1]
                status[j] = 0
                if p1 == p0:
                    # Nothing observed: zero factor and bias; predictions fall back
                    # to the mean and the other side's bias.
                    for k in range(solved.shape[1]):
                        solved[j, k] = 0
                    sse[j] = 0
                    rsum[j] = 0
                    continue
                memset(G, 0, sizeof(floating) * d * d)
                memset(b, 0, sizeof(floating) * d)
                if p1 - p0 >= SYRK_MIN:
                    # Gather blocks of features, then G += Fᵀ F and b += Fᵀ t by BLAS.
                    p = p0
                    while p < p1:
                        nb = min(BLOCK, p1 - p)
                        for q in range(nb):
                            i = indices[p + q]
                            for k in range(rank):
                                block[q * d + k] = fixed[i, k]
                            if biases:
                                block[q * d + rank] = 1
                                target[q] = values[p + q] - mean - fixed[i, rank]
                            else:
                                target[q] = values[p + q] - mean
                        syrk_lower(d, <int> nb, block, G)
                        gemv_t(d, <int> nb, block, target, b)
                        p = p + nb
                else:
                    # Rank-1 updates of the lower triangle.
                    for p in range(p0, p1):
                        i = indices[p]
                        for k in range(rank):
                            f[k] = fixed[i, k]
                        if biases:
                            f[rank] = 1
                            t = values[p] - mean - fixed[i, rank]
                        else:
                            t = values[p] - mean
                        for k in range(d):
                            fk = f[k]
                            b[k] = b[k] + t * fk
                            for l in range(k + 1):
                                G[k * d + l] = G[k * d + l] + fk * f[l]
                lam = reg * (p1 - p0) if weighted else reg
                for k in range(d):
                    G[k * d + k] = G[k * d + k] + lam
                info = cholesky_solve(d, G, b)
                if info != 0:
                    status[j] = info
                    sse[j] = 0
                    rsum[j] = 0
                    continue
                for k in range(d):
                    solved[j, k] = b[k]
                # Residuals at the new solution, for the loss and the mean update.
                acc_sse = 0
                acc_sum = 0
                for p in range(p0, p1):
                    i = indices[p]
                    res = values[p] - mean
                    if biases:
                        res = res - fixed[i, rank] - b[rank]
                    for k in range(rank):
                        res = res - fixed[i, k] * b[k]
                    acc_sse = acc_sse + res * res
                    acc_sum = acc_sum + res
                sse[j] = acc_sse
                rsum[j] = acc_sum
        finally:
            free(G)
            free(b)
            free(f)
            free(block)
            free(target)
