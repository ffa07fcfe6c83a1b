"""What a lorank model file must hold, checked once when it is loaded.

``lorank.load`` reads ``(arrays, header)`` with :func:`lorank.io.load`; before
a model or a ``Recommender`` is rebuilt from them, :func:`check_model` and
:func:`check_recommender` check every array (dtype, shape against the other
arrays, finite values, unique labels, the seen pattern's ranges) and every
header field that reaches code (class names, parameters, the thread count).
Whatever passes here is safe to hand to the compiled kernels; nothing after
this re-checks the file.

A model class whose files hold other arrays adds its layout to ``LAYOUTS``
(class name -> {array name: io.Array}); a class without an entry gets the
completion layout (factors, biases, mean).
"""

import inspect
import numbers

import numpy as np

from .._threads import effective_n_threads
from ..io import Array, check_arrays

__all__ = ["LAYOUTS", "check_model", "check_recommender"]

_COMPLETION = {
    "left": Array("float", ("users", "rank")),
    "right": Array("float", ("items", "rank")),
    "row_bias": Array("float", ("users",), required=False),
    "col_bias": Array("float", ("items",), required=False),
    "mean": Array("float", (), required=False),
    "user_labels": Array("labels", ("users",), required=False),
    "item_labels": Array("labels", ("items",), required=False),
}

#: class name -> layout of its arrays in a model file.
LAYOUTS = {
    "ALS": _COMPLETION,
    "SoftImpute": dict(
        _COMPLETION,
        svd_u=Array("float", ("users", "svd_rank")),
        singular_values=Array("float", ("svd_rank",)),
        svd_vt=Array("float", ("svd_rank", "items")),
    ),
}

# A CP model of N <= 10 modes (the half-step's fixed factor and 8 others, plus the
# solved one): factor_m (mode m's rows x rank), bias_m, labels_m; time_edges is
# read as stored (only searched, never indexed with).
_CP = {"mean": Array("float", ())}
for _m in range(10):
    _CP.update({f"factor_{_m}": Array("float", (f"mode {_m}", "rank"), required=_m < 2),
                f"bias_{_m}": Array("float", (f"mode {_m}",), required=_m < 2),
                f"labels_{_m}": Array("labels", (f"mode {_m}",), required=False)})
LAYOUTS["CPALS"] = LAYOUTS["BayesianCP"] = _CP

_RECOMMENDER = {
    # older files kept the labels beside the model, not in it
    "user_labels": Array("labels", ("users",), required=False),
    "item_labels": Array("labels", ("items",), required=False),
    "seen_indptr": Array("int", ("users+1",)),
    "seen_indices": Array("index", ("seen",)),
}

# Arrays that must be there when the model's ``biases`` parameter is on.
_BIAS_ARRAYS = ("row_bias", "col_bias", "mean")


def _layout(name):
    return LAYOUTS.get(name, _COMPLETION)


def _check_class_name(header, source, what="file"):
    name = header.get("class") if isinstance(header, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"{source}: damaged header (the {what}'s class name is {name!r}, "
                         "not a string)")
    return name


def _check_params(cls, header, source):
    """The header's parameters, checked where they reach code at load time."""
    params = header.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{source}: damaged header (params is {type(params).__name__}, "
                         "not a mapping)")
    accepted = {p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"{source}: parameter {unknown[0]!r} is not a {cls.__name__} "
                         f"parameter (known: {', '.join(sorted(accepted))})")
    for key, value in params.items():
        if isinstance(value, dict):
            if set(value) != {"dtype"} or value["dtype"] not in ("float32", "float64"):
                raise ValueError(f"{source}: parameter {key!r} is {value!r}; a stored "
                                 "dtype is {'dtype': 'float32' or 'float64'}")
        elif key == "bias_reg" and isinstance(value, list):  # ALS's (users, items)
            if not (len(value) == 2 and all(isinstance(v, numbers.Real)
                                            and not isinstance(v, bool) for v in value)):
                raise ValueError(f"{source}: parameter 'bias_reg' is {value!r}, not a "
                                 "(users, items) pair of numbers")
        elif not (value is None or isinstance(value, (bool, numbers.Real, str))):
            raise ValueError(f"{source}: parameter {key!r} is {value!r}, which no "
                             "lorank file holds")
    if params.get("n_threads") is not None:
        try:
            effective_n_threads(params["n_threads"], name="n_threads")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: parameter {exc}") from None
    if "biases" in params and not isinstance(params["biases"], bool):
        raise ValueError(f"{source}: parameter 'biases' is {params['biases']!r}, not a bool")
    return params


def _check_history(header, source):
    if "n_iter" in header and (not isinstance(header["n_iter"], int)
                               or isinstance(header["n_iter"], bool) or header["n_iter"] < 0):
        raise ValueError(f"{source}: damaged header (n_iter is {header['n_iter']!r})")
    history = header.get("history", {})
    if not isinstance(history, dict) or not all(
            isinstance(v, list) and all(isinstance(x, numbers.Real) for x in v)
            for v in history.values()):
        raise ValueError(f"{source}: damaged header (history is not a mapping of "
                         "number lists)")


def _check_fitted(header, source):
    from ._estimator import FITTED_NUMBERS

    fitted = header.get("fitted", {})
    if not isinstance(fitted, dict):
        raise ValueError(f"{source}: damaged header (fitted is {fitted!r}, not a mapping)")
    for key, value in fitted.items():
        if key not in FITTED_NUMBERS:
            raise ValueError(f"{source}: damaged header (unknown fitted number {key!r})")
        low = FITTED_NUMBERS[key]
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not np.isfinite(value) or (low is not None and value < low)):
            rule = "a finite number" + (f" >= {low:g}" if low is not None else "")
            raise ValueError(f"{source}: damaged header (fitted {key} is {value!r}, not {rule})")
    if fitted.get("value_scale_", 1.0) == 0:
        raise ValueError(f"{source}: damaged header (fitted value_scale_ is 0)")


def check_model(cls, arrays, header, source, *, prefix=""):
    """``arrays`` of a ``cls`` model, checked (see the module docstring) and in
    native float32/float64; ``ValueError`` naming ``source`` and the problem."""
    name = _check_class_name(header, source, "model")
    if name != cls.__name__:
        raise ValueError(f"{source}: the header names class {name!r}, not {cls.__name__!r}")
    params = _check_params(cls, header, source)
    _check_history(header, source)
    _check_fitted(header, source)
    layout = dict(_layout(name))
    if params.get("biases"):
        layout.update({k: layout[k]._replace(required=True) for k in _BIAS_ARRAYS
                       if k in layout})
    sub = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    sub = check_arrays(sub, layout, source, what=f"{name} model")
    dtype = sub["left" if "left" in layout else "factor_0"].dtype
    stored = header.get("dtype", dtype.name)
    for key in layout:
        if key in sub and layout[key].kind == "float" and key != "mean" and sub[key].dtype != dtype:
            raise ValueError(f"{source}: array {key!r} is {sub[key].dtype} but the "
                             f"factors are {dtype}")
    if stored != dtype.name:
        raise ValueError(f"{source}: the header says dtype {stored!r} but the factors "
                         f"are {dtype}")
    if "singular_values" in sub and (sub["singular_values"] < 0).any():
        raise ValueError(f"{source}: array 'singular_values' holds negative values")
    return dict(arrays, **{prefix + k: v for k, v in sub.items()})


def check_recommender(arrays, header, source, classes):
    """``arrays`` of a Recommender file, checked with its model's arrays (so
    labels, factors and the seen pattern agree in size); ``classes`` maps
    class names to model classes."""
    model_header = header.get("model")
    if not isinstance(model_header, dict):
        raise ValueError(f"{source}: damaged header (no model header)")
    name = _check_class_name(model_header, source, "model")
    if name not in classes or name == "Recommender":
        raise ValueError(f"{source}: unknown model class {name!r}")
    if header.get("n_threads") is not None:
        try:
            effective_n_threads(header["n_threads"], name="n_threads")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from None
    arrays = check_model(classes[name], arrays, model_header, source, prefix="model.")
    left, right = arrays["model.left"], arrays["model.right"]
    dims = {"users": left.shape[0], "items": right.shape[0]}
    arrays = check_arrays(arrays, _RECOMMENDER, source, dims=dims, what="Recommender")
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    if (indptr[0] != 0 or indptr[-1] != len(indices)
            or (indptr[1:] < indptr[:-1]).any()):
        raise ValueError(f"{source}: the seen pattern is damaged (its row pointers do not "
                         f"run from 0 to {len(indices)} in order)")
    if len(indices) and (indices.min() < 0 or indices.max() >= dims["items"]):
        raise ValueError(f"{source}: the seen pattern is damaged (item indices out of "
                         f"range 0..{dims['items'] - 1})")
    return arrays
