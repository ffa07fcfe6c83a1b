"""lorank: low-rank matrix decompositions and completion, with compiled parallel kernels.

Examples
--------
>>> import numpy as np, lorank
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))
>>> U, s, Vt = lorank.svd(X)
>>> lorank.numerical_rank(s)
5
"""

__version__ = "0.1.0"

from . import datasets, io, metrics
from ._openmp import openmp_enabled
from ._estimator import load
from .als import ALS, complete
from .metrics import evaluate
from .recommend import Recommender
from .lowrank import LowRank, compress
from .ratings import Ratings
from .svd import numerical_rank, randomized_svd, svd
from . import plot  # cheap: matplotlib is imported only when a plot is drawn

__all__ = [
    "ALS",
    "LowRank",
    "Ratings",
    "Recommender",
    "complete",
    "compress",
    "datasets",
    "evaluate",
    "io",
    "load",
    "metrics",
    "numerical_rank",
    "openmp_enabled",
    "randomized_svd",
    "svd",
]
