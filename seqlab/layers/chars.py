"""Apply a word-level encoder to the characters of every token."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqlab")
class PerToken(keras.layers.Wrapper):
    """Run `layer` on each token's characters: (batch, time, chars, dim) -> (batch, time, out).

    Like `keras.layers.TimeDistributed`, but it folds time into the batch with one reshape,
    which keeps unknown sentence lengths working inside TensorFlow graphs. A character mask
    (from `Embedding(mask_zero=True)`) goes to the inner layer when that layer supports
    masking, and the output mask marks the tokens that have at least one character: exactly
    the real tokens, so padding stays masked when the result is concatenated with the word
    embeddings (`Concatenate` keeps a position if *any* input's mask keeps it).

    Args:
        layer: a layer from (n, chars, dim) to (n, out), e.g. a Conv1D + GlobalMaxPooling1D
            `Sequential`, or `Bidirectional(LSTM(units))`.
    """

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, input_shape[2], input_shape[3]))
        self.built = True

    def call(self, inputs, mask=None):
        shape = ops.shape(inputs)
        flat = ops.reshape(inputs, (-1, shape[2], inputs.shape[-1]))
        if mask is not None and self.layer.supports_masking:
            out = self.layer(flat, mask=ops.reshape(mask, (-1, shape[2])))
        else:
            out = self.layer(flat)
        return ops.reshape(out, (shape[0], shape[1], out.shape[-1]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, input_shape[2], input_shape[3]))
        return (input_shape[0], input_shape[1], inner[-1])

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.any(mask, axis=-1)


@keras.saving.register_keras_serializable(package="seqlab")
class CharCNN(keras.layers.Layer):
    """A char CNN per token: (batch, time, chars, dim) -> (batch, time, filters).

    The numbers of `PerToken(Sequential([Conv1D(filters, kernel_size, padding="same",
    activation=activation), GlobalMaxPooling1D()]))` with the same weights, computed with
    less work on TensorFlow. Behind a word of L characters every position holds the same
    vector (the embedding's row 0), so the convolution over its first min(chars, L +
    kernel_size) positions has the same set of windows as over all of them: the max over
    positions is the same, and so is the gradient (TensorFlow shares it equally among tied
    maxima, and tied padding windows have equal inputs). Tokens are grouped by that width
    into a few static widths, and each group runs the convolution over its width only;
    tokens without characters (padding) give zeros. The mask must mark a prefix of each
    token's characters, as `CharVocabulary.encode` writes them. Without a mask, with
    `dense=True` or on other backends the convolution runs over all positions. Dropout on
    the characters in training breaks the premise (padding positions then differ), and
    the results differ from the full computation's.

    Args:
        filters: number of convolution filters: the output size.
        kernel_size: width of the convolution window, in characters.
        activation: activation of the convolution.
        widths: the group widths, in characters, capped at the number of characters,
            which is always one. Default: `kernel_size` + 3, 6 and 10.
        bucket: in training, round each group's row count up to one of a few sizes
            (`_grouped_max`); False gives each group as many rows as it has tokens (as
            before issue 16). The same numbers either way; saved only when False.

    Call arguments:
        inputs: embedded characters, (batch, time, chars, dim).
        mask: (batch, time, chars), True at real characters.
        dense: run the convolution over all positions (the reference computation).

    Returns:
        (batch, time, filters); its mask marks the tokens with at least one character.
    """

    def __init__(self, filters, kernel_size, activation="tanh", widths=None, bucket=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.widths = tuple(widths) if widths is not None else None
        self.bucket = bool(bucket)
        self.conv = keras.layers.Conv1D(filters, kernel_size, padding="same",
                                        activation=self.activation, dtype=self.dtype_policy,
                                        name="conv")

    def build(self, input_shape):
        chars = input_shape[2]
        self.conv.build((None, chars, input_shape[3]))
        k = self.kernel_size
        widths = self.widths or (k + 3, k + 6, k + 10)
        self._group_widths = sorted({min(w, chars) for w in widths} | {chars})

    def call(self, inputs, mask=None, dense=False, training=None):
        shape = ops.shape(inputs)
        chars = inputs.shape[2]
        flat = ops.reshape(inputs, (-1, chars, inputs.shape[3]))
        if dense or mask is None or keras.backend.backend() != "tensorflow":
            out = ops.max(self.conv(flat), axis=1)
        else:
            lengths = ops.sum(ops.cast(ops.reshape(mask, (-1, chars)), "int32"), axis=1)
            out = _grouped_max(self.conv, flat, lengths, self._group_widths,
                               bool(training) and self.bucket)
        return ops.reshape(out, (shape[0], shape[1], self.filters))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.filters)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.any(mask, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      activation=keras.activations.serialize(self.activation),
                      widths=list(self.widths) if self.widths is not None else None)
        if not self.bucket:  # a choice of computation: saved only when made
            config["bucket"] = False
        return config


def _grouped_max(conv, flat, lengths, widths, bucket=False):
    """Max over positions of `conv` on (n, chars, dim) `flat`, each token cut to the first
    of `widths` that holds min(chars, length + kernel_size) positions: (n, filters), zeros
    where `lengths` is 0. TensorFlow only (dynamic group sizes). Empty groups are skipped:
    TensorFlow's oneDNN convolution returns its input unchanged for an empty batch.

    With `bucket` (in training), each group's row count is rounded up (`_bucket`) with
    copies of row 0 whose results are dropped: oneDNN caches a convolution per input shape,
    and the thousands of group sizes an epoch brings evicted each other, so that every step
    set its convolutions up anew (an epoch of the NER config 1.16 times faster with it,
    BENCHMARKS.md). In prediction, where a pass meets each shape about once, it only adds
    rows."""
    chars = flat.shape[1]
    need = ops.where(lengths > 0, ops.minimum(lengths + conv.kernel_size[0], chars), 0)
    out = ops.zeros((ops.shape(flat)[0], conv.filters), conv.compute_dtype)
    positions = ops.reshape(flat, (-1, flat.shape[2]))  # a row per (token, char)
    lower = 0
    for width in widths:
        index = ops.nonzero((need > lower) & (need <= width))[0]

        def scatter(out=out, index=index, width=width):
            n = ops.size(index)
            rows = ops.pad(index, [[0, _bucket(n) - n]]) if bucket else index
            # The first `width` chars of each token in one gather: slicing a gather of whole
            # tokens cost a pass over all `chars` positions in the gradient.
            group = ops.take(positions, rows[:, None] * chars + ops.arange(width)[None], axis=0)
            return ops.scatter_update(out, index[:, None], ops.max(conv(group), axis=1)[:n])

        out = ops.cond(ops.size(index) > 0, scatter, lambda out=out: out)
        lower = width
    return out


def _bucket(n):
    """``n`` (a scalar tensor, at least 1) rounded up to one of a few sizes: a multiple of
    16, or of an eighth of the power of two below it when that is more (fewer than 16 or
    an eighth more rows), so a training run meets a few hundred shapes, not thousands."""
    octave = ops.floor(ops.log2(ops.cast(n, "float32")))
    step = ops.cast(ops.maximum(16.0, 2.0 ** (octave - 3)), n.dtype)
    return (n + step - 1) // step * step
