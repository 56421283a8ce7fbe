"""From the network's output to tags: the best tag ids and their probabilities, and tag ids to
tag strings in the training files' scheme.

* CRF models: the CRF's Viterbi path (its transitions constrained by the tag scheme) and its
  forward-backward marginals;
* softmax models with chunk tags (``decoding: constrained``, the default): the most probable
  tag sequence that the scheme allows, by Viterbi over the per-token log-probabilities with
  every invalid transition forbidden (an ``I-PER`` after ``O`` in IOB2, ...), so no invalid
  sequence ever comes out; ``decoding: argmax`` takes each token's most probable tag alone;
* softmax models with plain tags: argmax.

The first part is written with ``keras.ops`` only, so the tagger, dev scoring in training and
the SavedModel export decode with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqlab.schemes import allowed_transitions, convert

DECODINGS = ("constrained", "argmax")
# The score of a forbidden transition: below any path of log-probabilities (each token's is
# above log(1e-30) = -69, so a path of 10,000 tokens stays above -1e6), and finite.
_FORBIDDEN = -1.0e9
_FLOOR = 1e-30


def transition_scores(labels: Sequence[str], scheme: str):
    """(transitions (K, K), start (K,), end (K,)) float32: 0 where the scheme allows a
    transition (or a start, or an end), a large negative score where it does not."""
    start, allowed, end = allowed_transitions(labels, scheme)
    return tuple(np.where(a, 0.0, _FORBIDDEN).astype(np.float32) for a in (allowed, start, end))


def constrained_path(probabilities, mask, labels: Sequence[str], scheme: str):
    """The best tag path the scheme allows, (batch, time) int32, 0 at padding: Viterbi over
    ``log(probabilities)`` with forbidden transitions at a score below any real path."""
    from keras import ops

    from seqlab.layers.crf import crf_decode

    transitions, start, end = (ops.convert_to_tensor(a)
                               for a in transition_scores(labels, scheme))
    log_p = ops.log(ops.maximum(ops.cast(probabilities, "float32"), _FLOOR))
    path, _ = crf_decode(log_p, mask, transitions, start, end)
    return path


def best_tags(parts, output, mask, probs: bool = False):
    """``(best ids (batch, time), probability of each chosen tag or None)`` from the model's
    output, decoded as the model says (see the module docstring)."""
    from keras import ops

    crf = parts.crf
    if crf is not None:
        best = crf.decode(output, mask)
        p = crf.marginals(output, mask) if probs else None
    else:
        if parts.decoding == "constrained" and parts.scheme != "plain":
            best = constrained_path(output, mask, parts.labels, parts.scheme)
        else:
            best = ops.argmax(output, axis=-1)
        p = output if probs else None
    if not probs:
        return best, None
    chosen = ops.squeeze(ops.take_along_axis(p, ops.expand_dims(best, -1), -1), -1)
    return best, chosen


def to_tags(ids, labels: Sequence[str], scheme: str, source_scheme: str) -> list[str]:
    """Tag ids of one sentence -> tag strings, written back in the files' scheme when the model
    trained in another (IOBES for IOB2 files, ...)."""
    tags = [labels[i] for i in ids.tolist()]
    if scheme != source_scheme:
        tags = convert(tags, source_scheme, source=scheme)
    return tags


def all_to_tags(ids, labels: Sequence[str], scheme: str, source_scheme: str
                ) -> list[list[str]]:
    """:func:`to_tags` of each sentence's ids, each distinct sequence converted once (a test
    file repeats its tag sequences: CoNLL-2003's 3,453 sentences have 1,469)."""
    done: dict = {}
    out = []
    for x in ids:
        key = x.tobytes()
        if key not in done:
            done[key] = to_tags(x, labels, scheme, source_scheme)
        out.append(list(done[key]))
    return out
