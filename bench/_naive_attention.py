"""A naive SeqSelfAttention that materialises the full (T x T) tensors, as the original does.

``NaiveSeqSelfAttention`` has the same constructor and weights as
:class:`seqlab.layers.SeqSelfAttention` but computes the scores exactly the way
keras-self-attention 0.51 does: the whole ``(batch, T, T, units)`` additive tensor (or
the ``(batch, T, T)`` multiplicative scores), the window and padding as ``- 10000``
offsets (padding only where both positions are padding, the original's bug), and a
softmax over all ``T`` keys. It is the baseline of ``bench/layer.py``, which checks it
against the original package before timing it (`check_against_original`); it is kept out of
the package, not registered for serialisation and not meant for models.
"""

from keras import ops

from seqlab.layers.attention import SeqSelfAttention


class NaiveSeqSelfAttention(SeqSelfAttention):
    """keras-self-attention 0.51's algorithm in ``keras.ops`` (O(T**2) memory)."""

    def call(self, inputs, mask=None):
        x = ops.cast(inputs, self.compute_dtype)
        p = self._params()
        t = ops.shape(x)[1]
        if self.attention_type == self.ATTENTION_TYPE_ADD:
            q = ops.expand_dims(ops.matmul(x, p["Wt"]), 2)
            k = ops.expand_dims(ops.matmul(x, p["Wx"]), 1)
            h = ops.tanh(q + k + p["bh"]) if "bh" in p else ops.tanh(q + k)
            e = ops.squeeze(ops.matmul(h, p["Wa"]), -1)
            if "ba" in p:
                e = e + p["ba"]
        else:
            e = ops.matmul(ops.matmul(x, p["Wa"]), ops.transpose(x, (0, 2, 1)))
            if "ba" in p:
                e = e + p["ba"][0]
        if self.attention_activation is not None:
            e = self.attention_activation(e)
        width = self.attention_width
        if width is None and self.history_only:
            width = int(1e9)
        if width is not None:
            pos = ops.arange(t)
            if self.history_only:
                lower = pos - (width - 1)
            else:
                lower = pos - width // 2
            lower = ops.expand_dims(lower, -1)
            upper = lower + width
            idx = ops.expand_dims(pos, 0)
            inside = ops.cast(lower <= idx, e.dtype) * ops.cast(idx < upper, e.dtype)
            e = e - 10000.0 * (1.0 - inside)
        if mask is not None:
            m = ops.expand_dims(ops.cast(mask, e.dtype), -1)
            e = e - 10000.0 * ((1.0 - m) * (1.0 - ops.transpose(m, (0, 2, 1))))
        e = ops.exp(e - ops.max(e, axis=-1, keepdims=True))
        a = e / ops.sum(e, axis=-1, keepdims=True)
        v = ops.matmul(a, x)
        if self.attention_regularizer_weight > 0.0:
            eye = ops.eye(t, dtype=a.dtype)
            g = ops.matmul(a, ops.transpose(a, (0, 2, 1)))
            batch = ops.cast(ops.shape(a)[0], a.dtype)
            self.add_loss(self.attention_regularizer_weight * ops.sum(ops.square(g - eye)) / batch)
        if self.return_attention:
            return [v, a]
        return v


def check_against_original():
    """AssertionError unless the baseline computes what keras-self-attention 0.51 computes
    (a test requirement of seqlab, installed with it by ``make install``), on three
    configurations: global additive, local multiplicative, causal with the regulariser."""
    import keras_self_attention
    import numpy as np

    x = np.random.RandomState(15).normal(size=(2, 9, 6)).astype("float32")
    for cfg in ({}, {"attention_width": 4, "attention_type": "multiplicative"},
                {"history_only": True, "attention_regularizer_weight": 0.1}):
        original = keras_self_attention.SeqSelfAttention(units=5, return_attention=True, **cfg)
        original.build((None, None, 6))
        rs = np.random.RandomState(0)
        original.set_weights([rs.normal(0.0, 0.5, size=w.shape).astype("float32")
                              for w in original.get_weights()])
        naive = NaiveSeqSelfAttention(units=5, return_attention=True, **cfg)
        naive.build(x.shape)
        naive.set_weights(original.get_weights())
        for a, b in zip(naive(x), original(x), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
