"""Bad and edge input over every public entry point: each is a clear exception
(type and message), or, for edge input, the documented handling.

One table per entry point: ``CASES[name]`` is a list of :class:`Case`. A case
is a snippet of code run with the names of ``SETUP`` in scope, and either the
exception it must raise (type and a regex of the message) or ``None`` when it
must run (its own ``assert`` checks the handling). A new model adds its
cases with one more list, e.g. ``CASES["BayesianALS.fit"] = [...]``.

Cases marked ``isolated`` once crashed the interpreter (segfault, hang): they
run in subprocesses, all started at once, each with its own timeout, so a
regression fails one test instead of killing or hanging the run.
"""

import json
import os
import subprocess
import sys
import textwrap
from typing import NamedTuple

import pytest


class Case(NamedTuple):
    id: str
    code: str
    error: object  # an exception type, a tuple of them, or None: must not raise
    match: str = ""
    isolated: bool = False


# Names every case may use. Kept small: it runs once here and once per isolated case.
SETUP = """
import io as _io, os, tempfile, contextlib
import numpy as np, scipy.sparse as sp
import lorank
from lorank import io as lio
from lorank.cli import main

tmp = tempfile.mkdtemp()
rng = np.random.default_rng(0)
R = lorank.Ratings.from_labels(
    [f"u{i % 12}" for i in range(60)], [f"i{(i * 7) % 9}" for i in range(60)],
    rng.integers(1, 6, 60).astype(float), duplicates="mean")
als = lorank.ALS(2, max_iter=2, random_state=0).fit(R)
rec = lorank.Recommender(lorank.ALS(2, max_iter=2, random_state=0)).fit(R)
saved = os.path.join(tmp, "rec.npz")
rec.save(saved)
arrays, header = lio.load(saved)
csv = os.path.join(tmp, "r.csv")
with open(csv, "w") as f:
    f.write("user,item,rating\\n" + "".join(f"{u},{i},{v}\\n" for u, i, v in
            zip(*(np.asarray(x) for x in (R.row_labels[R.coo()[0]], R.col_labels[R.coo()[1]],
                                          R.coo()[2])))))
bayes = lorank.BayesianALS(2, n_samples=3, burn_in=1, random_state=0).fit(R)
imp = lorank.ImplicitALS(2, max_iter=2, random_state=0).fit(R)
base = lorank.Baseline(max_iter=2).fit(R)
pop = lorank.Popularity().fit(R)
T = lorank.TensorRatings.from_labels(
    ([f"u{i % 12}" for i in range(60)], [f"i{(i * 7) % 9}" for i in range(60)],
     [f"t{i % 3}" for i in range(60)]), rng.integers(1, 6, 60).astype(float),
    duplicates="mean")
cp = lorank.CPALS(2, max_iter=2, random_state=0).fit(T)
S16 = sp.random(30, 20, density=0.2, random_state=0, format="csr", dtype=np.float32)
S16.indptr, S16.indices = S16.indptr.astype(np.int16), S16.indices.astype(np.int16)
near_limit = np.full((6, 5), 3e38, np.float32)
near_limit[0, 0] = 1

def edited(**changes):
    path = os.path.join(tmp, f"bad{len(os.listdir(tmp))}.npz")
    new = dict(arrays)
    for k, v in changes.items():
        new[k.replace("__", ".")] = v(arrays[k.replace("__", ".")])
    lio.save(path, new, header)
    return path

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)

def cli(*args):
    err = _io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(_io.StringIO()):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()
"""

CASES = {}

CASES["Ratings"] = [
    Case("length mismatch", "lorank.Ratings([0, 1], [0], [1.0, 2.0])", ValueError, "same length"),
    Case("negative index", "lorank.Ratings([0, -1], [0, 1], [1.0, 2.0])", ValueError, "-1"),
    Case("float index", "lorank.Ratings([0.5], [0], [1.0])", TypeError, "integers"),
    Case("nan value", "lorank.Ratings([0], [0], [np.nan])", ValueError, "finite"),
    Case("inf value", "lorank.Ratings([0], [0], [np.inf])", ValueError, "finite"),
    Case("index beyond shape", "lorank.Ratings([5], [0], [1.0], shape=(3, 3))", ValueError, "5"),
    Case("duplicates", "lorank.Ratings([0, 0], [1, 1], [1.0, 2.0])", ValueError, "duplicate"),
]

CASES["Ratings.from_labels"] = [
    Case("str and int merged", "lorank.Ratings.from_labels(['1', 1], [0, 1], [1.0, 2.0])",
         TypeError, "users mixes int and str labels"),
    Case("bytes and str merged", "lorank.Ratings.from_labels([0, 1], [b'a', 'a'], [1.0, 2.0])",
         TypeError, "items mixes bytes and str labels"),
    Case("bool and int", "lorank.Ratings.from_labels([True, 1], [0, 1], [1.0, 2.0])",
         TypeError, "mixes bool and int"),
    Case("nan label", "lorank.Ratings.from_labels([1.0, np.nan], [0, 1], [1.0, 2.0])",
         ValueError, r"users\[1\] is nan"),
    Case("nan label array", "lorank.Ratings.from_labels(np.array([np.nan, 2.0]), [0, 1], [1, 2])",
         ValueError, r"users\[0\] is NaN"),
    Case("list labels", "lorank.Ratings.from_labels([[1], [2]], [0, 1], [1.0, 2.0])",
         TypeError, "hashable labels"),
    Case("single string", "lorank.Ratings.from_labels('ab', [0, 1], [1.0, 2.0])",
         TypeError, "single str 'ab'"),
    Case("empty", "lorank.Ratings.from_labels([], [], [])", ValueError, "no observations"),
    Case("lengths", "lorank.Ratings.from_labels(['a', 'b'], [1, 2], [1.0])", ValueError,
         "same length"),
]

CASES["Ratings.from_dense"] = [
    Case("3-D", "lorank.Ratings.from_dense(np.ones((2, 2, 2)))", ValueError, "2-D"),
    Case("sparse", "lorank.Ratings.from_dense(sp.csr_array(np.eye(2)))", TypeError, "from_sparse"),
    Case("inf", "lorank.Ratings.from_dense([[1.0, np.inf]])", ValueError, r"inf at \(0, 1\)"),
    Case("masked entries are missing",
         "X = np.ma.masked_array([[1.0, 2.0], [3.0, np.inf]], mask=[[0, 1], [0, 1]])\n"
         "assert lorank.Ratings.from_dense(X).nnz == 2", None),
]

CASES["Ratings.from_pandas"] = [
    Case("missing column",
         "import pandas as pd\nlorank.Ratings.from_pandas(pd.DataFrame({'user': ['a'], "
         "'item': [1], 'rating': [1.0]}), user='who')", ValueError, "user='who' is not a column"),
    Case("str and int ids",
         "import pandas as pd\nlorank.Ratings.from_pandas(pd.DataFrame({'user': ['1', 1], "
         "'item': [1, 2], 'rating': [1.0, 2.0]}))", TypeError, "mixes int and str labels"),
    Case("DataFrame read as a matrix",
         "import pandas as pd\nlorank.ALS(1).fit(pd.DataFrame(np.ones((3, 3))))", TypeError,
         "never as a dense matrix"),
]

CASES["ALS"] = [
    Case("rank 0", "lorank.ALS(0).fit(R)", ValueError, "rank must be positive"),
    Case("rank too large", "lorank.ALS(50).fit(R)", ValueError, "rank=50 exceeds"),
    Case("biases='no'", "lorank.ALS(2, biases='no').fit(R)", TypeError, "biases"),
    Case("negative seed", "lorank.ALS(2, random_state=-1).fit(R)", ValueError, "random_state"),
    Case("negative reg", "lorank.ALS(2, reg=-1.0).fit(R)", ValueError, "reg"),
    Case("nan reg", "lorank.ALS(2, reg=float('nan')).fit(R)", ValueError, "reg"),
    Case("int dtype", "lorank.ALS(2, dtype=np.int32).fit(R)", TypeError, "dtype"),
    Case("n_threads=0", "lorank.ALS(2, n_threads=0).fit(R)", ValueError, "n_threads=0"),
    Case("n_threads=10**6", "lorank.ALS(2, n_threads=10**6).fit(R)", ValueError,
         r"n_threads=1000000 is more threads", isolated=True),
    Case("n_threads=2**31", "lorank.ALS(2, n_threads=2**31).fit(R)", ValueError,
         r"n_threads=2147483648 is more threads"),
    Case("LORANK_NUM_THREADS huge",
         "os.environ['LORANK_NUM_THREADS'] = '1000000'\nlorank.ALS(2, max_iter=1).fit(R)",
         ValueError, "LORANK_NUM_THREADS=1000000", isolated=True),
    Case("near the float32 limit", "lorank.ALS(2).fit(near_limit)", ValueError,
         "sum of squares .* exceeds float32's range"),
    Case("validation of another shape",
         "lorank.ALS(2).fit(np.ones((4, 3)), validation=np.ones((5, 3)))", ValueError,
         "validation"),
    Case("all missing", "lorank.ALS(1).fit(np.full((3, 3), np.nan))", ValueError,
         "no observed entries"),
]

CASES["SoftImpute"] = [
    Case("rank too large", "lorank.SoftImpute(50).fit(R)", ValueError, "rank=50 exceeds"),
    Case("negative reg", "lorank.SoftImpute(2, reg=-1).fit(R)", ValueError, "reg"),
    Case("n_threads=10**6", "lorank.SoftImpute(2, n_threads=10**6).fit(R)", ValueError,
         "n_threads=1000000", isolated=True),
    Case("near the float32 limit", "lorank.SoftImpute(2).fit(near_limit)", ValueError,
         "sum of squares"),
    Case("int64 index range",
         "from lorank.data.ratings import Ratings\n"
         "big = Ratings._from_parts((3, 2**31), (np.arange(4, dtype=np.int64), "
         "np.array([0, 5, 2**31], np.int64), np.ones(3, np.float32)), "
         "(np.broadcast_to(np.int64(0), (2**31 + 1,)), np.zeros(3, np.int64), "
         "np.ones(3, np.float32)))\n"
         "lorank.SoftImpute(2, max_iter=1).fit(big)", ValueError,
         r"SoftImpute supports up to 2\*\*31 - 1 rows and columns"),
]

# The models that came after ALS and SoftImpute: bad parameters, bad data,
# predict before fit, unknown labels, NaN/inf, wrong dtypes.
CASES["BayesianALS"] = [
    Case("n_samples 0", "lorank.BayesianALS(2, n_samples=0).fit(R)", ValueError,
         "n_samples must be >= 1, got 0"),
    Case("burn_in >= n_samples", "lorank.BayesianALS(2, n_samples=5, burn_in=5).fit(R)",
         ValueError, "burn_in=5 must be smaller than n_samples=5"),
    Case("thin keeps nothing", "lorank.BayesianALS(2, n_samples=5, burn_in=2, thin=4).fit(R)",
         ValueError, "thin=4 keeps no sample of the 3 after burn-in"),
    Case("thin float", "lorank.BayesianALS(2, thin=1.5).fit(R)", TypeError,
         r"thin must be an integer, got 1\.5"),
    Case("rank too large", "lorank.BayesianALS(50).fit(R)", ValueError, "rank=50 exceeds"),
    Case("int dtype", "lorank.BayesianALS(2, dtype=np.int64).fit(R)", TypeError,
         "dtype must be float32 or float64, got int64"),
    Case("random_state float", "lorank.BayesianALS(2, random_state=0.5).fit(R)", TypeError,
         r"random_state must be None, a non-negative integer .* got 0\.5"),
    Case("inf in the data", "lorank.BayesianALS(2).fit(np.array([[1.0, np.inf], [2.0, np.nan]]))",
         ValueError, r"inf at \(0, 1\)"),
    Case("near the float32 limit",
         "lorank.BayesianALS(2, n_samples=2, burn_in=1).fit(near_limit)", ValueError,
         "sum of squares .* exceeds float32's range"),
    Case("predict before fit", "lorank.BayesianALS(2).predict(['u1'], ['i1'])", AttributeError,
         "BayesianALS model is not fitted yet; call fit first"),
    Case("unknown user", "bayes.predict(['nobody'], ['i1'])", KeyError, "unknown users: 'nobody'"),
    Case("a position is not a label", "bayes.predict(['u1'], [3])", KeyError,
         "unknown items: 3"),
    Case("float positions", "bayes.predict_positions([0.5], [0])", TypeError,
         "rows must hold integers, got dtype float64"),
    Case("position out of range", "bayes.predict_positions([12], [0])", (ValueError, IndexError),
         "12"),
    Case("n_threads=10**6", "lorank.BayesianALS(2, n_threads=10**6).fit(R)", ValueError,
         "n_threads=1000000 is more threads", isolated=True),
]

CASES["ImplicitALS"] = [
    Case("negative values",
         "lorank.ImplicitALS(1).fit(sp.csr_array(np.array([[1.0, -2.0], [3.0, 0.0]])))",
         ValueError, "-2"),
    Case("nan values", "lorank.ImplicitALS(2).fit(lorank.Ratings([0, 1], [0, 1], [1.0, np.nan]))",
         ValueError, "finite"),
    Case("alpha 0", "lorank.ImplicitALS(2, alpha=0).fit(R)", ValueError,
         "alpha must be a finite number > 0, got 0.0"),
    Case("epsilon nan", "lorank.ImplicitALS(2, epsilon=np.nan).fit(R)", ValueError,
         "epsilon must be a finite number, got nan"),
    Case("confidence", "lorank.ImplicitALS(2, confidence='sqrt').fit(R)", ValueError,
         'confidence must be "linear" or "log", got \'sqrt\''),
    Case("solver", "lorank.ImplicitALS(2, solver='lu').fit(R)", ValueError,
         'solver must be "cholesky" or "cg", got \'lu\''),
    Case("cg_steps 0", "lorank.ImplicitALS(2, solver='cg', cg_steps=0).fit(R)", ValueError,
         "cg_steps must be >= 1, got 0"),
    Case("rank too large", "lorank.ImplicitALS(50).fit(R)", ValueError, "rank=50 exceeds"),
    Case("int dtype", "lorank.ImplicitALS(2, dtype='int8').fit(R)", TypeError,
         "dtype must be float32 or float64, got int8"),
    Case("predict before fit", "lorank.ImplicitALS(2).predict(['u1'], ['i1'])", AttributeError,
         "ImplicitALS model is not fitted yet"),
    Case("unknown item", "imp.predict(['u1'], ['no-item'])", KeyError, "unknown items: 'no-item'"),
    Case("recalculate_user beyond the items", "imp.recalculate_user([100], [1.0])",
         (ValueError, IndexError), "100"),
    Case("recalculate_user negative", "imp.recalculate_user([0], [-1.0])", ValueError, "-1"),
    Case("partial_fit shape", "imp.partial_fit_users([0], np.ones((1, 3)))", ValueError,
         r"must have shape \(1, 9\)"),
    Case("partial_fit float positions", "imp.partial_fit_users([0.5], np.ones((1, 9)))",
         TypeError, "users must be a 1-D array of integer positions"),
    Case("partial_fit int16 indices run",
         "S = sp.csr_array(np.eye(9)[:1])\nS.indptr, S.indices = (S.indptr.astype(np.int16), "
         "S.indices.astype(np.int16))\nimp2 = lorank.ImplicitALS(2, max_iter=2, random_state=0)"
         ".fit(R)\nimp2.partial_fit_users(np.array([0], np.uint8), S)\n"
         "assert np.isfinite(imp2.factors_.left).all()", None),
]

CASES["CPALS"] = [
    Case("a Ratings", "lorank.CPALS(2).fit(R)", TypeError,
         "X must be a lorank.TensorRatings .* got Ratings"),
    Case("rank past the second mode", "lorank.CPALS(20).fit(T)", ValueError,
         r"rank=20 exceeds shape\[1\] = 9, the second largest mode"),
    Case("reg 0 and an empty slice",
         "lorank.CPALS(1, reg=0, init='random').fit(lorank.TensorRatings(([0, 1, 2], [0, 1, 1], "
         "[0, 0, 1]), [1.0, 2.0, 3.0], shape=(4, 2, 2)))", ValueError,
         "slice 0 of mode 0 has 1 observations, fewer than the 2 unknowns .* with reg=0 it "
         "has no unique solution"),
    Case("reg 0, singular normal equations", "lorank.CPALS(2, reg=0).fit(T)", ValueError,
         r"slice 0 of mode 2 \(12 observations, 3 unknowns\) are not positive definite; "
         "increase reg"),
    Case("int dtype", "lorank.CPALS(2, dtype=np.int32).fit(T)", TypeError,
         "dtype must be float32 or float64, got int32"),
    Case("validation of another shape",
         "lorank.CPALS(2).fit(T, validation=lorank.TensorRatings(([0], [0], [0]), [1.0], "
         "(12, 9, 4)))", ValueError, r"validation has shape \(12, 9, 4\) but X has shape"),
    Case("nan value", "lorank.TensorRatings(([0, 1], [0, 1]), [1.0, np.nan])", ValueError,
         "finite"),
    Case("one mode", "lorank.TensorRatings(([0, 1],), [1.0, 2.0])", ValueError,
         "at least 2 modes"),
    Case("float index", "lorank.TensorRatings(([0.5, 1], [0, 1]), [1.0, 2.0])", TypeError,
         "integers"),
    Case("predict before fit", "lorank.CPALS(2).predict(([0], [0], [0]))", AttributeError,
         "CPALS model is not fitted yet"),
    Case("unknown label", "cp.predict((['nobody'], ['i1'], ['t0']))", KeyError, "nobody"),
    Case("two of three modes", "cp.predict((['u1'], ['i1']))", TypeError,
         "indices must be a tuple of 3 index arrays"),
    Case("float positions", "cp.predict_positions(([0.5], [0], [0]))", TypeError,
         r"indices\[0\] must hold integers, got dtype float64"),
    Case("position out of range", "cp.predict_positions(([0], [99], [0]))", ValueError,
         r"indices\[1\] contains position 99, outside mode 1 of size 9"),
    Case("unequal lengths", "cp.predict_positions(([0, 1], [0], [0]))", ValueError,
         "indices must have equal lengths, got 2, 1, 1"),
    Case("uint64 positions run",
         "i = np.array([0, 1], np.uint64)\n"
         "assert (cp.predict_positions((i, i, i)) == cp.predict_positions(([0, 1],) * 3)).all()",
         None),
    Case("predict_at arity", "cp.predict_at(['u1'])", TypeError,
         "predict_at takes the indices of the first 2 modes, got 1"),
    Case("to_lowrank unknown time", "cp.to_lowrank(time='t9')", KeyError, "t9"),
]

CASES["Baseline"] = [
    Case("negative reg_users", "lorank.Baseline(reg_users=-1).fit(R)", ValueError,
         r"reg_users must be a finite number >= 0, got -1\.0"),
    Case("nan reg_items", "lorank.Baseline(reg_items=np.nan).fit(R)", ValueError,
         "reg_items must be a finite number >= 0, got nan"),
    Case("max_iter 0", "lorank.Baseline(max_iter=0).fit(R)", ValueError,
         "max_iter must be >= 1, got 0"),
    Case("callback not callable", "lorank.Baseline(callback=3).fit(R)", TypeError,
         "callback must be callable, got 3"),
    Case("clip='no'", "lorank.Baseline(clip='no').fit(R)", TypeError,
         "clip must be True or False, got 'no'"),
    Case("all missing", "lorank.Baseline().fit(np.full((3, 3), np.nan))", ValueError,
         "no observed entries"),
    Case("inf in the data", "lorank.Baseline().fit(np.array([[1.0, -np.inf]]))", ValueError,
         r"-inf at \(0, 1\)"),
    Case("predict before fit", "lorank.Baseline().predict(['u1'], ['i1'])", AttributeError,
         "Baseline model is not fitted yet"),
    Case("unknown item", "base.predict(['u1'], ['no-item'])", KeyError, "no-item"),
    Case("lengths", "base.predict(['u1', 'u2'], ['i1'])", ValueError, "length"),
]

CASES["Popularity"] = [
    Case("by", "lorank.Popularity(by='mean').fit(R)", ValueError,
         'by must be "count" or "sum", got \'mean\''),
    Case("int dtype", "lorank.Popularity(dtype=np.int64).fit(R)", TypeError,
         "dtype must be float32 or float64, got int64"),
    Case("inf in the data", "lorank.Popularity().fit(np.array([[np.inf, 1.0]]))", ValueError,
         r"inf at \(0, 0\)"),
    Case("predict before fit", "lorank.Popularity().predict(['u1'], ['i1'])", AttributeError,
         "Popularity model is not fitted yet"),
    Case("unknown user", "lorank.Recommender(lorank.Popularity()).fit(R).recommend('nobody')",
         KeyError, "nobody"),
    Case("unknown item", "pop.predict(['u1'], ['no-item'])", KeyError, "no-item"),
]

# Index arrays of any integer dtype reach the compiled kernels (int32/int64 only)
# through the public entry points, converted there; other dtypes are refused there.
CASES["index dtypes"] = [
    Case("LowRank.entries uint64 and int8",
         "L = lorank.LowRank(np.arange(6.0).reshape(3, 2), np.arange(8.0).reshape(4, 2))\n"
         "want = L.entries([0, 2], [3, 1])\n"
         "for dt in (np.uint64, np.int8, np.uint16):\n"
         "    i, j = np.array([0, 2], dt), np.array([3, 1], dt)\n"
         "    assert (L.entries(i, j) == want).all()", None),
    Case("LowRank.entries bool", "lorank.LowRank(np.ones((3, 2)), np.ones((4, 2)))"
         ".entries(np.array([True]), np.array([False]))", TypeError,
         "rows must hold integers, got dtype bool"),
    Case("predict_positions uint32", "i = np.array([0, 1], np.uint32)\n"
         "assert (als.predict_positions(i, i) == als.predict_positions([0, 1], [0, 1])).all()",
         None),
    Case("Ratings uint64 indices", "lorank.Ratings(np.array([0, 1], np.uint64), "
         "np.array([1, 0], np.uint64), [1.0, 2.0])", None),
    Case("sparse int16 indices: ALS and randomized_svd",
         "S32 = S16.copy()\nS32.indptr, S32.indices = S16.indptr.astype(np.int32), "
         "S16.indices.astype(np.int32)\n"
         "a = lorank.randomized_svd(S16, 2, random_state=0)[1]\n"
         "b = lorank.randomized_svd(S32, 2, random_state=0)[1]\nassert (a == b).all()\n"
         "m = lorank.ALS(2, reg=1.0, max_iter=2, random_state=0)\n"
         "assert (m.fit(S16).factors_.left == m.fit(S32).factors_.left).all()", None),
    Case("from_csr float indptr", "lorank.Ratings.from_csr(S16.indptr.astype(float), "
         "S16.indices, S16.data, S16.shape)", TypeError, "indptr must hold integers"),
    Case("SparsePlusLowRank times a complex block",
         "Z = lorank.SparsePlusLowRank(lorank.Ratings.from_sparse(S16) if hasattr("
         "lorank.Ratings, 'from_sparse') else lorank.ALS(1, max_iter=1).fit(S16) and "
         "lorank.datasets.synthetic(30, 20, 100, random_state=0)[0], "
         "lorank.LowRank(np.ones((30, 1), np.float32), np.ones((20, 1), np.float32)))\n"
         "Z @ np.ones((20, 2), complex)", TypeError,
         "SparsePlusLowRank is a real \\(float32\\) operator"),
]

CASES["predict"] = [
    Case("unknown user", "als.predict(['nobody'], ['i1'])", KeyError, "nobody"),
    Case("unknown item", "rec.predict('u1', 'no-item')", KeyError, "no-item"),
    Case("lengths", "als.predict(['u1', 'u2'], ['i1'])", ValueError, "length"),
]

CASES["recommend"] = [
    Case("unknown user", "rec.recommend('nobody')", KeyError, "nobody"),
    Case("negative n", "rec.recommend('u1', n=-1)", ValueError, "n"),
    Case("huge n is capped", "items, _ = rec.recommend('u1', n=10**12)\n"
         "assert len(items) <= 9", None),
    Case("fold_in beyond float32",
         "rec.fold_in(['i1', 'i2'], [1e300, -1e300])", ValueError,
         "beyond the model's float32 range"),
    Case("fold_in lengths", "rec.fold_in(['i1', 'i2'], [1.0])", ValueError, "same length"),
    Case("fold_in nan", "rec.fold_in(['i1'], [np.nan])", ValueError, "finite"),
]

CASES["svd"] = [
    Case("nan", "lorank.svd(np.full((3, 3), np.nan))", ValueError, "finite"),
    Case("3-D", "lorank.svd(np.ones((2, 2, 2)))", ValueError, "2-D"),
    Case("rank 0", "lorank.svd(np.eye(3), rank=0)", ValueError, "rank"),
    Case("overflow", "lorank.svd(near_limit)", ValueError, "svd overflowed float32"),
]

CASES["randomized_svd"] = [
    Case("rank too large", "lorank.randomized_svd(np.eye(3), 5)", ValueError, "rank=5 exceeds"),
    Case("negative n_iter", "lorank.randomized_svd(np.eye(3), 1, n_iter=-1)", ValueError,
         "n_iter"),
    Case("n_threads=10**6", "lorank.randomized_svd(sp.csr_array(np.eye(3)), 1, "
         "n_threads=10**6)", ValueError, "n_threads=1000000", isolated=True),
    Case("overflow", "lorank.randomized_svd(sp.csr_array(near_limit), 2, random_state=0)",
         ValueError, "randomized_svd overflowed float32"),
]

CASES["LowRank"] = [
    Case("widths", "lorank.LowRank(np.ones((3, 2)), np.ones((4, 3)))", ValueError,
         "same number of columns"),
    Case("nan", "lorank.LowRank(np.full((3, 2), np.nan), np.ones((4, 2)))", ValueError,
         "finite"),
    Case("entry out of range", "lorank.LowRank(np.ones((3, 2)), np.ones((4, 2))).entries([3], [0])",
         (IndexError, ValueError), "3"),
    Case("entries n_threads huge",
         "lorank.LowRank(np.ones((3, 2)), np.ones((4, 2))).entries([0], [0], n_threads=10**6)",
         ValueError, "n_threads=1000000", isolated=True),
]

CASES["loaders"] = [
    Case("missing file", "lorank.data.loaders.load_ratings(os.path.join(tmp, 'nope.csv'))",
         FileNotFoundError, "nope.csv"),
    Case("directory without ratings", "lorank.data.loaders.load_ratings(tmp + '/empty-dir') "
         "if os.makedirs(tmp + '/empty-dir') is None else None", (ValueError, FileNotFoundError),
         "empty-dir"),
]

CASES["io.load"] = [
    Case("directory", "lorank.load(tmp)", ValueError, "is a directory"),
    Case("FIFO", "os.mkfifo(tmp + '/fifo')\nlorank.load(tmp + '/fifo')", ValueError,
         "not a regular file", isolated=True),
    Case("garbage", "write(tmp + '/g.npz', b'garbage' * 20)\n"
         "lorank.load(tmp + '/g.npz')", ValueError, "damaged"),
    Case("truncated", "with open(saved, 'rb') as f:\n    data = f.read()\n"
         "write(tmp + '/t.npz', data[:len(data) // 2])\nlorank.load(tmp + '/t.npz')",
         ValueError, "damaged"),
    Case("nan biases", "lorank.load(edited(model__row_bias=lambda a: a * np.nan))", ValueError,
         "'row_bias' holds .* non-finite"),
    Case("short mean", "lorank.load(edited(model__mean=lambda a: np.zeros(2)))", ValueError,
         "'mean' has 1 dimensions"),
    Case("duplicate labels",
         "lorank.load(edited(model__user_labels=lambda a: np.full(a.shape, a[0])))",
         ValueError, "repeats the label"),
    Case("bool seen pattern",
         "lorank.load(edited(seen_indices=lambda a: a.astype(bool)))", ValueError,
         "'seen_indices' has dtype bool"),
    Case("seen out of range",
         "lorank.load(edited(seen_indices=lambda a: a + 10**6))", ValueError,
         "seen pattern is damaged", isolated=True),
    Case("huge declared array",
         "import zipfile\nh = np.lib.format.header_data_from_array_1_0(np.zeros(1))\n"
         "h['shape'] = (10**13,)\n"
         "with zipfile.ZipFile(tmp + '/h.npz', 'w') as z, z.open('x.npy', 'w') as f:\n"
         "    np.lib.format.write_array_header_1_0(f, h)\n"
         "lio.load(tmp + '/h.npz')", ValueError, "declares 80000000000000 bytes", isolated=True),
    Case("non-string class",
         "lio.save(tmp + '/c.npz', arrays, dict(header, **{'class': ['x']}))\n"
         "lorank.load(tmp + '/c.npz')", ValueError, r"holds a \['x'\] object"),
    Case("thread count in the file",
         "h = dict(header, model=dict(header['model'], params=dict(header['model']['params'], "
         "n_threads=10**6)))\nlio.save(tmp + '/n.npz', arrays, h)\nlorank.load(tmp + '/n.npz')",
         ValueError, "n_threads=1000000 is more threads", isolated=True),
]

CASES["CLI"] = [
    Case("--threads huge", "rc, err = cli('fit', csv, '--threads', 10**6)\n"
         "assert rc == 2 and '--threads=1000000 is more threads' in err, err", None,
         isolated=True),
    Case("--threads 2**31", "rc, err = cli('fit', csv, '--threads', 2**31)\n"
         "assert rc == 2 and '--threads=2147483648' in err, err", None),
    Case("missing file", "rc, err = cli('fit', tmp + '/none.csv')\n"
         "assert rc == 1 and err.count('\\n') == 1 and 'none.csv' in err, err", None),
    Case("damaged model", "write(tmp + '/d.npz', b'x' * 100)\n"
         "rc, err = cli('recommend', tmp + '/d.npz', '--user', 'u1')\n"
         "assert rc == 1 and 'damaged' in err and 'Traceback' not in err, err", None),
]


ALL = [(name, case) for name, cases in CASES.items() for case in cases]
IDS = [f"{name}: {case.id}" for name, case in ALL]


@pytest.fixture(scope="module")
def namespace():
    scope = {}
    exec(SETUP, scope)
    yield scope
    import shutil

    shutil.rmtree(scope["tmp"], ignore_errors=True)


_RUNNER = """
import json, sys
exec(compile(sys.argv[1], "<setup>", "exec"))
try:
    exec(compile(sys.argv[2], "<case>", "exec"))
except BaseException as exc:
    message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    print(json.dumps({"types": [t.__name__ for t in type(exc).__mro__], "message": message}))
else:
    print(json.dumps({"types": None, "message": ""}))
"""


@pytest.fixture(scope="module")
def isolated_results():
    """Every isolated case, each in its own interpreter, started together."""
    env = dict(os.environ, LORANK_NUM_THREADS="2")
    procs = {}
    for name, case in ALL:
        if case.isolated:
            procs[(name, case.id)] = subprocess.Popen(
                [sys.executable, "-c", _RUNNER, SETUP, textwrap.dedent(case.code)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    results = {}
    for key, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            results[key] = ("hang", err)
            continue
        results[key] = (proc.returncode, out, err)
    return results


def _check(error, match, got_types, message):
    """``got_types``: the names of the raised exception's classes (its MRO), or None."""
    if error is None:
        assert got_types is None, f"raised {got_types[0]}: {message}"
        return
    assert got_types is not None, "did not raise"
    errors = error if isinstance(error, tuple) else (error,)
    assert {e.__name__ for e in errors} & set(got_types), f"raised {got_types[0]}: {message}"
    assert message.strip(), "an exception without a message"
    import re

    assert re.search(match, message), f"{message!r} does not match {match!r}"


@pytest.mark.parametrize("name, case", ALL, ids=IDS)
def test_bad_input_gets_a_clear_error(name, case, namespace, isolated_results):
    if case.isolated:
        result = isolated_results[(name, case.id)]
        assert result[0] != "hang", f"hung (killed after 120 s): {result[1][-2000:]}"
        rc, out, err = result
        assert rc == 0, f"the interpreter died (exit code {rc}): {err[-2000:]}"
        got = json.loads(out.strip().splitlines()[-1])
        _check(case.error, case.match, got["types"], got["message"])
        return
    scope = dict(namespace)
    try:
        exec(compile(textwrap.dedent(case.code), f"<{case.id}>", "exec"), scope)
    except Exception as exc:  # noqa: BLE001 - the table says which
        if isinstance(exc, AssertionError):
            raise
        got_types = [t.__name__ for t in type(exc).__mro__]
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    else:
        got_types, message = None, ""
    _check(case.error, case.match, got_types, message)
