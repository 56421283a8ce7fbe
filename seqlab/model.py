"""The tagger network: :func:`build_model` makes it from the config, :class:`ModelParts` is the
one place that knows its parts by name.

embedding → [char encoder] → [transformer features] → BiLSTM → SeqSelfAttention → tag
projection → [CRF]. A frozen transformer's features are an input, ``(batch, time, L, H)``,
computed outside the graph once a run (``seqlab.training.data``) or from raw words by the
Tagger; the ``TransformerWords`` layer they pass through carries the backbone and tokenizer
into model.keras.
"""

from __future__ import annotations

import math

import keras

from seqlab.config import AttentionConfig, CharsConfig, ModelConfig
from seqlab.errors import SeqlabError
from seqlab.layers.attention import SeqSelfAttention
from seqlab.layers.bilstm import FusedBidirectional
from seqlab.layers.chars import CharCNN, PerToken
from seqlab.layers.crf import CRF
from seqlab.layers.lookup import FORMAT_VERSION, CharEmbedding, TagProjection, WordEmbedding
from seqlab.layers.multihead import ConcatHeads, MultiHead, MultiHeadAttention
from seqlab.schemes import SCHEMES, expected_tags, tag_fits
from seqlab.vocab import PAD, UNK, CharVocabulary, LabelVocabulary, Vocabulary

# The names of the parts: nothing outside this module looks a layer up by name.
WORDS, CHARS = "words", "chars"                   # the inputs
WORD_EMBEDDING, CHAR_EMBEDDING = "word_embedding", "char_embedding"
CHAR_ENCODER = "char_encoder"
BILSTM = "bilstm"                                 # bilstm_1, bilstm_2...: the BiLSTM layers
TRANSFORMER = "transformer"                       # the input of frozen features
TRANSFORMER_WORDS, TRANSFORMER_MIX = "transformer_words", "transformer_mix"
# The inputs of a fine-tuned transformer (TransformerWords.encode's batch).
ENCODED = ("token_ids", "padding_mask", "subword_index", "subword_count")


def encoded_inputs() -> dict:
    """Keras inputs for a fine-tuned transformer's batch, by name."""
    inputs = {k: keras.Input((None, None), dtype="int32", name=k) for k in ENCODED[:3]}
    inputs[ENCODED[3]] = keras.Input((None,), dtype="int32", name=ENCODED[3])
    return inputs
ATTENTION, TAGS, CRF_LAYER = "attention", "tags", "crf"


def char_features(config: CharsConfig, chars: CharVocabulary):
    """The char encoder: (batch, time, max_length) char ids -> (batch, time, features)."""
    inputs = keras.Input(shape=(None, chars.max_length), dtype="int32", name=CHARS)
    x = CharEmbedding(len(chars), config.dim, vocabulary=chars.chars,
                      max_length=chars.max_length, mask_zero=True, name=CHAR_EMBEDDING)(inputs)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="char_dropout")(x)
    if config.encoder == "cnn":
        x = CharCNN(config.filters, config.kernel_size, name=CHAR_ENCODER)(x)
    else:
        lstm = keras.layers.Bidirectional(keras.layers.LSTM(config.units))
        x = PerToken(lstm, name=CHAR_ENCODER)(x)
    return inputs, x


def attention_block(att: AttentionConfig):
    """The attention layer of the config: SeqSelfAttention (``heads`` copies side by side in a
    MultiHead, stacked on a new last axis), or MultiHeadAttention for ``scaled_dot``; the local
    window and ``history_only`` apply to every head."""
    if att.type == "scaled_dot":
        return MultiHeadAttention(head_num=att.heads, history_only=att.history_only,
                                  attention_width=att.width, name=ATTENTION)
    head = SeqSelfAttention(
        units=att.units, attention_type=att.type, attention_width=att.width,
        history_only=att.history_only, attention_activation=att.activation,
        attention_regularizer_weight=att.regularizer_weight,
        use_additive_bias=att.use_additive_bias, use_attention_bias=att.use_attention_bias,
        name=ATTENTION if att.heads == 1 else "attention_head")
    if att.heads == 1:
        return head
    return MultiHead(head, layer_num=att.heads, name=ATTENTION)


def build_model(config: ModelConfig, vocab: Vocabulary, labels: LabelVocabulary,
                scheme: str = "plain", source_scheme: str | None = None,
                chars: CharVocabulary | None = None, reading: dict | None = None,
                trainable_words: int | None = None, transformer=None) -> keras.Model:
    """A functional Keras model from word ids (batch, time) to tag probabilities, or, with
    `output: crf`, to emission scores that the CRF layer decodes.

    Padding (id 0) is masked from the embedding onwards: the BiLSTM skips it, attention gives
    it no weight, and the loss and metrics ignore it. ``reading`` (how the training files
    were read) is stored with the tag set, for prediction and evaluation. With
    ``trainable_words``, only the vocabulary's first rows train (see `WordEmbedding`).
    With ``transformer`` (a ``TransformerWords`` named ``TRANSFORMER_WORDS``), frozen: an input
    "transformer" of its features (batch, time, L, H) joins, passes through the layer;
    fine-tuned (trainable): the ``ENCODED`` inputs join and the backbone runs on them; it is
    mixed over the L layers (``ScalarMix``; a learned scale when L = 1), or with
    ``transformer.combine: concat`` the layers put side by side (``ConcatLayers``), and
    concatenated with the word embedding and the char encoder (flair's stacked embeddings).
    """
    words = keras.Input(shape=(None,), dtype="int32", name=WORDS)
    x = WordEmbedding(len(vocab), config.embedding.dim, vocabulary=vocab.tokens,
                      lowercase=vocab.lowercase, normalize_digits=vocab.normalize_digits,
                      trainable_rows=trainable_words, trainable=config.embedding.trainable,
                      name=WORD_EMBEDDING)(words)
    if config.embedding.word_dropout:
        x = keras.layers.Dropout(config.embedding.word_dropout, noise_shape=(None, None, 1),
                                 name="word_dropout")(x)
    inputs = [words]
    if chars is not None and config.chars.encoder != "none":
        char_inputs, char_x = char_features(config.chars, chars)
        inputs.append(char_inputs)
        x = keras.layers.Concatenate(name="word_and_chars")([x, char_x])
    if transformer is not None:
        from seqlab.layers.transformer import combining_layer

        if transformer.name != TRANSFORMER_WORDS:
            raise ValueError(f"expected a TransformerWords named {TRANSFORMER_WORDS}")
        if transformer.trainable:  # fine-tuned: the backbone runs in the graph
            encoded = encoded_inputs()
            inputs.extend(encoded.values())
            t = transformer(encoded)
        else:
            features = keras.Input(
                shape=(None, transformer.num_outputs, transformer.hidden_dim),
                dtype="float32", name=TRANSFORMER)
            inputs.append(features)
            t = transformer(features)
        # Over several layers a learned mix (ELMo) or, with combine: concat, side by side;
        # over one layer a learned scale. The mask is kept.
        combine = getattr(config.transformer, "combine", "mix")
        t = combining_layer(combine, transformer.num_outputs, name=TRANSFORMER_MIX)(t)
        x = keras.layers.Concatenate(name="stacked_embeddings")([x, t])
    if config.embedding.dropout:
        x = keras.layers.Dropout(config.embedding.dropout, name="embedding_dropout")(x)
    for i in range(config.lstm.layers):
        lstm = keras.layers.LSTM(config.lstm.units, return_sequences=True,
                                 dropout=config.lstm.dropout,
                                 recurrent_dropout=config.lstm.recurrent_dropout)
        x = FusedBidirectional(lstm, name=f"{BILSTM}_{i + 1}")(x)
    att = config.attention
    if att.enabled:
        attended = attention_block(att)(x)
        if att.heads > 1 and att.type != "scaled_dot":
            attended = ConcatHeads(name="attention_heads")(attended)
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
                            reading=reading, decoding=config.decoding,
                            activation=None if crf else "softmax", dtype="float32",
                            name=TAGS)(x)
    if crf:  # the projection gives emission scores; the CRF scores tag transitions on top
        outputs = CRF(labels=labels.labels, scheme=scheme, name=CRF_LAYER)(outputs)
    if len(inputs) == 1:
        return keras.Model(words, outputs, name="seqlab_tagger")
    return keras.Model({i.name: i for i in inputs}, outputs, name="seqlab_tagger")


class ModelParts:
    """A view of a tagger model by its parts: what the rest of seqlab asks of a model.

    Attributes:
        model: the Keras model.
        word_embedding, char_embedding: the embedding layers (char_embedding None without a
            char encoder).
        char_encoder: the char encoder (a ``CharCNN``, or a ``PerToken`` BiLSTM), or None.
        bilstm: the BiLSTM layers (``FusedBidirectional``), first to last.
        attention: the attention layer, or None.
        tags: the tag projection (labels, schemes, reading settings).
        crf: the CRF output layer, or None for softmax output.
        vocab, chars: the word and char vocabularies (chars None without a char encoder).
        transformer: the ``TransformerWords`` layer (backbone, tokenizer, ``word_features``),
            or None; its features are the "transformer" input.
        labels: tag names in id order; scheme: the one the model was trained in;
        source_scheme: the training files' (tags are written back in it).
        decoding: ``constrained`` or ``argmax``, for softmax output (:mod:`seqlab.decoding`).
        reading: how the training files were read (a :class:`seqlab.formats.Reading`).

    Raises SeqlabError when the model is not a seqlab tagger.
    """

    def __init__(self, model, where: str = "model") -> None:
        layers = {layer.name: layer for layer in model.layers}
        if WORD_EMBEDDING not in layers or TAGS not in layers:
            raise SeqlabError(f"{where}: a Keras model, but not a seqlab tagger (no "
                              f"'{WORD_EMBEDDING}' and '{TAGS}' layers)")
        self.model = model
        self.word_embedding = layers[WORD_EMBEDDING]
        self.char_embedding = layers.get(CHAR_EMBEDDING)
        self.char_encoder = layers.get(CHAR_ENCODER)
        self.bilstm = [layers[f"{BILSTM}_{i}"] for i in range(1, len(layers) + 1)
                       if f"{BILSTM}_{i}" in layers]
        self.attention = layers.get(ATTENTION)
        self.tags = layers[TAGS]
        self.crf = layers.get(CRF_LAYER)
        self.transformer = layers.get(TRANSFORMER_WORDS)
        _check_stored(self, where)
        emb = self.word_embedding
        self.vocab = Vocabulary(emb.vocabulary, emb.lowercase, emb.normalize_digits)
        self.chars = None
        self.char_width = None  # the char encoder's features a token
        if self.char_embedding is not None:
            self.chars = CharVocabulary(self.char_embedding.vocabulary,
                                        self.char_embedding.max_length)
            self.char_width = self.char_encoder.output.shape[-1]
        self.labels: list[str] = list(self.tags.labels)
        self.scheme: str = self.tags.scheme
        self.source_scheme: str = self.tags.source_scheme
        self.decoding: str = getattr(self.tags, "decoding", "constrained")

    @property
    def temperature(self) -> float:
        """What the scores divide the log potentials by (:mod:`seqlab.confidence`)."""
        return float(getattr(self.tags, "temperature", 1.0))

    def set_temperature(self, temperature: float) -> None:
        """Store a fitted temperature in the model (saved with it in model.keras)."""
        self.tags.temperature = float(temperature)

    @property
    def reading(self):
        from seqlab.formats import Reading

        return Reading.from_dict(getattr(self.tags, "reading", None))

    @property
    def chunked(self) -> bool:
        """Whether the tags are chunk tags (scored and shown as spans)."""
        return self.source_scheme != "plain"

    @property
    def attention_heads(self) -> list:
        """The SeqSelfAttention layers: one, the copies inside a MultiHead, or none (no
        attention, or scaled-dot attention)."""
        if isinstance(self.attention, SeqSelfAttention):
            return [self.attention]
        if isinstance(self.attention, MultiHead):
            return [h for h in self.attention.layers if isinstance(h, SeqSelfAttention)]
        return []

    @property
    def global_attention(self) -> bool:
        """Whether the model attends over whole sentences (T**2 per sentence)."""
        if self.attention is None:
            return False
        heads = self.attention_heads or [self.attention]
        return any(getattr(h, "attention_width", None) is None for h in heads)

    @property
    def input_names(self) -> tuple[str, ...]:
        names = (WORDS, CHARS) if self.chars is not None else (WORDS,)
        if self.transformer is None:
            return names
        return names + (ENCODED if self.fine_tuned else (TRANSFORMER,))

    @property
    def fine_tuned(self) -> bool:
        """Whether the transformer runs in the graph (on ``ENCODED`` inputs)."""
        return self.transformer is not None and self.transformer.trainable

    def set_word_vectors(self, matrix) -> None:
        """Start the word embedding from a matrix of pretrained vectors (vocabulary order)."""
        self.word_embedding.set_matrix(matrix)

    def char_model(self):
        """A model from char ids (batch, time, max_length) to the char encoder's features."""
        return keras.Model(self.model.get_layer(CHARS).output,
                           self.model.get_layer(CHAR_ENCODER).output)

    @property
    def mixes_outside(self) -> bool:
        """Whether prediction mixes a frozen transformer's layers before the network
        (:meth:`inference_model`): the features it carries are then one vector a word."""
        return self.transformer is not None and not self.fine_tuned

    def transformer_mix(self):
        """The layer that combines the transformer's layers, ``ScalarMix`` or
        ``ConcatLayers`` (None without a transformer)."""
        return self.model.get_layer(TRANSFORMER_MIX) if self.transformer is not None else None

    @property
    def mixed_width(self) -> int:
        """The size of a word's transformer vector once its layers are combined
        (:meth:`transformer_mix`): the hidden size, or layers x hidden for ``concat``."""
        return self.transformer_mix().output_width(self.transformer.hidden_dim)

    def inference_model(self):
        """The network fed what prediction computes outside it: a model of the same layers
        (the same weights) whose "chars" input, when it reads characters, is the char
        encoder's features (batch, time, features) (:meth:`char_model`), and whose
        "transformer" input, when frozen, is the layers already combined (batch, time, 1,
        :attr:`mixed_width`) (``ScalarMix.combine``): the layers that made those are replaced
        by identities. Padding stays masked by the words (id 0). With them it computes what
        the whole model does."""
        inputs = {WORDS: keras.Input((None,), dtype="int32", name=WORDS)}
        skipped = set()
        if self.chars is not None:
            inputs[CHARS] = keras.Input((None, self.char_width), dtype="float32", name=CHARS)
            skipped |= {CHAR_EMBEDDING, CHAR_ENCODER}
        if self.fine_tuned:
            inputs.update(encoded_inputs())
        elif self.transformer is not None:
            inputs[TRANSFORMER] = keras.Input((None, 1, self.mixed_width),
                                              dtype="float32", name=TRANSFORMER)
            skipped.add(TRANSFORMER_WORDS)

        def clone(layer):
            if layer.name in skipped:
                return _Skipped(name=f"{layer.name}_skipped")
            if layer.name == TRANSFORMER_MIX and self.mixes_outside:
                return _Mixed(name=f"{layer.name}_done")
            return layer

        # Cloned from an uncompiled view of the same graph: cloning a compiled model also
        # rebuilds its compile settings (a training loss that is not serializable).
        view = keras.Model(self.model.input, self.model.output)
        return keras.models.clone_model(view, input_tensors=inputs, clone_function=clone)

    def features_model(self):
        """A model from the inputs to the attention layer's input (for looking at attention)."""
        return keras.Model(self.model.input, self.attention.input)


def check_format(version, where: str) -> None:
    """SeqlabError unless ``version`` (a model's stored format; 1 for one saved before
    versions) is one this seqlab reads."""
    if isinstance(version, bool) or not isinstance(version, int) \
            or not 1 <= version <= FORMAT_VERSION:
        raise SeqlabError(f"{where}: written by an incompatible seqlab (format {version}, this "
                          f"seqlab reads {FORMAT_VERSION})")


def stored_format(config: dict):
    """The format version in a saved model's Keras config (``config.json`` of the archive,
    the functional model's layers): its tag projection's ``format_version``, 1 when none.
    KeyError or StopIteration when the config is not a seqlab tagger's."""
    layer = next(layer["config"] for layer in config["config"]["layers"]
                 if layer["config"]["name"] == TAGS)
    return layer.get("format_version", 1)


def _json_kind(value) -> str:
    for kind, name in ((dict, "an object"), (str, "a string"), (bool, "a boolean"),
                       ((int, float), "a number"), (type(None), "null")):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def _check_entries(values, what: str, where: str) -> None:
    """A stored vocabulary or tag set: a list of distinct strings."""
    if not isinstance(values, list):
        raise SeqlabError(f"{where}: the {what} is {_json_kind(values)}, expected a list of "
                          "strings")
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise SeqlabError(f"{where}: entry {i} of the {what} is {value!r}, expected a "
                              "string")
        if value in first:
            raise SeqlabError(f"{where}: the {what} lists {value!r} twice (entries {first[value]} "
                              f"and {i})")
        first[value] = i


def _check_table(values, what: str, layer, where: str) -> None:
    """A vocabulary stored with an embedding: padding and unknown first, a row each."""
    _check_entries(values, what, where)
    if values[:2] != [PAD, UNK]:
        raise SeqlabError(f"{where}: the {what} starts with {values[:2]!r}, expected "
                          f"{[PAD, UNK]!r} (rows 0 and 1 of '{layer.name}')")
    if len(values) != layer.input_dim:
        raise SeqlabError(f"{where}: the {what} holds {len(values)} entries but '{layer.name}' "
                          f"has {layer.input_dim} rows (a damaged or edited model?)")


def _check_stored(parts: ModelParts, where: str) -> None:
    """SeqlabError naming ``where`` when what a model stores (format, vocabularies, tags,
    schemes) does not fit its layers: a damaged or hand-edited model.keras."""
    tags, crf = parts.tags, parts.crf
    version = getattr(tags, "format_version", None)
    check_format(1 if version is None else version, where)
    _check_table(parts.word_embedding.vocabulary, "word vocabulary", parts.word_embedding, where)
    if parts.char_embedding is not None:
        _check_table(parts.char_embedding.vocabulary, "char vocabulary", parts.char_embedding,
                     where)
    labels = tags.labels
    _check_entries(labels, "tag set", where)
    if len(labels) != tags.units:
        raise SeqlabError(f"{where}: the model stores {len(labels)} tags but its output layer "
                          f"'{tags.name}' has {tags.units} output units")
    for what, scheme in (("model's", tags.scheme), ("training files'", tags.source_scheme)):
        if scheme not in SCHEMES:
            raise SeqlabError(f"{where}: the {what} tag scheme {scheme!r} is unknown; expected "
                              f"one of {', '.join(SCHEMES)}")
    for label in labels:
        if not tag_fits(label, tags.scheme):
            raise SeqlabError(f"{where}: the tag {label!r} does not fit the model's scheme "
                              f"{tags.scheme}; expected {expected_tags(tags.scheme)}")
    t = getattr(tags, "temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t <= 0:
        raise SeqlabError(f"{where}: the stored temperature {t!r} is not a positive number "
                          "(a damaged or edited model?)")
    if crf is not None and crf.labels is not None and crf.labels != labels:
        raise SeqlabError(f"{where}: the CRF's tags ({', '.join(crf.labels)}) differ from the "
                          f"output layer's ({', '.join(labels)})")


class _Skipped(keras.layers.Layer):
    """A layer of the whole model that `ModelParts.inference_model` skips: its input
    passes through, unmasked (the words' mask keeps padding out)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None, training=None):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return None


class _Mixed(_Skipped):
    """The combining layer in `ModelParts.inference_model`: its input, (batch, time, 1,
    width), was combined before the network; it drops the layer axis and masks padding as the
    `TransformerWords` layer does (`seqlab.layers.transformer.feature_mask`)."""

    def call(self, inputs, mask=None, training=None):
        return inputs[..., 0, :]

    def compute_mask(self, inputs, mask=None):
        from seqlab.layers.transformer import feature_mask

        return feature_mask(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-2]) + (input_shape[-1],)
