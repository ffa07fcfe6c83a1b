"""What the conjugate-gradient solve costs in accuracy: ALS objective and held-out
RMSE after each epoch, exact Cholesky vs CG with 1, 3 and 5 steps, same start.

Netflix-shaped synthetic ratings (``lorank.datasets.synthetic``, 1M for ``full``),
90/10 split, ALS defaults (biases, reg=1.0, α=0.5), float32, ``init="svd"`` and
``"random"``, tol=0.
"""

import numpy as np

from _common import load1, netflix_like

SIZES = {"small": dict(nnz=200_000, ranks=(10,), iters=6),
         "full": dict(nnz=1_000_000, ranks=(10, 64), iters=10)}
SOLVERS = (("cholesky", 0), ("cg", 1), ("cg", 3), ("cg", 5))

NOTES = (
    "objective / valid_rmse after epochs 1, 2, 3, 5 and the last; gap = (f − f_cholesky) / "
    "f_cholesky after the last epoch, same rank and start; epoch_s = fastest epoch. "
    "load1 = 1-minute load average (2 cores, shared machine)."
)


def parameters(size):
    s = SIZES[size]
    m, n, nnz = netflix_like(s["nnz"])
    return dict(shape=f"{m}x{n}", nnz=nnz, ranks=s["ranks"], iterations=s["iters"],
                dtype="float32", split="90/10, random_state=0")


def run(size, threads):
    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    s = SIZES[size]
    R, _ = synthetic(*netflix_like(s["nnz"]), n_threads=threads)
    train, valid = R.split(0.1, random_state=0)
    rows = []
    for init in ("svd", "random"):
        for rank in s["ranks"]:
            exact = None
            for solver, steps in SOLVERS:
                model = ALS(rank, solver=solver, cg_steps=max(steps, 1), init=init,
                            max_iter=s["iters"], tol=0, n_threads=threads, random_state=0)
                model.fit(train, valid)
                h = model.history_
                f = h["objective"]
                if exact is None:
                    exact = f[-1]
                pick = [i for i in (0, 1, 2, 4) if i < len(f) - 1] + [len(f) - 1]
                rows.append(dict(
                    init=init, rank=rank,
                    solver=solver if solver == "cholesky" else f"cg, {steps} steps",
                    **{f"objective@{i + 1}": f[i] for i in pick},
                    **{f"valid_rmse@{i + 1}": h["valid_rmse"][i] for i in pick},
                    gap=(f[-1] - exact) / exact, epoch_s=min(h["seconds"]),
                    threads=threads, load1=load1()))
    return rows
