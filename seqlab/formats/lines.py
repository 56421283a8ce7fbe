"""Lines of a corpus file or stream: opening, decompression, decoding, byte-order marks.

The one place that knows encodings. Every reader gets its lines from :func:`read_lines`, so
every path (training, prediction, evaluation, ``data``) decodes the same way and reports an
undecodable byte the same way: ``FILE:LINE: byte OFFSET: ...``.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import gc
import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from seqlab.errors import SeqlabError, shown

DEFAULT_ENCODING = "utf-8"
_BLOCK = 1 << 20  # bytes decoded at once from a regular file

# Byte-order marks name their encoding themselves; UTF-32 first (its LE mark starts with
# UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def check_encoding(encoding: str | None, name: str | None = None) -> str:
    """The canonical name of a text codec Python knows (``latin-1`` -> ``iso8859-1``), or
    SeqlabError naming the argument ``encoding`` (and the file ``name``, when given).

    The one check of an encoding name: flags, config keys, a model's stored reading and the
    readers all come here. Codecs that are not text encodings (``rot13``, ``hex_codec``,
    ``base64``) are refused: they turn bytes into bytes, not into text.
    """
    where = f"{name}: " if name else ""
    text = DEFAULT_ENCODING if encoding is None else str(encoding).strip()
    try:
        codec = codecs.lookup(text)
    except (LookupError, ValueError, TypeError):
        raise SeqlabError(f"{where}unknown encoding {shown(encoding)}; expected a codec Python "
                          "knows, such as utf-8, latin-1 or cp1252", argument="encoding") from None
    if not getattr(codec, "_is_text_encoding", True):
        raise SeqlabError(f"{where}encoding {shown(encoding)} is not a text encoding (it turns "
                          "bytes into bytes); expected a text codec such as utf-8, latin-1 or "
                          "cp1252", argument="encoding")
    return codec.name


def _newline_safe(encoding: str) -> bool:
    """Whether b"\\n" in the bytes is always a line end (ASCII-compatible codecs)."""
    try:
        return "utf_16" not in encoding and "utf_32" not in encoding and \
            "\r\n".encode(encoding) == b"\r\n"
    except (UnicodeError, LookupError):
        return False


# Pipes, FIFOs and character devices can be read only once. Opened by path, their bytes go
# through a _Tape, which keeps the first _REPLAY of them; a read that stops early (a look at
# the first lines to tell the format) leaves its tape here, rewound, and the next open of the
# same path (the reader proper) continues from it instead of opening the path again (which
# would miss what was read, or wait forever for a FIFO's writer that has gone).
_REPLAY = 1 << 21  # more than a _BLOCK, which a UTF-16 look at the head reads
_parked: dict[tuple[int, int], _Tape] = {}


class _Tape(io.RawIOBase):
    """The bytes of a stream read once, the first ``_REPLAY`` of them kept to be read again."""

    def __init__(self, raw, key: tuple[int, int]) -> None:
        super().__init__()
        self.raw = raw
        self.key = key
        self.kept = bytearray()
        self.pos = 0  # where reading is in ``kept``
        self.replayable = True

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.pos < len(self.kept):
            n = min(len(b), len(self.kept) - self.pos)
            b[:n] = self.kept[self.pos:self.pos + n]
            self.pos += n
            return n
        n = self.raw.readinto(b)
        if n and self.replayable:
            if len(self.kept) + n > _REPLAY:
                self.replayable = False
                self.kept, self.pos = bytearray(), 0
            else:
                self.kept += memoryview(b)[:n]
                self.pos += n
        return n

    def rewind(self) -> bool:
        """Back to the first byte, if all bytes read are still kept."""
        if not self.replayable or self.closed:
            return False
        self.pos = 0
        return True

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


def _open(path):
    """``(stream, buffered, tape)``: the stream to read (gunzipped when gzip), the buffered
    file under it, and the tape of a pipe, FIFO or device (None for a regular file)."""
    from seqlab.paths import describe_error, is_stream

    p = os.fspath(path)
    try:
        st = os.stat(p)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        if getattr(exc, "errno", None) == errno.ENOENT and not os.path.islink(p):
            raise SeqlabError(f"{p}: no such file") from None
        raise SeqlabError(f"{p}: {describe_error(p, 'file', exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise SeqlabError(f"{p}: is a directory, expected a file")
    tape = None
    if is_stream(st.st_mode):
        tape = _parked.pop((st.st_dev, st.st_ino), None)
        if tape is not None and not tape.rewind():
            tape.close()
            raise SeqlabError(f"{p}: a pipe is read once, and its first lines (over {_REPLAY} "
                              "bytes) were read to tell its format; name the format")
    try:
        if tape is None:
            f = open(p, "rb", buffering=0 if is_stream(st.st_mode) else -1)
            if is_stream(st.st_mode):
                tape = _Tape(f, (st.st_dev, st.st_ino))
        if tape is not None:
            f = io.BufferedReader(tape)
    except FileNotFoundError:
        raise SeqlabError(f"{p}: no such file") from None
    except PermissionError:
        raise SeqlabError(f"{p}: permission denied") from None
    except OSError as exc:
        raise SeqlabError(f"{p}: cannot open: {exc.strerror or exc}") from None
    if p.endswith(".gz") or f.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb"), f, tape
    return f, f, tape


def _release(stream, buffered, tape, finished: bool) -> None:
    """Close a stream once read; a pipe's that was not read to its end is parked, rewound,
    for the next open of its path."""
    if tape is not None and not finished:
        # Kept open, rewound, for the next open of the path (or, past _REPLAY, for it to
        # say it cannot start again: the open pipe keeps its identity).
        buffered.detach()
        _parked[tape.key] = tape
        return
    stream.close()
    buffered.close()


def open_binary(path) -> BinaryIO:
    """A file opened for reading bytes, gunzipped on the fly when it is gzip (by its ``.gz``
    name or its first bytes); SeqlabError for a missing file, a directory, no permission.
    A pipe or FIFO whose first lines were looked at (to tell its format) continues from its
    start."""
    return _open(path)[0]


def _is_regular(stream) -> bool:
    if isinstance(stream, gzip.GzipFile):
        return True
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return hasattr(stream, "getbuffer")  # io.BytesIO


class _Decoder:
    """Decodes a file's bytes piece by piece, counting lines and bytes for error messages."""

    def __init__(self, name: str, encoding: str) -> None:
        self.name = name
        self.requested = encoding
        self.encoding = encoding
        self.offset = 0  # bytes decoded so far
        self.first = True
        self.incremental = None

    def start(self, data: bytes) -> bytes:
        """Look for a byte-order mark at the start; returns the data without it."""
        self.first = False
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                self.encoding = encoding
                self.offset = len(bom)
                data = data[len(bom):]
                break
        if not _newline_safe(self.encoding):
            self.incremental = codecs.getincrementaldecoder(self.encoding)("strict")
        return data

    def decode(self, data: bytes, lineno: int, final: bool = False) -> str:
        try:
            if self.incremental is not None:
                text = self.incremental.decode(data, final)
            else:
                text = data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self._fail(data, exc, lineno)
        except UnicodeError as exc:  # UTF-16/32 without a byte-order mark, odd codecs
            if "BOM" in str(exc):
                raise SeqlabError(
                    f"{self.name}:{lineno}: the file does not start with a byte-order mark, "
                    f"which {self.encoding} needs to tell the byte order; name the order "
                    f"(e.g. {self.encoding}-le or {self.encoding}-be)",
                    argument="encoding") from None
            raise SeqlabError(f"{self.name}:{lineno}: cannot decode the bytes as "
                              f"{self.encoding} ({exc})", argument="encoding") from None
        if "\x00" in text and self.offset < _BLOCK and self.incremental is None:
            line = lineno + text.count("\n", 0, text.index("\x00"))
            at = self.offset + data.index(b"\x00")
            raise SeqlabError(f"{self.name}:{line}: byte {at}: "
                              "a NUL byte: the file looks like UTF-16 or UTF-32 without a "
                              f"byte-order mark, not {_display(self.encoding)}; name its "
                              "encoding (e.g. utf-16-le)", argument="encoding")
        self.offset += len(data)
        return text

    def _fail(self, data: bytes, exc: UnicodeDecodeError, lineno: int):
        start = min(exc.start, len(data))
        if self.incremental is None:
            line = lineno + data.count(b"\n", 0, start)
        else:
            line = lineno + data[:start].decode(self.encoding, "replace").count("\n")
        bad = data[start:start + 1].hex() or "??"
        raise SeqlabError(f"{self.name}:{line}: byte {self.offset + start}: not valid "
                          f"{_display(self.encoding)} (byte 0x{bad}); if the file is in another "
                          "encoding, name it (e.g. latin-1)", argument="encoding") from None


def _display(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf_8": "UTF-8"}.get(encoding, encoding)


def read_lines(source, name: str | None = None,
               encoding: str | None = DEFAULT_ENCODING) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` for each line of a file or binary stream, decoded.

    Lines come without their ``"\\n"`` (a CRLF line keeps its ``"\\r"``, so writers can keep
    line endings). A byte-order mark (UTF-8, UTF-16, UTF-32) names the encoding by itself and
    is dropped; otherwise ``encoding`` (any codec Python knows) decodes the bytes. Regular
    files are decoded in blocks of about 1 MiB (fast); pipes and terminals line by line, so
    each line is available as soon as it arrives. A pipe or FIFO named by its path
    (``<(cmd)``, ``/dev/stdin``) is opened once: a read that stops early (a look at its head to
    tell the format) leaves it for the next read of the same path, which starts again from its
    first byte. Errors (missing file, broken gzip stream, undecodable bytes, an encoding that is
    not a text encoding) raise SeqlabError naming the file, the line and the byte offset.

    Args:
        source: a path, or a binary (or text) stream such as ``sys.stdin``.
        name: what errors call the source (default: the path, or ``<stdin>``).
        encoding: the codec of files without a byte-order mark (default UTF-8).
    """
    if isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        encoding = check_encoding(encoding, name)
        stream, buffered, tape = _open(source)
        finished = False
        try:
            yield from _stream_lines(stream, name, encoding)
            finished = True
        finally:
            _release(stream, buffered, tape, finished)
        return
    name = name or "<stdin>"
    encoding = check_encoding(encoding, name)
    if isinstance(source, io.TextIOBase) and not hasattr(source, "buffer"):
        # A text stream without a buffer (io.StringIO): already decoded.
        for lineno, line in enumerate(source, 1):
            line = line.removesuffix("\n")
            yield lineno, line.removeprefix("\ufeff") if lineno == 1 else line
        return
    yield from _stream_lines(getattr(source, "buffer", source), name, encoding)


def _stream_lines(stream, name: str, encoding: str) -> Iterator[tuple[int, str]]:
    decoder = _Decoder(name, encoding)
    try:
        if _is_regular(stream) or not _newline_safe(encoding):
            yield from _block_lines(stream, decoder)
        else:
            yield from _live_lines(stream, decoder)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise SeqlabError(f"{name}: the gzip stream is broken ({exc}); expected a complete "
                          ".gz file") from None


def _block_lines(stream, decoder: _Decoder) -> Iterator[tuple[int, str]]:
    lineno = 1
    pending = b""
    newline_safe = _newline_safe(decoder.encoding)
    while True:
        try:
            data = stream.read(_BLOCK)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise SeqlabError(f"{decoder.name}:{lineno}: the gzip stream is broken ({exc}); "
                              "expected a complete .gz file") from None
        if decoder.first and data:
            data = decoder.start(data)
            newline_safe = decoder.incremental is None
        if not data:
            break
        if newline_safe:
            buf = pending + data if pending else data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                pending = buf
                continue
            chunk, pending = buf[:cut], buf[cut:]
            lines = decoder.decode(chunk, lineno).split("\n")
            lines.pop()  # the empty string after the last "\n"
        else:
            text = (pending or "") + decoder.decode(data, lineno)
            lines = text.split("\n")
            pending = lines.pop()
        yield from enumerate(lines, lineno)
        lineno += len(lines)
    if newline_safe:
        tail = decoder.decode(pending, lineno, final=True) if pending else ""
    else:
        tail = (pending or "") + (decoder.decode(b"", lineno, final=True)
                                  if decoder.incremental is not None else "")
    if tail:
        yield lineno, tail


def _live_lines(stream, decoder: _Decoder) -> Iterator[tuple[int, str]]:
    lineno = 0
    while raw := stream.readline(_BLOCK):
        lineno += 1
        if len(raw) == _BLOCK and not raw.endswith(b"\n"):
            # A megabyte without a line end: binary bytes (a device such as /dev/zero) say so
            # now, not after memory runs out.
            if b"\x00" in raw:
                raise SeqlabError(f"{decoder.name}:{lineno}: a NUL byte in a line of over "
                                  f"{_BLOCK} bytes; expected lines of text")
            parts = [raw]
            while not parts[-1].endswith(b"\n") and (more := stream.readline(_BLOCK)):
                parts.append(more)
            raw = b"".join(parts)
        if decoder.first:
            raw = decoder.start(raw)
        yield lineno, decoder.decode(raw, lineno).removesuffix("\n")


def is_regular_stream(stream) -> bool:
    """Whether a stream is a regular file (read in big blocks) rather than a pipe or terminal
    (whose lines are handled as they arrive)."""
    return _is_regular(getattr(stream, "buffer", stream))


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a whole corpus is built: the millions of small
    lists of a corpus trigger collections that walk every object already read (this halves the
    reading time). Reference counting still frees memory as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
