/* The inner loop of csr_gram (_sparse.pyx): for rows lo..hi of S (CSR) and an
 * n_out x nc block Q,
 *   w_i = S[i] Q        (nonzeros in order, two at a time: w + (v x + u y)),
 *   P[j] += s_ij w_i    for the nonzeros j of row i, in order,
 * with w_i stored in W. Columns are taken eight at a time, each chunk's w in
 * registers (a width known at compile time) rather than in memory, where every
 * scatter store could alias it. Every element is summed in the same order for
 * any chunking and vector width, and multiplies and adds are never fused
 * (ISO C): the variants give bitwise the same results.
 *
 * Variants: 16-byte vectors everywhere, and with GCC on x86-64 AVX2 and AVX-512
 * (the width chosen at import, as in _als_gram.h).
 */
#ifndef LORANK_GRAM_ROWS_H
#define LORANK_GRAM_ROWS_H

#include <stdint.h>
#include "_als_gram.h"

#define LORANK_GRAM_CHUNK 8

/* One chunk of W columns c0..c0+NC of rows lo..hi. */
#define LORANK_GRAM_CHUNK_ROWS(T, NC)                                              \
    for (int64_t i = lo; i < hi; ++i) {                                            \
        T acc[NC];                                                                 \
        for (int k = 0; k < (NC); ++k) acc[k] = 0;                                 \
        int64_t p = ip[i];                                                         \
        const int64_t e = ip[i + 1];                                               \
        for (; p + 1 < e; p += 2) {                                                \
            const T v = dv[p], u = dv[p + 1];                                      \
            const T *x = q + (int64_t)ix[p] * nc + c0;                             \
            const T *y = q + (int64_t)ix[p + 1] * nc + c0;                         \
            for (int k = 0; k < (NC); ++k) acc[k] = acc[k] + (v * x[k] + u * y[k]); \
        }                                                                          \
        if (p < e) {                                                               \
            const T v = dv[p];                                                     \
            const T *x = q + (int64_t)ix[p] * nc + c0;                             \
            for (int k = 0; k < (NC); ++k) acc[k] = acc[k] + v * x[k];             \
        }                                                                          \
        for (int k = 0; k < (NC); ++k) W[i * nc + c0 + k] = acc[k];                \
        for (p = ip[i]; p < e; ++p) {                                              \
            const T v = dv[p];                                                     \
            T *o = P + (int64_t)ix[p] * nc + c0;                                   \
            for (int k = 0; k < (NC); ++k) o[k] = o[k] + v * acc[k];               \
        }                                                                          \
    }

#define LORANK_GRAM_DEFINE(NAME, T, I, ATTR)                                       \
ATTR static void NAME(const long long *__restrict__ ip, const I *__restrict__ ix,    \
                      const T *__restrict__ dv, const T *__restrict__ q,           \
                      T *__restrict__ W, T *__restrict__ P, int64_t lo, int64_t hi, \
                      int64_t nc)                                                  \
{                                                                                  \
    for (int64_t c0 = 0; c0 < nc; c0 += LORANK_GRAM_CHUNK) {                       \
        switch (nc - c0 < LORANK_GRAM_CHUNK ? nc - c0 : LORANK_GRAM_CHUNK) {       \
        case 1: LORANK_GRAM_CHUNK_ROWS(T, 1) break;                                \
        case 2: LORANK_GRAM_CHUNK_ROWS(T, 2) break;                                \
        case 3: LORANK_GRAM_CHUNK_ROWS(T, 3) break;                                \
        case 4: LORANK_GRAM_CHUNK_ROWS(T, 4) break;                                \
        case 5: LORANK_GRAM_CHUNK_ROWS(T, 5) break;                                \
        case 6: LORANK_GRAM_CHUNK_ROWS(T, 6) break;                                \
        case 7: LORANK_GRAM_CHUNK_ROWS(T, 7) break;                                \
        default: LORANK_GRAM_CHUNK_ROWS(T, 8) break;                               \
        }                                                                          \
    }                                                                              \
}

#define LORANK_GRAM_TYPES(SUFFIX, ATTR)                                            \
    LORANK_GRAM_DEFINE(lorank_gram_fi##SUFFIX, float, int32_t, ATTR)               \
    LORANK_GRAM_DEFINE(lorank_gram_fl##SUFFIX, float, int64_t, ATTR)               \
    LORANK_GRAM_DEFINE(lorank_gram_di##SUFFIX, double, int32_t, ATTR)              \
    LORANK_GRAM_DEFINE(lorank_gram_dl##SUFFIX, double, int64_t, ATTR)

LORANK_GRAM_TYPES(16, )
#if LORANK_X86_VARIANTS
LORANK_GRAM_TYPES(32, __attribute__((target("arch=haswell"))))
LORANK_GRAM_TYPES(64, __attribute__((target("arch=skylake-avx512"))))
#endif

/* Dispatch on the vector width in bytes (64, 32 or 16). */
#if LORANK_X86_VARIANTS
#define LORANK_GRAM_DISPATCH(TI)                                                   \
static inline void lorank_gram_##TI(int width, const long long *ip, const void *ix,  \
                                    const void *dv, const void *q, void *W, void *P, \
                                    int64_t lo, int64_t hi, int64_t nc)            \
{                                                                                  \
    if (width >= 64) lorank_gram_##TI##64(ip, ix, dv, q, W, P, lo, hi, nc);        \
    else if (width >= 32) lorank_gram_##TI##32(ip, ix, dv, q, W, P, lo, hi, nc);   \
    else lorank_gram_##TI##16(ip, ix, dv, q, W, P, lo, hi, nc);                    \
}
#else
#define LORANK_GRAM_DISPATCH(TI)                                                   \
static inline void lorank_gram_##TI(int width, const long long *ip, const void *ix,  \
                                    const void *dv, const void *q, void *W, void *P, \
                                    int64_t lo, int64_t hi, int64_t nc)            \
{                                                                                  \
    (void)width;                                                                   \
    lorank_gram_##TI##16(ip, ix, dv, q, W, P, lo, hi, nc);                         \
}
#endif
LORANK_GRAM_DISPATCH(fi)
LORANK_GRAM_DISPATCH(fl)
LORANK_GRAM_DISPATCH(di)
LORANK_GRAM_DISPATCH(dl)

#endif
