"""Arrays and a JSON header in one ``.npz`` file, written atomically.

This module knows arrays and headers, not model classes: models turn
themselves into ``(arrays, header)`` (see ``Recommender.save``) and
``lorank.load`` turns a file back into the object named by the header.
"""

import json
import os
import stat
import tempfile
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["save", "load", "check_arrays", "Array", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_HEADER = "__header__"


class Array(NamedTuple):
    """What one stored array must look like, for :func:`check_arrays`.

    kind : str
        ``"float"`` (float32 or float64), ``"int"`` (any integer type,
        returned as int64), ``"index"`` (any integer type, returned as int32
        when the values fit, else int64), ``"labels"`` (int or str, no
        repeats) or ``"bytes"`` (uint8).
    axes : tuple of str or int
        One entry per dimension: a fixed length, or a name shared by every
        array with that dimension (``"users"``); ``"users+1"`` is one more.
    required : bool
        Whether the array must be present.
    finite : bool
        For floats: no NaN or infinity.
    """

    kind: str
    axes: tuple
    required: bool = True
    finite: bool = True


def check_arrays(arrays, layout, source, *, dims=None, what="file"):
    """Check ``arrays`` (from :func:`load`) against ``layout``; return them in
    native byte order, floats as float32/float64, integers as int64.

    ``layout`` maps array names to :class:`Array` rules; arrays it does not
    name are returned unchanged. ``dims`` seeds named dimensions (e.g. the
    users of an already checked model). Raises ``ValueError`` naming the file
    (``source``), the array and what is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from lorank.io import Array, check_arrays
    >>> layout = {"left": Array("float", ("users", "rank")), "bias": Array("float", ("users",))}
    >>> out = check_arrays({"left": np.ones((3, 2)), "bias": np.zeros(3)}, layout, "m.npz")
    >>> out["left"].shape
    (3, 2)
    >>> check_arrays({"left": np.ones((3, 2)), "bias": np.zeros(4)}, layout, "m.npz")
    Traceback (most recent call last):
    ...
    ValueError: m.npz: array 'bias' has 4 entries along its axis 0 where array 'left' has 3 (users)
    """
    dims = dict(dims or {})
    seen = {name: "the model" for name in dims}
    out = dict(arrays)
    for name, rule in layout.items():
        if name not in arrays:
            if rule.required:
                raise ValueError(f"{source}: the {what} has no {name!r} array")
            continue
        a = arrays[name]
        if not isinstance(a, np.ndarray):
            a = np.asarray(a)
        if a.ndim != len(rule.axes):
            raise ValueError(f"{source}: array {name!r} has {a.ndim} dimensions "
                             f"(shape {a.shape}), expected {len(rule.axes)}")
        for axis, (n, want) in enumerate(zip(a.shape, rule.axes)):
            if isinstance(want, int):
                if n != want:
                    raise ValueError(f"{source}: array {name!r} has {n} entries along "
                                     f"axis {axis}, expected {want}")
                continue
            dim, plus = (want[:-2], 1) if want.endswith("+1") else (want, 0)
            if dim not in dims:
                dims[dim], seen[dim] = n - plus, f"array {name!r}"
                if n - plus < 0:
                    raise ValueError(f"{source}: array {name!r} is empty; it needs at "
                                     f"least {plus} entries")
            elif n != dims[dim] + plus:
                raise ValueError(
                    f"{source}: array {name!r} has {n} entries along its axis {axis} "
                    f"where {seen[dim]} has {dims[dim] + plus} ({want})")
        out[name] = _checked_kind(a, name, rule, source)
    return out


def _checked_kind(a, name, rule, source):
    kind = a.dtype.kind
    if rule.kind == "float":
        if kind != "f" or a.dtype.itemsize not in (4, 8):
            raise ValueError(f"{source}: array {name!r} has dtype {a.dtype}, "
                             "expected float32 or float64")
        a = a.astype(a.dtype.newbyteorder("="), copy=False)
        if rule.finite and not np.isfinite(a).all():
            bad = np.flatnonzero(~np.isfinite(a.ravel()))
            where = np.unravel_index(bad[0], a.shape) if a.ndim else ()
            raise ValueError(
                f"{source}: array {name!r} holds {bad.size} non-finite value(s) "
                f"({a[where]} at {tuple(int(i) for i in where)}): the file is damaged")
        return a
    if rule.kind in ("int", "index", "bytes"):
        if kind not in "iu" or (rule.kind == "bytes" and a.dtype != np.uint8):
            raise ValueError(f"{source}: array {name!r} has dtype {a.dtype}, expected "
                             + ("uint8" if rule.kind == "bytes" else "integers"))
        if rule.kind == "bytes":
            return a
        if kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{source}: array {name!r} holds {a.max()}, beyond int64")
        i32 = np.iinfo(np.int32)
        small = rule.kind == "index" and (not a.size or i32.min <= a.min() and a.max() <= i32.max)
        return a.astype(np.int32 if small else np.int64)
    if rule.kind == "labels":
        if kind not in "iuU":
            raise ValueError(f"{source}: array {name!r} has dtype {a.dtype}; labels "
                             "are stored as int or str")
        if kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{source}: array {name!r} holds {a.max()}, beyond int64")
        a = a.astype(np.int64) if kind in "iu" else a.astype(a.dtype.newbyteorder("="))
        uniq, counts = np.unique(a, return_counts=True)
        if len(uniq) != len(a):
            dup = uniq[counts > 1]
            raise ValueError(
                f"{source}: array {name!r} repeats the label {dup[0].item()!r} "
                f"({dup.size} label(s) repeated): a label would name two rows")
        return a
    raise ValueError(f"unknown array kind {rule.kind!r}")  # a bug in the layout


def save(path, arrays, header):
    """Write ``arrays`` and a JSON ``header`` to ``path`` as an ``.npz`` file.

    The file is written to a temporary file in the same folder and renamed
    over ``path``, so a crash never leaves a partial file under that name.
    Arrays must not hold Python objects (``allow_pickle=False``).

    Parameters
    ----------
    path : str or os.PathLike
        Written as given (no ``.npz`` is appended).
    arrays : dict of str to array_like
    header : dict
        JSON-serializable; ``format_version`` and ``lorank_version`` are added.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from lorank import io
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> io.save(path, {"x": np.arange(3)}, {"class": "Demo"})
    >>> arrays, header = io.load(path)
    >>> arrays["x"], header["class"], header["format_version"]
    (array([0, 1, 2]), 'Demo', 1)
    """
    from . import __version__

    path = os.fspath(path)
    arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
    if _HEADER in arrays:
        raise ValueError(f"arrays must not contain the reserved name {_HEADER!r}")
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(
                f"array {name!r} holds Python objects (dtype object), which cannot be "
                "saved without pickle; convert it to str or int"
            )
    full = dict(header, format_version=FORMAT_VERSION, lorank_version=__version__)
    text = json.dumps(full, sort_keys=True)
    arrays[_HEADER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; save as open() would
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path):
    """Read a file written by :func:`save`: ``(arrays, header)``.

    Only a regular file is opened (a FIFO or a device would block or stream
    forever), and each stored array's declared size is compared with the bytes
    the file holds before anything is allocated, so a damaged or hostile file
    is an error, never a hang or a huge allocation. What the arrays must look
    like for a given object is checked by :func:`check_arrays`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        ``path`` is not a regular file; the file is truncated, not an
        ``.npz`` written by lorank, its header is damaged, or its format
        version is newer than this lorank reads. The message names the file
        and the problem.
    """
    path = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a lorank file") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"{path}: is a directory, not a lorank file")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{path}: not a regular file (a FIFO, socket or device); "
                             "lorank reads models from files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        try:
            arrays = _read_npz(f, path)
        except ValueError as exc:
            if str(exc).startswith(path + ":"):
                raise
            raise ValueError(f"{path}: damaged or not a lorank .npz file ({exc})") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError,
                NotImplementedError, RuntimeError) as exc:
            raise ValueError(
                f"{path}: damaged or truncated file ({type(exc).__name__}: {exc})") from None
    if _HEADER not in arrays:
        raise ValueError(f"{path}: not a lorank file (no header)")
    raw = arrays.pop(_HEADER)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{path}: damaged header (not a byte string)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: damaged header ({exc})") from None
    version = header.get("format_version") if isinstance(header, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{path}: damaged header (no format version)")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: format version {version} is newer than this lorank reads "
            f"({FORMAT_VERSION}, lorank {header.get('lorank_version', '?')} wrote "
            "it); upgrade lorank"
        )
    return arrays, header


def _read_npz(f, path):
    """The arrays of an ``.npz`` file, each checked against its stored size."""
    magic = f.read(6)
    f.seek(0)
    if magic == b"\x93NUMPY":
        raise ValueError(f"{path}: not a lorank file (a single .npy array)")
    arrays = {}
    with zipfile.ZipFile(f) as z:
        for info in z.infolist():
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in arrays:
                raise ValueError(f"{path}: damaged or not a lorank .npz file "
                                 f"(member {name!r})")
            with z.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                if dtype.hasobject:
                    raise ValueError(f"{path}: array {name[:-4]!r} holds Python objects, "
                                     "which lorank files never do")
                size = dtype.itemsize
                for d in shape:
                    size *= d
                start = member.tell()
                if size != info.file_size - start:
                    raise ValueError(
                        f"{path}: damaged or truncated file (array {name[:-4]!r} "
                        f"declares {size} bytes, the file holds {info.file_size - start})")
                buf = bytearray(size)
                if member.readinto(buf) != size:
                    raise ValueError(f"{path}: damaged or truncated file (array "
                                     f"{name[:-4]!r} ends early)")
                member.read()  # to the end, so the CRC is checked
            a = np.frombuffer(buf, dtype=dtype) if size else np.empty(0, dtype)
            arrays[name[:-4]] = a.reshape(shape, order="F" if fortran else "C")
    return arrays
