import sys

import pytest

import lorank
from lorank._kernels import _openmp


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenMP is required on Linux only")
def test_openmp_enabled_on_linux():
    # A Linux build without OpenMP would run every prange on one thread.
    assert lorank.openmp_enabled() is True


def test_omp_max_threads_is_positive():
    n = _openmp.omp_max_threads()
    assert isinstance(n, int) and n >= 1
    if not lorank.openmp_enabled():
        assert n == 1
