"""A bidirectional LSTM that runs on TensorFlow's fused LSTM kernel."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqlab")
class FusedBidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional` that runs a pair of LSTMs with TensorFlow's fused kernel.

    Same constructor, weights, saved form and numbers as `Bidirectional`; only the way a
    bidirectional LSTM is computed differs. On TensorFlow, each direction's forward pass is
    one ``BlockLSTM`` op (TensorFlow's fused CPU and GPU kernel) instead of a loop of a dozen
    small ops a time step, and the gradient is `_lstm_pair`'s: both directions' backward
    recurrences in one loop, the weights' gradients as large matrix products afterwards
    (``BENCHMARKS.md`` has the times). The backward direction reads each sequence reversed
    within its own length (`_reverser`), so outputs at real positions are those
    of Keras' masked loop; padded positions give zeros.

    The fused path needs padding at the end of each sequence (the mask a prefix of ones
    per row, as seqlab's batches are), an LSTM pair with Keras' default activations, a
    bias, no dropout inside the LSTM, ``return_sequences=True``, ``merge_mode="concat"``,
    no initial state, float32 or bfloat16 computation and the TensorFlow backend
    (`fusable`). Anything else runs `Bidirectional`'s own code. ``BlockLSTM`` has no bfloat16
    kernel (TensorFlow 2.21: half and float only), so under ``mixed_bfloat16`` the pair runs
    in float32 on the bfloat16 inputs and weights and its output is cast to bfloat16: the
    fused kernel instead of Keras' loop of small bfloat16 ops a step (issue 39).

    Args:
        layer, merge_mode, weights, backward_layer: as `Bidirectional`'s.
        implementation: how a fusable pair is computed, the same numbers each way (to float
            round-off): ``"fused"``, ``BlockLSTM`` with `_lstm_pair`'s gradient (the
            default); ``"block"``, ``BlockLSTM`` with TensorFlow's own gradient
            (``BlockLSTMGrad``, a direction at a time: the way before issue 16);
            ``"keras"``, `Bidirectional`'s own code. Saved only when not the default.
    """

    IMPLEMENTATIONS = ("fused", "block", "keras")

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 implementation="fused", **kwargs):
        if implementation not in self.IMPLEMENTATIONS:
            raise ValueError(f"FusedBidirectional: implementation must be one of "
                             f"{', '.join(self.IMPLEMENTATIONS)}; received {implementation!r}")
        super().__init__(layer, merge_mode=merge_mode, weights=weights,
                         backward_layer=backward_layer, **kwargs)
        self.implementation = implementation

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if initial_state is None and self.implementation != "keras" and self.fusable:
            if self.compute_dtype == "float32":
                return _fused_bilstm(sequences, mask, self.forward_layer.cell,
                                     self.backward_layer.cell,
                                     own_gradient=self.implementation == "fused")
            out = _fused_bilstm(ops.cast(sequences, "float32"), mask, self.forward_layer.cell,
                                self.backward_layer.cell,
                                own_gradient=self.implementation == "fused")
            return ops.cast(out, self.compute_dtype)
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def get_config(self):
        config = super().get_config()
        if self.implementation != "fused":  # a choice of computation: saved only when made
            config["implementation"] = self.implementation
        return config

    @property
    def fusable(self) -> bool:
        """Whether TensorFlow's fused kernel can compute this pair (see above)."""
        if keras.backend.backend() != "tensorflow" or self.merge_mode != "concat":
            return False
        if not self.return_sequences or self.return_state or self.stateful:
            return False
        if self.compute_dtype not in ("float32", "bfloat16"):
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


def _fused_bilstm(sequences, mask, forward_cell, backward_cell, own_gradient=True):
    """Both directions with ``BlockLSTM``: (batch, time, dim) -> (batch, time, 2 * units).

    ``BlockLSTM`` takes the kernel and recurrent kernel stacked, gates in the order (i, c,
    f, o); ``forget_bias=0`` and ``cell_clip=-1`` make it Keras' LSTM. (``BlockLSTMV2``
    takes Keras' order, but TensorFlow 2.21 registers the first version's gradient for it,
    which assumes the other order: its gradients are wrong.) It runs every time step; the
    reversed direction reverses only each sequence's real prefix, so padding stays at the
    end and never reaches a real position. The gradient is `_lstm_pair`'s own, or with
    ``own_gradient=False`` TensorFlow's ``BlockLSTMGrad`` for each direction.
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
    reverse = _reverser(lengths, steps, batch)
    weights = []
    for cell in (forward_cell, backward_cell):
        kernel = ops.concatenate([cell.kernel, cell.recurrent_kernel], axis=0)
        weights += [_icfo(kernel, x.dtype), _icfo(cell.bias, x.dtype)]
    if own_gradient:
        h_forward, h_backward = _lstm_pair(x, reverse(x), *weights)
    else:
        h_forward = block_lstm(x, *weights[:2])[6]
        h_backward = block_lstm(reverse(x), *weights[2:])[6]
    h_backward = reverse(h_backward)
    out = tf.concat([h_forward, h_backward], axis=-1) * real[:, :, None]
    return tf.transpose(out, (1, 0, 2))


def _reverser(lengths, steps, batch):
    """A function that reverses each sequence of a time-major (time, batch, dim) tensor
    within its length, as ``tf.reverse_sequence`` does: one gather over (time * batch) rows,
    five to ten times faster on a CPU than ``ReverseSequence``'s kernel (BENCHMARKS.md); the
    reversal is its own inverse, so its gradient is the same gather."""
    import tensorflow as tf

    t = tf.range(steps)[:, None]
    rows = tf.where(t < lengths[None], lengths[None] - 1 - t, t) * batch + tf.range(batch)[None]

    @tf.custom_gradient
    def reverse(x):
        def gather(y):
            return tf.reshape(tf.gather(tf.reshape(y, [-1, y.shape[-1]]), rows), tf.shape(y))

        return gather(x), gather

    return reverse


def _lstm_pair(x_forward, x_backward, w_forward, b_forward, w_backward, b_backward):
    """Two LSTMs over time-major inputs of the same shape, one ``BlockLSTM`` each, with a
    gradient of our own: ``BlockLSTMGrad`` accumulates the weights' gradient with two small
    matrix products a time step, which made it 4.8 times the forward pass on one CPU core.
    Here the backward recurrence runs both directions together and does only the part that
    must be sequential (the gates' gradients and one product with the recurrent kernel a
    step); each direction's weight and input gradients are then three large products over
    all steps.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def pair(x_f, x_b, w_f, b_f, w_b, b_b):
        dim = x_f.shape[-1]
        steps, batch = tf.shape(x_f)[0], tf.shape(x_f)[1]
        units = b_f.shape[0] // 4
        states = [block_lstm(x_f, w_f, b_f), block_lstm(x_b, w_b, b_b)]

        def grad(dh_f, dh_b):
            with tf.name_scope("bilstm_gradient"):  # named for profiles (bench/ops.py)
                return _gradient(dh_f, dh_b)

        def _gradient(dh_f, dh_b):
            # Both directions stacked on axis 1: (time, 2, batch, units).
            i, cs, f, o, ci, co, h = (tf.stack([a, b], axis=1) for a, b in zip(*states))
            first = tf.zeros_like(cs[:1])
            cs_prev = tf.concat([first, cs[:-1]], axis=0)
            h_prev = tf.concat([first, h[:-1]], axis=0)
            # Each step's gate gradients are (dcs, dcs, dcs, dh) times these factors (i, c,
            # f, o order), where dh and dcs are the total gradients of the step's output and
            # cell state.
            factors = tf.concat([ci * i * (1 - i), i * (1 - ci * ci),
                                 cs_prev * f * (1 - f), co * o * (1 - o)], axis=-1)
            upstream = tf.stack([_or_zeros(dh_f, states[0][6]),
                                 _or_zeros(dh_b, states[1][6])], axis=1)
            through = tf.concat([upstream, o * (1 - co * co), f], axis=-1)
            # Each direction's recurrent kernel transposed once, (4 units, units): a step's
            # product is then a plain matrix product a direction, 2-3 times faster on a CPU
            # core than one batched product with ``transpose_b`` (BENCHMARKS.md).
            recurrent_f, recurrent_b = tf.transpose(w_f[dim:]), tf.transpose(w_b[dim:])
            factors_ta = tf.TensorArray(x_f.dtype, size=steps).unstack(factors)
            through_ta = tf.TensorArray(x_f.dtype, size=steps).unstack(through)

            def step(t, dh_next, dcs_next, out):
                g, o_factor, forget = tf.split(through_ta.read(t), 3, axis=-1)
                dh = g + dh_next
                dcs = dh * o_factor + dcs_next
                gates = tf.concat([dcs, dcs, dcs, dh], axis=-1) * factors_ta.read(t)
                dh_prev = tf.stack([tf.matmul(gates[0], recurrent_f),
                                    tf.matmul(gates[1], recurrent_b)])
                return t - 1, dh_prev, dcs * forget, out.write(t, gates)

            start = tf.zeros(tf.stack([2, batch, units]), x_f.dtype)
            _, _, _, out = tf.while_loop(
                lambda t, *_: t >= 0, step,
                (steps - 1, start, start, tf.TensorArray(x_f.dtype, size=steps)))
            grads = []
            gates = tf.unstack(out.stack(), axis=1)  # per direction (time, batch, 4 units)
            for d, (x, w) in enumerate(((x_f, w_f), (x_b, w_b))):
                g = tf.reshape(gates[d], [-1, 4 * units])
                inputs = tf.reshape(x, [-1, dim])
                outputs = tf.reshape(h_prev[:, d], [-1, units])
                dw = tf.concat([tf.matmul(inputs, g, transpose_a=True),
                                tf.matmul(outputs, g, transpose_a=True)], axis=0)
                dx = tf.reshape(tf.matmul(g, w[:dim], transpose_b=True), tf.shape(x))
                grads.append((dx, dw, tf.reduce_sum(g, axis=0)))
            (dx_f, dw_f, db_f), (dx_b, dw_b, db_b) = grads
            return dx_f, dx_b, dw_f, db_f, dw_b, db_b

        return (states[0][6], states[1][6]), grad

    return pair(x_forward, x_backward, w_forward, b_forward, w_backward, b_backward)


def block_lstm(x, w, b):
    """``BlockLSTM``'s seven outputs (i, cs, f, o, ci, co, h) for time-major ``x`` from zero
    states, with Keras' LSTM semantics (``forget_bias=0``, no clipping, no peepholes); ``w``
    and ``b`` in its (i, c, f, o) gate order. Its registered gradient is TensorFlow's
    ``BlockLSTMGrad``."""
    import tensorflow as tf

    units = b.shape[0] // 4
    zeros = tf.zeros(tf.stack([tf.shape(x)[1], units]), x.dtype)
    no_peephole = tf.zeros([units], x.dtype)
    return tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=zeros, h_prev=zeros, w=w,
        wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=b, forget_bias=0.0,
        cell_clip=-1.0, use_peephole=False)


def _or_zeros(gradient, like):
    import tensorflow as tf

    return tf.zeros_like(like) if gradient is None else gradient


def _icfo(weights, dtype):
    """Keras' gate blocks (i, f, c, o) along the last axis, reordered to (i, c, f, o)."""
    i, f, c, o = ops.split(ops.cast(weights, dtype), 4, axis=-1)
    return ops.concatenate([i, c, f, o], axis=-1)
