"""``TensorRatings``: the one gate for observed entries of an N-way tensor.

The N-way counterpart of :class:`lorank.Ratings`: validated once (the same
helpers and messages), kept in one canonical order (lexicographic in the mode
indices), with a compressed view per mode built on demand by the same compiled
stable counting sorts that build ``Ratings``' CSR and CSC views.
"""

import numbers
from typing import NamedTuple

import numpy as np

from .._kernels import _sparse
from ._labels import LabelIndex
from .._threads import effective_n_threads
from .ratings import (
    _entry_positions,
    _DuplicateEntry,
    _as_1d,
    _as_index_array,
    _as_values,
    _check_duplicates,
    _check_range,
    _encode,
    _frozen,
    _label_array,
    _values_dtype,
)

__all__ = ["ModeView", "TensorRatings"]

_INT32_MAX = np.iinfo(np.int32).max


class ModeView(NamedTuple):
    """The observations grouped by one mode's index (the CSR idea for mode ``mode``).

    ``indptr`` (int64, ``shape[mode] + 1`` entries) delimits slice ``j``'s
    observations ``indptr[j]:indptr[j + 1]``; ``indices[k]`` (int32) holds the
    index along mode ``modes[k]`` of each, the other modes in increasing order;
    ``values`` in the same order. Within a slice, observations are in the
    lexicographic order of the other modes' indices, so ``indices[0]`` is
    non-decreasing there.
    """

    mode: int
    indptr: np.ndarray
    indices: tuple
    values: np.ndarray
    modes: tuple


def _check_tensor_shape(shape, n_modes):
    if not isinstance(shape, (tuple, list)) or len(shape) != n_modes:
        raise TypeError(
            f"shape must be a tuple of {n_modes} positive integers (one per mode), got {shape!r}"
        )
    for k, s in enumerate(shape):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(f"shape[{k}] must be an integer, got {s!r}")
        if s <= 0:
            raise ValueError(f"shape[{k}] must be positive, got {s}")
        if s > _INT32_MAX:
            raise ValueError(
                f"shape[{k}] = {s} exceeds 2**31 - 1, the limit of the int32 mode indices"
            )
    return tuple(int(s) for s in shape)


def _position_dtype(nnz):
    return np.int32 if nnz <= _INT32_MAX else np.int64


def _counting_sort(key, n_buckets, values, positions=None):
    """Stable counting sort by ``key`` (the compiled one ``Ratings`` uses):
    (indptr, positions in sorted order, values in sorted order)."""
    nnz = len(key)
    if positions is None:
        positions = np.arange(nnz, dtype=_position_dtype(nnz))
    indptr = np.empty(n_buckets + 1, dtype=np.int64)
    out_pos = np.empty(nnz, dtype=positions.dtype)
    out_values = np.empty(nnz, dtype=values.dtype)
    chunks = _sparse.sort_chunks(nnz, n_buckets, effective_n_threads(None))
    _sparse.coo_compress(key, positions, values, indptr, out_pos, out_values, chunks,
                         _sparse.split_bits(n_buckets, nnz))
    return indptr, out_pos, out_values


def _canonical(index, values, shape):
    """Sort COO entries lexicographically by (i_0, ..., i_{N-1}): N stable counting
    sorts, last mode first (LSD radix). Returns (indptr_0, [i_1..], values)."""
    perm = None
    for m in range(len(shape) - 1, -1, -1):
        key = index[m] if perm is None else np.ascontiguousarray(index[m][perm])
        indptr, perm, values = _counting_sort(key, shape[m], values, perm)
        del key
    return indptr, [np.ascontiguousarray(index[m][perm], np.int32)
                    for m in range(1, len(shape))], values


def _mode0(indptr, shape0):
    return np.repeat(np.arange(shape0, dtype=np.int32), np.diff(indptr))


class TensorRatings:
    """Observed entries of an N-way tensor (N >= 2), validated once, with a
    compressed view per mode.

    Parameters
    ----------
    indices : sequence of N array-like of int, each of shape (nnz,)
        ``indices[m][t]`` is the index along mode ``m`` of observation ``t``.
    values : array-like of real, shape (nnz,)
        Observed values; must be finite. float32 stays float32, other real
        types become float64.
    shape : tuple of N int, default=None
        Tensor shape; ``None`` means ``max(indices[m]) + 1`` per mode.
        Required when there are no observations.
    labels : sequence of N (array-like or None), default=None
        Labels of each mode's positions (``labels[m][j]`` names index ``j`` of
        mode ``m``), distinct within a mode; ``None`` for a mode without labels,
        whose labels are then its positions. See :meth:`from_labels`.
    duplicates : {"error", "mean", "last"}, default="error"
        What to do with a repeated index tuple: raise, average the values, or
        keep the last one in input order.
    dtype : {None, np.float32, np.float64}, default=None
        Value dtype; ``None`` infers it from ``values``.

    Attributes
    ----------
    shape : tuple of int
    ndim : int
        Number of modes N.
    nnz : int
    dtype : numpy.dtype
    density : float
        ``nnz / prod(shape)``.
    labels : tuple of (ndarray or None)
        Per mode.
    time_edges : ndarray or None
        Bin edges of the last mode when the tensor came from
        :meth:`lorank.Ratings.to_tensor` (bin ``b`` holds times in
        ``[time_edges[b], time_edges[b + 1])``, the last bin its right edge too).

    Notes
    -----
    Construction sorts the observations into lexicographic order of their
    index tuples by N stable counting sorts in compiled code (the ones that
    build ``Ratings``' views), which also puts repeated tuples side by side.
    :meth:`view` builds each mode's compressed structure once, by one more
    counting sort, and caches it. A ``TensorRatings`` is immutable.

    Examples
    --------
    >>> import lorank
    >>> T = lorank.TensorRatings(([0, 1, 1], [2, 0, 2], [0, 1, 3]), [5.0, 3.0, 4.0])
    >>> T
    TensorRatings(shape=(2, 3, 4), nnz=3, dtype=float64, density=0.125)
    >>> V = T.view(2)
    >>> V.indptr, V.modes
    (array([0, 1, 2, 2, 3]), (0, 1))
    >>> V.indices[1], V.values
    (array([2, 0, 2], dtype=int32), array([5., 3., 4.]))
    """

    def __init__(self, indices, values, shape=None, *, labels=None, duplicates="error",
                 dtype=None):
        _check_duplicates(duplicates)
        if isinstance(indices, np.ndarray) and indices.ndim == 1 and indices.dtype != object:
            raise ValueError(
                "indices must be a sequence of N >= 2 index arrays, one per mode; got a "
                f"single 1-D array of length {len(indices)}"
            )
        try:
            index = list(indices)
        except TypeError:
            raise TypeError(
                "indices must be a sequence of N >= 2 index arrays, one per mode, got "
                f"{type(indices).__name__}"
            ) from None
        if len(index) < 2:
            raise ValueError(
                f"a tensor needs at least 2 modes: indices holds {len(index)} index "
                "array(s); pass one index array per mode"
            )
        index = [_as_index_array(a, f"indices[{m}]") for m, a in enumerate(index)]
        values = _as_1d(values, "values")
        lengths = [len(a) for a in index]
        if any(n != len(values) for n in lengths):
            m = next(k for k, n in enumerate(lengths) if n != len(values))
            raise ValueError(
                f"every index array must have one entry per value: values has "
                f"{len(values)}, indices[{m}] has {lengths[m]} (lengths "
                f"{', '.join(map(str, lengths))})"
            )
        dt = _values_dtype(values, dtype)
        if shape is None:
            if len(values) == 0:
                raise ValueError("no observations: pass shape= to build an empty TensorRatings")
            for m, a in enumerate(index):
                if a.min() < 0:
                    raise ValueError(
                        f"indices[{m}] contains index {int(a.min())}; indices must be >= 0"
                    )
            shape = tuple(int(a.max()) + 1 for a in index)
        shape = _check_tensor_shape(shape, len(index))
        index = [_check_range(a, f"indices[{m}]", shape[m], f"shape[{m}]")
                 for m, a in enumerate(index)]
        values = _as_values(values, dt)
        labels = _check_labels(labels, shape)
        indptr, rest, values = _canonical(index, values, shape)
        del index
        indptr, rest, values = _resolve_duplicates(indptr, rest, values, shape, duplicates,
                                                   labels)
        self._set(shape, indptr, rest, values, labels)

    # ------------------------------------------------------------ constructors

    def _set(self, shape, indptr, rest, values, labels=None, time_edges=None):
        self.shape = tuple(shape)
        self._indptr = _frozen(indptr)
        self._rest = tuple(_frozen(a) for a in rest)
        self._values = _frozen(values)
        self.labels = tuple(labels) if labels is not None else (None,) * len(shape)
        self.time_edges = None if time_edges is None else _frozen(np.asarray(time_edges))
        self._views = {}
        self._lookup = {}
        return self

    @classmethod
    def _from_canonical(cls, shape, indptr, rest, values, labels=None, time_edges=None):
        """Arrays already in canonical order without repeats (``Ratings.to_tensor``)."""
        return object.__new__(cls)._set(shape, indptr, rest, values, labels, time_edges)

    @classmethod
    def from_labels(cls, labels, values, *, duplicates="error", dtype=None):
        """Build from labelled ids: one sequence of hashable labels per mode.

        Each mode's labels are mapped to positions in sorted order of the unique
        labels when they sort, else in first-seen order (as
        :meth:`lorank.Ratings.from_labels` does), and kept in ``labels``.

        Examples
        --------
        >>> import lorank
        >>> T = lorank.TensorRatings.from_labels(
        ...     (["bob", "amy", "bob"], [7, 7, 3], ["2024", "2025", "2025"]), [4, 5, 2])
        >>> T.shape, T.labels[0].tolist(), T.labels[2].tolist()
        ((2, 2, 2), ['amy', 'bob'], ['2024', '2025'])
        >>> T.index(0, "bob")
        1
        """
        _check_duplicates(duplicates)
        try:
            per_mode = list(labels)
        except TypeError:
            raise TypeError(
                f"labels must be a sequence of N >= 2 label sequences, got {type(labels).__name__}"
            ) from None
        if len(per_mode) < 2:
            raise ValueError(
                f"a tensor needs at least 2 modes: labels holds {len(per_mode)} sequence(s)"
            )
        codes, uniques = zip(*(_encode(a, f"labels[{m}]") for m, a in enumerate(per_mode)))
        values = _as_1d(values, "values")
        if len(values) == 0:
            raise ValueError("no observations: labels and values are empty")
        shape = tuple(len(u) for u in uniques)
        return cls(codes, values, shape, labels=uniques, duplicates=duplicates, dtype=dtype)

    # ------------------------------------------------------------ properties

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def nnz(self):
        return len(self._values)

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def density(self):
        return self.nnz / float(np.prod(self.shape, dtype=np.float64))

    def __len__(self):
        return self.nnz

    def __repr__(self):
        labelled = ", labelled" if any(lab is not None for lab in self.labels) else ""
        return (
            f"TensorRatings(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype}, "
            f"density={self.density:.4g}{labelled})"
        )

    def counts(self, mode):
        """Observations per index of ``mode`` (int64, ``shape[mode]`` entries)."""
        mode = self._check_mode(mode)
        if mode == 0:
            return np.diff(self._indptr)
        return np.bincount(self._rest[mode - 1], minlength=self.shape[mode]).astype(np.int64)

    def _check_mode(self, mode):
        if isinstance(mode, (bool, np.bool_)) or not isinstance(mode, numbers.Integral):
            raise TypeError(f"mode must be an integer, got {mode!r}")
        if not -self.ndim <= mode < self.ndim:
            raise ValueError(f"mode {mode} does not exist: the tensor has {self.ndim} modes")
        return int(mode) % self.ndim

    # ------------------------------------------------------------ views

    def coo(self):
        """(indices, values) of every observation in canonical (lexicographic)
        order: ``indices`` a tuple of N int32 arrays."""
        return (_mode0(self._indptr, self.shape[0]),) + self._rest, self._values

    def to_ratings(self, modes=(0, 1), *, duplicates="mean"):
        """The observations over two modes as a :class:`lorank.Ratings` (labels kept),
        the other modes dropped: e.g. the user x item ratings of a user x item x
        time tensor, for a matrix model on the same data or the seen pattern of
        :meth:`lorank.CPALS.at`'s recommendations.

        Parameters
        ----------
        modes : (int, int), default=(0, 1)
            The row and column modes.
        duplicates : {"mean", "last", "error"}, default="mean"
            How entries that share those two indices (the same user and item in
            several time bins) combine, as in ``Ratings``; "last" is the latest
            in canonical order (the last time bin).

        Returns
        -------
        Ratings

        Examples
        --------
        >>> import lorank
        >>> T = lorank.TensorRatings(([0, 0, 1], [1, 1, 0], [0, 2, 2]), [1.0, 3.0, 5.0])
        >>> R = T.to_ratings()
        >>> R.shape, R.coo()[2].tolist()
        ((2, 2), [2.0, 5.0])
        """
        from .ratings import Ratings

        if not (isinstance(modes, (tuple, list)) and len(modes) == 2):
            raise TypeError(f"modes must be two mode numbers, got {modes!r}")
        a, b = (self._check_mode(m) for m in modes)
        if a == b:
            raise ValueError(f"modes must be two different modes, got {modes!r}")
        index, values = self.coo()
        R = Ratings(index[a], index[b], values, (self.shape[a], self.shape[b]),
                    duplicates=duplicates)
        return R._with_labels(self.labels[a], self.labels[b])

    def view(self, mode):
        """The compressed view of ``mode`` (a :class:`ModeView`), built once.

        Examples
        --------
        >>> import lorank
        >>> T = lorank.TensorRatings(([0, 0, 1], [1, 0, 1], [0, 2, 2]), [1.0, 2.0, 3.0])
        >>> T.view(1).indptr, T.view(1).indices
        (array([0, 1, 3]), (array([0, 0, 1], dtype=int32), array([2, 0, 2], dtype=int32)))
        """
        mode = self._check_mode(mode)
        if mode not in self._views:
            others = tuple(k for k in range(self.ndim) if k != mode)
            if mode == 0:
                V = ModeView(0, self._indptr, self._rest, self._values, others)
            else:
                indptr, perm, values = _counting_sort(
                    self._rest[mode - 1], self.shape[mode], self._values)
                canon = self.coo()[0]
                idx = tuple(_frozen(np.ascontiguousarray(canon[k][perm])) for k in others)
                del perm, canon
                V = ModeView(mode, _frozen(indptr), idx, _frozen(values), others)
            self._views[mode] = V
        return self._views[mode]

    def astype(self, dtype):
        """The same observations with float32 or float64 values (indices shared)."""
        from .._validation import as_float_dtype

        dt = np.dtype(as_float_dtype(dtype))
        if dt == self.dtype:
            return self
        return self._from_canonical(self.shape, self._indptr, self._rest,
                                    _as_values(self._values, dt), self.labels, self.time_edges)

    def _scaled(self, factor):
        """The same observations with values × factor (indices shared; the mode
        views built so far carried over, their values scaled)."""
        if factor == 1:
            return self
        f = self.dtype.type(factor)
        out = self._from_canonical(self.shape, self._indptr, self._rest, self._values * f,
                                   self.labels, self.time_edges)
        for mode, V in self._views.items():
            out._views[mode] = V._replace(
                values=out._values if mode == 0 else _frozen(V.values * f))
        return out

    # ------------------------------------------------------------ labels

    def index(self, mode, labels):
        """Positions along ``mode`` of labels (an int for one label, an array for a
        list or array); unknown labels raise ``KeyError`` naming mode and labels.
        A mode without labels takes its positions as labels.

        Examples
        --------
        >>> import lorank
        >>> T = lorank.TensorRatings(([0, 1], [1, 0]), [1.0, 2.0], labels=[["a", "b"], None])
        >>> T.index(0, ["b", "a"]).tolist(), T.index(1, 1)
        ([1, 0], 1)
        """
        mode = self._check_mode(mode)
        if mode not in self._lookup:
            self._lookup[mode] = LabelIndex(self.labels[mode], self.shape[mode],
                                            name=f"mode {mode} label")
        return label_positions(self._lookup[mode], labels)

    # ------------------------------------------------------------ subsets and splits

    def take(self, idx):
        """The observations at positions ``idx`` of the canonical order (distinct
        positions in any order, or a boolean mask of length nnz), as a new
        ``TensorRatings`` with the same shape, labels and time edges."""
        idx = _entry_positions(idx, self.nnz)
        indptr = np.searchsorted(idx, self._indptr).astype(np.int64)
        return self._from_canonical(self.shape, indptr, [a[idx] for a in self._rest],
                                    self._values[idx], self.labels, self.time_edges)

    def split(self, test_size=0.2, random_state=None):
        """Split the observations into (train, test) ``TensorRatings``:
        ``ceil(test_size * nnz)`` test observations drawn uniformly.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> T = lorank.TensorRatings(np.indices((3, 4, 5)).reshape(3, -1), np.ones(60))
        >>> train, test = T.split(0.25, random_state=0)
        >>> train.nnz, test.nnz, test.shape
        (45, 15, (3, 4, 5))
        """
        if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real):
            raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}")
        n_test = int(np.ceil(test_size * self.nnz))
        if n_test >= self.nnz:
            raise ValueError(
                f"test_size={test_size} of {self.nnz} observations leaves no training data"
            )
        rng = np.random.default_rng(random_state)
        test = np.zeros(self.nnz, dtype=bool)
        test[rng.permutation(self.nnz)[:n_test]] = True
        return self.take(~test), self.take(test)

    def kfold(self, k=5, random_state=None):
        """Iterate over ``k`` (train, test) splits whose test sets partition the
        observations (a random permutation dealt into k folds of sizes differing
        by at most one).

        Examples
        --------
        >>> import numpy as np, lorank
        >>> T = lorank.TensorRatings(np.indices((2, 2, 5)).reshape(3, -1), np.ones(20))
        >>> [test.nnz for train, test in T.kfold(3, random_state=0)]
        [7, 7, 6]
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k must be an integer, got {k!r}")
        if not 2 <= k <= self.nnz:
            raise ValueError(f"k must be between 2 and nnz = {self.nnz}, got {k}")
        rng = np.random.default_rng(random_state)
        fold = np.empty(self.nnz, dtype=np.int64)
        fold[rng.permutation(self.nnz)] = np.arange(self.nnz) % k
        return ((self.take(fold != f), self.take(fold == f)) for f in range(int(k)))


def label_positions(index, labels):
    """``index.positions(labels)`` (a LabelIndex), vectorized for a 1-D integer
    array on an axis without labels, where the labels are the positions."""
    if not index.labelled and isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" \
            and labels.ndim == 1:
        bad = (labels < 0) | (labels >= index.size)
        if bad.any():
            index.check(np.where(bad, -1, 0), labels.tolist())
        return labels.astype(np.int64)
    return index.positions(labels)


def _check_labels(labels, shape):
    if labels is None:
        return None
    try:
        per_mode = list(labels)
    except TypeError:
        raise TypeError(
            f"labels must be a sequence of {len(shape)} label arrays or None, got "
            f"{type(labels).__name__}"
        ) from None
    if len(per_mode) != len(shape):
        raise ValueError(
            f"labels must hold one entry per mode ({len(shape)}), got {len(per_mode)}"
        )
    out = []
    for m, lab in enumerate(per_mode):
        if lab is None:
            out.append(None)
            continue
        arr = _label_array(lab, f"labels[{m}]")
        if len(arr) != shape[m]:
            raise ValueError(
                f"labels[{m}] must name the {shape[m]} positions of mode {m}, got "
                f"{len(arr)} labels"
            )
        try:
            distinct = len(set(arr.tolist())) == len(arr)
        except TypeError as exc:
            raise TypeError(f"labels[{m}] must hold hashable labels: {exc}") from None
        if not distinct:
            raise ValueError(f"labels[{m}] repeats a label; each position needs its own")
        out.append(_frozen(arr))
    return out


def _resolve_duplicates(indptr, rest, values, shape, duplicates, labels):
    """Canonical arrays -> the same without repeated tuples (which are adjacent)."""
    nnz = len(values)
    if nnz < 2:
        return indptr, rest, values
    first = _mode0(indptr, shape[0])
    same = first[1:] == first[:-1]
    for a in rest:
        same &= a[1:] == a[:-1]
    if not same.any():
        return indptr, rest, values
    if duplicates == "error":
        p = int(np.flatnonzero(same)[0])
        key = (int(first[p]),) + tuple(int(a[p]) for a in rest)
        if labels is not None:
            key = tuple(
                k if lab is None else (lab[k].item() if hasattr(lab[k], "item") else lab[k])
                for k, lab in zip(key, labels)
            )
            raise ValueError(f'duplicate entry {key!r}; pass duplicates="mean" or "last"')
        raise _DuplicateEntry(key)
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    del same
    if duplicates == "mean":
        sums = np.add.reduceat(values.astype(np.float64), starts)
        sizes = np.diff(np.append(starts, nnz))
        merged = (sums / sizes).astype(values.dtype)
    else:  # "last": the input order survives the stable sorts
        merged = values[np.append(starts[1:], nnz) - 1]
    first = first[starts]
    new_indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(first, minlength=shape[0]), out=new_indptr[1:])
    return new_indptr, [np.ascontiguousarray(a[starts]) for a in rest], merged



# ---------------------------------------------------------------- from Ratings with times

_STRATEGIES = ("width", "count")


def from_ratings(R, time_bins, *, strategy="width"):
    """The user x item x time-bin tensor of ``R`` (see :meth:`lorank.Ratings.to_tensor`)."""
    times = getattr(R, "times", None)
    if times is None:
        raise ValueError(
            "these Ratings have no times: build them with times= (Ratings(..., times=...), "
            "Ratings.from_pandas(..., time=...) or a loader that reads timestamps) to make a "
            "user x item x time tensor"
        )
    times = _as_1d(times, "times")
    if len(times) != R.nnz:
        raise ValueError(f"times has {len(times)} entries but the Ratings hold {R.nnz}")
    t, kind = _time_numbers(times)
    edges = _time_edges(t, time_bins, strategy, kind)
    n_bins = len(edges) - 1
    bins = np.searchsorted(edges, t, side="right") - 1
    bins[t == edges[-1]] = n_bins - 1  # the last bin holds its right edge
    counts = np.bincount(bins, minlength=n_bins)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        b = int(empty[0])
        lo, hi = _edge_value(edges[b], kind), _edge_value(edges[b + 1], kind)
        raise ValueError(
            f"time bin {b} [{lo}, {hi}) holds no ratings ({empty.size} of {n_bins} bins are "
            "empty); use fewer bins, strategy=\"count\", or other edges"
        )
    shape = _check_tensor_shape(R.shape + (n_bins,), 3)
    # Ratings are distinct (row, col) pairs in CSR order: (row, col, bin) tuples are
    # already distinct and in lexicographic order.
    rest = [np.ascontiguousarray(R.csr.indices, np.int32), bins.astype(np.int32)]
    out_edges = edges if kind is None else edges.astype(kind)
    return TensorRatings._from_canonical(
        shape, R.csr.indptr, rest, R.csr.values,
        [R.row_labels, R.col_labels, None], out_edges)


def _time_numbers(times):
    """Times as float64 (numbers) or int64 (datetime64, ``kind`` its dtype)."""
    if times.dtype.kind == "M":
        if np.isnat(times).any():
            p = int(np.flatnonzero(np.isnat(times))[0])
            raise ValueError(f"times contains NaT at position {p}; every rating needs a time")
        return times.astype(np.int64), times.dtype
    if times.dtype.kind not in "iuf":
        raise TypeError(f"times must hold numbers or datetime64, got dtype {times.dtype}")
    t = times.astype(np.float64)
    if not np.isfinite(t).all():
        p = int(np.flatnonzero(~np.isfinite(t))[0])
        raise ValueError(f"times contains {times[p]} at position {p}; times must be finite")
    return t, None


def _edge_value(e, kind):
    return np.asarray(e).astype(kind) if kind is not None else float(e)


def _time_edges(t, time_bins, strategy, kind):
    """Bin edges (float64, or int64 for datetimes): ``time_bins`` equal-width or
    equal-count bins, or the given increasing edges."""
    if isinstance(time_bins, (numbers.Integral, np.integer)) and not isinstance(
            time_bins, (bool, np.bool_)):
        n = int(time_bins)
        if n < 1:
            raise ValueError(f"time_bins must be >= 1 bins or an array of edges, got {n}")
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
        lo, hi = t.min(), t.max()
        if strategy == "width":
            if lo == hi and n > 1:
                raise ValueError(
                    f"all times are equal ({_edge_value(lo, kind)}): {n} equal-width bins "
                    "would leave all but one empty; use time_bins=1"
                )
            edges = np.linspace(float(lo), float(hi), n + 1)
        else:
            edges = np.quantile(t, np.linspace(0.0, 1.0, n + 1))
        if kind is not None:  # whole time units, the ends exact
            edges = np.floor(edges).astype(np.int64)
            edges[0], edges[-1] = lo, hi
        return edges
    if isinstance(time_bins, (bool, np.bool_, str)) or time_bins is None:
        raise TypeError(f"time_bins must be a number of bins or an array of edges, got "
                        f"{time_bins!r}")
    given = np.asarray(time_bins)
    if given.ndim != 1 or len(given) < 2:
        raise ValueError(
            f"time_bins as edges must be a 1-D array of at least 2 increasing times, got "
            f"shape {given.shape}"
        )
    if kind is not None:
        if given.dtype.kind != "M":
            raise TypeError("times are datetime64: give the edges as datetime64 too")
        edges = given.astype(kind).astype(np.int64)
    else:
        if given.dtype.kind not in "iuf":
            raise TypeError(f"time_bins edges must be numbers, got dtype {given.dtype}")
        edges = given.astype(np.float64)
        if not np.isfinite(edges).all():
            raise ValueError("time_bins edges must be finite")
    step = np.diff(edges)
    if (step <= 0).any():
        k = int(np.flatnonzero(step <= 0)[0])
        raise ValueError(
            f"time_bins edges must be strictly increasing, but edge {k + 1} "
            f"({_edge_value(edges[k + 1], kind)}) <= edge {k} ({_edge_value(edges[k], kind)})"
        )
    outside = (t < edges[0]) | (t > edges[-1])
    if outside.any():
        p = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"the rating at position {p} has time {_edge_value(t[p], kind)}, outside the "
            f"edges [{_edge_value(edges[0], kind)}, {_edge_value(edges[-1], kind)}]"
        )
    return edges
