"""The contract every lorank estimator keeps, written once.

``test_contract.py`` runs every test for every entry of :data:`MODELS` (in the
spirit of implicit's ``recommender_base_test.py``). A new model joins with one
``ModelCase``: how to build it with small, deterministic parameters, the fixtures
it needs, and its bad parameters with the full messages they raise.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import lorank

# ---------------------------------------------------------------- data


def ratings(dtype=np.float64, labelled=True, seed=0):
    """A small Netflix-shaped problem (60 users x 40 items, 900 ratings, values
    1..5), with string labels unless ``labelled=False``."""
    R = lorank.datasets.synthetic(60, 40, 900, rank=3, random_state=seed, dtype=dtype)[0]
    if not labelled:
        return R
    rows, cols, values = R.coo()
    users = np.array([f"u{i}" for i in range(R.shape[0])], dtype=object)
    items = np.array([f"item-{j:03d}" for j in range(R.shape[1])], dtype=object)
    return lorank.Ratings.from_labels(users[rows], items[cols], values, dtype=dtype)


def tensor(dtype=np.float64, labelled=True, seed=0):
    """:func:`ratings` with a third mode of 4 time bins (60 x 40 x 4), labelled
    ``"t0"``..``"t3"`` unless ``labelled=False``."""
    R = lorank.datasets.synthetic(60, 40, 900, rank=3, random_state=seed, dtype=dtype)[0]
    rows, cols, values = R.coo()
    bins = (7 * rows + 3 * cols) % 4
    if not labelled:
        return lorank.TensorRatings((rows, cols, bins), values, R.shape + (4,), dtype=dtype)
    labels = [np.array([f"{p}{i}" for i in range(n)], dtype=object)
              for p, n in (("u", R.shape[0]), ("item-", R.shape[1]), ("t", 4))]
    return lorank.TensorRatings.from_labels(
        (labels[0][rows], labels[1][cols], labels[2][bins]), values, dtype=dtype)


class Matrix:
    """How the suite reads a user x item problem (a ``Ratings``) and its model."""

    make = staticmethod(ratings)

    @staticmethod
    def observed(X):
        rows, cols, values = X.coo()
        return (rows, cols), values

    @staticmethod
    def labels(X):
        return X.row_labels, X.col_labels

    @staticmethod
    def model_labels(model):
        return model.user_labels_, model.item_labels_

    @staticmethod
    def predict_positions(model, index):
        return model.predict_positions(*index)

    @staticmethod
    def predict(model, labels):
        return model.predict(*labels)

    @staticmethod
    def unknown(axis, label):
        """The KeyError message of an unknown label on ``axis``."""
        return rf"unknown {('users', 'items')[axis]}: {label!r}"


class Tensor(Matrix):
    """The same for an N-way problem (a ``TensorRatings``) and CPALS's protocol."""

    make = staticmethod(tensor)

    @staticmethod
    def observed(X):
        index, values = X.coo()
        return tuple(index), values

    @staticmethod
    def labels(X):
        return tuple(np.arange(n) if lab is None else np.asarray(lab)
                     for lab, n in zip(X.labels, X.shape))

    @staticmethod
    def model_labels(model):
        return tuple(index.labels for index in model.labels_)

    @staticmethod
    def predict_positions(model, index):
        return model.predict_positions(tuple(index))

    @staticmethod
    def predict(model, labels):
        return model.predict(tuple(labels))

    @staticmethod
    def unknown(axis, label):
        return rf"unknown mode {axis} labels?: {label!r}"


# ---------------------------------------------------------------- fitted state


def fitted_state(model):
    """Every learned attribute (``name_``), LowRanks as their two factors, the
    history without its timings."""
    state = {}
    for name, value in vars(model).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, lorank.LowRank):
            state[name + "left"], state[name + "right"] = value.left, value.right
        elif name == "labels_":  # one LabelIndex per axis (mode)
            for axis, index in enumerate(value):
                state[f"labels_{axis}"] = ("labelled" if index.labelled else "positions",
                                           np.asarray(index.labels).tolist())
        elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            state.update({f"{name}{m}": a for m, a in enumerate(value)})  # one per mode
        elif name == "history_":
            state.update({f"history_{k}": v for k, v in value.items() if k != "seconds"})
        else:
            state[name] = value
    return state


def assert_same_state(a, b, label="", skip=()):
    """Bitwise equality of two :func:`fitted_state` dicts (NaNs included)."""
    assert a.keys() == b.keys(), (label, sorted(set(a) ^ set(b)))
    for name in a:
        if name in skip:
            continue
        x, y = a[name], b[name]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            assert x.dtype == y.dtype and x.shape == y.shape, (label, name)
            if x.dtype.hasobject:
                assert x.tolist() == y.tolist(), (label, name)
                continue
        elif isinstance(x, (list, tuple)):
            if not all(isinstance(v, (int, float, np.number)) for v in [*x, *y]):
                assert x == y, (label, name)
                continue
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
            assert x.shape == y.shape, (label, name)
        else:
            assert type(x) is type(y), (label, name, type(x), type(y))
            if not isinstance(x, (int, float, np.generic)):
                assert x == y, (label, name)
                continue
            x, y = np.asarray(x), np.asarray(y)
        assert x.tobytes() == y.tobytes(), (label, name)


# ---------------------------------------------------------------- the registry

# What a contract test may need of a model. A model without one declares it in
# its ModelCase's ``lacks`` with the reason; the tests that need it then skip
# saying so (``pytest -ra`` lists them), and test_contract checks that the
# declaration is true (e.g. no ``n_threads`` parameter without "threads").
CAPABILITIES = {
    "iterations": "an iteration loop: history_, callback, Ctrl-C",
    "threads": "an n_threads parameter, the results independent of it",
    "kernels": "kernels run in this process: the suite watches their calls and team sizes",
    "recommender": "lorank.Recommender serves it (a users x items model)",
    "dataframe": "fit(DataFrame, columns=(user, item, rating))",
}

THREADS = (1, 2, 3, 8)


@dataclass(frozen=True)
class ModelCase:
    """How the contract suite builds and checks one estimator.

    build(fixtures, **params)
        An unfitted model; ``fixtures`` maps the names in ``needs`` to their
        values (e.g. the Dask client).
    params
        Small, deterministic parameters merged under the test's own.
    bad
        ``(params, exception type, full message regex)`` that ``fit`` must raise.
    problem
        :class:`Matrix` (fit on a ``Ratings``) or :class:`Tensor` (``TensorRatings``).
    iter_param
        The parameter that counts the iterations (``n_samples`` for a sampler).
    lacks
        ``{capability: why}`` for the :data:`CAPABILITIES` the model does not have.
    kernels
        ``(module, attribute, functions)``: the compiled module the model calls
        as ``module.attribute``, and the functions whose team size
        (``last_team_size()``) the thread test checks.
    tune
        ``(parameter, value, other value)`` that get_params/set_params change.
    variant
        Parameters other than the defaults, for the save/load round trip.
    learned
        Entries of :func:`fitted_state` a saved and loaded model must both have.
    """

    name: str
    build: Callable
    params: dict
    bad: tuple = ()
    needs: tuple = ()
    problem: type = Matrix
    iter_param: str = "max_iter"
    lacks: dict = field(default_factory=dict)
    threads: tuple = THREADS
    kernels: tuple = ()
    tune: tuple = ("rank", 2, 4)
    variant: dict = field(default_factory=lambda: dict(reg=0.7, random_state=3))
    learned: tuple = ("factors_left", "factors_right", "row_bias_", "col_bias_", "mean_")
    # What score(X) is: "rmse" (minus the RMSE of the predictions) or "ranking"
    # (NDCG@10 of top-k lists that leave out the training items).
    score: str = "rmse"
    # History entries computed by another pass over the data when the fit stops
    # early than when it runs out of iterations (same iterate, another summation
    # order): compared to this relative tolerance instead of bitwise.
    stop_history: tuple = ()
    # Watched kernel calls a fit makes after its last iteration.
    final_calls: int = 0
    loaded_type: Callable = None  # () -> the class lorank.load returns (default: the same)
    # {test name: why it fails today}: recorded as xfails in the summary.
    known_failures: dict = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.lacks) - set(CAPABILITIES)
        assert not unknown, f"{self.name}: unknown capabilities {unknown}"
        assert all(isinstance(why, str) and why.strip() for why in self.lacks.values())
        if self.has("kernels"):
            assert self.kernels, f"{self.name}: name its kernels or declare them lacking"

    def has(self, capability):
        assert capability in CAPABILITIES, capability
        return capability not in self.lacks

    def require(self, capability):
        """Skip, with the declared reason, when the model lacks ``capability``."""
        import pytest

        if not self.has(capability):
            pytest.skip(f"{self.name} has no {capability} ({CAPABILITIES[capability]}): "
                        f"{self.lacks[capability]}")

    def model_class(self):
        """The estimator class (imported on demand: distributed needs Dask)."""
        return self.build.model_class()

    def resolved(self, **params):
        """The constructor's arguments: ``params`` over the case's own, with
        ``max_iter`` read as the model's ``iter_param``."""
        def named(p):
            p = dict(p)
            if "max_iter" in p and self.iter_param != "max_iter":
                p[self.iter_param] = p.pop("max_iter")
            return p

        return {**named(self.params), **named(params)}

    def make(self, fixtures, **params):
        return self.build(fixtures, **self.resolved(**params))

    def __repr__(self):
        return self.name


# ---------------------------------------------------------------- bad parameters
# Each group once, with the one message every model that has the parameter
# raises (the checks of lorank.models._estimator).


def _rank_bad(too_large=r"rank=41 exceeds min\(m, n\) = 40 for a matrix of shape \(60, 40\)"):
    return (
        (dict(rank=0), ValueError, r"rank must be positive, got 0"),
        (dict(rank=-2), ValueError, r"rank must be positive, got -2"),
        (dict(rank=2.5), TypeError, r"rank must be an integer, got 2\.5"),
        (dict(rank=41), ValueError, too_large),
    )


def _real_bad(name, what=">= 0"):
    return (
        (dict(**{name: -1.0}), ValueError, rf"{name} must be a finite number {what}, got -1\.0"),
        (dict(**{name: np.nan}), ValueError, rf"{name} must be a finite number {what}, got nan"),
        (dict(**{name: np.inf}), ValueError, rf"{name} must be a finite number {what}, got inf"),
        (dict(**{name: "1"}), TypeError, rf"{name} must be a real number, got '1'"),
    )


def _iter_bad(name="max_iter"):
    return (
        (dict(**{name: 0}), ValueError, rf"{name} must be >= 1, got 0"),
        (dict(**{name: 2.0}), TypeError, rf"{name} must be an integer, got 2\.0"),
    )


_TOL_BAD = (
    (dict(tol=-1.0), ValueError, r"tol must be a finite number >= 0, got -1\.0"),
    (dict(tol=np.nan), ValueError, r"tol must be a finite number >= 0, got nan"),
    (dict(tol=None), TypeError, r"tol must be a real number, got None"),
)
_CALLBACK_BAD = (
    (dict(callback=3), TypeError, r"callback must be callable, got 3"),
    (dict(progress="yes"), TypeError, r"progress must be True or False, got 'yes'"),
)
_THREADS_BAD = (
    (dict(n_threads=0), ValueError,
     r"n_threads=0 is not a thread count: use None or -1 for all usable cores"),
    (dict(n_threads=1.5), TypeError, r"n_threads must be an integer or None, got 1\.5"),
)
_DTYPE_BAD = (
    (dict(dtype=np.int32), TypeError, r"dtype must be float32 or float64, got int32"),
    (dict(dtype="float16"), TypeError, r"dtype must be float32 or float64, got float16"),
    (dict(dtype="double precision"), TypeError, r"dtype must be float32 or float64, got"),
)
_SEED_BAD = (
    (dict(random_state=-1), ValueError,
     r"random_state must be a non-negative integer \(a seed\), got -1"),
    (dict(random_state="x"), TypeError, r"random_state must be None, a non-negative integer"),
)


def _bool_bad(name):
    return ((dict(**{name: "no"}), TypeError, rf"{name} must be True or False, got 'no'"),)


_WEIGHTED_BAD = (
    (dict(weighted_reg=2), ValueError,
     r"weighted_reg must be True, False or a number in \[0, 1\], got 2"),
    (dict(weighted_reg=-0.5), ValueError,
     r"weighted_reg must be True, False or a number in \[0, 1\], got -0\.5"),
    (dict(weighted_reg=np.nan), ValueError,
     r"weighted_reg must be True, False or a number in \[0, 1\], got nan"),
    (dict(weighted_reg="yes"), TypeError,
     r"weighted_reg must be True, False or a number in \[0, 1\], got 'yes'"),
    (dict(init="pca"), ValueError, r'init must be "svd" or "random", got \'pca\''),
)

_COMMON_BAD = (_rank_bad() + _real_bad("reg") + _iter_bad() + _TOL_BAD + _CALLBACK_BAD
               + _THREADS_BAD + _DTYPE_BAD + _bool_bad("biases") + _SEED_BAD)
_ALS_BAD = _COMMON_BAD + _WEIGHTED_BAD

_BAYES_BAD = (
    _rank_bad() + _iter_bad("n_samples") + _CALLBACK_BAD + _THREADS_BAD + _DTYPE_BAD
    + _bool_bad("biases") + _bool_bad("clip") + _SEED_BAD + (
        (dict(burn_in=-1), ValueError, r"burn_in must be >= 0, got -1"),
        (dict(thin=0), ValueError, r"thin must be >= 1, got 0"),
        (dict(max_iter=4, burn_in=4), ValueError,
         r"burn_in=4 must be smaller than n_samples=4, or no sample is kept"),
        (dict(max_iter=6, burn_in=1, thin=6), ValueError,
         r"thin=6 keeps no sample of the 5 after burn-in"),
    ))

_IMPLICIT_BAD = (
    _rank_bad() + _real_bad("reg") + _iter_bad() + _TOL_BAD + _CALLBACK_BAD + _THREADS_BAD
    + _DTYPE_BAD + _SEED_BAD + _iter_bad("cg_steps") + (
        (dict(alpha=0.0), ValueError, r"alpha must be a finite number > 0, got 0\.0"),
        (dict(alpha=np.nan), ValueError, r"alpha must be a finite number, got nan"),
        (dict(epsilon=-1.0), ValueError, r"epsilon must be a finite number > 0, got -1\.0"),
        (dict(confidence="sqrt"), ValueError,
         r'confidence must be "linear" or "log", got \'sqrt\''),
        (dict(solver="lu"), ValueError, r'solver must be "cholesky" or "cg", got \'lu\''),
    ))

_CPALS_BAD = (
    _rank_bad(r"rank=41 exceeds shape\[1\] = 40, the second largest mode, which the "
              r'spectral start needs; use init="random"')
    + _real_bad("reg") + _iter_bad() + _TOL_BAD + _CALLBACK_BAD + _THREADS_BAD + _DTYPE_BAD
    + _bool_bad("biases") + _SEED_BAD + _WEIGHTED_BAD)

_BAYES_CP_BAD = (
    _rank_bad()[:3] + _iter_bad("n_samples") + _CALLBACK_BAD + _THREADS_BAD + _DTYPE_BAD
    + _bool_bad("biases") + _bool_bad("clip") + _SEED_BAD + _BAYES_BAD[-4:] + (
        (dict(max_stored=0), ValueError, r"max_stored must be >= 1, got 0"),
        (dict(time_mode=3), ValueError,
         r"time_mode=3 is not a mode of a 3-way tensor \(0\.\.2, or negative from the end\)"),
    ))

_BASELINE_BAD = (_real_bad("reg_users") + _real_bad("reg_items") + _iter_bad() + _CALLBACK_BAD
                 + _THREADS_BAD + _DTYPE_BAD + _bool_bad("clip"))

_POPULARITY_BAD = _DTYPE_BAD + (
    (dict(by="mean"), ValueError, r'by must be "count" or "sum", got \'mean\''),
    (dict(by=None), ValueError, r'by must be "count" or "sum", got None'),
)


def _model(cls_name):
    def build(fixtures, **params):
        return getattr(lorank, cls_name)(**params)

    build.__name__ = cls_name
    build.model_class = lambda: getattr(lorank, cls_name)
    return build


def _distributed_als(fixtures, **params):
    import lorank.distributed

    return lorank.distributed.ALS(fixtures["dask_client"], **params)


def _distributed_class():
    import lorank.distributed

    return lorank.distributed.ALS


_distributed_als.model_class = _distributed_class


def _loads_as_als():
    return lorank.ALS


_HALF_STEP = ("half_step",)
_NO_ITERATIONS = "its fit counts the items once; there is no iteration to stop or record"

MODELS = [
    # A fixed reg: the default, "auto", fits a path before the fit the iteration
    # contract watches (its own tests: test_auto_reg.py).
    ModelCase("ALS", _model("ALS"), dict(rank=3, reg=1.0, max_iter=6, tol=0, random_state=0),
              bad=_ALS_BAD, kernels=(("lorank.models.als", "_als", _HALF_STEP),)),
    ModelCase("SoftImpute", _model("SoftImpute"),
              dict(rank=3, reg=1.0, max_iter=6, tol=0, random_state=0, biases=True),
              bad=_COMMON_BAD,
              kernels=(("lorank.linalg.sparse_plus_lowrank", "_fill", ("gather", "scatter")),
                       ("lorank.models.softimpute", "_fill", ("step",))),
              final_calls=1),  # the soft-threshold's row pass
    ModelCase("distributed.ALS", _distributed_als,
              dict(rank=3, max_iter=4, tol=0, random_state=0), bad=_ALS_BAD,
              needs=("dask_client",), threads=(1, 2), loaded_type=_loads_as_als,
              lacks={"kernels": "its kernels run in the Dask worker processes, out of "
                                "this process's reach"},
              known_failures={"sklearn_clone": "sklearn.base.clone deep-copies the "
                              "client parameter: TypeError, cannot pickle '_asyncio.Future'"}),
    ModelCase("BayesianALS", _model("BayesianALS"),
              dict(rank=3, max_iter=6, burn_in=1, random_state=0), bad=_BAYES_BAD,
              iter_param="n_samples", variant=dict(random_state=3, thin=2),
              kernels=(("lorank.models.als", "_als", _HALF_STEP),
                       ("lorank.models.bayesian", "_als", _HALF_STEP))),
    ModelCase("ImplicitALS", _model("ImplicitALS"),
              dict(rank=3, max_iter=6, random_state=0), bad=_IMPLICIT_BAD,
              kernels=(("lorank.models.implicit_als", "_als", _HALF_STEP),), score="ranking",
              learned=("factors_left", "factors_right", "mean_")),
    ModelCase("CPALS", _model("CPALS"), dict(rank=3, max_iter=6, tol=0, random_state=0),
              bad=_CPALS_BAD, problem=Tensor,
              kernels=(("lorank.models.cp_als", "_als", _HALF_STEP),),
              learned=("factors_0", "factors_1", "factors_2", "biases_0", "biases_1",
                       "biases_2", "mean_"),
              lacks={"recommender": "it completes an N-way tensor; CPALS.to_lowrank(time) "
                                    "is the users x items matrix a Recommender would serve",
                     "dataframe": "fit takes a TensorRatings only "
                                  "(Ratings.from_pandas(...).to_tensor(bins) builds one)"}),
    ModelCase("BayesianCP", _model("BayesianCP"),
              dict(rank=3, max_iter=6, burn_in=1, random_state=0), bad=_BAYES_CP_BAD,
              problem=Tensor, iter_param="n_samples",
              variant=dict(random_state=3, thin=2, time_mode=-1),
              kernels=(("lorank.models.cp_als", "_als", _HALF_STEP),
                       ("lorank.models.bayesian_cp", "_als", _HALF_STEP)),
              learned=("factors_0", "factors_1", "factors_2", "biases_0", "biases_1",
                       "biases_2", "mean_", "alpha_", "n_kept_", "n_stored_"),
              lacks={"recommender": "it completes an N-way tensor; BayesianCP.at(time) is "
                                    "the users x items model a Recommender serves",
                     "dataframe": "fit takes a TensorRatings only "
                                  "(Ratings.from_pandas(...).to_tensor(bins) builds one)"}),
    ModelCase("Baseline", _model("Baseline"), dict(max_iter=6), bad=_BASELINE_BAD,
              kernels=(("lorank.models.baseline", "_als", _HALF_STEP),),
              tune=("reg_users", 2.0, 4.0), variant=dict(reg_users=0.7, reg_items=3.0),
              learned=("row_bias_", "col_bias_", "mean_")),
    ModelCase("Popularity", _model("Popularity"), {}, bad=_POPULARITY_BAD,
              tune=("by", "count", "sum"), variant=dict(by="sum"), score="ranking",
              learned=("factors_left", "factors_right", "popularity_", "mean_"),
              lacks={"iterations": _NO_ITERATIONS,
                     "threads": "its fit is one bincount in numpy, with no n_threads",
                     "kernels": "it calls no kernel while fitting"}),
]
