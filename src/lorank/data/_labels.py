"""``LabelIndex``: labels <-> positions for one axis (users or items).

One type for every place that turns ids into rows: ``Ratings.row_index``, every
fitted model (``model.labels_``), ``Recommender`` and the Dask tasks. A label is
what the user passes; a position is a row or column of the factors. An axis
without labels (a ``Ratings`` built from indices) has the positions themselves
as labels, so ``0..size-1`` are its only valid labels.

What counts as *one* label: anything that is not a list, tuple, range or
ndarray, so ``"xy"`` (a str), ``b"xy"`` and ``3`` are single labels.
"""

import numbers

import numpy as np

__all__ = ["LabelIndex", "format_labels", "is_many"]


def is_many(labels):
    """Whether ``labels`` is a sequence of labels (list, tuple, range, ndarray
    with ndim >= 1) rather than one label; a str or bytes is one label."""
    if isinstance(labels, np.ndarray):
        return labels.ndim > 0
    if isinstance(labels, (list, tuple, range)):
        return True
    # pandas Series / Index and other 1-D array-likes (not str, bytes or scalars)
    return (not isinstance(labels, (str, bytes)) and hasattr(labels, "__array__")
            and getattr(labels, "ndim", 0) >= 1)


def format_labels(missing):
    """Up to five labels for an error message: ``'a', 'b' and 3 more``."""
    shown = ", ".join(repr(_plain(x)) for x in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return shown + more


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


class LabelIndex:
    """Labels of one axis and their positions.

    Parameters
    ----------
    labels : array_like or None
        ``labels[k]`` names position ``k``; ``None``: the axis has no labels and
        the integers ``0..size-1`` name themselves.
    size : int, default=None
        Number of positions (required when ``labels`` is None).
    name : str, default="label"
        What a label is called in error messages (``"user"``, ``"item"``).

    Examples
    --------
    >>> from lorank.data._labels import LabelIndex
    >>> users = LabelIndex(["ann", "bob"], name="user")
    >>> users.positions(["bob", "ann"]).tolist(), users.positions("bob")
    ([1, 0], 1)
    >>> users.positions("cy")
    Traceback (most recent call last):
    ...
    KeyError: "unknown users: 'cy'"
    """

    def __init__(self, labels=None, size=None, *, name="label"):
        if labels is None:
            if size is None:
                raise TypeError("LabelIndex needs labels or a size")
            self._labels = None
            self.size = int(size)
        else:
            labels = np.asarray(labels) if not isinstance(labels, np.ndarray) else labels
            if labels.ndim != 1:
                raise ValueError(f"{name} labels must be 1-D, got shape {labels.shape}")
            if size is not None and len(labels) != size:
                raise ValueError(f"{len(labels)} {name} labels for {size} positions")
            self._labels = labels
            self.size = len(labels)
        self.name = name
        self._map = None

    @classmethod
    def of(cls, labels, size, name="label"):
        """A LabelIndex from labels or another LabelIndex (returned as is)."""
        if isinstance(labels, LabelIndex):
            return labels
        return cls(labels, size, name=name)

    # ------------------------------------------------------------ views

    @property
    def labelled(self):
        """False when the positions are their own labels."""
        return self._labels is not None

    @property
    def labels(self):
        """ndarray: ``labels[k]`` names position ``k`` (``arange(size)`` when unlabelled)."""
        if self._labels is None:
            return np.arange(self.size)
        return self._labels

    @property
    def raw(self):
        """The labels as given, or None when unlabelled."""
        return self._labels

    def __len__(self):
        return self.size

    def __repr__(self):
        kind = "labelled" if self.labelled else "unlabelled"
        return f"LabelIndex({self.size} {self.name}s, {kind})"

    def same_as(self, other):
        """Whether ``other`` (a LabelIndex, labels or None) names the same positions."""
        if not isinstance(other, LabelIndex):
            other = LabelIndex(other, self.size if other is None else None, name=self.name)
        if other.size != self.size:
            return False
        if not self.labelled and not other.labelled:
            return True
        a, b = self.labels, other.labels
        if a is b:
            return True
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return bool(np.array_equal(a, b))
        return bool(np.array_equal(a.astype(object), b.astype(object)))

    # ------------------------------------------------------------ lookups

    def _mapping(self):
        if self._map is None:
            self._map = {_plain(x): k for k, x in enumerate(self._labels.tolist())}
        return self._map

    def lookup(self, labels):
        """(positions int64 array with -1 where unknown, labels as a list, many).

        ``many`` is whether ``labels`` was a sequence (see :func:`is_many`).
        """
        many = is_many(labels)
        if many and isinstance(labels, tuple) and self._labels is not None \
                and self._labels.dtype == object:
            try:  # a tuple that is itself a label (object labels) is that label
                many = labels not in self._mapping()
            except TypeError:
                pass
        if many and not isinstance(labels, (list, tuple, range)):
            labels = np.asarray(labels)  # ndarray, pandas Series or Index
        items = list(labels.tolist() if isinstance(labels, np.ndarray) else labels) if many \
            else [labels]
        fast = self._vectorized(labels) if many and isinstance(labels, np.ndarray) else None
        if fast is not None:
            return fast, items, many
        codes = np.empty(len(items), dtype=np.int64)
        if self._labels is None:
            size = self.size
            for t, x in enumerate(items):
                codes[t] = int(x) if _is_int(x) and 0 <= x < size else -1
            return codes, items, many
        get = self._mapping().get
        for t, x in enumerate(items):
            try:
                codes[t] = get(_plain(x), -1)
            except TypeError:  # unhashable: never a label
                codes[t] = -1
        return codes, items, many

    def _vectorized(self, query):
        """Codes of a numeric (or str) array by one binary search, when the labels
        are of the same kind and strictly increasing (as Ratings makes them);
        None when the dict lookup must do it."""
        kind = query.dtype.kind
        if self._labels is None:
            if kind not in "iu":
                return None
            q = query.astype(np.int64, copy=False) if kind == "i" or query.size == 0 or \
                query.max() <= np.iinfo(np.int64).max else None
            if q is None:
                return None
            return np.where((q >= 0) & (q < self.size), q, -1).astype(np.int64)
        lab = self._labels
        same = (kind in "iu" and lab.dtype.kind in "iu") or (kind == "U" and lab.dtype.kind == "U")
        if not same or query.ndim != 1 or not self._increasing():
            return None
        if kind in "iu" and lab.dtype.kind != kind and (query.size and query.min() < 0):
            return None  # signed against unsigned: the dict decides
        pos = np.searchsorted(lab, query)
        pos = np.minimum(pos, len(lab) - 1)
        return np.where(lab[pos] == query, pos, -1).astype(np.int64)

    def _increasing(self):
        if not hasattr(self, "_sorted"):
            lab = self._labels
            self._sorted = bool(len(lab) < 2 or (lab[1:] > lab[:-1]).all())
        return self._sorted

    def positions(self, labels, what=None):
        """Positions of ``labels``: an int for one label, an int64 array for a
        sequence. Unknown labels raise ``KeyError`` naming them."""
        codes, items, many = self.lookup(labels)
        self.check(codes, items, what)
        return codes if many else int(codes[0])

    def check(self, codes, items, what=None):
        """Raise ``KeyError`` naming the labels whose code is -1."""
        if codes.size and codes.min() < 0:
            missing = [x for x, c in zip(items, codes) if c < 0]
            what = what or self.name
            hint = "" if self.labelled else (
                f" (no labels here: the valid {what}s are the positions 0..{self.size - 1})")
            raise KeyError(f"unknown {what}s: {format_labels(missing)}{hint}")

    def label_of(self, positions):
        """The labels at ``positions`` (an array, or one label for an int)."""
        if self._labels is None:
            return np.asarray(positions) if np.ndim(positions) else int(positions)
        return self._labels[positions]
