# The vector width of the C inner loops (_als_gram.h, _fill_pass.h), shared by the
# modules that include this file. Included, not cimported: each module keeps its
# own copy of the setting.

cdef extern from "_als_gram.h" nogil:
    int lorank_simd_width()

# Vector width (bytes) of the inner loops on this CPU, chosen once.
cdef int SIMD_WIDTH = lorank_simd_width()


def simd_width():
    """Bytes per vector in this module's inner loops on this CPU (64, 32 or 16)."""
    return SIMD_WIDTH


def _set_simd_width(int width):
    """Use the ``width``-byte variant (16, or up to what the CPU runs); for tests
    of the narrower variants. Returns the previous width."""
    global SIMD_WIDTH
    if width not in (16, 32, 64) or width > lorank_simd_width():
        raise ValueError(f"width must be 16, 32 or 64 and at most "
                         f"{lorank_simd_width()} on this CPU, got {width}")
    previous, SIMD_WIDTH = SIMD_WIDTH, width
    return previous
