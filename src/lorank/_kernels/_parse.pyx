"""Text parsing and formatting of rating files, with no Python object per line.

``netflix`` parses the Netflix Prize layout (a ``MovieID:`` line, then
``CustomerID,Rating,Date`` lines) in two passes over independent chunks of the
input (each a whole number of lines): the first counts the rating lines of each
chunk and finds its last ``MovieID:``, the second writes every chunk at its
offset with the movie it starts under. Output positions follow the input
order, so results do not depend on the thread count. ``delimited`` reads three
numeric columns of a delimited file. ``format_netflix`` writes CSC columns as
Netflix text. Errors are returned as (code, byte offset of the bad line); the
Python layer turns them into messages with file names and line numbers.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memchr, memcpy

import numpy as np

# Error codes (0 = fine); the Python layer has the same table.
cdef enum:
    BAD_LINE = 1
    NO_MOVIE = 2
    TOO_BIG = 3
    FEW_FIELDS = 4
    BAD_FIELD = 5
    BAD_DATE = 6

cdef int64_t INT32_MAX = 2147483647
cdef int64_t INT64_MAX = 9223372036854775807
cdef int64_t INT64_LIMIT = 922337203685477580  # above this, the next digit overflows
cdef int64_t INT64_MIN = -9223372036854775807 - 1


cdef inline int64_t _line_end(const uint8_t* buf, int64_t p, int64_t end) noexcept nogil:
    """Index of the next newline at or after p, or end."""
    cdef const void* q = memchr(buf + p, 10, end - p)
    if q == NULL:
        return end
    return <const uint8_t*>q - buf


# Days before month m (1-based) in a common year.
cdef int CUM_DAYS[13]
CUM_DAYS[:] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
cdef int MONTH_DAYS[13]
MONTH_DAYS[:] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cdef inline int64_t _day(const uint8_t* p) noexcept nogil:
    """Days since 1970-01-01 of the date YYYY-MM-DD at p (years 0000..9999),
    or INT64_MIN if it is not one."""
    cdef uint32_t y0 = p[0] - 48, y1 = p[1] - 48, y2 = p[2] - 48, y3 = p[3] - 48
    cdef uint32_t m0 = p[5] - 48, m1 = p[6] - 48, d0 = p[8] - 48, d1 = p[9] - 48
    cdef int64_t y, m, d, leap, n
    if ((y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (m0 > 9) | (m1 > 9) | (d0 > 9)
            | (d1 > 9) | (p[4] != 45) | (p[7] != 45)):
        return INT64_MIN
    y = y0 * 1000 + y1 * 100 + y2 * 10 + y3
    m = m0 * 10 + m1
    d = d0 * 10 + d1
    if m < 1 or m > 12 or d < 1 or d > MONTH_DAYS[m]:
        return INT64_MIN
    leap = 1 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 0
    if m == 2 and d == 29 and leap == 0:
        return INT64_MIN
    n = y - 1  # leap years before year y, counted from year 0 (a leap year)
    n = 365 * y + ((n // 4 - n // 100 + n // 400 + 1) if y > 0 else 0)
    if m > 2:
        n += leap
    return n + CUM_DAYS[m] + d - 1 - 719528


cdef inline int64_t _uint(const uint8_t* buf, int64_t* s, int64_t q, int64_t limit) noexcept nogil:
    """Parse decimal digits at buf[s[0]:q], advancing s; -1 if there are none,
    -2 if the value exceeds limit."""
    cdef int64_t a = 0, p = s[0]
    cdef uint8_t d
    while p < q:
        d = buf[p] - 48
        if d > 9:
            break
        if a >= INT64_LIMIT:  # one more digit could overflow: too big for any limit
            return -2
        a = a * 10 + d
        p += 1
    if p == s[0]:
        return -1
    if a > limit:  # compared once, not per digit (no division in the loop)
        return -2
    s[0] = p
    return a


# 10**k for k <= 22: exact doubles (5**22 < 2**53), the fast path's operands.
cdef double POW10[23]
cdef int _k
for _k in range(23):
    POW10[_k] = 10.0 ** _k
cdef uint64_t TWO53 = 9007199254740992ULL


cdef inline int _number_field(const uint8_t* buf, int64_t s, int64_t fe, double* out) noexcept nogil:
    """Parse buf[s:fe] exactly as Python's float() does; 0 on success (and a
    finite value in out), 1 if float() rejects it or it is not finite."""
    cdef int64_t p = s
    if _fast_number(buf, &p, fe, out) == 0 and p == fe:
        return 0
    return _float_of(buf, s, fe, out)


cdef inline int _fast_number(const uint8_t* buf, int64_t* s, int64_t q, double* out) noexcept nogil:
    """The exact fast path of float(): parse [+-]digits[.digits][(e|E)[+-]digits]
    at buf[s[0]:q], stopping at the first byte outside that grammar (s[0] is
    left there); 0 on success, 1 when float() itself must decide.

    Clinger's fast path: when the significant digits form an integer
    w <= 2**53 and the value is w * 10**e with |e| <= 22, it is one
    multiplication or division of two exact doubles, so correctly rounded as
    float() is. More digits, larger exponents, no digits: 1."""
    cdef int64_t p = s[0], e10 = 0, ex = 0
    cdef uint64_t w = 0
    cdef int nd = 0
    cdef bint neg = False, digits = False, exneg = False
    cdef uint8_t d
    cdef double v
    if p < q and (buf[p] == 45 or buf[p] == 43):  # '-' or '+'
        neg = buf[p] == 45
        p += 1
    while p < q:
        d = buf[p] - 48
        if d > 9:
            break
        digits = True
        if w != 0 or d != 0:
            if nd == 19:
                return 1
            w = w * 10 + d
            nd += 1
        p += 1
    if p < q and buf[p] == 46:  # '.'
        p += 1
        while p < q:
            d = buf[p] - 48
            if d > 9:
                break
            digits = True
            if w != 0 or d != 0:
                if nd == 19:
                    return 1
                w = w * 10 + d
                nd += 1
            e10 -= 1
            p += 1
    if not digits:
        return 1
    if p < q and (buf[p] == 101 or buf[p] == 69):  # 'e' or 'E'
        p += 1
        if p < q and (buf[p] == 45 or buf[p] == 43):
            exneg = buf[p] == 45
            p += 1
        digits = False
        while p < q:
            d = buf[p] - 48
            if d > 9:
                break
            digits = True
            if ex < 100000:
                ex = ex * 10 + d
            p += 1
        if not digits:
            return 1
        e10 += -ex if exneg else ex
    if w == 0:
        v = 0.0
    elif w > TWO53 or e10 > 22 or e10 < -22:
        return 1
    elif e10 >= 0:
        v = <double>w * POW10[e10]
    else:
        v = <double>w / POW10[-e10]
    out[0] = -v if neg else v
    s[0] = p
    return 0


cdef int _float_of(const uint8_t* buf, int64_t s, int64_t fe, double* out) noexcept with gil:
    """float(buf[s:fe]): 0 and the value if it is a finite number, else 1."""
    try:
        v = float((<const char*>buf)[s:fe])
    except ValueError:
        return 1
    if v != v or v == float("inf") or v == -float("inf"):
        return 1
    out[0] = v
    return 0


cdef int _netflix_chunk(const uint8_t* buf, int64_t start, int64_t end, int64_t movie,
                        int32_t* out_movie, int32_t* out_user, float* out_rating,
                        int32_t* out_day, int64_t capacity, int64_t* count,
                        int64_t* err_pos) noexcept nogil:
    """Parse the lines of buf[start:end] starting under ``movie`` (-1: none yet),
    writing at most ``capacity`` rating lines to out_* (out_day may be NULL);
    set count (and err_pos)."""
    cdef int64_t p = start, s, a, ds, day, n = 0
    cdef double v
    cdef uint8_t c
    cdef int code = 0
    while p < end:
        c = buf[p]
        if c == 10 or (c == 13 and (p + 1 == end or buf[p + 1] == 10)):  # blank line
            p += 1 if c == 10 else 2
            continue
        s = p
        a = _uint(buf, &s, end, INT32_MAX)
        if a == -2:
            code = TOO_BIG
            break
        if a < 0 or s == end:
            code = BAD_LINE
            break
        c = buf[s]
        if c == 58:  # 'MovieID:' then the end of the line
            s += 1
            if s < end and buf[s] == 13:
                s += 1
            if s < end and buf[s] != 10:
                code = BAD_LINE
                break
            movie = a
        elif c == 44:  # 'CustomerID,Rating,Date'
            s += 1
            ds = s  # the rating, up to the next ','
            if s + 1 < end and <uint8_t>(buf[s] - 48) <= 9 and buf[s + 1] == 44:
                v = buf[s] - 48  # one digit: the Netflix Prize's every rating
                s += 1
            elif _fast_number(buf, &s, end, &v) != 0 or s >= end or buf[s] != 44:
                s = ds  # not the fast grammar: let float() read the field
                while s < end and buf[s] != 44 and buf[s] != 10:
                    s += 1
                if s >= end or buf[s] != 44 or _number_field(buf, ds, s, &v) != 0:
                    code = BAD_LINE
                    break
            if s + 1 >= end:
                code = BAD_LINE
                break
            s += 1
            ds = s  # the date: YYYY-MM-DD, then the end of the line
            if ds + 10 > end:
                code = BAD_LINE
                break
            day = _day(buf + ds)
            if day == INT64_MIN:
                code = BAD_DATE
                break
            s = ds + 10
            if s < end and buf[s] == 13:
                s += 1
            if s < end and buf[s] != 10:
                code = BAD_LINE
                break
            if movie < 0:
                code = NO_MOVIE
                break
            if n < capacity:  # always, for valid text: see _count_chunk
                out_movie[n] = <int32_t>movie
                out_user[n] = <int32_t>a
                out_rating[n] = <float>v
                if out_day != NULL:
                    out_day[n] = <int32_t>day
            n += 1
        else:
            code = BAD_LINE
            break
        p = s + 1
    if code == 0 and n > capacity:  # only with a bad line, which comes first
        code = BAD_LINE
        p = start
    count[0] = n
    if code != 0:
        err_pos[0] = p
    return code


cdef void _count_chunk(const uint8_t* buf, int64_t start, int64_t end,
                       int64_t* capacity, int64_t* last_movie) noexcept nogil:
    """At most how many rating lines buf[start:end] holds (lines minus ':' bytes:
    exact for valid text but for blank lines), and the id of its last
    'MovieID:' line (-1 if none; -2 if that line is not a plain id)."""
    cdef int64_t i, lines = 0, colons = 0, a, s
    for i in range(start, end):
        lines += buf[i] == 10
        colons += buf[i] == 58
    if end > start and buf[end - 1] != 10:
        lines += 1  # a last line without newline
    capacity[0] = lines - colons
    last_movie[0] = -1
    i = end - 1
    while i >= start and buf[i] != 58:
        i -= 1
    if i >= start:
        s = i
        while s > start and buf[s - 1] != 10:
            s -= 1
        a = _uint(buf, &s, i, INT32_MAX)
        last_movie[0] = a if (a >= 0 and s == i) else -2


def netflix(const uint8_t[::1] buf, const int64_t[::1] starts, const int64_t[::1] ends,
            const uint8_t[::1] opens_file, int n_threads, bint times=False):
    """Parse chunks buf[starts[k]:ends[k]] of Netflix-format text.

    ``opens_file[k]`` is 1 when chunk k begins a file (no movie is inherited).
    Returns ``(movie, user, rating)`` (int32, int32, float32), plus the date
    as int32 days since 1970-01-01 when ``times``, or, on a bad line,
    ``(code, byte offset of the line)`` for the first bad line in input order.
    """
    cdef Py_ssize_t n = starts.shape[0], k, j
    cdef int64_t[::1] cap = np.zeros(n, dtype=np.int64)
    cdef int64_t[::1] counts = np.zeros(n, dtype=np.int64)
    cdef int64_t[::1] last = np.full(n, -1, dtype=np.int64)
    cdef int64_t[::1] err = np.full(n, -1, dtype=np.int64)
    cdef int32_t[::1] codes = np.zeros(n, dtype=np.int32)
    cdef int64_t[::1] first = np.zeros(n + 1, dtype=np.int64)
    cdef int64_t[::1] inherit = np.full(max(n, 1), -1, dtype=np.int64)
    cdef const uint8_t* b = &buf[0] if buf.shape[0] > 0 else NULL
    if n == 0:
        return (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32)) + (
            (np.empty(0, np.int32),) if times else ())

    # Pass 1: an upper bound of the rating lines of each chunk, and its last movie.
    for k in prange(n, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=1):
        _count_chunk(b, starts[k], ends[k], &cap[k], &last[k])
    for k in range(n):
        first[k + 1] = first[k] + max(cap[k], 0)
        if k > 0 and not opens_file[k]:
            inherit[k] = last[k - 1] if last[k - 1] != -1 else inherit[k - 1]
    total = first[n]
    movie = np.empty(total, dtype=np.int32)
    user = np.empty(total, dtype=np.int32)
    rating = np.empty(total, dtype=np.float32)
    day = np.empty(total if times else 0, dtype=np.int32)
    cdef int32_t* od = <int32_t*>(<Py_ssize_t>day.ctypes.data) if times else NULL
    cdef int32_t* om = <int32_t*>(<Py_ssize_t>movie.ctypes.data)
    cdef int32_t* ou = <int32_t*>(<Py_ssize_t>user.ctypes.data)
    cdef float* orr = <float*>(<Py_ssize_t>rating.ctypes.data)

    # Pass 2: parse and check every line, each chunk at its offset under the
    # movie it inherits (-2: the previous chunk's last MovieID: line is bad, and
    # that chunk reports it first).
    for k in prange(n, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=1):
        codes[k] = _netflix_chunk(b, starts[k], ends[k], inherit[k] if inherit[k] != -2 else 0,
                                  om + first[k], ou + first[k], orr + first[k],
                                  (od + first[k]) if od != NULL else NULL,
                                  max(cap[k], 0), &counts[k], &err[k])
    j = 0
    for k in range(n):
        if codes[k] != 0:
            return int(codes[k]), int(err[k])
        if counts[k] != cap[k]:
            j = 1
    if j:  # blank lines left gaps: close them
        keep = np.concatenate([np.arange(first[k], first[k] + counts[k]) for k in range(n)])
        movie, user, rating = movie[keep], user[keep], rating[keep]
        if times:
            day = day[keep]
    return (movie, user, rating, day) if times else (movie, user, rating)


def delimited(const uint8_t[::1] buf, int64_t start, bytes delimiter, int col_user,
              int col_item, int col_rating, int col_time, int64_t[::1] out_user,
              int64_t[::1] out_item, double[::1] out_rating, int64_t[::1] out_time):
    """Parse integer user and item ids, a numeric rating and (when
    ``col_time >= 0``) an integer time from the lines of buf[start:] (fields
    split by ``delimiter``, one or more bytes; blank lines skipped). Returns the
    number of rows, or (code, byte offset of the line, field index) on a bad
    line. The output arrays hold at least one slot per line (out_time too when
    a time is read).
    """
    cdef int64_t end = buf.shape[0], p = start, e, q, s, fe, n = 0, a
    cdef const uint8_t* b = &buf[0] if end > 0 else NULL
    cdef const uint8_t* d = delimiter
    cdef Py_ssize_t dl = len(delimiter)
    cdef int f, last_col = max(col_user, col_item, col_rating, col_time), code = 0
    cdef int bad_field = -1, slot
    cdef int64_t bad_pos = -1, x, ids[3]
    cdef double rv
    cdef bint neg
    cdef int64_t cap = min(out_user.shape[0], out_item.shape[0], out_rating.shape[0])
    if dl == 0:
        raise ValueError("delimiter must not be empty")
    if not 0 <= start <= end:
        raise ValueError(f"delimited: start={start} outside the buffer of {end} bytes")
    if min(col_user, col_item, col_rating) < 0:
        raise ValueError("delimited: column indices must be >= 0")
    if col_time >= 0:
        cap = min(cap, out_time.shape[0])
    with nogil:
        while p < end:
            e = _line_end(b, p, end)
            q = e
            if q > p and b[q - 1] == 13:
                q -= 1
            if q == p:
                p = e + 1
                continue
            s = p
            f = 0
            while True:
                fe = s  # field f is b[s:fe]
                while fe < q and not (b[fe] == d[0] and fe + dl <= q and _same(b + fe, d, dl)):
                    fe += 1
                if f == col_user or f == col_item or f == col_time:
                    neg = fe > s and b[s] == 45  # '-'
                    a = s + neg
                    x = _uint(b, &a, fe, INT64_MAX)
                    if x == -2 and a == s + neg:  # all digits, beyond int64
                        code = TOO_BIG
                        bad_field = f
                        break
                    if x < 0 or a != fe:
                        code = BAD_FIELD
                        bad_field = f
                        break
                    slot = 0 if f == col_user else (1 if f == col_item else 2)
                    ids[slot] = -x if neg else x
                elif f == col_rating:
                    if _number_field(b, s, fe, &rv) != 0:
                        code = BAD_FIELD
                        bad_field = f
                        break
                f += 1
                if f > last_col or fe >= q:
                    break
                s = fe + dl
            if code == 0 and f <= last_col:
                code = FEW_FIELDS
                bad_field = f
            if code != 0:
                bad_pos = p
                break
            if n >= cap:
                code = -1
                break
            out_user[n] = ids[0]
            out_item[n] = ids[1]
            out_rating[n] = rv
            if col_time >= 0:
                out_time[n] = ids[2]
            n += 1
            p = e + 1
    if code == -1:
        raise ValueError(f"delimited: the output arrays hold {cap} rows, the text more")
    if code != 0:
        return code, bad_pos, bad_field
    return n


cdef inline bint _same(const uint8_t* a, const uint8_t* b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


cdef inline int64_t _put_uint(uint8_t* out, int64_t p, int64_t x) noexcept nogil:
    """Write x >= 0 in decimal at out[p]; return the position after it."""
    cdef uint8_t tmp[20]
    cdef int k = 0
    while True:
        tmp[k] = <uint8_t>(48 + x % 10)
        x //= 10
        k += 1
        if x == 0:
            break
    while k > 0:
        k -= 1
        out[p] = tmp[k]
        p += 1
    return p


ctypedef fused index_t:
    int32_t
    int64_t


def format_netflix(const int64_t[::1] indptr, const index_t[::1] rows,
                   const floating[::1] values, int64_t col_lo, int64_t col_hi,
                   const int64_t[::1] movie_ids, const int64_t[::1] user_ids,
                   const uint8_t[::1] date, uint8_t[::1] out):
    """Write columns col_lo:col_hi of a CSC pattern as Netflix text into out
    (``MovieID:`` then ``CustomerID,Rating,Date`` lines; integer ratings) and
    return the number of bytes. ``out`` must be large enough (36 bytes per
    rating line and 21 per column cover every int64 id)."""
    cdef int64_t j, t, p = 0
    cdef Py_ssize_t dl = date.shape[0]
    if not (0 <= col_lo <= col_hi < indptr.shape[0] and col_hi <= movie_ids.shape[0]
            and rows.shape[0] == values.shape[0]
            and 0 <= indptr[col_lo] <= indptr[col_hi] <= rows.shape[0]):
        raise ValueError("format_netflix: columns, indptr, rows and values do not match")
    if out.shape[0] < 21 * (col_hi - col_lo) + (36 + dl) * (indptr[col_hi] - indptr[col_lo]):
        raise ValueError("format_netflix: out is too small for these columns")
    if col_hi == col_lo:
        return 0
    cdef uint8_t* o = &out[0]
    with nogil:
        for j in range(col_lo, col_hi):
            p = _put_uint(o, p, movie_ids[j])
            o[p] = 58
            o[p + 1] = 10
            p += 2
            for t in range(indptr[j], indptr[j + 1]):
                p = _put_uint(o, p, user_ids[rows[t]])
                o[p] = 44
                p = _put_uint(o, p + 1, <int64_t>values[t])
                o[p] = 44
                p += 1
                if dl > 0:
                    memcpy(o + p, &date[0], dl)
                p += dl
                o[p] = 10
                p += 1
    return p
