"""Adam whose update of each variable is one TensorFlow op."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="seqlab")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` (same arguments, variables, saved form and formula), each
    variable's update one ``ResourceApplyAdam`` op, TensorFlow's fused kernel.

    Keras' Adam updates a variable with about ten element-wise ops, each a pass over it and
    its two moment estimates; for the word embedding (a million weights, all updated every
    step, since Adam's moments decay everywhere) those passes were a tenth of a training step
    on one CPU core. The kernel makes one pass, and a sparse gradient (an embedding's
    ``IndexedSlices``, clipped as Keras clips it) is made dense once instead of in two of
    the update's ops. The results equal Keras' to float round-off (the kernel evaluates the
    same expressions in another order; ``tests/test_adam.py``).

    Other backends, ``amsgrad`` and non-float variables run Keras' own update.
    """

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        from seqlab.compat import adam_slots

        dtype = tf.as_dtype(variable.dtype)
        if not dtype.is_floating:
            return super().update_step(gradient, variable, learning_rate)
        if isinstance(gradient, tf.IndexedSlices):  # an embedding's rows: made dense once
            gradient = tf.convert_to_tensor(gradient)
        m, v = adam_slots(self, variable)
        step = tf.cast(self.iterations + 1, dtype)

        def cast(x):
            return tf.cast(x, dtype)

        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(cast(self.beta_1), step),
            beta2_power=tf.pow(cast(self.beta_2), step), lr=cast(learning_rate),
            beta1=cast(self.beta_1), beta2=cast(self.beta_2), epsilon=cast(self.epsilon),
            grad=cast(gradient))
