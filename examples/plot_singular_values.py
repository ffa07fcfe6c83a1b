"""
Singular values of a low-rank matrix
====================================

A random 300 × 200 matrix of rank 10 has ten singular values of order one and
190 at the level of rounding error: the numerical rank is the count above
``max(m, n) · eps · s[0]``. Adding noise lifts the tail to the noise level, and
the rank becomes a choice of threshold.
"""

import matplotlib.pyplot as plt
import numpy as np

import lorank

rng = np.random.default_rng(0)
X = rng.standard_normal((300, 10)) @ rng.standard_normal((10, 200))
noisy = X + 1e-3 * rng.standard_normal(X.shape)

fig, ax = plt.subplots(figsize=(6, 4))
for A, label in ((X, "rank 10, exact"), (noisy, "rank 10 + noise 1e-3")):
    s = lorank.svd(A)[1]
    ax.semilogy(np.arange(1, s.size + 1), s, ".", label=f"{label}: numerical rank "
                f"{lorank.numerical_rank(s, shape=A.shape)}")
ax.axvline(10.5, color="0.6", lw=0.8, ls="--")
ax.set_xlabel("index k")
ax.set_ylabel("singular value $s_k$")
ax.set_title("The cliff after the rank")
ax.legend()
fig.tight_layout()
plt.show()
