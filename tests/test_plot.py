"""lorank.plot: figures built without pyplot, and a clear error without matplotlib."""

import re
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lorank  # noqa: E402
from lorank import plot  # noqa: E402

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def _truncated(X, k):
    """Plain-numpy best rank-k approximation."""
    U, s, Vt = np.linalg.svd(X.astype(np.float64), full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


# --- singular_values -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_values_log_scale_and_data(dtype):
    s = np.array([10.0, 3.0, 1.0, 1e-3, 0.0], dtype=dtype)
    ax = plot.singular_values(s)
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    # The exact zero cannot sit on a log axis and is left out; indices start at 1.
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(line.get_ydata(), s[:4], rtol=TOL[dtype])
    assert ax.get_legend() is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_values_relative_on_given_axes(dtype):
    fig = Figure()
    given = fig.add_subplot()
    s = lorank.svd(np.vander(np.linspace(0, 1, 30), 6).astype(dtype))[1]
    ax = plot.singular_values(s, given, relative=True, label="vander")
    assert ax is given
    ydata = ax.get_lines()[0].get_ydata()
    assert ydata[0] == pytest.approx(1.0)
    np.testing.assert_allclose(ydata, (s / s[0])[s > 0], rtol=TOL[dtype])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vander"]
    assert "σ_1" in ax.get_ylabel()


@pytest.mark.parametrize(
    "s, match",
    [
        (np.ones((2, 2)), r"s must be a non-empty 1-D array, got shape \(2, 2\)"),
        (np.array([]), r"s must be a non-empty 1-D array, got shape \(0,\)"),
        (np.array([1.0, -1.0]), "finite singular values >= 0"),
        (np.array([1.0, np.nan]), "finite singular values >= 0"),
    ],
)
def test_singular_values_bad_input(s, match):
    with pytest.raises(ValueError, match=match):
        plot.singular_values(s)


def test_singular_values_relative_needs_positive_first():
    with pytest.raises(ValueError, match=r"relative=True needs s\[0\] > 0"):
        plot.singular_values(np.zeros(3), relative=True)


# --- compression_grid ------------------------------------------------------------


def _titles(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("dtype", DTYPES)
def test_compression_grid_panels_titles_and_images(dtype):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((40, 6)) @ rng.standard_normal((6, 30))).astype(dtype)
    ranks = [1, 3, 6]
    ax = plot.compression_grid(X, ranks)
    assert isinstance(ax, Axes)
    assert len(ax.images) == 1 + len(ranks)
    np.testing.assert_array_equal(ax.images[0].get_array(), X)
    titles = _titles(ax)
    assert titles[0] == "original 40×30"
    norm = np.linalg.norm(X.astype(np.float64))
    for image, title, k in zip(ax.images[1:], titles[1:], ranks):
        reference = _truncated(X, k)
        np.testing.assert_allclose(
            image.get_array(), reference, atol=TOL[dtype] * np.abs(X).max()
        )
        match = re.fullmatch(r"rank (\d+): error ([\d.]+)\nratio ([\d.]+)x", title)
        assert match, title
        assert int(match[1]) == k
        error = np.linalg.norm(X - reference) / norm
        assert float(match[2]) == pytest.approx(error, abs=1e-3)
        assert float(match[3]) == pytest.approx(40 * 30 / (k * (40 + 30)), abs=0.05)
    # Every panel shares the original's value range.
    assert {im.get_clim() for im in ax.images} == {(float(X.min()), float(X.max()))}


def test_compression_grid_layout_wraps_at_three_columns():
    X = np.add.outer(np.arange(20.0), np.arange(20.0)) ** 2
    ax = plot.compression_grid(X, [1, 2, 3, 4, 5], cmap="viridis")
    assert len(ax.images) == 6
    lefts = sorted({im.get_extent()[0] for im in ax.images})
    tops = sorted({im.get_extent()[3] for im in ax.images})
    assert len(lefts) == 3 and len(tops) == 2  # 3 columns, 2 rows, no overlap
    boxes = [im.get_extent() for im in ax.images]
    for i, (x0, x1, y1, y0) in enumerate(boxes):
        for (u0, u1, v1, v0) in boxes[i + 1:]:
            assert x1 <= u0 or u1 <= x0 or y1 <= v0 or v1 <= y0
    assert ax.images[0].get_cmap().name == "viridis"


@pytest.mark.parametrize(
    "ranks, error, match",
    [
        ([], ValueError, "ranks is empty"),
        ([2, 21], ValueError, r"rank=21 exceeds min\(m, n\) = 20"),
        ([0], ValueError, "rank must be positive, got 0"),
        ([2.5], TypeError, "rank must be an integer, got 2.5"),
    ],
)
def test_compression_grid_bad_ranks(ranks, error, match):
    with pytest.raises(error, match=match):
        plot.compression_grid(np.ones((20, 30)), ranks)


def test_compression_grid_bad_matrix():
    with pytest.raises(ValueError, match="X must be 2-D"):
        plot.compression_grid(np.ones(5), [1])


# --- training_curves -------------------------------------------------------------


def _history():
    return {
        "iteration": [1, 2, 3, 4],
        "train_rmse": [1.5, 1.0, 0.8, 0.7],
        "valid_rmse": [1.6, None, float("nan"), 1.0],
        "objective": [9.0, 6.0, 5.0, 4.5],
        "seconds": [0.5, 1.0, 1.5, 2.0],
    }


def test_training_curves_skips_missing_validation():
    ax = plot.training_curves(_history())
    train, valid = ax.get_lines()
    assert (train.get_label(), valid.get_label()) == ("train", "validation")
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(train.get_ydata(), [1.5, 1.0, 0.8, 0.7])
    np.testing.assert_array_equal(valid.get_xdata(), [1, 4])
    np.testing.assert_array_equal(valid.get_ydata(), [1.6, 1.0])
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "RMSE"


def test_training_curves_against_seconds_on_given_axes():
    given = Figure().add_subplot()
    ax = plot.training_curves(_history(), given, x="seconds")
    assert ax is given
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0.5, 1.0, 1.5, 2.0])
    assert ax.get_xlabel() == "seconds"


def test_training_curves_without_validation():
    history = _history()
    history["valid_rmse"] = [None] * 4
    assert [line.get_label() for line in plot.training_curves(history).get_lines()] == ["train"]
    del history["valid_rmse"]
    assert len(plot.training_curves(history).get_lines()) == 1


def test_training_curves_bad_input():
    with pytest.raises(ValueError, match="x must be 'iteration' or 'seconds', got 'epoch'"):
        plot.training_curves(_history(), x="epoch")
    history = _history()
    del history["train_rmse"]
    with pytest.raises(ValueError, match="history has no 'train_rmse' entry"):
        plot.training_curves(history)
    history = _history()
    history["valid_rmse"] = [1.0]
    with pytest.raises(ValueError, match=r"history\['valid_rmse'\] has 1 entries"):
        plot.training_curves(history)


def test_training_curves_show_the_noise_floor_and_a_label():
    ax = plot.training_curves(_history(), floor=0.55, label="ALS")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["ALS train", "ALS validation", "noise floor 0.550"]
    floor = ax.get_lines()[2]
    assert set(floor.get_ydata()) == {0.55}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    with pytest.raises(ValueError, match="floor must be a finite number >= 0, got nan"):
        plot.training_curves(_history(), floor=float("nan"))


# --- matrices and recommendations --------------------------------------------------


def test_matrices_draws_missing_entries_as_blank():
    F = np.arange(12.0).reshape(3, 4)
    seen = F.copy()
    seen[1, 2] = np.nan
    ax = plot.matrices([(F, "true"), (seen, "observed")], label="Completion")
    assert ax.get_title() == "Completion" and _titles(ax) == ["true", "observed"]
    masked = ax.images[1].get_array()
    assert masked.mask[1, 2] and masked.mask.sum() == 1
    assert {im.get_clim() for im in ax.images} == {(0.0, 11.0)}
    with pytest.raises(ValueError, match=r"panels\[1\] must be a pair \(2-D array, title\)"):
        plot.matrices([(F, "a"), F])
    with pytest.raises(ValueError, match="panels is empty"):
        plot.matrices([])


def test_recommendations_bars_best_first():
    ax = plot.recommendations([30, 10, 20], [4.5, 4.0, 3.5], names={10: "Heat"},
                              label="user 7")
    bars = ax.patches
    assert [b.get_width() for b in bars] == [4.5, 4.0, 3.5]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["30", "Heat", "20"]
    assert bars[0].get_y() > bars[1].get_y() > bars[2].get_y()  # best at the top
    assert ax.get_title() == "user 7"
    with pytest.raises(ValueError, match="items and scores must have the same length"):
        plot.recommendations([1, 2], [1.0])


FUNCTIONS = {
    "singular_values": lambda **kw: plot.singular_values([3.0, 2.0, 0.5], **kw),
    "compression_grid": lambda **kw: plot.compression_grid(np.eye(6) + 1, [1, 2], **kw),
    "training_curves": lambda **kw: plot.training_curves(_history(), **kw),
    "matrices": lambda **kw: plot.matrices([(np.eye(3), "I")], **kw),
    "recommendations": lambda **kw: plot.recommendations([1, 2], [2.0, 1.0], **kw),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_returns_axes_and_takes_ax_and_label(name):
    assert sorted(FUNCTIONS) == sorted(plot.__all__)
    call = FUNCTIONS[name]
    ax = call()
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    given = Figure().add_subplot()
    assert call(ax=given) is given
    labelled = call(label="my label")
    shown = [t.get_text() for t in (labelled.get_legend().get_texts()
                                    if labelled.get_legend() else [])]
    assert any("my label" in t for t in shown + [labelled.get_title()]), (shown,
                                                                          labelled.get_title())


# --- matplotlib missing ----------------------------------------------------------


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every ``import matplotlib...`` fail, as on a machine without it."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.mark.parametrize(
    "call",
    [
        lambda: plot.singular_values([3.0, 1.0]),
        lambda: plot.compression_grid(np.eye(4), [1]),
        lambda: plot.training_curves(_history()),
        lambda: plot.matrices([(np.eye(2), "I")]),
        lambda: plot.recommendations([1], [1.0]),
    ],
    ids=["singular_values", "compression_grid", "training_curves", "matrices",
         "recommendations"],
)
def test_missing_matplotlib_names_the_extra(no_matplotlib, call):
    with pytest.raises(ImportError, match=re.escape("pip install 'lorank[plot]'")):
        call()


def test_plot_is_an_attribute_of_lorank():
    assert lorank.plot is plot
