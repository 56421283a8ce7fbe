"""keras-multi-head 0.29's `MultiHead` and `MultiHeadAttention` for Keras 3, on any backend.

Same constructors, config formats, weights and numbers as ``keras_multi_head`` 0.29 (so its
trained weights and saved models load here), with these differences, each where the
original fails or is wrong under Keras 3:

`MultiHead`

* ``hidden_dim`` works: each copy is built for the projected input of ``hidden_dim``
  features it is called on (the original built the copies for the untransformed input and
  failed at the first call);
* the copies are made in ``__init__``, so ``get_config`` works before ``build`` (the
  original's listed no layers until then, and such a config could not be loaded);
* there is no unused template layer: the original built the layer it was given next to its
  ``layer_num`` copies, so under Keras 3 its ``weights`` and saved files held a dead extra
  set of weights (ignored when its files are loaded here);
* configs load: the original wrote its sub-layers without a ``module``, which Keras 3's
  ``keras.layers.deserialize`` cannot resolve, so its own ``.keras`` files did not load.
  Here such entries are resolved by class name (custom objects, then seqlab's layers,
  then ``keras.layers``), and the entries written also name their module;
* the regulariser is computed in ``call`` from the current weights, so it trains them;
  the original computed it once in ``build`` from ``get_weights()`` NumPy copies (a
  constant, without gradient) and under Keras 3 the loss was cleared at the first call.

`MultiHeadAttention`

* the error for a feature dimension not divisible by ``head_num`` is a ``ValueError``
  naming both numbers (the original raised ``IndexError``);
* models saved with it load: the original took the ``build_config`` shape of one input,
  a list ``[None, T, d]``, for a list of three shapes and failed;
* a padded key gets exactly 0 weight and a query with no valid key a zero attention row
  (see `ScaledDotProductAttention`, used here as in the original).

Only ``keras.ops`` are used, so the layers run on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import inspect
import numbers

import keras
from keras import ops

from seqlab.layers.attention import _dim
from seqlab.layers.scaled_dot import ScaledDotProductAttention, _is_shape_list

__all__ = ["ConcatHeads", "MultiHead", "MultiHeadAttention"]


def _has_arg(fn, name):
    parameter = inspect.signature(fn).parameters.get(name)
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def _is_int(value, minimum):
    return (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum
    )


def _slice_to_config(interval):
    return [interval.start, interval.stop, interval.step]


def _slices_to_config(reg_slice):
    """The original's JSON form: ``None``, ``[start, stop, step]`` or a list of those."""
    if not reg_slice:
        return None
    out = []
    for interval in reg_slice:
        if interval is None:
            out.append(None)
        elif isinstance(interval, slice):
            out.append(_slice_to_config(interval))
        else:
            out.append([_slice_to_config(sub) for sub in interval])
    return out


def _slices_from_config(reg_slice):
    if reg_slice is None:
        return None
    out = []
    for interval in reg_slice:
        if interval is None:
            out.append(None)
        elif len(interval) > 0 and isinstance(interval[0], (list, tuple)):
            out.append(tuple(slice(*sub) for sub in interval))
        else:
            out.append(slice(*interval))
    return out


def _serialize_layer(layer):
    """``{'class_name', 'config'}`` as the original wrote it, plus module/registered name."""
    entry = keras.saving.serialize_keras_object(layer)
    entry.pop("build_config", None)  # the wrapper builds its sub-layers itself
    entry["class_name"] = layer.__class__.__name__
    entry["config"] = layer.get_config()
    return entry


def _deserialize_layer(entry):
    if entry.get("module") is not None:
        layer = keras.saving.deserialize_keras_object(entry)
    else:
        # keras-multi-head wrote {'class_name', 'config'} only: resolve the name.
        from seqlab.layers import get_custom_objects

        name = entry["class_name"]
        cls = keras.saving.get_registered_object(name, module_objects=get_custom_objects())
        if cls is None:
            cls = getattr(keras.layers, name, None)
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            raise TypeError(
                f"MultiHead: cannot find the layer class {name!r} of a sub-layer; pass it in "
                "custom_objects (or register it with keras.saving.register_keras_serializable)."
            )
        layer = cls.from_config(dict(entry["config"]))
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"MultiHead: sub-layer config {entry!r} is not a layer.")
    return layer


@keras.saving.register_keras_serializable(package="seqlab")
class MultiHead(keras.layers.Layer):
    """Runs copies of a layer side by side, as keras-multi-head 0.29's ``MultiHead``.

    Given one layer, ``layer_num`` copies are made from its config (named ``<name>_1``,
    ``<name>_2``...; the layer itself is not used); given a list of layers (with the same
    output shape), those layers are used and ``layer_num`` is their number. Every copy is
    called on the input and the outputs are stacked on a new last axis:
    ``(..., layer_num)``.

    With ``hidden_dim``, copy ``i`` is called on its own linear projection of the input,
    ``x W[:, i*h:(i+1)*h] + b[i*h:(i+1)*h]`` with ``h = hidden_dim``; ``W`` of shape
    ``(d, h * layer_num)`` (``uniform``) and ``b`` of shape ``(h * layer_num,)``
    (``zeros``) are named ``<name>_W`` and ``<name>_b`` as in the original.

    With ``reg_index``, ``reg_factor * ||M M^T - I||_F^2`` is added as a loss for each
    regularised weight, where row ``i`` of ``M`` is weight ``reg_index`` (an index into
    ``layer.weights``) of copy ``i``, sliced by ``reg_slice`` and flattened: it pushes
    the copies apart. It is computed from the current weights at every call (so it has a
    gradient, unlike the original's; see the module docstring).

    The config has the original's format (``layers``: the sub-layers' configs,
    ``hidden_dim``, ``use_bias``, ``reg_index``, ``reg_slice``, ``reg_factor``), so
    models saved with keras-multi-head load here. Unlike the original this is not a
    ``keras.layers.Wrapper`` and has no ``layer`` attribute (the original's was an
    unused template); the copies are in ``layers``, and ``weights`` lists ``W``, ``b``,
    then each copy's weights.

    Args:
        layer: The layer to copy, or a list of layers to run side by side.
        layer_num: The number of copies of a single ``layer``.
        hidden_dim: Size of the per-copy linear projection of the input, or ``None``
            to feed the input itself to every copy.
        use_bias: Use the bias ``b`` of the projection.
        reg_index: Index (or list of indices) into each copy's weights to regularise.
        reg_slice: The part of each regularised weight to use: a ``slice``, a tuple of
            ``slice``s, ``None`` (the whole weight), or a list of those, one per index.
        reg_factor: Factor of the regulariser, a float or a list, one per index.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: A tensor of shape ``(batch, ..., d)`` accepted by the copies.
        training: Passed to the copies that take it.
        mask: Passed to the copies that take it.

    Returns:
        The copies' outputs stacked on a new last axis, of shape
        ``copy_output_shape + (layer_num,)``, with the first copy's output mask.
    """

    def __init__(
        self,
        layer,
        layer_num=1,
        hidden_dim=None,
        use_bias=True,
        reg_index=None,
        reg_slice=None,
        reg_factor=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(layer, (list, tuple)):
            layers = list(layer)
            if not layers or not all(isinstance(sub, keras.layers.Layer) for sub in layers):
                raise ValueError(
                    "MultiHead: layer must be a Keras layer or a non-empty list of layers; "
                    f"received {layer!r}."
                )
            if len({id(sub) for sub in layers}) != len(layers):
                raise ValueError("MultiHead: the list of layers holds the same layer twice.")
        elif isinstance(layer, keras.layers.Layer):
            if not _is_int(layer_num, 1):
                raise ValueError(
                    f"MultiHead: layer_num must be an integer >= 1; received {layer_num!r}."
                )
            config = layer.get_config()
            name = config["name"]
            layers = [
                layer.__class__.from_config({**config, "name": f"{name}_{i + 1}"})
                for i in range(int(layer_num))
            ]
        else:
            raise ValueError(
                "MultiHead: layer must be a Keras layer or a non-empty list of layers; "
                f"received {layer!r}."
            )
        if hidden_dim is not None and not _is_int(hidden_dim, 1):
            raise ValueError(
                f"MultiHead: hidden_dim must be None or an integer >= 1; received {hidden_dim!r}."
            )

        # reg_index / reg_slice / reg_factor are expanded to one entry per index, as the
        # original stored them (and wrote them to its config).
        if reg_index is not None and not isinstance(reg_index, list):
            reg_index = [reg_index]
        if reg_index is not None:
            if not all(
                isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in reg_index
            ):
                raise ValueError(
                    f"MultiHead: reg_index must be integers (weight indices); got {reg_index!r}."
                )
            if not isinstance(reg_slice, list):
                reg_slice = [reg_slice] * len(reg_index)
            if not isinstance(reg_factor, list):
                reg_factor = [reg_factor] * len(reg_index)
            if not all(isinstance(f, numbers.Real) for f in reg_factor):
                raise ValueError(
                    f"MultiHead: reg_factor must be a number or a list of numbers; got "
                    f"{reg_factor!r}."
                )
            if len(reg_slice) != len(reg_index) or len(reg_factor) != len(reg_index):
                raise ValueError(
                    "MultiHead: reg_slice and reg_factor need one entry per reg_index; "
                    f"received reg_index={reg_index!r}, reg_slice={reg_slice!r}, "
                    f"reg_factor={reg_factor!r}."
                )
        self.layers = layers
        self.layer_num = len(layers)
        self.hidden_dim = None if hidden_dim is None else int(hidden_dim)
        self.use_bias = bool(use_bias)
        self.reg_index = reg_index
        self.reg_slice = reg_slice
        self.reg_factor = reg_factor
        self.supports_masking = layers[0].supports_masking
        self.W = self.b = None

    def _sub_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.hidden_dim is None:
            return input_shape
        return input_shape[:-1] + (self.hidden_dim,)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        sub_shape = self._sub_shape(input_shape)
        for sub in self.layers:
            if not sub.built:
                sub.build(sub_shape)
        if self.hidden_dim is not None:
            if input_shape[-1] is None:
                raise ValueError(
                    "MultiHead with hidden_dim needs a known number of input features; "
                    f"received shape {input_shape}."
                )
            size = self.hidden_dim * self.layer_num
            self.W = self.add_weight(
                name=f"{self.name}_W",
                shape=(int(input_shape[-1]), size),
                initializer=keras.initializers.get("uniform"),
            )
            if self.use_bias:
                self.b = self.add_weight(
                    name=f"{self.name}_b",
                    shape=(size,),
                    initializer=keras.initializers.get("zeros"),
                )

    def _regularisers(self):
        n = self.layer_num
        for index, interval, factor in zip(self.reg_index, self.reg_slice, self.reg_factor):
            if isinstance(interval, slice):
                interval = (interval,)
            rows = []
            for sub in self.layers:
                w = ops.convert_to_tensor(sub.weights[index])
                if interval is not None:
                    w = w[tuple(interval)]
                rows.append(ops.reshape(ops.cast(w, "float32"), (-1,)))
            m = ops.stack(rows)  # (layer_num, size)
            gram = ops.matmul(m, ops.transpose(m))
            yield float(factor) * ops.sum(ops.square(gram - ops.eye(n, dtype="float32")))

    def call(self, inputs, training=None, mask=None):
        outputs = []
        for i, sub in enumerate(self.layers):
            kwargs = {}
            if _has_arg(sub.call, "training"):
                kwargs["training"] = training
            if _has_arg(sub.call, "mask") and mask is not None:
                kwargs["mask"] = mask
            x = inputs
            if self.hidden_dim is not None:
                begin, end = i * self.hidden_dim, (i + 1) * self.hidden_dim
                if keras.backend.standardize_dtype(x.dtype) != self.compute_dtype:
                    x = ops.cast(x, self.compute_dtype)
                x = ops.matmul(x, ops.cast(self.W, x.dtype)[:, begin:end])
                if self.use_bias:
                    x = x + ops.cast(self.b, x.dtype)[begin:end]
            y = sub(x, **kwargs)
            if isinstance(y, (list, tuple)):
                raise ValueError(
                    f"MultiHead: sub-layer {sub.name!r} returned {len(y)} outputs; MultiHead "
                    "stacks layers with a single output."
                )
            outputs.append(y)
        if self.reg_index:
            for loss in self._regularisers():
                self.add_loss(loss)
        return ops.stack(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        sub_shape = self.layers[0].compute_output_shape(self._sub_shape(input_shape))
        return tuple(sub_shape) + (self.layer_num,)

    def compute_mask(self, inputs, mask=None):
        return self.layers[0].compute_mask(inputs, mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layers": [_serialize_layer(sub) for sub in self.layers],
                "hidden_dim": self.hidden_dim,
                "use_bias": self.use_bias,
                "reg_index": self.reg_index,
                "reg_slice": _slices_to_config(self.reg_slice),
                "reg_factor": self.reg_factor,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layers = [_deserialize_layer(entry) for entry in config.pop("layers")]
        config.pop("layer", None)
        config.pop("layer_num", None)
        reg_slice = _slices_from_config(config.pop("reg_slice", None))
        return cls(layers, reg_slice=reg_slice, **config)


@keras.saving.register_keras_serializable(package="seqlab")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention, as in keras-multi-head 0.29.

    A compatibility layer: ``keras.layers.MultiHeadAttention`` computes the same kind
    of attention but has other weights (per-head kernels, separate key size) and another
    constructor, so it cannot load keras-multi-head's weights; this layer can.

    Takes one input ``x`` (``q = k = v = x``) or ``[q, k, v]``. With ``f`` the feature
    dimension of ``v`` and ``h = head_num``, it computes ``Q = act(q Wq + bq)``, ``K =
    act(k Wk + bk)``, ``V = act(v Wv + bv)`` (each ``(batch, T, f)``), splits them into
    ``h`` heads of ``f / h`` features, runs `ScaledDotProductAttention` on every head,
    concatenates the heads and returns ``act(Y Wo + bo)``.

    Weights ``Wq, bq, Wk, bk, Wv, bv, Wo, bo`` (names ``<name>_Wq``...) have the
    original's order and shapes: ``Wq (d_q, f)``, ``Wk (d_k, f)``, ``Wv (f, f)``, ``Wo
    (f, f)``, biases ``(f,)``. A padded key (mask of ``k``) gets exactly 0 weight in every
    head; the output carries the query's mask.

    Args:
        head_num: Number of heads; must divide the feature dimension of ``v``.
        activation: Activation ``act`` of the four linear maps.
        use_bias: Use the biases.
        kernel_initializer: Initializer of the ``W*``.
        bias_initializer: Initializer of the ``b*``.
        kernel_regularizer: Regularizer of the ``W*``.
        bias_regularizer: Regularizer of the ``b*``.
        kernel_constraint: Constraint of the ``W*``.
        bias_constraint: Constraint of the ``b*``.
        history_only: Causal attention: query ``t`` only sees keys ``t' <= t``.
        attention_width: seqlab's extension (not in the original): local attention in
            every head, the window of `SeqSelfAttention`; None (default): every key.
        **kwargs: Base ``Layer`` arguments (``name``, ``dtype``, ``trainable``...).

    Call arguments:
        inputs: A float tensor ``(batch, T, f)``, or ``[q, k, v]`` of shapes
            ``(batch, Tq, d_q)``, ``(batch, Tk, d_k)``, ``(batch, Tk, f)``.
        mask: Optional boolean mask ``(batch, T)``, or a list of three (``None`` allowed).

    Returns:
        A tensor of shape ``(batch, Tq, f)`` with the query's mask.

    Raises:
        ValueError: In ``build``, if ``f`` is not a multiple of ``head_num``.
    """

    def __init__(
        self,
        head_num,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        history_only=False,
        attention_width=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not _is_int(head_num, 1):
            raise ValueError(
                f"MultiHeadAttention: head_num must be an integer >= 1; received {head_num!r}."
            )
        self.supports_masking = True
        self.head_num = int(head_num)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.history_only = bool(history_only)
        self.Wq = self.Wk = self.Wv = self.Wo = None
        self.bq = self.bk = self.bv = self.bo = None
        # The per-head attention, as the original (which made it in every call).
        self.attention_layer = ScaledDotProductAttention(
            history_only=self.history_only, attention_width=attention_width,
            name=f"{self.name}-Attention"
        )
        self.attention_width = self.attention_layer.attention_width

    @staticmethod
    def _shapes(input_shape):
        if _is_shape_list(input_shape):
            if len(input_shape) != 3:
                raise ValueError(
                    "MultiHeadAttention expects one tensor or a list [q, k, v]; received "
                    f"{len(input_shape)} shapes."
                )
            return tuple(tuple(s) for s in input_shape)
        return (tuple(input_shape),) * 3

    def build(self, input_shape):
        q, k, v = self._shapes(input_shape)
        if any(len(s) != 3 or s[-1] is None for s in (q, k, v)):
            raise ValueError(
                "MultiHeadAttention expects inputs of shape (batch, time, features) with "
                f"known features; received {input_shape}."
            )
        feature_dim = int(v[-1])
        if feature_dim % self.head_num != 0:
            raise ValueError(
                f"MultiHeadAttention: the feature dimension {feature_dim} (last axis of the "
                f"value) is not divisible by head_num={self.head_num}."
            )

        def kernel(suffix, shape):
            return self.add_weight(
                name=f"{self.name}_{suffix}",
                shape=shape,
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )

        def bias(suffix):
            return self.add_weight(
                name=f"{self.name}_{suffix}",
                shape=(feature_dim,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

        # Same order, shapes and names as keras-multi-head 0.29.
        self.Wq = kernel("Wq", (int(q[-1]), feature_dim))
        if self.use_bias:
            self.bq = bias("bq")
        self.Wk = kernel("Wk", (int(k[-1]), feature_dim))
        if self.use_bias:
            self.bk = bias("bk")
        self.Wv = kernel("Wv", (int(v[-1]), feature_dim))
        if self.use_bias:
            self.bv = bias("bv")
        self.Wo = kernel("Wo", (feature_dim, feature_dim))
        if self.use_bias:
            self.bo = bias("bo")

    def _project(self, x, kernel, bias):
        dtype = self.compute_dtype
        if keras.backend.standardize_dtype(x.dtype) != dtype:
            x = ops.cast(x, dtype)
        y = ops.matmul(x, ops.cast(kernel, dtype))
        if bias is not None:
            y = y + ops.cast(bias, dtype)
        return self.activation(y)

    def _to_heads(self, x):
        """``(batch, T, f)`` -> ``(batch * heads, T, f / heads)``, batch-major."""
        t, f = _dim(x, 1), x.shape[-1]
        x = ops.reshape(x, (-1, t, self.head_num, f // self.head_num))
        x = ops.transpose(x, (0, 2, 1, 3))
        return ops.reshape(x, (-1, t, f // self.head_num))

    def _from_heads(self, x):
        """``(batch * heads, T, f / heads)`` -> ``(batch, T, f)``."""
        t, d = _dim(x, 1), x.shape[-1]
        x = ops.reshape(x, (-1, self.head_num, t, d))
        x = ops.transpose(x, (0, 2, 1, 3))
        return ops.reshape(x, (-1, t, d * self.head_num))

    def _heads_mask(self, mask):
        if mask is None:
            return None
        mask = ops.cast(mask, "bool")
        if len(mask.shape) == 3:
            mask = ops.squeeze(mask, -1)
        return ops.repeat(mask, self.head_num, axis=0)  # row b*heads + h is batch row b

    def call(self, inputs, mask=None):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 3:
                raise ValueError(
                    "MultiHeadAttention expects one tensor or a list [q, k, v]; received a "
                    f"list of {len(inputs)}."
                )
            q, k, v = inputs
        else:
            q = k = v = inputs
        if isinstance(mask, (list, tuple)):
            q_mask, k_mask, v_mask = mask
        else:
            q_mask = k_mask = v_mask = mask
        q = self._project(q, self.Wq, self.bq)
        k = self._project(k, self.Wk, self.bk)
        v = self._project(v, self.Wv, self.bv)
        y = self.attention_layer(
            [self._to_heads(q), self._to_heads(k), self._to_heads(v)],
            mask=[self._heads_mask(m) for m in (q_mask, k_mask, v_mask)],
        )
        y = self._from_heads(y)
        return self._project(y, self.Wo, self.bo)

    def compute_output_shape(self, input_shape):
        q, _, v = self._shapes(input_shape)
        return q[:-1] + (v[-1],)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "head_num": self.head_num,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "history_only": self.history_only,
                "attention_width": self.attention_width,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="seqlab")
class ConcatHeads(keras.layers.Layer):
    """`MultiHead`'s stacked outputs side by side: ``(batch, T, d, heads)`` ->
    ``(batch, T, d * heads)``, keeping the ``(batch, T)`` mask (``keras.layers.Reshape``
    would drop it, and padding would then count downstream).

    Call arguments:
        inputs: A tensor of shape ``(batch, T, d, heads)``.
        mask: Optional boolean mask ``(batch, T)``, passed on.

    Returns:
        A tensor of shape ``(batch, T, d * heads)``: the first head's ``d`` features, then
        the second's, and so on.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        shape = ops.shape(inputs)
        heads = ops.transpose(inputs, (0, 1, 3, 2))  # (batch, T, heads, d): heads side by side
        return ops.reshape(heads, (shape[0], shape[1], inputs.shape[2] * inputs.shape[3]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])

    def compute_mask(self, inputs, mask=None):
        return mask
