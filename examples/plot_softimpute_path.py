"""
Choosing λ on a soft-impute path
================================

Soft-impute's nuclear-norm penalty λ trades fit for rank. A warm-started path of
λ values below ``lambda_max`` (where the solution is zero) costs little more than
one fit; the held-out RMSE along it picks λ.
"""

import matplotlib.pyplot as plt
import numpy as np

import lorank

R, floor = lorank.datasets.synthetic(n_rows=1500, n_cols=400, nnz=40_000, random_state=0)
train, valid = R.split(test_size=0.1, random_state=0)
lam_max = lorank.lambda_max(train, biases=True)
regs = lam_max * np.geomspace(0.5, 0.02, 8)
models, valid_rmse = lorank.soft_impute_path(train, regs, rank=20, validation=valid,
                                             biases=True, max_iter=20, random_state=0)
best = int(np.argmin(valid_rmse))

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogx(regs / lam_max, valid_rmse, "o-", label="held-out RMSE")
ax.axhline(floor, color="0.5", ls="--", label=f"noise floor {floor:.3f}")
ax.plot(regs[best] / lam_max, valid_rmse[best], "r*", ms=14, label=f"best λ = {regs[best]:.3g}")
ax.invert_xaxis()
ax.set_xlabel("λ / λ_max")
ax.set_ylabel("RMSE")
ax.set_title("Soft-impute path, warm-started")
ax.legend()
fig.tight_layout()
plt.show()
