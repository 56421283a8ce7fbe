"""Tag schemes (IOB1, IOB2, IOBES, BILOU, plain), chunk extraction by the conlleval rules, and
the one tag parser every other module uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# conlleval knows B, I, E, S and O; BILOU's L and U close chunks exactly as E and S do.
_ALIASES = {"L": "E", "U": "S"}
_CHUNK_PREFIXES = frozenset("BIESLU")


def split_tag(tag: str) -> tuple[str, str]:
    """Split a tag at its first '-' as conlleval does: 'B-PER' -> ('B', 'PER'), 'O' -> ('O', ''),
    'NN' -> ('NN', ''). The raw split; :func:`parse_tag` says whether it is a chunk tag."""
    prefix, sep, kind = tag.partition("-")
    if not sep:
        return tag, ""
    return prefix, kind


def parse_tag(tag: str) -> tuple[str, str]:
    """A tag as a chunk tag: 'B-PER' -> ('B', 'PER'), 'L-PER' -> ('L', 'PER'), 'O' -> ('O', ''),
    and any label that is not a chunk tag ('NN', 'B-', 'X-PER') -> ('', tag)."""
    if tag == "O":
        return "O", ""
    prefix, kind = split_tag(tag)
    if kind and len(prefix) == 1 and prefix in _CHUNK_PREFIXES:
        return prefix, kind
    return "", tag


def chunk_role(tag: str) -> tuple[str, str]:
    """What a tag does to chunks, in IOBES letters: ('B'|'I'|'E'|'S', type), or ('O', '') for
    O and for labels that are not chunk tags (BILOU's L and U read as E and S)."""
    prefix, kind = parse_tag(tag)
    if prefix in ("", "O"):
        return "O", ""
    return _ALIASES.get(prefix, prefix), kind


def _chunk_end(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    if prev_tag in ("E", "S") and tag in ("B", "I", "E", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != kind


def _chunk_start(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    if tag in ("B", "S") and prev_tag in ("B", "I", "O", "E", "S"):
        return True
    if tag in ("I", "E") and prev_tag in ("O", "E", "S"):
        return True
    return tag not in ("O", ".") and prev_type != kind


def get_chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Chunks of one sentence as (type, start, end) with end exclusive, by conlleval's rules.

    Invalid transitions are read the way conlleval reads them: an ``I-X`` after ``O`` or after
    another type starts a new chunk; ``E-``/``S-`` (and BILOU's ``L-``/``U-``) close chunks.
    """
    chunks: list[tuple[str, int, int]] = []
    prev_tag, prev_type, start = "O", "", None
    for i, raw in enumerate(list(tags) + ["O"]):
        tag, kind = split_tag(raw)
        tag = _ALIASES.get(tag, tag)
        if start is not None and _chunk_end(prev_tag, tag, prev_type, kind):
            chunks.append((prev_type, start, i))
            start = None
        if _chunk_start(prev_tag, tag, prev_type, kind):
            start = i
        prev_tag, prev_type = tag, kind
    return chunks


def chunk_boundaries(labels: Sequence[str]):
    """:func:`get_chunks`' rules as two boolean tables over ``labels`` plus the outside of the
    sentence (index ``len(labels)``): ``starts[i, j]``, a chunk starts at tag j after tag i
    (i = K: j is the sentence's first tag), and ``ends[i, j]``, an open chunk ends between
    tag i and tag j (j = K: at the sentence's end)."""
    import numpy as np

    parts = []
    for raw in [*labels, "O"]:
        tag, kind = split_tag(raw)
        parts.append((_ALIASES.get(tag, tag), kind))
    k = len(labels)
    starts = np.zeros((k + 1, k), dtype=bool)
    ends = np.zeros((k, k + 1), dtype=bool)
    for i, (prev_tag, prev_type) in enumerate(parts):
        for j, (tag, kind) in enumerate(parts):
            if j < k:
                starts[i, j] = _chunk_start(prev_tag, tag, prev_type, kind)
            if i < k:
                ends[i, j] = _chunk_end(prev_tag, tag, prev_type, kind)
    return starts, ends


def chunk_positions(ids, lengths, labels: Sequence[str], boundaries=None):
    """:func:`get_chunks` of many sentences at once, from tag ids: ``ids`` the sentences'
    tag ids one after another (tokens,), ``lengths`` theirs (sentences,), ``labels`` the
    tags the ids name. Returns int64 arrays ``(rows, starts, ends, last)``, one entry a
    chunk in the order of the sentences and, within each, of get_chunks: the sentence, the
    chunk's first token and its end (exclusive), and the tag id of its last token (whose
    type, by :func:`split_tag`, is the chunk's). ``boundaries``: :func:`chunk_boundaries` of
    the labels, when the caller has it.

    The rules are :func:`chunk_boundaries`' tables, read as get_chunks reads a sentence:
    a chunk ends at position i (between tokens i-1 and i, or at the end) where the tables
    say so and a chunk is open, that is where the last start before i comes at or after the
    last end before i (an end and a start at one position close a chunk, then open one)."""
    import numpy as np

    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    starts, ends = chunk_boundaries(labels) if boundaries is None else boundaries
    k = len(labels)
    n = len(lengths)
    # Each sentence followed by one position outside it (index k): get_chunks' closing "O".
    size = lengths + 1
    first = np.cumsum(size) - size                               # (n,) where each begins
    total = int(size.sum())
    row = np.repeat(np.arange(n), size)                          # (total,)
    tag = np.full(total, k, dtype=np.int64)
    tag[np.arange(len(ids)) + np.repeat(np.arange(n), lengths)] = ids
    prev = np.empty_like(tag)
    prev[1:] = tag[:-1]
    prev[first] = k                                              # before a sentence: outside
    inside = tag < k
    start_at = np.zeros(total, dtype=bool)
    start_at[inside] = starts[prev[inside], tag[inside]]
    later = np.ones(total, dtype=bool)
    later[first] = False                                         # none ends at a first token
    end_at = np.zeros(total, dtype=bool)
    end_at[later] = ends[prev[later], tag[later]]
    here = np.arange(total)
    # The last start and the last end strictly before each position (-1: none yet).
    last_start = np.full(total, -1, dtype=np.int64)
    last_end = np.full(total, -1, dtype=np.int64)
    if total > 1:
        last_start[1:] = np.maximum.accumulate(np.where(start_at, here, -1))[:-1]
        last_end[1:] = np.maximum.accumulate(np.where(end_at, here, -1))[:-1]
    sentence_first = first[row]
    emit = np.flatnonzero(end_at & (last_start >= sentence_first) & (last_start >= last_end))
    rows = row[emit]
    return (rows, last_start[emit] - first[rows], emit - first[rows], tag[emit - 1])


@dataclass(frozen=True)
class Span:
    """A chunk with its words: ``tokens[start:end]`` (``end`` exclusive) of one ``type``, and
    their ``text`` (the tokens joined by single spaces), and the model's probability of it
    (``score``, :mod:`seqlab.confidence`) where known. Made by :func:`span`; written as
    :meth:`as_dict` in predictions (JSON lines) and :meth:`as_row` in error files."""

    type: str
    start: int
    end: int
    text: str
    score: float | None = None

    def as_dict(self) -> dict:
        """``{"start", "end", "type", "text"}`` and ``"score"`` where known, the shape
        prediction files give spans."""
        out = {"start": self.start, "end": self.end, "type": self.type, "text": self.text}
        if self.score is not None:
            out["score"] = round(self.score, 6)
        return out

    def as_row(self) -> list:
        """``[type, start, end, text]``, the compact shape of the error files."""
        return [self.type, self.start, self.end, self.text]


def span(tokens: Sequence[str], chunk: tuple[str, int, int], score: float | None = None
         ) -> Span:
    """The span of a chunk ``(type, start, end-exclusive)`` (:func:`get_chunks`) over a
    sentence's ``tokens``, with the model's probability of it when given."""
    kind, start, end = chunk
    return Span(kind, start, end, " ".join(tokens[start:end]), score)


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[Span]:
    """The spans of a sentence's chunks by the conlleval rules, in order of position."""
    return [span(tokens, chunk) for chunk in get_chunks(tags)]


# ---------------------------------------------------------------------------------------------
# Scheme names, detection, validation and conversion
# ---------------------------------------------------------------------------------------------

SCHEMES = ("iob1", "iob2", "iobes", "bilou", "plain")
CHUNK_SCHEMES = ("iob1", "iob2", "iobes", "bilou")

# Other names in use for the same schemes. "iob" alone is left out on purpose: some tools mean
# IOB1 by it (Ramshaw & Marcus, the original CoNLL-2003 files), others IOB2.
_SCHEME_NAMES = {
    "iob1": "iob1",
    "iob2": "iob2",
    "bio": "iob2",
    "iobes": "iobes",
    "bioes": "iobes",
    "bilou": "bilou",
    "biluo": "bilou",
    "plain": "plain",
    "none": "plain",
}

# The raw prefixes each chunk scheme may use (besides the tag "O"), in the order messages name
# them.
_ALLOWED = {
    "iob1": ("B", "I"),
    "iob2": ("B", "I"),
    "iobes": ("B", "I", "E", "S"),
    "bilou": ("B", "I", "L", "U"),
}


def normalize_scheme(name: str) -> str:
    """The canonical name of a tag scheme ('BIO' -> 'iob2', 'BIOES' -> 'iobes').

    Raises ValueError for an unknown name.
    """
    key = str(name).strip().lower()
    if key in _SCHEME_NAMES:
        return _SCHEME_NAMES[key]
    hint = " ('iob' is ambiguous: say iob1 or iob2)" if key == "iob" else ""
    raise ValueError(f"unknown tag scheme {name!r}{hint}; expected one of {', '.join(SCHEMES)}")


def is_chunk_task(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]] = ()) -> bool:
    """Whether tags are scored as chunks (conlleval F1) or as plain labels (accuracy).

    The one test training, evaluation and prediction share: chunks when the gold tags'
    scheme (:func:`detect_scheme`) is a chunk scheme; when gold holds nothing but ``O``, when
    some predicted tag is a chunk tag.
    """
    gold = list(gold)
    evidence = scheme_evidence(gold)
    if evidence["chunk"] or evidence["plain"]:
        return detect_scheme(gold) != "plain"
    return any(parse_tag(tag)[0] not in ("", "O") for tags in pred for tag in tags)


def tag_fits(tag: str, scheme: str) -> bool:
    """True if the tag may occur in the scheme: anything for 'plain'; for a chunk scheme 'O' or
    one of the scheme's prefixes followed by a non-empty type."""
    if scheme == "plain":
        return True
    prefix, _ = parse_tag(tag)
    return prefix == "O" or prefix in _ALLOWED[scheme]


def expected_tags(scheme: str) -> str:
    """What tags of the scheme look like, in words (for error messages)."""
    if scheme not in _ALLOWED:
        return "any label"
    *first, last = (f"{p}-" for p in _ALLOWED[scheme])
    return f"O, or {', '.join(first)} or {last} followed by a type"


def scheme_evidence(tag_sequences: Iterable[Sequence[str]]) -> dict[str, int]:
    """How many tags speak for each scheme.

    - ``iobes``: E- and S- tags; ``bilou``: L- and U- tags;
    - ``iob1``: I- tags that start a chunk (previous tag not of the same type);
    - ``iob2``: B- tags that start a chunk after something that is not of the same type
      (in IOB1, B- is only used between two adjacent chunks of the same type);
    - ``plain``: labels without chunk prefixes (other than O); ``chunk``: tags with prefixes.
    """
    counts = {"iob1": 0, "iob2": 0, "iobes": 0, "bilou": 0, "plain": 0, "chunk": 0}
    for tags in tag_sequences:
        prev_prefix, prev_type = "O", ""
        for tag in tags:
            prefix, kind = parse_tag(tag)
            if prefix == "O":
                pass
            elif prefix == "":
                counts["plain"] += 1
            else:
                counts["chunk"] += 1
                continues = prev_prefix in ("B", "I") and prev_type == kind
                if prefix in ("E", "S"):
                    counts["iobes"] += 1
                elif prefix in ("L", "U"):
                    counts["bilou"] += 1
                elif prefix == "I" and not continues:
                    counts["iob1"] += 1
                elif prefix == "B" and not continues:
                    counts["iob2"] += 1
            prev_prefix, prev_type = prefix, kind
    return counts


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a corpus from its tag sequences.

    'plain' when labels carry no chunk prefixes (or most do not); otherwise 'bilou' or 'iobes'
    when L-/U- or E-/S- tags occur (the more frequent of the two wins), else 'iob1' when more
    chunks start with I- than with a B- that IOB1 would not use, else 'iob2'. A corpus of IOB2
    with a few invalid I-X-after-O transitions is still IOB2.
    """
    ev = scheme_evidence(tag_sequences)
    if ev["chunk"] == 0 or ev["plain"] > ev["chunk"]:
        return "plain"
    if ev["bilou"] or ev["iobes"]:
        return "bilou" if ev["bilou"] > ev["iobes"] else "iobes"
    return "iob1" if ev["iob1"] > ev["iob2"] else "iob2"


@lru_cache(maxsize=1 << 16)
def transition_faults(prev: str | None, tag: str | None, scheme: str) -> tuple[bool, bool]:
    """What is wrong with ``tag`` right after ``prev`` in a chunk scheme: the one statement of
    each scheme's transition rules (:func:`invalid_transitions` and :func:`allowed_transitions`
    both ask it).

    ``prev`` is None at the start of a sentence, ``tag`` None at its end. Tags are read by
    :func:`chunk_role` (BILOU's L and U as E and S; labels that are not chunk tags as O); whether
    a tag fits the scheme at all is :func:`tag_fits`'s question, not this one's.

    Returns ``(unclosed, unopened)``:

    * ``unclosed``: ``prev`` leaves a chunk open that ``tag`` does not continue: iobes / bilou,
      a B-X or I-X not followed by I-X or E-X (L-X);
    * ``unopened``: ``tag`` continues a chunk that ``prev`` did not leave open (open = B-X or
      I-X of the same type): iob2, an I-X; iob1, a B-X (B- only separates two adjacent chunks
      of one type); iobes / bilou, an I-X or E-X (L-X).
    """
    before, before_type = chunk_role(prev) if prev is not None else ("O", "")
    role, kind = chunk_role(tag) if tag is not None else ("O", "")
    continues = before in ("B", "I") and before_type == kind
    if scheme == "iob2":
        return False, role == "I" and not continues
    if scheme == "iob1":
        return False, role == "B" and not continues
    inside = role in ("I", "E")
    return before in ("B", "I") and not (inside and continues), inside and not continues


def invalid_transitions(tags: Sequence[str], scheme: str) -> list[int]:
    """Token positions where the sequence is invalid in the scheme (sorted, no duplicates).

    - a transition that :func:`transition_faults` finds wrong: the position of the tag that
      leaves a chunk unclosed (iobes / bilou: B-X or I-X not followed by I-X or E-X / L-X, at
      the end of the sentence too), and of the tag that continues a chunk never opened (iob2:
      an I-X not preceded by B-X or I-X; iob1: such a B-X; iobes / bilou: such an I-X or E-X);
    - every scheme: a tag that does not fit it (E-X in iob2, a label without prefix, ...); the
      next tag reads it as O.
    'plain' has no invalid transitions.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "plain":
        return []
    bad: set[int] = set()
    prev = None
    for i, tag in enumerate(tags):
        fits = tag_fits(tag, scheme)
        unclosed, unopened = transition_faults(prev, tag if fits else "O", scheme)
        if unclosed:
            bad.add(i - 1)
        if unopened or not fits:
            bad.add(i)
        prev = tag if fits else "O"
    if prev is not None and transition_faults(prev, None, scheme)[0]:
        bad.add(len(tags) - 1)
    return sorted(bad)


def allowed_transitions(labels: Sequence[str], scheme: str | None):
    """Which tags may start a sequence, follow each other, and end a sequence in a tag scheme
    (the CRF's and constrained decoding's constraints), by :func:`transition_faults`.

    Args:
        labels: the tag names, in label-id order.
        scheme: ``iob1``, ``iob2``, ``iobes``, ``bilou`` (aliases such as ``bio``, ``bioes``,
            ``biluo`` accepted) or ``plain``/``None`` (no constraint).

    Returns:
        ``(allowed_start[K], allowed[K, K], allowed_end[K])`` boolean NumPy arrays;
        ``allowed[i, j]`` says whether tag ``j`` may follow tag ``i``. Labels without a chunk
        prefix behave like ``O``.

    Raises ValueError for an unknown scheme or a label whose prefix the scheme does not use.
    """
    import numpy as np

    labels = [str(label) for label in labels]
    k = len(labels)
    scheme = "plain" if scheme is None else normalize_scheme(scheme)
    start = np.ones(k, dtype=bool)
    allowed = np.ones((k, k), dtype=bool)
    end = np.ones(k, dtype=bool)
    if scheme == "plain":
        return start, allowed, end
    prefixes = _ALLOWED[scheme]
    for label in labels:
        if parse_tag(label)[0] != "" and not tag_fits(label, scheme):
            raise ValueError(f"label {label!r} does not fit the {scheme} scheme "
                             f"(prefixes {', '.join(prefixes)})")
    for j, tag in enumerate(labels):
        for i, prev in enumerate(labels):
            allowed[i, j] = not any(transition_faults(prev, tag, scheme))
        start[j] = not any(transition_faults(None, tag, scheme))
        end[j] = not any(transition_faults(tag, None, scheme))
    return start, allowed, end


def from_chunks(chunks: Iterable[tuple[str, int, int]], length: int, scheme: str) -> list[str]:
    """Tags of a sentence of ``length`` tokens holding ``chunks`` ((type, start, end-exclusive),
    not overlapping), written in a chunk scheme."""
    scheme = normalize_scheme(scheme)
    if scheme == "plain":
        raise ValueError("chunks cannot be written as plain labels")
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for kind, start, end in sorted(chunks, key=lambda c: c[1]):
        if scheme == "iob1":
            first = "B" if (prev_end == start and prev_type == kind) else "I"
            tags[start] = f"{first}-{kind}"
            for i in range(start + 1, end):
                tags[i] = f"I-{kind}"
        else:
            single, begin, inside, last = (
                ("U", "B", "I", "L")
                if scheme == "bilou"
                else ("S", "B", "I", "E")
                if scheme == "iobes"
                else ("B", "B", "I", "I")
            )
            if end - start == 1:
                tags[start] = f"{single}-{kind}"
            else:
                tags[start] = f"{begin}-{kind}"
                for i in range(start + 1, end - 1):
                    tags[i] = f"{inside}-{kind}"
                tags[end - 1] = f"{last}-{kind}"
        prev_end, prev_type = end, kind
    return tags


def convert(tags: Sequence[str], target: str, source: str | None = None) -> list[str]:
    """Rewrite one sentence's tags in another scheme.

    Conversion goes through the chunks as conlleval reads them (:func:`get_chunks`), so it is
    lossless for valid sequences (converting back gives the input) and repairs invalid ones by
    the conlleval rule (an I-X after O starts a chunk, E-/S- close chunks). IOB1 and IOB2 are
    read the same way by conlleval, so ``source`` only matters for 'plain': plain labels
    convert only to 'plain' (unchanged). ValueError for an unknown scheme, for chunk tags asked
    to become plain, or for a label without chunk prefix asked to become a chunk tag.
    """
    target = normalize_scheme(target)
    source = normalize_scheme(source) if source is not None else None
    tags = list(tags)
    if target == "plain":
        if source not in (None, "plain") or any(parse_tag(t)[0] not in ("", "O") for t in tags):
            raise ValueError("chunk tags cannot be converted to plain labels")
        return tags
    if source == "plain":
        raise ValueError(f"plain labels cannot be converted to {target}")
    for tag in tags:
        if parse_tag(tag)[0] == "":
            raise ValueError(
                f"label {tag!r} is not a chunk tag (expected O, or B-/I-/E-/S-/L-/U- and a type)"
            )
    return from_chunks(get_chunks(tags), len(tags), target)
