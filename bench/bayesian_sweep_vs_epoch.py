"""One Gibbs sweep vs one ALS epoch at the Netflix shape: the same compiled half-step,
sampled (prior, sample_scale) or not, both sides, 3 repeats alternating, 2 threads, float32,
rank 10. Run: python bench/bayesian_sweep_vs_epoch.py (about 2 GB, minutes)."""
import time, resource, numpy as np, lorank
from lorank._kernels import _als
from lorank.models.als import _factor_storage
from lorank._threads import single_threaded_blas
from lorank.models.bayesian import draw_normal_wishart, normal_wishart_posterior, sweep_rng
t0 = time.perf_counter()
R, _ = lorank.datasets.synthetic(n_threads=2, random_state=0)
print("generated", R.shape, R.nnz, round(time.perf_counter() - t0, 1), "s", flush=True)
m, n = R.shape; rank = 10; d = 11
rng = np.random.default_rng(0)
A = _factor_storage(m, d, np.float32); B = _factor_storage(n, d, np.float32)
A[:, :d] = rng.standard_normal((m, d)) * 0.3; B[:, :d] = rng.standard_normal((n, d)) * 0.3
mean = float(R.csr.values.mean(dtype=np.float64))
def step(view, fixed, solved, sample, sweep, kind):
    size = solved.shape[0]
    sse, rsum, st = np.empty(size), np.empty(size), np.empty(size, np.int32)
    kw = {}
    lam = np.full(size, 1.0) * np.sqrt(np.diff(view.indptr))
    if sample:
        mu, Lam = draw_normal_wishart(sweep_rng(0, sweep, kind), *normal_wishart_posterior(solved[:, :d]))
        kw = dict(prior=Lam / 1.6, prior_h=Lam @ mu / 1.6, sample_scale=1.6 ** -0.5, seed=0, stream=2 * sweep + kind)
        lam = np.zeros(size)
    with single_threaded_blas():
        _als.half_step(view.indptr, view.indices, view.values, fixed, solved, mean, lam, True, rank, sse, rsum, st, 2, **kw)
als, gibbs = [], []
for rep in range(3):
    for sample, out in ((False, als), (True, gibbs)):
        t = time.perf_counter()
        step(R.csc, A, B, sample, rep + 1, 0)
        step(R.csr, B, A, sample, rep + 1, 1)
        out.append(time.perf_counter() - t)
    print("rep", rep, "als epoch", round(als[-1], 2), "gibbs sweep", round(gibbs[-1], 2), "ratio", round(gibbs[-1] / als[-1], 2), "load", __import__("os").getloadavg()[0], flush=True)
print("median ratio", round(np.median(np.array(gibbs) / np.array(als)), 3), "min ratio", round(min(gibbs) / min(als), 3),
      "peak rss GB", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))
