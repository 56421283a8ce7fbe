"""Export a trained tagger as a TensorFlow SavedModel that needs nothing of seqlab.

The SavedModel does the whole path inside TensorFlow: string tokens → normalised as the word
vocabulary was built (lower-casing, digits → 0) → word ids (unknown → 1) → character ids when
the model reads characters (words longer than the char encoder's length keep their first and
last halves, as :class:`seqlab.vocab.CharVocabulary` cuts them) → the network → argmax, or the
CRF's Viterbi path → tag strings, written back in the training files' scheme when the model
trained in another (IOBES for IOB2 files, ...).

What the SavedModel offers (``loaded = tf.saved_model.load(DIR)``):

* signature ``serving_default`` (TensorFlow Serving, ``loaded.signatures["serving_default"]``):
  inputs ``tokens`` (batch, time) ``tf.string`` padded with anything, and ``lengths`` (batch,)
  ``tf.int32``; outputs ``tags`` (batch, time) ``tf.string`` (``""`` at padding) and
  ``lengths``;
* ``loaded.tag(tokens)``: a ``tf.RaggedTensor`` of string tokens (batch, None) in, a ragged
  tensor of tags out;
* ``loaded.labels``: the tag set, ``loaded.scheme``: the scheme of the tags given out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from seqlab.errors import SeqlabError

FORMATS = ("saved_model",)
_ROLE_CODES = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}


def _label_parts(labels: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per label: its role code (O=0, B=1, I=2, E=3, S=4; BILOU's L=E and U=S, by
    :func:`seqlab.schemes.chunk_role`) and type id (-1 for O), and the types."""
    from seqlab.schemes import chunk_role, parse_tag

    types: list[str] = []
    prefixes, kinds = [], []
    for label in labels:
        if parse_tag(label)[0] == "":
            raise SeqlabError(f"label {label!r} is not a chunk tag (O, or B-/I-/E-/S-/L-/U- and "
                              "a type): cannot convert between tag schemes")
        role, kind = chunk_role(label)
        if kind and kind not in types:
            types.append(kind)
        prefixes.append(_ROLE_CODES[role])
        kinds.append(types.index(kind) if kind else -1)
    return np.array(prefixes, np.int32), np.array(kinds, np.int32), types


def convert_ids(ids, lengths, labels: list[str], target: str):
    """Tag ids (batch, time) of chunk tags → tag strings in scheme `target`, with TF ops only.

    The TensorFlow twin of :func:`seqlab.schemes.convert`: chunks are read by the conlleval
    rules (an ``I-X`` after ``O`` starts a chunk, ``E-``/``S-`` close one) and written out in
    the target scheme. Positions at or beyond each row's length give ``""``.
    """
    import tensorflow as tf

    from seqlab.schemes import normalize_scheme

    target = normalize_scheme(target)
    if target == "plain":
        raise SeqlabError("chunk tags cannot be converted to plain labels")
    prefix_of, kind_of, types = _label_parts(labels)
    ids = tf.cast(ids, tf.int32)
    valid = tf.sequence_mask(lengths, tf.shape(ids)[1])
    p = tf.where(valid, tf.gather(tf.constant(prefix_of), ids), 0)
    k = tf.where(valid, tf.gather(tf.constant(kind_of), ids), -1)

    def shift(x, fill, right):
        pad = tf.fill([tf.shape(x)[0], 1], tf.constant(fill, x.dtype))
        return tf.concat([pad, x[:, :-1]], 1) if right else tf.concat([x[:, 1:], pad], 1)

    O, B, I, E, S = range(5)  # noqa: E741 (the tag letters)
    prev_p, prev_k = shift(p, O, True), shift(k, -1, True)
    next_p, next_k = shift(p, O, False), shift(k, -1, False)

    def isin(x, *codes):
        return tf.reduce_any(tf.stack([tf.equal(x, c) for c in codes]), 0)

    inside = tf.not_equal(p, O)
    # seqlab.schemes._chunk_start(prev, cur) and _chunk_end(cur, next), vectorised.
    start = isin(p, B, S) | (isin(p, I, E) & isin(prev_p, O, E, S)) | \
        (inside & tf.not_equal(prev_k, k))
    ends = inside & ((isin(p, B, I) & isin(next_p, B, S, O)) | isin(p, E, S) |
                     tf.not_equal(k, next_k))
    if target == "iob1":
        letter = tf.where(start & tf.not_equal(prev_p, O) & tf.equal(prev_k, k), "B", "I")
    elif target == "iob2":
        letter = tf.where(start, "B", "I")
    else:
        single, begin, last = ("U", "B", "L") if target == "bilou" else ("S", "B", "E")
        letter = tf.where(start, tf.where(ends, single, begin), tf.where(ends, last, "I"))
    names = tf.constant(types or [""])
    chunk_tag = tf.strings.join([letter, tf.gather(names, tf.maximum(k, 0))], separator="-")
    return tf.where(valid, tf.where(inside, chunk_tag, "O"), "")


def _serving_module(tagger):
    """A `tf.Module` holding the model's variables, the lookup tables and the tag functions;
    the network and its decoding are the tagger's own forward step."""
    import tensorflow as tf

    parts, model = tagger.parts, tagger.model
    vocabulary = list(parts.vocab.tokens)
    lowercase, digits = bool(parts.vocab.lowercase), bool(parts.vocab.normalize_digits)
    char_layer = parts.char_embedding
    tags = parts.tags
    labels = list(parts.labels)
    forward = tagger.forward_step(probs=False)
    convert = parts.scheme != parts.source_scheme
    if convert:
        _label_parts(labels)  # fail now, not while tracing

    def table(keys, default):
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int32)),
            default_value=default)

    module = tf.Module(name="seqlab_tagger")
    module.model_variables = list(model.variables)  # what the traced graph reads
    module.word_table = table(vocabulary, 1)
    module.char_table = table(list(parts.chars.chars), 1) if char_layer is not None else None
    module.label_names = tf.constant(labels)
    module.labels = tf.Variable(labels, trainable=False, name="labels")
    module.scheme = tf.Variable(tags.source_scheme, trainable=False, name="scheme")
    width = int(parts.chars.max_length) if char_layer is not None else 0

    def char_ids(flat):
        """(tokens,) strings → (tokens, width) char ids, as CharVocabulary.encode."""
        chars = tf.strings.unicode_split(flat, "UTF-8")
        n = chars.row_lengths()[:, None]
        dense = tf.concat([chars.to_tensor(""), tf.fill([tf.shape(flat)[0], 1], "")], 1)
        j = tf.range(width, dtype=n.dtype)[None]
        head = (width + 1) // 2
        source = tf.where((n > width) & (j >= head), n - width + j, j)
        valid = j < tf.minimum(n, width)
        picked = tf.gather(dense, tf.where(valid, source, 0), batch_dims=1)
        return tf.where(valid, module.char_table.lookup(picked), 0)

    def tag_ragged(tokens):
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        flat = tokens.flat_values
        normal = flat
        if lowercase:
            normal = tf.strings.lower(normal, encoding="utf-8")
        if digits:
            normal = tf.strings.regex_replace(normal, r"\p{Nd}", "0")
        rows = tf.shape(lengths)[0]
        time = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)  # never 0 wide
        words = tokens.with_flat_values(module.word_table.lookup(normal)).to_tensor(
            0, shape=tf.stack([rows, time]))
        inputs = words
        if char_layer is not None:
            chars = tokens.with_flat_values(char_ids(flat)).to_tensor(
                0, shape=tf.stack([rows, time, width]))
            inputs = {"words": words, "chars": chars}
        best, _ = forward(inputs)
        best = tf.cast(best, tf.int32)
        if convert:
            strings = convert_ids(best, lengths, labels, tags.source_scheme)
        else:
            strings = tf.gather(module.label_names, best)
        return tf.RaggedTensor.from_tensor(strings, lengths=lengths)

    module.tag = tf.function(tag_ragged, input_signature=[
        tf.RaggedTensorSpec([None, None], tf.string, ragged_rank=1)])

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens"),
                                  tf.TensorSpec([None], tf.int32, name="lengths")])
    def serve(tokens, lengths):
        ragged = tf.RaggedTensor.from_tensor(tokens, lengths=lengths)
        out = tag_ragged(ragged).to_tensor("", shape=tf.shape(tokens))
        return {"tags": out, "lengths": lengths}

    module.serve = serve
    return module


def export_saved_model(model_path: str | Path, out: str | Path, force: bool = False) -> dict:
    """Write `model_path` (a model.keras) as a SavedModel directory `out`; return a summary.

    An existing `out` is replaced only with `force`, and only when it is a SavedModel (never a
    directory of other files). The SavedModel is written to a temporary folder first.
    """
    import keras

    from seqlab.tagger import Tagger

    if keras.backend.backend() != "tensorflow":
        raise SeqlabError(f"export to a SavedModel needs the TensorFlow backend (KERAS_BACKEND="
                          f"{keras.backend.backend()})")
    out = Path(out)
    if out.exists():
        if not force:
            raise SeqlabError(f"{out}: already exists", argument="force")
        if not out.is_dir() or not (out / "saved_model.pb").is_file():
            raise SeqlabError(f"{out}: only a SavedModel directory (with a saved_model.pb) is "
                              "replaced, and this is not one")
    tagger = Tagger.load(model_path)
    if tagger.parts.transformer is not None:
        raise SeqlabError(f"{model_path}: a model with transformer features (model.transformer) "
                          "cannot be exported to a SavedModel yet: its WordPiece tokenization "
                          "and subword pooling run outside the graph; serve it with seqlab "
                          "predict")
    import tensorflow as tf

    module = _serving_module(tagger)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tf.saved_model.save(module, str(tmp),
                            signatures={"serving_default": module.serve.get_concrete_function()})
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    parts = tagger.parts
    return {"path": str(out), "labels": list(parts.labels), "scheme": parts.source_scheme,
            "trained_scheme": parts.scheme, "crf": parts.crf is not None,
            "chars": parts.chars is not None}
