"""Column files (CoNLL-2000/2002/2003 style): the reader and the writer.

One token a line, columns separated by spaces or tabs, sentences by blank lines, documents
by ``-DOCSTART-`` lines. In a file whose first token line separates its fields by tabs, a line
holding tabs is split on tabs alone (a token may hold a space: ``New York<TAB>NNP<TAB>B-LOC``);
other lines and files on ASCII whitespace only: a non-breaking space (or any other Unicode
space) is part of a token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TextIO

from seqlab.errors import SeqlabError
from seqlab.formats.record import BLANK, DOCSTART, Record

DOCSTART_TOKEN = "-DOCSTART-"
# Whitespace that separates columns. str.split() would also split on non-breaking and other
# Unicode spaces, which can be part of a token.
_FIELD = re.compile(r"[^ \t\n\r\f\v]+")
_SPACE = " \t\n\r\f\v"


def split_fields(line: str) -> list[str]:
    """The columns of a line: split on tabs alone when tabs separate its fields (a
    tab-separated file, whose tokens may hold a space: ``New York<TAB>NNP<TAB>B-LOC``), else on
    ASCII whitespace (a space-separated CoNLL file). Runs of separators count as one; spaces
    around a tab-separated field are not part of it."""
    if "\t" in line:
        fields = _split_tabs(line)
        if len(fields) > 1:
            return fields
    return _split_spaces(line)


def _split_tabs(line: str) -> list[str]:
    return [f for f in (f.strip(_SPACE) for f in line.split("\t")) if f]


def _split_spaces(line: str) -> list[str]:
    if line.isascii():
        return line.split()
    return _FIELD.findall(line)


def resolve_column(name: str, lineno: int, column: int, ncols: int, what: str) -> int:
    """The 0-based index of ``column`` (negative counts from the end) in a line of ``ncols``."""
    if isinstance(column, bool) or not isinstance(column, int):
        raise SeqlabError(f"{name}: the {what} column must be a number for column files, not "
                          f"{column!r}", argument=f"{what}_column")
    index = column + ncols if column < 0 else column
    if not 0 <= index < ncols:
        raise SeqlabError(f"{name}:{lineno}: there is no {what} column {column}: the line has "
                          f"{ncols} column{'s' if ncols != 1 else ''}", argument=f"{what}_column")
    return index


def read_columns(lines: Iterable[tuple[int, str]], name: str, token_column: int = 0,
                 label_column: int | None = -1, tag_column: int | None = None
                 ) -> Iterator[Record]:
    """Records of a column file: sentences, and the blank and ``-DOCSTART-`` lines between.

    Every token line must have as many columns as the first one. CRLF endings, trailing
    spaces and runs of blank lines are handled.

    Args:
        lines: ``(line number, line)`` pairs, as :func:`seqlab.formats.lines.read_lines` gives.
        name: the file name errors give.
        token_column: the token column (negative counts from the end).
        label_column: the gold label column, or None for unlabelled input.
        tag_column: a column of predicted tags (a predictions file's last), or None.
    """
    ncols = 0
    tabbed = 0  # the first token line, when a split on tabs gave its columns
    ti = li = gi = 0
    labelled = label_column is not None
    tagged = tag_column is not None
    document = 0
    in_document = False  # a sentence was read since the last -DOCSTART-
    record: Record | None = None
    rows: list[list[str]] = []
    raw: list[str] = []

    def finish() -> Record:
        record.rows, record.raw = rows, raw
        record.tokens = [r[ti] for r in rows]
        if labelled:
            record.labels = [r[li] for r in rows]
        if tagged:
            record.tags = [r[gi] for r in rows]
        return record

    split = split_fields  # until the first token line says how the file separates fields
    for lineno, line in lines:
        fields = split(line)
        if not fields or fields[0] == DOCSTART_TOKEN:
            if record is not None:
                yield finish()
                record, rows, raw = None, [], []
                in_document = True
            if fields:
                if in_document:
                    document += 1
                    in_document = False
                yield Record(DOCSTART, line=lineno, document=document, rows=[fields],
                             raw=[line])
            else:
                yield Record(BLANK, line=lineno, document=document, raw=[line])
            continue
        if len(fields) != ncols:
            if ncols:
                how = f" (split on tabs, as line {tabbed} is)" if tabbed else ""
                raise SeqlabError(f"{name}:{lineno}: expected {ncols} columns like the lines "
                                  f"before{how}, found {len(fields)}")
            ncols = len(fields)
            # Tabs between the first token line's fields: a tab-separated file, whose lines
            # holding a tab are split on tabs alone (a token may hold a space); else a CoNLL
            # file split on spaces and tabs alike.
            if "\t" in line and len(_split_tabs(line)) > 1:
                tabbed = lineno
            else:
                split = _split_spaces
            ti, li, gi = _columns(name, lineno, ncols, token_column, label_column, tag_column)
        if record is None:
            record = Record(line=lineno, document=document)
        rows.append(fields)
        raw.append(line)
    if record is not None:
        yield finish()


def _columns(name, lineno, ncols, token_column, label_column, tag_column):
    wanted = [("token", token_column), ("label", label_column), ("tag", tag_column)]
    wanted = [(what, column) for what, column in wanted if column is not None]
    if ncols < len(wanted):
        need = {2: "token and label", 3: "token ... gold predicted"}[len(wanted)]
        raise SeqlabError(f"{name}:{lineno}: expected at least {len(wanted)} columns ({need}), "
                          f"found {ncols}")
    index = {what: resolve_column(name, lineno, column, ncols, what) for what, column in wanted}
    if len(set(index.values())) < len(index):
        described = ", ".join(f"{what} {column}" for what, column in wanted)
        raise SeqlabError(f"{name}: two of the columns are the same ({described} in lines of "
                          f"{ncols} columns); choose other ones", argument="label_column")
    return index["token"], index.get("label", 0), index.get("tag", 0)


def _line_end(line: str) -> tuple[str, str]:
    return (line[:-1], "\r\n") if line.endswith("\r") else (line, "\n")


def replace_field(line: str, index: int, value: str, fields: list[str] | None = None) -> str:
    """The line with its field ``index`` (0-based, negative from the end) replaced, every
    separator kept; ``fields`` are the line's fields as read (default: :func:`split_fields`)."""
    spans, at = [], 0
    for field in fields or split_fields(line):  # the fields, in order, are pieces of the line
        start = line.index(field, at)
        at = start + len(field)
        spans.append((start, at))
    start, end = spans[index]
    return line[:start] + value + line[end:]


def write_columns(out: TextIO, record: Record, replace: int | None = None) -> None:
    """Write a record as column lines, its ``tags`` as a new last column (or, with
    ``replace``, in place of column ``replace``); the rest of each line as it was read.

    Records that were not read from a column file are written too: CoNLL-U words as their
    10 fields, tab-separated, and the tag; text and JSON lines as ``token tag`` lines
    followed by a blank line.
    """
    if record.kind == BLANK:
        out.write("".join(_line_end(record.raw[0])) if record.raw else "\n")
        return
    if record.kind == DOCSTART:
        line, end = _line_end(record.raw[0])
        if replace is None:
            out.write(f"{line}{_separator(line)}O{end}")
        else:
            out.write(line + end)
        return
    tags = record.tags
    if record.raw is not None:
        parts = []
        rows = record.rows or [None] * len(record.raw)
        for line, fields, tag in zip(record.raw, rows, tags):
            line, end = _line_end(line)
            if replace is None:
                parts.append(f"{line}{_separator(line)}{tag}{end}")
            else:
                parts.append(replace_field(line, replace, tag, fields) + end)
        out.write("".join(parts))
    elif record.words is not None:
        rows = record.rows
        out.write("".join("\t".join(rows[i]) + f"\t{tag}\n" for i, tag in zip(record.words, tags)))
    else:
        out.write("".join(f"{token} {tag}\n" for token, tag in zip(record.tokens, tags)) + "\n")


def _separator(line: str) -> str:
    return "\t" if "\t" in line else " "
