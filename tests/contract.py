"""The contract every lorank estimator keeps, written once.

``test_contract.py`` runs every test for every entry of :data:`MODELS` (in the
spirit of implicit's ``recommender_base_test.py``). A new model joins with one
``ModelCase``: how to build it with small, deterministic parameters, the fixtures
it needs, and its bad parameters with the full messages they raise.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

import lorank

# ---------------------------------------------------------------- data


def ratings(dtype=np.float64, labelled=True, seed=0):
    """A small Netflix-shaped problem (60 users x 40 items, 900 ratings), with
    string labels unless ``labelled=False``."""
    R = lorank.datasets.synthetic(60, 40, 900, rank=3, random_state=seed, dtype=dtype)[0]
    if not labelled:
        return R
    rows, cols, values = R.coo()
    users = np.array([f"u{i}" for i in range(R.shape[0])], dtype=object)
    items = np.array([f"item-{j:03d}" for j in range(R.shape[1])], dtype=object)
    return lorank.Ratings.from_labels(users[rows], items[cols], values, dtype=dtype)


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
        elif name == "labels_":  # one LabelIndex per axis
            for axis, index in zip(("users", "items"), value):
                state[f"labels_{axis}"] = ("labelled" if index.labelled else "positions",
                                           np.asarray(index.labels).tolist())
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
    """

    name: str
    build: Callable
    params: dict
    bad: tuple = ()
    needs: tuple = ()
    threads: tuple = (1, 2, 3)
    # History entries computed by another pass over the data when the fit stops
    # early than when it runs out of iterations (same iterate, another summation
    # order): compared to this relative tolerance instead of bitwise.
    stop_history: tuple = ()
    loaded_type: Callable = None  # () -> the class lorank.load returns (default: the same)
    # {test name: why it fails today}: recorded as xfails in the summary.
    known_failures: dict = None

    def __post_init__(self):
        if self.known_failures is None:
            object.__setattr__(self, "known_failures", {})

    def make(self, fixtures, **params):
        return self.build(fixtures, **{**self.params, **params})

    def __repr__(self):
        return self.name


# Shared bad parameters: every model with these parameters raises the same words.
_COMMON_BAD = (
    (dict(rank=0), ValueError, r"rank must be positive, got 0"),
    (dict(rank=-2), ValueError, r"rank must be positive, got -2"),
    (dict(rank=2.5), TypeError, r"rank must be an integer, got 2\.5"),
    (dict(rank=41), ValueError,
     r"rank=41 exceeds min\(m, n\) = 40 for a matrix of shape \(60, 40\)"),
    (dict(reg=-1.0), ValueError, r"reg must be a finite number >= 0, got -1\.0"),
    (dict(reg=np.nan), ValueError, r"reg must be a finite number >= 0, got nan"),
    (dict(reg=np.inf), ValueError, r"reg must be a finite number >= 0, got inf"),
    (dict(reg="1"), TypeError, r"reg must be a real number, got '1'"),
    (dict(max_iter=0), ValueError, r"max_iter must be >= 1, got 0"),
    (dict(max_iter=2.0), TypeError, r"max_iter must be an integer, got 2\.0"),
    (dict(tol=-1.0), ValueError, r"tol must be a finite number >= 0, got -1\.0"),
    (dict(tol=np.nan), ValueError, r"tol must be a finite number >= 0, got nan"),
    (dict(tol=None), TypeError, r"tol must be a real number, got None"),
    (dict(callback=3), TypeError, r"callback must be callable, got 3"),
    (dict(n_threads=0), ValueError,
     r"n_threads=0 is not a thread count: use None or -1 for all usable cores"),
    (dict(n_threads=1.5), TypeError, r"n_threads must be an integer or None, got 1\.5"),
    (dict(dtype=np.int32), TypeError, r"dtype must be float32 or float64, got int32"),
    (dict(dtype="float16"), TypeError, r"dtype must be float32 or float64, got float16"),
    (dict(dtype="double precision"), TypeError, r"dtype must be float32 or float64, got"),
    (dict(biases="no"), TypeError, r"biases must be True or False, got 'no'"),
    (dict(random_state=-1), ValueError,
     r"random_state must be a non-negative integer \(a seed\), got -1"),
    (dict(random_state="x"), TypeError, r"random_state must be None, a non-negative integer"),
)

_ALS_BAD = _COMMON_BAD + (
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


def _als(fixtures, **params):
    return lorank.ALS(**params)


def _softimpute(fixtures, **params):
    return lorank.SoftImpute(**params)


def _distributed_als(fixtures, **params):
    import lorank.distributed

    return lorank.distributed.ALS(fixtures["dask_client"], **params)


def _loads_as_als():
    return lorank.ALS


MODELS = [
    ModelCase("ALS", _als, dict(rank=3, max_iter=6, tol=0, random_state=0), bad=_ALS_BAD),
    ModelCase("SoftImpute", _softimpute,
              dict(rank=3, reg=1.0, max_iter=6, tol=0, random_state=0, biases=True),
              bad=_COMMON_BAD,
              # The last iterate's loss: the next column pass (stopped) or the
              # final row pass (max_iter reached).
              stop_history=("history_train_rmse", "history_objective")),
    ModelCase("distributed.ALS", _distributed_als,
              dict(rank=3, max_iter=4, tol=0, random_state=0), bad=_ALS_BAD,
              needs=("dask_client",), threads=(1, 2), loaded_type=_loads_as_als,
              known_failures={"sklearn_clone": "sklearn.base.clone deep-copies the "
                              "client parameter: TypeError, cannot pickle '_asyncio.Future'"}),
]
