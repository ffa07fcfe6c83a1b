"""The tiled sweep's tile size at the Netflix shape: the items half-step (rank 10,
float32, biases; it gathers from the 480k user rows, 31 MB) with tiles of 1-16 MiB
of the user factor, and never tiled, alternated in each round, at a fitted point
(after ``ALS(max_iter=3)``: the close fits of a late epoch are there).

Wall and process CPU seconds per half-step, best and median of the rounds;
``exact_sse=False`` as ALS runs its items half-step (the loss comes from the users').
The default tile is a quarter of the last-level cache (``llc_MiB``).
"""

import time

import numpy as np

from _common import fitted_half_steps, load1, netflix_like

SIZES = {"small": dict(nnz=2_000_000, rounds=2), "full": dict(nnz=100_480_507, rounds=3)}
TILES_MIB = (1, 2, 4, 8, 16)
NOTES = ("x_default = the default tile's best wall / this best wall (> 1: faster than "
         "the default). load1 = highest 1-minute load seen.")


def parameters(size):
    return dict(nnz=SIZES[size]["nnz"], rank=10, dtype="float32", biases=True,
                rounds=SIZES[size]["rounds"], tiles_MiB=TILES_MIB)


def run(size, threads):
    from lorank._kernels import _als
    from lorank.datasets import synthetic

    s = SIZES[size]
    R, _ = synthetic(*netflix_like(s["nnz"]), n_threads=threads)
    args, kwargs = fitted_half_steps(R, threads, 3)[-2]  # the last items half-step
    kernel = _als.half_step
    default = _als._set_tile_bytes(1)
    _als._set_tile_bytes(default)
    configs = [(f"{t} MiB", t << 20, 0) for t in TILES_MIB]
    configs.insert(0, ("default", default, 0))
    configs.append(("never tiled", default, 1 << 62))
    times = {name: [] for name, _, _ in configs}
    load = load1()
    for _ in range(s["rounds"]):
        for name, tile, above in configs:
            previous = (_als._set_tile_bytes(tile),
                        _als._set_tiled_above(above) if above else None)
            try:
                a = list(args)
                a[4] = np.array(args[4], copy=True)
                w0, c0 = time.perf_counter(), time.process_time()
                kernel(*a, **dict(kwargs, exact_sse=False))
                times[name].append((time.perf_counter() - w0, time.process_time() - c0))
            finally:
                _als._set_tile_bytes(previous[0])
                if above:
                    _als._set_tiled_above(previous[1])
            load = max(load, load1())
    m, n = R.shape
    best_default = min(w for w, _ in times["default"])
    rows = []
    for name, tile, above in configs:
        t = np.array(times[name])
        rows.append(dict(tile=name, tile_MiB=round(tile / 2**20, 2) if not above else None,
                         llc_MiB=round(_als._last_level_cache_bytes() / 2**20),
                         shape=f"{m}x{n}", nnz=R.nnz, threads=threads,
                         wall_s=round(float(t[:, 0].min()), 4),
                         wall_median_s=round(float(np.median(t[:, 0])), 4),
                         cpu_s=round(float(t[:, 1].min()), 4),
                         x_default=round(best_default / float(t[:, 0].min()), 3), load1=load))
    return rows
