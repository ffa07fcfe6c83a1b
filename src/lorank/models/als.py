"""Exact alternating least squares for matrix completion (ALS, ALS-WR, with biases)."""

import numbers
from typing import NamedTuple

import numpy as np

from .._kernels import _als
from . import _auto_reg
from ._estimator import (CompletionModel, check_bool, check_callback, check_choice, check_int,
                         check_n_threads, check_random_state, check_rank, check_real, rating_range,
                         register, value_scale)
from .._threads import single_threaded_blas
from ..linalg.lowrank import LowRank
from ..linalg.sparse_plus_lowrank import SparsePlusLowRank
from ..linalg.svd import randomized_svd

__all__ = ["ALS"]

# Bias-only sweeps before the spectral start (each is O(|Ω|)).
_BIAS_SWEEPS = 3


class ALS(CompletionModel):
    """Matrix completion by exact alternating least squares.

    Fits ``x_ij ≈ μ + u_i + c_j + a_iᵀ b_j`` on the observed entries by minimizing

        ½ Σ_Ω (x_ij − μ − u_i − c_j − a_iᵀ b_j)² + ½ Σ_i (λ_i s‖a_i‖² + β_u u_i²)
                                                + ½ Σ_j (λ_j s‖b_j‖² + β_c c_j²)

    with β_u, β_c the biases' dampings (``bias_reg``: by default the ones
    :class:`~lorank.Baseline` estimates from the data, so that as reg grows the
    model tends to the Baseline's) and λ_i = reg·|Ω_i|^α: α = 1
    (``weighted_reg=True``, ALS-WR as in Spark),
    α = 0 (``weighted_reg=False``, plain ridge), or any α in between; s
    (``value_scale_``) is the power of two nearest the values' standard
    deviation (1 for 1-5 stars). That is the plain ridge problem on the values
    / s, scaled back, so ``reg`` means the same on a 1-5, 1-10 or 0-100 scale:
    ratings ×2 give predictions ×2, bit for bit (MovieLens 100K 5-fold,
    ``reg=1.0, bias_reg=None``: 0.9105 at ×1 and ×2; before, ×2 gave 0.9456, worse than
    ``Baseline``'s 0.9439; ×5 0.9191 (1.0013 before), ×0.2 0.9065, as s is
    within √2 of σ; ``ALS()``: 0.9063-0.9064 at every scale).
    Each half-step solves, for every column in parallel, the ridge normal equations
    over that column's observed entries (Gram matrix + Cholesky, compiled, nogil),
    then the same for every row; the biases are fitted inside the same solves
    (augmented factors ``[a_i, u_i]``, ``[b_j, c_j]``) and μ is refitted after each
    half-step. Cost per iteration O(|Ω| r² + (m + n) r³); the objective never
    increases.

    Parameters
    ----------
    rank : int, default=10
        Number of latent factors r.
    reg : float or "auto", default="auto"
        Ridge regularization (≥ 0), scaled as ``weighted_reg`` says and measured
        on the values / ``value_scale_``. ``"auto"`` (the default) chooses it: 10 %
        of the training ratings are held out, ALS is fitted on the rest from reg
        1.0 in steps of √2 towards the better side, each fit warm-started from
        the previous, until the holdout RMSE has risen twice past its minimum;
        the minimum (refined by a parabola in log reg) is refitted on all the
        ratings (``reg_``, ``reg_path_``). The holdout also scores
        :class:`~lorank.Baseline` (``reg_path_["baseline_rmse"]``) and a
        warning says so when the factors do not beat the biases alone by 0.1 %. Fewer
        than 100 ratings, or all equal, take reg 1.0 with no path. With
        ``reg=0`` every non-empty row and column needs at least ``rank`` (+1
        with biases) observations.

        Why the default: the best fixed reg moves with the data's density and
        noise, and a fixed reg on the wrong side of it loses to the biases
        alone. MovieLens 100K, 5-fold test RMSE with each fold's training
        ratings thinned to a fraction (ratings per user in brackets),
        ``Baseline()`` / ``ALS(reg=1.0, bias_reg=None)`` (the default before
        0.2, chosen on the full set) / ``ALS()``: all (85) 0.9395 / 0.9105 /
        0.9063; half (42) 0.9513 / 0.9545 / 0.9383; a quarter (21) 0.9686 /
        0.9883 / 0.9664; a tenth (8.5) 1.0031 / 1.0191 / 1.0019; a twentieth
        (4.2) 1.0347 / 1.0515 / 1.0351. Its (user, item) pattern with user and
        item effects plus N(0, 1) noise (nothing for factors to find): 1.0156 /
        1.0527 / 1.0156 (the warning in 1 of 5 folds). Netflix-shaped
        synthetic ratings, 10M, one 90/10 split: 0.6149 / 0.6038 held out
        (noise floor 0.529). The cost is the path, 4-8 fits on 90 % of the
        ratings before the refit, and the Baseline fit: 0.46 s against 0.06 s
        per MovieLens 100K fold, 5.0 s against 0.86 s at 10M ratings
        (``python bench/run.py density``; AMD EPYC, 2 cores, load 2). A number
        skips it (``reg=1.0, bias_reg=None`` gives the former default).
    weighted_reg : bool or float in [0, 1], default=0.5
        Scale λ by each row's / column's number of observations |Ω|: ``True``
        gives λ = reg·|Ω| (ALS-WR), ``False`` λ = reg, a number α
        λ = reg·|Ω|^α. The scale of a good ``reg`` depends on α (roughly
        reg·median|Ω|^α should stay the same).
    biases : bool, default=True
        Fit a global mean and row and column biases. ``False`` fits plain
        ``X ≈ A Bᵀ``.
    bias_reg : "auto", float or None, default="auto"
        The biases' dampings β_u, β_c. ``"auto"``: :class:`~lorank.Baseline`'s
        empirical-Bayes estimates of σ²/τ² (noise over bias variance) for users
        and items, from a Baseline fit on the same ratings (``reg_users_``,
        ``reg_items_``; with ``reg="auto"`` the refit's are those × the
        chosen fit's holdout MSE / the Baseline's, ≤ 1: σ² the model's noise,
        not also what the factors explain); a number ≥ 0: both; a pair: (β_u,
        β_c) (``ALS(reg=m.reg_, bias_reg=(m.reg_users_, m.reg_items_))``
        refits model m); ``None``: the factors' λ_i, λ_j
        (the only choice before 2026-12-07, and ``distributed.ALS``'s). Why: the
        best penalty of a bias is not the best of a factor row, and with one reg
        for both, the data sets that want a strong reg for the factors crush the
        biases. 5-fold test RMSE of ``ALS()``, ``None`` / ``"auto"``: MovieLens
        100K 0.9069 / 0.9062; its training ratings thinned to a half 0.9408 /
        0.9384, a quarter 0.9698 / 0.9666, a tenth 1.0068 / 1.0019, a twentieth
        1.0410 / 1.0368; its pattern with user and item effects plus N(0, 1)
        noise 1.0191 / 1.0156 (``Baseline()`` 1.0156; ``bench/bench_density.py``).
    clip : bool, default=True
        Clip predictions (``predict``, not ``to_lowrank``) to the range of the
        training values, as scikit-surprise does; ``False`` returns the raw
        model values.
    max_iter : int, default=15
        Maximum number of iterations (each is a column half-step then a row
        half-step).
    tol : float, default=1e-4
        Stop when the objective's relative decrease over an iteration is below
        ``tol``. ``0`` runs all ``max_iter`` iterations.
    solver : {"cholesky", "cg"}, default="cholesky"
        How each target's normal equations are solved: ``"cholesky"`` exactly
        (Gram matrix, O(|Ω| r²) per half-step), ``"cg"`` by ``cg_steps``
        conjugate-gradient steps warm-started from the current factors, each a
        pass over the observations (O(|Ω| r) per step, as implicit's
        ``use_cg``): cheaper at high rank, not exact, but each half-step still
        never increases the objective.
    cg_steps : int, default=3
        Conjugate-gradient steps per target and half-step (``solver="cg"``).
    init : {"svd", "random"}, default="svd"
        ``"svd"``: with biases, first a few bias-only sweeps fit μ, u and c;
        then a spectral start from a randomized SVD of what they leave,
        P_Ω(X − μ − u − c) rescaled by 1/density. ``"random"``: Gaussian
        factors (the seed's start, which stalls in a poor local minimum on
        some draws).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Precision of the factors and the kernels.
    n_threads : int, default=None
        Threads for the kernels (``None``: all usable cores). Results do not
        depend on it.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for the initialization.
    progress : bool, default=False
        Show a tqdm progress bar with the current RMSE.
    callback : callable, default=None
        ``callback(model, iteration)`` after every iteration; returning ``False``
        stops the fit.

    Notes
    -----
    Ctrl-C (``KeyboardInterrupt``) during ``fit`` keeps the last complete
    iteration's factors on the model, warns, and re-raises.

    Attributes
    ----------
    factors_ : LowRank
        Row factors ``A`` (m x r) and column factors ``B`` (n x r).
    row_bias_, col_bias_ : ndarray
        Biases ``u`` (m,) and ``c`` (n,); zeros when ``biases=False``.
    mean_ : float
        Global mean μ (0 when ``biases=False``).
    value_scale_ : float
        s of the objective: a power of two, 1.0 unless the values' standard
        deviation is outside [0.71, 1.41].
    reg_users_, reg_items_ : float
        β_u, β_c, the biases' dampings (with biases and a ``bias_reg``).
    history_ : dict of lists
        Per iteration: ``iteration``, ``train_rmse``, ``valid_rmse`` (NaN
        without validation data), ``objective``, ``seconds``.
    n_iter_ : int
        Iterations run.
    reg_ : float
        The reg used (the chosen one with ``reg="auto"``).
    reg_path_ : dict of lists
        With ``reg="auto"``: ``reg`` (increasing) and the holdout ``valid_rmse``
        of every fit on the path.
    rating_range_ : (float, float)
        Smallest and largest training value (the ``clip`` range).
    labels_ : (LabelIndex, LabelIndex)
        The user and item labels of the training data (``user_labels_``,
        ``item_labels_``); :meth:`predict` takes them.

    Examples
    --------
    >>> import numpy as np, lorank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    >>> X[rng.random(X.shape) > 0.5] = np.nan        # hide half the entries
    >>> model = lorank.ALS(3, reg=1e-6, biases=False, dtype=np.float64).fit(X)
    >>> bool(model.history_["train_rmse"][-1] < 1e-3)
    True
    """

    # True (the tests): the columns' half-step sums its close fits' residuals too,
    # and _half_step_objectives keeps the objective after every half-step.
    _exact_half_steps = False

    def __init__(
        self,
        rank=10,
        *,
        reg="auto",
        weighted_reg=0.5,
        biases=True,
        bias_reg="auto",
        clip=True,
        max_iter=15,
        tol=1e-4,
        solver="cholesky",
        cg_steps=3,
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
        self.bias_reg = bias_reg
        self.clip = clip
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.cg_steps = cg_steps
        self.init = init
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress
        self.callback = callback

    # --- fitting ------------------------------------------------------------
    def _fit(self, ratings, valid):
        rank, reg, max_iter, tol, n_threads = self._check_params(ratings)
        if reg == "auto":  # the path's fits check the rest
            return _auto_reg.fit_als(self, ratings, valid)
        self.reg_ = reg
        self.rating_range_ = rating_range(ratings)
        # The fit runs on the values / s, s the power of two nearest their standard
        # deviation (exact; s = 1, no copy, for 1-5 stars), so that reg means the same
        # on a 1-10 or a 0-100 scale; what it learns is scaled back.
        scale = value_scale(ratings.csr.values, power_of_two=True)
        ratings = ratings._scaled(1.0 / scale)
        biases = bool(self.biases)
        m, n = ratings.shape
        cg = {"solver": "cg", "cg_steps": self.cg_steps} if self.solver == "cg" else {}
        dtype = ratings.dtype.type

        def solve(side, fixed, solved, rank, mean, lam, exact_sse=True, bias_lam=None):
            """The kernel over every column (side="cols") or row, in place, target j
            with the ridge penalty lam[j] (``exact_sse``: the kernel's), its bias
            lane's bias_lam[j] (None: lam[j])."""
            view = ratings.csc if side == "cols" else ratings.csr
            size = solved.shape[0]
            sse, rsum, status = np.empty(size), np.empty(size), np.empty(size, np.int32)
            with single_threaded_blas():
                _als.half_step(
                    view.indptr, view.indices, view.values, fixed, solved, mean,
                    lam, biases, rank, sse, rsum, status, n_threads,
                    **(cg if rank else {}),  # the bias-only sweeps: exact, as cheap
                    exact_sse=exact_sse, bias_lam=bias_lam,
                )
            return sse, rsum, status

        def residual(shift):
            return SparsePlusLowRank.completion(ratings, _zero(m, n, dtype), offset=shift,
                                                n_threads=n_threads)

        data = _Data(ratings.shape, ratings.nnz, float(ratings.csr.values.sum(dtype=np.float64)),
                     ratings.row_counts, ratings.col_counts)
        score = (lambda: self._rmse(valid)) if valid is not None else None
        dampings, start = self._bias_dampings(ratings, n_threads)
        return self._fit_loop(data, dtype, rank, reg, max_iter, tol, solve, residual, score,
                              scale, dampings, start)

    def _bias_dampings(self, ratings, n_threads):
        """(β_u, β_c) as ``bias_reg`` says, also kept as ``reg_users_``,
        ``reg_items_``; None for the factors' λ (or no biases). "auto": the ones
        reg="auto"'s path gives its refit (``_dampings``), else the dampings of
        :class:`~lorank.Baseline` fitted on ``ratings`` or of the one the path
        gives its fits (``_baseline``, on the path's ratings). Returns them and,
        when this fit's own Baseline gave them, its biases (the start's, in the
        units of ``ratings``), else None."""
        from .baseline import fit_biases

        start = None
        if not self.biases or self.bias_reg is None:
            return None, start
        if not _auto_reg.is_auto(self.bias_reg, "bias_reg"):
            dampings = _damping_pair(self.bias_reg)
        elif getattr(self, "_dampings", None) is not None:
            dampings = self._dampings
        else:
            base = getattr(self, "_baseline", None)
            if base is None:  # its dampings do not depend on the scale
                base = fit_biases(ratings, n_threads)
                start = (base.row_bias_, base.col_bias_)
            dampings = (base.reg_users_, base.reg_items_)
        self.reg_users_, self.reg_items_ = map(float, dampings)
        return (self.reg_users_, self.reg_items_), start

    def _fit_loop(self, data, dtype, rank, reg, max_iter, tol, solve, residual, score,
                  scale=1.0, bias_dampings=None, start_biases=None):
        """The iterations, whatever holds the data (``lorank.distributed`` too).

        ``scale``: the data that ``solve`` and ``residual`` read (and ``data.total``)
        are the values / scale; the model is published in the values' units.

        ``solve(side, fixed, solved, rank, mean, lam, exact_sse=True)`` runs the
        half-step kernel over every column (side="cols") or row, target j with
        penalty lam[j], writing ``solved`` in place, and
        returns its (sse, rsum, status) arrays (``exact_sse=False``: the columns'
        half-step, whose sse is not reported, skips the close fits' second pass); ``residual(shift)`` is the
        operator P_Ω(X − shift) for the spectral start; ``score()`` the
        validation RMSE (``None``: no validation data). ``bias_dampings``:
        (β_u, β_c), the bias lanes' penalties (``solve`` then gets ``bias_lam=``);
        None: the factors' λ. ``start_biases``: (u, c) of a Baseline fitted at
        those dampings, the spectral start's biases instead of its bias sweeps.
        """
        biases = bool(self.biases)
        alpha = reg_exponent(self.weighted_reg)
        nnz = data.nnz

        lam_rows = penalties(reg, data.row_counts, alpha)
        lam_cols = penalties(reg, data.col_counts, alpha)
        beta_rows = beta_cols = None
        if bias_dampings is not None:
            beta_rows = np.full(len(lam_rows), float(bias_dampings[0]))
            beta_cols = np.full(len(lam_cols), float(bias_dampings[1]))
        # (As values.mean(dtype=float64) computes it: the float64 sum over nnz.)
        mean = data.total / nnz if biases else 0.0

        def half_step(side, A, B, rank, exact_sse=True):
            """Solve B (side="cols") or A (side="rows") in place, then refit μ.
            Returns the sum of squared residuals at the new point (``exact_sse``
            False: from the identity, which may have lost digits)."""
            nonlocal mean
            fixed, solved, lam, beta = ((A, B, lam_cols, beta_cols) if side == "cols"
                                        else (B, A, lam_rows, beta_rows))
            extra = {} if beta is None else {"bias_lam": beta}
            sse, rsum, status = solve(side, fixed, solved, rank, mean, lam, exact_sse, **extra)
            counts = data.col_counts if side == "cols" else data.row_counts
            _raise_on_failure(status, side, rank + biases, counts)
            total = float(sse.sum())
            if biases:  # μ is unregularized: its exact update is the mean residual.
                delta = float(rsum.sum()) / nnz
                mean += delta
                total -= nnz * delta * delta
            return total

        def objective(total, A, B):
            return 0.5 * (total + _penalty(A, lam_rows, rank, beta_rows)
                          + _penalty(B, lam_cols, rank, beta_cols))

        self.value_scale_ = scale
        A, B = self._initialize(data, rank, dtype, half_step, lambda: mean, residual, scale,
                                start_biases)
        self._set_learned(A, B, mean, rank, scale)  # the start is the state of iteration 0
        # Only the rows' half-step ends an iteration, so only its sse is reported;
        # the columns' is exact (and both objectives kept) for the tests only.
        exact_cols = self._exact_half_steps
        self._half_step_objectives = []
        previous = np.inf
        with self._iterations(max_iter, ("train_rmse", "valid_rmse", "objective"),
                              desc="ALS") as run:
            for it in range(1, max_iter + 1):
                total = half_step("cols", A, B, rank, exact_cols)
                if exact_cols:
                    self._half_step_objectives.append(scale**2 * objective(total, A, B))
                total = half_step("rows", A, B, rank)
                loss = scale**2 * objective(total, A, B)  # in the values' units²
                if exact_cols:
                    self._half_step_objectives.append(loss)
                self._set_learned(A, B, mean, rank, scale)
                train = scale * np.sqrt(max(total, 0.0) / nnz)
                valid_rmse = score() if score is not None else np.nan
                if not run.record(it, train_rmse=train, valid_rmse=valid_rmse, objective=loss):
                    break
                if np.isfinite(previous) and previous - loss <= tol * abs(previous):
                    break
                previous = loss
        return self

    def _check_params(self, ratings):
        """The parameters, checked against the data (``ratings`` may be a summary
        with shape, nnz, dtype, counts and the index dtypes: lorank.distributed)."""
        if ratings.nnz == 0:
            raise ValueError("X has no observed entries")
        rank = check_rank(self.rank, ratings.shape)
        reg = "auto" if _auto_reg.is_auto(self.reg) else check_real(self.reg, "reg", minimum=0)
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_real(self.tol, "tol", minimum=0)
        reg_exponent(self.weighted_reg)  # checked here, before any work
        check_choice(self.solver, "solver", ("cholesky", "cg"))
        check_int(self.cg_steps, "cg_steps", minimum=1)
        check_bool(self.biases, "biases")
        if self.bias_reg is not None and not _auto_reg.is_auto(self.bias_reg, "bias_reg"):
            _damping_pair(self.bias_reg)
        check_choice(self.init, "init", ("svd", "random"))
        check_callback(self.callback)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")
        n_threads = check_n_threads(self.n_threads)
        widest = _als.MAX_ROW_BYTES // ratings.dtype.itemsize  # widest factor row
        if rank + bool(self.biases) > widest:
            raise ValueError(
                f"rank={rank} is too large: ALS supports rank + biases <= {widest} "
                f"in {ratings.dtype}"
            )
        if ratings.csr.indices.dtype != np.int32 or ratings.csc.indices.dtype != np.int32:
            raise ValueError(
                f"ALS supports up to 2**31 - 1 rows and columns, got shape {ratings.shape}"
            )
        if reg == 0:
            d = rank + bool(self.biases)
            for name, counts in (("row", ratings.row_counts), ("column", ratings.col_counts)):
                short = np.flatnonzero((counts > 0) & (counts < d))
                if short.size:
                    k = int(short[0])
                    raise ValueError(
                        f"{name} {k} has {int(counts[k])} observations, fewer than the "
                        f"{d} unknowns of its least-squares problem, so with reg=0 it "
                        "has no unique solution; use reg > 0 (e.g. 1e-3)"
                    )
        return rank, (reg if reg == "auto" else float(reg)), max_iter, float(tol), n_threads

    def _initialize(self, data, rank, dtype, half_step, mean, residual, scale=1.0,
                    start_biases=None):
        """Starting factors (m x w, n x w; the last column holds the bias), in the
        units of the values / scale; ``start_biases``: the Baseline's (u, c) there,
        which the bias sweeps would only repeat."""
        m, n = data.shape
        biases = bool(self.biases)
        A = _factor_storage(m, rank + biases, dtype)
        B = _factor_storage(n, rank + biases, dtype)
        warm = getattr(self, "_warm_start", None)  # set by reg="auto"'s path (units of X)
        if warm is not None:
            A, B = warm[0].copy(), warm[1].copy()
            if scale != 1:
                for F in (A, B):
                    F[:, :rank] /= F.dtype.type(np.sqrt(scale))
                    F[:, rank:rank + biases] /= F.dtype.type(scale)
            return A, B
        rng = np.random.default_rng(self.random_state)
        if self.init == "random":
            A[:, :rank] = rng.standard_normal((m, rank)) / np.sqrt(rank)
            B[:, :rank] = rng.standard_normal((n, rank)) / np.sqrt(rank)
            return A, B
        # Spectral start. The baseline μ + u_i + c_j comes first (a few bias-only
        # sweeps of the same kernel), so the factors start on what it leaves:
        # the top singular pairs of P_Ω(X − μ − u − c) / density.
        shift = None
        if biases:
            Ab, Bb = _factor_storage(m, 1, dtype), _factor_storage(n, 1, dtype)
            if start_biases is not None:  # converged at the dampings the sweeps use
                Ab[:, 0], Bb[:, 0] = start_biases
            for _ in range(_BIAS_SWEEPS if start_biases is None else 0):
                half_step("cols", Ab, Bb, 0)
                half_step("rows", Ab, Bb, 0)
            A[:, rank], B[:, rank] = Ab[:, 0], Bb[:, 0]
            u, c = Ab[:, :1], Bb[:, :1]
            shift = LowRank(np.hstack([u + dtype(mean()), np.ones_like(u)]),
                            np.hstack([np.ones_like(c), c]))
        # BLAS single-threaded as randomized_svd does for sparse input: its thin
        # dense steps are small, and threaded BLAS there competes with the
        # operator's OpenMP threads (10x slower on a busy 2-core machine).
        with single_threaded_blas():
            U, s, Vt = randomized_svd(residual(shift), rank, n_iter=2, random_state=rng)
        root = np.sqrt(s / (data.nnz / (m * n)))
        A[:, :rank] = U * root
        B[:, :rank] = Vt.T * root
        return A, B

    def _set_learned(self, A, B, mean, rank, scale=1.0):
        """Publish the state (A, B, mean in the units of the values / scale)."""
        if not (np.isfinite(A).all() and np.isfinite(B).all()):
            raise FloatingPointError(
                "ALS produced non-finite factors; increase reg or use dtype=np.float64"
            )
        # Copies: the next half-steps update A and B in place, and an interrupted
        # fit keeps the last complete iteration.
        left, right = A[:, :rank].copy(), B[:, :rank].copy()
        if scale != 1:  # back to the values' units: √scale each side, biases × scale
            left *= left.dtype.type(np.sqrt(scale))
            right *= right.dtype.type(np.sqrt(scale))
        self.factors_ = LowRank(left, right)
        if self.biases:
            self.row_bias_, self.col_bias_ = A[:, rank].copy(), B[:, rank].copy()
            if scale != 1:
                self.row_bias_ *= A.dtype.type(scale)
                self.col_bias_ *= B.dtype.type(scale)
        else:
            self.row_bias_ = np.zeros(A.shape[0], A.dtype)
            self.col_bias_ = np.zeros(B.shape[0], B.dtype)
        self.mean_ = mean * scale
        self._lowrank = None

register(ALS)  # lorank.load rebuilds it; ALS.save


def reg_exponent(weighted_reg):
    """The exponent α of λ_j = reg·|Ω_j|^α that ``weighted_reg`` stands for:
    True → 1 (ALS-WR), False → 0 (plain ridge), a number in [0, 1] → itself."""
    if isinstance(weighted_reg, (bool, np.bool_)):
        return float(weighted_reg)
    if not isinstance(weighted_reg, numbers.Real):
        raise TypeError(f"weighted_reg must be True, False or a number in [0, 1], "
                        f"got {weighted_reg!r}")
    if not 0 <= weighted_reg <= 1:
        raise ValueError(f"weighted_reg must be True, False or a number in [0, 1], "
                         f"got {weighted_reg!r}")
    return float(weighted_reg)


def penalties(reg, counts, alpha):
    """λ per row (or column): reg·count^α, in float64 as the kernel takes it."""
    if alpha == 1:
        return reg * counts.astype(np.float64)
    if alpha == 0:
        return np.full(len(counts), reg, np.float64)
    return reg * counts.astype(np.float64) ** alpha


class _Data(NamedTuple):
    """What the iterations need to know of the data besides the kernel's views."""

    shape: tuple
    nnz: int
    total: float  # Σ x_ij in float64
    row_counts: np.ndarray
    col_counts: np.ndarray


def _raise_on_failure(status, side, d, counts):
    """``counts``: observations per row (side="rows") or per column."""
    bad = np.flatnonzero(status)
    if bad.size:
        k = int(bad[0])
        raise np.linalg.LinAlgError(
            f"the normal equations of {side[:-1]} {k} ({int(counts[k])} observations, "
            f"{d} unknowns) are not positive definite; increase reg (or, if the "
            "values are very large, rescale them or use dtype=np.float64)"
        )


def _factor_storage(n, width, dtype):
    """Zeroed factor rows padded to whole 64-byte vectors, as the kernel wants."""
    lanes = 64 // np.dtype(dtype).itemsize
    return np.zeros((n, -(-width // lanes) * lanes), dtype=dtype)


def _damping_pair(bias_reg):
    """(β_u, β_c) of a numeric ``bias_reg``: a number for both, or a pair."""
    if isinstance(bias_reg, (tuple, list)):
        if len(bias_reg) != 2:
            raise ValueError(f"bias_reg must be a number >= 0, a (users, items) pair, "
                             f'"auto" or None, got {bias_reg!r}')
        return tuple(check_real(b, "bias_reg", minimum=0) for b in bias_reg)
    return (check_real(bias_reg, "bias_reg", minimum=0),) * 2


def _penalty(F, lam, rank=None, beta=None):
    """Σ_i λ_i ‖F_i‖², over the factor and bias columns; with ``beta``, the bias
    column (``rank``) takes β_i for λ_i. (No BLAS: a threaded dot here wakes BLAS
    threads that then compete with the kernel's OpenMP threads; it cost 10-20 ms
    per call on 2 busy cores.)"""
    total = float(np.einsum("i,i->", np.einsum("ij,ij->i", F, F, dtype=np.float64), lam))
    if beta is not None:
        u2 = np.square(F[:, rank], dtype=np.float64)
        total += float(np.einsum("i,i->", u2, beta - lam))
    return total


def _zero(m, n, dtype):
    """The m x n zero matrix as a rank-0 LowRank."""
    return LowRank(np.zeros((m, 0), dtype), np.zeros((n, 0), dtype))
