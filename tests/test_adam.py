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
