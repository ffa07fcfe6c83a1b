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

from . import datasets, io, metrics, model_selection
from ._kernels._openmp import openmp_enabled
from ._config import show_config
from .models._estimator import NotFittedError, load
from .models.als import ALS
from .models.baseline import Baseline
from .models.bayesian import BayesianALS
from .models.bayesian_cp import BayesianCP
from .complete import complete
from .models.cp_als import CPALS
from .models.implicit_als import ImplicitALS
from .linalg.lowrank import LowRank, compress
from .model_selection import evaluate
from .models.popularity import Popularity
from .data.ratings import Ratings
from .recommend import Recommender
from .models.softimpute import SoftImpute, lambda_max, soft_impute_path
from .linalg.sparse_plus_lowrank import SparsePlusLowRank
from .linalg.svd import block_krylov_svd, numerical_rank, randomized_svd, svd
from .data.tensor_ratings import TensorRatings
from . import plot  # cheap: matplotlib is imported only when a plot is drawn

__all__ = [
    "ALS",
    "Baseline",
    "BayesianALS",
    "BayesianCP",
    "block_krylov_svd",
    "complete",
    "CPALS",
    "compress",
    "datasets",
    "evaluate",
    "ImplicitALS",
    "io",
    "lambda_max",
    "load",
    "LowRank",
    "metrics",
    "model_selection",
    "NotFittedError",
    "numerical_rank",
    "openmp_enabled",
    "Popularity",
    "randomized_svd",
    "Ratings",
    "Recommender",
    "soft_impute_path",
    "show_config",
    "SoftImpute",
    "SparsePlusLowRank",
    "svd",
    "TensorRatings",
]
