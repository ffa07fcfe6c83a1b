"""The lorank command line: demo, compress, --version and error handling."""

import subprocess
import sys

import numpy as np
import pytest

import lorank
from lorank.cli import CommandError, main

PNG = b"\x89PNG\r\n\x1a\n"


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lorank", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def test_version_via_python_m():
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lorank {lorank.__version__}"


def test_version_from_main(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lorank {lorank.__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "demo" in err and "compress" in err


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_demo_writes_pngs_and_prints_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "figs"
    assert main(["demo", "--out", str(out), "--scale", "0.01"]) == 0
    text = capsys.readouterr().out
    for name in ["image_singular_values.png", "image_compression.png"]:
        assert (out / name).read_bytes()[:8] == PNG
        assert str(out / name) in text
    assert "relative error" in text and "compression ratio" in text
    lines = [line.split() for line in text.splitlines()]
    table = {int(row[0]): row for row in lines if len(row) == 3 and row[0].isdigit()}
    assert sorted(table) == [10, 20, 50, 100]
    assert table[10][2] == "25.60x" and table[100][2] == "2.56x"
    errors = [float(table[k][1]) for k in (10, 20, 50, 100)]
    assert errors == sorted(errors, reverse=True) and 0 < errors[-1] < errors[0] < 1
    assert "numerical rank: 4" in text


def test_demo_default_out_is_lorank_demo(monkeypatch):
    pytest.importorskip("matplotlib")
    import lorank.demo

    calls = []
    monkeypatch.setattr(lorank.demo, "run", lambda out, scale: calls.append(out))
    assert main(["demo", "--scale", "0.01"]) == 0
    assert calls == ["lorank-demo"]


def test_demo_without_matplotlib_defaults_to_no_figures(monkeypatch):
    import lorank.demo

    calls = []
    monkeypatch.setattr(lorank.demo, "run", lambda out, scale: calls.append(out))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["demo", "--scale", "0.01"]) == 0
    assert calls == [None]


def test_error_is_one_line_without_traceback(tmp_path):
    missing = tmp_path / "missing.png"
    proc = _run("compress", str(missing), "--rank", "3", "--out", str(tmp_path / "o.png"))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lorank compress: error: cannot read image")
    assert "missing.png" in lines[0]


def test_debug_shows_the_exception(tmp_path):
    missing = str(tmp_path / "missing.png")
    args = ["compress", missing, "--rank", "3", "--out", str(tmp_path / "o.png")]
    with pytest.raises(CommandError, match="cannot read image"):
        main(["--debug", *args])
    with pytest.raises(CommandError, match="cannot read image"):
        main([*args, "--debug"])


# --- compress --------------------------------------------------------------------


def _reference(channel, k):
    U, s, Vt = np.linalg.svd(channel.astype(np.float64), full_matrices=False)
    return np.clip((U[:, :k] * s[:k]) @ Vt[:k], 0, 1)


@pytest.fixture
def images(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:60] / 60
    gray = np.clip(0.5 + 0.3 * np.sin(6 * x) * np.cos(4 * y) + 0.05 * rng.standard_normal((40, 60)), 0, 1)
    rgb = np.stack([gray, gray[::-1], 1 - gray], axis=-1)
    gray8 = np.round(gray * 255).astype(np.uint8)
    rgb8 = np.round(rgb * 255).astype(np.uint8)
    Image.fromarray(gray8, mode="L").save(tmp_path / "gray.png")
    Image.fromarray(rgb8, mode="RGB").save(tmp_path / "rgb.png")
    return tmp_path, gray8 / 255, rgb8 / 255


def test_compress_grayscale(images, capsys):
    import matplotlib.image

    folder, gray, _ = images
    out = folder / "gray_k5.png"
    assert main(["compress", str(folder / "gray.png"), "--rank", "5", "--out", str(out)]) == 0
    written = matplotlib.image.imread(out)
    expected = _reference(gray, 5)
    # One gray channel, rounded to 8 bits.
    assert written.shape == gray.shape
    np.testing.assert_allclose(written, expected, atol=0.5 / 255 + 1e-6)
    text = capsys.readouterr().out
    error = np.linalg.norm(expected - gray) / np.linalg.norm(gray)
    assert f"60 x 40, 1 channel, rank 5: relative error {error:.4f}" in text
    assert f"compression ratio {40 * 60 / (5 * 100):.2f}x" in text


def test_compress_rgb_per_channel(images, capsys):
    import matplotlib.image

    folder, _, rgb = images
    out = folder / "rgb_k3.png"
    assert main(["compress", str(folder / "rgb.png"), "--rank", "3", "--out", str(out)]) == 0
    written = matplotlib.image.imread(out)
    assert written.shape == rgb.shape
    for c in range(3):
        np.testing.assert_allclose(written[:, :, c], _reference(rgb[:, :, c], 3), atol=0.5 / 255 + 1e-6)
    assert "3 channels, rank 3" in capsys.readouterr().out


def test_compress_rank_too_large(images, capsys):
    folder, _, _ = images
    rc = main(["compress", str(folder / "gray.png"), "--rank", "41", "--out", str(folder / "o.png")])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lorank compress: error: rank=41 exceeds min(m, n) = 40 for a matrix of shape (40, 60)"]
    assert not (folder / "o.png").exists()


def test_compress_not_an_image(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["compress", str(bad), "--rank", "2", "--out", str(tmp_path / "o.png")]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lorank compress: error: cannot read image") and "notes.png" in line
