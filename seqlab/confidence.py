"""How sure a model is: the probability of each predicted span, the n most probable tag
sequences, and a sentence's uncertainty, from a linear-chain model's log potentials.

A sentence's tag sequences ``y`` have the score ``start[y0] + sum_t emissions[t, y_t] +
sum_t transitions[y_t-1, y_t] + end[y_last]`` and the probability ``exp(score - log Z)``, Z
the sum over every sequence. For a CRF the potentials are its own (forbidden transitions at
their penalty); for a softmax model decoded under the scheme's constraints they are the
per-token log-probabilities with 0 for an allowed transition and a large negative score for a
forbidden one (:func:`seqlab.decoding.transition_scores`), so both read the distribution their
decoder reads.

A span's probability is the sum of the probabilities of the sequences whose chunks (by
conlleval's rules, :func:`seqlab.schemes.chunk_boundaries`) contain exactly that span: a
forward pass restricted to the span's tokens, between the unrestricted forward scores before it
and backward scores after it. Everything here is NumPy in float64, batched over sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from seqlab.schemes import chunk_boundaries, chunk_role, get_chunks

_NEG = -np.inf


def _lse(x: np.ndarray, axis) -> np.ndarray:
    """log(sum(exp(x))) over ``axis``; -inf where every term is -inf."""
    top = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
    return np.squeeze(out, axis=axis)


def _log_mask(allowed: np.ndarray) -> np.ndarray:
    return np.where(allowed, 0.0, _NEG)


class Lattice:
    """A batch of sentences' potentials with their forward and backward scores.

    Args:
        emissions: (batch, time, K) log potentials of each tag at each token.
        lengths: (batch,) the sentences' lengths (positions past them are padding).
        transitions: (K, K), ``transitions[i, j]`` the score of tag j after tag i.
        start, end: (K,) the scores of a sentence's first and last tag.
    """

    def __init__(self, emissions, lengths, transitions, start, end) -> None:
        self.emissions = np.asarray(emissions, dtype=np.float64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.transitions = np.asarray(transitions, dtype=np.float64)
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)
        batch, time, k = self.emissions.shape
        alpha = np.empty((batch, time, k))
        beta = np.zeros((batch, time, k))
        if time:
            self._forward_backward(alpha, beta)
        self.alpha, self.beta = alpha, beta
        rows = np.arange(batch)
        ends = np.maximum(self.lengths - 1, 0)
        self.log_z = (_lse(alpha[rows, ends] + self.end, axis=1) if time
                      else np.zeros(batch))
        self.log_z[self.lengths == 0] = 0.0  # the one (empty) sequence

    def _forward_backward(self, alpha: np.ndarray, beta: np.ndarray) -> None:
        """The forward and backward log scores, by the scaled algorithm: products of
        exponentiated potentials, each step's vector rescaled to sum 1 and its log scale kept
        apart (a matrix product a step instead of a log-sum-exp over (batch, K, K))."""
        time = self.emissions.shape[1]
        shift = self.transitions.max()
        step = np.exp(self.transitions - shift)                    # (K, K)
        top = self.emissions.max(axis=2, keepdims=True)            # (B, T, 1)
        weights = np.exp(self.emissions - top)                     # (B, T, K)

        def rescaled(vector, scale):
            total = vector.sum(axis=1)
            total = np.where(total > 0, total, 1.0)
            return vector / total[:, None], scale + np.log(total)

        with np.errstate(divide="ignore"):
            first = self.start.max()
            vector, scale = rescaled(np.exp(self.start - first) * weights[:, 0],
                                     first + top[:, 0, 0])
            alpha[:, 0] = np.log(vector) + scale[:, None]
            for t in range(1, time):
                vector, scale = rescaled((vector @ step) * weights[:, t],
                                         scale + shift + top[:, t, 0])
                alpha[:, t] = np.log(vector) + scale[:, None]
            last = self.lengths - 1
            closing = self.end.max()
            final = np.exp(self.end - closing)
            vector = np.broadcast_to(final, (len(last), len(final))).copy()
            scale = np.full(len(last), closing)
            for t in range(time - 1, -1, -1):
                if t + 1 < time:
                    vector, scale = rescaled((weights[:, t + 1] * vector) @ step.T,
                                             scale + shift + top[:, t + 1, 0])
                here = (t == last)[:, None]
                vector = np.where(here, final, vector)
                scale = np.where(here[:, 0], closing, scale)
                beta[:, t] = np.log(vector) + scale[:, None]

    def marginals(self) -> np.ndarray:
        """P(tag k at token t), (batch, time, K); 0 at padding."""
        out = np.exp(self.alpha + self.beta - self.log_z[:, None, None])
        time = self.emissions.shape[1]
        return np.where((np.arange(time)[None, :] < self.lengths[:, None])[..., None], out, 0.0)

    def path_scores(self, paths: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The scores of tag paths (n, time) of the sentences ``rows`` (n,)."""
        scores = np.empty(len(rows))
        for n, (row, path) in enumerate(zip(rows, paths)):
            length = self.lengths[row]
            y = path[:length]
            if not length:
                scores[n] = 0.0
                continue
            scores[n] = (self.start[y[0]] + self.emissions[row, np.arange(length), y].sum()
                         + self.transitions[y[:-1], y[1:]].sum() + self.end[y[-1]])
        return scores


def span_probabilities(lattice: Lattice, spans: Sequence[tuple[int, str, int, int]],
                       labels: Sequence[str]) -> np.ndarray:
    """The probability of each span ``(row, type, start, end)`` (end exclusive) of the batch's
    sentence ``row``: the sum of the probabilities of the tag sequences whose chunks hold
    exactly that one. (n,) float64; spans of one length are computed together."""
    out = np.zeros(len(spans))
    if not len(spans):
        return out
    starts, ends_allowed = chunk_boundaries(labels)   # (K+1, K) and (K, K+1); row/col K = out
    k = len(labels)
    types = np.array([chunk_role(label)[1] for label in labels], dtype=object)
    cross = _log_mask(~ends_allowed[:, :k])            # stay inside a chunk: no end between
    close = _log_mask(ends_allowed[:, :k])             # the chunk ends between these two
    close_last = _log_mask(ends_allowed[:, k])         # ... or at the sentence's end
    begin = _log_mask(starts[:k])                      # a chunk starts after a tag
    begin_first = _log_mask(starts[k])                 # ... or at the sentence's start
    arr = np.array([(row, s, e) for row, _, s, e in spans], dtype=np.int64).reshape(-1, 3)
    kind = np.array([t for _, t, _, _ in spans], dtype=object)
    trans, em = lattice.transitions, lattice.emissions
    for width in np.unique(arr[:, 2] - arr[:, 1]):
        pick = np.flatnonzero(arr[:, 2] - arr[:, 1] == width)
        if width <= 0:
            continue
        rows, s, e = arr[pick, 0], arr[pick, 1], arr[pick, 2]
        of_type = _log_mask(types[None, :] == kind[pick, None])          # (n, K)
        first = s == 0
        prev = lattice.alpha[rows, np.maximum(s - 1, 0)]                 # (n, K)
        inner = _lse(prev[:, :, None] + trans + begin, axis=1)          # (n, K)
        gamma = np.where(first[:, None], lattice.start + begin_first, inner)
        gamma = gamma + em[rows, s] + of_type
        for step in range(1, width):
            gamma = _lse(gamma[:, :, None] + trans + cross, axis=1) + em[rows, s + step] \
                + of_type
        at_end = e >= lattice.lengths[rows]
        nxt = np.minimum(e, em.shape[1] - 1)
        after = em[rows, nxt] + lattice.beta[rows, nxt]                  # (n, K)
        inside = _lse(gamma[:, :, None] + trans + close + after[:, None, :], axis=(1, 2))
        last = _lse(gamma + lattice.end + close_last, axis=1)
        total = np.where(at_end, last, inside)
        out[pick] = np.exp(total - lattice.log_z[rows])
    return np.minimum(out, 1.0)


def nbest(lattice: Lattice, row: int, n: int) -> list[tuple[np.ndarray, float]]:
    """The ``n`` most probable tag paths of sentence ``row`` with their probabilities, most
    probable first (fewer when the sentence has fewer paths of non-zero probability)."""
    length = int(lattice.lengths[row])
    if length == 0:
        return [(np.zeros(0, dtype=np.int64), 1.0)]
    em, trans = lattice.emissions[row], lattice.transitions
    k = trans.shape[0]
    # scores[tag, rank]: the rank-th best score of a path ending in tag; back: (tag, rank).
    scores = np.full((k, n), _NEG)
    scores[:, 0] = lattice.start + em[0]
    backs = []
    for t in range(1, length):
        cand = (scores[:, None, :] + trans[:, :, None]).transpose(1, 0, 2).reshape(k, k * n)
        order = np.argsort(-cand, axis=1, kind="stable")[:, :n]
        top = np.take_along_axis(cand, order, axis=1) + em[t][:, None]
        width = order.shape[1]
        if width < n:
            top = np.concatenate([top, np.full((k, n - width), _NEG)], axis=1)
            order = np.concatenate([order, np.zeros((k, n - width), dtype=order.dtype)], 1)
        scores = top
        backs.append(order)
    final = (scores + lattice.end[:, None]).reshape(-1)
    picks = np.argsort(-final, kind="stable")[:n]
    out = []
    for flat in picks:
        score = final[flat]
        if not np.isfinite(score):
            break
        tag, rank = divmod(int(flat), n)
        path = [tag]
        for order in reversed(backs):
            prev_tag, rank = divmod(int(order[tag, rank]), n)
            tag = prev_tag
            path.append(tag)
        prob = float(np.exp(score - lattice.log_z[row]))
        if prob <= 0.0:
            break
        out.append((np.array(path[::-1], dtype=np.int64), prob))
    return out


# ---------------------------------------------------------------------------------------------
# A model's sentences: spans with their probabilities, and n-best lists
# ---------------------------------------------------------------------------------------------

@dataclass
class Analysis:
    """One sentence as the model reads it: the best tag ids, its chunks ``(type, start, end,
    probability)`` (end exclusive, in the order of the sentence), the probability of the best
    sequence, the expected number of its tokens whose tag is wrong (``errors``: the sum over
    tokens of one minus the chosen tag's marginal probability), and the n most probable
    sequences ``(ids, probability)`` when asked for."""

    ids: np.ndarray
    spans: list[tuple[str, int, int, float]]
    best: float
    errors: float = 0.0
    nbest: list[tuple[np.ndarray, float]] = field(default_factory=list)


def model_potentials(parts):
    """``(transitions, start, end, to_log)``: the potentials a model's decoder reads, and the
    function from its output to per-token log potentials. A CRF's own (constrained);
    constrained softmax: log-probabilities with the scheme's transitions allowed or not;
    argmax decoding and plain tags: log-probabilities, every transition allowed."""
    from seqlab.decoding import transition_scores

    if parts.crf is not None:
        transitions, start, end = (np.asarray(w, dtype=np.float64)
                                   for w in parts.crf.potentials(constrained=True))
        return transitions, start, end, lambda out: np.asarray(out, dtype=np.float64)
    k = len(parts.labels)
    if parts.decoding == "constrained" and parts.scheme != "plain":
        transitions, start, end = transition_scores(parts.labels, parts.scheme)
    else:
        transitions, start, end = np.zeros((k, k)), np.zeros(k), np.zeros(k)

    def to_log(out):
        return np.log(np.maximum(np.asarray(out, dtype=np.float64), 1e-30))

    return transitions, start, end, to_log


def analyse(ids: Sequence[np.ndarray], outputs: Sequence[np.ndarray], parts, n_best: int = 0,
            batch: int = 256) -> list[Analysis]:
    """Each sentence's chunks with their probabilities (and its n-best list) from the tag ids
    the model chose and its output (time, K) for the sentence; sentences of like length are
    computed together, ``batch`` at a time; ``n_best`` sequences each when above 0."""
    transitions, start, end, to_log = model_potentials(parts)
    labels = [str(label) for label in parts.labels]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[Analysis | None] = [None] * len(ids)
    for first in range(0, len(order), batch):
        rows = order[first:first + batch]
        width = max(len(ids[i]) for i in rows)
        emissions = np.zeros((len(rows), width, len(labels)))
        for r, i in enumerate(rows):
            if len(ids[i]):
                emissions[r, :len(ids[i])] = to_log(outputs[i])
        lattice = Lattice(emissions, [len(ids[i]) for i in rows], transitions, start, end)
        chunks = [(r, *c) for r, i in enumerate(rows)
                  for c in get_chunks([labels[t] for t in ids[i].tolist()])]
        probs = span_probabilities(lattice, chunks, labels)
        paths = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            paths[r, :len(ids[i])] = ids[i]
        best = np.exp(lattice.path_scores(paths, np.arange(len(rows))) - lattice.log_z)
        chosen = np.take_along_axis(lattice.marginals(), paths[:, :, None], axis=2)[:, :, 0]
        errors = (np.arange(width)[None, :] < lattice.lengths[:, None]) * (1.0 - chosen)
        spans: dict[int, list] = {r: [] for r in range(len(rows))}
        for (r, kind, s, e), p in zip(chunks, probs):
            spans[r].append((kind, s, e, float(p)))
        for r, i in enumerate(rows):
            out[i] = Analysis(ids[i], spans[r], float(min(best[r], 1.0)),
                              float(max(errors[r].sum(), 0.0)),
                              nbest(lattice, r, n_best) if n_best else [])
    return out


def calibration(scored: Sequence[tuple[float, bool]], bins: int = 10) -> dict:
    """How well span scores match how often spans are right: ``scored`` holds each
    predicted span's ``(score, correct)``. Returns the expected calibration error (Guo et al.
    2017: the spans' share of each of ``bins`` equal-width score bins times the gap between
    its mean score and its accuracy, summed; 0 is perfect), the mean score and accuracy, and
    the bins (the reliability diagram's points)."""
    total = len(scored)
    rows = []
    ece = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in scored if min(int(p * bins), bins - 1) == b]
        if not inside:
            continue
        confidence = sum(p for p, _ in inside) / len(inside)
        accuracy = sum(ok for _, ok in inside) / len(inside)
        ece += len(inside) / total * abs(accuracy - confidence)
        rows.append({"low": low, "high": high, "spans": len(inside),
                     "confidence": round(confidence, 6), "accuracy": round(accuracy, 6)})
    return {"ece": round(ece, 6), "spans": total,
            "confidence": round(sum(p for p, _ in scored) / total, 6) if total else None,
            "accuracy": round(sum(ok for _, ok in scored) / total, 6) if total else None,
            "bins": rows}
