"""``Ratings``: the one gate for observed entries.

Every way in (COO triples, scipy.sparse, dense with NaN, labelled ids, raw CSR)
is validated here once and stored as cached CSR *and* CSC views; everything
downstream trusts a ``Ratings`` and never re-checks it.
"""

import numbers
from typing import NamedTuple

import numpy as np
import scipy.sparse

from .._kernels import _sparse
from ._labels import LabelIndex, format_labels
from .._threads import effective_n_threads
from .._validation import as_float_dtype

_INT32_MAX = np.iinfo(np.int32).max
_DUPLICATES = ("error", "mean", "last")


class SparseView(NamedTuple):
    """A compressed sparse structure (CSR or CSC) as three read-only arrays.

    ``indptr`` is int64 with one entry per major index plus one; ``indices``
    (int32, or int64 when the minor dimension exceeds int32) are strictly
    increasing within each major; ``values`` are float32 or float64.
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray


class _DuplicateEntry(ValueError):
    """A repeated (row, col) pair; ``pair`` holds the indices."""

    def __init__(self, pair):
        self.pair = pair
        super().__init__(f'duplicate entry {pair}; pass duplicates="mean" or "last"')


class _Unsorted(ValueError):
    """A CSR structure whose indices are not strictly increasing within a row."""


# ---------------------------------------------------------------- helpers


def _index_dtype(size):
    return np.int32 if size <= _INT32_MAX else np.int64


def _frozen(a):
    """A read-only view: a Ratings is immutable."""
    if not a.flags.writeable:
        return a
    v = a.view()
    v.flags.writeable = False
    return v


def _check_shape(shape):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"shape must be a pair of positive integers, got {shape!r}")
    for k, s in enumerate(shape):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(f"shape[{k}] must be an integer, got {s!r}")
        if s <= 0:
            raise ValueError(f"shape[{k}] must be positive, got {s}")
    return int(shape[0]), int(shape[1])


def _check_duplicates(duplicates):
    if duplicates not in _DUPLICATES:
        raise ValueError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}")


def _as_1d(a, name):
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array with shape {a.shape}")
    return a


def _as_index_array(a, name):
    """A 1-D integer array (an empty float array, as from ``[]``, counts as one)."""
    a = _as_1d(a, name)
    if a.dtype.kind not in "iu":
        if a.size == 0 and a.dtype.kind == "f":
            return a.astype(np.int64)
        raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
    return a


def _entry_positions(idx, nnz):
    """The sorted, distinct entry positions that ``take(idx)`` keeps: ``idx`` is
    positions in any order or a boolean mask of length ``nnz``."""
    idx = np.asarray(idx)
    if idx.dtype == bool:
        if idx.shape != (nnz,):
            raise ValueError(f"a boolean idx must have shape ({nnz},), got {idx.shape}")
        return np.flatnonzero(idx)
    idx = np.sort(_check_range(_as_index_array(idx, "idx"), "idx", nnz, "nnz"))
    if idx.size > 1:
        same = np.flatnonzero(idx[1:] == idx[:-1])
        if same.size:
            raise ValueError(f"idx contains position {int(idx[same[0]])} twice")
    return idx


def _check_range(a, name, size, axis_name):
    """0 <= a < size, then a C-contiguous int32/int64 array (no copy if it already is)."""
    if a.size:
        lo, hi = a.min(), a.max()
        if lo < 0:
            raise ValueError(f"{name} contains index {int(lo)}; indices must be >= 0")
        if hi >= size:
            raise ValueError(f"{name} contains index {int(hi)} but {axis_name} is {size}")
    if a.dtype not in (np.int32, np.int64):
        a = a.astype(_index_dtype(size))
    return np.ascontiguousarray(a)


def _values_dtype(values, dtype, name="values"):
    """float32 stays float32, other real numbers go to float64, unless ``dtype``."""
    if values.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    if dtype is not None:
        return np.dtype(as_float_dtype(dtype))
    return np.dtype(np.float32 if values.dtype == np.float32 else np.float64)


def _as_values(values, dt, name="values"):
    """Cast to ``dt`` (no copy when already there) and check finiteness after the
    cast, so float64 values that overflow float32 are caught too."""
    original = values
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.ascontiguousarray(values, dtype=dt)
        # A finite float64 sum proves every entry finite without an nnz-sized temporary.
        total = np.sum(values, dtype=np.float64)
    if not np.isfinite(total):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            pos = int(bad[0])
            was = original[pos]
            if np.isfinite(was):
                raise ValueError(
                    f"{name} contains {was} at position {pos}, which overflows {dt}; "
                    "values must be finite"
                )
            raise ValueError(
                f"{name} contains {was} at position {pos}; values must be finite"
            )
    return values


def _transpose(indptr, indices, values, n_minor, n_major):
    """Compressed structure -> the other orientation, sorted (stable counting sort)."""
    out_indptr = np.empty(n_minor + 1, dtype=np.int64)
    out_indices = np.empty(len(indices), dtype=_index_dtype(n_major))
    out_values = np.empty(len(values), dtype=values.dtype)
    chunks = _sparse.sort_chunks(len(values), n_minor, effective_n_threads(None))
    _sparse.compressed_transpose(indptr, indices, values, out_indptr, out_indices, out_values,
                                 chunks, _sparse.split_bits(n_minor, len(values)))
    return out_indptr, out_indices, out_values


def _positions(nnz):
    """0 .. nnz-1, for a sort to carry: int32 unless past its range."""
    return np.arange(nnz, dtype=_index_dtype(nnz))


def _take(a, pos):
    """``a[pos]`` by a parallel gather: pos holds valid positions (from a sort);
    4- and 8-byte elements are moved as integers of their size, bits unchanged."""
    kinds = {4: np.int32, 8: np.int64}
    if a.dtype.itemsize not in kinds or not a.flags.c_contiguous:
        return a[pos]
    out = np.empty(len(pos), dtype=a.dtype)
    as_int = kinds[a.dtype.itemsize]
    _sparse.take(a.view(as_int), pos, out.view(as_int), effective_n_threads(None))
    return out


def _build_from_coo(rows, cols, values, shape, duplicates, times=None, owned=False):
    """Validated COO -> (csr, csc, times in CSR order or None), sorted,
    duplicates resolved. ``owned``: ``rows`` is a temporary of the caller's,
    free to keep.

    With times, the sorts carry the input positions (int32, or int64 past
    2**31 ratings) instead of the values, and values and times are gathered
    once, in parallel; a repeated (row, col) keeps the time of its last
    occurrence.
    """
    m, n = shape
    nnz = len(values)
    payload = values if times is None else _positions(nnz)
    # Pass 1: stable sort by column -> a temporary CSC whose rows are in input
    # order. Input already grouped by column (as a Netflix file) is that CSC.
    if _sparse.first_descent(cols) < 0:
        t_indptr = np.searchsorted(cols, np.arange(n + 1, dtype=cols.dtype))
        t_rows, t_values = rows, payload
        if _sparse.check_compressed(t_indptr, rows, m) is None:
            # ... and rows increasing within each column: the CSC itself.
            return _from_sorted_csc(t_indptr, rows, values, shape, times, owned)
    else:
        t_indptr = np.empty(n + 1, dtype=np.int64)
        t_rows = np.empty(nnz, dtype=_index_dtype(m))
        t_values = np.empty(nnz, dtype=payload.dtype)
        chunks = _sparse.sort_chunks(nnz, n, effective_n_threads(None))
        _sparse.coo_compress(cols, rows, payload, t_indptr, t_rows, t_values, chunks,
                             _sparse.split_bits(n, nnz))
    # Pass 2: stable sort by row -> CSR with sorted columns; repeated (row, col)
    # pairs are adjacent and in input order.
    indptr, indices, vals = _transpose(t_indptr, t_rows, t_values, m, n)
    del t_indptr, t_rows, t_values
    pos = None
    if times is not None:
        pos = positions = vals
        vals = _take(values, pos)
    dup = _sparse.first_duplicate(indptr, indices)
    if dup is not None:
        if duplicates == "error":
            raise _DuplicateEntry(dup)
        if times is not None:
            k = _sparse.merge_duplicates(indptr.copy(), indices.copy(), positions, False)
            pos = positions[:k]
        nnz = _sparse.merge_duplicates(indptr, indices, vals, duplicates == "mean")
        # Shrink in place (realloc) rather than copy: these arrays have no views.
        indices.resize(nnz, refcheck=False)
        vals.resize(nnz, refcheck=False)
    # Pass 3: CSR -> CSC with sorted rows.
    csc = _transpose(indptr, indices, vals, n, m)
    return (indptr, indices, vals), csc, None if times is None else _take(times, pos)


def _from_sorted_csc(indptr, rows, values, shape, times, owned):
    """A COO input sorted by (column, row), no pair repeated: it is the CSC;
    the CSR is one transpose. The caller's arrays are copied."""
    m, n = shape
    rows = np.array(rows, dtype=_index_dtype(m), copy=None if owned else True)
    values = np.array(values, copy=True)
    if times is None:
        return _transpose(indptr, rows, values, m, n), (indptr, rows, values), None
    # the sort carries the input positions, as in _build_from_coo
    csr_indptr, csr_indices, pos = _transpose(indptr, rows, _positions(len(values)), m, n)
    return (csr_indptr, csr_indices, _take(values, pos)), (indptr, rows, values), _take(times, pos)


def _checked_csr(indptr, indices, values, shape, dtype, *, copy):
    """Validate a raw CSR structure; raise ``_Unsorted`` for unsorted/duplicate
    indices within a row (from_sparse falls back to the COO path on it)."""
    m, n = shape
    indptr = _as_index_array(indptr, "indptr")
    indices = _as_index_array(indices, "indices")
    values = _as_1d(values, "values")
    if len(indptr) != m + 1:
        raise ValueError(
            f"indptr must have shape[0] + 1 = {m + 1} entries, got {len(indptr)}"
        )
    if len(values) != len(indices):
        raise ValueError(
            f"indices and values must have the same length, got {len(indices)} and {len(values)}"
        )
    if indptr.dtype.kind == "u":  # unsigned differences wrap: check in int64
        if indptr.size and indptr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"indptr contains {int(indptr.max())}, beyond int64")
        indptr = indptr.astype(np.int64)
    if indptr[0] != 0:
        raise ValueError(f"indptr must start at 0, got {int(indptr[0])}")
    if indptr[-1] != len(indices):
        raise ValueError(
            f"indptr must end at nnz = {len(indices)} (the length of indices), "
            f"got {int(indptr[-1])}"
        )
    step = np.diff(indptr)
    if (step < 0).any():
        i = int(np.flatnonzero(step < 0)[0])
        raise ValueError(
            f"indptr must be non-decreasing, but indptr[{i + 1}] = {int(indptr[i + 1])} "
            f"< indptr[{i}] = {int(indptr[i])}"
        )
    del step
    dt = _values_dtype(values, dtype)
    indptr = np.array(indptr, dtype=np.int64, copy=True if copy else None, order="C")
    if indices.dtype not in (np.int32, np.int64):
        indices = _check_range(indices, "indices", n, "shape[1]")
    indices = np.ascontiguousarray(indices)
    bad = _sparse.check_compressed(indptr, indices, n)
    if bad is not None:
        code, i, p = bad
        if code == 0:
            v = int(indices[p])
            if v < 0:
                raise ValueError(f"indices contains index {v} (row {i}); indices must be >= 0")
            raise ValueError(f"indices contains index {v} (row {i}) but shape[1] is {n}")
        raise _Unsorted(
            f"indices must be strictly increasing within each row, but row {i} has "
            f"column {int(indices[p])} after column {int(indices[p - 1])} (sorted rows "
            "without duplicates are required; Ratings(rows, cols, values) sorts and "
            "resolves duplicates)"
        )
    indices = np.array(indices, dtype=_index_dtype(n), copy=True if copy else None)
    values = np.array(values, copy=True) if copy and values.dtype == dt else values
    return indptr, indices, _as_values(values, dt)


_PRIMITIVE = ("bool", "bytes", "float", "int", "str")


def _label_kind(t):
    """The kind of label a Python type is. Two primitive kinds must not meet in
    one label array: numpy would coerce ``"1"`` and ``1`` (or ``b"a"`` and
    ``"a"``) to one label, and Python equates ``True``, ``1`` and ``1.0``."""
    if issubclass(t, (bool, np.bool_)):
        return "bool"
    if issubclass(t, (str, np.str_)):
        return "str"
    if issubclass(t, (bytes, np.bytes_)):
        return "bytes"
    if issubclass(t, numbers.Integral):
        return "int"
    if issubclass(t, numbers.Real):
        return "float"
    if t.__name__ == "NaTType" or issubclass(t, (np.datetime64, np.timedelta64)):
        return "time"
    if getattr(t, "__hash__", None) is None:
        return "unhashable"
    return "object"  # tuples, None, ...: compared by ==, never coerced


def _first(seq, kind):
    return next((k, x) for k, x in enumerate(seq) if _label_kind(type(x)) == kind)


def _nan_error(name, k, count, what="NaN"):
    return ValueError(f"{name}[{k}] is {what} ({count} such labels): it is never equal to "
                      "itself, so its row could not be looked up; drop those observations "
                      "or fill in their labels")


def _check_label_kinds(seq, name):
    """Hashable labels, at most one primitive kind, no NaN/NaT, in ``seq`` (a
    list or an object array)."""
    kinds = {_label_kind(t) for t in set(map(type, seq))}
    if "unhashable" in kinds:
        k, x = _first(seq, "unhashable")
        raise TypeError(f"{name} must hold hashable labels (str, int, tuples...): "
                        f"{name}[{k}] is a {type(x).__name__}, {x!r}")
    mixed = sorted(kinds & set(_PRIMITIVE))
    if len(mixed) > 1:
        (i, x), (j, y) = _first(seq, mixed[0]), _first(seq, mixed[1])
        raise TypeError(
            f"{name} mixes {mixed[0]} and {mixed[1]} labels ({name}[{i}] = {x!r}, "
            f"{name}[{j}] = {y!r}), which would be merged or confused; convert them to "
            "one type")
    if kinds & {"float", "time"}:
        bad = [k for k, x in enumerate(seq) if _label_kind(type(x)) in ("float", "time")
               and not x == x]
        if bad:
            raise _nan_error(name, bad[0], len(bad), repr(seq[bad[0]]))


def _label_array(labels, name):
    """The one label gate: a 1-D array of labels of one kind, none missing."""
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of labels, got the single "
                        f"{type(labels).__name__} {labels!r}")
    if isinstance(labels, np.ndarray) or (hasattr(labels, "__array__")
                                          and not isinstance(labels, (list, tuple))):
        arr = _as_1d(labels, name)
        if arr.dtype.kind == "O":
            _check_label_kinds(arr, name)
        elif arr.dtype.kind in "fc" and np.isnan(arr).any():
            bad = np.flatnonzero(np.isnan(arr))
            raise _nan_error(name, int(bad[0]), bad.size)
        elif arr.dtype.kind in "mM" and np.isnat(arr).any():
            bad = np.flatnonzero(np.isnat(arr))
            raise _nan_error(name, int(bad[0]), bad.size, "NaT")
        return arr
    seq = list(labels)
    _check_label_kinds(seq, name)
    if seq and _label_kind(type(seq[0])) in ("str", "bytes", "int", "float", "bool"):
        arr = np.asarray(seq)  # one kind (checked above): numpy coerces nothing
        if arr.ndim == 1:
            return arr
    arr = np.empty(len(seq), dtype=object)
    for k, x in enumerate(seq):
        arr[k] = x
    return arr


def _dense_table(arr):
    """Integer labels spanning a range at most 4x their count (as the ids in
    rating files): (lo, table, sorted unique labels) with ``table[v - lo]``
    the code of label v, found in O(n + range) instead of a sort; else None."""
    if arr.dtype.kind not in "iu" or arr.size == 0:
        return None
    lo, hi = int(arr.min()), int(arr.max())
    if hi - lo >= 4 * arr.size or hi > np.iinfo(np.int64).max:
        return None
    present = np.zeros(hi - lo + 1, dtype=np.uint8)
    _sparse.mark_labels(_int_keys(arr), lo, present, effective_n_threads(None))
    uniq = np.flatnonzero(present)
    uniq += lo
    table = np.cumsum(present, dtype=_index_dtype(len(uniq)))
    table -= 1
    return lo, table, uniq.astype(arr.dtype)


def _int_keys(arr):
    keys = arr if arr.dtype in (np.int32, np.int64) else arr.astype(np.int64)
    return np.ascontiguousarray(keys)


def _dense_codes(arr):
    """(codes, sorted unique labels), the result of np.unique, by
    :func:`_dense_table`; None where that does not apply."""
    dense = _dense_table(arr)
    if dense is None:
        return None
    lo, table, uniq = dense
    codes = np.empty(arr.size, dtype=table.dtype)
    _sparse.lookup_codes(_int_keys(arr), lo, table, codes, effective_n_threads(None))
    return codes, uniq


def _from_grouped(ids, values, times, dtype, days=False):
    """``from_labels`` for integer ids ``ids = [users, items]`` with the items
    grouped (non-decreasing, as in a Netflix file) and the users in a dense
    range: the CSC by one sort inside each column, mapping the user ids to codes
    on the way, then the CSR by one transpose. Returns (shape, csr, csc, times,
    row_labels, col_labels), having emptied ``ids`` after the sort; or None, ids
    untouched, when this does not apply or a (user, item) pair repeats (the
    general path then decides, with its messages). ``days``: int32 ``times``,
    days since 1970, returned as datetime64[D]."""
    users, items = ids
    if not (isinstance(users, np.ndarray) and isinstance(items, np.ndarray)
            and users.ndim == items.ndim == 1 and users.dtype in (np.int32, np.int64)
            and items.dtype in (np.int32, np.int64) and 0 < len(users) == len(items)
            and np.ndim(values) == 1 and len(values) == len(users)):
        return None
    users, items = np.ascontiguousarray(users), np.ascontiguousarray(items)
    dense = _dense_table(users) if _sparse.first_descent(items) < 0 else None
    if dense is None:
        return None
    lo, table, row_labels = dense
    starts = np.flatnonzero(items[1:] != items[:-1])
    starts += 1
    col_labels = np.concatenate([items[:1], items[starts]])
    indptr = np.concatenate([[0], starts, [len(items)]]).astype(np.int64)
    del starts
    shape = (len(row_labels), len(col_labels))
    values = _as_values(_as_1d(values, "values"), _values_dtype(np.asarray(values), dtype))
    if times is not None:
        times = _check_times(times, len(values))
    payload = values if times is None else _positions(len(values))
    rows = np.empty(len(values), dtype=table.dtype)
    sorted_payload = np.empty_like(payload)
    if _sparse.sort_grouped(indptr, users, lo, table, payload, rows, sorted_payload,
                            effective_n_threads(None)) >= 0:
        return None
    # Neither the ids nor the positions 0..nnz-1 (the payload with times) are read
    # again: with the caller's references gone (ids emptied), 8-12 bytes a rating
    # less at the peak.
    ids.clear()
    del users, items, payload
    m, n = shape
    if times is None:
        csc = (indptr, rows, sorted_payload)
        return shape, _transpose(*csc, m, n), csc, None, row_labels, col_labels
    csr_indptr, csr_indices, pos = _transpose(indptr, rows, sorted_payload, m, n)
    csc = (indptr, rows, _take(values, sorted_payload))
    del sorted_payload
    csr = (csr_indptr, csr_indices, _take(values, pos))
    if days and times.dtype == np.int32:
        out = np.empty(len(pos), np.int64)
        _sparse.take_wide(times, pos, out, effective_n_threads(None))
        return shape, csr, csc, out.view("datetime64[D]"), row_labels, col_labels
    if days:
        times = times.astype(np.int64).view("datetime64[D]")
    return shape, csr, csc, _take(times, pos), row_labels, col_labels


def _encode(labels, name):
    """Labels -> (codes, unique labels): sorted unique labels when they sort,
    else first-seen order."""
    arr = _label_array(labels, name)
    dense = _dense_codes(arr)
    if dense is not None:
        return dense
    try:
        uniq, codes = np.unique(arr, return_inverse=True)
    except TypeError:
        mapping = {}
        try:
            codes = np.fromiter(
                (mapping.setdefault(x, len(mapping)) for x in arr), dtype=np.int64, count=len(arr)
            )
        except TypeError as exc:
            raise TypeError(f"{name} must hold hashable labels: {exc}") from None
        uniq = np.empty(len(mapping), dtype=object)
        for k, x in enumerate(mapping):
            uniq[k] = x
    return codes, uniq


_format_labels = format_labels  # the name _dask_tasks imports


def _check_times(times, n):
    """A 1-D array of ``n`` timestamps (integers, floats or datetime64), read-only."""
    times = _as_1d(times, "times")
    if times.dtype.kind not in "iufM":
        raise TypeError(f"times must hold numbers or datetime64 values, got dtype {times.dtype}")
    if len(times) != n:
        raise ValueError(f"times must have one entry per rating ({n}), got {len(times)}")
    if times.dtype.kind == "f" and not np.isfinite(times).all():
        pos = int(np.flatnonzero(~np.isfinite(times))[0])
        raise ValueError(f"times contains {times[pos]} at position {pos}; times must be finite")
    if times.dtype.kind == "M" and np.isnat(times).any():
        pos = int(np.flatnonzero(np.isnat(times))[0])
        raise ValueError(f"times contains NaT at position {pos}")
    return times


def _find_column(columns, role):
    """The first column named like ``role`` (see lorank.data._columns), or None."""
    from ._columns import matches

    names = list(columns)
    hits = matches(names, role)
    return names[hits[0]] if hits else None


def _is_dataframe(X):
    module = type(X).__module__.split(".")[0]
    return module in ("pandas", "polars", "dask") and hasattr(X, "columns")


# ---------------------------------------------------------------- Ratings


class Ratings:
    """Observed entries of an m x n matrix, validated once, with CSR and CSC views.

    Parameters
    ----------
    rows, cols : array-like of int, shape (nnz,)
        Row and column index of every observation.
    values : array-like of real, shape (nnz,)
        Observed values; must be finite. float32 stays float32, other real
        types become float64.
    shape : (int, int), default=None
        Matrix shape; ``None`` means ``(max(rows) + 1, max(cols) + 1)``.
        Required when there are no observations.
    dtype : {None, np.float32, np.float64}, default=None
        Value dtype; ``None`` infers it from ``values``.
    duplicates : {"error", "mean", "last"}, default="error"
        What to do with a repeated (row, col) pair: raise, average the values,
        or keep the last one in input order.

    Attributes
    ----------
    shape : tuple of int
    nnz : int
    dtype : numpy.dtype
    density : float
        ``nnz / (m * n)``.
    row_counts, col_counts : ndarray of int64
        Observations per row / column.
    row_labels, col_labels : ndarray or None
        The labels given to :meth:`from_labels`, index ``i`` naming row ``i``.
    csr, csc : SparseView
        (indptr int64, indices int32, values) with sorted indices within each
        row (CSR) or column (CSC). Read-only, built once at construction.

    Notes
    -----
    Construction is three stable counting sorts in compiled code (by column,
    by row, then CSR -> CSC), two when the input is grouped by column (as a
    Netflix file) and one when it is sorted by (column, row); the object
    holds only the CSR and CSC arrays.
    A ``Ratings`` is immutable: its arrays are read-only, and methods return
    new objects that share arrays where they can.

    Examples
    --------
    >>> import lorank
    >>> R = lorank.Ratings([0, 2, 1], [1, 0, 1], [5.0, 3.0, 4.0])
    >>> R
    Ratings(shape=(3, 2), nnz=3, dtype=float64, density=0.5)
    >>> R.csr.indices
    array([1, 1, 0], dtype=int32)
    >>> R.csc.indices
    array([2, 0, 1], dtype=int32)
    """

    def __init__(self, rows, cols, values, shape=None, *, times=None, dtype=None,
                 duplicates="error"):
        self._build(rows, cols, values, shape, times, dtype, duplicates, owned=False)

    def _build(self, rows, cols, values, shape, times, dtype, duplicates, owned):
        """``__init__``; ``owned``: ``rows`` is the caller's temporary, free to keep."""
        _check_duplicates(duplicates)
        rows = _as_index_array(rows, "rows")
        cols = _as_index_array(cols, "cols")
        values = _as_1d(values, "values")
        if not len(rows) == len(cols) == len(values):
            raise ValueError(
                "rows, cols and values must have the same length, got "
                f"{len(rows)}, {len(cols)} and {len(values)}"
            )
        dt = _values_dtype(values, dtype)
        if shape is None:
            if len(rows) == 0:
                raise ValueError("no observations: pass shape= to build an empty Ratings")
            for a, name in ((rows, "rows"), (cols, "cols")):
                if a.min() < 0:
                    raise ValueError(f"{name} contains index {int(a.min())}; indices must be >= 0")
            shape = (int(rows.max()) + 1, int(cols.max()) + 1)
        shape = _check_shape(shape)
        rows = _check_range(rows, "rows", shape[0], "shape[0]")
        cols = _check_range(cols, "cols", shape[1], "shape[1]")
        values = _as_values(values, dt)
        if times is not None:
            times = _check_times(times, len(values))
        csr, csc, times = _build_from_coo(rows, cols, values, shape, duplicates, times, owned)
        return self._set(shape, csr, csc, times=times)

    # ------------------------------------------------------------ constructors

    def _set(self, shape, csr, csc, row_labels=None, col_labels=None, times=None):
        self.shape = shape
        self.csr = csr if isinstance(csr, SparseView) else SparseView(*map(_frozen, csr))
        self.csc = csc if isinstance(csc, SparseView) else SparseView(*map(_frozen, csc))
        self.row_labels = row_labels
        self.col_labels = col_labels
        self.times = None if times is None else _frozen(times)
        self._index = {}
        return self

    @classmethod
    def _from_parts(cls, shape, csr, csc, row_labels=None, col_labels=None, times=None):
        return object.__new__(cls)._set(shape, csr, csc, row_labels, col_labels, times)

    @classmethod
    def _from_sorted_csr(cls, shape, indptr, indices, values, row_labels=None, col_labels=None,
                         times=None):
        csc = _transpose(indptr, indices, values, shape[1], shape[0])
        return cls._from_parts(shape, (indptr, indices, values), csc, row_labels, col_labels,
                               times)

    def _with_labels(self, row_labels, col_labels):
        """The same observations named by other labels (arrays shared)."""
        for labels, size, what in ((row_labels, self.shape[0], "row"),
                                   (col_labels, self.shape[1], "column")):
            if labels is not None and len(labels) != size:
                raise ValueError(f"{len(labels)} {what} labels for {size} {what}s")
        return self._from_parts(self.shape, self.csr, self.csc,
                                None if row_labels is None else _frozen(np.asarray(row_labels)),
                                None if col_labels is None else _frozen(np.asarray(col_labels)),
                                self.times)

    @classmethod
    def from_csr(cls, indptr, indices, values, shape, *, times=None, dtype=None):
        """Build from a CSR structure without going through COO (loaders, generators).

        Checks that ``indptr`` starts at 0, is non-decreasing and ends at nnz,
        that every index is in range and strictly increasing within its row (so
        no duplicates), and that values are finite. Arrays that already have
        the stored dtypes (int64 indptr, int32 indices, float values) are kept
        without a copy: do not modify them afterwards.

        Parameters
        ----------
        indptr : array-like of int, shape (m + 1,)
        indices : array-like of int, shape (nnz,)
        values : array-like of real, shape (nnz,)
        shape : (int, int)
        times : array-like, shape (nnz,), default=None
            A timestamp per rating, in the CSR order of ``values``.
        dtype : {None, np.float32, np.float64}, default=None

        Returns
        -------
        Ratings

        Examples
        --------
        >>> import numpy as np, lorank
        >>> R = lorank.Ratings.from_csr([0, 2, 3], [0, 2, 1], np.float32([1, 2, 3]), (2, 3))
        >>> R.csc.indptr
        array([0, 1, 2, 3])
        """
        shape = _check_shape(shape)
        indptr, indices, values = _checked_csr(indptr, indices, values, shape, dtype, copy=False)
        if times is not None:
            times = _check_times(times, len(values))
        return cls._from_sorted_csr(shape, indptr, indices, values, times=times)

    @classmethod
    def from_sparse(cls, S, *, dtype=None, duplicates="error"):
        """Build from any scipy.sparse matrix or array.

        Every stored entry is an observation, explicit zeros included. The
        arrays are copied. A COO input's repeated entries follow ``duplicates``.

        Examples
        --------
        >>> import scipy.sparse as sp, lorank
        >>> S = sp.csr_matrix(([0.0, 2.0], ([0, 1], [1, 0])), shape=(2, 2))
        >>> lorank.Ratings.from_sparse(S).nnz
        2
        """
        import scipy.sparse as sp

        _check_duplicates(duplicates)
        if not sp.issparse(S):
            raise TypeError(f"S must be a scipy.sparse matrix or array, got {type(S).__name__}")
        if S.ndim != 2:
            raise ValueError(f"S must be 2-D, got shape {S.shape}")
        shape = _check_shape(S.shape)
        if S.format in ("csr", "csc"):
            # Canonical compressed input: validate it in place of three sorts.
            T = S if S.format == "csr" else S.T
            tshape = shape if S.format == "csr" else shape[::-1]
            try:
                parts = _checked_csr(T.indptr, T.indices, T.data, tshape, dtype, copy=True)
            except _Unsorted:
                pass
            else:
                R = cls._from_sorted_csr(tshape, *parts)
                return R if S.format == "csr" else R.T
        C = S.tocoo()
        return cls(C.row, C.col, C.data, shape, dtype=dtype, duplicates=duplicates)

    @classmethod
    def from_dense(cls, X, *, dtype=None):
        """Build from a dense 2-D array in which NaN marks a missing entry (so
        does a masked entry of a ``numpy.ma.MaskedArray``).

        Examples
        --------
        >>> import numpy as np, lorank
        >>> lorank.Ratings.from_dense([[1.0, np.nan], [np.nan, 0.0]]).nnz
        2
        """
        if hasattr(X, "tocsr"):
            raise TypeError(f"X must be a dense array, got {type(X).__name__}; use from_sparse")
        masked = np.ma.getmask(X) if np.ma.isMaskedArray(X) else np.ma.nomask
        X = np.asarray(np.ma.getdata(X) if np.ma.isMaskedArray(X) else X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got an array with shape {X.shape}")
        shape = _check_shape(X.shape)
        dt = _values_dtype(X, dtype, "X")
        observed = ~np.isnan(X) if X.dtype.kind == "f" else np.ones(X.shape, dtype=bool)
        if masked is not np.ma.nomask:
            observed &= ~np.broadcast_to(masked, X.shape)  # a masked entry is missing
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(observed.sum(axis=1), out=indptr[1:])
        indices = np.nonzero(observed)[1].astype(_index_dtype(shape[1]))
        values = X[observed]
        try:
            values = _as_values(values, dt, "X")
        except ValueError:
            bad = tuple(int(i) for i in np.argwhere(np.isinf(X.astype(dt)) & observed)[0])
            raise ValueError(
                f"X contains {X[bad]} at {bad}; values must be finite (NaN marks a missing entry)"
            ) from None
        return cls._from_sorted_csr(shape, indptr, indices, values)

    @classmethod
    def from_labels(cls, users, items, values, *, times=None, dtype=None, duplicates="error"):
        """Build from labelled ids: any hashable user and item labels.

        Labels are mapped to 0..m-1 and 0..n-1 in sorted order of the unique
        labels when they sort, else in first-seen order, and kept as
        ``row_labels`` / ``col_labels`` (see :meth:`row_index`). ``times``
        (one timestamp per rating, in input order) is kept as ``times``.

        Examples
        --------
        >>> import lorank
        >>> R = lorank.Ratings.from_labels(["bob", "amy", "bob"], [7, 7, 3], [4, 5, 2])
        >>> R.shape, R.row_labels.tolist(), R.col_labels.tolist()
        ((2, 2), ['amy', 'bob'], [3, 7])
        >>> int(R.row_index("bob"))
        1
        """
        return cls._from_ids([users, items], values, times, dtype, duplicates)

    @classmethod
    def _from_ids(cls, ids, values, times, dtype, duplicates, days=False):
        """``from_labels(*ids, values, ...)`` for ``ids = [users, items]``, a list
        that the grouped fast path empties once the ids are sorted in: a loader
        that holds its parsed id columns only there frees them before the
        transpose (8 bytes a rating less at the peak for int32 ids). ``days``:
        ``times`` are int32 days since 1970, kept as datetime64[D] (widened by
        the fast path's last gather: 4 bytes a rating less until then)."""
        _check_duplicates(duplicates)
        fast = _from_grouped(ids, values, times, dtype, days)
        if fast is not None:
            shape, csr, csc, times, row_labels, col_labels = fast
            return object.__new__(cls)._set(shape, csr, csc, _frozen(row_labels),
                                            _frozen(col_labels), times)
        if days and times is not None:
            times = np.asarray(times, np.int64).view("datetime64[D]")
        users, items = ids
        rows, row_labels = _encode(users, "users")
        cols, col_labels = _encode(items, "items")
        values = _as_1d(values, "values")
        if not len(rows) == len(cols) == len(values):
            raise ValueError(
                "users, items and values must have the same length, got "
                f"{len(rows)}, {len(cols)} and {len(values)}"
            )
        if len(rows) == 0:
            raise ValueError("no observations: users, items and values are empty")
        shape = (len(row_labels), len(col_labels))
        try:
            R = object.__new__(cls)._build(rows, cols, values, shape, times, dtype, duplicates,
                                           owned=True)
        except _DuplicateEntry as exc:
            i, j = exc.pair
            pair = (row_labels[i].item() if hasattr(row_labels[i], "item") else row_labels[i],
                    col_labels[j].item() if hasattr(col_labels[j], "item") else col_labels[j])
            raise ValueError(
                f'duplicate entry {pair!r} (user, item); pass duplicates="mean" or "last"'
            ) from None
        R.row_labels = _frozen(row_labels)
        R.col_labels = _frozen(col_labels)
        return R

    @classmethod
    def from_pandas(cls, df, user=None, item=None, rating=None, time=None, *, dtype=None,
                    duplicates="error"):
        """Build from a DataFrame with one rating per row, by column names.

        Parameters
        ----------
        df : pandas.DataFrame
        user, item, rating : str, default=None
            Column names; ``None`` finds them among the usual names
            (``user``, ``userId``, ``user_id``; ``item``, ``itemId``,
            ``movieId``; ``rating``, ``score``, ...), case-insensitively.
        time : str or False, default=None
            A timestamp column, kept as :attr:`times`; ``None`` uses a
            ``timestamp``/``time``/``date`` column if there is one, ``False``
            none.
        dtype : {None, np.float32, np.float64}, default=None
        duplicates : {"error", "mean", "last"}, default="error"

        Returns
        -------
        Ratings
            Labelled by the user and item values (as :meth:`from_labels`).

        Examples
        --------
        >>> import pandas as pd, lorank
        >>> df = pd.DataFrame({"userId": ["ann", "bob", "ann"], "movieId": [10, 10, 20],
        ...                    "rating": [4.0, 3.0, 5.0], "timestamp": [3, 1, 2]})
        >>> R = lorank.Ratings.from_pandas(df)
        >>> R.row_labels.tolist(), R.col_labels.tolist(), R.times.tolist()
        (['ann', 'bob'], [10, 20], [3, 2, 1])
        """
        if not _is_dataframe(df) or not hasattr(df, "to_numpy"):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        if type(df).__module__.split(".")[0] == "dask":
            raise TypeError("df is a Dask DataFrame: call .compute() first, or fit "
                            "lorank.distributed.ALS on it")
        found = {}
        for role, given in (("user", user), ("item", item), ("rating", rating)):
            if given is None:
                given = _find_column(df.columns, role)
                if given is None:
                    raise ValueError(
                        f"no {role} column among {list(df.columns)}: pass "
                        f"{role}=<column name> (or columns=(user, item, rating) to fit)"
                    )
            elif given not in df.columns:
                raise ValueError(f"{role}={given!r} is not a column of df "
                                 f"(columns: {list(df.columns)})")
            found[role] = given
        if time is None:
            time = _find_column(df.columns, "time")
        elif time is not False and time not in df.columns:
            raise ValueError(f"time={time!r} is not a column of df (columns: {list(df.columns)})")
        if len(set(found.values())) < 3:
            raise ValueError(f"user, item and rating must be three different columns, got "
                             f"{found}")
        values = df[found["rating"]].to_numpy()
        if values.dtype.kind == "O":
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"column {found['rating']!r} must hold numbers") from None
        times = None
        if time not in (None, False):
            times = df[time].to_numpy()
            if times.dtype.kind == "M" and times.dtype != "datetime64[ns]":
                times = times.astype("datetime64[ns]")
        return cls.from_labels(df[found["user"]].to_numpy(), df[found["item"]].to_numpy(),
                               values, times=times, dtype=dtype, duplicates=duplicates)

    # ------------------------------------------------------------ properties

    @property
    def nnz(self):
        return len(self.csr.values)

    @property
    def dtype(self):
        return self.csr.values.dtype

    @property
    def density(self):
        return self.nnz / (self.shape[0] * self.shape[1])

    @property
    def row_counts(self):
        return np.diff(self.csr.indptr)

    @property
    def col_counts(self):
        return np.diff(self.csc.indptr)

    @property
    def T(self):
        """The transposed ratings (CSR and CSC swapped, labels swapped, no copies)."""
        times = None
        if self.times is not None:  # the CSC order of the CSR positions
            order = _transpose(self.csr.indptr, self.csr.indices, _positions(self.nnz),
                               self.shape[1], self.shape[0])[2]
            times = _take(self.times, order)
        return self._from_parts(
            self.shape[::-1], self.csc, self.csr, self.col_labels, self.row_labels, times
        )

    def __len__(self):
        return self.nnz

    def __repr__(self):
        labels = ", labelled" if self.row_labels is not None else ""
        labels += ", with times" if self.times is not None else ""
        return (
            f"Ratings(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype}, "
            f"density={self.density:.4g}{labels})"
        )

    # ------------------------------------------------------------ conversions

    def coo(self):
        """(rows, cols, values) of every observation, in CSR order."""
        rows = np.repeat(
            np.arange(self.shape[0], dtype=self.csc.indices.dtype), self.row_counts
        )
        return rows, self.csr.indices, self.csr.values

    def to_tensor(self, time_bins, *, strategy="width"):
        """The user x item x time-bin tensor of ratings with times.

        Parameters
        ----------
        time_bins : int or array-like of times
            A number of bins, or the bin edges (strictly increasing; bin b holds
            times in ``[edges[b], edges[b + 1])``, the last bin its right edge too;
            every time must lie within the edges).
        strategy : {"width", "count"}, default="width"
            For a number of bins: equal-width bins over [min, max] of the times,
            or equal-count bins at the times' quantiles.

        Returns
        -------
        TensorRatings
            Shape ``(m, n, n_bins)``, the row and column labels kept, the edges in
            ``time_edges``. A bin left empty raises ``ValueError`` naming it.

        Examples
        --------
        >>> import lorank
        >>> R = lorank.Ratings([0, 1, 1], [1, 0, 1], [5.0, 3.0, 4.0], times=[10, 20, 40])
        >>> T = R.to_tensor(3)
        >>> T.shape, T.time_edges.tolist()
        ((2, 2, 3), [10.0, 20.0, 30.0, 40.0])
        >>> T.coo()[0][2]
        array([0, 1, 2], dtype=int32)
        """
        from .tensor_ratings import from_ratings

        return from_ratings(self, time_bins, strategy=strategy)

    def to_scipy(self, format="csr"):
        """A scipy.sparse ``csr_matrix`` or ``csc_matrix`` holding copies of the arrays."""
        import scipy.sparse as sp

        if format not in ("csr", "csc"):
            raise ValueError(f'format must be "csr" or "csc", got {format!r}')
        view = self.csr if format == "csr" else self.csc
        cls = sp.csr_matrix if format == "csr" else sp.csc_matrix
        S = cls((view.values, view.indices, view.indptr), shape=self.shape, copy=True)
        S.has_canonical_format = True
        return S

    def astype(self, dtype):
        """The same ratings with float32 or float64 values (index arrays shared)."""
        dt = np.dtype(as_float_dtype(dtype))
        if dt == self.dtype:
            return self
        csr_values = _as_values(self.csr.values, dt)
        csc_values = self.csc.values.astype(dt)
        return self._from_parts(
            self.shape,
            (self.csr.indptr, self.csr.indices, csr_values),
            (self.csc.indptr, self.csc.indices, csc_values),
            self.row_labels,
            self.col_labels,
            self.times,
        )

    def _scaled(self, factor):
        """The same ratings with values × factor (index arrays shared)."""
        if factor == 1:
            return self
        dt = self.dtype.type
        return self._from_parts(
            self.shape,
            (self.csr.indptr, self.csr.indices, self.csr.values * dt(factor)),
            (self.csc.indptr, self.csc.indices, self.csc.values * dt(factor)),
            self.row_labels,
            self.col_labels,
            self.times,
        )

    # ------------------------------------------------------------ labels

    def row_index(self, labels):
        """Row indices of row labels (an int for one label, an array for a list
        or array); unknown labels raise ``KeyError`` naming them."""
        return self.label_index(0).positions(labels)

    def col_index(self, labels):
        """Column indices of column labels; see :meth:`row_index`."""
        return self.label_index(1).positions(labels)

    def label_index(self, axis):
        """The :class:`~lorank.data._labels.LabelIndex` of rows (``axis=0``) or columns."""
        if axis not in self._index:
            labels = self.row_labels if axis == 0 else self.col_labels
            self._index[axis] = LabelIndex(labels, self.shape[axis],
                                           name="row label" if axis == 0 else "col label")
        return self._index[axis]

    # ------------------------------------------------------------ subsets and splits

    def take(self, idx):
        """The observations at positions ``idx`` of the CSR order (distinct
        positions, in any order, or a boolean mask of length nnz), as a new
        ``Ratings`` with the same shape and labels."""
        idx = _entry_positions(idx, self.nnz)
        indptr = np.searchsorted(idx, self.csr.indptr).astype(np.int64)
        return self._from_sorted_csr(
            self.shape,
            indptr,
            self.csr.indices[idx],
            self.csr.values[idx],
            self.row_labels,
            self.col_labels,
            None if self.times is None else self.times[idx],
        )

    def __getitem__(self, key):
        """``R[positions]``: observations by position, for scikit-learn's splitters.

        scikit-learn counts the samples of ``X`` by ``X.shape[0]``, which for a
        ``Ratings`` is the number of users, and indexes ``X[train]``: a plain
        index array here would be users, not ratings. So a ``Ratings`` takes
        only rating positions marked as such: unsigned integers (an
        :class:`ObservationIndex`), which is what ``lorank.model_selection``
        splitters yield (scikit-learn's yield signed ones). Use
        ``cv=lorank.model_selection.KFold(5)`` with ``cross_val_score`` /
        ``GridSearchCV``.
        """
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        if isinstance(key, np.ndarray) and key.dtype.kind == "u":
            if key.size and int(key.max()) >= self.nnz:
                raise ValueError(f"rating position {int(key.max())} out of range for "
                                 f"{self.nnz} ratings")
            return self.take(key.astype(np.int64))
        raise TypeError(
            "a Ratings is indexed by rating positions from lorank's splitters only: "
            f"scikit-learn counts its samples by shape[0] (its {self.shape[0]} users), so "
            "its own splitters would split users, not ratings. Pass "
            "cv=lorank.model_selection.KFold(5) (or another lorank.model_selection "
            "splitter), use R.take(positions), or fit the regression form "
            "(X = (user, item) pairs, y = ratings: lorank.model_selection.to_pairs(R))"
        )

    def _row_shuffle(self, rng):
        """Positions of every row's observations in random order, rows in CSR
        order, and each position's rank within its row in that order."""
        counts = self.row_counts
        rowid = np.repeat(np.arange(self.shape[0], dtype=np.int64), counts)
        keys = (rowid << 32) | rng.integers(0, 2**32, size=self.nnz, dtype=np.int64)
        del rowid
        order = np.argsort(keys, kind="stable")
        del keys
        rank = np.arange(self.nnz, dtype=np.int64) - np.repeat(self.csr.indptr[:-1], counts)
        return order, rank

    def split(self, test_size=0.2, random_state=None, by="random"):
        """Split the observations into (train, test) ``Ratings``.

        Parameters
        ----------
        test_size : float, default=0.2
            Fraction of observations in the test set, in (0, 1).
        random_state : None, int or numpy.random.Generator, default=None
        by : {"random", "row"}, default="random"
            ``"random"``: ``ceil(test_size * nnz)`` observations drawn uniformly.
            ``"row"``: per row, ``round(test_size * count)`` observations, but
            every row with at least two keeps at least one in train and one in
            test; a row with a single observation stays in train.

        Returns
        -------
        train, test : Ratings
            Same shape and labels; together they partition the observations.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> R = lorank.Ratings.from_dense(np.arange(20.0).reshape(4, 5))
        >>> train, test = R.split(0.25, random_state=0, by="row")
        >>> test.row_counts
        array([1, 1, 1, 1])
        """
        if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real):
            raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}")
        rng = np.random.default_rng(random_state)
        test = np.zeros(self.nnz, dtype=bool)
        if by == "random":
            n_test = int(np.ceil(test_size * self.nnz))
            if n_test >= self.nnz:
                raise ValueError(
                    f"test_size={test_size} of {self.nnz} observations leaves no training data"
                )
            test[rng.permutation(self.nnz)[:n_test]] = True
        elif by == "row":
            counts = self.row_counts
            n_test = np.floor(test_size * counts + 0.5).astype(np.int64)
            n_test = np.where(counts >= 2, np.clip(n_test, 1, np.maximum(counts - 1, 1)), 0)
            order, rank = self._row_shuffle(rng)
            test[order[rank < np.repeat(n_test, counts)]] = True
        else:
            raise ValueError(f'by must be "random" or "row", got {by!r}')
        return self.take(~test), self.take(test)

    def kfold(self, k=5, random_state=None, by="random"):
        """Iterate over ``k`` (train, test) splits whose test sets partition the
        observations.

        ``by="random"`` deals a random permutation into k folds of sizes
        differing by at most one. ``by="row"`` deals every row's observations in
        random order across the folds (starting at a random fold), so each fold
        holds about 1/k of every row and a row with at least two observations
        always keeps one in train.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> R = lorank.Ratings.from_dense(np.ones((4, 5)))
        >>> [test.nnz for train, test in R.kfold(3, random_state=0)]
        [7, 7, 6]
        """
        fold = self._folds(k, random_state, by)
        return ((self.take(fold != f), self.take(fold == f)) for f in range(int(k)))

    def _folds(self, k, random_state, by):
        """The fold (0..k-1) of every observation, in CSR order (see :meth:`kfold`)."""
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k must be an integer, got {k!r}")
        if not 2 <= k <= self.nnz:
            raise ValueError(f"k must be between 2 and nnz = {self.nnz}, got {k}")
        rng = np.random.default_rng(random_state)
        fold = np.empty(self.nnz, dtype=np.int64)
        if by == "random":
            fold[rng.permutation(self.nnz)] = np.arange(self.nnz) % k
        elif by == "row":
            order, rank = self._row_shuffle(rng)
            start = rng.integers(0, k, size=self.shape[0])
            fold[order] = (rank + np.repeat(start, self.row_counts)) % k
        else:
            raise ValueError(f'by must be "random" or "row", got {by!r}')
        return fold


class ObservationIndex(np.ndarray):
    """Positions of ratings (in a ``Ratings``' CSR order), as lorank's splitters
    yield them: unsigned integers, so that they survive scikit-learn's
    ``np.asarray`` and are told apart from its own (signed) sample indices.
    ``R[ObservationIndex(positions)]`` is ``R.take(positions)``."""

    def __new__(cls, positions):
        positions = np.asarray(positions)
        if positions.size and positions.min() < 0:
            raise ValueError("rating positions must be >= 0")
        return positions.astype(np.uint64).view(cls)


def as_ratings(X, *, dtype=None, name="X", columns=None):
    """Accept the input forms estimators take and return a ``Ratings``.

    A ``Ratings`` passes through (converted to ``dtype`` when given); a
    scipy.sparse matrix or array goes through :meth:`Ratings.from_sparse` (every
    stored entry is an observation); a pandas DataFrame through
    :meth:`Ratings.from_pandas` (``columns=(user, item, rating[, time])`` or
    named columns; never as a dense matrix); anything else array-like through
    :meth:`Ratings.from_dense` (NaN = missing).
    """
    if _is_dataframe(X):
        return _from_frame(X, dtype, name, columns)
    if columns is not None:
        raise TypeError(f"columns= names the columns of a DataFrame, but {name} is a "
                        f"{type(X).__name__}")
    if isinstance(X, Ratings):
        return X if dtype is None or X.dtype == dtype else X.astype(dtype)
    if scipy.sparse.issparse(X):
        return Ratings.from_sparse(X, dtype=dtype)
    if isinstance(X, (np.ndarray, list, tuple)) or hasattr(X, "__array__"):
        return Ratings.from_dense(X, dtype=dtype)
    raise TypeError(
        f"{name} must be a lorank.Ratings, a scipy.sparse matrix, or a dense array "
        f"with NaN for missing entries, got {type(X).__name__}"
    )


def _from_frame(df, dtype, name, columns):
    """A DataFrame of (user, item, rating) rows -> Ratings, by column names."""
    if columns is not None:
        if (isinstance(columns, str) or not hasattr(columns, "__len__")
                or len(columns) not in (3, 4)):
            raise TypeError(f"columns must be (user, item, rating) or (user, item, rating, "
                            f"time) column names, got {columns!r}")
        return Ratings.from_pandas(df, *columns, **({} if len(columns) == 4 else
                                                     {"time": False}), dtype=dtype)
    roles = [_find_column(df.columns, r) for r in ("user", "item", "rating")]
    if None in roles:
        raise TypeError(
            f"{name} is a DataFrame with columns {list(df.columns)[:6]}: lorank reads a "
            "DataFrame as one rating per row, never as a dense matrix, and needs to know "
            "which columns hold the user, item and rating. Pass columns=(user, item, "
            "rating), or build the ratings with lorank.Ratings.from_pandas(df, user=..., "
            "item=..., rating=...) (a users x items table: "
            "lorank.Ratings.from_dense(df.to_numpy()))"
        )
    return Ratings.from_pandas(df, dtype=dtype)
