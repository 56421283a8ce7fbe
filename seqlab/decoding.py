"""From the network's output to tags: the best tag ids and their probabilities (argmax of a
softmax, or the CRF's Viterbi path and marginals), and tag ids to tag strings in the training
files' scheme. The first part is written with ``keras.ops`` only, so the tagger and the
SavedModel export decode with the same code."""

from __future__ import annotations

from collections.abc import Sequence

from seqlab.schemes import convert


def best_tags(parts, output, mask, probs: bool = False):
    """``(best ids (batch, time), probability of each chosen tag or None)`` from the model's
    output: argmax for softmax models; Viterbi and forward-backward marginals for CRF models
    (constrained by the tag scheme's allowed transitions)."""
    from keras import ops

    crf = parts.crf
    if crf is not None:
        best = crf.decode(output, mask)
        p = crf.marginals(output, mask) if probs else None
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
