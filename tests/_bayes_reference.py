"""An independent plain-numpy Gibbs sampler for BayesianALS (one target at a time).

Same model and the same random stream design as ``lorank.BayesianALS``: the
hyperparameter draws of sweep s come from the numpy Generator
Philox(SeedSequence([seed, s, kind])) (kind 0 items, 1 users, 2 noise), the
standard normals of target j in half-step ``stream`` from ``normal(seed,
stream, j, d)`` (the kernel's, ``_als.normal_stream``). A target without
observations is drawn from its prior N(μ, Λ⁻¹), as the kernel does. Everything else (the Normal-Wishart posterior, Bartlett's
Wishart, the conditionals in the α-scaled form P = α Σ f fᵀ + Λ) is written
out here again, in float64.
"""

import numpy as np
from scipy.special import gammaln


def _generator(seed, sweep, kind):
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, sweep, kind])))


def _hyper(X, rng):
    N, d = X.shape
    xbar = X.mean(axis=0)
    S = sum(np.outer(x - xbar, x - xbar) for x in X)
    beta, nu = 2.0 + N, d + N
    mu_star = N * xbar / beta
    W = np.linalg.inv(np.eye(d) + S + (2.0 * N / beta) * np.outer(xbar, xbar))
    return draw_normal_wishart(mu_star, beta, nu, W, rng)


def draw_normal_wishart(mu_star, beta, nu, W, rng):
    """(μ, Λ): Λ ~ Wishart(ν, W) by Bartlett (chi-squares on the diagonal, then the
    lower triangle row by row), μ ~ N(μ*, (βΛ)⁻¹)."""
    d = len(mu_star)
    A = np.zeros((d, d))
    chi2 = rng.chisquare(nu - np.arange(d))
    for k in range(d):
        A[k, k] = np.sqrt(chi2[k])
    normals = iter(rng.standard_normal(d * (d - 1) // 2))
    for k in range(d):
        for l in range(k):
            A[k, l] = next(normals)
    LA = np.linalg.cholesky(W) @ A
    Lam = LA @ LA.T
    z = rng.standard_normal(d)
    return mu_star + np.linalg.solve(np.linalg.cholesky(beta * Lam).T, z), Lam


def _scales(raw, counts, alpha, shape, auto, active, rng):
    """Per-target precision scales τ_k ~ Gamma(a + n_k/2, rate a + α raw_k/2), then (auto)
    a from its grid posterior p(a | τ) ∝ Π Gamma(τ_k; a, rate a) (log-uniform prior)."""
    tau = rng.gamma(shape + 0.5 * counts, 1.0 / (shape + 0.5 * alpha * raw))
    if auto:
        grid = np.exp(np.linspace(np.log(0.5), np.log(1e4), 256))
        t = tau[active]
        lp = np.array([len(t) * (a * np.log(a) - gammaln(a)) + (a - 1) * np.sum(np.log(t))
                       - a * np.sum(t) for a in grid])
        p = np.exp(lp - lp.max())
        shape = rng.choice(grid, p=p / p.sum())
    return tau, shape


def gibbs(ratings, rank, n_samples, burn_in, thin, seed, start, normal, biases=True,
          noise="global", noise_shape="auto"):
    """Kept samples' mean prediction function and the per-sweep alphas.

    ``noise``: "global", or "rows" / "cols" / "rows+cols", whose observations have
    precision α τ_i κ_j, the scales drawn after their side's rows (kind 3 columns,
    4 rows) and their shape with them when ``noise_shape="auto"`` (start 10).

    ``start``: (A, B, mean, alpha) float64 factor rows [u, b] / [v, c] and the
    start's global mean and noise precision. Returns (predict(rows, cols),
    alphas, kept, train) where ``kept`` lists the (A, B) of the kept sweeps and
    ``train`` each sweep's weighted RMSE √(Σ w r² / Σ w) after the users' draw,
    at the weights it was drawn with.
    """
    A, B, mean, alpha = (np.array(start[0], np.float64), np.array(start[1], np.float64),
                         float(start[2]), float(start[3]))
    d = rank + bool(biases)
    rows, cols, values = ratings.coo()
    values = values.astype(np.float64)
    by_col = [np.flatnonzero(cols == j) for j in range(ratings.shape[1])]
    by_row = [np.flatnonzero(rows == i) for i in range(ratings.shape[0])]
    kept, alphas, train = [], [], []
    auto = noise_shape == "auto"
    shape = {"rows": 10.0 if auto else noise_shape, "cols": 10.0 if auto else noise_shape}
    tau = {"rows": np.ones(ratings.shape[0]), "cols": np.ones(ratings.shape[1])}
    for sweep in range(1, n_samples + 1):
        for kind, solved, fixed, groups, other, side, oside in (
                (0, B, A, by_col, rows, "cols", "rows"), (1, A, B, by_row, cols, "rows", "cols")):
            active = np.array([len(g) > 0 for g in groups])
            mu, Lam = _hyper(solved[active, :d], _generator(seed, sweep, kind))
            for j, obs in enumerate(groups):
                Fr = fixed[other[obs]]
                f = np.column_stack([Fr[:, :rank], np.ones(len(obs))]) if biases else Fr[:, :rank]
                t = values[obs] - mean - (Fr[:, rank] if biases else 0)
                w = tau[side][j] * tau[oside][other[obs]]
                P = alpha * (f * w[:, None]).T @ f + Lam
                h = alpha * f.T @ (w * t) + Lam @ mu
                L = np.linalg.cholesky(P)
                z = normal(seed, 2 * sweep + kind, j, d)
                solved[j, :d] = np.linalg.solve(P, h) + np.linalg.solve(L.T, z)
            if side == "rows":
                w = tau["rows"][rows] * tau["cols"][cols]
                res = values - _entries(A, B, rank, biases, mean, rows, cols)
                train.append(np.sqrt(np.sum(w * res**2) / np.sum(w)))
            if noise in (side, "rows+cols"):
                res = values - _entries(A, B, rank, biases, mean, rows, cols)
                raw = np.array([np.sum(tau[oside][other[obs]] * res[obs] ** 2) for obs in groups])
                counts = np.array([len(g) for g in groups])
                tau[side], shape[side] = _scales(raw, counts, alpha, shape[side], auto, active,
                                                 _generator(seed, sweep, 3 + kind))
        pred = _entries(A, B, rank, biases, mean, rows, cols)
        sse = float(np.sum(tau["rows"][rows] * tau["cols"][cols] * (values - pred) ** 2))
        rng = _generator(seed, sweep, 2)
        alpha = rng.gamma(1.0 + 0.5 * len(values), 1.0 / (1.0 + 0.5 * sse))
        alphas.append(alpha)
        if sweep > burn_in and (sweep - burn_in) % thin == 0:
            kept.append((A.copy(), B.copy()))

    def predict(r, c):
        return np.mean([_entries(a, b, rank, biases, mean, r, c) for a, b in kept], axis=0)

    return predict, alphas, kept, train


def _entries(A, B, rank, biases, mean, r, c):
    out = np.einsum("ij,ij->i", A[r, :rank], B[c, :rank])
    if biases:
        out = out + mean + A[r, rank] + B[c, rank]
    return out
