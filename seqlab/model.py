"""Build the tagger network from the config: embedding → BiLSTM → SeqSelfAttention → tags."""

from __future__ import annotations

import keras

from seqlab.config import ModelConfig
from seqlab.layers.attention import SeqSelfAttention
from seqlab.layers.lookup import TagProjection, WordEmbedding
from seqlab.vocab import LabelVocabulary, Vocabulary


def build_model(config: ModelConfig, vocab: Vocabulary, labels: LabelVocabulary,
                scheme: str = "plain", source_scheme: str | None = None) -> keras.Model:
    """A functional Keras model from word ids (batch, time) to tag probabilities.

    Padding (id 0) is masked from the embedding onwards: the BiLSTM skips it, attention gives
    it no weight, and the loss and metrics ignore it.
    """
    words = keras.Input(shape=(None,), dtype="int32", name="words")
    x = WordEmbedding(len(vocab), config.embedding.dim, vocabulary=vocab.tokens,
                      lowercase=vocab.lowercase, normalize_digits=vocab.normalize_digits,
                      trainable=config.embedding.trainable, name="word_embedding")(words)
    if config.embedding.dropout:
        x = keras.layers.Dropout(config.embedding.dropout, name="embedding_dropout")(x)
    for i in range(config.lstm.layers):
        lstm = keras.layers.LSTM(config.lstm.units, return_sequences=True,
                                 dropout=config.lstm.dropout,
                                 recurrent_dropout=config.lstm.recurrent_dropout)
        x = keras.layers.Bidirectional(lstm, name=f"bilstm_{i + 1}")(x)
    att = config.attention
    if att.enabled:
        attended = SeqSelfAttention(
            units=att.units, attention_type=att.type, attention_width=att.width,
            history_only=att.history_only, attention_activation=att.activation,
            attention_regularizer_weight=att.regularizer_weight,
            use_additive_bias=att.use_additive_bias, use_attention_bias=att.use_attention_bias,
            name="attention")(x)
        if att.residual == "concat":
            x = keras.layers.Concatenate(name="residual")([x, attended])
        elif att.residual == "add":
            x = keras.layers.Add(name="residual")([x, attended])
        else:
            x = attended
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="output_dropout")(x)
    outputs = TagProjection(labels.labels, scheme=scheme, source_scheme=source_scheme,
                            activation="softmax", name="tags")(x)
    return keras.Model(words, outputs, name="seqlab_tagger")


def model_vocabularies(model: keras.Model) -> tuple[Vocabulary, TagProjection]:
    """The word vocabulary and the tag layer of a built or loaded seqlab model."""
    embedding = model.get_layer("word_embedding")
    vocab = Vocabulary(embedding.vocabulary, embedding.lowercase, embedding.normalize_digits)
    return vocab, model.get_layer("tags")
