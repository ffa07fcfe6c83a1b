"""``lorank.show_config()``: the build and runtime facts a bug report needs."""

import platform
import sys

__all__ = ["show_config"]

_SIMD_NAMES = {64: "AVX-512 (64-byte vectors)", 32: "AVX2 + FMA (32-byte vectors)",
               16: "SSE2 / baseline (16-byte vectors)"}


def _config():
    import numpy
    import scipy
    from threadpoolctl import threadpool_info

    from . import __version__, _build_info
    from ._kernels import _als, _openmp
    from ._threads import effective_n_threads

    blas = [
        {key: info.get(key) for key in
         ("internal_api", "version", "num_threads", "threading_layer", "architecture",
          "filepath")}
        for info in threadpool_info() if info.get("user_api") == "blas"
    ]
    return {
        "lorank": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "build": {
            "compiler": f"{_build_info.COMPILER} {_build_info.COMPILER_VERSION}",
            "cython": _build_info.CYTHON_VERSION,
            "build type": _build_info.BUILD_TYPE,
            "host cpu": _build_info.HOST_CPU,
            "openmp": _build_info.OPENMP,
        },
        "runtime": {
            "simd": _SIMD_NAMES.get(_als.simd_width(), str(_als.simd_width())),
            "openmp threads (max)": _openmp.omp_max_threads(),
            "lorank threads (n_threads=None)": effective_n_threads(None),
        },
        "blas": blas,
    }


def show_config(as_dict=False):
    """Print how lorank was built and what it runs on (paste it into bug reports).

    Reports the compiler, Cython version and whether OpenMP was found at build
    time; at run time, the SIMD variant the kernels chose for this CPU, the
    thread counts, and the BLAS libraries numpy and scipy loaded (from
    threadpoolctl).

    Parameters
    ----------
    as_dict : bool, default=False
        Return the facts as a dict instead of printing them.

    Returns
    -------
    dict or None

    Examples
    --------
    >>> import lorank
    >>> info = lorank.show_config(as_dict=True)
    >>> sorted(info["build"])
    ['build type', 'compiler', 'cython', 'host cpu', 'openmp']
    """
    info = _config()
    if as_dict:
        return info
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        elif isinstance(value, list):
            print(f"{key}:")
            for entry in value or [{"none": "no BLAS loaded yet"}]:
                print("  - " + ", ".join(f"{k}={v}" for k, v in entry.items()))
        else:
            print(f"{key}: {value}")
    return None
