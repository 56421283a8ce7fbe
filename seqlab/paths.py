"""Paths: the one check of a path given to be read, and the one way a file the user named
is written.

Inputs (corpus, input, model, config, vectors) are checked by :func:`input_file` before
anything is read; it says what the path is when it is not what was expected ("data/: is a
directory, expected a corpus file"). A pipe or a FIFO (``<(cat f.txt)``, ``/dev/stdin``,
``mkfifo``) and a character device (``/dev/null``) can be read once, as they come: inputs read
once accept them; files read more than once, or by seeking (a ``.keras`` archive), do not.

Outputs (``predict -o``, ``evaluate --errors``, ``data convert``, ``report -o``, ``attention
-o``, a run directory) are checked by :func:`check_output_file` / :func:`check_output_dir`
before the slow work and written through :func:`writing`: a temporary sibling renamed over the
target at the end, so a failure leaves the old file as it was. :func:`read_json` reads a JSON
document whole, with errors naming file:line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from seqlab.errors import SeqlabError

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a pipe (FIFO)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)


def kind_of(mode: int) -> str:
    """What a file of this ``st_mode`` is, as messages say it (``is a directory``)."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "is not a regular file"


def is_stream(mode: int) -> bool:
    """Whether a file of this ``st_mode`` is read as a stream (a pipe, FIFO or character
    device), once and from the start."""
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


class PathError(SeqlabError):
    """An input path that names nothing to read: ``detail`` says what it is and what was
    expected (``is a directory, expected a corpus file``); ``missing`` when nothing is there."""

    def __init__(self, path, detail: str, missing: bool = False) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail
        self.missing = missing


def input_file(path, what: str, *, stream_ok: bool = True, why: str = "") -> Path:
    """``path`` as a Path when it names something ``what`` (``corpus file``, ``model file``...)
    can be read from; PathError (a SeqlabError) otherwise, one line saying what the path is
    and what was expected.

    Regular files pass. Pipes, FIFOs and character devices pass when ``stream_ok`` (the input
    is read once, from the start); otherwise the message says so, followed by ``why`` when
    given (``training reads its files more than once``).
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        missing = isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR)
        raise PathError(p, describe_error(p, what, exc), missing) from None
    if stat.S_ISREG(mode) or (stream_ok and is_stream(mode)):
        return p
    kind = kind_of(mode)
    if is_stream(mode):
        reason = f" ({why})" if why else ""
        raise PathError(p, f"{kind}, expected a regular {what}{reason}")
    raise PathError(p, f"{kind}, expected {_a(what)}")


def model_file(path) -> Path:
    """``path`` when it names a model file to load (a regular file: a .keras archive is read
    by seeking); PathError otherwise."""
    return input_file(path, "model file", stream_ok=False,
                      why="a .keras archive is read by seeking")


def describe_error(p, what: str, exc: Exception) -> str:
    """What a path is, from the error of looking at it (a loop of symbolic links, a missing
    file...), and the ``what`` that was expected; without the path."""
    code = getattr(exc, "errno", None)
    if code == errno.ELOOP:
        return f"is a loop of symbolic links, expected {_a(what)}"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied (cannot look at the {what})"
    if code == errno.ENOTDIR:
        return f"{what} not found (a folder on the path is a file)"
    if code == errno.ENAMETOOLONG:
        return f"the name is too long, expected {_a(what)}"
    if isinstance(exc, ValueError):
        return f"the name holds a NUL character, expected {_a(what)}"
    if os.path.islink(p):
        return f"{what} not found (a symbolic link to {os.readlink(p)}, which does not exist)"
    if code == errno.ENOENT:
        return f"{what} not found"
    return f"cannot look at the {what}: {getattr(exc, 'strerror', None) or exc}"


def _a(what: str) -> str:
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def _temporary(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _special(path: Path) -> bool:
    """An existing target that is not a regular file: a device or a FIFO."""
    return path.exists() and not path.is_file() and not path.is_dir()


def _cannot_write(path: Path, exc: OSError) -> SeqlabError:
    return SeqlabError(f"{path}: cannot write: {exc.strerror or exc}")


def check_output_file(path: str | Path, force: bool = False) -> Path:
    """Refuse, before any slow work, an output file that cannot be written: a directory, an
    existing file without ``force``, a folder that does not exist, or one where no file can
    be created (read-only, no permission, ``/proc``). Leaves nothing behind; returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise SeqlabError(f"{path}: is a directory; expected a file to write")
    if (path.exists() or path.is_symlink()) and not force:
        raise SeqlabError(f"{path}: already exists", argument="force")
    if _special(path):  # a device or FIFO (/dev/null, /dev/stdout) is written in place
        return path
    folder = path.parent
    if not folder.is_dir():
        what = f"{folder} is not a directory" if folder.exists() else \
            f"the directory {folder} does not exist"
        raise SeqlabError(f"{path}: cannot write: {what}")
    probe = _temporary(path)  # the name writing() uses; permission bits can lie (root, /proc)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # left by a killed run: writing() replaces it
        pass
    except OSError as exc:
        raise SeqlabError(f"{path}: cannot write: no file can be created in {folder} "
                          f"({exc.strerror or exc})") from None
    else:
        os.close(fd)
        probe.unlink()
    return path


def check_output_dir(path: str | Path) -> Path:
    """Refuse a directory that does not exist and cannot be made (under a file, read-only,
    ``/proc``): creates the first missing folder and removes it again."""
    path = Path(path)
    if path.is_dir():
        return path
    missing = path
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    if missing.exists():  # a file where a directory should be
        raise SeqlabError(f"{path}: cannot write: {missing} is not a directory")
    if not missing.parent.is_dir():
        raise SeqlabError(f"{path}: cannot write: {missing.parent} is not a directory")
    try:
        missing.mkdir()
    except FileExistsError:  # made meanwhile
        return path
    except OSError as exc:
        raise SeqlabError(f"{path}: cannot write: no directory can be created in "
                          f"{missing.parent} ({exc.strerror or exc})") from None
    with contextlib.suppress(OSError):
        missing.rmdir()
    return path


@contextlib.contextmanager
def writing(path: str | Path, mode: str = "w", opener=open, **kwargs) -> Iterator[IO]:
    """``with writing(path) as f:``: ``f`` is a temporary sibling of ``path`` (opened with
    ``opener(tmp, mode, **kwargs)``, text as UTF-8 unless told), renamed over ``path`` when
    the block ends without an exception; any exception removes it and leaves ``path`` as it
    was. An OSError opening, writing or renaming becomes one SeqlabError naming ``path``. A
    device or FIFO (``/dev/null``) is written in place."""
    path = Path(path)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    tmp = path if _special(path) else _temporary(path)
    try:
        try:
            out = opener(tmp, mode, **kwargs)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        try:
            with out:
                yield out
            if tmp != path:
                os.replace(tmp, path)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            raise _cannot_write(path, exc) from None
    finally:
        if tmp != path:
            with contextlib.suppress(OSError):
                tmp.unlink()


def read_json(path: str | Path, expected: type | None = None):
    """The JSON document in ``path``; a damaged one (not UTF-8, not JSON, not of the
    ``expected`` type) is one SeqlabError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SeqlabError(f"{path}:{line}: not UTF-8 text; the file is damaged") from None
    except OSError as exc:
        raise SeqlabError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_json(text, path, 1, expected)


def parse_json(text: str, path: str | Path, line: int = 1, expected: type | None = None):
    """``text`` (which starts at ``line`` of ``path``) as JSON; errors name ``path:line``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeqlabError(f"{path}:{line + exc.lineno - 1}: not valid JSON ({exc.msg}); the "
                          "file is damaged") from None
    except RecursionError:
        raise SeqlabError(f"{path}:{line}: JSON nested too deeply; the file is damaged") from None
    if expected is not None and not isinstance(value, expected):
        names = {dict: "an object", list: "a list"}
        raise SeqlabError(f"{path}:{line}: expected {names.get(expected, expected.__name__)} "
                          f"in JSON, got {type(value).__name__}; the file is damaged")
    return value
