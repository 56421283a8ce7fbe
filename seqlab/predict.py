"""Tag a stream of records and write it out: prediction, reading with :mod:`seqlab.formats`,
tagging with :class:`seqlab.tagger.Tagger`, writing with the formats' writers.

:class:`PredictOptions` is what ``seqlab predict`` is asked (input, formats, tokenizer...),
checked in plain Python before any model is loaded; :func:`predict_input` tags the input they
name, read as they and the model say. :func:`predict_stream` joins reading, tagging and writing
lazily, a bounded block of records at a time, so an endless pipe or a file larger than memory
is tagged with memory bounded by the block.

Importing this module does not import TensorFlow (the tagger brings it when it is loaded).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, TextIO

from seqlab.errors import SeqlabError, shown
from seqlab.formats import (
    DOCUMENT_FORMATS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Reading,
    Record,
    check_encoding,
    check_tokenizer,
    documents_of,
    gc_paused,
    guess_input_format,
    is_regular_stream,
    read_corpus,
    read_records,
    writer,
)
from seqlab.formats.conllu import FIELDS, label_field_index
from seqlab.precision import check_precision
from seqlab.schemes import parse_tag
from seqlab.windows import check_max_length

if TYPE_CHECKING:
    from seqlab.tagger import Tagger

TEXT = Reading(format="text")
STDIN = "-"  # the input that names standard input
# The output format of each input format when none is asked for (conll for the others).
_DEFAULT_OUTPUT = {"conllu": "conllu", "jsonl": "jsonl", "document": "jsonl"}
# Gold labels (or the values a prediction would replace) of which fewer than this share are
# the model's tags were read from the wrong column or field.
_KNOWN_SHARE = 0.5
# Filled values seen before the input of `predict_file` is judged (or its end).
_OVERWRITE_SAMPLE = 50


def option_namer(names: Mapping[str, str] | None) -> Callable[[str], str]:
    """How messages call an option: as ``names`` says (the command line gives its flags:
    ``{"output_format": "--format"}``), else by its Python name."""
    names = names or {}
    return lambda option: names.get(option, option)


def check_output(output_format: str, input_format: str | None, probs: bool = False,
                 names: Mapping[str, str] | None = None, nbest: int = 0) -> None:
    """The rules of what can be written: an output format seqlab writes, CoNLL-U output only
    of CoNLL-U input (its lines are written back), probabilities only in JSON lines (column
    output keeps the tag as the last column, for conlleval). ``names``: :func:`option_namer`."""
    name = option_namer(names)
    if output_format not in OUTPUT_FORMATS:
        raise SeqlabError(f"{name('output_format')} {shown(output_format)}: expected one of "
                          f"{', '.join(OUTPUT_FORMATS)}")
    if output_format == "conllu" and input_format != "conllu":
        raise SeqlabError(f"{name('output_format')} conllu needs CoNLL-U input "
                          f"({name('input_format')} conllu)")
    if probs and output_format != "jsonl":
        raise SeqlabError(f"{name('probs')} needs {name('output_format')} jsonl (CoNLL output "
                          "keeps the tag as the last column, for conlleval)")
    if nbest and output_format != "jsonl":
        raise SeqlabError(f"{name('nbest')} needs {name('output_format')} jsonl (the other "
                          "formats hold one tag a token)")


def check_scoring_options(nbest: int | None, min_score: float | None,
                          names: Mapping[str, str] | None = None) -> None:
    """``nbest`` at least 1 (None: none asked for), ``min_score`` a probability."""
    name = option_namer(names)
    if nbest is not None and (isinstance(nbest, bool) or not isinstance(nbest, int)
                              or not 1 <= nbest <= 1000):
        raise SeqlabError(f"{name('nbest')} {shown(nbest)}: expected a number of tag "
                          "sequences from 1 to 1000")
    if min_score is not None and (isinstance(min_score, bool)
                                  or not isinstance(min_score, int | float)
                                  or not 0.0 <= min_score <= 1.0):
        raise SeqlabError(f"{name('min_score')} {shown(min_score)}: expected a probability "
                          "from 0 to 1")


def check_scoring(tagger: Tagger, min_score: float | None,
                  names: Mapping[str, str] | None = None) -> None:
    """Span scores need spans: a model of chunk tags."""
    if min_score is not None and not tagger.chunked:
        raise SeqlabError(f"{option_namer(names)('min_score')} needs a model of chunk tags "
                          "(B-/I-/E-/S- and O): this one tags plain labels")


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """What ``seqlab predict`` is asked, for a Python caller as for the command line.

    :meth:`checked` checks every option in plain Python (TensorFlow is not imported) and fills
    in the defaults that depend on the input; :func:`load_tagger` and :func:`predict_input`
    use the checked options, so a Python caller gets what the command line gets.

    Attributes:
        input: the file to tag, or ``-`` for standard input (streamed).
        input_format: ``text`` (one sentence a line), ``conll``, ``conllu``, ``jsonl`` or
            ``document`` (running text, documents ended by blank lines: sentences, tokens
            and character offsets by spaCy, :mod:`seqlab.formats.document`); None: from the
            file's name and first lines (standard input: text).
        output_format: ``conll``, ``jsonl``, ``conllu`` or ``html``; None: conllu for CoNLL-U
            input, jsonl for JSON lines and documents, else conll.
        tokenizer: text and JSON lines with "text": ``whitespace`` or ``simple``.
        probs: JSON lines output: the probability of each chosen tag.
        nbest: JSON lines output: the ``nbest`` most probable tag sequences of each sentence
            with their probabilities (None: none).
        min_score: keep only the spans the model is at least this sure of (the tokens of
            the others are tagged O); None: all.
        label_field: CoNLL-U output: the field the tags go into (None: the model's).
        encoding: the input's encoding when it has no byte-order mark (None: the model's for
            conll and conllu input, else UTF-8).
        token_column: conll input: the token column (None: the model's).
        max_length: tag longer sentences in overlapping windows of this many tokens (None:
            the model's default; 0: never split).
        batch_size: sentences per batch, at most.
        precision: what the network computes in: ``float32``, ``bfloat16`` or ``auto``
            (:mod:`seqlab.precision`).
        names: how messages call the options (the command line's flags); by their Python
            names where it says nothing.
    """

    input: str | os.PathLike = STDIN
    input_format: str | None = None
    output_format: str | None = None
    tokenizer: str = "whitespace"
    probs: bool = False
    nbest: int | None = None
    min_score: float | None = None
    label_field: str | None = None
    encoding: str | None = None
    token_column: int | None = None
    max_length: int | None = None
    batch_size: int = 64
    precision: str = "float32"
    names: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False,
                                                 repr=False)

    @property
    def from_stdin(self) -> bool:
        return isinstance(self.input, str) and self.input == STDIN

    def checked(self) -> PredictOptions:
        """These options with the input and output formats filled in, once each is checked;
        SeqlabError (one line, naming the option) for the first that is wrong. Nothing but
        the input's first lines (for its format) is read, and no model is loaded."""
        from seqlab.paths import input_file

        name = option_namer(self.names)
        if self.encoding is not None:
            check_encoding(self.encoding)
        input_format = self.input_format
        if input_format is None:
            input_format = "text" if self.from_stdin else \
                guess_input_format(self.input, self.encoding)
        if input_format not in INPUT_FORMATS:
            raise SeqlabError(f"{name('input_format')} {shown(input_format)}: expected one of "
                              f"{', '.join(INPUT_FORMATS)}")
        if input_format == "document":
            from seqlab.formats.document import check_documents

            check_documents(f"{name('input_format')} document")
        output_format = self.output_format or _DEFAULT_OUTPUT.get(input_format, "conll")
        check_tokenizer(self.tokenizer)
        check_scoring_options(self.nbest, self.min_score, self.names)
        check_output(output_format, input_format, self.probs, self.names, self.nbest or 0)
        check_max_length(self.max_length, name("max_length"))
        check_precision(self.precision, name("precision"))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or \
                self.batch_size < 1:
            raise SeqlabError(f"{name('batch_size')} {shown(self.batch_size)}: expected at "
                              "least 1 sentence")
        if self.label_field is not None:
            writer(output_format, input_format, self.label_field)  # a bad field fails now
        if self.from_stdin:
            if getattr(sys.stdin, "buffer", None) is None:
                raise SeqlabError("-: stdin is closed; expected the input on stdin, or a file "
                                  "name")
        else:
            input_file(self.input, "input file")
        return dataclasses.replace(self, input_format=input_format,
                                   output_format=output_format)

    def reading(self, tagger: Tagger) -> Reading:
        """How the input is read: conll and conllu as the model's training files were
        (columns, encoding), text and JSON lines as UTF-8; the token column and encoding
        given here over either."""
        if self.input_format is None:
            return self.checked().reading(tagger)
        base = tagger.reading if self.input_format in ("conll", "conllu") else Reading()
        return base.updated(format=self.input_format, token_column=self.token_column,
                            encoding=self.encoding)


def load_tagger(model, options: PredictOptions | None = None,
                warn: Callable[[str], None] | None = None) -> Tagger:
    """The model file ``model`` loaded to tag as ``options`` say (its ``max_length`` and
    ``precision``); ``warn`` hears of each sentence cut into windows. Imports TensorFlow."""
    from seqlab.tagger import Tagger

    options = options or PredictOptions()
    return Tagger.load(model, max_length=options.max_length, warn=warn,
                       precision=options.precision)


def predict_input(tagger: Tagger, options: PredictOptions, out: TextIO) -> int:
    """Tag the input ``options`` name (checked here, if not yet) and write it to ``out``;
    returns the number of sentences that hold a token.

    A pipe or a terminal on standard input gets its answers as soon as its input pauses; a
    file (named, or redirected to stdin) is read in big blocks, sorted by length within each.
    SeqlabError when a named file holds no sentence (an empty stream is no error).
    """
    options = options.checked()
    check_scoring(tagger, options.min_score, options.names)
    if options.from_stdin:
        source, name = sys.stdin.buffer, "<stdin>"
        live = not is_regular_stream(sys.stdin)
    else:
        source, name, live = options.input, os.fspath(options.input), False
    count = predict_file(tagger, source, out, options.output_format, options.reading(tagger),
                         name, batch_size=options.batch_size, tokenizer=options.tokenizer,
                         probs=options.probs, label_field=options.label_field, live=live,
                         nbest=options.nbest or 0, min_score=options.min_score)
    if not count and not options.from_stdin:
        raise SeqlabError(f"{name}: the file holds no sentence to tag")
    return count


def foreign_labels(tagger: Tagger, label_sequences) -> tuple[int, int, list[str]]:
    """``(labels that are not the model's tags, labels, the first few of them)``. Chunk
    tags are compared by type (an IOB1 file's ``I-PER`` is a tag of an IOB2 model with
    ``PER``); plain labels as they are."""
    if tagger.chunked:
        types = {kind for prefix, kind in map(parse_tag, tagger.labels) if kind and prefix}

        def known(label: str) -> bool:
            prefix, kind = parse_tag(label)
            return prefix == "O" or (prefix != "" and kind in types)
    else:
        known = set(tagger.labels).__contains__
    foreign = total = 0
    examples: list[str] = []
    for labels in label_sequences:
        for label in labels:
            total += 1
            if not known(label):
                foreign += 1
                if len(examples) < 3 and label not in examples:
                    examples.append(label)
    return foreign, total, examples


def _mostly_foreign(foreign: int, total: int) -> bool:
    return total > 0 and total - foreign < _KNOWN_SHARE * total


def _tag_list(tagger: Tagger, most: int = 8) -> str:
    shown = ", ".join(tagger.labels[:most])
    return shown + (", ..." if len(tagger.labels) > most else "")


@dataclasses.dataclass(frozen=True)
class Scoring:
    """What is worked out beside the tags: each span's probability (``spans``), the ``nbest``
    most probable tag sequences, and spans below ``min_score`` dropped (their tokens tagged
    O); :mod:`seqlab.confidence`."""

    spans: bool = False
    nbest: int = 0
    min_score: float | None = None

    def __bool__(self) -> bool:
        return self.spans or bool(self.nbest) or self.min_score is not None


def tag_records(tagger: Tagger, block: list[Record], batch_size: int = 64,
                probs: bool = False, scoring: Scoring = Scoring(),
                around: tuple[list[Record], list[Record]] | None = None) -> int:
    """Fill in ``tags`` (and ``probs``, and the ``spans`` and ``nbest`` that ``scoring``
    asks for) of the sentences of a block; returns how many hold a token (empty sentences,
    such as blank lines of text, are written but not counted).

    ``around``: the sentences just before and just after the block, tagged with it but left
    as they are; given (even empty), each sentence is tagged with its document's neighbours
    as a transformer's context (``Record.document``; :func:`context_blocks`)."""
    todo = [r for r in block if r.kind == "sentence"]
    documents = None
    if around is not None:
        before, after = around
        todo = [*before, *todo, *after]
        documents = [r.document for r in todo]
        keep = slice(len(before), len(todo) - len(after))
    else:
        keep = slice(None)
    sentences = [r.tokens for r in todo]
    if scoring or probs:  # one forward pass for the tags, their probabilities and scores
        _score_records(tagger, todo, batch_size, scoring, probs, documents, keep)
    else:
        for r, t in zip(todo[keep], tagger.tag(sentences, batch_size, documents)[keep]):
            r.tags = t
    return sum(1 for r in todo[keep] if r.tokens)


def _score_records(tagger: Tagger, records: list[Record], batch_size: int, scoring: Scoring,
                   probs: bool = False, documents=None, keep: slice = slice(None)) -> None:
    from seqlab.confidence import round_probs
    from seqlab.schemes import span

    analyses = tagger.analyse([r.tokens for r in records], batch_size, scoring.nbest,
                              documents=documents)[keep]
    records = records[keep]
    floor = scoring.min_score
    for r, a, tags in zip(records, analyses, tagger.tags_of([a.ids for a in analyses])):
        if probs:
            r.probs = round_probs(a.probs)
        if not scoring:
            r.tags = tags
            continue
        kept = []
        for kind, start, end, p in a.spans:
            if floor is not None and p < floor:
                tags[start:end] = ["O"] * (end - start)
            else:
                kept.append(span(r.tokens, (kind, start, end), p))
        r.tags = tags
        if tagger.chunked:
            r.spans = kept
        if scoring.nbest:
            r.nbest = [{"tags": tagger.to_tags(ids), "prob": round(p, 6)} for ids, p in a.nbest]


# How long a live block waits for more input that is already on its way (lines pasted or
# piped together arrive within microseconds of each other; a person types far slower).
_PAUSE = 0.02


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def live_blocks(records: Iterable[Record], most: int) -> Iterator[list[Record]]:
    """Blocks of what has arrived: wait for the next record, then take every record that
    follows without a pause, ``most`` at most. A line typed at a terminal is a block of its
    own; lines piped in together go in blocks of ``most``. The records are read in a thread,
    so reading never waits on tagging."""
    waiting: queue.Queue = queue.Queue(maxsize=4 * most)
    done = object()

    def pump():
        try:
            for record in records:
                waiting.put(record)
            waiting.put(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
            waiting.put(_Failure(exc))

    threading.Thread(target=pump, name="seqlab-input", daemon=True).start()
    while True:
        item = waiting.get()
        block: list[Record] = []
        while True:
            if item is done:
                if block:
                    yield block
                return
            if isinstance(item, _Failure):
                if block:
                    yield block
                raise item.error
            block.append(item)
            if len(block) >= most:
                break
            try:
                item = waiting.get(timeout=_PAUSE)
            except queue.Empty:
                break
        yield block


def context_blocks(blocks: Iterable[list[Record]], reach: int
                   ) -> Iterator[tuple[list[Record], tuple[list[Record], list[Record]]]]:
    """Blocks regrouped so that every sentence is tagged with its document's neighbours:
    ``(block, (before, after))``, ``before`` and ``after`` the sentences just before and
    after the block (what :func:`tag_records` reads as context and leaves as it is).

    A sentence is tagged once ``reach`` tokens of its document's following sentences have
    arrived, or its document has ended (a record of another document, the ``document`` record
    of running text) or the input has; until then it and the records after it wait for the
    next block, so a stream is written in order and memory stays bounded. A token is at
    least one subword, so ``reach`` tokens on each side hold a transformer's ``context``
    subwords; ``before`` keeps that many tokens of the sentences already written."""
    history: list[Record] = []
    pending: list[Record] = []

    def enough(sentences: Iterable[Record]) -> list[Record]:
        taken, tokens = [], 0
        for r in sentences:
            if tokens >= reach:
                break
            taken.append(r)
            tokens += len(r.tokens)
        return taken

    def ready_until(records: list[Record]) -> int:
        """How many of ``records`` can be tagged now (the rest may still get context)."""
        following = 0  # tokens of the same document's sentences after the record looked at
        ended = False  # its document ends within ``records``
        cut = len(records)
        for i in range(len(records) - 1, -1, -1):
            r = records[i]
            if r.kind == "document":
                ended, following = True, 0
                continue
            if i + 1 < len(records) and records[i + 1].document != r.document:
                ended, following = True, 0
            if r.kind == "sentence":
                if not ended and following < reach:
                    cut = i
                following += len(r.tokens)
        return cut

    for block in itertools.chain(blocks, [None]):
        if block is None:  # the end of the input: whatever waits is tagged now
            ready, pending = pending, []
        else:
            pending += block
            cut = ready_until(pending)
            ready, pending = pending[:cut], pending[cut:]
        if not ready:
            continue
        sentences = [r for r in ready if r.kind == "sentence"]
        after = enough(r for r in pending if r.kind == "sentence")
        yield ready, (enough(reversed(history))[::-1], after)
        history = enough(reversed(history + sentences))[::-1]
        block = ready = sentences = after = None  # not held while the next block is read


def _alone(blocks: Iterable[list[Record]]) -> Iterator[tuple[list[Record], None]]:
    """Each block with no context, none of them held here while the next is read (the
    collector pauses block by block: see :func:`predict_stream`)."""
    for block in blocks:
        item, block = (block, None), None
        yield item
        item = None


def predict_stream(tagger: Tagger, records: Iterable[Record], out: TextIO, write,
                   batch_size: int = 64, chunk: int = 2048, probs: bool = False,
                   live: bool = False, scoring: Scoring = Scoring(),
                   documents: bool = False) -> int:
    """Tag ``records`` and ``write(out, record)`` each, ``chunk`` records at a time, in order;
    with ``live`` (a pipe or a terminal), what has arrived as soon as the input pauses, up to
    ``batch_size`` records (:func:`live_blocks`).

    With ``documents`` (records of a format with documents, ``formats.DOCUMENT_FORMATS``)
    and a model whose transformer reads document context (``Tagger.context``), each sentence
    is tagged with its neighbours, as in training: a sentence waits for what follows it in
    its document (:func:`context_blocks`).

    Memory is bounded by the chunk; ``out`` is flushed after each block, so a pipe gets its
    answers block by block. Returns the number of sentences written that hold a token.
    """
    iterator = iter(records)
    if live:
        blocks = live_blocks(iterator, batch_size)
    else:
        blocks = iter(lambda: list(itertools.islice(iterator, chunk)), [])
    if documents and tagger.context:
        blocks = context_blocks(blocks, tagger.context)
    else:
        blocks = _alone(blocks)
    count = 0
    begin, end = getattr(write, "begin", None), getattr(write, "end", None)
    if begin is not None:
        begin(out)
    while True:
        # Each block is read (from a file), tagged and written with the cyclic collector
        # paused, and freed before it resumes: its many small objects would otherwise trigger
        # collections, and those that outlive a few of them (a block lives through its own
        # reading) collections of the oldest generation, each a walk over the whole
        # TensorFlow heap (0.3-0.4 s, every other pass over CoNLL-2003 test). Between blocks
        # the collector runs as usual, so an endless stream keeps memory bounded; live input
        # is waited for with it running.
        item = next(blocks, None) if live else None
        with gc_paused():
            if not live:
                item = next(blocks, None)
            if item is None:
                break
            block, around = item
            count += tag_records(tagger, block, batch_size, probs, scoring, around)
            for record in block:
                write(out, record)
            out.flush()
            item = block = around = record = None
    if end is not None:
        end(out)
        out.flush()
    return count


def predict_file(tagger: Tagger, source, out: TextIO, output_format: str = "conll",
                 reading: Reading = TEXT, name: str | None = None,
                 batch_size: int = 64, chunk: int = 2048, tokenizer: str = "whitespace",
                 probs: bool = False, label_field: str | None = None,
                 live: bool = False, nbest: int = 0, min_score: float | None = None) -> int:
    """Read ``source`` (a path or a binary stream) as ``reading`` says, tag it and write it
    to ``out`` in ``output_format``; returns the number of sentences.

    Args:
        label_field: CoNLL-U output: the field the tags go into (default: the one of
            ``reading``).
        live: tag what has arrived whenever the input pauses (a pipe, a terminal).
        nbest: JSON lines: the ``nbest`` most probable tag sequences of each sentence.
        min_score: drop the spans the model is less sure of than this (their tokens O).
    """
    check_output(output_format, reading.format, probs, nbest=nbest)
    check_scoring(tagger, min_score)
    field = label_field or reading.label_field
    write = writer(output_format, reading.format, field, tagger.chunked, tagger.labels)
    records = read_records(source, reading, name, labelled=False, tokenizer=tokenizer)
    if output_format == "conllu":
        records = _overwrite_check(tagger, records, field, name or str(source))
    # Span scores cost little: JSON lines and pages always carry them.
    scoring = Scoring(spans=tagger.chunked and output_format in ("jsonl", "html"),
                      nbest=nbest, min_score=min_score)
    return predict_stream(tagger, records, out, write, batch_size, chunk, probs, live,
                          scoring, documents=reading.format in DOCUMENT_FORMATS)


def _overwrite_check(tagger: Tagger, records: Iterable[Record], field: str, name: str
                     ) -> Iterator[Record]:
    """``records`` as they come, and one warning (``tagger.warn``) when the CoNLL-U
    ``field`` the tags go into is filled with values that are mostly not the model's tags:
    UPOS replaced by NER tags. Judged on the first filled values (or all, if fewer)."""
    index, misc_key = label_field_index(field)
    what = FIELDS[index].upper() if misc_key is None else f"MISC {misc_key}"
    values: list[str] = []
    judged = False
    for record in records:
        if not judged and record.words:
            for i in record.words:
                row = record.rows[i]
                if misc_key is None:
                    value = row[index]
                else:
                    value = next((v for k, eq, v in (x.partition("=") for x in row[9].split("|"))
                                  if eq and k == misc_key), "_")
                if value not in ("", "_"):
                    values.append(value)
            if len(values) >= _OVERWRITE_SAMPLE:
                judged = True
                _warn_overwrite(tagger, values, what, name)
        yield record
    if not judged:
        _warn_overwrite(tagger, values, what, name)


def _warn_overwrite(tagger: Tagger, values: list[str], what: str, name: str) -> None:
    foreign, total, examples = foreign_labels(tagger, [values])
    if _mostly_foreign(foreign, total):
        tagger.warn(f"{name}: the predicted tags replace its {what} values ({', '.join(examples)}"
                    f", ...), which are not tags of this model ({_tag_list(tagger)}); write "
                    "them into another field?")


def tag_corpus(tagger: Tagger, path, reading: Reading, batch_size: int = 64,
               scored: bool = False) -> tuple[list, list, list, tuple | None]:
    """Tag the sentences of a gold corpus: ``(tokens, gold, predicted, outputs)``;
    ``outputs``, with ``scored`` and a model of chunk tags, the tag ids and network outputs
    that :mod:`seqlab.confidence` scores (:meth:`Tagger.outputs`), else None.

    SeqlabError when fewer than half the gold labels are tags of the model: they were read
    from another column or field than the model was trained on (UPOS tags scored against an
    NER model would give 0.00% without a word)."""
    sentences = read_corpus(path, reading)
    foreign, total, examples = foreign_labels(tagger, (s.labels for s in sentences))
    if _mostly_foreign(foreign, total):
        conllu = sentences[0].words is not None
        read = "field" if conllu else "column"
        share = "none" if foreign == total else f"only {total - foreign:,}"
        raise SeqlabError(f"{path}: {share} of its {total:,} gold labels are tags of this "
                          f"model (found {', '.join(examples)}; the model's: "
                          f"{_tag_list(tagger)}): are the labels read from the right {read}?",
                          argument="label_field" if conllu else "label_column")
    tokens = [s.tokens for s in sentences]
    gold = [s.labels for s in sentences]
    documents = documents_of(sentences, reading.format)  # a transformer's context
    if not (scored and tagger.chunked):
        return tokens, gold, tagger.tag(tokens, batch_size, documents), None
    ids, outputs = tagger.outputs(tokens, batch_size, documents)
    return tokens, gold, tagger.tags_of(ids), (ids, outputs)
