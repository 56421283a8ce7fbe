"""Sentences longer than a model takes at once, tagged in overlapping windows.

A model with global attention costs T**2 per sentence, so a sentence of 10,000 tokens would
take minutes and its batch gigabytes: such sentences are cut into overlapping windows, each
tagged with context on both sides, and the middle parts joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from seqlab.errors import SeqlabError, shown

# The longest sentence a model with global attention tags at once by default. Local
# attention (attention_width) costs T * width: any length is tagged whole.
GLOBAL_MAX_LENGTH = 4096
# The shortest window: a quarter of it is context on each side, none at all below 4 tokens.
SHORTEST_WINDOW = 4


def check_max_length(value, name: str = "max_length") -> int | None:
    """``value`` when it is a longest sentence a tagger may take (None: the model's default;
    0: never split; else at least :data:`SHORTEST_WINDOW` tokens); SeqlabError naming it as
    ``name`` says otherwise (the one rule, checked before the model is loaded and by
    :class:`seqlab.tagger.Tagger`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            value and value < SHORTEST_WINDOW):
        raise SeqlabError(f"{name} {shown(value)}: expected 0 (never split) or at least "
                          f"{SHORTEST_WINDOW} tokens")
    return int(value)


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


def in_windows(predict: Callable, sentences: Sequence[Sequence[str]], limit: int,
               warn: Callable[[str], None], why: str = "max_length",
               documents: Sequence | None = None):
    """``predict(pieces, documents) -> (arrays, arrays or None)`` applied to sentences, those
    longer than ``limit`` tokens cut into windows and joined back; ``warn`` hears of each one
    cut. ``documents``: each sentence's document (or None), passed on with the pieces: a
    sentence's pieces stand alone (None), as the windows already give each other context."""
    if not limit or all(len(s) <= limit for s in sentences):
        return predict(sentences, documents)
    pieces: list[Sequence[str]] = []
    piece_documents: list = []
    plan: list[list[tuple[int, int, int]]] = []  # per sentence: (piece, keep from, to)
    for i, tokens in enumerate(sentences):
        if len(tokens) <= limit:
            plan.append([(len(pieces), 0, len(tokens))])
            pieces.append(tokens)
            piece_documents.append(None if documents is None else documents[i])
            continue
        head = " ".join(tokens[:4])
        warn(f"a sentence of {len(tokens)} tokens ('{head} ...') is longer than {limit} tokens, "
             f"the most this model's {why} takes at once: tagged in overlapping windows of "
             f"{limit} tokens")
        parts = []
        for start, end, keep_from, keep_to in windows(len(tokens), limit):
            parts.append((len(pieces), keep_from - start, keep_to - start))
            pieces.append(tokens[start:end])
            piece_documents.append(None)
        plan.append(parts)
    first, second = predict(pieces, None if documents is None else piece_documents)

    def join(arrays):
        return [np.concatenate([arrays[p][a:b] for p, a, b in parts]) for parts in plan]

    return join(first), (join(second) if second is not None else None)
