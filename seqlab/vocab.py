"""Vocabularies, encoding, and the tf.data pipeline that feeds the model.

Encoding happens once per corpus: every sentence becomes a run of integer ids in one flat
NumPy array (plus row lengths). Each epoch's batches (similar lengths together, shuffled from
the config's seed) are planned in NumPy; `tf.data` gathers, pads and prefetches them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
_DIGITS = re.compile(r"\d")


def _frequent(counts: Counter[str], min_count: int, max_size: int | None = None) -> list[str]:
    """Entries seen at least min_count times, most frequent first, ties alphabetical (so the
    result is deterministic); at most max_size - 2 of them (padding and unknown come first)."""
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return kept if max_size is None else kept[: max(0, max_size - 2)]


@dataclass
class Vocabulary:
    """Word vocabulary: index 0 is padding, 1 is the unknown token."""

    tokens: list[str]
    lowercase: bool = False
    normalize_digits: bool = False
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != [PAD, UNK]:
            self.tokens = [PAD, UNK] + [t for t in self.tokens if t not in (PAD, UNK)]
        self._index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def normalize(self, token: str) -> str:
        if self.lowercase:
            token = token.lower()
        if self.normalize_digits:
            token = _DIGITS.sub("0", token)
        return token

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1,
              max_size: int | None = None, lowercase: bool = False,
              normalize_digits: bool = False) -> Vocabulary:
        """Count normalised tokens; keep those seen min_count times, most frequent first."""
        probe = cls([], lowercase, normalize_digits)
        counts: Counter[str] = Counter()
        for tokens in sentences:
            counts.update(probe.normalize(t) for t in tokens)
        return cls(_frequent(counts, min_count, max_size), lowercase, normalize_digits)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        get = self._index.get
        return np.fromiter((get(self.normalize(t), 1) for t in tokens), dtype=np.int32,
                           count=len(tokens))

    def oov_rate(self, sentences: Iterable[Sequence[str]]) -> float:
        total = unknown = 0
        for tokens in sentences:
            total += len(tokens)
            unknown += int(np.count_nonzero(self.encode(tokens) == 1))
        return unknown / total if total else 0.0


@dataclass
class CharVocabulary:
    """Character vocabulary for the char encoder: 0 pads, 1 is an unknown character.

    Words are cut to `max_length` characters, keeping the first and last halves, since
    prefixes and suffixes carry most of a word's shape.
    """

    chars: list[str]
    max_length: int = 20

    def __post_init__(self) -> None:
        if self.chars[:2] != [PAD, UNK]:
            self.chars = [PAD, UNK] + [c for c in self.chars if c not in (PAD, UNK)]
        self._index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1,
              max_length: int = 20) -> CharVocabulary:
        counts: Counter[str] = Counter()
        for tokens in sentences:
            for token in tokens:
                counts.update(token)
        return cls(_frequent(counts, min_count), max_length)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """(len(tokens), max_length) char ids, zero-padded on the right."""
        n, width = len(tokens), self.max_length
        out = np.zeros((n, width), dtype=np.int32)
        get = self._index.get
        head = (width + 1) // 2
        for i, token in enumerate(tokens):
            if len(token) > width:
                token = token[:head] + token[len(token) - (width - head):]
            out[i, : len(token)] = [get(c, 1) for c in token]
        return out


@dataclass
class LabelVocabulary:
    labels: list[str]

    def __post_init__(self) -> None:
        self._index = {label: i for i, label in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def build(cls, label_sequences: Iterable[Sequence[str]]) -> LabelVocabulary:
        seen = set()
        for labels in label_sequences:
            seen.update(labels)
        # 'O' first when present, then sorted: stable ids across runs.
        ordered = (["O"] if "O" in seen else []) + sorted(seen - {"O"})
        return cls(ordered)

    def encode(self, labels: Sequence[str], where: str = "") -> np.ndarray:
        try:
            return np.fromiter((self._index[label] for label in labels), dtype=np.int32,
                               count=len(labels))
        except KeyError as exc:
            from seqlab.errors import SeqlabError
            raise SeqlabError(f"{where}: label {exc.args[0]!r} never occurs in the training data "
                              f"(known: {', '.join(self.labels)})") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.labels[i] for i in ids]


@dataclass
class Encoded:
    """A corpus encoded once: flat id arrays and the length of every sentence."""

    words: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray | None = None
    chars: np.ndarray | None = None  # (tokens, max_length) when the model reads characters

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)])


def encode_corpus(vocab: Vocabulary, tokens: Sequence[Sequence[str]],
                  labels: LabelVocabulary | None = None,
                  label_seqs: Sequence[Sequence[str]] | None = None, where: str = "",
                  chars: CharVocabulary | None = None) -> Encoded:
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    flat = [tok for sent in tokens for tok in sent]
    words = vocab.encode(flat)
    label_ids = None
    if labels is not None and label_seqs is not None:
        label_ids = labels.encode([lab for sent in label_seqs for lab in sent], where)
    char_ids = chars.encode(flat) if chars is not None else None
    return Encoded(words, lengths, label_ids, char_ids)


def _boundaries(max_len: int) -> list[int]:
    bounds, edge = [], 8
    while edge < max_len:
        bounds.append(edge)
        edge = edge + 8 if edge < 64 else edge * 2
    return bounds


def plan_batches(lengths: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0,
                 pool: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's batches as (order, starts): batch k holds sentences
    `order[starts[k]:starts[k + 1]]` (the last batch runs to the end).

    Sentences are cut into pools of `pool` batches; each pool is sorted by length and cut
    into batches, so sentences of similar length share a batch and little goes to padding.
    With `shuffle`, the sentences are permuted before pooling and the batches are permuted
    after, both from `seed` alone, so an epoch's batches depend only on the seed.
    """
    n = len(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    span = batch_size * pool
    starts = []
    for first in range(0, n, span):
        chunk = order[first:first + span]
        order[first:first + span] = chunk[np.argsort(lengths[chunk], kind="stable")]
        starts.extend(range(first, first + len(chunk), batch_size))
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.append(starts[1:], n)[:len(starts)]
    if shuffle:
        pick = rng.permutation(len(starts))
        # Re-lay the sentences batch after batch in the new batch order.
        order = np.concatenate([order[starts[k]:ends[k]] for k in pick]) if n else order
        sizes = (ends - starts)[pick]
        starts = (np.cumsum(sizes) - sizes).astype(np.int64)
    return order, starts


def make_dataset(encoded: Encoded, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A tf.data pipeline of (words, labels) batches of similar-length sentences, padded per
    batch with 0.

    The epoch's batches are planned in NumPy (`plan_batches`); tf.data then gathers and pads
    each whole batch in one vectorised step. With `shuffle`, the order is fixed by `seed`.
    """
    import tensorflow as tf

    order, starts = plan_batches(encoded.lengths, batch_size, shuffle, seed)
    ends = np.append(starts[1:], len(order))[:len(starts)]
    words = tf.constant(encoded.words)
    offsets = tf.constant(encoded.offsets[:-1])
    lengths = tf.constant(encoded.lengths)
    labels = tf.constant(encoded.labels) if encoded.labels is not None else None
    chars = tf.constant(encoded.chars) if encoded.chars is not None else None
    order = tf.constant(order)

    def batch(start, end):
        rows = order[start:end]
        row_lengths = tf.gather(lengths, rows)
        steps = tf.range(tf.reduce_max(row_lengths))
        real = steps[None, :] < row_lengths[:, None]
        # Token positions in the flat arrays; padding points at row starts, then is zeroed.
        at = tf.gather(offsets, rows)[:, None] + tf.where(real, steps[None, :], 0)

        def take(flat):
            values = tf.gather(flat, at)
            mask = real if values.shape.rank == 2 else real[..., None]
            return tf.where(mask, values, tf.zeros_like(values))

        # A model without a char encoder has one plain input; with one, inputs by name.
        inputs = take(words)
        if chars is not None:
            inputs = {"words": inputs, "chars": take(chars)}
        if labels is None:
            return inputs
        return inputs, take(labels)

    dataset = tf.data.Dataset.from_tensor_slices((starts, ends))
    dataset = dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def padded_batches(encoded: Encoded, batch_size: int) -> list[tuple[np.ndarray, dict]]:
    """Inference batches: sentences sorted by length, padded per batch.

    Returns (indices, inputs) pairs: `inputs` is the padded word-id array, or, when the model
    reads characters, a dict of the "words" and "chars" arrays; `indices` maps rows back to
    corpus order.
    """
    order = np.argsort(encoded.lengths, kind="stable")
    offsets = encoded.offsets
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(1, int(encoded.lengths[rows].max()))
        words = np.zeros((len(rows), width), dtype=np.int32)
        chars = None
        if encoded.chars is not None:
            chars = np.zeros((len(rows), width, encoded.chars.shape[1]), dtype=np.int32)
        for r, i in enumerate(rows):
            words[r, : encoded.lengths[i]] = encoded.words[offsets[i]:offsets[i + 1]]
            if chars is not None:
                chars[r, : encoded.lengths[i]] = encoded.chars[offsets[i]:offsets[i + 1]]
        inputs = words if chars is None else {"words": words, "chars": chars}
        batches.append((rows, inputs))
    return batches


def build_vocabularies(sentences: Iterable[tuple[Sequence[str], Sequence[str]]],
                       min_count: int = 1, max_size: int | None = None,
                       lowercase: bool = False, normalize_digits: bool = False,
                       char_length: int | None = None, char_min_count: int = 1):
    """Words, labels and (with `char_length`) characters from one pass over (tokens, labels)
    pairs: a corpus streamed from disk is read once, never held in memory."""
    probe = Vocabulary([], lowercase, normalize_digits)
    words: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    seen_labels: set[str] = set()
    for tokens, labels in sentences:
        words.update(probe.normalize(t) for t in tokens)
        seen_labels.update(labels)
        if char_length:
            for token in tokens:
                chars.update(token)
    vocab = Vocabulary(_frequent(words, min_count, max_size), lowercase, normalize_digits)
    label_vocab = LabelVocabulary.build([sorted(seen_labels)])
    char_vocab = CharVocabulary(_frequent(chars, char_min_count), char_length) \
        if char_length else None
    return vocab, label_vocab, char_vocab


def stream_dataset(read, vocab: Vocabulary, labels: LabelVocabulary,
                   chars: CharVocabulary | None, batch_size: int, seed: int,
                   buffer: int = 8192, where: str = ""):
    """Like `make_dataset`, for a corpus read from disk each epoch and encoded on the fly.

    `read()` returns a fresh iterator of (tokens, labels) pairs. Memory stays bounded by the
    shuffle buffer (`buffer` sentences, seeded) and the length buckets, whatever the corpus size.
    """
    import tensorflow as tf

    def encoded():
        for tokens, tags in read():
            if not tokens:
                continue
            word_ids = vocab.encode(tokens)
            tag_ids = labels.encode(tags, where)
            if chars is None:
                yield word_ids, tag_ids
            else:
                yield {"words": word_ids, "chars": chars.encode(tokens)}, tag_ids

    words_spec = tf.TensorSpec([None], tf.int32)
    inputs_spec = words_spec if chars is None else {
        "words": words_spec, "chars": tf.TensorSpec([None, chars.max_length], tf.int32)}
    dataset = tf.data.Dataset.from_generator(
        encoded, output_signature=(inputs_spec, tf.TensorSpec([None], tf.int32)))
    dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=False)
    bounds = _boundaries(1024)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda inputs, *rest: tf.shape(
            inputs["words"] if isinstance(inputs, dict) else inputs)[0],
        bucket_boundaries=bounds,
        bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
