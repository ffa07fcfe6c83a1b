"""The fitted-model protocol that Recommender, evaluate and io rely on.

A completion model (``ALS``, ``SoftImpute``) keeps its hyperparameters as
``__init__`` attributes and, once fitted, ``factors_`` (a ``LowRank``: user
factors ``left``, item factors ``right``) and optionally ``row_bias_``,
``col_bias_`` and ``mean_``; predictions are ``mean_ + row_bias_[i] +
col_bias_[j] + left[i] @ right[j]``. Registering a class with :func:`register`
makes ``lorank.load`` rebuild it from a file written by :func:`save`.
"""

import inspect

import numpy as np

from . import io

__all__ = ["get_params", "clone", "parts", "augmented", "register", "save"]

_LEARNED = ("row_bias_", "col_bias_")


def get_params(model):
    """``{name: value}`` of the model's ``__init__`` parameters."""
    names = [p.name for p in inspect.signature(type(model).__init__).parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return {name: getattr(model, name) for name in names if hasattr(model, name)}


def clone(model):
    """An unfitted copy with the same parameters."""
    return type(model)(**get_params(model))


def check_fitted(model):
    if not hasattr(model, "factors_"):
        raise AttributeError(
            f"this {type(model).__name__} model is not fitted yet; call fit first"
        )


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


class CompletionModel:
    """What a fitted completion model (ALS, SoftImpute) does with ``factors_``,
    ``row_bias_``, ``col_bias_``, ``mean_`` and its ``biases`` flag."""

    _lowrank = None  # cache of to_lowrank(), reset by fit
    # Whether the row bias is fitted jointly with the factors under the ridge
    # penalty (ALS) or is an unpenalized mean (SoftImpute's centering): the
    # rule Recommender.fold_in follows for a new user.
    _penalized_bias = True

    def to_lowrank(self):
        """The completed matrix as a LowRank, mean and biases folded in.

        With biases the factors are ``[a_i, u_i + μ, 1]`` and ``[b_j, 1, c_j]``
        (rank + 2), so ``to_lowrank().entries(i, j)`` is exactly the prediction.

        Returns
        -------
        LowRank
        """
        check_fitted(self)
        if self._lowrank is None:
            self._lowrank = (with_biases(self.factors_, self.row_bias_, self.col_bias_,
                                         self.mean_) if self.biases else self.factors_)
        return self._lowrank

    def predict(self, rows, cols):
        """Predicted entries at ``(rows[t], cols[t])``, biases included, clipped to
        the training values' range when the model's ``clip`` is on.

        Parameters
        ----------
        rows, cols : array_like of int, same shape

        Returns
        -------
        ndarray
        """
        return clip_predictions(self, self.to_lowrank().entries(rows, cols, n_threads=self.n_threads))

    def _score(self, ratings):
        """RMSE of the model's predictions on ``ratings``."""
        rows, cols, values = ratings.coo()
        err = self.predict(rows, cols) - values
        return float(np.sqrt(np.mean(np.square(err, dtype=np.float64))))


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


def training_data(X, validation, dtype):
    """(ratings, validation ratings or None) in ``dtype`` for an estimator's fit,
    checking that the validation set has the same shape."""
    from .ratings import as_ratings

    ratings = as_ratings(X, dtype=dtype)
    valid = None
    if validation is not None:
        valid = as_ratings(validation, dtype=dtype, name="validation")
        if valid.shape != ratings.shape:
            raise ValueError(
                f"validation has shape {valid.shape} but X has shape {ratings.shape}"
            )
    return ratings, valid


def with_biases(factors, row_bias, col_bias, mean):
    """``factors`` with mean and biases folded in: ``[L, u + μ, 1] [R, 1, c]ᵀ``
    (rank + 2), so its entries are the predictions μ + u_i + c_j + l_iᵀ r_j."""
    from .lowrank import LowRank

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
    return None  # callbacks, Generators: not kept


def _param_value(value):
    if isinstance(value, dict) and set(value) == {"dtype"}:
        return np.dtype(value["dtype"]).type
    return value


def to_arrays(model):
    """(arrays, header) describing a fitted model, for :func:`lorank.io.save`."""
    check_fitted(model)
    arrays = {"left": model.factors_.left, "right": model.factors_.right}
    for name in _LEARNED:
        if getattr(model, name, None) is not None:
            arrays[name.rstrip("_")] = getattr(model, name)
    if hasattr(model, "mean_"):
        arrays["mean"] = np.float64(model.mean_)
    header = {
        "class": type(model).__name__,
        "params": {k: _json_param(v) for k, v in get_params(model).items()},
        "dtype": model.factors_.dtype.name,
    }
    if getattr(model, "rating_range_", None) is not None:
        header["rating_range"] = [float(x) for x in model.rating_range_]
    if hasattr(model, "n_iter_"):
        header["n_iter"] = int(model.n_iter_)
    if hasattr(model, "history_"):
        header["history"] = {k: [x if isinstance(x, int) else float(x) for x in v]
                             for k, v in model.history_.items()}
    return arrays, header


def from_arrays(cls, arrays, header, source="file"):
    """Rebuild a fitted model of class ``cls`` from :func:`to_arrays` output."""
    from .lowrank import LowRank

    for name in ("left", "right"):
        if name not in arrays:
            raise ValueError(f"{source}: the {header['class']} model has no {name!r} array")
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
    if "history" in header:
        model.history_ = {k: list(v) for k, v in header["history"].items()}
    model._lowrank = None  # ALS's cache of to_lowrank()
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
    if name not in _CLASSES:
        raise ValueError(
            f"{path}: holds a {name!r} object, which this lorank cannot rebuild "
            f"(known: {', '.join(sorted(_CLASSES))})"
        )
    _, frm, cls = _CLASSES[name]
    return frm(cls, arrays, header, str(path))
