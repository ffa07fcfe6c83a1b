"""lorank's ALS vs the seed's plain-numpy ALS (bench/seed_als.py), per epoch.

Both fit the same objective: rank 10, no biases, plain ridge penalty reg=0.05
(``weighted_reg=False``), float32, on Netflix-shaped synthetic ratings (the
Netflix shape scaled by 1/10 per side: 48,019 x 1,777 for 1M ratings). The
numpy loop is timed per epoch (several epochs, fastest kept); lorank's epochs
come from ``history_["seconds"]`` (two fits with tol=0, one before and one
after the numpy epochs, fastest epoch kept). A separate check starts both from
the same factors (lorank's ``init="random"`` draw, reproduced) and compares
the factors after one epoch, in float64 and float32.
"""

import numpy as np

import seed_als
from _common import best_time, epoch_seconds, load1, netflix_like

SIZES = {"small": 100_000, "full": 1_000_000}
SEED_EPOCHS = {"small": 2, "full": 3}
LORANK_ITERS = {"small": 10, "full": 10}
RANK, REG = 10, 0.05
CHECK_NNZ = 20_000

NOTES = (
    "epoch_s = fastest epoch, median_s = median epoch; x seed = seed fastest / this fastest. "
    "lorank's epoch includes its training-loss pass; the numpy loop computes no loss. "
    "max_rel_diff = max |lorank - seed| / max |seed| over both factors after one epoch "
    f"from the same start ({CHECK_NNZ:,} ratings, {netflix_like(CHECK_NNZ)[:2]}); "
    "load1 = 1-minute load average after the row's measurement (2-core machine shared "
    "with other workers)."
)


def parameters(size):
    m, n, nnz = netflix_like(SIZES[size])
    return dict(shape=f"{m}x{n}", nnz=nnz, rank=RANK, reg=REG, weighted_reg=False,
                biases=False, dtype="float32", seed_epochs=SEED_EPOCHS[size],
                lorank_iterations=LORANK_ITERS[size])


def _lorank(dtype, max_iter, threads):
    from lorank.models.als import ALS

    return ALS(RANK, reg=REG, weighted_reg=False, biases=False, init="random",
               max_iter=max_iter, tol=0, dtype=dtype, n_threads=threads, random_state=0)


def _same_start(m, dtype):
    """lorank's init="random" row factors for random_state=0 (the column factors
    are solved first, so their start does not matter)."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((m, RANK)) / np.sqrt(RANK)).astype(dtype)


def _check(threads):
    """Max relative factor difference after one epoch, per dtype."""
    from lorank.datasets import synthetic

    out = {}
    for dtype in (np.float64, np.float32):
        R, _ = synthetic(*netflix_like(CHECK_NNZ), dtype=dtype, random_state=1)
        A = _same_start(R.shape[0], dtype)
        B = np.zeros((R.shape[1], RANK), dtype)
        seed_als.epoch(R, A, B, dtype(REG))
        model = _lorank(dtype, 1, threads).fit(R)
        scale = max(np.abs(A).max(), np.abs(B).max())
        diff = max(np.abs(model.factors_.left - A).max(), np.abs(model.factors_.right - B).max())
        out[np.dtype(dtype).name] = float(diff / scale)
    return out


def run(size, threads):
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(SIZES[size])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    check = _check(threads)

    first = _lorank(np.float32, LORANK_ITERS[size], threads).fit(R)
    load_a = load1()
    A = _same_start(m, np.float32)
    B = np.zeros((n, RANK), np.float32)
    seed_s = min(best_time(lambda: seed_als.epoch(R, A, B, np.float32(REG)))[0]
                 for _ in range(SEED_EPOCHS[size]))
    seed_median = seed_s  # one fastest-of-N figure for the numpy loop
    load_s = load1()
    second = _lorank(np.float32, LORANK_ITERS[size], threads).fit(R)
    load_b = load1()
    fast = min(epoch_seconds(first)[0], epoch_seconds(second)[0])
    median = float(np.median(first.history_["seconds"] + second.history_["seconds"]))

    common = dict(shape=f"{m}x{n}", nnz=nnz, rank=RANK, dtype="float32")
    return [
        dict(method="seed numpy ALS", **common, threads=1, epoch_s=seed_s,
             median_s=seed_median, **{"x seed": 1.0}, max_rel_diff=None, load1=load_s),
        dict(method="lorank ALS", **common, threads=threads, epoch_s=fast, median_s=median,
             **{"x seed": seed_s / fast},
             max_rel_diff=f"f64 {check['float64']:.1e}, f32 {check['float32']:.1e}",
             load1=max(load_a, load_b)),
    ]
