/* Counter-based normal draws for the sampled ALS half-step.
 *
 * Target j of stream (seed, stream) uses the normals z[0], z[1], ... defined by
 *   block b = Philox4x64-10(key = (seed, stream), counter = (b, j, 0, 0)) = (a, c, e, g),
 *   z[4b], z[4b+1]   = Box–Muller(a, c),   z[4b+2], z[4b+3] = Box–Muller(e, g),
 *   Box–Muller(u, v) = sqrt(-2 ln U) (cos 2πV, sin 2πV),
 *   U = ((u >> 11) + 1) 2^-53 in (0, 1],  V = (v >> 11) 2^-53 in [0, 1).
 * A pure function of (seed, stream, j, index): the draws do not depend on which
 * thread solves the target, nor on the order. Philox4x64-10 is the generator of
 * Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC 2011), the same
 * bits as numpy.random.Philox (whose counter is incremented before each block).
 */
#ifndef LORANK_RANDOM_H
#define LORANK_RANDOM_H

#include <math.h>
#include <stdint.h>

static inline uint64_t lorank_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    const unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    const uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return a * b;
#endif
}

/* out = Philox4x64-10(ctr, key). */
static inline void lorank_philox4x64(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4])
{
    uint64_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint64_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
        uint64_t hi0, hi1;
        const uint64_t lo0 = lorank_mulhilo64(0xD2E7470EE14C6C93ULL, c0, &hi0);
        const uint64_t lo1 = lorank_mulhilo64(0xCA5A826395121157ULL, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B97F4A7C15ULL;
        k1 += 0xBB67AE8584CAA73BULL;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static inline void lorank_box_muller(uint64_t u, uint64_t v, double *z0, double *z1)
{
    const double U = (double)((u >> 11) + 1) * 0x1.0p-53;
    const double V = (double)(v >> 11) * 0x1.0p-53;
    const double r = sqrt(-2.0 * log(U));
    const double theta = 6.283185307179586476925286766559 * V;
    *z0 = r * cos(theta);
    *z1 = r * sin(theta);
}

/* z[0..n) of target `target` in stream (seed, stream). */
static void lorank_normals(uint64_t seed, uint64_t stream, uint64_t target, int64_t n, double *z)
{
    const uint64_t key[2] = {seed, stream};
    uint64_t ctr[4] = {0, target, 0, 0}, out[4];
    double pair[4];
    for (int64_t start = 0; start < n; start += 4) {
        ctr[0] = (uint64_t)(start / 4);
        lorank_philox4x64(ctr, key, out);
        lorank_box_muller(out[0], out[1], &pair[0], &pair[1]);
        lorank_box_muller(out[2], out[3], &pair[2], &pair[3]);
        for (int k = 0; k < 4 && start + k < n; ++k) z[start + k] = pair[k];
    }
}

#endif
