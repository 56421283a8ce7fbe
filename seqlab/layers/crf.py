"""A linear-chain conditional random field (CRF) for Keras 3, written with ``keras.ops`` only.

The CRF scores a tag path ``y_1 .. y_n`` of a sequence with unary potentials ("emissions")
``e_t`` as::

    score(y) = start[y_1] + sum_t e_t[y_t] + sum_t transitions[y_{t-1}, y_t] + end[y_n]

and trains by the negative log-likelihood ``log Z - score(gold)``, where ``log Z`` (the
log-sum-exp of the scores of every path) comes from the forward algorithm. Prediction is the
best path by Viterbi, and per-token tag probabilities come from forward-backward.

How it fits a Keras model:

* ``CRF`` is the model's last layer. Its ``call`` passes the emissions through unchanged (in
  float32) together with the padding mask, so ``model.predict`` gives emissions.
* ``crf.loss`` (a ``CRFLoss`` bound to the layer) is the loss to ``compile`` with. Keras 3
  attaches the propagated output mask to ``y_pred``; ``CRFLoss.__call__`` reads it there, so
  padded positions never count (labels may be padded with any id, or with -1).
* ``crf.decode(emissions, mask)`` and ``crf.marginals(emissions, mask)`` turn the emissions
  into best paths and tag probabilities; they take NumPy arrays or tensors.

Decoding constraints: with ``labels`` and ``scheme`` the layer forbids the transitions the tag
scheme does not allow (an ``I-X`` after ``O`` in IOB2, ...; see
``seqlab.schemes.allowed_transitions``).
Forbidden transitions get a large negative score (a finite one, so no ``inf - inf``) in
``decode`` and ``marginals``, and also in the loss when ``constrain_training=True``.

Padding: positions where the mask is False are skipped. Masks are normally a prefix (padding
at the end), but holes are handled too: the chain links the valid positions around them.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from seqlab.compat import keras_mask
from seqlab.schemes import allowed_transitions

__all__ = ["CRF", "CRFLoss"]

# Score given to a forbidden transition: far below any path score a model produces, and finite,
# so forbidden paths add exactly 0 to log Z in float32 and never turn into NaN.
_PENALTY = -1.0e5
_START = "<start>"
_END = "<end>"


def _constraint_arrays(num_tags, labels, scheme, forbidden):
    """The (start, transitions, end) allowed masks from a scheme and/or forbidden pairs."""
    if labels is not None and scheme is not None:
        start, allowed, end = allowed_transitions(labels, scheme)
    else:
        start = np.ones(num_tags, dtype=bool)
        allowed = np.ones((num_tags, num_tags), dtype=bool)
        end = np.ones(num_tags, dtype=bool)
    index = {label: i for i, label in enumerate(labels or [])}

    def tag_id(value, special):
        if value == special:
            return None
        if isinstance(value, str):
            if value not in index:
                raise ValueError(f"forbidden transition names unknown label {value!r}")
            return index[value]
        value = int(value)
        if not 0 <= value < num_tags:
            raise ValueError(f"forbidden transition names tag id {value}, "
                             f"but there are {num_tags} tags")
        return value

    for pair in forbidden or ():
        a, b = pair
        i, j = tag_id(a, _START), tag_id(b, _END)
        if i is None and j is None:
            raise ValueError(f"forbidden transition {pair!r} links {_START} to {_END}")
        if i is None:
            start[j] = False
        elif j is None:
            end[i] = False
        else:
            allowed[i, j] = False
    return start, allowed, end


# ---------------------------------------------------------------------------------------------
# The CRF computations, time-major, on backend tensors
# ---------------------------------------------------------------------------------------------

def _standardize(emissions, mask, tags, dtype):
    """Time-major float emissions (T, B, K), bool mask (T, B) and int32 tags (T, B)."""
    emissions = ops.cast(ops.convert_to_tensor(emissions), dtype)
    shape = ops.shape(emissions)
    valid = ops.ones(shape[:2], dtype="bool") if mask is None else ops.cast(
        ops.convert_to_tensor(mask), "bool")
    if tags is not None:
        tags = ops.convert_to_tensor(tags)
        if len(tags.shape) == 3:
            tags = ops.squeeze(tags, axis=-1)
        tags = ops.cast(tags, "int32")
        valid = ops.logical_and(valid, tags >= 0)  # labels padded with -1 count as padding
        tags = ops.clip(tags, 0, emissions.shape[-1] - 1)
        tags = ops.transpose(tags, (1, 0))
    return ops.transpose(emissions, (1, 0, 2)), ops.transpose(valid, (1, 0)), tags


def _pack(emissions, *columns):
    """One time-major tensor (T, B, K + n) of the emissions and extra (T, B) columns.

    ``keras.ops.scan`` on TensorFlow fails on several sequences when the time length is unknown
    (Keras 3.15 checks their static lengths against each other), so every scan gets one.
    """
    extra = [ops.cast(c, emissions.dtype)[:, :, None] for c in columns]
    return ops.concatenate([emissions] + extra, axis=-1)


def _ranks(valid):
    """How many valid positions each sequence has up to and including each position, (T, B):
    a valid position's rank in its sequence (1 for the first)."""
    return ops.cumsum(ops.cast(valid, "int32"), axis=0)


def _gold_score(emissions, valid, ranks, tags, transitions, start, end):
    """The score of each gold path (B,), over all positions at once (0 for empty sequences).

    Each valid position adds its emission and its link: ``start`` at the first, else the
    transition from the tag at the valid position ranked just before it (whatever masked
    positions lie between); the last adds ``end``. The previous tags come from a (T, T, B)
    match of ranks, ``[t, s]``: s is valid and ranked just before t.
    """
    k = emissions.shape[-1]
    before = ops.logical_and(valid[None], ranks[None] == ranks[:, None] - 1)
    previous = ops.sum(ops.where(before, tags[None], 0), axis=1)
    link = ops.where(ranks > 1, ops.take(ops.reshape(transitions, (-1,)), previous * k + tags),
                     ops.take(start, tags))
    emitted = ops.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0]
    last = ranks == ranks[-1:]  # (and the masked positions after it, left out below)
    scores = emitted + link + ops.where(last, ops.take(end, tags), 0.0)
    return ops.sum(ops.where(valid, scores, 0.0), axis=0)


def _start_and_steps(emissions, valid, ranks, start):
    """Where the forward algorithm and Viterbi begin, and what they loop over: ``start + e``
    of each sequence's first valid position (B, K) (``start`` for an empty one), and the
    emissions packed (``_pack``) with a column marking the valid positions after it."""
    first = ops.logical_and(valid, ranks == 1)
    begin = start[None] + ops.sum(ops.where(first[:, :, None], emissions, 0.0), axis=0)
    return begin, _pack(emissions, ops.logical_and(valid, ranks > 1))


def _forward(emissions, valid, ranks, transitions, start, keep_all=False):
    """The forward algorithm over time-major inputs; ``ranks`` comes from ``_ranks``.

    Returns ``(final alpha (B, K), alphas (T, B, K) or None)``. ``alpha`` starts as ``start +
    e`` of each sequence's first valid position (``start`` for an empty one), so the loop only
    steps at the valid positions after it; ``alphas[t]`` includes ``e_t`` from that position on
    (holds the starting value before it) and stays unchanged over masked positions.
    ``alphas`` is only kept with ``keep_all`` (``keras.ops.scan``); the loss needs the final
    values only and loops with ``keras.ops.fori_loop`` from position 1 (position 0 follows
    nothing), stacking nothing.
    """
    k = emissions.shape[-1]
    alpha, packed = _start_and_steps(emissions, valid, ranks, start)
    transitions = transitions[None]

    def step(alpha, x):
        new = ops.logsumexp(alpha[:, :, None] + transitions, axis=1) + x[:, :k]
        return ops.where(x[:, k:] > 0.5, new, alpha)

    if keep_all:
        return ops.scan(lambda alpha, x: (step(alpha, x),) * 2, alpha, packed)
    return ops.fori_loop(1, ops.shape(packed)[0], lambda i, alpha: step(alpha, packed[i]),
                         alpha), None


def _log_partition(alpha, valid, end):
    """log Z of each sequence from the final forward variables (0 for empty sequences)."""
    log_z = ops.logsumexp(alpha + end[None], axis=-1)
    return ops.where(ops.any(valid, axis=0), log_z, ops.zeros_like(log_z))


def crf_nll(emissions, tags, mask, transitions, start, end, dtype="float32"):
    """Negative log-likelihood of each gold path: ``log Z - score(tags)``, shape (batch,).

    ``emissions`` (B, T, K), ``tags`` (B, T) int (negative ids count as padding), ``mask``
    (B, T) bool or None; empty sequences get 0.
    """
    em, valid, tags = _standardize(emissions, mask, tags, dtype)
    ranks = _ranks(valid)
    alpha, _ = _forward(em, valid, ranks, transitions, start)
    return (_log_partition(alpha, valid, end)
            - _gold_score(em, valid, ranks, tags, transitions, start, end))


def crf_decode(emissions, mask, transitions, start, end, dtype="float32"):
    """Viterbi: the best path of each sequence (B, T) int32 (0 at padding) and its score (B,).

    As in ``_forward``, ``delta`` starts as ``start + e`` of each sequence's first valid
    position, and the loop steps only at the valid positions after it
    (`_start_and_steps`); elsewhere a step's backpointers are the identity, so the
    backtrace carries the tag across them. A step is a few small ops: on one CPU core
    their number, not their arithmetic, sets decoding's time.
    """
    em, valid, _ = _standardize(emissions, mask, None, dtype)
    batch = ops.shape(em)[1]
    k = em.shape[-1]
    identity = ops.broadcast_to(ops.arange(k, dtype="int32")[None], (batch, k))
    delta, packed = _start_and_steps(em, valid, _ranks(valid), start)
    transitions = transitions[None]  # (1, from, to)

    def step(carry, x):
        delta = carry[0]
        scores = delta[:, :, None] + transitions
        stepping = x[:, k:] > 0.5
        back = ops.where(stepping, ops.cast(ops.argmax(scores, axis=1), "int32"), identity)
        carry = ops.where(stepping, ops.max(scores, axis=1) + x[:, :k], delta), back
        return carry, carry  # (Keras' scan on TensorFlow stacks what has the carry's dtypes)

    (delta, _), (_, backs) = ops.scan(step, (delta, identity), packed)
    final = delta + end[None]
    last = ops.cast(ops.argmax(final, axis=-1), "int32")
    started = ops.any(valid, axis=0)
    best = ops.where(started, ops.max(final, axis=-1), ops.zeros((batch,), dtype=em.dtype))
    offsets = ops.arange(batch, dtype="int32") * k

    def back_step(tag, back):
        return ops.take(ops.reshape(back, (-1,)), offsets + tag), tag

    _, path = ops.scan(back_step, last, backs, reverse=True)
    path = ops.where(valid, path, ops.zeros_like(path))
    return ops.transpose(path, (1, 0)), best


def crf_marginals(emissions, mask, transitions, start, end, dtype="float32"):
    """Forward-backward: P(y_t = k | x) of each position, (B, T, K); 0 at padding."""
    em, valid, _ = _standardize(emissions, mask, None, dtype)
    alpha, alphas = _forward(em, valid, _ranks(valid), transitions, start, keep_all=True)
    log_z = _log_partition(alpha, valid, end)
    batch = ops.shape(em)[1]
    k = em.shape[-1]

    def back_step(beta, x):
        e, m = x[:, :k], x[:, k] > 0.5
        before = ops.logsumexp(transitions[None] + (e + beta)[:, None, :], axis=2)
        return ops.where(m[:, None], before, beta), beta

    init = ops.broadcast_to(end[None], (batch, k))
    _, betas = ops.scan(back_step, init, _pack(em, valid), reverse=True)
    probs = ops.exp(alphas + betas - log_z[None, :, None])
    probs = ops.where(valid[:, :, None], probs, ops.zeros_like(probs))
    return ops.transpose(probs, (1, 0, 2))


# ---------------------------------------------------------------------------------------------
# The layer and its loss
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="seqlab")
class CRF(keras.layers.Layer):
    """Linear-chain CRF output layer: passes emissions through; trains and decodes a tag chain.

    Args:
        labels: tag names in label-id order (optional; needed for ``scheme`` and for naming
            tags in ``forbidden``). When given, the emissions must have ``len(labels)`` units.
        scheme: tag scheme whose invalid transitions are forbidden (``iob1``, ``iob2``,
            ``iobes``, ``bilou``, aliases, or ``plain``/``None`` for none); needs ``labels``.
        forbidden: extra forbidden transitions, ``(from, to)`` pairs of tag ids or label names;
            ``"<start>"`` as ``from`` / ``"<end>"`` as ``to`` forbid starting / ending a
            sequence with a tag.
        constrain_training: also apply the constraints in the loss (default: only in
            ``decode`` and ``marginals``). Gold paths that break them then cost about 1e5 each.
        transitions_initializer, boundary_initializer: initializers of ``transitions`` and of
            ``start``/``end`` (default zeros).
        transitions_regularizer: optional regularizer of ``transitions``.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Weights: ``transitions`` (K, K) (``[i, j]`` scores tag ``j`` right after tag ``i``),
    ``start`` (K,), ``end`` (K,).

    Call arguments:
        inputs: emissions (unary scores, not probabilities), (batch, time, K).
        mask: optional (batch, time) bool padding mask (propagated by Keras).

    Returns:
        The emissions, unchanged, in float32 (float64 under a float64 policy), with the mask.
        The CRF math always runs in float32 or wider, also under ``mixed_float16``.
    """

    def __init__(self, labels=None, scheme=None, forbidden=None, constrain_training=False,
                 transitions_initializer="zeros", boundary_initializer="zeros",
                 transitions_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.labels = [str(label) for label in labels] if labels is not None else None
        if scheme is not None and self.labels is None:
            raise ValueError("CRF(scheme=...) needs labels to know which tag is which")
        self.scheme = scheme
        self.forbidden = [list(pair) for pair in forbidden] if forbidden else None
        if self.forbidden and any(len(pair) != 2 for pair in self.forbidden):
            raise ValueError(f"forbidden must hold (from, to) pairs, got {forbidden!r}")
        self.constrain_training = bool(constrain_training)
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.boundary_initializer = keras.initializers.get(boundary_initializer)
        self.transitions_regularizer = keras.regularizers.get(transitions_regularizer)
        self.supports_masking = True
        self.num_tags = len(self.labels) if self.labels is not None else None
        if self.labels is not None:  # fail early on a bad scheme or pair
            self._allowed = _constraint_arrays(self.num_tags, self.labels, scheme,
                                               self.forbidden)

    @property
    def crf_dtype(self):
        """The dtype of the CRF computations: float32, or float64 under a float64 policy."""
        return "float64" if self.variable_dtype == "float64" else "float32"

    def build(self, input_shape):
        k = input_shape[-1]
        if k is None:
            raise ValueError("CRF needs the number of tags (the last input axis) to be known")
        if self.num_tags is not None and k != self.num_tags:
            raise ValueError(f"CRF has {self.num_tags} labels but its input has {k} units")
        self.num_tags = int(k)
        self._allowed = _constraint_arrays(self.num_tags, self.labels, self.scheme,
                                           self.forbidden)
        self.transitions = self.add_weight(
            name="transitions", shape=(k, k), initializer=self.transitions_initializer,
            regularizer=self.transitions_regularizer, dtype=self.crf_dtype)
        self.start = self.add_weight(name="start", shape=(k,),
                                     initializer=self.boundary_initializer,
                                     dtype=self.crf_dtype)
        self.end = self.add_weight(name="end", shape=(k,), initializer=self.boundary_initializer,
                                   dtype=self.crf_dtype)

    def call(self, inputs, mask=None):
        return ops.cast(inputs, self.crf_dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, mask=None):
        return keras.KerasTensor(inputs.shape, dtype=self.crf_dtype)

    @property
    def constrained(self) -> bool:
        """Whether any transition, start or end is forbidden."""
        return not all(np.all(a) for a in self._allowed)

    def potentials(self, constrained=True):
        """``(transitions, start, end)`` in the CRF dtype; forbidden entries set to -1e5 when
        ``constrained``."""
        dtype = self.crf_dtype
        weights = [ops.cast(w, dtype) for w in (self.transitions, self.start, self.end)]
        if not constrained or not self.constrained:
            return tuple(weights)
        penalty = ops.convert_to_tensor(_PENALTY, dtype=dtype)
        return tuple(ops.where(ops.convert_to_tensor(a), w, penalty)
                     for a, w in zip((self._allowed[1], self._allowed[0], self._allowed[2]),
                                     weights))

    def _mask_of(self, emissions, mask):
        if mask is None:
            mask = keras_mask(emissions)
        return mask

    def nll(self, tags, emissions, mask=None):
        """Negative log-likelihood of each gold tag path, (batch,) (0 for empty sequences).

        Args:
            tags: gold tag ids (batch, time); ids < 0 count as padding.
            emissions: (batch, time, K), the layer's output.
            mask: (batch, time) bool; defaults to the Keras mask on ``emissions``, else none.
        """
        transitions, start, end = self.potentials(self.constrain_training)
        return crf_nll(emissions, tags, self._mask_of(emissions, mask), transitions, start, end,
                       self.crf_dtype)

    def decode(self, emissions, mask=None, return_score=False):
        """Best tag path of each sequence by Viterbi, (batch, time) int32, 0 at padding.

        Takes NumPy arrays or tensors; ``mask`` (batch, time) bool defaults to the Keras mask
        on ``emissions``, else every position counts. With ``return_score``, also returns
        each best path's score (batch,). Constraints (``scheme``, ``forbidden``) apply.
        Called eagerly on TensorFlow or JAX, it runs as a compiled function (traced once).
        """
        path, score = self._run("decode", emissions, mask)
        return (path, score) if return_score else path

    def marginals(self, emissions, mask=None):
        """P(tag k at position t | sentence) by forward-backward, (batch, time, K), 0 at padding.

        Constraints apply, as in ``decode``; compiled as ``decode`` is.
        """
        return self._run("marginals", emissions, mask)

    def _run(self, kind, emissions, mask):
        mask = self._mask_of(emissions, mask)
        dtype = self.crf_dtype
        emissions = ops.cast(ops.convert_to_tensor(emissions), dtype)
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], dtype="bool")
        mask = ops.cast(ops.convert_to_tensor(mask), "bool")
        return self._compiled(kind)(emissions, mask, *self.potentials(True))

    def _compiled(self, kind):
        """``crf_decode`` or ``crf_marginals`` as a function of (emissions, mask, transitions,
        start, end), compiled once per layer on TensorFlow (when eager) and JAX: eager
        TensorFlow runs the time loop op by op, about 100 times slower."""
        cache = self.__dict__.setdefault("_compiled_fns", _FunctionCache())
        fn = cache.get(kind)
        if fn is not None:
            return fn
        math = {"decode": crf_decode, "marginals": crf_marginals}[kind]
        dtype = self.crf_dtype

        def fn(emissions, mask, transitions, start, end):
            return math(emissions, mask, transitions, start, end, dtype)

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.executing_eagerly():
                return fn
            k = self.num_tags
            compiled = tf.function(fn, input_signature=[
                tf.TensorSpec((None, None, k), dtype), tf.TensorSpec((None, None), tf.bool),
                tf.TensorSpec((k, k), dtype), tf.TensorSpec((k,), dtype),
                tf.TensorSpec((k,), dtype)])
        elif backend == "jax":
            import jax

            compiled = jax.jit(fn)
        else:
            compiled = fn
        cache.set(kind, compiled)
        return compiled

    @property
    def loss(self):
        """A ``CRFLoss`` bound to this layer: ``model.compile(loss=crf.loss)``.

        Also callable directly: ``crf.loss(y_true, emissions, sample_weight=None, mask=None)``.
        """
        return CRFLoss(self)

    def get_config(self):
        config = super().get_config()
        config.update(
            labels=self.labels,
            scheme=self.scheme,
            forbidden=self.forbidden,
            constrain_training=self.constrain_training,
            transitions_initializer=keras.initializers.serialize(self.transitions_initializer),
            boundary_initializer=keras.initializers.serialize(self.boundary_initializer),
            transitions_regularizer=keras.regularizers.serialize(self.transitions_regularizer),
        )
        return config


class _FunctionCache:
    """Compiled functions of a layer, in an object Keras neither tracks nor saves."""

    def __init__(self):
        self._fns = {}

    def get(self, kind):
        return self._fns.get(kind)

    def set(self, kind, fn):
        self._fns[kind] = fn


@keras.saving.register_keras_serializable(package="seqlab")
class CRFLoss(keras.losses.Loss):
    """The CRF's negative log-likelihood as a Keras loss, masked by the model's output mask.

    Keras 3 leaves the propagated mask on ``y_pred`` (``y_pred._keras_mask``); Keras' own
    ``Loss.__call__`` would turn it into per-token weights, which do not apply to a per-sequence
    loss. This class reads the mask itself and gives it to the forward algorithm, so padded
    positions take no part in the loss whatever their label ids.

    Args:
        crf: the ``CRF`` layer whose weights score the transitions.
        normalize: ``"sequence"``: loss per sentence (the usual CRF loss); ``"token"``: the
            summed NLL divided by the number of (weighted) real tokens, on the scale of a
            per-token cross-entropy.
        reduction: for ``normalize="sequence"``, as in Keras: ``"sum_over_batch_size"``
            (mean over sentences, the default), ``"sum"``, ``"mean_with_sample_weight"``, or
            ``None``/``"none"`` for the per-sentence values. With ``"token"``, ``None``/
            ``"none"`` gives each sentence's NLL per token, anything else the weighted mean.
        name: the loss name.

    Call arguments:
        y_true: gold tag ids (batch, time) (or (batch, time, 1)); ids < 0 are padding too.
        y_pred: the CRF layer's output (batch, time, K).
        sample_weight: optional per-sentence weights (batch,) or (batch, 1).
        mask: optional (batch, time) bool mask; defaults to the Keras mask on ``y_pred``.

    Saved with a compiled model, it keeps only its options: a model loaded with
    ``compile=True`` must be compiled again with ``loss=model.get_layer(...).loss`` before it
    trains (seqlab loads with ``compile=False``).
    """

    def __init__(self, crf=None, normalize="sequence", reduction="sum_over_batch_size",
                 name="crf_loss", layer_name=None):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        if normalize not in ("sequence", "token"):
            raise ValueError(f"normalize must be 'sequence' or 'token', got {normalize!r}")
        # A weak reference, not an attribute Keras' saver would walk: the layer hands out
        # its loss (``crf.loss``), and a layer -> loss -> layer cycle recurses when loading.
        self._crf_ref = weakref.ref(crf) if crf is not None else None
        self.normalize = normalize
        self.layer_name = crf.name if crf is not None else layer_name

    def get_layer(self):
        """The CRF layer this loss belongs to."""
        crf = self._crf_ref() if self._crf_ref is not None else None
        if crf is None:
            raise ValueError(
                f"this CRFLoss has no CRF layer (restored from a saved model?); compile again "
                f"with loss=model.get_layer({self.layer_name!r}).loss")
        return crf

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        crf = self.get_layer()
        if mask is None:
            mask = keras_mask(y_pred)
        with keras.name_scope(self.name):
            nll = crf.nll(y_true, y_pred, mask)
            return self._reduce(nll, y_true, y_pred, mask, sample_weight)

    def call(self, y_true, y_pred):
        return self.get_layer().nll(y_true, y_pred)

    def _reduce(self, nll, y_true, y_pred, mask, sample_weight):
        dtype = nll.dtype
        weights = None
        if sample_weight is not None:
            weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
            if len(weights.shape) == 2 and weights.shape[-1] == 1:
                weights = ops.squeeze(weights, axis=-1)
            if len(weights.shape) > 1:
                raise ValueError("CRFLoss takes one sample weight per sentence, shape (batch,); "
                                 f"got shape {tuple(weights.shape)}")
        reduction = self.reduction
        if self.normalize == "token":
            y = ops.convert_to_tensor(y_true)
            if len(y.shape) == 3:
                y = ops.squeeze(y, axis=-1)
            valid = ops.convert_to_tensor(y) >= 0
            if mask is not None:
                valid = ops.logical_and(valid, ops.cast(ops.convert_to_tensor(mask), "bool"))
            lengths = ops.sum(ops.cast(valid, dtype), axis=-1)
            if reduction in (None, "none"):
                values = ops.divide_no_nan(nll, lengths)
                return values if weights is None else values * weights
            if weights is not None:
                nll, lengths = nll * weights, lengths * weights
            return ops.divide_no_nan(ops.sum(nll), ops.sum(lengths))
        if weights is not None:
            nll = nll * weights
        if reduction in (None, "none"):
            return nll
        total = ops.sum(nll)
        if reduction == "sum":
            return total
        if reduction == "mean_with_sample_weight" and weights is not None:
            return ops.divide_no_nan(total, ops.sum(weights))
        return ops.divide_no_nan(total, ops.cast(ops.shape(nll)[0], dtype))

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "normalize": self.normalize,
                "layer_name": self.layer_name}
