"""``Recommender``: a fitted completion model with labels, filtering and top-k."""

import numbers

import numpy as np

from . import _estimator, _topk, io
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import check_int
from .als import reg_exponent
from .ratings import Ratings, _format_labels, as_ratings

__all__ = ["Recommender"]

# Rows scored per GEMM block in recommend_all: block x n_items scores per thread
# (16 x 17,770 float32 is 1.1 MB, inside a core's L2 cache).
_BLOCK = 16


class _Labels:
    """Labels <-> indices for one side (users or items)."""

    def __init__(self, labels, size):
        self.labels = np.arange(size) if labels is None else np.asarray(labels)
        self._map = None

    def lookup(self, labels):
        """Indices of ``labels`` (array, -1 where unknown), and whether one label was given."""
        many = isinstance(labels, (list, tuple, np.ndarray, range))
        items = list(labels) if many else [labels]
        if self._map is None:
            self._map = {x: k for k, x in enumerate(self.labels.tolist())}
        codes = np.empty(len(items), dtype=np.int64)
        for t, x in enumerate(items):
            try:
                codes[t] = self._map.get(x, -1)
            except TypeError:  # unhashable
                codes[t] = -1
        return codes, items, many

    def index(self, labels, what):
        codes, items, many = self.lookup(labels)
        missing = [x for x, c in zip(items, codes) if c < 0]
        if missing:
            raise KeyError(f"unknown {what}: {_format_labels(missing)}")
        return codes if many else int(codes[0])

    def of(self, idx):
        return self.labels[idx]


class Recommender:
    """Predictions and recommendations by labels from a completion model.

    Parameters
    ----------
    model : estimator, default=None
        An unfitted model with ALS's protocol (``fit(Ratings)``, then
        ``factors_``, optional ``row_bias_``, ``col_bias_``, ``mean_``);
        ``None`` means ``ALS()``. Rows are users, columns items.
    n_threads : int, default=None
        Threads for scoring and top-k (``None``: all usable cores). Results do
        not depend on it.

    Attributes
    ----------
    model_ : estimator
        The fitted model.
    user_labels, item_labels : ndarray
        The training ``Ratings``' labels (indices when it had none).
    seen_ : SparseView
        The training pattern (CSR), used to filter seen items.

    Examples
    --------
    >>> import lorank
    >>> R = lorank.Ratings.from_labels(
    ...     ["ann", "ann", "bob", "bob", "cy", "cy"], ["x", "y", "y", "z", "x", "z"],
    ...     [5, 4, 4, 1, 5, 2])
    >>> rec = lorank.Recommender(lorank.ALS(1, random_state=0)).fit(R)
    >>> items, scores = rec.recommend("ann", n=2)
    >>> items.tolist()        # ann has seen x and y
    ['z']
    """

    def __init__(self, model=None, *, n_threads=None):
        self.model = model
        self.n_threads = n_threads

    # ------------------------------------------------------------ fitting

    def fit(self, ratings):
        """Fit the model on ``ratings`` and keep its labels and pattern.

        Parameters
        ----------
        ratings : Ratings (labelled or not), or any input ``Ratings`` accepts

        Returns
        -------
        self
        """
        from .als import ALS

        ratings = as_ratings(ratings, name="ratings")
        model = ALS() if self.model is None else _estimator.clone(self.model)
        model.fit(ratings)
        return self._set(model, ratings.row_labels, ratings.col_labels, ratings.shape,
                         ratings.csr.indptr, ratings.csr.indices)

    def _set(self, model, user_labels, item_labels, shape, indptr, indices):
        self.model_ = model
        self._users = _Labels(user_labels, shape[0])
        self._items = _Labels(item_labels, shape[1])
        self._seen = (np.asarray(indptr, np.int64), np.asarray(indices))
        self._augmented = None
        return self

    @classmethod
    def from_model(cls, model, ratings):
        """Wrap an already fitted model; ``ratings`` gives labels and the seen pattern."""
        ratings = as_ratings(ratings, name="ratings")
        L, R = model.factors_.left, model.factors_.right
        if (len(L), len(R)) != ratings.shape:
            raise ValueError(
                f"the model has {len(L)} x {len(R)} factors but ratings has shape {ratings.shape}"
            )
        return cls(model)._set(model, ratings.row_labels, ratings.col_labels, ratings.shape,
                               ratings.csr.indptr, ratings.csr.indices)

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise AttributeError("this Recommender is not fitted yet; call fit first")

    def _factors(self):
        if self._augmented is None:
            self._augmented = _estimator.augmented(self.model_)
        return self._augmented

    @property
    def user_labels(self):
        self._check_fitted()
        return self._users.labels

    @property
    def item_labels(self):
        self._check_fitted()
        return self._items.labels

    @property
    def seen_(self):
        self._check_fitted()
        return self._seen

    @property
    def user_factors(self):
        """``(labels, factors)``: the users' embeddings (m x r), row k for labels[k]."""
        self._check_fitted()
        return self._users.labels, self.model_.factors_.left

    @property
    def item_factors(self):
        """``(labels, factors)``: the items' embeddings (n x r), row k for labels[k]."""
        self._check_fitted()
        return self._items.labels, self.model_.factors_.right

    # ------------------------------------------------------------ predictions

    def predict(self, users, items, *, unknown="error"):
        """Predicted ratings of ``(users[t], items[t])`` by labels.

        Parameters
        ----------
        users, items : label or sequence of labels, same length
        unknown : {"error", "bias"}, default="error"
            ``"error"``: unknown labels raise ``KeyError`` naming them.
            ``"bias"``: an unknown user gets ``mean + item bias``, an unknown
            item ``mean + user bias``, both unknown ``mean``.

        Returns
        -------
        float or ndarray
        """
        self._check_fitted()
        if unknown not in ("error", "bias"):
            raise ValueError(f'unknown must be "error" or "bias", got {unknown!r}')
        rows, uitems, many_u = self._users.lookup(users)
        cols, iitems, many_i = self._items.lookup(items)
        if many_i and not many_u:  # one user, many items (or the reverse)
            rows, uitems = np.repeat(rows, len(cols)), uitems * len(cols)
        elif many_u and not many_i:
            cols, iitems = np.repeat(cols, len(rows)), iitems * len(rows)
        if len(rows) != len(cols):
            raise ValueError(
                f"users and items must have the same length, got {len(rows)} and {len(cols)}"
            )
        if unknown == "error":
            for codes, labels, what in ((rows, uitems, "users"), (cols, iitems, "items")):
                missing = [x for x, c in zip(labels, codes) if c < 0]
                if missing:
                    raise KeyError(f"unknown {what}: {_format_labels(missing)}")
        ok = (rows >= 0) & (cols >= 0)
        L, R = self._factors()
        out = np.empty(len(rows), dtype=L.dtype)
        if ok.all():
            out[:] = self._entries(rows, cols)
        else:
            _, _, u, c, mean = _estimator.parts(self.model_)
            out[ok] = self._entries(rows[ok], cols[ok])
            base = np.full(len(rows), mean)
            base[rows >= 0] += u[rows[rows >= 0]]
            base[cols >= 0] += c[cols[cols >= 0]]
            out[~ok] = base[~ok]
        return out if (many_u or many_i) else out[0].item()

    def _entries(self, rows, cols):
        if hasattr(self.model_, "predict"):
            return self.model_.predict(rows, cols)
        from .lowrank import LowRank

        return LowRank(*self._factors()).entries(rows, cols, n_threads=self.n_threads)

    # ------------------------------------------------------------ top-k

    def recommend(self, user, n=10, *, filter_seen=True, items=None, worst=False):
        """The ``n`` best (or worst) items for one user, best first.

        Parameters
        ----------
        user : label
        n : int, default=10
        filter_seen : bool, default=True
            Leave out items the user rated in the training data.
        items : sequence of labels, default=None
            Rank only these candidate items (default: all items).
        worst : bool, default=False
            The bottom of the list instead, lowest predicted score first.

        Returns
        -------
        labels : ndarray
            At most ``n`` item labels (fewer when fewer items are eligible).
        scores : ndarray
            Their predicted ratings. Equal scores are ordered by item index.
        """
        self._check_fitted()
        n = check_int(n, "n", minimum=0)
        i = self._users.index(user, "users")
        L, R = self._factors()
        cand = None
        if items is not None:
            cand = np.atleast_1d(self._items.index(list(items), "items"))
            if len(np.unique(cand)) != len(cand):
                raise ValueError("items contains an item twice")
            R = R[cand]
        scores = (R @ L[i])[None, :]
        excl = np.empty(0, np.int64)
        if filter_seen:
            indptr, indices = self._seen
            excl = indices[indptr[i]:indptr[i + 1]]
            if cand is not None:
                excl = np.flatnonzero(np.isin(cand, excl))
        idx, val = _top(scores, np.array([0, len(excl)], np.int64),
                        np.ascontiguousarray(excl, np.int64), n, worst, 1)
        keep = idx[0] >= 0
        idx, val = idx[0][keep], val[0][keep]
        if cand is not None:
            idx = cand[idx]
        return self._items.of(idx), val

    def recommend_all(self, n=10, *, filter_seen=True, worst=False, batch_size=None):
        """Top ``n`` item indices and scores for every user.

        Users are scored in blocks (one GEMM of ``block`` users x all items per
        thread, kept in cache) and each row's top n is taken by a compiled
        heap that skips the user's seen items; memory beyond the output is
        ``threads x block x n_items`` scores.

        Parameters
        ----------
        n : int, default=10
        filter_seen : bool, default=True
        worst : bool, default=False
        batch_size : int, default=None
            Users per output batch; bounds the temporary output of each call
            to the kernel (``None``: all users in one call).

        Returns
        -------
        items : ndarray of int32, shape (m, n)
            Item indices (``item_labels[items]`` for labels), best first; -1
            pads rows with fewer than n eligible items.
        scores : ndarray, shape (m, n)
            Predicted ratings (NaN where padded).
        """
        self._check_fitted()
        n = check_int(n, "n", minimum=0)
        L, R = self._factors()
        m = len(L)
        batch = m if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
        indptr, indices = self._seen
        if not filter_seen:
            indptr, indices = np.zeros(m + 1, np.int64), np.empty(0, np.int32)
        out_idx = np.empty((m, n), np.int32)
        out_val = np.empty((m, n), L.dtype)
        threads = effective_n_threads(self.n_threads)
        with single_threaded_blas():
            for start in range(0, m, batch):
                stop = min(m, start + batch)
                _topk.score_topk(L, R, indptr, indices, start, stop, _BLOCK, bool(worst),
                                 out_idx[start:stop], out_val[start:stop], threads)
        return out_idx, out_val

    # ------------------------------------------------------------ similarity

    def similar_items(self, item, n=10):
        """The ``n`` items whose factors have the highest cosine similarity
        with ``item``'s (itself excluded): ``(labels, similarities)``."""
        self._check_fitted()
        j = self._items.index(item, "items")
        idx, sim = _cosine_top(self.model_.factors_.right, j, n)
        return self._items.of(idx), sim

    def similar_users(self, user, n=10):
        """The ``n`` users most similar to ``user`` by cosine of their factors."""
        self._check_fitted()
        i = self._users.index(user, "users")
        idx, sim = _cosine_top(self.model_.factors_.left, i, n)
        return self._users.of(idx), sim

    # ------------------------------------------------------------ new users

    def fold_in(self, items, ratings):
        """Factor (and bias) of a user not in the training data, from their ratings.

        One ridge solve with the trained item factors fixed, by the model's
        rule: for ALS, minimize ``Σ_j (x_j − μ − c_j − u − aᵀb_j)² + λ (‖a‖² + u²)``
        with ``λ = reg · (number of ratings)^α`` (α from ``weighted_reg``: 1 for
        True, 0 for False) — the same equations ALS solves for a training row.
        For SoftImpute, the bias is unpenalized, as its centering is: ``u`` is
        the mean of ``x_j − μ − c_j``, then ``a`` minimizes
        ``Σ_j (x_j − μ − c_j − u − aᵀb_j)² + λ ‖a‖²`` with λ its ``reg`` (at the
        soft-impute solution, the condition each training row satisfies).

        Parameters
        ----------
        items : sequence of item labels
        ratings : sequence of float, same length

        Returns
        -------
        factor : ndarray, shape (r,)
        bias : float
            0 when the model has no biases.
        """
        self._check_fitted()
        cols = np.atleast_1d(self._items.index(list(items), "items"))
        x = np.asarray(ratings, dtype=np.float64).ravel()
        if len(x) != len(cols):
            raise ValueError(
                f"items and ratings must have the same length, got {len(cols)} and {len(x)}"
            )
        if len(np.unique(cols)) != len(cols):
            raise ValueError("items contains an item twice")
        if not np.isfinite(x).all():
            raise ValueError("ratings must be finite")
        hook = getattr(self.model_, "fold_in_positions", None)
        if hook is not None:  # a model with its own rule (ImplicitALS: recalculate_user)
            return hook(cols, x)
        _, R, _, c, mean = _estimator.parts(self.model_)
        biases = _estimator.has_biases(self.model_)
        reg = float(getattr(self.model_, "reg", 0.0))
        lam = reg * len(cols) ** reg_exponent(getattr(self.model_, "weighted_reg", False))
        B = R[cols].astype(np.float64)
        target = x - (mean + c[cols] if biases else 0.0)
        centered = biases and not self.model_._penalized_bias
        if centered:
            u = float(target.mean())
            target = target - u
        elif biases:
            B = np.hstack([B, np.ones((len(B), 1))])
        G = B.T @ B + lam * np.eye(B.shape[1])
        try:
            z = np.linalg.solve(G, B.T @ target)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError(
                f"fold-in with {len(cols)} ratings has singular normal equations; "
                "give more ratings or use a model with reg > 0"
            ) from None
        dt = R.dtype
        if centered:
            return z.astype(dt), u
        return (z[:-1].astype(dt), float(z[-1])) if biases else (z.astype(dt), 0.0)

    def recommend_new(self, items, ratings, n=10, *, worst=False):
        """Recommendations for a new user given their ratings (see :meth:`fold_in`);
        the rated items are left out. Returns ``(labels, scores)`` best first."""
        a, u = self.fold_in(items, ratings)
        _, R, _, c, mean = _estimator.parts(self.model_)
        scores = (R @ a + (c + (mean + u))).astype(R.dtype)[None, :]
        excl = np.sort(np.atleast_1d(self._items.index(list(items), "items")))
        idx, val = _top(scores, np.array([0, len(excl)], np.int64), excl, n, worst, 1)
        keep = idx[0] >= 0
        return self._items.of(idx[0][keep]), val[0][keep]

    # ------------------------------------------------------------ files

    def save(self, path):
        """Save model, labels and training pattern to ``path`` (see ``lorank.load``)."""
        self._check_fitted()
        arrays, header = _estimator.to_arrays_of(self.model_)
        arrays = {"model." + k: v for k, v in arrays.items()}
        labels = {}
        for side, lab in (("user", self._users.labels), ("item", self._items.labels)):
            arrays[side + "_labels"] = _storable_labels(lab, side)
            labels[side] = arrays[side + "_labels"].dtype.kind
        arrays["seen_indptr"], arrays["seen_indices"] = self._seen
        io.save(path, arrays, {"class": "Recommender", "model": header, "labels": labels,
                               "n_threads": self.n_threads})


def _storable_labels(labels, side):
    labels = np.asarray(labels)
    if labels.dtype.kind in "iuU":
        return labels
    if labels.dtype.kind == "O":
        if all(isinstance(x, str) for x in labels):
            return labels.astype(str)
        if all(isinstance(x, numbers.Integral) for x in labels):
            return labels.astype(np.int64)
    raise TypeError(
        f"{side} labels of dtype {labels.dtype} cannot be saved: use str or int labels"
    )


def _recommender_from_arrays(cls, arrays, header, source="file"):
    model_header = header.get("model") or {}
    name = model_header.get("class")
    if name not in _estimator._CLASSES:
        raise ValueError(f"{source}: unknown model class {name!r}")
    _, frm, mcls = _estimator._CLASSES[name]
    sub = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    model = frm(mcls, sub, model_header, source)
    for key in ("user_labels", "item_labels", "seen_indptr", "seen_indices"):
        if key not in arrays:
            raise ValueError(f"{source}: the Recommender has no {key!r} array")
    shape = (len(arrays["user_labels"]), len(arrays["item_labels"]))
    factors = model.factors_
    if (factors.left.shape[0], factors.right.shape[0]) != shape:
        raise ValueError(
            f"{source}: {shape[0]} user and {shape[1]} item labels for a model with "
            f"{factors.left.shape[0]} x {factors.right.shape[0]} factors"
        )
    # The seen pattern reaches compiled code: check it as Ratings.from_csr would.
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    if (indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu"
            or indptr.ndim != 1 or indices.ndim != 1 or len(indptr) != shape[0] + 1):
        raise ValueError(f"{source}: the seen pattern is damaged (wrong dtype or length)")
    indptr = indptr.astype(np.int64)
    if (indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any()
            or (len(indices) and (indices.min() < 0 or indices.max() >= shape[1]))):
        raise ValueError(f"{source}: the seen pattern is damaged (indices out of range)")
    return cls(model, n_threads=header.get("n_threads"))._set(
        model, arrays["user_labels"], arrays["item_labels"], shape, indptr, indices)


_estimator._CLASSES["Recommender"] = (None, _recommender_from_arrays, Recommender)


def _top(scores, excl_indptr, excl_indices, n, worst, n_threads):
    idx = np.empty((scores.shape[0], n), np.int32)
    val = np.empty((scores.shape[0], n), scores.dtype)
    _topk.topk(np.ascontiguousarray(scores), excl_indptr, excl_indices, bool(worst),
               idx, val, n_threads)
    return idx, val


def _cosine_top(F, k, n):
    n = check_int(n, "n", minimum=0)
    F = F.astype(np.float64)
    norms = np.linalg.norm(F, axis=1)
    sim = F @ F[k]
    denom = norms * norms[k]
    sim = np.divide(sim, denom, out=np.zeros_like(sim), where=denom > 0)
    idx, val = _top(sim[None, :], np.array([0, 1], np.int64), np.array([k], np.int64),
                    n, False, 1)
    keep = idx[0] >= 0
    return idx[0][keep], val[0][keep]
