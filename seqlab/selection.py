"""Which unlabelled sentences a person should annotate next: the ones the model is least sure
of (uncertainty sampling, as Prodigy's ``ner.teach`` does), ranked by a score from
:mod:`seqlab.confidence`.

Strategies (higher is more uncertain):

* ``expected_errors``: the expected number of tokens the model tags wrong, the sum over tokens
  of one minus the chosen tag's marginal probability (Settles & Craven 2008's total token
  uncertainty): a sentence with many unsure tokens teaches most;
* ``least_confident``: ``-log P(best sequence) / tokens``, the best reading's probability
  normalised for length (Shen et al. 2017's MNLP);
* ``margin``: ``1 - (P(best) - P(second best))``, the two best readings close together.

The pool is read a block at a time and only the ``n`` best candidates are kept (a heap), so a
pool of any size is ranked in bounded memory; ties go to the earlier sentence, so a fixed model
and pool always give the same choice.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqlab.errors import SeqlabError, shown
from seqlab.formats import Record

if TYPE_CHECKING:
    from seqlab.tagger import Tagger

STRATEGIES = ("expected_errors", "least_confident", "margin")
OUTPUT_FORMATS = ("conll", "jsonl")


@dataclass
class Choice:
    """A chosen sentence: its place in the pool (``index`` among the sentences, ``line``),
    the record with the model's tags filled in, its uncertainty ``score``, and the
    probabilities of the best and second-best tag sequences."""

    index: int
    line: int
    record: Record
    score: float
    best: float
    second: float

    def to_dict(self) -> dict:
        return {"index": self.index, "line": self.line, "score": round(self.score, 6),
                "best": round(self.best, 6), "second": round(self.second, 6),
                "tokens": len(self.record.tokens)}


def check_selection(n: int, strategy: str, names=None) -> None:
    """``n`` at least 1, ``strategy`` one of :data:`STRATEGIES`."""
    from seqlab.predict import option_namer

    name = option_namer(names)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SeqlabError(f"{name('n')} {shown(n)}: expected at least 1 sentence to select")
    if strategy not in STRATEGIES:
        raise SeqlabError(f"{name('strategy')} {shown(strategy)}: expected one of "
                          f"{', '.join(STRATEGIES)}")


def check_pool_format(input_format: str, names=None) -> None:
    """A pool is read a sentence at a time: not as running-text documents."""
    from seqlab.predict import option_namer

    if input_format == "document":
        raise SeqlabError(f"{option_namer(names)('input_format')} document: select ranks "
                          "sentences; give the pool as text (one sentence a line), conll, "
                          "conllu or jsonl")


def check_output_format(output_format: str, names=None) -> None:
    from seqlab.predict import option_namer

    if output_format not in OUTPUT_FORMATS:
        raise SeqlabError(f"{option_namer(names)('output_format')} {shown(output_format)}: "
                          f"expected one of {', '.join(OUTPUT_FORMATS)} for a selection")


def uncertainty(best: float, second: float, tokens: int, strategy: str,
                errors: float = 0.0) -> float:
    """The score a sentence is ranked by (higher: less sure), see the module docstring."""
    if strategy == "expected_errors":
        return errors
    if strategy == "margin":
        return 1.0 - (best - second)
    return -math.log(max(best, 1e-300)) / max(tokens, 1)


def select(tagger: Tagger, records: Iterable[Record], n: int,
           strategy: str = "expected_errors", batch_size: int = 64, block: int = 2048,
           documents: bool = False) -> tuple[list[Choice], int]:
    """The ``n`` sentences of ``records`` the model is least sure of, most uncertain first,
    and the number of sentences ranked (empty sentences are skipped). ``documents``: the
    records come in documents (``formats.DOCUMENT_FORMATS``), read as a transformer's
    context as ``predict`` reads them (``seqlab.predict.context_blocks``)."""
    check_selection(n, strategy)
    heap: list[tuple[float, int, Choice]] = []  # the n largest (score, -index) so far
    iterator = iter(records)
    blocks = iter(lambda: list(itertools.islice(iterator, block)), [])
    if documents and tagger.context:
        from seqlab.predict import context_blocks

        grouped = context_blocks(blocks, tagger.context)
    else:
        grouped = ((b, None) for b in blocks)
    seen = 0
    for records_, around in grouped:
        chunk = [r for r in records_ if r.is_sentence and r.tokens]
        if not chunk:
            continue
        every, docs, keep = chunk, None, slice(None)
        if around is not None:  # empty sentences add no context
            before, after = ([r for r in x if r.tokens] for x in around)
            every = [*before, *chunk, *after]
            docs = [r.document for r in every]
            keep = slice(len(before), len(every) - len(after))
        analyses = tagger.analyse([r.tokens for r in every], batch_size,
                                  2 if strategy == "margin" else 0, documents=docs)[keep]
        for record, a in zip(chunk, analyses):
            second = a.nbest[1][1] if len(a.nbest) > 1 else 0.0
            score = uncertainty(a.best, second, len(record.tokens), strategy, a.errors)
            key = (score, -seen)
            if len(heap) < n or key > heap[0][:2]:
                record.tags = tagger.to_tags(a.ids)
                choice = Choice(seen, record.line, record, score, a.best, second)
                if len(heap) < n:
                    heapq.heappush(heap, (*key, choice))
                else:
                    heapq.heapreplace(heap, (*key, choice))
            seen += 1
    chosen = [c for *_, c in sorted(heap, key=lambda x: x[:2], reverse=True)]
    return chosen, seen


def select_input(tagger: Tagger, options, n: int, strategy: str = "expected_errors"
                 ) -> tuple[list[Choice], int]:
    """:func:`select` over the pool that checked ``seqlab.predict.PredictOptions`` name (a
    file or ``-``), read as ``predict`` reads it."""
    import sys

    from seqlab.formats import DOCUMENT_FORMATS, read_records

    source, name = (sys.stdin.buffer, "<stdin>") if options.from_stdin else \
        (options.input, str(options.input))
    reading = options.reading(tagger)
    records = read_records(source, reading, name, labelled=False,
                           tokenizer=options.tokenizer)
    return select(tagger, records, n, strategy, options.batch_size,
                  documents=reading.format in DOCUMENT_FORMATS)


def write_selection(chosen: list[Choice], out, output_format: str, input_format: str) -> None:
    """The chosen sentences, most uncertain first, with the model's tags to correct
    (``output_format`` as ``predict`` writes it)."""
    from seqlab.formats import writer

    write = writer(output_format, input_format)
    write.begin(out)
    for choice in chosen:
        write(out, choice.record)
        record = choice.record
        if output_format == "conll" and (record.raw is not None or record.words is not None):
            out.write("\n")  # column files: the blank line that ends the sentence
    write.end(out)
