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
from functools import lru_cache

import numpy as np

from seqlab.schemes import (
    chunk_boundaries,
    chunk_positions,
    chunk_role,
    get_chunks,
    split_tag,
)

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

    The sentences are held packed by time step, as in a packed sequence: sorted longest
    first, step t holds the ``counts[t]`` sentences longer than t one after another, so that
    each step of the forward and backward recursions is one matrix product over the
    sentences still going, and a batch of any raggedness costs as many steps as its longest
    sentence. :meth:`at` says where a sentence's token is.

    Args:
        emissions: the log potentials of each tag at each token: (batch, time, K) padded
            (positions past a sentence's length are never read), or (tokens, K), the
            sentences' tokens one after another.
        lengths: (batch,) the sentences' lengths.
        transitions: (K, K), ``transitions[i, j]`` the score of tag j after tag i.
        start, end: (K,) the scores of a sentence's first and last tag.
        backward: compute the backward scores too (False: ``log_z`` and ``alpha`` only,
            half the work, for likelihoods).

    Attributes:
        tokens, alpha, beta: (tokens, K) the emissions and the forward and backward log
            scores of each token, packed (:meth:`at`).
        log_z: (batch,) each sentence's log partition function (0 for an empty one).
        first: (batch,) where each sentence begins in the unpacked (tokens, K) order.
        packed: (tokens,) the packed place of each token of the unpacked order.
    """

    def __init__(self, emissions, lengths, transitions, start, end,
                 backward: bool = True) -> None:
        emissions = np.asarray(emissions, dtype=np.float64)
        self.lengths = lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if emissions.ndim == 3:  # padded: the tokens within each length, in order
            emissions = emissions[np.arange(emissions.shape[1])[None, :] < lengths[:, None]]
        self.transitions = np.asarray(transitions, dtype=np.float64)
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)
        batch, k = len(lengths), self.transitions.shape[0]
        self.time = time = int(lengths.max()) if batch else 0
        self.order = np.argsort(-lengths, kind="stable")          # longest first
        self.rank = np.empty(batch, dtype=np.int64)
        self.rank[self.order] = np.arange(batch)
        self.counts = batch - np.searchsorted(np.sort(lengths), np.arange(time), side="right")
        self.steps = np.cumsum(self.counts) - self.counts         # where step t begins
        self.first = np.cumsum(lengths) - lengths
        self.row = np.repeat(np.arange(batch), lengths)            # each token's sentence
        self.packed = self.at(self.row, np.arange(len(self.row)) - self.first[self.row])
        self.tokens = np.empty((len(self.row), k))
        self.tokens[self.packed] = emissions.reshape(-1, k)
        self.alpha = np.empty_like(self.tokens)
        self.beta = np.zeros_like(self.tokens)
        if time:
            self._forward_backward(backward)
        self.log_z = np.zeros(batch)                               # an empty sentence: 0
        full = np.flatnonzero(lengths > 0)
        if len(full):
            self.log_z[full] = _lse(self.alpha[self.at(full, lengths[full] - 1)] + self.end,
                                    axis=1)

    def at(self, rows, t):
        """The packed place of token ``t`` of sentence ``rows`` (arrays alike, t below the
        sentences' lengths)."""
        return self.steps[t] + self.rank[rows]

    def sentence(self, row: int) -> np.ndarray:
        """The emissions (length, K) of sentence ``row``."""
        return self.tokens[self.at(row, np.arange(self.lengths[row]))]

    def _forward_backward(self, backward: bool = True) -> None:
        """The forward and backward log scores, by the scaled algorithm: products of
        exponentiated potentials, each step's vector rescaled to sum 1 and its log scale kept
        apart (a matrix product a step instead of a log-sum-exp over (batch, K, K))."""
        counts, steps, alpha, beta = self.counts, self.steps, self.alpha, self.beta
        time = self.time
        shift = self.transitions.max()
        step = np.exp(self.transitions - shift)                    # (K, K)
        top = self.tokens.max(axis=1)                              # (tokens,)
        weights = np.exp(self.tokens - top[:, None])               # (tokens, K)

        def rescaled(vector, scale):
            total = vector.sum(axis=1)
            total = np.where(total > 0, total, 1.0)
            return vector / total[:, None], scale + np.log(total)

        with np.errstate(divide="ignore"):
            first = self.start.max()
            here = slice(0, counts[0])
            vector, scale = rescaled(np.exp(self.start - first) * weights[here],
                                     first + top[here])
            alpha[here] = np.log(vector) + scale[:, None]
            for t in range(1, time):
                n = counts[t]
                here = slice(steps[t], steps[t] + n)
                vector, scale = rescaled((vector[:n] @ step) * weights[here],
                                         scale[:n] + shift + top[here])
                alpha[here] = np.log(vector) + scale[:, None]
            if not backward:
                return
            closing = self.end.max()
            final = np.exp(self.end - closing)
            vector = np.empty((counts[0], len(final)))
            scale = np.empty(counts[0])
            for t in range(time - 1, -1, -1):
                n, going = counts[t], (counts[t + 1] if t + 1 < time else 0)
                if going:  # the sentences longer than t + 1: one step back from t + 1
                    after = slice(steps[t + 1], steps[t + 1] + going)
                    vector[:going], scale[:going] = rescaled(
                        (weights[after] * vector[:going]) @ step.T,
                        scale[:going] + shift + top[after])
                vector[going:n] = final                            # those that end at t
                scale[going:n] = closing
                beta[steps[t]:steps[t] + n] = np.log(vector[:n]) + scale[:n, None]

    def chosen_marginals(self, ids) -> np.ndarray:
        """P(the tag ``ids`` names at each token), ``ids`` (tokens,) in the unpacked order."""
        at = self.packed
        return np.exp(self.alpha[at, ids] + self.beta[at, ids] - self.log_z[self.row])

    def marginals(self) -> np.ndarray:
        """P(tag k at token t), (batch, time, K); 0 at padding."""
        out = np.zeros((len(self.lengths), self.time, self.tokens.shape[1]))
        t = np.arange(len(self.row)) - self.first[self.row]
        out[self.row, t] = np.exp(self.alpha[self.packed] + self.beta[self.packed]
                                  - self.log_z[self.row][:, None])
        return out


def path_scores(emissions, lengths, transitions, start, end, paths) -> np.ndarray:
    """The scores of tag paths (n, time) of sentences with these ``emissions`` (n, time, K)
    and ``lengths`` (n,); 0 for an empty sentence, positions past a sentence's length
    ignored."""
    paths = np.asarray(paths, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    width = paths.shape[1] if paths.ndim == 2 else 0
    if not n or width == 0:
        return np.zeros(n)
    inside = np.arange(width)[None, :] < lengths[:, None]              # (n, time)
    em = np.take_along_axis(emissions[:, :width], paths[:, :, None], axis=2)[..., 0]
    scores = np.where(inside, em, 0.0).sum(axis=1)
    if width > 1:
        steps = transitions[paths[:, :-1], paths[:, 1:]]
        scores = scores + np.where(inside[:, 1:], steps, 0.0).sum(axis=1)
    last = paths[np.arange(n), np.maximum(lengths - 1, 0)]
    return np.where(lengths > 0, scores + start[paths[:, 0]] + end[last], 0.0)


def span_probabilities(lattice: Lattice, spans: Sequence[tuple[int, str, int, int]],
                       labels: Sequence[str]) -> np.ndarray:
    """The probability of each span ``(row, type, start, end)`` (end exclusive) of the batch's
    sentence ``row``: the sum of the probabilities of the tag sequences whose chunks hold
    exactly that one. (n,) float64; 0 for a span that is empty or not within its sentence."""
    arr = np.array([(row, s, e) for row, _, s, e in spans], dtype=np.int64).reshape(-1, 3)
    types = _span_tables(tuple(labels))[1]
    kind = np.array([t for _, t, _, _ in spans], dtype=object)
    of_type = types[None, :] == kind[:, None] if len(spans) else np.zeros((0, len(labels)),
                                                                          dtype=bool)
    return _span_probabilities(lattice, arr[:, 0], arr[:, 1], arr[:, 2], of_type,
                               tuple(labels))


@lru_cache(maxsize=64)
def _span_tables(labels: tuple[str, ...]):
    """``(chunk_boundaries(labels), the chunk type of each label as span_probabilities
    reads it (chunk_role), for each label the labels of its get_chunks type (K, K), the
    chunk type get_chunks gives a chunk ending in each label (split_tag))``."""
    boundaries = chunk_boundaries(labels)
    types = np.array([chunk_role(label)[1] for label in labels], dtype=object)
    kinds = [split_tag(label)[1] for label in labels]
    return boundaries, types, types[None, :] == np.array(kinds, dtype=object)[:, None], kinds


def _span_probabilities(lattice: Lattice, rows, starts, ends, of_type, labels: tuple[str, ...]
                        ) -> np.ndarray:
    """:func:`span_probabilities` of spans given as arrays: ``rows``, ``starts``, ``ends``
    (n,) and ``of_type`` (n, K), the tags of each span's type. All the spans are computed
    together, longest first: step t of the restricted forward pass runs over the spans
    longer than t.

    Computed as the lattice is, by the scaled algorithm: the restricted forward vector in
    exponentiated form, a matrix product a token, rescaled to sum 1 with its log scale kept
    apart (the same sums as log-sum-exps over (n, K, K), a few times faster)."""
    rows, starts, ends = (np.asarray(a, dtype=np.int64).reshape(-1) for a in (rows, starts, ends))
    out = np.zeros(len(rows))
    widths = ends - starts
    keep = np.flatnonzero((widths > 0) & (starts >= 0) & (ends <= lattice.lengths[rows]))
    if not len(keep):
        return out
    keep = keep[np.argsort(-widths[keep], kind="stable")]          # longest first
    rows, s, e, width = rows[keep], starts[keep], ends[keep], widths[keep]
    of_type = np.asarray(of_type, dtype=bool)[keep]
    (starts_ok, ends_ok), _, _, _ = _span_tables(labels)  # (K+1, K), (K, K+1); K = outside
    k = len(labels)
    trans, tokens = lattice.transitions, lattice.tokens
    shift = trans.max()
    step = np.exp(trans - shift)                       # (K, K), forbidden: 0
    cross = step * ~ends_ok[:, :k]                     # stay inside a chunk: no end between
    close = step * ends_ok[:, :k]                      # the chunk ends between these two
    begin = step * starts_ok[:k]                       # a chunk starts after a tag
    first_top = _finite_max(lattice.start[starts_ok[k]])  # ... or at the sentence's start
    begin_first = np.exp(lattice.start - first_top) * starts_ok[k]
    end_top = _finite_max(lattice.end[ends_ok[:, k]])  # ... and ends at its end
    close_last = np.exp(lattice.end - end_top) * ends_ok[:, k]
    counts = len(width) - np.searchsorted(width[::-1], np.arange(width[0]), side="right")
    with np.errstate(divide="ignore", invalid="ignore"):
        prev = lattice.alpha[lattice.at(rows, np.maximum(s - 1, 0))]        # (n, K)
        top = _finite_max(prev, axis=1)
        inner = np.exp(prev - top[:, None]) @ begin
        first = (s == 0)[:, None]
        vector = np.where(first, begin_first, inner)
        scale = np.where(first[:, 0], first_top, top + shift)
        for t in range(width[0]):
            n = counts[t]                                  # the spans longer than t
            going, moved = vector[:n], scale[:n]
            if t:
                going = going @ cross
                moved = moved + shift
            here = tokens[lattice.at(rows[:n], s[:n] + t)]
            top = here.max(axis=1)
            going = going * np.exp(here - top[:, None]) * of_type[:n]
            total = going.sum(axis=1)
            vector[:n] = going / np.where(total > 0, total, 1.0)[:, None]
            scale[:n] = moved + top + np.log(total)
        at_end = e >= lattice.lengths[rows]
        nxt = lattice.at(rows, np.where(at_end, s, e))    # at the end: any token, not read
        after = tokens[nxt] + lattice.beta[nxt]                              # (n, K)
        top = _finite_max(after, axis=1)
        inside = np.log(((vector @ close) * np.exp(after - top[:, None])).sum(axis=1)) \
            + top + shift
        last = np.log((vector * close_last).sum(axis=1)) + end_top
        total = np.where(at_end, last, inside) + scale
        out[keep] = np.nan_to_num(np.exp(total - lattice.log_z[rows]), nan=0.0)
    return np.minimum(out, 1.0)


def _finite_max(x: np.ndarray, axis=None):
    """The largest entry (along ``axis``), 0 where there is none above -inf (so that
    ``exp(x - max)`` is 0 there, not NaN)."""
    if x.size == 0:
        return np.zeros(x.shape[0]) if axis is not None else 0.0
    top = np.max(x, axis=axis)
    return np.where(np.isfinite(top), top, 0.0)


def nbest(lattice: Lattice, row: int, n: int) -> list[tuple[np.ndarray, float]]:
    """The ``n`` most probable tag paths of sentence ``row`` with their probabilities, most
    probable first (fewer when the sentence has fewer paths of non-zero probability)."""
    length = int(lattice.lengths[row])
    if length == 0:
        return [(np.zeros(0, dtype=np.int64), 1.0)]
    em, trans = lattice.sentence(row), lattice.transitions
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
    sequences ``(ids, probability)`` when asked for; ``probs``: each token's probability of
    its chosen tag (a CRF's marginal; a softmax model's output probability), at the same
    temperature as the rest."""

    ids: np.ndarray
    spans: list[tuple[str, int, int, float]]
    best: float
    errors: float = 0.0
    nbest: list[tuple[np.ndarray, float]] = field(default_factory=list)
    probs: np.ndarray | None = None


def model_potentials(parts, temperature: float | None = None):
    """``(transitions, start, end, to_log)``: the potentials a model's decoder reads, and the
    function from its output to per-token log potentials. A CRF's own (constrained);
    constrained softmax: log-probabilities with the scheme's transitions allowed or not;
    argmax decoding and plain tags: log-probabilities, every transition allowed.

    Every potential is divided by ``temperature`` (None: the model's own, fitted on the dev
    set at the end of training, :func:`fit_temperature`; 1 for models saved before): the
    distribution the scores read is ``p(y) ∝ exp(score(y) / T)``. T > 0 keeps the order of
    the sequences, so the best one (the Viterbi tags) is the same at every T."""
    from seqlab.decoding import transition_scores

    t = float(parts.temperature if temperature is None else temperature)
    if parts.crf is not None:
        transitions, start, end = (np.asarray(w, dtype=np.float64)
                                   for w in parts.crf.potentials(constrained=True))

        def to_log(out):
            return np.asarray(out, dtype=np.float64)
    else:
        k = len(parts.labels)
        if parts.decoding == "constrained" and parts.scheme != "plain":
            transitions, start, end = (np.asarray(a, dtype=np.float64)
                                       for a in transition_scores(parts.labels, parts.scheme))
        else:
            transitions, start, end = np.zeros((k, k)), np.zeros(k), np.zeros(k)

        def to_log(out):
            return np.log(np.maximum(np.asarray(out, dtype=np.float64), 1e-30))

    if t == 1.0:
        return transitions, start, end, to_log
    return (transitions / t, start / t, end / t, lambda out: to_log(out) / t)


def analyse(ids: Sequence[np.ndarray], outputs: Sequence[np.ndarray], parts, n_best: int = 0,
            batch: int = 512, tokens: int = 8192, temperature: float | None = None
            ) -> list[Analysis]:
    """Each sentence's chunks with their probabilities (and its n-best list) from the tag ids
    the model chose and its output (time, K) for the sentence; ``n_best`` sequences each when
    above 0. ``temperature``: see :func:`model_potentials` (None: the model's).

    Sentences of like length are computed together, ``batch`` sentences and ``tokens``
    tokens at most (a longer sentence alone), in one packed :class:`Lattice`: their chunks,
    span probabilities, marginals and best-path scores at once in NumPy. Bounded because
    one lattice over all 3,453 sentences of CoNLL-2003 test took about twice the CPU time
    of groups of 512: its early steps' (sentences, K) arrays leave the cache, and OpenBLAS
    spreads their products over threads."""
    transitions, start, end, to_log = model_potentials(parts, temperature)
    labels = tuple(str(label) for label in parts.labels)
    softmax = parts.crf is None
    t = float(parts.temperature if temperature is None else temperature)
    boundaries, _, of_type, kinds = _span_tables(labels)
    lengths = [len(x) for x in ids]
    order = sorted(range(len(ids)), key=lengths.__getitem__)
    out: list[Analysis | None] = [None] * len(ids)
    group: list[int] = []
    size = 0
    for i in [*order, None]:
        if i is None or (group and (len(group) == batch or size + lengths[i] > tokens)):
            found = _analyse_group([ids[g] for g in group], [outputs[g] for g in group],
                                   transitions, start, end, to_log, labels, boundaries,
                                   of_type, kinds, softmax and t != 1.0, softmax, n_best)
            for g, analysis in zip(group, found):
                out[g] = analysis
            group, size = [], 0
        if i is not None:
            group.append(i)
            size += lengths[i]
    return out


def _analyse_group(ids, outputs, transitions, start, end, to_log, labels, boundaries,
                   of_type, kinds, rescaled, softmax, n_best) -> list[Analysis]:
    """:func:`analyse` of sentences computed together. ``rescaled``: a softmax model's
    token probabilities at a temperature other than 1 (else its output as it is)."""
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    full = np.flatnonzero(lengths)
    if not len(full):  # no token: each sentence's one (empty) sequence
        return [Analysis(x, [], 1.0, 0.0, [(np.zeros(0, dtype=np.int64), 1.0)] if n_best
                         else [], np.zeros(0)) for x in ids]
    path = np.concatenate([ids[r] for r in full]).astype(np.int64, copy=False)
    raw = np.concatenate([outputs[r] for r in full]).reshape(-1, len(labels))
    raw = raw.astype(np.float64 if raw.dtype == np.float64 else np.float32, copy=False)
    emissions = to_log(raw)                                            # (tokens, K)
    lattice = Lattice(emissions, lengths, transitions, start, end)
    rows, first = lattice.row, lattice.first
    # The chunks of every sentence and their probabilities.
    c_rows, c_starts, c_ends, c_last = chunk_positions(path, lengths, labels, boundaries)
    probs = _span_probabilities(lattice, c_rows, c_starts, c_ends, of_type[c_last], labels)
    # The best path's probability and the expected number of wrong tags.
    token = np.arange(len(path))
    steps = np.where(rows[1:] == rows[:-1], transitions[path[:-1], path[1:]], 0.0)
    score = np.bincount(rows, weights=emissions[token, path], minlength=len(ids)) \
        + np.bincount(rows[1:], weights=steps, minlength=len(ids))
    score[full] += start[path[first[full]]] + end[path[first[full] + lengths[full] - 1]]
    best = np.exp(score - lattice.log_z)  # an empty sentence: exp(0 - 0)
    chosen = lattice.chosen_marginals(path)
    errors = np.bincount(rows, weights=1.0 - chosen, minlength=len(ids))
    if rescaled:  # a softmax model's own probability of each chosen tag, at the temperature
        chosen = np.exp(emissions[token, path] - _lse(emissions, axis=1))
    elif softmax:  # T = 1: the network's output as it is
        chosen = raw[token, path].astype(np.float64)
    spans: list[list] = [[] for _ in ids]
    for r, last, s, e, p in zip(c_rows.tolist(), c_last.tolist(), c_starts.tolist(),
                                c_ends.tolist(), probs.tolist()):
        spans[r].append((kinds[last], s, e, p))
    bounds = np.concatenate([first, [len(path)]]).tolist()
    return [Analysis(ids[r], spans[r], min(b, 1.0), max(x, 0.0),
                     nbest(lattice, r, n_best) if n_best else [],
                     chosen[bounds[r]:bounds[r + 1]])
            for r, (b, x) in enumerate(zip(best.tolist(), errors.tolist()))]


def round_probs(probs: np.ndarray | None) -> list[float]:
    """Token probabilities as written (6 decimals)."""
    return [] if probs is None else [round(p, 6) for p in probs.tolist()]


# ---------------------------------------------------------------------------------------------
# Calibration: how well the scores match how often they are right, and one temperature
# ---------------------------------------------------------------------------------------------

# A path whose potentials include one below this is one the decoder forbids (a CRF's
# constrained transitions are at -1e5, constrained softmax's at -1e9; learned ones are tens).
_FORBIDDEN_BELOW = -1.0e4


def gold_ids(parts, labels: Sequence[Sequence[str]]) -> list[np.ndarray | None]:
    """Each sentence's gold tags (in the files' scheme) as the model's tag ids, in the
    model's scheme; None for a sentence with a tag the model does not know."""
    from seqlab.schemes import convert

    index = {str(label): i for i, label in enumerate(parts.labels)}
    out: list[np.ndarray | None] = []
    for tags in labels:
        if parts.scheme != parts.source_scheme:
            tags = convert(list(tags), parts.scheme, source=parts.source_scheme)
        try:
            out.append(np.array([index[t] for t in tags], dtype=np.int64))
        except KeyError:
            out.append(None)
    return out


class SequenceNLL:
    """The negative log-likelihood of gold tag sequences as a function of the temperature:
    ``nll(T) = mean over sentences of log Z(θ/T) - score_θ(gold)/T``, θ the model's
    potentials at T = 1. Sentences without a token, with a tag the model does not know, or
    whose gold sequence the decoder forbids (probability 0 at every T) are left out;
    ``sentences`` says how many count. The sentences are padded into batches once, so each
    value costs one forward pass in NumPy.

    Args:
        emissions: each sentence's log potentials (time, K) at T = 1.
        gold: each sentence's gold tag ids (time,), or None.
        transitions, start, end: the potentials at T = 1.
    """

    def __init__(self, emissions: Sequence[np.ndarray], gold: Sequence[np.ndarray | None],
                 transitions, start, end, batch: int = 256) -> None:
        self.transitions = np.asarray(transitions, dtype=np.float64)
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)
        keep = [i for i, y in enumerate(gold)
                if y is not None and len(y) and len(y) == len(emissions[i])]
        keep.sort(key=lambda i: len(gold[i]))
        self.batches = []
        gold_score = 0.0
        used = 0
        for first in range(0, len(keep), batch):
            rows = keep[first:first + batch]
            width = len(gold[rows[-1]])
            k = self.transitions.shape[0]
            em = np.zeros((len(rows), width, k))
            paths = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                em[r, :len(gold[i])] = emissions[i]
                paths[r, :len(gold[i])] = gold[i]
            lengths = np.array([len(gold[i]) for i in rows])
            scores = path_scores(em, lengths, self.transitions, self.start, self.end, paths)
            possible = self._possible(paths, lengths, em)
            if not possible.all():
                em, lengths, scores = em[possible], lengths[possible], scores[possible]
            if len(lengths):
                self.batches.append((em, lengths))
                gold_score += float(scores.sum())
                used += len(lengths)
        self.gold_score = gold_score
        self.sentences = used

    def _possible(self, paths, lengths, em) -> np.ndarray:
        """Whether each gold path avoids every forbidden start, transition and end."""
        n, width = paths.shape
        inside = np.arange(width)[None, :] < lengths[:, None]
        ok = self.start[paths[:, 0]] > _FORBIDDEN_BELOW
        ok &= self.end[paths[np.arange(n), lengths - 1]] > _FORBIDDEN_BELOW
        if width > 1:
            steps = self.transitions[paths[:, :-1], paths[:, 1:]]
            ok &= np.all(~inside[:, 1:] | (steps > _FORBIDDEN_BELOW), axis=1)
        chosen = np.take_along_axis(em, paths[:, :, None], axis=2)[..., 0]
        ok &= np.all(~inside | (chosen > _FORBIDDEN_BELOW), axis=1)
        return ok

    def __call__(self, temperature: float) -> float:
        if not self.sentences:
            return 0.0
        t = float(temperature)
        log_z = sum(float(Lattice(em / t, lengths, self.transitions / t, self.start / t,
                                  self.end / t, backward=False).log_z.sum())
                    for em, lengths in self.batches)
        return (log_z - self.gold_score / t) / self.sentences


def fit_temperature(nll, low: float = 1 / 16, high: float = 16.0,
                    tolerance: float = 1e-4) -> float:
    """The temperature T in [``low``, ``high``] that minimises ``nll(T)`` (a
    :class:`SequenceNLL`: the dev set's mean negative log-likelihood of its gold tag
    sequences, Guo et al. 2017's temperature scaling for a sequence model): golden-section
    search over log T until the bracket is narrower than ``tolerance``, deterministic (a
    fixed sequence of evaluations). ``nll`` is convex in 1/T (log Z is convex in its
    scale), so it has one minimum; one at a bound returns the bound. Rounded to 4 decimals."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = float(np.log(low)), float(np.log(high))
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(np.exp(c)), nll(np.exp(d))
    while b - a > tolerance:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(np.exp(d))
    return round(float(np.exp((a + b) / 2.0)), 4)


def scored_spans(spans: Sequence[Sequence[tuple]], gold: Sequence[Sequence[str]]
                 ) -> list[tuple[float, bool]]:
    """Each predicted span's ``(score, correct)``: ``spans`` each sentence's ``(type, start,
    end, score)``, ``gold`` its gold tags; a span is correct when it is a gold chunk."""
    return [(p, (kind, s, e) in truth) for found, labels in zip(spans, gold)
            for truth in [set(get_chunks(labels))] for kind, s, e, p in found]


def calibrate(ids: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
              gold: Sequence[Sequence[str]], parts) -> dict:
    """Fit the temperature on a dev set tagged by the model (``ids`` and ``outputs`` of
    :meth:`seqlab.tagger.Tagger.outputs`, ``gold`` its gold tags in the files' scheme):
    ``{"temperature", "sentences" (those that count), "nll_before", "nll_after" (mean per
    sentence at T = 1 and at T), "before", "after" (:func:`calibration` of the span scores
    at T = 1 and at T; models of chunk tags only)}``."""
    transitions, start, end, to_log = model_potentials(parts, temperature=1.0)
    nll = SequenceNLL([to_log(o) for o in outputs], gold_ids(parts, gold),
                      transitions, start, end)
    temperature = fit_temperature(nll) if nll.sentences else 1.0
    out = {"temperature": temperature, "sentences": nll.sentences,
           "nll_before": round(nll(1.0), 6), "nll_after": round(nll(temperature), 6)}
    if parts.source_scheme != "plain":
        out.update(span_calibration(ids, outputs, gold, parts, temperature))
    return out


def calibrate_tagger(tagger, dev, test=None, batch_size: int = 128) -> dict:
    """Fit a tagger's temperature on ``dev`` (tokens and gold labels, a
    :class:`seqlab.training.data.Corpus`), store it in the tagger's model, and measure the
    span scores' calibration before (T = 1) and after on dev and ``test``: what training
    does at its end. Returns :func:`calibrate`'s dev result as ``{"temperature",
    "sentences", "dev": {...}, "test": {"before", "after"}}``."""
    ids, outputs = tagger.outputs(dev.tokens, batch_size, dev.documents)
    found = calibrate(ids, outputs, dev.labels, tagger.parts)
    fitted = found.pop("temperature")
    temperature = fitted if keeps_temperature(found) else 1.0
    tagger.parts.set_temperature(temperature)
    out = {"temperature": temperature, "fitted": fitted, "sentences": found.pop("sentences"),
           "dev": found}
    if test is not None and tagger.chunked:
        ids, outputs = tagger.outputs(test.tokens, batch_size,
                                      test.documents)
        out["test"] = span_calibration(ids, outputs, test.labels, tagger.parts, temperature)
    return out


def keeps_temperature(dev: dict) -> bool:
    """Whether the temperature fitted on dev (:func:`calibrate`'s result) is kept: the fit
    minimises the gold sequences' NLL, which on a small dev set can leave the span scores
    worse calibrated than at T = 1; then T = 1 is kept. Models without span scores (plain
    tags) keep the fit."""
    if "before" not in dev or "after" not in dev:
        return True
    return dev["after"]["ece"] <= dev["before"]["ece"]


def describe_calibration(found: dict) -> str:
    """:func:`calibrate_tagger`'s result in one line."""
    dev = found["dev"]
    fitted = found.get("fitted", found["temperature"])
    text = (f"temperature {found['temperature']:g} (fitted on dev: NLL a sentence "
            f"{dev['nll_before']:.4f} -> {dev['nll_after']:.4f})")
    if found["temperature"] != fitted:
        text = (f"temperature 1 kept: the one fitted on dev, {fitted:g}, lowers the NLL a "
                f"sentence ({dev['nll_before']:.4f} -> {dev['nll_after']:.4f}) but not the dev "
                "span scores' calibration error")
    eces = [f"{split} {found[split]['before']['ece']:.4f} -> {found[split]['after']['ece']:.4f}"
            for split in ("dev", "test") if "before" in found.get(split, {})]
    return text + (f"; span score ECE {', '.join(eces)}" if eces else "")


def span_calibration(ids, outputs, gold, parts, temperature: float) -> dict:
    """``{"before", "after"}``: the :func:`calibration` of the span scores of a tagged gold
    set at T = 1 and at ``temperature``."""
    out = {}
    for key, t in (("before", 1.0), ("after", temperature)):
        found = analyse(ids, outputs, parts, temperature=t)
        out[key] = calibration(scored_spans([a.spans for a in found], gold))
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
