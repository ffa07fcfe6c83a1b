"""Plain-numpy twins for the tensor code: the generalized ALS half-step (the
documented ``_als.half_step`` signature, ``others=`` included) and dense CP helpers.

The half-step is vectorized over targets (a batched solve), so it is written
differently from the compiled per-target loop it checks.
"""

import numpy as np


def half_step(indptr, indices, values, fixed, solved, mean, lam, biases, rank,
              sse, rsum, status, n_threads, *, weights=None, prior=None, prior_h=None,
              sample_scale=0.0, seed=0, stream=0, others=()):
    """Per target j: P = Σ w f fᵀ + prior + λ_j I, h = Σ w t f + prior_h, x_j = P⁻¹h,
    f_i = [fixed[indices[i]] ∘ Π_k factor_k[indices_k[i]] on lanes < rank, 1 if biases],
    t_i = x_i − mean − Σ bias slots; sse, rsum (biases) and status as the kernel's."""
    if sample_scale:
        raise NotImplementedError("the tensor reference solves, it does not sample")
    d = rank + bool(biases)
    n = solved.shape[0]
    indptr = np.asarray(indptr, np.int64)
    counts = np.diff(indptr)
    target = np.repeat(np.arange(n), counts)
    rows = [fixed[np.asarray(indices)].astype(np.float64)]
    rows += [np.asarray(F)[np.asarray(idx)].astype(np.float64) for idx, F in others]
    f = np.ones((len(values), d))
    f[:, :rank] = np.prod([r[:, :rank] for r in rows], axis=0)
    offset = np.full(len(values), float(mean))
    if biases:
        offset += np.sum([r[:, rank] for r in rows], axis=0)
    t = np.asarray(values, np.float64) - offset
    w = np.ones(len(values)) if weights is None else np.asarray(weights, np.float64)
    P = np.zeros((n, d, d))
    h = np.zeros((n, d))
    np.add.at(P, target, (w[:, None, None] * f[:, :, None]) * f[:, None, :])
    np.add.at(h, target, (w * t)[:, None] * f)
    P += np.asarray(lam, np.float64)[:, None, None] * np.eye(d)
    if prior is not None:
        P += np.asarray(prior, np.float64)
    if prior_h is not None:
        h += np.asarray(prior_h, np.float64)
    empty = counts == 0
    status[:] = 0
    x = np.zeros((n, d))
    solve = ~empty if prior is None else np.ones(n, bool)
    x[solve] = np.linalg.solve(P[solve], h[solve][:, :, None])[:, :, 0]
    solved[:, :d] = x
    res = t - np.einsum("ij,ij->i", f, x[target])
    sse[:] = np.bincount(target, w * res * res, minlength=n)
    rsum[:] = np.bincount(target, w * res, minlength=n) if biases else 0.0


def cp_full(factors):
    """The dense tensor Σ_k Π_m A_m[:, k] of CP factors (small shapes only)."""
    letters = "abcdefgh"[: len(factors)]
    spec = ",".join(f"{c}z" for c in letters) + "->" + letters
    return np.einsum(spec, *[np.asarray(F, np.float64) for F in factors])


def cp_entries(factors, indices, mean=0.0, biases=None):
    """μ + Σ_m b_m[i_m] + Σ_k Π_m A_m[i_m, k] at the given entries, in float64."""
    out = np.prod([np.asarray(F, np.float64)[np.asarray(i)] for F, i in zip(factors, indices)],
                  axis=0).sum(axis=1) + mean
    if biases is not None:
        out += np.sum([np.asarray(b, np.float64)[np.asarray(i)]
                       for b, i in zip(biases, indices)], axis=0)
    return out
