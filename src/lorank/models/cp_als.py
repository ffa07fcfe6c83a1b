"""Sparse tensor completion by CP-ALS (CANDECOMP/PARAFAC) on the ALS half-step.

Each mode's update is the ALS half-step of :mod:`lorank._kernels._als` with the other
side's row formed on the fly as the Hadamard product of the other modes' rows
(``others=``): the same kernel, per-thread scratch, inline Cholesky, weighted λ
and loss from the normal equations as matrix ALS.
"""

import numpy as np

from .._kernels import _als
from ._cp_base import CPModel, from_arrays, largest_two, to_arrays
from ._estimator import check_bool, check_choice, check_int, check_real, register, value_scale
from .._threads import single_threaded_blas
from .als import _factor_storage, penalties, reg_exponent
from ..linalg.svd import randomized_svd

__all__ = ["CPALS"]

# Bias-only sweeps before the spectral start (each is O(nnz)).
_BIAS_SWEEPS = 3
# The spectral start reads at most this many observations (a uniform sample).
_START_SAMPLE = 1 << 20
# Modes up to this size get their unfolding's Gram matrix formed densely.
_DENSE_GRAM = 1024
# Observations per block when the start subtracts the biases (the gathered
# offsets stay in cache).
_RESIDUAL_BLOCK = 1 << 16
# Observations per block when the spectral start sums a slice's outer products.
_SLICE_BLOCK = 1 << 18


class CPALS(CPModel):
    """Sparse tensor completion by CP alternating least squares.

    Fits a rank-r CP (CANDECOMP/PARAFAC) model to the observed entries of an
    N-way tensor,

        x_{i_1…i_N} ≈ μ + Σ_m b_m[i_m] + Σ_k Π_m A_m[i_m, k],

    by minimizing ½ Σ_Ω (x − x̂)² + ½ Σ_m Σ_j λ_mj (s^(2−2/N) ‖A_m[j]‖² + b_m[j]²)
    with λ_mj = reg·|Ω_mj|^α (|Ω_mj| the observations in slice j of mode m) and
    s (``value_scale_``) the power of two nearest the values' standard deviation
    (1 for 1-5 stars): the plain problem on the values / s, scaled back, so
    ``reg`` means the same on any rating scale, as :class:`lorank.ALS`'s.
    Each iteration updates the modes in turn: for every slice j of mode m, in
    parallel, the ridge normal equations (Σ h hᵀ + λ_mj I) a = Σ (x − offset) h
    over the slice's observations, with h the Hadamard product of the other
    modes' rows (and a 1 for the bias): the compiled ALS half-step with the
    other side's row formed on the fly. μ is refitted after each mode. Cost per
    iteration O(N·nnz·r² + Σ_m I_m r³), the objective never increases, and
    results do not depend on the thread count.

    Parameters
    ----------
    rank : int, default=10
        Number of CP components r.
    reg : float, default=1.0
        Ridge regularization (≥ 0), scaled by ``weighted_reg`` as in
        :class:`lorank.ALS`. With ``reg=0`` every slice needs at least
        ``rank`` (+1 with biases) observations.
    weighted_reg : bool or float in [0, 1], default=0.5
        The exponent α of λ = reg·|Ω|^α (``True`` 1, ``False`` 0).
    biases : bool, default=True
        Fit a global mean and a bias per index of every mode.
    max_iter : int, default=25
        Maximum number of iterations (each updates every mode once).
    tol : float, default=1e-4
        Stop when the objective's relative decrease over an iteration is below
        ``tol``; ``0`` runs all ``max_iter`` iterations.
    init : {"svd", "random"}, default="svd"
        ``"svd"``: a spectral start. With biases, a few bias-only sweeps first;
        then the top-r eigenvectors U_a, U_b of the unfoldings' Gram
        matrices without their diagonals for the two largest modes (of what
        the biases leave), a simultaneous
        diagonalization (Jennrich's algorithm) of two random contractions of
        the observed tensor onto them, M = U_aᵀ X (g) U_b = C_a D C_bᵀ, whose
        eigenvectors give A_a = U_a C_a and A_b = U_b C_b, and a least-squares
        solve of the remaining mode (modes past the third start flat), beside
        the SVD of the tensor collapsed onto those two modes (matrix ALS's start,
        on every observation); the candidate with the lower objective is kept.
        The Jennrich candidate reads at most 2**20 observations, a uniform
        sample. ``"random"``: Gaussian factors.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Precision of the factors and the kernels.
    n_threads : int, default=None
        Threads for the kernels (``None``: all usable cores). Results do not
        depend on it.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the start.
    progress : bool, default=False
        Show a tqdm progress bar with the current RMSE.
    callback : callable, default=None
        ``callback(model, iteration)`` after every iteration; returning ``False``
        stops the fit.

    Attributes
    ----------
    factors_ : list of ndarray
        ``factors_[m]`` is A_m, shape (shape[m], rank).
    biases_ : list of ndarray
        ``biases_[m]`` is b_m, shape (shape[m],); zeros when ``biases=False``.
    mean_ : float
        Global mean μ (0 when ``biases=False``).
    value_scale_ : float
        s of the objective (a power of two).
    shape_ : tuple of int
    labels_ : tuple of LabelIndex
        The training tensor's labels per mode (positions for a mode without).
    time_edges_ : ndarray or None
        The last mode's time-bin edges, for a tensor from
        :meth:`lorank.Ratings.to_tensor`.
    history_ : dict of lists
        Per iteration: ``iteration``, ``train_rmse``, ``valid_rmse`` (NaN
        without validation data), ``objective``, ``seconds``.
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> A, B, C = (rng.standard_normal((n, 2)) for n in (30, 20, 10))
    >>> idx = np.unravel_index(rng.choice(6000, 1500, replace=False), (30, 20, 10))
    >>> x = np.einsum("ik,ik,ik->i", A[idx[0]], B[idx[1]], C[idx[2]])
    >>> T = lorank.TensorRatings(idx, x)
    >>> model = lorank.CPALS(2, reg=1e-9, biases=False, dtype=np.float64, tol=0,
    ...                      max_iter=50, random_state=0).fit(T)
    >>> bool(model.history_["train_rmse"][-1] < 1e-6)
    True
    >>> model.predict(([0, 1], [0, 1], [0, 1])).round(6).tolist() == np.einsum(
    ...     "ik,ik,ik->i", A[:2], B[:2], C[:2]).round(6).tolist()
    True
    """

    def __init__(
        self,
        rank=10,
        *,
        reg=1.0,
        weighted_reg=0.5,
        biases=True,
        max_iter=25,
        tol=1e-4,
        init="svd",
        dtype=np.float32,
        n_threads=None,
        random_state=None,
        progress=False,
        callback=None,
    ):
        self.rank = rank
        self.reg = reg
        self.weighted_reg = weighted_reg
        self.biases = biases
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress
        self.callback = callback

    # --- fitting ------------------------------------------------------------
    def _fit(self, T, valid, rank, reg, max_iter, tol, n_threads):
        # The fit runs on the values / s, s the power of two nearest their standard
        # deviation (exact; 1 for 1-5 stars), as ALS's; each mode's factors are
        # scaled back by s^(1/N).
        scale = value_scale(T.coo()[1], power_of_two=True)
        self.value_scale_ = scale
        T = T._scaled(1.0 / scale)
        biases = bool(self.biases)
        alpha = reg_exponent(self.weighted_reg)
        N, nnz, dtype = T.ndim, T.nnz, T.dtype
        counts = [T.counts(m) for m in range(N)]
        lams = [penalties(reg, c, alpha) for c in counts]
        views = [T.view(m) for m in range(N)]
        mean = float(T.coo()[1].sum(dtype=np.float64)) / nnz if biases else 0.0

        def half_step(m, F, r, exact_sse=True):
            """Solve mode m of the factors F (rank r) in place, then refit μ;
            the sum of squared residuals at the new point (``exact_sse`` False:
            the identity's, which may have lost digits; no second pass)."""
            nonlocal mean
            V = views[m]
            size = T.shape[m]
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            others = tuple((V.indices[k], F[V.modes[k]]) for k in range(1, N - 1))
            with single_threaded_blas():
                _als.half_step(V.indptr, V.indices[0], V.values, F[V.modes[0]], F[m], mean,
                               lams[m], biases, r, sse, rsum, status, n_threads,
                               others=others, exact_sse=exact_sse)
            _raise_on_failure(status, m, r + biases, counts[m])
            total = float(sse.sum())
            if biases:  # μ is unregularized: its exact update is the mean residual.
                delta = float(rsum.sum()) / nnz
                mean += delta
                total -= nnz * delta * delta
            return total

        def objective(total, F):
            return 0.5 * (total + sum(_penalty(A, lam) for A, lam in zip(F, lams)))

        def restore_mean(value):
            nonlocal mean
            mean = value

        F = self._initialize(T, rank, dtype, half_step, objective, lambda: mean, restore_mean,
                             lams, n_threads)
        self.shape_ = T.shape
        self.time_edges_ = T.time_edges
        self._set_learned(F, mean, rank, scale)
        previous = np.inf
        keys = ("train_rmse", "valid_rmse", "objective")
        with self._iterations(max_iter, keys) as run:
            for it in range(1, max_iter + 1):
                for m in range(N):  # only the last mode's sse is reported
                    total = half_step(m, F, rank, m == N - 1)
                _balance(F, rank, lams)
                loss = scale**2 * objective(total, F)  # in the values' units²
                self._set_learned(F, mean, rank, scale)
                train = scale * np.sqrt(max(total, 0.0) / nnz)
                valid_rmse = self._score(valid) if valid is not None else np.nan
                if not run.record(it, train_rmse=train, valid_rmse=valid_rmse,
                                  objective=loss):
                    break
                if np.isfinite(previous) and previous - loss <= tol * abs(previous):
                    break
                previous = loss
        return self

    def _check_params(self, T):
        rank = self._check_rank(T)
        reg = check_real(self.reg, "reg", minimum=0)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_real(self.tol, "tol", minimum=0)
        reg_exponent(self.weighted_reg)
        check_choice(self.init, "init", ("svd", "random"))
        check_bool(self.biases, "biases")
        check_bool(self.progress, "progress")
        n_threads = self._check_run(T, rank)
        if self.init == "svd":
            a, b = largest_two(T.shape)
            if rank > T.shape[b]:
                raise ValueError(
                    f'rank={rank} exceeds shape[{b}] = {T.shape[b]}, the second largest '
                    'mode, which the spectral start needs; use init="random"'
                )
        if reg == 0:
            d = rank + bool(self.biases)
            for m in range(T.ndim):
                c = T.counts(m)
                short = np.flatnonzero(c < d)
                if short.size:
                    j = int(short[0])
                    raise ValueError(
                        f"slice {j} of mode {m} has {int(c[j])} observations, fewer than "
                        f"the {d} unknowns of its least-squares problem, so with reg=0 it "
                        "has no unique solution; use reg > 0 (e.g. 1e-3)"
                    )
        return rank, float(reg), max_iter, float(tol), n_threads

    def _initialize(self, T, rank, dtype, half_step, objective, mean, restore_mean, lams,
                    n_threads):
        """Starting factors, one padded array per mode (bias in column ``rank``)."""
        N = T.ndim
        biases = bool(self.biases)
        F = [_factor_storage(n, rank + biases, dtype) for n in T.shape]
        rng = np.random.default_rng(self.random_state)
        if self.init == "random":
            scale = 1.0 / np.sqrt(rank) ** (1.0 / N)
            for A in F:
                A[:, :rank] = scale * rng.standard_normal((A.shape[0], rank))
            return F
        offsets = None
        if biases:
            Fb = [_factor_storage(n, 1, dtype) for n in T.shape]
            for _ in range(_BIAS_SWEEPS):
                for m in range(N):
                    half_step(m, Fb, 0)
            for A, Ab in zip(F, Fb):
                A[:, rank] = Ab[:, 0]
            offsets = [Ab[:, 0].astype(np.float64) for Ab in Fb]
        a, b = largest_two(T.shape)

        def residual(X):
            index, values = X.coo()
            values = values.astype(np.float64)
            if offsets is not None:  # in blocks that stay in cache, not nnz-long temporaries
                mu = mean()
                for s in range(0, len(values), _RESIDUAL_BLOCK):
                    part = slice(s, s + _RESIDUAL_BLOCK)
                    off = np.take(offsets[0], index[0][part])
                    for o, i in zip(offsets[1:], index[1:]):
                        off += np.take(o, i[part])
                    values[part] -= mu
                    values[part] -= off
            return index, values

        # The collapsed candidate (below) reads every observation: from a sample its
        # singular vectors are too noisy (10M drift ratings from a 1M sample: held-out
        # RMSE 0.84 after 6 iterations instead of 0.62).
        index, values = residual(T)
        with single_threaded_blas():
            M = _collapsed(index[a], index[b], values, T.shape[a], T.shape[b],
                           T.view(0).indptr if (a, b) == (0, 1) else None)
            del index, values
            U, sv, Vt = randomized_svd(M, rank, n_iter=4, random_state=rng, n_threads=n_threads)
        root = np.sqrt(sv / (M.nnz / (M.shape[0] * M.shape[1])))
        del M
        if N == 2:  # a matrix: that is the spectral start of matrix ALS
            F[a][:, :rank], F[b][:, :rank] = U * root, Vt.T * root
            return F
        S = T if T.nnz <= _START_SAMPLE else T.take(
            np.sort(rng.choice(T.nnz, _START_SAMPLE, replace=False)))
        index, values = residual(S)
        with single_threaded_blas():
            Ua = _top_left_vectors(S, a, values, rank, rng, n_threads)
            Ub = _top_left_vectors(S, b, values, rank, rng, n_threads)
            # The slices of the observed tensor along a third mode c, projected on
            # U_a and U_b: H[i] = U_aᵀ X[.., i] U_b = C_a diag(A_c[i]) C_bᵀ (further
            # modes contracted with random vectors); any contraction Σ g_i H[i] is
            # C_a diag(gᵀA_c) C_bᵀ.
            rest = [m for m in range(N) if m not in (a, b)]
            c = max(rest, key=lambda m: (T.shape[m], -m))
            V = S.view(c)
            where = {k: i for i, k in enumerate(V.modes)}
            w = V.values.astype(np.float64)
            if offsets is not None:
                w -= mean() + offsets[c][np.repeat(np.arange(T.shape[c]), np.diff(V.indptr))]
                w -= sum(offsets[k][i] for k, i in zip(V.modes, V.indices))
            for m in rest:
                if m != c:
                    w *= rng.standard_normal(T.shape[m])[V.indices[where[m]]]
            H = _slices(Ua, Ub, V.indices[where[a]], V.indices[where[b]], V.indptr, w)
            Ca, Cb = _jennrich(H, rng)
        del w, values, index, S, V, H
        candidates = [(Ua @ Ca, Ub @ Cb), (U * root, Vt.T * root)]
        # Each candidate: the remaining mode c solved by least squares, then the one
        # with the lower objective kept.
        best, start_mean = None, mean()
        for left, right in candidates:
            G = [A.copy() for A in F]
            G[a][:, :rank], G[b][:, :rank] = left, right
            for m in rest:  # modes past the third: flat
                if m != c:
                    G[m][:, :rank] = 1.0
            restore_mean(start_mean)
            total = half_step(c, G, rank)
            _balance(G, rank, lams)
            loss = objective(total, G)
            if best is None or loss < best[0]:
                best = (loss, G, mean())
        _, F, chosen_mean = best
        restore_mean(chosen_mean)
        return F

    def _set_learned(self, F, mean, rank, scale=1.0):
        """Publish the state (F, mean in the units of the values / scale)."""
        if not all(np.isfinite(A).all() for A in F):
            raise FloatingPointError(
                "CPALS produced non-finite factors; increase reg or use dtype=np.float64"
            )
        self.factors_ = [A[:, :rank].copy() for A in F]
        if self.biases:
            self.biases_ = [A[:, rank].copy() for A in F]
        else:
            self.biases_ = [np.zeros(A.shape[0], A.dtype) for A in F]
        if scale != 1:  # back to the values' units
            root = scale ** (1.0 / len(F))
            for A, b in zip(self.factors_, self.biases_):
                A *= A.dtype.type(root)
                b *= b.dtype.type(scale)
        self.mean_ = float(mean) * scale
        self._lowrank = None

    # --- fitted model: CPModel's, with at()'s fold-in rule -------------------
    def _at_params(self):
        """The parameters of the ALS that :meth:`at` returns (its fold-in rule)."""
        return dict(rank=self.rank, reg=self.reg, weighted_reg=self.weighted_reg,
                    biases=self.biases, clip=False, dtype=self.dtype,
                    n_threads=self.n_threads)

def _top_left_vectors(S, mode, values, rank, rng, n_threads):
    """Top-``rank`` eigenvectors of the mode-``mode`` unfolding's Gram matrix
    M Mᵀ without its diagonal, M holding the observed ``values`` (aligned with
    ``S.coo()``), in float64.

    The diagonal of M Mᵀ is Σ of the squared observations of each slice: for
    sampled entries it is inflated by 1/p against the off-diagonal signal and
    buries the subspace; without it the estimate is unbiased (the spectral
    start of sparse tensor completion, as in Montanari and Sun 2018).
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator

    index, _ = S.coo()
    others = [m for m in range(S.ndim) if m != mode]
    col = np.ravel_multi_index([index[m] for m in others], [S.shape[m] for m in others])
    col, inverse = np.unique(col, return_inverse=True)  # observed columns only
    M = sp.csr_matrix((values, (index[mode], inverse.astype(np.int64))),
                      shape=(S.shape[mode], len(col)))
    n = M.shape[0]
    diag = np.asarray(M.multiply(M).sum(axis=1)).ravel()
    if n <= _DENSE_GRAM:
        import scipy.linalg

        G = (M @ M.T).toarray()
        G[np.diag_indices(n)] -= diag
        w, V = scipy.linalg.eigh(G, subset_by_index=[max(0, n - rank), n - 1])
    else:
        from .._kernels import _sparse

        MT = M.T.tocsr()
        parts = [(A.indptr.astype(np.int64), A.indices.astype(np.int32), A.data)
                 for A in (M, MT)]

        def product(k, X):  # the compiled parallel CSR product
            out = np.empty((parts[k][0].shape[0] - 1, X.shape[1]))
            _sparse.csr_matmat(*parts[k], np.ascontiguousarray(X), out, n_threads)
            return out

        def matmat(X):
            X = X.reshape(n, -1)
            return product(0, product(1, X)) - diag[:, None] * X

        G = LinearOperator((n, n), matvec=matmat, rmatvec=matmat, matmat=matmat,
                           rmatmat=matmat, dtype=np.float64)
        k = min(2 * rank, n)
        U, _, _ = randomized_svd(G, k, n_iter=2, random_state=rng, n_threads=n_threads)
        w, Z = np.linalg.eigh(U.T @ matmat(U))  # Rayleigh-Ritz: signed eigenvalues
        V = U @ Z
    top = np.argsort(-w)[:rank]
    return np.ascontiguousarray(V[:, top])


def _slices(Ua, Ub, ia, ib, indptr, w):
    """H[i] = Σ_{t in slice i} w_t Ua[ia_t] Ub[ib_t]ᵀ over the slices of a mode view."""
    H = np.zeros((len(indptr) - 1, Ua.shape[1], Ub.shape[1]))
    for i in range(len(indptr) - 1):
        for s in range(indptr[i], indptr[i + 1], _SLICE_BLOCK):
            sl = slice(s, min(s + _SLICE_BLOCK, indptr[i + 1]))
            H[i] += (Ua[ia[sl]] * w[sl, None]).T @ Ub[ib[sl]]
    return H


def _collapsed(ia, ib, values, na, nb, indptr=None):
    """The observed tensor summed over the modes other than (a, b), as CSR.

    ``indptr``: the row pointers when (a, b) are modes (0, 1), whose canonical
    order sorts the pairs by row, then column; unless a pair repeats (a user who
    rated an item in two time bins), that already is the CSR matrix (the same
    one, without scipy's copy and sort)."""
    import scipy.sparse as sp

    if indptr is not None and len(ib) > 1:
        repeats = (ib[1:] == ib[:-1]) & (ia[1:] == ia[:-1])
        if not repeats.any():
            return sp.csr_matrix((values, ib, indptr), shape=(na, nb))
        del repeats
    M = sp.coo_matrix((values, (ia, ib)), shape=(na, nb)).tocsr()
    M.sum_duplicates()
    return M


def _jennrich(H, rng, draws=32):
    """(C_a, C_b) with H[i] ≈ C_a diag(A_c[i]) C_bᵀ, by simultaneous
    diagonalization: for random g, h, M_g M_h⁺ = C_a D_g D_h⁻¹ C_a⁻¹, so C_a holds
    its eigenvectors; then C_bᵀ ∝ C_a⁻¹ M_g. Of ``draws`` random pairs, the one
    whose eigenvalues are real and best separated (the eigenvectors' sensitivity
    to noise is inverse to the gaps) is kept; a complex pair, if all draws have
    one, is replaced by the real and imaginary parts of one of its vectors (the
    same real invariant plane)."""
    best, best_score = None, -1.0
    for _ in range(draws):
        g, h = rng.standard_normal((2, H.shape[0]))
        Mg, Mh = np.tensordot(g, H, 1), np.tensordot(h, H, 1)
        ev, C = np.linalg.eig(Mg @ np.linalg.pinv(Mh))
        top = np.abs(ev).max()
        if not top > 0:
            continue
        gaps = np.abs(ev[:, None] - ev[None, :]) + np.eye(len(ev)) * top
        score = gaps.min() / top if np.abs(ev.imag).max() <= 1e-9 * top else 0.0
        if best is None or score > best_score:
            best, best_score = (ev, C, Mg + Mh), score
    if best is None:  # all slices zero: nothing to diagonalize
        k = H.shape[1]
        return np.eye(k), np.eye(H.shape[2], k)
    ev, C, M = best
    Ca = C.real.copy()
    for k in range(len(ev)):
        if ev[k].imag < 0:  # the conjugate of an earlier column
            Ca[:, k] = C[:, int(np.argmin(np.abs(ev - np.conj(ev[k]))))].imag
    Cb = (np.linalg.pinv(Ca) @ M).T
    return Ca, Cb


def _balance(F, rank, lams):
    """Rescale every component across the modes (A_m[:, k] *= s_mk with Π_m s_mk = 1,
    so the predictions do not change) to the scales that minimize the penalty
    Σ_m s_mk² P_mk, P_mk = Σ_j λ_mj A_m[j, k]²: all s_mk² P_mk equal. ALS moves
    along this rescaling only slowly; doing it exactly lowers the objective."""
    P = np.array([np.einsum("jk,jk,j->k", A[:, :rank], A[:, :rank], lam, dtype=np.float64)
                  for A, lam in zip(F, lams)])
    ok = (P > 0).all(axis=0)
    if not ok.any():
        return
    logP = np.log(np.where(P > 0, P, 1.0))
    scale = np.exp(0.5 * (logP.mean(axis=0) - logP))
    for A, s in zip(F, scale):
        A[:, :rank] *= np.where(ok, s, 1.0).astype(A.dtype)


def _penalty(F, lam):
    """Σ_j λ_j ‖F_j‖² over the factor and bias columns."""
    return float(np.einsum("i,i->", np.einsum("ij,ij->i", F, F, dtype=np.float64), lam))


def _raise_on_failure(status, mode, d, counts):
    bad = np.flatnonzero(status)
    if bad.size:
        j = int(bad[0])
        raise np.linalg.LinAlgError(
            f"the normal equations of slice {j} of mode {mode} ({int(counts[j])} "
            f"observations, {d} unknowns) are not positive definite; increase reg (or, "
            "if the values are very large, rescale them or use dtype=np.float64)"
        )


register(CPALS, to_arrays=to_arrays, from_arrays=from_arrays)
