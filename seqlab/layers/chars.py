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
