"""
Completing a smooth function: spectral versus random start
==========================================================

The seed's example: sin(200x + 75y) + sin(50x) + cos(100y) on a 100 × 100 grid
is a rank-4 matrix. ALS sees 2,000 of its 10,000 entries. From the spectral
start (a randomized SVD of the observed entries) it converges to the exact
matrix; from a random start it can stall on a plateau for a long time.
"""

import matplotlib.pyplot as plt
import numpy as np

import lorank

x = np.linspace(0, 1, 100)
F = np.sin(200 * x[:, None] + 75 * x) + np.sin(50 * x[:, None]) + np.cos(100 * x)
rng = np.random.default_rng(0)
keep = rng.choice(F.size, 2000, replace=False)
rows, cols = np.unravel_index(keep, F.shape)
R = lorank.Ratings(rows, cols, F.flat[keep], shape=F.shape)


def error_curve(init, seed):
    errors = []

    def record(model, it):
        Z = model.to_lowrank().to_dense()
        errors.append(np.mean((Z - F) ** 2))

    lorank.ALS(rank=4, reg=1e-4, weighted_reg=False, biases=False, init=init,
               max_iter=40, tol=0, random_state=seed, callback=record).fit(R)
    return errors


fig, ax = plt.subplots(figsize=(6, 4))
def draw(errors, **style):
    ax.semilogy(np.arange(1, len(errors) + 1), errors, **style)


draw(error_curve("svd", 0), lw=2, label="spectral start")
for seed in range(2):
    draw(error_curve("random", seed), lw=1, alpha=0.7,
         label="random start" if seed == 0 else None, color="C1")
ax.set_xlabel("ALS iteration")
ax.set_ylabel("mean squared error over all 10,000 entries")
ax.set_title("Rank-4 completion from 20% of the entries")
ax.legend()
fig.tight_layout()
plt.show()
