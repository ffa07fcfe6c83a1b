"""``Recommender``: a fitted completion model with labels, filtering and top-k."""

import numpy as np

from .models import _estimator
from ._kernels import _topk
from . import io
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import check_int
from .models.als import reg_exponent
from .data._labels import is_many
from .data.ratings import Ratings, as_ratings

__all__ = ["Recommender"]

# Rows scored per GEMM block in recommend_all: block x n_items scores per thread
# (16 x 17,770 float32 is 1.1 MB, inside a core's L2 cache).
_BLOCK = 16
# Scores formed at once by recommend() for a list of users (4M: 16 MB in float32).
_CHUNK = 1 << 22


class Recommender:
    """Predictions and recommendations by labels from a completion model.

    The Recommender adds the training pattern (to leave out seen items) and
    top-k ranking to a model; it answers by the model's own labels (one
    label index, ``model_.labels_``), so ``Recommender.predict`` and
    ``model.predict`` are the same function.

    Parameters
    ----------
    model : estimator, default=None
        An unfitted lorank model (``ALS``, ``SoftImpute``, ...); ``None`` means
        ``ALS()``. Rows are users, columns items.
    n_threads : int, default=None
        Threads for scoring and top-k (``None``: all usable cores). Results do
        not depend on it.

    Attributes
    ----------
    model_ : estimator
        The fitted model.
    user_labels, item_labels : ndarray
        The training data's labels (positions when it had none).
    seen_ : (indptr, indices)
        The training pattern (CSR, positions), used to filter seen items.

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
    >>> items, scores = rec.recommend(["ann", "bob"], n=1)   # a batch: 2-D
    >>> items.tolist()
    [['z'], ['x']]
    """

    def __init__(self, model=None, *, n_threads=None):
        self.model = model
        self.n_threads = n_threads

    # ------------------------------------------------------------ fitting

    def fit(self, ratings, *, columns=None):
        """Fit the model on ``ratings`` and keep its training pattern.

        Parameters
        ----------
        ratings : Ratings (labelled or not), DataFrame, or any input ``Ratings`` accepts
        columns : (str, str, str), default=None
            The user, item and rating columns of a DataFrame.

        Returns
        -------
        self
        """
        from .models.als import ALS

        ratings = as_ratings(ratings, name="ratings", columns=columns)
        model = ALS() if self.model is None else _estimator.clone(self.model)
        model.fit(ratings)
        return self._set(model, ratings.csr.indptr, ratings.csr.indices)

    def _set(self, model, indptr, indices):
        self.model_ = model
        self._users = model._label_index(0)
        self._items = model._label_index(1)
        indptr = np.asarray(indptr, np.int64)
        if len(indptr) != len(self._users) + 1:
            raise ValueError(f"the seen pattern has {len(indptr) - 1} rows for "
                             f"{len(self._users)} users")
        self._seen = (indptr, np.asarray(indices))
        self._augmented = None
        return self

    @classmethod
    def from_model(cls, model, ratings):
        """Wrap an already fitted model; ``ratings`` (by the model's labels, e.g.
        all the data a held-out split came from) gives the seen pattern."""
        ratings = as_ratings(ratings, name="ratings")
        _estimator.check_fitted(model)
        L, R = model.factors_.left, model.factors_.right
        if ratings.row_labels is None and ratings.col_labels is None:
            if (len(L), len(R)) != ratings.shape:
                raise ValueError(
                    f"the model has {len(L)} x {len(R)} factors but ratings has shape "
                    f"{ratings.shape}"
                )
            return cls(model)._set(model, ratings.csr.indptr, ratings.csr.indices)
        rows, cols = model._positions_of(ratings)
        for what, codes in (("users", rows), ("items", cols)):
            if codes.size and codes.min() < 0:
                raise ValueError(f"ratings has {what} the model was not fitted on; pass the "
                                 "ratings the model was fitted on (or a superset of them "
                                 "by the same labels)")
        seen = Ratings(rows, cols, np.zeros(len(rows)), (len(L), len(R)))
        return cls(model)._set(model, seen.csr.indptr, seen.csr.indices)

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise _estimator.NotFittedError("this Recommender is not fitted yet; call fit first")

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

    def predict(self, users, items=None, *, unknown="error"):
        """Predicted ratings of ``(users[t], items[t])`` by labels: the model's
        :meth:`~lorank.ALS.predict` (``unknown="bias"`` falls back to the
        biases for labels it does not know).

        Returns
        -------
        float or ndarray
        """
        self._check_fitted()
        return self.model_.predict(users, items, unknown=unknown)

    # ------------------------------------------------------------ top-k

    def recommend(self, users, n=10, *, filter_seen=True, items=None, worst=False,
                  user_items=None):
        """The ``n`` best (or worst) items for a user, or for each of a list of users.

        Parameters
        ----------
        users : label, or sequence of labels
            One user gives 1-D results; a list gives 2-D results, one row per
            user (padded: see Returns).
        n : int, default=10
            Capped at the number of items.
        filter_seen : bool, default=True
            Leave out the items each user rated in the training data (or those
            of ``user_items``).
        items : sequence of labels, default=None
            Rank only these candidate items (default: all items). A str is one
            label.
        worst : bool, default=False
            The bottom of the list instead, lowest predicted score first.
        user_items : sequence, or scipy.sparse matrix, default=None
            The items to leave out instead of the training pattern (implicit's
            ``user_items``): for one user a sequence of item labels, for a list
            of users a sequence of such sequences, or a scipy.sparse matrix
            with one row per requested user over the model's item positions.

        Returns
        -------
        labels : ndarray, shape (k,) or (len(users), n)
            Item labels, best first. One user: at most ``n`` (fewer when fewer
            items are eligible). A batch: rows padded where fewer are eligible
            (-1 for integer labels, "" for strings, None otherwise).
        scores : ndarray
            Their predicted ratings (NaN where padded). Equal scores are
            ordered by item position.
        """
        self._check_fitted()
        n = min(check_int(n, "n", minimum=0), len(self._items))
        many = is_many(users)
        rows = np.atleast_1d(self._users.positions(users, "user"))
        cand = None
        if items is not None:
            cand = np.atleast_1d(self._items.positions(items, "item"))
            if len(np.unique(cand)) != len(cand):
                raise ValueError("items contains an item twice")
            n = min(n, len(cand))
        excl_indptr, excl = self._exclusions(rows, filter_seen, user_items, many)
        L, R = self._factors()
        if cand is not None:
            R = R[cand]
            if len(excl):  # exclusions as candidate positions
                keep, mapped = _map_to_candidates(excl_indptr, excl, cand)
                excl_indptr, excl = keep, mapped
        # Users in chunks of about _CHUNK scores, so a long list never forms a
        # users x items matrix at once.
        step = max(1, _CHUNK // max(1, R.shape[0]))
        idx = np.empty((len(rows), n), np.int32)
        val = np.empty((len(rows), n), L.dtype)
        for lo in range(0, len(rows), step):
            hi = min(len(rows), lo + step)
            with single_threaded_blas():
                scores = L[rows[lo:hi]] @ R.T
            ptr = excl_indptr[lo:hi + 1]
            idx[lo:hi], val[lo:hi] = _top(scores, ptr - ptr[0], excl[ptr[0]:ptr[-1]], n,
                                          worst, 1)
        if cand is not None:
            idx = np.where(idx >= 0, cand[np.maximum(idx, 0)], -1)
        if not many:
            keep = idx[0] >= 0
            return self._items.label_of(idx[0][keep]), val[0][keep]
        return self._labels_padded(idx), val

    def _exclusions(self, rows, filter_seen, user_items, many):
        """(indptr, indices) of the item positions to leave out, per requested row."""
        if not filter_seen:
            return np.zeros(len(rows) + 1, np.int64), np.empty(0, np.int64)
        if user_items is None:
            indptr, indices = self._seen
            counts = indptr[rows + 1] - indptr[rows]
            out_ptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
            parts = [indices[indptr[i]:indptr[i + 1]] for i in rows]
            out = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
            return out_ptr, out
        if hasattr(user_items, "tocsr"):
            S = user_items.tocsr()
            if S.shape != (len(rows), len(self._items)):
                raise ValueError(f"user_items must have shape ({len(rows)}, {len(self._items)}) "
                                 f"(one row per user, the model's item positions), got {S.shape}")
            S.sort_indices()
            return S.indptr.astype(np.int64), S.indices.astype(np.int64)
        lists = list(user_items) if many else [user_items]
        if len(lists) != len(rows):
            raise ValueError(f"user_items has {len(lists)} entries for {len(rows)} users")
        parts = [np.unique(np.atleast_1d(self._items.positions(x, "item")))
                 if is_many(x) else np.atleast_1d(self._items.positions(x, "item"))
                 for x in lists]
        out_ptr = np.concatenate(([0], np.cumsum([len(p) for p in parts]))).astype(np.int64)
        out = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
        return out_ptr, out

    def _labels_padded(self, idx):
        labels = self._items.labels
        fill = -1 if labels.dtype.kind in "iu" else ("" if labels.dtype.kind == "U" else None)
        out = labels[np.maximum(idx, 0)]
        if (idx < 0).any():
            if fill is None:
                out = out.astype(object)
            out[idx < 0] = fill
        return out

    def recommend_all(self, n=10, *, filter_seen=True, worst=False, batch_size=None):
        """Top ``n`` item labels and scores for every user (row k: ``user_labels[k]``).

        See :meth:`recommend_all_positions`, which this wraps; labels where a
        row has fewer than ``n`` eligible items are padded (-1 for integer
        labels, "" for strings, None otherwise; the score there is NaN).

        Returns
        -------
        labels : ndarray, shape (m, min(n, n_items))
        scores : ndarray, shape (m, min(n, n_items))
        """
        idx, val = self.recommend_all_positions(n, filter_seen=filter_seen, worst=worst,
                                                batch_size=batch_size)
        return self._labels_padded(idx), val

    def recommend_all_positions(self, n=10, *, filter_seen=True, worst=False, batch_size=None):
        """Top ``n`` item *positions* and scores for every user position.

        Users are scored in blocks (one GEMM of ``block`` users x all items per
        thread, kept in cache) and each row's top n is taken by a compiled
        heap that skips the user's seen items; memory beyond the output is
        ``threads x block x n_items`` scores.

        Parameters
        ----------
        n : int, default=10
            Capped at the number of items.
        filter_seen : bool, default=True
        worst : bool, default=False
        batch_size : int, default=None
            Users per output batch; bounds the temporary output of each call
            to the kernel (``None``: all users in one call).

        Returns
        -------
        items : ndarray of int32, shape (m, min(n, n_items))
            Item positions (``item_labels[items]`` for labels), best first; -1
            pads rows with fewer eligible items.
        scores : ndarray, shape (m, min(n, n_items))
            Predicted ratings (NaN where padded).
        """
        self._check_fitted()
        n = min(check_int(n, "n", minimum=0), len(self._items))
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
        j = self._items.positions(item, "item")
        if not isinstance(j, int):
            raise TypeError(f"item must be one label, got {item!r}")
        idx, sim = _cosine_top(self.model_.factors_.right, j, n)
        return self._items.label_of(idx), sim

    def similar_users(self, user, n=10):
        """The ``n`` users most similar to ``user`` by cosine of their factors."""
        self._check_fitted()
        i = self._users.positions(user, "user")
        if not isinstance(i, int):
            raise TypeError(f"user must be one label, got {user!r}")
        idx, sim = _cosine_top(self.model_.factors_.left, i, n)
        return self._users.label_of(idx), sim

    # ------------------------------------------------------------ new users

    @np.errstate(over="ignore", invalid="ignore")  # an overflow is checked below
    def fold_in(self, items, ratings):
        """Factor (and bias) of a user not in the training data, from their ratings.

        One ridge solve with the trained item factors fixed, by the model's
        rule: for ALS, minimize ``Σ_j (x_j − μ − c_j − u − aᵀb_j)² + λ s‖a‖² +
        β u²`` with ``λ = reg_ · (number of ratings)^α`` (the fitted reg; α from
        ``weighted_reg``: 1 for True, 0 for False), s its ``value_scale_`` and β
        its ``reg_users_`` (λ with ``bias_reg=None``) — the same equations ALS
        solves for a training row.
        For SoftImpute and Baseline, the bias is the damped mean their
        centering fits first: ``u = Σ_j (x_j − μ − c_j) / (n + λ_u)`` with λ_u
        the model's ``reg_users_``, then ``a`` minimizes
        ``Σ_j (x_j − μ − c_j − u − aᵀb_j)² + λ ‖a‖²`` with λ its ``reg_`` (at the
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
        cols = np.atleast_1d(self._items.positions(items, "item"))
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
        # The fitted penalty: reg_ (the chosen one with reg="auto"); ALS measures it
        # on the values / s, so in their units the factors' share is λ·s (ALS's
        # objective: λ(s‖a‖² + u²)).
        reg = getattr(self.model_, "reg_", getattr(self.model_, "reg", 0.0))
        if isinstance(reg, str):  # a file saved before models kept reg_ in it
            raise ValueError(
                f"this {type(self.model_).__name__} has reg={reg!r} but not the reg_ it "
                "chose (a model file from before 2026-12-07); set model.reg_ or refit it"
            )
        reg = float(reg)
        lam = reg * len(cols) ** reg_exponent(getattr(self.model_, "weighted_reg", False))
        scale = float(getattr(self.model_, "value_scale_", 1.0))
        B = R[cols].astype(np.float64)
        target = x - (mean + c[cols] if biases else 0.0)
        damping = self.model_._row_bias_damping() if biases else None
        centered = damping is not None
        if centered:
            u = float(target.sum() / (len(target) + damping))
            target = target - u
        elif biases:
            B = np.hstack([B, np.ones((len(B), 1))])
        penalty = np.full(B.shape[1], lam * scale)
        if biases and not centered:
            # The bias lane: ALS's β_u (bias_reg), else the factors' λ.
            penalty[-1] = getattr(self.model_, "reg_users_", lam)
        G = B.T @ B + np.diag(penalty)
        try:
            z = np.linalg.solve(G, B.T @ target)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError(
                f"fold-in with {len(cols)} ratings has singular normal equations; "
                "give more ratings or use a model with reg > 0"
            ) from None
        dt = R.dtype
        big = float(np.abs(z).max(initial=abs(u) if centered else 0.0))
        if not big <= float(np.finfo(dt).max):  # inf, NaN, or beyond the dtype
            raise ValueError(
                f"fold-in of these ratings (up to {float(np.abs(x).max()):.3g}) gives a "
                f"factor of size {big:.3g}, beyond the model's {dt.name} range "
                f"({np.finfo(dt).max:.3g}): the ratings are far outside the scale the "
                "model was trained on"
            )
        if centered:
            return z.astype(dt), u
        return (z[:-1].astype(dt), float(z[-1])) if biases else (z.astype(dt), 0.0)

    def recommend_new(self, items, ratings, n=10, *, worst=False):
        """Recommendations for a new user given their ratings (see :meth:`fold_in`);
        the rated items are left out. Returns ``(labels, scores)`` best first."""
        a, u = self.fold_in(items, ratings)
        _, R, _, c, mean = _estimator.parts(self.model_)
        scores = (R @ a + (c + (mean + u))).astype(R.dtype)[None, :]
        excl = np.sort(np.atleast_1d(self._items.positions(items, "item")))
        n = min(check_int(n, "n", minimum=0), len(self._items))
        idx, val = _top(scores, np.array([0, len(excl)], np.int64), excl, n, worst, 1)
        keep = idx[0] >= 0
        return self._items.label_of(idx[0][keep]), val[0][keep]

    # ------------------------------------------------------------ files

    def save(self, path):
        """Save model (with its labels) and training pattern to ``path`` (see ``lorank.load``)."""
        self._check_fitted()
        arrays, header = _estimator.to_arrays_of(self.model_)
        arrays = {"model." + k: v for k, v in arrays.items()}
        arrays["seen_indptr"], arrays["seen_indices"] = self._seen
        io.save(path, arrays, {"class": "Recommender", "model": header,
                               "n_threads": self.n_threads})


def _recommender_from_arrays(cls, arrays, header, source="file"):
    from .models._model_files import check_recommender

    classes = {k: v[2] for k, v in _estimator._CLASSES.items()}
    arrays = check_recommender(arrays, header, source, classes)  # every array, in one place
    model_header = header["model"]
    _, frm, mcls = _estimator._CLASSES[model_header["class"]]
    sub = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    for side in ("user", "item"):  # files that kept the labels beside the model
        if side + "_labels" in arrays and side + "_labels" not in sub:
            sub[side + "_labels"] = arrays[side + "_labels"]
    model = frm(mcls, sub, model_header, source)
    return cls(model, n_threads=header.get("n_threads"))._set(
        model, arrays["seen_indptr"], arrays["seen_indices"])


_estimator._CLASSES["Recommender"] = (None, _recommender_from_arrays, Recommender)


def _map_to_candidates(indptr, excl, cand):
    """Exclusions (item positions per row) as positions within ``cand``."""
    where = {int(j): k for k, j in enumerate(cand)}
    out_ptr, out = [0], []
    for r in range(len(indptr) - 1):
        mapped = sorted(where[int(j)] for j in excl[indptr[r]:indptr[r + 1]] if int(j) in where)
        out.extend(mapped)
        out_ptr.append(len(out))
    return np.array(out_ptr, np.int64), np.array(out, np.int64)


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
