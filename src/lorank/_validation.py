"""Input checks shared by the dense-array entry points.

Observed entries are validated by :class:`lorank.Ratings`; dense matrices, ranks
and index arrays here. Kernels assume what these functions guarantee.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_dtype(dtype, name="dtype"):
    """Return ``np.float32`` or ``np.float64`` for a dtype-like, or raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt.type


def result_float_dtype(*arrays, names=None):
    """The float dtype that arrays are computed in: float32 stays float32,
    integers and bools go to float64, anything else is a TypeError naming the
    argument (``names``, one per array)."""
    dtypes = [np.asarray(a).dtype if not hasattr(a, "dtype") else np.dtype(a.dtype) for a in arrays]
    names = names or ("input",) * len(arrays)
    for dt, name in zip(dtypes, names):
        if dt.kind not in "fiub" or dt.itemsize > 8:
            raise TypeError(
                f"{name} has unsupported dtype {dt}: lorank works in float32 or float64"
            )
    dt = np.result_type(*dtypes)
    return np.float32 if dt == np.float32 else np.float64


def as_matrix(X, name="X", *, dtype=None, finite=True, copy=False, allow_no_columns=False):
    """Validate a dense 2-D, non-empty, finite real matrix and return it as a
    C-contiguous float32/float64 ndarray.

    ``allow_no_columns`` accepts an (m, 0) matrix with m > 0 (rank-0 factors).
    """
    if hasattr(X, "tocsr") or hasattr(X, "matmat"):
        raise TypeError(
            f"{name} must be a dense array here, got {type(X).__name__}; "
            "use lorank.randomized_svd for sparse matrices and operators"
        )
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got an array with shape {X.shape}")
    if X.shape[0] == 0 or (X.shape[1] == 0 and not allow_no_columns):
        raise ValueError(f"{name} is empty (shape {X.shape})")
    dt = result_float_dtype(X, names=(name,)) if dtype is None else as_float_dtype(dtype)
    X = np.array(X, dtype=dt, order="C", copy=True if copy else None)
    if finite and not np.isfinite(X).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(f"{name} contains {X[bad]} at {bad}; values must be finite")
    return X


def check_rank(rank, shape, name="rank"):
    """A rank must be an integer in ``1..min(shape)``."""
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {rank!r}")
    rank = int(rank)
    limit = min(shape)
    if rank <= 0:
        raise ValueError(f"{name} must be positive, got {rank}")
    if rank > limit:
        raise ValueError(
            f"{name}={rank} exceeds min(m, n) = {limit} for a matrix of shape {tuple(shape)}"
        )
    return rank


def check_index_range(ratings, model):
    """The compiled kernels take int32 indices: at most 2**31 - 1 rows and columns
    (one message for every model)."""
    if ratings.csr.indices.dtype != np.int32 or ratings.csc.indices.dtype != np.int32:
        raise ValueError(
            f"{model} supports up to 2**31 - 1 rows and columns, got shape {ratings.shape}"
        )


_SUM_CHUNK = 1 << 20  # values per float64 chunk of check_value_range's sum of squares


def check_value_range(ratings, name="X"):
    """The models' arithmetic on the values must stay within their dtype: the
    sum of squares (the scale of every Gram, residual and loss) must fit, so
    values near the float32 limit are an error naming the cause, not a NaN or a
    LAPACK failure later."""
    values = ratings.csr.values
    dtype = values.dtype
    total = 0.0
    with np.errstate(over="ignore"):
        # In float64 chunks: a float64 copy of all nnz values would be the peak of
        # a large fit (16 bytes per rating for the two copies).
        for a in range(0, len(values), _SUM_CHUNK):
            chunk = values[a:a + _SUM_CHUNK].astype(np.float64)
            total += float(np.dot(chunk, chunk))
    if not total <= float(np.finfo(dtype).max):
        big = float(np.abs(values).max())
        fix = "rescale them" + (" or use dtype=np.float64" if dtype != np.float64 else "")
        raise ValueError(
            f"{name} holds values up to {big:.3g} whose sum of squares ({total:.3g}) exceeds "
            f"{dtype.name}'s range ({np.finfo(dtype).max:.3g}), so a model's arithmetic on "
            f"them would overflow; {fix}"
        )


def check_real(value, name):
    """A real-number parameter (bools are not numbers here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return value


def check_int(value, name, *, minimum=None):
    """An integer parameter, optionally with a lower bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def as_indices(idx, name, size, axis_name):
    """Validate an integer index array against ``0 <= idx < size``.

    Returns a C-contiguous int32 array when ``size`` fits in int32, else int64.
    """
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        if idx.size == 0 and idx.dtype.kind == "f":
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integers, got dtype {idx.dtype}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0:
            raise ValueError(f"{name} contains index {int(lo)}; indices must be >= 0")
        if hi >= size:
            raise ValueError(
                f"{name} contains index {int(hi)} but {axis_name} is {size}"
            )
    itype = np.int32 if size <= np.iinfo(np.int32).max else np.int64
    return np.ascontiguousarray(idx, dtype=itype)
