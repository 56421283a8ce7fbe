"""A bidirectional LSTM that runs on TensorFlow's fused LSTM kernel."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqlab")
class FusedBidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional` that runs a pair of LSTMs with TensorFlow's fused kernel.

    Same constructor, weights, saved form and numbers as `Bidirectional`; only the way a
    bidirectional LSTM is computed differs. On TensorFlow, each direction is one
    ``BlockLSTM`` op (TensorFlow's fused CPU and GPU kernel, with its fused gradient)
    instead of a loop of a dozen small ops a time step, forward and again backward: the
    forward and backward passes of a BiLSTM-128 over a batch of 32 sentences of 14 tokens
    run 1.36 times faster on one CPU core (``BENCHMARKS.md``). The backward direction reads each sequence reversed
    within its own length (``tf.reverse_sequence``), so outputs at real positions are those
    of Keras' masked loop; padded positions give zeros.

    The fused path needs padding at the end of each sequence (the mask a prefix of ones
    per row, as seqlab's batches are), an LSTM pair with Keras' default activations, a
    bias, no dropout inside the LSTM, ``return_sequences=True``, ``merge_mode="concat"``,
    no initial state, float32 computation and the TensorFlow backend. Anything
    else runs `Bidirectional`'s own code.
    """

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if initial_state is None and self._fusable():
            return _fused_bilstm(sequences, mask, self.forward_layer.cell,
                                 self.backward_layer.cell)
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def _fusable(self) -> bool:
        if keras.backend.backend() != "tensorflow" or self.merge_mode != "concat":
            return False
        if not self.return_sequences or self.return_state or self.stateful:
            return False
        if self.compute_dtype != "float32":
            return False
        for layer in (self.forward_layer, self.backward_layer):
            cell = getattr(layer, "cell", None)
            if not isinstance(layer, keras.layers.LSTM) or not cell.use_bias:
                return False
            if cell.dropout or cell.recurrent_dropout:
                return False
            if cell.activation is not keras.activations.tanh or \
                    cell.recurrent_activation is not keras.activations.sigmoid:
                return False
        return not self.forward_layer.go_backwards


def _fused_bilstm(sequences, mask, forward_cell, backward_cell):
    """Both directions with ``BlockLSTM``: (batch, time, dim) -> (batch, time, 2 * units).

    ``BlockLSTM`` takes the kernel and recurrent kernel stacked, gates in the order (i, c,
    f, o); ``forget_bias=0`` and ``cell_clip=-1`` make it Keras' LSTM. (``BlockLSTMV2``
    takes Keras' order, but TensorFlow 2.21 registers the first version's gradient for it,
    which assumes the other order: its gradients are wrong.) It runs every time step; the
    reversed direction reverses only each sequence's real prefix, so padding stays at the
    end and never reaches a real position.
    """
    import tensorflow as tf

    x = tf.transpose(tf.convert_to_tensor(sequences), (1, 0, 2))  # time-major
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    if mask is None:
        lengths = tf.fill([batch], steps)
        real = tf.ones(tf.shape(x)[:2], x.dtype)
    else:
        real = tf.cast(tf.transpose(mask, (1, 0)), x.dtype)
        lengths = tf.cast(tf.reduce_sum(real, axis=0), tf.int32)
    outputs = []
    for cell, reverse in ((forward_cell, False), (backward_cell, True)):
        units = cell.units
        zeros = tf.zeros(tf.stack([batch, units]), x.dtype)
        no_peephole = tf.zeros([units], x.dtype)
        inputs = tf.reverse_sequence(x, lengths, seq_axis=0, batch_axis=1) if reverse else x
        kernel = ops.concatenate([cell.kernel, cell.recurrent_kernel], axis=0)
        h = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.cast(steps, tf.int64), x=inputs, cs_prev=zeros, h_prev=zeros,
            w=_icfo(kernel, x.dtype), wci=no_peephole, wcf=no_peephole, wco=no_peephole,
            b=_icfo(cell.bias, x.dtype), forget_bias=0.0, cell_clip=-1.0,
            use_peephole=False)[6]
        if reverse:
            h = tf.reverse_sequence(h, lengths, seq_axis=0, batch_axis=1)
        outputs.append(h)
    out = tf.concat(outputs, axis=-1) * real[:, :, None]
    return tf.transpose(out, (1, 0, 2))


def _icfo(weights, dtype):
    """Keras' gate blocks (i, f, c, o) along the last axis, reordered to (i, c, f, o)."""
    i, f, c, o = ops.split(ops.cast(weights, dtype), 4, axis=-1)
    return ops.concatenate([i, c, f, o], axis=-1)
