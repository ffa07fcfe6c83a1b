"""Plain-numpy twins of the compiled kernels, for the tests.

``half_step_reference`` has the signature of ``lorank._kernels._als.half_step`` and writes the
same outputs, computed target by target in float64 with ``numpy.linalg``;
``normal_stream_reference`` draws the kernel's normals with numpy's own Philox4x64-10
and ziggurat, so a sampled solve is reproduced independently.
"""

import numpy as np
import scipy.sparse

_MASK64 = (1 << 64) - 1


def philox_blocks(seed, stream, target, n_blocks):
    """Philox4x64-10 with key (seed, stream) at counters (b, target, 0, 0),
    b = 0..n_blocks-1, from ``numpy.random.Philox`` (which increments its counter
    before each block, so it starts one below): an (n_blocks, 4) uint64 array."""
    start = ((target << 64) - 1) & ((1 << 256) - 1)  # the 256-bit counter (0, target) − 1
    counter = np.array([(start >> (64 * i)) & _MASK64 for i in range(4)], np.uint64)
    bitgen = np.random.Philox(key=np.array([seed, stream], np.uint64), counter=counter)
    return bitgen.random_raw(4 * n_blocks).reshape(n_blocks, 4)


def normal_stream_reference(seed, stream, target, n):
    """The normals z[0..n) of ``_als.normal_stream``: numpy's own ziggurat
    (``Generator.standard_normal``) on its Philox at the target's counter."""
    start = ((target << 64) - 1) & ((1 << 256) - 1)  # the 256-bit counter (0, target) − 1
    counter = np.array([(start >> (64 * i)) & _MASK64 for i in range(4)], np.uint64)
    bitgen = np.random.Philox(key=np.array([seed, stream], np.uint64), counter=counter)
    return np.random.Generator(bitgen).standard_normal(n)


def features(j_slice, indices, values, fixed, mean, biases, rank, others):
    """Features f (n x d) and targets t of one target's observations, float64."""
    rows = fixed[indices[j_slice]].astype(np.float64)
    t = values[j_slice].astype(np.float64) - mean
    prod = rows[:, :rank].copy()
    if biases:
        t = t - rows[:, rank]
    for idx_k, F_k in others:
        other = F_k[idx_k[j_slice]].astype(np.float64)
        prod *= other[:, :rank]
        if biases:
            t = t - other[:, rank]
    if biases:
        prod = np.hstack([prod, np.ones((prod.shape[0], 1))])
    return prod, t


def _not_pd_minor(P):
    """The k of the first leading k x k minor that is not positive definite."""
    for k in range(1, P.shape[0] + 1):
        try:
            np.linalg.cholesky(P[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return 0


def half_step_reference(indptr, indices, values, fixed, solved, mean, lam, biases, rank,
                        sse, rsum, status, n_threads=1, *, weights=None, prior=None,
                        prior_h=None, bias_lam=None, sample_scale=0.0, seed=0, stream=0,
                        others=(), solver="cholesky", cg_steps=3):
    """``_als.half_step`` in numpy: per target j, P = Σ w f fᵀ + Π + λ_j I,
    on the bias lane β_j (``bias_lam``) for λ_j, h = Σ w t f + π, x = P⁻¹h (+ s L⁻ᵀz), or ``cg_steps`` CG steps from the
    current row; sse = Σ w (t − fᵀx)², rsum = Σ w (t − fᵀx) (biases), status.
    Writes ``solved``, ``sse``, ``rsum`` and ``status`` in place."""
    d = rank + bool(biases)
    Pi = np.zeros((d, d)) if prior is None else np.asarray(prior, np.float64)
    pi = np.zeros(d) if prior_h is None else np.asarray(prior_h, np.float64)
    for j in range(len(indptr) - 1):
        sl = slice(indptr[j], indptr[j + 1])
        sse[j] = rsum[j] = status[j] = 0
        if sl.stop == sl.start and prior is None:
            solved[j, :d] = 0
            continue
        f, t = features(sl, indices, values, fixed, mean, biases, rank, others)
        w = np.ones(t.size) if weights is None else weights[sl].astype(np.float64)
        penalty = np.full(d, lam[j])
        if bias_lam is not None:
            penalty[rank] = bias_lam[j]
        P = (f * w[:, None]).T @ f + Pi + np.diag(penalty)
        h = f.T @ (w * t) + pi
        if solver == "cg":
            x = solved[j, :d].astype(np.float64)
            r = h - P @ x
            p = r.copy()
            rs = r @ r
            # Converged at rounding level (the kernel's rule, at float64's eps²).
            stop = 5e-32 * max(h @ h, rs)
            for _ in range(cg_steps):
                if rs <= stop:
                    break
                Ap = P @ p
                alpha = rs / (p @ Ap)
                x = x + alpha * p
                r = r - alpha * Ap
                rs, rs_old = r @ r, rs
                p = r + (rs / rs_old) * p
        else:
            try:
                L = np.linalg.cholesky(P)
            except np.linalg.LinAlgError:
                status[j] = _not_pd_minor(P)
                continue
            x = np.linalg.solve(P, h)
            if sample_scale > 0:
                z = normal_stream_reference(seed, stream, j, d)
                x = x + sample_scale * np.linalg.solve(L.T, z)
        solved[j, :d] = x
        res = t - f @ solved[j, :d].astype(np.float64)
        sse[j] = np.sum(w * res * res)
        rsum[j] = np.sum(w * res) if biases else 0.0
    return solved, sse, rsum, status


# ---------------------------------------------------------------- soft-impute


def fill_reference(indptr, indices, values, target, scale, other):
    """``_fill.gather`` in numpy: per target j, the residuals
    s_ji = x_ji − ⟨target_j ∘ scale, other_i⟩ over j's observations i;
    returns (out, sse) with out[j] = Σ_i s_ji other_i and sse[j] = Σ_i s_ji², in
    float64 (``_fill.scatter`` computes the same out, and sse summed)."""
    T = target.astype(np.float64) * scale.astype(np.float64)
    O = other.astype(np.float64)
    out = np.zeros(T.shape)
    sse = np.zeros(T.shape[0])
    for j in range(len(indptr) - 1):
        i = indices[indptr[j]:indptr[j + 1]]
        s = values[indptr[j]:indptr[j + 1]].astype(np.float64) - O[i] @ T[j]
        out[j] = s @ O[i]
        sse[j] = s @ s
    return out, sse


def step_reference(indptr, indices, values, Y, K, h, L, V, nk):
    """``_fill.step`` in float64 numpy, row by row: t = y K, s = x − V[j] t,
    f = (Σ s V[j]) ⊙ h + y L, s' = x − V[j] f; returns (F, Sᵀ F with S the s',
    (Σ s², Σ s'²), FᵀF and YᵀF in their first nk rows)."""
    Y, K, h, L, V = (np.asarray(a, np.float64) for a in (Y, K, h, L, V))
    F = np.zeros_like(Y)
    out = np.zeros(V.shape)
    sse = np.zeros(2)
    for i in range(len(indptr) - 1):
        j = indices[indptr[i]:indptr[i + 1]]
        x = values[indptr[i]:indptr[i + 1]].astype(np.float64)
        t = Y[i] @ K
        s = x - V[j] @ t
        F[i] = (s @ V[j]) * h + Y[i] @ L
        s2 = x - V[j] @ F[i]
        np.add.at(out, j, s2[:, None] * F[i])
        sse += s @ s, s2 @ s2
    return F, out, sse, (F.T @ F)[:nk], (Y.T @ F)[:nk]


def soft_impute_reference(rows, cols, values, shape, rank, lam, n_iter, U0):
    """softImpute-ALS (Hastie et al. 2015, Algorithm 3.1) in float64 numpy from
    the start U = U0, D = I, V = 0, with the residual S = P_Ω(X − U D² Vᵀ) on the
    observations only (never the filled-in matrix) and plain SVDs. Returns the
    final soft-thresholded singular values and the completed matrix Z (dense:
    for small shapes)."""
    x = values.astype(np.float64)
    U, d, V = U0.astype(np.float64), np.ones(rank), np.zeros((shape[1], rank))

    def residual(U, d, V):
        return x - np.einsum("tk,tk->t", U[rows] * d**2, V[cols])

    def s_times(s, M, side):  # S M (side "rows") or Sᵀ M (side "cols"), by scipy.sparse
        S = scipy.sparse.csr_array((s, (rows, cols)), shape=shape)
        return S @ M if side == "rows" else S.T @ M

    for _ in range(n_iter):
        G = s_times(residual(U, d, V), U, "cols") + V @ ((d * d)[:, None] * (U.T @ U))
        W, sig, Rt = np.linalg.svd(G * (d / (d * d + lam)) * d, full_matrices=False)
        V, d, U = W, np.sqrt(sig), U @ Rt.T
        G = s_times(residual(U, d, V), V, "rows") + U @ ((d * d)[:, None] * (V.T @ V))
        W, sig, Rt = np.linalg.svd(G * (d / (d * d + lam)) * d, full_matrices=False)
        U, d, V = W, np.sqrt(sig), V @ Rt.T
    XV = s_times(residual(U, d, V), V, "rows") + U @ ((d * d)[:, None] * (V.T @ V))
    W, sig, Rt = np.linalg.svd(XV, full_matrices=False)
    s = np.maximum(sig - lam, 0)
    return s, (W * s) @ (V @ Rt.T).T


def encode_reference(labels):
    """(codes, sorted unique labels) of 1-D labels: the twin of the lookup-table
    encoding (``_sparse.mark_labels`` + ``lookup_codes``) in ``Ratings``."""
    uniq, codes = np.unique(labels, return_inverse=True)
    return codes, uniq


def stable_order_reference(keys):
    """The permutation a stable counting sort by ``keys`` applies (one or two levels)."""
    return np.argsort(keys, kind="stable")


def coo_build_reference(rows, cols, values, shape, duplicates):
    """(CSR, CSC) of COO triples as ``Ratings`` builds them: sorted indices,
    a repeated (row, col) resolved by ``duplicates`` ("mean" or "last", in input order)."""
    m, n = shape
    order = np.lexsort((np.arange(len(rows)), cols, rows))
    r, c, v = rows[order], cols[order], values[order].astype(np.float64)
    start = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])]
    group = np.cumsum(start) - 1
    if duplicates == "mean":
        v = np.bincount(group, v) / np.bincount(group)
    else:  # the last of each run, in input order
        v = v[np.r_[np.flatnonzero(start)[1:] - 1, len(v) - 1]] if len(v) else v
    S = scipy.sparse.csr_matrix((v, (r[start], c[start])), shape=shape)
    K = S.tocsc()
    K.sort_indices()
    return (S.indptr, S.indices, S.data), (K.indptr, K.indices, K.data)
