"""Sampling kernel for :func:`lorank.datasets.synthetic`: distinct weighted
columns per row, written straight into CSR arrays, and the values of the true
model plus Gaussian noise.

Every row draws from its own xoshiro256** stream seeded from (key, row), so the
output does not depend on the thread count or the schedule. Parameters are
validated by the Python layer; each entry point checks the shapes and lengths
it trusts (and that no row asks for more distinct columns than exist) before
its loop.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport ceil, erfc, floor, log, sqrt
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort

import numpy as np


cdef extern from *:
    """
    #if defined(_MSC_VER)
    #include <intrin.h>
    static int lorank_ctz64(unsigned long long x) {
        unsigned long i; _BitScanForward64(&i, x); return (int)i;
    }
    #else
    #define lorank_ctz64(x) __builtin_ctzll(x)
    #endif
    """
    int lorank_ctz64(unsigned long long) noexcept nogil  # index of the lowest set bit


cdef struct Rng:
    uint64_t s0, s1, s2, s3
    double spare
    bint has_spare


cdef inline uint64_t _mix64(uint64_t z) noexcept nogil:
    # splitmix64's finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void _seed(Rng* r, uint64_t key0, uint64_t key1, uint64_t row) noexcept nogil:
    cdef uint64_t x = _mix64(key0 ^ _mix64(row + key1))
    x += 0x9E3779B97F4A7C15ULL
    r.s0 = _mix64(x)
    x += 0x9E3779B97F4A7C15ULL
    r.s1 = _mix64(x)
    x += 0x9E3779B97F4A7C15ULL
    r.s2 = _mix64(x)
    x += 0x9E3779B97F4A7C15ULL
    r.s3 = _mix64(x)
    r.has_spare = False


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t _next(Rng* r) noexcept nogil:
    # xoshiro256** (Blackman and Vigna)
    cdef uint64_t result = _rotl(r.s1 * 5, 7) * 9
    cdef uint64_t t = r.s1 << 17
    r.s2 ^= r.s0
    r.s3 ^= r.s1
    r.s1 ^= r.s2
    r.s0 ^= r.s3
    r.s2 ^= t
    r.s3 = _rotl(r.s3, 45)
    return result


cdef inline double _uniform(Rng* r) noexcept nogil:
    """Uniform in [0, 1) with 53 random bits."""
    return (_next(r) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double _gauss(Rng* r) noexcept nogil:
    """Standard normal (Marsaglia's polar method, both values used)."""
    cdef double u, v, s, f
    if r.has_spare:
        r.has_spare = False
        return r.spare
    while True:
        u = 2.0 * _uniform(r) - 1.0
        v = 2.0 * _uniform(r) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            break
    f = sqrt(-2.0 * log(s) / s)
    r.spare = v * f
    r.has_spare = True
    return u * f


cdef inline double _expected_rating(double mu, double noise, double lo, double hi) noexcept nogil:
    """E[x | mu] for x = clip(floor(mu + noise * z + 1/2), lo, hi), z ~ N(0, 1):
    lo + sum over k = lo..hi-1 of P(x > k) = P(mu + noise z >= k + 1/2)
    = Q((k + 1/2 - mu) / noise), Q the normal upper tail. Terms more than 10
    noise away are 1 or 0 to double precision, so only the others are summed."""
    cdef double a, b, k, m, sq = 0.7071067811865476  # 1 / sqrt(2)
    if noise == 0.0:
        m = floor(mu + 0.5)
        return lo if m < lo else (hi if m > hi else m)
    a = ceil(mu - 0.5 - 10.0 * noise)  # k < a: Q = 1
    b = floor(mu - 0.5 + 10.0 * noise)  # k > b: Q = 0
    a = lo if a < lo else (hi if a > hi else a)
    m = a  # lo + (a - lo) ones
    k = a
    while k <= b and k < hi:
        m += 0.5 * erfc((k + 0.5 - mu) / noise * sq)
        k += 1.0
    return m


def expected_rating(const double[::1] mu, double noise, double lo, double hi,
                    double[::1] out):
    """out = E[rating | mu] of the rounded, clipped model (see _expected_rating)."""
    cdef Py_ssize_t i, n = mu.shape[0]
    if out.shape[0] != n:
        raise ValueError(f"out has {out.shape[0]} entries, mu {n}")
    with nogil:
        for i in range(n):
            out[i] = _expected_rating(mu[i], noise, lo, hi)


cdef void _build_alias(const int32_t* ids, const double* weights, int32_t m, double total,
                       double* prob, int32_t* alias, int32_t* small,
                       int32_t* large) noexcept nogil:
    """Vose's alias table over the items ids[0..m) with the given weights.
    Slot t returns ids[t] with probability prob[t], else alias[t] (an item id)."""
    cdef int32_t t, s, l, ns = 0, nl = 0
    for t in range(m):
        prob[t] = weights[ids[t]] * m / total
        alias[t] = ids[t]
        if prob[t] < 1.0:
            small[ns] = t
            ns += 1
        else:
            large[nl] = t
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        l = large[nl]
        alias[s] = ids[l]
        prob[l] = (prob[l] + prob[s]) - 1.0
        if prob[l] < 1.0:
            small[ns] = l
            ns += 1
        else:
            large[nl] = l
            nl += 1
    # What is left is 1 up to rounding.
    while nl > 0:
        nl -= 1
        prob[large[nl]] = 1.0
    while ns > 0:
        ns -= 1
        prob[small[ns]] = 1.0


cdef inline int32_t _alias_draw(Rng* r, const int32_t* ids, const double* prob,
                                const int32_t* alias, int32_t m) noexcept nogil:
    cdef double u = _uniform(r) * m
    cdef int32_t t = <int32_t> u
    if t >= m:
        t = m - 1
    return ids[t] if u - t < prob[t] else alias[t]


cdef int _cmp_int32(const void* a, const void* b) noexcept nogil:
    cdef int32_t x = (<const int32_t*> a)[0], y = (<const int32_t*> b)[0]
    return (x > y) - (x < y)


cdef void _sample_row(Rng* r, int32_t k, int32_t n_cols, const double* weights,
                      const int32_t* g_ids, const double* g_prob, const int32_t* g_alias,
                      double g_total, uint64_t* bitmap, int32_t* l_ids, double* l_prob,
                      int32_t* l_alias, int32_t* small, int32_t* large,
                      int32_t* out) noexcept nogil:
    """k distinct columns drawn one by one with probability proportional to
    their weights among those not yet drawn (successive sampling), written to
    out[0..k) in increasing order. ``bitmap`` is all zero on entry and exit.

    Draws come from an alias table with rejection of repeats; once the drawn
    items hold half the table's weight the table is rebuilt over the remaining
    items (same distribution, bounded rejection rate)."""
    cdef int32_t j, t, got = 0, m = n_cols
    cdef int64_t w, nwords = (n_cols + 63) // 64
    cdef uint64_t bits, bit
    cdef const int32_t* ids = g_ids
    cdef const double* prob = g_prob
    cdef const int32_t* alias = g_alias
    cdef double total = g_total, taken = 0.0
    if k == n_cols:
        for j in range(n_cols):
            out[j] = j
        return
    while got < k:
        j = _alias_draw(r, ids, prob, alias, m)
        bit = (<uint64_t> 1) << (j & 63)
        if bitmap[j >> 6] & bit:
            continue
        bitmap[j >> 6] |= bit
        out[got] = j
        got += 1
        taken += weights[j]
        if taken > 0.5 * total and got < k:
            m = 0
            total = 0.0
            for j in range(n_cols):
                if not (bitmap[j >> 6] >> (j & 63)) & 1:
                    l_ids[m] = j
                    m += 1
                    total += weights[j]
            _build_alias(l_ids, weights, m, total, l_prob, l_alias, small, large)
            ids = l_ids
            prob = l_prob
            alias = l_alias
            taken = 0.0
    if 16 * <int64_t> k >= nwords:
        # Read the set bits back in order, clearing the bitmap.
        t = 0
        for w in range(nwords):
            bits = bitmap[w]
            bitmap[w] = 0
            while bits:
                out[t] = <int32_t> (w * 64 + lorank_ctz64(bits))
                t += 1
                bits &= bits - 1
    else:
        for t in range(k):
            j = out[t]
            bitmap[j >> 6] = 0
        if k <= 16:
            for t in range(1, k):  # insertion sort
                j = out[t]
                w = t - 1
                while w >= 0 and out[w] > j:
                    out[w + 1] = out[w]
                    w -= 1
                out[w + 1] = j
        else:
            qsort(out, k, sizeof(int32_t), _cmp_int32)


def build_alias(const int32_t[::1] ids, const double[::1] weights, double[::1] prob,
                int32_t[::1] alias):
    """Alias table over all items (the table every row starts from)."""
    cdef int32_t m = ids.shape[0]
    cdef double total = 0.0
    cdef int32_t t
    if ids.shape[0] > 2147483647 or not (prob.shape[0] == alias.shape[0] == ids.shape[0]):
        raise ValueError(f"ids ({ids.shape[0]}), prob ({prob.shape[0]}) and alias "
                         f"({alias.shape[0]}) must have the same length < 2**31")
    for t in range(m):
        if ids[t] < 0 or ids[t] >= weights.shape[0]:
            raise ValueError(f"ids[{t}] = {ids[t]} is not a column of the "
                             f"{weights.shape[0]} weights")
    cdef int32_t* small = <int32_t*> malloc((m if m > 0 else 1) * sizeof(int32_t))
    cdef int32_t* large = <int32_t*> malloc((m if m > 0 else 1) * sizeof(int32_t))
    if small == NULL or large == NULL:
        free(small)
        free(large)
        raise MemoryError()
    try:
        for t in range(m):
            total += weights[ids[t]]
        _build_alias(&ids[0], &weights[0], m, total, &prob[0], &alias[0], small, large)
    finally:
        free(small)
        free(large)
    return total


def generate(const int64_t[::1] indptr, const double[::1] weights,
             const int32_t[::1] g_ids, const double[::1] g_prob, const int32_t[::1] g_alias,
             double g_total, const floating[:, ::1] P, const floating[:, ::1] Q,
             const floating[::1] row_bias, const floating[::1] col_bias, double mean,
             double noise, bint rounded, double lo, double hi,
             uint64_t key0, uint64_t key1,
             int32_t[::1] indices, floating[::1] values, double[::1] sq_err, int n_threads):
    """Fill CSR ``indices`` and ``values`` row by row:
    values = mean + row_bias[i] + col_bias[j] + <P[i], Q[j]> + noise * N(0, 1),
    rounded and clipped to [lo, hi] when ``rounded``; sq_err[i] is the sum of
    squared differences between row i's values and the best prediction given
    the model: E[value | model], the model itself when not ``rounded``."""
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, n_cols = weights.shape[0]
    cdef Py_ssize_t rank = P.shape[1], i, p, c
    cdef int64_t nwords = (n_cols + 63) // 64
    cdef int32_t j, k
    cdef Rng* rng
    cdef double mu, x, d, sq, base
    cdef floating v
    cdef uint64_t* bitmap
    cdef int32_t* l_ids
    cdef double* l_prob
    cdef int32_t* l_alias
    cdef int32_t* small
    cdef int32_t* large
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)
    if n_rows < 0:
        raise ValueError("indptr is empty; it needs n_rows + 1 entries")
    if n_cols > 2147483647:
        raise ValueError(f"{n_cols} columns: the indices are int32")
    if P.shape[0] != n_rows or Q.shape[0] != n_cols or Q.shape[1] != rank:
        raise ValueError(f"P {(P.shape[0], P.shape[1])} and Q {(Q.shape[0], Q.shape[1])} "
                         f"must be ({n_rows}, r) and ({n_cols}, r)")
    if row_bias.shape[0] != n_rows or col_bias.shape[0] != n_cols:
        raise ValueError(f"row_bias ({row_bias.shape[0]}) and col_bias "
                         f"({col_bias.shape[0]}) must have {n_rows} and {n_cols} entries")
    if sq_err.shape[0] != n_rows:
        raise ValueError(f"sq_err has {sq_err.shape[0]} entries, expected {n_rows}")
    if not (g_prob.shape[0] == g_alias.shape[0] == g_ids.shape[0] <= n_cols):
        raise ValueError("the alias table (g_ids, g_prob, g_alias) must have one length, "
                         f"at most {n_cols}")
    if n_cols and g_ids.shape[0] == 0:
        raise ValueError("the alias table is empty")
    if indptr[0] != 0 or indptr[n_rows] != indices.shape[0] or \
            values.shape[0] != indices.shape[0]:
        raise ValueError(f"indptr must run from 0 to the {indices.shape[0]} entries of "
                         f"indices and values ({values.shape[0]})")
    for i in range(n_rows):  # O(rows), next to the O(nnz) sampling: a row asking
        # for more distinct columns than exist would never finish
        if indptr[i + 1] < indptr[i] or indptr[i + 1] - indptr[i] > n_cols:
            raise ValueError(f"row {i} asks for {indptr[i + 1] - indptr[i]} of the "
                             f"{n_cols} columns")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    with nogil, parallel(num_threads=n_threads):
        # per-thread scratch: a bitmap of drawn columns and room for one alias table
        rng = <Rng*> malloc(sizeof(Rng))
        bitmap = <uint64_t*> calloc(nwords, sizeof(uint64_t))
        l_ids = <int32_t*> malloc(n_cols * sizeof(int32_t))
        l_prob = <double*> malloc(n_cols * sizeof(double))
        l_alias = <int32_t*> malloc(n_cols * sizeof(int32_t))
        small = <int32_t*> malloc(n_cols * sizeof(int32_t))
        large = <int32_t*> malloc(n_cols * sizeof(int32_t))
        for i in prange(n_rows, schedule="dynamic", chunksize=64):
            if (rng == NULL or bitmap == NULL or l_ids == NULL or l_prob == NULL
                    or l_alias == NULL or small == NULL or large == NULL):
                failed[0] = 1
                continue
            k = <int32_t> (indptr[i + 1] - indptr[i])
            _seed(rng, key0, key1, <uint64_t> i)
            _sample_row(rng, k, <int32_t> n_cols, &weights[0], &g_ids[0], &g_prob[0],
                        &g_alias[0], g_total, bitmap, l_ids, l_prob, l_alias, small,
                        large, &indices[indptr[i]])
            # value = model + noise; sq_err accumulates (value - model)^2
            sq = 0.0
            base = mean + row_bias[i]
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                mu = base + col_bias[j]
                for c in range(rank):
                    mu = mu + <double> P[i, c] * Q[j, c]
                x = mu
                if noise > 0.0:
                    x = mu + noise * _gauss(rng)
                if rounded:
                    x = floor(x + 0.5)
                    x = lo if x < lo else (hi if x > hi else x)
                v = <floating> x
                values[p] = v
                if rounded:
                    mu = _expected_rating(mu, noise, lo, hi)
                d = <double> v - mu
                sq = sq + d * d
            sq_err[i] = sq
        free(rng)
        free(bitmap)
        free(l_ids)
        free(l_prob)
        free(l_alias)
        free(small)
        free(large)
    if failed[0]:
        raise MemoryError("could not allocate per-thread scratch for synthetic()")
