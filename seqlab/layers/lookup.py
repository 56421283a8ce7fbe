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


@keras.saving.register_keras_serializable(package="seqlab")
class WordEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` (with `mask_zero=True`) that also stores its word list.

    Args:
        input_dim: vocabulary size, padding (0) and unknown (1) included.
        output_dim: embedding size.
        vocabulary: the tokens, row by row; saved as an asset, not in the config.
        lowercase, normalize_digits: how tokens were normalised before lookup.
        **kwargs: passed to `keras.layers.Embedding`.
    """

    def __init__(self, input_dim, output_dim, vocabulary=None, lowercase=False,
                 normalize_digits=False, **kwargs):
        kwargs.setdefault("mask_zero", True)
        super().__init__(input_dim, output_dim, **kwargs)
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.lowercase = lowercase
        self.normalize_digits = normalize_digits

    def get_config(self):
        config = super().get_config()
        config.update(lowercase=self.lowercase, normalize_digits=self.normalize_digits)
        return config

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
        **kwargs: passed to `keras.layers.Dense` (`units` defaults to `len(labels)`).
    """

    def __init__(self, labels, scheme="plain", source_scheme=None, reading=None,
                 decoding="constrained", **kwargs):
        kwargs.setdefault("units", len(labels))
        super().__init__(**kwargs)
        self.labels = list(labels)
        self.scheme = scheme
        self.source_scheme = source_scheme or scheme
        self.reading = dict(reading) if reading else {}
        if decoding not in ("constrained", "argmax"):
            raise ValueError(f"TagProjection: decoding must be 'constrained' or 'argmax'; "
                             f"received {decoding!r}.")
        self.decoding = decoding

    def get_config(self):
        config = super().get_config()
        config.update(labels=self.labels, scheme=self.scheme, source_scheme=self.source_scheme,
                      reading=self.reading, decoding=self.decoding)
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
