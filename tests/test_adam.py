"""FusedAdam: Keras' Adam, each variable's update one TensorFlow ResourceApplyAdam op.

The oracle is keras.optimizers.Adam itself, from the same start on the same gradients: a
dense weight and an embedding-like one with sparse gradients (repeated rows included),
with joint clipping and moving averages on, as the NER config trains.
"""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlab.layers.adam import FusedAdam

RNG = np.random.default_rng(0)
DENSE = RNG.normal(size=(6, 5)).astype("float32")
TABLE = RNG.normal(size=(20, 4)).astype("float32")
# Gradients over four orders of magnitude, so the clipping and epsilon both matter.
STEPS = [(RNG.normal(size=(6, 5)).astype("float32") * 10 ** RNG.uniform(-4, 1),
          RNG.integers(0, 20, size=7), RNG.normal(size=(7, 4)).astype("float32"))
         for _ in range(25)]


def _train(cls, **kwargs):
    dense, table = keras.Variable(DENSE.copy()), keras.Variable(TABLE.copy())
    optimizer = cls(learning_rate=0.01, global_clipnorm=0.5, use_ema=True, ema_momentum=0.9,
                    **kwargs)

    @tf.function
    def step(g, rows, values):
        sparse = tf.IndexedSlices(values, rows, dense_shape=tf.constant([20, 4], tf.int64))
        optimizer.apply([g, sparse], [dense, table])

    for g, rows, values in STEPS:
        step(tf.constant(g), tf.constant(rows), tf.constant(values))
    ops = collections.Counter(op.type for op in step.get_concrete_function(
        *(tf.constant(a) for a in STEPS[0])).graph.get_operations())
    return [v.numpy() for v in [dense, table, *optimizer.variables]], ops


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_equals_keras_adam(amsgrad):
    expected, keras_ops = _train(keras.optimizers.Adam, amsgrad=amsgrad)
    got, fused_ops = _train(FusedAdam, amsgrad=amsgrad)
    assert "ResourceApplyAdam" not in keras_ops
    # amsgrad has no fused kernel here: Keras' own update runs.
    assert ("ResourceApplyAdam" in fused_ops) is (not amsgrad)
    if not amsgrad:  # the sparse gradient made dense once, not twice; fewer ops in all
        assert fused_ops["UnsortedSegmentSum"] == 1 < keras_ops["UnsortedSegmentSum"]
        assert sum(fused_ops.values()) < sum(keras_ops.values())
    assert len(got) == len(expected) > 6  # weights, step count, moments, averages
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert np.abs(got[0] - DENSE).min() > 1e-3  # every weight moved
    untouched = sorted(set(range(20)) - {int(r) for _, rows, _ in STEPS for r in rows})
    moved = np.abs(got[1] - TABLE).max(axis=1)
    assert (moved[untouched] == 0).all() and (np.delete(moved, untouched) > 1e-3).all()


def test_saves_and_loads_as_itself(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=FusedAdam(learning_rate=0.003, global_clipnorm=0.1), loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is FusedAdam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_trainer_trains_with_it():
    from pathlib import Path

    from seqlab.config import load_config
    from seqlab.training.loop import make_optimizer

    QUICK = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"
    assert type(make_optimizer(load_config(QUICK))) is FusedAdam
    sgd = make_optimizer(load_config(QUICK, ["training.optimizer=sgd"]))
    assert type(sgd) is keras.optimizers.SGD


# Two replicas on two logical CPUs (a fresh process: devices are fixed when TensorFlow
# starts): each optimizer applies per-replica gradients, dense and sparse, with joint
# clipping and moving averages, and prints its variables.
MIRRORED = r"""
import json, sys
import numpy as np, tensorflow as tf, keras
from seqlab.layers.adam import FusedAdam
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
dense0, table0 = rng.normal(size=(6, 5)), rng.normal(size=(20, 4))
steps = [(rng.normal(size=(2, 6, 5)), rng.integers(0, 20, size=(2, 7)),
          rng.normal(size=(2, 7, 4))) for _ in range(5)]
out = {}
for cls in (keras.optimizers.Adam, FusedAdam):
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

    for g, rows, values in steps:
        step(tf.constant(g), tf.constant(rows), tf.constant(values))
    out[cls.__name__] = [np.asarray(v).tolist() for v in [dense, table, *opt.variables]]
print(json.dumps(out))
"""


def test_under_a_mirrored_strategy_it_equals_keras_adam():
    """Per-replica updates, clipping and moving averages under tf.distribute.MirroredStrategy
    (the trainer's distribution.strategy: mirrored) give Keras' Adam's values."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected, got = result["Adam"], result["FusedAdam"]
    assert len(got) == len(expected) > 6
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    # got: the weights, the step count, the rate, the averages, the moments. The averages
    # moved from their start (zeros) and lag the weights.
    weights, average = np.array(got[0]), np.array(got[4])
    assert average.shape == weights.shape and np.abs(average).min() > 0
    assert np.abs(average - weights).max() > 1e-3
