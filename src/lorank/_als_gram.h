/* Hot loops of the ALS half-step, in C with vector types so they vectorize well.
 *
 * For one target (a row or a column) with n observations at fixed-factor rows
 * idx[0..n) and values vals[0..n), with features f = [F[i, 0:rank], 1 if biases]
 * and targets t = x − mean − (F[i, rank] if biases):
 *   gram:     G[k, :] += f[k] f,  b += t f,  tt += t²   for k < d   (G is d x stride)
 *   residual: Σ (t − fᵀx)² and Σ (t − fᵀx)
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

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LORANK_X86_VARIANTS 1
#else
#define LORANK_X86_VARIANTS 0
#endif

#define LORANK_BLOCK 128 /* observations gathered at a time */
#define LORANK_KC 4      /* rows of G held in registers (12 with AVX-512, one vector) */
#define LORANK_AHEAD 24  /* observations between a row's prefetch and its use */
#define LORANK_MAXBYTES 1024 /* widest row: 256 floats / 128 doubles */
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
#define LORANK_GATHER(T, VT, KT, WEIGHTED, HADAMARD)                               \
    for (int q = 0; q < nb; ++q) {                                                 \
        const int64_t p = start + q;                                               \
        if (p + LORANK_AHEAD < n) { /* rows come from memory: ask early */         \
            __builtin_prefetch(F + (size_t)idx[p + LORANK_AHEAD] * stride, 0, 0);  \
            if (HADAMARD)                                                          \
                for (int k = 0; k < K; ++k)                                        \
                    __builtin_prefetch(oF[k] + (size_t)oidx[k][p + LORANK_AHEAD] * stride, 0, 0); \
        }                                                                          \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        T sw = 1;                                                                  \
        if (WEIGHTED) {                                                            \
            sw = (T)sqrt((double)w[p]);                                            \
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

/* Residual terms at x: acc = fᵀx by a pairwise tree over the lanes (short
   dependency chain, fixed order), then Σ w r², Σ w r. */
#define LORANK_RESIDUALS(T, VT, KT, WEIGHTED, HADAMARD)                            \
    for (int64_t p = 0; p < n; ++p) {                                              \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        VT f, acc;                                                                 \
        LORANK_FEATURE(VT, KT, HADAMARD, 0, f);                                    \
        acc = f * xv[0];                                                           \
        for (int v = 1; v < nv; ++v) {                                             \
            LORANK_FEATURE(VT, KT, HADAMARD, v, f);                                \
            acc += f * xv[v];                                                      \
        }                                                                          \
        for (int h = LANES / 2; h >= 1; h /= 2)                                    \
            for (int l = 0; l < h; ++l) acc[l] += acc[l + h];                      \
        const double res = (double)(t - acc[0]);                                   \
        const double wr = WEIGHTED ? (double)w[p] * res : res;                     \
        s2 += wr * res;                                                            \
        s1 += wr;                                                                  \
    }

/* One pass of the conjugate-gradient matvec: gacc += Σ w (fᵀv) f, and with
   WITH_B also bacc += Σ w t f, ss += Σ w t². */
#define LORANK_MATVEC(T, VT, KT, WEIGHTED, HADAMARD)                               \
    for (int64_t p = 0; p < n; ++p) {                                              \
        if (p + LORANK_AHEAD < n) {                                                \
            __builtin_prefetch(F + (size_t)idx[p + LORANK_AHEAD] * stride, 0, 0);  \
            if (HADAMARD)                                                          \
                for (int k = 0; k < K; ++k)                                        \
                    __builtin_prefetch(oF[k] + (size_t)oidx[k][p + LORANK_AHEAD] * stride, 0, 0); \
        }                                                                          \
        LORANK_OBS(T, VT, HADAMARD)                                                \
        VT f[LORANK_MAXV], acc = (VT){0};                                          \
        for (int v = 0; v < nv; ++v) {                                             \
            LORANK_FEATURE(VT, KT, HADAMARD, v, f[v]);                             \
            acc += f[v] * vv[v];                                                   \
        }                                                                          \
        for (int h = LANES / 2; h >= 1; h /= 2)                                    \
            for (int l = 0; l < h; ++l) acc[l] += acc[l + h];                      \
        const T c = WEIGHTED ? w[p] * acc[0] : acc[0];                             \
        for (int v = 0; v < nv; ++v) gacc[v] += c * f[v];                          \
        if (with_b) {                                                              \
            const T wt = WEIGHTED ? w[p] * t : t;                                  \
            ss += (double)wt * t;                                                  \
            for (int v = 0; v < nv; ++v) bacc[v] += wt * f[v];                     \
        }                                                                          \
    }

/* Run BODY(T, VT, KT, W, H) with the weight and Hadamard flags as constants. */
#define LORANK_SPECIALIZE(BODY, T, VT, KT)                                         \
    if (w == NULL && K == 0) { BODY(T, VT, KT, 0, 0) }                             \
    else if (K == 0) { BODY(T, VT, KT, 1, 0) }                                     \
    else if (w == NULL) { BODY(T, VT, KT, 0, 1) }                                  \
    else { BODY(T, VT, KT, 1, 1) }

#define LORANK_DEFINE(NAME, T, VT, KT, TARGET)                                     \
/* keep selects the factor lanes (l < rank), one puts the constant 1 in the bias  \
   lane (l == rank with biases); the padding lanes get 0. */                       \
TARGET static inline void NAME##_masks(int nv, int rank, int biases, KT *keep, VT *one)   \
{                                                                                  \
    const int lanes = (int)(sizeof(VT) / sizeof(T));                               \
    for (int v = 0; v < nv; ++v)                                                   \
        for (int l = 0; l < lanes; ++l) {                                          \
            const int lane = v * lanes + l;                                        \
            keep[v][l] = lane < rank ? -1 : 0;                                     \
            one[v][l] = biases && lane == rank ? 1 : 0;                            \
        }                                                                          \
}                                                                                  \
                                                                                   \
/* G[k, :] += Σ w f[k] f (k < d, full rows of stride), b += Σ w t f, tt += Σ w t². \
   Returns 0, or -1 if the rows are too wide (the caller must check first). */     \
TARGET static int NAME##_gram(                                                     \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int K, const int *const *oidx, const T *const *oF,    \
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
        LORANK_SPECIALIZE(LORANK_GATHER, T, VT, KT)                                \
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
            default: LORANK_GRAM_ROWS(T, VT, nv, LORANK_KC) break;                 \
        }                                                                          \
    }                                                                              \
    for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                          \
    *tt += ss;                                                                     \
    return 0;                                                                      \
}                                                                                  \
                                                                                   \
/* sse = Σ w (t − fᵀx)², rsum = Σ w (t − fᵀx); x is stride wide (its padding is   \
   never read: the features are 0 there). */                                      \
TARGET static void NAME##_residual(                                                \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int K, const int *const *oidx, const T *const *oF,    \
    const T *__restrict__ x, double *sse, double *rsum)                            \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), LORANK_MAXV = LORANK_MAXBYTES / sizeof(VT) }; \
    const int nv = stride / LANES;                                                 \
    const VT *xv = (const VT *)x;                                                  \
    KT keep[LORANK_MAXV];                                                          \
    VT one[LORANK_MAXV];                                                           \
    NAME##_masks(nv, rank, biases, keep, one);                                     \
    double s2 = 0, s1 = 0;                                                         \
    LORANK_SPECIALIZE(LORANK_RESIDUALS, T, VT, KT)                                 \
    *sse = s2;                                                                     \
    *rsum = s1;                                                                    \
}                                                                                  \
                                                                                   \
/* Gv += Σ w f (fᵀv); with b != NULL also b += Σ w t f and tt += Σ w t². */        \
TARGET static void NAME##_matvec(                                                  \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ F, int stride, int rank, int biases, double mean,        \
    const T *__restrict__ w, int K, const int *const *oidx, const T *const *oF,    \
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
    LORANK_SPECIALIZE(LORANK_MATVEC, T, VT, KT)                                    \
    for (int v = 0; v < nv; ++v) ((VT *)Gv)[v] += gacc[v];                         \
    if (with_b) {                                                                  \
        for (int v = 0; v < nv; ++v) ((VT *)b)[v] += bacc[v];                      \
        *tt += ss;                                                                 \
    }                                                                              \
}

#define LORANK_NO_TARGET

LORANK_DEFINE(lorank_f16, float, lorank_vf16, lorank_kf16, LORANK_NO_TARGET)
LORANK_DEFINE(lorank_d16, double, lorank_vd16, lorank_kd16, LORANK_NO_TARGET)
#if LORANK_X86_VARIANTS
LORANK_DEFINE(lorank_f32, float, lorank_vf32, lorank_kf32, __attribute__((target("arch=haswell"))))
LORANK_DEFINE(lorank_d32, double, lorank_vd32, lorank_kd32, __attribute__((target("arch=haswell"))))
LORANK_DEFINE(lorank_f64, float, lorank_vf64, lorank_kf64, __attribute__((target("arch=skylake-avx512"))))
LORANK_DEFINE(lorank_d64, double, lorank_vd64, lorank_kd64, __attribute__((target("arch=skylake-avx512"))))
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
                         const T *w, int K, const int *const *oidx, const T *const *oF, \
                         T *G, T *b, double *tt, void *scratch)                    \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, gram, (n, idx, vals, F, stride, rank, biases, mean,    \
                                   w, K, oidx, oF, G, b, tt, scratch));            \
}                                                                                  \
static void PREFIX##_residual(int width, int64_t n, const int *idx, const T *vals, \
                              const T *F, int stride, int rank, int biases,        \
                              double mean, const T *w, int K, const int *const *oidx, \
                              const T *const *oF, const T *x, double *sse, double *rsum) \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, residual, (n, idx, vals, F, stride, rank, biases, mean, \
                                       w, K, oidx, oF, x, sse, rsum));             \
}                                                                                  \
static void PREFIX##_matvec(int width, int64_t n, const int *idx, const T *vals,   \
                            const T *F, int stride, int rank, int biases,          \
                            double mean, const T *w, int K, const int *const *oidx, \
                            const T *const *oF, const T *v, T *Gv, T *b, double *tt) \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, matvec, (n, idx, vals, F, stride, rank, biases, mean,  \
                                     w, K, oidx, oF, v, Gv, b, tt));               \
}

LORANK_DEFINE_DISPATCH(lorank_f, float)
LORANK_DEFINE_DISPATCH(lorank_d, double)

#endif
