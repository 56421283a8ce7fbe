"""Scaled dot-product attention of keras-self-attention 0.51, for Keras 3 on any backend.

`ScaledDotProductAttention` and `ResidualScaledDotProductAttention` (RealFormer) have the
original constructors, inputs, outputs and numbers (neither has weights), with these
differences, which only show where the original is wrong:

* a masked (or, with ``history_only``, future) key gets exactly 0 weight (``where`` on a
  float32 score), where the original subtracted 10000 from its score, so keys with
  scores 10000 above the others still got weight;
* a query with no valid key (every key padded, or with ``history_only`` every earlier
  key) gets an all-zero attention row and a zero output, never NaN; the original gave it
  weights over the padded keys (the same 10000 subtracted from every score cancels out);
* `ResidualScaledDotProductAttention` works without any mask (the original indexed
  ``mask[0]`` of ``None`` and raised ``TypeError``) and its ``compute_mask`` is right
  (the original's indexed the query mask *tensor*, ``mask[0][-1]``, so the scores got
  the mask row of the last batch element, of shape ``(T,)``).

Only ``keras.ops`` are used, so the layers run on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import keras
from keras import ops

from seqlab.layers.attention import _masked_softmax, window_valid

__all__ = ["ResidualScaledDotProductAttention", "ScaledDotProductAttention"]


def _is_shape_list(shape):
    """Whether ``shape`` is a list of shapes (several inputs) rather than one shape."""
    return isinstance(shape, (list, tuple)) and len(shape) > 0 and all(
        isinstance(s, (list, tuple)) for s in shape
    )


def _check_width(width, who):
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"{who}: attention_width must be None (every key) or an integer >= 1; "
                         f"received {width!r}.")
    return int(width)


def _key_mask(mask):
    """Boolean ``(batch, Tk)`` key mask from a ``(batch, Tk)`` or ``(batch, Tk, 1)`` mask."""
    if mask is None:
        return None
    mask = ops.cast(mask, "bool")
    if len(mask.shape) == 3:
        mask = ops.squeeze(mask, -1)
    return mask


def _attend(layer, query, key, value, key_mask, prev=None):
    """``softmax(Q K^T / sqrt(d_k) [+ prev])`` over the valid keys, times ``V``.

    Returns ``(output, attention, scores)``; ``scores`` are the (unmasked) logits, as
    the residual layer passes them on.
    """
    dtype = layer.compute_dtype
    query, key, value = (
        t if keras.backend.standardize_dtype(t.dtype) == dtype else ops.cast(t, dtype)
        for t in (query, key, value)
    )
    d_k = query.shape[-1]
    if d_k is None:
        d_k = ops.cast(ops.shape(query)[-1], "float32")
    scale = ops.sqrt(ops.cast(d_k, "float32"))
    e = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
    e = ops.cast(e, "float32") / scale  # (batch, Tq, Tk)
    if prev is not None:
        e = e + ops.cast(prev, "float32")
    valid = None
    width = getattr(layer, "attention_width", None)
    if layer.history_only or width is not None:
        q_pos, k_pos = ops.arange(ops.shape(query)[1]), ops.arange(ops.shape(key)[1])
        valid = ops.expand_dims(window_valid(q_pos, k_pos, width, layer.history_only), 0)
    if key_mask is not None:
        key_valid = ops.expand_dims(key_mask, 1)
        valid = key_valid if valid is None else ops.logical_and(valid, key_valid)
    a = _masked_softmax(e, valid, may_be_empty=key_mask is not None)
    output = ops.matmul(ops.cast(a, dtype), value)
    return output, ops.cast(a, dtype), e


def _output_shape(query_shape, key_shape, value_shape):
    query_shape, key_shape, value_shape = (
        tuple(s) for s in (query_shape, key_shape, value_shape)
    )
    return (
        query_shape[:-1] + value_shape[-1:],
        (query_shape[0], query_shape[1], key_shape[1]),
    )


@keras.saving.register_keras_serializable(package="seqlab")
class ScaledDotProductAttention(keras.layers.Layer):
    r"""``softmax(Q K^T / sqrt(d_k)) V``, as in keras-self-attention 0.51.

    Takes one input (``Q = K = V``, self-attention) or the list ``[query, key, value]``
    of shapes ``(batch, Tq, d_k)``, ``(batch, Tk, d_k)`` and ``(batch, Tk, d_v)``
    (https://arxiv.org/abs/1706.03762). The layer has no weights.

    The key mask is the input's mask, or with a list the mask of ``key`` (the original
    read ``mask[1]``; a single mask given with a list input is used as the key mask).
    A padded key, and with ``history_only`` a key after the query (``t' > t``), gets
    exactly 0 weight; a query with no valid key gets an all-zero row and a zero output
    (never NaN). Scores are normalised in float32.

    Args:
        return_attention: Also return the attention weights.
        history_only: Causal attention: query ``t`` only sees keys ``t' <= t``.
        attention_width: seqlab's extension (not in the original): local attention, query
            ``t`` sees only the keys of its window of ``w`` keys, the window of
            `SeqSelfAttention`; None (the default, the original's behaviour): every key.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: A float tensor ``x`` of shape ``(batch, T, d)``, or ``[query, key, value]``.
        mask: Optional boolean mask ``(batch, T)``, or a list of three (``None`` allowed).

    Returns:
        The output of shape ``(batch, Tq, d_v)``, or ``[output, attention]`` with
        ``return_attention=True``, where ``attention[b, t, t']`` of shape
        ``(batch, Tq, Tk)`` is the weight of key ``t'`` for query ``t``. The output
        carries the query's mask, as in the original.
    """

    def __init__(self, return_attention=False, history_only=False, attention_width=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_attention = bool(return_attention)
        self.history_only = bool(history_only)
        self.attention_width = _check_width(attention_width, "ScaledDotProductAttention")

    @staticmethod
    def _split(inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 3:
                raise ValueError(
                    "ScaledDotProductAttention expects one tensor or a list [query, key, "
                    f"value]; received a list of {len(inputs)}."
                )
            return tuple(inputs)
        return inputs, inputs, inputs

    def build(self, input_shape):
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape] * 3
        if len(shapes) != 3:
            raise ValueError(
                "ScaledDotProductAttention expects one tensor or a list [query, key, value]; "
                f"received a list of {len(shapes)}."
            )
        if any(len(s) != 3 for s in shapes):
            raise ValueError(
                "ScaledDotProductAttention expects inputs of shape (batch, time, features): "
                f"one tensor or [query, key, value]; received shape(s) {input_shape}."
            )

    def call(self, inputs, mask=None):
        query, key, value = self._split(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[1]
        output, attention, _ = _attend(self, query, key, value, _key_mask(mask))
        if self.return_attention:
            return [output, attention]
        return output

    def compute_output_shape(self, input_shape):
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape] * 3
        output_shape, attention_shape = _output_shape(*shapes)
        if self.return_attention:
            return [output_shape, attention_shape]
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_attention:
            return [mask, None]
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {"return_attention": self.return_attention, "history_only": self.history_only,
             "attention_width": self.attention_width}
        )
        return config


@keras.saving.register_keras_serializable(package="seqlab")
class ResidualScaledDotProductAttention(keras.layers.Layer):
    r"""``softmax(Q K^T / sqrt(d_k) + Prev) V`` (RealFormer), as in keras-self-attention 0.51.

    Takes ``[x, prev]`` (``Q = K = V = x``) or ``[query, key, value, prev]``, where
    ``prev`` of shape ``(batch, Tq, Tk)`` holds the previous layer's scores (zeros for the
    first layer; https://arxiv.org/abs/2012.11747). The scores ``Q K^T / sqrt(d_k) +
    prev``, before masking, are returned for the next layer. The layer has no weights.

    The key mask is the mask of ``x`` (``[x, prev]``) or of ``key`` (four inputs), as in
    the original; ``prev``'s mask is not used. A padded key, and with ``history_only`` a
    key after the query, gets exactly 0 weight; a query with no valid key gets an
    all-zero row and a zero output (never NaN). Scores are computed in float32.

    The output masks are the query's mask for the output and ``prev``'s mask for the
    scores (``None`` for the attention). The original's ``compute_mask`` meant this but
    indexed the query mask tensor instead of the list of masks (``mask[0][-1]``), so the
    scores were given the mask row of the last batch element; it also raised
    ``TypeError`` when called without any mask, which works here.

    Args:
        return_attention: Also return the attention weights.
        history_only: Causal attention: query ``t`` only sees keys ``t' <= t``.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: ``[x, prev]`` or ``[query, key, value, prev]``.
        mask: Optional list of boolean masks, one per input (``None`` allowed).

    Returns:
        ``[output, scores]``, or ``[output, scores, attention]`` with
        ``return_attention=True``: ``output`` of shape ``(batch, Tq, d_v)``, ``scores``
        and ``attention`` of shape ``(batch, Tq, Tk)``.
    """

    def __init__(self, return_attention=False, history_only=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_attention = bool(return_attention)
        self.history_only = bool(history_only)

    @staticmethod
    def _check_count(n):
        if n not in (2, 4):
            raise ValueError(
                "ResidualScaledDotProductAttention expects the list [x, prev] or [query, "
                f"key, value, prev]; received {n} input(s)."
            )

    def build(self, input_shape):
        if not _is_shape_list(input_shape):
            self._check_count(1)
        self._check_count(len(input_shape))

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            self._check_count(1)
        self._check_count(len(inputs))
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] + [None] * 3
        if len(inputs) == 4:
            query, key, value, prev = inputs
            key_mask = masks[1]
        else:
            x, prev = inputs
            query = key = value = x
            key_mask = masks[0]
        output, attention, scores = _attend(
            self, query, key, value, _key_mask(key_mask), prev=prev
        )
        outputs = [output, ops.cast(scores, self.compute_dtype)]
        if self.return_attention:
            outputs.append(attention)
        return outputs

    def compute_output_shape(self, input_shape):
        self._check_count(len(input_shape))
        if len(input_shape) == 4:
            query, key, value = input_shape[:3]
        else:
            query = key = value = input_shape[0]
        output_shape, scores_shape = _output_shape(query, key, value)
        shapes = [output_shape, scores_shape]
        if self.return_attention:
            shapes.append(scores_shape)
        return shapes

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            query_mask, prev_mask = mask[0], mask[-1]
        else:
            query_mask, prev_mask = mask, None
        masks = [query_mask, prev_mask]
        if self.return_attention:
            masks.append(None)
        return masks

    def get_config(self):
        config = super().get_config()
        config.update(
            {"return_attention": self.return_attention, "history_only": self.history_only}
        )
        return config
