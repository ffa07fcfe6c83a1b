"""What the CP tensor models share: a fitted CP model with mean and biases.

:class:`CPModel` sits on :class:`~lorank.models._estimator.CompletionModel` and
holds what :class:`lorank.CPALS` and :class:`lorank.BayesianCP` share, so each
writes only its own fit (``_check_params`` and ``_fit``):

- **the gate**: ``fit(X, validation)`` takes ``TensorRatings`` only, checks the
  validation data's shape and labels, checks the parameters, drops the previous
  fit, keeps one label index per mode (``labels_``) and calls
  ``self._fit(T, valid, *checked)`` with both in the model's dtype;
- **the checks every CP fit makes**: observed entries and a positive rank first,
  the callback, seed, thread count and the kernel's row width last;
- **the fitted protocol** of ``factors_`` (A_m, one per mode), ``biases_``,
  ``mean_``, ``shape_``, ``labels_`` and ``time_edges_``: ``predict`` by label,
  ``predict_positions``, ``predict_at`` one time, ``to_lowrank(time)`` and
  ``at(time)`` (the user x item model at one time bin), ``score``;
- **files**: :func:`to_arrays` and :func:`from_arrays` (factor_m, bias_m,
  labels_m, mean, time_edges), which a model extends with its own header fields.
"""

import numpy as np

from .._kernels import _als, _sparse
from ._estimator import (CompletionModel, check_callback, check_dtype, check_int,
                         check_n_threads, check_random_state, check_real)
from ..data._labels import LabelIndex
from .._threads import effective_n_threads
from ..linalg.lowrank import LowRank
from ..data.tensor_ratings import TensorRatings, label_positions

__all__ = ["CPModel", "from_arrays", "largest_two", "to_arrays"]


class CPModel(CompletionModel):
    """Base of the CP tensor models: the ``TensorRatings`` gate, the checks every
    CP fit makes and the fitted protocol of a CP model with mean and biases.

    A subclass defines ``_check_params(T)`` (a tuple of checked values),
    ``_fit(T, valid, *checked)`` (sets the attributes below) and ``_at_params()``
    (the parameters of the ALS that :meth:`at` returns). See the module
    docstring of ``lorank.models._cp_base``.
    """

    # --- fitting ------------------------------------------------------------
    def fit(self, X, validation=None):
        """Fit the model to the observed entries of ``X``.

        Parameters
        ----------
        X : TensorRatings
            The observed entries (N >= 2 modes).
        validation : TensorRatings, default=None
            Held-out entries of the same shape; their RMSE is recorded per
            iteration in ``history_["valid_rmse"]`` (a Bayesian model's: that
            of the running posterior mean).

        Returns
        -------
        self
        """
        dtype = check_dtype(self.dtype)
        T, valid = _tensor_gate(X, validation, dtype)
        checked = self._check_params(T)
        self._reset()
        self.labels_ = _mode_labels(T.labels, T.shape)
        self._fit(T, valid, *checked)
        return self

    def _check_rank(self, T):
        """The checks every CP fit starts with: observed entries, a positive
        integer rank (returned)."""
        if T.nnz == 0:
            raise ValueError("X has no observed entries")
        rank = check_int(self.rank, "rank")
        if rank <= 0:
            raise ValueError(f"rank must be positive, got {rank}")
        return rank

    def _check_run(self, T, rank):
        """The checks every CP fit ends with: callback, seed, thread count
        (returned) and rank + biases within the kernel's row width."""
        check_callback(self.callback)
        check_random_state(self.random_state)
        n_threads = check_n_threads(self.n_threads)
        widest = _als.MAX_ROW_BYTES // T.dtype.itemsize
        if rank + bool(self.biases) > widest:
            raise ValueError(
                f"rank={rank} is too large: {type(self).__name__} supports rank + biases "
                f"<= {widest} in {T.dtype}"
            )
        return n_threads

    # --- fitted model -------------------------------------------------------
    def predict_positions(self, indices):
        """Predicted entries at positions ``indices`` (a tuple of N index arrays of
        equal length), mean and biases included.

        Returns
        -------
        ndarray of the model's dtype
        """
        self._check_fitted()
        idx = self._check_positions(indices)
        dtype = self.factors_[0].dtype
        out = np.empty(len(idx[0]), dtype=dtype)
        _sparse.cp_entries([np.ascontiguousarray(A, dtype) for A in self.factors_],
                           [np.ascontiguousarray(b, dtype) for b in self.biases_],
                           [np.ascontiguousarray(i, np.int32) for i in idx], self.mean_,
                           out, effective_n_threads(self.n_threads))
        return out

    def predict(self, indices):
        """Predicted entries at ``indices`` (a tuple of N arrays, or N scalars),
        by label for modes that had labels, by position for the others.

        Unknown labels raise ``KeyError`` naming the mode and the labels.

        Returns
        -------
        ndarray (a float for N scalars)
        """
        self._check_fitted()
        idx = self._positions(indices)
        scalar = all(np.ndim(i) == 0 for i in idx)
        out = self.predict_positions(tuple(np.atleast_1d(i) for i in idx))
        return float(out[0]) if scalar else out

    def predict_at(self, *indices, time=None):
        """What the last mode (time) says now: predictions for the other modes'
        ``indices`` (labels, as :meth:`predict`) at one time.

        ``time=None`` is the last time bin ("now"); with ``time_edges_`` (a tensor
        from :meth:`lorank.Ratings.to_tensor`) a time value selects the bin that
        holds it (times past either end fall in the first or last bin); without
        edges, ``time`` is a label (position) of the last mode.

        Examples
        --------
        >>> import numpy as np, lorank
        >>> R = lorank.Ratings([0, 0, 1, 1], [0, 1, 0, 1], [5.0, 3.0, 4.0, 1.0],
        ...                    times=[10, 20, 30, 40])
        >>> T = R.to_tensor(2)
        >>> model = lorank.CPALS(1, random_state=0, init="random").fit(T)
        >>> now = model.predict_at([0, 1], [1, 1])
        >>> bool(np.allclose(now, model.predict(([0, 1], [1, 1], [1, 1]))))
        True
        """
        self._check_fitted()
        N = len(self.factors_)
        if len(indices) != N - 1:
            raise TypeError(
                f"predict_at takes the indices of the first {N - 1} modes, got {len(indices)}"
            )
        b = self._time_position(time)
        idx = self._positions(tuple(indices) + (0,))[:-1]
        idx = tuple(np.atleast_1d(i) for i in idx)
        n = max(len(i) for i in idx)
        idx = tuple(np.broadcast_to(i, (n,)) for i in idx)
        return self.predict_positions(idx + (np.full(n, b, np.int64),))

    def _time_position(self, time):
        """The last mode's position for a time (see :meth:`predict_at`)."""
        last = self.shape_[-1] - 1
        if time is None:
            return last
        edges = self.time_edges_
        if edges is None:
            return label_positions(self.labels_[-1], time)
        if np.ndim(time) != 0:
            raise TypeError(f"time must be one time value, got {time!r}")
        if edges.dtype.kind == "M":
            try:
                t = np.datetime64(time).astype(edges.dtype).astype(np.int64)
            except (TypeError, ValueError):
                raise TypeError(f"the times are datetime64: time must be one too, got "
                                f"{time!r}") from None
            edges = edges.astype(np.int64)
        else:
            t = check_real(time, "time")
        return int(np.clip(np.searchsorted(edges, t, side="right") - 1, 0, last))

    def to_lowrank(self, time=None):
        """The user x item matrix at one time bin of a 3-way model, as a LowRank
        with mean and biases folded in: ``to_lowrank(time).entries(i, j)`` is
        ``predict_at(i, j, time=time)`` at positions, so ``lorank.Recommender``-style
        top-N and the LowRank products apply to "what user u would rate now".

        Parameters
        ----------
        time : time value, label of the last mode, or None
            As in :meth:`predict_at`; ``None`` is the last bin.

        Returns
        -------
        LowRank
            Left ``[A_0 ∘ A_2[b], b_0 + μ + b_2[b], 1]``, right ``[A_1, 1, b_1]``.
        """
        (A, B, C), (u, c, t), b = self._at_time(time, "to_lowrank")
        dt = A.dtype
        left = np.column_stack([A * C[b], (u + self.mean_ + t[b]).astype(dt),
                                np.ones(len(A), dt)])
        right = np.column_stack([B, np.ones(len(B), dt), c])
        return LowRank(left, right)

    def at(self, time=None):
        """The user x item model at one time bin of a 3-way model, as a fitted
        :class:`lorank.ALS`: what ``lorank.Recommender`` serves "now".

        Its factors are ``A_0`` (users) and ``A_1 ∘ A_2[b]`` (items at bin b), its
        biases ``b_0``, ``b_1`` and mean ``μ + b_2[b]``, so its predictions are
        :meth:`predict_at` at that time (not clipped), its item factors the
        items' embeddings at that time (``similar_items``), and
        ``Recommender.fold_in`` solves a new user's row with its ridge rule
        (CPALS's: that of the user-mode update, λ = reg·count^α; BayesianCP's:
        ALS's default reg). Labels are the first two modes'. Calling its ``fit``
        would fit a plain matrix ALS with those hyperparameters.

        Parameters
        ----------
        time : time value, label of the last mode, or None
            As in :meth:`predict_at`; ``None`` is the last bin.

        Returns
        -------
        ALS

        Examples
        --------
        >>> import numpy as np, lorank
        >>> R = lorank.Ratings([0, 0, 1, 1, 2], [0, 1, 0, 2, 1], [5.0, 3.0, 4.0, 1.0, 2.0],
        ...                    times=[10, 20, 30, 40, 50])
        >>> T = R.to_tensor(2)
        >>> model = lorank.CPALS(1, random_state=0, init="random").fit(T)
        >>> rec = lorank.Recommender.from_model(model.at(), T.to_ratings())
        >>> items, scores = rec.recommend(0, n=1)          # user 0's best unseen item now
        >>> bool(np.isclose(scores[0], model.predict_at([0], items)[0]))
        True
        """
        from .als import ALS

        (A, B, C), (u, c, t), b = self._at_time(time, "at")
        model = ALS(**self._at_params())
        model.factors_ = LowRank(A.copy(), np.ascontiguousarray(B * C[b]))
        model.row_bias_, model.col_bias_ = u.copy(), c.copy()
        model.mean_ = float(self.mean_ + t[b]) if self.biases else 0.0
        model.labels_ = tuple(LabelIndex(self.labels_[m].raw, self.shape_[m], name=name)
                              for m, name in ((0, "user"), (1, "item")))
        model.rating_range_ = None
        model.n_iter_ = self.n_iter_
        model._lowrank = None
        return model

    def _at_time(self, time, what):
        """(factors, biases, time position) of a fitted 3-way model (user x item x
        time); ValueError naming ``what`` for other models."""
        self._check_fitted()
        if len(self.factors_) != 3:
            raise ValueError(
                f"{what} needs a 3-way model (user x item x time), this one has "
                f"{len(self.factors_)} modes"
            )
        return self.factors_, self.biases_, self._time_position(time)

    def score(self, X, y=None):
        """Negative RMSE on the observed entries of a ``TensorRatings`` (by position,
        the same shape as the training tensor)."""
        self._check_fitted()
        T = _as_tensor(X, None, "X")
        if T.shape != self.shape_:
            raise ValueError(f"X has shape {T.shape} but the model was fitted on {self.shape_}")
        return -self._score(T)

    def _score(self, T):
        """RMSE of predict_positions on ``T`` (a TensorRatings of the model's shape:
        its positions are in range by construction), by the compiled squared
        error (with predict_positions' clipping, if the model clips)."""
        if T.nnz == 0:
            return np.nan
        V = T.astype(self.factors_[0].dtype).view(0)  # mode 0 compressed, the rest
        bounds = getattr(self, "rating_range_", None)  # as predict_positions clips
        lo, hi = bounds if getattr(self, "clip", False) and bounds is not None else (-np.inf,
                                                                                    np.inf)
        sse = _sparse.cp_sse([np.ascontiguousarray(A) for A in self.factors_],
                             [np.ascontiguousarray(b) for b in self.biases_],
                             V.indptr, V.indices, self.mean_, V.values,
                             effective_n_threads(self.n_threads), lo, hi)
        return float(np.sqrt(sse / T.nnz))

    def _check_positions(self, indices):
        N = len(self.factors_)
        idx = _index_tuple(indices, N)
        out = []
        for m, i in enumerate(idx):
            i = np.asarray(i)
            if i.dtype.kind not in "iu":
                raise TypeError(f"indices[{m}] must hold integers, got dtype {i.dtype}")
            if i.size and (i.min() < 0 or i.max() >= self.shape_[m]):
                bad = int(i.min()) if i.min() < 0 else int(i.max())
                raise ValueError(
                    f"indices[{m}] contains position {bad}, outside mode {m} of size "
                    f"{self.shape_[m]}"
                )
            out.append(i.ravel())
        if len({len(i) for i in out}) > 1:
            raise ValueError(
                "indices must have equal lengths, got " + ", ".join(str(len(i)) for i in out)
            )
        return out

    def _positions(self, indices):
        """Labels -> positions per mode (a mode without labels takes positions)."""
        idx = _index_tuple(indices, len(self.factors_))
        return tuple(label_positions(self.labels_[m], i) for m, i in enumerate(idx))


def _tensor_gate(X, validation, dtype):
    """(X, validation or None) as ``TensorRatings`` in ``dtype``, the validation
    data of the same shape and labels; TypeError/ValueError otherwise."""
    T = _as_tensor(X, dtype, "X")
    valid = None
    if validation is not None:
        valid = _as_tensor(validation, dtype, "validation")
        if valid.shape != T.shape:
            raise ValueError(
                f"validation has shape {valid.shape} but X has shape {T.shape}"
            )
        for m, (a, b) in enumerate(zip(T.labels, valid.labels)):
            if not LabelIndex(a, T.shape[m]).same_as(LabelIndex(b, T.shape[m])):
                raise ValueError(
                    f"validation names the positions of mode {m} with other labels "
                    "than X; split one TensorRatings (split, kfold) to keep them aligned"
                )
    return T, valid


def _mode_labels(labels, shape):
    """One LabelIndex per mode (a fitted CP model's ``labels_``); ``None`` labels
    a mode by position."""
    return tuple(LabelIndex(lab, n, name=f"mode {m} label")
                 for m, (lab, n) in enumerate(zip(labels, shape)))


def _index_tuple(indices, N):
    if isinstance(indices, np.ndarray) and indices.ndim == 2 and len(indices) == N:
        return tuple(indices)
    if not isinstance(indices, (tuple, list)) or len(indices) != N:
        raise TypeError(
            f"indices must be a tuple of {N} index arrays (one per mode), got {indices!r}"[:200]
        )
    return tuple(indices)


def _as_tensor(X, dtype, name):
    if not isinstance(X, TensorRatings):
        raise TypeError(
            f"{name} must be a lorank.TensorRatings (e.g. Ratings.to_tensor(time_bins) or "
            f"TensorRatings(indices, values)), got {type(X).__name__}"
        )
    return X if dtype is None else X.astype(dtype)


def largest_two(shape):
    """The two largest modes of ``shape``, largest first (ties: the lower mode)."""
    order = sorted(range(len(shape)), key=lambda m: (-shape[m], m))
    return order[0], order[1]


# ---------------------------------------------------------------- files

def to_arrays(model):
    """(arrays, header) of a fitted CP model, for :func:`lorank.io.save`."""
    from ._estimator import _json_param, get_params, storable_labels

    model._check_fitted()
    arrays = {}
    for m, (A, b) in enumerate(zip(model.factors_, model.biases_)):
        arrays[f"factor_{m}"] = A
        arrays[f"bias_{m}"] = b
        if model.labels_[m].labelled:
            arrays[f"labels_{m}"] = storable_labels(model.labels_[m].raw, f"mode {m}")
    arrays["mean"] = np.float64(model.mean_)
    if model.time_edges_ is not None:
        arrays["time_edges"] = model.time_edges_
    header = {
        "class": type(model).__name__,
        "params": {k: _json_param(v) for k, v in get_params(model).items()},
        "dtype": model.factors_[0].dtype.name,
        "shape": list(model.shape_),
        "n_iter": int(model.n_iter_),
        "history": {k: [x if isinstance(x, int) else float(x) for x in v]
                    for k, v in model.history_.items()},
    }
    return arrays, header


def from_arrays(cls, arrays, header, source="file"):
    """A fitted ``cls`` model rebuilt from :func:`to_arrays` output (every array
    checked against its ``LAYOUTS`` entry first)."""
    from ._estimator import _param_value
    from ._model_files import check_model

    arrays = check_model(cls, arrays, header, source)

    shape = header.get("shape")
    if not isinstance(shape, list) or len(shape) < 2:
        raise ValueError(f"{source}: the {cls.__name__} model has no valid shape in its header")
    model = cls(**{k: _param_value(v) for k, v in header.get("params", {}).items()})
    factors, biases = [], []
    for m, n in enumerate(shape):
        for name in (f"factor_{m}", f"bias_{m}"):
            if name not in arrays:
                raise ValueError(f"{source}: the {cls.__name__} model has no {name!r} array")
        A, b = arrays[f"factor_{m}"], arrays[f"bias_{m}"]
        if A.ndim != 2 or A.shape[0] != n or b.shape != (n,) or not np.isfinite(A).all():
            raise ValueError(f"{source}: factor_{m} / bias_{m} do not match shape[{m}] = {n}")
        factors.append(A)
        biases.append(b)
    if len({A.shape[1] for A in factors}) != 1:
        raise ValueError(f"{source}: the {cls.__name__} factors have different ranks")
    model.factors_, model.biases_ = factors, biases
    model.mean_ = float(arrays["mean"])
    model.shape_ = tuple(int(n) for n in shape)
    model.labels_ = _mode_labels([arrays.get(f"labels_{m}") for m in range(len(shape))],
                                 model.shape_)
    model.time_edges_ = arrays.get("time_edges")
    model.n_iter_ = header.get("n_iter", 0)
    model.history_ = {k: list(v) for k, v in header.get("history", {}).items()}
    return model

