"""Pretrained word vectors from a local text file (GloVe, word2vec text, fastText .vec).

The format is one word per line followed by its numbers, separated by spaces; word2vec and
fastText files start with a ``count dim`` header line, GloVe files do not. ``.gz`` files are read
transparently. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.formats.lines import read_lines


@dataclass
class Vectors:
    """Vectors read from a file, matched against a vocabulary when one was given.

    Attributes:
        words: the words that have a vector (vocabulary order when a vocabulary was given,
            file order otherwise).
        matrix: float32 array of shape (len(words), dim); row i is the vector of words[i].
        dim: the vector size.
        file_words: how many vectors the file holds.
        exact: vocabulary words found as they are.
        lowercase: vocabulary words found only by lower-casing (``Paris`` -> ``paris``).
        missing: vocabulary words without a vector.
        source: for each word of ``words``, the word of the file whose vector it got.
    """

    words: list[str]
    matrix: np.ndarray
    dim: int
    file_words: int
    exact: int = 0
    lowercase: int = 0
    missing: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Share of the vocabulary that got a vector (1.0 when no vocabulary was given)."""
        total = self.exact + self.lowercase + len(self.missing)
        return (self.exact + self.lowercase) / total if total else 1.0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_vectors(
    path, *, vocabulary: Iterable[str] | None = None, lower_fallback: bool = True
) -> Vectors:
    """Read word vectors from a GloVe / word2vec / fastText text file (``.gz`` transparent).

    Args:
        path: the file; a ``count dim`` header line (word2vec, fastText .vec) is optional.
        vocabulary: when given, only vectors of these words are kept (file words absent from it
            are skipped, which saves memory); words are returned in vocabulary order.
        lower_fallback: a vocabulary word without a vector of its own gets the vector of its
            lower-cased form (``Paris`` -> ``paris``), or of a file word that lower-cases to the
            same form.

    Returns:
        a :class:`Vectors`: the words that have a vector, their float32 matrix, and how much of
        the vocabulary was covered. Without a vocabulary, every word of the file (first
        occurrence wins).

    Raises SeqlabError with file:line for malformed lines, inconsistent sizes, a header that does
    not match the file, an empty file or bytes that are not UTF-8.
    """
    p = os.fspath(path)
    wanted: set[str] | None = None
    vocab: list[str] | None = None
    if vocabulary is not None:
        vocab = list(dict.fromkeys(vocabulary))
        wanted = set(vocab)
        if lower_fallback:
            wanted.update(w.lower() for w in vocab)
        lowered = {w.lower() for w in vocab} if lower_fallback else set()
    dim = 0
    header_count = None
    found: dict[str, np.ndarray] = {}
    by_lower: dict[str, str] = {}  # lower-cased file word -> first file word with that form
    order: list[str] = []
    count = 0
    for lineno, line in read_lines(p):
        body = line.rstrip()
        if not body:
            continue
        if lineno == 1:
            head = body.split()
            if len(head) == 2 and head[0].isdigit() and head[1].isdigit():
                header_count, dim = int(head[0]), int(head[1])
                if dim == 0:
                    raise SeqlabError(f"{p}:1: the header says the vectors have 0 numbers")
                continue
        if not dim:
            dim = len(body.split()) - 1
            if dim < 1:
                raise SeqlabError(f"{p}:{lineno}: expected a word followed by numbers")
        if body.count(" ") == dim:
            word, _, rest = body.partition(" ")
            numbers = None
        else:
            fields = body.split()
            if len(fields) - 1 < dim or (
                len(fields) - 1 > dim and _is_number(fields[len(fields) - dim - 1])
            ):
                raise SeqlabError(
                    f"{p}:{lineno}: expected a word and {dim} numbers like the lines before, "
                    f"found {len(fields) - 1} numbers"
                )
            word = " ".join(fields[: len(fields) - dim])  # words with spaces (GloVe 840B)
            numbers = fields[len(fields) - dim :]
            rest = None
        count += 1
        if not word:
            raise SeqlabError(f"{p}:{lineno}: expected a word before the numbers")
        keep = wanted is None or word in wanted
        lower = None
        if wanted is not None and lower_fallback:
            lower = word.lower()
            if lower in lowered and lower not in by_lower:
                keep = True
        if not keep or word in found:
            continue
        try:
            vector = np.array(numbers if numbers is not None else rest.split(" "), np.float32)
        except ValueError:
            bad = next(x for x in (numbers or rest.split(" ")) if not _is_number(x))
            raise SeqlabError(
                f"{p}:{lineno}: expected numbers after the word, found {bad!r}"
            ) from None
        found[word] = vector
        order.append(word)
        if lower is not None and lower not in by_lower:
            by_lower[lower] = word
    if count == 0:
        raise SeqlabError(f"{p}: empty file: expected lines of a word followed by its numbers")
    if header_count is not None and header_count != count:
        raise SeqlabError(
            f"{p}:1: the header says {header_count} vectors, the file holds {count} "
            "(truncated or edited file?)"
        )
    if vocab is None:
        matrix = np.stack([found[w] for w in order]) if order else np.zeros((0, dim), np.float32)
        return Vectors(list(order), matrix, dim, count, source=list(order))
    words: list[str] = []
    source: list[str] = []
    missing: list[str] = []
    exact = lowercase = 0
    for w in vocab:
        if w in found:
            hit, exact = w, exact + 1
        elif lower_fallback and w.lower() in found:
            hit, lowercase = w.lower(), lowercase + 1
        elif lower_fallback and w.lower() in by_lower:
            hit, lowercase = by_lower[w.lower()], lowercase + 1
        else:
            missing.append(w)
            continue
        words.append(w)
        source.append(hit)
    matrix = np.stack([found[h] for h in source]) if source else np.zeros((0, dim), np.float32)
    return Vectors(words, matrix, dim, count, exact, lowercase, missing, source)
