"""What moves BayesianALS's accuracy: rank, hyperprior, global mean, burn-in,
clipping and the number of sweeps, on ML-100k and on synthetic data of known rank.

A plain Gibbs loop on the library's own pieces (values / σ, the ALS start, the ``_als``
half-step with its prior and sampled solve, ``draw_normal_wishart``,
``draw_noise_precision``, the same random streams): with the default options it
is ``BayesianALS(mean_rank=None)``'s chain exactly. Every sweep's sample is scored
on the test set, so one chain gives the posterior mean's RMSE for every burn-in
(0 or 20) and every number of sweeps (the checkpoints), with the mean clipped to
the training range (the library's prediction) and with each sample clipped before
averaging (``per_sample_clip``: not expressible as a low-rank mean, so not an
option of the library; shown for what it would give). Variants (ML-100k, folds of
``kfold(5, random_state=0)`` only): rank 20 and 30; the Normal-Wishart with
ν₀ = d + 2, W₀ = I/10, W₀ = 10·I or β₀ = 1; libFM/myFM's per-lane Normal-Gamma prior
(λ_k ~ Gamma(1, 1), μ_k ~ N(0, 1/λ_k)); the global mean sampled (flat prior).
Synthetic: ``datasets.synthetic(m, n, nnz, rank=r, random_state=1)``, 80/20
split, model rank 10, 20, 30. One thread (the chain does not depend on it).
``size=small``: 2 folds of ML-100k seed 0, no variants, no synthetic.
"""

import time
from pathlib import Path

import numpy as np

from _common import load1

ML100K = Path("/work/shared/data/ml-100k/u.data")
CHECKPOINTS = (50, 100, 200, 300)
SYNTHETIC = ((943, 1682, 100_000, 10), (3000, 1500, 200_000, 5), (3000, 1500, 200_000, 20))
NOTES = ("rmse_b0 / rmse_b20: test RMSE of the posterior mean (clipped to the training "
         "range) with burn-in 0 / 20 after `sweeps` sweeps; pclip_b0 / pclip_b20: each "
         "sample clipped before averaging. ML-100k rows: mean over the 5 folds of "
         "kfold(5, random_state=fold_seed). Synthetic rows: one 80/20 split, floor = the "
         "generator's noise floor. cpu_s: process CPU seconds of the row (1 thread).")


def parameters(size):
    return dict(data=str(ML100K), rank=10, sweeps=max(CHECKPOINTS), threads=1,
                fold_seeds=[0] if size == "small" else [0, 1, 2])


def _hyper(rng, X, prior, d):
    from lorank.models.bayesian import draw_normal_wishart, normal_wishart_posterior

    if prior.get("kind", "wishart") == "wishart":
        return draw_normal_wishart(rng, *normal_wishart_posterior(
            X, beta0=prior.get("beta0", 2.0), nu0=d + prior.get("nu_extra", 0),
            W0_inv=np.eye(d) / prior.get("w0", 1.0)))
    # libFM / myFM: per lane k, λ_k ~ Gamma(1, 1), μ_k | λ_k ~ N(0, 1 / λ_k).
    N = len(X)
    s, ss = X.sum(0), (X * X).sum(0)
    lam = rng.gamma(1.0 + 0.5 * N, 1.0 / (1.0 + 0.5 * (ss - s * s / (N + 1.0))))
    mu = s / (N + 1.0) + rng.standard_normal(d) / np.sqrt((N + 1.0) * lam)
    return mu, np.diag(lam)


def chain(train, test, rank=10, prior=None, sample_mean=False, seed=0):
    """{sweeps: {rmse_b0, rmse_b20, pclip_b0, pclip_b20}} of one Gibbs chain."""
    from lorank._kernels import _als
    from lorank._threads import single_threaded_blas
    from lorank.models.als import ALS, _factor_storage
    from lorank.models._estimator import value_scale
    from lorank.models.bayesian import (draw_noise_precision, sweep_rng, _sample_entries,
                                        _START_ALPHA_MAX)

    prior = prior or {}
    d = rank + 1
    m, n = train.shape
    nnz = train.nnz
    lo, hi = float(train.csr.values.min()), float(train.csr.values.max())
    sigma = value_scale(train.csr.values)  # the chain runs on values / σ, as the library's
    train = train._scaled(1.0 / sigma)
    start = ALS(rank, reg=1.0, max_iter=5, tol=0, dtype=train.dtype, n_threads=1,
                random_state=seed, clip=False).fit(train)
    A, B = _factor_storage(m, d, train.dtype), _factor_storage(n, d, train.dtype)
    A[:, :rank], B[:, :rank] = start.factors_.left, start.factors_.right
    A[:, rank], B[:, rank] = start.row_bias_, start.col_bias_
    mean = float(start.mean_)
    alpha = min(1.0 / start.history_["train_rmse"][-1] ** 2, _START_ALPHA_MAX)
    active = {"cols": train.col_counts > 0, "rows": train.row_counts > 0}
    rows, cols, values = test.coo()
    values = values.astype(np.float64)
    sums = {b: [np.zeros(len(values)), np.zeros(len(values)), 0] for b in (0, 20)}
    out = {}
    with single_threaded_blas():
        for sweep in range(1, max(CHECKPOINTS) + 1):
            for side, fixed, solved, kind in (("cols", A, B, 0), ("rows", B, A, 1)):
                view = train.csc if side == "cols" else train.csr
                mu, Lam = _hyper(sweep_rng(seed, sweep, kind),
                                 solved[active[side], :d].astype(np.float64), prior, d)
                size = solved.shape[0]
                sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
                _als.half_step(view.indptr, view.indices, view.values, fixed, solved, mean,
                               np.zeros(size), True, rank, sse, rsum, status, 1,
                               prior=Lam / alpha, prior_h=(Lam @ mu) / alpha,
                               sample_scale=alpha ** -0.5, seed=seed, stream=2 * sweep + kind)
                assert not status.any()
            sse = float(sse.sum())
            if sample_mean:  # μ | rest ~ N(μ + Σ residuals / nnz, 1 / (α nnz))
                resid = float(rsum.sum())
                delta = (resid / nnz + sweep_rng(seed, sweep, 7).standard_normal()
                         / np.sqrt(alpha * nnz))
                sse += nnz * delta * delta - 2 * delta * resid
                mean += delta
            alpha = draw_noise_precision(sweep_rng(seed, sweep, 2), sse, nnz)
            pred = sigma * _sample_entries(A, B, rank, True, mean, rows, cols, 1)
            for burn, acc in sums.items():
                if sweep > burn:
                    acc[0] += pred
                    acc[1] += np.clip(pred, lo, hi)
                    acc[2] += 1
            if sweep in CHECKPOINTS:
                row = {}
                for burn, (psum, csum, k) in sums.items():
                    row[f"rmse_b{burn}"] = _rmse(np.clip(psum / k, lo, hi), values)
                    row[f"pclip_b{burn}"] = _rmse(csum / k, values)
                out[sweep] = row
    return out


def _rmse(pred, values):
    return float(np.sqrt(np.mean((pred - values) ** 2)))


def _ml100k():
    import lorank

    data = np.loadtxt(ML100K, dtype=np.int64)
    return lorank.Ratings.from_labels(data[:, 0], data[:, 1], data[:, 2].astype(np.float32))


def _rows(label, chains, **extra):
    out = []
    for sweeps in CHECKPOINTS:
        row = dict(what=label, sweeps=sweeps, **extra)
        for key in chains[0][sweeps]:
            row[key] = float(np.mean([c[sweeps][key] for c in chains]))
        out.append(row)
    return out


def run(size, threads):
    import lorank

    R = _ml100k()
    out = []
    variants = [("rank 10 (library default)", {}), ("rank 20", dict(rank=20)),
                ("rank 30", dict(rank=30)),
                ("Normal-Wishart nu0 = d + 2", dict(prior=dict(nu_extra=2))),
                ("Normal-Wishart W0 = I/10", dict(prior=dict(w0=0.1))),
                ("Normal-Wishart W0 = 10 I", dict(prior=dict(w0=10.0))),
                ("Normal-Wishart beta0 = 1", dict(prior=dict(beta0=1.0))),
                ("per-lane Normal-Gamma (libFM/myFM)", dict(prior=dict(kind="diag"))),
                ("global mean sampled", dict(sample_mean=True))]
    for fold_seed in parameters(size)["fold_seeds"]:
        folds = list(R.kfold(5, random_state=fold_seed))[: 2 if size == "small" else 5]
        for label, kw in variants if fold_seed == 0 and size != "small" else variants[:1]:
            t = time.process_time()
            chains = [chain(tr, te, **kw) for tr, te in folds]
            rows = _rows(f"ml-100k {label}", chains, fold_seed=fold_seed)
            for row in rows:
                row.update(cpu_s=time.process_time() - t, load1=load1())
            out.extend(rows)
            print(rows[-2], flush=True)
    if size == "small":
        return out
    for m, n, nnz, true_rank in SYNTHETIC:
        S, floor = lorank.datasets.synthetic(m, n, nnz, rank=true_rank, random_state=1)
        train, test = S.split(0.2, random_state=0)
        for rank in (10, 20, 30):
            t = time.process_time()
            rows = _rows(f"synthetic {m}x{n} nnz={nnz} true rank {true_rank}, model rank {rank}",
                         [chain(train, test, rank=rank)], floor=float(floor))
            for row in rows:
                row.update(cpu_s=time.process_time() - t, load1=load1())
            out.extend(rows)
            print(rows[-2], flush=True)
    return out
