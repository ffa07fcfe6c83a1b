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
import math
import mmap
import re
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from .._kernels import _parse
from ._columns import ALIASES, ROLE_NAMES, matches, normalize
from .._threads import effective_n_threads
from .._validation import as_float_dtype

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
_BAD_LINE, _NO_MOVIE, _TOO_BIG, _FEW_FIELDS, _BAD_FIELD, _BAD_DATE = 1, 2, 3, 4, 5, 6
_NETFLIX_LINE = "expected MovieID: or CustomerID,Rating,Date"


class Dataset(NamedTuple):
    """A loaded data set: ``ratings`` (labelled :class:`lorank.Ratings`) and
    ``titles`` (``dict`` item id -> title, or ``None``). Unpacks as a pair."""

    ratings: object
    titles: Optional[dict]


# ---------------------------------------------------------------- helpers


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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


def _ratings(ids, values, dtype, source, duplicates="error", times=None, days=False):
    """The Ratings of ``ids = [users, items]`` (a list, emptied when the ids are
    no longer needed: see ``Ratings._from_ids``), values and times (``days``:
    int32 days since 1970, kept as datetime64[D])."""
    from .ratings import Ratings

    if len(values) == 0:
        raise ValueError(f"no ratings in {source}")
    return Ratings._from_ids(ids, values, times, as_float_dtype(dtype), duplicates, days)



# ---------------------------------------------------------------- delimited numeric


def _read_delimited(path, delimiter, columns, header, *, string_ids=False, data=None):
    """Integer user/item ids, float ratings and (when ``columns[3] >= 0``)
    integer times from a delimited file, by the compiled parser. With
    ``string_ids``, ``None`` if an id or a time is not an integer (the caller
    falls back to the text path). Errors name the file and line."""
    data = path.read_bytes() if data is None else data
    start = data.find(b"\n") + 1 if header else 0
    if header and start == 0:
        start = len(data)
    n = data.count(b"\n", start) + 1
    users, items = np.empty(n, np.int64), np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    times = np.empty(n if columns[3] >= 0 else 1, np.int64)
    got = _parse.delimited(data, start, delimiter.encode(), *columns, users, items, values,
                           times)
    if isinstance(got, tuple):
        code, pos, field = got
        line, text = _line_at(data, pos)
        roles = dict(zip(columns, ("user id", "item id", "rating", "timestamp")))
        if code == _TOO_BIG:
            raise ValueError(f"{path.name} line {line}: the {roles[field]} in field {field} "
                             f"does not fit in int64 (-2**63..2**63-1), got {_short(text)}")
        if code == _BAD_FIELD and string_ids:  # text ids, quotes: the text path decides
            return None
        which = roles[field] if code == _BAD_FIELD else None
        kind = "a number" if field == columns[2] else "an integer"
        what = (f"{kind} in field {field} ({which})" if which
                else f"at least {max(columns) + 1} fields separated by {delimiter!r}")
        raise ValueError(f"{path.name} line {line}: expected {what}, got {_short(text, 80)}")
    return users[:got], items[:got], values[:got], (times[:got] if columns[3] >= 0 else None)


def _read_text_columns(path, delimiter, columns, header, encoding="utf-8"):
    """The slow path for non-numeric ids (or quoted fields): the csv module,
    labels kept as strings, ratings by float(). Errors read as the compiled
    parser's."""
    users, items, values, times, lines = [], [], [], [], []
    col_time = columns[3]
    need = max(columns) + 1
    f = io.StringIO(_text(path, encoding), newline="")
    if len(delimiter) == 1:  # quoted fields allowed
        reader = csv.reader(f, delimiter=delimiter)
        rows = ((reader.line_num, row) for row in reader)
    else:  # the csv module takes one-character delimiters only
        rows = ((k, line.rstrip("\r\n").split(delimiter)) for k, line in enumerate(f, 1))
    try:
        for k, row in rows:
            if (header and k == 1) or not row or row == [""]:
                continue
            if len(row) < need:
                raise ValueError(f"{path.name} line {k}: expected at least {need} fields "
                                 f"separated by {delimiter!r}, got "
                                 f"{_short(delimiter.join(row), 80)}")
            r = row[columns[2]]
            try:
                v = float(r)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise ValueError(f"{path.name} line {k}: expected a number in field "
                                 f"{columns[2]} (rating), got {_short(delimiter.join(row), 80)}")
            values.append(v)
            users.append(row[columns[0]])
            items.append(row[columns[1]])
            if col_time >= 0:
                times.append(row[col_time])
            lines.append(k)
    except csv.Error as exc:
        line = reader.line_num
        if "field larger" in str(exc):
            raise ValueError(f"{path.name} line {line}: a field is longer than "
                             f"{csv.field_size_limit():,} characters; check the delimiter "
                             "and the quotes") from None
        raise ValueError(f"{path.name} line {line}: {exc}") from None
    names = _header_names(path, delimiter, encoding) if header else None
    times = _times_array(times, path, col_time, names) if col_time >= 0 else None
    return (_maybe_int(users, path, "user", lines), _maybe_int(items, path, "item", lines),
            np.array(values, dtype=np.float64), times)


def _text(path, encoding="utf-8"):
    """The file as text; bytes that are not ``encoding`` raise ValueError
    naming the file, line and byte."""
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(
            f"{path.name} line {line}: byte 0x{raw[exc.start]:02x} (column {col}) is not "
            f"{encoding} text; convert the file to {encoding} or pass encoding= "
            "(e.g. encoding=\"latin-1\")"
        ) from None
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    return text[1:] if text.startswith("\ufeff") else text


_INT = re.compile(r"\s*[+-]?\d+\s*")
_INT64 = (-(2**63), 2**63 - 1)


def _maybe_int(labels, path, role, lines):
    """Integer ids as int64, anything else as strings. An integer id beyond
    int64 is an error (it would otherwise become a string among integers)."""
    if labels and all(_INT.fullmatch(x) for x in labels):
        for k, x in enumerate(labels):
            if len(x) > 25 or not _INT64[0] <= int(x) <= _INT64[1]:
                raise ValueError(
                    f"{path.name} line {lines[k]}: {role} id {_short(x.strip())} does not "
                    "fit in int64 (-2**63..2**63-1)"
                )
        return np.array([int(x) for x in labels], dtype=np.int64)
    return _string_labels(labels, path, role, lines)


_MAX_LABEL = 4096  # characters: a longer "id" is a broken file (a missing newline)


def _string_labels(labels, path, role, lines):
    longest = max((len(x) for x in labels), default=0)
    if longest > _MAX_LABEL:
        k = next(k for k, x in enumerate(labels) if len(x) == longest)
        raise ValueError(
            f"{path.name} line {lines[k]}: {role} id is {longest:,} characters long "
            f"(more than {_MAX_LABEL:,}): {_short(labels[k])}; check the delimiter "
            "and the line ends"
        )
    return np.array(labels, dtype=str) if labels else np.array([], dtype=str)


def _short(text, n=40):
    text = str(text)
    return repr(text) if len(text) <= n else repr(text[:n]) + f"... ({len(text):,} characters)"


def _times_array(times, path, col, names=None):
    """Timestamps as written: int64 when every one is an integer, float64 when
    numbers, datetime64 for ISO dates; anything else is an error."""
    what = f"column {col}" + (f" ({names[col]!r})" if names and col < len(names) else "")
    try:
        return np.array([int(t) for t in times], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        out = np.array([float(t) for t in times], dtype=np.float64)
        if np.isfinite(out).all():
            return out
    except ValueError:
        pass
    try:
        return np.array([t.strip() for t in times], dtype="datetime64")
    except ValueError:
        pass
    bad = next((t for t in times if not _is_time(t)), times[0] if times else "")
    raise ValueError(f"{path.name}: {what} holds neither numbers nor ISO dates: {bad!r}")


def _is_time(t):
    try:
        float(t)
        return True
    except ValueError:
        pass
    try:
        np.datetime64(t.strip())
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- MovieLens

_MOVIELENS = (  # ratings file, delimiter, header, titles file
    ("u.data", "\t", False, "u.item"),
    ("ratings.dat", "::", False, "movies.dat"),
    ("ratings.csv", ",", True, "movies.csv"),
)


def load_movielens(path, *, dtype=np.float32, duplicates="error", times=True):
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
    duplicates : {"error", "mean", "last"}, default="error"
        A repeated (user, item) pair: see :class:`lorank.Ratings`.
    times : bool, default=True
        Keep the timestamps (Unix seconds, int64) as ``Ratings.times``.

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
    keep_times = _check_bool(times, "times")
    path = _existing(path)
    if path.is_dir():
        found = [path / name for name, *_ in _MOVIELENS if (path / name).is_file()]
        if not found:
            names = ", ".join(name for name, *_ in _MOVIELENS)
            raise FileNotFoundError(f"no MovieLens ratings file ({names}) in {str(path)!r}")
        path = found[0]
    users, items, values, times = _read_movielens(path)
    ratings = _ratings([users, items], values, dtype, path.name, duplicates,
                       times if keep_times else None)
    titles_name = {".dat": "movies.dat", ".csv": "movies.csv"}.get(_movielens_layout(path)[2],
                                                                    "u.item")
    titles_path = path.parent / titles_name
    titles = _movielens_titles(titles_path) if titles_path.is_file() else None
    return Dataset(ratings, titles)


def _movielens_layout(path):
    """(delimiter, header, kind) of a MovieLens ratings file, from its first line."""
    with open(path, "rb") as f:
        first = f.readline()
    if b"::" in first:
        return "::", False, ".dat"
    if b"\t" in first:
        return "\t", False, ".data"
    if b"," in first:
        return ",", not first[:1].isdigit(), ".csv"
    if not first.strip():
        raise ValueError(f"no ratings in {path.name}")
    raise ValueError(
        f"{path.name} line 1: expected a MovieLens ratings line (user, item, rating "
        f"separated by tab, '::' or ','), got {_decode(first.rstrip())!r}"
    )


def _read_movielens(path):
    """(users, items, values, times) of a MovieLens ratings file; times (Unix
    seconds, int64) when the lines have a fourth field, else None."""
    delimiter, header, _ = _movielens_layout(path)
    if header:
        columns = _columns(path, (None, None, None, None), delimiter, True)
    else:
        with open(path, "rb") as f:
            first = f.readline().rstrip(b"\r\n")
        fields = first.count(delimiter.encode()) + 1
        columns = (0, 1, 2, 3 if fields >= 4 else -1)
    return _read_delimited(path, delimiter, columns, header)


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


def parse_netflix(files, *, n_threads=None, times=False):
    """Parse Netflix-format rating files into ``(movie, customer, rating)``
    arrays (int32, int32, float32) in file order, plus the dates
    (``datetime64[D]``) when ``times``; see :func:`load_netflix`.

    Big files (the combined layout) are memory-mapped and parsed one at a time
    in parallel chunks; many small files (``training_set/``) are read into one
    buffer and parsed in parallel over files."""
    got = _parse_netflix(files, n_threads, times)
    if times:
        return (*got[:3], got[3].astype(np.int64).view("datetime64[D]"))
    return got


def _parse_netflix(files, n_threads, times):
    """``parse_netflix`` with the dates as the parser's int32 days since 1970."""
    files = [_existing(f, "file") for f in files]
    n_threads = effective_n_threads(n_threads)
    sizes = [f.stat().st_size for f in files]
    if sum(sizes) < 64 * _CHUNK_BYTES * len(files):
        return _parse_buffer(files, *_read_all(files), n_threads, times)
    parts = []
    for f, size in zip(files, sizes):
        if size == 0:
            continue
        with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            buf = np.frombuffer(mm, dtype=np.uint8)
            try:
                parts.append(_parse_buffer([f], buf, np.array([0, size]), n_threads, times))
            finally:
                del buf  # release the export before the map closes
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32)) + (
            (np.empty(0, np.int32),) if times else ())
    return tuple(np.concatenate(a) for a in zip(*parts))


def _parse_buffer(files, buf, offsets, n_threads, times=False):
    starts, ends, opens = _chunks(buf, offsets)
    got = _parse.netflix(buf, starts, ends, opens, n_threads, times)
    if len(got) == 2:
        code, pos = got
        k = int(np.searchsorted(offsets, pos, side="right")) - 1
        lo = int(offsets[k])
        line, text = _line_at(buf[lo:int(offsets[k + 1])], pos - lo)
        where = f"{files[k].name} line {line}"
        if code == _NO_MOVIE:
            raise ValueError(f"{where}: rating line {text!r} before any MovieID: line")
        if code == _TOO_BIG:
            raise ValueError(f"{where}: id in {_short(text)} does not fit in int32")
        if code == _BAD_DATE:
            raise ValueError(f"{where}: expected CustomerID,Rating,Date (YYYY-MM-DD), "
                             f"got {_short(text)}")
        expected = "MovieID:" if ":" in text and "," not in text else "CustomerID,Rating,Date"
        raise ValueError(f"{where}: expected {expected}, got {_short(text, 80)}")
    return got


def load_netflix(path, *, dtype=np.float32, n_threads=None, duplicates="error", times=True):
    """Load the Netflix Prize training set (or any file in its layout).

    Reads the ``combined_data_*.txt`` files, or a ``training_set/`` folder of
    ``mv_*.txt`` files: each holds ``MovieID:`` lines, each followed by
    ``CustomerID,Rating,Date`` lines (dates ``YYYY-MM-DD``, kept as
    ``Ratings.times``, ``datetime64[D]``). Titles come from
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
    duplicates : {"error", "mean", "last"}, default="error"
        A repeated (user, item) pair: see :class:`lorank.Ratings`.
    times : bool, default=True
        Keep the dates (8 bytes a rating); ``False`` saves the memory.

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
    keep_times = _check_bool(times, "times")
    path = _existing(path)
    files, titles_path = _netflix_files(path)
    ids = [None, None]  # [users, items], held only here: freed once sorted in
    ids[1], ids[0], rating, *day = _parse_netflix(files, n_threads, keep_times)
    source = files[0].name if len(files) == 1 else f"{len(files)} files in {path.name}"
    # The dates stay int32 days until the last gather writes them as datetime64[D].
    ratings = _ratings(ids, rating, dtype, source, duplicates, day[0] if keep_times else None,
                       days=keep_times)
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


def load_csv(path, *, user=None, item=None, rating=None, time=None, delimiter=",",
             header="auto", encoding="utf-8", dtype=np.float32, duplicates="error"):
    """Load ratings from any delimited text file, or a Parquet file.

    Columns are found by name when the file has a header, by position when it
    has none:

    - **With a header**, a column not given is found by its name, ignoring
      case, spaces, ``_`` and ``-``: the user id in ``user``, ``userId``,
      ``user_id``, ``customer``, ...; the item id in ``item``, ``itemId``,
      ``movieId``, ``product``, ``ISBN``, ...; the rating in ``rating``,
      ``score``, ``stars``, ...; the time (optional) in ``timestamp``,
      ``time``, ``date``. So ``item,user,rating`` loads the right way round,
      and a leading unnamed index column (what ``DataFrame.to_csv`` writes) is
      skipped. A header where a role matches no column, or two, is an error
      that lists the columns: pass that role by name or index.
    - **Without a header**, user, item and rating are fields 0, 1 and 2 unless
      given as indices; times are kept only when ``time`` is an index.

    Parameters
    ----------
    path : str or os.PathLike
        A delimited text file, or a ``.parquet`` file (needs pyarrow).
    user, item, rating : int or str, default=None
        Columns holding the user id, item id and rating: an index, a name from
        the header, or ``None`` (found by name, else fields 0, 1, 2).
    time : int, str, False or None, default=None
        Column of the timestamps, kept as ``Ratings.times``: integers stay
        int64, other numbers float64, ISO dates become ``datetime64``.
        ``None`` finds it by name in a header; ``False`` keeps no times.
    delimiter : str, default=","
        Field separator (one or more characters).
    header : {"auto", True, False}, default="auto"
        Whether the first line names the columns. ``"auto"``: it does when none
        of its fields is a number (every data line holds a numeric rating).
    encoding : str, default="utf-8"
        Text encoding of files with non-numeric ids or headers.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Dtype of the rating values.
    duplicates : {"error", "mean", "last"}, default="error"
        A repeated (user, item) pair: see :class:`lorank.Ratings`. The
        MovieLens and Netflix loaders take it too.

    Returns
    -------
    Dataset
        ``(ratings, None)``: integer ids stay integers, other ids are strings.

    Examples
    --------
    >>> import pathlib, tempfile, lorank
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = f.write_text("item,user,rating\\n7,ann,4.5\\n3,bob,2\\n")
    >>> R, _ = lorank.datasets.load_csv(f)
    >>> R.row_labels.tolist(), R.col_labels.tolist(), R.csr.values.tolist()
    (['ann', 'bob'], [3, 7], [4.5, 2.0])
    """
    path = _existing(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return _load_parquet(path, user, item, rating, time, dtype, duplicates)
    users, items, values, times = _read_csv(path, user=user, item=item, rating=rating,
                                            time=time, delimiter=delimiter, header=header,
                                            encoding=encoding)
    return Dataset(_ratings([users, items], values, dtype, path.name, duplicates, times), None)


def _read_csv(path, *, user=None, item=None, rating=None, time=None, delimiter=",",
              header="auto", encoding="utf-8"):
    """(users, items, values, times or None) of a delimited file."""
    if not isinstance(delimiter, str) or not delimiter:
        raise ValueError(f"delimiter must be a non-empty string, got {delimiter!r}")
    if header not in ("auto", True, False) or header is None:
        raise ValueError(f'header must be "auto", True or False, got {header!r}')
    data = path.read_bytes()
    if header == "auto":
        header = _looks_like_header(data, delimiter)
    columns = _columns(path, (user, item, rating, time), delimiter, header, encoding)
    parsed = _read_delimited(path, delimiter, columns, header, string_ids=True, data=data)
    if parsed is None:
        parsed = _read_text_columns(path, delimiter, columns, header, encoding)
    if not header and user is None and item is None and rating is None:
        _refuse_index_column(path, data, delimiter, parsed[0])
    return parsed


def _refuse_index_column(path, data, delimiter, users):
    """A headerless file whose field 0 counts the lines (0, 1, 2, ...) and
    that has more fields is what ``DataFrame.to_csv(header=False)`` writes:
    read by position, its index would become the users."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    n = len(users)
    if (n >= 3 and users.dtype.kind == "i" and len(_split(first, delimiter)) >= 4
            and np.array_equal(users, np.arange(users[0], users[0] + n))):
        raise ValueError(
            f"{path.name}: field 0 counts the lines ({users[0]}, {users[1]}, {users[2]}, ...): "
            "an index column, as DataFrame.to_csv writes? Pass user=, item= and rating= "
            "(e.g. 1, 2, 3), or write the file with to_csv(..., index=False)"
        )


def _looks_like_header(data, delimiter):
    """Whether the first non-blank line holds no number (so it names columns)."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    fields = _split(first.lstrip("\ufeff"), delimiter)
    for x in fields:
        try:
            float(x)
            return False
        except ValueError:
            pass
    return bool(first.strip())


def _split(line, delimiter):
    if len(delimiter) == 1:
        return next(csv.reader([line], delimiter=delimiter), [])
    return line.split(delimiter)


def _header_names(path, delimiter, encoding="utf-8"):
    with open(path, "rb") as f:
        first = f.readline().rstrip(b"\r\n")
    try:
        text = first.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text = first.decode("utf-8", "replace")
    return [n.strip() for n in _split(text.lstrip("\ufeff"), delimiter)]


def _is_index_name(name, k):
    return k == 0 and normalize(name) in ("", "unnamed0", "index")


def _columns(path, wanted, delimiter, header, encoding="utf-8"):
    """Indices of the (user, item, rating, time) columns; time is -1 if none."""
    names = _header_names(path, delimiter, encoding) if header else None
    return _pick_columns(path, names, wanted, header)


def _pick_columns(path, names, wanted, header):
    out = {}
    for arg, c in zip(("user", "item", "rating", "time"), wanted):
        if arg == "time" and (c is False or (c is None and names is None)):
            out[arg] = -1
        elif c is None and names is None:
            out[arg] = ("user", "item", "rating").index(arg)
        elif c is None:
            hits = [k for k in matches(names, arg) if not _is_index_name(names[k], k)]
            if len(hits) > 1:
                shown = " and ".join(repr(names[k]) for k in hits[:2])
                raise ValueError(
                    f"{path.name}: columns {shown} both look like the {ROLE_NAMES[arg]}; "
                    f"pass {arg}= (a column name or index)"
                )
            if not hits and arg == "time":
                out[arg] = -1
            elif not hits:
                raise ValueError(
                    f"{path.name}: no column of the header {names} looks like the "
                    f"{ROLE_NAMES[arg]} (names such as {', '.join(ALIASES[arg][:3])}); "
                    f"pass {arg}= (a column name or index), or header=False if the first "
                    "line is data"
                )
            else:
                out[arg] = hits[0]
        elif isinstance(c, str):
            if names is None:
                note = " (header=False)" if header is False else ""
                raise ValueError(f"{arg}={c!r} names a column, but {path.name} has no "
                                 f"header{note}")
            if c not in names:
                raise ValueError(f"{arg}={c!r} is not a column of {path.name}; columns: {names}")
            out[arg] = names.index(c)
        elif isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise ValueError(f"{arg} must be a column name or index >= 0, got {c!r}")
        else:
            out[arg] = int(c)
            if names is not None and c < len(names) and _is_index_name(names[c], c) \
                    and normalize(names[c]) != "index":
                raise ValueError(
                    f"{arg}={c} is column 0 of {path.name}, an unnamed index column (as "
                    "DataFrame.to_csv writes): pass the columns by name, or write the "
                    "file with to_csv(..., index=False)"
                )
    cols = [out[a] for a in ("user", "item", "rating")]
    if len(set(cols)) != 3 or out["time"] in cols:
        raise ValueError(f"user, item, rating and time must be different columns, got "
                         f"{cols + ([out['time']] if out['time'] >= 0 else [])}")
    return (*cols, out["time"])


def _load_parquet(path, user, item, rating, time, dtype, duplicates):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "reading Parquet needs pyarrow: pip install pyarrow (or lorank[parquet])"
        ) from None
    names = list(pq.read_schema(path).names)
    # the same rules as a header line; pandas' index column is never chosen
    named = [n if not n.startswith("__index_level_") else "" for n in names]
    cols = _pick_columns(path, named, (user, item, rating, time), True)
    picked = [names[c] for c in cols if c >= 0]
    table = pq.read_table(path, columns=picked)
    u, i, r = (table.column(n).to_numpy() for n in picked[:3])
    times = table.column(picked[3]).to_numpy() if cols[3] >= 0 else None
    return Dataset(_ratings([u, i], r, dtype, path.name, duplicates, times), None)


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
    if not (isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
            and _valid_date(date)):
        raise ValueError(f"date must be a date YYYY-MM-DD, got {date!r}")
    date_b = np.frombuffer(date.encode("ascii"), dtype=np.uint8)
    # Row indices as stored (int32, or int64 past 2**31 rows): never narrowed.
    indptr, rows = ratings.csc.indptr, ratings.csc.indices
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


def _valid_date(text):
    try:
        np.datetime64(text, "D")
    except ValueError:
        return False
    return True


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
        Passed to :func:`load_csv` (``user``, ``item``, ``rating``, ``time``,
        ``delimiter``, ``header``, ``encoding``).

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
