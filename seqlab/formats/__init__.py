"""Corpus formats: ONE reader and ONE writer per format, used by every path.

Training (in memory and streamed), ``predict``, ``evaluate`` (gold data and predictions
files), ``data stats|convert`` and ``attention`` all read through :func:`read_records`, so
they decode, split and report errors the same way. Readers know nothing of Keras.

* column files (``conll``): :mod:`seqlab.formats.columns`;
* CoNLL-U (``conllu``): :mod:`seqlab.formats.conllu`;
* JSON lines (``jsonl``): :mod:`seqlab.formats.jsonl`;
* plain text, one sentence a line (``text``): :mod:`seqlab.formats.text`;
* running text, documents split into sentences and tokens with character offsets
  (``document``, spaCy's tokenizer): :mod:`seqlab.formats.document`;
* bytes to lines (encodings, byte-order marks, gzip): :mod:`seqlab.formats.lines`.

:class:`Reading` says how a corpus is read; a trained model stores the one it was trained
with, and ``predict``/``evaluate`` use it as their defaults.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from seqlab.errors import SeqlabError
from seqlab.formats.columns import read_columns, split_fields, write_columns
from seqlab.formats.conllu import looks_like_conllu, read_conllu, write_conllu
from seqlab.formats.jsonl import read_jsonl, write_jsonl
from seqlab.formats.lines import (
    DEFAULT_ENCODING,
    check_encoding,
    gc_paused,
    is_regular_stream,
    read_lines,
)
from seqlab.formats.record import BLANK, DOCSTART, SENTENCE, Record
from seqlab.formats.text import TOKENIZERS, check_tokenizer, read_text, tokenize

__all__ = [
    "BLANK", "CORPUS_FORMATS", "DEFAULT_ENCODING", "DOCSTART", "DOCUMENT_FORMATS",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS", "Reading", "Record", "SENTENCE", "TOKENIZERS", "check_encoding",
    "check_tokenizer", "documents_of", "format_from_name", "gc_paused", "guess_corpus_format",
    "guess_input_format",
    "is_regular_stream", "read_corpus", "read_lines", "read_records", "sentences",
    "split_fields", "tokenize", "writer",
]

CORPUS_FORMATS = ("conll", "conllu")              # labelled corpora
INPUT_FORMATS = ("text", "conll", "conllu", "jsonl", "document")  # what can be tagged
OUTPUT_FORMATS = ("conll", "jsonl", "conllu", "html")
# Formats whose sentences come in documents: a column file's -DOCSTART- lines and CoNLL-U's
# ``# newdoc`` comments start one (a file without them is one document), running text's
# blank lines end one. A sentence's neighbours in its document are its context
# (``model.transformer.context``); a line of text or JSON lines stands alone.
DOCUMENT_FORMATS = ("conll", "conllu", "document")

_COLUMN_EXTENSIONS = (".txt", ".conll", ".iob", ".bio", ".tsv", ".conll03", ".bioes", ".iobes",
                      ".iob1", ".iob2", ".bilou")
_JSONL_EXTENSIONS = (".jsonl", ".json", ".ndjson")


@dataclass(frozen=True)
class Reading:
    """How a corpus is read: the format and where the tokens and labels are.

    Attributes:
        format: ``conll`` (column files), ``conllu``, ``jsonl``, ``text`` or ``document``;
            None to tell from the file (:func:`guess_corpus_format`).
        token_column: column files: the token column (negative counts from the end).
        label_column: column files: the label column (default the last).
        label_field: CoNLL-U: the label field (upos, xpos, deprel, ...) or a MISC key.
        encoding: the codec of files without a byte-order mark.
    """

    format: str | None = None
    token_column: int = 0
    label_column: int = -1
    label_field: str = "upos"
    encoding: str = DEFAULT_ENCODING

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in INPUT_FORMATS:
            raise SeqlabError(f"unknown format {self.format!r}; expected one of "
                              f"{', '.join(INPUT_FORMATS)}", argument="format")
        check_encoding(self.encoding)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None, source: str | None = None) -> Reading:
        """The reading stored in a model (``source`` names it in errors): SeqlabError when
        it is not a mapping or holds a value no reader takes (an edited encoding)."""
        where = source or "the model"
        if values is not None and not isinstance(values, dict):
            raise SeqlabError(f"{where}: its stored reading is a {type(values).__name__}, "
                              "expected a mapping (format, columns, encoding)")
        names = cls.__dataclass_fields__
        try:
            return cls(**{k: v for k, v in (values or {}).items() if k in names})
        except SeqlabError as exc:
            raise SeqlabError(f"{where}: its stored reading: {exc}") from None

    def updated(self, **changes) -> Reading:
        """A copy with the given fields changed; None values leave a field as it is."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def documents_of(records, fmt: str | None) -> list | None:
    """Each record's document (``Record.document``) when the format ``fmt`` has documents
    (:data:`DOCUMENT_FORMATS`), else None: every sentence stands alone."""
    if fmt not in DOCUMENT_FORMATS:
        return None
    return [r.document for r in records]


def format_from_name(path) -> str | None:
    """``conll`` or ``conllu`` when the file name says it (``.conllu``; ``.txt``, ``.conll``,
    ``.iob``, ...; ``.gz`` of those), else None."""
    name = os.path.basename(os.fspath(path)).lower().removesuffix(".gz")
    if name.endswith(".conllu"):
        return "conllu"
    if name.endswith(_COLUMN_EXTENSIONS):
        return "conll"
    return None


def guess_corpus_format(path) -> str:
    """``conll`` or ``conllu`` for a labelled corpus file: from the extension when it says
    (``.conllu``; ``.txt``, ``.conll``, ``.iob``, ...; ``.gz`` of those), else from the content:
    CoNLL-U when the first token line has 10 tab-separated fields and an integer ID (so
    ``eng.train``, ``esp.testa`` and files without an extension are read too)."""
    return format_from_name(path) or ("conllu" if _sniff_conllu(path) else "conll")


def guess_input_format(path, encoding: str | None = DEFAULT_ENCODING) -> str:
    """The format of input to tag: ``.conllu`` CoNLL-U, ``.jsonl``/``.json`` JSON lines,
    ``.conll``/``.iob``/``.bio``... column files, anything else text (one sentence a line),
    unless its first token line is a CoNLL-U word line."""
    name = os.path.basename(os.fspath(path)).lower().removesuffix(".gz")
    if name.endswith(".conllu"):
        return "conllu"
    if name.endswith(_JSONL_EXTENSIONS):
        return "jsonl"
    if name.endswith(tuple(e for e in _COLUMN_EXTENSIONS if e != ".txt")):
        return "conll"
    return "conllu" if _sniff_conllu(path, encoding) else "text"


def _sniff_conllu(path, encoding: str | None = DEFAULT_ENCODING) -> bool:
    try:
        for _, line in read_lines(path, encoding=encoding):
            stripped = line.strip()
            if not stripped or stripped.startswith("# "):
                continue
            return looks_like_conllu(line)
    except SeqlabError:
        return False  # the reader proper says what is wrong
    return False


def read_records(source, reading: Reading | None = None, name: str | None = None,
                 labelled: bool = True, tokenizer: str = "whitespace",
                 tag_column: int | None = None) -> Iterator[Record]:
    """Every record of a file or stream, lazily: sentences and the lines between them.

    Args:
        source: a path or a binary stream (``sys.stdin``).
        reading: the format and columns; a None format is told from the file name and content
            (a stream without a format is text).
        name: what errors call the source (default: the path, or ``<stdin>``).
        labelled: read the gold labels (column files and CoNLL-U).
        tokenizer: text and JSON lines with "text": ``whitespace`` or ``simple``.
        tag_column: column files: also read predicted tags from this column.
    """
    reading = reading or Reading()
    fmt = reading.format
    is_path = isinstance(source, (str, os.PathLike))
    if fmt is None:
        fmt = guess_corpus_format(source) if is_path and labelled else \
            guess_input_format(source, reading.encoding) if is_path else "text"
    name = name or (os.fspath(source) if is_path else "<stdin>")
    lines = read_lines(source, name, reading.encoding)
    if fmt == "conll":
        return read_columns(lines, name, reading.token_column,
                            reading.label_column if labelled else None, tag_column)
    if fmt == "conllu":
        return read_conllu(lines, name, reading.label_field if labelled else None)
    if fmt == "jsonl":
        return read_jsonl(lines, name, tokenizer)
    if fmt == "text":
        return read_text(lines, tokenizer)
    if fmt == "document":
        from seqlab.formats.document import read_documents

        return read_documents(lines, name)
    raise SeqlabError(f"unknown format {fmt!r}; expected one of {', '.join(INPUT_FORMATS)}",
                      argument="format")


def sentences(source, reading: Reading | None = None, labelled: bool = True,
              **kwargs) -> Iterator[Record]:
    """The sentences of a corpus that hold a token, lazily (a CoNLL-U block of comments alone
    is a record, to be written back, but no sentence)."""
    return (r for r in read_records(source, reading, labelled=labelled, **kwargs)
            if r.kind == SENTENCE and r.tokens)


def read_corpus(path, reading: Reading | None = None, labelled: bool = True,
                **kwargs) -> list[Record]:
    """All sentences of a corpus file; SeqlabError when it holds none."""
    # The format first (a look at the head), so a pipe is not looked at again afterwards.
    is_path = isinstance(path, (str, os.PathLike))
    fmt = (reading and reading.format) or (guess_corpus_format(path) if is_path else "conll")
    reading = (reading or Reading()).updated(format=fmt)
    with gc_paused():
        found = list(sentences(path, reading, labelled, **kwargs))
    if not found:
        what = "CoNLL-U sentences" if fmt == "conllu" else "sentences of 'token ... label' lines"
        p = os.fspath(path) if is_path else "<stdin>"
        empty = "empty file" if is_path and os.path.isfile(p) else "holds no sentence"
        raise SeqlabError(f"{p}: {empty}: expected {what}")
    return found


class Writer:
    """Writes records to a text stream: ``write(out, record)`` for each, after
    ``write.begin(out)`` and before ``write.end(out)`` (which only some formats need)."""

    def __init__(self, write) -> None:
        self._write = write

    def __call__(self, out, record: Record) -> None:
        self._write(out, record)

    def begin(self, out) -> None:
        """Before the first record (a page's head)."""

    def end(self, out) -> None:
        """After the last record."""


def writer(output_format: str, input_format: str, label_field: str = "upos",
           chunked: bool = True, labels=None):
    """The writer of records of ``input_format`` in ``output_format``.

    * ``conll``: the tag as a new last column, every input column and line kept;
    * ``jsonl``: one object a sentence with tokens, tags, spans (``chunked``) and probs;
    * ``conllu`` (CoNLL-U input only): the tags put in ``label_field``;
    * ``html``: a page with each sentence's spans highlighted by type (the legend from the
      tag set ``labels``).

    Documents of running text (``input_format`` ``document``) are written a document at a
    time: :func:`seqlab.formats.document.document_writer`.
    """
    if output_format not in OUTPUT_FORMATS:
        raise SeqlabError(f"unknown output format {output_format!r}; expected one of "
                          f"{', '.join(OUTPUT_FORMATS)}", argument="output_format")
    if input_format == "document" and output_format != "conllu":
        from seqlab.formats.document import document_writer

        return document_writer(output_format, chunked, labels)
    if output_format == "conllu":
        if input_format != "conllu":
            raise SeqlabError("CoNLL-U output needs CoNLL-U input", argument="output_format")
        from seqlab.formats.conllu import label_field_index

        label_field_index(label_field)  # fail now, not at the first sentence
        return Writer(lambda out, record: write_conllu(out, record, label_field))
    if output_format == "jsonl":
        keep_blank = input_format == "jsonl"
        return Writer(lambda out, record: write_jsonl(out, record, chunked, keep_blank))
    if output_format == "html":
        from seqlab.formats.html import HtmlWriter
        from seqlab.render.pages import types_of

        return HtmlWriter(types_of(labels or []), chunked)
    return Writer(write_columns)
