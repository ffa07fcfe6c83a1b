"""``lorank demo``: the library's story end to end, in seconds, with no downloads.

The demo is a list of stages, run in order. Each stage is a function taking a
:class:`Context` (where to print, where to write figures) and returning a dict
of the facts it showed, so tests can check them. Later parts of the story add
themselves with the :func:`stage` decorator::

    @stage("Completing a matrix from a few entries")
    def _completion(ctx):
        ...
        return {"rmse": rmse}
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .linalg.lowrank import LowRank
from .linalg.svd import numerical_rank, svd

__all__ = ["run", "stage", "STAGES", "Context", "sample_image"]


@dataclass
class Context:
    """What a stage needs: an output stream and, maybe, a folder for figures."""

    file: object
    out: Path | None = None  # None: no figures
    files: list = field(default_factory=list)  # figures written so far
    scale: float = 1.0  # size of the Netflix-shaped stage (1: 25M ratings)

    def print(self, *args):
        print(*args, file=self.file)

    def save(self, fig, name):
        """Write a matplotlib Figure as ``out/name`` and remember the path."""
        path = self.out / name
        fig.savefig(path, dpi=100)
        self.files.append(path)
        return path


#: The demo's stages, in order: (name, title, function).
STAGES = []


def stage(title):
    """Register ``func(ctx) -> dict`` as the next stage of the demo."""

    def register(func):
        STAGES.append((func.__name__.lstrip("_"), title, func))
        return func

    return register


def have_matplotlib():
    """Whether matplotlib can be imported (figures are optional)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def run(out=None, *, file=None, scale=1.0):
    """Run every stage of the demo, printing as it goes.

    Parameters
    ----------
    out : str or path-like, default=None
        Folder for the PNG figures (created if needed). ``None`` writes no
        figures; so does a missing matplotlib (with a note saying so).
    file : file-like, default=None
        Where to print; ``None`` is ``sys.stdout``.
    scale : float, default=1.0
        Size of the collaborative-filtering stage: 1 is a quarter of the Netflix
        Prize (120k users, 25M ratings, well under a minute on 2 cores).

    Returns
    -------
    dict
        ``{stage name: facts}`` for every stage, plus ``"files"``: the list of
        figures written.

    Examples
    --------
    >>> import io, lorank.demo
    >>> facts = lorank.demo.run(file=io.StringIO())
    >>> facts["trig_function"]["numerical_rank"]
    4
    """
    file = sys.stdout if file is None else file
    if out is not None and not have_matplotlib():
        print(
            "matplotlib is not installed: no figures "
            "(pip install 'lorank[plot]' to get them)",
            file=file,
        )
        out = None
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
    ctx = Context(file=file, out=out, scale=scale)
    facts = {}
    start = time.perf_counter()
    for i, (name, title, func) in enumerate(STAGES, 1):
        ctx.print(f"\n== {i}. {title} ==")
        facts[name] = func(ctx)
    ctx.print(f"\nDemo done in {time.perf_counter() - start:.1f} s.")
    if ctx.files:
        ctx.print(f"Figures written to {out}:")
        for path in ctx.files:
            ctx.print(f"  {path}")
    facts["files"] = list(ctx.files)
    return facts


def _fmt(values):
    return "  ".join(f"{v:.3g}" for v in values)


@stage("A random 10 x 20 matrix of rank 5")
def _random_rank5(ctx):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))
    U, s, Vt = svd(X)
    error = float(np.abs(U * s @ Vt - X).max())
    above = int(np.count_nonzero(s > 1e-10 * s[0]))
    ctx.print("X = A @ B with A 10 x 5 and B 5 x 20, both Gaussian.")
    ctx.print(f"singular values: {_fmt(s)}")
    ctx.print(f"U @ diag(s) @ Vt reconstructs X: max |error| = {error:.1e}")
    ctx.print(f"singular values above 1e-10 * s[0]: {above}  (the rank is 5)")
    return {"singular_values": s, "max_error": error, "rank": above}


@stage("A smooth function on a grid has low rank")
def _trig_function(ctx):
    x = np.linspace(0, 1, 100)
    X, Y = x[:, None], x[None, :]
    F = np.sin(200 * X + 75 * Y) + np.sin(50 * X) + np.cos(100 * Y)
    s = svd(F)[1]
    rank = numerical_rank(s, shape=F.shape)
    rank_abs = numerical_rank(s, tol=1e-12)
    ctx.print("F = sin(200x + 75y) + sin(50x) + cos(100y) on a 100 x 100 grid of [0, 1]^2")
    ctx.print(f"largest singular values: {_fmt(s[:6])}")
    ctx.print(
        f"numerical rank: {rank} (tol = max(m, n) * eps * s[0]); "
        f"{rank_abs} (tol = 1e-12)"
    )
    ctx.print("sin(a + b) = sin a cos b + cos a sin b: two rank-one terms, plus one each.")
    return {"singular_values": s, "numerical_rank": rank, "numerical_rank_1e-12": rank_abs}


def sample_image(size=512):
    """A grayscale test image with smooth regions and sharp edges, made in code.

    A diagonal gradient with a soft vignette, a few disks and rectangles, a
    thin slanted line and rows of short bars that look like text: the smooth
    parts need few singular vectors, the edges need many.

    Parameters
    ----------
    size : int, default=512
        Height and width in pixels.

    Returns
    -------
    ndarray of shape (size, size), float64 in [0, 1]

    Examples
    --------
    >>> from lorank.demo import sample_image
    >>> img = sample_image(64)
    >>> img.shape, bool(img.min() >= 0 and img.max() <= 1)
    ((64, 64), True)
    """
    t = np.linspace(0.0, 1.0, size)
    y, x = t[:, None], t[None, :]
    img = 0.25 + 0.35 * x + 0.15 * y  # smooth gradient
    img = img - 0.2 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)  # vignette
    img = np.broadcast_to(img, (size, size)).copy()
    # Disks: (center x, center y, radius, gray level).
    for cx, cy, r, level in [(0.28, 0.3, 0.16, 0.95), (0.7, 0.62, 0.2, 0.1), (0.78, 0.2, 0.08, 0.6)]:
        img[(x - cx) ** 2 + (y - cy) ** 2 < r**2] = level
    # A shaded disk: smooth inside, sharp at the rim.
    inside = (x - 0.3) ** 2 + (y - 0.75) ** 2 < 0.12**2
    img[inside] = (0.5 + 0.5 * np.cos(12 * (x + y)))[inside]
    # Rectangles: (x0, y0, x1, y1, gray level).
    for x0, y0, x1, y1, level in [(0.05, 0.55, 0.2, 0.95, 0.0), (0.45, 0.05, 0.62, 0.4, 1.0)]:
        img[(x >= x0) & (x < x1) & (y >= y0) & (y < y1)] = level
    # A thin slanted line.
    img[np.abs(y - (0.9 - 0.5 * x)) < 1.2 / size] = 1.0
    # "Text": rows of short dark bars of varying widths.
    rng = np.random.default_rng(7)
    for row in range(4):
        top = 0.46 + 0.045 * row
        left = 0.44
        while left < 0.95:
            width = rng.uniform(0.01, 0.04)
            img[(y >= top) & (y < top + 0.025) & (x >= left) & (x < min(left + width, 0.95))] = 0.05
            left += width + rng.uniform(0.006, 0.02)
    return np.clip(img, 0.0, 1.0)


@stage("Compressing a 512 x 512 image by truncated SVD")
def _image_compression(ctx):
    img = sample_image(512)
    ranks = [10, 20, 50, 100]
    U, s, Vt = svd(img)
    norm = np.linalg.norm(img)
    rows = []
    ctx.print("A 512 x 512 test image (gradients, disks, rectangles, text-like bars).")
    ctx.print(f"{'rank':>6}  {'relative error':>14}  {'compression ratio':>17}")
    for k in ranks:
        L = LowRank.from_svd(U, s, Vt, rank=k)
        error = float(np.linalg.norm(img - L.to_dense()) / norm)
        rows.append((k, error, L.compression_ratio))
        ctx.print(f"{k:>6}  {error:>14.4f}  {L.compression_ratio:>16.2f}x")
    ctx.print("relative error = ||X - X_k||_F / ||X||_F; ratio = dense bytes / factor bytes")
    if ctx.out is not None:
        from . import plot

        ax = plot.singular_values(s, relative=True, label="test image")
        ax.set_title("Singular values of the 512 x 512 test image")
        ctx.save(ax.figure, "image_singular_values.png")
        ax = plot.compression_grid(img, ranks, label="Rank-k approximations of the test image")
        ctx.save(ax.figure, "image_compression.png")
    return {"table": rows}


@stage("Completing the smooth matrix from 20% of its entries (ALS)")
def _completion(ctx):
    from .models.als import ALS

    x = np.linspace(0, 1, 100)
    F = np.sin(200 * x[:, None] + 75 * x) + np.sin(50 * x[:, None]) + np.cos(100 * x)
    draws = 10
    ctx.print(f"The same F, {draws} times with a different 2,000 of its 10,000 entries")
    ctx.print("observed; rank 4, reg 1e-4, no biases (the seed's model), 50 iterations.")
    ctx.print(f"{'start':>8}  {'draws with MSE <= 1e-6':>22}  {'worst full-matrix MSE':>21}")
    rows = []
    shown = {}  # the first draw's observed matrix; each start's worst completion
    for init in ("svd", "random"):
        mse = []
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            keep = rng.choice(F.size, 2000, replace=False)
            observed = np.full(F.shape, np.nan)
            observed.flat[keep] = F.flat[keep]
            model = ALS(4, reg=1e-4, biases=False, init=init, max_iter=50,
                        dtype=np.float64, random_state=0).fit(observed)
            completed = model.to_lowrank().to_dense()
            mse.append(float(np.mean((completed - F) ** 2)))
            shown.setdefault("observed", observed)
            if mse[-1] == max(mse):
                shown[init] = (completed, seed, mse[-1])
        good = sum(e <= 1e-6 for e in mse)
        rows.append((init, good, max(mse)))
        ctx.print(f"{init:>8}  {good:>19}/{draws}  {max(mse):>21.2e}")
    ctx.print("The spectral ('svd') start is the default: random starts can stall in a")
    ctx.print("poor local minimum, as the seed found.")
    if ctx.out is not None:
        from . import plot

        panels = [(F, "F (100 x 100, rank 4)"), (shown["observed"], "observed: 20% (draw 0)")]
        for init in ("svd", "random"):
            completed, seed, err = shown[init]
            panels.append((completed, f"{init} start, worst draw ({seed}):\nMSE {err:.1e}"))
        ax = plot.matrices(panels, ncols=4, vrange=(float(F.min()), float(F.max())),
                           label="Completing F from 2,000 of its entries (ALS, rank 4)")
        ctx.save(ax.figure, "completion.png")
    return {"table": rows}


@stage("Collaborative filtering on Netflix-shaped ratings")
def _netflix_shaped(ctx):
    from .models.als import ALS
    from .datasets import synthetic
    from .recommend import Recommender

    n_users = max(200, int(120_047 * ctx.scale))
    n_items = max(50, int(17_770 * min(1.0, 4 * ctx.scale)))
    nnz = max(2000, int(25_120_127 * ctx.scale))
    start = time.perf_counter()
    R, floor = synthetic(n_users, n_items, nnz, random_state=0)
    train, test = R.split(0.1, random_state=0, by="row")
    ctx.print(f"Synthetic ratings 1..5 shaped like the Netflix Prize: {n_users:,} users x "
              f"{n_items:,} movies, {R.nnz:,} ratings (made in "
              f"{time.perf_counter() - start:.1f} s); 10% of each user's held out.")
    model = ALS(10, random_state=0).fit(train, validation=test)
    h = model.history_
    ctx.print(f"{'iteration':>9}  {'train RMSE':>10}  {'test RMSE':>9}  {'seconds':>7}")
    for it, tr, te, sec in zip(h["iteration"], h["train_rmse"], h["valid_rmse"], h["seconds"]):
        ctx.print(f"{it:>9}  {tr:>10.4f}  {te:>9.4f}  {sec:>7.2f}")
    ctx.print(f"noise floor (the RMSE of the best prediction given the true model): "
              f"{floor:.4f}")
    rec = Recommender.from_model(model, train)
    user = rec.user_labels[0] if rec.user_labels is not None else 0
    top, top_scores = rec.recommend(user, n=5)
    bottom, bottom_scores = rec.recommend(user, n=5, worst=True)
    ctx.print(f"user {user}: top 5 and bottom 5 of the movies they have not rated")
    for (i, a), (j, b) in zip(zip(top, top_scores), zip(bottom, bottom_scores)):
        ctx.print(f"  movie {i:>6} {a:5.2f}     movie {j:>6} {b:5.2f}")
    if ctx.out is not None:
        from matplotlib.figure import Figure

        from . import plot

        ax = plot.training_curves(h, floor=floor, label="ALS")
        ax.set_title("ALS on Netflix-shaped ratings")
        ctx.save(ax.figure, "training_curves.png")
        fig = Figure(figsize=(9, 3.2), layout="constrained")
        left, right = fig.subplots(1, 2, sharex=True)
        plot.recommendations([f"movie {i}" for i in top], top_scores, left,
                             label=f"user {user}: top 5 unseen")
        plot.recommendations([f"movie {j}" for j in bottom], bottom_scores, right,
                             label=f"user {user}: bottom 5 unseen")
        ctx.save(fig, "recommendations.png")
    return {"history": h, "noise_floor": floor, "top": (top, top_scores),
            "bottom": (bottom, bottom_scores), "seen": rec.seen_, "user": user}
