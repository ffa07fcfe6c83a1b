/* Counter-based normal draws for the sampled ALS half-step.
 *
 * Target j of stream (seed, stream) reads the 64-bit words
 *   block b = Philox4x64-10(key = (seed, stream), counter = (b, j, 0, 0)),
 * b = 0, 1, ..., four words a block in order, and turns them into standard
 * normals by numpy's ziggurat (random_standard_normal of numpy/random/src/
 * distributions/distributions.c, its tables in _ziggurat.h): one word a normal
 * 99.3 % of the time, a few more when a draw is rejected. A pure function of
 * (seed, stream, j, index): the draws do not depend on which thread solves the
 * target, nor on the order. Philox4x64-10 is the generator of Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3" (SC 2011); with numpy's
 * Philox at that counter (numpy increments it before each block) and key,
 * Generator.standard_normal gives the same bits. The ziggurat replaced a
 * Box–Muller transform (a log, a square root and a sine-cosine pair per two
 * normals): the 11 normals of a rank-10 target took 106 ns instead of 242 in a
 * C loop over 480k targets (one thread, gcc -O2), 0.035 s less per Netflix-shape
 * users' half-step on 2 threads; setting the sign by its bit made it about 56 ns
 * (of which the three Philox blocks take 14).
 */
#ifndef LORANK_RANDOM_H
#define LORANK_RANDOM_H

#include <math.h>
#include <stdint.h>

#include "_ziggurat.h"

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

/* Target `target`'s words of stream (seed, stream), one block at a time. */
typedef struct {
    uint64_t key[2], ctr[4], block[4];
    int used; /* words of `block` taken */
} lorank_stream;

static inline void lorank_stream_init(lorank_stream *s, uint64_t seed, uint64_t stream,
                                      uint64_t target)
{
    s->key[0] = seed;
    s->key[1] = stream;
    s->ctr[0] = 0;
    s->ctr[1] = target;
    s->ctr[2] = s->ctr[3] = 0;
    s->used = 4;
}

static inline uint64_t lorank_next64(lorank_stream *s)
{
    if (s->used == 4) {
        lorank_philox4x64(s->ctr, s->key, s->block);
        s->ctr[0] += 1;
        s->used = 0;
    }
    return s->block[s->used++];
}

/* A uniform in [0, 1): numpy's next_double. */
static inline double lorank_next_double(lorank_stream *s)
{
    return (double)(lorank_next64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* One standard normal: numpy's random_standard_normal, step by step. */
static inline double lorank_normal(lorank_stream *s)
{
    for (;;) {
        uint64_t r = lorank_next64(s);
        const int idx = (int)(r & 0xff);
        r >>= 8;
        const uint64_t rabs = (r >> 1) & 0x000fffffffffffffULL;
        /* The sign by its bit, not by a branch on a coin flip (half of them
           mispredicted: 105 -> 56 ns for a target's 11 normals). */
        union { double d; uint64_t u; } v = {(double)rabs * lorank_zig_wi[idx]};
        v.u ^= (r & 1) << 63;
        const double x = v.d;
        if (rabs < lorank_zig_ki[idx])
            return x; /* 99.3 % of the draws */
        if (idx == 0) { /* the tail, beyond LORANK_ZIG_NOR_R */
            for (;;) {
                const double xx = -LORANK_ZIG_NOR_INV_R * log1p(-lorank_next_double(s));
                const double yy = -log1p(-lorank_next_double(s));
                if (yy + yy > xx * xx)
                    return ((rabs >> 8) & 0x1) ? -(LORANK_ZIG_NOR_R + xx)
                                               : LORANK_ZIG_NOR_R + xx;
            }
        } else if ((lorank_zig_fi[idx - 1] - lorank_zig_fi[idx]) * lorank_next_double(s)
                       + lorank_zig_fi[idx] < exp(-0.5 * x * x)) {
            return x;
        }
    }
}

/* z[0..n) of target `target` in stream (seed, stream). */
static void lorank_normals(uint64_t seed, uint64_t stream, uint64_t target, int64_t n, double *z)
{
    lorank_stream s;
    lorank_stream_init(&s, seed, stream, target);
    for (int64_t k = 0; k < n; ++k) z[k] = lorank_normal(&s);
}

#endif
