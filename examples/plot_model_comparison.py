"""
Comparing models against the noise floor
========================================

On synthetic ratings drawn from a known model (rank 5 plus user and item
biases, Gaussian noise, rounded and clipped to 1-5 stars), the best any model
can do is the expected rating given the true signal,
``lorank.datasets.best_prediction``: its RMSE on the held-out ratings is the
noise floor. Each model's held-out RMSE is measured against it, on the same
split. The bias-only ``Baseline`` is what the factor models have to beat.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

import lorank

R, _, truth = lorank.datasets.synthetic(n_rows=2000, n_cols=500, nnz=60_000, rank=5,
                                        random_state=0, return_truth=True)
train, test = R.split(test_size=0.1, random_state=0)
rows, cols, values = test.coo()


def rmse(prediction):
    return float(np.sqrt(np.mean((prediction - values) ** 2)))


floor = rmse(lorank.datasets.best_prediction(truth, rows, cols))

models = {
    "Baseline": lorank.Baseline(),
    "SoftImpute\n(20 iterations)": lorank.SoftImpute(5, max_iter=20, random_state=0),
    "ALS\n(reg=1.0)": lorank.ALS(5, reg=1.0, random_state=0),
    "ALS\n(defaults)": lorank.ALS(5, random_state=0),
    "BayesianALS\n(40 sweeps)": lorank.BayesianALS(5, n_samples=40, burn_in=10, random_state=0),
}
scores, seconds = {}, {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(train)
    seconds[name] = time.perf_counter() - start
    scores[name] = rmse(model.predict_positions(rows, cols))
    print(f"{name.replace(chr(10), ' '):26s} RMSE {scores[name]:.4f}  "
          f"(floor + {scores[name] - floor:.4f})  fit {seconds[name]:.1f} s")
print(f"noise floor                RMSE {floor:.4f}")

fig, ax = plt.subplots(figsize=(7, 4))
names = list(scores)
bars = ax.bar(names, [scores[n] for n in names], color="tab:blue")
ax.axhline(floor, color="black", ls="--", label=f"noise floor {floor:.3f} (best_prediction)")
for bar, name in zip(bars, names):
    ax.annotate(f"{scores[name]:.3f}\n{seconds[name]:.1f} s",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center", va="bottom", fontsize=8)
low = floor - 0.05
ax.set_ylim(low, max(scores.values()) + 0.06)
ax.set_ylabel("held-out RMSE (stars)")
ax.set_title("Five models on one synthetic data set (rank 5, 60k ratings)")
ax.tick_params(axis="x", labelsize=8)
ax.legend(loc="upper right")
fig.tight_layout()
plt.show()
