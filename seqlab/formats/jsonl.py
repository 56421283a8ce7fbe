"""JSON lines: one object a sentence, ``{"tokens": [...]}`` or ``{"text": "..."}``; the reader
and the writer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from seqlab.errors import SeqlabError
from seqlab.formats.record import BLANK, DOCSTART, Record
from seqlab.formats.text import check_tokenizer, tokenize
from seqlab.schemes import spans

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps' encoder, made once


def read_jsonl(lines: Iterable[tuple[int, str]], name: str, tokenizer: str = "whitespace"
               ) -> Iterator[Record]:
    """One JSON object a line with ``"tokens": [...]`` (or ``"text": "..."``, tokenised);
    other keys are kept; a blank line is kept in place."""
    check_tokenizer(tokenizer)
    for lineno, line in lines:
        if not line.strip():
            yield Record(BLANK, line=lineno)
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeqlabError(f"{name}:{lineno}: not valid JSON ({exc.msg} at column "
                              f"{exc.colno}); expected one object a line") from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if isinstance(data, dict) and tokens is None and isinstance(data.get("text"), str):
            tokens = tokenize(data["text"], tokenizer)
        if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)):
            raise SeqlabError(f"{name}:{lineno}: expected an object with \"tokens\": a list of "
                              "strings (or \"text\": a string)")
        if any(not t or t.isspace() for t in tokens):
            raise SeqlabError(f"{name}:{lineno}: a token is empty or only spaces; expected "
                              "words")
        yield Record(tokens=list(tokens), line=lineno, data=data)


def write_jsonl(out: TextIO, record: Record, chunked: bool = True,
                keep_blank: bool = False) -> None:
    """One object a sentence: the input's keys, then tokens, tags, spans (with their scores
    where the tagger gave them; and probs, nbest); column
    and CoNLL-U input add their "columns" (and "comments"). Blank lines are written only with
    ``keep_blank`` (JSON-lines input); ``-DOCSTART-`` lines never."""
    if record.kind == BLANK:
        if keep_blank:
            out.write("\n")
        return
    if record.kind == DOCSTART:
        return
    obj = dict(record.data) if record.data is not None else {}
    obj["tokens"] = record.tokens
    obj["tags"] = record.tags
    found = record.spans if record.spans is not None else spans(record.tokens, record.tags)
    obj["spans"] = [s.as_dict() for s in found] if chunked else []
    if record.probs is not None:
        obj["probs"] = record.probs
    if record.nbest is not None:
        obj["nbest"] = record.nbest
    if record.raw is not None:
        obj["columns"] = record.rows
    elif record.words is not None:
        obj["columns"] = [record.rows[i] for i in record.words]
        comments = [row[0] for row in record.rows if len(row) == 1]
        if comments:
            obj["comments"] = comments
    out.write(_ENCODE(obj) + "\n")
