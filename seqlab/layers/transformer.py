"""Keras layers for transformer word features: ``ScalarMix``, ``ConcatLayers`` and
``TransformerWords``.

``ScalarMix`` mixes a word's hidden states from several layers into one vector (ELMo's scalar
mix, as AllenNLP and flair have it); ``ConcatLayers`` puts them side by side.
``TransformerWords`` holds a keras-hub backbone and its WordPiece tokenizer, so a
``model.keras`` that contains it is self-contained: the backbone's weights and the
tokenizer's vocabulary are saved inside the archive, and ``keras.saving.load_model`` needs
neither the network nor the checkpoint directory.

They use :mod:`seqlab.transformer` for the work (windows, subword pooling, the frozen pass);
keras-hub is imported only when a ``TransformerWords`` is made or loaded, so importing this
module costs no more than Keras. How a model uses them::

    from seqlab.transformer import load_checkpoint
    checkpoint = load_checkpoint(path)                         # SeqlabError on bad input
    words = TransformerWords(checkpoint.backbone, checkpoint.tokenizer,
                             layers="all", pooling="first", trainable=False)
    if not words.trainable:
        # frozen: features computed once a run (NumPy), padded per batch, fed as an input;
        # the layer passes them through, and carries the backbone into model.keras
        features = words.word_features(sentences)              # [(n_words, L, H)]
        x = words(keras.Input((None, words.num_outputs, words.hidden_dim)))
    else:
        # fine-tuned: the backbone in the graph, on words.encode(sentences)'s batch
        inputs = {k: keras.Input((None, None), dtype="int32", name=k)
                  for k in ("token_ids", "padding_mask", "subword_index")}
        inputs["subword_count"] = keras.Input((None,), dtype="int32", name="subword_count")
        x = words(inputs)                                      # (batch, words, L, H)
    mixed = ScalarMix(words.num_outputs)(x)                    # (batch, words, H)

At prediction the Tagger finds the ``TransformerWords`` layer in the loaded model and feeds
``word_features(sentences)`` (frozen) or ``encode(sentences)`` (fine-tuned) from raw words.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from seqlab.errors import SeqlabError
from seqlab.transformer import CONTEXT_KEY, POOLINGS, Encoder, freeze_pooler, mix_layers


def feature_mask(features):
    """The words of precomputed features ``(..., words, layers, hidden)`` that are not padding:
    padding words are all zeros (the frozen pass and the batches write them so), a real
    word never is."""
    return ops.any(ops.not_equal(features, 0), axis=(-2, -1))


@keras.saving.register_keras_serializable(package="seqlab")
class ScalarMix(keras.layers.Layer):
    """``gamma * sum_j softmax(w)_j * x[..., j, :]``: a learned mix of layers (ELMo).

    Args:
        num_layers: the size of axis -2 of the input.
        initial_scalar_parameters: the initial ``w`` (default zeros: an even mix).
        trainable_weights: as AllenNLP's ``trainable``: False keeps ``w`` fixed (gamma still
            learns).

    Call arguments:
        inputs: ``(..., num_layers, hidden)``.

    Returns:
        ``(..., hidden)``.
    """

    def __init__(self, num_layers: int, initial_scalar_parameters=None,
                 trainable_weights: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        if initial_scalar_parameters is not None:
            initial_scalar_parameters = [float(v) for v in initial_scalar_parameters]
            if len(initial_scalar_parameters) != self.num_layers:
                raise ValueError(
                    f"initial_scalar_parameters has {len(initial_scalar_parameters)} values, "
                    f"expected num_layers={self.num_layers}"
                )
        self.initial_scalar_parameters = initial_scalar_parameters
        self.trainable_weights_ = bool(trainable_weights)
        self.supports_masking = True

    def build(self, input_shape) -> None:
        if input_shape[-2] is not None and input_shape[-2] != self.num_layers:
            raise ValueError(
                f"ScalarMix expected {self.num_layers} layers on axis -2, got shape {input_shape}"
            )
        initial = self.initial_scalar_parameters
        self.scalar_weights = self.add_weight(
            name="scalar_weights", shape=(self.num_layers,),
            initializer=(keras.initializers.Constant(initial) if initial is not None
                         else "zeros"),
            # over one layer the weight has no effect: kept (one form), never trained
            trainable=self.trainable_weights_ and self.num_layers > 1,
        )
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="ones")
        self.built = True

    def call(self, inputs):
        # Layer by layer in order, as seqlab.transformer.mix_layers does in NumPy with
        # `coefficients()`: prediction mixes before the network and gets the same bits.
        c = ops.cast(self._coefficients(), inputs.dtype)
        mixed = inputs[..., 0, :] * c[0]
        for j in range(1, self.num_layers):
            mixed = mixed + inputs[..., j, :] * c[j]
        return mixed

    def _coefficients(self):
        if self.num_layers == 1:  # softmax over one weight is 1 (and Keras warns of it)
            return ops.reshape(self.gamma, (1,))
        return ops.softmax(self.scalar_weights) * self.gamma

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-2]) + (input_shape[-1],)

    def compute_mask(self, inputs, mask=None):
        return mask

    def coefficients(self) -> np.ndarray:
        """What :meth:`call` multiplies each layer by, now: ``gamma * softmax(w)``, float32
        ``(num_layers,)`` (``seqlab.transformer.mix_layers`` mixes with them in NumPy)."""
        return np.asarray(ops.convert_to_numpy(self._coefficients()), np.float32)

    def combine(self):
        """This layer in NumPy, now: ``(..., L, H)`` to ``(..., 1, H)`` (see
        :class:`ConcatLayers`), the same bits as :meth:`call`."""
        coefficients = self.coefficients()
        return lambda features: mix_layers(features, coefficients)

    def output_width(self, hidden: int) -> int:
        return hidden

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "initial_scalar_parameters": self.initial_scalar_parameters,
            "trainable_weights": self.trainable_weights_,
        }


@keras.saving.register_keras_serializable(package="seqlab")
class ConcatLayers(keras.layers.Layer):
    """A word's hidden states of several layers side by side: ``(..., L, H)`` to
    ``(..., L * H)`` (``model.transformer.combine: concat``; BERT's feature-based NER
    concatenated the last four layers, flair's ``layer_mean=False``). No weights.

    Like :class:`ScalarMix`, :meth:`combine` is the same function in NumPy, as ``(..., 1,
    L * H)``: prediction combines the frozen pass's layers before the network."""

    def __init__(self, num_layers: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.supports_masking = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (*shape[:-2], self.num_layers * shape[-1]))

    def compute_output_shape(self, input_shape):
        hidden = input_shape[-1]
        return tuple(input_shape[:-2]) + (None if hidden is None else self.num_layers * hidden,)

    def compute_mask(self, inputs, mask=None):
        return mask

    def combine(self):
        """:meth:`call` in NumPy: ``(..., L, H)`` to ``(..., 1, L * H)``."""
        return lambda features: np.ascontiguousarray(features, np.float32).reshape(
            *features.shape[:-2], 1, features.shape[-2] * features.shape[-1])

    def output_width(self, hidden: int) -> int:
        return self.num_layers * hidden

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers}


def combining_layer(combine: str, num_layers: int, name: str):
    """The layer that makes one vector a word of a transformer's ``num_layers`` hidden states
    (``model.transformer.combine``): a learned :class:`ScalarMix` (``mix``; over one layer a
    learned scale) or :class:`ConcatLayers` (``concat``)."""
    if combine == "concat":
        return ConcatLayers(num_layers, name=name)
    if combine == "mix":
        return ScalarMix(num_layers, name=name)
    raise ValueError(f"combine must be mix or concat, got {combine!r}")


@keras.saving.register_keras_serializable(package="seqlab")
class TransformerWords(keras.layers.Layer):
    """Word features from a pretrained encoder: pooled subword states of selected layers.

    Args:
        backbone: a keras-hub encoder backbone (``seqlab.transformer.load_checkpoint``).
        tokenizer: its keras-hub WordPiece tokenizer.
        layers: ``"last"``, ``"all"`` or a list of hidden-state indices (0: embeddings,
            -1: the last block); see ``seqlab.transformer.resolve_layers``.
        pooling: ``"first"``, ``"last"`` or ``"mean"`` of a word's subword vectors.
        max_length: subwords per window, ``[CLS]``/``[SEP]`` included (default: the
            backbone's ``max_sequence_length``).
        context: subwords of document context on each side of a sentence (FLERT; frozen only:
            ``word_features(sentences, documents=...)`` reads each sentence with its
            neighbours in the same document, ``seqlab.transformer.plan_contexts``); 0: none.
        trainable: False (frozen) keeps the backbone's weights fixed in training.

    Call arguments:
        inputs: either the dict of ``encode(sentences)``: ``token_ids``, ``padding_mask``
            (int ``(batch, windows, length)``), ``subword_index`` (int ``(batch, words, k)``),
            ``subword_count`` (int ``(batch, words)``), run through the backbone in the graph
            (fine-tuning); or the features of ``word_features(sentences)`` padded to
            ``(batch, words, num_outputs, hidden_dim)``, passed through unchanged (frozen:
            the layer still sits in the graph, so the saved model carries the backbone and
            the vocabulary, and prediction computes its input with ``word_features``).
        training: passed to the backbone when fine-tuning (dropout); frozen, never.

    Returns:
        ``(batch, words, num_outputs, hidden_dim)``, zeros for padding words; its mask is
        ``subword_count > 0`` (for precomputed features: the mask that came with them, else
        :func:`feature_mask`: a Keras input carries none, and the stacking ``Concatenate``
        ORs masks, so an unmasked branch unmasked the padding of every layer after it).
    """

    def __init__(self, backbone, tokenizer, layers="last", pooling: str = "first",
                 max_length: int | None = None, context: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.layers_spec = list(layers) if isinstance(layers, (list, tuple)) else layers
        self.pooling = pooling
        self.max_length = max_length
        # A plain object, so Keras' saving does not walk it (the backbone is saved once).
        self.encoder = Encoder(backbone, tokenizer, layers=self.layers_spec, pooling=pooling,
                               max_length=max_length, context=context)
        self.context = self.encoder.context
        if self.context and self.trainable:
            raise SeqlabError(f"{CONTEXT_KEY}: document context is read by the frozen pass "
                              f"only: expected 0 with model.transformer.trainable: true, "
                              f"got {self.context}")
        self.num_outputs = self.encoder.num_outputs
        self.hidden_dim = self.encoder.hidden_dim
        # Keras passes ``trainable`` to sub-layers only when it is set (and skips setting an
        # attribute to the value it has): give the backbone this layer's now.
        backbone.trainable = self.trainable
        if self.trainable:
            freeze_pooler(backbone)

    def build(self, input_shape=None) -> None:
        self.encoder.hidden_model()  # made outside any traced function
        self.built = True

    def encode(self, sentences):
        """The NumPy input batch for :meth:`call` (``Encoder.encode``)."""
        return self.encoder.encode(sentences)

    def contexts(self, sentences, documents=None):
        """Each sentence's document context (``Encoder.contexts``): what its frozen features
        depend on besides its words."""
        return self.encoder.contexts(sentences, documents)

    def word_features(self, sentences, batch_size: int = 32, dtype="float32", progress=None,
                      contexts=None, flat=False, combine=None):
        """The frozen pass (``Encoder.word_features``): per sentence
        ``(n_words, num_outputs, hidden_dim)``, in order (``flat``: all words in one array;
        ``combine``: the model's combining layer in NumPy, ``ScalarMix.combine()``, applied
        to each batch, ``(n_words, 1, width)``); ``contexts``: :meth:`contexts`."""
        return self.encoder.word_features(sentences, batch_size=batch_size, dtype=dtype,
                                          progress=progress, contexts=contexts, flat=flat,
                                          combine=combine)

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict):  # the frozen pass's features, computed outside
            return ops.cast(inputs, self.compute_dtype)
        # Frozen means the features of the frozen pass: no dropout in the backbone either.
        return self.encoder(inputs, training=training if self.trainable else False)

    def compute_mask(self, inputs, mask=None):
        if not isinstance(inputs, dict):
            return mask if mask is not None else feature_mask(inputs)
        return ops.greater(inputs["subword_count"], 0)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, dict):
            return tuple(input_shape)
        counts = input_shape["subword_count"]
        return (counts[0], counts[1], self.num_outputs, self.hidden_dim)

    def compute_output_spec(self, inputs, training=None):
        if not isinstance(inputs, dict):
            if tuple(inputs.shape[-2:]) != (self.num_outputs, self.hidden_dim):
                raise ValueError(
                    f"TransformerWords expected features (..., {self.num_outputs}, "
                    f"{self.hidden_dim}), got shape {inputs.shape}"
                )
            return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        counts = inputs["subword_count"]
        return keras.KerasTensor(
            (counts.shape[0], counts.shape[1], self.num_outputs, self.hidden_dim),
            dtype=self.compute_dtype,
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "layers": self.layers_spec,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "context": self.context,
        }

    @classmethod
    def from_config(cls, config):
        from seqlab.transformer import _keras_hub

        _keras_hub()  # registers keras-hub's classes, or says to install seqlab[pretrained]
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


__all__ = ["POOLINGS", "ScalarMix", "TransformerWords", "feature_mask"]
