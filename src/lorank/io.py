"""Arrays and a JSON header in one ``.npz`` file, written atomically.

This module knows arrays and headers, not model classes: models turn
themselves into ``(arrays, header)`` (see ``Recommender.save``) and
``lorank.load`` turns a file back into the object named by the header.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_HEADER = "__header__"


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

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is truncated, not an ``.npz`` written by lorank, its header
        is damaged, or its format version is newer than this lorank reads.
        The message names the file and the problem.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"{path}: not a lorank file (a single .npy array)")
            if _HEADER not in data.files:
                raise ValueError(f"{path}: not a lorank file (no header)")
            raw = data[_HEADER]
            try:
                header = json.loads(raw.tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: damaged header ({exc})") from None
            if not isinstance(header, dict) or not isinstance(header.get("format_version"), int):
                raise ValueError(f"{path}: damaged header (no format version)")
            version = header["format_version"]
            if version > FORMAT_VERSION:
                raise ValueError(
                    f"{path}: format version {version} is newer than this lorank reads "
                    f"({FORMAT_VERSION}, lorank {header.get('lorank_version', '?')} wrote "
                    "it); upgrade lorank"
                )
            arrays = {k: data[k] for k in data.files if k != _HEADER}
    except ValueError as exc:
        if str(exc).startswith(path + ":"):
            raise
        raise ValueError(f"{path}: damaged or not a lorank .npz file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"{path}: damaged or truncated file ({type(exc).__name__}: {exc})") from None
    return arrays, header
