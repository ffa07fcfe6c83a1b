"""Loaders of real rating files, on small fixtures written in the real formats."""


import numpy as np
import pytest

import lorank
from lorank.data import loaders
from lorank.datasets import (load_csv, load_movielens, load_netflix, synthetic,
                             write_netflix_format)

DTYPES = [np.float32, np.float64]


def triples(R):
    """{(user label, item label): value} of a labelled Ratings."""
    rows, cols, vals = R.coo()
    return {(R.row_labels[i].item(), R.col_labels[j].item()): float(v)
            for i, j, v in zip(rows, cols, vals)}


def reference_netflix(text):
    """Plain-Python parse of Netflix text: {(customer, movie): rating}."""
    out, movie = {}, None
    for line in text.splitlines():
        if line.endswith(":"):
            movie = int(line[:-1])
        elif line:
            c, r, _ = line.split(",")
            out[(int(c), movie)] = float(r)
    return out


# ---------------------------------------------------------------- MovieLens

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t377\t5\t1\n"
U_ITEM = "242|Kolya (1996)|24-Jan-1997||\n302|L.A. Confidential (1997)|||\n377|Heavyweights (1994)|||\n"
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
MOVIES_DAT = "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation\n"
RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n6,3,0.5,964982224\n"
MOVIES_CSV = 'movieId,title,genres\n1,Toy Story (1995),Animation\n3,"American President, The (1995)",Comedy\n'


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["100k", "1m", "csv"])
def test_movielens_layouts_from_folder_and_file(tmp_path, layout, dtype):
    name, data, tname, titles = {
        "100k": ("u.data", U_DATA, "u.item", U_ITEM),
        "1m": ("ratings.dat", RATINGS_DAT, "movies.dat", MOVIES_DAT),
        "csv": ("ratings.csv", RATINGS_CSV, "movies.csv", MOVIES_CSV),
    }[layout]
    (tmp_path / name).write_text(data)
    (tmp_path / tname).write_bytes(titles.encode("latin-1"))
    sep = {"100k": "\t", "1m": "::", "csv": ","}[layout]
    lines = data.splitlines()[1:] if layout == "csv" else data.splitlines()
    expected = {(int(u), int(i)): float(r) for u, i, r, _ in (ln.split(sep) for ln in lines)}
    for path in (tmp_path, tmp_path / name):
        R, T = load_movielens(path, dtype=dtype)
        assert R.dtype == dtype
        assert triples(R) == expected
        assert R.row_labels.tolist() == sorted({u for u, _ in expected})
        assert R.col_labels.tolist() == sorted({i for _, i in expected})
    if layout == "csv":
        assert T == {1: "Toy Story (1995)", 3: "American President, The (1995)"}
    else:
        first = titles.splitlines()[0].split("|" if layout == "100k" else "::")
        assert T[int(first[0])] == first[1]


def test_movielens_detects_layout_from_content_not_name(tmp_path):
    f = tmp_path / "renamed.txt"
    f.write_text(RATINGS_DAT)
    R, T = load_movielens(f)
    assert triples(R)[(2, 1193)] == 4.0 and T is None


def test_movielens_titles_latin1(tmp_path):
    (tmp_path / "u.data").write_text("1\t1\t4\t0\n")
    (tmp_path / "u.item").write_bytes("1|Misérables, Les (1995)|||\n".encode("latin-1"))
    assert load_movielens(tmp_path).titles[1] == "Misérables, Les (1995)"


def test_movielens_malformed_line_names_file_and_line(tmp_path):
    (tmp_path / "u.data").write_text("1\t1\t4\t0\n2\t1\t3\t0\n2\tx7\t3\t0\n")
    with pytest.raises(ValueError, match=r"u\.data line 3: expected an integer in field 1 \(item id\), got '2\\tx7\\t3\\t0'"):
        load_movielens(tmp_path)
    (tmp_path / "u.data").write_text("1\t1\t4\t0\n2\t1\n")
    with pytest.raises(ValueError, match=r"u\.data line 2: expected at least 4 fields"):
        load_movielens(tmp_path)
    (tmp_path / "u.data").write_text("1\t1\t4\t0\n2\t1\tfive\t0\n")
    with pytest.raises(ValueError, match=r"u\.data line 2: expected a number in field 2 \(rating\)"):
        load_movielens(tmp_path)


def test_movielens_missing_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_movielens(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no MovieLens ratings file"):
        load_movielens(tmp_path)
    (tmp_path / "u.data").write_text("")
    with pytest.raises(ValueError, match=r"no ratings in u\.data"):
        load_movielens(tmp_path)


def test_movielens_100k_real_files(ml100k_dir):
    ML100K = ml100k_dir
    R, T = load_movielens(ML100K)
    assert R.shape == (943, 1682) and R.nnz == 100_000
    raw = np.loadtxt(ML100K / "u.data", dtype=np.int64)
    i = R.row_index(raw[:, 0])
    j = R.col_index(raw[:, 1])
    assert np.array_equal(R.to_scipy("csr")[i, j].A1, raw[:, 2])
    assert len(T) == 1682 and T[1] == "Toy Story (1995)"


# ---------------------------------------------------------------- Netflix

COMBINED_1 = "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n2:\n2059652,4,2005-09-05\n822109,1,2004-01-01\n"
COMBINED_2 = "3:\r\n1488844,2,2005-09-06\r\n\r\n10:\n7,5,2001-01-01"  # CRLF, blank line, no final newline
TITLES = "1,2003,Dinosaur Planet\n2,NULL,Isle of Man TT 2004 Review\n3,1997,Character\n10,2001,Fighter, The: Crossing, Part 2\n"


def write_combined(folder):
    folder.mkdir(exist_ok=True)
    (folder / "combined_data_1.txt").write_text(COMBINED_1, newline="")
    (folder / "combined_data_2.txt").write_text(COMBINED_2, newline="")
    (folder / "movie_titles.csv").write_bytes(TITLES.encode("latin-1"))
    return reference_netflix(COMBINED_1 + "\n" + COMBINED_2.replace("\r", ""))


@pytest.mark.parametrize("dtype", DTYPES)
def test_netflix_combined_layout_and_titles(tmp_path, dtype):
    expected = write_combined(tmp_path)
    R, T = load_netflix(tmp_path, dtype=dtype)
    assert R.dtype == dtype and triples(R) == expected
    assert R.row_labels.tolist() == [7, 822109, 1488844, 2059652]
    assert R.col_labels.tolist() == [1, 2, 3, 10]
    assert T[10] == "Fighter, The: Crossing, Part 2"  # commas in the title
    assert T[2] == "Isle of Man TT 2004 Review"  # NULL year


def test_netflix_training_set_layout(tmp_path):
    ts = tmp_path / "training_set"
    ts.mkdir()
    (ts / "mv_0000001.txt").write_text("1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n")
    (ts / "mv_0000010.txt").write_text("10:\n1488844,1,2005-09-06\n")
    (ts / "mv_0000002.txt").write_text("2:\n7,2,2005-09-06\n")
    (tmp_path / "movie_titles.csv").write_bytes("1,2003,Amélie\n".encode("latin-1"))
    expected = {(1488844, 1): 3.0, (822109, 1): 5.0, (1488844, 10): 1.0, (7, 2): 2.0}
    for path in (tmp_path, ts):
        R, T = load_netflix(path)
        assert triples(R) == expected
        assert T == {1: "Amélie"}  # latin-1


@pytest.mark.parametrize("line, message", [
    ("abc", r"expected CustomerID,Rating,Date, got 'abc'"),
    ("822109,5", r"expected CustomerID,Rating,Date, got '822109,5'"),
    ("822109,,2005-01-01", r"expected CustomerID,Rating,Date"),
    ("822109,5,2005-01-01,9", r"expected CustomerID,Rating,Date"),
    ("12:3", r"expected MovieID:, got '12:3'"),
    ("822109,5,2005:01:01", r"expected CustomerID,Rating,Date"),
    # past the first 8 date bytes, where the scan goes a word at a time
    ("822109,5,2005-01-01xx,9", r"expected CustomerID,Rating,Date"),
    ("822109,5,20050101abcdefgh:1", r"expected CustomerID,Rating,Date"),
    ("822109,5,", r"expected CustomerID,Rating,Date"),
    ("99999999999,5,2005-01-01", r"id in .* does not fit in int32"),
])
def test_netflix_malformed_line_names_file_and_line(tmp_path, line, message):
    (tmp_path / "combined_data_1.txt").write_text(COMBINED_1)
    lines = COMBINED_1.splitlines()
    (tmp_path / "combined_data_2.txt").write_text("\n".join(lines[:6] + [line] + lines[6:]) + "\n")
    with pytest.raises(ValueError, match=r"^combined_data_2\.txt line 7: " + message):
        load_netflix(tmp_path)


def test_netflix_rating_before_movie_line(tmp_path):
    (tmp_path / "combined_data_1.txt").write_text("822109,5,2005-05-13\n1:\n")
    with pytest.raises(ValueError, match=r"combined_data_1\.txt line 1: rating line .* before any MovieID"):
        load_netflix(tmp_path)


def test_netflix_error_line_number_in_a_later_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "_CHUNK_BYTES", 64)
    lines = ["5:"] + [f"{k},{k % 5 + 1},2005-01-01" for k in range(200)]
    lines[150] = "oops"
    (tmp_path / "combined_data_1.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"combined_data_1\.txt line 151: .* got 'oops'"):
        load_netflix(tmp_path)


def test_netflix_missing_and_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        load_netflix(tmp_path / "missing_dir")
    with pytest.raises(FileNotFoundError, match="no Netflix rating files"):
        load_netflix(tmp_path)
    (tmp_path / "combined_data_1.txt").write_text("")
    with pytest.raises(ValueError, match=r"no ratings in combined_data_1\.txt"):
        load_netflix(tmp_path)
    (tmp_path / "combined_data_1.txt").write_text("1:\n2:\n")
    with pytest.raises(ValueError, match="no ratings"):
        load_netflix(tmp_path)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["combined", "training_set"])
def test_write_netflix_format_round_trip(tmp_path, layout, dtype):
    R, _ = synthetic(300, 40, 3000, random_state=3, dtype=dtype)
    write_netflix_format(R, tmp_path, layout=layout)
    S, T = load_netflix(tmp_path, dtype=dtype)
    assert T is None
    assert S.row_labels.tolist() == list(range(1, 301))  # index + 1, as in the real data
    assert S.col_labels.tolist() == list(range(1, 41))
    for a, b in zip(S.csr, R.csr):
        np.testing.assert_array_equal(a, b)


def test_write_netflix_format_keeps_labels(tmp_path):
    R = lorank.Ratings.from_labels([50, 7, 50, 900], [3, 3, 12, 12], [1.0, 2.0, 3.0, 4.0])
    write_netflix_format(R, tmp_path)
    text = (tmp_path / "combined_data_1.txt").read_text()
    assert text == "3:\n7,2,2005-01-01\n50,1,2005-01-01\n12:\n50,3,2005-01-01\n900,4,2005-01-01\n"
    assert triples(load_netflix(tmp_path).ratings) == triples(R)


def test_write_netflix_format_rejects(tmp_path):
    with pytest.raises(ValueError, match="integer ratings, got 2.5"):
        write_netflix_format(lorank.Ratings([0], [0], [2.5]), tmp_path)
    with pytest.raises(ValueError, match="non-negative integer ids; row_labels"):
        write_netflix_format(lorank.Ratings.from_labels(["a"], [1], [2.0]), tmp_path)
    with pytest.raises(ValueError, match="layout must be"):
        write_netflix_format(lorank.Ratings([0], [0], [2.0]), tmp_path, layout="zip")
    with pytest.raises(TypeError, match="ratings must be a lorank.Ratings"):
        write_netflix_format(np.ones((2, 2)), tmp_path)


def test_netflix_parser_independent_of_threads_and_chunks(tmp_path, monkeypatch):
    R, _ = synthetic(2000, 300, 40_000, random_state=1)
    write_netflix_format(R, tmp_path)
    files = [tmp_path / "combined_data_1.txt"]
    expected = reference_netflix(files[0].read_text())
    base = loaders.parse_netflix(files, n_threads=1)
    got = {(int(c), int(m)): float(r) for m, c, r in zip(*base)}
    assert got == expected
    monkeypatch.setattr(loaders, "_CHUNK_BYTES", 4096)  # ~100 chunks, split mid-movie
    for n_threads in (1, 2, 3):
        out = loaders.parse_netflix(files, n_threads=n_threads)
        for a, b in zip(out, base):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- any delimited file


@pytest.mark.parametrize("dtype", DTYPES)
def test_load_csv_by_name_and_index(tmp_path, dtype):
    f = tmp_path / "r.tsv"
    f.write_text("ts|item|user|score\n1|10|5|4.5\n2|11|5|1\n3|10|6|-2.25\n")
    expected = {(5, 10): 4.5, (5, 11): 1.0, (6, 10): -2.25}
    R, T = load_csv(f, user="user", item="item", rating="score", delimiter="|", dtype=dtype)
    assert T is None and R.dtype == dtype and triples(R) == expected
    R, _ = load_csv(f, user=2, item=1, rating=3, delimiter="|")
    assert triples(R) == expected
    g = tmp_path / "nohead.txt"
    g.write_text("5;;10;;4.5\n")
    assert triples(load_csv(g, delimiter=";;", header=False).ratings) == {(5, 10): 4.5}


def test_load_csv_string_ids_and_quotes(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text('user,item,rating\nann,"Heat, 1995",4\nbob,Up,5\n')
    R, _ = load_csv(f)
    assert triples(R) == {("ann", "Heat, 1995"): 4.0, ("bob", "Up"): 5.0}


def test_load_csv_errors(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("u,i,r\n1,2,3\n1,3,bad\n")
    with pytest.raises(ValueError, match=r"r\.csv line 3: expected a number in field 2 \(rating\), got '1,3,bad'"):
        load_csv(f)
    with pytest.raises(ValueError, match=r"rating='stars' is not a column of r\.csv"):
        load_csv(f, rating="stars")
    with pytest.raises(ValueError, match="header=False"):
        load_csv(f, user="u", header=False)
    with pytest.raises(ValueError, match="different columns"):
        load_csv(f, user=0, item=0)
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        load_csv(tmp_path / "gone.csv")


def test_load_csv_parquet(tmp_path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        (tmp_path / "r.parquet").write_bytes(b"PAR1")
        with pytest.raises(ImportError, match=r"needs pyarrow"):
            load_csv(tmp_path / "r.parquet")
        return
    pq.write_table(pa.table({"u": [1, 2], "i": [5, 5], "r": [3.0, 4.0]}), tmp_path / "r.parquet")
    R, _ = load_csv(tmp_path / "r.parquet", user="u", item="i", rating="r")
    assert triples(R) == {(1, 5): 3.0, (2, 5): 4.0}


def test_integer_labels_encoded_like_unique():
    rng = np.random.default_rng(0)
    for ids in (rng.integers(0, 50, 300), rng.integers(10**9, 10**9 + 5, 300)):
        from lorank.data.ratings import _encode
        codes, uniq = _encode(ids, "users")
        u, c = np.unique(ids, return_inverse=True)
        np.testing.assert_array_equal(uniq, u)
        np.testing.assert_array_equal(codes, c)


def test_duplicated_pairs_can_be_resolved(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating\n1,2,4\n1,2,2\n3,2,5\n")
    with pytest.raises(ValueError, match=r'duplicate entry .*pass duplicates="mean" or "last"'):
        load_csv(tmp_path / "r.csv")
    R, _ = load_csv(tmp_path / "r.csv", duplicates="mean")
    assert triples(R) == {(1, 2): 3.0, (3, 2): 5.0}
    R, _ = lorank.datasets.load_ratings(tmp_path / "r.csv", duplicates="last")
    assert triples(R) == {(1, 2): 2.0, (3, 2): 5.0}


def test_csv_header_with_byte_order_mark(tmp_path):
    (tmp_path / "r.csv").write_bytes("\ufeffuser,item,rating\n1,2,4\n3,2,5\n".encode("utf-8"))
    R, _ = load_csv(tmp_path / "r.csv", user="user", item="item", rating="rating")
    assert triples(R) == {(1, 2): 4.0, (3, 2): 5.0}


def test_string_ids_with_a_multicharacter_delimiter(tmp_path):
    (tmp_path / "r.dat").write_text("alice::matrix::5\nbob::matrix::3\nalice::heat::4\n")
    R, _ = load_csv(tmp_path / "r.dat", delimiter="::", header=False)
    assert R.row_labels.tolist() == ["alice", "bob"]
    assert triples(R) == {("alice", "matrix"): 5.0, ("bob", "matrix"): 3.0,
                          ("alice", "heat"): 4.0}
    (tmp_path / "bad.dat").write_text("alice::matrix::5\nbob::matrix\n")
    with pytest.raises(ValueError, match=r"bad\.dat line 2: expected at least 3 fields separated by '::'"):
        load_csv(tmp_path / "bad.dat", delimiter="::", header=False)


# ---------------------------------------------------------------- files by header


@pytest.mark.parametrize("header, sep", [
    ("userId,movieId,rating,timestamp", ","),
    ("user_id,item_id,score", ","),
    ("User-ID;ISBN;Book-Rating", ";"),
    ("customer\tproduct\tstars", "\t"),
    ("UserID|ItemID|Rating|Timestamp", "|"),
])
def test_csv_columns_found_by_header_alias(tmp_path, header, sep):
    f = tmp_path / "r.txt"
    rows = [("5", "10", "4.5", "100"), ("5", "11", "1", "200"), ("6", "10", "2", "300")]
    n = len(header.split(sep))
    f.write_text("\n".join([header] + [sep.join(r[:n]) for r in rows]) + "\n")
    R, _ = load_csv(f, delimiter=sep)
    assert triples(R) == {(5, 10): 4.5, (5, 11): 1.0, (6, 10): 2.0}


def test_csv_header_item_user_rating_loads_the_right_way_round(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("item,user,rating\n10,5,4\n11,5,1\n10,6,2\n10,7,3\n")
    R, _ = load_csv(f)
    assert R.row_labels.tolist() == [5, 6, 7] and R.col_labels.tolist() == [10, 11]
    assert triples(R) == {(5, 10): 4.0, (5, 11): 1.0, (6, 10): 2.0, (7, 10): 3.0}
    assert triples(lorank.datasets.load_ratings(f).ratings) == triples(R)


def test_csv_written_by_pandas_with_its_index(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"userId": [7, 7, 9], "movieId": [1, 3, 3], "rating": [4.0, 4.5, 0.5]},
                      index=[100, 101, 102])
    df.to_csv(tmp_path / "x.csv")  # keeps the index as an unnamed first column
    R, _ = load_csv(tmp_path / "x.csv")
    assert triples(R) == {(7, 1): 4.0, (7, 3): 4.5, (9, 3): 0.5}
    df.rename_axis("index").to_csv(tmp_path / "named.csv")
    assert triples(load_csv(tmp_path / "named.csv").ratings) == triples(R)
    with pytest.raises(ValueError, match=r"user=0 is column 0 of x\.csv, an unnamed index "
                       r"column .*DataFrame\.to_csv"):
        load_csv(tmp_path / "x.csv", user=0, item=1, rating=2)


def test_csv_header_detected_and_headerless_files_positional(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("1,10,4\n2,10,5\n")  # no header: the first line is data
    R, _ = load_csv(f)
    assert triples(R) == {(1, 10): 4.0, (2, 10): 5.0}
    g = tmp_path / "s.csv"
    g.write_text("ann,Heat,4\nbob,Up,5\n")  # string ids, numeric rating: data
    assert triples(load_csv(g).ratings) == {("ann", "Heat"): 4.0, ("bob", "Up"): 5.0}
    # positional: user, item, rating in fields 0, 1, 2 unless told otherwise
    assert triples(load_csv(f, user=1, item=0).ratings) == {(10, 1): 4.0, (10, 2): 5.0}
    with pytest.raises(ValueError, match=r"user='user' names a column, but r\.csv has no header"):
        load_csv(f, user="user")


def test_csv_unknown_or_ambiguous_header_names_refused(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match=r"r\.csv: no column of the header \['a', 'b', 'c'\] "
                       r"looks like the user id .*pass user="):
        load_csv(f)
    assert triples(load_csv(f, user="a", item="b", rating="c").ratings) == {(1, 2): 3.0}
    f.write_text("user,user_id,item,rating\n1,1,2,3\n")
    with pytest.raises(ValueError, match=r"columns 'user' and 'user_id' both look like the "
                       r"user id; pass user="):
        load_csv(f)


def test_csv_times_kept_by_name_and_position(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("timestamp,item,user,rating\n300,10,5,4\n100,11,5,1\n200,10,6,2\n")
    users, items, values, times = loaders._read_csv(f)
    assert users.tolist() == [5, 5, 6] and items.tolist() == [10, 11, 10]
    assert times.tolist() == [300, 100, 200] and times.dtype == np.int64
    g = tmp_path / "s.csv"
    g.write_text("ann,Heat,4,2005-09-06\nbob,Up,5,2004-01-01\n")
    *_, times = loaders._read_csv(g, time=3)
    assert times.tolist() == [np.datetime64("2005-09-06"), np.datetime64("2004-01-01")]
    *_, times = loaders._read_csv(g)
    assert times is None  # headerless: only by position
    g.write_text("user,item,rating,time\nann,Heat,4,soon\n")
    with pytest.raises(ValueError, match=r"s\.csv: column 3 \('time'\) holds neither numbers "
                       r"nor ISO dates: 'soon'"):
        loaders._read_csv(g)


@pytest.mark.parametrize("layout", ["100k", "1m", "csv"])
def test_movielens_times_kept(tmp_path, layout):
    name, data = {"100k": ("u.data", U_DATA), "1m": ("ratings.dat", RATINGS_DAT),
                  "csv": ("ratings.csv", RATINGS_CSV)}[layout]
    (tmp_path / name).write_text(data)
    users, items, values, times = loaders._read_movielens(tmp_path / name)
    sep = {"100k": "\t", "1m": "::", "csv": ","}[layout]
    lines = data.splitlines()[1:] if layout == "csv" else data.splitlines()
    assert times.tolist() == [int(ln.split(sep)[3]) for ln in lines]
    assert users.tolist() == [int(ln.split(sep)[0]) for ln in lines]


def test_netflix_dates_kept(tmp_path):
    expected = write_combined(tmp_path)
    files, _ = loaders._netflix_files(tmp_path)
    movie, user, rating, day = loaders.parse_netflix(files, times=True)
    dates = {}
    movie_id = None
    for line in (COMBINED_1 + "\n" + COMBINED_2.replace("\r", "")).splitlines():
        if line.endswith(":"):
            movie_id = int(line[:-1])
        elif line:
            c, _, d = line.split(",")
            dates[(int(c), movie_id)] = np.datetime64(d)
    assert day.dtype == np.dtype("datetime64[D]")
    assert {(int(c), int(m)): t for m, c, t in zip(movie, user, day)} == dates
    assert len(dates) == len(expected)
    (tmp_path / "combined_data_2.txt").write_text("3:\n7,5,2005-13-01\n")
    with pytest.raises(ValueError, match=r"combined_data_2\.txt line 2: expected "
                       r"CustomerID,Rating,Date \(YYYY-MM-DD\)"):
        loaders.parse_netflix(loaders._netflix_files(tmp_path)[0], times=True)


@pytest.mark.parametrize("path", ["grouped", "general"])
def test_load_netflix_keeps_every_date_on_both_paths(tmp_path, monkeypatch, path):
    """load_netflix keeps the parser's int32 days until the last gather widens them
    to datetime64[D] (the grouped fast path), or widens them first (the general
    path, e.g. after a repeated rating): the same dates, per rating, either way."""
    from lorank.data import ratings as rt

    write_combined(tmp_path)
    movie, user, _, day = loaders.parse_netflix(loaders._netflix_files(tmp_path)[0],
                                                times=True)
    expected = {(int(u), int(m)): t for m, u, t in zip(movie, user, day)}
    if path == "general":
        monkeypatch.setattr(rt, "_from_grouped", lambda *a: None)
    R, _ = load_netflix(tmp_path)
    assert R.times.dtype == np.dtype("datetime64[D]")
    assert timed_triples(R) == expected


def test_format_netflix_row_indices_past_int32(tmp_path):
    """Row indices >= 2**31 (int64 in a Ratings that large) are used as they
    are: narrowing them to int32 would wrap to negative positions."""
    big = 2**31 + 5
    users = np.memmap(tmp_path / "ids.bin", dtype=np.int64, mode="w+", shape=(big + 1,))
    users[big] = 42  # a sparse file: only this page is written
    rows = np.array([3, big], dtype=np.int64)
    users[3] = 7
    out = np.empty(200, np.uint8)
    n = lorank._kernels._parse.format_netflix(np.array([0, 2], np.int64), rows,
                                     np.array([4.0, 5.0], np.float32), 0, 1,
                                     np.array([9], np.int64), users,
                                     np.frombuffer(b"2005-01-01", np.uint8), out)
    assert out[:n].tobytes() == b"9:\n7,4,2005-01-01\n42,5,2005-01-01\n"
    del users


def test_write_netflix_format_passes_row_indices_unnarrowed(tmp_path, monkeypatch):
    seen = []
    real = lorank._kernels._parse.format_netflix

    def spy(indptr, rows, *args):
        seen.append(rows)
        return real(indptr, rows, *args)

    monkeypatch.setattr(lorank._kernels._parse, "format_netflix", spy)
    R = lorank.Ratings([0, 1, 1], [0, 0, 1], [3.0, 5.0, 1.0])
    write_netflix_format(R, tmp_path)
    assert seen and all(r is R.csc.indices for r in seen)
    with pytest.raises(ValueError, match=r"date must be a date YYYY-MM-DD, got '2005-02-30'"):
        write_netflix_format(R, tmp_path, date="2005-02-30")


def test_parquet_columns_by_name_like_a_header(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"movieId": [1, 3, 3], "userId": [7, 7, 9], "rating": [4.0, 4.5, 0.5],
                       "timestamp": [30, 10, 20]}, index=[5, 6, 7])
    df.to_parquet(tmp_path / "r.parquet")  # keeps the index as __index_level_0__
    R, _ = load_csv(tmp_path / "r.parquet")
    assert triples(R) == {(7, 1): 4.0, (7, 3): 4.5, (9, 3): 0.5}
    pd.DataFrame({"a": [1], "b": [2], "c": [3.0]}).to_parquet(tmp_path / "s.parquet")
    with pytest.raises(ValueError, match=r"s\.parquet: no column of the header .* looks like "
                       r"the user id"):
        load_csv(tmp_path / "s.parquet")
    R, _ = load_csv(tmp_path / "s.parquet", user="a", item=1, rating="c")
    assert triples(R) == {(1, 2): 3.0}


def test_headerless_file_with_a_pandas_index_is_refused(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [7, 7, 9, 9], "item": [1, 3, 3, 4], "rating": [4.0, 4.5, 0.5, 2]})
    df.to_csv(tmp_path / "x.csv", header=False)  # 0,7,1,4.0 ...
    with pytest.raises(ValueError, match=r"x\.csv: field 0 counts the lines \(0, 1, 2, \.\.\.\): "
                       r"an index column"):
        load_csv(tmp_path / "x.csv")
    R, _ = load_csv(tmp_path / "x.csv", user=1, item=2, rating=3)
    assert triples(R) == {(7, 1): 4.0, (7, 3): 4.5, (9, 3): 0.5, (9, 4): 2.0}
    df.to_csv(tmp_path / "y.csv", header=False, index=False)
    assert triples(load_csv(tmp_path / "y.csv").ratings) == triples(R)


# ---------------------------------------------------------------- times on Ratings


def timed_triples(R):
    """{(user label, item label): time} of a labelled Ratings with times."""
    rows, cols, _ = R.coo()
    return {(R.row_labels[i].item(), R.col_labels[j].item()): t
            for i, j, t in zip(rows, cols, R.times.tolist())}


def test_loaders_put_the_times_on_ratings(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("timestamp,item,user,rating\n300,10,5,4\n100,11,5,1\n200,10,6,2\n")
    R, _ = load_csv(f)
    assert timed_triples(R) == {(5, 10): 300, (5, 11): 100, (6, 10): 200}
    assert load_csv(f, time=False).ratings.times is None
    (tmp_path / "u.data").write_text(U_DATA)
    R, _ = load_movielens(tmp_path)
    assert timed_triples(R) == {(int(u), int(i)): int(t) for u, i, _, t in
                                (ln.split("\t") for ln in U_DATA.splitlines())}
    assert load_movielens(tmp_path, times=False).ratings.times is None
    write_combined(tmp_path / "nf")
    R, _ = load_netflix(tmp_path / "nf")
    assert R.times.dtype == np.dtype("datetime64[D]")
    assert timed_triples(R)[(822109, 2)] == np.datetime64("2004-01-01")
    assert timed_triples(R)[(7, 10)] == np.datetime64("2001-01-01")
    assert load_netflix(tmp_path / "nf", times=False).ratings.times is None
    train, test = R.split(0.5, random_state=0)
    assert train.times is not None and len(train.times) == train.nnz
