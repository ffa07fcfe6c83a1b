"""What ``lorank.distributed`` runs on the Dask workers: plain functions of numpy
arrays and pandas frames (this module does not import Dask)."""

import numpy as np
import pandas as pd

from ._kernels import _als, _fill
from ._threads import single_threaded_blas
from .linalg.lowrank import LowRank
from .linalg.sparse_plus_lowrank import padded_blocks
from .data.ratings import Ratings, _DuplicateEntry, _format_labels, _index_dtype


class _Duplicate(ValueError):
    """A repeated (row, col) pair found on a worker (global indices); the client
    names it by its labels."""

    def __init__(self, pair):
        self.pair = pair
        super().__init__(f"duplicate entry {pair}")

    def __reduce__(self):
        return type(self), (self.pair,)


def _slice(indptr, indices, values):
    """A CSR/CSC slice with indptr rebased to 0."""
    return indptr - indptr[0], indices, values


def _coo(rows, cols, values):
    return rows, cols, values


def _identity(x):
    return x


def _partition_counts(part, columns):
    """Each column's label counts, labels in order of first appearance."""
    return [part[c].value_counts(dropna=False, sort=False) for c in columns]


def _encode(part, columns, row_labels, col_labels, dtype=None):
    """A DataFrame partition -> (rows, cols, values) codes. Unknown labels (only
    in validation data: the training labels come from the data) raise KeyError
    naming them; ``dtype`` (validation) casts the values and checks them."""
    user, item, rating = columns
    out = []
    for column, labels, what in ((user, row_labels, "user"), (item, col_labels, "item")):
        codes = pd.Index(labels).get_indexer(part[column])
        bad = codes < 0
        if bad.any():
            missing = pd.unique(part[column][bad]).tolist()
            raise KeyError(f"unknown {what} labels in column {column!r}: "
                           f"{_format_labels(missing)}")
        out.append(codes.astype(_index_dtype(len(labels))))
    values = part[rating]
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values):
        raise TypeError(f"column {rating!r} must hold real numbers, got dtype {values.dtype}")
    kind = np.float32 if values.dtype == np.float32 else np.float64
    values = values.to_numpy(dtype=kind, na_value=np.nan)
    if dtype is not None:  # validation: checked here, as a Ratings would
        values = values.astype(dtype)
        if not np.isfinite(values).all():
            pos = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(f"column {rating!r} of validation contains {values[pos]}; "
                             "values must be finite")
    out.append(values)
    return tuple(out)


def _split(coo, starts, axis):
    """COO piece -> one piece per block of ``starts`` along ``axis`` (stable: the
    input order is kept within a block, for duplicates="last")."""
    key = coo[axis]
    block = np.searchsorted(starts, key, side="right") - 1
    order = np.argsort(block, kind="stable")
    cuts = np.searchsorted(block[order], np.arange(len(starts) + 1))
    return [tuple(a[order[cuts[b]:cuts[b + 1]]] for a in coo) for b in range(len(starts))]


def _build(pieces, lo, hi, size, axis, dtype, duplicates, rating):
    """The CSR of rows lo..hi (axis 0) or the CSC of columns lo..hi (axis 1),
    validated by Ratings' own constructor."""
    major = np.concatenate([p[axis] for p in pieces]) - lo
    minor = np.concatenate([p[1 - axis] for p in pieces])
    values = np.concatenate([p[2] for p in pieces])
    try:
        R = Ratings(major, minor, values, shape=(hi - lo, size), dtype=dtype,
                    duplicates=duplicates)
    except _DuplicateEntry as exc:
        i, j = exc.pair
        raise _Duplicate((i + lo, j) if axis == 0 else (j, i + lo)) from None
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"column {rating!r}: {exc}") from None
    return tuple(R.csr)


def _scaled(values, inv):
    """values × inv (a power of two: exact), as the local fit's values / scale."""
    return values if inv == 1 else values * values.dtype.type(inv)


def _solve(block, fixed, mean, lam, biases, rank, threads, exact_sse=True, inv=1.0):
    """One block's half-step on its values × inv, target j with penalty lam[j]:
    (solved rows, sse, rsum, status)."""
    indptr, indices, values = block
    values = _scaled(values, inv)
    size = len(indptr) - 1
    solved = np.zeros((size, fixed.shape[1]), fixed.dtype)
    sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
    with single_threaded_blas():
        _als.half_step(indptr, indices, values, fixed, solved, mean, lam, biases,
                       rank, sse, rsum, status, threads, exact_sse=exact_sse)
    return solved, sse, rsum, status


def _residual_product(block, lo, hi, a, b, M, threads, inv=1.0):
    """Rows lo..hi of P_Ω(X × inv − a bᵀ) @ M (a CSC block with a, b swapped: of
    the transpose), by the same compiled pass as ``SparsePlusLowRank``."""
    indptr, indices, values = block
    values = _scaled(values, inv)
    out = np.empty((hi - lo, M.shape[1]), M.dtype)
    for cols, target, scale, other in padded_blocks(np.ascontiguousarray(a[lo:hi]), b, M):
        result = np.empty_like(target)
        _fill.gather(indptr, indices, values, target, scale, other, result,
                     np.empty(hi - lo), threads)
        out[:, cols] = result[:, :cols.stop - cols.start]
    return out


def _stats(block):
    indptr, _, values = block
    return (np.diff(indptr), float(values.sum(dtype=np.float64)),
            float(np.square(values, dtype=np.float64).sum()))


def _pattern(block):
    return block[0], block[1]


def _sse(piece, left, right):
    rows, cols, values = piece
    if len(values) == 0:
        return 0.0, 0
    err = LowRank(left, right).entries(rows, cols, n_threads=1) - values
    return float(np.sum(np.square(err, dtype=np.float64))), len(values)
