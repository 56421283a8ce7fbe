"""Layers that carry the vocabularies inside the saved model.

Each vocabulary lives with the weights it indexes: the word list with the embedding matrix whose
rows it names, the label list with the output projection whose columns it names. Keras writes the
word list into the `.keras` archive's assets (`save_assets` / `load_assets`, as `StringLookup`
does), so `model.keras` alone is enough to tag text.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np

# The version of what a saved model stores and how (the layers' configs and assets), written by
# `TagProjection.get_config` at save time and checked at load time (`seqlab.model.check_format`).
# Raise it when a change makes models that an older seqlab would misread. Models saved before it
# existed hold none: they are format 1. Format 2 adds the tag projection's ``temperature``
# (an older seqlab would refuse the unknown argument); a format-1 model has temperature 1.
FORMAT_VERSION = 2


@keras.saving.register_keras_serializable(package="seqlab")
class WordEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` (with `mask_zero=True`) that also stores its word list.

    Args:
        input_dim: vocabulary size, padding (0) and unknown (1) included.
        output_dim: embedding size.
        vocabulary: the tokens, row by row; saved as an asset, not in the config.
        lowercase, normalize_digits: how tokens were normalised before lookup.
        trainable_rows: when given, only the first ``trainable_rows`` rows train; the rest
            (words that only a vectors file brought, never seen in training) are a frozen
            table. Such rows never get a gradient, so this is the same model as one table,
            but an update costs ``trainable_rows`` rows instead of 400,000. The saved weights
            are one ``(input_dim, output_dim)`` matrix either way.
        **kwargs: passed to `keras.layers.Embedding`.
    """

    def __init__(self, input_dim, output_dim, vocabulary=None, lowercase=False,
                 normalize_digits=False, trainable_rows=None, **kwargs):
        kwargs.setdefault("mask_zero", True)
        super().__init__(input_dim, output_dim, **kwargs)
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.lowercase = lowercase
        self.normalize_digits = normalize_digits
        if trainable_rows is not None and not 2 <= trainable_rows <= input_dim:
            raise ValueError(f"WordEmbedding: trainable_rows must be 2 to input_dim "
                             f"({input_dim}); received {trainable_rows}.")
        self.trainable_rows = None if trainable_rows == input_dim else trainable_rows

    def get_config(self):
        config = super().get_config()
        config.update(lowercase=self.lowercase, normalize_digits=self.normalize_digits)
        if self.trainable_rows is not None:
            config.update(trainable_rows=self.trainable_rows)
        return config

    def build(self, input_shape=None):
        if self.trainable_rows is None or self.built:
            return super().build(input_shape)
        n = self.trainable_rows
        self._embeddings = self.add_weight(
            shape=(n, self.output_dim), initializer=self.embeddings_initializer,
            name="embeddings", regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)
        self.frozen_embeddings = self.add_weight(
            shape=(self.input_dim - n, self.output_dim), initializer=self.embeddings_initializer,
            name="frozen_embeddings", trainable=False)
        self.built = True

    def call(self, inputs):
        if self.trainable_rows is None:
            return super().call(inputs)
        from keras import ops

        ids = ops.cast(inputs, "int32")
        n = self.trainable_rows
        seen = ops.take(self._embeddings, ops.minimum(ids, n - 1), axis=0)
        added = ops.take(self.frozen_embeddings, ops.maximum(ids - n, 0), axis=0)
        rows = ops.where(ops.expand_dims(ids < n, -1), seen, added)
        return ops.cast(rows, self.compute_dtype)

    def matrix(self):
        """The whole table, (input_dim, output_dim), as a NumPy array."""
        if self.trainable_rows is None:
            return keras.ops.convert_to_numpy(self.embeddings)
        return np.concatenate([keras.ops.convert_to_numpy(self._embeddings),
                               keras.ops.convert_to_numpy(self.frozen_embeddings)])

    def set_matrix(self, matrix) -> None:
        """Set the whole table from an (input_dim, output_dim) array."""
        matrix = np.asarray(matrix)
        if self.trainable_rows is None:
            self.embeddings.assign(matrix)
            return
        self._embeddings.assign(matrix[: self.trainable_rows])
        self.frozen_embeddings.assign(matrix[self.trainable_rows :])

    def save_own_variables(self, store):
        if self.trainable_rows is None:
            return super().save_own_variables(store)
        store["0"] = self.matrix()

    def load_own_variables(self, store):
        if self.trainable_rows is None:
            return super().load_own_variables(store)
        self.set_matrix(store["0"])

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, "vocabulary.json"), "w", encoding="utf-8") as f:
            json.dump(self.vocabulary or [], f, ensure_ascii=False)

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, "vocabulary.json"), encoding="utf-8") as f:
            self.vocabulary = json.load(f)


@keras.saving.register_keras_serializable(package="seqlab")
class TagProjection(keras.layers.Dense):
    """`keras.layers.Dense` over the tag set that knows the tag names and their scheme.

    Args:
        labels: tag names, one per output unit.
        scheme: the tag scheme the model was trained in (iob1, iob2, iobes, bilou or plain).
        source_scheme: the scheme of the training files (predictions are written back in it).
        reading: how the training files were read (format, token and label column, CoNLL-U
            label field, encoding: :class:`seqlab.formats.Reading` as a dict), so prediction
            and evaluation read other files the same way by default.
        decoding: how softmax probabilities of chunk tags become tags: ``constrained`` (the
            best sequence the scheme allows) or ``argmax`` (see :mod:`seqlab.decoding`).
        format_version: the :data:`FORMAT_VERSION` of the file the layer was loaded from
            (None: one saved before versions, format 1); saving writes this seqlab's.
        temperature: what the scores divide the model's log potentials by
            (:mod:`seqlab.confidence`), fitted on the dev set at the end of training; 1 for a
            model saved before it existed. It changes the scores, never the tags.
        **kwargs: passed to `keras.layers.Dense` (`units` defaults to `len(labels)`).
    """

    def __init__(self, labels, scheme="plain", source_scheme=None, reading=None,
                 decoding="constrained", format_version=None, temperature=1.0, **kwargs):
        kwargs.setdefault("units", len(labels))
        super().__init__(**kwargs)
        # Anything but a list is kept as stored, for `seqlab.model.ModelParts` to refuse.
        self.labels = list(labels) if isinstance(labels, (list, tuple)) else labels
        self.scheme = scheme
        self.source_scheme = source_scheme or scheme
        self.reading = dict(reading) if reading else {}
        if decoding not in ("constrained", "argmax"):
            raise ValueError(f"TagProjection: decoding must be 'constrained' or 'argmax'; "
                             f"received {decoding!r}.")
        self.decoding = decoding
        self.format_version = format_version
        self.temperature = temperature  # kept as stored, for `seqlab.model` to check

    def call(self, inputs, training=None):
        if self.compute_dtype == "float32" or self.compute_dtype == "float64":
            return super().call(inputs, training=training)
        # In bfloat16 (or float16): the product in that dtype, the activation (softmax) in
        # float32, and float32 out (the CRF and the decoders read float32 scores).
        from keras import ops

        x = ops.matmul(ops.cast(inputs, self.compute_dtype), ops.cast(self.kernel,
                                                                      self.compute_dtype))
        if self.use_bias:
            x = ops.add(x, ops.cast(self.bias, self.compute_dtype))
        x = ops.cast(x, "float32")
        return self.activation(x) if self.activation is not None else x

    def get_config(self):
        config = super().get_config()
        config.update(labels=self.labels, scheme=self.scheme, source_scheme=self.source_scheme,
                      reading=self.reading, decoding=self.decoding,
                      format_version=FORMAT_VERSION, temperature=self.temperature)
        return config


@keras.saving.register_keras_serializable(package="seqlab")
class CharEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` over character ids that also stores its character list.

    Args:
        input_dim: number of characters, padding (0) and unknown (1) included.
        output_dim: character embedding size.
        vocabulary: the characters, row by row; saved as an asset.
        max_length: characters kept per word (longer words keep their first and last halves).
        **kwargs: passed to `keras.layers.Embedding`.
    """

    def __init__(self, input_dim, output_dim, vocabulary=None, max_length=20, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.max_length = max_length

    def get_config(self):
        config = super().get_config()
        config.update(max_length=self.max_length)
        return config

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, "chars.json"), "w", encoding="utf-8") as f:
            json.dump(self.vocabulary or [], f, ensure_ascii=False)

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, "chars.json"), encoding="utf-8") as f:
            self.vocabulary = json.load(f)
