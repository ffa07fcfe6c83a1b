"""The one rule for thread counts, and BLAS kept single-threaded around kernels."""

import contextlib
import functools
import os

__all__ = ["effective_n_threads", "max_threads", "single_threaded_blas"]

#: The largest thread count accepted on any machine; a machine with more usable
#: cores accepts up to its core count (see :func:`max_threads`).
MAX_THREADS = 256


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def max_threads():
    """The largest accepted thread count: ``MAX_THREADS`` (256) or the usable
    cores, whichever is larger."""
    return max(MAX_THREADS, _usable_cores())


def effective_n_threads(n_threads=None, *, name="n_threads"):
    """Resolve a user's ``n_threads`` to a positive thread count.

    ``None`` means ``LORANK_NUM_THREADS`` when set, else the cores this process
    may run on (its CPU affinity, not the machine's core count). A negative
    count counts back from the usable cores: ``-1`` is all of them, ``-2`` all
    but one (never fewer than one). ``0`` is an error, and so is a count above
    :func:`max_threads` (256, or the usable cores on a larger machine): more
    threads than that only oversubscribe the cores, and a huge count would
    exhaust the OpenMP runtime. Every thread count lorank uses (parameters,
    ``LORANK_NUM_THREADS``, ``--threads``, a model file's parameters) passes
    through this rule; ``name`` is the parameter's name in error messages.

    Examples
    --------
    >>> from lorank._threads import effective_n_threads
    >>> effective_n_threads(3)
    3
    >>> effective_n_threads(-1) == effective_n_threads(None) or "LORANK_NUM_THREADS" in os.environ
    True
    """
    if n_threads is None:
        env = os.environ.get("LORANK_NUM_THREADS")
        if env is None or env.strip() == "":
            return _usable_cores()
        try:
            n_threads = int(env)
        except ValueError:
            raise ValueError(
                f"LORANK_NUM_THREADS must be an integer, got {env!r}"
            ) from None
        source = "LORANK_NUM_THREADS"
    else:
        source = name
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not (
        hasattr(n_threads, "__index__")
    ):
        raise TypeError(f"{source} must be an integer or None, got {n_threads!r}")
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError(
            f"{source}=0 is not a thread count: use None or -1 for all usable "
            "cores, or a positive count"
        )
    if n_threads < 0:
        return max(1, _usable_cores() + 1 + n_threads)
    limit = max_threads()
    if n_threads > limit:
        raise ValueError(
            f"{source}={n_threads} is more threads than lorank runs (at most {limit}; "
            f"this process may use {_usable_cores()} cores): use None or -1 for all "
            "usable cores, or a smaller count"
        )
    return n_threads


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS to one thread inside the block.

    Kernels that call BLAS/LAPACK from inside an OpenMP parallel region use
    this so OpenBLAS threads and OpenMP threads never oversubscribe the cores.
    """
    with _controller().limit(limits=1, user_api="blas"):
        yield
