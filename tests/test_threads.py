"""The one thread-count rule, and BLAS limited to one thread around kernels."""

import os

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl sees it)
from threadpoolctl import threadpool_info, threadpool_limits

from lorank._threads import effective_n_threads, single_threaded_blas


@pytest.fixture
def four_cores(monkeypatch):
    """Pretend the process may run on 4 cores, with no environment override."""
    monkeypatch.delenv("LORANK_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    return 4


def test_none_is_the_affinity_count(monkeypatch):
    monkeypatch.delenv("LORANK_NUM_THREADS", raising=False)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert effective_n_threads(None) == expected
    assert effective_n_threads() == expected


def test_none_follows_affinity_not_cpu_count(four_cores, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert effective_n_threads(None) == four_cores


def test_positive_counts_are_kept(four_cores):
    assert effective_n_threads(1) == 1
    assert effective_n_threads(3) == 3
    assert effective_n_threads(np.int64(2)) == 2
    # More threads than cores is the user's choice, not an error.
    assert effective_n_threads(8) == 8


@pytest.mark.parametrize("n, expected", [(-1, 4), (-2, 3), (-4, 1), (-5, 1), (-100, 1)])
def test_negative_counts_back_from_usable_cores(four_cores, n, expected):
    assert effective_n_threads(n) == expected


def test_environment_overrides_the_default(four_cores, monkeypatch):
    monkeypatch.setenv("LORANK_NUM_THREADS", "3")
    assert effective_n_threads(None) == 3
    monkeypatch.setenv("LORANK_NUM_THREADS", "-2")
    assert effective_n_threads(None) == 3
    monkeypatch.setenv("LORANK_NUM_THREADS", "  ")
    assert effective_n_threads(None) == four_cores


def test_explicit_count_beats_environment(four_cores, monkeypatch):
    monkeypatch.setenv("LORANK_NUM_THREADS", "3")
    assert effective_n_threads(2) == 2
    assert effective_n_threads(-1) == four_cores


def test_zero_is_an_error(four_cores):
    with pytest.raises(ValueError, match=r"n_threads=0 is not a thread count"):
        effective_n_threads(0)


@pytest.mark.parametrize("value", ["0", "two", "1.5"])
def test_bad_environment_value(four_cores, monkeypatch, value):
    monkeypatch.setenv("LORANK_NUM_THREADS", value)
    with pytest.raises(ValueError, match="LORANK_NUM_THREADS"):
        effective_n_threads(None)


@pytest.mark.parametrize("value", [True, False, 2.0, 1.5, "2"])
def test_non_integers_are_type_errors(value):
    with pytest.raises(TypeError, match=r"n_threads must be an integer or None, got"):
        effective_n_threads(value)


def _blas_threads():
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


def test_single_threaded_blas_limits_and_restores():
    if not _blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library")
    # Start from 2 BLAS threads so both the limit and the restore are visible.
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert all(n == 2 for n in before)
        with single_threaded_blas():
            inside = _blas_threads()
            assert inside and all(n == 1 for n in inside)
        assert _blas_threads() == before


# ---------------------------------------------------------------- the upper bound
# Regression: n_threads=10**6 segfaulted inside the OpenMP runtime and 2**31
# raised OverflowError at the kernel call; every source of a count now meets
# one bound in effective_n_threads.

@pytest.mark.parametrize("value", [257, 10**6, 2**31, 2**63, np.int64(2**40)])
def test_huge_counts_are_value_errors_naming_the_value(four_cores, value):
    with pytest.raises(ValueError, match=rf"n_threads={int(value)} is more threads than "
                                         r"lorank runs \(at most 256"):
        effective_n_threads(value)


def test_the_bound_is_the_core_count_on_a_larger_machine(monkeypatch):
    monkeypatch.delenv("LORANK_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(300)), raising=False)
    assert effective_n_threads(300) == 300
    assert effective_n_threads(None) == 300
    with pytest.raises(ValueError, match=r"at most 300"):
        effective_n_threads(301)


def test_the_bound_itself_is_accepted(four_cores):
    assert effective_n_threads(256) == 256


@pytest.mark.parametrize("value", ["1000000", str(2**31)])
def test_huge_environment_counts_are_value_errors(four_cores, monkeypatch, value):
    monkeypatch.setenv("LORANK_NUM_THREADS", value)
    with pytest.raises(ValueError, match=rf"LORANK_NUM_THREADS={value} is more threads"):
        effective_n_threads(None)


def test_the_parameter_name_is_in_the_message(four_cores):
    with pytest.raises(ValueError, match=r"--threads=1000 is more threads"):
        effective_n_threads(1000, name="--threads")


@pytest.mark.parametrize("make", [
    lambda n: __import__("lorank").ALS(2, n_threads=n, max_iter=1),
    lambda n: __import__("lorank").SoftImpute(2, n_threads=n, max_iter=1),
])
@pytest.mark.parametrize("value", [10**6, 2**31])
def test_models_refuse_huge_counts_before_any_kernel(four_cores, make, value):
    import lorank

    R = lorank.Ratings.from_dense(np.arange(12.0).reshape(3, 4))
    with pytest.raises(ValueError, match=rf"n_threads={value} is more threads"):
        make(value).fit(R)


@pytest.mark.parametrize("value", [10**6, 2**31])
def test_kernel_callers_refuse_huge_counts(four_cores, value):
    import scipy.sparse as sp

    import lorank

    L = lorank.LowRank(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=rf"n_threads={value}"):
        L.entries([0], [0], n_threads=value)
    A = sp.random(20, 10, density=0.3, random_state=0, format="csr")
    with pytest.raises(ValueError, match=rf"n_threads={value}"):
        lorank.randomized_svd(A, 2, random_state=0, n_threads=value)
    with pytest.raises(ValueError, match=rf"n_threads={value}"):
        lorank.datasets.synthetic(20, 10, 60, rank=2, n_threads=value)


@pytest.mark.parametrize("value", ["1000000", str(2**31), "0"])
def test_cli_threads_is_checked_by_the_same_rule(tmp_path, capsys, value):
    from lorank.cli import main

    data = tmp_path / "r.csv"
    data.write_text("1,1,5\n1,2,3\n2,1,4\n2,2,1\n")
    assert main(["fit", str(data), "--threads", value, "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert f"argument --threads: --threads={value}" in err
    assert not (tmp_path / "m.npz").exists()
