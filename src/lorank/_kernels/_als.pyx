"""The ALS half-step: one regularized (weighted, optionally sampled) least-squares
solve per row (or column), in parallel. Every model's per-target update runs here.

For every target j with observations i ∈ Ω_j (the CSR/CSC slice of j), the other
side's row is the Hadamard product row_i = fixed[indices[i]] ∘ F_1[indices_1[i]] ∘ …
of the fixed factor and the ``others`` (none for matrices: row_i = fixed[indices[i]]),
its features f_i = [row_i[:rank], 1] (the 1 only with biases), its offset
o_i = mean + Σ of the bias slots (column ``rank``) of those rows, and t_i = x_i − o_i.
With weights w_i (1 by default), a prior matrix Π and vector π (0 by default),
and on the bias lane its own penalty β_j (``bias_lam``, λ_j by default):

    P = Σ_{i∈Ω_j} w_i f_i f_iᵀ + Π + diag(λ_j, …, λ_j, β_j),
    h = Σ_{i∈Ω_j} w_i t_i f_i + π,
    x_j = P⁻¹h  (+ s · L⁻ᵀz with P = L Lᵀ and z ~ N(0, I), when sampling: one back
          substitution, x_j = L⁻ᵀ(L⁻¹h + s z)),

written to row j of ``solved``. ALS uses λ_j = reg·|Ω_j|^α and its Baseline's damping as β;
BayesianALS a prior and sampling; ImplicitALS weights and a prior; CPALS ``others``.
Factor rows are ``stride`` wide, a whole number of 64-byte vectors
(``als._factor_storage`` makes them); what the padding past rank + biases holds is
never read into a result. Inputs are validated in Python; the kernel checks every
array's shape in O(1).
"""

from cython cimport floating

import numpy as np
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdint cimport INT64_MAX, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

cdef extern from "<stdlib.h>" nogil:
    void* aligned_alloc(size_t alignment, size_t size)

cimport scipy.linalg.cython_blas as blas
cimport scipy.linalg.cython_lapack as lapack

cdef extern from "_als_gram.h" nogil:
    int LORANK_MAXBYTES
    enum: LORANK_MAXK
    enum: LORANK_BLOCK
    size_t LORANK_SCRATCH_BYTES(size_t row_bytes)
    int lorank_f_gram(int width, int64_t n, const int* idx, const float* vals, const float* F,
                      int stride, int rank, int biases, double mean,
                      const float* w, int wlane, int K, const int** oidx,
                      const float** oF,
                      float* G, float* b, double* tt, void* scratch)
    int lorank_d_gram(int width, int64_t n, const int* idx, const double* vals, const double* F,
                      int stride, int rank, int biases, double mean,
                      const double* w, int wlane, int K, const int** oidx,
                      const double** oF,
                      double* G, double* b, double* tt, void* scratch)
    void lorank_f_gram_rank1(int width, int64_t n, const int* idx, const float* vals,
                             const float* F, int stride, int rank, int biases, double mean,
                             const float* w, int wlane, int K, const int** oidx,
                             const float** oF,
                             float* G, float* b, double* tt)
    void lorank_d_gram_rank1(int width, int64_t n, const int* idx, const double* vals,
                             const double* F, int stride, int rank, int biases, double mean,
                             const double* w, int wlane, int K, const int** oidx,
                             const double** oF,
                             double* G, double* b, double* tt)
    enum: LORANK_BATCH_MAXD
    int lorank_f_gram_fused(int width, int64_t n, int64_t npf, const int* idx,
                            const float* vals,
                            const float* F, int stride, int rank, int biases, double mean,
                            const float* w, int wlane, int K, const int** oidx,
                            const float** oF,
                            float* G, float* b, double* tt)
    int lorank_d_gram_fused(int width, int64_t n, int64_t npf, const int* idx,
                            const double* vals,
                            const double* F, int stride, int rank, int biases, double mean,
                            const double* w, int wlane, int K, const int** oidx,
                            const double** oF,
                            double* G, double* b, double* tt)
    void lorank_f_chol_batch(int width, int nt, int d, int ld, float** G,
                             float** b, const float** z, int* info)
    void lorank_d_chol_batch(int width, int nt, int d, int ld, double** G,
                             double** b, const double** z, int* info)
    void lorank_f_residual(int width, int64_t n, const int* idx, const float* vals,
                           const float* F, int stride, int rank, int biases, double mean,
                           const float* w, int wlane, int K, const int** oidx,
                           const float** oF,
                           const float* x, double* sse, double* rsum)
    void lorank_d_residual(int width, int64_t n, const int* idx, const double* vals,
                           const double* F, int stride, int rank, int biases, double mean,
                           const double* w, int wlane, int K, const int** oidx,
                           const double** oF,
                           const double* x, double* sse, double* rsum)
    void lorank_f_matvec(int width, int64_t n, const int* idx, const float* vals,
                         const float* F, int stride, int rank, int biases, double mean,
                         const float* w, int wlane, int K, const int** oidx,
                         const float** oF,
                         const float* v, float* Gv, float* b, double* tt)
    void lorank_d_matvec(int width, int64_t n, const int* idx, const double* vals,
                         const double* F, int stride, int rank, int biases, double mean,
                         const double* w, int wlane, int K, const int** oidx,
                         const double** oF,
                         const double* v, double* Gv, double* b, double* tt)

    void lorank_f_cg_gather(int width, int64_t n, const int* idx, const float* vals,
                            const float* F, int stride, int rank, int biases, double mean,
                            const float* w, int wlane, int K, const int** oidx,
                            const float** oF,
                            float* X, float* b, double* tt,
                            const float* v, float* Gv, float* st)
    double lorank_f_cg_residual(int width, int64_t n, const float* X, const float* st,
                                int stride, const float* x)
    double lorank_d_cg_residual(int width, int64_t n, const double* X, const double* st,
                                int stride, const double* x)
    void lorank_d_cg_gather(int width, int64_t n, const int* idx, const double* vals,
                            const double* F, int stride, int rank, int biases, double mean,
                            const double* w, int wlane, int K, const int** oidx,
                            const double** oF,
                            double* X, double* b, double* tt,
                            const double* v, double* Gv, double* st)
    void lorank_f_cg_begin(int width, int stride, const float* b, const float* xs,
                           const float* g, const float* lam, float* r, float* p,
                           double* rs, double* hh)
    void lorank_d_cg_begin(int width, int stride, const double* b, const double* xs,
                           const double* g, const double* lam, double* r, double* p,
                           double* rs, double* hh)
    int lorank_f_cg_update(int width, int stride, float* xs, float* r, float* p,
                           const float* Gp, float* g, const float* lam, double* rs)
    int lorank_d_cg_update(int width, int stride, double* xs, double* r, double* p,
                           const double* Gp, double* g, const double* lam, double* rs)
    int lorank_f_cg_energy(int width, int stride, const float* xs, const float* g,
                           const float* b, double* acc)
    int lorank_d_cg_energy(int width, int stride, const double* xs, const double* g,
                           const double* b, double* acc)
    void lorank_f_cg_matvec(int width, int64_t n, const float* X, int stride,
                            const float* v, float* Gv)
    void lorank_d_cg_matvec(int width, int64_t n, const double* X, int stride,
                            const double* v, double* Gv)

cdef extern from "_random.h" nogil:
    void lorank_normals(uint64_t seed, uint64_t stream, uint64_t target, int64_t n, double* z)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    int omp_get_num_threads() noexcept nogil

# Cython's prange inside a parallel block is an ``omp for nowait``: where one
# loop must finish before the next starts (the tiles of _half_step_tiled), a
# barrier says so.
cdef extern from *:
    """
    #ifdef _OPENMP
    #define lorank_barrier() _Pragma("omp barrier")
    #else
    #define lorank_barrier() ((void)0)
    #endif
    """
    void lorank_barrier() noexcept nogil

#: Widest factor row the kernel takes, in bytes (rank + biases <= 256 in float32).
MAX_ROW_BYTES = LORANK_MAXBYTES
#: Most ``others`` (extra Hadamard factors) the kernel takes.
MAX_OTHERS = LORANK_MAXK

include "_simd.pxi"


cdef enum:
    # Systems up to this size are solved by an inline Cholesky, larger by LAPACK.
    INLINE_MAX = 32
    # Most unknowns per target: LORANK_MAXBYTES / sizeof(float).
    MAX_UNKNOWNS = 256
    # Per-target scratch rows (of stride) after G and b: b0, srow, the scaled normals, x copy, and
    # for the conjugate-gradient solve r, p, Gp, Ap, g and the lanes' penalties.
    FINISH_ROWS = 9
    # A fixed factor is streamed in tiles (below) provided the accumulators of all
    # targets fit in this many bytes.
    MAX_ACCUMULATOR_BYTES = 256 << 20
    # Targets per chunk of the Cholesky paths, solved together (finish_batch).
    BATCH = 16

# How the Gram G = Σ w f fᵀ of a target is formed. AUTO takes the measured
# crossover (bench/bench_als_gram.py, rank 10-128 x 16-4096 observations per
# target): the register-tiled blocks won every cell, by 1.2-2.5x over rank-1
# updates and over BLAS syrk on the same blocks, so AUTO is TILED; except for
# rows of one 64-byte vector, ``others`` or not (rank <= 15 in float32 with
# AVX-512), where the fused Gram (all of G in registers, no gathered block) is
# faster (bench/bench_als_visit.py). The others force one path, for those
# benchmarks and the tests (FUSED falls back to TILED where it does not apply).
cdef enum:
    GRAM_AUTO = 0
    GRAM_TILED = 1   # gathered blocks, register-tiled products (_als_gram.h)
    GRAM_RANK1 = 2   # a rank-1 update per observation, no gathered block
    GRAM_SYRK = 3    # gathered blocks, BLAS syrk on each (one BLAS thread)
    GRAM_FUSED = 4   # one-vector rows: per observation into G held in registers
_GRAM_PATHS = {"auto": GRAM_AUTO, "tiled": GRAM_TILED, "rank1": GRAM_RANK1,
               "syrk": GRAM_SYRK, "fused": GRAM_FUSED}
cdef int _gram_path = GRAM_AUTO


def _set_gram_path(name):
    """Force the Gram path ("auto", "tiled", "rank1" or "syrk"), for the crossover
    benchmark and the tests; returns the previous name."""
    global _gram_path
    if name not in _GRAM_PATHS:
        raise ValueError(f"gram path must be one of {sorted(_GRAM_PATHS)}, got {name!r}")
    previous = [k for k, v in _GRAM_PATHS.items() if v == _gram_path][0]
    _gram_path = _GRAM_PATHS[name]
    return previous


# The Cholesky solves of targets with at most LORANK_BATCH_MAXD unknowns run in
# batches, SIMD lanes across the targets of a chunk (_als_gram.h chol_batch);
# off: one target at a time (cholesky_solve), the path before batching.
cdef bint _batch_solve = True


def _set_batch_solve(bint on):
    """Solve the small systems of a chunk of targets together (True, the default)
    or one by one, for the benchmark and the tests; returns the previous setting."""
    global _batch_solve
    previous, _batch_solve = _batch_solve, on
    return previous


def _last_level_cache_bytes(default=32 << 20,
                            root="/sys/devices/system/cpu/cpu0/cache"):
    """The largest data or unified CPU cache of level 1-3 in bytes (Linux: sysfs
    ``index*/{level,type,size}``), else ``default`` (no sysfs, or nothing of 1 MiB
    or more: a virtual machine that shows only its L2, say). A level-4 cache
    (eDRAM) is a memory-side buffer, not where the tiles should live."""
    import glob
    import os
    best = 0
    for index in glob.glob(os.path.join(root, "index*")):
        try:
            fields = {}
            for name in ("level", "type", "size"):
                with open(os.path.join(index, name)) as f:
                    fields[name] = f.read().strip()
            if fields["type"] == "Instruction" or not 1 <= int(fields["level"]) <= 3:
                continue
            text = fields["size"].upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            best = max(best, int(text.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            continue
    return best if best >= (1 << 20) else default


def _tiling_for(llc):
    """(tiled above, bytes per tile) for a last-level cache of ``llc`` bytes: half
    of it, at least 16 MiB; a quarter of it, within [1, 32] MiB (the measured
    range, below)."""
    return max(16 << 20, llc // 2), min(32 << 20, max(1 << 20, llc // 4))


# The fixed factor is streamed in tiles (_half_step_tiled) when it is larger than
# this many bytes; below, every target gathers straight from it. Measured
# (bench/bench_als_tiled.py, items half-step, rank 10, float32, 1 thread, 32 MiB
# L3): direct wins up to a 13.7 MB fixed factor (x1.26 at 9.7 MB), tiles from
# 19.4 MB on (x1.10; x1.13 at 23.8 MB, x1.6 at the Netflix shape's 30.7 MB):
# half the last-level cache (at least 16 MiB).
# Bytes of ``fixed`` per tile: a quarter of the last-level cache, within [1, 32]
# MiB. The tile's rows are read from L3 (and every target's accumulators once per
# tile): at the Netflix shape's items half-step (rank 10, float32, 2 threads,
# 32 MiB L3, wall s) 1 MiB tiles took 0.38 s, 2 MiB 0.34, 4 MiB 0.30, 8 MiB
# 0.26-0.28, 16 MiB 0.35, never tiled 0.71 (bench/bench_als_tile_size.py).
cdef Py_ssize_t _tiled_above, _tile_bytes
_tiled_above, _tile_bytes = _tiling_for(_last_level_cache_bytes())


# Rows of ``fixed`` per tile: 0 takes _tile_bytes' worth (tests set a few rows to
# run many tiles).
cdef Py_ssize_t _tile_rows = 0


def _set_tile_bytes(Py_ssize_t n):
    """Set the tiled sweep's bytes per tile (the default: a quarter of the
    last-level cache) and return the old, for the tests and benchmarks."""
    global _tile_bytes
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    previous, _tile_bytes = _tile_bytes, n
    return previous


def _set_tile_rows(Py_ssize_t n):
    """Set the tiled sweep's rows per tile (0: the default) and return the old."""
    global _tile_rows
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    previous, _tile_rows = _tile_rows, n
    return previous


def _set_tiled_above(Py_ssize_t n_bytes):
    """Stream the fixed factor in tiles when it has more than ``n_bytes`` bytes (and
    the other conditions hold), for the benchmark and the tests; returns the
    previous bound."""
    global _tiled_above
    if n_bytes < 0:
        raise ValueError(f"n_bytes must be >= 0, got {n_bytes}")
    previous, _tiled_above = _tiled_above, n_bytes
    return previous


# A target's sse comes from the identity tt − 2 xᵀb + xᵀGx (no second pass)
# unless the fit is so close that cancellation could cost it digits; the
# residuals are then summed directly. With b and G summed in the working
# precision, the identity's error grows with the observations n: measured over
# the 157k targets of a 10M-rating float32 fit it stayed below 1.34 eps √n tt
# (0.07 eps √n tt in the median). A close fit is sse < min(1/4, c eps √n) tt,
# c = _close_fit = 40000: the identity's error stays below about 3e-5 of the
# sse, or (n > 2.7M float32) below what the former fixed rule, sse < tt/4,
# allowed. That rule took the second pass for half of the users in a late
# epoch of a Netflix-shaped fit.
cdef double _close_fit = 40000.0


def _set_close_fit(double c):
    """Set the close-fit constant c (default 40000, see above) and return the old
    one: 0 takes the identity wherever it is not negative, ``inf`` the fixed rule
    sse < tt/4 of before (for the tests and benchmarks)."""
    global _close_fit
    old = _close_fit
    _close_fit = c
    return old


cdef inline bint fit_by_identity(double acc, double tt, int64_t n_obs,
                                 floating dummy) noexcept nogil:
    """Whether the identity's sse ``acc`` (of tt = Σ w t²) is accurate enough."""
    cdef double eps = 1.1920928955078125e-07 if floating is float else 2.220446049250313e-16
    return acc >= min(0.25, _close_fit * eps * sqrt(<double> n_obs)) * tt


# OpenMP team size seen inside the last half-step's parallel region.
cdef int _team_size = 0
# The conjugate gradient gathers a target's rows once into a per-thread buffer of
# at most this many bytes, which its passes then read in order; a target with
# more rows re-gathers them in every pass.
cdef Py_ssize_t _cg_buffer_bytes = 64 << 20


# A target whose gathered rows would pass this many bytes forms its Gram
# G = Σ w f fᵀ once (gram, from L1-sized blocks) and takes its CG steps on it,
# rather than re-reading a buffer that no longer fits in L1 in every pass;
# for rows of at most _cg_gram_row_bytes, where the Gram costs few operations per
# observation. bench/bench_implicit_cg_gram.py (last.fm-shaped items, float32, one
# thread, CPU ns per observation, load 22-37): rank 10, 75 -> 60 for items with
# > 4096 users, 66 -> 62 for 1024-4096; rank 64, 128 -> 178 for 1024-4096 (the
# Gram's r² per observation), 225 -> 194 only past 4096: hence the row bound.
cdef Py_ssize_t _cg_gram_bytes = 64 << 10
cdef Py_ssize_t _cg_gram_row_bytes = 64


def _set_cg_gram(Py_ssize_t n_bytes, Py_ssize_t max_row_bytes=64):
    """Set when a conjugate-gradient target forms its Gram (gathered rows of more
    than ``n_bytes``, rows of at most ``max_row_bytes``), for the tests of that
    path; returns the previous pair."""
    global _cg_gram_bytes, _cg_gram_row_bytes
    if n_bytes < 0 or max_row_bytes < 0:
        raise ValueError(f"sizes must be >= 0, got {n_bytes}, {max_row_bytes}")
    previous = (_cg_gram_bytes, _cg_gram_row_bytes)
    _cg_gram_bytes, _cg_gram_row_bytes = n_bytes, max_row_bytes
    return previous


def _set_cg_buffer_bytes(Py_ssize_t n):
    """Set the conjugate gradient's per-thread row buffer (bytes), for tests of
    the re-gathering path; returns the previous size."""
    global _cg_buffer_bytes
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    previous, _cg_buffer_bytes = _cg_buffer_bytes, n
    return previous


def last_team_size():
    """Number of OpenMP threads that ran the last ``half_step``'s parallel region
    (0 before the first call; 1 in a build without OpenMP)."""
    return _team_size


cdef struct Extra:
    # The variant's parameters, the same for every target (pointers to floating
    # data are void here: a struct cannot be fused).
    const void* w           # weights aligned with values, or NULL
    int wlane               # >= 0: the weight of an observation is this lane of its
                            # fixed row (times the others' lanes); -1: none
    const double* tw        # n_solve target weights multiplying each one's sums, or NULL
    double* wsum            # n_solve outputs Σ w per target (needs biases), or NULL
    int K                   # number of extra Hadamard factors
    const int** oidx        # their index arrays, aligned with values
    const void** oF         # their factors (stride wide)
    const double* prior     # d x d, or NULL
    const double* prior_h   # d, or NULL
    const double* bias_lam  # n_solve, or NULL: the bias lane's penalty (else lam's)
    double scale            # > 0: sample
    uint64_t seed
    uint64_t stream
    bint general            # prior, prior_h or sampling: x is not (G + λI)⁻¹b
    bint biases             # the last of the d unknowns is the bias lane
    int cg_steps            # 0: Cholesky; else conjugate-gradient steps
    char* pending           # or NULL; else a close fit sets pending[j] = 1 and leaves
                            # its residuals to the caller (sse, rsum 0)
    bint rough_sse          # the identity's sse and rsum whatever the fit: no second
                            # pass (the caller needs the solution and Σ rsum only)
    int64_t pf_end          # observations the Gram may prefetch rows for (0: none past
                            # the target's own)


# The fused Gram prefetches rows LORANK_AHEAD observations ahead; past a target's
# last observation it goes on into the next target's (the next in CSR order, which
# the chunk solves next), so a short target's first rows are not fetched cold.
# Off: only within the target (as the tiled sweep always does: there a run's next
# observations are the next tile's). bench/bench_als_short_rows.py, old/new time:
# 1.03-1.17x for 1-64 observations per target from uniformly drawn rows of 17.8k;
# 0.98-1.03x at the Netflix shape (users with 209 observations on average, the
# popular items' rows cached).
cdef bint _cross_prefetch = True


def _set_cross_prefetch(bint on):
    """Let the fused Gram prefetch into the next target's observations (True, the
    default) or not, for the benchmark; returns the previous setting."""
    global _cross_prefetch
    previous, _cross_prefetch = _cross_prefetch, on
    return previous


cdef inline const floating* at_observation(const Extra* ex, int64_t p, const int** oi,
                                           const floating** oF) noexcept nogil:
    """Point the other-side indexes oi and rows oF (K of them) at observation p; return
    the weights from p (NULL when unweighted)."""
    cdef int k
    for k in range(ex.K):
        oi[k] = ex.oidx[k] + p
        oF[k] = <const floating*> ex.oF[k]
    if ex.w == NULL:
        return NULL
    return (<const floating*> ex.w) + p


cdef inline void gram(int64_t p, int64_t n, const int* idx, const floating* vals,
                      const floating* F, int stride, int rank, bint biases, double mean,
                      const Extra* ex, floating* G, floating* b, double* tt,
                      void* scratch) noexcept nogil:
    """Observations p..p+n of one target into G (its lower triangle at least), b
    and tt, by the path _gram_path names (or, for AUTO, the crossover's)."""
    cdef const int* oi[LORANK_MAXK]
    cdef const floating* oF[LORANK_MAXK]
    cdef const floating* w = NULL
    cdef int k, nb, d = rank + (1 if biases else 0)
    cdef int64_t q
    cdef int path = _gram_path
    cdef int64_t npf = n
    cdef char uplo = b"U", trans = b"N"
    cdef floating one = 1
    if path == GRAM_AUTO or path == GRAM_FUSED:
        if _cross_prefetch and ex.pf_end - p > n:
            npf = ex.pf_end - p
        w = at_observation(ex, p, oi, oF)
        if floating is double:
            if lorank_d_gram_fused(SIMD_WIDTH, n, npf, idx + p, vals + p, F, stride, rank,
                                   biases, mean, w, ex.wlane, ex.K, oi, oF, G, b, tt) == 0:
                return
        else:
            if lorank_f_gram_fused(SIMD_WIDTH, n, npf, idx + p, vals + p, F, stride, rank,
                                   biases, mean, w, ex.wlane, ex.K, oi, oF, G, b, tt) == 0:
                return
        path = GRAM_TILED
    if path == GRAM_SYRK:
        # Blocks of gathered rows X (nb x stride, row-major: column-major d x nb
        # with leading dimension stride); G's row-major lower triangle is the
        # column-major upper one: G += X Xᵀ there.
        q = 0
        while q < n:
            nb = <int> min(n - q, LORANK_BLOCK)
            cg_gather(p + q, nb, idx, vals, F, stride, rank, biases, mean, ex,
                      <floating*> scratch, b, tt, NULL, NULL)
            if floating is double:
                blas.dsyrk(&uplo, &trans, &d, &nb, &one, <double*> scratch, &stride,
                           &one, G, &stride)
            else:
                blas.ssyrk(&uplo, &trans, &d, &nb, &one, <float*> scratch, &stride,
                           &one, G, &stride)
            q = q + nb
        return
    w = at_observation(ex, p, oi, oF)
    if path == GRAM_RANK1:
        if floating is double:
            lorank_d_gram_rank1(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases,
                                mean, w, ex.wlane, ex.K, oi, oF, G, b, tt)
        else:
            lorank_f_gram_rank1(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases,
                                mean, w, ex.wlane, ex.K, oi, oF, G, b, tt)
        return
    if floating is double:
        lorank_d_gram(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                      w, ex.wlane, ex.K, oi, oF, G, b, tt, scratch)
    else:
        lorank_f_gram(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                      w, ex.wlane, ex.K, oi, oF, G, b, tt, scratch)


cdef inline void residual(int64_t p, int64_t n, const int* idx, const floating* vals,
                          const floating* F, int stride, int rank, bint biases,
                          double mean, const Extra* ex, const floating* x, double* sse,
                          double* rsum) noexcept nogil:
    """Σ w (t − fᵀx)² and Σ w (t − fᵀx) over observations p..p+n."""
    cdef const int* oi[LORANK_MAXK]
    cdef const floating* oF[LORANK_MAXK]
    cdef const floating* w = NULL
    cdef int k
    w = at_observation(ex, p, oi, oF)
    if floating is double:
        lorank_d_residual(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                          w, ex.wlane, ex.K, oi, oF, x, sse, rsum)
    else:
        lorank_f_residual(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                          w, ex.wlane, ex.K, oi, oF, x, sse, rsum)


cdef inline void matvec(int64_t p, int64_t n, const int* idx, const floating* vals,
                        const floating* F, int stride, int rank, bint biases, double mean,
                        const Extra* ex, const floating* v, floating* Gv, floating* b,
                        double* tt) noexcept nogil:
    """Gv += Σ w f fᵀv over observations p..p+n (and b, tt as gram does, unless b
    is NULL), re-gathering the rows: O(rank) per observation."""
    cdef const int* oi[LORANK_MAXK]
    cdef const floating* oF[LORANK_MAXK]
    cdef const floating* w = NULL
    cdef int k
    w = at_observation(ex, p, oi, oF)
    if floating is double:
        lorank_d_matvec(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                        w, ex.wlane, ex.K, oi, oF, v, Gv, b, tt)
    else:
        lorank_f_matvec(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                        w, ex.wlane, ex.K, oi, oF, v, Gv, b, tt)
cdef inline void cg_gather(int64_t p, int64_t n, const int* idx, const floating* vals,
                           const floating* F, int stride, int rank, bint biases,
                           double mean, const Extra* ex, floating* X, floating* b,
                           double* tt, const floating* v, floating* Gv) noexcept nogil:
    """X[q] = √w f of observations p..p+n (stride wide), b and tt as gram does, and
    Gv += Σ_q X_q X_qᵀ v (the first matvec, fused)."""
    cg_gather_st(p, n, idx, vals, F, stride, rank, biases, mean, ex, X, b, tt, v, Gv, NULL)


cdef inline void cg_gather_st(int64_t p, int64_t n, const int* idx, const floating* vals,
                              const floating* F, int stride, int rank, bint biases,
                              double mean, const Extra* ex, floating* X, floating* b,
                              double* tt, const floating* v, floating* Gv,
                              floating* st) noexcept nogil:
    """cg_gather, and st[q] = √w t (unless st is NULL) for cg_residual."""
    cdef const int* oi[LORANK_MAXK]
    cdef const floating* oF[LORANK_MAXK]
    cdef const floating* w = NULL
    cdef int k
    w = at_observation(ex, p, oi, oF)
    if floating is double:
        lorank_d_cg_gather(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                           w, ex.wlane, ex.K, oi, oF, X, b, tt, v, Gv, st)
    else:
        lorank_f_cg_gather(SIMD_WIDTH, n, idx + p, vals + p, F, stride, rank, biases, mean,
                           w, ex.wlane, ex.K, oi, oF, X, b, tt, v, Gv, st)


cdef inline void cg_matvec(int64_t n, const floating* X, int stride, const floating* v,
                           floating* Gv) noexcept nogil:
    if floating is double:
        lorank_d_cg_matvec(SIMD_WIDTH, n, X, stride, v, Gv)
    else:
        lorank_f_cg_matvec(SIMD_WIDTH, n, X, stride, v, Gv)


cdef inline void dense_matvec(int d, int stride, const floating* G, const floating* v,
                              floating* Gv) noexcept nogil:
    """Gv[0..d) += G v for the d x d matrix G (row stride ``stride``)."""
    cdef int i, k
    cdef floating s
    for k in range(d):
        s = 0
        for i in range(d):
            s = s + G[k * stride + i] * v[i]
        Gv[k] = Gv[k] + s


cdef inline int cholesky_solve(int n, int ld, floating* G, floating* b,
                               const floating* z) noexcept nogil:
    """Solve G x = b in place (b ← x) for symmetric positive definite G (n x n, row
    stride ld) whose lower triangle is filled; with z (else NULL), x = L⁻ᵀ(L⁻¹b + z)
    for G = L Lᵀ: the solution plus a draw of N(0, G⁻¹) when z holds standard
    normals (scaled: s z for N(0, s² G⁻¹)), in the same back substitution. Returns
    0, or k > 0 if the leading k x k minor is not positive definite."""
    cdef int i, j, k, info = 0, one = 1
    cdef floating s
    if n > INLINE_MAX:
        # Row-major lower is column-major upper: G = UᵀU with U = Lᵀ.
        if floating is double:
            lapack.dpotrf("U", &n, G, &ld, &info)
            if info == 0 and z == NULL:
                lapack.dpotrs("U", &n, &one, G, &ld, b, &n, &info)
            elif info == 0:
                blas.dtrsv("U", "T", "N", &n, G, &ld, b, &one)
                for i in range(n):
                    b[i] = b[i] + z[i]
                blas.dtrsv("U", "N", "N", &n, G, &ld, b, &one)
        else:
            lapack.spotrf("U", &n, G, &ld, &info)
            if info == 0 and z == NULL:
                lapack.spotrs("U", &n, &one, G, &ld, b, &n, &info)
            elif info == 0:
                blas.strsv("U", "T", "N", &n, G, &ld, b, &one)
                for i in range(n):
                    b[i] = b[i] + z[i]
                blas.strsv("U", "N", "N", &n, G, &ld, b, &one)
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
    if z != NULL:
        for i in range(n):
            b[i] = b[i] + z[i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s = s - G[k * ld + i] * b[k]
        b[i] = s * inv[i]
    return 0


cdef inline double bias_penalty(const Extra* ex, Py_ssize_t j, double lam_j) noexcept nogil:
    """β_j, the bias lane's penalty of target j (lam_j unless ``bias_lam``)."""
    return ex.bias_lam[j] if ex.bias_lam != NULL else lam_j


cdef inline void finish_begin(floating* G, floating* b, double* tt, floating* work,
                              int stride, int rank, bint biases, double lam_j,
                              const Extra* ex, Py_ssize_t j) noexcept nogil:
    """The first part of finish: keep what the loss needs (b, G's bias row and, on
    the general path, G's lower triangle) in ``work``, then turn G, b into the
    system P = G + Π + λI, h = b + π. With target weights, G, b and tt are first
    scaled by target j's."""
    cdef int d = rank + (1 if biases else 0)
    cdef int i, k
    cdef floating lam = <floating> lam_j
    cdef floating c
    cdef floating* b0 = work
    cdef floating* srow = work + stride
    cdef floating* Gd = work + FINISH_ROWS * stride  # d rows: the data Gram's lower triangle
    if ex.tw != NULL:
        tt[0] = tt[0] * ex.tw[j]
        c = <floating> ex.tw[j]
        for i in range(d):
            b[i] = b[i] * c
            for k in range(i + 1):
                G[i * stride + k] = G[i * stride + k] * c
    if ex.wsum != NULL:  # Σ w: the bias lane's diagonal entry of the data Gram
        ex.wsum[j] = G[rank * stride + rank]
    for k in range(d):
        b0[k] = b[k]
        if biases:  # Σ_i w_i f_i, the bias row of G
            srow[k] = G[rank * stride + k]
    if ex.general:
        for i in range(d):
            for k in range(i + 1):
                Gd[i * stride + k] = G[i * stride + k]
    if ex.prior != NULL:  # its lower triangle, which is all the solve reads
        for i in range(d):
            for k in range(i + 1):
                G[i * stride + k] = G[i * stride + k] + <floating> ex.prior[i * d + k]
    if ex.prior_h != NULL:
        for k in range(d):
            b[k] = b[k] + <floating> ex.prior_h[k]
    for k in range(rank):
        G[k * stride + k] = G[k * stride + k] + lam
    if biases:  # the bias lane: β_j (lam_j unless bias_lam)
        G[rank * stride + rank] = (G[rank * stride + rank]
                                   + <floating> bias_penalty(ex, j, lam_j))


cdef int finish_end(int info, floating* G, floating* b, double tt, floating* work,
                    int64_t p0, int64_t n_obs, const int* idx, const floating* vals,
                    const floating* fixed, int stride, int rank, bint biases, double mean,
                    double lam_j, const Extra* ex, Py_ssize_t j, floating* x, double* sse,
                    double* rsum) noexcept nogil:
    """The last part of finish, after the Cholesky solve of P x = h (status
    ``info``; G holds L, b the solution, sampled if ex.scale > 0): write x, fill
    sse/rsum."""
    cdef int d = rank + (1 if biases else 0)
    cdef int i, k
    cdef floating lam = <floating> lam_j
    cdef floating* b0 = work
    cdef floating* srow = work + stride
    cdef floating* xs = work + 3 * stride
    cdef floating* Gd = work + FINISH_ROWS * stride
    cdef double acc, s, xb = 0, xx = 0
    if info != 0:
        return info
    for k in range(d):
        x[k] = b[k]
        xb = xb + <double> b[k] * b0[k]
        xx = xx + <double> b[k] * b[k]
    if ex.general:
        # For any x: Σ w (t − fᵀx)² = tt − 2 xᵀb + xᵀGx (G, b: the data's part).
        acc = 0
        for k in range(d):
            s = 0
            for i in range(k):
                s = s + <double> Gd[k * stride + i] * x[i]
            acc = acc + <double> x[k] * (Gd[k * stride + k] * <double> x[k] + 2 * s)
        acc = tt - 2 * xb + acc
    else:
        # At x = (G + λI)⁻¹b: xᵀGx = xᵀb − λ‖x‖² (the bias lane's β for its λ).
        acc = tt - xb - lam * xx
        if ex.bias_lam != NULL:
            acc = acc + (<double> lam - ex.bias_lam[j]) * <double> x[rank] * x[rank]
    if ex.rough_sse or fit_by_identity(acc, tt, n_obs, b[0]):
        sse[0] = acc
        rsum[0] = 0
        if biases:  # Σ w t is the bias slot of b; Σ w f the bias row of G
            acc = b0[rank]
            for k in range(d):
                acc = acc - <double> srow[k] * x[k]
            rsum[0] = acc
    elif ex.pending != NULL:  # close fit, summed by the caller
        ex.pending[j] = 1
    else:
        # Close fit: the identity would lose digits to cancellation.
        memset(xs, 0, sizeof(floating) * stride)
        for k in range(d):
            xs[k] = x[k]
        residual(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, xs, sse, rsum)
        if ex.tw != NULL:
            sse[0] = sse[0] * ex.tw[j]
            rsum[0] = rsum[0] * ex.tw[j]
        if not biases:
            rsum[0] = 0
    return 0


cdef inline floating* scaled_normals(const Extra* ex, Py_ssize_t j, int d, floating* work,
                                     int stride) noexcept nogil:
    """With sampling (ex.scale = s > 0), s z for target j's normals z into row 2 of
    ``work`` (x = L⁻ᵀ(L⁻¹h + s z) ~ N(P⁻¹h, s² P⁻¹)); else NULL."""
    cdef double z[MAX_UNKNOWNS]
    cdef floating* row = work + 2 * stride
    cdef int k
    if ex.scale <= 0:
        return NULL
    lorank_normals(ex.seed, ex.stream, <uint64_t> j, d, z)
    for k in range(d):
        row[k] = <floating> (ex.scale * z[k])
    for k in range(d, stride):  # whole vectors are read
        row[k] = 0
    return row


cdef int finish(floating* G, floating* b, double tt, floating* work, int64_t p0,
                int64_t n_obs, const int* idx, const floating* vals,
                const floating* fixed, int stride, int rank, bint biases, double mean,
                double lam_j, const Extra* ex, Py_ssize_t j, floating* x, double* sse,
                double* rsum) noexcept nogil:
    """Given the accumulated data Gram G = Σ w f fᵀ (its lower triangle at least),
    b = Σ w t f and tt = Σ w t² of target j, solve (G + Π + λI) x = b + π (and sample) into x and
    fill sse/rsum. Returns the Cholesky status (x untouched unless 0). G's lower
    triangle (all of G that is read) and b are overwritten. ``work`` holds
    FINISH_ROWS + d rows of stride."""
    cdef int d = rank + (1 if biases else 0)
    finish_begin(G, b, &tt, work, stride, rank, biases, lam_j, ex, j)
    return finish_end(cholesky_solve(d, stride, G, b, scaled_normals(ex, j, d, work, stride)),
                      G, b, tt, work, p0, n_obs, idx,
                      vals, fixed, stride, rank, biases, mean, lam_j, ex, j, x, sse, rsum)


cdef void finish_batch(int nt, floating** Gs, floating** bs, floating** works,
                       double* tts, const Py_ssize_t* js, const long long* indptr,
                       const int* idx, const floating* vals, const floating* fixed,
                       int stride, int rank, bint biases, double mean, const double* lam,
                       const Extra* ex, floating* solved, double* sse, double* rsum,
                       int* status) noexcept nogil:
    """finish for the nt <= BATCH targets js[0..nt) (accumulated into Gs, bs,
    tts; ``works``: finish's rows for each), their Cholesky solves together,
    a SIMD lane per target (each lane the scalar sequence of cholesky_solve: a
    target's result does not depend on the others of its batch)."""
    cdef int d = rank + (1 if biases else 0)
    cdef int t
    cdef Py_ssize_t j
    cdef int info[BATCH]
    cdef const floating* zs[BATCH]
    for t in range(nt):
        finish_begin(Gs[t], bs[t], &tts[t], works[t], stride, rank, biases, lam[js[t]], ex,
                     js[t])
        zs[t] = scaled_normals(ex, js[t], d, works[t], stride)
    if _batch_solve and d <= LORANK_BATCH_MAXD:
        if floating is double:
            lorank_d_chol_batch(SIMD_WIDTH, nt, d, stride, Gs, bs,
                                zs if ex.scale > 0 else NULL, info)
        else:
            lorank_f_chol_batch(SIMD_WIDTH, nt, d, stride, Gs, bs,
                                zs if ex.scale > 0 else NULL, info)
    else:
        for t in range(nt):
            info[t] = cholesky_solve(d, stride, Gs[t], bs[t], zs[t])
    for t in range(nt):
        j = js[t]
        status[j] = finish_end(info[t], Gs[t], bs[t], tts[t], works[t], indptr[j],
                               indptr[j + 1] - indptr[j], idx, vals, fixed, stride, rank,
                               biases, mean, lam[j], ex, j, solved + j * stride, &sse[j],
                               &rsum[j])


cdef inline double cg_tiny(floating dummy) noexcept nogil:
    """About eps²: a residual rᵀr below cg_tiny·‖h‖² is at rounding level."""
    return 1.4e-14 if floating is float else 5e-32


cdef inline void cg_begin(int d, int stride, floating* W, double lam_j, const Extra* ex,
                          Py_ssize_t j, double* rs_out, double* hh_out) noexcept nogil:
    """From the CG rows W (b, xs, r, p, Gp, Ap, g, λ; stride apart, padding lanes 0)
    with b = Σ w t f, xs the start and g = G xs: r = h − P xs (P x = G x + Π x +
    diag(λ) x), p = r, rs = rᵀr and hh = ‖h‖²; the row λ holds each lane's
    penalty (λ_j, the bias lane's β_j), for cg_update too. Without a prior in
    vectors over the whole rows (_als_gram.h), else element by element."""
    cdef floating* b = W
    cdef floating* xs = W + stride
    cdef floating* r = W + 2 * stride
    cdef floating* p = W + 3 * stride
    cdef floating* g = W + 6 * stride
    cdef floating* lam_row = W + 7 * stride
    cdef double s, h, lam_k, hh = 0, rs = 0
    cdef int i, k
    for k in range(stride):
        lam_row[k] = <floating> lam_j
    if ex.biases:
        lam_row[d - 1] = <floating> bias_penalty(ex, j, lam_j)
    if ex.prior == NULL and ex.prior_h == NULL:  # whole rows, in vectors
        if floating is double:
            lorank_d_cg_begin(SIMD_WIDTH, stride, b, xs, g, lam_row, r, p, rs_out, hh_out)
        else:
            lorank_f_cg_begin(SIMD_WIDTH, stride, b, xs, g, lam_row, r, p, rs_out, hh_out)
        return
    for k in range(d):
        h = <double> b[k]  # h = b + π
        if ex.prior_h != NULL:
            h = h + ex.prior_h[k]
        lam_k = bias_penalty(ex, j, lam_j) if k == d - 1 and ex.biases else lam_j
        s = h - <double> g[k] - lam_k * xs[k]
        hh = hh + h * h
        if ex.prior != NULL:
            for i in range(d):
                s = s - ex.prior[k * d + i] * xs[i]
        r[k] = <floating> s
        p[k] = r[k]
    for k in range(d):
        rs = rs + <double> r[k] * r[k]
    rs_out[0] = rs
    hh_out[0] = hh


cdef inline int cg_update(int d, int stride, floating* W, double lam_j, const Extra* ex,
                          Py_ssize_t j, double* rs_io) noexcept nogil:
    """One CG step on the rows W given Gp = G p: xs, g (= G xs), r and p move on and
    rs_io becomes the new rᵀr. Returns 1 if pᵀPp <= 0 (P not positive definite)."""
    cdef floating* xs = W + stride
    cdef floating* r = W + 2 * stride
    cdef floating* p = W + 3 * stride
    cdef floating* Gp = W + 4 * stride
    cdef floating* Ap = W + 5 * stride
    cdef floating* g = W + 6 * stride
    cdef floating* lam_row = W + 7 * stride  # cg_begin's
    cdef double rs = rs_io[0], rs_new, pap, alpha, beta, s, lam_k
    cdef int i, k
    if ex.prior == NULL:  # whole rows, in vectors
        if floating is double:
            return lorank_d_cg_update(SIMD_WIDTH, stride, xs, r, p, Gp, g, lam_row, rs_io)
        else:
            return lorank_f_cg_update(SIMD_WIDTH, stride, xs, r, p, Gp, g, lam_row, rs_io)
    pap = 0
    for k in range(d):
        lam_k = bias_penalty(ex, j, lam_j) if k == d - 1 and ex.biases else lam_j
        s = <double> Gp[k] + lam_k * p[k]
        if ex.prior != NULL:
            for i in range(d):
                s = s + ex.prior[k * d + i] * p[i]
        Ap[k] = <floating> s
        pap = pap + <double> p[k] * Ap[k]
    if not (pap > 0):
        return 1
    alpha = rs / pap
    rs_new = 0
    for k in range(d):
        xs[k] = <floating> (xs[k] + alpha * p[k])
        g[k] = <floating> (g[k] + alpha * Gp[k])
        r[k] = <floating> (r[k] - alpha * Ap[k])
        rs_new = rs_new + <double> r[k] * r[k]
    beta = rs_new / rs
    for k in range(d):
        p[k] = <floating> (r[k] + beta * p[k])
    rs_io[0] = rs_new
    return 0


cdef inline int cg_end(int d, int stride, floating* W, double tt, int64_t p0,
                       int64_t n_obs, const int* idx, const floating* vals,
                       const floating* fixed, int rank, bint biases, double mean,
                       const Extra* ex, const floating* X, const floating* st,
                       floating* x, double* sse, double* rsum) noexcept nogil:
    """Write the CG iterate xs of the rows W into x and sse/rsum from b, g = G xs and
    tt, or, when the fit is close, by summing the residuals: from the gathered rows
    X and scaled targets st when given (and no biases), else from ``fixed``.
    Returns 1 (x untouched) if xs is not finite."""
    cdef floating* b = W
    cdef floating* xs = W + stride
    cdef floating* g = W + 6 * stride
    cdef double acc = 0
    cdef int k
    # xsᵀ(g − 2b), or 1 if xs is not finite (whole rows: the padding lanes are 0).
    if floating is double:
        if lorank_d_cg_energy(SIMD_WIDTH, stride, xs, g, b, &acc):
            return 1
    else:
        if lorank_f_cg_energy(SIMD_WIDTH, stride, xs, g, b, &acc):
            return 1
    for k in range(d):
        x[k] = xs[k]
    acc = tt + acc  # tt − 2 xᵀb + xᵀGx
    if ex.rough_sse or fit_by_identity(acc, tt, n_obs, b[0]):
        sse[0] = acc
        rsum[0] = (<double> b[rank] - <double> g[rank]) if biases else 0
    elif X != NULL and st != NULL and not biases:
        if floating is double:
            sse[0] = lorank_d_cg_residual(SIMD_WIDTH, n_obs, X, st, stride, xs)
        else:
            sse[0] = lorank_f_cg_residual(SIMD_WIDTH, n_obs, X, st, stride, xs)
        rsum[0] = 0
    else:
        residual(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, xs, sse, rsum)
        if not biases:
            rsum[0] = 0
    return 0


cdef inline bint cg_dense(int64_t n_obs, size_t row) noexcept nogil:
    """Whether a CG target steps on its Gram formed once (see _cg_gram_bytes)."""
    return row <= <size_t> _cg_gram_row_bytes and n_obs * <int64_t> row > _cg_gram_bytes


cdef inline bint start_target(Py_ssize_t j, int64_t n_obs, int d, const Extra* ex,
                              floating* row, double* sse, double* rsum,
                              int* status) noexcept nogil:
    """Reset target j's outputs. With nothing observed and no prior, zero its row
    (factor and bias: predictions fall back to the mean and the other side's
    bias) and return True: there is nothing to solve."""
    sse[j] = 0
    rsum[j] = 0
    status[j] = 0
    if ex.wsum != NULL:
        ex.wsum[j] = 0
    if n_obs == 0 and ex.prior == NULL:
        memset(row, 0, d * sizeof(floating))
        return True
    return False


cdef int cg_solve(floating* work, floating* X, floating* st, int64_t cap, floating* Gd,
                  void* scratch,
                  int64_t p0, int64_t n_obs,
                  const int* idx, const floating* vals, const floating* fixed, int stride,
                  int rank, bint biases, double mean, double lam_j, const Extra* ex,
                  Py_ssize_t j, floating* x, double* sse, double* rsum) noexcept nogil:
    """ex.cg_steps conjugate-gradient steps on P x = h from x (row j of solved),
    each a matvec over the target's rows (O(rank) per observation): from the
    buffer ``X`` that the first pass gathers them into when they fit (n_obs <=
    cap), else by re-gathering them; or, for a target past _cg_gram_bytes, on
    its Gram G = Σ w f fᵀ formed once into ``Gd`` (d rows of stride; the same
    iterates up to rounding, O(rank²) per step). Fills sse/rsum (from the buffer
    too, with the scaled targets ``st`` that the gather keeps beside it). Returns
    0, or 1 if P was found not positive definite (x untouched). ``work``:
    FINISH_ROWS + 1 rows (the CG rows of cg_begin); ``scratch``: gram's gathered
    block."""
    cdef int d = rank + (1 if biases else 0)
    cdef int i, k, it
    cdef size_t row = sizeof(floating) * stride
    cdef bint dense = cg_dense(n_obs, row)
    cdef floating* b = work
    cdef floating* xs = work + stride
    cdef floating* p = work + 3 * stride
    cdef floating* Gp = work + 4 * stride
    cdef floating* g = work + 6 * stride  # G xs, kept along for the loss
    cdef double tt = 0, rs, hh, tiny = cg_tiny(b[0])
    cdef bint buffered = n_obs <= cap
    memset(work, 0, 7 * row)
    for k in range(d):
        xs[k] = x[k]
    if dense:
        memset(Gd, 0, d * row)
        gram(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, Gd, b, &tt,
             scratch)
        for i in range(d):  # gram fills the lower triangle at least: mirror it
            for k in range(i + 1, d):
                Gd[i * stride + k] = Gd[k * stride + i]
        dense_matvec(d, stride, Gd, xs, g)
    elif buffered:
        cg_gather_st(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, X, b,
                     &tt, xs, g, st)
    else:
        matvec(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, xs, g, b, &tt)
    cg_begin(d, stride, work, lam_j, ex, j, &rs, &hh)
    # Converged once rᵀr is at rounding level relative to ‖h‖² or to the first rᵀr
    # (h = 0, e.g. every weight 0: x → 0, and further steps would only divide
    # underflowing numbers).
    hh = max(hh, rs)
    for it in range(ex.cg_steps):
        if rs <= tiny * hh:
            break
        memset(Gp, 0, row)
        if dense:
            dense_matvec(d, stride, Gd, p, Gp)
        elif buffered:
            cg_matvec(n_obs, X, stride, p, Gp)
        else:
            matvec(p0, n_obs, idx, vals, fixed, stride, rank, biases, mean, ex, p, Gp,
                   NULL, NULL)
        if cg_update(d, stride, work, lam_j, ex, j, &rs):
            return 1
    if not buffered or dense:
        X = NULL
    return cg_end(d, stride, work, tt, p0, n_obs, idx, vals, fixed, rank, biases, mean,
                  ex, X, st, x, sse, rsum)


def _vector(name, a, dtype, n, what):
    """``a`` as it must be for the kernel (no copy), or a clear error."""
    if (not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != 1
            or a.shape[0] != n or not a.flags.c_contiguous):
        got = (f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray)
               else type(a).__name__)
        raise ValueError(f"{name} must be a C-contiguous {np.dtype(dtype)} array of "
                         f"length {n} ({what}), got {got}")
    return a


def _uint64(name, value):
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer in [0, 2**64), got {value!r}") from None
    if v != value or not 0 <= v < 2 ** 64:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    return v


def half_step(const long long[::1] indptr, const int[::1] indices,
              const floating[::1] values, const floating[:, ::1] fixed,
              floating[:, ::1] solved, double mean, const double[::1] lam,
              bint biases, int rank, double[::1] sse, double[::1] rsum,
              int[::1] status, int n_threads, *, weights=None, int weight_lane=-1,
              target_weights=None, weight_sums=None, prior=None,
              prior_h=None, bias_lam=None, double sample_scale=0.0, seed=0, stream=0,
              others=(),
              solver="cholesky", int cg_steps=3, bint exact_sse=True):
    """Solve every row of ``solved`` against ``fixed`` (see the module docstring),
    row j with the ridge penalty ``lam[j]``.

    Parameters
    ----------
    indptr, indices, values : the targets' observations (CSR of ``solved``'s side:
        int64[n_solve + 1], int32[nnz], floating[nnz]).
    fixed, solved : floating[:, stride] factor rows; ``solved`` is written.
    mean, lam, biases, rank : the global offset, λ_j per target, the bias lane
        (column ``rank``) on or off, the factor lanes.
    sse, rsum, status : float64[n_solve], float64[n_solve], int32[n_solve] outputs.
    n_threads : OpenMP threads (results do not depend on it).
    weights : floating[nnz] >= 0, optional, per observation.
    weight_lane : int, default -1 (none). A padding lane l (rank + biases <= l <
        stride) of the factor rows: observation p's weight is then fixed[idx[p], l]
        (times every ``others`` factor's lane l), with no nnz array: weights that
        factor into the other side's per-row values (a noise scale κ_j, kept in
        the rows the Gram reads anyway). Not with ``weights``.
    target_weights : float64[n_solve] >= 0, optional: target j's sums (G, b, tt;
        so its data term, its sse and rsum) are multiplied by target_weights[j].
        With ``weight_lane``, w_ij = τ_i κ_j without an nnz array. Cholesky only.
    weight_sums : float64[n_solve], optional output (needs biases; Cholesky
        only): Σ w over each target's observations (0 for a target with none).
    prior : float64[d, d], optional, symmetric, added to every target's matrix
        (d = rank + biases; its lower triangle is what is used).
    prior_h : float64[d], optional, added to every right-hand side.
    bias_lam : float64[n_solve] >= 0, optional (needs biases): target j's bias lane
        penalty β_j instead of lam[j] (the factor lanes keep lam[j]).
    sample_scale : float, default 0. When > 0, draw x ~ N(P⁻¹h, s² P⁻¹): the mean
        plus s·L⁻ᵀz, with z the normals ``normal_stream(seed, stream, j, d)``.
    seed, stream : ints in [0, 2**64), keys of the counter-based normal stream.
    others : sequence of (indices_k int32[nnz], factor_k floating[:, stride]) pairs:
        the other side's row is then the Hadamard product of ``fixed[indices]`` and
        every ``factor_k[indices_k]`` on the factor lanes, and the offset adds every
        row's bias slot.
    solver : "cholesky" (exact, default) or "cg": ``cg_steps`` conjugate-gradient
        steps warm-started from the current row of ``solved``, each a pass over the
        target's observations (O(rank) per observation instead of O(rank²)).
    exact_sse : bool, default True. False: ``sse`` and ``rsum`` always by the
        identity below, never by a second pass over a close fit's observations.
        ``sse`` may then have lost digits (down to none, and below 0, for a fit
        at rounding level); ``rsum`` is the identity's, for a caller that needs
        only the solution and Σ rsum (a half-step whose loss is not reported).
        The solution is the same bits either way; a mean refitted from that
        Σ rsum (ALS's μ) differs at rounding level, so the next half-steps'
        bits may differ too.

    Notes
    -----
    Per target j, ``sse[j]`` and ``rsum[j]`` receive Σ w (t − fᵀx)² and (with
    biases; else 0) Σ w (t − fᵀx) at the new row, and ``status[j]`` is 0, or k > 0
    if its matrix was not positive definite (Cholesky: its leading k x k minor;
    CG: 1), row j of ``solved`` then left unchanged. A target with no observations
    gets a zero row, unless a prior is given (it is then solved, or sampled, from
    the prior alone).

    Both sums usually come without a second pass over the observations: for any x,
    Σ w (t − fᵀx)² = tt − 2 xᵀb + xᵀGx with G = Σ w f fᵀ, b = Σ w t f, tt = Σ w t²
    (at the ridge solution of ALS, tt − xᵀb − λ‖x‖²), and with biases
    Σ w (t − fᵀx) = Σ w t − xᵀ Σ w f, read off G's bias row. Where the fit is so close
    that the identity could lose digits to cancellation (sse below
    min(1/4, 40000 eps √n) tt for n observations), the residuals are summed
    directly instead.

    When ``fixed`` is larger than about half the last-level cache (16 MiB of a
    32 MiB L3: the items half-step of a Netflix-sized problem gathers from 480k
    user rows, 31 MB at rank 10), the targets' normal equations are
    accumulated over tiles of ``fixed`` rows (a quarter of that cache each) in
    turn, every target's observations
    in a tile being a contiguous run of its sorted indices. Each target still sums
    its observations in index order: the same result up to rounding (the partial
    sums restart at tile boundaries), and the path depends only on the sizes and
    the cache's. The close fits' residuals are then summed over the same tiles.
    """
    cdef Py_ssize_t n_solve = solved.shape[0], n_fixed = fixed.shape[0]
    cdef Py_ssize_t nnz = values.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t row_bytes = stride * sizeof(floating)
    cdef Py_ssize_t k
    dtype = np.float64 if floating is double else np.float32
    # O(1) shape checks: nothing below reads past what these promise.
    if rank < 0 or d < 1:
        raise ValueError(f"rank must be >= 0 with rank + biases >= 1, got rank={rank}, "
                         f"biases={bool(biases)}")
    if indptr.shape[0] != n_solve + 1:
        raise ValueError(f"indptr must have n_solve + 1 = {n_solve + 1} entries (one "
                         f"more than solved's rows), got {indptr.shape[0]}")
    if indptr[0] != 0 or indptr[n_solve] != nnz or indices.shape[0] != nnz:
        raise ValueError(f"indptr must run from 0 to len(values) = {nnz} and indices "
                         f"have len(values) entries; got indptr[0] = {indptr[0]}, "
                         f"indptr[-1] = {indptr[n_solve]}, {indices.shape[0]} indices")
    for name, arr in (("lam", lam), ("sse", sse), ("rsum", rsum), ("status", status)):
        if arr.shape[0] != n_solve:
            raise ValueError(f"{name} must have one entry per solved row ({n_solve}), "
                             f"got {arr.shape[0]}")
    if (row_bytes % 64 or row_bytes > LORANK_MAXBYTES or d > stride
            or fixed.shape[1] != stride):
        raise ValueError(
            f"factor rows must be whole 64-byte vectors of at most {LORANK_MAXBYTES} "
            f"bytes holding rank + biases = {d} entries, the same for fixed and "
            f"solved; got {fixed.shape[1]} and {stride} entries"
        )
    if nnz and n_fixed == 0:
        raise ValueError(f"fixed has no rows for {nnz} observations to index")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    if solver not in ("cholesky", "cg"):
        raise ValueError(f'solver must be "cholesky" or "cg", got {solver!r}')
    if cg_steps < 1:
        raise ValueError(f"cg_steps must be >= 1, got {cg_steps}")
    if not (sample_scale >= 0 and sample_scale < float("inf")):
        raise ValueError(f"sample_scale must be a finite number >= 0, got {sample_scale!r}")
    if solver == "cg" and sample_scale > 0:
        raise ValueError('sampling (sample_scale > 0) needs solver="cholesky"')
    if weight_lane != -1:
        if not d <= weight_lane < stride:
            raise ValueError(f"weight_lane must be a padding lane of the factor rows, "
                             f"in [rank + biases, stride) = [{d}, {stride}), got "
                             f"{weight_lane}; allocate rows with a spare lane")
        if weights is not None:
            raise ValueError("pass weights or weight_lane, not both")
    if solver == "cg" and (target_weights is not None or weight_sums is not None):
        raise ValueError('target_weights and weight_sums need solver="cholesky"')
    if weight_sums is not None and not biases:
        raise ValueError("weight_sums needs the bias lane (biases=True): Σ w is its "
                         "diagonal entry of the Gram")

    cdef Extra ex
    memset(&ex, 0, sizeof(Extra))
    cdef const floating[::1] wv
    cdef const double[:, ::1] pv
    cdef const double[::1] phv
    cdef const double[::1] blv
    cdef const int[::1] iv
    cdef const floating[:, ::1] fv
    cdef const int* oidx[LORANK_MAXK]
    cdef const void* oF[LORANK_MAXK]
    cdef const double[::1] twv
    cdef double[::1] wsv
    if weights is not None:
        wv = _vector("weights", weights, dtype, nnz, "one per observation")
        ex.w = &wv[0] if nnz else NULL
    ex.wlane = weight_lane
    if target_weights is not None:
        twv = _vector("target_weights", target_weights, np.float64, n_solve,
                      "one per solved row")
        ex.tw = &twv[0] if n_solve else NULL
    if weight_sums is not None:
        wsv = _vector("weight_sums", weight_sums, np.float64, n_solve, "one per solved row")
        ex.wsum = &wsv[0] if n_solve else NULL
    if prior is not None:
        prior = np.ascontiguousarray(prior, dtype=np.float64)
        if prior.shape != (d, d):
            raise ValueError(f"prior must be a {d} x {d} matrix (rank + biases), "
                             f"got shape {prior.shape}")
        if not np.isfinite(prior).all():
            raise ValueError("prior must be finite")
        if np.abs(prior - prior.T).max() > 1e-12 * np.abs(prior).max():
            raise ValueError("prior must be symmetric (e.g. pass (A + A.T) / 2)")
        pv = prior
        ex.prior = &pv[0, 0]
    if prior_h is not None:
        prior_h = np.ascontiguousarray(prior_h, dtype=np.float64)
        if prior_h.shape != (d,) or not np.isfinite(prior_h).all():
            raise ValueError(f"prior_h must be a finite vector of length {d} "
                             f"(rank + biases), got shape {prior_h.shape}")
        phv = prior_h
        ex.prior_h = &phv[0]
    if bias_lam is not None:
        if not biases:
            raise ValueError("bias_lam needs the bias lane (biases=True)")
        blv = _vector("bias_lam", bias_lam, np.float64, n_solve, "one per solved row")
        ex.bias_lam = &blv[0] if n_solve else NULL
    ex.biases = biases
    others = tuple(others)
    if len(others) > LORANK_MAXK:
        raise ValueError(f"at most {LORANK_MAXK} others, got {len(others)}")
    kept = []  # the memoryviews behind the pointers, alive for the call
    for k, pair in enumerate(others):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"others[{k}] must be an (indices, factor) pair, got {pair!r}")
        iv = _vector(f"others[{k}] indices", pair[0], np.int32, nnz, "one per observation")
        F_k = pair[1]
        if (not isinstance(F_k, np.ndarray) or F_k.dtype != dtype or F_k.ndim != 2
                or F_k.shape[1] != stride or not F_k.flags.c_contiguous
                or (nnz and F_k.shape[0] == 0)):
            got = (f"{F_k.dtype}{list(F_k.shape)}" if isinstance(F_k, np.ndarray)
                   else type(F_k).__name__)
            raise ValueError(f"others[{k}] factor must be a non-empty C-contiguous "
                             f"{np.dtype(dtype)} array with {stride} columns, like "
                             f"fixed, got {got}")
        fv = F_k
        kept.append((iv, fv))
        oidx[k] = &iv[0] if nnz else NULL
        oF[k] = &fv[0, 0] if F_k.shape[0] else NULL
    ex.K = len(others)
    ex.oidx = oidx
    ex.oF = oF
    ex.scale = sample_scale
    ex.seed = _uint64("seed", seed)
    ex.stream = _uint64("stream", stream)
    ex.general = prior is not None or prior_h is not None or sample_scale > 0
    ex.cg_steps = cg_steps if solver == "cg" else 0
    ex.rough_sse = not exact_sse
    ex.pf_end = indices.shape[0]

    cdef Py_ssize_t tile = _tile_rows if _tile_rows else max(1, _tile_bytes // row_bytes)
    # Each thread's workspace: G (d x stride), b, the finishing rows (with a copy of
    # G) and the gram's gathered block.
    cdef size_t work_bytes = (2 * d + 1 + FINISH_ROWS) * row_bytes + LORANK_SCRATCH_BYTES(row_bytes)
    failed = np.zeros(1, np.int32)
    cdef int[::1] out_of_memory = failed
    # Tiles pay where each target's rows are sparse in ``fixed``; targets with on
    # average an observation per row of ``fixed`` or more (the few long time slices
    # of a tensor) read it in order anyway, and the tiled sweep would only add a
    # barrier per tile.
    if (ex.cg_steps == 0 and n_fixed * row_bytes > _tiled_above
            and nnz < n_solve * n_fixed
            and n_solve * (d + 1) * row_bytes <= MAX_ACCUMULATOR_BYTES):
        _half_step_tiled(indptr, indices, values, fixed, solved, mean, lam,
                         biases, rank, sse, rsum, status, n_threads, tile, work_bytes,
                         &ex, out_of_memory)
    elif ex.cg_steps == 0 and _batch_solve:
        _half_step_batched(indptr, indices, values, fixed, solved, mean, lam,
                           biases, rank, sse, rsum, status, n_threads, &ex, out_of_memory)
    else:
        _half_step_direct(indptr, indices, values, fixed, solved, mean, lam,
                          biases, rank, sse, rsum, status, n_threads, work_bytes,
                          &ex, out_of_memory)
    if failed[0]:
        raise MemoryError("out of memory for the ALS kernel's per-thread workspace")


cdef void _half_step_direct(const long long[::1] indptr, const int[::1] indices,
                            const floating[::1] values, const floating[:, ::1] fixed,
                            floating[:, ::1] solved, double mean,
                            const double[::1] lam, bint biases, int rank, double[::1] sse,
                            double[::1] rsum, int[::1] status, int n_threads,
                            size_t work_bytes, const Extra* ex,
                            int[::1] out_of_memory) noexcept:
    """half_step with every target gathering straight from ``fixed``."""
    cdef Py_ssize_t n_solve = solved.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef Py_ssize_t row_bytes = stride * sizeof(floating)
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t j, k
    cdef int64_t p0, n_obs
    cdef floating *G
    cdef double tt
    cdef int* team = &_team_size
    cdef const floating* F = &fixed[0, 0] if fixed.shape[0] else NULL
    cdef const int* idx = &indices[0] if indices.shape[0] else NULL
    cdef const floating* vals = &values[0] if values.shape[0] else NULL
    cdef int64_t cap = 0
    cdef floating* X
    # Chunks of 16 targets, or single targets when there are few (30 time slices
    # in chunks of 16 would be two chunks, one per thread, whatever the balance).
    cdef Py_ssize_t chunk = max(1, min(16, n_solve // (16 * n_threads)))
    cdef int64_t longest = 0  # the most observations of a target with no Gram
    if row_bytes <= _cg_gram_row_bytes:
        longest = _cg_gram_bytes // row_bytes
    else:
        longest = INT64_MAX
    if ex.cg_steps:  # the buffer holds the largest such target, up to _cg_buffer_bytes
        with nogil:
            for j in range(n_solve):
                n_obs = indptr[j + 1] - indptr[j]
                if n_obs <= longest:
                    cap = max(cap, n_obs)
        cap = min(cap, _cg_buffer_bytes // (stride * sizeof(floating)))

    with nogil, parallel(num_threads=n_threads):
        G = <floating*> malloc(work_bytes)
        # The gathered rows, then their scaled targets.
        X = <floating*> malloc(cap * (stride + 1) * sizeof(floating)) if cap else NULL
        team[0] = omp_get_num_threads()
        try:
            for j in prange(n_solve, schedule="dynamic", chunksize=chunk):
                if G == NULL or (cap and X == NULL):
                    out_of_memory[0] = 1
                    continue
                p0 = indptr[j]
                n_obs = indptr[j + 1] - p0
                if start_target(j, n_obs, d, ex, &solved[j, 0], &sse[0], &rsum[0],
                                &status[0]):
                    continue
                if ex.cg_steps:
                    status[j] = cg_solve(G + (d + 1) * stride, X, X + cap * stride, cap,
                                         G, G + (2 * d + 1 + FINISH_ROWS) * stride, p0,
                                         n_obs, idx, vals, F, stride, rank, biases, mean,
                                         lam[j], ex, j, &solved[j, 0], &sse[j], &rsum[j])
                    continue
                memset(G, 0, sizeof(floating) * (d + 1) * stride)  # G and b
                tt = 0
                gram(p0, n_obs, idx, vals, F, stride, rank, biases, mean, ex, G,
                     G + d * stride, &tt, G + (2 * d + 1 + FINISH_ROWS) * stride)
                status[j] = finish(G, G + d * stride, tt, G + (d + 1) * stride, p0,
                                   n_obs, idx, vals, F, stride, rank, biases, mean,
                                   lam[j], ex, j, &solved[j, 0], &sse[j], &rsum[j])
        finally:
            free(G)
            free(X)


cdef void direct_chunk(Py_ssize_t j0, Py_ssize_t j1, floating* W, void* scratch,
                       const long long* indptr, const int* idx, const floating* vals,
                       const floating* F, int stride, int rank, bint biases, double mean,
                       const double* lam, const Extra* ex, floating* solved, double* sse,
                       double* rsum, int* status) noexcept nogil:
    """Targets j0..j1 (at most BATCH) of _half_step_batched: each one's Gram into
    its slot of W (G, b and finish's rows), then their solves together."""
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t slot = (2 * d + 1 + FINISH_ROWS) * stride
    cdef floating* Gs[BATCH]
    cdef floating* bs[BATCH]
    cdef floating* works[BATCH]
    cdef double tts[BATCH]
    cdef Py_ssize_t js[BATCH]
    cdef int nt = 0, k
    cdef Py_ssize_t j
    cdef int64_t p0, n_obs
    cdef floating* G
    for j in range(j0, j1):
        p0 = indptr[j]
        n_obs = indptr[j + 1] - p0
        if start_target(j, n_obs, d, ex, solved + j * stride, sse, rsum, status):
            continue
        G = W + nt * slot
        memset(G, 0, sizeof(floating) * (d + 1) * stride)  # G and b
        tts[nt] = 0
        gram(p0, n_obs, idx, vals, F, stride, rank, biases, mean, ex, G, G + d * stride,
             &tts[nt], scratch)
        Gs[nt] = G
        bs[nt] = G + d * stride
        works[nt] = G + (d + 1) * stride
        js[nt] = j
        nt = nt + 1
    if nt:
        finish_batch(nt, Gs, bs, works, tts, js, indptr, idx, vals, F, stride, rank,
                     biases, mean, lam, ex, solved, sse, rsum, status)


cdef void tiled_chunk(Py_ssize_t j0, Py_ssize_t j1, floating* Gall, floating* ball,
                      const double* ttall, floating* fw, const long long* indptr,
                      const int* idx, const floating* vals, const floating* F, int stride,
                      int rank, bint biases, double mean, const double* lam,
                      const Extra* ex, floating* solved, double* sse, double* rsum,
                      int* status) noexcept nogil:
    """Targets j0..j1 (at most BATCH) of _half_step_tiled, their sums accumulated:
    solved together, finish's rows in ``fw`` (BATCH x (FINISH_ROWS + d) rows)."""
    cdef int d = rank + (1 if biases else 0)
    cdef floating* Gs[BATCH]
    cdef floating* bs[BATCH]
    cdef floating* works[BATCH]
    cdef double tts[BATCH]
    cdef Py_ssize_t js[BATCH]
    cdef int nt = 0, k
    cdef Py_ssize_t j
    for j in range(j0, j1):
        sse[j] = 0
        rsum[j] = 0
        status[j] = 0
        if ex.wsum != NULL:
            ex.wsum[j] = 0
        if indptr[j + 1] == indptr[j] and ex.prior == NULL:
            for k in range(d):
                solved[j * stride + k] = 0
            continue
        Gs[nt] = Gall + j * d * stride
        bs[nt] = ball + j * stride
        works[nt] = fw + nt * (FINISH_ROWS + d) * stride
        tts[nt] = ttall[j]
        js[nt] = j
        nt = nt + 1
    if nt:
        finish_batch(nt, Gs, bs, works, tts, js, indptr, idx, vals, F, stride, rank,
                     biases, mean, lam, ex, solved, sse, rsum, status)


cdef void _half_step_batched(const long long[::1] indptr, const int[::1] indices,
                             const floating[::1] values, const floating[:, ::1] fixed,
                             floating[:, ::1] solved, double mean,
                             const double[::1] lam, bint biases, int rank,
                             double[::1] sse, double[::1] rsum, int[::1] status,
                             int n_threads, const Extra* ex,
                             int[::1] out_of_memory) noexcept:
    """half_step (Cholesky) with every target gathering straight from ``fixed``, in
    chunks of at most BATCH targets whose systems are solved together."""
    cdef Py_ssize_t n_solve = solved.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef Py_ssize_t row_bytes = stride * sizeof(floating)
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t slot = (2 * d + 1 + FINISH_ROWS) * stride
    # Chunks of BATCH targets, or fewer when there are few (30 time slices in
    # chunks of 16 would be two chunks, one per thread, whatever the balance).
    cdef Py_ssize_t chunk = max(1, min(BATCH, n_solve // (16 * n_threads)))
    cdef Py_ssize_t c, n_chunks = (n_solve + chunk - 1) // chunk
    # 64-byte aligned: every row of G, b and the gathered block is one cache line
    # (or whole lines).
    cdef size_t batch_bytes = (BATCH * slot * sizeof(floating)
                               + LORANK_SCRATCH_BYTES(row_bytes) + 63) // 64 * 64
    cdef floating* W
    cdef int* team = &_team_size
    cdef const floating* F = &fixed[0, 0] if fixed.shape[0] else NULL
    cdef const int* idx = &indices[0] if indices.shape[0] else NULL
    cdef const floating* vals = &values[0] if values.shape[0] else NULL
    if n_solve == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        W = <floating*> aligned_alloc(64, batch_bytes)
        team[0] = omp_get_num_threads()
        try:
            for c in prange(n_chunks, schedule="dynamic"):
                if W == NULL:
                    out_of_memory[0] = 1
                    continue
                direct_chunk(c * chunk, min((c + 1) * chunk, n_solve), W,
                             W + BATCH * slot, &indptr[0], idx, vals, F, stride, rank,
                             biases, mean, &lam[0], ex, &solved[0, 0], &sse[0], &rsum[0],
                             &status[0])
        finally:
            free(W)


cdef inline int64_t run_end(const int* idx, int64_t p, int64_t end,
                            Py_ssize_t t1) noexcept nogil:
    """The end of a target's run of observations from p (up to end) in the tile
    below row t1 of ``fixed`` (its indices are sorted)."""
    while p < end and idx[p] < t1:
        p = p + 1
    return p


cdef int _half_step_tiled(const long long[::1] indptr, const int[::1] indices,
                          const floating[::1] values, const floating[:, ::1] fixed,
                          floating[:, ::1] solved, double mean,
                          const double[::1] lam, bint biases, int rank, double[::1] sse,
                          double[::1] rsum, int[::1] status, int n_threads,
                          Py_ssize_t tile, size_t work_bytes, const Extra* ex,
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
    cdef char *pending = <char*> calloc(n_solve, 1)
    cdef Extra ext = ex[0]
    cdef floating *work
    cdef floating *fw
    cdef bint any_pending = False
    cdef Py_ssize_t c, n_chunks = (n_solve + BATCH - 1) // BATCH
    cdef int* team = &_team_size
    cdef const floating* F = &fixed[0, 0]
    cdef const int* idx = &indices[0] if indices.shape[0] else NULL
    cdef const floating* vals = &values[0] if values.shape[0] else NULL
    if Gall == NULL or ball == NULL or ttall == NULL or cursor == NULL or pending == NULL:
        free(Gall)
        free(ball)
        free(ttall)
        free(cursor)
        free(pending)
        raise MemoryError("out of memory for the ALS kernel's accumulators")
    ext.pending = pending
    ext.pf_end = 0  # a run's next observations are the next tile's
    try:
        with nogil:
            for j in range(n_solve):
                cursor[j] = indptr[j]
            with parallel(num_threads=n_threads):
                work = <floating*> malloc(work_bytes)
                fw = <floating*> malloc(BATCH * (FINISH_ROWS + d) * stride * sizeof(floating))
                team[0] = omp_get_num_threads()
                try:
                    t0 = 0
                    while t0 < n_fixed:
                        t1 = min(t0 + tile, n_fixed)
                        for j in prange(n_solve, schedule="dynamic", chunksize=16):
                            if work == NULL:
                                out_of_memory[0] = 1
                                continue
                            p = cursor[j]
                            q = run_end(idx, p, indptr[j + 1], t1)
                            if q > p:
                                gram(p, q - p, idx, vals, F, stride, rank, biases, mean,
                                     &ext, &Gall[j * d * stride], &ball[j * stride],
                                     &ttall[j], work + (d + 1 + FINISH_ROWS) * stride)
                            cursor[j] = q
                        lorank_barrier()  # the tile is summed: every target's cursor moved
                        t0 = t1
                    for c in prange(n_chunks, schedule="dynamic"):
                        if fw == NULL:
                            out_of_memory[0] = 1
                            continue
                        tiled_chunk(c * BATCH, min((c + 1) * BATCH, n_solve), Gall, ball,
                                    ttall, fw, &indptr[0], idx, vals, F, stride, rank,
                                    biases, mean, &lam[0], &ext, &solved[0, 0], &sse[0],
                                    &rsum[0], &status[0])
                finally:
                    free(work)
                    free(fw)
            for j in range(n_solve):
                cursor[j] = indptr[j]
                any_pending = any_pending or pending[j] != 0
            if any_pending:
                _tiled_residuals(indptr, indices, values, fixed, solved, mean, biases, rank,
                                 sse, rsum, n_threads, tile, &ext, pending, cursor,
                                 out_of_memory)
    finally:
        free(Gall)
        free(ball)
        free(ttall)
        free(cursor)
        free(pending)
    return 0


cdef void _tiled_residuals(const long long[::1] indptr, const int[::1] indices,
                           const floating[::1] values, const floating[:, ::1] fixed,
                           floating[:, ::1] solved, double mean, bint biases, int rank,
                           double[::1] sse, double[::1] rsum, int n_threads,
                           Py_ssize_t tile, const Extra* ex, const char* pending,
                           int64_t* cursor, int[::1] out_of_memory) noexcept nogil:
    """The residual sums of the close fits that _half_step_tiled left ``pending``,
    over the same tiles of ``fixed`` (each target's partial sums added in tile
    order: the same result for any thread count); ``cursor`` starts at indptr."""
    cdef Py_ssize_t n_solve = solved.shape[0], n_fixed = fixed.shape[0]
    cdef int stride = <int> solved.shape[1]
    cdef int d = rank + (1 if biases else 0)
    cdef Py_ssize_t j, t0, t1
    cdef int64_t p, q
    cdef double s2, s1
    cdef floating* xs
    cdef const floating* F = &fixed[0, 0]
    cdef const int* idx = &indices[0]
    cdef const floating* vals = &values[0]
    with parallel(num_threads=n_threads):
        xs = <floating*> calloc(stride, sizeof(floating))  # x, zero padding lanes
        try:
            t0 = 0
            while t0 < n_fixed:
                t1 = min(t0 + tile, n_fixed)
                for j in prange(n_solve, schedule="dynamic", chunksize=16):
                    if not pending[j]:
                        continue
                    if xs == NULL:
                        out_of_memory[0] = 1
                        continue
                    p = cursor[j]
                    q = run_end(idx, p, indptr[j + 1], t1)
                    s2 = 0  # assigned in the loop: private to the thread
                    s1 = 0
                    if q > p:
                        memcpy(xs, &solved[j, 0], d * sizeof(floating))
                        residual(p, q - p, idx, vals, F, stride, rank, biases, mean, ex,
                                 xs, &s2, &s1)
                        if ex.tw != NULL:
                            s2 = s2 * ex.tw[j]
                            s1 = s1 * ex.tw[j]
                        sse[j] = sse[j] + s2
                        if biases:
                            rsum[j] = rsum[j] + s1
                    cursor[j] = q
                lorank_barrier()
                t0 = t1
        finally:
            free(xs)


def normal_stream(seed, stream, target, Py_ssize_t n):
    """The standard normals z[0..n) that target ``target`` draws in stream
    (``seed``, ``stream``) of a sampled ``half_step`` (it uses the first
    rank + biases): a pure function of the four, whatever the thread count.

    Examples
    --------
    >>> from lorank._kernels import _als
    >>> z = _als.normal_stream(0, 1, 7, 5)
    >>> bool((z == _als.normal_stream(0, 1, 7, 8)[:5]).all())
    True
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out = np.empty(n, np.float64)
    cdef double[::1] z = out
    if n:
        lorank_normals(_uint64("seed", seed), _uint64("stream", stream),
                       _uint64("target", target), n, &z[0])
    return out
