"""lorank.demo: each stage shows what it claims, checked against plain numpy."""

import io
import sys

import numpy as np
import pytest

from lorank import demo


@pytest.fixture(scope="module")
def facts():
    """One demo run without figures, shared by the tests below."""
    out = io.StringIO()
    result = demo.run(file=out, scale=0.01)
    return result, out.getvalue()


def test_stages_run_in_order(facts):
    result, text = facts
    names = [name for name, _, _ in demo.STAGES]
    assert names[:3] == ["random_rank5", "trig_function", "image_compression"]
    assert list(result) == names + ["files"]
    assert result["files"] == []
    positions = [text.index(f"== {i}. {title} ==") for i, (_, title, _) in enumerate(demo.STAGES, 1)]
    assert positions == sorted(positions)


def test_random_rank5(facts):
    r = facts[0]["random_rank5"]
    assert r["rank"] == 5
    assert r["max_error"] < 1e-12
    # Independent count with numpy's SVD of the same matrix.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 5)) @ rng.standard_normal((5, 20))
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(r["singular_values"], s, rtol=1e-10, atol=1e-12 * s[0])
    assert np.count_nonzero(s > 1e-10 * s[0]) == 5


def test_trig_function_rank_four(facts):
    r = facts[0]["trig_function"]
    assert r["numerical_rank"] == 4
    assert r["numerical_rank_1e-12"] == 4
    assert "numerical rank: 4" in facts[1]


def test_image_compression_table_matches_numpy(facts):
    result, text = facts
    rows = result["image_compression"]["table"]
    s = np.linalg.svd(demo.sample_image(512), compute_uv=False)
    assert [k for k, _, _ in rows] == [10, 20, 50, 100]
    for k, error, ratio in rows:
        # Eckart-Young: the truncation error is the norm of the dropped singular values.
        assert error == pytest.approx(np.sqrt(np.sum(s[k:] ** 2) / np.sum(s**2)), rel=1e-8)
        assert ratio == pytest.approx(512 * 512 / (k * 1024))
        assert f"{k:>6}  {error:>14.4f}  {ratio:>16.2f}x" in text
    assert rows[0][2] == 25.6 and rows[-1][2] == 2.56


def test_sample_image_has_smooth_parts_and_edges():
    img = demo.sample_image(128)
    assert img.shape == (128, 128) and img.dtype == np.float64
    assert img.min() >= 0 and img.max() <= 1
    np.testing.assert_array_equal(img, demo.sample_image(128))  # deterministic
    # Sharp edges: some neighbouring pixels jump by more than half the range.
    assert np.abs(np.diff(img, axis=1)).max() > 0.5
    # Not low rank: far from the rank-4 trig function.
    s = np.linalg.svd(img, compute_uv=False)
    assert np.count_nonzero(s > 1e-3 * s[0]) > 20


def test_run_without_matplotlib_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = io.StringIO()
    result = demo.run(tmp_path / "figs", file=out, scale=0.01)
    assert result["files"] == []
    assert not (tmp_path / "figs").exists()
    assert "pip install 'lorank[plot]'" in out.getvalue()


def test_stage_decorator_appends(monkeypatch):
    monkeypatch.setattr(demo, "STAGES", list(demo.STAGES[:1]))

    @demo.stage("An extra stage")
    def _extra(ctx):
        ctx.print("extra ran")
        return {"ok": True}

    assert demo.STAGES[-1] == ("extra", "An extra stage", _extra)
    out = io.StringIO()
    result = demo.run(file=out, scale=0.01)
    assert result["extra"] == {"ok": True}
    assert f"== {len(demo.STAGES)}. An extra stage ==\nextra ran" in out.getvalue()


def test_completion_spectral_start_never_fails(facts):
    (svd_row, random_row) = facts[0]["completion"]["table"]
    assert svd_row[0] == "svd" and svd_row[1] == 10 and svd_row[2] <= 1e-6
    assert random_row[0] == "random" and random_row[1] < 10  # the seed's failures


def test_netflix_shaped_stage(facts):
    r = facts[0]["netflix_shaped"]
    h = r["history"]
    assert h["valid_rmse"][-1] < h["valid_rmse"][0]
    assert h["valid_rmse"][-1] < 1.5 * r["noise_floor"]
    (top, top_scores), (bottom, bottom_scores) = r["top"], r["bottom"]
    assert list(top_scores) == sorted(top_scores, reverse=True)
    assert list(bottom_scores) == sorted(bottom_scores)
    assert top_scores[-1] >= bottom_scores[-1]
    indptr, indices = r["seen"]
    seen = set(indices[indptr[0]:indptr[1]].tolist())  # user 0 is row 0
    assert seen and not seen & (set(top.tolist()) | set(bottom.tolist()))


def test_figures_show_every_stage_and_the_noise_floor(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    saved = {}
    real = demo.Context.save

    def keep(self, fig, name):
        saved[name] = fig
        return real(self, fig, name)

    monkeypatch.setattr(demo.Context, "save", keep)
    result = demo.run(tmp_path, file=io.StringIO(), scale=0.01)
    names = ["image_singular_values.png", "image_compression.png", "completion.png",
             "training_curves.png", "recommendations.png"]
    assert [p.name for p in result["files"]] == names and sorted(saved) == sorted(names)
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the training curves show the floor the demo prints
    floor = result["netflix_shaped"]["noise_floor"]
    (ax,) = saved["training_curves.png"].axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines[f"noise floor {floor:.3f}"].get_ydata()) == {floor}
    np.testing.assert_array_equal(lines["ALS validation"].get_ydata(),
                                  result["netflix_shaped"]["history"]["valid_rmse"])
    # completion: F, the observed entries (NaN elsewhere) and both starts' worst completions
    (ax,) = saved["completion.png"].axes
    assert len(ax.images) == 4
    observed = ax.images[1].get_array()
    assert observed.mask.sum() == 10_000 - 2000
    # recommendations: the top and bottom 5 the stage printed, as bars
    top_ax, bottom_ax = saved["recommendations.png"].axes
    (_, top_scores), (_, bottom_scores) = (result["netflix_shaped"]["top"],
                                           result["netflix_shaped"]["bottom"])
    np.testing.assert_allclose([b.get_width() for b in top_ax.patches], top_scores)
    np.testing.assert_allclose([b.get_width() for b in bottom_ax.patches], bottom_scores)
