"""CoNLL-U (Universal Dependencies): the reader and the writer.

Ten tab-separated fields a word line; comments (``# ...``), multiword-token ranges (``3-4``)
and empty nodes (``8.1``) are kept in the record for writing back, and only syntactic words
are tokens. The label is a field (upos, xpos, deprel, ...) or a ``Key=Value`` item of MISC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TextIO

from seqlab.errors import SeqlabError
from seqlab.formats.record import BLANK, Record

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_RANGE = re.compile(r"[1-9]\d*-[1-9]\d*$")
_EMPTY = re.compile(r"\d+\.[1-9]\d*$")


def label_field_index(label_field: str) -> tuple[int, str | None]:
    """(field index, MISC key or None) for a label field name.

    Standard names (upos, xpos, deprel, lemma, feats, ...) pick a field; ``misc:Key`` or any
    other name picks the value of ``Key=Value`` in the MISC field.
    """
    name = str(label_field).strip()
    lower = name.lower()
    if lower in FIELDS and lower not in ("id", "form", "misc"):
        return FIELDS.index(lower), None
    if lower.startswith("misc:"):
        name = name[5:]
    if not name or name.lower() in ("id", "form", "misc"):
        raise SeqlabError(f"label field {label_field!r} cannot be a label: expected upos, xpos, "
                          "deprel, another CoNLL-U field, or a MISC key (misc:Key)",
                          argument="label_field")
    return 9, name


def looks_like_conllu(line: str) -> bool:
    """Whether a token line is a CoNLL-U line: 10 tab-separated fields and an integer ID (or
    the integers of a multiword-token range, ``1-2``, or an empty node, ``8.1``)."""
    fields = line.rstrip("\r").split("\t")
    return len(fields) == 10 and (fields[0].isdigit() or bool(_RANGE.match(fields[0]))
                                  or bool(_EMPTY.match(fields[0])))


def read_conllu(lines: Iterable[tuple[int, str]], name: str, label_field: str | None = "upos"
                ) -> Iterator[Record]:
    """Records of a CoNLL-U file: sentences, and the blank lines between them.

    Word IDs must run 1, 2, 3 ... within a sentence. A label that is ``_`` (unspecified) or a
    missing MISC key is an error; a FORM of ``_`` is the token ``_`` (and its LEMMA ``_`` the
    lemma ``_``).

    Args:
        lines: ``(line number, line)`` pairs.
        name: the file name errors give.
        label_field: the field (or MISC key) of the labels; None for unlabelled input.
    """
    labelled = label_field is not None
    index, misc_key = label_field_index(label_field) if labelled else (0, None)
    what = f"MISC key {misc_key}" if misc_key else FIELDS[index]
    document = 0
    in_document = False
    record: Record | None = None
    expected = 1
    for lineno, line in lines:
        line = line.rstrip("\r")
        if not line.strip():
            if record is not None:
                yield record
                record = None
                in_document = True
            yield Record(BLANK, line=lineno, document=document)
            continue
        if record is None:
            record = Record(line=lineno, rows=[], words=[], labels=[] if labelled else None)
            expected = 1
        if line[0] == "#":
            if line.startswith("# newdoc") and in_document and not record.words:
                document += 1
                in_document = False
            record.rows.append([line])
            continue
        record.document = document
        fields = line.split("\t")
        if len(fields) != 10:
            if len(fields) == 11 and not fields[10].strip():
                fields.pop()
            else:
                raise SeqlabError(f"{name}:{lineno}: expected 10 tab-separated fields (CoNLL-U), "
                                  f"found {len(fields)}")
        wid = fields[0]
        if not wid.isdigit():
            if not (_RANGE.match(wid) or _EMPTY.match(wid)):
                raise SeqlabError(f"{name}:{lineno}: expected a word ID (1, 2, ...), a range "
                                  f"(3-4) or an empty node (5.1), found {wid!r}")
            record.rows.append(fields)
            continue
        if int(wid) != expected:
            raise SeqlabError(f"{name}:{lineno}: word ID {wid} follows word {expected - 1}; "
                              f"expected {expected} (IDs count 1, 2, 3 ... in each sentence)")
        expected += 1
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
                raise SeqlabError(f"{name}:{lineno}: the word has no {what} value (found "
                                  f"{fields[index]!r}); expected a label in every word (choose "
                                  "another label field?)", argument="label_field")
            record.labels.append(label)
        record.words.append(len(record.rows))
        record.tokens.append(fields[1])
        record.rows.append(fields)
    if record is not None:
        yield record


def write_conllu(out: TextIO, record: Record, label_field: str = "upos") -> None:
    """Write a CoNLL-U record with its tags put in ``label_field`` (a field or a MISC key);
    every other field, comment, range and empty node as read."""
    if record.kind == BLANK:
        out.write("\n")
        return
    if record.words is None:
        raise SeqlabError("CoNLL-U output needs CoNLL-U input", argument="input_format")
    index, misc_key = label_field_index(label_field)
    rows = [list(row) for row in record.rows]
    for i, tag in zip(record.words, record.tags):
        row = rows[i]
        if misc_key is None:
            row[index] = tag
        else:
            items = [x for x in row[9].split("|")
                     if x and x != "_" and x.partition("=")[0] != misc_key]
            row[9] = "|".join(items + [f"{misc_key}={tag}"])
    out.write("".join("\t".join(row) + "\n" for row in rows))
