"""Build the tagger network from the config: embedding → BiLSTM → SeqSelfAttention → tags."""

from __future__ import annotations

import keras

from seqlab.config import CharsConfig, ModelConfig
from seqlab.layers.attention import SeqSelfAttention
from seqlab.layers.chars import PerToken
from seqlab.layers.crf import CRF
from seqlab.layers.lookup import CharEmbedding, TagProjection, WordEmbedding
from seqlab.vocab import CharVocabulary, LabelVocabulary, Vocabulary


def char_features(config: CharsConfig, chars: CharVocabulary):
    """The char encoder: (batch, time, max_length) char ids -> (batch, time, features)."""
    inputs = keras.Input(shape=(None, chars.max_length), dtype="int32", name="chars")
    cnn = config.encoder == "cnn"
    x = CharEmbedding(len(chars), config.dim, vocabulary=chars.chars,
                      max_length=chars.max_length, mask_zero=True,
                      name="char_embedding")(inputs)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="char_dropout")(x)
    if cnn:
        conv = keras.Sequential([
            keras.layers.Conv1D(config.filters, config.kernel_size, padding="same",
                                activation="tanh"),
            keras.layers.GlobalMaxPooling1D(),
        ], name="char_cnn")
        x = PerToken(conv, name="char_encoder")(x)
    else:
        lstm = keras.layers.Bidirectional(keras.layers.LSTM(config.units))
        x = PerToken(lstm, name="char_encoder")(x)
    return inputs, x


def build_model(config: ModelConfig, vocab: Vocabulary, labels: LabelVocabulary,
                scheme: str = "plain", source_scheme: str | None = None,
                chars: CharVocabulary | None = None) -> keras.Model:
    """A functional Keras model from word ids (batch, time) to tag probabilities, or, with
    `output: crf`, to emission scores that the layer named "crf" decodes.

    Padding (id 0) is masked from the embedding onwards: the BiLSTM skips it, attention gives
    it no weight, and the loss and metrics ignore it.
    """
    words = keras.Input(shape=(None,), dtype="int32", name="words")
    x = WordEmbedding(len(vocab), config.embedding.dim, vocabulary=vocab.tokens,
                      lowercase=vocab.lowercase, normalize_digits=vocab.normalize_digits,
                      trainable=config.embedding.trainable, name="word_embedding")(words)
    if config.embedding.word_dropout:
        x = keras.layers.Dropout(config.embedding.word_dropout, noise_shape=(None, None, 1),
                                 name="word_dropout")(x)
    inputs = [words]
    if chars is not None and config.chars.encoder != "none":
        char_inputs, char_x = char_features(config.chars, chars)
        inputs.append(char_inputs)
        x = keras.layers.Concatenate(name="word_and_chars")([x, char_x])
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
    crf = config.output == "crf"
    outputs = TagProjection(labels.labels, scheme=scheme, source_scheme=source_scheme,
                            activation=None if crf else "softmax", dtype="float32",
                            name="tags")(x)
    if crf:  # the projection gives emission scores; the CRF scores tag transitions on top
        outputs = CRF(labels=labels.labels, scheme=scheme, name="crf")(outputs)
    if len(inputs) == 1:
        return keras.Model(words, outputs, name="seqlab_tagger")
    return keras.Model({i.name: i for i in inputs}, outputs, name="seqlab_tagger")
