"""Readers for column files (CoNLL-2000/2002/2003 style), CoNLL-U, and raw text to tag.

Readers know nothing of Keras: they turn files into :class:`Sentence` objects. User errors raise
:class:`~seqlab.errors.SeqlabError` with a one-line message naming the file and line (and the byte
offset for encoding errors) and what was expected.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import SeqlabError
from .schemes import expected_tags, normalize_scheme, tag_fits

FORMATS = ("conll", "conllu")
DOCSTART = "-DOCSTART-"

_CONLL_EXTENSIONS = (".txt", ".conll", ".iob", ".bio", ".tsv", ".conll03", ".bioes", ".iobes")
_CONLLU_EXTENSIONS = (".conllu",)

# Whitespace that separates columns in non-ASCII lines. str.split() would also split on
# non-breaking and other Unicode spaces, which can be part of a token.
_FIELD = re.compile(r"[^ \t\n\r\f\v]+")


@dataclass
class Sentence:
    """One sentence of a corpus.

    Attributes:
        tokens: the words.
        labels: one label per word; None when the file has no label column (or none was asked for).
        columns: every column of every token line, as read: ``columns[i]`` holds the fields of
            token ``i`` (the 10 CoNLL-U fields for CoNLL-U); predict keeps them.
        line: 1-based line number of the sentence's first token.
        document: index of the document the sentence belongs to (0-based; a new document starts at
            each -DOCSTART- line of a column file or ``# newdoc`` comment of a CoNLL-U file).
        token_lines: the line number of each token when they are not consecutive from ``line``
            (CoNLL-U, where multiword-token ranges and empty nodes sit in between); None otherwise.
    """

    tokens: list[str]
    labels: list[str] | None = None
    columns: list[list[str]] | None = None
    line: int = 0
    document: int = 0
    token_lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def line_of(self, index: int) -> int:
        """The line number of token ``index``."""
        if self.token_lines is not None:
            return self.token_lines[index]
        return self.line + index


# --------------------------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------------------------


def _open_binary(path: str):
    if os.path.isdir(path):
        raise SeqlabError(f"{path}: is a directory, expected a file")
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except FileNotFoundError:
        raise SeqlabError(f"{path}: no such file") from None
    except PermissionError:
        raise SeqlabError(f"{path}: permission denied") from None
    except OSError as exc:
        raise SeqlabError(f"{path}: cannot open: {exc.strerror or exc}") from None


_BLOCK = 1 << 20


def _decode(path: str, data: bytes, offset: int, lineno: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = lineno + data.count(b"\n", 0, exc.start)
        where = f"{path}:{line}: byte {offset + exc.start}"
        if offset == 0 and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            msg = f"{where}: the file looks like UTF-16; expected UTF-8 (re-save it as UTF-8)"
        else:
            bad = data[exc.start : exc.start + 1].hex()
            msg = f"{where}: not valid UTF-8 (byte 0x{bad}); expected a UTF-8 text file"
        raise SeqlabError(msg) from None


def _iter_blocks(path: str) -> Iterator[tuple[int, list[str], bool]]:
    """Yield ``(first_line_number, lines, last)``: the file's lines in blocks, decoded, without
    their "\\n" (a CRLF line keeps its "\\r"); ``last`` is True for a final line that has no
    line ending. Blocks of about 1 MiB are decoded at once, which is much faster than line by
    line; the BOM is dropped."""
    f = _open_binary(path)
    offset = 0
    lineno = 1
    pending = b""
    first = True
    with f:
        while True:
            try:
                data = f.read(_BLOCK)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                raise SeqlabError(
                    f"{path}:{lineno}: the gzip stream is broken ({exc}); expected a complete "
                    ".gz file"
                ) from None
            if not data:
                break
            buf = pending + data if pending else data
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                pending = buf
                continue
            chunk, pending = buf[:cut], buf[cut:]
            text = _decode(path, chunk, offset, lineno)
            if first:
                first = False
                text = text.removeprefix("\ufeff")
            lines = text.split("\n")
            lines.pop()  # the empty string after the last "\n"
            yield lineno, lines, False
            lineno += len(lines)
            offset += cut
        if pending:
            text = _decode(path, pending, offset, lineno)
            if first and text.startswith("\ufeff"):
                text = text[1:]
            yield lineno, [text], True


def iter_lines(path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for each line of a UTF-8 text file, line ending included.

    A UTF-8 byte-order mark is dropped; ``.gz`` files are decompressed on the fly. A missing file,
    a directory, a broken gzip stream or bytes that are not UTF-8 raise SeqlabError naming the
    file, the line and (for encoding errors) the byte offset.
    """
    p = os.fspath(path)
    for lineno, lines, last in _iter_blocks(p):
        if last:
            yield lineno, lines[0]
        else:
            yield from enumerate([line + "\n" for line in lines], lineno)


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


def _split(line: str) -> list[str]:
    if line.isascii():
        return line.split()
    return _FIELD.findall(line)


# --------------------------------------------------------------------------------------------
# Column files
# --------------------------------------------------------------------------------------------


def _resolve_column(path, lineno, column, ncols, what) -> int:
    try:
        column = int(column)
    except (TypeError, ValueError):
        raise SeqlabError(
            f"{path}: {what} column must be a number for column files, not {column!r}"
        ) from None
    index = column + ncols if column < 0 else column
    if not 0 <= index < ncols:
        raise SeqlabError(
            f"{path}:{lineno}: there is no {what} column {column}: the line has {ncols} columns"
        )
    return index


def iter_conll(path, token_column=0, label_column=-1, labelled=True) -> Iterator[Sentence]:
    """Stream the sentences of a column file (CoNLL-2000/2002/2003 style).

    Columns are separated by spaces or tabs; sentences by one or more blank lines. -DOCSTART-
    lines (with or without a following blank line) start a new document and are not sentences.
    CRLF endings, trailing spaces, a missing final blank line, a UTF-8 BOM and ``.gz`` files are
    handled. Every token line must have as many columns as the first one.

    Args:
        path: the file.
        token_column: index of the token column (negative counts from the end).
        label_column: index of the label column (default the last).
        labelled: False for files without labels (``labels`` is then None).
    """
    p = os.fspath(path)
    ncols = 0
    ti = li = 0
    rows: list[list[str]] = []
    start = 0
    document = 0
    in_document = False  # a sentence was yielded since the last -DOCSTART-
    seen = False

    def make() -> Sentence:
        return Sentence(
            tokens=[r[ti] for r in rows],
            labels=[r[li] for r in rows] if labelled else None,
            columns=rows,
            line=start,
            document=document,
        )

    for first_line, lines, _ in _iter_blocks(p):
        for lineno, line in enumerate(lines, first_line):
            fields = _split(line)
            if not fields:
                if rows:
                    yield make()
                    rows, in_document, seen = [], True, True
                continue
            if fields[0] == DOCSTART:
                if rows:
                    yield make()
                    rows, in_document, seen = [], True, True
                if in_document:
                    document += 1
                    in_document = False
                continue
            if len(fields) != ncols:
                if ncols:
                    raise SeqlabError(
                        f"{p}:{lineno}: expected {ncols} columns like the lines before, "
                        f"found {len(fields)}"
                    )
                ncols = len(fields)
                ti = _resolve_column(p, lineno, token_column, ncols, "token")
                if labelled:
                    if ncols < 2:
                        raise SeqlabError(
                            f"{p}:{lineno}: expected at least 2 columns (token and label), found 1"
                        )
                    li = _resolve_column(p, lineno, label_column, ncols, "label")
                    if li == ti:
                        raise SeqlabError(
                            f"{p}: the label column ({label_column}) is the token column "
                            f"({token_column}); choose another one"
                        )
            if not rows:
                start = lineno
            rows.append(fields)
    if rows:
        yield make()
        seen = True
    if not seen:
        raise SeqlabError(f"{p}: empty file: expected sentences of 'token ... label' lines")


def read_conll(path, token_column=0, label_column=-1, labelled=True) -> list[Sentence]:
    """All sentences of a column file; see :func:`iter_conll`."""
    with gc_paused():
        return list(iter_conll(path, token_column, label_column, labelled))


# --------------------------------------------------------------------------------------------
# CoNLL-U
# --------------------------------------------------------------------------------------------

CONLLU_FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


def _label_field(label_field: str) -> tuple[int, str | None]:
    """(field index, MISC key or None) for a label field name.

    Standard names (upos, xpos, deprel, lemma, feats, ...) pick a field; ``misc:Key`` or any other
    name picks the value of ``Key=Value`` in the MISC field.
    """
    name = str(label_field).strip()
    if name.lower() in CONLLU_FIELDS and name.lower() not in ("id", "form", "misc"):
        return CONLLU_FIELDS.index(name.lower()), None
    if name.lower().startswith("misc:"):
        name = name[5:]
    if not name or name.lower() in ("id", "form", "misc"):
        raise SeqlabError(
            f"label field {label_field!r} cannot be a label: expected upos, xpos, deprel, "
            "another CoNLL-U field, or a MISC key (misc:Key)"
        )
    return 9, name


def iter_conllu(path, label_field="upos", labelled=True) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file (Universal Dependencies).

    Comment lines are skipped (``# newdoc`` starts a new document); multiword-token ranges
    (``3-4``) and empty nodes (``8.1``) are skipped, so only syntactic words remain. The label is
    the field named by ``label_field`` (upos by default, xpos, deprel, ...) or the value of a
    ``Key=Value`` item of MISC (``misc:NER`` or just ``NER``). A label that is ``_`` (unspecified)
    or a MISC key that is missing is an error; a FORM of ``_`` is the token ``_`` (and its LEMMA
    ``_`` the lemma ``_``).
    """
    p = os.fspath(path)
    index, misc_key = _label_field(label_field) if labelled else (0, None)
    what = f"MISC key {misc_key}" if misc_key else CONLLU_FIELDS[index]
    rows: list[list[str]] = []
    labels: list[str] = []
    lines: list[int] = []
    document = 0
    in_document = False
    seen = False

    def make() -> Sentence:
        return Sentence(
            tokens=[r[1] for r in rows],
            labels=labels if labelled else None,
            columns=rows,
            line=lines[0],
            document=document,
            token_lines=lines,
        )

    for first_line, block, _ in _iter_blocks(p):
        for lineno, line in enumerate(block, first_line):
            line = line.rstrip("\r\n")
            if not line.strip():
                if rows:
                    yield make()
                    rows, labels, lines, in_document, seen = [], [], [], True, True
                continue
            if line[0] == "#":
                if line.startswith("# newdoc") and in_document and not rows:
                    document += 1
                    in_document = False
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                if len(fields) == 11 and not fields[10].strip():
                    fields.pop()
                else:
                    raise SeqlabError(
                        f"{p}:{lineno}: expected 10 tab-separated fields (CoNLL-U), "
                        f"found {len(fields)}"
                    )
            wid = fields[0]
            if not wid.isdigit():
                if "-" in wid or "." in wid:
                    continue  # multiword-token range or empty node
                raise SeqlabError(f"{p}:{lineno}: expected a word ID (1, 2, ...), found {wid!r}")
            if labelled:
                if misc_key is None:
                    label = fields[index]
                else:
                    label = "_"
                    for item in fields[9].split("|"):
                        key, sep, value = item.partition("=")
                        if sep and key == misc_key:
                            label = value
                            break
                if not label or (label == "_" and not (index == 2 and fields[1] == "_")):
                    raise SeqlabError(
                        f"{p}:{lineno}: the word has no {what} value (found {fields[index]!r}); "
                        "expected a label in every word (choose another label field?)"
                    )
                labels.append(label)
            rows.append(fields)
            lines.append(lineno)
    if rows:
        yield make()
        seen = True
    if not seen:
        raise SeqlabError(f"{p}: empty file: expected CoNLL-U sentences")


def read_conllu(path, label_field="upos", labelled=True) -> list[Sentence]:
    """All sentences of a CoNLL-U file; see :func:`iter_conllu`."""
    with gc_paused():
        return list(iter_conllu(path, label_field, labelled))


# --------------------------------------------------------------------------------------------
# Format choice
# --------------------------------------------------------------------------------------------


def guess_format(path) -> str:
    """'conll' or 'conllu' from the file name (``.gz`` ignored); SeqlabError when it cannot tell."""
    p = os.fspath(path)
    name = os.path.basename(p).lower()
    name = name.removesuffix(".gz")
    if name.endswith(_CONLLU_EXTENSIONS):
        return "conllu"
    if name.endswith(_CONLL_EXTENSIONS):
        return "conll"
    ext = os.path.splitext(name)[1] or "no extension"
    raise SeqlabError(
        f"{p}: cannot tell the format from the file name ({ext}); expected .conllu for CoNLL-U or "
        ".txt/.conll/.iob/.bio/.tsv for column files (optionally .gz), or set format: conll|conllu"
    )


def check_format(format: str | None) -> str | None:
    """The format name, lower-cased, or SeqlabError when it is not conll or conllu."""
    if format is None:
        return None
    name = str(format).strip().lower()
    if name not in FORMATS:
        raise SeqlabError(f"unknown corpus format {format!r}; expected conll or conllu")
    return name


def iter_corpus(
    path, format=None, token_column=0, label_column=-1, label_field="upos", labelled=True
) -> Iterator[Sentence]:
    """Stream a corpus in either format; ``format`` None guesses it from the extension."""
    fmt = check_format(format) or guess_format(path)
    if fmt == "conllu":
        return iter_conllu(path, label_field, labelled)
    return iter_conll(path, token_column, label_column, labelled)


def read_corpus(
    path, format=None, token_column=0, label_column=-1, label_field="upos", labelled=True
) -> list[Sentence]:
    """All sentences of a corpus in either format; ``format`` None guesses it from the extension
    (.conllu/.conllu.gz: CoNLL-U; .txt/.conll/.iob/.bio/.tsv and their .gz: column file)."""
    with gc_paused():
        return list(iter_corpus(path, format, token_column, label_column, label_field, labelled))


def check_labels(sentences: Iterable[Sentence], scheme: str, path="") -> None:
    """SeqlabError at the first label that does not fit the declared scheme.

    'plain' accepts any label; a chunk scheme accepts O and its own prefixes followed by a type
    (E-PER in an IOB2 corpus, or PER without prefix, do not fit). Invalid transitions (I-X after O)
    are not errors here: they are reported by ``seqlab data stats`` and read by the conlleval rule.
    """
    try:
        scheme = normalize_scheme(scheme)
    except ValueError as exc:
        raise SeqlabError(str(exc)) from None
    if scheme == "plain":
        return
    where = os.fspath(path)
    for sentence in sentences:
        for i, label in enumerate(sentence.labels or ()):
            if not tag_fits(label, scheme):
                raise SeqlabError(
                    f"{where}:{sentence.line_of(i)}: label {label!r} does not fit the declared "
                    f"scheme {scheme}; expected {expected_tags(scheme)}"
                )


# --------------------------------------------------------------------------------------------
# Raw text to tag
# --------------------------------------------------------------------------------------------

_SIMPLE_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)+"  # numbers with separators: 3.5, 1,000
    r"|(?:[^\W\d_]\.){2,}"  # abbreviations: U.S., e.g.
    r"|\w+(?:['’\-]\w+)*"  # words, with inner hyphens and apostrophes
    r"|[^\w\s]"  # any other character: punctuation, symbols
)


def tokenize(text: str, tokenizer: str = "whitespace") -> list[str]:
    """Split one sentence into tokens: 'whitespace' splits on spaces only; 'simple' also splits
    punctuation off words (keeping numbers like 3.5, abbreviations like U.S. and words like
    don't or well-known whole)."""
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return _SIMPLE_TOKEN.findall(text)
    raise SeqlabError(f"unknown tokenizer {tokenizer!r}; expected whitespace or simple")


def iter_text(lines: Iterable[str], tokenizer="whitespace") -> Iterator[list[str]]:
    """Tokens of raw text, one sentence per line; a blank line gives [] (kept in place)."""
    if tokenizer not in ("whitespace", "simple"):
        raise SeqlabError(f"unknown tokenizer {tokenizer!r}; expected whitespace or simple")
    for line in lines:
        yield tokenize(line, tokenizer)
