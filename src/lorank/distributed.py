"""Exact ALS on a Dask cluster: the same half-step kernel over blocks on the workers.

The ratings are grouped once into row blocks (CSR slices) and column blocks (CSC
slices), built by tasks on the workers and kept there for the whole fit. Each
half-step broadcasts the fixed factor (m x w or n x w floats) to the workers,
every block task runs ``lorank._kernels._als.half_step`` on its slice, and the client
stitches the solved rows together; the iterations themselves (μ update,
objective, weighted λ, stopping rule) are ``lorank.ALS``'s own loop. See
``docs/distributed.md`` for the design and its measured costs.

Import it explicitly (``import lorank.distributed``): ``import lorank`` does not
import Dask.
"""

import os
from types import SimpleNamespace

try:
    import dask
    import distributed
    import pandas as pd
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lorank.distributed needs dask, distributed and pandas: "
        "pip install 'lorank[dask]'"
    ) from exc

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .models import als as _local
from .models import _auto_reg
from ._dask_tasks import (_build, _coo, _Duplicate, _encode, _identity, _partition_counts,
                          _pattern, _residual_product, _slice, _solve, _split, _sse, _stats)
from .models._estimator import check_fitted, get_params, value_scale
from .data._labels import LabelIndex
from ._threads import effective_n_threads
from ._validation import as_float_dtype, check_int
from .linalg.lowrank import LowRank
from .data.ratings import Ratings, SparseView, _check_label_kinds, _index_dtype

__all__ = ["ALS"]


class ALS(_local.ALS):
    """``lorank.ALS`` on a Dask cluster: the ratings stay partitioned on the workers.

    The model, the objective and the iterations are exactly those of
    :class:`lorank.ALS` (same parameters, same learned attributes, same
    ``random_state`` streams): with the same start the factors agree with a
    single-machine fit to rounding. The ratings are split once into row blocks
    and column blocks held on the workers; per half-step only the fixed factor
    is broadcast and the solved factor rows come back.

    Parameters
    ----------
    client : distributed.Client
        The cluster to run on.
    rank, reg, weighted_reg, biases, max_iter, tol, init, dtype, random_state, progress, callback
        As for :class:`lorank.ALS`, but ``reg`` is a number, 1.0 by default
        (``lorank.ALS`` chooses it on a holdout, ``reg="auto"``: that path is
        local; fit ``lorank.ALS()`` on a sample and pass its ``reg_``).
        ``init="svd"`` runs the bias sweeps with the same kernel and
        ``lorank.randomized_svd`` on an operator whose products run block-wise
        on the workers.
    n_threads : int, default=None
        OpenMP threads of each block task. ``None``: 1, the parallelism comes
        from the workers' threads (a worker with t threads solves t blocks at
        once). Give the workers' core count with ``threads_per_worker=1``
        workers. Results do not depend on it.
    n_blocks : int, default=None
        Row blocks and column blocks (each, with about equal numbers of
        ratings). ``None``: twice the cluster's worker threads at fit time.

    Attributes
    ----------
    factors_, row_bias_, col_bias_, mean_, history_, n_iter_
        As for :class:`lorank.ALS`.
    row_labels_, col_labels_ : ndarray
        The user and item labels, index ``i`` naming row ``i`` (the indices
        themselves for an unlabelled ``Ratings``).
    shape_ : (int, int)

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, lorank.distributed
    >>> from distributed import Client, LocalCluster
    >>> client = Client(LocalCluster(n_workers=1, processes=False, dashboard_address=":0"))
    >>> df = pd.DataFrame({"user": ["a", "a", "b", "c"], "item": [1, 2, 1, 2],
    ...                    "rating": [5.0, 3.0, 4.0, 1.0]})
    >>> model = lorank.distributed.ALS(client, rank=1, random_state=0)
    >>> model = model.fit(dd.from_pandas(df, npartitions=2))
    >>> model.row_labels_.tolist(), model.col_labels_.tolist()
    (['a', 'b', 'c'], [1, 2])
    >>> model.to_local().predict(["a"], [2]).shape     # by labels, as on the cluster
    (1,)
    >>> client.close(); client.cluster.close()
    """

    def __init__(
        self,
        client,
        rank=10,
        *,
        reg=1.0,
        weighted_reg=0.5,
        biases=True,
        max_iter=15,
        tol=1e-4,
        init="svd",
        dtype=np.float32,
        n_threads=None,
        random_state=None,
        progress=False,
        callback=None,
        n_blocks=None,
    ):
        super().__init__(
            rank, reg=reg, weighted_reg=weighted_reg, biases=biases, max_iter=max_iter,
            tol=tol, init=init, dtype=dtype, n_threads=n_threads, random_state=random_state,
            progress=progress, callback=callback,
            clip=False,  # the blocks do not gather the values' range: unclipped predictions
            bias_reg=None,  # the biases take the factors' λ: no Baseline fit on the blocks
        )
        self.client = client
        self.n_blocks = n_blocks

    # ------------------------------------------------------------ fitting

    def fit(self, source, validation=None, *, columns=("user", "item", "rating"),
            duplicates="error"):
        """Fit on ratings that stay on the cluster.

        Parameters
        ----------
        source : dask.dataframe.DataFrame, str or path, or Ratings
            A Dask (or pandas) DataFrame with user, item and rating columns; a
            path, directory or glob of Parquet files with them; or a
            ``lorank.Ratings`` (sent to the workers in the task graph: for
            tests and data that fit on the client).
        validation : same kinds as source, default=None
            Held-out ratings (labels must occur in ``source``); their RMSE is
            recorded per iteration, computed on the workers.
        columns : (str, str, str), default=("user", "item", "rating")
            Names of the user, item and rating columns (DataFrame/Parquet).
        duplicates : {"error", "mean", "last"}, default="error"
            A repeated (user, item) pair: raise, average, or keep the last one
            (partition order, then row order), as ``lorank.Ratings``.

        Returns
        -------
        self
        """
        client = self.client
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {client!r}")
        if duplicates not in ("error", "mean", "last"):
            raise ValueError(
                f'duplicates must be one of ("error", "mean", "last"), got {duplicates!r}'
            )
        columns = _check_columns(columns)
        if _auto_reg.is_auto(self.reg):  # before any data reaches the cluster
            raise ValueError(
                "lorank.distributed.ALS takes a number for reg, got 'auto' (the holdout "
                "path is local): fit lorank.ALS() on a sample of the ratings and pass its "
                "reg_")
        dtype = as_float_dtype(self.dtype)
        if self.n_blocks is not None:
            check_int(self.n_blocks, "n_blocks", minimum=1)
        n_blocks = self.n_blocks or 2 * max(1, sum(client.nthreads().values()))

        blocks = _Blocks(client, source, columns, dtype, n_blocks)
        rank, reg, max_iter, tol, _ = self._check_params(blocks.summary(dtype))
        blocks.place(duplicates)
        valid = None
        if validation is not None:
            valid = _Validation.build(client, validation, columns, dtype, blocks)
        # The new data replaces the model only now that its input is known good;
        # the previous fit's factors go with it (they would not match the labels).
        self._reset()
        self.__dict__.pop("_half_step_objectives", None)
        self._blocks = blocks  # kept: to_recommender gathers the pattern
        self.row_labels_, self.col_labels_ = blocks.row_labels, blocks.col_labels
        self.labels_ = (LabelIndex(blocks.row_labels, name="user"),
                        LabelIndex(blocks.col_labels, name="item"))
        self.shape_ = blocks.shape
        threads = 1 if self.n_threads is None else effective_n_threads(self.n_threads)
        biases = bool(self.biases)

        # The fit runs on the values / scale, as ALS's (the blocks scale theirs).
        scale = blocks.scale
        inv = 1.0 / scale

        def solve(side, fixed, solved, rank, mean, lam, exact_sse=True):
            bounds, futures = blocks.side(side)
            F = _broadcast(client, fixed)
            tasks = [client.submit(_solve, block, F, mean, lam[lo:hi], biases, rank,
                                   threads, exact_sse, inv, pure=False)
                     for block, (lo, hi) in zip(futures, bounds)]
            size = solved.shape[0]
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            for (lo, hi), out in zip(bounds, client.gather(tasks)):
                solved[lo:hi], sse[lo:hi], rsum[lo:hi], status[lo:hi] = out
            return sse, rsum, status

        def residual(shift):
            return _ResidualOperator(client, blocks, shift, dtype, threads, inv)

        score = (lambda: valid.rmse(self)) if valid is not None else None
        data = _local._Data(blocks.shape, blocks.nnz, blocks.total * inv, blocks.row_counts,
                            blocks.col_counts)
        return self._fit_loop(data, dtype, rank, reg, max_iter, tol, solve, residual, score,
                              scale)

    # ------------------------------------------------------------ serving

    def to_local(self):
        """The fitted model as a single-machine ``lorank.ALS`` (same predictions).

        Returns
        -------
        lorank.ALS
        """
        check_fitted(self)
        params = {k: v for k, v in get_params(self).items() if k not in ("client", "n_blocks")}
        model = _local.ALS(**params, bias_reg=None)
        for name in ("factors_", "row_bias_", "col_bias_", "mean_", "history_", "n_iter_",
                     "labels_", "_half_step_objectives"):
            setattr(model, name, getattr(self, name))
        return model

    def to_recommender(self, *, seen=True):
        """A ``lorank.Recommender`` by the training labels, for serving.

        Parameters
        ----------
        seen : bool, default=True
            Gather the training pattern (4 bytes per rating) from the workers so
            recommendations skip seen items; ``False`` keeps an empty pattern.

        Returns
        -------
        lorank.Recommender
        """
        from .recommend import Recommender

        check_fitted(self)
        m, n = self.shape_
        if seen and hasattr(self, "_blocks"):
            parts = self.client.gather([self.client.submit(_pattern, b, pure=False)
                                        for b in self._blocks.rows])
            counts = np.concatenate([np.diff(p[0]) for p in parts])
            indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
            indices = np.concatenate([p[1] for p in parts])
        else:
            indptr, indices = np.zeros(m + 1, np.int64), np.zeros(0, np.int32)
        local = self.to_local()
        return Recommender(local)._set(local, indptr, indices)

    def save(self, path):
        """Save as the equivalent ``lorank.ALS`` (``lorank.load`` returns that)."""
        self.to_local().save(path)


# ---------------------------------------------------------------- the blocks


class _Blocks:
    """Row blocks (CSR slices) and column blocks (CSC slices) held on the workers as
    futures with lineage; indptr rebased to 0, indices global.

    Made in two steps: the constructor learns the shape, labels, counts and block
    bounds (for a DataFrame, one pass of Dask reductions), so parameters are
    checked before :meth:`place` builds the blocks on the workers.
    """

    def __init__(self, client, source, columns, dtype, n_blocks):
        self.client, self.columns, self.dtype = client, columns, dtype
        if isinstance(source, Ratings):
            R = self.ratings = source.astype(dtype)
            m, n = R.shape
            self.row_labels = np.arange(m) if R.row_labels is None else R.row_labels
            self.col_labels = np.arange(n) if R.col_labels is None else R.col_labels
            self.nnz, self.total = R.nnz, float(R.csr.values.sum(dtype=np.float64))
            self.scale = value_scale(R.csr.values, power_of_two=True)  # as ALS's
            self.row_counts, self.col_counts = R.row_counts, R.col_counts
        else:
            self.ratings = None
            self.frame = _as_frame(source, columns, "source")
            (self.row_labels, self.row_counts), (self.col_labels, self.col_counts) = (
                _ordered_labels(client, self.frame, columns[:2]))
            self.nnz = int(self.row_counts.sum())
        if self.nnz == 0:
            raise ValueError("source has no ratings")
        self.shape = (len(self.row_labels), len(self.col_labels))
        self.row_bounds = _bounds(self.row_counts, n_blocks)
        self.col_bounds = _bounds(self.col_counts, n_blocks)

    def place(self, duplicates):
        """Build the blocks on the workers (and wait for them)."""
        graph = self._from_ratings() if self.ratings is not None else self._from_frame(duplicates)
        futures = self.client.compute(graph)
        self.rows, self.cols = futures[:len(self.row_bounds)], futures[len(self.row_bounds):]
        try:
            _wait(futures)
        except _Duplicate as exc:
            i, j = exc.pair
            user, item = self.columns[:2]
            raise ValueError(
                f"duplicate entry {(_item(self.row_labels[i]), _item(self.col_labels[j]))!r} "
                f'({user}, {item}); pass duplicates="mean" or "last"'
            ) from None
        if self.ratings is None:
            # Counts and Σ x after duplicates are resolved, from the blocks themselves.
            client = self.client
            stats = client.gather([client.submit(_stats, f, pure=False) for f in self.rows])
            self.row_counts = np.concatenate([s[0] for s in stats])
            self.nnz = int(self.row_counts.sum())
            self.total = float(np.sum([s[1] for s in stats]))
            self.scale = value_scale(None, power_of_two=True, moments=(
                self.nnz, self.total, float(np.sum([s[2] for s in stats]))))
            stats = client.gather([client.submit(_stats, f, pure=False) for f in self.cols])
            self.col_counts = np.concatenate([s[0] for s in stats])
        self.ratings = self.frame = None
        return self

    def _from_ratings(self):
        # The slices go into the graph (not client.scatter): a block lost with
        # its worker is rebuilt from its task.
        R = self.ratings
        slice_ = dask.delayed(_slice, pure=True)
        return [slice_(view.indptr[lo:hi + 1], view.indices[view.indptr[lo]:view.indptr[hi]],
                       view.values[view.indptr[lo]:view.indptr[hi]])
                for view, bounds in ((R.csr, self.row_bounds), (R.csc, self.col_bounds))
                for lo, hi in bounds]

    def _from_frame(self, duplicates):
        # Per partition: ids -> codes, then the rows split by row block and by
        # column block; per block: its pieces -> a Ratings (validated) -> CSR.
        columns, (m, n) = self.columns, self.shape
        labels = (dask.delayed(self.row_labels, pure=True),
                  dask.delayed(self.col_labels, pure=True))
        rb, cb = np.array(self.row_bounds)[:, 0], np.array(self.col_bounds)[:, 0]
        pieces = []
        for part in self.frame[list(columns)].to_delayed():
            coo = dask.delayed(_encode, pure=True)(part, columns, *labels)
            pieces.append((dask.delayed(_split, pure=True, nout=len(rb))(coo, rb, 0),
                           dask.delayed(_split, pure=True, nout=len(cb))(coo, cb, 1)))
        build = dask.delayed(_build, pure=True)
        return [build([p[axis][b] for p in pieces], lo, hi, size, axis, self.dtype, duplicates,
                      columns[2])
                for axis, bounds, size in ((0, self.row_bounds, n), (1, self.col_bounds, m))
                for b, (lo, hi) in enumerate(bounds)]

    def side(self, side):
        return (self.col_bounds, self.cols) if side == "cols" else (self.row_bounds, self.rows)

    def summary(self, dtype):
        """What ``ALS._check_params`` reads of a ``Ratings``."""
        m, n = self.shape
        return SimpleNamespace(
            shape=self.shape, nnz=self.nnz, dtype=np.dtype(dtype), row_counts=self.row_counts,
            col_counts=self.col_counts, csr=SparseView(None, np.empty(0, _index_dtype(n)), None),
            csc=SparseView(None, np.empty(0, _index_dtype(m)), None))


class _Validation:
    """Held-out ratings as COO pieces on the workers, scored there."""

    @classmethod
    def build(cls, client, source, columns, dtype, blocks):
        self = cls()
        self.client = client
        if isinstance(source, Ratings):
            if source.shape != blocks.shape:
                raise ValueError(
                    f"validation has shape {source.shape} but source has shape {blocks.shape}"
                )
            for what, got, want in (("row", source.row_labels, blocks.row_labels),
                                    ("column", source.col_labels, blocks.col_labels)):
                if got is not None and not np.array_equal(np.asarray(got, object),
                                                          np.asarray(want, object)):
                    raise ValueError(
                        f"validation's {what} labels are not source's (index i must name "
                        "the same user or item); pass validation as a DataFrame"
                    )
            rows, cols, values = source.astype(dtype).coo()
            step = max(1, -(-len(values) // len(blocks.rows)))
            graph = [dask.delayed(_coo, pure=True)(rows[k:k + step], cols[k:k + step],
                                                     values[k:k + step])
                     for k in range(0, len(values), step)]
        else:
            frame = _as_frame(source, columns, "validation")
            labels = (dask.delayed(blocks.row_labels, pure=True),
                      dask.delayed(blocks.col_labels, pure=True))
            graph = [dask.delayed(_encode, pure=True)(part, columns, *labels, dtype=dtype)
                     for part in frame[list(columns)].to_delayed()]
        self.pieces = client.compute(graph)
        _wait(self.pieces)
        return self

    def rmse(self, model):
        X = model.to_lowrank()
        L, R = _broadcast(self.client, [X.left, X.right])
        parts = self.client.gather([self.client.submit(_sse, p, L, R, pure=False)
                                    for p in self.pieces])
        count = sum(c for _, c in parts)
        return float(np.sqrt(sum(s for s, _ in parts) / count)) if count else np.nan


class _ResidualOperator(LinearOperator):
    """P_Ω(X − shift) for the spectral start; products run block-wise on the
    workers with the same compiled kernel as ``SparsePlusLowRank``."""

    def __init__(self, client, blocks, shift, dtype, threads, inv=1.0):
        m, n = blocks.shape
        self._inv = inv
        super().__init__(dtype=np.dtype(dtype), shape=(m, n))
        if shift is None:
            shift = LowRank(np.zeros((m, 0), dtype), np.zeros((n, 0), dtype))
        shift = shift.astype(dtype) if shift.dtype != dtype else shift
        self._client, self._blocks, self._threads = client, blocks, threads
        self._left, self._right = _broadcast(client, [np.ascontiguousarray(shift.left),
                                                     np.ascontiguousarray(shift.right)])

    def _product(self, side, M):
        M = np.ascontiguousarray(M.reshape(M.shape[0], -1), dtype=self.dtype)
        bounds, futures = self._blocks.side(side)
        a, b = (self._left, self._right) if side == "rows" else (self._right, self._left)
        Mf = _broadcast(self._client, M)
        tasks = [self._client.submit(_residual_product, f, lo, hi, a, b, Mf, self._threads,
                                     self._inv, pure=False)
                 for f, (lo, hi) in zip(futures, bounds)]
        return np.concatenate(self._client.gather(tasks))

    def _matmat(self, M):
        return self._product("rows", M)

    def _rmatmat(self, M):
        return self._product("cols", M)


# ---------------------------------------------------------------- inputs


def _check_columns(columns):
    if (isinstance(columns, str) or not hasattr(columns, "__len__") or len(columns) != 3
            or not all(isinstance(c, str) for c in columns)):
        raise TypeError(f"columns must be three column names (user, item, rating), "
                        f"got {columns!r}")
    return tuple(columns)


def _as_frame(source, columns, name):
    import dask.dataframe as dd

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        frame = dd.read_parquet(path)
    elif isinstance(source, pd.DataFrame):
        for c in columns[:2]:  # before Dask converts object columns to strings
            if c in source.columns and source[c].dtype == object:
                _check_label_kinds(source[c].to_numpy(), f"column {c!r}")
        frame = dd.from_pandas(source, npartitions=1)
    elif isinstance(source, dd.DataFrame):
        frame = source
    else:
        raise TypeError(
            f"{name} must be a dask DataFrame, a pandas DataFrame, a Parquet path or a "
            f"lorank.Ratings, got {type(source).__name__}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} has no column {missing[0]!r} (columns: {list(frame.columns)}); "
            "pass columns=(user, item, rating)"
        )
    return frame


def _ordered_labels(client, frame, columns):
    """[(labels, counts)] of the user and item columns in Ratings.from_labels's
    order: sorted when the labels sort, else first seen (partition order, then
    row order), after the same label gate (one kind of hashable label, none
    missing)."""
    import dask
    import pandas as pd

    try:
        # Tree reductions: only m + n values come back.
        counts = client.compute([frame[c].value_counts(dropna=False, split_out=1)
                                 for c in columns], sync=True)
    except TypeError:  # unsortable labels (Dask's reduction sorts them)
        counts = None
    if counts is None or not all(_sorts(c.index) for c in counts):
        # Each partition's counts in order of first appearance, summed in
        # partition order: the labels in first-seen order.
        parts = client.compute([dask.delayed(_partition_counts)(p, columns)
                                for p in frame.to_delayed()], sync=True)
        counts = [pd.concat([p[k] for p in parts]).groupby(level=0, sort=False,
                                                           dropna=False).sum()
                  for k in range(len(columns))]
    out = []
    for column, c in zip(columns, counts):
        if c.index.hasnans:
            raise ValueError(f"column {column!r} contains missing ids")
        _check_label_kinds(c.index.to_numpy(dtype=object), f"column {column!r}")
        if _sorts(c.index):
            c = c.sort_index()
        labels = c.index.to_numpy()
        if labels.dtype.kind not in "iufb":
            labels = labels.astype(object)
        out.append((labels, c.to_numpy().astype(np.int64)))
    return out


def _sorts(index):
    try:
        index.sort_values()
    except TypeError:
        return False
    return True


def _bounds(counts, k):
    """At most k (lo, hi) ranges of the indices with about equal total counts."""
    cum = np.concatenate(([0], np.cumsum(counts)))
    cuts = np.searchsorted(cum, np.linspace(0, cum[-1], k + 1)[1:-1])
    cuts = np.unique(np.concatenate(([0], cuts, [len(counts)])))
    return [(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:])]


def _wait(futures):
    """Wait for all; a worker's error (Ratings' validation) is re-raised here, on
    the client."""
    distributed.wait(futures)
    for f in futures:
        if f.status == "error":
            f.result()


def _broadcast(client, data):
    """A future of ``data`` (an array, or a list of them, each its own future)
    that the workers running the dependent tasks copy from each other.

    A task result, not ``client.scatter``: the scheduler keeps the array in the
    task, so a copy lost with a dying worker is recomputed (lineage), and no
    ``scatter(broadcast=True)`` runs into a worker dying meanwhile (Dask's
    replicate then retries the dead worker forever).
    """
    if isinstance(data, list):
        return [_broadcast(client, a) for a in data]
    # The factor is meant to travel in the graph; Dask's warning about large
    # graphs (10 MB by default) is for data that should be loaded by tasks.
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1 PB"}):
        return client.submit(_identity, data, pure=False)


def _item(x):
    return x.item() if hasattr(x, "item") else x
