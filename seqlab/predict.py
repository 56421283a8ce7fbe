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
from seqlab.tagger import Tagger

TEXT = Reading(format="text")


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
    write = writer(output_format, reading.format, label_field or reading.label_field,
                   tagger.chunked, tagger.labels)
    records = read_records(source, reading, name, labelled=False, tokenizer=tokenizer)
    return predict_stream(tagger, records, out, write, batch_size, chunk, probs, live)


def tag_corpus(tagger: Tagger, path, reading: Reading, batch_size: int = 64
               ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Tag the sentences of a gold corpus: ``(tokens, gold, predicted)``."""
    sentences = read_corpus(path, reading)
    tokens = [s.tokens for s in sentences]
    return tokens, [s.labels for s in sentences], tagger.tag(tokens, batch_size)
