"""Load a saved tagger and tag sentences with it; write the results as CoNLL or JSON lines."""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.schemes import get_chunks
from seqlab.vocab import Vocabulary, encode_corpus, padded_batches


def load_model(path: str | Path):
    """Load a `.keras` file written by `seqlab train`, or raise SeqlabError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise SeqlabError(f"{path}: model file not found")
    if not zipfile.is_zipfile(path):
        raise SeqlabError(f"{path}: not a .keras model archive (expected a file written by "
                          "`seqlab train`)")
    import keras

    import seqlab.layers  # noqa: F401  (registers seqlab's layers with Keras)

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a broken archive.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeqlabError(f"{path}: could not load the model: {first}") from None
    names = {layer.name for layer in model.layers}
    if not {"word_embedding", "tags"} <= names:
        raise SeqlabError(f"{path}: a Keras model, but not a seqlab tagger "
                          "(no 'word_embedding' and 'tags' layers)")
    return model


class Tagger:
    """A trained model with its vocabularies: token lists in, tag lists out."""

    def __init__(self, model) -> None:
        self.model = model
        embedding = model.get_layer("word_embedding")
        self.vocab = Vocabulary(embedding.vocabulary, embedding.lowercase,
                                embedding.normalize_digits)
        tags = model.get_layer("tags")
        self.labels: list[str] = tags.labels
        self.scheme: str = tags.scheme
        self.source_scheme: str = tags.source_scheme

    @classmethod
    def load(cls, path: str | Path) -> Tagger:
        return cls(load_model(path))

    def predict_ids(self, sentences: Sequence[Sequence[str]],
                    batch_size: int = 64) -> list[np.ndarray]:
        """Tag ids for each sentence, in input order (empty sentences give empty arrays)."""
        encoded = encode_corpus(self.vocab, sentences)
        result: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(sentences)
        for rows, batch in padded_batches(encoded, batch_size):
            probs = np.asarray(self.model.predict_on_batch(batch))
            best = probs.argmax(axis=-1)
            for r, i in enumerate(rows):
                result[i] = best[r, : encoded.lengths[i]]
        return result

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[list[str]]:
        """Tags for each sentence, in the scheme of the training files."""
        tagged = []
        for ids in self.predict_ids(sentences, batch_size):
            tags = [self.labels[i] for i in ids]
            if self.scheme != self.source_scheme:
                from seqlab.schemes import convert
                tags = convert(tags, self.source_scheme, source=self.scheme)
            tagged.append(tags)
        return tagged

    def tag_stream(self, sentences: Iterable[list[str]], batch_size: int = 64,
                   chunk: int = 2048) -> Iterator[tuple[list[str], list[str]]]:
        """Tag an endless stream lazily, `chunk` sentences at a time, keeping input order."""
        iterator = iter(sentences)
        while True:
            block = list(itertools.islice(iterator, chunk))
            if not block:
                return
            yield from zip(block, self.tag(block, batch_size))


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[dict]:
    return [{"start": start, "end": end, "type": kind, "text": " ".join(tokens[start:end])}
            for kind, start, end in get_chunks(tags)]


def write_conll(out: TextIO, tokens: Sequence[str], tags: Sequence[str]) -> None:
    for token, tag in zip(tokens, tags):
        out.write(f"{token} {tag}\n")
    out.write("\n")


def write_jsonl(out: TextIO, tokens: Sequence[str], tags: Sequence[str]) -> None:
    record = {"tokens": list(tokens), "tags": list(tags), "spans": spans(tokens, tags)}
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


WRITERS = {"conll": write_conll, "jsonl": write_jsonl}


def read_lines(source: TextIO, name: str) -> Iterator[list[str]]:
    """Whitespace-tokenised sentences, one per line; a blank line is an empty sentence."""
    try:
        for line in source:
            yield line.split()
    except UnicodeDecodeError as exc:
        raise SeqlabError(f"{name}: not UTF-8 (byte {exc.start} of a read block)") from None


def predict_file(tagger: Tagger, source: TextIO, out: TextIO, fmt: str = "conll",
                 batch_size: int = 64, name: str = "input", chunk: int = 2048) -> int:
    """Tag every line of `source` and write the results to `out`; returns sentences written."""
    if fmt not in WRITERS:
        raise SeqlabError(f"--format {fmt!r}: expected one of {', '.join(WRITERS)}")
    write = WRITERS[fmt]
    count = 0
    for tokens, tags in tagger.tag_stream(read_lines(source, name), batch_size, chunk):
        write(out, tokens, tags)
        count += 1
        if count % chunk == 0:
            out.flush()
    out.flush()
    return count


def evaluate_file(tagger: Tagger, path: str | Path, batch_size: int = 64,
                  token_column: int = 0, label_column: int = -1) -> dict:
    """Tag the sentences of a gold CoNLL file and score them by the conlleval rules."""
    from seqlab.data import read_corpus
    from seqlab.metrics import evaluate

    sentences = read_corpus(str(path), token_column=token_column, label_column=label_column)
    if not sentences:
        raise SeqlabError(f"{path}: no sentences found")
    gold = [s.labels for s in sentences]
    return evaluate(gold, tagger.tag([s.tokens for s in sentences], batch_size))
