"""Run by test_optimizers.py in a fresh process (devices are fixed when TensorFlow starts):
two replicas on two logical CPUs; Keras' Adam and FusedAdam each apply per-replica
gradients, dense and sparse, with joint clipping and moving averages, and their variables
and the weights after each step are printed as one JSON line.
"""

import json

import keras
import numpy as np
import tensorflow as tf

from seqlab.compat import moving_averages
from seqlab.training.optimizers import FusedAdam

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
dense0, table0 = rng.normal(size=(6, 5)), rng.normal(size=(20, 4))
steps = [(rng.normal(size=(2, 6, 5)), rng.integers(0, 20, size=(2, 7)),
          rng.normal(size=(2, 7, 4))) for _ in range(5)]
def run(cls) -> dict:
    """Five steps of ``cls`` over the replicas: its state, averages and the weights' path."""
    with strategy.scope():
        dense = keras.Variable(dense0.astype("float32"))
        table = keras.Variable(table0.astype("float32"))
        opt = cls(learning_rate=0.01, global_clipnorm=0.5, use_ema=True, ema_momentum=0.9)
        opt.build([dense, table])

    @tf.function
    def step(g, rows, values):
        def replica(g, rows, values):
            i = tf.distribute.get_replica_context().replica_id_in_sync_group
            sparse = tf.IndexedSlices(tf.cast(values[i], "float32"), rows[i],
                                      dense_shape=tf.constant([20, 4], tf.int64))
            opt.apply([tf.cast(g[i], "float32"), sparse], [dense, table])
        strategy.run(replica, args=(g, rows, values))

    trajectory = []
    for g, rows, values in steps:
        step(tf.constant(g), tf.constant(rows), tf.constant(values))
        trajectory.append([np.asarray(dense).tolist(), np.asarray(table).tolist()])
    averages = {id(a) for a in moving_averages(opt)}
    return {"state": [np.asarray(v).tolist() for v in [dense, table, *opt.variables]
                      if id(v) not in averages],
            "averages": [np.asarray(a).tolist() for a in moving_averages(opt)],
            "trajectory": trajectory}


print(json.dumps({cls.__name__: run(cls) for cls in (keras.optimizers.Adam, FusedAdam)}))
