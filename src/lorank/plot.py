"""Figures for the low-rank story: singular values, compression grids, training
curves, completed matrices and recommendations.

matplotlib is optional (``pip install 'lorank[plot]'``) and imported only when a
function here is called. Every function draws on one
:class:`matplotlib.axes.Axes` and returns it: the ``ax`` you pass, or the axes
of a new :class:`matplotlib.figure.Figure` built directly (no pyplot, no global
state, no display needed); save it with ``ax.figure.savefig(path)``. Every
function takes ``label=``: the legend entry of what it draws (lines), or the
title (image grids, bar charts).
"""

import math
import numbers

import numpy as np

__all__ = ["singular_values", "compression_grid", "training_curves", "matrices",
           "recommendations"]

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


def compression_grid(X, ranks, ax=None, *, cmap="gray", label=None):
    """Show a matrix (an image) next to its rank-k approximations.

    Each panel is titled with the rank, the relative Frobenius error
    ``‖X - X_k‖ / ‖X‖`` and the compression ratio of the factors. The panels
    are laid out three to a row on one axes.

    Parameters
    ----------
    X : array_like of shape (m, n)
        The matrix to compress, e.g. a grayscale image.
    ranks : sequence of int
        Ranks to show, each in ``1..min(m, n)``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new Figure sized for the grid.
    cmap : str, default="gray"
        Colormap for every panel (all panels share X's value range).
    label : str, default=None
        Title above the grid.

    Returns
    -------
    matplotlib.axes.Axes
        With ``1 + len(ranks)`` images.

    Examples
    --------
    >>> import numpy as np, lorank.plot
    >>> X = np.add.outer(np.linspace(0, 1, 64), np.linspace(0, 1, 64)) ** 2
    >>> ax = lorank.plot.compression_grid(X, [1, 3])
    >>> len(ax.images)
    3
    """
    from .linalg.lowrank import LowRank
    from .linalg.svd import svd
    from ._validation import as_matrix, check_rank

    _figure_class()
    X = as_matrix(X, "X")
    ranks = list(ranks)
    if not ranks:
        raise ValueError("ranks is empty; give at least one rank")
    ranks = [check_rank(k, X.shape) for k in ranks]
    # One SVD serves every rank: truncating it is what lorank.compress does.
    U, s, Vt = svd(X, max(ranks))
    norm = np.linalg.norm(X)
    panels = [(X, f"original {X.shape[0]}×{X.shape[1]}")]
    for k in ranks:
        L = LowRank.from_svd(U, s, Vt, rank=k)
        dense = L.to_dense()
        err = np.linalg.norm(X - dense) / norm if norm > 0 else 0.0
        panels.append(
            (dense, f"rank {k}: error {err:.3f}\nratio {L.compression_ratio:.1f}x")
        )
    return matrices(panels, ax, cmap=cmap, label=label, vrange=(float(X.min()),
                                                                 float(X.max())))


def matrices(panels, ax=None, *, cmap="viridis", label=None, ncols=3, vrange=None):
    """Show matrices side by side on one axes, on one color scale.

    NaN entries (unobserved) are left blank, so an observed-entries matrix
    shows which entries were seen.

    Parameters
    ----------
    panels : sequence of (array_like of shape (m, n), str)
        The matrices and their titles.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new Figure sized for the grid.
    cmap : str, default="viridis"
        Colormap of every panel.
    label : str, default=None
        Title above the grid.
    ncols : int, default=3
        Panels per row.
    vrange : (float, float), default=None
        The color scale; ``None`` spans the finite entries of every panel.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, lorank.plot
    >>> seen = np.where(np.eye(4) > 0, np.nan, 1.0)
    >>> ax = lorank.plot.matrices([(np.ones((4, 4)), "full"), (seen, "observed")])
    >>> [t.get_text() for t in ax.texts]
    ['full', 'observed']
    """
    _figure_class()
    panels = list(panels)
    if not panels:
        raise ValueError("panels is empty; give at least one (matrix, title) pair")
    arrays = []
    for k, panel in enumerate(panels):
        try:
            A, title = panel
            A = np.asarray(A, dtype=float)
        except (TypeError, ValueError):
            A, title = None, None
        if A is None or A.ndim != 2 or A.size == 0 or not isinstance(title, str):
            raise ValueError(f"panels[{k}] must be a pair (2-D array, title)")
        arrays.append((A, title))
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    if vrange is None:
        finite = [A[np.isfinite(A)] for A, _ in arrays]
        finite = np.concatenate(finite) if any(f.size for f in finite) else np.zeros(1)
        vrange = (float(finite.min()), float(finite.max()))
    height = max(A.shape[0] for A, _ in arrays)
    width = max(A.shape[1] for A, _ in arrays)
    ncols = min(ncols, len(arrays))
    nrows = math.ceil(len(arrays) / ncols)
    gap, title_room = 0.08 * width, 0.22 * height
    ax = _new_axes(ax, figsize=(3.2 * ncols, 3.4 * nrows + (0.3 if label else 0.0)))
    import matplotlib

    colormap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    colormap = colormap.with_extremes(bad="white")
    for k, (A, title) in enumerate(arrays):
        r, c = divmod(k, ncols)
        x0 = c * (width + gap)
        y0 = r * (height + title_room) + title_room
        ax.imshow(np.ma.masked_invalid(A), cmap=colormap, vmin=vrange[0], vmax=vrange[1],
                  interpolation="nearest", extent=(x0, x0 + A.shape[1], y0 + A.shape[0], y0))
        ax.text(x0 + A.shape[1] / 2, y0 - 0.03 * height, title, ha="center", va="bottom",
                fontsize=9)
    ax.set_xlim(-0.5 * gap, ncols * (width + gap) - 0.5 * gap)
    ax.set_ylim(nrows * (height + title_room), 0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if label is not None:
        ax.set_title(label)
    return ax


def recommendations(items, scores, ax=None, *, names=None, label=None):
    """Horizontal bars of predicted scores, the first item at the top.

    Parameters
    ----------
    items : sequence
        Item labels, as ``Recommender.recommend`` returns them.
    scores : sequence of float
        Their predicted ratings or scores.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; ``None`` creates a new Figure.
    names : dict, default=None
        Item label -> name (e.g. a loader's titles) for the tick labels.
    label : str, default=None
        Title of the chart.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import lorank.plot
    >>> ax = lorank.plot.recommendations([242, 302], [4.6, 4.1], names={242: "Kolya"})
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Kolya', '302']
    """
    items = list(np.asarray(items).tolist())
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or len(items) != scores.size:
        raise ValueError(f"items and scores must have the same length, got {len(items)} "
                         f"and {scores.size}")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    ax = _new_axes(ax, figsize=(5, 0.45 * max(len(items), 2) + 1.2))
    names = names or {}
    y = np.arange(len(items))[::-1]  # the first item at the top
    ax.barh(y, scores, height=0.7)
    ax.set_yticks(y, [str(names.get(i, i)) for i in items])
    ax.set_xlabel("predicted score")
    ax.grid(True, axis="x", alpha=0.3)
    for yi, v in zip(y, scores):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
    lo, hi = min(0.0, float(scores.min())), max(0.0, float(scores.max()))
    ax.set_xlim(lo - 0.15 * (hi - lo) * (lo < 0), hi + 0.15 * (hi - lo) + 1e-12)
    if label is not None:
        ax.set_title(label)
    return ax


def training_curves(history, ax=None, *, x="iteration", label=None, floor=None):
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
    label : str, default=None
        Prefix of the legend entries ("LABEL train", "LABEL validation"), to
        compare models on one axes.
    floor : float, default=None
        A noise floor to draw as a dashed line (e.g. the one
        :func:`lorank.datasets.synthetic` returns).

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
    if floor is not None and (isinstance(floor, bool) or not isinstance(floor, numbers.Real)
                              or not (math.isfinite(floor) and floor >= 0)):
        raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
    ax = _new_axes(ax)
    prefix = "" if label is None else f"{label} "
    ax.plot(xs, train, marker=".", label=f"{prefix}train")
    seen = np.isfinite(valid)
    if seen.any():
        ax.plot(xs[seen], valid[seen], marker=".", label=f"{prefix}validation")
    if floor is not None:
        ax.axhline(floor, color="0.3", linestyle="--", linewidth=1,
                   label=f"noise floor {floor:.3f}")
    ax.set_xlabel("seconds" if x == "seconds" else "iteration")
    ax.set_ylabel("RMSE")
    ax.set_title("Training curves")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax
