"""ALS at the Netflix size: seconds per epoch and peak memory of the whole process.

The fit runs in a fresh subprocess (``python bench/bench_als_netflix.py --child
SIZE THREADS``) so ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` covers
everything: interpreter, imports, the synthetic ratings (CSR + CSC) and the
fit. ALS defaults (rank 10, biases under the Baseline's dampings, spectral init,
float32) except reg=1.0 (λ ∝ |Ω|^0.5; the default reg="auto" adds its holdout
path, bench_density's measure), max_iter=5, tol=0, random_state=0. The epoch time
does not depend on reg.
"""

import json
import os
import subprocess
import sys

from _common import NETFLIX_SHAPE

SIZES = {"small": (4_802, 17_770, 1_004_805), "full": NETFLIX_SHAPE}
MAX_ITER = 5

NOTES = (
    "seconds: generate = synthetic() (CSR + CSC), init = fit time outside the epochs "
    "(the Baseline fit of the biases' dampings + randomized SVD start), epoch k from history_['seconds'] (includes "
    "the training-loss pass). peak_rss_mb = ru_maxrss of the fresh process when the "
    "phase ends. load1 = 1-minute load average at the end of the phase (2-core machine "
    "shared with other workers). Targets: <= 1.5 s per epoch, <= 4096 MB peak."
)


def parameters(size):
    m, n, nnz = SIZES[size]
    return dict(shape=f"{m}x{n}", nnz=nnz, rank=10, dtype="float32", max_iter=MAX_ITER,
                tol=0, init="svd", biases=True, reg=1.0, weighted_reg=0.5)


def _child(size, threads):
    import resource
    import time

    import numpy as np

    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    def peak_mb():
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kB on Linux

    def load1():
        return round(os.getloadavg()[0], 2)

    m, n, nnz = SIZES[size]
    rows = []
    start = time.perf_counter()
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    rows.append(dict(phase="generate", seconds=time.perf_counter() - start,
                     peak_rss_mb=peak_mb(), train_rmse=None, load1=load1()))
    after = []

    def record(model, it):
        after.append((peak_mb(), load1()))

    model = ALS(reg=1.0, max_iter=MAX_ITER, tol=0, n_threads=threads,
                random_state=0, callback=record)
    start = time.perf_counter()
    model.fit(R)
    total = time.perf_counter() - start
    epochs = model.history_["seconds"]
    rows.append(dict(phase="init", seconds=total - sum(epochs), peak_rss_mb=None,
                     train_rmse=None, load1=None))
    for k, (sec, rmse, (peak, load)) in enumerate(
            zip(epochs, model.history_["train_rmse"], after), start=1):
        rows.append(dict(phase=f"epoch {k}", seconds=sec, peak_rss_mb=peak,
                         train_rmse=rmse, load1=load))
    rows.append(dict(phase="fit total", seconds=total, peak_rss_mb=peak_mb(),
                     train_rmse=None, load1=load1()))
    rows.append(dict(phase="fastest epoch", seconds=float(np.min(epochs)),
                     peak_rss_mb=None, train_rmse=None, load1=None))
    for row in rows:
        row.update(shape=f"{m}x{n}", nnz=nnz, threads=threads)
    return rows


def run(size, threads):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", size, str(threads)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]))))
        sys.exit()
    sys.exit("run it through bench/run.py: python bench/run.py als_netflix [--size small]")
