import lorank
from lorank._kernels import _als


def test_show_config_reports_the_build_and_runtime(capsys):
    info = lorank.show_config(as_dict=True)
    assert info["lorank"] == lorank.__version__
    assert info["build"]["openmp"] is lorank.openmp_enabled()
    assert str(_als.simd_width()) in info["runtime"]["simd"]
    assert all(entry["internal_api"] for entry in info["blas"])
    assert lorank.show_config() is None
    out = capsys.readouterr().out
    assert f"lorank: {lorank.__version__}" in out and "simd: " in out and "compiler: " in out
