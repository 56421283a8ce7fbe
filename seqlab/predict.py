"""Tag a stream of records and write it out: prediction, reading with :mod:`seqlab.formats`,
tagging with :class:`seqlab.tagger.Tagger`, writing with the formats' writers.

:func:`predict_stream` joins them lazily, a bounded block of records at a time, so an endless
pipe or a file larger than memory is tagged with memory bounded by the block.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TextIO

from seqlab.errors import SeqlabError
from seqlab.formats import Reading, Record, gc_paused, read_corpus, read_records, writer
from seqlab.formats.conllu import FIELDS, label_field_index
from seqlab.schemes import parse_tag
from seqlab.tagger import Tagger

TEXT = Reading(format="text")

# Gold labels (or the values a prediction would replace) of which fewer than this share are
# the model's tags were read from the wrong column or field.
_KNOWN_SHARE = 0.5
# Filled values seen before the input of `predict_file` is judged (or its end).
_OVERWRITE_SAMPLE = 50


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


def tag_records(tagger: Tagger, block: list[Record], batch_size: int = 64,
                probs: bool = False) -> int:
    """Fill in ``tags`` (and ``probs``) of the sentences of a block; returns how many hold a
    token (empty sentences, such as blank lines of text, are written but not counted)."""
    todo = [r for r in block if r.kind == "sentence"]
    sentences = [r.tokens for r in todo]
    if probs:
        tags, scores = tagger.tag_with_probs(sentences, batch_size)
        for r, t, p in zip(todo, tags, scores):
            r.tags, r.probs = t, p
    else:
        for r, t in zip(todo, tagger.tag(sentences, batch_size)):
            r.tags = t
    return sum(1 for r in todo if r.tokens)


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


def predict_stream(tagger: Tagger, records: Iterable[Record], out: TextIO, write,
                   batch_size: int = 64, chunk: int = 2048, probs: bool = False,
                   live: bool = False) -> int:
    """Tag ``records`` and ``write(out, record)`` each, ``chunk`` records at a time, in order;
    with ``live`` (a pipe or a terminal), what has arrived as soon as the input pauses, up to
    ``batch_size`` records (:func:`live_blocks`).

    Memory is bounded by the chunk; ``out`` is flushed after each block, so a pipe gets its
    answers block by block. Returns the number of sentences written that hold a token.
    """
    iterator = iter(records)
    if live:
        blocks = live_blocks(iterator, batch_size)
    else:
        blocks = iter(lambda: list(itertools.islice(iterator, chunk)), [])
    count = 0
    begin, end = getattr(write, "begin", None), getattr(write, "end", None)
    if begin is not None:
        begin(out)
    for block in blocks:
        # Each block is tagged and written with the cyclic collector paused: its many small
        # objects would otherwise trigger collections that walk the whole TensorFlow heap (a
        # third of the time on large files). Between blocks the collector runs as usual, so
        # an endless stream keeps memory bounded.
        with gc_paused():
            count += tag_records(tagger, block, batch_size, probs)
            for record in block:
                write(out, record)
            out.flush()
    if end is not None:
        end(out)
        out.flush()
    return count


def predict_file(tagger: Tagger, source, out: TextIO, output_format: str = "conll",
                 reading: Reading = TEXT, name: str | None = None,
                 batch_size: int = 64, chunk: int = 2048, tokenizer: str = "whitespace",
                 probs: bool = False, label_field: str | None = None,
                 live: bool = False) -> int:
    """Read ``source`` (a path or a binary stream) as ``reading`` says, tag it and write it
    to ``out`` in ``output_format``; returns the number of sentences.

    Args:
        label_field: CoNLL-U output: the field the tags go into (default: the one of
            ``reading``).
        live: tag what has arrived whenever the input pauses (a pipe, a terminal).
    """
    if probs and output_format != "jsonl":
        raise SeqlabError("probabilities need the jsonl output format (column output keeps "
                          "the tag as the last column, for conlleval)", argument="probs")
    field = label_field or reading.label_field
    write = writer(output_format, reading.format, field, tagger.chunked, tagger.labels)
    records = read_records(source, reading, name, labelled=False, tokenizer=tokenizer)
    if output_format == "conllu":
        records = _overwrite_check(tagger, records, field, name or str(source))
    return predict_stream(tagger, records, out, write, batch_size, chunk, probs, live)


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


def tag_corpus(tagger: Tagger, path, reading: Reading, batch_size: int = 64
               ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Tag the sentences of a gold corpus: ``(tokens, gold, predicted)``.

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
    return tokens, [s.labels for s in sentences], tagger.tag(tokens, batch_size)
