"""Pretrained word vectors from a local file: GloVe, word2vec and fastText text, word2vec binary.

Text files hold one word per line followed by its numbers, separated by spaces; word2vec and
fastText files start with a ``count dim`` header line, GloVe files do not. A word2vec binary
file (``.bin``) has the same header, then each word followed by a space and ``dim`` little-endian
float32 numbers. The format is told from the bytes, not the name; ``.gz`` files are read
transparently. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.formats.lines import open_binary, read_lines

_MAX_DIM = 100_000  # a header or line asking for more numbers than this is not a vectors file


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


def read_vectors(
    path, *, vocabulary: Iterable[str] | None = None, lower_fallback: bool = True
) -> Vectors:
    """Read word vectors from a GloVe / word2vec / fastText file (``.gz`` transparent).

    Args:
        path: the file: text with an optional ``count dim`` header line (word2vec, fastText
            .vec), or word2vec binary (told from its bytes).
        vocabulary: when given, only vectors of these words are kept (file words absent from it
            are skipped, which saves memory); words are returned in vocabulary order.
        lower_fallback: a vocabulary word without a vector of its own gets the vector of its
            lower-cased form (``Paris`` -> ``paris``), or of a file word that lower-cases to the
            same form.

    Returns:
        a :class:`Vectors`: the words that have a vector, their float32 matrix, and how much of
        the vocabulary was covered. Without a vocabulary, every word of the file (first
        occurrence wins).

    Raises SeqlabError with file:line (or the vector's number, in a binary file) for malformed
    lines, numbers that are not finite (``nan``, ``inf``), inconsistent sizes, a header that does
    not match the file, an empty file or bytes that are not UTF-8.
    """
    wanted = None
    if vocabulary is not None:
        vocabulary = list(dict.fromkeys(vocabulary))
        exact = set(vocabulary)
        lowered = {w.lower() for w in vocabulary} if lower_fallback else set()
        wanted = exact.__contains__
        if lower_fallback:
            wanted = lambda w: w in exact or w.lower() in lowered  # noqa: E731
    p = os.fspath(path)
    everything = _read_binary(p, wanted) if _is_binary(p) else _read_text(p, wanted)
    if vocabulary is None:
        return everything
    return match(everything, vocabulary, lower_fallback)


def match(vectors: Vectors, vocabulary: Iterable[str], lower_fallback: bool = True) -> Vectors:
    """The vectors of ``vocabulary``'s words, in its order, from vectors read in file order.

    A word without a vector of its own takes, with ``lower_fallback``, the vector of its
    lower-cased form, else of the first file word that lower-cases to the same form.
    """
    row = {}
    by_lower: dict[str, str] = {}  # lower-cased file word -> first file word with that form
    for i, w in enumerate(vectors.words):
        row.setdefault(w, i)
        if lower_fallback:
            by_lower.setdefault(w.lower(), w)
    words: list[str] = []
    source: list[str] = []
    missing: list[str] = []
    exact = lowercase = 0
    for w in dict.fromkeys(vocabulary):
        if w in row:
            hit, exact = w, exact + 1
        elif lower_fallback and w.lower() in row:
            hit, lowercase = w.lower(), lowercase + 1
        elif lower_fallback and w.lower() in by_lower:
            hit, lowercase = by_lower[w.lower()], lowercase + 1
        else:
            missing.append(w)
            continue
        words.append(w)
        source.append(hit)
    matrix = vectors.matrix[[row[h] for h in source]] if source else np.zeros(
        (0, vectors.dim), np.float32)
    return Vectors(words, matrix, vectors.dim, vectors.file_words, exact, lowercase, missing,
                   source)


def _header(first: str) -> tuple[int, int] | None:
    head = first.split()
    if len(head) == 2 and head[0].isdigit() and head[1].isdigit():
        return int(head[0]), int(head[1])
    return None


def _is_binary(path: str) -> bool:
    """A word2vec binary file: a ``count dim`` header, then bytes no text file holds."""
    with open_binary(path) as f:
        head = f.peek(4096)[:4096] if hasattr(f, "peek") else f.read(4096)
    first, newline, rest = head.partition(b"\n")
    try:
        header = _header(first.decode("ascii"))
    except UnicodeDecodeError:
        return False
    return bool(newline and header and any(b < 9 or 13 < b < 32 for b in rest[:2048]))


def _finite(p: str, where, matrix: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if bad.size:
        raise SeqlabError(f"{p}:{where(int(bad[0]))}: expected finite numbers, found nan or "
                          "inf (a damaged vectors file?)")


def _read_text(p: str, wanted) -> Vectors:
    dim = 0
    header_count = None
    order: list[str] = []
    lines: list[int] = []
    numbers: list[str] = []  # each kept word's numbers as one string, parsed together at the end
    seen: set[str] = set()
    count = 0
    for lineno, line in read_lines(p):
        body = line.rstrip()
        if not body:
            continue
        if lineno == 1 and (header := _header(body)):
            header_count, dim = header
            if not 0 < dim <= _MAX_DIM:
                raise SeqlabError(f"{p}:1: the header says the vectors have {dim} numbers; "
                                  f"expected 1 to {_MAX_DIM}")
            continue
        if not dim:
            dim = len(body.split()) - 1
            if dim < 1:
                raise SeqlabError(f"{p}:{lineno}: expected a word followed by numbers")
        if body.count(" ") == dim:
            word, _, rest = body.partition(" ")
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
            rest = " ".join(fields[len(fields) - dim :])
        count += 1
        if not word:
            raise SeqlabError(f"{p}:{lineno}: expected a word before the numbers")
        if (wanted is not None and not wanted(word)) or word in seen:
            continue
        seen.add(word)
        order.append(word)
        lines.append(lineno)
        numbers.append(rest)
    if count == 0:
        raise SeqlabError(f"{p}: empty file: expected lines of a word followed by its numbers")
    if header_count is not None and header_count != count:
        raise SeqlabError(
            f"{p}:1: the header says {header_count} vectors, the file holds {count} "
            "(truncated or edited file?)"
        )
    matrix = _parse(p, numbers, lines, dim)
    _finite(p, lambda i: lines[i], matrix)
    return Vectors(order, matrix, dim, count, source=list(order))


def _parse(p: str, numbers: list[str], lines: list[int], dim: int) -> np.ndarray:
    """The numbers of every kept line as one (lines, dim) float32 matrix, parsed in one call;
    a line that does not parse is then found and named."""
    try:
        flat = np.fromstring(" ".join(numbers), dtype=np.float32, sep=" ")
    except ValueError:
        flat = None
    if flat is not None and flat.size == len(numbers) * dim:
        return flat.reshape(len(numbers), dim)
    for text, lineno in zip(numbers, lines):
        try:
            np.fromstring(text, dtype=np.float32, sep=" ")
        except ValueError:
            bad = next((x for x in text.split() if not _is_number(x)), text)
            raise SeqlabError(f"{p}:{lineno}: expected numbers after the word, found "
                              f"{bad[:40]!r}") from None
    raise SeqlabError(f"{p}: expected {dim} numbers on every line")  # pragma: no cover


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_binary(p: str, wanted) -> Vectors:
    """word2vec's binary format: ``count dim\\n``, then per vector the word, a space and dim
    little-endian float32 numbers (a newline may follow each vector)."""
    with open_binary(p) as f:
        count, dim = _header(f.readline().decode("ascii"))
        if not 0 < dim <= _MAX_DIM:
            raise SeqlabError(f"{p}:1: the header says the vectors have {dim} numbers; "
                              f"expected 1 to {_MAX_DIM}")
        size = 4 * dim
        order: list[str] = []
        rows: list[bytes] = []
        index: list[int] = []
        seen: set[str] = set()
        for i in range(count):
            raw = bytearray()
            while True:
                c = f.read(1)
                if not c:
                    raise SeqlabError(f"{p}: vector {i + 1}: the file ends early; the header "
                                      f"says {count} vectors (truncated file?)")
                if c == b" ":
                    break
                if c != b"\n" or raw:
                    raw += c
                if len(raw) > 1000:
                    raise SeqlabError(f"{p}: vector {i + 1}: no space after a word within "
                                      "1,000 bytes; expected word2vec's binary format")
            try:
                word = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SeqlabError(f"{p}: vector {i + 1}: the word is not valid UTF-8") from None
            data = f.read(size)
            if len(data) < size:
                raise SeqlabError(f"{p}: vector {i + 1}: the file ends early; the header says "
                                  f"{count} vectors of {dim} numbers (truncated file?)")
            if not word:
                raise SeqlabError(f"{p}: vector {i + 1}: expected a word before the numbers")
            if (wanted is not None and not wanted(word)) or word in seen:
                continue
            seen.add(word)
            order.append(word)
            rows.append(data)
            index.append(i + 1)
    if count == 0:
        raise SeqlabError(f"{p}: empty file: the header says 0 vectors")
    matrix = np.frombuffer(b"".join(rows), dtype="<f4").reshape(len(rows), dim).astype(np.float32)
    _finite(p, lambda i: f" vector {index[i]}", matrix)
    return Vectors(order, matrix, dim, count, source=list(order))
