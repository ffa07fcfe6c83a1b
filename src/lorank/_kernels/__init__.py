"""The compiled kernels (Cython, fused float32/float64, OpenMP ``prange``) and their C headers."""
