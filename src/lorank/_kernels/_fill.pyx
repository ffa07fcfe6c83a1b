"""Soft-impute's passes over the observations: S @ V and Sᵀ @ U for the residual
S = P_Ω(X − T Oᵀ) of the filled-in matrix, with the factor that multiplies S the
same rows that form it (see softimpute.py), in one compiled pass each.

Factor rows are ``stride`` wide, whole 64-byte vectors. The target side's rows are
scaled lane-wise by ``scale`` before the dot product (soft-impute's D²). Two loop
orders, chosen by the caller from the sizes:

- ``gather``: target by target over the target-major view (each target reads its
  other-side rows at random: best when the other side fits in cache);
- ``scatter``: other-side row by row over the other-side-major view, adding into
  one accumulator per chunk of rows, then the chunks summed in order (the target
  side is read and written at random: best when it fits in cache).

``step`` fuses soft-impute's two half-step passes: row by row over the row-major
view, the gather, the row's new factor row, then the scatter of the residual at
it (the same loops, one read of the observations and no m x k dense steps).

Each target's sum runs in a fixed order set by the data and the chunks, never by
the thread count. Index values are validated in Python; each entry point checks
shapes, lengths and the row layout in O(1), and takes int32 indices only (a
clear ``ValueError`` for other index dtypes, before any buffer is unpacked).
"""

from cython cimport floating

from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

cdef extern from "_fill_pass.h" nogil:
    int LORANK_MAXBYTES
    double lorank_fill_f_gather(int width, int64_t n, const int* idx, const float* vals,
                                const float* O, int stride, const float* t,
                                const float* scale, float* out)
    double lorank_fill_d_gather(int width, int64_t n, const int* idx, const double* vals,
                                const double* O, int stride, const double* t,
                                const double* scale, double* out)
    double lorank_fill_f_scatter(int width, int64_t n, const int* idx, const float* vals,
                                 const float* TD, int stride, const float* o, float* acc)
    double lorank_fill_d_scatter(int width, int64_t n, const int* idx, const double* vals,
                                 const double* TD, int stride, const double* o, double* acc)
    void lorank_fill_f_row(int width, int64_t n, const int* idx, const float* vals,
                           const float* V, int stride, int na, const float* y,
                           const float* K, const float* h, const float* L,
                           const float* ones, float* f, float* acc, double* ss)
    void lorank_fill_f_grams(int width, int nb, const float* F, const float* Y, int stride,
                             int nk, double* fd, double* gff, double* gyf)
    void lorank_fill_d_grams(int width, int nb, const double* F, const double* Y, int stride,
                             int nk, double* fd, double* gff, double* gyf)
    void lorank_fill_d_row(int width, int64_t n, const int* idx, const double* vals,
                           const double* V, int stride, int na, const double* y,
                           const double* K, const double* h, const double* L,
                           const double* ones, double* f, double* acc, double* ss)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_num_threads(void) { return 1; }
    #endif
    """
    int omp_get_num_threads() noexcept nogil

#: Widest factor row the passes take, in bytes.
MAX_ROW_BYTES = LORANK_MAXBYTES

# Rows of the fused step whose Grams are summed together (from their new rows,
# still in cache), one register per Gram vector.
cdef enum:
    _GRAM_BLOCK = 32

# Threads in the team of the last pass's loop (written once per pass).
cdef int _team[1]


def last_team_size():
    """Threads that ran the last pass's parallel loop (0 if it had no work); for
    the tests that check the thread count really varies."""
    return _team[0]

include "_simd.pxi"
include "_entry_checks.pxi"


cdef int _check_index_dtype(indices) except -1:
    dtype = getattr(indices, "dtype", None)
    if dtype != np.int32:
        raise ValueError(
            f"the fill passes take int32 indices (at most 2**31 - 1 rows and columns), "
            f"got {dtype}")
    return 0


cdef int _check_rows(Py_ssize_t stride, Py_ssize_t itemsize, others) except -1:
    if stride == 0 or (stride * itemsize) % 64 or stride * itemsize > LORANK_MAXBYTES or any(
            w != stride for w in others):
        raise ValueError(
            f"factor rows must be whole 64-byte vectors of at most {LORANK_MAXBYTES} "
            f"bytes, the same for every factor; got widths {[stride, *others]}"
        )
    return 0


def gather(indptr, indices, values, T, scale, O, out, sse, n_threads):
    """For every target j (row j of T, slice j of the target-major view):
    ``out[j] = Σ s O[i]`` and ``sse[j] = Σ s²`` over its observations (i, x),
    with s = x − ⟨T[j] * scale, O[i]⟩."""
    _check_index_dtype(indices)
    _gather(indptr, indices, values, T, scale, O, out, sse, n_threads)


def scatter(indptr, indices, values, TD, O, chunks, acc, sse, out, n_threads):
    """The same sums as :func:`gather` from the other-side-major view, with the
    target rows already scaled (``TD``): chunk c of other-side rows
    ``chunks[c]:chunks[c+1]`` adds into ``acc[c]`` (scratch, zeroed here) and
    ``sse[c]``; then ``out[j] = Σ_c acc[c, j]`` in chunk order."""
    _check_index_dtype(indices)
    _scatter(indptr, indices, values, TD, O, chunks, acc, sse, out, n_threads)


def step(indptr, indices, values, Y, K, h, L, V, F, chunks, acc, sse, grams, out, na,
         nk, n_threads):
    """Soft-impute's two half-step passes fused, row by row over the row-major view.
    For each row i with stored factor row y = Y[i] and its observations (j, x):

    - t = y K, s = x − ⟨t, V[j]⟩, a = Σ s V[j] (S V at the rows factor t);
    - the new row F[i] = f = a ⊙ h + y L;
    - s' = x − ⟨f, V[j]⟩ (the residual at F Vᵀ), Sᵀ F += s' f by column.

    Row chunk c (rows ``chunks[c]:chunks[c+1]``) adds into ``acc[c]`` (scratch),
    ``sse[c] = (Σ s², Σ s'²)`` and ``grams[c] = (FᵀF, YᵀF)`` (first ``nk`` rows,
    float64, summed over blocks of 32 new rows while they are in cache); then
    ``out[j] = Σ_c acc[c, j]`` in chunk order. K and L are read in
    their first ``na`` rows (Y's lanes beyond ``na`` must be zero)."""
    _check_index_dtype(indices)
    _step(indptr, indices, values, Y, K, h, L, V, F, chunks, acc, sse, grams, out, na, nk,
          n_threads)


def _step(const long long[::1] indptr, const int[::1] indices,
          const floating[::1] values, const floating[:, ::1] Y, const floating[:, ::1] K,
          const floating[::1] h, const floating[:, ::1] L, const floating[:, ::1] V,
          floating[:, ::1] F, const long long[::1] chunks, floating[:, :, ::1] acc,
          double[:, ::1] sse, double[:, :, :, ::1] grams, floating[:, ::1] out, int na,
          int nk, int n_threads):
    cdef Py_ssize_t n_chunks = chunks.shape[0] - 1, n_rows = Y.shape[0], n_cols = V.shape[0]
    cdef int stride = <int> Y.shape[1]
    cdef Py_ssize_t c, i, j, k
    _check_rows(stride, sizeof(floating), (V.shape[1], F.shape[1], out.shape[1],
                                           acc.shape[2], h.shape[0], K.shape[1], L.shape[1]))
    _check_indptr("indptr", indptr, n_rows, indices.shape[0], values.shape[0])
    if not (0 <= na <= stride and 0 <= nk <= stride and K.shape[0] >= na and L.shape[0] >= na):
        raise ValueError(f"na={na} and nk={nk} must be in [0, {stride}] and at most the "
                         f"rows of K ({K.shape[0]}) and L ({L.shape[0]})")
    if n_chunks < 1 or chunks[0] != 0 or chunks[n_chunks] != n_rows:
        raise ValueError(f"chunks must run from 0 to the {n_rows} rows of Y")
    for c in range(n_chunks):
        if chunks[c] > chunks[c + 1]:
            raise ValueError(f"chunks must be non-decreasing, got {list(chunks)}")
    if acc.shape[0] < n_chunks or acc.shape[1] != n_cols:
        raise ValueError(f"acc has shape {(acc.shape[0], acc.shape[1], acc.shape[2])}, "
                         f"expected at least ({n_chunks}, {n_cols}, {stride})")
    if (sse.shape[0] < n_chunks or sse.shape[1] != 2 or grams.shape[0] < n_chunks
            or grams.shape[1] != 2 or grams.shape[2] != nk or grams.shape[3] != stride):
        raise ValueError(f"sse and grams must be ({n_chunks}, 2) and ({n_chunks}, 2, {nk}, "
                         f"{stride}), got {(sse.shape[0], sse.shape[1])} and "
                         f"{(grams.shape[0], grams.shape[1], grams.shape[2], grams.shape[3])}")
    _check_same("F and Y rows", F.shape[0], n_rows)
    _check_same("out and V rows", out.shape[0], n_cols)
    _check_threads(n_threads)
    cdef floating[::1] ones = np.ones(stride, np.float64 if floating is double else np.float32)
    cdef int64_t p0, i0
    cdef floating total
    cdef double* fd
    cdef int failed = 0
    _team[0] = 0
    for c in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="dynamic",
                    chunksize=1):
        if _team[0] == 0:  # the first thread there writes it: once, the same value
            _team[0] = omp_get_num_threads()
        memset(&acc[c, 0, 0], 0, n_cols * stride * sizeof(floating))
        memset(&grams[c, 0, 0, 0], 0, 2 * nk * stride * sizeof(double))
        sse[c, 0] = 0
        sse[c, 1] = 0
        fd = <double*> malloc(_GRAM_BLOCK * stride * sizeof(double))
        if fd == NULL:
            failed += 1
            continue
        i0 = chunks[c]
        for i in range(chunks[c], chunks[c + 1]):
            p0 = indptr[i]
            if floating is double:
                lorank_fill_d_row(SIMD_WIDTH, indptr[i + 1] - p0, &indices[p0], &values[p0],
                                  &V[0, 0], stride, na, &Y[i, 0], &K[0, 0], &h[0], &L[0, 0],
                                  &ones[0], &F[i, 0], &acc[c, 0, 0], &sse[c, 0])
            else:
                lorank_fill_f_row(SIMD_WIDTH, indptr[i + 1] - p0, &indices[p0], &values[p0],
                                  &V[0, 0], stride, na, &Y[i, 0], &K[0, 0], &h[0], &L[0, 0],
                                  &ones[0], &F[i, 0], &acc[c, 0, 0], &sse[c, 0])
            if i + 1 - i0 == _GRAM_BLOCK or i + 1 == chunks[c + 1]:
                if floating is double:
                    lorank_fill_d_grams(SIMD_WIDTH, <int> (i + 1 - i0), &F[i0, 0], &Y[i0, 0],
                                        stride, nk, fd, &grams[c, 0, 0, 0],
                                        &grams[c, 1, 0, 0])
                else:
                    lorank_fill_f_grams(SIMD_WIDTH, <int> (i + 1 - i0), &F[i0, 0], &Y[i0, 0],
                                        stride, nk, fd, &grams[c, 0, 0, 0],
                                        &grams[c, 1, 0, 0])
                i0 = i + 1
        free(fd)
    if failed:
        raise MemoryError("the fused step could not allocate its Gram block")
    for j in prange(n_cols, nogil=True, num_threads=n_threads, schedule="static"):
        for k in range(stride):
            total = 0
            for c in range(n_chunks):
                total = total + acc[c, j, k]
            out[j, k] = total


def _gather(const long long[::1] indptr, const int[::1] indices,
            const floating[::1] values, const floating[:, ::1] T,
            const floating[::1] scale, const floating[:, ::1] O,
            floating[:, ::1] out, double[::1] sse, int n_threads):
    cdef Py_ssize_t n_target = T.shape[0], j
    cdef int stride = <int> T.shape[1]
    _check_rows(stride, sizeof(floating), (O.shape[1], out.shape[1], scale.shape[0]))
    _check_indptr("indptr", indptr, n_target, indices.shape[0], values.shape[0])
    _check_same("out and T rows", out.shape[0], n_target)
    _check_same("sse and T rows", sse.shape[0], n_target)
    _check_threads(n_threads)
    cdef int64_t p0
    _team[0] = 0
    for j in prange(n_target, nogil=True, num_threads=n_threads, schedule="dynamic",
                    chunksize=64):
        if _team[0] == 0:  # the first thread there writes it: once, the same value
            _team[0] = omp_get_num_threads()
        p0 = indptr[j]
        if floating is double:
            sse[j] = lorank_fill_d_gather(SIMD_WIDTH, indptr[j + 1] - p0, &indices[p0],
                                          &values[p0], &O[0, 0], stride, &T[j, 0],
                                          &scale[0], &out[j, 0])
        else:
            sse[j] = lorank_fill_f_gather(SIMD_WIDTH, indptr[j + 1] - p0, &indices[p0],
                                          &values[p0], &O[0, 0], stride, &T[j, 0],
                                          &scale[0], &out[j, 0])


def _scatter(const long long[::1] indptr, const int[::1] indices,
             const floating[::1] values, const floating[:, ::1] TD,
             const floating[:, ::1] O, const long long[::1] chunks,
             floating[:, :, ::1] acc, double[::1] sse, floating[:, ::1] out,
             int n_threads):
    cdef Py_ssize_t n_chunks = chunks.shape[0] - 1, n_target = TD.shape[0]
    cdef int stride = <int> TD.shape[1]
    cdef Py_ssize_t c, i, j, k
    _check_rows(stride, sizeof(floating), (O.shape[1], out.shape[1], acc.shape[2]))
    _check_indptr("indptr", indptr, O.shape[0], indices.shape[0], values.shape[0])
    if n_chunks < 1 or chunks[0] != 0 or chunks[n_chunks] != O.shape[0]:
        raise ValueError(f"chunks must run from 0 to the {O.shape[0]} rows of O")
    for c in range(n_chunks):
        if chunks[c] > chunks[c + 1]:
            raise ValueError(f"chunks must be non-decreasing, got {list(chunks)}")
    if acc.shape[0] < n_chunks or acc.shape[1] != n_target:
        raise ValueError(f"acc has shape {(acc.shape[0], acc.shape[1], acc.shape[2])}, "
                         "expected at least "
                         f"({n_chunks}, {n_target}, {stride})")
    if sse.shape[0] < n_chunks:
        raise ValueError(f"sse has length {sse.shape[0]}, expected at least {n_chunks}")
    _check_same("out and TD rows", out.shape[0], n_target)
    _check_threads(n_threads)
    cdef int64_t p0
    cdef double ss
    cdef floating total
    _team[0] = 0
    for c in prange(n_chunks, nogil=True, num_threads=n_threads, schedule="dynamic",
                    chunksize=1):
        if _team[0] == 0:  # the first thread there writes it: once, the same value
            _team[0] = omp_get_num_threads()
        ss = 0
        memset(&acc[c, 0, 0], 0, n_target * stride * sizeof(floating))
        for i in range(chunks[c], chunks[c + 1]):
            p0 = indptr[i]
            if floating is double:
                ss = ss + lorank_fill_d_scatter(SIMD_WIDTH, indptr[i + 1] - p0,
                                                &indices[p0], &values[p0], &TD[0, 0],
                                                stride, &O[i, 0], &acc[c, 0, 0])
            else:
                ss = ss + lorank_fill_f_scatter(SIMD_WIDTH, indptr[i + 1] - p0,
                                                &indices[p0], &values[p0], &TD[0, 0],
                                                stride, &O[i, 0], &acc[c, 0, 0])
        sse[c] = ss
    for j in prange(n_target, nogil=True, num_threads=n_threads, schedule="static"):
        for k in range(stride):
            total = 0
            for c in range(n_chunks):
                total = total + acc[c, j, k]
            out[j, k] = total
