"""The one estimator base of every lorank model, and models on disk.

:class:`CompletionModel` holds what all models share, so a model class writes
only its own math:

- **parameters**: ``__init__`` stores its arguments unchanged (scikit-learn's
  rule); ``get_params``/``set_params``/``__repr__``/``sklearn.base.clone`` work
  from the ``__init__`` signature. The checks are the helpers below
  (:func:`check_rank`, :func:`check_int`, :func:`check_real`,
  :func:`check_bool`, :func:`check_dtype`, :func:`check_random_state`,
  :func:`check_n_threads`, :func:`check_callback`, :func:`check_choice`), one
  message each, naming the parameter.
- **the gate**: :meth:`CompletionModel.fit` turns any input (``Ratings``,
  scipy.sparse, a NaN-dense array, a pandas DataFrame with ``columns=`` or named
  columns, or scikit-learn's regression form ``fit(pairs, y)``) into a
  ``Ratings``, aligns the validation data with it, keeps the label maps
  (``labels_``: one :class:`~lorank.data._labels.LabelIndex` per axis), warns on
  degenerate data, drops the previous fit, and calls ``self._fit(ratings,
  valid)`` with both in the model's dtype, indexed by position.
- **the iteration driver**: :meth:`CompletionModel._iterations` (history,
  tqdm bar, callback, Ctrl-C).
- **the fitted protocol**: ``predict(users, items)`` by label,
  ``predict_positions(rows, cols)``, ``to_lowrank()``, ``score``, ``save`` /
  :func:`load`.

Writing a new model
-------------------
::

    from lorank.models._estimator import CompletionModel, check_int, check_real, register

    class Baseline(CompletionModel):
        def __init__(self, *, reg=10.0, max_iter=10, dtype=np.float32, n_threads=None,
                     progress=False, callback=None):
            self.reg = reg                      # store, do not check, in __init__
            ...

        def _fit(self, ratings, valid):          # both Ratings, by position
            reg = check_real(self.reg, "reg", minimum=0)
            max_iter = check_int(self.max_iter, "max_iter", minimum=1)
            ...                                  # the start: iteration 0
            self._keep(...)                      # the model's own helper: set factors_,
                                                 # row_bias_, col_bias_, mean_ (copies),
                                                 # self._lowrank = None
            with self._iterations(max_iter, ("train_rmse", "valid_rmse")) as run:
                for it in range(1, max_iter + 1):
                    ...                          # one iteration of the model's math
                    self._keep(...)              # complete: now it is the model
                    valid_rmse = self._rmse(valid) if valid is not None else np.nan
                    if not run.record(it, train_rmse=train, valid_rmse=valid_rmse):
                        break                    # the callback said stop
                    if converged:
                        break

    register(Baseline)                           # lorank.load rebuilds it; .save

``_fit`` sets ``factors_`` (a ``LowRank`` of user and item factors; rank 0 is
``LowRank(np.zeros((m, 0)), np.zeros((n, 0)))``), ``row_bias_``, ``col_bias_``
(zeros without biases), ``mean_`` and ``biases`` (a parameter or a class
attribute), and sets ``self._lowrank = None`` whenever they change. A model
whose predictions are not ``mean_ + row_bias_[i] + col_bias_[j] + left[i] @
right[j]`` overrides :meth:`CompletionModel.to_lowrank` (a Bayesian posterior
mean returns its kept samples side by side). A model for 0/1 or count data sets
``_explicit = False`` (no degenerate-rating warning); one whose row bias is an
damped mean fitted before (or without) the factors returns its damping from
``_row_bias_damping`` (``Recommender.fold_in`` follows it). Models with extra
arrays pass ``to_arrays``/``from_arrays`` to
:func:`register` (see ``softimpute.py``).

Ctrl-C: inside ``with self._iterations(...)`` a ``KeyboardInterrupt`` leaves
the model as the last complete state written to it (``on_interrupt=`` can finish it,
e.g. SoftImpute's final SVD), warns ``RuntimeWarning("... interrupted after k
complete iterations ...")`` and is re-raised: a script stops, it does not go on
with a half-fitted model.
"""

import inspect
import numbers
import time
import warnings

import numpy as np

from .. import io
from ..data._labels import LabelIndex, is_many
from .._threads import effective_n_threads
from .._validation import as_float_dtype
from .._validation import check_rank as _check_rank

__all__ = ["CompletionModel", "check_bool", "check_callback", "check_choice", "check_dtype",
           "check_int", "check_n_threads", "check_random_state", "check_rank", "check_real",
           "load", "register"]

_LEARNED = ("row_bias_", "col_bias_")
# Learned numbers a model file keeps in its header ("fitted"), finite and at
# least the minimum (None: any): what fold-in and a refit read besides the
# arrays (the reg chosen by reg="auto", the value scale its penalty is measured
# on, the biases' dampings).
FITTED_NUMBERS = {"reg_": 0.0, "value_scale_": 0.0, "reg_users_": 0.0, "reg_items_": 0.0}


# ---------------------------------------------------------------- parameter checks


def check_rank(rank, shape, name="rank"):
    """``rank`` as an int in ``1..min(shape)``; TypeError/ValueError naming it."""
    return _check_rank(rank, shape, name)


def check_int(value, name, *, minimum=None, maximum=None):
    """An integer parameter (bools are not integers here), optionally bounded."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_real(value, name, *, minimum=None, maximum=None, finite=True):
    """A real-number parameter as a float: TypeError for non-numbers (bools and
    strings included), ValueError outside ``[minimum, maximum]`` or non-finite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    bounds = " and ".join(b for b in (f">= {minimum}" if minimum is not None else "",
                                      f"<= {maximum}" if maximum is not None else "") if b)
    what = ("a finite number" if finite else "a number") + (f" {bounds}" if bounds else "")
    if (finite and not np.isfinite(value)) or np.isnan(value) or (
            minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_bool(value, name):
    """True or False (numpy bools too); anything else, ``"no"`` or 0 included, is a
    TypeError: a truthy string must not switch a feature on."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """One of ``choices`` (compared with ==, strings only)."""
    if not isinstance(value, str) or value not in choices:
        quoted = [f'"{c}"' for c in choices]
        shown = (" or ".join(quoted) if len(quoted) <= 2
                 else "one of " + ", ".join(quoted[:-1]) + " or " + quoted[-1])
        raise ValueError(f"{name} must be {shown}, got {value!r}")
    return value


def check_dtype(value, name="dtype"):
    """``np.float32`` or ``np.float64`` for a dtype-like, else TypeError naming it."""
    return as_float_dtype(value, name)


def check_random_state(value, name="random_state"):
    """``None``, an int in [0, 2**63), a ``numpy.random.Generator`` or
    ``SeedSequence``: what ``numpy.random.default_rng`` accepts, checked with
    the parameter's name. Returns ``value`` unchanged."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence,
                                           np.random.BitGenerator)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be None, a non-negative integer or a "
                        f"numpy.random.Generator, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (a seed), got {value}")
    return value


def check_n_threads(value, name="n_threads"):
    """A thread count resolved by the one rule (``lorank._threads``)."""
    return effective_n_threads(value)


def check_callback(value, name="callback"):
    """None or a callable."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r}")
    return value


# ---------------------------------------------------------------- the base


class CompletionModel:
    """Base of every lorank model: parameters, fit gate, iterations, fitted protocol.

    See the module docstring of ``lorank.models._estimator`` for how a model
    subclasses it. Users meet it through its subclasses (``lorank.ALS``,
    ``lorank.SoftImpute``, ...).
    """

    _lowrank = None  # cache of to_lowrank(), reset whenever the factors change
    # A model of explicit ratings: fit warns when the values carry no information
    # (one distinct value, or 0/1 data). Implicit-feedback models set False.
    _explicit = True
    # Set on an instance by a fit that runs it on data it has warned about already
    # (reg="auto"'s path and refit): the data is said once.
    _data_warned = False
    _estimator_type = "regressor"  # scikit-learn before 1.6

    def _row_bias_damping(self):
        """None when the row bias is fitted jointly with the factors under their
        penalty (ALS); else the λ of the damped mean u = Σ t / (|Ω| + λ) it is,
        fitted first (Baseline, SoftImpute's centering): the rule
        Recommender.fold_in follows for a new user."""
        return None

    # ------------------------------------------------------------ parameters

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep=True):
        """The ``__init__`` parameters as ``{name: value}`` (scikit-learn protocol).

        Parameters
        ----------
        deep : bool, default=True
            Also the parameters of parameters that are estimators (as
            ``name__param``).

        Returns
        -------
        dict

        Examples
        --------
        >>> import lorank
        >>> lorank.ALS(5, reg=0.1).get_params()["reg"]
        0.1
        """
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        """Set ``__init__`` parameters (scikit-learn protocol); returns ``self``.

        Examples
        --------
        >>> import lorank
        >>> lorank.ALS().set_params(rank=3, reg=0.5)
        ALS(rank=3, reg=0.5)
        """
        valid = self._get_param_names()
        nested = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters: {', '.join(valid)}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub in nested.items():
            getattr(self, name).set_params(**sub)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        shown = []
        for name in self._get_param_names():
            default = sig.parameters[name].default
            value = getattr(self, name, default)
            if not _same_param(value, default):
                shown.append(f"{name}={_param_repr(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=False),
                    regressor_tags=RegressorTags())

    # ------------------------------------------------------------ fitting

    def fit(self, X, validation=None, *, columns=None):
        """Fit the model to the observed entries of ``X``.

        Parameters
        ----------
        X : Ratings, scipy.sparse, ndarray with NaN for missing, or DataFrame
            The observed entries. For sparse input every stored entry, zeros
            included, is an observation. A pandas DataFrame holds one rating
            per row: its user, item and rating columns are ``columns`` or
            found by name (see :meth:`lorank.Ratings.from_pandas`); it is never
            read as a dense matrix. scikit-learn's regression form is
            ``fit(pairs, y)``: ``pairs`` an (n, 2) array of (user, item) labels
            and ``y`` the n ratings.
        validation : same kinds as X, or 1-D ratings y, default=None
            Held-out entries (by the same labels as ``X``); their RMSE is
            recorded per iteration in ``history_["valid_rmse"]``. A 1-D array
            here is the ``y`` of the regression form.
        columns : (str, str, str) or (str, str, str, str), default=None
            The user, item, rating (and time) columns of a DataFrame.

        Returns
        -------
        self
        """
        dtype = check_dtype(getattr(self, "dtype", np.float64))
        ratings, valid, labels = _gate(X, validation, columns, dtype)
        if self._explicit and not self._data_warned:
            _warn_degenerate(ratings)
        self._reset()
        self.labels_ = labels
        self._fit(ratings, valid)
        return self

    def _fit(self, ratings, valid):  # pragma: no cover - every model defines it
        raise NotImplementedError

    def _reset(self):
        """Forget a previous fit (its factors would not match new labels)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            del self.__dict__[name]
        self._lowrank = None

    def _iterations(self, max_iter, keys, *, desc=None, on_interrupt=None, what="factors"):
        """The iteration driver: ``with self._iterations(...) as run:`` then
        ``run.record(it, **values)`` after every complete iteration.

        Sets ``history_`` (``{"iteration", *keys, "seconds"}`` lists) and
        ``n_iter_``, shows a tqdm bar when ``self.progress``, calls
        ``self.callback(self, it)`` (``False`` stops: ``record`` returns False),
        and on Ctrl-C calls ``on_interrupt()`` (if given), warns and re-raises.
        """
        return _Iterations(self, max_iter, keys, desc or type(self).__name__, on_interrupt,
                           what)

    # ------------------------------------------------------------ fitted protocol

    def _check_fitted(self):
        check_fitted(self)

    @property
    def user_labels_(self):
        """ndarray: the user label of each factor row (positions when unlabelled)."""
        return self._label_index(0).labels

    @property
    def item_labels_(self):
        """ndarray: the item label of each factor row (positions when unlabelled)."""
        return self._label_index(1).labels

    def _label_index(self, axis):
        self._check_fitted()
        labels = self.__dict__.get("labels_")
        if labels is None:  # a model rebuilt without labels: positions name themselves
            shape = (self.factors_.left.shape[0], self.factors_.right.shape[0])
            labels = self.labels_ = (LabelIndex(None, shape[0], name="user"),
                                     LabelIndex(None, shape[1], name="item"))
        return labels[axis]

    def to_lowrank(self):
        """The completed matrix as a LowRank, mean and biases folded in.

        With biases the factors are ``[a_i, u_i + μ, 1]`` and ``[b_j, 1, c_j]``
        (rank + 2), so ``to_lowrank().entries(i, j)`` is exactly the prediction
        at positions ``(i, j)``.

        Returns
        -------
        LowRank
        """
        check_fitted(self)
        if self._lowrank is None:
            biases = bool(getattr(self, "biases", True))
            self._lowrank = (with_biases(self.factors_, self.row_bias_, self.col_bias_,
                                         self.mean_) if biases else self.factors_)
        return self._lowrank

    def predict(self, users, items=None, *, unknown="error"):
        """Predicted ratings of ``(users[t], items[t])``, by label.

        The ids are the labels of the training data (a loader's file ids, a
        DataFrame's values); for unlabelled data they are the row and column
        positions. Positions of labelled data: :meth:`predict_positions`.

        Parameters
        ----------
        users : label or sequence of labels, or an (n, 2) array of (user, item)
            One user for many items (or the reverse) is repeated. An (n, 2)
            array with ``items=None`` is scikit-learn's regression form.
        items : label or sequence of labels, default=None
        unknown : {"error", "bias"}, default="error"
            ``"error"``: unknown labels raise ``KeyError`` naming them.
            ``"bias"``: an unknown user gets ``mean + item bias``, an unknown
            item ``mean + user bias``, both unknown ``mean``.

        Returns
        -------
        float for one pair, else ndarray

        Examples
        --------
        >>> import lorank
        >>> R = lorank.Ratings.from_labels(["ann", "ann", "bob"], [7, 9, 7], [5, 3, 4])
        >>> model = lorank.ALS(1, random_state=0).fit(R)
        >>> round(model.predict("ann", 7), 2) == round(float(model.predict_positions([0], [0])[0]), 2)
        True
        """
        check_fitted(self)
        if unknown not in ("error", "bias"):
            raise ValueError(f'unknown must be "error" or "bias", got {unknown!r}')
        if items is None:
            users, items = _pairs(users, "users")
        rows, ulist, many_u = self._label_index(0).lookup(users)
        cols, ilist, many_i = self._label_index(1).lookup(items)
        if many_i and not many_u:  # one user, many items (or the reverse)
            rows, ulist = np.repeat(rows, len(cols)), ulist * len(cols)
        elif many_u and not many_i:
            cols, ilist = np.repeat(cols, len(rows)), ilist * len(rows)
        if len(rows) != len(cols):
            raise ValueError(
                f"users and items must have the same length, got {len(rows)} and {len(cols)}"
            )
        if unknown == "error":
            self._label_index(0).check(rows, ulist, "user")
            self._label_index(1).check(cols, ilist, "item")
        out = self._predict_or_bias(rows, cols)
        return out if (many_u or many_i) else out[0].item()

    def _predict_or_bias(self, rows, cols):
        """Predictions at positions, the bias fallback where a position is -1."""
        ok = (rows >= 0) & (cols >= 0)
        if ok.all():
            return self.predict_positions(rows, cols)
        out = np.empty(len(rows), dtype=self.factors_.dtype)
        out[ok] = self.predict_positions(rows[ok], cols[ok])
        _, _, u, c, mean = parts(self)
        base = np.full(len(rows), mean)
        base[rows >= 0] += u[rows[rows >= 0]]
        base[cols >= 0] += c[cols[cols >= 0]]
        out[~ok] = base[~ok]
        return clip_predictions(self, out)

    def predict_positions(self, rows, cols):
        """Predicted entries at row and column *positions* ``(rows[t], cols[t])``
        (indices into the factors, whatever the labels), biases included, and
        clipped to the training values' range when the model's ``clip`` is on.

        Parameters
        ----------
        rows, cols : array_like of int, same shape

        Returns
        -------
        ndarray
        """
        pred = self.to_lowrank().entries(rows, cols, n_threads=getattr(self, "n_threads", None))
        return clip_predictions(self, pred)

    def score(self, X, y=None):
        """Negative RMSE on ``X`` (scikit-learn's "greater is better").

        Parameters
        ----------
        X : Ratings (by labels, or positions if unlabelled), DataFrame, or an
            (n, 2) array of (user, item) labels with ``y``
        y : array_like, default=None
            The ratings of the regression form.

        Labels the model has not seen are predicted as ``predict(...,
        unknown="bias")`` does (a cross-validation fold can hold an item rated
        only there).

        Returns
        -------
        float
        """
        check_fitted(self)
        if y is not None:
            users, items = _pairs(X, "X")
            truth = np.asarray(y, dtype=np.float64).ravel()
            pred = self.predict(users, items, unknown="bias")
        else:
            from ..data.ratings import as_ratings

            R = as_ratings(X, name="X")
            rows, cols = self._positions_of(R)
            truth = R.coo()[2]
            pred = self._predict_or_bias(rows, cols)
        if len(truth) != len(pred):
            raise ValueError(f"X has {len(pred)} pairs but y has {len(truth)} ratings")
        if len(truth) == 0:
            raise ValueError("X has no ratings to score")
        err = np.asarray(pred, np.float64) - truth
        return -float(np.sqrt(np.mean(err * err)))

    def _positions_of(self, R):
        """Row and column positions (in this model) of every observation of ``R``,
        -1 for labels it does not know."""
        rows, cols, _ = R.coo()
        out = []
        for axis, idx, labels, size in ((0, rows, R.row_labels, R.shape[0]),
                                        (1, cols, R.col_labels, R.shape[1])):
            index = self._label_index(axis)
            if labels is None:  # positions: they must be this model's
                if size != index.size:
                    raise ValueError(
                        f"X has shape {R.shape} and no labels, but the model was fitted "
                        f"on {self.factors_.left.shape[0]} x {self.factors_.right.shape[0]}"
                    )
                out.append(np.asarray(idx, np.int64))
            elif index.same_as(LabelIndex(labels)):
                out.append(np.asarray(idx, np.int64))
            else:
                out.append(index.lookup(labels)[0][idx])
        return out

    def _rmse(self, ratings):
        """RMSE of the predictions at the positions of ``ratings`` (aligned data)."""
        rows, cols, values = ratings.coo()
        err = self.predict_positions(rows, cols) - values
        return float(np.sqrt(np.mean(np.square(err, dtype=np.float64))))

    _score = _rmse  # the name soft_impute_path used


def clip_predictions(model, pred):
    """``pred`` clipped to ``model.rating_range_`` (the training values' range) when
    ``model.clip`` is on, as surprise clips to the rating scale; else unchanged."""
    bounds = getattr(model, "rating_range_", None)
    if getattr(model, "clip", False) and bounds is not None:
        return np.clip(pred, *np.asarray(bounds, dtype=pred.dtype))
    return pred


def rating_range(ratings):
    """(min, max) of the training values, as Python floats."""
    values = ratings.csr.values
    return float(values.min()), float(values.max())


def _std(values, block=1 << 20):
    """np.std in float64, two passes over blocks: no float64 copy of all the values
    (800 MB at 100M float32 ratings); the same result for any thread count."""
    n = len(values)
    if n == 0:
        return 0.0
    blocks = range(0, n, block)
    mean = sum(float(np.sum(values[k:k + block], dtype=np.float64)) for k in blocks) / n
    squares = sum(float(np.sum(np.square(values[k:k + block].astype(np.float64) - mean)))
                  for k in blocks)
    return float(np.sqrt(squares / n))


def value_scale(values, *, power_of_two=False, moments=None):
    """The scale a model's priors or penalties are measured in: the standard
    deviation σ of the observed values (1.0 when they are all equal or there are
    none), or with ``power_of_two`` the power of two nearest to σ in log scale,
    by which the values are scaled exactly (1.0 for σ in [0.71, 1.41]: every
    1-5 star data set). ``moments``: (n, Σx, Σx²) instead of ``values`` (a
    distributed fit's blocks).

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.models._estimator import value_scale
    >>> value_scale(np.array([1.0, 3.0])), value_scale(np.array([2.0, 6.0]), power_of_two=True)
    (1.0, 2.0)
    """
    if moments is not None:
        n, total, squares = moments
        var = (squares - total * total / n) / n if n else 0.0
        sigma = float(np.sqrt(max(var, 0.0)))
    else:
        sigma = _std(values)
    if not (np.isfinite(sigma) and sigma > 0):
        return 1.0
    return float(2.0 ** np.round(np.log2(sigma))) if power_of_two else sigma


class NotFittedError(ValueError, AttributeError):
    """Raised when a model (or a ``Recommender``) is used before ``fit``.

    A subclass of both ``ValueError`` and ``AttributeError``, as scikit-learn's
    ``NotFittedError`` is, so ``except ValueError`` catches it and ``hasattr``
    reads an unfitted model's learned attributes as absent.

    Examples
    --------
    >>> import lorank
    >>> try:
    ...     lorank.ALS(rank=2).predict([0], [0])
    ... except lorank.NotFittedError as error:
    ...     print(error)
    this ALS model is not fitted yet; call fit first
    """


def check_fitted(model):
    if not hasattr(model, "factors_"):
        raise NotFittedError(
            f"this {type(model).__name__} model is not fitted yet; call fit first"
        )


def get_params(model):
    """``{name: value}`` of the model's ``__init__`` parameters."""
    if hasattr(model, "get_params"):
        return model.get_params(deep=False)
    names = [p.name for p in inspect.signature(type(model).__init__).parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return {name: getattr(model, name) for name in names if hasattr(model, name)}


def clone(model):
    """An unfitted copy with the same parameters."""
    return type(model)(**get_params(model))


def parts(model):
    """(user factors, item factors, user bias, item bias, mean) of a fitted model;
    biases are zeros and the mean 0 when the model has none."""
    check_fitted(model)
    L, R = model.factors_.left, model.factors_.right
    u = getattr(model, "row_bias_", None)
    c = getattr(model, "col_bias_", None)
    u = np.zeros(L.shape[0], L.dtype) if u is None else u
    c = np.zeros(R.shape[0], R.dtype) if c is None else c
    return L, R, u, c, float(getattr(model, "mean_", 0.0))


def has_biases(model):
    biases = getattr(model, "biases", None)
    return bool(biases) if biases is not None else getattr(model, "row_bias_", None) is not None


def with_biases(factors, row_bias, col_bias, mean):
    """``factors`` with mean and biases folded in: ``[L, u + μ, 1] [R, 1, c]ᵀ``
    (rank + 2), so its entries are the predictions μ + u_i + c_j + l_iᵀ r_j."""
    from ..linalg.lowrank import LowRank

    L, R = factors.left, factors.right
    dt = L.dtype
    left = np.column_stack([L, (row_bias + mean).astype(dt), np.ones(len(L), dt)])
    right = np.column_stack([R, np.ones(len(R), dt), col_bias.astype(dt)])
    return LowRank(left, right)


def augmented(model):
    """(left, right) with ``left @ right.T`` the predictions, biases folded in."""
    if hasattr(model, "to_lowrank"):
        X = model.to_lowrank()
        return X.left, X.right
    L, R, u, c, mean = parts(model)
    if not has_biases(model):
        return L, R
    X = with_biases(model.factors_, u, c, mean)
    return X.left, X.right


# ---------------------------------------------------------------- the iteration driver


class _Iterations:
    """See :meth:`CompletionModel._iterations`."""

    def __init__(self, model, max_iter, keys, desc, on_interrupt, what):
        self.model, self.max_iter, self.keys = model, max_iter, tuple(keys)
        self.desc, self.on_interrupt, self.what = desc, on_interrupt, what

    def __enter__(self):
        from tqdm.auto import tqdm

        model = self.model
        model.history_ = {"iteration": [], **{k: [] for k in self.keys}, "seconds": []}
        model.n_iter_ = 0
        self.bar = tqdm(total=self.max_iter, desc=self.desc, unit="it",
                        disable=not bool(getattr(model, "progress", False)), leave=False)
        self._mark = time.perf_counter()
        return self

    def record(self, it, *, seconds=None, callback=True, **values):
        """Append iteration ``it``'s ``values`` (and its seconds, by default the
        time since the previous record) to ``history_``, set ``n_iter_``, update
        the bar and call the callback; returns False when the fit should stop."""
        model, h = self.model, self.model.history_
        if seconds is None:
            seconds = time.perf_counter() - self._mark
        h["iteration"].append(int(it))
        for key in self.keys:
            h[key].append(float(values.get(key, np.nan)))
        h["seconds"].append(float(seconds))
        model.n_iter_ = int(it)
        self.bar.update()
        shown = {k: f"{v:.4f}" for k, v in values.items()
                 if k in ("train_rmse", "valid_rmse") and np.isfinite(v)}
        if shown:
            self.bar.set_postfix(**shown)
        go_on = True
        cb = getattr(model, "callback", None) if callback else None
        if cb is not None and cb(model, it) is False:
            go_on = False
        self._mark = time.perf_counter()
        return go_on

    def __exit__(self, exc_type, exc, tb):
        self.bar.close()
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            if self.on_interrupt is not None:
                self.on_interrupt()
            n = getattr(self.model, "n_iter_", 0)
            kept = (f"keeping the last complete {self.what}" if hasattr(self.model, "factors_")
                    else "the model is not fitted")
            warnings.warn(
                f"{self.desc} interrupted after {n} complete iterations; {kept}; "
                "re-raising KeyboardInterrupt",
                RuntimeWarning,
                stacklevel=3,
            )
        return False


# ---------------------------------------------------------------- the gate


def _is_dataframe(X):
    module = type(X).__module__.split(".")[0]
    return module in ("pandas", "polars", "dask") and hasattr(X, "columns")


def _pairs(X, name):
    """(users, items) of an (n, 2) array or DataFrame of (user, item) labels."""
    if _is_dataframe(X):
        if len(X.columns) != 2:
            raise ValueError(f"{name} must have two columns (user, item), got "
                             f"{list(X.columns)}")
        return X.iloc[:, 0].to_numpy(), X.iloc[:, 1].to_numpy()
    if not is_many(X):
        raise TypeError(f"{name} must be an (n, 2) array of (user, item) labels, got "
                        f"{type(X).__name__}; or pass users and items separately")
    arr = np.asarray(X, dtype=None if not isinstance(X, list) else object) \
        if not isinstance(X, np.ndarray) else X
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of (user, item) labels, got shape "
                         f"{arr.shape}")
    return arr[:, 0], arr[:, 1]


def _is_target(y):
    """Whether the second argument of fit is scikit-learn's ``y`` (1-D)."""
    if y is None or hasattr(y, "tocsr") or _is_dataframe(y):
        return False
    from ..data.ratings import Ratings

    if isinstance(y, Ratings):
        return False
    if hasattr(y, "to_numpy") and getattr(y, "ndim", 1) == 1:  # a pandas Series
        return True
    return np.ndim(y) == 1


def _gate(X, validation, columns, dtype):
    """(ratings, valid or None, (users, items) LabelIndex) in ``dtype``."""
    from .._validation import check_value_range
    from ..data.ratings import Ratings, as_ratings

    if _is_target(validation):  # scikit-learn's fit(pairs, y)
        if columns is not None:
            raise TypeError("columns= is for a DataFrame of ratings, not for fit(pairs, y)")
        users, items = _pairs(X, "X")
        y = validation.to_numpy() if hasattr(validation, "to_numpy") else validation
        if len(y) != len(users):
            raise ValueError(f"X has {len(users)} (user, item) pairs but y has {len(y)} ratings")
        ratings = Ratings.from_labels(users, items, y, dtype=dtype)
        valid = None
    else:
        ratings = as_ratings(X, dtype=dtype, columns=columns)
        valid = None
        if validation is not None:
            valid = as_ratings(validation, dtype=dtype, name="validation", columns=columns)
    if ratings.nnz == 0:
        raise ValueError("X has no observed entries")
    check_value_range(ratings, "X")
    if valid is not None:
        check_value_range(valid, "validation")
    labels = (LabelIndex(ratings.row_labels, ratings.shape[0], name="user"),
              LabelIndex(ratings.col_labels, ratings.shape[1], name="item"))
    if valid is not None:
        valid = _align(valid, ratings, labels)
    return ratings, valid, labels


def _align(valid, ratings, labels):
    """``valid`` indexed by ``ratings``' positions (by labels when it has them)."""
    from ..data.ratings import Ratings

    same = [labels[0].same_as(LabelIndex.of(valid.row_labels, valid.shape[0])),
            labels[1].same_as(LabelIndex.of(valid.col_labels, valid.shape[1]))]
    if all(same):
        return valid
    if valid.row_labels is None and valid.col_labels is None:
        raise ValueError(
            f"validation has shape {valid.shape} but X has shape {ratings.shape}"
        )
    rows, cols, values = valid.coo()
    pos = []
    for axis, idx, own in ((0, rows, valid.row_labels), (1, cols, valid.col_labels)):
        index = labels[axis]
        own = np.arange(valid.shape[axis]) if own is None else own
        codes, items, _ = index.lookup(own)
        if codes.size and codes.min() < 0:
            missing = [x for x, c in zip(items, codes) if c < 0]
            from ..data._labels import format_labels

            raise ValueError(
                f"validation has {index.name}s that X does not: {format_labels(missing)} "
                "(a model cannot score labels it was not fitted on)"
            )
        pos.append(codes[idx])
    times = valid.times
    return Ratings(pos[0], pos[1], values, ratings.shape, times=times,
                   dtype=ratings.dtype)._with_labels(ratings.row_labels, ratings.col_labels)


def _warn_degenerate(ratings):
    """A warning when the ratings cannot teach a rating model anything."""
    values = ratings.csr.values
    lo, hi = float(values.min()), float(values.max())
    n = ratings.nnz
    if n < 10:  # too few to say anything about the data
        return
    if lo == hi:
        hint = (" (implicit feedback: use lorank.ImplicitALS, which models which items "
                "a user interacted with)" if lo in (0.0, 1.0) else "")
        warnings.warn(
            f"all {n} ratings equal {lo:g}: a rating model fitted to one value predicts "
            f"{lo:g} everywhere and its recommendations are in index order{hint}",
            UserWarning, stacklevel=3)
    elif np.all((values == lo) | (values == hi)) and (lo, hi) == (0.0, 1.0):
        warnings.warn(
            f"the {n} ratings are all 0 or 1: for clicks, purchases or other 0/1 "
            "feedback use lorank.ImplicitALS (a rating model treats 0 as a bad rating "
            "and ignores what was not observed)", UserWarning, stacklevel=3)


# ---------------------------------------------------------------- repr helpers


def _same_param(value, default):
    if value is default:
        return True
    if isinstance(value, (np.ndarray,)) or isinstance(default, np.ndarray):
        return False
    try:
        if isinstance(value, type) or isinstance(default, type):
            return np.dtype(value) == np.dtype(default)
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):
        return False


def _param_repr(value):
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"np.{value.__name__}"
    if isinstance(value, CompletionModel):
        return f"{type(value).__name__}(...)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- files

def _json_param(value):
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"dtype": np.dtype(value).name}
    if isinstance(value, np.dtype):
        return {"dtype": value.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Real) for v in value)):
        return [float(v) for v in value]  # ALS's bias_reg=(users, items)
    return None  # callbacks, Generators: not kept


def _param_value(value):
    if isinstance(value, dict) and set(value) == {"dtype"}:
        return np.dtype(value["dtype"]).type
    return value


def storable_labels(labels, side):
    """Labels as an array io can store (int or str), else TypeError."""
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


def to_arrays(model):
    """(arrays, header) describing a fitted model, for :func:`lorank.io.save`."""
    check_fitted(model)
    arrays = {"left": model.factors_.left, "right": model.factors_.right}
    for name in _LEARNED:
        if getattr(model, name, None) is not None:
            arrays[name.rstrip("_")] = getattr(model, name)
    if hasattr(model, "mean_"):
        arrays["mean"] = np.float64(model.mean_)
    labels = model.__dict__.get("labels_")
    for axis, side in ((0, "user"), (1, "item")):
        if labels is not None and labels[axis].labelled:
            arrays[side + "_labels"] = storable_labels(labels[axis].raw, side)
    header = {
        "class": type(model).__name__,
        "params": {k: _json_param(v) for k, v in get_params(model).items()},
        "dtype": model.factors_.dtype.name,
    }
    if getattr(model, "rating_range_", None) is not None:
        header["rating_range"] = [float(x) for x in model.rating_range_]
    if hasattr(model, "n_iter_"):
        header["n_iter"] = int(model.n_iter_)
    fitted = {k: float(getattr(model, k)) for k in FITTED_NUMBERS if hasattr(model, k)}
    if fitted:
        header["fitted"] = fitted
    if hasattr(model, "history_"):
        header["history"] = {k: [x if isinstance(x, int) else float(x) for x in v]
                             for k, v in model.history_.items()}
    return arrays, header


def from_arrays(cls, arrays, header, source="file"):
    """Rebuild a fitted model of class ``cls`` from :func:`to_arrays` output."""
    from ._model_files import check_model
    from ..linalg.lowrank import LowRank

    arrays = check_model(cls, arrays, header, source)  # every array, in one place
    model = cls(**{k: _param_value(v) for k, v in header.get("params", {}).items()})
    model.factors_ = LowRank(arrays["left"], arrays["right"])
    for name in _LEARNED:
        if name.rstrip("_") in arrays:
            setattr(model, name, arrays[name.rstrip("_")])
    if "mean" in arrays:
        model.mean_ = float(arrays["mean"])
    if "rating_range" in header:
        model.rating_range_ = tuple(float(x) for x in header["rating_range"])
    if "n_iter" in header:
        model.n_iter_ = header["n_iter"]
    for k, v in header.get("fitted", {}).items():  # names and values checked
        setattr(model, k, v)
    if "history" in header:
        model.history_ = {k: list(v) for k, v in header["history"].items()}
    sizes = (model.factors_.left.shape[0], model.factors_.right.shape[0])
    index = []
    for axis, side in ((0, "user"), (1, "item")):
        labels = arrays.get(side + "_labels")  # its length checked with the rest
        index.append(LabelIndex(labels, sizes[axis], name=side))
    model.labels_ = tuple(index)
    model._lowrank = None
    return model


_CLASSES = {}


def register(cls, *, to_arrays=to_arrays, from_arrays=from_arrays):
    """Make ``lorank.load`` rebuild ``cls`` (by class name) and give it ``save``.

    One line per model module: ``register(SoftImpute)``.
    """
    _CLASSES[cls.__name__] = (to_arrays, from_arrays, cls)
    if not hasattr(cls, "save"):
        cls.save = save
    return cls


def to_arrays_of(model):
    """(arrays, header) of a model of a registered class."""
    name = type(model).__name__
    if name not in _CLASSES or _CLASSES[name][0] is None:
        raise TypeError(f"{name} models cannot be saved: the class is not registered")
    return _CLASSES[name][0](model)


def save(self, path):
    """Save the fitted model to ``path`` (``.npz`` + JSON header); reload it with
    ``lorank.load(path)``. Predictions of the reloaded model are bitwise equal."""
    arrays, header = to_arrays_of(self)
    io.save(path, arrays, header)


def load(path):
    """A model or Recommender saved with its ``save`` method.

    Examples
    --------
    >>> import os, tempfile, numpy as np, lorank
    >>> R = lorank.Ratings.from_labels(["a", "a", "b", "c"], [1, 2, 1, 2], [5, 3, 4, 1])
    >>> rec = lorank.Recommender(lorank.ALS(1, random_state=0)).fit(R)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> rec.save(path)
    >>> again = lorank.load(path)
    >>> bool(again.predict("a", 2) == rec.predict("a", 2))
    True
    """
    arrays, header = io.load(path)
    name = header.get("class")
    if not isinstance(name, str) or name not in _CLASSES:
        raise ValueError(
            f"{path}: holds a {name!r} object, which this lorank cannot rebuild "
            f"(known: {', '.join(sorted(_CLASSES))})"
        )
    _, frm, cls = _CLASSES[name]
    return frm(cls, arrays, header, str(path))
