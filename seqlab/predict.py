"""Tag a stream of records and write it out: prediction, reading with :mod:`seqlab.formats`,
tagging with :class:`seqlab.tagger.Tagger`, writing with the formats' writers.

:func:`predict_stream` joins them lazily, a bounded block of records at a time, so an endless
pipe or a file larger than memory is tagged with memory bounded by the block.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
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


def predict_stream(tagger: Tagger, records: Iterable[Record], out: TextIO, write,
                   batch_size: int = 64, chunk: int = 2048, probs: bool = False) -> int:
    """Tag ``records`` and ``write(out, record)`` each, ``chunk`` records at a time, in order.

    Memory is bounded by the chunk; ``out`` is flushed after each one, so a pipe gets its
    answers block by block. Returns the number of sentences written that hold a token.
    """
    iterator = iter(records)
    count = 0
    while True:
        # Each block is read, tagged and written with the cyclic collector paused: its many
        # small objects would otherwise trigger collections that walk the whole TensorFlow
        # heap (a third of the time on large files). Between blocks the collector runs as
        # usual, so an endless stream keeps memory bounded.
        with gc_paused():
            block = list(itertools.islice(iterator, chunk))
            if block:
                count += tag_records(tagger, block, batch_size, probs)
                for record in block:
                    write(out, record)
                out.flush()
        if not block:
            return count


def predict_file(tagger: Tagger, source, out: TextIO, output_format: str = "conll",
                 reading: Reading = TEXT, name: str | None = None,
                 batch_size: int = 64, chunk: int = 2048, tokenizer: str = "whitespace",
                 probs: bool = False, label_field: str | None = None) -> int:
    """Read ``source`` (a path or a binary stream) as ``reading`` says, tag it and write it
    to ``out`` in ``output_format``; returns the number of sentences.

    Args:
        label_field: CoNLL-U output: the field the tags go into (default: the one of
            ``reading``).
    """
    if probs and output_format != "jsonl":
        raise SeqlabError("probabilities need the jsonl output format (column output keeps "
                          "the tag as the last column, for conlleval)", argument="probs")
    write = writer(output_format, reading.format, label_field or reading.label_field,
                   tagger.chunked)
    records = read_records(source, reading, name, labelled=False, tokenizer=tokenizer)
    return predict_stream(tagger, records, out, write, batch_size, chunk, probs)


def tag_corpus(tagger: Tagger, path, reading: Reading, batch_size: int = 64
               ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Tag the sentences of a gold corpus: ``(tokens, gold, predicted)``."""
    sentences = read_corpus(path, reading)
    tokens = [s.tokens for s in sentences]
    return tokens, [s.labels for s in sentences], tagger.tag(tokens, batch_size)
