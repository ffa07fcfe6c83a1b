"""ALS on a Dask cluster (``lorank.distributed.ALS``) vs single-machine ``lorank.ALS``.

Data: Netflix-shaped synthetic ratings (``netflix_like(nnz)``: the Netflix shape
scaled by sqrt(nnz / 100M) per side), rank 10, float32, biases, the default reg,
``init="random"`` (an epoch costs the same whatever the start), tol=0, ITERS
iterations; the fastest and the median epoch are kept (``history_["seconds"]``:
both half-steps plus the training-loss bookkeeping, as for lorank.ALS).

Configurations, all on the same 2 cores: single-machine ``lorank.ALS`` with 2
OpenMP threads; a LocalCluster of 1 worker process x 2 threads; 2 worker
processes x 1 thread. The distributed model runs default ``n_blocks`` (2 per
worker thread) and ``n_threads=None`` (1 OpenMP thread per block task, the
worker threads run blocks side by side). ``setup_s`` is the fit time outside
the epochs (blocks built on the workers from a Ratings sent in the graph).

Bytes per half-step, averaged over the half-steps after iteration 1 (MB = 1e6
bytes). ``fixed_MB``: the broadcast factor (the padded storage, m x 16 or n x 16
float32; the average of the two). ``out_MB``: measured, the workers'
``transfer_outgoing_bytes_total`` (Dask's counter of data a worker serves): the
solved rows + sse/rsum/status handed to the client (fixed_MB + 20 bytes per
solved row) and the copies of the fixed factor served to other workers. The
fixed factor travels as a task result: its array rides in the task through the
scheduler to one worker (not counted by Dask) and the other workers fetch it
from a holder (counted). ``moved_MB`` = out_MB + fixed_MB: everything that
crossed a process boundary. ``peer_in_MB``: data fetched between workers
(``transfer_incoming_log``): the factor's (workers - 1) copies; more would mean
that blocks moved. (Until commit "the fixed factor travels as a task result"
the factor went by ``scatter(broadcast=True)``, whose copies Dask does not log
as incoming: the recorded full-size run is from then; the bytes are the same.)
``solve_Mratings_s``: ratings per second per thread inside the
block tasks (task-stream compute time; a rating is visited twice per epoch;
for lorank.ALS from the epoch time); the projection in docs/distributed.md
uses it. ``design_b_MB``: what design (b) would move per item half-step on the
same row blocks: each block's partial normal equations (d(d+1)/2 + d + 1
float64 per distinct item it touches, d = 11) summed to the item blocks,
counted from the data.
"""

import time

import numpy as np

from _common import epoch_seconds, load1, netflix_like

SIZES = {"small": 300_000, "full": 10_000_000}
ITERS = 4
RANK = 10

NOTES = (
    "epoch_s = fastest epoch, median_s = median epoch; setup_s = fit time outside the "
    "epochs; MB = 1e6 bytes per half-step (average of the item and user half-steps "
    "after iteration 1); load1 = 1-minute load average after the fit (2-core machine "
    "shared with other workers)."
)


def parameters(size):
    m, n, nnz = netflix_like(SIZES[size])
    return dict(shape=(m, n), nnz=nnz, rank=RANK, dtype="float32", iterations=ITERS,
                init="random", biases=True, reg=1.0, weighted_reg=0.5)


def _counters(dask_worker):
    incoming = sum(entry["total"] for entry in dask_worker.transfer_incoming_log)
    return dask_worker.transfer_outgoing_bytes_total, incoming


def _design_b_bytes(R, bounds, d):
    """Bytes of partial normal equations per item half-step in design (b)."""
    per_item = (d * (d + 1) // 2 + d + 1) * 8
    csr = R.csr
    touched = 0
    for lo, hi in bounds:
        touched += np.unique(csr.indices[csr.indptr[lo]:csr.indptr[hi]]).size
    return touched * per_item


def _distributed_row(R, n_workers, threads_per_worker, m, n):
    import distributed

    import lorank.distributed

    d = RANK + 1
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                       processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    snapshots = {}

    def snapshot(model, it):
        snapshots[it] = client.run(_counters)

    try:
        model = lorank.distributed.ALS(client, RANK, init="random", max_iter=ITERS, tol=0,
                                       random_state=0, callback=snapshot)
        with distributed.get_task_stream(client=client) as stream:
            start = time.perf_counter()
            model.fit(R)
            total = time.perf_counter() - start
        fast, median = epoch_seconds(model)
        first, last = snapshots[1], snapshots[ITERS]
        half_steps = 2 * (ITERS - 1)
        out = sum(last[w][0] - first[w][0] for w in last if w in first) / half_steps
        peer = sum(last[w][1] - first[w][1] for w in last if w in first) / half_steps
        solve = sum(s["stop"] - s["start"] for task in stream.data
                    if str(task["key"]).startswith("_solve")
                    for s in task["startstops"] if s["action"] == "compute")
        rate = 2 * R.nnz * ITERS / solve / 1e6
        row_bounds = model._blocks.row_bounds
    finally:
        client.close()
        cluster.close()
    a_bytes = m * 16 * 4
    b_bytes = n * 16 * 4
    return dict(
        config=f"{n_workers} worker x {threads_per_worker} thread",
        workers=n_workers, threads=n_workers * threads_per_worker,
        blocks=len(row_bounds), epoch_s=fast, median_s=median,
        setup_s=total - float(np.sum(model.history_["seconds"])),
        fixed_MB=(a_bytes + b_bytes) / 2 / 1e6, out_MB=out / 1e6,
        moved_MB=(out + (a_bytes + b_bytes) / 2) / 1e6, peer_in_MB=peer / 1e6,
        solve_Mratings_s=rate,
        design_b_MB=_design_b_bytes(R, row_bounds, d) / 1e6, load1=load1(),
    )


def run(size, threads):
    import warnings

    from lorank.models.als import ALS
    from lorank.datasets import synthetic

    m, n, nnz = netflix_like(SIZES[size])
    R, _ = synthetic(m, n, nnz, n_threads=threads)
    local = ALS(RANK, init="random", max_iter=ITERS, tol=0, n_threads=2, random_state=0).fit(R)
    fast, median = epoch_seconds(local)
    rows = [dict(config="lorank.ALS, 2 threads", workers=0, threads=2, blocks=1,
                 epoch_s=fast, median_s=median, setup_s=None,
                 fixed_MB=(m + n) * 16 * 4 / 2 / 1e6, out_MB=0.0, moved_MB=0.0, peer_in_MB=0.0,
                 solve_Mratings_s=2 * nnz / fast / 2 / 1e6, design_b_MB=None, load1=load1())]
    with warnings.catch_warnings():
        # The Ratings travels in the task graph once (~16 bytes per rating).
        warnings.filterwarnings("ignore", message="Sending large graph")
        for n_workers, per_worker in ((1, 2), (2, 1)):
            rows.append(_distributed_row(R, n_workers, per_worker, m, n))
    return rows
