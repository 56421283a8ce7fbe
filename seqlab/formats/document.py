"""Running text (``-i document``): documents as they come, split into sentences and tokens
with their character offsets, and the writers that put the tags back onto the text.

A document is every line up to a blank line (or the end of the input): several sentences a
line, lines broken anywhere, any spacing. Its text is kept exactly as read (tabs, runs of
spaces, CRLF line ends inside it; the line end of its last line is not part of it), and spaCy
(``spacy.blank("en")``'s rule-based tokenizer and its ``sentencizer``; no model, nothing
downloaded) splits it into sentences and tokens. The reader yields one sentence
:class:`Record` a sentence, with each token's ``offsets`` in the document's text, then one
``document`` record with the text (``data["text"]``): the tagger sees token lists; the
writers wait for the document record to write the document whole.

Offsets count characters (Python string indices, as spaCy's ``start_char``/``end_char``):
``text[start_char:end_char]`` is exactly a span's text. Memory is bounded by one document:
a document is held until it is written, so one that runs past :data:`MAX_CHARS` characters
without a blank line is refused (SeqlabError naming its first line and the line that passed
the limit).

spaCy is an optional dependency (``pip install 'seqlab[documents]'``), imported on first
use; :func:`check_documents` says it is missing in one line, before anything is loaded.
"""

from __future__ import annotations

import bisect
import functools
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from seqlab.errors import SeqlabError
from seqlab.formats.record import DOCUMENT, SENTENCE, Record

# The most characters a document may hold (its line breaks included): spaCy's own default
# `max_length`, past which it warns that memory runs short. Documents end at blank lines.
MAX_CHARS = 1_000_000
EXTRA = "documents"  # the extra of seqlab that installs spaCy
_MISSING = (f"splits sentences and tokens with spaCy, which is not installed: pip install "
            f"'seqlab[{EXTRA}]'")


def check_documents(what: str = "-i document") -> None:
    """SeqlabError (one line, naming ``what`` needs it) when spaCy is not installed; spaCy is
    looked for, not imported."""
    import importlib.util

    if "spacy" not in sys.modules and importlib.util.find_spec("spacy") is None:
        raise SeqlabError(f"{what} {_MISSING}", argument="input_format")


@functools.lru_cache(maxsize=1)
def pipeline():
    """spaCy's blank English pipeline with the rule-based sentencizer: tokenizer rules and
    sentence punctuation only, no model. Built once a process."""
    try:
        spacy = _import_spacy()
    except ImportError:
        raise SeqlabError(f"-i document {_MISSING}", argument="input_format") from None
    from spacy.util import compile_infix_regex

    nlp = spacy.blank("en")
    nlp.tokenizer.infix_finditer = compile_infix_regex(_infixes()).finditer
    nlp.add_pipe("sentencizer")
    nlp.max_length = MAX_CHARS + 1
    return nlp


def _infixes() -> list[str]:
    """spaCy's English infixes (``spacy/lang/punctuation.py``) without the splitting of a
    word at a hyphen: CoNLL-2003, the Penn Treebank and UD English keep ``one-day``,
    ``AL-AIN``, ``2-1`` and ``1996-12-06`` whole, and the models seqlab trains learn from such
    corpora (spaCy's hyphen split cut 3.6% of CoNLL-2003's test tokens; without it, 0.5%:
    ``bench/tokenizer_agreement.py``). Long dashes between words still split, as in those
    corpora. The way spaCy's documentation modifies a rule set ("Modifying existing rule
    sets")."""
    from spacy.lang.char_classes import (
        ALPHA,
        ALPHA_LOWER,
        ALPHA_UPPER,
        CONCAT_QUOTES,
        LIST_ELLIPSES,
        LIST_ICONS,
    )

    dashes = "|".join(["---", "--", "\u2014\u2014", "\u2013", "\u2014", "~"])  # longest first
    return LIST_ELLIPSES + LIST_ICONS + [
        r"(?<=[0-9])[+\*^](?=[0-9-])",
        rf"(?<=[{ALPHA_LOWER}{CONCAT_QUOTES}])\.(?=[{ALPHA_UPPER}{CONCAT_QUOTES}])",
        rf"(?<=[{ALPHA}]),(?=[{ALPHA}])",
        rf"(?<=[{ALPHA}0-9])(?:{dashes})(?=[{ALPHA}])",
        rf"(?<=[{ALPHA}0-9])[:<>=/](?=[{ALPHA}])",
    ]


def _import_spacy():
    # thinc (under spaCy) imports PyTorch whenever it is installed, for its PyTorch layers,
    # which a tokenizer never uses: seconds of start-up and hundreds of MB beside TensorFlow.
    # It is kept from importing it here (a None in sys.modules makes `import torch` raise
    # ImportError, which thinc expects); a PyTorch already imported stays as it is.
    blocked = [m for m in ("torch", "cupy") if m not in sys.modules]
    for module in blocked:
        sys.modules[module] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        for module in blocked:
            if sys.modules.get(module, 0) is None:
                del sys.modules[module]
    return spacy


def split_text(text: str) -> list[list[tuple[int, int]]]:
    """The sentences of ``text``, each a list of its tokens' ``(start, end)`` character
    offsets (whitespace is no token; a sentence of whitespace alone is no sentence). With
    :func:`tokenize_offsets`, all that asks spaCy: the reader and
    ``bench/tokenizer_agreement.py`` both cut text here."""
    doc = pipeline()(text)
    out = []
    for sentence in doc.sents:
        offsets = [(t.idx, t.idx + len(t.text)) for t in sentence if not t.is_space]
        if offsets:
            out.append(offsets)
    for before, after in zip(out, out[1:]):
        # The sentencizer ends a sentence after its last punctuation token, so an opening
        # bracket or quote that starts the next sentence ('... in 1972. "In the ...') stays
        # with the one before; it is moved where it belongs: a bracket, or a quote with a
        # space before it and none after.
        while len(before) > 1 and _opens(text, *before[-1]):
            after.insert(0, before.pop())
    return out


_OPENERS = frozenset("([{")
_QUOTES = frozenset("\"'`\u2018\u201c\u00ab\u201e")


def _opens(text: str, start: int, end: int) -> bool:
    token = text[start:end]
    if token in _OPENERS:
        return True
    return token in _QUOTES and start > 0 and text[start - 1].isspace() and \
        end < len(text) and not text[end].isspace()


def tokenize_offsets(text: str) -> list[tuple[int, int]]:
    """The tokens of ``text`` as ``(start, end)`` offsets, by spaCy's tokenizer alone (no
    sentence splitting)."""
    return [(t.idx, t.idx + len(t.text)) for t in pipeline().tokenizer(text) if not t.is_space]


def read_documents(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """Documents of running text, lazily: for each, its sentences (tokens and ``offsets``),
    then a ``document`` record holding its ``text`` and the line it starts on. Lines of
    whitespace alone end documents and are otherwise skipped; a document over
    :data:`MAX_CHARS` characters is SeqlabError."""
    held: list[str] = []
    first = size = 0
    index = 0
    for lineno, line in lines:
        if not line.strip():
            if held:
                yield from _document(held, first, index)
                index += 1
                held = []
            continue
        if not held:
            first, size = lineno, 0
        size += len(line) + bool(held)
        if size > MAX_CHARS:
            what = f"a line of {len(line):,} characters, over the {MAX_CHARS:,} a document " \
                "may hold" if len(line) > MAX_CHARS else \
                f"the document from line {first} runs past {MAX_CHARS:,} characters"
            raise SeqlabError(f"{name}:{lineno}: {what} without a blank line; documents are "
                              "tagged whole: end them with blank lines (or read one sentence "
                              "a line: -i text)")
        held.append(line)
    if held:
        yield from _document(held, first, index)


def _document(lines: list[str], first: int, index: int) -> Iterator[Record]:
    text = "\n".join(lines)
    if text.endswith("\r"):
        text = text[:-1]  # the last line's CRLF end is no part of the text
    starts = [0]  # where each line starts in the text
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    for offsets in split_text(text):
        line = first + bisect.bisect_right(starts, offsets[0][0]) - 1
        yield Record(tokens=[text[a:b] for a, b in offsets], line=line, document=index,
                     offsets=offsets)
    yield Record(DOCUMENT, line=first, document=index, data={"text": text})


# ------------------------------------------------------------------------------ writers
def document_spans(text: str, sentences: Sequence[Record], chunked: bool = True
                   ) -> list[dict]:
    """The spans of a document's tagged sentences, in spaCy's terms: ``{"start_char",
    "end_char", "type", "text", "score"}`` (score where the tagger gave one), ``text`` being
    ``text[start_char:end_char]``, the original characters (line breaks and all)."""
    from seqlab.schemes import spans

    out = []
    if not chunked:
        return out
    for r in sentences:
        found = r.spans if r.spans is not None else spans(r.tokens, r.tags)
        for s in found:
            start, end = r.offsets[s.start][0], r.offsets[s.end - 1][1]
            item = {"start_char": start, "end_char": end, "type": s.type,
                    "text": text[start:end]}
            if s.score is not None:
                item["score"] = round(s.score, 6)
            out.append(item)
    return out


def document_object(document: Record, sentences: Sequence[Record], chunked: bool = True
                    ) -> dict:
    """A tagged document as one JSON object: ``text``, the ``line`` it starts on, ``spans``
    (:func:`document_spans`), ``sentences`` (``start_char``, ``end_char``; ``nbest`` when
    asked for) and ``tokens`` (``start_char``, ``end_char``, ``tag``; ``prob`` when asked
    for), as spaCy's ``Doc.to_json`` lays out text, ents, sents and tokens."""
    text = document.data["text"]
    obj = dict(document.data)
    obj["line"] = document.line
    obj["spans"] = document_spans(text, sentences, chunked)
    obj["sentences"] = []
    obj["tokens"] = tokens = []
    for r in sentences:
        sentence = {"start_char": r.offsets[0][0], "end_char": r.offsets[-1][1]}
        if r.nbest is not None:
            sentence["nbest"] = r.nbest
        obj["sentences"].append(sentence)
        for i, (start, end) in enumerate(r.offsets):
            token = {"start_char": start, "end_char": end, "tag": r.tags[i]}
            if r.probs is not None:
                token["prob"] = r.probs[i]
            tokens.append(token)
    return obj


class _DocumentWriter:
    """Holds the sentences of a document until its ``document`` record comes, then writes
    it whole (``write_document``); ``begin``/``end`` as the other writers."""

    def __init__(self) -> None:
        self.held: list[Record] = []

    def __call__(self, out: TextIO, record: Record) -> None:
        if record.kind == SENTENCE:
            self.held.append(record)
        elif record.kind == DOCUMENT:
            self.write_document(out, record, self.held)
            self.held = []

    def write_document(self, out: TextIO, document: Record, sentences: list[Record]) -> None:
        raise NotImplementedError

    def begin(self, out: TextIO) -> None:
        """Before the first document."""

    def end(self, out: TextIO) -> None:
        """After the last document."""


class JsonlDocumentWriter(_DocumentWriter):
    """One JSON object a document (:func:`document_object`)."""

    def __init__(self, chunked: bool = True) -> None:
        super().__init__()
        self.chunked = chunked

    def write_document(self, out, document, sentences):
        out.write(json.dumps(document_object(document, sentences, self.chunked),
                             ensure_ascii=False) + "\n")


class ConllDocumentWriter:
    """``token tag`` lines, a blank line after each sentence, and ``-DOCSTART- O`` and a blank
    line before each document, as the CoNLL-2003 files mark their documents (offsets are
    not written: JSON lines have them)."""

    def __init__(self) -> None:
        self.document: int | None = None

    def __call__(self, out: TextIO, record: Record) -> None:
        if record.kind != SENTENCE:
            return
        from seqlab.formats.columns import write_columns

        if record.document != self.document:
            self.document = record.document
            out.write("-DOCSTART- O\n\n")
        write_columns(out, record)

    def begin(self, out: TextIO) -> None:
        pass

    def end(self, out: TextIO) -> None:
        pass


class HtmlDocumentWriter(_DocumentWriter):
    """A page with each document's original text, its layout kept (line breaks, tabs, runs of
    spaces), the spans marked by type (a tag under each token for plain tags)."""

    def __init__(self, types: list[str], chunked: bool = True,
                 title: str = "Tagged documents") -> None:
        from seqlab.render.pages import environment

        super().__init__()
        self.types, self.chunked, self.title = types, chunked, title
        self.count = 0
        self.macro = environment().get_template("spans.html.j2").module.document

    def begin(self, out):
        from seqlab.render.pages import render

        out.write(render("tagged_begin.html.j2", title=self.title,
                         types=self.types if self.chunked else []))

    def write_document(self, out, document, sentences):
        self.count += 1
        pieces = document_pieces(document.data["text"], sentences, self.chunked)
        out.write(str(self.macro(pieces, self.count)) + "\n")

    def end(self, out):
        from seqlab.render.pages import render

        out.write(render("tagged_end.html.j2", count=self.count, unit="document"))


def document_pieces(text: str, sentences: Sequence[Record], chunked: bool = True
                    ) -> list[dict]:
    """A document's text cut for display: ``{"text", "type"}`` pieces that cover it exactly,
    in order (``type`` None between spans; ``score`` on spans that have one); for plain
    tags, each token a ``{"text", "tag"}`` piece."""
    if chunked:
        marked = [(s["start_char"], s["end_char"], s) for s in
                  document_spans(text, sentences, chunked)]
    else:
        marked = [(a, b, {"tag": tag}) for r in sentences
                  for (a, b), tag in zip(r.offsets, r.tags)]
    pieces, at = [], 0
    for start, end, what in marked:
        if start > at:
            pieces.append({"text": text[at:start], "type": None})
        if "tag" in what:
            pieces.append({"text": text[start:end], "tag": what["tag"], "wrong": False})
        else:
            pieces.append({"text": text[start:end], "type": what["type"], "wrong": False,
                           "score": what.get("score")})
        at = end
    if at < len(text):
        pieces.append({"text": text[at:], "type": None})
    return pieces


def document_writer(output_format: str, chunked: bool = True, labels=None):
    """The writer of documents in ``output_format`` (``jsonl``, ``html`` or ``conll``)."""
    if output_format == "jsonl":
        return JsonlDocumentWriter(chunked)
    if output_format == "html":
        from seqlab.render.pages import types_of

        return HtmlDocumentWriter(types_of(labels or []), chunked)
    if output_format == "conll":
        return ConllDocumentWriter()
    raise SeqlabError(f"documents are written as jsonl, html or conll, not {output_format!r}",
                      argument="output_format")
