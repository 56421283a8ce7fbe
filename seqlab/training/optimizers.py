"""The trainer's optimizers: Keras' Adam, SGD and Nadam, whose moving averages of the
weights (``use_ema``) warm up, and an Adam whose update of each variable is one
TensorFlow op."""

from __future__ import annotations

import keras

from seqlab.compat import OptimizerHooks, adam_slots, moving_averages


def average_momentum(iterations, cap, dtype):
    """The momentum of the weights' moving average at step ``iterations`` (0 first):
    0 at the first step (the average starts at the first step's weights, as Keras'), then
    ``min(cap, (1 + t) / (10 + t))``.

    Keras' own average uses ``cap`` from the second step on, so the first steps' weights
    weigh ``cap ** t`` in it after ``t`` steps: with 0.999, 0.62 after 480 steps, the 30
    epochs of a 500-sentence corpus in batches of 32. This is the warm-up of TensorFlow's
    ``tf.train.ExponentialMovingAverage(num_updates=t)`` and AllenNLP's
    ``ExponentialMovingAverage``: the average spans about the last ``t / 10`` steps until
    ``cap`` takes over (at ``t = 8,990`` for 0.999).
    """
    from keras import ops

    t = ops.cast(iterations, dtype)
    warm = ops.minimum(ops.cast(cap, dtype), (1.0 + t) / (10.0 + t))
    return ops.where(ops.equal(t, 0), ops.zeros((), dtype), warm)


class WarmedAverages(OptimizerHooks):
    """A mixin for a Keras optimizer: its moving averages (``use_ema=True``) follow
    `average_momentum`, ``average = m * average + (1 - m) * weight``, on any backend; and
    some variables may train at a multiple of the learning rate (`scale_learning_rate`)."""

    def scale_learning_rate(self, variables, factor: float) -> None:
        """Train ``variables`` at ``factor`` times the learning rate (a fine-tuned
        transformer's own rate). Not saved: set it again when the optimizer is made."""
        self.__dict__["_rate_factors"] = {self._var_key(v): float(factor) for v in variables}

    def _factor(self, variable):
        return (self.__dict__.get("_rate_factors") or {}).get(self._var_key(variable))

    def update_step(self, gradient, variable, learning_rate):
        factor = self._factor(variable)
        if factor is not None:
            learning_rate = learning_rate * factor
        return super().update_step(gradient, variable, learning_rate)

    def update_moving_averages(self, trainable_variables):
        if not self.use_ema:
            return
        momenta = {}
        for var, average in zip(trainable_variables, moving_averages(self)):
            if average is None:
                continue
            if var.dtype not in momenta:
                momenta[var.dtype] = average_momentum(self.iterations, self.ema_momentum,
                                                      var.dtype)
            m = momenta[var.dtype]
            average.assign(m * average + (1 - m) * var)


@keras.saving.register_keras_serializable(package="seqlab")
class SGD(WarmedAverages, keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose moving averages warm up (`average_momentum`)."""


@keras.saving.register_keras_serializable(package="seqlab")
class Nadam(WarmedAverages, keras.optimizers.Nadam):
    """`keras.optimizers.Nadam` whose moving averages warm up (`average_momentum`)."""


@keras.saving.register_keras_serializable(package="seqlab")
class FusedAdam(WarmedAverages, keras.optimizers.Adam):
    """`keras.optimizers.Adam` (same arguments, variables, saved form and formula), each
    variable's update one ``ResourceApplyAdam`` op, TensorFlow's fused kernel.

    Keras' Adam updates a variable with about ten element-wise ops, each a pass over it and
    its two moment estimates; for the word embedding (a million weights, all updated every
    step, since Adam's moments decay everywhere) those passes were a tenth of a training step
    on one CPU core. The kernel makes one pass, and a sparse gradient (an embedding's
    ``IndexedSlices``) is made dense once, in the update: ``global_clipnorm`` clips its rows
    (the norm Keras computes, the sum of the rows' squares, repeated rows included) without
    making it dense twice as Keras does. The moving averages (``use_ema``) take two passes a
    variable instead of four. The scalars of a step (the powers of the betas, the averages'
    momentum) are computed once, not once a variable: a step runs ~200 fewer ops. The
    results equal Keras' to float round-off (the same expressions evaluated in another
    order; ``tests/test_optimizers.py``). Its moving averages warm up (`average_momentum`).

    Other backends, ``amsgrad`` and non-float variables run Keras' own update.

    Args:
        fused: False runs Keras' own Adam (its update, clipping and, warmed, moving averages)
            on TensorFlow too: the reference, and the way before issue 16. The same numbers
            to float round-off; saved only when False.
        **kwargs: `keras.optimizers.Adam`'s arguments.
    """

    def __init__(self, *args, fused=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fused = bool(fused)

    def get_config(self):
        config = super().get_config()
        if not self.fused:  # a choice of computation: saved only when made
            config["fused"] = False
        return config

    def _fused(self) -> bool:
        return self.fused and keras.backend.backend() == "tensorflow"

    def apply(self, grads, trainable_variables=None):
        # The scalars of this step, by dtype, computed by the first variable's update.
        self.__dict__["_step_scalars"] = {}
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self.__dict__["_step_scalars"] = None

    def _scalars(self, dtype, learning_rate, factor=None) -> dict:
        import tensorflow as tf

        cache = self.__dict__.get("_step_scalars")
        if cache is not None and (dtype, factor) in cache:
            return cache[dtype, factor]
        if factor is not None:
            learning_rate = learning_rate * factor
        step = tf.cast(self.iterations + 1, dtype)
        scalars = {name: tf.cast(value, dtype) for name, value in [
            ("beta1", self.beta_1), ("beta2", self.beta_2), ("epsilon", self.epsilon),
            ("lr", learning_rate)]}
        scalars["beta1_power"] = tf.pow(scalars["beta1"], step)
        scalars["beta2_power"] = tf.pow(scalars["beta2"], step)
        if cache is not None:
            cache[dtype, factor] = scalars
        return scalars

    def update_step(self, gradient, variable, learning_rate):
        if not self._fused() or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = tf.as_dtype(variable.dtype)
        if not dtype.is_floating:
            return super().update_step(gradient, variable, learning_rate)
        if isinstance(gradient, tf.IndexedSlices):  # an embedding's rows: made dense once
            gradient = tf.convert_to_tensor(gradient)
        m, v = adam_slots(self, variable)
        tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle,
                                     grad=tf.cast(gradient, dtype),
                                     **self._scalars(dtype, learning_rate,
                                                     self._factor(variable)))

    def clip_gradients(self, grads):
        """Keras' ``global_clipnorm`` with sparse gradients kept sparse: the same norm
        (``sum(square(g))``, of an ``IndexedSlices``' rows as Keras sums them) and scale."""
        if not (self._fused() and not self.amsgrad and self.global_clipnorm
                and not self.clipnorm):  # (Keras' update of amsgrad wants them dense)
            return super().clip_gradients(grads)
        import tensorflow as tf

        def values(g):
            return g.values if isinstance(g, tf.IndexedSlices) else g

        norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(values(g)))
                                 for g in grads if g is not None]))
        # Keras' clip_by_global_norm: no-op below the norm, NaN scale for a non-finite one.
        scale = self.global_clipnorm * tf.minimum(1.0 / norm, 1.0 / self.global_clipnorm)
        scale = scale + (norm - norm)
        return [None if g is None else
                tf.IndexedSlices(g.values * scale, g.indices, g.dense_shape)
                if isinstance(g, tf.IndexedSlices) else g * scale for g in grads]

    def update_moving_averages(self, trainable_variables):
        """The warmed moving averages, ``average = m * average + (1 - m) * weight``, as
        ``average -= (1 - m) * (average - weight)``: two passes over each variable instead
        of four, the momentum computed once a step."""
        if not (self._fused() and self.use_ema):
            return super().update_moving_averages(trainable_variables)
        import tensorflow as tf

        rates = {}
        for var, average in zip(trainable_variables, moving_averages(self)):
            if average is None:
                continue
            dtype = tf.as_dtype(var.dtype)
            if dtype not in rates:
                rates[dtype] = 1 - average_momentum(self.iterations, self.ema_momentum, dtype)
            tf.raw_ops.ResourceApplyGradientDescent(
                var=average.value.handle, alpha=rates[dtype],
                delta=tf.convert_to_tensor(average) - tf.convert_to_tensor(var))
