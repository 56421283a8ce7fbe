"""Vocabularies (words, characters, labels) and encoding.

Encoding happens once per corpus: every sentence becomes a run of integer ids in one flat
NumPy array (plus row lengths); :mod:`seqlab.batching` cuts those into batches.
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
        get, normalize = self._index.get, self.normalize
        ids = {t: get(normalize(t), 1) for t in set(tokens)}  # each distinct token once
        return np.fromiter(map(ids.__getitem__, tokens), dtype=np.int32, count=len(tokens))

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
        """(len(tokens), max_length) char ids, zero-padded on the right. (`encode_corpus`
        passes each distinct token once.)"""
        width = self.max_length
        rows = np.zeros((len(tokens), width), dtype=np.int32)
        get = self._index.get
        head = (width + 1) // 2
        for i, token in enumerate(tokens):
            if len(token) > width:
                token = token[:head] + token[len(token) - (width - head):]
            rows[i, : len(token)] = [get(c, 1) for c in token]
        return rows


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
    # With `distinct_chars`: `chars` holds a row per distinct token, `types` each token's row.
    types: np.ndarray | None = None
    # A frozen transformer's word features, (tokens, layers, hidden) float32, token order.
    transformer: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)])


def encode_corpus(vocab: Vocabulary, tokens: Sequence[Sequence[str]],
                  labels: LabelVocabulary | None = None,
                  label_seqs: Sequence[Sequence[str]] | None = None, where: str = "",
                  chars: CharVocabulary | None = None, distinct_chars: bool = False
                  ) -> Encoded:
    """The corpus as flat id arrays. With ``distinct_chars``, the char ids come once per
    distinct token (``Encoded.chars``) with each token's row in ``Encoded.types``: a char
    encoder then runs once per distinct token (`seqlab.tagger.Tagger`)."""
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    flat = [tok for sent in tokens for tok in sent]
    # Each distinct token is encoded once, for the words and the characters alike.
    position: dict[str, int] = {}
    index = np.fromiter((position.setdefault(tok, len(position)) for tok in flat),
                        dtype=np.int64, count=len(flat))
    distinct = list(position)
    words = vocab.encode(distinct)[index]
    label_ids = None
    if labels is not None and label_seqs is not None:
        label_ids = labels.encode([lab for sent in label_seqs for lab in sent], where)
    if chars is None:
        return Encoded(words, lengths, label_ids)
    if distinct_chars:
        return Encoded(words, lengths, label_ids, chars.encode(distinct), index)
    return Encoded(words, lengths, label_ids, chars.encode(distinct)[index])


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
