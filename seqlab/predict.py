"""Load a saved tagger and tag text with it: the prediction formats, streaming and long input.

Reading, tagging and writing are three separate steps joined by :class:`Record`:

* readers (:func:`read_records`) turn an input (``text``, ``conll``, ``conllu`` or ``jsonl``)
  into records, one per sentence plus one per line that is not a sentence (a blank line between
  CoNLL sentences, a ``-DOCSTART-`` line), so that nothing of the input is lost;
* :class:`Tagger` tags token lists (in batches of similar length, padded per batch);
* writers (:func:`writer_for`: ``conll``, ``jsonl``, ``conllu``) write each record back out with
  its tags, keeping every input column, key, comment and blank line in place.

:func:`predict_stream` joins them lazily, a bounded block of records at a time, so an endless
pipe or a file larger than memory is tagged with memory bounded by the block.
"""

from __future__ import annotations

import itertools
import json
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.schemes import get_chunks, is_chunk_scheme
from seqlab.vocab import CharVocabulary, Vocabulary, encode_corpus, padded_batches

INPUT_FORMATS = ("text", "conll", "conllu", "jsonl")
OUTPUT_FORMATS = ("conll", "jsonl", "conllu")
TOKENIZERS = ("whitespace", "simple")

# A model with global attention tags sentences up to this many tokens at once; longer ones are
# tagged in overlapping windows (with a warning). Its attention costs T**2 per sentence, so a
# sentence of 10,000 tokens would take minutes and the batch it sits in gigabytes. Local
# attention (attention_width) costs T * width: any length is tagged whole.
GLOBAL_MAX_LENGTH = 4096


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


def _layer(model, name: str):
    for layer in model.layers:
        if layer.name == name:
            return layer
    return None


class Tagger:
    """A trained model with its vocabularies: token lists in, tag lists out.

    Args:
        model: a model built by :func:`seqlab.model.build_model` (or loaded from model.keras).
        max_length: tag sentences longer than this in overlapping windows of this many tokens.
            None: :data:`GLOBAL_MAX_LENGTH` when the model has global attention, no limit
            otherwise; 0: never split.
        warn: called with a one-line message when a sentence is split into windows
            (default: :func:`warnings.warn`).
    """

    def __init__(self, model, max_length: int | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.model = model
        embedding = model.get_layer("word_embedding")
        self.vocab = Vocabulary(embedding.vocabulary, embedding.lowercase,
                                embedding.normalize_digits)
        self.chars = None
        if "char_embedding" in {layer.name for layer in model.layers}:
            layer = model.get_layer("char_embedding")
            self.chars = CharVocabulary(layer.vocabulary, layer.max_length)
        tags = model.get_layer("tags")
        self.labels: list[str] = tags.labels
        self.scheme: str = tags.scheme
        self.source_scheme: str = tags.source_scheme
        self.chunked = is_chunk_scheme(self.labels)
        # The CRF output layer (when the model has one, named "crf"): its Viterbi path gives
        # the tags and its marginals the probabilities of --probs. See predict_ids.
        self.crf = _layer(model, "crf")
        self._compiled: dict = {}
        attention = _layer(model, "attention")
        self.global_attention = attention is not None and attention.attention_width is None
        if max_length is None:
            max_length = GLOBAL_MAX_LENGTH if self.global_attention else 0
        if max_length and max_length < 4:
            raise SeqlabError(f"--max-length {max_length}: expected 0 (never split) or at "
                              "least 4 tokens")
        self.max_length = int(max_length)
        self.warn = warn or (lambda message: warnings.warn(message, stacklevel=3))

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> Tagger:
        return cls(load_model(path), **kwargs)

    # ------------------------------------------------------------------ the forward pass
    def predict_ids(self, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                    probs: bool = False) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """The model's forward pass: tag ids for each sentence, in input order.

        Sentences are sorted by length, batched and padded per batch (padding is masked).
        Empty sentences give empty arrays. No sentence is split here (see :meth:`tag`).

        Returns:
            ``(ids, scores)``: ``ids[i]`` the tag ids of sentence ``i`` (int array, one per
            token); ``scores[i]`` the probability of each chosen tag (float array) when
            ``probs`` is True, else ``scores`` is None.
        """
        encoded = encode_corpus(self.vocab, sentences, chars=self.chars)
        empty = np.zeros(0, dtype=np.int64)
        ids: list[np.ndarray] = [empty] * len(sentences)
        scores: list[np.ndarray] | None = [empty.astype(np.float32)] * len(sentences) \
            if probs else None
        lengths = encoded.lengths
        forward = self._forward(probs)
        for rows, batch in padded_batches(encoded, batch_size):
            # `batch` is the word-id array, or a dict with "chars" for models that read them.
            best, chosen = forward(batch)
            best = np.asarray(best)
            chosen = np.asarray(chosen) if probs else None
            for r, i in enumerate(rows):
                ids[i] = best[r, : lengths[i]]
                if probs:
                    scores[i] = chosen[r, : lengths[i]]
        return ids, scores

    def _forward(self, probs: bool):
        """Batch inputs -> (best tag ids, probability of each chosen tag).

        Softmax models take the argmax; CRF models the Viterbi path and its marginals. On
        TensorFlow the whole step is one graph traced once for every batch shape (Keras'
        `predict_on_batch` would retrace for each new sentence length).
        """
        key = ("forward", probs)
        if key in self._compiled:
            return self._compiled[key]
        from keras import ops

        model, crf = self.model, self.crf

        def step(batch):
            words = batch["words"] if isinstance(batch, dict) else batch
            output = model(batch, training=False)
            if crf is not None:
                mask = ops.not_equal(words, 0)
                best = crf.decode(output, mask)
                p = crf.marginals(output, mask) if probs else None
            else:
                best = ops.argmax(output, axis=-1)
                p = output if probs else None
            if not probs:
                return best, best
            return best, ops.squeeze(ops.take_along_axis(p, ops.expand_dims(best, -1), -1), -1)

        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            spec = tf.TensorSpec([None, None], tf.int32)
            if self.chars is not None:
                spec = {"words": spec,
                        "chars": tf.TensorSpec([None, None, self.chars.max_length], tf.int32)}
            step = tf.function(step, input_signature=[spec], autograph=False)
        self._compiled[key] = step
        return step

    # ------------------------------------------------------------------ tags
    def _predict(self, sentences: Sequence[Sequence[str]], batch_size: int,
                 probs: bool) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """:meth:`predict_ids`, with sentences longer than ``max_length`` tagged in windows."""
        limit = self.max_length
        if not limit or all(len(s) <= limit for s in sentences):
            return self.predict_ids(sentences, batch_size, probs)
        pieces: list[Sequence[str]] = []
        plan: list[list[tuple[int, int, int]]] = []  # per sentence: (piece, keep from, to)
        for tokens in sentences:
            if len(tokens) <= limit:
                plan.append([(len(pieces), 0, len(tokens))])
                pieces.append(tokens)
                continue
            head = " ".join(tokens[:4])
            self.warn(f"a sentence of {len(tokens)} tokens ('{head} ...') is longer than "
                      f"{limit} tokens, the most this model's "
                      f"{'global attention' if self.global_attention else 'max_length'} "
                      f"takes at once: tagged in overlapping windows of {limit} tokens "
                      "(--max-length)")
            parts = []
            for start, end, keep_from, keep_to in windows(len(tokens), limit):
                parts.append((len(pieces), keep_from - start, keep_to - start))
                pieces.append(tokens[start:end])
            plan.append(parts)
        ids, scores = self.predict_ids(pieces, batch_size, probs)

        def join(arrays):
            return [np.concatenate([arrays[p][a:b] for p, a, b in parts]) for parts in plan]

        return join(ids), (join(scores) if scores is not None else None)

    def _decode(self, ids: np.ndarray) -> list[str]:
        labels = self.labels
        tags = [labels[i] for i in ids.tolist()]
        if self.scheme != self.source_scheme:
            from seqlab.schemes import convert
            tags = convert(tags, self.source_scheme, source=self.scheme)
        return tags

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 64) -> list[list[str]]:
        """Tags for each sentence, in the scheme of the training files."""
        ids, _ = self._predict(sentences, batch_size, False)
        return [self._decode(x) for x in ids]

    def tag_with_probs(self, sentences: Sequence[Sequence[str]], batch_size: int = 64
                       ) -> tuple[list[list[str]], list[list[float]]]:
        """Tags for each sentence and the model's probability of each (a CRF's marginal)."""
        ids, scores = self._predict(sentences, batch_size, True)
        return ([self._decode(x) for x in ids],
                [[round(p, 6) for p in s.astype(float).tolist()] for s in scores])

    def tag_stream(self, sentences: Iterable[list[str]], batch_size: int = 64,
                   chunk: int = 2048) -> Iterator[tuple[list[str], list[str]]]:
        """Tag an endless stream lazily, `chunk` sentences at a time, keeping input order."""
        iterator = iter(sentences)
        while True:
            block = list(itertools.islice(iterator, chunk))
            if not block:
                return
            yield from zip(block, self.tag(block, batch_size))


def windows(n: int, size: int) -> list[tuple[int, int, int, int]]:
    """Overlapping windows that cover ``n`` tokens, at most ``size`` tokens each.

    Returns ``(start, end, keep_from, keep_to)`` tuples: the window is ``[start, end)``, and its
    tags are kept for ``[keep_from, keep_to)``; the kept parts tile ``[0, n)`` in order, each
    with (up to) ``size // 4`` tokens of context on either side.
    """
    context = size // 4
    step = size - 2 * context
    out = []
    for keep_from in range(0, n, step):
        keep_to = min(n, keep_from + step)
        out.append((max(0, keep_from - context), min(n, keep_to + context), keep_from, keep_to))
    return out


# --------------------------------------------------------------------------------------------
# Records and readers
# --------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One unit of input: a sentence to tag, or a line that is kept as it is.

    Attributes:
        kind: ``"sentence"``; ``"blank"`` for a blank line that is not a sentence (between
            CoNLL or CoNLL-U sentences, or in a JSON-lines file); ``"docstart"`` for a CoNLL
            ``-DOCSTART-`` line.
        tokens: the words to tag (empty for an empty sentence).
        line: 1-based line number where the record starts.
        rows: CoNLL: the columns of each token line; CoNLL-U: the 10 fields of each line of the
            sentence, comments as one-field rows ``["# ..."]`` (only rows listed in ``words``
            are tagged); None otherwise.
        words: CoNLL-U: the indices in ``rows`` of the syntactic words.
        data: JSON lines: the object read (its other keys are written back).
        raw: the lines as read (CoNLL token lines and ``-DOCSTART-``), without line endings.
        tags, probs: filled in by tagging.
    """

    kind: str = "sentence"
    tokens: list[str] = field(default_factory=list)
    line: int = 0
    rows: list[list[str]] | None = None
    words: list[int] | None = None
    data: dict | None = None
    raw: list[str] | None = None
    tags: list[str] | None = None
    probs: list[float] | None = None


def iter_lines(source: BinaryIO | TextIO, name: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` without its line ending, decoded as UTF-8 line by line (so
    errors name the exact line) from a binary stream; a BOM is dropped."""
    binary = getattr(source, "buffer", source)
    first = True
    for lineno, raw in enumerate(binary, start=1):
        if isinstance(raw, str):  # a text stream without a buffer (tests, StringIO)
            line = raw
        else:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                raise SeqlabError(f"{name}:{lineno}: not valid UTF-8 (byte 0x{bad}); expected "
                                  "UTF-8 text") from None
        if first:
            first = False
            line = line.removeprefix("\ufeff")
        yield lineno, line.rstrip("\r\n")


def read_text(lines: Iterable[tuple[int, str]], tokenizer: str = "whitespace"
              ) -> Iterator[Record]:
    """One sentence per line; a blank line is an empty sentence, kept in place."""
    from seqlab.data import tokenize

    for lineno, line in lines:
        yield Record(tokens=tokenize(line, tokenizer), line=lineno)


_DOCSTART = "-DOCSTART-"


def read_conll(lines: Iterable[tuple[int, str]], name: str, token_column: int = 0
               ) -> Iterator[Record]:
    """Column files: sentences of token lines; blank and ``-DOCSTART-`` lines kept as records.

    Every token line must have as many columns as the first one; the tokens are taken from
    ``token_column`` (negative counts from the end).
    """
    from seqlab.data import _split

    ncols = 0
    index = 0
    sentence: Record | None = None
    for lineno, line in lines:
        fields = _split(line)
        if not fields or fields[0] == _DOCSTART:
            if sentence is not None:
                yield sentence
                sentence = None
            yield (Record(kind="docstart", line=lineno, raw=[line]) if fields
                   else Record(kind="blank", line=lineno))
            continue
        if len(fields) != ncols:
            if ncols:
                raise SeqlabError(f"{name}:{lineno}: expected {ncols} columns like the lines "
                                  f"before, found {len(fields)}")
            ncols = len(fields)
            index = token_column + ncols if token_column < 0 else token_column
            if not 0 <= index < ncols:
                raise SeqlabError(f"{name}:{lineno}: there is no token column {token_column}: "
                                  f"the line has {ncols} column{'s' if ncols != 1 else ''}")
        if sentence is None:
            sentence = Record(line=lineno, rows=[], raw=[])
        sentence.rows.append(fields)
        sentence.raw.append(line)
        sentence.tokens.append(fields[index])
    if sentence is not None:
        yield sentence


def read_conllu(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """CoNLL-U: comments, multiword-token ranges and empty nodes kept; syntactic words tagged."""
    sentence: Record | None = None
    for lineno, line in lines:
        if not line.strip():
            if sentence is not None:
                yield sentence
                sentence = None
            yield Record(kind="blank", line=lineno)
            continue
        if sentence is None:
            sentence = Record(line=lineno, rows=[], words=[])
        if line.startswith("#"):
            sentence.rows.append([line])
            continue
        fields = line.split("\t")
        if len(fields) == 11 and not fields[10].strip():
            fields.pop()
        if len(fields) != 10:
            raise SeqlabError(f"{name}:{lineno}: expected 10 tab-separated fields (CoNLL-U), "
                              f"found {len(fields)}")
        wid = fields[0]
        if not wid.isdigit() and not ("-" in wid or "." in wid):
            raise SeqlabError(f"{name}:{lineno}: expected a word ID (1, 2, ...), found {wid!r}")
        if wid.isdigit():
            sentence.words.append(len(sentence.rows))
            sentence.tokens.append(fields[1])
        sentence.rows.append(fields)
    if sentence is not None:
        yield sentence


def read_jsonl(lines: Iterable[tuple[int, str]], name: str, tokenizer: str = "whitespace"
               ) -> Iterator[Record]:
    """One JSON object a line with ``"tokens": [...]`` (or ``"text": "..."``, tokenised);
    other keys are kept; a blank line is kept in place."""
    from seqlab.data import tokenize

    for lineno, line in lines:
        if not line.strip():
            yield Record(kind="blank", line=lineno)
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


def read_records(source: BinaryIO | TextIO, input_format: str = "text", name: str = "input",
                 tokenizer: str = "whitespace", token_column: int = 0) -> Iterator[Record]:
    """Records of an input stream in one of :data:`INPUT_FORMATS`, read lazily."""
    if tokenizer not in TOKENIZERS:
        raise SeqlabError(f"--tokenizer {tokenizer!r}: expected one of {', '.join(TOKENIZERS)}")
    lines = iter_lines(source, name)
    if input_format == "text":
        return read_text(lines, tokenizer)
    if input_format == "conll":
        return read_conll(lines, name, token_column)
    if input_format == "conllu":
        return read_conllu(lines, name)
    if input_format == "jsonl":
        return read_jsonl(lines, name, tokenizer)
    raise SeqlabError(f"--input-format {input_format!r}: expected one of "
                      f"{', '.join(INPUT_FORMATS)}")


def guess_input_format(path: str) -> str:
    """The input format from a file name: .conllu, .jsonl/.json, .conll/.iob/.bio, else text."""
    name = path.lower().removesuffix(".gz")
    if name.endswith(".conllu"):
        return "conllu"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".conll", ".iob", ".bio", ".iobes", ".bioes", ".conll03")):
        return "conll"
    return "text"


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[dict]:
    """Chunks as ``{"start", "end" (exclusive), "type", "text"}``, by the conlleval rules."""
    return [{"start": start, "end": end, "type": kind, "text": " ".join(tokens[start:end])}
            for kind, start, end in get_chunks(tags)]


def _sep(line: str) -> str:
    return "\t" if "\t" in line else " "


def write_conll(out: TextIO, record: Record, chunked: bool = True) -> None:
    """Token lines with the tag as last column; CoNLL input keeps every column and line."""
    if record.kind == "blank":
        out.write("\n")
    elif record.kind == "docstart":
        line = record.raw[0]
        out.write(f"{line}{_sep(line)}O\n")
    elif record.raw is not None:  # CoNLL input: its lines, the tag appended
        out.write("".join(f"{line}{_sep(line)}{tag}\n" for line, tag in zip(record.raw,
                                                                              record.tags)))
    elif record.words is not None:  # CoNLL-U input: its word lines, the tag appended
        rows = record.rows
        out.write("".join("\t".join(rows[i]) + f"\t{tag}\n"
                          for i, tag in zip(record.words, record.tags)))
    else:  # text or JSON lines: one sentence, then a blank line
        out.write("".join(f"{token} {tag}\n" for token, tag in zip(record.tokens, record.tags))
                  + "\n")


def conllu_writer(label_field: str = "upos"):
    """A writer of CoNLL-U input with the tags put in ``label_field`` (a field name or a MISC
    key, as in training's ``data.label_field``); everything else is kept."""
    from seqlab.data import _label_field

    index, misc_key = _label_field(label_field)

    def write(out: TextIO, record: Record, chunked: bool = True) -> None:
        if record.kind == "blank":
            out.write("\n")
            return
        if record.words is None:
            raise SeqlabError("--format conllu needs CoNLL-U input (--input-format conllu)")
        rows = [list(row) for row in record.rows]
        for i, tag in zip(record.words, record.tags):
            row = rows[i]
            if misc_key is None:
                row[index] = tag
            else:
                items = [x for x in row[9].split("|") if x and x != "_"
                         and x.partition("=")[0] != misc_key]
                row[9] = "|".join(items + [f"{misc_key}={tag}"])
        out.write("".join("\t".join(row) + "\n" for row in rows))

    return write


def writer_for(fmt: str, input_format: str, label_field: str = "upos"):
    """The writer of output format ``fmt`` for records of ``input_format``."""
    if fmt not in OUTPUT_FORMATS:
        raise SeqlabError(f"--format {fmt!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if fmt == "conllu":
        if input_format != "conllu":
            raise SeqlabError("--format conllu needs CoNLL-U input (--input-format conllu)")
        return conllu_writer(label_field)
    if fmt == "jsonl":
        keep_blank = input_format == "jsonl"

        def write(out: TextIO, record: Record, chunked: bool = True) -> None:
            if record.kind == "blank":
                if keep_blank:
                    out.write("\n")
                return
            if record.kind == "docstart":
                return
            write_jsonl(out, record, chunked)

        return write
    return write_conll


def write_jsonl(out: TextIO, record: Record, chunked: bool = True) -> None:
    """One object a sentence: the input's keys, then tokens, tags, spans (and probs); CoNLL
    and CoNLL-U input add their "columns" (and "comments")."""
    obj = dict(record.data) if record.data is not None else {}
    obj["tokens"] = record.tokens
    obj["tags"] = record.tags
    obj["spans"] = spans(record.tokens, record.tags) if chunked else []
    if record.probs is not None:
        obj["probs"] = record.probs
    if record.raw is not None:
        obj["columns"] = record.rows
    elif record.words is not None:
        obj["columns"] = [record.rows[i] for i in record.words]
        comments = [row[0] for row in record.rows if len(row) == 1]
        if comments:
            obj["comments"] = comments
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


def predict_stream(tagger: Tagger, records: Iterable[Record], out: TextIO,
                   fmt: str = "conll", input_format: str = "text", batch_size: int = 64,
                   chunk: int = 2048, probs: bool = False, label_field: str = "upos") -> int:
    """Tag ``records`` and write them to ``out``, ``chunk`` records at a time, in input order.

    Memory is bounded by the chunk; ``out`` is flushed after each one, so a pipe gets its
    answers block by block. Returns the number of sentences written.
    """
    if probs and fmt != "jsonl":
        raise SeqlabError("--probs needs --format jsonl (CoNLL output keeps the tag as the "
                          "last column for conlleval)")
    from seqlab.data import gc_paused

    write = writer_for(fmt, input_format, label_field)
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
                count += _tag_block(tagger, block, out, write, batch_size, probs)
        if not block:
            return count


def _tag_block(tagger: Tagger, block: list[Record], out: TextIO, write, batch_size: int,
               probs: bool) -> int:
    todo = [r for r in block if r.kind == "sentence"]
    sentences = [r.tokens for r in todo]
    if probs:
        tags, scores = tagger.tag_with_probs(sentences, batch_size)
        for r, t, p in zip(todo, tags, scores):
            r.tags, r.probs = t, p
    else:
        for r, t in zip(todo, tagger.tag(sentences, batch_size)):
            r.tags = t
    for r in block:
        write(out, r, tagger.chunked)
    out.flush()
    return len(todo)


def predict_file(tagger: Tagger, source: BinaryIO | TextIO, out: TextIO, fmt: str = "conll",
                 batch_size: int = 64, name: str = "input", chunk: int = 2048, *,
                 input_format: str = "text", tokenizer: str = "whitespace",
                 token_column: int = 0, probs: bool = False, label_field: str = "upos") -> int:
    """Read ``source`` in ``input_format``, tag it, write it to ``out`` in ``fmt``."""
    records = read_records(source, input_format, name, tokenizer, token_column)
    return predict_stream(tagger, records, out, fmt, input_format, batch_size, chunk, probs,
                          label_field)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def tag_corpus(tagger: Tagger, path: str | Path, batch_size: int = 64, token_column: int = 0,
               label_column: int = -1, label_field: str = "upos", format: str | None = None
               ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Tag the sentences of a gold corpus: ``(tokens, gold, predicted)``."""
    from seqlab.data import read_corpus

    sentences = read_corpus(str(path), format=format, token_column=token_column,
                            label_column=label_column, label_field=label_field)
    if not sentences:
        raise SeqlabError(f"{path}: no sentences found")
    tokens = [s.tokens for s in sentences]
    return tokens, [s.labels for s in sentences], tagger.tag(tokens, batch_size)


def evaluate_file(tagger: Tagger, path: str | Path, batch_size: int = 64,
                  token_column: int = 0, label_column: int = -1) -> dict:
    """Tag the sentences of a gold CoNLL file and score them by the conlleval rules."""
    from seqlab.metrics import evaluate

    _, gold, pred = tag_corpus(tagger, path, batch_size, token_column, label_column)
    return evaluate(gold, pred)
