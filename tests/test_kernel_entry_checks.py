"""Every compiled entry point checks the shapes and lengths it trusts (O(1)).

The kernels run with bounds checks off; before these checks a wrong call wrote
past its buffers. Each case calls one entry point with one thing wrong and
expects a ValueError naming it, raised before any loop runs. The calls that
are right except for that one thing are built by ``good_*`` helpers, and each
helper is first run as given to show it is a valid call.
"""

import numpy as np
import pytest

from lorank._kernels import _fill, _sparse, _synthetic, _topk

I32, I64, F64 = np.int32, np.int64, np.float64


def csr(m=4, n=3):
    """A small CSR pattern: every row has columns 0 and 2."""
    indptr = np.arange(0, 2 * m + 1, 2, dtype=I64)
    indices = np.tile(np.array([0, 2], I32), m)
    return indptr, indices, np.ones(2 * m)


# ---------------------------------------------------------------- _sparse

def gather_dot(**bad):
    a = dict(left=np.ones((4, 2)), right=np.ones((3, 2)), rows=np.array([0, 1], I32),
             cols=np.array([2, 0], I32), out=np.empty(2), n_threads=1)
    a.update(bad)
    _sparse.gather_dot(a["left"], a["right"], a["rows"], a["cols"], a["out"], a["n_threads"])


def cp_entries(**bad):
    a = dict(factors=[np.ones((4, 2)), np.ones((3, 2)), np.ones((2, 2))],
             biases=[np.ones(4), np.ones(3), np.ones(2)],
             index=[np.array([0, 3], I32), np.array([2, 0], I32), np.array([1, 1], I32)],
             out=np.empty(2), n_threads=1)
    a.update(bad)
    _sparse.cp_entries(a["factors"], a["biases"], a["index"], 0.5, a["out"], a["n_threads"])
    return a["out"]


def csr_matmat(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr, indices=indices, data=data, M=np.ones((3, 2)),
             out=np.empty((4, 2)), n_threads=1)
    a.update(bad)
    _sparse.csr_matmat(a["indptr"], a["indices"], a["data"], a["M"], a["out"], a["n_threads"])
    return a["out"]


def csr_rmatmat(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr, indices=indices, data=data, Q=np.ones((4, 2)),
             out=np.empty((3, 2)), n_blocks=2, n_threads=1)
    a.update(bad)
    _sparse.csr_rmatmat(a["indptr"], a["indices"], a["data"], a["Q"], a["out"], a["n_blocks"],
                        a["n_threads"])
    return a["out"]


def coo_compress(**bad):
    a = dict(major=np.array([1, 0, 1], I32), minor=np.array([0, 1, 2], I32),
             values=np.ones(3), indptr=np.empty(3, I64), out_indices=np.empty(3, I32),
             out_values=np.empty(3), n_chunks=1)
    a.update(bad)
    _sparse.coo_compress(a["major"], a["minor"], a["values"], a["indptr"], a["out_indices"],
                         a["out_values"], a["n_chunks"])


def compressed_transpose(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr, indices=indices, values=data, out_indptr=np.empty(4, I64),
             out_indices=np.empty(8, I32), out_values=np.empty(8), n_chunks=1)
    a.update(bad)
    _sparse.compressed_transpose(a["indptr"], a["indices"], a["values"], a["out_indptr"],
                                 a["out_indices"], a["out_values"], a["n_chunks"])


def residual(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr, indices=indices, values=data, left=np.ones((4, 2)),
             right=np.ones((3, 2)), out=np.empty(8), n_threads=1)
    a.update(bad)
    _sparse.residual(a["indptr"], a["indices"], a["values"], a["left"], a["right"], a["out"],
                     a["n_threads"])


def scale_sums(**bad):
    indptr, indices, _ = csr()
    a = dict(indptr=indptr, indices=indices, minor_scale=np.array([10.0, 0.0, 100.0]),
             out=np.empty(4), n_threads=1)
    a.update(bad)
    _sparse.scale_sums(a["indptr"], a["indices"], a["minor_scale"], a["out"], a["n_threads"])
    return a["out"]


def first_duplicate(**bad):
    indptr, indices, _ = csr()
    a = dict(indptr=indptr, indices=indices)
    a.update(bad)
    return _sparse.first_duplicate(a["indptr"], a["indices"])


def check_compressed(**bad):
    indptr, indices, _ = csr()
    a = dict(indptr=indptr, indices=indices)
    a.update(bad)
    return _sparse.check_compressed(a["indptr"], a["indices"], 3)


def merge_duplicates(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr.copy(), indices=indices.copy(), values=data.copy())
    a.update(bad)
    return _sparse.merge_duplicates(a["indptr"], a["indices"], a["values"], True)


# ---------------------------------------------------------------- _fill

STRIDE = 8  # one 64-byte vector of float64


def fill_gather(**bad):
    indptr, indices, data = csr()
    a = dict(indptr=indptr, indices=indices, values=data, T=np.ones((4, STRIDE)),
             scale=np.ones(STRIDE), O=np.ones((3, STRIDE)), out=np.empty((4, STRIDE)),
             sse=np.empty(4), n_threads=1)
    a.update(bad)
    _fill.gather(a["indptr"], a["indices"], a["values"], a["T"], a["scale"], a["O"],
                 a["out"], a["sse"], a["n_threads"])


def fill_scatter(**bad):
    indptr, indices, data = csr()  # other side: 4 rows of O, 3 targets
    a = dict(indptr=indptr, indices=indices, values=data, TD=np.ones((3, STRIDE)),
             O=np.ones((4, STRIDE)), chunks=np.array([0, 2, 4], I64),
             acc=np.empty((2, 3, STRIDE)), sse=np.empty(2), out=np.empty((3, STRIDE)),
             n_threads=1)
    a.update(bad)
    _fill.scatter(a["indptr"], a["indices"], a["values"], a["TD"], a["O"], a["chunks"],
                  a["acc"], a["sse"], a["out"], a["n_threads"])


# ---------------------------------------------------------------- _topk

def topk(**bad):
    a = dict(scores=np.arange(12.0).reshape(3, 4), excl_indptr=np.array([0, 1, 1, 2], I64),
             excl_indices=np.array([3, 0], I32), worst=False, out_idx=np.empty((3, 2), I32),
             out_val=np.empty((3, 2)), n_threads=1)
    a.update(bad)
    _topk.topk(a["scores"], a["excl_indptr"], a["excl_indices"], a["worst"], a["out_idx"],
               a["out_val"], a["n_threads"])
    return a["out_idx"]


def score_topk(**bad):
    a = dict(left=np.ones((5, 2)), right=np.ones((4, 2)),
             excl_indptr=np.zeros(6, I64), excl_indices=np.empty(0, I32), start=1, stop=5,
             block=2, worst=False, out_idx=np.empty((4, 2), I32), out_val=np.empty((4, 2)),
             n_threads=1)
    a.update(bad)
    _topk.score_topk(a["left"], a["right"], a["excl_indptr"], a["excl_indices"], a["start"],
                     a["stop"], a["block"], a["worst"], a["out_idx"], a["out_val"],
                     a["n_threads"])


# ---------------------------------------------------------------- _synthetic

def build_alias(**bad):
    a = dict(ids=np.arange(4, dtype=I32), weights=np.ones(4), prob=np.empty(4),
             alias=np.empty(4, I32))
    a.update(bad)
    return _synthetic.build_alias(a["ids"], a["weights"], a["prob"], a["alias"])


def generate(**bad):
    n_rows, n_cols, r = 3, 4, 2
    ids, weights = np.arange(n_cols, dtype=I32), np.ones(n_cols)
    prob, alias = np.empty(n_cols), np.empty(n_cols, I32)
    total = _synthetic.build_alias(ids, weights, prob, alias)
    a = dict(indptr=np.array([0, 2, 3, 5], I64), weights=weights, g_ids=ids, g_prob=prob,
             g_alias=alias, P=np.ones((n_rows, r)), Q=np.ones((n_cols, r)),
             row_bias=np.zeros(n_rows), col_bias=np.zeros(n_cols), indices=np.empty(5, I32),
             values=np.empty(5), sq_err=np.empty(n_rows), n_threads=1)
    a.update(bad)
    _synthetic.generate(a["indptr"], a["weights"], a["g_ids"], a["g_prob"], a["g_alias"], total,
                        a["P"], a["Q"], a["row_bias"], a["col_bias"], 3.0, 0.5, True, 1.0, 5.0,
                        1, 2, a["indices"], a["values"], a["sq_err"], a["n_threads"])
    return a["indices"]


VALID = [gather_dot, cp_entries, csr_matmat, csr_rmatmat, coo_compress, compressed_transpose, residual,
         scale_sums, first_duplicate, check_compressed, merge_duplicates, fill_gather, fill_scatter, topk,
         score_topk, build_alias, generate]


@pytest.mark.parametrize("call", VALID, ids=lambda f: f.__name__)
def test_the_reference_calls_are_valid(call):
    call()


def test_the_reference_calls_compute_what_they_should():
    np.testing.assert_array_equal(csr_matmat(), np.full((4, 2), 2.0))
    np.testing.assert_array_equal(cp_entries(), [5.5, 5.5])  # 0.5 + 3 biases + 2
    np.testing.assert_array_equal(csr_rmatmat(), [[4, 4], [0, 0], [4, 4]])
    np.testing.assert_array_equal(topk(), [[2, 1], [3, 2], [3, 2]])  # row 2 skips column 0
    np.testing.assert_array_equal(scale_sums(), np.full(4, 110.0))  # columns 0 and 2
    ind = generate()
    assert (0 <= ind).all() and (ind < 4).all()


CASES = [
    # (entry point, wrong argument(s), message)
    (gather_dot, dict(out=np.empty(1)), "rows and out lengths"),
    (gather_dot, dict(cols=np.array([0], I32)), "rows and cols lengths"),
    (gather_dot, dict(right=np.ones((3, 3))), "left and right columns"),
    (gather_dot, dict(n_threads=0), "n_threads must be >= 1"),
    (cp_entries, dict(out=np.empty(3)), r"index\[0\] and out lengths"),
    (cp_entries, dict(factors=[np.ones((4, 2)), np.ones((3, 3)), np.ones((2, 2))]),
     r"factors\[1\] columns"),
    (cp_entries, dict(biases=[np.ones(4), np.ones(2), np.ones(2)]),
     r"biases\[1\] and factors\[1\] rows"),
    (cp_entries, dict(index=[np.array([0, 3], I32)] * 2), "as many index arrays"),
    (cp_entries, dict(factors=[np.ones((4, 2))], index=[np.array([0, 1], I32)],
                      biases=None), "need 2..16 factors"),
    (cp_entries, dict(n_threads=0), "n_threads must be >= 1"),
    (csr_matmat, dict(out=np.empty((5, 2))), "indptr has length 5, expected 6"),
    (csr_matmat, dict(out=np.empty((4, 3))), "M and out columns"),
    (csr_matmat, dict(indices=np.zeros(5, I32), data=np.ones(5)), "not within the 5 stored"),
    (csr_matmat, dict(data=np.ones(7)), "indices and values have different lengths"),
    (csr_matmat, dict(indptr=np.empty(0, I64), out=np.empty((0, 2))), "expected 1"),
    (csr_rmatmat, dict(n_blocks=0), "n_blocks must be >= 1"),
    (csr_rmatmat, dict(n_threads=0), "n_threads must be >= 1"),
    (csr_rmatmat, dict(Q=np.ones((5, 2))), "indptr has length 5, expected 6"),
    (csr_rmatmat, dict(out=np.empty((3, 1))), "Q and out columns"),
    (coo_compress, dict(out_indices=np.empty(2, I32)), "same length"),
    (coo_compress, dict(values=np.ones(4)), "same length"),
    (coo_compress, dict(n_chunks=0), "n_chunks"),
    (coo_compress, dict(indptr=np.empty(0, I64)), "at least one entry"),
    (compressed_transpose, dict(out_values=np.empty(7)), "out_values"),
    (compressed_transpose, dict(indices=np.zeros(6, I32), values=np.ones(6)),
     "not within the 6 stored"),
    (compressed_transpose, dict(n_chunks=0), "n_chunks"),
    (residual, dict(out=np.empty(7)), "values and out lengths"),
    (residual, dict(left=np.ones((3, 2))), "expected 4"),
    (residual, dict(right=np.ones((3, 1))), "left and right columns"),
    (scale_sums, dict(out=np.empty(3)), "indptr has length 5, expected 4"),
    (scale_sums, dict(indices=np.zeros(5, I32)), "not within the 5 stored"),
    (scale_sums, dict(n_threads=0), "n_threads must be >= 1"),
    (first_duplicate, dict(indices=np.zeros(3, I32)), "not within the 3 stored"),
    (check_compressed, dict(indptr=np.array([0, 9], I64)), "runs from 0 to 9"),
    (merge_duplicates, dict(values=np.ones(3)), "different lengths"),
    (fill_gather, dict(indices=np.tile(np.array([0, 2], I64), 4)), "take int32 indices"),
    (fill_gather, dict(sse=np.empty(3)), "sse and T rows"),
    (fill_gather, dict(out=np.empty((3, STRIDE))), "out and T rows"),
    (fill_gather, dict(T=np.ones((5, STRIDE)), out=np.empty((5, STRIDE)), sse=np.empty(5)),
     "indptr has length 5, expected 6"),
    (fill_gather, dict(O=np.ones((3, 2 * STRIDE))), "64-byte vectors"),
    (fill_gather, dict(n_threads=-1), "n_threads must be >= 1"),
    (fill_scatter, dict(indices=np.tile(np.array([0, 2], I64), 4)), "take int32 indices"),
    (fill_scatter, dict(acc=np.empty((1, 3, STRIDE))), "acc has shape"),
    (fill_scatter, dict(acc=np.empty((2, 2, STRIDE))), "acc has shape"),
    (fill_scatter, dict(chunks=np.array([0, 2, 9], I64)), "chunks must run from 0 to the 4"),
    (fill_scatter, dict(chunks=np.array([0, 3, 1, 4], I64), acc=np.empty((3, 3, STRIDE)),
                        sse=np.empty(3)), "non-decreasing"),
    (fill_scatter, dict(sse=np.empty(1)), "sse has length 1"),
    (fill_scatter, dict(out=np.empty((2, STRIDE))), "out and TD rows"),
    (topk, dict(excl_indptr=np.array([0, 1, 1], I64)), "excl_indptr has length 3"),
    (topk, dict(out_val=np.empty((3, 3))), "must both be"),
    (topk, dict(out_idx=np.empty((2, 2), I32), out_val=np.empty((2, 2))), "must both be"),
    (topk, dict(n_threads=0), "n_threads must be >= 1"),
    (score_topk, dict(stop=6), "not within the 5 rows"),
    (score_topk, dict(start=3, stop=2), "not within the 5 rows"),
    (score_topk, dict(right=np.ones((4, 3))), "left has 2 columns but right has 3"),
    (score_topk, dict(out_idx=np.empty((3, 2), I32)), "must both be"),
    (score_topk, dict(excl_indptr=np.zeros(5, I64)), "excl_indptr has length 5"),
    (score_topk, dict(block=0), "block must be >= 1"),
    (build_alias, dict(prob=np.empty(3)), "same length"),
    (build_alias, dict(ids=np.array([0, 1, 2, 9], I32)), r"ids\[3\] = 9"),
    (generate, dict(P=np.ones((2, 2))), "must be"),
    (generate, dict(Q=np.ones((4, 3))), "must be"),
    (generate, dict(col_bias=np.zeros(3)), "col_bias"),
    (generate, dict(sq_err=np.empty(2)), "sq_err has 2"),
    (generate, dict(indices=np.empty(4, I32), values=np.empty(4)), "must run from 0 to the 4"),
    (generate, dict(indptr=np.array([0, 5, 5, 5], I64)), "row 0 asks for 5 of the 4"),
    (generate, dict(n_threads=0), "n_threads must be >= 1"),
]


@pytest.mark.parametrize("call, bad, message", CASES,
                         ids=[f"{c.__name__}-{'-'.join(b)}" for c, b, _ in CASES])
def test_a_wrong_call_raises_before_touching_memory(call, bad, message):
    with pytest.raises(ValueError, match=message):
        call(**bad)


def test_topk_ignores_exclusions_outside_the_row():
    # Exclusion indices are not range-checked in O(1); out-of-range ones (and
    # pointers past the list) must be ignored, not written through.
    out = topk(excl_indices=np.array([-5, 10**6], I32))
    np.testing.assert_array_equal(out, [[3, 2], [3, 2], [3, 2]])
    scores = np.arange(12.0).reshape(3, 4)[:, ::-1].copy()  # best column first: 0
    out = topk(scores=scores, excl_indptr=np.array([0, 1, 1, 10**9], I64))
    np.testing.assert_array_equal(out, [[0, 1], [0, 1], [1, 2]])  # row 2: only [0] of its list
