"""`SeqSelfAttention`: keras-self-attention 0.51's layer for Keras 3, on any backend.

Same constructor, weights and numbers as ``keras_self_attention.SeqSelfAttention`` 0.51
(so its trained weights and saved models load here), with three differences that only
show where the original is wrong or slow:

* padding is masked on the key side (the original only masked pairs where *both*
  positions are padding, so real tokens attended to padding);
* local attention (``attention_width``) computes only the band of ``w`` keys per query,
  in ``O(batch * T * w * units)`` time and memory, never a ``(T, T)`` tensor (except for
  sequences of at most 48 positions, where the dense way is faster);
* global additive attention is computed in blocks of queries that are rematerialised in
  the backward pass, so the ``(batch, T, T, units)`` ``tanh`` tensor is never kept.

Only ``keras.ops`` are used, so the layer runs on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

__all__ = ["SeqSelfAttention"]

_ADD = "additive"
_MUL = "multiplicative"

# Global attention processes queries in blocks of about this many (query, key, unit)
# elements per sequence; each block is rematerialised in the backward pass (the default of
# ``block_elements``).
_BLOCK_ELEMENTS = 1 << 21
# Query block sizes when the time dimension is not known while tracing (TF graphs with
# ``None`` time): additive, multiplicative.
_DYNAMIC_BLOCK = {_ADD: 32, _MUL: 1024}
# With an unknown time dimension, windows up to this width use the band path, wider
# windows the (masked) global path.
_DYNAMIC_BAND_LIMIT = 512
# Local attention over at most this many positions is computed densely (a (T, T) score
# matrix with the window masked): fewer, simpler operations than the band's, and faster on a
# CPU while T is this short (BENCHMARKS.md, issue 16). The default of ``dense_max_length``.
_SHORT = 48
# Query chunk length of the band path's matmuls (at least ``attention_width``).
_MIN_CHUNK = 32
# Stands in for the scores of keys outside the window or padded, always in float32 (never
# in float16, whose range ends at 65504): exp(_NEG - max) is exactly 0.
_NEG = -3.0e38


def _dim(x, axis):
    """Static size of ``x`` along ``axis`` if known, else a scalar tensor."""
    size = x.shape[axis]
    return size if size is not None else ops.shape(x)[axis]


def _ceil_div(a, b):
    return (a + b - 1) // b


def _masked_softmax(e, valid, may_be_empty=True):
    """Softmax of ``e`` over the last axis in float32, over the entries where ``valid``.

    ``valid`` is a boolean tensor broadcastable to ``e``, or ``None`` (all valid).
    Invalid entries get exactly 0 (``exp`` of a float32 score below any real one); rows
    with no valid entry are all 0, never NaN (only possible when ``may_be_empty``).
    """
    e = ops.cast(e, "float32")
    if valid is None:
        return ops.softmax(e, axis=-1)
    a = ops.softmax(ops.where(valid, e, _NEG), axis=-1)
    if may_be_empty:
        a = ops.where(ops.any(valid, axis=-1, keepdims=True), a, 0.0)
    return a


def window_before(width, history_only=False):
    """How many keys before its query a window of ``width`` keys holds: ``w - 1`` with
    ``history_only`` (the query is its last key), ``w // 2`` otherwise."""
    return width - 1 if history_only else width // 2


def window_valid(q_pos, k_pos, width=None, history_only=False):
    """Which keys each query may see: ``(len(q_pos), len(k_pos))`` booleans.

    ``t - w + 1 <= t' <= t`` with ``history_only`` and a width ``w``; ``t' <= t`` with
    ``history_only`` alone; ``t - w//2 <= t' < t - w//2 + w`` with a width alone; every
    key otherwise. The one definition of the window, shared by the attention layers and by
    :func:`seqlab.attention_view.window_mask`; positions may be tensors or NumPy arrays.
    """
    q = ops.expand_dims(q_pos, -1)
    k = ops.expand_dims(k_pos, 0)
    if width is not None:
        lower = q - window_before(width, history_only)
        return ops.logical_and(k >= lower, k < lower + width)
    if history_only:
        return k <= q
    return ops.ones_like(q - k, dtype="bool")


def _skew(a, chunk, width):
    """Band ``(n, C, w)`` -> dense chunk ``(n, C, C + w - 1)``: ``out[r, r + j] = a[r, j]``."""
    n_cols = chunk + width - 1
    a = ops.pad(a, [[0, 0], [0, 0], [0, chunk]])  # (n, C, C + w)
    a = ops.reshape(a, (-1, chunk * (chunk + width)))
    a = a[:, : chunk * n_cols]
    return ops.reshape(a, (-1, chunk, n_cols))


def _unskew(d, chunk, width):
    """Dense chunk ``(n, C, C + w - 1)`` -> band ``(n, C, w)``: ``out[r, j] = d[r, r + j]``."""
    n_cols = chunk + width - 1
    d = ops.reshape(d, (-1, chunk * n_cols))
    d = ops.pad(d, [[0, 0], [0, chunk]])  # (n, C * (C + w))
    d = ops.reshape(d, (-1, chunk, chunk + width))
    return d[:, :, :width]


@keras.saving.register_keras_serializable(package="seqlab")
class SeqSelfAttention(keras.layers.Layer):
    """Self-attention over a sequence, as in keras-self-attention 0.51.

    For inputs ``x`` of shape ``(batch, T, d)`` the layer computes attention scores

    * additive: ``h[t, t'] = tanh(x[t] Wt + x[t'] Wx + bh)``, ``e[t, t'] = h[t, t'] Wa + ba``;
    * multiplicative: ``e[t, t'] = x[t] Wa x[t']^T + ba``;

    applies ``attention_activation`` to ``e``, restricts query ``t`` to the keys of its
    window (``t - w + 1 <= t' <= t`` with ``history_only``; all ``t' <= t`` with
    ``history_only`` and no width; ``t - w//2 <= t' < t - w//2 + w`` otherwise), takes
    the softmax ``a`` over the allowed keys and returns ``l[t] = sum_t' a[t, t'] x[t']``.

    Weights, their order, shapes and names are those of the original, so weights and
    models saved with keras-self-attention load here and give the same outputs.

    **The one deliberate difference** from the original is padding. With a mask (e.g.
    from ``Embedding(mask_zero=True)``) a padded key gets exactly 0 weight from every
    query, a query whose window holds no real key gets an all-zero attention row and a
    zero output (never NaN), and the attention regulariser ignores padded rows and
    columns. The original only masked (query, key) pairs where *both* positions were
    padding, so real tokens attended to padding. Without a mask, or wherever no padded
    key is involved, the results are the original's.

    Cost: with ``attention_width`` (smaller than the sequence) only the band of ``w``
    keys per query is computed: ``O(batch * T * w * units)`` time and memory; sequences of
    at most ``dense_max_length`` (48) positions are computed densely with the window masked,
    which gives the same numbers with fewer operations (2-8x faster there on a CPU, and at
    most 48**2 scores per sequence). With the length unknown while tracing (TensorFlow
    graphs over padded batches), the way is chosen when the layer runs, batch by batch. Global
    additive attention is computed in rematerialised blocks of queries, so the
    ``(batch, T, T, units)`` tensor is never stored; global multiplicative attention is
    two matrix products (also in rematerialised query blocks once ``T`` is in the
    thousands). ``return_attention=True`` and ``attention_regularizer_weight >
    0`` with global attention materialise the ``(batch, T, T)`` attention matrix; with a
    window, the regulariser is computed from the band in ``O(T * w)``, but
    ``return_attention=True`` still returns the dense ``(batch, T, T)`` matrix, so that
    returned tensor alone costs ``T**2`` memory.

    Scores are normalised in float32 (also under ``mixed_float16`` /
    ``mixed_bfloat16``); masked scores are replaced (``where``), in float32, by a value
    below any score, never offset by a dtype-dependent constant, so they get exactly 0.

    Args:
        units: Size of the hidden vectors ``h`` of additive attention.
        attention_width: Width ``w`` of local attention, an int >= 1, or ``None`` for
            global attention. (The original stores ``10**9`` here for ``history_only``
            without a width; such configs load and mean global causal attention.)
        attention_type: ``'additive'`` (``SeqSelfAttention.ATTENTION_TYPE_ADD``) or
            ``'multiplicative'`` (``SeqSelfAttention.ATTENTION_TYPE_MUL``).
        return_attention: Also return the attention weights ``a``.
        history_only: Causal attention: query ``t`` only sees keys ``t' <= t``.
        kernel_initializer: Initializer of ``Wt``, ``Wx`` and ``Wa``.
        bias_initializer: Initializer of ``bh`` and ``ba``.
        kernel_regularizer: Regularizer of ``Wt``, ``Wx`` and ``Wa``.
        bias_regularizer: Regularizer of ``bh`` and ``ba``.
        kernel_constraint: Constraint of ``Wt``, ``Wx`` and ``Wa``.
        bias_constraint: Constraint of ``bh`` and ``ba``.
        use_additive_bias: Use ``bh`` (additive attention).
        use_attention_bias: Use ``ba``.
        attention_activation: Activation applied to the scores ``e``.
        attention_regularizer_weight: Weight ``lambda >= 0`` of the regulariser
            ``lambda * ||A A^T - I||_F^2 / batch`` added with ``add_loss``.
        dense_max_length: Local attention over sequences of at most this many positions is
            computed densely (the ``(T, T)`` scores, the window masked), longer ones on the
            band; 0 puts every length on the band. Either way gives the same numbers: this
            only picks the faster computation, and is saved only when not the default.
        block_elements: Global attention takes its queries in rematerialised blocks of
            about this many (query, key[, unit]) elements, 8 queries at least; 1 gives blocks
            of 8. The same numbers at any value (saved only when not the default).
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: Float tensor of shape ``(batch, T, d)``.
        mask: Optional boolean tensor of shape ``(batch, T)``; ``False`` marks padding.

    Returns:
        ``l`` of shape ``(batch, T, d)``, or ``[l, a]`` with ``return_attention=True``,
        where ``a`` has shape ``(batch, T, T)`` and ``a[b, t, t']`` is the weight of key
        ``t'`` for query ``t``. The input mask is passed on to ``l``.
    """

    ATTENTION_TYPE_ADD = _ADD
    ATTENTION_TYPE_MUL = _MUL

    def __init__(
        self,
        units=32,
        attention_width=None,
        attention_type=ATTENTION_TYPE_ADD,
        return_attention=False,
        history_only=False,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_additive_bias=True,
        use_attention_bias=True,
        attention_activation=None,
        attention_regularizer_weight=0.0,
        dense_max_length=_SHORT,
        block_elements=_BLOCK_ELEMENTS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_type not in (_ADD, _MUL):
            raise ValueError(
                f"SeqSelfAttention: attention_type must be one of {_ADD!r} "
                f"(SeqSelfAttention.ATTENTION_TYPE_ADD) or {_MUL!r} "
                f"(SeqSelfAttention.ATTENTION_TYPE_MUL); received {attention_type!r}."
            )
        if attention_width is not None:
            if (
                isinstance(attention_width, bool)
                or not isinstance(attention_width, numbers.Real)
                or int(attention_width) != attention_width
                or attention_width < 1
            ):
                raise ValueError(
                    "SeqSelfAttention: attention_width must be None (global attention) "
                    f"or an integer >= 1; received {attention_width!r}."
                )
            attention_width = int(attention_width)
        if (
            isinstance(units, bool)
            or not isinstance(units, numbers.Integral)
            or units < 1
        ):
            raise ValueError(
                f"SeqSelfAttention: units must be an integer >= 1; received {units!r}."
            )
        if (
            not isinstance(attention_regularizer_weight, numbers.Real)
            or not attention_regularizer_weight >= 0.0
        ):
            raise ValueError(
                "SeqSelfAttention: attention_regularizer_weight must be a number >= 0 "
                f"(0 disables the regulariser); received {attention_regularizer_weight!r}."
            )
        self.supports_masking = True
        self.units = int(units)
        self.attention_width = attention_width
        self.attention_type = attention_type
        self.return_attention = bool(return_attention)
        self.history_only = bool(history_only)
        self.use_additive_bias = bool(use_additive_bias)
        self.use_attention_bias = bool(use_attention_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.attention_activation = (
            None if attention_activation is None else keras.activations.get(attention_activation)
        )
        self.attention_regularizer_weight = float(attention_regularizer_weight)
        for name, value, least in (("dense_max_length", dense_max_length, 0),
                                   ("block_elements", block_elements, 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                    or value < least:
                raise ValueError(f"SeqSelfAttention: {name} must be an integer >= {least}; "
                                 f"received {value!r}.")
        # Which computation runs, not what it computes (see Args).
        self.dense_max_length = int(dense_max_length)
        self.block_elements = int(block_elements)
        self.Wt = self.Wx = self.bh = self.Wa = self.ba = None

    # ------------------------------------------------------------------ weights
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                "SeqSelfAttention expects inputs of shape (batch, time, features), "
                f"i.e. rank 3; received shape {input_shape} (rank {len(input_shape)})."
            )
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                "SeqSelfAttention expects inputs of shape (batch, time, features) with a "
                f"known number of features; received shape {input_shape}."
            )
        feature_dim = int(feature_dim)

        def kernel(suffix, shape):
            return self.add_weight(
                name=f"{self.name}_{suffix}",
                shape=shape,
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )

        def bias(suffix, shape):
            return self.add_weight(
                name=f"{self.name}_{suffix}",
                shape=shape,
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

        # Same order, shapes and names as keras-self-attention 0.51.
        if self.attention_type == _ADD:
            self.Wt = kernel("Add_Wt", (feature_dim, self.units))
            self.Wx = kernel("Add_Wx", (feature_dim, self.units))
            if self.use_additive_bias:
                self.bh = bias("Add_bh", (self.units,))
            self.Wa = kernel("Add_Wa", (self.units, 1))
            if self.use_attention_bias:
                self.ba = bias("Add_ba", (1,))
        else:
            self.Wa = kernel("Mul_Wa", (feature_dim, feature_dim))
            if self.use_attention_bias:
                self.ba = bias("Mul_ba", (1,))

    # ------------------------------------------------------------------ call
    def call(self, inputs, mask=None):
        if len(inputs.shape) != 3:
            raise ValueError(
                "SeqSelfAttention expects inputs of shape (batch, time, features), "
                f"i.e. rank 3; received shape {tuple(inputs.shape)} "
                f"(rank {len(inputs.shape)})."
            )
        x = inputs
        if keras.backend.standardize_dtype(x.dtype) != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        key_mask = None if mask is None else ops.cast(mask, "bool")
        if key_mask is not None and len(key_mask.shape) == 3:  # e.g. (batch, T, 1)
            key_mask = ops.squeeze(key_mask, axis=-1)

        width = self.attention_width
        t_static = x.shape[1]
        if width is None:
            band = False
        elif t_static is not None:
            band = width < t_static and t_static > self.dense_max_length
        else:
            band = width <= _DYNAMIC_BAND_LIMIT

        need_attention = self.return_attention or self.attention_regularizer_weight > 0.0
        if band and t_static is None and not need_attention:
            # Length known only when run (TF graphs): short batches take the dense path.
            output = ops.cond(
                ops.shape(x)[1] <= self.dense_max_length,
                lambda: self._call_global(x, key_mask, False, blocked=False)[0],
                lambda: self._call_band(x, key_mask, False)[0])
            attention = reg = None
        elif band:
            output, attention, reg = self._call_band(x, key_mask, need_attention)
        else:
            output, attention, reg = self._call_global(x, key_mask, need_attention)
        if reg is not None:
            self.add_loss(self.attention_regularizer_weight * reg)
        if self.return_attention:
            return [output, ops.cast(attention, self.compute_dtype)]
        return output

    # Parameters as tensors of the compute dtype, in a fixed order.
    def _params(self):
        dtype = self.compute_dtype
        names = ("Wt", "Wx", "bh", "Wa", "ba")
        return {
            n: ops.cast(getattr(self, n), dtype) for n in names if getattr(self, n) is not None
        }

    def _activate(self, e):
        if self.attention_activation is not None:
            e = self.attention_activation(e)
        return e

    def _window_valid(self, q_pos, k_pos):
        """Boolean window of queries ``q_pos[:, None]`` over keys ``k_pos[None, :]``."""
        return window_valid(q_pos, k_pos, self.attention_width, self.history_only)

    def _query_block(self, t_static):
        if t_static is None:
            return _DYNAMIC_BLOCK[self.attention_type], True
        # Multiplicative blocks hold no units axis: 4x more queries per block.
        per_pair = self.units if self.attention_type == _ADD else 0.25
        block = max(8, int(self.block_elements // (t_static * per_pair)) // 8 * 8)
        return block, block < t_static

    # -------------------------------------------------------- global attention
    def _call_global(self, x, key_mask, need_attention, blocked=None):
        """Every query against every key (the window, if any, as a mask); in rematerialised
        query blocks when T is long or unknown, unless ``blocked`` is False."""
        params = self._params()
        names = tuple(params)
        t = _dim(x, 1)
        if self.attention_type == _ADD:
            q = ops.matmul(x, params["Wt"])
            keys = ops.matmul(x, params["Wx"])
        else:
            q = ops.matmul(x, params["Wa"])
            keys = x
        # Every window holds its own query, so rows can only be empty with a mask.
        masked = key_mask is not None
        key_maskf = (
            ops.ones(ops.shape(x)[:2], dtype=x.dtype)
            if key_mask is None
            else ops.cast(key_mask, x.dtype)
        )

        def block(q_blk, q_pos, keys, x, key_maskf, *values):
            # Positions travel as floats: the rematerialised block watches its arguments for
            # gradients, and TensorFlow warns on every call about an integer one.
            q_pos = ops.cast(q_pos, "int32")
            p = dict(zip(names, values))
            if self.attention_type == _ADD:
                pre = ops.expand_dims(q_blk, 2) + ops.expand_dims(keys, 1)
                if "bh" in p:
                    pre = pre + p["bh"]
                e = ops.squeeze(ops.matmul(ops.tanh(pre), p["Wa"]), -1)
            else:
                e = ops.matmul(q_blk, ops.transpose(keys, (0, 2, 1)))
            if "ba" in p:
                e = e + p["ba"][0]
            e = self._activate(e)
            valid = None
            if self.history_only or self.attention_width is not None:
                k_pos = ops.arange(ops.shape(keys)[1])
                valid = ops.expand_dims(self._window_valid(q_pos, k_pos), 0)
            if masked:
                key_valid = ops.expand_dims(key_maskf > 0.5, 1)
                valid = key_valid if valid is None else ops.logical_and(valid, key_valid)
            a = _masked_softmax(e, valid, may_be_empty=masked)
            if need_attention:
                return a
            return ops.matmul(ops.cast(a, x.dtype), x)

        size, long = self._query_block(x.shape[1])
        blocked = long if blocked is None else blocked
        args = (keys, x, key_maskf) + tuple(params[n] for n in names)
        if not blocked:
            out = block(q, ops.arange(t), *args)
        else:
            n_blocks = _ceil_div(t, size)
            padded = n_blocks * size
            q_p = ops.pad(q, [[0, 0], [0, padded - t], [0, 0]])
            q_b = ops.reshape(q_p, (-1, n_blocks, size, q.shape[-1]))
            q_b = ops.transpose(q_b, (1, 0, 2, 3))  # (n_blocks, batch, size, f)
            pos = ops.cast(ops.reshape(ops.arange(padded), (n_blocks, size)), "float32")
            remat_block = keras.remat(block)
            out = ops.map(lambda el: remat_block(el[0], el[1], *args), (q_b, pos))
            out = ops.transpose(out, (1, 0, 2, 3))  # (batch, n_blocks, size, f)
            out = ops.reshape(out, (-1, padded, _dim(out, -1)))[:, :t]

        if not need_attention:
            return out, None, None
        attention = out
        output = ops.matmul(ops.cast(attention, x.dtype), x)
        reg = None
        if self.attention_regularizer_weight > 0.0:
            reg = self._dense_regulariser(attention, key_mask)
        return output, attention, reg

    @staticmethod
    def _dense_regulariser(attention, key_mask):
        """``||A_m A_m^T - D||_F^2 / batch`` in float32 (``A_m``: real query rows)."""
        a = ops.cast(attention, "float32")
        t = _dim(a, 1)
        eye = ops.eye(t, dtype="float32")
        if key_mask is not None:
            qm = ops.cast(key_mask, "float32")
            a = a * ops.expand_dims(qm, -1)
            eye = eye * ops.expand_dims(qm, -1)
        g = ops.matmul(a, ops.transpose(a, (0, 2, 1)))
        batch = ops.cast(ops.shape(a)[0], "float32")
        return ops.sum(ops.square(g - eye)) / batch

    # ---------------------------------------------------------- band attention
    def _call_band(self, x, key_mask, need_attention):
        params = self._params()
        w = self.attention_width
        left = window_before(w, self.history_only)  # keys before the query
        right = w - 1 - left
        t = _dim(x, 1)
        d = x.shape[-1]
        chunk = max(_MIN_CHUNK, w)
        n_chunks = _ceil_div(t, chunk)
        padded = n_chunks * chunk
        # Key index (in keys padded by `left`) of band slot j of query i: i + j.
        band_idx = ops.expand_dims(ops.arange(t), 1) + ops.expand_dims(ops.arange(w), 0)

        def frames(y):
            """(batch, T, f) -> (batch * n_chunks, chunk + w - 1, f): chunk's keys."""
            f = y.shape[-1]
            y_p = ops.pad(y, [[0, 0], [left, padded + chunk - left - t], [0, 0]])
            main = ops.reshape(y_p[:, :padded], (-1, chunk, f))
            if w == 1:
                return main
            nxt = ops.reshape(y_p[:, chunk : padded + chunk], (-1, chunk, f))
            return ops.concatenate([main, nxt[:, : w - 1]], axis=1)

        def chunks(y):
            """(batch, T, ...) -> (batch * n_chunks, chunk, ...), zero padded."""
            pad = [[0, 0], [0, padded - t]] + [[0, 0]] * (len(y.shape) - 2)
            return ops.reshape(ops.pad(y, pad), (-1, chunk) + tuple(y.shape[2:]))

        x_frames = frames(x)
        if self.attention_type == _ADD:
            q = ops.matmul(x, params["Wt"])
            k = ops.matmul(x, params["Wx"])
            k_p = ops.pad(k, [[0, 0], [left, right], [0, 0]])
            k_band = ops.take(k_p, band_idx, axis=1)  # (batch, T, w, units)
            pre = ops.expand_dims(q, 2) + k_band
            if "bh" in params:
                pre = pre + params["bh"]
            e = ops.squeeze(ops.matmul(ops.tanh(pre), params["Wa"]), -1)  # (batch, T, w)
        else:
            q = chunks(ops.matmul(x, params["Wa"]))  # (batch * n, chunk, d)
            e_dense = ops.matmul(q, ops.transpose(x_frames, (0, 2, 1)))
            e = ops.reshape(_unskew(e_dense, chunk, w), (-1, padded, w))[:, :t]
        if "ba" in params:
            e = e + params["ba"][0]
        e = self._activate(e)

        k_pos = band_idx - left
        valid = ops.expand_dims(ops.logical_and(k_pos >= 0, k_pos < t), 0)
        if key_mask is not None:
            m_p = ops.pad(ops.cast(key_mask, "float32"), [[0, 0], [left, right]])
            valid = ops.logical_and(valid, ops.take(m_p, band_idx, axis=1) > 0.5)
        a = _masked_softmax(e, valid, may_be_empty=key_mask is not None)  # (batch, T, w)

        a_skew = _skew(chunks(a), chunk, w)  # (batch * n, chunk, chunk + w - 1)
        out = ops.matmul(ops.cast(a_skew, x.dtype), x_frames)
        out = ops.reshape(out, (-1, padded, d))[:, :t]

        attention = reg = None
        if self.return_attention:
            # Scatter the band into the dense (batch, T, T) matrix (T**2 memory).
            dense = ops.pad(a, [[0, 0], [0, 0], [0, t]])  # (batch, T, T + w)
            dense = ops.reshape(dense, (-1, t * (t + w)))[:, : t * (t + w - 1)]
            attention = ops.reshape(dense, (-1, t, t + w - 1))[:, :, left : left + t]
        if self.attention_regularizer_weight > 0.0:
            qm = ops.ones(ops.shape(x)[:2], dtype="float32")
            if key_mask is not None:
                qm = ops.cast(key_mask, "float32")
            reg = self._band_regulariser(a_skew, qm, t, padded, chunk, w)
        return out, attention, reg

    @staticmethod
    def _band_regulariser(a_skew, query_mask, t, padded, chunk, w):
        """``||A_m A_m^T - D||_F^2 / batch`` from the skewed band, in O(T * chunk).

        ``A A^T`` is banded: chunk ``i``'s rows only meet chunks ``i`` and ``i + 1``
        (``chunk >= w - 1``), through the ``w - 1`` keys the two chunks share.
        """
        a = ops.cast(a_skew, "float32")
        qm = ops.pad(query_mask, [[0, 0], [0, padded - t]])  # padding rows are not real
        qm = ops.reshape(qm, (-1, chunk))  # (batch * n_chunks, chunk)
        a = a * ops.expand_dims(qm, -1)
        gram = ops.matmul(a, ops.transpose(a, (0, 2, 1)))  # diagonal blocks
        diag = ops.expand_dims(ops.eye(chunk, dtype="float32"), 0) * ops.expand_dims(qm, -1)
        total = ops.sum(ops.square(gram - diag))
        n_chunks = padded // chunk
        if w > 1:
            a4 = ops.reshape(a, (-1, n_chunks, chunk, chunk + w - 1))
            tail = a4[:, :-1, :, chunk:]  # keys shared with the next chunk
            head = a4[:, 1:, :, : w - 1]
            cross = ops.matmul(tail, ops.transpose(head, (0, 1, 3, 2)))
            total = total + 2.0 * ops.sum(ops.square(cross))
        batch = ops.cast(ops.shape(a)[0], "float32") / ops.cast(n_chunks, "float32")
        return total / batch

    # ------------------------------------------------------------ shape, mask
    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.return_attention:
            return [input_shape, (input_shape[0], input_shape[1], input_shape[1])]
        return input_shape

    def compute_mask(self, inputs, mask=None):
        if self.return_attention:
            return [mask, None]
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "attention_width": self.attention_width,
                "attention_type": self.attention_type,
                "return_attention": self.return_attention,
                "history_only": self.history_only,
                "use_additive_bias": self.use_additive_bias,
                "use_attention_bias": self.use_attention_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "attention_activation": (
                    None
                    if self.attention_activation is None
                    else keras.activations.serialize(self.attention_activation)
                ),
                "attention_regularizer_weight": self.attention_regularizer_weight,
            }
        )
        # The switches of the computation, only when not the default: a saved layer's config
        # stays the original's.
        for name, default in (("dense_max_length", _SHORT),
                              ("block_elements", _BLOCK_ELEMENTS)):
            if getattr(self, name) != default:
                config[name] = getattr(self, name)
        return config

    @staticmethod
    def get_custom_objects():
        """Every layer registered under the ``seqlab`` package, by class name.

        For ``keras.models.load_model(path, custom_objects=...)`` of models saved with
        keras-self-attention (whose configs name the class without a package).
        """
        from seqlab.layers import get_custom_objects

        return get_custom_objects()
