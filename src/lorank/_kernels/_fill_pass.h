/* Hot loops of soft-impute: one pass over the observations that forms the residual
 * s = x − ⟨t, o⟩ of each observed entry and accumulates s · o, in C with vector
 * types (see _als_gram.h for the variants and their dispatch).
 *
 * Factor rows are `stride` wide, whole vectors, zero padded. With the target side
 * t (rows for S V, columns for Sᵀ U) and the other side o:
 *   gather:  one target row t (scaled lane-wise by `scale`), its observations at
 *            other-side rows idx[0..n): out = Σ s o_idx (one row), returns Σ s²;
 *   scatter: one other-side row o, its observations at target rows idx[0..n) of
 *            the pre-scaled target factor TD: acc[idx] += s o, returns Σ s².
 * Every target's sum runs in a fixed order; the scatter form's order is fixed by
 * the caller's chunks of other-side rows.
 */
#ifndef LORANK_FILL_PASS_H
#define LORANK_FILL_PASS_H

#include "_als_gram.h"

/* Observations between a gathered row's prefetch and its use (the scatter form's
   rows are cache-resident by construction). */
#define LORANK_FILL_AHEAD 16

/* The butterflies LORANK_HSUM_* and four-at-once sums LORANK_SUM4_* come from
   _als_gram.h. */

/* ⟨a, row⟩ over NV vectors: a lane-wise product, then the butterflies. */
#define LORANK_FILL_DOT(VT, NV, HSUM, a, row, out)                                 \
    do {                                                                           \
        VT acc_ = (a)[0] * (row)[0];                                               \
        for (int v_ = 1; v_ < (NV); ++v_) acc_ += (a)[v_] * (row)[v_];             \
        HSUM(acc_);                                                                \
        (out) = acc_[0];                                                           \
    } while (0)

/* The four products a * row_e of a batch, summed over the NV vectors. */
#define LORANK_FILL_PRODUCTS(VT, NV, a, r, pr)                                     \
    for (int e_ = 0; e_ < 4; ++e_) {                                               \
        (pr)[e_] = (a)[0] * (r)[e_][0];                                            \
        for (int v_ = 1; v_ < (NV); ++v_) (pr)[e_] += (a)[v_] * (r)[e_][v_];       \
    }

/* Four accumulators (acc and ss per batch position) keep the loop-carried chains
   short; they are added in a fixed order at the end. */
#define LORANK_FILL_GATHER(T, VT, NV, HSUM, SUM4)                                  \
    {                                                                              \
        VT a[NV], acc[4][NV];                                                      \
        double ss4[4] = {0, 0, 0, 0};                                              \
        for (int v = 0; v < (NV); ++v) {                                           \
            a[v] = ((const VT *)t)[v] * ((const VT *)scale)[v];                    \
            for (int e = 0; e < 4; ++e) acc[e][v] = (VT){0};                       \
        }                                                                          \
        int64_t p = 0;                                                             \
        for (; p + 4 <= n; p += 4) {                                               \
            const VT *r[4];                                                        \
            VT pr[4];                                                              \
            T d[4];                                                                \
            if (p + LORANK_FILL_AHEAD + 4 <= n)                                   \
                for (int e = 0; e < 4; ++e)                                        \
                    __builtin_prefetch(O + (size_t)idx[p + LORANK_FILL_AHEAD + e] * stride, 0, 1); \
            for (int e = 0; e < 4; ++e) r[e] = (const VT *)(O + (size_t)idx[p + e] * stride); \
            LORANK_FILL_PRODUCTS(VT, NV, a, r, pr);                                \
            SUM4(pr[0], pr[1], pr[2], pr[3], d);                                   \
            for (int e = 0; e < 4; ++e) {                                          \
                const T s = vals[p + e] - d[e];                                    \
                ss4[e] += (double)s * s;                                           \
                for (int v = 0; v < (NV); ++v) acc[e][v] += s * r[e][v];           \
            }                                                                      \
        }                                                                          \
        for (; p < n; ++p) {                                                       \
            const VT *row = (const VT *)(O + (size_t)idx[p] * stride);             \
            T dot;                                                                 \
            LORANK_FILL_DOT(VT, NV, HSUM, a, row, dot);                            \
            const T s = vals[p] - dot;                                             \
            ss4[0] += (double)s * s;                                               \
            for (int v = 0; v < (NV); ++v) acc[0][v] += s * row[v];                \
        }                                                                          \
        ss = (ss4[0] + ss4[1]) + (ss4[2] + ss4[3]);                                \
        for (int v = 0; v < (NV); ++v)                                             \
            ((VT *)out)[v] = (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]);    \
    }

#define LORANK_FILL_SCATTER(T, VT, NV, HSUM, SUM4)                                 \
    {                                                                              \
        VT a[NV];                                                                  \
        for (int v = 0; v < (NV); ++v) a[v] = ((const VT *)o)[v];                  \
        double ss4[4] = {0, 0, 0, 0};                                              \
        int64_t p = 0;                                                             \
        for (; p + 4 <= n; p += 4) {                                               \
            const VT *r[4];                                                        \
            VT pr[4];                                                              \
            T d[4];                                                                \
            for (int e = 0; e < 4; ++e) r[e] = (const VT *)(TD + (size_t)idx[p + e] * stride); \
            LORANK_FILL_PRODUCTS(VT, NV, a, r, pr);                                \
            SUM4(pr[0], pr[1], pr[2], pr[3], d);                                   \
            for (int e = 0; e < 4; ++e) {                                          \
                const T s = vals[p + e] - d[e];                                    \
                ss4[e] += (double)s * s;                                           \
                VT *dst = (VT *)(acc + (size_t)idx[p + e] * stride);               \
                for (int v = 0; v < (NV); ++v) dst[v] += s * a[v];                 \
            }                                                                      \
        }                                                                          \
        for (; p < n; ++p) {                                                       \
            const size_t off = (size_t)idx[p] * stride;                            \
            const VT *row = (const VT *)(TD + off);                                \
            T dot;                                                                 \
            LORANK_FILL_DOT(VT, NV, HSUM, a, row, dot);                            \
            const T s = vals[p] - dot;                                             \
            ss4[0] += (double)s * s;                                               \
            VT *dst = (VT *)(acc + off);                                           \
            for (int v = 0; v < (NV); ++v) dst[v] += s * a[v];                     \
        }                                                                          \
        ss = (ss4[0] + ss4[1]) + (ss4[2] + ss4[3]);                                \
    }

#define LORANK_FILL_DEFINE(NAME, T, VT, HSUM, SUM4, TARGET)                                    \
TARGET static double NAME##_gather(                                                \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ O, int stride, const T *__restrict__ t,                  \
    const T *__restrict__ scale, T *__restrict__ out)                              \
{                                                                                  \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    double ss = 0;                                                                 \
    switch (nv) {                                                                  \
        case 1: LORANK_FILL_GATHER(T, VT, 1, HSUM, SUM4) break;                                \
        case 2: LORANK_FILL_GATHER(T, VT, 2, HSUM, SUM4) break;                                \
        case 4: LORANK_FILL_GATHER(T, VT, 4, HSUM, SUM4) break;                                \
        default: LORANK_FILL_GATHER(T, VT, nv, HSUM, SUM4) break;                              \
    }                                                                              \
    return ss;                                                                     \
}                                                                                  \
                                                                                   \
TARGET static double NAME##_scatter(                                               \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ TD, int stride, const T *__restrict__ o,                 \
    T *__restrict__ acc)                                                           \
{                                                                                  \
    const int nv = stride / (int)(sizeof(VT) / sizeof(T));                         \
    double ss = 0;                                                                 \
    switch (nv) {                                                                  \
        case 1: LORANK_FILL_SCATTER(T, VT, 1, HSUM, SUM4) break;                               \
        case 2: LORANK_FILL_SCATTER(T, VT, 2, HSUM, SUM4) break;                               \
        case 4: LORANK_FILL_SCATTER(T, VT, 4, HSUM, SUM4) break;                               \
        default: LORANK_FILL_SCATTER(T, VT, nv, HSUM, SUM4) break;                             \
    }                                                                              \
    return ss;                                                                     \
}

LORANK_FILL_DEFINE(lorank_fill_f16, float, lorank_vf16, LORANK_HSUM_F16, LORANK_SUM4_F16, LORANK_NO_TARGET)
LORANK_FILL_DEFINE(lorank_fill_d16, double, lorank_vd16, LORANK_HSUM_D16, LORANK_SUM4_D16, LORANK_NO_TARGET)
#if LORANK_X86_VARIANTS
LORANK_FILL_DEFINE(lorank_fill_f32, float, lorank_vf32, LORANK_HSUM_F32, LORANK_SUM4_F32, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE(lorank_fill_d32, double, lorank_vd32, LORANK_HSUM_D32, LORANK_SUM4_D32, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE(lorank_fill_f64, float, lorank_vf64, LORANK_HSUM_F64, LORANK_SUM4_F64, __attribute__((target("arch=skylake-avx512"))))
LORANK_FILL_DEFINE(lorank_fill_d64, double, lorank_vd64, LORANK_HSUM_D64, LORANK_SUM4_D64, __attribute__((target("arch=skylake-avx512"))))
#endif

#if LORANK_X86_VARIANTS
/* AVX-512, float32, rows of one 64-byte vector (rank + biases <= 16): the common
   case, written with intrinsics so that a batch of eight dot products is folded
   into one vector (16 shuffles for 8 entries) and each residual is broadcast
   from memory, keeping port 5 free. */
#include <immintrin.h>
#define LORANK_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))

/* The lane sums of p[0..8), in order. */
LORANK_AVX512 static inline __m256 lorank_fill_sum8(const __m512 *p)
{
    __m512 q[4], h[2];
    for (int k = 0; k < 4; ++k)  /* halves: [p2k (8 partial sums), p2k+1 (8)] */
        q[k] = _mm512_add_ps(_mm512_shuffle_f32x4(p[2 * k], p[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(p[2 * k], p[2 * k + 1], 0xEE));
    for (int k = 0; k < 2; ++k)  /* quarters: [p4k, p4k+1, p4k+2, p4k+3] (4 each) */
        h[k] = _mm512_add_ps(_mm512_shuffle_f32x4(q[2 * k], q[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(q[2 * k], q[2 * k + 1], 0xDD));
    /* In-lane: block k holds [p_k (2), p_k+4 (2)], then [p_k, p_k, p_k+4, p_k+4]. */
    __m512 z = _mm512_add_ps(_mm512_shuffle_ps(h[0], h[1], 0x88),
                             _mm512_shuffle_ps(h[0], h[1], 0xDD));
    z = _mm512_add_ps(z, _mm512_shuffle_ps(z, z, 0xB1));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14,
                                            0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(order, z));
}

/* The residuals s = vals − dots of a batch, Σ s² into ss, s into sb (memory). */
#define LORANK_FILL_RESIDUALS8(vals, x, a, ss, sb)                                 \
    do {                                                                           \
        __m512 pr_[8];                                                             \
        for (int e_ = 0; e_ < 8; ++e_) pr_[e_] = _mm512_mul_ps(a, x[e_]);          \
        const __m256 s_ = _mm256_sub_ps(_mm256_loadu_ps(vals), lorank_fill_sum8(pr_)); \
        const __m512d sd_ = _mm512_cvtps_pd(s_);                                   \
        ss = _mm512_fmadd_pd(sd_, sd_, ss);                                        \
        _mm256_store_ps(sb, s_);                                                   \
        __asm__ volatile("" : : : "memory"); /* read sb back: broadcasts from memory */ \
    } while (0)

LORANK_AVX512 static double lorank_fill_f64x1_gather(
    int64_t n, const int *__restrict__ idx, const float *__restrict__ vals,
    const float *__restrict__ O, const float *__restrict__ t,
    const float *__restrict__ scale, float *__restrict__ out)
{
    const __m512 a = _mm512_mul_ps(_mm512_loadu_ps(t), _mm512_loadu_ps(scale));
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    __m512d ssv = _mm512_setzero_pd();
    float sb[8] __attribute__((aligned(32)));
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
        __m512 x[8];
        if (p + LORANK_FILL_AHEAD + 8 <= n)
            for (int e = 0; e < 8; ++e)
                __builtin_prefetch(O + (size_t)idx[p + LORANK_FILL_AHEAD + e] * 16, 0, 1);
        for (int e = 0; e < 8; ++e) x[e] = _mm512_loadu_ps(O + (size_t)idx[p + e] * 16);
        LORANK_FILL_RESIDUALS8(vals + p, x, a, ssv, sb);
        for (int e = 0; e < 8; ++e)
            acc[e & 3] = _mm512_fmadd_ps(_mm512_set1_ps(sb[e]), x[e], acc[e & 3]);
    }
    double ss = _mm512_reduce_add_pd(ssv);
    for (; p < n; ++p) {
        const __m512 x = _mm512_loadu_ps(O + (size_t)idx[p] * 16);
        const float s = vals[p] - _mm512_reduce_add_ps(_mm512_mul_ps(a, x));
        ss += (double)s * s;
        acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(s), x, acc[0]);
    }
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                        _mm512_add_ps(acc[2], acc[3])));
    return ss;
}

LORANK_AVX512 static double lorank_fill_f64x1_scatter(
    int64_t n, const int *__restrict__ idx, const float *__restrict__ vals,
    const float *__restrict__ TD, const float *__restrict__ o, float *__restrict__ acc)
{
    const __m512 a = _mm512_loadu_ps(o);
    __m512d ssv = _mm512_setzero_pd();
    float sb[8] __attribute__((aligned(32)));
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
        __m512 x[8];
        for (int e = 0; e < 8; ++e) x[e] = _mm512_loadu_ps(TD + (size_t)idx[p + e] * 16);
        LORANK_FILL_RESIDUALS8(vals + p, x, a, ssv, sb);
        for (int e = 0; e < 8; ++e) {
            float *dst = acc + (size_t)idx[p + e] * 16;
            _mm512_storeu_ps(dst, _mm512_fmadd_ps(_mm512_set1_ps(sb[e]), a, _mm512_loadu_ps(dst)));
        }
    }
    double ss = _mm512_reduce_add_pd(ssv);
    for (; p < n; ++p) {
        float *dst = acc + (size_t)idx[p] * 16;
        const float s = vals[p] - _mm512_reduce_add_ps(
            _mm512_mul_ps(a, _mm512_loadu_ps(TD + (size_t)idx[p] * 16)));
        ss += (double)s * s;
        _mm512_storeu_ps(dst, _mm512_fmadd_ps(_mm512_set1_ps(s), a, _mm512_loadu_ps(dst)));
    }
    return ss;
}
#endif

/* One row of soft-impute's fused step: both half-steps' passes over the row's
 * observations while they are in cache (see _fill.pyx `step`). With y the row's
 * stored factor row:
 *   t = y K;  s = x − ⟨t, V_j⟩;  a = Σ s V_j;  ss[0] += Σ s²     (gather)
 *   f = a ⊙ h + y L  (the new row, written to `f`)
 *   s' = x − ⟨f, V_j⟩;  acc[j] += s' f;  ss[1] += Σ s'²          (scatter)
 * K and L are stride x stride, only their first `na` rows read (y is zero beyond).
 * The Grams of the new rows are summed by blocks of rows after it (NAME_grams). */
#define LORANK_FILL_DEFINE_ROW(NAME, T, VT, GATHER, SCATTER, TARGET)                    \
TARGET static void NAME##_row(                                                     \
    int64_t n, const int *__restrict__ idx, const T *__restrict__ vals,            \
    const T *__restrict__ V, int stride, int na, const T *__restrict__ y,          \
    const T *__restrict__ K, const T *__restrict__ h, const T *__restrict__ L,     \
    const T *__restrict__ ones, T *__restrict__ f, T *__restrict__ acc,            \
    double *__restrict__ ss)                                                       \
{                                                                                  \
    enum { LANES = sizeof(VT) / sizeof(T), MAXV = LORANK_MAXBYTES / sizeof(VT) };  \
    const int nv = stride / LANES;                                                 \
    const VT *Kv = (const VT *)K, *Lv = (const VT *)L, *hv = (const VT *)h;        \
    VT t[MAXV], a[MAXV];                                                           \
    VT *fv = (VT *)f;                                                              \
    for (int v = 0; v < nv; ++v) t[v] = (VT){0};                                   \
    for (int q = 0; q < na; ++q)                                                   \
        for (int v = 0; v < nv; ++v) t[v] += y[q] * Kv[q * nv + v];                \
    ss[0] += GATHER(n, idx, vals, V, stride, (const T *)t, ones, (T *)a);          \
    for (int v = 0; v < nv; ++v) fv[v] = a[v] * hv[v];                             \
    for (int q = 0; q < na; ++q)                                                   \
        for (int v = 0; v < nv; ++v) fv[v] += y[q] * Lv[q * nv + v];               \
    ss[1] += SCATTER(n, idx, vals, V, stride, f, acc);                             \
}

LORANK_FILL_DEFINE_ROW(lorank_fill_f16, float, lorank_vf16, lorank_fill_f16_gather, lorank_fill_f16_scatter, LORANK_NO_TARGET)
LORANK_FILL_DEFINE_ROW(lorank_fill_d16, double, lorank_vd16, lorank_fill_d16_gather, lorank_fill_d16_scatter, LORANK_NO_TARGET)
#if LORANK_X86_VARIANTS
LORANK_FILL_DEFINE_ROW(lorank_fill_f32, float, lorank_vf32, lorank_fill_f32_gather, lorank_fill_f32_scatter, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE_ROW(lorank_fill_d32, double, lorank_vd32, lorank_fill_d32_gather, lorank_fill_d32_scatter, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE_ROW(lorank_fill_f64, float, lorank_vf64, lorank_fill_f64_gather, lorank_fill_f64_scatter, __attribute__((target("arch=skylake-avx512"))))
LORANK_FILL_DEFINE_ROW(lorank_fill_d64, double, lorank_vd64, lorank_fill_d64_gather, lorank_fill_d64_scatter, __attribute__((target("arch=skylake-avx512"))))
/* The one-vector float loops above, in the generic signature. */
#define lorank_fill_f64x1_g(n, idx, vals, O, stride, t, scale, out)                \
    lorank_fill_f64x1_gather(n, idx, vals, O, t, scale, out)
#define lorank_fill_f64x1_s(n, idx, vals, TD, stride, o, acc)                      \
    lorank_fill_f64x1_scatter(n, idx, vals, TD, o, acc)
LORANK_FILL_DEFINE_ROW(lorank_fill_f64x1, float, lorank_vf64, lorank_fill_f64x1_g, lorank_fill_f64x1_s, LORANK_AVX512)
#endif

/* The Grams of a block of nb new rows F (and their stored rows Y), for q < nk:
 * gff[q] += Σ_b f_bq f_b, gyf[q] += Σ_b y_bq f_b, in float64, rows in order. The
 * block's rows go to float64 in `fd` (nb * stride doubles) once; each of the
 * Grams' vectors then sums the block in a register. */
#define LORANK_FILL_DEFINE_GRAMS(NAME, T, DV, TARGET)                                    \
TARGET static void NAME##_grams(                                                   \
    int nb, const T *__restrict__ F, const T *__restrict__ Y, int stride, int nk,  \
    double *__restrict__ fd, double *__restrict__ gff, double *__restrict__ gyf)   \
{                                                                                  \
    const int nd = stride / (int)(sizeof(DV) / sizeof(double));                    \
    for (int64_t e = 0; e < (int64_t)nb * stride; ++e) fd[e] = F[e];               \
    const DV *fv = (const DV *)fd;                                                 \
    DV *gf = (DV *)gff, *gy = (DV *)gyf;                                           \
    for (int q = 0; q < nk; ++q)                                                   \
        for (int v = 0; v < nd; ++v) {                                             \
            DV a = gf[q * nd + v], c = gy[q * nd + v];                             \
            for (int b = 0; b < nb; ++b) {                                         \
                const DV x = fv[(size_t)b * nd + v];                               \
                a += fd[(size_t)b * stride + q] * x;                               \
                c += (double)Y[(size_t)b * stride + q] * x;                        \
            }                                                                      \
            gf[q * nd + v] = a;                                                    \
            gy[q * nd + v] = c;                                                    \
        }                                                                          \
}
LORANK_FILL_DEFINE_GRAMS(lorank_fill_f16, float, lorank_vd16, LORANK_NO_TARGET)
LORANK_FILL_DEFINE_GRAMS(lorank_fill_d16, double, lorank_vd16, LORANK_NO_TARGET)
#if LORANK_X86_VARIANTS
LORANK_FILL_DEFINE_GRAMS(lorank_fill_f32, float, lorank_vd32, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE_GRAMS(lorank_fill_d32, double, lorank_vd32, __attribute__((target("arch=haswell"))))
LORANK_FILL_DEFINE_GRAMS(lorank_fill_f64, float, lorank_vd64, __attribute__((target("arch=skylake-avx512"))))
LORANK_FILL_DEFINE_GRAMS(lorank_fill_d64, double, lorank_vd64, __attribute__((target("arch=skylake-avx512"))))
#endif
#define LORANK_FILL_GRAMS_ARGS (nb, F, Y, stride, nk, fd, gff, gyf)
#define LORANK_FILL_DEFINE_GRAMS_DISPATCH(PREFIX, T)                               \
static void PREFIX##_grams(int width, int nb, const T *F, const T *Y, int stride,  \
                           int nk, double *fd, double *gff, double *gyf)           \
{                                                                                  \
    LORANK_DISPATCH(PREFIX, grams, LORANK_FILL_GRAMS_ARGS);                        \
}
LORANK_FILL_DEFINE_GRAMS_DISPATCH(lorank_fill_f, float)
LORANK_FILL_DEFINE_GRAMS_DISPATCH(lorank_fill_d, double)

#define LORANK_FILL_ROW_ARGS                                                       \
    (n, idx, vals, V, stride, na, y, K, h, L, ones, f, acc, ss)
#if LORANK_X86_VARIANTS
#define LORANK_FILL_ROW_CHOOSE(PREFIX)                                             \
    if (width == 64) PREFIX##64_row LORANK_FILL_ROW_ARGS;                          \
    else if (width == 32) PREFIX##32_row LORANK_FILL_ROW_ARGS;                     \
    else PREFIX##16_row LORANK_FILL_ROW_ARGS;
#define LORANK_FILL_ROW_FAST                                                       \
    if (width == 64 && stride == 16) lorank_fill_f64x1_row LORANK_FILL_ROW_ARGS; else
#else
#define LORANK_FILL_ROW_CHOOSE(PREFIX) PREFIX##16_row LORANK_FILL_ROW_ARGS;
#define LORANK_FILL_ROW_FAST
#endif
#define LORANK_FILL_DEFINE_ROW_DISPATCH(PREFIX, T, FAST)                           \
static void PREFIX##_row(int width, int64_t n, const int *idx, const T *vals,      \
                         const T *V, int stride, int na, const T *y, const T *K,   \
                         const T *h, const T *L, const T *ones, T *f, T *acc,      \
                         double *ss)                                               \
{                                                                                  \
    FAST { LORANK_FILL_ROW_CHOOSE(PREFIX) }                                        \
}
LORANK_FILL_DEFINE_ROW_DISPATCH(lorank_fill_f, float, LORANK_FILL_ROW_FAST)
LORANK_FILL_DEFINE_ROW_DISPATCH(lorank_fill_d, double, )

#define LORANK_FILL_DEFINE_DISPATCH(PREFIX, T)                                     \
static double PREFIX##_gather(int width, int64_t n, const int *idx, const T *vals, \
                              const T *O, int stride, const T *t, const T *scale,  \
                              T *out)                                              \
{                                                                                  \
    LORANK_FAST(gather, (n, idx, vals, O, t, scale, out));                         \
    LORANK_DISPATCH(PREFIX, gather, (n, idx, vals, O, stride, t, scale, out));     \
}                                                                                  \
static double PREFIX##_scatter(int width, int64_t n, const int *idx, const T *vals,\
                               const T *TD, int stride, const T *o, T *acc)        \
{                                                                                  \
    LORANK_FAST(scatter, (n, idx, vals, TD, o, acc));                              \
    LORANK_DISPATCH(PREFIX, scatter, (n, idx, vals, TD, stride, o, acc));          \
}

/* Float rows of one AVX-512 vector take the hand-written loops above. */
#if LORANK_X86_VARIANTS
#define LORANK_FAST(FN, ARGS)                                                      \
    if (width == 64 && stride == 16) return lorank_fill_f64x1_##FN ARGS
#else
#define LORANK_FAST(FN, ARGS)
#endif
LORANK_FILL_DEFINE_DISPATCH(lorank_fill_f, float)
#undef LORANK_FAST
#define LORANK_FAST(FN, ARGS)
LORANK_FILL_DEFINE_DISPATCH(lorank_fill_d, double)
#undef LORANK_FAST

#endif
