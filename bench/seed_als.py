"""The seed's ALS in plain numpy: the reference the compiled ALS is measured against.

This is the algorithm of the blog post the project started from: no biases,
a plain ridge penalty ``reg``, and for every column then every row a gather of
the observed entries' fixed factors and a ``numpy.linalg.solve`` of the ridge
normal equations. It is kept here, unoptimized, as the baseline of
``bench_als_seed.py``.
"""

import numpy as np


def solve_side(indptr, indices, values, fixed, solved, reg):
    """For each j: solved[j] = argmin_x ‖values_j − F_j x‖² + reg ‖x‖², where F_j
    are the rows of ``fixed`` at j's observed indices (CSR/CSC slice j)."""
    eye = reg * np.eye(fixed.shape[1], dtype=fixed.dtype)
    for j in range(solved.shape[0]):
        lo, hi = indptr[j], indptr[j + 1]
        A_j = fixed[indices[lo:hi]]
        x_j = values[lo:hi]
        solved[j] = np.linalg.solve(A_j.T @ A_j + eye, A_j.T @ x_j)


def epoch(ratings, A, B, reg):
    """One ALS iteration in place: every column of B from A, then every row of A
    from B (the order lorank.ALS uses)."""
    csc, csr = ratings.csc, ratings.csr
    solve_side(csc.indptr, csc.indices, csc.values, A, B, reg)
    solve_side(csr.indptr, csr.indices, csr.values, B, A, reg)
