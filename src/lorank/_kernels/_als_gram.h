/* Hot loops of the ALS half-step, in C with vector types so they vectorize well.
 *
 * For one target (a row or a column) with n observations at fixed-factor rows
 * idx[0..n) and values vals[0..n), with features f = [F[i, 0:rank], 1 if biases]
 * and targets t = x − mean − (F[i, rank] if biases):
 *   gram:     G[k, :] += f[k] f,  b += t f,  tt += t²   for k < d   (G is d x stride;
 *             rows of more than four vectors get only the tiles of the lower triangle)
 *   residual: Σ (t − fᵀx)² and Σ (t − fᵀx)
 * (each term times the observation's weight, when weighted: w[p] from an nnz
 * array, or, with wlane >= 0, lane wlane of its row: the other side's per-row
 * weights kept in a padding lane, times the `others`' lanes in a Hadamard row)
 * Factor rows are `stride` wide: whole 64-byte vectors, zero padded. The Gram
 * matrix is a small GEMM, XᵀX over a gathered block X of features: four rows of
 * G at a time stay in registers while the block streams from L1. Common widths
 * are compiled with the vector count as a constant. With GCC on x86-64 there are
 * AVX-512, AVX2 and SSE2 variants (64-, 32- and 16-byte vectors; the widest the
 * CPU runs is chosen once, at import); elsewhere the 16-byte one. Every target is
 * summed in a fixed order: results do not depend on the thread count (they may
 * differ in the last bits between CPUs of different vector widths).
 */
#ifndef LORANK_ALS_GRAM_H
#define LORANK_ALS_GRAM_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LORANK_X86_VARIANTS 1
#else
#define LORANK_X86_VARIANTS 0
#endif

#define LORANK_BLOCK 128 /* observations gathered at a time */
#define LORANK_KC 4      /* rows of G held in registers (12 with AVX-512, one vector) */
#define LORANK_AHEAD 24  /* observations between a row's prefetch and its use */
#define LORANK_MAXBYTES 1024 /* widest row: 256 floats / 128 doubles */
/* Temporal locality of the gram's prefetches: 3 (keep in every cache level) was
   measured faster than 0 at rank 10 (bench/bench_als_visit.py). */
#ifndef LORANK_LOCALITY
#define LORANK_LOCALITY 3
#endif
#define LORANK_BATCH_MAXD 16 /* most unknowns of the batched Cholesky */
/* Lane numbers, loaded as a vector of 32- or 64-bit integers (NAME##_masks). */
static const int32_t lorank_lanes32[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const int64_t lorank_lanes64[8] = {0, 1, 2, 3, 4, 5, 6, 7};
/* The gram's scratch: one gathered block of rows. */
#define LORANK_SCRATCH_BYTES(row_bytes) ((size_t)LORANK_BLOCK * (row_bytes))

/* Vector types per instruction set: 64 bytes for AVX-512, 32 for AVX2, 16 else,
   and integer vectors of the same shape for the lane masks. */
typedef float lorank_vf64 __attribute__((vector_size(64), aligned(4)));
typedef double lorank_vd64 __attribute__((vector_size(64), aligned(8)));
typedef float lorank_vf32 __attribute__((vector_size(32), aligned(4)));
typedef double lorank_vd32 __attribute__((vector_size(32), aligned(8)));
typedef float lorank_vf16 __attribute__((vector_size(16), aligned(4)));
typedef double lorank_vd16 __attribute__((vector_size(16), aligned(8)));
typedef int32_t lorank_kf64 __attribute__((vector_size(64), aligned(4)));
typedef int64_t lorank_kd64 __attribute__((vector_size(64), aligned(8)));
typedef int32_t lorank_kf32 __attribute__((vector_size(32), aligned(4)));
typedef int64_t lorank_kd32 __attribute__((vector_size(32), aligned(8)));
typedef int32_t lorank_kf16 __attribute__((vector_size(16), aligned(4)));
typedef int64_t lorank_kd16 __attribute__((vector_size(16), aligned(8)));

/* Horizontal sums by butterflies: x + x[l ^ h] for h = lanes/2, ..., 1 leaves the
   sum in every lane (a fixed order), in shuffles rather than lane by lane. */
typedef int32_t lorank_mi64 __attribute__((vector_size(64)));
typedef int64_t lorank_ml64 __attribute__((vector_size(64)));
typedef int32_t lorank_mi32 __attribute__((vector_size(32)));
typedef int64_t lorank_ml32 __attribute__((vector_size(32)));
typedef int32_t lorank_mi16 __attribute__((vector_size(16)));
typedef int64_t lorank_ml16 __attribute__((vector_size(16)));
#define LORANK_X2(h) 0 ^ (h), 1 ^ (h)
#define LORANK_X4(h) LORANK_X2(h), 2 ^ (h), 3 ^ (h)
#define LORANK_X8(h) LORANK_X4(h), 4 ^ (h), 5 ^ (h), 6 ^ (h), 7 ^ (h)
#define LORANK_X16(h) LORANK_X8(h), 8 ^ (h), 9 ^ (h), 10 ^ (h), 11 ^ (h), \
    12 ^ (h), 13 ^ (h), 14 ^ (h), 15 ^ (h)
#define LORANK_BFLY(x, MT, X, h) x += __builtin_shuffle(x, (MT){X(h)})
#define LORANK_HSUM_16(x, MT) do { LORANK_BFLY(x, MT, LORANK_X16, 8); \
    LORANK_BFLY(x, MT, LORANK_X16, 4); LORANK_BFLY(x, MT, LORANK_X16, 2); \
    LORANK_BFLY(x, MT, LORANK_X16, 1); } while (0)
#define LORANK_HSUM_8(x, MT) do { LORANK_BFLY(x, MT, LORANK_X8, 4); \
    LORANK_BFLY(x, MT, LORANK_X8, 2); LORANK_BFLY(x, MT, LORANK_X8, 1); } while (0)
#define LORANK_HSUM_4(x, MT) do { LORANK_BFLY(x, MT, LORANK_X4, 2); \
    LORANK_BFLY(x, MT, LORANK_X4, 1); } while (0)
#define LORANK_HSUM_2(x, MT) LORANK_BFLY(x, MT, LORANK_X2, 1)


/* The four dot products of a batch at once: pairs of vectors are folded together
   (two-source shuffles), so a batch costs about two shuffles per dot product and
   a short dependency chain. d[0..4) receives the sums of p0..p3. */
#define LORANK_FOLD(x, y, MT, ...) (__builtin_shuffle(x, y, (MT){__VA_ARGS__}))
#define LORANK_SUM4_16(MT, p0, p1, p2, p3, d) do {                                 \
    __typeof__(p0) q01_ = LORANK_FOLD(p0, p1, MT, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) \
                        + LORANK_FOLD(p0, p1, MT, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); \
    __typeof__(p0) q23_ = LORANK_FOLD(p2, p3, MT, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) \
                        + LORANK_FOLD(p2, p3, MT, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); \
    __typeof__(p0) r_ = LORANK_FOLD(q01_, q23_, MT, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) \
                      + LORANK_FOLD(q01_, q23_, MT, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31); \
    LORANK_BFLY(r_, MT, LORANK_X16, 2);                                            \
    LORANK_BFLY(r_, MT, LORANK_X16, 1);                                            \
    (d)[0] = r_[0]; (d)[1] = r_[8]; (d)[2] = r_[4]; (d)[3] = r_[12];               \
} while (0)
#define LORANK_SUM4_8(MT, p0, p1, p2, p3, d) do {                                  \
    __typeof__(p0) q01_ = LORANK_FOLD(p0, p1, MT, 0, 1, 2, 3, 8, 9, 10, 11)        \
                        + LORANK_FOLD(p0, p1, MT, 4, 5, 6, 7, 12, 13, 14, 15);     \
    __typeof__(p0) q23_ = LORANK_FOLD(p2, p3, MT, 0, 1, 2, 3, 8, 9, 10, 11)        \
                        + LORANK_FOLD(p2, p3, MT, 4, 5, 6, 7, 12, 13, 14, 15);     \
    __typeof__(p0) r_ = LORANK_FOLD(q01_, q23_, MT, 0, 1, 8, 9, 4, 5, 12, 13)      \
                      + LORANK_FOLD(q01_, q23_, MT, 2, 3, 10, 11, 6, 7, 14, 15);   \
    LORANK_BFLY(r_, MT, LORANK_X8, 1);                                             \
    (d)[0] = r_[0]; (d)[1] = r_[4]; (d)[2] = r_[2]; (d)[3] = r_[6];                \
} while (0)
#define LORANK_SUM4_4(MT, p0, p1, p2, p3, d) do {                                  \
    __typeof__(p0) q01_ = LORANK_FOLD(p0, p1, MT, 0, 1, 4, 5)                      \
                        + LORANK_FOLD(p0, p1, MT, 2, 3, 6, 7);                     \
    __typeof__(p0) q23_ = LORANK_FOLD(p2, p3, MT, 0, 1, 4, 5)                      \
                        + LORANK_FOLD(p2, p3, MT, 2, 3, 6, 7);                     \
    __typeof__(p0) r_ = LORANK_FOLD(q01_, q23_, MT, 0, 4, 2, 6)                    \
                      + LORANK_FOLD(q01_, q23_, MT, 1, 5, 3, 7);                   \
    (d)[0] = r_[0]; (d)[1] = r_[2]; (d)[2] = r_[1]; (d)[3] = r_[3];                \
} while (0)
#define LORANK_SUM4_2(MT, p0, p1, p2, p3, d) do {                                  \
    __typeof__(p0) q01_ = LORANK_FOLD(p0, p1, MT, 0, 2) + LORANK_FOLD(p0, p1, MT, 1, 3); \
    __typeof__(p0) q23_ = LORANK_FOLD(p2, p3, MT, 0, 2) + LORANK_FOLD(p2, p3, MT, 1, 3); \
    (d)[0] = q01_[0]; (d)[1] = q01_[1]; (d)[2] = q23_[0]; (d)[3] = q23_[1];        \
} while (0)

/* r[0..N) <- its transpose (r[l][k] <-> r[k][l]), N = lanes: log2(N) stages, each
   swapping the off-diagonal h x h blocks of every 2h x 2h block by two-source
   shuffles (lane j of the pair (r[i], r[i + h]), i & h = 0: low TLO, high THI). */
#define LORANK_TLO(j, h, N) ((j) & (h) ? (N) + (j) - (h) : (j))
#define LORANK_THI(j, h, N) ((j) & (h) ? (N) + (j) : (j) + (h))
#define LORANK_L2(M, h, N) M(0, h, N), M(1, h, N)
#define LORANK_L4(M, h, N) LORANK_L2(M, h, N), M(2, h, N), M(3, h, N)
#define LORANK_L8(M, h, N) LORANK_L4(M, h, N), M(4, h, N), M(5, h, N), M(6, h, N), M(7, h, N)
#define LORANK_L16(M, h, N) LORANK_L8(M, h, N), M(8, h, N), M(9, h, N), M(10, h, N), \
    M(11, h, N), M(12, h, N), M(13, h, N), M(14, h, N), M(15, h, N)
#define LORANK_TSTAGE(r, h, N, MT, L)                                              \
    for (int i_ = 0; i_ < (N); ++i_) {                                             \
        if (i_ & (h)) continue;                                                    \
        const __typeof__(r[0]) a_ = r[i_], b_ = r[i_ + (h)];                       \
        r[i_] = __builtin_shuffle(a_, b_, (MT){L(LORANK_TLO, h, N)});              \
        r[i_ + (h)] = __builtin_shuffle(a_, b_, (MT){L(LORANK_THI, h, N)});        \
    }
#define LORANK_TRANSPOSE_16(r, MT) do { LORANK_TSTAGE(r, 8, 16, MT, LORANK_L16)   \
    LORANK_TSTAGE(r, 4, 16, MT, LORANK_L16) LORANK_TSTAGE(r, 2, 16, MT, LORANK_L16) \
    LORANK_TSTAGE(r, 1, 16, MT, LORANK_L16) } while (0)
#define LORANK_TRANSPOSE_8(r, MT) do { LORANK_TSTAGE(r, 4, 8, MT, LORANK_L8)      \
    LORANK_TSTAGE(r, 2, 8, MT, LORANK_L8) LORANK_TSTAGE(r, 1, 8, MT, LORANK_L8) } while (0)
#define LORANK_TRANSPOSE_4(r, MT) do { LORANK_TSTAGE(r, 2, 4, MT, LORANK_L4)      \
    LORANK_TSTAGE(r, 1, 4, MT, LORANK_L4) } while (0)
#define LORANK_TRANSPOSE_2(r, MT) do { LORANK_TSTAGE(r, 1, 2, MT, LORANK_L2) } while (0)

#define LORANK_TRANSPOSE_F64(r) LORANK_TRANSPOSE_16(r, lorank_mi64)
#define LORANK_HSUM_F64(x) LORANK_HSUM_16(x, lorank_mi64)
#define LORANK_SUM4_F64(p0, p1, p2, p3, d) LORANK_SUM4_16(lorank_mi64, p0, p1, p2, p3, d)
#define LORANK_TRANSPOSE_D64(r) LORANK_TRANSPOSE_8(r, lorank_ml64)
#define LORANK_HSUM_D64(x) LORANK_HSUM_8(x, lorank_ml64)
#define LORANK_SUM4_D64(p0, p1, p2, p3, d) LORANK_SUM4_8(lorank_ml64, p0, p1, p2, p3, d)
#define LORANK_TRANSPOSE_F32(r) LORANK_TRANSPOSE_8(r, lorank_mi32)
#define LORANK_HSUM_F32(x) LORANK_HSUM_8(x, lorank_mi32)
#define LORANK_SUM4_F32(p0, p1, p2, p3, d) LORANK_SUM4_8(lorank_mi32, p0, p1, p2, p3, d)
#define LORANK_TRANSPOSE_D32(r) LORANK_TRANSPOSE_4(r, lorank_ml32)
#define LORANK_HSUM_D32(x) LORANK_HSUM_4(x, lorank_ml32)
#define LORANK_SUM4_D32(p0, p1, p2, p3, d) LORANK_SUM4_4(lorank_ml32, p0, p1, p2, p3, d)
#define LORANK_TRANSPOSE_F16(r) LORANK_TRANSPOSE_4(r, lorank_mi16)
#define LORANK_HSUM_F16(x) LORANK_HSUM_4(x, lorank_mi16)
#define LORANK_SUM4_F16(p0, p1, p2, p3, d) LORANK_SUM4_4(lorank_mi16, p0, p1, p2, p3, d)
#define LORANK_TRANSPOSE_D16(r) LORANK_TRANSPOSE_2(r, lorank_ml16)
#define LORANK_HSUM_D16(x) LORANK_HSUM_2(x, lorank_ml16)
#define LORANK_SUM4_D16(p0, p1, p2, p3, d) LORANK_SUM4_2(lorank_ml16, p0, p1, p2, p3, d)


#define LORANK_MAXK 8 /* most extra factors (`others`) in a Hadamard row */

/* For KC rows of G at a time: acc[kk][v] += X[q][k0 + kk] * X[q][v] over the
   block, then into G. */
#define LORANK_GRAM_ROWS(T, VT, NV, KC)                                            \
    for (int k0 = 0; k0 < d; k0 += (KC)) {                                         \
        VT acc[KC][NV];                                                            \
        for (int kk = 0; kk < (KC); ++kk)                                          \
            for (int v = 0; v < (NV); ++v) acc[kk][v] = (VT){0};                   \
        for (int q = 0; q < nb; ++q) {                                             \
            const VT *xq = X + (size_t)q * (NV);                                   \
            const T *xs = (const T *)xq + k0;                                      \
            for (int kk = 0; kk < (KC); ++kk)                                      \
                for (int v = 0; v < (NV); ++v) acc[kk][v] += xs[kk] * xq[v];       \
        }                                                                          \
        for (int kk = 0; kk < (KC) && k0 + kk < d; ++kk) {                         \
            VT *Gk = (VT *)(G + (size_t)(k0 + kk) * stride);                       \
            for (int v = 0; v < (NV); ++v) Gk[v] += acc[kk][v];                    \
        }                                                                          \
    }

/* Wide rows (more vectors than the unrolled cases): tiles of KC rows x VB vectors
   of G in registers, and only the tiles that hold the lower triangle (columns up
   to the tile's last row), which is all the solve reads. */
#define LORANK_GRAM_TILE(T, VT, KC, VB)                                            \
    {                                                                              \
        VT acc[KC][VB];                                                            \
        for (int kk = 0; kk < (KC); ++kk)                                          \
            for (int v = 0; v < (VB); ++v) acc[kk][v] = (VT){0};                   \
        for (int q = 0; q < nb; ++q) {                                             \
            const VT *xq = X + (size_t)q * nv + v0;                                \
            const T *xs = (const T *)(X + (size_t)q * nv) + k0;                    \
            for (int kk = 0; kk < (KC); ++kk)                                      \
                for (int v = 0; v < (VB); ++v) acc[kk][v] += xs[kk] * xq[v];       \
        }                                                                          \
        for (int kk = 0; kk < (KC) && k0 + kk < d; ++kk) {                         \
            VT *Gk = (VT *)(G + (size_t)(k0 + kk) * stride) + v0;                  \
            for (int v = 0; v < (VB); ++v) Gk[v] += acc[kk][v];                    \
        }                                                                          \
    }
#define LORANK_GRAM_WIDE(T, VT, KC, VB)                                            \
    for (int k0 = 0; k0 < d; k0 += (KC)) {                                         \
        const int last = k0 + (KC) - 1 < d - 1 ? k0 + (KC) - 1 : d - 1;            \
        const int vend = last / LANES + 1;                                         \
        for (int v0 = 0; v0 < vend; v0 += (VB)) {                                  \
            switch (vend - v0 < (VB) ? vend - v0 : (VB)) {                         \
                case 1: LORANK_GRAM_TILE(T, VT, KC, 1) break;                      \
                case 2: LORANK_GRAM_TILE(T, VT, KC, 2) break;                      \
                case 3: LORANK_GRAM_TILE(T, VT, KC, 3) break;                      \
                default: LORANK_GRAM_TILE(T, VT, KC, VB) break;                    \
            }                                                                      \
        }                                                                          \
    }

/* Observation p's rows, LORANK_AHEAD observations early (they come from memory). */
#define LORANK_PREFETCH(HADAMARD, LOCALITY) LORANK_PREFETCH_TO(HADAMARD, LOCALITY, n)
#define LORANK_PREFETCH_TO(HADAMARD, LOCALITY, LIMIT)                              \
    do {                                                                           \
        if (p + LORANK_AHEAD < (LIMIT)) {                                          \
            __builtin_prefetch(F + (size_t)idx[p + LORANK_AHEAD] * stride, 0, LOCALITY); \
            if (HADAMARD)                                                          \
                for (int k = 0; k < K; ++k)                                        \
                    __builtin_prefetch(oF[k] + (size_t)oidx[k][p + LORANK_AHEAD] * stride, \
                                       0, LOCALITY);                               \
        }                                                                          \
    } while (0)

/* One observation p: `row` (and `orow[k]`, the other factors' rows when
   HADAMARD) and its unweighted target t = x − mean − Σ bias slots. */
#define LORANK_OBS(T, VT, HADAMARD)                                                \
    const VT *row = (const VT *)(F + (size_t)idx[p] * stride);                     \
    T t = (T)(vals[p] - mean) - (biases ? ((const T *)row)[rank] : 0);             \
    const VT *orow[LORANK_MAXK];                                                   \
    if (HADAMARD)                                                                  \
        for (int k = 0; k < K; ++k) {                                              \
            orow[k] = (const VT *)(oF[k] + (size_t)oidx[k][p] * stride);           \
            if (biases) t -= ((const T *)orow[k])[rank];                           \
        }

/* Observation p's weight wp_ (after LORANK_OBS): 1, w[p] (WEIGHTED 1), or
   (WEIGHTED 2) the product of its rows' lane `wlane`: per-row weights of the
   other side(s), kept in a padding lane of their factors (w_ij = κ_j with no
   nnz array; a target's own factor, e.g. τ_i, multiplies its sums afterwards). */
#define LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
    T wp_ = 1;                                                                     \
    if ((WEIGHTED) == 1) wp_ = w[p];                                               \
    if ((WEIGHTED) == 2) {                                                         \
        wp_ = ((const T *)row)[wlane];                                             \
        if (HADAMARD)                                                              \
            for (int k = 0; k < K; ++k) wp_ *= ((const T *)orow[k])[wlane];        \
    }

/* Feature vector v of the observation: the factor lanes of the (Hadamard
   product of the) rows, 1 in the bias lane, 0 in the padding whatever it holds. */
#define LORANK_FEATURE(VT, KT, HADAMARD, v, out)                                   \
    do {                                                                           \
        VT r_ = row[v];                                                            \
        if (HADAMARD)                                                              \
            for (int k = 0; k < K; ++k) r_ *= orow[k][v];                          \
        out = (VT)((KT)r_ & keep[v]) + one[v];                                     \
    } while (0)

/* The gram's gather of one block: X[q] = √w f, bacc += √w t · √w f, ss += w t². */
#define LORANK_GATHER(T, VT, KT, HSUM, WEIGHTED, HADAMARD)                               \
    for (int q = 0; q < nb; ++q) {                                                 \
        const int64_t p = start + q;                                               \
        LORANK_PREFETCH(HADAMARD, LORANK_LOCALITY);                                \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
        T sw = 1;                                                                  \
        if (WEIGHTED) {                                                            \
            sw = (T)sqrt((double)wp_);                                             \
            t *= sw;                                                               \
        }                                                                          \
        ss += (double)t * t;                                                       \
        for (int v = 0; v < nv; ++v) {                                             \
            VT x;                                                                  \
            LORANK_FEATURE(VT, KT, HADAMARD, v, x);                                \
            if (WEIGHTED) x *= sw;                                                 \
            X[(size_t)q * nv + v] = x;                                             \
            bacc[v] += t * x;                                                      \
        }                                                                          \
    }

/* The conjugate gradient's gather of one block: LORANK_GATHER's sums and rows,
   and (st != NULL) the scaled targets st[q] = √w t, so that the residuals can be
   summed again from the buffer. */
#define LORANK_CG_GATHER(T, VT, KT, HSUM, WEIGHTED, HADAMARD)                       \
    for (int q = 0; q < nb; ++q) {                                                 \
        const int64_t p = start + q;                                               \
        LORANK_PREFETCH(HADAMARD, 0);                                              \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
        T sw = 1;                                                                  \
        if (WEIGHTED) {                                                            \
            sw = (T)sqrt((double)wp_);                                             \
            t *= sw;                                                               \
        }                                                                          \
        ss += (double)t * t;                                                       \
        if (st != NULL) st[q] = t;                                                 \
        for (int v = 0; v < nv; ++v) {                                             \
            VT x;                                                                  \
            LORANK_FEATURE(VT, KT, HADAMARD, v, x);                                \
            if (WEIGHTED) x *= sw;                                                 \
            X[(size_t)q * nv + v] = x;                                             \
            bacc[v] += t * x;                                                      \
        }                                                                          \
    }

/* Σ_q (st_q − X_qᵀx)² over a gathered block of n rows of NV vectors, four rows
   at a time (SUM4), then one by one; into the double s2. */
#define LORANK_BLOCK_RESIDUAL(T, VT, NV, HSUM, SUM4)                               \
    {                                                                              \
        int64_t q = 0;                                                             \
        for (; q + 4 <= n; q += 4) {                                               \
            const VT *x0 = Xv + (size_t)q * (NV), *x1 = x0 + (NV), *x2 = x1 + (NV), \
                     *x3 = x2 + (NV);                                              \
            VT a0 = x0[0] * xv[0], a1 = x1[0] * xv[0], a2 = x2[0] * xv[0],         \
               a3 = x3[0] * xv[0];                                                 \
            for (int v = 1; v < (NV); ++v) {                                       \
                a0 += x0[v] * xv[v];                                               \
                a1 += x1[v] * xv[v];                                               \
                a2 += x2[v] * xv[v];                                               \
                a3 += x3[v] * xv[v];                                               \
            }                                                                      \
            T c[4];                                                                \
            SUM4(a0, a1, a2, a3, c);                                               \
            for (int k = 0; k < 4; ++k) {                                          \
                const double r = (double)(st[q + k] - c[k]);                       \
                s2 += r * r;                                                       \
            }                                                                      \
        }                                                                          \
        for (; q < n; ++q) {                                                       \
            const VT *xq = Xv + (size_t)q * (NV);                                  \
            VT acc = xq[0] * xv[0];                                                \
            for (int v = 1; v < (NV); ++v) acc += xq[v] * xv[v];                   \
            HSUM(acc);                                                             \
            const double r = (double)(st[q] - acc[0]);                             \
            s2 += r * r;                                                           \
        }                                                                          \
    }

/* Residual terms at x: acc = fᵀx by a pairwise tree over the lanes (short
   dependency chain, fixed order), then Σ w r², Σ w r. */
#define LORANK_RESIDUALS(T, VT, KT, HSUM, WEIGHTED, HADAMARD)                            \
    for (int64_t p = 0; p < n; ++p) {                                              \
        LORANK_PREFETCH(HADAMARD, LORANK_LOCALITY);                                \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
        VT f, acc;                                                                 \
        LORANK_FEATURE(VT, KT, HADAMARD, 0, f);                                    \
        acc = f * xv[0];                                                           \
        for (int v = 1; v < nv; ++v) {                                             \
            LORANK_FEATURE(VT, KT, HADAMARD, v, f);                                \
            acc += f * xv[v];                                                      \
        }                                                                          \
        HSUM(acc);                                                                 \
        const double res = (double)(t - acc[0]);                                   \
        const double wr = WEIGHTED ? (double)wp_ * res : res;                      \
        s2 += wr * res;                                                            \
        s1 += wr;                                                                  \
    }

/* One pass of the conjugate-gradient matvec: gacc += Σ w (fᵀv) f, and with
   WITH_B also bacc += Σ w t f, ss += Σ w t². */
#define LORANK_MATVEC(T, VT, KT, HSUM, WEIGHTED, HADAMARD)                               \
    for (int64_t p = 0; p < n; ++p) {                                              \
        LORANK_PREFETCH(HADAMARD, 0);                                              \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
        VT f[LORANK_MAXV], acc = (VT){0};                                          \
        for (int v = 0; v < nv; ++v) {                                             \
            LORANK_FEATURE(VT, KT, HADAMARD, v, f[v]);                             \
            acc += f[v] * vv[v];                                                   \
        }                                                                          \
        HSUM(acc);                                                                 \
        const T c = WEIGHTED ? wp_ * acc[0] : acc[0];                              \
        for (int v = 0; v < nv; ++v) gacc[v] += c * f[v];                          \
        if (with_b) {                                                              \
            const T wt = WEIGHTED ? wp_ * t : t;                                   \
            ss += (double)wt * t;                                                  \
            for (int v = 0; v < nv; ++v) bacc[v] += wt * f[v];                     \
        }                                                                          \
    }

/* Gv += Σ_q X_q (X_qᵀ v) over a gathered block of n rows of NV vectors: four
   rows at a time, their dot products folded together (SUM4), then one by one. */
#define LORANK_BLOCK_MATVEC(T, VT, NV, HSUM, SUM4)                                             \
    {                                                                              \
        int64_t q = 0;                                                             \
        for (; q + 4 <= n; q += 4) {                                               \
            const VT *x0 = Xv + (size_t)q * (NV), *x1 = x0 + (NV), *x2 = x1 + (NV), \
                     *x3 = x2 + (NV);                                              \
            VT a0 = x0[0] * vv[0], a1 = x1[0] * vv[0], a2 = x2[0] * vv[0],         \
               a3 = x3[0] * vv[0];                                                 \
            for (int v = 1; v < (NV); ++v) {                                       \
                a0 += x0[v] * vv[v];                                               \
                a1 += x1[v] * vv[v];                                               \
                a2 += x2[v] * vv[v];                                               \
                a3 += x3[v] * vv[v];                                               \
            }                                                                      \
            T c[4];                                                                \
            SUM4(a0, a1, a2, a3, c);                                               \
            for (int v = 0; v < (NV); ++v)                                         \
                gacc[v] += (c[0] * x0[v] + c[1] * x1[v]) + (c[2] * x2[v] + c[3] * x3[v]); \
        }                                                                          \
        for (; q < n; ++q) {                                                       \
            const VT *xq = Xv + (size_t)q * (NV);                                  \
            VT acc = xq[0] * vv[0];                                                \
            for (int v = 1; v < (NV); ++v) acc += xq[v] * vv[v];                   \
            HSUM(acc);                                                             \
            const T c = acc[0];                                                    \
            for (int v = 0; v < (NV); ++v) gacc[v] += c * xq[v];                   \
        }                                                                          \
    }

/* The rank-1 Gram: per observation, G[k, :] += f[k] f on the lower triangle's
   vectors (G stays in memory: L1 for small d), with no gathered block. */
#define LORANK_RANK1(T, VT, KT, HSUM, WEIGHTED, HADAMARD)                          \
    for (int64_t p = 0; p < n; ++p) {                                              \
        LORANK_PREFETCH(HADAMARD, LORANK_LOCALITY);                                \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        LORANK_OBS_WEIGHT(T, WEIGHTED, HADAMARD)                                   \
        T sw = 1;                                                                  \
        if (WEIGHTED) {                                                            \
            sw = (T)sqrt((double)wp_);                                             \
            t *= sw;                                                               \
        }                                                                          \
        ss += (double)t * t;                                                       \
        VT f[LORANK_MAXV];                                                         \
        for (int v = 0; v < nv; ++v) {                                             \
            LORANK_FEATURE(VT, KT, HADAMARD, v, f[v]);                             \
            if (WEIGHTED) f[v] *= sw;                                              \
            bacc[v] += t * f[v];                                                   \
        }                                                                          \
        for (int k = 0; k < d; ++k) {                                              \
            const T fk = ((const T *)f)[k];                                        \
            VT *Gk = (VT *)(G + (size_t)k * stride);                               \
            for (int v = 0; v <= k / LANES; ++v) Gk[v] += fk * f[v];               \
        }                                                                          \
    }

/* The fused Gram of one-vector rows: every row of G in registers, fed per
   observation straight from the factor row (with HADAMARD, the product h of it
   and the `others`' rows), with no gathered block. With y = w f (f = h masked:
   factor lanes, 1 in the bias lane, 0 in the padding), acc[k] += h[k] y for
   k < KC (rows k >= rank are dropped: the padding may hold anything), gb += y
   (the bias row, Σ w f), bacc += t y, ss += w t². Only G's lower triangle is
   read, so rows k < LANES/2 are summed on y's low half only (lo[k], half
   vectors: where a full vector takes both FMA pipes, as on Zen 4, two half
   vectors go in the same cycle), the same lanes by the same operations: the
   same bits. Netflix shape, rank 10, float32, 2 threads, in-process alternated
   calls at a fitted point, old/new time: items half-step 1.06-1.09x, users'
   0.98-1.14x (three runs of 10-16 pairs); 10M ratings 1.12-1.13x. */
#define LORANK_FUSED(T, VT, KT, WEIGHTED, HADAMARD, KC)                            \
    {                                                                              \
        enum { HALF_ = sizeof(VT) / sizeof(T) / 2,                                 \
               KLO_ = (int)(KC) < (int)HALF_ ? (int)(KC) : (int)HALF_ };           \
        typedef T HVT_ __attribute__((vector_size(sizeof(VT) / 2), aligned(sizeof(T)))); \
        HVT_ lo[KLO_];                                                             \
        VT acc[(int)(KC) > (int)KLO_ ? (int)(KC) : 1];                             \
        for (int kk = 0; kk < KLO_; ++kk) lo[kk] = (HVT_){0};                      \
        for (int kk = KLO_; kk < (KC); ++kk) acc[kk - KLO_] = (VT){0};             \
        for (int64_t p = 0; p < n; ++p) {                                          \
            LORANK_PREFETCH_TO(HADAMARD, LORANK_LOCALITY, npf);                    \
            const T *fr = F + (size_t)idx[p] * stride;                             \
            VT row = *(const VT *)fr;                                              \
            T t = (T)(vals[p] - mean) - (biases ? fr[rank] : 0);                   \
            T wp_ = (WEIGHTED) == 2 ? fr[wlane] : 1;                               \
            if ((WEIGHTED) == 1) wp_ = w[p];                                       \
            union { VT v; T s[sizeof(VT) / sizeof(T)]; } h_;                       \
            const T *hs = fr;                                                      \
            if (HADAMARD) {                                                        \
                for (int k = 0; k < K; ++k) {                                      \
                    const T *o = oF[k] + (size_t)oidx[k][p] * stride;              \
                    row *= *(const VT *)o;                                         \
                    if (biases) t -= o[rank];                                      \
                    if ((WEIGHTED) == 2) wp_ *= o[wlane];                          \
                }                                                                  \
                h_.v = row;                                                        \
                hs = h_.s;                                                         \
            }                                                                      \
            VT y = (VT)((KT)row & keep[0]) + one[0];                               \
            if (WEIGHTED) {                                                        \
                y *= wp_;                                                          \
                ss += (double)wp_ * ((double)t * t);                               \
            } else {                                                               \
                ss += (double)t * t;                                               \
            }                                                                      \
            bacc[0] += t * y;                                                      \
            gb += y;                                                               \
            union { VT v; HVT_ h[2]; } y_ = {y};                                   \
            for (int kk = 0; kk < KLO_; ++kk) lo[kk] += hs[kk] * y_.h[0];          \
            for (int kk = KLO_; kk < (KC); ++kk) acc[kk - KLO_] += hs[kk] * y;     \
        }                                                                          \
        for (int kk = 0; kk < KLO_ && kk < rank; ++kk)                             \
            ((HVT_ *)(G + (size_t)kk * stride))[0] += lo[kk];                      \
        for (int kk = KLO_; kk < (KC) && kk < rank; ++kk)                          \
            ((VT *)(G + (size_t)kk * stride))[0] += acc[kk - KLO_];                \
    }
/* The weight and Hadamard flags as constants, and K = 1 (a 3-way tensor) too. */
#define LORANK_FUSED_W(T, VT, KT, KC)                                              \
    if (wlane >= 0 && K == 0) { LORANK_FUSED(T, VT, KT, 2, 0, KC) }                \
    else if (wlane >= 0) { LORANK_FUSED(T, VT, KT, 2, 1, KC) }                     \
    else if (w == NULL && K == 0) { LORANK_FUSED(T, VT, KT, 0, 0, KC) }            \
    else if (K == 0) { LORANK_FUSED(T, VT, KT, 1, 0, KC) }                         \
    else if (w == NULL && K == 1) { enum { K = 1 }; LORANK_FUSED(T, VT, KT, 0, 1, KC) } \
    else if (w == NULL) { LORANK_FUSED(T, VT, KT, 0, 1, KC) }                      \
    else { LORANK_FUSED(T, VT, KT, 1, 1, KC) }

/* Run BODY(T, VT, KT, HSUM, W, H) with the weight and Hadamard flags as constants,
   and K = 1 (a 3-way tensor: one other factor) as a constant too, so its row
   pointer stays in a register (the enum hides the parameter K in that block). */
#define LORANK_SPECIALIZE(BODY, T, VT, KT, HSUM)                                   \
    if (wlane >= 0 && K == 0) { BODY(T, VT, KT, HSUM, 2, 0) }                      \
    else if (wlane >= 0) { BODY(T, VT, KT, HSUM, 2, 1) }                           \
    else if (w == NULL && K == 0) { BODY(T, VT, KT, HSUM, 0, 0) }                  \
    else if (K == 0) { BODY(T, VT, KT, HSUM, 1, 0) }                               \
    else if (w == NULL && K == 1) { enum { K = 1 }; BODY(T, VT, KT, HSUM, 0, 1) }  \
    else if (w == NULL) { BODY(T, VT, KT, HSUM, 0, 1) }                            \
    else { BODY(T, VT, KT, HSUM, 1, 1) }

#define LORANK_DEFINE(NAME, T, VT, KT, HSUM, SUM4, TRANSPOSE, TARGET)             \
/* keep selects the factor lanes (l < rank), one puts the constant 1 in the bias  \
   lane (l == rank with biases); the padding lanes get 0. */                       \
TARGET static inline void NAME##_masks(int nv, int rank, int biases, KT *keep, VT *one)   \
{                                                                                  \
    const int lanes = (int)(sizeof(VT) / sizeof(T));                               \
    /* By vector compares with the lane numbers (not lane by lane: a vector read  \
       of scalar stores waits for them to reach the cache). */                     \
    KT lane;                                                                       \
    memcpy(&lane, sizeof(T) == 4 ? (const void *)lorank_lanes32 : (const void *)lorank_lanes64, \
           sizeof lane);                                                           \
    const VT unit = (VT){0} + 1;                                                   \
    for (int v = 0; v < nv; ++v, lane += lanes) {                                  \
        keep[v] = (KT)(lane < rank);                                               \
        one[v] = (VT)((KT)unit & (KT)(lane == (biases ? rank : -1)));              \
    }                                                                              \
}                                                                                  \
                                                                                   \
/* G[k, :] += Σ w f[k] f (k < d; full rows of stride up to 4 vectors, else only  \
   the lower triangle's tiles), b += Σ w t f, tt += Σ w t².                        \
   Returns 0, or -1 if the rows are too wide (the caller must check first). */     \
TARGET static int NAME##_gram(                                                     \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    T *__restrict__ G, T *__restrict__ b, double *tt, void *scratch)               \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT), \
           KC_WIDE = LANES < 12 ? LANES : 12 };                                    \
    const int nv = stride / LANES, d = rank + (biases ? 1 : 0);                    \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV], bacc[LORANK_MAXV];                                        \
    VT *X = (VT *)scratch; /* LORANK_SCRATCH_BYTES(stride) */                      \
    if (nv > LORANK_MAXV || K > LORANK_MAXK) return -1;                            \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    for (int v = 0; v < nv; ++v) bacc[v] = (VT){0};                                \
    double ss = 0;                                                                 \
    for (int64_t start = 0; start < n; start += LORANK_BLOCK) {                    \
        const int nb = (int)(n - start < LORANK_BLOCK ? n - start : LORANK_BLOCK); \
        LORANK_SPECIALIZE(LORANK_GATHER, T, VT, KT, HSUM)                                \
        /* A row of one 64-byte vector keeps all d <= 12 rows of G in the 32      \
           AVX-512 registers, so the block is read once. */                        \
        switch (nv) {                                                              \
            case 1:                                                                \
                if (sizeof(VT) == 64 && d <= KC_WIDE) { LORANK_GRAM_ROWS(T, VT, 1, KC_WIDE) } \
                else { LORANK_GRAM_ROWS(T, VT, 1, LORANK_KC) }                     \
                break;                                                             \
            case 2: LORANK_GRAM_ROWS(T, VT, 2, LORANK_KC) break;                   \
            case 3: LORANK_GRAM_ROWS(T, VT, 3, LORANK_KC) break;                   \
            case 4: LORANK_GRAM_ROWS(T, VT, 4, LORANK_KC) break;                   \
            default:                                                               \
                if (sizeof(VT) == 64) { LORANK_GRAM_WIDE(T, VT, LORANK_KC, 4) }     \
                else { LORANK_GRAM_WIDE(T, VT, LORANK_KC, 2) }                      \
                break;                                                             \
        }                                                                          \
    }                                                                              \
    for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                          \
    *tt += ss;                                                                     \
    return 0;                                                                      \
}                                                                                  \
                                                                                   \
/* The same sums as gram by rank-1 updates (no gathered block; for the crossover  \
   table and the targets where it wins). */                                        \
TARGET static void NAME##_gram_rank1(                                              \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    T *__restrict__ G, T *__restrict__ b, double *tt)                              \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES, d = rank + (biases ? 1 : 0);                    \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV], bacc[LORANK_MAXV];                                        \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    for (int v = 0; v < nv; ++v) bacc[v] = (VT){0};                                \
    double ss = 0;                                                                 \
    LORANK_SPECIALIZE(LORANK_RANK1, T, VT, KT, HSUM)                               \
    for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                          \
    *tt += ss;                                                                     \
}                                                                                  \
                                                                                   \
/* The Gram of gram by LORANK_FUSED, for rows of one 64-byte vector (and up to   \
   LORANK_MAXK `others`); returns -1 (nothing done) for any other row. Rows are   \
   prefetched for observations up to npf >= n (past n: the next target's). */     \
TARGET static int NAME##_gram_fused(                                               \
    int64_t n, int64_t npf, const int *__restrict__ idx, const T *__restrict__ vals, \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    T *__restrict__ G, T *__restrict__ b, double *tt)                              \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T) };                                       \
    if (sizeof(VT) != 64 || stride != LANES || K > LORANK_MAXK || rank > LANES) return -1; \
    KT keep[1];                                                                    \
    VT one[1], bacc[1] = {(VT){0}}, gb = (VT){0};                                  \
    NAME##_masks(1, rank, biases, keep, one);                                      \
    double ss = 0;                                                                 \
    switch ((rank + 1) / 2) {                                                      \
        case 0: case 1: LORANK_FUSED_W(T, VT, KT, 2) break;                        \
        case 2: LORANK_FUSED_W(T, VT, KT, 4) break;                                \
        case 3: LORANK_FUSED_W(T, VT, KT, 6) break;                                \
        case 4: LORANK_FUSED_W(T, VT, KT, 8) break;                                \
        case 5: LORANK_FUSED_W(T, VT, KT, (LANES < 10 ? LANES : 10)) break;        \
        case 6: LORANK_FUSED_W(T, VT, KT, (LANES < 12 ? LANES : 12)) break;        \
        case 7: LORANK_FUSED_W(T, VT, KT, (LANES < 14 ? LANES : 14)) break;        \
        default: LORANK_FUSED_W(T, VT, KT, LANES) break;                           \
    }                                                                              \
    if (biases) ((VT *)(G + (size_t)rank * stride))[0] += gb;                      \
    ((VT *)b)[0] += bacc[0];                                                       \
    *tt += ss;                                                                     \
    return 0;                                                                      \
}                                                                                  \
                                                                                   \
/* Cholesky solves of nt systems at once, one per lane (groups of LANES): each    \
   G[t] (d x d, d <= LORANK_BATCH_MAXD, row stride ld, its lower triangle read)   \
   and b[t]; every lane runs the operation sequence of the one-system solve of    \
   _als.pyx (cholesky_solve), whatever the other lanes hold. info[t] = 0 and b[t] \
   ← x, or info[t] = k > 0 if the leading k x k minor is not positive definite    \
   (G[t], b[t] untouched). With z (rows of ld), x = L⁻ᵀ(L⁻¹b + z[t]): the mean    \
   plus a draw of N(0, P⁻¹) when z[t] holds scaled standard normals, in the       \
   same back substitution. */                                                     \
TARGET static void NAME##_chol_batch(int nt, int d, int ld, T *const *G, T *const *b, \
                                     const T *const *z, int *info)                 \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T),                                         \
           NPACK = LORANK_BATCH_MAXD * (LORANK_BATCH_MAXD + 1) / 2 };             \
    VT A[NPACK + LANES], x[LORANK_BATCH_MAXD + LANES], zx[LORANK_BATCH_MAXD + LANES]; \
    VT inv[LORANK_BATCH_MAXD];                                                     \
    const VT zero = (VT){0}, unit = zero + 1;                                      \
    for (int g0 = 0; g0 < nt; g0 += LANES) {                                       \
        const int m = nt - g0 < LANES ? nt - g0 : LANES;                           \
        T *const *Gg = G + g0;                                                     \
        T *const *bg = b + g0;                                                     \
        T *xf = (T *)x;                                                            \
        /* Into lanes: row i of G (and b, as row d) by blocks of LANES columns of  \
           the LANES targets, transposed in registers (ld is whole vectors: the   \
           caller's rows are 64-byte multiples). Each block is stored whole: its  \
           lanes past column i land on the next rows' slots, written after it.    \
           Lanes past m solve lane 0's system (their results are dropped). Lane   \
           by lane scalar stores instead cost about 140 cycles per target: a      \
           vector read of them waits until they reach the cache. */               \
        const T *srcG[LANES], *srcb[LANES], *srcz[LANES];                          \
        for (int l = 0; l < LANES; ++l) {                                          \
            srcG[l] = Gg[l < m ? l : 0];                                           \
            srcb[l] = bg[l < m ? l : 0];                                           \
            srcz[l] = z != NULL ? z[g0 + (l < m ? l : 0)] : NULL;                  \
        }                                                                          \
        /* Rows 0..d-1 of G, then b (row d) and z (row d + 1). */                  \
        for (int i = 0; i <= d + (z != NULL); ++i) {                               \
            for (int c = 0; c * LANES <= (i < d ? i : d - 1); ++c) {               \
                VT r[LANES];                                                       \
                for (int l = 0; l < LANES; ++l)                                    \
                    r[l] = *(const VT *)((i < d ? srcG[l] + (size_t)i * ld         \
                                          : i == d ? srcb[l] : srcz[l]) + c * LANES); \
                TRANSPOSE(r);                                                      \
                VT *out = i < d ? A + i * (i + 1) / 2 + c * LANES                  \
                          : (i == d ? x : zx) + c * LANES;                         \
                for (int l = 0; l < LANES; ++l) out[l] = r[l];                     \
            }                                                                      \
        }                                                                          \
        KT bad = (KT){0};                                                          \
        for (int j = 0; j < d; ++j) {                                              \
            VT *Aj = A + j * (j + 1) / 2;                                          \
            VT s = Aj[j];                                                          \
            for (int k = 0; k < j; ++k) s = s - Aj[k] * Aj[k];                     \
            const KT ok = (KT)(s > zero);                                          \
            bad |= ~ok & (KT)(bad == (KT){0}) & ((KT){0} + (j + 1));               \
            s = (VT)(((KT)s & ok) | ((KT)unit & ~ok)); /* a failed lane goes on finite */ \
            s = NAME##_vsqrt(s);                                                   \
            Aj[j] = s;                                                             \
            inv[j] = unit / s;                                                     \
            for (int i = j + 1; i < d; ++i) {                                      \
                VT *Ai = A + i * (i + 1) / 2;                                      \
                VT u = Ai[j];                                                      \
                for (int k = 0; k < j; ++k) u = u - Ai[k] * Aj[k];                 \
                Ai[j] = u * inv[j];                                                \
            }                                                                      \
        }                                                                          \
        for (int i = 0; i < d; ++i) { /* L y = b */                                \
            const VT *Ai = A + i * (i + 1) / 2;                                    \
            VT s = x[i];                                                           \
            for (int k = 0; k < i; ++k) s = s - Ai[k] * x[k];                      \
            x[i] = s * inv[i];                                                     \
        }                                                                          \
        if (z != NULL)                                                             \
            for (int i = 0; i < d; ++i) x[i] += zx[i];                             \
        for (int i = d - 1; i >= 0; --i) { /* Lᵀ x = y */                          \
            VT s = x[i];                                                           \
            for (int k = i + 1; k < d; ++k) s = s - A[k * (k + 1) / 2 + i] * x[k]; \
            x[i] = s * inv[i];                                                     \
        }                                                                          \
        for (int l = 0; l < m; ++l) {                                              \
            info[g0 + l] = (int)bad[l];                                            \
            if (bad[l]) continue;                                                  \
            for (int i = 0; i < d; ++i) bg[l][i] = xf[(size_t)i * LANES + l];      \
        }                                                                          \
    }                                                                              \
}                                                                                  \
                                                                                   \
/* sse = Σ w (t − fᵀx)², rsum = Σ w (t − fᵀx); x is stride wide (its padding is   \
   never read: the features are 0 there). */                                      \
TARGET static void NAME##_residual(                                                \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    const T *__restrict__ x, double *sse, double *rsum)                            \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES;                                                 \
    const VT *xv = (const VT *)x;                                                  \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV];                                                           \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    double s2 = 0, s1 = 0;                                                         \
    LORANK_SPECIALIZE(LORANK_RESIDUALS, T, VT, KT, HSUM)                                 \
    *sse = s2;                                                                     \
    *rsum = s1;                                                                    \
}                                                                                  \
                                                                                   \
                                                                                   \
/* Gv += Σ_q X_q X_qᵀ v over the rows cg_gather wrote. */                          \
TARGET static void NAME##_cg_matvec(int64_t n, const T *__restrict__ Xall, int stride, \
                                    const T *__restrict__ v_in, T *__restrict__ Gv) \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES;                                                 \
    const VT *Xv = (const VT *)Xall, *vv = (const VT *)v_in;                       \
    VT gacc[LORANK_MAXV];                                                          \
    for (int v = 0; v < nv; ++v) gacc[v] = (VT){0};                                \
    switch (nv) {                                                                  \
        case 1: LORANK_BLOCK_MATVEC(T, VT, 1, HSUM, SUM4) break;                               \
        case 2: LORANK_BLOCK_MATVEC(T, VT, 2, HSUM, SUM4) break;                               \
        case 3: LORANK_BLOCK_MATVEC(T, VT, 3, HSUM, SUM4) break;                               \
        case 4: LORANK_BLOCK_MATVEC(T, VT, 4, HSUM, SUM4) break;                               \
        case 5: LORANK_BLOCK_MATVEC(T, VT, 5, HSUM, SUM4) break;                               \
        case 8: LORANK_BLOCK_MATVEC(T, VT, 8, HSUM, SUM4) break;                               \
        case 9: LORANK_BLOCK_MATVEC(T, VT, 9, HSUM, SUM4) break;                               \
        default: LORANK_BLOCK_MATVEC(T, VT, nv, HSUM, SUM4) break;                             \
    }                                                                              \
    for (int v = 0; v < nv; ++v) ((VT *)Gv)[v] += gacc[v];                         \
}                                                                                  \
                                                                                   \
/* Σ_q (st_q − X_qᵀx)² over the rows and scaled targets cg_gather wrote: the     \
   residual sum of squares Σ w (t − fᵀx)² from the buffer. */                      \
TARGET static double NAME##_cg_residual(int64_t n, const T *__restrict__ Xall,     \
                                        const T *__restrict__ st, int stride,      \
                                        const T *__restrict__ x)                   \
{                                                                                  \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    const VT *Xv = (const VT *)Xall, *xv = (const VT *)x;                          \
    double s2 = 0;                                                                 \
    switch (nv) {                                                                  \
        case 1: LORANK_BLOCK_RESIDUAL(T, VT, 1, HSUM, SUM4) break;                 \
        case 2: LORANK_BLOCK_RESIDUAL(T, VT, 2, HSUM, SUM4) break;                 \
        case 3: LORANK_BLOCK_RESIDUAL(T, VT, 3, HSUM, SUM4) break;                 \
        case 4: LORANK_BLOCK_RESIDUAL(T, VT, 4, HSUM, SUM4) break;                 \
        case 8: LORANK_BLOCK_RESIDUAL(T, VT, 8, HSUM, SUM4) break;                 \
        default: LORANK_BLOCK_RESIDUAL(T, VT, nv, HSUM, SUM4) break;               \
    }                                                                              \
    return s2;                                                                     \
}                                                                                  \
                                                                                   \
/* The conjugate gradient's gather of one target: X[q] = √w f (stride wide, q < n), \
   st[q] = √w t (unless st is NULL), b += Σ w t f, tt += Σ w t², so that every     \
   matvec (and the residuals) then read X sequentially;                            \
   and the first matvec Gv += Σ_q X_q X_qᵀ v block by block while the block is    \
   still in cache (one pass over X fewer). */                                      \
TARGET static void NAME##_cg_gather(                                               \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    T *__restrict__ Xall, T *__restrict__ b, double *tt,                           \
    const T *__restrict__ v_in, T *__restrict__ Gv, T *__restrict__ st_all)        \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES;                                                 \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV], bacc[LORANK_MAXV];                                        \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    for (int v = 0; v < nv; ++v) bacc[v] = (VT){0};                                \
    double ss = 0;                                                                 \
    for (int64_t start = 0; start < n; start += LORANK_BLOCK) {                    \
        const int nb = (int)(n - start < LORANK_BLOCK ? n - start : LORANK_BLOCK); \
        VT *X = (VT *)Xall + (size_t)start * nv;                                   \
        T *st = st_all != NULL ? st_all + start : NULL;                            \
        LORANK_SPECIALIZE(LORANK_CG_GATHER, T, VT, KT, HSUM)                       \
        if (Gv != NULL) NAME##_cg_matvec(nb, (const T *)X, stride, v_in, Gv);      \
    }                                                                              \
    for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                          \
    *tt += ss;                                                                     \
}                                                                                  \
                                                                                   \
/* Gv += Σ w f (fᵀv); with b != NULL also b += Σ w t f and tt += Σ w t². */        \
TARGET static void NAME##_matvec(                                                  \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int wlane, int K, const int *const *oidx,            \
    const T *const *oF,                                                            \
    const T *__restrict__ v_in, T *__restrict__ Gv, T *__restrict__ b, double *tt) \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES, with_b = b != NULL;                             \
    const VT *vv = (const VT *)v_in;                                               \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV], gacc[LORANK_MAXV], bacc[LORANK_MAXV];                     \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    for (int v = 0; v < nv; ++v) gacc[v] = bacc[v] = (VT){0};                      \
    double ss = 0;                                                                 \
    LORANK_SPECIALIZE(LORANK_MATVEC, T, VT, KT, HSUM)                                    \
    for (int v = 0; v < nv; ++v) ((VT *)Gv)[v] += gacc[v];                         \
    if (with_b) {                                                                  \
        for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                      \
        *tt += ss;                                                                 \
    }                                                                              \
}                                                                                  \
                                                                                   \
/* The conjugate gradient's arithmetic on whole rows (stride wide; the padding    \
   lanes are 0 in every row and stay 0). Sums are taken lane-wise in vectors and  \
   the lanes added in double, in a fixed order. */                                \
TARGET static inline double NAME##_lanesum(VT a)                                   \
{                                                                                  \
    double s = 0;                                                                  \
    for (int l = 0; l < (int)(sizeof(VT) / sizeof(T)); ++l) s += (double)a[l];     \
    return s;                                                                      \
}                                                                                  \
                                                                                   \
/* r = b − g − λ xs, p = r; rs = rᵀr, hh = bᵀb; λ a row (each lane's penalty). */  \
TARGET static void NAME##_cg_begin(int stride, const T *b, const T *xs, const T *g, \
                                   const T *lam, T *r, T *p, double *rs, double *hh) \
{                                                                                  \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    const VT *B = (const VT *)b, *X = (const VT *)xs, *G = (const VT *)g;          \
    const VT *L = (const VT *)lam;                                                 \
    VT *R = (VT *)r, *P = (VT *)p;                                                 \
    VT ar = (VT){0}, ah = (VT){0};                                                 \
    for (int v = 0; v < nv; ++v) {                                                 \
        const VT rv = (B[v] - G[v]) - L[v] * X[v];                                 \
        R[v] = rv;                                                                 \
        P[v] = rv;                                                                 \
        ar += rv * rv;                                                             \
        ah += B[v] * B[v];                                                         \
    }                                                                              \
    *rs = NAME##_lanesum(ar);                                                      \
    *hh = NAME##_lanesum(ah);                                                      \
}                                                                                  \
                                                                                   \
/* One step given Gp = G p: Ap = Gp + λp (λ a row), α = rs / pᵀAp, xs += αp,      \
   g += αGp, r −= αAp, β = rᵀr / rs, p = r + βp; *rs becomes rᵀr. Returns 1 if    \
   pᵀAp <= 0. */                                                                   \
TARGET static int NAME##_cg_update(int stride, T *xs, T *r, T *p, const T *Gp,    \
                                   T *g, const T *lam, double *rs)                 \
{                                                                                  \
    enum { LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) };                           \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    VT *X = (VT *)xs, *R = (VT *)r, *P = (VT *)p, *G = (VT *)g;                    \
    const VT *Q = (const VT *)Gp, *L = (const VT *)lam;                            \
    VT Ap[LORANK_MAXV], a = (VT){0};                                               \
    for (int v = 0; v < nv; ++v) {                                                 \
        Ap[v] = Q[v] + L[v] * P[v];                                                \
        a += P[v] * Ap[v];                                                         \
    }                                                                              \
    const double pap = NAME##_lanesum(a);                                          \
    if (!(pap > 0)) return 1;                                                      \
    const VT al = (VT){0} + (T)(*rs / pap);                                        \
    VT ar = (VT){0};                                                               \
    for (int v = 0; v < nv; ++v) {                                                 \
        X[v] += al * P[v];                                                         \
        G[v] += al * Q[v];                                                         \
        R[v] -= al * Ap[v];                                                        \
        ar += R[v] * R[v];                                                         \
    }                                                                              \
    const double rs_new = NAME##_lanesum(ar);                                      \
    const VT be = (VT){0} + (T)(rs_new / *rs);                                     \
    for (int v = 0; v < nv; ++v) P[v] = R[v] + be * P[v];                          \
    *rs = rs_new;                                                                  \
    return 0;                                                                      \
}                                                                                  \
                                                                                   \
/* xsᵀ(g − 2b) into *acc; returns 1 if some lane of xs is not finite. */           \
TARGET static int NAME##_cg_energy(int stride, const T *xs, const T *g, const T *b, \
                                   double *acc)                                    \
{                                                                                  \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    const VT *X = (const VT *)xs, *G = (const VT *)g, *B = (const VT *)b;          \
    VT a = (VT){0};                                                                \
    KT bad = (KT){0};                                                              \
    for (int v = 0; v < nv; ++v) {                                                 \
        a += X[v] * (G[v] - (B[v] + B[v]));                                        \
        bad |= (KT)((X[v] - X[v]) != 0);                                           \
    }                                                                              \
    for (int l = 0; l < (int)(sizeof(VT) / sizeof(T)); ++l)                        \
        if (bad[l]) return 1;                                                      \
    *acc = NAME##_lanesum(a);                                                      \
    return 0;                                                                      \
}

/* Lane-wise square roots (correctly rounded, as the scalar sqrt) per variant,
   written lane by lane (intrinsics cannot be inlined into the arch= targets):
   with -fno-math-errno (meson.build) GCC makes the loop one vsqrtps/vsqrtpd;
   without it each lane keeps its errno branch and runs as a scalar sqrt. */
#define LORANK_VSQRT(NAME, VT, SQRT, TARGET)                                       \
    TARGET static inline VT NAME##_vsqrt(VT x)                                     \
    {                                                                              \
        for (int l = 0; l < (int)(sizeof(VT) / sizeof(x[0])); ++l) x[l] = SQRT(x[l]); \
        return x;                                                                  \
    }
LORANK_VSQRT(lorank_f16, lorank_vf16, __builtin_sqrtf, )
LORANK_VSQRT(lorank_d16, lorank_vd16, __builtin_sqrt, )
#if LORANK_X86_VARIANTS
LORANK_VSQRT(lorank_f32, lorank_vf32, __builtin_sqrtf, __attribute__((target("arch=haswell"))))
LORANK_VSQRT(lorank_d32, lorank_vd32, __builtin_sqrt, __attribute__((target("arch=haswell"))))
LORANK_VSQRT(lorank_f64, lorank_vf64, __builtin_sqrtf, __attribute__((target("arch=skylake-avx512"))))
LORANK_VSQRT(lorank_d64, lorank_vd64, __builtin_sqrt, __attribute__((target("arch=skylake-avx512"))))
#endif

#define LORANK_NO_TARGET

LORANK_DEFINE(lorank_f16, float, lorank_vf16, lorank_kf16, LORANK_HSUM_F16, LORANK_SUM4_F16, LORANK_TRANSPOSE_F16, LORANK_NO_TARGET)
LORANK_DEFINE(lorank_d16, double, lorank_vd16, lorank_kd16, LORANK_HSUM_D16, LORANK_SUM4_D16, LORANK_TRANSPOSE_D16, LORANK_NO_TARGET)
#if LORANK_X86_VARIANTS
LORANK_DEFINE(lorank_f32, float, lorank_vf32, lorank_kf32, LORANK_HSUM_F32, LORANK_SUM4_F32, LORANK_TRANSPOSE_F32, __attribute__((target("arch=haswell"))))
LORANK_DEFINE(lorank_d32, double, lorank_vd32, lorank_kd32, LORANK_HSUM_D32, LORANK_SUM4_D32, LORANK_TRANSPOSE_D32, __attribute__((target("arch=haswell"))))
LORANK_DEFINE(lorank_f64, float, lorank_vf64, lorank_kf64, LORANK_HSUM_F64, LORANK_SUM4_F64, LORANK_TRANSPOSE_F64, __attribute__((target("arch=skylake-avx512"))))
LORANK_DEFINE(lorank_d64, double, lorank_vd64, lorank_kd64, LORANK_HSUM_D64, LORANK_SUM4_D64, LORANK_TRANSPOSE_D64, __attribute__((target("arch=skylake-avx512"))))
#endif

/* The widest variant this CPU runs: 64, 32 or 16 (bytes per vector). */
static int lorank_simd_width(void)
{
#if LORANK_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return 64;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 32;
#endif
    return 16;
}

#if LORANK_X86_VARIANTS
#define LORANK_DISPATCH(PREFIX, FN, ARGS)                                          \
    do {                                                                           \
        if (width == 64) return PREFIX##64_##FN ARGS;                              \
        if (width == 32) return PREFIX##32_##FN ARGS;                              \
        return PREFIX##16_##FN ARGS;                                               \
    } while (0)
#else
#define LORANK_DISPATCH(PREFIX, FN, ARGS) return PREFIX##16_##FN ARGS
#endif

#define LORANK_DEFINE_DISPATCH(PREFIX, T)                                          \
static int PREFIX##_gram(int width, int64_t n, const int *idx, const T *vals,      \
                         const T *F, int stride, int rank, int biases, double mean, \
                         const T *w, int wlane, int K, const int *const *oidx, const T *const *oF, \
                         T *G, T *b, double *tt, void *scratch)                    \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, gram, (n, idx, vals, F, stride, rank, biases, mean,    \
                                   w, wlane, K, oidx, oF, G, b, tt, scratch));            \
}                                                                                  \
static void PREFIX##_gram_rank1(int width, int64_t n, const int *idx, const T *vals, \
                                const T *F, int stride, int rank, int biases,      \
                                double mean, const T *w, int wlane, int K, const int *const *oidx, \
                                const T *const *oF, T *G, T *b, double *tt)        \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, gram_rank1, (n, idx, vals, F, stride, rank, biases,    \
                                         mean, w, wlane, K, oidx, oF, G, b, tt));         \
}                                                                                  \
static int PREFIX##_gram_fused(int width, int64_t n, int64_t npf, const int *idx,  \
                               const T *vals,                                      \
                               const T *F, int stride, int rank, int biases,       \
                               double mean, const T *w, int wlane, int K, const int *const *oidx, \
                               const T *const *oF, T *G, T *b, double *tt)        \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, gram_fused, (n, npf, idx, vals, F, stride, rank, biases, \
                                         mean, w, wlane, K, oidx, oF, G, b, tt));         \
}                                                                                  \
static void PREFIX##_chol_batch(int width, int nt, int d, int ld, T *const *G,     \
                                T *const *b, const T *const *z, int *info)         \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, chol_batch, (nt, d, ld, G, b, z, info));               \
}                                                                                  \
static void PREFIX##_residual(int width, int64_t n, const int *idx, const T *vals, \
                              const T *F, int stride, int rank, int biases,        \
                              double mean, const T *w, int wlane, int K, const int *const *oidx, \
                              const T *const *oF, const T *x, double *sse, double *rsum) \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, residual, (n, idx, vals, F, stride, rank, biases, mean, \
                                       w, wlane, K, oidx, oF, x, sse, rsum));             \
}                                                                                  \
static void PREFIX##_cg_gather(int width, int64_t n, const int *idx, const T *vals, \
                               const T *F, int stride, int rank, int biases,       \
                               double mean, const T *w, int wlane, int K, const int *const *oidx, \
                               const T *const *oF, T *X, T *b, double *tt,         \
                               const T *v, T *Gv, T *st)                           \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_gather, (n, idx, vals, F, stride, rank, biases, mean, \
                                        w, wlane, K, oidx, oF, X, b, tt, v, Gv, st));     \
}                                                                                  \
static double PREFIX##_cg_residual(int width, int64_t n, const T *X, const T *st,  \
                                   int stride, const T *x)                         \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_residual, (n, X, st, stride, x));                   \
}                                                                                  \
static void PREFIX##_cg_matvec(int width, int64_t n, const T *X, int stride,       \
                               const T *v, T *Gv)                                  \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_matvec, (n, X, stride, v, Gv));                     \
}                                                                                  \
static void PREFIX##_cg_begin(int width, int stride, const T *b, const T *xs,     \
                              const T *g, const T *lam, T *r, T *p, double *rs,    \
                              double *hh)                                          \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_begin, (stride, b, xs, g, lam, r, p, rs, hh));      \
}                                                                                  \
static int PREFIX##_cg_update(int width, int stride, T *xs, T *r, T *p,            \
                              const T *Gp, T *g, const T *lam, double *rs)         \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_update, (stride, xs, r, p, Gp, g, lam, rs));        \
}                                                                                  \
static int PREFIX##_cg_energy(int width, int stride, const T *xs, const T *g,      \
                              const T *b, double *acc)                             \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, cg_energy, (stride, xs, g, b, acc));                   \
}                                                                                  \
static void PREFIX##_matvec(int width, int64_t n, const int *idx, const T *vals,   \
                            const T *F, int stride, int rank, int biases,          \
                            double mean, const T *w, int wlane, int K, const int *const *oidx, \
                            const T *const *oF, const T *v, T *Gv, T *b, double *tt) \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, matvec, (n, idx, vals, F, stride, rank, biases, mean,  \
                                     w, wlane, K, oidx, oF, v, Gv, b, tt));               \
}

LORANK_DEFINE_DISPATCH(lorank_f, float)
LORANK_DEFINE_DISPATCH(lorank_d, double)

#endif
