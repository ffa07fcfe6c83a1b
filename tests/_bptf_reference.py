"""An independent plain-numpy Gibbs sampler for BayesianCP (one slice at a time).

The same model and random stream design as ``lorank.BayesianCP``: the
hyperparameter draws of mode m in sweep s come from the numpy Generator
Philox(SeedSequence([seed, s, m])), the noise precision's from kind N (the
number of modes); the standard normals of slice j of mode m from
``normal(seed, ((s·N + m) << 32), j, d)``, those of slice k of a chained mode
from ``normal(seed, ((s·N + m) << 32) | (k + 1), 0, d)`` (the kernel's
``_als.normal_stream``). Everything else (the Normal-Wishart posteriors, the
chain's, Bartlett's Wishart, the conditionals in the α-scaled form
P = α Σ f fᵀ + Λ) is written out here again, in float64.
"""

import numpy as np
from _bayes_reference import draw_normal_wishart


def _generator(seed, sweep, kind):
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, sweep, kind])))


def _draw(mu_star, beta, nu, W_inv, rng):
    return draw_normal_wishart(mu_star, beta, nu, np.linalg.inv(W_inv), rng)


def _independent(X, rng):
    N, d = X.shape
    xbar = X.mean(axis=0)
    S = sum(np.outer(x - xbar, x - xbar) for x in X)
    beta = 2.0 + N
    W_inv = np.eye(d) + S + (2.0 * N / beta) * np.outer(xbar, xbar)
    return _draw(N * xbar / beta, beta, d + N, W_inv, rng)


def _chain(X, rng):
    K, d = X.shape
    W_inv = np.eye(d) + (2.0 / 3.0) * np.outer(X[0], X[0])
    for k in range(1, K):
        W_inv += np.outer(X[k] - X[k - 1], X[k] - X[k - 1])
    return _draw(X[0] / 3.0, 3.0, d + K, W_inv, rng)


def gibbs(T, rank, n_samples, burn_in, thin, seed, start, normal, time_mode=None):
    """The kept samples' mean prediction function, the per-sweep alphas and the
    kept samples, from ``start`` = (F, mean, alpha): float64 rows [A_m, b_m] per mode."""
    F = [np.array(A, np.float64) for A in start[0]]
    mean, alpha = float(start[1]), float(start[2])
    N, d = T.ndim, rank + 1
    index, x = T.coo()
    x = x.astype(np.float64)
    kept, alphas = [], []

    def draw(m, j, obs, Lam, h_prior, stream, target):
        f = np.ones((len(obs), d))
        t = x[obs] - mean
        f[:, :rank] = 1.0
        for o in range(N):
            if o != m:
                rows = F[o][index[o][obs]]
                f[:, :rank] *= rows[:, :rank]
                t -= rows[:, rank]
        P = alpha * f.T @ f + Lam
        h = alpha * f.T @ t + h_prior
        z = normal(seed, stream, target, d)
        F[m][j] = np.linalg.solve(P, h) + np.linalg.solve(np.linalg.cholesky(P).T, z)

    for sweep in range(1, n_samples + 1):
        for m in range(N):
            rng = _generator(seed, sweep, m)
            groups = [np.flatnonzero(index[m] == j) for j in range(T.shape[m])]
            base = (sweep * N + m) << 32
            if m != time_mode:
                active = np.array([len(g) > 0 for g in groups])
                mu, Lam = _independent(F[m][active], rng)
                for j, obs in enumerate(groups):
                    draw(m, j, obs, Lam, Lam @ mu, base, j)
            else:
                mu, Lam = _chain(F[m], rng)
                K = T.shape[m]
                for k, obs in enumerate(groups):
                    prev = mu if k == 0 else F[m][k - 1]
                    if k + 1 < K:
                        draw(m, k, obs, 2 * Lam, Lam @ (prev + F[m][k + 1]), base | (k + 1), 0)
                    else:
                        draw(m, k, obs, Lam, Lam @ prev, base | (k + 1), 0)
        sse = float(np.sum((x - entries(F, rank, mean, index)) ** 2))
        alpha = _generator(seed, sweep, N).gamma(1.0 + 0.5 * len(x), 1.0 / (1.0 + 0.5 * sse))
        alphas.append(alpha)
        if sweep > burn_in and (sweep - burn_in) % thin == 0:
            kept.append([A.copy() for A in F])

    def predict(idx):
        return np.mean([entries(G, rank, mean, idx) for G in kept], axis=0)

    return predict, alphas, kept


def entries(F, rank, mean, idx):
    """μ + Σ_m b_m[i_m] + Σ_k Π_m A_m[i_m, k] for rows [A_m, b_m]."""
    prod = np.prod([A[i, :rank] for A, i in zip(F, idx)], axis=0).sum(axis=1)
    return prod + mean + np.sum([A[i, rank] for A, i in zip(F, idx)], axis=0)
