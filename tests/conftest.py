"""Fixtures shared by the tests: SIMD variants, the MovieLens 100K folder."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# The numpy twins of the kernels (tests/_reference.py) import as `_reference`.
sys.path.insert(0, os.path.dirname(__file__))

from lorank._kernels import _als, _fill, _sparse

# The compiled modules whose inner loops have AVX-512, AVX2 and SSE2 variants.
_SIMD_MODULES = (_als, _fill, _sparse)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=[16, 32, 64], ids=lambda w: f"simd{w}")
def simd(request):
    """Run a kernel test with each vector-width variant; the ones this CPU cannot
    execute are recorded as skips (``pytest -ra`` lists them), not dropped."""
    width = request.param
    if width > _als.simd_width():
        pytest.skip(f"the {width}-byte (AVX-512/AVX2) variant needs a CPU that runs it; "
                    f"this one runs at most {_als.simd_width()}-byte vectors")
    previous = [module._set_simd_width(width) for module in _SIMD_MODULES]
    yield width
    for module, old in zip(_SIMD_MODULES, previous):
        module._set_simd_width(old)


# ---------------------------------------------------------------- data


def data_folder(name):
    """Where the data set ``name`` (e.g. ``"ml-100k"``) is, or None.

    ``LORANK_DATA`` (a folder holding ``ml-100k/``) when set; else the
    ``shared/data`` folder beside the repository (``../shared/data`` from the
    repository's root), or beside one of its parent folders (git worktrees).
    """
    if os.environ.get("LORANK_DATA"):
        candidates = [Path(os.environ["LORANK_DATA"])]
    else:
        candidates = [p / "shared" / "data" for p in list(REPO.parents)[:3]]
    for folder in candidates:
        if (folder / name).is_dir():
            return folder / name
    return None


def require_data(name, probe):
    """The data set's folder; skips when it is missing, fails when ``CI`` is set."""
    folder = data_folder(name)
    if folder is None or not (folder / probe).exists():
        where = os.environ.get("LORANK_DATA") or f"{REPO.parent / 'shared' / 'data'}"
        message = (f"{name}/{probe} not found under {where}; set LORANK_DATA to the "
                   f"folder that holds {name}/")
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: missing data is a failure)", pytrace=False)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def ml100k_dir():
    """The MovieLens 100K folder (u.data, u.item)."""
    return require_data("ml-100k", "u.data")


@pytest.fixture(scope="session")
def ml100k_raw(ml100k_dir):
    """u.data as an int64 array (user, item, rating, time), ids from 1."""
    return np.loadtxt(ml100k_dir / "u.data", dtype=np.int64)


# ---------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    """A two-process LocalCluster (one thread each), shared by one test module.

    It closes when its module ends: a cluster left running through the session
    keeps an event loop in this process whose retries and jittered callbacks draw
    from the global ``random`` module, and Hypothesis reports any draw that lands
    inside one of its strategies (a ``HypothesisDeprecationWarning``, an error under
    ``filterwarnings = error``) in whatever module runs at the time."""
    distributed = pytest.importorskip("distributed")
    # Any free port for the dashboard: other clusters on the machine may hold 8787.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def tiled():
    """Every Cholesky half-step takes the tiled sweep (whatever the factor's size),
    in tiles of 1 MiB (the default is a quarter of the last-level cache): a few
    MiB of fixed factor run several tiles."""
    previous = _als._set_tiled_above(0), _als._set_tile_bytes(1 << 20)
    yield
    _als._set_tiled_above(previous[0])
    _als._set_tile_bytes(previous[1])
