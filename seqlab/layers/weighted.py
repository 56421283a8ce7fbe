"""`SeqWeightedAttention`: keras-self-attention 0.51's attention pooling for Keras 3.

Same constructor, weights and numbers as ``keras_self_attention.SeqWeightedAttention`` 0.51
(so its trained weights and saved models load here). The differences only show with a mask:

* a padded step gets exactly 0 weight (``where`` on a float32 score), where the original
  subtracted 10000 from its score, so with very large scores padding still got weight;
* the softmax has no ``epsilon`` in its denominator (the original's ``K.epsilon()`` made
  the weights sum to slightly less than 1, a relative difference of about 1e-7);
* a row with no real step gets all-zero weights and a zero output; the original gave it
  the weights it would have had without a mask (every score shifted by the same 10000).

Only ``keras.ops`` are used, so the layer runs on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import keras
from keras import ops

from seqlab.layers.attention import _masked_softmax

__all__ = ["SeqWeightedAttention"]


@keras.saving.register_keras_serializable(package="seqlab")
class SeqWeightedAttention(keras.layers.Layer):
    """Attention pooling ``Y = softmax(X W + b) X``, as in keras-self-attention 0.51.

    For inputs ``x`` of shape ``(batch, T, d)`` the layer scores every step,
    ``e[t] = x[t] W + b``, takes the softmax ``a`` over the real steps and returns the
    weighted sum ``y = sum_t a[t] x[t]`` of shape ``(batch, d)``
    (https://arxiv.org/abs/1708.00524).

    Weights, their order, shapes, names and initialisers are the original's (``W`` of
    shape ``(d, 1)``, ``uniform``; ``b`` of shape ``(1,)``, ``zeros``), so weights and
    models saved with keras-self-attention load here and give the same outputs.

    With a mask a padded step gets exactly 0 weight and a row with no real step an
    all-zero weight row and a zero output (never NaN); see the module docstring for
    how that differs from the original. Scores are normalised in float32.

    Args:
        use_bias: Add the bias ``b`` to the scores.
        return_attention: Also return the weights ``a``.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: Float tensor of shape ``(batch, T, d)``.
        mask: Optional boolean tensor of shape ``(batch, T)``; ``False`` marks padding.

    Returns:
        ``y`` of shape ``(batch, d)``, or ``[y, a]`` with ``return_attention=True``, where
        ``a`` has shape ``(batch, T)``. The outputs carry no mask (time is pooled away).
    """

    def __init__(self, use_bias=True, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.use_bias = bool(use_bias)
        self.return_attention = bool(return_attention)
        self.W = self.b = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "SeqWeightedAttention expects inputs of shape (batch, time, features) with a "
                f"known number of features; received shape {input_shape}."
            )
        # Same order, shapes, names and initialisers as keras-self-attention 0.51.
        self.W = self.add_weight(
            name=f"{self.name}_W",
            shape=(int(input_shape[-1]), 1),
            initializer=keras.initializers.get("uniform"),
        )
        if self.use_bias:
            self.b = self.add_weight(
                name=f"{self.name}_b", shape=(1,), initializer=keras.initializers.get("zeros")
            )

    def call(self, inputs, mask=None):
        if len(inputs.shape) != 3:
            raise ValueError(
                "SeqWeightedAttention expects inputs of shape (batch, time, features), i.e. "
                f"rank 3; received shape {tuple(inputs.shape)}."
            )
        x = inputs
        if keras.backend.standardize_dtype(x.dtype) != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        e = ops.squeeze(ops.matmul(x, ops.cast(self.W, x.dtype)), -1)  # (batch, T)
        if self.use_bias:
            e = e + ops.cast(self.b, x.dtype)[0]
        valid = None
        if mask is not None:
            valid = ops.cast(mask, "bool")
            if len(valid.shape) == 3:  # e.g. (batch, T, 1)
                valid = ops.squeeze(valid, -1)
        a = _masked_softmax(e, valid)  # float32, (batch, T)
        y = ops.sum(x * ops.expand_dims(ops.cast(a, x.dtype), -1), axis=1)
        if self.return_attention:
            return [y, ops.cast(a, self.compute_dtype)]
        return y

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        pooled = (input_shape[0], input_shape[2])
        if self.return_attention:
            return [pooled, (input_shape[0], input_shape[1])]
        return pooled

    def compute_mask(self, inputs, mask=None):
        if self.return_attention:
            return [None, None]
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"use_bias": self.use_bias, "return_attention": self.return_attention})
        return config

    @staticmethod
    def get_custom_objects():
        """Every layer registered under the ``seqlab`` package, by class name."""
        from seqlab.layers import get_custom_objects

        return get_custom_objects()
