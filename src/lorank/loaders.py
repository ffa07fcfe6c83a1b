"""Readers for real rating files: MovieLens, the Netflix Prize layout, any
delimited file or Parquet; and a writer of the Netflix layout.

Every loader returns a :class:`Dataset`: a labelled :class:`lorank.Ratings`
(row labels = user ids, column labels = item ids, as in the files) and a titles
table (``dict`` item id -> title) or ``None``. Numeric files are parsed by
compiled code (``_parse.pyx``); a malformed line raises ``ValueError`` naming the
file and line, and nothing is silently dropped (blank lines hold nothing and
are skipped).
"""

import csv
import io
import mmap
import re
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from . import _parse
from ._threads import effective_n_threads
from ._validation import as_float_dtype

__all__ = [
    "Dataset",
    "detect_format",
    "load_csv",
    "load_movielens",
    "load_netflix",
    "load_ratings",
    "load_titles",
    "write_netflix_format",
]

# Netflix text is split into chunks of about this many bytes (at line starts);
# a fixed size, so the chunking never depends on the thread count.
_CHUNK_BYTES = 8 << 20
_BAD_LINE, _NO_MOVIE, _TOO_BIG, _FEW_FIELDS, _BAD_FIELD = 1, 2, 3, 4, 5
_NETFLIX_LINE = "expected MovieID: or CustomerID,Rating,Date"


class Dataset(NamedTuple):
    """A loaded data set: ``ratings`` (labelled :class:`lorank.Ratings`) and
    ``titles`` (``dict`` item id -> title, or ``None``). Unpacks as a pair."""

    ratings: object
    titles: Optional[dict]


# ---------------------------------------------------------------- helpers


def _existing(path, what="path"):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    return path


def _line_at(data, pos):
    """(1-based line number, text of the line) of the line starting at byte pos."""
    line = data.count(b"\n", 0, pos) + 1 if isinstance(data, bytes) else (
        int(np.count_nonzero(data[:pos] == 10)) + 1)
    end = bytes(data[pos:pos + 200]).split(b"\n", 1)[0].rstrip(b"\r")
    return line, end.decode("latin-1")


def _decode(raw):
    """Text files of rating sets are UTF-8 (newer) or latin-1 (older)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _ratings(users, items, values, dtype, source, duplicates="error"):
    from .ratings import Ratings

    if len(values) == 0:
        raise ValueError(f"no ratings in {source}")
    return Ratings.from_labels(users, items, values, dtype=as_float_dtype(dtype),
                               duplicates=duplicates)


# ---------------------------------------------------------------- delimited numeric


def _read_delimited(path, delimiter, columns, header, *, string_ids=False):
    """Integer user/item ids and float ratings from a delimited file, by the
    compiled parser. With ``string_ids``, ``None`` if an id is not an integer
    (the caller falls back to string labels). Errors name the file and line."""
    data = path.read_bytes()
    start = data.find(b"\n") + 1 if header else 0
    if header and start == 0:
        start = len(data)
    n = data.count(b"\n", start) + 1
    users, items = np.empty(n, np.int64), np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    got = _parse.delimited(data, start, delimiter.encode(), *columns, users, items, values)
    if isinstance(got, tuple):
        code, pos, field = got
        line, text = _line_at(data, pos)
        if code == _BAD_FIELD and field != columns[2] and string_ids:
            return None
        which = dict(zip(columns, ("user id", "item id", "rating")))[field] if code == _BAD_FIELD else None
        kind = "a number" if field == columns[2] else "an integer"
        what = (f"{kind} in field {field} ({which})" if which
                else f"at least {max(columns) + 1} fields separated by {delimiter!r}")
        raise ValueError(f"{path.name} line {line}: expected {what}, got {text!r}")
    return users[:got], items[:got], values[:got]


def _read_text_columns(path, delimiter, columns, header, encoding="utf-8-sig"):
    """The slow path for non-numeric ids: the csv module, labels kept as strings."""
    users, items, values = [], [], []
    with open(path, newline="", encoding=encoding) as f:
        if len(delimiter) == 1:  # quoted fields allowed
            reader = csv.reader(f, delimiter=delimiter)
            rows = ((reader.line_num, row) for row in reader)
        else:  # the csv module takes one-character delimiters only
            rows = ((k, line.rstrip("\r\n").split(delimiter)) for k, line in enumerate(f, 1))
        for k, row in rows:
            if (header and k == 1) or not row or row == [""]:
                continue
            try:
                u, i, r = (row[c] for c in columns)
                values.append(float(r))
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path.name} line {k}: expected user, item and a numeric "
                    f"rating in fields {columns}, got {delimiter.join(row)!r}"
                ) from None
            users.append(u)
            items.append(i)
    return _maybe_int(users), _maybe_int(items), np.array(values)


def _maybe_int(labels):
    """Integer ids as int64, anything else as strings."""
    labels = np.array(labels)
    try:
        return labels.astype(np.int64)
    except ValueError:
        return labels


# ---------------------------------------------------------------- MovieLens

_MOVIELENS = (  # ratings file, delimiter, header, titles file
    ("u.data", "\t", False, "u.item"),
    ("ratings.dat", "::", False, "movies.dat"),
    ("ratings.csv", ",", True, "movies.csv"),
)


def load_movielens(path, *, dtype=np.float32, duplicates="error"):
    """Load a MovieLens rating set and its movie titles.

    Reads the 100K ``u.data`` (tab separated: user, item, rating, timestamp),
    the 1M/10M ``ratings.dat`` (``::`` separated) or the ``ratings.csv`` of the
    newer sets (header ``userId,movieId,rating,timestamp``, half stars). The
    layout is detected from the first line; ``path`` may be the file or its
    folder. Titles come from ``u.item`` (pipe separated), ``movies.dat`` or
    ``movies.csv`` next to the ratings, when present (UTF-8, else latin-1).

    Parameters
    ----------
    path : str or os.PathLike
        A ratings file, or a folder holding one of the files above.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Dtype of the rating values.

    Returns
    -------
    Dataset
        ``(ratings, titles)``: a :class:`lorank.Ratings` whose ``row_labels``
        are the user ids and ``col_labels`` the movie ids of the file, and a
        ``dict`` movie id -> title (``None`` without a titles file).

    Examples
    --------
    >>> import pathlib, tempfile, lorank
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "u.data").write_text("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n")
    >>> _ = (d / "u.item").write_bytes(b"242|Kolya (1996)|24-Jan-1997||\\n302|L.A. Confidential (1997)|||\\n")
    >>> R, titles = lorank.datasets.load_movielens(d)
    >>> R.row_labels.tolist(), R.col_labels.tolist(), titles[302]
    ([186, 196], [242, 302], 'L.A. Confidential (1997)')
    """
    path = _existing(path)
    if path.is_dir():
        found = [path / name for name, *_ in _MOVIELENS if (path / name).is_file()]
        if not found:
            names = ", ".join(name for name, *_ in _MOVIELENS)
            raise FileNotFoundError(f"no MovieLens ratings file ({names}) in {str(path)!r}")
        path = found[0]
    with open(path, "rb") as f:
        first = f.readline()
    if b"::" in first:
        delimiter, header, titles_name = "::", False, "movies.dat"
    elif b"\t" in first:
        delimiter, header, titles_name = "\t", False, "u.item"
    elif b"," in first:
        header = not first[:1].isdigit()
        delimiter, titles_name = ",", "movies.csv"
    elif not first.strip():
        raise ValueError(f"no ratings in {path.name}")
    else:
        raise ValueError(
            f"{path.name} line 1: expected a MovieLens ratings line (user, item, rating "
            f"separated by tab, '::' or ','), got {_decode(first.rstrip())!r}"
        )
    parsed = _read_delimited(path, delimiter, (0, 1, 2), header)
    ratings = _ratings(*parsed, dtype, path.name, duplicates)
    titles_path = path.parent / titles_name
    titles = _movielens_titles(titles_path) if titles_path.is_file() else None
    return Dataset(ratings, titles)


def _movielens_titles(path):
    text = _decode(path.read_bytes())
    titles = {}
    if path.suffix == ".csv":
        rows = csv.reader(io.StringIO(text))
        next(rows, None)
    else:
        sep = "|" if path.name == "u.item" else "::"
        rows = (line.split(sep) for line in text.splitlines() if line.strip())
    for k, row in enumerate(rows, start=2 if path.suffix == ".csv" else 1):
        try:
            titles[int(row[0])] = row[1]
        except (IndexError, ValueError):
            raise ValueError(
                f"{path.name} line {k}: expected movie id and title, got {row!r}"
            ) from None
    return titles


# ---------------------------------------------------------------- Netflix


def _netflix_files(path):
    """(rating files in order, titles file or None)."""
    if path.is_file():
        files, top = [path], path.parent
    else:
        files = sorted(path.glob("combined_data_*.txt"), key=_natural)
        top = path
        if not files:
            folder = path / "training_set" if (path / "training_set").is_dir() else path
            files = sorted(folder.glob("mv_*.txt"), key=_natural)
            if folder.name == "training_set" and folder != path:
                top = path
            elif folder.name == "training_set":
                top = path.parent
        if not files:
            raise FileNotFoundError(
                f"no Netflix rating files (combined_data_*.txt or training_set/mv_*.txt) "
                f"in {str(path)!r}"
            )
    titles = top / "movie_titles.csv"
    return files, titles if titles.is_file() else None


def _natural(p):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _read_all(files):
    """All files into one byte buffer; (buffer, file start offsets)."""
    sizes = [f.stat().st_size for f in files]
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    view = memoryview(buf)
    for f, lo, size in zip(files, offsets[:-1], sizes):
        with open(f, "rb", buffering=0) as fh:
            got = 0
            while got < size:
                n = fh.readinto(view[lo + got:lo + size])
                if not n:
                    raise OSError(f"{f} shrank while being read")
                got += n
    return buf, offsets


def _chunks(buf, offsets):
    """Chunk bounds at line starts, about _CHUNK_BYTES each, never across files."""
    starts, ends, opens = [], [], []
    for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        s, first = lo, True
        while s < hi or first:
            e = min(s + _CHUNK_BYTES, hi)
            if e < hi:
                nl = np.flatnonzero(buf[e:min(e + (1 << 20), hi)] == 10)
                e = e + int(nl[0]) + 1 if nl.size else hi
                if not nl.size:  # a line longer than 1 MB: find its end the slow way
                    rest = np.flatnonzero(buf[e:hi] == 10)
                    e = e + int(rest[0]) + 1 if rest.size else hi
            starts.append(s)
            ends.append(e)
            opens.append(first)
            s, first = e, False
    return (np.array(starts, np.int64), np.array(ends, np.int64), np.array(opens, np.uint8))


def parse_netflix(files, *, n_threads=None):
    """Parse Netflix-format rating files into ``(movie, customer, rating)``
    arrays (int32, int32, float32) in file order; see :func:`load_netflix`.

    Big files (the combined layout) are memory-mapped and parsed one at a time
    in parallel chunks; many small files (``training_set/``) are read into one
    buffer and parsed in parallel over files."""
    files = [_existing(f, "file") for f in files]
    n_threads = effective_n_threads(n_threads)
    sizes = [f.stat().st_size for f in files]
    if sum(sizes) < 64 * _CHUNK_BYTES * len(files):
        return _parse_buffer(files, *_read_all(files), n_threads)
    parts = []
    for f, size in zip(files, sizes):
        if size == 0:
            continue
        with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            buf = np.frombuffer(mm, dtype=np.uint8)
            try:
                parts.append(_parse_buffer([f], buf, np.array([0, size]), n_threads))
            finally:
                del buf  # release the export before the map closes
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32))
    return tuple(np.concatenate(a) for a in zip(*parts))


def _parse_buffer(files, buf, offsets, n_threads):
    starts, ends, opens = _chunks(buf, offsets)
    got = _parse.netflix(buf, starts, ends, opens, n_threads)
    if len(got) == 2:
        code, pos = got
        k = int(np.searchsorted(offsets, pos, side="right")) - 1
        lo = int(offsets[k])
        line, text = _line_at(buf[lo:int(offsets[k + 1])], pos - lo)
        where = f"{files[k].name} line {line}"
        if code == _NO_MOVIE:
            raise ValueError(f"{where}: rating line {text!r} before any MovieID: line")
        if code == _TOO_BIG:
            raise ValueError(f"{where}: id in {text!r} does not fit in int32")
        expected = "MovieID:" if ":" in text and "," not in text else "CustomerID,Rating,Date"
        raise ValueError(f"{where}: expected {expected}, got {text!r}")
    return got


def load_netflix(path, *, dtype=np.float32, n_threads=None, duplicates="error"):
    """Load the Netflix Prize training set (or any file in its layout).

    Reads the ``combined_data_*.txt`` files, or a ``training_set/`` folder of
    ``mv_*.txt`` files: each holds ``MovieID:`` lines, each followed by
    ``CustomerID,Rating,Date`` lines (the date is not kept). Titles come from
    ``movie_titles.csv`` (latin-1, ``MovieID,YearOfRelease,Title``; titles may
    contain commas, the year may be ``NULL``) when present. The files are
    parsed in parallel by compiled code, over files and over chunks of large
    files; the result does not depend on ``n_threads``.

    Parameters
    ----------
    path : str or os.PathLike
        The data folder (holding ``combined_data_*.txt`` or ``training_set/``),
        the ``training_set`` folder itself, or one rating file.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Dtype of the rating values.
    n_threads : int, default=None
        Threads to parse with (``None``: all usable cores).

    Returns
    -------
    Dataset
        ``(ratings, titles)``: users (customer ids) x movies (movie ids), and a
        ``dict`` movie id -> title or ``None``.

    Raises
    ------
    ValueError
        On a malformed line, naming the file and line number.

    Examples
    --------
    >>> import pathlib, tempfile, lorank
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "combined_data_1.txt").write_text("1:\\n1488844,3,2005-09-06\\n822109,5,2005-05-13\\n")
    >>> _ = (d / "movie_titles.csv").write_bytes(b"1,2003,Dinosaur Planet\\n")
    >>> R, titles = lorank.datasets.load_netflix(d)
    >>> R.row_labels.tolist(), R.col_labels.tolist(), titles[1]
    ([822109, 1488844], [1], 'Dinosaur Planet')
    """
    path = _existing(path)
    files, titles_path = _netflix_files(path)
    movie, user, rating = parse_netflix(files, n_threads=n_threads)
    source = files[0].name if len(files) == 1 else f"{len(files)} files in {path.name}"
    ratings = _ratings(user, movie, rating, dtype, source, duplicates)
    return Dataset(ratings, _netflix_titles(titles_path) if titles_path else None)


def _netflix_titles(path):
    titles = {}
    for k, line in enumerate(path.read_bytes().decode("latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",", 2)
        try:
            if len(parts) != 3:
                raise ValueError
            titles[int(parts[0])] = parts[2]
        except ValueError:
            raise ValueError(
                f"{path.name} line {k}: expected MovieID,YearOfRelease,Title, got {line!r}"
            ) from None
    return titles


# ---------------------------------------------------------------- any delimited file


def load_csv(path, *, user=0, item=1, rating=2, delimiter=",", header=True,
             dtype=np.float32, duplicates="error"):
    """Load ratings from any delimited text file, or a Parquet file.

    Parameters
    ----------
    path : str or os.PathLike
        A delimited text file, or a ``.parquet`` file (needs pyarrow).
    user, item, rating : int or str, default=0, 1, 2
        Columns holding the user id, item id and rating: an index, or a name
        from the header line.
    delimiter : str, default=","
        Field separator (one or more characters).
    header : bool, default=True
        Whether the first line names the columns.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    duplicates : {"error", "mean", "last"}, default="error"
        A repeated (user, item) pair: see :class:`lorank.Ratings`. The
        MovieLens and Netflix loaders take it too.
        Dtype of the rating values.

    Returns
    -------
    Dataset
        ``(ratings, None)``: integer ids stay integers, other ids are strings.

    Examples
    --------
    >>> import pathlib, tempfile, lorank
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = f.write_text("who,what,stars\\nann,7,4.5\\nbob,3,2\\n")
    >>> R, _ = lorank.datasets.load_csv(f, user="who", item="what", rating="stars")
    >>> R.row_labels.tolist(), R.col_labels.tolist(), R.csr.values.tolist()
    (['ann', 'bob'], [3, 7], [4.5, 2.0])
    """
    path = _existing(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return _load_parquet(path, user, item, rating, dtype, duplicates)
    if not isinstance(delimiter, str) or not delimiter:
        raise ValueError(f"delimiter must be a non-empty string, got {delimiter!r}")
    columns = _columns(path, (user, item, rating), delimiter, header)
    parsed = _read_delimited(path, delimiter, columns, header, string_ids=True)
    if parsed is None:
        parsed = _read_text_columns(path, delimiter, columns, header)
    return Dataset(_ratings(*parsed, dtype, path.name, duplicates), None)


def _columns(path, wanted, delimiter, header):
    names = None
    if header:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            first = f.readline().rstrip("\r\n")
        names = [n.strip().strip('"') for n in first.split(delimiter)]
    out = []
    for arg, c in zip(("user", "item", "rating"), wanted):
        if isinstance(c, str):
            if names is None:
                raise ValueError(f"{arg}={c!r} names a column, but header=False")
            if c not in names:
                raise ValueError(f"{arg}={c!r} is not a column of {path.name}; columns: {names}")
            c = names.index(c)
        elif isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise ValueError(f"{arg} must be a column name or index >= 0, got {c!r}")
        out.append(int(c))
    if len(set(out)) != 3:
        raise ValueError(f"user, item and rating must be different columns, got {out}")
    return tuple(out)


def _load_parquet(path, user, item, rating, dtype, duplicates):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "reading Parquet needs pyarrow: pip install pyarrow (or lorank[parquet])"
        ) from None
    table = pq.read_table(path)
    names = table.column_names
    cols = [names[c] if isinstance(c, int) else c for c in (user, item, rating)]
    for arg, c in zip(("user", "item", "rating"), cols):
        if c not in names:
            raise ValueError(f"{arg}={c!r} is not a column of {path.name}; columns: {names}")
    u, i, r = (table.column(c).to_numpy() for c in cols)
    return Dataset(_ratings(u, i, r, dtype, path.name, duplicates), None)


# ---------------------------------------------------------------- writer


def write_netflix_format(ratings, folder, *, layout="combined", date="2005-01-01"):
    """Write ratings in the Netflix Prize layout (for benchmarks and tests).

    Columns are movies, rows customers: ids are the labels of a labelled
    ``Ratings`` (non-negative integers), else index + 1 as in the real data.
    Every line gets the same placeholder ``date``. Ratings must be integers.
    Written by compiled code in blocks of about 64 MB.

    Parameters
    ----------
    ratings : lorank.Ratings
    folder : str or os.PathLike
        Created if missing.
    layout : {"combined", "training_set"}, default="combined"
        One ``combined_data_1.txt``, or ``training_set/mv_XXXXXXX.txt`` per movie.
    date : str, default="2005-01-01"

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile, lorank
    >>> R = lorank.Ratings([0, 1, 1], [0, 0, 1], [3.0, 5.0, 1.0])
    >>> d = tempfile.mkdtemp()
    >>> [f.name for f in lorank.datasets.write_netflix_format(R, d)]
    ['combined_data_1.txt']
    >>> lorank.datasets.load_netflix(d).ratings.csr.values.tolist()
    [3.0, 5.0, 1.0]
    """
    from .ratings import Ratings

    if not isinstance(ratings, Ratings):
        raise TypeError(f"ratings must be a lorank.Ratings, got {type(ratings).__name__}")
    if layout not in ("combined", "training_set"):
        raise ValueError(f"layout must be 'combined' or 'training_set', got {layout!r}")
    values = ratings.csc.values
    if not np.array_equal(values, np.round(values)):
        bad = values[np.flatnonzero(values != np.round(values))[0]]
        raise ValueError(f"the Netflix format holds integer ratings, got {bad}")
    if values.size and values.min() < 0:
        raise ValueError(f"the Netflix format holds ratings >= 0, got {values.min()}")
    if values.size and values.max() >= 1e9:  # the line buffer holds 9 digits
        raise ValueError(f"the Netflix format holds ratings below 1e9, got {values.max()}")
    users = _ids(ratings.row_labels, ratings.shape[0], "row_labels")
    movies = _ids(ratings.col_labels, ratings.shape[1], "col_labels")
    date_b = np.frombuffer(date.encode("ascii"), dtype=np.uint8)
    if b"\n" in date.encode() or b"," in date.encode():
        raise ValueError(f"date must not contain commas or newlines, got {date!r}")
    indptr, rows = ratings.csc.indptr, ratings.csc.indices.astype(np.int32, copy=False)
    folder = Path(folder)
    per_line, per_col = 36 + len(date_b), 21
    if layout == "training_set":
        folder = folder / "training_set"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for j in range(ratings.shape[1]):
            out = np.empty(per_col + per_line * int(indptr[j + 1] - indptr[j]), np.uint8)
            n = _parse.format_netflix(indptr, rows, values, j, j + 1, movies, users, date_b, out)
            p = folder / f"mv_{movies[j]:07d}.txt"
            p.write_bytes(out[:n])
            paths.append(p)
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "combined_data_1.txt"
    budget = 64 << 20
    out = np.empty(budget, np.uint8)
    with open(path, "wb") as f:
        j = 0
        while j < ratings.shape[1]:
            # as many columns as fit the buffer (a huge column gets its own)
            lim = indptr[j] + (budget - per_col * 1024) // per_line
            hi = max(j + 1, min(int(np.searchsorted(indptr, lim, side="right")) - 1,
                                j + 1024, ratings.shape[1]))
            need = per_col * (hi - j) + per_line * int(indptr[hi] - indptr[j])
            if need > out.size:
                out = np.empty(need, np.uint8)
            n = _parse.format_netflix(indptr, rows, values, j, hi, movies, users, date_b, out)
            f.write(memoryview(out)[:n])
            j = hi
    return [path]


def _ids(labels, size, name):
    if labels is None:
        return np.arange(1, size + 1, dtype=np.int64)
    if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise ValueError(f"the Netflix format needs non-negative integer ids; {name} "
                         f"has dtype {labels.dtype}")
    return np.ascontiguousarray(labels, dtype=np.int64)


def detect_format(path):
    """``"netflix"``, ``"movielens"`` or ``"csv"``: the layout of a ratings path.

    A folder holding ``training_set/`` or ``combined_data_*.txt`` (or a file
    named like those, or ``mv_*.txt``) is the Netflix Prize layout; a folder
    holding, or a file named, ``u.data``, ``ratings.dat`` or ``ratings.csv`` is
    MovieLens; any other file is read as delimited text.

    Examples
    --------
    >>> import pathlib, tempfile, lorank
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "combined_data_1.txt").write_text("1:\\n6,3,2005-09-06\\n")
    >>> lorank.datasets.detect_format(d)
    'netflix'
    """
    path = _existing(path)
    names = [p.name for p in path.iterdir()] if path.is_dir() else [path.name]
    if any(n == "training_set" or re.fullmatch(r"(combined_data_\d+|mv_\d+)\.txt", n)
           for n in names):
        return "netflix"
    if any(n in {name for name, *_ in _MOVIELENS} for n in names):
        return "movielens"
    if path.is_dir():
        raise ValueError(
            f"no ratings found in folder {str(path)!r}: expected MovieLens (u.data, "
            "ratings.dat, ratings.csv) or Netflix Prize (training_set/, "
            "combined_data_*.txt) files"
        )
    return "csv"


def load_ratings(path, *, format="auto", dtype=np.float32, duplicates="error", **csv_options):
    """Load a ratings file or folder in any layout lorank reads.

    Parameters
    ----------
    path : str or os.PathLike
    format : {"auto", "movielens", "netflix", "csv"}, default="auto"
        ``"auto"`` uses :func:`detect_format`.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
    duplicates : {"error", "mean", "last"}, default="error"
        What to do with a repeated (user, item) pair.
    **csv_options
        Passed to :func:`load_csv` (``user``, ``item``, ``rating``,
        ``delimiter``, ``header``).

    Returns
    -------
    Dataset
        ``(ratings, titles)``.
    """
    loaders = {"movielens": load_movielens, "netflix": load_netflix}
    if format == "auto":
        format = detect_format(path)
    if format == "csv":
        return load_csv(path, dtype=dtype, duplicates=duplicates, **csv_options)
    if format not in loaders:
        raise ValueError(
            f'format must be "auto", "movielens", "netflix" or "csv", got {format!r}'
        )
    return loaders[format](path, dtype=dtype, duplicates=duplicates)


def load_titles(path):
    """Item titles from ``u.item``, ``movies.dat``, ``movies.csv`` (MovieLens) or
    ``movie_titles.csv`` (Netflix Prize): a ``dict`` item id -> title."""
    path = _existing(path, "titles file")
    if path.name == "movie_titles.csv":
        return _netflix_titles(path)
    return _movielens_titles(path)
