"""The compiled number parser reads every rating exactly as Python's float() does."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lorank._kernels import _parse
from lorank.data import loaders
from lorank.datasets import load_csv, load_movielens, load_netflix


def parse_ratings(texts):
    """The compiled delimited parser on lines '1,2,<text>': values, or the
    index of the first line it rejects."""
    data = "".join(f"1,{k},{t}\n" for k, t in enumerate(texts)).encode()
    n = len(texts) + 1
    u, i, v, t = (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.float64),
                  np.empty(1, np.int64))
    got = _parse.delimited(np.frombuffer(data, np.uint8), 0, b",", 0, 1, 2, -1, u, i, v, t)
    if isinstance(got, tuple):
        return data.count(b"\n", 0, got[1])
    return v[:got]


def expected(text):
    try:
        x = float(text)
    except ValueError:
        return None
    return x if np.isfinite(x) else None


def check(text):
    want = expected(text)
    got = parse_ratings([text])
    if want is None:
        assert isinstance(got, int), (text, got)
    else:
        assert not isinstance(got, int), (text, got)
        assert got[0] == want and np.signbit(got[0]) == np.signbit(want), (text, got[0], want)


DECIMAL = st.from_regex(r"[+-]?[0-9]{0,22}(\.[0-9]{0,22})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(0, 10, allow_nan=False).map(lambda x: f"{x:.6f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.17e}"),
    DECIMAL,
    st.integers(-10**25, 10**25).map(str),
))
def test_numbers_parse_exactly_as_float(text):
    check(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" _.eE+-0123456789infatyINFATY", max_size=12))
def test_odd_text_accepted_or_rejected_as_float_does(text):
    if "," in text or "\n" in text or "\r" in text:
        return
    check(text)


def test_known_cases():
    # integer part + fraction / scale rounds these differently from float()
    for text in ["4.165346", "0.1", "3.14159265358979", "4.5e0", "45E-1", "-0", "+3",
                 ".5", "5.", "1e22", "1e23", "9007199254740993", "0.000001234567890123456789",
                 "1" * 30, "2.2250738585072011e-308", "4.9e-324", "1_000.5", " 4 "]:
        check(text)
    for text in ["", "-", ".", "e5", "1e", "1e+", "inf", "nan", "1e999", "4.5.1", "0x10"]:
        check(text)
    wrong = sum(float(f"4.{k:06d}") != (4 + k / 10**6) for k in range(0, 10**6, 997))
    assert wrong > 0  # the old formula really differs on some of these
    texts = [f"4.{k:06d}" for k in range(0, 10**6, 997)]
    np.testing.assert_array_equal(parse_ratings(texts), [float(t) for t in texts])


def test_same_values_whatever_the_id_type(tmp_path):
    ratings = ["4.165346", "3.5e0", "2.675", "1e-1", "0.30000000000000004"]
    ints = "".join(f"{k},7,{r}\n" for k, r in enumerate(ratings))
    strs = "".join(f"u{k},x,{r}\n" for k, r in enumerate(ratings))
    (tmp_path / "ints.csv").write_text(ints)
    (tmp_path / "strs.csv").write_text(strs)
    a = load_csv(tmp_path / "ints.csv", dtype=np.float64).ratings
    b = load_csv(tmp_path / "strs.csv", dtype=np.float64).ratings
    want = [float(r) for r in ratings]
    assert a.csr.values.tolist() == want and b.csr.values.tolist() == want
    quoted = "".join(f'{k},7,"{r}"\n' for k, r in enumerate(ratings))
    (tmp_path / "quoted.csv").write_text(quoted)
    assert load_csv(tmp_path / "quoted.csv", dtype=np.float64).ratings.csr.values.tolist() == want


def test_exponents_in_ratings_dat_and_netflix(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::4.5e0::978300760\n2::10::35E-1::978300761\n")
    assert load_movielens(tmp_path).ratings.csr.values.tolist() == [4.5, 3.5]
    (tmp_path / "combined_data_1.txt").write_text("1:\n7,4e0,2005-01-01\n8,5,2005-01-02\n")
    assert load_netflix(tmp_path).ratings.csr.values.tolist() == [4.0, 5.0]


def test_rejects_non_finite_ratings_with_the_line(tmp_path):
    (tmp_path / "r.csv").write_text("1,2,3\n1,3,1e999\n")
    with pytest.raises(ValueError, match=r"r\.csv line 2: expected a number in field 2 \(rating\)"):
        load_csv(tmp_path / "r.csv")
    (tmp_path / "s.csv").write_text("a,b,3\na,c,nan\n")
    with pytest.raises(ValueError, match=r"s\.csv line 2: expected a number in field 2 \(rating\)"):
        load_csv(tmp_path / "s.csv")


def test_netflix_dates_match_numpy(tmp_path):
    dates = np.concatenate([
        np.arange(np.datetime64("0000-01-01"), np.datetime64("9999-12-31"), 37),
        np.arange(np.datetime64("1899-12-25"), np.datetime64("1901-03-05")),
        np.arange(np.datetime64("1999-12-25"), np.datetime64("2001-03-05")),
    ])
    text = "1:\n" + "".join(f"{k},3,{t}\n" for k, t in enumerate(dates))
    (tmp_path / "combined_data_1.txt").write_text(text)
    movie, user, rating, day = loaders.parse_netflix([tmp_path / "combined_data_1.txt"],
                                                     times=True)
    np.testing.assert_array_equal(day, dates)
    for bad in ["2001-02-29", "1900-02-29", "2005-04-31", "2005-00-10", "2005-01-00",
                "2005-1-01", "2005/01/01", "20050101xx"]:
        (tmp_path / "combined_data_1.txt").write_text(f"1:\n7,3,2000-02-29\n8,3,{bad}\n")
        with pytest.raises(ValueError, match=r"line 3: expected CustomerID,Rating,Date"):
            loaders.parse_netflix([tmp_path / "combined_data_1.txt"])
