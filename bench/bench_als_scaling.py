"""ALS epoch time vs the number of ratings and vs the rank, beside the cost model.

Netflix-shaped synthetic ratings at each size (the Netflix shape scaled by
sqrt(nnz / 100M) per side; 100M is the real 480,189 x 17,770 x 100,480,507).
ALS with biases, ALS-WR reg 0.05 (the defaults until 2026-11-29), float32, with
``init="random"`` (an epoch costs the same whatever the start; this skips the
spectral start) and tol=0; the fastest of the epochs is kept.

Cost model per epoch, d = rank + 1 unknowns per solve (biases on):
|Ω| d² + (m + n) d³, normalized to the 10M / rank 10 point. "model padded"
counts what the kernel does: Gram rows in blocks of 4 over factor rows padded
to whole 64-byte vectors (w = 16 floats for d <= 16, 32 for d <= 32, 64 for
d <= 64): |Ω| ceil(d/4)·4·w + (m + n) d³.
"""

import numpy as np

from _common import epoch_seconds, load1, netflix_like

SIZES = {
    "small": dict(nnz=(100_000, 300_000, 1_000_000), ranks=(5, 10, 20, 50), at=300_000,
                  iters=4),
    "full": dict(nnz=(1_000_000, 10_000_000, 100_000_000), ranks=(5, 10, 20, 50),
                 at=10_000_000, iters=4),
}
REF_RANK = 10

NOTES = (
    "epoch_s = fastest epoch, median_s = median epoch (history_['seconds'], includes the "
    "training-loss pass); measured = epoch_s / epoch_s at the reference point; model, "
    "model padded: the cost models above, same normalization. load1 = 1-minute load "
    "average after the fit (2-core machine shared with other workers)."
)


def parameters(size):
    s = SIZES[size]
    return dict(nnz=s["nnz"], shapes=[netflix_like(k)[:2] for k in s["nnz"]],
                ranks=s["ranks"], rank_sweep_at=s["at"], iterations=s["iters"],
                dtype="float32", biases=True, init="random")


def _costs(m, n, nnz, rank):
    d = rank + 1
    w = 16 * -(-d // 16)
    return nnz * d * d + (m + n) * d**3, nnz * (-(-d // 4) * 4) * w + (m + n) * d**3


def run(size, threads):
    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    s = SIZES[size]
    points = [(nnz, REF_RANK) for nnz in s["nnz"]]
    points += [(s["at"], r) for r in s["ranks"] if (s["at"], r) not in points]
    ref = (s["at"], REF_RANK)
    measured = {}
    for nnz in sorted({p[0] for p in points}):
        R, _ = synthetic(*netflix_like(nnz), n_threads=threads)
        for point in [p for p in points if p[0] == nnz]:
            model = ALS(point[1], reg=0.05, weighted_reg=True, init="random",
                        max_iter=s["iters"], tol=0,
                        n_threads=threads, random_state=0).fit(R)
            measured[point] = (*epoch_seconds(model), load1())
        del R

    ref_cost = _costs(*netflix_like(ref[0]), ref[1])
    rows = []
    for sweep, selected in (("nnz", [p for p in points if p[1] == REF_RANK]),
                            ("rank", sorted(p for p in points if p[0] == s["at"]))):
        for point in selected:
            m, n, nnz = netflix_like(point[0])
            fast, median, load = measured[point]
            cost = _costs(m, n, nnz, point[1])
            rows.append(dict(
                sweep=sweep, shape=f"{m}x{n}", nnz=nnz, rank=point[1], dtype="float32",
                threads=threads, epoch_s=fast, median_s=median,
                measured=fast / measured[ref][0], model=cost[0] / ref_cost[0],
                **{"model padded": cost[1] / ref_cost[1]}, load1=load))
    return rows
