"""Figures for the low-rank story: singular values, compression grids, training curves.

matplotlib is optional (``pip install 'lorank[plot]'``) and imported only when a
function here is called. Without an ``ax``, functions build a
:class:`matplotlib.figure.Figure` directly (no pyplot, no global state, no
display needed); save it with ``fig.savefig(path)``.
"""

import math

import numpy as np

__all__ = ["singular_values", "compression_grid", "training_curves"]

_MISSING = "lorank.plot needs matplotlib: pip install 'lorank[plot]'"


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(_MISSING) from None
    return Figure


def _new_axes(ax, figsize=(6, 4)):
    """Return ``ax`` unchanged, or the axes of a new pyplot-free Figure."""
    Figure = _figure_class()  # checks matplotlib even when an ax is given
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def singular_values(s, ax=None, *, relative=False, label=None):
    """Plot singular values on a logarithmic axis.

    Parameters
    ----------
    s : array_like of shape (k,)
        Singular values (non-negative), e.g. from :func:`lorank.svd`.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new Figure.
    relative : bool, default=False
        Plot ``s / s[0]`` so spectra of different matrices compare.
    label : str, default=None
        Legend label for this line.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, lorank, lorank.plot
    >>> s = lorank.svd(np.vander(np.linspace(0, 1, 30), 8))[1]
    >>> ax = lorank.plot.singular_values(s, relative=True)
    >>> ax.get_yscale()
    'log'
    """
    s = np.asarray(s, dtype=float)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"s must be a non-empty 1-D array, got shape {s.shape}")
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("s must hold finite singular values >= 0")
    ax = _new_axes(ax)
    if relative:
        if s[0] == 0:
            raise ValueError("relative=True needs s[0] > 0")
        s = s / s[0]
    # Exact zeros have no place on a log axis; leave them out rather than warn.
    idx = np.flatnonzero(s > 0)
    ax.semilogy(idx + 1, s[idx], marker=".", label=label)
    ax.set_xlabel("index k")
    ax.set_ylabel("σ_k / σ_1" if relative else "σ_k")
    ax.set_title("Singular values")
    ax.grid(True, which="major", alpha=0.3)
    if label is not None:
        ax.legend()
    return ax


def compression_grid(X, ranks, *, cmap="gray"):
    """Show a matrix (an image) next to its rank-k approximations.

    Each panel is titled with the rank, the relative Frobenius error
    ``‖X - X_k‖ / ‖X‖`` and the compression ratio of the factors.

    Parameters
    ----------
    X : array_like of shape (m, n)
        The matrix to compress, e.g. a grayscale image.
    ranks : sequence of int
        Ranks to show, each in ``1..min(m, n)``.
    cmap : str, default="gray"
        Colormap for every panel (all panels share X's value range).

    Returns
    -------
    matplotlib.figure.Figure
        With ``1 + len(ranks)`` image axes.

    Examples
    --------
    >>> import numpy as np, lorank.plot
    >>> X = np.add.outer(np.linspace(0, 1, 64), np.linspace(0, 1, 64)) ** 2
    >>> fig = lorank.plot.compression_grid(X, [1, 3])
    >>> len(fig.axes)
    3
    """
    from .lowrank import LowRank
    from .svd import svd
    from ._validation import as_matrix, check_rank

    Figure = _figure_class()
    X = as_matrix(X, "X")
    ranks = list(ranks)
    if not ranks:
        raise ValueError("ranks is empty; give at least one rank")
    ranks = [check_rank(k, X.shape) for k in ranks]
    # One SVD serves every rank: truncating it is what lorank.compress does.
    U, s, Vt = svd(X, max(ranks))
    approximations = [LowRank.from_svd(U, s, Vt, rank=k) for k in ranks]
    norm = np.linalg.norm(X)

    n_panels = 1 + len(ranks)
    ncols = min(n_panels, 3)
    nrows = math.ceil(n_panels / ncols)
    fig = Figure(figsize=(3.2 * ncols, 3.4 * nrows), layout="constrained")
    vmin, vmax = float(X.min()), float(X.max())
    panels = [(X, f"original {X.shape[0]}×{X.shape[1]}")]
    for k, L in zip(ranks, approximations):
        dense = L.to_dense()
        err = np.linalg.norm(X - dense) / norm if norm > 0 else 0.0
        panels.append(
            (dense, f"rank {k}: error {err:.3f}\nratio {L.compression_ratio:.1f}x")
        )
    for i, (image, title) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    return fig


def training_curves(history, ax=None, *, x="iteration"):
    """Plot train and validation RMSE from a fitted model's ``history_``.

    Parameters
    ----------
    history : dict of lists
        Keys ``"iteration"``, ``"train_rmse"``, ``"valid_rmse"``, ``"objective"``
        and ``"seconds"``, one entry per iteration. Validation values may be
        ``None`` or NaN (not measured); they are left out of the plot, and the
        validation line is omitted when there are none.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new Figure.
    x : {"iteration", "seconds"}, default="iteration"
        What the horizontal axis shows.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import lorank.plot
    >>> h = {"iteration": [1, 2, 3], "train_rmse": [1.2, 0.9, 0.8],
    ...      "valid_rmse": [1.3, None, 1.0], "objective": [5.0, 4.0, 3.5],
    ...      "seconds": [0.1, 0.2, 0.3]}
    >>> ax = lorank.plot.training_curves(h)
    >>> [line.get_label() for line in ax.get_lines()]
    ['train', 'validation']
    """
    if x not in ("iteration", "seconds"):
        raise ValueError(f"x must be 'iteration' or 'seconds', got {x!r}")
    for key in (x, "train_rmse"):
        if key not in history:
            raise ValueError(f"history has no {key!r} entry; keys are {sorted(history)}")
    xs = np.asarray(history[x], dtype=float)
    train = np.asarray(history["train_rmse"], dtype=float)
    if xs.shape != train.shape or xs.ndim != 1:
        raise ValueError(
            f"history[{x!r}] and history['train_rmse'] must be lists of equal length, "
            f"got {xs.size} and {train.size}"
        )
    valid = history.get("valid_rmse")
    if valid is None:
        valid = np.full(train.shape, np.nan)
    else:
        # None marks an iteration without a validation measurement.
        valid = np.array([np.nan if v is None else v for v in valid], dtype=float)
        if valid.shape != train.shape:
            raise ValueError(
                f"history['valid_rmse'] has {valid.size} entries but "
                f"history['train_rmse'] has {train.size}"
            )
    ax = _new_axes(ax)
    ax.plot(xs, train, marker=".", label="train")
    seen = np.isfinite(valid)
    if seen.any():
        ax.plot(xs[seen], valid[seen], marker=".", label="validation")
    ax.set_xlabel("seconds" if x == "seconds" else "iteration")
    ax.set_ylabel("RMSE")
    ax.set_title("Training curves")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax
