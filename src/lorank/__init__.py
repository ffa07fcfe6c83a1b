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

from . import datasets
from ._openmp import openmp_enabled
from .als import ALS
from .complete import complete
from .softimpute import SoftImpute, lambda_max, soft_impute_path
from .sparse_plus_lowrank import SparsePlusLowRank
from .lowrank import LowRank, compress
from .ratings import Ratings
from .svd import numerical_rank, randomized_svd, svd
from . import plot  # cheap: matplotlib is imported only when a plot is drawn

__all__ = [
    "ALS",
    "LowRank",
    "Ratings",
    "SoftImpute",
    "SparsePlusLowRank",
    "complete",
    "compress",
    "datasets",
    "lambda_max",
    "numerical_rank",
    "openmp_enabled",
    "randomized_svd",
    "soft_impute_path",
    "svd",
]
