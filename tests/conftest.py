"""Fixtures shared by the kernel tests."""

import os
import sys

import pytest

# The numpy twins of the kernels (tests/_reference.py) import as `_reference`.
sys.path.insert(0, os.path.dirname(__file__))

from lorank import _als, _fill

# The compiled modules whose inner loops have AVX-512, AVX2 and SSE2 variants.
_SIMD_MODULES = (_als, _fill)


@pytest.fixture(params=[w for w in (16, 32, 64) if w <= _als.simd_width()],
                ids=lambda w: f"simd{w}")
def simd(request):
    """Run a kernel test with each vector-width variant this CPU can execute."""
    previous = [module._set_simd_width(request.param) for module in _SIMD_MODULES]
    yield request.param
    for module, width in zip(_SIMD_MODULES, previous):
        module._set_simd_width(width)
